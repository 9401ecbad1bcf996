/*
 * test_ddb_expr.c — unit test of DynamoDB's expression language
 * (src/services/dynamodb/ddb_expr*.c):
 *
 *   parsing        the five kinds, precedence, keywords, reserved words,
 *                  placeholders, unused names/values, limits, the exact
 *                  ValidationException texts of syntax and semantic errors
 *   evaluation     every comparator and function, nothere attributes and
 *                  type mismatches (false, not errors), exact numbers
 *   updates        SET (+ - if_not_exists list_append, list indexes),
 *                  REMOVE (list shifts), ADD, DELETE, runtime errors, keys,
 *                  the updated names and the UPDATED_OLD/NEW projection
 *   projection     nested maps, list elements compacted in index order
 *   key conditions partition/sort split and the Query errors
 *   legacy         Expected, QueryFilter/ScanFilter, KeyConditions,
 *                  AttributeUpdates, AttributesToGet
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_expr.h"

static int passed, failed;
#include "check.h"

static json_object *J(const char *text)
{
    if (!text)
        return NULL;
    json_object *o = json_tokener_parse(text);
    if (!o) {
        printf("bad test JSON: %s\n", text);
        fflush(stdout);
        abort();
    }
    return o;
}

static void check_str(const char *got, const char *want, const char *what)
{
    if (!check(got && strcmp(got, want) == 0, "%s", what))
        printf("  got:  %s\n  want: %s\n", got ? got : "(null)", want);
}

static void check_json(json_object *got, const char *want, const char *what)
{
    json_object *w = J(want);
    if (!check(got && json_object_equal(got, w), "%s", what))
        printf("  got:  %s\n  want: %s\n", got ? json_object_to_json_string(got) : "(null)", want);
    json_object_put(w);
}

/* ---- parsing ------------------------------------------------------------- */

typedef enum { K_COND, K_FILTER, K_KEY, K_UPDATE, K_PROJ } kind;

/* Parses one expression in a fresh context, then the unused check; returns
 * the error text ("" when good) in err. */
static void parse_one(kind k, const char *expr, const char *names, const char *values, char *err)
{
    json_object *n = J(names), *v = J(values);
    err[0] = 0;
    ddb_ctx *c = ddb_ctx_new(n, v, err, DDB_ERRMAX);
    json_object_put(n);
    json_object_put(v);
    if (!c)
        return;
    size_t len = strlen(expr);
    void *x = NULL;
    if (k == K_UPDATE)
        x = ddb_parse_update(c, expr, len, err, DDB_ERRMAX);
    else if (k == K_PROJ)
        x = ddb_parse_projection(c, expr, len, err, DDB_ERRMAX);
    else
        x = ddb_parse_condition(c, k == K_FILTER ? DDB_FILTER : k == K_KEY ? DDB_KEY_CONDITION : DDB_CONDITION,
                                expr, len, err, DDB_ERRMAX);
    if (x)
        ddb_ctx_check_unused(c, err, DDB_ERRMAX);
    if (k == K_UPDATE)
        ddb_update_free(x);
    else if (k == K_PROJ)
        ddb_proj_free(x);
    else
        ddb_cond_free(x);
    ddb_ctx_free(c);
}

static void perr(kind k, const char *expr, const char *names, const char *values, const char *want)
{
    char err[DDB_ERRMAX], what[256];
    parse_one(k, expr, names, values, err);
    snprintf(what, sizeof what, "error for '%.200s'", expr);
    check_str(err, want, what);
}

static void pok(kind k, const char *expr, const char *names, const char *values)
{
    perr(k, expr, names, values, "");
}

