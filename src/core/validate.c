/*
 * validate.c — central input validation from the model: required members,
 * enums, string lengths (in characters), list/map sizes and numeric ranges,
 * checked before any handler runs.
 *
 * Messages follow AWS: JSON services answer ValidationException with
 * "N validation error(s) detected: Value ... at 'path' failed to satisfy
 * constraint: ..."; SQS (query-compatible) answers MissingParameter /
 * InvalidParameterValue; other query services ValidationError.
 */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "codec.h"
#include "nimbus.h"

#define MAX_ERRORS 10

typedef struct {
    const nb_model *m;
    int nerr;
    nb_buf msg;
    bool missing_only;   /* first error was a missing required member */
    char first_member[128];
    bool first_missing;
} vctx;

void nb_err_set(nb_error *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    snprintf(e->code, sizeof e->code, "%s", code);
    e->status = status;
    e->sender = status < 500;
}

static void add_error(vctx *v, const char *path, bool missing, const char *fmt, ...)
{
    if (v->nerr == 0) {
        const char *leaf = strrchr(path, '.');
        snprintf(v->first_member, sizeof v->first_member, "%s", leaf ? leaf + 1 : path);
        v->first_missing = missing;
    }
    if (v->nerr++ >= MAX_ERRORS)
        return;
    if (v->msg.len)
        nb_buf_adds(&v->msg, "; ");
    va_list ap;
    va_start(ap, fmt);
    char tmp[600];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    nb_buf_adds(&v->msg, tmp);
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

/* Where a value sits: a chain of member names, rendered only for an error.
 * AWS paths use each member name with a lower-case first letter. */
typedef struct vpath {
    const struct vpath *up;
    const char *name;
} vpath;

static void path_text(const vpath *p, char *out, size_t n)
{
    const char *names[72];
    int k = 0;
    for (; p && k < 72; p = p->up)
        names[k++] = p->name;
    size_t at = 0;
    out[0] = 0;
    while (k-- > 0 && at + 2 < n) {
        if (at)
            out[at++] = '.';
        size_t start = at;
        at += nb_copy(out + at, n - at, names[k], strlen(names[k]));
        out[start] = (char)tolower((unsigned char)out[start]);
    }
}

static void check(vctx *v, uint32_t si, json_object *val, const vpath *path, int depth);

/* Model patterns.  AWS matches the whole value.  The models write Java
 * regular expressions; those without escapes (the ones that matter, such as
 * DynamoDB's "[a-zA-Z0-9_.-]+") mean the same as POSIX EREs, so they are
 * compiled once, anchored, and enforced; patterns with escapes (\p{..},
 * \uXXXX) are left advisory. */
#define MAX_PATTERNS 64
static struct {
    const char *src;
    regex_t re;
    bool ok;
} g_pat[MAX_PATTERNS];
static int g_npat;

static const regex_t *pattern_regex(const char *src)
{
    for (int i = 0; i < g_npat; i++)
        if (g_pat[i].src == src)
            return g_pat[i].ok ? &g_pat[i].re : NULL;
    if (g_npat == MAX_PATTERNS || strchr(src, '\\'))
        return NULL;
    char full[512];
    snprintf(full, sizeof full, "^(%s)$", src);
    int i = g_npat++;
    g_pat[i].src = src;
    g_pat[i].ok = regcomp(&g_pat[i].re, full, REG_EXTENDED | REG_NOSUB) == 0;
    return g_pat[i].ok ? &g_pat[i].re : NULL;
}

void nb_validate_free(void)
{
    for (int i = 0; i < g_npat; i++)
        if (g_pat[i].ok)
            regfree(&g_pat[i].re);
    g_npat = 0;
}

static void check_pattern(vctx *v, const nb_shape *s, json_object *val, const vpath *vp)
{
    const regex_t *re = pattern_regex(s->pattern);
    const char *str = json_object_get_string(val);
    if (!re || strlen(str) != (size_t)json_object_get_string_len(val) ||
        regexec(re, str, 0, NULL, 0) == 0)
        return;
    char path[512];
    path_text(vp, path, sizeof path);
    add_error(v, path, false,
              "Value '%.100s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s",
              str, path, s->pattern);
}

static void check_value_text(char *out, size_t n, json_object *val)
{
    if (json_object_is_type(val, json_type_string))
        snprintf(out, n, "'%.100s'", json_object_get_string(val));
    else if (json_object_is_type(val, json_type_array) || json_object_is_type(val, json_type_object))
        snprintf(out, n, "'%.100s'", json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
    else
        snprintf(out, n, "'%.60s'", json_object_get_string(val));
}

/* Members of a structure value, in model order: for each model member the
 * value present or NULL.  Objects with few keys (a DynamoDB AttributeValue
 * has one of ten) are matched key by key instead of looking up every
 * member, which was most of the validation of an item. */
#define SPARSE_MAX 16

static void check_struct(vctx *v, const nb_shape *s, json_object *val, const vpath *path, int depth)
{
    if (!json_object_is_type(val, json_type_object) || (s->flags & NB_S_DOCUMENT))
        return;
    int nkeys = json_object_object_length(val);
    json_object *present[SPARSE_MAX];
    uint32_t at[SPARSE_MAX];
    int np = 0;
    bool sparse = nkeys <= SPARSE_MAX && (uint32_t)nkeys * 2 < s->count;
    if (sparse) {
        json_object_object_foreach(val, k, kv)
        {
            int mi = kv ? nb_model_member(v->m, s, k, strlen(k)) : -1;
            if (mi < 0)
                continue;
            int j = np++;
            for (; j > 0 && at[j - 1] > (uint32_t)mi; j--) {
                at[j] = at[j - 1];
                present[j] = present[j - 1];
            }
            at[j] = (uint32_t)mi;
            present[j] = kv;
        }
    }
    int next = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        const nb_member *mem = &v->m->members[s->first + i];
        json_object *mv = NULL;
        bool has;
        if (sparse) {
            has = next < np && at[next] == s->first + i;
            if (has)
                mv = present[next++];
            else if (!(mem->flags & NB_M_REQUIRED))
                continue;
        } else {
            has = json_object_object_get_ex(val, mem->name, &mv) && mv;
        }
        vpath sub = {path, mem->name};
        if (!has) {
            if (mem->flags & NB_M_REQUIRED) {
                char txt[512];
                path_text(&sub, txt, sizeof txt);
                add_error(v, txt, true,
                          "Value null at '%s' failed to satisfy constraint: Member must not be null",
                          txt);
            }
            continue;
        }
        check(v, mem->shape, mv, &sub, depth + 1);
    }
}

static void check_size(vctx *v, const nb_shape *s, json_object *val, const vpath *vp, size_t n,
                       const char *what)
{
    bool low = (s->flags & NB_S_HAS_MIN) && (int64_t)n < s->min;
    bool high = !low && (s->flags & NB_S_HAS_MAX) && (int64_t)n > s->max;
    if (!low && !high)
        return; /* the path is rendered only for an error */
    char path[512];
    path_text(vp, path, sizeof path);
    char txt[160];
    check_value_text(txt, sizeof txt, val);
    if (low)
        add_error(v, path, false,
                  "Value %s at '%s' failed to satisfy constraint: Member must have %s greater than or equal to %lld",
                  txt, path, what, (long long)s->min);
    else
        add_error(v, path, false,
                  "Value %s at '%s' failed to satisfy constraint: Member must have %s less than or equal to %lld",
                  txt, path, what, (long long)s->max);
}

static void check_enum(vctx *v, const nb_shape *s, json_object *val, const vpath *vp)
{
    char path[512];
    const char *str = json_object_get_string(val);
    for (uint16_t i = 0; i < s->nenums; i++)
        if (strcmp(s->enums[i], str) == 0)
            return;
    path_text(vp, path, sizeof path);
    nb_buf set = {0};
    for (uint16_t i = 0; i < s->nenums && set.len < 400; i++) {
        nb_buf_adds(&set, i ? ", " : "");
        nb_buf_adds(&set, s->enums[i]);
    }
    add_error(v, path, false,
              "Value '%.100s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
              str, path, set.data ? set.data : "");
    nb_buf_free(&set);
}

static void check_number(vctx *v, const nb_shape *s, json_object *val, const vpath *vp)
{
    if (!(s->flags & (NB_S_HAS_MIN | NB_S_HAS_MAX)))
        return;
    double x = json_object_get_double(val);
    bool low = (s->flags & NB_S_HAS_MIN) && x < (double)s->min;
    bool high = !low && (s->flags & NB_S_HAS_MAX) && x > (double)s->max;
    if (!low && !high)
        return;
    char path[512];
    path_text(vp, path, sizeof path);
    if (low)
        add_error(v, path, false,
                  "Value '%s' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %lld",
                  json_object_get_string(val), path, (long long)s->min);
    else
        add_error(v, path, false,
                  "Value '%s' at '%s' failed to satisfy constraint: Member must have value less than or equal to %lld",
                  json_object_get_string(val), path, (long long)s->max);
}

static void check(vctx *v, uint32_t si, json_object *val, const vpath *path, int depth)
{
    const nb_shape *s = &v->m->shapes[si];
    if (depth > 128)
        return;
    switch (s->type) {
    case NB_T_STRUCTURE:
        check_struct(v, s, val, path, depth);
        return;
    case NB_T_LIST: {
        if (!json_object_is_type(val, json_type_array))
            return;
        size_t n = json_object_array_length(val);
        check_size(v, s, val, path, n, "length");
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(val, i);
            if (e)
                check(v, v->m->members[s->first].shape, e, path, depth + 1);
        }
        return;
    }
    case NB_T_MAP: {
        if (!json_object_is_type(val, json_type_object))
            return;
        check_size(v, s, val, path, (size_t)json_object_object_length(val), "length");
        json_object_object_foreach(val, k, mv)
        {
            json_object *ks = json_object_new_string(k);
            check(v, v->m->members[s->first].shape, ks, path, depth + 1);
            json_object_put(ks);
            if (mv)
                check(v, v->m->members[s->first + 1].shape, mv, path, depth + 1);
        }
        return;
    }
    case NB_T_STRING:
        if (!json_object_is_type(val, json_type_string))
            return;
        if (s->flags & (NB_S_HAS_MIN | NB_S_HAS_MAX)) {
            /* n bytes are at most n characters (utf8_chars counts the
             * bytes that are not continuation bytes): count them only
             * when a minimum applies or n exceeds the maximum. */
            size_t n = (size_t)json_object_get_string_len(val);
            bool low_ok = !(s->flags & NB_S_HAS_MIN) || s->min <= 0;
            bool high_ok = !(s->flags & NB_S_HAS_MAX) || (int64_t)n <= s->max;
            if (!low_ok || !high_ok)
                check_size(v, s, val, path, utf8_chars(json_object_get_string(val), n), "length");
        }
        /* Query-era services (SQS, STS, ...) treat their model enums as
         * advisory and validate values themselves (SQS answers
         * InvalidAttributeName, and accepts system attribute names in
         * ReceiveMessage's AttributeNames); JSON services enforce them. */
        if (s->nenums && !(v->m->protocols & NB_P_QUERY))
            check_enum(v, s, val, path);
        if (s->pattern && !(v->m->protocols & NB_P_QUERY))
            check_pattern(v, s, val, path);
        return;
    case NB_T_BLOB:
        check_size(v, s, val, path, (size_t)json_object_get_string_len(val), "length");
        return;
    case NB_T_INTEGER:
    case NB_T_LONG:
    case NB_T_FLOAT:
    case NB_T_DOUBLE:
        check_number(v, s, val, path);
        return;
    default:
        return;
    }
}

