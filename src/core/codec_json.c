/*
 * codec_json.c — the awsJson 1.0/1.1 protocol.
 *
 * Request: POST with X-Amz-Target "Prefix.Operation" and a JSON body whose
 * members are the input shape's member names.  The decoder parses strictly
 * (json-c STRICT + UTF-8 validation), checks each value's JSON type against
 * the shape (SerializationException otherwise), drops nulls, and turns
 * base64 blobs into raw bytes and timestamps into epoch-second doubles.
 * The encoder does the reverse on the output tree.  Errors are
 * {"__type": "...#Code", "message": "..."} plus, for awsQueryCompatible
 * services, the x-amzn-query-error header carrying the query error code.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "nimbus.h"

/* Deep enough for DynamoDB documents (32 levels, two JSON objects each),
 * which the service itself limits with its own message. */
#define MAX_DEPTH 128

/* Where a value sits, as a chain of names; rendered only for an error. */
typedef struct jpath {
    const struct jpath *up;
    const char *name;
} jpath;

static void path_text(const jpath *p, char *out, size_t n)
{
    const char *names[MAX_DEPTH + 2];
    int k = 0;
    for (; p && k < MAX_DEPTH + 2; p = p->up)
        if (p->name)
            names[k++] = p->name;
    size_t at = 0;
    out[0] = 0;
    while (k-- > 0 && at + 1 < n) {
        int w = snprintf(out + at, n - at, "%s%s", at ? "." : "", names[k]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

static int conv_in(const nb_model *m, uint32_t si, json_object *parent, const char *key,
                   size_t idx, json_object *v, nb_error *err, const jpath *path, int depth);
static void replace(json_object *parent, const char *key, size_t idx, json_object *nv);

static int type_error(nb_error *err, const jpath *path, const char *want)
{
    char txt[512];
    path_text(path, txt, sizeof txt);
    nb_err_set(err, 400, "SerializationException",
               "Unexpected value type for %s: expected %s", txt[0] ? txt : "input", want);
    return -1;
}

/* Moves the members of object v that have a JSON body name between that
 * name (the wire) and the member name (the tree services see): to_model
 * for a decoded body, else for one about to be written. */
static void rename_members(const nb_model *m, const nb_shape *s, json_object *v, bool to_model)
{
    for (uint32_t i = 0; i < s->count; i++) {
        const nb_member *mem = &m->members[s->first + i];
        if (!mem->json)
            continue;
        const char *from = to_model ? mem->json : mem->name;
        const char *to = to_model ? mem->name : mem->json;
        json_object *val;
        if (!json_object_object_get_ex(v, from, &val))
            continue;
        json_object_get(val);
        json_object_object_del(v, from);
        json_object_object_add(v, to, val);
    }
}

static int conv_struct(const nb_model *m, const nb_shape *s, json_object *v, nb_error *err,
                       const jpath *path, int depth)
{
    if (!json_object_is_type(v, json_type_object))
        return type_error(err, path, "structure");
    if (s->flags & NB_S_DOCUMENT)
        return 0;
    /* Collect null members first: deleting while iterating is unsafe. */
    const char *nulls[64];
    int nn = 0;
    bool renamed = false;
    const char **unknown = NULL;
    int nu = 0;
    json_object_object_foreach(v, key, val)
    {
        if (!val) {
            if (nn < 64)
                nulls[nn++] = key;
            continue;
        }
        int mi = nb_model_member_json(m, s, key, strlen(key));
        if (mi < 0) {
            /* Unknown members are ignored, as AWS does; where members are
             * renamed, one spelled like a member's name must not become it. */
            if (s->flags & NB_S_JSON_NAMES) {
                if (!unknown)
                    unknown = nb_malloc((size_t)json_object_object_length(v) * sizeof *unknown);
                unknown[nu++] = key;
            }
            continue;
        }
        renamed |= m->members[mi].json != NULL;
        jpath sub = {path, key};
        if (conv_in(m, m->members[mi].shape, v, key, 0, val, err, &sub, depth + 1)) {
            free(unknown);
            return -1;
        }
    }
    for (int i = 0; i < nn; i++)
        json_object_object_del(v, nulls[i]);
    for (int i = 0; i < nu; i++)
        json_object_object_del(v, unknown[i]);
    free(unknown);
    if (renamed)
        rename_members(m, s, v, true);
    return 0;
}

static int conv_list(const nb_model *m, const nb_shape *s, json_object *v, nb_error *err,
                     const jpath *path, int depth)
{
    if (!json_object_is_type(v, json_type_array))
        return type_error(err, path, "list");
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!e)
            return type_error(err, path, "non-null list member");
        jpath sub = {path, "member"};
        if (conv_in(m, m->members[s->first].shape, v, NULL, i, e, err, &sub, depth + 1))
            return -1;
    }
    return 0;
}

static int conv_map(const nb_model *m, const nb_shape *s, json_object *v, nb_error *err,
                    const jpath *path, int depth)
{
    if (!json_object_is_type(v, json_type_object))
        return type_error(err, path, "map");
    json_object_object_foreach(v, key, val)
    {
        (void)key;
        if (!val)
            return type_error(err, path, "non-null map value");
        jpath sub = {path, key};
        if (conv_in(m, m->members[s->first + 1].shape, v, key, 0, val, err, &sub, depth + 1))
            return -1;
    }
    return 0;
}

/* Timestamps change representation (to epoch-second doubles), so the value
 * is replaced in its parent; blobs are decoded in place. */
static int conv_in(const nb_model *m, uint32_t si, json_object *parent, const char *key,
                   size_t idx, json_object *v, nb_error *err, const jpath *path, int depth)
{
    const nb_shape *s = &m->shapes[si];
    if (depth > MAX_DEPTH)
        return type_error(err, path, "less nesting");
    switch (s->type) {
    case NB_T_STRUCTURE: return conv_struct(m, s, v, err, path, depth);
    case NB_T_LIST: return conv_list(m, s, v, err, path, depth);
    case NB_T_MAP: return conv_map(m, s, v, err, path, depth);
    case NB_T_STRING:
        return json_object_is_type(v, json_type_string) ? 0 : type_error(err, path, "string");
    case NB_T_INTEGER:
    case NB_T_LONG:
        if (!json_object_is_type(v, json_type_int))
            return type_error(err, path, "integer");
        if (s->type == NB_T_INTEGER) {
            int64_t x = json_object_get_int64(v);
            if (x < INT32_MIN || x > INT32_MAX)
                return type_error(err, path, "32-bit integer");
        }
        return 0;
    case NB_T_BOOLEAN:
        return json_object_is_type(v, json_type_boolean) ? 0 : type_error(err, path, "boolean");
    case NB_T_FLOAT:
    case NB_T_DOUBLE:
        return (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
                   ? 0
                   : type_error(err, path, "number");
    case NB_T_BLOB: {
        if (!json_object_is_type(v, json_type_string))
            return type_error(err, path, "base64 string");
        size_t n = (size_t)json_object_get_string_len(v), out = 0;
        unsigned char *raw = nb_base64_decode(json_object_get_string(v), n, &out);
        if (!raw)
            return type_error(err, path, "base64 string");
        json_object_set_string_len(v, (const char *)raw, (int)out);
        free(raw);
        return 0;
    }
    case NB_T_TIMESTAMP: {
        double t;
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
            t = json_object_get_double(v);
        else if (!json_object_is_type(v, json_type_string) ||
                 nb_parse_timestamp(json_object_get_string(v),
                                    (size_t)json_object_get_string_len(v), &t) != 0)
            return type_error(err, path, "timestamp");
        if (parent && !json_object_is_type(v, json_type_double))
            replace(parent, key, idx, json_object_new_double(t));
        return 0;
    }
    }
    return 0;
}

/* ---- the fast decoder ------------------------------------------------------
 * json-c's tokener costs ~35 instructions per byte of a SendMessageBatch
 * (plus a newlocale per parse), and the tree it builds is then walked again
 * by conv_in.  This parser builds the same json-c tree in one pass, checking
 * each value against its shape as conv_in would, for the common subset of
 * JSON: objects, arrays, strings (UTF-8 and the one-character escapes, not
 * \u), integers of up to 18 digits, true, false, null,
 * standard whitespace, nothing after the top-level value.  Whenever it meets
 * anything else (a fraction or exponent, a syntax or type error, a value
 * conv_in would reject, deep nesting) it gives up and the caller parses the
 * text again the strict way, which produces exactly the tree or error it
 * always did.  Member names of the model are added as constant keys (the
 * model's own strings), so they are neither copied nor freed. */

#define FAST_DEPTH 48

static nb_buf g_fast_tmp;

typedef struct fparse {
    const char *p, *end;
    const nb_model *m;
    nb_buf *tmp; /* unescaped strings */
} fparse;

static bool fp_ws(fparse *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
        f->p++;
    return f->p < f->end;
}

/* A string at f->p (on the opening quote): its bytes, unescaped into f->tmp
 * only when it has escapes.  false: give up. */
static bool fp_string(fparse *f, const char **s, size_t *n)
{
    const char *p = f->p + 1, *end = f->end, *run = p;
    bool esc = false;
    for (;;) {
        /* Eight bytes at a time while none is a control byte, '"', '\\'
         * or non-ASCII. */
        while (p + 8 <= end) {
            uint64_t w;
            memcpy(&w, p, 8);
            const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
            uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
            uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | w;
            if (hit & high)
                break;
            p += 8;
        }
        if (p >= end)
            return false;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return false;
        if (c < 0x80 && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            /* json-c's own UTF-8 rule: a lead byte and its continuations. */
            int k = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
            if (k < 0 || end - p <= k)
                return false;
            for (int i = 1; i <= k; i++)
                if (((unsigned char)p[i] & 0xC0) != 0x80)
                    return false;
            p += k + 1;
            continue;
        }
        /* An escape. */
        if (!esc) {
            f->tmp->len = 0;
            esc = true;
        }
        nb_buf_add(f->tmp, run, (size_t)(p - run));
        if (end - p < 2)
            return false;
        char e = p[1], out;
        p += 2;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        /* \u is left to json-c, whose 0.16 puts a U+FFFD before a \u
         * escape that follows another escape: the tree must not change. */
        default: return false;
        }
        nb_buf_addc(f->tmp, out);
        run = p;
    }
    if (esc) {
        nb_buf_add(f->tmp, run, (size_t)(p - run));
        *s = f->tmp->data ? f->tmp->data : "";
        *n = f->tmp->len;
    } else {
        *s = f->p + 1;
        *n = (size_t)(p - (f->p + 1));
    }
    f->p = p + 1;
    return true;
}

static bool fp_delim(const fparse *f)
{
    if (f->p >= f->end)
        return true;
    char c = *f->p;
    return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static bool fp_literal(fparse *f, const char *lit, size_t n)
{
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, lit, n) != 0)
        return false;
    f->p += n;
    return fp_delim(f);
}