static void test_parse_errors(void)
{
    const char *v = "{\":v\":{\"S\":\"x\"}}";
    pok(K_COND, "a = :v", NULL, v);
    pok(K_COND, "a.b[2].c <> :v", NULL, v);
    pok(K_COND, "  a   =:v  ", NULL, v);
    pok(K_COND, "#n = :v", "{\"#n\":\"name\"}", v);
    pok(K_COND, "a = :v aNd b = :v oR NOT c = :v", NULL, v);
    pok(K_COND, "(a) = :v", NULL, v);
    pok(K_COND, "a IN (:v, :v)", NULL, v);
    pok(K_COND, "a BETWEEN :v AND :v", NULL, v);
    pok(K_COND, "attribute_exists(a) AND begins_with(b, :v) AND size(c) > :n", NULL,
        "{\":v\":{\"S\":\"x\"},\":n\":{\"N\":\"1\"}}");
    perr(K_UPDATE, "ADD hits : incr", NULL, "{\":incr\":{\"N\":\"1\"}}",
         "Invalid UpdateExpression: Syntax error; token: \":\", near: \"hits : incr\"");
    perr(K_UPDATE, "INVALID SYNTAX HERE", NULL, NULL,
         "Invalid UpdateExpression: Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\"");
    perr(K_COND, "a = ", NULL, NULL,
         "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \"");
    perr(K_FILTER, "a", NULL, NULL,
         "Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"a\"");
    perr(K_COND, "a = :v $", NULL, v,
         "Invalid ConditionExpression: Syntax error; token: \"$\", near: \":v $\"");
    perr(K_COND, "a = AND", NULL, NULL,
         "Invalid ConditionExpression: Syntax error; token: \"AND\", near: \"= AND\"");
    perr(K_COND, "", NULL, NULL, "Invalid ConditionExpression: The expression can not be empty;");
    perr(K_UPDATE, "", NULL, NULL, "Invalid UpdateExpression: The expression can not be empty;");
    perr(K_COND, "a = :x", NULL, v,
         "Invalid ConditionExpression: An expression attribute value used in expression is not "
         "defined; attribute value: :x");
    perr(K_UPDATE, "SET #n = :v", NULL, v,
         "Invalid UpdateExpression: An expression attribute name used in the document path is not "
         "defined; attribute name: #n");
    perr(K_PROJ, "a, name", NULL, NULL,
         "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name");
    perr(K_COND, "Status = :v", NULL, v,
         "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Status");
    perr(K_COND, "a = :v", NULL, "{\":v\":{\"S\":\"x\"},\":w\":{\"S\":\"y\"},\":z\":{\"N\":\"1\"}}",
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w, :z}");
    perr(K_COND, "a = :v", "{\"#n\":\"x\"}", v,
         "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}");
    perr(K_COND, "a = :v", "{}", v, "ExpressionAttributeNames must not be empty");
    perr(K_COND, "a = :v", NULL, "{}", "ExpressionAttributeValues must not be empty");
    perr(K_COND, "a = :v", "{\"#a-b\":\"x\"}", v,
         "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#a-b\"");
    perr(K_COND, "((a = :v))", NULL, v,
         "Invalid ConditionExpression: The expression has redundant parentheses;");
    perr(K_COND, "foo(a) = :v", NULL, v, "Invalid ConditionExpression: Invalid function name; function: foo");
    perr(K_COND, "size(a)", NULL, NULL,
         "Invalid ConditionExpression: The function is not allowed to be used this way in an "
         "expression; function: size");
    perr(K_COND, "attribute_exists(a) < :v", NULL, v,
         "Invalid ConditionExpression: The function is not allowed to be used this way in an "
         "expression; function: attribute_exists");
    perr(K_COND, "if_not_exists(a, :v) = :v", NULL, v,
         "Invalid ConditionExpression: The function is not allowed to be used this way in an "
         "expression; function: if_not_exists");
    perr(K_COND, "size(a, a) = :v", NULL, v,
         "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
         "operator or function: size, number of operands: 2");
    perr(K_COND, "attribute_exists(:v)", NULL, v,
         "Invalid ConditionExpression: Operator or function requires a document path; operator or "
         "function: attribute_exists");
    perr(K_COND, "begins_with(a, :n)", NULL, "{\":n\":{\"N\":\"1\"}}",
         "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
         "function: begins_with, operand type: N");
    perr(K_COND, "attribute_type(a, :t)", NULL, "{\":t\":{\"S\":\"X\"}}",
         "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: "
         "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
    perr(K_COND, "attribute_type(a, :n)", NULL, "{\":n\":{\"N\":\"1\"}}",
         "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
         "function: attribute_type, operand type: N");
    perr(K_COND, "size(:n) = :n", NULL, "{\":n\":{\"N\":\"1\"}}",
         "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
         "function: size, operand type: N");
    perr(K_COND, "a = a", NULL, NULL,
         "Invalid ConditionExpression: The first operand must be distinct from the remaining "
         "operands for this operator or function; operator: =, first operand: [a]");
    perr(K_COND, "a BETWEEN :hi AND :lo", NULL, "{\":hi\":{\"N\":\"5\"},\":lo\":{\"N\":\"1\"}}",
         "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than "
         "or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: "
         "AttributeValue: {N:1}");
    perr(K_COND, "a BETWEEN :s AND :n", NULL, "{\":s\":{\"S\":\"a\"},\":n\":{\"N\":\"1\"}}",
         "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and "
         "upper bounds; lower bound operand: AttributeValue: {S:a}, upper bound operand: "
         "AttributeValue: {N:1}");
    perr(K_UPDATE, "SET a = :v SET b = :v", NULL, v,
         "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;");
    perr(K_UPDATE, "SET a = :v, a = :v", NULL, v,
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
         "rewrite one of these paths; path one: [a], path two: [a]");
    perr(K_UPDATE, "SET a.b = :v REMOVE a", NULL, v,
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
         "rewrite one of these paths; path one: [a, b], path two: [a]");
    perr(K_UPDATE, "SET a.b = :v REMOVE a[1]", NULL, v,
         "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
         "rewrite one of these paths; path one: [a, b], path two: [a, [1]]");
    pok(K_UPDATE, "SET a.b = :v, a.c = :v REMOVE d[1], d[2]", NULL, v);
    perr(K_UPDATE, "ADD a :v", NULL, v,
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, "
         "operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND");
    perr(K_UPDATE, "DELETE a :n", NULL, "{\":n\":{\"N\":\"1\"}}",
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
         "DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND");
    perr(K_UPDATE, "SET a = b + :v", NULL, v,
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
         "function: +, operand type: S");
    perr(K_UPDATE, "SET a = list_append(b, :v)", NULL, v,
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
         "function: list_append, operand type: S");
    perr(K_UPDATE, "SET a = if_not_exists(:v, :v)", NULL, v,
         "Invalid UpdateExpression: Operator or function requires a document path; operator or "
         "function: if_not_exists");
    perr(K_UPDATE, "set a = :v remove b add c :n delete d :s", NULL,
         "{\":v\":{\"S\":\"x\"},\":n\":{\"N\":\"1\"},\":s\":{\"SS\":[\"x\"]}}", "");
    perr(K_PROJ, "a, b.c, a", NULL, NULL,
         "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
         "rewrite one of these paths; path one: [a], path two: [a]");

    char big[DDB_EXPR_MAXLEN + 2];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, "a = :v", 6);
    big[sizeof big - 1] = 0;
    perr(K_FILTER, big, NULL, v,
         "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; "
         "expression size: 4097");
    big[DDB_EXPR_MAXLEN] = 0;
    pok(K_FILTER, big, NULL, v);

    /* IN: up to 100 operands. */
    char in[2048] = "a IN (";
    for (int i = 0; i < 101; i++)
        strcat(in, i ? ",:v" : ":v");
    strcat(in, ")");
    perr(K_COND, in, NULL, v,
         "Invalid ConditionExpression: The IN operator is provided with too many operands; number "
         "of operands: 101");
    /* Reserved words: the list and its case-insensitivity. */
    check(ddb_is_reserved("flattern", 8) && ddb_is_reserved("ZONE", 4) && ddb_is_reserved("Abort", 5),
          "reserved words found");
    check(!ddb_is_reserved("attr", 4) && !ddb_is_reserved("", 0), "ordinary names not reserved");
    /* Placeholders used by one expression of a request count for all. */
    json_object *vals = J("{\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"2\"}}");
    char err[DDB_ERRMAX] = "";
    ddb_ctx *c = ddb_ctx_new(NULL, vals, err, sizeof err);
    ddb_update *u = ddb_parse_update(c, "SET x = :a", 10, err, sizeof err);
    ddb_cond *k = ddb_parse_condition(c, DDB_CONDITION, "y = :b", 6, err, sizeof err);
    check(u && k && ddb_ctx_check_unused(c, err, sizeof err) == 0, "usage is shared across a request");
    ddb_update_free(u);
    ddb_cond_free(k);
    ddb_ctx_free(c);
    json_object_put(vals);
}

