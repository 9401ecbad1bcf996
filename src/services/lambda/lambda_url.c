/*
 * lambda_url.c — function URLs: plain HTTP requests on nimbus's one port
 * that invoke a function, as https://<url-id>.lambda-url.<region>.on.aws
 * does on AWS.
 *
 * Routing (nb_lambda_url, called once early in nb_dispatch): a request is
 * ours when its Host is "<url-id>.lambda-url.<region>.<domain>[:port]"
 * (any domain: localhost, localhost.localstack.cloud, ...) or its path
 * starts "/_aws/lambda-url/<url-id>" (for clients that cannot set Host;
 * the rest of the path is the function's rawPath).  Everything else goes
 * on to the AWS API routing.
 *
 * One request:
 *   find the URL config (lm_url_find; unknown: 403 {"Message":null})
 *   → CORS preflight answered here when the config has Cors
 *   → AWS_IAM: a SigV4 credential scoped to "lambda" (checked with
 *     --verify-signatures), else 403 {"Message":"Forbidden"}
 *   → the payload format 2.0 event → lm_resolve + lm_run (the request is
 *     parked until the function answers; a hang-up drops the answer)
 *   → the answer mapped to HTTP: a JSON object with statusCode is a
 *     structured response, anything else is the body of a 200
 *     application/json; a function error is 502, a throttle 429.
 *
 * Resource policies (lambda:InvokeFunctionUrl) are not checked.
 * RESPONSE_STREAM URLs answer buffered.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/http.h"
#include "core/sigv4.h"
#include "core/store.h"
#include "lambda_internal.h"

#define URL_MAX_PAYLOAD (6 * 1024 * 1024)
#define URL_PATH_PREFIX "/_aws/lambda-url/"
#define URL_MAX_HEADERS 200     /* http.c accepts no more */

/* What a request names: the url id, the domain the function sees, rawPath. */
typedef struct {
    char id[64];
    char region[32];        /* from the Host form, "" for the path form */
    char domain[320];
    const char *path;
    size_t path_len;
} url_target;

/* ---- routing ------------------------------------------------------------- */

static bool copy_id(char *out, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]))
            return false;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[n] = 0;
    return true;
}

