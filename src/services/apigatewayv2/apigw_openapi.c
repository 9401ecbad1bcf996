/*
 * apigw_openapi.c — ImportApi, ReimportApi and ExportApi: HTTP APIs from
 * and to OpenAPI 3.0 definitions with API Gateway's extensions.
 *
 * A definition is JSON (json-c) or YAML (libyaml's document loader, turned
 * into the same json-c tree: plain scalars become null, booleans and
 * numbers as YAML 1.1 reads them, numbers keeping their text so that
 * `payloadFormatVersion: 2.0` is still "2.0"; aliases are refused, which
 * also rules out alias bombs).  Import builds the API through the
 * control plane's own operations (CreateApi, CreateAuthorizer,
 * CreateIntegration, CreateRoute), so every check and every stored shape
 * is theirs, inside the one call: a definition that fails anywhere leaves
 * nothing behind.  What it reads:
 *
 *   info.title/version/description    the API's Name, Version, Description
 *   x-amazon-apigateway-cors           CorsConfiguration
 *   x-amazon-apigateway-endpoint-configuration.disableExecuteApiEndpoint
 *   components.securitySchemes.*.x-amazon-apigateway-authorizer
 *                                      authorizers (jwt, request)
 *   paths.P.METHOD (get, put, post, delete, patch, head, options,
 *   x-amazon-apigateway-any-method)    routes "METHOD P" ("$default" for
 *                                      the path $default); operationId is
 *                                      the OperationName; security picks
 *                                      the authorizer and its scopes
 *   x-amazon-apigateway-integration    the route's integration (aws_proxy,
 *                                      http_proxy; a $ref into
 *                                      components.x-amazon-apigateway-
 *                                      integrations); operations with the
 *                                      same integration share one
 *
 * Unsupported parts (other integration types, authorizer types, methods)
 * are warnings: returned in the answer's Warnings, or a
 * BadRequestException with failOnWarnings.  basepath=prepend puts the
 * path of servers[0].url before every route's path; ignore (the default)
 * and split leave paths as written.  ReimportApi replaces an API's
 * routes, integrations and authorizers (and its name, version,
 * description and CORS) with a definition's, then redeploys auto-deploy
 * stages.  ExportApi writes the API's current configuration, or a
 * stage's deployed snapshot, as OpenAPI 3.0.1 JSON or YAML (libyaml's
 * emitter), with or without the extensions; an export imports back into
 * the same API.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "apigw_internal.h"
#include "core/buf.h"

#define MAX_DEPTH 64
#define MAX_NODES 200000

/* The control plane's operations an import is made of (apigw_cp.c). */
nb_status ag_op_create_api(nb_call *call, json_object *in);
nb_status ag_op_update_api(nb_call *call, json_object *in);
nb_status ag_op_get_api(nb_call *call, json_object *in);
nb_status ag_op_create_authorizer(nb_call *call, json_object *in);
nb_status ag_op_create_integration(nb_call *call, json_object *in);
nb_status ag_op_create_route(nb_call *call, json_object *in);

static void set(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static void set_str(json_object *o, const char *k, const char *v)
{
    set(o, k, json_object_new_string(v));
}

/* A member as text: strings, and numbers or booleans by their text. */
static const char *text(json_object *o, const char *k)
{
    json_object *v = nb_get(o, k);
    if (!v || json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array) ||
        json_object_is_type(v, json_type_null))
        return NULL;
    return json_object_get_string(v);
}

static json_object *obj(json_object *o, const char *k)
{
    json_object *v = nb_get(o, k);
    return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

/* ---- YAML → json-c ---------------------------------------------------------------------- */

static json_object *plain_scalar(const char *s, size_t n)
{
    static const char *const NUL[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const YES[] = {"true", "True", "TRUE", NULL};
    static const char *const NO[] = {"false", "False", "FALSE", NULL};
    for (int i = 0; NUL[i]; i++)
        if (strlen(NUL[i]) == n && !memcmp(s, NUL[i], n))
            return NULL;
    for (int i = 0; YES[i]; i++)
        if (strlen(YES[i]) == n && !memcmp(s, YES[i], n))
            return json_object_new_boolean(1);
    for (int i = 0; NO[i]; i++)
        if (strlen(NO[i]) == n && !memcmp(s, NO[i], n))
            return json_object_new_boolean(0);
    char buf[64];
    if (n > 0 && n < sizeof buf && (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' ||
                                    s[0] == '.')) {
        memcpy(buf, s, n);
        buf[n] = 0;
        char *end;
        double d = strtod(buf, &end);
        if (*end == 0 && end != buf)
            return json_object_new_double_s(d, buf);
    }
    return json_object_new_string_len(s, (int)n);
}

typedef struct yconv {
    yaml_document_t *doc;
    size_t nodes;
    const char *err;
} yconv;

static json_object *ynode(yconv *c, int id, int depth, bool *ok)
{
    yaml_node_t *n = yaml_document_get_node(c->doc, id);
    if (!n || depth > MAX_DEPTH || ++c->nodes > MAX_NODES) {
        c->err = !n ? "a node is missing" : "the document is nested too deeply or too large";
        *ok = false;
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return plain_scalar((const char *)n->data.scalar.value, n->data.scalar.length);
        return json_object_new_string_len((const char *)n->data.scalar.value,
                                          (int)n->data.scalar.length);
    case YAML_SEQUENCE_NODE: {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             *ok && it < n->data.sequence.items.top; it++)
            json_object_array_add(a, ynode(c, *it, depth + 1, ok));
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_object *o = json_object_new_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             *ok && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                c->err = "a mapping key is not a scalar";
                *ok = false;
                break;
            }
            char *key = nb_strndup((const char *)k->data.scalar.value, k->data.scalar.length);
            json_object *v = ynode(c, p->value, depth + 1, ok);
            json_object_object_add(o, key, v);
            free(key);
        }
        return o;
    }
    default:
        c->err = "an empty node";
        *ok = false;
        return NULL;
    }
}

