/*
 * apigw.c — the API Gateway v2 service (HTTP APIs): descriptor, schema,
 * the document store, ids, errors, deployments and auto-deploy.  See
 * apigw_internal.h for the storage layout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apigw_internal.h"
#include "core/store.h"
#include "gen/models.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS apigw_docs("
    " api TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, account TEXT NOT NULL,"
    " region TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY(api, kind, id));";

/* ---- errors ---------------------------------------------------------------- */

#define AG_FAIL_FN(fn, code)                                                                       \
    nb_status fn(nb_call *call, const char *fmt, ...)                                              \
    {                                                                                              \
        char buf[512];                                                                             \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vsnprintf(buf, sizeof buf, fmt, ap);                                                       \
        va_end(ap);                                                                                \
        return nb_fail(call, code, "%s", buf);                                                     \
    }
AG_FAIL_FN(ag_bad, "BadRequestException")
AG_FAIL_FN(ag_conflict, "ConflictException")
AG_FAIL_FN(ag_not_found, "NotFoundException")
#undef AG_FAIL_FN

/* ---- documents ------------------------------------------------------------- */

static json_object *parse_doc(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? json_tokener_parse(s) : NULL;
}

json_object *ag_load(const char *api, const char *kind, const char *id)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT doc FROM apigw_docs WHERE api = ? AND kind = ? AND id = ?");
    sqlite3_bind_text(st, 1, api, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    json_object *o = sqlite3_step(st) == SQLITE_ROW ? parse_doc(st, 0) : NULL;
    sqlite3_reset(st);
    return o;
}

void ag_save(const nb_call *call, const char *api, const char *kind, const char *id,
             json_object *doc)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO apigw_docs(api, kind, id, account, region, doc)"
                                   " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(api, kind, id)"
                                   " DO UPDATE SET doc = excluded.doc");
    sqlite3_bind_text(st, 1, api, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        NB_ERR("apigatewayv2: save %s %s: %s", kind, id, sqlite3_errmsg(nb_db()));
    sqlite3_reset(st);
    ag_cache_forget(api, false);
}

bool ag_delete(const char *api, const char *kind, const char *id)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM apigw_docs WHERE api = ? AND kind = ? AND id = ?");
    sqlite3_bind_text(st, 1, api, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    ag_cache_forget(api, false);
    return sqlite3_changes(nb_db()) > 0;
}

void ag_delete_api(const char *api)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM apigw_docs WHERE api = ?");
    sqlite3_bind_text(st, 1, api, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    ag_cache_forget(api, true);
}

json_object *ag_list(const char *api, const char *kind, long long after, int max,
                     long long *next)
{
    static sqlite3_stmt *s1, *s2;
    sqlite3_stmt *st;
    if (strcmp(kind, "api") == 0) {
        /* APIs: every API of the account and region (api is the account). */
        st = nb_stmt(&s1, "SELECT rowid, doc FROM apigw_docs WHERE kind = 'api' AND"
                          " account || '/' || region = ? AND rowid > ? ORDER BY rowid");
    } else {
        st = nb_stmt(&s2, "SELECT rowid, doc FROM apigw_docs WHERE api = ? AND kind = ?"
                          " AND rowid > ? ORDER BY rowid");
    }
    int i = 1;
    sqlite3_bind_text(st, i++, api, -1, SQLITE_STATIC);
    if (strcmp(kind, "api") != 0)
        sqlite3_bind_text(st, i++, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i, after);
    json_object *arr = json_object_new_array();
    if (next)
        *next = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (max > 0 && (int)json_object_array_length(arr) == max) {
            if (next)
                *next = sqlite3_column_int64(st, 0) - 1;
            break;
        }
        json_object *o = parse_doc(st, 1);
        if (o)
            json_object_array_add(arr, o);
    }
    sqlite3_reset(st);
    return arr;
}

/* ---- small helpers --------------------------------------------------------- */

