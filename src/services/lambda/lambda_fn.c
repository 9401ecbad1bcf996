/*
 * lambda_fn.c — functions, code, versions and aliases, and the seam's
 * lm_resolve.
 *
 * A function is an "fn" document (tags, reserved concurrency, the next
 * version number) plus one "ver" document per version: "$LATEST" (the
 * mutable one) and the published versions 1, 2, ..., each a
 * FunctionConfiguration as AWS renders it.  Publishing a $LATEST whose
 * code and configuration equal the latest version's (compared without
 * the members that name or date a version) returns that version, as AWS
 * does.
 *
 * States.  Stored documents are Active / Successful.  CreateFunction and
 * PublishVersion answer State Pending (StateReasonCode Creating), updates
 * LastUpdateStatus InProgress; the next read shows Active / Successful, so
 * the SDK waiters (function_active_v2, function_updated_v2,
 * published_version_active) finish on their first poll -- except while
 * execution prepares a runtime (the Java build, lm_exec_pending): then
 * its functions read Pending / InProgress until it is done.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "lambda_cp.h"

/* ---- runtimes --------------------------------------------------------------------- */

/* Runtimes AWS no longer accepts for creating or updating functions, and
 * the runtime its message recommends (lambda-runtimes.html, "Deprecated
 * runtimes": block function create and update dates passed). */
static const struct {
    const char *runtime, *successor;
} BLOCKED[] = {
    {"nodejs", "nodejs24.x"},        {"nodejs4.3", "nodejs24.x"},    {"nodejs4.3-edge", "nodejs24.x"},
    {"nodejs6.10", "nodejs24.x"},    {"nodejs8.10", "nodejs24.x"},   {"nodejs10.x", "nodejs24.x"},
    {"nodejs12.x", "nodejs24.x"},    {"nodejs14.x", "nodejs24.x"},   {"nodejs16.x", "nodejs24.x"},
    {"nodejs18.x", "nodejs24.x"},    {"python2.7", "python3.14"},    {"python3.6", "python3.14"},
    {"python3.7", "python3.14"},     {"python3.8", "python3.14"},    {"java8", "java25"},
    {"dotnetcore1.0", "dotnet10"},   {"dotnetcore2.0", "dotnet10"},  {"dotnetcore2.1", "dotnet10"},
    {"dotnetcore3.1", "dotnet10"},   {"dotnet6", "dotnet10"},        {"ruby2.5", "ruby3.4"},
    {"ruby2.7", "ruby3.4"},          {"go1.x", "provided.al2023"},   {"provided", "provided.al2023"},
};

static nb_status check_runtime(nb_call *call, const char *rt)
{
    for (size_t i = 0; rt && i < sizeof BLOCKED / sizeof BLOCKED[0]; i++)
        if (strcmp(rt, BLOCKED[i].runtime) == 0)
            return lm_fail_param(call,
                                 "The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime (%s) while creating or updating functions.",
                                 rt, BLOCKED[i].successor);
    return NB_OK;
}

/* ---- small checks ------------------------------------------------------------------- */

static bool role_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_+=,.@-/", c) != NULL;
}

/* arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+ */
static bool valid_role(const char *s)
{
    if (strncmp(s, "arn:", 4) != 0)
        return false;
    s += 4;
    if (strncmp(s, "aws", 3) == 0) {
        s += 3;
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-')
            s++;
    }
    if (strncmp(s, ":iam::", 6) != 0)
        return false;
    s += 6;
    for (int i = 0; i < 12; i++, s++)
        if (*s < '0' || *s > '9')
            return false;
    if (strncmp(s, ":role", 5) != 0)
        return false;
    s += 5;
    if (*s == '/')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (!role_char(*s))
            return false;
    return true;
}

static const char *const RESERVED_ENV[] = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", NULL};

static nb_status check_environment(nb_call *call, json_object *env)
{
    json_object *vars = nb_get(env, "Variables");
    if (!vars)
        return NB_OK;
    nb_buf used = {0};
    json_object_object_foreach(vars, k, v)
    {
        (void)v;
        for (int i = 0; RESERVED_ENV[i]; i++)
            if (strcmp(k, RESERVED_ENV[i]) == 0) {
                if (used.len)
                    nb_buf_adds(&used, ", ");
                nb_buf_adds(&used, k);
            }
    }
    if (used.len) {
        nb_status st = lm_fail_param(call,
                                     "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s",
                                     used.data);
        nb_buf_free(&used);
        return st;
    }
    const char *txt = json_object_to_json_string_ext(vars, JSON_C_TO_STRING_PLAIN);
    if (strlen(txt) > LM_ENV_MAX)
        return lm_fail_param(call,
                             "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %.200s",
                             txt);
    return NB_OK;
}

static nb_status check_range(nb_call *call, json_object *in, const char *member, int64_t hi)
{
    int64_t v;
    if (nb_int(in, member, &v) && v > hi) {
        char path[32];
        snprintf(path, sizeof path, "%s", member);
        path[0] = (char)(path[0] + 32);
        return lm_fail_validation(call,
                                  "1 validation error detected: Value '%lld' at '%s' failed to satisfy constraint: Member must have value less than or equal to %lld",
                                  (long long)v, path, (long long)hi);
    }
    return NB_OK;
}

/* ---- documents -------------------------------------------------------------------------- */

json_object *lm_fn_doc(nb_call *call, const lm_ref *r)
{
    json_object *fn = lm_doc_get(r->account, r->region, "fn", "", r->name);
    if (!fn && call) {
        char arn[256];
        lm_fn_arn(r, NULL, arn, sizeof arn);
        lm_fail_not_found(call, "Function not found: %s", arn);
    }
    return fn;
}

void lm_fn_save(const lm_ref *r, json_object *fn)
{
    lm_doc_put(r->account, r->region, "fn", "", r->name, 0, fn);
}

static void save_version(const lm_ref *r, json_object *ver)
{
    const char *v = nb_str(ver, "Version");
    int64_t seq = strcmp(v, "$LATEST") == 0 ? 0 : strtoll(v, NULL, 10);
    lm_doc_put(r->account, r->region, "ver", r->name, v, seq, ver);
}

