/*
 * lambda_esm.c — event source mappings (SQS queues and DynamoDB streams):
 * Create/Get/Update/Delete/List.  The pollers are execution's: they read
 * the mappings through lm_esm_all().
 *
 * A mapping is an "esm" document (parent "", key UUID) holding the
 * EventSourceMappingConfiguration with defaults filled in, plus "_Account",
 * "_Region" and "_Kind" ("sqs" or "dynamodb").  The stored State is
 * Enabled or Disabled; Create answers Creating, Update Updating, Delete
 * Deleting, and the next read shows the result.  The source must exist: an
 * SQS queue is looked up with sqs GetQueueUrl, a stream with
 * dynamodbstreams DescribeStream (cross-service nb_invoke).
 */
#include <stdlib.h>
#include <string.h>

#include "core/pattern.h"
#include "core/store.h"
#include "lambda_cp.h"

typedef struct {
    nb_status st;
} probe;

static void probe_done(nb_call *c, nb_status st, void *arg)
{
    (void)c;
    ((probe *)arg)->st = st;
}

/* Fields of "arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE". */
static bool split_arn(const char *arn, const char *service, char region[32], char account[16],
                      const char **resource)
{
    size_t sl = strlen(service);
    if (strncmp(arn, "arn:", 4) != 0)
        return false;
    const char *p = strchr(arn + 4, ':');
    if (!p || strncmp(p + 1, service, sl) != 0 || p[1 + sl] != ':')
        return false;
    p += 2 + sl;
    const char *e = strchr(p, ':');
    if (!e || e == p || (size_t)(e - p) >= 32)
        return false;
    memcpy(region, p, (size_t)(e - p));
    region[e - p] = 0;
    p = e + 1;
    e = strchr(p, ':');
    if (!e || e - p != 12)
        return false;
    memcpy(account, p, 12);
    account[12] = 0;
    if (!lm_is_number(account) || !e[1])
        return false;
    *resource = e + 1;
    return true;
}

static nb_status check_source(nb_call *call, const char *arn, const char **kind)
{
    char region[32], account[16];
    const char *res;
    probe pr = {NB_ERROR};
    if (split_arn(arn, "sqs", region, account, &res)) {
        *kind = "sqs";
        json_object *q = json_object_new_object();
        lm_set(q, "QueueName", lm_jstr(res));
        lm_set(q, "QueueOwnerAWSAccountId", lm_jstr(account));
        nb_invoke(call, "sqs", "GetQueueUrl", q, probe_done, &pr);
        json_object_put(q);
        if (pr.st != NB_OK)
            return lm_fail_param(call, "The provided SQS queue does not exist: %s", arn);
        return NB_OK;
    }
    if (split_arn(arn, "dynamodb", region, account, &res) && strncmp(res, "table/", 6) == 0 &&
        strstr(res, "/stream/")) {
        *kind = "dynamodb";
        json_object *q = json_object_new_object();
        lm_set(q, "StreamArn", lm_jstr(arn));
        nb_invoke(call, "dynamodbstreams", "DescribeStream", q, probe_done, &pr);
        json_object_put(q);
        if (pr.st != NB_OK)
            return lm_fail_param(call, "Stream not found: %s", arn);
        return NB_OK;
    }
    return lm_fail_param(call,
                         "Unrecognized event source, must be an SQS queue or a DynamoDB stream (the event sources nimbus supports): %s",
                         arn);
}

static void set_default(json_object *doc, const char *k, json_object *v)
{
    if (!nb_get(doc, k))
        lm_set(doc, k, v);
    else
        json_object_put(v);
}

