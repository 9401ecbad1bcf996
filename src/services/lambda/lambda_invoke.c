/*
 * lambda_invoke.c — the Invoke operation: synchronous (RequestResponse),
 * asynchronous (Event: the durable event queue, retries, maximum age,
 * destinations, dead-letter queue) and DryRun.
 *
 * The event queue is a table (lambda_async): an accepted Event invocation
 * is a row, committed before the 202 goes out, so it survives a restart
 * with --data-dir.  A timer runs due rows: each attempt is one lm_run.
 * Function errors are retried MaximumRetryAttempts times (default 2), one
 * minute after the first failure and two minutes after the second, as
 * AWS does; throttles are retried with backoff (1 s doubling to 5 min)
 * until the event is MaximumEventAgeInSeconds old (default 6 h).  Then
 * the OnSuccess/OnFailure destination gets AWS's invocation record, and a
 * failed event also goes to the function's dead-letter queue.  A row being
 * run is marked; after a restart marked rows run again (at least once, as
 * AWS promises).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/store.h"
#include "lambda_internal.h"

#define ASYNC_MAX (1024 * 1024)
#define ASYNC_TICK_MS 250
#define ASYNC_PARALLEL 64       /* event attempts in flight at once */

/* ---- payload checks ------------------------------------------------------ */

static bool payload_is_json(nb_call *call, const char *p, size_t n)
{
    if (n == 0)
        return true;
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, p, (int)n);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = tok->char_offset;
    if (!o && e == json_tokener_continue) {
        /* A bare number or literal ("5", "true") is complete only once
         * something follows it: end the input with a space. */
        o = json_tokener_parse_ex(tok, " ", 1);
        e = json_tokener_get_error(tok);
        used = n;
    }
    json_tokener_free(tok);
    bool ok = e == json_tokener_success; /* o is NULL for null */
    if (o)
        json_object_put(o);
    /* Only white space may follow the value. */
    for (size_t i = used; ok && i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            ok = false;
    if (!ok)
        nb_fail(call, "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json: %s",
                e != json_tokener_success ? json_tokener_error_desc(e)
                                          : "Unexpected content after the JSON value");
    return ok;
}

/* ClientContext: base64 of a JSON object, at most 3583 bytes decoded. */
static bool client_context_ok(nb_call *call, const char *cc)
{
    size_t n;
    unsigned char *d = nb_base64_decode(cc, strlen(cc), &n);
    bool ok = d && n <= 3583;
    json_object *o = d ? json_tokener_parse((const char *)d) : NULL;
    ok = ok && o && json_object_is_type(o, json_type_object);
    if (o)
        json_object_put(o);
    free(d);
    if (!ok)
        nb_fail(call, "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.");
    return ok;
}

/* The qualifier the caller named: Qualifier, or the end of a qualified
 * (partial) ARN; NULL for neither. */
static const char *invoked_qualifier(const char *fn, const char *qual)
{
    if (qual)
        return qual;
    const char *f = strstr(fn, ":function:");
    const char *last = strrchr(fn, ':');
    return f && last > f + 9 ? last + 1 : NULL;
}

lm_inv *lm_inv_sync(const nb_call *call, lm_version *v, const lm_invoke_args *a, lm_done_fn done,
                    void *arg)
{
    lm_inv *inv = lm_inv_new(call, v, invoked_qualifier(a->fn, a->qual), a->payload, a->plen,
                             done, arg);
    if (a->logtype && !strcmp(a->logtype, "Tail"))
        lm_inv_tail(inv, true);
    if (a->cc)
        lm_inv_client_context(inv, a->cc);
    return inv;
}

/* ---- synchronous --------------------------------------------------------- */

typedef struct {
    nb_call *call;      /* NULL once the client went away */
    bool in_handler;    /* done ran before the handler returned */
    bool finished;
} sync_wait;

