/*
 * fuzz_apigw_rest_map.c — libFuzzer target for API Gateway REST API
 * mapping (src/services/apigateway/ar_map.c): selection patterns (Java
 * class escapes translated to POSIX), integration response selection,
 * request template selection, MOCK status parsing, response parameter
 * sources.
 *
 * Input: up to five lines: selection pattern, subject, Content-Type,
 * template or body text, a responseParameters source expression.  No
 * crash, no leak, no UBSan finding; a pattern that compiles must select
 * its response or the default one.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_apigw_rest_map)   Seeds: fuzz/corpus/apigw_rest_map/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/apigateway/ar_internal.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    const char *f[5] = {"", "", "", "", ""};
    char *p = s;
    for (int i = 0; i < 5 && p; i++) {
        f[i] = p;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        p = nl ? nl + 1 : NULL;
    }
    struct pcre2_real_code_8 *re = ar_regcomp(f[0], false);
    if (re) {
        ar_regmatch(re, f[1]);
        ar_regfree(re);
    }
    json_object *rs = json_object_new_object(), *a = json_object_new_object(),
                *d = json_object_new_object();
    json_object_object_add(a, "selectionPattern", json_object_new_string(f[0]));
    json_object_object_add(rs, "400", a);
    json_object_object_add(rs, "200", d);
    json_object *got = ar_pick_integration_response(rs, f[1]);
    if (got != a && got != d)
        abort();
    json_object *tpls = json_object_new_object();
    json_object_object_add(tpls, f[2], json_object_new_string(f[3]));
    const char *tpl = NULL;
    static const char *const PB[] = {NULL, "WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"};
    for (int i = 0; i < 4; i++)
        if (ar_pick_request_template(tpls, f[1], strlen(f[1]), PB[i], &tpl) == AR_TPL_OK && !tpl)
            abort();
    int st = ar_mock_status(f[3], strlen(f[3]));
    if (st < 100 || st > 599)
        abort();
    json_object *ctx = json_object_new_object(), *req = json_object_new_object(),
                *hdr = json_object_new_object();
    json_object_object_add(hdr, f[1], json_object_new_string(f[3]));
    json_object_object_add(req, "header", hdr);
    json_object_object_add(ctx, "request", req);
    json_object_object_add(ctx, "integration_body", json_object_new_string(f[3]));
    char buf[64];
    ar_param_value(f[4], ctx, buf, sizeof buf);
    json_object_put(ctx);
    json_object_put(tpls);
    json_object_put(rs);
    free(s);
    return 0;
}
