/*
 * apigw_proxy.c — HTTP_PROXY integrations and parameter mapping for HTTP
 * APIs.
 *
 * HTTP_PROXY: the request goes to the integration URI with the
 * integration's method (ANY: the client's), the client's headers (less
 * hop-by-hop ones; Host is the backend's; Forwarded and, when missing,
 * X-Amzn-Trace-Id added), query string
 * and body, through the loop's outbound client (core/http_client.h; never
 * blocking).  ${stageVariables.NAME} in the URI takes the stage's value;
 * path variables "{name}" take the route's path
 * parameters (a greedy one's value keeps its slashes); a $default route
 * whose URI has no variables appends the request path.  The backend's
 * status, headers and body come back as they are; its deadline is the
 * integration's TimeoutInMillis (504 {"message":"Service Unavailable"}),
 * and a backend that cannot be reached, or answers garbage, is 500
 * {"message":"Internal Server Error"}.
 *
 * Parameter mapping, as AWS documents it: RequestParameters keys
 * "append|overwrite|remove:header.NAME", "...:querystring.NAME" and
 * "overwrite:path" (HTTP_PROXY only); ResponseParameters per status code,
 * keys "append|overwrite|remove:header.NAME" and "overwrite:statuscode"
 * (HTTP_PROXY and AWS_PROXY).  Values are static text or $request.header.X,
 * $request.querystring.X, $request.path.X, $request.path, $request.body[.a.b],
 * $context.X, $stageVariables.X, $response.header.X, $response.body[.a.b],
 * alone or as ${...} inside text.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apigw_internal.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/http.h"
#include "core/http_client.h"
#include "services/lambda/lambda_internal.h"

#define AG_MAX_RESPONSE (10u << 20)  /* HTTP API payload limit */

/* ---- header lists ------------------------------------------------------------- */

typedef struct {
    char *name, *value;
} pair;

typedef struct {
    pair *v;
    size_t n, cap;
} pairs;

static void pairs_add(pairs *p, const char *name, size_t nl, const char *value, size_t vl)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = nb_realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n].name = nb_strndup(name, nl);
    p->v[p->n].value = nb_strndup(value, vl);
    p->n++;
}

static void pairs_free(pairs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Remove every entry named name (case-insensitive when icase). */
static void pairs_del(pairs *p, const char *name, bool icase)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (icase ? !strcasecmp(p->v[i].name, name) : !strcmp(p->v[i].name, name)) {
            free(p->v[i].name);
            free(p->v[i].value);
        } else {
            p->v[k++] = p->v[i];
        }
    }
    p->n = k;
}

/* The values named name joined with commas into out; false when none. */
static bool pairs_get(const pairs *p, const char *name, bool icase, nb_buf *out)
{
    bool found = false;
    for (size_t i = 0; i < p->n; i++) {
        if (icase ? strcasecmp(p->v[i].name, name) : strcmp(p->v[i].name, name))
            continue;
        if (found)
            nb_buf_addc(out, ',');
        nb_buf_adds(out, p->v[i].value);
        found = true;
    }
    return found;
}

/* ---- control plane checks ---------------------------------------------------- */

/* Headers a mapping may not touch (AWS's reserved headers). */
static bool reserved_header(const char *h)
{
    static const char *const R[] = {"authorization", "connection", "content-encoding",
                                    "content-length", "content-location", "forwarded",
                                    "keep-alive", "origin", "proxy-authenticate",
                                    "proxy-authorization", "te", "trailers",
                                    "transfer-encoding", "upgrade", "x-forwarded-for",
                                    "x-forwarded-host", "x-forwarded-proto", "via", NULL};
    for (int i = 0; R[i]; i++)
        if (!strcasecmp(h, R[i]))
            return true;
    return !strncasecmp(h, "access-control-", 15) || !strncasecmp(h, "apigw-", 6) ||
           !strncasecmp(h, "x-amz-", 6) || !strncasecmp(h, "x-amzn-", 7);
}

static bool token_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

