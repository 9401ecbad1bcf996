/*
 * logs_pattern.c — CloudWatch Logs filter patterns (see logs_pattern.h).
 *
 * Compilation turns the text into one of three forms: a list of terms
 * (each required, excluded or optional-alternative), a JSON condition tree,
 * or a space-delimited layout (named slots and ellipses) with a condition
 * tree over the named fields.  Conditions share one node type; a JSON
 * condition names a selector path, a delimited one a slot index.
 *
 * Semantics chosen where the documentation is silent (README "Logs"):
 *   - terms match as case-sensitive substrings of the message;
 *   - a comparison on a missing JSON field, or of mismatched types, is
 *     false (also for !=); NOT EXISTS is the way to ask for absence;
 *   - '*' is a wildcard in quoted and unquoted string values;
 *   - a delimited pattern without "..." needs exactly as many fields as
 *     it has slots.
 * Regular expressions (%...%) are checked against AWS's allowed
 * characters, translated to POSIX ERE (\d \w \s \xHH) and compiled once;
 * matching uses REG_STARTEND, so messages need no terminator.
 */
#include "logs_pattern.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nimbus.h"

enum { K_ALL, K_TERMS, K_JSON, K_DELIM };
enum { M_AND, M_NOT, M_OR };                      /* term modes */
enum { N_AND, N_OR, N_COND };                     /* node types */
enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_TRUE, OP_FALSE, OP_NULL, OP_NEXISTS };
enum { V_STR, V_NUM, V_RE };

#define MAX_DEPTH 64          /* parenthesis nesting */
#define MAX_SLOTS 200         /* delimited fields in a pattern */
#define MAX_MSG_FIELDS 4096   /* delimited fields looked at in a message */
#define MAX_STEPS 200000      /* ellipsis backtracking budget per message */

typedef struct {
    int type;
    char *s;                  /* string value (unescaped), owned */
    size_t n;
    double num;
    regex_t *re;              /* owned */
} value;

typedef struct step {
    char *key;                /* object member, or NULL for an index */
    size_t idx;
} step;

typedef struct node {
    int t;
    struct node *l, *r;
    step *steps;              /* JSON selector */
    int nsteps;
    int field;                /* delimited: slot index */
    char *fname;              /* delimited: name before resolution */
    int op;
    value v;
} node;

typedef struct {
    int mode;
    char *s;
    size_t n;
    regex_t *re;
} term;

typedef struct {
    bool ellipsis;
    char *name;
} slot;

struct logs_pattern {
    int kind;
    term *terms;
    int nterms;
    node *tree;
    slot *slots;
    int nslots;
};

/* ---- errors ---------------------------------------------------------------- */

typedef struct {
    char *err;
    size_t cap;
    bool failed;
    int nre;
} ctx;

static bool fail(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(ctx *c, const char *fmt, ...)
{
    if (!c->failed && c->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->cap, fmt, ap);
        va_end(ap);
    }
    c->failed = true;
    return false;
}

static bool fail_term(ctx *c, const char *s, size_t n)
{
    return fail(c, "Invalid character(s) in term '%.*s'", (int)(n > 200 ? 200 : n), s);
}

/* ---- regular expressions ----------------------------------------------------- */

