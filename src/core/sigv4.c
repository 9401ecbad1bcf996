/*
 * sigv4.c — AWS Signature Version 4: parse the credential from the
 * Authorization header or from presigned X-Amz-* query parameters, and
 * verify the signature by rebuilding the canonical request, the string to
 * sign and the HMAC-SHA256 key chain exactly as AWS documents them.
 *
 * Pure and self-contained (links only libcrypto) so that the unit test and
 * the fuzz target build it alone.  The canonical request is never held in
 * memory: it is streamed into the SHA-256 digest.  Every copy into the fixed
 * arrays of nb_sigv4_cred is bounded; an overlong field is a parse error.
 */
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SCOPE_TERM "aws4_request"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define MAX_SKEW 900              /* 15 minutes, as AWS enforces */
#define MAX_EXPIRES 604800        /* 7 days, the presign limit */
#define MAX_SECRET (64 * 1024)

typedef struct {
    const char *p;
    size_t n;
} span;

/* ---------- small string helpers ---------- */

static span span_of(const char *p, size_t n)
{
    span s = { p ? p : "", p ? n : 0 };
    return s;
}

static span span_str(const char *s)
{
    return span_of(s, s ? strlen(s) : 0);
}

static bool span_eq(span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool span_ieq(span a, span b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++)
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
            return false;
    return true;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* RFC 3986 unreserved: never percent-encoded in a canonical request. */
static bool is_unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -1;
}

/* Split *rest at the first sep: returns the head, leaves the tail (without
 * sep) in *rest.  found says whether sep occurred. */
static span split_at(span *rest, char sep, bool *found)
{
    const char *hit = rest->n ? memchr(rest->p, sep, rest->n) : NULL;
    span head = { rest->p, hit ? (size_t)(hit - rest->p) : rest->n };
    if (found)
        *found = hit != NULL;
    rest->p += hit ? head.n + 1 : head.n;
    rest->n -= hit ? head.n + 1 : head.n;
    return head;
}

/* Copy a printable, space-free field into dst[cap]; -1 when it does not fit
 * or holds bytes that have no business in a credential. */
static int copy_field(char *dst, size_t cap, span s)
{
    if (s.n >= cap)
        return -1;
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] <= 0x20 || (unsigned char)s.p[i] >= 0x7f)
            return -1;
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return 0;
}

/* The byte at s.p[*i] with a valid %XX escape decoded; advances *i.  A '%'
 * not followed by two hex digits stays literal; '+' stays '+'. */
static int decode_at(span s, size_t *i)
{
    int c = (unsigned char)s.p[*i];
    if (c == '%' && *i + 2 < s.n && hex_val(s.p[*i + 1]) >= 0 && hex_val(s.p[*i + 2]) >= 0) {
        c = hex_val(s.p[*i + 1]) * 16 + hex_val(s.p[*i + 2]);
        *i += 2;
    }
    (*i)++;
    return c;
}

