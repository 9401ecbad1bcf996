/*
 * test_events_sched.c — unit test of EventBridge schedule expressions
 * (src/services/events/events_sched.c): what parses, what does not, and
 * next-fire times for rate and cron (L, W, #, ranges, lists, increments,
 * names, years).  This is the fast way to test schedules: the
 * integration test only checks one rate(1 minute) firing end to end.
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/events/events_sched.h"

static int passed, failed;
#include "check.h"

/* "YYYY-MM-DD HH:MM" in UTC to epoch ms. */
static int64_t at(const char *s)
{
    struct tm tm = {0};
    if (sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min) != 5)
        abort();
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static void fmt(int64_t ms, char out[32])
{
    if (ms < 0) {
        snprintf(out, 32, "never");
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

static void next(const char *expr, const char *after, const char *want)
{
    ev_sched *s = ev_sched_parse(expr);
    if (!check(s != NULL, "parse %s", expr))
        return;
    char got[32];
    fmt(ev_sched_next(s, at(after), at(after)), got);
    check(!strcmp(got, want), "%s after %s: got %s want %s", expr, after, got, want);
    ev_sched_free(s);
}

static void valid(const char *expr, bool want)
{
    ev_sched *s = ev_sched_parse(expr);
    check((s != NULL) == want, "%s: %s", expr, want ? "should parse" : "should not parse");
    ev_sched_free(s);
}

int main(void)
{
    valid("rate(1 minute)", true);
    valid("rate(5 minutes)", true);
    valid("rate(1 hour)", true);
    valid("rate(12 hours)", true);
    valid("rate(1 day)", true);
    valid("rate(1 minutes)", false);
    valid("rate(2 minute)", false);
    valid("rate(0 minutes)", false);
    valid("rate(-1 minutes)", false);
    valid("rate(1 second)", false);
    valid("rate(1  minute)", false);
    valid("rate()", false);
    valid("cron(0 12 * * ? *)", true);
    valid("cron(0 12 ? * * *)", true);
    valid("cron(0 12 * * * *)", false);   /* neither day field is ? */
    valid("cron(0 12 ? * ? *)", false);   /* both are */
    valid("cron(0 12 * * ?)", false);     /* five fields */
    valid("cron(60 12 * * ? *)", false);
    valid("cron(0 24 * * ? *)", false);
    valid("cron(0 0 32 * ? *)", false);
    valid("cron(0 0 ? 13 * *)", false);
    valid("cron(0 0 ? * 8 *)", false);
    valid("cron(0 0 ? * 0 *)", false);
    valid("cron(0 0 * * ? 1969)", false);
    valid("cron(0 0 * * ? 2200)", false);
    valid("cron(0 0 ? * MON-FRI *)", true);
    valid("cron(0 0 ? JAN-MAR * *)", true);
    valid("cron(0 0 ? * 6#3 *)", true);
    valid("cron(0 0 ? * 6#6 *)", false);
    valid("cron(0 0 ? * 6L *)", true);
    valid("cron(0 0 L * ? *)", true);
    valid("cron(0 0 LW * ? *)", true);
    valid("cron(0 0 15W * ? *)", true);
    valid("cron(0 0 W * ? *)", false);
    valid("cron(0/0 0 * * ? *)", false);
    valid("cron(5-1 0 * * ? *)", false);
    valid("cron(0,,5 0 * * ? *)", false);
    valid("cron(0 0 * * ? *) ", false);
    valid("cron(a b c d e f)", false);

    next("rate(5 minutes)", "2024-01-01 00:00", "2024-01-01 00:05");
    next("rate(1 day)", "2024-01-01 10:30", "2024-01-02 10:30");
    next("cron(0 12 * * ? *)", "2024-01-01 11:00", "2024-01-01 12:00");
    next("cron(0 12 * * ? *)", "2024-01-01 12:00", "2024-01-02 12:00");
    next("cron(0/15 * * * ? *)", "2024-01-01 10:07", "2024-01-01 10:15");
    next("cron(10,40 3-4 * * ? *)", "2024-01-01 03:40", "2024-01-01 04:10");
    next("cron(0 9 ? * MON-FRI *)", "2024-01-05 10:00", "2024-01-08 09:00"); /* Fri -> Mon */
    next("cron(0 0 L * ? *)", "2024-02-01 00:00", "2024-02-29 00:00");      /* leap year */
    next("cron(0 0 L * ? *)", "2023-02-01 00:00", "2023-02-28 00:00");
    next("cron(0 0 LW * ? *)", "2024-08-01 00:00", "2024-08-30 00:00");     /* 31st is a Saturday */
    next("cron(0 0 1W * ? *)", "2024-06-01 00:00", "2024-06-03 00:00");     /* 1st is a Saturday */
    next("cron(0 0 15W * ? *)", "2024-09-01 00:00", "2024-09-16 00:00");    /* 15th is a Sunday */
    next("cron(0 0 ? * 6#3 *)", "2024-01-01 00:00", "2024-01-19 00:00");    /* third Friday */
    next("cron(0 0 ? * 2L *)", "2024-01-01 00:00", "2024-01-29 00:00");     /* last Monday */
    next("cron(0 0 ? * L *)", "2024-01-01 00:00", "2024-01-27 00:00");      /* last Saturday */
    next("cron(0 0 1 JAN ? 2030)", "2024-05-05 00:00", "2030-01-01 00:00");
    next("cron(0 0 1 JAN ? 2020)", "2024-05-05 00:00", "never");
    next("cron(30 6 29 FEB ? *)", "2024-03-01 00:00", "2028-02-29 06:30");
    next("cron(0 0 ? * SUN *)", "2024-01-01 00:00", "2024-01-07 00:00");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
