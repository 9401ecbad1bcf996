/*
 * asl_path.c — JSONPath for the States Language: `$`, `.name`, `['name']`,
 * `[n]`, `[*]` and `.*` (wildcards make the result a list of the matches,
 * as AWS's Jayway-based evaluator does).  Recursive descent (`..`), filters
 * and slices are rejected as invalid paths.  Also: ResultPath assignment,
 * context-object lookups and payload templates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl.h"
#include "core/nimbus.h"

void asl_fail(asl_err *e, const char *error, const char *fmt, ...)
{
    snprintf(e->error, sizeof e->error, "%s", error);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->cause, sizeof e->cause, fmt, ap);
    va_end(ap);
}

/* One path segment. */
typedef struct seg {
    enum { SEG_NAME, SEG_INDEX, SEG_WILD } kind;
    char name[256];
    int64_t index;
} seg;

/* Parse the segment at *p; 1 parsed, 0 at end, -1 invalid. */
static int next_seg(const char **pp, seg *s)
{
    const char *p = *pp;
    if (!*p)
        return 0;
    if (*p == '.') {
        p++;
        if (*p == '.' || !*p)
            return -1;
        if (*p == '*') {
            s->kind = SEG_WILD;
            *pp = p + 1;
            return 1;
        }
        size_t n = strcspn(p, ".[");
        if (n == 0 || n >= sizeof s->name)
            return -1;
        s->kind = SEG_NAME;
        memcpy(s->name, p, n);
        s->name[n] = 0;
        *pp = p + n;
        return 1;
    }
    if (*p != '[')
        return -1;
    p++;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        size_t n = 0;
        while (*p && *p != q) {
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 >= sizeof s->name)
                return -1;
            s->name[n++] = *p++;
        }
        if (*p != q || p[1] != ']')
            return -1;
        s->name[n] = 0;
        s->kind = SEG_NAME;
        *pp = p + 2;
        return 1;
    }
    if (*p == '*' && p[1] == ']') {
        s->kind = SEG_WILD;
        *pp = p + 2;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return -1;
    int64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > 100000000)
            return -1;
        p++;
    }
    if (*p != ']')
        return -1;
    s->kind = SEG_INDEX;
    s->index = v;
    *pp = p + 1;
    return 1;
}

static bool path_scan(const char *path, bool *wild)
{
    if (!path || path[0] != '$')
        return false;
    const char *p = path + 1;
    seg s;
    int r;
    *wild = false;
    while ((r = next_seg(&p, &s)) == 1)
        if (s.kind == SEG_WILD)
            *wild = true;
    return r == 0;
}

bool asl_path_valid(const char *path)
{
    bool w;
    return path_scan(path, &w);
}

bool asl_path_is_reference(const char *path)
{
    bool w;
    return path_scan(path, &w) && !w;
}

static void collect(json_object *node, const char *p, json_object *acc)
{
    seg s;
    const char *q = p;
    int r = next_seg(&q, &s);
    if (r == 0) {
        json_object_array_add(acc, json_object_get(node));
        return;
    }
    if (s.kind == SEG_NAME) {
        json_object *v;
        if (json_object_is_type(node, json_type_object) && json_object_object_get_ex(node, s.name, &v))
            collect(v, q, acc);
    } else if (s.kind == SEG_INDEX) {
        if (json_object_is_type(node, json_type_array) &&
            (size_t)s.index < json_object_array_length(node))
            collect(json_object_array_get_idx(node, (size_t)s.index), q, acc);
    } else if (json_object_is_type(node, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(node); i++)
            collect(json_object_array_get_idx(node, i), q, acc);
    } else if (json_object_is_type(node, json_type_object)) {
        json_object_object_foreach(node, k, v) {
            (void)k;
            collect(v, q, acc);
        }
    }
}

int asl_path_get(json_object *root, const char *path, json_object **out)
{
    bool wild;
    *out = NULL;
    if (!path_scan(path, &wild))
        return -1;
    json_object *acc = json_object_new_array();
    collect(root, path + 1, acc);
    if (wild) {
        *out = acc;
        return 0;
    }
    int rc = 1;
    if (json_object_array_length(acc) == 1) {
        *out = json_object_get(json_object_array_get_idx(acc, 0));
        rc = 0;
    }
    json_object_put(acc);
    return rc;
}

