/*
 * apigw_cp.c — the HTTP API control plane: APIs (with quick create),
 * routes, integrations, authorizers, stages, deployments and tags.  Documents are kept
 * in the shape their Get operation returns (apigw.c stores them); members
 * starting with "_" are internal and never leave.
 *
 * Every change to a route or an integration redeploys the API's
 * auto-deploy stages (ag_autodeploy), inside the same call.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apigw_internal.h"

/* What AWS answers for an HTTP API; the documented "${request.method}
 * ${request.path}" is accepted as the same expression. */
#define ROUTE_SELECTION "$request.method $request.path"
#define ROUTE_SELECTION_BRACED "${request.method} ${request.path}"
#define KEY_SELECTION "$request.header.x-api-key"

/* ---- helpers --------------------------------------------------------------- */

static void set(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static void set_str(json_object *o, const char *k, const char *v)
{
    set(o, k, json_object_new_string(v));
}

/* Copy member k of in into doc when present. */
static void take(json_object *doc, json_object *in, const char *k)
{
    json_object *v = nb_get(in, k);
    if (v)
        set(doc, k, ag_copy(v));
}

/* Hand doc (taken) out without its internal members. */
static nb_status out_doc(nb_call *call, json_object *doc)
{
    json_object *o = json_object_new_object();
    json_object_object_foreach(doc, k, v) {
        if (k[0] != '_')
            set(o, k, json_object_get(v));
    }
    json_object_put(doc);
    call->out = o;
    return NB_OK;
}

/* Items/NextToken pages for the Get*s operations. */
static nb_status out_page(nb_call *call, json_object *in, const char *api, const char *kind)
{
    const char *max_s = nb_str(in, "MaxResults"), *tok = nb_str(in, "NextToken");
    char *end = NULL;
    long max = 0;
    if (max_s) {
        max = strtol(max_s, &end, 10);
        if (!*max_s || *end || max < 1 || max > 500)
            return ag_bad(call, "Invalid MaxResults: %s. It must be a number from 1 to 500", max_s);
    }
    long long after = 0;
    if (tok) {
        after = strtoll(tok, &end, 10);
        if (!*tok || *end || after < 0)
            return ag_bad(call, "Invalid pagination token");
    }
    long long next = 0;
    json_object *items = ag_list(api, kind, after, (int)max, &next);
    json_object *clean = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        nb_call tmp = {0};
        out_doc(&tmp, json_object_get(json_object_array_get_idx(items, i)));
        json_object_array_add(clean, tmp.out);
    }
    json_object_put(items);
    call->out = json_object_new_object();
    set(call->out, "Items", clean);
    if (next) {
        char t[32];
        snprintf(t, sizeof t, "%lld", next);
        set_str(call->out, "NextToken", t);
    }
    return NB_OK;
}