static bool fp_int(fparse *f, int64_t *out)
{
    const char *p = f->p;
    bool neg = *p == '-';
    if (neg)
        p++;
    const char *d = p;
    uint64_t v = 0; /* at most 18 digits: below 10^18, no overflow */
    while (p < f->end && *p >= '0' && *p <= '9' && p - d < 18)
        v = v * 10 + (uint64_t)(*p++ - '0');
    size_t nd = (size_t)(p - d);
    if (nd == 0 || (p < f->end && *p >= '0' && *p <= '9') || (nd > 1 && *d == '0'))
        return false;
    f->p = p;
    if (!fp_delim(f))
        return false; /* fraction, exponent or junk: the strict parser decides */
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static bool fp_value(fparse *f, int32_t si, json_object **out, bool *null, int depth);

/* A string value for a shape (or none): blobs are decoded, timestamps
 * become epoch-second doubles, as conv_in does. */
static bool fp_string_value(fparse *f, const nb_shape *s, json_object **out)
{
    const char *str;
    size_t n;
    if (!fp_string(f, &str, &n))
        return false;
    if (!s || s->type == NB_T_STRING) {
        *out = json_object_new_string_len(str, (int)n);
        return true;
    }
    if (s->type == NB_T_BLOB) {
        size_t rn = 0;
        unsigned char *raw = nb_base64_decode(str, n, &rn);
        if (!raw)
            return false;
        *out = json_object_new_string_len((const char *)raw, (int)rn);
        free(raw);
        return true;
    }
    if (s->type == NB_T_TIMESTAMP) {
        /* nb_parse_timestamp reads a NUL-terminated string. */
        char txt[64];
        double t;
        if (n >= sizeof txt)
            return false;
        memcpy(txt, str, n);
        txt[n] = 0;
        if (nb_parse_timestamp(txt, n, &t) != 0)
            return false;
        *out = json_object_new_double(t);
        return true;
    }
    return false;
}

static bool fp_object(fparse *f, const nb_shape *s, json_object **out, int depth)
{
    const nb_model *m = f->m;
    bool structure = s && s->type == NB_T_STRUCTURE;
    bool map = s && s->type == NB_T_MAP;
    if (s && !structure && !map)
        return false;
    json_object *o = json_object_new_object();
    *out = o;
    f->p++;
    if (!fp_ws(f))
        return false;
    if (*f->p == '}') {
        f->p++;
        return true;
    }
    int nulls = 0;
    for (;;) {
        if (!fp_ws(f) || *f->p != '"')
            return false;
        const char *k;
        size_t kn;
        if (!fp_string(f, &k, &kn))
            return false;
        if (!fp_ws(f) || *f->p != ':')
            return false;
        f->p++;
        if (!fp_ws(f))
            return false;
        int mi = structure ? nb_model_member_json(m, s, k, kn) : -1;
        int32_t vs = mi >= 0 ? (int32_t)m->members[mi].shape
                     : map   ? (int32_t)m->members[s->first + 1].shape
                             : -1;
        /* A key copied out of the scratch buffer before the value reuses it. */
        char kbuf[256];
        const char *key = mi >= 0 ? m->members[mi].name : kbuf;
        if (mi < 0) {
            if (kn >= sizeof kbuf || memchr(k, 0, kn))
                return false;
            memcpy(kbuf, k, kn);
            kbuf[kn] = 0;
        }
        json_object *v = NULL;
        bool isnull = false;
        if (!fp_value(f, vs, &v, &isnull, depth + 1)) {
            json_object_put(v);
            return false;
        }
        if (isnull && map)
            return false; /* "non-null map value" */
        if (isnull && structure) {
            /* conv_struct drops null members (at most 64 of them). */
            if (++nulls > 64)
                return false;
            json_object_object_del(o, key);
        } else if (mi >= 0) {
            json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_CONSTANT_KEY);
        } else if (structure && (s->flags & NB_S_JSON_NAMES)) {
            json_object_put(v); /* unknown, as conv_struct drops it */
        } else {
            json_object_object_add(o, key, v);
        }
        if (!fp_ws(f))
            return false;
        if (*f->p == ',') {
            f->p++;
            continue;
        }
        if (*f->p != '}')
            return false;
        f->p++;
        return true;
    }
}

