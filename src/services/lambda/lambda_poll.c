/*
 * lambda_poll.c — event source mapping pollers: SQS queues and DynamoDB
 * streams feeding functions, on the event loop.
 *
 * A reconcile tick (1 s) reads every mapping (lm_esm_all) and starts a
 * poller for each Enabled one, restarts it when its configuration changed
 * (LastModified), and stops pollers of mappings that are gone or Disabled.
 * Pollers talk to the sources through nimbus's internal operation
 * interface (nb_invoke), exactly the API AWS's pollers use, and invoke the
 * function with lm_run.  Nothing blocks: every step is a callback.
 *
 * SQS: ReceiveMessage (up to 10 a call; with a batching window, calls are
 * repeated until BatchSize or the window ends), one invocation with the
 * Records, then DeleteMessageBatch of what succeeded: everything, or with
 * ReportBatchItemFailures everything but the reported itemIdentifiers.  A
 * failed batch is left to return after its visibility timeout (and to the
 * queue's dead-letter queue by its redrive policy), as on AWS.  Records
 * filtered out by FilterCriteria are deleted without an invocation.
 * ScalingConfig.MaximumConcurrency bounds the pollers (default 2 here).
 *
 * DynamoDB Streams: one shard per stream (nimbus's streams have one); a
 * checkpoint (the last sequence number handled) is stored per mapping in
 * lambda_esm_pos, so a restart resumes where it was.  Failed batches are
 * retried (MaximumRetryAttempts, -1 = until the records expire), halved
 * with BisectBatchOnFunctionError, dropped after MaximumRecordAgeInSeconds,
 * then reported to the OnFailure destination and skipped.  With
 * ReportBatchItemFailures the checkpoint moves to the first failed record.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/pattern.h"
#include "core/store.h"
#include "gen/models.h"
#include "lambda_internal.h"

#define RECONCILE_MS 1000
#define SQS_IDLE_MS 100 /* between empty receives */
#define DDB_IDLE_MS 250 /* between empty GetRecords (AWS: 4 a second) */
#define SQS_POLLERS 2

typedef struct poller poller;

typedef struct mapping {
    struct mapping *next;
    char uuid[40];
    char modified[40];
    json_object *cfg; /* the mapping (owned) */
    bool sqs;
    bool seen; /* in the latest reconcile */
    int npollers;
    poller *pollers;
    nb_pattern *filters[8]; /* FilterCriteria, compiled; any may match */
    int nfilters;
} mapping;

struct poller {
    poller *next;
    mapping *m;
    nb_call ctx;
    uv_timer_t timer;
    bool stopping;
    bool busy; /* a step in flight (nb_invoke or lm_run) */
    /* SQS: the batch being gathered. */
    json_object *batch;    /* array of Messages (DynamoDB: the part
                            * handed to the function) */
    json_object *filtered; /* MessageIds FilterCriteria left out */
    uint64_t window_end;
    /* DynamoDB: position and retries. */
    char shard[128];
    char last_seq[64];     /* checkpoint: handled up to here */
    char *iterator;        /* NextShardIterator, or NULL */
    json_object *pending;  /* fetched records not handled yet */
    char fetched_last[64]; /* the last record fetched (even filtered) */
    int attempts;
    int bisect; /* records per invocation while bisecting */
};

static mapping *g_maps;
static uv_timer_t g_tick;
static bool g_tick_on;

static void poller_step(poller *p);

/* ---- small helpers ------------------------------------------------------- */

static const char *cfg_str(const mapping *m, const char *k)
{
    const char *s = nb_str(m->cfg, k);
    return s ? s : "";
}

static int64_t cfg_int(const mapping *m, const char *k, int64_t dflt)
{
    int64_t v;
    return nb_int(m->cfg, k, &v) ? v : dflt;
}

static bool reports_failures(const mapping *m)
{
    json_object *t = nb_get(m->cfg, "FunctionResponseTypes");
    for (size_t i = 0, n = t ? json_object_array_length(t) : 0; i < n; i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(t, i)),
                    "ReportBatchItemFailures"))
            return true;
    return false;
}

static void on_poll_timer(uv_timer_t *t)
{
    poller *p = t->data;
    if (!p->stopping && !p->busy)
        poller_step(p);
}

static void poll_in(poller *p, uint64_t ms)
{
    if (!p->stopping)
        uv_timer_start(&p->timer, on_poll_timer, ms, 0);
}

static void poller_free_cb(uv_handle_t *h)
{
    poller *p = h->data;
    if (p->batch)
        json_object_put(p->batch);
    if (p->filtered)
        json_object_put(p->filtered);
    if (p->pending)
        json_object_put(p->pending);
    free(p->iterator);
    free(p);
}

