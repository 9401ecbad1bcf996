/*
 * lambda_policy.c — what hangs off a function besides its versions:
 * resource policies (AddPermission, RemovePermission, GetPolicy), reserved
 * concurrency, account settings, tags, asynchronous invocation
 * configuration (event invoke configs), function URLs, recursion and
 * runtime management settings.
 *
 * Policies, event invoke configs and URLs are per qualifier ("pol", "eic",
 * "url" documents keyed by the qualifier; "" is the unqualified
 * function).  A policy change gives the version or alias it applies to a
 * new RevisionId, as AWS does.
 */
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "lambda_cp.h"

/* The function and, when qualified, check the version or alias exists. */
static json_object *qualified(nb_call *call, json_object *in, lm_ref *r)
{
    if (lm_parse(call, nb_str(in, "FunctionName"), nb_str(in, "Qualifier"), r) != NB_OK)
        return NULL;
    json_object *fn = lm_fn_doc(call, r);
    if (!fn)
        return NULL;
    json_object *ver = lm_version_doc(call, r, r->qual);
    json_object_put(fn);
    return ver;
}

/* ---- resource policies ------------------------------------------------------------ */

static json_object *principal(const char *p)
{
    if (strcmp(p, "*") == 0)
        return lm_jstr("*");
    json_object *o = json_object_new_object();
    size_t n = strlen(p);
    if (n > 14 && strcmp(p + n - 14, ".amazonaws.com") == 0) {
        lm_set(o, "Service", lm_jstr(p));
    } else if (lm_is_number(p) && n == 12) {
        char arn[64];
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", p);
        lm_set(o, "AWS", lm_jstr(arn));
    } else {
        lm_set(o, "AWS", lm_jstr(p));
    }
    return o;
}

static void condition(json_object *cond, const char *op, const char *key, const char *value)
{
    json_object *c = nb_get(cond, op);
    if (!c) {
        c = json_object_new_object();
        lm_set(cond, op, c);
    }
    lm_set(c, key, lm_jstr(value));
}

static const char *pol_key(const lm_ref *r)
{
    return r->qual;
}

nb_status lm_add_permission(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    const char *rev = nb_str(in, "RevisionId");
    if (rev && strcmp(rev, nb_str(ver, "RevisionId")) != 0) {
        json_object_put(ver);
        return lm_fail_revision(call, "GetFunction");
    }
    const char *p = nb_str(in, "Principal");
    if (!*p || strchr(p, ' ')) {
        json_object_put(ver);
        return lm_fail_pattern(call, "Principal", p);
    }
    const char *sid = nb_str(in, "StatementId");
    json_object *pol = lm_doc_get(r.account, r.region, "pol", r.name, pol_key(&r));
    if (!pol) {
        pol = json_object_new_object();
        lm_set(pol, "Statement", json_object_new_array());
    }
    if (lm_find_statement(nb_get(pol, "Statement"), sid, NULL)) {
        json_object_put(pol);
        json_object_put(ver);
        return lm_fail_conflict(call,
                                "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.",
                                sid);
    }
    char arn[300];
    lm_fn_arn(&r, r.qual, arn, sizeof arn);
    json_object *s = json_object_new_object();
    lm_set(s, "Sid", lm_jstr(sid));
    lm_set(s, "Effect", lm_jstr("Allow"));
    lm_set(s, "Principal", principal(p));
    lm_set(s, "Action", lm_jstr(nb_str(in, "Action")));
    lm_set(s, "Resource", lm_jstr(arn));
    json_object *cond = json_object_new_object();
    if (nb_str(in, "SourceAccount"))
        condition(cond, "StringEquals", "AWS:SourceAccount", nb_str(in, "SourceAccount"));
    if (nb_str(in, "EventSourceToken"))
        condition(cond, "StringEquals", "lambda:EventSourceToken", nb_str(in, "EventSourceToken"));
    if (nb_str(in, "PrincipalOrgID"))
        condition(cond, "StringEquals", "aws:PrincipalOrgID", nb_str(in, "PrincipalOrgID"));
    if (nb_str(in, "FunctionUrlAuthType"))
        condition(cond, "StringEquals", "lambda:FunctionUrlAuthType", nb_str(in, "FunctionUrlAuthType"));
    bool via = false;
    if (nb_bool(in, "InvokedViaFunctionUrl", &via) && via)
        condition(cond, "Bool", "lambda:InvokedViaFunctionUrl", "true");
    if (nb_str(in, "SourceArn"))
        condition(cond, "ArnLike", "AWS:SourceArn", nb_str(in, "SourceArn"));
    if (json_object_object_length(cond))
        lm_set(s, "Condition", cond);
    else
        json_object_put(cond);
    json_object_array_add(nb_get(pol, "Statement"), s);
    lm_doc_put(r.account, r.region, "pol", r.name, pol_key(&r), 0, pol);
    lm_touch_version(&r, ver);
    call->out = lm_statement_out(s);
    json_object_put(pol);
    json_object_put(ver);
    return NB_OK;
}