static bool rx_char_ok(unsigned char ch)
{
    return isalnum(ch) || ch == ' ' || (ch && strchr("_#=@/;,-:^$?[]{}|\\*+.", ch));
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (unsigned char)tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static void put(char *out, size_t *o, size_t cap, const char *s)
{
    while (*s && *o + 1 < cap)
        out[(*o)++] = *s++;
}

/* Regex body s[0..n) (between the % signs) to a compiled ERE. */
static regex_t *rx_compile(ctx *c, const char *s, size_t n, const char *whole, size_t wn)
{
    if (++c->nre > LOGS_PAT_MAX_REGEX) {
        fail(c, "A filter pattern can contain at most %d regular expressions", LOGS_PAT_MAX_REGEX);
        return NULL;
    }
    if (n == 0) {
        fail_term(c, whole, wn);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!rx_char_ok((unsigned char)s[i])) {
            fail_term(c, whole, wn);
            return NULL;
        }
    /* A quantifier right after another (a++, a{9}{9}) makes glibc's
     * regcomp explode; AWS's engine does not take them either. */
    bool brk = false, quant = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\') {
            i++;
            quant = false;
        } else if (brk) {
            brk = ch != ']';
        } else if (ch == '[') {
            brk = true;
            quant = false;
        } else if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
            if (quant) {
                fail(c, "Invalid regular expression '%.*s'", (int)(wn > 200 ? 200 : wn), whole);
                return NULL;
            }
            quant = true;
            if (ch == '{')
                while (i + 1 < n && s[i] != '}')
                    i++;
        } else {
            quant = false;
        }
    }
    size_t cap = n * 16 + 1, o = 0;
    char *ere = nb_malloc(cap);
    bool inbr = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\' && i + 1 < n) {
            unsigned char e = (unsigned char)s[++i];
            const char *rep = NULL;
            char lit[4] = {0};
            switch (e) {
            case 'd': rep = inbr ? "0-9" : "[0-9]"; break;
            case 'D': rep = inbr ? "" : "[^0-9]"; break;
            case 'w': rep = inbr ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
            case 'W': rep = inbr ? "" : "[^A-Za-z0-9_]"; break;
            case 's': rep = inbr ? "[:space:]" : "[[:space:]]"; break;
            case 'S': rep = inbr ? "" : "[^[:space:]]"; break;
            case 'x':
                if (i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
                    e = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
                    i += 2;
                    if (e == 0) {
                        free(ere);
                        fail_term(c, whole, wn);
                        return NULL;
                    }
                }
                /* fall through */
            default:
                if (!inbr && strchr(".[]{}()*+?^$|\\", e)) {
                    lit[0] = '\\';
                    lit[1] = (char)e;
                } else {
                    lit[0] = (char)e;
                }
                rep = lit;
            }
            put(ere, &o, cap, rep);
            continue;
        }
        if (ch == '[' && !inbr) {
            inbr = true;
            put(ere, &o, cap, "[");
            if (i + 1 < n && s[i + 1] == '^')
                put(ere, &o, cap, "^"), i++;
            if (i + 1 < n && s[i + 1] == ']')
                put(ere, &o, cap, "]"), i++;
            continue;
        }
        if (ch == ']' && inbr)
            inbr = false;
        char one[2] = {(char)ch, 0};
        put(ere, &o, cap, one);
    }
    ere[o] = 0;
    regex_t *re = nb_malloc(sizeof *re);
    if (regcomp(re, ere, REG_EXTENDED | REG_NOSUB) != 0) {
        free(re);
        free(ere);
        fail(c, "Invalid regular expression '%.*s'", (int)(wn > 200 ? 200 : wn), whole);
        return NULL;
    }
    free(ere);
    return re;
}

static void rx_free(regex_t *re)
{
    if (re) {
        regfree(re);
        free(re);
    }
}

/* regexec on s[0..n): REG_STARTEND bounds the match (embedded NULs are
 * data), but the text is copied with a terminator first because
 * sanitizer interceptors of regexec read up to a NUL regardless. */
static bool rx_match(const regex_t *re, const char *s, size_t n)
{
    char small[512];
    char *buf = n < sizeof small ? small : nb_malloc(n + 1);
    memcpy(buf, s, n);
    buf[n] = 0;
    regmatch_t m[1];
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)n;
    bool hit = regexec(re, buf, 1, m, REG_STARTEND) == 0;
    if (buf != small)
        free(buf);
    return hit;
}

/* ---- values ---------------------------------------------------------------- */

