/*
 * sns_message.c — the pure checks behind Publish, PublishBatch and the ARN
 * arguments: message attributes (names, data types, values; the
 * notification form {Type, Value} they are delivered in), the message body
 * (MessageStructure=json, Subject), ARNs and pagination tokens.  No store,
 * no calls: unit-tested in tests/unit/test_sns_message.c and fuzzed by
 * fuzz/fuzz_sns_message.c.  Errors are nb_error values in SNS's wording.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sns_internal.h"

bool sns_arn_parse(const char *arn, sns_arn *out)
{
    memset(out, 0, sizeof *out);
    if (!arn || strncmp(arn, "arn:", 4) != 0)
        return false;
    const char *p = arn + 4;
    const char *f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = p;
        p = strchr(p, ':');
        if (!p)
            return false;
        p++;
    }
    /* f[0] partition, f[1] service, f[2] region, f[3] account, p resource */
    size_t ls = (size_t)(f[2] - f[1] - 1), lr = (size_t)(f[3] - f[2] - 1);
    size_t la = (size_t)(p - f[3] - 1);
    if (f[1] - f[0] - 1 == 0 || ls == 0 || ls >= sizeof out->service || lr >= sizeof out->region ||
        la >= sizeof out->account || strlen(p) >= sizeof out->resource || !*p)
        return false;
    nb_copy(out->service, sizeof out->service, f[1], ls);
    nb_copy(out->region, sizeof out->region, f[2], lr);
    nb_copy(out->account, sizeof out->account, f[3], la);
    nb_copy(out->resource, sizeof out->resource, p, strlen(p));
    return true;
}

bool sns_token_parse(const char *tok, int64_t *after)
{
    *after = 0;
    if (!tok)
        return true;
    if (strncmp(tok, "nb-", 3) != 0)
        return false;
    const char *p = tok + 3;
    if (!*p || strlen(p) > 18)
        return false;
    int64_t v = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        v = v * 10 + (*p - '0');
    }
    *after = v;
    return true;
}

void sns_token_make(int64_t rowid, char out[32])
{
    snprintf(out, 32, "nb-%" PRId64, rowid);
}

static nb_status bad_value(nb_error *err, const char *fmt, const char *a, const char *b)
{
    nb_err_set(err, 400, "InvalidParameterValueException", fmt, a, b);
    return NB_ERROR;
}

static nb_status invalid(nb_error *err, const char *what)
{
    nb_err_set(err, 400, "InvalidParameterException", "Invalid parameter: %s", what);
    return NB_ERROR;
}

static bool valid_attr_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 256 || n[0] == '.' || n[len - 1] == '.' || strstr(n, ".."))
        return false;
    if (!strncasecmp(n, "AWS.", 4) || !strncasecmp(n, "Amazon.", 7))
        return false;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

/* "String", "Number", "Binary" or one of them followed by ".custom". */
static const char *base_type(const char *t)
{
    static const char *const bases[] = {"String", "Number", "Binary"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(bases[i]);
        if (!strncmp(t, bases[i], n) && (t[n] == '\0' || (t[n] == '.' && t[n + 1])))
            return bases[i];
    }
    return NULL;
}

