/*
 * events_put.c — PutEvents, rule matching, the delivery queue and
 * schedules.
 *
 * PutEvents checks each entry (AWS's per-entry ErrorCode/ErrorMessage),
 * builds the event envelope once, and matches it against the bus's
 * enabled rules (patterns compiled once, cached by text).  Each matching
 * target gets a row in events_pending holding the exact text it will
 * receive (Input, InputPath or InputTransformer applied at match time),
 * committed with the PutEvents call.  A timer delivers due rows through
 * nb_invoke (SQS SendMessage, Lambda Invoke (Event), SNS Publish, another
 * bus's PutEvents, CloudWatch Logs PutLogEvents); a failure is retried
 * with exponential backoff within the target's RetryPolicy, and what
 * cannot be delivered (retries exhausted, or a target that does not exist,
 * which AWS does not retry) goes to the target's dead-letter queue with
 * AWS's message attributes.  Rows are the state, so a restart with
 * --data-dir resumes them.
 *
 * Schedules: an enabled rule with a ScheduleExpression has next_ms; a
 * timer fires due rules ("Scheduled Event" envelopes) and re-arms for the
 * earliest next_ms.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "core/buf.h"
#include "core/codec.h"
#include "events_input.h"
#include "events_internal.h"
#include "events_sched.h"

#define DELIVER_BATCH 256
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)

static uv_timer_t g_deliver, g_sched;
static bool g_timers_on;

/* ---- envelopes -------------------------------------------------------------------- */

static void fmt_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static json_object *envelope(const char *id, const char *dtype, const char *source,
                             const char *account, int64_t time_ms, const char *region,
                             json_object *resources, json_object *detail)
{
    char ts[32];
    fmt_time(time_ms, ts);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "version", json_object_new_string("0"));
    json_object_object_add(e, "id", json_object_new_string(id));
    json_object_object_add(e, "detail-type", json_object_new_string(dtype));
    json_object_object_add(e, "source", json_object_new_string(source));
    json_object_object_add(e, "account", json_object_new_string(account));
    json_object_object_add(e, "time", json_object_new_string(ts));
    json_object_object_add(e, "region", json_object_new_string(region));
    json_object_object_add(e, "resources", resources ? resources : json_object_new_array());
    json_object_object_add(e, "detail", detail ? detail : json_object_new_object());
    return e;
}

/* ---- the queue ---------------------------------------------------------------------- */

static void deliver_cb(uv_timer_t *t);
static void sched_cb(uv_timer_t *t);
static void arm_delivery_next(void);

static void arm_delivery(uint64_t delay_ms)
{
    if (!g_timers_on)
        return;
    if (uv_is_active((uv_handle_t *)&g_deliver) && uv_timer_get_due_in(&g_deliver) <= delay_ms)
        return;
    uv_timer_start(&g_deliver, deliver_cb, delay_ms, 0);
}

/* The text the target receives. */
static char *target_input(json_object *target, json_object *event, const char *rule_arn,
                          const char *rule_name, int64_t ingest_ms)
{
    const char *input = nb_str(target, "Input"), *path = nb_str(target, "InputPath");
    json_object *tr = nb_get(target, "InputTransformer");
    nb_buf b = {0};
    if (input) {
        nb_buf_adds(&b, input);
    } else if (path) {
        json_object *v = ev_path_eval(event, path);
        if (v)
            nb_json_write(&b, v);
        else
            nb_buf_adds(&b, "null");
        json_object_put(v);
    } else if (tr) {
        char err[256], ts[32];
        ev_transformer *x = ev_transformer_compile(nb_get(tr, "InputPathsMap"),
                                                   nb_str(tr, "InputTemplate"), nb_str(target, "Id"), err,
                                                   sizeof err);
        if (x) {
            fmt_time(ingest_ms, ts);
            ev_context ctx = {rule_arn, rule_name, ts};
            size_t n;
            char *out = ev_transformer_apply(x, event, &ctx, &n);
            nb_buf_add(&b, out, n);
            free(out);
            ev_transformer_free(x);
        }
    } else {
        nb_json_write(&b, event);
    }
    nb_buf_addc(&b, 0);
    return b.data;
}