nb_status lm_remove_permission(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    const char *rev = nb_str(in, "RevisionId");
    const char *sid = nb_str(in, "StatementId");
    json_object *pol = lm_doc_get(r.account, r.region, "pol", r.name, pol_key(&r));
    size_t idx = 0;
    nb_status st = NB_OK;
    if (rev && strcmp(rev, nb_str(ver, "RevisionId")) != 0)
        st = lm_fail_revision(call, "GetFunction");
    else if (!pol || !lm_find_statement(nb_get(pol, "Statement"), sid, &idx))
        st = lm_fail_not_found(call, "Statement %s is not found in resource policy.", sid);
    if (st == NB_OK) {
        json_object *stmts = nb_get(pol, "Statement");
        json_object_array_del_idx(stmts, idx, 1);
        if (json_object_array_length(stmts))
            lm_doc_put(r.account, r.region, "pol", r.name, pol_key(&r), 0, pol);
        else
            lm_doc_del(r.account, r.region, "pol", r.name, pol_key(&r));
        lm_touch_version(&r, ver);
    }
    json_object_put(pol);
    json_object_put(ver);
    return st;
}

nb_status lm_get_policy(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object *pol = lm_doc_get(r.account, r.region, "pol", r.name, pol_key(&r));
    if (!pol) {
        json_object_put(ver);
        return lm_fail_no_resource(call);
    }
    call->out = lm_policy_out(nb_get(pol, "Statement"), nb_str(ver, "RevisionId"));
    json_object_put(pol);
    json_object_put(ver);
    return NB_OK;
}

/* ---- concurrency and account settings ------------------------------------------------ */

static json_object *unqualified_fn(nb_call *call, json_object *in, lm_ref *r)
{
    return lm_parse(call, nb_str(in, "FunctionName"), NULL, r) == NB_OK ? lm_fn_doc(call, r) : NULL;
}

/* Sum of reserved concurrency in the account and region, except name. */
static int64_t reserved_total(const char *account, const char *region, const char *except,
                              int64_t *functions)
{
    json_object *all = lm_doc_list(account, region, "fn", "");
    int64_t total = 0;
    size_t n = json_object_array_length(all);
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(all, i);
        int64_t v;
        const char *name = nb_str(f, "Name");
        if (nb_int(f, "Reserved", &v) && !(except && name && strcmp(name, except) == 0))
            total += v;
    }
    if (functions)
        *functions = (int64_t)n;
    json_object_put(all);
    return total;
}

nb_status lm_put_concurrency(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = unqualified_fn(call, in, &r);
    if (!fn)
        return NB_ERROR;
    int64_t want = 0;
    nb_int(in, "ReservedConcurrentExecutions", &want);
    lm_set(fn, "Name", lm_jstr(r.name));
    int64_t others = reserved_total(r.account, r.region, r.name, NULL);
    if (LM_ACCOUNT_CONCURRENCY - others - want < LM_MIN_UNRESERVED) {
        json_object_put(fn);
        return lm_fail_param(call,
                             "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].",
                             LM_MIN_UNRESERVED);
    }
    lm_set(fn, "Reserved", json_object_new_int64(want));
    lm_fn_save(&r, fn);
    json_object_put(fn);
    lm_exec_retire(r.account, r.region, r.name);
    call->out = json_object_new_object();
    lm_set(call->out, "ReservedConcurrentExecutions", json_object_new_int64(want));
    return NB_OK;
}

