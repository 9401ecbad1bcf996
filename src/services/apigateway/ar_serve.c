/*
 * ar_serve.c — the REST API data plane.  A request for a REST API id
 * arrives through API Gateway v2's execute-api front door (Host
 * "{id}.execute-api.*" or "/_aws/execute-api/{id}/...", which offers
 * every id to nb_apigw_rest_serve first) or as
 * "/restapis/{id}/{stage}/_user_request_/{path}" (dispatch.c).  The first
 * path segment names the stage; the stage's deployment snapshot gives the
 * resource tree, matched as REST APIs do (literal over {param} over
 * {proxy+}, a named method over ANY; apigw_route.c's matcher).  No
 * resource or method: 403 "Missing Authentication Token".
 *
 * Integrations: MOCK (request template → statusCode → integration
 * response by selectionPattern → response parameters and template),
 * AWS_PROXY to Lambda (payload format 1.0, the function's answer mapped
 * as REST APIs do, malformed → 502) and AWS to Lambda (request template
 * as the payload, integration response selected by the errorMessage).
 * Lambda runs through nb_invoke while the request is parked.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ar_internal.h"
#include "core/http.h"
#include "core/http_client.h"
#include "core/store.h"
#include "services/lambda/lambda_internal.h"
#include "vtl.h"

#define USER_REQUEST "/_user_request_"

typedef struct {
    nb_req *r;          /* NULL once the client went away */
    bool proxy;         /* AWS_PROXY / HTTP_PROXY; else AWS / HTTP (mapped) */
    json_object *integ; /* mapped: the integration (owned) */
    json_object *ctx;   /* mapped: the mapping context (owned) */
    json_object *http;  /* HTTP*: the request to send {method, url, body, headers, timeout} */
    nb_http_fetch *fetch;
    struct ar_route *auth; /* an authorizer call: the route to continue with (owned) */
} ar_wait;

static void route_free(struct ar_route *rt);
static void authorized(nb_req *r, struct ar_route *rt, nb_call *call, nb_status st);

static void wait_free(ar_wait *w)
{
    route_free(w->auth);
    json_object_put(w->integ);
    json_object_put(w->ctx);
    json_object_put(w->http);
    free(w);
}

static void put(json_object *o, const char *k, json_object *v) { json_object_object_add(o, k, v); }
static json_object *jn(const char *s, size_t n) { return json_object_new_string_len(s, (int)n); }

static void finish(nb_req *r, int status, const char *type, const char *body)
{
    r->status = status;
    r->content_type = "application/json";
    if (type)
        nb_resp_header(r, "x-amzn-ErrorType", type);
    nb_buf_add(&r->rbody, body, strlen(body));
    nb_req_finish(r);
}

static void missing_token(nb_req *r)
{
    finish(r, 403, "MissingAuthenticationTokenException", "{\"message\":\"Missing Authentication Token\"}");
}

static void internal(nb_req *r, int status)
{
    finish(r, status, "InternalServerErrorException", "{\"message\": \"Internal server error\"}");
}

/* ---- request pieces ------------------------------------------------------------ */

static json_object *decode(const char *s, size_t n)
{
    nb_buf d = {0};
    if (nb_url_decode(&d, s, n, 1) != 0) {
        d.len = 0;
        nb_buf_add(&d, s, n);
    }
    json_object *o = jn(d.data ? d.data : "", d.len);
    nb_buf_free(&d);
    return o;
}

/* The query string as {name: last value} and {name: [values]}. */
static void query_maps(const nb_req *r, json_object **single, json_object **multi)
{
    *single = json_object_new_object();
    *multi = json_object_new_object();
    const char *p = r->query, *end = r->query + r->query_len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p)), *ke = eq ? eq : e;
        if (ke > p) {
            json_object *k = decode(p, (size_t)(ke - p));
            json_object *v = eq ? decode(eq + 1, (size_t)(e - eq - 1)) : json_object_new_string("");
            const char *name = json_object_get_string(k);
            json_object *arr = nb_get(*multi, name);
            if (!arr) {
                arr = json_object_new_array();
                put(*multi, name, arr);
            }
            json_object_array_add(arr, json_object_get(v));
            put(*single, name, v);
            json_object_put(k);
        }
        p = e + 1;
    }
}

/* Headers as {name: last value} and {name: [values]} (names lower-case),
 * plus the x-forwarded-* and trace headers API Gateway adds. */
static void header_maps(const nb_req *r, const char *ip, json_object **single, json_object **multi)
{
    *single = lm_http_headers(r, NULL, ip);
    *multi = json_object_new_object();
    for (int i = 0; i < r->nheaders; i++) {
        const nb_header *h = &r->headers[i];
        if (!h->name[0])
            continue;
        json_object *arr = nb_get(*multi, h->name);
        if (!arr) {
            arr = json_object_new_array();
            put(*multi, h->name, arr);
        }
        json_object_array_add(arr, jn(h->value, h->vlen));
        put(*single, h->name, jn(h->value, h->vlen));
    }
    json_object_object_foreach(*single, k, v) {
        if (!nb_get(*multi, k)) {
            json_object *arr = json_object_new_array();
            json_object_array_add(arr, json_object_get(v));
            put(*multi, k, arr);
        }
    }
}

/* Everything a request's mapping can refer to. */
typedef struct {
    json_object *params;  /* {"path", "querystring", "header"} */
    json_object *mvq, *mvh;
    json_object *context; /* $context */
    json_object *svars;   /* stage variables (borrowed from the stage) */
} ar_request;

static void request_free(ar_request *q)
{
    json_object_put(q->params);
    json_object_put(q->mvq);
    json_object_put(q->mvh);
    json_object_put(q->context);
}

