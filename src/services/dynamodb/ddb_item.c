/*
 * ddb_item.c — DynamoDB AttributeValue trees (see ddb_item.h for the
 * representation): validation with DynamoDB's messages, item size, the
 * storage encoding, equality and ordering, and key bytes.
 *
 * Validation follows the order DynamoDB reports errors in (dynalite's
 * validateAttributeValue, whose tests run against DynamoDB, and what
 * conformance suites measured since empty strings became legal in 2020):
 * no type at all, then each type member in turn (number syntax/range,
 * empty sets, NULL must be true, set members, duplicates, nested values in
 * document order), then more than one type.  Empty S and B values are legal
 * outside keys, and so are empty strings and binaries inside sets
 * (developer guide, "Data types": "empty string and binary values are
 * allowed within a set").  Nesting: an item's attribute value is level 1
 * and each M/L adds one; values below level 32 are rejected ("DynamoDB
 * supports nested attributes up to 32 levels deep").
 *
 * Storage encoding (all integers unsigned LEB128, minimal):
 *   value  = tag payload
 *   S, B   = 01/03 len bytes          SS, BS = 04/06 count (len bytes)*
 *   N      = 02 num                   NS     = 05 count num*
 *   M      = 07 count (len name value)*     L = 08 count value*
 *   NULL   = 09     BOOL = 0A false | 0B true
 *   num    = 00 for zero, else  (neg<<7 | ndig)  exp+129  BCD digits, two
 *            per byte, high nibble first, a final odd digit padded with 0
 *   item   = count (len name value)*       (an M without its tag)
 * The decoder accepts only what the encoder produces from a valid tree
 * (minimal varints, normalised numbers, distinct map names without NULs,
 * non-empty sets, depth <= 32), so decode then encode gives the same bytes.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/nimbus.h"
#include "ddb_item.h"
#include "ddb_num.h"

/* ---- types ---------------------------------------------------------------- */

static const char *const type_names[] = {
    [DDB_T_NONE] = "", [DDB_T_S] = "S",   [DDB_T_N] = "N",       [DDB_T_B] = "B",
    [DDB_T_SS] = "SS", [DDB_T_NS] = "NS", [DDB_T_BS] = "BS",     [DDB_T_M] = "M",
    [DDB_T_L] = "L",   [DDB_T_NULL] = "NULL", [DDB_T_BOOL] = "BOOL",
};
#define NTYPES ((int)(sizeof type_names / sizeof type_names[0]))

const char *ddb_type_name(ddb_type t)
{
    return (int)t >= 0 && (int)t < NTYPES ? type_names[t] : "";
}

static ddb_type type_by_name(const char *key)
{
    for (int t = 1; t < NTYPES; t++)
        if (strcmp(key, type_names[t]) == 0)
            return (ddb_type)t;
    return DDB_T_NONE;
}

ddb_type ddb_av_type(json_object *av, json_object **val)
{
    ddb_type found = DDB_T_NONE;
    int n = 0;
    if (val)
        *val = NULL;
    if (!json_object_is_type(av, json_type_object))
        return DDB_T_NONE;
    json_object_object_foreach(av, key, v) {
        ddb_type t = type_by_name(key);
        if (t == DDB_T_NONE || !v)
            continue;
        n++;
        found = t;
        if (val)
            *val = v;
    }
    if (n != 1 && val)
        *val = NULL;
    return n == 1 ? found : DDB_T_NONE;
}

static bool is_str(json_object *o) { return json_object_is_type(o, json_type_string); }

static size_t str_len(json_object *o) { return (size_t)json_object_get_string_len(o); }

/* ---- validation ----------------------------------------------------------- */

#define MSG_EMPTY "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
#define MSG_MULTI                                                                          \
    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of " \
    "the supported datatypes"
#define MSG_INVALID "One or more parameter values were invalid: "
#define MSG_NULL MSG_INVALID "Null attribute value types must have the value of true"
#define MSG_NESTING                                                                   \
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested " \
    "levels beyond supported limit"

static int fail(char *err, size_t errlen, const char *msg)
{
    if (errlen)
        snprintf(err, errlen, "%s", msg);
    return -1;
}

/* A message built in a buffer, truncated into err. */
static int fail_buf(char *err, size_t errlen, nb_buf *b)
{
    fail(err, errlen, b->data ? b->data : "");
    nb_buf_free(b);
    return -1;
}

