/*
 * codec_restjson.c — the AWS restJson1 protocol (Lambda, API Gateway, ...).
 *
 * Each input member travels where the model's `location` puts it:
 *
 *   uri          a {Label} of the operation's requestUri (percent-decoded;
 *                a greedy {Label+} spans several segments)
 *   querystring  a query parameter (lists repeat the key; a map member
 *                takes every parameter no other member names)
 *   header       a header: strings as is (jsonvalue: base64 of JSON text),
 *                numbers and booleans as text, timestamps as RFC 7231
 *                dates, blobs as base64, lists comma-separated
 *   headers      a map of the headers whose names start with a prefix
 *   (body)       the remaining members, as a JSON object decoded exactly
 *                like awsJson (codec_json.c: SerializationException on a
 *                type mismatch, blobs base64, timestamps epoch seconds);
 *                or, when the structure names a payload member, the whole
 *                body: raw bytes for a blob/string, JSON for a structure.
 *
 * Handlers see the usual value tree (service.h): every member under its
 * model name, whatever its location.  Output goes the same way in reverse:
 * the status from the operation (or a statusCode member), header members
 * as headers, the rest (or the payload) as the body.  Errors carry the
 * error shape's HTTP status, `X-Amzn-ErrorType: Code` (what the SDKs read
 * first) and a JSON body with the message under the error shape's own
 * member name ("Message" or "message"), "Type": "User"/"Service" when the
 * shape has that member (Lambda), and any detail members.
 *
 * Routing (nb_rest_route): one table per model, built on first use, with
 * the operations sorted by method and then by specificity.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec.h"
#include "nimbus.h"

/* ---- URI templates ------------------------------------------------------ */

static size_t tmpl_path_len(const char *t)
{
    const char *q = strchr(t, '?');
    return q ? (size_t)(q - t) : strlen(t);
}

/* Whether the raw query has key (and, when val is given, that value). */
static bool query_has(const char *q, size_t qlen, const char *key, size_t klen, const char *val,
                      size_t vlen)
{
    size_t i = 0;
    while (i < qlen) {
        size_t j = i;
        while (j < qlen && q[j] != '&')
            j++;
        const char *eq = memchr(q + i, '=', j - i);
        size_t kl = eq ? (size_t)(eq - (q + i)) : j - i;
        if (kl == klen && memcmp(q + i, key, klen) == 0) {
            if (!val)
                return true;
            size_t vl = eq ? (size_t)(q + j - eq - 1) : 0;
            if (vl == vlen && (vlen == 0 || memcmp(eq + 1, val, vlen) == 0))
                return true;
        }
        i = j + 1;
    }
    return false;
}

/* The template's query literals ("a&b=c" after '?') are all in the query. */
static bool query_literals(const char *t, const char *q, size_t qlen)
{
    while (*t) {
        const char *amp = strchr(t, '&');
        size_t n = amp ? (size_t)(amp - t) : strlen(t);
        const char *eq = memchr(t, '=', n);
        if (n > 0) {
            bool ok = eq ? query_has(q, qlen, t, (size_t)(eq - t), eq + 1, (size_t)(t + n - eq - 1))
                         : query_has(q, qlen, t, n, NULL, 0);
            if (!ok)
                return false;
        }
        t += n + (amp ? 1 : 0);
    }
    return true;
}