/* Whole s[0..n) as a number (JSON-like: digits, sign, point, exponent). */
static bool parse_number(const char *s, size_t n, double *out)
{
    if (n == 0 || n > 64)
        return false;
    char buf[72];
    for (size_t i = 0; i < n; i++) {
        if (!strchr("0123456789+-.eE", s[i]) || !s[i])
            return false;
    }
    if (!isdigit((unsigned char)s[0]) && !(n > 1 && strchr("+-.", s[0])))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (end != buf + n || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* '*' matches any run; everything else literally. */
static bool glob(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

static void value_free(value *v)
{
    free(v->s);
    rx_free(v->re);
}

/* ---- lexer for JSON and delimited patterns --------------------------------- */

enum { T_END, T_LP, T_RP, T_AND, T_OR, T_COMMA, T_OP, T_STR, T_RE, T_WORD };

typedef struct {
    int t;
    const char *p;            /* token text in the pattern */
    size_t n;
    int op;
    char *str;                /* T_STR: unescaped, owned by the token until taken */
    size_t strn;
} tok;

typedef struct {
    ctx *c;
    const char *s, *e;
    bool delim;               /* ',' separates slots */
    tok la;
    bool has;
    int depth;
} lexer;

static bool word_end(const lexer *L, const char *p)
{
    unsigned char ch = (unsigned char)*p;
    if (isspace(ch) || ch == '(' || ch == ')' || ch == '=' || ch == '<' || ch == '>' || ch == '"')
        return true;
    if (ch == '!' && p + 1 < L->e && p[1] == '=')
        return true;
    if ((ch == '&' || ch == '|') && p + 1 < L->e && p[1] == ch)
        return true;
    return L->delim && ch == ',';
}

/* Quoted string at p (p[0] == '"'): unescapes \" and \\; sets *end. */
static char *lex_quoted(ctx *c, const char *p, const char *e, const char **end, size_t *outn)
{
    char *out = nb_malloc((size_t)(e - p) + 1);
    size_t o = 0;
    const char *q = p + 1;
    while (q < e && *q != '"') {
        if (*q == '\\' && q + 1 < e && (q[1] == '"' || q[1] == '\\'))
            q++;
        out[o++] = *q++;
    }
    if (q >= e) {
        free(out);
        fail(c, "Unterminated quoted string");
        return NULL;
    }
    out[o] = 0;
    *end = q + 1;
    *outn = o;
    return out;
}

static tok lex_next(lexer *L)
{
    tok t = {.t = T_END};
    const char *p = L->s;
    while (p < L->e && isspace((unsigned char)*p))
        p++;
    t.p = p;
    if (p >= L->e) {
        L->s = p;
        return t;
    }
    unsigned char ch = (unsigned char)*p;
    const char *q = p + 1;
    if (ch == '(') {
        t.t = T_LP;
    } else if (ch == ')') {
        t.t = T_RP;
    } else if (ch == ',' && L->delim) {
        t.t = T_COMMA;
    } else if (ch == '&' && q < L->e && *q == '&') {
        t.t = T_AND, q++;
    } else if (ch == '|' && q < L->e && *q == '|') {
        t.t = T_OR, q++;
    } else if (ch == '=') {
        t.t = T_OP, t.op = OP_EQ;
    } else if (ch == '!' && q < L->e && *q == '=') {
        t.t = T_OP, t.op = OP_NE, q++;
    } else if (ch == '<' || ch == '>') {
        t.t = T_OP;
        t.op = ch == '<' ? OP_LT : OP_GT;
        if (q < L->e && *q == '=')
            t.op = ch == '<' ? OP_LE : OP_GE, q++;
    } else if (ch == '"') {
        t.t = T_STR;
        t.str = lex_quoted(L->c, p, L->e, &q, &t.strn);
        if (!t.str) {
            t.t = T_END;
            L->s = L->e;
            return t;
        }
    } else if (ch == '%') {
        const char *r = memchr(q, '%', (size_t)(L->e - q));
        if (!r) {
            fail_term(L->c, p, (size_t)(L->e - p));
            L->s = L->e;
            return t;
        }
        t.t = T_RE;
        q = r + 1;
    } else {
        t.t = T_WORD;
        while (q < L->e && !word_end(L, q))
            q++;
    }
    t.n = (size_t)(q - p);
    L->s = q;
    return t;
}

static tok *peek(lexer *L)
{
    if (!L->has) {
        L->la = lex_next(L);
        L->has = true;
    }
    return &L->la;
}

static tok take(lexer *L)
{
    peek(L);
    L->has = false;
    tok t = L->la;
    L->la.str = NULL;
    return t;
}

static bool word_is(const tok *t, const char *kw)
{
    return t->t == T_WORD && strlen(kw) == t->n && strncasecmp(t->p, kw, t->n) == 0;
}

static bool bad_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '{' || ch == '}' || ch == '[' || ch == ']')
            return true;
    }
    return false;
}

/* ---- nodes ----------------------------------------------------------------- */

static void node_free(node *n)
{
    if (!n)
        return;
    node_free(n->l);
    node_free(n->r);
    for (int i = 0; i < n->nsteps; i++)
        free(n->steps[i].key);
    free(n->steps);
    free(n->fname);
    value_free(&n->v);
    free(n);
}

static node *node_bin(int t, node *l, node *r)
{
    node *n = nb_calloc(1, sizeof *n);
    n->t = t;
    n->l = l;
    n->r = r;
    return n;
}

