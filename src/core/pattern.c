/*
 * pattern.c — the event-pattern engine shared by EventBridge rules, SNS
 * filter policies and Lambda filter criteria (see pattern.h for what callers
 * pass; docs/architecture.md "Event patterns" for the design).
 *
 * Compiled form.  A pattern is a tree of AND nodes (pnode).  Nested pattern
 * objects are flattened: every leaf array of the pattern becomes one field
 * (pfield) holding its absolute key path from the event root and its
 * matchers.  A "$or" at any level becomes an or-group of alternative
 * pnodes, whose paths carry the prefix of where the "$or" stood.  A node
 * matches when every field matches and every or-group has a matching
 * alternative.
 *
 * Within a field the alternatives are ORed.  Exact strings are merged into
 * one sorted set (binary search), exact numbers into one sorted array of
 * doubles, true/false/null into a bit mask; the other matchers (prefix,
 * suffix, equals-ignore-case, wildcard, numeric range, cidr, anything-but
 * of each) are pre-parsed: lower-cased text, wildcard segments, [lo, hi]
 * bounds, masked address bytes.
 *
 * Matching walks the field's path through the event; an array anywhere on
 * the path (or at its end) is entered element by element, and the field
 * matches when any leaf value matches any matcher.  Objects are not leaves.
 * {"exists": false} matches when the path reaches no leaf at all.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nimbus.h"
#include "pattern.h"

/* ---- compiled form -------------------------------------------------------- */

typedef struct pstr {
    char *s;
    size_t n;
} pstr;

/* A wildcard pattern: literal segments separated by '*'. */
typedef struct wild {
    char *lit;    /* unescaped segments, back to back */
    size_t *off;  /* nseg offsets into lit */
    size_t *len;  /* nseg lengths */
    size_t nseg;  /* number of '*' + 1 */
} wild;

typedef enum {
    PM_IN_STRS,  /* equals one of strs (sorted) */
    PM_IN_NUMS,  /* equals one of nums (sorted) */
    PM_PREFIX,   /* starts with strs[0] (ci: folded) */
    PM_SUFFIX,   /* ends with strs[0] */
    PM_EQ_CI,    /* equals one of strs, ignoring ASCII case */
    PM_WILDCARD, /* matches one of wilds */
    PM_NUMERIC,  /* lo (<|<=) v (<|<=) hi */
    PM_CIDR,     /* address in ip/bits */
} pm_kind;

typedef struct pmatch {
    pm_kind kind;
    bool neg; /* anything-but */
    bool ci;  /* prefix/suffix with equals-ignore-case */
    pstr *strs;
    size_t nstrs;
    double *nums;
    size_t nnums;
    wild *wilds;
    size_t nwilds;
    double lo, hi;
    bool lo_incl, hi_incl;
    int fam; /* AF_INET or AF_INET6 */
    int bits;
    uint8_t ip[16];
} pmatch;

/* Leaf value types; the literal mask of a field uses 1 << type. */
typedef enum { LF_STR, LF_NUM, LF_TRUE, LF_FALSE, LF_NULL } lf_type;

typedef struct leaf {
    lf_type t;
    const char *s; /* LF_STR: NUL-terminated */
    size_t n;
    double d; /* LF_NUM */
} leaf;

typedef struct pfield {
    pstr *path;
    size_t nseg;
    unsigned lits; /* 1 << LF_TRUE | LF_FALSE | LF_NULL */
    bool ex_true, ex_false;
    pmatch *ops;
    size_t nops;
    size_t nvalues; /* elements of the pattern array (SNS complexity) */
} pfield;

typedef struct pnode pnode;

typedef struct porgroup {
    pnode *alts;
    size_t nalts;
} porgroup;

struct pnode {
    pfield *fields;
    size_t nfields;
    porgroup *ors;
    size_t nors;
};

struct nb_pattern {
    nb_pattern_dialect d;
    int lambda_body;
    pnode root;
};

/* ---- freeing -------------------------------------------------------------- */

static void pmatch_free(pmatch *m)
{
    for (size_t i = 0; i < m->nstrs; i++)
        free(m->strs[i].s);
    free(m->strs);
    free(m->nums);
    for (size_t i = 0; i < m->nwilds; i++) {
        free(m->wilds[i].lit);
        free(m->wilds[i].off);
        free(m->wilds[i].len);
    }
    free(m->wilds);
}

static void pnode_free(pnode *n)
{
    for (size_t i = 0; i < n->nfields; i++) {
        pfield *f = &n->fields[i];
        for (size_t k = 0; k < f->nseg; k++)
            free(f->path[k].s);
        free(f->path);
        for (size_t k = 0; k < f->nops; k++)
            pmatch_free(&f->ops[k]);
        free(f->ops);
    }
    free(n->fields);
    for (size_t i = 0; i < n->nors; i++) {
        for (size_t k = 0; k < n->ors[i].nalts; k++)
            pnode_free(&n->ors[i].alts[k]);
        free(n->ors[i].alts);
    }
    free(n->ors);
}

