/*
 * test_sns_message.c — unit test of SNS's pure message checks
 * (src/services/sns/sns_message.c): ARNs and pagination tokens, message
 * attributes of every data type with AWS's errors and their notification
 * form, and the message body (MessageStructure=json, Subject, sizes).
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/sns/sns_internal.h"

static int passed, failed;

#include "check.h"

static void test_arns(void)
{
    sns_arn a;
    check(sns_arn_parse("arn:aws:sns:us-east-1:123456789012:topic", &a) &&
              !strcmp(a.service, "sns") && !strcmp(a.region, "us-east-1") &&
              !strcmp(a.account, "123456789012") && !strcmp(a.resource, "topic"),
          "topic arn");
    check(sns_arn_parse("arn:aws:sns:us-east-1:1:t:sub-id", &a) && !strcmp(a.resource, "t:sub-id"),
          "subscription arn keeps ':' in the resource");
    check(sns_arn_parse("arn:aws:iam::123:root", &a) && !a.region[0], "empty region");
    const char *bad[] = {"", "arn", "arn:aws:sns", "arn:aws:sns:r:a", "arn:aws:sns:r:a:",
                         "arn::sns:r:a:t", "arn:aws::r:a:t", "urn:aws:sns:r:a:t",
                         "arn:aws:sns:r:1234567890123456:t", NULL};
    for (int i = 0; bad[i]; i++)
        check(!sns_arn_parse(bad[i], &a), "bad arn %s", bad[i]);
    check(!sns_arn_parse(NULL, &a), "NULL arn");

    int64_t after;
    char tok[32];
    sns_token_make(12345, tok);
    check(sns_token_parse(tok, &after) && after == 12345, "token round trip");
    check(sns_token_parse(NULL, &after) && after == 0, "no token");
    const char *badtok[] = {"", "nb-", "12", "nb-1x", "nb-1234567890123456789", NULL};
    for (int i = 0; badtok[i]; i++)
        check(!sns_token_parse(badtok[i], &after), "bad token %s", badtok[i]);
}

/* Runs sns_msg_attributes on JSON text; returns the error code ("" when
 * accepted) and leaves the notification form in *out. */
static const char *attrs(const char *json, json_object **out, size_t *size, nb_error *err)
{
    json_object *in = json_tokener_parse(json);
    *out = json_object_new_object();
    *size = 0;
    memset(err, 0, sizeof *err);
    nb_status st = sns_msg_attributes(in, *out, size, err);
    json_object_put(in);
    return st == NB_OK ? "" : err->code;
}

