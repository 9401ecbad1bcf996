/*
 * ddb_write.c — single-item operations (GetItem, PutItem, UpdateItem,
 * DeleteItem) and the item storage path every write goes through:
 * key bytes, index upkeep, stream records, TTL bookkeeping.
 *
 * Order of work in a write (AWS's order of errors): table, item/key
 * validation, expressions (syntax, placeholders, unused), ReturnValues,
 * then the stored item is read, the condition evaluated, the new item
 * built and checked (size, index key types), and finally written.  Nothing
 * is written before every check has passed, and the dispatcher's savepoint
 * makes the write all-or-nothing with its index rows and stream record.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_expr.h"
#include "ddb_internal.h"
#include "ddb_item.h"
#include "ddb_num.h"

/* ---- keys -------------------------------------------------------------------- */

void ddb_key_free(ddb_key *k)
{
    nb_buf_free(&k->pk);
    nb_buf_free(&k->sk);
}

static const char *type_of(json_object *av)
{
    return ddb_type_name(ddb_av_type(av, NULL));
}

static nb_status key_part(nb_call *call, const ddb_keydef *kd, json_object *av, bool hash,
                          nb_buf *out)
{
    char err[DDB_ERRLEN];
    if (ddb_key_bytes(av, kd->name, hash, out, err, sizeof err) != 0)
        return ddb_fail_validation(call, "%s", err);
    return NB_OK;
}

nb_status ddb_key_from_key(nb_call *call, const ddb_table *t, json_object *key, ddb_key *out)
{
    memset(out, 0, sizeof *out);
    size_t want = t->range.name[0] ? 2 : 1;
    json_object *h = nb_get(key, t->hash.name);
    json_object *r = t->range.name[0] ? nb_get(key, t->range.name) : NULL;
    if (!key || (size_t)json_object_object_length(key) != want || !h || (want == 2 && !r))
        return ddb_fail_validation(call, "The provided key element does not match the schema");
    const char *ht = type_of(h), *rt = r ? type_of(r) : NULL;
    if (ht[0] != t->hash.type || ht[1] || (r && (rt[0] != t->range.type || rt[1])))
        return ddb_fail_validation(call, "The provided key element does not match the schema");
    if (key_part(call, &t->hash, h, true, &out->pk) != NB_OK ||
        (r && key_part(call, &t->range, r, false, &out->sk) != NB_OK)) {
        ddb_key_free(out);
        return NB_ERROR;
    }
    return NB_OK;
}

static nb_status item_key_attr(nb_call *call, const ddb_keydef *kd, json_object *item, bool hash,
                               nb_buf *out)
{
    json_object *v = nb_get(item, kd->name);
    if (!v)
        return ddb_fail_validation(call, "One or more parameter values were invalid: Missing the key %s in the item",
                                   kd->name);
    const char *ty = type_of(v);
    if (ty[0] != kd->type || ty[1])
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Type mismatch for key %s expected: %c actual: %s",
                                   kd->name, kd->type, ty);
    return key_part(call, kd, v, hash, out);
}

nb_status ddb_key_from_item(nb_call *call, const ddb_table *t, json_object *item, ddb_key *out)
{
    memset(out, 0, sizeof *out);
    if (item_key_attr(call, &t->hash, item, true, &out->pk) != NB_OK ||
        (t->range.name[0] && item_key_attr(call, &t->range, item, false, &out->sk) != NB_OK)) {
        ddb_key_free(out);
        return NB_ERROR;
    }
    return NB_OK;
}

json_object *ddb_key_attrs(const ddb_table *t, json_object *item)
{
    json_object *k = json_object_new_object();
    json_object *v;
    if ((v = nb_get(item, t->hash.name)))
        json_object_object_add(k, t->hash.name, json_object_get(v));
    if (t->range.name[0] && (v = nb_get(item, t->range.name)))
        json_object_object_add(k, t->range.name, json_object_get(v));
    return k;
}

