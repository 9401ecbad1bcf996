/*
 * test_ddb_partiql.c — unit test of DynamoDB's PartiQL parser and evaluator
 * (src/services/dynamodb/ddb_partiql_parse.c, ddb_partiql_eval.c):
 *
 *   parsing     each statement kind, names, literals and their
 *               AttributeValues, parameters, comments, precedence, the
 *               exact ValidationException texts of syntax and semantic
 *               errors, depth limits
 *   evaluation  comparisons, BETWEEN, IN, IS [NOT] MISSING/NULL/types,
 *               functions, missing attributes, exact numbers
 *   updates     SET arithmetic, list_append, set_add/set_delete, nested
 *               paths, REMOVE, key attributes, runtime errors
 *   projection  nested paths under their last name, MODIFIED attributes
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_partiql.h"

static int passed, failed;
#include "check.h"

#define MALFORMED "Statement wasn't well formed, can't be processed: "

static json_object *J(const char *text)
{
    if (!text)
        return NULL;
    json_object *o = json_tokener_parse(text);
    if (!o) {
        printf("bad test JSON: %s\n", text);
        abort();
    }
    return o;
}

static void check_json(json_object *got, const char *want, const char *what)
{
    json_object *w = J(want);
    if (!check(got && json_object_equal(got, w), "%s", what))
        printf("  got:  %s\n  want: %s\n", got ? json_object_to_json_string(got) : "(null)", want);
    json_object_put(w);
}

static pq_stmt *P(const char *s, const char *params)
{
    json_object *p = J(params);
    char err[PQ_ERRLEN];
    pq_stmt *st = pq_parse(s, strlen(s), p, err, sizeof err);
    json_object_put(p);
    if (!check(st != NULL, "parses: %s", s))
        printf("  error: %s\n", err);
    return st;
}

/* The parse fails with a message starting with want. */
static void perr(const char *s, const char *params, const char *want)
{
    json_object *p = J(params);
    char err[PQ_ERRLEN];
    pq_stmt *st = pq_parse(s, strlen(s), p, err, sizeof err);
    json_object_put(p);
    if (!check(!st && strncmp(err, want, strlen(want)) == 0, "error for: %s", s))
        printf("  got:  %s\n  want: %s...\n", st ? "(parsed)" : err, want);
    pq_stmt_free(st);
}

/* WHERE of "SELECT * FROM t WHERE <cond>" over item. */
static void cond(const char *where, const char *item, bool want)
{
    char s[1024];
    snprintf(s, sizeof s, "SELECT * FROM t WHERE %s", where);
    pq_stmt *st = P(s, NULL);
    if (!st)
        return;
    json_object *it = J(item);
    bool got = pq_cond_true(st->where, it);
    check(got == want, "%s on %s: got %d", where, item ? item : "(none)", got);
    json_object_put(it);
    pq_stmt_free(st);
}