static bool valid_name(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

/* ---- integrations ---------------------------------------------------------- */

/* Apply in's members to an integration doc (new or existing). */
static bool integ_fill(nb_call *call, json_object *doc, json_object *in)
{
    const char *type = nb_str(in, "IntegrationType");
    if (!type)
        type = nb_str(doc, "IntegrationType");
    if (!type || (strcmp(type, "AWS_PROXY") != 0 && strcmp(type, "HTTP_PROXY") != 0)) {
        ag_bad(call, "Unsupported integration type '%s' for an HTTP API: use AWS_PROXY or "
                     "HTTP_PROXY", type ? type : "");
        return false;
    }
    bool lambda = strcmp(type, "AWS_PROXY") == 0;
    const char *uri = nb_str(in, "IntegrationUri");
    if (!uri)
        uri = nb_str(doc, "IntegrationUri");
    char arn[320];
    if (!uri || (lambda && !ag_lambda_target(uri, arn, sizeof arn))) {
        ag_bad(call, "Invalid integration URI specified: %s. An AWS_PROXY integration needs a "
                     "Lambda function ARN", uri ? uri : "(none)");
        return false;
    }
    const char *pfv = nb_str(in, "PayloadFormatVersion");
    if (!pfv)
        pfv = nb_str(doc, "PayloadFormatVersion");
    if (!pfv && !lambda)
        pfv = "1.0";
    if (!pfv) {
        ag_bad(call, "PayloadFormatVersion is required for Lambda integrations: 1.0 or 2.0");
        return false;
    }
    if ((strcmp(pfv, "1.0") != 0 && strcmp(pfv, "2.0") != 0) || (!lambda && strcmp(pfv, "1.0") != 0)) {
        ag_bad(call, "Invalid PayloadFormatVersion %s: it must be %s", pfv,
               lambda ? "1.0 or 2.0" : "1.0 for HTTP_PROXY integrations");
        return false;
    }
    if (!ag_integ_check(call, type, uri, doc, in))
        return false;
    const char *sub = nb_str(in, "IntegrationSubtype"), *conn = nb_str(in, "ConnectionType");
    if (sub || (conn && strcmp(conn, "INTERNET") != 0)) {
        ag_bad(call, "IntegrationSubtype and VPC_LINK connections are not supported by nimbus");
        return false;
    }
    int64_t t = 30000;
    if (nb_int(in, "TimeoutInMillis", &t) && (t < 50 || t > 30000)) {
        ag_bad(call, "TimeoutInMillis must be between 50 and 30000");
        return false;
    }
    set_str(doc, "IntegrationType", type);
    set_str(doc, "IntegrationUri", uri);
    set_str(doc, "PayloadFormatVersion", pfv);
    set_str(doc, "ConnectionType", "INTERNET");
    if (lambda)
        set_str(doc, "IntegrationMethod", "POST");
    if (nb_get(in, "TimeoutInMillis") || !nb_get(doc, "TimeoutInMillis"))
        set(doc, "TimeoutInMillis", json_object_new_int64(t));
    take(doc, in, "Description");
    take(doc, in, "CredentialsArn");
    take(doc, in, "RequestParameters");
    take(doc, in, "ResponseParameters");
    return true;
}

static json_object *integ_new(nb_call *call, const char *api, json_object *in, bool managed)
{
    json_object *doc = json_object_new_object();
    if (!integ_fill(call, doc, in)) {
        json_object_put(doc);
        return NULL;
    }
    char id[8];
    ag_new_id(id, 7);
    set_str(doc, "IntegrationId", id);
    if (managed)
        set(doc, "ApiGatewayManaged", json_object_new_boolean(true));
    ag_save(call, api, "integ", id, doc);
    return doc;
}

static json_object *integ_get(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *id = nb_str(in, "IntegrationId");
    json_object *doc = ag_load(api, "integ", id);
    if (!doc)
        ag_not_found(call, "Invalid Integration identifier specified");
    return doc;
}

nb_status ag_op_create_integration(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = integ_new(call, api, in, false);
    if (!doc)
        return NB_ERROR;
    ag_autodeploy(call, api);
    return out_doc(call, doc);
}

nb_status ag_op_get_integration(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = integ_get(call, in);
    return doc ? out_doc(call, doc) : NB_ERROR;
}

nb_status ag_op_get_integrations(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    return out_page(call, in, nb_str(in, "ApiId"), "integ");
}

nb_status ag_op_update_integration(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = integ_get(call, in);
    if (!doc)
        return NB_ERROR;
    if (!integ_fill(call, doc, in)) {
        json_object_put(doc);
        return NB_ERROR;
    }
    ag_save(call, api, "integ", nb_str(in, "IntegrationId"), doc);
    ag_autodeploy(call, api);
    return out_doc(call, doc);
}

/* The first route whose member k is v, or NULL. */
static json_object *route_with(const char *api, const char *k, const char *v)
{
    json_object *routes = ag_list(api, "route", 0, 0, NULL), *found = NULL;
    for (size_t i = 0; !found && i < json_object_array_length(routes); i++) {
        json_object *r = json_object_array_get_idx(routes, i);
        const char *t = nb_str(r, k);
        if (t && strcmp(t, v) == 0)
            found = json_object_get(r);
    }
    json_object_put(routes);
    return found;
}

/* The route that targets integration id, or NULL. */
static json_object *route_using(const char *api, const char *id)
{
    char target[64];
    snprintf(target, sizeof target, "integrations/%s", id);
    return route_with(api, "Target", target);
}

nb_status ag_op_delete_integration(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *id = nb_str(in, "IntegrationId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = integ_get(call, in);
    if (!doc)
        return NB_ERROR;
    json_object_put(doc);
    json_object *r = route_using(api, id);
    if (r) {
        ag_conflict(call, "Unable to delete integration %s: route %s targets it", id,
                    nb_str(r, "RouteKey"));
        json_object_put(r);
        return NB_ERROR;
    }
    ag_delete(api, "integ", id);
    ag_autodeploy(call, api);
    return NB_OK;
}

/* ---- authorizers --------------------------------------------------------------
 *
 * JWT authorizers (JwtConfiguration: Issuer and Audience; one identity
 * source, default $request.header.Authorization) and Lambda REQUEST
 * authorizers (AuthorizerUri, payload format 1.0 or 2.0, simple responses
 * for 2.0 only, a result cache of 0..3600 s keyed by the identity
 * sources).  A route names one by AuthorizationType JWT or CUSTOM and
 * AuthorizerId; apigw_auth.c enforces it on the data plane.
 */

#define AUTH_DEFAULT_SOURCE "$request.header.Authorization"

/* "$request.header.X", "$request.querystring.X", and for Lambda
 * authorizers also "$context.X" and "$stageVariables.X". */
static bool identity_source_ok(const char *s, bool jwt)
{
    static const char *const P[] = {"$request.header.", "$request.querystring.", "$context.",
                                    "$stageVariables.", NULL};
    for (int i = 0; P[i] && (!jwt || i < 2); i++) {
        size_t n = strlen(P[i]);
        if (strncmp(s, P[i], n) == 0 && valid_name(s + n, 256, "-_.$"))
            return true;
    }
    return false;
}

static bool authz_sources(nb_call *call, json_object *doc, bool jwt)
{
    json_object *src = nb_get(doc, "IdentitySource");
    size_t n = src ? json_object_array_length(src) : 0;
    if (jwt && n == 0) {
        src = json_object_new_array();
        json_object_array_add(src, json_object_new_string(AUTH_DEFAULT_SOURCE));
        set(doc, "IdentitySource", src);
        n = 1;
    }
    if (jwt && n != 1) {
        ag_bad(call, "JWT authorizers support exactly one identity source");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(src, i));
        if (!s || !identity_source_ok(s, jwt)) {
            ag_bad(call, "Invalid identity source expression: %s", s ? s : "");
            return false;
        }
    }
    return true;
}

static bool authz_check_jwt(nb_call *call, json_object *doc)
{
    json_object *jc = nb_get(doc, "JwtConfiguration");
    const char *iss = nb_str(jc, "Issuer");
    if (!jc || !iss || !iss[0]) {
        ag_bad(call, "JwtConfiguration with an Issuer is required for authorizer type JWT");
        return false;
    }
    if (strncmp(iss, "https://", 8) != 0 && strncmp(iss, "http://", 7) != 0) {
        ag_bad(call, "Invalid issuer %s: it must be an http(s) URL", iss);
        return false;
    }
    static const char *const LAMBDA_ONLY[] = {"AuthorizerUri", "AuthorizerPayloadFormatVersion",
                                              "EnableSimpleResponses", "AuthorizerCredentialsArn",
                                              NULL};
    for (int i = 0; LAMBDA_ONLY[i]; i++) {
        if (nb_get(doc, LAMBDA_ONLY[i])) {
            ag_bad(call, "%s is only supported for REQUEST authorizers", LAMBDA_ONLY[i]);
            return false;
        }
    }
    int64_t ttl = 0;
    if (nb_int(doc, "AuthorizerResultTtlInSeconds", &ttl) && ttl != 0) {
        ag_bad(call, "AuthorizerResultTtlInSeconds is only supported for REQUEST authorizers");
        return false;
    }
    return authz_sources(call, doc, true);
}

static bool authz_check_request(nb_call *call, json_object *doc)
{
    const char *uri = nb_str(doc, "AuthorizerUri");
    char arn[320];
    if (!uri || !ag_lambda_target(uri, arn, sizeof arn)) {
        ag_bad(call, "Invalid Authorizer URI: %s. Authorizer URI should be a valid API Gateway "
                     "ARN that represents a Lambda function invocation.", uri ? uri : "(none)");
        return false;
    }
    const char *pfv = nb_str(doc, "AuthorizerPayloadFormatVersion");
    if (!pfv) {
        ag_bad(call, "AuthorizerPayloadFormatVersion is required for REQUEST authorizer");
        return false;
    }
    if (strcmp(pfv, "1.0") != 0 && strcmp(pfv, "2.0") != 0) {
        ag_bad(call, "Invalid AuthorizerPayloadFormatVersion %s: it must be 1.0 or 2.0", pfv);
        return false;
    }
    bool simple = false;
    if (nb_bool(doc, "EnableSimpleResponses", &simple) && simple && strcmp(pfv, "2.0") != 0) {
        ag_bad(call, "EnableSimpleResponses is only supported for payload format version 2.0");
        return false;
    }
    if (nb_get(doc, "JwtConfiguration")) {
        ag_bad(call, "JwtConfiguration is only supported for JWT authorizers");
        return false;
    }
    int64_t ttl = 0;
    nb_int(doc, "AuthorizerResultTtlInSeconds", &ttl);
    json_object *src = nb_get(doc, "IdentitySource");
    if (ttl > 0 && (!src || json_object_array_length(src) == 0)) {
        ag_bad(call, "Identity source must be set if authorizer caching is enabled (TTL is "
                     "greater than 0)");
        return false;
    }
    return authz_sources(call, doc, false);
}

/* Apply in's members to an authorizer doc (new or existing) and check the
 * result as a whole. */
static bool authz_fill(nb_call *call, json_object *doc, json_object *in)
{
    static const char *const COPY[] = {"AuthorizerType", "Name", "IdentitySource",
                                       "JwtConfiguration", "AuthorizerUri",
                                       "AuthorizerPayloadFormatVersion", "EnableSimpleResponses",
                                       "AuthorizerResultTtlInSeconds",
                                       "AuthorizerCredentialsArn", NULL};
    if (nb_get(in, "IdentityValidationExpression")) {
        ag_bad(call, "IdentityValidationExpression is not supported for HTTP APIs");
        return false;
    }
    for (int i = 0; COPY[i]; i++)
        take(doc, in, COPY[i]);
    const char *type = nb_str(doc, "AuthorizerType");
    if (type && strcmp(type, "JWT") == 0)
        return authz_check_jwt(call, doc);
    if (type && strcmp(type, "REQUEST") == 0)
        return authz_check_request(call, doc);
    ag_bad(call, "Unsupported authorizer type %s for an HTTP API: use JWT or REQUEST",
           type ? type : "(none)");
    return false;
}

/* False after failing the call when in's ApiId names no API of the caller. */
static bool api_ok(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    json_object_put(a);
    return a != NULL;
}

static json_object *authz_get(nb_call *call, json_object *in)
{
    const char *id = nb_str(in, "AuthorizerId");
    json_object *doc = ag_load(nb_str(in, "ApiId"), "authz", id);
    if (!doc)
        ag_not_found(call, "Invalid Authorizer identifier specified %s", id);
    return doc;
}

nb_status ag_op_create_authorizer(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    if (!api_ok(call, in))
        return NB_ERROR;
    json_object *doc = json_object_new_object();
    if (!authz_fill(call, doc, in)) {
        json_object_put(doc);
        return NB_ERROR;
    }
    char id[8];
    ag_new_id(id, 6);
    set_str(doc, "AuthorizerId", id);
    ag_save(call, api, "authz", id, doc);
    ag_autodeploy(call, api);
    return out_doc(call, doc);
}

nb_status ag_op_get_authorizer(nb_call *call, json_object *in)
{
    if (!api_ok(call, in))
        return NB_ERROR;
    json_object *doc = authz_get(call, in);
    return doc ? out_doc(call, doc) : NB_ERROR;
}

nb_status ag_op_get_authorizers(nb_call *call, json_object *in)
{
    if (!api_ok(call, in))
        return NB_ERROR;
    return out_page(call, in, nb_str(in, "ApiId"), "authz");
}

nb_status ag_op_update_authorizer(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *id = nb_str(in, "AuthorizerId");
    if (!api_ok(call, in))
        return NB_ERROR;
    json_object *doc = authz_get(call, in);
    if (!doc)
        return NB_ERROR;
    const char *was = nb_str(doc, "AuthorizerType"), *now = nb_str(in, "AuthorizerType");
    json_object *user = now && was && strcmp(now, was) != 0 ? route_with(api, "AuthorizerId", id) : NULL;
    if (user) {
        ag_conflict(call, "Unable to change the type of authorizer %s: route %s uses it", id,
                    nb_str(user, "RouteKey"));
        json_object_put(user);
        json_object_put(doc);
        return NB_ERROR;
    }
    if (!authz_fill(call, doc, in)) {
        json_object_put(doc);
        return NB_ERROR;
    }
    ag_save(call, api, "authz", id, doc);
    ag_autodeploy(call, api);
    return out_doc(call, doc);
}

nb_status ag_op_delete_authorizer(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *id = nb_str(in, "AuthorizerId");
    if (!api_ok(call, in))
        return NB_ERROR;
    json_object *doc = authz_get(call, in);
    if (!doc)
        return NB_ERROR;
    json_object_put(doc);
    json_object *r = route_with(api, "AuthorizerId", id);
    if (r) {
        ag_conflict(call, "Cannot delete authorizer '%s', is referenced in route: %s", id,
                    nb_str(r, "RouteKey"));
        json_object_put(r);
        return NB_ERROR;
    }
    ag_delete(api, "authz", id);
    ag_autodeploy(call, api);
    return NB_OK;
}

/* A route's AuthorizationType, AuthorizerId and AuthorizationScopes (the
 * merged result of doc and in): JWT and CUSTOM name an authorizer of the
 * matching type, scopes only with JWT; NONE and AWS_IAM drop both. */
static bool route_auth_fill(nb_call *call, const char *api, json_object *doc, json_object *in)
{
    const char *type = nb_str(in, "AuthorizationType");
    if (!type)
        type = nb_str(doc, "AuthorizationType");
    if (!type)
        type = "NONE";
    static const char *const TYPES[] = {"NONE", "JWT", "CUSTOM", "AWS_IAM", NULL};
    int t = 0;
    while (TYPES[t] && strcmp(TYPES[t], type) != 0)
        t++;
    if (!TYPES[t]) {
        ag_bad(call, "Invalid authorization type %s: use NONE, JWT, CUSTOM or AWS_IAM", type);
        return false;
    }
    const char *id = nb_str(in, "AuthorizerId");
    if (!id)
        id = nb_str(doc, "AuthorizerId");
    json_object *scopes = nb_get(in, "AuthorizationScopes");
    if (!scopes)
        scopes = nb_get(doc, "AuthorizationScopes");
    if (t == 0 || t == 3) {
        if (nb_str(in, "AuthorizerId")) {
            ag_bad(call, "AuthorizerId is only supported with authorization type JWT or CUSTOM");
            return false;
        }
        id = NULL;
        scopes = NULL;
    } else {
        json_object *az = id && strlen(id) < 32 ? ag_load(api, "authz", id) : NULL;
        const char *want = t == 1 ? "JWT" : "REQUEST", *got = az ? nb_str(az, "AuthorizerType") : NULL;
        bool ok = got && strcmp(got, want) == 0;
        json_object_put(az);
        if (!id) {
            ag_bad(call, "An AuthorizerId is required for authorization type %s", type);
            return false;
        }
        if (!ok) {
            ag_bad(call, "Invalid authorizer %s for authorization type %s: it must name a %s "
                         "authorizer of this API", id, type, want);
            return false;
        }
        if (t == 2 && scopes && json_object_array_length(scopes) > 0) {
            ag_bad(call, "AuthorizationScopes are only supported for JWT authorizers");
            return false;
        }
    }
    set_str(doc, "AuthorizationType", type);
    if (id)
        set_str(doc, "AuthorizerId", id);
    else
        json_object_object_del(doc, "AuthorizerId");
    if (scopes && json_object_array_length(scopes) > 0)
        set(doc, "AuthorizationScopes", ag_copy(scopes));
    else
        json_object_object_del(doc, "AuthorizationScopes");
    return true;
}

/* ---- routes ---------------------------------------------------------------- */

/* Apply in's members to a route doc (new or existing, id its RouteId). */
static bool route_fill(nb_call *call, const char *api, json_object *doc, json_object *in,
                       const char *id)
{
    const char *key = nb_str(in, "RouteKey");
    char err[512];
    if (key && ag_route_key_check(key, err, sizeof err) != 0) {
        ag_bad(call, "%s", err);
        return false;
    }
    if (key) {
        json_object *routes = ag_list(api, "route", 0, 0, NULL);
        bool dup = false;
        for (size_t i = 0; !dup && i < json_object_array_length(routes); i++) {
            json_object *r = json_object_array_get_idx(routes, i);
            const char *k = nb_str(r, "RouteKey"), *rid = nb_str(r, "RouteId");
            dup = k && strcmp(k, key) == 0 && (!id || !rid || strcmp(rid, id) != 0);
        }
        json_object_put(routes);
        if (dup) {
            ag_conflict(call, "Unable to create route %s: a route with this key already exists "
                              "in the API", key);
            return false;
        }
    }
    const char *target = nb_str(in, "Target");
    if (target && target[0]) {
        json_object *ig = strncmp(target, "integrations/", 13) == 0 && strlen(target) < 60
                              ? ag_load(api, "integ", target + 13) : NULL;
        if (!ig) {
            ag_bad(call, "Invalid target %s: it must be integrations/{IntegrationId} of an "
                         "integration of this API", target);
            return false;
        }
        json_object_put(ig);
    }
    if (!route_auth_fill(call, api, doc, in))
        return false;
    if (key)
        set_str(doc, "RouteKey", key);
    if (target && target[0])
        set_str(doc, "Target", target);
    else if (target)
        json_object_object_del(doc, "Target");
    if (!nb_get(doc, "ApiKeyRequired"))
        set(doc, "ApiKeyRequired", json_object_new_boolean(false));
    take(doc, in, "ApiKeyRequired");
    take(doc, in, "OperationName");
    take(doc, in, "RequestParameters");
    return true;
}

static json_object *route_new(nb_call *call, const char *api, json_object *in, bool managed)
{
    json_object *doc = json_object_new_object();
    if (!route_fill(call, api, doc, in, NULL)) {
        json_object_put(doc);
        return NULL;
    }
    char id[8];
    ag_new_id(id, 7);
    set_str(doc, "RouteId", id);
    if (managed)
        set(doc, "ApiGatewayManaged", json_object_new_boolean(true));
    ag_save(call, api, "route", id, doc);
    return doc;
}

static json_object *route_get(nb_call *call, json_object *in)
{
    json_object *doc = ag_load(nb_str(in, "ApiId"), "route", nb_str(in, "RouteId"));
    if (!doc)
        ag_not_found(call, "Invalid Route identifier specified");
    return doc;
}

nb_status ag_op_create_route(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = route_new(call, api, in, false);
    if (!doc)
        return NB_ERROR;
    ag_autodeploy(call, api);
    return out_doc(call, doc);
}

nb_status ag_op_get_route(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = route_get(call, in);
    return doc ? out_doc(call, doc) : NB_ERROR;
}

nb_status ag_op_get_routes(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    return out_page(call, in, nb_str(in, "ApiId"), "route");
}

nb_status ag_op_update_route(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *id = nb_str(in, "RouteId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = route_get(call, in);
    if (!doc)
        return NB_ERROR;
    if (!route_fill(call, api, doc, in, id)) {
        json_object_put(doc);
        return NB_ERROR;
    }
    ag_save(call, api, "route", id, doc);
    ag_autodeploy(call, api);
    return out_doc(call, doc);
}

nb_status ag_op_delete_route(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    if (!ag_delete(api, "route", nb_str(in, "RouteId")))
        return ag_not_found(call, "Invalid Route identifier specified");
    ag_autodeploy(call, api);
    return NB_OK;
}

/* ---- stages ---------------------------------------------------------------- */

static bool check_variables(nb_call *call, json_object *vars)
{
    if (!vars)
        return true;
    json_object_object_foreach(vars, k, v) {
        if (!valid_name(k, 64, "_") || json_object_get_string_len(v) > 2048) {
            ag_bad(call, "Invalid stage variable %s: names are letters, digits and _ (at most "
                         "64), values at most 2048 characters", k);
            return false;
        }
    }
    return true;
}

static json_object *stage_new(nb_call *call, const char *api, json_object *in, bool managed)
{
    const char *name = nb_str(in, "StageName");
    if (strcmp(name, "$default") != 0 && !valid_name(name, 128, "-_")) {
        ag_bad(call, "Stage name %s is not valid: use $default or letters, digits, - and _",
               name);
        return NULL;
    }
    json_object *old = ag_load(api, "stage", name);
    if (old) {
        json_object_put(old);
        ag_conflict(call, "Stage already exists");
        return NULL;
    }
    const char *dep = nb_str(in, "DeploymentId");
    if (dep) {
        json_object *d = ag_load(api, "deploy", dep);
        if (!d) {
            ag_not_found(call, "Invalid Deployment identifier specified");
            return NULL;
        }
        json_object_put(d);
    }
    if (!check_variables(call, nb_get(in, "StageVariables")) ||
        !ag_check_tags(call, nb_get(in, "Tags")))
        return NULL;
    json_object *doc = json_object_new_object();
    bool autod = false;
    nb_bool(in, "AutoDeploy", &autod);
    set_str(doc, "StageName", name);
    set(doc, "AutoDeploy", json_object_new_boolean(autod));
    set(doc, "CreatedDate", json_object_new_double(ag_now(call)));
    set(doc, "LastUpdatedDate", json_object_new_double(ag_now(call)));
    json_object *drs = json_object_new_object();
    set(drs, "DetailedMetricsEnabled", json_object_new_boolean(false));
    set(doc, "DefaultRouteSettings", drs);
    set(doc, "RouteSettings", json_object_new_object());
    set(doc, "StageVariables", json_object_new_object());
    set(doc, "Tags", json_object_new_object());
    take(doc, in, "DefaultRouteSettings");
    take(doc, in, "RouteSettings");
    take(doc, in, "StageVariables");
    take(doc, in, "Tags");
    take(doc, in, "Description");
    take(doc, in, "DeploymentId");
    if (managed)
        set(doc, "ApiGatewayManaged", json_object_new_boolean(true));
    ag_save(call, api, "stage", name, doc);
    if (autod) {
        json_object_put(doc);
        ag_autodeploy(call, api);
        doc = ag_load(api, "stage", name);
    }
    return doc;
}

static json_object *stage_get(nb_call *call, const char *api, const char *name)
{
    json_object *doc = ag_load(api, "stage", name);
    if (!doc)
        ag_not_found(call, "Invalid stage identifier specified");
    return doc;
}

nb_status ag_op_create_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = stage_new(call, api, in, false);
    return doc ? out_doc(call, doc) : NB_ERROR;
}

nb_status ag_op_get_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = stage_get(call, api, nb_str(in, "StageName"));
    return doc ? out_doc(call, doc) : NB_ERROR;
}