/* ---- index keys ------------------------------------------------------------------ */

/* The index key bytes of item for x: 1 when the item belongs in the index,
 * 0 when it does not (sparse: a key attribute is missing), -1 when a key
 * attribute has the wrong type or an invalid value (message in err). */
static int index_key(const ddb_index *x, json_object *item, nb_buf *ipk, nb_buf *isk, char *err,
                     size_t errlen)
{
    const ddb_keydef *kd[2] = {&x->hash, x->range.name[0] ? &x->range : NULL};
    nb_buf *out[2] = {ipk, isk};
    for (int i = 0; i < 2; i++) {
        if (!kd[i])
            continue;
        json_object *v = nb_get(item, kd[i]->name);
        if (!v)
            return 0;
        const char *ty = type_of(v);
        if (ty[0] != kd[i]->type || ty[1]) {
            snprintf(err, errlen,
                     "One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %c Actual: %s IndexName: %s",
                     kd[i]->name, kd[i]->type, ty, x->name);
            return -1;
        }
        char kerr[DDB_ERRLEN];
        if (ddb_key_bytes(v, kd[i]->name, i == 0, out[i], kerr, sizeof kerr) != 0) {
            snprintf(err, errlen,
                     "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty %s value. IndexName: %s, IndexKey: %s",
                     strcmp(ty, "B") == 0 ? "binary" : "string", x->name, kd[i]->name);
            return -1;
        }
    }
    return 1;
}

nb_status ddb_check_index_keys(nb_call *call, const ddb_table *t, json_object *item)
{
    for (int i = 0; i < t->nidx; i++) {
        nb_buf a = {0}, b = {0};
        char err[1200];
        int rc = index_key(&t->idx[i], item, &a, &b, err, sizeof err);
        nb_buf_free(&a);
        nb_buf_free(&b);
        if (rc < 0)
            return ddb_fail_validation(call, "%s", err);
    }
    return NB_OK;
}