/* A comparison's value (after the operator). */
static bool parse_value(lexer *L, int op, value *v)
{
    tok t = take(L);
    if (t.t == T_STR) {
        v->type = V_STR;
        v->s = t.str;
        v->n = t.strn;
    } else if (t.t == T_RE) {
        v->type = V_RE;
        v->re = rx_compile(L->c, t.p + 1, t.n - 2, t.p, t.n);
        if (!v->re)
            return false;
    } else if (t.t == T_WORD) {
        if (bad_bytes(t.p, t.n))
            return fail_term(L->c, t.p, t.n);
        v->s = nb_strndup(t.p, t.n);
        v->n = t.n;
        v->type = parse_number(t.p, t.n, &v->num) ? V_NUM : V_STR;
    } else {
        return fail(L->c, "Expected a value after the operator");
    }
    if (op != OP_EQ && op != OP_NE && v->type != V_NUM)
        return fail(L->c, "The operator requires a numeric value, got '%.*s'", (int)(t.n > 200 ? 200 : t.n), t.p);
    return true;
}

/* $.a.b[0]["k"]... into steps. */
static bool parse_selector(lexer *L, const tok *t, node *n)
{
    const char *p = t->p, *e = t->p + t->n;
    if (p >= e || *p != '$')
        return fail(L->c, "Invalid selector '%.*s'", (int)(t->n > 200 ? 200 : t->n), t->p);
    p++;
    while (p < e) {
        if (n->nsteps >= 64)
            return fail(L->c, "Selector too deep");
        n->steps = nb_realloc(n->steps, sizeof(step) * (size_t)(n->nsteps + 1));
        step *s = &n->steps[n->nsteps];
        s->key = NULL;
        s->idx = 0;
        if (*p == '.') {
            const char *k = ++p;
            while (p < e && *p != '.' && *p != '[')
                p++;
            if (p == k || bad_bytes(k, (size_t)(p - k)) || memchr(k, '*', (size_t)(p - k)))
                return fail(L->c, "Invalid selector '%.*s'", (int)(t->n > 200 ? 200 : t->n), t->p);
            s->key = nb_strndup(k, (size_t)(p - k));
        } else if (*p == '[') {
            p++;
            size_t v = 0;
            const char *d = p;
            while (p < e && isdigit((unsigned char)*p) && p - d < 9)
                v = v * 10 + (size_t)(*p++ - '0');
            if (p == d || p >= e || *p != ']')
                return fail(L->c, "Invalid selector '%.*s'", (int)(t->n > 200 ? 200 : t->n), t->p);
            p++;
            s->idx = v;
        } else {
            return fail(L->c, "Invalid selector '%.*s'", (int)(t->n > 200 ? 200 : t->n), t->p);
        }
        n->nsteps++;
    }
    if (n->nsteps == 0)
        return fail(L->c, "Invalid selector '$'");
    return true;
}

static node *parse_or(lexer *L);

static node *parse_json_cond(lexer *L)
{
    tok t = take(L);
    if (t.t != T_WORD) {
        free(t.str);
        fail(L->c, "Expected a selector such as $.field");
        return NULL;
    }
    node *n = nb_calloc(1, sizeof *n);
    n->t = N_COND;
    if (!parse_selector(L, &t, n))
        goto bad;
    tok *k = peek(L);
    if (k->t == T_OP) {
        n->op = take(L).op;
        if (!parse_value(L, n->op, &n->v))
            goto bad;
        return n;
    }
    if (word_is(k, "IS")) {
        take(L);
        tok w = take(L);
        if (word_is(&w, "TRUE"))
            n->op = OP_TRUE;
        else if (word_is(&w, "FALSE"))
            n->op = OP_FALSE;
        else if (word_is(&w, "NULL"))
            n->op = OP_NULL;
        else {
            free(w.str);
            fail(L->c, "Expected TRUE, FALSE or NULL after IS");
            goto bad;
        }
        return n;
    }
    if (word_is(k, "NOT")) {
        take(L);
        tok w = take(L);
        if (!word_is(&w, "EXISTS")) {
            free(w.str);
            fail(L->c, "Expected EXISTS after NOT");
            goto bad;
        }
        n->op = OP_NEXISTS;
        return n;
    }
    fail(L->c, "Expected an operator after '%.*s'", (int)(t.n > 200 ? 200 : t.n), t.p);
bad:
    node_free(n);
    return NULL;
}

static node *parse_unary(lexer *L)
{
    if (peek(L)->t == T_LP) {
        take(L);
        if (++L->depth > MAX_DEPTH) {
            fail(L->c, "Too many nested parentheses");
            return NULL;
        }
        node *n = parse_or(L);
        L->depth--;
        if (!n)
            return NULL;
        tok r = take(L);
        free(r.str);
        if (r.t != T_RP) {
            node_free(n);
            fail(L->c, "Unbalanced parentheses");
            return NULL;
        }
        return n;
    }
    return parse_json_cond(L);
}