/* Stop when idle; an in-flight step finishes first and then frees it. */
static void poller_stop(poller *p)
{
    p->stopping = true;
    uv_timer_stop(&p->timer);
    if (!p->busy)
        uv_close((uv_handle_t *)&p->timer, poller_free_cb);
}

/* A step finished: continue, or finish stopping. */
static bool step_done(poller *p)
{
    p->busy = false;
    if (p->stopping) {
        uv_close((uv_handle_t *)&p->timer, poller_free_cb);
        return false;
    }
    return true;
}

static void set_result(poller *p, const char *what)
{
    /* LastProcessingResult is part of the mapping document; the control
     * plane renders it.  Recorded in the poller's log line only. */
    NB_DEBUG("lambda: mapping %s: %s", p->m->uuid, what);
}

/* FilterCriteria: a record goes to the function when any filter matches.
 * An SQS body is matched parsed when it is JSON; a message whose body is
 * not the kind a filter expects (JSON or plain) does not match it. */
static bool matches_filters(const mapping *m, json_object *record)
{
    if (m->nfilters == 0)
        return true;
    json_object *ev = record, *parsed = NULL;
    if (m->sqs) {
        const char *body = nb_str(record, "body");
        parsed = body ? json_tokener_parse(body) : NULL;
        if (parsed && !json_object_is_type(parsed, json_type_object) &&
            !json_object_is_type(parsed, json_type_array)) {
            json_object_put(parsed);
            parsed = NULL;
        }
        if (parsed) {
            ev = json_object_new_object();
            json_object_object_foreach(record, k, v)
            {
                json_object_object_add(ev, k,
                                       strcmp(k, "body") ? json_object_get(v)
                                                         : json_object_get(parsed));
            }
        }
    }
    bool hit = false;
    for (int i = 0; i < m->nfilters && !hit; i++) {
        int want = m->sqs ? nb_pattern_lambda_body(m->filters[i]) : 0;
        if ((want == 1 && !parsed) || (want == 2 && parsed))
            continue;
        hit = nb_pattern_match(m->filters[i], ev);
    }
    if (parsed) {
        json_object_put(ev);
        json_object_put(parsed);
    }
    return hit;
}

/* ---- invoking ------------------------------------------------------------ */

typedef void (*invoked_fn)(poller *p, const lm_result *res, bool throttled);

typedef struct {
    poller *p;
    invoked_fn k;
} inv_ctx;

static void invoke_done(const lm_result *res, void *arg)
{
    inv_ctx *c = arg;
    poller *p = c->p;
    invoked_fn k = c->k;
    free(c);
    if (p->stopping) { /* the mapping went away meanwhile */
        step_done(p);
        return;
    }
    k(p, res, false);
}

static void ignore_done(nb_call *call, nb_status st, void *arg)
{
    (void)call;
    (void)st;
    (void)arg;
}

/* Run the function with {"Records": records}; k gets the result. */
static void run_function(poller *p, json_object *records, invoked_fn k)
{
    json_object *ev = json_object_new_object();
    json_object_object_add(ev, "Records", json_object_get(records));
    nb_buf text = {0};
    nb_json_write(&text, ev);
    json_object_put(ev);
    lm_version v;
    const char *fn = cfg_str(p->m, "FunctionArn");
    if (lm_resolve(&p->ctx, fn, NULL, &v) != NB_OK) {
        NB_WARN("lambda: mapping %s: %s", p->m->uuid, p->ctx.err.message);
        nb_buf_free(&text);
        lm_result r = {.kind = LM_FUNCTION_ERROR};
        snprintf(r.error_type, sizeof r.error_type, "ResourceNotFoundException");
        k(p, &r, true);
        return;
    }
    const char *q = strrchr(fn, ':');
    const char *f = strstr(fn, ":function:");
    const char *qual = q && f && q > f + 9 ? q + 1 : NULL;
    inv_ctx *c = nb_calloc(1, sizeof *c);
    c->p = p;
    c->k = k;
    lm_inv *inv = lm_inv_new(&p->ctx, &v, qual, text.data, text.len, invoke_done, c);
    nb_buf_free(&text);
    if (lm_run(&p->ctx, inv) != NB_OK) {
        free(c);
        if (p->ctx.err.detail) {
            json_object_put(p->ctx.err.detail);
            p->ctx.err.detail = NULL;
        }
        lm_result r = {.kind = LM_FUNCTION_ERROR};
        snprintf(r.error_type, sizeof r.error_type, "%.60s", p->ctx.err.code);
        k(p, &r, true);
    }
}

/* The batchItemFailures itemIdentifiers of a function's response, or NULL
 * when the response does not report any (then the whole batch stands). */