static bool buf_eq(const nb_buf *a, const nb_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void bind_buf(sqlite3_stmt *s, int i, const nb_buf *b)
{
    sqlite3_bind_blob(s, i, b->len ? b->data : "", (int)b->len, SQLITE_STATIC);
}

static int index_row(int64_t iid, const nb_buf *ipk, const nb_buf *isk, const ddb_key *k, bool insert)
{
    static sqlite3_stmt *ins, *del;
    sqlite3_stmt *s = insert ? nb_stmt(&ins, "INSERT OR REPLACE INTO ddb_index_items(iid, ipk, isk, pk, sk)"
                                             " VALUES(?1, ?2, ?3, ?4, ?5)")
                             : nb_stmt(&del, "DELETE FROM ddb_index_items WHERE iid = ?1 AND ipk = ?2"
                                             " AND isk = ?3 AND pk = ?4 AND sk = ?5");
    sqlite3_bind_int64(s, 1, iid);
    bind_buf(s, 2, ipk);
    bind_buf(s, 3, isk);
    bind_buf(s, 4, &k->pk);
    bind_buf(s, 5, &k->sk);
    return sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
}

/* Moves the item's entry in each index from where old put it to where new
 * puts it (either may be NULL). */
static int update_indexes(const ddb_table *t, const ddb_key *k, json_object *old, json_object *nw)
{
    int rc = 0;
    for (int i = 0; i < t->nidx && rc == 0; i++) {
        const ddb_index *x = &t->idx[i];
        nb_buf opk = {0}, osk = {0}, npk = {0}, nsk = {0};
        char err[1200];
        int in_old = old ? index_key(x, old, &opk, &osk, err, sizeof err) : 0;
        int in_new = nw ? index_key(x, nw, &npk, &nsk, err, sizeof err) : 0;
        bool same = in_old == 1 && in_new == 1 && buf_eq(&opk, &npk) && buf_eq(&osk, &nsk);
        if (in_old == 1 && !same)
            rc = index_row(x->id, &opk, &osk, k, false);
        if (rc == 0 && in_new == 1 && !same)
            rc = index_row(x->id, &npk, &nsk, k, true);
        nb_buf_free(&opk);
        nb_buf_free(&osk);
        nb_buf_free(&npk);
        nb_buf_free(&nsk);
    }
    return rc;
}

/* ---- TTL bookkeeping ----------------------------------------------------------------- */

/* The expiry (epoch seconds) an item's TTL attribute sets, or -1: the
 * attribute must be a number; AWS ignores values more than five years in
 * the past. */
int64_t ddb_item_expiry(const ddb_table *t, json_object *item)
{
    if (!t->ttl_attr[0] || !item)
        return -1;
    json_object *v = nb_get(item, t->ttl_attr), *n = NULL;
    if (!v || ddb_av_type(v, &n) != DDB_T_N || !n)
        return -1;
    ddb_num num;
    if (ddb_num_parse(json_object_get_string(n), (size_t)json_object_get_string_len(n), &num) != DDB_NUM_OK)
        return -1;
    double secs = strtod(json_object_get_string(n), NULL);
    if (!isfinite(secs) || secs < 0 || secs > 9.2e15)
        return -1;
    int64_t e = (int64_t)secs;
    if (e < nb_now_ms() / 1000 - 5LL * 365 * 86400)
        return -1;
    return e;
}

/* ---- loading and storing ----------------------------------------------------------- */

json_object *ddb_load(const ddb_table *t, const ddb_key *k, size_t *size)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT item, size FROM ddb_items WHERE tid = ?1 AND pk = ?2 AND sk = ?3");
    sqlite3_bind_int64(s, 1, t->id);
    bind_buf(s, 2, &k->pk);
    bind_buf(s, 3, &k->sk);
    json_object *item = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        if (ddb_item_decode(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &item) != 0)
            item = NULL;
        if (size)
            *size = (size_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return item;
}

size_t ddb_stored_size(const ddb_table *t, const ddb_key *k)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT size FROM ddb_items WHERE tid = ?1 AND pk = ?2 AND sk = ?3");
    sqlite3_bind_int64(s, 1, t->id);
    bind_buf(s, 2, &k->pk);
    bind_buf(s, 3, &k->sk);
    size_t n = sqlite3_step(s) == SQLITE_ROW ? (size_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

json_object *ddb_load_raw(const ddb_table *t, const ddb_key *k, size_t *size)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT item, size FROM ddb_items WHERE tid = ?1 AND pk = ?2 AND sk = ?3");
    sqlite3_bind_int64(s, 1, t->id);
    bind_buf(s, 2, &k->pk);
    bind_buf(s, 3, &k->sk);
    json_object *item = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        nb_buf text = {0};
        if (ddb_item_render(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &text) == 0)
            item = nb_json_raw(text.data ? text.data : "{}", text.len ? text.len : 2);
        nb_buf_free(&text);
        if (size)
            *size = (size_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return item;
}

int ddb_store(nb_call *call, const ddb_table *t, const ddb_key *k, json_object *old,
              json_object *nw, bool by_ttl)
{
    static sqlite3_stmt *up, *del;
    sqlite3_stmt *s;
    if (nw) {
        nb_buf enc = {0};
        if (ddb_item_encode(nw, &enc) != 0) {
            nb_buf_free(&enc);
            return -1;
        }
        s = nb_stmt(&up, "INSERT INTO ddb_items(tid, pk, sk, item, size, expires) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                         " ON CONFLICT(tid, pk, sk) DO UPDATE SET item = excluded.item,"
                         " size = excluded.size, expires = excluded.expires");
        sqlite3_bind_int64(s, 1, t->id);
        bind_buf(s, 2, &k->pk);
        bind_buf(s, 3, &k->sk);
        sqlite3_bind_blob(s, 4, enc.data, (int)enc.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, (int64_t)ddb_item_size(nw));
        int64_t exp = ddb_item_expiry(t, nw);
        if (exp >= 0)
            sqlite3_bind_int64(s, 6, exp);
        else
            sqlite3_bind_null(s, 6);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        nb_buf_free(&enc);
        if (rc != SQLITE_DONE)
            return -1;
    } else {
        s = nb_stmt(&del, "DELETE FROM ddb_items WHERE tid = ?1 AND pk = ?2 AND sk = ?3");
        sqlite3_bind_int64(s, 1, t->id);
        bind_buf(s, 2, &k->pk);
        bind_buf(s, 3, &k->sk);
        if (sqlite3_step(s) != SQLITE_DONE)
            return -1;
    }
    if (update_indexes(t, k, old, nw) != 0)
        return -1;
    if (t->stream_on && (old || nw))
        ddb_stream_emit(call, t, old, nw, by_ttl);
    return 0;
}

int ddb_index_backfill(ddb_table *t, ddb_index *x)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT pk, sk, item FROM ddb_items WHERE tid = ?1");
    sqlite3_bind_int64(s, 1, t->id);
    static sqlite3_stmt *chk;
    sqlite3_stmt *c = nb_stmt(&chk, "SELECT 1 FROM ddb_index_items WHERE iid = ?1 LIMIT 1");
    sqlite3_bind_int64(c, 1, x->id);
    bool filled = sqlite3_step(c) == SQLITE_ROW;
    sqlite3_reset(c);
    if (filled)
        return 0;
    /* Rows are collected first: inserting while the SELECT is open would
     * reuse nb_stmt slots of the insert path safely, but keep it simple. */
    int rc = 0;
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        json_object *item = NULL;
        if (ddb_item_decode(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2), &item) != 0)
            continue;
        ddb_key k = {0};
        nb_buf_add(&k.pk, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        nb_buf_add(&k.sk, sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1));
        nb_buf ipk = {0}, isk = {0};
        char err[1200];
        if (index_key(x, item, &ipk, &isk, err, sizeof err) == 1)
            rc = index_row(x->id, &ipk, &isk, &k, true);
        nb_buf_free(&ipk);
        nb_buf_free(&isk);
        ddb_key_free(&k);
        json_object_put(item);
    }
    sqlite3_reset(s);
    return rc;
}

