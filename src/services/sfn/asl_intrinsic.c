/*
 * asl_intrinsic.c — the States.* intrinsic functions: a recursive-descent
 * parser over the call text (arguments: 'strings' with \ escapes, numbers,
 * true/false/null, JSONPaths, nested calls) and one evaluator per function.
 * Failures are States.IntrinsicFailure (bad arguments) or States.Runtime
 * (paths), with the function named in the cause.
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "core/nimbus.h"

#define MAX_ARGS 64
#define MAX_DEPTH 16

typedef struct parser {
    const char *p;
    json_object *input, *ctx;
    asl_err *e;
    bool check_only;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n')
        ps->p++;
}

static bool fail_syntax(parser *ps, const char *what)
{
    if (!ps->e->error[0])
        asl_fail(ps->e, "States.IntrinsicFailure", "Invalid intrinsic function call: %s", what);
    return false;
}

static bool call_fn(parser *ps, json_object **out);

/* A 'string' literal; raw text with the escapes resolved. */
static bool parse_string(parser *ps, json_object **out)
{
    const char *p = ps->p + 1;
    size_t cap = 64, n = 0;
    char *buf = nb_malloc(cap);
    while (*p && *p != '\'') {
        if (*p == '\\' && p[1])
            p++;
        if (n + 2 >= cap)
            buf = nb_realloc(buf, cap *= 2);
        buf[n++] = *p++;
    }
    if (*p != '\'') {
        free(buf);
        return fail_syntax(ps, "unterminated string");
    }
    buf[n] = 0;
    *out = json_object_new_string_len(buf, (int)n);
    free(buf);
    ps->p = p + 1;
    return true;
}

static bool parse_arg(parser *ps, json_object **out)
{
    skip_ws(ps);
    const char *p = ps->p;
    *out = NULL;
    if (*p == '\'')
        return parse_string(ps, out);
    if (*p == '$') {
        size_t n = strcspn(p, ",) ");
        char path[512];
        if (n >= sizeof path)
            return fail_syntax(ps, "path too long");
        nb_copy(path, sizeof path, p, n);
        ps->p = p + n;
        if (ps->check_only) {
            const char *q = strncmp(path, "$$", 2) ? path : path + 1;
            return asl_path_valid(q) ? true : fail_syntax(ps, "invalid path");
        }
        *out = asl_lookup(path, ps->input, ps->ctx, ps->e);
        return !ps->e->error[0];
    }
    if (!strncmp(p, "States.", 7))
        return call_fn(ps, out);
    if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5) || !strncmp(p, "null", 4)) {
        size_t n = p[0] == 'f' ? 5 : 4;
        *out = p[0] == 'n' ? NULL : json_object_new_boolean(p[0] == 't');
        ps->p = p + n;
        return true;
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        char *end;
        double d = strtod(p, &end);
        if (end == p)
            return fail_syntax(ps, "bad number");
        bool integral = !memchr(p, '.', (size_t)(end - p)) && !memchr(p, 'e', (size_t)(end - p)) &&
                        !memchr(p, 'E', (size_t)(end - p));
        *out = integral && fabs(d) < 9e15 ? json_object_new_int64((int64_t)d) : json_object_new_double(d);
        ps->p = end;
        return true;
    }
    return fail_syntax(ps, "unexpected character");
}

typedef struct args {
    json_object *v[MAX_ARGS];
    int n;
} args;

static void args_free(args *a)
{
    for (int i = 0; i < a->n; i++)
        json_object_put(a->v[i]);
}

typedef json_object *(*fn_impl)(const char *name, args *a, asl_err *e);

static bool ifail(asl_err *e, const char *name, const char *what)
{
    asl_fail(e, "States.IntrinsicFailure", "Invalid arguments in %s: %s", name, what);
    return false;
}

static bool want(asl_err *e, const char *name, args *a, int min, int max)
{
    if (a->n < min || a->n > max)
        return ifail(e, name, "wrong number of arguments");
    return true;
}

static bool is_int(json_object *v)
{
    if (json_object_is_type(v, json_type_int))
        return true;
    double d = json_object_get_double(v);
    return json_object_is_type(v, json_type_double) && d == floor(d) && fabs(d) < 9e15;
}

