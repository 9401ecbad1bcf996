/*
 * ar_cp.c — the REST API control plane.  A REST API is one document
 * holding its resource tree (see ar_internal.h); methods, method
 * responses, integrations and integration responses are members of their
 * resource, so every operation on them loads the API, changes it and
 * saves it.  Stages and deployments are rows of their own.
 *
 * Errors and messages are AWS's: NotFoundException "Invalid ... identifier
 * specified", ConflictException for duplicates, BadRequestException for
 * bad values and PatchOperations.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar_internal.h"

#define ID_LEN 10
#define DEPLOY_ID_LEN 6

/* ---- small helpers ------------------------------------------------------------ */

static void set(json_object *o, const char *k, json_object *v) { json_object_object_add(o, k, v); }
static void set_str(json_object *o, const char *k, const char *v) { set(o, k, json_object_new_string(v)); }

static void take(json_object *doc, json_object *in, const char *k)
{
    json_object *v = nb_get(in, k);
    if (v)
        set(doc, k, ag_copy(v));
}

/* Answer o (a reference the caller gives up) without its "_" members. */
static nb_status out(nb_call *call, json_object *o)
{
    call->out = ar_public(o);
    json_object_put(o);
    return NB_OK;
}

/* {"items": [...], "position": ...} pages over arr (taken): position is
 * the index to continue from, limit 1..500 (default 25). */
static nb_status page(nb_call *call, json_object *in, json_object *arr, const char *member)
{
    int64_t limit = 25;
    nb_int(in, "limit", &limit);
    if (limit < 1 || limit > 500) {
        json_object_put(arr);
        return ag_bad(call, "Invalid limit specified: it must be between 1 and 500");
    }
    long long from = 0;
    const char *pos = nb_str(in, "position");
    if (pos) {
        char *end = NULL;
        from = strtoll(pos, &end, 10);
        if (!*pos || *end || from < 0) {
            json_object_put(arr);
            return ag_bad(call, "Invalid position parameter specified");
        }
    }
    json_object *items = json_object_new_array();
    size_t n = json_object_array_length(arr), i = (size_t)from;
    for (; i < n && (int64_t)json_object_array_length(items) < limit; i++)
        json_object_array_add(items, ar_public(json_object_array_get_idx(arr, i)));
    json_object_put(arr);
    call->out = json_object_new_object();
    set(call->out, member, items);
    if (i < n) {
        char t[32];
        snprintf(t, sizeof t, "%zu", i);
        set_str(call->out, "position", t);
    }
    return NB_OK;
}

/* ---- resources, methods, integrations: lookups -------------------------------- */

/* Member k of o, made an empty object when missing. */
static json_object *sub_map_of(json_object *o, const char *k)
{
    json_object *m = nb_get(o, k);
    if (!m) {
        m = json_object_new_object();
        set(o, k, m);
    }
    return m;
}

static json_object *resources(json_object *api)
{
    json_object *r = nb_get(api, AR_RESOURCES);
    if (!r) {
        r = json_object_new_object();
        set(api, AR_RESOURCES, r);
    }
    return r;
}

static json_object *resource(nb_call *call, json_object *api, const char *rid)
{
    json_object *r = rid ? nb_get(resources(api), rid) : NULL;
    if (!r)
        ag_not_found(call, "Invalid Resource identifier specified");
    return r;
}

static json_object *method_of(nb_call *call, json_object *res, const char *http)
{
    json_object *m = http ? nb_get(nb_get(res, "resourceMethods"), http) : NULL;
    if (!m)
        ag_not_found(call, "Invalid Method identifier specified");
    return m;
}

static json_object *integration_of(nb_call *call, json_object *m)
{
    json_object *i = nb_get(m, "methodIntegration");
    if (!i)
        ag_not_found(call, "No integration defined for method");
    return i;
}

/* The API (owned) and the borrowed resource and method the request names;
 * NULL after failing the call. */
typedef struct {
    json_object *api, *res, *method;
} ar_target;

static bool load_target(nb_call *call, json_object *in, ar_target *t, bool need_method)
{
    memset(t, 0, sizeof *t);
    t->api = ar_api(call, nb_str(in, "restApiId"));
    if (!t->api)
        return false;
    t->res = resource(call, t->api, nb_str(in, "resourceId"));
    if (t->res && need_method)
        t->method = method_of(call, t->res, nb_str(in, "httpMethod"));
    if (!t->res || (need_method && !t->method)) {
        json_object_put(t->api);
        return false;
    }
    return true;
}

/* Save the API and answer a copy of the borrowed part o (taken by ref). */
static nb_status save_and_out(nb_call *call, ar_target *t, json_object *o)
{
    json_object_get(o);
    ar_save_api(call, t->api);
    json_object_put(t->api);
    return out(call, o);
}

/* ---- resource paths -------------------------------------------------------------- */

/* "name", "{name}" or "{name+}" with letters, digits, . _ -. */
static bool valid_path_part(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 255)
        return false;
    size_t a = 0, b = n;
    if (p[0] == '{') {
        if (n < 3 || p[n - 1] != '}')
            return false;
        a = 1;
        b = n - 1 - (p[n - 2] == '+');
        if (b <= a)
            return false;
    }
    for (size_t i = a; i < b; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]) && !(a == 0 && p[i] == ':'))
            return false;
    return true;
}

static bool is_var(const char *p) { return p && p[0] == '{'; }
static bool is_greedy(const char *p) { return is_var(p) && strstr(p, "+}") != NULL; }

/* The path of resource r: its parents' path parts joined. */
static void path_of(json_object *rs, json_object *r, char *out, size_t n)
{
    const char *parts[128];
    int np = 0;
    while (r && np < 128) {
        const char *pp = nb_str(r, "pathPart");
        if (!pp)
            break;
        parts[np++] = pp;
        const char *pid = nb_str(r, "parentId");
        r = pid ? nb_get(rs, pid) : NULL;
    }
    size_t used = 0;
    out[0] = 0;
    for (int i = np - 1; i >= 0 && used < n; i--)
        used += (size_t)snprintf(out + used, n - used, "/%s", parts[i]);
    if (np == 0)
        snprintf(out, n, "/");
}

static void repath(json_object *api)
{
    json_object *rs = resources(api);
    json_object_object_foreach(rs, k, r) {
        (void)k;
        char p[4096];
        path_of(rs, r, p, sizeof p);
        set_str(r, "path", p);
    }
}

/* Check pathPart under parent pid for resource self (NULL: a new one). */
static bool check_place(nb_call *call, json_object *api, const char *pid, const char *part,
                        const char *self)
{
    json_object *rs = resources(api);
    json_object *parent = resource(call, api, pid);
    if (!parent)
        return false;
    if (!valid_path_part(part)) {
        ag_bad(call, "Resource's path part only allow a-zA-Z0-9._- and curly braces at the "
                     "beginning and the end and an optional plus sign before the closing brace.");
        return false;
    }
    if (is_greedy(nb_str(parent, "pathPart"))) {
        ag_bad(call, "Cannot create a child of a resource with a greedy path variable: %s",
               nb_str(parent, "pathPart"));
        return false;
    }
    for (const char *p = pid; self && p;) { /* no cycles: parent is not self or below it */
        if (strcmp(p, self) == 0) {
            ag_bad(call, "Resources cannot be moved below themselves");
            return false;
        }
        json_object *x = nb_get(rs, p);
        p = x ? nb_str(x, "parentId") : NULL;
    }
    json_object_object_foreach(rs, id, r) {
        const char *rp = nb_str(r, "parentId"), *pp = nb_str(r, "pathPart");
        if (!rp || strcmp(rp, pid) != 0 || (self && strcmp(id, self) == 0) || !pp)
            continue;
        if (strcmp(pp, part) == 0) {
            ag_conflict(call, "Another resource with the same parent already has this name: %s",
                        part);
            return false;
        }
        if (is_var(pp) && is_var(part)) {
            ag_bad(call, "A sibling (%s) of this resource already has a variable path part -- "
                         "only one is allowed", pp);
            return false;
        }
    }
    return true;
}

/* The Resource as Get*Resource* answers it: methods embedded or as {}. */
static json_object *resource_view(json_object *r, bool embed)
{
    json_object *o = ar_public(r), *ms = nb_get(r, "resourceMethods");
    if (ms && json_object_object_length(ms) == 0) {
        json_object_object_del(o, "resourceMethods");
    } else if (ms && !embed) {
        json_object *e = json_object_new_object();
        json_object_object_foreach(ms, k, v) {
            (void)v;
            set(e, k, json_object_new_object());
        }
        set(o, "resourceMethods", e);
    }
    return o;
}