nb_status ag_op_get_stages(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    return out_page(call, in, nb_str(in, "ApiId"), "stage");
}

nb_status ag_op_update_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *name = nb_str(in, "StageName");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *doc = stage_get(call, api, name);
    if (!doc)
        return NB_ERROR;
    const char *dep = nb_str(in, "DeploymentId");
    json_object *d = dep ? ag_load(api, "deploy", dep) : NULL;
    json_object *vars = nb_get(in, "StageVariables");
    if ((dep && !d) || !check_variables(call, vars)) {
        if (dep && !d)
            ag_not_found(call, "Invalid Deployment identifier specified");
        json_object_put(doc);
        return NB_ERROR;
    }
    json_object_put(d);
    take(doc, in, "DeploymentId");
    take(doc, in, "Description");
    take(doc, in, "AutoDeploy");
    take(doc, in, "DefaultRouteSettings");
    take(doc, in, "RouteSettings");
    if (vars) {
        json_object *cur = nb_get(doc, "StageVariables");
        if (!cur) {
            cur = json_object_new_object();
            set(doc, "StageVariables", cur);
        }
        json_object_object_foreach(vars, k, v) {
            if (json_object_get_string_len(v) == 0)
                json_object_object_del(cur, k);
            else
                set(cur, k, json_object_get(v));
        }
    }
    set(doc, "LastUpdatedDate", json_object_new_double(ag_now(call)));
    ag_save(call, api, "stage", name, doc);
    bool autod = false;
    if (nb_bool(in, "AutoDeploy", &autod) && autod) {
        json_object_put(doc);
        ag_autodeploy(call, api);
        doc = ag_load(api, "stage", name);
    }
    return out_doc(call, doc);
}