static json_object *result_tree(const lm_result *res, int status)
{
    json_object *out = json_object_new_object();
    json_object_object_add(out, "StatusCode", json_object_new_int(status));
    if (res->kind == LM_FUNCTION_ERROR)
        json_object_object_add(out, "FunctionError", json_object_new_string("Unhandled"));
    if (res->log_tail[0])
        json_object_object_add(out, "LogResult", json_object_new_string(res->log_tail));
    json_object_object_add(out, "ExecutedVersion",
                           json_object_new_string(res->executed_version));
    json_object_object_add(out, "Payload",
                           json_object_new_string_len(res->payload.data ? res->payload.data : "",
                                                      (int)res->payload.len));
    return out;
}

static void sync_done(const lm_result *res, void *arg)
{
    sync_wait *w = arg;
    if (w->call) {
        w->call->out = result_tree(res, 200);
        w->call->on_cancel = NULL;
        w->call->park = NULL;
        if (w->in_handler) {
            w->finished = true;
            return;
        }
        nb_call_done(w->call, NB_OK);
    }
    free(w);
}

static void sync_cancel(nb_call *call)
{
    sync_wait *w = call->park;
    w->call = NULL; /* the function runs on; its result is dropped */
}

/* ---- the event queue ----------------------------------------------------- */

static uv_timer_t g_timer;
static bool g_timer_on, g_resumed;
static int g_inflight;

static void async_kick(int64_t delay_ms);

static int64_t enqueue(const nb_call *call, const lm_version *v, const char *qualifier,
                       const char *payload, size_t n, const char *request_id)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st,
        "INSERT INTO lambda_async(account, region, name, qualifier, request_id, payload,"
        " trace, attempts, due_ms, first_ms, running) VALUES(?,?,?,?,?,?,?,0,?,?,0)");
    sqlite3_bind_text(s, 1, v->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, v->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, qualifier ? qualifier : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, payload, (int)n, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, call->trace_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, call->now_ms);
    sqlite3_bind_int64(s, 9, call->now_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        return -1;
    return sqlite3_last_insert_rowid(nb_db());
}

typedef struct {
    int64_t row;
    char account[16], region[32], name[65], qualifier[130];
    char request_id[40];
    char function_arn[400];
    nb_buf payload;
    int attempts;
    int64_t first_ms;
    nb_call ctx;            /* identity for resolving and destinations */
} async_job;

static void job_free(async_job *j)
{
    nb_buf_free(&j->payload);
    free(j);
}

static void row_delete(int64_t row)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "DELETE FROM lambda_async WHERE id = ?");
    sqlite3_bind_int64(s, 1, row);
    sqlite3_step(s);
}

static void row_retry(int64_t row, int attempts, int64_t due_ms)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st,
        "UPDATE lambda_async SET attempts = ?, due_ms = ?, running = 0 WHERE id = ?");
    sqlite3_bind_int(s, 1, attempts);
    sqlite3_bind_int64(s, 2, due_ms);
    sqlite3_bind_int64(s, 3, row);
    sqlite3_step(s);
}

/* A JSON value from bytes, or the bytes as a string when they are not JSON. */
static json_object *json_or_string(const char *p, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = n ? json_tokener_parse_ex(tok, p, (int)n) : NULL;
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (ok)
        return o;
    if (o)
        json_object_put(o);
    return n ? json_object_new_string_len(p, (int)n) : NULL;
}

static void dest_done(nb_call *call, nb_status st, void *arg)
{
    (void)arg;
    if (st != NB_OK)
        NB_WARN("lambda: delivery to a destination failed: %s: %s", call->err.code,
                call->err.message);
}