void ev_enqueue(const nb_call *ctx, const char *rule_arn, const char *rule_name,
                json_object *target, json_object *event, int64_t ingest_ms)
{
    char *payload = target_input(target, event, rule_arn, rule_name, ingest_ms);
    nb_buf doc = {0};
    nb_json_write(&doc, target);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO events_pending(account, region, host, rule_arn, target,"
                                   " payload, event_id, attempts, due_ms, first_ms)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)");
    sqlite3_bind_text(st, 1, ctx->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ctx->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ctx->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rule_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, doc.data, (int)doc.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, payload, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, nb_str(event, "id"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, ingest_ms);
    sqlite3_bind_int64(st, 9, ingest_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        NB_WARN("events: queueing a delivery: %s", sqlite3_errmsg(nb_db()));
    sqlite3_reset(st);
    nb_buf_free(&doc);
    free(payload);
    arm_delivery(0);
}

/* Queue a delivery of event to every target of rule rule_id. */
static void queue_targets(const nb_call *ctx, int64_t rule_id, const char *rule_arn, const char *rule_name,
                          json_object *event, int64_t ingest_ms)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *t = nb_stmt(&s, "SELECT doc FROM events_targets WHERE rule_id = ? ORDER BY seq");
    sqlite3_bind_int64(t, 1, rule_id);
    json_object *docs[EV_MAX_TARGETS_PER_RULE * 2];
    size_t nd = 0;
    while (sqlite3_step(t) == SQLITE_ROW && nd < sizeof docs / sizeof docs[0])
        docs[nd++] = json_tokener_parse(ev_col(t, 0));
    sqlite3_reset(t);
    for (size_t k = 0; k < nd; k++) {
        if (docs[k])
            ev_enqueue(ctx, rule_arn, rule_name, docs[k], event, ingest_ms);
        json_object_put(docs[k]);
    }
}

/* True when rule_arn is in filter (an array of rule ARNs), or no filter. */
static bool in_filter(json_object *filter, const char *rule_arn)
{
    if (!filter)
        return true;
    for (size_t i = 0; i < json_object_array_length(filter); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(filter, i)), rule_arn))
            return true;
    return false;
}

void ev_route(const nb_call *ctx, const ev_bus *b, json_object *event, int64_t ingest_ms,
              json_object *filter)
{
    static sqlite3_stmt *s_rules;
    sqlite3_stmt *st = nb_stmt(&s_rules, "SELECT id, name, pattern FROM events_rules WHERE bus_id = ?"
                                         " AND state LIKE 'ENABLED%' AND pattern IS NOT NULL");
    sqlite3_bind_int64(st, 1, b->id);
    typedef struct {
        int64_t id;
        char *name;
    } match;
    match *m = NULL;
    size_t nm = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char err[64], arn[600];
        const nb_pattern *p = ev_pattern(ev_col(st, 2), err, sizeof err);
        if (!p || !nb_pattern_match(p, event))
            continue;
        if (filter) {
            ev_rule_arn(b, ev_col(st, 1), arn, sizeof arn);
            if (!in_filter(filter, arn))
                continue;
        }
        if (nm == cap) {
            cap = cap ? cap * 2 : 8;
            m = nb_realloc(m, cap * sizeof *m);
        }
        m[nm].id = sqlite3_column_int64(st, 0);
        m[nm++].name = nb_strdup(ev_col(st, 1));
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < nm; i++) {
        char arn[600];
        ev_rule_arn(b, m[i].name, arn, sizeof arn);
        queue_targets(ctx, m[i].id, arn, m[i].name, event, ingest_ms);
        free(m[i].name);
    }
    free(m);
}

/* ---- PutEvents ------------------------------------------------------------------------ */

static json_object *entry_error(const char *code, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ErrorCode", json_object_new_string(code));
    json_object_object_add(o, "ErrorMessage", json_object_new_string(msg));
    return o;
}