static bool fp_array(fparse *f, const nb_shape *s, json_object **out, int depth)
{
    if (s && s->type != NB_T_LIST)
        return false;
    int32_t es = s && s->type == NB_T_LIST ? (int32_t)f->m->members[s->first].shape : -1;
    json_object *a = json_object_new_array();
    *out = a;
    f->p++;
    if (!fp_ws(f))
        return false;
    if (*f->p == ']') {
        f->p++;
        return true;
    }
    for (;;) {
        if (!fp_ws(f))
            return false;
        json_object *v = NULL;
        bool isnull = false;
        if (!fp_value(f, es, &v, &isnull, depth + 1)) {
            json_object_put(v);
            return false;
        }
        if (isnull && s && s->type == NB_T_LIST)
            return false; /* "non-null list member" */
        json_object_array_add(a, v);
        if (!fp_ws(f))
            return false;
        if (*f->p == ',') {
            f->p++;
            continue;
        }
        if (*f->p != ']')
            return false;
        f->p++;
        return true;
    }
}

/* One value at f->p (not whitespace) for shape si (-1: any, unconverted).
 * On failure *out may hold a partial tree for the caller to release. */
static bool fp_value(fparse *f, int32_t si, json_object **out, bool *null, int depth)
{
    const nb_shape *s = si >= 0 ? &f->m->shapes[si] : NULL;
    if (depth > FAST_DEPTH)
        return false;
    char c = *f->p;
    if (s && (s->flags & NB_S_DOCUMENT)) {
        /* A document: an object taken as it is. */
        if (s->type != NB_T_STRUCTURE || c != '{')
            return false;
        s = NULL;
    }
    switch (c) {
    case '{': return fp_object(f, s, out, depth);
    case '[': return fp_array(f, s, out, depth);
    case '"': return fp_string_value(f, s, out);
    case 't':
    case 'f':
        if (s && s->type != NB_T_BOOLEAN)
            return false;
        if (!fp_literal(f, c == 't' ? "true" : "false", c == 't' ? 4 : 5))
            return false;
        *out = json_object_new_boolean(c == 't');
        return true;
    case 'n':
        if (!fp_literal(f, "null", 4))
            return false;
        *null = true;
        return true;
    default: {
        int64_t v;
        if (c != '-' && (c < '0' || c > '9'))
            return false;
        if (!fp_int(f, &v))
            return false;
        if (!s || s->type == NB_T_LONG || s->type == NB_T_FLOAT || s->type == NB_T_DOUBLE) {
            *out = json_object_new_int64(v);
            return true;
        }
        if (s->type == NB_T_INTEGER) {
            if (v < INT32_MIN || v > INT32_MAX)
                return false;
            *out = json_object_new_int64(v);
            return true;
        }
        if (s->type == NB_T_TIMESTAMP) {
            *out = json_object_new_double((double)v);
            return true;
        }
        return false;
    }
    }
}