static void build_request(nb_req *r, const char *api, const char *stage, json_object *res,
                          const char *full_path, size_t fn, json_object *pathp, ar_request *q)
{
    nb_call *c = &r->call;
    char ip[64], domain[320], tm[64];
    nb_req_peer(r, ip, sizeof ip);
    json_object *qs, *hs;
    query_maps(r, &qs, &q->mvq);
    header_maps(r, ip, &hs, &q->mvh);
    q->params = json_object_new_object();
    put(q->params, "path", json_object_get(pathp));
    put(q->params, "querystring", qs);
    put(q->params, "header", hs);

    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    snprintf(domain, sizeof domain, "%.*s", host ? (int)hl : 0, host ? host : "");
    char *colon = strrchr(domain, ':');
    if (colon)
        *colon = 0;
    const char *dot = strchr(domain, '.');
    time_t secs = (time_t)(c->now_ms / 1000);
    struct tm g;
    gmtime_r(&secs, &g);
    strftime(tm, sizeof tm, "%d/%b/%Y:%H:%M:%S +0000", &g);
    size_t ul = 0;
    const char *ua = nb_req_header(r, "user-agent", &ul);

    json_object *ctx = json_object_new_object(), *id = json_object_new_object();
    static const char *const NULLS[] = {"cognitoIdentityPoolId", "accountId", "cognitoIdentityId",
                                        "caller", "principalOrgId", "accessKey",
                                        "cognitoAuthenticationType",
                                        "cognitoAuthenticationProvider", "userArn", "user", NULL};
    for (int i = 0; NULLS[i]; i++)
        put(id, NULLS[i], NULL);
    put(id, "sourceIp", json_object_new_string(ip));
    put(id, "userAgent", ua ? jn(ua, ul) : json_object_new_string(""));
    put(ctx, "resourceId", json_object_new_string(nb_str(res, "id")));
    put(ctx, "resourcePath", json_object_new_string(nb_str(res, "path")));
    put(ctx, "httpMethod", json_object_new_string(r->method));
    put(ctx, "extendedRequestId", json_object_new_string(c->request_id));
    put(ctx, "requestTime", json_object_new_string(tm));
    put(ctx, "path", jn(full_path, fn));
    put(ctx, "accountId", json_object_new_string(c->account));
    put(ctx, "protocol", json_object_new_string("HTTP/1.1"));
    put(ctx, "stage", json_object_new_string(stage));
    put(ctx, "domainPrefix", dot ? jn(domain, (size_t)(dot - domain)) : json_object_new_string(domain));
    put(ctx, "requestTimeEpoch", json_object_new_int64(c->now_ms));
    put(ctx, "requestId", json_object_new_string(c->request_id));
    put(ctx, "identity", id);
    put(ctx, "domainName", json_object_new_string(domain));
    put(ctx, "apiId", json_object_new_string(api));
    q->context = ctx;
}