/* ---- evaluation -------------------------------------------------------------- */

static const char *ITEM =
    "{\"s\":{\"S\":\"hello\"},\"n\":{\"N\":\"10.50\"},\"b\":{\"B\":\"ab\\u0000c\"},"
    "\"ss\":{\"SS\":[\"x\",\"y\"]},\"ns\":{\"NS\":[\"1\",\"2.0\"]},\"bs\":{\"BS\":[\"q\"]},"
    "\"l\":{\"L\":[{\"S\":\"e0\"},{\"N\":\"1\"},{\"M\":{\"k\":{\"S\":\"v\"}}}]},"
    "\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"3\"}}},\"t\":{\"BOOL\":true}}},"
    "\"z\":{\"NULL\":true},\"t\":{\"BOOL\":false},\"big\":{\"N\":\"99999999999999999999999999999999999999\"}}";

static const char *VALS =
    "{\":s\":{\"S\":\"hello\"},\":he\":{\"S\":\"he\"},\":n\":{\"N\":\"10.5\"},\":n2\":{\"N\":\"1E1\"},"
    "\":x\":{\"S\":\"x\"},\":one\":{\"N\":\"1\"},\":two\":{\"N\":\"2\"},\":three\":{\"N\":\"3\"},"
    "\":b\":{\"B\":\"ab\"},\":c0\":{\"B\":\"\\u0000c\"},\":e0\":{\"S\":\"e0\"},\":t\":{\"S\":\"SS\"},"
    "\":five\":{\"N\":\"5\"},\":big\":{\"N\":\"99999999999999999999999999999999999998\"},"
    "\":q\":{\"B\":\"q\"},\":ell\":{\"S\":\"ell\"}}";