static void test_statements(void)
{
    pq_stmt *st = P("SELECT * FROM \"Music\".\"ByArtist\" WHERE Artist = 'x' ORDER BY SongTitle DESC", NULL);
    if (st) {
        check(st->kind == PQ_SELECT && st->star, "select *");
        check(strcmp(st->table, "Music") == 0 && st->index && strcmp(st->index, "ByArtist") == 0, "table.index");
        check(st->norder == 1 && st->order[0].desc, "order by desc");
        check(st->where && st->where->kind == PQ_EQ, "where =");
    }
    pq_stmt_free(st);

    st = P("select a, b.c[2], \"d e\" from t", NULL);
    if (st) {
        check(st->nproj == 3 && !st->star, "projection list");
        check(st->proj[1].n == 3 && st->proj[1].e[2].name == NULL && st->proj[1].e[2].index == 2, "path b.c[2]");
        check(strcmp(st->proj[2].e[0].name, "d e") == 0, "quoted name");
        char nm[64];
        pq_proj_name(&st->proj[1], nm, sizeof nm);
        check(strcmp(nm, "c[2]") == 0, "projected name c[2]: %s", nm);
    }
    pq_stmt_free(st);

    st = P("INSERT INTO t VALUE {'pk': 'a', 'n': -1.50e1, 'b': TRUE, 'z': null, 'ss': <<'x','y'>>,"
           " 'ns': <<1, 2.0>>, 'l': [1, 'x', [ ]], 'm': {'k': {}}, 'q': 'it''s', 'p': ?}",
           "[{\"B\":\"raw\"}]");
    if (st) {
        check(st->kind == PQ_INSERT && st->nparams == 1, "insert");
        check_json(st->item,
                   "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"-15\"},\"b\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
                   "\"ss\":{\"SS\":[\"x\",\"y\"]},\"ns\":{\"NS\":[\"1\",\"2\"]},"
                   "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"},{\"L\":[]}]},\"m\":{\"M\":{\"k\":{\"M\":{}}}},"
                   "\"q\":{\"S\":\"it's\"},\"p\":{\"B\":\"raw\"}}",
                   "insert item literals");
    }
    pq_stmt_free(st);

    st = P("UPDATE t SET a = a + 1, b.c[0] = 'x' REMOVE d, e[1] SET f = list_append(f, [1])"
           " WHERE pk = 'k' AND a > 0 RETURNING MODIFIED NEW *", NULL);
    if (st) {
        check(st->kind == PQ_UPDATE && st->nact == 5, "update actions: %d", st->nact);
        check(!st->act[0].remove && st->act[0].val->kind == PQ_ADD, "SET a = a + 1");
        check(st->act[2].remove && st->act[3].remove, "REMOVE d, e[1]");
        check(st->ret == PQ_RET_MODIFIED_NEW, "returning");
    }
    pq_stmt_free(st);

    st = P("DELETE FROM \"t\" WHERE pk = 1 RETURNING ALL OLD *;", NULL);
    check(st && st->kind == PQ_DELETE && st->ret == PQ_RET_ALL_OLD, "delete returning");
    pq_stmt_free(st);

    st = P("EXISTS (SELECT * FROM t WHERE pk = 'a' AND x = 1)", NULL);
    check(st && st->kind == PQ_EXISTS_STMT && st->where, "exists statement");
    pq_stmt_free(st);

    st = P("-- leading comment\nSELECT /* inline */ * FROM t -- trailing", NULL);
    check(st != NULL, "comments");
    pq_stmt_free(st);

    /* precedence: a OR b AND c == a OR (b AND c) */
    st = P("SELECT * FROM t WHERE a = 1 OR b = 2 AND c = 3", NULL);
    check(st && st->where->kind == PQ_OR && st->where->a[1]->kind == PQ_AND, "AND binds tighter than OR");
    pq_stmt_free(st);
    st = P("SELECT * FROM t WHERE a BETWEEN 1 AND 2 AND b = 3", NULL);
    check(st && st->where->kind == PQ_AND && st->where->n == 2 && st->where->a[0]->kind == PQ_BETWEEN,
          "BETWEEN's AND");
    pq_stmt_free(st);

    /* conjuncts and key equalities */
    st = P("SELECT * FROM t WHERE (pk = 'a' AND 5 = sk) AND x > 1", NULL);
    if (st) {
        pq_node *cs[8];
        int n = pq_conjuncts(st->where, cs, 8);
        json_object *v = NULL;
        check(n == 3, "conjuncts flattened: %d", n);
        const char *k = n == 3 ? pq_key_equality(cs[1], &v) : NULL;
        check(k && strcmp(k, "sk") == 0 && v, "reversed equality names sk");
        check(n == 3 && !pq_key_equality(cs[2], &v), "x > 1 is no equality");
    }
    pq_stmt_free(st);
}

