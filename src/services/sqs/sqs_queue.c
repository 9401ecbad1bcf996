/*
 * sqs_queue.c — queue-level operations: CreateQueue, DeleteQueue,
 * GetQueueUrl, ListQueues, GetQueueAttributes, SetQueueAttributes,
 * PurgeQueue, TagQueue, UntagQueue, ListQueueTags, AddPermission,
 * RemovePermission, ListDeadLetterSourceQueues.
 *
 * Every handler resolves the queue from the cache, validates everything,
 * writes SQLite, and only then changes the cache (see sqs_internal.h).
 * Pagination tokens (ListQueues, ListDeadLetterSourceQueues) are the
 * base64 of the last queue name returned; listing is by name, which the
 * UNIQUE(account, region, name) index serves in O(log n + page).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqs_internal.h"

#define MAX_TAGS 50

static int recreate_delay_ms(void)
{
    const char *e = getenv("NIMBUS_SQS_RECREATE_DELAY_S");
    return e ? atoi(e) * 1000 : 60000;
}

static json_object *url_output(nb_call *call, const sqs_queue *q)
{
    char url[512];
    sqs_queue_url(call, q, url, sizeof url);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "QueueUrl", json_object_new_string(url));
    return o;
}

static bool step_done(sqlite3_stmt *st)
{
    if (sqlite3_step(st) == SQLITE_DONE)
        return true;
    NB_ERR("sqs: %s", sqlite3_errmsg(nb_db()));
    return false;
}

static nb_status fail_internal(nb_call *call)
{
    return nb_fail_status(call, 500, false, "InternalFailure", "Internal storage error.");
}

/* ---- tags --------------------------------------------------------------- */

static int64_t tag_count(int64_t qid)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT COUNT(*) FROM sqs_tags WHERE queue_id=?");
    sqlite3_bind_int64(st, 1, qid);
    return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
}

static bool tag_exists(int64_t qid, const char *k)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT 1 FROM sqs_tags WHERE queue_id=? AND k=?");
    sqlite3_bind_int64(st, 1, qid);
    sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_ROW;
}

static nb_status tags_check(nb_call *call, const sqs_queue *q, json_object *tags)
{
    int64_t total = q->id ? tag_count(q->id) : 0;
    json_object_object_foreach(tags, k, v) {
        size_t kl = strlen(k);
        if (kl == 0 || kl > 128)
            return sqs_fail_invalid(call, "Tag keys must be between 1 and 128 characters in length.");
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > 256)
            return sqs_fail_invalid(call, "Tag values must be less than 256 characters in length.");
        if (!q->id || !tag_exists(q->id, k))
            total++;
    }
    if (total > MAX_TAGS)
        return sqs_fail_invalid(call, "Too many tags added for queue %s.", q->name);
    return NB_OK;
}

static bool tags_store(int64_t qid, json_object *tags)
{
    static sqlite3_stmt *s;
    json_object_object_foreach(tags, k, v) {
        sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO sqs_tags(queue_id, k, v) VALUES(?,?,?)");
        sqlite3_bind_int64(st, 1, qid);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json_object_get_string(v), -1, SQLITE_STATIC);
        if (!step_done(st))
            return false;
    }
    return true;
}

nb_status sqs_tag_queue(nb_call *call, json_object *in)
{
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    json_object *tags = nb_get(in, "Tags");
    if (!tags || json_object_object_length(tags) == 0)
        return sqs_fail_missing(call, "Tags");
    if (tags_check(call, q, tags) != NB_OK)
        return NB_ERROR;
    return tags_store(q->id, tags) ? NB_OK : fail_internal(call);
}

nb_status sqs_untag_queue(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    json_object *keys = nb_get(in, "TagKeys");
    if (!keys || json_object_array_length(keys) == 0)
        return sqs_fail_missing(call, "TagKeys");
    for (size_t i = 0; i < json_object_array_length(keys); i++) {
        sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sqs_tags WHERE queue_id=? AND k=?");
        sqlite3_bind_int64(st, 1, q->id);
        sqlite3_bind_text(st, 2, json_object_get_string(json_object_array_get_idx(keys, i)), -1,
                          SQLITE_STATIC);
        if (!step_done(st))
            return fail_internal(call);
    }
    return NB_OK;
}