static void cond_is(const char *expr, int want)
{
    json_object *v = J(VALS), *item = J(ITEM);
    char err[DDB_ERRMAX] = "";
    ddb_ctx *c = ddb_ctx_new(NULL, v, err, sizeof err);
    ddb_cond *x = ddb_parse_condition(c, DDB_CONDITION, expr, strlen(expr), err, sizeof err);
    int got = x ? ddb_cond_eval(x, item, err, sizeof err) : -2;
    if (!check(got == want, "'%s' evaluates to %d", expr, want))
        printf("  got %d (%s)\n", got, err);
    ddb_cond_free(x);
    ddb_ctx_free(c);
    json_object_put(v);
    json_object_put(item);
}

static void test_eval(void)
{
    cond_is("s = :s", 1);
    cond_is("n = :n", 1);             /* 10.50 = 10.5 exactly */
    cond_is("n > :n2", 1);
    cond_is("n <> :n", 0);
    cond_is("nothere <> :n", 1);
    cond_is("nothere = :n", 0);
    cond_is("s < :n", 0);             /* type mismatch: false */
    cond_is("s >= :he", 1);
    cond_is("b > :b", 1);             /* bytes after a prefix */
    cond_is("big > :big", 1);         /* 38 digits, exactly */
    cond_is("n BETWEEN :one AND :n", 1);
    cond_is("n BETWEEN :one AND :five", 0);
    cond_is("n IN (:one, :n)", 1);
    cond_is("n IN (:one, :two)", 0);
    cond_is("attribute_exists(m.a.b)", 1);
    cond_is("attribute_exists(m.a.c)", 0);
    cond_is("attribute_not_exists(l[3])", 1);
    cond_is("attribute_exists(l[2].k)", 1);
    cond_is("attribute_type(ss, :t)", 1);
    cond_is("attribute_type(s, :t)", 0);
    cond_is("begins_with(s, :he)", 1);
    cond_is("begins_with(b, :b)", 1);
    cond_is("begins_with(n, :he)", 0);
    cond_is("contains(s, :ell)", 1);
    cond_is("contains(b, :c0)", 1);
    cond_is("contains(ss, :x)", 1);
    cond_is("contains(ns, :two)", 1);   /* 2 in {1, 2.0} */
    cond_is("contains(bs, :q)", 1);
    cond_is("contains(l, :e0)", 1);
    cond_is("contains(l, :x)", 0);
    cond_is("contains(n, :one)", 0);
    cond_is("size(s) = :five", 1);
    cond_is("size(b) = :three", 0);
    cond_is("size(b) = :n2", 0);
    cond_is("size(l) = :three", 1);
    cond_is("size(m) = :two", 1);
    cond_is("size(ns) = :two", 1);
    cond_is("size(n) = :one", 0);      /* no size: false, not an error */
    cond_is("size(nothere) = :one", 0);
    cond_is("m.a.b = :three", 1);
    cond_is("l[1] = :one", 1);
    /* Precedence: NOT > AND > OR. */
    cond_is("s = :s OR s = :x AND n = :one", 1);
    cond_is("(s = :s OR s = :x) AND n = :one", 0);
    cond_is("NOT s = :x AND s = :s", 1);
    cond_is("NOT (s = :s AND n = :one)", 1);
    cond_is("NOT NOT s = :s", 1);
}

/* ---- updates ----------------------------------------------------------------- */

static void update_is(const char *expr, const char *vals, const char *item_json, const char *want)
{
    json_object *v = J(vals), *item = J(item_json);
    char err[DDB_ERRMAX] = "";
    static const char *const keys[] = {"pk", NULL};
    ddb_ctx *c = ddb_ctx_new(NULL, v, err, sizeof err);
    ddb_update *u = c ? ddb_parse_update(c, expr, strlen(expr), err, sizeof err) : NULL;
    char what[DDB_ERRMAX];
    snprintf(what, sizeof what, "update '%.200s'", expr);
    if (u && ddb_update_apply(u, item, keys, err, sizeof err) == 0) {
        check_json(item, want, what);
    } else {
        check_str(err, want, what);
        if (u)
            check_json(item, item_json, "failed update leaves the item alone");
    }
    ddb_update_free(u);
    ddb_ctx_free(c);
    json_object_put(v);
    json_object_put(item);
}

