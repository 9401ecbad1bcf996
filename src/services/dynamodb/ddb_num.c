/*
 * ddb_num.c — TEMPORARY stand-in for the ddb_num.h interface.
 *
 * The real implementation is written in another branch and replaces this
 * file on merge.  This one exists only so that the expression module links
 * and its tests run; it is exact but not tuned.
 */
#include <string.h>

#include "services/dynamodb/ddb_num.h"

#define EXP_MAX 126     /* 9.99..E+125 = 0.999.. x 10^126 */
#define EXP_MIN (-129)  /* 1E-130 = 0.1 x 10^-129 */

static ddb_num_err finish(ddb_num *n)
{
    int lead = 0;
    while (lead < n->ndig && n->d[lead] == 0)
        lead++;
    if (lead) {
        memmove(n->d, n->d + lead, (size_t)(n->ndig - lead));
        n->ndig = (uint8_t)(n->ndig - lead);
        n->exp = (int16_t)(n->exp - lead);
    }
    while (n->ndig && n->d[n->ndig - 1] == 0)
        n->ndig--;
    if (n->ndig == 0) {
        n->neg = false;
        n->exp = 0;
        return DDB_NUM_OK;
    }
    if (n->exp > EXP_MAX)
        return DDB_NUM_OVERFLOW;
    if (n->exp < EXP_MIN)
        return DDB_NUM_UNDERFLOW;
    return DDB_NUM_OK;
}

ddb_num_err ddb_num_parse(const char *s, size_t len, ddb_num *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        out->neg = s[i++] == '-';
    long exp = 0;
    int digits = 0, sig = 0;
    bool point = false, seen_nonzero = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        digits++;
        if (!seen_nonzero && c == '0') {
            if (point)
                exp--;
            continue;
        }
        seen_nonzero = true;
        if (!point)
            exp++;
        if (sig >= DDB_NUM_DIGITS) {
            if (c != '0')
                return DDB_NUM_PRECISION;
            sig++; /* trailing zero beyond 38 digits: harmless */
            continue;
        }
        out->d[sig++] = (uint8_t)(c - '0');
    }
    if (!digits)
        return DDB_NUM_SYNTAX;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        if (i >= len)
            return DDB_NUM_SYNTAX;
        long e = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        exp += eneg ? -e : e;
    }
    if (i != len)
        return DDB_NUM_SYNTAX;
    out->ndig = (uint8_t)(sig > DDB_NUM_DIGITS ? DDB_NUM_DIGITS : sig);
    if (exp > 10000 || exp < -10000)
        return out->ndig ? (exp > 0 ? DDB_NUM_OVERFLOW : DDB_NUM_UNDERFLOW) : (finish(out), DDB_NUM_OK);
    out->exp = (int16_t)exp;
    return finish(out);
}

size_t ddb_num_format(const ddb_num *n, char *buf)
{
    size_t k = 0;
    if (n->ndig == 0) {
        buf[0] = '0';
        buf[1] = 0;
        return 1;
    }
    if (n->neg)
        buf[k++] = '-';
    if (n->exp <= 0) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (int i = 0; i < -n->exp; i++)
            buf[k++] = '0';
        for (int i = 0; i < n->ndig; i++)
            buf[k++] = (char)('0' + n->d[i]);
    } else {
        for (int i = 0; i < n->ndig || i < n->exp; i++) {
            if (i == n->exp)
                buf[k++] = '.';
            buf[k++] = (char)('0' + (i < n->ndig ? n->d[i] : 0));
        }
    }
    buf[k] = 0;
    return k;
}