static bool wants_methods(json_object *in)
{
    json_object *em = nb_get(in, "embed");
    for (size_t i = 0; em && i < json_object_array_length(em); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(em, i)), "methods") == 0)
            return true;
    return false;
}

/* ---- models -------------------------------------------------------------------------- */

static json_object *models(json_object *api) { return sub_map_of(api, AR_MODELS); }

static json_object *model_new(const char *name, const char *desc, const char *schema)
{
    char id[DEPLOY_ID_LEN + 1];
    ag_new_id(id, DEPLOY_ID_LEN);
    json_object *m = json_object_new_object();
    set_str(m, "id", id);
    set_str(m, "name", name);
    if (desc)
        set_str(m, "description", desc);
    if (schema)
        set_str(m, "schema", schema);
    set_str(m, "contentType", "application/json");
    return m;
}

/* The models every new REST API has, as on AWS. */
static void default_models(json_object *api)
{
    set(models(api), "Empty", model_new("Empty", "This is a default empty schema model",
        "{\n  \"$schema\": \"http://json-schema.org/draft-04/schema#\",\n  \"title\" : "
        "\"Empty Schema\",\n  \"type\" : \"object\"\n}"));
    set(models(api), "Error", model_new("Error", "This is a default error schema model",
        "{\n  \"$schema\" : \"http://json-schema.org/draft-04/schema#\",\n  \"title\" : "
        "\"Error Schema\",\n  \"type\" : \"object\",\n  \"properties\" : {\n    "
        "\"message\" : { \"type\" : \"string\" }\n  }\n}"));
}

static bool check_model(nb_call *call, json_object *m)
{
    const char *name = nb_str(m, "name"), *schema = nb_str(m, "schema");
    bool ok = name && name[0];
    for (size_t i = 0; ok && name[i]; i++)
        ok = isalnum((unsigned char)name[i]);
    if (!ok) {
        ag_bad(call, "Model name must be alphanumeric: %s", name ? name : "");
        return false;
    }
    json_object *parsed = schema ? json_tokener_parse(schema) : NULL;
    if (schema && !parsed) {
        ag_bad(call, "Invalid model specified: Validation Result: warnings : [], errors : "
                     "[Invalid model schema specified. Unsupported keyword(s): [] ]");
        return false;
    }
    json_object_put(parsed);
    return true;
}

static json_object *model_of(nb_call *call, json_object *api, const char *name)
{
    json_object *m = name ? nb_get(models(api), name) : NULL;
    if (!m)
        ag_not_found(call, "Invalid model name specified: %s", name ? name : "");
    return m;
}

nb_status ar_op_create_model(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    const char *name = nb_str(in, "name");
    json_object *m = model_new(name, nb_str(in, "description"), nb_str(in, "schema"));
    set_str(m, "contentType", nb_str(in, "contentType"));
    if (!check_model(call, m) ||
        (nb_get(models(a), name) && ag_conflict(call, "Model name already exists for this REST API"))) {
        json_object_put(m);
        json_object_put(a);
        return NB_ERROR;
    }
    set(models(a), name, m);
    ar_target t = {.api = a};
    return save_and_out(call, &t, m);
}

nb_status ar_op_get_model(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    json_object *m = model_of(call, a, nb_str(in, "modelName"));
    if (m)
        call->out = ar_public(m);
    json_object_put(a);
    return m ? NB_OK : NB_ERROR;
}

nb_status ar_op_get_models(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    json_object *arr = json_object_new_array();
    json_object_object_foreach(models(a), k, m) {
        (void)k;
        json_object_array_add(arr, json_object_get(m));
    }
    json_object_put(a);
    return page(call, in, arr, "items");
}

