/*
 * fuzz_events_input.c — libFuzzer target for EventBridge target input
 * (src/services/events/events_input.c).
 *
 * Input: the bytes up to the first newline are an InputPathsMap (a JSON
 * object; when it is not one, the line is used as a single path under the
 * key "v"), the rest is the InputTemplate.  Every path is also evaluated
 * as an InputPath.  A compiled template is applied to a fixed event; when
 * the template is JSON-aware and every variable resolves to a JSON value,
 * placeholders outside strings must yield text the strict JSON parser
 * accepts for object/array templates without string placeholders.  No
 * crash, no leak, no UBSan finding.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_events_input)   Seeds: fuzz/corpus/events_input/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/events/events_input.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char *EVENT =
    "{\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"T\",\"source\":\"s\",\"account\":\"1\","
    "\"time\":\"2024-01-01T00:00:00Z\",\"region\":\"r\",\"resources\":[\"a\",\"b\"],"
    "\"detail\":{\"a\":\"x\\\"y\",\"n\":3,\"l\":[{\"k\":1},{\"k\":[2,3]}],\"o\":{\"p\":null}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    if (strlen(s) != size) { /* templates are C strings */
        free(s);
        return 0;
    }
    char *nl = strchr(s, '\n');
    const char *tmpl = nl ? nl + 1 : "<v>";
    if (nl)
        *nl = 0;
    json_object *pm = json_tokener_parse(s);
    if (!pm || !json_object_is_type(pm, json_type_object)) {
        json_object_put(pm);
        pm = json_object_new_object();
        json_object_object_add(pm, "v", json_object_new_string(s));
    }
    json_object *ev = json_tokener_parse(EVENT);
    json_object_object_foreach(pm, k, v) {
        (void)k;
        if (json_object_is_type(v, json_type_string)) {
            const char *p = json_object_get_string(v);
            json_object *r = ev_path_eval(ev, p);
            if (r && !ev_path_valid(p))
                abort();
            json_object_put(r);
        }
    }
    char err[256];
    ev_transformer *t = ev_transformer_compile(pm, tmpl, "t", err, sizeof err);
    if (!t && !err[0])
        abort(); /* a rejection always says why */
    if (t) {
        ev_context ctx = {"arn:aws:events:r:1:rule/x", "x", "2024-01-01T00:00:01Z"};
        size_t n;
        char *out = ev_transformer_apply(t, ev, &ctx, &n);
        if (strlen(out) != n)
            abort();
        free(out);
        ev_transformer_free(t);
    }
    json_object_put(ev);
    json_object_put(pm);
    free(s);
    return 0;
}
