/*
 * ddb_batch.c — BatchGetItem, BatchWriteItem, TransactGetItems and
 * TransactWriteItems.
 *
 * Batches are validated whole before anything is written (AWS rejects a
 * batch with one bad request without applying the others) and never leave
 * unprocessed items: nimbus has no throughput limits to exceed.
 *
 * Transactions check every condition against the state before the
 * transaction, then apply every write; since one transaction touches an
 * item at most once, that is the same as AWS's all-at-once semantics.  Any
 * failed condition cancels the whole transaction (TransactionCanceled-
 * Exception with one reason per action), and the dispatcher's savepoint
 * guarantees nothing was written.  ClientRequestToken makes a
 * TransactWriteItems idempotent for 10 minutes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_expr.h"
#include "ddb_internal.h"
#include "ddb_item.h"

#define MAX_BATCH_GET 100
#define MAX_BATCH_WRITE 25
#define MAX_TRANSACT 100
#define TOKEN_WINDOW_MS (10 * 60 * 1000)

static void add(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static bool same_key(const ddb_key *a, const ddb_key *b)
{
    return a->pk.len == b->pk.len && a->sk.len == b->sk.len &&
           (a->pk.len == 0 || memcmp(a->pk.data, b->pk.data, a->pk.len) == 0) &&
           (a->sk.len == 0 || memcmp(a->sk.data, b->sk.data, a->sk.len) == 0);
}

static void add_capacity(json_object **list, json_object *cc)
{
    if (!cc)
        return;
    if (!*list)
        *list = json_object_new_array();
    json_object_array_add(*list, cc);
}

/* ---- BatchGetItem ------------------------------------------------------------------ */

typedef struct {
    ddb_table *t;
    json_object *keys;
    ddb_exprs ex;
    bool consistent;
} get_group;

nb_status ddb_batch_get(nb_call *call, json_object *in)
{
    json_object *req = nb_get(in, "RequestItems");
    size_t ngroups = (size_t)json_object_object_length(req), total = 0, g = 0;
    get_group *groups = nb_calloc(ngroups ? ngroups : 1, sizeof *groups);
    nb_status st = NB_OK;
    json_object_object_foreach(req, name, spec)
    {
        get_group *gr = &groups[g++];
        gr->keys = nb_get(spec, "Keys");
        total += gr->keys ? json_object_array_length(gr->keys) : 0;
        if (!(gr->t = ddb_table_get(call, name))) {
            st = NB_ERROR;
            break;
        }
        nb_bool(spec, "ConsistentRead", &gr->consistent);
        if (ddb_exprs_parse(call, spec, DDB_X_PROJ, &gr->ex) != NB_OK) {
            st = NB_ERROR;
            break;
        }
    }
    if (st == NB_OK && total > MAX_BATCH_GET)
        st = ddb_fail_validation(call, "Too many items requested for the BatchGetItem call");
    /* Keys: valid for the schema and not repeated within a table. */
    for (size_t i = 0; st == NB_OK && i < g; i++) {
        size_t n = json_object_array_length(groups[i].keys);
        ddb_key *ks = nb_calloc(n ? n : 1, sizeof *ks);
        size_t made = 0;
        for (size_t k = 0; st == NB_OK && k < n; k++) {
            if (ddb_key_from_key(call, groups[i].t, json_object_array_get_idx(groups[i].keys, k), &ks[k]) != NB_OK) {
                st = NB_ERROR;
                break;
            }
            made++;
            for (size_t j = 0; j < k; j++)
                if (same_key(&ks[j], &ks[k])) {
                    st = ddb_fail_validation(call, "Provided list of item keys contains duplicates");
                    break;
                }
        }
        for (size_t k = 0; k < made; k++)
            ddb_key_free(&ks[k]);
        free(ks);
    }
    json_object *responses = json_object_new_object(), *caps = NULL;
    for (size_t i = 0; st == NB_OK && i < g; i++) {
        get_group *gr = &groups[i];
        json_object *items = json_object_new_array();
        size_t bytes = 0;
        for (size_t k = 0, n = json_object_array_length(gr->keys); k < n; k++) {
            ddb_key key;
            if (ddb_key_from_key(call, gr->t, json_object_array_get_idx(gr->keys, k), &key) != NB_OK)
                continue;
            size_t size = 0;
            json_object *item = ddb_load(gr->t, &key, &size);
            ddb_key_free(&key);
            bytes += size;
            if (!item)
                continue;
            json_object_array_add(items, gr->ex.proj ? ddb_project(gr->ex.proj, item) : json_object_get(item));
            json_object_put(item);
        }
        add(responses, gr->t->name, items);
        add_capacity(&caps, ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), gr->t,
                                         ddb_read_units(bytes, gr->consistent), false, 0, NULL));
    }
    for (size_t i = 0; i < g; i++)
        ddb_exprs_free(&groups[i].ex);
    free(groups);
    if (st != NB_OK) {
        json_object_put(responses);
        json_object_put(caps);
        return st;
    }
    call->out = json_object_new_object();
    add(call->out, "Responses", responses);
    add(call->out, "UnprocessedKeys", json_object_new_object());
    if (caps)
        add(call->out, "ConsumedCapacity", caps);
    return NB_OK;
}