/* The payload format 1.0 event of a Lambda proxy integration (text). */
static char *proxy_event(nb_req *r, json_object *res, const char *path, size_t pn, ar_request *q)
{
    json_object *ev = json_object_new_object();
    json_object *pp = nb_get(q->params, "path"), *qs = nb_get(q->params, "querystring");
    bool has_q = json_object_object_length(qs) > 0;
    put(ev, "resource", json_object_new_string(nb_str(res, "path")));
    put(ev, "path", jn(path, pn));
    put(ev, "httpMethod", json_object_new_string(r->method));
    put(ev, "headers", json_object_get(nb_get(q->params, "header")));
    put(ev, "multiValueHeaders", json_object_get(q->mvh));
    put(ev, "queryStringParameters", has_q ? json_object_get(qs) : NULL);
    put(ev, "multiValueQueryStringParameters", has_q ? json_object_get(q->mvq) : NULL);
    put(ev, "pathParameters", json_object_object_length(pp) ? json_object_get(pp) : NULL);
    put(ev, "stageVariables", q->svars && json_object_object_length(q->svars)
                                  ? json_object_get(q->svars) : NULL);
    put(ev, "requestContext", json_object_get(q->context));
    put(ev, "body", NULL);
    lm_http_body(ev, r);
    char *s = nb_strdup(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(ev);
    return s;
}

/* ---- caches: deployments, parsed templates --------------------------------------- */

/* Deployments never change once made, so their parsed snapshots (and the
 * owner of their API) are kept in an ar_lru keyed "api/deployment".  A
 * stage is still read per request, so a redeploy or a deleted stage shows
 * at once; a deleted API's entries are never reached again (ids are
 * random) and go with age, a reset or shutdown. */
typedef struct {
    char owner[64];
    bool disabled; /* the API's disableExecuteApiEndpoint (UpdateRestApi clears the cache) */
    json_object *snap;
    json_object *validators, *authorizers;
} ar_deployed;

static void *deployed_make(const char *key, void *arg)
{
    (void)arg;
    char id[64];
    const char *slash = strchr(key, '/');
    nb_copy(id, sizeof id, key, (size_t)(slash - key));
    json_object *d = ag_load(id, AR_KIND_DEPLOY, slash + 1);
    json_object *api = d ? ag_load(id, AR_KIND_API, id) : NULL;
    json_object *snap = d ? nb_get(d, AR_SNAPSHOT) : NULL;
    const char *owner = api ? nb_str(api, AR_OWNER) : NULL;
    ar_deployed *e = NULL;
    if (snap && owner) {
        e = nb_calloc(1, sizeof *e);
        nb_copy(e->owner, sizeof e->owner, owner, strlen(owner));
        e->snap = json_object_get(snap);
        e->validators = json_object_get(nb_get(d, AR_VALIDATORS));
        e->authorizers = json_object_get(nb_get(d, AR_AUTHORIZERS));
        nb_bool(api, "disableExecuteApiEndpoint", &e->disabled);
    }
    json_object_put(d);
    json_object_put(api);
    return e;
}

static void deployed_drop(void *v)
{
    ar_deployed *e = v;
    json_object_put(e->snap);
    json_object_put(e->validators);
    json_object_put(e->authorizers);
    free(e);
}

static void *tpl_make(const char *src, void *arg)
{
    (void)arg;
    char err[VTL_ERRMAX];
    return vtl_parse(src, strlen(src), err, sizeof err);
}

static void tpl_drop(void *v) { vtl_free(v); }

static ar_lru deployments = {.drop = deployed_drop};
static ar_lru templates = {.drop = tpl_drop};

void ar_cache_clear(void)
{
    ar_lru_clear(&deployments);
    ar_lru_clear(&templates);
}

static ar_deployed *deployment(const char *id, const char *dep)
{
    char key[160];
    snprintf(key, sizeof key, "%s/%s", id, dep);
    return ar_lru_get(&deployments, key, deployed_make, NULL);
}

/* ---- mapping templates -------------------------------------------------------------- */

/* Render template tpl (parsed once, cached) with $input over body and the
 * request's parameters, $context and $stageVariables, into out.
 * vtl_render_ex's result (0, -1, VTL_EBODY) with err set; *ovr gets
 * what the template set under $context.responseOverride. */
static int render(const char *tpl, const char *body, size_t blen, const ar_request *q, nb_buf *out,
                  json_object **ovr, char *err, size_t errn)
{
    if (!strpbrk(tpl, "$#")) { /* no reference or directive: the text is the result */
        nb_buf_adds(out, tpl);
        return 0;
    }
    vtl_tpl *t = ar_lru_get(&templates, tpl, tpl_make, NULL);
    if (!t) {
        snprintf(err, errn, "Invalid mapping template");
        return -1;
    }
    vtl_input in = {.body = body ? body : "", .body_len = body ? blen : 0, .params = q->params,
                    .context = q->context, .stage_vars = q->svars};
    return vtl_render_ex(t, &in, out, ovr, err, errn);
}

/* The response template of an integration response for the request's
 * Accept header (else application/json, else the first); NULL if none. */
static const char *response_template(json_object *ir, nb_req *r, const char **ctype)
{
    json_object *ts = nb_get(ir, "responseTemplates");
    if (!ts || !json_object_is_type(ts, json_type_object) || json_object_object_length(ts) == 0)
        return NULL;
    size_t an = 0;
    const char *accept = r ? nb_req_header(r, "accept", &an) : NULL;
    const char *first = NULL, *json = NULL, *hit = NULL;
    json_object_object_foreach(ts, k, v) {
        (void)v;
        if (!first) {
            first = k;
            *ctype = k;
        }
        if (accept && strlen(k) == an && strncasecmp(k, accept, an) == 0)
            hit = k;
        if (strcasecmp(k, "application/json") == 0)
            json = k;
    }
    *ctype = hit ? hit : json ? json : first;
    json_object *t = nb_get(ts, *ctype);
    return t && !json_object_is_type(t, json_type_null) ? json_object_get_string(t) : "";
}

/* Answer r from integration response ir: status, responseParameters
 * (sources from ctx), the response template or else the integration's
 * body. */
static void mapped_response(nb_req *r, json_object *ir, ar_request *q, json_object *iheaders,
                            const char *body, size_t blen)
{
    if (!ir) {
        internal(r, 500);
        return;
    }
    const char *sc = nb_str(ir, "statusCode");
    json_object *src = json_object_new_object();
    put(src, "request", json_object_get(q->params));
    put(src, "integration_headers", iheaders ? json_object_get(iheaders) : json_object_new_object());
    put(src, "integration_body", jn(body ? body : "", blen));
    put(src, "stage", q->svars ? json_object_get(q->svars) : json_object_new_object());
    put(src, "context", json_object_get(q->context));
    json_object *rp = nb_get(ir, "responseParameters");
    if (rp && json_object_is_type(rp, json_type_object)) {
        json_object_object_foreach(rp, k, v) {
            char buf[1024];
            const char *val = ar_param_value(json_object_get_string(v), src, buf, sizeof buf);
            if (val && !strpbrk(val, "\r\n") && strncmp(k, "method.response.header.", 23) == 0)
                nb_resp_header(r, k + 23, val);
        }
    }
    json_object_put(src);
    const char *ctype = "application/json";
    const char *tpl = response_template(ir, r, &ctype);
    nb_buf out = {0};
    json_object *ovr = NULL;
    char err[VTL_ERRMAX];
    if (tpl && render(tpl, body, blen, q, &out, &ovr, err, sizeof err) != 0) {
        nb_buf_free(&out);
        json_object_put(ovr);
        internal(r, 500);
        return;
    }
    if (!tpl && body)
        nb_buf_add(&out, body, blen);
    r->status = sc ? atoi(sc) : 200;
    json_object *ro = nb_get(ovr, "responseOverride"), *oh = nb_get(ro, "header");
    int64_t os = 0;
    if (nb_int(ro, "status", &os))
        r->status = (int)os;
    if (r->status < 100 || r->status > 599)
        r->status = 500;
    if (oh && json_object_is_type(oh, json_type_object)) {
        json_object_object_foreach(oh, k, v) {
            const char *val = json_object_get_string(v);
            if (val && !strpbrk(val, "\r\n") && !strpbrk(k, "\r\n: "))
                nb_resp_header(r, k, val);
        }
    }
    r->content_type = ctype;
    if (out.len)
        nb_buf_add(&r->rbody, out.data, out.len);
    nb_buf_free(&out);
    nb_req_finish(r);
    json_object_put(ovr);
}

/* The request body after the integration's request template, or false
 * after answering 415 (no template for the content type), 400 (the
 * template needed a JSON body) or 500 (the template failed). */
static bool map_request(nb_req *r, json_object *ig, const ar_request *q, nb_buf *out)
{
    size_t cn = 0;
    const char *ct = nb_req_header(r, "content-type", &cn);
    const char *tpl = NULL;
    switch (ar_pick_request_template(nb_get(ig, "requestTemplates"), ct, cn,
                                     nb_str(ig, "passthroughBehavior"), &tpl)) {
    case AR_TPL_UNSUPPORTED:
        finish(r, 415, "UnsupportedMediaTypeException", "{\"message\": \"Unsupported Media Type\"}");
        return false;
    case AR_TPL_OK: {
        char err[VTL_ERRMAX];
        int rc = render(tpl ? tpl : "", r->body.data, r->body.len, q, out, NULL, err, sizeof err);
        if (rc == VTL_EBODY) {
            json_object *m = json_object_new_object();
            put(m, "message", json_object_new_string(err));
            finish(r, 400, "BadRequestException", json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
            json_object_put(m);
        } else if (rc != 0) {
            internal(r, 500);
        }
        return rc == 0;
    }
    case AR_TPL_PASSTHROUGH:
        break;
    }
    if (r->body.len)
        nb_buf_add(out, r->body.data, r->body.len);
    return true;
}

/* ---- Lambda answers ------------------------------------------------------------------ */

static void proxy_respond(nb_req *r, nb_call *call, nb_status st)
{
    json_object *pl = st == NB_OK ? nb_get(call->out, "Payload") : NULL;
    if (!pl || nb_get(call->out, "FunctionError")) {
        internal(r, 502);
        return;
    }
    json_object *o = lm_http_parse_json(json_object_get_string(pl),
                                        (size_t)json_object_get_string_len(pl));
    json_object *body = o ? nb_get(o, "body") : NULL;
    bool ok = json_object_is_type(o, json_type_object) && nb_get(o, "statusCode") &&
              (!body || json_object_is_type(body, json_type_string));
    if (!ok || !lm_http_structured(r, o))
        internal(r, 502);
    json_object_put(o);
}

static void aws_respond(nb_req *r, ar_wait *w, nb_call *call, nb_status st)
{
    json_object *pl = st == NB_OK ? nb_get(call->out, "Payload") : NULL;
    if (!pl) {
        internal(r, 500);
        return;
    }
    const char *p = json_object_get_string(pl);
    size_t n = (size_t)json_object_get_string_len(pl);
    char subject[1024] = "";
    if (nb_get(call->out, "FunctionError")) {
        json_object *o = lm_http_parse_json(p, n);
        const char *m = o ? nb_str(o, "errorMessage") : NULL;
        snprintf(subject, sizeof subject, "%s", m ? m : "");
        json_object_put(o);
    }
    ar_request q = {.params = nb_get(w->ctx, "params"), .context = nb_get(w->ctx, "context"),
                    .svars = nb_get(w->ctx, "stage")};
    json_object *ir = ar_pick_integration_response(nb_get(w->integ, "integrationResponses"), subject);
    mapped_response(r, ir, &q, NULL, p, n);
}

static void invoked(nb_call *call, nb_status st, void *arg)
{
    ar_wait *w = arg;
    if (w->r) {
        nb_req *r = w->r;
        r->call.on_cancel = NULL;
        r->call.park = NULL;
        if (w->auth)
            authorized(r, w->auth, call, st);
        else if (w->proxy)
            proxy_respond(r, call, st);
        else
            aws_respond(r, w, call, st);
    }
    wait_free(w);
}

static void cancelled(nb_call *call)
{
    ar_wait *w = call->park;
    w->r = NULL;
}

/* ---- HTTP integrations ------------------------------------------------------------------ */

/* The mapping context of a deferred mapped answer. */
static void keep_context(ar_wait *w, json_object *ig, const ar_request *q)
{
    w->integ = json_object_get(ig);
    w->ctx = json_object_new_object();
    put(w->ctx, "params", json_object_get(q->params));
    put(w->ctx, "context", json_object_get(q->context));
    put(w->ctx, "stage", q->svars ? json_object_get(q->svars) : NULL);
}

/* The sources integration request parameters read (owned). */
static json_object *param_sources(const ar_request *q)
{
    json_object *src = json_object_new_object();
    put(src, "request", json_object_get(q->params));
    put(src, "context", json_object_get(q->context));
    put(src, "stage", q->svars ? json_object_get(q->svars) : NULL);
    return src;
}

/* uri with its {name} / {name+} placeholders filled: from the
 * integration's requestParameters "integration.request.path.NAME" source,
 * else the path parameter NAME. */
static void fill_uri(const char *uri, json_object *ig, const ar_request *q, json_object *src,
                     nb_buf *out)
{
    for (const char *p = uri; *p; p++) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close || close - p > 128) {
            nb_buf_addc(out, *p);
            continue;
        }
        char name[130], key[160], buf[1024];
        size_t n = (size_t)(close - p - 1);
        nb_copy(name, sizeof name, p + 1, n && p[n] == '+' ? n - 1 : n);
        snprintf(key, sizeof key, "integration.request.path.%s", name);
        const char *expr = nb_str(nb_get(ig, "requestParameters"), key);
        const char *v = expr ? ar_param_value(expr, src, buf, sizeof buf)
                             : nb_str(nb_get(q->params, "path"), name);
        nb_buf_adds(out, v ? v : "");
        p = close;
    }
}

