/*
 * dispatch.c — the front door's routing and the call lifecycle.
 *
 *   request → admin endpoint? → route (X-Amz-Target | rest-json method and
 *   path | query Action, with the SigV4 credential scope naming the
 *   service) → identity (account from the
 *   access key, region from the scope) → [verify signature] → decode →
 *   validate → handler inside a store savepoint → encode → response.
 *
 * Cross-service calls (nb_invoke) run the same validate → handler path with
 * a value tree and no HTTP at all.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "http.h"
#include "init.h"
#include "nimbus.h"
#include "sigv4.h"
#include "store.h"

#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

/* Model validation, in the service's own wording. */
static int validate(const nb_service *svc, int shape, json_object *in, nb_error *err)
{
    int rc = nb_validate(svc->model, shape, in, err);
    if (rc != 0 && svc->validation_code && strcmp(err->code, "ValidationException") == 0)
        snprintf(err->code, sizeof err->code, "%s", svc->validation_code);
    return rc;
}

/* ---- errors ------------------------------------------------------------- */

static nb_status vfail(nb_call *call, int status, bool sender, const char *code, const char *fmt,
                       va_list ap)
{
    snprintf(call->err.code, sizeof call->err.code, "%s", code);
    vsnprintf(call->err.message, sizeof call->err.message, fmt, ap);
    call->err.status = status;
    call->err.sender = sender;
    return NB_ERROR;
}

nb_status nb_fail(nb_call *call, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = 400;
    /* A modelled exception carries its own HTTP status. */
    if (call->svc) {
        int si = nb_model_shape(call->svc->model, code);
        if (si >= 0 && call->svc->model->shapes[si].http_status)
            status = call->svc->model->shapes[si].http_status;
    }
    nb_status st = vfail(call, status, status < 500, code, fmt, ap);
    va_end(ap);
    return st;
}

nb_status nb_fail_status(nb_call *call, int status, bool sender, const char *code, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    nb_status st = vfail(call, status, sender, code, fmt, ap);
    va_end(ap);
    return st;
}

void nb_fail_detail(nb_call *call, json_object *detail)
{
    if (call->err.detail)
        json_object_put(call->err.detail);
    call->err.detail = detail;
}

void nb_call_done(nb_call *call, nb_status st)
{
    call->on_cancel = NULL;
    if (call->on_done)
        call->on_done(call, st);
}

/* ---- value-tree helpers ---------------------------------------------------- */

json_object *nb_get(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (obj && json_object_object_get_ex(obj, key, &v))
        return v;
    return NULL;
}