static const ar_patch_path MODEL_PATHS[] = {
    {"/schema", "schema", AR_STR, AR_OP_REPLACE},
    {"/description", "description", AR_STR, AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

nb_status ar_op_update_model(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    const char *name = nb_str(in, "modelName");
    json_object *m = model_of(call, a, name), *copy = m ? ag_copy(m) : NULL;
    if (!copy || !ar_patch(call, copy, nb_get(in, "patchOperations"), MODEL_PATHS) ||
        !check_model(call, copy)) {
        json_object_put(copy);
        json_object_put(a);
        return NB_ERROR;
    }
    set(models(a), name, copy);
    ar_target t = {.api = a};
    return save_and_out(call, &t, copy);
}

nb_status ar_op_delete_model(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    const char *name = nb_str(in, "modelName");
    json_object *m = model_of(call, a, name);
    bool ok = m != NULL;
    json_object_object_foreach(resources(a), rk, r) {
        (void)rk;
        json_object *ms = nb_get(r, "resourceMethods");
        if (!ok || !ms)
            continue;
        json_object_object_foreach(ms, hm, me) {
            json_object *rm = nb_get(me, "requestModels");
            if (!ok || !rm)
                continue;
            json_object_object_foreach(rm, ct, v) {
                (void)ct;
                if (ok && strcmp(json_object_get_string(v), name) == 0) {
                    ag_conflict(call, "Cannot delete model '%s', is referenced in method request: "
                                      "%s/%s", name, nb_str(r, "path"), hm);
                    ok = false;
                }
            }
        }
    }
    if (ok) {
        json_object_object_del(models(a), name);
        ar_save_api(call, a);
    }
    json_object_put(a);
    return ok ? NB_OK : NB_ERROR;
}

/* ---- REST APIs ------------------------------------------------------------------ */

static const ar_patch_path API_PATHS[] = {
    {"/name", "name", AR_STR, AR_OP_REPLACE},
    {"/description", "description", AR_STR, AR_OP_REPLACE | AR_OP_ADD | AR_OP_REMOVE},
    {"/version", "version", AR_STR, AR_OP_REPLACE},
    {"/policy", "policy", AR_STR, AR_OP_REPLACE},
    {"/apiKeySource", "apiKeySource", AR_STR, AR_OP_REPLACE},
    {"/minimumCompressionSize", "minimumCompressionSize", AR_INT, AR_OP_REPLACE},
    {"/disableExecuteApiEndpoint", "disableExecuteApiEndpoint", AR_BOOL, AR_OP_REPLACE},
    {"/binaryMediaTypes/", "binaryMediaTypes", AR_LIST_STR, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

static bool check_api(nb_call *call, json_object *doc)
{
    const char *name = nb_str(doc, "name"), *aks = nb_str(doc, "apiKeySource");
    int64_t mcs = -1;
    if (!name || !name[0]) {
        ag_bad(call, "Invalid REST API name specified: the name must not be empty");
        return false;
    }
    if (aks && strcmp(aks, "HEADER") != 0 && strcmp(aks, "AUTHORIZER") != 0) {
        ag_bad(call, "Invalid API Key source specified: %s. Must be HEADER or AUTHORIZER", aks);
        return false;
    }
    if (nb_int(doc, "minimumCompressionSize", &mcs) && (mcs < 0 || mcs > 10485760)) {
        ag_bad(call, "Invalid minimumCompressionSize specified: it must be between 0 and 10485760");
        return false;
    }
    return true;
}

static json_object *new_resource(const char *parent, const char *part)
{
    char id[ID_LEN + 1];
    ag_new_id(id, ID_LEN);
    json_object *r = json_object_new_object();
    set_str(r, "id", id);
    if (parent)
        set_str(r, "parentId", parent);
    if (part)
        set_str(r, "pathPart", part);
    set_str(r, "path", "/");
    return r;
}

nb_status ar_op_create_rest_api(nb_call *call, json_object *in)
{
    if (!ag_check_tags(call, nb_get(in, "tags")))
        return NB_ERROR;
    json_object *from = NULL;
    const char *clone = nb_str(in, "cloneFrom");
    if (clone && !(from = ar_api(call, clone)))
        return NB_ERROR;
    char id[ID_LEN + 1], owner[64];
    ag_new_id(id, ID_LEN);
    snprintf(owner, sizeof owner, "%s/%s", call->account, call->region);
    json_object *doc = json_object_new_object();
    set_str(doc, "id", id);
    static const char *const COPY[] = {"name", "description", "version", "binaryMediaTypes",
                                       "minimumCompressionSize", "policy", "tags", NULL};
    for (int i = 0; COPY[i]; i++)
        take(doc, in, COPY[i]);
    set(doc, "createdDate", json_object_new_double(ag_now(call)));
    set_str(doc, "apiKeySource", nb_str(in, "apiKeySource") ? nb_str(in, "apiKeySource") : "HEADER");
    json_object *ec = nb_get(in, "endpointConfiguration");
    if (ec && nb_get(ec, "types")) {
        set(doc, "endpointConfiguration", ag_copy(ec));
    } else {
        json_object *e = json_object_new_object(), *types = json_object_new_array();
        json_object_array_add(types, json_object_new_string("EDGE"));
        set(e, "types", types);
        set(doc, "endpointConfiguration", e);
    }
    bool dis = false;
    nb_bool(in, "disableExecuteApiEndpoint", &dis);
    set(doc, "disableExecuteApiEndpoint", json_object_new_boolean(dis));
    set_str(doc, AR_OWNER, owner);
    if (!check_api(call, doc)) {
        json_object_put(doc);
        json_object_put(from);
        return NB_ERROR;
    }
    if (from) {
        set(doc, AR_RESOURCES, ag_copy(nb_get(from, AR_RESOURCES)));
        set(doc, AR_MODELS, ag_copy(nb_get(from, AR_MODELS)));
        set(doc, AR_VALIDATORS, ag_copy(nb_get(from, AR_VALIDATORS)));
        set(doc, AR_AUTHORIZERS, ag_copy(nb_get(from, AR_AUTHORIZERS)));
        set_str(doc, "rootResourceId", nb_str(from, "rootResourceId"));
        json_object_put(from);
    } else {
        json_object *root = new_resource(NULL, NULL);
        set_str(doc, "rootResourceId", nb_str(root, "id"));
        json_object *rs = json_object_new_object();
        set(rs, nb_str(root, "id"), root);
        set(doc, AR_RESOURCES, rs);
        default_models(doc);
    }
    ar_save_api(call, doc);
    return out(call, doc);
}

nb_status ar_op_get_rest_api(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    return a ? out(call, a) : NB_ERROR;
}

nb_status ar_op_get_rest_apis(nb_call *call, json_object *in)
{
    return page(call, in, ar_list_apis(call), "items");
}

nb_status ar_op_update_rest_api(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    if (!ar_patch(call, a, nb_get(in, "patchOperations"), API_PATHS) || !check_api(call, a)) {
        json_object_put(a);
        return NB_ERROR;
    }
    ar_save_api(call, a);
    ar_cache_clear(); /* the data plane caches API settings with deployments */
    return out(call, a);
}

nb_status ar_op_delete_rest_api(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    ag_delete_api(nb_str(a, "id"));
    json_object_put(a);
    return NB_OK;
}

/* ---- resources ------------------------------------------------------------------- */

nb_status ar_op_create_resource(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    const char *pid = nb_str(in, "parentId"), *part = nb_str(in, "pathPart");
    if (!check_place(call, a, pid, part, NULL)) {
        json_object_put(a);
        return NB_ERROR;
    }
    json_object *r = new_resource(pid, part);
    set(resources(a), nb_str(r, "id"), r);
    repath(a);
    ar_target t = {.api = a};
    return save_and_out(call, &t, r);
}

nb_status ar_op_get_resource(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, false))
        return NB_ERROR;
    call->out = resource_view(t.res, wants_methods(in));
    json_object_put(t.api);
    return NB_OK;
}

nb_status ar_op_get_resources(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    bool embed = wants_methods(in);
    json_object *arr = json_object_new_array();
    json_object_object_foreach(resources(a), k, r) {
        (void)k;
        json_object_array_add(arr, resource_view(r, embed));
    }
    json_object_put(a);
    return page(call, in, arr, "items");
}

static const ar_patch_path RESOURCE_PATHS[] = {
    {"/pathPart", "pathPart", AR_STR, AR_OP_REPLACE},
    {"/parentId", "parentId", AR_STR, AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

nb_status ar_op_update_resource(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, false))
        return NB_ERROR;
    const char *rid = nb_str(in, "resourceId");
    if (!nb_get(t.res, "parentId")) {
        json_object_put(t.api);
        return ag_bad(call, "Root resource cannot be updated");
    }
    json_object *copy = ag_copy(t.res);
    if (!ar_patch(call, copy, nb_get(in, "patchOperations"), RESOURCE_PATHS) ||
        !nb_str(copy, "pathPart") || !nb_str(copy, "parentId") ||
        !check_place(call, t.api, nb_str(copy, "parentId"), nb_str(copy, "pathPart"), rid)) {
        if (!call->err.code[0])
            ag_bad(call, "Invalid patch: pathPart and parentId must not be empty");
        json_object_put(copy);
        json_object_put(t.api);
        return NB_ERROR;
    }
    set(resources(t.api), rid, copy);
    repath(t.api);
    return save_and_out(call, &t, copy);
}

/* Drop resource id and everything below it. */
static void drop_tree(json_object *rs, const char *id)
{
    json_object *kids = json_object_new_array();
    json_object_object_foreach(rs, k, r) {
        const char *p = nb_str(r, "parentId");
        if (p && strcmp(p, id) == 0)
            json_object_array_add(kids, json_object_new_string(k));
    }
    for (size_t i = 0; i < json_object_array_length(kids); i++)
        drop_tree(rs, json_object_get_string(json_object_array_get_idx(kids, i)));
    json_object_put(kids);
    json_object_object_del(rs, id);
}

nb_status ar_op_delete_resource(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, false))
        return NB_ERROR;
    if (!nb_get(t.res, "parentId")) {
        json_object_put(t.api);
        return ag_bad(call, "Cannot delete root resource");
    }
    char id[ID_LEN + 2];
    nb_copy(id, sizeof id, nb_str(t.res, "id"), strlen(nb_str(t.res, "id")));
    drop_tree(resources(t.api), id);
    ar_save_api(call, t.api);
    json_object_put(t.api);
    return NB_OK;
}

/* ---- methods --------------------------------------------------------------------- */

static bool valid_http_method(const char *m)
{
    static const char *const M[] = {"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS",
                                    "HEAD", "ANY", NULL};
    for (int i = 0; m && M[i]; i++)
        if (strcmp(m, M[i]) == 0)
            return true;
    return false;
}

static bool check_method(nb_call *call, json_object *m)
{
    const char *at = nb_str(m, "authorizationType");
    static const char *const AT[] = {"NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS", NULL};
    bool ok = false;
    for (int i = 0; at && AT[i]; i++)
        ok = ok || strcmp(at, AT[i]) == 0;
    if (!ok) {
        ag_bad(call, "Invalid authorization type specified. Valid options are NONE, AWS_IAM, "
                     "CUSTOM, COGNITO_USER_POOLS");
        return false;
    }
    json_object *rp = nb_get(m, "requestParameters");
    if (rp) {
        json_object_object_foreach(rp, k, v) {
            (void)v;
            if (strncmp(k, "method.request.path.", 20) && strncmp(k, "method.request.querystring.", 27) &&
                strncmp(k, "method.request.header.", 22) && strncmp(k, "method.request.multivaluequerystring.", 37) &&
                strncmp(k, "method.request.multivalueheader.", 32)) {
                ag_bad(call, "Invalid mapping expression specified: Validation Result: warnings : "
                             "[], errors : [Invalid method parameter name specified: %s]", k);
                return false;
            }
        }
    }
    return true;
}

/* A method's requestValidatorId names a validator of the API, its
 * requestModels models of the API. */
static bool check_validator_ref(nb_call *call, json_object *api, json_object *m)
{
    const char *rv = nb_str(m, "requestValidatorId"), *at = nb_str(m, "authorizationType");
    const char *az = nb_str(m, "authorizerId");
    json_object *z = az ? nb_get(nb_get(api, AR_AUTHORIZERS), az) : NULL;
    bool custom = at && !strcmp(at, "CUSTOM"), cognito = at && !strcmp(at, "COGNITO_USER_POOLS");
    const char *ztype = z ? nb_str(z, "type") : NULL;
    if ((custom || cognito) && (!ztype || (!strcmp(ztype, "COGNITO_USER_POOLS") != cognito))) {
        ag_bad(call, "Invalid authorizer ID specified. Setting the authorization type to %s "
                     "requires a valid authorizer.", at);
        return false;
    }
    if (rv && rv[0] && !nb_get(nb_get(api, AR_VALIDATORS), rv)) {
        ag_bad(call, "Invalid Request Validator identifier specified");
        return false;
    }
    json_object *rm = nb_get(m, "requestModels");
    if (rm && json_object_is_type(rm, json_type_object)) {
        json_object_object_foreach(rm, ct, v) {
            (void)ct;
            const char *name = json_object_get_string(v);
            if (!nb_get(nb_get(api, AR_MODELS), name)) {
                ag_bad(call, "Invalid model identifier specified: %s", name);
                return false;
            }
        }
    }
    return true;
}