static node *parse_and(lexer *L)
{
    node *l = parse_unary(L);
    while (l && peek(L)->t == T_AND) {
        take(L);
        node *r = parse_unary(L);
        if (!r) {
            node_free(l);
            return NULL;
        }
        l = node_bin(N_AND, l, r);
    }
    return l;
}

static node *parse_or(lexer *L)
{
    node *l = parse_and(L);
    while (l && peek(L)->t == T_OR) {
        take(L);
        node *r = parse_and(L);
        if (!r) {
            node_free(l);
            return NULL;
        }
        l = node_bin(N_OR, l, r);
    }
    return l;
}

/* ---- the three forms --------------------------------------------------------- */

static void lexer_done(lexer *L)
{
    if (L->has)
        free(L->la.str);
    L->has = false;
}

static bool compile_json_in(lexer *L, logs_pattern *p)
{
    if (peek(L)->t == T_END)
        return fail(L->c, "Empty JSON filter pattern");
    p->tree = parse_or(L);
    if (!p->tree)
        return false;
    tok t = take(L);
    free(t.str);
    if (t.t != T_END)
        return fail(L->c, "Unexpected '%.*s' in JSON filter pattern", (int)(t.n > 200 ? 200 : t.n), t.p);
    return !L->c->failed;
}

static bool compile_json(ctx *c, logs_pattern *p, const char *s, const char *e)
{
    lexer L = {.c = c, .s = s, .e = e};
    bool ok = compile_json_in(&L, p);
    lexer_done(&L);
    return ok;
}

/* Delimited condition: name op value. */
static node *parse_delim_cond(lexer *L, const tok *name)
{
    node *n = nb_calloc(1, sizeof *n);
    n->t = N_COND;
    n->fname = nb_strndup(name->p, name->n);
    tok t = take(L);
    if (t.t != T_OP) {
        free(t.str);
        fail(L->c, "Expected an operator after '%.*s'", (int)(name->n > 200 ? 200 : name->n), name->p);
        node_free(n);
        return NULL;
    }
    n->op = t.op;
    if (!parse_value(L, n->op, &n->v)) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* One slot's chain: cond (&& cond)* (|| cond (&& cond)*)* */
static node *parse_delim_chain(lexer *L, const tok *first)
{
    node *orn = NULL, *andn = parse_delim_cond(L, first);
    if (!andn)
        return NULL;
    for (;;) {
        int t = peek(L)->t;
        if (t != T_AND && t != T_OR)
            break;
        take(L);
        tok name = take(L);
        if (name.t != T_WORD || bad_bytes(name.p, name.n)) {
            free(name.str);
            fail(L->c, "Expected a field name after && or ||");
            node_free(andn);
            node_free(orn);
            return NULL;
        }
        node *r = parse_delim_cond(L, &name);
        if (!r) {
            node_free(andn);
            node_free(orn);
            return NULL;
        }
        if (t == T_AND) {
            andn = node_bin(N_AND, andn, r);
        } else {
            orn = orn ? node_bin(N_OR, orn, andn) : andn;
            andn = r;
        }
    }
    return orn ? node_bin(N_OR, orn, andn) : andn;
}

static bool resolve_fields(ctx *c, logs_pattern *p, node *n)
{
    if (!n)
        return true;
    if (n->t != N_COND)
        return resolve_fields(c, p, n->l) && resolve_fields(c, p, n->r);
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].name && !strcmp(p->slots[i].name, n->fname)) {
            n->field = i;
            return true;
        }
    return fail(c, "Unknown field '%s' in condition", n->fname);
}

static bool compile_delim_in(ctx *c, logs_pattern *p, lexer *L);

static bool compile_delim(ctx *c, logs_pattern *p, const char *s, const char *e)
{
    lexer L = {.c = c, .s = s, .e = e, .delim = true};
    bool ok = compile_delim_in(c, p, &L);
    lexer_done(&L);
    return ok;
}

