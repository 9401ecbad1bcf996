/*
 * sns_deliver.c — fan-out and delivery.
 *
 * sns_fanout (inside the Publish call's savepoint) matches the record
 * against each confirmed subscription's filter policy and inserts one
 * sns_deliveries row per match, so an acknowledged publish is durable with
 * its deliveries (they resume after a restart).  A zero-delay timer, started
 * by the publish, runs after the group commit: it takes due rows in order,
 * delivers each through nb_invoke (SQS SendMessage, Lambda Invoke with
 * InvocationType=Event) or into the outbox (email, email-json, sms,
 * application, and the SubscriptionConfirmation of http/https), and deletes
 * the row.  A failed delivery to SQS or Lambda is a client-side error in
 * AWS's terms (the queue or function is gone, or refuses the message): it is
 * not retried; the message goes to the subscription's RedrivePolicy
 * deadLetterTargetArn when there is one, else it is dropped (logged).
 *
 * Filter policies are compiled once per (subscription, policy text) and kept
 * in a small cache, recompiled when the text or scope changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/pattern.h"
#include "sns_internal.h"

#define TICK_ROWS 256
#define TICK_BUDGET_NS (5 * 1000 * 1000)

static uv_timer_t g_timer;
static bool g_timer_init;

/* ---- filter policy cache -------------------------------------------------- */

typedef struct fp_entry {
    struct fp_entry *next;
    char *arn, *text;
    bool body;
    nb_pattern *pat;
} fp_entry;

static fp_entry *g_fp;
static size_t g_fp_count;

static void fp_clear(void)
{
    while (g_fp) {
        fp_entry *n = g_fp->next;
        free(g_fp->arn);
        free(g_fp->text);
        nb_pattern_free(g_fp->pat);
        free(g_fp);
        g_fp = n;
    }
    g_fp_count = 0;
}

static const nb_pattern *fp_get(const char *arn, const char *text, bool body)
{
    for (fp_entry *e = g_fp; e; e = e->next)
        if (!strcmp(e->arn, arn) && e->body == body && !strcmp(e->text, text))
            return e->pat;
    if (g_fp_count >= 4096)
        fp_clear();
    fp_entry *e = nb_calloc(1, sizeof *e);
    char err[256];
    e->arn = nb_strdup(arn);
    e->text = nb_strdup(text);
    e->body = body;
    e->pat = nb_pattern_compile(text, strlen(text), body ? NB_PAT_SNS_BODY : NB_PAT_SNS_ATTRIBUTES,
                                err, sizeof err);
    e->next = g_fp;
    g_fp = e;
    g_fp_count++;
    return e->pat;
}

static bool matches(const char *sub_arn, const char *attrs_text, json_object *rec, bool *raw)
{
    json_object *attrs = json_tokener_parse(attrs_text);
    const char *policy = attrs ? nb_str(attrs, "FilterPolicy") : NULL;
    const char *rv = attrs ? nb_str(attrs, "RawMessageDelivery") : NULL;
    *raw = rv && !strcmp(rv, "true");
    bool ok = true;
    if (policy) {
        const char *scope = nb_str(attrs, "FilterPolicyScope");
        bool body = scope && !strcmp(scope, "MessageBody");
        const nb_pattern *p = fp_get(sub_arn, policy, body);
        if (!p) {
            ok = false;
        } else if (body) {
            json_object *ev = json_tokener_parse(nb_str(rec, "Message"));
            if (ev && !json_object_is_type(ev, json_type_object)) {
                json_object_put(ev);
                ev = NULL;
            }
            ok = nb_pattern_match(p, ev);
            if (ev)
                json_object_put(ev);
        } else {
            ok = nb_pattern_match(p, nb_get(rec, "MessageAttributes"));
        }
    }
    if (attrs)
        json_object_put(attrs);
    return ok;
}

/* ---- fan-out --------------------------------------------------------------- */

static json_object *note_fields(json_object *rec, const char *proto, const char **ver);

static void insert_row(const nb_call *call, const char *sub_arn, const char *text)
{
    static sqlite3_stmt *ins;
    sqlite3_stmt *s = nb_stmt(&ins, "INSERT INTO sns_deliveries(sub_arn, due_ms, account, region,"
                                    " host, rec) VALUES(?,?,?,?,?,?)");
    sqlite3_bind_text(s, 1, sub_arn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, call->now_ms);
    sqlite3_bind_text(s, 3, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, call->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, text, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}

void sns_enqueue(const nb_call *call, const char *sub_arn, json_object *rec)
{
    insert_row(call, sub_arn, json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN));
    sns_deliver_kick();
}

