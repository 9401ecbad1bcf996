/*
 * sqs_msg.c — outgoing messages: validation, attribute encoding and MD5s,
 * SendMessage and SendMessageBatch, and the row insert/copy used by the
 * dead-letter redrive and move tasks.
 *
 * Message attributes are stored in exactly the byte string AWS hashes for
 * MD5OfMessageAttributes: for each attribute in name order, a 4-byte
 * big-endian length and the name, a 4-byte length and the data type, one
 * transport byte (1 String/Number, 2 Binary) and a 4-byte length and the
 * value.  So the MD5 of a send is md5(encoding), and a receive decodes the
 * same bytes (and hashes the selected subset).
 *
 * FIFO deduplication: sqs_dedup keyed by (queue, scope, id) where scope is
 * the group id under DeduplicationScope=messageGroup and "" otherwise; a
 * live record (expires_at > now) makes the send answer with the original
 * MessageId and SequenceNumber without storing anything.
 */
#include <ctype.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/codec.h"
#include "sqs_internal.h"

static void err_set(sqs_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_set(sqs_err *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    snprintf(e->code, sizeof e->code, "%s", code);
    e->whole = false;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* ---- character rules ----------------------------------------------------- */

static bool allowed_cp(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* Decode one UTF-8 sequence at s (n bytes left); returns its length, or 0
 * when malformed (overlong, surrogate, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* First disallowed character of s, or -1 when all are allowed. */
static int64_t first_bad_char(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* Eight printable ASCII bytes at a time (none below 0x20 or with
         * the high bit set). */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
            if ((((w - ones * 0x20) & ~w) | w) & high)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (p[i] >= 0x20 && p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = utf8_next(p + i, n - i, &cp);
        if (l == 0)
            return 0xFFFD;
        if (!allowed_cp(cp))
            return cp;
        i += l;
    }
    return -1;
}

bool sqs_valid_body(const char *s, size_t n, sqs_err *err)
{
    int64_t bad = first_bad_char(s, n);
    if (bad < 0)
        return true;
    err_set(err, "InvalidMessageContents",
            "Invalid binary character '#x%X' was found in the message body, the set of allowed "
            "characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].",
            (unsigned)bad);
    return false;
}

/* ---- attribute encoding ------------------------------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = nb_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_put_lv(buf *b, const void *d, size_t n)
{
    unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    buf_put(b, l, 4);
    buf_put(b, d, n);
}

static void encode_one(buf *b, const char *name, const char *type, int transport,
                       const char *val, size_t vlen)
{
    unsigned char t = (unsigned char)transport;
    buf_put_lv(b, name, strlen(name));
    buf_put_lv(b, type, strlen(type));
    buf_put(b, &t, 1);
    buf_put_lv(b, val, vlen);
}

void sqs_msg_attrs_md5(const unsigned char *p, size_t len, char out[33])
{
    nb_md5_hex(p, len, out);
}

static bool valid_attr_name(const char *n, sqs_err *err)
{
    size_t len = strlen(n);
    if (len == 0 || len > 256) {
        err_set(err, "InvalidParameterValue", "Message (user) attribute names must be shorter "
                "than 256 Bytes");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.' && c < 0x80) {
            err_set(err, "InvalidParameterValue", "Message (user) attributes name can only "
                    "contain upper and lower score characters, digits, periods, hyphens and "
                    "underscores. ");
            return false;
        }
    }
    if (!strncasecmp(n, "AWS.", 4) || !strncasecmp(n, "Amazon.", 7)) {
        err_set(err, "InvalidParameterValue", "You can't use message attribute names beginning "
                "with 'AWS.' or 'Amazon.'. These strings are reserved for internal use by AWS.");
        return false;
    }
    if (n[0] == '.' || n[len - 1] == '.' || strstr(n, "..")) {
        err_set(err, "InvalidParameterValue", "Message (user) attribute name '%s' can't start "
                "or end with a period (.), or contain consecutive periods (..).", n);
        return false;
    }
    return true;
}

static bool is_number(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (isdigit((unsigned char)s[i]))
        i++, digits++;
    if (s[i] == '.')
        for (i++; isdigit((unsigned char)s[i]); i++)
            digits++;
    if (digits == 0)
        return false;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!isdigit((unsigned char)s[i]))
            return false;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    return s[i] == '\0';
}

/* Base type of a data type ("String", "Number.int" -> "Number"), or 0. */
static int base_type(const char *t)
{
    static const char *const bases[] = {"String", "Number", "Binary"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(bases[i]);
        if (!strncmp(t, bases[i], l) && (t[l] == '\0' || (t[l] == '.' && t[l + 1])))
            return i + 1;
    }
    return 0;
}

static bool attr_value_ok(const char *name, const char *type, int base, json_object *v,
                          sqs_err *err)
{
    json_object *sv = NULL, *bv = NULL;
    json_object_object_get_ex(v, "StringValue", &sv);
    json_object_object_get_ex(v, "BinaryValue", &bv);
    const char *label = base == 1 ? "String" : base == 2 ? "Number" : "Binary";
    json_object *val = base == 3 ? bv : sv;
    if (!val || !json_object_is_type(val, json_type_string) || json_object_get_string_len(val) == 0) {
        err_set(err, "InvalidParameterValue", "Message (user) attribute '%s' must contain a "
                "non-empty value of type '%s'.", name, label);
        return false;
    }
    (void)type;
    const char *s = json_object_get_string(val);
    if (base == 2 && !is_number(s)) {
        err_set(err, "InvalidParameterValue", "Can't cast the value of message (user) attribute "
                "'%s' to a number.", name);
        return false;
    }
    if (base != 3 && first_bad_char(s, (size_t)json_object_get_string_len(val)) >= 0) {
        err_set(err, "InvalidParameterValue", "Message (user) attribute '%s' contains invalid "
                "characters. Valid characters are #x9 | #xA | #xD | [#x20-#xD7FF] | "
                "[#xE000-#xFFFD] | [#x10000-#x10FFFF].", name);
        return false;
    }
    return true;
}

static bool attr_check(const char *name, json_object *v, sqs_err *err, int *base_out)
{
    if (!valid_attr_name(name, err))
        return false;
    const char *type = json_object_is_type(v, json_type_object) ? nb_str(v, "DataType") : NULL;
    if (!type || !*type) {
        err_set(err, "InvalidParameterValue", "The message attribute '%s' must contain non-empty "
                "message attribute type.", name);
        return false;
    }
    int base = base_type(type);
    if (!base) {
        err_set(err, "InvalidParameterValue", "The type of message (user) attribute '%s' is "
                "invalid. You must use only the following supported type prefixes: Binary, "
                "Number, String.", name);
        return false;
    }
    if (strlen(type) > 256) {
        err_set(err, "InvalidParameterValue", "Message (user) attribute '%s' type must be shorter "
                "than 256 Bytes.", name);
        return false;
    }
    *base_out = base;
    return attr_value_ok(name, type, base, v, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool sqs_msg_attrs_encode(json_object *attrs, unsigned char **out, size_t *len, size_t *size,
                          sqs_err *err)
{
    *out = NULL, *len = 0, *size = 0;
    int n = attrs ? json_object_object_length(attrs) : 0;
    if (n == 0)
        return true;
    if (n > SQS_MAX_MSG_ATTRS) {
        err_set(err, "InvalidParameterValue", "Number of message attributes [%d] exceeds the "
                "allowed maximum [%d].", n, SQS_MAX_MSG_ATTRS);
        return false;
    }
    const char *names[SQS_MAX_MSG_ATTRS];
    int k = 0;
    json_object_object_foreach(attrs, key, val) {
        (void)val;
        names[k++] = key;
    }
    qsort(names, (size_t)k, sizeof names[0], cmp_str);
    buf b = {0};
    for (int i = 0; i < k; i++) {
        json_object *v = nb_get(attrs, names[i]);
        int base = 0;
        if (!attr_check(names[i], v, err, &base)) {
            free(b.p);
            return false;
        }
        const char *type = nb_str(v, "DataType");
        json_object *value = nb_get(v, base == 3 ? "BinaryValue" : "StringValue");
        size_t vl = (size_t)json_object_get_string_len(value);
        encode_one(&b, names[i], type, base == 3 ? 2 : 1, json_object_get_string(value), vl);
        *size += strlen(names[i]) + strlen(type) + vl;
    }
    *out = b.p, *len = b.len;
    return true;
}

/* ---- decoding for receive ------------------------------------------------ */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool filter_match(json_object *filter, const char *name, size_t nlen)
{
    size_t n = filter ? json_object_array_length(filter) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *f = json_object_get_string(json_object_array_get_idx(filter, i));
        size_t fl = f ? strlen(f) : 0;
        if (!f)
            continue;
        if (!strcmp(f, "All") || !strcmp(f, ".*") || !strcmp(f, "*"))
            return true;
        if (fl >= 2 && !strcmp(f + fl - 2, ".*")) {
            if (nlen >= fl - 2 && !memcmp(name, f, fl - 2))
                return true;
        } else if (fl == nlen && !memcmp(f, name, nlen)) {
            return true;
        }
    }
    return false;
}

/* One encoded attribute at p (len bytes left): fills the parts; returns its
 * total size or 0 when the encoding is damaged. */
typedef struct attr_parts {
    const char *name, *type, *val;
    size_t nl, tl, vl;
    int transport;
} attr_parts;

static size_t attr_parse(const unsigned char *p, size_t len, attr_parts *a)
{
    size_t off = 0;
    const char **fields[3] = {&a->name, &a->type, &a->val};
    size_t *lens[3] = {&a->nl, &a->tl, &a->vl};
    for (int f = 0; f < 3; f++) {
        if (f == 2) {
            if (off + 1 > len)
                return 0;
            a->transport = p[off++];
        }
        if (off + 4 > len)
            return 0;
        size_t l = rd32(p + off);
        off += 4;
        if (off + l > len)
            return 0;
        *fields[f] = (const char *)p + off;
        *lens[f] = l;
        off += l;
    }
    return off;
}

static json_object *attr_json(const attr_parts *a)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "DataType", json_object_new_string_len(a->type, (int)a->tl));
    json_object_object_add(o, a->transport == 2 ? "BinaryValue" : "StringValue",
                           json_object_new_string_len(a->val, (int)a->vl));
    return o;
}

json_object *sqs_msg_attrs_decode(const unsigned char *p, size_t len, json_object *filter,
                                  char md5[33])
{
    json_object *out = NULL;
    buf kept = {0};
    size_t off = 0;
    while (filter && off < len) {
        attr_parts a;
        size_t l = attr_parse(p + off, len - off, &a);
        if (l == 0)
            break;
        char name[260];
        snprintf(name, sizeof name, "%.*s", (int)a.nl, a.name);
        if (filter_match(filter, a.name, a.nl)) {
            if (!out)
                out = json_object_new_object();
            json_object_object_add(out, name, attr_json(&a));
            buf_put(&kept, p + off, l);
        }
        off += l;
    }
    if (out)
        nb_md5_hex(kept.p, kept.len, md5);
    free(kept.p);
    return out;
}

/* ---- preparing a message -------------------------------------------------- */

/* 1..128 printable ASCII characters (dedup ids, group ids, attempt ids). */
bool sqs_valid_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7E)
            return false;
    return true;
}

static bool prep_system(json_object *sys, sqs_out_msg *m, sqs_err *err)
{
    m->md5_sys[0] = '\0';
    m->trace = NULL;
    if (!sys || json_object_object_length(sys) == 0)
        return true;
    json_object_object_foreach(sys, key, v) {
        const char *t = nb_str(v, "DataType"), *s = nb_str(v, "StringValue");
        if (strcmp(key, "AWSTraceHeader") || !t || strcmp(t, "String") || !s || !*s) {
            err_set(err, "InvalidParameterValue", "Message system attribute '%s' is invalid: "
                    "only AWSTraceHeader of type String with a non-empty value is supported.", key);
            return false;
        }
        m->trace = s;
    }
    buf b = {0};
    encode_one(&b, "AWSTraceHeader", "String", 1, m->trace, strlen(m->trace));
    nb_md5_hex(b.p, b.len, m->md5_sys);
    free(b.p);
    return true;
}

/* The members of a message (SendMessage input or batch entry), found in
 * one walk over the object instead of a hash lookup per member. */
typedef struct msg_members {
    json_object *body, *delay, *group, *dedup, *attrs, *sys;
} msg_members;

static void msg_members_scan(json_object *e, msg_members *f)
{
    memset(f, 0, sizeof *f);
    if (!json_object_is_type(e, json_type_object))
        return;
    json_object_object_foreach(e, key, v) {
        if (key[0] == 'D') {
            if (!strcmp(key, "DelaySeconds"))
                f->delay = v;
        } else if (!strncmp(key, "Message", 7)) {
            const char *k = key + 7;
            if (!strcmp(k, "Body"))
                f->body = v;
            else if (!strcmp(k, "GroupId"))
                f->group = v;
            else if (!strcmp(k, "DeduplicationId"))
                f->dedup = v;
            else if (!strcmp(k, "Attributes"))
                f->attrs = v;
            else if (!strcmp(k, "SystemAttributes"))
                f->sys = v;
        }
    }
}

/* nb_str() of a member found by msg_members_scan. */
static const char *member_str(json_object *v)
{
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool prep_delay(const sqs_queue *q, const msg_members *f, sqs_out_msg *m, sqs_err *err)
{
    int64_t d;
    m->delay = q->delay;
    if (!f->delay || json_object_is_type(f->delay, json_type_null))
        return true;
    d = json_object_get_int64(f->delay);
    if (d < 0 || d > SQS_MAX_DELAY) {
        err_set(err, "InvalidParameterValue", "Value %lld for parameter DelaySeconds is invalid. "
                "Reason: DelaySeconds must be >= 0 and <= 900.", (long long)d);
        return false;
    }
    if (q->fifo && d != 0) {
        err_set(err, "InvalidParameterValue", "Value %lld for parameter DelaySeconds is invalid. "
                "Reason: The request include parameter that is not valid for this queue type.",
                (long long)d);
        err->whole = true;
        return false;
    }
    if (!q->fifo)
        m->delay = (int)d;
    return true;
}

static void sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, n, md);
    nb_hex(md, sizeof md, out);
}

