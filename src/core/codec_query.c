/*
 * codec_query.c — the AWS query protocol: form-encoded (or query-string)
 * parameters in, XML out.
 *
 * Parameter names follow the model's serialization traits exactly as the
 * SDKs produce them: a member's wire name is its locationName (or member
 * name); lists are Name.member.N, or Name.N when flattened (with the
 * element's locationName replacing the last name component); maps are
 * Name.entry.N.key/value, or Name.N.<KeyName>/<ValueName> when flattened.
 * The response is <OpResponse xmlns=...><OpResult>...</OpResult>
 * <ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>, errors are
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "nimbus.h"

#define MAX_DEPTH 32
#define MAX_LIST 10000

/* ---- forms -------------------------------------------------------------- */

static int pair_cmp(const void *a, const void *b)
{
    const nb_form_pair *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

int nb_form_parse(nb_form *f, const char *s, size_t n)
{
    memset(f, 0, sizeof *f);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
            nb_buf k = {0}, v = {0};
            if (nb_url_decode(&k, s + i, klen, 1) ||
                (eq && nb_url_decode(&v, eq + 1, (size_t)(s + j - eq - 1), 1))) {
                nb_buf_free(&k);
                nb_buf_free(&v);
                nb_form_free(f);
                return -1;
            }
            if (!v.data)
                nb_buf_add(&v, "", 0);
            if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 16;
                f->p = nb_realloc(f->p, (size_t)f->cap * sizeof *f->p);
            }
            f->p[f->n++] = (nb_form_pair){k.data ? k.data : nb_strdup(""), v.data, k.len, v.len};
        }
        i = j + 1;
    }
    if (f->n)
        qsort(f->p, (size_t)f->n, sizeof *f->p, pair_cmp);
    return 0;
}

void nb_form_free(nb_form *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->p[i].key);
        free(f->p[i].val);
    }
    free(f->p);
    memset(f, 0, sizeof *f);
}

/* Index of the first pair whose key is >= key (lower bound). */
static int lower_bound(const nb_form *f, const char *key, size_t klen)
{
    int lo = 0, hi = f->n;
    nb_form_pair probe = {(char *)key, NULL, klen, 0};
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pair_cmp(&f->p[mid], &probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const char *nb_form_get(const nb_form *f, const char *key, size_t *vlen)
{
    size_t klen = strlen(key);
    int i = lower_bound(f, key, klen);
    if (i < f->n && f->p[i].klen == klen && memcmp(f->p[i].key, key, klen) == 0) {
        if (vlen)
            *vlen = f->p[i].vlen;
        return f->p[i].val;
    }
    return NULL;
}

/* Whether any key starts with prefix + ".". */
static bool has_prefix(const nb_form *f, const char *prefix)
{
    char p[1024];
    int n = snprintf(p, sizeof p, "%s.", prefix);
    if (n < 0 || (size_t)n >= sizeof p)
        return false;
    int i = lower_bound(f, p, (size_t)n);
    return i < f->n && f->p[i].klen >= (size_t)n && memcmp(f->p[i].key, p, (size_t)n) == 0;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    const nb_model *m;
    const nb_form *f;
    nb_error *err;
} qctx;

static json_object *dec_value(qctx *q, uint32_t si, const nb_member *mem, const char *key, int depth,
                              bool *bad);

static json_object *bad_value(qctx *q, const char *key, const char *val, bool *bad)
{
    const char *param = strrchr(key, '.');
    nb_err_set(q->err, 400, "InvalidParameterValue",
               "Value (%.200s) for parameter %s is invalid.", val, param ? param + 1 : key);
    *bad = true;
    return NULL;
}

static json_object *dec_scalar(qctx *q, const nb_shape *s, const char *key, bool *bad)
{
    size_t vlen = 0;
    const char *v = nb_form_get(q->f, key, &vlen);
    if (!v)
        return NULL;
    char *end = NULL;
    switch (s->type) {
    case NB_T_STRING:
        return json_object_new_string_len(v, (int)vlen);
    case NB_T_INTEGER:
    case NB_T_LONG: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!vlen || *end || errno ||
            (s->type == NB_T_INTEGER && (x < INT32_MIN || x > INT32_MAX)))
            return bad_value(q, key, v, bad);
        return json_object_new_int64(x);
    }
    case NB_T_BOOLEAN:
        if (strcasecmp(v, "true") == 0)
            return json_object_new_boolean(1);
        if (strcasecmp(v, "false") == 0)
            return json_object_new_boolean(0);
        return bad_value(q, key, v, bad);
    case NB_T_FLOAT:
    case NB_T_DOUBLE: {
        double d = strtod(v, &end);
        if (!vlen || *end || !isfinite(d))
            return bad_value(q, key, v, bad);
        return json_object_new_double(d);
    }
    case NB_T_BLOB: {
        size_t n = 0;
        unsigned char *raw = nb_base64_decode(v, vlen, &n);
        if (!raw)
            return bad_value(q, key, v, bad);
        json_object *o = json_object_new_string_len((const char *)raw, (int)n);
        free(raw);
        return o;
    }
    case NB_T_TIMESTAMP: {
        double t;
        if (nb_parse_timestamp(v, vlen, &t) != 0)
            return bad_value(q, key, v, bad);
        return json_object_new_double(t);
    }
    default:
        return NULL;
    }
}

