/*
 * test_ddb_values.c — unit test of the DynamoDB value layer:
 *
 *   ddb_num_parse / format    accepted syntax, canonical text, the 38-digit
 *                             boundary, the 1E-130 .. 9.99..E+125 range and
 *                             which error wins
 *   ddb_num_add / sub / cmp   carries, borrows, cancellation, exactness
 *                             (0.1 + 0.2 == 0.3), inexact and out-of-range
 *                             results
 *   ddb_num_sortkey           memcmp order == ddb_num_cmp over random pairs
 *   ddb_av/item_validate      DynamoDB's messages, in-place canonical
 *                             numbers, numeric NS duplicates, nesting limit
 *   ddb_item_size             the developer guide's rules and sizes measured
 *                             against DynamoDB by conformance suites
 *   ddb_item_encode / decode  exact round trips (raw bytes with NULs, order),
 *                             every truncation and corruption rejected
 *   ddb_av_equal / cmp        numeric and set equality, byte order
 *   ddb_key_bytes             empty and oversized key messages, N keys
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/dynamodb/ddb_item.h"
#include "services/dynamodb/ddb_num.h"

static int passed, failed;

#include "check.h"

static void check_str(const char *got, const char *want, const char *what)
{
    if (!check(got && strcmp(got, want) == 0, "%s", what))
        printf("  got:  %s\n  want: %s\n", got ? got : "(null)", want);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- numbers -------------------------------------------------------------- */

static void num_canon(const char *in, const char *want)
{
    ddb_num n;
    char buf[DDB_NUM_MAXTEXT];
    ddb_num_err e = ddb_num_parse(in, strlen(in), &n);
    if (!check(e == DDB_NUM_OK, "parse %s: ok (got %d)", in, e))
        return;
    ddb_num_format(&n, buf);
    char what[256];
    snprintf(what, sizeof what, "canonical %.200s", in);
    check_str(buf, want, what);
}

static void num_err(const char *in, ddb_num_err want)
{
    ddb_num n;
    ddb_num_err e = ddb_num_parse(in, strlen(in), &n);
    check(e == want, "parse \"%.60s\": error %d (got %d)", in, want, e);
}

static char *repeat(char c, int n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + (size_t)n + sl + 1);
    memcpy(s, prefix, pl);
    memset(s + pl, c, (size_t)n);
    memcpy(s + pl + (size_t)n, suffix, sl + 1);
    return s;
}