/* One mapping key: "op:where[.name]".  resp: a response mapping. */
static bool key_ok(const char *k, bool resp)
{
    const char *colon = strchr(k, ':');
    if (!colon)
        return false;
    size_t ol = (size_t)(colon - k);
    bool overwrite = ol == 9 && !memcmp(k, "overwrite", 9);
    if (!overwrite && !(ol == 6 && !memcmp(k, "append", 6)) && !(ol == 6 && !memcmp(k, "remove", 6)))
        return false;
    const char *w = colon + 1;
    if (!strncmp(w, "header.", 7))
        return token_ok(w + 7) && !reserved_header(w + 7);
    if (!resp && !strncmp(w, "querystring.", 12))
        return w[12] != 0;
    if (!resp && !strcmp(w, "path"))
        return overwrite;
    if (resp && !strcmp(w, "statuscode"))
        return overwrite;
    return false;
}

static bool map_ok(nb_call *call, json_object *m, bool resp, const char *what)
{
    if (!m)
        return true;
    json_object_object_foreach(m, k, v) {
        if (!key_ok(k, resp)) {
            ag_bad(call, "Invalid mapping expression specified: %s %s is not a supported key "
                         "(append|overwrite|remove:header.{name}%s)",
                   what, k, resp ? " or overwrite:statuscode" : ", ...:querystring.{name} or "
                                                                "overwrite:path");
            return false;
        }
        const char *s = json_object_get_string(v);
        if (!s || (!*s && strncmp(k, "remove:", 7) != 0)) {
            ag_bad(call, "Invalid mapping expression specified: %s %s needs a value", what, k);
            return false;
        }
    }
    return true;
}

bool ag_integ_check(nb_call *call, const char *type, const char *uri, json_object *doc,
                    json_object *in)
{
    bool http = strcmp(type, "HTTP_PROXY") == 0;
    json_object *req = nb_get(in, "RequestParameters"), *resp = nb_get(in, "ResponseParameters");
    if (http) {
        /* checked with each ${...} (a stage variable) as "1" */
        nb_buf t = {0};
        for (const char *p = uri; *p;) {
            const char *close = p[0] == '$' && p[1] == '{' ? strchr(p, '}') : NULL;
            nb_buf_addc(&t, close ? '1' : *p);
            p = close ? close + 1 : p + 1;
        }
        nb_buf_addc(&t, 0);
        nb_http_url u;
        int bad = nb_http_url_parse(t.data, &u);
        nb_buf_free(&t);
        if (bad != 0) {
            ag_bad(call, "Invalid integration URI specified: %s. An HTTP_PROXY integration needs "
                         "an http or https URL", uri);
            return false;
        }
        const char *m = nb_str(in, "IntegrationMethod");
        if (!m)
            m = nb_str(doc, "IntegrationMethod");
        static const char *const METHODS[] = {"ANY", "GET", "POST", "PUT", "PATCH", "DELETE",
                                              "HEAD", "OPTIONS", NULL};
        bool ok = false;
        for (int i = 0; m && METHODS[i]; i++)
            ok = ok || !strcmp(m, METHODS[i]);
        if (!ok) {
            ag_bad(call, m ? "Invalid IntegrationMethod %s: it must be ANY, GET, POST, PUT, PATCH, "
                             "DELETE, HEAD or OPTIONS"
                           : "IntegrationMethod is required for HTTP_PROXY integrations%s",
                   m ? m : "");
            return false;
        }
        json_object_object_add(doc, "IntegrationMethod", json_object_new_string(m));
    } else if (req && json_object_object_length(req)) {
        ag_bad(call, "RequestParameters are not supported for AWS_PROXY integrations without an "
                     "IntegrationSubtype");
        return false;
    }
    if (!map_ok(call, req, false, "request parameter"))
        return false;
    if (resp) {
        json_object_object_foreach(resp, code, m) {
            char *end = NULL;
            long c = strtol(code, &end, 10);
            if (!*code || *end || c < 200 || c > 599 || !json_object_is_type(m, json_type_object)) {
                ag_bad(call, "Invalid response parameters key %s: it must be a status code from "
                             "200 to 599", code);
                return false;
            }
            if (!map_ok(call, m, true, "response parameter"))
                return false;
        }
    }
    return true;
}

