/*
 * ddb_expr_parse.c — the request context, the lexer and a hand-written
 * recursive-descent parser for condition, key condition, update and
 * projection expressions.
 *
 * Errors come in two tiers, as DynamoDB reports them.  A syntax error stops
 * the parse at once: 'Syntax error; token: "<tok>", near: "<prev tok next>"'
 * (the text from the previous token to the next one, as written).  Semantic
 * errors (reserved words, undefined placeholders, misused functions, operand
 * types, overlapping paths, ...) do not stop it: the first message of each
 * class is kept, and when the whole expression parsed, the class that comes
 * first in the kind's priority order is reported.  The orders follow what
 * DynamoDB is observed to report when an expression has several faults.
 *
 * Grammar (keywords case-insensitive, function names case-sensitive):
 *   cond    := and (OR and)*            and := not (AND not)*
 *   not     := NOT not | '(' cond ')' | operand cmp operand
 *            | operand BETWEEN operand AND operand
 *            | operand IN '(' operand (',' operand)* ')' | function
 *   operand := :value | path | function | '(' operand ')'
 *   path    := elem ('.' elem | '[' digits ']')*   elem := name | #name
 *   update  := (SET set (',' set)* | REMOVE path (',' path)*
 *             | ADD path :value (',' ...)* | DELETE path :value (',' ...)*)+
 *   set     := path '=' operand (('+' | '-') operand)?
 *   proj    := path (',' path)*
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nimbus.h"
#include "services/dynamodb/ddb_expr_int.h"

int dx_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- nodes and paths ---------------------------------------------------- */

dx_node *dx_node_new(dx_kind k)
{
    dx_node *n = nb_calloc(1, sizeof *n);
    n->kind = k;
    return n;
}

void dx_node_add(dx_node *parent, dx_node *child)
{
    parent->a = nb_realloc(parent->a, (size_t)(parent->n + 1) * sizeof *parent->a);
    parent->a[parent->n++] = child;
}

void dx_node_free(dx_node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++)
        dx_node_free(n->a[i]);
    free(n->a);
    dx_path_free(&n->path);
    json_object_put(n->val);
    free(n);
}

dx_node *dx_value_node(json_object *av)
{
    dx_node *n = dx_node_new(DX_VALUE);
    n->val = json_object_get(av);
    return n;
}

static dx_elem *path_grow(dx_path *p)
{
    p->e = nb_realloc(p->e, (size_t)(p->n + 1) * sizeof *p->e);
    dx_elem *e = &p->e[p->n++];
    memset(e, 0, sizeof *e);
    return e;
}

void dx_path_push_name(dx_path *p, const char *s, size_t len)
{
    dx_elem *e = path_grow(p);
    e->name = nb_strndup(s, len);
    e->len = len;
}

void dx_path_push_index(dx_path *p, uint32_t ix)
{
    path_grow(p)->index = ix;
}

void dx_path_free(dx_path *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->e[i].name);
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

void dx_path_copy(dx_path *dst, const dx_path *src)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++) {
        if (src->e[i].name)
            dx_path_push_name(dst, src->e[i].name, src->e[i].len);
        else
            dx_path_push_index(dst, src->e[i].index);
    }
}

void dx_path_str(nb_buf *b, const dx_path *p)
{
    nb_buf_addc(b, '[');
    for (int i = 0; i < p->n; i++) {
        if (i)
            nb_buf_adds(b, ", ");
        if (p->e[i].name)
            nb_buf_add(b, p->e[i].name, p->e[i].len);
        else
            nb_buf_printf(b, "[%u]", p->e[i].index);
    }
    nb_buf_addc(b, ']');
}

const char **dx_names_add(const char **arr, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(arr[i], name) == 0)
            return arr;
    arr = nb_realloc(arr, (*n + 1) * sizeof *arr);
    arr[(*n)++] = name;
    return arr;
}

/* ---- the request context -------------------------------------------------- */

typedef struct dx_ph {
    const char *key;
    json_object *val;
    bool used;
} dx_ph;

struct ddb_ctx {
    json_object *names, *values;   /* references */
    dx_ph *n, *v;
    size_t nn, nv;
};