nb_status ar_op_put_method(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, false))
        return NB_ERROR;
    const char *http = nb_str(in, "httpMethod");
    json_object *ms = nb_get(t.res, "resourceMethods");
    if (!valid_http_method(http)) {
        json_object_put(t.api);
        return ag_bad(call, "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,"
                            "PATCH,OPTIONS,HEAD,ANY");
    }
    if (ms && nb_get(ms, http)) {
        json_object_put(t.api);
        return ag_conflict(call, "Method already exists for this resource");
    }
    json_object *m = json_object_new_object();
    set_str(m, "httpMethod", http);
    take(m, in, "authorizationType");
    bool akr = false;
    nb_bool(in, "apiKeyRequired", &akr);
    set(m, "apiKeyRequired", json_object_new_boolean(akr));
    static const char *const COPY[] = {"authorizerId", "operationName", "requestParameters",
                                       "requestModels", "requestValidatorId",
                                       "authorizationScopes", NULL};
    for (int i = 0; COPY[i]; i++)
        take(m, in, COPY[i]);
    if (!check_method(call, m) || !check_validator_ref(call, t.api, m)) {
        json_object_put(m);
        json_object_put(t.api);
        return NB_ERROR;
    }
    if (!ms) {
        ms = json_object_new_object();
        set(t.res, "resourceMethods", ms);
    }
    set(ms, http, m);
    return save_and_out(call, &t, m);
}

static const ar_patch_path METHOD_PATHS[] = {
    {"/authorizationType", "authorizationType", AR_STR, AR_OP_REPLACE},
    {"/authorizerId", "authorizerId", AR_STR, AR_OP_REPLACE},
    {"/apiKeyRequired", "apiKeyRequired", AR_BOOL, AR_OP_REPLACE},
    {"/operationName", "operationName", AR_STR, AR_OP_REPLACE},
    {"/requestValidatorId", "requestValidatorId", AR_STR, AR_OP_REPLACE},
    {"/requestParameters/", "requestParameters", AR_MAP_BOOL, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
    {"/requestModels/", "requestModels", AR_MAP_STR, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
    {"/authorizationScopes/", "authorizationScopes", AR_LIST_STR, AR_OP_ADD | AR_OP_REMOVE},
    {NULL, NULL, AR_STR, 0},
};

/* ---- method responses --------------------------------------------------------------- */

static json_object *sub_map(json_object *o, const char *k)
{
    json_object *m = nb_get(o, k);
    if (!m) {
        m = json_object_new_object();
        set(o, k, m);
    }
    return m;
}

nb_status ar_op_put_method_response(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, true))
        return NB_ERROR;
    json_object *mr = json_object_new_object();
    set_str(mr, "statusCode", nb_str(in, "statusCode"));
    take(mr, in, "responseParameters");
    take(mr, in, "responseModels");
    json_object *rp = nb_get(mr, "responseParameters");
    if (rp) {
        json_object_object_foreach(rp, k, v) {
            (void)v;
            if (strncmp(k, "method.response.header.", 23) != 0 || !k[23]) {
                json_object_put(mr);
                json_object_put(t.api);
                return ag_bad(call, "Invalid mapping expression specified: Validation Result: "
                                    "warnings : [], errors : [Invalid response parameter name "
                                    "specified: %s]", k);
            }
        }
    }
    set(sub_map(t.method, "methodResponses"), nb_str(in, "statusCode"), mr);
    return save_and_out(call, &t, mr);
}

/* ---- integrations --------------------------------------------------------------------- */

static bool check_integration(nb_call *call, json_object *ig)
{
    const char *type = nb_str(ig, "type"), *uri = nb_str(ig, "uri"), *hm = nb_str(ig, "httpMethod");
    const char *pb = nb_str(ig, "passthroughBehavior");
    int64_t to = 29000;
    if (nb_int(ig, "timeoutInMillis", &to) && (to < 50 || to > 29000)) {
        ag_bad(call, "Timeout should be between 50 ms and 29000 ms");
        return false;
    }
    if (pb && strcmp(pb, "WHEN_NO_MATCH") && strcmp(pb, "WHEN_NO_TEMPLATES") && strcmp(pb, "NEVER")) {
        ag_bad(call, "Invalid passthrough behavior specified: %s. Valid options are WHEN_NO_MATCH, "
                     "WHEN_NO_TEMPLATES, NEVER", pb);
        return false;
    }
    const char *ch = nb_str(ig, "contentHandling");
    if (ch && strcmp(ch, "CONVERT_TO_BINARY") && strcmp(ch, "CONVERT_TO_TEXT")) {
        ag_bad(call, "Invalid content handling specified: %s", ch);
        return false;
    }
    if (strcmp(type, "MOCK") == 0)
        return true;
    if (!hm || !hm[0]) {
        ag_bad(call, "Enumeration value for HttpMethod must be non-empty");
        return false;
    }
    if (!valid_http_method(hm)) {
        ag_bad(call, "Invalid integration HTTP method specified: %s", hm);
        return false;
    }
    bool http = strncmp(type, "HTTP", 4) == 0;
    if (http) {
        if (!uri || (strncmp(uri, "http://", 7) && strncmp(uri, "https://", 8))) {
            ag_bad(call, "Invalid HTTP endpoint specified for URI");
            return false;
        }
        return true;
    }
    if (!uri || strncmp(uri, "arn:", 4) != 0) {
        ag_bad(call, "Invalid ARN specified in the request");
        return false;
    }
    if (!strstr(uri, ":path/") && !strstr(uri, ":action/")) {
        ag_bad(call, "AWS ARN for integration must contain path or action");
        return false;
    }
    char fn[320];
    if (strcmp(type, "AWS_PROXY") == 0 && !strstr(uri, "${stageVariables.") &&
        !ag_lambda_target(uri, fn, sizeof fn)) {
        ag_bad(call, "Integrations of type 'AWS_PROXY' currently only supports Lambda function "
                     "and Firehose stream invocations.");
        return false;
    }
    return true;
}

nb_status ar_op_put_integration(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, true))
        return NB_ERROR;
    const char *type = nb_str(in, "type");
    json_object *ig = json_object_new_object();
    set_str(ig, "type", type);
    if (strcmp(type, "MOCK") != 0) {
        take(ig, in, "uri");
        if (nb_str(in, "integrationHttpMethod"))
            set_str(ig, "httpMethod", nb_str(in, "integrationHttpMethod"));
        set_str(ig, "connectionType", nb_str(in, "connectionType") ? nb_str(in, "connectionType")
                                                                   : "INTERNET");
    }
    static const char *const COPY[] = {"credentials", "requestParameters", "requestTemplates",
                                       "contentHandling", "connectionId", NULL};
    for (int i = 0; COPY[i]; i++)
        take(ig, in, COPY[i]);
    set_str(ig, "passthroughBehavior", nb_str(in, "passthroughBehavior")
                                           ? nb_str(in, "passthroughBehavior") : "WHEN_NO_MATCH");
    int64_t to = 29000;
    nb_int(in, "timeoutInMillis", &to);
    set(ig, "timeoutInMillis", json_object_new_int64(to));
    set_str(ig, "cacheNamespace", nb_str(in, "cacheNamespace") ? nb_str(in, "cacheNamespace")
                                                               : nb_str(t.res, "id"));
    set(ig, "cacheKeyParameters", nb_get(in, "cacheKeyParameters")
                                      ? ag_copy(nb_get(in, "cacheKeyParameters"))
                                      : json_object_new_array());
    if (!check_integration(call, ig)) {
        json_object_put(ig);
        json_object_put(t.api);
        return NB_ERROR;
    }
    set(t.method, "methodIntegration", ig);
    return save_and_out(call, &t, ig);
}