/* Percent-decode into out[cap]; -1 when the result does not fit. */
static int pct_decode(span in, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n;) {
        int c = decode_at(in, &i);
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

/* URI-encode one byte (RFC 3986 unreserved kept, others %XX upper-case)
 * into dst, which has room for 3; returns the bytes written. */
static size_t uri_encode_byte(unsigned char c, char *dst)
{
    static const char hex[] = "0123456789ABCDEF";
    if (is_unreserved(c)) {
        dst[0] = (char)c;
        return 1;
    }
    dst[0] = '%';
    dst[1] = hex[c >> 4];
    dst[2] = hex[c & 15];
    return 3;
}

/* ---------- dates ---------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return (m == 2 && leap) ? 29 : dm[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

typedef struct {
    int y, mo, d, h, mi, s;
} civil;

static bool civil_valid(const civil *t)
{
    return t->y >= 0 && t->mo >= 1 && t->mo <= 12 && t->d >= 1 &&
           t->d <= days_in_month(t->y, t->mo) && t->h >= 0 && t->h < 24 &&
           t->mi >= 0 && t->mi < 60 && t->s >= 0 && t->s <= 60;
}

static int64_t civil_epoch(const civil *t)
{
    return days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 + t->s;
}

/* YYYYMMDDTHHMMSSZ (exactly 16 bytes) → epoch seconds. */
static bool amz_date_epoch(span s, int64_t *epoch)
{
    if (s.n != 16 || s.p[8] != 'T' || s.p[15] != 'Z')
        return false;
    civil t = { digits(s.p, 4), digits(s.p + 4, 2), digits(s.p + 6, 2),
                digits(s.p + 9, 2), digits(s.p + 11, 2), digits(s.p + 13, 2) };
    if (!civil_valid(&t))
        return false;
    *epoch = civil_epoch(&t);
    return true;
}

static int month_index(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (memcmp(names + 3 * i, p, 3) == 0)
            return i + 1;
    return -1;
}

/* RFC 1123 "Sun, 06 Nov 1994 08:49:37 GMT" (weekday optional; zone GMT, UT,
 * UTC, +0000 or -0000 as Python's formatdate writes) → YYYYMMDDTHHMMSSZ. */
static bool rfc1123_to_amz(span s, char out[17])
{
    const char *c = memchr(s.p, ',', s.n < 5 ? s.n : 5);
    span r = c ? span_of(c + 1, s.n - (size_t)(c + 1 - s.p)) : s;
    while (r.n && r.p[0] == ' ')
        r.p++, r.n--;
    if (r.n < 23 || r.p[2] != ' ' || r.p[6] != ' ' || r.p[11] != ' ' ||
        r.p[14] != ':' || r.p[17] != ':' || r.p[20] != ' ')
        return false;
    span zone = span_of(r.p + 21, r.n - 21);
    if (!(span_eq(zone, "GMT") || span_eq(zone, "UT") || span_eq(zone, "UTC") ||
          span_eq(zone, "+0000") || span_eq(zone, "-0000")))
        return false;
    civil t = { digits(r.p + 7, 4), month_index(r.p + 3), digits(r.p, 2),
                digits(r.p + 12, 2), digits(r.p + 15, 2), digits(r.p + 18, 2) };
    if (!civil_valid(&t) || t.y > 9999)
        return false;
    int n = snprintf(out, 17, "%04d%02d%02dT%02d%02d%02dZ", t.y, t.mo, t.d, t.h, t.mi, t.s);
    return n == 16;
}

/* ---------- credential fields ---------- */

static const nb_sigv4_header *find_header(const nb_sigv4_request *req, const char *name)
{
    span want = span_str(name);
    for (int i = 0; req->headers && i < req->nheaders; i++)
        if (req->headers[i].name && span_ieq(span_str(req->headers[i].name), want))
            return &req->headers[i];
    return NULL;
}

static span header_value(const nb_sigv4_header *h)
{
    return span_of(h->value, h->vlen);
}

/* Credential=AKID/YYYYMMDD/region/service/aws4_request */
static int parse_scope(span s, nb_sigv4_cred *c, const char **why)
{
    span part[5];
    bool more = true;
    int n = 0;
    while (more && n < 5)
        part[n++] = split_at(&s, '/', &more);
    if (n != 5 || more)
        return fail(why, "credential must be AKID/date/region/service/aws4_request");
    if (part[0].n == 0 || copy_field(c->access_key, sizeof c->access_key, part[0]))
        return fail(why, "credential access key is empty, overlong or invalid");
    if (part[1].n != 8 || digits(part[1].p, 8) < 0)
        return fail(why, "credential date must be YYYYMMDD");
    memcpy(c->date, part[1].p, 8);
    c->date[8] = '\0';
    if (part[2].n == 0 || copy_field(c->region, sizeof c->region, part[2]))
        return fail(why, "credential region is empty, overlong or invalid");
    if (part[3].n == 0 || copy_field(c->service, sizeof c->service, part[3]))
        return fail(why, "credential service is empty, overlong or invalid");
    if (!span_eq(part[4], SCOPE_TERM))
        return fail(why, "credential scope must end in aws4_request");
    return 0;
}

/* Lower-case HTTP token characters, as every SDK sends header names. */
static bool is_header_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_signed_headers(span s, nb_sigv4_cred *c, const char **why)
{
    if (s.n == 0 || s.n >= sizeof c->signed_headers)
        return fail(why, "SignedHeaders is empty or overlong");
    for (size_t i = 0; i < s.n; i++) {
        bool sep = s.p[i] == ';';
        if (sep ? (i == 0 || i + 1 == s.n || s.p[i - 1] == ';')
                : !is_header_name_char((unsigned char)s.p[i]))
            return fail(why, "SignedHeaders must be lower-case names separated by ';'");
    }
    memcpy(c->signed_headers, s.p, s.n);
    c->signed_headers[s.n] = '\0';
    return 0;
}

static int parse_signature(span s, nb_sigv4_cred *c, const char **why)
{
    if (s.n != 64)
        return fail(why, "Signature must be 64 hex digits");
    for (size_t i = 0; i < 64; i++) {
        if (hex_val((unsigned char)s.p[i]) < 0)
            return fail(why, "Signature must be 64 hex digits");
        c->signature[i] = (char)lower((unsigned char)s.p[i]);
    }
    c->signature[64] = '\0';
    return 0;
}

static int parse_amz_date(span s, nb_sigv4_cred *c, const char **why)
{
    int64_t t;
    if (!amz_date_epoch(s, &t))
        return fail(why, "date must be YYYYMMDDTHHMMSSZ");
    memcpy(c->amz_date, s.p, 16);
    c->amz_date[16] = '\0';
    return 0;
}

/* ---------- Authorization header ---------- */

enum { A_CRED, A_SH, A_SIG, A_N };
static const char *const auth_keys[A_N] = { "Credential", "SignedHeaders", "Signature" };

static bool is_auth_sep(int c)
{
    return c == ',' || is_space(c);
}

/* Next Key=Value component of the header; separators are any run of commas
 * and white space. */
static bool next_component(span *rest, span *tok)
{
    while (rest->n && is_auth_sep((unsigned char)rest->p[0]))
        rest->p++, rest->n--;
    size_t n = 0;
    while (n < rest->n && !is_auth_sep((unsigned char)rest->p[n]))
        n++;
    *tok = span_of(rest->p, n);
    rest->p += n;
    rest->n -= n;
    return n > 0;
}

/* 1 when v is not a SigV4 header (SigV2, Bearer, SigV4a...), else 0 with
 * the body after the algorithm in *rest. */
static int auth_scheme(span v, span *rest)
{
    while (v.n && is_space((unsigned char)v.p[0]))
        v.p++, v.n--;
    size_t n = strlen(ALGORITHM);
    if (v.n < n || memcmp(v.p, ALGORITHM, n) != 0 ||
        (v.n > n && !is_space((unsigned char)v.p[n])))
        return 1;
    *rest = span_of(v.p + n, v.n - n);
    return 0;
}

static int collect_components(span rest, span val[A_N], const char **why)
{
    bool seen[A_N] = { false };
    span tok;
    while (next_component(&rest, &tok)) {
        bool eq;
        span key = split_at(&tok, '=', &eq);
        if (!eq)
            return fail(why, "Authorization component is not Key=Value");
        for (int k = 0; k < A_N; k++) {
            if (!span_eq(key, auth_keys[k]))
                continue;
            if (seen[k])
                return fail(why, "Authorization component repeated");
            seen[k] = true;
            val[k] = tok;
        }
    }
    for (int k = 0; k < A_N; k++)
        if (!seen[k])
            return fail(why, "Authorization needs Credential, SignedHeaders and Signature");
    return 0;
}

/* x-amz-date, else an RFC 1123 Date header converted to the ISO form. */
static int header_date(const nb_sigv4_request *req, nb_sigv4_cred *c, const char **why)
{
    const nb_sigv4_header *h = find_header(req, "x-amz-date");
    if (h)
        return parse_amz_date(header_value(h), c, why);
    h = find_header(req, "date");
    if (!h)
        return fail(why, "request needs an X-Amz-Date or Date header");
    char iso[17];
    if (!rfc1123_to_amz(header_value(h), iso))
        return fail(why, "Date header is not an RFC 1123 date");
    return parse_amz_date(span_of(iso, 16), c, why);
}

static int parse_header_auth(const nb_sigv4_request *req, span body, nb_sigv4_cred *c,
                             const char **why)
{
    span val[A_N];
    if (collect_components(body, val, why) < 0)
        return -1;
    if (parse_scope(val[A_CRED], c, why) < 0 ||
        parse_signed_headers(val[A_SH], c, why) < 0 ||
        parse_signature(val[A_SIG], c, why) < 0)
        return -1;
    return header_date(req, c, why);
}

/* ---------- presigned query ---------- */

enum { Q_ALG, Q_CRED, Q_DATE, Q_EXP, Q_SH, Q_SIG, Q_N };
static const char *const query_keys[Q_N] = {
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
    "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature",
};

/* Next non-empty name[=value] pair of a query string. */
static bool next_pair(span *rest, span *name, span *value)
{
    while (rest->n) {
        span pair = split_at(rest, '&', NULL);
        if (pair.n == 0)
            continue;
        *name = split_at(&pair, '=', NULL);
        *value = pair;
        return true;
    }
    return false;
}

static int query_key_index(span name)
{
    char buf[32];
    size_t n;
    if (pct_decode(name, buf, sizeof buf, &n) < 0)
        return -1;
    for (int k = 0; k < Q_N; k++)
        if (span_eq(span_of(buf, n), query_keys[k]))
            return k;
    return -1;
}

/* Find the X-Amz-* parameters; *any says whether one of them occurred. */
static int collect_query(span q, span val[Q_N], bool seen[Q_N], bool *any, const char **why)
{
    span name, value;
    *any = false;
    while (next_pair(&q, &name, &value)) {
        int k = query_key_index(name);
        if (k < 0)
            continue;
        if (seen[k])
            return fail(why, "presigned parameter repeated");
        seen[k] = true;
        val[k] = value;
        *any = *any || k == Q_ALG || k == Q_CRED || k == Q_SIG;
    }
    return 0;
}

/* Percent-decode a parameter into buf[cap] and hand the result back. */
static int decoded(span v, char *buf, size_t cap, span *out, const char **why)
{
    size_t n;
    if (pct_decode(v, buf, cap, &n) < 0)
        return fail(why, "presigned parameter overlong");
    *out = span_of(buf, n);
    return 0;
}

static int parse_expires(span v, nb_sigv4_cred *c, const char **why)
{
    char buf[24];
    span s;
    if (decoded(v, buf, sizeof buf, &s, why) < 0)
        return -1;
    if (s.n == 0 || s.n > 18)
        return fail(why, "X-Amz-Expires must be a number of seconds");
    int64_t e = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit((unsigned char)s.p[i]))
            return fail(why, "X-Amz-Expires must be a number of seconds");
        e = e * 10 + (s.p[i] - '0');
    }
    c->expires = e;
    return 0;
}

