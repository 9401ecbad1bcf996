/*
 * fuzz_json.c — libFuzzer target for the awsJson codec
 * (src/core/codec_json.c) and the validator.
 *
 * Input: byte 0 picks the SQS operation (low 3 bits, modulo the table
 * below); the rest is the request body (the decoder never reads headers, so
 * the request has none).  Each run:
 *   1. nb_codec_json.decode into an input tree;
 *   2. on success nb_validate, then the tree is encoded back through a copy
 *      of the operation whose output shape is its input shape: first with
 *      the query encoder (XML), then with the JSON encoder (conv_out turns
 *      blobs back to base64 and timestamps to numbers in place);
 *   3. the error (decode's, validate's, or a fixed QueueDoesNotExist)
 *      rendered with nb_codec_json.error (x-amzn-query-error header).
 * The body gets its own exact-size allocation so ASan sees over-reads.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_json)   Seeds: fuzz/corpus/json/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/nimbus.h"
#include "gen/models.h"

/* UBSan findings are fatal here (a crash artifact, like ASan's) instead of a
 * one-line note in the log; UBSAN_OPTIONS in the environment still wins. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }


static const char *const op_names[] = {
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "CreateQueue",
    "SetQueueAttributes", "TagQueue", "ChangeMessageVisibilityBatch",
};
#define NOPS (sizeof op_names / sizeof op_names[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const nb_model *m = &nb_model_sqs;
    const char *name = op_names[(data[0] & 7) % NOPS];
    const nb_operation *op = nb_model_op(m, name, strlen(name));
    if (!op)
        abort();

    nb_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "POST");
    r.status = 200;
    r.query = "";
    /* An exact-size copy: json-c must not read past body.len. */
    size_t n = size - 1;
    char *body = malloc(n ? n : 1);
    if (!body)
        abort();
    memcpy(body, data + 1, n);
    r.body.data = body;
    r.body.len = n;
    r.body.cap = n;

    json_object *in = NULL;
    nb_error err = {0};
    memset(&err, 0, sizeof err);
    int rc = nb_codec_json.decode(m, op, &r, &in, &err);
    if (rc == 0) {
        if (!in)
            abort();
        rc = nb_validate(m, op->input, in, &err);
        nb_operation echo = *op;
        echo.output = op->input;
        nb_codec_query.encode(m, &echo, &r, in);
        nb_buf_free(&r.rbody);
        nb_codec_json.encode(m, &echo, &r, in);
        nb_buf_free(&r.rbody);
        json_object_put(in);
    } else if (in) {
        abort(); /* a failed decode must not hand back a tree */
    }
    if (rc != 0) {
        if (!err.code[0])
            abort();
        nb_codec_json.error(m, &r, &err);
        nb_buf_free(&r.rbody);
        nb_buf_free(&r.rhead);
    }
    nb_err_set(&err, 400, "QueueDoesNotExist", "The specified queue does not exist.");
    nb_codec_json.error(m, &r, &err);
    nb_buf_free(&r.rbody);
    nb_buf_free(&r.rhead);
    free(body);
    return 0;
}