static bool ph_key_ok(const char *k, char lead)
{
    if (k[0] != lead || !k[1])
        return false;
    for (const char *p = k + 1; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

static int ph_load(json_object *obj, char lead, const char *what, dx_ph **out, size_t *count,
                   char *err, size_t cap)
{
    if (!obj)
        return 0;
    size_t total = (size_t)json_object_object_length(obj);
    if (total == 0)
        return dx_err(err, cap, "%s must not be empty", what);
    dx_ph *a = nb_calloc(total, sizeof *a);
    size_t i = 0;
    json_object_object_foreach(obj, key, val) {
        if (!ph_key_ok(key, lead)) {
            free(a);
            return dx_err(err, cap, "%s contains invalid key: Syntax error; key: \"%s\"", what, key);
        }
        a[i].key = key;
        a[i].val = val;
        i++;
    }
    *out = a;
    *count = i;
    return 0;
}

ddb_ctx *ddb_ctx_new(json_object *names, json_object *values, char *err, size_t cap)
{
    ddb_ctx *c = nb_calloc(1, sizeof *c);
    if (ph_load(names, '#', "ExpressionAttributeNames", &c->n, &c->nn, err, cap) ||
        ph_load(values, ':', "ExpressionAttributeValues", &c->v, &c->nv, err, cap)) {
        ddb_ctx_free(c);
        return NULL;
    }
    c->names = json_object_get(names);
    c->values = json_object_get(values);
    return c;
}

void ddb_ctx_free(ddb_ctx *c)
{
    if (!c)
        return;
    free(c->n);
    free(c->v);
    json_object_put(c->names);
    json_object_put(c->values);
    free(c);
}

static dx_ph *ph_find(dx_ph *a, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(a[i].key) == len && memcmp(a[i].key, s, len) == 0)
            return &a[i];
    return NULL;
}

static int unused(const dx_ph *a, size_t n, const char *what, char *err, size_t cap)
{
    nb_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (a[i].used)
            continue;
        nb_buf_adds(&b, b.len ? ", " : "");
        nb_buf_adds(&b, a[i].key);
    }
    if (!b.len)
        return 0;
    dx_err(err, cap, "Value provided in %s unused in expressions: keys: {%.*s}", what,
           (int)b.len, b.data);
    nb_buf_free(&b);
    return -1;
}

int ddb_ctx_check_unused(const ddb_ctx *c, char *err, size_t cap)
{
    if (unused(c->n, c->nn, "ExpressionAttributeNames", err, cap))
        return -1;
    return unused(c->v, c->nv, "ExpressionAttributeValues", err, cap);
}

/* ---- lexer ---------------------------------------------------------------- */

typedef enum {
    T_EOF, T_NAME, T_HASH, T_COLON, T_NUM, T_LP, T_RP, T_LB, T_RB, T_DOT, T_COMMA,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS, T_BAD,
} tkind;

typedef struct token {
    tkind k;
    size_t pos, len;
} token;

static bool idchar(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Bytes of the (possibly multi-byte UTF-8) character at s, so that a bad
 * character is quoted whole in the message. */
static size_t char_len(const char *s, size_t max)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return n > max ? max : n;
}

static size_t lex_punct(const char *s, size_t left, tkind *k)
{
    static const struct { const char *t; tkind k; } two[] = {
        {"<>", T_NE}, {"<=", T_LE}, {">=", T_GE},
    };
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        if (left >= 2 && s[0] == two[i].t[0] && s[1] == two[i].t[1]) {
            *k = two[i].k;
            return 2;
        }
    static const char one[] = "()[].,=<>+-";
    static const tkind onek[] = {T_LP, T_RP, T_LB, T_RB, T_DOT, T_COMMA, T_EQ, T_LT, T_GT, T_PLUS, T_MINUS};
    const char *p = memchr(one, s[0], sizeof one - 1);
    if (p && s[0]) {
        *k = onek[p - one];
        return 1;
    }
    *k = T_BAD;
    return char_len(s, left);
}

/* Splits s into tokens ending with T_EOF; *nt gets the count. */
static token *lex(const char *s, size_t len, int *nt)
{
    token *t = nb_calloc(len + 1, sizeof *t);
    int n = 0;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        size_t j = i + 1;
        tkind k;
        if (isalpha((unsigned char)c) || c == '_') {
            while (j < len && idchar(s[j]))
                j++;
            k = T_NAME;
        } else if (isdigit((unsigned char)c)) {
            while (j < len && isdigit((unsigned char)s[j]))
                j++;
            k = T_NUM;
        } else if ((c == '#' || c == ':') && j < len && idchar(s[j])) {
            while (j < len && idchar(s[j]))
                j++;
            k = c == '#' ? T_HASH : T_COLON;
        } else {
            j = i + lex_punct(s + i, len - i, &k);
        }
        t[n++] = (token){k, i, j - i};
        i = j;
    }
    t[n++] = (token){T_EOF, len, 0};
    *nt = n;
    return t;
}

/* ---- parser state and errors -------------------------------------------------- */

enum {
    E_PARENS, E_UNKNOWN_FN, E_MISUSED_FN, E_RESERVED, E_SECTION, E_NAME, E_VALUE,
    E_OVERLAP, E_CONFLICT, E_OPCOUNT, E_DISTINCT, E_OPERAND, E_FUNC, NCLS,
};

typedef enum { P_COND, P_UPDATE, P_PROJ } pkind;

static const int order_cond[] = {E_PARENS, E_UNKNOWN_FN, E_MISUSED_FN, E_RESERVED, E_NAME,
                                 E_VALUE, E_OPCOUNT, E_DISTINCT, E_FUNC, E_OPERAND, -1};
static const int order_update[] = {E_RESERVED, E_UNKNOWN_FN, E_SECTION, E_NAME, E_VALUE,
                                   E_OVERLAP, E_CONFLICT, E_OPERAND, E_OPCOUNT, E_FUNC,
                                   E_MISUSED_FN, E_PARENS, E_DISTINCT, -1};
static const int order_proj[] = {E_RESERVED, E_NAME, E_OVERLAP, E_CONFLICT, -1};

#define MAX_DEPTH 128   /* parentheses/NOT nesting; keeps the recursion shallow */

