/*
 * fuzz_ddb_num.c — libFuzzer target for DynamoDB numbers
 * (src/services/dynamodb/ddb_num.c).
 *
 * Input: number text, or two texts separated by the first '\n'.  Each run:
 *   1. every text is parsed; an accepted number must format to text that
 *      parses back to the identical struct, and formatting is idempotent;
 *   2. with two accepted numbers: ddb_num_cmp is antisymmetric and agrees
 *      with the memcmp order of their sort keys; a+b == b+a, a-b == -(b-a),
 *      and (a+b)-b == a whenever both steps are exact.
 * Texts get exact-size allocations so ASan sees over-reads.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_ddb_num)   Seeds: fuzz/corpus/ddb_num/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_num.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

/* Parses an exact-size copy; checks the format/parse round trip. */
static bool parse_checked(const uint8_t *p, size_t n, ddb_num *out)
{
    char *s = malloc(n ? n : 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    ddb_num_err e = ddb_num_parse(s, n, out);
    free(s);
    if (e != DDB_NUM_OK)
        return false;
    char t1[DDB_NUM_MAXTEXT], t2[DDB_NUM_MAXTEXT];
    size_t k1 = ddb_num_format(out, t1);
    ddb_num back;
    if (k1 >= DDB_NUM_MAXTEXT || ddb_num_parse(t1, k1, &back) != DDB_NUM_OK ||
        memcmp(&back, out, sizeof back) != 0)
        abort();
    size_t k2 = ddb_num_format(&back, t2);
    if (k1 != k2 || memcmp(t1, t2, k1) != 0)
        abort();
    return true;
}

static int key_cmp(const ddb_num *a, const ddb_num *b)
{
    uint8_t ka[DDB_NUM_MAXKEY], kb[DDB_NUM_MAXKEY];
    size_t na = ddb_num_sortkey(a, ka), nb = ddb_num_sortkey(b, kb);
    if (na > DDB_NUM_MAXKEY || nb > DDB_NUM_MAXKEY)
        abort();
    int c = memcmp(ka, kb, na < nb ? na : nb);
    if (c)
        return c < 0 ? -1 : 1;
    return (na > nb) - (na < nb);
}

static void check_pair(const ddb_num *a, const ddb_num *b)
{
    int c = ddb_num_cmp(a, b);
    if (c != -ddb_num_cmp(b, a) || c != key_cmp(a, b))
        abort();
    ddb_num s1, s2, d1, d2, back;
    ddb_num_err e1 = ddb_num_add(a, b, &s1), e2 = ddb_num_add(b, a, &s2);
    if (e1 != e2 || (e1 == DDB_NUM_OK && ddb_num_cmp(&s1, &s2) != 0))
        abort();
    e1 = ddb_num_sub(a, b, &d1);
    e2 = ddb_num_sub(b, a, &d2);
    if (e1 != e2)
        abort();
    if (e1 == DDB_NUM_OK) {
        d2.neg = d2.ndig ? !d2.neg : false;
        if (ddb_num_cmp(&d1, &d2) != 0)
            abort();
    }
    if (ddb_num_add(a, b, &s1) == DDB_NUM_OK && ddb_num_sub(&s1, b, &back) == DDB_NUM_OK &&
        ddb_num_cmp(&back, a) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    ddb_num a, b;
    if (!nl) {
        if (parse_checked(data, size, &a))
            check_pair(&a, &a);
        return 0;
    }
    size_t n1 = (size_t)(nl - data);
    bool ok_a = parse_checked(data, n1, &a);
    bool ok_b = parse_checked(nl + 1, size - n1 - 1, &b);
    if (ok_a && ok_b)
        check_pair(&a, &b);
    return 0;
}