int nb_rest_match(const char *tmpl, const char *path, size_t plen, const char *query,
                  size_t qlen, nb_rest_label *labels, int max)
{
    size_t tl = tmpl_path_len(tmpl), i = 0, j = 0;
    int n = 0;
    while (i < tl) {
        if (tmpl[i] != '{') {
            if (j >= plen || path[j] != tmpl[i]) {
                /* One trailing '/' of the template may be missing. */
                if (j == plen && i + 1 == tl && tmpl[i] == '/')
                    break;
                return -1;
            }
            i++;
            j++;
            continue;
        }
        const char *close = memchr(tmpl + i, '}', tl - i);
        if (!close)
            return -1;
        const char *name = tmpl + i + 1;
        size_t nlen = (size_t)(close - name);
        bool greedy = nlen > 0 && name[nlen - 1] == '+';
        if (greedy)
            nlen--;
        i = (size_t)(close - tmpl) + 1;
        size_t start = j, end = j;
        if (greedy) {
            /* What follows a greedy label is literal and matches the tail. */
            size_t rest = tl - i;
            if (memchr(tmpl + i, '{', rest) || plen - j < rest + 1)
                return -1;
            end = plen - rest;
            if (memcmp(path + end, tmpl + i, rest) != 0)
                return -1;
            i = tl;
            j = plen;
        } else {
            /* One segment, or up to the literal character that follows. */
            char stop = i < tl && tmpl[i] != '/' && tmpl[i] != '{' ? tmpl[i] : '/';
            while (end < plen && path[end] != '/' && path[end] != stop)
                end++;
            if (end == start)
                return -1;
        }
        if (!greedy)
            j = end;
        if (labels && n < max)
            labels[n] = (nb_rest_label){name, path + start, nlen, end - start};
        n++;
    }
    /* One trailing '/' of the path may be extra. */
    if (j < plen && !(j + 1 == plen && path[j] == '/'))
        return -1;
    if (tmpl[tl] == '?' && !query_literals(tmpl + tl + 1, query, qlen))
        return -1;
    return n < max || !labels ? n : max;
}

/* Specificity: literal characters count, a greedy label loses ties. */
static int tmpl_score(const char *t)
{
    int lit = 0, greedy = 0, in = 0;
    for (; *t; t++) {
        if (*t == '{')
            in = 1;
        else if (*t == '}') {
            in = 0;
            greedy |= t[-1] == '+';
        } else if (!in)
            lit++;
    }
    return lit * 2 - greedy;
}

/* ---- routing tables ------------------------------------------------------ */

typedef struct {
    const nb_operation *op;
    int score;
} route_entry;

typedef struct {
    const nb_model *m;
    route_entry *e;
    uint32_t n;
} route_table;

#define MAX_TABLES 64
static route_table tables[MAX_TABLES];
static int ntables;

static int entry_cmp(const void *a, const void *b)
{
    const route_entry *x = a, *y = b;
    int c = strcmp(x->op->method, y->op->method);
    if (c)
        return c;
    if (x->score != y->score)
        return y->score - x->score;
    return strcmp(x->op->name, y->op->name);
}

static route_table *table_of(const nb_model *m)
{
    for (int i = 0; i < ntables; i++)
        if (tables[i].m == m)
            return &tables[i];
    if (ntables == MAX_TABLES)
        return NULL;
    route_table *t = &tables[ntables++];
    t->m = m;
    t->n = m->nops;
    t->e = nb_calloc(m->nops ? m->nops : 1, sizeof *t->e);
    for (uint32_t i = 0; i < m->nops; i++)
        t->e[i] = (route_entry){&m->ops[i], tmpl_score(m->ops[i].uri ? m->ops[i].uri : "/")};
    qsort(t->e, t->n, sizeof *t->e, entry_cmp);
    return t;
}

const nb_operation *nb_rest_route(const nb_model *m, const char *method, const char *path,
                                  size_t plen, const char *query, size_t qlen)
{
    route_table *t = table_of(m);
    if (!t)
        return NULL;
    /* Lower bound of the method's run, then the most specific match. */
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (strcmp(t->e[mid].op->method, method) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint32_t i = lo; i < t->n && strcmp(t->e[i].op->method, method) == 0; i++)
        if (t->e[i].op->uri && nb_rest_match(t->e[i].op->uri, path, plen, query, qlen, NULL, 0) >= 0)
            return t->e[i].op;
    return NULL;
}

void nb_rest_free(void)
{
    for (int i = 0; i < ntables; i++)
        free(tables[i].e);
    memset(tables, 0, sizeof tables);
    ntables = 0;
}

/* ---- text values (labels, query, headers) ------------------------------- */

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static int parse_http_date(const char *s, size_t n, double *out)
{
    char buf[40], mon[4];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *comma = strchr(buf, ',');
    if (!comma)
        return -1;
    int d, y, hh, mm, ss, used = -1;
    if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm, &ss, &used) != 6 ||
        used < 0 || comma[1 + used] != 0)
        return -1;
    int mi = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0)
            mi = i;
    if (mi < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mi, .tm_mday = d,
                    .tm_hour = hh, .tm_min = mm, .tm_sec = ss};
    *out = (double)timegm(&tm);
    return 0;
}