static void test_attributes(void)
{
    json_object *out;
    size_t size;
    nb_error err;
    check(!strcmp(attrs("{\"s\":{\"DataType\":\"String\",\"StringValue\":\"v\"},"
                        "\"n\":{\"DataType\":\"Number\",\"StringValue\":\"-1.5E+3\"},"
                        "\"a\":{\"DataType\":\"String.Array\",\"StringValue\":\"[\\\"x\\\",1,true,null]\"},"
                        "\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"\\u0000\\u00ff\"},"
                        "\"c\":{\"DataType\":\"Number.float\",\"StringValue\":\"3\"}}",
                        &out, &size, &err), ""),
          "every data type accepted: %s", err.message);
    const char *b = nb_str(nb_get(out, "b"), "Value");
    /* "\u0000\u00ff" is the bytes 00 c3 bf. */
    check(b && !strcmp(b, "AMO/"), "binary value in base64: %s", b ? b : "(none)");
    check(!strcmp(nb_str(nb_get(out, "s"), "Type"), "String") &&
              !strcmp(nb_str(nb_get(out, "s"), "Value"), "v"),
          "notification form of a String");
    check(!strcmp(nb_str(nb_get(out, "c"), "Type"), "Number.float"), "custom type kept");
    json_object_put(out);
    check(!strcmp(attrs("{\"abc\":{\"DataType\":\"String\",\"StringValue\":\"12345\"}}", &out,
                        &size, &err), "") && size == 3 + 6 + 5,
          "size counts name, type and value (%zu)", size);
    json_object_put(out);

    struct {
        const char *json, *code, *message;
    } bad[] = {
        {"{\"n\":{\"DataType\":\"Number\",\"StringValue\":\"abc\"}}", "InvalidParameterValueException",
         "Could not cast message attribute 'n' value to number."},
        {"{\"n\":{\"DataType\":\"Number\",\"StringValue\":\"1e\"}}", "InvalidParameterValueException",
         NULL},
        {"{\"n\":{\"DataType\":\"Number\",\"StringValue\":\".\"}}", "InvalidParameterValueException",
         NULL},
        {"{\"t\":{\"DataType\":\"Strin\",\"StringValue\":\"a\"}}", "InvalidParameterValueException",
         "The message attribute 't' has an invalid message attribute type, the set of supported "
         "type prefixes is Binary, Number, and String."},
        {"{\"t\":{\"DataType\":\"String.\",\"StringValue\":\"a\"}}", "InvalidParameterValueException",
         NULL},
        {"{\"t\":{\"StringValue\":\"a\"}}", "InvalidParameterValueException", NULL},
        {"{\"s\":{\"DataType\":\"String\",\"StringValue\":\"\"}}", "InvalidParameterValueException",
         "The message attribute 's' must contain non-empty message attribute value for message "
         "attribute type 'String'."},
        {"{\"b\":{\"DataType\":\"Binary\",\"StringValue\":\"x\"}}", "InvalidParameterValueException",
         "The message attribute 'b' must contain non-empty message attribute value for message "
         "attribute type 'Binary'."},
        {"{\"a\":{\"DataType\":\"String.Array\",\"StringValue\":\"[1,\"}}",
         "InvalidParameterValueException", NULL},
        {"{\"a\":{\"DataType\":\"String.Array\",\"StringValue\":\"[{}]\"}}",
         "InvalidParameterValueException", NULL},
        {"{\"AWS.x\":{\"DataType\":\"String\",\"StringValue\":\"a\"}}",
         "InvalidParameterValueException", NULL},
        {"{\"amazon.x\":{\"DataType\":\"String\",\"StringValue\":\"a\"}}",
         "InvalidParameterValueException", NULL},
        {"{\"a..b\":{\"DataType\":\"String\",\"StringValue\":\"a\"}}",
         "InvalidParameterValueException", NULL},
        {"{\"a b\":{\"DataType\":\"String\",\"StringValue\":\"a\"}}",
         "InvalidParameterValueException", NULL},
        {"{\"x.\":{\"DataType\":\"String\",\"StringValue\":\"a\"}}",
         "InvalidParameterValueException", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *code = attrs(bad[i].json, &out, &size, &err);
        check(!strcmp(code, bad[i].code), "%s -> %s (got %s)", bad[i].json, bad[i].code, code);
        if (bad[i].message)
            check(!strcmp(err.message, bad[i].message), "message for %s: %s", bad[i].json,
                  err.message);
        check(err.status == 400 && err.sender, "status 400 sender for %s", bad[i].json);
        json_object_put(out);
    }
}

static const char *body(const char *json, json_object **rec, nb_error *err)
{
    json_object *in = json_tokener_parse(json);
    *rec = json_object_new_object();
    size_t size = 0;
    memset(err, 0, sizeof *err);
    nb_status st = sns_msg_body(in, *rec, &size, err);
    json_object_put(in);
    return st == NB_OK ? "" : err->message;
}

static void test_body(void)
{
    json_object *rec;
    nb_error err;
    check(!strcmp(body("{\"Message\":\"hi\",\"Subject\":\"S\"}", &rec, &err), "") &&
              !strcmp(nb_str(rec, "Message"), "hi") && !strcmp(nb_str(rec, "Subject"), "S"),
          "plain message with subject");
    json_object_put(rec);
    check(!strcmp(body("{\"Message\":\"{\\\"default\\\":\\\"d\\\",\\\"sqs\\\":\\\"q\\\"}\","
                       "\"MessageStructure\":\"json\"}", &rec, &err), "") &&
              !strcmp(nb_str(rec, "Message"), "d") &&
              !strcmp(nb_str(nb_get(rec, "Messages"), "sqs"), "q"),
          "MessageStructure json: default and per protocol");
    json_object_put(rec);
    struct {
        const char *json, *message;
    } bad[] = {
        {"{}", "Invalid parameter: Empty message"},
        {"{\"Message\":\"\"}", "Invalid parameter: Empty message"},
        {"{\"Message\":\"m\",\"MessageStructure\":\"xml\"}", "Invalid parameter: MessageStructure"},
        {"{\"Message\":\"m\",\"MessageStructure\":\"json\"}",
         "Invalid parameter: Message Structure - JSON message body failed to parse"},
        {"{\"Message\":\"[1]\",\"MessageStructure\":\"json\"}",
         "Invalid parameter: Message Structure - JSON message body failed to parse"},
        {"{\"Message\":\"{\\\"default\\\":1}\",\"MessageStructure\":\"json\"}",
         "Invalid parameter: Message Structure - JSON message body failed to parse"},
        {"{\"Message\":\"{\\\"sqs\\\":\\\"x\\\"}\",\"MessageStructure\":\"json\"}",
         "Invalid parameter: Message Structure - No default entry in JSON message body"},
        {"{\"Message\":\"m\",\"Subject\":\"\"}", "Invalid parameter: Subject"},
        {"{\"Message\":\"m\",\"Subject\":\"a\\tb\"}", "Invalid parameter: Subject"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *m = body(bad[i].json, &rec, &err);
        check(!strcmp(m, bad[i].message), "%s -> %s (got %s)", bad[i].json, bad[i].message, m);
        check(!strcmp(err.code, "InvalidParameterException"), "code for %s", bad[i].json);
        json_object_put(rec);
    }
    /* Subjects: fewer than 100 characters, UTF-8 counted as characters. */
    char subj[400], in[600];
    memset(subj, 's', 99);
    subj[99] = '\0';
    snprintf(in, sizeof in, "{\"Message\":\"m\",\"Subject\":\"%s\"}", subj);
    check(!strcmp(body(in, &rec, &err), ""), "99-character subject");
    json_object_put(rec);
    subj[99] = 's', subj[100] = '\0';
    snprintf(in, sizeof in, "{\"Message\":\"m\",\"Subject\":\"%s\"}", subj);
    check(strcmp(body(in, &rec, &err), ""), "100-character subject refused");
    json_object_put(rec);
    subj[0] = '\0';
    for (int i = 0; i < 99; i++)
        strcat(subj, "\xc3\xa9");
    snprintf(in, sizeof in, "{\"Message\":\"m\",\"Subject\":\"%s\"}", subj);
    check(!strcmp(body(in, &rec, &err), ""), "99 two-byte characters");
    json_object_put(rec);
}

int main(void)
{
    test_arns();
    test_attributes();
    test_body();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