static int parse_query_fields(span val[Q_N], const bool seen[Q_N], nb_sigv4_cred *c,
                              const char **why)
{
    char buf[sizeof c->signed_headers + 8];
    span s;
    for (int k = Q_ALG; k <= Q_SIG; k++)
        if (!seen[k] && k != Q_EXP)
            return fail(why, "presigned URL lacks a required X-Amz-* parameter");
    if (decoded(val[Q_CRED], buf, sizeof buf, &s, why) < 0 || parse_scope(s, c, why) < 0)
        return -1;
    if (decoded(val[Q_DATE], buf, sizeof buf, &s, why) < 0 || parse_amz_date(s, c, why) < 0)
        return -1;
    if (decoded(val[Q_SH], buf, sizeof buf, &s, why) < 0 ||
        parse_signed_headers(s, c, why) < 0)
        return -1;
    if (decoded(val[Q_SIG], buf, sizeof buf, &s, why) < 0 || parse_signature(s, c, why) < 0)
        return -1;
    return seen[Q_EXP] ? parse_expires(val[Q_EXP], c, why) : 0;
}

/* 1 when the query carries no SigV4 presign, 0 when parsed, -1 malformed. */
static int parse_presigned(span q, nb_sigv4_cred *c, const char **why)
{
    span val[Q_N];
    bool seen[Q_N] = { false }, any;
    if (collect_query(q, val, seen, &any, why) < 0)
        return -1;
    if (!any)
        return 1;
    if (seen[Q_ALG]) {
        char buf[32];
        span alg;
        if (decoded(val[Q_ALG], buf, sizeof buf, &alg, NULL) < 0 || !span_eq(alg, ALGORITHM))
            return 1; /* another algorithm (SigV4a...): not ours to parse */
    }
    return parse_query_fields(val, seen, c, why);
}