/* Refuses aliases before loading: the document loader resolves them to
 * shared nodes, which a tree conversion would copy (exponentially). */
static bool has_alias(const char *s, size_t n, char *err, size_t errn)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return true;
    yaml_parser_set_input_string(&p, (const unsigned char *)s, n);
    bool alias = false, done = false;
    while (!done) {
        yaml_token_t t;
        if (!yaml_parser_scan(&p, &t)) {
            break; /* the loader reports the syntax error */
        }
        if (t.type == YAML_ALIAS_TOKEN) {
            snprintf(err, errn, "YAML aliases are not supported");
            alias = true;
        }
        done = alias || t.type == YAML_STREAM_END_TOKEN;
        yaml_token_delete(&t);
    }
    yaml_parser_delete(&p);
    return alias;
}

static json_object *parse_yaml(const char *s, size_t n, char *err, size_t errn)
{
    if (has_alias(s, n, err, errn))
        return NULL;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errn, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)s, n);
    json_object *out = NULL;
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, errn, "%s at line %zu, column %zu", p.problem ? p.problem : "invalid YAML",
                 p.problem_mark.line + 1, p.problem_mark.column + 1);
    } else {
        yconv c = {.doc = &doc};
        bool ok = yaml_document_get_root_node(&doc) != NULL;
        if (!ok)
            snprintf(err, errn, "the document is empty");
        else
            out = ynode(&c, 1, 0, &ok);
        if (!ok) {
            if (c.err)
                snprintf(err, errn, "%s", c.err);
            json_object_put(out);
            out = NULL;
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return out;
}

/* The definition in body (JSON, else YAML) as an object, or NULL with why. */
static json_object *parse_definition(const char *body, char *err, size_t errn)
{
    size_t n = strlen(body);
    const char *p = body;
    while (*p && isspace((unsigned char)*p))
        p++;
    json_object *o;
    if (*p == '{') {
        json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
        o = json_tokener_parse_ex(tok, body, (int)n);
        enum json_tokener_error je = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        while (je == json_tokener_success && end < n && isspace((unsigned char)body[end]))
            end++; /* whitespace after the document is fine */
        if (je != json_tokener_success || end < n) {
            snprintf(err, errn, "%s", je == json_tokener_success ? "text after the JSON document"
                                                                 : json_tokener_error_desc(je));
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    } else {
        o = parse_yaml(body, n, err, errn);
    }
    if (o && !json_object_is_type(o, json_type_object)) {
        snprintf(err, errn, "the definition is not an object");
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* ---- import --------------------------------------------------------------------------------- */

/* Runs a control-plane operation on in (consumed) inside this call; its
 * answer (owned), or NULL with the call failed. */
static json_object *sub(nb_call *call, nb_status (*op)(nb_call *, json_object *), json_object *in)
{
    json_object *saved = call->out;
    call->out = NULL;
    nb_status st = op(call, in);
    json_object *out = call->out;
    call->out = saved;
    json_object_put(in);
    if (st != NB_OK) {
        json_object_put(out);
        return NULL;
    }
    return out ? out : json_object_new_object();
}

typedef struct importer {
    nb_call *call;
    const char *api;
    json_object *oas;
    json_object *warnings;  /* array of strings */
    json_object *authz;     /* scheme name → {"id", "type"} */
    json_object *integs;    /* integration JSON text → id */
    char prefix[512];       /* basepath=prepend */
} importer;

static void warn(importer *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(importer *im, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object_array_add(im->warnings, json_object_new_string(msg));
}

/* Copies OpenAPI member `from` of src to `to` of dst (as it is). */
static void move(json_object *dst, const char *to, json_object *src, const char *from)
{
    json_object *v = nb_get(src, from);
    if (v && !json_object_is_type(v, json_type_null))
        set(dst, to, ag_copy(v));
}

static void move_text(json_object *dst, const char *to, json_object *src, const char *from)
{
    const char *v = text(src, from);
    if (v)
        set_str(dst, to, v);
}

/* Members an extension object and a model document name differently. */
typedef struct member_map {
    const char *ext, *model;
    bool text; /* a string member (YAML may have read it as a number) */
} member_map;

/* Copies the members of map from src to dst: extension names to model
 * names (to_model), or back. */
static void map_members(json_object *dst, json_object *src, const member_map *map, size_t n,
                        bool to_model)
{
    for (size_t i = 0; i < n; i++) {
        const char *to = to_model ? map[i].model : map[i].ext;
        const char *from = to_model ? map[i].ext : map[i].model;
        if (map[i].text)
            move_text(dst, to, src, from);
        else
            move(dst, to, src, from);
    }
}

static const member_map INTEG_MAP[] = {
    {"uri", "IntegrationUri", true},
    {"httpMethod", "IntegrationMethod", true},
    {"payloadFormatVersion", "PayloadFormatVersion", true},
    {"connectionId", "ConnectionId", true},
    {"timeoutInMillis", "TimeoutInMillis", false},
    {"credentials", "CredentialsArn", true},
    {"description", "Description", true},
    {"integrationSubtype", "IntegrationSubtype", true},
    {"requestParameters", "RequestParameters", false},
    {"responseParameters", "ResponseParameters", false},
};

static const member_map REQUEST_AUTHZ_MAP[] = {
    {"authorizerUri", "AuthorizerUri", true},
    {"authorizerPayloadFormatVersion", "AuthorizerPayloadFormatVersion", true},
    {"enableSimpleResponses", "EnableSimpleResponses", false},
    {"authorizerResultTtlInSeconds", "AuthorizerResultTtlInSeconds", false},
    {"authorizerCredentials", "AuthorizerCredentialsArn", true},
};

#define MAP_N(m) (sizeof(m) / sizeof((m)[0]))

/* x-amazon-apigateway-cors to a CorsConfiguration (to_model), or back. */
static json_object *cors_map(json_object *from, bool to_model)
{
    static const member_map K[] = {
        {"allowOrigins", "AllowOrigins", false},   {"allowCredentials", "AllowCredentials", false},
        {"exposeHeaders", "ExposeHeaders", false}, {"maxAge", "MaxAge", false},
        {"allowMethods", "AllowMethods", false},   {"allowHeaders", "AllowHeaders", false},
    };
    json_object *c = json_object_new_object();
    map_members(c, from, K, MAP_N(K), to_model);
    return c;
}

/* The API's members from the definition's info and root extensions. */
static void api_members(json_object *in, json_object *oas)
{
    json_object *info = obj(oas, "info");
    move_text(in, "Name", info, "title");
    move_text(in, "Version", info, "version");
    move_text(in, "Description", info, "description");
    json_object *cors = obj(oas, "x-amazon-apigateway-cors");
    if (cors)
        set(in, "CorsConfiguration", cors_map(cors, true));
    json_object *ep = obj(oas, "x-amazon-apigateway-endpoint-configuration");
    move(in, "DisableExecuteApiEndpoint", ep, "disableExecuteApiEndpoint");
}

/* "a, b" → ["a", "b"] */
static json_object *split_sources(const char *s)
{
    json_object *a = json_object_new_array();
    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && t[-1] == ' ')
            t--;
        if (t > s)
            json_object_array_add(a, json_object_new_string_len(s, (int)(t - s)));
        s = e;
    }
    return a;
}

static bool import_authorizers(importer *im)
{
    json_object *schemes = obj(obj(im->oas, "components"), "securitySchemes");
    if (!schemes)
        return true;
    json_object_object_foreach(schemes, name, scheme)
    {
        json_object *a = obj(scheme, "x-amazon-apigateway-authorizer");
        if (!a)
            continue;
        const char *type = text(a, "type");
        json_object *in = json_object_new_object();
        set_str(in, "ApiId", im->api);
        set_str(in, "Name", name);
        const char *src = text(a, "identitySource");
        if (type && !strcasecmp(type, "jwt")) {
            set_str(in, "AuthorizerType", "JWT");
            json_object *ids = json_object_new_array();
            json_object_array_add(ids, json_object_new_string(src ? src : "$request.header.Authorization"));
            set(in, "IdentitySource", ids);
            json_object *jc = obj(a, "jwtConfiguration"), *cfg = json_object_new_object();
            move_text(cfg, "Issuer", jc, "issuer");
            move(cfg, "Audience", jc, "audience");
            set(in, "JwtConfiguration", cfg);
        } else if (type && !strcasecmp(type, "request")) {
            set_str(in, "AuthorizerType", "REQUEST");
            if (src)
                set(in, "IdentitySource", split_sources(src));
            map_members(in, a, REQUEST_AUTHZ_MAP, MAP_N(REQUEST_AUTHZ_MAP), true);
        } else {
            warn(im, "Unsupported authorizer type %s for security scheme %s: HTTP APIs support jwt "
                     "and request authorizers", type ? type : "(none)", name);
            json_object_put(in);
            continue;
        }
        json_object *out = sub(im->call, ag_op_create_authorizer, in);
        if (!out)
            return false;
        json_object *e = json_object_new_object();
        set_str(e, "id", nb_str(out, "AuthorizerId"));
        set_str(e, "type", nb_str(out, "AuthorizerType"));
        set(im->authz, name, e);
        json_object_put(out);
    }
    return true;
}

/* The integration an operation names (resolving a $ref), or NULL. */
static json_object *op_integration(importer *im, json_object *op)
{
    json_object *ig = obj(op, "x-amazon-apigateway-integration");
    const char *ref = text(ig, "$ref");
    static const char REF[] = "#/components/x-amazon-apigateway-integrations/";
    if (ref) {
        if (strncmp(ref, REF, sizeof REF - 1) != 0) {
            warn(im, "Unsupported integration reference %s", ref);
            return NULL;
        }
        ig = obj(obj(obj(im->oas, "components"), "x-amazon-apigateway-integrations"),
                 ref + sizeof REF - 1);
        if (!ig)
            warn(im, "The integration reference %s names no integration", ref);
    }
    return ig;
}

/* The id of the integration for ig (created once per distinct ig); "" when
 * unsupported (a warning), NULL when the call failed. */
static const char *integration_id(importer *im, json_object *ig, const char *route)
{
    const char *key = json_object_to_json_string_ext(ig, JSON_C_TO_STRING_PLAIN);
    const char *have = nb_str(im->integs, key);
    if (have)
        return have;
    const char *type = text(ig, "type");
    const char *t = !type ? NULL : !strcasecmp(type, "aws_proxy") ? "AWS_PROXY"
                                 : !strcasecmp(type, "http_proxy") ? "HTTP_PROXY" : NULL;
    if (!t) {
        warn(im, "Unsupported integration type %s for route %s: HTTP APIs support only "
                 "aws_proxy and http_proxy integrations", type ? type : "(none)", route);
        return "";
    }
    json_object *in = json_object_new_object();
    set_str(in, "ApiId", im->api);
    set_str(in, "IntegrationType", t);
    map_members(in, ig, INTEG_MAP, MAP_N(INTEG_MAP), true);
    const char *ct = text(ig, "connectionType");
    if (ct)
        set_str(in, "ConnectionType", !strcasecmp(ct, "vpc_link") ? "VPC_LINK" : "INTERNET");
    json_object *tls = obj(ig, "tlsConfig");
    if (tls) {
        json_object *c = json_object_new_object();
        move_text(c, "ServerNameToVerify", tls, "serverNameToVerify");
        set(in, "TlsConfig", c);
    }
    json_object *out = sub(im->call, ag_op_create_integration, in);
    if (!out)
        return NULL;
    set_str(im->integs, key, nb_str(out, "IntegrationId"));
    json_object_put(out);
    return nb_str(im->integs, key);
}

/* The route's authorization from the operation's (else the root's)
 * security requirements. */
static void route_security(importer *im, json_object *in, json_object *op)
{
    json_object *sec = nb_get(op, "security");
    if (!sec)
        sec = nb_get(im->oas, "security");
    if (!sec || !json_object_is_type(sec, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(sec); i++) {
        json_object *req = json_object_array_get_idx(sec, i);
        if (!req || !json_object_is_type(req, json_type_object))
            continue;
        json_object_object_foreach(req, name, scopes)
        {
            json_object *a = nb_get(im->authz, name);
            if (!a) {
                warn(im, "Security requirement %s names no imported authorizer", name);
                continue;
            }
            bool jwt = !strcmp(nb_str(a, "type"), "JWT");
            set_str(in, "AuthorizationType", jwt ? "JWT" : "CUSTOM");
            set_str(in, "AuthorizerId", nb_str(a, "id"));
            if (jwt && scopes && json_object_is_type(scopes, json_type_array) &&
                json_object_array_length(scopes))
                set(in, "AuthorizationScopes", ag_copy(scopes));
            return;
        }
    }
}

static const char *const METHODS[][2] = {
    {"get", "GET"},         {"put", "PUT"},       {"post", "POST"},
    {"delete", "DELETE"},   {"patch", "PATCH"},   {"head", "HEAD"},
    {"options", "OPTIONS"}, {"x-amazon-apigateway-any-method", "ANY"},
};

static bool import_routes(importer *im)
{
    json_object *paths = obj(im->oas, "paths");
    if (!paths)
        return true;
    json_object_object_foreach(paths, path, item)
    {
        if (!json_object_is_type(item, json_type_object))
            continue;
        json_object_object_foreach(item, mkey, op)
        {
            const char *method = NULL;
            for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
                if (!strcmp(mkey, METHODS[i][0]))
                    method = METHODS[i][1];
            if (!method) {
                if (!strcmp(mkey, "trace"))
                    warn(im, "Unsupported method TRACE for path %s", path);
                continue; /* parameters, summary, servers, ... */
            }
            char key[1200];
            if (!strcmp(path, "$default"))
                snprintf(key, sizeof key, "$default");
            else
                snprintf(key, sizeof key, "%s %s%s", method, im->prefix, path);
            json_object *in = json_object_new_object();
            set_str(in, "ApiId", im->api);
            set_str(in, "RouteKey", key);
            move_text(in, "OperationName", op, "operationId");
            json_object *ig = op_integration(im, op);
            if (ig) {
                const char *id = integration_id(im, ig, key);
                if (!id) {
                    json_object_put(in);
                    return false;
                }
                if (*id) {
                    char target[64];
                    snprintf(target, sizeof target, "integrations/%s", id);
                    set_str(in, "Target", target);
                }
            }
            route_security(im, in, op);
            json_object *out = sub(im->call, ag_op_create_route, in);
            if (!out)
                return false;
            json_object_put(out);
        }
    }
    return true;
}

/* The path of servers[0].url (variables substituted with their defaults)
 * for basepath=prepend, without a trailing '/'. */
static void server_base(json_object *oas, char *out, size_t n)
{
    out[0] = 0;
    json_object *servers = nb_get(oas, "servers");
    json_object *s0 = servers && json_object_is_type(servers, json_type_array)
                          ? json_object_array_get_idx(servers, 0) : NULL;
    const char *url = text(s0, "url");
    if (!url)
        return;
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : (url[0] == '/' ? url : NULL);
    nb_buf b = {0};
    json_object *vars = obj(s0, "variables");
    for (; p && *p; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (e) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(e - p - 1), p + 1);
                const char *def = text(obj(vars, name), "default");
                nb_buf_adds(&b, def ? def : "");
                p = e;
                continue;
            }
        }
        nb_buf_addc(&b, *p);
    }
    while (b.len && b.data[b.len - 1] == '/')
        b.len--;
    if (b.len && b.data[0] != '/')
        snprintf(out, n, "/%.*s", (int)b.len, b.data);
    else
        snprintf(out, n, "%.*s", (int)b.len, b.data ? b.data : "");
    nb_buf_free(&b);
}

static bool flag(json_object *in, const char *k)
{
    json_object *v = nb_get(in, k);
    if (!v)
        return false;
    if (json_object_is_type(v, json_type_boolean))
        return json_object_get_boolean(v);
    return !strcmp(json_object_get_string(v), "true");
}

/* Reads the request's definition and options; NULL after failing the call. */
static json_object *definition(nb_call *call, json_object *in, importer *im)
{
    const char *bp = nb_str(in, "Basepath");
    if (bp && strcmp(bp, "ignore") && strcmp(bp, "prepend") && strcmp(bp, "split")) {
        ag_bad(call, "Invalid basepath value %s: it must be ignore, prepend or split", bp);
        return NULL;
    }
    char err[300] = "";
    json_object *oas = parse_definition(nb_str(in, "Body") ? nb_str(in, "Body") : "", err, sizeof err);
    if (!oas) {
        ag_bad(call, "Unable to parse the OpenAPI definition: %s", err);
        return NULL;
    }
    const char *ver = text(oas, "openapi");
    if (!ver || strncmp(ver, "3.", 2) != 0) {
        ag_bad(call, text(oas, "swagger") ? "HTTP APIs support only OpenAPI 3.0 definitions, not "
                                            "Swagger 2.0"
                                          : "The definition has no openapi version 3.x");
        json_object_put(oas);
        return NULL;
    }
    if (!text(obj(oas, "info"), "title")) {
        json_object_put(oas);
        ag_bad(call, "The definition has no info.title: it names the API");
        return NULL;
    }
    memset(im, 0, sizeof *im);
    im->call = call;
    im->oas = oas;
    im->warnings = json_object_new_array();
    im->authz = json_object_new_object();
    im->integs = json_object_new_object();
    if (bp && !strcmp(bp, "prepend"))
        server_base(oas, im->prefix, sizeof im->prefix);
    return oas;
}

static void importer_free(importer *im)
{
    json_object_put(im->oas);
    json_object_put(im->warnings);
    json_object_put(im->authz);
    json_object_put(im->integs);
}

/* Authorizers, integrations and routes; then the answer (the API, with
 * Warnings), or the failure failOnWarnings asks for. */
static nb_status build(importer *im, json_object *in)
{
    nb_call *call = im->call;
    if (!import_authorizers(im) || !import_routes(im))
        return NB_ERROR;
    size_t nw = json_object_array_length(im->warnings);
    if (nw && flag(in, "FailOnWarnings")) {
        nb_buf b = {0};
        nb_buf_adds(&b, "Warnings found during import:");
        for (size_t i = 0; i < nw; i++) {
            nb_buf_adds(&b, "\n\t");
            nb_buf_adds(&b, json_object_get_string(json_object_array_get_idx(im->warnings, i)));
        }
        nb_buf_addc(&b, 0);
        ag_bad(call, "%s", b.data);
        nb_buf_free(&b);
        return NB_ERROR;
    }
    ag_autodeploy(call, im->api);
    json_object *q = json_object_new_object();
    set_str(q, "ApiId", im->api);
    json_object *api = sub(call, ag_op_get_api, q);
    if (!api)
        return NB_ERROR;
    if (nw)
        set(api, "Warnings", json_object_get(im->warnings));
    call->out = api;
    return NB_OK;
}

nb_status ag_op_import_api(nb_call *call, json_object *in)
{
    importer im;
    if (!definition(call, in, &im))
        return NB_ERROR;
    json_object *a = json_object_new_object();
    set_str(a, "ProtocolType", "HTTP");
    api_members(a, im.oas);
    json_object *api = sub(call, ag_op_create_api, a);
    nb_status st = NB_ERROR;
    if (api) {
        im.api = nb_str(api, "ApiId");
        st = build(&im, in);
        json_object_put(api);
    }
    importer_free(&im);
    return st;
}

nb_status ag_op_reimport_api(nb_call *call, json_object *in)
{
    const char *id = nb_str(in, "ApiId");
    json_object *cur = ag_api(call, id);
    if (!cur)
        return NB_ERROR;
    json_object_put(cur);
    importer im;
    if (!definition(call, in, &im))
        return NB_ERROR;
    /* The definition replaces what the API had: its routes, integrations
     * and authorizers, and the members it may leave out. */
    cur = ag_load(id, "api", id);
    static const char *const DROP[] = {"Description", "Version", "CorsConfiguration", NULL};
    for (int i = 0; cur && DROP[i]; i++)
        json_object_object_del(cur, DROP[i]);
    if (cur)
        ag_save(call, id, "api", id, cur);
    json_object_put(cur);
    static const char *const KINDS[] = {"route", "integ", "authz", NULL};
    for (int k = 0; KINDS[k]; k++) {
        long long next = 0;
        json_object *docs = ag_list(id, KINDS[k], 0, 0, &next);
        static const char *const IDS[] = {"RouteId", "IntegrationId", "AuthorizerId"};
        for (size_t i = 0; i < json_object_array_length(docs); i++)
            ag_delete(id, KINDS[k], nb_str(json_object_array_get_idx(docs, i), IDS[k]));
        json_object_put(docs);
    }
    json_object *a = json_object_new_object();
    set_str(a, "ApiId", id);
    api_members(a, im.oas);
    json_object *api = sub(call, ag_op_update_api, a);
    nb_status st = NB_ERROR;
    if (api) {
        im.api = id;
        st = build(&im, in);
        json_object_put(api);
    }
    importer_free(&im);
    return st;
}

/* ---- export --------------------------------------------------------------------------------- */

static json_object *integration_ext(json_object *ig)
{
    json_object *x = json_object_new_object();
    const char *t = nb_str(ig, "IntegrationType");
    char low[32];
    snprintf(low, sizeof low, "%s", t ? t : "");
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    set_str(x, "type", low);
    map_members(x, ig, INTEG_MAP, MAP_N(INTEG_MAP), false);
    if (!nb_get(x, "httpMethod") && t && !strcmp(t, "AWS_PROXY"))
        set_str(x, "httpMethod", "POST");
    move_text(x, "connectionType", ig, "ConnectionType");
    json_object *tls = obj(ig, "TlsConfig");
    if (tls && text(tls, "ServerNameToVerify")) {
        json_object *c = json_object_new_object();
        move_text(c, "serverNameToVerify", tls, "ServerNameToVerify");
        set(x, "tlsConfig", c);
    }
    return x;
}

static json_object *scheme_of(json_object *az, bool ext)
{
    json_object *s = json_object_new_object();
    bool jwt = !strcmp(nb_str(az, "AuthorizerType") ? nb_str(az, "AuthorizerType") : "", "JWT");
    if (jwt) {
        set_str(s, "type", "oauth2");
        set(s, "flows", json_object_new_object());
    } else {
        set_str(s, "type", "apiKey");
        set_str(s, "name", "Unused");
        set_str(s, "in", "header");
    }
    if (!ext)
        return s;
    json_object *x = json_object_new_object();
    set_str(x, "type", jwt ? "jwt" : "request");
    json_object *ids = nb_get(az, "IdentitySource");
    nb_buf b = {0};
    for (size_t i = 0; ids && json_object_is_type(ids, json_type_array) &&
                       i < json_object_array_length(ids); i++) {
        if (i)
            nb_buf_adds(&b, ", ");
        nb_buf_adds(&b, json_object_get_string(json_object_array_get_idx(ids, i)));
    }
    if (b.len) {
        nb_buf_addc(&b, 0);
        set_str(x, "identitySource", b.data);
    }
    nb_buf_free(&b);
    if (jwt) {
        json_object *jc = obj(az, "JwtConfiguration"), *c = json_object_new_object();
        move(c, "audience", jc, "Audience");
        move_text(c, "issuer", jc, "Issuer");
        set(x, "jwtConfiguration", c);
    } else {
        map_members(x, az, REQUEST_AUTHZ_MAP, MAP_N(REQUEST_AUTHZ_MAP), false);
    }
    set(s, "x-amazon-apigateway-authorizer", x);
    return s;
}

/* Path parameters of an OpenAPI path ("{id}", "{proxy+}"). */
static json_object *path_parameters(const char *path)
{
    json_object *ps = NULL;
    for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            break;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(e - p - 1), p + 1);
        json_object *prm = json_object_new_object();
        set_str(prm, "name", name);
        set_str(prm, "in", "path");
        char d[300];
        snprintf(d, sizeof d, "Generated path parameter for %s", name);
        set_str(prm, "description", d);
        set(prm, "required", json_object_new_boolean(1));
        json_object *sch = json_object_new_object();
        set_str(sch, "type", "string");
        set(prm, "schema", sch);
        if (!ps)
            ps = json_object_new_array();
        json_object_array_add(ps, prm);
    }
    return ps;
}

