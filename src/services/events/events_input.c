/*
 * events_input.c — InputPath evaluation and InputTransformer templates
 * (see events_input.h for the language).  A template is compiled once, at
 * PutTargets, into literal runs and placeholders (each knowing whether it
 * stands inside a JSON string); applying it is one pass that appends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/nimbus.h"
#include "events_input.h"

/* ---- paths -------------------------------------------------------------------- */

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '/' || c == '@' || c == ':';
}

/* One step of a path: kind 'k' (key p[0..n)), 'i' (index), '*' (all). */
typedef struct {
    char kind;
    const char *p;
    size_t n;
    long idx;
} step;

/* Parses the step at *s; false at the end or on a syntax error (*bad). */
static bool next_step(const char **s, step *st, bool *bad)
{
    const char *p = *s;
    *bad = false;
    if (!*p)
        return false;
    if (p[0] == '.') {
        if (p[1] == '*') {
            st->kind = '*';
            *s = p + 2;
            return true;
        }
        const char *q = p + 1;
        while (name_char((unsigned char)*q))
            q++;
        if (q == p + 1) {
            *bad = true;
            return false;
        }
        st->kind = 'k';
        st->p = p + 1;
        st->n = (size_t)(q - p - 1);
        *s = q;
        return true;
    }
    if (p[0] == '[') {
        if (p[1] == '*' && p[2] == ']') {
            st->kind = '*';
            *s = p + 3;
            return true;
        }
        const char *q = p + 1;
        long v = 0;
        while (*q >= '0' && *q <= '9' && q - p < 10)
            v = v * 10 + (*q++ - '0');
        if (q == p + 1 || *q != ']') {
            *bad = true;
            return false;
        }
        st->kind = 'i';
        st->idx = v;
        *s = q + 1;
        return true;
    }
    *bad = true;
    return false;
}

bool ev_path_valid(const char *path)
{
    if (!path || path[0] != '$' || strlen(path) > EV_MAX_PATH_LEN)
        return false;
    const char *s = path + 1;
    step st;
    bool bad;
    while (next_step(&s, &st, &bad))
        ;
    return !bad;
}

static json_object *eval_from(json_object *v, const char *s)
{
    step st;
    bool bad = false;
    while (v && next_step(&s, &st, &bad)) {
        if (st.kind == 'k') {
            if (!json_object_is_type(v, json_type_object))
                return NULL;
            char key[EV_MAX_PATH_LEN + 1];
            size_t n = st.n < EV_MAX_PATH_LEN ? st.n : EV_MAX_PATH_LEN;
            memcpy(key, st.p, n);
            key[n] = 0;
            json_object *c;
            v = json_object_object_get_ex(v, key, &c) ? c : NULL;
        } else if (st.kind == 'i') {
            if (!json_object_is_type(v, json_type_array) ||
                st.idx >= (long)json_object_array_length(v))
                return NULL;
            v = json_object_array_get_idx(v, (size_t)st.idx);
        } else {
            json_object *all = json_object_new_array();
            if (json_object_is_type(v, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                    json_object *r = eval_from(json_object_array_get_idx(v, i), s);
                    if (r)
                        json_object_array_add(all, r);
                }
            } else if (json_object_is_type(v, json_type_object)) {
                json_object_object_foreach(v, k, c) {
                    (void)k;
                    json_object *r = eval_from(c, s);
                    if (r)
                        json_object_array_add(all, r);
                }
            } else {
                json_object_put(all);
                return NULL;
            }
            return all;
        }
    }
    if (bad)
        return NULL;
    return json_object_get(v);
}

json_object *ev_path_eval(json_object *root, const char *path)
{
    if (!ev_path_valid(path))
        return NULL;
    return eval_from(root, path + 1);
}

/* ---- templates ---------------------------------------------------------------- */

enum { PRE_RULE_ARN = -1, PRE_RULE_NAME = -2, PRE_INGESTION = -3, PRE_EVENT = -4,
       PRE_EVENT_JSON = -5 };