/* ---- BatchWriteItem ----------------------------------------------------------------- */

typedef struct {
    ddb_table *t;
    json_object *item;     /* PutRequest.Item, or NULL for a delete */
    json_object *keyattrs; /* DeleteRequest.Key */
    ddb_key key;
} write_req;

static nb_status prepare_write(nb_call *call, ddb_table *t, json_object *wr, write_req *out)
{
    json_object *put = nb_get(wr, "PutRequest"), *del = nb_get(wr, "DeleteRequest");
    out->t = t;
    char err[DDB_ERRMAX];
    if ((put && del) || (!put && !del))
        return ddb_fail_validation(call,
                                   "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
    if (put) {
        out->item = nb_get(put, "Item");
        if (ddb_item_validate(out->item, err, sizeof err) != 0)
            return ddb_fail_validation(call, "%s", err);
        if (ddb_key_from_item(call, t, out->item, &out->key) != NB_OK)
            return NB_ERROR;
        if (ddb_item_size(out->item) > DDB_MAX_ITEM_BYTES)
            return ddb_fail_validation(call, "Item size has exceeded the maximum allowed size");
        return ddb_check_index_keys(call, t, out->item);
    }
    out->keyattrs = nb_get(del, "Key");
    return ddb_key_from_key(call, t, out->keyattrs, &out->key);
}

nb_status ddb_batch_write(nb_call *call, json_object *in)
{
    json_object *req = nb_get(in, "RequestItems");
    size_t total = 0;
    json_object_object_foreach(req, name0, list0)
    {
        (void)name0;
        total += json_object_array_length(list0);
    }
    if (total > MAX_BATCH_WRITE)
        return ddb_fail_validation(call, "Too many items requested for the BatchWriteItem call");
    write_req *reqs = nb_calloc(total ? total : 1, sizeof *reqs);
    size_t n = 0;
    nb_status st = NB_OK;
    json_object_object_foreach(req, name, list)
    {
        ddb_table *t = ddb_table_get(call, name);
        if (!t) {
            st = NB_ERROR;
            break;
        }
        size_t first = n;
        for (size_t i = 0, m = json_object_array_length(list); i < m && st == NB_OK; i++) {
            if (prepare_write(call, t, json_object_array_get_idx(list, i), &reqs[n]) != NB_OK) {
                ddb_key_free(&reqs[n].key);
                st = NB_ERROR;
                break;
            }
            for (size_t j = first; j < n; j++)
                if (same_key(&reqs[j].key, &reqs[n].key))
                    st = ddb_fail_validation(call, "Provided list of item keys contains duplicates");
            n++;
        }
        if (st != NB_OK)
            break;
    }
    json_object *caps = NULL, *metrics = NULL;
    for (size_t i = 0; st == NB_OK && i < n; i++) {
        write_req *w = &reqs[i];
        size_t old_size = 0;
        json_object *old = ddb_load(w->t, &w->key, &old_size);
        if ((w->item || old) && ddb_store(call, w->t, &w->key, old, w->item, false) != 0)
            st = nb_fail_status(call, 500, false, "InternalServerError", "Internal server error");
        size_t size = w->item ? ddb_item_size(w->item) : 0;
        json_object_put(old);
        json_object *cc = ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), w->t,
                                       ddb_write_units(size > old_size ? size : old_size), true, 0, NULL);
        add_capacity(&caps, cc);
        json_object *m = ddb_collection_metrics(call, nb_str(in, "ReturnItemCollectionMetrics"), w->t,
                                                w->item ? w->item : w->keyattrs);
        if (m) {
            if (!metrics)
                metrics = json_object_new_object();
            json_object *l = nb_get(metrics, w->t->name);
            if (!l) {
                l = json_object_new_array();
                add(metrics, w->t->name, l);
            }
            json_object_array_add(l, m);
        }
    }
    for (size_t i = 0; i < n; i++)
        ddb_key_free(&reqs[i].key);
    free(reqs);
    if (st != NB_OK) {
        json_object_put(caps);
        json_object_put(metrics);
        return st;
    }
    call->out = json_object_new_object();
    add(call->out, "UnprocessedItems", json_object_new_object());
    if (caps)
        add(call->out, "ConsumedCapacity", caps);
    if (metrics)
        add(call->out, "ItemCollectionMetrics", metrics);
    return NB_OK;
}