static void http_date(double secs, char out[40])
{
    time_t t = (time_t)floor(secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int text_error(nb_error *err, const char *member, const char *want)
{
    nb_err_set(err, 400, "SerializationException", "Unexpected value type for %s: expected %s",
               member, want);
    return -1;
}

static bool parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    char buf[24];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *p = buf[0] == '-' ? buf + 1 : buf;
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A JSON document (jsonvalue headers), strict, any type. */
static json_object *parse_json_value(const char *s, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *v = json_tokener_parse_ex(tok, s, (int)n);
    bool ok = json_tokener_get_error(tok) == json_tokener_success && tok->char_offset == (int)n;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(v);
        return NULL;
    }
    /* JSON null is a valid document but not a value tree: an empty object. */
    return v ? v : json_object_new_object();
}

/* The scalar value of text s for member mem; -1 with err filled. */
static int scalar_of(const nb_model *m, const nb_member *mem, const char *s, size_t n,
                     bool header, json_object **out, nb_error *err)
{
    const nb_shape *sh = &m->shapes[mem->shape];
    switch (sh->type) {
    case NB_T_STRING:
        if (header && (mem->flags & NB_M_JSONVALUE)) {
            size_t rn = 0;
            unsigned char *raw = nb_base64_decode(s, n, &rn);
            *out = raw ? parse_json_value((const char *)raw, rn) : NULL;
            free(raw);
            return *out ? 0 : text_error(err, mem->name, "base64-encoded JSON");
        }
        *out = json_object_new_string_len(s, (int)n);
        return 0;
    case NB_T_INTEGER:
    case NB_T_LONG: {
        int64_t v;
        bool i32 = sh->type == NB_T_INTEGER;
        if (!parse_int(s, n, i32 ? INT32_MIN : INT64_MIN, i32 ? INT32_MAX : INT64_MAX, &v))
            return text_error(err, mem->name, "integer");
        *out = json_object_new_int64(v);
        return 0;
    }
    case NB_T_BOOLEAN:
        if (n == 4 && memcmp(s, "true", 4) == 0)
            *out = json_object_new_boolean(1);
        else if (n == 5 && memcmp(s, "false", 5) == 0)
            *out = json_object_new_boolean(0);
        else
            return text_error(err, mem->name, "boolean");
        return 0;
    case NB_T_FLOAT:
    case NB_T_DOUBLE: {
        char buf[64], *end;
        if (n == 0 || n >= sizeof buf)
            return text_error(err, mem->name, "number");
        memcpy(buf, s, n);
        buf[n] = 0;
        double d = strtod(buf, &end);
        if (*end || !isfinite(d) || isspace((unsigned char)buf[0]))
            return text_error(err, mem->name, "number");
        *out = json_object_new_double(d);
        return 0;
    }
    case NB_T_TIMESTAMP: {
        double t;
        if (nb_parse_timestamp(s, n, &t) != 0 && parse_http_date(s, n, &t) != 0)
            return text_error(err, mem->name, "timestamp");
        *out = json_object_new_double(t);
        return 0;
    }
    case NB_T_BLOB: {
        size_t rn = 0;
        unsigned char *raw = nb_base64_decode(s, n, &rn);
        if (!raw)
            return text_error(err, mem->name, "base64 string");
        *out = json_object_new_string_len((const char *)raw, (int)rn);
        free(raw);
        return 0;
    }
    default:
        return text_error(err, mem->name, "scalar");
    }
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct qpair {
    char *key, *val;
    size_t klen, vlen;
    bool used;
} qpair;

typedef struct {
    qpair *p;
    int n, cap;
} qlist;

static void qlist_free(qlist *q)
{
    for (int i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].val);
    }
    free(q->p);
}

