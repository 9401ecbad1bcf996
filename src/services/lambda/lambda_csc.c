/*
 * lambda_csc.c — code signing configs: Create/Get/Update/Delete/List, and
 * attaching one to a function (Put/Get/DeleteFunctionCodeSigningConfig,
 * ListFunctionsByCodeSigningConfig).
 *
 * Configurations are stored and reported; nimbus does not verify code
 * signatures (there is no AWS Signer), so UntrustedArtifactOnDeployment
 * never rejects a deployment.  A config is a "csc" document (parent "",
 * key the csc-... id); the function's attachment is "CodeSigningConfigArn"
 * in its "fn" document.
 */
#include <string.h>

#include "lambda_cp.h"

static bool parse_csc_arn(const nb_call *call, const char *arn, char id[32])
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "arn:aws:lambda:%s:%s:code-signing-config:", call->region,
             call->account);
    size_t pl = strlen(prefix);
    if (strncmp(arn, prefix, pl) != 0 || strlen(arn + pl) != 21 || strncmp(arn + pl, "csc-", 4) != 0)
        return false;
    snprintf(id, 32, "%s", arn + pl);
    return true;
}

static json_object *csc_doc(nb_call *call, const char *arn)
{
    char id[32];
    json_object *doc = parse_csc_arn(call, arn, id) ? lm_doc_get(call->account, call->region, "csc", "", id)
                                                    : NULL;
    if (!doc)
        lm_fail_not_found(call, "The code signing configuration cannot be found. Check that the provided configuration is not deleted: %s.",
                          arn);
    return doc;
}

static json_object *wrap(json_object *doc)
{
    json_object *o = json_object_new_object();
    lm_set(o, "CodeSigningConfig", lm_public(doc));
    return o;
}

static void apply(json_object *doc, json_object *in, const nb_call *call)
{
    if (nb_str(in, "Description"))
        lm_set(doc, "Description", lm_jstr(nb_str(in, "Description")));
    if (nb_get(in, "AllowedPublishers"))
        lm_set(doc, "AllowedPublishers", lm_copy(nb_get(in, "AllowedPublishers")));
    json_object *pol = nb_get(in, "CodeSigningPolicies");
    if (pol || !nb_get(doc, "CodeSigningPolicies")) {
        json_object *p = json_object_new_object();
        const char *v = pol ? nb_str(pol, "UntrustedArtifactOnDeployment") : NULL;
        lm_set(p, "UntrustedArtifactOnDeployment", lm_jstr(v ? v : "Warn"));
        lm_set(doc, "CodeSigningPolicies", p);
    }
    char ts[40];
    lm_timestamp(call->now_ms, ts);
    lm_set(doc, "LastModified", lm_jstr(ts));
}