nb_status sqs_list_queue_tags(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT k, v FROM sqs_tags WHERE queue_id=? ORDER BY k");
    sqlite3_bind_int64(st, 1, q->id);
    json_object *tags = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!tags)
            tags = json_object_new_object();
        json_object_object_add(tags, (const char *)sqlite3_column_text(st, 0),
                               json_object_new_string((const char *)sqlite3_column_text(st, 1)));
    }
    if (tags) {
        call->out = json_object_new_object();
        json_object_object_add(call->out, "Tags", tags);
    }
    return NB_OK;
}

/* ---- CreateQueue ------------------------------------------------------ */

static bool recently_deleted(const nb_call *call, const char *name)
{
    static sqlite3_stmt *s;
    int delay = recreate_delay_ms();
    if (delay <= 0)
        return false;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT deleted_ms FROM sqs_deleted"
                                   " WHERE account=? AND region=? AND name=?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > call->now_ms - delay;
}

static nb_status create_checks(nb_call *call, const char *name, json_object *attrs, bool *fifo)
{
    const char *fq = nb_str(attrs, "FifoQueue");
    *fifo = false;
    if (fq) {
        if (!strcasecmp(fq, "true"))
            *fifo = true;
        else if (strcasecmp(fq, "false"))
            return nb_fail(call, "InvalidAttributeValue", "Invalid value for the parameter FifoQueue.");
    }
    if (!sqs_valid_queue_name(name, *fifo)) {
        if (*fifo)
            return sqs_fail_invalid(call, "The name of a FIFO queue can only include alphanumeric "
                                    "characters, hyphens, or underscores, must end with .fifo "
                                    "suffix and be 1 to 80 in length.");
        return sqs_fail_invalid(call, "Can only include alphanumeric characters, hyphens, or "
                                "underscores. 1 to 80 in length");
    }
    return NB_OK;
}

static nb_status create_new(nb_call *call, const char *name, bool fifo, json_object *attrs,
                            json_object *tags)
{
    if (recently_deleted(call, name))
        return nb_fail(call, "QueueDeletedRecently", "You must wait 60 seconds after deleting a "
                       "queue before you can create another with the same name.");
    sqs_queue *q = sqs_queue_new(call->account, call->region, name);
    q->fifo = fifo;
    q->created_ms = q->modified_ms = call->now_ms;
    if (sqs_attrs_apply(call, q, attrs, true) != NB_OK ||
        (tags && tags_check(call, q, tags) != NB_OK)) {
        sqs_queue_free_attrs(q);
        free(q);
        return NB_ERROR;
    }
    if (sqs_queue_store(q) != 0 || (tags && !tags_store(q->id, tags))) {
        sqs_queue_free_attrs(q);
        free(q);
        return fail_internal(call);
    }
    sqs_queue_insert_cache(q);
    call->out = url_output(call, q);
    return NB_OK;
}

nb_status sqs_create_queue(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "QueueName");
    json_object *attrs = nb_get(in, "Attributes"), *tags = nb_get(in, "tags");
    bool fifo;
    if (!name)
        return sqs_fail_missing(call, "QueueName");
    if (create_checks(call, name, attrs, &fifo) != NB_OK)
        return NB_ERROR;
    sqs_queue *q = sqs_queue_find(call->account, call->region, name);
    if (!q)
        return create_new(call, name, fifo, attrs, tags);
    if (sqs_attrs_match(call, q, attrs) != NB_OK)
        return NB_ERROR;
    call->out = url_output(call, q);
    return NB_OK;
}

/* ---- DeleteQueue / PurgeQueue --------------------------------------------- */

static bool delete_by_queue(sqlite3_stmt **slot, const char *sql, int64_t qid)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, qid);
    return step_done(st);
}

