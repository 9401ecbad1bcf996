/*
 * ddb_expr_update.c — applying a parsed UpdateExpression (or converted
 * AttributeUpdates) to an item.
 *
 * DynamoDB computes every SET value from the item as it was before the
 * update, then applies the actions; a runtime error leaves the item as it
 * was.  So: compute values, apply to a copy, and only on success move the
 * copy's attributes into the caller's item.
 *
 * List elements: SET past the end appends; REMOVE of several elements of
 * one list refers to the original indexes, so removals run last and from
 * the highest index down.  Sets: ADD unions (creating the attribute),
 * DELETE subtracts and drops the attribute when the set becomes empty.
 */
#include <stdlib.h>
#include <string.h>

#include "core/nimbus.h"
#include "services/dynamodb/ddb_expr_int.h"
#include "services/dynamodb/ddb_num.h"

#define MSG_TYPE "An operand in the update expression has an incorrect data type"
#define MSG_MISSING "The provided expression refers to an attribute that does not exist in the item"
#define MSG_PATH "The document path provided in the update expression is invalid for update"
#define MSG_LEGACY_TYPE "Type mismatch for attribute to update"

static json_object *copy(json_object *v)
{
    json_object *out = NULL;
    if (json_object_deep_copy(v, &out, NULL) != 0)
        abort(); /* only fails on out-of-memory */
    return out;
}

static json_object *member(json_object *av, const char *type)
{
    json_object *v = NULL;
    json_object_object_get_ex(av, type, &v);
    return v;
}

static json_object *wrap(const char *type, json_object *content)
{
    json_object *av = json_object_new_object();
    json_object_object_add(av, type, content);
    return av;
}

/* ---- SET values ------------------------------------------------------------ */

static json_object *value_of(const dx_node *n, json_object *item, char *err, size_t cap);

static int number_of(json_object *av, ddb_num *out, char *err, size_t cap)
{
    json_object *s = member(av, "N");
    if (!s)
        return dx_err(err, cap, MSG_TYPE);
    ddb_num_err e = ddb_num_parse(json_object_get_string(s), (size_t)json_object_get_string_len(s), out);
    return e == DDB_NUM_OK ? 0 : dx_err(err, cap, "%s", ddb_num_errmsg(e));
}

static json_object *number_av(const ddb_num *n)
{
    char buf[DDB_NUM_MAXTEXT];
    size_t len = ddb_num_format(n, buf);
    return wrap("N", json_object_new_string_len(buf, (int)len));
}

static json_object *arith(const dx_node *n, json_object *item, char *err, size_t cap)
{
    json_object *x = value_of(n->a[0], item, err, cap);
    json_object *y = x ? value_of(n->a[1], item, err, cap) : NULL;
    json_object *out = NULL;
    ddb_num a, b, r;
    if (y && !number_of(x, &a, err, cap) && !number_of(y, &b, err, cap)) {
        ddb_num_err e = n->kind == DX_PLUS ? ddb_num_add(&a, &b, &r) : ddb_num_sub(&a, &b, &r);
        if (e == DDB_NUM_OK)
            out = number_av(&r);
        else
            dx_err(err, cap, "%s", ddb_num_errmsg(e));
    }
    json_object_put(x);
    json_object_put(y);
    return out;
}

static json_object *list_append(const dx_node *n, json_object *item, char *err, size_t cap)
{
    json_object *x = value_of(n->a[0], item, err, cap);
    json_object *y = x ? value_of(n->a[1], item, err, cap) : NULL;
    json_object *out = NULL;
    json_object *lx = x ? member(x, "L") : NULL, *ly = y ? member(y, "L") : NULL;
    if (y && (!lx || !ly)) {
        dx_err(err, cap, MSG_TYPE);
    } else if (y) {
        json_object *l = json_object_new_array();
        for (int k = 0; k < 2; k++) {
            json_object *src = k ? ly : lx;
            for (size_t i = 0; i < json_object_array_length(src); i++)
                json_object_array_add(l, copy(json_object_array_get_idx(src, i)));
        }
        out = wrap("L", l);
    }
    json_object_put(x);
    json_object_put(y);
    return out;
}

/* A SET operand's value: a new tree, or NULL after writing the error. */
static json_object *value_of(const dx_node *n, json_object *item, char *err, size_t cap)
{
    json_object *v;
    switch (n->kind) {
    case DX_VALUE:
        return copy(n->val);
    case DX_PATH:
        v = dx_path_get(item, &n->path);
        if (!v)
            dx_err(err, cap, MSG_MISSING);
        return v ? copy(v) : NULL;
    case DX_IF_NOT_EXISTS:
        v = dx_path_get(item, &n->a[0]->path);
        return v ? copy(v) : value_of(n->a[1], item, err, cap);
    case DX_LIST_APPEND:
        return list_append(n, item, err, cap);
    case DX_PLUS:
    case DX_MINUS:
        return arith(n, item, err, cap);
    default:
        dx_err(err, cap, MSG_TYPE);
        return NULL;
    }
}