nb_status lm_create_csc(nb_call *call, json_object *in)
{
    static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char id[32] = "csc-", arn[160];
    for (int i = 0; i < 17; i++)
        id[4 + i] = ALNUM[nb_rand64() % 36];
    id[21] = 0;
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:code-signing-config:%s", call->region, call->account, id);
    json_object *doc = json_object_new_object();
    lm_set(doc, "CodeSigningConfigId", lm_jstr(id));
    lm_set(doc, "CodeSigningConfigArn", lm_jstr(arn));
    lm_set(doc, "Description", lm_jstr(""));
    json_object *tags = nb_get(in, "Tags");
    lm_set(doc, "_Tags", tags ? lm_copy(tags) : json_object_new_object());
    apply(doc, in, call);
    lm_doc_put(call->account, call->region, "csc", "", id, 0, doc);
    call->out = wrap(doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_get_csc(nb_call *call, json_object *in)
{
    json_object *doc = csc_doc(call, nb_str(in, "CodeSigningConfigArn"));
    if (!doc)
        return NB_ERROR;
    call->out = wrap(doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_update_csc(nb_call *call, json_object *in)
{
    json_object *doc = csc_doc(call, nb_str(in, "CodeSigningConfigArn"));
    if (!doc)
        return NB_ERROR;
    apply(doc, in, call);
    lm_doc_put(call->account, call->region, "csc", "", nb_str(doc, "CodeSigningConfigId"), 0, doc);
    call->out = wrap(doc);
    json_object_put(doc);
    return NB_OK;
}

/* Functions in the account and region using arn (an array of ARNs). */
static json_object *users(const nb_call *call, const char *arn)
{
    json_object *fns = lm_doc_list(call->account, call->region, "fn", "");
    json_object *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(fns); i < n; i++) {
        json_object *f = json_object_array_get_idx(fns, i);
        const char *c = nb_str(f, "CodeSigningConfigArn");
        if (c && strcmp(c, arn) == 0) {
            lm_ref r;
            memset(&r, 0, sizeof r);
            snprintf(r.account, sizeof r.account, "%s", call->account);
            snprintf(r.region, sizeof r.region, "%s", call->region);
            snprintf(r.name, sizeof r.name, "%s", nb_str(f, "Name"));
            char farn[256];
            lm_fn_arn(&r, NULL, farn, sizeof farn);
            json_object_array_add(out, lm_jstr(farn));
        }
    }
    json_object_put(fns);
    return out;
}

nb_status lm_delete_csc(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "CodeSigningConfigArn");
    json_object *doc = csc_doc(call, arn);
    if (!doc)
        return NB_ERROR;
    json_object *u = users(call, arn);
    size_t n = json_object_array_length(u);
    json_object_put(u);
    if (n) {
        json_object_put(doc);
        return lm_fail_conflict(call, "The code signing configuration %s is used by %zu function(s); detach it first.",
                                arn, n);
    }
    lm_doc_del(call->account, call->region, "csc", "", nb_str(doc, "CodeSigningConfigId"));
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_list_cscs(nb_call *call, json_object *in)
{
    lm_list_out(call, in, lm_doc_list(call->account, call->region, "csc", ""), "CodeSigningConfigs", 50);
    return NB_OK;
}

nb_status lm_list_functions_by_csc(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "CodeSigningConfigArn");
    json_object *doc = csc_doc(call, arn);
    if (!doc)
        return NB_ERROR;
    json_object_put(doc);
    lm_list_out(call, in, users(call, arn), "FunctionArns", 50);
    return NB_OK;
}

nb_status lm_csc_check(nb_call *call, const char *arn)
{
    json_object *doc = csc_doc(call, arn);
    json_object_put(doc);
    return doc ? NB_OK : NB_ERROR;
}

static json_object *fn_of(nb_call *call, json_object *in, lm_ref *r)
{
    return lm_parse(call, nb_str(in, "FunctionName"), NULL, r) == NB_OK ? lm_fn_doc(call, r) : NULL;
}

nb_status lm_put_function_csc(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = fn_of(call, in, &r);
    if (!fn)
        return NB_ERROR;
    const char *arn = nb_str(in, "CodeSigningConfigArn");
    if (lm_csc_check(call, arn) != NB_OK) {
        json_object_put(fn);
        return NB_ERROR;
    }
    lm_set(fn, "CodeSigningConfigArn", lm_jstr(arn));
    lm_fn_save(&r, fn);
    json_object_put(fn);
    call->out = json_object_new_object();
    lm_set(call->out, "CodeSigningConfigArn", lm_jstr(arn));
    lm_set(call->out, "FunctionName", lm_jstr(r.name));
    return NB_OK;
}

nb_status lm_get_function_csc(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = fn_of(call, in, &r);
    if (!fn)
        return NB_ERROR;
    const char *arn = nb_str(fn, "CodeSigningConfigArn");
    call->out = json_object_new_object();
    lm_set(call->out, "CodeSigningConfigArn", lm_jstr(arn ? arn : ""));
    lm_set(call->out, "FunctionName", lm_jstr(r.name));
    json_object_put(fn);
    return NB_OK;
}

nb_status lm_delete_function_csc(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = fn_of(call, in, &r);
    if (!fn)
        return NB_ERROR;
    json_object_object_del(fn, "CodeSigningConfigArn");
    lm_fn_save(&r, fn);
    json_object_put(fn);
    return NB_OK;
}
