/*
 * fuzz_lambda_prelude.c — libFuzzer target for lm_prelude_parse
 * (src/services/lambda/lambda_stream.c): the prelude a streaming function
 * writes before a function URL's body (JSON, then 8 NUL bytes).
 *
 * The input is parsed whole and then fed as it would arrive in pieces (a
 * growing prefix, as us_chunk buffers it); every answer must agree: a
 * prefix never completes a prelude the whole input does not, and the
 * length taken never exceeds what was given.  Each try gets its own
 * exact-size allocation so ASan sees over-reads.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_lambda_prelude)
 * Seeds: fuzz/corpus/lambda_prelude/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/lambda/lambda_internal.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static long parse(const uint8_t *data, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (n)
        memcpy(p, data, n);
    json_object *o = NULL;
    long used = lm_prelude_parse(p, n, &o);
    if (used > 0 && (!o || (size_t)used > n || memcmp(p + used - 8, "\0\0\0\0\0\0\0\0", 8)))
        abort();
    if (used <= 0 && o)
        abort();
    if (o) {
        json_object *sc = json_object_object_get(o, "statusCode");
        (void)json_object_get_int64(sc);
        json_object_put(o);
    }
    free(p);
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long whole = parse(data, size);
    size_t step = size / 7 + 1;
    for (size_t n = 0; n < size; n += step) {
        long part = parse(data, n);
        if (part > 0 && part != whole)
            abort(); /* a prefix completed a different prelude */
        if (part < 0 && whole >= 0 && n <= (size_t)LM_PRELUDE_MAX)
            abort(); /* a prefix refused what the whole accepts */
    }
    return 0;
}
