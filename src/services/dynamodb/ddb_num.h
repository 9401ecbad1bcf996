/*
 * ddb_num.h — DynamoDB numbers: exact decimals.
 *
 * DynamoDB numbers have up to 38 significant digits and magnitudes from
 * 1E-130 to 9.9999999999999999999999999999999999999E+125 (and zero).  They
 * are parsed, compared, added and subtracted exactly, never through a
 * double.  Numbers leave nimbus in canonical text (what DynamoDB returns:
 * no leading zeros, no trailing fractional zeros, no exponent).
 *
 * A value is  (-1)^neg × 0.d[0]d[1]...d[ndig-1] × 10^exp  with d[0] != 0
 * and d[ndig-1] != 0 (normalised); zero has ndig == 0, neg == false and
 * exp == 0.  The range above is therefore  -129 <= exp <= 126.
 *
 * Accepted text (see ddb_num.c for the evidence): an optional sign, digits
 * with at most one '.', at least one digit ("5.", ".5"), an optional
 * exponent [eE][+-]?digits.  No spaces, "NaN", "Infinity" or hex.
 */
#ifndef NB_DDB_NUM_H
#define NB_DDB_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DDB_NUM_DIGITS 38
#define DDB_NUM_MAXTEXT 192  /* canonical text incl. NUL, worst case */
#define DDB_NUM_MAXKEY 24    /* sort-key bytes, worst case (22 used) */
#define DDB_NUM_EXP_MIN (-129)
#define DDB_NUM_EXP_MAX 126

typedef struct ddb_num {
    bool neg;
    uint8_t ndig;                 /* 0 for zero */
    int16_t exp;
    uint8_t d[DDB_NUM_DIGITS];    /* digits 0..9; d[ndig..] are 0 */
} ddb_num;

typedef enum {
    DDB_NUM_OK = 0,
    DDB_NUM_SYNTAX,      /* not a number */
    DDB_NUM_PRECISION,   /* more than 38 significant digits */
    DDB_NUM_OVERFLOW,    /* magnitude above the range */
    DDB_NUM_UNDERFLOW,   /* magnitude below the range (non-zero) */
} ddb_num_err;

/* Parse DynamoDB number text of len bytes (need not be NUL-terminated).
 * Range is checked before precision, as DynamoDB does. */
ddb_num_err ddb_num_parse(const char *s, size_t len, ddb_num *out);
/* Canonical text into buf (>= DDB_NUM_MAXTEXT bytes); returns its length. */
size_t ddb_num_format(const ddb_num *n, char *buf);
/* <0, 0, >0 */
int ddb_num_cmp(const ddb_num *a, const ddb_num *b);
/* Exact a+b / a-b.  Fails with OVERFLOW/UNDERFLOW when the result leaves
 * the range, and also with OVERFLOW when the exact result needs more than
 * 38 digits (1E+38 + 1): DynamoDB answers an inexact UpdateExpression sum
 * with its overflow message, not the 38-digit one. */
ddb_num_err ddb_num_add(const ddb_num *a, const ddb_num *b, ddb_num *out);
ddb_num_err ddb_num_sub(const ddb_num *a, const ddb_num *b, ddb_num *out);
/* Bytes whose memcmp order is numeric order; returns the length (1..22). */
size_t ddb_num_sortkey(const ddb_num *n, uint8_t *out);
/* DynamoDB's ValidationException message for an error (without the value;
 * for SYNTAX DynamoDB appends ": <text>" when the text is not empty). */
const char *ddb_num_errmsg(ddb_num_err e);

/* An int64 as a number (always exact: 19 digits at most). */
void ddb_num_from_i64(int64_t v, ddb_num *out);
/* Parse then format: canonical text of s into buf (>= DDB_NUM_MAXTEXT). */
ddb_num_err ddb_num_canon(const char *s, size_t len, char *buf, size_t *outlen);

#endif