/* Parses one N text; on success rewrites it to canonical text in place. */
static int check_number(json_object *s, ddb_num *out, char *err, size_t errlen)
{
    if (!is_str(s))
        return fail(err, errlen, ddb_num_errmsg(DDB_NUM_SYNTAX));
    const char *txt = json_object_get_string(s);
    size_t len = str_len(s);
    ddb_num_err e = ddb_num_parse(txt, len, out);
    if (e == DDB_NUM_SYNTAX && len > 0) {
        /* DynamoDB echoes the text: "...numeric value: b". */
        nb_buf b = {0};
        nb_buf_printf(&b, "%s: ", ddb_num_errmsg(e));
        nb_buf_add(&b, txt, len);
        return fail_buf(err, errlen, &b);
    }
    if (e)
        return fail(err, errlen, ddb_num_errmsg(e));
    char canon[DDB_NUM_MAXTEXT];
    size_t n = ddb_num_format(out, canon);
    if (n != len || memcmp(canon, txt, n) != 0)
        json_object_set_string_len(s, canon, (int)n);
    return 0;
}

/* A byte string for sorting set members. */
typedef struct bytes {
    const char *p;
    size_t n;
} bytes;

static int bytes_cmp(const bytes *a, const bytes *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c)
        return c;
    return (a->n > b->n) - (a->n < b->n);
}

static int bytes_qcmp(const void *a, const void *b) { return bytes_cmp(a, b); }

static int num_qcmp(const void *a, const void *b) { return ddb_num_cmp(a, b); }

/* Members of an SS/BS array as a sorted bytes array (caller frees). */
static bytes *sorted_members(json_object *arr, size_t n)
{
    bytes *v = nb_malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        v[i].p = json_object_get_string(m);
        v[i].n = str_len(m);
    }
    qsort(v, n, sizeof *v, bytes_qcmp);
    return v;
}

static bool has_dup_bytes(json_object *arr, size_t n)
{
    bytes *v = sorted_members(arr, n);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++)
        dup = bytes_cmp(&v[i - 1], &v[i]) == 0;
    free(v);
    return dup;
}

/* "One or more ... Input collection [a, b, a] contains duplicates." — the
 * members as given (Java's List.toString); BS members in base64 and with
 * DynamoDB's missing space before "of type BS". */
static int fail_dup(json_object *arr, size_t n, bool binary, char *err, size_t errlen)
{
    nb_buf b = {0};
    nb_buf_adds(&b, MSG_INVALID "Input collection [");
    for (size_t i = 0; i < n && b.len < errlen; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        if (i)
            nb_buf_adds(&b, ", ");
        if (binary) {
            size_t blen;
            char *enc = nb_base64_encode(json_object_get_string(m), str_len(m), &blen);
            nb_buf_add(&b, enc, blen);
            free(enc);
        } else {
            nb_buf_add(&b, json_object_get_string(m), str_len(m));
        }
    }
    nb_buf_adds(&b, binary ? "]of type BS contains duplicates." : "] contains duplicates.");
    return fail_buf(err, errlen, &b);
}

static int check_ns(json_object *arr, size_t n, char *err, size_t errlen)
{
    ddb_num *v = nb_malloc(n * sizeof *v);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = check_number(json_object_array_get_idx(arr, i), &v[i], err, errlen);
    if (rc == 0) {
        /* Numerically: "1" and "1.0" are the same member. */
        qsort(v, n, sizeof *v, num_qcmp);
        for (size_t i = 1; i < n && rc == 0; i++)
            if (ddb_num_cmp(&v[i - 1], &v[i]) == 0)
                rc = fail(err, errlen, "Input collection contains duplicates");
    }
    free(v);
    return rc;
}

static int check_set(ddb_type t, json_object *arr, char *err, size_t errlen)
{
    if (!json_object_is_type(arr, json_type_array))
        return fail(err, errlen, MSG_EMPTY);
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return fail(err, errlen,
                    t == DDB_T_SS   ? MSG_INVALID "An string set  may not be empty"
                    : t == DDB_T_NS ? MSG_INVALID "An number set  may not be empty"
                                    : MSG_INVALID "Binary sets should not be empty");
    if (t == DDB_T_NS)
        return check_ns(arr, n, err, errlen);
    for (size_t i = 0; i < n; i++)
        if (!is_str(json_object_array_get_idx(arr, i)))
            return fail(err, errlen, MSG_EMPTY);
    if (has_dup_bytes(arr, n))
        return fail_dup(arr, n, t == DDB_T_BS, err, errlen);
    return 0;
}