static void test_update(void)
{
    const char *v = "{\":v\":{\"S\":\"x\"},\":one\":{\"N\":\"1\"},\":l\":{\"L\":[{\"N\":\"9\"}]},"
                    "\":ss\":{\"SS\":[\"b\",\"c\"]},\":ns\":{\"NS\":[\"2\"]},\":nsall\":{\"NS\":[\"1\",\"2\"]}}";
    update_is("SET a = :v", v, "{}", "{\"a\":{\"S\":\"x\"}}");
    update_is("SET a = n + :one", v, "{\"n\":{\"N\":\"0.5\"}}", "{\"n\":{\"N\":\"0.5\"},\"a\":{\"N\":\"1.5\"}}");
    update_is("SET n = n - :one", v, "{\"n\":{\"N\":\"0.5\"}}", "{\"n\":{\"N\":\"-0.5\"}}");
    update_is("SET a = b + :one", v, "{}",
              "The provided expression refers to an attribute that does not exist in the item");
    update_is("SET a = b + :one", v, "{\"b\":{\"S\":\"x\"}}",
              "An operand in the update expression has an incorrect data type");
    update_is("SET c = if_not_exists(c, :one)", v, "{}", "{\"c\":{\"N\":\"1\"}}");
    update_is("SET c = if_not_exists(c, :one)", v, "{\"c\":{\"N\":\"7\"}}", "{\"c\":{\"N\":\"7\"}}");
    update_is("SET l = list_append(l, :l)", v, "{\"l\":{\"L\":[{\"N\":\"1\"}]}}",
              "{\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"9\"}]}}");
    update_is("SET l = list_append(:l, l)", v, "{\"l\":{\"L\":[{\"N\":\"1\"}]}}",
              "{\"l\":{\"L\":[{\"N\":\"9\"},{\"N\":\"1\"}]}}");
    update_is("SET l = list_append(l, :l)", v, "{\"l\":{\"S\":\"x\"}}",
              "An operand in the update expression has an incorrect data type");
    update_is("SET l[7] = :v", v, "{\"l\":{\"L\":[{\"N\":\"1\"}]}}",
              "{\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]}}");
    update_is("SET l[0] = :v", v, "{\"l\":{\"L\":[{\"N\":\"1\"}]}}", "{\"l\":{\"L\":[{\"S\":\"x\"}]}}");
    update_is("SET m.k = :v", v, "{\"m\":{\"M\":{}}}", "{\"m\":{\"M\":{\"k\":{\"S\":\"x\"}}}}");
    update_is("SET m.k = :v", v, "{}", "The document path provided in the update expression is invalid for update");
    update_is("SET m.k = :v", v, "{\"m\":{\"S\":\"x\"}}",
              "The document path provided in the update expression is invalid for update");
    /* Values come from the item before the update: a swap works. */
    update_is("SET a = b, b = a", v, "{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"}}",
              "{\"a\":{\"N\":\"2\"},\"b\":{\"N\":\"1\"}}");
    update_is("REMOVE a, l[0], l[2]", v,
              "{\"a\":{\"N\":\"1\"},\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"},{\"N\":\"3\"}]}}",
              "{\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"3\"}]}}");
    update_is("REMOVE nothere, l[9]", v, "{\"l\":{\"L\":[]}}", "{\"l\":{\"L\":[]}}");
    update_is("ADD n :one", v, "{}", "{\"n\":{\"N\":\"1\"}}");
    update_is("ADD n :one", v, "{\"n\":{\"N\":\"41\"}}", "{\"n\":{\"N\":\"42\"}}");
    update_is("ADD s :ss", v, "{\"s\":{\"SS\":[\"a\",\"b\"]}}", "{\"s\":{\"SS\":[\"a\",\"b\",\"c\"]}}");
    update_is("ADD s :ss", v, "{}", "{\"s\":{\"SS\":[\"b\",\"c\"]}}");
    update_is("ADD s :ns", v, "{\"s\":{\"SS\":[\"a\"]}}",
              "An operand in the update expression has an incorrect data type");
    update_is("ADD n :one", v, "{\"n\":{\"S\":\"1\"}}",
              "An operand in the update expression has an incorrect data type");
    update_is("DELETE s :ns", v, "{\"s\":{\"NS\":[\"1\",\"2.00\"]}}", "{\"s\":{\"NS\":[\"1\"]}}");
    update_is("DELETE s :nsall", v, "{\"s\":{\"NS\":[\"1\",\"2\"]}}", "{}");
    update_is("DELETE s :ss", v, "{}", "{}");
    update_is("DELETE s :ss", v, "{\"s\":{\"NS\":[\"1\"]}}",
              "An operand in the update expression has an incorrect data type");
    update_is("SET pk = :v", v, "{}",
              "One or more parameter values were invalid: Cannot update attribute pk. This attribute is "
              "part of the key");
    /* The documented example: SET Price = Price - :p (from the Developer Guide). */
    update_is("SET Price = Price - :p", "{\":p\":{\"N\":\"15\"}}", "{\"Price\":{\"N\":\"650\"}}",
              "{\"Price\":{\"N\":\"635\"}}");
    update_is("SET a = n + :one", "{\":one\":{\"N\":\"0.1\"}}",
              "{\"n\":{\"N\":\"99999999999999999999999999999999999999\"}}",
              /* DynamoDB answers an inexact sum with its overflow message
               * (ScyllaDB's test_update_expression_plus_imprecise, run
               * against DynamoDB; see ddb_num.h). */
              "Number overflow. Attempting to store a number with magnitude larger than "
              "supported range");

    /* Updated names and the UPDATED_OLD/NEW projection. */
    json_object *vals = J(v), *item = J("{\"m\":{\"M\":{\"k\":{\"S\":\"old\"},\"o\":{\"S\":\"keep\"}}},\"q\":{\"N\":\"1\"}}");
    char err[DDB_ERRMAX];
    ddb_ctx *c = ddb_ctx_new(NULL, vals, err, sizeof err);
    const char *e = "SET m.k = :v, z = :one REMOVE q";
    ddb_update *u = ddb_parse_update(c, e, strlen(e), err, sizeof err);
    size_t n;
    const char *const *names = ddb_update_names(u, &n);
    check(n == 3 && !strcmp(names[0], "m") && !strcmp(names[1], "z") && !strcmp(names[2], "q"),
          "update names in order");
    ddb_proj *p = ddb_update_projection(u);
    json_object *old = ddb_project(p, item);
    check_json(old, "{\"m\":{\"M\":{\"k\":{\"S\":\"old\"}}},\"q\":{\"N\":\"1\"}}", "UPDATED_OLD");
    check(ddb_update_apply(u, item, NULL, err, sizeof err) == 0, "apply");
    json_object *nw = ddb_project(p, item);
    check_json(nw, "{\"m\":{\"M\":{\"k\":{\"S\":\"x\"}}},\"z\":{\"N\":\"1\"}}", "UPDATED_NEW");
    json_object_put(old);
    json_object_put(nw);
    ddb_proj_free(p);
    ddb_update_free(u);
    ddb_ctx_free(c);
    json_object_put(vals);
    json_object_put(item);
}