/* ---- mapping values ------------------------------------------------------------ */

typedef struct {
    ag_exchange *x;
    const pairs *resp_headers;  /* response mappings: the integration's answer */
    const char *resp_body;
    size_t resp_blen;
} map_ctx;

/* JSON member path "a.b.c" of the text body; false when absent. */
static bool body_member(const char *body, size_t n, const char *path, nb_buf *out)
{
    if (!*path) {
        nb_buf_add(out, body, n);
        return true;
    }
    json_object *o = json_tokener_parse(body), *cur = o;
    char part[256];
    while (cur && *path) {
        size_t l = strcspn(path, ".");
        nb_copy(part, sizeof part, path, l);
        cur = json_object_is_type(cur, json_type_object) ? nb_get(cur, part) : NULL;
        path += l + (path[l] == '.');
    }
    if (cur)
        nb_buf_adds(out, json_object_is_type(cur, json_type_string)
                             ? json_object_get_string(cur)
                             : json_object_to_json_string_ext(cur, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return cur != NULL;
}

static bool context_var(const map_ctx *m, const char *v, nb_buf *out)
{
    ag_exchange *x = m->x;
    nb_req *r = x->r;
    nb_call *c = &r->call;
    char ip[64];
    if (!strcmp(v, "requestId") || !strcmp(v, "extendedRequestId"))
        nb_buf_adds(out, c->request_id);
    else if (!strcmp(v, "apiId"))
        nb_buf_adds(out, nb_str(x->api, "ApiId"));
    else if (!strcmp(v, "accountId"))
        nb_buf_adds(out, c->account);
    else if (!strcmp(v, "stage"))
        nb_buf_adds(out, x->stage_name);
    else if (!strcmp(v, "routeKey"))
        nb_buf_adds(out, nb_str(x->route, "RouteKey"));
    else if (!strcmp(v, "httpMethod"))
        nb_buf_adds(out, r->method);
    else if (!strcmp(v, "path"))
        nb_buf_add(out, r->path, r->path_len);
    else if (!strcmp(v, "protocol"))
        nb_buf_adds(out, "HTTP/1.1");
    else if (!strcmp(v, "requestTimeEpoch"))
        nb_buf_printf(out, "%lld", (long long)c->now_ms);
    else if (!strcmp(v, "identity.sourceIp")) {
        nb_req_peer(r, ip, sizeof ip);
        nb_buf_adds(out, ip);
    } else if (!strcmp(v, "identity.userAgent") || !strcmp(v, "domainName")) {
        size_t n = 0;
        const char *h = nb_req_header(r, v[0] == 'i' ? "user-agent" : "host", &n);
        if (!h)
            return false;
        const char *colon = v[0] == 'd' ? memchr(h, ':', n) : NULL;
        nb_buf_add(out, h, colon ? (size_t)(colon - h) : n);
    } else
        return false;
    return true;
}

/* One expression (without "$" or "${}"), appended to out. */
static bool expr(const map_ctx *m, const char *e, nb_buf *out)
{
    ag_exchange *x = m->x;
    nb_req *r = x->r;
    if (!strncmp(e, "request.header.", 15)) {
        bool found = false;
        for (int i = 0; i < r->nheaders; i++) {
            if (strcasecmp(r->headers[i].name, e + 15) != 0)
                continue;
            if (found)
                nb_buf_addc(out, ',');
            nb_buf_add(out, r->headers[i].value, r->headers[i].vlen);
            found = true;
        }
        return found;
    }
    if (!strncmp(e, "request.querystring.", 20)) {
        json_object *q = lm_http_query(r->query ? r->query : "", r->query ? r->query_len : 0);
        json_object *v = nb_get(q, e + 20);
        if (v)
            nb_buf_adds(out, json_object_get_string(v));
        json_object_put(q);
        return v != NULL;
    }
    if (!strcmp(e, "request.path")) {
        nb_buf_add(out, x->path, x->plen);
        return true;
    }
    if (!strncmp(e, "request.path.", 13)) {
        const char *v = nb_str(x->params, e + 13);
        if (v)
            nb_buf_adds(out, v);
        return v != NULL;
    }
    if (!strcmp(e, "request.body") || !strncmp(e, "request.body.", 13)) {
        nb_buf_addc(&r->body, 0);
        r->body.len--;
        return body_member(r->body.data ? r->body.data : "", r->body.len, e[12] ? e + 13 : "", out);
    }
    if (!strncmp(e, "context.", 8))
        return context_var(m, e + 8, out);
    if (!strncmp(e, "stageVariables.", 15)) {
        const char *v = nb_str(nb_get(x->stage, "StageVariables"), e + 15);
        if (v)
            nb_buf_adds(out, v);
        return v != NULL;
    }
    if (m->resp_headers && !strncmp(e, "response.header.", 16))
        return pairs_get(m->resp_headers, e + 16, true, out);
    if (m->resp_headers && (!strcmp(e, "response.body") || !strncmp(e, "response.body.", 14)))
        return body_member(m->resp_body, m->resp_blen, e[13] ? e + 14 : "", out);
    return false;
}

/* A mapping value: static text, "$expr", or text with "${expr}" parts.
 * False when a lone expression has no value. */
static bool eval(const map_ctx *m, const char *v, nb_buf *out)
{
    char e[512];
    if (v[0] == '$' && v[1] != '{') {
        nb_copy(e, sizeof e, v + 1, strlen(v + 1));
        return expr(m, e, out);
    }
    for (const char *p = v; *p;) {
        const char *open = strstr(p, "${"), *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            nb_buf_adds(out, p);
            break;
        }
        nb_buf_add(out, p, (size_t)(open - p));
        nb_copy(e, sizeof e, open + 2, (size_t)(close - open - 2));
        expr(m, e, out);
        p = close + 1;
    }
    return true;
}

/* Apply one header (or query) mapping op to list. */
static void apply(pairs *list, const char *op, const char *name, const char *value, bool icase)
{
    if (!strncmp(op, "remove", 6)) {
        pairs_del(list, name, icase);
        return;
    }
    if (!strncmp(op, "overwrite", 9))
        pairs_del(list, name, icase);
    pairs_add(list, name, strlen(name), value, strlen(value));
}

/* Response mappings of the integration for status: headers changed in
 * place, *status maybe overwritten. */
static void map_response(map_ctx *m, int *status, pairs *headers)
{
    char code[8];
    snprintf(code, sizeof code, "%d", *status);
    json_object *maps = nb_get(nb_get(m->x->integ, "ResponseParameters"), code);
    if (!maps)
        return;
    m->resp_headers = headers;
    json_object_object_foreach(maps, k, v) {
        nb_buf val = {0};
        const char *colon = strchr(k, ':');
        bool rm = !strncmp(k, "remove:", 7);
        if (!colon || (!rm && !eval(m, json_object_get_string(v), &val))) {
            nb_buf_free(&val);
            continue;
        }
        nb_buf_addc(&val, 0);
        if (!strcmp(colon + 1, "statuscode")) {
            long s = strtol(val.data, NULL, 10);
            if (s >= 100 && s <= 599)
                *status = (int)s;
        } else if (!strncmp(colon + 1, "header.", 7)) {
            apply(headers, k, colon + 8, val.data, true);
        }
        nb_buf_free(&val);
    }
}

void ag_map_lambda_response(ag_exchange *x, json_object *o)
{
    if (!nb_get(x->integ, "ResponseParameters"))
        return;
    json_object *sc = nb_get(o, "statusCode"), *hs = nb_get(o, "headers");
    int status = json_object_is_type(sc, json_type_string) ? atoi(json_object_get_string(sc))
                                                           : json_object_get_int(sc);
    pairs h = {0};
    if (json_object_is_type(hs, json_type_object)) {
        json_object_object_foreach(hs, k, v) {
            const char *s = json_object_get_string(v);
            pairs_add(&h, k, strlen(k), s ? s : "", s ? strlen(s) : 0);
        }
    }
    json_object *body = nb_get(o, "body");
    const char *b = json_object_is_type(body, json_type_string) ? json_object_get_string(body) : "";
    map_ctx m = {.x = x, .resp_body = b, .resp_blen = strlen(b)};
    map_response(&m, &status, &h);
    json_object *nh = json_object_new_object();
    for (size_t i = 0; i < h.n; i++) {
        nb_buf joined = {0};
        if (nb_get(nh, h.v[i].name))
            continue;
        pairs_get(&h, h.v[i].name, false, &joined);
        nb_buf_addc(&joined, 0);
        json_object_object_add(nh, h.v[i].name, json_object_new_string(joined.data));
        nb_buf_free(&joined);
    }
    json_object_object_add(o, "headers", nh);
    json_object_object_add(o, "statusCode", json_object_new_int(status));
    pairs_free(&h);
}

/* ---- the outbound request ------------------------------------------------------ */

static bool hop_by_hop(const char *h)
{
    static const char *const H[] = {"connection", "keep-alive", "te", "trailer", "trailers",
                                    "transfer-encoding", "upgrade", "host", "content-length",
                                    "expect", "proxy-connection", NULL};
    for (int i = 0; H[i]; i++)
        if (!strcasecmp(h, H[i]))
            return true;
    return false;
}

/* How path_encode treats '/' and '%'. */
enum { ENC_VALUE, ENC_GREEDY, ENC_RAW_PATH };

/* Percent-encode v for a path: a variable's decoded value (ENC_VALUE), a
 * greedy one's (slashes kept), or a path as sent (slashes and escapes
 * kept). */
static void path_encode(nb_buf *out, const char *v, int mode)
{
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (isalnum(*c) || strchr("-._~!$&'()*+,;=:@", *c) || (mode != ENC_VALUE && *c == '/') ||
            (mode == ENC_RAW_PATH && *c == '%'))
            nb_buf_addc(out, (char)*c);
        else
            nb_buf_printf(out, "%%%02X", *c);
    }
}