static void add_pair(json_object *arr, const char *name, const char *value)
{
    json_object *pair = json_object_new_array();
    json_object_array_add(pair, json_object_new_string(name));
    json_object_array_add(pair, json_object_new_string(value));
    json_object_array_add(arr, pair);
}

/* The integration's header and query string requestParameters. */
static void map_parameters(json_object *ig, json_object *src, json_object *hs, nb_buf *url,
                           bool has_query)
{
    json_object *rp = nb_get(ig, "requestParameters");
    if (!rp || !json_object_is_type(rp, json_type_object))
        return;
    json_object_object_foreach(rp, k, v) {
        char buf[1024];
        const char *val = ar_param_value(json_object_get_string(v), src, buf, sizeof buf);
        if (!val)
            continue;
        if (!strncmp(k, "integration.request.header.", 27) && k[27] && !strpbrk(val, "\r\n")) {
            add_pair(hs, k + 27, val);
        } else if (!strncmp(k, "integration.request.querystring.", 32) && k[32]) {
            nb_buf_addc(url, has_query ? '&' : '?');
            has_query = true;
            nb_url_encode(url, k + 32);
            nb_buf_addc(url, '=');
            nb_url_encode(url, val);
        }
    }
}

/* The request an HTTP or HTTP_PROXY integration sends (owned). */
static json_object *http_spec(nb_req *r, json_object *ig, const char *uri, const ar_request *q,
                              bool proxy, const nb_buf *body)
{
    nb_buf url = {0};
    json_object *src = param_sources(q);
    fill_uri(uri, ig, q, src, &url);
    bool has_query = strchr(uri, '?') != NULL;
    if (proxy && r->query_len) {
        nb_buf_addc(&url, has_query ? '&' : '?');
        nb_buf_add(&url, r->query, r->query_len);
        has_query = true;
    }
    json_object *spec = json_object_new_object(), *hs = json_object_new_array();
    const char *hm = nb_str(ig, "httpMethod");
    put(spec, "method", json_object_new_string(!hm || !strcmp(hm, "ANY") ? r->method : hm));
    int64_t to = 29000;
    nb_int(ig, "timeoutInMillis", &to);
    put(spec, "timeout", json_object_new_int64(to));
    static const char *const SKIP[] = {"host", "connection", "content-length", "transfer-encoding",
                                       "expect", "keep-alive", NULL};
    for (int i = 0; proxy && i < r->nheaders; i++) {
        const nb_header *h = &r->headers[i];
        bool skip = !h->name[0];
        for (int k = 0; !skip && SKIP[k]; k++)
            skip = strcmp(h->name, SKIP[k]) == 0;
        if (!skip)
            add_pair(hs, h->name, h->value);
    }
    if (!proxy)
        add_pair(hs, "content-type", "application/json");
    map_parameters(ig, src, hs, &url, has_query);
    put(spec, "url", jn(url.data ? url.data : "", url.len));
    put(spec, "body", jn(body->data ? body->data : "", body->len));
    put(spec, "headers", hs);
    nb_buf_free(&url);
    json_object_put(src);
    return spec;
}

