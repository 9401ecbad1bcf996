/*
 * apigw_serve.c — the HTTP API data plane: an execute-api request
 * (Host "{apiId}.execute-api.*" or path "/_aws/execute-api/{apiId}/...")
 * is matched against the routes of the stage's deployment snapshot and
 * sent to its AWS_PROXY Lambda integration (payload format 2.0 or 1.0)
 * through nb_invoke; the function's answer is mapped to the response.
 * The request is parked while the function runs; nothing blocks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apigw_internal.h"
#include "core/http.h"
#include "core/store.h"
#include "services/apigateway/ar_internal.h"
#include "services/lambda/lambda_internal.h"

#define AG_PATH_PREFIX "/_aws/execute-api/"

typedef struct {
    nb_req *r;  /* NULL once the client went away */
    bool v1;    /* payload format 1.0 */
} ag_wait;

static void finish(nb_req *r, int status, const char *body)
{
    r->status = status;
    r->content_type = "application/json";
    nb_buf_add(&r->rbody, body, strlen(body));
    nb_req_finish(r);
}

static void not_found(nb_req *r) { finish(r, 404, "{\"message\":\"Not Found\"}"); }
static void internal(nb_req *r) { finish(r, 500, "{\"message\":\"Internal Server Error\"}"); }

/* The api id and the path after it, from the Host or the path form. */
static bool target(const nb_req *r, char *id, size_t idn, const char **path, size_t *plen,
                   bool *host_form)
{
    size_t n = 0;
    const char *host = nb_req_header(r, "host", &n);
    const char *mark = host ? memmem(host, n, ".execute-api.", 13) : NULL;
    const char *src;
    size_t len;
    if (mark) {
        src = host;
        len = (size_t)(mark - host);
        *path = r->path;
        *plen = r->path_len;
        *host_form = true;
    } else {
        size_t k = sizeof AG_PATH_PREFIX - 1;
        if (r->path_len <= k || memcmp(r->path, AG_PATH_PREFIX, k) != 0)
            return false;
        src = r->path + k;
        const char *end = r->path + r->path_len, *slash = memchr(src, '/', (size_t)(end - src));
        len = (size_t)((slash ? slash : end) - src);
        *path = slash ? slash : "/";
        *plen = slash ? (size_t)(end - slash) : 1;
        *host_form = false;
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

static void respond(nb_req *r, bool v1, nb_call *call, nb_status st)
{
    json_object *pl = st == NB_OK ? nb_get(call->out, "Payload") : NULL;
    if (!pl || nb_get(call->out, "FunctionError")) {
        internal(r);
        return;
    }
    const char *p = json_object_get_string(pl);
    size_t n = (size_t)json_object_get_string_len(pl);
    json_object *o = lm_http_parse_json(p, n);
    bool structured = json_object_is_type(o, json_type_object) && nb_get(o, "statusCode");
    if (structured) {
        if (!lm_http_structured(r, o))
            internal(r);
    } else if (v1 || (!o && !(n == 4 && memcmp(p, "null", 4) == 0))) {
        internal(r);
    } else {
        r->status = 200;
        r->content_type = "application/json";
        nb_buf_add(&r->rbody, p, n);
        nb_req_finish(r);
    }
    json_object_put(o);
}

static void invoked(nb_call *call, nb_status st, void *arg)
{
    ag_wait *w = arg;
    if (w->r) {
        nb_req *r = w->r;
        r->call.on_cancel = NULL;
        r->call.park = NULL;
        respond(r, w->v1, call, st);
    }
    free(w);
}

static void cancelled(nb_call *call)
{
    ag_wait *w = call->park;
    w->r = NULL;
}

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

/* Answers r, or returns the Invoke input to run (outside the store call)
 * with *v1 set. */
static json_object *serve(nb_req *r, const char *api, const char *path, size_t plen, bool host_form,
                          bool *v1)
{
    json_object *in = NULL;
    nb_call *c = &r->call;
    nb_resp_header(r, "apigw-requestid", c->request_id);
    lm_http_trace_id(r);
    json_object *a = ag_load(api, "api", api), *stage = NULL, *dep = NULL;
    char sname[130] = "$default";
    const char *rest = path;
    size_t rn = plen;
    if (a)
        stage = ag_load(api, "stage", "$default");
    if (a && !stage) {
        /* the first segment names the stage */
        const char *s = path + 1, *end = path + plen;
        const char *q = memchr(s, '?', (size_t)(end - s));
        if (q)
            end = q;
        const char *slash = memchr(s, '/', (size_t)(end - s));
        size_t sl = (size_t)((slash ? slash : end) - s);
        if (sl > 0 && sl < sizeof sname) {
            snprintf(sname, sizeof sname, "%.*s", (int)sl, s);
            stage = ag_load(api, "stage", sname);
            rest = slash ? slash : "/";
            rn = slash ? (size_t)(path + plen - slash) : 1;
        }
    }
    (void)host_form;
    const char *dep_id = stage ? nb_str(stage, "DeploymentId") : NULL;
    if (dep_id)
        dep = ag_load(api, "deploy", dep_id);
    json_object *snap = dep ? nb_get(dep, AG_SNAPSHOT) : NULL;
    const char *owner = a ? nb_str(a, "_owner") : NULL;
    if (!snap || !owner) {
        not_found(r);
        goto out;
    }
    const char *slash = strchr(owner, '/');
    snprintf(c->account, sizeof c->account, "%.*s", (int)(slash ? slash - owner : 0), owner);
    snprintf(c->region, sizeof c->region, "%s", slash ? slash + 1 : "us-east-1");
    char method[16];
    snprintf(method, sizeof method, "%s", r->method);
    const char *qm = memchr(rest, '?', rn);
    size_t pn = qm ? (size_t)(qm - rest) : rn;
    json_object *params = json_object_new_object();
    json_object *rt = best_route(nb_get(snap, "routes"), method, rest, pn, params);
    const char *tg = rt ? nb_str(rt, "Target") : NULL;
    json_object *ig = tg && !strncmp(tg, "integrations/", 13)
                          ? nb_get(nb_get(snap, "integrations"), tg + 13) : NULL;
    char fn[512];
    if (!rt) {
        not_found(r);
    } else if (!ig || strcmp(nb_str(ig, "IntegrationType") ? nb_str(ig, "IntegrationType") : "", "AWS_PROXY") ||
               !ag_lambda_target(nb_str(ig, "IntegrationUri") ? nb_str(ig, "IntegrationUri") : "", fn, sizeof fn)) {
        internal(r);
    } else {
        const char *pfv = nb_str(ig, "PayloadFormatVersion");
        *v1 = pfv && !strcmp(pfv, "1.0");
        char *ev = make_event(r, *v1, api, sname, nb_str(rt, "RouteKey"), rest, pn, params,
                              nb_get(stage, "StageVariables"));
        in = json_object_new_object();
        put(in, "FunctionName", json_object_new_string(fn));
        put(in, "Payload", json_object_new_string(ev));
        free(ev);
    }
    json_object_put(params);
out:
    json_object_put(a);
    json_object_put(stage);
    json_object_put(dep);
    return in;
}

bool nb_apigw_serve(nb_req *r)
{
    char id[32];
    const char *path;
    size_t plen;
    bool host_form;
    if (!target(r, id, sizeof id, &path, &plen, &host_form))
        return false;
    if (!nb_services_started() && nb_services_start() != 0) {
        internal(r);
        return true;
    }
    if (nb_apigw_rest_serve(r, id, path, plen)) /* a REST API (v1) id */
        return true;
    bool v1 = false;
    nb_store_call_begin();
    json_object *in = serve(r, id, path, plen, host_form, &v1);
    nb_store_call_end(true);
    if (in) {
        ag_wait *w = nb_calloc(1, sizeof *w);
        w->r = r;
        w->v1 = v1;
        r->call.park = w;
        r->call.on_cancel = cancelled;
        nb_invoke(&r->call, "lambda", "Invoke", in, invoked, w);
        json_object_put(in);
    }
    return true;
}