static int check_map(json_object *m, int depth, char *err, size_t errlen)
{
    if (!json_object_is_type(m, json_type_object))
        return fail(err, errlen, MSG_EMPTY);
    json_object_object_foreach(m, key, v) {
        (void)key;
        if (ddb_av_validate(v, depth + 1, err, errlen))
            return -1;
    }
    return 0;
}

static int check_list(json_object *l, int depth, char *err, size_t errlen)
{
    if (!json_object_is_type(l, json_type_array))
        return fail(err, errlen, MSG_EMPTY);
    size_t n = json_object_array_length(l);
    for (size_t i = 0; i < n; i++)
        if (ddb_av_validate(json_object_array_get_idx(l, i), depth + 1, err, errlen))
            return -1;
    return 0;
}

/* One type member's value. */
static int check_member(ddb_type t, json_object *v, int depth, char *err, size_t errlen)
{
    ddb_num n;
    switch (t) {
    case DDB_T_S:
    case DDB_T_B:
        return is_str(v) ? 0 : fail(err, errlen, MSG_EMPTY);
    case DDB_T_N:
        return check_number(v, &n, err, errlen);
    case DDB_T_SS:
    case DDB_T_NS:
    case DDB_T_BS:
        return check_set(t, v, err, errlen);
    case DDB_T_M:
        return check_map(v, depth, err, errlen);
    case DDB_T_L:
        return check_list(v, depth, err, errlen);
    case DDB_T_NULL:
        return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)
                   ? 0
                   : fail(err, errlen, MSG_NULL);
    case DDB_T_BOOL:
        return json_object_is_type(v, json_type_boolean) ? 0 : fail(err, errlen, MSG_EMPTY);
    case DDB_T_NONE:
        break;
    }
    return 0;
}

int ddb_av_validate(json_object *av, int depth, char *err, size_t errlen)
{
    if (depth > DDB_MAX_DEPTH)
        return fail(err, errlen, MSG_NESTING);
    if (!json_object_is_type(av, json_type_object))
        return fail(err, errlen, MSG_EMPTY);
    int ntypes = 0;
    json_object_object_foreach(av, key, v) {
        ddb_type t = type_by_name(key);
        if (t == DDB_T_NONE || !v)
            continue;
        ntypes++;
        if (check_member(t, v, depth, err, errlen))
            return -1;
    }
    if (ntypes == 0)
        return fail(err, errlen, MSG_EMPTY);
    if (ntypes > 1)
        return fail(err, errlen, MSG_MULTI);
    return 0;
}

int ddb_item_validate(json_object *item, char *err, size_t errlen)
{
    if (!json_object_is_type(item, json_type_object))
        return fail(err, errlen, MSG_EMPTY);
    json_object_object_foreach(item, key, v) {
        (void)key;
        if (ddb_av_validate(v, 1, err, errlen))
            return -1;
    }
    return 0;
}

/* ---- size ----------------------------------------------------------------- */

static int floor_div2(int x) { return x >= 0 ? x / 2 : -((1 - x) / 2); }

/* One byte, plus one per base-100 digit from the highest to the lowest
 * non-zero pair aligned on the decimal point, plus one if negative.  This
 * is the developer guide's "1 byte per two significant digits + 1" made
 * exact; conformance suites measured it against DynamoDB (dynalite's
 * valSize; dynoxide: "ceil(integer digits/2) + ceil(fraction digits/2)"). */
static size_t num_size(const ddb_num *n)
{
    if (n->ndig == 0)
        return 1;
    int top = n->exp - 1, bottom = n->exp - n->ndig; /* powers of 10 */
    int pairs = floor_div2(top) - floor_div2(bottom) + 1;
    return 1 + (size_t)pairs + (n->neg ? 1 : 0);
}

static size_t num_text_size(json_object *s)
{
    ddb_num n;
    if (!is_str(s) || ddb_num_parse(json_object_get_string(s), str_len(s), &n))
        return is_str(s) ? str_len(s) : 0; /* not valid: a fair guess */
    return num_size(&n);
}

static size_t set_size(ddb_type t, json_object *arr)
{
    size_t sum = 0, n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        sum += t == DDB_T_NS ? num_text_size(m) : is_str(m) ? str_len(m) : 0;
    }
    return sum;
}

