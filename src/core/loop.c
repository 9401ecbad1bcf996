/* loop.c — the process's one event loop, initialised on first use. */
#include <stdbool.h>

#include "nimbus.h"

static uv_loop_t loop;
static bool ready;

uv_loop_t *nb_loop(void)
{
    if (!ready) {
        uv_loop_init(&loop);
        ready = true;
    }
    return &loop;
}