nb_status ag_op_delete_stage(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    if (!ag_delete(api, "stage", nb_str(in, "StageName")))
        return ag_not_found(call, "Invalid stage identifier specified");
    return NB_OK;
}

/* ---- deployments ----------------------------------------------------------- */

nb_status ag_op_create_deployment(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *stage = nb_str(in, "StageName");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *routes = ag_list(api, "route", 0, 1, NULL);
    size_t nroutes = json_object_array_length(routes);
    json_object_put(routes);
    if (nroutes == 0)
        return ag_bad(call, "Unable to deploy API because no routes exist in this API");
    json_object *s = NULL;
    if (stage && !(s = stage_get(call, api, stage)))
        return NB_ERROR;
    json_object *d = ag_deploy(call, api, nb_str(in, "Description"), false);
    if (s) {
        set_str(s, "DeploymentId", nb_str(d, "DeploymentId"));
        set(s, "LastUpdatedDate", json_object_new_double(ag_now(call)));
        ag_save(call, api, "stage", stage, s);
        json_object_put(s);
    }
    return out_doc(call, d);
}

nb_status ag_op_get_deployment(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *d = ag_load(api, "deploy", nb_str(in, "DeploymentId"));
    if (!d)
        return ag_not_found(call, "Invalid Deployment identifier specified");
    return out_doc(call, d);
}