static bool is_num(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static json_object *f_format(const char *name, args *a, asl_err *e)
{
    if (a->n < 1 || !json_object_is_type(a->v[0], json_type_string))
        return ifail(e, name, "the first argument must be a string"), NULL;
    const char *t = json_object_get_string(a->v[0]);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int used = 1;
    for (const char *p = t; *p; p++) {
        if (p[0] == '{' && p[1] == '}') {
            if (used >= a->n) {
                fclose(f);
                free(out);
                return ifail(e, name, "more placeholders than arguments"), NULL;
            }
            json_object *v = a->v[used++];
            if (json_object_is_type(v, json_type_string))
                fputs(json_object_get_string(v), f);
            else
                fputs(v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                        : "null",
                      f);
            p++;
        } else {
            fputc(*p, f);
        }
    }
    fclose(f);
    if (used != a->n) {
        free(out);
        return ifail(e, name, "more arguments than placeholders"), NULL;
    }
    json_object *r = json_object_new_string_len(out, (int)len);
    free(out);
    return r;
}

static json_object *f_string_to_json(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 1, 1) || !json_object_is_type(a->v[0], json_type_string))
        return e->error[0] ? NULL : (ifail(e, name, "the argument must be a string"), NULL);
    enum json_tokener_error je;
    json_object *v = json_tokener_parse_verbose(json_object_get_string(a->v[0]), &je);
    if (je != json_tokener_success)
        return ifail(e, name, "the string is not JSON"), NULL;
    return v;
}

static json_object *f_json_to_string(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 1, 1))
        return NULL;
    return json_object_new_string(
        a->v[0] ? json_object_to_json_string_ext(a->v[0], JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                : "null");
}

static json_object *f_array(const char *name, args *a, asl_err *e)
{
    (void)name, (void)e;
    json_object *arr = json_object_new_array();
    for (int i = 0; i < a->n; i++)
        json_object_array_add(arr, json_object_get(a->v[i]));
    return arr;
}

static bool arr_arg(asl_err *e, const char *name, args *a, int min, int max)
{
    if (!want(e, name, a, min, max))
        return false;
    if (!json_object_is_type(a->v[0], json_type_array))
        return ifail(e, name, "the first argument must be an array");
    return true;
}

static json_object *f_partition(const char *name, args *a, asl_err *e)
{
    if (!arr_arg(e, name, a, 2, 2))
        return NULL;
    if (!is_int(a->v[1]) || json_object_get_int64(a->v[1]) <= 0)
        return ifail(e, name, "the chunk size must be a positive integer"), NULL;
    size_t k = (size_t)json_object_get_int64(a->v[1]), n = json_object_array_length(a->v[0]);
    json_object *out = json_object_new_array(), *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i % k == 0) {
            cur = json_object_new_array();
            json_object_array_add(out, cur);
        }
        json_object_array_add(cur, json_object_get(json_object_array_get_idx(a->v[0], i)));
    }
    return out;
}

static json_object *f_contains(const char *name, args *a, asl_err *e)
{
    if (!arr_arg(e, name, a, 2, 2))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(a->v[0]); i++)
        if (json_object_equal(json_object_array_get_idx(a->v[0], i), a->v[1]))
            return json_object_new_boolean(1);
    return json_object_new_boolean(0);
}

static json_object *f_range(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 3, 3))
        return NULL;
    for (int i = 0; i < 3; i++)
        if (!is_int(a->v[i]))
            return ifail(e, name, "the arguments must be integers"), NULL;
    int64_t s = json_object_get_int64(a->v[0]), t = json_object_get_int64(a->v[1]),
            st = json_object_get_int64(a->v[2]);
    if (st == 0)
        return ifail(e, name, "the step must not be 0"), NULL;
    json_object *out = json_object_new_array();
    size_t count = 0;
    for (int64_t v = s; st > 0 ? v <= t : v >= t;) {
        if (++count > 1000) {
            json_object_put(out);
            return ifail(e, name, "the range has more than 1000 elements"), NULL;
        }
        json_object_array_add(out, json_object_new_int64(v));
        if (__builtin_add_overflow(v, st, &v))
            break;
    }
    return out;
}

static json_object *f_get_item(const char *name, args *a, asl_err *e)
{
    if (!arr_arg(e, name, a, 2, 2))
        return NULL;
    if (!is_int(a->v[1]) || json_object_get_int64(a->v[1]) < 0 ||
        (size_t)json_object_get_int64(a->v[1]) >= json_object_array_length(a->v[0]))
        return ifail(e, name, "the index is out of bounds"), NULL;
    return json_object_get(json_object_array_get_idx(a->v[0], (size_t)json_object_get_int64(a->v[1])));
}

static json_object *f_length(const char *name, args *a, asl_err *e)
{
    if (!arr_arg(e, name, a, 1, 1))
        return NULL;
    return json_object_new_int64((int64_t)json_object_array_length(a->v[0]));
}