void nb_pattern_free(nb_pattern *p)
{
    if (!p)
        return;
    pnode_free(&p->root);
    free(p);
}

/* ---- compile context and errors ------------------------------------------- */

typedef struct cctx {
    nb_pattern_dialect d;
    char *err;
    size_t errlen;
    bool failed;
} cctx;

static void fail_raw(cctx *c, const char *msg)
{
    if (c->failed)
        return;
    c->failed = true;
    if (c->errlen)
        snprintf(c->err, c->errlen, "%s", msg);
}

/* Records the first error, with the dialect's prefix. */
static bool fail(cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(cctx *c, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    char msg[640];
    switch (c->d) {
    case NB_PAT_EVENTBRIDGE:
        snprintf(msg, sizeof msg, "Event pattern is not valid. Reason: %s", reason);
        break;
    case NB_PAT_SNS_ATTRIBUTES:
    case NB_PAT_SNS_BODY:
        snprintf(msg, sizeof msg, "Invalid parameter: FilterPolicy: %s", reason);
        break;
    case NB_PAT_LAMBDA:
    default:
        snprintf(msg, sizeof msg, "Invalid filter pattern definition. Reason: %s", reason);
        break;
    }
    fail_raw(c, msg);
    return false;
}

static bool is_sns(const cctx *c) { return c->d == NB_PAT_SNS_ATTRIBUTES || c->d == NB_PAT_SNS_BODY; }

static bool is_number(json_object *v)
{
    json_type t = json_object_get_type(v);
    return t == json_type_int || t == json_type_double;
}

/* A pattern number: finite, and within SNS's range for SNS. */
static bool pattern_number(cctx *c, json_object *v, double *out)
{
    double d = json_object_get_double(v);
    if (!isfinite(d))
        return fail(c, "Numeric value out of range");
    if (is_sns(c) && (d < -NB_PAT_SNS_NUM_LIMIT || d > NB_PAT_SNS_NUM_LIMIT))
        return fail(c, "Numeric value %s is not within the range [-1.0E9, 1.0E9]",
                    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    *out = d;
    return true;
}

/* ---- growable arrays ------------------------------------------------------ */

#define PUSH(arr, n, item)                                                   \
    do {                                                                     \
        (arr) = nb_realloc((arr), ((n) + 1) * sizeof *(arr));                \
        (arr)[(n)++] = (item);                                               \
    } while (0)

static pstr pstr_dup(const char *s, size_t n, bool fold)
{
    pstr p = {nb_malloc(n + 1), n};
    memcpy(p.s, s, n);
    p.s[n] = '\0';
    if (fold)
        for (size_t i = 0; i < n; i++)
            if (p.s[i] >= 'A' && p.s[i] <= 'Z')
                p.s[i] = (char)(p.s[i] + 32);
    return p;
}

static int pstr_cmp(const void *a, const void *b)
{
    const pstr *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static pstr json_pstr(json_object *v, bool fold)
{
    return pstr_dup(json_object_get_string(v), (size_t)json_object_get_string_len(v), fold);
}

/* ---- operator compilers --------------------------------------------------- */

/* Parses a wildcard text: '*' matches any run; "\*" and "\\" are literal. */
static bool wild_compile(cctx *c, const char *s, size_t n, wild *w)
{
    w->lit = nb_malloc(n + 1);
    w->off = nb_malloc((n + 1) * sizeof *w->off);
    w->len = nb_malloc((n + 1) * sizeof *w->len);
    w->nseg = 1;
    w->off[0] = 0;
    size_t k = 0;
    bool star = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '*') {
            if (star)
                return fail(c, "Consecutive wildcard characters at pos %zu", i);
            w->len[w->nseg - 1] = k - w->off[w->nseg - 1];
            w->off[w->nseg++] = k;
            star = true;
            continue;
        }
        star = false;
        if (ch == '\\') {
            if (i + 1 >= n || (s[i + 1] != '*' && s[i + 1] != '\\'))
                return fail(c, "Invalid escape character at pos %zu", i);
            ch = s[++i];
        }
        w->lit[k++] = ch;
    }
    w->len[w->nseg - 1] = k - w->off[w->nseg - 1];
    w->lit[k] = '\0';
    return true;
}

/* Adds one wildcard (a string) to m. */
static bool add_wild(cctx *c, pmatch *m, json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(c, "wildcard match pattern must be a string");
    wild w = {0};
    bool ok = wild_compile(c, json_object_get_string(v), (size_t)json_object_get_string_len(v), &w);
    PUSH(m->wilds, m->nwilds, w);
    return ok;
}

/* One string or a non-empty list of strings into m->strs (folded). */
static bool add_strs(cctx *c, pmatch *m, json_object *v, const char *op, bool allow_list)
{
    if (json_object_is_type(v, json_type_string)) {
        PUSH(m->strs, m->nstrs, json_pstr(v, true));
        return true;
    }
    if (!allow_list || !json_object_is_type(v, json_type_array))
        return fail(c, "%s match pattern must be a string", op);
    size_t n = json_object_array_length(v);
    if (n == 0)
        return fail(c, "Empty arrays are not allowed");
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string))
            return fail(c, "%s match pattern must be a string", op);
        PUSH(m->strs, m->nstrs, json_pstr(e, true));
    }
    return true;
}

