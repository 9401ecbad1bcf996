/*
 * ddb_expr_legacy.c — the pre-expression parameters converted into parsed
 * expressions: Expected (+ConditionalOperator), QueryFilter / ScanFilter,
 * KeyConditions, AttributeUpdates and AttributesToGet.
 *
 * Legacy attribute names are literal top-level names (no paths, no
 * placeholders).  The ComparisonOperators map onto expression nodes:
 * NOT_NULL / NULL are attribute_exists / attribute_not_exists, and
 * NOT_CONTAINS is "exists and not contains" (a missing attribute fails it,
 * unlike NOT contains(...)).
 */
#include <string.h>

#include "core/nimbus.h"
#include "services/dynamodb/ddb_expr_int.h"

#define INVALID "One or more parameter values were invalid: "

typedef struct legacy_op {
    const char *name;
    dx_kind kind;
    int nargs;              /* -1: one or more */
    const char *types;      /* allowed AttributeValue types, space-separated */
    bool key;               /* allowed in KeyConditions */
} legacy_op;

static const legacy_op ops[] = {
    {"EQ", DX_EQ, 1, "S N B SS NS BS", true},
    {"NE", DX_NE, 1, "S N B SS NS BS", false},
    {"LE", DX_LE, 1, "S N B", true},
    {"LT", DX_LT, 1, "S N B", true},
    {"GE", DX_GE, 1, "S N B", true},
    {"GT", DX_GT, 1, "S N B", true},
    {"NOT_NULL", DX_EXISTS, 0, NULL, false},
    {"NULL", DX_NOT_EXISTS, 0, NULL, false},
    {"CONTAINS", DX_CONTAINS, 1, "S N B", false},
    {"NOT_CONTAINS", DX_CONTAINS, 1, "S N B", false},
    {"BEGINS_WITH", DX_BEGINS, 1, "S B", true},
    {"IN", DX_IN, -1, "S N B", false},
    {"BETWEEN", DX_BETWEEN, 2, "S N B", true},
};

