/*
 * fuzz_ddb_item.c — libFuzzer target for DynamoDB AttributeValue trees
 * (src/services/dynamodb/ddb_item.c).
 *
 * Each input is used three ways:
 *   1. as a stored item (ddb_item_decode): when accepted, encoding the tree
 *      again must give the same bytes; validation, size, equality with
 *      itself and key bytes of each attribute must not fault;
 *   2. as a single stored value (ddb_av_decode), with the same checks;
 *   3. as JSON text: a parsed object is validated as an item, and a valid
 *      one must survive encode -> decode -> encode with equal trees and
 *      identical bytes.
 * The bytes get their own exact-size allocation so ASan sees over-reads.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_ddb_item)   Seeds: fuzz/corpus/ddb_item/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_item.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void same_bytes(const nb_buf *a, const void *p, size_t n)
{
    if (a->len != n || (n && memcmp(a->data, p, n) != 0))
        abort();
}

/* Probes every read-only helper on an accepted value. */
static void probe_value(json_object *av)
{
    char err[DDB_ERRLEN];
    nb_buf k = {0};
    if (!ddb_av_equal(av, av))
        abort();
    (void)ddb_av_size(av);
    (void)ddb_av_cmp(av, av);
    (void)ddb_key_bytes(av, "k", true, &k, err, sizeof err);
    nb_buf_free(&k);
}

static void from_item_bytes(const uint8_t *data, size_t size)
{
    json_object *item = NULL;
    if (ddb_item_decode(data, size, &item) != 0) {
        if (item)
            abort();
        return;
    }
    nb_buf out = {0};
    if (ddb_item_encode(item, &out) != 0)
        abort();
    same_bytes(&out, data, size);
    nb_buf_free(&out);
    (void)ddb_item_size(item);
    json_object_object_foreach(item, name, av) {
        (void)name;
        probe_value(av);
    }
    char err[DDB_ERRLEN];
    (void)ddb_item_validate(item, err, sizeof err); /* sets may hold duplicates */
    json_object_put(item);
}

static void from_value_bytes(const uint8_t *data, size_t size)
{
    json_object *av = NULL;
    if (ddb_av_decode(data, size, &av) != 0) {
        if (av)
            abort();
        return;
    }
    nb_buf out = {0};
    if (ddb_av_encode(av, &out) != 0)
        abort();
    same_bytes(&out, data, size);
    nb_buf_free(&out);
    probe_value(av);
    json_object_put(av);
}

static void from_json(const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] != '{' || size > 1 << 16)
        return;
    json_tokener *tok = json_tokener_new();
    json_object *item = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    char err[DDB_ERRLEN];
    if (!item || !json_object_is_type(item, json_type_object) ||
        ddb_item_validate(item, err, sizeof err) != 0) {
        json_object_put(item);
        return;
    }
    nb_buf a = {0}, b = {0};
    json_object *back = NULL;
    if (ddb_item_encode(item, &a) != 0 || ddb_item_decode(a.data, a.len, &back) != 0)
        abort();
    json_object_object_foreach(item, name, av) {
        json_object *bv = NULL;
        if (!json_object_object_get_ex(back, name, &bv) || !ddb_av_equal(av, bv))
            abort();
    }
    if (ddb_item_encode(back, &b) != 0)
        abort();
    same_bytes(&b, a.data, a.len);
    if (ddb_item_size(item) != ddb_item_size(back))
        abort();
    nb_buf_free(&a);
    nb_buf_free(&b);
    json_object_put(back);
    json_object_put(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    from_item_bytes(copy, size);
    from_value_bytes(copy, size);
    from_json(copy, size);
    free(copy);
    return 0;
}