/* Lists and maps: 3 bytes, plus 1 per element (AWS: "An attribute of type
 * List or Map requires 3 bytes of overhead ... Each List or Map element
 * also requires 1 byte of overhead"). */
static size_t container_size(ddb_type t, json_object *v)
{
    size_t sum = 3;
    if (t == DDB_T_L) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            sum += 1 + ddb_av_size(json_object_array_get_idx(v, i));
        return sum;
    }
    json_object_object_foreach(v, key, m) sum += 1 + strlen(key) + ddb_av_size(m);
    return sum;
}

size_t ddb_av_size(json_object *av)
{
    json_object *v;
    ddb_type t = ddb_av_type(av, &v);
    switch (t) {
    case DDB_T_S:
    case DDB_T_B:
        return is_str(v) ? str_len(v) : 0;
    case DDB_T_N:
        return num_text_size(v);
    case DDB_T_SS:
    case DDB_T_NS:
    case DDB_T_BS:
        return json_object_is_type(v, json_type_array) ? set_size(t, v) : 0;
    case DDB_T_M:
        return json_object_is_type(v, json_type_object) ? container_size(t, v) : 3;
    case DDB_T_L:
        return json_object_is_type(v, json_type_array) ? container_size(t, v) : 3;
    case DDB_T_NULL:
    case DDB_T_BOOL:
        return 1;
    case DDB_T_NONE:
        break;
    }
    return 0;
}

size_t ddb_item_size(json_object *item)
{
    size_t sum = 0;
    if (!json_object_is_type(item, json_type_object))
        return 0;
    json_object_object_foreach(item, key, v) sum += strlen(key) + ddb_av_size(v);
    return sum;
}

/* ---- encoding ------------------------------------------------------------- */

enum {
    TAG_S = 1, TAG_N, TAG_B, TAG_SS, TAG_NS, TAG_BS, TAG_M, TAG_L, TAG_NULL,
    TAG_FALSE, TAG_TRUE,
};

static void put_varint(nb_buf *out, uint64_t v)
{
    uint8_t tmp[10];
    size_t k = 0;
    do {
        tmp[k] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v)
            tmp[k] |= 0x80;
        k++;
    } while (v);
    nb_buf_add(out, tmp, k);
}

static void put_bytes(nb_buf *out, const char *p, size_t n)
{
    put_varint(out, n);
    nb_buf_add(out, p, n);
}

static int put_num(nb_buf *out, json_object *s)
{
    ddb_num n;
    if (!is_str(s) || ddb_num_parse(json_object_get_string(s), str_len(s), &n))
        return -1;
    uint8_t tmp[2 + DDB_NUM_DIGITS / 2];
    size_t k = 0;
    tmp[k++] = (uint8_t)((n.neg ? 0x80 : 0) | n.ndig);
    if (n.ndig) {
        tmp[k++] = (uint8_t)(n.exp - DDB_NUM_EXP_MIN);
        for (int i = 0; i < n.ndig; i += 2)
            tmp[k++] = (uint8_t)(n.d[i] << 4 | n.d[i + 1]); /* d[ndig] is 0 */
    }
    nb_buf_add(out, tmp, k);
    return 0;
}

static int put_set(nb_buf *out, ddb_type t, json_object *arr)
{
    if (!json_object_is_type(arr, json_type_array))
        return -1;
    size_t n = json_object_array_length(arr);
    nb_buf_addc(out, (char)(t == DDB_T_SS ? TAG_SS : t == DDB_T_NS ? TAG_NS : TAG_BS));
    put_varint(out, n);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        if (t == DDB_T_NS) {
            if (put_num(out, m))
                return -1;
        } else if (is_str(m)) {
            put_bytes(out, json_object_get_string(m), str_len(m));
        } else {
            return -1;
        }
    }
    return 0;
}

static int encode_value(json_object *av, int depth, nb_buf *out);

static int put_members(nb_buf *out, json_object *obj, int depth)
{
    if (!json_object_is_type(obj, json_type_object))
        return -1;
    put_varint(out, (uint64_t)json_object_object_length(obj));
    json_object_object_foreach(obj, key, v) {
        put_bytes(out, key, strlen(key));
        if (encode_value(v, depth, out))
            return -1;
    }
    return 0;
}

