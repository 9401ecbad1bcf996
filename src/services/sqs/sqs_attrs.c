/*
 * sqs_attrs.c — queue attributes: defaults, validation, rendering.
 *
 * One table (ATTRS) describes every queue attribute of the model: its kind,
 * its range and whether it is FIFO-only, settable only at creation, or
 * read-only.  sqs_attrs_apply() validates a whole Attributes map before it
 * changes anything (names first, then values, then cross-attribute rules)
 * and writes into the queue it is given, which callers pass as a scratch
 * copy; sqs_attrs_render() produces GetQueueAttributes output.  Texts of
 * errors follow AWS: InvalidAttributeName "Unknown Attribute X.",
 * InvalidAttributeValue "Invalid value for the parameter X.", and
 * InvalidParameterValue "Value V for parameter P is invalid. Reason: R"
 * for redrive policies.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqs_internal.h"

enum kind {
    K_INT,        /* integer field at offset */
    K_BOOL,       /* bool field at offset */
    K_POLICY,
    K_REDRIVE,
    K_ALLOW,
    K_KMS,
    K_SSE,
    K_SCOPE,
    K_TPUT,
    K_FIFOQ,
    K_RO,         /* read-only (computed) */
};

#define F_FIFO 0x1u     /* FIFO queues only */
#define F_CREATE 0x2u   /* settable only by CreateQueue */

typedef struct attr_def {
    const char *name;
    enum kind kind;
    size_t off;
    int lo, hi;
    unsigned flags;
} attr_def;

#define OFF(f) offsetof(sqs_queue, f)

static const attr_def ATTRS[] = {
    {"QueueArn", K_RO, 0, 0, 0, 0},
    {"ApproximateNumberOfMessages", K_RO, 0, 0, 0, 0},
    {"ApproximateNumberOfMessagesNotVisible", K_RO, 0, 0, 0, 0},
    {"ApproximateNumberOfMessagesDelayed", K_RO, 0, 0, 0, 0},
    {"CreatedTimestamp", K_RO, 0, 0, 0, 0},
    {"LastModifiedTimestamp", K_RO, 0, 0, 0, 0},
    {"VisibilityTimeout", K_INT, OFF(visibility), 0, SQS_MAX_VISIBILITY, 0},
    {"MaximumMessageSize", K_INT, OFF(max_size), 1024, SQS_MAX_MESSAGE_BYTES, 0},
    {"MessageRetentionPeriod", K_INT, OFF(retention), 60, 1209600, 0},
    {"DelaySeconds", K_INT, OFF(delay), 0, SQS_MAX_DELAY, 0},
    {"ReceiveMessageWaitTimeSeconds", K_INT, OFF(wait), 0, SQS_MAX_WAIT, 0},
    {"Policy", K_POLICY, 0, 0, 0, 0},
    {"RedrivePolicy", K_REDRIVE, 0, 0, 0, 0},
    {"RedriveAllowPolicy", K_ALLOW, 0, 0, 0, 0},
    {"KmsMasterKeyId", K_KMS, 0, 0, 0, 0},
    {"KmsDataKeyReusePeriodSeconds", K_INT, OFF(kms_reuse), 60, 86400, 0},
    {"SqsManagedSseEnabled", K_SSE, 0, 0, 0, 0},
    {"FifoQueue", K_FIFOQ, 0, 0, 0, F_FIFO | F_CREATE},
    {"ContentBasedDeduplication", K_BOOL, OFF(cbd), 0, 0, F_FIFO},
    {"DeduplicationScope", K_SCOPE, 0, 0, 0, F_FIFO},
    {"FifoThroughputLimit", K_TPUT, 0, 0, 0, F_FIFO},
};
#define NATTRS (sizeof ATTRS / sizeof ATTRS[0])

static const attr_def *attr_find(const char *name)
{
    for (size_t i = 0; i < NATTRS; i++)
        if (!strcmp(ATTRS[i].name, name))
            return &ATTRS[i];
    return NULL;
}

void sqs_attrs_defaults(sqs_queue *q)
{
    q->delay = 0;
    q->max_size = SQS_MAX_MESSAGE_BYTES;
    q->retention = 345600;
    q->wait = 0;
    q->visibility = 30;
    q->kms_reuse = 300;
    q->sse = true;
}

void sqs_queue_free_attrs(sqs_queue *q)
{
    free(q->policy);
    free(q->redrive);
    free(q->dlq_arn);
    free(q->redrive_allow);
    free(q->kms_key);
    q->policy = q->redrive = q->dlq_arn = q->redrive_allow = q->kms_key = NULL;
}

