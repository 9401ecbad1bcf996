/*
 * ddb_partiql_parse.c — the PartiQL lexer and recursive-descent parser
 * (grammar in ddb_partiql.h).
 *
 * The lexer produces one token at a time from the statement text; the
 * parser keeps one token of lookahead plus one saved position for the few
 * places that need two.  Literals and parameters become AttributeValues
 * as they are read, so the tree holds values, never text.  Every
 * recursion is bounded by PQ_MAX_DEPTH, so no input can exhaust the stack.
 * On error the first message wins and parsing unwinds.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/nimbus.h"
#include "ddb_item.h"
#include "ddb_num.h"
#include "ddb_partiql.h"

#define MALFORMED "Statement wasn't well formed, can't be processed: "
#define PARAM_MISMATCH "Number of parameters in request and statement don't match."

typedef enum {
    T_EOF, T_IDENT, T_QIDENT, T_STRING, T_NUMBER, T_PARAM,
    T_STAR, T_COMMA, T_DOT, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE,
    T_COLON, T_SEMI, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS, T_BAG_OPEN,
    T_BAG_CLOSE, T_BAD,
} tok_kind;

typedef struct {
    tok_kind kind;
    const char *p;      /* start in the source */
    size_t len;
    nb_buf text;        /* unescaped text of names and strings */
} token;

typedef struct {
    const char *s;
    size_t len, pos;
    token t;            /* the lookahead */
    json_object *params;
    int nparams, used;
    int depth;
    char *err;
    size_t cap;
    bool failed;
} parser;

/* ---- errors ------------------------------------------------------------------ */

static void fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->cap, fmt, ap);
    va_end(ap);
}

/* ---- lexer --------------------------------------------------------------------- */

static bool is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c == '$';
}

static bool is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == '$';
}

/* Skips spaces and comments; false on an unterminated block comment. */
static bool skip_space(parser *ps)
{
    while (ps->pos < ps->len) {
        char c = ps->s[ps->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            ps->pos++;
        } else if (c == '-' && ps->pos + 1 < ps->len && ps->s[ps->pos + 1] == '-') {
            while (ps->pos < ps->len && ps->s[ps->pos] != '\n')
                ps->pos++;
        } else if (c == '/' && ps->pos + 1 < ps->len && ps->s[ps->pos + 1] == '*') {
            ps->pos += 2;
            while (ps->pos + 1 < ps->len && !(ps->s[ps->pos] == '*' && ps->s[ps->pos + 1] == '/'))
                ps->pos++;
            if (ps->pos + 1 >= ps->len)
                return false;
            ps->pos += 2;
        } else {
            break;
        }
    }
    return true;
}

/* A quoted run ('...' or "..."), the quote doubled inside to escape it. */
static bool lex_quoted(parser *ps, char q)
{
    ps->pos++;
    while (ps->pos < ps->len) {
        char c = ps->s[ps->pos++];
        if (c == q) {
            if (ps->pos < ps->len && ps->s[ps->pos] == q) {
                nb_buf_addc(&ps->t.text, q);
                ps->pos++;
                continue;
            }
            return true;
        }
        nb_buf_addc(&ps->t.text, c);
    }
    return false;
}

