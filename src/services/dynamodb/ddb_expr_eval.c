/*
 * ddb_expr_eval.c — evaluating conditions on an item, projections, and
 * splitting key conditions for Query.
 *
 * DynamoDB's condition semantics: an operand whose path is missing from the
 * item, or comparisons between different types, make the comparison false
 * (and "<>" true); size() of a number, boolean or null is "no value", so
 * its comparison is false too.  Strings and binaries order by unsigned
 * bytes, numbers exactly (ddb_num), sets compare as sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nimbus.h"
#include "services/dynamodb/ddb_expr_int.h"
#include "services/dynamodb/ddb_num.h"

/* ---- AttributeValues ------------------------------------------------------ */

static const char *const av_types[] = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};

const char *ddb_xav_type(json_object *av)
{
    if (!av || !json_object_is_type(av, json_type_object))
        return NULL;
    json_object_object_foreach(av, key, val) {
        (void)val;
        for (size_t i = 0; i < sizeof av_types / sizeof av_types[0]; i++)
            if (strcmp(key, av_types[i]) == 0)
                return av_types[i];
    }
    return NULL;
}

bool dx_is_set_type(const char *t)
{
    return t && (!strcmp(t, "SS") || !strcmp(t, "NS") || !strcmp(t, "BS"));
}

static json_object *av_member(json_object *av, const char *type)
{
    json_object *v = NULL;
    json_object_object_get_ex(av, type, &v);
    return v;
}

static bool num_of(json_object *s, ddb_num *out)
{
    const char *t = json_object_get_string(s);
    return t && ddb_num_parse(t, (size_t)json_object_get_string_len(s), out) == DDB_NUM_OK;
}

static int bytes_cmp(json_object *a, json_object *b)
{
    size_t la = (size_t)json_object_get_string_len(a), lb = (size_t)json_object_get_string_len(b);
    int c = memcmp(json_object_get_string(a), json_object_get_string(b), la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

/* Scalar compare of two json strings holding type t ("S", "N", "B"). */
static int scalar_cmp(const char *t, json_object *a, json_object *b, bool *ok)
{
    *ok = true;
    if (t[0] != 'N')
        return bytes_cmp(a, b);
    ddb_num x, y;
    if (!num_of(a, &x) || !num_of(b, &y)) {
        *ok = false;
        return 0;
    }
    return ddb_num_cmp(&x, &y);
}

int dx_compare(json_object *a, json_object *b, int *out)
{
    const char *ta = ddb_xav_type(a), *tb = ddb_xav_type(b);
    if (!ta || !tb || strcmp(ta, tb) || (strcmp(ta, "S") && strcmp(ta, "N") && strcmp(ta, "B")))
        return -1;
    bool ok;
    *out = scalar_cmp(ta, av_member(a, ta), av_member(b, tb), &ok);
    return ok ? 0 : -1;
}

bool dx_set_has(const char *t, json_object *arr, json_object *elem)
{
    size_t n = json_object_array_length(arr);
    const char *scalar = t[0] == 'N' ? "N" : t[0] == 'B' ? "B" : "S";
    for (size_t i = 0; i < n; i++) {
        bool ok;
        if (scalar_cmp(scalar, json_object_array_get_idx(arr, i), elem, &ok) == 0 && ok)
            return true;
    }
    return false;
}

static bool sets_equal(const char *t, json_object *a, json_object *b)
{
    size_t n = json_object_array_length(a);
    if (n != json_object_array_length(b))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!dx_set_has(t, b, json_object_array_get_idx(a, i)))
            return false;
    return true;
}

static bool maps_equal(json_object *a, json_object *b)
{
    if (json_object_object_length(a) != json_object_object_length(b))
        return false;
    json_object_object_foreach(a, key, va) {
        json_object *vb = NULL;
        if (!json_object_object_get_ex(b, key, &vb) || !ddb_xav_equal(va, vb))
            return false;
    }
    return true;
}

bool ddb_xav_equal(json_object *a, json_object *b)
{
    const char *ta = ddb_xav_type(a), *tb = ddb_xav_type(b);
    if (!ta || !tb || strcmp(ta, tb))
        return false;
    json_object *x = av_member(a, ta), *y = av_member(b, tb);
    if (!strcmp(ta, "S") || !strcmp(ta, "B") || !strcmp(ta, "N")) {
        bool ok;
        return scalar_cmp(ta, x, y, &ok) == 0 && ok;
    }
    if (dx_is_set_type(ta))
        return sets_equal(ta, x, y);
    if (!strcmp(ta, "M"))
        return maps_equal(x, y);
    if (!strcmp(ta, "L")) {
        size_t n = json_object_array_length(x);
        if (n != json_object_array_length(y))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!ddb_xav_equal(json_object_array_get_idx(x, i), json_object_array_get_idx(y, i)))
                return false;
        return true;
    }
    return json_object_get_boolean(x) == json_object_get_boolean(y);  /* NULL, BOOL */
}

