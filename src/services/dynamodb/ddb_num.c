/*
 * ddb_num.c — DynamoDB numbers: parsing, canonical text, comparison, exact
 * addition/subtraction and an order-preserving binary sort key.
 *
 * Accepted syntax.  DynamoDB parses N strings like Java's BigDecimal: an
 * optional '+' or '-', decimal digits with at most one '.', at least one
 * digit on either side of it, and an optional exponent [eE][+-]?digits.
 * ScyllaDB's conformance suite, run against DynamoDB (test_number.py,
 * test_invalid_numbers), shows "+3", ".123", "0001.23", "1e+5", "-17.4E37"
 * and "0e1000" accepted, and "NaN", "Infinity", "-Infinity", " 1", "1 " and
 * "dog" rejected with "The parameter cannot be converted to a numeric
 * value".  BigDecimal also takes "5." and rejects ".", "e5", "1e", hex and
 * any whitespace; we follow it.  An exponent beyond the 32-bit range is a
 * conversion error in BigDecimal, so it is a syntax error here too (not
 * verified against DynamoDB itself).
 *
 * Limits.  Significant digits exclude leading and trailing zeros (AWS
 * "Item sizes and formats": "Leading and trailing zeroes are trimmed"), so
 * 1 followed by 125 zeros is one digit.  The range is checked before the
 * precision (dynalite's checkNum, whose tests ran against DynamoDB, checks
 * overflow, then underflow, then the 38 digits).
 *
 * Canonical text is the plain decimal notation DynamoDB returns: "01.50" is
 * "1.5", "1e2" is "100", "-0" is "0", "1E-5" is "0.00001".
 *
 * Arithmetic is exact on a fixed-point array that spans every digit either
 * operand can have (10^-167 .. 10^126), then normalised and range-checked.
 */
#include <stdio.h>
#include <string.h>

#include "ddb_num.h"

/* ---- parsing ------------------------------------------------------------ */

/* Digits of the mantissa, as seen while scanning. */
typedef struct scan {
    int64_t nint;    /* digits before the '.' */
    int64_t ndig;    /* all mantissa digits */
    int64_t first;   /* index of the first non-zero digit, -1 if none */
    int64_t last;    /* index of the last non-zero digit */
} scan;

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Scans [sign] digits [. digits]; stores up to 38 significant digits. */
static bool scan_mantissa(const char *s, size_t len, size_t *i, scan *sc, ddb_num *out)
{
    bool dot = false;
    sc->nint = sc->ndig = 0;
    sc->first = sc->last = -1;
    for (; *i < len; (*i)++) {
        char c = s[*i];
        if (c == '.') {
            if (dot)
                return false;
            dot = true;
            continue;
        }
        if (!is_digit(c))
            break;
        if (!dot)
            sc->nint++;
        if (c != '0') {
            if (sc->first < 0)
                sc->first = sc->ndig;
            sc->last = sc->ndig;
        }
        if (sc->first >= 0 && sc->ndig - sc->first < DDB_NUM_DIGITS)
            out->d[sc->ndig - sc->first] = (uint8_t)(c - '0');
        sc->ndig++;
    }
    return sc->ndig > 0;
}

/* Scans [eE][+-]digits if present.  false on a malformed or out-of-int32
 * exponent (BigDecimal's limit). */
static bool scan_exponent(const char *s, size_t len, size_t *i, int64_t *e)
{
    *e = 0;
    if (*i >= len || (s[*i] != 'e' && s[*i] != 'E'))
        return true;
    (*i)++;
    bool neg = false;
    if (*i < len && (s[*i] == '+' || s[*i] == '-'))
        neg = s[(*i)++] == '-';
    size_t start = *i;
    int64_t v = 0;
    for (; *i < len && is_digit(s[*i]); (*i)++) {
        if (v <= INT64_C(1) << 40)  /* saturate; only "too big" matters */
            v = v * 10 + (s[*i] - '0');
    }
    if (*i == start || v > (neg ? INT64_C(2147483648) : INT64_C(2147483647)))
        return false;
    *e = neg ? -v : v;
    return true;
}

