/*
 * ddb_partiql.h — DynamoDB's PartiQL: the statement tree, its parser and
 * its evaluation against items (pure: no storage, no calls).
 *
 * The service (ddb_partiql.c) parses a statement with its Parameters into a
 * pq_stmt, then decides from the table's key schema what the statement
 * reads or writes (a Query, a Scan, one item), and evaluates the WHERE
 * clause, the projection and the SET/REMOVE actions with the functions
 * below.
 *
 * Grammar (keywords case-insensitive; names are identifiers or "quoted";
 * comments -- and / * * /; an optional trailing semicolon):
 *
 *   stmt     SELECT (* | path {, path}) FROM name[.name] [WHERE cond]
 *                [ORDER BY path [ASC|DESC] {, ...}]
 *          | INSERT INTO name VALUE map
 *          | UPDATE name (SET path = expr {, ...} | REMOVE path {, ...})...
 *                [WHERE cond] [RETURNING (ALL|MODIFIED) (OLD|NEW) *]
 *          | DELETE FROM name [WHERE cond] [RETURNING ALL OLD *]
 *          | EXISTS ( SELECT ... )        (a condition in a transaction)
 *   cond     OR / AND / NOT over predicates: expr (= <> != < <= > >=) expr,
 *            expr [NOT] BETWEEN expr AND expr, expr [NOT] IN [..] | (..),
 *            expr IS [NOT] (MISSING|NULL|STRING|NUMBER|...), functions
 *   expr     operands joined by + and -: paths a.b[0]."c d", literals
 *            ('s', 12.5, TRUE, NULL, MISSING, <<..>>, {'k': v}, [..]),
 *            parameters ?, functions size(), list_append(), set_add(), ...
 *
 * Values are the protocol layer's AttributeValue trees (see ddb_item.h).
 * Literals and parameters become AttributeValues at parse time, numbers in
 * canonical text; MISSING is the absence of a value (NULL below).
 */
#ifndef NB_DDB_PARTIQL_H
#define NB_DDB_PARTIQL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PQ_ERRLEN 512
#define PQ_MAX_DEPTH 64    /* nesting of parentheses, functions, literals */

typedef struct pq_elem {
    char *name;            /* map key (NUL-terminated copy), or NULL: list index */
    uint32_t index;
} pq_elem;

typedef struct pq_path {
    pq_elem *e;
    int n;
} pq_path;

typedef enum {
    /* operands */
    PQ_PATH, PQ_VALUE, PQ_MISSING, PQ_ADD, PQ_SUB, PQ_CALL,
    /* conditions */
    PQ_EQ, PQ_NE, PQ_LT, PQ_LE, PQ_GT, PQ_GE,
    PQ_BETWEEN, PQ_IN, PQ_AND, PQ_OR, PQ_NOT, PQ_IS,
} pq_kind;

typedef enum {
    PQ_FN_BEGINS_WITH, PQ_FN_CONTAINS, PQ_FN_SIZE, PQ_FN_ATTRIBUTE_TYPE,
    PQ_FN_EXISTS, PQ_FN_NOT_EXISTS, PQ_FN_LIST_APPEND, PQ_FN_SET_ADD, PQ_FN_SET_DELETE,
} pq_fn;

/* Types of IS. */
typedef enum {
    PQ_IS_MISSING, PQ_IS_NULL, PQ_IS_BOOLEAN, PQ_IS_STRING, PQ_IS_NUMBER,
    PQ_IS_BLOB, PQ_IS_STRUCT, PQ_IS_LIST,
} pq_is_type;

typedef struct pq_node {
    pq_kind kind;
    int op;                /* PQ_CALL: pq_fn; PQ_IS: pq_is_type */
    bool neg;              /* NOT BETWEEN / NOT IN / IS NOT */
    pq_path path;          /* PQ_PATH */
    json_object *val;      /* PQ_VALUE: owned reference */
    int n;                 /* operands (PQ_IN: a[0] then the list) */
    struct pq_node **a;
} pq_node;

typedef enum { PQ_SELECT, PQ_INSERT, PQ_UPDATE, PQ_DELETE, PQ_EXISTS_STMT } pq_stmt_kind;

typedef enum {
    PQ_RET_NONE, PQ_RET_ALL_OLD, PQ_RET_MODIFIED_OLD, PQ_RET_ALL_NEW, PQ_RET_MODIFIED_NEW,
} pq_returning;

typedef struct pq_action {
    bool remove;           /* REMOVE path; else SET path = val */
    pq_path path;
    pq_node *val;
} pq_action;

typedef struct pq_order {
    pq_path path;
    bool desc;
} pq_order;

typedef struct pq_stmt {
    pq_stmt_kind kind;
    char *table;           /* as written, unquoted */
    char *index;           /* SELECT "t"."i": the index, or NULL */
    bool star;             /* SELECT * */
    pq_path *proj;         /* SELECT a, b.c */
    int nproj;
    pq_node *where;        /* or NULL */
    json_object *item;     /* INSERT: the item (an object of AttributeValues) */
    pq_action *act;        /* UPDATE */
    int nact;
    pq_returning ret;
    pq_order *order;
    int norder;
    int nparams;           /* parameters the statement used */
} pq_stmt;

/* Parses len bytes of s; params: the request's Parameters array or NULL.
 * On error returns NULL with DynamoDB's ValidationException message in err
 * ("Statement wasn't well formed, can't be processed: ..." for syntax). */
pq_stmt *pq_parse(const char *s, size_t len, json_object *params, char *err, size_t cap);
void pq_stmt_free(pq_stmt *st);

/* ---- evaluation ----------------------------------------------------------- */

/* The value at p in item (borrowed) or NULL when missing. */
json_object *pq_path_get(json_object *item, const pq_path *p);
/* A condition over item (NULL: no item): true only when it holds; missing
 * operands and type mismatches make predicates false. */
bool pq_cond_true(const pq_node *n, json_object *item);
/* The WHERE's top-level AND operands (n = 1 for anything else). */
int pq_conjuncts(pq_node *where, pq_node **out, int max);
/* When n is "path = value" (either side) on a top-level attribute, its name
 * and the value (borrowed); else NULL. */
const char *pq_key_equality(const pq_node *n, json_object **val);

/* UPDATE: the new item, old with the actions applied (each right side is
 * computed on old).  keys: NULL-terminated key attribute names, which may
 * not change.  NULL on error (message in err). */
json_object *pq_apply(const pq_stmt *st, json_object *old, const char *const *keys, char *err,
                      size_t cap);
/* The attributes MODIFIED OLD / MODIFIED NEW return: the top-level
 * attributes the actions touch, taken from item (new tree). */
json_object *pq_modified(const pq_stmt *st, json_object *item);
/* SELECT's projection of item (new tree; the item itself for *).  Nested
 * paths come out under their last name ("a.b[1]" as "b[1]"). */
json_object *pq_project(const pq_stmt *st, json_object *item);
/* "a.b[1]" -> "b[1]": the projected name of a path, into buf. */
void pq_proj_name(const pq_path *p, char *buf, size_t cap);

#endif
