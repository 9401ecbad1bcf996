/*
 * fuzz_sns_message.c — libFuzzer target for SNS's pure message checks
 * (src/services/sns/sns_message.c).
 *
 * Input: a Publish input as JSON text.  When it parses to an object, its
 * body (Message, MessageStructure, Subject) and its MessageAttributes are
 * checked; an accepted attribute set must come back in the notification
 * form with a Type and a Value for every name, and a rejection must carry a
 * code and a message.  The raw bytes (as one NUL-terminated string) are
 * also parsed as an ARN and as a pagination token.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_sns_message)   Seeds: fuzz/corpus/sns_message/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/sns/sns_internal.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sns_arn a;
    if (sns_arn_parse(text, &a) && (!a.service[0] || !a.resource[0]))
        abort();
    int64_t after;
    sns_token_parse(text, &after);

    json_tokener *tok = json_tokener_new();
    json_object *in = json_tokener_parse_ex(tok, text, (int)size);
    json_tokener_free(tok);
    if (in && json_object_is_type(in, json_type_object)) {
        nb_error err;
        memset(&err, 0, sizeof err);
        json_object *rec = json_object_new_object();
        size_t n = 0;
        if (sns_msg_body(in, rec, &n, &err) != NB_OK && (!err.code[0] || !err.message[0]))
            abort();
        json_object *attrs = nb_get(in, "MessageAttributes");
        if (attrs && json_object_is_type(attrs, json_type_object)) {
            json_object *out = json_object_new_object();
            memset(&err, 0, sizeof err);
            if (sns_msg_attributes(attrs, out, &n, &err) == NB_OK) {
                json_object_object_foreach(out, k, v)
                {
                    (void)k;
                    if (!nb_str(v, "Type") || !nb_str(v, "Value"))
                        abort();
                }
            } else if (!err.code[0] || !err.message[0]) {
                abort();
            }
            json_object_put(out);
        }
        json_object_put(rec);
    }
    if (in)
        json_object_put(in);
    free(text);
    return 0;
}
