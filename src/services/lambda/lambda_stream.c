/*
 * lambda_stream.c — Lambda response streaming: the InvokeWithResponseStream
 * operation and function URLs in RESPONSE_STREAM mode.
 *
 * Both run an ordinary invocation (lm_inv_new + lm_run) with a chunk
 * callback (lm_inv_stream): when the runtime streams its response
 * (Lambda-Runtime-Function-Response-Mode: streaming, a chunked body, errors
 * in trailers; see rapi_body in lambda_exec.c) each piece reaches the
 * client as it arrives, through http.c's chunked responses
 * (nb_resp_begin / nb_resp_write / nb_resp_end).  A function that does not
 * stream answers in one piece, which is sent the same way.
 *
 * InvokeWithResponseStream: errors before the invocation starts (unknown
 * function, bad payload, throttling) are ordinary API errors.  After that
 * the answer is HTTP 200, Content-Type application/vnd.amazon.eventstream,
 * X-Amz-Executed-Version, and an event stream (core/eventstream.c):
 * PayloadChunk events carrying the bytes, then one InvokeComplete with
 * ErrorCode/ErrorDetails when the function failed and LogResult with
 * LogType=Tail.  The head is sent with the first event.
 *
 * Function URLs: a response whose Content-Type is
 * application/vnd.awslambda.http-integration-response starts with the
 * prelude awslambda.HttpResponseStream.from writes (JSON with statusCode,
 * headers, cookies; then 8 NUL bytes), which becomes the HTTP status and
 * headers; the rest is the body.  Without one the status is 200 and the
 * Content-Type the runtime's (application/octet-stream when it gave none).
 * A function error before anything was sent is a 502, as for BUFFERED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/eventstream.h"
#include "core/http.h"
#include "lambda_internal.h"

#define PIECE (1024 * 1024) /* a buffered answer is sent in PayloadChunks of this size */

/* ---- InvokeWithResponseStream -------------------------------------------- */

typedef struct {
    nb_req *r;              /* NULL once the client went away */
    char version[16];       /* X-Amz-Executed-Version */
} iws_wait;

static void iws_begin(iws_wait *w)
{
    nb_req *r = w->r;
    if (r->streaming)
        return;
    r->status = 200;
    r->content_type = "application/vnd.amazon.eventstream";
    nb_resp_header(r, "x-amzn-RequestId", r->call.request_id);
    nb_resp_header(r, "X-Amz-Executed-Version", w->version);
    nb_resp_begin(r);
}

static void iws_payload(iws_wait *w, const void *data, size_t len)
{
    nb_buf ev = {0};
    for (size_t off = 0; off < len; off += PIECE) {
        size_t n = len - off < PIECE ? len - off : PIECE;
        ev.len = 0;
        nb_es_event(&ev, "PayloadChunk", "application/octet-stream", (const char *)data + off, n);
        nb_resp_write(w->r, ev.data, ev.len);
    }
    nb_buf_free(&ev);
}

static void iws_chunk(const char *ctype, const void *data, size_t len, void *arg)
{
    (void)ctype;
    iws_wait *w = arg;
    if (!w->r)
        return;
    iws_begin(w);
    iws_payload(w, data, len);
}

/* ErrorDetails: the error document's errorMessage, else the document. */
static json_object *error_details(const lm_result *res)
{
    const char *p = res->payload.data ? res->payload.data : "";
    json_object *doc = res->payload.len ? json_tokener_parse(p) : NULL;
    json_object *msg = doc ? nb_get(doc, "errorMessage") : NULL;
    json_object *out = msg && json_object_is_type(msg, json_type_string)
                           ? json_object_get(msg)
                           : json_object_new_string_len(p, (int)res->payload.len);
    json_object_put(doc);
    return out;
}