static json_object *item_failures(const lm_result *res, bool *malformed)
{
    *malformed = false;
    if (res->kind != LM_OK || res->payload.len == 0)
        return NULL;
    json_object *o = json_tokener_parse(res->payload.data ? res->payload.data : "");
    json_object *fails = o ? nb_get(o, "batchItemFailures") : NULL;
    json_object *ids = NULL;
    if (fails && json_object_is_type(fails, json_type_array)) {
        ids = json_object_new_array();
        for (size_t i = 0, n = json_object_array_length(fails); i < n; i++) {
            const char *id = nb_str(json_object_array_get_idx(fails, i), "itemIdentifier");
            if (!id || !*id) {
                *malformed = true; /* AWS: the whole batch failed */
                break;
            }
            json_object_array_add(ids, json_object_new_string(id));
        }
    }
    if (o)
        json_object_put(o);
    return ids;
}

static bool in_list(json_object *ids, const char *id)
{
    for (size_t i = 0, n = ids ? json_object_array_length(ids) : 0; i < n; i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(ids, i)), id))
            return true;
    return false;
}

/* ---- SQS ----------------------------------------------------------------- */

static void sqs_receive(poller *p);

static void sqs_deleted(nb_call *call, nb_status st, void *arg)
{
    poller *p = arg;
    if (p->stopping) {
        step_done(p);
        return;
    }
    if (st != NB_OK)
        NB_WARN("lambda: mapping %s: deleting messages: %s", p->m->uuid, call->err.message);
    if (step_done(p))
        poller_step(p);
}

static void sqs_delete(poller *p, json_object *msgs, json_object *keep)
{
    json_object *entries = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(msgs); i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *id = nb_str(m, "MessageId");
        if (in_list(keep, id))
            continue;
        json_object *e = json_object_new_object();
        char eid[32];
        snprintf(eid, sizeof eid, "m%zu", i);
        json_object_object_add(e, "Id", json_object_new_string(eid));
        json_object_object_add(e, "ReceiptHandle",
                               json_object_new_string(nb_str(m, "ReceiptHandle")));
        json_object_array_add(entries, e);
    }
    if (json_object_array_length(entries) == 0) {
        json_object_put(entries);
        if (step_done(p))
            poller_step(p);
        return;
    }
    /* DeleteMessageBatch takes 10 entries: delete in slices. */
    size_t n = json_object_array_length(entries);
    for (size_t off = 0; off < n; off += 10) {
        json_object *slice = json_object_new_array();
        for (size_t i = off; i < n && i < off + 10; i++)
            json_object_array_add(slice, json_object_get(json_object_array_get_idx(entries, i)));
        json_object *in = json_object_new_object();
        char url[1200];
        nb_sqs_queue_url(&p->ctx, cfg_str(p->m, "EventSourceArn"), url, sizeof url);
        json_object_object_add(in, "QueueUrl", json_object_new_string(url));
        json_object_object_add(in, "Entries", slice);
        bool last = off + 10 >= n;
        nb_invoke(&p->ctx, "sqs", "DeleteMessageBatch", in, last ? sqs_deleted : ignore_done, p);
        json_object_put(in);
    }
    json_object_put(entries);
}

/* One SQS message in Lambda's record form. */
static json_object *sqs_record(const poller *p, json_object *m)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "messageId", json_object_new_string(nb_str(m, "MessageId")));
    json_object_object_add(r, "receiptHandle", json_object_new_string(nb_str(m, "ReceiptHandle")));
    json_object *body = nb_get(m, "Body");
    json_object_object_add(r, "body", body ? json_object_get(body) : json_object_new_string(""));
    json_object *attrs = nb_get(m, "Attributes");
    json_object_object_add(r, "attributes",
                           attrs ? json_object_get(attrs) : json_object_new_object());
    json_object *ma = json_object_new_object();
    json_object *given = nb_get(m, "MessageAttributes");
    if (given) {
        json_object_object_foreach(given, k, v)
        {
            json_object *a = json_object_new_object();
            if (nb_get(v, "StringValue"))
                json_object_object_add(a, "stringValue", json_object_get(nb_get(v, "StringValue")));
            if (nb_get(v, "BinaryValue"))
                json_object_object_add(a, "binaryValue", json_object_get(nb_get(v, "BinaryValue")));
            json_object_object_add(a, "stringListValues", json_object_new_array());
            json_object_object_add(a, "binaryListValues", json_object_new_array());
            json_object_object_add(a, "dataType", json_object_get(nb_get(v, "DataType")));
            json_object_object_add(ma, k, a);
        }
    }
    json_object_object_add(r, "messageAttributes", ma);
    json_object_object_add(r, "md5OfBody", json_object_new_string(nb_str(m, "MD5OfBody")));
    if (nb_str(m, "MD5OfMessageAttributes"))
        json_object_object_add(r, "md5OfMessageAttributes",
                               json_object_new_string(nb_str(m, "MD5OfMessageAttributes")));
    json_object_object_add(r, "eventSource", json_object_new_string("aws:sqs"));
    json_object_object_add(r, "eventSourceARN",
                           json_object_new_string(cfg_str(p->m, "EventSourceArn")));
    json_object_object_add(r, "awsRegion", json_object_new_string(p->ctx.region));
    return r;
}