static const ar_patch_path INTEGRATION_PATHS[] = {
    {"/uri", "uri", AR_STR, AR_OP_REPLACE},
    {"/httpMethod", "httpMethod", AR_STR, AR_OP_REPLACE},
    {"/passthroughBehavior", "passthroughBehavior", AR_STR, AR_OP_REPLACE},
    {"/contentHandling", "contentHandling", AR_STR, AR_OP_REPLACE},
    {"/timeoutInMillis", "timeoutInMillis", AR_INT, AR_OP_REPLACE},
    {"/credentials", "credentials", AR_STR, AR_OP_REPLACE},
    {"/cacheNamespace", "cacheNamespace", AR_STR, AR_OP_REPLACE},
    {"/connectionType", "connectionType", AR_STR, AR_OP_REPLACE},
    {"/connectionId", "connectionId", AR_STR, AR_OP_REPLACE},
    {"/requestTemplates/", "requestTemplates", AR_MAP_STR, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
    {"/requestParameters/", "requestParameters", AR_MAP_STR, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
    {"/cacheKeyParameters/", "cacheKeyParameters", AR_LIST_STR, AR_OP_ADD | AR_OP_REMOVE},
    {NULL, NULL, AR_STR, 0},
};

/* ---- integration responses --------------------------------------------------------------- */

static bool check_integration_response(nb_call *call, json_object *ir)
{
    const char *sp = nb_str(ir, "selectionPattern");
    if (sp && sp[0]) {
        struct pcre2_real_code_8 *re = ar_regcomp(sp, false);
        if (!re) {
            ag_bad(call, "Invalid selection pattern specified: %s", sp);
            return false;
        }
        ar_regfree(re);
    }
    json_object *rp = nb_get(ir, "responseParameters");
    if (rp) {
        json_object_object_foreach(rp, k, v) {
            const char *val = json_object_get_string(v);
            bool key_ok = strncmp(k, "method.response.header.", 23) == 0 && k[23];
            bool val_ok = val && (val[0] == '\'' || !strncmp(val, "integration.response.", 21) ||
                                  !strncmp(val, "method.request.", 15) ||
                                  !strncmp(val, "stageVariables.", 15) || !strncmp(val, "context.", 8));
            if (!key_ok || !val_ok) {
                ag_bad(call, "Invalid mapping expression specified: Validation Result: warnings : "
                             "[], errors : [Invalid mapping expression specified: %s]",
                       key_ok ? (val ? val : "null") : k);
                return false;
            }
        }
    }
    return true;
}

nb_status ar_op_put_integration_response(nb_call *call, json_object *in)
{
    ar_target t;
    if (!load_target(call, in, &t, true))
        return NB_ERROR;
    json_object *ig = integration_of(call, t.method);
    if (!ig) {
        json_object_put(t.api);
        return NB_ERROR;
    }
    json_object *ir = json_object_new_object();
    set_str(ir, "statusCode", nb_str(in, "statusCode"));
    static const char *const COPY[] = {"selectionPattern", "responseParameters",
                                       "responseTemplates", "contentHandling", NULL};
    for (int i = 0; COPY[i]; i++)
        take(ir, in, COPY[i]);
    if (!check_integration_response(call, ir)) {
        json_object_put(ir);
        json_object_put(t.api);
        return NB_ERROR;
    }
    set(sub_map(ig, "integrationResponses"), nb_str(in, "statusCode"), ir);
    return save_and_out(call, &t, ir);
}

/* ---- request validators ---------------------------------------------------------------- */

static json_object *validators(json_object *api) { return sub_map_of(api, AR_VALIDATORS); }

/* Validators and authorizers: {id: doc} collections of the API document
 * with one Get/GetAll/Update/Delete path; an ar_coll names the member,
 * the input's id member, the not-found message, patch paths and checker. */
typedef struct {
    const char *member, *id_arg, *missing;
    const ar_patch_path *paths;
    bool (*check)(nb_call *call, json_object *doc);
} ar_coll;

/* Add doc (taken) to the collection under a new id and answer it. */
static nb_status coll_add(nb_call *call, json_object *a, const ar_coll *k, json_object *doc)
{
    char id[DEPLOY_ID_LEN + 1];
    ag_new_id(id, DEPLOY_ID_LEN);
    set_str(doc, "id", id);
    if (k->check && !k->check(call, doc)) {
        json_object_put(doc);
        json_object_put(a);
        return NB_ERROR;
    }
    set(sub_map_of(a, k->member), id, doc);
    ar_target t = {.api = a};
    return save_and_out(call, &t, doc);
}

typedef enum { COLL_GET, COLL_LIST, COLL_UPDATE, COLL_DELETE } coll_op;

static nb_status coll(nb_call *call, json_object *in, const ar_coll *k, coll_op op)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    json_object *items = sub_map_of(a, k->member);
    if (op == COLL_LIST) {
        json_object *arr = json_object_new_array();
        json_object_object_foreach(items, key, v) {
            (void)key;
            json_object_array_add(arr, json_object_get(v));
        }
        json_object_put(a);
        return page(call, in, arr, "items");
    }
    const char *id = nb_str(in, k->id_arg);
    json_object *v = id ? nb_get(items, id) : NULL;
    if (!v) {
        json_object_put(a);
        return ag_not_found(call, "%s", k->missing);
    }
    if (op == COLL_GET) {
        call->out = ar_public(v);
    } else if (op == COLL_DELETE) {
        json_object_object_del(items, id);
        ar_save_api(call, a);
    } else {
        json_object *copy = ag_copy(v);
        if (!ar_patch(call, copy, nb_get(in, "patchOperations"), k->paths) ||
            (k->check && !k->check(call, copy))) {
            json_object_put(copy);
            json_object_put(a);
            return NB_ERROR;
        }
        set(items, id, copy);
        ar_target t = {.api = a};
        return save_and_out(call, &t, copy);
    }
    json_object_put(a);
    return NB_OK;
}

static const ar_patch_path VALIDATOR_PATHS[] = {
    {"/name", "name", AR_STR, AR_OP_REPLACE},
    {"/validateRequestBody", "validateRequestBody", AR_BOOL, AR_OP_REPLACE},
    {"/validateRequestParameters", "validateRequestParameters", AR_BOOL, AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

static const ar_coll VALIDATORS = {AR_VALIDATORS, "requestValidatorId",
                                   "Invalid Request Validator identifier specified", VALIDATOR_PATHS,
                                   NULL};

nb_status ar_op_create_request_validator(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    json_object *v = json_object_new_object();
    take(v, in, "name");
    bool b = false, p = false;
    nb_bool(in, "validateRequestBody", &b);
    nb_bool(in, "validateRequestParameters", &p);
    set(v, "validateRequestBody", json_object_new_boolean(b));
    set(v, "validateRequestParameters", json_object_new_boolean(p));
    return coll_add(call, a, &VALIDATORS, v);
}

/* ---- authorizers --------------------------------------------------------------------- */

static bool check_authorizer(nb_call *call, json_object *z)
{
    const char *type = nb_str(z, "type"), *uri = nb_str(z, "authorizerUri");
    const char *src = nb_str(z, "identitySource");
    char fn[320];
    int64_t ttl = 300;
    if (nb_int(z, "authorizerResultTtlInSeconds", &ttl) && (ttl < 0 || ttl > 3600)) {
        ag_bad(call, "Invalid TTL specified: authorizerResultTtlInSeconds must be between 0 and 3600");
        return false;
    }
    if (type && strcmp(type, "COGNITO_USER_POOLS") == 0) {
        if (!nb_get(z, "providerARNs")) {
            ag_bad(call, "ProviderARNs are required for authorizer type COGNITO_USER_POOLS");
            return false;
        }
        return true;
    }
    if (!uri || (!strstr(uri, "${stageVariables.") && !ag_lambda_target(uri, fn, sizeof fn))) {
        ag_bad(call, "Invalid Authorizer URI specified: it must be a Lambda function invocation URI");
        return false;
    }
    if (type && strcmp(type, "TOKEN") == 0 &&
        (!src || strncmp(src, "method.request.header.", 22) != 0 || !src[22])) {
        ag_bad(call, "Invalid identity source specified: a TOKEN authorizer takes one "
                     "method.request.header.NAME");
        return false;
    }
    return true;
}

static const ar_patch_path AUTHORIZER_PATHS[] = {
    {"/name", "name", AR_STR, AR_OP_REPLACE},
    {"/authorizerUri", "authorizerUri", AR_STR, AR_OP_REPLACE},
    {"/identitySource", "identitySource", AR_STR, AR_OP_REPLACE},
    {"/identityValidationExpression", "identityValidationExpression", AR_STR, AR_OP_REPLACE},
    {"/authorizerResultTtlInSeconds", "authorizerResultTtlInSeconds", AR_INT, AR_OP_REPLACE},
    {"/authorizerCredentials", "authorizerCredentials", AR_STR, AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

static const ar_coll AUTHORIZERS = {AR_AUTHORIZERS, "authorizerId",
                                    "Invalid Authorizer identifier specified", AUTHORIZER_PATHS,
                                    check_authorizer};

nb_status ar_op_create_authorizer(nb_call *call, json_object *in)
{
    json_object *a = ar_api(call, nb_str(in, "restApiId"));
    if (!a)
        return NB_ERROR;
    json_object *z = json_object_new_object();
    static const char *const COPY[] = {"name", "type", "providerARNs", "authType", "authorizerUri",
                                       "authorizerCredentials", "identitySource",
                                       "identityValidationExpression", NULL};
    for (int i = 0; COPY[i]; i++)
        take(z, in, COPY[i]);
    int64_t ttl = 300;
    nb_int(in, "authorizerResultTtlInSeconds", &ttl);
    set(z, "authorizerResultTtlInSeconds", json_object_new_int64(ttl));
    return coll_add(call, a, &AUTHORIZERS, z);
}

#define AR_COLL_OPS(name, k)                                                                       \
    nb_status ar_op_get_##name(nb_call *call, json_object *in) { return coll(call, in, k, COLL_GET); } \
    nb_status ar_op_get_##name##s(nb_call *call, json_object *in) { return coll(call, in, k, COLL_LIST); } \
    nb_status ar_op_update_##name(nb_call *call, json_object *in) { return coll(call, in, k, COLL_UPDATE); } \
    nb_status ar_op_delete_##name(nb_call *call, json_object *in) { return coll(call, in, k, COLL_DELETE); }
AR_COLL_OPS(request_validator, &VALIDATORS)
AR_COLL_OPS(authorizer, &AUTHORIZERS)
#undef AR_COLL_OPS

/* ---- the parts of a method: Get and Delete ----------------------------------------- */

/* A part of method m the request names, with the object holding it and
 * its key there; NULL after failing the call. */
typedef json_object *(*part_fn)(nb_call *call, json_object *m, json_object *in,
                                json_object **holder, const char **key);

static json_object *part_method(nb_call *call, json_object *m, json_object *in,
                                json_object **holder, const char **key)
{
    (void)call;
    (void)holder;
    *key = nb_str(in, "httpMethod");
    return m;
}

static json_object *part_method_response(nb_call *call, json_object *m, json_object *in,
                                         json_object **holder, const char **key)
{
    *key = nb_str(in, "statusCode");
    *holder = nb_get(m, "methodResponses");
    json_object *mr = nb_get(*holder, *key);
    if (!mr)
        ag_not_found(call, "Invalid Response status code specified");
    return mr;
}

static json_object *part_integration(nb_call *call, json_object *m, json_object *in,
                                     json_object **holder, const char **key)
{
    (void)in;
    *holder = m;
    *key = "methodIntegration";
    return integration_of(call, m);
}

static json_object *part_integration_response(nb_call *call, json_object *m, json_object *in,
                                              json_object **holder, const char **key)
{
    json_object *ig = integration_of(call, m);
    *key = nb_str(in, "statusCode");
    *holder = nb_get(ig, "integrationResponses");
    json_object *ir = ig ? nb_get(*holder, *key) : NULL;
    if (ig && !ir)
        ag_not_found(call, "Invalid Response status code specified");
    return ir;
}

static nb_status part_op(nb_call *call, json_object *in, part_fn find, bool del)
{
    ar_target t;
    if (!load_target(call, in, &t, true))
        return NB_ERROR;
    json_object *holder = nb_get(t.res, "resourceMethods");
    const char *key = NULL;
    json_object *part = find(call, t.method, in, &holder, &key);
    if (part && del) {
        json_object_object_del(holder, key);
        ar_save_api(call, t.api);
    } else if (part) {
        call->out = ar_public(part);
    }
    json_object_put(t.api);
    return part ? NB_OK : NB_ERROR;
}

#define AR_PART_OPS(name, fn)                                                                      \
    nb_status ar_op_get_##name(nb_call *call, json_object *in) { return part_op(call, in, fn, false); } \
    nb_status ar_op_delete_##name(nb_call *call, json_object *in) { return part_op(call, in, fn, true); }
AR_PART_OPS(method, part_method)
AR_PART_OPS(method_response, part_method_response)
AR_PART_OPS(integration, part_integration)
AR_PART_OPS(integration_response, part_integration_response)
#undef AR_PART_OPS

/* Update*: PatchOperations on a copy of the part, checked, then stored. */
static nb_status patch_part(nb_call *call, json_object *in, part_fn find,
                            const ar_patch_path *table,
                            bool (*check)(nb_call *, json_object *api, json_object *part))
{
    ar_target t;
    if (!load_target(call, in, &t, true))
        return NB_ERROR;
    json_object *holder = nb_get(t.res, "resourceMethods");
    const char *key = NULL;
    json_object *part = find(call, t.method, in, &holder, &key);
    json_object *copy = part ? ag_copy(part) : NULL;
    if (!copy || !ar_patch(call, copy, nb_get(in, "patchOperations"), table) ||
        !check(call, t.api, copy)) {
        json_object_put(copy);
        json_object_put(t.api);
        return NB_ERROR;
    }
    set(holder, key, copy);
    return save_and_out(call, &t, copy);
}

static bool method_ok(nb_call *call, json_object *api, json_object *m)
{
    return check_method(call, m) && check_validator_ref(call, api, m);
}

static bool integration_ok(nb_call *call, json_object *api, json_object *ig)
{
    (void)api;
    return check_integration(call, ig);
}

nb_status ar_op_update_method(nb_call *call, json_object *in)
{
    return patch_part(call, in, part_method, METHOD_PATHS, method_ok);
}

nb_status ar_op_update_integration(nb_call *call, json_object *in)
{
    return patch_part(call, in, part_integration, INTEGRATION_PATHS, integration_ok);
}

/* ---- stages ---------------------------------------------------------------------------- */

static bool check_stage_name(nb_call *call, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-';
    if (!ok)
        ag_bad(call, "Stage name only allows a-zA-Z0-9_");
    return ok;
}

static bool check_variables(nb_call *call, json_object *vars)
{
    if (!vars)
        return true;
    json_object_object_foreach(vars, k, v) {
        size_t n = strlen(k);
        bool ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)k[i]) || k[i] == '_';
        const char *s = json_object_get_string(v);
        for (size_t i = 0; ok && s[i]; i++)
            ok = isalnum((unsigned char)s[i]) || strchr("-._~:/?#&=, +", s[i]);
        if (!ok || strlen(s) > 512) {
            ag_bad(call, "Stage variable value %s for variable %s is not valid. Stage variable "
                         "names must be alphanumeric or underscore and values must match "
                         "[A-Za-z0-9-._~:/?#&=,]+", s, k);
            return false;
        }
    }
    return true;
}

static json_object *stage_get(nb_call *call, const char *api, const char *name)
{
    json_object *s = name && strlen(name) <= 128 ? ag_load(api, AR_KIND_STAGE, name) : NULL;
    if (!s)
        ag_not_found(call, "Invalid Stage identifier specified");
    return s;
}

static json_object *stage_new(nb_call *call, const char *api, const char *name, const char *dep,
                              json_object *in)
{
    json_object *s = json_object_new_object();
    set_str(s, "deploymentId", dep);
    set_str(s, "stageName", name);
    take(s, in, "description");
    set(s, "cacheClusterEnabled", json_object_new_boolean(false));
    set_str(s, "cacheClusterStatus", "NOT_AVAILABLE");
    set(s, "methodSettings", json_object_new_object());
    take(s, in, "variables");
    bool tr = false;
    nb_bool(in, "tracingEnabled", &tr);
    set(s, "tracingEnabled", json_object_new_boolean(tr));
    take(s, in, "tags");
    set(s, "createdDate", json_object_new_double(ag_now(call)));
    set(s, "lastUpdatedDate", json_object_new_double(ag_now(call)));
    ag_save(call, api, AR_KIND_STAGE, name, s);
    return s;
}

nb_status ar_op_create_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *name = nb_str(in, "stageName");
    const char *dep = nb_str(in, "deploymentId");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    if (!check_stage_name(call, name) || !check_variables(call, nb_get(in, "variables")) ||
        !ag_check_tags(call, nb_get(in, "tags")))
        return NB_ERROR;
    json_object *d = strlen(dep) < 64 ? ag_load(api, AR_KIND_DEPLOY, dep) : NULL;
    if (!d)
        return ag_bad(call, "Invalid deployment identifier specified");
    json_object_put(d);
    json_object *old = ag_load(api, AR_KIND_STAGE, name);
    if (old) {
        json_object_put(old);
        return ag_conflict(call, "Stage already exists");
    }
    return out(call, stage_new(call, api, name, dep, in));
}

nb_status ar_op_get_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *s = stage_get(call, api, nb_str(in, "stageName"));
    return s ? out(call, s) : NB_ERROR;
}

nb_status ar_op_get_stages(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *dep = nb_str(in, "deploymentId");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *all = ag_list(api, AR_KIND_STAGE, 0, 0, NULL), *items = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *s = json_object_array_get_idx(all, i);
        const char *d = nb_str(s, "deploymentId");
        if (!dep || (d && strcmp(d, dep) == 0))
            json_object_array_add(items, ar_public(s));
    }
    json_object_put(all);
    call->out = json_object_new_object();
    set(call->out, "item", items);
    return NB_OK;
}