/* The protocol whose message a subscription's signed notification carries
 * (NULL when it gets none: raw SQS and HTTP, email, sms). */
static const char *signed_proto(const char *proto, bool raw)
{
    if (!strcmp(proto, "email") || !strcmp(proto, "sms"))
        return NULL;
    if (raw && (!strcmp(proto, "sqs") || !strcmp(proto, "http") || !strcmp(proto, "https") ||
                !strcmp(proto, "firehose")))
        return NULL;
    return proto;
}

void sns_fanout(const nb_call *call, const sns_topic *t, json_object *rec)
{
    static sqlite3_stmt *sel;
    const char *text = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);
    sqlite3_stmt *s = nb_stmt(&sel, "SELECT arn, attrs, protocol FROM sns_subs WHERE topic_arn = ?"
                                    " AND pending = 0 ORDER BY id");
    sqlite3_bind_text(s, 1, t->arn, -1, SQLITE_STATIC);
    /* Collect first: the inserts must not interleave with the scan. */
    json_object *arns = json_object_new_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *arn = (const char *)sqlite3_column_text(s, 0);
        bool raw;
        if (!matches(arn, (const char *)sqlite3_column_text(s, 1), rec, &raw))
            continue;
        json_object_array_add(arns, json_object_new_string(arn));
        /* The signature is made on the threadpool while the publish
         * commits; the delivery waits for it (sns_sign_waiting). */
        const char *proto = signed_proto((const char *)sqlite3_column_text(s, 2), raw);
        if (proto) {
            const char *ver;
            json_object *f = note_fields(rec, proto, &ver);
            sns_sign_ahead(f, "Notification", ver);
            json_object_put(f);
        }
    }
    sqlite3_reset(s);
    for (size_t i = 0; i < json_object_array_length(arns); i++)
        insert_row(call, json_object_get_string(json_object_array_get_idx(arns, i)), text);
    if (json_object_array_length(arns))
        sns_deliver_kick();
    json_object_put(arns);
}

void sns_outbox_add(const char *account, const char *region, const char *kind, const char *target,
                    json_object *rec)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "INSERT INTO sns_outbox(account, region, kind, target, rec)"
                                   " VALUES(?,?,?,?,?)");
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_reset(s);
}

/* ---- what is delivered ------------------------------------------------------- */

/* The text for a protocol: with MessageStructure=json its own entry, else
 * the default. */
const char *sns_message_for(json_object *rec, const char *proto)
{
    json_object *per = nb_get(rec, "Messages");
    const char *m = per ? nb_str(per, proto) : NULL;
    return m ? m : nb_str(rec, "Message");
}

static void put_field(nb_buf *b, const char *k, const char *v, bool *first)
{
    nb_buf_adds(b, *first ? "{\n  " : ",\n  ");
    *first = false;
    nb_json_write_string(b, k, strlen(k));
    nb_buf_adds(b, " : ");
    nb_json_write_string(b, v, strlen(v));
}

/* The JSON notification as AWS delivers it to SQS, HTTP and email-json. */
/* What a notification's signature covers (with the protocol's message),
 * the signature and the URLs that go with it. */
typedef struct signed_note {
    json_object *f;
    const char *ver;
    char *sig;
    char cert[600], unsub[3 * SNS_ARN_MAX + 100];
} signed_note;

static json_object *note_fields(json_object *rec, const char *proto, const char **ver)
{
    *ver = nb_str(rec, "SignatureVersion");
    if (!*ver)
        *ver = "1";
    json_object *f = json_object_new_object();
    json_object_object_add(f, "Type", json_object_new_string("Notification"));
    json_object_object_add(f, "MessageId", json_object_get(nb_get(rec, "MessageId")));
    json_object_object_add(f, "TopicArn", json_object_get(nb_get(rec, "TopicArn")));
    if (nb_get(rec, "Subject"))
        json_object_object_add(f, "Subject", json_object_get(nb_get(rec, "Subject")));
    json_object_object_add(f, "Message", json_object_new_string(sns_message_for(rec, proto)));
    json_object_object_add(f, "Timestamp", json_object_get(nb_get(rec, "Timestamp")));
    return f;
}