static bool compile_delim_in(ctx *c, logs_pattern *p, lexer *L)
{
    if (peek(L)->t == T_END)
        return fail(c, "Empty space-delimited filter pattern");
    for (;;) {
        tok name = take(L);
        if (name.t != T_WORD || bad_bytes(name.p, name.n)) {
            free(name.str);
            return c->failed ? false : fail(c, "Expected a field name in space-delimited filter pattern");
        }
        if (p->nslots >= MAX_SLOTS)
            return fail(c, "Too many fields in space-delimited filter pattern");
        p->slots = nb_realloc(p->slots, sizeof(slot) * (size_t)(p->nslots + 1));
        slot *sl = &p->slots[p->nslots++];
        sl->ellipsis = name.n == 3 && !memcmp(name.p, "...", 3);
        sl->name = sl->ellipsis ? NULL : nb_strndup(name.p, name.n);
        if (!sl->ellipsis && peek(L)->t == T_OP) {
            node *chain = parse_delim_chain(L, &name);
            if (!chain)
                return false;
            p->tree = p->tree ? node_bin(N_AND, p->tree, chain) : chain;
        }
        tok t = take(L);
        if (t.t == T_END)
            break;
        if (t.t != T_COMMA) {
            free(t.str);
            return c->failed ? false
                             : fail(c, "Unexpected '%.*s' in space-delimited filter pattern",
                                    (int)(t.n > 200 ? 200 : t.n), t.p);
        }
    }
    if (c->failed)
        return false;
    return resolve_fields(c, p, p->tree);
}

static bool compile_terms(ctx *c, logs_pattern *p, const char *s, const char *e)
{
    while (s < e) {
        while (s < e && isspace((unsigned char)*s))
            s++;
        if (s >= e)
            break;
        const char *start = s;
        int mode = M_AND;
        if (*s == '-' || *s == '?') {
            mode = *s == '-' ? M_NOT : M_OR;
            s++;
        }
        term t = {.mode = mode};
        if (s < e && *s == '"') {
            const char *end;
            t.s = lex_quoted(c, s, e, &end, &t.n);
            if (!t.s)
                return false;
            if (t.n == 0) {
                free(t.s);
                return fail_term(c, start, (size_t)(end - start));
            }
            s = end;
        } else if (s < e && *s == '%') {
            const char *r = memchr(s + 1, '%', (size_t)(e - s - 1));
            if (!r)
                return fail_term(c, start, (size_t)(e - start));
            t.re = rx_compile(c, s + 1, (size_t)(r - s - 1), start, (size_t)(r + 1 - start));
            if (!t.re)
                return false;
            s = r + 1;
        } else {
            const char *w = s;
            while (s < e && !isspace((unsigned char)*s))
                s++;
            if (s == w || bad_bytes(w, (size_t)(s - w)) || memchr(w, '(', (size_t)(s - w)) ||
                memchr(w, ')', (size_t)(s - w)))
                return fail_term(c, start, (size_t)(s - start));
            t.s = nb_strndup(w, (size_t)(s - w));
            t.n = (size_t)(s - w);
        }
        if (s < e && !isspace((unsigned char)*s)) {
            free(t.s);
            rx_free(t.re);
            const char *x = s;
            while (x < e && !isspace((unsigned char)*x))
                x++;
            return fail_term(c, start, (size_t)(x - start));
        }
        p->terms = nb_realloc(p->terms, sizeof(term) * (size_t)(p->nterms + 1));
        p->terms[p->nterms++] = t;
    }
    if (p->nterms == 0)
        p->kind = K_ALL;
    return true;
}

logs_pattern *logs_pattern_compile(const char *text, size_t len, char *err, size_t errcap)
{
    ctx c = {.err = err, .cap = errcap};
    if (errcap)
        err[0] = 0;
    const char *s = text, *e = text + len;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    logs_pattern *p = nb_calloc(1, sizeof *p);
    bool ok;
    if (s == e) {
        p->kind = K_ALL;
        ok = true;
    } else if (*s == '{') {
        p->kind = K_JSON;
        ok = e[-1] == '}' && e - s >= 2 ? compile_json(&c, p, s + 1, e - 1)
                                        : fail(&c, "If a filter pattern starts with '{' it must end with '}'");
    } else if (*s == '[') {
        p->kind = K_DELIM;
        ok = e[-1] == ']' && e - s >= 2 ? compile_delim(&c, p, s + 1, e - 1)
                                        : fail(&c, "If a filter pattern starts with '[' it must end with ']'");
    } else {
        p->kind = K_TERMS;
        ok = compile_terms(&c, p, s, e);
    }
    if (!ok || c.failed) {
        if (errcap && !err[0])
            snprintf(err, errcap, "Invalid filter pattern");
        logs_pattern_free(p);
        return NULL;
    }
    return p;
}

void logs_pattern_free(logs_pattern *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nterms; i++) {
        free(p->terms[i].s);
        rx_free(p->terms[i].re);
    }
    free(p->terms);
    node_free(p->tree);
    for (int i = 0; i < p->nslots; i++)
        free(p->slots[i].name);
    free(p->slots);
    free(p);
}