static bool host_target(const nb_req *r, url_target *t)
{
    size_t n = 0;
    const char *host = nb_req_header(r, "host", &n);
    if (!host || n < 14 || n >= sizeof t->domain)
        return false;
    const char *mark = memmem(host, n, ".lambda-url.", 12);
    if (!mark)
        return false;
    const char *end = host + n, *colon = memrchr(host, ':', n);
    if (colon && colon > mark)
        end = colon;
    const char *region = mark + 12;
    const char *dot = memchr(region, '.', (size_t)(end - region));
    if (!dot || dot == region || dot + 1 >= end || (size_t)(dot - region) >= sizeof t->region)
        return false;
    if (!copy_id(t->id, sizeof t->id, host, (size_t)(mark - host)))
        return false;
    snprintf(t->region, sizeof t->region, "%.*s", (int)(dot - region), region);
    snprintf(t->domain, sizeof t->domain, "%.*s", (int)(end - host), host);
    for (char *p = t->domain; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    t->path = r->path;
    t->path_len = r->path_len;
    return true;
}

static bool path_target(const nb_req *r, url_target *t)
{
    size_t k = sizeof URL_PATH_PREFIX - 1;
    if (r->path_len <= k || memcmp(r->path, URL_PATH_PREFIX, k) != 0)
        return false;
    const char *id = r->path + k, *end = r->path + r->path_len;
    const char *slash = memchr(id, '/', (size_t)(end - id));
    if (!copy_id(t->id, sizeof t->id, id, (size_t)((slash ? slash : end) - id)))
        return false;
    t->region[0] = t->domain[0] = 0;
    t->path = slash ? slash : "/";
    t->path_len = slash ? (size_t)(end - slash) : 1;
    return true;
}

/* ---- responses ----------------------------------------------------------- */

/* Whether the first len bytes of the response's header lines have name. */
static bool has_header(const nb_req *r, const char *name, size_t len)
{
    size_t n = strlen(name);
    const char *p = r->rhead.data, *end = p ? p + len : NULL;
    while (p && p < end) {
        if ((size_t)(end - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0)
            return true;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

static void finish(nb_req *r, int status, const char *ctype, const char *body, size_t n)
{
    r->status = status;
    r->content_type = ctype;
    nb_buf_add(&r->rbody, body, n);
    nb_req_finish(r);
}

static void fail(nb_req *r, int status, const char *etype, const char *message)
{
    char body[512];
    if (message)
        snprintf(body, sizeof body, "{\"Message\":\"%s\"}", message);
    else
        snprintf(body, sizeof body, "{\"Message\":null}");
    if (etype)
        nb_resp_header(r, "x-amzn-ErrorType", etype);
    finish(r, status, "application/json", body, strlen(body));
}

void lm_url_bad_gateway(nb_req *r)
{
    static const char BODY[] = "Internal Server Error";
    finish(r, 502, "application/json", BODY, sizeof BODY - 1);
}

/* ---- CORS ---------------------------------------------------------------- */

static bool list_allows(json_object *arr, const char *v)
{
    size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
        if (s && (strcmp(s, "*") == 0 || strcasecmp(s, v) == 0))
            return true;
    }
    return false;
}

static void add_list(nb_req *r, const char *name, json_object *arr)
{
    size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    if (n == 0)
        return;
    nb_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
        if (b.len)
            nb_buf_addc(&b, ',');
        nb_buf_adds(&b, s ? s : "");
    }
    nb_buf_addc(&b, 0);
    nb_resp_header(r, name, b.data);
    nb_buf_free(&b);
}

/* The CORS headers for a request from an allowed Origin.  False when the
 * request has no Origin or it is not allowed: no CORS headers then. */
bool lm_http_cors(nb_req *r, json_object *cors, bool pre)
{
    const char *origin = nb_req_header(r, "origin", NULL);
    json_object *origins = nb_get(cors, "AllowOrigins");
    if (!cors || !origin || !list_allows(origins, origin))
        return false;
    bool any = false;
    for (size_t i = 0; i < json_object_array_length(origins); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(origins, i));
        any = any || (s && !strcmp(s, "*"));
    }
    bool creds = false;
    nb_bool(cors, "AllowCredentials", &creds);
    nb_resp_header(r, "Access-Control-Allow-Origin", any && !creds ? "*" : origin);
    if (!any || creds)
        nb_resp_header(r, "Vary", "Origin");
    if (creds)
        nb_resp_header(r, "Access-Control-Allow-Credentials", "true");
    if (!pre) {
        add_list(r, "Access-Control-Expose-Headers", nb_get(cors, "ExposeHeaders"));
        return true;
    }
    add_list(r, "Access-Control-Allow-Methods", nb_get(cors, "AllowMethods"));
    add_list(r, "Access-Control-Allow-Headers", nb_get(cors, "AllowHeaders"));
    int64_t age;
    if (nb_int(cors, "MaxAge", &age) && age > 0) {
        char s[24];
        snprintf(s, sizeof s, "%lld", (long long)age);
        nb_resp_header(r, "Access-Control-Max-Age", s);
    }
    return true;
}

/* A preflight (OPTIONS with Origin and Access-Control-Request-Method) to
 * a URL with Cors (not {}) is answered without the function: 200, with
 * the CORS headers when the origin and method are allowed. */
static bool preflight(nb_req *r, json_object *cors)
{
    const char *method = nb_req_header(r, "access-control-request-method", NULL);
    if (!json_object_is_type(cors, json_type_object) || !json_object_object_length(cors) ||
        strcmp(r->method, "OPTIONS") != 0 || !method ||
        !nb_req_header(r, "origin", NULL))
        return false;
    if (list_allows(nb_get(cors, "AllowMethods"), method))
        lm_http_cors(r, cors, true);
    finish(r, 200, NULL, "", 0);
    return true;
}

/* ---- AWS_IAM ------------------------------------------------------------- */

typedef struct {
    char access_key[128];
    char account[16];
} url_caller;

/* NULL when the request may go on, else the 403 message ("" for
 * "Forbidden"). */
static const char *check_iam(const nb_req *r, url_caller *who)
{
    nb_sigv4_header hs[URL_MAX_HEADERS];
    int nh = r->nheaders < URL_MAX_HEADERS ? r->nheaders : URL_MAX_HEADERS;
    for (int i = 0; i < nh; i++) {
        const nb_header *h = &r->headers[i];
        hs[i] = (nb_sigv4_header){h->name, h->value, h->vlen};
    }
    nb_sigv4_request sr = {r->method, r->path, r->path_len, r->query, r->query_len, hs, nh,
                           (const unsigned char *)r->body.data, r->body.len};
    nb_sigv4_cred cred;
    const char *why = NULL;
    if (nb_sigv4_parse(&sr, &cred, &why) != 0 || !cred.present ||
        strcmp(cred.service, "lambda") != 0)
        return "Forbidden";
    if (nb_cfg.verify_signatures) {
        if (strcmp(cred.access_key, nb_cfg.access_key) != 0)
            return "The security token included in the request is invalid.";
        nb_sigv4_result v = nb_sigv4_verify(&sr, &cred, nb_cfg.secret_key, nb_now_ms() / 1000);
        if (v == NB_SIGV4_SKEWED)
            return "Signature expired: the request time is more than 15 minutes away from the "
                   "server time.";
        if (v != NB_SIGV4_OK)
            return "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method. Consult "
                   "the service documentation for details.";
    }
    size_t n = strlen(cred.access_key);
    bool digits = n == 12 && strspn(cred.access_key, "0123456789") == 12;
    snprintf(who->access_key, sizeof who->access_key, "%s", cred.access_key);
    nb_copy(who->account, sizeof who->account, digits ? cred.access_key : "000000000000", 12);
    return NULL;
}

/* ---- the event ----------------------------------------------------------- */

static json_object *jstr(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}

static void put(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

/* Append value to o[key], comma-joined with what is there. */
static void join_into(json_object *o, const char *key, const char *v, size_t n)
{
    json_object *old = nb_get(o, key);
    if (!old) {
        put(o, key, jstr(v, n));
        return;
    }
    nb_buf b = {0};
    nb_buf_add(&b, json_object_get_string(old), (size_t)json_object_get_string_len(old));
    nb_buf_addc(&b, ',');
    nb_buf_add(&b, v, n);
    put(o, key, jstr(b.data, b.len));
    nb_buf_free(&b);
}

static void add_cookies(json_object *arr, const char *v, size_t n)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *e = semi ? semi : end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t > p)
            json_object_array_add(arr, jstr(p, (size_t)(t - p)));
        p = e + 1;
    }
}

