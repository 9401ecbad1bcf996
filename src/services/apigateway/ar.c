/*
 * ar.c — the API Gateway service (REST APIs, v1): descriptor and op table,
 * the REST API documents (kept in API Gateway v2's apigw_docs table, see
 * ar_internal.h), and PatchOperation application for the Update*
 * operations, driven by one table of accepted paths per resource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar_internal.h"
#include "core/store.h"
#include "gen/models.h"

/* ---- documents ------------------------------------------------------------- */

json_object *ar_api(nb_call *call, const char *id)
{
    json_object *o = id && strlen(id) < 64 ? ag_load(id, AR_KIND_API, id) : NULL;
    if (o) {
        char owner[64];
        snprintf(owner, sizeof owner, "%s/%s", call->account, call->region);
        const char *got = nb_str(o, AR_OWNER);
        if (got && strcmp(got, owner) == 0)
            return o;
        json_object_put(o);
    }
    ag_not_found(call, "Invalid API identifier specified %s:%s", call->account, id ? id : "");
    return NULL;
}

void ar_save_api(nb_call *call, json_object *api)
{
    const char *id = nb_str(api, "id");
    ag_save(call, id, AR_KIND_API, id, api);
}

json_object *ar_list_apis(const nb_call *call)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT doc FROM apigw_docs WHERE kind = '" AR_KIND_API "'"
                                   " AND account = ? AND region = ? ORDER BY rowid");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    json_object *arr = json_object_new_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        json_object *o = t ? json_tokener_parse(t) : NULL;
        if (o)
            json_object_array_add(arr, o);
    }
    sqlite3_reset(st);
    return arr;
}

json_object *ar_public(json_object *doc)
{
    json_object *o = json_object_new_object();
    json_object_object_foreach(doc, k, v) {
        if (k[0] != '_')
            json_object_object_add(o, k, json_object_get(v));
    }
    return o;
}

/* ---- patch operations -------------------------------------------------------- */

static const char *const OP_NAMES[] = {"add", "remove", "replace", NULL};

static int op_bit(const char *op)
{
    for (int i = 0; OP_NAMES[i]; i++)
        if (strcmp(op, OP_NAMES[i]) == 0)
            return 1 << i;
    return 0; /* move, copy, test: accepted by no path */
}

static bool is_prefix_type(ar_ptype t)
{
    return t == AR_MAP_STR || t == AR_MAP_BOOL || t == AR_LIST_STR;
}