bool logs_pattern_is_all(const logs_pattern *p)
{
    return p->kind == K_ALL;
}

/* ---- matching ---------------------------------------------------------------- */

static bool term_hit(const term *t, const char *msg, size_t len)
{
    if (t->re)
        return rx_match(t->re, msg, len);
    return t->n <= len && memmem(msg, len, t->s, t->n) != NULL;
}

static bool match_terms(const logs_pattern *p, const char *msg, size_t len)
{
    bool any_or = false, or_hit = false;
    for (int i = 0; i < p->nterms; i++) {
        const term *t = &p->terms[i];
        bool hit = term_hit(t, msg, len);
        if (t->mode == M_AND && !hit)
            return false;
        if (t->mode == M_NOT && hit)
            return false;
        if (t->mode == M_OR) {
            any_or = true;
            or_hit = or_hit || hit;
        }
    }
    return !any_or || or_hit;
}

/* Compare a string field (delimited field, or JSON string) with v. */
static bool cmp_string(int op, const value *v, const char *s, size_t n)
{
    bool eq;
    if (v->type == V_RE) {
        eq = rx_match(v->re, s, n);
    } else if (v->type == V_NUM) {
        double d;
        if (op != OP_EQ && op != OP_NE)
            return parse_number(s, n, &d) && ((op == OP_LT && d < v->num) || (op == OP_LE && d <= v->num) ||
                                              (op == OP_GT && d > v->num) || (op == OP_GE && d >= v->num));
        eq = parse_number(s, n, &d) ? d == v->num : glob(v->s, v->n, s, n);
    } else {
        eq = glob(v->s, v->n, s, n);
    }
    return op == OP_NE ? !eq : eq;
}

static bool cmp_number(int op, const value *v, double d, const char *text, size_t tn)
{
    if (v->type == V_NUM) {
        switch (op) {
        case OP_EQ: return d == v->num;
        case OP_NE: return d != v->num;
        case OP_LT: return d < v->num;
        case OP_LE: return d <= v->num;
        case OP_GT: return d > v->num;
        case OP_GE: return d >= v->num;
        default: return false;
        }
    }
    /* A string or regex value against a number: compare its JSON text. */
    return cmp_string(op, v, text, tn);
}

static json_object *resolve(json_object *root, const node *n, bool *found)
{
    json_object *cur = root;
    for (int i = 0; i < n->nsteps; i++) {
        const step *s = &n->steps[i];
        if (s->key) {
            if (!json_object_is_type(cur, json_type_object) || !json_object_object_get_ex(cur, s->key, &cur)) {
                *found = false;
                return NULL;
            }
        } else {
            if (!json_object_is_type(cur, json_type_array) || s->idx >= json_object_array_length(cur)) {
                *found = false;
                return NULL;
            }
            cur = json_object_array_get_idx(cur, s->idx);
        }
    }
    *found = true;
    return cur;
}

static bool eval_json_cond(const node *n, json_object *root)
{
    bool found;
    json_object *v = resolve(root, n, &found);
    if (n->op == OP_NEXISTS)
        return !found;
    if (!found)
        return false;
    json_type t = json_object_get_type(v);
    switch (n->op) {
    case OP_TRUE: return t == json_type_boolean && json_object_get_boolean(v);
    case OP_FALSE: return t == json_type_boolean && !json_object_get_boolean(v);
    case OP_NULL: return t == json_type_null;
    default: break;
    }
    if (t == json_type_string)
        return cmp_string(n->op, &n->v, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    if (t == json_type_int || t == json_type_double) {
        const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        return cmp_number(n->op, &n->v, json_object_get_double(v), text, strlen(text));
    }
    if (t == json_type_boolean && n->v.type == V_STR && (n->op == OP_EQ || n->op == OP_NE)) {
        const char *text = json_object_get_boolean(v) ? "true" : "false";
        return cmp_string(n->op, &n->v, text, strlen(text));
    }
    return false;
}

static bool eval_json(const node *n, json_object *root)
{
    switch (n->t) {
    case N_AND: return eval_json(n->l, root) && eval_json(n->r, root);
    case N_OR: return eval_json(n->l, root) || eval_json(n->r, root);
    default: return eval_json_cond(n, root);
    }
}

static bool match_json(const logs_pattern *p, const char *msg, size_t len)
{
    if (len == 0 || len > INT32_MAX)
        return false;
    size_t i = 0;
    while (i < len && isspace((unsigned char)msg[i]))
        i++;
    if (i >= len || (msg[i] != '{' && msg[i] != '['))
        return false;
    json_tokener *tk = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tk, msg, (int)len);
    bool ok = false;
    if (root && json_tokener_get_error(tk) == json_tokener_success) {
        size_t used = json_tokener_get_parse_end(tk);
        while (used < len && isspace((unsigned char)msg[used]))
            used++;
        ok = used == len && eval_json(p->tree, root);
    }
    json_object_put(root);
    json_tokener_free(tk);
    return ok;
}