int nb_sigv4_parse(const nb_sigv4_request *req, nb_sigv4_cred *cred, const char **why)
{
    memset(cred, 0, sizeof *cred);
    cred->expires = -1;
    if (why)
        *why = NULL;
    const nb_sigv4_header *auth = find_header(req, "authorization");
    span rest;
    span q = span_of(req->query, req->query_len);
    if (auth && auth_scheme(header_value(auth), &rest) == 0) {
        nb_sigv4_cred probe;
        cred->present = true;
        if (parse_presigned(q, &probe, NULL) != 1)
            return fail(why, "both an Authorization header and a presigned query");
        return parse_header_auth(req, rest, cred, why);
    }
    int rc = parse_presigned(q, cred, why);
    if (rc == 1) {
        memset(cred, 0, sizeof *cred);
        cred->expires = -1;
        return 0;
    }
    cred->present = true;
    cred->presigned = true;
    return rc;
}

/* ---------- canonical request, streamed into SHA-256 ---------- */

typedef struct {
    EVP_MD_CTX *md;
    unsigned char buf[512];
    size_t n;
    bool err;
} sink;

static void sink_flush(sink *s)
{
    if (s->n && !EVP_DigestUpdate(s->md, s->buf, s->n))
        s->err = true;
    s->n = 0;
}