static bool tombstone(const sqs_queue *q, int64_t now)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO sqs_deleted(account, region, name,"
                                   " deleted_ms) VALUES(?,?,?,?)");
    sqlite3_bind_text(st, 1, q->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    return step_done(st);
}

nb_status sqs_delete_queue(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s1, *s2, *s3, *s4, *s5;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    bool ok = delete_by_queue(&s1, "DELETE FROM sqs_messages WHERE queue_id=?", q->id) &&
              delete_by_queue(&s2, "DELETE FROM sqs_dedup WHERE queue_id=?", q->id) &&
              delete_by_queue(&s3, "DELETE FROM sqs_attempts WHERE queue_id=?", q->id) &&
              delete_by_queue(&s4, "DELETE FROM sqs_tags WHERE queue_id=?", q->id) &&
              delete_by_queue(&s5, "DELETE FROM sqs_queues WHERE id=?", q->id) &&
              tombstone(q, call->now_ms);
    if (!ok)
        return fail_internal(call);
    sqs_queue_remove_cache(q);
    return NB_OK;
}

nb_status sqs_purge_queue(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s1, *s2, *s3;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    if (q->purged_ms && call->now_ms - q->purged_ms < SQS_PURGE_WINDOW_MS)
        return nb_fail_status(call, 403, true, "PurgeQueueInProgress",
                              "Only one PurgeQueue operation on %s is allowed every 60 seconds.",
                              q->name);
    int64_t old = q->purged_ms;
    q->purged_ms = call->now_ms;
    bool ok = delete_by_queue(&s1, "DELETE FROM sqs_messages WHERE queue_id=?", q->id) &&
              delete_by_queue(&s2, "DELETE FROM sqs_dedup WHERE queue_id=?", q->id) &&
              delete_by_queue(&s3, "DELETE FROM sqs_attempts WHERE queue_id=?", q->id) &&
              sqs_queue_store(q) == 0;
    if (!ok) {
        q->purged_ms = old;
        return fail_internal(call);
    }
    return NB_OK;
}

/* ---- GetQueueUrl / ListQueues / ListDeadLetterSourceQueues -------------- */

nb_status sqs_get_queue_url(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "QueueName");
    const char *owner = nb_str(in, "QueueOwnerAWSAccountId");
    if (!name)
        return sqs_fail_missing(call, "QueueName");
    sqs_queue *q = sqs_queue_find(owner && *owner ? owner : call->account, call->region, name);
    if (!q)
        return sqs_fail_no_queue(call);
    call->out = url_output(call, q);
    return NB_OK;
}

/* Decode a NextToken into the name it carries (after which listing goes on). */
static bool token_decode(const char *tok, char *out, size_t n)
{
    size_t len = 0;
    unsigned char *raw = nb_base64_decode(tok, strlen(tok), &len);
    if (!raw || len == 0 || len >= n) {
        free(raw);
        return false;
    }
    memcpy(out, raw, len);
    out[len] = '\0';
    free(raw);
    return true;
}

static json_object *token_encode(const char *name)
{
    size_t len = 0;
    char *b = nb_base64_encode(name, strlen(name), &len);
    json_object *o = json_object_new_string_len(b, (int)len);
    free(b);
    return o;
}

typedef struct list_req {
    int64_t max;        /* page size */
    bool paged;         /* MaxResults given: NextToken may be returned */
    char after[SQS_MAX_NAME + 2];
} list_req;

static nb_status list_parse(nb_call *call, json_object *in, list_req *r)
{
    r->max = 1000;
    r->paged = sqs_get_int(in, "MaxResults", &r->max);
    if (r->paged && (r->max < 1 || r->max > 1000))
        return sqs_fail_invalid(call, "Value %lld for parameter MaxResults is invalid. Reason: "
                                "MaxResults must be an integer between 1 and 1000.",
                                (long long)r->max);
    r->after[0] = '\0';
    const char *tok = nb_str(in, "NextToken");
    if (tok && *tok && !token_decode(tok, r->after, sizeof r->after))
        return sqs_fail_invalid(call, "Invalid NextToken value.");
    return NB_OK;
}

