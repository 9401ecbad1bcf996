/*
 * fuzz_vtl.c — libFuzzer target for the Velocity Template Language
 * interpreter of API Gateway mapping templates
 * (src/services/apigateway/vtl.c).
 *
 * Input: the bytes up to the first NUL are the template; the rest is the
 * request body.  Each template that parses is rendered against that body
 * and against a fixed JSON body, with fixed parameters, context and stage
 * variables.  No crash, no leak, no UBSan finding, no hang (the renderer's
 * step, loop, depth and output limits bound the work); every failure
 * explains itself.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_vtl)   Seeds: fuzz/corpus/vtl/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/apigateway/vtl.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char FIXED_BODY[] = "{\"a\": {\"b\": [1, \"x\", null, true, 2.5]}, \"items\": [{\"id\": 1}, {\"id\": 2}]}";

static json_object *params, *context, *stage;

static void render(const vtl_tpl *t, const char *body, size_t len)
{
    vtl_input in = {body, len, params, context, stage};
    nb_buf out = {0};
    char err[VTL_ERRMAX];
    json_object *ov = NULL;
    int rc = vtl_render_ex(t, &in, &out, &ov, err, sizeof err);
    if ((rc != 0 && rc != -1 && rc != VTL_EBODY) || (rc != 0 && !err[0]) || (rc != 0 && ov))
        abort();
    json_object_put(ov);
    nb_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!params) {
        params = json_tokener_parse("{\"path\": {\"id\": \"1\"}, \"querystring\": {\"q\": \"a b\"},"
                                    " \"header\": {\"Host\": \"h\"}}");
        context = json_tokener_parse("{\"requestId\": \"r\", \"stage\": \"prod\", \"identity\": {\"sourceIp\": \"1.2.3.4\"}}");
        stage = json_tokener_parse("{\"env\": \"test\"}");
    }
    const char *s = (const char *)data;
    const char *nul = memchr(s, 0, size);
    size_t tlen = nul ? (size_t)(nul - s) : size;
    char *tpl = malloc(tlen ? tlen : 1); /* exact size: ASan sees over-reads */
    if (!tpl)
        abort();
    memcpy(tpl, s, tlen);
    char err[VTL_ERRMAX];
    vtl_tpl *t = vtl_parse(tpl, tlen, err, sizeof err);
    if (t) {
        size_t blen = nul ? size - tlen - 1 : 0;
        char *body = malloc(blen ? blen : 1);
        if (!body)
            abort();
        if (blen)
            memcpy(body, nul + 1, blen);
        render(t, body, blen);
        render(t, FIXED_BODY, strlen(FIXED_BODY));
        free(body);
        vtl_free(t);
    } else if (!err[0]) {
        abort(); /* a failed parse always explains itself */
    }
    free(tpl);
    return 0;
}
