/*
 * ddb_partiql_eval.c — evaluating PartiQL trees against items: WHERE
 * conditions, SET/REMOVE updates and SELECT projections.
 *
 * Semantics follow the DynamoDB expressions the statements translate to:
 * a missing attribute or a type mismatch makes a comparison false (and
 * "<>" true), numbers compare and add exactly (ddb_num), S and B order by
 * bytes.  IS NULL holds for NULL and for MISSING, as in PartiQL.  An
 * update computes every right-hand side from the item before the update,
 * then applies the actions in order to a copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nimbus.h"
#include "ddb_item.h"
#include "ddb_num.h"
#include "ddb_partiql.h"

typedef struct {
    char *err;
    size_t cap;
    bool failed;
    bool strict;    /* update right-hand sides: type errors are errors */
    bool emptied;   /* set_delete emptied the set: the attribute goes */
} ectx;

static void efail(ectx *e, const char *msg)
{
    if (!e->failed && e->cap)
        snprintf(e->err, e->cap, "%s", msg);
    e->failed = true;
}

static json_object *av(const char *type, json_object *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, type, v);
    return o;
}

/* ---- paths ----------------------------------------------------------------- */

json_object *pq_path_get(json_object *item, const pq_path *p)
{
    if (!item || p->n == 0 || !p->e[0].name)
        return NULL;
    json_object *v = NULL;
    if (!json_object_object_get_ex(item, p->e[0].name, &v))
        return NULL;
    for (int i = 1; i < p->n && v; i++) {
        json_object *inner = NULL;
        ddb_type t = ddb_av_type(v, &inner);
        if (p->e[i].name) {
            if (t != DDB_T_M || !json_object_object_get_ex(inner, p->e[i].name, &v))
                return NULL;
        } else {
            if (t != DDB_T_L || p->e[i].index >= json_object_array_length(inner))
                return NULL;
            v = json_object_array_get_idx(inner, p->e[i].index);
        }
    }
    return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

void pq_proj_name(const pq_path *p, char *buf, size_t cap)
{
    int last = 0;
    for (int i = 0; i < p->n; i++)
        if (p->e[i].name)
            last = i;
    size_t off = 0;
    if (cap == 0)
        return;
    buf[0] = 0;
    for (int i = last; i < p->n && off < cap; i++) {
        int w = p->e[i].name ? snprintf(buf + off, cap - off, "%s", p->e[i].name)
                             : snprintf(buf + off, cap - off, "[%u]", p->e[i].index);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* ---- values ---------------------------------------------------------------- */

static bool scalar_pair(json_object *a, json_object *b)
{
    ddb_type ta = ddb_av_type(a, NULL), tb = ddb_av_type(b, NULL);
    return ta == tb && (ta == DDB_T_S || ta == DDB_T_N || ta == DDB_T_B);
}

static bool num_of(json_object *v, ddb_num *out)
{
    json_object *inner = NULL;
    if (ddb_av_type(v, &inner) != DDB_T_N || !inner)
        return false;
    return ddb_num_parse(json_object_get_string(inner), (size_t)json_object_get_string_len(inner), out) ==
           DDB_NUM_OK;
}

static bool bytes_of(json_object *v, ddb_type want, const char **p, size_t *n)
{
    json_object *inner = NULL;
    if (ddb_av_type(v, &inner) != want || !inner)
        return false;
    *p = json_object_get_string(inner);
    *n = (size_t)json_object_get_string_len(inner);
    return true;
}

/* Elements of sets (json strings) of one set type. */
static bool elem_equal(ddb_type set, json_object *a, json_object *b)
{
    const char *pa = json_object_get_string(a), *pb = json_object_get_string(b);
    size_t na = (size_t)json_object_get_string_len(a), nb = (size_t)json_object_get_string_len(b);
    if (set == DDB_T_NS) {
        ddb_num x, y;
        return ddb_num_parse(pa, na, &x) == DDB_NUM_OK && ddb_num_parse(pb, nb, &y) == DDB_NUM_OK &&
               ddb_num_cmp(&x, &y) == 0;
    }
    return na == nb && (na == 0 || memcmp(pa, pb, na) == 0);
}

static bool set_has(ddb_type set, json_object *arr, json_object *elem)
{
    for (size_t i = 0, n = json_object_array_length(arr); i < n; i++)
        if (elem_equal(set, json_object_array_get_idx(arr, i), elem))
            return true;
    return false;
}

static ddb_type elem_type(ddb_type set)
{
    return set == DDB_T_SS ? DDB_T_S : set == DDB_T_NS ? DDB_T_N : set == DDB_T_BS ? DDB_T_B : DDB_T_NONE;
}

static bool contains(json_object *hay, json_object *needle)
{
    json_object *hi = NULL, *ni = NULL;
    ddb_type th = ddb_av_type(hay, &hi), tn = ddb_av_type(needle, &ni);
    if (!hi || !ni)
        return false;
    if (th == DDB_T_S && tn == DDB_T_S) {
        const char *h = json_object_get_string(hi), *s = json_object_get_string(ni);
        size_t hn = (size_t)json_object_get_string_len(hi), sn = (size_t)json_object_get_string_len(ni);
        if (sn > hn)
            return false;
        for (size_t i = 0; i + sn <= hn; i++)
            if (memcmp(h + i, s, sn) == 0)
                return true;
        return false;
    }
    if ((th == DDB_T_SS || th == DDB_T_NS || th == DDB_T_BS) && tn == elem_type(th))
        return set_has(th, hi, ni);
    if (th == DDB_T_L) {
        for (size_t i = 0, n = json_object_array_length(hi); i < n; i++)
            if (ddb_av_equal(json_object_array_get_idx(hi, i), needle))
                return true;
    }
    return false;
}

static bool begins_with(json_object *a, json_object *prefix)
{
    const char *p, *q;
    size_t n, m;
    if (!((bytes_of(a, DDB_T_S, &p, &n) && bytes_of(prefix, DDB_T_S, &q, &m)) ||
          (bytes_of(a, DDB_T_B, &p, &n) && bytes_of(prefix, DDB_T_B, &q, &m))))
        return false;
    return m <= n && (m == 0 || memcmp(p, q, m) == 0);
}

static json_object *size_of(json_object *v)
{
    json_object *inner = NULL;
    ddb_type t = ddb_av_type(v, &inner);
    size_t n;
    switch (t) {
    case DDB_T_S: case DDB_T_B: n = (size_t)json_object_get_string_len(inner); break;
    case DDB_T_SS: case DDB_T_NS: case DDB_T_BS: case DDB_T_L: n = json_object_array_length(inner); break;
    case DDB_T_M: n = (size_t)json_object_object_length(inner); break;
    default: return NULL;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", n);
    return av("N", json_object_new_string(buf));
}

/* ---- operands --------------------------------------------------------------- */

static json_object *operand(const pq_node *n, json_object *item, ectx *e);
static bool truth(const pq_node *n, json_object *item);

static json_object *arith(const pq_node *n, json_object *item, ectx *e)
{
    json_object *a = operand(n->a[0], item, e), *b = e->failed ? NULL : operand(n->a[1], item, e);
    json_object *out = NULL;
    ddb_num x, y, r;
    if (e->failed) {
        /* fall through to the frees */
    } else if (!a || !b) {
        if (e->strict)
            efail(e, "The provided expression refers to an attribute that does not exist in the item");
    } else if (!num_of(a, &x) || !num_of(b, &y)) {
        if (e->strict)
            efail(e, "An operand in the update expression has an incorrect data type");
    } else {
        ddb_num_err rc = n->kind == PQ_ADD ? ddb_num_add(&x, &y, &r) : ddb_num_sub(&x, &y, &r);
        if (rc != DDB_NUM_OK) {
            efail(e, ddb_num_errmsg(rc));
        } else {
            char buf[DDB_NUM_MAXTEXT];
            size_t len = ddb_num_format(&r, buf);
            out = av("N", json_object_new_string_len(buf, (int)len));
        }
    }
    json_object_put(a);
    json_object_put(b);
    return out;
}

static json_object *list_append(json_object *a, json_object *b, ectx *e)
{
    json_object *ia = NULL, *ib = NULL;
    if (ddb_av_type(a, &ia) != DDB_T_L || ddb_av_type(b, &ib) != DDB_T_L) {
        efail(e, "An operand in the update expression has an incorrect data type");
        return NULL;
    }
    json_object *l = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(ia); i < n; i++)
        json_object_array_add(l, json_object_get(json_object_array_get_idx(ia, i)));
    for (size_t i = 0, n = json_object_array_length(ib); i < n; i++)
        json_object_array_add(l, json_object_get(json_object_array_get_idx(ib, i)));
    return av("L", l);
}

/* set_add(a, s) / set_delete(a, s); a may be missing. */
static json_object *set_op(bool add, json_object *a, json_object *b, ectx *e)
{
    json_object *ia = NULL, *ib = NULL;
    ddb_type tb = ddb_av_type(b, &ib), ta = a ? ddb_av_type(a, &ia) : tb;
    if (!ib || (tb != DDB_T_SS && tb != DDB_T_NS && tb != DDB_T_BS) || ta != tb) {
        efail(e, "An operand in the update expression has an incorrect data type");
        return NULL;
    }
    json_object *out = json_object_new_array();
    if (add) {
        for (size_t i = 0, n = ia ? json_object_array_length(ia) : 0; i < n; i++)
            json_object_array_add(out, json_object_get(json_object_array_get_idx(ia, i)));
        for (size_t i = 0, n = json_object_array_length(ib); i < n; i++) {
            json_object *x = json_object_array_get_idx(ib, i);
            if (!set_has(tb, out, x))
                json_object_array_add(out, json_object_get(x));
        }
    } else {
        for (size_t i = 0, n = ia ? json_object_array_length(ia) : 0; i < n; i++) {
            json_object *x = json_object_array_get_idx(ia, i);
            if (!set_has(tb, ib, x))
                json_object_array_add(out, json_object_get(x));
        }
    }
    if (json_object_array_length(out) == 0) {
        json_object_put(out);
        e->emptied = true;
        return NULL;
    }
    return av(ddb_type_name(tb), out);
}

static json_object *call_value(const pq_node *n, json_object *item, ectx *e)
{
    switch ((pq_fn)n->op) {
    case PQ_FN_SIZE: {
        json_object *v = pq_path_get(item, &n->a[0]->path);
        return v ? size_of(v) : NULL;
    }
    case PQ_FN_LIST_APPEND: case PQ_FN_SET_ADD: case PQ_FN_SET_DELETE: {
        json_object *a = operand(n->a[0], item, e), *b = e->failed ? NULL : operand(n->a[1], item, e);
        json_object *out = NULL;
        if (!e->failed) {
            if (n->op == PQ_FN_LIST_APPEND) {
                if (!a || !b)
                    efail(e, "The provided expression refers to an attribute that does not exist in the item");
                else
                    out = list_append(a, b, e);
            } else if (!b) {
                efail(e, "The provided expression refers to an attribute that does not exist in the item");
            } else {
                out = set_op(n->op == PQ_FN_SET_ADD, a, b, e);
            }
        }
        json_object_put(a);
        json_object_put(b);
        return out;
    }
    default:
        return av("BOOL", json_object_new_boolean(truth(n, item)));
    }
}

static json_object *operand(const pq_node *n, json_object *item, ectx *e)
{
    switch (n->kind) {
    case PQ_PATH: return json_object_get(pq_path_get(item, &n->path));
    case PQ_VALUE: return json_object_get(n->val);
    case PQ_MISSING: return NULL;
    case PQ_ADD: case PQ_SUB: return arith(n, item, e);
    case PQ_CALL: return call_value(n, item, e);
    default: return av("BOOL", json_object_new_boolean(truth(n, item)));
    }
}

/* ---- conditions --------------------------------------------------------------- */

static json_object *value(const pq_node *n, json_object *item)
{
    ectx e = {0};
    json_object *v = operand(n, item, &e);
    if (e.failed) {
        json_object_put(v);
        return NULL;
    }
    return v;
}

static bool compare(const pq_node *n, json_object *item)
{
    json_object *x = value(n->a[0], item), *y = value(n->a[1], item);
    bool r;
    if (n->kind == PQ_EQ || n->kind == PQ_NE) {
        bool eq = x && y && ddb_av_equal(x, y);
        r = n->kind == PQ_EQ ? eq : !eq;
    } else if (!x || !y || !scalar_pair(x, y)) {
        r = false;
    } else {
        int c = ddb_av_cmp(x, y);
        r = n->kind == PQ_LT ? c < 0 : n->kind == PQ_LE ? c <= 0 : n->kind == PQ_GT ? c > 0 : c >= 0;
    }
    json_object_put(x);
    json_object_put(y);
    return r;
}

static bool between(const pq_node *n, json_object *item)
{
    json_object *x = value(n->a[0], item), *lo = value(n->a[1], item), *hi = value(n->a[2], item);
    bool r = x && lo && hi && scalar_pair(x, lo) && scalar_pair(x, hi) && ddb_av_cmp(x, lo) >= 0 &&
             ddb_av_cmp(x, hi) <= 0;
    json_object_put(x);
    json_object_put(lo);
    json_object_put(hi);
    return n->neg ? !r : r;
}

static bool in(const pq_node *n, json_object *item)
{
    json_object *x = value(n->a[0], item);
    bool r = false;
    for (int i = 1; x && i < n->n && !r; i++) {
        json_object *y = value(n->a[i], item);
        r = y && ddb_av_equal(x, y);
        json_object_put(y);
    }
    json_object_put(x);
    return n->neg ? !r : r;
}

static bool is(const pq_node *n, json_object *item)
{
    json_object *x = value(n->a[0], item);
    ddb_type t = x ? ddb_av_type(x, NULL) : DDB_T_NONE;
    bool r;
    switch ((pq_is_type)n->op) {
    case PQ_IS_MISSING: r = !x; break;
    case PQ_IS_NULL: r = !x || t == DDB_T_NULL; break;
    case PQ_IS_BOOLEAN: r = t == DDB_T_BOOL; break;
    case PQ_IS_STRING: r = t == DDB_T_S; break;
    case PQ_IS_NUMBER: r = t == DDB_T_N; break;
    case PQ_IS_BLOB: r = t == DDB_T_B; break;
    case PQ_IS_STRUCT: r = t == DDB_T_M; break;
    case PQ_IS_LIST: r = t == DDB_T_L; break;
    default: r = false; break;
    }
    json_object_put(x);
    return n->neg ? !r : r;
}

static bool call_truth(const pq_node *n, json_object *item)
{
    json_object *a = pq_path_get(item, &n->a[0]->path);
    switch ((pq_fn)n->op) {
    case PQ_FN_EXISTS: return a != NULL;
    case PQ_FN_NOT_EXISTS: return a == NULL;
    case PQ_FN_BEGINS_WITH: case PQ_FN_CONTAINS: case PQ_FN_ATTRIBUTE_TYPE: {
        json_object *b = value(n->a[1], item);
        bool r = false;
        if (a && b) {
            if (n->op == PQ_FN_BEGINS_WITH)
                r = begins_with(a, b);
            else if (n->op == PQ_FN_CONTAINS)
                r = contains(a, b);
            else {
                const char *p;
                size_t len;
                r = bytes_of(b, DDB_T_S, &p, &len) && strlen(ddb_type_name(ddb_av_type(a, NULL))) == len &&
                    memcmp(ddb_type_name(ddb_av_type(a, NULL)), p, len) == 0;
            }
        }
        json_object_put(b);
        return r;
    }
    default:
        return false;
    }
}

static bool truth(const pq_node *n, json_object *item)
{
    switch (n->kind) {
    case PQ_EQ: case PQ_NE: case PQ_LT: case PQ_LE: case PQ_GT: case PQ_GE: return compare(n, item);
    case PQ_BETWEEN: return between(n, item);
    case PQ_IN: return in(n, item);
    case PQ_IS: return is(n, item);
    case PQ_NOT: return !truth(n->a[0], item);
    case PQ_AND:
        for (int i = 0; i < n->n; i++)
            if (!truth(n->a[i], item))
                return false;
        return true;
    case PQ_OR:
        for (int i = 0; i < n->n; i++)
            if (truth(n->a[i], item))
                return true;
        return false;
    case PQ_CALL:
        if (n->op == PQ_FN_SIZE || n->op == PQ_FN_LIST_APPEND || n->op == PQ_FN_SET_ADD ||
            n->op == PQ_FN_SET_DELETE)
            return false;
        return call_truth(n, item);
    case PQ_PATH: case PQ_VALUE: {
        json_object *v = value(n, item), *inner = NULL;
        bool r = v && ddb_av_type(v, &inner) == DDB_T_BOOL && json_object_get_boolean(inner);
        json_object_put(v);
        return r;
    }
    default:
        return false;
    }
}

bool pq_cond_true(const pq_node *n, json_object *item)
{
    return n ? truth(n, item) : true;
}

int pq_conjuncts(pq_node *where, pq_node **out, int max)
{
    if (!where || max <= 0)
        return 0;
    if (where->kind != PQ_AND) {
        out[0] = where;
        return 1;
    }
    int k = 0;
    for (int i = 0; i < where->n && k < max; i++)
        k += pq_conjuncts(where->a[i], out + k, max - k);
    return k;
}

const char *pq_key_equality(const pq_node *n, json_object **val)
{
    if (!n || n->kind != PQ_EQ)
        return NULL;
    const pq_node *p = n->a[0], *v = n->a[1];
    if (p->kind != PQ_PATH) {
        p = n->a[1];
        v = n->a[0];
    }
    if (p->kind != PQ_PATH || p->path.n != 1 || v->kind != PQ_VALUE)
        return NULL;
    *val = v->val;
    return p->path.e[0].name;
}

/* ---- updates ------------------------------------------------------------------ */

/* The container (object for a name, array for an index) that holds the
 * last element of p in item, or NULL. */
static json_object *parent_of(json_object *item, const pq_path *p)
{
    if (p->n == 1)
        return item;
    pq_path up = {p->e, p->n - 1};
    json_object *v = pq_path_get(item, &up), *inner = NULL;
    if (!v)
        return NULL;
    ddb_type t = ddb_av_type(v, &inner);
    const pq_elem *last = &p->e[p->n - 1];
    if ((last->name && t == DDB_T_M) || (!last->name && t == DDB_T_L))
        return inner;
    return NULL;
}

static int set_path(json_object *item, const pq_path *p, json_object *v, ectx *e)
{
    json_object *c = parent_of(item, p);
    const pq_elem *last = &p->e[p->n - 1];
    if (!c) {
        json_object_put(v);
        efail(e, "The document path provided in the update expression is invalid for update");
        return -1;
    }
    if (last->name)
        json_object_object_add(c, last->name, v);
    else if (last->index < json_object_array_length(c))
        json_object_array_put_idx(c, last->index, v);
    else
        json_object_array_add(c, v);
    return 0;
}

static void remove_path(json_object *item, const pq_path *p)
{
    json_object *c = parent_of(item, p);
    const pq_elem *last = &p->e[p->n - 1];
    if (!c)
        return;
    if (last->name)
        json_object_object_del(c, last->name);
    else if (last->index < json_object_array_length(c))
        json_object_array_del_idx(c, last->index, 1);
}

static bool is_key(const char *const *keys, const char *name)
{
    for (int i = 0; keys && keys[i]; i++)
        if (strcmp(keys[i], name) == 0)
            return true;
    return false;
}

json_object *pq_apply(const pq_stmt *st, json_object *old, const char *const *keys, char *err,
                      size_t cap)
{
    ectx e = {.err = err, .cap = cap, .strict = true};
    json_object **vals = nb_calloc((size_t)(st->nact ? st->nact : 1), sizeof *vals);
    bool *gone = nb_calloc((size_t)(st->nact ? st->nact : 1), sizeof *gone);
    json_object *nw = NULL;
    for (int i = 0; i < st->nact && !e.failed; i++) {
        const pq_action *a = &st->act[i];
        if (is_key(keys, a->path.e[0].name)) {
            char msg[PQ_ERRLEN];
            snprintf(msg, sizeof msg,
                     "One or more parameter values were invalid: Cannot update attribute %.300s. This attribute is part of the key",
                     a->path.e[0].name);
            efail(&e, msg);
            break;
        }
        if (a->remove)
            continue;
        e.emptied = false;
        json_object *v = operand(a->val, old, &e);
        if (e.failed) {
            json_object_put(v);
            break;
        }
        if (!v && e.emptied) {
            gone[i] = true;
            continue;
        }
        if (!v) {
            efail(&e, "The provided expression refers to an attribute that does not exist in the item");
            break;
        }
        json_object_deep_copy(v, &vals[i], NULL);
        json_object_put(v);
    }
    if (!e.failed) {
        if (old)
            json_object_deep_copy(old, &nw, NULL);
        else
            nw = json_object_new_object();
        for (int i = 0; i < st->nact && !e.failed; i++) {
            const pq_action *a = &st->act[i];
            if (a->remove || gone[i])
                remove_path(nw, &a->path);
            else if (set_path(nw, &a->path, vals[i], &e) == 0)
                vals[i] = NULL;
            else
                vals[i] = NULL;
        }
    }
    for (int i = 0; i < st->nact; i++)
        json_object_put(vals[i]);
    free(vals);
    free(gone);
    if (e.failed) {
        json_object_put(nw);
        return NULL;
    }
    return nw;
}

json_object *pq_modified(const pq_stmt *st, json_object *item)
{
    json_object *o = json_object_new_object();
    for (int i = 0; item && i < st->nact; i++) {
        const char *nm = st->act[i].path.e[0].name;
        json_object *v = NULL;
        if (json_object_object_get_ex(item, nm, &v) && !json_object_object_get_ex(o, nm, NULL))
            json_object_object_add(o, nm, json_object_get(v));
    }
    return o;
}

json_object *pq_project(const pq_stmt *st, json_object *item)
{
    if (st->star || st->nproj == 0)
        return json_object_get(item);
    json_object *o = json_object_new_object();
    for (int i = 0; i < st->nproj; i++) {
        json_object *v = pq_path_get(item, &st->proj[i]);
        if (!v)
            continue;
        char nm[1024];
        pq_proj_name(&st->proj[i], nm, sizeof nm);
        json_object_object_add(o, nm, json_object_get(v));
    }
    return o;
}