/* Send text to an SQS/SNS/Lambda/EventBridge ARN through nimbus. */
static void send_to(const nb_call *ctx, const char *arn, const char *text, bool success,
                    json_object *sqs_attrs)
{
    char part[6][256];
    const char *p = arn;
    int k = 0;
    for (; k < 6 && p; k++) {
        const char *c = k < 5 ? strchr(p, ':') : NULL;
        size_t len = c ? (size_t)(c - p) : strlen(p);
        snprintf(part[k], sizeof part[k], "%.*s", (int)(len < 255 ? len : 255), p);
        p = c ? c + 1 : NULL;
    }
    if (k < 6 || strcmp(part[0], "arn")) {
        NB_WARN("lambda: destination %s is not an ARN", arn);
        if (sqs_attrs)
            json_object_put(sqs_attrs);
        return;
    }
    const char *svc = part[2];
    json_object *in = json_object_new_object();
    if (!strcmp(svc, "sqs")) {
        char url[1100];
        nb_sqs_queue_url(ctx, arn, url, sizeof url);
        json_object_object_add(in, "QueueUrl", json_object_new_string(url));
        json_object_object_add(in, "MessageBody", json_object_new_string(text));
        if (sqs_attrs) {
            json_object_object_add(in, "MessageAttributes", sqs_attrs);
            sqs_attrs = NULL;
        }
        nb_invoke(ctx, "sqs", "SendMessage", in, dest_done, NULL);
    } else if (!strcmp(svc, "sns")) {
        json_object_object_add(in, "TopicArn", json_object_new_string(arn));
        json_object_object_add(in, "Message", json_object_new_string(text));
        nb_invoke(ctx, "sns", "Publish", in, dest_done, NULL);
    } else if (!strcmp(svc, "lambda")) {
        json_object_object_add(in, "FunctionName", json_object_new_string(arn));
        json_object_object_add(in, "InvocationType", json_object_new_string("Event"));
        json_object_object_add(in, "Payload", json_object_new_string(text));
        nb_invoke(ctx, "lambda", "Invoke", in, dest_done, NULL);
    } else if (!strcmp(svc, "events")) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "Source", json_object_new_string("lambda"));
        json_object_object_add(e, "DetailType",
                               json_object_new_string(success
                                   ? "Lambda Function Invocation Result - Success"
                                   : "Lambda Function Invocation Result - Failure"));
        json_object_object_add(e, "Detail", json_object_new_string(text));
        json_object_object_add(e, "EventBusName", json_object_new_string(arn));
        json_object *entries = json_object_new_array();
        json_object_array_add(entries, e);
        json_object_object_add(in, "Entries", entries);
        nb_invoke(ctx, "events", "PutEvents", in, dest_done, NULL);
    } else {
        NB_WARN("lambda: destination %s: unsupported service %s", arn, svc);
    }
    json_object_put(in);
    if (sqs_attrs)
        json_object_put(sqs_attrs);
}

void lm_send_to(const nb_call *ctx, const char *arn, const char *text)
{
    send_to(ctx, arn, text, false, NULL);
}

/* AWS's invocation record for destinations. */
static char *record(const async_job *j, const lm_result *res, const char *condition)
{
    char ts[32];
    nb_iso8601((double)nb_now_ms() / 1000.0, ts);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "version", json_object_new_string("1.0"));
    json_object_object_add(r, "timestamp", json_object_new_string(ts));
    json_object *rc = json_object_new_object();
    json_object_object_add(rc, "requestId", json_object_new_string(j->request_id));
    json_object_object_add(rc, "functionArn", json_object_new_string(j->function_arn));
    json_object_object_add(rc, "condition", json_object_new_string(condition));
    json_object_object_add(rc, "approximateInvokeCount", json_object_new_int(j->attempts));
    json_object_object_add(r, "requestContext", rc);
    json_object *rp = json_or_string(j->payload.data, j->payload.len);
    json_object_object_add(r, "requestPayload", rp);
    if (res) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "statusCode", json_object_new_int(200));
        json_object_object_add(x, "executedVersion",
                               json_object_new_string(res->executed_version));
        if (res->kind == LM_FUNCTION_ERROR)
            json_object_object_add(x, "functionError", json_object_new_string("Unhandled"));
        json_object_object_add(r, "responseContext", x);
        json_object_object_add(r, "responsePayload",
                               json_or_string(res->payload.data, res->payload.len));
    }
    char *s = nb_strdup(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(r);
    return s;
}

static json_object *sqs_attr(const char *v)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, "DataType", json_object_new_string("String"));
    json_object_object_add(a, "StringValue", json_object_new_string(v));
    return a;
}