nb_status lm_get_concurrency(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = unqualified_fn(call, in, &r);
    if (!fn)
        return NB_ERROR;
    call->out = json_object_new_object();
    int64_t v;
    if (nb_int(fn, "Reserved", &v))
        lm_set(call->out, "ReservedConcurrentExecutions", json_object_new_int64(v));
    json_object_put(fn);
    return NB_OK;
}

nb_status lm_delete_concurrency(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = unqualified_fn(call, in, &r);
    if (!fn)
        return NB_ERROR;
    json_object_object_del(fn, "Reserved");
    lm_fn_save(&r, fn);
    json_object_put(fn);
    lm_exec_retire(r.account, r.region, r.name);
    return NB_OK;
}

nb_status lm_get_account_settings(nb_call *call, json_object *in)
{
    (void)in;
    int64_t functions = 0;
    int64_t reserved = reserved_total(call->account, call->region, NULL, &functions);
    int64_t code = 0;
    static const char *const KINDS[] = {"ver", "layer", NULL};
    for (int k = 0; KINDS[k]; k++) {
        json_object *all = lm_doc_list(call->account, call->region, KINDS[k], NULL);
        for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
            json_object *d = json_object_array_get_idx(all, i);
            int64_t v = 0;
            if (nb_int(d, "CodeSize", &v) || nb_int(nb_get(d, "Content"), "CodeSize", &v))
                code += v;
        }
        json_object_put(all);
    }
    json_object *limit = json_object_new_object();
    lm_set(limit, "TotalCodeSize", json_object_new_int64(LM_TOTAL_CODE));
    lm_set(limit, "CodeSizeUnzipped", json_object_new_int64(LM_MAX_UNZIPPED));
    lm_set(limit, "CodeSizeZipped", json_object_new_int64(LM_MAX_ZIP));
    lm_set(limit, "ConcurrentExecutions", json_object_new_int(LM_ACCOUNT_CONCURRENCY));
    lm_set(limit, "UnreservedConcurrentExecutions",
           json_object_new_int64(LM_ACCOUNT_CONCURRENCY - reserved));
    json_object *usage = json_object_new_object();
    lm_set(usage, "TotalCodeSize", json_object_new_int64(code));
    lm_set(usage, "FunctionCount", json_object_new_int64(functions));
    call->out = json_object_new_object();
    lm_set(call->out, "AccountLimit", limit);
    lm_set(call->out, "AccountUsage", usage);
    return NB_OK;
}

/* ---- tags ------------------------------------------------------------------------------ */

/* A taggable resource: a function ("fn" document, member Tags), an event
 * source mapping or a code signing config ("esm" / "csc" document, member
 * _Tags, which their outputs do not have). */
typedef struct {
    const char *kind, *member;
    char account[16], region[32], key[72];
    json_object *doc;
} tag_target;

static nb_status tag_find(nb_call *call, json_object *in, tag_target *t)
{
    const char *res = nb_str(in, "Resource");
    memset(t, 0, sizeof *t);
    const char *f[9];
    size_t fl[9];
    int nf = strncmp(res, "arn:", 4) == 0 ? lm_split(res, f, fl) : -1;
    if (nf == 7 && ((fl[5] == 20 && memcmp(f[5], "event-source-mapping", 20) == 0) ||
                    (fl[5] == 19 && memcmp(f[5], "code-signing-config", 19) == 0))) {
        bool esm = f[5][0] == 'e';
        t->kind = esm ? "esm" : "csc";
        t->member = "_Tags";
        nb_copy(t->region, sizeof t->region, f[3], fl[3]);
        nb_copy(t->account, sizeof t->account, f[4], fl[4]);
        nb_copy(t->key, sizeof t->key, f[6], fl[6]);
        t->doc = lm_doc_get(t->account, t->region, t->kind, "", t->key);
        return t->doc ? NB_OK : lm_fail_no_resource(call);
    }
    if (nf < 0)
        return lm_fail_pattern(call, "Resource", res);
    lm_ref r;
    if (lm_parse(call, res, NULL, &r) != NB_OK)
        return NB_ERROR;
    if (r.qual[0])
        return lm_fail_param(call, "Tags are not supported on function versions or aliases: %s", res);
    t->kind = "fn";
    t->member = "Tags";
    snprintf(t->account, sizeof t->account, "%s", r.account);
    snprintf(t->region, sizeof t->region, "%s", r.region);
    snprintf(t->key, sizeof t->key, "%s", r.name);
    t->doc = lm_fn_doc(call, &r);
    return t->doc ? NB_OK : NB_ERROR;
}