static void http_done(const nb_http_result *res, void *arg)
{
    ar_wait *w = arg;
    nb_req *r = w->r;
    r->call.on_cancel = NULL;
    r->call.park = NULL;
    if (res->error == NB_HTTP_E_TIMEOUT) {
        finish(r, 504, "InternalServerErrorException", "{\"message\": \"Endpoint request timed out\"}");
    } else if (res->error != NB_HTTP_OK) {
        internal(r, 500);
    } else if (w->proxy) {
        r->status = res->status;
        r->content_type = "application/json";
        nb_buf_add(&r->rbody, res->body, res->body_len);
        nb_req_finish(r);
    } else {
        char status[8];
        snprintf(status, sizeof status, "%d", res->status);
        ar_request q = {.params = nb_get(w->ctx, "params"), .context = nb_get(w->ctx, "context"),
                        .svars = nb_get(w->ctx, "stage")};
        json_object *ir = ar_pick_integration_response(nb_get(w->integ, "integrationResponses"), status);
        mapped_response(r, ir, &q, NULL, res->body, res->body_len);
    }
    wait_free(w);
}

static void http_cancelled(nb_call *call)
{
    ar_wait *w = call->park;
    nb_http_cancel(w->fetch);
    wait_free(w);
}

static void http_start(nb_req *r, ar_wait *w)
{
    json_object *hs = nb_get(w->http, "headers");
    size_t n = json_object_array_length(hs);
    nb_http_header *h = nb_calloc(n ? n : 1, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        json_object *pair = json_object_array_get_idx(hs, i);
        h[i].name = json_object_get_string(json_object_array_get_idx(pair, 0));
        h[i].value = json_object_get_string(json_object_array_get_idx(pair, 1));
    }
    int64_t to = 29000;
    nb_int(w->http, "timeout", &to);
    json_object *body = nb_get(w->http, "body");
    nb_http_request req = {.method = nb_str(w->http, "method"), .url = nb_str(w->http, "url"),
                           .headers = h, .n_headers = n, .body = json_object_get_string(body),
                           .body_len = (size_t)json_object_get_string_len(body),
                           .timeout_ms = (uint64_t)to, .max_body = 10u << 20};
    w->r = r;
    r->call.park = w;
    r->call.on_cancel = http_cancelled;
    w->fetch = nb_http_fetch_start(&req, http_done, w);
    free(h);
}

/* uri with "${stageVariables.NAME}" replaced by the stage's variables
 * (an unset one by nothing), as API Gateway does in integration URIs. */
static void expand_stage_vars(const char *uri, json_object *svars, nb_buf *out)
{
    static const char MARK[] = "${stageVariables.";
    const char *p = uri;
    for (const char *m; (m = strstr(p, MARK));) {
        const char *close = strchr(m, '}');
        if (!close)
            break;
        nb_buf_add(out, p, (size_t)(m - p));
        char name[130];
        size_t n = (size_t)(close - m) - (sizeof MARK - 1);
        nb_copy(name, sizeof name, m + sizeof MARK - 1, n);
        const char *v = nb_str(svars, name);
        nb_buf_adds(out, v ? v : "");
        p = close + 1;
    }
    nb_buf_adds(out, p);
    nb_buf_addc(out, 0);
}

/* The method's request validator's parameter check: false after answering
 * 400 with the required parameters the request lacks. */