static void give_up(async_job *j, const lm_result *res, const char *condition,
                    const lm_event_config *cfg)
{
    if (cfg->on_failure[0]) {
        char *rec = record(j, res, condition);
        send_to(&j->ctx, cfg->on_failure, rec, false, NULL);
        free(rec);
    }
    if (cfg->dlq[0]) {
        /* The DLQ gets the event itself, with the error in attributes. */
        char text[4096] = "";
        if (res && res->payload.len)
            snprintf(text, sizeof text, "%.*s", (int)(res->payload.len < 4000 ? res->payload.len : 4000),
                     res->payload.data);
        json_object *attrs = json_object_new_object();
        json_object_object_add(attrs, "RequestID", sqs_attr(j->request_id));
        json_object_object_add(attrs, "ErrorCode", sqs_attr(res ? "200" : "429"));
        json_object_object_add(attrs, "ErrorMessage",
                               sqs_attr(text[0] ? text : condition));
        nb_buf body = {0};
        nb_buf_add(&body, j->payload.data, j->payload.len);
        nb_buf_addc(&body, 0);
        send_to(&j->ctx, cfg->dlq, body.data, false, attrs);
        nb_buf_free(&body);
    }
}

static void job_done(const lm_result *res, void *arg)
{
    async_job *j = arg;
    g_inflight--;
    lm_event_config cfg;
    lm_event_config_get(j->account, j->region, j->name, j->qualifier, &cfg);
    nb_store_call_begin();
    if (res->kind == LM_OK) {
        row_delete(j->row);
        if (cfg.on_success[0]) {
            char *rec = record(j, res, "Success");
            send_to(&j->ctx, cfg.on_success, rec, true, NULL);
            free(rec);
        }
    } else {
        int64_t now = nb_now_ms();
        int64_t next = now + (j->attempts == 1 ? 60000 : 120000);
        bool aged = next - j->first_ms > (int64_t)cfg.max_age_s * 1000;
        if (j->attempts > cfg.max_retries || aged) {
            row_delete(j->row);
            give_up(j, res, aged && j->attempts <= cfg.max_retries ? "EventAgeExceeded"
                                                                  : "RetriesExhausted", &cfg);
        } else {
            row_retry(j->row, j->attempts, next);
        }
    }
    nb_store_call_end(true);
    job_free(j);
    async_kick(0);
}