static json_object *export_doc(const nb_call *call, json_object *api, const char *stage,
                               json_object *routes, json_object *integs, json_object *authzs,
                               bool ext)
{
    json_object *d = json_object_new_object();
    set_str(d, "openapi", "3.0.1");
    json_object *info = json_object_new_object();
    set_str(info, "title", nb_str(api, "Name"));
    const char *ver = nb_str(api, "Version");
    char when[64];
    if (!ver) {
        time_t t = (time_t)json_object_get_double(nb_get(api, "CreatedDate"));
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SUTC", &tm);
        ver = when;
    }
    set_str(info, "version", ver);
    move_text(info, "description", api, "Description");
    set(d, "info", info);
    json_object *server = json_object_new_object(), *servers = json_object_new_array();
    char url[512];
    snprintf(url, sizeof url, "%s/{basePath}", nb_str(api, "ApiEndpoint"));
    set_str(server, "url", url);
    json_object *vars = json_object_new_object(), *bp = json_object_new_object();
    set_str(bp, "default", stage && strcmp(stage, "$default") ? stage : "");
    set(vars, "basePath", bp);
    set(server, "variables", vars);
    json_object_array_add(servers, server);
    set(d, "servers", servers);
    json_object *paths = json_object_new_object();
    json_object *names = json_object_new_object(); /* authorizer id → name */
    json_object_object_foreach(authzs, aid, az) set_str(names, aid, nb_str(az, "Name"));
    for (size_t i = 0; i < json_object_array_length(routes); i++) {
        json_object *r = json_object_array_get_idx(routes, i);
        const char *key = nb_str(r, "RouteKey");
        if (!key)
            continue;
        const char *sp = strchr(key, ' ');
        char method[32] = "x-amazon-apigateway-any-method";
        const char *path = "$default";
        if (sp) {
            path = sp + 1;
            if (strncmp(key, "ANY ", 4) != 0) {
                snprintf(method, sizeof method, "%.*s", (int)(sp - key), key);
                for (char *p = method; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
            }
        }
        json_object *item = obj(paths, path);
        if (!item) {
            item = json_object_new_object();
            set(paths, path, item);
            json_object *ps = path_parameters(path);
            if (ps)
                set(item, "parameters", ps);
        }
        json_object *op = json_object_new_object();
        move_text(op, "operationId", r, "OperationName");
        json_object *resp = json_object_new_object(), *def = json_object_new_object();
        char desc[1200];
        snprintf(desc, sizeof desc, "Default response for %s", key);
        set_str(def, "description", desc);
        set(resp, "default", def);
        set(op, "responses", resp);
        const char *azid = nb_str(r, "AuthorizerId");
        if (azid && nb_str(names, azid)) {
            json_object *req = json_object_new_object(), *sec = json_object_new_array();
            json_object *sc = nb_get(r, "AuthorizationScopes");
            set(req, nb_str(names, azid), sc ? ag_copy(sc) : json_object_new_array());
            json_object_array_add(sec, req);
            set(op, "security", sec);
        }
        const char *target = nb_str(r, "Target");
        if (ext && target && !strncmp(target, "integrations/", 13) && obj(integs, target + 13))
            set(op, "x-amazon-apigateway-integration", integration_ext(obj(integs, target + 13)));
        if (!sp && ext)
            set(op, "isDefaultRoute", json_object_new_boolean(1));
        set(item, method, op);
    }
    json_object_put(names);
    set(d, "paths", paths);
    if (json_object_object_length(authzs)) {
        json_object *schemes = json_object_new_object(), *comp = json_object_new_object();
        json_object_object_foreach(authzs, id2, az2)
        {
            (void)id2;
            set(schemes, nb_str(az2, "Name"), scheme_of(az2, ext));
        }
        set(comp, "securitySchemes", schemes);
        set(d, "components", comp);
    }
    if (ext) {
        json_object *cors = obj(api, "CorsConfiguration");
        if (cors)
            set(d, "x-amazon-apigateway-cors", cors_map(cors, false));
        set_str(d, "x-amazon-apigateway-importexport-version", "1.0");
    }
    (void)call;
    return d;
}

/* ---- json-c → YAML ------------------------------------------------------------------------- */

/* Whether a string would read back as something else when plain. */
static bool needs_quotes(const char *s)
{
    json_object *v = plain_scalar(s, strlen(s));
    bool q = !v || !json_object_is_type(v, json_type_string);
    json_object_put(v);
    return q;
}

static int emit(yaml_emitter_t *em, json_object *v, int depth)
{
    yaml_event_t ev;
    if (depth > MAX_DEPTH)
        return 0;
    enum json_type t = v ? json_object_get_type(v) : json_type_null;
    if (t == json_type_object) {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        json_object_object_foreach(v, k, c)
        {
            /* initialize refuses text that is not UTF-8 */
            if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)k, (int)strlen(k), 1,
                                              1, needs_quotes(k) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                                 : YAML_ANY_SCALAR_STYLE) ||
                !yaml_emitter_emit(em, &ev) || !emit(em, c, depth + 1))
                return 0;
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    if (t == json_type_array) {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!emit(em, json_object_array_get_idx(v, i), depth + 1))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    const char *s = t == json_type_null ? "null" : json_object_get_string(v);
    bool quote = t == json_type_string && needs_quotes(s);
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                        quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                              : YAML_ANY_SCALAR_STYLE) &&
           yaml_emitter_emit(em, &ev);
}