/* The whole text as a tree for shape (-1: any object); NULL: give up. */
static json_object *fast_decode(const nb_model *m, int shape, const char *text, size_t len)
{
    fparse f = {text, text + len, m, &g_fast_tmp};
    json_object *root = NULL;
    bool null = false;
    bool ok = fp_ws(&f) && *f.p == '{' && fp_value(&f, shape, &root, &null, 0) && f.p == f.end;
    if (g_fast_tmp.cap > 65536)
        nb_buf_free(&g_fast_tmp);
    if (!ok) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

static json_tokener *g_tok;
static void conv_tables_free(void);

void nb_json_free(void)
{
    if (g_tok)
        json_tokener_free(g_tok);
    g_tok = NULL;
    nb_buf_free(&g_fast_tmp);
    conv_tables_free();
}

/* The strict path: json-c's tokener, then conv_in over its tree. */
static int slow_decode(const nb_model *m, int shape, const char *text, size_t len,
                       json_object **out, nb_error *err)
{
    json_object *root = NULL;
    if (len == 0) {
        root = json_object_new_object();
    } else {
        /* One tokener for the process (its depth stack is the largest
         * allocation of a parse), reset for each body. */
        if (!g_tok) {
            g_tok = json_tokener_new_ex(MAX_DEPTH);
            json_tokener_set_flags(g_tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        }
        json_tokener *tok = g_tok;
        json_tokener_reset(tok);
        root = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error je = json_tokener_get_error(tok);
        if (root && je == json_tokener_success && tok->char_offset < (int)len)
            je = json_tokener_error_parse_unexpected; /* trailing bytes */
        json_tokener_reset(tok);
        if (!root || je != json_tokener_success) {
            json_object_put(root);
            nb_err_set(err, 400, "SerializationException", "Start of structure or map found where not expected.");
            if (je == json_tokener_continue)
                nb_err_set(err, 400, "SerializationException", "Unexpected end of JSON input");
            return -1;
        }
    }
    if (shape >= 0) {
        /* Timestamps given as ISO text become numbers after conversion. */
        if (conv_in(m, (uint32_t)shape, NULL, NULL, 0, root, err, NULL, 0)) {
            json_object_put(root);
            return -1;
        }
    } else if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return type_error(err, NULL, "structure");
    }
    *out = root;
    return 0;
}

int nb_json_decode_text(const nb_model *m, int shape, const char *text, size_t len,
                        json_object **out, nb_error *err)
{
    json_object *root = len ? fast_decode(m, shape, text, len) : NULL;
    if (root) {
        *out = root;
        return 0;
    }
    return slow_decode(m, shape, text, len, out, err);
}

static int json_decode(const nb_model *m, const nb_operation *op, nb_req *r, json_object **in,
                       nb_error *err)
{
    return nb_json_decode_text(m, op->input, r->body.data, r->body.len, in, err);
}

/* ---- encoding ----------------------------------------------------------- */

static void conv_out(const nb_model *m, uint32_t si, json_object *parent, const char *key,
                     size_t idx, json_object *v, int depth);

static void replace(json_object *parent, const char *key, size_t idx, json_object *nv)
{
    if (key)
        json_object_object_add(parent, key, nv);
    else
        json_object_array_put_idx(parent, idx, nv);
}

/* Which shapes the output pass changes: blobs and timestamps, and the
 * structures, lists and maps that lead to one.  Most outputs (SendMessage's,
 * SendMessageBatch's) have none, and their trees are not walked at all.
 * One byte per shape, computed per model on first use by iterating to a
 * fixed point over the same edges conv_out follows. */
#define MAX_CONV_MODELS 32
static struct {
    const nb_model *m;
    uint8_t *conv;
} g_conv[MAX_CONV_MODELS];
static int g_nconv;

static bool shape_leads_to(const nb_model *m, const uint8_t *conv, const nb_shape *s)
{
    switch (s->type) {
    case NB_T_STRUCTURE:
        if (s->flags & NB_S_DOCUMENT)
            return false;
        if (s->flags & NB_S_JSON_NAMES)
            return true;
        for (uint32_t i = 0; i < s->count; i++)
            if (conv[m->members[s->first + i].shape])
                return true;
        return false;
    case NB_T_LIST: return conv[m->members[s->first].shape];
    case NB_T_MAP: return conv[m->members[s->first + 1].shape];
    case NB_T_BLOB:
    case NB_T_TIMESTAMP: return true;
    default: return false;
    }
}

static const uint8_t *conv_table(const nb_model *m)
{
    for (int i = 0; i < g_nconv; i++)
        if (g_conv[i].m == m)
            return g_conv[i].conv;
    if (g_nconv == MAX_CONV_MODELS)
        return NULL;
    uint8_t *conv = nb_calloc(m->nshapes ? m->nshapes : 1, 1);
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t si = 0; si < m->nshapes; si++) {
            if (!conv[si] && shape_leads_to(m, conv, &m->shapes[si])) {
                conv[si] = 1;
                changed = true;
            }
        }
    }
    g_conv[g_nconv].m = m;
    g_conv[g_nconv++].conv = conv;
    return conv;
}