/* Step st (rows: name) into a list of URLs of at most r->max entries. */
static json_object *list_collect(nb_call *call, sqlite3_stmt *st, const list_req *r,
                                 const char *prefix, json_object **next)
{
    json_object *urls = json_object_new_array();
    char last[SQS_MAX_NAME + 2] = "";
    *next = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (prefix && strncmp(name, prefix, strlen(prefix)) != 0)
            break;
        if ((int64_t)json_object_array_length(urls) == r->max) {
            if (r->paged)
                *next = token_encode(last);
            break;
        }
        sqs_queue *q = sqs_queue_find(call->account, call->region, name);
        if (!q)
            continue;
        char url[512];
        sqs_queue_url(call, q, url, sizeof url);
        json_object_array_add(urls, json_object_new_string(url));
        snprintf(last, sizeof last, "%s", name);
    }
    return urls;
}

nb_status sqs_list_queues(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    list_req r;
    if (list_parse(call, in, &r) != NB_OK)
        return NB_ERROR;
    const char *prefix = nb_str(in, "QueueNamePrefix");
    sqlite3_stmt *st = nb_stmt(&s, "SELECT name FROM sqs_queues WHERE account=? AND region=?"
                                   " AND name >= ? AND name > ? ORDER BY name LIMIT ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r.after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r.max + 1);
    json_object *next, *urls = list_collect(call, st, &r, prefix, &next);
    call->out = json_object_new_object();
    if (json_object_array_length(urls) > 0)
        json_object_object_add(call->out, "QueueUrls", urls);
    else
        json_object_put(urls);
    if (next)
        json_object_object_add(call->out, "NextToken", next);
    return NB_OK;
}

nb_status sqs_list_dead_letter_source_queues(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    list_req r;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q || list_parse(call, in, &r) != NB_OK)
        return NB_ERROR;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT name FROM sqs_queues WHERE account=? AND region=?"
                                   " AND dlq_arn=? AND name > ? ORDER BY name LIMIT ?");
    sqlite3_bind_text(st, 1, q->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, q->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r.after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r.max + 1);
    json_object *next, *urls = list_collect(call, st, &r, NULL, &next);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "queueUrls", urls);
    if (next)
        json_object_object_add(call->out, "NextToken", next);
    return NB_OK;
}

/* ---- Get/SetQueueAttributes --------------------------------------------- */

nb_status sqs_get_queue_attributes(nb_call *call, json_object *in)
{
    json_object *attrs;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q || sqs_attrs_render(call, q, nb_get(in, "AttributeNames"), &attrs) != NB_OK)
        return NB_ERROR;
    call->out = json_object_new_object();
    if (attrs)
        json_object_object_add(call->out, "Attributes", attrs);
    return NB_OK;
}

static bool update_retention(const sqs_queue *q)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sqs_messages SET expires_at = sent_ms + ?"
                                   " WHERE queue_id=?");
    sqlite3_bind_int64(st, 1, (int64_t)q->retention * 1000);
    sqlite3_bind_int64(st, 2, q->id);
    sqs_expiry_unknown();
    return step_done(st);
}

nb_status sqs_set_queue_attributes(nb_call *call, json_object *in)
{
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    json_object *attrs = nb_get(in, "Attributes");
    if (!attrs)
        return sqs_fail_missing(call, "Attributes");
    sqs_queue scratch;
    sqs_queue_copy(&scratch, q);
    nb_status st = sqs_attrs_apply(call, &scratch, attrs, false);
    if (st == NB_OK) {
        scratch.modified_ms = call->now_ms;
        bool ok = sqs_queue_store(&scratch) == 0 &&
                  (scratch.retention == q->retention || update_retention(&scratch));
        st = ok ? NB_OK : fail_internal(call);
    }
    if (st != NB_OK) {
        sqs_queue_free_attrs(&scratch);
        return NB_ERROR;
    }
    sqs_queue_commit(q, &scratch);
    sqs_wait_touch(q);
    return NB_OK;
}