static void note_sign(const nb_call *ctx, json_object *rec, const sns_sub *sub, const char *proto,
                      signed_note *n)
{
    n->f = note_fields(rec, proto, &n->ver);
    n->sig = sns_sign(n->f, "Notification", n->ver);
    sns_cert_url(ctx->host, ctx->region, n->cert, sizeof n->cert);
    sns_unsubscribe_url(ctx->host, ctx->region, sub->arn, n->unsub, sizeof n->unsub);
}

static void note_free(signed_note *n)
{
    free(n->sig);
    json_object_put(n->f);
}

char *sns_envelope(const nb_call *ctx, json_object *rec, const sns_sub *sub)
{
    signed_note n;
    note_sign(ctx, rec, sub, sub->protocol, &n);

    nb_buf b = {0};
    bool first = true;
    put_field(&b, "Type", "Notification", &first);
    put_field(&b, "MessageId", nb_str(rec, "MessageId"), &first);
    if (nb_get(rec, "SequenceNumber"))
        put_field(&b, "SequenceNumber", nb_str(rec, "SequenceNumber"), &first);
    put_field(&b, "TopicArn", nb_str(rec, "TopicArn"), &first);
    if (nb_get(rec, "Subject"))
        put_field(&b, "Subject", nb_str(rec, "Subject"), &first);
    put_field(&b, "Message", nb_str(n.f, "Message"), &first);
    put_field(&b, "Timestamp", nb_str(rec, "Timestamp"), &first);
    put_field(&b, "SignatureVersion", n.ver, &first);
    put_field(&b, "Signature", n.sig ? n.sig : "", &first);
    put_field(&b, "SigningCertURL", n.cert, &first);
    put_field(&b, "UnsubscribeURL", n.unsub, &first);
    json_object *attrs = nb_get(rec, "MessageAttributes");
    if (attrs && json_object_object_length(attrs)) {
        nb_buf_adds(&b, ",\n  \"MessageAttributes\" : {");
        bool a1 = true;
        json_object_object_foreach(attrs, k, v)
        {
            nb_buf_adds(&b, a1 ? "\n    " : ",\n    ");
            a1 = false;
            nb_json_write_string(&b, k, strlen(k));
            nb_buf_adds(&b, " : {\"Type\":");
            const char *ty = nb_str(v, "Type"), *va = nb_str(v, "Value");
            nb_json_write_string(&b, ty, strlen(ty));
            nb_buf_adds(&b, ",\"Value\":");
            nb_json_write_string(&b, va, strlen(va));
            nb_buf_addc(&b, '}');
        }
        nb_buf_adds(&b, "\n  }");
    }
    nb_buf_adds(&b, "\n}");
    note_free(&n);
    char *out = nb_strndup(b.data, b.len);
    nb_buf_free(&b);
    return out;
}

char *sns_confirmation_envelope(const nb_call *ctx, json_object *rec)
{
    const char *ver = nb_str(rec, "SignatureVersion");
    if (!ver)
        ver = "1";
    char url[3 * SNS_ARN_MAX + 400], cert[600];
    sns_subscribe_url(ctx->host, nb_str(rec, "TopicArn"), nb_str(rec, "Token"), url, sizeof url);
    sns_cert_url(ctx->host, ctx->region, cert, sizeof cert);
    json_object *f = json_object_new_object();
    static const char *const keys[] = {"MessageId", "Token", "TopicArn", "Message", "Timestamp",
                                       NULL};
    for (int i = 0; keys[i]; i++)
        json_object_object_add(f, keys[i], json_object_get(nb_get(rec, keys[i])));
    json_object_object_add(f, "SubscribeURL", json_object_new_string(url));
    char *sig = sns_sign(f, "SubscriptionConfirmation", ver);
    nb_buf b = {0};
    bool first = true;
    put_field(&b, "Type", "SubscriptionConfirmation", &first);
    static const char *const order[] = {"MessageId", "Token", "TopicArn", "Message", "SubscribeURL",
                                        "Timestamp", NULL};
    for (int i = 0; order[i]; i++) {
        const char *v = nb_str(f, order[i]);
        put_field(&b, order[i], v ? v : "", &first);
    }
    put_field(&b, "SignatureVersion", ver, &first);
    put_field(&b, "Signature", sig ? sig : "", &first);
    put_field(&b, "SigningCertURL", cert, &first);
    nb_buf_adds(&b, "\n}");
    free(sig);
    json_object_put(f);
    char *out = nb_strndup(b.data, b.len);
    nb_buf_free(&b);
    return out;
}

