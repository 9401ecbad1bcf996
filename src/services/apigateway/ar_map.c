/*
 * ar_map.c — REST API request and response mapping, the parts free of
 * I/O: which request template applies (by Content-Type and the
 * integration's passthroughBehavior), which integration response a result
 * selects (selectionPattern), the status a MOCK template asks for, and
 * the values responseParameters name.
 */
#include <ctype.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ar_internal.h"
#include "core/buf.h"

#define DEFAULT_CT "application/json"
#define AR_MAX_PATTERN 512

ar_tpl_pick ar_pick_request_template(json_object *templates, const char *ct, size_t ctn,
                                     const char *pb, const char **tpl)
{
    char media[256];
    size_t n = 0;
    if (ct) {
        const char *semi = memchr(ct, ';', ctn);
        size_t end = semi ? (size_t)(semi - ct) : ctn, a = 0;
        while (a < end && isspace((unsigned char)ct[a]))
            a++;
        while (end > a && isspace((unsigned char)ct[end - 1]))
            end--;
        n = end - a < sizeof media ? end - a : sizeof media - 1;
        memcpy(media, ct + a, n);
    }
    if (n == 0) {
        n = sizeof DEFAULT_CT - 1;
        memcpy(media, DEFAULT_CT, n);
    }
    media[n] = 0;
    int count = 0;
    if (templates && json_object_is_type(templates, json_type_object)) {
        json_object_object_foreach(templates, k, v) {
            count++;
            if (strcasecmp(k, media) == 0) {
                *tpl = json_object_get_string(v);
                return AR_TPL_OK;
            }
        }
    }
    if (pb && strcmp(pb, "NEVER") == 0)
        return AR_TPL_UNSUPPORTED;
    if (pb && strcmp(pb, "WHEN_NO_TEMPLATES") == 0 && count > 0)
        return AR_TPL_UNSUPPORTED;
    return AR_TPL_PASSTHROUGH;
}

struct pcre2_real_code_8 *ar_regcomp(const char *pattern, bool anchored)
{
    if (strlen(pattern) > AR_MAX_PATTERN)
        return NULL;
    int err;
    PCRE2_SIZE at;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    pcre2_set_newline(cc, PCRE2_NEWLINE_ANY); /* Java's line terminators for . and $ */
    pcre2_set_parens_nest_limit(cc, 100);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C |
                                       (anchored ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0),
                                   &err, &at, cc);
    pcre2_compile_context_free(cc);
    return re;
}

void ar_regfree(struct pcre2_real_code_8 *re)
{
    pcre2_code_free(re);
}

bool ar_regmatch(const struct pcre2_real_code_8 *re, const char *subject)
{
    static pcre2_match_context *mc;
    if (!mc) { /* one per process, never changed after: kept for its life */
        mc = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(mc, 100000);
        pcre2_set_depth_limit(mc, 1000);
        pcre2_set_heap_limit(mc, 4096);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, PCRE2_ZERO_TERMINATED, 0, 0, md, mc);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* ---- caches ---------------------------------------------------------------------- */

void *ar_lru_get(ar_lru *c, const char *key, void *(*make)(const char *key, void *arg), void *arg)
{
    int victim = 0;
    for (int i = 0; i < AR_LRU_N; i++) {
        if (c->slot[i].key && strcmp(c->slot[i].key, key) == 0) {
            c->slot[i].used = ++c->clock;
            return c->slot[i].val;
        }
        if (c->slot[i].used < c->slot[victim].used)
            victim = i;
    }
    void *val = make(key, arg);
    if (!val)
        return NULL;
    if (c->slot[victim].key)
        c->drop(c->slot[victim].val);
    free(c->slot[victim].key);
    c->slot[victim].key = nb_strdup(key);
    c->slot[victim].val = val;
    c->slot[victim].used = ++c->clock;
    return val;
}

void ar_lru_clear(ar_lru *c)
{
    for (int i = 0; i < AR_LRU_N; i++) {
        if (c->slot[i].key)
            c->drop(c->slot[i].val);
        free(c->slot[i].key);
        c->slot[i].key = NULL;
        c->slot[i].val = NULL;
        c->slot[i].used = 0;
    }
}

static void *re_make(const char *pattern, void *arg)
{
    (void)arg;
    return ar_regcomp(pattern, true);
}

static void re_drop(void *v)
{
    ar_regfree(v);
}

static ar_lru patterns = {.drop = re_drop};

void ar_regex_cache_clear(void) { ar_lru_clear(&patterns); }

/* Whether pattern matches all of subject. */
static bool full_match(const char *pattern, const char *subject)
{
    const struct pcre2_real_code_8 *re = ar_lru_get(&patterns, pattern, re_make, NULL);
    return re && ar_regmatch(re, subject);
}

json_object *ar_pick_integration_response(json_object *responses, const char *subject)
{
    json_object *def = NULL;
    if (!responses || !json_object_is_type(responses, json_type_object))
        return NULL;
    json_object_object_foreach(responses, k, ir) {
        (void)k;
        const char *sp = nb_str(ir, "selectionPattern");
        if (!sp || !sp[0]) {
            if (!def)
                def = ir;
        } else if (full_match(sp, subject)) {
            return ir;
        }
    }
    return def;
}

int ar_mock_status(const char *body, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, body, (int)n);
    json_tokener_free(tok);
    int status = 200;
    json_object *sc = o && json_object_is_type(o, json_type_object) ? nb_get(o, "statusCode") : NULL;
    if (sc && (json_object_is_type(sc, json_type_int) || json_object_is_type(sc, json_type_string))) {
        int v = json_object_get_int(sc);
        if (v >= 100 && v <= 599)
            status = v;
    }
    json_object_put(o);
    return status;
}

/* ctx[group][name], names compared case-insensitively for headers. */
static const char *lookup(json_object *group, const char *name, bool nocase)
{
    if (!group || !json_object_is_type(group, json_type_object))
        return NULL;
    json_object_object_foreach(group, k, v) {
        if (nocase ? strcasecmp(k, name) == 0 : strcmp(k, name) == 0)
            return json_object_get_string(v);
    }
    return NULL;
}

const char *ar_param_value(const char *expr, json_object *ctx, char *buf, size_t n)
{
    size_t len = strlen(expr);
    if (len >= 2 && expr[0] == '\'' && expr[len - 1] == '\'') {
        nb_copy(buf, n, expr + 1, len - 2);
        return buf;
    }
    static const struct {
        const char *prefix, *group, *sub;
        bool nocase;
    } SRC[] = {
        {"method.request.path.", "request", "path", false},
        {"method.request.querystring.", "request", "querystring", false},
        {"method.request.header.", "request", "header", true},
        {"integration.response.header.", "integration_headers", NULL, true},
        {"stageVariables.", "stage", NULL, false},
        {"context.", "context", NULL, false},
    };
    if (strcmp(expr, "integration.response.body") == 0)
        return nb_str(ctx, "integration_body");
    for (size_t i = 0; i < sizeof SRC / sizeof SRC[0]; i++) {
        size_t pl = strlen(SRC[i].prefix);
        if (strncmp(expr, SRC[i].prefix, pl) == 0 && expr[pl]) {
            json_object *g = nb_get(ctx, SRC[i].group);
            if (SRC[i].sub)
                g = nb_get(g, SRC[i].sub);
            return lookup(g, expr + pl, SRC[i].nocase);
        }
    }
    return NULL;
}