json_object *lm_http_query(const char *q, size_t n)
{
    json_object *o = json_object_new_object();
    const char *p = q, *end = q + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        if (ke > p) {
            nb_buf k = {0}, v = {0};
            if (nb_url_decode(&k, p, (size_t)(ke - p), 1) != 0) {
                k.len = 0;
                nb_buf_add(&k, p, (size_t)(ke - p));
                nb_buf_addc(&k, 0);
            }
            const char *vs = eq ? eq + 1 : e;
            if (nb_url_decode(&v, vs, (size_t)(e - vs), 1) != 0) {
                v.len = 0;
                nb_buf_add(&v, vs, (size_t)(e - vs));
            }
            join_into(o, k.data, v.data ? v.data : "", v.len);
            nb_buf_free(&k);
            nb_buf_free(&v);
        }
        p = e + 1;
    }
    return o;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                 : (c & 0xF8) == 0xF0 && c < 0xF5 ? 3 : 9;
        if (k == 9 || (k == 1 && c < 0xC2) || (k && i + k >= n))
            return false;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/* Text bodies go as they are, the rest base64-encoded (isBase64Encoded). */
static bool is_text(const nb_req *r)
{
    const char *ct = nb_req_header(r, "content-type", NULL);
    if (!ct)
        return false;
    static const char *const TEXT[] = {"text/", "json", "xml", "javascript", "yaml", NULL};
    for (int i = 0; TEXT[i]; i++)
        if (strcasestr(ct, TEXT[i]))
            return valid_utf8((const unsigned char *)r->body.data, r->body.len);
    return false;
}

