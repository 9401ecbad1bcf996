/*
 * fuzz_http.c — libFuzzer target for the whole front door: each input is fed
 * to nb_http_feed() as the bytes of one socket-less connection, so llhttp's
 * callbacks (headers, chunked bodies, Expect: 100-continue, pipelining,
 * limits), routing (X-Amz-Target, query Action, SigV4 credential scope), the
 * codecs, the validator and the service handlers all run on it.  Requests
 * parked by a handler (ReceiveMessage with WaitTimeSeconds > 0) are cancelled
 * by nb_http_feed at the end, as on a hang-up.  Afterwards the loop runs once
 * (UV_RUN_NOWAIT) so timers and closes settle, and every RESET_EVERY inputs
 * the store is reset so the in-memory database stays small.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_http)   Seeds: fuzz/corpus/http/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/http.h"
#include "core/nimbus.h"
#include "core/service.h"
#include "core/store.h"

#define RESET_EVERY 256

/* UBSan findings are fatal here (a crash artifact, like ASan's) instead of a
 * one-line note in the log; UBSAN_OPTIONS in the environment still wins. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }


static void init_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    /* No per-request log lines, unless NIMBUS_FUZZ_LOG is set (to see what
     * a seed does: one "service Operation status" line per request). */
    nb_cfg.log_level = getenv("NIMBUS_FUZZ_LOG") ? NB_LOG_DEBUG : NB_LOG_ERROR;
    nb_cfg.max_body = 1u << 20;
    nb_loop();
    if (nb_store_open(NULL) != 0) {
        fprintf(stderr, "fuzz_http: cannot open the store\n");
        abort();
    }
    for (int i = 0; nb_services[i]; i++)
        if (nb_services[i]->init && nb_services[i]->init(NULL) != 0) {
            fprintf(stderr, "fuzz_http: init of %s failed\n", nb_services[i]->name);
            abort();
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    init_once();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long n;
    init_once();
    nb_http_feed((const char *)data, size);
    uv_run(nb_loop(), UV_RUN_NOWAIT);
    if (++n % RESET_EVERY == 0) {
        nb_store_reset();
        for (int i = 0; nb_services[i]; i++)
            if (nb_services[i]->reset)
                nb_services[i]->reset();
        uv_run(nb_loop(), UV_RUN_NOWAIT);
    }
    return 0;
}