void sqs_queue_copy(sqs_queue *dst, const sqs_queue *src)
{
    memcpy(dst, src, sizeof *dst);
    memset(&dst->rt, 0, sizeof dst->rt);
    dst->policy = src->policy ? nb_strdup(src->policy) : NULL;
    dst->redrive = src->redrive ? nb_strdup(src->redrive) : NULL;
    dst->dlq_arn = src->dlq_arn ? nb_strdup(src->dlq_arn) : NULL;
    dst->redrive_allow = src->redrive_allow ? nb_strdup(src->redrive_allow) : NULL;
    dst->kms_key = src->kms_key ? nb_strdup(src->kms_key) : NULL;
}

void sqs_queue_commit(sqs_queue *q, sqs_queue *scratch)
{
    sqs_queue_rt rt = q->rt;
    sqs_queue_free_attrs(q);
    memcpy(q, scratch, sizeof *q);
    q->rt = rt;
    memset(scratch, 0, sizeof *scratch);
}

/* ---- value parsing ---------------------------------------------------- */

static bool parse_int(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "true"))
        *out = true;
    else if (!strcasecmp(s, "false"))
        *out = false;
    else
        return false;
    return true;
}

static nb_status bad_value(nb_call *call, const char *name)
{
    return nb_fail(call, "InvalidAttributeValue", "Invalid value for the parameter %s.", name);
}

static nb_status bad_redrive(nb_call *call, const char *v, const char *reason)
{
    return sqs_fail_invalid(call, "Value %s for parameter RedrivePolicy is invalid. Reason: %s",
                            v, reason);
}

/* ---- RedrivePolicy ---------------------------------------------------- */

static bool redrive_count(json_object *v, int64_t *out)
{
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
        return true;
    }
    if (json_object_is_type(v, json_type_string))
        return parse_int(json_object_get_string(v), out);
    return false;
}

static nb_status redrive_target(nb_call *call, sqs_queue *q, const char *v, const char *arn)
{
    char region[32], account[16], name[SQS_MAX_NAME + 2];
    if (!sqs_parse_arn(arn, region, sizeof region, account, sizeof account, name, sizeof name))
        return bad_redrive(call, v, "Invalid value for deadLetterTargetArn.");
    sqs_queue *dlq = sqs_queue_find(account, region, name);
    if (!dlq || strcmp(region, q->region) || strcmp(account, q->account))
        return bad_redrive(call, v, "Dead letter target does not exist.");
    if (dlq->fifo != q->fifo)
        return bad_redrive(call, v, q->fifo ? "Dead-letter queue of a FIFO queue must be a FIFO queue."
                                            : "Dead-letter queue of a standard queue must be a "
                                              "standard queue.");
    if (!sqs_redrive_allows(dlq, q)) {
        char reason[400];
        snprintf(reason, sizeof reason,
                 "Queue %s does not allow this queue to specify it as its dead-letter queue.",
                 dlq->arn);
        return bad_redrive(call, v, reason);
    }
    return NB_OK;
}

static nb_status set_redrive(nb_call *call, sqs_queue *q, const char *v)
{
    if (!*v) {
        sqs_str_set(&q->redrive, NULL);
        sqs_str_set(&q->dlq_arn, NULL);
        q->max_receive = 0;
        return NB_OK;
    }
    json_object *o = json_tokener_parse(v), *arn = NULL, *cnt = NULL;
    nb_status st = NB_OK;
    int64_t n = 0;
    if (!o || !json_object_is_type(o, json_type_object))
        st = bad_redrive(call, v, "Redrive policy is not a valid JSON map.");
    else if (!json_object_object_get_ex(o, "deadLetterTargetArn", &arn) ||
             !json_object_is_type(arn, json_type_string))
        st = bad_redrive(call, v, "Redrive policy does not contain mandatory attribute: "
                                  "deadLetterTargetArn.");
    else if (!json_object_object_get_ex(o, "maxReceiveCount", &cnt))
        st = bad_redrive(call, v, "Redrive policy does not contain mandatory attribute: "
                                  "maxReceiveCount.");
    else if (!redrive_count(cnt, &n) || n < 1 || n > 1000) {
        char reason[200];
        snprintf(reason, sizeof reason, "Invalid value for maxReceiveCount: %s, valid values are "
                 "from 1 to 1000 both inclusive.", json_object_get_string(cnt));
        st = bad_redrive(call, v, reason);
    } else
        st = redrive_target(call, q, v, json_object_get_string(arn));
    if (st == NB_OK) {
        char norm[512];
        snprintf(norm, sizeof norm, "{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":%d}",
                 json_object_get_string(arn), (int)n);
        sqs_str_set(&q->redrive, norm);
        sqs_str_set(&q->dlq_arn, json_object_get_string(arn));
        q->max_receive = (int)n;
    }
    json_object_put(o);
    return st;
}