static void query_encode(nb_buf *out, const char *v)
{
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (isalnum(*c) || strchr("-._~", *c))
            nb_buf_addc(out, (char)*c);
        else
            nb_buf_printf(out, "%%%02X", *c);
    }
}

/* The raw "a=1&b" pairs of a query string of n bytes, added to q. */
static void query_pairs(pairs *q, const char *p, size_t n)
{
    for (const char *end = p + n; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t l = (size_t)((amp ? amp : end) - p);
        const char *eq = memchr(p, '=', l);
        if (l)
            pairs_add(q, p, eq ? (size_t)(eq - p) : l, eq ? eq + 1 : "",
                      eq ? l - (size_t)(eq - p) - 1 : 0);
        p += l + 1;
    }
}

/* uri with each "${stageVariables.NAME}" replaced by the stage's value
 * (as it is: a stage variable may name a host or a path). */
static void stage_vars(ag_exchange *x, const char *uri, nb_buf *out)
{
    static const char SV[] = "${stageVariables.";
    json_object *vars = nb_get(x->stage, "StageVariables");
    for (const char *p = uri;;) {
        const char *open = strstr(p, SV), *close = open ? strchr(open, '}') : NULL;
        if (!close) {
            nb_buf_adds(out, p);
            break;
        }
        nb_buf_add(out, p, (size_t)(open - p));
        char name[130];
        nb_copy(name, sizeof name, open + sizeof SV - 1, (size_t)(close - open) - (sizeof SV - 1));
        const char *v = nb_str(vars, name);
        nb_buf_adds(out, v ? v : "");
        p = close + 1;
    }
    nb_buf_addc(out, 0);
}

