/*
 * apigw_route.c — HTTP API route keys: checking them when a route is
 * created or updated, and matching requests against them.
 *
 * A route key is "$default" or "METHOD /path".  The path is "/" or
 * "/seg/seg...", each segment a literal (no braces, no whitespace), a
 * path variable "{name}" (one whole segment) or, as the last segment
 * only, a greedy variable "{name+}" that takes one or more segments.
 *
 * Matching (the request path after the stage): literals compare exactly,
 * a variable takes one non-empty segment, a greedy variable the rest
 * (non-empty).  Precedence, as AWS documents it: the most specific path
 * wins, segment by segment (literal, then variable, then greedy), then a
 * named method over ANY; $default only when nothing else matches.  The
 * score string encodes exactly that order for strcmp.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "apigw_internal.h"
#include "core/buf.h"
#include "core/codec.h"

static const char *const METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE",
                                      "HEAD", "OPTIONS", "ANY", NULL};

/* Segment kinds, as score characters. */
#define SEG_GREEDY 'a'
#define SEG_VAR 'b'
#define SEG_LIT 'c'

/* The kind of segment s[0..n), or 0 when it is malformed. */
static char seg_kind(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] != '{') {
        for (size_t i = 0; i < n; i++)
            if (s[i] == '{' || s[i] == '}' || isspace((unsigned char)s[i]) || s[i] == '?' ||
                s[i] == '#' || (unsigned char)s[i] < 0x20)
                return 0;
        return SEG_LIT;
    }
    if (n < 3 || s[n - 1] != '}')
        return 0;
    bool greedy = s[n - 2] == '+';
    size_t end = n - 1 - (greedy ? 1 : 0);
    if (end <= 1)
        return 0;
    for (size_t i = 1; i < end; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return greedy ? SEG_GREEDY : SEG_VAR;
}

int ag_route_key_check(const char *key, char *err, size_t errn)
{
    if (strcmp(key, "$default") == 0)
        return 0;
    const char *sp = strchr(key, ' ');
    bool method_ok = false;
    for (int i = 0; sp && METHODS[i]; i++)
        method_ok = method_ok || ((size_t)(sp - key) == strlen(METHODS[i]) &&
                                  memcmp(key, METHODS[i], (size_t)(sp - key)) == 0);
    if (!sp || !method_ok || sp[1] != '/') {
        snprintf(err, errn, "Invalid route key: %s. A route key must be $default or an HTTP "
                            "method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY), a space "
                            "and a resource path starting with /", key);
        return -1;
    }
    const char *p = sp + 1;
    if (strcmp(p, "/") == 0)
        return 0;
    char names[AG_MAX_SEGS][130];
    int nvars = 0, nsegs = 0;
    while (*p == '/') {
        const char *s = p + 1, *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char k = seg_kind(s, n);
        if (!k || ++nsegs > AG_MAX_SEGS) {
            snprintf(err, errn, "Invalid route key: %s. Path segments must be literals, {name} or "
                                "a last {name+}", key);
            return -1;
        }
        if (k == SEG_GREEDY && e) {
            snprintf(err, errn, "Invalid route key: %s. A greedy path variable must be the last "
                                "path segment", key);
            return -1;
        }
        if (k != SEG_LIT) {
            size_t nl = n - 2 - (k == SEG_GREEDY ? 1 : 0);
            if (nl >= sizeof names[0]) {
                snprintf(err, errn, "Invalid route key: %s. Path variable name too long", key);
                return -1;
            }
            for (int i = 0; i < nvars; i++)
                if (strlen(names[i]) == nl && memcmp(names[i], s + 1, nl) == 0) {
                    snprintf(err, errn, "Invalid route key: %s. Duplicate path variable %.*s", key,
                             (int)nl, s + 1);
                    return -1;
                }
            nb_copy(names[nvars++], sizeof names[0], s + 1, nl);
        }
        p = s + n;
    }
    return 0;
}

static void put_param(json_object *params, const char *seg, size_t sn, const char *v, size_t vn)
{
    if (!params)
        return;
    size_t nl = sn - 2 - (seg[sn - 2] == '+' ? 1 : 0);
    char name[130];
    nb_copy(name, sizeof name, seg + 1, nl);
    nb_buf d = {0};
    if (nb_url_decode(&d, v, vn, 0) != 0) {
        d.len = 0;
        nb_buf_add(&d, v, vn);
    }
    json_object_object_add(params, name, json_object_new_string_len(d.data ? d.data : "",
                                                                     (int)d.len));
    nb_buf_free(&d);
}