void lm_http_body(json_object *ev, const nb_req *r)
{
    bool text = is_text(r);
    if (r->body.len && text) {
        put(ev, "body", jstr(r->body.data, r->body.len));
    } else if (r->body.len) {
        size_t n;
        char *b64 = nb_base64_encode(r->body.data, r->body.len, &n);
        put(ev, "body", jstr(b64, n));
        free(b64);
    }
    put(ev, "isBase64Encoded", json_object_new_boolean(r->body.len && !text));
}

json_object *lm_http_headers(const nb_req *r, json_object *cookies, const char *source_ip)
{
    json_object *h = json_object_new_object();
    for (int i = 0; i < r->nheaders; i++) {
        const nb_header *x = &r->headers[i];
        if (cookies && strcmp(x->name, "cookie") == 0)
            add_cookies(cookies, x->value, x->vlen);
        else if (x->name[0])
            join_into(h, x->name, x->value, x->vlen);
    }
    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    const char *colon = host ? memrchr(host, ':', hl) : NULL;
    char port[16];
    if (colon && !memchr(colon, ']', hl - (size_t)(colon - host)))
        snprintf(port, sizeof port, "%.*s", (int)(hl - (size_t)(colon - host) - 1), colon + 1);
    else
        snprintf(port, sizeof port, "%d", nb_cfg.port);
    if (!nb_get(h, "x-forwarded-for"))
        put(h, "x-forwarded-for", json_object_new_string(source_ip));
    put(h, "x-forwarded-proto", json_object_new_string("http"));
    put(h, "x-forwarded-port", json_object_new_string(port));
    if (!nb_get(h, "x-amzn-trace-id"))
        put(h, "x-amzn-trace-id", json_object_new_string(r->call.trace_id));
    return h;
}