static void sink_byte(sink *s, unsigned char c)
{
    if (s->n == sizeof s->buf)
        sink_flush(s);
    s->buf[s->n++] = c;
}

static void sink_put(sink *s, span v)
{
    for (size_t i = 0; i < v.n; i++)
        sink_byte(s, (unsigned char)v.p[i]);
}

static void sink_enc_byte(sink *s, unsigned char c)
{
    char e[3];
    size_t n = uri_encode_byte(c, e);
    sink_put(s, span_of(e, n));
}

static void sink_enc(sink *s, span v)
{
    for (size_t i = 0; i < v.n; i++)
        sink_enc_byte(s, (unsigned char)v.p[i]);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("nimbus: out of memory\n", stderr);
        abort(); /* the project's allocation policy: abort on OOM */
    }
    return p;
}

/*
 * Canonical URI, the rule for every service but S3: remove "." and ".."
 * segments and empty segments (as botocore's normalize_url_path does), then
 * URI-encode each segment of the raw, already percent-encoded path once
 * more ('%' becomes %25: AWS's "double encoding"), leaving '/' alone.  An
 * empty result is "/".  S3 is the later variant: no normalization and the
 * path encoded only once.
 */
static void put_canonical_uri(sink *s, span path)
{
    span *seg = xmalloc((path.n / 2 + 2) * sizeof *seg);
    size_t nseg = 0;
    span rest = path;
    bool more = path.n > 0;
    while (more) {
        span x = split_at(&rest, '/', &more);
        if (x.n == 0 || span_eq(x, "."))
            continue;
        if (!span_eq(x, ".."))
            seg[nseg++] = x;
        else if (nseg > 0)
            nseg--;
    }
    bool lead = path.n && path.p[0] == '/';
    if (lead || nseg == 0)
        sink_byte(s, '/');
    for (size_t i = 0; i < nseg; i++) {
        if (i)
            sink_byte(s, '/');
        sink_enc(s, seg[i]);
    }
    if (nseg && path.p[path.n - 1] == '/')
        sink_byte(s, '/');
    free(seg);
}

