/*
 * ddb_expr_int.h — the parsed forms shared by the expression module's files
 * (ddb_expr_parse.c, _eval.c, _update.c, _legacy.c).  Not for the service.
 *
 * A document path is a list of elements (a map key or a list index), names
 * already resolved through ExpressionAttributeNames.  Operands and
 * conditions are one node type; values are references taken on the
 * request's AttributeValues, so parsed forms outlive the request context.
 */
#ifndef NB_DDB_EXPR_INT_H
#define NB_DDB_EXPR_INT_H

#include <stdint.h>

#include "core/buf.h"
#include "services/dynamodb/ddb_expr.h"

typedef struct dx_elem {
    char *name;         /* NULL for an index; NUL-terminated copy */
    size_t len;
    uint32_t index;
} dx_elem;

typedef struct dx_path {
    dx_elem *e;
    int n;
} dx_path;

typedef enum {
    /* operands */
    DX_PATH, DX_VALUE, DX_SIZE, DX_IF_NOT_EXISTS, DX_LIST_APPEND, DX_PLUS, DX_MINUS,
    /* conditions */
    DX_EQ, DX_NE, DX_LT, DX_LE, DX_GT, DX_GE, DX_BETWEEN, DX_IN,
    DX_AND, DX_OR, DX_NOT,
    DX_EXISTS, DX_NOT_EXISTS, DX_TYPE, DX_BEGINS, DX_CONTAINS,
} dx_kind;

typedef struct dx_node {
    dx_kind kind;
    bool parens;            /* parse time: written in parentheses */
    dx_path path;           /* DX_PATH */
    json_object *val;       /* DX_VALUE: a reference */
    int n;                  /* children */
    struct dx_node **a;
} dx_node;

struct ddb_cond {
    dx_node *root;
};

typedef enum { DX_SET, DX_REMOVE, DX_ADD, DX_DELETE } dx_action_kind;

typedef struct dx_action {
    dx_action_kind kind;
    dx_path path;
    dx_node *val;           /* SET: the value; ADD/DELETE: a DX_VALUE */
    bool legacy;            /* from AttributeUpdates: ADD appends lists,
                               type errors use the legacy message */
} dx_action;

struct ddb_update {
    dx_action *act;
    int n;
    const char **names;     /* distinct top-level names (into the paths) */
    size_t nnames;
};

struct ddb_proj {
    dx_path *paths;
    int n;
    const char **names;
    size_t nnames;
};

/* Nodes and paths. */
dx_node *dx_node_new(dx_kind k);
void dx_node_add(dx_node *parent, dx_node *child);
void dx_node_free(dx_node *n);
dx_node *dx_value_node(json_object *av);            /* takes a new reference */
void dx_path_push_name(dx_path *p, const char *s, size_t len);
void dx_path_push_index(dx_path *p, uint32_t ix);
void dx_path_free(dx_path *p);
void dx_path_copy(dx_path *dst, const dx_path *src);
/* "[a, b, [3]]" as DynamoDB prints paths in messages. */
void dx_path_str(nb_buf *b, const dx_path *p);
/* Appends name to the array unless present; returns the (grown) array. */
const char **dx_names_add(const char **arr, size_t *n, const char *name);

/* Values. */
json_object *dx_path_get(json_object *item, const dx_path *p);
int dx_compare(json_object *a, json_object *b, int *out);  /* 0 when ordered */
bool dx_contains(json_object *hay, json_object *needle);
bool dx_begins_with(json_object *a, json_object *prefix);
/* "{S:x}" rendering used by BETWEEN messages. */
void dx_av_short(nb_buf *b, json_object *av);
bool dx_is_set_type(const char *t);
/* Whether the content array of a set of type set_type holds elem (a json string). */
bool dx_set_has(const char *set_type, json_object *arr, json_object *elem);

/* ddb_reserved.c */
extern const char *const ddb_reserved_words[];
extern const size_t ddb_reserved_count;

/* Messages. */
int dx_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
