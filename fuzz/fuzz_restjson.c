/*
 * fuzz_restjson.c — libFuzzer target for the rest-json codec and router
 * (src/core/codec_restjson.c) on the Lambda model.
 *
 * Input: a small HTTP-like text,
 *     METHOD SP TARGET LF          (TARGET = path[?query])
 *     Name: value LF ...           (headers, names lower-cased here)
 *     LF
 *     body bytes (the rest)
 * Each run:
 *   1. nb_rest_route picks the operation (none: the input's first byte picks
 *      one of a few, so decoding is exercised on any path);
 *   2. nb_rest_match with a label buffer, as the decoder uses it;
 *   3. nb_codec_restjson.decode, then nb_validate, then the tree encoded
 *      back through a copy of the operation whose output is its input shape
 *      (headers, status, payload and body paths of the encoder);
 *   4. the error (decode's, validate's, or a fixed modelled one with detail)
 *      rendered with nb_codec_restjson.error.
 * Path, query, header values and body get exact-size allocations so that
 * ASan sees over-reads.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_restjson)   Seeds: fuzz/corpus/restjson/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/http.h"
#include "core/nimbus.h"
#include "gen/models.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char *const fallback[] = {"Invoke", "CreateFunction", "ListFunctions",
                                       "GetFunction", "UntagResource", "TooManyRequestsException"};

#define MAX_HEADERS 32

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const nb_model *m = &nb_model_lambda;
    const uint8_t *end = data + size, *p = data;
    const uint8_t *nl = memchr(p, '\n', size);
    if (!nl)
        return 0;
    const uint8_t *sp = memchr(p, ' ', (size_t)(nl - p));
    if (!sp || sp - p >= 16)
        return 0;

    nb_req r;
    memset(&r, 0, sizeof r);
    memcpy(r.method, p, (size_t)(sp - p));
    char *target = dup_exact(sp + 1, (size_t)(nl - sp - 1));
    size_t tlen = (size_t)(nl - sp - 1);
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    char *path = dup_exact((const uint8_t *)target, plen);
    char *query = q ? dup_exact((const uint8_t *)q + 1, tlen - plen - 1) : dup_exact((const uint8_t *)"", 0);
    r.path = path;
    r.path_len = plen;
    r.query = query;
    r.query_len = q ? tlen - plen - 1 : 0;

    nb_header hs[MAX_HEADERS];
    memset(hs, 0, sizeof hs);
    p = nl + 1;
    while (p < end && r.nheaders < MAX_HEADERS) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        if (le == p) { /* blank line: body follows */
            p = le + 1;
            break;
        }
        const uint8_t *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            nb_header *h = &hs[r.nheaders++];
            h->name = dup_exact(p, (size_t)(colon - p));
            for (char *c = h->name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c + 32);
            const uint8_t *v = colon + 1;
            while (v < le && *v == ' ')
                v++;
            h->value = dup_exact(v, (size_t)(le - v));
            h->vlen = (size_t)(le - v);
        }
        p = le + 1;
    }
    r.headers = hs;
    size_t blen = p < end ? (size_t)(end - p) : 0;
    char *body = malloc(blen ? blen : 1);
    if (!body)
        abort();
    if (blen)
        memcpy(body, p, blen);
    r.body.data = body;
    r.body.len = blen;
    r.body.cap = blen;

    const nb_operation *op = nb_rest_route(m, r.method, r.path, r.path_len, r.query, r.query_len);
    if (!op) {
        const char *name = fallback[(size ? data[size - 1] : 0) % 5];
        op = nb_model_op(m, name, strlen(name));
    }
    nb_rest_label lab[NB_REST_MAX_LABELS];
    int nlab = nb_rest_match(op->uri, r.path, r.path_len, r.query, r.query_len, lab, NB_REST_MAX_LABELS);
    for (int i = 0; i < nlab; i++)
        if (lab[i].val < r.path || lab[i].val + lab[i].vlen > r.path + r.path_len)
            abort(); /* labels point into the path */

    json_object *in = NULL;
    nb_error err;
    memset(&err, 0, sizeof err);
    int rc = nb_codec_restjson.decode(m, op, &r, &in, &err);
    if (rc == 0) {
        if (!in)
            abort();
        rc = nb_validate(m, op->input, in, &err);
        nb_operation echo = *op;
        echo.output = op->input;
        nb_codec_restjson.encode(m, &echo, &r, in);
        nb_buf_free(&r.rbody);
        nb_buf_free(&r.rhead);
        json_object_put(in);
    } else if (in) {
        abort();
    }
    if (rc != 0) {
        if (!err.code[0])
            abort();
        nb_codec_restjson.error(m, &r, &err);
        nb_buf_free(&r.rbody);
        nb_buf_free(&r.rhead);
    }
    nb_err_set(&err, 429, fallback[5], "Rate exceeded");
    err.detail = json_object_new_object();
    json_object_object_add(err.detail, "retryAfterSeconds",
                           json_object_new_string_len(body, (int)(blen < 64 ? blen : 64)));
    nb_codec_restjson.error(m, &r, &err);
    json_object_put(err.detail);
    nb_buf_free(&r.rbody);
    nb_buf_free(&r.rhead);

    for (int i = 0; i < r.nheaders; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(body);
    free(path);
    free(query);
    free(target);
    return 0;
}