static void lex_number(parser *ps)
{
    const char *s = ps->s;
    size_t i = ps->pos;
    while (i < ps->len && isdigit((unsigned char)s[i]))
        i++;
    if (i < ps->len && s[i] == '.') {
        i++;
        while (i < ps->len && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i < ps->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < ps->len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < ps->len && isdigit((unsigned char)s[j])) {
            while (j < ps->len && isdigit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    nb_buf_add(&ps->t.text, s + ps->pos, i - ps->pos);
    ps->pos = i;
}

static void next(parser *ps)
{
    token *t = &ps->t;
    t->text.len = 0;
    bool ok = skip_space(ps);
    t->p = ps->s + ps->pos;
    t->len = 0;
    if (!ok) {
        t->kind = T_BAD;
        t->len = ps->len - ps->pos;
        nb_buf_addc(&t->text, 0);
        t->text.len = 0;
        return;
    }
    if (ps->pos >= ps->len) {
        t->kind = T_EOF;
        nb_buf_addc(&t->text, 0);
        t->text.len = 0;
        return;
    }
    size_t start = ps->pos;
    unsigned char c = (unsigned char)ps->s[ps->pos];
    char c2 = ps->pos + 1 < ps->len ? ps->s[ps->pos + 1] : 0;
    if (is_ident_start(c)) {
        while (ps->pos < ps->len && is_ident_char((unsigned char)ps->s[ps->pos]))
            ps->pos++;
        nb_buf_add(&t->text, ps->s + start, ps->pos - start);
        t->kind = T_IDENT;
    } else if (c == '"' || c == '\'') {
        t->kind = lex_quoted(ps, (char)c) ? (c == '"' ? T_QIDENT : T_STRING) : T_BAD;
    } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)c2))) {
        lex_number(ps);
        t->kind = T_NUMBER;
    } else {
        ps->pos++;
        switch (c) {
        case '?': t->kind = T_PARAM; break;
        case '*': t->kind = T_STAR; break;
        case ',': t->kind = T_COMMA; break;
        case '.': t->kind = T_DOT; break;
        case '(': t->kind = T_LPAREN; break;
        case ')': t->kind = T_RPAREN; break;
        case '[': t->kind = T_LBRACK; break;
        case ']': t->kind = T_RBRACK; break;
        case '{': t->kind = T_LBRACE; break;
        case '}': t->kind = T_RBRACE; break;
        case ':': t->kind = T_COLON; break;
        case ';': t->kind = T_SEMI; break;
        case '=': t->kind = T_EQ; break;
        case '+': t->kind = T_PLUS; break;
        case '-': t->kind = T_MINUS; break;
        case '!':
            if (c2 == '=') {
                ps->pos++;
                t->kind = T_NE;
            } else {
                t->kind = T_BAD;
            }
            break;
        case '<':
            if (c2 == '=' || c2 == '>' || c2 == '<')
                ps->pos++;
            t->kind = c2 == '=' ? T_LE : c2 == '>' ? T_NE : c2 == '<' ? T_BAG_OPEN : T_LT;
            break;
        case '>':
            if (c2 == '=' || c2 == '>')
                ps->pos++;
            t->kind = c2 == '=' ? T_GE : c2 == '>' ? T_BAG_CLOSE : T_GT;
            break;
        default: t->kind = T_BAD; break;
        }
    }
    t->len = ps->pos - start;
    nb_buf_addc(&t->text, 0);
    t->text.len--;
}

/* ---- keywords -------------------------------------------------------------------- */

static bool is_kw(const parser *ps, const char *kw)
{
    return ps->t.kind == T_IDENT && strlen(kw) == ps->t.len && strncasecmp(ps->t.p, kw, ps->t.len) == 0;
}

static bool accept_kw(parser *ps, const char *kw)
{
    if (!is_kw(ps, kw))
        return false;
    next(ps);
    return true;
}

static bool accept_tok(parser *ps, tok_kind k)
{
    if (ps->t.kind != k)
        return false;
    next(ps);
    return true;
}

/* Words that an unquoted name may not be (PartiQL's keywords, which
 * DynamoDB reserves: `WHERE pad = 1` is a syntax error, "pad" is not). */
static const char *const RESERVED[] = {
    "ALL", "AND", "ANY", "AS", "ASC", "AT", "BETWEEN", "BY", "CASE", "CAST", "CREATE", "CROSS",
    "DELETE", "DESC", "DISTINCT", "DROP", "ELSE", "END", "EXISTS", "FALSE", "FROM", "FULL",
    "GROUP", "HAVING", "IN", "INNER", "INSERT", "INTO", "IS", "JOIN", "LEFT", "LIKE", "LIMIT",
    "MISSING", "NOT", "NULL", "OFFSET", "ON", "OR", "ORDER", "OUTER", "PAD", "PIVOT", "REMOVE",
    "RETURNING", "RIGHT", "SELECT", "SET", "TABLE", "THEN", "TRUE", "UNION", "UNPIVOT", "UPDATE",
    "USING", "VALUE", "VALUES", "WHEN", "WHERE", "WITH", NULL,
};

static bool reserved(const parser *ps)
{
    if (ps->t.kind != T_IDENT)
        return false;
    for (int i = 0; RESERVED[i]; i++)
        if (is_kw(ps, RESERVED[i]))
            return true;
    return false;
}

static void unexpected(parser *ps)
{
    if (ps->t.kind == T_EOF)
        fail(ps, MALFORMED "Unexpected end of statement");
    else if (reserved(ps))
        fail(ps, MALFORMED "Unexpected keyword: %.*s", (int)(ps->t.len > 64 ? 64 : ps->t.len), ps->t.p);
    else
        fail(ps, MALFORMED "Unexpected term: %.*s", (int)(ps->t.len > 64 ? 64 : ps->t.len), ps->t.p);
}

static bool expect(parser *ps, tok_kind k)
{
    if (accept_tok(ps, k))
        return true;
    unexpected(ps);
    return false;
}

static bool expect_kw(parser *ps, const char *kw)
{
    if (accept_kw(ps, kw))
        return true;
    unexpected(ps);
    return false;
}