/* ---- RedriveAllowPolicy ------------------------------------------------ */

static bool allow_arns_ok(json_object *arns)
{
    size_t n = json_object_array_length(arns);
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(arns, i), json_type_string))
            return false;
    return true;
}

/* Normalized JSON of a valid policy, or NULL. */
static json_object *allow_normalize(const char *v)
{
    json_object *o = json_tokener_parse(v), *perm = NULL, *arns = NULL, *out = NULL;
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "redrivePermission", &perm) ||
        !json_object_is_type(perm, json_type_string))
        goto done;
    const char *p = json_object_get_string(perm);
    bool has_arns = json_object_object_get_ex(o, "sourceQueueArns", &arns);
    if (!strcmp(p, "byQueue")) {
        if (!has_arns || !json_object_is_type(arns, json_type_array) || !allow_arns_ok(arns))
            goto done;
    } else if (strcmp(p, "allowAll") && strcmp(p, "denyAll")) {
        goto done;
    } else if (has_arns) {
        goto done;
    }
    out = json_object_new_object();
    json_object_object_add(out, "redrivePermission", json_object_new_string(p));
    if (has_arns)
        json_object_object_add(out, "sourceQueueArns", json_object_get(arns));
done:
    json_object_put(o);
    return out;
}

static nb_status set_allow(nb_call *call, sqs_queue *q, const char *v)
{
    if (!*v) {
        sqs_str_set(&q->redrive_allow, NULL);
        return NB_OK;
    }
    json_object *norm = allow_normalize(v);
    if (!norm)
        return sqs_fail_invalid(call, "Value %s for parameter RedriveAllowPolicy is invalid. "
                                "Reason: Amazon SQS can't create the redrive allow policy, as "
                                "it's in an unsupported format.", v);
    sqs_str_set(&q->redrive_allow, json_object_to_json_string_ext(norm, JSON_C_TO_STRING_PLAIN));
    json_object_put(norm);
    return NB_OK;
}

bool sqs_redrive_allows(const sqs_queue *dlq, const sqs_queue *src)
{
    if (!dlq->redrive_allow)
        return true;
    json_object *o = json_tokener_parse(dlq->redrive_allow), *perm = NULL, *arns = NULL;
    bool ok = true;
    if (o && json_object_object_get_ex(o, "redrivePermission", &perm)) {
        const char *p = json_object_get_string(perm);
        if (!strcmp(p, "denyAll"))
            ok = false;
        else if (!strcmp(p, "byQueue")) {
            ok = false;
            if (json_object_object_get_ex(o, "sourceQueueArns", &arns))
                for (size_t i = 0; i < json_object_array_length(arns); i++)
                    if (!strcmp(json_object_get_string(json_object_array_get_idx(arns, i)),
                                src->arn))
                        ok = true;
        }
    }
    json_object_put(o);
    return ok;
}

/* ---- one attribute ---------------------------------------------------- */

static nb_status set_policy(nb_call *call, sqs_queue *q, const char *v)
{
    if (!*v) {
        sqs_str_set(&q->policy, NULL);
        return NB_OK;
    }
    json_object *o = json_tokener_parse(v);
    bool ok = o && json_object_is_type(o, json_type_object);
    json_object_put(o);
    if (!ok)
        return bad_value(call, "Policy");
    sqs_str_set(&q->policy, v);
    return NB_OK;
}

static nb_status set_enum2(nb_call *call, const char *name, const char *v, const char *a,
                           const char *b, bool *out)
{
    if (!strcmp(v, a))
        *out = false;
    else if (!strcmp(v, b))
        *out = true;
    else
        return bad_value(call, name);
    return NB_OK;
}