nb_status ag_op_get_deployments(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    return out_page(call, in, nb_str(in, "ApiId"), "deploy");
}

nb_status ag_op_delete_deployment(nb_call *call, json_object *in)
{
    const char *api = nb_str(in, "ApiId"), *id = nb_str(in, "DeploymentId");
    json_object *a = ag_api(call, api);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    json_object *d = ag_load(api, "deploy", id);
    if (!d)
        return ag_not_found(call, "Invalid Deployment identifier specified");
    json_object_put(d);
    json_object *stages = ag_list(api, "stage", 0, 0, NULL);
    bool used = false;
    for (size_t i = 0; !used && i < json_object_array_length(stages); i++) {
        const char *dep = nb_str(json_object_array_get_idx(stages, i), "DeploymentId");
        used = dep && strcmp(dep, id) == 0;
    }
    json_object_put(stages);
    if (used)
        return ag_bad(call, "Active stages pointing to this deployment must be moved or deleted");
    ag_delete(api, "deploy", id);
    return NB_OK;
}

/* ---- APIs ------------------------------------------------------------------ */

/* Quick create: Target's integration (a Lambda function: AWS_PROXY 2.0; an
 * http(s) URL: HTTP_PROXY, ANY), RouteKey's route (default
 * $default) and the auto-deploying $default stage. */
