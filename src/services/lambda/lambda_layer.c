/*
 * lambda_layer.c — layers: PublishLayerVersion, Get/List/Delete, layer
 * version permissions, and resolving a function's Layers.
 *
 * A layer version is a "layer" document (parent LAYER, key VERSION, seq
 * VERSION) holding PublishLayerVersion's output without Content.Location
 * (rendered per request from the host the client used) and, once
 * permissions are added, "_Policy" {"Statement": [...], "RevisionId"}.
 * Version numbers come from the layer's "lmeta" document and are never
 * reused, even after a delete.  A deleted version's content stays while a
 * function version uses it (lm_code_gc looks at "_LayerShas").
 */
#include <stdlib.h>
#include <string.h>

#include "lambda_cp.h"

typedef struct {
    char account[16];
    char region[32];
    char name[141];
    int64_t version; /* 0 when the ARN had none */
} layer_ref;

static bool valid_layer_name(const char *s, size_t n)
{
    return lm_valid_name(s, n, 140);
}

/* NAME, arn:P:lambda:R:A:layer:NAME or (with_version) ...:NAME:N. */
static bool parse_layer(const nb_call *call, const char *s, bool with_version, layer_ref *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->account, sizeof out->account, "%s", call->account);
    snprintf(out->region, sizeof out->region, "%s", call->region);
    if (strncmp(s, "arn:", 4) != 0) {
        if (with_version || !valid_layer_name(s, strlen(s)))
            return false;
        snprintf(out->name, sizeof out->name, "%s", s);
        return true;
    }
    const char *f[9];
    size_t fl[9];
    int nf = lm_split(s, f, fl);
    if (nf != (with_version ? 8 : 7) || fl[2] != 6 || memcmp(f[2], "lambda", 6) != 0 ||
        fl[5] != 5 || memcmp(f[5], "layer", 5) != 0 || fl[4] != 12 || fl[3] == 0 ||
        fl[3] >= sizeof out->region || !valid_layer_name(f[6], fl[6]))
        return false;
    memcpy(out->region, f[3], fl[3]);
    out->region[fl[3]] = 0;
    memcpy(out->account, f[4], 12);
    out->account[12] = 0;
    memcpy(out->name, f[6], fl[6]);
    out->name[fl[6]] = 0;
    if (with_version) {
        char num[24];
        if (fl[7] == 0 || fl[7] >= sizeof num)
            return false;
        memcpy(num, f[7], fl[7]);
        num[fl[7]] = 0;
        if (!lm_is_number(num))
            return false;
        out->version = strtoll(num, NULL, 10);
    }
    return true;
}

static void layer_arn(const layer_ref *l, int64_t version, char *out, size_t cap)
{
    if (version)
        snprintf(out, cap, "arn:aws:lambda:%s:%s:layer:%s:%lld", l->region, l->account, l->name,
                 (long long)version);
    else
        snprintf(out, cap, "arn:aws:lambda:%s:%s:layer:%s", l->region, l->account, l->name);
}

static json_object *layer_doc(const layer_ref *l, int64_t version)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)version);
    return lm_doc_get(l->account, l->region, "layer", l->name, key);
}

/* The output form: public members, Content.Location for this client. */
static json_object *render(const nb_call *call, json_object *doc)
{
    json_object *o = lm_public(doc);
    json_object *content = nb_get(o, "Content");
    if (content) {
        char url[512];
        lm_code_url(call, nb_str(content, "CodeSha256"), url, sizeof url);
        lm_set(content, "Location", lm_jstr(url));
    }
    return o;
}

static nb_status bad_layer_name(nb_call *call, json_object *in)
{
    return lm_fail_pattern(call, "LayerName", nb_str(in, "LayerName"));
}

bool lm_layer_arn_ok(const nb_call *call, const char *arn)
{
    layer_ref l;
    return parse_layer(call, arn, true, &l) && strlen(arn) <= 140;
}

json_object *lm_layer_for_function(nb_call *call, const char *arn)
{
    layer_ref l;
    json_object *doc = parse_layer(call, arn, true, &l) ? layer_doc(&l, l.version) : NULL;
    if (!doc)
        lm_fail_param(call, "Layer version %s does not exist.", arn);
    return doc;
}