static int mag_cmp(const ddb_num *a, const ddb_num *b)
{
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    for (int i = 0; i < a->ndig || i < b->ndig; i++) {
        int x = i < a->ndig ? a->d[i] : 0, y = i < b->ndig ? b->d[i] : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

int ddb_num_cmp(const ddb_num *a, const ddb_num *b)
{
    int sa = a->ndig == 0 ? 0 : a->neg ? -1 : 1, sb = b->ndig == 0 ? 0 : b->neg ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int m = mag_cmp(a, b);
    return sa < 0 ? -m : m;
}

#define WIDE 400   /* digits spanning 10^EXP_MAX .. 10^(EXP_MIN - 38), plus carry */

/* Digit of x at power-of-ten position pos (value d x 10^pos). */
static int digit_at(const ddb_num *x, int pos)
{
    int i = x->exp - 1 - pos;
    return i >= 0 && i < x->ndig ? x->d[i] : 0;
}

static ddb_num_err mag_addsub(const ddb_num *a, const ddb_num *b, bool sub, bool neg, ddb_num *out)
{
    int lo = a->exp - a->ndig < b->exp - b->ndig ? a->exp - a->ndig : b->exp - b->ndig;
    int hi = (a->exp > b->exp ? a->exp : b->exp) + 1;
    int w = hi - lo;
    int8_t r[WIDE];
    int carry = 0;
    for (int k = 0; k < w; k++) {
        int v = digit_at(a, lo + k) + (sub ? -digit_at(b, lo + k) : digit_at(b, lo + k)) + carry;
        carry = v < 0 ? -1 : v / 10;
        r[k] = (int8_t)(v - carry * 10);
    }
    int top = w - 1;
    while (top >= 0 && r[top] == 0)
        top--;
    memset(out, 0, sizeof *out);
    if (top < 0)
        return DDB_NUM_OK;
    int bottom = 0;
    while (r[bottom] == 0)
        bottom++;
    if (top - bottom + 1 > DDB_NUM_DIGITS)
        return DDB_NUM_PRECISION;
    out->neg = neg;
    out->exp = (int16_t)(lo + top + 1);
    for (int k = top; k >= bottom; k--)
        out->d[out->ndig++] = (uint8_t)r[k];
    return finish(out);
}

ddb_num_err ddb_num_add(const ddb_num *a, const ddb_num *b, ddb_num *out)
{
    if (a->ndig == 0 || b->ndig == 0) {
        *out = a->ndig ? *a : *b;
        return DDB_NUM_OK;
    }
    if (a->neg == b->neg)
        return mag_addsub(a, b, false, a->neg, out);
    int m = mag_cmp(a, b);
    return m >= 0 ? mag_addsub(a, b, true, a->neg, out) : mag_addsub(b, a, true, b->neg, out);
}

ddb_num_err ddb_num_sub(const ddb_num *a, const ddb_num *b, ddb_num *out)
{
    ddb_num nb = *b;
    nb.neg = nb.ndig ? !b->neg : false;
    return ddb_num_add(a, &nb, out);
}

size_t ddb_num_sortkey(const ddb_num *n, uint8_t *out)
{
    size_t k = 0;
    if (n->ndig == 0) {
        out[k++] = 0x80;
        return k;
    }
    out[k++] = n->neg ? 0x40 : 0xC0;
    int e = n->exp - EXP_MIN;   /* 0..255 */
    out[k++] = (uint8_t)(n->neg ? 255 - e : e);
    for (int i = 0; i < n->ndig; i += 2) {
        int pair = n->d[i] * 10 + (i + 1 < n->ndig ? n->d[i + 1] : 0);
        out[k++] = (uint8_t)(n->neg ? 101 - pair : pair + 1);
    }
    if (n->neg)
        out[k++] = 0xFF;
    return k;
}

const char *ddb_num_errmsg(ddb_num_err e)
{
    switch (e) {
    case DDB_NUM_OK: return "";
    case DDB_NUM_SYNTAX: return "The parameter cannot be converted to a numeric value";
    case DDB_NUM_PRECISION: return "Attempting to store more than 38 significant digits in a Number";
    case DDB_NUM_OVERFLOW:
        return "Number overflow. Attempting to store a number with magnitude larger than supported range";
    case DDB_NUM_UNDERFLOW:
        return "Number underflow. Attempting to store a number with magnitude smaller than supported range";
    }
    return "";
}