void lm_touch_version(const lm_ref *r, json_object *ver)
{
    char rev[37];
    lm_revision(rev);
    lm_set(ver, "RevisionId", lm_jstr(rev));
    save_version(r, ver);
}

static json_object *alias_doc(const lm_ref *r, const char *alias)
{
    return lm_doc_get(r->account, r->region, "alias", r->name, alias);
}

json_object *lm_version_doc(nb_call *call, const lm_ref *r, const char *qual)
{
    const char *q = qual && *qual ? qual : "$LATEST";
    json_object *ver = NULL;
    if (strcmp(q, "$LATEST") == 0 || lm_is_number(q)) {
        ver = lm_doc_get(r->account, r->region, "ver", r->name, q);
    } else {
        json_object *a = alias_doc(r, q);
        if (a)
            ver = lm_doc_get(r->account, r->region, "ver", r->name, nb_str(a, "FunctionVersion"));
        json_object_put(a);
    }
    if (!ver && call) {
        char arn[300];
        lm_fn_arn(r, qual, arn, sizeof arn);
        lm_fail_not_found(call, "Function not found: %s", arn);
    }
    return ver;
}

void lm_drop_qualifier(const lm_ref *r, const char *qual)
{
    lm_doc_del(r->account, r->region, "pol", r->name, qual);
    lm_doc_del(r->account, r->region, "eic", r->name, qual);
    lm_doc_del(r->account, r->region, "url", r->name, qual);
}

/* A response copy of ver with the transition the call started. */
static json_object *pending(json_object *ver, bool create)
{
    json_object *o = lm_public(ver);
    if (create) {
        lm_set(o, "State", lm_jstr("Pending"));
        lm_set(o, "StateReason", lm_jstr("The function is being created."));
        lm_set(o, "StateReasonCode", lm_jstr("Creating"));
    } else {
        lm_set(o, "LastUpdateStatus", lm_jstr("InProgress"));
        lm_set(o, "LastUpdateStatusReason", lm_jstr("The function is being created."));
        lm_set(o, "LastUpdateStatusReasonCode", lm_jstr("Creating"));
    }
    return o;
}

static void bump_change(json_object *ver, const nb_call *call)
{
    char ts[40];
    lm_timestamp(call->now_ms, ts);
    lm_set(ver, "LastModified", lm_jstr(ts));
}

/* ---- configuration (CreateFunction, UpdateFunctionConfiguration) -------------------------- */

static nb_status set_layers(nb_call *call, json_object *ver, json_object *layers, int64_t *unzipped)
{
    size_t n = json_object_array_length(layers);
    if (n > LM_MAX_LAYERS)
        return lm_fail_param(call, "Cannot reference more than %d layers.", LM_MAX_LAYERS);
    nb_buf all = {0};
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        const char *arn = json_object_get_string(json_object_array_get_idx(layers, i));
        nb_buf_adds(&all, i ? ", " : "[");
        nb_buf_adds(&all, arn);
        bad = bad || !lm_layer_arn_ok(call, arn);
    }
    nb_buf_adds(&all, "]");
    if (bad) {
        lm_fail_validation(call,
                           "1 validation error detected: Value '%.300s' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)]",
                           all.data);
        nb_buf_free(&all);
        return NB_ERROR;
    }
    nb_buf_free(&all);
    json_object *out = json_object_new_array(), *shas = json_object_new_array();
    *unzipped = 0;
    for (size_t i = 0; i < n; i++) {
        const char *arn = json_object_get_string(json_object_array_get_idx(layers, i));
        json_object *lv = lm_layer_for_function(call, arn);
        if (!lv) {
            json_object_put(out);
            json_object_put(shas);
            return NB_ERROR;
        }
        json_object *content = nb_get(lv, "Content");
        json_object *item = json_object_new_object();
        lm_set(item, "Arn", lm_jstr(nb_str(lv, "LayerVersionArn")));
        int64_t size = 0;
        nb_int(content, "CodeSize", &size);
        lm_set(item, "CodeSize", json_object_new_int64(size));
        json_object_array_add(out, item);
        json_object_array_add(shas, lm_jstr(nb_str(content, "CodeSha256")));
        *unzipped += lm_code_unzipped(nb_str(content, "CodeSha256"));
        json_object_put(lv);
    }
    if (n) {
        lm_set(ver, "Layers", out);
        lm_set(ver, "_LayerShas", shas);
    } else {
        json_object_put(out);
        json_object_put(shas);
        json_object_object_del(ver, "Layers");
        json_object_object_del(ver, "_LayerShas");
    }
    return NB_OK;
}

static void runtime_version(json_object *ver, const lm_ref *r)
{
    const char *rt = nb_str(ver, "Runtime");
    if (!rt)
        return;
    char hex[33], arn[160];
    nb_md5_hex(rt, strlen(rt), hex);
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s::runtime:%s%s", r->region, hex, hex);
    json_object *rvc = json_object_new_object();
    lm_set(rvc, "RuntimeVersionArn", lm_jstr(arn));
    lm_set(ver, "RuntimeVersionConfig", rvc);
}

/* Apply the configuration members of in (CreateFunction or
 * UpdateFunctionConfiguration) to ver; *layers_unzipped gets the layers'
 * unzipped size when Layers was given (else stays). */