typedef struct parser {
    ddb_ctx *ctx;
    const char *s;
    size_t len;
    token *t;
    int nt, i;
    pkind kind;
    const char *label;      /* "ConditionExpression" ... */
    bool syntax;            /* a syntax error was written to err */
    char *err;
    size_t cap;
    char *sem[NCLS];
    int depth;
    dx_path **targets;      /* update/projection paths seen so far */
    int ntargets;
} parser;

static token *cur(parser *p)
{
    return &p->t[p->i];
}

static token *peek(parser *p, int ahead)
{
    int j = p->i + ahead;
    return &p->t[j < p->nt ? j : p->nt - 1];
}

static bool word_is(parser *p, const token *t, const char *w)
{
    return t->k == T_NAME && t->len == strlen(w) && strncasecmp(p->s + t->pos, w, t->len) == 0;
}

static bool is_keyword(parser *p, const token *t)
{
    static const char *const cond[] = {"AND", "OR", "NOT", "BETWEEN", "IN", NULL};
    static const char *const upd[] = {"SET", "REMOVE", "ADD", "DELETE", NULL};
    const char *const *w = p->kind == P_COND ? cond : p->kind == P_UPDATE ? upd : NULL;
    for (; w && *w; w++)
        if (word_is(p, t, *w))
            return true;
    return false;
}

/* Writes the syntax error for the current token; returns NULL for chaining. */
static void *syntax(parser *p)
{
    if (p->syntax)
        return NULL;
    p->syntax = true;
    token *t = cur(p);
    size_t from = p->i > 0 ? p->t[p->i - 1].pos : t->pos;
    size_t to = t->k == T_EOF ? p->len : t->pos + t->len;
    if (t->k != T_EOF && peek(p, 1)->k != T_EOF)
        to = peek(p, 1)->pos + peek(p, 1)->len;
    const char *tok = t->k == T_EOF ? "<EOF>" : p->s + t->pos;
    int toklen = t->k == T_EOF ? 5 : (int)t->len;
    dx_err(p->err, p->cap, "Invalid %s: Syntax error; token: \"%.*s\", near: \"%.*s\"", p->label,
           toklen, tok, (int)(to - from), p->s + from);
    return NULL;
}