/* The event Lambda receives (AWS's "Records" form). */
static char *lambda_event(const nb_call *ctx, json_object *rec, const sns_sub *sub)
{
    signed_note n;
    note_sign(ctx, rec, sub, "lambda", &n);

    json_object *sns = json_object_new_object();
    json_object_object_add(sns, "Type", json_object_new_string("Notification"));
    json_object_object_add(sns, "MessageId", json_object_get(nb_get(rec, "MessageId")));
    if (nb_get(rec, "SequenceNumber"))
        json_object_object_add(sns, "SequenceNumber", json_object_get(nb_get(rec, "SequenceNumber")));
    json_object_object_add(sns, "TopicArn", json_object_get(nb_get(rec, "TopicArn")));
    json_object *subj = nb_get(rec, "Subject");
    json_object_object_add(sns, "Subject", subj ? json_object_get(subj) : NULL);
    json_object_object_add(sns, "Message", json_object_get(nb_get(n.f, "Message")));
    json_object_object_add(sns, "Timestamp", json_object_get(nb_get(rec, "Timestamp")));
    json_object_object_add(sns, "SignatureVersion", json_object_new_string(n.ver));
    json_object_object_add(sns, "Signature", json_object_new_string(n.sig ? n.sig : ""));
    json_object_object_add(sns, "SigningCertUrl", json_object_new_string(n.cert));
    json_object_object_add(sns, "UnsubscribeUrl", json_object_new_string(n.unsub));
    json_object *attrs = nb_get(rec, "MessageAttributes");
    json_object_object_add(sns, "MessageAttributes",
                           attrs ? json_object_get(attrs) : json_object_new_object());
    json_object *r = json_object_new_object();
    json_object_object_add(r, "EventSource", json_object_new_string("aws:sns"));
    json_object_object_add(r, "EventVersion", json_object_new_string("1.0"));
    json_object_object_add(r, "EventSubscriptionArn", json_object_new_string(sub->arn));
    json_object_object_add(r, "Sns", sns);
    json_object *records = json_object_new_array(), *ev = json_object_new_object();
    json_object_array_add(records, r);
    json_object_object_add(ev, "Records", records);
    char *out = nb_strdup(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(ev);
    note_free(&n);
    return out;
}

/* Notification attributes as SQS message attributes (raw delivery). */
static json_object *sqs_attributes(json_object *rec)
{
    json_object *attrs = nb_get(rec, "MessageAttributes");
    if (!attrs || !json_object_object_length(attrs))
        return NULL;
    json_object *out = json_object_new_object();
    json_object_object_foreach(attrs, k, v)
    {
        const char *ty = nb_str(v, "Type"), *va = nb_str(v, "Value");
        json_object *a = json_object_new_object();
        json_object_object_add(a, "DataType", json_object_new_string(ty));
        if (!strncmp(ty, "Binary", 6)) {
            size_t n;
            unsigned char *raw = nb_base64_decode(va, strlen(va), &n);
            json_object_object_add(a, "BinaryValue",
                                   json_object_new_string_len(raw ? (const char *)raw : "",
                                                              raw ? (int)n : 0));
            free(raw);
        } else {
            json_object_object_add(a, "StringValue", json_object_new_string(va));
        }
        json_object_object_add(out, k, a);
    }
    return out;
}

/* ---- delivery ------------------------------------------------------------------ */

typedef struct outcome {
    bool ok;
    char code[96], message[512];
} outcome;

static void invoked(nb_call *call, nb_status st, void *arg)
{
    outcome *o = arg;
    o->ok = st == NB_OK;
    if (!o->ok) {
        snprintf(o->code, sizeof o->code, "%s", call->err.code);
        snprintf(o->message, sizeof o->message, "%s", call->err.message);
    }
}

static bool send_sqs(const nb_call *ctx, const char *queue_arn, const char *body, json_object *rec,
                     bool raw, outcome *o)
{
    char url[SNS_ARN_MAX + 300];
    nb_sqs_queue_url(ctx, queue_arn, url, sizeof url);
    json_object *in = json_object_new_object();
    json_object_object_add(in, "QueueUrl", json_object_new_string(url));
    json_object_object_add(in, "MessageBody", json_object_new_string(body));
    json_object *attrs = raw ? sqs_attributes(rec) : NULL;
    if (attrs)
        json_object_object_add(in, "MessageAttributes", attrs);
    json_object *g = nb_get(rec, "MessageGroupId"), *d = nb_get(rec, "MessageDeduplicationId");
    size_t alen = strlen(queue_arn);
    bool fifo_queue = alen > 5 && !strcmp(queue_arn + alen - 5, ".fifo");
    if (g)
        json_object_object_add(in, "MessageGroupId", json_object_get(g));
    if (d && fifo_queue)
        json_object_object_add(in, "MessageDeduplicationId", json_object_get(d));
    memset(o, 0, sizeof *o);
    nb_invoke(ctx, "sqs", "SendMessage", in, invoked, o);
    json_object_put(in);
    return o->ok;
}

static bool deliver(const nb_call *ctx, const sns_sub *sub, json_object *rec, outcome *o)
{
    const char *rv = sns_sub_attr(sub, "RawMessageDelivery");
    bool raw = rv && !strcmp(rv, "true");
    memset(o, 0, sizeof *o);
    o->ok = true;
    if (!strcmp(sub->protocol, "sqs")) {
        char *body = raw ? nb_strdup(sns_message_for(rec, "sqs")) : sns_envelope(ctx, rec, sub);
        send_sqs(ctx, sub->endpoint, body, rec, raw, o);
        free(body);
    } else if (!strcmp(sub->protocol, "lambda")) {
        char *ev = lambda_event(ctx, rec, sub);
        json_object *in = json_object_new_object();
        json_object_object_add(in, "FunctionName", json_object_new_string(sub->endpoint));
        json_object_object_add(in, "InvocationType", json_object_new_string("Event"));
        json_object_object_add(in, "Payload", json_object_new_string(ev));
        nb_invoke(ctx, "lambda", "Invoke", in, invoked, o);
        json_object_put(in);
        free(ev);
    } else {
        /* email, email-json, sms, application, http(s), firehose: the outbox. */
        json_object *copy = json_object_new_object();
        json_object_object_foreach(rec, k, v)
        {
            if (strcmp(k, "Messages"))
                json_object_object_add(copy, k, json_object_get(v));
        }
        json_object_object_add(copy, "Message",
                               json_object_new_string(sns_message_for(rec, sub->protocol)));
        json_object_object_add(copy, "SubscriptionArn", json_object_new_string(sub->arn));
        if (strcmp(sub->protocol, "email") && strcmp(sub->protocol, "sms")) {
            char *env = sns_envelope(ctx, rec, sub);
            json_object_object_add(copy, "Envelope", json_object_new_string(env));
            free(env);
        }
        sns_outbox_add(ctx->account, ctx->region, sub->protocol, sub->endpoint, copy);
        json_object_put(copy);
    }
    return o->ok;
}

/* A failed delivery: to the dead-letter queue when the subscription has one. */
void sns_dead_letter(const nb_call *ctx, const sns_sub *sub, json_object *rec, const char *code,
                     const char *message)
{
    const char *rp = sns_sub_attr(sub, "RedrivePolicy");
    json_object *pol = rp ? json_tokener_parse(rp) : NULL;
    const char *dlq = pol ? nb_str(pol, "deadLetterTargetArn") : NULL;
    if (!dlq) {
        NB_WARN("sns: delivery to %s (%s) failed: %s: %s; dropped", sub->endpoint, sub->arn,
                code, message);
    } else {
        const char *rv = sns_sub_attr(sub, "RawMessageDelivery");
        bool raw = rv && !strcmp(rv, "true");
        char *body = raw ? nb_strdup(sns_message_for(rec, sub->protocol)) : sns_envelope(ctx, rec, sub);
        outcome d;
        if (!send_sqs(ctx, dlq, body, rec, raw, &d))
            NB_WARN("sns: dead-letter queue %s refused a message: %s: %s", dlq, d.code, d.message);
        free(body);
    }
    if (pol)
        json_object_put(pol);
}

void sns_delivery_done(int64_t id)
{
    static sqlite3_stmt *del;
    nb_store_call_begin();
    sqlite3_stmt *s = nb_stmt(&del, "DELETE FROM sns_deliveries WHERE id = ?");
    sqlite3_bind_int64(s, 1, id);
    sqlite3_step(s);
    sqlite3_reset(s);
    nb_store_call_end(true);
}

void sns_delivery_later(int64_t id, int64_t due_ms, int attempts)
{
    static sqlite3_stmt *upd;
    nb_store_call_begin();
    sqlite3_stmt *s = nb_stmt(&upd, "UPDATE sns_deliveries SET due_ms = ?, attempts = ? WHERE id = ?");
    sqlite3_bind_int64(s, 1, due_ms);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_int64(s, 3, id);
    sqlite3_step(s);
    sqlite3_reset(s);
    nb_store_call_end(true);
}

/* True when the row's signature is still being made on the threadpool. */
static bool must_wait(json_object *rec, const sns_sub *sub)
{
    const char *rv = sns_sub_attr(sub, "RawMessageDelivery");
    const char *proto = signed_proto(sub->protocol, rv && !strcmp(rv, "true"));
    if (!proto || !strcmp(nb_str(rec, "Type") ? nb_str(rec, "Type") : "", "SubscriptionConfirmation"))
        return false;
    const char *ver;
    json_object *f = note_fields(rec, proto, &ver);
    bool w = sns_sign_waiting(f, "Notification", ver);
    json_object_put(f);
    return w;
}

/* What one tick has loaded: the rows of one message to its subscriptions
 * follow each other, so the last record parsed and the subscriptions seen
 * are kept for the tick (nothing a delivery does changes them).  Rows
 * finished synchronously are deleted together at the end. */
#define TICK_SUBS 16

typedef struct tick_cache {
    const char *rec_text;      /* the rows' text, alive for the tick */
    json_object *rec;
    sns_sub subs[TICK_SUBS];
    bool missing[TICK_SUBS];   /* looked up, no such subscription */
    size_t n_subs;
    int64_t *done;
    size_t n_done;
} tick_cache;

static json_object *cached_rec(tick_cache *c, const char *text)
{
    if (c->rec_text && !strcmp(c->rec_text, text))
        return c->rec;
    if (c->rec)
        json_object_put(c->rec);
    c->rec = json_tokener_parse(text);
    c->rec_text = text;
    return c->rec;
}

static const sns_sub *cached_sub(tick_cache *c, const char *arn)
{
    for (size_t i = 0; i < c->n_subs; i++)
        if (!strcmp(c->subs[i].arn, arn))
            return c->missing[i] ? NULL : &c->subs[i];
    if (c->n_subs == TICK_SUBS) {
        for (size_t i = 0; i < c->n_subs; i++)
            if (!c->missing[i])
                sns_sub_free(&c->subs[i]);
        c->n_subs = 0;
    }
    size_t i = c->n_subs++;
    c->missing[i] = !sns_sub_load(arn, &c->subs[i]);
    if (c->missing[i])
        snprintf(c->subs[i].arn, sizeof c->subs[i].arn, "%s", arn);
    return c->missing[i] ? NULL : &c->subs[i];
}

static void cache_finish(tick_cache *c)
{
    if (c->n_done) {
        static sqlite3_stmt *del;
        nb_store_call_begin();
        sqlite3_stmt *s = nb_stmt(&del, "DELETE FROM sns_deliveries WHERE id = ?");
        for (size_t i = 0; i < c->n_done; i++) {
            sqlite3_bind_int64(s, 1, c->done[i]);
            sqlite3_step(s);
            sqlite3_reset(s);
        }
        nb_store_call_end(true);
    }
    free(c->done);
    for (size_t i = 0; i < c->n_subs; i++)
        if (!c->missing[i])
            sns_sub_free(&c->subs[i]);
    if (c->rec)
        json_object_put(c->rec);
}

/* Delivers one row; false (nothing done) when it waits for its signature. */
static bool run_row(tick_cache *c, int64_t id, const char *sub_arn, const nb_call *ctx,
                    const char *rec_text, int attempts)
{
    json_object *rec = cached_rec(c, rec_text);
    const sns_sub *sub = rec ? cached_sub(c, sub_arn) : NULL;
    bool async = false;
    if (sub) {
        outcome o;
        if (must_wait(rec, sub))
            return false;
        if (!strcmp(sub->protocol, "http") || !strcmp(sub->protocol, "https"))
            async = sns_http_deliver(ctx, id, sub, rec, attempts);
        else if (!deliver(ctx, sub, rec, &o))
            sns_dead_letter(ctx, sub, rec, o.code, o.message);
    }
    if (!async) {
        c->done = nb_realloc(c->done, (c->n_done + 1) * sizeof *c->done);
        c->done[c->n_done++] = id;
    }
    return true;
}

static void timer_ready(void)
{
    if (!g_timer_init) {
        uv_timer_init(nb_loop(), &g_timer);
        g_timer_init = true;
    }
}

typedef struct row {
    int64_t id;
    int attempts;
    char *sub_arn, *rec;
    nb_call ctx;
} row;

static void tick(uv_timer_t *t)
{
    (void)t;
    static sqlite3_stmt *sel;
    int64_t now = nb_now_ms();
    sqlite3_stmt *s = nb_stmt(&sel, "SELECT id, sub_arn, account, region, host, rec, attempts FROM"
                                    " sns_deliveries WHERE due_ms <= ? ORDER BY due_ms, id LIMIT ?");
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, TICK_ROWS);
    row *rows = NULL;
    size_t n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        rows = nb_realloc(rows, (n + 1) * sizeof *rows);
        row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(s, 0);
        r->sub_arn = nb_strdup((const char *)sqlite3_column_text(s, 1));
        snprintf(r->ctx.account, sizeof r->ctx.account, "%s", (const char *)sqlite3_column_text(s, 2));
        snprintf(r->ctx.region, sizeof r->ctx.region, "%s", (const char *)sqlite3_column_text(s, 3));
        snprintf(r->ctx.host, sizeof r->ctx.host, "%s", (const char *)sqlite3_column_text(s, 4));
        snprintf(r->ctx.access_key, sizeof r->ctx.access_key, "%s", r->ctx.account);
        r->rec = nb_strdup((const char *)sqlite3_column_text(s, 5));
        r->attempts = sqlite3_column_int(s, 6);
    }
    sqlite3_reset(s);
    /* At most TICK_BUDGET_NS of deliveries per loop iteration, so requests
     * keep being served while a backlog drains; the rest stay due. */
    uint64_t t0 = uv_hrtime();
    bool more = n == TICK_ROWS, stop = false, waiting = false;
    tick_cache c = {0};
    for (size_t i = 0; i < n; i++) {
        if (!stop && uv_hrtime() - t0 >= TICK_BUDGET_NS)
            stop = more = true;
        /* A row whose signature is still on the threadpool stops the tick,
         * keeping delivery order; the signature's completion kicks it. */
        if (!stop && !run_row(&c, rows[i].id, rows[i].sub_arn, &rows[i].ctx, rows[i].rec,
                              rows[i].attempts))
            stop = waiting = true;
    }
    cache_finish(&c);
    for (size_t i = 0; i < n; i++) {
        free(rows[i].sub_arn);
        free(rows[i].rec);
    }
    free(rows);
    nb_store_commit();
    if (waiting)
        return;
    if (more) {
        /* Not 0 ms: a timer re-armed at 0 from its own callback runs again
         * in the same timers phase (libuv 1.44), starving the I/O phase. */
        timer_ready();
        uv_timer_start(&g_timer, tick, 1, 0);
        return;
    }
    /* Retries wait in the table: wake up for the next one. */
    static sqlite3_stmt *next;
    s = nb_stmt(&next, "SELECT min(due_ms) FROM sns_deliveries");
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        sns_deliver_at(sqlite3_column_int64(s, 0));
    sqlite3_reset(s);
}


void sns_deliver_kick(void)
{
    timer_ready();
    if (!uv_is_active((uv_handle_t *)&g_timer) || uv_timer_get_due_in(&g_timer) > 0)
        uv_timer_start(&g_timer, tick, 0, 0);
}

void sns_deliver_at(int64_t due_ms)
{
    timer_ready();
    int64_t delay = due_ms - nb_now_ms();
    uint64_t d = delay > 0 ? (uint64_t)delay : 0;
    if (!uv_is_active((uv_handle_t *)&g_timer) || uv_timer_get_due_in(&g_timer) > d)
        uv_timer_start(&g_timer, tick, d, 0);
}

int sns_deliver_init(void)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT 1 FROM sns_deliveries LIMIT 1");
    bool pending = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    if (pending)
        sns_deliver_kick(); /* due rows now, later ones from there */
    return 0;
}

void sns_deliver_reset(void)
{
    fp_clear();
}

void sns_deliver_shutdown(void)
{
    fp_clear();
    sns_http_shutdown();
    if (g_timer_init) {
        uv_timer_stop(&g_timer);
        uv_close((uv_handle_t *)&g_timer, NULL);
        g_timer_init = false;
    }
}