/* The integration URI with its path variables substituted, without its
 * query (appended to q as raw pairs). */
static void build_base(ag_exchange *x, const char *uri, nb_buf *out, pairs *q)
{
    const char *qm = strchr(uri, '?');
    size_t ul = qm ? (size_t)(qm - uri) : strlen(uri);
    bool vars = false;
    for (size_t i = 0; i < ul;) {
        const char *close = uri[i] == '{' ? memchr(uri + i, '}', ul - i) : NULL;
        if (!close) {
            nb_buf_addc(out, uri[i++]);
            continue;
        }
        char name[130];
        size_t nl = (size_t)(close - uri - i - 1);
        nb_copy(name, sizeof name, uri + i + 1, nl);
        if (nl && name[nl - 1] == '+')
            name[nl - 1] = 0;
        const char *v = nb_str(x->params, name);
        const char *key = nb_str(x->route, "RouteKey");
        char greedy[140];
        snprintf(greedy, sizeof greedy, "{%s+}", name);
        path_encode(out, v ? v : "", key && strstr(key, greedy) ? ENC_GREEDY : ENC_VALUE);
        vars = true;
        i = (size_t)(close - uri) + 1;
    }
    const char *key = nb_str(x->route, "RouteKey");
    if (!vars && key && !strcmp(key, "$default") && !(x->plen == 1 && x->path[0] == '/')) {
        /* the catch-all route proxies the whole path */
        size_t scheme = out->len > 8 && !memcmp(out->data, "https://", 8) ? 8 : 7;
        const char *slash = out->len > scheme ? memchr(out->data + scheme, '/', out->len - scheme) : NULL;
        if (slash && out->data[out->len - 1] == '/')
            out->len--;
        nb_buf_add(out, x->path, x->plen);
    }
    if (qm)
        query_pairs(q, qm + 1, strlen(qm + 1));
}

