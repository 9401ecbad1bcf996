/*
 * fuzz_ddb_partiql.c — libFuzzer target for DynamoDB's PartiQL parser and
 * evaluator (src/services/dynamodb/ddb_partiql_parse.c, _eval.c).
 *
 * Input: byte 0 picks how many of four fixed Parameters the request
 * carries (low 3 bits, 0..4); the rest is the statement text, in an
 * exact-size allocation so ASan sees over-reads.  Each run parses; a parsed
 * statement's WHERE is evaluated on a fixed item and on no item, its
 * projection and MODIFIED attributes are taken, and its update applied.
 * A failed parse must leave a message.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_ddb_partiql)
 * Seeds: fuzz/corpus/ddb_partiql/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_partiql.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char PARAMS[] =
    "[{\"S\":\"k\"},{\"N\":\"5\"},{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},{\"SS\":[\"a\",\"b\"]}]";
static const char ITEM[] =
    "{\"pk\":{\"S\":\"k\"},\"sk\":{\"N\":\"5\"},\"n\":{\"N\":\"10\"},\"s\":{\"S\":\"hello\"},"
    "\"ss\":{\"SS\":[\"a\"]},\"ns\":{\"NS\":[\"1\"]},\"l\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"a\":{\"S\":\"b\"}}}]},"
    "\"m\":{\"M\":{\"x\":{\"L\":[{\"N\":\"7\"}]}}},\"z\":{\"NULL\":true},\"t\":{\"BOOL\":false}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t np = (size_t)(data[0] & 7) % 5;
    json_object *all = json_tokener_parse(PARAMS), *params = json_object_new_array();
    for (size_t i = 0; i < np; i++)
        json_object_array_add(params, json_object_get(json_object_array_get_idx(all, i)));
    json_object_put(all);
    size_t n = size - 1;
    char *text = malloc(n ? n : 1);
    if (!text)
        abort();
    memcpy(text, data + 1, n);
    char err[PQ_ERRLEN];
    pq_stmt *st = pq_parse(text, n, np ? params : NULL, err, sizeof err);
    if (!st) {
        if (!err[0])
            abort();
    } else {
        json_object *item = json_tokener_parse(ITEM);
        pq_cond_true(st->where, item);
        pq_cond_true(st->where, NULL);
        pq_node *cs[16];
        int nc = pq_conjuncts(st->where, cs, 16);
        for (int i = 0; i < nc; i++) {
            json_object *v = NULL;
            pq_key_equality(cs[i], &v);
        }
        json_object_put(pq_project(st, item));
        json_object_put(pq_modified(st, item));
        const char *keys[] = {"pk", "sk", NULL};
        json_object *nw = pq_apply(st, item, keys, err, sizeof err);
        json_object_put(nw);
        nw = pq_apply(st, NULL, keys, err, sizeof err);
        json_object_put(nw);
        json_object_put(item);
        pq_stmt_free(st);
    }
    json_object_put(params);
    free(text);
    return 0;
}