/* ---- locating targets --------------------------------------------------------- */

/* The container (an M's object or an L's array) that holds the path's last
 * element, or NULL when the path cannot be updated. */
static json_object *parent_of(json_object *item, const dx_path *p)
{
    if (p->n == 1)
        return item;
    dx_path up = {p->e, p->n - 1};
    json_object *av = dx_path_get(item, &up);
    return av ? member(av, p->e[p->n - 1].name ? "M" : "L") : NULL;
}

static json_object *child(json_object *parent, const dx_elem *e)
{
    json_object *v = NULL;
    if (e->name)
        json_object_object_get_ex(parent, e->name, &v);
    else if (e->index < json_object_array_length(parent))
        v = json_object_array_get_idx(parent, e->index);
    return v;
}

/* Stores v (taking it) as the element e of parent. */
static void put(json_object *parent, const dx_elem *e, json_object *v)
{
    if (e->name)
        json_object_object_add(parent, e->name, v);
    else if (e->index < json_object_array_length(parent))
        json_object_array_put_idx(parent, e->index, v);
    else
        json_object_array_add(parent, v);
}

/* ---- actions ------------------------------------------------------------------ */

static int do_set(json_object *item, const dx_action *a, json_object *v, char *err, size_t cap)
{
    json_object *parent = parent_of(item, &a->path);
    if (!parent) {
        json_object_put(v);
        return dx_err(err, cap, MSG_PATH);
    }
    put(parent, &a->path.e[a->path.n - 1], v);
    return 0;
}

static void set_union(json_object *cur, json_object *add, const char *type)
{
    json_object *dst = member(cur, type), *src = member(add, type);
    for (size_t i = 0; i < json_object_array_length(src); i++) {
        json_object *e = json_object_array_get_idx(src, i);
        if (!dx_set_has(type, dst, e))
            json_object_array_add(dst, copy(e));
    }
}

static int do_add(json_object *item, const dx_action *a, char *err, size_t cap)
{
    const char *mismatch = a->legacy ? MSG_LEGACY_TYPE : MSG_TYPE;
    json_object *parent = parent_of(item, &a->path);
    if (!parent)
        return dx_err(err, cap, MSG_PATH);
    const dx_elem *e = &a->path.e[a->path.n - 1];
    json_object *cur = child(parent, e), *v = a->val->val;
    const char *t = ddb_xav_type(v), *ct = cur ? ddb_xav_type(cur) : NULL;
    if (!cur) {
        put(parent, e, copy(v));
        return 0;
    }
    if (!t || !ct || strcmp(t, ct))
        return dx_err(err, cap, "%s", mismatch);
    if (!strcmp(t, "N")) {
        ddb_num x, y, r;
        if (number_of(cur, &x, err, cap) || number_of(v, &y, err, cap))
            return -1;
        ddb_num_err ne = ddb_num_add(&x, &y, &r);
        if (ne != DDB_NUM_OK)
            return dx_err(err, cap, "%s", ddb_num_errmsg(ne));
        put(parent, e, number_av(&r));
        return 0;
    }
    if (!strcmp(t, "L")) {   /* legacy ADD appends to lists */
        json_object *dst = member(cur, "L"), *src = member(v, "L");
        for (size_t i = 0; i < json_object_array_length(src); i++)
            json_object_array_add(dst, copy(json_object_array_get_idx(src, i)));
        return 0;
    }
    if (!dx_is_set_type(t))
        return dx_err(err, cap, "%s", mismatch);
    set_union(cur, v, t);
    return 0;
}

static void remove_elem(json_object *parent, const dx_elem *e)
{
    if (e->name)
        json_object_object_del(parent, e->name);
    else if (e->index < json_object_array_length(parent))
        json_object_array_del_idx(parent, e->index, 1);
}

static int do_delete(json_object *item, const dx_action *a, char *err, size_t cap)
{
    json_object *parent = parent_of(item, &a->path);
    if (!parent)
        return a->path.n == 1 ? 0 : dx_err(err, cap, MSG_PATH);
    const dx_elem *e = &a->path.e[a->path.n - 1];
    json_object *cur = child(parent, e);
    if (!cur)
        return 0;
    json_object *v = a->val->val;
    const char *t = ddb_xav_type(v), *ct = ddb_xav_type(cur);
    if (!t || !ct || strcmp(t, ct))
        return dx_err(err, cap, "%s", a->legacy ? MSG_LEGACY_TYPE : MSG_TYPE);
    json_object *keep = json_object_new_array(), *arr = member(cur, t), *drop = member(v, t);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *elem = json_object_array_get_idx(arr, i);
        if (!dx_set_has(t, drop, elem))
            json_object_array_add(keep, json_object_get(elem));
    }
    if (json_object_array_length(keep) == 0) {
        json_object_put(keep);
        remove_elem(parent, e);
    } else {
        json_object_object_add(cur, t, keep);
    }
    return 0;
}