static nb_status apply_config(nb_call *call, const lm_ref *r, json_object *in, json_object *ver,
                              int64_t *layers_unzipped)
{
    const char *role = nb_str(in, "Role");
    if (role && !valid_role(role))
        return lm_fail_pattern(call, "Role", role);
    const char *handler = nb_str(in, "Handler");
    if (handler && (!*handler || strpbrk(handler, " \t\r\n\f\v")))
        return lm_fail_pattern(call, "Handler", handler);
    if (check_range(call, in, "MemorySize", 10240) != NB_OK || check_range(call, in, "Timeout", 900) != NB_OK)
        return NB_ERROR;
    const char *rt = nb_str(in, "Runtime");
    if (check_runtime(call, rt ? rt : nb_str(ver, "Runtime")) != NB_OK)
        return NB_ERROR;
    json_object *env = nb_get(in, "Environment");
    if (env && check_environment(call, env) != NB_OK)
        return NB_ERROR;
    static const char *const COPY[] = {"Role", "Handler", "Description", "Timeout", "MemorySize",
                                       "Runtime", "KMSKeyArn", "DeadLetterConfig", NULL};
    for (int i = 0; COPY[i]; i++) {
        json_object *v = nb_get(in, COPY[i]);
        if (v)
            lm_set(ver, COPY[i], lm_copy(v));
    }
    if (env) {
        json_object *e = json_object_new_object();
        json_object *vars = nb_get(env, "Variables");
        lm_set(e, "Variables", vars ? lm_copy(vars) : json_object_new_object());
        lm_set(ver, "Environment", e);
    }
    json_object *tc = nb_get(in, "TracingConfig");
    if (tc) {
        json_object *t = json_object_new_object();
        lm_set(t, "Mode", lm_jstr(nb_str(tc, "Mode") ? nb_str(tc, "Mode") : "PassThrough"));
        lm_set(ver, "TracingConfig", t);
    }
    json_object *es = nb_get(in, "EphemeralStorage");
    if (es)
        lm_set(ver, "EphemeralStorage", lm_copy(es));
    json_object *vpc = nb_get(in, "VpcConfig");
    if (vpc) {
        json_object *v = lm_copy(vpc);
        if (!nb_get(v, "SubnetIds"))
            lm_set(v, "SubnetIds", json_object_new_array());
        if (!nb_get(v, "SecurityGroupIds"))
            lm_set(v, "SecurityGroupIds", json_object_new_array());
        lm_set(v, "VpcId", lm_jstr(json_object_array_length(nb_get(v, "SubnetIds")) ? "vpc-nimbus" : ""));
        lm_set(ver, "VpcConfig", v);
    }
    json_object *fsc = nb_get(in, "FileSystemConfigs");
    if (fsc)
        lm_set(ver, "FileSystemConfigs", lm_copy(fsc));
    json_object *ss = nb_get(in, "SnapStart");
    if (ss) {
        json_object *s = json_object_new_object();
        lm_set(s, "ApplyOn", lm_jstr(nb_str(ss, "ApplyOn") ? nb_str(ss, "ApplyOn") : "None"));
        lm_set(s, "OptimizationStatus", lm_jstr("Off"));
        lm_set(ver, "SnapStart", s);
    }
    json_object *lc = nb_get(in, "LoggingConfig");
    if (lc) {
        json_object *l = lm_copy(nb_get(ver, "LoggingConfig"));
        if (!l)
            l = json_object_new_object();
        json_object_object_foreach(lc, k, v) lm_set(l, k, lm_copy(v));
        const char *fmt = nb_str(l, "LogFormat");
        if (!fmt)
            lm_set(l, "LogFormat", lm_jstr(fmt = "Text"));
        if (strcmp(fmt, "JSON") == 0) {
            if (!nb_get(l, "ApplicationLogLevel"))
                lm_set(l, "ApplicationLogLevel", lm_jstr("INFO"));
            if (!nb_get(l, "SystemLogLevel"))
                lm_set(l, "SystemLogLevel", lm_jstr("INFO"));
        } else {
            json_object_object_del(l, "ApplicationLogLevel");
            json_object_object_del(l, "SystemLogLevel");
        }
        if (!nb_get(l, "LogGroup")) {
            char lg[128];
            snprintf(lg, sizeof lg, "/aws/lambda/%s", r->name);
            lm_set(l, "LogGroup", lm_jstr(lg));
        }
        lm_set(ver, "LoggingConfig", l);
    }
    json_object *layers = nb_get(in, "Layers");
    if (layers && set_layers(call, ver, layers, layers_unzipped) != NB_OK)
        return NB_ERROR;
    if (rt)
        runtime_version(ver, r);
    return NB_OK;
}

/* ---- versions ------------------------------------------------------------------------------- */

static json_object *last_published(const lm_ref *r)
{
    json_object *all = lm_doc_list(r->account, r->region, "ver", r->name);
    size_t n = json_object_array_length(all);
    json_object *last = n > 1 ? json_object_get(json_object_array_get_idx(all, n - 1)) : NULL;
    json_object_put(all);
    return last;
}

/* A version's code and configuration as text, without what names, dates
 * or describes the version itself. */