static void iws_done(const lm_result *res, void *arg)
{
    iws_wait *w = arg;
    if (w->r) {
        nb_req *r = w->r;
        r->call.on_cancel = NULL;
        r->call.park = NULL;
        iws_begin(w);
        if (res->kind == LM_OK && !res->streamed)
            iws_payload(w, res->payload.data, res->payload.len);
        json_object *o = json_object_new_object();
        if (res->kind == LM_FUNCTION_ERROR) {
            json_object_object_add(o, "ErrorCode", json_object_new_string(res->error_type));
            json_object_object_add(o, "ErrorDetails", error_details(res));
        }
        if (res->log_tail[0])
            json_object_object_add(o, "LogResult", json_object_new_string(res->log_tail));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        nb_buf ev = {0};
        nb_es_event(&ev, "InvokeComplete", "application/json", s, strlen(s));
        nb_resp_write(r, ev.data, ev.len);
        nb_buf_free(&ev);
        json_object_put(o);
        nb_resp_end(r);
    }
    free(w);
}

static void iws_cancel(nb_call *call)
{
    iws_wait *w = call->park;
    w->r = NULL; /* the function runs on; its answer is dropped */
}

/* DryRun: 204 with the version, no event stream. */
static nb_status dry_run(nb_req *r, const lm_version *v)
{
    r->status = 204;
    nb_resp_header(r, "x-amzn-RequestId", r->call.request_id);
    nb_resp_header(r, "X-Amz-Executed-Version", v->version);
    nb_req_finish(r);
    return NB_PENDING; /* answered here, not by the codec */
}

nb_status lm_op_invoke_stream(nb_call *call, json_object *in)
{
    nb_req *r = nb_call_req(call);
    if (!r)
        return nb_fail(call, "InvalidRequestContentException",
                       "InvokeWithResponseStream needs an HTTP client to stream to.");
    lm_invoke_args a; /* InvocationType is RequestResponse or DryRun (the model's enum) */
    if (lm_invoke_args_read(call, in, &a) != NB_OK)
        return NB_ERROR;
    lm_version v;
    if (lm_resolve(call, a.fn, a.qual, &v) != NB_OK)
        return NB_ERROR;
    if (a.dry) {
        nb_status st = dry_run(r, &v);
        lm_version_clear(&v);
        return st;
    }
    iws_wait *w = nb_calloc(1, sizeof *w);
    w->r = r;
    snprintf(w->version, sizeof w->version, "%s", v.version);
    lm_inv *inv = lm_inv_sync(call, &v, &a, iws_done, w);
    lm_inv_stream(inv, iws_chunk);
    call->park = w;
    call->on_cancel = iws_cancel;
    if (lm_run(call, inv) == NB_OK)
        return NB_PENDING; /* iws_done ran or will run, and answers */
    call->on_cancel = NULL;
    call->park = NULL;
    free(w);
    return NB_ERROR;
}

/* ---- function URLs in RESPONSE_STREAM mode -------------------------------- */

static const char INTEGRATION[] = "application/vnd.awslambda.http-integration-response";

long lm_prelude_parse(const char *p, size_t n, json_object **out)
{
    static const char zeros[8] = {0};
    *out = NULL;
    const char *end = memmem(p, n, zeros, sizeof zeros);
    if (!end)
        return n > LM_PRELUDE_MAX ? -1 : 0;
    size_t k = (size_t)(end - p);
    if (k > LM_PRELUDE_MAX)
        return -1;
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = k ? json_tokener_parse_ex(tok, p, (int)k) : NULL;
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
              (size_t)tok->char_offset == k;
    json_tokener_free(tok);
    if (!ok || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return -1;
    }
    *out = o;
    return (long)(k + sizeof zeros);
}

typedef struct {
    nb_req *r;              /* NULL once the client went away or was answered */
    nb_buf pre;             /* prelude bytes so far */
} url_stream;

static void us_detach(url_stream *w)
{
    w->r->call.on_cancel = NULL;
    w->r->call.park = NULL;
    w->r = NULL;
}

