/*
 * fuzz_logs_pattern.c — libFuzzer target for CloudWatch Logs filter
 * patterns (src/services/logs/logs_pattern.c).
 *
 * Input: the bytes up to the first newline are the pattern; the rest is
 * a list of messages separated by newlines.  Each compiled pattern is
 * matched (and its values extracted) against every message and a few
 * fixed ones (JSON, an access-log line, empty).  No crash, no leak, no
 * UBSan finding; match and extract must agree.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_logs_pattern)   Seeds: fuzz/corpus/logs_pattern/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/logs/logs_pattern.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char *const FIXED[] = {
    "{\"a\": {\"b\": [1, \"x\", null, true]}, \"n\": 1.5e3, \"s\": \"str*\"}",
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326",
    "",
    "ERROR Exception \"quoted\" [bracket",
};

static void run(const logs_pattern *p, const char *msg, size_t len)
{
    char *copy = malloc(len ? len : 1);   /* exact size: ASan sees over-reads */
    if (!copy)
        abort();
    memcpy(copy, msg, len);
    bool m = logs_pattern_match(p, copy, len);
    json_object *ex = NULL;
    bool e = logs_pattern_extract(p, copy, len, &ex);
    if (m != e || (e != (ex != NULL)))
        abort();
    json_object_put(ex);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t plen = nl ? (size_t)(nl - s) : size;
    char *pat = malloc(plen ? plen : 1);
    if (!pat)
        abort();
    memcpy(pat, s, plen);
    char err[LOGS_PAT_ERRMAX];
    logs_pattern *p = logs_pattern_compile(pat, plen, err, sizeof err);
    if (p) {
        for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++)
            run(p, FIXED[i], strlen(FIXED[i]));
        const char *m = nl ? nl + 1 : s + size, *end = s + size;
        while (m < end) {
            const char *e = memchr(m, '\n', (size_t)(end - m));
            size_t n = e ? (size_t)(e - m) : (size_t)(end - m);
            run(p, m, n);
            m += n + 1;
        }
        logs_pattern_free(p);
    } else if (!err[0]) {
        abort();   /* a failed compile always explains itself */
    }
    free(pat);
    return 0;
}