static char *fingerprint(json_object *ver)
{
    static const char *const VOLATILE[] = {"FunctionArn", "Version", "RevisionId", "LastModified",
                                           "Description", "State", "StateReason", "StateReasonCode",
                                           "LastUpdateStatus", "LastUpdateStatusReason",
                                           "LastUpdateStatusReasonCode", NULL};
    json_object *c = lm_public(ver);
    for (int i = 0; VOLATILE[i]; i++)
        json_object_object_del(c, VOLATILE[i]);
    char *s = nb_strdup(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
    json_object_put(c);
    return s;
}

/* Publish $LATEST (or return the latest version when nothing changed). */
static json_object *publish(const nb_call *call, const lm_ref *r, json_object *fn, json_object *latest,
                            const char *description, bool *created)
{
    json_object *last = last_published(r);
    *created = false;
    if (last) {
        char *a = fingerprint(last), *b = fingerprint(latest);
        bool same = strcmp(a, b) == 0;
        free(a);
        free(b);
        if (same)
            return last;
    }
    json_object_put(last);
    int64_t next = 1;
    nb_int(fn, "NextVersion", &next);
    char num[24], arn[300];
    snprintf(num, sizeof num, "%lld", (long long)next);
    json_object *v = lm_copy(latest);
    lm_set(v, "Version", lm_jstr(num));
    lm_fn_arn(r, num, arn, sizeof arn);
    lm_set(v, "FunctionArn", lm_jstr(arn));
    if (description)
        lm_set(v, "Description", lm_jstr(description));
    char ts[40];
    lm_timestamp(call->now_ms, ts);
    lm_set(v, "LastModified", lm_jstr(ts));
    lm_touch_version(r, v);
    lm_set(fn, "NextVersion", json_object_new_int64(next + 1));
    lm_fn_save(r, fn);
    *created = true;
    return v;
}

/* Answer a create or update of $LATEST (ver), publishing it first when
 * asked; releases fn and ver. */
static nb_status answer(nb_call *call, const lm_ref *r, json_object *fn, json_object *ver, bool publish_it,
                        bool create)
{
    json_object *shown = ver;
    bool created = false;
    if (publish_it)
        shown = publish(call, r, fn, ver, NULL, &created);
    lm_exec_prepare(nb_str(ver, "Runtime"));
    call->out = pending(shown, create || created);
    if (shown != ver)
        json_object_put(shown);
    json_object_put(ver);
    json_object_put(fn);
    return NB_OK;
}

/* ---- CreateFunction ---------------------------------------------------------------------------- */

static nb_status code_of(nb_call *call, json_object *code, int64_t layers_unzipped, char sha[48],
                         int64_t *size, int64_t *unzipped)
{
    json_object *zip = nb_get(code, "ZipFile");
    if (nb_get(code, "ImageUri"))
        return lm_fail_param(call,
                             "nimbus does not run container images: ImageUri is not supported; upload a .zip file (ZipFile).");
    if (zip) {
        *size = json_object_get_string_len(zip);
        return lm_code_put(call, json_object_get_string(zip), (size_t)*size, layers_unzipped, sha,
                           unzipped);
    }
    if (nb_str(code, "S3Bucket") || nb_str(code, "S3Key"))
        return lm_code_s3(call, code);
    return lm_fail_param(call, "Please provide a source for function code.");
}

nb_status lm_create_function(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_parse(call, nb_str(in, "FunctionName"), NULL, &r) != NB_OK)
        return NB_ERROR;
    if (r.qual[0])
        return lm_fail_pattern(call, "FunctionName", nb_str(in, "FunctionName"));
    const char *pt = nb_str(in, "PackageType");
    if (pt && strcmp(pt, "Image") == 0)
        return lm_fail_param(call,
                             "nimbus does not run container images: PackageType Image is not supported; use PackageType Zip.");
    if (!nb_str(in, "Runtime") || !nb_str(in, "Handler"))
        return lm_fail_param(call,
                             "Runtime and Handler are mandatory parameters for functions created with deployment packages.");
    const char *csc = nb_str(in, "CodeSigningConfigArn");
    if (csc && lm_csc_check(call, csc) != NB_OK)
        return NB_ERROR;
    json_object *old = lm_fn_doc(NULL, &r);
    if (old) {
        json_object_put(old);
        return lm_fail_conflict(call, "Function already exist: %s", r.name);
    }
    char arn[256], ts[40], lg[128];
    lm_fn_arn(&r, NULL, arn, sizeof arn);
    lm_timestamp(call->now_ms, ts);
    snprintf(lg, sizeof lg, "/aws/lambda/%s", r.name);
    json_object *ver = json_object_new_object();
    lm_set(ver, "FunctionName", lm_jstr(r.name));
    lm_set(ver, "FunctionArn", lm_jstr(arn));
    lm_set(ver, "Description", lm_jstr(""));
    lm_set(ver, "Timeout", json_object_new_int(3));
    lm_set(ver, "MemorySize", json_object_new_int(128));
    lm_set(ver, "LastModified", lm_jstr(ts));
    lm_set(ver, "Version", lm_jstr("$LATEST"));
    json_object *tc = json_object_new_object();
    lm_set(tc, "Mode", lm_jstr("PassThrough"));
    lm_set(ver, "TracingConfig", tc);
    lm_set(ver, "State", lm_jstr("Active"));
    lm_set(ver, "LastUpdateStatus", lm_jstr("Successful"));
    lm_set(ver, "PackageType", lm_jstr("Zip"));
    json_object *archs = nb_get(in, "Architectures");
    if (archs) {
        lm_set(ver, "Architectures", lm_copy(archs));
    } else {
        json_object *a = json_object_new_array();
        json_object_array_add(a, lm_jstr("x86_64"));
        lm_set(ver, "Architectures", a);
    }
    json_object *es = json_object_new_object();
    lm_set(es, "Size", json_object_new_int(512));
    lm_set(ver, "EphemeralStorage", es);
    json_object *ss = json_object_new_object();
    lm_set(ss, "ApplyOn", lm_jstr("None"));
    lm_set(ss, "OptimizationStatus", lm_jstr("Off"));
    lm_set(ver, "SnapStart", ss);
    json_object *lc = json_object_new_object();
    lm_set(lc, "LogFormat", lm_jstr("Text"));
    lm_set(lc, "LogGroup", lm_jstr(lg));
    lm_set(ver, "LoggingConfig", lc);
    int64_t layers_unzipped = 0, size = 0, unzipped = 0;
    char sha[48];
    if (apply_config(call, &r, in, ver, &layers_unzipped) != NB_OK ||
        code_of(call, nb_get(in, "Code"), layers_unzipped, sha, &size, &unzipped) != NB_OK) {
        json_object_put(ver);
        return NB_ERROR;
    }
    lm_set(ver, "CodeSha256", lm_jstr(sha));
    lm_set(ver, "CodeSize", json_object_new_int64(size));
    lm_touch_version(&r, ver);
    json_object *fn = json_object_new_object();
    json_object *tags = nb_get(in, "Tags");
    lm_set(fn, "Tags", tags ? lm_copy(tags) : json_object_new_object());
    lm_set(fn, "Name", lm_jstr(r.name));
    if (csc)
        lm_set(fn, "CodeSigningConfigArn", lm_jstr(csc));
    lm_set(fn, "NextVersion", json_object_new_int64(1));
    lm_set(fn, "Created", json_object_new_int64(call->now_ms));
    lm_fn_save(&r, fn);
    bool pub = false;
    nb_bool(in, "Publish", &pub);
    return answer(call, &r, fn, ver, pub, true);
}

/* ---- reads ------------------------------------------------------------------------------------ */

/* A configuration as shown: Pending while execution prepares its runtime
 * (the SDK's function_active waiters poll until it is Active). */