const char *nb_str(json_object *obj, const char *key)
{
    json_object *v = nb_get(obj, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool nb_int(json_object *obj, const char *key, int64_t *out)
{
    json_object *v = nb_get(obj, key);
    if (!v || !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

bool nb_bool(json_object *obj, const char *key, bool *out)
{
    json_object *v = nb_get(obj, key);
    if (!v || !json_object_is_type(v, json_type_boolean))
        return false;
    *out = json_object_get_boolean(v);
    return true;
}

/* ---- identity ------------------------------------------------------------ */

static void set_account(nb_call *call, const char *access_key)
{
    size_t n = strlen(access_key);
    bool digits = n == 12;
    for (size_t i = 0; digits && i < n; i++)
        digits = isdigit((unsigned char)access_key[i]);
    memcpy(call->account, digits ? access_key : "000000000000", 12);
    call->account[12] = 0;
    nb_copy(call->access_key, sizeof call->access_key, access_key, n);
}

static void make_trace_id(nb_call *call, const char *given, size_t n)
{
    if (given && n > 0 && n < sizeof call->trace_id) {
        memcpy(call->trace_id, given, n);
        call->trace_id[n] = 0;
        return;
    }
    /* "Root=1-<8 hex digits of epoch seconds>-<24 random hex digits>",
     * formatted by hand: snprintf was a tenth of a SendMessage's dispatch. */
    uint64_t r1 = nb_rand64(), r2 = nb_rand64();
    unsigned char rnd[12];
    memcpy(rnd, &r1, 8);
    memcpy(rnd + 8, &r2, 4);
    static const char hexd[] = "0123456789abcdef";
    char *t = call->trace_id;
    uint64_t secs = (uint64_t)(call->now_ms / 1000);
    int digits = 8;
    while (digits < 16 && (secs >> (4 * digits)))
        digits++; /* %08llx: at least eight digits */
    memcpy(t, "Root=1-", 7);
    t += 7;
    for (int i = digits - 1; i >= 0; i--)
        *t++ = hexd[(secs >> (4 * i)) & 15];
    *t++ = '-';
    nb_hex(rnd, sizeof rnd, t);
    t[24] = 0;
}

/* ---- admin endpoints ------------------------------------------------------- */

static void reply_json(nb_req *r, int status, json_object *o)
{
    r->status = status;
    r->content_type = "application/json";
    nb_buf_adds(&r->rbody, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    nb_req_finish(r);
}

static bool path_is(const nb_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}

/* Lambda's code downloads (GetFunction's Code.Location), in lambda.c. */
bool nb_lambda_code(const char *path, size_t len, nb_buf *body);
/* Lambda function URLs (lambda_url.c): true when it took the request. */
bool nb_lambda_url(nb_req *r);
bool nb_apigw_serve(nb_req *r); /* API Gateway v2 data plane (execute-api) */
bool nb_apigw_rest_user_request(nb_req *r); /* API Gateway v1: /restapis/ID/STAGE/_user_request_/ */
/* SNS's own endpoints under /_aws/sns/ (sns_misc.c). */
bool nb_sns_http(nb_req *r);

static bool admin(nb_req *r)
{
    if (r->path_len > 21 && memcmp(r->path, "/_nimbus/lambda/code/", 21) == 0 &&
        strcmp(r->method, "GET") == 0) {
        if (nb_lambda_code(r->path, r->path_len, &r->rbody)) {
            r->status = 200;
            r->content_type = "application/zip";
            nb_req_finish(r);
        } else {
            reply_json(r, 404, json_object_new_object());
        }
        return true;
    }
    if (path_is(r, "/_nimbus/health") || path_is(r, "/_localstack/health")) {
        json_object *o = json_object_new_object(), *svcs = json_object_new_object();
        for (int i = 0; nb_services[i]; i++)
            json_object_object_add(svcs, nb_services[i]->name, json_object_new_string("running"));
        json_object_object_add(o, "services", svcs);
        json_object_object_add(o, "edition", json_object_new_string("community"));
        json_object_object_add(o, "version", json_object_new_string(NIMBUS_VERSION));
        json_object_object_add(o, "durable", json_object_new_boolean(nb_store_durable()));
        reply_json(r, 200, o);
        return true;
    }
    if (path_is(r, "/_nimbus/init") || path_is(r, "/_localstack/init") ||
        (r->path_len > 17 && memcmp(r->path, "/_localstack/init/", 18) == 0)) {
        char stage[16] = "";
        if (r->path_len > 18 && memcmp(r->path, "/_localstack/init/", 18) == 0)
            nb_copy(stage, sizeof stage, r->path + 18, r->path_len - 18);
        json_object *o = nb_init_status(stage[0] ? stage : NULL);
        if (!o) {
            o = json_object_new_object();
            json_object_object_add(o, "error", json_object_new_string("no such stage"));
            reply_json(r, 404, o);
        } else {
            reply_json(r, 200, o);
        }
        return true;
    }
    if (path_is(r, "/_nimbus/reset") || path_is(r, "/_localstack/state/reset")) {
        if (strcmp(r->method, "POST") != 0) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "error", json_object_new_string("use POST"));
            reply_json(r, 405, o);
            return true;
        }
        /* Services not started yet hold nothing to reset. */
        int rc = nb_services_started() ? nb_store_reset() : 0;
        for (int i = 0; nb_services_started() && nb_services[i]; i++)
            if (nb_services[i]->reset)
                nb_services[i]->reset();
        json_object *o = json_object_new_object();
        json_object_object_add(o, "reset", json_object_new_boolean(rc == 0));
        reply_json(r, rc == 0 ? 200 : 500, o);
        return true;
    }
    return false;
}

/* ---- routing --------------------------------------------------------------- */

static bool is_form(const nb_req *r)
{
    const char *ct = nb_req_header(r, "content-type", NULL);
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* The Action parameter of a query request, percent-decoded, into out. */
static bool find_action_in(const char *s, size_t len, char *out, size_t n)
{
    for (size_t i = 0; i + 7 <= len; i++) {
        if ((i == 0 || s[i - 1] == '&') && memcmp(s + i, "Action=", 7) == 0) {
            size_t j = i + 7, k = 0;
            while (j < len && s[j] != '&' && k + 1 < n) {
                char c = s[j++];
                if (!isalnum((unsigned char)c))
                    return false;
                out[k++] = c;
            }
            out[k] = 0;
            return k > 0;
        }
    }
    return false;
}

static bool find_action(const nb_req *r, char *out, size_t n)
{
    return find_action_in(r->query, r->query_len, out, n) ||
           (r->body.len && find_action_in(r->body.data, r->body.len, out, n));
}

typedef struct {
    const nb_service *svc;
    const nb_operation *op;
    const nb_codec *codec;
    const char *err_code;
    int err_status; /* 0: 400 */
    char err_msg[256];
} route;

static void route_target(const nb_req *r, const char *target, size_t tlen, route *rt)
{
    const char *opname = NULL;
    rt->codec = &nb_codec_json;
    rt->svc = nb_service_by_target(target, tlen, &opname);
    if (!rt->svc) {
        rt->err_code = "UnknownOperationException";
        snprintf(rt->err_msg, sizeof rt->err_msg, "Unknown target: %.*s", (int)tlen, target);
        return;
    }
    rt->op = nb_model_op(rt->svc->model, opname, tlen - (size_t)(opname - target));
    if (!rt->op || !nb_service_handler(rt->svc, rt->op->name)) {
        rt->op = NULL;
        rt->err_code = "UnknownOperationException";
        snprintf(rt->err_msg, sizeof rt->err_msg, "Unknown operation %.*s", (int)tlen, target);
    }
    (void)r;
}

static void route_query(const nb_req *r, const nb_sigv4_cred *cred, route *rt)
{
    char action[128];
    rt->codec = &nb_codec_query;
    if (!find_action(r, action, sizeof action)) {
        rt->err_code = "MissingAction";
        snprintf(rt->err_msg, sizeof rt->err_msg, "Missing Action");
        return;
    }
    const nb_service *by_scope =
        cred->present ? nb_service_by_signing_name(cred->service, strlen(cred->service)) : NULL;
    for (int i = -1; i < 0 || nb_services[i]; i++) {
        const nb_service *s = i < 0 ? by_scope : nb_services[i];
        if (!s || !(s->model->protocols & NB_P_QUERY))
            continue;
        const nb_operation *op = nb_model_op(s->model, action, strlen(action));
        if (op && nb_service_handler(s, op->name)) {
            rt->svc = s;
            rt->op = op;
            return;
        }
        if (s == by_scope)
            break; /* the scope names the service: don't guess another */
    }
    rt->svc = by_scope;
    rt->err_code = "InvalidAction";
    snprintf(rt->err_msg, sizeof rt->err_msg,
             "The action %s is not valid for this web service.", action);
}

/* The rest-json service of a request: the one its credential scope names
 * when that service speaks rest-json (and not query, whose Action routing
 * comes first); for an unsigned request, the first rest-json service with
 * an operation for the path.  NULL: not a REST request. */
static const nb_service *rest_service(const nb_req *r, const nb_sigv4_cred *cred)
{
    if (cred->present) {
        const nb_service *s = nb_service_by_signing_name(cred->service, strlen(cred->service));
        uint32_t p = s ? s->model->protocols : 0;
        if (!(p & NB_P_REST_JSON) || (p & NB_P_QUERY))
            return NULL;
        /* Services sharing a signing name (API Gateway v1 and v2 both sign
         * as "apigateway") are told apart by path: the first with an
         * operation for it, else the first. */
        if (nb_rest_route(s->model, r->method, r->path, r->path_len, r->query, r->query_len))
            return s;
        const char *sn = s->model->signing_name ? s->model->signing_name : s->model->endpoint_prefix;
        for (int i = 0; nb_services[i]; i++) {
            const nb_model *m = nb_services[i]->model;
            const char *n = m->signing_name ? m->signing_name : m->endpoint_prefix;
            if (nb_services[i] != s && strcmp(n, sn) == 0 && (m->protocols & NB_P_REST_JSON) &&
                nb_rest_route(m, r->method, r->path, r->path_len, r->query, r->query_len))
                return nb_services[i];
        }
        return s;
    }
    for (int i = 0; nb_services[i]; i++) {
        const nb_model *m = nb_services[i]->model;
        if ((m->protocols & NB_P_REST_JSON) && !(m->protocols & NB_P_QUERY) &&
            nb_rest_route(m, r->method, r->path, r->path_len, r->query, r->query_len))
            return nb_services[i];
    }
    return NULL;
}

static void route_rest(const nb_req *r, const nb_service *svc, route *rt)
{
    rt->codec = &nb_codec_restjson;
    rt->svc = svc;
    const nb_operation *op =
        nb_rest_route(svc->model, r->method, r->path, r->path_len, r->query, r->query_len);
    if (op && nb_service_handler(svc, op->name)) {
        rt->op = op;
        return;
    }
    /* What AWS's REST front ends answer for a path no operation has. */
    rt->err_code = "UnknownOperationException";
    rt->err_status = 404;
    if (op)
        snprintf(rt->err_msg, sizeof rt->err_msg, "Unknown operation %s", op->name);
    else
        snprintf(rt->err_msg, sizeof rt->err_msg, "The requested resource does not exist: %s %.*s",
                 r->method, (int)(r->path_len < 200 ? r->path_len : 200), r->path);
}

static void do_route(nb_req *r, const nb_sigv4_cred *cred, route *rt)
{
    size_t tlen = 0;
    const char *target = nb_req_header(r, "x-amz-target", &tlen);
    const nb_service *rest = NULL;
    if (target)
        route_target(r, target, tlen, rt);
    else if ((rest = rest_service(r, cred)))
        route_rest(r, rest, rt);
    else if (is_form(r) || r->query_len)
        route_query(r, cred, rt);
    else {
        rt->err_code = "UnknownOperationException";
        snprintf(rt->err_msg, sizeof rt->err_msg, "No service or operation matches %s %.*s",
                 r->method, (int)r->path_len, r->path);
    }
}

/* ---- rendering ------------------------------------------------------------ */

static void log_request(nb_req *r, const char *what)
{
    if (nb_cfg.log_level < NB_LOG_INFO)
        return;
    uint64_t us = uv_hrtime() / 1000 - (uint64_t)r->start_us;
    NB_INFO("%s %s %d %.2fms", r->call.svc ? r->call.svc->name : "-", what, r->status,
            (double)us / 1000.0);
}

static void render_error(nb_req *r, const nb_model *m, const nb_codec *codec, const nb_error *err)
{
    nb_buf_free(&r->rbody);
    if (!codec) {
        const char *ct = nb_req_header(r, "content-type", NULL);
        codec = (ct && strstr(ct, "json")) ? &nb_codec_json : &nb_codec_query;
    }
    if (codec == &nb_codec_json && !m)
        m = nb_services[0]->model;
    codec->error(m, r, err);
    r->status = err->status;
}

static void finish_call(nb_req *r, nb_status st)
{
    const nb_model *m = r->call.svc->model;
    nb_resp_header(r, "x-amzn-RequestId", r->call.request_id);
    if (st == NB_OK)
        r->codec->encode(m, r->call.op, r, r->call.out);
    else
        render_error(r, m, r->codec, &r->call.err);
    log_request(r, r->call.op->name);
    nb_req_finish(r);
}

static void http_call_done(nb_call *call, nb_status st)
{
    nb_req *r = container_of(call, nb_req, call);
    finish_call(r, st);
}

nb_req *nb_call_req(nb_call *call)
{
    return call->on_done == http_call_done ? container_of(call, nb_req, call) : NULL;
}

static void fail_early(nb_req *r, const nb_model *m, const nb_codec *codec, int status,
                       const char *code, const char *msg)
{
    nb_error e = {0};
    nb_err_set(&e, status, code, "%s", msg);
    nb_resp_header(r, "x-amzn-RequestId", r->call.request_id);
    render_error(r, m, codec, &e);
    log_request(r, code);
    nb_req_finish(r);
}

static const char *early_message(const char *code)
{
    if (strcmp(code, "RequestEntityTooLarge") == 0)
        return "Request size exceeds the maximum allowed size.";
    if (strcmp(code, "RequestHeaderSectionTooLarge") == 0)
        return "Your request header section exceeds the maximum allowed size.";
    if (strcmp(code, "RequestTimeout") == 0)
        return "Your socket connection to the server was not read from or written to within the timeout period.";
    return "The request could not be parsed as HTTP/1.1.";
}

/* ---- signature check -------------------------------------------------------- */

/* The request as the SigV4 code sees it: built once per request, used by
 * both the credential parse and (with --verify-signatures) the check. */
#define SIGV4_MAX_HEADERS 200 /* http.c accepts no more */

static void sigv4_view(const nb_req *r, nb_sigv4_header *hs, nb_sigv4_request *sr)
{
    int nh = r->nheaders < SIGV4_MAX_HEADERS ? r->nheaders : SIGV4_MAX_HEADERS;
    for (int i = 0; i < nh; i++)
        hs[i] = (nb_sigv4_header){r->headers[i].name, r->headers[i].value, r->headers[i].vlen};
    *sr = (nb_sigv4_request){r->method, r->path, r->path_len, r->query, r->query_len, hs, nh,
                             (const unsigned char *)r->body.data, r->body.len};
}

static int check_signature(const nb_sigv4_request *sr, const nb_sigv4_cred *cred,
                           const char **code, const char **msg)
{
    if (!cred->present) {
        *code = "MissingAuthenticationToken";
        *msg = "Request is missing Authentication Token";
        return -1;
    }
    if (strcmp(cred->access_key, nb_cfg.access_key) != 0) {
        *code = "InvalidClientTokenId";
        *msg = "The security token included in the request is invalid.";
        return -1;
    }
    switch (nb_sigv4_verify(sr, cred, nb_cfg.secret_key, nb_now_ms() / 1000)) {
    case NB_SIGV4_OK:
        return 0;
    case NB_SIGV4_SKEWED:
        *code = "RequestTimeTooSkewed";
        *msg = "Signature expired: the request time is more than 15 minutes away from the server time.";
        return -1;
    case NB_SIGV4_EXPIRED:
        *code = "AccessDenied";
        *msg = "Request has expired";
        return -1;
    case NB_SIGV4_MALFORMED:
        *code = "IncompleteSignature";
        *msg = "The request signature does not conform to AWS standards.";
        return -1;
    default:
        *code = "SignatureDoesNotMatch";
        *msg = "The request signature we calculated does not match the signature you provided. "
               "Check your AWS Secret Access Key and signing method. Consult the service "
               "documentation for details.";
        return -1;
    }
}

/* ---- the dispatcher ------------------------------------------------------------ */

static void parse_identity(nb_req *r, const nb_sigv4_request *sr, nb_sigv4_cred *cred, bool *bad,
                           const char **why)
{
    *bad = nb_sigv4_parse(sr, cred, why) != 0;
    nb_call *c = &r->call;
    set_account(c, cred->present && cred->access_key[0] ? cred->access_key : nb_cfg.access_key);
    const char *region = cred->present && cred->region[0] ? cred->region : nb_cfg.region;
    nb_copy(c->region, sizeof c->region, region, strlen(region));
    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    if (host)
        nb_copy(c->host, sizeof c->host, host, hl);
    else
        snprintf(c->host, sizeof c->host, "%s:%d", nb_cfg.host, nb_cfg.port);
    size_t tl = 0;
    const char *trace = nb_req_header(r, "x-amzn-trace-id", &tl);
    make_trace_id(c, trace, tl);
}

/* ---- service start-up ----------------------------------------------------- */

/* EXTERNAL: whoever set up the process ran the init hooks (the default).
 * FAILED: a deferred start failed; it is not retried (some hooks may have
 * run) and calls answer 500. */
static enum { START_EXTERNAL, START_PENDING, START_DONE, START_FAILED } g_start;

bool nb_services_started(void) { return g_start == START_EXTERNAL || g_start == START_DONE; }

void nb_services_defer(void)
{
    if (g_start == START_EXTERNAL)
        g_start = START_PENDING;
}

int nb_services_start(void)
{
    if (g_start == START_DONE || g_start == START_FAILED)
        return g_start == START_DONE ? 0 : -1;
    g_start = START_FAILED;
    if (!nb_db() && nb_store_open(nb_cfg.data_dir) != 0)
        return -1;
    for (int i = 0; nb_services[i]; i++) {
        if (nb_services[i]->init && nb_services[i]->init(NULL) != 0) {
            NB_ERR("service %s failed to start", nb_services[i]->name);
            return -1;
        }
    }
    g_start = START_DONE;
    return nb_store_commit();
}

static nb_status run_handler(nb_call *call, nb_handler fn, json_object *in)
{
    if ((g_start == START_PENDING || g_start == START_FAILED) && nb_services_start() != 0)
        return nb_fail_status(call, 500, false, "ServiceUnavailable",
                              "The services could not be started.");
    if (call->svc && call->svc->before_call)
        call->svc->before_call();
    nb_store_call_begin();
    nb_status st = fn(call, in);
    nb_store_call_end(st != NB_ERROR);
    return st;
}

void nb_dispatch(nb_req *r)
{
    r->start_us = (int64_t)(uv_hrtime() / 1000);
    nb_call *c = &r->call;
    nb_uuid(c->request_id);
    c->now_ms = nb_now_ms();
    if (r->early_status) {
        fail_early(r, NULL, NULL, r->early_status, r->early_code, early_message(r->early_code));
        return;
    }
    if (admin(r) || nb_lambda_url(r) || nb_apigw_serve(r) || nb_apigw_rest_user_request(r) ||
        nb_sns_http(r))
        return;
    nb_sigv4_header hs[SIGV4_MAX_HEADERS];
    nb_sigv4_request sr;
    sigv4_view(r, hs, &sr);
    nb_sigv4_cred cred;
    bool bad_cred = false;
    const char *why = NULL;
    parse_identity(r, &sr, &cred, &bad_cred, &why);
    route rt = {0};
    do_route(r, &cred, &rt);
    const nb_model *m = rt.svc ? rt.svc->model : NULL;
    c->svc = rt.svc;
    if (!rt.op) {
        fail_early(r, m, rt.codec, rt.err_status ? rt.err_status : 400, rt.err_code, rt.err_msg);
        return;
    }
    c->op = rt.op;
    r->codec = rt.codec;
    if (bad_cred) {
        fail_early(r, m, rt.codec, 400, "IncompleteSignature", why ? why : "Malformed credential");
        return;
    }
    const char *code, *msg;
    if (nb_cfg.verify_signatures && check_signature(&sr, &cred, &code, &msg) != 0) {
        fail_early(r, m, rt.codec, 403, code, msg);
        return;
    }
    json_object *in = NULL;
    if (rt.codec->decode(m, rt.op, r, &in, &c->err) != 0 ||
        validate(rt.svc, rt.op->input, in, &c->err) != 0) {
        json_object_put(in);
        finish_call(r, NB_ERROR);
        return;
    }
    c->on_done = http_call_done;
    c->owner = r;
    c->json_out = rt.codec == &nb_codec_json;
    nb_status st = run_handler(c, nb_service_handler(rt.svc, rt.op->name), in);
    json_object_put(in);
    if (st != NB_PENDING)
        finish_call(r, st);
}

/* ---- cross-service calls --------------------------------------------------------- */

typedef struct {
    nb_call call;
    nb_invoke_cb cb;
    void *arg;
} invoke_call;

static void invoke_done(nb_call *call, nb_status st)
{
    invoke_call *ic = (invoke_call *)call;
    ic->cb(call, st, ic->arg);
    if (call->out)
        json_object_put(call->out);
    if (call->err.detail)
        json_object_put(call->err.detail);
    free(ic);
}

void nb_invoke(const nb_call *parent, const char *service, const char *op, json_object *in,
               nb_invoke_cb cb, void *arg)
{
    invoke_call *ic = nb_calloc(1, sizeof *ic);
    nb_call *c = &ic->call;
    ic->cb = cb;
    ic->arg = arg;
    snprintf(c->account, sizeof c->account, "%s", parent->account);
    snprintf(c->region, sizeof c->region, "%s", parent->region);
    snprintf(c->access_key, sizeof c->access_key, "%s", parent->access_key);
    snprintf(c->host, sizeof c->host, "%s", parent->host);
    snprintf(c->trace_id, sizeof c->trace_id, "%s", parent->trace_id);
    nb_uuid(c->request_id);
    c->now_ms = nb_now_ms();
    c->on_done = invoke_done;
    c->svc = nb_service_by_name(service, strlen(service));
    c->op = c->svc ? nb_model_op(c->svc->model, op, strlen(op)) : NULL;
    nb_handler fn = c->op ? nb_service_handler(c->svc, c->op->name) : NULL;
    if (!fn) {
        nb_fail(c, "UnknownOperationException", "Unknown operation %s.%s", service, op);
        invoke_done(c, NB_ERROR);
        return;
    }
    if (validate(c->svc, c->op->input, in, &c->err) != 0) {
        invoke_done(c, NB_ERROR);
        return;
    }
    nb_status st = run_handler(c, fn, in);
    if (st != NB_PENDING)
        invoke_done(c, st);
}