/* ---- projection ---------------------------------------------------------------- */

static void project_is(const char *expr, const char *names, const char *want)
{
    json_object *n = J(names), *item = J(ITEM);
    char err[DDB_ERRMAX] = "";
    ddb_ctx *c = ddb_ctx_new(n, NULL, err, sizeof err);
    ddb_proj *p = ddb_parse_projection(c, expr, strlen(expr), err, sizeof err);
    json_object *got = p ? ddb_project(p, item) : NULL;
    char what[DDB_ERRMAX + 64];
    snprintf(what, sizeof what, "projection '%s' (%s)", expr, err);
    check_json(got, want, what);
    json_object_put(got);
    ddb_proj_free(p);
    ddb_ctx_free(c);
    json_object_put(n);
    json_object_put(item);
}

static void test_projection(void)
{
    project_is("s, n", NULL, "{\"s\":{\"S\":\"hello\"},\"n\":{\"N\":\"10.50\"}}");
    project_is("m.a.b, nothere", NULL, "{\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"3\"}}}}}}");
    project_is("l[2].k, l[0], l[9]", NULL,
               "{\"l\":{\"L\":[{\"S\":\"e0\"},{\"M\":{\"k\":{\"S\":\"v\"}}}]}}");
    project_is("m.nope", NULL, "{}");
    project_is("#x.#y", "{\"#x\":\"m\",\"#y\":\"t\"}", "{\"m\":{\"M\":{\"t\":{\"BOOL\":true}}}}");
}

/* ---- key conditions ------------------------------------------------------------- */

static void key_is(const char *expr, const char *sk_type, const char *want_err, ddb_key_op want_op)
{
    json_object *v = J("{\":p\":{\"S\":\"P\"},\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"2\"},\":s\":{\"S\":\"x\"}}");
    char err[DDB_ERRMAX] = "";
    ddb_ctx *c = ddb_ctx_new(NULL, v, err, sizeof err);
    ddb_cond *x = ddb_parse_condition(c, DDB_KEY_CONDITION, expr, strlen(expr), err, sizeof err);
    ddb_keycond kc;
    int rc = x ? ddb_key_condition(x, "pk", "S", "sk", sk_type, &kc, err, sizeof err) : -1;
    char what[256];
    snprintf(what, sizeof what, "key condition '%.200s'", expr);
    if (want_err) {
        check_str(rc ? err : "", want_err, what);
    } else if (check(rc == 0 && kc.op == want_op && kc.pk, "%s: op %d", what, want_op)) {
        check_str(json_object_get_string(json_object_object_get(kc.pk, "S")), "P", "partition value");
        if (want_op == DDB_KEY_BETWEEN)
            check(kc.v1 && kc.v2, "BETWEEN operands");
    } else {
        printf("  rc %d op %d err %s\n", rc, kc.op, err);
    }
    ddb_cond_free(x);
    ddb_ctx_free(c);
    json_object_put(v);
}