static void conv_tables_free(void)
{
    for (int i = 0; i < g_nconv; i++)
        free(g_conv[i].conv);
    g_nconv = 0;
}

static void conv_out(const nb_model *m, uint32_t si, json_object *parent, const char *key,
                     size_t idx, json_object *v, int depth)
{
    const nb_shape *s = &m->shapes[si];
    if (!v || depth > MAX_DEPTH)
        return;
    const uint8_t *conv = conv_table(m);
    if (conv && !conv[si])
        return;
    switch (s->type) {
    case NB_T_STRUCTURE:
        if (!json_object_is_type(v, json_type_object) || (s->flags & NB_S_DOCUMENT))
            return;
        json_object_object_foreach(v, k, val)
        {
            int mi = nb_model_member(m, s, k, strlen(k));
            if (mi >= 0)
                conv_out(m, m->members[mi].shape, v, k, 0, val, depth + 1);
        }
        if (s->flags & NB_S_JSON_NAMES)
            rename_members(m, s, v, false);
        return;
    case NB_T_LIST:
        if (!json_object_is_type(v, json_type_array))
            return;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            conv_out(m, m->members[s->first].shape, v, NULL, i, json_object_array_get_idx(v, i),
                     depth + 1);
        return;
    case NB_T_MAP:
        if (!json_object_is_type(v, json_type_object))
            return;
        json_object_object_foreach(v, k2, val2)
            conv_out(m, m->members[s->first + 1].shape, v, k2, 0, val2, depth + 1);
        return;
    case NB_T_BLOB: {
        if (!json_object_is_type(v, json_type_string))
            return;
        char *b64 = nb_base64_encode(json_object_get_string(v),
                                     (size_t)json_object_get_string_len(v), NULL);
        json_object_set_string(v, b64);
        free(b64);
        return;
    }
    case NB_T_TIMESTAMP: {
        if (!json_object_is_type(v, json_type_double) || !parent)
            return;
        double t = json_object_get_double(v);
        char txt[40];
        if (s->timestamp_format && !strcmp(s->timestamp_format, "iso8601")) {
            /* a shape that says so (API Gateway v2's __timestampIso8601) */
            nb_iso8601(t, txt);
            replace(parent, key, idx, json_object_new_string(txt));
            return;
        }
        if (t == floor(t))
            snprintf(txt, sizeof txt, "%.0f", t);
        else
            snprintf(txt, sizeof txt, "%.3f", t);
        replace(parent, key, idx, json_object_new_double_s(t, txt));
        return;
    }
    default:
        return;
    }
}

