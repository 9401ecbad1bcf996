/*
 * fuzz_asl.c — libFuzzer target for the States Language core
 * (src/services/sfn/asl_*.c).
 *
 * Input: a definition's text.  Each run validates it (from an exact-size
 * copy, so ASan sees over-reads); a valid definition's top-level states are
 * then each entered with a fixed input and context, and a Task/Parallel/
 * Map result is finished and its errors run through Retry/Catch, as the
 * executor would.  The input is also tried as a JSONPath and as an
 * intrinsic function call.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_asl)   Seeds: fuzz/corpus/asl/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/sfn/asl.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char INPUT[] = "{\"a\":{\"b\":[1,2,{\"c\":\"x\"}]},\"s\":\"str\",\"n\":3,\"t\":\"2020-01-01T00:00:00Z\","
                            "\"items\":[1,2,3],\"nul\":null}";
static const char CTX[] = "{\"Execution\":{\"Id\":\"arn:e\",\"Name\":\"e\"},\"State\":{\"Name\":\"S\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    json_object *in = json_tokener_parse(INPUT), *ctx = json_tokener_parse(CTX);
    asl_err e = {{0}, {0}};
    json_object *o = asl_intrinsic(text, in, ctx, &e);
    json_object_put(o);
    o = NULL;
    asl_path_get(in, text, &o);
    json_object_put(o);
    if (asl_validate(text, NULL, NULL) == 0) {
        json_object *def = json_tokener_parse(text), *states;
        if (json_object_object_get_ex(def, "States", &states)) {
            json_object_object_foreach(states, name, st) {
                (void)name;
                asl_step s;
                asl_enter(st, in, ctx, 0, &s);
                if (s.kind == ASL_TASK || s.kind == ASL_PARALLEL || s.kind == ASL_MAP) {
                    asl_step f;
                    asl_finish(st, in, s.output, ctx, &f);
                    asl_step_clear(&f);
                    json_object *att = json_object_new_array();
                    asl_err err;
                    asl_fail(&err, "States.TaskFailed", "x");
                    int64_t d;
                    for (int i = 0; i < 4; i++) {
                        asl_step c;
                        asl_on_error(st, in, &err, att, 7, &d, &c);
                        asl_step_clear(&c);
                    }
                    json_object_put(att);
                }
                asl_step_clear(&s);
            }
        }
        json_object_put(def);
    }
    json_object_put(in);
    json_object_put(ctx);
    free(text);
    return 0;
}