/* ---- capacity and metrics ------------------------------------------------------------ */

static double units(size_t bytes, size_t per)
{
    size_t u = (bytes + per - 1) / per;
    return (double)(u ? u : 1);
}

double ddb_write_units(size_t bytes)
{
    return units(bytes, 1024);
}

double ddb_read_units(size_t bytes, bool consistent)
{
    double u = units(bytes, 4096);
    return consistent ? u : u / 2;
}

json_object *ddb_capacity(const char *mode, const ddb_table *t, double table_units, bool write,
                          double index_units, const ddb_index *only)
{
    if (!mode || strcmp(mode, "NONE") == 0)
        return NULL;
    const char *kind = write ? "WriteCapacityUnits" : "ReadCapacityUnits";
    double total = table_units;
    json_object *gsi = NULL, *lsi = NULL;
    for (int i = 0; i < t->nidx; i++) {
        const ddb_index *x = &t->idx[i];
        if (only ? x != only : index_units <= 0)
            continue;
        double u = only ? table_units : index_units;
        if (only)
            total = 0;
        total += u;
        json_object *c = json_object_new_object();
        json_object_object_add(c, kind, json_object_new_double(u));
        json_object_object_add(c, "CapacityUnits", json_object_new_double(u));
        json_object **dst = x->global ? &gsi : &lsi;
        if (!*dst)
            *dst = json_object_new_object();
        json_object_object_add(*dst, x->name, c);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "TableName", json_object_new_string(t->name));
    json_object_object_add(o, "CapacityUnits", json_object_new_double(total));
    json_object_object_add(o, kind, json_object_new_double(total));
    if (strcmp(mode, "INDEXES") == 0) {
        if (!only) {
            json_object *tc = json_object_new_object();
            json_object_object_add(tc, kind, json_object_new_double(table_units));
            json_object_object_add(tc, "CapacityUnits", json_object_new_double(table_units));
            json_object_object_add(o, "Table", tc);
        }
        if (gsi)
            json_object_object_add(o, "GlobalSecondaryIndexes", gsi);
        if (lsi)
            json_object_object_add(o, "LocalSecondaryIndexes", lsi);
    } else {
        json_object_put(gsi);
        json_object_put(lsi);
    }
    return o;
}