/* Query pairs in request order (repeated keys keep their order). */
static int qlist_parse(qlist *q, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
            nb_buf k = {0}, v = {0};
            int bad = nb_url_decode(&k, s + i, klen, 1) ||
                      (eq && nb_url_decode(&v, eq + 1, (size_t)(s + j - eq - 1), 1));
            if (!bad && !k.data)
                nb_buf_add(&k, "", 0);
            if (!bad && !v.data)
                nb_buf_add(&v, "", 0);
            if (bad) {
                nb_buf_free(&k);
                nb_buf_free(&v);
                return -1;
            }
            if (q->n == q->cap) {
                q->cap = q->cap ? q->cap * 2 : 8;
                q->p = nb_realloc(q->p, (size_t)q->cap * sizeof *q->p);
            }
            q->p[q->n++] = (qpair){k.data, v.data, k.len, v.len, false};
        }
        i = j + 1;
    }
    return 0;
}

static const char *wire_of(const nb_member *mem) { return mem->wire ? mem->wire : mem->name; }

static int bind_labels(const nb_model *m, const nb_shape *s, const nb_operation *op,
                       const nb_req *r, json_object *root, nb_error *err)
{
    nb_rest_label lab[NB_REST_MAX_LABELS];
    int nl = op->uri ? nb_rest_match(op->uri, r->path, r->path_len, r->query, r->query_len, lab,
                                     NB_REST_MAX_LABELS)
                     : -1;
    for (uint32_t k = 0; k < s->count; k++) {
        const nb_member *mem = &m->members[s->first + k];
        if (mem->location != NB_LOC_URI)
            continue;
        const char *w = wire_of(mem);
        size_t wl = strlen(w);
        for (int i = 0; i < nl; i++) {
            if (lab[i].nlen != wl || memcmp(lab[i].name, w, wl) != 0)
                continue;
            nb_buf dec = {0};
            if (nb_url_decode(&dec, lab[i].val, lab[i].vlen, 0) != 0) {
                nb_buf_free(&dec);
                return text_error(err, mem->name, "percent-encoded text");
            }
            json_object *v = NULL;
            int rc = scalar_of(m, mem, dec.data ? dec.data : "", dec.len, false, &v, err);
            nb_buf_free(&dec);
            if (rc)
                return -1;
            json_object_object_add(root, mem->name, v);
            break;
        }
    }
    return 0;
}

/* Keys of the template's query literals ("?versions") are not members. */
static bool literal_key(const char *uri, const char *key, size_t klen)
{
    const char *q = uri ? strchr(uri, '?') : NULL;
    return q && query_has(q + 1, strlen(q + 1), key, klen, NULL, 0);
}

static int bind_query(const nb_model *m, const nb_shape *s, const nb_operation *op,
                      const nb_req *r, json_object *root, nb_error *err)
{
    qlist q = {0};
    if (qlist_parse(&q, r->query, r->query_len) != 0) {
        qlist_free(&q);
        nb_err_set(err, 400, "SerializationException", "The query string is malformed.");
        return -1;
    }
    int rc = 0;
    const nb_member *map_mem = NULL;
    for (uint32_t k = 0; k < s->count && rc == 0; k++) {
        const nb_member *mem = &m->members[s->first + k];
        if (mem->location != NB_LOC_QUERY)
            continue;
        const nb_shape *sh = &m->shapes[mem->shape];
        if (sh->type == NB_T_MAP) {
            map_mem = mem;
            continue;
        }
        const char *w = wire_of(mem);
        size_t wl = strlen(w);
        json_object *list = NULL;
        for (int i = 0; i < q.n && rc == 0; i++) {
            if (q.p[i].klen != wl || memcmp(q.p[i].key, w, wl) != 0)
                continue;
            q.p[i].used = true;
            if (sh->type == NB_T_LIST) {
                json_object *v = NULL;
                rc = scalar_of(m, &m->members[sh->first], q.p[i].val, q.p[i].vlen, false, &v, err);
                if (rc == 0) {
                    if (!list)
                        list = json_object_new_array();
                    json_object_array_add(list, v);
                }
            } else if (!nb_get(root, mem->name)) { /* the first one counts */
                json_object *v = NULL;
                rc = scalar_of(m, mem, q.p[i].val, q.p[i].vlen, false, &v, err);
                if (rc == 0)
                    json_object_object_add(root, mem->name, v);
            }
        }
        if (list && rc == 0)
            json_object_object_add(root, mem->name, list);
        else
            json_object_put(list);
    }
    if (map_mem && rc == 0) {
        /* Every other parameter: string values, or lists of them. */
        const nb_shape *ms = &m->shapes[map_mem->shape];
        const nb_shape *vs = &m->shapes[m->members[ms->first + 1].shape];
        json_object *map = json_object_new_object();
        for (int i = 0; i < q.n; i++) {
            if (q.p[i].used || literal_key(op->uri, q.p[i].key, q.p[i].klen) ||
                strncmp(q.p[i].key, "X-Amz-", 6) == 0 || memchr(q.p[i].key, 0, q.p[i].klen))
                continue;
            json_object *v = json_object_new_string_len(q.p[i].val, (int)q.p[i].vlen);
            if (vs->type == NB_T_LIST) {
                json_object *arr = nb_get(map, q.p[i].key);
                if (!arr) {
                    arr = json_object_new_array();
                    json_object_object_add(map, q.p[i].key, arr);
                }
                json_object_array_add(arr, v);
            } else if (!nb_get(map, q.p[i].key)) {
                json_object_object_add(map, q.p[i].key, v);
            } else {
                json_object_put(v);
            }
        }
        if (json_object_object_length(map))
            json_object_object_add(root, map_mem->name, map);
        else
            json_object_put(map);
    }
    qlist_free(&q);
    return rc;
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = 0;
}