/* REMOVE actions sorted so that list elements go from the highest index down. */
static int remove_order(const void *pa, const void *pb)
{
    const dx_action *a = *(const dx_action *const *)pa, *b = *(const dx_action *const *)pb;
    const dx_elem *x = &a->path.e[a->path.n - 1], *y = &b->path.e[b->path.n - 1];
    if (x->name || y->name)
        return (x->name == NULL) - (y->name == NULL);
    return (x->index < y->index) - (x->index > y->index);
}

static int do_removes(json_object *item, const ddb_update *u, char *err, size_t cap)
{
    const dx_action **rm = nb_calloc((size_t)u->n + 1, sizeof *rm);
    int n = 0;
    for (int i = 0; i < u->n; i++)
        if (u->act[i].kind == DX_REMOVE)
            rm[n++] = &u->act[i];
    qsort(rm, (size_t)n, sizeof *rm, remove_order);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        json_object *parent = parent_of(item, &rm[i]->path);
        if (parent)
            remove_elem(parent, &rm[i]->path.e[rm[i]->path.n - 1]);
    }
    free(rm);
    (void)err;
    (void)cap;
    return rc;
}

static int check_keys(const ddb_update *u, const char *const *keys, char *err, size_t cap)
{
    for (int i = 0; keys && i < u->n; i++)
        for (const char *const *k = keys; *k; k++)
            if (strcmp(u->act[i].path.e[0].name, *k) == 0)
                return dx_err(err, cap, "One or more parameter values were invalid: Cannot update "
                              "attribute %s. This attribute is part of the key", *k);
    return 0;
}

/* SET values, all computed from the original item. */
static json_object **set_values(const ddb_update *u, json_object *item, char *err, size_t cap)
{
    json_object **vals = nb_calloc((size_t)u->n + 1, sizeof *vals);
    for (int i = 0; i < u->n; i++) {
        if (u->act[i].kind != DX_SET)
            continue;
        vals[i] = value_of(u->act[i].val, item, err, cap);
        if (!vals[i]) {
            for (int k = 0; k < i; k++)
                json_object_put(vals[k]);
            free(vals);
            return NULL;
        }
    }
    return vals;
}

static int run_actions(const ddb_update *u, json_object *work, json_object **vals, char *err, size_t cap)
{
    int rc = 0;
    for (int i = 0; i < u->n; i++) {
        const dx_action *a = &u->act[i];
        json_object *v = vals[i];
        vals[i] = NULL;
        if (rc) {
            json_object_put(v);
            continue;
        }
        if (a->kind == DX_SET)
            rc = do_set(work, a, v, err, cap);
        else if (a->kind == DX_ADD)
            rc = do_add(work, a, err, cap);
        else if (a->kind == DX_DELETE)
            rc = do_delete(work, a, err, cap);
    }
    return rc ? rc : do_removes(work, u, err, cap);
}

/* Replaces item's attributes with work's (the caller's object stays). */
static void move_into(json_object *item, json_object *work)
{
    const char **names = NULL;
    size_t n = 0;
    json_object_object_foreach(item, key, val) {
        (void)val;
        names = nb_realloc(names, (n + 1) * sizeof *names);
        names[n++] = key;
    }
    char **copies = nb_calloc(n + 1, sizeof *copies);
    for (size_t i = 0; i < n; i++)
        copies[i] = nb_strdup(names[i]);
    for (size_t i = 0; i < n; i++) {
        json_object_object_del(item, copies[i]);
        free(copies[i]);
    }
    free(copies);
    free(names);
    json_object_object_foreach(work, wkey, wval)
        json_object_object_add(item, wkey, json_object_get(wval));
}

int ddb_update_apply(const ddb_update *x, json_object *item, const char *const *keys,
                     char *err, size_t cap)
{
    if (check_keys(x, keys, err, cap))
        return -1;
    json_object **vals = set_values(x, item, err, cap);
    if (!vals)
        return -1;
    json_object *work = copy(item);
    int rc = run_actions(x, work, vals, err, cap);
    free(vals);
    if (rc == 0)
        move_into(item, work);
    json_object_put(work);
    return rc;
}
