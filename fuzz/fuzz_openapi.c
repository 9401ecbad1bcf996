/*
 * fuzz_openapi.c — libFuzzer target for the OpenAPI definition reader of
 * API Gateway v2's ImportApi (src/services/apigatewayv2/apigw_openapi.c):
 * JSON or YAML (libyaml) into a json-c tree, and the tree back out as
 * YAML through libyaml's emitter.
 *
 * Input: a definition.  What parses must write back as YAML that parses
 * again to the same tree.  No crash, no leak, no UBSan finding, no
 * runaway on nesting or aliases.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_openapi)   Seeds: fuzz/corpus/openapi/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "services/apigatewayv2/apigw_internal.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    nb_buf once = {0}, twice = {0};
    if (ag_openapi_roundtrip(s, &once) == 0) {
        nb_buf_addc(&once, 0);
        /* The YAML written reads back, and writes the same again. */
        if (ag_openapi_roundtrip(once.data, &twice) != 0)
            abort();
        nb_buf_addc(&twice, 0);
        if (strcmp(once.data, twice.data) != 0)
            abort();
    }
    nb_buf_free(&once);
    nb_buf_free(&twice);
    free(s);
    return 0;
}