/* A JSON pointer segment unescaped (~1 is '/', ~0 is '~'). */
static void unescape(const char *s, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 1 < n; i++) {
        if (s[i] == '~' && (s[i + 1] == '1' || s[i + 1] == '0')) {
            out[j++] = s[i + 1] == '1' ? '/' : '~';
            i++;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
}

static const ar_patch_path *find_path(const ar_patch_path *t, const char *path, const char **key)
{
    for (; t->path; t++) {
        size_t n = strlen(t->path);
        if (is_prefix_type(t->type)) {
            if (strncmp(path, t->path, n) == 0 && path[n]) {
                *key = path + n;
                return t;
            }
        } else if (strcmp(path, t->path) == 0) {
            return t;
        }
    }
    return NULL;
}

static bool bad_path(nb_call *call, const char *path, const char *op, const ar_patch_path *t)
{
    char list[1024] = "";
    size_t used = 0;
    for (; t->path && used < sizeof list - 1; t++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s%s", used ? ", " : "",
                                 t->path, is_prefix_type(t->type) ? "*" : "");
    ag_bad(call, "Invalid patch path  '%s' specified for op '%s'. Must be one of: [%s]", path, op,
           list);
    return false;
}

static json_object *member_obj(json_object *doc, const char *member, bool array)
{
    json_object *m = nb_get(doc, member);
    if (!m || json_object_get_type(m) != (array ? json_type_array : json_type_object)) {
        m = array ? json_object_new_array() : json_object_new_object();
        json_object_object_add(doc, member, m);
    }
    return m;
}

static bool parse_bool(nb_call *call, const char *path, const char *v, bool *out)
{
    if (v && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) {
        *out = v[0] == 't';
        return true;
    }
    ag_bad(call, "Invalid value for %s: %s. Must be true or false", path, v ? v : "null");
    return false;
}

static bool apply_one(nb_call *call, json_object *doc, const ar_patch_path *e, int bit,
                      const char *path, const char *key, const char *value)
{
    if (e->type == AR_STR) {
        if (bit == AR_OP_REMOVE || !value)
            json_object_object_del(doc, e->member);
        else
            json_object_object_add(doc, e->member, json_object_new_string(value));
        return true;
    }
    if (e->type == AR_BOOL) {
        bool b;
        if (!parse_bool(call, path, value, &b))
            return false;
        json_object_object_add(doc, e->member, json_object_new_boolean(b));
        return true;
    }
    if (e->type == AR_INT) {
        if (bit == AR_OP_REMOVE || !value || !value[0]) {
            json_object_object_del(doc, e->member);
            return true;
        }
        char *end = NULL;
        long long v = strtoll(value, &end, 10);
        if (*end || v < 0 || v > 1000000000) {
            ag_bad(call, "Invalid value for %s: %s. Must be an integer", path, value);
            return false;
        }
        json_object_object_add(doc, e->member, json_object_new_int64(v));
        return true;
    }
    if (e->type == AR_DOUBLE) {
        char *end = NULL;
        double v = value ? strtod(value, &end) : 0;
        if (!value || !value[0] || *end || v < 0) {
            ag_bad(call, "Invalid value for %s: %s. Must be a number", path, value ? value : "null");
            return false;
        }
        json_object_object_add(doc, e->member, json_object_new_double(v));
        return true;
    }
    char k[512];
    unescape(key, k, sizeof k);
    if (e->type == AR_LIST_STR) {
        json_object *arr = member_obj(doc, e->member, true), *keep = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *x = json_object_array_get_idx(arr, i);
            if (strcmp(json_object_get_string(x), k) != 0)
                json_object_array_add(keep, json_object_get(x));
        }
        if (bit != AR_OP_REMOVE)
            json_object_array_add(keep, json_object_new_string(k));
        json_object_object_add(doc, e->member, keep);
        return true;
    }
    json_object *map = member_obj(doc, e->member, false);
    if (bit == AR_OP_REMOVE) {
        json_object_object_del(map, k);
        return true;
    }
    if (e->type == AR_MAP_BOOL) {
        bool b = false;
        if (value && !parse_bool(call, path, value, &b))
            return false;
        json_object_object_add(map, k, json_object_new_boolean(b));
        return true;
    }
    json_object_object_add(map, k, json_object_new_string(value ? value : ""));
    return true;
}

bool ar_patch(nb_call *call, json_object *doc, json_object *ops, const ar_patch_path *table)
{
    size_t n = ops ? json_object_array_length(ops) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(ops, i);
        const char *op = nb_str(o, "op"), *path = nb_str(o, "path"), *key = NULL;
        if (!op)
            return ag_bad(call, "Invalid patch operation specified. Must be one of: [add, remove, "
                                "move, test, replace, copy]"), false;
        if (!path)
            return ag_bad(call, "Invalid patch path  'null' specified for op '%s'", op), false;
        const ar_patch_path *e = find_path(table, path, &key);
        if (!e)
            return bad_path(call, path, op, table);
        int bit = op_bit(op);
        if (!(bit & e->ops)) {
            ag_bad(call, "Invalid patch path  '%s' specified for op '%s'. Please choose supported "
                         "operations", path, op);
            return false;
        }
        if (!apply_one(call, doc, e, bit, path, key, nb_str(o, "value")))
            return false;
    }
    return true;
}

/* ---- the service ------------------------------------------------------------- */

