/*
 * apigw_serve.c — the HTTP API data plane: an execute-api request
 * (Host "{apiId}.execute-api.*" or path "/_aws/execute-api/{apiId}/...")
 * picks its stage (a first path segment naming a stage, else $default),
 * is matched against the routes of the stage's deployment snapshot,
 * answered here when it is a CORS preflight no route takes, refused by its
 * route's authorizer (apigw_auth.c) or over its route's throttling limit,
 * and otherwise sent to its integration: AWS_PROXY Lambda (payload
 * format 2.0 or 1.0, through nb_invoke) or HTTP_PROXY (apigw_proxy.c).
 * The request is parked while the integration runs; nothing blocks.
 *
 * The cache: per API, its parsed document and stages (dropped by
 * ag_cache_forget whenever the control plane writes anything of that
 * API), its deployments by id (immutable, kept) and its routes' token
 * buckets.  A request reads SQLite only after such a write.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apigw_internal.h"
#include "core/http.h"
#include "core/http_client.h"
#include "core/store.h"
#include "services/apigateway/ar_internal.h"
#include "services/lambda/lambda_internal.h"

#define AG_PATH_PREFIX "/_aws/execute-api/"


/* LocalStack's form "/restapis/{apiId}/{stage}/_user_request_/{path}":
 * the stage is named, the path follows _user_request_.  Fills id's text
 * (src, len) and stage; false when r's path is not of this form. */
static bool user_request_form(const nb_req *r, const char **src, size_t *len, char *stage,
                              size_t stagen, const char **path, size_t *plen)
{
    static const char PRE[] = "/restapis/", MID[] = "/_user_request_";
    const char *p = r->path, *end = r->path + r->path_len;
    size_t k = sizeof PRE - 1, m = sizeof MID - 1;
    if (r->path_len <= k || memcmp(p, PRE, k) != 0)
        return false;
    const char *a = p + k, *s1 = memchr(a, '/', (size_t)(end - a));
    const char *s = s1 ? s1 + 1 : NULL, *s2 = s ? memchr(s, '/', (size_t)(end - s)) : NULL;
    if (!s2 || s2 == s || (size_t)(end - s2) < m || memcmp(s2, MID, m) != 0 ||
        (s2 + m < end && s2[m] != '/'))
        return false;
    size_t sl = (size_t)(s2 - s);
    if (sl == 10 && !memcmp(s, "%24default", 10))
        snprintf(stage, stagen, "$default");
    else if (sl < stagen)
        snprintf(stage, stagen, "%.*s", (int)sl, s);
    else
        return false;
    *src = a;
    *len = (size_t)(s1 - a);
    *path = s2 + m < end ? s2 + m : "/";
    *plen = s2 + m < end ? (size_t)(end - s2 - m) : 1;
    return true;
}

/* The api id and the path after it, from the Host or a path form; stage
 * gets the stage a path form names ("" when the path picks it). */
static bool target(const nb_req *r, char *id, size_t idn, const char **path, size_t *plen,
                   char *stage, size_t stagen)
{
    size_t n = 0;
    const char *host = nb_req_header(r, "host", &n);
    const char *mark = host ? memmem(host, n, ".execute-api.", 13) : NULL;
    const char *src;
    size_t len;
    stage[0] = 0;
    if (mark) {
        src = host;
        len = (size_t)(mark - host);
        *path = r->path;
        *plen = r->path_len;
    } else if (!user_request_form(r, &src, &len, stage, stagen, path, plen)) {
        size_t k = sizeof AG_PATH_PREFIX - 1;
        if (r->path_len <= k || memcmp(r->path, AG_PATH_PREFIX, k) != 0)
            return false;
        src = r->path + k;
        const char *end = r->path + r->path_len, *slash = memchr(src, '/', (size_t)(end - src));
        len = (size_t)((slash ? slash : end) - src);
        *path = slash ? slash : "/";
        *plen = slash ? (size_t)(end - slash) : 1;
    }
    if (len == 0 || len >= idn)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)src[i]))
            return false;
        id[i] = (char)tolower((unsigned char)src[i]);
    }
    id[len] = 0;
    return true;
}

static void put(json_object *o, const char *k, json_object *v) { json_object_object_add(o, k, v); }
static json_object *jn(const char *s, size_t n) { return json_object_new_string_len(s, (int)n); }

