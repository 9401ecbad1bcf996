/*
 * test_eventstream.c — unit test of src/core/eventstream.c (the AWS
 * event-stream framing InvokeWithResponseStream answers in) and of
 * lm_prelude_parse (the HttpResponseStream prelude a streaming function
 * writes for a function URL, src/services/lambda/lambda_stream.c).
 *
 * The two expected messages were made once (not at test time) by an
 * independent Python encoder (struct + binascii.crc32) and checked to decode
 * with botocore's EventStreamBuffer:
 *
 *   PayloadChunk, application/octet-stream, payload b"hello"
 *   InvokeComplete, application/json, payload b"{}"
 *
 * Exits non-zero on a failure and prints "N passed, N failed" last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/eventstream.h"
#include "services/lambda/lambda_internal.h"

static int passed, failed;
#include "check.h"

static const char CHUNK[] =
    "\x00\x00\x00\x6f\x00\x00\x00\x5a\xf5\xfe\x87\x1f\x0b\x3a\x65\x76"
    "\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x0c\x50\x61\x79\x6c\x6f"
    "\x61\x64\x43\x68\x75\x6e\x6b\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74"
    "\x2d\x74\x79\x70\x65\x07\x00\x18\x61\x70\x70\x6c\x69\x63\x61\x74"
    "\x69\x6f\x6e\x2f\x6f\x63\x74\x65\x74\x2d\x73\x74\x72\x65\x61\x6d"
    "\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70\x65\x07\x00"
    "\x05\x65\x76\x65\x6e\x74\x68\x65\x6c\x6c\x6f\x29\xe7\x12\x60";

static const char COMPLETE[] =
    "\x00\x00\x00\x66\x00\x00\x00\x54\x1f\x56\xc8\x69\x0b\x3a\x65\x76"
    "\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x0e\x49\x6e\x76\x6f\x6b"
    "\x65\x43\x6f\x6d\x70\x6c\x65\x74\x65\x0d\x3a\x63\x6f\x6e\x74\x65"
    "\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70\x6c\x69\x63"
    "\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e\x0d\x3a\x6d\x65\x73\x73"
    "\x61\x67\x65\x2d\x74\x79\x70\x65\x07\x00\x05\x65\x76\x65\x6e\x74"
    "\x7b\x7d\x70\x06\xd4\x67";

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_vectors(void)
{
    nb_buf b = {0};
    check(nb_es_event(&b, "PayloadChunk", "application/octet-stream", "hello", 5) == 0,
          "chunk encodes");
    check(b.len == sizeof CHUNK - 1 && memcmp(b.data, CHUNK, b.len) == 0,
          "PayloadChunk bytes (%zu)", b.len);
    size_t off = b.len;
    check(nb_es_event(&b, "InvokeComplete", "application/json", "{}", 2) == 0, "complete");
    check(b.len - off == sizeof COMPLETE - 1 && memcmp(b.data + off, COMPLETE, b.len - off) == 0,
          "InvokeComplete bytes appended after the first");
    nb_buf_free(&b);
}

/* A message with a large payload and its own CRCs, checked field by field. */
static void test_structure(void)
{
    size_t n = 200000;
    char *payload = malloc(n);
    for (size_t i = 0; i < n; i++)
        payload[i] = (char)(i * 31);
    nb_es_header h[] = {{":message-type", "exception"}, {":exception-type", "X"}};
    nb_buf b = {0};
    check(nb_es_message(&b, h, 2, payload, n) == 0, "large message encodes");
    const unsigned char *p = (const unsigned char *)b.data;
    size_t hlen = (1 + 13 + 3 + 9) + (1 + 15 + 3 + 1);
    check(be32(p) == b.len && b.len == 12 + hlen + n + 4, "total length");
    check(be32(p + 4) == hlen, "headers length");
    check(be32(p + 8) == crc32(0L, p, 8), "prelude crc");
    check(be32(p + b.len - 4) == crc32(0L, p, (uInt)(b.len - 4)), "message crc");
    check(memcmp(p + 12 + hlen, payload, n) == 0, "payload placed after the headers");
    nb_buf_free(&b);
    free(payload);
}

static void test_limits(void)
{
    nb_buf b = {0};
    nb_buf_adds(&b, "keep");
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    nb_es_header h1[] = {{name, "v"}};
    check(nb_es_message(&b, h1, 1, "x", 1) == -1 && b.len == 4, "a 299-byte name is refused");
    nb_es_header h2[] = {{"", "v"}};
    check(nb_es_message(&b, h2, 1, "x", 1) == -1 && b.len == 4, "an empty name is refused");
    char *big = calloc(1, 70000);
    memset(big, 'v', 69999);
    nb_es_header h3[] = {{"n", big}};
    check(nb_es_message(&b, h3, 1, "x", 1) == -1 && b.len == 4, "a 69999-byte value is refused");
    free(big);
    check(nb_es_message(&b, NULL, 0, "", NB_ES_MAX_MESSAGE) == -1 && b.len == 4,
          "a message over 16 MB is refused");
    check(nb_es_message(&b, NULL, 0, NULL, 0) == 0 && b.len == 4 + 16, "an empty message");
    nb_buf_free(&b);
}

static void test_prelude(void)
{
    json_object *o;
    static const char good[] = "{\"statusCode\":201,\"cookies\":[\"a=1\"]}\0\0\0\0\0\0\0\0body";
    long used = lm_prelude_parse(good, sizeof good - 1, &o);
    check(used == (long)(sizeof good - 1 - 4), "prelude length (%ld)", used);
    check(o && json_object_get_int(json_object_object_get(o, "statusCode")) == 201, "status");
    json_object_put(o);
    check(lm_prelude_parse(good, 20, &o) == 0 && !o, "incomplete: need more");
    static const char seven[] = "{}\0\0\0\0\0\0\0";
    check(lm_prelude_parse(seven, sizeof seven - 1, &o) == 0, "seven NULs are not the end");
    static const char empty[] = "\0\0\0\0\0\0\0\0";
    check(lm_prelude_parse(empty, 8, &o) == -1, "no JSON before the NULs");
    static const char arr[] = "[1]\0\0\0\0\0\0\0\0";
    check(lm_prelude_parse(arr, sizeof arr - 1, &o) == -1 && !o, "not an object");
    static const char bad[] = "{\"a\":}\0\0\0\0\0\0\0\0";
    check(lm_prelude_parse(bad, sizeof bad - 1, &o) == -1, "malformed JSON");
    static const char trail[] = "{} x\0\0\0\0\0\0\0\0";
    check(lm_prelude_parse(trail, sizeof trail - 1, &o) == -1, "text after the JSON");
    size_t n = LM_PRELUDE_MAX + 10;
    char *big = malloc(n);
    memset(big, ' ', n);
    check(lm_prelude_parse(big, n, &o) == -1, "no end within the limit");
    free(big);
}

int main(void)
{
    test_vectors();
    test_structure();
    test_limits();
    test_prelude();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