/* Status and headers from the prelude, then the head. */
static void head_from_prelude(nb_req *r, json_object *o)
{
    json_object *sc = nb_get(o, "statusCode");
    int64_t status = json_object_is_type(sc, json_type_int) ? json_object_get_int64(sc) : 200;
    r->status = status >= 100 && status <= 599 ? (int)status : 200;
    r->content_type = "application/octet-stream";
    size_t ours = r->rhead.len;
    json_object *hs = nb_get(o, "headers");
    if (json_object_is_type(hs, json_type_object)) {
        json_object_object_foreach(hs, k, v) {
            const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                     : NULL;
            if (strcasecmp(k, "content-type") == 0 && s && !strpbrk(s, "\r\n"))
                r->content_type = s;
            lm_url_fn_header(r, k, v, ours);
        }
    }
    json_object *cookies = nb_get(o, "cookies");
    size_t nc = json_object_is_type(cookies, json_type_array) ? json_object_array_length(cookies) : 0;
    for (size_t i = 0; i < nc; i++)
        lm_url_fn_header(r, "Set-Cookie", json_object_array_get_idx(cookies, i), ours);
    nb_resp_begin(r); /* copies content_type, which points into o */
}

static void head_plain(nb_req *r, const char *ctype, const char *dflt)
{
    r->status = 200;
    r->content_type = ctype && *ctype && !strpbrk(ctype, "\r\n") ? ctype : dflt;
    nb_resp_begin(r);
}

static void us_chunk(const char *ctype, const void *data, size_t len, void *arg)
{
    url_stream *w = arg;
    nb_req *r = w->r;
    if (!r)
        return;
    if (r->streaming) {
        nb_resp_write(r, data, len);
        return;
    }
    if (strcasecmp(ctype, INTEGRATION) != 0) {
        head_plain(r, ctype, "application/octet-stream");
        nb_resp_write(r, data, len);
        return;
    }
    nb_buf_add(&w->pre, data, len);
    json_object *o;
    long used = lm_prelude_parse(w->pre.data, w->pre.len, &o);
    if (used == 0)
        return;
    if (used < 0) {
        NB_WARN("lambda url: malformed HttpResponseStream prelude");
        lm_url_bad_gateway(r);
        us_detach(w);
        return;
    }
    head_from_prelude(r, o);
    json_object_put(o);
    nb_resp_write(r, w->pre.data + used, w->pre.len - (size_t)used);
    nb_buf_free(&w->pre);
}

static void us_done(const lm_result *res, void *arg)
{
    url_stream *w = arg;
    nb_req *r = w->r;
    if (r && !r->streaming) {
        if (res->kind != LM_OK || w->pre.len) { /* failed, or the prelude never ended */
            lm_url_bad_gateway(r);
            us_detach(w);
        } else if (res->streamed) {
            head_plain(r, res->content_type, "application/octet-stream");
        } else { /* a function that does not stream: its answer as it is */
            head_plain(r, res->content_type, "application/json");
            nb_resp_write(r, res->payload.data, res->payload.len);
        }
    }
    if (w->r) {
        nb_resp_end(w->r); /* a failure mid-stream ends the body where it was */
        us_detach(w);
    }
    nb_buf_free(&w->pre);
    free(w);
}

static void us_cancel(nb_call *call)
{
    url_stream *w = call->park;
    w->r = NULL;
}

nb_status lm_url_stream(nb_req *r, lm_version *v, const char *qualifier, const char *event,
                        size_t len)
{
    nb_call *c = &r->call;
    url_stream *w = nb_calloc(1, sizeof *w);
    w->r = r;
    lm_inv *inv = lm_inv_new(c, v, qualifier, event, len, us_done, w);
    lm_inv_set_id(inv, c->request_id);
    lm_inv_stream(inv, us_chunk);
    c->park = w;
    c->on_cancel = us_cancel;
    if (lm_run(c, inv) == NB_OK)
        return NB_OK;
    c->on_cancel = NULL;
    c->park = NULL;
    free(w);
    return NB_ERROR;
}