static const struct {
    const char *name;
    int id;
} PREDEFINED[] = {
    {"aws.events.rule-arn", PRE_RULE_ARN},
    {"aws.events.rule-name", PRE_RULE_NAME},
    {"aws.events.event.ingestion-time", PRE_INGESTION},
    {"aws.events.event", PRE_EVENT},
    {"aws.events.event.json", PRE_EVENT_JSON},
};

typedef struct {
    size_t off, len;  /* literal text before the placeholder, in tmpl */
    int var;          /* index into names/paths, a PRE_* id, or 0 for none (last) */
    bool in_string;
} segment;

struct ev_transformer {
    char *tmpl;
    bool json_mode;
    size_t nvars;
    char **paths;
    segment *segs;
    size_t nsegs;
};

void ev_transformer_free(ev_transformer *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nvars; i++)
        free(t->paths[i]);
    free(t->paths);
    free(t->segs);
    free(t->tmpl);
    free(t);
}

static bool key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static bool ident_char(unsigned char c)
{
    return key_char(c) || c == '.';
}

/* The variable a placeholder name refers to: 1-based index, PRE_* id, or 0. */
static int lookup_var(json_object *paths, const char **names, size_t nvars, const char *p, size_t n)
{
    (void)paths;
    for (size_t i = 0; i < sizeof PREDEFINED / sizeof PREDEFINED[0]; i++)
        if (strlen(PREDEFINED[i].name) == n && !memcmp(PREDEFINED[i].name, p, n))
            return PREDEFINED[i].id;
    for (size_t i = 0; i < nvars; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], p, n))
            return (int)i + 1;
    return 0;
}

static void add_seg(ev_transformer *t, size_t *cap, size_t off, size_t len, int var, bool in_str)
{
    if (t->nsegs == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        t->segs = nb_realloc(t->segs, *cap * sizeof *t->segs);
    }
    t->segs[t->nsegs++] = (segment){off, len, var, in_str};
}

/* Splits the template into segments; false (with err) on a bad placeholder. */
static bool split(ev_transformer *t, json_object *paths, const char **names, const char *id, char *err,
                  size_t errlen)
{
    const char *s = t->tmpl;
    size_t n = strlen(s), lit = 0, cap = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (t->json_mode && in_str && c == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (t->json_mode && c == '"') {
            in_str = !in_str;
            continue;
        }
        if (c != '<')
            continue;
        size_t j = i + 1;
        while (j < n && ident_char((unsigned char)s[j]))
            j++;
        if (j == i + 1 || j >= n || s[j] != '>')
            continue;
        int var = lookup_var(paths, names, t->nvars, s + i + 1, j - i - 1);
        if (!var) {
            snprintf(err, errlen, "InputTemplate for target %s contains invalid placeholder %.*s.", id,
                     (int)(j - i - 1), s + i + 1);
            return false;
        }
        add_seg(t, &cap, lit, i - lit, var, in_str);
        lit = j + 1;
        i = j;
    }
    add_seg(t, &cap, lit, n - lit, 0, false);
    return true;
}

static void put_value(nb_buf *b, json_object *v, bool raw_strings, bool missing_null)
{
    if (!v) {
        if (missing_null)
            nb_buf_adds(b, "null");
        return;
    }
    if (raw_strings && json_object_is_type(v, json_type_string))
        nb_buf_add(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    else
        nb_json_write(b, v);
}

/* Appends the template with every placeholder replaced by values[k] (or,
 * when values is NULL, by nothing inside strings and null outside). */
static void render(const ev_transformer *t, json_object *const *values, json_object *event,
                   const ev_context *ctx, nb_buf *b)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        const segment *sg = &t->segs[i];
        nb_buf_add(b, t->tmpl + sg->off, sg->len);
        if (!sg->var)
            continue;
        bool raw = sg->in_string || !t->json_mode, null_missing = t->json_mode && !sg->in_string;
        if (!values) {
            if (null_missing)
                nb_buf_adds(b, "null");
            continue;
        }
        const char *str = NULL;
        switch (sg->var) {
        case PRE_RULE_ARN: str = ctx->rule_arn; break;
        case PRE_RULE_NAME: str = ctx->rule_name; break;
        case PRE_INGESTION: str = ctx->ingestion_time; break;
        case PRE_EVENT: {
            nb_buf_addc(b, '{');
            bool first = true;
            if (event) {
                json_object_object_foreach(event, k, v) {
                    if (!strcmp(k, "detail"))
                        continue;
                    if (!first)
                        nb_buf_addc(b, ',');
                    first = false;
                    const char *name = strcmp(k, "detail-type") ? k : "detailType";
                    nb_json_write_string(b, name, strlen(name));
                    nb_buf_addc(b, ':');
                    nb_json_write(b, v);
                }
            }
            nb_buf_addc(b, '}');
            continue;
        }
        case PRE_EVENT_JSON:
            put_value(b, event, false, true);
            continue;
        default:
            put_value(b, values[sg->var - 1], raw, null_missing);
            continue;
        }
        if (!str)
            str = "";
        if (raw)
            nb_buf_adds(b, str);
        else
            nb_json_write_string(b, str, strlen(str));
    }
}