/* ---- writing JSON text ---------------------------------------------------
 * The output writer: json-c's serializer escapes strings byte by byte
 * (a third of a 100-item DynamoDB Query's CPU); this one copies runs of
 * bytes that need no escaping with one memcpy.  The text is the same as
 * json-c's with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
 * doubles still go through json-c, which keeps their exact text. */

static char raw_mark; /* userdata of a string holding raw JSON text */

json_object *nb_json_raw(const char *text, size_t len)
{
    json_object *s = json_object_new_string_len(text, (int)len);
    json_object_set_userdata(s, &raw_mark, NULL);
    return s;
}

void nb_json_write_string(nb_buf *b, const char *s, size_t n);
#define write_string nb_json_write_string

/* Appends without a call into buf.c per byte (the buffer stays
 * NUL-terminated, as nb_buf_add keeps it). */
static inline void jput(nb_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap)
        nb_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

static inline void jputc(nb_buf *b, char c)
{
    if (b->len + 2 > b->cap)
        nb_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

/* Length of the prefix of s that needs no escaping. */
static size_t plain_run(const char *s, size_t n)
{
    size_t i = 0;
    /* Eight bytes at a time while none is a control byte, '"' or '\\'
     * (the classic "has zero byte" bit trick on each condition). */
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
        uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
        uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
        if (hit & high)
            break;
        i += 8;
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
        i++;
    }
    return i;
}