/* A comma-separated header list; quoted strings may hold commas. */
static int header_list(const nb_model *m, const nb_member *elem, const char *s, size_t n,
                       json_object **out, nb_error *err)
{
    json_object *arr = json_object_new_array();
    size_t i = 0;
    while (i <= n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t start = i, end;
        nb_buf unq = {0};
        bool quoted = i < n && s[i] == '"';
        if (quoted) {
            for (i++; i < n && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                nb_buf_addc(&unq, s[i]);
            }
            i++; /* closing quote */
            end = i;
            while (i < n && s[i] != ',')
                i++;
        } else {
            while (i < n && s[i] != ',')
                i++;
            end = i;
            while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
                end--;
        }
        /* Timestamps (RFC 7231 dates) contain a comma of their own. */
        if (!quoted && m->shapes[elem->shape].type == NB_T_TIMESTAMP && i < n &&
            end - start == 3) {
            for (i++; i < n && s[i] != ','; i++)
                ;
            end = i;
        }
        json_object *v = NULL;
        int rc = quoted ? scalar_of(m, elem, unq.data ? unq.data : "", unq.len, true, &v, err)
                        : scalar_of(m, elem, s + start, end - start, true, &v, err);
        nb_buf_free(&unq);
        if (rc) {
            json_object_put(arr);
            return -1;
        }
        json_object_array_add(arr, v);
        i++; /* the comma */
    }
    *out = arr;
    return 0;
}

static int bind_headers(const nb_model *m, const nb_shape *s, const nb_req *r, json_object *root,
                        nb_error *err)
{
    for (uint32_t k = 0; k < s->count; k++) {
        const nb_member *mem = &m->members[s->first + k];
        char lname[128];
        lower_copy(lname, sizeof lname, wire_of(mem));
        if (mem->location == NB_LOC_HEADERS) {
            size_t pl = strlen(lname);
            json_object *map = NULL;
            for (int i = 0; i < r->nheaders; i++) {
                const nb_header *h = &r->headers[i];
                if (!h->name || strncmp(h->name, lname, pl) != 0 || !h->name[pl])
                    continue;
                if (!map)
                    map = json_object_new_object();
                json_object_object_add(map, h->name + pl,
                                       json_object_new_string_len(h->value, (int)h->vlen));
            }
            if (map)
                json_object_object_add(root, mem->name, map);
            continue;
        }
        if (mem->location != NB_LOC_HEADER)
            continue;
        size_t vlen = 0;
        const char *v = nb_req_header(r, lname, &vlen);
        if (!v)
            continue;
        json_object *o = NULL;
        const nb_shape *sh = &m->shapes[mem->shape];
        int rc = sh->type == NB_T_LIST ? header_list(m, &m->members[sh->first], v, vlen, &o, err)
                                       : scalar_of(m, mem, v, vlen, true, &o, err);
        if (rc)
            return -1;
        json_object_object_add(root, mem->name, o);
    }
    return 0;
}