/* Start one due row; false when there was none. */
static bool start_due(void)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st,
        "SELECT id, account, region, name, qualifier, request_id, payload, trace, attempts,"
        " first_ms FROM lambda_async WHERE running = 0 AND due_ms <= ? ORDER BY due_ms LIMIT 1");
    sqlite3_bind_int64(s, 1, nb_now_ms());
    if (sqlite3_step(s) != SQLITE_ROW)
        return false;
    async_job *j = nb_calloc(1, sizeof *j);
    j->row = sqlite3_column_int64(s, 0);
    snprintf(j->account, sizeof j->account, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(j->region, sizeof j->region, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(j->name, sizeof j->name, "%s", (const char *)sqlite3_column_text(s, 3));
    snprintf(j->qualifier, sizeof j->qualifier, "%s", (const char *)sqlite3_column_text(s, 4));
    snprintf(j->request_id, sizeof j->request_id, "%s", (const char *)sqlite3_column_text(s, 5));
    nb_buf_add(&j->payload, sqlite3_column_blob(s, 6), (size_t)sqlite3_column_bytes(s, 6));
    nb_call *c = &j->ctx;
    snprintf(c->trace_id, sizeof c->trace_id, "%s", (const char *)sqlite3_column_text(s, 7));
    j->attempts = sqlite3_column_int(s, 8) + 1;
    j->first_ms = sqlite3_column_int64(s, 9);
    snprintf(c->account, sizeof c->account, "%s", j->account);
    snprintf(c->region, sizeof c->region, "%s", j->region);
    snprintf(c->access_key, sizeof c->access_key, "%s", nb_cfg.access_key);
    snprintf(c->host, sizeof c->host, "127.0.0.1:%d", nb_cfg.port);
    c->svc = nb_service_by_name("lambda", 6);
    c->now_ms = nb_now_ms();
    snprintf(c->request_id, sizeof c->request_id, "%s", j->request_id);

    nb_store_call_begin();
    static sqlite3_stmt *mk;
    sqlite3_stmt *m = nb_stmt(&mk, "UPDATE lambda_async SET running = 1 WHERE id = ?");
    sqlite3_bind_int64(m, 1, j->row);
    sqlite3_step(m);
    lm_version v;
    lm_event_config cfg;
    lm_event_config_get(j->account, j->region, j->name, j->qualifier, &cfg);
    if (nb_now_ms() - j->first_ms > (int64_t)cfg.max_age_s * 1000) {
        row_delete(j->row);
        j->attempts--;
        give_up(j, NULL, "EventAgeExceeded", &cfg);
        nb_store_call_end(true);
        job_free(j);
        return true;
    }
    if (lm_resolve(c, j->name, j->qualifier[0] ? j->qualifier : NULL, &v) != NB_OK) {
        /* The function is gone: the event is dropped, as on AWS. */
        NB_WARN("lambda: dropping event %s for %s: %s", j->request_id, j->name,
                c->err.message);
        row_delete(j->row);
        nb_store_call_end(true);
        job_free(j);
        return true;
    }
    snprintf(j->function_arn, sizeof j->function_arn, "%s:%s", v.arn,
             j->qualifier[0] ? j->qualifier : "$LATEST");
    nb_store_call_end(true);
    lm_inv *inv = lm_inv_new(c, &v, j->qualifier, j->payload.data, j->payload.len, job_done, j);
    g_inflight++;
    if (lm_run(c, inv) != NB_OK) {
        /* Throttled (or the runtime is unavailable): back off and retry. */
        g_inflight--;
        int64_t delay = 1000;
        for (int i = 1; i < j->attempts && delay < 300000; i++)
            delay *= 2;
        nb_store_call_begin();
        row_retry(j->row, j->attempts - 1 < 0 ? 0 : j->attempts - 1, nb_now_ms() + delay);
        nb_store_call_end(true);
        if (c->err.detail) {
            json_object_put(c->err.detail);
            c->err.detail = NULL;
        }
        job_free(j);
    }
    return true;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    if (!g_resumed) {
        g_resumed = true;
        nb_exec("UPDATE lambda_async SET running = 0 WHERE running = 1");
    }
    while (g_inflight < ASYNC_PARALLEL && start_due())
        ;
    /* Sleep until the next due row, if any. */
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT MIN(due_ms) FROM lambda_async WHERE running = 0");
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        int64_t d = sqlite3_column_int64(s, 0) - nb_now_ms();
        async_kick(d < ASYNC_TICK_MS ? ASYNC_TICK_MS : d);
    }
}

static void async_kick(int64_t delay_ms)
{
    if (!g_timer_on) {
        uv_timer_init(nb_loop(), &g_timer);
        uv_unref((uv_handle_t *)&g_timer);
        g_timer_on = true;
    }
    uint64_t due = uv_now(nb_loop()) + (uint64_t)(delay_ms < 0 ? 0 : delay_ms);
    if (uv_is_active((uv_handle_t *)&g_timer) && uv_timer_get_due_in(&g_timer) + uv_now(nb_loop()) <= due)
        return;
    uv_timer_start(&g_timer, on_tick, (uint64_t)(delay_ms < 0 ? 0 : delay_ms), 0);
}