static void test_errors(void)
{
    perr("", NULL, MALFORMED);
    perr("SELECT * FROM", NULL, MALFORMED);
    perr("SELEC * FROM t", NULL, MALFORMED);
    perr("SELECT * FROM t WHERE", NULL, MALFORMED);
    perr("SELECT * FROM t WHERE a = ", NULL, MALFORMED);
    perr("SELECT * FROM t extra", NULL, MALFORMED);
    perr("SELECT * FROM t; SELECT * FROM t", NULL, MALFORMED);
    perr("SELECT * FROM t WHERE a = 'open", NULL, MALFORMED);
    perr("SELECT * FROM t /* open", NULL, MALFORMED);
    perr("SELECT * FROM t WHERE pad = 1", NULL, MALFORMED "Unexpected keyword");
    perr("SELECT * FROM t WHERE a = 1 ~ 2", NULL, MALFORMED);
    perr("DELETE t WHERE a = 1", NULL, MALFORMED);
    perr("UPDATE t WHERE a = 1", NULL, MALFORMED);
    perr("SELECT * FROM t WHERE a = ?", NULL, "Number of parameters in request and statement don't match.");
    perr("SELECT * FROM t WHERE a = ? AND b = ?", "[{\"S\":\"x\"}]",
         "Number of parameters in request and statement don't match.");
    perr("SELECT *, a FROM t", NULL, "Other attributes should not be present in the projection when '*' is used.");
    perr("SELECT a.z, z FROM t", NULL, "Duplicate identifiers in select clause: z");
    perr("SELECT * FROM t LIMIT 1", NULL, "Unsupported clause: LIMIT");
    perr("SELECT * FROM t WHERE a = MISSING", NULL, "MISSING must be compared using IS operator");
    perr("INSERT INTO t VALUE {'a': <<>>}", NULL, "Empty bags are not supported");
    perr("INSERT INTO t VALUE {'a': <<1, 'x'>>}", NULL, "Unsupported data type in Bag.");
    perr("INSERT INTO t VALUE {'a': <<?>>}", "[{\"S\":\"x\"}]", "Unsupported data type in Bag.");
    perr("INSERT INTO t VALUE {'a': 1, 'a': 2}", NULL, "Duplicate keys in tuple.");
    perr("INSERT INTO t VALUES {'a': 1}", NULL, "Unsupported operation: Inserting multiple items");
    perr("INSERT INTO t VALUE 'x'", NULL, "Unsupported format in item expression.");
    perr("INSERT INTO t VALUE {'a': 1} RETURNING ALL OLD *", NULL, "RETURNING is not supported in INSERT");
    perr("DELETE FROM t WHERE a = 1 RETURNING ALL NEW *", NULL, "Invalid returning clause: ");
    perr("UPDATE t SET a = 1 WHERE k = 1 RETURNING ALL NEW", NULL, "Expected '*' after");
    perr("INSERT INTO t VALUE {'n': 1e200}", NULL, "Number overflow");
    perr("INSERT INTO t VALUE {'n': 123456789012345678901234567890123456789}", NULL,
         "Attempting to store more than 38 significant digits in a Number");
    perr("SELECT * FROM t WHERE unknown_fn(a)", NULL, "Unrecognized function: unknown_fn");
    perr("SELECT * FROM t WHERE size(a, b) = 1", NULL, MALFORMED);
    perr("SELECT * FROM t WHERE a IS WHATEVER", NULL, "Unsupported data type for IS operator: WHATEVER");
    perr("SELECT * FROM t WHERE a IN []", NULL, "IN operator must have");
    perr("SELECT * FROM \"a\".\"b\".\"c\"", NULL, "A path may contain at most 2 components");
    perr("UPDATE \"a\".\"b\" SET x = 1", NULL, "This operation is not supported on an index");

    /* Depth: deep nesting fails cleanly instead of exhausting the stack. */
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "SELECT * FROM t WHERE ");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '(';
    deep[n] = 0;
    perr(deep, NULL, MALFORMED);
    n = (size_t)snprintf(deep, sizeof deep, "INSERT INTO t VALUE {'a': ");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    deep[n] = 0;
    perr(deep, NULL, MALFORMED);
}

static void test_eval(void)
{
    const char *it = "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"10\"},\"s\":{\"S\":\"hello\"},\"b\":{\"B\":\"xyz\"},"
                     "\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},\"ss\":{\"SS\":[\"a\",\"b\"]},"
                     "\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},"
                     "\"m\":{\"M\":{\"k\":{\"L\":[{\"N\":\"7\"}]}}}}";
    cond("n = 10", it, true);
    cond("n = 10.0", it, true);
    cond("n = '10'", it, false);
    cond("n <> 11", it, true);
    cond("nothere <> 11", it, true);
    cond("n < 11 AND n <= 10 AND n > 9 AND n >= 10", it, true);
    cond("n > 'a'", it, false);
    cond("s > 'hell' AND s < 'help'", it, true);
    cond("n BETWEEN 1 AND 10", it, true);
    cond("n NOT BETWEEN 1 AND 10", it, false);
    cond("n IN [1, 10]", it, true);
    cond("n NOT IN (1, 2)", it, true);
    cond("s IN ['x']", it, false);
    cond("nothere IS MISSING", it, true);
    cond("n IS NOT MISSING", it, true);
    cond("z IS NULL AND nothere IS NULL AND n IS NOT NULL", it, true);
    cond("t IS BOOLEAN AND s IS STRING AND n IS NUMBER AND b IS BLOB AND m IS STRUCT AND l IS LIST", it, true);
    cond("s IS NUMBER", it, false);
    cond("begins_with(s, 'he')", it, true);
    cond("begins_with(s, 'lo')", it, false);
    cond("begins_with(n, '1')", it, false);
    cond("contains(s, 'ell') AND contains(ss, 'b') AND contains(ns, 2.50) AND contains(l, 'x')", it, true);
    cond("contains(ss, 'c')", it, false);
    cond("size(s) = 5 AND size(ss) = 2 AND size(m) = 1 AND size(l) = 2", it, true);
    cond("attribute_type(s, 'S') AND attribute_type(ns, 'NS')", it, true);
    cond("attribute_type(s, 'N')", it, false);
    cond("attribute_exists(s) AND attribute_not_exists(nothere)", it, true);
    cond("m.k[0] = 7 AND l[1] = 'x' AND m.k[5] IS MISSING AND m['k'][0] = 7", it, true);
    cond("n + 5 = 15 AND n - 20 = -10", it, true);
    cond("NOT (n = 1 OR s = 'x')", it, true);
    cond("t", it, true);
    cond("t = TRUE AND z = NULL", it, true);
    cond("n = 10", NULL, false);
    cond("nothere IS MISSING", NULL, true);
    cond("n = 99999999999999999999999999999999999999", it, false);
}