/* The integration's RequestParameters applied to path, headers and the
 * (raw, encoded) query pairs. */
static void map_request(ag_exchange *x, nb_buf *url, pairs *h, pairs *q)
{
    json_object *maps = nb_get(x->integ, "RequestParameters");
    if (!maps)
        return;
    map_ctx m = {.x = x};
    json_object_object_foreach(maps, k, v) {
        const char *colon = strchr(k, ':');
        bool rm = !strncmp(k, "remove:", 7);
        nb_buf val = {0};
        if (!colon || (!rm && !eval(&m, json_object_get_string(v), &val))) {
            nb_buf_free(&val);
            continue;
        }
        nb_buf_addc(&val, 0);
        const char *w = colon + 1;
        if (!strncmp(w, "header.", 7)) {
            apply(h, k, w + 7, val.data, true);
        } else if (!strncmp(w, "querystring.", 12)) {
            nb_buf name = {0}, enc = {0};
            query_encode(&name, w + 12);
            query_encode(&enc, val.data);
            nb_buf_addc(&name, 0);
            nb_buf_addc(&enc, 0);
            apply(q, k, name.data, enc.data, false);
            nb_buf_free(&name);
            nb_buf_free(&enc);
        } else if (!strcmp(w, "path")) {
            size_t scheme = url->len > 8 && !memcmp(url->data, "https://", 8) ? 8 : 7;
            const char *slash = url->len > scheme ? memchr(url->data + scheme, '/', url->len - scheme) : NULL;
            if (slash)
                url->len = (size_t)(slash - url->data);
            if (val.data[0] != '/')
                nb_buf_addc(url, '/');
            path_encode(url, val.data, ENC_RAW_PATH);
        }
        nb_buf_free(&val);
    }
}