static json_object *dec_struct(qctx *q, const nb_shape *s, const char *prefix, int depth, bool *bad)
{
    json_object *o = json_object_new_object();
    for (uint32_t i = 0; i < s->count && !*bad; i++) {
        const nb_member *mem = &q->m->members[s->first + i];
        const char *wire = mem->wire ? mem->wire : mem->name;
        char key[1024];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", wire);
        json_object *v = dec_value(q, mem->shape, mem, key, depth + 1, bad);
        if (v)
            json_object_object_add(o, mem->name, v);
    }
    if (*bad) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static bool is_flat(const nb_member *mem, const nb_shape *s)
{
    return (mem && (mem->flags & NB_M_FLATTENED)) || (s->flags & NB_S_FLATTENED);
}

static json_object *dec_list(qctx *q, const nb_shape *s, const nb_member *mem, const char *key,
                             int depth, bool *bad)
{
    const nb_member *el = &q->m->members[s->first];
    char lp[1024];
    if (is_flat(mem, s)) {
        if (el->wire) {
            const char *dot = strrchr(key, '.');
            int plen = dot ? (int)(dot - key) + 1 : 0;
            snprintf(lp, sizeof lp, "%.*s%s", plen, key, el->wire);
        } else {
            snprintf(lp, sizeof lp, "%s", key);
        }
    } else {
        snprintf(lp, sizeof lp, "%s.%s", key, el->wire ? el->wire : "member");
    }
    json_object *arr = NULL;
    size_t elen = 0;
    const char *empty = nb_form_get(q->f, key, &elen);
    if (empty && elen == 0)
        arr = json_object_new_array();
    for (int i = 1; i <= MAX_LIST && !*bad; i++) {
        char ek[1100];
        snprintf(ek, sizeof ek, "%s.%d", lp, i);
        json_object *v = dec_value(q, el->shape, el, ek, depth + 1, bad);
        if (!v)
            break;
        if (!arr)
            arr = json_object_new_array();
        json_object_array_add(arr, v);
    }
    if (*bad) {
        json_object_put(arr);
        return NULL;
    }
    return arr;
}

static json_object *dec_map(qctx *q, const nb_shape *s, const nb_member *mem, const char *key,
                            int depth, bool *bad)
{
    const nb_member *km = &q->m->members[s->first], *vm = &q->m->members[s->first + 1];
    char mp[1024];
    snprintf(mp, sizeof mp, is_flat(mem, s) ? "%s" : "%s.entry", key);
    json_object *o = NULL;
    for (int i = 1; i <= MAX_LIST && !*bad; i++) {
        char kk[1100], vk[1100];
        snprintf(kk, sizeof kk, "%s.%d.%s", mp, i, km->wire ? km->wire : "key");
        snprintf(vk, sizeof vk, "%s.%d.%s", mp, i, vm->wire ? vm->wire : "value");
        const char *k = nb_form_get(q->f, kk, NULL);
        if (!k)
            break;
        json_object *v = dec_value(q, vm->shape, vm, vk, depth + 1, bad);
        if (*bad)
            break;
        if (!o)
            o = json_object_new_object();
        if (!v)
            v = q->m->shapes[vm->shape].type == NB_T_STRUCTURE ? json_object_new_object()
                                                                : json_object_new_string("");
        json_object_object_add(o, k, v);
    }
    if (*bad) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *dec_value(qctx *q, uint32_t si, const nb_member *mem, const char *key, int depth,
                              bool *bad)
{
    const nb_shape *s = &q->m->shapes[si];
    if (depth > MAX_DEPTH)
        return NULL;
    switch (s->type) {
    case NB_T_STRUCTURE:
        return has_prefix(q->f, key) ? dec_struct(q, s, key, depth, bad) : NULL;
    case NB_T_LIST:
        return dec_list(q, s, mem, key, depth, bad);
    case NB_T_MAP:
        return dec_map(q, s, mem, key, depth, bad);
    default:
        return dec_scalar(q, s, key, bad);
    }
}

static int query_decode(const nb_model *m, const nb_operation *op, nb_req *r, json_object **in,
                        nb_error *err)
{
    /* Parameters come from the query string and a form-encoded body, as
     * the router reads them (find_action in dispatch.c). */
    nb_form f;
    nb_buf all = {0};
    nb_buf_add(&all, r->query, r->query_len);
    if (r->body.len) {
        nb_buf_addc(&all, '&');
        nb_buf_add(&all, r->body.data, r->body.len);
    }
    int rc = nb_form_parse(&f, all.data, all.len);
    nb_buf_free(&all);
    if (rc != 0) {
        nb_err_set(err, 400, "MalformedQueryString", "The query string is malformed.");
        return -1;
    }
    qctx q = {m, &f, err};
    bool bad = false;
    json_object *o = NULL;
    if (op->input >= 0)
        o = dec_struct(&q, &m->shapes[op->input], "", 0, &bad);
    nb_form_free(&f);
    if (bad)
        return -1;
    *in = o ? o : json_object_new_object();
    return 0;
}

/* ---- encoding ----------------------------------------------------------- */

static void enc_value(const nb_model *m, uint32_t si, const nb_member *mem, const char *name,
                      json_object *v, nb_buf *b, int depth);

static void open_tag(nb_buf *b, const char *name)
{
    nb_buf_addc(b, '<');
    nb_buf_adds(b, name);
    nb_buf_addc(b, '>');
}

static void close_tag(nb_buf *b, const char *name)
{
    nb_buf_adds(b, "</");
    nb_buf_adds(b, name);
    nb_buf_addc(b, '>');
}

static void enc_scalar(const nb_shape *s, json_object *v, nb_buf *b)
{
    char tmp[64];
    switch (s->type) {
    case NB_T_BOOLEAN:
        nb_buf_adds(b, json_object_get_boolean(v) ? "true" : "false");
        return;
    case NB_T_INTEGER:
    case NB_T_LONG:
        nb_buf_printf(b, "%lld", (long long)json_object_get_int64(v));
        return;
    case NB_T_FLOAT:
    case NB_T_DOUBLE:
        nb_buf_printf(b, "%.17g", json_object_get_double(v));
        return;
    case NB_T_TIMESTAMP:
        nb_iso8601(json_object_get_double(v), tmp);
        nb_buf_adds(b, tmp);
        return;
    case NB_T_BLOB: {
        char *b64 = nb_base64_encode(json_object_get_string(v),
                                     (size_t)json_object_get_string_len(v), NULL);
        nb_buf_adds(b, b64);
        free(b64);
        return;
    }
    default:
        nb_buf_xml(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    }
}

static void enc_struct_members(const nb_model *m, const nb_shape *s, json_object *v, nb_buf *b,
                               int depth)
{
    for (uint32_t i = 0; i < s->count; i++) {
        const nb_member *mem = &m->members[s->first + i];
        json_object *mv;
        if (!json_object_object_get_ex(v, mem->name, &mv) || !mv)
            continue;
        enc_value(m, mem->shape, mem, mem->wire ? mem->wire : mem->name, mv, b, depth + 1);
    }
}

static void enc_list(const nb_model *m, const nb_shape *s, const nb_member *mem, const char *name,
                     json_object *v, nb_buf *b, int depth)
{
    if (!json_object_is_type(v, json_type_array))
        return;
    const nb_member *el = &m->members[s->first];
    size_t n = json_object_array_length(v);
    if (is_flat(mem, s)) {
        const char *en = el->wire ? el->wire : name;
        for (size_t i = 0; i < n; i++)
            enc_value(m, el->shape, el, en, json_object_array_get_idx(v, i), b, depth + 1);
        return;
    }
    open_tag(b, name);
    for (size_t i = 0; i < n; i++)
        enc_value(m, el->shape, el, el->wire ? el->wire : "member", json_object_array_get_idx(v, i),
                  b, depth + 1);
    close_tag(b, name);
}

static void enc_map(const nb_model *m, const nb_shape *s, const nb_member *mem, const char *name,
                    json_object *v, nb_buf *b, int depth)
{
    if (!json_object_is_type(v, json_type_object))
        return;
    const nb_member *km = &m->members[s->first], *vm = &m->members[s->first + 1];
    const char *kn = km->wire ? km->wire : "key", *vn = vm->wire ? vm->wire : "value";
    bool flat = is_flat(mem, s);
    if (!flat)
        open_tag(b, name);
    json_object_object_foreach(v, k, val)
    {
        open_tag(b, flat ? name : "entry");
        open_tag(b, kn);
        nb_buf_xml(b, k, strlen(k));
        close_tag(b, kn);
        if (val)
            enc_value(m, vm->shape, vm, vn, val, b, depth + 1);
        close_tag(b, flat ? name : "entry");
    }
    if (!flat)
        close_tag(b, name);
}

static void enc_value(const nb_model *m, uint32_t si, const nb_member *mem, const char *name,
                      json_object *v, nb_buf *b, int depth)
{
    const nb_shape *s = &m->shapes[si];
    if (depth > MAX_DEPTH)
        return;
    switch (s->type) {
    case NB_T_STRUCTURE:
        if (!json_object_is_type(v, json_type_object))
            return;
        open_tag(b, name);
        enc_struct_members(m, s, v, b, depth);
        close_tag(b, name);
        return;
    case NB_T_LIST:
        enc_list(m, s, mem, name, v, b, depth);
        return;
    case NB_T_MAP:
        enc_map(m, s, mem, name, v, b, depth);
        return;
    default:
        open_tag(b, name);
        enc_scalar(s, v, b);
        close_tag(b, name);
    }
}

static void query_encode(const nb_model *m, const nb_operation *op, nb_req *r, json_object *out)
{
    nb_buf *b = &r->rbody;
    r->content_type = "text/xml";
    nb_buf_printf(b, "<?xml version=\"1.0\"?><%sResponse", op->name);
    if (m->xml_namespace)
        nb_buf_printf(b, " xmlns=\"%s\"", m->xml_namespace);
    nb_buf_addc(b, '>');
    if (op->output >= 0) {
        const char *wrap = op->result_wrapper;
        if (wrap)
            open_tag(b, wrap);
        if (out)
            enc_struct_members(m, &m->shapes[op->output], out, b, 0);
        if (wrap)
            close_tag(b, wrap);
    }
    nb_buf_printf(b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>",
                  r->call.request_id, op->name);
}

static void query_error(const nb_model *m, nb_req *r, const nb_error *err)
{
    nb_buf *b = &r->rbody;
    r->content_type = "text/xml";
    r->status = err->status;
    const char *code = err->code;
    if (m) {
        int si = nb_model_shape(m, err->code);
        if (si >= 0 && m->shapes[si].error_code)
            code = m->shapes[si].error_code;
    }
    nb_buf_adds(b, "<?xml version=\"1.0\"?><ErrorResponse");
    if (m && m->xml_namespace)
        nb_buf_printf(b, " xmlns=\"%s\"", m->xml_namespace);
    nb_buf_printf(b, "><Error><Type>%s</Type><Code>", err->sender ? "Sender" : "Receiver");
    nb_buf_xml(b, code, strlen(code));
    nb_buf_adds(b, "</Code><Message>");
    nb_buf_xml(b, err->message, strlen(err->message));
    nb_buf_printf(b, "</Message><Detail/></Error><RequestId>%s</RequestId></ErrorResponse>",
                  r->call.request_id);
}

const nb_codec nb_codec_query = {
    .name = "query",
    .decode = query_decode,
    .encode = query_encode,
    .error = query_error,
};