ddb_num_err ddb_num_parse(const char *s, size_t len, ddb_num *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    scan sc;
    int64_t e;
    if (!scan_mantissa(s, len, &i, &sc, out) || !scan_exponent(s, len, &i, &e) || i != len) {
        memset(out, 0, sizeof *out);
        return DDB_NUM_SYNTAX;
    }
    if (sc.first < 0)
        return DDB_NUM_OK; /* zero, whatever its sign or exponent */
    int64_t exp = sc.nint - sc.first + e;
    int64_t ndig = sc.last - sc.first + 1;
    ddb_num_err err = exp > DDB_NUM_EXP_MAX   ? DDB_NUM_OVERFLOW
                      : exp < DDB_NUM_EXP_MIN ? DDB_NUM_UNDERFLOW
                      : ndig > DDB_NUM_DIGITS ? DDB_NUM_PRECISION
                                              : DDB_NUM_OK;
    if (err) {
        memset(out, 0, sizeof *out);
        return err;
    }
    out->neg = neg;
    out->ndig = (uint8_t)ndig;
    out->exp = (int16_t)exp;
    return DDB_NUM_OK;
}

/* ---- text ---------------------------------------------------------------- */

size_t ddb_num_format(const ddb_num *n, char *buf)
{
    size_t k = 0;
    if (n->ndig == 0) {
        buf[k++] = '0';
        buf[k] = 0;
        return k;
    }
    if (n->neg)
        buf[k++] = '-';
    int exp = n->exp, nd = n->ndig;
    if (exp <= 0) {  /* 0.000ddd */
        buf[k++] = '0';
        buf[k++] = '.';
        for (int z = 0; z < -exp; z++)
            buf[k++] = '0';
        for (int i = 0; i < nd; i++)
            buf[k++] = (char)('0' + n->d[i]);
    } else {         /* ddd.ddd or ddd000 */
        for (int i = 0; i < nd || i < exp; i++) {
            if (i == exp)
                buf[k++] = '.';
            buf[k++] = (char)('0' + (i < nd ? n->d[i] : 0));
        }
    }
    buf[k] = 0;
    return k;
}

ddb_num_err ddb_num_canon(const char *s, size_t len, char *buf, size_t *outlen)
{
    ddb_num n;
    ddb_num_err err = ddb_num_parse(s, len, &n);
    if (err == DDB_NUM_OK) {
        size_t k = ddb_num_format(&n, buf);
        if (outlen)
            *outlen = k;
    }
    return err;
}

const char *ddb_num_errmsg(ddb_num_err e)
{
    switch (e) {
    case DDB_NUM_OK:
        return "";
    case DDB_NUM_SYNTAX:
        return "The parameter cannot be converted to a numeric value";
    case DDB_NUM_PRECISION:
        return "Attempting to store more than 38 significant digits in a Number";
    case DDB_NUM_OVERFLOW:
        return "Number overflow. Attempting to store a number with magnitude larger than "
               "supported range";
    case DDB_NUM_UNDERFLOW:
        return "Number underflow. Attempting to store a number with magnitude smaller than "
               "supported range";
    }
    return "The parameter cannot be converted to a numeric value";
}

void ddb_num_from_i64(int64_t v, ddb_num *out)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    ddb_num_parse(tmp, (size_t)k, out); /* 19 digits: always fits */
}

/* ---- comparison ---------------------------------------------------------- */

/* Magnitudes of two non-zero numbers. */
static int cmp_mag(const ddb_num *a, const ddb_num *b)
{
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    int n = a->ndig < b->ndig ? a->ndig : b->ndig;
    int c = memcmp(a->d, b->d, (size_t)n);
    if (c)
        return c < 0 ? -1 : 1;
    return (a->ndig > b->ndig) - (a->ndig < b->ndig);
}

static int sign_of(const ddb_num *n) { return n->ndig == 0 ? 0 : n->neg ? -1 : 1; }

int ddb_num_cmp(const ddb_num *a, const ddb_num *b)
{
    int sa = sign_of(a), sb = sign_of(b);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int m = cmp_mag(a, b);
    return sa > 0 ? m : -m;
}

/* ---- arithmetic ---------------------------------------------------------- */

/* Fixed point: slot p + FIX_BASE holds the digit of 10^p.  The lowest digit
 * an operand can have is 10^(EXP_MIN - 38) = 10^-167, the highest 10^125;
 * one more slot on top takes a carry. */
#define FIX_BASE 170
#define FIX_SLOTS (FIX_BASE + DDB_NUM_EXP_MAX + 2)

static void fix_spread(const ddb_num *n, uint8_t *v)
{
    memset(v, 0, FIX_SLOTS);
    for (int i = 0; i < n->ndig; i++)
        v[n->exp - 1 - i + FIX_BASE] = n->d[i];
}

static void fix_add(uint8_t *v, const uint8_t *w)
{
    int carry = 0;
    for (int i = 0; i < FIX_SLOTS; i++) {
        int s = v[i] + w[i] + carry;
        carry = s >= 10;
        v[i] = (uint8_t)(carry ? s - 10 : s);
    }
}