static int put_list(nb_buf *out, json_object *arr, int depth)
{
    if (!json_object_is_type(arr, json_type_array))
        return -1;
    size_t n = json_object_array_length(arr);
    nb_buf_addc(out, TAG_L);
    put_varint(out, n);
    for (size_t i = 0; i < n; i++)
        if (encode_value(json_object_array_get_idx(arr, i), depth + 1, out))
            return -1;
    return 0;
}

static int encode_value(json_object *av, int depth, nb_buf *out)
{
    json_object *v;
    ddb_type t = ddb_av_type(av, &v);
    if (depth > DDB_MAX_DEPTH)
        return -1;
    switch (t) {
    case DDB_T_S:
    case DDB_T_B:
        if (!is_str(v))
            return -1;
        nb_buf_addc(out, (char)(t == DDB_T_S ? TAG_S : TAG_B));
        put_bytes(out, json_object_get_string(v), str_len(v));
        return 0;
    case DDB_T_N:
        nb_buf_addc(out, TAG_N);
        return put_num(out, v);
    case DDB_T_SS:
    case DDB_T_NS:
    case DDB_T_BS:
        return put_set(out, t, v);
    case DDB_T_M:
        nb_buf_addc(out, TAG_M);
        return put_members(out, v, depth + 1);
    case DDB_T_L:
        return put_list(out, v, depth);
    case DDB_T_NULL:
        nb_buf_addc(out, TAG_NULL);
        return 0;
    case DDB_T_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return -1;
        nb_buf_addc(out, (char)(json_object_get_boolean(v) ? TAG_TRUE : TAG_FALSE));
        return 0;
    case DDB_T_NONE:
        break;
    }
    return -1;
}

int ddb_av_encode(json_object *av, nb_buf *out) { return encode_value(av, 1, out); }

int ddb_item_encode(json_object *item, nb_buf *out) { return put_members(out, item, 1); }

/* ---- decoding ------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static size_t left(const reader *r) { return (size_t)(r->end - r->p); }

/* Minimal LEB128 up to 2^31 (every length and count fits an int). */
static bool get_varint(reader *r, size_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->p == r->end)
            return false;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift > 0)
                return false; /* non-minimal */
            if (v > INT_MAX)
                return false;
            *out = (size_t)v;
            return true;
        }
    }
    return false;
}

static bool get_bytes(reader *r, const char **p, size_t *n)
{
    if (!get_varint(r, n) || *n > left(r))
        return false;
    *p = (const char *)r->p;
    r->p += *n;
    return true;
}

static json_object *get_string(reader *r)
{
    const char *p;
    size_t n;
    return get_bytes(r, &p, &n) ? json_object_new_string_len(p, (int)n) : NULL;
}

/* A normalised number, as canonical text. */
static json_object *get_num(reader *r)
{
    ddb_num n;
    memset(&n, 0, sizeof n);
    if (left(r) < 1)
        return NULL;
    uint8_t h = *r->p++;
    n.neg = h & 0x80;
    n.ndig = h & 0x7F;
    if (n.ndig > DDB_NUM_DIGITS || (n.neg && n.ndig == 0))
        return NULL;
    if (n.ndig) {
        size_t nb = (size_t)(n.ndig + 1) / 2;
        if (left(r) < 1 + nb)
            return NULL;
        n.exp = (int16_t)(*r->p++ + DDB_NUM_EXP_MIN);
        for (size_t i = 0; i < nb; i++, r->p++) {
            uint8_t hi = *r->p >> 4, lo = *r->p & 0x0F;
            bool pad = 2 * i + 1 >= n.ndig;
            if (hi > 9 || lo > 9 || (pad && lo))
                return NULL;
            n.d[2 * i] = hi;
            if (!pad)
                n.d[2 * i + 1] = lo;
        }
        if (n.d[0] == 0 || n.d[n.ndig - 1] == 0)
            return NULL;
    }
    char txt[DDB_NUM_MAXTEXT];
    size_t k = ddb_num_format(&n, txt);
    return json_object_new_string_len(txt, (int)k);
}

static json_object *decode_value(reader *r, int depth);

/* count entries of (name value) into a new object. */
static json_object *get_members(reader *r, int depth)
{
    size_t n;
    if (!get_varint(r, &n) || n > left(r))
        return NULL;
    json_object *obj = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        const char *name;
        size_t len;
        if (!get_bytes(r, &name, &len) || memchr(name, 0, len))
            goto bad; /* json-c names are C strings */
        char *key = nb_strndup(name, len);
        json_object *v = json_object_object_get_ex(obj, key, NULL) ? NULL : decode_value(r, depth);
        if (!v) {
            free(key);
            goto bad;
        }
        json_object_object_add(obj, key, v);
        free(key);
    }
    return obj;