static size_t entry_size(json_object *e)
{
    size_t n = nb_get(e, "Time") ? 14 : 0;
    const char *s;
    if ((s = nb_str(e, "Source")))
        n += strlen(s);
    if ((s = nb_str(e, "DetailType")))
        n += strlen(s);
    if ((s = nb_str(e, "Detail")))
        n += strlen(s);
    json_object *r = nb_get(e, "Resources");
    for (size_t i = 0; r && i < json_object_array_length(r); i++)
        n += (size_t)json_object_get_string_len(json_object_array_get_idx(r, i));
    return n;
}

static json_object *parse_detail(const char *s)
{
    json_tokener *tok = json_tokener_new_ex(1100);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    size_t n = strlen(s);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
              json_tokener_get_parse_end(tok) == n && json_object_is_type(o, json_type_object);
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* One entry: its result object (EventId or error). */
static json_object *put_entry(nb_call *call, json_object *e, bool *failed)
{
    const char *source = nb_str(e, "Source"), *dtype = nb_str(e, "DetailType"),
               *detail = nb_str(e, "Detail"), *bus_name = nb_str(e, "EventBusName");
    *failed = true;
    if (!source)
        return entry_error("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument.");
    if (!dtype)
        return entry_error("InvalidArgument",
                           "Parameter DetailType is not valid. Reason: DetailType is a required argument.");
    if (!detail)
        return entry_error("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument.");
    json_object *d = parse_detail(detail);
    if (!d)
        return entry_error("MalformedDetail", "Detail is malformed.");
    ev_bus b;
    /* AWS accepts an event for a bus that does not exist (an EventId, no
     * failure) and drops it. */
    bool bus = ev_bus_lookup(call->account, call->region, bus_name, &b);
    json_object *tv = nb_get(e, "Time");
    int64_t t = tv ? (int64_t)(json_object_get_double(tv) * 1000) : call->now_ms;
    char id[40];
    nb_uuid(id);
    json_object *res = nb_get(e, "Resources");
    json_object *event = envelope(id, dtype, source, b.account, t, b.region,
                                  res ? json_object_get(res) : NULL, d);
    if (bus) {
        ev_archive_capture(&b, event, t);
        ev_route(call, &b, event, call->now_ms, NULL);
    }
    json_object_put(event);
    *failed = false;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "EventId", json_object_new_string(id));
    return o;
}

nb_status ev_put_events(nb_call *call, json_object *in)
{
    json_object *entries = nb_get(in, "Entries");
    size_t n = json_object_array_length(entries), total = 0;
    for (size_t i = 0; i < n; i++)
        total += entry_size(json_object_array_get_idx(entries, i));
    if (total > EV_MAX_PUT_BYTES)
        return nb_fail(call, "ValidationException", "Total size of the entries in the request is over the limit.");
    json_object *list = json_object_new_array();
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        bool f;
        json_object_array_add(list, put_entry(call, json_object_array_get_idx(entries, i), &f));
        failed += f;
    }
    call->out = json_object_new_object();
    json_object_object_add(call->out, "FailedEntryCount", json_object_new_int(failed));
    json_object_object_add(call->out, "Entries", list);
    return NB_OK;
}

/* ---- delivery ---------------------------------------------------------------------------- */

typedef struct delivery {
    int64_t row;
    nb_call ctx;             /* account, region, host for nb_invoke */
    char *rule_arn, *payload, *event_id;
    json_object *target;
    int attempts;
    int64_t first_ms;
    bool done;               /* the target call finished */
    bool ok;
    bool dlq_send;           /* the dead-letter send (result ignored) */
    char code[96], msg[512];
} delivery;

static void delivery_free(delivery *d)
{
    free(d->rule_arn);
    free(d->payload);
    free(d->event_id);
    json_object_put(d->target);
    free(d);
}