static void proxied(const nb_http_result *res, void *arg)
{
    ag_exchange *x = arg;
    x->fetch = NULL;
    nb_req *r = x->r;
    if (!r) {
        ag_exchange_free(x);
        return;
    }
    if (res->error == NB_HTTP_E_TIMEOUT) {
        ag_answer(x, 504, "{\"message\":\"Service Unavailable\"}");
        return;
    }
    if (res->error != NB_HTTP_OK) {
        NB_WARN("apigatewayv2: HTTP_PROXY %s: %s", nb_str(x->integ, "IntegrationUri"),
                nb_http_error_name(res->error));
        ag_answer(x, 500, "{\"message\":\"Internal Server Error\"}");
        return;
    }
    pairs h = {0};
    for (size_t i = 0; i < res->n_headers; i++) {
        const char *n = res->headers[i].name;
        if (hop_by_hop(n) || !strcasecmp(n, "date") || !strcasecmp(n, "apigw-requestid") ||
            (x->cors && !strncasecmp(n, "access-control-", 15)))
            continue;
        pairs_add(&h, n, strlen(n), res->headers[i].value, strlen(res->headers[i].value));
    }
    int status = res->status;
    map_ctx m = {.x = x, .resp_body = res->body, .resp_blen = res->body_len};
    map_response(&m, &status, &h);
    r->status = status;
    r->content_type = NULL;
    for (size_t i = 0; i < h.n; i++)
        if (!strpbrk(h.v[i].value, "\r\n"))
            nb_resp_header(r, h.v[i].name, h.v[i].value);
    pairs_free(&h);
    nb_buf_add(&r->rbody, res->body, res->body_len);
    nb_req_finish(r);
    ag_exchange_free(x);
}

void ag_proxy_start(ag_exchange *x)
{
    nb_req *r = x->r;
    nb_buf url = {0};
    pairs q = {0}, h = {0};
    nb_buf uri = {0};
    stage_vars(x, nb_str(x->integ, "IntegrationUri"), &uri);
    build_base(x, uri.data, &url, &q);
    nb_buf_free(&uri);
    if (r->query_len)
        query_pairs(&q, r->query, r->query_len);
    for (int i = 0; i < r->nheaders; i++)
        if (!hop_by_hop(r->headers[i].name) && strcasecmp(r->headers[i].name, "forwarded") != 0)
            pairs_add(&h, r->headers[i].name, strlen(r->headers[i].name), r->headers[i].value,
                      r->headers[i].vlen);
    char ip[64], fwd[400];
    nb_req_peer(r, ip, sizeof ip);
    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    snprintf(fwd, sizeof fwd, "for=%s;host=%.*s;proto=http", ip, host ? (int)hl : 0, host ? host : "");
    pairs_add(&h, "Forwarded", 9, fwd, strlen(fwd));
    if (!nb_req_header(r, "x-amzn-trace-id", NULL) && r->call.trace_id[0])
        pairs_add(&h, "X-Amzn-Trace-Id", 15, r->call.trace_id, strlen(r->call.trace_id));
    map_request(x, &url, &h, &q);
    for (size_t i = 0; i < q.n; i++)
        nb_buf_printf(&url, "%c%s%s%s", i ? '&' : '?', q.v[i].name, q.v[i].value[0] ? "=" : "",
                      q.v[i].value);
    nb_buf_addc(&url, 0);
    nb_http_header *hv = nb_calloc(h.n ? h.n : 1, sizeof *hv);
    for (size_t i = 0; i < h.n; i++)
        hv[i] = (nb_http_header){h.v[i].name, h.v[i].value};
    const char *im = nb_str(x->integ, "IntegrationMethod");
    int64_t timeout = 30000;
    nb_int(x->integ, "TimeoutInMillis", &timeout);
    nb_http_request req = {.method = !im || !strcmp(im, "ANY") ? r->method : im,
                           .url = url.data,
                           .headers = hv,
                           .n_headers = h.n,
                           .body = r->body.data,
                           .body_len = r->body.len,
                           .timeout_ms = (uint64_t)timeout,
                           .max_body = AG_MAX_RESPONSE};
    x->fetch = nb_http_fetch_start(&req, proxied, x);
    free(hv);
    pairs_free(&h);
    pairs_free(&q);
    nb_buf_free(&url);
}