static void fill_defaults(json_object *doc, const char *kind)
{
    bool sqs = strcmp(kind, "sqs") == 0;
    set_default(doc, "BatchSize", json_object_new_int(sqs ? 10 : 100));
    set_default(doc, "MaximumBatchingWindowInSeconds", json_object_new_int(0));
    set_default(doc, "FunctionResponseTypes", json_object_new_array());
    if (sqs)
        return;
    set_default(doc, "ParallelizationFactor", json_object_new_int(1));
    set_default(doc, "MaximumRecordAgeInSeconds", json_object_new_int(-1));
    set_default(doc, "BisectBatchOnFunctionError", json_object_new_boolean(0));
    set_default(doc, "MaximumRetryAttempts", json_object_new_int(-1));
    set_default(doc, "TumblingWindowInSeconds", json_object_new_int(0));
    set_default(doc, "LastProcessingResult", lm_jstr("No records processed"));
    if (!nb_get(doc, "DestinationConfig")) {
        json_object *dc = json_object_new_object();
        lm_set(dc, "OnFailure", json_object_new_object());
        lm_set(doc, "DestinationConfig", dc);
    }
}

/* The checks on a mapping's (merged) settings. */
static nb_status check_settings(nb_call *call, json_object *doc, const char *kind)
{
    /* FilterCriteria patterns compile with the shared pattern engine. */
    json_object *fl = nb_get(nb_get(doc, "FilterCriteria"), "Filters");
    for (size_t i = 0, n = fl ? json_object_array_length(fl) : 0; i < n; i++) {
        const char *pat = nb_str(json_object_array_get_idx(fl, i), "Pattern");
        char err[256];
        nb_pattern *cp = pat ? nb_pattern_compile(pat, strlen(pat), NB_PAT_LAMBDA, err, sizeof err)
                             : NULL;
        if (!cp)
            return lm_fail_param(call, "%s", pat ? err : "Invalid filter pattern definition.");
        nb_pattern_free(cp);
    }
    bool sqs = strcmp(kind, "sqs") == 0;
    const char *src = nb_str(doc, "EventSourceArn");
    bool fifo = sqs && strlen(src) > 5 && strcmp(src + strlen(src) - 5, ".fifo") == 0;
    int64_t batch = 0, window = 0;
    nb_int(doc, "BatchSize", &batch);
    nb_int(doc, "MaximumBatchingWindowInSeconds", &window);
    int64_t max = fifo ? 10 : 10000;
    if (batch < 1 || batch > max)
        return lm_fail_param(call, "BatchSize %lld is out of range for %s event sources: it must be between 1 and %lld.",
                             (long long)batch, fifo ? "SQS FIFO queue" : sqs ? "SQS queue" : "DynamoDB stream",
                             (long long)max);
    if (sqs && batch > 10 && window == 0)
        return lm_fail_param(call,
                             "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
    if (fifo && window > 0)
        return lm_fail_param(call, "Batching window is not supported for FIFO queues");
    if (sqs) {
        if (nb_get(doc, "StartingPosition"))
            return lm_fail_param(call, "StartingPosition is not valid for SQS event sources.");
        static const char *const STREAM_ONLY[] = {"StartingPositionTimestamp",
                                                  "ParallelizationFactor", "BisectBatchOnFunctionError",
                                                  "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                                                  "TumblingWindowInSeconds", NULL};
        for (int i = 0; STREAM_ONLY[i]; i++)
            if (nb_get(doc, STREAM_ONLY[i]))
                return lm_fail_param(call, "Unsupported %s parameter for SQS event sources.",
                                     STREAM_ONLY[i]);
        json_object *dc = nb_get(doc, "DestinationConfig");
        if (dc && lm_len(nb_get(dc, "OnFailure")))
            return lm_fail_param(call, "Unsupported DestinationConfig parameter for SQS event sources.");
        return NB_OK;
    }
    const char *pos = nb_str(doc, "StartingPosition");
    if (!pos)
        return lm_fail_param(call, "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.");
    if (strcmp(pos, "AT_TIMESTAMP") == 0)
        return lm_fail_param(call, "Unsupported starting position AT_TIMESTAMP for DynamoDB stream event sources.");
    if (nb_get(doc, "ScalingConfig"))
        return lm_fail_param(call, "Unsupported ScalingConfig parameter for DynamoDB stream event sources.");
    return NB_OK;
}

/* FunctionName → the mapping's FunctionArn (qualified when given). */
static nb_status target_arn(nb_call *call, const char *name, char *arn, size_t cap)
{
    lm_ref r;
    if (lm_parse(call, name, NULL, &r) != NB_OK)
        return NB_ERROR;
    json_object *ver = lm_version_doc(call, &r, r.qual);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    lm_fn_arn(&r, r.qual, arn, cap);
    return NB_OK;
}

static const char *const SETTINGS[] = {
    "BatchSize", "FilterCriteria", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
    "StartingPosition", "StartingPositionTimestamp", "DestinationConfig", "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError", "MaximumRetryAttempts", "TumblingWindowInSeconds",
    "FunctionResponseTypes", "ScalingConfig", "KMSKeyArn", "MetricsConfig", NULL};

static json_object *respond(json_object *doc, const char *state)
{
    json_object *o = lm_public(doc);
    if (state)
        lm_set(o, "State", lm_jstr(state));
    return o;
}

static void save(const nb_call *call, json_object *doc)
{
    (void)call;
    lm_doc_put(nb_str(doc, "_Account"), nb_str(doc, "_Region"), "esm", "", nb_str(doc, "UUID"), 0, doc);
}

/* One mapping per source and function. */
static nb_status check_unique(nb_call *call, const char *src, const char *fn_arn, const char *kind)
{
    json_object *all = lm_doc_list(call->account, call->region, "esm", "");
    nb_status st = NB_OK;
    for (size_t i = 0, n = json_object_array_length(all); st == NB_OK && i < n; i++) {
        json_object *m = json_object_array_get_idx(all, i);
        if (strcmp(nb_str(m, "EventSourceArn"), src) == 0 && strcmp(nb_str(m, "FunctionArn"), fn_arn) == 0)
            st = lm_fail_conflict(call,
                                  "An event source mapping with %s arn (\" %s \") and function (\" %s \") already exists. Please update or delete the existing mapping with UUID %s",
                                  strcmp(kind, "sqs") == 0 ? "SQS" : "DynamoDB Stream", src, fn_arn,
                                  nb_str(m, "UUID"));
    }
    json_object_put(all);
    return st;
}

nb_status lm_create_esm(nb_call *call, json_object *in)
{
    char fn_arn[300];
    if (target_arn(call, nb_str(in, "FunctionName"), fn_arn, sizeof fn_arn) != NB_OK)
        return NB_ERROR;
    const char *src = nb_str(in, "EventSourceArn");
    if (!src)
        return lm_fail_param(call, "Unrecognized event source.");
    const char *kind = NULL;
    if (check_source(call, src, &kind) != NB_OK)
        return NB_ERROR;
    json_object *doc = json_object_new_object();
    char uuid[37], arn[200];
    nb_uuid(uuid);
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:event-source-mapping:%s", call->region, call->account,
             uuid);
    lm_set(doc, "UUID", lm_jstr(uuid));
    lm_set(doc, "EventSourceArn", lm_jstr(src));
    lm_set(doc, "FunctionArn", lm_jstr(fn_arn));
    for (int i = 0; SETTINGS[i]; i++) {
        json_object *v = nb_get(in, SETTINGS[i]);
        if (v)
            lm_set(doc, SETTINGS[i], lm_copy(v));
    }
    fill_defaults(doc, kind);
    if (check_settings(call, doc, kind) != NB_OK || check_unique(call, src, fn_arn, kind) != NB_OK) {
        json_object_put(doc);
        return NB_ERROR;
    }
    bool enabled = true;
    nb_bool(in, "Enabled", &enabled);
    lm_set(doc, "State", lm_jstr(enabled ? "Enabled" : "Disabled"));
    lm_set(doc, "StateTransitionReason", lm_jstr(strcmp(kind, "sqs") == 0 ? "USER_INITIATED" : "User action"));
    lm_set(doc, "LastModified", json_object_new_double((double)call->now_ms / 1000.0));
    lm_set(doc, "EventSourceMappingArn", lm_jstr(arn));
    lm_set(doc, "_Account", lm_jstr(call->account));
    lm_set(doc, "_Region", lm_jstr(call->region));
    lm_set(doc, "_Kind", lm_jstr(kind));
    json_object *tags = nb_get(in, "Tags");
    lm_set(doc, "_Tags", tags ? lm_copy(tags) : json_object_new_object());
    save(call, doc);
    call->out = respond(doc, "Creating");
    json_object_put(doc);
    return NB_OK;
}

static json_object *find(nb_call *call, json_object *in)
{
    json_object *doc = lm_doc_get(call->account, call->region, "esm", "", nb_str(in, "UUID"));
    if (!doc)
        lm_fail_no_resource(call);
    return doc;
}

nb_status lm_get_esm(nb_call *call, json_object *in)
{
    json_object *doc = find(call, in);
    if (!doc)
        return NB_ERROR;
    call->out = respond(doc, NULL);
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_update_esm(nb_call *call, json_object *in)
{
    json_object *doc = find(call, in);
    if (!doc)
        return NB_ERROR;
    nb_status st = NB_OK;
    const char *fname = nb_str(in, "FunctionName");
    char fn_arn[300];
    if (fname) {
        st = target_arn(call, fname, fn_arn, sizeof fn_arn);
        if (st == NB_OK)
            lm_set(doc, "FunctionArn", lm_jstr(fn_arn));
    }
    for (int i = 0; st == NB_OK && SETTINGS[i]; i++) {
        json_object *v = nb_get(in, SETTINGS[i]);
        if (v)
            lm_set(doc, SETTINGS[i], lm_copy(v));
    }
    if (st == NB_OK)
        st = check_settings(call, doc, nb_str(doc, "_Kind"));
    if (st != NB_OK) {
        json_object_put(doc);
        return NB_ERROR;
    }
    bool enabled;
    if (nb_bool(in, "Enabled", &enabled))
        lm_set(doc, "State", lm_jstr(enabled ? "Enabled" : "Disabled"));
    lm_set(doc, "LastModified", json_object_new_double((double)call->now_ms / 1000.0));
    save(call, doc);
    call->out = respond(doc, "Updating");
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_delete_esm(nb_call *call, json_object *in)
{
    json_object *doc = find(call, in);
    if (!doc)
        return NB_ERROR;
    lm_doc_del(call->account, call->region, "esm", "", nb_str(doc, "UUID"));
    call->out = respond(doc, "Deleting");
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_list_esms(nb_call *call, json_object *in)
{
    const char *src = nb_str(in, "EventSourceArn"), *fname = nb_str(in, "FunctionName");
    char fn_arn[300] = "";
    bool qualified = false;
    if (fname) {
        lm_ref r;
        if (lm_parse(call, fname, NULL, &r) != NB_OK)
            return NB_ERROR;
        lm_fn_arn(&r, r.qual, fn_arn, sizeof fn_arn);
        qualified = r.qual[0] != 0;
    }
    json_object *all = lm_doc_list(call->account, call->region, "esm", "");
    json_object *sel = json_object_new_array();
    size_t fl = strlen(fn_arn);
    for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
        json_object *m = json_object_array_get_idx(all, i);
        const char *fa = nb_str(m, "FunctionArn");
        if (src && strcmp(nb_str(m, "EventSourceArn"), src) != 0)
            continue;
        if (fname && strcmp(fa, fn_arn) != 0 && (qualified || strncmp(fa, fn_arn, fl) != 0 || fa[fl] != ':'))
            continue;
        json_object_array_add(sel, json_object_get(m));
    }
    json_object_put(all);
    lm_list_out(call, in, sel, "EventSourceMappings", 100);
    return NB_OK;
}

json_object *lm_esm_all(void)
{
    json_object *all = lm_doc_list(NULL, NULL, "esm", NULL);
    json_object *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
        json_object *m = json_object_array_get_idx(all, i);
        json_object *o = lm_public(m);
        lm_set(o, "Account", lm_jstr(nb_str(m, "_Account")));
        lm_set(o, "Region", lm_jstr(nb_str(m, "_Region")));
        json_object_array_add(out, o);
    }
    json_object_put(all);
    return out;
}