static bool validate_params(nb_req *r, json_object *m, json_object *validators, const ar_request *q)
{
    const char *vid = nb_str(m, "requestValidatorId");
    json_object *v = vid ? nb_get(validators, vid) : NULL, *rp = nb_get(m, "requestParameters");
    bool on = false;
    if (!v || !nb_bool(v, "validateRequestParameters", &on) || !on || !rp)
        return true;
    nb_buf missing = {0};
    json_object *src = json_object_new_object();
    put(src, "request", json_object_get(q->params));
    json_object_object_foreach(rp, k, req) {
        char buf[8];
        bool known = !strncmp(k, "method.request.querystring.", 27) ||
                     !strncmp(k, "method.request.header.", 22) || !strncmp(k, "method.request.path.", 20);
        if (json_object_get_boolean(req) && known &&
            !ar_param_value(k, src, buf, sizeof buf)) {
            const char *dot = strrchr(k, '.');
            nb_buf_adds(&missing, missing.len ? ", " : "");
            nb_buf_adds(&missing, dot + 1);
        }
    }
    json_object_put(src);
    if (missing.len) {
        nb_buf msg = {0};
        nb_buf_adds(&msg, "Missing required request parameters: [");
        nb_buf_add(&msg, missing.data, missing.len);
        nb_buf_addc(&msg, ']');
        json_object *o = json_object_new_object();
        put(o, "message", jn(msg.data, msg.len));
        finish(r, 400, "BadRequestException", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        nb_buf_free(&msg);
    }
    bool ok = missing.len == 0;
    nb_buf_free(&missing);
    return ok;
}

/* ---- serving --------------------------------------------------------------------------- */

/* The resource and method of the snapshot for the request (borrowed), or
 * false. */
static bool match(json_object *snap, const char *method, const char *path, size_t pn,
                  json_object **res, json_object **m, json_object *params)
{
    char *best = NULL, key[4200];
    *res = *m = NULL;
    json_object_object_foreach(snap, id, rs) {
        (void)id;
        json_object *ms = nb_get(rs, "resourceMethods");
        const char *rp = nb_str(rs, "path");
        if (!ms || !rp)
            continue;
        json_object_object_foreach(ms, hm, mo) {
            snprintf(key, sizeof key, "%s %s", hm, rp);
            char *s = ag_route_match(key, method, path, pn, NULL);
            if (s && (!best || strcmp(s, best) > 0)) {
                free(best);
                best = s;
                *res = rs;
                *m = mo;
            } else {
                free(s);
            }
        }
    }
    if (!best)
        return false;
    free(best);
    snprintf(key, sizeof key, "ANY %s", nb_str(*res, "path"));
    free(ag_route_match(key, method, path, pn, params));
    return true;
}

static void apigw_id(nb_req *r)
{
    uint64_t x[2] = {nb_rand64(), nb_rand64()};
    size_t n;
    char *b = nb_base64_encode(x, 12, &n);
    b[15] = '=';
    nb_resp_header(r, "x-amz-apigw-id", b);
    free(b);
}

static void serve_mock(nb_req *r, json_object *ig, ar_request *q)
{
    nb_buf body = {0};
    if (!map_request(r, ig, q, &body)) {
        nb_buf_free(&body);
        return;
    }
    char status[8];
    snprintf(status, sizeof status, "%d", ar_mock_status(body.data ? body.data : "", body.len));
    nb_buf_free(&body);
    json_object *ir = ar_pick_integration_response(nb_get(ig, "integrationResponses"), status);
    mapped_response(r, ir, q, NULL, NULL, 0);
}

/* A matched request: what its authorizer and integration need, held by
 * reference so it outlives the store call and a cache eviction. */
typedef struct ar_route {
    json_object *res, *m, *authz; /* authz: the method's Lambda authorizer, or NULL */
    json_object *svars;           /* the stage's variables (q.svars) */
    ar_request q;
    const char *rest;             /* the path after the stage, into r->path */
    size_t rn;
    char arn[512];                /* methodArn */
} ar_route;

static void route_free(ar_route *rt)
{
    if (!rt)
        return;
    json_object_put(rt->res);
    json_object_put(rt->m);
    json_object_put(rt->authz);
    json_object_put(rt->svars);
    request_free(&rt->q);
    free(rt);
}

/* Start what w holds: the Lambda Invoke in (taken), the HTTP request, or
 * nothing (r was answered). */
static void launch(nb_req *r, ar_wait *w, json_object *in)
{
    if (in) {
        w->r = r;
        r->call.park = w;
        r->call.on_cancel = cancelled;
        nb_invoke(&r->call, "lambda", "Invoke", in, invoked, w);
        json_object_put(in);
    } else if (w->http) {
        http_start(r, w);
    } else {
        wait_free(w);
    }
}

static json_object *invoke_input(const char *fn, json_object *payload)
{
    json_object *in = json_object_new_object();
    put(in, "FunctionName", json_object_new_string(fn));
    put(in, "Payload", payload);
    return in;
}

/* Run the method's integration for a request that passed its checks. */
static void integrate(nb_req *r, ar_route *rt)
{
    ar_wait *w = nb_calloc(1, sizeof *w);
    ar_request *q = &rt->q;
    json_object *ig = nb_get(rt->m, "methodIntegration"), *in = NULL;
    const char *type = ig ? nb_str(ig, "type") : NULL;
    char fn[512];
    nb_buf ubuf = {0};
    if (ig && nb_str(ig, "uri"))
        expand_stage_vars(nb_str(ig, "uri"), q->svars, &ubuf);
    const char *uri = ubuf.data;
    bool lambda = uri && ag_lambda_target(uri, fn, sizeof fn);
    if (type && strcmp(type, "MOCK") == 0) {
        serve_mock(r, ig, q);
    } else if (type && strcmp(type, "AWS_PROXY") == 0 && lambda) {
        char *ev = proxy_event(r, rt->res, rt->rest, rt->rn, q);
        in = invoke_input(fn, json_object_new_string(ev));
        free(ev);
        w->proxy = true;
    } else if (type && strcmp(type, "AWS") == 0 && lambda) {
        nb_buf body = {0};
        if (map_request(r, ig, q, &body)) {
            in = invoke_input(fn, body.len ? jn(body.data, body.len) : json_object_new_string("{}"));
            keep_context(w, ig, q);
        }
        nb_buf_free(&body);
    } else if (type && !strncmp(type, "HTTP", 4) && uri) {
        bool proxy = strcmp(type, "HTTP_PROXY") == 0;
        nb_buf body = {0};
        if (proxy && r->body.len)
            nb_buf_add(&body, r->body.data, r->body.len);
        if (proxy || map_request(r, ig, q, &body)) {
            w->http = http_spec(r, ig, uri, q, proxy, &body);
            w->proxy = proxy;
            if (!proxy)
                keep_context(w, ig, q);
        }
        nb_buf_free(&body);
    } else {
        internal(r, 500); /* AWS integrations with services other than Lambda: not yet */
    }
    nb_buf_free(&ubuf);
    launch(r, w, in);
}

/* ---- Lambda authorizers --------------------------------------------------------------- */

static void unauthorized(nb_req *r)
{
    finish(r, 401, "UnauthorizedException", "{\"message\":\"Unauthorized\"}");
}

/* Whether a policy statement member (string or list) has a value that
 * matches s (wildcards * and ?). */
static bool any_match(json_object *v, const char *s)
{
    if (json_object_is_type(v, json_type_string))
        return fnmatch(json_object_get_string(v), s, 0) == 0;
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    for (size_t i = 0; i < n; i++)
        if (any_match(json_object_array_get_idx(v, i), s))
            return true;
    return false;
}

/* The authorizer's answer: continue with the integration (its principal
 * and context in $context.authorizer), or 401 / 403 / 500. */
static void authorized(nb_req *r, ar_route *rt, nb_call *call, nb_status st)
{
    json_object *pl = st == NB_OK ? nb_get(call->out, "Payload") : NULL;
    json_object *o = pl ? lm_http_parse_json(json_object_get_string(pl),
                                             (size_t)json_object_get_string_len(pl)) : NULL;
    if (pl && nb_get(call->out, "FunctionError")) {
        const char *m = nb_str(o, "errorMessage");
        if (m && strcmp(m, "Unauthorized") == 0)
            unauthorized(r);
        else
            finish(r, 500, "AuthorizerConfigurationException", "{\"message\": null}");
        json_object_put(o);
        return;
    }
    json_object *doc = nb_get(o, "policyDocument"), *stmts = nb_get(doc, "Statement");
    if (!json_object_is_type(o, json_type_object) || !doc || !stmts) {
        finish(r, 500, "AuthorizerConfigurationException", "{\"message\": null}");
        json_object_put(o);
        return;
    }
    bool allow = false, deny = false;
    size_t n = json_object_is_type(stmts, json_type_array) ? json_object_array_length(stmts) : 1;
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_is_type(stmts, json_type_array)
                             ? json_object_array_get_idx(stmts, i) : stmts;
        const char *eff = nb_str(s, "Effect");
        if (!eff || !any_match(nb_get(s, "Resource"), rt->arn) ||
            !(any_match(nb_get(s, "Action"), "execute-api:Invoke")))
            continue;
        allow = allow || strcasecmp(eff, "Allow") == 0;
        deny = deny || strcasecmp(eff, "Deny") == 0;
    }
    if (deny || !allow) {
        finish(r, 403, "AccessDeniedException",
               deny ? "{\"Message\":\"User is not authorized to access this resource with an explicit deny\"}"
                    : "{\"Message\":\"User is not authorized to access this resource\"}");
        json_object_put(o);
        return;
    }
    json_object *az = json_object_new_object();
    json_object *ctx = nb_get(o, "context");
    if (json_object_is_type(ctx, json_type_object)) {
        json_object_object_foreach(ctx, k, v) put(az, k, json_object_get(v));
    }
    put(az, "principalId", json_object_get(nb_get(o, "principalId")));
    put(rt->q.context, "authorizer", az);
    json_object_put(o);
    integrate(r, rt);
}