static json_object *f_unique(const char *name, args *a, asl_err *e)
{
    if (!arr_arg(e, name, a, 1, 1))
        return NULL;
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(a->v[0]); i++) {
        json_object *v = json_object_array_get_idx(a->v[0], i);
        bool seen = false;
        for (size_t j = 0; j < json_object_array_length(out) && !seen; j++)
            seen = json_object_equal(json_object_array_get_idx(out, j), v);
        if (!seen)
            json_object_array_add(out, json_object_get(v));
    }
    return out;
}

static bool str_arg(asl_err *e, const char *name, args *a, int min, int max)
{
    if (!want(e, name, a, min, max))
        return false;
    if (!json_object_is_type(a->v[0], json_type_string))
        return ifail(e, name, "the first argument must be a string");
    return true;
}

static json_object *f_b64enc(const char *name, args *a, asl_err *e)
{
    if (!str_arg(e, name, a, 1, 1))
        return NULL;
    if (json_object_get_string_len(a->v[0]) > 10000)
        return ifail(e, name, "the input is longer than 10000 characters"), NULL;
    size_t n;
    char *s = nb_base64_encode(json_object_get_string(a->v[0]), (size_t)json_object_get_string_len(a->v[0]), &n);
    json_object *r = json_object_new_string_len(s, (int)n);
    free(s);
    return r;
}

static json_object *f_b64dec(const char *name, args *a, asl_err *e)
{
    if (!str_arg(e, name, a, 1, 1))
        return NULL;
    size_t n;
    unsigned char *s =
        nb_base64_decode(json_object_get_string(a->v[0]), (size_t)json_object_get_string_len(a->v[0]), &n);
    if (!s)
        return ifail(e, name, "the input is not base64"), NULL;
    json_object *r = json_object_new_string_len((const char *)s, (int)n);
    free(s);
    return r;
}

static json_object *f_hash(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 2, 2) || !json_object_is_type(a->v[1], json_type_string))
        return e->error[0] ? NULL : (ifail(e, name, "the algorithm must be a string"), NULL);
    static const char *const algs[][2] = {
        {"MD5", "MD5"}, {"SHA-1", "SHA1"}, {"SHA-256", "SHA256"}, {"SHA-384", "SHA384"}, {"SHA-512", "SHA512"}};
    const EVP_MD *md = NULL;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (!strcmp(json_object_get_string(a->v[1]), algs[i][0]))
            md = EVP_get_digestbyname(algs[i][1]);
    if (!md)
        return ifail(e, name, "the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"), NULL;
    const char *data = json_object_is_type(a->v[0], json_type_string)
                           ? json_object_get_string(a->v[0])
                           : json_object_to_json_string_ext(a->v[0], JSON_C_TO_STRING_PLAIN);
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_Digest(data, strlen(data), dg, &dl, md, NULL);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    nb_hex(dg, dl, hex);
    return json_object_new_string(hex);
}

static json_object *f_merge(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 3, 3))
        return NULL;
    if (!json_object_is_type(a->v[0], json_type_object) || !json_object_is_type(a->v[1], json_type_object))
        return ifail(e, name, "the first two arguments must be objects"), NULL;
    if (!json_object_is_type(a->v[2], json_type_boolean) || json_object_get_boolean(a->v[2]))
        return ifail(e, name, "only shallow merges (false) are supported"), NULL;
    json_object *out = NULL;
    json_object_deep_copy(a->v[0], &out, NULL);
    json_object_object_foreach(a->v[1], k, v) json_object_object_add(out, k, json_object_get(v));
    return out;
}

static json_object *f_random(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 2, 3) || !is_int(a->v[0]) || !is_int(a->v[1]))
        return e->error[0] ? NULL : (ifail(e, name, "start and end must be integers"), NULL);
    int64_t s = json_object_get_int64(a->v[0]), t = json_object_get_int64(a->v[1]);
    if (t < s)
        return ifail(e, name, "end must not be less than start"), NULL;
    uint64_t span = (uint64_t)t - (uint64_t)s + 1;
    uint64_t r = a->n == 3 && is_int(a->v[2]) ? (uint64_t)json_object_get_int64(a->v[2]) * 6364136223846793005ULL + 1442695040888963407ULL
                                              : nb_rand64();
    return json_object_new_int64((int64_t)((uint64_t)s + (span ? r % span : r)));
}

static json_object *f_add(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 2, 2) || !is_num(a->v[0]) || !is_num(a->v[1]))
        return e->error[0] ? NULL : (ifail(e, name, "the arguments must be numbers"), NULL);
    int64_t sum;
    if (is_int(a->v[0]) && is_int(a->v[1]) &&
        !__builtin_add_overflow(json_object_get_int64(a->v[0]), json_object_get_int64(a->v[1]), &sum))
        return json_object_new_int64(sum);
    return json_object_new_double(json_object_get_double(a->v[0]) + json_object_get_double(a->v[1]));
}