char *ag_route_match(const char *key, const char *method, const char *path, size_t n,
                     json_object *params)
{
    if (strcmp(key, "$default") == 0)
        return nb_strdup("");
    const char *sp = strchr(key, ' ');
    if (!sp)
        return NULL;
    size_t ml = (size_t)(sp - key);
    bool any = ml == 3 && memcmp(key, "ANY", 3) == 0;
    if (!any && (strlen(method) != ml || memcmp(key, method, ml) != 0))
        return NULL;
    if (n == 0)
        path = "/", n = 1;
    const char *rp = sp + 1, *q = path, *qend = path + n;
    char score[AG_MAX_SEGS + 3];
    size_t sl = 0;
    score[sl++] = '1';  /* anything beats $default ("") */
    if (strcmp(rp, "/") == 0) {
        if (n != 1)
            return NULL;
    } else {
        while (*rp == '/') {
            const char *s = rp + 1, *e = strchr(s, '/');
            size_t sn = e ? (size_t)(e - s) : strlen(s);
            char k = seg_kind(s, sn);
            if (!k || q >= qend || *q != '/' || sl >= AG_MAX_SEGS + 1)
                return NULL;
            const char *v = q + 1, *ve = memchr(v, '/', (size_t)(qend - v));
            if (!ve)
                ve = qend;
            if (k == SEG_GREEDY) {
                if (v >= qend)
                    return NULL;
                put_param(params, s, sn, v, (size_t)(qend - v));
                q = qend;
            } else if (k == SEG_VAR) {
                if (ve == v)
                    return NULL;
                put_param(params, s, sn, v, (size_t)(ve - v));
                q = ve;
            } else {
                if ((size_t)(ve - v) != sn || memcmp(v, s, sn) != 0)
                    return NULL;
                q = ve;
            }
            score[sl++] = k;
            rp = s + sn;
        }
        if (q != qend)
            return NULL;
    }
    score[sl++] = any ? '1' : '2';
    score[sl] = 0;
    return nb_strdup(score);
}

/* ---- Lambda integration URIs ----------------------------------------------- */

static bool fn_arn_ok(const char *s, size_t n)
{
    /* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] */
    const char *end = s + n, *f[6];
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        if (!c)
            return false;
        f[i] = p;
        p = c + 1;
    }
    /* f: "arn:", "aws:", "lambda:", "REGION:", "ACCOUNT:", "function:NAME..." */
    if (f[1] - f[0] != 4 || memcmp(f[0], "arn:", 4) != 0 || f[3] - f[2] != 7 ||
        memcmp(f[2], "lambda:", 7) != 0 || f[4] - f[3] < 2 || f[5] - f[4] != 13 ||
        end - f[5] < 10 || memcmp(f[5], "function:", 9) != 0)
        return false;
    for (const char *a = f[4]; a < f[4] + 12; a++)
        if (!isdigit((unsigned char)*a))
            return false;
    const char *name = f[5] + 9, *colon = memchr(name, ':', (size_t)(end - name));
    const char *ne = colon ? colon : end;
    if (ne == name || ne - name > 64)
        return false;
    for (const char *c = name; c < ne; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
            return false;
    if (colon) {
        const char *q = colon + 1;
        if (q == end || end - q > 128)
            return false;
        for (const char *c = q; c < end; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '$')
                return false;
    }
    return true;
}

bool ag_lambda_target(const char *uri, char *arn, size_t n)
{
    static const char PATH[] = ":lambda:path/2015-03-31/functions/";
    static const char TAIL[] = "/invocations";
    size_t len = strlen(uri);
    const char *s = uri;
    if (strncmp(uri, "arn:aws:apigateway:", 19) == 0) {
        const char *m = strstr(uri + 19, PATH);
        size_t tl = sizeof TAIL - 1;
        if (!m || len < tl || strcmp(uri + len - tl, TAIL) != 0)
            return false;
        s = m + sizeof PATH - 1;
        len = (size_t)(uri + len - tl - s);
        if ((ssize_t)len <= 0)
            return false;
    }
    if (len >= n || !fn_arn_ok(s, len))
        return false;
    nb_copy(arn, n, s, len);
    return true;
}
