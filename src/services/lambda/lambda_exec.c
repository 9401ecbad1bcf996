/*
 * lambda_exec.c — execution: instances, the Runtime API, the warm pool.
 * (Grows with the execution half; see lambda_internal.h.)
 */
#include "lambda_internal.h"

void lm_exec_init(void) {}
void lm_exec_reset(void) {}
void lm_exec_shutdown(void) {}

void lm_exec_retire(const char *account, const char *region, const char *name)
{
    (void)account;
    (void)region;
    (void)name;
}