bool ev_json_valid(const char *s, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
              json_tokener_get_parse_end(tok) == n;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

ev_transformer *ev_transformer_compile(json_object *paths, const char *tmpl, const char *id, char *err,
                                       size_t errlen)
{
    if (!id)
        id = "";
    if (errlen)
        err[0] = 0;
    if (!tmpl) {
        snprintf(err, errlen, "InputTemplate for target %s must be specified.", id);
        return NULL;
    }
    ev_transformer *t = nb_calloc(1, sizeof *t);
    t->tmpl = nb_strdup(tmpl);
    const char *first = tmpl + strspn(tmpl, " \t\r\n");
    t->json_mode = *first == '{' || *first == '[' || *first == '"';
    size_t n = paths && json_object_is_type(paths, json_type_object)
                   ? (size_t)json_object_object_length(paths) : 0;
    if (n > EV_MAX_PATHS) {
        snprintf(err, errlen, "InputPathsMap for target %s has more than %d entries.", id, EV_MAX_PATHS);
        ev_transformer_free(t);
        return NULL;
    }
    const char **names = nb_calloc(n ? n : 1, sizeof *names);
    t->paths = nb_calloc(n ? n : 1, sizeof *t->paths);
    bool ok = true;
    if (n) {
        json_object_object_foreach(paths, k, v) {
            const char *p = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
            bool key_ok = *k != 0;
            for (const char *c = k; *c; c++)
                key_ok = key_ok && key_char((unsigned char)*c);
            if (!key_ok) {
                snprintf(err, errlen, "InputPathsMap for target %s contains an invalid key %.200s.", id, k);
                ok = false;
                break;
            }
            if (!ev_path_valid(p)) {
                snprintf(err, errlen, "InputPathsMap for target %s has an invalid JSON path for key %.200s.", id, k);
                ok = false;
                break;
            }
            names[t->nvars] = k;
            t->paths[t->nvars++] = nb_strdup(p);
        }
    }
    ok = ok && split(t, paths, names, id, err, errlen);
    free(names);
    if (ok && t->json_mode) {
        nb_buf b = {0};
        render(t, NULL, NULL, NULL, &b);
        ok = ev_json_valid(b.data ? b.data : "", b.len);
        nb_buf_free(&b);
        if (!ok)
            snprintf(err, errlen, "InputTemplate for target %s is not valid JSON.", id);
    }
    if (!ok) {
        ev_transformer_free(t);
        return NULL;
    }
    return t;
}

char *ev_transformer_apply(const ev_transformer *t, json_object *event, const ev_context *ctx,
                           size_t *len)
{
    json_object *vals[EV_MAX_PATHS + 1] = {0};
    for (size_t i = 0; i < t->nvars; i++)
        vals[i] = ev_path_eval(event, t->paths[i]);
    ev_context none = {0};
    nb_buf b = {0};
    render(t, vals, event, ctx ? ctx : &none, &b);
    for (size_t i = 0; i < t->nvars; i++)
        json_object_put(vals[i]);
    nb_buf_addc(&b, 0);
    *len = b.len - 1;
    return b.data;
}