void nb_json_write_string(nb_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    nb_buf_reserve(b, n + 2);
    size_t i = plain_run(s, n);
    if (i == n) {
        /* The common case: nothing to escape, one copy. */
        char *d = b->data + b->len;
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        d[n + 2] = 0;
        b->len += n + 2;
        return;
    }
    jputc(b, '"');
    size_t run = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        jput(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            jput(b, esc, 6);
            i = run + plain_run(s + run, n - run);
            continue;
        }
        jput(b, esc, 2);
        i = run + plain_run(s + run, n - run);
    }
    jput(b, s + run, n - run);
    jputc(b, '"');
}

void nb_json_write(nb_buf *b, json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        jput(b, "null", 4);
        return;
    case json_type_boolean:
        if (json_object_get_boolean(v))
            jput(b, "true", 4);
        else
            jput(b, "false", 5);
        return;
    case json_type_int: {
        char num[24];
        int len = snprintf(num, sizeof num, "%" PRId64, json_object_get_int64(v));
        jput(b, num, (size_t)len);
        return;
    }
    case json_type_double:
        nb_buf_adds(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return;
    case json_type_string:
        if (json_object_get_userdata(v) == &raw_mark)
            jput(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        else
            write_string(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return;
    case json_type_array: {
        jputc(b, '[');
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++) {
            if (i)
                jputc(b, ',');
            nb_json_write(b, json_object_array_get_idx(v, i));
        }
        jputc(b, ']');
        return;
    }
    case json_type_object: {
        jputc(b, '{');
        bool first = true;
        json_object_object_foreach(v, k, val)
        {
            if (!first)
                jputc(b, ',');
            first = false;
            write_string(b, k, strlen(k));
            jputc(b, ':');
            nb_json_write(b, val);
        }
        jputc(b, '}');
        return;
    }
    }
}

static void set_content_type(const nb_model *m, nb_req *r)
{
    r->content_type = (m->json_version && strcmp(m->json_version, "1.1") == 0)
                          ? "application/x-amz-json-1.1"
                          : "application/x-amz-json-1.0";
}

void nb_json_encode_tree(const nb_model *m, int shape, json_object *v)
{
    if (shape >= 0)
        conv_out(m, (uint32_t)shape, NULL, NULL, 0, v, 0);
}

static void json_encode(const nb_model *m, const nb_operation *op, nb_req *r, json_object *out)
{
    set_content_type(m, r);
    if (!out) {
        nb_buf_adds(&r->rbody, "{}");
        return;
    }
    if (op->output >= 0)
        conv_out(m, (uint32_t)op->output, NULL, NULL, 0, out, 0);
    nb_buf_reserve(&r->rbody, 1000); /* one allocation for most bodies */
    nb_json_write(&r->rbody, out);
}

static void json_error(const nb_model *m, nb_req *r, const nb_error *err)
{
    set_content_type(m, r);
    r->status = err->status;
    int si = nb_model_shape(m, err->code);
    const nb_shape *s = si >= 0 ? &m->shapes[si] : NULL;
    if (m->query_compatible) {
        char hv[160];
        const char *qcode = (s && s->error_code) ? s->error_code : err->code;
        snprintf(hv, sizeof hv, "%s;%s", qcode, err->sender ? "Sender" : "Receiver");
        nb_resp_header(r, "x-amzn-query-error", hv);
    }
    json_object *o = json_object_new_object();
    char type[160];
    snprintf(type, sizeof type, "com.amazonaws.%s#%s", m->endpoint_prefix, err->code);
    json_object_object_add(o, "__type", json_object_new_string(type));
    json_object_object_add(o, "message", json_object_new_string(err->message));
    if (err->detail && s && s->type == NB_T_STRUCTURE) {
        json_object *d = NULL;
        json_object_deep_copy(err->detail, &d, NULL);
        conv_out(m, (uint32_t)si, NULL, NULL, 0, d, 0);
        json_object_object_foreach(d, k, v)
            json_object_object_add(o, k, json_object_get(v));
        json_object_put(d);
    }
    nb_json_write(&r->rbody, o);
    json_object_put(o);
}

const nb_codec nb_codec_json = {
    .name = "json",
    .decode = json_decode,
    .encode = json_encode,
    .error = json_error,
};