static json_object *tag_map(tag_target *t)
{
    json_object *tags = nb_get(t->doc, t->member);
    if (!tags) {
        tags = json_object_new_object();
        lm_set(t->doc, t->member, tags);
    }
    return tags;
}

static void tag_save(tag_target *t)
{
    lm_doc_put(t->account, t->region, t->kind, "", t->key, 0, t->doc);
    json_object_put(t->doc);
}

nb_status lm_tag_resource(nb_call *call, json_object *in)
{
    tag_target t;
    if (tag_find(call, in, &t) != NB_OK)
        return NB_ERROR;
    json_object *tags = tag_map(&t);
    json_object_object_foreach(nb_get(in, "Tags"), k, v) lm_set(tags, k, lm_copy(v));
    if (json_object_object_length(tags) > 50) {
        json_object_put(t.doc);
        return lm_fail_param(call, "Number of tags exceeds resource tag limit.");
    }
    tag_save(&t);
    return NB_OK;
}

nb_status lm_untag_resource(nb_call *call, json_object *in)
{
    tag_target t;
    if (tag_find(call, in, &t) != NB_OK)
        return NB_ERROR;
    json_object *tags = tag_map(&t), *keys = nb_get(in, "TagKeys");
    for (size_t i = 0, n = keys ? json_object_array_length(keys) : 0; i < n; i++)
        json_object_object_del(tags, json_object_get_string(json_object_array_get_idx(keys, i)));
    tag_save(&t);
    return NB_OK;
}

nb_status lm_list_tags(nb_call *call, json_object *in)
{
    tag_target t;
    if (tag_find(call, in, &t) != NB_OK)
        return NB_ERROR;
    call->out = json_object_new_object();
    lm_set(call->out, "Tags", lm_copy(tag_map(&t)));
    json_object_put(t.doc);
    return NB_OK;
}

/* ---- event invoke configs --------------------------------------------------------------- */

static const char *eic_key(const lm_ref *r)
{
    return r->qual[0] ? r->qual : "$LATEST";
}

static nb_status eic_missing(nb_call *call, const lm_ref *r)
{
    char arn[300];
    lm_fn_arn(r, eic_key(r), arn, sizeof arn);
    return lm_fail_not_found(call, "The function %s doesn't have an EventInvokeConfig", arn);
}

static nb_status check_destinations(nb_call *call, json_object *dc)
{
    static const char *const SIDES[] = {"OnSuccess", "OnFailure", NULL};
    for (int i = 0; dc && SIDES[i]; i++) {
        const char *d = nb_str(nb_get(dc, SIDES[i]), "Destination");
        if (!d || !*d)
            continue;
        static const char *const OK[] = {":sqs:", ":sns:", ":lambda:", ":events:", ":s3:", NULL};
        bool good = strncmp(d, "arn:", 4) == 0;
        bool known = false;
        for (int k = 0; good && OK[k]; k++)
            if (strstr(d, OK[k]))
                known = true;
        if (!good || !known)
            return lm_fail_param(call, "The destination ARN %s is invalid.", d);
    }
    return NB_OK;
}