/* Message ids of msgs except those in `except`. */
static json_object *ids_except(json_object *msgs, json_object *except)
{
    json_object *ids = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(msgs); i < n; i++) {
        const char *id = nb_str(json_object_array_get_idx(msgs, i), "MessageId");
        if (!in_list(except, id))
            json_object_array_add(ids, json_object_new_string(id));
    }
    return ids;
}

static void sqs_invoked(poller *p, const lm_result *res, bool throttled)
{
    json_object *msgs = p->batch, *filtered = p->filtered;
    p->batch = p->filtered = NULL;
    bool malformed = false;
    json_object *keep = NULL;
    if (throttled || res->kind != LM_OK) {
        /* The batch returns to the queue after its visibility timeout;
         * only what the filters left out is deleted. */
        set_result(p, "PROBLEM: Function call failed");
        keep = ids_except(msgs, filtered);
    } else if (reports_failures(p->m)) {
        keep = item_failures(res, &malformed);
        if (malformed) {
            json_object_put(keep);
            keep = ids_except(msgs, filtered);
        }
    }
    if (!keep || json_object_array_length(keep) < json_object_array_length(msgs)) {
        if (!throttled && res->kind == LM_OK)
            set_result(p, "OK");
        sqs_delete(p, msgs, keep); /* continues the poller */
    } else if (step_done(p)) {
        poll_in(p, throttled ? 1000 : 0);
    }
    json_object_put(keep);
    json_object_put(msgs);
    json_object_put(filtered);
}

static void sqs_dispatch(poller *p)
{
    json_object *msgs = p->batch;
    json_object *records = json_object_new_array();
    p->filtered = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(msgs); i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        json_object *rec = sqs_record(p, m);
        if (matches_filters(p->m, rec)) {
            json_object_array_add(records, rec);
        } else {
            json_object_array_add(p->filtered, json_object_new_string(nb_str(m, "MessageId")));
            json_object_put(rec);
        }
    }
    if (json_object_array_length(records) == 0) {
        /* Nothing matched: the messages are deleted, as on AWS. */
        json_object_put(records);
        p->batch = NULL;
        json_object_put(p->filtered);
        p->filtered = NULL;
        sqs_delete(p, msgs, NULL);
        json_object_put(msgs);
        return;
    }
    run_function(p, records, sqs_invoked);
    json_object_put(records);
}

static void sqs_received(nb_call *call, nb_status st, void *arg)
{
    poller *p = arg;
    if (p->stopping) {
        step_done(p);
        return;
    }
    size_t got = 0;
    if (st == NB_OK) {
        json_object *out = call->out;
        if (out)
            nb_json_encode_tree(&nb_model_sqs,
                                nb_model_op(&nb_model_sqs, "ReceiveMessage", 14)->output, out);
        json_object *msgs = out ? nb_get(out, "Messages") : NULL;
        got = msgs ? json_object_array_length(msgs) : 0;
        for (size_t i = 0; i < got; i++)
            json_object_array_add(p->batch, json_object_get(json_object_array_get_idx(msgs, i)));
    } else {
        NB_DEBUG("lambda: mapping %s: receive: %s", p->m->uuid, call->err.message);
    }
    size_t have = json_object_array_length(p->batch);
    int64_t size = cfg_int(p->m, "BatchSize", 10);
    bool window_open = p->window_end > uv_now(nb_loop());
    if (have > 0 && ((int64_t)have >= size || !window_open)) {
        sqs_dispatch(p);
        return;
    }
    p->busy = false;
    if (st != NB_OK) {
        poll_in(p, 1000);
        return;
    }
    if (got == 0 && have == 0)
        p->window_end = 0;
    poll_in(p, got == 0 ? (window_open ? 50 : SQS_IDLE_MS) : 0);
}

static void sqs_receive(poller *p)
{
    if (!p->batch) {
        p->batch = json_object_new_array();
        int64_t w = cfg_int(p->m, "MaximumBatchingWindowInSeconds", 0);
        p->window_end = uv_now(nb_loop()) + (uint64_t)w * 1000;
    }
    int64_t size = cfg_int(p->m, "BatchSize", 10);
    int64_t want = size - (int64_t)json_object_array_length(p->batch);
    json_object *in = json_object_new_object();
    char url[1200];
    nb_sqs_queue_url(&p->ctx, cfg_str(p->m, "EventSourceArn"), url, sizeof url);
    json_object_object_add(in, "QueueUrl", json_object_new_string(url));
    json_object_object_add(in, "MaxNumberOfMessages",
                           json_object_new_int(want > 10 ? 10 : (int)want));
    json_object *all = json_object_new_array();
    json_object_array_add(all, json_object_new_string("All"));
    json_object_object_add(in, "AttributeNames", all);
    json_object *mall = json_object_new_array();
    json_object_array_add(mall, json_object_new_string("All"));
    json_object_object_add(in, "MessageAttributeNames", mall);
    p->busy = true;
    nb_invoke(&p->ctx, "sqs", "ReceiveMessage", in, sqs_received, p);
    json_object_put(in);
}

