/*
 * buf.h — a growable byte buffer (the only way nimbus builds text).
 * Growth aborts on out-of-memory (nb_realloc); callers bound sizes.
 */
#ifndef NB_BUF_H
#define NB_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct nb_buf {
    char *data;
    size_t len, cap;
} nb_buf;

void nb_buf_reserve(nb_buf *b, size_t extra);
void nb_buf_add(nb_buf *b, const void *p, size_t n);
void nb_buf_adds(nb_buf *b, const char *s);
void nb_buf_addc(nb_buf *b, char c);
void nb_buf_printf(nb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nb_buf_free(nb_buf *b);
/* XML text/attribute escaping of n bytes. */
void nb_buf_xml(nb_buf *b, const char *s, size_t n);
/* Percent-decode (form rules: '+' is a space when plus is set); returns 0 or -1 on bad escape. */
int nb_url_decode(nb_buf *out, const char *s, size_t n, int plus);
/* Appends s percent-encoded: everything but RFC 3986's unreserved
 * characters (A-Z a-z 0-9 - _ . ~) as %XX. */
void nb_url_encode(nb_buf *out, const char *s);

#endif