bad:
    json_object_put(obj);
    return NULL;
}

/* count elements: values (L, depth given) or set members. */
static json_object *get_array(reader *r, int tag, int depth)
{
    size_t n;
    if (!get_varint(r, &n) || n > left(r) || (tag != TAG_L && n == 0))
        return NULL;
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *v = tag == TAG_L    ? decode_value(r, depth)
                         : tag == TAG_NS ? get_num(r)
                                         : get_string(r);
        if (!v) {
            json_object_put(arr);
            return NULL;
        }
        json_object_array_add(arr, v);
    }
    return arr;
}

static const char *tag_type(int tag)
{
    static const char *const names[] = {
        [TAG_S] = "S",   [TAG_N] = "N", [TAG_B] = "B",       [TAG_SS] = "SS",
        [TAG_NS] = "NS", [TAG_BS] = "BS", [TAG_M] = "M",     [TAG_L] = "L",
        [TAG_NULL] = "NULL", [TAG_FALSE] = "BOOL", [TAG_TRUE] = "BOOL",
    };
    return tag >= TAG_S && tag <= TAG_TRUE ? names[tag] : NULL;
}

static json_object *decode_payload(reader *r, int tag, int depth)
{
    switch (tag) {
    case TAG_S:
    case TAG_B:
        return get_string(r);
    case TAG_N:
        return get_num(r);
    case TAG_SS:
    case TAG_NS:
    case TAG_BS:
        return get_array(r, tag, depth);
    case TAG_M:
        return get_members(r, depth + 1);
    case TAG_L:
        return get_array(r, tag, depth + 1);
    case TAG_NULL:
    case TAG_TRUE:
        return json_object_new_boolean(1);
    case TAG_FALSE:
        return json_object_new_boolean(0);
    }
    return NULL;
}

static json_object *decode_value(reader *r, int depth)
{
    if (depth > DDB_MAX_DEPTH || left(r) < 1)
        return NULL;
    int tag = *r->p++;
    const char *name = tag_type(tag);
    json_object *payload = name ? decode_payload(r, tag, depth) : NULL;
    if (!payload)
        return NULL;
    json_object *av = json_object_new_object();
    json_object_object_add(av, name, payload);
    return av;
}

static int decode_whole(const void *data, size_t len, bool item, json_object **out)
{
    reader r = {data, (const uint8_t *)data + len};
    *out = NULL;
    if (!data && len)
        return -1;
    json_object *v = item ? get_members(&r, 1) : decode_value(&r, 1);
    if (v && r.p != r.end) {
        json_object_put(v);
        v = NULL;
    }
    *out = v;
    return v ? 0 : -1;
}

int ddb_av_decode(const void *data, size_t len, json_object **out)
{
    return decode_whole(data, len, false, out);
}

int ddb_item_decode(const void *data, size_t len, json_object **out)
{
    return decode_whole(data, len, true, out);
}

/* ---- rendering JSON straight from the encoding ------------------------------
 * Reads return stored items to the client unchanged; building a json-c tree
 * (one hash table per attribute value) only to serialise it again was most
 * of a Query's CPU.  This writes DynamoDB JSON (blobs in base64) directly;
 * it bounds-checks everything but, unlike the decoder, does not re-verify
 * canonical form: its input is what the encoder stored. */

static bool render_value(reader *r, nb_buf *out, int depth);

static bool render_str(reader *r, nb_buf *out, bool blob)
{
    const char *p;
    size_t n;
    if (!get_bytes(r, &p, &n))
        return false;
    if (!blob) {
        nb_json_write_string(out, p, n);
        return true;
    }
    size_t bl = 0;
    char *b64 = nb_base64_encode(p, n, &bl);
    nb_json_write_string(out, b64, bl);
    free(b64);
    return true;
}

static bool render_num(reader *r, nb_buf *out)
{
    /* Reuse the strict decoder for one number: it is small and exact. */
    json_object *s = get_num(r);
    if (!s)
        return false;
    nb_json_write_string(out, json_object_get_string(s), (size_t)json_object_get_string_len(s));
    json_object_put(s);
    return true;
}