typedef struct {
    const char *name, *value; /* canonical (re-encoded), NUL-terminated */
} qpair;

/* Decode %XX of raw, re-encode with the unreserved rule into dst (which has
 * room for 3 * raw.n + 1 bytes); returns the end of the written string. */
static char *canon_component(span raw, char *dst)
{
    for (size_t i = 0; i < raw.n;)
        dst += uri_encode_byte((unsigned char)decode_at(raw, &i), dst);
    *dst++ = '\0';
    return dst;
}

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->value, y->value);
}

static size_t count_pairs(span q)
{
    size_t n = 1;
    for (size_t i = 0; i < q.n; i++)
        n += q.p[i] == '&';
    return n;
}

/*
 * Canonical query string: each name and value percent-decoded (only %XX;
 * '+' is a literal plus and becomes %2B) and re-encoded with the RFC 3986
 * unreserved rule, sorted by name then value, X-Amz-Signature left out of a
 * presigned request.  A name without '=' gets an empty value.
 */
static void put_canonical_query(sink *s, span q, bool presigned)
{
    if (q.n > SIZE_MAX / 8) {
        s->err = true;
        return;
    }
    size_t max = count_pairs(q);
    qpair *pairs = xmalloc(max * sizeof *pairs);
    char *arena = xmalloc(3 * q.n + 2 * max + 1);
    char *w = arena;
    size_t n = 0;
    span name, value;
    while (next_pair(&q, &name, &value)) {
        pairs[n].name = w;
        w = canon_component(name, w);
        pairs[n].value = w;
        w = canon_component(value, w);
        if (!(presigned && strcmp(pairs[n].name, "X-Amz-Signature") == 0))
            n++;
    }
    qsort(pairs, n, sizeof *pairs, qpair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sink_byte(s, '&');
        sink_put(s, span_str(pairs[i].name));
        sink_byte(s, '=');
        sink_put(s, span_str(pairs[i].value));
    }
    free(arena);
    free(pairs);
}

/* Trimall: strip leading/trailing white space, collapse inner runs to one
 * space. */
static void put_trimmed(sink *s, span v)
{
    bool gap = false, started = false;
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (is_space(c)) {
            gap = started;
            continue;
        }
        if (gap)
            sink_byte(s, ' ');
        gap = false;
        started = true;
        sink_byte(s, c);
    }
}

/* "name:v1,v2\n" — every header of that name, in arrival order. */
static void put_header_line(sink *s, const nb_sigv4_request *req, span name)
{
    sink_put(s, name);
    sink_byte(s, ':');
    bool first = true;
    for (int i = 0; req->headers && i < req->nheaders; i++) {
        const nb_sigv4_header *h = &req->headers[i];
        if (!h->name || !span_ieq(span_str(h->name), name))
            continue;
        if (!first)
            sink_byte(s, ',');
        first = false;
        put_trimmed(s, header_value(h));
    }
    sink_byte(s, '\n');
}

static void put_canonical_headers(sink *s, const nb_sigv4_request *req, span signed_headers)
{
    span rest = signed_headers;
    bool more = rest.n > 0;
    while (more) {
        span name = split_at(&rest, ';', &more);
        if (name.n)
            put_header_line(s, req, name);
    }
    sink_byte(s, '\n');
    sink_put(s, signed_headers);
    sink_byte(s, '\n');
}

/* Everything of the canonical request up to (not including) the payload
 * hash, into md. */
