/*
 * fuzz_query.c — libFuzzer target for the query protocol codec
 * (src/core/codec_query.c) and the validator.
 *
 * Input: byte 0 picks the SQS operation (low 3 bits, modulo the table below)
 * and, with bit 7, whether the parameters travel in the query string instead
 * of the form body; the rest is the form text.  Each run:
 *   1. nb_form_parse on the text, with nb_form_get lookups, then nb_form_free;
 *   2. nb_codec_query.decode into an input tree for the operation;
 *   3. on success nb_validate, and the tree encoded back as XML with the
 *      query encoder (through a copy of the operation whose output shape is
 *      its input shape, so enc_* walks an input-shaped tree);
 *   4. the error (decode's, validate's, or a fixed QueueDoesNotExist)
 *      rendered with nb_codec_query.error.
 * The text gets its own exact-size allocation so ASan sees over-reads.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_query)   Seeds: fuzz/corpus/query/
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

static void free_req(nb_req *r)
{
    nb_buf_free(&r->body);
    nb_buf_free(&r->rbody);
    nb_buf_free(&r->rhead);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const nb_model *m = &nb_model_sqs;
    const char *name = op_names[(data[0] & 7) % NOPS];
    const nb_operation *op = nb_model_op(m, name, strlen(name));
    if (!op)
        abort();
    bool in_query = data[0] & 0x80;
    size_t n = size - 1;
    char *text = malloc(n ? n : 1);
    if (!text)
        abort();
    memcpy(text, data + 1, n);

    /* 1. The form parser on its own. */
    nb_form f;
    if (nb_form_parse(&f, text, n) == 0) {
        static const char *const keys[] = {"Action", "QueueUrl", "MessageBody", "", "Attribute.1.Name"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t vlen = 0;
            const char *v = nb_form_get(&f, keys[i], &vlen);
            if (v && strlen(v) > vlen)
                abort(); /* values are NUL-terminated at vlen */
        }
        for (int i = 1; i < f.n; i++) {
            /* Sorted by key bytes, shorter first on a common prefix. */
            const nb_form_pair *a = &f.p[i - 1], *b = &f.p[i];
            size_t k = a->klen < b->klen ? a->klen : b->klen;
            int c = memcmp(a->key, b->key, k);
            if (c > 0 || (c == 0 && a->klen > b->klen))
                abort();
        }
        nb_form_free(&f);
    }

    /* 2. Decode. */
    nb_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "POST");
    r.status = 200;
    if (in_query) {
        r.query = text;
        r.query_len = n;
    } else {
        r.query = "";
        nb_buf_add(&r.body, text, n);
    }
    json_object *in = NULL;
    nb_error err = {0};
    memset(&err, 0, sizeof err);
    int rc = nb_codec_query.decode(m, op, &r, &in, &err);
    if (rc == 0) {
        if (!in)
            abort();
        /* 3. Validate and encode back. */
        rc = nb_validate(m, op->input, in, &err);
        nb_operation echo = *op;
        echo.output = op->input;
        nb_codec_query.encode(m, &echo, &r, in);
        json_object_put(in);
    } else if (in) {
        abort(); /* a failed decode must not hand back a tree */
    }
    nb_buf_free(&r.rbody);

    /* 4. Errors. */
    if (rc != 0) {
        if (!err.code[0])
            abort(); /* failures name their error code */
        nb_codec_query.error(m, &r, &err);
        nb_buf_free(&r.rbody);
    }
    nb_err_set(&err, 400, "QueueDoesNotExist", "The specified queue does not exist.");
    nb_codec_query.error(m, &r, &err);
    free_req(&r);
    free(text);
    return 0;
}