nb_status lm_publish_layer_version(nb_call *call, json_object *in)
{
    layer_ref l;
    if (!parse_layer(call, nb_str(in, "LayerName"), false, &l))
        return bad_layer_name(call, in);
    json_object *content = nb_get(in, "Content");
    json_object *zip = nb_get(content, "ZipFile");
    char sha[48];
    int64_t unzipped = 0, size = 0;
    if (zip) {
        size = json_object_get_string_len(zip);
        if (lm_code_put(call, json_object_get_string(zip), (size_t)size, 0, sha, &unzipped) != NB_OK)
            return NB_ERROR;
    } else if (nb_str(content, "S3Bucket") || nb_str(content, "S3Key")) {
        return lm_code_s3(call, content);
    } else {
        return lm_fail_param(call, "Please provide a source for layer content.");
    }
    json_object *meta = lm_doc_get(l.account, l.region, "lmeta", "", l.name);
    if (!meta)
        meta = json_object_new_object();
    int64_t version = 1;
    nb_int(meta, "Next", &version);
    lm_set(meta, "Next", json_object_new_int64(version + 1));
    lm_doc_put(l.account, l.region, "lmeta", "", l.name, 0, meta);
    json_object_put(meta);
    char larn[256], lvarn[280], ts[40], key[24];
    layer_arn(&l, 0, larn, sizeof larn);
    layer_arn(&l, version, lvarn, sizeof lvarn);
    lm_timestamp(call->now_ms, ts);
    json_object *doc = json_object_new_object();
    json_object *c = json_object_new_object();
    lm_set(c, "CodeSha256", lm_jstr(sha));
    lm_set(c, "CodeSize", json_object_new_int64(size));
    lm_set(doc, "Content", c);
    lm_set(doc, "LayerArn", lm_jstr(larn));
    lm_set(doc, "LayerVersionArn", lm_jstr(lvarn));
    lm_set(doc, "Description", lm_jstr(nb_str(in, "Description")));
    lm_set(doc, "CreatedDate", lm_jstr(ts));
    lm_set(doc, "Version", json_object_new_int64(version));
    static const char *const OPTIONAL[] = {"CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures",
                                           NULL};
    for (int i = 0; OPTIONAL[i]; i++) {
        json_object *v = nb_get(in, OPTIONAL[i]);
        if (v)
            lm_set(doc, OPTIONAL[i], lm_copy(v));
    }
    snprintf(key, sizeof key, "%lld", (long long)version);
    lm_doc_put(l.account, l.region, "layer", l.name, key, version, doc);
    call->out = render(call, doc);
    json_object_put(doc);
    return NB_OK;
}

static json_object *get_version(nb_call *call, json_object *in, layer_ref *l)
{
    if (!parse_layer(call, nb_str(in, "LayerName"), false, l)) {
        bad_layer_name(call, in);
        return NULL;
    }
    int64_t v = 0;
    nb_int(in, "VersionNumber", &v);
    l->version = v;
    json_object *doc = layer_doc(l, v);
    if (!doc)
        lm_fail_no_resource(call);
    return doc;
}

nb_status lm_get_layer_version(nb_call *call, json_object *in)
{
    layer_ref l;
    json_object *doc = get_version(call, in, &l);
    if (!doc)
        return NB_ERROR;
    call->out = render(call, doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_get_layer_version_by_arn(nb_call *call, json_object *in)
{
    layer_ref l;
    const char *arn = nb_str(in, "Arn");
    if (!parse_layer(call, arn, true, &l))
        return lm_fail_pattern(call, "Arn", arn);
    json_object *doc = layer_doc(&l, l.version);
    if (!doc)
        return lm_fail_no_resource(call);
    call->out = render(call, doc);
    json_object_put(doc);
    return NB_OK;
}

static bool contains(json_object *arr, const char *v)
{
    for (size_t i = 0, n = arr ? json_object_array_length(arr) : 0; i < n; i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), v) == 0)
            return true;
    return false;
}

static bool matches(json_object *doc, json_object *in)
{
    const char *rt = nb_str(in, "CompatibleRuntime"), *arch = nb_str(in, "CompatibleArchitecture");
    return (!rt || contains(nb_get(doc, "CompatibleRuntimes"), rt)) &&
           (!arch || contains(nb_get(doc, "CompatibleArchitectures"), arch));
}