/* Errors AWS does not retry: the target does not exist. */
static bool not_retriable(const char *code)
{
    return !strcmp(code, "ResourceNotFoundException") || !strcmp(code, "QueueDoesNotExist") ||
           !strcmp(code, "AWS.SimpleQueueService.NonExistentQueue") || !strcmp(code, "NotFound") ||
           !strcmp(code, "NotFoundException") || !strcmp(code, "UnknownOperationException");
}

static void row_delete(int64_t row)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM events_pending WHERE id = ?");
    sqlite3_bind_int64(st, 1, row);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static void ignore_done(nb_call *call, nb_status st, void *arg)
{
    (void)arg;
    if (st != NB_OK)
        NB_WARN("events: an internal call (dead-letter send, log stream) failed: %s: %s", call->err.code,
                call->err.message);
}

static void add_attr(json_object *attrs, const char *name, const char *type, const char *value)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, "DataType", json_object_new_string(type));
    json_object_object_add(a, "StringValue", json_object_new_string(value));
    json_object_object_add(attrs, name, a);
}

static void send_dlq(delivery *d, const char *exhausted)
{
    const char *dlq = nb_str(nb_get(d->target, "DeadLetterConfig"), "Arn");
    if (!dlq) {
        NB_WARN("events: dropped event %s for %s: %s", d->event_id, nb_str(d->target, "Arn"), d->msg);
        return;
    }
    char url[1200], n[24];
    nb_sqs_queue_url(&d->ctx, dlq, url, sizeof url);
    json_object *in = json_object_new_object();
    json_object_object_add(in, "QueueUrl", json_object_new_string(url));
    json_object_object_add(in, "MessageBody", json_object_new_string(d->payload));
    json_object *attrs = json_object_new_object();
    add_attr(attrs, "RULE_ARN", "String", d->rule_arn);
    add_attr(attrs, "TARGET_ARN", "String", nb_str(d->target, "Arn"));
    add_attr(attrs, "ERROR_CODE", "String", d->code);
    add_attr(attrs, "ERROR_MESSAGE", "String", d->msg[0] ? d->msg : d->code);
    if (exhausted)
        add_attr(attrs, "EXHAUSTED_RETRY_CONDITION", "String", exhausted);
    snprintf(n, sizeof n, "%d", d->attempts);
    add_attr(attrs, "RETRY_ATTEMPTS", "Number", n);
    json_object_object_add(in, "MessageAttributes", attrs);
    nb_invoke(&d->ctx, "sqs", "SendMessage", in, ignore_done, NULL);
    json_object_put(in);
}

/* After the target call: delete, reschedule or dead-letter the row. */
static void settle(delivery *d)
{
    nb_store_call_begin();
    if (d->ok) {
        row_delete(d->row);
    } else {
        json_object *rp = nb_get(d->target, "RetryPolicy");
        int64_t max_retries = EV_DEFAULT_RETRIES, max_age = EV_DEFAULT_MAX_AGE_S;
        nb_int(rp, "MaximumRetryAttempts", &max_retries);
        nb_int(rp, "MaximumEventAgeInSeconds", &max_age);
        int64_t now = nb_now_ms();
        int64_t backoff = BACKOFF_BASE_MS << (d->attempts < 8 ? d->attempts : 8);
        if (backoff > BACKOFF_MAX_MS)
            backoff = BACKOFF_MAX_MS;
        backoff += (int64_t)(nb_rand64() % (uint64_t)(backoff / 2 + 1));
        const char *exhausted = NULL;
        if (d->attempts >= max_retries)
            exhausted = "MaximumRetryAttempts";
        else if (now + backoff - d->first_ms > max_age * 1000)
            exhausted = "MaximumEventAgeInSeconds";
        if (not_retriable(d->code) || exhausted) {
            row_delete(d->row);
            send_dlq(d, not_retriable(d->code) ? NULL : exhausted);
        } else {
            static sqlite3_stmt *s;
            sqlite3_stmt *st = nb_stmt(&s, "UPDATE events_pending SET attempts = ?, due_ms = ? WHERE id = ?");
            sqlite3_bind_int(st, 1, d->attempts + 1);
            sqlite3_bind_int64(st, 2, now + backoff);
            sqlite3_bind_int64(st, 3, d->row);
            sqlite3_step(st);
            sqlite3_reset(st);
            arm_delivery((uint64_t)backoff);
        }
    }
    nb_store_call_end(true);
    delivery_free(d);
}