static bool has_lsi(const ddb_table *t)
{
    for (int i = 0; i < t->nidx; i++)
        if (!t->idx[i].global)
            return true;
    return false;
}

json_object *ddb_collection_metrics(const nb_call *call, const char *mode, const ddb_table *t,
                                    json_object *item)
{
    (void)call;
    if (!mode || strcmp(mode, "SIZE") != 0 || !has_lsi(t) || !item)
        return NULL;
    json_object *m = json_object_new_object();
    json_object *k = json_object_new_object();
    json_object *v = nb_get(item, t->hash.name);
    if (v)
        json_object_object_add(k, t->hash.name, json_object_get(v));
    json_object_object_add(m, "ItemCollectionKey", k);
    json_object *range = json_object_new_array();
    json_object_array_add(range, json_object_new_double(0.0));
    json_object_array_add(range, json_object_new_double(1.0));
    json_object_object_add(m, "SizeEstimateRangeGB", range);
    return m;
}

/* ---- the operations ------------------------------------------------------------------- */

nb_status ddb_fail_condition(nb_call *call, json_object *in, json_object *old)
{
    const char *rv = nb_str(in, "ReturnValuesOnConditionCheckFailure");
    if (rv && strcmp(rv, "ALL_OLD") == 0 && old) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "Item", json_object_get(old));
        nb_fail_detail(call, d);
    }
    return nb_fail(call, "ConditionalCheckFailedException", "The conditional request failed");
}

static nb_status fail_internal(nb_call *call)
{
    return nb_fail_status(call, 500, false, "InternalServerError", "Internal server error");
}

static bool rv_allowed(const char *rv, const char *const *allowed)
{
    if (!rv)
        return true;
    for (int i = 0; allowed[i]; i++)
        if (strcmp(rv, allowed[i]) == 0)
            return true;
    return false;
}

static void set_out(nb_call *call, const char *k, json_object *v)
{
    if (!v)
        return;
    if (!call->out)
        call->out = json_object_new_object();
    json_object_object_add(call->out, k, v);
}

/* Shared tail of Put/Update/Delete. */
static void write_outputs(nb_call *call, json_object *in, const ddb_table *t, size_t bytes,
                          json_object *item_for_metrics)
{
    int touched = 0;
    for (int i = 0; i < t->nidx; i++)
        touched++;
    set_out(call, "ConsumedCapacity",
            ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), t, ddb_write_units(bytes), true,
                         touched ? ddb_write_units(bytes) : 0, NULL));
    set_out(call, "ItemCollectionMetrics",
            ddb_collection_metrics(call, nb_str(in, "ReturnItemCollectionMetrics"), t, item_for_metrics));
}