static json_object *shown(json_object *ver)
{
    json_object *o = lm_public(ver);
    if (lm_exec_pending(nb_str(ver, "Runtime"))) {
        lm_set(o, "State", lm_jstr("Pending"));
        lm_set(o, "StateReason", lm_jstr("The function is being created."));
        lm_set(o, "StateReasonCode", lm_jstr("Creating"));
        lm_set(o, "LastUpdateStatus", lm_jstr("InProgress"));
        lm_set(o, "LastUpdateStatusReason", lm_jstr("The function is being created."));
        lm_set(o, "LastUpdateStatusReasonCode", lm_jstr("Creating"));
    }
    return o;
}

nb_status lm_get_function(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_parse(call, nb_str(in, "FunctionName"), nb_str(in, "Qualifier"), &r) != NB_OK)
        return NB_ERROR;
    json_object *fn = lm_fn_doc(call, &r);
    if (!fn)
        return NB_ERROR;
    json_object *ver = lm_version_doc(call, &r, r.qual);
    if (!ver) {
        json_object_put(fn);
        return NB_ERROR;
    }
    json_object *out = json_object_new_object();
    lm_set(out, "Configuration", shown(ver));
    json_object *code = json_object_new_object();
    char url[512];
    lm_code_url(call, nb_str(ver, "CodeSha256"), url, sizeof url);
    lm_set(code, "RepositoryType", lm_jstr("S3"));
    lm_set(code, "Location", lm_jstr(url));
    lm_set(out, "Code", code);
    json_object *tags = nb_get(fn, "Tags");
    if (tags && json_object_object_length(tags))
        lm_set(out, "Tags", lm_copy(tags));
    int64_t reserved;
    if (nb_int(fn, "Reserved", &reserved)) {
        json_object *c = json_object_new_object();
        lm_set(c, "ReservedConcurrentExecutions", json_object_new_int64(reserved));
        lm_set(out, "Concurrency", c);
    }
    call->out = out;
    json_object_put(ver);
    json_object_put(fn);
    return NB_OK;
}

nb_status lm_get_function_configuration(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_parse(call, nb_str(in, "FunctionName"), nb_str(in, "Qualifier"), &r) != NB_OK)
        return NB_ERROR;
    json_object *ver = lm_version_doc(call, &r, r.qual);
    if (!ver)
        return NB_ERROR;
    call->out = shown(ver);
    json_object_put(ver);
    return NB_OK;
}

/* The function's $LATEST for an update: unqualified name, RevisionId
 * matching. */
static json_object *latest_for_update(nb_call *call, json_object *in, lm_ref *r, json_object **fn)
{
    if (lm_parse(call, nb_str(in, "FunctionName"), NULL, r) != NB_OK)
        return NULL;
    if (r->qual[0] && strcmp(r->qual, "$LATEST") != 0) {
        lm_fail_param(call, "Updating a function version or alias is not supported: %s.", r->qual);
        return NULL;
    }
    r->qual[0] = 0;
    *fn = lm_fn_doc(call, r);
    if (!*fn)
        return NULL;
    json_object *ver = lm_version_doc(call, r, NULL);
    const char *rev = nb_str(in, "RevisionId");
    if (ver && rev && strcmp(rev, nb_str(ver, "RevisionId")) != 0) {
        lm_fail_revision(call, "GetFunction");
        json_object_put(ver);
        ver = NULL;
    }
    if (!ver) {
        json_object_put(*fn);
        *fn = NULL;
    }
    return ver;
}

static int64_t layers_size(json_object *ver)
{
    json_object *shas = nb_get(ver, "_LayerShas");
    int64_t total = 0;
    for (size_t i = 0, n = shas ? json_object_array_length(shas) : 0; i < n; i++)
        total += lm_code_unzipped(json_object_get_string(json_object_array_get_idx(shas, i)));
    return total;
}

/* Finish an update of $LATEST: store, retire, publish when asked. */
static nb_status finish_update(nb_call *call, const lm_ref *r, json_object *fn, json_object *ver,
                               bool publish_it)
{
    bump_change(ver, call);
    lm_touch_version(r, ver);
    lm_exec_retire(r->account, r->region, r->name);
    return answer(call, r, fn, ver, publish_it, false);
}

nb_status lm_update_function_code(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = NULL;
    json_object *ver = latest_for_update(call, in, &r, &fn);
    if (!ver)
        return NB_ERROR;
    char sha[48];
    int64_t size = 0, unzipped = 0;
    nb_status st = check_runtime(call, nb_str(ver, "Runtime"));
    if (st == NB_OK)
        st = code_of(call, in, layers_size(ver), sha, &size, &unzipped);
    if (st != NB_OK) {
        json_object_put(ver);
        json_object_put(fn);
        return NB_ERROR;
    }
    char old[48];
    snprintf(old, sizeof old, "%s", nb_str(ver, "CodeSha256"));
    lm_set(ver, "CodeSha256", lm_jstr(sha));
    lm_set(ver, "CodeSize", json_object_new_int64(size));
    json_object *archs = nb_get(in, "Architectures");
    if (archs)
        lm_set(ver, "Architectures", lm_copy(archs));
    bool dry = false;
    if (nb_bool(in, "DryRun", &dry) && dry) {
        call->out = lm_public(ver);
        json_object_put(ver);
        json_object_put(fn);
        lm_code_gc(sha);
        return NB_OK;
    }
    bool pub = false;
    nb_bool(in, "Publish", &pub);
    st = finish_update(call, &r, fn, ver, pub);
    if (strcmp(old, sha) != 0)
        lm_code_gc(old);
    return st;
}

nb_status lm_update_function_configuration(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *fn = NULL;
    json_object *ver = latest_for_update(call, in, &r, &fn);
    if (!ver)
        return NB_ERROR;
    int64_t layers_unzipped = -1;
    json_object *old_shas = lm_copy(nb_get(ver, "_LayerShas"));
    nb_status st = apply_config(call, &r, in, ver, &layers_unzipped);
    if (st == NB_OK && layers_unzipped >= 0 &&
        layers_unzipped + lm_code_unzipped(nb_str(ver, "CodeSha256")) > LM_MAX_UNZIPPED)
        st = lm_fail_param(call, "Function code combined with layers exceeds the maximum allowed size of %lld bytes. The actual size is %lld bytes.",
                           LM_MAX_UNZIPPED, (long long)(layers_unzipped + lm_code_unzipped(nb_str(ver, "CodeSha256"))));
    if (st != NB_OK) {
        json_object_put(old_shas);
        json_object_put(ver);
        json_object_put(fn);
        return NB_ERROR;
    }
    st = finish_update(call, &r, fn, ver, false);
    for (size_t i = 0, n = old_shas ? json_object_array_length(old_shas) : 0; i < n; i++)
        lm_code_gc(json_object_get_string(json_object_array_get_idx(old_shas, i)));
    json_object_put(old_shas);
    return st;
}

