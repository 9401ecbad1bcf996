/*
 * ddb_expr.h — DynamoDB's expression language: parse, evaluate, apply.
 *
 * Five expression kinds share one grammar of document paths and operands:
 * ConditionExpression / FilterExpression / KeyConditionExpression
 * (conditions), UpdateExpression (SET/REMOVE/ADD/DELETE clauses) and
 * ProjectionExpression (comma-separated paths).  The legacy parameters
 * (Expected, AttributeUpdates, KeyConditions, QueryFilter/ScanFilter,
 * AttributesToGet) convert into the same parsed forms.
 *
 * Values are the protocol layer's json-c trees: an item is an object
 * {name: AttributeValue}; an AttributeValue is an object with exactly one
 * of S N B SS NS BS M L NULL BOOL (B and BS hold raw bytes).
 *
 * One request, one context.  The caller makes a ddb_ctx from the request's
 * ExpressionAttributeNames/Values, parses every expression of the request
 * through it (each parse records which placeholders it used), then calls
 * ddb_ctx_check_unused(), which fails when a name or value was used by
 * none of them.  Parsed expressions hold their own references to the
 * values they use and may outlive the context.
 *
 * Errors.  Every failing function writes DynamoDB's ValidationException
 * message into the caller's buffer (err, cap; DDB_ERRMAX is always enough)
 * and returns NULL or -1; the caller reports the error code.
 */
#ifndef NB_DDB_EXPR_H
#define NB_DDB_EXPR_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define DDB_ERRMAX 512          /* = nb_error.message */
#define DDB_EXPR_MAXLEN 4096    /* bytes per expression string */

typedef struct ddb_ctx ddb_ctx;         /* one request's names/values + usage */
typedef struct ddb_cond ddb_cond;       /* a parsed condition */
typedef struct ddb_update ddb_update;   /* a parsed update */
typedef struct ddb_proj ddb_proj;       /* a parsed projection */

typedef enum {
    DDB_CONDITION,       /* ConditionExpression */
    DDB_FILTER,          /* FilterExpression */
    DDB_KEY_CONDITION,   /* KeyConditionExpression */
} ddb_cond_kind;

/* ---- the request context ---------------------------------------------- */

/* names/values: the request's ExpressionAttributeNames/Values objects, or
 * NULL when absent.  Checks their keys ("#x", ":x") and emptiness.  The
 * context keeps references; free with ddb_ctx_free. */
ddb_ctx *ddb_ctx_new(json_object *names, json_object *values, char *err, size_t cap);
void ddb_ctx_free(ddb_ctx *c);
/* After all expressions of the request: 0, or -1 when some name or value
 * was never used ("Value provided in ExpressionAttributeNames unused ..."). */
int ddb_ctx_check_unused(const ddb_ctx *c, char *err, size_t cap);

/* ---- parsing ----------------------------------------------------------- */

ddb_cond *ddb_parse_condition(ddb_ctx *c, ddb_cond_kind kind, const char *s, size_t len,
                              char *err, size_t cap);
ddb_update *ddb_parse_update(ddb_ctx *c, const char *s, size_t len, char *err, size_t cap);
ddb_proj *ddb_parse_projection(ddb_ctx *c, const char *s, size_t len, char *err, size_t cap);

void ddb_cond_free(ddb_cond *x);
void ddb_update_free(ddb_update *x);
void ddb_proj_free(ddb_proj *x);

/* ---- conditions and filters -------------------------------------------- */

/* Evaluates against item (NULL = no item: every attribute is missing).
 * 1 true, 0 false; missing attributes and type mismatches are false, as
 * in DynamoDB.  Never fails today; -1 is reserved for runtime errors. */
int ddb_cond_eval(const ddb_cond *x, json_object *item, char *err, size_t cap);
/* Whether any path of x starts at the top-level attribute `name`. */
bool ddb_cond_uses(const ddb_cond *x, const char *name);
/* a AND b (takes both; either may be NULL, then the other is returned). */
ddb_cond *ddb_cond_and(ddb_cond *a, ddb_cond *b);