static int yaml_out(void *data, unsigned char *buf, size_t n)
{
    nb_buf_add(data, buf, n);
    return 1;
}

static bool to_yaml(json_object *doc, nb_buf *out)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return false;
    yaml_emitter_set_output(&em, yaml_out, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
              yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
              yaml_emitter_emit(&em, &ev) && emit(&em, doc, 0) &&
              yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
              yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
    yaml_emitter_delete(&em);
    return ok;
}

nb_status ag_op_export_api(nb_call *call, json_object *in)
{
    const char *spec = nb_str(in, "Specification"), *type = nb_str(in, "OutputType");
    const char *ver = nb_str(in, "ExportVersion"), *stage = nb_str(in, "StageName");
    if (!spec || strcmp(spec, "OAS30"))
        return ag_bad(call, "Unsupported specification %s: the only one is OAS30", spec ? spec : "");
    if (!type || (strcmp(type, "JSON") && strcmp(type, "YAML")))
        return ag_bad(call, "Invalid outputType %s: it must be JSON or YAML", type ? type : "");
    if (ver && strcmp(ver, "1.0"))
        return ag_bad(call, "Unsupported exportVersion %s: the only one is 1.0", ver);
    bool ext = !nb_get(in, "IncludeExtensions") || flag(in, "IncludeExtensions");
    json_object *api = ag_api(call, nb_str(in, "ApiId"));
    if (!api)
        return NB_ERROR;
    const char *id = nb_str(api, "ApiId");
    json_object *routes, *integs, *authzs;
    if (stage) {
        json_object *st = ag_load(id, "stage", stage);
        json_object *dep = st && nb_str(st, "DeploymentId")
                               ? ag_load(id, "deploy", nb_str(st, "DeploymentId")) : NULL;
        json_object_put(st);
        json_object *snap = obj(dep, AG_SNAPSHOT);
        if (!snap) {
            json_object_put(dep);
            json_object_put(api);
            return ag_not_found(call, "Unable to find Stage with name %s, or it has no deployment",
                                stage);
        }
        routes = ag_copy(nb_get(snap, "routes"));
        integs = ag_copy(nb_get(snap, "integrations"));
        authzs = nb_get(snap, "authorizers") ? ag_copy(nb_get(snap, "authorizers"))
                                             : json_object_new_object();
        json_object_put(dep);
    } else {
        long long next = 0;
        routes = ag_list(id, "route", 0, 0, &next);
        integs = json_object_new_object();
        authzs = json_object_new_object();
        json_object *l = ag_list(id, "integ", 0, 0, &next);
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            json_object *ig = json_object_array_get_idx(l, i);
            set(integs, nb_str(ig, "IntegrationId"), json_object_get(ig));
        }
        json_object_put(l);
        l = ag_list(id, "authz", 0, 0, &next);
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            json_object *az = json_object_array_get_idx(l, i);
            set(authzs, nb_str(az, "AuthorizerId"), json_object_get(az));
        }
        json_object_put(l);
    }
    if (!routes)
        routes = json_object_new_array();
    if (!integs)
        integs = json_object_new_object();
    json_object *doc = export_doc(call, api, stage, routes, integs, authzs, ext);
    nb_buf b = {0};
    bool ok = true;
    if (!strcmp(type, "JSON"))
        nb_buf_adds(&b, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    else
        ok = to_yaml(doc, &b);
    json_object_put(doc);
    json_object_put(routes);
    json_object_put(integs);
    json_object_put(authzs);
    json_object_put(api);
    if (!ok) {
        nb_buf_free(&b);
        return nb_fail(call, "InternalServerError", "The API could not be written as YAML");
    }
    call->out = json_object_new_object();
    set(call->out, "body", json_object_new_string_len(b.data ? b.data : "", (int)b.len));
    nb_buf_free(&b);
    return NB_OK;
}

/* For the fuzz target: parse a definition (JSON or YAML) and write it
 * back as YAML. */
int ag_openapi_roundtrip(const char *body, nb_buf *out)
{
    char err[300];
    json_object *o = parse_definition(body, err, sizeof err);
    if (!o)
        return -1;
    bool ok = to_yaml(o, out);
    json_object_put(o);
    return ok ? 0 : -1;
}