static const legacy_op *op_lookup(const char *name)
{
    for (size_t i = 0; name && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

static bool type_allowed(const char *list, const char *t)
{
    size_t n = strlen(t);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, t, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static dx_node *path_node(const char *attr)
{
    dx_node *n = dx_node_new(DX_PATH);
    dx_path_push_name(&n->path, attr, strlen(attr));
    return n;
}

static dx_node *unary(dx_kind k, dx_node *c)
{
    dx_node *n = dx_node_new(k);
    dx_node_add(n, c);
    return n;
}

static dx_node *binary(dx_kind k, dx_node *x, dx_node *y)
{
    dx_node *n = unary(k, x);
    dx_node_add(n, y);
    return n;
}

/* The node for "attr OP values". */
static dx_node *op_node(const legacy_op *op, const char *attr, json_object **vals, int nvals)
{
    dx_node *n = unary(op->kind, path_node(attr));
    for (int i = 0; i < nvals; i++)
        dx_node_add(n, dx_value_node(vals[i]));
    if (strcmp(op->name, "NOT_CONTAINS") == 0)
        n = binary(DX_AND, unary(DX_EXISTS, path_node(attr)), unary(DX_NOT, n));
    return n;
}

static json_object *get(json_object *obj, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(obj, key, &v);
    return v;
}

/* Checks the argument count, types and BETWEEN order for op. */
static int check_args(const legacy_op *op, json_object **vals, int n, bool typed, char *err, size_t cap)
{
    bool count_ok = op->nargs < 0 ? n > 0 : n == op->nargs;
    if (!count_ok)
        return dx_err(err, cap, INVALID "Invalid number of argument(s) for the %s ComparisonOperator",
                      op->name);
    for (int i = 1; i < n; i++)
        if (strcmp(ddb_xav_type(vals[i]) ? ddb_xav_type(vals[i]) : "", ddb_xav_type(vals[0]) ? ddb_xav_type(vals[0]) : ""))
            return dx_err(err, cap, INVALID "AttributeValues inside AttributeValueList must be of same type");
    for (int i = 0; typed && i < n; i++) {
        const char *t = ddb_xav_type(vals[i]);
        if (!t || !type_allowed(op->types, t))
            return dx_err(err, cap, INVALID "ComparisonOperator %s is not valid for %s AttributeValue type",
                          op->name, t ? t : "");
    }
    int c;
    if (op->kind == DX_BETWEEN && dx_compare(vals[0], vals[1], &c) == 0 && c > 0)
        return dx_err(err, cap, "The BETWEEN condition was provided a range where the lower bound is "
                      "greater than the upper bound");
    return 0;
}

/* AttributeValueList into vals[] (borrowed); returns the count. */
static int value_list(json_object *list, json_object ***vals)
{
    int n = list ? (int)json_object_array_length(list) : 0;
    *vals = nb_calloc((size_t)n + 1, sizeof **vals);
    for (int i = 0; i < n; i++)
        (*vals)[i] = json_object_array_get_idx(list, i);
    return n;
}

/* One QueryFilter / ScanFilter / KeyConditions entry. */
static dx_node *filter_entry(const char *attr, json_object *cond, bool key, char *err, size_t cap)
{
    const char *opname = json_object_get_string(get(cond, "ComparisonOperator"));
    const legacy_op *op = op_lookup(opname);
    if (!op) {
        dx_err(err, cap, INVALID "Unsupported operator on KeyCondition: %s", opname ? opname : "null");
        return NULL;
    }
    if (key && !op->key) {
        dx_err(err, cap, "Attempted conditional constraint is not an indexable operation");
        return NULL;
    }
    json_object **vals;
    int n = value_list(get(cond, "AttributeValueList"), &vals);
    dx_node *node = check_args(op, vals, n, true, err, cap) ? NULL : op_node(op, attr, vals, n);
    free(vals);
    return node;
}

static int expected_plain(const char *attr, json_object *cond, dx_node **out, char *err, size_t cap)
{
    json_object *exists = get(cond, "Exists"), *value = get(cond, "Value");
    if (get(cond, "AttributeValueList"))
        return dx_err(err, cap, INVALID "AttributeValueList can only be used with a ComparisonOperator "
                      "for Attribute: %s", attr);
    bool want = !exists || json_object_get_boolean(exists);
    if (want && !value)
        return dx_err(err, cap, INVALID "Value must be provided when Exists is %s for Attribute: %s",
                      exists ? "true" : "null", attr);
    if (!want && value)
        return dx_err(err, cap, INVALID "Value cannot be used when Exists is false for Attribute: %s", attr);
    *out = want ? binary(DX_EQ, path_node(attr), dx_value_node(value))
                : unary(DX_NOT_EXISTS, path_node(attr));
    return 0;
}

/* One Expected entry: Exists/Value, or ComparisonOperator with Value or
 * AttributeValueList. */
static dx_node *expected_entry(const char *attr, json_object *cond, char *err, size_t cap)
{
    json_object *opv = get(cond, "ComparisonOperator"), *value = get(cond, "Value");
    json_object *list = get(cond, "AttributeValueList");
    if (list && value) {
        dx_err(err, cap, INVALID "Value and AttributeValueList cannot be used together for Attribute: %s", attr);
        return NULL;
    }
    dx_node *node = NULL;
    if (!opv)
        return expected_plain(attr, cond, &node, err, cap) ? NULL : node;
    const legacy_op *op = op_lookup(json_object_get_string(opv));
    if (!op) {
        dx_err(err, cap, INVALID "Unsupported operator on ExpectedAttributeValue: %s", json_object_get_string(opv));
        return NULL;
    }
    if (get(cond, "Exists")) {
        dx_err(err, cap, INVALID "Exists and ComparisonOperator cannot be used together for Attribute: %s", attr);
        return NULL;
    }
    if (op->nargs != 0 && !list && !value) {
        dx_err(err, cap, INVALID "Value or AttributeValueList must be used with ComparisonOperator: %s "
               "for Attribute: %s", op->name, attr);
        return NULL;
    }
    json_object **vals;
    int n = value_list(list, &vals);
    if (value)
        vals[n++] = value;
    node = check_args(op, vals, n, false, err, cap) ? NULL : op_node(op, attr, vals, n);
    free(vals);
    return node;
}

ddb_cond *ddb_legacy_condition(ddb_legacy_kind kind, json_object *conds, const char *op,
                               char *err, size_t cap)
{
    if (!conds) {
        if (op)
            dx_err(err, cap, "ConditionalOperator cannot be used without Filter or Expected");
        return NULL;
    }
    bool key = kind == DDB_LEGACY_KEY_CONDITIONS;
    size_t count = (size_t)json_object_object_length(conds);
    if (key && (count < 1 || count > 2)) {
        dx_err(err, cap, "Conditions can be of length 1 or 2 only");
        return NULL;
    }
    dx_kind join = op && strcmp(op, "OR") == 0 ? DX_OR : DX_AND;
    dx_node *root = NULL;
    json_object_object_foreach(conds, attr, cond) {
        dx_node *n = kind == DDB_LEGACY_EXPECTED ? expected_entry(attr, cond, err, cap)
                                                  : filter_entry(attr, cond, key, err, cap);
        if (!n) {
            dx_node_free(root);
            return NULL;
        }
        root = root ? binary(join, root, n) : n;
    }
    if (!root)
        return NULL;    /* an empty map: no condition */
    ddb_cond *x = nb_calloc(1, sizeof *x);
    x->root = root;
    return x;
}

static int update_entry(ddb_update *u, const char *attr, json_object *upd, char *err, size_t cap)
{
    const char *action = json_object_get_string(get(upd, "Action"));
    json_object *value = get(upd, "Value");
    const char *t = value ? ddb_xav_type(value) : NULL;
    if (!action)
        action = "PUT";
    if (!value && strcmp(action, "DELETE"))
        return dx_err(err, cap, INVALID "Only DELETE action is allowed when no attribute value is specified");
    if (value && !strcmp(action, "DELETE") && !dx_is_set_type(t))
        return dx_err(err, cap, INVALID "DELETE action with value is not supported for the type %s", t ? t : "");
    if (value && !strcmp(action, "ADD") && !dx_is_set_type(t) && strcmp(t ? t : "", "N") && strcmp(t ? t : "", "L"))
        return dx_err(err, cap, INVALID "ADD action is not supported for the type %s", t ? t : "");
    u->act = nb_realloc(u->act, (size_t)(u->n + 1) * sizeof *u->act);
    dx_action *a = &u->act[u->n++];
    memset(a, 0, sizeof *a);
    a->legacy = true;
    dx_path_push_name(&a->path, attr, strlen(attr));
    a->kind = !strcmp(action, "PUT") ? DX_SET : !strcmp(action, "ADD") ? DX_ADD
            : value ? DX_DELETE : DX_REMOVE;
    if (value)
        a->val = dx_value_node(value);
    return 0;
}

ddb_update *ddb_legacy_update(json_object *updates, char *err, size_t cap)
{
    ddb_update *u = nb_calloc(1, sizeof *u);
    json_object_object_foreach(updates, attr, upd) {
        if (update_entry(u, attr, upd, err, cap)) {
            ddb_update_free(u);
            return NULL;
        }
    }
    for (int i = 0; i < u->n; i++)
        u->names = dx_names_add(u->names, &u->nnames, u->act[i].path.e[0].name);
    return u;
}

ddb_proj *ddb_legacy_projection(json_object *names, char *err, size_t cap)
{
    ddb_proj *x = nb_calloc(1, sizeof *x);
    size_t n = json_object_array_length(names);
    x->paths = nb_calloc(n + 1, sizeof *x->paths);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(names, i);
        const char *name = json_object_get_string(s);
        size_t before = x->nnames;
        dx_path_push_name(&x->paths[x->n++], name, (size_t)json_object_get_string_len(s));
        x->names = dx_names_add(x->names, &x->nnames, x->paths[x->n - 1].e[0].name);
        if (x->nnames == before) {
            dx_err(err, cap, INVALID "Duplicate value in attribute name: %s", name);
            ddb_proj_free(x);
            return NULL;
        }
    }
    return x;
}