static json_object *request_context(const nb_req *r, const url_target *t,
                                    const url_caller *who, const char *source_ip)
{
    json_object *c = json_object_new_object();
    put(c, "accountId", json_object_new_string(who ? who->account : "anonymous"));
    put(c, "apiId", json_object_new_string(t->id));
    put(c, "authentication", NULL);
    if (who) {
        char arn[64];
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", who->account);
        json_object *iam = json_object_new_object(), *a = json_object_new_object();
        put(iam, "accessKey", json_object_new_string(who->access_key));
        put(iam, "accountId", json_object_new_string(who->account));
        put(iam, "callerId", json_object_new_string(who->account));
        put(iam, "cognitoIdentity", NULL);
        put(iam, "principalOrgId", NULL);
        put(iam, "userArn", json_object_new_string(arn));
        put(iam, "userId", json_object_new_string(who->account));
        put(a, "iam", iam);
        put(c, "authorizer", a);
    }
    put(c, "domainName", json_object_new_string(t->domain));
    put(c, "domainPrefix", json_object_new_string(t->id));
    json_object *http = json_object_new_object();
    const char *ua = nb_req_header(r, "user-agent", NULL);
    put(http, "method", json_object_new_string(r->method));
    put(http, "path", jstr(t->path, t->path_len));
    put(http, "protocol", json_object_new_string("HTTP/1.1"));
    put(http, "sourceIp", json_object_new_string(source_ip));
    put(http, "userAgent", json_object_new_string(ua ? ua : ""));
    put(c, "http", http);
    put(c, "requestId", json_object_new_string(r->call.request_id));
    put(c, "routeKey", json_object_new_string("$default"));
    put(c, "stage", json_object_new_string("$default"));
    char ts[40];
    time_t secs = (time_t)(r->call.now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(ts, sizeof ts, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    put(c, "time", json_object_new_string(ts));
    put(c, "timeEpoch", json_object_new_int64(r->call.now_ms));
    return c;
}

/* The payload format 2.0 event, as JSON text (owned by the caller). */
static char *make_event(const nb_req *r, const url_target *t, const url_caller *who,
                        size_t *len)
{
    char source_ip[64];
    nb_req_peer(r, source_ip, sizeof source_ip);
    json_object *ev = json_object_new_object(), *cookies = json_object_new_array();
    put(ev, "version", json_object_new_string("2.0"));
    put(ev, "routeKey", json_object_new_string("$default"));
    put(ev, "rawPath", jstr(t->path, t->path_len));
    put(ev, "rawQueryString", jstr(r->query, r->query_len));
    json_object *headers = lm_http_headers(r, cookies, source_ip);
    if (json_object_array_length(cookies))
        put(ev, "cookies", cookies);
    else
        json_object_put(cookies);
    put(ev, "headers", headers);
    if (r->query_len)
        put(ev, "queryStringParameters", lm_http_query(r->query, r->query_len));
    put(ev, "requestContext", request_context(r, t, who, source_ip));
    lm_http_body(ev, r);
    size_t n;
    const char *s = json_object_to_json_string_length(
        ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *out = nb_strndup(s, n);
    *len = n;
    json_object_put(ev);
    return out;
}

/* ---- the function's answer ----------------------------------------------- */

static bool header_ok(const char *name, const char *value)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!isgraph((unsigned char)*p) || *p == ':')
            return false;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    /* Framing is nimbus's; the rest of ours win over the function's. */
    static const char *const OURS[] = {"content-length", "transfer-encoding", "connection",
                                       "date", "content-type", NULL};
    for (int i = 0; OURS[i]; i++)
        if (strcasecmp(name, OURS[i]) == 0)
            return false;
    return true;
}

/* A header the function set, unless it is malformed or one of ours (the
 * first ours bytes of the header lines: request and trace ids, CORS). */
void lm_url_fn_header(nb_req *r, const char *name, json_object *v, size_t ours)
{
    if (!v || json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
        return;
    const char *s = json_object_get_string(v);
    if (header_ok(name, s) && !has_header(r, name, ours))
        nb_resp_header(r, name, s);
}

/* A structured response ({"statusCode": ...}); false when it is malformed. */
bool lm_http_structured(nb_req *r, json_object *o)
{
    json_object *sc = nb_get(o, "statusCode");
    int64_t status = 0;
    if (json_object_is_type(sc, json_type_int))
        status = json_object_get_int64(sc);
    else if (json_object_is_type(sc, json_type_string))
        status = strtoll(json_object_get_string(sc), NULL, 10);
    if (status < 100 || status > 599)
        return false;
    json_object *body = nb_get(o, "body");
    bool b64 = false;
    nb_bool(o, "isBase64Encoded", &b64);
    nb_buf out = {0};
    if (body && json_object_is_type(body, json_type_string) && b64) {
        size_t n;
        unsigned char *d = nb_base64_decode(json_object_get_string(body),
                                            (size_t)json_object_get_string_len(body), &n);
        if (!d)
            return false;
        nb_buf_add(&out, d, n);
        free(d);
    } else if (body && json_object_is_type(body, json_type_string)) {
        nb_buf_add(&out, json_object_get_string(body), (size_t)json_object_get_string_len(body));
    } else if (body) {
        nb_buf_adds(&out, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    }
    const char *ctype = "application/json";
    size_t ours = r->rhead.len;
    json_object *hs = nb_get(o, "headers"), *mv = nb_get(o, "multiValueHeaders");
    if (json_object_is_type(hs, json_type_object)) {
        json_object_object_foreach(hs, k, v) {
            if (strcasecmp(k, "content-type") == 0 && json_object_is_type(v, json_type_string) &&
                !strpbrk(json_object_get_string(v), "\r\n"))
                ctype = json_object_get_string(v);
            lm_url_fn_header(r, k, v, ours);
        }
    }
    if (json_object_is_type(mv, json_type_object)) {
        json_object_object_foreach(mv, k, v) {
            size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
            for (size_t i = 0; i < n; i++)
                lm_url_fn_header(r, k, json_object_array_get_idx(v, i), ours);
        }
    }
    json_object *cookies = nb_get(o, "cookies");
    size_t nc = json_object_is_type(cookies, json_type_array) ? json_object_array_length(cookies) : 0;
    for (size_t i = 0; i < nc; i++)
        lm_url_fn_header(r, "Set-Cookie", json_object_array_get_idx(cookies, i), ours);
    /* ctype points into o, which outlives finish (the response is copied). */
    finish(r, (int)status, ctype, out.data ? out.data : "", out.len);
    nb_buf_free(&out);
    return true;
}

/* The function's answer as JSON, or NULL when it is not JSON (or null). */
json_object *lm_http_parse_json(const char *p, size_t n)
{
    if (n == 0 || n > INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, p, (int)n);
    size_t used = tok->char_offset;
    if (!o && json_tokener_get_error(tok) == json_tokener_continue) {
        o = json_tokener_parse_ex(tok, "", 1); /* the end ends a number */
        used = n;
    }
    bool ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    for (size_t i = used; ok && i < n; i++)
        ok = strchr(" \t\r\n", p[i]) != NULL && p[i];
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static void respond(nb_req *r, const lm_result *res)
{
    if (res->kind != LM_OK) {
        lm_url_bad_gateway(r);
        return;
    }
    const char *p = res->payload.data ? res->payload.data : "";
    size_t n = res->payload.len;
    json_object *o = lm_http_parse_json(p, n);
    if (!o && !(n == 4 && memcmp(p, "null", 4) == 0)) {
        lm_url_bad_gateway(r);
        return;
    }
    /* lm_http_structured adds no header before it knows the answer is good */
    if (json_object_is_type(o, json_type_object) && nb_get(o, "statusCode")) {
        if (!lm_http_structured(r, o))
            lm_url_bad_gateway(r);
    } else {
        finish(r, 200, "application/json", p, n);
    }
    json_object_put(o);
}

/* ---- one request --------------------------------------------------------- */

typedef struct {
    nb_req *r;              /* NULL once the client went away */
    json_object *cors;      /* owned */
} url_wait;

static void url_done(const lm_result *res, void *arg)
{
    url_wait *w = arg;
    if (w->r) {
        nb_req *r = w->r;
        r->call.on_cancel = NULL;
        r->call.park = NULL;
        lm_http_cors(r, w->cors, false);
        respond(r, res);
    }
    json_object_put(w->cors);
    free(w);
}

static void url_cancel(nb_call *call)
{
    url_wait *w = call->park;
    w->r = NULL; /* the function runs on; its answer is dropped */
}

void lm_http_trace_id(nb_req *r)
{
    size_t n = 0;
    const char *given = nb_req_header(r, "x-amzn-trace-id", &n);
    nb_call *c = &r->call;
    if (given && n > 0 && n < sizeof c->trace_id) {
        nb_copy(c->trace_id, sizeof c->trace_id, given, n);
        return;
    }
    unsigned char rnd[12];
    char hex[25];
    nb_random(rnd, sizeof rnd);
    nb_hex(rnd, sizeof rnd, hex);
    snprintf(c->trace_id, sizeof c->trace_id, "Root=1-%08llx-%s",
             (unsigned long long)(c->now_ms / 1000), hex);
}

/* Run the function for the request; the request is finished now or when
 * the function answers. */
static void invoke(nb_req *r, const lm_url *u, const char *event, size_t len)
{
    nb_call *c = &r->call;
    lm_version v;
    nb_store_call_begin();
    nb_status st = lm_resolve(c, u->name, u->qualifier[0] ? u->qualifier : NULL, &v);
    nb_store_call_end(true);
    if (st != NB_OK) {
        NB_WARN("lambda url: %s: %s", u->name, c->err.message);
        lm_url_bad_gateway(r);
        return;
    }
    if (strcmp(u->invoke_mode, "RESPONSE_STREAM") == 0) {
        lm_http_cors(r, u->cors, false);
        if (lm_url_stream(r, &v, u->qualifier, event, len) == NB_OK)
            return; /* streamed, or finished, by lambda_stream.c */
        if (strcmp(c->err.code, "TooManyRequestsException") == 0)
            fail(r, 429, "TooManyRequestsException", "Rate Exceeded.");
        else
            lm_url_bad_gateway(r);
        return;
    }
    url_wait *w = nb_calloc(1, sizeof *w);
    w->r = r;
    w->cors = u->cors ? json_object_get(u->cors) : NULL;
    lm_inv *inv = lm_inv_new(c, &v, u->qualifier, event, len, url_done, w);
    lm_inv_set_id(inv, c->request_id); /* requestContext.requestId is aws_request_id */
    c->park = w;
    c->on_cancel = url_cancel;
    if (lm_run(c, inv) == NB_OK)
        return; /* url_done ran or will run; w is its */
    c->on_cancel = NULL;
    c->park = NULL;
    json_object_put(w->cors);
    free(w);
    lm_http_cors(r, u->cors, false);
    if (strcmp(c->err.code, "TooManyRequestsException") == 0)
        fail(r, 429, "TooManyRequestsException", "Rate Exceeded.");
    else
        lm_url_bad_gateway(r);
}

/* Past CORS preflight: the auth type's check, the event, the function. */
static void authorized(nb_req *r, const url_target *t, const lm_url *u)
{
    url_caller who;
    bool iam = strcmp(u->auth_type, "AWS_IAM") == 0;
    const char *denied = iam ? check_iam(r, &who) : NULL;
    if (denied) {
        fail(r, 403, "AccessDeniedException", denied);
        return;
    }
    size_t len;
    char *event = make_event(r, t, iam ? &who : NULL, &len);
    if (len > URL_MAX_PAYLOAD) {
        lm_http_cors(r, u->cors, false);
        fail(r, 413, "RequestEntityTooLargeException",
             "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
    } else {
        invoke(r, u, event, len);
    }
    free(event);
}

static void serve(nb_req *r, url_target *t)
{
    lm_url u;
    nb_call *c = &r->call;
    lm_http_trace_id(r);
    nb_resp_header(r, "x-amzn-RequestId", c->request_id);
    nb_resp_header(r, "x-amzn-Trace-Id", c->trace_id);
    nb_store_call_begin();
    bool found = lm_url_find(t->id, &u);
    nb_store_call_end(true);
    if (!found || (t->region[0] && strcmp(t->region, u.region) != 0)) {
        if (found)
            json_object_put(u.cors);
        fail(r, 403, "AccessDeniedException", NULL);
        return;
    }
    snprintf(c->account, sizeof c->account, "%s", u.account);
    snprintf(c->region, sizeof c->region, "%s", u.region);
    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    nb_copy(c->host, sizeof c->host, host ? host : "", host ? hl : 0);
    if (!t->domain[0])
        snprintf(t->domain, sizeof t->domain, "%s.lambda-url.%s.localhost", t->id, u.region);
    if (!preflight(r, u.cors))
        authorized(r, t, &u);
    json_object_put(u.cors);
}

bool nb_lambda_url(nb_req *r)
{
    url_target t;
    if (!host_target(r, &t) && !path_target(r, &t))
        return false;
    serve(r, &t);
    return true;
}