static bool render_members(reader *r, nb_buf *out, int depth)
{
    size_t n;
    if (!get_varint(r, &n) || n > left(r))
        return false;
    nb_buf_addc(out, '{');
    for (size_t i = 0; i < n; i++) {
        const char *name;
        size_t len;
        if (!get_bytes(r, &name, &len))
            return false;
        if (i)
            nb_buf_addc(out, ',');
        nb_json_write_string(out, name, len);
        nb_buf_addc(out, ':');
        if (!render_value(r, out, depth))
            return false;
    }
    nb_buf_addc(out, '}');
    return true;
}

static bool render_array(reader *r, nb_buf *out, int tag, int depth)
{
    size_t n;
    if (!get_varint(r, &n) || n > left(r))
        return false;
    nb_buf_addc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            nb_buf_addc(out, ',');
        bool ok = tag == TAG_L ? render_value(r, out, depth)
                  : tag == TAG_NS ? render_num(r, out)
                                  : render_str(r, out, tag == TAG_BS);
        if (!ok)
            return false;
    }
    nb_buf_addc(out, ']');
    return true;
}

static bool render_value(reader *r, nb_buf *out, int depth)
{
    if (depth > DDB_MAX_DEPTH || left(r) < 1)
        return false;
    int tag = *r->p++;
    const char *name = tag_type(tag);
    if (!name)
        return false;
    nb_buf_adds(out, "{\"");
    nb_buf_adds(out, name);
    nb_buf_adds(out, "\":");
    bool ok;
    switch (tag) {
    case TAG_S: case TAG_B: ok = render_str(r, out, tag == TAG_B); break;
    case TAG_N: ok = render_num(r, out); break;
    case TAG_SS: case TAG_NS: case TAG_BS: ok = render_array(r, out, tag, depth); break;
    case TAG_M: ok = render_members(r, out, depth + 1); break;
    case TAG_L: ok = render_array(r, out, tag, depth + 1); break;
    case TAG_NULL: case TAG_TRUE: nb_buf_adds(out, "true"); ok = true; break;
    default: nb_buf_adds(out, "false"); ok = true; break;
    }
    nb_buf_addc(out, '}');
    return ok;
}

int ddb_item_render(const void *data, size_t len, nb_buf *out)
{
    reader r = {data, (const uint8_t *)data + len};
    size_t mark = out->len;
    if ((!data && len) || !render_members(&r, out, 1) || r.p != r.end) {
        out->len = mark;
        return -1;
    }
    return 0;
}

/* ---- equality and order --------------------------------------------------- */

static bool str_equal(json_object *a, json_object *b)
{
    if (!is_str(a) || !is_str(b) || str_len(a) != str_len(b))
        return false;
    return memcmp(json_object_get_string(a), json_object_get_string(b), str_len(a)) == 0;
}

static bool parse_num(json_object *s, ddb_num *n)
{
    return is_str(s) && ddb_num_parse(json_object_get_string(s), str_len(s), n) == DDB_NUM_OK;
}

static bool num_equal(json_object *a, json_object *b)
{
    ddb_num x, y;
    if (parse_num(a, &x) && parse_num(b, &y))
        return ddb_num_cmp(&x, &y) == 0;
    return str_equal(a, b);
}

static bool all_strings(json_object *arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_str(json_object_array_get_idx(arr, i)))
            return false;
    return true;
}

/* Same members in any order (sets hold no duplicates once validated). */
static bool set_equal(ddb_type t, json_object *a, json_object *b)
{
    if (!json_object_is_type(a, json_type_array) || !json_object_is_type(b, json_type_array))
        return false;
    size_t n = json_object_array_length(a);
    if (n != json_object_array_length(b) || !all_strings(a, n) || !all_strings(b, n))
        return false;
    bool eq = true;
    if (t == DDB_T_NS) {
        ddb_num *x = nb_malloc((n ? n : 1) * sizeof *x), *y = nb_malloc((n ? n : 1) * sizeof *y);
        for (size_t i = 0; i < n && eq; i++)
            eq = parse_num(json_object_array_get_idx(a, i), &x[i]) &&
                 parse_num(json_object_array_get_idx(b, i), &y[i]);
        if (eq) {
            qsort(x, n, sizeof *x, num_qcmp);
            qsort(y, n, sizeof *y, num_qcmp);
        }
        for (size_t i = 0; i < n && eq; i++)
            eq = ddb_num_cmp(&x[i], &y[i]) == 0;
        free(x);
        free(y);
        return eq;
    }
    bytes *x = sorted_members(a, n), *y = sorted_members(b, n);
    for (size_t i = 0; i < n && eq; i++)
        eq = bytes_cmp(&x[i], &y[i]) == 0;
    free(x);
    free(y);
    return eq;
}