static void target_done(nb_call *call, nb_status st, void *arg)
{
    delivery *d = arg;
    d->ok = st == NB_OK;
    if (!d->ok) {
        snprintf(d->code, sizeof d->code, "%s", call->err.code);
        snprintf(d->msg, sizeof d->msg, "%s", call->err.message);
    } else if (call->out && nb_get(call->out, "FailedEntryCount")) {
        int64_t f = 0;
        nb_int(call->out, "FailedEntryCount", &f);
        json_object *e = json_object_array_get_idx(nb_get(call->out, "Entries"), 0);
        if (f > 0) {
            d->ok = false;
            snprintf(d->code, sizeof d->code, "%s", nb_str(e, "ErrorCode") ? nb_str(e, "ErrorCode") : "");
            snprintf(d->msg, sizeof d->msg, "%s", nb_str(e, "ErrorMessage") ? nb_str(e, "ErrorMessage") : "");
        }
    }
    settle(d);
}

/* Cross-bus: the event goes to the other bus as it is. */
static json_object *bus_input(delivery *d, const char *arn)
{
    json_object *ev = json_tokener_parse(d->payload);
    if (!ev || !json_object_is_type(ev, json_type_object)) {
        json_object_put(ev);
        ev = NULL;
    }
    json_object *e = json_object_new_object();
    const char *src = ev ? nb_str(ev, "source") : NULL, *dt = ev ? nb_str(ev, "detail-type") : NULL;
    json_object_object_add(e, "Source", json_object_new_string(src ? src : "aws.events"));
    json_object_object_add(e, "DetailType", json_object_new_string(dt ? dt : "Event"));
    json_object *detail = ev ? nb_get(ev, "detail") : NULL;
    nb_buf b = {0};
    if (detail && json_object_is_type(detail, json_type_object))
        nb_json_write(&b, detail);
    else
        nb_buf_adds(&b, "{}");
    json_object_object_add(e, "Detail", json_object_new_string_len(b.data, (int)b.len));
    nb_buf_free(&b);
    json_object *res = ev ? nb_get(ev, "resources") : NULL;
    if (res && json_object_is_type(res, json_type_array))
        json_object_object_add(e, "Resources", json_object_get(res));
    json_object_object_add(e, "EventBusName", json_object_new_string(arn));
    json_object *entries = json_object_new_array();
    json_object_array_add(entries, e);
    json_object *in = json_object_new_object();
    json_object_object_add(in, "Entries", entries);
    json_object_put(ev);
    return in;
}

/* ---- API destinations ---- */

static void api_done(void *arg, bool ok, bool retry, const char *code, const char *msg)
{
    delivery *d = arg;
    d->ok = ok;
    if (!ok) {
        /* Not retried: the same code path as a missing target. */
        snprintf(d->code, sizeof d->code, "%s", retry ? code : "NotFoundException");
        snprintf(d->msg, sizeof d->msg, "%s%s%s", retry ? "" : code, retry ? "" : ": ", msg);
    }
    settle(d);
    nb_store_commit();
}

static void api_drop(void *arg)
{
    delivery_free(arg);
}