static bool valid_number(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0;
    while (isdigit((unsigned char)*p))
        p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, digits++;
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static bool valid_string_array(const char *v)
{
    json_object *o = json_tokener_parse(v);
    bool ok = o && json_object_is_type(o, json_type_array);
    for (size_t i = 0; ok && i < json_object_array_length(o); i++) {
        json_object *e = json_object_array_get_idx(o, i);
        ok = !e || json_object_is_type(e, json_type_string) || json_object_is_type(e, json_type_int) ||
             json_object_is_type(e, json_type_double) || json_object_is_type(e, json_type_boolean);
    }
    if (o)
        json_object_put(o);
    return ok;
}

/* Checks Publish-form attributes; adds the notification form {Type, Value}
 * (Binary values base64) to `out` and their size to *size. */
nb_status sns_msg_attributes(json_object *attrs, json_object *out, size_t *size, nb_error *err)
{
    if (!attrs)
        return NB_OK;
    json_object_object_foreach(attrs, name, a)
    {
        const char *type = nb_str(a, "DataType");
        if (!valid_attr_name(name))
            return bad_value(err, "The message attribute name '%s' is invalid.%s", name, "");
        const char *base = type ? base_type(type) : NULL;
        if (!base)
            return bad_value(err,
                             "The message attribute '%s' has an invalid message attribute type, "
                             "the set of supported type prefixes is Binary, Number, and String.%s",
                             name, "");
        json_object *sv = nb_get(a, "StringValue"), *bv = nb_get(a, "BinaryValue");
        json_object *val = base[0] == 'B' ? bv : sv;
        size_t vlen = val ? (size_t)json_object_get_string_len(val) : 0;
        if (!vlen)
            return bad_value(err, "The message attribute '%s' must contain non-empty message "
                                   "attribute value for message attribute type '%s'.",
                             name, base);
        const char *text = json_object_get_string(val);
        if (base[0] == 'N' && !valid_number(text))
            return bad_value(err, "Could not cast message attribute '%s' value to number.%s", name,
                             "");
        if (!strcmp(type, "String.Array") && !valid_string_array(text))
            return bad_value(err, "The message attribute '%s' with type 'String.Array' must be "
                                   "a JSON array of strings, numbers, booleans or nulls.%s",
                             name, "");
        *size += strlen(name) + strlen(type) + vlen;
        json_object *n = json_object_new_object();
        json_object_object_add(n, "Type", json_object_new_string(type));
        if (base[0] == 'B') {
            size_t blen;
            char *b64 = nb_base64_encode(text, vlen, &blen);
            json_object_object_add(n, "Value", json_object_new_string_len(b64, (int)blen));
            free(b64);
        } else {
            json_object_object_add(n, "Value", json_object_new_string_len(text, (int)vlen));
        }
        json_object_object_add(out, name, n);
    }
    return NB_OK;
}

static bool valid_subject(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if ((*p & 0xc0) != 0x80)
            chars++;
    }
    return chars > 0 && chars < 100;
}

/* Message, MessageStructure and Subject into the record. */
nb_status sns_msg_body(json_object *in, json_object *rec, size_t *size, nb_error *err)
{
    json_object *mv = nb_get(in, "Message");
    const char *msg = mv ? json_object_get_string(mv) : NULL;
    size_t mlen = mv ? (size_t)json_object_get_string_len(mv) : 0;
    if (!msg || !mlen)
        return invalid(err, "Empty message");
    *size += mlen;
    const char *structure = nb_str(in, "MessageStructure");
    if (structure && strcmp(structure, "json"))
        return invalid(err, "MessageStructure");
    if (structure) {
        json_object *o = json_tokener_parse(msg);
        bool ok = o && json_object_is_type(o, json_type_object);
        if (ok) {
            json_object_object_foreach(o, k, v)
            {
                (void)k;
                ok &= v && json_object_is_type(v, json_type_string);
            }
        }
        if (!ok) {
            if (o)
                json_object_put(o);
            return invalid(err, "Message Structure - JSON message body failed to parse");
        }
        json_object *def = nb_get(o, "default");
        if (!def) {
            json_object_put(o);
            return invalid(err, "Message Structure - No default entry in JSON message body");
        }
        json_object_object_add(rec, "Message", json_object_get(def));
        json_object_object_add(rec, "Messages", o);
    } else {
        json_object_object_add(rec, "Message", json_object_get(mv));
    }
    const char *subject = nb_str(in, "Subject");
    if (subject) {
        if (!valid_subject(subject))
            return invalid(err, "Subject");
        json_object_object_add(rec, "Subject", json_object_new_string(subject));
    }
    return NB_OK;
}

