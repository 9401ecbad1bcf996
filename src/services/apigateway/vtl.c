/*
 * vtl.c — Velocity Template Language (the 1.7 subset API Gateway REST APIs
 * use in mapping templates): a recursive-descent parser into an AST and a
 * tree-walking renderer over json-c values.
 *
 * Data model.  Every VTL value is a `val`: Java null, API Gateway's $input
 * or $util objects, or a json-c tree (strings, int64/double numbers,
 * booleans, lists = arrays, maps = objects, which keep insertion order as
 * Java's LinkedHashMap does).  Variables hold references, so `#set($b = $a)`
 * aliases as in Java.  Storing a list or map *into* a container (add, put,
 * #set($m.k = ..), literals) stores a copy: the value graph is then always
 * acyclic, and each copied container records its nesting level in its
 * json-c userdata so that nesting (which json-c frees recursively) stays
 * bounded by VTL_MAX_DEPTH.
 *
 * Whitespace follows Velocity 1.7: a directive's closing `)` (#set, #if,
 * #elseif, #foreach) or keyword (#else, #end, #break, #stop) swallows the
 * spaces and one newline after it; #set also swallows the indentation before
 * it; `##` comments swallow their newline.
 *
 * Limits: parse nesting VTL_MAX_DEPTH; VTL_MAX_LOOP iterations per #foreach
 * (later items are skipped, as with Velocity's directive.foreach.maxloops);
 * VTL_MAX_STEPS evaluation steps, VTL_MAX_OUTPUT bytes of output or of one
 * string, VTL_MAX_MEMORY bytes made and VTL_MAX_REGEX_STEPS regex VM steps
 * per render (fail).  Regular expressions run on the Pike VM below, not on
 * glibc's matcher, whose time is not bounded.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtl.h"
#include "core/nimbus.h"
#include "services/sfn/asl.h"

/* ---- AST ---------------------------------------------------------------- */

enum {
    N_TEXT, N_REF, N_ESCREF, N_SET, N_IF, N_FOREACH, N_BREAK, N_STOP,
    E_STR, E_ISTR, E_INT, E_DBL, E_BOOL, E_LIST, E_RANGE, E_MAP, E_BIN, E_OPND, E_NOT, E_NEG,
    S_PROP, S_CALL, S_INDEX,
};
enum { OP_OR, OP_AND, OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD };

typedef struct node {
    int kind, op;
    struct node *next;        /* sibling: block items, list items, args, segments */
    char *s;                  /* text, string literal, name */
    size_t n;
    char *lit;                /* N_REF: the reference as written (rendered when null) */
    size_t litn;
    struct node *a, *b, *c;   /* children (see the parser for each kind) */
    int64_t i;
    double d;
    bool quiet;
} node;

struct vtl_tpl {
    node *root;
};

static void free_nodes(node *n)
{
    while (n) {
        node *next = n->next;
        free_nodes(n->a);
        free_nodes(n->b);
        free_nodes(n->c);
        free(n->s);
        free(n->lit);
        free(n);
        n = next;
    }
}

void vtl_free(vtl_tpl *t)
{
    if (!t)
        return;
    free_nodes(t->root);
    free(t);
}

/* ---- parser --------------------------------------------------------------- */

typedef struct ps {
    const char *s, *base; /* text being parsed; the whole template (for positions) */
    size_t n, i, basen;
    int depth;
    bool bad;
    bool in_string;           /* parsing an interpolated string literal */
    char *err;
    size_t errlen;
} ps;

enum { T_EOF, T_END, T_ELSE, T_ELSEIF };
enum { D_NONE, D_SET, D_IF, D_ELSEIF, D_ELSE, D_END, D_FOREACH, D_BREAK, D_STOP, D_UNSUPPORTED };