static bool quick_create(nb_call *call, const char *api, json_object *in)
{
    const char *tgt = nb_str(in, "Target");
    bool http = !strncasecmp(tgt, "http://", 7) || !strncasecmp(tgt, "https://", 8);
    json_object *spec = json_object_new_object();
    set_str(spec, "IntegrationType", http ? "HTTP_PROXY" : "AWS_PROXY");
    set_str(spec, "IntegrationUri", tgt);
    set_str(spec, http ? "IntegrationMethod" : "PayloadFormatVersion", http ? "ANY" : "2.0");
    json_object *ig = integ_new(call, api, spec, true);
    json_object_put(spec);
    if (!ig)
        return false;
    char target[64];
    snprintf(target, sizeof target, "integrations/%s", nb_str(ig, "IntegrationId"));
    json_object_put(ig);
    const char *key = nb_str(in, "RouteKey");
    spec = json_object_new_object();
    set_str(spec, "RouteKey", key ? key : "$default");
    set_str(spec, "Target", target);
    json_object *route = route_new(call, api, spec, true);
    json_object_put(spec);
    if (!route)
        return false;
    json_object_put(route);
    spec = json_object_new_object();
    set_str(spec, "StageName", "$default");
    set(spec, "AutoDeploy", json_object_new_boolean(true));
    json_object *stage = stage_new(call, api, spec, true);
    json_object_put(spec);
    json_object_put(stage);
    return stage != NULL;
}