static bool prep_fifo(const sqs_queue *q, const msg_members *f, sqs_out_msg *m, sqs_err *err)
{
    const char *g = member_str(f->group), *d = member_str(f->dedup);
    m->group = g, m->dedup[0] = '\0';
    if (g && !sqs_valid_token(g)) {
        err_set(err, "InvalidParameterValue", "Value %s for parameter MessageGroupId is invalid. "
                "Reason: MessageGroupId can only include alphanumeric and punctuation characters. "
                "1 to 128 in length.", g);
        return false;
    }
    if (!q->fifo) {
        if (!d)
            return true;
        err_set(err, "InvalidParameterValue", "Value %s for parameter MessageDeduplicationId is "
                "invalid. Reason: The request include parameter that is not valid for this queue "
                "type.", d);
        return false;
    }
    if (!g) {
        err_set(err, "MissingParameter", "The request must contain the parameter MessageGroupId.");
        err->whole = true;
        return false;
    }
    if (d && !sqs_valid_token(d)) {
        err_set(err, "InvalidParameterValue", "Value %s for parameter MessageDeduplicationId is "
                "invalid. Reason: MessageDeduplicationId can only include alphanumeric and "
                "punctuation characters. 1 to 128 in length.", d);
        return false;
    }
    if (d)
        snprintf(m->dedup, sizeof m->dedup, "%s", d);
    else if (q->cbd) {
        char h[65];
        sha256_hex(m->body, m->body_len, h);
        snprintf(m->dedup, sizeof m->dedup, "%s", h);
    } else {
        err_set(err, "InvalidParameterValue", "The queue should either have "
                "ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
        err->whole = true;
        return false;
    }
    return true;
}

/* Validate one message (SendMessage input or a batch entry) into m. */
static bool prepare(const sqs_queue *q, json_object *e, sqs_out_msg *m, sqs_err *err)
{
    memset(m, 0, sizeof *m);
    msg_members f;
    msg_members_scan(e, &f);
    json_object *body = f.body;
    if (!body || json_object_get_string_len(body) == 0) {
        err_set(err, "MissingParameter", "The request must contain the parameter MessageBody.");
        return false;
    }
    m->body = json_object_get_string(body);
    m->body_len = (size_t)json_object_get_string_len(body);
    if (!prep_delay(q, &f, m, err) || !prep_fifo(q, &f, m, err))
        return false;
    if (!sqs_valid_body(m->body, m->body_len, err))
        return false;
    size_t asize = 0;
    if (!sqs_msg_attrs_encode(f.attrs, &m->attrs, &m->attrs_len, &asize, err))
        return false;
    if (!prep_system(f.sys, m, err))
        return false;
    m->size = m->body_len + asize;
    nb_md5_hex(m->body, m->body_len, m->md5_body);
    if (m->attrs)
        sqs_msg_attrs_md5(m->attrs, m->attrs_len, m->md5_attrs);
    return true;
}

static bool check_size(const sqs_queue *q, const sqs_out_msg *m, sqs_err *err)
{
    if (m->size <= (size_t)q->max_size)
        return true;
    err_set(err, "InvalidParameterValue", "One or more parameters are invalid. Reason: Message "
            "must be shorter than %d bytes.", q->max_size);
    return false;
}

/* ---- storing ------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int sqs_msg_insert(int64_t queue_id, bool fifo, const sqs_row *r)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO sqs_messages(seq, queue_id, fifo, msg_id, body,"
                                   " md5_body, attrs, md5_attrs, trace, sender, sent_ms,"
                                   " visible_at, expires_at, group_id, dedup_id, dlq_source)"
                                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, queue_id);
    sqlite3_bind_int(st, 3, fifo);
    sqlite3_bind_text(st, 4, r->msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, r->body, (int)r->body_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->md5_body, -1, SQLITE_STATIC);
    if (r->attrs)
        sqlite3_bind_blob(st, 7, r->attrs, (int)r->attrs_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    bind_text(st, 8, r->md5_attrs);
    bind_text(st, 9, r->trace);
    sqlite3_bind_text(st, 10, r->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, r->sent_ms);
    sqlite3_bind_int64(st, 12, r->visible_at);
    sqlite3_bind_int64(st, 13, r->expires_at);
    bind_text(st, 14, r->group);
    bind_text(st, 15, r->dedup);
    bind_text(st, 16, r->dlq_source);
    if (sqlite3_step(st) != SQLITE_DONE) {
        NB_ERR("sqs: insert message: %s", sqlite3_errmsg(nb_db()));
        return -1;
    }
    sqs_expiry_note(r->expires_at);
    return 0;
}

int sqs_msg_copy(int64_t seq, const sqs_queue *dst, int64_t now, const char *dlq_source)
{
    static sqlite3_stmt *ins, *del;
    sqlite3_stmt *st = nb_stmt(&ins, "INSERT INTO sqs_messages(seq, queue_id, fifo, msg_id, body,"
                                     " md5_body, attrs, md5_attrs, trace, sender, sent_ms,"
                                     " visible_at, expires_at, group_id, dedup_id, dlq_source)"
                                     " SELECT ?1, ?2, ?3, msg_id, body, md5_body, attrs,"
                                     " md5_attrs, trace, sender, sent_ms, ?4,"
                                     " CASE WHEN ?3 THEN ?4 ELSE sent_ms END + ?5,"
                                     " group_id, dedup_id, ?6 FROM sqs_messages WHERE seq=?7");
    sqlite3_bind_int64(st, 1, sqs_next_seq(now));
    sqlite3_bind_int64(st, 2, dst->id);
    sqlite3_bind_int(st, 3, dst->fifo);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, (int64_t)dst->retention * 1000);
    bind_text(st, 6, dlq_source);
    sqlite3_bind_int64(st, 7, seq);
    if (sqlite3_step(st) != SQLITE_DONE)
        return -1;
    sqs_expiry_unknown();
    st = nb_stmt(&del, "DELETE FROM sqs_messages WHERE seq=?");
    sqlite3_bind_int64(st, 1, seq);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Dedup lookup: true (with id and seq) when a live record exists. */
static bool dedup_find(const sqs_queue *q, const sqs_out_msg *m, int64_t now, char id[37],
                       int64_t *seq)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT msg_id, seq FROM sqs_dedup WHERE queue_id=? AND"
                                   " scope=? AND dedup_id=? AND expires_at > ?");
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_text(st, 2, q->dedup_group && m->group ? m->group : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->dedup, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) != SQLITE_ROW)
        return false;
    snprintf(id, 37, "%s", (const char *)sqlite3_column_text(st, 0));
    *seq = sqlite3_column_int64(st, 1);
    return true;
}