static bool list_equal(json_object *a, json_object *b)
{
    if (!json_object_is_type(a, json_type_array) || !json_object_is_type(b, json_type_array))
        return false;
    size_t n = json_object_array_length(a);
    if (n != json_object_array_length(b))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ddb_av_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
            return false;
    return true;
}

static bool map_equal(json_object *a, json_object *b)
{
    if (!json_object_is_type(a, json_type_object) || !json_object_is_type(b, json_type_object) ||
        json_object_object_length(a) != json_object_object_length(b))
        return false;
    json_object_object_foreach(a, key, va) {
        json_object *vb;
        if (!json_object_object_get_ex(b, key, &vb) || !ddb_av_equal(va, vb))
            return false;
    }
    return true;
}

bool ddb_av_equal(json_object *a, json_object *b)
{
    json_object *va, *vb;
    ddb_type t = ddb_av_type(a, &va);
    if (t == DDB_T_NONE || t != ddb_av_type(b, &vb))
        return false;
    switch (t) {
    case DDB_T_S:
    case DDB_T_B:
        return str_equal(va, vb);
    case DDB_T_N:
        return num_equal(va, vb);
    case DDB_T_SS:
    case DDB_T_NS:
    case DDB_T_BS:
        return set_equal(t, va, vb);
    case DDB_T_M:
        return map_equal(va, vb);
    case DDB_T_L:
        return list_equal(va, vb);
    case DDB_T_NULL:
        return true;
    case DDB_T_BOOL:
        return json_object_get_boolean(va) == json_object_get_boolean(vb);
    case DDB_T_NONE:
        break;
    }
    return false;
}

static void bytes_of(json_object *s, bytes *out)
{
    out->p = is_str(s) ? json_object_get_string(s) : "";
    out->n = is_str(s) ? str_len(s) : 0;
}

int ddb_av_cmp(json_object *a, json_object *b)
{
    json_object *va, *vb;
    ddb_type ta = ddb_av_type(a, &va), tb = ddb_av_type(b, &vb);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    if (ta == DDB_T_N) {
        ddb_num x, y;
        if (parse_num(va, &x) && parse_num(vb, &y))
            return ddb_num_cmp(&x, &y);
    }
    if (ta == DDB_T_S || ta == DDB_T_B || ta == DDB_T_N) {
        bytes x, y;
        bytes_of(va, &x);
        bytes_of(vb, &y);
        int c = bytes_cmp(&x, &y); /* memcmp: unsigned bytes */
        return (c > 0) - (c < 0);
    }
    return 0;
}

/* ---- keys ----------------------------------------------------------------- */

int ddb_key_bytes(json_object *av, const char *name, bool hash, nb_buf *out, char *err,
                  size_t errlen)
{
    json_object *v;
    ddb_type t = ddb_av_type(av, &v);
    if ((t != DDB_T_S && t != DDB_T_B && t != DDB_T_N) || !is_str(v))
        return fail(err, errlen, "The provided key element does not match the schema");
    if (t == DDB_T_N) {
        ddb_num n;
        uint8_t key[DDB_NUM_MAXKEY];
        if (check_number(v, &n, err, errlen))
            return -1;
        nb_buf_add(out, key, ddb_num_sortkey(&n, key));
        return 0;
    }
    size_t len = str_len(v);
    if (len == 0) {
        nb_buf b = {0};
        nb_buf_printf(&b,
                      "One or more parameter values are not valid. The AttributeValue for a key "
                      "attribute cannot contain an empty %s value. Key: %s",
                      t == DDB_T_S ? "string" : "binary", name ? name : "");
        return fail_buf(err, errlen, &b);
    }
    /* DynamoDB's texts, including the missing space in "of2048". */
    if (hash && len > DDB_MAX_HASH_KEY)
        return fail(err, errlen,
                    MSG_INVALID "Size of hashkey has exceeded the maximum size limit of2048 bytes");
    if (!hash && len > DDB_MAX_RANGE_KEY)
        return fail(err, errlen,
                    MSG_INVALID "Aggregated size of all range keys has exceeded the size limit "
                                "of 1024 bytes");
    nb_buf_add(out, json_object_get_string(v), len);
    return 0;
}