/* ---- delete -------------------------------------------------------------------------------------- */

static void gc_version(json_object *ver)
{
    lm_code_gc(nb_str(ver, "CodeSha256"));
    json_object *shas = nb_get(ver, "_LayerShas");
    for (size_t i = 0, n = shas ? json_object_array_length(shas) : 0; i < n; i++)
        lm_code_gc(json_object_get_string(json_object_array_get_idx(shas, i)));
}

static bool alias_uses(json_object *alias, const char *version)
{
    if (strcmp(nb_str(alias, "FunctionVersion"), version) == 0)
        return true;
    json_object *w = nb_get(nb_get(alias, "RoutingConfig"), "AdditionalVersionWeights");
    return w && nb_get(w, version);
}

static nb_status delete_version(nb_call *call, const lm_ref *r)
{
    if (strcmp(r->qual, "$LATEST") == 0)
        return lm_fail_param(call, "$LATEST version cannot be deleted without deleting the function.");
    if (!lm_is_number(r->qual))
        return lm_fail_param(call,
                             "Deletion of aliases is not supported. Use DeleteAlias to delete alias %s.",
                             r->qual);
    json_object *ver = lm_version_doc(call, r, r->qual);
    if (!ver)
        return NB_ERROR;
    json_object *aliases = lm_doc_list(r->account, r->region, "alias", r->name);
    nb_buf names = {0};
    for (size_t i = 0, n = json_object_array_length(aliases); i < n; i++) {
        json_object *a = json_object_array_get_idx(aliases, i);
        if (alias_uses(a, r->qual)) {
            if (names.len)
                nb_buf_adds(&names, ", ");
            nb_buf_adds(&names, nb_str(a, "Name"));
        }
    }
    json_object_put(aliases);
    if (names.len) {
        lm_fail_conflict(call, "Unable to delete version because the following aliases reference it: [%s]",
                         names.data);
        nb_buf_free(&names);
        json_object_put(ver);
        return NB_ERROR;
    }
    lm_doc_del(r->account, r->region, "ver", r->name, r->qual);
    lm_drop_qualifier(r, r->qual);
    gc_version(ver);
    json_object_put(ver);
    lm_exec_retire(r->account, r->region, r->name);
    return NB_OK;
}

nb_status lm_delete_function(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_parse(call, nb_str(in, "FunctionName"), nb_str(in, "Qualifier"), &r) != NB_OK)
        return NB_ERROR;
    json_object *fn = lm_fn_doc(call, &r);
    if (!fn)
        return NB_ERROR;
    json_object_put(fn);
    nb_status st = NB_OK;
    if (r.qual[0]) {
        st = delete_version(call, &r);
    } else {
        json_object *vers = lm_doc_list(r.account, r.region, "ver", r.name);
        static const char *const KINDS[] = {"ver", "alias", "pol", "eic", "url", NULL};
        for (int i = 0; KINDS[i]; i++)
            lm_doc_del(r.account, r.region, KINDS[i], r.name, NULL);
        lm_doc_del(r.account, r.region, "fn", "", r.name);
        for (size_t i = 0, n = json_object_array_length(vers); i < n; i++)
            gc_version(json_object_array_get_idx(vers, i));
        json_object_put(vers);
        lm_exec_retire(r.account, r.region, r.name);
    }
    if (st == NB_OK) {
        call->out = json_object_new_object();
        lm_set(call->out, "StatusCode", json_object_new_int(204));
    }
    return st;
}

/* ---- lists ---------------------------------------------------------------------------------------- */

nb_status lm_fn_require(nb_call *call, const char *function_name, lm_ref *r)
{
    if (lm_parse(call, function_name, NULL, r) != NB_OK)
        return NB_ERROR;
    json_object *fn = lm_fn_doc(call, r);
    json_object_put(fn);
    return fn ? NB_OK : NB_ERROR;
}

nb_status lm_list_functions(nb_call *call, json_object *in)
{
    json_object *all = lm_doc_list(call->account, call->region, "ver", NULL);
    const char *fv = nb_str(in, "FunctionVersion");
    if (!fv || strcmp(fv, "ALL") != 0) {
        json_object *latest = json_object_new_array();
        for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
            json_object *v = json_object_array_get_idx(all, i);
            if (strcmp(nb_str(v, "Version"), "$LATEST") == 0)
                json_object_array_add(latest, json_object_get(v));
        }
        json_object_put(all);
        all = latest;
    }
    lm_list_out(call, in, all, "Functions", 50);
    return NB_OK;
}

nb_status lm_list_versions(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_fn_require(call, nb_str(in, "FunctionName"), &r) != NB_OK)
        return NB_ERROR;
    json_object *all = lm_doc_list(r.account, r.region, "ver", r.name);
    lm_list_out(call, in, all, "Versions", 50);
    return NB_OK;
}

nb_status lm_publish_version(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_parse(call, nb_str(in, "FunctionName"), NULL, &r) != NB_OK)
        return NB_ERROR;
    json_object *fn = lm_fn_doc(call, &r);
    if (!fn)
        return NB_ERROR;
    json_object *latest = lm_version_doc(call, &r, NULL);
    if (!latest) {
        json_object_put(fn);
        return NB_ERROR;
    }
    const char *sha = nb_str(in, "CodeSha256"), *rev = nb_str(in, "RevisionId");
    nb_status st = NB_OK;
    if (sha && strcmp(sha, nb_str(latest, "CodeSha256")) != 0)
        st = lm_fail_param(call,
                           "CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.",
                           sha, nb_str(latest, "CodeSha256"));
    else if (rev && strcmp(rev, nb_str(latest, "RevisionId")) != 0)
        st = lm_fail_revision(call, "GetFunction");
    if (st == NB_OK) {
        bool created = false;
        json_object *v = publish(call, &r, fn, latest, nb_str(in, "Description"), &created);
        call->out = created ? pending(v, true) : lm_public(v);
        json_object_put(v);
    }
    json_object_put(latest);
    json_object_put(fn);
    return st;
}