static bool hash_canonical_prefix(EVP_MD_CTX *md, const nb_sigv4_request *req,
                                  const nb_sigv4_cred *c)
{
    sink s = { .md = md };
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
        return false;
    sink_put(&s, span_str(req->method));
    sink_byte(&s, '\n');
    put_canonical_uri(&s, span_of(req->path, req->path_len));
    sink_byte(&s, '\n');
    put_canonical_query(&s, span_of(req->query, req->query_len), c->presigned);
    sink_byte(&s, '\n');
    put_canonical_headers(&s, req, span_str(c->signed_headers));
    sink_flush(&s);
    return !s.err;
}

/* ---------- signing ---------- */

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool hmac256(const void *key, size_t klen, span msg, unsigned char out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg.p, msg.n, out,
                &len) != NULL &&
           len == 32;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request") */
static bool signing_key(const char *secret, const nb_sigv4_cred *c, unsigned char k[32])
{
    size_t slen = strlen(secret);
    char *seed = xmalloc(slen + 5);
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, slen + 1);
    unsigned char k_date[32], k_region[32], k_service[32];
    bool ok = hmac256(seed, slen + 4, span_str(c->date), k_date) &&
              hmac256(k_date, 32, span_str(c->region), k_region) &&
              hmac256(k_region, 32, span_str(c->service), k_service) &&
              hmac256(k_service, 32, span_str(SCOPE_TERM), k);
    OPENSSL_cleanse(seed, slen + 4);
    OPENSSL_cleanse(k_date, sizeof k_date);
    OPENSSL_cleanse(k_region, sizeof k_region);
    OPENSSL_cleanse(k_service, sizeof k_service);
    free(seed);
    return ok;
}

/* Finish a copy of the prefix digest with this payload hash, build the
 * string to sign and compare its HMAC with the request's signature. */
static bool signature_matches(const EVP_MD_CTX *prefix, span payload, const unsigned char k[32],
                              const nb_sigv4_cred *c)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[32], mac[32];
    unsigned int dlen = 0;
    bool ok = md && EVP_MD_CTX_copy_ex(md, prefix) &&
              EVP_DigestUpdate(md, payload.p, payload.n) &&
              EVP_DigestFinal_ex(md, digest, &dlen) && dlen == 32;
    EVP_MD_CTX_free(md);
    if (!ok)
        return false;
    char hexdigest[65], sts[256], got[65];
    to_hex(digest, 32, hexdigest);
    int n = snprintf(sts, sizeof sts, "%s\n%s\n%s/%s/%s/%s\n%s", ALGORITHM, c->amz_date,
                     c->date, c->region, c->service, SCOPE_TERM, hexdigest);
    if (n < 0 || (size_t)n >= sizeof sts || !hmac256(k, 32, span_of(sts, (size_t)n), mac))
        return false;
    to_hex(mac, 32, got);
    return CRYPTO_memcmp(got, c->signature, 64) == 0;
}

/* Payload hashes the signer may have used: x-amz-content-sha256 when sent
 * (incl. UNSIGNED-PAYLOAD); for a presigned URL UNSIGNED-PAYLOAD (S3 style)
 * or the body's hash (botocore's SigV4QueryAuth for other services); else
 * the body's hash. */
static bool body_sha256_hex(const nb_sigv4_request *req, char out[65])
{
    unsigned char d[32];
    unsigned int dlen = 0;
    if (!EVP_Digest(req->body ? (const void *)req->body : "", req->body ? req->body_len : 0,
                    d, &dlen, EVP_sha256(), NULL) ||
        dlen != 32)
        return false;
    to_hex(d, 32, out);
    return true;
}

/* A hex x-amz-content-sha256 is signed instead of the body, so it must be
 * the body's hash (S3's XAmzContentSHA256Mismatch); UNSIGNED-PAYLOAD and
 * the STREAMING-* forms are taken as they are (chunk signatures of
 * aws-chunked bodies are not checked here). */