/* Members CreateApi and UpdateApi share. */
static bool api_fill(nb_call *call, json_object *doc, json_object *in)
{
    const char *rse = nb_str(in, "RouteSelectionExpression");
    if (rse && strcmp(rse, ROUTE_SELECTION) != 0 && strcmp(rse, ROUTE_SELECTION_BRACED) != 0) {
        ag_bad(call, "The route selection expression of an HTTP API must be %s", ROUTE_SELECTION);
        return false;
    }
    const char *kse = nb_str(in, "ApiKeySelectionExpression");
    if (kse && strcmp(kse, KEY_SELECTION) != 0 && strcmp(kse, "$context.authorizer.usageIdentifierKey") != 0) {
        ag_bad(call, "Invalid API key selection expression %s", kse);
        return false;
    }
    static const char *const COPY[] = {"Name", "Description", "Version", "CorsConfiguration",
                                       "DisableExecuteApiEndpoint", "DisableSchemaValidation",
                                       "IpAddressType", "ApiKeySelectionExpression", NULL};
    for (int i = 0; COPY[i]; i++)
        take(doc, in, COPY[i]);
    return true;
}

nb_status ag_op_create_api(nb_call *call, json_object *in)
{
    const char *proto = nb_str(in, "ProtocolType");
    if (strcmp(proto, "WEBSOCKET") == 0)
        return ag_bad(call, "nimbus does not support WebSocket APIs yet: only ProtocolType HTTP");
    if (!nb_get(in, "Target") && (nb_get(in, "RouteKey") || nb_get(in, "CredentialsArn")))
        return ag_bad(call, "RouteKey and CredentialsArn are only supported with Target (quick "
                            "create)");
    if (!ag_check_tags(call, nb_get(in, "Tags")))
        return NB_ERROR;
    char id[12], endpoint[128], owner[64];
    ag_new_id(id, 10);
    ag_endpoint(id, endpoint, sizeof endpoint);
    snprintf(owner, sizeof owner, "%s/%s", call->account, call->region);
    json_object *doc = json_object_new_object();
    set_str(doc, "ApiEndpoint", endpoint);
    set_str(doc, "ApiId", id);
    set_str(doc, "ApiKeySelectionExpression", KEY_SELECTION);
    set(doc, "CreatedDate", json_object_new_double(ag_now(call)));
    set(doc, "DisableExecuteApiEndpoint", json_object_new_boolean(false));
    set_str(doc, "IpAddressType", "ipv4");
    set_str(doc, "ProtocolType", proto);
    set_str(doc, "RouteSelectionExpression", ROUTE_SELECTION);
    set(doc, "Tags", json_object_new_object());
    take(doc, in, "Tags");
    set_str(doc, "_owner", owner);
    if (!api_fill(call, doc, in)) {
        json_object_put(doc);
        return NB_ERROR;
    }
    ag_save(call, id, "api", id, doc);
    if (nb_get(in, "Target") && !quick_create(call, id, in)) {
        json_object_put(doc);
        return NB_ERROR; /* the savepoint drops what quick create stored */
    }
    return out_doc(call, doc);
}