/* ---- aliases ------------------------------------------------------------------------------------- */

static bool valid_alias(const char *s)
{
    return !lm_is_number(s) && lm_valid_name(s, strlen(s), 128);
}

static bool version_exists(const lm_ref *r, const char *v)
{
    json_object *d = lm_doc_get(r->account, r->region, "ver", r->name, v);
    json_object_put(d);
    return d != NULL;
}

static nb_status check_version(nb_call *call, const lm_ref *r, const char *v)
{
    if (strcmp(v, "$LATEST") != 0 && !lm_is_number(v))
        return lm_fail_pattern(call, "FunctionVersion", v);
    if (version_exists(r, v))
        return NB_OK;
    char arn[300];
    lm_fn_arn(r, v, arn, sizeof arn);
    return lm_fail_not_found(call, "Function not found: %s", arn);
}

static nb_status check_routing(nb_call *call, const lm_ref *r, const char *version, json_object *rc)
{
    json_object *w = nb_get(rc, "AdditionalVersionWeights");
    if (!w || json_object_object_length(w) == 0)
        return NB_OK;
    if (json_object_object_length(w) > 1)
        return lm_fail_param(call, "Number of items in AdditionalVersionWeights must not exceed 1.");
    json_object_object_foreach(w, k, v)
    {
        double d = json_object_get_double(v);
        if (d < 0.0 || d > 1.0)
            return lm_fail_validation(call,
                                      "1 validation error detected: Value '%g' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]",
                                      d);
        if (strcmp(version, "$LATEST") == 0 || strcmp(k, "$LATEST") == 0)
            return lm_fail_param(call, "$LATEST is not supported for an alias pointing to more than 1 version");
        if (!lm_is_number(k))
            return lm_fail_pattern(call, "RoutingConfig", k);
        if (strcmp(k, version) == 0)
            return lm_fail_param(call,
                                 "Invalid function version %s. Function version %s is already included in routing configuration.",
                                 k, k);
        if (check_version(call, r, k) != NB_OK)
            return NB_ERROR;
    }
    return NB_OK;
}

static nb_status alias_ref(nb_call *call, json_object *in, lm_ref *r, const char **name)
{
    *name = nb_str(in, "Name");
    if (lm_parse(call, nb_str(in, "FunctionName"), NULL, r) != NB_OK)
        return NB_ERROR;
    if (!valid_alias(*name))
        return lm_fail_pattern(call, "Name", *name);
    return lm_fn_require(call, nb_str(in, "FunctionName"), r);
}

nb_status lm_create_alias(nb_call *call, json_object *in)
{
    lm_ref r;
    const char *name;
    if (alias_ref(call, in, &r, &name) != NB_OK)
        return NB_ERROR;
    const char *version = nb_str(in, "FunctionVersion");
    if (check_version(call, &r, version) != NB_OK ||
        check_routing(call, &r, version, nb_get(in, "RoutingConfig")) != NB_OK)
        return NB_ERROR;
    char arn[300];
    lm_fn_arn(&r, name, arn, sizeof arn);
    json_object *old = alias_doc(&r, name);
    if (old) {
        json_object_put(old);
        return lm_fail_conflict(call, "Alias already exists: %s", arn);
    }
    json_object *a = json_object_new_object();
    lm_set(a, "AliasArn", lm_jstr(arn));
    lm_set(a, "Name", lm_jstr(name));
    lm_set(a, "FunctionVersion", lm_jstr(version));
    lm_set(a, "Description", lm_jstr(nb_str(in, "Description")));
    json_object *rc = nb_get(in, "RoutingConfig");
    if (rc && lm_len(nb_get(rc, "AdditionalVersionWeights")))
        lm_set(a, "RoutingConfig", lm_copy(rc));
    char rev[37];
    lm_revision(rev);
    lm_set(a, "RevisionId", lm_jstr(rev));
    lm_doc_put(r.account, r.region, "alias", r.name, name, 0, a);
    call->out = a;
    lm_exec_retire(r.account, r.region, r.name);
    return NB_OK;
}

/* The alias GetAlias/UpdateAlias name, or NULL after failing the call. */
static json_object *get_alias_doc(nb_call *call, json_object *in, lm_ref *r)
{
    const char *name;
    if (alias_ref(call, in, r, &name) != NB_OK)
        return NULL;
    json_object *a = alias_doc(r, name);
    if (!a) {
        char arn[300];
        lm_fn_arn(r, name, arn, sizeof arn);
        lm_fail_not_found(call, "Alias not found: %s", arn);
    }
    return a;
}

nb_status lm_get_alias(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *a = get_alias_doc(call, in, &r);
    if (!a)
        return NB_ERROR;
    call->out = a;
    return NB_OK;
}

nb_status lm_update_alias(nb_call *call, json_object *in)
{
    lm_ref r;
    json_object *a = get_alias_doc(call, in, &r);
    if (!a)
        return NB_ERROR;
    const char *name = nb_str(in, "Name");
    const char *rev = nb_str(in, "RevisionId");
    const char *version = nb_str(in, "FunctionVersion");
    if (!version)
        version = nb_str(a, "FunctionVersion");
    json_object *rc = nb_get(in, "RoutingConfig");
    nb_status st = NB_OK;
    if (rev && strcmp(rev, nb_str(a, "RevisionId")) != 0)
        st = lm_fail_revision(call, "GetAlias");
    else if (check_version(call, &r, version) != NB_OK ||
             check_routing(call, &r, version, rc ? rc : nb_get(a, "RoutingConfig")) != NB_OK)
        st = NB_ERROR;
    if (st != NB_OK) {
        json_object_put(a);
        return st;
    }
    lm_set(a, "FunctionVersion", lm_jstr(version));
    if (nb_str(in, "Description"))
        lm_set(a, "Description", lm_jstr(nb_str(in, "Description")));
    if (rc) {
        if (lm_len(nb_get(rc, "AdditionalVersionWeights")))
            lm_set(a, "RoutingConfig", lm_copy(rc));
        else
            json_object_object_del(a, "RoutingConfig");
    }
    char nrev[37];
    lm_revision(nrev);
    lm_set(a, "RevisionId", lm_jstr(nrev));
    lm_doc_put(r.account, r.region, "alias", r.name, name, 0, a);
    call->out = a;
    lm_exec_retire(r.account, r.region, r.name);
    return NB_OK;
}

