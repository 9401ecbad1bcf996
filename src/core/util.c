/*
 * util.c — allocation policy (abort on OOM), logging, clocks, random ids and
 * the small encoding helpers (hex, MD5, base64) every module shares.
 */
/* MD5_Init/Update/Final are deprecated in OpenSSL 3 but run the digest
 * directly: EVP_DigestInit/Final cost as much as hashing a 100-byte body. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nimbus.h"

nb_config nb_cfg = {
    .host = "127.0.0.1",
    .port = 4566,
    .log_level = NB_LOG_INFO,
    .access_key = "test",
    .secret_key = "test",
    .region = "us-east-1",
    .max_body = 64u << 20,
};

static void oom(void)
{
    fputs("nimbus: out of memory\n", stderr);
    abort();
}

void *nb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *nb_calloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        oom();
    return p;
}

void *nb_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *nb_strndup(const char *s, size_t n)
{
    char *p = nb_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

size_t nb_copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (cap == 0)
        return 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
    return n;
}

char *nb_strdup(const char *s) { return nb_strndup(s, strlen(s)); }

int64_t nb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t nb_mono_ms(void) { return uv_now(nb_loop()); }

void nb_log(nb_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (lvl > nb_cfg.log_level)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[lvl], buf);
}

/* Cryptographic randomness straight from the kernel: no DRBG to set up
 * (which would cost start-up time and resident memory). */
void nb_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

/* Request ids need uniqueness, not secrecy: xoshiro256** seeded once from
 * the OS, instead of a system call or a DRBG round per id. */
static uint64_t rng_state[4];
static bool rng_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        nb_random(rng_state, sizeof rng_state);
        rng_seeded = true;
    }
    uint64_t *s = rng_state;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

uint64_t nb_rand64(void) { return rng_next(); }

void nb_uuid(char out[37])
{
    unsigned char b[16];
    uint64_t hi = rng_next(), lo = rng_next();
    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    static const char digits[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = digits[b[i] >> 4];
        *o++ = digits[b[i] & 15];
    }
    *o = 0;
}

void nb_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

/* SQS hashes every body and attribute set: the low-level MD5 functions,
 * not EVP (whose init/final dominate for small inputs). */
void nb_md5_hex(const void *data, size_t n, char out[33])
{
    unsigned char d[16];
    MD5_CTX c;
    MD5_Init(&c);
    MD5_Update(&c, data, n);
    MD5_Final(d, &c);
    nb_hex(d, 16, out);
}

void nb_crypto_free(void)
{
    /* Nothing cached any more; kept for callers' shutdown sequence. */
}

char *nb_base64_encode(const void *data, size_t n, size_t *outlen)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *out = nb_malloc(cap);
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    if (outlen)
        *outlen = (size_t)len;
    return out;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

unsigned char *nb_base64_decode(const char *s, size_t n, size_t *outlen)
{
    if (n % 4)
        return NULL;
    unsigned char *out = nb_malloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + (size_t)k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64val(c)) < 0) {
                free(out);
                return NULL;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    out[o] = 0;
    *outlen = o;
    return out;
}