static void test_num_syntax(void)
{
    /* Accepted by DynamoDB (ScyllaDB's test_invalid_numbers, run on AWS). */
    num_canon("3", "3");
    num_canon("-7.1234", "-7.1234");
    num_canon("-17e5", "-1700000");
    num_canon("-17.4E37", "-174000000000000000000000000000000000000");
    num_canon("+3", "3");
    num_canon(".123", "0.123");
    num_canon("0001.23", "1.23");
    num_canon("1e+5", "100000");
    num_canon("0e1000", "0");
    /* Canonical text. */
    num_canon("01.50", "1.5");
    num_canon("1e2", "100");
    num_canon("-0", "0");
    num_canon("+0.000", "0");
    num_canon("1E-5", "0.00001");
    num_canon("5.", "5");
    num_canon("0.5", "0.5");
    num_canon("123.456e1", "1234.56");
    num_canon("123.456e-3", "0.123456");
    num_canon("1000", "1000");
    num_canon("10.010", "10.01");
    num_canon("-0.0e-99999", "0");
    num_canon("1e0005", "100000");
    /* Rejected. */
    const char *bad[] = {"", "NaN", "Infinity", "-Infinity", "-NaN", "dog", " 1", "1 ", "+",
                         "-", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "1,5", "--1", "+-1",
                         "1e5.5", "١", "1\n", "1e99999999999", "1e2147483648", "0e-2147483649"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        num_err(bad[i], DDB_NUM_SYNTAX);
    ddb_num n;
    check(ddb_num_parse("1\0" "2", 3, &n) == DDB_NUM_SYNTAX, "embedded NUL rejected");
    check(ddb_num_parse("12", 1, &n) == DDB_NUM_OK && n.ndig == 1, "length respected");
}

static void test_num_limits(void)
{
    /* 38 significant digits, wherever the point is. */
    num_canon("3.1415926535897932384626433832795028841", "3.1415926535897932384626433832795028841");
    num_canon("314159265358979323846.26433832795028841", "314159265358979323846.26433832795028841");
    num_err("3.14159265358979323846264338327950288419", DDB_NUM_PRECISION);
    num_err("123456789012345678901234567890123456789", DDB_NUM_PRECISION);
    num_err("-1.23456789012345678901234567890123456789", DDB_NUM_PRECISION);
    /* Leading and trailing zeros are not significant. */
    char *s = repeat('0', 200, "0.", "12345678901234567890123456789012345678");
    num_err(s, DDB_NUM_UNDERFLOW); /* 1.2E-201 */
    free(s);
    s = repeat('0', 100, "00012345678901234567890123456789012345678", "");
    num_err(s, DDB_NUM_OVERFLOW); /* 38 digits then 100 zeros: E+137 */
    free(s);
    s = repeat('0', 80, "12345678901234567890123456789012345678", ".000000");
    num_err(s, DDB_NUM_OK); /* 38 digits, E+117 */
    free(s);
    s = repeat('0', 125, "1", "");
    num_err(s, DDB_NUM_OK); /* 1E+125, one digit */
    free(s);
    /* Range. */
    num_err("9.9999999999999999999999999999999999999E+125", DDB_NUM_OK);
    num_err("-9.9999999999999999999999999999999999999E+125", DDB_NUM_OK);
    num_err("1e125", DDB_NUM_OK);
    num_err("1e126", DDB_NUM_OVERFLOW);
    num_err("-1e126", DDB_NUM_OVERFLOW);
    num_err("11e125", DDB_NUM_OVERFLOW);
    num_err("1e-130", DDB_NUM_OK);
    num_err("-1e-130", DDB_NUM_OK);
    num_err("1e-131", DDB_NUM_UNDERFLOW);
    num_err("-1e-131", DDB_NUM_UNDERFLOW);
    num_err("0.9e-130", DDB_NUM_UNDERFLOW);
    /* Range is reported before precision. */
    num_err("1234567890123456789012345678901234567890e200", DDB_NUM_OVERFLOW);
    num_err("1234567890123456789012345678901234567890e-200", DDB_NUM_UNDERFLOW);
    char buf[DDB_NUM_MAXTEXT];
    ddb_num n;
    ddb_num_parse("1e-130", 6, &n);
    size_t k = ddb_num_format(&n, buf);
    check(k == 132 && buf[0] == '0' && buf[1] == '.' && buf[2] == '0' && buf[131] == '1',
          "1E-130 in full");
    ddb_num_parse("-9.9999999999999999999999999999999999999E-93", 44, &n);
    k = ddb_num_format(&n, buf);
    check(k < DDB_NUM_MAXTEXT, "format bound");
    check_str(ddb_num_errmsg(DDB_NUM_PRECISION),
              "Attempting to store more than 38 significant digits in a Number", "precision msg");
    check_str(ddb_num_errmsg(DDB_NUM_OVERFLOW),
              "Number overflow. Attempting to store a number with magnitude larger than supported range",
              "overflow msg");
    check_str(ddb_num_errmsg(DDB_NUM_UNDERFLOW),
              "Number underflow. Attempting to store a number with magnitude smaller than supported range",
              "underflow msg");
    check_str(ddb_num_errmsg(DDB_NUM_SYNTAX), "The parameter cannot be converted to a numeric value",
              "syntax msg");
    ddb_num_from_i64(INT64_MIN, &n);
    ddb_num_format(&n, buf);
    check_str(buf, "-9223372036854775808", "from_i64 min");
    ddb_num_from_i64(0, &n);
    check(n.ndig == 0 && !n.neg, "from_i64 zero");
}

static ddb_num N(const char *s)
{
    ddb_num n;
    if (ddb_num_parse(s, strlen(s), &n) != DDB_NUM_OK) {
        printf("bad test number %s\n", s);
        exit(2);
    }
    return n;
}

static void arith(const char *a, char op, const char *b, ddb_num_err want_err, const char *want)
{
    ddb_num x = N(a), y = N(b), r;
    ddb_num_err e = op == '+' ? ddb_num_add(&x, &y, &r) : ddb_num_sub(&x, &y, &r);
    if (!check(e == want_err, "%.50s %c %.50s: error %d (got %d)", a, op, b, want_err, e) || e)
        return;
    char buf[DDB_NUM_MAXTEXT], what[160];
    ddb_num_format(&r, buf);
    snprintf(what, sizeof what, "%.50s %c %.50s", a, op, b);
    check_str(buf, want, what);
    ddb_num w = N(want);
    check(ddb_num_cmp(&r, &w) == 0 && r.ndig == w.ndig && memcmp(&r, &w, sizeof r) == 0,
          "%s: normalised", what);
}

static void test_num_arith(void)
{
    arith("0.1", '+', "0.2", DDB_NUM_OK, "0.3");
    arith("1", '+', "10000000000000000000000", DDB_NUM_OK, "10000000000000000000001");
    arith("10000000000000000000000", '-', "1", DDB_NUM_OK, "9999999999999999999999");
    arith("1E+125", '-', "1E+125", DDB_NUM_OK, "0");
    arith("-5", '+', "5", DDB_NUM_OK, "0");
    arith("999", '+', "1", DDB_NUM_OK, "1000");
    arith("1000", '-', "1", DDB_NUM_OK, "999");
    arith("1", '-', "1000", DDB_NUM_OK, "-999");
    arith("-1.5", '-', "-1.5", DDB_NUM_OK, "0");
    arith("-1.5", '+', "-2.25", DDB_NUM_OK, "-3.75");
    arith("-1.5", '-', "2.25", DDB_NUM_OK, "-3.75");
    arith("2.25", '-', "-1.5", DDB_NUM_OK, "3.75");
    arith("0", '-', "7.5", DDB_NUM_OK, "-7.5");
    arith("7.5", '-', "0", DDB_NUM_OK, "7.5");
    arith("0", '+', "0", DDB_NUM_OK, "0");
    arith("1.0000000000000000000000000000000000001", '-', "1", DDB_NUM_OK,
          "0.0000000000000000000000000000000000001");
    arith("99999999999999999999999999999999999999", '+', "1", DDB_NUM_OK,
          "100000000000000000000000000000000000000");
    arith("0.99999999999999999999999999999999999999", '+', "0.00000000000000000000000000000000000001",
          DDB_NUM_OK, "1");
    char *two = repeat('0', 129, "0.", "2"); /* 2E-130 */
    arith("1e-130", '+', "1e-130", DDB_NUM_OK, two);
    free(two);
    /* Inexact and out-of-range results. */
    arith("1E+38", '+', "1", DDB_NUM_OVERFLOW, NULL);
    arith("1E+50", '-', "1", DDB_NUM_OVERFLOW, NULL);
    arith("1", '+', "1e-130", DDB_NUM_OVERFLOW, NULL);
    arith("9e125", '+', "9e125", DDB_NUM_OVERFLOW, NULL);
    arith("9e125", '-', "-9e125", DDB_NUM_OVERFLOW, NULL);
    arith("9.9999999999999999999999999999999999999E+125", '+', "1E+125", DDB_NUM_OVERFLOW, NULL);
    arith("1.0000000000000000000000000000000000001e-100", '-', "1e-100", DDB_NUM_UNDERFLOW, NULL);
    arith("2e-130", '-', "1.5e-130", DDB_NUM_UNDERFLOW, NULL);
    /* out may alias an operand */
    ddb_num a = N("1.5"), b = N("2");
    check(ddb_num_add(&a, &b, &a) == DDB_NUM_OK && ddb_num_cmp(&a, &(ddb_num){0}) > 0, "alias");
    ddb_num want = N("3.5");
    check(ddb_num_cmp(&a, &want) == 0, "alias result");
}

static int key_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = memcmp(a, b, n);
    if (c)
        return c < 0 ? -1 : 1;
    return (na > nb) - (na < nb);
}