static bool bytes_contain(json_object *hay, json_object *needle)
{
    size_t hl = (size_t)json_object_get_string_len(hay), nl = (size_t)json_object_get_string_len(needle);
    if (nl == 0)
        return true;
    return nl <= hl && memmem(json_object_get_string(hay), hl, json_object_get_string(needle), nl);
}

bool dx_contains(json_object *hay, json_object *needle)
{
    const char *th = ddb_xav_type(hay), *tn = ddb_xav_type(needle);
    if (!th || !tn)
        return false;
    json_object *h = av_member(hay, th), *n = av_member(needle, tn);
    if ((!strcmp(th, "S") && !strcmp(tn, "S")) || (!strcmp(th, "B") && !strcmp(tn, "B")))
        return bytes_contain(h, n);
    if (dx_is_set_type(th) && strlen(tn) == 1 && th[0] == tn[0])
        return dx_set_has(th, h, n);
    if (!strcmp(th, "L")) {
        size_t len = json_object_array_length(h);
        for (size_t i = 0; i < len; i++)
            if (ddb_xav_equal(json_object_array_get_idx(h, i), needle))
                return true;
    }
    return false;
}

bool dx_begins_with(json_object *a, json_object *prefix)
{
    const char *ta = ddb_xav_type(a), *tp = ddb_xav_type(prefix);
    if (!ta || !tp || strcmp(ta, tp) || (strcmp(ta, "S") && strcmp(ta, "B")))
        return false;
    json_object *x = av_member(a, ta), *y = av_member(prefix, tp);
    size_t lx = (size_t)json_object_get_string_len(x), ly = (size_t)json_object_get_string_len(y);
    return ly <= lx && memcmp(json_object_get_string(x), json_object_get_string(y), ly) == 0;
}

void dx_av_short(nb_buf *b, json_object *av)
{
    const char *t = ddb_xav_type(av);
    json_object *v = t ? av_member(av, t) : NULL;
    if (t && (!strcmp(t, "S") || !strcmp(t, "N"))) {
        nb_buf_printf(b, "{%s:%s}", t, json_object_get_string(v));
    } else if (t && !strcmp(t, "B")) {
        size_t n;
        char *s = nb_base64_encode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &n);
        nb_buf_printf(b, "{B:%.*s}", (int)n, s);
        free(s);
    } else {
        nb_buf_printf(b, "{%s}", t ? t : "");
    }
}

/* ---- paths ------------------------------------------------------------------- */

json_object *dx_path_get(json_object *item, const dx_path *p)
{
    if (!item || p->n == 0 || !p->e[0].name)
        return NULL;
    json_object *v = NULL;
    if (!json_object_object_get_ex(item, p->e[0].name, &v))
        return NULL;
    for (int i = 1; v && i < p->n; i++) {
        const dx_elem *e = &p->e[i];
        json_object *c = av_member(v, e->name ? "M" : "L");
        if (!c)
            return NULL;
        if (e->name) {
            v = NULL;
            json_object_object_get_ex(c, e->name, &v);
        } else {
            v = e->index < json_object_array_length(c) ? json_object_array_get_idx(c, e->index) : NULL;
        }
    }
    return v;
}

/* ---- conditions ----------------------------------------------------------------- */

static json_object *new_number(size_t n)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", n);
    json_object *av = json_object_new_object();
    json_object_object_add(av, "N", json_object_new_string(buf));
    return av;
}

/* size(): characters are counted as UTF-8 bytes. */
static json_object *size_of(json_object *av)
{
    const char *t = ddb_xav_type(av);
    if (!t)
        return NULL;
    json_object *v = av_member(av, t);
    if (!strcmp(t, "S") || !strcmp(t, "B"))
        return new_number((size_t)json_object_get_string_len(v));
    if (dx_is_set_type(t) || !strcmp(t, "L"))
        return new_number(json_object_array_length(v));
    if (!strcmp(t, "M"))
        return new_number((size_t)json_object_object_length(v));
    return NULL;   /* N, BOOL, NULL: no size */
}

/* An operand's value: a new reference, or NULL when it has none. */
static json_object *operand(const dx_node *n, json_object *item)
{
    switch (n->kind) {
    case DX_VALUE:
        return json_object_get(n->val);
    case DX_PATH:
        return json_object_get(dx_path_get(item, &n->path));
    case DX_SIZE: {
        json_object *v = operand(n->a[0], item);
        json_object *s = v ? size_of(v) : NULL;
        json_object_put(v);
        return s;
    }
    default:
        return NULL;
    }
}

