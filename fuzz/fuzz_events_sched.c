/*
 * fuzz_events_sched.c — libFuzzer target for EventBridge schedule
 * expressions (src/services/events/events_sched.c).
 *
 * Input: the expression text.  A parsed schedule is evaluated from a few
 * fixed instants: the next firing must be later than the instant, on a
 * whole minute for cron, and asking again from that firing must give a
 * later one (or never).  No crash, no leak, no UBSan finding.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_events_sched)   Seeds: fuzz/corpus/events_sched/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/events/events_sched.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 300)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    ev_sched *sc = ev_sched_parse(s);
    if (sc) {
        static const int64_t AT[] = {0, 1700000000000, 1709164800000, 7258118400000};
        bool cron = !strncmp(s, "cron(", 5);
        for (size_t i = 0; i < sizeof AT / sizeof AT[0]; i++) {
            int64_t n = ev_sched_next(sc, AT[i], AT[i]);
            if (n == -1)
                continue;
            if (n <= AT[i] || (cron && n % 60000))
                abort();
            int64_t m = ev_sched_next(sc, AT[i], n);
            if (m != -1 && m <= n)
                abort();
        }
        ev_sched_free(sc);
    }
    free(s);
    return 0;
}