nb_status ddb_put_item(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    json_object *item = nb_get(in, "Item");
    char err[DDB_ERRMAX];
    if (ddb_item_validate(item, err, sizeof err) != 0)
        return ddb_fail_validation(call, "%s", err);
    ddb_key k;
    if (ddb_key_from_item(call, t, item, &k) != NB_OK)
        return NB_ERROR;
    ddb_exprs x;
    nb_status st = ddb_exprs_parse(call, in, DDB_X_COND, &x);
    static const char *const rvs[] = {"NONE", "ALL_OLD", NULL};
    if (st == NB_OK && !rv_allowed(nb_str(in, "ReturnValues"), rvs))
        st = ddb_fail_validation(call, "Return values set to invalid value");
    size_t size = ddb_item_size(item);
    if (st == NB_OK && size > DDB_MAX_ITEM_BYTES)
        st = ddb_fail_validation(call, "Item size has exceeded the maximum allowed size");
    if (st == NB_OK)
        st = ddb_check_index_keys(call, t, item);
    json_object *old = NULL;
    size_t old_size = 0;
    const char *rv = nb_str(in, "ReturnValues");
    /* The old item matters to a condition, ReturnValues, indexes and the
     * stream; otherwise only its size (for consumed capacity) is read. */
    bool need_old = x.cond || (rv && strcmp(rv, "ALL_OLD") == 0) || t->nidx || t->stream_on;
    if (st == NB_OK && need_old) {
        old = ddb_load(t, &k, &old_size);
        if (x.cond && ddb_cond_eval(x.cond, old, err, sizeof err) != 1)
            st = ddb_fail_condition(call, in, old);
    } else if (st == NB_OK && nb_str(in, "ReturnConsumedCapacity") &&
               strcmp(nb_str(in, "ReturnConsumedCapacity"), "NONE") != 0) {
        old_size = ddb_stored_size(t, &k);
    }
    if (st == NB_OK && ddb_store(call, t, &k, old, item, false) != 0)
        st = fail_internal(call);
    if (st == NB_OK) {
        if (rv && strcmp(rv, "ALL_OLD") == 0 && old)
            set_out(call, "Attributes", json_object_get(old));
        write_outputs(call, in, t, size > old_size ? size : old_size, item);
    }
    json_object_put(old);
    ddb_exprs_free(&x);
    ddb_key_free(&k);
    return st;
}

nb_status ddb_get_item(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    ddb_key k;
    if (ddb_key_from_key(call, t, nb_get(in, "Key"), &k) != NB_OK)
        return NB_ERROR;
    ddb_exprs x;
    if (ddb_exprs_parse(call, in, DDB_X_PROJ, &x) != NB_OK) {
        ddb_key_free(&k);
        return NB_ERROR;
    }
    size_t size = 0;
    /* Without a projection the stored item goes out as it is stored. */
    json_object *item = x.proj ? ddb_load(t, &k, &size) : ddb_load_raw(t, &k, &size);
    bool consistent = false;
    nb_bool(in, "ConsistentRead", &consistent);
    call->out = json_object_new_object();
    if (item) {
        json_object *outi = x.proj ? ddb_project(x.proj, item) : json_object_get(item);
        json_object_object_add(call->out, "Item", outi);
    }
    set_out(call, "ConsumedCapacity",
            ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), t, ddb_read_units(size, consistent),
                         false, 0, NULL));
    json_object_put(item);
    ddb_exprs_free(&x);
    ddb_key_free(&k);
    return NB_OK;
}

nb_status ddb_delete_item(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    ddb_key k;
    if (ddb_key_from_key(call, t, nb_get(in, "Key"), &k) != NB_OK)
        return NB_ERROR;
    ddb_exprs x;
    nb_status st = ddb_exprs_parse(call, in, DDB_X_COND, &x);
    static const char *const rvs[] = {"NONE", "ALL_OLD", NULL};
    if (st == NB_OK && !rv_allowed(nb_str(in, "ReturnValues"), rvs))
        st = ddb_fail_validation(call, "Return values set to invalid value");
    json_object *old = NULL;
    size_t old_size = 0;
    char err[DDB_ERRMAX];
    if (st == NB_OK) {
        old = ddb_load(t, &k, &old_size);
        if (x.cond && ddb_cond_eval(x.cond, old, err, sizeof err) != 1)
            st = ddb_fail_condition(call, in, old);
    }
    if (st == NB_OK && old && ddb_store(call, t, &k, old, NULL, false) != 0)
        st = fail_internal(call);
    if (st == NB_OK) {
        const char *rv = nb_str(in, "ReturnValues");
        if (rv && strcmp(rv, "ALL_OLD") == 0 && old)
            set_out(call, "Attributes", json_object_get(old));
        json_object *keyattrs = nb_get(in, "Key");
        write_outputs(call, in, t, old_size, keyattrs);
    }
    json_object_put(old);
    ddb_exprs_free(&x);
    ddb_key_free(&k);
    return st;
}

