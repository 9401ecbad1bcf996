/*
 * fuzz_sigv4.c — libFuzzer target for src/core/sigv4.c: the input is split
 * on NUL bytes into
 *
 *     authorization \0 query \0 path \0 date \0 content-sha256 \0 body
 *
 * (missing fields are empty; the body is the rest and may hold NULs).  The
 * date goes in x-amz-date when it starts with a digit, else in Date; a
 * non-empty content-sha256 becomes x-amz-content-sha256.  Each
 * field gets its own exact-size, unterminated allocation so that ASan sees
 * any read past a length.  nb_sigv4_parse runs on every input, and
 * nb_sigv4_verify whenever a credential was found: at the credential's own
 * time (so the canonical request is built and hashed), and at extreme clocks.
 *
 * Build: clang -g -fsanitize=fuzzer,address,undefined -I src \
 *          src/core/sigv4.c fuzz/fuzz_sigv4.c -lcrypto -o /tmp/fuzz_sigv4
 * Seeds: fuzz/corpus/sigv4/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sigv4.h"

enum { F_AUTH, F_QUERY, F_PATH, F_DATE, F_SHA, F_BODY, F_N };

typedef struct {
    char *p;
    size_t n;
} field;

/* Exact-size copy (no terminator); never NULL so empty fields are valid. */
static field dup_field(const uint8_t *p, size_t n)
{
    field f = { malloc(n ? n : 1), n };
    if (!f.p)
        abort();
    if (n)
        memcpy(f.p, p, n);
    return f;
}

static void split(const uint8_t *data, size_t size, field f[F_N])
{
    size_t at = 0;
    for (int i = 0; i < F_N; i++) {
        size_t end = size;
        if (i < F_BODY) {
            const uint8_t *z = at < size ? memchr(data + at, 0, size - at) : NULL;
            end = z ? (size_t)(z - data) : size;
        }
        f[i] = dup_field(data + at, end - at);
        at = end < size ? end + 1 : size;
    }
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Epoch of the parsed YYYYMMDDTHHMMSSZ (days-from-civil, proleptic UTC). */
static int64_t cred_time(const nb_sigv4_cred *c)
{
    const char *d = c->amz_date;
    int64_t y = num(d, 4), m = num(d + 4, 2), day = num(d + 6, 2);
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return days * 86400 + num(d + 9, 2) * 3600 + num(d + 11, 2) * 60 + num(d + 13, 2);
}

static void run(const nb_sigv4_request *req)
{
    nb_sigv4_cred c;
    const char *why = NULL;
    int rc = nb_sigv4_parse(req, &c, &why);
    if (rc != 0 && why == NULL)
        abort(); /* a failure must say why */
    if (rc != 0 || !c.present)
        return;
    int64_t t = cred_time(&c);
    (void)nb_sigv4_verify(req, &c, "test", t);
    (void)nb_sigv4_verify(req, &c, "", t);
    (void)nb_sigv4_verify(req, &c, "test", INT64_MAX);
    (void)nb_sigv4_verify(req, &c, "test", INT64_MIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    field f[F_N];
    split(data, size, f);
    nb_sigv4_header h[5];
    int nh = 0;
    h[nh++] = (nb_sigv4_header){ "host", "127.0.0.1:4566", 14 };
    if (f[F_AUTH].n)
        h[nh++] = (nb_sigv4_header){ "authorization", f[F_AUTH].p, f[F_AUTH].n };
    if (f[F_DATE].n) {
        bool iso = f[F_DATE].p[0] >= '0' && f[F_DATE].p[0] <= '9';
        h[nh++] = (nb_sigv4_header){ iso ? "x-amz-date" : "date", f[F_DATE].p, f[F_DATE].n };
    }
    if (f[F_SHA].n)
        h[nh++] = (nb_sigv4_header){ "x-amz-content-sha256", f[F_SHA].p, f[F_SHA].n };
    nb_sigv4_request req = {
        .method = "POST",
        .path = f[F_PATH].p,
        .path_len = f[F_PATH].n,
        .query = f[F_QUERY].p,
        .query_len = f[F_QUERY].n,
        .headers = h,
        .nheaders = nh,
        .body = (const unsigned char *)f[F_BODY].p,
        .body_len = f[F_BODY].n,
    };
    run(&req);
    for (int i = 0; i < F_N; i++)
        free(f[i].p);
    return 0;
}