/* "prefix"/"suffix": a string, or {"equals-ignore-case": string}. */
static bool op_affix(cctx *c, pmatch *m, pm_kind kind, const char *name, json_object *v, bool neg)
{
    m->kind = kind;
    m->neg = neg;
    if (json_object_is_type(v, json_type_string)) {
        PUSH(m->strs, m->nstrs, json_pstr(v, false));
        return true;
    }
    if (!neg && !is_sns(c) && json_object_is_type(v, json_type_object) &&
        json_object_object_length(v) == 1) {
        json_object *ci;
        if (json_object_object_get_ex(v, "equals-ignore-case", &ci) &&
            json_object_is_type(ci, json_type_string)) {
            m->ci = true;
            PUSH(m->strs, m->nstrs, json_pstr(ci, true));
            return true;
        }
    }
    return fail(c, "%s match pattern must be a string", name);
}

static bool numeric_op(const char *s, int *kind)
{
    static const char *const ops[] = {"=", "<", "<=", ">", ">="};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, ops[i]) == 0) {
            *kind = i;
            return true;
        }
    return false;
}

/* "numeric": ["=", x] or up to one lower and one upper bound. */
static bool op_numeric(cctx *c, pmatch *m, json_object *v)
{
    m->kind = PM_NUMERIC;
    m->lo = -INFINITY;
    m->hi = INFINITY;
    if (!json_object_is_type(v, json_type_array))
        return fail(c, "Value of numeric must be an array.");
    size_t n = json_object_array_length(v);
    if (n == 0)
        return fail(c, "Empty arrays are not allowed");
    if (n > 4)
        return fail(c, "Too many elements in numeric expression");
    bool have_lo = false, have_hi = false, have_eq = false;
    for (size_t i = 0; i < n; i += 2) {
        json_object *o = json_object_array_get_idx(v, i);
        int k;
        if (!json_object_is_type(o, json_type_string) || !numeric_op(json_object_get_string(o), &k))
            return fail(c, "Unrecognized numeric range operator: %s",
                        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        const char *opname = json_object_get_string(o);
        if (i + 1 >= n)
            return fail(c, "Value of %s must be numeric", opname);
        json_object *x = json_object_array_get_idx(v, i + 1);
        double d;
        if (!is_number(x))
            return fail(c, "Value of %s must be numeric", opname);
        if (!pattern_number(c, x, &d))
            return false;
        if (k == 0) { /* = */
            if (have_lo || have_hi || have_eq)
                return fail(c, "Bad numeric range operator: =");
            m->lo = m->hi = d;
            m->lo_incl = m->hi_incl = true;
            have_eq = true;
        } else if (k >= 3) { /* > >= */
            if (have_lo || have_eq)
                return fail(c, "Bad numeric range operator: %s", opname);
            m->lo = d;
            m->lo_incl = k == 4;
            have_lo = true;
        } else { /* < <= */
            if (have_hi || have_eq)
                return fail(c, "Bad numeric range operator: %s", opname);
            m->hi = d;
            m->hi_incl = k == 2;
            have_hi = true;
        }
    }
    if (have_lo && have_hi && !(m->lo < m->hi))
        return fail(c, "Bottom must be less than top");
    return true;
}

/* "cidr": "a.b.c.d/n" or "x::y/n", canonicalised (host bits cleared). */
static bool op_cidr(cctx *c, pmatch *m, json_object *v)
{
    m->kind = PM_CIDR;
    if (!json_object_is_type(v, json_type_string))
        return fail(c, "cidr match pattern must be a string");
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    const char *slash = memchr(s, '/', n);
    if (!slash || memchr(slash + 1, '/', n - (size_t)(slash - s) - 1) || slash == s)
        return fail(c, "Malformed CIDR, one '/' required");
    char addr[64];
    size_t an = (size_t)(slash - s);
    if (an >= sizeof addr || memchr(s, '\0', an))
        return fail(c, "Nonstandard IP address: %.60s", s);
    memcpy(addr, s, an);
    addr[an] = '\0';
    if (inet_pton(AF_INET, addr, m->ip) == 1)
        m->fam = AF_INET;
    else if (inet_pton(AF_INET6, addr, m->ip) == 1)
        m->fam = AF_INET6;
    else
        return fail(c, "Nonstandard IP address: %s", addr);
    int max = m->fam == AF_INET ? 32 : 128, bits = 0;
    const char *b = slash + 1, *end = s + n;
    if (b == end || end - b > 3)
        return fail(c, "Malformed CIDR, mask bits must be an integer");
    for (; b < end; b++) {
        if (*b < '0' || *b > '9')
            return fail(c, "Malformed CIDR, mask bits must be an integer");
        bits = bits * 10 + (*b - '0');
    }
    if (bits > max)
        return fail(c, "Malformed CIDR, mask bits must not exceed %d", max);
    m->bits = bits;
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        m->ip[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return true;
}

/* anything-but of a value list: all strings or all numbers. */
static bool anything_but_list(cctx *c, pmatch *m, json_object *v)
{
    size_t n = json_object_array_length(v);
    if (n == 0)
        return fail(c, "Empty arrays are not allowed");
    json_type t0 = json_object_get_type(json_object_array_get_idx(v, 0));
    m->kind = t0 == json_type_string ? PM_IN_STRS : PM_IN_NUMS;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        bool str = json_object_is_type(e, json_type_string);
        if (str != (m->kind == PM_IN_STRS) || (!str && !is_number(e)))
            return fail(c, "Inside anything but list, start|null|boolean is not supported.");
        if (str) {
            PUSH(m->strs, m->nstrs, json_pstr(e, false));
        } else {
            double d;
            if (!pattern_number(c, e, &d))
                return false;
            PUSH(m->nums, m->nnums, d);
        }
    }
    return true;
}

/* anything-but of an operator: prefix, suffix, equals-ignore-case, wildcard. */
static bool anything_but_op(cctx *c, pmatch *m, json_object *v)
{
    if (json_object_object_length(v) != 1)
        return fail(c, "Value of anything-but must be an array or single string/number value.");
    json_object_object_foreach(v, key, val) {
        bool eb = c->d == NB_PAT_EVENTBRIDGE;
        if (strcmp(key, "prefix") == 0 && c->d != NB_PAT_LAMBDA)
            return op_affix(c, m, PM_PREFIX, "prefix", val, true);
        if (strcmp(key, "suffix") == 0 && c->d != NB_PAT_LAMBDA)
            return op_affix(c, m, PM_SUFFIX, "suffix", val, true);
        m->neg = true;
        if (strcmp(key, "equals-ignore-case") == 0 && eb) {
            m->kind = PM_EQ_CI;
            return add_strs(c, m, val, "equals-ignore-case", true);
        }
        if (strcmp(key, "wildcard") == 0 && eb) {
            m->kind = PM_WILDCARD;
            if (!json_object_is_type(val, json_type_array))
                return add_wild(c, m, val);
            size_t n = json_object_array_length(val);
            if (n == 0)
                return fail(c, "Empty arrays are not allowed");
            for (size_t i = 0; i < n; i++)
                if (!add_wild(c, m, json_object_array_get_idx(val, i)))
                    return false;
            return true;
        }
        return fail(c, "Unsupported anything-but pattern: %s", key);
    }
    return false;
}

static bool op_anything_but(cctx *c, pmatch *m, json_object *v)
{
    m->neg = true;
    switch (json_object_get_type(v)) {
    case json_type_string:
        m->kind = PM_IN_STRS;
        PUSH(m->strs, m->nstrs, json_pstr(v, false));
        return true;
    case json_type_int:
    case json_type_double: {
        double d;
        m->kind = PM_IN_NUMS;
        if (!pattern_number(c, v, &d))
            return false;
        PUSH(m->nums, m->nnums, d);
        return true;
    }
    case json_type_array:
        return anything_but_list(c, m, v);
    case json_type_object:
        return anything_but_op(c, m, v);
    default:
        return fail(c, "Value of anything-but must be an array or single string/number value.");
    }
}

/* Compiles one operator object ({"prefix": ...}) of a field's array. */
static bool compile_op(cctx *c, pfield *f, json_object *o)
{
    if (json_object_object_length(o) != 1)
        return fail(c, "Only one key allowed in match expression");
    const char *key = NULL;
    json_object *v = NULL;
    json_object_object_foreach(o, k, val) {
        key = k;
        v = val;
    }
    if (strcmp(key, "exists") == 0) {
        if (!json_object_is_type(v, json_type_boolean))
            return fail(c, "exists match pattern must be either true or false.");
        if (json_object_get_boolean(v))
            f->ex_true = true;
        else
            f->ex_false = true;
        return true;
    }
    bool eb = c->d == NB_PAT_EVENTBRIDGE;
    pmatch m = {0};
    bool ok;
    if (strcmp(key, "prefix") == 0)
        ok = op_affix(c, &m, PM_PREFIX, "prefix", v, false);
    else if (strcmp(key, "suffix") == 0)
        ok = op_affix(c, &m, PM_SUFFIX, "suffix", v, false);
    else if (strcmp(key, "equals-ignore-case") == 0) {
        m.kind = PM_EQ_CI;
        ok = add_strs(c, &m, v, "equals-ignore-case", false);
    } else if (strcmp(key, "wildcard") == 0 && eb) {
        m.kind = PM_WILDCARD;
        ok = add_wild(c, &m, v);
    } else if (strcmp(key, "anything-but") == 0)
        ok = op_anything_but(c, &m, v);
    else if (strcmp(key, "numeric") == 0)
        ok = op_numeric(c, &m, v);
    else if (strcmp(key, "cidr") == 0)
        ok = op_cidr(c, &m, v);
    else
        ok = fail(c, "Unrecognized match type %s", key);
    if (m.nstrs > 1 && (m.kind == PM_IN_STRS || m.kind == PM_EQ_CI))
        qsort(m.strs, m.nstrs, sizeof *m.strs, pstr_cmp);
    if (m.nnums > 1)
        qsort(m.nums, m.nnums, sizeof *m.nums, dbl_cmp);
    PUSH(f->ops, f->nops, m);
    return ok;
}

/* ---- structure compilers -------------------------------------------------- */

typedef struct keypath {
    const char *seg[NB_PAT_MAX_DEPTH + 2];
    size_t n;
} keypath;

/* Compiles one pattern array (the values of a leaf key) into a field. */
static bool compile_field(cctx *c, pnode *node, const keypath *kp, json_object *arr)
{
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return fail(c, "Empty arrays are not allowed");
    pfield f = {0};
    f.nvalues = n;
    f.nseg = kp->n;
    f.path = nb_malloc(kp->n * sizeof *f.path);
    for (size_t i = 0; i < kp->n; i++)
        f.path[i] = pstr_dup(kp->seg[i], strlen(kp->seg[i]), false);
    pmatch strs = {.kind = PM_IN_STRS}, nums = {.kind = PM_IN_NUMS};
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        switch (json_object_get_type(e)) {
        case json_type_string:
            PUSH(strs.strs, strs.nstrs, json_pstr(e, false));
            break;
        case json_type_int:
        case json_type_double: {
            double d;
            ok = pattern_number(c, e, &d);
            if (ok)
                PUSH(nums.nums, nums.nnums, d);
            break;
        }
        case json_type_boolean:
            f.lits |= 1u << (json_object_get_boolean(e) ? LF_TRUE : LF_FALSE);
            break;
        case json_type_null:
            f.lits |= 1u << LF_NULL;
            break;
        case json_type_object:
            ok = compile_op(c, &f, e);
            break;
        default:
            ok = fail(c, "Match value must be String, number, true, false, or null");
        }
    }
    /* The merged exact sets go first: they are the cheapest tests. */
    pmatch *ops = f.ops;
    size_t nops = f.nops;
    f.ops = NULL;
    f.nops = 0;
    if (strs.nstrs) {
        qsort(strs.strs, strs.nstrs, sizeof *strs.strs, pstr_cmp);
        PUSH(f.ops, f.nops, strs);
    }
    if (nums.nnums) {
        qsort(nums.nums, nums.nnums, sizeof *nums.nums, dbl_cmp);
        PUSH(f.ops, f.nops, nums);
    }
    for (size_t i = 0; i < nops; i++)
        PUSH(f.ops, f.nops, ops[i]);
    free(ops);
    PUSH(node->fields, node->nfields, f);
    return ok;
}