void ag_new_id(char *out, int len)
{
    static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < len; i++)
        out[i] = ALNUM[nb_rand64() % (sizeof ALNUM - 1)];
    out[len] = 0;
}

json_object *ag_copy(json_object *o)
{
    json_object *c = NULL;
    if (o)
        json_object_deep_copy(o, &c, NULL);
    return c;
}

double ag_now(const nb_call *call)
{
    return (double)(call->now_ms / 1000);
}

void ag_endpoint(const char *api, char *out, size_t n)
{
    snprintf(out, n, "http://%s.execute-api.localhost:%d", api, nb_cfg.port);
}

json_object *ag_api(nb_call *call, const char *api_id)
{
    json_object *o = ag_load(api_id, "api", api_id);
    if (o) {
        char owner[64];
        snprintf(owner, sizeof owner, "%s/%s", call->account, call->region);
        const char *got = nb_str(o, "_owner");
        if (got && strcmp(got, owner) == 0)
            return o;
        json_object_put(o);
    }
    ag_not_found(call, "Invalid API identifier specified %s:%s", call->account, api_id);
    return NULL;
}

/* Tags: keys 1..128, values up to 256, at most 50, no "aws:" prefix. */
bool ag_check_tags(nb_call *call, json_object *tags)
{
    if (!tags)
        return true;
    if (json_object_object_length(tags) > 50) {
        ag_bad(call, "Too many tags: at most 50 are allowed");
        return false;
    }
    json_object_object_foreach(tags, k, v) {
        size_t n = strlen(k);
        if (n == 0 || n > 128 || strncmp(k, "aws:", 4) == 0 ||
            json_object_get_string_len(v) > 256) {
            ag_bad(call, "Invalid tag: %s", k);
            return false;
        }
    }
    return true;
}

bool ag_tags_merge(nb_call *call, json_object *doc, const char *member, json_object *add)
{
    json_object *tags = nb_get(doc, member);
    if (!tags) {
        tags = json_object_new_object();
        json_object_object_add(doc, member, tags);
    }
    if (add && json_object_is_type(add, json_type_object)) {
        json_object_object_foreach(add, k, v) json_object_object_add(tags, k, json_object_get(v));
    }
    return ag_check_tags(call, tags);
}

void ag_tags_remove(json_object *doc, const char *member, json_object *keys)
{
    json_object *tags = nb_get(doc, member);
    for (size_t i = 0; tags && keys && i < json_object_array_length(keys); i++)
        json_object_object_del(tags, json_object_get_string(json_object_array_get_idx(keys, i)));
}

/* ---- deployments ----------------------------------------------------------- */

/* The API's documents of a kind as {id: doc}. */
static json_object *by_id(const char *api, const char *kind, const char *idkey)
{
    json_object *all = json_object_new_object(), *l = ag_list(api, kind, 0, 0, NULL);
    for (size_t i = 0; i < json_object_array_length(l); i++) {
        json_object *x = json_object_array_get_idx(l, i);
        const char *id = nb_str(x, idkey);
        if (id)
            json_object_object_add(all, id, json_object_get(x));
    }
    json_object_put(l);
    return all;
}

json_object *ag_deploy(nb_call *call, const char *api, const char *description, bool automatic)
{
    json_object *snap = json_object_new_object();
    json_object_object_add(snap, "routes", ag_list(api, "route", 0, 0, NULL));
    json_object_object_add(snap, "integrations", by_id(api, "integ", "IntegrationId"));
    json_object_object_add(snap, "authorizers", by_id(api, "authz", "AuthorizerId"));
    char id[8];
    ag_new_id(id, 6);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "AutoDeployed", json_object_new_boolean(automatic));
    json_object_object_add(d, "CreatedDate", json_object_new_double(ag_now(call)));
    json_object_object_add(d, "DeploymentId", json_object_new_string(id));
    json_object_object_add(d, "DeploymentStatus", json_object_new_string("DEPLOYED"));
    if (description)
        json_object_object_add(d, "Description", json_object_new_string(description));
    json_object_object_add(d, AG_SNAPSHOT, snap);
    ag_save(call, api, "deploy", id, d);
    return d;
}