static void note(parser *p, int cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(parser *p, int cls, const char *fmt, ...)
{
    if (p->sem[cls])
        return;
    char buf[DDB_ERRMAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    p->sem[cls] = nb_strdup(buf);
}

/* The reported semantic error, if any: 0 when there is none. */
static int semantic_result(parser *p)
{
    const int *order = p->kind == P_COND ? order_cond : p->kind == P_UPDATE ? order_update : order_proj;
    for (; *order >= 0; order++)
        if (p->sem[*order])
            return dx_err(p->err, p->cap, "Invalid %s: %s", p->label, p->sem[*order]);
    return 0;
}

static bool expect(parser *p, tkind k)
{
    if (cur(p)->k != k) {
        syntax(p);
        return false;
    }
    p->i++;
    return true;
}

/* ---- paths, values ---------------------------------------------------------- */

static bool path_elem(parser *p, dx_path *out)
{
    token *t = cur(p);
    const char *s = p->s + t->pos;
    if (t->k == T_NAME && !is_keyword(p, t)) {
        if (ddb_is_reserved(s, t->len))
            note(p, E_RESERVED, "Attribute name is a reserved keyword; reserved keyword: %.*s",
                 (int)t->len, s);
        dx_path_push_name(out, s, t->len);
    } else if (t->k == T_HASH) {
        dx_ph *ph = ph_find(p->ctx->n, p->ctx->nn, s, t->len);
        if (ph) {
            ph->used = true;
            const char *name = json_object_get_string(ph->val);
            dx_path_push_name(out, name ? name : "", name ? (size_t)json_object_get_string_len(ph->val) : 0);
        } else {
            note(p, E_NAME, "An expression attribute name used in the document path is not defined; "
                 "attribute name: %.*s", (int)t->len, s);
            dx_path_push_name(out, "", 0);
        }
    } else {
        syntax(p);
        return false;
    }
    p->i++;
    return true;
}

static bool path_index(parser *p, dx_path *out)
{
    p->i++; /* '[' */
    token *t = cur(p);
    if (t->k != T_NUM || t->len > 9) {   /* nine digits always fit */
        syntax(p);
        return false;
    }
    uint32_t ix = 0;
    for (size_t k = 0; k < t->len; k++)
        ix = ix * 10 + (uint32_t)(p->s[t->pos + k] - '0');
    p->i++;
    if (!expect(p, T_RB))
        return false;
    dx_path_push_index(out, ix);
    return true;
}

static bool parse_path(parser *p, dx_path *out)
{
    if (!path_elem(p, out))
        return false;
    for (;;) {
        tkind k = cur(p)->k;
        if (k == T_DOT) {
            p->i++;
            if (!path_elem(p, out))
                return false;
        } else if (k == T_LB) {
            if (!path_index(p, out))
                return false;
        } else {
            return true;
        }
    }
}

static dx_node *parse_value(parser *p)
{
    token *t = cur(p);
    if (t->k != T_COLON)
        return syntax(p);
    p->i++;
    dx_ph *ph = ph_find(p->ctx->v, p->ctx->nv, p->s + t->pos, t->len);
    if (ph) {
        ph->used = true;
        return dx_value_node(ph->val);
    }
    /* Conditions report undefined names and values as one class. */
    note(p, p->kind == P_UPDATE ? E_VALUE : E_NAME,
         "An expression attribute value used in expression is not defined; attribute value: %.*s",
         (int)t->len, p->s + t->pos);
    return dx_node_new(DX_VALUE);
}

/* ---- functions -------------------------------------------------------------- */

typedef struct fn_info {
    const char *name;
    dx_kind kind;
    int nargs;
    bool update;            /* an UpdateExpression function */
} fn_info;

static const fn_info fns[] = {
    {"attribute_exists", DX_EXISTS, 1, false},
    {"attribute_not_exists", DX_NOT_EXISTS, 1, false},
    {"attribute_type", DX_TYPE, 2, false},
    {"begins_with", DX_BEGINS, 2, false},
    {"contains", DX_CONTAINS, 2, false},
    {"size", DX_SIZE, 1, false},
    {"if_not_exists", DX_IF_NOT_EXISTS, 2, true},
    {"list_append", DX_LIST_APPEND, 2, true},
};
#define NFNS (sizeof fns / sizeof fns[0])

static const char *fn_name(dx_kind k)
{
    for (size_t i = 0; i < NFNS; i++)
        if (fns[i].kind == k)
            return fns[i].name;
    return NULL;
}

/* Functions that are conditions themselves (not values). */
static bool is_bool_fn(const dx_node *n)
{
    return n->kind == DX_EXISTS || n->kind == DX_NOT_EXISTS || n->kind == DX_TYPE ||
           n->kind == DX_BEGINS || n->kind == DX_CONTAINS;
}

/* The type of a literal operand, or NULL when only known at run time. */
static const char *immediate_type(const dx_node *n)
{
    return n->kind == DX_VALUE && n->val ? ddb_xav_type(n->val) : NULL;
}

static const char *static_type(const dx_node *n)
{
    switch (n->kind) {
    case DX_VALUE: return immediate_type(n);
    case DX_SIZE: case DX_PLUS: case DX_MINUS: return "N";
    case DX_LIST_APPEND: return "L";
    case DX_IF_NOT_EXISTS: return n->n == 2 ? static_type(n->a[1]) : NULL;
    default: return NULL;
    }
}

static void misused(parser *p, const dx_node *n)
{
    if (is_bool_fn(n))
        note(p, E_MISUSED_FN, "The function is not allowed to be used this way in an expression; "
             "function: %s", fn_name(n->kind));
}

static bool same_path(const dx_path *a, const dx_path *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++) {
        const dx_elem *x = &a->e[i], *y = &b->e[i];
        if (!x->name != !y->name)
            return false;
        if (x->name ? (x->len != y->len || memcmp(x->name, y->name, x->len)) : x->index != y->index)
            return false;
    }
    return true;
}

static void check_distinct(parser *p, const char *op, const dx_node *x, const dx_node *y)
{
    if (x->kind != DX_PATH || y->kind != DX_PATH || !same_path(&x->path, &y->path))
        return;
    nb_buf b = {0};
    dx_path_str(&b, &x->path);
    note(p, E_DISTINCT, "The first operand must be distinct from the remaining operands for this "
         "operator or function; operator: %s, first operand: %.*s", op, (int)b.len, b.data);
    nb_buf_free(&b);
}

static void bad_operand_type(parser *p, const char *fn, const char *type)
{
    note(p, E_FUNC, "Incorrect operand type for operator or function; operator or function: %s, "
         "operand type: %s", fn, type);
}

static void check_cond_fn(parser *p, const fn_info *f, dx_node *n)
{
    const char *t;
    switch (f->kind) {
    case DX_EXISTS:
    case DX_NOT_EXISTS:
        if (n->a[0]->kind != DX_PATH)
            note(p, E_FUNC, "Operator or function requires a document path; operator or function: %s",
                 f->name);
        break;
    case DX_BEGINS:
        for (int i = 0; i < 2; i++)
            if ((t = static_type(n->a[i])) && strcmp(t, "S") && strcmp(t, "B"))
                bad_operand_type(p, f->name, t);
        check_distinct(p, f->name, n->a[0], n->a[1]);
        break;
    case DX_CONTAINS:
        check_distinct(p, f->name, n->a[0], n->a[1]);
        break;
    case DX_TYPE: {
        t = static_type(n->a[1]);
        if (!t || strcmp(t, "S")) {
            bad_operand_type(p, f->name, t ? t : "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
            break;
        }
        const char *code = json_object_get_string(json_object_object_get(n->a[1]->val, "S"));
        static const char *const codes[] = {"S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"};
        bool ok = false;
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
            ok |= strcmp(code, codes[i]) == 0;
        if (!ok)
            note(p, E_FUNC, "Invalid attribute type name found; type: %s, valid types: "
                 "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}", code);
        break;
    }
    case DX_SIZE:
        if ((t = static_type(n->a[0])) && (!strcmp(t, "N") || !strcmp(t, "BOOL") || !strcmp(t, "NULL")))
            bad_operand_type(p, f->name, t);
        break;
    default:
        break;
    }
}

static void check_update_fn(parser *p, const fn_info *f, dx_node *n)
{
    if (f->kind == DX_IF_NOT_EXISTS) {
        if (n->a[0]->kind != DX_PATH)
            note(p, E_FUNC, "Operator or function requires a document path; operator or function: %s",
                 f->name);
        return;
    }
    for (int i = 0; i < 2; i++) {   /* list_append */
        const char *t = immediate_type(n->a[i]);
        if (t && strcmp(t, "L"))
            bad_operand_type(p, f->name, t);
    }
}

static dx_node *parse_operand(parser *p);

static bool parse_args(parser *p, dx_node *n)
{
    p->i++; /* '(' */
    for (;;) {
        dx_node *a = parse_operand(p);
        if (!a)
            return false;
        dx_node_add(n, a);
        if (cur(p)->k != T_COMMA)
            break;
        p->i++;
    }
    return expect(p, T_RP);
}

static const fn_info *fn_lookup(parser *p, const token *t)
{
    for (size_t i = 0; i < NFNS; i++)
        if (t->len == strlen(fns[i].name) && memcmp(p->s + t->pos, fns[i].name, t->len) == 0)
            return &fns[i];
    return NULL;
}

static void check_fn(parser *p, const fn_info *f, dx_node *n)
{
    if (f->update != (p->kind == P_UPDATE) || (p->kind == P_UPDATE && f->kind != DX_IF_NOT_EXISTS &&
                                               f->kind != DX_LIST_APPEND)) {
        note(p, E_MISUSED_FN, "The function is not allowed to be used this way in an expression; "
             "function: %s", f->name);
        return;
    }
    if (n->n != f->nargs) {
        note(p, E_OPCOUNT, "Incorrect number of operands for operator or function; operator or "
             "function: %s, number of operands: %d", f->name, n->n);
        return;
    }
    if (p->kind == P_UPDATE)
        check_update_fn(p, f, n);
    else
        check_cond_fn(p, f, n);
}

static dx_node *parse_function(parser *p)
{
    token *t = cur(p);
    const fn_info *f = fn_lookup(p, t);
    if (!f)
        note(p, E_UNKNOWN_FN, "Invalid function name; function: %.*s", (int)t->len, p->s + t->pos);
    p->i++;
    /* An unknown function parses like any other, as a placeholder node. */
    dx_node *n = dx_node_new(f ? f->kind : DX_VALUE);
    if (!parse_args(p, n)) {
        dx_node_free(n);
        return NULL;
    }
    if (p->kind == P_COND)
        for (int i = 0; i < n->n; i++)
            misused(p, n->a[i]);
    if (f)
        check_fn(p, f, n);
    return n;
}

static dx_node *parse_setval(parser *p);

static dx_node *parse_operand(parser *p)
{
    token *t = cur(p);
    if (++p->depth > MAX_DEPTH)
        return syntax(p);
    dx_node *n = NULL;
    if (t->k == T_COLON) {
        n = parse_value(p);
    } else if (t->k == T_NAME && !is_keyword(p, t) && peek(p, 1)->k == T_LP) {
        n = parse_function(p);
    } else if (t->k == T_NAME || t->k == T_HASH) {
        n = dx_node_new(DX_PATH);
        if (!parse_path(p, &n->path)) {
            dx_node_free(n);
            n = NULL;
        }
    } else if (t->k == T_LP) {
        p->i++;
        n = p->kind == P_UPDATE ? parse_setval(p) : parse_operand(p);
        if (n && !expect(p, T_RP)) {
            dx_node_free(n);
            n = NULL;
        } else if (n) {
            if (n->parens)
                note(p, E_PARENS, "The expression has redundant parentheses;");
            n->parens = true;
        }
    } else {
        syntax(p);
    }
    p->depth--;
    return n;
}

/* ---- conditions ----------------------------------------------------------------- */

static dx_node *binary(dx_kind k, dx_node *x, dx_node *y)
{
    dx_node *n = dx_node_new(k);
    dx_node_add(n, x);
    dx_node_add(n, y);
    return n;
}

static int comparator(const token *t, dx_kind *k)
{
    switch (t->k) {
    case T_EQ: *k = DX_EQ; return 1;
    case T_NE: *k = DX_NE; return 1;
    case T_LT: *k = DX_LT; return 1;
    case T_LE: *k = DX_LE; return 1;
    case T_GT: *k = DX_GT; return 1;
    case T_GE: *k = DX_GE; return 1;
    default: return 0;
    }
}

/* A '(' in condition position opens an operand when the token after its
 * matching ')' continues a comparison: "(a) = :v", "(a.b) BETWEEN ...". */
static bool paren_is_operand(parser *p)
{
    int depth = 0;
    for (int j = p->i; j < p->nt; j++) {
        tkind k = p->t[j].k;
        if (k == T_LP) {
            depth++;
        } else if (k == T_RP && --depth == 0) {
            token *after = &p->t[j + 1 < p->nt ? j + 1 : j];
            dx_kind ck;
            return comparator(after, &ck) || word_is(p, after, "BETWEEN") || word_is(p, after, "IN");
        }
    }
    return false;
}

static void check_between(parser *p, const dx_node *lo, const dx_node *hi)
{
    const char *t1 = immediate_type(lo), *t2 = immediate_type(hi);
    if (!t1 || !t2)
        return;
    int c;
    const char *what = NULL;
    if (strcmp(t1, t2))
        what = "requires same data type for lower and upper bounds";
    else if (dx_compare(lo->val, hi->val, &c) == 0 && c > 0)
        what = "requires upper bound to be greater than or equal to lower bound";
    if (!what)
        return;
    nb_buf a = {0}, b = {0};
    dx_av_short(&a, lo->val);
    dx_av_short(&b, hi->val);
    note(p, E_FUNC, "The BETWEEN operator %s; lower bound operand: AttributeValue: %.*s, upper bound "
         "operand: AttributeValue: %.*s", what, (int)a.len, a.data, (int)b.len, b.data);
    nb_buf_free(&a);
    nb_buf_free(&b);
}

#define MAX_IN 100   /* operands of IN, "Expression parameters" limits */

static dx_node *parse_in(parser *p, dx_node *x)
{
    dx_node *n = dx_node_new(DX_IN);
    dx_node_add(n, x);
    p->i++; /* IN */
    if (cur(p)->k != T_LP || !parse_args(p, n)) {
        syntax(p);
        dx_node_free(n);
        return NULL;
    }
    for (int i = 0; i < n->n; i++)
        misused(p, n->a[i]);
    if (n->n - 1 > MAX_IN)
        note(p, E_FUNC, "The IN operator is provided with too many operands; number of operands: %d",
             n->n - 1);
    return n;
}

static dx_node *parse_between(parser *p, dx_node *x)
{
    p->i++; /* BETWEEN */
    dx_node *n = dx_node_new(DX_BETWEEN);
    dx_node_add(n, x);
    dx_node *lo = parse_operand(p);
    if (lo)
        dx_node_add(n, lo);
    if (!lo || !word_is(p, cur(p), "AND")) {
        syntax(p);
        dx_node_free(n);
        return NULL;
    }
    p->i++;
    dx_node *hi = parse_operand(p);
    if (!hi) {
        dx_node_free(n);
        return NULL;
    }
    dx_node_add(n, hi);
    for (int i = 0; i < 3; i++)
        misused(p, n->a[i]);
    check_between(p, lo, hi);
    return n;
}

static const char *cmp_text(dx_kind k)
{
    static const char *const t[] = {"=", "<>", "<", "<=", ">", ">="};
    return t[k - DX_EQ];
}

static dx_node *parse_comparison(parser *p)
{
    dx_node *x = parse_operand(p);
    if (!x)
        return NULL;
    token *t = cur(p);
    dx_kind k;
    if (comparator(t, &k)) {
        p->i++;
        dx_node *y = parse_operand(p);
        if (!y) {
            dx_node_free(x);
            return NULL;
        }
        misused(p, x);
        misused(p, y);
        check_distinct(p, cmp_text(k), x, y);
        return binary(k, x, y);
    }
    if (word_is(p, t, "BETWEEN"))
        return parse_between(p, x);
    if (word_is(p, t, "IN"))
        return parse_in(p, x);
    /* An unknown function (a DX_VALUE placeholder with arguments, its
     * "Invalid function name" already noted) stands as a condition like any
     * function call does, so "nofunc(a)" reports the name, not a syntax
     * error. */
    bool unknown_fn = x->kind == DX_VALUE && x->n > 0;
    if (is_bool_fn(x) || unknown_fn || x->kind == DX_SIZE || x->kind == DX_IF_NOT_EXISTS ||
        x->kind == DX_LIST_APPEND) {
        if (x->kind == DX_SIZE)
            note(p, E_MISUSED_FN, "The function is not allowed to be used this way in an expression; "
                 "function: size");
        return x;
    }
    dx_node_free(x);
    return syntax(p);
}

static dx_node *parse_or(parser *p);

static dx_node *parse_not(parser *p)
{
    if (++p->depth > MAX_DEPTH)
        return syntax(p);
    dx_node *n;
    if (word_is(p, cur(p), "NOT")) {
        p->i++;
        dx_node *c = parse_not(p);
        n = c ? dx_node_new(DX_NOT) : NULL;
        if (n)
            dx_node_add(n, c);
    } else if (cur(p)->k == T_LP && !paren_is_operand(p)) {
        p->i++;
        n = parse_or(p);
        if (n && !expect(p, T_RP)) {
            dx_node_free(n);
            n = NULL;
        } else if (n) {
            if (n->parens)
                note(p, E_PARENS, "The expression has redundant parentheses;");
            n->parens = true;
        }
    } else {
        n = parse_comparison(p);
    }
    p->depth--;
    return n;
}

static dx_node *parse_chain(parser *p, const char *word, dx_kind k, dx_node *(*sub)(parser *))
{
    dx_node *x = sub(p);
    while (x && word_is(p, cur(p), word)) {
        p->i++;
        dx_node *y = sub(p);
        if (!y) {
            dx_node_free(x);
            return NULL;
        }
        x = binary(k, x, y);
    }
    return x;
}

static dx_node *parse_and(parser *p)
{
    return parse_chain(p, "AND", DX_AND, parse_not);
}

static dx_node *parse_or(parser *p)
{
    return parse_chain(p, "OR", DX_OR, parse_and);
}

/* ---- update and projection targets ------------------------------------------------ */

/* DynamoDB rejects two target paths where one is a prefix of the other
 * (overlap) or where they disagree on map key vs list index (conflict). */
static void check_target(parser *p, dx_path *np)
{
    for (int k = 0; k < p->ntargets; k++) {
        const dx_path *op = p->targets[k];
        int i, n = op->n < np->n ? op->n : np->n;
        int cls = E_OVERLAP;
        for (i = 0; i < n; i++) {
            const dx_elem *a = &op->e[i], *b = &np->e[i];
            if (!a->name != !b->name) {
                cls = E_CONFLICT;
                break;
            }
            if (a->name ? (a->len != b->len || memcmp(a->name, b->name, a->len)) : a->index != b->index)
                break;
        }
        if (i < n && cls != E_CONFLICT)
            continue;
        nb_buf x = {0}, y = {0};
        dx_path_str(&x, op);
        dx_path_str(&y, np);
        note(p, cls, "Two document paths %s with each other; must remove or rewrite one of these "
             "paths; path one: %.*s, path two: %.*s", cls == E_CONFLICT ? "conflict" : "overlap",
             (int)x.len, x.data, (int)y.len, y.data);
        nb_buf_free(&x);
        nb_buf_free(&y);
    }
    p->targets = nb_realloc(p->targets, (size_t)(p->ntargets + 1) * sizeof *p->targets);
    p->targets[p->ntargets++] = np;
}

static dx_node *parse_setval(parser *p)
{
    dx_node *x = parse_operand(p);
    tkind k = x ? cur(p)->k : T_EOF;
    if (!x || (k != T_PLUS && k != T_MINUS))
        return x;
    p->i++;
    dx_node *y = parse_operand(p);
    if (!y) {
        dx_node_free(x);
        return NULL;
    }
    const char *op = k == T_PLUS ? "+" : "-";
    for (int i = 0; i < 2; i++) {
        const char *t = immediate_type(i ? y : x);
        if (t && strcmp(t, "N"))
            bad_operand_type(p, op, t);
    }
    return binary(k == T_PLUS ? DX_PLUS : DX_MINUS, x, y);
}

static const char *long_type(const char *t)
{
    static const char *const map[][2] = {
        {"S", "STRING"}, {"N", "NUMBER"}, {"B", "BINARY"}, {"NULL", "NULL"},
        {"BOOL", "BOOLEAN"}, {"L", "LIST"}, {"M", "MAP"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(t, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static bool parse_action(parser *p, ddb_update *u, dx_action_kind kind)
{
    u->act = nb_realloc(u->act, (size_t)(u->n + 1) * sizeof *u->act);
    dx_action *a = &u->act[u->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    if (!parse_path(p, &a->path))
        return false;
    if (kind == DX_REMOVE)
        return true;
    if (kind == DX_SET) {
        if (!expect(p, T_EQ))
            return false;
        a->val = parse_setval(p);
        return a->val != NULL;
    }
    a->val = parse_value(p);
    const char *t = a->val ? immediate_type(a->val) : NULL;
    const char *lt = t ? long_type(t) : NULL;
    if (lt && !(kind == DX_ADD && strcmp(t, "N") == 0))
        /* DynamoDB names the allowed type set too ("..., operand type: STRING,
         * typeSet: ALLOWED_FOR_ADD_OPERAND"), as quoted from AWS in public
         * SDK test suites. */
        note(p, E_OPERAND, "Incorrect operand type for operator or function; operator: %s, "
             "operand type: %s, typeSet: ALLOWED_FOR_%s_OPERAND", kind == DX_ADD ? "ADD" : "DELETE",
             lt, kind == DX_ADD ? "ADD" : "DELETE");
    return a->val != NULL;
}

static bool parse_clauses(parser *p, ddb_update *u)
{
    static const char *const words[] = {"SET", "REMOVE", "ADD", "DELETE"};
    bool seen[4] = {false};
    while (cur(p)->k != T_EOF) {
        int k = 0;
        while (k < 4 && !word_is(p, cur(p), words[k]))
            k++;
        if (k == 4) {
            syntax(p);
            return false;
        }
        if (seen[k])
            note(p, E_SECTION, "The \"%s\" section can only be used once in an update expression;",
                 words[k]);
        seen[k] = true;
        p->i++;
        do {
            if (u->n && cur(p)->k == T_COMMA)
                p->i++;
            if (!parse_action(p, u, (dx_action_kind)k))
                return false;
        } while (cur(p)->k == T_COMMA);
    }
    return true;
}

/* ---- entry points ---------------------------------------------------------------- */

static bool parse_begin(parser *p, ddb_ctx *c, pkind kind, const char *label, const char *s,
                        size_t len, char *err, size_t cap)
{
    memset(p, 0, sizeof *p);
    p->ctx = c;
    p->kind = kind;
    p->label = label;
    p->s = s;
    p->len = len;
    p->err = err;
    p->cap = cap;
    if (len == 0) {
        dx_err(err, cap, "Invalid %s: The expression can not be empty;", label);
        return false;
    }
    if (len > DDB_EXPR_MAXLEN) {
        dx_err(err, cap, "Invalid %s: Expression size has exceeded the maximum allowed size; "
               "expression size: %zu", label, len);
        return false;
    }
    p->t = lex(s, len, &p->nt);
    return true;
}

/* Finishes a parse: the syntax error (already written), trailing tokens,
 * or the semantic error.  0 when the expression is good. */
static int parse_end(parser *p, bool ok)
{
    if (ok && cur(p)->k != T_EOF)
        syntax(p);
    int rc = p->syntax || !ok ? -1 : semantic_result(p);
    for (int i = 0; i < NCLS; i++)
        free(p->sem[i]);
    free(p->targets);
    free(p->t);
    return rc;
}

static const char *cond_label(ddb_cond_kind kind)
{
    return kind == DDB_FILTER ? "FilterExpression"
         : kind == DDB_KEY_CONDITION ? "KeyConditionExpression" : "ConditionExpression";
}

ddb_cond *ddb_parse_condition(ddb_ctx *c, ddb_cond_kind kind, const char *s, size_t len,
                              char *err, size_t cap)
{
    parser p;
    if (!parse_begin(&p, c, P_COND, cond_label(kind), s, len, err, cap))
        return NULL;
    dx_node *root = parse_or(&p);
    if (root && root->kind == DX_SIZE)
        note(&p, E_MISUSED_FN, "The function is not allowed to be used this way in an expression; "
             "function: size");
    if (parse_end(&p, root != NULL)) {
        dx_node_free(root);
        return NULL;
    }
    ddb_cond *x = nb_calloc(1, sizeof *x);
    x->root = root;
    return x;
}

static void update_names(ddb_update *u)
{
    for (int i = 0; i < u->n; i++)
        u->names = dx_names_add(u->names, &u->nnames, u->act[i].path.e[0].name);
}

ddb_update *ddb_parse_update(ddb_ctx *c, const char *s, size_t len, char *err, size_t cap)
{
    parser p;
    if (!parse_begin(&p, c, P_UPDATE, "UpdateExpression", s, len, err, cap))
        return NULL;
    ddb_update *u = nb_calloc(1, sizeof *u);
    bool ok = parse_clauses(&p, u);
    if (ok && u->n == 0)
        ok = syntax(&p) != NULL;   /* only blanks */
    for (int i = 0; ok && i < u->n; i++)
        check_target(&p, &u->act[i].path);
    if (parse_end(&p, ok)) {
        ddb_update_free(u);
        return NULL;
    }
    update_names(u);
    return u;
}

ddb_proj *ddb_parse_projection(ddb_ctx *c, const char *s, size_t len, char *err, size_t cap)
{
    parser p;
    if (!parse_begin(&p, c, P_PROJ, "ProjectionExpression", s, len, err, cap))
        return NULL;
    ddb_proj *x = nb_calloc(1, sizeof *x);
    bool ok = true;
    do {
        if (x->n)
            p.i++; /* ',' */
        x->paths = nb_realloc(x->paths, (size_t)(x->n + 1) * sizeof *x->paths);
        memset(&x->paths[x->n], 0, sizeof x->paths[0]);
        ok = parse_path(&p, &x->paths[x->n++]);
    } while (ok && cur(&p)->k == T_COMMA);
    for (int i = 0; ok && i < x->n; i++)
        check_target(&p, &x->paths[i]);
    if (parse_end(&p, ok)) {
        ddb_proj_free(x);
        return NULL;
    }
    for (int i = 0; i < x->n; i++)
        x->names = dx_names_add(x->names, &x->nnames, x->paths[i].e[0].name);
    return x;
}

/* ---- freeing and small accessors ---------------------------------------------------- */

void ddb_cond_free(ddb_cond *x)
{
    if (!x)
        return;
    dx_node_free(x->root);
    free(x);
}

void ddb_update_free(ddb_update *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->n; i++) {
        dx_path_free(&x->act[i].path);
        dx_node_free(x->act[i].val);
    }
    free(x->act);
    free(x->names);
    free(x);
}

void ddb_proj_free(ddb_proj *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->n; i++)
        dx_path_free(&x->paths[i]);
    free(x->paths);
    free(x->names);
    free(x);
}

ddb_cond *ddb_cond_and(ddb_cond *a, ddb_cond *b)
{
    if (!a || !b)
        return a ? a : b;
    a->root = binary(DX_AND, a->root, b->root);
    free(b);
    return a;
}

const char *const *ddb_update_names(const ddb_update *x, size_t *n)
{
    *n = x->nnames;
    return x->names;
}

const char *const *ddb_proj_names(const ddb_proj *x, size_t *n)
{
    *n = x->nnames;
    return x->names;
}

ddb_proj *ddb_update_projection(const ddb_update *x)
{
    ddb_proj *pr = nb_calloc(1, sizeof *pr);
    pr->paths = nb_calloc((size_t)x->n + 1, sizeof *pr->paths);
    for (int i = 0; i < x->n; i++)
        dx_path_copy(&pr->paths[pr->n++], &x->act[i].path);
    for (int i = 0; i < pr->n; i++)
        pr->names = dx_names_add(pr->names, &pr->nnames, pr->paths[i].e[0].name);
    return pr;
}