static nb_status write_eic(nb_call *call, json_object *in, bool replace, bool must_exist)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    if (check_destinations(call, nb_get(in, "DestinationConfig")) != NB_OK)
        return NB_ERROR;
    json_object *doc = lm_doc_get(r.account, r.region, "eic", r.name, eic_key(&r));
    if (!doc && must_exist)
        return eic_missing(call, &r);
    if (!doc || replace) {
        json_object_put(doc);
        doc = json_object_new_object();
    }
    char arn[300];
    lm_fn_arn(&r, eic_key(&r), arn, sizeof arn);
    lm_set(doc, "FunctionArn", lm_jstr(arn));
    lm_set(doc, "LastModified", json_object_new_double((double)call->now_ms / 1000.0));
    static const char *const MEMBERS[] = {"MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                                          "DestinationConfig", NULL};
    for (int i = 0; MEMBERS[i]; i++) {
        json_object *v = nb_get(in, MEMBERS[i]);
        if (v)
            lm_set(doc, MEMBERS[i], lm_copy(v));
    }
    if (!nb_get(doc, "DestinationConfig")) {
        json_object *dc = json_object_new_object();
        lm_set(dc, "OnSuccess", json_object_new_object());
        lm_set(dc, "OnFailure", json_object_new_object());
        lm_set(doc, "DestinationConfig", dc);
    }
    lm_doc_put(r.account, r.region, "eic", r.name, eic_key(&r), 0, doc);
    lm_exec_retire(r.account, r.region, r.name);
    call->out = doc;
    return NB_OK;
}

void lm_event_config_get(const char *account, const char *region, const char *name,
                         const char *qualifier, lm_event_config *out)
{
    memset(out, 0, sizeof *out);
    out->max_retries = 2;
    out->max_age_s = 21600;
    const char *key = qualifier && *qualifier ? qualifier : "$LATEST";
    json_object *doc = lm_doc_get(account, region, "eic", name, key);
    if (doc) {
        int64_t v;
        if (nb_int(doc, "MaximumRetryAttempts", &v))
            out->max_retries = (int)v;
        if (nb_int(doc, "MaximumEventAgeInSeconds", &v))
            out->max_age_s = (int)v;
        json_object *dc = nb_get(doc, "DestinationConfig");
        const char *d = nb_str(nb_get(dc, "OnSuccess"), "Destination");
        snprintf(out->on_success, sizeof out->on_success, "%s", d ? d : "");
        d = nb_str(nb_get(dc, "OnFailure"), "Destination");
        snprintf(out->on_failure, sizeof out->on_failure, "%s", d ? d : "");
        json_object_put(doc);
    }
    /* The dead-letter queue is the version's (an alias: its version's). */
    char ver[129];
    snprintf(ver, sizeof ver, "%s", key);
    if (strcmp(key, "$LATEST") != 0 && !lm_is_number(key)) {
        json_object *alias = lm_doc_get(account, region, "alias", name, key);
        const char *fv = nb_str(alias, "FunctionVersion");
        snprintf(ver, sizeof ver, "%s", fv ? fv : "$LATEST");
        json_object_put(alias);
    }
    json_object *vd = lm_doc_get(account, region, "ver", name, ver);
    const char *dlq = nb_str(nb_get(vd, "DeadLetterConfig"), "TargetArn");
    snprintf(out->dlq, sizeof out->dlq, "%s", dlq ? dlq : "");
    json_object_put(vd);
}

nb_status lm_put_eic(nb_call *call, json_object *in)
{
    return write_eic(call, in, true, false);
}

nb_status lm_update_eic(nb_call *call, json_object *in)
{
    return write_eic(call, in, false, true);
}

nb_status lm_get_eic(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    json_object *doc = lm_doc_get(r.account, r.region, "eic", r.name, eic_key(&r));
    if (!doc)
        return eic_missing(call, &r);
    call->out = doc;
    return NB_OK;
}

nb_status lm_delete_eic(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    json_object *doc = lm_doc_get(r.account, r.region, "eic", r.name, eic_key(&r));
    if (!doc)
        return eic_missing(call, &r);
    json_object_put(doc);
    lm_doc_del(r.account, r.region, "eic", r.name, eic_key(&r));
    lm_exec_retire(r.account, r.region, r.name);
    return NB_OK;
}

static nb_status list_of(nb_call *call, json_object *in, const char *kind, const char *member)
{
    lm_ref r;
    if (lm_fn_require(call, nb_str(in, "FunctionName"), &r) != NB_OK)
        return NB_ERROR;
    lm_list_out(call, in, lm_doc_list(r.account, r.region, kind, r.name), member, 50);
    return NB_OK;
}