static void deliver_api(delivery *d, const char *arn)
{
    int64_t retry_at = 0;
    char err[512];
    int rc = ev_api_invoke(arn, d->target, d->payload, api_done, api_drop, d, &retry_at, err,
                           sizeof err);
    if (rc == 0)
        return;
    if (rc == 1) {
        /* Over InvocationRateLimitPerSecond: later, not an attempt. */
        static sqlite3_stmt *s;
        sqlite3_stmt *st = nb_stmt(&s, "UPDATE events_pending SET due_ms = ? WHERE id = ?");
        sqlite3_bind_int64(st, 1, retry_at);
        sqlite3_bind_int64(st, 2, d->row);
        sqlite3_step(st);
        sqlite3_reset(st);
        arm_delivery((uint64_t)(retry_at > nb_now_ms() ? retry_at - nb_now_ms() : 0));
        delivery_free(d);
        return;
    }
    snprintf(d->code, sizeof d->code, "ResourceNotFoundException");
    snprintf(d->msg, sizeof d->msg, "%s", err);
    d->ok = false;
    settle(d);
}

static void deliver(delivery *d)
{
    const char *arn = nb_str(d->target, "Arn");
    ev_arn a;
    json_object *in = json_object_new_object();
    const char *service = NULL, *op = NULL;
    const char *svc = arn && ev_arn_split(arn, &a) ? a.service : "", *res = svc[0] ? a.resource : "";
    if (!svc[0]) {
    } else if (!strcmp(svc, "events") && !strncmp(res, "api-destination/", 16)) {
        json_object_put(in);
        deliver_api(d, arn);
        return;
    } else if (!strcmp(svc, "sqs")) {
        char url[1200];
        nb_sqs_queue_url(&d->ctx, arn, url, sizeof url);
        json_object_object_add(in, "QueueUrl", json_object_new_string(url));
        json_object_object_add(in, "MessageBody", json_object_new_string(d->payload));
        const char *group = nb_str(nb_get(d->target, "SqsParameters"), "MessageGroupId");
        if (group) {
            json_object_object_add(in, "MessageGroupId", json_object_new_string(group));
            json_object_object_add(in, "MessageDeduplicationId", json_object_new_string(d->event_id));
        }
        service = "sqs", op = "SendMessage";
    } else if (!strcmp(svc, "lambda")) {
        json_object_object_add(in, "FunctionName", json_object_new_string(arn));
        json_object_object_add(in, "InvocationType", json_object_new_string("Event"));
        json_object_object_add(in, "Payload", json_object_new_string(d->payload));
        service = "lambda", op = "Invoke";
    } else if (!strcmp(svc, "sns")) {
        json_object_object_add(in, "TopicArn", json_object_new_string(arn));
        json_object_object_add(in, "Message", json_object_new_string(d->payload));
        service = "sns", op = "Publish";
    } else if (!strcmp(svc, "events") && !strncmp(res, "event-bus/", 10)) {
        json_object_put(in);
        in = bus_input(d, arn);
        service = "events", op = "PutEvents";
    } else if (!strcmp(svc, "logs") && !strncmp(res, "log-group:", 10)) {
        char group[520];
        snprintf(group, sizeof group, "%s", res + 10);
        size_t gl = strlen(group);
        if (gl >= 2 && !strcmp(group + gl - 2, ":*"))
            group[gl - 2] = 0;
        json_object *cs = json_object_new_object();
        json_object_object_add(cs, "logGroupName", json_object_new_string(group));
        json_object_object_add(cs, "logStreamName", json_object_new_string(d->event_id));
        nb_invoke(&d->ctx, "logs", "CreateLogStream", cs, ignore_done, NULL);
        json_object_put(cs);
        json_object_object_add(in, "logGroupName", json_object_new_string(group));
        json_object_object_add(in, "logStreamName", json_object_new_string(d->event_id));
        json_object *evs = json_object_new_array(), *le = json_object_new_object();
        json_object_object_add(le, "timestamp", json_object_new_int64(nb_now_ms()));
        json_object_object_add(le, "message", json_object_new_string(d->payload));
        json_object_array_add(evs, le);
        json_object_object_add(in, "logEvents", evs);
        service = "logs", op = "PutLogEvents";
    }
    if (!service) {
        json_object_put(in);
        snprintf(d->code, sizeof d->code, "ResourceNotFoundException");
        snprintf(d->msg, sizeof d->msg, "Target %s is not supported by nimbus.", arn ? arn : "");
        d->ok = false;
        settle(d);
        return;
    }
    nb_invoke(&d->ctx, service, op, in, target_done, d);
    json_object_put(in);
}

