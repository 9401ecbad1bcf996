/*
 * fuzz_apigw_route.c — libFuzzer target for API Gateway v2 route keys and
 * path matching (src/services/apigatewayv2/apigw_route.c).
 *
 * Input: a route key, a newline, a method, a newline, a request path.
 * The key is checked; a valid key is matched against the path (with and
 * without path parameters), and a match must be given the same score both
 * times; "$default" matches everything.  No crash, no leak, no UBSan
 * finding.
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
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    char *nl1 = strchr(s, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    if (nl2) {
        *nl1 = *nl2 = 0;
        const char *key = s, *method = nl1 + 1, *path = nl2 + 1;
        char err[256];
        if (ag_route_key_check(key, err, sizeof err) == 0) {
            json_object *params = json_object_new_object();
            char *a = ag_route_match(key, method, path, strlen(path), NULL);
            char *b = ag_route_match(key, method, path, strlen(path), params);
            if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
                abort();
            if (!strcmp(key, "$default") && !a)
                abort();
            free(a);
            free(b);
            json_object_put(params);
        }
        char arn[512];
        ag_lambda_target(path, arn, sizeof arn);
    }
    free(s);
    return 0;
}