/* Delimited: a message's fields. */
typedef struct {
    const char *p;
    size_t n;
} span;

static int split_fields(const char *msg, size_t len, span *f, int max)
{
    int nf = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && msg[i] == ' ')
            i++;
        if (i >= len)
            return nf;
        if (nf >= max)
            return -1;
        char close = msg[i] == '"' ? '"' : msg[i] == '[' ? ']' : 0;
        if (close) {
            const char *end = memchr(msg + i + 1, close, len - i - 1);
            if (end) {
                f[nf].p = msg + i + 1;
                f[nf].n = (size_t)(end - (msg + i + 1));
                nf++;
                i = (size_t)(end - msg) + 1;
                continue;
            }
        }
        size_t s = i;
        while (i < len && msg[i] != ' ')
            i++;
        f[nf].p = msg + s;
        f[nf].n = i - s;
        nf++;
    }
}

static bool eval_delim(const node *n, const span *bind)
{
    switch (n->t) {
    case N_AND: return eval_delim(n->l, bind) && eval_delim(n->r, bind);
    case N_OR: return eval_delim(n->l, bind) || eval_delim(n->r, bind);
    default: return cmp_string(n->op, &n->v, bind[n->field].p, bind[n->field].n);
    }
}

typedef struct {
    const logs_pattern *p;
    const span *f;
    int nf;
    span *bind;
    long steps;
} dmatch;

static bool delim_assign(dmatch *m, int pi, int fi)
{
    if (++m->steps > MAX_STEPS)
        return false;
    if (pi == m->p->nslots)
        return fi == m->nf && (!m->p->tree || eval_delim(m->p->tree, m->bind));
    if (m->p->slots[pi].ellipsis) {
        for (int k = fi; k <= m->nf; k++)
            if (delim_assign(m, pi + 1, k))
                return true;
        return false;
    }
    if (fi >= m->nf)
        return false;
    m->bind[pi] = m->f[fi];
    return delim_assign(m, pi + 1, fi + 1);
}

static bool match_delim(const logs_pattern *p, const char *msg, size_t len, span *bind)
{
    span *f = nb_malloc(sizeof(span) * MAX_MSG_FIELDS);
    int nf = split_fields(msg, len, f, MAX_MSG_FIELDS);
    bool ok = false;
    if (nf >= 0) {
        dmatch m = {.p = p, .f = f, .nf = nf, .bind = bind};
        ok = delim_assign(&m, 0, 0);
    }
    free(f);
    return ok;
}

static bool match_any(const logs_pattern *p, const char *msg, size_t len, span *bind)
{
    switch (p->kind) {
    case K_ALL: return true;
    case K_TERMS: return match_terms(p, msg, len);
    case K_JSON: return match_json(p, msg, len);
    default: return match_delim(p, msg, len, bind);
    }
}

bool logs_pattern_match(const logs_pattern *p, const char *msg, size_t len)
{
    if (p->kind != K_DELIM)
        return match_any(p, msg, len, NULL);
    span *bind = nb_calloc((size_t)p->nslots + 1, sizeof(span));
    bool ok = match_any(p, msg, len, bind);
    free(bind);
    return ok;
}

bool logs_pattern_extract(const logs_pattern *p, const char *msg, size_t len, json_object **extracted)
{
    *extracted = NULL;
    span *bind = nb_calloc((size_t)p->nslots + 1, sizeof(span));
    bool ok = match_any(p, msg, len, bind);
    if (ok) {
        json_object *o = json_object_new_object();
        for (int i = 0; i < p->nslots; i++) {
            if (p->slots[i].ellipsis)
                continue;
            char key[256];
            snprintf(key, sizeof key, "$%s", p->slots[i].name);
            json_object_object_add(o, key, json_object_new_string_len(bind[i].p ? bind[i].p : "", (int)bind[i].n));
        }
        *extracted = o;
    }
    free(bind);
    return ok;
}