void lm_async_init(void)
{
    nb_exec("CREATE TABLE IF NOT EXISTS lambda_async("
            " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,"
            " name TEXT NOT NULL, qualifier TEXT NOT NULL, request_id TEXT NOT NULL,"
            " payload BLOB NOT NULL, trace TEXT, attempts INTEGER NOT NULL,"
            " due_ms INTEGER NOT NULL, first_ms INTEGER NOT NULL, running INTEGER NOT NULL);"
            "CREATE INDEX IF NOT EXISTS lambda_async_due ON lambda_async(running, due_ms);");
    nb_store_register_table("lambda_async");
    async_kick(ASYNC_TICK_MS); /* resume a stored queue */
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void lm_async_shutdown(void)
{
    if (g_timer_on) {
        g_timer_on = false;
        uv_close((uv_handle_t *)&g_timer, on_timer_closed);
    }
}

/* ---- the operation ------------------------------------------------------- */

nb_status lm_invoke_args_read(nb_call *call, json_object *in, lm_invoke_args *a)
{
    a->fn = nb_str(in, "FunctionName");
    a->qual = nb_str(in, "Qualifier");
    const char *type = nb_str(in, "InvocationType");
    a->logtype = nb_str(in, "LogType");
    a->cc = nb_str(in, "ClientContext");
    json_object *pl = nb_get(in, "Payload");
    a->payload = pl ? json_object_get_string(pl) : "";
    a->plen = pl ? (size_t)json_object_get_string_len(pl) : 0;
    a->event = type && !strcmp(type, "Event");
    a->dry = type && !strcmp(type, "DryRun");
    size_t max = a->event ? ASYNC_MAX : LM_SYNC_PAYLOAD;
    if (a->plen > max)
        return nb_fail(call, "RequestTooLargeException",
                       "Request must be smaller than %zu bytes for the InvokeFunction operation",
                       max);
    if (!payload_is_json(call, a->payload, a->plen))
        return NB_ERROR;
    if (a->cc && !a->event && !a->dry && !client_context_ok(call, a->cc))
        return NB_ERROR;
    return NB_OK;
}

nb_status lm_op_invoke(nb_call *call, json_object *in)
{
    lm_invoke_args a;
    if (lm_invoke_args_read(call, in, &a) != NB_OK)
        return NB_ERROR;
    const char *fn = a.fn, *payload = a.payload;
    size_t plen = a.plen;
    lm_version v;
    if (lm_resolve(call, fn, a.qual, &v) != NB_OK)
        return NB_ERROR;
    if (a.dry) {
        call->out = json_object_new_object();
        json_object_object_add(call->out, "StatusCode", json_object_new_int(204));
        json_object_object_add(call->out, "ExecutedVersion", json_object_new_string(v.version));
        lm_version_clear(&v);
        return NB_OK;
    }
    if (a.event) {
        const char *q = invoked_qualifier(fn, a.qual);
        if (enqueue(call, &v, q, payload, plen, call->request_id) < 0) {
            lm_version_clear(&v);
            return nb_fail(call, "ServiceException", "nimbus could not queue the event.");
        }
        lm_version_clear(&v);
        call->out = json_object_new_object();
        json_object_object_add(call->out, "StatusCode", json_object_new_int(202));
        async_kick(0);
        return NB_OK;
    }
    sync_wait *w = nb_calloc(1, sizeof *w);
    w->call = call;
    w->in_handler = true;
    lm_inv *inv = lm_inv_sync(call, &v, &a, sync_done, w);
    call->park = w;
    call->on_cancel = sync_cancel;
    nb_status st = lm_run(call, inv);
    w->in_handler = false;
    if (st != NB_OK) {
        call->on_cancel = NULL;
        call->park = NULL;
        free(w);
        return NB_ERROR;
    }
    if (w->finished) {
        free(w);
        return NB_OK;
    }
    return NB_PENDING;
}

/* InvokeAsync (deprecated): the event queue, with its 256 KB limit. */
nb_status lm_op_invoke_async(nb_call *call, json_object *in)
{
    const char *fn = nb_str(in, "FunctionName");
    json_object *pl = nb_get(in, "InvokeArgs");
    const char *payload = pl ? json_object_get_string(pl) : "";
    size_t plen = pl ? (size_t)json_object_get_string_len(pl) : 0;
    if (plen > 256 * 1024)
        return nb_fail(call, "RequestTooLargeException",
                       "Request must be smaller than %d bytes for the InvokeAsync operation",
                       256 * 1024);
    if (!payload_is_json(call, payload, plen))
        return NB_ERROR;
    lm_version v;
    if (lm_resolve(call, fn, NULL, &v) != NB_OK)
        return NB_ERROR;
    int64_t row = enqueue(call, &v, invoked_qualifier(fn, NULL), payload, plen, call->request_id);
    lm_version_clear(&v);
    if (row < 0)
        return nb_fail(call, "ServiceException", "nimbus could not queue the event.");
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Status", json_object_new_int(202));
    async_kick(0);
    return NB_OK;
}