static int payload_member(const nb_model *m, const nb_shape *s)
{
    for (uint32_t k = 0; k < s->count; k++)
        if (m->members[s->first + k].flags & NB_M_PAYLOAD)
            return (int)(s->first + k);
    return -1;
}

static bool has_body_members(const nb_model *m, const nb_shape *s)
{
    for (uint32_t k = 0; k < s->count; k++)
        if (m->members[s->first + k].location == NB_LOC_BODY)
            return true;
    return false;
}

static int decode_body(const nb_model *m, const nb_operation *op, const nb_req *r,
                       json_object **root, nb_error *err)
{
    const nb_shape *s = &m->shapes[op->input];
    int pi = payload_member(m, s);
    if (pi < 0) {
        if (!has_body_members(m, s) || r->body.len == 0) {
            *root = json_object_new_object();
            return 0;
        }
        if (nb_json_decode_text(m, op->input, r->body.data, r->body.len, root, err))
            return -1;
        /* Body keys named like located members are not those members. */
        for (uint32_t k = 0; k < s->count; k++)
            if (m->members[s->first + k].location != NB_LOC_BODY)
                json_object_object_del(*root, m->members[s->first + k].name);
        return 0;
    }
    const nb_member *pm = &m->members[pi];
    const nb_shape *ps = &m->shapes[pm->shape];
    *root = json_object_new_object();
    if (r->body.len == 0)
        return 0;
    json_object *v = NULL;
    if (ps->type == NB_T_BLOB || ps->type == NB_T_STRING) {
        v = json_object_new_string_len(r->body.data, (int)r->body.len);
    } else if (nb_json_decode_text(m, (int)pm->shape, r->body.data, r->body.len, &v, err)) {
        json_object_put(*root);
        *root = NULL;
        return -1;
    }
    json_object_object_add(*root, pm->name, v);
    return 0;
}

static int rj_decode(const nb_model *m, const nb_operation *op, nb_req *r, json_object **in,
                     nb_error *err)
{
    *in = NULL;
    if (op->input < 0) {
        *in = json_object_new_object();
        return 0;
    }
    const nb_shape *s = &m->shapes[op->input];
    json_object *root = NULL;
    if (decode_body(m, op, r, &root, err))
        return -1;
    if (bind_labels(m, s, op, r, root, err) || bind_query(m, s, op, r, root, err) ||
        bind_headers(m, s, r, root, err)) {
        json_object_put(root);
        return -1;
    }
    *in = root;
    return 0;
}

/* ---- encoding ----------------------------------------------------------- */

/* A response header; bytes that could end the line are dropped. */
static void put_header(nb_req *r, const char *name, const char *val, size_t n)
{
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == ':' || (unsigned char)*p >= 0x7f)
            return; /* not a token: never written */
    char *clean = nb_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)val[i];
        if (c >= 0x20 ? c != 0x7f : c == '\t')
            clean[k++] = (char)c;
    }
    clean[k] = 0;
    nb_resp_header(r, name, clean);
    free(clean);
}

static void timestamp_text(const nb_shape *sh, double t, nb_buf *b, bool header)
{
    const char *fmt = sh->timestamp_format;
    char txt[40];
    if (fmt ? strcmp(fmt, "iso8601") == 0 : !header) {
        nb_iso8601(t, txt);
    } else if (fmt && strcmp(fmt, "unixTimestamp") == 0) {
        if (t == floor(t))
            snprintf(txt, sizeof txt, "%.0f", t);
        else
            snprintf(txt, sizeof txt, "%.3f", t);
    } else {
        http_date(t, txt);
    }
    nb_buf_adds(b, txt);
}