/* Call the method's Lambda authorizer (TOKEN: the identity source header,
 * 401 when it is missing; REQUEST: the proxy event), taking rt. */
static void authorize(nb_req *r, ar_route *rt)
{
    const char *type = nb_str(rt->authz, "type");
    nb_buf ubuf = {0};
    expand_stage_vars(nb_str(rt->authz, "authorizerUri") ? nb_str(rt->authz, "authorizerUri") : "",
                      rt->q.svars, &ubuf);
    char fn[512];
    if (!type || !strcmp(type, "COGNITO_USER_POOLS") || !ag_lambda_target(ubuf.data, fn, sizeof fn)) {
        nb_buf_free(&ubuf);
        route_free(rt);
        finish(r, 500, "AuthorizerConfigurationException", "{\"message\": null}");
        return;
    }
    nb_buf_free(&ubuf);
    json_object *ev;
    if (strcmp(type, "TOKEN") == 0) {
        json_object *src = json_object_new_object();
        put(src, "request", json_object_get(rt->q.params));
        char buf[4096];
        const char *is = nb_str(rt->authz, "identitySource");
        const char *tok = is ? ar_param_value(is, src, buf, sizeof buf) : NULL;
        json_object_put(src);
        if (!tok || !tok[0]) {
            route_free(rt);
            unauthorized(r);
            return;
        }
        ev = json_object_new_object();
        put(ev, "type", json_object_new_string("TOKEN"));
        put(ev, "authorizationToken", json_object_new_string(tok));
    } else {
        char *s = proxy_event(r, rt->res, rt->rest, rt->rn, &rt->q);
        ev = json_tokener_parse(s);
        free(s);
        put(ev, "type", json_object_new_string("REQUEST"));
    }
    put(ev, "methodArn", json_object_new_string(rt->arn));
    ar_wait *w = nb_calloc(1, sizeof *w);
    w->auth = rt;
    launch(r, w, invoke_input(fn, json_object_new_string(
                                  json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE))));
    json_object_put(ev);
}