static void perr(ps *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(ps *p, const char *fmt, ...)
{
    if (p->bad)
        return;
    p->bad = true;
    size_t pos = (size_t)(p->s + (p->i < p->n ? p->i : p->n) - p->base);
    int line = 1, col = 1;
    for (size_t k = 0; k < pos && k < p->basen; k++) {
        if (p->base[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "Invalid mapping template: %s at line %d, column %d%s", msg, line, col,
             p->in_string ? " of a string literal" : "");
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static char pk(const ps *p, size_t k) { return p->i + k < p->n ? p->s[p->i + k] : 0; }
static bool id_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool id_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-'; }

static node *mk(int kind)
{
    node *n = nb_calloc(1, sizeof *n);
    n->kind = kind;
    return n;
}

static bool enter(ps *p)
{
    if (++p->depth > VTL_MAX_DEPTH) {
        perr(p, "template nested too deeply");
        return false;
    }
    return true;
}

static void skip_ws(ps *p)
{
    while (p->i < p->n && is_ws(p->s[p->i]))
        p->i++;
}

static size_t ident_len(const ps *p, size_t at)
{
    size_t k = at;
    if (k >= p->n || !id_start(p->s[k]))
        return 0;
    while (k < p->n && id_char(p->s[k]))
        k++;
    return k - at;
}

/* True when the `$` at p->s[at] starts a reference. */
static bool ref_at(const ps *p, size_t at)
{
    size_t k = at + 1;
    if (k < p->n && p->s[k] == '!')
        k++;
    if (k < p->n && p->s[k] == '{')
        k++;
    return k < p->n && id_start(p->s[k]);
}

static node *parse_expr(ps *p);

/* Comma-separated expressions up to `close`; p->i is after the opener. */
static node *parse_list(ps *p, char close, int max)
{
    node *head = NULL, **tail = &head;
    int count = 0;
    skip_ws(p);
    if (pk(p, 0) == close) {
        p->i++;
        return NULL;
    }
    for (;;) {
        node *e = parse_expr(p);
        if (!e)
            break;
        *tail = e;
        tail = &e->next;
        if (++count > max) {
            perr(p, "too many items");
            break;
        }
        skip_ws(p);
        if (pk(p, 0) == ',') {
            p->i++;
            continue;
        }
        if (pk(p, 0) == close) {
            p->i++;
            return head;
        }
        perr(p, "expected ',' or '%c'", close);
        break;
    }
    free_nodes(head);
    return NULL;
}

/* A reference at `$`.  NULL without p->bad: not a reference (plain `$`). */
static node *parse_ref(ps *p)
{
    size_t st = p->i;
    if (!ref_at(p, st))
        return NULL;
    if (!enter(p))
        return NULL;
    node *r = mk(N_REF);
    p->i++;
    if (pk(p, 0) == '!') {
        r->quiet = true;
        p->i++;
    }
    bool braced = pk(p, 0) == '{';
    if (braced)
        p->i++;
    size_t l = ident_len(p, p->i);
    r->s = nb_strndup(p->s + p->i, l);
    r->n = l;
    p->i += l;
    node **tail = &r->a;
    while (!p->bad) {
        if (pk(p, 0) == '.' && id_start(pk(p, 1))) {
            p->i++;
            l = ident_len(p, p->i);
            node *sg = mk(S_PROP);
            sg->s = nb_strndup(p->s + p->i, l);
            sg->n = l;
            p->i += l;
            if (pk(p, 0) == '(') {
                p->i++;
                sg->kind = S_CALL;
                sg->a = parse_list(p, ')', 16);
            }
            *tail = sg;
            tail = &sg->next;
        } else if (pk(p, 0) == '[') {
            p->i++;
            node *sg = mk(S_INDEX);
            *tail = sg;
            tail = &sg->next;
            skip_ws(p);
            sg->a = parse_expr(p);
            skip_ws(p);
            if (!p->bad && pk(p, 0) != ']')
                perr(p, "expected ']'");
            p->i++;
        } else {
            break;
        }
    }
    if (braced && !p->bad) {
        if (pk(p, 0) != '}')
            perr(p, "expected '}' to close ${");
        p->i++;
    }
    p->depth--;
    if (p->bad) {
        free_nodes(r);
        return NULL;
    }
    r->litn = p->i - st;
    r->lit = nb_strndup(p->s + st, r->litn);
    return r;
}

static bool word_at(ps *p, const char *w)
{
    size_t l = strlen(w);
    if (p->i + l > p->n || memcmp(p->s + p->i, w, l) != 0)
        return false;
    if (p->i + l < p->n && id_char(p->s[p->i + l]))
        return false;
    p->i += l;
    return true;
}

static node *parse_block(ps *p, int *term);

static node *parse_string(ps *p)
{
    char q = p->s[p->i++];
    nb_buf b = {0};
    bool interp = false;
    for (;;) {
        if (p->i >= p->n) {
            perr(p, "unterminated string literal");
            nb_buf_free(&b);
            return NULL;
        }
        char c = p->s[p->i++];
        if (c == q) {
            if (pk(p, 0) != q)
                break;
            p->i++; /* a doubled quote is one quote */
        } else if (c == '\\' && p->i < p->n) {
            nb_buf_addc(&b, c);
            c = p->s[p->i++];
        }
        if (q == '"' && (c == '$' || c == '#'))
            interp = true;
        nb_buf_addc(&b, c);
    }
    node *e = mk(E_STR);
    e->n = b.len;
    e->s = b.data ? b.data : nb_strdup("");
    if (interp) {
        ps sub = *p;
        sub.s = sub.base = e->s;
        sub.n = sub.basen = e->n;
        sub.i = 0;
        sub.in_string = true;
        int t;
        e->kind = E_ISTR;
        e->a = parse_block(&sub, &t);
        if (!sub.bad && t != T_EOF)
            perr(&sub, "unexpected #end/#else in string");
        if (sub.bad) {
            p->bad = true;
            free_nodes(e);
            return NULL;
        }
    }
    return e;
}

static node *parse_number(ps *p)
{
    size_t st = p->i;
    while (isdigit((unsigned char)pk(p, 0)))
        p->i++;
    bool dbl = pk(p, 0) == '.' && isdigit((unsigned char)pk(p, 1));
    if (dbl) {
        p->i++;
        while (isdigit((unsigned char)pk(p, 0)))
            p->i++;
    }
    char tmp[64];
    if (p->i - st >= sizeof tmp) {
        perr(p, "number too long");
        return NULL;
    }
    memcpy(tmp, p->s + st, p->i - st);
    tmp[p->i - st] = 0;
    node *e = mk(dbl ? E_DBL : E_INT);
    if (dbl) {
        e->d = strtod(tmp, NULL);
    } else {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno) {
            e->kind = E_DBL;
            e->d = strtod(tmp, NULL);
        }
        e->i = v;
    }
    return e;
}

static node *parse_primary(ps *p)
{
    skip_ws(p);
    char c = pk(p, 0);
    if (c == '$') {
        node *r = parse_ref(p);
        if (!r && !p->bad)
            perr(p, "expected a reference after '$'");
        return r;
    }
    if (c == '"' || c == '\'')
        return parse_string(p);
    if (isdigit((unsigned char)c))
        return parse_number(p);
    if (c == '(') {
        p->i++;
        node *e = parse_expr(p);
        skip_ws(p);
        if (e && pk(p, 0) != ')') {
            perr(p, "expected ')'");
            free_nodes(e);
            return NULL;
        }
        p->i++;
        return e;
    }
    if (c == '[') {
        p->i++;
        skip_ws(p);
        if (pk(p, 0) == ']') {
            p->i++;
            return mk(E_LIST);
        }
        node *first = parse_expr(p);
        if (!first)
            return NULL;
        skip_ws(p);
        if (pk(p, 0) == '.' && pk(p, 1) == '.') {
            p->i += 2;
            node *e = mk(E_RANGE);
            e->a = first;
            e->b = parse_expr(p);
            skip_ws(p);
            if (!p->bad && pk(p, 0) != ']')
                perr(p, "expected ']' to close the range");
            p->i++;
            if (p->bad) {
                free_nodes(e);
                return NULL;
            }
            return e;
        }
        node *e = mk(E_LIST);
        e->a = first;
        if (pk(p, 0) == ',') {
            p->i++;
            first->next = parse_list(p, ']', 100000);
        } else if (pk(p, 0) == ']') {
            p->i++;
        } else {
            perr(p, "expected ',' or ']'");
        }
        if (p->bad) {
            free_nodes(e);
            return NULL;
        }
        return e;
    }
    if (c == '{') {
        p->i++;
        node *e = mk(E_MAP), **tail = &e->a;
        skip_ws(p);
        if (pk(p, 0) == '}') {
            p->i++;
            return e;
        }
        for (int count = 0; !p->bad; count++) {
            node *k = parse_expr(p);
            if (!k)
                break;
            *tail = k;
            tail = &k->next;
            skip_ws(p);
            if (pk(p, 0) != ':') {
                perr(p, "expected ':' in map literal");
                break;
            }
            p->i++;
            node *v = parse_expr(p);
            if (!v)
                break;
            *tail = v;
            tail = &v->next;
            skip_ws(p);
            if (count > 100000) {
                perr(p, "too many items");
                break;
            }
            if (pk(p, 0) == ',') {
                p->i++;
                continue;
            }
            if (pk(p, 0) == '}') {
                p->i++;
                return e;
            }
            perr(p, "expected ',' or '}' in map literal");
        }
        free_nodes(e);
        return NULL;
    }
    if (word_at(p, "true") || word_at(p, "false")) {
        node *e = mk(E_BOOL);
        e->i = p->s[p->i - 1] == 'e' && p->s[p->i - 2] == 'u';
        return e;
    }
    if (p->i >= p->n)
        perr(p, "unexpected end of template in expression");
    else
        perr(p, "unexpected character '%c' in expression", c);
    return NULL;
}

static node *parse_unary(ps *p)
{
    skip_ws(p);
    int kind = -1;
    if (pk(p, 0) == '!' && pk(p, 1) != '=') {
        p->i++;
        kind = E_NOT;
    } else if (word_at(p, "not")) {
        kind = E_NOT;
    } else if (pk(p, 0) == '-') {
        p->i++;
        kind = E_NEG;
    }
    if (kind < 0)
        return parse_primary(p);
    if (!enter(p))
        return NULL;
    node *a = parse_unary(p);
    p->depth--;
    if (!a)
        return NULL;
    node *e = mk(kind);
    e->a = a;
    return e;
}

/* Binary operators by precedence level (0 loosest). */
static int match_op(ps *p, int level)
{
    skip_ws(p);
    char c0 = pk(p, 0), c1 = pk(p, 1);
    switch (level) {
    case 0:
        if (c0 == '|' && c1 == '|') return p->i += 2, OP_OR;
        return word_at(p, "or") ? OP_OR : -1;
    case 1:
        if (c0 == '&' && c1 == '&') return p->i += 2, OP_AND;
        return word_at(p, "and") ? OP_AND : -1;
    case 2:
        if (c0 == '=' && c1 == '=') return p->i += 2, OP_EQ;
        if (c0 == '!' && c1 == '=') return p->i += 2, OP_NE;
        return word_at(p, "eq") ? OP_EQ : word_at(p, "ne") ? OP_NE : -1;
    case 3:
        if (c0 == '<' && c1 == '=') return p->i += 2, OP_LE;
        if (c0 == '>' && c1 == '=') return p->i += 2, OP_GE;
        if (c0 == '<') return p->i++, OP_LT;
        if (c0 == '>') return p->i++, OP_GT;
        return word_at(p, "lt") ? OP_LT : word_at(p, "gt") ? OP_GT
             : word_at(p, "le") ? OP_LE : word_at(p, "ge") ? OP_GE : -1;
    case 4:
        if (c0 == '+') return p->i++, OP_ADD;
        if (c0 == '-') return p->i++, OP_SUB;
        return -1;
    default:
        if (c0 == '*') return p->i++, OP_MUL;
        if (c0 == '/') return p->i++, OP_DIV;
        if (c0 == '%') return p->i++, OP_MOD;
        return -1;
    }
}

/* One precedence level: a left-associative chain is one E_BIN node (a: the
 * first operand, b: E_OPND nodes holding each operator and operand), so a
 * long `1 + 1 + ...` needs no recursion to evaluate or free. */
static node *parse_level(ps *p, int level)
{
    if (level > 5)
        return parse_unary(p);
    node *l = parse_level(p, level + 1), *chain = NULL, **tail = NULL;
    int op;
    while (l && (op = match_op(p, level)) >= 0) {
        node *r = parse_level(p, level + 1);
        if (!r) {
            free_nodes(chain ? chain : l);
            return NULL;
        }
        if (!chain) {
            chain = mk(E_BIN);
            chain->a = l;
            tail = &chain->b;
        }
        node *o = mk(E_OPND);
        o->op = op;
        o->a = r;
        *tail = o;
        tail = &o->next;
    }
    return chain ? chain : l;
}

static node *parse_expr(ps *p)
{
    if (!enter(p))
        return NULL;
    node *e = parse_level(p, 0);
    p->depth--;
    return e;
}

/* The directive at '#' (p->i): kind, and *len of `#name` / `#{name}`. */
static int directive_at(const ps *p, size_t at, size_t *len)
{
    static const struct { const char *w; int d; } dirs[] = {
        {"set", D_SET}, {"if", D_IF}, {"elseif", D_ELSEIF}, {"else", D_ELSE}, {"end", D_END},
        {"foreach", D_FOREACH}, {"break", D_BREAK}, {"stop", D_STOP}, {"macro", D_UNSUPPORTED},
        {"parse", D_UNSUPPORTED}, {"include", D_UNSUPPORTED}, {"evaluate", D_UNSUPPORTED},
        {"define", D_UNSUPPORTED},
    };
    size_t k = at + 1;
    bool braced = k < p->n && p->s[k] == '{';
    if (braced)
        k++;
    size_t w = k;
    while (k < p->n && isalpha((unsigned char)p->s[k]))
        k++;
    size_t wl = k - w;
    if (braced) {
        if (k >= p->n || p->s[k] != '}')
            return D_NONE;
        k++;
    } else if (k < p->n && (isalnum((unsigned char)p->s[k]) || p->s[k] == '_')) {
        return D_NONE;
    }
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++)
        if (strlen(dirs[d].w) == wl && memcmp(dirs[d].w, p->s + w, wl) == 0) {
            *len = k - at;
            return dirs[d].d;
        }
    return D_NONE;
}

/* After a directive: spaces/tabs and one newline are swallowed. */
static void gobble_nl(ps *p)
{
    size_t k = p->i;
    while (k < p->n && (p->s[k] == ' ' || p->s[k] == '\t'))
        k++;
    if (k < p->n && p->s[k] == '\n') {
        p->i = k + 1;
    } else if (k < p->n && p->s[k] == '\r') {
        p->i = k + 1 + (k + 1 < p->n && p->s[k + 1] == '\n');
    }
}

static bool open_paren(ps *p, const char *dname)
{
    while (pk(p, 0) == ' ' || pk(p, 0) == '\t')
        p->i++;
    if (pk(p, 0) != '(') {
        perr(p, "expected '(' after #%s", dname);
        return false;
    }
    p->i++;
    return true;
}

static bool close_paren(ps *p, const char *dname)
{
    skip_ws(p);
    if (pk(p, 0) != ')') {
        perr(p, "expected ')' to close #%s", dname);
        return false;
    }
    p->i++;
    gobble_nl(p);
    return true;
}

static node *parse_set(ps *p)
{
    if (!open_paren(p, "set"))
        return NULL;
    skip_ws(p);
    node *lhs = pk(p, 0) == '$' ? parse_ref(p) : NULL;
    if (!lhs) {
        perr(p, "#set needs a reference on the left");
        return NULL;
    }
    node *last = lhs->a;
    while (last && last->next)
        last = last->next;
    if (last && last->kind == S_CALL) {
        free_nodes(lhs);
        perr(p, "cannot assign to a method call");
        return NULL;
    }
    node *n = mk(N_SET);
    n->a = lhs;
    skip_ws(p);
    if (pk(p, 0) != '=') {
        perr(p, "expected '=' in #set");
    } else {
        p->i++;
        n->b = parse_expr(p);
        if (n->b)
            close_paren(p, "set");
    }
    if (p->bad) {
        free_nodes(n);
        return NULL;
    }
    return n;
}

/* #if / #elseif after the keyword: condition, body and the rest of the chain. */
static node *parse_if(ps *p)
{
    if (!enter(p) || !open_paren(p, "if"))
        return NULL;
    node *n = mk(N_IF);
    int t = T_EOF;
    n->a = parse_expr(p);
    if (n->a && close_paren(p, "if"))
        n->b = parse_block(p, &t);
    if (!p->bad) {
        if (t == T_ELSEIF) {
            n->c = parse_if(p);
        } else if (t == T_ELSE) {
            n->c = mk(N_IF);
            n->c->b = parse_block(p, &t);
            if (!p->bad && t != T_END)
                perr(p, t == T_EOF ? "missing #end for #if" : "#else after #else");
        } else if (t == T_EOF) {
            perr(p, "missing #end for #if");
        }
    }
    p->depth--;
    if (p->bad) {
        free_nodes(n);
        return NULL;
    }
    return n;
}

static node *parse_foreach(ps *p)
{
    if (!enter(p) || !open_paren(p, "foreach"))
        return NULL;
    node *n = mk(N_FOREACH);
    skip_ws(p);
    size_t l = pk(p, 0) == '$' ? ident_len(p, p->i + 1) : 0;
    if (!l) {
        perr(p, "#foreach needs a loop variable");
    } else {
        n->s = nb_strndup(p->s + p->i + 1, l);
        n->n = l;
        p->i += l + 1;
        skip_ws(p);
        if (!word_at(p, "in"))
            perr(p, "expected 'in' in #foreach");
    }
    int t = T_EOF;
    if (!p->bad)
        n->a = parse_expr(p);
    if (n->a && close_paren(p, "foreach")) {
        n->b = parse_block(p, &t);
        if (!p->bad && t != T_END)
            perr(p, t == T_EOF ? "missing #end for #foreach" : "#else inside #foreach");
    }
    p->depth--;
    if (p->bad) {
        free_nodes(n);
        return NULL;
    }
    return n;
}

typedef struct blk {
    node *head, **tail;
    nb_buf text;
} blk;

static void blk_flush(blk *b)
{
    if (!b->text.len) { /* trim_indent may have emptied it */
        nb_buf_free(&b->text);
        return;
    }
    node *t = mk(N_TEXT);
    t->s = b->text.data;
    t->n = b->text.len;
    b->text = (nb_buf){0};
    *b->tail = t;
    b->tail = &t->next;
}

static void blk_add(blk *b, node *n)
{
    if (!n)
        return;
    blk_flush(b);
    *b->tail = n;
    b->tail = &n->next;
}

/* `\` before a reference or directive: pairs of backslashes render as one;
 * an odd one escapes what follows. */
static void parse_escape(ps *p, blk *b)
{
    size_t k = p->i, dl;
    while (k < p->n && p->s[k] == '\\')
        k++;
    size_t nbs = k - p->i;
    bool ref = k < p->n && p->s[k] == '$' && ref_at(p, k);
    bool dir = k < p->n && p->s[k] == '#' && directive_at(p, k, &dl) != D_NONE;
    if (!ref && !dir) {
        nb_buf_add(&b->text, p->s + p->i, nbs);
        p->i = k;
        return;
    }
    for (size_t j = 0; j < nbs / 2; j++)
        nb_buf_addc(&b->text, '\\');
    p->i = k;
    if (!(nbs & 1))
        return;
    if (dir) {
        nb_buf_add(&b->text, p->s + k, dl);
        p->i = k + dl;
        return;
    }
    node *r = parse_ref(p);
    if (r)
        r->kind = N_ESCREF;
    blk_add(b, r);
}

static void trim_indent(ps *p, blk *b)
{
    size_t k = p->i;
    while (k > 0 && (p->s[k - 1] == ' ' || p->s[k - 1] == '\t'))
        k--;
    if ((k == 0 || p->s[k - 1] == '\n') && b->text.len >= p->i - k)
        b->text.len -= p->i - k;
}

/* Text and directives up to #end/#else/#elseif (*term says which) or EOF. */
static node *parse_block(ps *p, int *term)
{
    blk b = {NULL, NULL, {0}};
    b.tail = &b.head;
    *term = T_EOF;
    while (p->i < p->n && !p->bad) {
        char c = p->s[p->i];
        if (c == '\\') {
            parse_escape(p, &b);
            continue;
        }
        if (c == '$') {
            node *r = parse_ref(p);
            if (r) {
                blk_add(&b, r);
                continue;
            }
            if (p->bad)
                break;
            nb_buf_addc(&b.text, c);
            p->i++;
            continue;
        }
        if (c != '#') {
            nb_buf_addc(&b.text, c);
            p->i++;
            continue;
        }
        char c1 = pk(p, 1);
        if (c1 == '#') {
            while (p->i < p->n && p->s[p->i] != '\n')
                p->i++;
            p->i++;
            continue;
        }
        if (c1 == '*' || (c1 == '[' && pk(p, 2) == '[')) {
            const char *close = c1 == '*' ? "*#" : "]]#";
            const char *e = memmem(p->s + p->i + 2, p->n - p->i - 2, close, strlen(close));
            if (!e) {
                perr(p, c1 == '*' ? "unterminated #* comment" : "unterminated #[[ block");
                break;
            }
            if (c1 == '[')
                nb_buf_add(&b.text, p->s + p->i + 3, (size_t)(e - (p->s + p->i + 3)));
            p->i = (size_t)(e - p->s) + strlen(close);
            continue;
        }
        size_t dl = 0;
        int d = directive_at(p, p->i, &dl);
        if (d == D_NONE) {
            nb_buf_addc(&b.text, c);
            p->i++;
            continue;
        }
        if (d == D_SET)
            trim_indent(p, &b);
        blk_flush(&b);
        if (d == D_UNSUPPORTED) {
            perr(p, "unsupported directive %.*s", (int)dl, p->s + p->i);
            break;
        }
        p->i += dl;
        if (d == D_END || d == D_ELSE || d == D_ELSEIF) {
            if (d != D_ELSEIF)
                gobble_nl(p);
            *term = d == D_END ? T_END : d == D_ELSE ? T_ELSE : T_ELSEIF;
            return b.head;
        }
        if (d == D_BREAK || d == D_STOP) {
            gobble_nl(p);
            blk_add(&b, mk(d == D_BREAK ? N_BREAK : N_STOP));
        } else {
            blk_add(&b, d == D_SET ? parse_set(p) : d == D_IF ? parse_if(p) : parse_foreach(p));
        }
    }
    blk_flush(&b);
    return b.head;
}

vtl_tpl *vtl_parse(const char *src, size_t len, char *err, size_t errlen)
{
    ps p = {.s = src ? src : "", .base = src ? src : "", .n = src ? len : 0, .basen = src ? len : 0,
            .err = err, .errlen = errlen};
    if (errlen)
        err[0] = 0;
    int t;
    node *root = parse_block(&p, &t);
    if (!p.bad && t != T_EOF) {
        p.i--;
        perr(&p, t == T_END ? "#end without a matching directive" : "#else/#elseif without #if");
    }
    if (p.bad) {
        free_nodes(root);
        return NULL;
    }
    vtl_tpl *tp = nb_calloc(1, sizeof *tp);
    tp->root = root;
    return tp;
}

/* ---- values ---------------------------------------------------------------- */

enum { V_NULL, V_JSON, V_INPUT, V_UTIL };
typedef struct val {
    int t;
    json_object *j; /* V_JSON: an owned reference */
} val;

static const val VNULL = {V_NULL, NULL};
static val vj(json_object *j) { return (val){j ? V_JSON : V_NULL, j}; }
static void vput(val v)
{
    if (v.t == V_JSON)
        json_object_put(v.j);
}
static json_type vty(val v) { return v.t == V_JSON ? json_object_get_type(v.j) : json_type_null; }
static val vint(int64_t i) { return vj(json_object_new_int64(i)); }
static val vbool(bool b) { return vj(json_object_new_boolean(b)); }

static bool is_container(json_object *j)
{
    json_type t = json_object_get_type(j);
    return j && (t == json_type_array || t == json_type_object);
}
/* Nesting level of a container copied by vcopy (0 for any other). */
static int level_of(json_object *c) { return (int)(intptr_t)json_object_get_userdata(c); }

/* Render state. */
typedef struct rs {
    const vtl_input *in;
    json_object *vars;        /* name -> value (a hashed json-c object) */
    json_object *input_mark;  /* stands for $input / $util inside vars */
    json_object *util_mark;
    json_object *ctx, *params, *stage, *body, *body_str;
    bool body_parsed, failed, brk, stop;
    int rc;
    long steps, rx_steps;
    size_t bytes;
    char *err;
    size_t errlen;
} rs;

static void rfail(rs *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rfail(rs *r, int rc, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    r->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    if (r->errlen)
        vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
}

static bool tick(rs *r)
{
    if (r->failed)
        return false;
    if (++r->steps > VTL_MAX_STEPS) {
        rfail(r, -1, "Mapping template evaluation exceeded %ld steps", VTL_MAX_STEPS);
        return false;
    }
    return true;
}

/* Strings and containers made by one render are bounded in total. */
static bool charge(rs *r, size_t n)
{
    r->bytes += n;
    if (r->bytes <= VTL_MAX_MEMORY)
        return true;
    rfail(r, -1, "Mapping template evaluation used more than %u bytes", VTL_MAX_MEMORY);
    return false;
}

static val vstr(rs *r, const char *s, size_t n)
{
    if (!charge(r, n))
        return VNULL;
    return vj(json_object_new_string_len(s ? s : "", (int)n));
}

static bool size_ok(rs *r, size_t n)
{
    if (n <= VTL_MAX_OUTPUT)
        return true;
    rfail(r, -1, "Mapping template output exceeds %u bytes", VTL_MAX_OUTPUT);
    return false;
}

/* Variables live in a json-c object (hashed; names are NUL-terminated AST
 * strings, n is their length); $input and $util are stored as marker
 * objects. */
static val var_get(rs *r, const char *name, size_t n)
{
    json_object *x;
    (void)n;
    if (!json_object_object_get_ex(r->vars, name, &x) || !x)
        return VNULL;
    if (x == r->input_mark)
        return (val){V_INPUT, NULL};
    if (x == r->util_mark)
        return (val){V_UTIL, NULL};
    return vj(json_object_get(x));
}

/* Takes the reference in v. */
static void var_set(rs *r, const char *name, size_t n, val v)
{
    (void)n;
    json_object *x = v.t == V_JSON ? v.j : v.t == V_INPUT ? json_object_get(r->input_mark)
                   : v.t == V_UTIL ? json_object_get(r->util_mark) : NULL;
    json_object_object_add(r->vars, name, x);
}

/* Removes name; true (and its value in *old) when it was set. */
static bool var_take(rs *r, const char *name, size_t n, val *old)
{
    json_object *x;
    *old = VNULL;
    if (!json_object_object_get_ex(r->vars, name, &x))
        return false;
    *old = var_get(r, name, n);
    json_object_object_del(r->vars, name);
    return true;
}

static void var_restore(rs *r, const char *name, size_t n, bool had, val old)
{
    val cur;
    var_take(r, name, n, &cur);
    vput(cur);
    if (had)
        var_set(r, name, n, old);
}

/* A copy of j fit to be stored in a container at nesting `level`: scalars
 * are shared (json-c never mutates them), lists and maps copied. */
static json_object *vcopy(rs *r, json_object *j, int level)
{
    if (!is_container(j))
        return json_object_get(j);
    if (!tick(r))
        return NULL;
    if (level > VTL_MAX_DEPTH) {
        rfail(r, -1, "Mapping template value nested more than %d levels", VTL_MAX_DEPTH);
        return NULL;
    }
    if (!charge(r, 64))
        return NULL;
    json_object *c;
    if (json_object_is_type(j, json_type_array)) {
        c = json_object_new_array();
        size_t n = json_object_array_length(j);
        for (size_t k = 0; k < n && !r->failed; k++)
            json_object_array_add(c, vcopy(r, json_object_array_get_idx(j, k), level + 1));
    } else {
        c = json_object_new_object();
        json_object_object_foreach(j, key, v) {
            if (r->failed)
                break;
            json_object_object_add(c, key, vcopy(r, v, level + 1));
        }
    }
    json_object_set_userdata(c, (void *)(intptr_t)level, NULL);
    return c;
}

/* vcopy for storing v into container c. */
static json_object *vstore(rs *r, json_object *c, val v)
{
    return v.t == V_JSON ? vcopy(r, v.j, level_of(c) + 1) : NULL;
}

/* Java's Double.toString. */
static void fmt_double(nb_buf *b, double d)
{
    char tmp[64];
    if (isnan(d)) {
        nb_buf_adds(b, "NaN");
        return;
    }
    if (isinf(d)) {
        nb_buf_adds(b, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    double a = fabs(d);
    if (a == 0 || (a >= 1e-3 && a < 1e7)) {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*f", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        size_t l = strlen(tmp);
        while (l > 2 && tmp[l - 1] == '0' && tmp[l - 2] != '.')
            tmp[--l] = 0;
        nb_buf_adds(b, tmp);
        return;
    }
    for (int prec = 0; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    char *e = strchr(tmp, 'e');
    if (!e)
        return;
    *e = 0;
    nb_buf_adds(b, tmp);
    if (!strchr(tmp, '.'))
        nb_buf_adds(b, ".0");
    nb_buf_printf(b, "E%d", atoi(e + 1));
}

/* Java's toString of a value (maps as {k=v, ...}, lists as [a, b]). */
static void to_str(rs *r, val v, nb_buf *b, int depth)
{
    if (r->failed)
        return;
    if (depth > 2 * VTL_MAX_DEPTH) {
        rfail(r, -1, "Mapping template value nested too deeply");
        return;
    }
    if (!size_ok(r, b->len))
        return;
    if (v.t == V_NULL) {
        nb_buf_adds(b, "null");
        return;
    }
    if (v.t != V_JSON)
        return;
    json_object *j = v.j;
    switch (json_object_get_type(j)) {
    case json_type_string:
        nb_buf_add(b, json_object_get_string(j), (size_t)json_object_get_string_len(j));
        break;
    case json_type_int:
        if (json_object_get_int64(j) == INT64_MAX) /* json-c keeps larger JSON integers unsigned */
            nb_buf_printf(b, "%llu", (unsigned long long)json_object_get_uint64(j));
        else
            nb_buf_printf(b, "%lld", (long long)json_object_get_int64(j));
        break;
    case json_type_double:
        fmt_double(b, json_object_get_double(j));
        break;
    case json_type_boolean:
        nb_buf_adds(b, json_object_get_boolean(j) ? "true" : "false");
        break;
    case json_type_array: {
        nb_buf_addc(b, '[');
        size_t n = json_object_array_length(j);
        for (size_t k = 0; k < n && tick(r); k++) {
            if (k)
                nb_buf_adds(b, ", ");
            to_str(r, vj(json_object_array_get_idx(j, k)), b, depth + 1);
        }
        nb_buf_addc(b, ']');
        break;
    }
    case json_type_object: {
        nb_buf_addc(b, '{');
        bool first = true;
        json_object_object_foreach(j, key, x) {
            if (!tick(r))
                break;
            if (!first)
                nb_buf_adds(b, ", ");
            first = false;
            nb_buf_adds(b, key);
            nb_buf_addc(b, '=');
            to_str(r, vj(x), b, depth + 1);
        }
        nb_buf_addc(b, '}');
        break;
    }
    default:
        nb_buf_adds(b, "null");
    }
}

/* The text of v: a string's own bytes, else its toString in tmp. */
static const char *sv(rs *r, val v, nb_buf *tmp, size_t *n)
{
    if (vty(v) == json_type_string) {
        *n = (size_t)json_object_get_string_len(v.j);
        return json_object_get_string(v.j);
    }
    tmp->len = 0;
    to_str(r, v, tmp, 0);
    *n = tmp->len;
    return tmp->data ? tmp->data : "";
}

static bool truthy(val v)
{
    if (v.t == V_NULL)
        return false;
    if (vty(v) == json_type_boolean)
        return json_object_get_boolean(v.j);
    return true;
}

static bool num_of(val v, bool *isint, int64_t *i, double *d)
{
    json_type t = vty(v);
    if (t == json_type_int) {
        *isint = true;
        *i = json_object_get_int64(v.j);
        *d = (double)*i;
        return true;
    }
    if (t == json_type_double) {
        *isint = false;
        *d = json_object_get_double(v.j);
        return true;
    }
    return false;
}

static bool int_of(val v, int64_t *out)
{
    bool isint;
    double d;
    if (!num_of(v, &isint, out, &d))
        return false;
    if (!isint) {
        if (!(d > -9e18 && d < 9e18))
            return false;
        *out = (int64_t)d;
    }
    return true;
}

/* Velocity 1.7 ==: numbers by value, same types by equals, else by toString. */
static bool vequal(rs *r, val a, val b, int depth)
{
    if (!tick(r))
        return false;
    if (a.t == V_NULL || b.t == V_NULL)
        return a.t == b.t;
    if (a.t != V_JSON || b.t != V_JSON)
        return a.t == b.t;
    bool ia, ib;
    int64_t xa = 0, xb = 0;
    double da, db;
    if (num_of(a, &ia, &xa, &da) && num_of(b, &ib, &xb, &db))
        return ia && ib ? xa == xb : da == db;
    json_type ta = vty(a), tb = vty(b);
    if (depth > 2 * VTL_MAX_DEPTH)
        return false;
    if (ta == tb && ta == json_type_array) {
        size_t n = json_object_array_length(a.j);
        if (n != json_object_array_length(b.j))
            return false;
        for (size_t k = 0; k < n; k++)
            if (!vequal(r, vj(json_object_array_get_idx(a.j, k)), vj(json_object_array_get_idx(b.j, k)),
                        depth + 1))
                return false;
        return true;
    }
    if (ta == tb && ta == json_type_object) {
        if (json_object_object_length(a.j) != json_object_object_length(b.j))
            return false;
        json_object_object_foreach(a.j, key, x) {
            json_object *y;
            if (!json_object_object_get_ex(b.j, key, &y) || !vequal(r, vj(x), vj(y), depth + 1))
                return false;
        }
        return true;
    }
    nb_buf sa = {0}, sb = {0};
    size_t na, nb;
    const char *pa = sv(r, a, &sa, &na), *pb = sv(r, b, &sb, &nb);
    bool eq = na == nb && memcmp(pa, pb, na) == 0;
    nb_buf_free(&sa);
    nb_buf_free(&sb);
    return eq;
}

/* ---- UTF-8 and Java string helpers ---------------------------------------- */

static size_t u8_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t k = 0; k < n; k++)
        c += ((unsigned char)s[k] & 0xC0) != 0x80;
    return c;
}

/* Byte offset of character idx (n for idx == count); SIZE_MAX past the end. */
static size_t u8_off(const char *s, size_t n, int64_t idx)
{
    if (idx < 0)
        return SIZE_MAX;
    size_t k = 0;
    for (int64_t c = 0; c < idx; c++) {
        if (k >= n)
            return SIZE_MAX;
        k++;
        while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
            k++;
    }
    return k;
}

/* Decodes one UTF-8 sequence at s[*k]; invalid bytes give U+FFFD. */
static uint32_t u8_next(const unsigned char *s, size_t n, size_t *k)
{
    unsigned char c = s[(*k)++];
    if (c < 0x80)
        return c;
    int extra = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
    if (extra < 0 || *k + (size_t)extra > n)
        return 0xFFFD;
    uint32_t cp = c & (0x3F >> extra);
    for (int e = 0; e < extra; e++) {
        if ((s[*k] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = (cp << 6) | (s[(*k)++] & 0x3F);
    }
    return cp;
}

/* ---- regular expressions ------------------------------------------------------ */

/* Java's regex syntax (the subset templates use: literals, `.`, classes with
 * ranges and \d \w \s, ^ $, groups and (?:), |, * + ? {n,m} and their lazy
 * forms), compiled to a Pike VM: a Thompson NFA with captures that keeps
 * java.util.regex's leftmost-first priorities.  A search costs at most
 * subject length x program size steps, counted against VTL_MAX_REGEX_STEPS
 * per render, so no pattern can hang a render. */
#define RX_MAX_PROG 10000
#define RX_CAPS 20 /* $0..$9 */
#define VTL_MAX_REGEX_STEPS 20000000L

enum { RX_CHAR, RX_ANY, RX_CLASS, RX_SPLIT, RX_JMP, RX_SAVE, RX_BOL, RX_EOL, RX_END, RX_MATCH };
enum { K_LIT, K_ANY, K_CLS, K_CAT, K_ALT, K_REP, K_GRP, K_BOL, K_EOL, K_EMPTY };

typedef struct rxi {
    int op, x, y; /* SPLIT/JMP targets; CLASS: first range, count; SAVE: slot */
    uint32_t c;   /* CHAR: code point; CLASS: negated */
} rxi;

typedef struct rxn {
    int k, a, b, lo, hi, group; /* children are indexes; hi < 0: unbounded */
    bool lazy, neg;
    uint32_t c;
    int rs, rn; /* K_CLS ranges */
} rxn;

typedef struct rx {
    rxi *prog;
    int n, cap;
    uint32_t *rng; /* class ranges as lo, hi pairs */
    int nr, rcap;
    rxn *nodes;
    int nn, ncap, groups, depth;
    long work; /* rx_gen calls: empty nested repetitions emit nothing but cost */
    const char *p; /* pattern being parsed */
    size_t pn, pi;
    const char *bad;
    /* search buffers, made at the first search and reused (marks use a
     * generation counter, so nothing is cleared between searches) */
    unsigned *mark, gen;
    int *stack;
    void *cl, *nl;
} rx;

static int rx_node(rx *x, int k)
{
    if (x->nn == x->ncap) {
        x->ncap = x->ncap ? x->ncap * 2 : 32;
        x->nodes = nb_realloc(x->nodes, (size_t)x->ncap * sizeof *x->nodes);
    }
    x->nodes[x->nn] = (rxn){.k = k, .a = -1, .b = -1, .group = -1};
    return x->nn++;
}

static void rx_range(rx *x, uint32_t lo, uint32_t hi)
{
    if (x->nr + 2 > x->rcap) {
        x->rcap = x->rcap ? x->rcap * 2 : 32;
        x->rng = nb_realloc(x->rng, (size_t)x->rcap * sizeof *x->rng);
    }
    x->rng[x->nr++] = lo;
    x->rng[x->nr++] = hi;
}

/* \d \w \s (and, negated, \D \W \S) as ranges. */
static bool rx_perl_class(rx *x, char e)
{
    static const uint32_t d[] = {'0', '9'}, w[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'},
                          sp[] = {'\t', '\r', ' ', ' '};
    const uint32_t *t = NULL;
    int n = 0;
    switch (tolower((unsigned char)e)) {
    case 'd': t = d, n = 2; break;
    case 'w': t = w, n = 8; break;
    case 's': t = sp, n = 4; break;
    default: return false;
    }
    if (islower((unsigned char)e)) {
        for (int k = 0; k < n; k += 2)
            rx_range(x, t[k], t[k + 1]);
    } else { /* the complement of sorted ranges */
        uint32_t from = 0;
        for (int k = 0; k < n; k += 2) {
            if (t[k] > from)
                rx_range(x, from, t[k] - 1);
            from = t[k + 1] + 1;
        }
        rx_range(x, from, 0x10FFFF);
    }
    return true;
}

static uint32_t rx_cp(rx *x)
{
    return u8_next((const unsigned char *)x->p, x->pn, &x->pi);
}

/* An escaped character after `\` (not a class); false when unsupported. */
static bool rx_escape(rx *x, uint32_t *c)
{
    char e = x->p[x->pi++];
    if (e == 'n' || e == 't' || e == 'r' || e == 'f' || e == 'e' || e == 'a') {
        *c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'f' ? '\f' : e == 'e' ? 27 : 7;
        return true;
    }
    if (isalnum((unsigned char)e)) {
        x->bad = "unsupported escape";
        return false;
    }
    x->pi--;
    *c = rx_cp(x);
    return true;
}

static int rx_class(rx *x)
{
    int id = rx_node(x, K_CLS);
    int start = x->nr;
    bool neg = x->pi < x->pn && x->p[x->pi] == '^', first = true;
    if (neg)
        x->pi++;
    for (;;) {
        if (x->pi >= x->pn) {
            x->bad = "unclosed character class";
            return -1;
        }
        if (x->p[x->pi] == ']' && !first) {
            x->pi++;
            break;
        }
        first = false;
        uint32_t lo;
        if (x->p[x->pi] == '[' || (x->p[x->pi] == '&' && x->pi + 1 < x->pn && x->p[x->pi + 1] == '&')) {
            x->bad = "nested classes are not supported";
            return -1;
        }
        if (x->p[x->pi] == '\\' && x->pi + 1 < x->pn) {
            x->pi++;
            if (rx_perl_class(x, x->p[x->pi])) {
                x->pi++;
                continue;
            }
            if (!rx_escape(x, &lo))
                return -1;
        } else {
            lo = rx_cp(x);
        }
        uint32_t hi = lo;
        if (x->pi + 1 < x->pn && x->p[x->pi] == '-' && x->p[x->pi + 1] != ']') {
            x->pi++;
            if (x->p[x->pi] == '\\' && x->pi + 1 < x->pn) {
                x->pi++;
                if (!rx_escape(x, &hi))
                    return -1;
            } else {
                hi = rx_cp(x);
            }
            if (hi < lo) {
                x->bad = "illegal character range";
                return -1;
            }
        }
        rx_range(x, lo, hi);
    }
    x->nodes[id].rs = start;
    x->nodes[id].rn = (x->nr - start) / 2;
    x->nodes[id].neg = neg;
    return id;
}

static int rx_alt(rx *x);

static int rx_atom(rx *x)
{
    char c = x->p[x->pi];
    if (c == '(') {
        x->pi++;
        int g = -1;
        if (x->pi + 1 < x->pn && x->p[x->pi] == '?') {
            if (x->p[x->pi + 1] != ':') {
                x->bad = "(? groups other than (?: are not supported";
                return -1;
            }
            x->pi += 2;
        } else {
            g = ++x->groups;
        }
        if (++x->depth > VTL_MAX_DEPTH) {
            x->bad = "nested too deeply";
            return -1;
        }
        int in = rx_alt(x);
        x->depth--;
        if (in < 0)
            return -1;
        if (x->pi >= x->pn || x->p[x->pi] != ')') {
            x->bad = "unclosed group";
            return -1;
        }
        x->pi++;
        int id = rx_node(x, K_GRP);
        x->nodes[id].a = in;
        x->nodes[id].group = g;
        return id;
    }
    x->pi++;
    if (c == '[')
        return rx_class(x);
    if (c == '.')
        return rx_node(x, K_ANY);
    if (c == '^')
        return rx_node(x, K_BOL);
    if (c == '$')
        return rx_node(x, K_EOL);
    if (c == '*' || c == '+' || c == '?' || c == '{' || c == ')') {
        x->bad = "dangling metacharacter";
        return -1;
    }
    uint32_t cp;
    if (c == '\\') {
        if (x->pi >= x->pn) {
            x->bad = "trailing backslash";
            return -1;
        }
        int before = x->nr;
        if (rx_perl_class(x, x->p[x->pi])) {
            int id = rx_node(x, K_CLS);
            x->nodes[id].rs = before;
            x->nodes[id].rn = (x->nr - before) / 2;
            x->pi++;
            return id;
        }
        if (!rx_escape(x, &cp))
            return -1;
    } else {
        x->pi--;
        cp = rx_cp(x);
    }
    int id = rx_node(x, K_LIT);
    x->nodes[id].c = cp;
    return id;
}

/* Atom with its quantifiers. */
static int rx_rep(rx *x)
{
    int a = rx_atom(x);
    if (a < 0)
        return -1;
    while (x->pi < x->pn && strchr("*+?{", x->p[x->pi])) {
        char q = x->p[x->pi++];
        int lo = q == '+' ? 1 : 0, hi = q == '?' ? 1 : -1;
        if (q == '{') {
            char *end;
            char num[16];
            size_t l = 0;
            while (x->pi + l < x->pn && l < sizeof num - 1 && strchr("0123456789,", x->p[x->pi + l]))
                l++;
            memcpy(num, x->p + x->pi, l);
            num[l] = 0;
            if (!l || x->pi + l >= x->pn || x->p[x->pi + l] != '}' || !isdigit((unsigned char)num[0])) {
                x->bad = "bad repetition";
                return -1;
            }
            x->pi += l + 1;
            lo = (int)strtol(num, &end, 10);
            hi = *end == ',' ? (end[1] ? (int)strtol(end + 1, NULL, 10) : -1) : lo;
            if (lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo)) {
                x->bad = "bad repetition count";
                return -1;
            }
        }
        int id = rx_node(x, K_REP);
        x->nodes[id].a = a;
        x->nodes[id].lo = lo;
        x->nodes[id].hi = hi;
        if (x->pi < x->pn && x->p[x->pi] == '?') {
            x->nodes[id].lazy = true;
            x->pi++;
        } else if (x->pi < x->pn && x->p[x->pi] == '+') {
            x->bad = "possessive quantifiers are not supported";
            return -1;
        }
        a = id;
    }
    return a;
}

static int rx_cat(rx *x)
{
    int acc = rx_node(x, K_EMPTY);
    while (x->pi < x->pn && x->p[x->pi] != '|' && x->p[x->pi] != ')') {
        int r = rx_rep(x);
        if (r < 0)
            return -1;
        int id = rx_node(x, K_CAT);
        x->nodes[id].a = acc;
        x->nodes[id].b = r;
        acc = id;
    }
    return acc;
}

static int rx_alt(rx *x)
{
    int l = rx_cat(x);
    while (l >= 0 && x->pi < x->pn && x->p[x->pi] == '|') {
        x->pi++;
        int r = rx_cat(x);
        if (r < 0)
            return -1;
        int id = rx_node(x, K_ALT);
        x->nodes[id].a = l;
        x->nodes[id].b = r;
        l = id;
    }
    return l;
}

static int rx_emit(rx *x, int op, int a, int b, uint32_t c)
{
    if (x->n >= RX_MAX_PROG) {
        x->bad = "pattern too complex";
        return x->n;
    }
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->prog = nb_realloc(x->prog, (size_t)x->cap * sizeof *x->prog);
    }
    x->prog[x->n] = (rxi){op, a, b, c};
    return x->n++;
}

static void rx_gen(rx *x, int id, int depth)
{
    if (x->bad)
        return;
    if (++x->work > 200000 || depth > 4 * VTL_MAX_DEPTH + 2000) {
        x->bad = "pattern too complex";
        return;
    }
    const rxn *nd = &x->nodes[id];
    int s, j;
    switch (nd->k) {
    case K_LIT: rx_emit(x, RX_CHAR, 0, 0, nd->c); break;
    case K_ANY: rx_emit(x, RX_ANY, 0, 0, 0); break;
    case K_CLS: rx_emit(x, RX_CLASS, nd->rs, nd->rn, nd->neg); break;
    case K_BOL: rx_emit(x, RX_BOL, 0, 0, 0); break;
    case K_EOL: rx_emit(x, RX_EOL, 0, 0, 0); break;
    case K_EMPTY: break;
    case K_CAT:
        rx_gen(x, nd->a, depth + 1);
        rx_gen(x, nd->b, depth + 1);
        break;
    case K_ALT:
        s = rx_emit(x, RX_SPLIT, 0, 0, 0);
        if (x->bad)
            return;
        x->prog[s].x = x->n;
        rx_gen(x, nd->a, depth + 1);
        j = rx_emit(x, RX_JMP, 0, 0, 0);
        if (x->bad)
            return;
        x->prog[s].y = x->n;
        rx_gen(x, nd->b, depth + 1);
        x->prog[j].x = x->n;
        break;
    case K_GRP:
        if (nd->group > 0 && nd->group < RX_CAPS / 2)
            rx_emit(x, RX_SAVE, 2 * nd->group, 0, 0);
        rx_gen(x, nd->a, depth + 1);
        if (nd->group > 0 && nd->group < RX_CAPS / 2)
            rx_emit(x, RX_SAVE, 2 * nd->group + 1, 0, 0);
        break;
    case K_REP: {
        int lo = nd->lo, hi = nd->hi, a = nd->a;
        bool lazy = nd->lazy;
        for (int k = 0; k < lo && !x->bad; k++)
            rx_gen(x, a, depth + 1);
        if (hi < 0) { /* L1: split L2, L3; L2: a; jmp L1; L3: */
            int l1 = rx_emit(x, RX_SPLIT, 0, 0, 0);
            if (x->bad)
                return;
            rx_gen(x, a, depth + 1);
            rx_emit(x, RX_JMP, l1, 0, 0);
            if (x->bad)
                return;
            x->prog[l1].x = lazy ? x->n : l1 + 1;
            x->prog[l1].y = lazy ? l1 + 1 : x->n;
        }
        for (int k = lo; hi >= 0 && k < hi && !x->bad; k++) { /* split L1, L2; L1: a; L2: */
            s = rx_emit(x, RX_SPLIT, 0, 0, 0);
            if (x->bad)
                return;
            rx_gen(x, a, depth + 1);
            x->prog[s].x = lazy ? x->n : s + 1;
            x->prog[s].y = lazy ? s + 1 : x->n;
        }
        break;
    }
    }
}

static void rx_free(rx *x)
{
    free(x->mark);
    free(x->stack);
    free(x->cl);
    free(x->nl);
    free(x->prog);
    free(x->rng);
    free(x->nodes);
}

/* Compiles pattern p; `whole` anchors it at both ends (String.matches). */
static bool rx_compile(rs *r, rx *x, const char *p, size_t n, bool whole)
{
    memset(x, 0, sizeof *x);
    if (n > 1000) {
        rfail(r, -1, "Regular expression too long");
        return false;
    }
    x->p = p;
    x->pn = n;
    int root = rx_alt(x);
    if (root >= 0 && !x->bad && x->pi < x->pn)
        x->bad = "unmatched ')'";
    if (root >= 0 && !x->bad) {
        rx_emit(x, RX_SAVE, 0, 0, 0);
        rx_gen(x, root, 0);
        if (whole)
            rx_emit(x, RX_END, 0, 0, 0);
        rx_emit(x, RX_SAVE, 1, 0, 0);
        rx_emit(x, RX_MATCH, 0, 0, 0);
    }
    if (x->bad || root < 0) {
        rfail(r, -1, "Invalid regular expression: %s", x->bad ? x->bad : "syntax error");
        rx_free(x);
        return false;
    }
    return true;
}

typedef struct rxt {
    int pc;
    int caps[RX_CAPS];
} rxt;

typedef struct rxvm {
    rs *r;
    rx *x;
    const char *s;
    size_t n;
} rxvm;

/* Follows the empty transitions from pc at pos, appending the threads that
 * wait for a character (or match) to list, in priority order. */
static void rx_add(rxvm *v, rxt *list, int *nl, int pc, int *caps, size_t pos)
{
    int sp = 0, *stack = v->x->stack;
    stack[sp++] = pc;
    while (sp > 0) {
        int e = stack[--sp];
        if (e < 0) { /* restore a capture slot: -(slot+1) then the value */
            int slot = -e - 1;
            caps[slot] = stack[--sp];
            continue;
        }
        if (v->x->mark[e] == v->x->gen)
            continue;
        v->x->mark[e] = v->x->gen;
        v->r->rx_steps++;
        const rxi *in = &v->x->prog[e];
        switch (in->op) {
        case RX_JMP:
            stack[sp++] = in->x;
            break;
        case RX_SPLIT:
            stack[sp++] = in->y;
            stack[sp++] = in->x;
            break;
        case RX_SAVE:
            stack[sp++] = caps[in->x];
            stack[sp++] = -(in->x + 1);
            caps[in->x] = (int)pos;
            stack[sp++] = e + 1;
            break;
        case RX_BOL:
            if (pos == 0)
                stack[sp++] = e + 1;
            break;
        case RX_EOL:
            if (pos == v->n || (pos + 1 == v->n && v->s[pos] == '\n'))
                stack[sp++] = e + 1;
            break;
        case RX_END:
            if (pos == v->n)
                stack[sp++] = e + 1;
            break;
        default:
            list[*nl].pc = e;
            memcpy(list[*nl].caps, caps, sizeof list[*nl].caps);
            (*nl)++;
        }
    }
}

static bool rx_class_has(const rx *x, const rxi *in, uint32_t cp)
{
    bool in_ = false;
    for (int k = 0; k < in->y && !in_; k++)
        in_ = cp >= x->rng[in->x + 2 * k] && cp <= x->rng[in->x + 2 * k + 1];
    return in_ != (in->c != 0);
}

/* Leftmost-first match at or after off (only at off when anchored): 1 with
 * caps (byte offsets, -1 for unset groups), 0 none, -1 the budget ran out. */
static int rx_search(rs *r, rx *x, const char *s, size_t n, size_t off, bool anchored, int *out)
{
    size_t m = (size_t)x->n;
    if (!x->mark) {
        x->mark = nb_calloc(m, sizeof(unsigned));
        x->stack = nb_malloc((3 * m + 8) * sizeof(int));
        x->cl = nb_malloc(m * sizeof(rxt));
        x->nl = nb_malloc(m * sizeof(rxt));
    }
    rxvm v = {r, x, s, n};
    rxt *cl = x->cl, *nl = x->nl;
    int ncl = 0, nnl, caps[RX_CAPS];
    bool matched = false;
    x->gen++;
    for (int k = 0; k < RX_CAPS; k++)
        caps[k] = -1;
    rx_add(&v, cl, &ncl, 0, caps, off);
    for (size_t pos = off;;) {
        if (r->rx_steps > VTL_MAX_REGEX_STEPS) {
            rfail(r, -1, "Regular expression evaluation exceeded its step budget");
            break;
        }
        if (ncl == 0 && (matched || anchored))
            break;
        size_t next = pos;
        uint32_t cp = pos < n ? u8_next((const unsigned char *)s, n, &next) : 0;
        x->gen++;
        nnl = 0;
        for (int k = 0; k < ncl; k++) {
            const rxi *in = &x->prog[cl[k].pc];
            bool ok = false;
            r->rx_steps++;
            if (in->op == RX_MATCH) {
                matched = true;
                memcpy(out, cl[k].caps, sizeof caps);
                break; /* lower-priority threads lose */
            }
            if (pos < n)
                ok = in->op == RX_CHAR ? cp == in->c
                   : in->op == RX_ANY  ? cp != '\n' && cp != '\r'
                                       : rx_class_has(x, in, cp);
            if (ok)
                rx_add(&v, nl, &nnl, cl[k].pc + 1, cl[k].caps, next);
        }
        if (pos >= n)
            break;
        pos = next;
        rxt *t = cl;
        cl = nl;
        nl = t;
        ncl = nnl;
        if (!matched && !anchored) {
            for (int k = 0; k < RX_CAPS; k++)
                caps[k] = -1;
            rx_add(&v, cl, &ncl, 0, caps, pos);
        }
    }
    if (r->failed)
        return -1;
    return matched;
}

/* True when the Java pattern matches only itself; its text in lit. */
static bool jre_literal(const char *pat, size_t n, nb_buf *lit)
{
    for (size_t k = 0; k < n; k++) {
        char c = pat[k];
        if (c == '\\' && k + 1 < n && !isalnum((unsigned char)pat[k + 1]))
            c = pat[++k];
        else if (c == '\\' || strchr(".[]()*+?{}|^$", c))
            return false;
        nb_buf_addc(lit, c);
    }
    return true;
}

/* glibc's matcher is not linear for every pattern: bound its input. */
#define VTL_MAX_REGEX_SUBJECT (1u << 20)
static bool regex_subject_ok(rs *r, size_t n)
{
    if (n <= VTL_MAX_REGEX_SUBJECT)
        return true;
    rfail(r, -1, "String too long for a regular expression (%zu bytes)", n);
    return false;
}

static val str_replace(rs *r, const char *s, size_t n, const char *a, size_t an, const char *b, size_t bn,
                       bool all);

/* replaceAll / replaceFirst with Java's $n group references and \ escapes. */
static val str_replace_re(rs *r, const char *s, size_t n, val pat, val rep, bool all)
{
    nb_buf tp = {0}, trp = {0}, out = {0};
    size_t pn, rn;
    const char *ps_ = sv(r, pat, &tp, &pn), *rp = sv(r, rep, &trp, &rn);
    rx re;
    val res = VNULL;
    nb_buf lit = {0};
    if (!r->failed && !memchr(rp, '$', rn) && !memchr(rp, '\\', rn) && jre_literal(ps_, pn, &lit)) {
        res = str_replace(r, s, n, lit.data ? lit.data : "", lit.len, rp, rn, all);
    } else if (!r->failed && regex_subject_ok(r, n) && rx_compile(r, &re, ps_, pn, false)) {
        int m[RX_CAPS];
        size_t off = 0;
        while (off <= n && tick(r) && size_ok(r, out.len) && rx_search(r, &re, s, n, off, false, m) > 0) {
            size_t so = (size_t)m[0], eo = (size_t)m[1];
            nb_buf_add(&out, s + off, so - off);
            for (size_t k = 0; k < rn; k++) {
                if (rp[k] == '\\' && k + 1 < rn) {
                    nb_buf_addc(&out, rp[++k]);
                } else if (rp[k] == '$' && k + 1 < rn && isdigit((unsigned char)rp[k + 1])) {
                    int g = rp[++k] - '0';
                    if (m[2 * g] >= 0 && m[2 * g + 1] >= m[2 * g])
                        nb_buf_add(&out, s + m[2 * g], (size_t)(m[2 * g + 1] - m[2 * g]));
                } else {
                    nb_buf_addc(&out, rp[k]);
                }
            }
            off = eo;
            if (eo == so) { /* an empty match: keep the next character */
                if (so >= n)
                    break;
                u8_next((const unsigned char *)s, n, &off);
                nb_buf_add(&out, s + so, off - so);
            }
            if (!all)
                break;
        }
        if (off < n)
            nb_buf_add(&out, s + off, n - off);
        rx_free(&re);
        if (size_ok(r, out.len))
            res = vstr(r, out.data, out.len);
    }
    nb_buf_free(&tp);
    nb_buf_free(&trp);
    nb_buf_free(&out);
    nb_buf_free(&lit);
    return r->failed ? (vput(res), VNULL) : res;
}

static val str_split(rs *r, const char *s, size_t n, val pat)
{
    nb_buf tp = {0};
    size_t pn;
    const char *p = sv(r, pat, &tp, &pn);
    rx re;
    json_object *arr = NULL;
    if (!r->failed && regex_subject_ok(r, n) && charge(r, n) && rx_compile(r, &re, p, pn, false)) {
        arr = json_object_new_array();
        int m[RX_CAPS];
        size_t off = 0, start = 0;
        bool any = false;
        while (off < n && tick(r) && rx_search(r, &re, s, n, off, false, m) > 0) {
            size_t so = (size_t)m[0], eo = (size_t)m[1];
            if (eo == so) {
                off = so;
                if (so < n)
                    u8_next((const unsigned char *)s, n, &off);
                if (so == 0 || so >= n)
                    continue;
            } else {
                off = eo;
            }
            if (so == 0 && eo > 0 && !any) {
                json_object_array_add(arr, json_object_new_string(""));
            } else if (so > 0 || any) {
                json_object_array_add(arr, json_object_new_string_len(s + start, (int)(so - start)));
            }
            any = true;
            start = eo;
        }
        json_object_array_add(arr, json_object_new_string_len(s + start, (int)(n - start)));
        if (any) /* Java drops trailing empty strings */
            while (json_object_array_length(arr) > 0 &&
                   json_object_get_string_len(json_object_array_get_idx(arr, json_object_array_length(arr) - 1)) == 0)
                json_object_array_del_idx(arr, json_object_array_length(arr) - 1, 1);
        rx_free(&re);
    }
    nb_buf_free(&tp);
    if (r->failed) {
        json_object_put(arr);
        return VNULL;
    }
    return vj(arr);
}

static val str_matches(rs *r, const char *s, size_t n, val pat)
{
    nb_buf tp = {0};
    size_t pn;
    const char *p = sv(r, pat, &tp, &pn);
    rx re;
    val res = VNULL;
    if (!r->failed && regex_subject_ok(r, n) && rx_compile(r, &re, p, pn, true)) {
        int m[RX_CAPS];
        int found = rx_search(r, &re, s, n, 0, true, m);
        if (found >= 0)
            res = vbool(found > 0);
        rx_free(&re);
    }
    nb_buf_free(&tp);
    return res;
}

static val str_replace(rs *r, const char *s, size_t n, const char *a, size_t an, const char *b, size_t bn,
                       bool all)
{
    nb_buf out = {0};
    size_t k = 0;
    if (an == 0) { /* Java: the replacement goes around every character */
        nb_buf_add(&out, b, bn);
        if (!all)
            k = n, nb_buf_add(&out, s, n);
        while (k < n && size_ok(r, out.len)) {
            size_t st = k;
            u8_next((const unsigned char *)s, n, &k);
            nb_buf_add(&out, s + st, k - st);
            nb_buf_add(&out, b, bn);
        }
    } else {
        while (k < n && size_ok(r, out.len)) {
            const char *f = memmem(s + k, n - k, a, an);
            if (!f) {
                nb_buf_add(&out, s + k, n - k);
                break;
            }
            nb_buf_add(&out, s + k, (size_t)(f - s) - k);
            nb_buf_add(&out, b, bn);
            k = (size_t)(f - s) + an;
            if (!all) {
                nb_buf_add(&out, s + k, n - k);
                break;
            }
        }
    }
    val res = size_ok(r, out.len) ? vstr(r, out.data, out.len) : VNULL;
    nb_buf_free(&out);
    return res;
}

/* Character index of the first (or last) occurrence of x at or after char from. */
static int64_t str_index(const char *s, size_t n, const char *x, size_t xn, int64_t from, bool last)
{
    if (from < 0)
        from = 0;
    size_t st = u8_off(s, n, from);
    if (st == SIZE_MAX)
        return -1;
    const char *hit = NULL;
    for (size_t k = st; k + xn <= n; k++) {
        if (memcmp(s + k, x, xn) == 0) {
            hit = s + k;
            if (!last)
                break;
        }
    }
    return hit ? (int64_t)u8_count(s, (size_t)(hit - s)) : -1;
}

/* ---- methods ---------------------------------------------------------------- */

#define NARG 16
typedef struct call {
    const char *name;
    val *a;
    int n;
} call;

static bool is(const call *c, const char *name, int nargs)
{
    return c->n == nargs && strcmp(c->name, name) == 0;
}

static val str_method(rs *r, json_object *j, const call *c)
{
    const char *s = json_object_get_string(j);
    size_t n = (size_t)json_object_get_string_len(j), an = 0, bn = 0;
    nb_buf ta = {0}, tb = {0};
    const char *a = c->n > 0 ? sv(r, c->a[0], &ta, &an) : NULL;
    const char *b = c->n > 1 ? sv(r, c->a[1], &tb, &bn) : NULL;
    int64_t i0 = 0, i1 = 0;
    bool int0 = c->n > 0 && int_of(c->a[0], &i0), int1 = c->n > 1 && int_of(c->a[1], &i1);
    val res = VNULL;
    if (is(c, "length", 0)) {
        res = vint((int64_t)u8_count(s, n));
    } else if (is(c, "isEmpty", 0)) {
        res = vbool(n == 0);
    } else if ((is(c, "substring", 1) && int0) || (is(c, "substring", 2) && int0 && int1)) {
        size_t bo = u8_off(s, n, i0), eo = c->n == 2 ? u8_off(s, n, i1) : n;
        if (bo == SIZE_MAX || eo == SIZE_MAX || bo > eo)
            rfail(r, -1, "String index out of range in substring");
        else
            res = vstr(r, s + bo, eo - bo);
    } else if (is(c, "charAt", 1) && int0) {
        size_t bo = u8_off(s, n, i0), k = bo;
        if (bo == SIZE_MAX || bo >= n) {
            rfail(r, -1, "String index out of range: %lld", (long long)i0);
        } else {
            u8_next((const unsigned char *)s, n, &k);
            res = vstr(r, s + bo, k - bo);
        }
    } else if (is(c, "indexOf", 1) || (is(c, "indexOf", 2) && int1)) {
        res = vint(str_index(s, n, a, an, i1, false));
    } else if (is(c, "lastIndexOf", 1)) {
        res = vint(str_index(s, n, a, an, 0, true));
    } else if (is(c, "contains", 1)) {
        res = vbool(an == 0 || memmem(s, n, a, an) != NULL);
    } else if (is(c, "startsWith", 1)) {
        res = vbool(an <= n && memcmp(s, a, an) == 0);
    } else if (is(c, "endsWith", 1)) {
        res = vbool(an <= n && memcmp(s + n - an, a, an) == 0);
    } else if (is(c, "equals", 1)) {
        res = vbool(vty(c->a[0]) == json_type_string && an == n && memcmp(s, a, n) == 0);
    } else if (is(c, "equalsIgnoreCase", 1)) {
        res = vbool(vty(c->a[0]) == json_type_string && an == n && strncasecmp(s, a, n) == 0);
    } else if (is(c, "replace", 2)) {
        res = str_replace(r, s, n, a, an, b, bn, true);
    } else if (is(c, "replaceAll", 2) || is(c, "replaceFirst", 2)) {
        res = str_replace_re(r, s, n, c->a[0], c->a[1], c->name[7] == 'A');
    } else if (is(c, "split", 1)) {
        res = str_split(r, s, n, c->a[0]);
    } else if (is(c, "matches", 1)) {
        res = str_matches(r, s, n, c->a[0]);
    } else if (is(c, "toLowerCase", 0) || is(c, "toUpperCase", 0)) {
        char *d = nb_strndup(s, n);
        for (size_t k = 0; k < n; k++)
            d[k] = (char)(c->name[2] == 'L' ? tolower((unsigned char)d[k]) : toupper((unsigned char)d[k]));
        res = vstr(r, d, n);
        free(d);
    } else if (is(c, "trim", 0)) {
        size_t st = 0, en = n;
        while (st < en && (unsigned char)s[st] <= ' ')
            st++;
        while (en > st && (unsigned char)s[en - 1] <= ' ')
            en--;
        res = vstr(r, s + st, en - st);
    } else if (is(c, "concat", 1)) {
        if (size_ok(r, n + an)) {
            nb_buf o = {0};
            nb_buf_add(&o, s, n);
            nb_buf_add(&o, a, an);
            res = vstr(r, o.data, o.len);
            nb_buf_free(&o);
        }
    } else if (is(c, "toString", 0)) {
        res = vj(json_object_get(j));
    }
    nb_buf_free(&ta);
    nb_buf_free(&tb);
    return res;
}

static val list_method(rs *r, json_object *j, const call *c)
{
    size_t n = json_object_array_length(j);
    int64_t i0 = 0;
    bool int0 = c->n > 0 && int_of(c->a[0], &i0);
    bool inrange = int0 && i0 >= 0 && (uint64_t)i0 < n;
    if (is(c, "size", 0))
        return vint((int64_t)n);
    if (is(c, "isEmpty", 0))
        return vbool(n == 0);
    if ((is(c, "get", 1) || is(c, "set", 2) || is(c, "remove", 1)) && int0 && !inrange) {
        rfail(r, -1, "Index %lld out of bounds for length %zu", (long long)i0, n);
        return VNULL;
    }
    if (is(c, "get", 1) && int0)
        return vj(json_object_get(json_object_array_get_idx(j, (size_t)i0)));
    if (is(c, "add", 1)) {
        json_object *x = charge(r, 16) ? vstore(r, j, c->a[0]) : NULL;
        if (r->failed) {
            json_object_put(x);
            return VNULL;
        }
        json_object_array_add(j, x);
        return vbool(true);
    }
    if (is(c, "set", 2) && int0) {
        json_object *x = vstore(r, j, c->a[1]);
        if (r->failed) {
            json_object_put(x);
            return VNULL;
        }
        val old = vj(json_object_get(json_object_array_get_idx(j, (size_t)i0)));
        json_object_array_put_idx(j, (size_t)i0, x);
        return old;
    }
    if (is(c, "remove", 1) && int0) {
        val old = vj(json_object_get(json_object_array_get_idx(j, (size_t)i0)));
        json_object_array_del_idx(j, (size_t)i0, 1);
        return old;
    }
    if (is(c, "contains", 1) || is(c, "indexOf", 1)) {
        int64_t at = -1;
        for (size_t k = 0; k < n && at < 0 && tick(r); k++)
            if (vequal(r, vj(json_object_array_get_idx(j, k)), c->a[0], 0))
                at = (int64_t)k;
        return c->name[0] == 'c' ? vbool(at >= 0) : vint(at);
    }
    if (is(c, "addAll", 1) && vty(c->a[0]) == json_type_array) {
        json_object *src = c->a[0].j;
        size_t sn = json_object_array_length(src);
        json_object *tmp = json_object_new_array();
        for (size_t k = 0; k < sn && tick(r) && charge(r, 16); k++)
            json_object_array_add(tmp, vcopy(r, json_object_array_get_idx(src, k), level_of(j) + 1));
        for (size_t k = 0; k < sn && !r->failed; k++)
            json_object_array_add(j, json_object_get(json_object_array_get_idx(tmp, k)));
        json_object_put(tmp);
        return r->failed ? VNULL : vbool(sn > 0);
    }
    if (is(c, "clear", 0)) {
        if (n)
            json_object_array_del_idx(j, 0, n);
        return VNULL;
    }
    if (is(c, "subList", 2) && int0) {
        int64_t i1;
        if (!int_of(c->a[1], &i1) || i0 < 0 || i1 < i0 || (uint64_t)i1 > n) {
            rfail(r, -1, "Index out of bounds in subList");
            return VNULL;
        }
        json_object *sub = json_object_new_array();
        for (int64_t k = i0; k < i1 && tick(r) && charge(r, 16); k++)
            json_object_array_add(sub, json_object_get(json_object_array_get_idx(j, (size_t)k)));
        return vj(sub);
    }
    return VNULL;
}

static val map_method(rs *r, json_object *j, const call *c)
{
    nb_buf tk = {0};
    size_t kn = 0;
    const char *key = c->n > 0 ? sv(r, c->a[0], &tk, &kn) : NULL;
    char *k0 = key ? nb_strndup(key, kn) : NULL;
    nb_buf_free(&tk);
    json_object *x = NULL;
    bool has = k0 && json_object_object_get_ex(j, k0, &x);
    val res = VNULL;
    if (is(c, "size", 0)) {
        res = vint(json_object_object_length(j));
    } else if (is(c, "isEmpty", 0)) {
        res = vbool(json_object_object_length(j) == 0);
    } else if (is(c, "get", 1)) {
        res = vj(json_object_get(x));
    } else if (is(c, "containsKey", 1)) {
        res = vbool(has);
    } else if (is(c, "put", 2)) {
        json_object *v = vstore(r, j, c->a[1]);
        if (r->failed) {
            json_object_put(v);
        } else {
            res = vj(json_object_get(x));
            json_object_object_add(j, k0, v);
        }
    } else if (is(c, "remove", 1)) {
        res = vj(json_object_get(x));
        json_object_object_del(j, k0);
    } else if (is(c, "keySet", 0) || is(c, "values", 0) || is(c, "entrySet", 0)) {
        json_object *arr = json_object_new_array();
        json_object_object_foreach(j, k, v) {
            if (!tick(r) || !charge(r, strlen(k) + 64))
                break;
            if (c->name[0] == 'k') {
                json_object_array_add(arr, json_object_new_string(k));
            } else if (c->name[0] == 'v') {
                json_object_array_add(arr, json_object_get(v));
            } else {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "key", json_object_new_string(k));
                json_object_object_add(e, "value", json_object_get(v));
                json_object_array_add(arr, e);
            }
        }
        res = vj(arr);
    } else if (is(c, "containsValue", 1)) {
        bool found = false;
        json_object_object_foreach(j, k, v) {
            (void)k;
            if (found || !tick(r))
                break;
            found = vequal(r, vj(v), c->a[0], 0);
        }
        res = vbool(found);
    } else if (is(c, "putAll", 1) && vty(c->a[0]) == json_type_object && c->a[0].j != j) {
        json_object_object_foreach(c->a[0].j, k, v) {
            json_object *cp = vcopy(r, v, level_of(j) + 1);
            if (r->failed) {
                json_object_put(cp);
                break;
            }
            json_object_object_add(j, k, cp);
        }
    }
    free(k0);
    return res;
}

/* ---- API Gateway's $input and $util ---------------------------------------- */

/* Strict JSON of s[0..n), all of it; *why is NULL or the reason it is not. */
static json_object *parse_json(const char *s, size_t n, const char **why)
{
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    char *copy = nb_malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = ' '; /* ends a top-level number */
    json_object *root = json_tokener_parse_ex(tok, copy, (int)(n + 1));
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (je == json_tokener_success)
        for (size_t e = json_tokener_get_parse_end(tok); e <= n; e++)
            if (!is_ws(copy[e]))
                je = json_tokener_error_parse_unexpected;
    json_tokener_free(tok);
    free(copy);
    *why = NULL;
    if (je != json_tokener_success) {
        json_object_put(root);
        *why = je == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(je);
        return NULL;
    }
    return root;
}

/* The request body as JSON (an empty body is {}); NULL with rc VTL_EBODY. */
static json_object *body_json(rs *r, bool *ok)
{
    *ok = !r->failed;
    if (r->body_parsed)
        return r->body;
    r->body_parsed = true;
    const char *b = r->in ? r->in->body : NULL;
    size_t n = b ? r->in->body_len : 0, k = 0;
    while (k < n && is_ws(b[k]))
        k++;
    if (k == n) {
        r->body = json_object_new_object();
        return r->body;
    }
    const char *why;
    json_object *root = parse_json(b, n, &why);
    if (why) {
        *ok = false;
        rfail(r, VTL_EBODY, "Could not parse request body into json: %s", why);
        return NULL;
    }
    r->body = root;
    return root;
}

static val input_method(rs *r, const call *c)
{
    nb_buf t = {0};
    size_t n = 0;
    char *arg = NULL;
    if (c->n == 1) {
        const char *s = sv(r, c->a[0], &t, &n);
        arg = nb_strndup(s, n);
    }
    nb_buf_free(&t);
    val res = VNULL;
    if (is(c, "params", 0)) {
        res = vj(json_object_get(r->params));
    } else if (is(c, "params", 1)) {
        static const char *const where[] = {"path", "querystring", "header"};
        json_object *x = NULL;
        for (int w = 0; w < 3 && !x; w++) {
            json_object *m;
            if (!json_object_object_get_ex(r->params, where[w], &m) || !json_object_is_type(m, json_type_object))
                continue;
            if (!json_object_object_get_ex(m, arg, &x) && w == 2) {
                json_object_object_foreach(m, k, v) {
                    if (strcasecmp(k, arg) == 0) {
                        x = v;
                        break;
                    }
                }
            }
        }
        if (x) {
            nb_buf o = {0};
            size_t on;
            const char *s = sv(r, vj(x), &o, &on);
            res = vstr(r, s, on);
            nb_buf_free(&o);
        } else {
            res = vstr(r, "", 0);
        }
    } else if (is(c, "json", 1) || is(c, "path", 1)) {
        bool ok;
        json_object *root = body_json(r, &ok), *out = NULL;
        int rc = ok ? asl_path_get(root, arg, &out) : 1;
        if (rc == 0 && strchr(arg, '*') && json_object_is_type(out, json_type_array)) { /* matches cost */
            size_t m = json_object_array_length(out);
            r->steps += (long)m;
            charge(r, m * 16);
            tick(r);
        }
        if (ok && rc < 0)
            rfail(r, -1, "Invalid JSONPath expression: %s", arg);
        if (c->name[0] == 'p') {
            res = vj(out);
        } else if (ok && rc == 0) {
            const char *js = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            res = vstr(r, js, strlen(js));
            json_object_put(out);
        } else if (ok && rc > 0) {
            res = vstr(r, "", 0);
        }
    }
    free(arg);
    return res;
}

/* Apache commons-lang StringEscapeUtils.escapeJavaScript: quotes, backslash,
 * slash and controls escaped; everything outside ASCII as \uXXXX (UTF-16). */
static void escape_js(nb_buf *o, const char *s, size_t n)
{
    for (size_t k = 0; k < n;) {
        uint32_t cp = u8_next((const unsigned char *)s, n, &k);
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            nb_buf_printf(o, "\\u%04X\\u%04X", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else if (cp > 0x7F) {
            nb_buf_printf(o, "\\u%04X", cp);
        } else if (cp < 32) {
            const char *e = cp == '\b' ? "\\b" : cp == '\n' ? "\\n" : cp == '\t' ? "\\t"
                          : cp == '\f' ? "\\f" : cp == '\r' ? "\\r" : NULL;
            if (e)
                nb_buf_adds(o, e);
            else
                nb_buf_printf(o, "\\u%04X", cp);
        } else {
            if (cp == '\'' || cp == '"' || cp == '\\' || cp == '/')
                nb_buf_addc(o, '\\');
            nb_buf_addc(o, (char)cp);
        }
    }
}

/* java.net.URLEncoder.encode(s, "UTF-8"). */
static void url_encode_java(nb_buf *o, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (isalnum(c) || c == '.' || c == '-' || c == '*' || c == '_')
            nb_buf_addc(o, (char)c);
        else if (c == ' ')
            nb_buf_addc(o, '+');
        else
            nb_buf_printf(o, "%%%02X", c);
    }
}

static val util_method(rs *r, const call *c)
{
    if (c->n != 1 || c->a[0].t == V_NULL) /* Java: null in, null out */
        return VNULL;
    nb_buf t = {0}, o = {0};
    size_t n;
    const char *s = sv(r, c->a[0], &t, &n);
    val res = VNULL;
    if (r->failed) {
        /* argument rendering failed */
    } else if (strcmp(c->name, "escapeJavaScript") == 0) {
        escape_js(&o, s, n); /* input is at most VTL_MAX_OUTPUT: so is the work */
        if (size_ok(r, o.len))
            res = vstr(r, o.data, o.len);
    } else if (strcmp(c->name, "urlEncode") == 0) {
        url_encode_java(&o, s, n);
        if (size_ok(r, o.len))
            res = vstr(r, o.data, o.len);
    } else if (strcmp(c->name, "urlDecode") == 0) {
        if (nb_url_decode(&o, s, n, 1) != 0)
            rfail(r, -1, "$util.urlDecode: invalid percent-encoding");
        else
            res = vstr(r, o.data, o.len);
    } else if (strcmp(c->name, "base64Encode") == 0) {
        if (size_ok(r, n / 3 * 4 + 4)) {
            size_t on;
            char *e = nb_base64_encode(s, n, &on);
            res = vstr(r, e, on);
            free(e);
        }
    } else if (strcmp(c->name, "base64Decode") == 0) {
        size_t on;
        unsigned char *d = nb_base64_decode(s, n, &on);
        if (!d)
            rfail(r, -1, "$util.base64Decode: invalid base64 input");
        else
            res = vstr(r, (const char *)d, on);
        free(d);
    } else if (strcmp(c->name, "parseJson") == 0) {
        const char *why;
        json_object *root = parse_json(s, n, &why);
        if (why)
            rfail(r, -1, "$util.parseJson: invalid JSON: %s", why);
        else
            res = vj(root);
    }
    nb_buf_free(&t);
    nb_buf_free(&o);
    return res;
}

static val call_method(rs *r, val v, const call *c)
{
    if (v.t == V_INPUT)
        return input_method(r, c);
    if (v.t == V_UTIL)
        return util_method(r, c);
    json_type t = vty(v);
    val res = VNULL;
    if (t == json_type_string)
        res = str_method(r, v.j, c);
    else if (t == json_type_array)
        res = list_method(r, v.j, c);
    else if (t == json_type_object)
        res = map_method(r, v.j, c);
    if (res.t != V_NULL || r->failed)
        return res;
    if (is(c, "toString", 0)) {
        nb_buf b = {0};
        to_str(r, v, &b, 0);
        res = r->failed ? VNULL : vstr(r, b.data, b.len);
        nb_buf_free(&b);
    } else if (is(c, "equals", 1) && t != json_type_string) {
        res = vbool(vequal(r, v, c->a[0], 0));
    } else if ((is(c, "intValue", 0) || is(c, "longValue", 0)) && (t == json_type_int || t == json_type_double)) {
        int64_t i;
        if (int_of(v, &i))
            res = vint(i);
    } else if (is(c, "doubleValue", 0) && (t == json_type_int || t == json_type_double)) {
        res = vj(json_object_new_double(json_object_get_double(v.j)));
    }
    return res;
}

/* $a.name: a map's entry, $input.body, or a Java bean getter (isEmpty). */
static val get_prop(rs *r, val v, const char *name)
{
    if (v.t == V_INPUT) {
        if (strcmp(name, "body") == 0 && r->in) {
            if (!r->body_str)
                r->body_str = vstr(r, r->in->body, r->in->body ? r->in->body_len : 0).j;
            return vj(json_object_get(r->body_str));
        }
        return VNULL;
    }
    json_type t = vty(v);
    if (t == json_type_object) {
        json_object *x = NULL;
        json_object_object_get_ex(v.j, name, &x);
        return vj(json_object_get(x));
    }
    if (strcmp(name, "empty") == 0 && t == json_type_string)
        return vbool(json_object_get_string_len(v.j) == 0);
    if (strcmp(name, "empty") == 0 && t == json_type_array)
        return vbool(json_object_array_length(v.j) == 0);
    return VNULL;
}

static val get_index(rs *r, val v, val idx)
{
    json_type t = vty(v);
    int64_t i;
    if (t == json_type_array && int_of(idx, &i)) {
        size_t n = json_object_array_length(v.j);
        if (i < 0 || (uint64_t)i >= n) {
            rfail(r, -1, "Index %lld out of bounds for length %zu", (long long)i, n);
            return VNULL;
        }
        return vj(json_object_get(json_object_array_get_idx(v.j, (size_t)i)));
    }
    if (t == json_type_object) {
        nb_buf tk = {0};
        size_t kn;
        const char *k = sv(r, idx, &tk, &kn);
        char *key = nb_strndup(k, kn);
        nb_buf_free(&tk);
        val res = get_prop(r, v, key);
        free(key);
        return res;
    }
    return VNULL;
}

/* ---- evaluation ---------------------------------------------------------------- */

static val eval(rs *r, const node *e);
static void render(rs *r, const node *n, nb_buf *out);

static val seg_apply(rs *r, val v, const node *sg)
{
    if (sg->kind == S_PROP)
        return get_prop(r, v, sg->s);
    if (sg->kind == S_INDEX) {
        val idx = eval(r, sg->a);
        val res = r->failed ? VNULL : get_index(r, v, idx);
        vput(idx);
        return res;
    }
    val args[NARG];
    int n = 0;
    for (const node *a = sg->a; a && n < NARG && !r->failed; a = a->next)
        args[n++] = eval(r, a);
    call c = {sg->s, args, n};
    val res = r->failed ? VNULL : call_method(r, v, &c);
    for (int k = 0; k < n; k++)
        vput(args[k]);
    if (r->failed) {
        vput(res);
        return VNULL;
    }
    return res;
}

/* Evaluates ref's root and all segments but the last `skip` ones. */
static val eval_chain(rs *r, const node *ref, int skip)
{
    val v = var_get(r, ref->s, ref->n);
    int nseg = 0;
    for (const node *sg = ref->a; sg; sg = sg->next)
        nseg++;
    const node *sg = ref->a;
    for (int k = 0; k < nseg - skip && !r->failed; k++, sg = sg->next) {
        if (v.t == V_NULL)
            break;
        val nv = seg_apply(r, v, sg);
        vput(v);
        v = nv;
    }
    if (r->failed) {
        vput(v);
        return VNULL;
    }
    return v;
}

static val arith(rs *r, int op, val a, val b)
{
    bool ia, ib;
    int64_t xa = 0, xb = 0, z;
    double da, db;
    if (op == OP_ADD && (vty(a) == json_type_string || vty(b) == json_type_string) && a.t != V_NULL &&
        b.t != V_NULL) {
        nb_buf o = {0};
        to_str(r, a, &o, 0);
        to_str(r, b, &o, 0);
        val res = !r->failed && size_ok(r, o.len) ? vstr(r, o.data, o.len) : VNULL;
        nb_buf_free(&o);
        return res;
    }
    if (!num_of(a, &ia, &xa, &da) || !num_of(b, &ib, &xb, &db))
        return VNULL;
    if (ia && ib) {
        switch (op) {
        case OP_ADD:
            if (!__builtin_add_overflow(xa, xb, &z))
                return vint(z);
            break;
        case OP_SUB:
            if (!__builtin_sub_overflow(xa, xb, &z))
                return vint(z);
            break;
        case OP_MUL:
            if (!__builtin_mul_overflow(xa, xb, &z))
                return vint(z);
            break;
        case OP_DIV:
        case OP_MOD:
            if (xb == 0)
                return VNULL; /* Velocity: division by zero is null */
            if (xa == INT64_MIN && xb == -1)
                break;
            return vint(op == OP_DIV ? xa / xb : xa % xb);
        }
    }
    double d;
    switch (op) {
    case OP_ADD: d = da + db; break;
    case OP_SUB: d = da - db; break;
    case OP_MUL: d = da * db; break;
    default:
        if (db == 0)
            return VNULL;
        d = op == OP_DIV ? da / db : fmod(da, db);
    }
    return vj(json_object_new_double(d));
}

static val binop(rs *r, int op, val a, val b)
{
    if (op == OP_EQ || op == OP_NE)
        return vbool(vequal(r, a, b, 0) == (op == OP_EQ));
    if (op >= OP_LT && op <= OP_GE) {
        bool ia, ib, t = false;
        int64_t xa = 0, xb = 0;
        double da, db;
        if (num_of(a, &ia, &xa, &da) && num_of(b, &ib, &xb, &db)) {
            int cmp = ia && ib ? (xa > xb) - (xa < xb) : (da > db) - (da < db);
            t = op == OP_LT ? cmp < 0 : op == OP_GT ? cmp > 0 : op == OP_LE ? cmp <= 0 : cmp >= 0;
            if (isnan(da) || isnan(db))
                t = false;
        }
        return vbool(t);
    }
    return arith(r, op, a, b);
}

/* A chain of one precedence level, folded left; && and || short-circuit. */
static val eval_bin(rs *r, const node *e)
{
    val acc = eval(r, e->a);
    for (const node *o = e->b; o && tick(r); o = o->next) {
        if (o->op == OP_OR || o->op == OP_AND) {
            bool t = truthy(acc);
            vput(acc);
            if (t != (o->op == OP_OR)) {
                val b = eval(r, o->a);
                t = truthy(b);
                vput(b);
            }
            acc = vbool(t);
            continue;
        }
        val b = eval(r, o->a);
        val res = r->failed ? VNULL : binop(r, o->op, acc, b);
        vput(acc);
        vput(b);
        acc = res;
    }
    if (r->failed) {
        vput(acc);
        return VNULL;
    }
    return acc;
}

static val eval_range(rs *r, const node *e)
{
    val a = eval(r, e->a), b = eval(r, e->b);
    int64_t x, y;
    val res = VNULL;
    if (!r->failed && int_of(a, &x) && int_of(b, &y)) {
        if ((x > y ? (uint64_t)x - (uint64_t)y : (uint64_t)y - (uint64_t)x) >= 100000) {
            rfail(r, -1, "Range [%lld..%lld] is too large", (long long)x, (long long)y);
        } else {
            json_object *arr = json_object_new_array();
            for (int64_t k = x;; k += x <= y ? 1 : -1) {
                json_object_array_add(arr, json_object_new_int64(k));
                if (k == y || !tick(r))
                    break;
            }
            res = vj(arr);
        }
    }
    vput(a);
    vput(b);
    return res;
}

static val eval_literal(rs *r, const node *e)
{
    json_object *c = e->kind == E_LIST ? json_object_new_array() : json_object_new_object();
    for (const node *it = e->a; it && !r->failed; it = it->next) {
        if (e->kind == E_LIST) {
            val v = eval(r, it);
            json_object_array_add(c, vstore(r, c, v));
            vput(v);
            continue;
        }
        val k = eval(r, it);
        it = it->next;
        val v = eval(r, it);
        nb_buf tk = {0};
        size_t kn;
        const char *ks = sv(r, k, &tk, &kn);
        char *key = nb_strndup(ks, kn);
        json_object *x = vstore(r, c, v);
        json_object_object_add(c, key, x);
        free(key);
        nb_buf_free(&tk);
        vput(k);
        vput(v);
    }
    if (r->failed) {
        json_object_put(c);
        return VNULL;
    }
    return vj(c);
}

static val eval(rs *r, const node *e)
{
    if (!tick(r))
        return VNULL;
    switch (e->kind) {
    case N_REF:
        return eval_chain(r, e, 0);
    case E_STR:
        return vstr(r, e->s, e->n);
    case E_ISTR: {
        nb_buf b = {0};
        render(r, e->a, &b);
        val v = r->failed ? VNULL : vstr(r, b.data, b.len);
        nb_buf_free(&b);
        return v;
    }
    case E_INT:
        return vint(e->i);
    case E_DBL:
        return vj(json_object_new_double(e->d));
    case E_BOOL:
        return vbool(e->i != 0);
    case E_LIST:
    case E_MAP:
        return eval_literal(r, e);
    case E_RANGE:
        return eval_range(r, e);
    case E_BIN:
        return eval_bin(r, e);
    case E_NOT: {
        val v = eval(r, e->a);
        bool t = truthy(v);
        vput(v);
        return r->failed ? VNULL : vbool(!t);
    }
    case E_NEG: {
        val v = eval(r, e->a), res = VNULL;
        bool isint;
        int64_t i;
        double d;
        if (num_of(v, &isint, &i, &d))
            res = isint && i != INT64_MIN ? vint(-i) : vj(json_object_new_double(-d));
        vput(v);
        return res;
    }
    }
    return VNULL;
}

/* ---- rendering ---------------------------------------------------------------- */

/* API Gateway's own variables render null members as empty text. */
static bool builtin_root(const node *ref)
{
    return strcmp(ref->s, "input") == 0 || strcmp(ref->s, "util") == 0 || strcmp(ref->s, "context") == 0 ||
           strcmp(ref->s, "stageVariables") == 0;
}

static void do_set(rs *r, const node *n)
{
    const node *lhs = n->a;
    val v = eval(r, n->b);
    if (r->failed || v.t == V_NULL) /* Velocity 1.7: a null value leaves the target unchanged */
        return;
    if (!lhs->a) {
        var_set(r, lhs->s, lhs->n, v);
        return;
    }
    const node *last = lhs->a;
    while (last->next)
        last = last->next;
    val t = eval_chain(r, lhs, 1), key = VNULL;
    if (last->kind == S_INDEX)
        key = eval(r, last->a);
    else if (!r->failed)
        key = vstr(r, last->s, last->n);
    int64_t i;
    if (r->failed) {
        /* nothing */
    } else if (vty(t) == json_type_object) {
        nb_buf tk = {0};
        size_t kn;
        const char *ks = sv(r, key, &tk, &kn);
        char *k = nb_strndup(ks, kn);
        json_object *x = vstore(r, t.j, v);
        if (r->failed)
            json_object_put(x);
        else
            json_object_object_add(t.j, k, x);
        free(k);
        nb_buf_free(&tk);
    } else if (vty(t) == json_type_array && int_of(key, &i)) {
        if (i < 0 || (uint64_t)i >= json_object_array_length(t.j)) {
            rfail(r, -1, "Index %lld out of bounds for length %zu", (long long)i, json_object_array_length(t.j));
        } else {
            json_object *x = vstore(r, t.j, v);
            if (r->failed)
                json_object_put(x);
            else
                json_object_array_put_idx(t.j, (size_t)i, x);
        }
    }
    vput(key);
    vput(t);
    vput(v);
}

#define LOOPVARS 4
static void do_foreach(rs *r, const node *n, nb_buf *out)
{
    val coll = eval(r, n->a);
    json_object *items = NULL;
    if (vty(coll) == json_type_array) {
        items = json_object_get(coll.j);
    } else if (vty(coll) == json_type_object) { /* a map iterates its values */
        items = json_object_new_array();
        json_object_object_foreach(coll.j, k, v) {
            (void)k;
            json_object_array_add(items, json_object_get(v));
        }
    }
    vput(coll);
    if (!items || r->failed) {
        json_object_put(items);
        return;
    }
    static const struct { const char *s; size_t n; } names[LOOPVARS - 1] = {
        {"foreach", 7}, {"velocityCount", 13}, {"velocityHasNext", 15}};
    bool had[LOOPVARS];
    val old[LOOPVARS];
    had[0] = var_take(r, n->s, n->n, &old[0]);
    for (int k = 1; k < LOOPVARS; k++)
        had[k] = var_take(r, names[k - 1].s, names[k - 1].n, &old[k]);
    for (size_t i = 0; i < VTL_MAX_LOOP && tick(r); i++) {
        size_t len = json_object_array_length(items);
        if (i >= len)
            break;
        bool next = i + 1 < len && i + 1 < VTL_MAX_LOOP;
        var_set(r, n->s, n->n, vj(json_object_get(json_object_array_get_idx(items, i))));
        json_object *fe = json_object_new_object();
        json_object_object_add(fe, "index", json_object_new_int64((int64_t)i));
        json_object_object_add(fe, "count", json_object_new_int64((int64_t)i + 1));
        json_object_object_add(fe, "hasNext", json_object_new_boolean(next));
        json_object_object_add(fe, "first", json_object_new_boolean(i == 0));
        json_object_object_add(fe, "last", json_object_new_boolean(!next));
        var_set(r, "foreach", 7, vj(fe));
        var_set(r, "velocityCount", 13, vint((int64_t)i + 1));
        var_set(r, "velocityHasNext", 15, vbool(next));
        render(r, n->b, out);
        if (r->brk) {
            r->brk = false;
            break;
        }
        if (r->stop || r->failed)
            break;
    }
    var_restore(r, n->s, n->n, had[0], old[0]);
    for (int k = 1; k < LOOPVARS; k++)
        var_restore(r, names[k - 1].s, names[k - 1].n, had[k], old[k]);
    json_object_put(items);
}

static void render(rs *r, const node *n, nb_buf *out)
{
    for (; n && !r->brk && !r->stop && tick(r); n = n->next) {
        switch (n->kind) {
        case N_TEXT:
            nb_buf_add(out, n->s, n->n);
            break;
        case N_REF: {
            val v = eval_chain(r, n, 0);
            if (r->failed)
                break;
            if (v.t != V_NULL)
                to_str(r, v, out, 0);
            else if (!n->quiet && !builtin_root(n))
                nb_buf_add(out, n->lit, n->litn);
            vput(v);
            break;
        }
        case N_ESCREF: { /* \$x: $x when defined, else \$x */
            val v = eval_chain(r, n, 0);
            if (v.t == V_NULL)
                nb_buf_addc(out, '\\');
            nb_buf_add(out, n->lit, n->litn);
            vput(v);
            break;
        }
        case N_SET:
            do_set(r, n);
            break;
        case N_IF:
            for (const node *c = n; c && !r->failed; c = c->c) {
                bool t = true;
                if (c->a) {
                    val v = eval(r, c->a);
                    t = truthy(v);
                    vput(v);
                }
                if (t && !r->failed) {
                    render(r, c->b, out);
                    break;
                }
            }
            break;
        case N_FOREACH:
            do_foreach(r, n, out);
            break;
        case N_BREAK:
            r->brk = true;
            break;
        case N_STOP:
            r->stop = true;
            break;
        }
        if (!size_ok(r, out->len))
            break;
    }
}

static json_object *ensure_obj(json_object *parent, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(parent, k, &v) || !json_object_is_type(v, json_type_object)) {
        v = json_object_new_object();
        json_object_object_add(parent, k, v);
    }
    return v;
}

static json_object *copy_obj(json_object *src)
{
    json_object *dst = NULL;
    if (!src || !json_object_is_type(src, json_type_object) || json_object_deep_copy(src, &dst, NULL) != 0) {
        json_object_put(dst);
        dst = json_object_new_object();
    }
    return dst;
}

/* What the template set under $context.responseOverride / requestOverride. */
static json_object *collect_overrides(json_object *ctx)
{
    static const char *const kinds[] = {"responseOverride", "requestOverride"};
    json_object *res = NULL;
    for (int k = 0; k < 2; k++) {
        json_object *o, *part = NULL;
        if (!json_object_object_get_ex(ctx, kinds[k], &o) || !json_object_is_type(o, json_type_object))
            continue;
        json_object_object_foreach(o, key, v) {
            if (!v || (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0))
                continue;
            if (!part)
                part = json_object_new_object();
            json_object *cp = NULL;
            json_object_deep_copy(v, &cp, NULL);
            json_object_object_add(part, key, cp);
        }
        if (part) {
            if (!res)
                res = json_object_new_object();
            json_object_object_add(res, kinds[k], part);
        }
    }
    return res;
}

int vtl_render_ex(const vtl_tpl *t, const vtl_input *in, nb_buf *out, json_object **overrides, char *err,
                  size_t errlen)
{
    if (errlen)
        err[0] = 0;
    if (overrides)
        *overrides = NULL;
    rs r = {.in = in, .err = err, .errlen = errlen};
    r.ctx = copy_obj(in ? in->context : NULL);
    json_object *ro = ensure_obj(r.ctx, "responseOverride"), *rq = ensure_obj(r.ctx, "requestOverride");
    ensure_obj(ro, "header");
    ensure_obj(rq, "header");
    ensure_obj(rq, "path");
    ensure_obj(rq, "querystring");
    r.params = copy_obj(in ? in->params : NULL);
    ensure_obj(r.params, "path");
    ensure_obj(r.params, "querystring");
    ensure_obj(r.params, "header");
    r.stage = copy_obj(in ? in->stage_vars : NULL);
    r.vars = json_object_new_object();
    r.input_mark = json_object_new_object();
    r.util_mark = json_object_new_object();
    var_set(&r, "input", 5, (val){V_INPUT, NULL});
    var_set(&r, "util", 4, (val){V_UTIL, NULL});
    var_set(&r, "context", 7, vj(json_object_get(r.ctx)));
    var_set(&r, "stageVariables", 14, vj(json_object_get(r.stage)));
    if (t)
        render(&r, t->root, out);
    if (overrides && !r.failed)
        *overrides = collect_overrides(r.ctx);
    json_object_put(r.vars);
    json_object_put(r.input_mark);
    json_object_put(r.util_mark);
    json_object_put(r.ctx);
    json_object_put(r.params);
    json_object_put(r.stage);
    json_object_put(r.body);
    json_object_put(r.body_str);
    return r.failed ? r.rc : 0;
}

int vtl_render(const vtl_tpl *t, const vtl_input *in, nb_buf *out, char *err, size_t errlen)
{
    return vtl_render_ex(t, in, out, NULL, err, errlen);
}