static bool eval(const dx_node *n, json_object *item);

static bool eval_compare(const dx_node *n, json_object *item)
{
    json_object *x = operand(n->a[0], item), *y = operand(n->a[1], item);
    bool r;
    int c = 0;
    if (n->kind == DX_EQ || n->kind == DX_NE) {
        bool eq = x && y && ddb_xav_equal(x, y);
        r = n->kind == DX_EQ ? eq : !eq;
    } else if (!x || !y || dx_compare(x, y, &c)) {
        r = false;
    } else {
        r = n->kind == DX_LT ? c < 0 : n->kind == DX_LE ? c <= 0 : n->kind == DX_GT ? c > 0 : c >= 0;
    }
    json_object_put(x);
    json_object_put(y);
    return r;
}

static bool eval_between(const dx_node *n, json_object *item)
{
    json_object *x = operand(n->a[0], item), *lo = operand(n->a[1], item), *hi = operand(n->a[2], item);
    int c1, c2;
    bool r = x && lo && hi && dx_compare(x, lo, &c1) == 0 && dx_compare(x, hi, &c2) == 0 &&
             c1 >= 0 && c2 <= 0;
    json_object_put(x);
    json_object_put(lo);
    json_object_put(hi);
    return r;
}

static bool eval_in(const dx_node *n, json_object *item)
{
    json_object *x = operand(n->a[0], item);
    bool r = false;
    for (int i = 1; x && !r && i < n->n; i++) {
        json_object *y = operand(n->a[i], item);
        r = y && ddb_xav_equal(x, y);
        json_object_put(y);
    }
    json_object_put(x);
    return r;
}

static bool eval_function(const dx_node *n, json_object *item)
{
    if (n->kind == DX_EXISTS || n->kind == DX_NOT_EXISTS)
        return (dx_path_get(item, &n->a[0]->path) != NULL) == (n->kind == DX_EXISTS);
    json_object *x = operand(n->a[0], item), *y = operand(n->a[1], item);
    bool r = false;
    if (x && y) {
        if (n->kind == DX_TYPE) {
            const char *t = ddb_xav_type(x);
            const char *want = json_object_get_string(av_member(y, "S"));
            r = t && want && strcmp(t, want) == 0;
        } else if (n->kind == DX_BEGINS) {
            r = dx_begins_with(x, y);
        } else {
            r = dx_contains(x, y);
        }
    }
    json_object_put(x);
    json_object_put(y);
    return r;
}

static bool eval(const dx_node *n, json_object *item)
{
    switch (n->kind) {
    case DX_AND: return eval(n->a[0], item) && eval(n->a[1], item);
    case DX_OR: return eval(n->a[0], item) || eval(n->a[1], item);
    case DX_NOT: return !eval(n->a[0], item);
    case DX_EQ: case DX_NE: case DX_LT: case DX_LE: case DX_GT: case DX_GE:
        return eval_compare(n, item);
    case DX_BETWEEN: return eval_between(n, item);
    case DX_IN: return eval_in(n, item);
    case DX_EXISTS: case DX_NOT_EXISTS: case DX_TYPE: case DX_BEGINS: case DX_CONTAINS:
        return eval_function(n, item);
    default: return false;
    }
}

static bool node_uses(const dx_node *n, const char *name)
{
    if (n->kind == DX_PATH && n->path.n > 0 && n->path.e[0].name && strcmp(n->path.e[0].name, name) == 0)
        return true;
    for (int i = 0; i < n->n; i++)
        if (node_uses(n->a[i], name))
            return true;
    return false;
}

bool ddb_cond_uses(const ddb_cond *x, const char *name)
{
    return x && x->root && node_uses(x->root, name);
}

int ddb_cond_eval(const ddb_cond *x, json_object *item, char *err, size_t cap)
{
    (void)err;
    (void)cap;
    return x && x->root ? eval(x->root, item) : 1;
}

/* ---- projection ----------------------------------------------------------------- */

/* The projected paths merged into a tree: a leaf keeps the whole value, an
 * inner node selects map keys or list indexes (kept in index order). */
typedef struct ptree {
    const dx_elem *e;       /* the element this node selects (NULL at the root) */
    bool leaf;
    int n;
    struct ptree *kids;
} ptree;

static bool elem_eq(const dx_elem *a, const dx_elem *b)
{
    if (!a->name != !b->name)
        return false;
    return a->name ? a->len == b->len && memcmp(a->name, b->name, a->len) == 0 : a->index == b->index;
}