static json_object *apply(const char *stmt, const char *item, char *err)
{
    pq_stmt *st = P(stmt, NULL);
    if (!st)
        return NULL;
    json_object *old = J(item);
    const char *keys[] = {"pk", NULL};
    err[0] = 0;
    json_object *nw = pq_apply(st, old, keys, err, PQ_ERRLEN);
    json_object_put(old);
    pq_stmt_free(st);
    return nw;
}

static void test_updates(void)
{
    char err[PQ_ERRLEN];
    const char *it = "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"10\"},\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]},"
                     "\"ss\":{\"SS\":[\"a\"]},\"m\":{\"M\":{\"x\":{\"N\":\"1\"}}}}";
    json_object *nw = apply("UPDATE t SET n = n + 0.5, n2 = n, l = list_append([0], l), ss = set_add(ss, <<'b', 'a'>>),"
                            " m.y = {'z': 1}, l[9] = 3 REMOVE m.x WHERE pk = 'k'", it, err);
    check_json(nw,
               "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"10.5\"},\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"},{\"N\":\"2\"},{\"N\":\"3\"}]},"
               "\"ss\":{\"SS\":[\"a\",\"b\"]},\"m\":{\"M\":{\"y\":{\"M\":{\"z\":{\"N\":\"1\"}}}}},\"n2\":{\"N\":\"10\"}}",
               "update result");
    json_object_put(nw);

    nw = apply("UPDATE t REMOVE l[0], nothere SET ss = set_delete(ss, <<'a'>>) WHERE pk = 'k'", it, err);
    check_json(nw,
               "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"10\"},\"l\":{\"L\":[{\"N\":\"2\"}]},\"m\":{\"M\":{\"x\":{\"N\":\"1\"}}}}",
               "remove and set_delete to empty");
    json_object_put(nw);

    nw = apply("UPDATE t SET pk = 'other' WHERE pk = 'k'", it, err);
    check(!nw && strstr(err, "Cannot update attribute pk"), "key update refused: %s", err);
    nw = apply("UPDATE t SET n = nothere + 1 WHERE pk = 'k'", it, err);
    check(!nw && strstr(err, "does not exist in the item"), "missing operand: %s", err);
    nw = apply("UPDATE t SET n = l + 1 WHERE pk = 'k'", it, err);
    check(!nw && strstr(err, "incorrect data type"), "type mismatch: %s", err);
    nw = apply("UPDATE t SET a.b.c = 1 WHERE pk = 'k'", it, err);
    check(!nw && strstr(err, "document path provided in the update expression is invalid"), "bad path: %s", err);
    nw = apply("UPDATE t SET n = n + 9.9999999999999999999999999999999999999E+125 WHERE pk = 'k'", it, err);
    check(!nw && strstr(err, "overflow"), "overflow: %s", err);

    /* MODIFIED and projection. */
    pq_stmt *st = P("UPDATE t SET n = 1, m.x = 2 REMOVE l WHERE pk = 'k'", NULL);
    json_object *old = J(it);
    if (st) {
        json_object *mod = pq_modified(st, old);
        check_json(mod, "{\"n\":{\"N\":\"10\"},\"m\":{\"M\":{\"x\":{\"N\":\"1\"}}},\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}}",
                   "MODIFIED OLD");
        json_object_put(mod);
    }
    pq_stmt_free(st);
    st = P("SELECT m.x, l[1], nothere FROM t", NULL);
    if (st) {
        json_object *pj = pq_project(st, old);
        check_json(pj, "{\"x\":{\"N\":\"1\"},\"l[1]\":{\"N\":\"2\"}}", "projection");
        json_object_put(pj);
    }
    pq_stmt_free(st);
    json_object_put(old);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    test_statements();
    test_errors();
    test_eval();
    test_updates();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