static const char *const *key_names(const ddb_table *t, const char *buf[3])
{
    buf[0] = t->hash.name;
    buf[1] = t->range.name[0] ? t->range.name : NULL;
    buf[2] = NULL;
    return buf;
}

/* UpdateItem's new item: the old one (or just the key) with the update
 * applied. */
json_object *ddb_updated_item(nb_call *call, const ddb_table *t, json_object *key,
                              json_object *old, const ddb_exprs *x)
{
    json_object *nw = NULL;
    if (old)
        json_object_deep_copy(old, &nw, NULL);
    else {
        nw = json_object_new_object();
        json_object_object_foreach(key, kn, kv)
            json_object_object_add(nw, kn, json_object_get(kv));
    }
    if (!x->upd)
        return nw;
    char err[DDB_ERRMAX];
    const char *keys[3];
    if (ddb_update_apply(x->upd, nw, key_names(t, keys), err, sizeof err) != 0) {
        json_object_put(nw);
        ddb_fail_validation(call, "%s", err);
        return NULL;
    }
    return nw;
}

static void update_return_values(nb_call *call, const char *rv, const ddb_exprs *x,
                                 json_object *old, json_object *nw)
{
    if (!rv || strcmp(rv, "NONE") == 0)
        return;
    json_object *src = strcmp(rv, "ALL_OLD") == 0 || strcmp(rv, "UPDATED_OLD") == 0 ? old : nw;
    if (!src)
        return;
    json_object *attrs;
    if (rv[0] == 'U') {
        ddb_proj *p = x->upd ? ddb_update_projection(x->upd) : NULL;
        attrs = p ? ddb_project(p, src) : json_object_new_object();
        ddb_proj_free(p);
    } else {
        attrs = json_object_get(src);
    }
    if (json_object_object_length(attrs) == 0) {
        json_object_put(attrs);
        return;
    }
    set_out(call, "Attributes", attrs);
}

nb_status ddb_update_item(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    json_object *key = nb_get(in, "Key");
    ddb_key k;
    if (ddb_key_from_key(call, t, key, &k) != NB_OK)
        return NB_ERROR;
    ddb_exprs x;
    nb_status st = ddb_exprs_parse(call, in, DDB_X_COND | DDB_X_UPDATE, &x);
    json_object *old = NULL, *nw = NULL;
    size_t old_size = 0, size = 0;
    char err[DDB_ERRMAX];
    if (st == NB_OK) {
        old = ddb_load(t, &k, &old_size);
        if (x.cond && ddb_cond_eval(x.cond, old, err, sizeof err) != 1)
            st = ddb_fail_condition(call, in, old);
    }
    if (st == NB_OK && !(nw = ddb_updated_item(call, t, key, old, &x)))
        st = NB_ERROR;
    if (st == NB_OK && ddb_item_validate(nw, err, sizeof err) != 0)
        st = ddb_fail_validation(call, "%s", err);
    if (st == NB_OK && (size = ddb_item_size(nw)) > DDB_MAX_ITEM_BYTES)
        st = ddb_fail_validation(call, "Item size to update has exceeded the maximum allowed size");
    if (st == NB_OK)
        st = ddb_check_index_keys(call, t, nw);
    if (st == NB_OK && ddb_store(call, t, &k, old, nw, false) != 0)
        st = fail_internal(call);
    if (st == NB_OK) {
        update_return_values(call, nb_str(in, "ReturnValues"), &x, old, nw);
        write_outputs(call, in, t, size > old_size ? size : old_size, nw);
    }
    json_object_put(old);
    json_object_put(nw);
    ddb_exprs_free(&x);
    ddb_key_free(&k);
    return st;
}