void ag_autodeploy(nb_call *call, const char *api)
{
    json_object *stages = ag_list(api, "stage", 0, 0, NULL);
    for (size_t i = 0; i < json_object_array_length(stages); i++) {
        json_object *s = json_object_array_get_idx(stages, i);
        bool autod = false;
        nb_bool(s, "AutoDeploy", &autod);
        const char *name = nb_str(s, "StageName");
        if (!autod || !name)
            continue;
        json_object *d = ag_deploy(call, api, "Automatic deployment triggered by changes to the Api configuration", true);
        json_object_object_add(s, "DeploymentId", json_object_new_string(nb_str(d, "DeploymentId")));
        json_object_object_add(s, "LastUpdatedDate", json_object_new_double(ag_now(call)));
        char msg[128];
        snprintf(msg, sizeof msg, "Successfully deployed stage with deployment ID '%s'",
                 nb_str(d, "DeploymentId"));
        json_object_object_add(s, "LastDeploymentStatusMessage", json_object_new_string(msg));
        ag_save(call, api, "stage", name, s);
        json_object_put(d);
    }
    json_object_put(stages);
}

/* ---- the service ----------------------------------------------------------- */

static void ag_reset(void)
{
    ag_cache_reset();
    ag_auth_reset();
}

static void ag_shutdown(void)
{
    ag_cache_reset();
    ag_auth_shutdown();
}

static int ag_init(struct nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    nb_store_register_table("apigw_docs");
    return 0;
}

#define AG_HANDLERS(X)                                                                             \
    X(CreateApi, create_api) X(GetApi, get_api) X(GetApis, get_apis) X(UpdateApi, update_api)     \
    X(DeleteApi, delete_api) X(CreateRoute, create_route) X(GetRoute, get_route)                   \
    X(GetRoutes, get_routes) X(UpdateRoute, update_route) X(DeleteRoute, delete_route)             \
    X(CreateIntegration, create_integration) X(GetIntegration, get_integration)                    \
    X(GetIntegrations, get_integrations) X(UpdateIntegration, update_integration)                  \
    X(DeleteIntegration, delete_integration) X(CreateStage, create_stage) X(GetStage, get_stage)   \
    X(GetStages, get_stages) X(UpdateStage, update_stage) X(DeleteStage, delete_stage)             \
    X(CreateDeployment, create_deployment) X(GetDeployment, get_deployment)                        \
    X(GetDeployments, get_deployments) X(DeleteDeployment, delete_deployment)                      \
    X(TagResource, tag_resource) X(UntagResource, untag_resource) X(GetTags, get_tags)             \
    X(CreateAuthorizer, create_authorizer) X(GetAuthorizer, get_authorizer)                        \
    X(GetAuthorizers, get_authorizers) X(UpdateAuthorizer, update_authorizer)                      \
    X(DeleteAuthorizer, delete_authorizer) X(ImportApi, import_api) X(ReimportApi, reimport_api)   \
    X(ExportApi, export_api) X(DeleteCorsConfiguration, delete_cors_configuration)

#define AG_DECL(op, fn) nb_status ag_op_##fn(nb_call *call, json_object *in);
AG_HANDLERS(AG_DECL)
#undef AG_DECL

static const nb_op_entry OPS[] = {
#define AG_ENTRY(op, fn) {#op, ag_op_##fn},
    AG_HANDLERS(AG_ENTRY)
#undef AG_ENTRY
    {NULL, NULL},
};

const nb_service nb_service_apigatewayv2 = {
    .name = "apigatewayv2",
    .model = &nb_model_apigatewayv2,
    .ops = OPS,
    .init = ag_init,
    .reset = ag_reset,
    .shutdown = ag_shutdown,
    .validation_code = "BadRequestException",
};