static void test_key_conditions(void)
{
    key_is("pk = :p", "N", NULL, DDB_KEY_NONE);
    key_is("pk = :p AND sk < :a", "N", NULL, DDB_KEY_LT);
    key_is(":a < sk AND pk = :p", "N", NULL, DDB_KEY_GT);
    key_is("pk = :p AND sk BETWEEN :a AND :b", "N", NULL, DDB_KEY_BETWEEN);
    key_is("pk = :p AND begins_with(sk, :s)", "S", NULL, DDB_KEY_BEGINS_WITH);
    key_is("sk = :a", "N", "Query condition missed key schema element: pk", 0);
    key_is("pk < :p", "N", "Query key condition not supported", 0);
    key_is("pk = :p AND x = :a", "N", "Query key condition not supported", 0);
    key_is("pk = :p OR sk = :a", "N", "Invalid operator used in KeyConditionExpression: OR", 0);
    key_is("pk = :p AND sk <> :a", "N", "Invalid operator used in KeyConditionExpression: <>", 0);
    key_is("pk = :p AND attribute_exists(sk)", "N",
           "Invalid operator used in KeyConditionExpression: attribute_exists", 0);
    key_is("pk = :p AND pk = :p", "N", "KeyConditionExpressions must only contain one condition per key", 0);
    key_is("pk = :p AND sk.x = :a", "N", "KeyConditionExpressions cannot have conditions on nested attributes", 0);
    key_is("pk = :p AND size(sk) = :a", "N", "KeyConditionExpressions cannot contain nested operations", 0);
    key_is("pk = :p AND sk = pk", "N",
           "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition", 0);
    key_is("pk = :p AND sk = :s", "N",
           "One or more parameter values were invalid: Condition parameter type does not match schema type", 0);
}

/* ---- legacy ------------------------------------------------------------------------ */

static void legacy_is(ddb_legacy_kind k, const char *conds, const char *op, const char *item, int want)
{
    json_object *c = J(conds), *it = J(item);
    char err[DDB_ERRMAX] = "";
    ddb_cond *x = ddb_legacy_condition(k, c, op, err, sizeof err);
    int got = x ? ddb_cond_eval(x, it, err, sizeof err) : -1;
    if (!check(got == want, "legacy %s -> %d", conds, want))
        printf("  got %d (%s)\n", got, err);
    ddb_cond_free(x);
    json_object_put(c);
    json_object_put(it);
}

static void legacy_err(ddb_legacy_kind k, const char *conds, const char *want)
{
    json_object *c = J(conds);
    char err[DDB_ERRMAX] = "";
    ddb_cond *x = ddb_legacy_condition(k, c, NULL, err, sizeof err);
    check_str(x ? "" : err, want, conds);
    ddb_cond_free(x);
    json_object_put(c);
}

