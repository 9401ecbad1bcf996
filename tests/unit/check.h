/*
 * check.h — the assertion helper shared by the C unit tests.  The including
 * file defines the lvalues `passed` and `failed` before including it.
 */
#ifndef NB_TEST_CHECK_H
#define NB_TEST_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return true;
    }
    failed++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return false;
}

#endif