/* ---- TransactGetItems ---------------------------------------------------------------- */

nb_status ddb_transact_get(nb_call *call, json_object *in)
{
    json_object *items = nb_get(in, "TransactItems");
    size_t n = json_object_array_length(items);
    json_object *responses = json_object_new_array(), *caps = NULL;
    nb_status st = NB_OK;
    ddb_key *keys = nb_calloc(n ? n : 1, sizeof *keys);
    ddb_table **tabs = nb_calloc(n ? n : 1, sizeof *tabs);
    ddb_exprs *exs = nb_calloc(n ? n : 1, sizeof *exs);
    size_t made = 0;
    for (size_t i = 0; i < n && st == NB_OK; i++) {
        json_object *get = nb_get(json_object_array_get_idx(items, i), "Get");
        if (!get) {
            st = ddb_fail_validation(call, "1 validation error detected: Value null at 'transactItems.%zu.member.get' failed to satisfy constraint: Member must not be null", i + 1);
            break;
        }
        if (!(tabs[i] = ddb_table_get(call, nb_str(get, "TableName"))) ||
            ddb_key_from_key(call, tabs[i], nb_get(get, "Key"), &keys[i]) != NB_OK) {
            st = NB_ERROR;
            break;
        }
        made++;
        if (ddb_exprs_parse(call, get, DDB_X_PROJ, &exs[i]) != NB_OK) {
            st = NB_ERROR;
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (tabs[j] == tabs[i] && same_key(&keys[j], &keys[i])) {
                st = ddb_fail_validation(call, "Transaction request cannot include multiple operations on one item");
                break;
            }
    }
    for (size_t i = 0; st == NB_OK && i < n; i++) {
        size_t size = 0;
        json_object *item = ddb_load(tabs[i], &keys[i], &size);
        json_object *r = json_object_new_object();
        if (item)
            add(r, "Item", exs[i].proj ? ddb_project(exs[i].proj, item) : json_object_get(item));
        json_object_put(item);
        json_object_array_add(responses, r);
        add_capacity(&caps, ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), tabs[i],
                                         2 * ddb_read_units(size, true), false, 0, NULL));
    }
    for (size_t i = 0; i < made; i++)
        ddb_key_free(&keys[i]);
    for (size_t i = 0; i < n; i++)
        ddb_exprs_free(&exs[i]);
    free(keys);
    free(tabs);
    free(exs);
    if (st != NB_OK) {
        json_object_put(responses);
        json_object_put(caps);
        return st;
    }
    call->out = json_object_new_object();
    add(call->out, "Responses", responses);
    if (caps)
        add(call->out, "ConsumedCapacity", caps);
    return NB_OK;
}