static ptree *ptree_child(ptree *t, const dx_elem *e)
{
    for (int i = 0; i < t->n; i++)
        if (elem_eq(t->kids[i].e, e))
            return &t->kids[i];
    int at = t->n;
    if (!e->name)   /* list indexes stay sorted: the result list is in index order */
        while (at > 0 && !t->kids[at - 1].e->name && t->kids[at - 1].e->index > e->index)
            at--;
    t->kids = nb_realloc(t->kids, (size_t)(t->n + 1) * sizeof *t->kids);
    memmove(&t->kids[at + 1], &t->kids[at], (size_t)(t->n - at) * sizeof *t->kids);
    t->n++;
    t->kids[at] = (ptree){e, false, 0, NULL};
    return &t->kids[at];
}

static void ptree_free(ptree *t)
{
    for (int i = 0; i < t->n; i++)
        ptree_free(&t->kids[i]);
    free(t->kids);
}

static json_object *copy(json_object *v)
{
    json_object *out = NULL;
    if (json_object_deep_copy(v, &out, NULL) != 0)
        abort(); /* only fails on out-of-memory */
    return out;
}

static json_object *project_value(const ptree *t, json_object *av);

/* Selected children of a map or list AttributeValue's content c. */
static json_object *project_children(const ptree *t, json_object *c, bool map)
{
    json_object *out = map ? json_object_new_object() : json_object_new_array();
    for (int i = 0; i < t->n; i++) {
        const dx_elem *e = t->kids[i].e;
        json_object *v = NULL;
        if (!e->name != !map)
            continue;
        if (map)
            json_object_object_get_ex(c, e->name, &v);
        else if (e->index < json_object_array_length(c))
            v = json_object_array_get_idx(c, e->index);
        json_object *pv = v ? project_value(&t->kids[i], v) : NULL;
        if (!pv)
            continue;
        if (map)
            json_object_object_add(out, e->name, pv);
        else
            json_object_array_add(out, pv);
    }
    bool empty = map ? json_object_object_length(out) == 0 : json_object_array_length(out) == 0;
    if (empty) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

static json_object *project_value(const ptree *t, json_object *av)
{
    if (t->leaf)
        return copy(av);
    bool map = t->kids[0].e->name != NULL;
    json_object *c = av_member(av, map ? "M" : "L");
    json_object *sel = c ? project_children(t, c, map) : NULL;
    if (!sel)
        return NULL;
    json_object *out = json_object_new_object();
    json_object_object_add(out, map ? "M" : "L", sel);
    return out;
}

json_object *ddb_project(const ddb_proj *x, json_object *item)
{
    ptree root = {NULL, false, 0, NULL};
    for (int i = 0; i < x->n; i++) {
        ptree *t = &root;
        for (int k = 0; k < x->paths[i].n && !t->leaf; k++)
            t = ptree_child(t, &x->paths[i].e[k]);
        t->leaf = true;     /* a shorter path wins over longer ones */
        ptree_free(t);
        t->kids = NULL;
        t->n = 0;
    }
    json_object *out = item ? project_children(&root, item, true) : NULL;
    ptree_free(&root);
    return out ? out : json_object_new_object();
}

/* ---- key conditions -------------------------------------------------------------- */

typedef struct keyparts {
    const dx_node *conds[2];
    int n;
} keyparts;

static int kc_err(char *err, size_t cap, const char *what)
{
    return dx_err(err, cap, "%s", what);
}

static const char *kc_operator(const dx_node *n)
{
    switch (n->kind) {
    case DX_OR: return "OR";
    case DX_NOT: return "NOT";
    case DX_IN: return "IN";
    case DX_NE: return "<>";
    case DX_EXISTS: return "attribute_exists";
    case DX_NOT_EXISTS: return "attribute_not_exists";
    case DX_TYPE: return "attribute_type";
    case DX_CONTAINS: return "contains";
    default: return NULL;
    }
}

/* Checks one leaf condition's operands: exactly one top-level path. */
static int kc_leaf(const dx_node *n, char *err, size_t cap)
{
    int paths = 0;
    for (int i = 0; i < n->n; i++) {
        const dx_node *a = n->a[i];
        if (a->kind == DX_SIZE)
            return kc_err(err, cap, "KeyConditionExpressions cannot contain nested operations");
        if (a->kind != DX_PATH)
            continue;
        if (paths++)
            return kc_err(err, cap, "Invalid condition in KeyConditionExpression: Multiple attribute "
                          "names used in one condition");
        if (a->path.n > 1)
            return kc_err(err, cap, "KeyConditionExpressions cannot have conditions on nested attributes");
    }
    if ((n->kind == DX_BETWEEN || n->kind == DX_BEGINS) && n->a[0]->kind != DX_PATH)
        return dx_err(err, cap, "Invalid condition in KeyConditionExpression: %s operator must have "
                      "the key attribute as its first operand",
                      n->kind == DX_BETWEEN ? "BETWEEN" : "begins_with");
    if (!paths)
        return kc_err(err, cap, "Invalid condition in KeyConditionExpression: No key attribute specified");
    return 0;
}

static const dx_path *kc_path(const dx_node *n)
{
    for (int i = 0; i < n->n; i++)
        if (n->a[i]->kind == DX_PATH)
            return &n->a[i]->path;
    return NULL;
}

static int kc_collect(const dx_node *n, keyparts *kp, char *err, size_t cap)
{
    const char *bad = kc_operator(n);
    if (bad)
        return dx_err(err, cap, "Invalid operator used in KeyConditionExpression: %s", bad);
    if (n->kind == DX_AND)
        return kc_collect(n->a[0], kp, err, cap) || kc_collect(n->a[1], kp, err, cap) ? -1 : 0;
    if (kc_leaf(n, err, cap))
        return -1;
    for (int i = 0; i < kp->n; i++)
        if (!strcmp(kc_path(kp->conds[i])->e[0].name, kc_path(n)->e[0].name))
            return kc_err(err, cap, "KeyConditionExpressions must only contain one condition per key");
    if (kp->n == 2)
        return kc_err(err, cap, "Query key condition not supported");
    kp->conds[kp->n++] = n;
    return 0;
}

/* The operator seen from the key's side: ":v < k" is "k > :v". */
static ddb_key_op kc_op(const dx_node *n)
{
    bool flipped = n->a[0]->kind != DX_PATH;
    switch (n->kind) {
    case DX_EQ: return DDB_KEY_EQ;
    case DX_LT: return flipped ? DDB_KEY_GT : DDB_KEY_LT;
    case DX_LE: return flipped ? DDB_KEY_GE : DDB_KEY_LE;
    case DX_GT: return flipped ? DDB_KEY_LT : DDB_KEY_GT;
    case DX_GE: return flipped ? DDB_KEY_LE : DDB_KEY_GE;
    case DX_BETWEEN: return DDB_KEY_BETWEEN;
    case DX_BEGINS: return DDB_KEY_BEGINS_WITH;
    default: return DDB_KEY_NONE;
    }
}

static bool kc_type_ok(const dx_node *n, const char *type)
{
    for (int i = 0; type && i < n->n; i++) {
        const char *t = n->a[i]->kind == DX_VALUE ? ddb_xav_type(n->a[i]->val) : NULL;
        if (t && strcmp(t, type))
            return false;
    }
    return true;
}

static json_object *kc_value(const dx_node *n, int which)
{
    int seen = 0;
    for (int i = 0; i < n->n; i++)
        if (n->a[i]->kind == DX_VALUE && seen++ == which)
            return n->a[i]->val;
    return NULL;
}

int ddb_key_condition(const ddb_cond *x, const char *pk_name, const char *pk_type,
                      const char *sk_name, const char *sk_type, ddb_keycond *out,
                      char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    keyparts kp = {{NULL, NULL}, 0};
    if (kc_collect(x->root, &kp, err, cap))
        return -1;
    const dx_node *pk = NULL, *sk = NULL;
    for (int i = 0; i < kp.n; i++) {
        const char *name = kc_path(kp.conds[i])->e[0].name;
        if (!strcmp(name, pk_name))
            pk = kp.conds[i];
        else if (sk_name && !strcmp(name, sk_name))
            sk = kp.conds[i];
        else if (kp.n == 1)
            return dx_err(err, cap, "Query condition missed key schema element: %s", pk_name);
        else
            return kc_err(err, cap, "Query key condition not supported");
    }
    if (!pk)
        return dx_err(err, cap, "Query condition missed key schema element: %s", pk_name);
    if (pk->kind != DX_EQ)
        return kc_err(err, cap, "Query key condition not supported");
    if (!kc_type_ok(pk, pk_type) || (sk && !kc_type_ok(sk, sk_type)))
        return kc_err(err, cap, "One or more parameter values were invalid: Condition parameter type "
                      "does not match schema type");
    out->pk = kc_value(pk, 0);
    if (sk) {
        out->op = kc_op(sk);
        out->v1 = kc_value(sk, 0);
        out->v2 = sk->kind == DX_BETWEEN ? kc_value(sk, 1) : NULL;
    }
    return 0;
}