static nb_status set_one(nb_call *call, sqs_queue *q, const attr_def *d, const char *v)
{
    int64_t n;
    bool b;
    switch (d->kind) {
    case K_INT:
        if (!parse_int(v, &n) || n < d->lo || n > d->hi)
            return bad_value(call, d->name);
        *(int *)((char *)q + d->off) = (int)n;
        return NB_OK;
    case K_BOOL:
        if (!parse_bool(v, &b))
            return bad_value(call, d->name);
        *(bool *)((char *)q + d->off) = b;
        return NB_OK;
    case K_SSE:
        if (!parse_bool(v, &b))
            return bad_value(call, d->name);
        q->sse = b;
        return NB_OK;
    case K_POLICY:
        return set_policy(call, q, v);
    case K_REDRIVE:
        return set_redrive(call, q, v);
    case K_ALLOW:
        return set_allow(call, q, v);
    case K_KMS:
        sqs_str_set(&q->kms_key, *v ? v : NULL);
        return NB_OK;
    case K_SCOPE:
        return set_enum2(call, d->name, v, "queue", "messageGroup", &q->dedup_group);
    case K_TPUT:
        return set_enum2(call, d->name, v, "perQueue", "perMessageGroupId", &q->tput_group);
    case K_FIFOQ:
        if (!parse_bool(v, &b))
            return bad_value(call, d->name);
        if (b != q->fifo)
            return nb_fail(call, "InvalidAttributeValue", "Invalid value for the parameter "
                           "FifoQueue. Reason: Modifying queue type is not supported.");
        return NB_OK;
    case K_RO:
        break;
    }
    return nb_fail(call, "InvalidAttributeName", "Unknown Attribute %s.", d->name);
}

/* ---- whole maps --------------------------------------------------------- */

static nb_status check_names(nb_call *call, const sqs_queue *q, json_object *attrs, bool creating)
{
    json_object_object_foreach(attrs, key, val) {
        const attr_def *d = attr_find(key);
        (void)val;
        bool ok = d && d->kind != K_RO && (!(d->flags & F_FIFO) || q->fifo);
        /* FifoQueue may be given as "false" when creating a standard queue. */
        if (d && d->kind == K_FIFOQ && creating)
            ok = true;
        if (!ok)
            return nb_fail(call, "InvalidAttributeName", "Unknown Attribute %s.", key);
        if (!json_object_is_type(val, json_type_string))
            return bad_value(call, key);
    }
    return NB_OK;
}

static nb_status check_cross(nb_call *call, sqs_queue *q, json_object *attrs)
{
    const char *kms = nb_str(attrs, "KmsMasterKeyId");
    const char *sse = nb_str(attrs, "SqsManagedSseEnabled");
    if (kms && *kms && sse && q->sse)
        return nb_fail(call, "InvalidAttributeName",
                       "You can use one type of server-side encryption (SSE) at one time. You "
                       "can either enable KMS SSE or SQS SSE.");
    if (kms && *kms)
        q->sse = false;
    else if (sse && q->sse)
        sqs_str_set(&q->kms_key, NULL);
    if (q->tput_group && !q->dedup_group)
        return nb_fail(call, "InvalidAttributeValue",
                       "Invalid value for the parameter FifoThroughputLimit. Reason: The "
                       "perMessageGroupId value is allowed only when the value for "
                       "DeduplicationScope is messageGroup.");
    return NB_OK;
}

nb_status sqs_attrs_apply(nb_call *call, sqs_queue *q, json_object *attrs, bool creating)
{
    if (!attrs)
        return NB_OK;
    if (check_names(call, q, attrs, creating) != NB_OK)
        return NB_ERROR;
    json_object_object_foreach(attrs, key, val) {
        const attr_def *d = attr_find(key);
        if (set_one(call, q, d, json_object_get_string(val)) != NB_OK)
            return NB_ERROR;
    }
    return check_cross(call, q, attrs);
}

/* ---- rendering -------------------------------------------------------- */

static void fmt_int(char *buf, size_t n, int64_t v)
{
    snprintf(buf, n, "%" PRId64, v);
}