static json_object *list_item(json_object *doc)
{
    json_object *o = json_object_new_object();
    static const char *const MEMBERS[] = {"LayerVersionArn", "Version", "Description", "CreatedDate",
                                          "CompatibleRuntimes", "LicenseInfo",
                                          "CompatibleArchitectures", NULL};
    for (int i = 0; MEMBERS[i]; i++) {
        json_object *v = nb_get(doc, MEMBERS[i]);
        if (v)
            lm_set(o, MEMBERS[i], lm_copy(v));
    }
    return o;
}

nb_status lm_list_layers(nb_call *call, json_object *in)
{
    json_object *all = lm_doc_list(call->account, call->region, "layer", NULL);
    json_object *items = json_object_new_array();
    /* Ordered by layer name, then version: keep each name's last match. */
    json_object *best = NULL;
    for (size_t i = 0, n = json_object_array_length(all); i <= n; i++) {
        json_object *d = i < n ? json_object_array_get_idx(all, i) : NULL;
        if (best && (!d || strcmp(nb_str(d, "LayerArn"), nb_str(best, "LayerArn")) != 0)) {
            json_object *it = json_object_new_object();
            const char *arn = nb_str(best, "LayerArn");
            const char *name = strrchr(arn, ':');
            lm_set(it, "LayerName", lm_jstr(name ? name + 1 : arn));
            lm_set(it, "LayerArn", lm_jstr(arn));
            lm_set(it, "LatestMatchingVersion", list_item(best));
            json_object_array_add(items, it);
            best = NULL;
        }
        if (d && matches(d, in))
            best = d;
    }
    json_object_put(all);
    lm_list_out(call, in, items, "Layers", 50);
    return NB_OK;
}

nb_status lm_list_layer_versions(nb_call *call, json_object *in)
{
    layer_ref l;
    if (!parse_layer(call, nb_str(in, "LayerName"), false, &l))
        return bad_layer_name(call, in);
    json_object *all = lm_doc_list(l.account, l.region, "layer", l.name);
    json_object *items = json_object_new_array();
    for (size_t n = json_object_array_length(all); n > 0; n--) {
        json_object *d = json_object_array_get_idx(all, n - 1);
        if (matches(d, in))
            json_object_array_add(items, list_item(d));
    }
    json_object_put(all);
    lm_list_out(call, in, items, "LayerVersions", 50);
    return NB_OK;
}

nb_status lm_delete_layer_version(nb_call *call, json_object *in)
{
    layer_ref l;
    if (!parse_layer(call, nb_str(in, "LayerName"), false, &l))
        return bad_layer_name(call, in);
    int64_t v = 0;
    nb_int(in, "VersionNumber", &v);
    json_object *doc = layer_doc(&l, v);
    if (!doc)
        return NB_OK; /* AWS answers success for a version that is gone */
    char key[24], sha[48];
    snprintf(key, sizeof key, "%lld", (long long)v);
    snprintf(sha, sizeof sha, "%s", nb_str(nb_get(doc, "Content"), "CodeSha256"));
    json_object_put(doc);
    lm_doc_del(l.account, l.region, "layer", l.name, key);
    lm_code_gc(sha);
    return NB_OK;
}

/* ---- layer version permissions ------------------------------------------------------------ */

static bool valid_layer_principal(const char *p)
{
    if (strcmp(p, "*") == 0 || (strlen(p) == 12 && lm_is_number(p)))
        return true;
    if (strncmp(p, "arn:aws", 7) != 0)
        return false;
    const char *iam = strstr(p, ":iam::");
    if (!iam || strlen(iam) != 6 + 12 + 5 || strcmp(iam + 18, ":root") != 0)
        return false;
    char acct[13];
    memcpy(acct, iam + 6, 12);
    acct[12] = 0;
    return lm_is_number(acct);
}

static void save_layer(const layer_ref *l, json_object *doc)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)l->version);
    lm_doc_put(l->account, l->region, "layer", l->name, key, l->version, doc);
}