static void deliver_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nb_now_ms();
    static sqlite3_stmt *s;
    delivery *batch[DELIVER_BATCH];
    size_t n = 0;
    nb_store_call_begin();
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id, account, region, host, rule_arn, target, payload, event_id,"
                                   " attempts, first_ms FROM events_pending WHERE due_ms <= ?"
                                   " ORDER BY due_ms, id LIMIT ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, DELIVER_BATCH);
    while (sqlite3_step(st) == SQLITE_ROW) {
        delivery *d = nb_calloc(1, sizeof *d);
        d->row = sqlite3_column_int64(st, 0);
        snprintf(d->ctx.account, sizeof d->ctx.account, "%s", ev_col(st, 1));
        snprintf(d->ctx.region, sizeof d->ctx.region, "%s", ev_col(st, 2));
        snprintf(d->ctx.host, sizeof d->ctx.host, "%s", ev_col(st, 3));
        snprintf(d->ctx.access_key, sizeof d->ctx.access_key, "events");
        d->rule_arn = nb_strdup(ev_col(st, 4));
        d->target = json_tokener_parse(ev_col(st, 5));
        d->payload = nb_strdup(ev_col(st, 6));
        d->event_id = nb_strdup(ev_col(st, 7));
        d->attempts = sqlite3_column_int(st, 8);
        d->first_ms = sqlite3_column_int64(st, 9);
        /* Leave the row for later while it is being delivered. */
        batch[n++] = d;
    }
    sqlite3_reset(st);
    static sqlite3_stmt *s_push;
    for (size_t i = 0; i < n; i++) {
        /* Out of the way of the next scan until settled (a far due time). */
        sqlite3_stmt *u = nb_stmt(&s_push, "UPDATE events_pending SET due_ms = ? WHERE id = ?");
        sqlite3_bind_int64(u, 1, now + 3600000);
        sqlite3_bind_int64(u, 2, batch[i]->row);
        sqlite3_step(u);
        sqlite3_reset(u);
    }
    for (size_t i = 0; i < n; i++) {
        if (batch[i]->target)
            deliver(batch[i]);
        else {
            row_delete(batch[i]->row);
            delivery_free(batch[i]);
        }
    }
    nb_store_call_end(true);
    if (n == DELIVER_BATCH)
        arm_delivery(0);
    else
        arm_delivery_next();
}

/* ---- schedules ------------------------------------------------------------------------------ */

int64_t ev_schedule_next(const char *expr, int64_t created_ms, int64_t now_ms)
{
    ev_sched *s = ev_sched_parse(expr);
    int64_t next = s ? ev_sched_next(s, created_ms, now_ms) : -1;
    ev_sched_free(s);
    return next > 0 ? next : 0;
}

static void arm_min(uv_timer_t *t, uv_timer_cb cb, const char *sql, sqlite3_stmt **slot)
{
    if (!g_timers_on)
        return;
    sqlite3_stmt *st = nb_stmt(slot, sql);
    int64_t due = -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        due = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (due < 0) {
        uv_timer_stop(t);
        return;
    }
    int64_t delay = due - nb_now_ms();
    uv_timer_start(t, cb, delay > 0 ? (uint64_t)delay : 0, 0);
}

static void arm_delivery_next(void)
{
    static sqlite3_stmt *s;
    arm_min(&g_deliver, deliver_cb, "SELECT MIN(due_ms) FROM events_pending", &s);
}

void ev_sched_kick(void)
{
    if (g_timers_on)
        uv_timer_start(&g_sched, sched_cb, 0, 0);
}