static const ar_patch_path STAGE_PATHS[] = {
    {"/description", "description", AR_STR, AR_OP_REPLACE},
    {"/deploymentId", "deploymentId", AR_STR, AR_OP_REPLACE},
    {"/tracingEnabled", "tracingEnabled", AR_BOOL, AR_OP_REPLACE},
    {"/cacheClusterEnabled", "cacheClusterEnabled", AR_BOOL, AR_OP_REPLACE},
    {"/variables/", "variables", AR_MAP_STR, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
    {"/cacheClusterSize", "cacheClusterSize", AR_STR, AR_OP_REPLACE},
    {"/documentationVersion", "documentationVersion", AR_STR, AR_OP_REPLACE},
    {"/clientCertificateId", "clientCertificateId", AR_STR, AR_OP_REPLACE},
    {"/accessLogSettings/destinationArn", "_log_arn", AR_STR, AR_OP_REPLACE | AR_OP_REMOVE},
    {"/accessLogSettings/format", "_log_format", AR_STR, AR_OP_REPLACE | AR_OP_REMOVE},
    {NULL, NULL, AR_STR, 0},
};

/* Stage method settings: "/{resource path}/{method}/{group}/{name}" with
 * the path's slashes as ~1 (resource path and method "*" for all);
 * the settings live under methodSettings["{resource path}/{method}"]. */
static const ar_patch_path SETTING_PATHS[] = {
    {"/metrics/enabled", "metricsEnabled", AR_BOOL, AR_OP_REPLACE},
    {"/logging/loglevel", "loggingLevel", AR_STR, AR_OP_REPLACE},
    {"/logging/dataTrace", "dataTraceEnabled", AR_BOOL, AR_OP_REPLACE},
    {"/throttling/burstLimit", "throttlingBurstLimit", AR_INT, AR_OP_REPLACE},
    {"/throttling/rateLimit", "throttlingRateLimit", AR_DOUBLE, AR_OP_REPLACE},
    {"/caching/enabled", "cachingEnabled", AR_BOOL, AR_OP_REPLACE},
    {"/caching/ttlInSeconds", "cacheTtlInSeconds", AR_INT, AR_OP_REPLACE},
    {"/caching/dataEncrypted", "cacheDataEncrypted", AR_BOOL, AR_OP_REPLACE},
    {"/caching/requireAuthorizationForCacheControl", "requireAuthorizationForCacheControl", AR_BOOL,
     AR_OP_REPLACE},
    {"/caching/unauthorizedCacheControlHeaderStrategy", "unauthorizedCacheControlHeaderStrategy",
     AR_STR, AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

static json_object *method_setting_defaults(void)
{
    json_object *m = json_object_new_object();
    set(m, "metricsEnabled", json_object_new_boolean(false));
    set_str(m, "loggingLevel", "OFF");
    set(m, "dataTraceEnabled", json_object_new_boolean(false));
    set(m, "throttlingBurstLimit", json_object_new_int(5000));
    set(m, "throttlingRateLimit", json_object_new_double(10000.0));
    set(m, "cachingEnabled", json_object_new_boolean(false));
    set(m, "cacheTtlInSeconds", json_object_new_int(300));
    set(m, "cacheDataEncrypted", json_object_new_boolean(false));
    set(m, "requireAuthorizationForCacheControl", json_object_new_boolean(true));
    set_str(m, "unauthorizedCacheControlHeaderStrategy", "SUCCEED_WITH_RESPONSE_HEADER");
    return m;
}

/* Apply the method-setting operations of ops to stage s; the others are
 * returned (a new list) for the stage's own paths.  NULL after failing. */
static json_object *method_settings(nb_call *call, json_object *s, json_object *ops)
{
    json_object *rest = json_object_new_array();
    for (size_t i = 0; ops && i < json_object_array_length(ops); i++) {
        json_object *o = json_object_array_get_idx(ops, i);
        const char *path = nb_str(o, "path"), *op = nb_str(o, "op");
        int segs = 0;
        const char *third = NULL;
        for (const char *c = path; c && *c; c++)
            if (*c == '/' && ++segs == 3)
                third = c;
        bool remove_all = segs == 2 && op && !strcmp(op, "remove") &&
                          strncmp(path, "/variables/", 11) && strncmp(path, "/accessLogSettings/", 19);
        if (segs != 4 && !remove_all) {
            json_object_array_add(rest, json_object_get(o));
            continue;
        }
        json_object *ms = sub_map_of(s, "methodSettings");
        char key[512];
        nb_copy(key, sizeof key, path + 1, third ? (size_t)(third - path - 1) : strlen(path + 1));
        if (remove_all) {
            json_object_object_del(ms, key);
            continue;
        }
        json_object *m = nb_get(ms, key);
        if (!m) {
            m = method_setting_defaults();
            set(ms, key, m);
        }
        json_object *one = json_object_new_array(), *copy = ag_copy(o);
        set_str(copy, "path", third);
        json_object_array_add(one, copy);
        bool ok = ar_patch(call, m, one, SETTING_PATHS);
        json_object_put(one);
        if (!ok) {
            json_object_put(rest);
            return NULL;
        }
    }
    return rest;
}

nb_status ar_op_update_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *name = nb_str(in, "stageName");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *s = stage_get(call, api, name);
    if (!s)
        return NB_ERROR;
    json_object *als = nb_get(s, "accessLogSettings"); /* patched as two flat members */
    if (nb_str(als, "destinationArn"))
        set_str(s, "_log_arn", nb_str(als, "destinationArn"));
    if (nb_str(als, "format"))
        set_str(s, "_log_format", nb_str(als, "format"));
    json_object *ops = method_settings(call, s, nb_get(in, "patchOperations"));
    if (ops && ar_patch(call, s, ops, STAGE_PATHS)) {
        json_object *nl = json_object_new_object();
        if (nb_str(s, "_log_arn"))
            set_str(nl, "destinationArn", nb_str(s, "_log_arn"));
        if (nb_str(s, "_log_format"))
            set_str(nl, "format", nb_str(s, "_log_format"));
        json_object_object_del(s, "_log_arn");
        json_object_object_del(s, "_log_format");
        if (json_object_object_length(nl))
            set(s, "accessLogSettings", nl);
        else {
            json_object_object_del(s, "accessLogSettings");
            json_object_put(nl);
        }
    } else if (ops) {
        json_object_put(ops);
        ops = NULL;
    }
    if (!ops ||
        !check_variables(call, nb_get(s, "variables"))) {
        json_object_put(ops);
        json_object_put(s);
        return NB_ERROR;
    }
    json_object_put(ops);
    const char *dep = nb_str(s, "deploymentId");
    json_object *d = dep && strlen(dep) < 64 ? ag_load(api, AR_KIND_DEPLOY, dep) : NULL;
    if (!d) {
        json_object_put(s);
        return ag_bad(call, "Invalid deployment identifier specified");
    }
    json_object_put(d);
    set(s, "lastUpdatedDate", json_object_new_double(ag_now(call)));
    ag_save(call, api, AR_KIND_STAGE, name, s);
    return out(call, s);
}

nb_status ar_op_delete_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *name = nb_str(in, "stageName");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    if (strlen(name) > 128 || !ag_delete(api, AR_KIND_STAGE, name))
        return ag_not_found(call, "Invalid Stage identifier specified");
    return NB_OK;
}

/* ---- deployments ------------------------------------------------------------------------- */

/* BadRequest unless the API has a method and every method an integration. */
static bool deployable(nb_call *call, json_object *api)
{
    int methods = 0;
    json_object_object_foreach(resources(api), k, r) {
        (void)k;
        json_object *ms = nb_get(r, "resourceMethods");
        if (!ms)
            continue;
        json_object_object_foreach(ms, mk, m) {
            (void)mk;
            methods++;
            if (!nb_get(m, "methodIntegration")) {
                ag_bad(call, "No integration defined for method");
                return false;
            }
        }
    }
    if (methods == 0)
        ag_bad(call, "The REST API doesn't contain any methods");
    return methods > 0;
}

nb_status ar_op_create_deployment(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *stage = nb_str(in, "stageName");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    if (!deployable(call, a) || (stage && !check_stage_name(call, stage)) ||
        !check_variables(call, nb_get(in, "variables"))) {
        json_object_put(a);
        return NB_ERROR;
    }
    char id[DEPLOY_ID_LEN + 1];
    ag_new_id(id, DEPLOY_ID_LEN);
    json_object *d = json_object_new_object();
    set_str(d, "id", id);
    take(d, in, "description");
    set(d, "createdDate", json_object_new_double(ag_now(call)));
    set(d, AR_SNAPSHOT, json_object_get(resources(a)));
    set(d, AR_VALIDATORS, json_object_get(validators(a)));
    set(d, AR_AUTHORIZERS, json_object_get(sub_map_of(a, AR_AUTHORIZERS)));
    ag_save(call, api, AR_KIND_DEPLOY, id, d);
    json_object_put(a);
    if (stage) {
        json_object *s = ag_load(api, AR_KIND_STAGE, stage);
        if (!s) {
            json_object *spec = json_object_new_object();
            if (nb_str(in, "stageDescription"))
                set_str(spec, "description", nb_str(in, "stageDescription"));
            take(spec, in, "variables");
            take(spec, in, "tracingEnabled");
            json_object_put(stage_new(call, api, stage, id, spec));
            json_object_put(spec);
        } else {
            set_str(s, "deploymentId", id);
            json_object *vars = nb_get(in, "variables");
            if (vars) {
                json_object *cur = sub_map(s, "variables");
                json_object_object_foreach(vars, k, v) set(cur, k, json_object_get(v));
            }
            set(s, "lastUpdatedDate", json_object_new_double(ag_now(call)));
            ag_save(call, api, AR_KIND_STAGE, stage, s);
            json_object_put(s);
        }
    }
    return out(call, d);
}

/* {path: {METHOD: {authorizationType, apiKeyRequired}}} of a snapshot. */
static json_object *api_summary(json_object *snap)
{
    json_object *sum = json_object_new_object();
    json_object_object_foreach(snap, k, r) {
        (void)k;
        json_object *ms = nb_get(r, "resourceMethods");
        if (!ms || !json_object_object_length(ms))
            continue;
        json_object *byp = json_object_new_object();
        json_object_object_foreach(ms, hm, m) {
            json_object *x = json_object_new_object();
            set_str(x, "authorizationType", nb_str(m, "authorizationType") ? nb_str(m, "authorizationType") : "NONE");
            bool akr = false;
            nb_bool(m, "apiKeyRequired", &akr);
            set(x, "apiKeyRequired", json_object_new_boolean(akr));
            set(byp, hm, x);
        }
        set(sum, nb_str(r, "path") ? nb_str(r, "path") : "/", byp);
    }
    return sum;
}

nb_status ar_op_get_deployment(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *id = nb_str(in, "deploymentId");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *d = strlen(id) < 64 ? ag_load(api, AR_KIND_DEPLOY, id) : NULL;
    if (!d)
        return ag_not_found(call, "Invalid Deployment identifier specified");
    json_object *em = nb_get(in, "embed");
    for (size_t i = 0; em && i < json_object_array_length(em); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(em, i)), "apisummary") == 0)
            set(d, "apiSummary", api_summary(nb_get(d, AR_SNAPSHOT)));
    return out(call, d);
}