#define AR_HANDLERS(X)                                                                             \
    X(CreateRestApi, create_rest_api) X(GetRestApi, get_rest_api) X(GetRestApis, get_rest_apis)   \
    X(UpdateRestApi, update_rest_api) X(DeleteRestApi, delete_rest_api)                            \
    X(CreateResource, create_resource) X(GetResource, get_resource)                                \
    X(GetResources, get_resources) X(UpdateResource, update_resource)                              \
    X(DeleteResource, delete_resource) X(PutMethod, put_method) X(GetMethod, get_method)           \
    X(UpdateMethod, update_method) X(DeleteMethod, delete_method)                                  \
    X(PutMethodResponse, put_method_response) X(GetMethodResponse, get_method_response)            \
    X(DeleteMethodResponse, delete_method_response) X(PutIntegration, put_integration)             \
    X(GetIntegration, get_integration) X(UpdateIntegration, update_integration)                    \
    X(DeleteIntegration, delete_integration)                                                       \
    X(PutIntegrationResponse, put_integration_response)                                            \
    X(GetIntegrationResponse, get_integration_response)                                            \
    X(DeleteIntegrationResponse, delete_integration_response)                                      \
    X(CreateDeployment, create_deployment) X(GetDeployment, get_deployment)                        \
    X(GetDeployments, get_deployments) X(DeleteDeployment, delete_deployment)                      \
    X(CreateStage, create_stage) X(GetStage, get_stage) X(GetStages, get_stages)                   \
    X(UpdateStage, update_stage) X(DeleteStage, delete_stage) X(TagResource, tag_resource)         \
    X(UntagResource, untag_resource) X(GetTags, get_tags)                                          \
    X(CreateRequestValidator, create_request_validator)                                            \
    X(GetRequestValidator, get_request_validator)                                                  \
    X(GetRequestValidators, get_request_validators)                                                \
    X(UpdateRequestValidator, update_request_validator)                                            \
    X(DeleteRequestValidator, delete_request_validator)                                            \
    X(CreateModel, create_model) X(GetModel, get_model) X(GetModels, get_models)                   \
    X(UpdateModel, update_model) X(DeleteModel, delete_model)                                      \
    X(CreateAuthorizer, create_authorizer) X(GetAuthorizer, get_authorizer)                        \
    X(GetAuthorizers, get_authorizers) X(UpdateAuthorizer, update_authorizer)                      \
    X(DeleteAuthorizer, delete_authorizer) X(CreateApiKey, create_api_key)                         \
    X(GetApiKey, get_api_key) X(GetApiKeys, get_api_keys) X(UpdateApiKey, update_api_key)          \
    X(DeleteApiKey, delete_api_key) X(CreateUsagePlan, create_usage_plan)                          \
    X(GetUsagePlan, get_usage_plan) X(GetUsagePlans, get_usage_plans)                              \
    X(DeleteUsagePlan, delete_usage_plan) X(CreateUsagePlanKey, create_usage_plan_key)             \
    X(GetUsagePlanKeys, get_usage_plan_keys) X(DeleteUsagePlanKey, delete_usage_plan_key)

#define AR_DECL(op, fn) nb_status ar_op_##fn(nb_call *call, json_object *in);
AR_HANDLERS(AR_DECL)
#undef AR_DECL

static const nb_op_entry OPS[] = {
#define AR_ENTRY(op, fn) {#op, ar_op_##fn},
    AR_HANDLERS(AR_ENTRY)
#undef AR_ENTRY
    {NULL, NULL},
};

static void ar_drop_caches(void)
{
    ar_cache_clear();
    ar_regex_cache_clear();
}

/* No init: the documents live in apigw_docs, which API Gateway v2's init
 * creates and registers for reset (it is listed before this service). */
const nb_service nb_service_apigateway = {
    .name = "apigateway",
    .model = &nb_model_apigateway,
    .ops = OPS,
    .reset = ar_drop_caches,
    .shutdown = ar_drop_caches,
    .validation_code = "BadRequestException",
};