/* Random normalised numbers, biased towards shared exponents and prefixes. */
static void random_num(ddb_num *n, const ddb_num *like)
{
    memset(n, 0, sizeof *n);
    if (rnd() % 16 == 0)
        return; /* zero */
    n->neg = rnd() & 1;
    n->ndig = (uint8_t)(1 + rnd() % DDB_NUM_DIGITS);
    n->exp = (int16_t)(DDB_NUM_EXP_MIN + (int)(rnd() % 256));
    if (like && like->ndig && rnd() % 2) {
        n->exp = like->exp;
        n->neg = rnd() % 4 ? like->neg : n->neg;
        memcpy(n->d, like->d, like->ndig < n->ndig ? like->ndig : n->ndig);
    }
    for (int i = like && rnd() % 2 ? 1 + (int)(rnd() % n->ndig) : 0; i < n->ndig; i++)
        n->d[i] = (uint8_t)(rnd() % 10);
    if (n->d[0] == 0)
        n->d[0] = 1;
    if (n->d[n->ndig - 1] == 0)
        n->d[n->ndig - 1] = 9;
    memset(n->d + n->ndig, 0, DDB_NUM_DIGITS - n->ndig);
}

static void test_num_sortkey(void)
{
    int bad_order = 0, bad_rt = 0, bad_len = 0, bad_arith = 0;
    for (int i = 0; i < 200000; i++) {
        ddb_num a, b;
        random_num(&a, NULL);
        random_num(&b, rnd() % 2 ? &a : NULL);
        uint8_t ka[DDB_NUM_MAXKEY], kb[DDB_NUM_MAXKEY];
        size_t na = ddb_num_sortkey(&a, ka), nb = ddb_num_sortkey(&b, kb);
        if (na > 22 || nb > 22)
            bad_len++;
        if (key_cmp(ka, na, kb, nb) != ddb_num_cmp(&a, &b))
            bad_order++;
        /* format -> parse gives the same value */
        char buf[DDB_NUM_MAXTEXT];
        ddb_num c;
        size_t k = ddb_num_format(&a, buf);
        if (ddb_num_parse(buf, k, &c) != DDB_NUM_OK || memcmp(&a, &c, sizeof a) != 0)
            bad_rt++;
        /* (a + b) - b == a whenever both steps are exact */
        ddb_num s, t;
        if (ddb_num_add(&a, &b, &s) == DDB_NUM_OK && ddb_num_sub(&s, &b, &t) == DDB_NUM_OK &&
            ddb_num_cmp(&t, &a) != 0)
            bad_arith++;
        if (ddb_num_sub(&a, &a, &s) != DDB_NUM_OK || s.ndig != 0)
            bad_arith++;
    }
    check(bad_order == 0, "sortkey order == cmp (%d mismatches)", bad_order);
    check(bad_rt == 0, "format/parse round trip (%d)", bad_rt);
    check(bad_len == 0, "sortkey length <= 22 (%d)", bad_len);
    check(bad_arith == 0, "(a+b)-b == a, a-a == 0 (%d)", bad_arith);
    /* A few by hand. */
    const char *sorted[] = {"-1e125", "-100", "-1.55", "-1.5", "-1.05", "-1", "-0.5", "-1e-130",
                            "0", "1e-130", "0.5", "1", "1.01", "1.05", "1.1", "1.5", "1.55", "10",
                            "100", "9.9999999999999999999999999999999999999E+125"};
    int bad = 0;
    for (size_t i = 1; i < sizeof sorted / sizeof sorted[0]; i++) {
        ddb_num x = N(sorted[i - 1]), y = N(sorted[i]);
        uint8_t kx[DDB_NUM_MAXKEY], ky[DDB_NUM_MAXKEY];
        size_t nx = ddb_num_sortkey(&x, kx), ny = ddb_num_sortkey(&y, ky);
        if (ddb_num_cmp(&x, &y) >= 0 || key_cmp(kx, nx, ky, ny) >= 0) {
            bad++;
            printf("  order: %s !< %s\n", sorted[i - 1], sorted[i]);
        }
    }
    check(bad == 0, "hand-sorted list");
}