/* ---- updates ----------------------------------------------------------- */

/* Applies x to item in place (an object; pass an empty object for an item
 * that does not exist yet).  Every right-hand side is computed from the
 * item as it was before any action, as DynamoDB does.  keys: NULL-terminated
 * names of the table's key attributes, which may not be updated.  On error
 * the item is unchanged.  0 or -1. */
int ddb_update_apply(const ddb_update *x, json_object *item, const char *const *keys,
                     char *err, size_t cap);
/* The distinct top-level attribute names the update writes, in order of
 * appearance; *n gets the count.  Valid while x lives. */
const char *const *ddb_update_names(const ddb_update *x, size_t *n);
/* A projection of the update's target paths: projecting the old and the
 * new item through it gives UpdateItem's UPDATED_OLD / UPDATED_NEW. */
ddb_proj *ddb_update_projection(const ddb_update *x);

/* ---- projections ------------------------------------------------------- */

/* A new item with only the projected paths (nested maps keep their
 * structure, selected list elements compact into a new list in order).
 * Never NULL; an empty object when nothing matched. */
json_object *ddb_project(const ddb_proj *x, json_object *item);
/* The top-level attribute names the projection reads, in order. */
const char *const *ddb_proj_names(const ddb_proj *x, size_t *n);

/* ---- key conditions ---------------------------------------------------- */

typedef enum {
    DDB_KEY_NONE = 0,   /* no sort-key condition */
    DDB_KEY_EQ, DDB_KEY_LT, DDB_KEY_LE, DDB_KEY_GT, DDB_KEY_GE,
    DDB_KEY_BETWEEN, DDB_KEY_BEGINS_WITH,
} ddb_key_op;

typedef struct ddb_keycond {
    json_object *pk;      /* partition key value (borrowed from the cond) */
    ddb_key_op op;        /* sort key condition */
    json_object *v1, *v2; /* operands (v2 only for BETWEEN); borrowed */
} ddb_keycond;

/* Splits a parsed KeyConditionExpression (or converted KeyConditions) for
 * the key schema: pk_name, sk_name (NULL without a sort key); pk_type /
 * sk_type ("S", "N", "B" or NULL to skip the check) from the table's
 * AttributeDefinitions.  0 or -1 ("Query condition missed key schema
 * element: pk", "Query key condition not supported", ...). */
int ddb_key_condition(const ddb_cond *x, const char *pk_name, const char *pk_type,
                      const char *sk_name, const char *sk_type, ddb_keycond *out,
                      char *err, size_t cap);

/* ---- legacy parameters ------------------------------------------------- */

typedef enum {
    DDB_LEGACY_EXPECTED,       /* Expected (+ConditionalOperator) */
    DDB_LEGACY_QUERY_FILTER,   /* QueryFilter */
    DDB_LEGACY_SCAN_FILTER,    /* ScanFilter */
    DDB_LEGACY_KEY_CONDITIONS, /* KeyConditions */
} ddb_legacy_kind;

/* conds: the {attr: Condition / ExpectedAttributeValue} object; op: the
 * ConditionalOperator string or NULL (AND). */
ddb_cond *ddb_legacy_condition(ddb_legacy_kind kind, json_object *conds, const char *op,
                               char *err, size_t cap);
/* AttributeUpdates: {attr: {Action: PUT|ADD|DELETE, Value}} */
ddb_update *ddb_legacy_update(json_object *updates, char *err, size_t cap);
/* AttributesToGet: an array of names. */
ddb_proj *ddb_legacy_projection(json_object *names, char *err, size_t cap);

/* ---- value helpers (shared with the service) --------------------------- */

/* The type code of an AttributeValue ("S", "N", ..., "BOOL") or NULL. */
const char *ddb_xav_type(json_object *av);
/* Deep equality of AttributeValues (N numerically, sets unordered). */
bool ddb_xav_equal(json_object *a, json_object *b);
/* DynamoDB's reserved words (case-insensitive). */
bool ddb_is_reserved(const char *s, size_t len);

#endif