/* ---- TransactWriteItems ----------------------------------------------------------------- */

enum { TX_CHECK, TX_PUT, TX_DELETE, TX_UPDATE };

typedef struct {
    int kind;
    json_object *spec;   /* the action's member (ConditionCheck / Put / ...) */
    ddb_table *t;
    ddb_key key;
    bool has_key;
    ddb_exprs ex;
    json_object *old, *nw;
    size_t old_size;
} tx_action;

static const char *const TX_MEMBERS[] = {"ConditionCheck", "Put", "Delete", "Update"};

static nb_status tx_prepare(nb_call *call, json_object *ti, tx_action *a)
{
    for (int k = 0; k < 4; k++)
        if ((a->spec = nb_get(ti, TX_MEMBERS[k]))) {
            a->kind = k;
            break;
        }
    if (!a->spec)
        return ddb_fail_validation(call, "TransactItems can only contain one of Check, Put, Update or Delete");
    int others = 0;
    for (int k = 0; k < 4; k++)
        others += nb_get(ti, TX_MEMBERS[k]) != NULL;
    if (others > 1)
        return ddb_fail_validation(call, "TransactItems can only contain one of Check, Put, Update or Delete");
    if (!(a->t = ddb_table_get(call, nb_str(a->spec, "TableName"))))
        return NB_ERROR;
    char err[DDB_ERRMAX];
    nb_status st;
    if (a->kind == TX_PUT) {
        json_object *item = nb_get(a->spec, "Item");
        if (ddb_item_validate(item, err, sizeof err) != 0)
            return ddb_fail_validation(call, "%s", err);
        st = ddb_key_from_item(call, a->t, item, &a->key);
    } else {
        st = ddb_key_from_key(call, a->t, nb_get(a->spec, "Key"), &a->key);
    }
    if (st != NB_OK)
        return st;
    a->has_key = true;
    unsigned which = DDB_X_COND | (a->kind == TX_UPDATE ? DDB_X_UPDATE : 0);
    if (a->kind == TX_CHECK && !nb_get(a->spec, "ConditionExpression"))
        return ddb_fail_validation(call,
                                   "1 validation error detected: Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null");
    return ddb_exprs_parse(call, a->spec, which, &a->ex);
}

/* Idempotency records: token -> request text, for 10 minutes. */
int ddb_token_check(nb_call *call, const char *token, const char *text)
{
    static sqlite3_stmt *q, *ins;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT request, at_ms FROM ddb_tokens WHERE account = ?1 AND token = ?2");
    sqlite3_bind_text(s, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, token, -1, SQLITE_STATIC);
    int seen = 0;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 1) > call->now_ms - TOKEN_WINDOW_MS)
        seen = strcmp((const char *)sqlite3_column_text(s, 0), text) == 0 ? 1 : -1;
    sqlite3_reset(s);
    if (seen)
        return seen;
    s = nb_stmt(&ins, "INSERT OR REPLACE INTO ddb_tokens(account, token, request, at_ms) VALUES(?1, ?2, ?3, ?4)");
    sqlite3_bind_text(s, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, call->now_ms);
    sqlite3_step(s);
    sqlite3_reset(s);
    return 0;
}

static nb_status tx_cancel(nb_call *call, tx_action *acts, size_t n, const int *failed)
{
    json_object *reasons = json_object_new_array();
    nb_buf codes = {0};
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_new_object();
        const char *code = failed[i] ? "ConditionalCheckFailed" : "None";
        add(r, "Code", json_object_new_string(code));
        if (failed[i]) {
            add(r, "Message", json_object_new_string("The conditional request failed"));
            const char *rv = nb_str(acts[i].spec, "ReturnValuesOnConditionCheckFailure");
            if (rv && strcmp(rv, "ALL_OLD") == 0 && acts[i].old)
                add(r, "Item", json_object_get(acts[i].old));
        }
        json_object_array_add(reasons, r);
        nb_buf_adds(&codes, i ? ", " : "");
        nb_buf_adds(&codes, code);
    }
    json_object *d = json_object_new_object();
    add(d, "CancellationReasons", reasons);
    nb_fail_detail(call, d);
    nb_fail(call, "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", codes.data);
    nb_buf_free(&codes);
    return NB_ERROR;
}