/* Header text of a scalar value; false when v does not fit the shape. */
static bool scalar_text(const nb_model *m, const nb_member *mem, json_object *v, nb_buf *b)
{
    const nb_shape *sh = &m->shapes[mem->shape];
    char num[40];
    switch (sh->type) {
    case NB_T_STRING:
        if (mem->flags & NB_M_JSONVALUE) {
            nb_buf j = {0};
            nb_json_write(&j, v);
            char *b64 = nb_base64_encode(j.data, j.len, NULL);
            nb_buf_adds(b, b64);
            free(b64);
            nb_buf_free(&j);
            return true;
        }
        if (!json_object_is_type(v, json_type_string))
            return false;
        nb_buf_add(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return true;
    case NB_T_INTEGER:
    case NB_T_LONG:
        if (!json_object_is_type(v, json_type_int))
            return false;
        snprintf(num, sizeof num, "%" PRId64, json_object_get_int64(v));
        nb_buf_adds(b, num);
        return true;
    case NB_T_BOOLEAN:
        if (!json_object_is_type(v, json_type_boolean))
            return false;
        nb_buf_adds(b, json_object_get_boolean(v) ? "true" : "false");
        return true;
    case NB_T_FLOAT:
    case NB_T_DOUBLE:
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            return false;
        snprintf(num, sizeof num, "%.17g", json_object_get_double(v));
        nb_buf_adds(b, num);
        return true;
    case NB_T_TIMESTAMP:
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            return false;
        timestamp_text(sh, json_object_get_double(v), b, true);
        return true;
    case NB_T_BLOB: {
        if (!json_object_is_type(v, json_type_string))
            return false;
        char *b64 = nb_base64_encode(json_object_get_string(v),
                                     (size_t)json_object_get_string_len(v), NULL);
        nb_buf_adds(b, b64);
        free(b64);
        return true;
    }
    default:
        return false;
    }
}

static void header_value(const nb_model *m, const nb_member *mem, json_object *v, nb_req *r)
{
    const nb_shape *sh = &m->shapes[mem->shape];
    nb_buf b = {0};
    bool ok = true;
    if (sh->type == NB_T_LIST) {
        if (!json_object_is_type(v, json_type_array))
            return;
        const nb_member *elem = &m->members[sh->first];
        bool quote = m->shapes[elem->shape].type == NB_T_STRING;
        for (size_t i = 0, n = json_object_array_length(v); i < n && ok; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (i)
                nb_buf_add(&b, ", ", 2);
            const char *sv = quote && e ? json_object_get_string(e) : NULL;
            if (sv && (strchr(sv, ',') || strchr(sv, '"'))) {
                nb_buf_addc(&b, '"');
                for (; *sv; sv++) {
                    if (*sv == '"' || *sv == '\\')
                        nb_buf_addc(&b, '\\');
                    nb_buf_addc(&b, *sv);
                }
                nb_buf_addc(&b, '"');
            } else {
                ok = e && scalar_text(m, elem, e, &b);
            }
        }
    } else {
        ok = scalar_text(m, mem, v, &b);
    }
    if (ok)
        put_header(r, wire_of(mem), b.data ? b.data : "", b.len);
    nb_buf_free(&b);
}

/* Header, prefixed-header and status members of v (a structure of shape s). */
static void encode_located(const nb_model *m, const nb_shape *s, json_object *v, nb_req *r)
{
    for (uint32_t k = 0; k < s->count; k++) {
        const nb_member *mem = &m->members[s->first + k];
        json_object *val = mem->location == NB_LOC_BODY ? NULL : nb_get(v, mem->name);
        if (!val)
            continue;
        if (mem->location == NB_LOC_HEADER) {
            header_value(m, mem, val, r);
        } else if (mem->location == NB_LOC_HEADERS && json_object_is_type(val, json_type_object)) {
            json_object_object_foreach(val, hk, hv)
            {
                if (!hv || !json_object_is_type(hv, json_type_string))
                    continue;
                char name[256];
                snprintf(name, sizeof name, "%s%s", wire_of(mem), hk);
                put_header(r, name, json_object_get_string(hv),
                           (size_t)json_object_get_string_len(hv));
            }
        } else if (mem->location == NB_LOC_STATUS && json_object_is_type(val, json_type_int)) {
            int64_t st = json_object_get_int64(val);
            if (st >= 100 && st <= 599)
                r->status = (int)st;
        }
    }
}

/* The body members of v, written as JSON (nothing when there are none). */
static void encode_body_members(const nb_model *m, uint32_t si, json_object *v, nb_req *r)
{
    const nb_shape *s = &m->shapes[si];
    json_object *body = json_object_new_object();
    if (v && json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val)
        {
            int mi = nb_model_member(m, s, k, strlen(k));
            if (mi >= 0 && m->members[mi].location == NB_LOC_BODY && val)
                json_object_object_add(body, k, json_object_get(val));
        }
    }
    nb_json_encode_tree(m, (int)si, body);
    nb_json_write(&r->rbody, body);
    json_object_put(body);
}

