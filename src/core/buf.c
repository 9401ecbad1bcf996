/* buf.c — growable buffers, XML escaping and percent-decoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "nimbus.h"

void nb_buf_reserve(nb_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = nb_realloc(b->data, cap);
    b->cap = cap;
}

void nb_buf_add(nb_buf *b, const void *p, size_t n)
{
    nb_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void nb_buf_adds(nb_buf *b, const char *s) { nb_buf_add(b, s, strlen(s)); }

void nb_buf_addc(nb_buf *b, char c) { nb_buf_add(b, &c, 1); }

void nb_buf_printf(nb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        nb_buf_add(b, tmp, (size_t)n);
        return;
    }
    nb_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void nb_buf_free(nb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void nb_buf_xml(nb_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        char num[16];
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#xD;"; break;
        case '\n': rep = "&#xA;"; break;
        default:
            if (c < 0x20 && c != '\t') {
                snprintf(num, sizeof num, "&#x%X;", c);
                rep = num;
            }
        }
        if (rep) {
            nb_buf_add(b, s + start, i - start);
            nb_buf_adds(b, rep);
            start = i + 1;
        }
    }
    nb_buf_add(b, s + start, n - start);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void nb_url_encode(nb_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            nb_buf_addc(out, (char)*p);
        } else {
            nb_buf_addc(out, '%');
            nb_buf_addc(out, hex[*p >> 4]);
            nb_buf_addc(out, hex[*p & 15]);
        }
    }
}

int nb_url_decode(nb_buf *out, const char *s, size_t n, int plus)
{
    nb_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return -1;
            out->data[out->len++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus) {
            out->data[out->len++] = ' ';
        } else {
            out->data[out->len++] = c;
        }
    }
    out->data[out->len] = 0;
    return 0;
}