nb_status lm_delete_alias(nb_call *call, json_object *in)
{
    lm_ref r;
    const char *name;
    if (alias_ref(call, in, &r, &name) != NB_OK)
        return NB_ERROR;
    lm_doc_del(r.account, r.region, "alias", r.name, name);
    lm_drop_qualifier(&r, name);
    lm_exec_retire(r.account, r.region, r.name);
    return NB_OK;
}

nb_status lm_list_aliases(nb_call *call, json_object *in)
{
    lm_ref r;
    if (lm_fn_require(call, nb_str(in, "FunctionName"), &r) != NB_OK)
        return NB_ERROR;
    json_object *all = lm_doc_list(r.account, r.region, "alias", r.name);
    const char *fv = nb_str(in, "FunctionVersion");
    if (fv) {
        json_object *sel = json_object_new_array();
        for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
            json_object *a = json_object_array_get_idx(all, i);
            if (alias_uses(a, fv))
                json_object_array_add(sel, json_object_get(a));
        }
        json_object_put(all);
        all = sel;
    }
    lm_list_out(call, in, all, "Aliases", 50);
    return NB_OK;
}

/* ---- the seam ------------------------------------------------------------------------------------ */

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The version an alias routes this invocation to. */
static const char *route_alias(json_object *alias)
{
    const char *main = nb_str(alias, "FunctionVersion");
    json_object *w = nb_get(nb_get(alias, "RoutingConfig"), "AdditionalVersionWeights");
    if (!w)
        return main;
    double roll = (double)(nb_rand64() >> 11) / 9007199254740992.0; /* [0, 1) */
    json_object_object_foreach(w, k, v)
    {
        if (roll < json_object_get_double(v))
            return k;
    }
    return main;
}

nb_status lm_resolve(nb_call *call, const char *function_name, const char *qualifier, lm_version *out)
{
    memset(out, 0, sizeof *out);
    lm_ref r;
    if (lm_parse(call, function_name, qualifier, &r) != NB_OK)
        return NB_ERROR;
    /* Cached reads: this runs on every Invoke. */
    lm_doc_cache_trim();
    json_object *fn = lm_doc_peek(r.account, r.region, "fn", "", r.name);
    if (!fn) {
        char arn[256];
        lm_fn_arn(&r, NULL, arn, sizeof arn);
        return lm_fail_not_found(call, "Function not found: %s", arn);
    }
    const char *q = r.qual[0] ? r.qual : "$LATEST";
    json_object *ver = NULL;
    if (strcmp(q, "$LATEST") == 0 || lm_is_number(q)) {
        ver = lm_doc_peek(r.account, r.region, "ver", r.name, q);
    } else {
        json_object *a = lm_doc_peek(r.account, r.region, "alias", r.name, q);
        if (a)
            ver = lm_doc_peek(r.account, r.region, "ver", r.name, route_alias(a));
    }
    if (!ver) {
        char arn[300];
        lm_fn_arn(&r, r.qual, arn, sizeof arn);
        return lm_fail_not_found(call, "Function not found: %s", arn);
    }
    copy_str(out->account, sizeof out->account, r.account);
    copy_str(out->region, sizeof out->region, r.region);
    copy_str(out->name, sizeof out->name, r.name);
    copy_str(out->version, sizeof out->version, nb_str(ver, "Version"));
    lm_fn_arn(&r, NULL, out->arn, sizeof out->arn);
    copy_str(out->runtime, sizeof out->runtime, nb_str(ver, "Runtime"));
    copy_str(out->handler, sizeof out->handler, nb_str(ver, "Handler"));
    copy_str(out->role, sizeof out->role, nb_str(ver, "Role"));
    int64_t v = 0;
    out->memory_mb = nb_int(ver, "MemorySize", &v) ? (int)v : 128;
    out->timeout_s = nb_int(ver, "Timeout", &v) ? (int)v : 3;
    out->ephemeral_mb = nb_int(nb_get(ver, "EphemeralStorage"), "Size", &v) ? (int)v : 512;
    out->reserved = nb_int(fn, "Reserved", &v) ? (int)v : -1;
    copy_str(out->code_sha, sizeof out->code_sha, nb_str(ver, "CodeSha256"));
    copy_str(out->revision, sizeof out->revision, nb_str(ver, "RevisionId"));
    json_object *lc = nb_get(ver, "LoggingConfig");
    copy_str(out->log_group, sizeof out->log_group, nb_str(lc, "LogGroup"));
    if (!out->log_group[0])
        snprintf(out->log_group, sizeof out->log_group, "/aws/lambda/%s", r.name);
    copy_str(out->log_format, sizeof out->log_format, nb_str(lc, "LogFormat") ? nb_str(lc, "LogFormat") : "Text");
    const char *mode = nb_str(nb_get(ver, "TracingConfig"), "Mode");
    copy_str(out->tracing, sizeof out->tracing, mode ? mode : "PassThrough");
    json_object *shas = nb_get(ver, "_LayerShas");
    for (size_t i = 0, n = shas ? json_object_array_length(shas) : 0; i < n && i < LM_MAX_LAYERS; i++)
        copy_str(out->layer_sha[out->nlayers++], sizeof out->layer_sha[0],
                 json_object_get_string(json_object_array_get_idx(shas, i)));
    json_object *vars = nb_get(nb_get(ver, "Environment"), "Variables");
    out->env = vars ? json_object_get(vars) : NULL;
    return NB_OK;
}

void lm_version_clear(lm_version *v)
{
    if (v->env)
        json_object_put(v->env);
    v->env = NULL;
}