nb_status ar_op_get_deployments(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    return page(call, in, ag_list(api, AR_KIND_DEPLOY, 0, 0, NULL), "items");
}

nb_status ar_op_delete_deployment(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "restApiId"), *id = nb_str(in, "deploymentId");
    json_object *a = ar_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *d = strlen(id) < 64 ? ag_load(api, AR_KIND_DEPLOY, id) : NULL;
    if (!d)
        return ag_not_found(call, "Invalid Deployment identifier specified");
    json_object_put(d);
    json_object *stages = ag_list(api, AR_KIND_STAGE, 0, 0, NULL);
    bool used = false;
    for (size_t i = 0; !used && i < json_object_array_length(stages); i++) {
        const char *dep = nb_str(json_object_array_get_idx(stages, i), "deploymentId");
        used = dep && strcmp(dep, id) == 0;
    }
    json_object_put(stages);
    if (used)
        return ag_bad(call, "Active stages pointing to this deployment must be moved or deleted");
    ag_delete(api, AR_KIND_DEPLOY, id);
    return NB_OK;
}

/* ---- tags --------------------------------------------------------------------------------- */

/* The document an ARN names: "arn:aws:apigateway:REGION::/restapis/ID"
 * or ".../restapis/ID/stages/NAME" (owned), with its row's kind and id. */