int asl_path_set(json_object **root, const char *path, json_object *val)
{
    if (!asl_path_is_reference(path)) {
        json_object_put(val);
        return -1;
    }
    if (!path[1]) {
        json_object_put(*root);
        *root = val;
        return 0;
    }
    if (!json_object_is_type(*root, json_type_object) && !json_object_is_type(*root, json_type_array)) {
        /* Like AWS: a scalar input becomes an object to hold the result. */
        json_object_put(*root);
        *root = json_object_new_object();
    }
    json_object *node = *root;
    const char *p = path + 1;
    seg s;
    while (next_seg(&p, &s) == 1) {
        bool last = *p == 0;
        if (s.kind == SEG_NAME) {
            if (!json_object_is_type(node, json_type_object)) {
                json_object_put(val);
                return -1;
            }
            if (last) {
                json_object_object_add(node, s.name, val);
                return 0;
            }
            json_object *child;
            if (!json_object_object_get_ex(node, s.name, &child) ||
                (!json_object_is_type(child, json_type_object) && !json_object_is_type(child, json_type_array))) {
                child = json_object_new_object();
                json_object_object_add(node, s.name, child);
            }
            node = child;
        } else {
            if (!json_object_is_type(node, json_type_array) ||
                (size_t)s.index >= json_object_array_length(node)) {
                json_object_put(val);
                return -1;
            }
            if (last) {
                json_object_array_put_idx(node, (size_t)s.index, val);
                return 0;
            }
            node = json_object_array_get_idx(node, (size_t)s.index);
        }
    }
    json_object_put(val);
    return -1;
}

/* AWS names the missing path in bracket form: $['a']['b']. */
static void bracket_form(const char *path, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "$");
    const char *p = path + 1;
    seg s;
    while (o < n && next_seg(&p, &s) == 1) {
        if (s.kind == SEG_NAME)
            o += (size_t)snprintf(out + o, n - o, "['%s']", s.name);
        else if (s.kind == SEG_INDEX)
            o += (size_t)snprintf(out + o, n - o, "[%lld]", (long long)s.index);
        else
            o += (size_t)snprintf(out + o, n - o, "[*]");
    }
}

json_object *asl_lookup(const char *path, json_object *input, json_object *ctx, asl_err *e)
{
    json_object *root = input, *out = NULL;
    const char *p = path;
    if (!strncmp(path, "$$", 2)) {
        root = ctx;
        p = path + 1;
    }
    int rc = asl_path_get(root, p, &out);
    if (rc == 0)
        return out;
    if (rc < 0) {
        asl_fail(e, "States.Runtime", "Invalid path '%s': The path is not supported by nimbus", path);
        return NULL;
    }
    char br[512];
    bracket_form(p, br, sizeof br);
    asl_fail(e, "States.Runtime", "Invalid path '%s' : No results for path: %s", path, br);
    return NULL;
}

/* ---- templates ------------------------------------------------------------------ */

static json_object *dynamic_value(const char *key, json_object *v, json_object *input, json_object *ctx, asl_err *e)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (s && s[0] == '$')
        return asl_lookup(s, input, ctx, e);
    if (s && !strncmp(s, "States.", 7))
        return asl_intrinsic(s, input, ctx, e);
    asl_fail(e, "States.Runtime",
             "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", key);
    return NULL;
}

json_object *asl_template(json_object *tmpl, json_object *input, json_object *ctx, asl_err *e)
{
    if (json_object_is_type(tmpl, json_type_array)) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(tmpl); i++) {
            json_object *v = asl_template(json_object_array_get_idx(tmpl, i), input, ctx, e);
            if (!v && e->error[0]) {
                json_object_put(arr);
                return NULL;
            }
            json_object_array_add(arr, v);
        }
        return arr;
    }
    if (!json_object_is_type(tmpl, json_type_object))
        return json_object_get(tmpl);
    json_object *obj = json_object_new_object();
    json_object_object_foreach(tmpl, k, v) {
        size_t kl = strlen(k);
        json_object *nv;
        if (kl > 2 && !strcmp(k + kl - 2, ".$")) {
            nv = dynamic_value(k, v, input, ctx, e);
            if (!nv && e->error[0]) {
                json_object_put(obj);
                return NULL;
            }
            char name[256];
            nb_copy(name, sizeof name, k, kl - 2);
            json_object_object_add(obj, name, nv);
        } else {
            nv = asl_template(v, input, ctx, e);
            if (!nv && e->error[0]) {
                json_object_put(obj);
                return NULL;
            }
            json_object_object_add(obj, k, nv);
        }
    }
    return obj;
}