/* v -= w, with v >= w. */
static void fix_sub(uint8_t *v, const uint8_t *w)
{
    int borrow = 0;
    for (int i = 0; i < FIX_SLOTS; i++) {
        int s = v[i] - w[i] - borrow;
        borrow = s < 0;
        v[i] = (uint8_t)(borrow ? s + 10 : s);
    }
}

/* Normalises v into out and applies DynamoDB's limits to the result. */
static ddb_num_err fix_pack(const uint8_t *v, bool neg, ddb_num *out)
{
    memset(out, 0, sizeof *out);
    int hi = FIX_SLOTS - 1, lo = 0;
    while (hi >= 0 && v[hi] == 0)
        hi--;
    if (hi < 0)
        return DDB_NUM_OK; /* exact zero: 1E+125 - 1E+125 */
    while (v[lo] == 0)
        lo++;
    int exp = hi - FIX_BASE + 1, ndig = hi - lo + 1;
    if (exp > DDB_NUM_EXP_MAX)
        return DDB_NUM_OVERFLOW;
    if (exp < DDB_NUM_EXP_MIN)
        return DDB_NUM_UNDERFLOW;
    if (ndig > DDB_NUM_DIGITS)
        return DDB_NUM_OVERFLOW; /* inexact: DynamoDB says overflow (see .h) */
    out->neg = neg;
    out->exp = (int16_t)exp;
    out->ndig = (uint8_t)ndig;
    for (int i = 0; i < ndig; i++)
        out->d[i] = v[hi - i];
    return DDB_NUM_OK;
}

/* a + (bneg ? -|b| : |b|) with b's sign given separately (for sub). */
static ddb_num_err add_signed(const ddb_num *a, const ddb_num *b, bool bneg, ddb_num *out)
{
    uint8_t v[FIX_SLOTS], w[FIX_SLOTS];
    if (b->ndig == 0) {
        *out = *a;
        return DDB_NUM_OK;
    }
    if (a->ndig == 0) {
        *out = *b;
        out->neg = bneg;
        return DDB_NUM_OK;
    }
    if (a->neg == bneg) {
        fix_spread(a, v);
        fix_spread(b, w);
        fix_add(v, w);
        return fix_pack(v, bneg, out);
    }
    /* Opposite signs: the larger magnitude minus the smaller keeps its sign. */
    int m = cmp_mag(a, b);
    if (m == 0) {
        memset(out, 0, sizeof *out);
        return DDB_NUM_OK;
    }
    const ddb_num *big = m > 0 ? a : b, *small = m > 0 ? b : a;
    fix_spread(big, v);
    fix_spread(small, w);
    fix_sub(v, w);
    return fix_pack(v, m > 0 ? a->neg : bneg, out);
}

ddb_num_err ddb_num_add(const ddb_num *a, const ddb_num *b, ddb_num *out)
{
    ddb_num r;
    ddb_num_err err = add_signed(a, b, b->neg, &r);
    *out = r; /* out may alias a or b */
    return err;
}

ddb_num_err ddb_num_sub(const ddb_num *a, const ddb_num *b, ddb_num *out)
{
    ddb_num r;
    ddb_num_err err = add_signed(a, b, !b->neg, &r);
    *out = r;
    return err;
}

/* ---- sort key ------------------------------------------------------------ */

/*
 * Layout:  zero      80
 *          positive  FF  exp+129  p0 p1 ...
 *          negative  00  126-exp  99-p0 99-p1 ... FF
 * where p_k = 10*d[2k] + d[2k+1] (0..99, the last pair padded with 0).
 * Positives: a larger exponent is larger, then digits compare left to
 * right, and a proper prefix is smaller (the extension adds a non-zero
 * digit).  Negatives invert both, and the FF terminator (above any
 * inverted pair) makes a proper prefix — the smaller magnitude — larger.
 * At most 2 + 19 + 1 = 22 bytes.
 */
size_t ddb_num_sortkey(const ddb_num *n, uint8_t *out)
{
    if (n->ndig == 0) {
        out[0] = 0x80;
        return 1;
    }
    size_t k = 0;
    int bexp = n->exp - DDB_NUM_EXP_MIN; /* 0..255 */
    out[k++] = n->neg ? 0x00 : 0xFF;
    out[k++] = (uint8_t)(n->neg ? 255 - bexp : bexp);
    for (int i = 0; i < n->ndig; i += 2) {
        int p = n->d[i] * 10 + (i + 1 < n->ndig ? n->d[i + 1] : 0);
        out[k++] = (uint8_t)(n->neg ? 99 - p : p);
    }
    if (n->neg)
        out[k++] = 0xFF;
    return k;
}