static json_object *f_split(const char *name, args *a, asl_err *e)
{
    if (!str_arg(e, name, a, 2, 2) || !json_object_is_type(a->v[1], json_type_string))
        return e->error[0] ? NULL : (ifail(e, name, "the delimiter must be a string"), NULL);
    const char *s = json_object_get_string(a->v[0]), *d = json_object_get_string(a->v[1]);
    json_object *out = json_object_new_array();
    while (*s) {
        size_t n = *d ? strcspn(s, d) : strlen(s);
        if (n)
            json_object_array_add(out, json_object_new_string_len(s, (int)n));
        s += n;
        if (*s)
            s++;
    }
    return out;
}

static json_object *f_uuid(const char *name, args *a, asl_err *e)
{
    if (!want(e, name, a, 0, 0))
        return NULL;
    char id[37];
    nb_uuid(id);
    return json_object_new_string(id);
}

static const struct {
    const char *name;
    fn_impl fn;
} FUNCS[] = {
    {"States.Format", f_format},
    {"States.StringToJson", f_string_to_json},
    {"States.JsonToString", f_json_to_string},
    {"States.Array", f_array},
    {"States.ArrayPartition", f_partition},
    {"States.ArrayContains", f_contains},
    {"States.ArrayRange", f_range},
    {"States.ArrayGetItem", f_get_item},
    {"States.ArrayLength", f_length},
    {"States.ArrayUnique", f_unique},
    {"States.Base64Encode", f_b64enc},
    {"States.Base64Decode", f_b64dec},
    {"States.Hash", f_hash},
    {"States.JsonMerge", f_merge},
    {"States.MathRandom", f_random},
    {"States.MathAdd", f_add},
    {"States.StringSplit", f_split},
    {"States.UUID", f_uuid},
};

static bool call_fn(parser *ps, json_object **out)
{
    if (++ps->depth > MAX_DEPTH)
        return fail_syntax(ps, "nested too deeply");
    const char *p = ps->p;
    size_t n = strcspn(p, "( ");
    fn_impl fn = NULL;
    const char *fname = NULL;
    for (size_t i = 0; i < sizeof FUNCS / sizeof FUNCS[0]; i++)
        if (strlen(FUNCS[i].name) == n && !strncmp(FUNCS[i].name, p, n))
            fn = FUNCS[i].fn, fname = FUNCS[i].name;
    if (!fn) {
        asl_fail(ps->e, "States.IntrinsicFailure", "Unknown intrinsic function: %.*s", (int)(n > 64 ? 64 : n), p);
        return false;
    }
    ps->p = p + n;
    skip_ws(ps);
    if (*ps->p != '(')
        return fail_syntax(ps, "expected (");
    ps->p++;
    args a = {.n = 0};
    skip_ws(ps);
    if (*ps->p == ')') {
        ps->p++;
    } else {
        for (;;) {
            json_object *v;
            if (a.n >= MAX_ARGS) {
                args_free(&a);
                return fail_syntax(ps, "too many arguments");
            }
            if (!parse_arg(ps, &v)) {
                args_free(&a);
                return false;
            }
            a.v[a.n++] = v;
            skip_ws(ps);
            if (*ps->p == ',') {
                ps->p++;
                continue;
            }
            if (*ps->p == ')') {
                ps->p++;
                break;
            }
            args_free(&a);
            return fail_syntax(ps, "expected , or )");
        }
    }
    ps->depth--;
    if (ps->check_only) {
        args_free(&a);
        *out = NULL;
        return true;
    }
    *out = fn(fname, &a, ps->e);
    args_free(&a);
    return !ps->e->error[0];
}

json_object *asl_intrinsic(const char *expr, json_object *input, json_object *ctx, asl_err *e)
{
    parser ps = {.p = expr, .input = input, .ctx = ctx, .e = e};
    json_object *out = NULL;
    if (!call_fn(&ps, &out))
        return NULL;
    skip_ws(&ps);
    if (*ps.p) {
        json_object_put(out);
        fail_syntax(&ps, "trailing characters");
        return NULL;
    }
    return out;
}

const char *asl_intrinsic_check(const char *expr, char *buf, size_t n)
{
    asl_err e = {{0}, {0}};
    parser ps = {.p = expr, .e = &e, .check_only = true};
    json_object *out = NULL;
    if (call_fn(&ps, &out)) {
        skip_ws(&ps);
        if (!*ps.p)
            return NULL;
        fail_syntax(&ps, "trailing characters");
    }
    snprintf(buf, n, "%s", e.cause);
    return buf;
}