/* A name: an unreserved identifier or a quoted one; a new string. */
static char *name(parser *ps)
{
    if ((ps->t.kind == T_IDENT && !reserved(ps)) || ps->t.kind == T_QIDENT) {
        char *s = nb_strdup(ps->t.text.data);
        next(ps);
        return s;
    }
    unexpected(ps);
    return NULL;
}

static bool enter(parser *ps)
{
    if (++ps->depth > PQ_MAX_DEPTH) {
        fail(ps, MALFORMED "Nesting is too deep");
        return false;
    }
    return true;
}

/* ---- trees --------------------------------------------------------------------- */

static pq_node *node(pq_kind k)
{
    pq_node *n = nb_calloc(1, sizeof *n);
    n->kind = k;
    return n;
}

static void add_child(pq_node *p, pq_node *c)
{
    p->a = nb_realloc(p->a, (size_t)(p->n + 1) * sizeof *p->a);
    p->a[p->n++] = c;
}

static void path_free(pq_path *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->e[i].name);
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

static void node_free(pq_node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++)
        node_free(n->a[i]);
    free(n->a);
    path_free(&n->path);
    json_object_put(n->val);
    free(n);
}

void pq_stmt_free(pq_stmt *st)
{
    if (!st)
        return;
    free(st->table);
    free(st->index);
    for (int i = 0; i < st->nproj; i++)
        path_free(&st->proj[i]);
    free(st->proj);
    node_free(st->where);
    json_object_put(st->item);
    for (int i = 0; i < st->nact; i++) {
        path_free(&st->act[i].path);
        node_free(st->act[i].val);
    }
    free(st->act);
    for (int i = 0; i < st->norder; i++)
        path_free(&st->order[i].path);
    free(st->order);
    free(st);
}

static void path_push(pq_path *p, const char *nm, uint32_t ix)
{
    p->e = nb_realloc(p->e, (size_t)(p->n + 1) * sizeof *p->e);
    p->e[p->n].name = nm ? nb_strdup(nm) : NULL;
    p->e[p->n].index = ix;
    p->n++;
}

/* ---- values -------------------------------------------------------------------- */

static json_object *av(const char *type, json_object *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, type, v);
    return o;
}

static json_object *number_av(parser *ps, bool neg, const char *text)
{
    char in[256], out[DDB_NUM_MAXTEXT];
    snprintf(in, sizeof in, "%s%s", neg ? "-" : "", text);
    size_t n = 0;
    ddb_num_err e = strlen(text) > 200 ? DDB_NUM_PRECISION : ddb_num_canon(in, strlen(in), out, &n);
    if (e != DDB_NUM_OK) {
        fail(ps, "%s", ddb_num_errmsg(e));
        return NULL;
    }
    return av("N", json_object_new_string_len(out, (int)n));
}

static json_object *param(parser *ps)
{
    if (ps->used >= ps->nparams) {
        fail(ps, PARAM_MISMATCH);
        return NULL;
    }
    json_object *v = json_object_array_get_idx(ps->params, (size_t)ps->used++);
    return json_object_get(v);
}

static json_object *constant(parser *ps);

/* <<v, ...>>: a string, number or binary set (binary only from parameters). */
static json_object *bag(parser *ps)
{
    json_object *elems = json_object_new_array();
    const char *type = NULL;
    bool ok = true;
    if (ps->t.kind != T_BAG_CLOSE) {
        do {
            if (ps->t.kind == T_PARAM) {
                fail(ps, "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags");
                ok = false;
                break;
            }
            json_object *v = constant(ps), *inner = NULL;
            if (!v) {
                ok = false;
                break;
            }
            ddb_type ty = ddb_av_type(v, &inner);
            const char *tn = ty == DDB_T_S ? "SS" : ty == DDB_T_N ? "NS" : NULL;
            if (!tn || (type && strcmp(type, tn) != 0)) {
                json_object_put(v);
                fail(ps, "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags");
                ok = false;
                break;
            }
            type = tn;
            json_object_array_add(elems, json_object_get(inner));
            json_object_put(v);
        } while (accept_tok(ps, T_COMMA));
    }
    if (ok && !expect(ps, T_BAG_CLOSE))
        ok = false;
    if (ok && !type) {
        fail(ps, "Empty bags are not supported");
        ok = false;
    }
    if (!ok) {
        json_object_put(elems);
        return NULL;
    }
    return av(type, elems);
}

/* {'k': v, ...} */
static json_object *map(parser *ps)
{
    json_object *m = json_object_new_object();
    if (ps->t.kind != T_RBRACE) {
        do {
            if (ps->t.kind != T_STRING) {
                unexpected(ps);
                break;
            }
            char *k = nb_strdup(ps->t.text.data);
            next(ps);
            if (!expect(ps, T_COLON)) {
                free(k);
                break;
            }
            json_object *v = constant(ps);
            if (!v) {
                free(k);
                break;
            }
            if (json_object_object_get_ex(m, k, NULL)) {
                fail(ps, "Duplicate keys in tuple. Key: %.64s", k);
                json_object_put(v);
                free(k);
                break;
            }
            json_object_object_add(m, k, v);
            free(k);
        } while (accept_tok(ps, T_COMMA));
    }
    if (ps->failed || !expect(ps, T_RBRACE)) {
        json_object_put(m);
        return NULL;
    }
    return av("M", m);
}