/* Matches r to a method of the stage's deployment and checks it: the
 * route (owned) to authorize and integrate, or NULL after answering r or,
 * with *mine false, when id is no REST API (r untouched). */
static ar_route *serve(nb_req *r, const char *id, const char *path, size_t plen, bool *mine)
{
    nb_call *c = &r->call;
    const char *s = plen && path[0] == '/' ? path + 1 : path, *end = path + plen;
    const char *sl = memchr(s, '/', (size_t)(end - s));
    size_t sn = (size_t)((sl ? sl : end) - s);
    char sname[130];
    json_object *stage = NULL;
    ar_route *rt = NULL;
    if (sn > 0 && sn < sizeof sname) {
        nb_copy(sname, sizeof sname, s, sn);
        stage = ag_load(id, AR_KIND_STAGE, sname);
    }
    if (!stage) {
        json_object *api = ag_load(id, AR_KIND_API, id);
        *mine = api != NULL;
        json_object_put(api);
        if (!*mine)
            return NULL;
    }
    *mine = true;
    nb_resp_header(r, "x-amzn-RequestId", c->request_id);
    apigw_id(r);
    lm_http_trace_id(r);
    const char *dep_id = stage ? nb_str(stage, "deploymentId") : NULL;
    ar_deployed *dep = dep_id ? deployment(id, dep_id) : NULL;
    json_object *snap = dep ? dep->snap : NULL, *res, *m;
    const char *slash = dep ? strchr(dep->owner, '/') : NULL;
    if (slash) {
        snprintf(c->account, sizeof c->account, "%.*s", (int)(slash - dep->owner), dep->owner);
        snprintf(c->region, sizeof c->region, "%s", slash + 1);
    }
    const char *rest = sl ? sl : "/";
    size_t rn = sl ? (size_t)(end - sl) : 1;
    json_object *pathp = json_object_new_object();
    if (dep && dep->disabled) {
        finish(r, 403, "ForbiddenException", "{\"message\":\"Forbidden\"}");
    } else if (!snap || !match(snap, r->method, rest, rn, &res, &m, pathp)) {
        missing_token(r);
    } else {
        rt = nb_calloc(1, sizeof *rt);
        rt->res = json_object_get(res);
        rt->m = json_object_get(m);
        rt->svars = json_object_get(nb_get(stage, "variables"));
        rt->rest = rest;
        rt->rn = rn;
        build_request(r, id, sname, res, path, plen, pathp, &rt->q);
        rt->q.svars = rt->svars;
        snprintf(rt->arn, sizeof rt->arn, "arn:aws:execute-api:%s:%s:%s/%s/%s%.*s", c->region,
                 c->account, id, sname, r->method, (int)rn, rest);
        const char *at = nb_str(m, "authorizationType"), *az = nb_str(m, "authorizerId");
        if (at && strcmp(at, "NONE") && strcmp(at, "AWS_IAM") && az)
            rt->authz = json_object_get(nb_get(dep->authorizers, az));
        bool akr = false;
        nb_bool(m, "apiKeyRequired", &akr);
        size_t kn = 0;
        const char *key = akr ? nb_req_header(r, "x-api-key", &kn) : NULL;
        char kbuf[256];
        nb_copy(kbuf, sizeof kbuf, key ? key : "", key ? kn : 0);
        if (akr && !ar_api_key_ok(dep->owner, id, sname, kbuf)) {
            finish(r, 403, "ForbiddenException", "{\"message\":\"Forbidden\"}");
            route_free(rt);
            rt = NULL;
        } else if (!validate_params(r, m, dep->validators, &rt->q)) {
            route_free(rt);
            rt = NULL;
        }
    }
    json_object_put(pathp);
    json_object_put(stage);
    return rt;
}

static bool serve_api(nb_req *r, const char *id, const char *path, size_t plen)
{
    if (strlen(id) >= 64)
        return false;
    bool mine = false;
    nb_store_call_begin();
    ar_route *rt = serve(r, id, path, plen, &mine);
    nb_store_call_end(true);
    if (rt && rt->authz) {
        authorize(r, rt);
    } else if (rt) {
        integrate(r, rt);
        route_free(rt);
    }
    return mine;
}

bool nb_apigw_rest_serve(nb_req *r, const char *id, const char *path, size_t plen)
{
    return serve_api(r, id, path, plen);
}

bool nb_apigw_rest_user_request(nb_req *r)
{
    static const char PREFIX[] = "/restapis/";
    size_t k = sizeof PREFIX - 1;
    if (r->path_len <= k || memcmp(r->path, PREFIX, k) != 0)
        return false;
    const char *end = r->path + r->path_len, *id = r->path + k;
    const char *ur = memmem(id, (size_t)(end - id), USER_REQUEST, sizeof USER_REQUEST - 1);
    const char *after = ur ? ur + sizeof USER_REQUEST - 1 : NULL;
    if (!ur || (after < end && *after != '/'))
        return false;
    const char *slash = memchr(id, '/', (size_t)(end - id));
    if (!slash || slash >= ur)
        return false;
    char api[64];
    size_t idn = (size_t)(slash - id);
    if (idn == 0 || idn >= sizeof api)
        return false;
    nb_copy(api, sizeof api, id, idn);
    if (!nb_services_started() && nb_services_start() != 0) {
        internal(r, 500);
        return true;
    }
    /* "/{stage}" + the path after _user_request_ */
    nb_buf p = {0};
    nb_buf_add(&p, slash, (size_t)(ur - slash));
    if (after < end)
        nb_buf_add(&p, after, (size_t)(end - after));
    else
        nb_buf_addc(&p, '/');
    bool mine = serve_api(r, api, p.data, p.len);
    nb_buf_free(&p);
    return mine; /* no REST API: the REST router answers (404 UnknownOperationException) */
}