/* Fire one scheduled rule: its targets get a "Scheduled Event". */
static void fire(int64_t rule_id, int64_t bus_id, const char *name, int64_t at_ms)
{
    static sqlite3_stmt *sb;
    sqlite3_stmt *st = nb_stmt(&sb, "SELECT account, region FROM events_buses WHERE id = ?");
    sqlite3_bind_int64(st, 1, bus_id);
    ev_bus b = {.id = bus_id};
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(b.account, sizeof b.account, "%s", ev_col(st, 0));
        snprintf(b.region, sizeof b.region, "%s", ev_col(st, 1));
        snprintf(b.name, sizeof b.name, "default");
    }
    sqlite3_reset(st);
    if (!found)
        return;
    char arn[600], id[40];
    ev_rule_arn(&b, name, arn, sizeof arn);
    nb_uuid(id);
    json_object *res = json_object_new_array();
    json_object_array_add(res, json_object_new_string(arn));
    json_object *event = envelope(id, "Scheduled Event", "aws.events", b.account, at_ms, b.region, res, NULL);
    nb_call ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.account, sizeof ctx.account, "%s", b.account);
    snprintf(ctx.region, sizeof ctx.region, "%s", b.region);
    queue_targets(&ctx, rule_id, arn, name, event, nb_now_ms());
    json_object_put(event);
}

static void sched_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nb_now_ms();
    static sqlite3_stmt *s, *su, *smin;
    nb_store_call_begin();
    typedef struct {
        int64_t id, bus, next, created;
        char *name, *expr;
    } due_rule;
    due_rule due[64];
    size_t n = 0;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id, bus_id, name, schedule, next_ms, created_ms FROM events_rules"
                                   " WHERE next_ms IS NOT NULL AND next_ms <= ? ORDER BY next_ms LIMIT 64");
    sqlite3_bind_int64(st, 1, now);
    while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
        due[n] = (due_rule){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                            sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
                            nb_strdup(ev_col(st, 2)), nb_strdup(ev_col(st, 3))};
        n++;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        fire(due[i].id, due[i].bus, due[i].name, due[i].next);
        sqlite3_stmt *u = nb_stmt(&su, "UPDATE events_rules SET next_ms = ? WHERE id = ?");
        int64_t next = ev_schedule_next(due[i].expr, due[i].created, now);
        if (next)
            sqlite3_bind_int64(u, 1, next);
        sqlite3_bind_int64(u, 2, due[i].id);
        sqlite3_step(u);
        sqlite3_reset(u);
        free(due[i].name);
        free(due[i].expr);
    }
    nb_store_call_end(true);
    arm_min(&g_sched, sched_cb, "SELECT MIN(next_ms) FROM events_rules WHERE next_ms IS NOT NULL", &smin);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int ev_put_init(void)
{
    uv_timer_init(nb_loop(), &g_deliver);
    uv_timer_init(nb_loop(), &g_sched);
    uv_unref((uv_handle_t *)&g_deliver);
    uv_unref((uv_handle_t *)&g_sched);
    g_timers_on = true;
    /* Rows leased by a delivery still in flight when the server stopped
     * (an API destination's HTTP call) are due now: a lease is an hour
     * ahead, a retry at most BACKOFF_MAX_MS and half of it in jitter. */
    static sqlite3_stmt *s_lease;
    int64_t now = nb_now_ms();
    sqlite3_stmt *st = nb_stmt(&s_lease, "UPDATE events_pending SET due_ms = ? WHERE due_ms > ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, now + 2 * BACKOFF_MAX_MS);
    sqlite3_step(st);
    sqlite3_reset(st);
    /* Resume stored deliveries and schedules (--data-dir). */
    uv_timer_start(&g_deliver, deliver_cb, 0, 0);
    uv_timer_start(&g_sched, sched_cb, 0, 0);
    return 0;
}

void ev_put_reset(void)
{
    if (g_timers_on) {
        uv_timer_stop(&g_deliver);
        uv_timer_stop(&g_sched);
    }
}

void ev_put_shutdown(void)
{
    if (!g_timers_on)
        return;
    g_timers_on = false;
    uv_timer_stop(&g_deliver);
    uv_timer_stop(&g_sched);
    uv_close((uv_handle_t *)&g_deliver, NULL);
    uv_close((uv_handle_t *)&g_sched, NULL);
}