static void test_legacy(void)
{
    const char *item = "{\"a\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},\"ss\":{\"SS\":[\"x\"]}}";
    legacy_is(DDB_LEGACY_EXPECTED, "{\"a\":{\"Value\":{\"N\":\"5.0\"}}}", NULL, item, 1);
    legacy_is(DDB_LEGACY_EXPECTED, "{\"a\":{\"Exists\":false}}", NULL, item, 0);
    legacy_is(DDB_LEGACY_EXPECTED, "{\"zz\":{\"Exists\":false}}", NULL, item, 1);
    legacy_is(DDB_LEGACY_EXPECTED, "{\"a\":{\"ComparisonOperator\":\"GT\",\"AttributeValueList\":[{\"N\":\"4\"}]}}",
              NULL, item, 1);
    legacy_is(DDB_LEGACY_EXPECTED, "{\"a\":{\"Value\":{\"N\":\"1\"}},\"s\":{\"Value\":{\"S\":\"hello\"}}}",
              "OR", item, 1);
    legacy_is(DDB_LEGACY_EXPECTED, "{\"a\":{\"Value\":{\"N\":\"1\"}},\"s\":{\"Value\":{\"S\":\"hello\"}}}",
              "AND", item, 0);
    legacy_is(DDB_LEGACY_SCAN_FILTER, "{\"s\":{\"ComparisonOperator\":\"BEGINS_WITH\",\"AttributeValueList\":[{\"S\":\"he\"}]}}",
              NULL, item, 1);
    legacy_is(DDB_LEGACY_SCAN_FILTER, "{\"ss\":{\"ComparisonOperator\":\"CONTAINS\",\"AttributeValueList\":[{\"S\":\"x\"}]}}",
              NULL, item, 1);
    legacy_is(DDB_LEGACY_SCAN_FILTER, "{\"zz\":{\"ComparisonOperator\":\"NOT_CONTAINS\",\"AttributeValueList\":[{\"S\":\"x\"}]}}",
              NULL, item, 0);
    legacy_is(DDB_LEGACY_QUERY_FILTER, "{\"a\":{\"ComparisonOperator\":\"BETWEEN\",\"AttributeValueList\":[{\"N\":\"1\"},{\"N\":\"5\"}]}}",
              NULL, item, 1);
    legacy_is(DDB_LEGACY_QUERY_FILTER, "{\"a\":{\"ComparisonOperator\":\"IN\",\"AttributeValueList\":[{\"N\":\"1\"},{\"N\":\"5\"}]}}",
              NULL, item, 1);
    legacy_is(DDB_LEGACY_SCAN_FILTER, "{\"a\":{\"ComparisonOperator\":\"NULL\"}}", NULL, item, 0);
    legacy_is(DDB_LEGACY_SCAN_FILTER, "{\"a\":{\"ComparisonOperator\":\"NOT_NULL\"}}", NULL, item, 1);
    legacy_err(DDB_LEGACY_SCAN_FILTER, "{\"a\":{\"ComparisonOperator\":\"EQ\",\"AttributeValueList\":[]}}",
               "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator");
    legacy_err(DDB_LEGACY_SCAN_FILTER, "{\"a\":{\"ComparisonOperator\":\"LT\",\"AttributeValueList\":[{\"SS\":[\"x\"]}]}}",
               "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type");
    legacy_err(DDB_LEGACY_SCAN_FILTER, "{\"a\":{\"ComparisonOperator\":\"BETWEEN\",\"AttributeValueList\":[{\"N\":\"5\"},{\"N\":\"1\"}]}}",
               "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound");
    legacy_err(DDB_LEGACY_EXPECTED, "{\"a\":{\"Exists\":true}}",
               "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a");
    legacy_err(DDB_LEGACY_EXPECTED, "{\"a\":{\"Exists\":false,\"Value\":{\"N\":\"1\"}}}",
               "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a");
    legacy_err(DDB_LEGACY_EXPECTED, "{\"a\":{\"ComparisonOperator\":\"EQ\",\"Exists\":true,\"Value\":{\"N\":\"1\"}}}",
               "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a");
    legacy_err(DDB_LEGACY_KEY_CONDITIONS, "{\"a\":{\"ComparisonOperator\":\"NE\",\"AttributeValueList\":[{\"N\":\"1\"}]}}",
               "Attempted conditional constraint is not an indexable operation");

    /* KeyConditions through the same key split. */
    json_object *kc = J("{\"pk\":{\"ComparisonOperator\":\"EQ\",\"AttributeValueList\":[{\"S\":\"P\"}]},"
                        "\"sk\":{\"ComparisonOperator\":\"GE\",\"AttributeValueList\":[{\"N\":\"1\"}]}}");
    char err[DDB_ERRMAX] = "";
    ddb_cond *x = ddb_legacy_condition(DDB_LEGACY_KEY_CONDITIONS, kc, NULL, err, sizeof err);
    ddb_keycond k;
    check(x && ddb_key_condition(x, "pk", "S", "sk", "N", &k, err, sizeof err) == 0 && k.op == DDB_KEY_GE,
          "KeyConditions split (%s)", err);
    ddb_cond_free(x);
    json_object_put(kc);

    /* AttributeUpdates. */
    json_object *upd = J("{\"a\":{\"Action\":\"PUT\",\"Value\":{\"S\":\"v\"}},\"n\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"2\"}},"
                         "\"l\":{\"Action\":\"ADD\",\"Value\":{\"L\":[{\"N\":\"2\"}]}},\"d\":{\"Action\":\"DELETE\"}}");
    json_object *it = J("{\"n\":{\"N\":\"1\"},\"l\":{\"L\":[{\"N\":\"1\"}]},\"d\":{\"S\":\"x\"}}");
    ddb_update *u = ddb_legacy_update(upd, err, sizeof err);
    check(u && ddb_update_apply(u, it, NULL, err, sizeof err) == 0, "AttributeUpdates apply (%s)", err);
    check_json(it, "{\"a\":{\"S\":\"v\"},\"n\":{\"N\":\"3\"},\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}}",
               "AttributeUpdates result");
    ddb_update_free(u);
    json_object_put(upd);
    json_object_put(it);
    upd = J("{\"a\":{\"Action\":\"PUT\"}}");
    u = ddb_legacy_update(upd, err, sizeof err);
    check_str(u ? "" : err, "One or more parameter values were invalid: Only DELETE action is allowed when no "
              "attribute value is specified", "PUT without a value");
    ddb_update_free(u);
    json_object_put(upd);
    upd = J("{\"a\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"1\"}}}");
    it = J("{\"a\":{\"S\":\"x\"}}");
    u = ddb_legacy_update(upd, err, sizeof err);
    check(u && ddb_update_apply(u, it, NULL, err, sizeof err) != 0, "legacy ADD type mismatch");
    check_str(err, "Type mismatch for attribute to update", "legacy ADD type mismatch message");
    ddb_update_free(u);
    json_object_put(upd);
    json_object_put(it);

    /* AttributesToGet. */
    json_object *names = J("[\"a\",\"s\"]");
    it = J(item);
    ddb_proj *p = ddb_legacy_projection(names, err, sizeof err);
    json_object *got = ddb_project(p, it);
    check_json(got, "{\"a\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"}}", "AttributesToGet");
    json_object_put(got);
    ddb_proj_free(p);
    json_object_put(names);
    json_object_put(it);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    test_parse_errors();
    test_eval();
    test_update();
    test_projection();
    test_key_conditions();
    test_legacy();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