/* ---- attribute values ----------------------------------------------------- */

static json_object *J(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o) {
        printf("bad test JSON %s\n", text);
        exit(2);
    }
    return o;
}

static void valid(const char *item_json, const char *want_json)
{
    json_object *item = J(item_json);
    char err[DDB_ERRLEN] = "";
    if (check(ddb_item_validate(item, err, sizeof err) == 0, "valid %s (%s)", item_json, err) &&
        want_json) {
        json_object *want = J(want_json);
        check_str(json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN),
                  json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN), item_json);
        json_object_put(want);
    }
    json_object_put(item);
}

static void invalid(const char *item_json, const char *want)
{
    json_object *item = J(item_json);
    char err[DDB_ERRLEN] = "";
    check(ddb_item_validate(item, err, sizeof err) == -1, "invalid %s", item_json);
    check_str(err, want, item_json);
    json_object_put(item);
}

#define INV "One or more parameter values were invalid: "

static void test_validate(void)
{
    valid("{\"a\":{\"S\":\"\"},\"b\":{\"B\":\"\"},\"c\":{\"SS\":[\"\",\"x\"]},\"d\":{\"BOOL\":false}}",
          NULL);
    valid("{\"n\":{\"N\":\"01.50\"},\"s\":{\"NS\":[\"1e2\",\"-0\",\"5.\"]},"
          "\"m\":{\"M\":{\"x\":{\"N\":\"+7\"},\"l\":{\"L\":[{\"N\":\"1E-5\"},{\"NULL\":true}]}}}}",
          "{\"n\":{\"N\":\"1.5\"},\"s\":{\"NS\":[\"100\",\"0\",\"5\"]},"
          "\"m\":{\"M\":{\"x\":{\"N\":\"7\"},\"l\":{\"L\":[{\"N\":\"0.00001\"},{\"NULL\":true}]}}}}");
    valid("{\"a\":{\"S\":\"x\",\"N\":null}}", NULL); /* a null member is absent */
    valid("{\"a\":{\"M\":{}},\"b\":{\"L\":[]}}", NULL);
    invalid("{\"a\":{}}",
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    invalid("{\"a\":{\"a\":\"\"}}",
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    invalid("{\"a\":{\"S\":\"a\",\"N\":\"1\"}}",
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
            "the supported datatypes");
    invalid("{\"a\":{\"S\":\"a\",\"N\":\"b\"}}",
            "The parameter cannot be converted to a numeric value: b");
    invalid("{\"a\":{\"N\":\"\"}}", "The parameter cannot be converted to a numeric value");
    invalid("{\"a\":{\"N\":\"NaN\"}}", "The parameter cannot be converted to a numeric value: NaN");
    invalid("{\"a\":{\"NS\":[\"1\",\"\"]}}", "The parameter cannot be converted to a numeric value");
    invalid("{\"a\":{\"NS\":[\"1\",\"b\",\"a\"]}}",
            "The parameter cannot be converted to a numeric value: b");
    invalid("{\"a\":{\"N\":\"123456789012345678901234567890123456789\"}}",
            "Attempting to store more than 38 significant digits in a Number");
    invalid("{\"a\":{\"N\":\"1e126\"}}",
            "Number overflow. Attempting to store a number with magnitude larger than supported range");
    invalid("{\"a\":{\"N\":\"-1e-131\"}}",
            "Number underflow. Attempting to store a number with magnitude smaller than supported range");
    invalid("{\"a\":{\"NULL\":false}}", INV "Null attribute value types must have the value of true");
    invalid("{\"a\":{\"SS\":[]}}", INV "An string set  may not be empty");
    invalid("{\"a\":{\"NS\":[]}}", INV "An number set  may not be empty");
    invalid("{\"a\":{\"BS\":[]}}", INV "Binary sets should not be empty");
    invalid("{\"a\":{\"SS\":[\"a\",\"a\"]}}", INV "Input collection [a, a] contains duplicates.");
    invalid("{\"a\":{\"SS\":[\"b\",\"a\",\"b\"]}}",
            INV "Input collection [b, a, b] contains duplicates.");
    invalid("{\"a\":{\"NS\":[\"1\",\"2\",\"1.0\"]}}", "Input collection contains duplicates");
    invalid("{\"a\":{\"NS\":[\"-0\",\"0e5\"]}}", "Input collection contains duplicates");
    /* document order: the first bad value wins */
    invalid("{\"a\":{\"M\":{\"x\":{\"S\":\"ok\"},\"y\":{\"NULL\":false}}},\"b\":{\"N\":\"x\"}}",
            INV "Null attribute value types must have the value of true");
    invalid("{\"a\":{\"L\":[{\"S\":\"ok\"},{\"N\":\"1e999\"}]}}",
            "Number overflow. Attempting to store a number with magnitude larger than supported range");

    /* BS duplicates are echoed in base64; members are raw bytes. */
    json_object *item = json_object_new_object(), *av = json_object_new_object(),
                *bs = json_object_new_array();
    json_object_array_add(bs, json_object_new_string_len("b", 1));
    json_object_array_add(bs, json_object_new_string_len("b", 1));
    json_object_object_add(av, "BS", bs);
    json_object_object_add(item, "a", av);
    char err[DDB_ERRLEN];
    check(ddb_item_validate(item, err, sizeof err) == -1, "BS dup");
    check_str(err, INV "Input collection [Yg==, Yg==]of type BS contains duplicates.", "BS dup msg");
    json_object_array_put_idx(bs, 1, json_object_new_string_len("b\0", 2));
    check(ddb_item_validate(item, err, sizeof err) == 0, "BS distinct by NUL");
    json_object_put(item);

    /* Truncated into a small buffer, still terminated. */
    item = J("{\"a\":{\"SS\":[\"aaaaaaaaaaaaaaaa\",\"aaaaaaaaaaaaaaaa\"]}}");
    char small[20];
    check(ddb_item_validate(item, small, sizeof small) == -1 && strlen(small) == 19, "truncated");
    json_object_put(item);
}

/* {"a": L[L[...[S "x"]...]]} with the S at level depth. */
static json_object *nested(int depth, bool map)
{
    json_object *v = json_object_new_object();
    json_object_object_add(v, "S", json_object_new_string("x"));
    for (int d = depth - 1; d >= 1; d--) {
        json_object *c = json_object_new_object();
        if (map) {
            json_object *m = json_object_new_object();
            json_object_object_add(m, "k", v);
            json_object_object_add(c, "M", m);
        } else {
            json_object *l = json_object_new_array();
            json_object_array_add(l, v);
            json_object_object_add(c, "L", l);
        }
        v = c;
    }
    json_object *item = json_object_new_object();
    json_object_object_add(item, "a", v);
    return item;
}

static void test_nesting(void)
{
    char err[DDB_ERRLEN];
    for (int map = 0; map < 2; map++) {
        json_object *ok = nested(32, map), *bad = nested(33, map);
        check(ddb_item_validate(ok, err, sizeof err) == 0, "32 levels ok (%s)", err);
        check(ddb_item_validate(bad, err, sizeof err) == -1, "33 levels rejected");
        check_str(err,
                  "Nesting Levels have exceeded supported limits: Attributes in the item have "
                  "nested levels beyond supported limit",
                  "nesting msg");
        nb_buf b = {0};
        check(ddb_item_encode(ok, &b) == 0, "encode 32 levels");
        json_object *back = NULL;
        check(ddb_item_decode(b.data, b.len, &back) == 0 && ddb_av_equal(
                  json_object_object_get(ok, "a"), json_object_object_get(back, "a")),
              "decode 32 levels");
        json_object_put(back);
        nb_buf_free(&b);
        check(ddb_item_encode(bad, &b) == -1, "encode refuses 33 levels");
        nb_buf_free(&b);
        json_object_put(ok);
        json_object_put(bad);
    }
}

static size_t size_of(const char *item_json)
{
    json_object *item = J(item_json);
    size_t n = ddb_item_size(item);
    json_object_put(item);
    return n;
}

static void size_is(const char *item_json, size_t want)
{
    size_t got = size_of(item_json);
    check(got == want, "size %s = %zu (got %zu)", item_json, want, got);
}

static void test_size(void)
{
    /* Developer guide rules: names + values. */
    size_is("{\"id\":{\"S\":\"abc\"}}", 5);
    size_is("{\"s\":{\"S\":\"\xc3\xa9t\xc3\xa9\"}}", 1 + 5);   /* UTF-8 bytes */
    size_is("{\"\xc3\xa9\":{\"BOOL\":true}}", 2 + 1);
    size_is("{\"n\":{\"NULL\":true}}", 2);
    size_is("{\"l\":{\"L\":[]}}", 1 + 3);
    size_is("{\"m\":{\"M\":{}}}", 1 + 3);
    size_is("{\"l\":{\"L\":[{\"S\":\"ab\"},{\"N\":\"1\"}]}}", 1 + 3 + (1 + 2) + (1 + 2));
    size_is("{\"m\":{\"M\":{\"k\":{\"S\":\"ab\"},\"kk\":{\"BOOL\":false}}}}",
            1 + 3 + (1 + 1 + 2) + (1 + 2 + 1));
    size_is("{\"ss\":{\"SS\":[\"a\",\"bc\",\"\"]}}", 2 + 3); /* sets: no per-member overhead */
    size_is("{\"ns\":{\"NS\":[\"1\",\"12345\",\"-1\"]}}", 2 + 2 + 4 + 3);
    /* Numbers: 1 + base-100 digits aligned on the point + 1 if negative. */
    size_is("{\"n\":{\"N\":\"0\"}}", 1 + 1);
    size_is("{\"n\":{\"N\":\"1\"}}", 1 + 2);
    size_is("{\"n\":{\"N\":\"-1\"}}", 1 + 3);
    size_is("{\"n\":{\"N\":\"12345\"}}", 1 + 4);
    size_is("{\"n\":{\"N\":\"1.5\"}}", 1 + 3);
    size_is("{\"n\":{\"N\":\"12.34\"}}", 1 + 3);
    size_is("{\"n\":{\"N\":\"123.4\"}}", 1 + 4);
    size_is("{\"n\":{\"N\":\"100\"}}", 1 + 2);
    size_is("{\"n\":{\"N\":\"0.01\"}}", 1 + 2);
    size_is("{\"n\":{\"N\":\"0.001\"}}", 1 + 2);
    size_is("{\"n\":{\"N\":\"1000.5\"}}", 1 + 4);
    /* dynalite's item-size boundary tests (run against DynamoDB): 1E+125 is
     * 2 bytes, 38 ones then 88 zeros is 20. */
    char *s = repeat('0', 125, "{\"n\":{\"N\":\"1", "\"}}");
    size_is(s, 1 + 2);
    free(s);
    s = repeat('1', 38, "{\"n\":{\"N\":\"", "");
    char *t = repeat('0', 88, s, "\"}}");
    size_is(t, 1 + 20);
    free(s);
    free(t);
    /* Binary: raw bytes, NULs included. */
    json_object *item = json_object_new_object(), *av = json_object_new_object();
    json_object_object_add(av, "B", json_object_new_string_len("\0\1\0", 3));
    json_object_object_add(item, "bin", av);
    check(ddb_item_size(item) == 6, "binary size");
    json_object_put(item);
}

/* Encodes item_json, decodes, compares text and re-encoded bytes. */
static void round_trip(json_object *item, const char *what)
{
    nb_buf a = {0}, b = {0};
    json_object *back = NULL;
    if (!check(ddb_item_encode(item, &a) == 0, "%s: encode", what))
        goto out;
    if (!check(ddb_item_decode(a.data, a.len, &back) == 0, "%s: decode", what))
        goto out;
    check_str(json_object_to_json_string_ext(back, JSON_C_TO_STRING_PLAIN),
              json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN), what);
    check(ddb_item_encode(back, &b) == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
          "%s: same bytes", what);
    /* Every proper prefix and every single-byte change is handled safely. */
    int accepted_prefix = 0;
    for (size_t n = 0; n < a.len; n++) {
        json_object *p = NULL;
        if (ddb_item_decode(a.data, n, &p) == 0) {
            accepted_prefix++;
            json_object_put(p);
        }
    }
    check(accepted_prefix == 0 || a.len == 1, "%s: no prefix decodes", what);
    for (size_t n = 0; n < a.len; n++) {
        char save = a.data[n];
        a.data[n] ^= (char)(1 + n % 255);
        json_object *p = NULL;
        if (ddb_item_decode(a.data, a.len, &p) == 0) {
            nb_buf c = {0};
            check(ddb_item_encode(p, &c) == 0 && c.len == a.len && !memcmp(c.data, a.data, a.len),
                  "%s: corrupted byte %zu re-encodes", what, n);
            nb_buf_free(&c);
            json_object_put(p);
        }
        a.data[n] = save;
    }
    nb_buf_addc(&a, 0);
    json_object *p = NULL;
    check(ddb_item_decode(a.data, a.len, &p) == -1 && p == NULL, "%s: trailing byte", what);
out:
    json_object_put(back);
    nb_buf_free(&a);
    nb_buf_free(&b);
}

static void test_encoding(void)
{
    json_object *item = J("{\"pk\":{\"S\":\"user#1\"},\"z\":{\"N\":\"-12.5\"},\"a\":{\"N\":\"0\"},"
                          "\"big\":{\"N\":\"9.9999999999999999999999999999999999999E+125\"},"
                          "\"tiny\":{\"N\":\"-1e-130\"},"
                          "\"ss\":{\"SS\":[\"b\",\"a\",\"\"]},\"ns\":{\"NS\":[\"3\",\"1.25\"]},"
                          "\"m\":{\"M\":{\"y\":{\"NULL\":true},\"x\":{\"BOOL\":false},"
                          "\"l\":{\"L\":[{\"BOOL\":true},{\"M\":{}},{\"L\":[]}]}}},"
                          "\"\":{\"S\":\"empty name\"}}");
    char err[DDB_ERRLEN];
    check(ddb_item_validate(item, err, sizeof err) == 0, "fixture valid (%s)", err);
    round_trip(item, "mixed item");
    /* Raw bytes with NULs, in B and BS, and a long string (2-byte varint). */
    json_object *av = json_object_new_object(), *bs = json_object_new_array();
    json_object_object_add(av, "B", json_object_new_string_len("\0\xff\0", 3));
    json_object_object_add(item, "bin", av);
    av = json_object_new_object();
    json_object_array_add(bs, json_object_new_string_len("\0", 1));
    json_object_array_add(bs, json_object_new_string_len("", 0));
    json_object_object_add(av, "BS", bs);
    json_object_object_add(item, "bs", av);
    char *longs = repeat('q', 300, "", "");
    av = json_object_new_object();
    json_object_object_add(av, "S", json_object_new_string(longs));
    json_object_object_add(item, longs, av);
    free(longs);
    round_trip(item, "binary item");
    json_object_put(item);

    item = json_object_new_object();
    round_trip(item, "empty item");
    json_object_put(item);

    /* Malformed inputs. */
    static const struct {
        const char *bytes;
        size_t len;
        const char *what;
    } bad[] = {
        {"", 0, "empty input"},
        {"\x80\x00", 2, "non-minimal count"},
        {"\x01\x01" "a" "\x0c", 4, "unknown tag"},
        {"\x01\x01" "a" "\x00", 4, "tag 0"},
        {"\x02\x01" "a" "\x09\x01" "a" "\x09", 7, "duplicate name"},
        {"\x01\x01" "\0" "\x09", 4, "NUL in name"},
        {"\x01\x01" "a" "\x02\x80", 5, "negative zero"},
        {"\x01\x01" "a" "\x02\x01\x81\x00", 7, "leading zero digit"},
        {"\x01\x01" "a" "\x02\x01\x81\x1a", 7, "nibble > 9"},
        {"\x01\x01" "a" "\x02\x01\x81\x11", 7, "non-zero pad nibble"},
        {"\x01\x01" "a" "\x02\x02\x81\x10", 7, "trailing zero digit"},
        {"\x01\x01" "a" "\x02\x27\x81", 6, "39 digits"},
        {"\x01\x01" "a" "\x04\x00", 5, "empty SS"},
        {"\x01\x01" "a" "\x01\xff\xff\xff\xff\x0f", 9, "huge length"},
        {"\x01\x01" "a" "\x08\xff\xff\xff\x7f", 8, "huge count"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *o = NULL;
        check(ddb_item_decode(bad[i].bytes, bad[i].len, &o) == -1 && !o, "reject %s", bad[i].what);
        json_object_put(o);
    }
    /* 33 nested lists. */
    nb_buf b = {0};
    nb_buf_add(&b, "\x01\x01" "a", 3);
    for (int i = 0; i < 32; i++)
        nb_buf_add(&b, "\x08\x01", 2);
    nb_buf_addc(&b, 0x09);
    json_object *o = NULL;
    check(ddb_item_decode(b.data, b.len, &o) == -1, "reject depth 33");
    json_object_put(o);
    b.len = 3 + 31 * 2;
    nb_buf_addc(&b, 0x09);
    check(ddb_item_decode(b.data, b.len, &o) == 0, "accept depth 32");
    json_object_put(o);
    nb_buf_free(&b);

    /* Single values. */
    json_object *v = J("{\"N\":\"-3.25\"}");
    check(ddb_av_encode(v, &b) == 0 && ddb_av_decode(b.data, b.len, &o) == 0 &&
              strcmp(json_object_to_json_string(o), json_object_to_json_string(v)) == 0,
          "single value round trip");
    json_object_put(o);
    json_object_put(v);
    nb_buf_free(&b);
    v = J("{\"N\":\"abc\"}");
    check(ddb_av_encode(v, &b) == -1, "encode refuses a bad number");
    json_object_put(v);
    nb_buf_free(&b);
}

static bool eq(const char *a, const char *b)
{
    json_object *x = J(a), *y = J(b);
    bool r = ddb_av_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return r;
}

static int cmp(const char *a, const char *b)
{
    json_object *x = J(a), *y = J(b);
    int r = ddb_av_cmp(x, y);
    json_object_put(x);
    json_object_put(y);
    return r;
}

static void test_equal_cmp(void)
{
    check(eq("{\"N\":\"1\"}", "{\"N\":\"1.0\"}"), "1 == 1.0");
    check(!eq("{\"N\":\"1\"}", "{\"S\":\"1\"}"), "N 1 != S 1");
    check(!eq("{\"N\":\"1\"}", "{\"N\":\"1.01\"}"), "1 != 1.01");
    check(eq("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"b\",\"a\"]}"), "SS order ignored");
    check(!eq("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"c\"]}"), "SS differ");
    check(!eq("{\"SS\":[\"a\"]}", "{\"SS\":[\"a\",\"b\"]}"), "SS sizes");
    check(eq("{\"NS\":[\"1\",\"2e1\"]}", "{\"NS\":[\"20\",\"1.0\"]}"), "NS numeric, any order");
    check(eq("{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"S\":\"x\"}}}",
             "{\"M\":{\"b\":{\"S\":\"x\"},\"a\":{\"N\":\"1.0\"}}}"), "M order ignored");
    check(!eq("{\"M\":{\"a\":{\"N\":\"1\"}}}", "{\"M\":{\"b\":{\"N\":\"1\"}}}"), "M names");
    check(!eq("{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}", "{\"L\":[{\"N\":\"2\"},{\"N\":\"1\"}]}"),
          "L order matters");
    check(eq("{\"L\":[{\"NULL\":true},{\"BOOL\":false}]}", "{\"L\":[{\"NULL\":true},{\"BOOL\":false}]}"),
          "L equal");
    check(!eq("{\"BOOL\":true}", "{\"BOOL\":false}"), "BOOL");
    check(!eq("{}", "{}"), "no type is never equal");
    json_object *x = json_object_new_object(), *y = json_object_new_object();
    json_object_object_add(x, "B", json_object_new_string_len("a\0b", 3));
    json_object_object_add(y, "B", json_object_new_string_len("a\0c", 3));
    check(!ddb_av_equal(x, y) && ddb_av_cmp(x, y) < 0, "B after NUL");
    json_object_put(x);
    json_object_put(y);

    check(cmp("{\"S\":\"a\"}", "{\"S\":\"b\"}") < 0, "S a < b");
    check(cmp("{\"S\":\"ab\"}", "{\"S\":\"a\"}") > 0, "S prefix");
    check(cmp("{\"S\":\"\xc3\xa9\"}", "{\"S\":\"z\"}") > 0, "S unsigned UTF-8 bytes");
    check(cmp("{\"N\":\"-1\"}", "{\"N\":\"0.5\"}") < 0, "N -1 < 0.5");
    check(cmp("{\"N\":\"10\"}", "{\"N\":\"9\"}") > 0, "N 10 > 9 (not text order)");
    check(cmp("{\"N\":\"1.0\"}", "{\"N\":\"1\"}") == 0, "N 1.0 == 1");
}

static void key_err(json_object *av, bool hash, const char *want)
{
    nb_buf b = {0};
    char err[DDB_ERRLEN] = "";
    check(ddb_key_bytes(av, "pk", hash, &b, err, sizeof err) == -1, "key rejected: %s", want);
    check_str(err, want, "key message");
    nb_buf_free(&b);
}

static json_object *scalar(const char *type, const char *p, size_t n)
{
    json_object *av = json_object_new_object();
    json_object_object_add(av, type, json_object_new_string_len(p, (int)n));
    return av;
}

static void test_keys(void)
{
    json_object *av = scalar("S", "", 0);
    key_err(av, true,
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            "cannot contain an empty string value. Key: pk");
    json_object_put(av);
    av = scalar("B", "", 0);
    key_err(av, false,
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            "cannot contain an empty binary value. Key: pk");
    json_object_put(av);
    char *big = repeat('k', 2049, "", "");
    av = scalar("S", big, 2049);
    key_err(av, true,
            INV "Size of hashkey has exceeded the maximum size limit of2048 bytes");
    json_object_put(av);
    av = scalar("B", big, 1025);
    key_err(av, false,
            INV "Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
    json_object_put(av);
    nb_buf b = {0};
    char err[DDB_ERRLEN];
    av = scalar("S", big, 2048);
    check(ddb_key_bytes(av, "pk", true, &b, err, sizeof err) == 0 && b.len == 2048, "2048 ok");
    json_object_put(av);
    b.len = 0;
    av = scalar("B", big, 1024);
    check(ddb_key_bytes(av, "sk", false, &b, err, sizeof err) == 0 && b.len == 1024, "1024 ok");
    json_object_put(av);
    free(big);
    b.len = 0;
    av = scalar("B", "\0\xff", 2);
    check(ddb_key_bytes(av, "pk", true, &b, err, sizeof err) == 0 && b.len == 2 &&
              memcmp(b.data, "\0\xff", 2) == 0, "B key bytes are the raw bytes");
    json_object_put(av);
    b.len = 0;
    av = scalar("N", "1.50", 4);
    ddb_num n = N("1.5");
    uint8_t k[DDB_NUM_MAXKEY];
    size_t kn = ddb_num_sortkey(&n, k);
    check(ddb_key_bytes(av, "pk", true, &b, err, sizeof err) == 0 && b.len == kn &&
              memcmp(b.data, k, kn) == 0, "N key is the sort key");
    json_object_put(av);
    av = scalar("N", "x", 1);
    b.len = 0;
    check(ddb_key_bytes(av, "pk", true, &b, err, sizeof err) == -1, "bad N key");
    check_str(err, "The parameter cannot be converted to a numeric value: x", "bad N key msg");
    json_object_put(av);
    av = J("{\"SS\":[\"a\"]}");
    check(ddb_key_bytes(av, "pk", true, &b, err, sizeof err) == -1, "set key rejected");
    json_object_put(av);
    nb_buf_free(&b);
}

int main(void)
{
    test_num_syntax();
    test_num_limits();
    test_num_arith();
    test_num_sortkey();
    test_validate();
    test_nesting();
    test_size();
    test_encoding();
    test_equal_cmp();
    test_keys();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
