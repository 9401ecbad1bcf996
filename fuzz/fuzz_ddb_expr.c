/*
 * fuzz_ddb_expr.c — libFuzzer target for DynamoDB's expression language
 * (src/services/dynamodb/ddb_expr*.c).
 *
 * Input: byte 0 picks the kind (modulo 5: condition, filter, key
 * condition, update, projection); the rest is the expression text, parsed
 * through a context with fixed ExpressionAttributeNames/Values.  When the
 * parse succeeds the result is exercised against a fixed item: conditions
 * are evaluated, key conditions split for a (pk, sk) schema, updates
 * applied to a copy of the item (and their UPDATED_NEW projection taken),
 * projections applied.  Then the unused-placeholder check runs.  No crash,
 * no leak, no UBSan finding.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_ddb_expr)   Seeds: fuzz/corpus/ddb_expr/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_expr.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char NAMES[] = "{\"#a\":\"a\",\"#m\":\"m\",\"#l\":\"l\",\"#pk\":\"pk\",\"#sk\":\"sk\"}";
static const char VALUES[] =
    "{\":s\":{\"S\":\"he\"},\":n\":{\"N\":\"-1.5E3\"},\":z\":{\"N\":\"0\"},\":b\":{\"B\":\"a\\u0000\"},"
    "\":l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},\":ss\":{\"SS\":[\"x\",\"y\"]},\":ns\":{\"NS\":[\"1\",\"2\"]},"
    "\":bs\":{\"BS\":[\"q\"]},\":m\":{\"M\":{\"k\":{\"BOOL\":true}}},\":t\":{\"S\":\"SS\"},\":nl\":{\"NULL\":true}}";
static const char ITEM[] =
    "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"7\"},\"a\":{\"S\":\"hello\"},\"n\":{\"N\":\"99999999999999999999999999999999999999\"},"
    "\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"3\"}}},\"l\":{\"L\":[{\"S\":\"e\"},{\"N\":\"1\"}]}}},"
    "\"l\":{\"L\":[{\"N\":\"0\"},{\"L\":[{\"N\":\"1\"}]},{\"M\":{}}]},\"ss\":{\"SS\":[\"x\"]},\"ns\":{\"NS\":[\"1\"]},"
    "\"bs\":{\"BS\":[\"q\"]},\"b\":{\"B\":\"a\\u0000b\"},\"t\":{\"BOOL\":false},\"z\":{\"NULL\":true}}";

static void run_cond(ddb_ctx *c, int kind, const char *s, size_t n, json_object *item)
{
    char err[DDB_ERRMAX];
    ddb_cond *x = ddb_parse_condition(c, kind == 0 ? DDB_CONDITION : kind == 1 ? DDB_FILTER : DDB_KEY_CONDITION,
                                      s, n, err, sizeof err);
    if (!x)
        return;
    if (ddb_cond_eval(x, item, err, sizeof err) < 0 || ddb_cond_eval(x, NULL, err, sizeof err) < 0)
        abort();
    if (kind == 2) {
        ddb_keycond k;
        if (ddb_key_condition(x, "pk", "S", "sk", "N", &k, err, sizeof err) == 0 && !k.pk)
            abort();
        ddb_key_condition(x, "pk", NULL, NULL, NULL, &k, err, sizeof err);
    }
    ddb_cond_free(x);
}

static void run_update(ddb_ctx *c, const char *s, size_t n, json_object *item)
{
    char err[DDB_ERRMAX];
    static const char *const keys[] = {"pk", "sk", NULL};
    ddb_update *u = ddb_parse_update(c, s, n, err, sizeof err);
    if (!u)
        return;
    json_object *copy = NULL;
    if (json_object_deep_copy(item, &copy, NULL))
        abort();
    ddb_update_apply(u, copy, keys, err, sizeof err);
    ddb_update_apply(u, copy, NULL, err, sizeof err);
    ddb_proj *p = ddb_update_projection(u);
    json_object_put(ddb_project(p, copy));
    ddb_proj_free(p);
    json_object_put(copy);
    ddb_update_free(u);
}

static void run_proj(ddb_ctx *c, const char *s, size_t n, json_object *item)
{
    char err[DDB_ERRMAX];
    ddb_proj *p = ddb_parse_projection(c, s, n, err, sizeof err);
    if (!p)
        return;
    json_object_put(ddb_project(p, item));
    ddb_proj_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] % 5;
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);   /* exact size: ASan sees over-reads */
    if (!s)
        abort();
    memcpy(s, data + 1, n);
    json_object *names = json_tokener_parse(NAMES), *values = json_tokener_parse(VALUES);
    json_object *item = json_tokener_parse(ITEM);
    char err[DDB_ERRMAX];
    ddb_ctx *c = ddb_ctx_new(names, values, err, sizeof err);
    if (!c || !item)
        abort();
    if (kind <= 2)
        run_cond(c, kind, s, n, item);
    else if (kind == 3)
        run_update(c, s, n, item);
    else
        run_proj(c, s, n, item);
    ddb_ctx_check_unused(c, err, sizeof err);
    ddb_ctx_free(c);
    json_object_put(names);
    json_object_put(values);
    json_object_put(item);
    free(s);
    return 0;
}
