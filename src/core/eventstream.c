/*
 * eventstream.c — writes AWS event-stream messages (see eventstream.h).
 * The CRCs are zlib's crc32 (the IEEE polynomial the framing specifies).
 */
#include <string.h>
#include <zlib.h>

#include "eventstream.h"

static void put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int nb_es_message(nb_buf *out, const nb_es_header *h, int nh, const void *payload, size_t len)
{
    size_t hlen = 0;
    for (int i = 0; i < nh; i++) {
        size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
        if (nl == 0 || nl > 255 || vl > 65535)
            return -1;
        hlen += 1 + nl + 1 + 2 + vl;
    }
    size_t total = 12 + hlen + len + 4;
    if (total > NB_ES_MAX_MESSAGE)
        return -1;
    size_t start = out->len;
    unsigned char pre[12];
    put32(pre, (unsigned long)total);
    put32(pre + 4, (unsigned long)hlen);
    put32(pre + 8, crc32(0L, pre, 8));
    nb_buf_add(out, pre, sizeof pre);
    for (int i = 0; i < nh; i++) {
        size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
        unsigned char b[3];
        b[0] = (unsigned char)nl;
        nb_buf_add(out, b, 1);
        nb_buf_add(out, h[i].name, nl);
        b[0] = 7; /* string */
        b[1] = (unsigned char)(vl >> 8);
        b[2] = (unsigned char)vl;
        nb_buf_add(out, b, 3);
        nb_buf_add(out, h[i].value, vl);
    }
    if (len)
        nb_buf_add(out, payload, len);
    unsigned char crc[4];
    put32(crc, crc32(0L, (const unsigned char *)out->data + start, (uInt)(out->len - start)));
    nb_buf_add(out, crc, sizeof crc);
    return 0;
}

int nb_es_event(nb_buf *out, const char *event_type, const char *content_type,
                const void *payload, size_t len)
{
    nb_es_header h[] = {
        {":event-type", event_type},
        {":content-type", content_type},
        {":message-type", "event"},
    };
    return nb_es_message(out, h, 3, payload, len);
}