/* ---- AddPermission / RemovePermission ----------------------------------- */

static const char *const SHAREABLE[] = {
    "*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
    "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage",
    "ListQueueTags", "ListMessageMoveTasks", "StartMessageMoveTask", "CancelMessageMoveTask",
    NULL};
static const char *const OWNER_ONLY[] = {
    "AddPermission", "CreateQueue", "DeleteQueue", "ListQueues", "RemovePermission",
    "SetQueueAttributes", "TagQueue", "UntagQueue", "SendMessageBatch", "DeleteMessageBatch",
    "ChangeMessageVisibilityBatch", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

static bool valid_label(const char *l)
{
    size_t n = strlen(l);
    if (n == 0 || n > 80)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)l[i]) && l[i] != '-' && l[i] != '_')
            return false;
    return true;
}

static nb_status perm_check(nb_call *call, json_object *in, json_object *accounts,
                            json_object *actions)
{
    const char *label = nb_str(in, "Label");
    if (!label || !valid_label(label))
        return sqs_fail_invalid(call, "Value %s for parameter Label is invalid. Reason: Must "
                                "match pattern ^[a-zA-Z0-9_-]{1,80}$.", label ? label : "");
    if (!accounts || json_object_array_length(accounts) == 0)
        return sqs_fail_missing(call, "AWSAccountIds");
    if (!actions || json_object_array_length(actions) == 0)
        return sqs_fail_missing(call, "Actions");
    if (json_object_array_length(actions) > 7)
        return nb_fail_status(call, 403, true, "OverLimit", "%zu Actions were found, maximum "
                              "allowed is 7.", json_object_array_length(actions));
    for (size_t i = 0; i < json_object_array_length(accounts); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(accounts, i));
        if (!a || strlen(a) != 12 || strspn(a, "0123456789") != 12)
            return sqs_fail_invalid(call, "Value [%s] for parameter PrincipalId is invalid. "
                                    "Reason: Unable to verify.", a ? a : "");
    }
    for (size_t i = 0; i < json_object_array_length(actions); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(actions, i));
        if (a && in_list(SHAREABLE, a))
            continue;
        return sqs_fail_invalid(call, "Value SQS:%s for parameter ActionName is invalid. Reason: "
                                "%s", a ? a : "", a && in_list(OWNER_ONLY, a)
                                ? "Only the queue owner is allowed to invoke this action."
                                : "Please refer to the appropriate WSDL for a list of valid actions.");
    }
    return NB_OK;
}

/* A list of one element becomes a plain string, as AWS writes policies. */
static json_object *one_or_list(json_object *arr)
{
    if (json_object_array_length(arr) == 1)
        return json_object_get(json_object_array_get_idx(arr, 0));
    return arr;
}

static json_object *perm_statement(const sqs_queue *q, const char *label, json_object *accounts,
                                   json_object *actions)
{
    json_object *principals = json_object_new_array(), *acts = json_object_new_array();
    char buf[128];
    for (size_t i = 0; i < json_object_array_length(accounts); i++) {
        snprintf(buf, sizeof buf, "arn:aws:iam::%s:root",
                 json_object_get_string(json_object_array_get_idx(accounts, i)));
        json_object_array_add(principals, json_object_new_string(buf));
    }
    for (size_t i = 0; i < json_object_array_length(actions); i++) {
        snprintf(buf, sizeof buf, "SQS:%s",
                 json_object_get_string(json_object_array_get_idx(actions, i)));
        json_object_array_add(acts, json_object_new_string(buf));
    }
    json_object *p = json_object_new_object(), *s = json_object_new_object();
    json_object *pa = one_or_list(principals), *aa = one_or_list(acts);
    if (pa != principals)
        json_object_put(principals);
    if (aa != acts)
        json_object_put(acts);
    json_object_object_add(p, "AWS", pa);
    json_object_object_add(s, "Sid", json_object_new_string(label));
    json_object_object_add(s, "Effect", json_object_new_string("Allow"));
    json_object_object_add(s, "Principal", p);
    json_object_object_add(s, "Action", aa);
    json_object_object_add(s, "Resource", json_object_new_string(q->arn));
    return s;
}