nb_status ag_op_get_api(nb_call *call, json_object *in)
{
    json_object *a = ag_api(call, nb_str(in, "ApiId"));
    return a ? out_doc(call, a) : NB_ERROR;
}

nb_status ag_op_get_apis(nb_call *call, json_object *in)
{
    char owner[64];
    snprintf(owner, sizeof owner, "%s/%s", call->account, call->region);
    return out_page(call, in, owner, "api");
}

nb_status ag_op_update_api(nb_call *call, json_object *in)
{
    const char *id = nb_str(in, "ApiId");
    json_object *a = ag_api(call, id);
    if (!a)
        return NB_ERROR;
    if (nb_get(in, "Target") || nb_get(in, "RouteKey") || nb_get(in, "CredentialsArn")) {
        json_object_put(a);
        return ag_bad(call, "nimbus does not support Target, RouteKey or CredentialsArn in "
                            "UpdateApi yet");
    }
    if (!api_fill(call, a, in)) {
        json_object_put(a);
        return NB_ERROR;
    }
    ag_save(call, id, "api", id, a);
    return out_doc(call, a);
}

nb_status ag_op_delete_cors_configuration(nb_call *call, json_object *in)
{
    const char *id = nb_str(in, "ApiId");
    json_object *a = ag_api(call, id);
    if (!a)
        return NB_ERROR;
    json_object_object_del(a, "CorsConfiguration");
    ag_save(call, id, "api", id, a);
    json_object_put(a);
    return NB_OK;
}

nb_status ag_op_delete_api(nb_call *call, json_object *in)
{
    const char *id = nb_str(in, "ApiId");
    json_object *a = ag_api(call, id);
    if (!a)
        return NB_ERROR;
    json_object_put(a);
    ag_delete_api(id);
    return NB_OK;
}

/* ---- tags ------------------------------------------------------------------ */

/* The API or stage document an ARN names: "arn:aws:apigateway:REGION::
 * /apis/ID" or ".../apis/ID/stages/NAME".  Fills api/kind/key. */
static json_object *tagged(nb_call *call, const char *arn, char *api, char *kind, char *key)
{
    char prefix[96];
    int n = snprintf(prefix, sizeof prefix, "arn:aws:apigateway:%s::/apis/", call->region);
    const char *p = strncmp(arn, prefix, (size_t)n) == 0 ? arn + n : NULL;
    const char *slash = p ? strchr(p, '/') : NULL;
    size_t idn = p ? (slash ? (size_t)(slash - p) : strlen(p)) : 0;
    json_object *doc = NULL;
    if (p && idn > 0 && idn < 16) {
        nb_copy(api, 16, p, idn);
        json_object *a = ag_load(api, "api", api);
        const char *owner = a ? nb_str(a, "_owner") : NULL;
        char want[64];
        snprintf(want, sizeof want, "%s/%s", call->account, call->region);
        if (!slash && owner && strcmp(owner, want) == 0) {
            strcpy(kind, "api");
            strcpy(key, api);
            doc = json_object_get(a);
        } else if (slash && owner && strcmp(owner, want) == 0 && strncmp(slash, "/stages/", 8) == 0 &&
                   strlen(slash + 8) < 130) {
            strcpy(kind, "stage");
            strcpy(key, slash + 8);
            doc = ag_load(api, "stage", key);
        }
        json_object_put(a);
    }
    if (!doc)
        ag_not_found(call, "Invalid resource identifier specified: %s", arn);
    return doc;
}

nb_status ag_op_tag_resource(nb_call *call, json_object *in)
{
    char api[16], kind[8], key[130];
    json_object *doc = tagged(call, nb_str(in, "ResourceArn"), api, kind, key);
    if (!doc)
        return NB_ERROR;
    bool ok = ag_tags_merge(call, doc, "Tags", nb_get(in, "Tags"));
    if (ok)
        ag_save(call, api, kind, key, doc);
    json_object_put(doc);
    return ok ? NB_OK : NB_ERROR;
}

nb_status ag_op_untag_resource(nb_call *call, json_object *in)
{
    char api[16], kind[8], key[130];
    json_object *doc = tagged(call, nb_str(in, "ResourceArn"), api, kind, key);
    if (!doc)
        return NB_ERROR;
    ag_tags_remove(doc, "Tags", nb_get(in, "TagKeys"));
    ag_save(call, api, kind, key, doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status ag_op_get_tags(nb_call *call, json_object *in)
{
    char api[16], kind[8], key[130];
    json_object *doc = tagged(call, nb_str(in, "ResourceArn"), api, kind, key);
    if (!doc)
        return NB_ERROR;
    json_object *tags = nb_get(doc, "Tags");
    call->out = json_object_new_object();
    set(call->out, "Tags", tags ? json_object_get(tags) : json_object_new_object());
    json_object_put(doc);
    return NB_OK;
}