static json_object *multi(json_object *single)
{
    json_object *m = json_object_new_object();
    json_object_object_foreach(single, k, v) {
        json_object *a = json_object_new_array();
        const char *s = json_object_get_string(v);
        const char *p = s;
        for (;;) {
            const char *c = strchr(p, ',');
            json_object_array_add(a, json_object_new_string_len(p, c ? (int)(c - p) : (int)strlen(p)));
            if (!c)
                break;
            p = c + 1;
        }
        put(m, k, a);
    }
    return m;
}

/* The event the function gets (text, malloc'd). */
static char *make_event(nb_req *r, bool v1, const char *api, const char *stage, const char *route_key,
                        const char *path, size_t plen, json_object *params, json_object *svars)
{
    nb_call *c = &r->call;
    char ip[64], domain[320], tm[64];
    nb_req_peer(r, ip, sizeof ip);
    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    snprintf(domain, sizeof domain, "%.*s", host ? (int)hl : 0, host ? host : "");
    char *colon = strrchr(domain, ':');
    if (colon)
        *colon = 0;
    const char *dot = strchr(domain, '.');
    const char *qs = r->query ? r->query : "";
    size_t qn = r->query ? r->query_len : 0;
    json_object *cookies = json_object_new_array();
    json_object *headers = lm_http_headers(r, v1 ? NULL : cookies, ip);
    json_object *query = lm_http_query(qs, qn);
    char method[16];
    snprintf(method, sizeof method, "%s", r->method);
    time_t secs = (time_t)(c->now_ms / 1000);
    struct tm g;
    gmtime_r(&secs, &g);
    strftime(tm, sizeof tm, "%d/%b/%Y:%H:%M:%S +0000", &g);
    size_t ul = 0;
    const char *ua = nb_req_header(r, "user-agent", &ul);

    json_object *ev = json_object_new_object(), *ctx = json_object_new_object();
    put(ctx, "accountId", json_object_new_string(c->account));
    put(ctx, "apiId", json_object_new_string(api));
    put(ctx, "domainName", json_object_new_string(domain));
    put(ctx, "domainPrefix", dot ? jn(domain, (size_t)(dot - domain)) : json_object_new_string(domain));
    put(ctx, "requestId", json_object_new_string(c->request_id));
    put(ctx, "routeKey", json_object_new_string(route_key));
    put(ctx, "stage", json_object_new_string(stage));
    put(ctx, "time", json_object_new_string(tm));
    put(ctx, "timeEpoch", json_object_new_int64(c->now_ms));
    ag_auth_context(r, ctx, v1);
    if (v1) {
        put(ev, "version", json_object_new_string("1.0"));
        put(ev, "resource", json_object_new_string(strchr(route_key, '/') ? strchr(route_key, '/') : "/"));
        put(ev, "path", jn(path, plen));
        put(ev, "httpMethod", json_object_new_string(method));
        put(ev, "headers", headers);
        put(ev, "multiValueHeaders", multi(headers));
        int nq = json_object_object_length(query);
        put(ev, "queryStringParameters", nq ? json_object_get(query) : NULL);
        put(ev, "multiValueQueryStringParameters", nq ? multi(query) : NULL);
        json_object_put(query);
        put(ctx, "extendedRequestId", json_object_new_string(c->request_id));
        put(ctx, "httpMethod", json_object_new_string(method));
        put(ctx, "path", jn(path, plen));
        put(ctx, "protocol", json_object_new_string("HTTP/1.1"));
        put(ctx, "resourcePath", json_object_new_string(json_object_get_string(nb_get(ev, "resource"))));
        put(ctx, "requestTime", json_object_new_string(tm));
        put(ctx, "requestTimeEpoch", json_object_new_int64(c->now_ms));
        json_object *id = json_object_new_object();
        put(id, "sourceIp", json_object_new_string(ip));
        put(id, "userAgent", ua ? jn(ua, ul) : json_object_new_string(""));
        put(ctx, "identity", id);
        put(ev, "requestContext", ctx);
        put(ev, "pathParameters", json_object_object_length(params) ? json_object_get(params) : NULL);
        put(ev, "stageVariables", svars ? json_object_get(svars) : NULL);
        json_object_put(cookies);
    } else {
        put(ev, "version", json_object_new_string("2.0"));
        put(ev, "routeKey", json_object_new_string(route_key));
        put(ev, "rawPath", jn(path, plen));
        put(ev, "rawQueryString", jn(qs, qn));
        if (json_object_array_length(cookies))
            put(ev, "cookies", cookies);
        else
            json_object_put(cookies);
        put(ev, "headers", headers);
        if (json_object_object_length(query))
            put(ev, "queryStringParameters", query);
        else
            json_object_put(query);
        json_object *http = json_object_new_object();
        put(http, "method", json_object_new_string(method));
        put(http, "path", jn(path, plen));
        put(http, "protocol", json_object_new_string("HTTP/1.1"));
        put(http, "sourceIp", json_object_new_string(ip));
        put(http, "userAgent", ua ? jn(ua, ul) : json_object_new_string(""));
        put(ctx, "http", http);
        put(ev, "requestContext", ctx);
        if (json_object_object_length(params))
            put(ev, "pathParameters", json_object_get(params));
        if (svars && json_object_object_length(svars))
            put(ev, "stageVariables", json_object_get(svars));
    }
    lm_http_body(ev, r);
    char *s = strdup(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(ev);
    return s;
}

/* ---- the cache --------------------------------------------------------------- */

#define AG_CACHE_MAX 256  /* APIs; past it the whole cache is dropped */
#define AG_DEPS_MAX 8     /* deployments kept per API, most recently loaded first */

typedef struct ag_dep {
    struct ag_dep *next;
    char id[16];
    json_object *doc;
} ag_dep;

/* A route's token bucket on one stage. */
typedef struct ag_bucket {
    struct ag_bucket *next;
    char *key;         /* "stage\nroute key" */
    double tokens;
    uint64_t at_us;    /* when tokens was last computed */
} ag_bucket;

typedef struct ag_cached {
    struct ag_cached *next;
    char id[32];
    bool loaded;          /* api and stages are current */
    json_object *api;     /* NULL: no such API */
    json_object *stages;  /* array of stage documents */
    ag_dep *deps;
    ag_bucket *buckets;
} ag_cached;

static ag_cached *g_cache;
static int g_ncache;

static void cached_drop_docs(ag_cached *e)
{
    json_object_put(e->api);
    json_object_put(e->stages);
    e->api = e->stages = NULL;
    e->loaded = false;
}

static void cached_free(ag_cached *e)
{
    cached_drop_docs(e);
    for (ag_dep *d = e->deps, *n; d; d = n) {
        n = d->next;
        json_object_put(d->doc);
        free(d);
    }
    for (ag_bucket *b = e->buckets, *n; b; b = n) {
        n = b->next;
        free(b->key);
        free(b);
    }
    free(e);
}

void ag_cache_forget(const char *api, bool whole)
{
    for (ag_cached **p = &g_cache; *p; p = &(*p)->next) {
        if (strcmp((*p)->id, api) != 0)
            continue;
        ag_cached *e = *p;
        if (whole) {
            *p = e->next;
            g_ncache--;
            cached_free(e);
        } else {
            cached_drop_docs(e);
        }
        return;
    }
}

void ag_cache_reset(void)
{
    for (ag_cached *e = g_cache, *n; e; e = n) {
        n = e->next;
        cached_free(e);
    }
    g_cache = NULL;
    g_ncache = 0;
}

/* The cache entry of API id, loaded (inside a store call). */
static ag_cached *cached(const char *id)
{
    ag_cached *e = g_cache, **p = &g_cache;
    for (; e && strcmp(e->id, id) != 0; p = &e->next, e = e->next)
        ;
    if (e) {
        *p = e->next;  /* to the front */
    } else {
        if (g_ncache >= AG_CACHE_MAX)
            ag_cache_reset();
        e = nb_calloc(1, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", id);
        g_ncache++;
    }
    e->next = g_cache;
    g_cache = e;
    if (!e->loaded) {
        e->api = ag_load(id, "api", id);
        e->stages = e->api ? ag_list(id, "stage", 0, 0, NULL) : NULL;
        e->loaded = true;
    }
    return e;
}

/* Deployment dep of e's API, parsed once. */
static json_object *cached_deployment(ag_cached *e, const char *dep)
{
    for (ag_dep *d = e->deps; d; d = d->next)
        if (strcmp(d->id, dep) == 0)
            return d->doc;
    json_object *doc = strlen(dep) < sizeof e->deps->id ? ag_load(e->id, "deploy", dep) : NULL;
    if (!doc)
        return NULL;
    ag_dep *d = nb_calloc(1, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", dep);
    d->doc = doc;
    d->next = e->deps;
    e->deps = d;
    /* Auto-deploy makes a deployment per change: keep the newest few.  A
     * request in flight holds its route and integration, not the doc. */
    int k = 0;
    for (ag_dep **p = &e->deps; *p; k++) {
        if (k < AG_DEPS_MAX) {
            p = &(*p)->next;
            continue;
        }
        ag_dep *old = *p;
        *p = old->next;
        json_object_put(old->doc);
        free(old);
    }
    return doc;
}

static json_object *cached_stage(ag_cached *e, const char *name, size_t n)
{
    size_t count = e->stages ? json_object_array_length(e->stages) : 0;
    for (size_t i = 0; i < count; i++) {
        json_object *s = json_object_array_get_idx(e->stages, i);
        const char *sn = nb_str(s, "StageName");
        if (sn && strlen(sn) == n && memcmp(sn, name, n) == 0)
            return s;
    }
    return NULL;
}

/* ---- throttling ---------------------------------------------------------------- */

/* The route's limits on the stage: RouteSettings[routeKey] over
 * DefaultRouteSettings.  False when neither sets a limit. */
static bool limits(json_object *stage, const char *route_key, double *rate, int64_t *burst)
{
    json_object *rs = nb_get(nb_get(stage, "RouteSettings"), route_key);
    json_object *def = nb_get(stage, "DefaultRouteSettings");
    json_object *r = nb_get(rs, "ThrottlingRateLimit") ? rs : def;
    json_object *b = nb_get(rs, "ThrottlingBurstLimit") ? rs : def;
    bool have_r = nb_get(r, "ThrottlingRateLimit") != NULL, have_b = nb_get(b, "ThrottlingBurstLimit") != NULL;
    if (!have_r && !have_b)
        return false;
    *rate = have_r ? json_object_get_double(nb_get(r, "ThrottlingRateLimit")) : 1e12;
    *burst = have_b ? json_object_get_int64(nb_get(b, "ThrottlingBurstLimit")) : INT32_MAX;
    return true;
}

/* Take a token from the route's bucket; false when it is empty. */
static bool throttle_ok(ag_cached *e, const char *stage_name, json_object *stage, const char *route_key)
{
    double rate;
    int64_t burst;
    if (!limits(stage, route_key, &rate, &burst))
        return true;
    char key[512];
    snprintf(key, sizeof key, "%s\n%s", stage_name, route_key);
    ag_bucket *b = e->buckets;
    while (b && strcmp(b->key, key) != 0)
        b = b->next;
    uint64_t now = uv_hrtime() / 1000;
    if (!b) {
        b = nb_calloc(1, sizeof *b);
        b->key = nb_strdup(key);
        b->tokens = (double)burst;
        b->at_us = now;
        b->next = e->buckets;
        e->buckets = b;
    }
    b->tokens += rate * (double)(now - b->at_us) / 1e6;
    if (b->tokens > (double)burst)
        b->tokens = (double)burst;
    b->at_us = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/* ---- answers -------------------------------------------------------------------- */

static void finish(nb_req *r, int status, const char *body)
{
    r->status = status;
    r->content_type = "application/json";
    nb_buf_add(&r->rbody, body, strlen(body));
    nb_req_finish(r);
}

#define NOT_FOUND "{\"message\":\"Not Found\"}"
#define INTERNAL "{\"message\":\"Internal Server Error\"}"
#define TOO_MANY "{\"message\":\"Too Many Requests\"}"

void ag_exchange_free(ag_exchange *x)
{
    if (!x)
        return;
    if (x->r) {
        x->r->call.on_cancel = NULL;
        x->r->call.park = NULL;
    }
    json_object_put(x->api);
    json_object_put(x->stage);
    json_object_put(x->route);
    json_object_put(x->integ);
    json_object_put(x->params);
    json_object_put(x->cors);
    free(x);
}

void ag_answer(ag_exchange *x, int status, const char *body)
{
    if (x->r)
        finish(x->r, status, body);
    ag_exchange_free(x);
}

static void cancelled(nb_call *call)
{
    ag_exchange *x = call->park;
    x->r = NULL;
    if (x->fetch) {  /* the fetch's callback will not run: x is ours to free */
        nb_http_cancel(x->fetch);
        ag_exchange_free(x);
    }
}

/* ---- AWS_PROXY ------------------------------------------------------------------ */

/* With CORS configured, API Gateway ignores the integration's own CORS
 * headers. */
static void drop_cors_headers(json_object *o)
{
    static const char *const MAPS[] = {"headers", "multiValueHeaders", NULL};
    for (int m = 0; MAPS[m]; m++) {
        json_object *h = nb_get(o, MAPS[m]), *drop = json_object_new_array();
        if (json_object_is_type(h, json_type_object)) {
            json_object_object_foreach(h, k, v) {
                (void)v;
                if (!strncasecmp(k, "access-control-", 15))
                    json_object_array_add(drop, json_object_new_string(k));
            }
        }
        for (size_t i = 0; i < json_object_array_length(drop); i++)
            json_object_object_del(h, json_object_get_string(json_object_array_get_idx(drop, i)));
        json_object_put(drop);
    }
}

static void lambda_respond(ag_exchange *x, nb_call *call, nb_status st)
{
    nb_req *r = x->r;
    json_object *pl = st == NB_OK ? nb_get(call->out, "Payload") : NULL;
    if (!pl || nb_get(call->out, "FunctionError")) {
        finish(r, 500, INTERNAL);
        return;
    }
    const char *p = json_object_get_string(pl);
    size_t n = (size_t)json_object_get_string_len(pl);
    json_object *o = lm_http_parse_json(p, n);
    bool structured = json_object_is_type(o, json_type_object) && nb_get(o, "statusCode");
    if (!structured && (x->v1 || (!o && !(n == 4 && memcmp(p, "null", 4) == 0)))) {
        finish(r, 500, INTERNAL);
        json_object_put(o);
        return;
    }
    if (!structured) {
        /* 2.0 inferred: any JSON is a 200 application/json body */
        json_object *s = json_object_new_object(), *h = json_object_new_object();
        put(h, "content-type", json_object_new_string("application/json"));
        put(s, "statusCode", json_object_new_int(200));
        put(s, "headers", h);
        put(s, "body", jn(p, n));
        json_object_put(o);
        o = s;
    }
    if (x->cors)
        drop_cors_headers(o);
    ag_map_lambda_response(x, o);
    if (!lm_http_structured(r, o))
        finish(r, 500, INTERNAL);
    json_object_put(o);
}

static void invoked(nb_call *call, nb_status st, void *arg)
{
    ag_exchange *x = arg;
    if (x->r) {
        x->r->call.on_cancel = NULL;
        x->r->call.park = NULL;
        lambda_respond(x, call, st);
    }
    ag_exchange_free(x);
}

static void lambda_start(ag_exchange *x, const char *fn)
{
    nb_req *r = x->r;
    char *ev = make_event(r, x->v1, nb_str(x->api, "ApiId"), x->stage_name, nb_str(x->route, "RouteKey"),
                          x->path, x->plen, x->params, nb_get(x->stage, "StageVariables"));
    json_object *in = json_object_new_object();
    put(in, "FunctionName", json_object_new_string(fn));
    put(in, "Payload", json_object_new_string(ev));
    free(ev);
    nb_invoke(&r->call, "lambda", "Invoke", in, invoked, x);
    json_object_put(in);
}

void ag_integrate(ag_exchange *x)
{
    json_object *ig = x->integ;
    const char *type = ig ? nb_str(ig, "IntegrationType") : NULL;
    const char *uri = ig ? nb_str(ig, "IntegrationUri") : NULL;
    char fn[512];
    if (type && strcmp(type, "HTTP_PROXY") == 0 && uri) {
        ag_proxy_start(x);
    } else if (type && strcmp(type, "AWS_PROXY") == 0 && uri && ag_lambda_target(uri, fn, sizeof fn)) {
        const char *pfv = nb_str(ig, "PayloadFormatVersion");
        x->v1 = pfv && !strcmp(pfv, "1.0");
        lambda_start(x, fn);
    } else {
        ag_answer(x, 500, INTERNAL);
    }
}

/* ---- one request ---------------------------------------------------------------- */

/* The best route of the snapshot for the request, or NULL. */
static json_object *best_route(json_object *routes, const char *method, const char *path, size_t plen,
                               json_object *params)
{
    json_object *best = NULL;
    char *score = NULL;
    size_t n = routes ? json_object_array_length(routes) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *rt = json_object_array_get_idx(routes, i);
        char *s = ag_route_match(nb_str(rt, "RouteKey"), method, path, plen, NULL);
        if (s && (!score || strcmp(s, score) > 0)) {
            free(score);
            score = s;
            best = rt;
        } else {
            free(s);
        }
    }
    free(score);
    if (best)
        free(ag_route_match(nb_str(best, "RouteKey"), method, path, plen, params));
    return best;
}

/* The stage a request path selects: a first segment naming a stage other
 * than $default selects it (the rest is the path), else $default serves
 * the whole path.  NULL when neither exists. */
static json_object *pick_stage(ag_cached *e, const char *path, size_t plen, const char **rest,
                               size_t *rn)
{
    const char *s = path + 1, *end = path + plen;
    const char *slash = plen > 1 ? memchr(s, '/', (size_t)(end - s)) : NULL;
    size_t sl = plen > 1 ? (size_t)((slash ? slash : end) - s) : 0;
    json_object *st = sl && !(sl == 8 && memcmp(s, "$default", 8) == 0) ? cached_stage(e, s, sl) : NULL;
    if (st) {
        *rest = slash ? slash : "/";
        *rn = slash ? (size_t)(end - slash) : 1;
        return st;
    }
    *rest = path;
    *rn = plen;
    return cached_stage(e, "$default", 8);
}

/* AllowOrigins may hold a scheme followed by "://" and "*" (any origin of
 * that scheme): for an Origin matched so, a copy of cors that names it
 * (owned); else NULL (cors serves as it is). */
static json_object *cors_for_origin(const nb_req *r, json_object *cors)
{
    const char *origin = nb_req_header(r, "origin", NULL);
    json_object *os = nb_get(cors, "AllowOrigins");
    size_t n = origin && json_object_is_type(os, json_type_array) ? json_object_array_length(os) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *o = json_object_get_string(json_object_array_get_idx(os, i));
        size_t ol = o ? strlen(o) : 0;
        if (ol < 4 || strcmp(o + ol - 4, "://*") != 0 || strncasecmp(origin, o, ol - 1) != 0)
            continue;
        json_object *c = ag_copy(cors), *list = json_object_new_array();
        json_object_array_add(list, json_object_new_string(origin));
        json_object_object_add(c, "AllowOrigins", list);
        return c;
    }
    return NULL;
}

static bool is_preflight(const nb_req *r)
{
    return strcmp(r->method, "OPTIONS") == 0 && nb_req_header(r, "origin", NULL) &&
           nb_req_header(r, "access-control-request-method", NULL);
}

/* 204, with the CORS preflight headers when the method is allowed. */
static void answer_preflight(nb_req *r, json_object *cors)
{
    const char *want = nb_req_header(r, "access-control-request-method", NULL);
    json_object *ms = nb_get(cors, "AllowMethods");
    bool ok = false;
    for (size_t i = 0; ms && i < json_object_array_length(ms); i++) {
        const char *m = json_object_get_string(json_object_array_get_idx(ms, i));
        ok = ok || (m && (!strcmp(m, "*") || !strcasecmp(m, want)));
    }
    if (ok)
        lm_http_cors(r, cors, true);
    r->status = 204;
    nb_req_finish(r);
}

/* Route r (inside a store call).  Returns the exchange to run, or NULL
 * when r was answered. */
static ag_exchange *route(nb_req *r, const char *api, const char *path, size_t plen,
                          const char *named)
{
    nb_call *c = &r->call;
    nb_resp_header(r, "apigw-requestid", c->request_id);
    lm_http_trace_id(r);
    ag_cached *e = cached(api);
    const char *owner = e->api ? nb_str(e->api, "_owner") : NULL;
    const char *rest = path;
    size_t rn = plen;
    json_object *stage = !owner ? NULL
                         : *named ? cached_stage(e, named, strlen(named))
                                  : pick_stage(e, path, plen, &rest, &rn);
    const char *dep_id = stage ? nb_str(stage, "DeploymentId") : NULL;
    json_object *dep = dep_id ? cached_deployment(e, dep_id) : NULL;
    json_object *snap = dep ? nb_get(dep, AG_SNAPSHOT) : NULL;
    if (!snap) {
        finish(r, 404, NOT_FOUND);
        return NULL;
    }
    const char *slash = strchr(owner, '/');
    snprintf(c->account, sizeof c->account, "%.*s", (int)(slash ? slash - owner : 0), owner);
    snprintf(c->region, sizeof c->region, "%s", slash ? slash + 1 : "us-east-1");
    json_object *cors = nb_get(e->api, "CorsConfiguration");
    if (!json_object_is_type(cors, json_type_object) || !json_object_object_length(cors))
        cors = NULL;
    char method[16];
    snprintf(method, sizeof method, "%s", r->method);
    json_object *params = json_object_new_object();
    json_object *rt = best_route(nb_get(snap, "routes"), method, rest, rn, params);
    const char *key = rt ? nb_str(rt, "RouteKey") : NULL;
    json_object *own = cors ? cors_for_origin(r, cors) : NULL;
    if (own)
        cors = own;
    if (cors && is_preflight(r) && !rt) {
        /* API Gateway answers a preflight no route takes (an OPTIONS, ANY
         * or $default route gets it like any other request) */
        answer_preflight(r, cors);
        json_object_put(params);
        json_object_put(own);
        return NULL;
    }
    if (cors)
        lm_http_cors(r, cors, false);
    if (!rt) {
        json_object_put(params);
        json_object_put(own);
        finish(r, 404, NOT_FOUND);
        return NULL;
    }
    if (!ag_authorize(r, api, nb_str(stage, "StageName"), stage, snap, rt, rest, rn, params)) {
        /* answered (401, 403, 500) or parked while its authorizer runs
         * (apigw_auth.c); an allowed request is served again from the start */
        json_object_put(params);
        json_object_put(own);
        return NULL;
    }
    if (!throttle_ok(e, nb_str(stage, "StageName"), stage, key)) {
        json_object_put(params);
        json_object_put(own);
        finish(r, 429, TOO_MANY);
        return NULL;
    }
    const char *tg = nb_str(rt, "Target");
    json_object *ig = tg && !strncmp(tg, "integrations/", 13)
                          ? nb_get(nb_get(snap, "integrations"), tg + 13) : NULL;
    ag_exchange *x = nb_calloc(1, sizeof *x);
    x->r = r;
    x->api = json_object_get(e->api);
    x->stage = json_object_get(stage);
    x->route = json_object_get(rt);
    x->integ = json_object_get(ig);
    x->params = params;
    x->cors = own ? own : json_object_get(cors);
    snprintf(x->stage_name, sizeof x->stage_name, "%s", nb_str(stage, "StageName"));
    x->path = rest;
    x->plen = rn;
    r->call.park = x;
    r->call.on_cancel = cancelled;
    return x;
}

bool nb_apigw_serve(nb_req *r)
{
    char id[32];
    const char *path;
    size_t plen;
    char named[130];
    if (!target(r, id, sizeof id, &path, &plen, named, sizeof named))
        return false;
    if (!nb_services_started() && nb_services_start() != 0) {
        finish(r, 500, INTERNAL);
        return true;
    }
    if (!*named && nb_apigw_rest_serve(r, id, path, plen)) /* a REST API (v1) id */
        return true;
    nb_store_call_begin();
    /* The /restapis/ form is shared with REST APIs (v1): only an HTTP API's
     * id is ours, anything else goes on to the next front door. */
    bool ours = !*named || cached(id)->api != NULL;
    ag_exchange *x = ours ? route(r, id, path, plen, named) : NULL;
    nb_store_call_end(true);
    if (!ours)
        return false;
    if (!x)
        return true;
    /* The route matched, its authorizer allowed it (route: ag_authorize)
     * and it is within its limits. */
    ag_integrate(x);
    return true;
}