/* Value of attribute d for q into buf; false when the queue has none. */
static bool attr_value(const sqs_queue *q, const attr_def *d, const int64_t counts[3],
                       char *buf, size_t n)
{
    const char *s = NULL;
    switch (d->kind) {
    case K_RO:
        if (!strcmp(d->name, "QueueArn"))
            s = q->arn;
        else if (!strcmp(d->name, "ApproximateNumberOfMessages"))
            fmt_int(buf, n, counts[0]);
        else if (!strcmp(d->name, "ApproximateNumberOfMessagesNotVisible"))
            fmt_int(buf, n, counts[1]);
        else if (!strcmp(d->name, "ApproximateNumberOfMessagesDelayed"))
            fmt_int(buf, n, counts[2]);
        else if (!strcmp(d->name, "CreatedTimestamp"))
            fmt_int(buf, n, q->created_ms / 1000);
        else
            fmt_int(buf, n, q->modified_ms / 1000);
        break;
    case K_INT:
        if (d->off == OFF(kms_reuse) && !q->kms_key)
            return false;
        fmt_int(buf, n, *(const int *)((const char *)q + d->off));
        break;
    case K_BOOL:
        s = *(const bool *)((const char *)q + d->off) ? "true" : "false";
        break;
    case K_SSE:
        s = q->sse ? "true" : "false";
        break;
    case K_POLICY:
        s = q->policy;
        break;
    case K_REDRIVE:
        s = q->redrive;
        break;
    case K_ALLOW:
        s = q->redrive_allow;
        break;
    case K_KMS:
        s = q->kms_key;
        break;
    case K_SCOPE:
        s = q->dedup_group ? "messageGroup" : "queue";
        break;
    case K_TPUT:
        s = q->tput_group ? "perMessageGroupId" : "perQueue";
        break;
    case K_FIFOQ:
        s = "true";
        break;
    }
    if (s)
        snprintf(buf, n, "%s", s);
    return s || d->kind == K_RO || d->kind == K_INT;
}

static bool wants_counts(json_object *names)
{
    for (size_t i = 0; i < json_object_array_length(names); i++) {
        const char *nm = json_object_get_string(json_object_array_get_idx(names, i));
        if (nm && (!strcmp(nm, "All") || !strncmp(nm, "ApproximateNumberOfMessages", 27)))
            return true;
    }
    return false;
}

static void render_one(json_object *out, const sqs_queue *q, const attr_def *d,
                       const int64_t counts[3])
{
    size_t n = 64;
    if (d->kind == K_POLICY && q->policy)
        n = strlen(q->policy) + 1;
    else if (d->kind == K_ALLOW && q->redrive_allow)
        n = strlen(q->redrive_allow) + 1;
    else if (d->kind == K_KMS && q->kms_key)
        n = strlen(q->kms_key) + 1;
    else if (d->kind == K_REDRIVE || d->kind == K_RO)
        n = 600;
    char *buf = nb_malloc(n);
    if ((!(d->flags & F_FIFO) || q->fifo) && attr_value(q, d, counts, buf, n))
        json_object_object_add(out, d->name, json_object_new_string(buf));
    free(buf);
}

nb_status sqs_attrs_render(nb_call *call, sqs_queue *q, json_object *names, json_object **out)
{
    int64_t counts[3] = {0, 0, 0};
    *out = NULL;
    if (!names || json_object_array_length(names) == 0)
        return NB_OK;
    size_t nn = json_object_array_length(names);
    for (size_t i = 0; i < nn; i++) {
        const char *nm = json_object_get_string(json_object_array_get_idx(names, i));
        if (!nm || (strcmp(nm, "All") && !attr_find(nm)))
            return nb_fail(call, "InvalidAttributeName", "Unknown Attribute %s.", nm ? nm : "");
    }
    if (wants_counts(names))
        sqs_queue_counts(q, call->now_ms, counts);
    json_object *o = json_object_new_object();
    for (size_t k = 0; k < NATTRS; k++) {
        bool want = false;
        for (size_t i = 0; i < nn && !want; i++) {
            const char *nm = json_object_get_string(json_object_array_get_idx(names, i));
            want = !strcmp(nm, "All") || !strcmp(nm, ATTRS[k].name);
        }
        if (want)
            render_one(o, q, &ATTRS[k], counts);
    }
    if (json_object_object_length(o) == 0) {
        json_object_put(o);
        o = NULL;
    }
    *out = o;
    return NB_OK;
}

/* ---- CreateQueue idempotency ------------------------------------------ */

nb_status sqs_attrs_match(nb_call *call, const sqs_queue *q, json_object *attrs)
{
    if (!attrs)
        return NB_OK;
    sqs_queue scratch;
    sqs_queue_copy(&scratch, q);
    nb_status st = sqs_attrs_apply(call, &scratch, attrs, true);
    int64_t counts[3] = {0, 0, 0};
    json_object_object_foreach(attrs, key, val) {
        (void)val;
        const attr_def *d = st == NB_OK ? attr_find(key) : NULL;
        if (!d)
            break;
        char a[1024] = "", b[1024] = "";
        bool ha = attr_value(q, d, counts, a, sizeof a);
        bool hb = attr_value(&scratch, d, counts, b, sizeof b);
        if (ha != hb || strcmp(a, b)) {
            st = nb_fail(call, "QueueNameExists", "A queue already exists with the same name and "
                         "a different value for attribute %s", key);
            break;
        }
    }
    sqs_queue_free_attrs(&scratch);
    return st;
}