static bool compile_object(cctx *c, pnode *node, keypath *kp, json_object *obj);

/* "$or": a non-empty array of pattern objects, each an alternative. */
static bool compile_or(cctx *c, pnode *node, keypath *kp, json_object *v)
{
    if (!json_object_is_type(v, json_type_array))
        return fail(c, "Value of $or must be an array of objects");
    size_t n = json_object_array_length(v);
    if (n == 0)
        return fail(c, "Empty arrays are not allowed");
    porgroup g = {nb_calloc(n, sizeof(pnode)), 0};
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        json_object *alt = json_object_array_get_idx(v, i);
        if (!json_object_is_type(alt, json_type_object)) {
            ok = fail(c, "Value of $or must be an array of objects");
            break;
        }
        g.nalts++;
        ok = compile_object(c, &g.alts[i], kp, alt);
    }
    PUSH(node->ors, node->nors, g);
    return ok;
}

static bool compile_object(cctx *c, pnode *node, keypath *kp, json_object *obj)
{
    json_object_object_foreach(obj, key, val) {
        bool ok;
        if (strcmp(key, "$or") == 0) {
            ok = compile_or(c, node, kp, val);
        } else if (json_object_is_type(val, json_type_array)) {
            kp->seg[kp->n++] = key;
            ok = compile_field(c, node, kp, val);
            kp->n--;
        } else if (json_object_is_type(val, json_type_object)) {
            if (c->d == NB_PAT_SNS_ATTRIBUTES) {
                fail_raw(c, "Invalid parameter: Filter policy scope MessageAttributes does not "
                            "support nested filter policy");
                return false;
            }
            if (kp->n >= NB_PAT_MAX_DEPTH)
                return fail(c, "Pattern nesting too deep");
            kp->seg[kp->n++] = key;
            ok = compile_object(c, node, kp, val);
            kp->n--;
        } else {
            ok = fail(c, "\"%s\" must be an object or an array", key);
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---- limits --------------------------------------------------------------- */

/* SNS: combinations (product of value counts; an or-group adds its
 * alternatives) and keys (per branch), saturating. */
static double node_combinations(const pnode *n)
{
    double total = 1;
    for (size_t i = 0; i < n->nfields; i++)
        total *= (double)n->fields[i].nvalues;
    for (size_t i = 0; i < n->nors; i++) {
        double sum = 0;
        for (size_t k = 0; k < n->ors[i].nalts; k++)
            sum += node_combinations(&n->ors[i].alts[k]);
        total *= sum;
    }
    return total;
}

static size_t node_keys(const pnode *n)
{
    size_t keys = n->nfields;
    for (size_t i = 0; i < n->nors; i++) {
        size_t most = 0;
        for (size_t k = 0; k < n->ors[i].nalts; k++) {
            size_t x = node_keys(&n->ors[i].alts[k]);
            most = x > most ? x : most;
        }
        keys += most;
    }
    return keys;
}

/* Lambda SQS: 1 when some field reaches below "body", 2 when one stops at it. */
static int node_body(const pnode *n)
{
    int r = 0;
    for (size_t i = 0; i < n->nfields; i++)
        if (strcmp(n->fields[i].path[0].s, "body") == 0)
            r |= n->fields[i].nseg > 1 ? 1 : 2;
    for (size_t i = 0; i < n->nors; i++)
        for (size_t k = 0; k < n->ors[i].nalts; k++)
            r |= node_body(&n->ors[i].alts[k]);
    return r;
}

static bool check_limits(cctx *c, nb_pattern *p)
{
    if (!is_sns(c))
        return true;
    if (node_keys(&p->root) > NB_PAT_SNS_MAX_KEYS)
        return fail(c, "Filter policy can not have more than %d keys", NB_PAT_SNS_MAX_KEYS);
    if (node_combinations(&p->root) > NB_PAT_SNS_MAX_COMBINATIONS)
        return fail(c, "Filter policy is too complex");
    return true;
}

/* ---- compile -------------------------------------------------------------- */

static json_object *parse_text(cctx *c, const char *text, size_t len)
{
    if (len > NB_PAT_MAX_TEXT) {
        fail(c, "Filter is too long");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(NB_PAT_MAX_DEPTH);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (je == json_tokener_success && tok->char_offset < (int)len)
        je = json_tokener_error_parse_unexpected;
    json_tokener_free(tok);
    if (je != json_tokener_success) {
        json_object_put(root);
        fail(c, "Filter is not valid JSON: %s",
             je == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(je));
        return NULL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        fail(c, "Filter is not an object");
        return NULL;
    }
    return root;
}

nb_pattern *nb_pattern_compile(const char *json, size_t len, nb_pattern_dialect d, char *err,
                               size_t errlen)
{
    cctx c = {d, err, errlen, false};
    if (errlen)
        err[0] = '\0';
    if (!json)
        len = 0;
    json_object *root = parse_text(&c, json ? json : "", len);
    if (!root)
        return NULL;
    nb_pattern *p = nb_calloc(1, sizeof *p);
    p->d = d;
    keypath kp = {.n = 0};
    bool ok = compile_object(&c, &p->root, &kp, root) && check_limits(&c, p);
    json_object_put(root);
    if (!ok) {
        nb_pattern_free(p);
        return NULL;
    }
    p->lambda_body = d == NB_PAT_LAMBDA ? node_body(&p->root) : 0;
    if (p->lambda_body == 3)
        p->lambda_body = 1;
    return p;
}

int nb_pattern_lambda_body(const nb_pattern *p) { return p ? p->lambda_body : 0; }

/* ---- leaf tests ----------------------------------------------------------- */

static char fold(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

/* s[0..n) equals the folded text t[0..n) ignoring ASCII case. */
static bool eq_fold(const char *s, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fold(s[i]) != t[i])
            return false;
    return true;
}

static bool strs_has(const pmatch *m, const leaf *v)
{
    pstr key = {(char *)v->s, v->n};
    return bsearch(&key, m->strs, m->nstrs, sizeof *m->strs, pstr_cmp) != NULL;
}

static bool nums_has(const pmatch *m, double d)
{
    return bsearch(&d, m->nums, m->nnums, sizeof *m->nums, dbl_cmp) != NULL;
}

static bool affix(const pmatch *m, const leaf *v, bool suffix)
{
    const pstr *a = &m->strs[0];
    if (v->n < a->n)
        return false;
    const char *s = suffix ? v->s + v->n - a->n : v->s;
    return m->ci ? eq_fold(s, a->s, a->n) : memcmp(s, a->s, a->n) == 0;
}

static bool wild_match(const wild *w, const char *s, size_t n)
{
    size_t first = w->len[0];
    if (w->nseg == 1)
        return n == first && memcmp(s, w->lit, n) == 0;
    size_t last = w->len[w->nseg - 1];
    if (n < first + last || memcmp(s, w->lit, first) != 0 ||
        memcmp(s + n - last, w->lit + w->off[w->nseg - 1], last) != 0)
        return false;
    /* Middle segments, leftmost first: for '*'-only globs greedy is exact. */
    const char *p = s + first, *end = s + n - last;
    for (size_t i = 1; i + 1 < w->nseg; i++) {
        size_t k = w->len[i];
        if (k == 0)
            continue;
        const char *hit = memmem(p, (size_t)(end - p), w->lit + w->off[i], k);
        if (!hit)
            return false;
        p = hit + k;
    }
    return true;
}

static bool cidr_match(const pmatch *m, const leaf *v)
{
    char buf[64];
    uint8_t ip[16];
    if (v->n >= sizeof buf)
        return false;
    memcpy(buf, v->s, v->n);
    buf[v->n] = '\0';
    if (inet_pton(m->fam, buf, ip) != 1)
        return false;
    int full = m->bits / 8, rest = m->bits % 8;
    if (memcmp(ip, m->ip, (size_t)full) != 0)
        return false;
    return rest == 0 || (ip[full] & (uint8_t)(0xff << (8 - rest))) == m->ip[full];
}

static bool op_test_pos(const pmatch *m, const leaf *v)
{
    if (m->kind == PM_IN_NUMS)
        return v->t == LF_NUM && nums_has(m, v->d);
    if (m->kind == PM_NUMERIC) {
        if (v->t != LF_NUM)
            return false;
        bool lo = m->lo_incl ? v->d >= m->lo : v->d > m->lo;
        bool hi = m->hi_incl ? v->d <= m->hi : v->d < m->hi;
        return lo && hi;
    }
    if (v->t != LF_STR)
        return false;
    switch (m->kind) {
    case PM_IN_STRS:
        return strs_has(m, v);
    case PM_PREFIX:
        return affix(m, v, false);
    case PM_SUFFIX:
        return affix(m, v, true);
    case PM_EQ_CI:
        for (size_t i = 0; i < m->nstrs; i++)
            if (m->strs[i].n == v->n && eq_fold(v->s, m->strs[i].s, v->n))
                return true;
        return false;
    case PM_WILDCARD:
        for (size_t i = 0; i < m->nwilds; i++)
            if (wild_match(&m->wilds[i], v->s, v->n))
                return true;
        return false;
    case PM_CIDR:
        return cidr_match(m, v);
    default:
        return false;
    }
}

static bool op_test(const pmatch *m, const leaf *v)
{
    bool r = op_test_pos(m, v);
    return m->neg ? !r : r;
}

/* ---- matching ------------------------------------------------------------- */

#define WALK_MAX_DEPTH 128

typedef struct wstate {
    const pfield *f;
    size_t nleaves;
} wstate;

static bool leaf_test(wstate *st, const leaf *v)
{
    const pfield *f = st->f;
    st->nleaves++;
    if (f->ex_true || (f->lits & (1u << v->t)))
        return true;
    for (size_t i = 0; i < f->nops; i++)
        if (op_test(&f->ops[i], v))
            return true;
    return false;
}

/* A json-c value as a leaf; false for objects and arrays. */
static bool to_leaf(json_object *v, leaf *out)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        out->t = LF_NULL;
        return true;
    case json_type_boolean:
        out->t = json_object_get_boolean(v) ? LF_TRUE : LF_FALSE;
        return true;
    case json_type_int:
    case json_type_double:
        out->t = LF_NUM;
        out->d = json_object_get_double(v);
        return true;
    case json_type_string:
        out->t = LF_STR;
        out->s = json_object_get_string(v);
        out->n = (size_t)json_object_get_string_len(v);
        return true;
    default:
        return false;
    }
}

/* Follows f's path from segment i through v; true on the first match. */
static bool walk(wstate *st, size_t i, json_object *v, int depth)
{
    if (depth > WALK_MAX_DEPTH)
        return false;
    json_type t = json_object_get_type(v);
    if (t == json_type_array) {
        size_t n = json_object_array_length(v);
        for (size_t k = 0; k < n; k++)
            if (walk(st, i, json_object_array_get_idx(v, k), depth + 1))
                return true;
        return false;
    }
    if (i == st->f->nseg) {
        leaf lf;
        return to_leaf(v, &lf) && leaf_test(st, &lf);
    }
    json_object *child;
    if (t != json_type_object || !json_object_object_get_ex(v, st->f->path[i].s, &child))
        return false;
    return walk(st, i + 1, child, depth + 1);
}

static json_object *member(json_object *o, const char *a, const char *b)
{
    json_object *v;
    if (json_object_object_get_ex(o, a, &v) || json_object_object_get_ex(o, b, &v))
        return v;
    return NULL;
}

/* "Number" text: decimal digits, sign, point and exponent only. */
static bool sns_number(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    char *end;
    *out = strtod(s, &end);
    return *end == '\0' && isfinite(*out);
}

static bool type_is(const char *type, const char *base)
{
    size_t n = strlen(base);
    return strncmp(type, base, n) == 0 && (type[n] == '\0' || type[n] == '.');
}

/* SNS message attribute: String, Number or String.Array; others ignored. */
static bool walk_sns_attr(wstate *st, json_object *attrs)
{
    json_object *a, *ty, *val;
    if (!json_object_object_get_ex(attrs, st->f->path[0].s, &a) ||
        !json_object_is_type(a, json_type_object))
        return false;
    ty = member(a, "Type", "DataType");
    val = member(a, "Value", "StringValue");
    if (!json_object_is_type(ty, json_type_string) || !json_object_is_type(val, json_type_string))
        return false;
    const char *type = json_object_get_string(ty);
    leaf lf = {0};
    if (strcmp(type, "String.Array") == 0) {
        json_tokener *tok = json_tokener_new_ex(NB_PAT_MAX_DEPTH);
        if (!tok)
            abort();
        json_object *arr = json_tokener_parse_ex(tok, json_object_get_string(val),
                                                 json_object_get_string_len(val));
        json_tokener_free(tok);
        bool hit = false;
        if (json_object_is_type(arr, json_type_array)) {
            size_t n = json_object_array_length(arr);
            for (size_t k = 0; !hit && k < n; k++)
                hit = to_leaf(json_object_array_get_idx(arr, k), &lf) && leaf_test(st, &lf);
        }
        json_object_put(arr);
        return hit;
    }
    if (type_is(type, "String")) {
        to_leaf(val, &lf);
        return leaf_test(st, &lf);
    }
    if (type_is(type, "Number") && sns_number(json_object_get_string(val), &lf.d)) {
        lf.t = LF_NUM;
        return leaf_test(st, &lf);
    }
    return false;
}

static bool field_match(const nb_pattern *p, const pfield *f, json_object *event)
{
    wstate st = {f, 0};
    bool hit;
    if (p->d == NB_PAT_SNS_ATTRIBUTES)
        hit = event && walk_sns_attr(&st, event);
    else
        hit = event && walk(&st, 0, event, 0);
    return hit || (st.nleaves == 0 && f->ex_false);
}

static bool node_match(const nb_pattern *p, const pnode *n, json_object *event)
{
    for (size_t i = 0; i < n->nfields; i++)
        if (!field_match(p, &n->fields[i], event))
            return false;
    for (size_t i = 0; i < n->nors; i++) {
        bool any = false;
        for (size_t k = 0; !any && k < n->ors[i].nalts; k++)
            any = node_match(p, &n->ors[i].alts[k], event);
        if (!any)
            return false;
    }
    return true;
}

bool nb_pattern_match(const nb_pattern *p, json_object *event)
{
    if (!p)
        return false;
    if (event && !json_object_is_type(event, json_type_object))
        event = NULL;
    return node_match(p, &p->root, event);
}