static json_object *tagged(nb_call *call, const char *arn, char *api, const char **kind, char *key)
{
    char prefix[96];
    int n = snprintf(prefix, sizeof prefix, "arn:aws:apigateway:%s::/restapis/", call->region);
    const char *p = strncmp(arn, prefix, (size_t)n) == 0 ? arn + n : NULL;
    const char *slash = p ? strchr(p, '/') : NULL;
    size_t idn = p ? (slash ? (size_t)(slash - p) : strlen(p)) : 0;
    json_object *doc = NULL;
    if (p && idn > 0 && idn < 16) {
        nb_copy(api, 16, p, idn);
        json_object *a = ag_load(api, AR_KIND_API, api);
        char want[64];
        snprintf(want, sizeof want, "%s/%s", call->account, call->region);
        const char *owner = a ? nb_str(a, AR_OWNER) : NULL;
        bool mine = owner && strcmp(owner, want) == 0;
        if (mine && !slash) {
            *kind = AR_KIND_API;
            strcpy(key, api);
            doc = json_object_get(a);
        } else if (mine && strncmp(slash, "/stages/", 8) == 0 && slash[8] && strlen(slash + 8) < 129) {
            *kind = AR_KIND_STAGE;
            strcpy(key, slash + 8);
            doc = ag_load(api, AR_KIND_STAGE, key);
        }
        json_object_put(a);
    }
    if (!doc)
        ag_not_found(call, "Invalid resource identifier specified: %s", arn);
    return doc;
}

nb_status ar_op_tag_resource(nb_call *call, json_object *in)
{
    char api[16], key[130];
    const char *kind;
    json_object *doc = tagged(call, nb_str(in, "resourceArn"), api, &kind, key);
    if (!doc)
        return NB_ERROR;
    bool ok = ag_tags_merge(call, doc, "tags", nb_get(in, "tags"));
    if (ok)
        ag_save(call, api, kind, key, doc);
    json_object_put(doc);
    return ok ? NB_OK : NB_ERROR;
}

nb_status ar_op_untag_resource(nb_call *call, json_object *in)
{
    char api[16], key[130];
    const char *kind;
    json_object *doc = tagged(call, nb_str(in, "resourceArn"), api, &kind, key);
    if (!doc)
        return NB_ERROR;
    ag_tags_remove(doc, "tags", nb_get(in, "tagKeys"));
    ag_save(call, api, kind, key, doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status ar_op_get_tags(nb_call *call, json_object *in)
{
    char api[16], key[130];
    const char *kind;
    json_object *doc = tagged(call, nb_str(in, "resourceArn"), api, &kind, key);
    if (!doc)
        return NB_ERROR;
    json_object *tags = nb_get(doc, "tags");
    call->out = json_object_new_object();
    set(call->out, "tags", tags ? json_object_get(tags) : json_object_new_object());
    json_object_put(doc);
    return NB_OK;
}