/* [v, ...] */
static json_object *list(parser *ps)
{
    json_object *l = json_object_new_array();
    if (ps->t.kind != T_RBRACK) {
        do {
            json_object *v = constant(ps);
            if (!v)
                break;
            json_object_array_add(l, v);
        } while (accept_tok(ps, T_COMMA));
    }
    if (ps->failed || !expect(ps, T_RBRACK)) {
        json_object_put(l);
        return NULL;
    }
    return av("L", l);
}

/* A literal or a parameter (new reference), or NULL after failing. */
static json_object *constant(parser *ps)
{
    if (!enter(ps))
        return NULL;
    json_object *v = NULL;
    bool neg = false;
    if (ps->t.kind == T_MINUS) {
        next(ps);
        neg = true;
        if (ps->t.kind != T_NUMBER) {
            unexpected(ps);
            ps->depth--;
            return NULL;
        }
    }
    switch (ps->t.kind) {
    case T_STRING:
        v = av("S", json_object_new_string_len(ps->t.text.data, (int)ps->t.text.len));
        next(ps);
        break;
    case T_NUMBER:
        v = number_av(ps, neg, ps->t.text.data);
        if (v)
            next(ps);
        break;
    case T_PARAM:
        v = param(ps);
        if (v)
            next(ps);
        break;
    case T_BAG_OPEN:
        next(ps);
        v = bag(ps);
        break;
    case T_LBRACE:
        next(ps);
        v = map(ps);
        break;
    case T_LBRACK:
        next(ps);
        v = list(ps);
        break;
    case T_IDENT:
        if (is_kw(ps, "TRUE") || is_kw(ps, "FALSE")) {
            v = av("BOOL", json_object_new_boolean(is_kw(ps, "TRUE")));
            next(ps);
            break;
        }
        if (is_kw(ps, "NULL")) {
            v = av("NULL", json_object_new_boolean(1));
            next(ps);
            break;
        }
        if (is_kw(ps, "MISSING")) {
            fail(ps, "MISSING must be compared using IS operator");
            break;
        }
        unexpected(ps);
        break;
    default:
        unexpected(ps);
        break;
    }
    ps->depth--;
    return v;
}

static bool starts_constant(const parser *ps)
{
    switch (ps->t.kind) {
    case T_STRING: case T_NUMBER: case T_PARAM: case T_BAG_OPEN: case T_LBRACE: case T_LBRACK:
    case T_MINUS:
        return true;
    case T_IDENT:
        return is_kw(ps, "TRUE") || is_kw(ps, "FALSE") || is_kw(ps, "NULL");
    default:
        return false;
    }
}

/* ---- expressions ------------------------------------------------------------------ */

static pq_node *cond(parser *ps);
static pq_node *add_expr(parser *ps);

/* name {. name | [ n ] | [ 'key' ]} */
static bool path(parser *ps, pq_path *p)
{
    char *first = name(ps);
    if (!first)
        return false;
    path_push(p, first, 0);
    free(first);
    for (;;) {
        if (accept_tok(ps, T_DOT)) {
            if (ps->t.kind == T_STAR) {
                fail(ps, "Unpivot path component like a.*.b are not supported");
                return false;
            }
            char *nm = name(ps);
            if (!nm)
                return false;
            path_push(p, nm, 0);
            free(nm);
        } else if (accept_tok(ps, T_LBRACK)) {
            if (ps->t.kind == T_NUMBER) {
                char *end = NULL;
                unsigned long long v = strtoull(ps->t.text.data, &end, 10);
                if (!end || *end || v > UINT32_MAX) {
                    fail(ps, "List index is not within the allowable range; index: [%.32s]", ps->t.text.data);
                    return false;
                }
                path_push(p, NULL, (uint32_t)v);
                next(ps);
            } else if (ps->t.kind == T_STRING) {
                path_push(p, ps->t.text.data, 0);
                next(ps);
            } else if (ps->t.kind == T_STAR) {
                fail(ps, "Wildcard path component like a[*].b are not supported");
                return false;
            } else {
                unexpected(ps);
                return false;
            }
            if (!expect(ps, T_RBRACK))
                return false;
        } else {
            return true;
        }
    }
}