static bool content_hash_consistent(span v, const char body_hex[65])
{
    if (v.n != 64)
        return true;
    for (size_t i = 0; i < 64; i++)
        if (hex_val((unsigned char)v.p[i]) < 0)
            return true;
    bool same = true;
    for (size_t i = 0; i < 64; i++)
        same &= lower((unsigned char)v.p[i]) == body_hex[i];
    return same;
}

/* Returns the number of candidates, 0 when none can match. */
static int payload_candidates(const nb_sigv4_request *req, const nb_sigv4_cred *c,
                              char body_hex[65], span out[2])
{
    if (!body_sha256_hex(req, body_hex))
        return 0;
    const nb_sigv4_header *h = find_header(req, "x-amz-content-sha256");
    if (h) {
        out[0] = header_value(h);
        return content_hash_consistent(out[0], body_hex) ? 1 : 0;
    }
    out[0] = span_of(body_hex, 64);
    if (!c->presigned)
        return 1;
    out[1] = out[0];
    out[0] = span_str(UNSIGNED_PAYLOAD);
    return 2;
}

static nb_sigv4_result check_signature(const nb_sigv4_request *req, const nb_sigv4_cred *c,
                                       const char *secret)
{
    unsigned char k[32];
    char body_hex[65];
    span cand[2];
    int ncand = payload_candidates(req, c, body_hex, cand);
    EVP_MD_CTX *prefix = EVP_MD_CTX_new();
    bool ok = false;
    if (prefix && ncand > 0 && hash_canonical_prefix(prefix, req, c) &&
        signing_key(secret, c, k)) {
        for (int i = 0; i < ncand && !ok; i++)
            ok = signature_matches(prefix, cand[i], k, c);
    }
    OPENSSL_cleanse(k, sizeof k);
    EVP_MD_CTX_free(prefix);
    return ok ? NB_SIGV4_OK : NB_SIGV4_MISMATCH;
}

/* ---------- verification ---------- */

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* The cred may come from elsewhere than nb_sigv4_parse: re-check it. */
static bool cred_sane(const nb_sigv4_cred *c)
{
    if (!terminated(c->access_key, sizeof c->access_key) ||
        !terminated(c->date, sizeof c->date) || !terminated(c->region, sizeof c->region) ||
        !terminated(c->service, sizeof c->service) ||
        !terminated(c->amz_date, sizeof c->amz_date) ||
        !terminated(c->signed_headers, sizeof c->signed_headers) ||
        !terminated(c->signature, sizeof c->signature))
        return false;
    return strlen(c->signature) == 64 && strlen(c->date) == 8 &&
           strncmp(c->date, c->amz_date, 8) == 0;
}

static nb_sigv4_result check_time(const nb_sigv4_cred *c, int64_t t, int64_t now)
{
    if (c->presigned && c->expires >= 0) {
        if (c->expires > MAX_EXPIRES)
            return NB_SIGV4_MALFORMED;
        if (now > t + c->expires)
            return NB_SIGV4_EXPIRED;
        /* Not yet valid: AWS refuses a presign dated in the future too. */
        return now < t - MAX_SKEW ? NB_SIGV4_SKEWED : NB_SIGV4_OK;
    }
    if (now > t + MAX_SKEW || now < t - MAX_SKEW)
        return NB_SIGV4_SKEWED;
    return NB_SIGV4_OK;
}

nb_sigv4_result nb_sigv4_verify(const nb_sigv4_request *req, const nb_sigv4_cred *cred,
                                const char *secret, int64_t now)
{
    if (!cred || !cred->present)
        return NB_SIGV4_MISSING;
    if (!secret || strlen(secret) > MAX_SECRET)
        return NB_SIGV4_UNKNOWN_KEY;
    int64_t t;
    if (!cred_sane(cred) || !amz_date_epoch(span_str(cred->amz_date), &t))
        return NB_SIGV4_MALFORMED;
    nb_sigv4_result r = check_time(cred, t, now);
    if (r != NB_SIGV4_OK)
        return r;
    return check_signature(req, cred, secret);
}