nb_status lm_add_layer_permission(nb_call *call, json_object *in)
{
    layer_ref l;
    json_object *doc = get_version(call, in, &l);
    if (!doc)
        return NB_ERROR;
    json_object *pol = nb_get(doc, "_Policy");
    const char *rev = nb_str(in, "RevisionId"), *p = nb_str(in, "Principal");
    const char *sid = nb_str(in, "StatementId"), *org = nb_str(in, "OrganizationId");
    nb_status st = NB_OK;
    if (rev && (!pol || strcmp(rev, nb_str(pol, "RevisionId")) != 0))
        st = lm_fail_revision(call, "GetLayerVersionPolicy");
    else if (!valid_layer_principal(p))
        st = lm_fail_pattern(call, "Principal", p);
    else if (org && strcmp(p, "*") != 0)
        st = lm_fail_param(call, "OrganizationId can only be specified with Principal \"*\".");
    if (st == NB_OK && pol && lm_find_statement(nb_get(pol, "Statement"), sid, NULL))
        st = lm_fail_conflict(call,
                                  "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.",
                                  sid);
    if (st != NB_OK) {
        json_object_put(doc);
        return st;
    }
    if (!pol) {
        pol = json_object_new_object();
        lm_set(pol, "Statement", json_object_new_array());
        lm_set(doc, "_Policy", pol);
    }
    json_object *s = json_object_new_object();
    lm_set(s, "Sid", lm_jstr(sid));
    lm_set(s, "Effect", lm_jstr("Allow"));
    if (strcmp(p, "*") == 0) {
        lm_set(s, "Principal", lm_jstr("*"));
    } else {
        char arn[64];
        if (strncmp(p, "arn:", 4) != 0)
            snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", p);
        else
            snprintf(arn, sizeof arn, "%s", p);
        json_object *pr = json_object_new_object();
        lm_set(pr, "AWS", lm_jstr(arn));
        lm_set(s, "Principal", pr);
    }
    lm_set(s, "Action", lm_jstr(nb_str(in, "Action")));
    lm_set(s, "Resource", lm_jstr(nb_str(doc, "LayerVersionArn")));
    if (org) {
        json_object *c = json_object_new_object(), *eq = json_object_new_object();
        lm_set(eq, "aws:PrincipalOrgID", lm_jstr(org));
        lm_set(c, "StringEquals", eq);
        lm_set(s, "Condition", c);
    }
    json_object_array_add(nb_get(pol, "Statement"), s);
    char nrev[37];
    lm_revision(nrev);
    lm_set(pol, "RevisionId", lm_jstr(nrev));
    save_layer(&l, doc);
    call->out = lm_statement_out(s);
    lm_set(call->out, "RevisionId", lm_jstr(nrev));
    json_object_put(doc);
    return NB_OK;
}

nb_status lm_remove_layer_permission(nb_call *call, json_object *in)
{
    layer_ref l;
    json_object *doc = get_version(call, in, &l);
    if (!doc)
        return NB_ERROR;
    json_object *pol = nb_get(doc, "_Policy");
    json_object *stmts = pol ? nb_get(pol, "Statement") : NULL;
    const char *rev = nb_str(in, "RevisionId"), *sid = nb_str(in, "StatementId");
    nb_status st = NB_OK;
    size_t idx = 0;
    if (rev && (!pol || strcmp(rev, nb_str(pol, "RevisionId")) != 0))
        st = lm_fail_revision(call, "GetLayerVersionPolicy");
    else if (!lm_find_statement(stmts, sid, &idx))
        st = lm_fail_not_found(call, "Statement %s is not found in resource policy.", sid);
    if (st == NB_OK) {
        json_object_array_del_idx(stmts, idx, 1);
        if (json_object_array_length(stmts) == 0) {
            json_object_object_del(doc, "_Policy");
        } else {
            char nrev[37];
            lm_revision(nrev);
            lm_set(pol, "RevisionId", lm_jstr(nrev));
        }
        save_layer(&l, doc);
    }
    json_object_put(doc);
    return st;
}

nb_status lm_get_layer_policy(nb_call *call, json_object *in)
{
    layer_ref l;
    json_object *doc = get_version(call, in, &l);
    if (!doc)
        return NB_ERROR;
    json_object *pol = nb_get(doc, "_Policy");
    if (!pol) {
        json_object_put(doc);
        return lm_fail_no_resource(call);
    }
    call->out = lm_policy_out(nb_get(pol, "Statement"), nb_str(pol, "RevisionId"));
    json_object_put(doc);
    return NB_OK;
}