static const struct {
    const char *name;
    pq_fn fn;
    int nargs;
} FUNCS[] = {
    {"begins_with", PQ_FN_BEGINS_WITH, 2}, {"contains", PQ_FN_CONTAINS, 2},
    {"size", PQ_FN_SIZE, 1}, {"attribute_type", PQ_FN_ATTRIBUTE_TYPE, 2},
    {"exists", PQ_FN_EXISTS, 1}, {"attribute_exists", PQ_FN_EXISTS, 1},
    {"attribute_not_exists", PQ_FN_NOT_EXISTS, 1}, {"list_append", PQ_FN_LIST_APPEND, 2},
    {"set_add", PQ_FN_SET_ADD, 2}, {"set_delete", PQ_FN_SET_DELETE, 2},
};

static pq_node *call(parser *ps)
{
    const char *fname = ps->t.text.data;
    int which = -1;
    for (size_t i = 0; i < sizeof FUNCS / sizeof FUNCS[0]; i++)
        if (strcasecmp(fname, FUNCS[i].name) == 0)
            which = (int)i;
    if (which < 0) {
        fail(ps, "Unrecognized function: %.64s", fname);
        return NULL;
    }
    next(ps);
    next(ps); /* ( */
    pq_node *n = node(PQ_CALL);
    n->op = (int)FUNCS[which].fn;
    if (ps->t.kind != T_RPAREN) {
        do {
            pq_node *a = add_expr(ps);
            if (!a)
                break;
            add_child(n, a);
        } while (accept_tok(ps, T_COMMA));
    }
    if (!ps->failed && expect(ps, T_RPAREN) && n->n != FUNCS[which].nargs)
        fail(ps, MALFORMED "Wrong number of arguments to function %s", FUNCS[which].name);
    if (!ps->failed && (n->op == PQ_FN_EXISTS || n->op == PQ_FN_NOT_EXISTS || n->op == PQ_FN_SIZE ||
                        n->op == PQ_FN_ATTRIBUTE_TYPE || n->op == PQ_FN_BEGINS_WITH ||
                        n->op == PQ_FN_CONTAINS) &&
        n->a[0]->kind != PQ_PATH)
        fail(ps, MALFORMED "The first argument to %s must be a path", FUNCS[which].name);
    if (ps->failed) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* Two tokens of lookahead: is the identifier here followed by '('? */
static bool ident_then_paren(parser *ps)
{
    if (ps->t.kind != T_IDENT)
        return false;
    size_t save = ps->pos;
    while (save < ps->len && (ps->s[save] == ' ' || ps->s[save] == '\t' || ps->s[save] == '\n' ||
                              ps->s[save] == '\r'))
        save++;
    return save < ps->len && ps->s[save] == '(';
}

static pq_node *primary(parser *ps)
{
    if (!enter(ps))
        return NULL;
    pq_node *n = NULL;
    if (accept_tok(ps, T_LPAREN)) {
        n = cond(ps);
        if (n && !expect(ps, T_RPAREN)) {
            node_free(n);
            n = NULL;
        }
    } else if (is_kw(ps, "MISSING")) {
        next(ps);
        n = node(PQ_MISSING);
    } else if (starts_constant(ps)) {
        json_object *v = constant(ps);
        if (v) {
            n = node(PQ_VALUE);
            n->val = v;
        }
    } else if (ident_then_paren(ps) && !is_kw(ps, "NOT")) {
        n = call(ps);
    } else if (ps->t.kind == T_IDENT || ps->t.kind == T_QIDENT) {
        n = node(PQ_PATH);
        if (!path(ps, &n->path)) {
            node_free(n);
            n = NULL;
        }
    } else {
        unexpected(ps);
    }
    ps->depth--;
    return n;
}

static pq_node *add_expr(parser *ps)
{
    pq_node *l = primary(ps);
    while (l && (ps->t.kind == T_PLUS || ps->t.kind == T_MINUS)) {
        pq_node *op = node(ps->t.kind == T_PLUS ? PQ_ADD : PQ_SUB);
        next(ps);
        add_child(op, l);
        l = op;
        pq_node *r = primary(ps);
        if (!r) {
            node_free(l);
            return NULL;
        }
        add_child(l, r);
    }
    return l;
}

static bool is_type(parser *ps, pq_is_type *out)
{
    static const struct {
        const char *w;
        pq_is_type t;
    } TYPES[] = {
        {"MISSING", PQ_IS_MISSING}, {"NULL", PQ_IS_NULL}, {"BOOLEAN", PQ_IS_BOOLEAN},
        {"BOOL", PQ_IS_BOOLEAN}, {"STRING", PQ_IS_STRING}, {"NUMBER", PQ_IS_NUMBER},
        {"NUMERIC", PQ_IS_NUMBER}, {"DECIMAL", PQ_IS_NUMBER}, {"INT", PQ_IS_NUMBER},
        {"INTEGER", PQ_IS_NUMBER}, {"FLOAT", PQ_IS_NUMBER}, {"DOUBLE", PQ_IS_NUMBER},
        {"BLOB", PQ_IS_BLOB}, {"STRUCT", PQ_IS_STRUCT}, {"TUPLE", PQ_IS_STRUCT},
        {"LIST", PQ_IS_LIST},
    };
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (accept_kw(ps, TYPES[i].w)) {
            *out = TYPES[i].t;
            return true;
        }
    if (ps->t.kind == T_IDENT)
        fail(ps, "Unsupported data type for IS operator: %.32s. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]",
             ps->t.text.data);
    else
        unexpected(ps);
    return false;
}

/* IN [v, ...] | IN (v, ...) | IN ? (a list parameter) */
static bool in_list(parser *ps, pq_node *n)
{
    tok_kind close;
    if (accept_tok(ps, T_LBRACK))
        close = T_RBRACK;
    else if (accept_tok(ps, T_LPAREN))
        close = T_RPAREN;
    else if (ps->t.kind == T_PARAM) {
        json_object *v = param(ps), *inner = NULL;
        if (!v)
            return false;
        next(ps);
        if (ddb_av_type(v, &inner) != DDB_T_L || json_object_array_length(inner) == 0) {
            json_object_put(v);
            fail(ps, "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member");
            return false;
        }
        for (size_t i = 0; i < json_object_array_length(inner); i++) {
            pq_node *c = node(PQ_VALUE);
            c->val = json_object_get(json_object_array_get_idx(inner, i));
            add_child(n, c);
        }
        json_object_put(v);
        return true;
    } else {
        unexpected(ps);
        return false;
    }
    if (ps->t.kind == close) {
        fail(ps, "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member");
        return false;
    }
    do {
        json_object *v = constant(ps);
        if (!v)
            return false;
        pq_node *c = node(PQ_VALUE);
        c->val = v;
        add_child(n, c);
    } while (accept_tok(ps, T_COMMA));
    return expect(ps, close);
}

static pq_node *predicate(parser *ps)
{
    pq_node *l = add_expr(ps);
    if (!l)
        return NULL;
    static const struct {
        tok_kind t;
        pq_kind k;
    } CMPS[] = {{T_EQ, PQ_EQ}, {T_NE, PQ_NE}, {T_LT, PQ_LT}, {T_LE, PQ_LE}, {T_GT, PQ_GT}, {T_GE, PQ_GE}};
    for (size_t i = 0; i < sizeof CMPS / sizeof CMPS[0]; i++)
        if (ps->t.kind == CMPS[i].t) {
            next(ps);
            pq_node *n = node(CMPS[i].k);
            add_child(n, l);
            pq_node *r = add_expr(ps);
            if (!r) {
                node_free(n);
                return NULL;
            }
            add_child(n, r);
            if (l->kind == PQ_MISSING || r->kind == PQ_MISSING) {
                fail(ps, "MISSING must be compared using IS operator");
                node_free(n);
                return NULL;
            }
            return n;
        }
    bool neg = false;
    if (is_kw(ps, "NOT")) {
        next(ps);
        neg = true;
        if (!is_kw(ps, "BETWEEN") && !is_kw(ps, "IN")) {
            unexpected(ps);
            node_free(l);
            return NULL;
        }
    }
    if (accept_kw(ps, "BETWEEN")) {
        pq_node *n = node(PQ_BETWEEN);
        n->neg = neg;
        add_child(n, l);
        pq_node *lo = add_expr(ps);
        if (lo)
            add_child(n, lo);
        if (!lo || !expect_kw(ps, "AND")) {
            node_free(n);
            return NULL;
        }
        pq_node *hi = add_expr(ps);
        if (!hi) {
            node_free(n);
            return NULL;
        }
        add_child(n, hi);
        return n;
    }
    if (accept_kw(ps, "IN")) {
        pq_node *n = node(PQ_IN);
        n->neg = neg;
        add_child(n, l);
        if (!in_list(ps, n)) {
            node_free(n);
            return NULL;
        }
        return n;
    }
    if (accept_kw(ps, "IS")) {
        pq_node *n = node(PQ_IS);
        n->neg = accept_kw(ps, "NOT");
        add_child(n, l);
        pq_is_type ty;
        if (!is_type(ps, &ty)) {
            node_free(n);
            return NULL;
        }
        n->op = (int)ty;
        return n;
    }
    if (l->kind == PQ_MISSING) {
        fail(ps, "MISSING must be compared using IS operator");
        node_free(l);
        return NULL;
    }
    return l;
}

static pq_node *not_expr(parser *ps)
{
    if (!enter(ps))
        return NULL;
    pq_node *n;
    if (accept_kw(ps, "NOT")) {
        pq_node *c = not_expr(ps);
        n = c ? node(PQ_NOT) : NULL;
        if (n)
            add_child(n, c);
    } else {
        n = predicate(ps);
    }
    ps->depth--;
    return n;
}

static pq_node *binary(parser *ps, const char *kw, pq_kind k, pq_node *(*sub)(parser *))
{
    pq_node *l = sub(ps);
    while (l && accept_kw(ps, kw)) {
        pq_node *r = sub(ps);
        if (!r) {
            node_free(l);
            return NULL;
        }
        if (l->kind != k) {
            pq_node *n = node(k);
            add_child(n, l);
            l = n;
        }
        add_child(l, r);
    }
    return l;
}

static pq_node *and_expr(parser *ps)
{
    return binary(ps, "AND", PQ_AND, not_expr);
}

static pq_node *cond(parser *ps)
{
    if (!enter(ps))
        return NULL;
    pq_node *n = binary(ps, "OR", PQ_OR, and_expr);
    ps->depth--;
    return n;
}

/* ---- statements ------------------------------------------------------------------- */

static bool table_ref(parser *ps, pq_stmt *st, bool allow_index)
{
    if (ps->t.kind == T_PARAM) {
        unexpected(ps);
        return false;
    }
    if (!(st->table = name(ps)))
        return false;
    if (accept_tok(ps, T_DOT)) {
        if (!(st->index = name(ps)))
            return false;
        if (ps->t.kind == T_DOT) {
            fail(ps, "A path may contain at most 2 components in the FROM clause");
            return false;
        }
    }
    if (!allow_index && st->index) {
        fail(ps, "This operation is not supported on an index");
        return false;
    }
    return true;
}

static bool where(parser *ps, pq_stmt *st)
{
    if (!accept_kw(ps, "WHERE"))
        return true;
    st->where = cond(ps);
    return st->where != NULL;
}

static bool select_body(parser *ps, pq_stmt *st)
{
    st->kind = PQ_SELECT;
    if (accept_tok(ps, T_STAR)) {
        st->star = true;
        if (ps->t.kind == T_COMMA) {
            fail(ps, "Other attributes should not be present in the projection when '*' is used.");
            return false;
        }
    } else {
        do {
            if (ident_then_paren(ps) || starts_constant(ps)) {
                unexpected(ps);
                return false;
            }
            st->proj = nb_realloc(st->proj, (size_t)(st->nproj + 1) * sizeof *st->proj);
            memset(&st->proj[st->nproj], 0, sizeof st->proj[0]);
            st->nproj++;
            if (!path(ps, &st->proj[st->nproj - 1]))
                return false;
            if (ps->t.kind == T_STAR) {
                fail(ps, "Other attributes should not be present in the projection when '*' is used.");
                return false;
            }
            if (is_kw(ps, "AS")) {
                fail(ps, "Aliasing is not supported");
                return false;
            }
        } while (accept_tok(ps, T_COMMA));
        for (int i = 0; i < st->nproj; i++)
            for (int j = 0; j < i; j++) {
                char a[300], b[300];
                pq_proj_name(&st->proj[i], a, sizeof a);
                pq_proj_name(&st->proj[j], b, sizeof b);
                if (strcmp(a, b) == 0) {
                    fail(ps, "Duplicate identifiers in select clause: %.255s", a);
                    return false;
                }
            }
    }
    if (!expect_kw(ps, "FROM") || !table_ref(ps, st, true) || !where(ps, st))
        return false;
    if (accept_kw(ps, "ORDER")) {
        if (!expect_kw(ps, "BY"))
            return false;
        do {
            st->order = nb_realloc(st->order, (size_t)(st->norder + 1) * sizeof *st->order);
            pq_order *o = &st->order[st->norder++];
            memset(o, 0, sizeof *o);
            if (!path(ps, &o->path))
                return false;
            if (accept_kw(ps, "DESC"))
                o->desc = true;
            else
                accept_kw(ps, "ASC");
        } while (accept_tok(ps, T_COMMA));
    }
    return true;
}

static bool returning(parser *ps, pq_stmt *st)
{
    if (!accept_kw(ps, "RETURNING"))
        return true;
    bool all = false;
    if (accept_kw(ps, "ALL"))
        all = true;
    else if (!expect_kw(ps, "MODIFIED"))
        return false;
    bool old = false;
    if (accept_kw(ps, "OLD"))
        old = true;
    else if (!expect_kw(ps, "NEW"))
        return false;
    if (!accept_tok(ps, T_STAR)) {
        fail(ps, "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause");
        return false;
    }
    if (ps->t.kind == T_COMMA) {
        fail(ps, "Invalid syntax with multiple returning elements in RETURNING clause");
        return false;
    }
    st->ret = all ? (old ? PQ_RET_ALL_OLD : PQ_RET_ALL_NEW) : (old ? PQ_RET_MODIFIED_OLD : PQ_RET_MODIFIED_NEW);
    return true;
}

static bool update_body(parser *ps, pq_stmt *st)
{
    st->kind = PQ_UPDATE;
    if (!table_ref(ps, st, false))
        return false;
    bool any = false;
    for (;;) {
        bool remove;
        if (accept_kw(ps, "SET"))
            remove = false;
        else if (accept_kw(ps, "REMOVE"))
            remove = true;
        else
            break;
        any = true;
        do {
            st->act = nb_realloc(st->act, (size_t)(st->nact + 1) * sizeof *st->act);
            pq_action *a = &st->act[st->nact++];
            memset(a, 0, sizeof *a);
            a->remove = remove;
            if (!path(ps, &a->path))
                return false;
            if (!remove) {
                if (!expect(ps, T_EQ) || !(a->val = add_expr(ps)))
                    return false;
                if (a->val->kind == PQ_MISSING) {
                    fail(ps, "MISSING must be compared using IS operator");
                    return false;
                }
            }
        } while (accept_tok(ps, T_COMMA));
    }
    if (!any) {
        unexpected(ps);
        return false;
    }
    return where(ps, st) && returning(ps, st);
}

static bool delete_body(parser *ps, pq_stmt *st)
{
    st->kind = PQ_DELETE;
    if (!expect_kw(ps, "FROM") || !table_ref(ps, st, false) || !where(ps, st))
        return false;
    const char *at = ps->t.p;
    if (!returning(ps, st))
        return false;
    if (st->ret != PQ_RET_NONE && st->ret != PQ_RET_ALL_OLD) {
        int n = (int)(ps->t.p - at);
        fail(ps, "Invalid returning clause: %.*s. Only RETURNING ALL OLD * is allowed in DELETE statements.",
             n > 64 ? 64 : n, at);
        return false;
    }
    return true;
}

static bool insert_body(parser *ps, pq_stmt *st)
{
    st->kind = PQ_INSERT;
    if (!expect_kw(ps, "INTO") || !table_ref(ps, st, false))
        return false;
    if (is_kw(ps, "VALUES")) {
        fail(ps, "Unsupported operation: Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead");
        return false;
    }
    if (!expect_kw(ps, "VALUE"))
        return false;
    if (ps->t.kind != T_LBRACE) {
        if (ps->t.kind == T_EOF)
            unexpected(ps);
        else
            fail(ps, "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.");
        return false;
    }
    json_object *v = constant(ps);
    if (!v)
        return false;
    st->item = json_object_get(json_object_object_get(v, "M"));
    json_object_put(v);
    if (is_kw(ps, "RETURNING")) {
        fail(ps, "RETURNING is not supported in INSERT");
        return false;
    }
    return true;
}

static bool statement(parser *ps, pq_stmt *st)
{
    if (accept_kw(ps, "SELECT"))
        return select_body(ps, st);
    if (accept_kw(ps, "INSERT"))
        return insert_body(ps, st);
    if (accept_kw(ps, "UPDATE"))
        return update_body(ps, st);
    if (accept_kw(ps, "DELETE"))
        return delete_body(ps, st);
    if (is_kw(ps, "EXISTS")) {
        next(ps);
        if (!expect(ps, T_LPAREN) || !expect_kw(ps, "SELECT") || !select_body(ps, st) ||
            !expect(ps, T_RPAREN))
            return false;
        st->kind = PQ_EXISTS_STMT;
        return true;
    }
    unexpected(ps);
    return false;
}

pq_stmt *pq_parse(const char *s, size_t len, json_object *params, char *err, size_t cap)
{
    parser ps = {.s = s, .len = len, .params = params, .err = err, .cap = cap};
    ps.nparams = params && json_object_is_type(params, json_type_array) ? (int)json_object_array_length(params) : 0;
    if (cap)
        err[0] = 0;
    pq_stmt *st = nb_calloc(1, sizeof *st);
    next(&ps);
    if (statement(&ps, st)) {
        accept_tok(&ps, T_SEMI);
        if (is_kw(&ps, "LIMIT") || is_kw(&ps, "OFFSET") || is_kw(&ps, "GROUP") || is_kw(&ps, "HAVING"))
            fail(&ps, "Unsupported clause: %.*s", (int)ps.t.len, ps.t.p);
        else if (ps.t.kind != T_EOF)
            unexpected(&ps);
    } else if (!ps.failed) {
        unexpected(&ps);
    }
    nb_buf_free(&ps.t.text);
    st->nparams = ps.used;
    if (ps.failed) {
        pq_stmt_free(st);
        return NULL;
    }
    return st;
}