static int dedup_store(const sqs_queue *q, const sqs_out_msg *m, const char *id, int64_t seq,
                       int64_t now)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO sqs_dedup(queue_id, scope, dedup_id,"
                                   " msg_id, seq, expires_at) VALUES(?,?,?,?,?,?)");
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_text(st, 2, q->dedup_group && m->group ? m->group : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->dedup, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, seq);
    sqlite3_bind_int64(st, 6, now + SQS_DEDUP_WINDOW_MS);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Store m (or find its duplicate); fills MessageId/SequenceNumber. */
static int store(nb_call *call, sqs_queue *q, const sqs_out_msg *m, char id[37], int64_t *seq)
{
    int64_t now = call->now_ms;
    if (q->fifo && dedup_find(q, m, now, id, seq))
        return 0;
    nb_uuid(id);
    *seq = sqs_next_seq(now);
    sqs_row r = {.seq = *seq, .msg_id = id, .body = m->body, .body_len = m->body_len,
                 .md5_body = m->md5_body, .attrs = m->attrs, .attrs_len = m->attrs_len,
                 .md5_attrs = m->attrs ? m->md5_attrs : NULL, .trace = m->trace,
                 .sender = call->account, .sent_ms = now,
                 .visible_at = now + (int64_t)m->delay * 1000,
                 .expires_at = now + (int64_t)q->retention * 1000, .group = m->group,
                 .dedup = q->fifo ? m->dedup : NULL, .dlq_source = NULL};
    if (sqs_msg_insert(q->id, q->fifo, &r) != 0)
        return -1;
    if (q->fifo && dedup_store(q, m, id, *seq, now) != 0)
        return -1;
    sqs_wait_touch(q);
    return 0;
}