nb_status lm_list_eics(nb_call *call, json_object *in)
{
    return list_of(call, in, "eic", "FunctionEventInvokeConfigs");
}

/* ---- function URLs --------------------------------------------------------------------------- */

static json_object *url_target(nb_call *call, json_object *in, lm_ref *r)
{
    const char *q = nb_str(in, "Qualifier");
    if (q && (lm_is_number(q) || !lm_valid_qualifier(q))) {
        lm_fail_pattern(call, "Qualifier", q);
        return NULL;
    }
    json_object *ver = qualified(call, in, r);
    if (ver && r->qual[0] && lm_is_number(r->qual)) {
        json_object_put(ver);
        lm_fail_pattern(call, "Qualifier", r->qual);
        return NULL;
    }
    return ver;
}

static const char *url_key(const lm_ref *r)
{
    return strcmp(r->qual, "$LATEST") == 0 ? "" : r->qual;
}

static void apply_url(json_object *doc, json_object *in, const nb_call *call)
{
    static const char *const MEMBERS[] = {"AuthType", "Cors", "InvokeMode", NULL};
    for (int i = 0; MEMBERS[i]; i++) {
        json_object *v = nb_get(in, MEMBERS[i]);
        if (v)
            lm_set(doc, MEMBERS[i], lm_copy(v));
    }
    if (!nb_get(doc, "InvokeMode"))
        lm_set(doc, "InvokeMode", lm_jstr("BUFFERED"));
    char ts[40];
    lm_timestamp(call->now_ms, ts);
    lm_set(doc, "LastModifiedTime", lm_jstr(ts));
}

