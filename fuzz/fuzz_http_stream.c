/*
 * fuzz_http_stream.c — libFuzzer target for http.c's streaming paths: a
 * listener with a body callback (as Lambda's Runtime API has), so request
 * bodies are streamed piece by piece, trailers are collected and looked up
 * (nb_req_trailer), and responses are streamed (nb_resp_begin/write/end).
 *
 * The input is fed as one connection's bytes (nb_http_feed_with).  The body
 * callback streams every POST body whose path does not start "/buf" and
 * checks each piece is within the request; the handler reads trailers, then
 * answers streamed (path "/s..."), buffered, or parks ("/park", cancelled
 * at the end as on a hang-up).  The streamed byte count must equal what a
 * buffered read would have given: the Content-Length, when there is one.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_http_stream)
 * Seeds: fuzz/corpus/http_stream/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/nimbus.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

/* Requests are parsed ahead of their handlers (pipelining): count per request. */
#define MAXREQ 256
static struct {
    nb_req *r;
    size_t n;
} counts[MAXREQ];
static int ncounts;
static nb_req *streaming;

static int count_of(const nb_req *r)
{
    for (int i = ncounts - 1; i >= 0; i--)
        if (counts[i].r == r)
            return i;
    return -1;
}

static void on_body(nb_req *r, nb_body_event ev, const char *data, size_t len, void *ctx)
{
    (void)ctx;
    if (ev == NB_BODY_BEGIN) {
        if (!strcmp(r->method, "POST") && !(r->path_len >= 4 && !memcmp(r->path, "/buf", 4))) {
            if (ncounts == MAXREQ)
                return;
            r->body_stream = true;
            streaming = r;
            counts[ncounts].r = r;
            counts[ncounts++].n = 0;
        }
        return;
    }
    if (r != streaming)
        abort();
    if (ev == NB_BODY_ABORT) {
        streaming = NULL;
        return;
    }
    if (!data || len == 0)
        abort();
    volatile char sink = data[0] ^ data[len - 1];
    (void)sink;
    int i = count_of(r);
    if (i < 0)
        abort();
    counts[i].n += len;
}

static void on_cancel(nb_call *call)
{
    (void)call;
}

static void handler(nb_req *r, void *ctx)
{
    (void)ctx;
    if (r->body_stream && !r->early_status) {
        int i = count_of(r);
        const char *v = nb_req_header(r, "content-length", NULL);
        if (i < 0 || (v && !nb_req_header(r, "transfer-encoding", NULL) &&
                      (size_t)strtoull(v, NULL, 10) != counts[i].n))
            abort();
        if (r->body.len != 0)
            abort(); /* nothing was collected */
        counts[i].r = NULL; /* requests are recycled: forget this one */
    }
    size_t tl = 0;
    const char *t = nb_req_trailer(r, "x-error", &tl);
    if (t && strlen(t) != tl)
        abort();
    (void)nb_req_trailer(r, "lambda-runtime-function-error-body", NULL);
    if (r->path_len >= 5 && !memcmp(r->path, "/park", 5)) {
        r->call.on_cancel = on_cancel;
        return;
    }
    if (r->path_len >= 2 && !memcmp(r->path, "/s", 2)) {
        nb_resp_begin(r);
        nb_resp_write(r, r->path, r->path_len);
        nb_resp_write(r, t ? t : "", tl);
        nb_resp_end(r);
        nb_resp_write(r, "late", 4); /* dropped */
        return;
    }
    nb_buf_add(&r->rbody, r->body.data, r->body.len);
    nb_req_finish(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (size)
        memcpy(p, data, size);
    streaming = NULL;
    ncounts = 0;
    nb_http_feed_with(p, size, handler, on_body, NULL);
    free(p);
    return 0;
}