/* ---- DynamoDB Streams ---------------------------------------------------- */

static void pos_save(poller *p)
{
    static sqlite3_stmt *st;
    nb_store_call_begin();
    sqlite3_stmt *s = nb_stmt(&st, "INSERT OR REPLACE INTO lambda_esm_pos(uuid, shard, seq)"
                                   " VALUES(?, ?, ?)");
    sqlite3_bind_text(s, 1, p->m->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->shard, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, p->last_seq, -1, SQLITE_STATIC);
    sqlite3_step(s);
    nb_store_call_end(true);
}

static bool pos_load(poller *p)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT shard, seq FROM lambda_esm_pos WHERE uuid = ?");
    sqlite3_bind_text(s, 1, p->m->uuid, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(s) == SQLITE_ROW;
    if (ok) {
        snprintf(p->shard, sizeof p->shard, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(p->last_seq, sizeof p->last_seq, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_reset(s);
    return ok;
}

static void ddb_got_records(nb_call *call, nb_status st, void *arg);

static void set_iterator(poller *p, const char *it)
{
    free(p->iterator);
    p->iterator = it && *it ? nb_strdup(it) : NULL;
}

static void ddb_fetch(poller *p)
{
    json_object *in = json_object_new_object();
    json_object_object_add(in, "ShardIterator", json_object_new_string(p->iterator));
    int64_t size = cfg_int(p->m, "BatchSize", 100);
    json_object_object_add(in, "Limit", json_object_new_int(size > 1000 ? 1000 : (int)size));
    p->busy = true;
    nb_invoke(&p->ctx, "dynamodbstreams", "GetRecords", in, ddb_got_records, p);
    json_object_put(in);
}

static void ddb_got_iterator(nb_call *call, nb_status st, void *arg)
{
    poller *p = arg;
    if (p->stopping) {
        step_done(p);
        return;
    }
    const char *it = st == NB_OK ? nb_str(call->out, "ShardIterator") : NULL;
    if (!it) {
        if (st != NB_OK)
            NB_DEBUG("lambda: mapping %s: iterator: %s", p->m->uuid, call->err.message);
        p->busy = false;
        poll_in(p, 1000);
        return;
    }
    set_iterator(p, it);
    ddb_fetch(p);
}

/* An iterator from the checkpoint, or from the starting position. */
static void ddb_iterator(poller *p)
{
    json_object *in = json_object_new_object();
    json_object_object_add(in, "StreamArn",
                           json_object_new_string(cfg_str(p->m, "EventSourceArn")));
    json_object_object_add(in, "ShardId", json_object_new_string(p->shard));
    if (p->last_seq[0]) {
        json_object_object_add(in, "ShardIteratorType",
                               json_object_new_string("AFTER_SEQUENCE_NUMBER"));
        json_object_object_add(in, "SequenceNumber", json_object_new_string(p->last_seq));
    } else {
        const char *pos = cfg_str(p->m, "StartingPosition");
        json_object_object_add(
            in, "ShardIteratorType",
            json_object_new_string(!strcmp(pos, "LATEST") ? "LATEST" : "TRIM_HORIZON"));
    }
    p->busy = true;
    nb_invoke(&p->ctx, "dynamodbstreams", "GetShardIterator", in, ddb_got_iterator, p);
    json_object_put(in);
}

static void ddb_described(nb_call *call, nb_status st, void *arg)
{
    poller *p = arg;
    if (p->stopping) {
        step_done(p);
        return;
    }
    json_object *shards =
        st == NB_OK ? nb_get(nb_get(call->out, "StreamDescription"), "Shards") : NULL;
    size_t n = shards ? json_object_array_length(shards) : 0;
    const char *sid = n ? nb_str(json_object_array_get_idx(shards, n - 1), "ShardId") : NULL;
    if (!sid) {
        p->busy = false;
        poll_in(p, 1000);
        return;
    }
    snprintf(p->shard, sizeof p->shard, "%s", sid);
    ddb_iterator(p);
}

static void ddb_start(poller *p)
{
    if (pos_load(p) && p->shard[0]) {
        ddb_iterator(p);
        return;
    }
    json_object *in = json_object_new_object();
    json_object_object_add(in, "StreamArn",
                           json_object_new_string(cfg_str(p->m, "EventSourceArn")));
    p->busy = true;
    nb_invoke(&p->ctx, "dynamodbstreams", "DescribeStream", in, ddb_described, p);
    json_object_put(in);
}

static const char *rec_seq(json_object *rec)
{
    const char *s = nb_str(nb_get(rec, "dynamodb"), "SequenceNumber");
    return s ? s : "";
}

static void ddb_failure_record(poller *p, json_object *records, const lm_result *res,
                               const char *condition)
{
    const char *dest =
        nb_str(nb_get(nb_get(p->m->cfg, "DestinationConfig"), "OnFailure"), "Destination");
    if (!dest || !*dest)
        return;
    size_t n = json_object_array_length(records);
    json_object *d0 = nb_get(json_object_array_get_idx(records, 0), "dynamodb");
    json_object *d1 = nb_get(json_object_array_get_idx(records, n - 1), "dynamodb");
    json_object *o = json_object_new_object();
    json_object *rc = json_object_new_object();
    json_object_object_add(rc, "requestId", json_object_new_string(p->ctx.request_id));
    json_object_object_add(rc, "functionArn", json_object_new_string(cfg_str(p->m, "FunctionArn")));
    json_object_object_add(rc, "condition", json_object_new_string(condition));
    json_object_object_add(rc, "approximateInvokeCount", json_object_new_int(p->attempts));
    json_object_object_add(o, "requestContext", rc);
    json_object *x = json_object_new_object();
    json_object_object_add(x, "statusCode", json_object_new_int(200));
    json_object_object_add(x, "executedVersion",
                           json_object_new_string(res && res->executed_version[0]
                                                      ? res->executed_version
                                                      : "$LATEST"));
    if (res && res->kind == LM_FUNCTION_ERROR)
        json_object_object_add(x, "functionError", json_object_new_string("Unhandled"));
    json_object_object_add(o, "responseContext", x);
    char when[40];
    nb_iso8601((double)nb_now_ms() / 1000.0, when);
    json_object_object_add(o, "version", json_object_new_string("1.0"));
    json_object_object_add(o, "timestamp", json_object_new_string(when));
    json_object *bi = json_object_new_object();
    json_object_object_add(bi, "shardId", json_object_new_string(p->shard));
    json_object_object_add(bi, "startSequenceNumber",
                           json_object_new_string(nb_str(d0, "SequenceNumber")));
    json_object_object_add(bi, "endSequenceNumber",
                           json_object_new_string(nb_str(d1, "SequenceNumber")));
    nb_iso8601(json_object_get_double(nb_get(d0, "ApproximateCreationDateTime")), when);
    json_object_object_add(bi, "approximateArrivalOfFirstRecord", json_object_new_string(when));
    nb_iso8601(json_object_get_double(nb_get(d1, "ApproximateCreationDateTime")), when);
    json_object_object_add(bi, "approximateArrivalOfLastRecord", json_object_new_string(when));
    json_object_object_add(bi, "batchSize", json_object_new_int((int)n));
    json_object_object_add(bi, "streamArn",
                           json_object_new_string(cfg_str(p->m, "EventSourceArn")));
    json_object_object_add(o, "DDBStreamBatchInfo", bi);
    nb_buf text = {0};
    nb_json_write(&text, o);
    nb_buf_addc(&text, 0);
    json_object_put(o);
    lm_send_to(&p->ctx, dest, text.data);
    nb_buf_free(&text);
}

/* The first k pending records are done: drop them, move the checkpoint. */
static void ddb_handled(poller *p, size_t k)
{
    size_t n = json_object_array_length(p->pending);
    if (k > n)
        k = n;
    if (k > 0)
        snprintf(p->last_seq, sizeof p->last_seq, "%s",
                 rec_seq(json_object_array_get_idx(p->pending, k - 1)));
    json_object *rest = json_object_new_array();
    for (size_t i = k; i < n; i++)
        json_object_array_add(rest, json_object_get(json_object_array_get_idx(p->pending, i)));
    json_object_put(p->pending);
    p->pending = rest;
    if (n == k && p->fetched_last[0])
        snprintf(p->last_seq, sizeof p->last_seq, "%s", p->fetched_last);
    pos_save(p);
    p->attempts = 0;
    p->bisect = 0;
}

static void ddb_invoked(poller *p, const lm_result *res, bool throttled);

static void ddb_run_batch(poller *p)
{
    size_t n = json_object_array_length(p->pending);
    size_t take = p->bisect > 0 && (size_t)p->bisect < n ? (size_t)p->bisect : n;
    json_object *part = json_object_new_array();
    for (size_t i = 0; i < take; i++)
        json_object_array_add(part, json_object_get(json_object_array_get_idx(p->pending, i)));
    if (p->batch)
        json_object_put(p->batch);
    p->batch = part;
    p->busy = true;
    run_function(p, part, ddb_invoked);
}

static int64_t record_age_s(json_object *rec)
{
    double t =
        json_object_get_double(nb_get(nb_get(rec, "dynamodb"), "ApproximateCreationDateTime"));
    return (int64_t)((double)nb_now_ms() / 1000.0 - t);
}

static void ddb_invoked(poller *p, const lm_result *res, bool throttled)
{
    json_object *part = p->batch;
    size_t n = json_object_array_length(part);
    p->attempts++;
    if (!throttled && res->kind == LM_OK) {
        bool malformed = false;
        json_object *fails = reports_failures(p->m) ? item_failures(res, &malformed) : NULL;
        size_t handled = n;
        for (size_t i = 0; fails && i < n; i++)
            if (in_list(fails, rec_seq(json_object_array_get_idx(part, i)))) {
                handled = i; /* retry from the first failed record */
                break;
            }
        json_object_put(fails);
        if (!malformed && handled > 0) {
            set_result(p, "OK");
            ddb_handled(p, handled);
            if (step_done(p))
                poller_step(p);
            return;
        }
    }
    /* The batch failed. */
    int64_t max_retry = cfg_int(p->m, "MaximumRetryAttempts", -1);
    int64_t max_age = cfg_int(p->m, "MaximumRecordAgeInSeconds", -1);
    bool aged = max_age > 0 && record_age_s(json_object_array_get_idx(part, 0)) > max_age;
    bool exhausted = !throttled && max_retry >= 0 && p->attempts > max_retry;
    set_result(p, "PROBLEM: Function call failed");
    if (aged || exhausted) {
        ddb_failure_record(p, part, throttled ? NULL : res,
                           aged ? "RecordAgeExceeded" : "RetryAttemptsExhausted");
        ddb_handled(p, n);
        if (step_done(p))
            poller_step(p);
        return;
    }
    if (!throttled && n > 1 &&
        json_object_get_boolean(nb_get(p->m->cfg, "BisectBatchOnFunctionError")))
        p->bisect = (int)(n / 2);
    if (step_done(p))
        poll_in(p, throttled ? 1000 : 200);
}

static void ddb_got_records(nb_call *call, nb_status st, void *arg)
{
    poller *p = arg;
    if (p->stopping) {
        step_done(p);
        return;
    }
    if (st != NB_OK) {
        /* An expired or trimmed iterator: a new one from the checkpoint. */
        NB_DEBUG("lambda: mapping %s: GetRecords: %s", p->m->uuid, call->err.message);
        set_iterator(p, NULL);
        p->busy = false;
        poll_in(p, 1000);
        return;
    }
    json_object *out = call->out;
    nb_json_encode_tree(&nb_model_dynamodbstreams,
                        nb_model_op(&nb_model_dynamodbstreams, "GetRecords", 10)->output, out);
    set_iterator(p, nb_str(out, "NextShardIterator"));
    json_object *recs = nb_get(out, "Records");
    size_t n = recs ? json_object_array_length(recs) : 0;
    p->busy = false;
    if (n == 0) {
        poll_in(p, p->iterator ? DDB_IDLE_MS : 1000);
        return;
    }
    json_object_put(p->pending);
    p->pending = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_get(json_object_array_get_idx(recs, i));
        json_object_object_add(r, "eventSourceARN",
                               json_object_new_string(cfg_str(p->m, "EventSourceArn")));
        if (matches_filters(p->m, r))
            json_object_array_add(p->pending, r);
        else
            json_object_put(r);
    }
    snprintf(p->fetched_last, sizeof p->fetched_last, "%s",
             rec_seq(json_object_array_get_idx(recs, n - 1)));
    if (json_object_array_length(p->pending) == 0)
        ddb_handled(p, 0); /* all filtered out: past them */
    poller_step(p);
}

/* ---- pollers and reconciling --------------------------------------------- */

static void poller_step(poller *p)
{
    if (p->stopping || p->busy)
        return;
    if (p->m->sqs) {
        sqs_receive(p);
        return;
    }
    if (p->pending && json_object_array_length(p->pending) > 0)
        ddb_run_batch(p);
    else if (!p->shard[0])
        ddb_start(p);
    else if (!p->iterator)
        ddb_iterator(p);
    else
        ddb_fetch(p);
}

static poller *poller_new(mapping *m)
{
    poller *p = nb_calloc(1, sizeof *p);
    p->m = m;
    nb_call *c = &p->ctx;
    snprintf(c->account, sizeof c->account, "%s", nb_str(m->cfg, "Account"));
    snprintf(c->region, sizeof c->region, "%s", nb_str(m->cfg, "Region"));
    snprintf(c->access_key, sizeof c->access_key, "%s", nb_cfg.access_key);
    snprintf(c->host, sizeof c->host, "127.0.0.1:%d", nb_cfg.port);
    snprintf(c->trace_id, sizeof c->trace_id, "Root=1-%08llx-%016llx%08llx",
             (unsigned long long)(nb_now_ms() / 1000), (unsigned long long)nb_rand64(),
             (unsigned long long)(nb_rand64() & 0xffffffffu));
    nb_uuid(c->request_id);
    c->svc = nb_service_by_name("lambda", 6);
    uv_timer_init(nb_loop(), &p->timer);
    p->timer.data = p;
    p->next = m->pollers;
    m->pollers = p;
    return p;
}

static void mapping_stop(mapping *m)
{
    for (poller *p = m->pollers, *n; p; p = n) {
        n = p->next;
        p->m = NULL;
        poller_stop(p);
    }
    m->pollers = NULL;
    for (int i = 0; i < m->nfilters; i++)
        nb_pattern_free(m->filters[i]);
    json_object_put(m->cfg);
    free(m);
}

static void mapping_start(mapping *m)
{
    int n = 1;
    if (m->sqs) {
        int64_t mc = 0;
        if (nb_int(nb_get(m->cfg, "ScalingConfig"), "MaximumConcurrency", &mc) && mc > 0)
            n = mc < SQS_POLLERS ? (int)mc : SQS_POLLERS;
        else
            n = SQS_POLLERS;
    }
    for (int i = 0; i < n; i++) {
        poller *p = poller_new(m);
        poll_in(p, 0);
    }
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    for (mapping *m = g_maps; m; m = m->next)
        m->seen = false;
    json_object *all = lm_esm_all();
    for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
        json_object *c = json_object_array_get_idx(all, i);
        const char *uuid = nb_str(c, "UUID");
        const char *state = nb_str(c, "State");
        char mod[40];
        snprintf(mod, sizeof mod, "%.17g", json_object_get_double(nb_get(c, "LastModified")));
        if (!uuid || !state || strcmp(state, "Enabled") != 0)
            continue;
        mapping *m = g_maps;
        while (m && strcmp(m->uuid, uuid) != 0)
            m = m->next;
        if (m && strcmp(m->modified, mod) != 0) {
            /* Changed: restart with the new settings. */
            for (mapping **pp = &g_maps; *pp; pp = &(*pp)->next)
                if (*pp == m) {
                    *pp = m->next;
                    break;
                }
            mapping_stop(m);
            m = NULL;
        }
        if (!m) {
            m = nb_calloc(1, sizeof *m);
            snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
            snprintf(m->modified, sizeof m->modified, "%s", mod);
            m->cfg = json_object_get(c);
            m->sqs = strstr(nb_str(c, "EventSourceArn") ? nb_str(c, "EventSourceArn") : "",
                            ":sqs:") != NULL;
            json_object *fl = nb_get(nb_get(c, "FilterCriteria"), "Filters");
            for (size_t f = 0, nf = fl ? json_object_array_length(fl) : 0;
                 f < nf && m->nfilters < 8; f++) {
                const char *pat = nb_str(json_object_array_get_idx(fl, f), "Pattern");
                char err[256];
                nb_pattern *cp =
                    pat ? nb_pattern_compile(pat, strlen(pat), NB_PAT_LAMBDA, err, sizeof err)
                        : NULL;
                if (cp)
                    m->filters[m->nfilters++] = cp;
                else if (pat)
                    NB_WARN("lambda: mapping %s: filter ignored: %s", m->uuid, err);
            }
            m->next = g_maps;
            g_maps = m;
            mapping_start(m);
        }
        m->seen = true;
    }
    json_object_put(all);
    for (mapping **pp = &g_maps; *pp;) {
        mapping *m = *pp;
        if (!m->seen) {
            *pp = m->next;
            mapping_stop(m);
        } else {
            pp = &m->next;
        }
    }
}

void lm_poll_init(void)
{
    nb_exec("CREATE TABLE IF NOT EXISTS lambda_esm_pos(uuid TEXT PRIMARY KEY, "
            "shard TEXT NOT NULL,"
            " seq TEXT NOT NULL) WITHOUT ROWID;");
    nb_store_register_table("lambda_esm_pos");
    uv_timer_init(nb_loop(), &g_tick);
    uv_unref((uv_handle_t *)&g_tick);
    uv_timer_start(&g_tick, on_tick, RECONCILE_MS, RECONCILE_MS);
    g_tick_on = true;
}

static void stop_all(void)
{
    while (g_maps) {
        mapping *m = g_maps;
        g_maps = m->next;
        mapping_stop(m);
    }
}

void lm_poll_reset(void)
{
    stop_all();
}

static void on_tick_closed(uv_handle_t *h)
{
    (void)h;
}

void lm_poll_shutdown(void)
{
    stop_all();
    if (g_tick_on) {
        g_tick_on = false;
        uv_close((uv_handle_t *)&g_tick, on_tick_closed);
    }
}