static nb_status tx_run(nb_call *call, json_object *in, tx_action *acts, size_t n)
{
    char err[DDB_ERRMAX];
    int *failed = nb_calloc(n, sizeof *failed);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        tx_action *a = &acts[i];
        a->old = ddb_load(a->t, &a->key, &a->old_size);
        if (a->ex.cond && ddb_cond_eval(a->ex.cond, a->old, err, sizeof err) != 1)
            failed[i] = any = true;
    }
    if (any) {
        nb_status st = tx_cancel(call, acts, n, failed);
        free(failed);
        return st;
    }
    free(failed);
    /* Build every new item (and check it) before writing any. */
    for (size_t i = 0; i < n; i++) {
        tx_action *a = &acts[i];
        if (a->kind == TX_PUT)
            a->nw = json_object_get(nb_get(a->spec, "Item"));
        else if (a->kind == TX_UPDATE &&
                 !(a->nw = ddb_updated_item(call, a->t, nb_get(a->spec, "Key"), a->old, &a->ex)))
            return NB_ERROR;
        if (a->nw) {
            if (ddb_item_size(a->nw) > DDB_MAX_ITEM_BYTES)
                return ddb_fail_validation(call, "Item size has exceeded the maximum allowed size");
            if (ddb_check_index_keys(call, a->t, a->nw) != NB_OK)
                return NB_ERROR;
        }
    }
    json_object *caps = NULL;
    for (size_t i = 0; i < n; i++) {
        tx_action *a = &acts[i];
        if (a->kind != TX_CHECK && (a->old || a->nw) &&
            ddb_store(call, a->t, &a->key, a->old, a->nw, false) != 0) {
            json_object_put(caps);
            return nb_fail_status(call, 500, false, "InternalServerError", "Internal server error");
        }
        size_t size = a->nw ? ddb_item_size(a->nw) : 0;
        add_capacity(&caps, ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), a->t,
                                         2 * ddb_write_units(size > a->old_size ? size : a->old_size), true, 0, NULL));
    }
    call->out = json_object_new_object();
    if (caps)
        add(call->out, "ConsumedCapacity", caps);
    return NB_OK;
}

nb_status ddb_transact_write(nb_call *call, json_object *in)
{
    json_object *items = nb_get(in, "TransactItems");
    size_t n = json_object_array_length(items);
    const char *token = nb_str(in, "ClientRequestToken");
    if (token) {
        int seen = ddb_token_check(call, token, json_object_to_json_string_ext(items, JSON_C_TO_STRING_PLAIN));
        if (seen > 0)
            return NB_OK;
        if (seen < 0)
            return nb_fail(call, "IdempotentParameterMismatchException",
                           "Request parameters don't match the original request made with the same idempotency token.");
    }
    tx_action *acts = nb_calloc(n ? n : 1, sizeof *acts);
    nb_status st = NB_OK;
    for (size_t i = 0; i < n && st == NB_OK; i++) {
        st = tx_prepare(call, json_object_array_get_idx(items, i), &acts[i]);
        for (size_t j = 0; st == NB_OK && j < i; j++)
            if (acts[j].t == acts[i].t && same_key(&acts[j].key, &acts[i].key))
                st = ddb_fail_validation(call, "Transaction request cannot include multiple operations on one item");
    }
    if (st == NB_OK)
        st = tx_run(call, in, acts, n);
    for (size_t i = 0; i < n; i++) {
        if (acts[i].has_key)
            ddb_key_free(&acts[i].key);
        ddb_exprs_free(&acts[i].ex);
        json_object_put(acts[i].old);
        json_object_put(acts[i].nw);
    }
    free(acts);
    return st;
}