int nb_validate(const nb_model *m, int shape, json_object *val, nb_error *err)
{
    if (shape < 0 || !val)
        return 0;
    vctx v = {.m = m};
    check(&v, (uint32_t)shape, val, NULL, 0);
    if (v.nerr == 0)
        return 0;
    bool query_only = (m->protocols & NB_P_QUERY) && !(m->protocols & NB_P_JSON);
    if (m->query_compatible) {
        /* SQS's own wording. */
        char name[128];
        snprintf(name, sizeof name, "%s", v.first_member);
        if (name[0])
            name[0] = (char)toupper((unsigned char)name[0]);
        if (v.first_missing)
            nb_err_set(err, 400, "MissingParameter", "The request must contain the parameter %s.", name);
        else
            nb_err_set(err, 400, "InvalidParameterValue", "%s", v.msg.data + (v.msg.len > 0 ? 0 : 0));
    } else {
        nb_err_set(err, 400, query_only ? "ValidationError" : "ValidationException",
                   "%d validation error%s detected: %s", v.nerr, v.nerr > 1 ? "s" : "", v.msg.data);
    }
    nb_buf_free(&v.msg);
    return -1;
}

/* ---- timestamps ---------------------------------------------------------- */

void nb_iso8601(double secs, char out[32])
{
    time_t t = (time_t)floor(secs);
    int ms = (int)llround((secs - floor(secs)) * 1000.0);
    if (ms >= 1000) {
        t += 1;
        ms -= 1000;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", date, ms % 1000);
}

int nb_parse_timestamp(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end == 0 && isfinite(d) && buf[0] != '-' ) {
        *out = d;
        return 0;
    }
    struct tm tm = {0};
    const char *p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    double frac = 0;
    if (*p == '.') {
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q == p + 1)
            return -1;
        double scale = 0.1;
        for (const char *dg = p + 1; dg < q; dg++, scale /= 10)
            frac += (*dg - '0') * scale;
        p = q;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        for (int k = 1; k <= 5; k++)
            if (k == 3 ? p[k] != ':' : (p[k] < '0' || p[k] > '9'))
                return -1;
        hh = (p[1] - '0') * 10 + (p[2] - '0');
        mm = (p[4] - '0') * 10 + (p[5] - '0');
        int off = (hh * 60 + mm) * 60;
        tm.tm_sec -= (*p == '+') ? off : -off;
        p += 6;
    }
    if (*p)
        return -1;
    *out = (double)timegm(&tm) + frac;
    return 0;
}