/* The queue's policy as a tree with a Statement array (new when none). */
static json_object *policy_tree(const sqs_queue *q, json_object **stmts)
{
    json_object *pol = q->policy ? json_tokener_parse(q->policy) : NULL;
    if (!pol || !json_object_is_type(pol, json_type_object)) {
        char id[256];
        json_object_put(pol);
        pol = json_object_new_object();
        snprintf(id, sizeof id, "%s/SQSDefaultPolicy", q->arn);
        json_object_object_add(pol, "Version", json_object_new_string("2008-10-17"));
        json_object_object_add(pol, "Id", json_object_new_string(id));
    }
    if (!json_object_object_get_ex(pol, "Statement", stmts) ||
        !json_object_is_type(*stmts, json_type_array)) {
        json_object *arr = json_object_new_array();
        if (*stmts && json_object_is_type(*stmts, json_type_object))
            json_object_array_add(arr, json_object_get(*stmts));
        json_object_object_add(pol, "Statement", arr);
        *stmts = arr;
    }
    return pol;
}

static int statement_index(json_object *stmts, const char *label)
{
    for (size_t i = 0; i < json_object_array_length(stmts); i++) {
        json_object *sid = NULL;
        if (json_object_object_get_ex(json_object_array_get_idx(stmts, i), "Sid", &sid) &&
            !strcmp(json_object_get_string(sid), label))
            return (int)i;
    }
    return -1;
}

static nb_status policy_save(nb_call *call, sqs_queue *q, json_object *pol, json_object *stmts)
{
    sqs_queue scratch;
    sqs_queue_copy(&scratch, q);
    const char *txt = json_object_array_length(stmts)
                          ? json_object_to_json_string_ext(pol, JSON_C_TO_STRING_PLAIN)
                          : NULL;
    sqs_str_set(&scratch.policy, txt);
    scratch.modified_ms = call->now_ms;
    json_object_put(pol);
    if (sqs_queue_store(&scratch) != 0) {
        sqs_queue_free_attrs(&scratch);
        return fail_internal(call);
    }
    sqs_queue_commit(q, &scratch);
    return NB_OK;
}

nb_status sqs_add_permission(nb_call *call, json_object *in)
{
    json_object *accounts = nb_get(in, "AWSAccountIds"), *actions = nb_get(in, "Actions");
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q || perm_check(call, in, accounts, actions) != NB_OK)
        return NB_ERROR;
    const char *label = nb_str(in, "Label");
    json_object *stmts, *pol = policy_tree(q, &stmts);
    if (statement_index(stmts, label) >= 0) {
        json_object_put(pol);
        return sqs_fail_invalid(call, "Value %s for parameter Label is invalid. Reason: Already "
                                "exists.", label);
    }
    json_object_array_add(stmts, perm_statement(q, label, accounts, actions));
    return policy_save(call, q, pol, stmts);
}

nb_status sqs_remove_permission(nb_call *call, json_object *in)
{
    sqs_queue *q = sqs_queue_from_url(call, in);
    const char *label = nb_str(in, "Label");
    if (!q)
        return NB_ERROR;
    if (!label)
        return sqs_fail_missing(call, "Label");
    json_object *stmts, *pol = policy_tree(q, &stmts);
    int idx = statement_index(stmts, label);
    if (idx < 0) {
        json_object_put(pol);
        return sqs_fail_invalid(call, "Value %s for parameter Label is invalid. Reason: can't "
                                "find label.", label);
    }
    json_object_array_del_idx(stmts, (size_t)idx, 1);
    return policy_save(call, q, pol, stmts);
}