static void rj_encode(const nb_model *m, const nb_operation *op, nb_req *r, json_object *out)
{
    r->status = op->http_status ? op->http_status : 200;
    r->content_type = "application/json";
    if (op->output < 0) {
        if (r->status != 204 && r->status != 304)
            nb_buf_adds(&r->rbody, "{}");
        return;
    }
    const nb_shape *s = &m->shapes[op->output];
    if (out && json_object_is_type(out, json_type_object))
        encode_located(m, s, out, r);
    if (r->status == 204 || r->status == 304)
        return;
    int pi = payload_member(m, s);
    if (pi < 0) {
        if (has_body_members(m, s))
            encode_body_members(m, (uint32_t)op->output, out, r);
        return;
    }
    const nb_member *pm = &m->members[pi];
    const nb_shape *ps = &m->shapes[pm->shape];
    json_object *v = nb_get(out, pm->name);
    if (ps->type == NB_T_BLOB || ps->type == NB_T_STRING) {
        r->content_type = ps->type == NB_T_BLOB ? "application/octet-stream" : "text/plain";
        if (v && json_object_is_type(v, json_type_string))
            nb_buf_add(&r->rbody, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    } else if (v) {
        nb_json_encode_tree(m, (int)pm->shape, v);
        nb_json_write(&r->rbody, v);
    }
}

/* ---- errors ------------------------------------------------------------- */

static void rj_error(const nb_model *m, nb_req *r, const nb_error *err)
{
    r->status = err->status ? err->status : 400;
    r->content_type = "application/json";
    put_header(r, "X-Amzn-ErrorType", err->code, strlen(err->code));
    int si = m ? nb_model_shape(m, err->code) : -1;
    const nb_shape *s = si >= 0 && m->shapes[si].type == NB_T_STRUCTURE ? &m->shapes[si] : NULL;
    const char *msg_key = "message";
    bool has_type = false;
    for (uint32_t k = 0; s && k < s->count; k++) {
        const char *mn = m->members[s->first + k].name;
        if (strcasecmp(mn, "message") == 0)
            msg_key = nb_member_json(&m->members[s->first + k]);
        else if (strcmp(mn, "Type") == 0)
            has_type = true;
    }
    json_object *o = json_object_new_object();
    if (has_type)
        json_object_object_add(o, "Type", json_object_new_string(err->sender ? "User" : "Service"));
    json_object_object_add(o, msg_key, json_object_new_string(err->message));
    if (err->detail && s && json_object_is_type(err->detail, json_type_object)) {
        encode_located(m, s, err->detail, r);
        r->status = err->status ? err->status : 400; /* a status member does not override */
        json_object *d = NULL;
        json_object_deep_copy(err->detail, &d, NULL);
        nb_json_encode_tree(m, si, d);
        json_object_object_foreach(d, k, v)
        {
            int mi = nb_model_member_json(m, s, k, strlen(k));
            if (mi >= 0 && m->members[mi].location == NB_LOC_BODY && v)
                json_object_object_add(o, k, json_object_get(v));
        }
        json_object_put(d);
    }
    nb_json_write(&r->rbody, o);
    json_object_put(o);
}

const nb_codec nb_codec_restjson = {
    .name = "rest-json",
    .decode = rj_decode,
    .encode = rj_encode,
    .error = rj_error,
};