/* Output members under literal keys, each added once to a fresh object:
 * json-c neither copies the key nor looks for an existing one. */
static void add_new(json_object *o, const char *key, json_object *v)
{
    json_object_object_add_ex(o, key, v,
                              JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

static void result_fields(json_object *o, const sqs_queue *q, const sqs_out_msg *m,
                          const char *id, int64_t seq)
{
    add_new(o, "MessageId", json_object_new_string(id));
    add_new(o, "MD5OfMessageBody", json_object_new_string_len(m->md5_body, 32));
    if (m->attrs)
        add_new(o, "MD5OfMessageAttributes", json_object_new_string_len(m->md5_attrs, 32));
    if (m->md5_sys[0])
        add_new(o, "MD5OfMessageSystemAttributes", json_object_new_string(m->md5_sys));
    if (q->fifo) {
        char sn[24];
        sqs_seqnum(seq, sn);
        add_new(o, "SequenceNumber", json_object_new_string(sn));
    }
}

/* The same members as JSON text, for callers encoding with the JSON codec
 * (call->json_out): a batch's results are ten objects of three strings,
 * and building, walking and freeing their trees cost more than the insert
 * of the messages.  Member order and escaping are the tree's. */
#define ADD_LIT(b, lit) nb_buf_add(b, lit, sizeof lit - 1)

static void result_text(nb_buf *b, const char *eid, const sqs_queue *q, const sqs_out_msg *m,
                        const char *id, int64_t seq)
{
    nb_buf_addc(b, '{');
    if (eid) { /* validated as present */
        ADD_LIT(b, "\"Id\":");
        nb_json_write_string(b, eid, strlen(eid));
        nb_buf_addc(b, ',');
    }
    ADD_LIT(b, "\"MessageId\":");
    nb_json_write_string(b, id, strlen(id));
    ADD_LIT(b, ",\"MD5OfMessageBody\":");
    nb_json_write_string(b, m->md5_body, strlen(m->md5_body));
    if (m->attrs) {
        ADD_LIT(b, ",\"MD5OfMessageAttributes\":");
        nb_json_write_string(b, m->md5_attrs, strlen(m->md5_attrs));
    }
    if (m->md5_sys[0]) {
        ADD_LIT(b, ",\"MD5OfMessageSystemAttributes\":");
        nb_json_write_string(b, m->md5_sys, strlen(m->md5_sys));
    }
    if (q->fifo) {
        char sn[24];
        sqs_seqnum(seq, sn);
        ADD_LIT(b, ",\"SequenceNumber\":");
        nb_json_write_string(b, sn, strlen(sn));
    }
    nb_buf_addc(b, '}');
}

static json_object *raw_output(nb_buf *b)
{
    json_object *o = nb_json_raw(b->data, b->len);
    nb_buf_free(b);
    return o;
}

static nb_status fail_err(nb_call *call, const sqs_err *e)
{
    return nb_fail(call, e->code, "%s", e->msg);
}

nb_status sqs_send_message(nb_call *call, json_object *in)
{
    sqs_queue *q = sqs_queue_from_url(call, in);
    sqs_out_msg m;
    sqs_err err;
    char id[37];
    int64_t seq;
    if (!q)
        return NB_ERROR;
    if (!prepare(q, in, &m, &err) || !check_size(q, &m, &err)) {
        free(m.attrs);
        return fail_err(call, &err);
    }
    int rc = store(call, q, &m, id, &seq);
    if (rc == 0 && call->json_out) {
        nb_buf b = {0};
        result_text(&b, NULL, q, &m, id, seq);
        call->out = raw_output(&b);
    } else if (rc == 0) {
        call->out = json_object_new_object();
        result_fields(call->out, q, &m, id, seq);
    }
    free(m.attrs);
    if (rc != 0)
        return nb_fail_status(call, 500, false, "InternalFailure", "Internal storage error.");
    return NB_OK;
}

/* ---- SendMessageBatch ------------------------------------------------------ */

typedef struct batch_entry {
    sqs_out_msg m;
    bool ok;
    sqs_err err;
} batch_entry;

/* Errors AWS reports for the whole batch rather than per entry. */
static bool batch_request_error(const batch_entry *b, size_t n, sqs_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const sqs_err *e = &b[i].err;
        if (!b[i].ok && e->whole) {
            *err = *e;
            snprintf(err->code, sizeof err->code, "InvalidParameterValue");
            return true;
        }
        total += b[i].ok ? b[i].m.size : 0;
    }
    if (total > SQS_MAX_BATCH_BYTES) {
        err_set(err, "BatchRequestTooLong", "Batch requests cannot be longer than %d bytes. You "
                "have sent %zu bytes.", SQS_MAX_BATCH_BYTES, total);
        return true;
    }
    return false;
}

/* Standard queues: the batch's valid entries go in with one multi-row
 * INSERT (one statement instead of one per entry).  Shared values are
 * ?1 queue_id, ?2 sender, ?3 sent_ms, ?4 expires_at; each row binds 9. */
#define ROW_PARAMS 9

static sqlite3_stmt *insert_rows_stmt(size_t k)
{
    static sqlite3_stmt *slots[SQS_MAX_BATCH + 1];
    if (!slots[k]) {
        char sql[4096];
        size_t at = (size_t)snprintf(sql, sizeof sql,
                                     "INSERT INTO sqs_messages(seq, queue_id, fifo, msg_id, body,"
                                     " md5_body, attrs, md5_attrs, trace, sender, sent_ms,"
                                     " visible_at, expires_at, group_id, dedup_id, dlq_source)"
                                     " VALUES");
        for (size_t i = 0; i < k; i++) {
            int b = 5 + (int)i * ROW_PARAMS;
            at += (size_t)snprintf(sql + at, sizeof sql - at,
                                   "%s(?%d,?1,0,?%d,?%d,?%d,?%d,?%d,?%d,?2,?3,?%d,?4,?%d,NULL,NULL)",
                                   i ? "," : "", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6,
                                   b + 7, b + 8);
        }
        return nb_stmt(&slots[k], sql);
    }
    return nb_stmt(&slots[k], NULL);
}

static void store_standard(nb_call *call, sqs_queue *q, const batch_entry *b, size_t n,
                           char ids[][37], int64_t *seqs, bool *stored)
{
    int64_t now = call->now_ms;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += b[i].ok;
    if (k == 0)
        return;
    sqlite3_stmt *st = insert_rows_stmt(k);
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_text(st, 2, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, now + (int64_t)q->retention * 1000);
    int p = 5;
    for (size_t i = 0; i < n; i++) {
        if (!b[i].ok)
            continue;
        const sqs_out_msg *m = &b[i].m;
        nb_uuid(ids[i]);
        seqs[i] = sqs_next_seq(now);
        sqlite3_bind_int64(st, p, seqs[i]);
        sqlite3_bind_text(st, p + 1, ids[i], 36, SQLITE_STATIC);
        sqlite3_bind_blob(st, p + 2, m->body, (int)m->body_len, SQLITE_STATIC);
        sqlite3_bind_text(st, p + 3, m->md5_body, 32, SQLITE_STATIC);
        if (m->attrs) {
            sqlite3_bind_blob(st, p + 4, m->attrs, (int)m->attrs_len, SQLITE_STATIC);
            sqlite3_bind_text(st, p + 5, m->md5_attrs, 32, SQLITE_STATIC);
        }
        bind_text(st, p + 6, m->trace);
        sqlite3_bind_int64(st, p + 7, now + (int64_t)m->delay * 1000);
        bind_text(st, p + 8, m->group);
        p += ROW_PARAMS;
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        NB_ERR("sqs: insert messages: %s", sqlite3_errmsg(nb_db()));
        return; /* the statement is atomic: nothing of it was stored */
    }
    for (size_t i = 0; i < n; i++)
        stored[i] = b[i].ok;
    sqs_expiry_note(now + (int64_t)q->retention * 1000);
    sqs_wait_touch(q);
}

static nb_status batch_store(nb_call *call, sqs_queue *q, json_object *entries, batch_entry *b,
                             size_t n)
{
    char ids[SQS_MAX_BATCH][37];
    int64_t seqs[SQS_MAX_BATCH];
    bool stored[SQS_MAX_BATCH] = {false};
    if (q->fifo) {
        /* One by one: a later entry may be a duplicate of an earlier one. */
        for (size_t i = 0; i < n; i++)
            stored[i] = b[i].ok && store(call, q, &b[i].m, ids[i], &seqs[i]) == 0;
    } else {
        store_standard(call, q, b, n, ids, seqs, stored);
    }
    json_object *ok = json_object_new_array(), *failed = json_object_new_array();
    nb_buf text = {0}; /* call->json_out: the Successful entries as JSON */
    for (size_t i = 0; i < n; i++) {
        const char *eid = nb_str(json_object_array_get_idx(entries, i), "Id");
        if (stored[i] && call->json_out) {
            nb_buf_addc(&text, text.len ? ',' : '[');
            result_text(&text, eid, q, &b[i].m, ids[i], seqs[i]);
        } else if (stored[i]) {
            json_object *r = json_object_new_object();
            add_new(r, "Id", json_object_new_string(eid));
            result_fields(r, q, &b[i].m, ids[i], seqs[i]);
            json_object_array_add(ok, r);
        } else if (b[i].ok) {
            json_object_array_add(failed, sqs_batch_failure(eid, "InternalFailure",
                                                            "Internal storage error.", false));
        } else {
            json_object_array_add(failed, sqs_batch_failure(eid, b[i].err.code, b[i].err.msg, true));
        }
    }
    if (call->json_out) {
        json_object_put(ok);
        if (!text.len)
            nb_buf_addc(&text, '[');
        nb_buf_addc(&text, ']');
        ok = raw_output(&text);
    }
    call->out = json_object_new_object();
    add_new(call->out, "Successful", ok);
    add_new(call->out, "Failed", failed);
    return NB_OK;
}

nb_status sqs_send_message_batch(nb_call *call, json_object *in)
{
    json_object *entries = nb_get(in, "Entries");
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q || sqs_batch_check(call, entries, "SendMessageBatchRequestEntry") != NB_OK)
        return NB_ERROR;
    size_t n = json_object_array_length(entries);
    batch_entry b[SQS_MAX_BATCH];
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        b[i].ok = prepare(q, e, &b[i].m, &b[i].err) && check_size(q, &b[i].m, &b[i].err);
    }
    sqs_err err;
    nb_status st = batch_request_error(b, n, &err) ? fail_err(call, &err)
                                                      : batch_store(call, q, entries, b, n);
    for (size_t i = 0; i < n; i++)
        free(b[i].m.attrs);
    return st;
}