nb_status lm_create_url(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = url_target(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    char arn[300];
    lm_fn_arn(&r, url_key(&r), arn, sizeof arn);
    json_object *doc = lm_doc_get(r.account, r.region, "url", r.name, url_key(&r));
    if (doc) {
        json_object_put(doc);
        return lm_fail_conflict(call,
                                "Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function",
                                arn);
    }
    static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char id[33];
    for (int i = 0; i < 32; i++)
        id[i] = ALNUM[nb_rand64() % 36];
    id[32] = 0;
    const char *colon = strrchr(call->host, ':');
    char url[400], ts[40];
    snprintf(url, sizeof url, "http://%s.lambda-url.%s.localhost%s/", id, r.region,
             colon && !strchr(colon, ']') ? colon : "");
    lm_timestamp(call->now_ms, ts);
    doc = json_object_new_object();
    lm_set(doc, "FunctionUrl", lm_jstr(url));
    lm_set(doc, "FunctionArn", lm_jstr(arn));
    lm_set(doc, "CreationTime", lm_jstr(ts));
    lm_set(doc, "_UrlId", lm_jstr(id));
    apply_url(doc, in, call);
    lm_doc_put(r.account, r.region, "url", r.name, url_key(&r), 0, doc);
    call->out = lm_public(doc);
    json_object_put(doc);
    return NB_OK;
}

static json_object *url_doc(nb_call *call, json_object *in, lm_ref *r)
{
    json_object *ver = url_target(call, in, r);
    if (!ver)
        return NULL;
    json_object_put(ver);
    json_object *doc = lm_doc_get(r->account, r->region, "url", r->name, url_key(r));
    if (!doc)
        lm_fail_no_resource(call);
    return doc;
}

nb_status lm_get_url(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *doc = url_doc(call, in, &r);
    if (!doc)
        return NB_ERROR;
    call->out = lm_public(doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_update_url(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *doc = url_doc(call, in, &r);
    if (!doc)
        return NB_ERROR;
    apply_url(doc, in, call);
    lm_doc_put(r.account, r.region, "url", r.name, url_key(&r), 0, doc);
    call->out = lm_public(doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_delete_url(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *doc = url_doc(call, in, &r);
    if (!doc)
        return NB_ERROR;
    json_object_put(doc);
    lm_doc_del(r.account, r.region, "url", r.name, url_key(&r));
    return NB_OK;
}

nb_status lm_list_urls(nb_call *call, json_object *in)
{
    return list_of(call, in, "url", "FunctionUrlConfigs");
}

bool lm_url_find(const char *url_id, lm_url *out)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT account, region, parent, key, doc FROM lambda_docs"
                                   " WHERE kind = 'url' AND json_extract(doc, '$._UrlId') = ?1");
    sqlite3_bind_text(s, 1, url_id, -1, SQLITE_STATIC);
    bool found = false;
    memset(out, 0, sizeof *out);
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(out->account, sizeof out->account, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(out->region, sizeof out->region, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(s, 2));
        snprintf(out->qualifier, sizeof out->qualifier, "%s", (const char *)sqlite3_column_text(s, 3));
        json_object *doc = json_tokener_parse((const char *)sqlite3_column_text(s, 4));
        snprintf(out->auth_type, sizeof out->auth_type, "%s", nb_str(doc, "AuthType") ? nb_str(doc, "AuthType") : "");
        snprintf(out->invoke_mode, sizeof out->invoke_mode, "%s",
                 nb_str(doc, "InvokeMode") ? nb_str(doc, "InvokeMode") : "BUFFERED");
        out->cors = doc ? lm_copy(nb_get(doc, "Cors")) : NULL;
        json_object_put(doc);
        found = true;
    }
    sqlite3_reset(s);
    return found;
}

/* ---- recursion and runtime management ------------------------------------------------------ */

nb_status lm_put_recursion(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = unqualified_fn(call, in, &r);
    if (!fn)
        return NB_ERROR;
    lm_set(fn, "Recursion", lm_jstr(nb_str(in, "RecursiveLoop")));
    lm_fn_save(&r, fn);
    json_object_put(fn);
    call->out = json_object_new_object();
    lm_set(call->out, "RecursiveLoop", lm_jstr(nb_str(in, "RecursiveLoop")));
    return NB_OK;
}

nb_status lm_get_recursion(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = unqualified_fn(call, in, &r);
    if (!fn)
        return NB_ERROR;
    const char *v = nb_str(fn, "Recursion");
    call->out = json_object_new_object();
    lm_set(call->out, "RecursiveLoop", lm_jstr(v ? v : "Terminate"));
    json_object_put(fn);
    return NB_OK;
}

nb_status lm_put_runtime_management(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    const char *on = nb_str(in, "UpdateRuntimeOn"), *arn = nb_str(in, "RuntimeVersionArn");
    if (strcmp(on, "Manual") == 0 && !arn)
        return lm_fail_param(call, "RuntimeVersionArn is required when UpdateRuntimeOn is Manual.");
    if (strcmp(on, "Manual") != 0 && arn)
        return lm_fail_param(call, "RuntimeVersionArn is only allowed when UpdateRuntimeOn is Manual.");
    json_object *fn = lm_fn_doc(call, &r);
    if (!fn)
        return NB_ERROR;
    json_object *rm = json_object_new_object();
    lm_set(rm, "UpdateRuntimeOn", lm_jstr(on));
    if (arn)
        lm_set(rm, "RuntimeVersionArn", lm_jstr(arn));
    lm_set(fn, "RuntimeManagement", rm);
    lm_fn_save(&r, fn);
    char farn[300];
    lm_fn_arn(&r, r.qual[0] ? r.qual : "$LATEST", farn, sizeof farn);
    call->out = lm_copy(rm);
    lm_set(call->out, "FunctionArn", lm_jstr(farn));
    json_object_put(fn);
    return NB_OK;
}

nb_status lm_get_runtime_management(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *ver = qualified(call, in, &r);
    if (!ver)
        return NB_ERROR;
    json_object_put(ver);
    json_object *fn = lm_fn_doc(call, &r);
    if (!fn)
        return NB_ERROR;
    json_object *rm = nb_get(fn, "RuntimeManagement");
    char farn[300];
    lm_fn_arn(&r, r.qual[0] ? r.qual : "$LATEST", farn, sizeof farn);
    call->out = rm ? lm_copy(rm) : json_object_new_object();
    if (!rm)
        lm_set(call->out, "UpdateRuntimeOn", lm_jstr("Auto"));
    lm_set(call->out, "FunctionArn", lm_jstr(farn));
    json_object_put(fn);
    return NB_OK;
}
