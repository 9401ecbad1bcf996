/*
 * events_sched.h — EventBridge schedule expressions: rate(...) and
 * cron(...), parsed and evaluated in UTC.  Pure: no service, no I/O.
 *
 *   rate(N unit)   N a positive integer; unit minute|hour|day for N = 1,
 *                  minutes|hours|days otherwise.
 *   cron(Minutes Hours Day-of-month Month Day-of-week Year)
 *     Minutes 0-59, Hours 0-23, Month 1-12 or JAN-DEC, Year 1970-2199:
 *                  , - * /
 *     Day-of-month 1-31: , - * ? / L W (L: last day; NW: the weekday
 *                  nearest day N within the month; LW: the last weekday)
 *     Day-of-week 1-7 or SUN-SAT (1 = Sunday): , - * ? L # (NL: the
 *                  last day N of the month; N#k: the k-th day N)
 *     Exactly one of the two day fields is "?".
 *
 * A rate schedule fires every N units starting from the rule's creation
 * (the caller passes its anchor); cron at the listed minutes.
 */
#ifndef NB_EVENTS_SCHED_H
#define NB_EVENTS_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ev_sched ev_sched;

/* NULL when the expression is not valid (AWS answers "Parameter
 * ScheduleExpression is not valid."). */
ev_sched *ev_sched_parse(const char *expr);
void ev_sched_free(ev_sched *s);

/* The first firing time strictly after after_ms (epoch ms), or -1 when the
 * schedule never fires again.  anchor_ms: the start of a rate schedule. */
int64_t ev_sched_next(const ev_sched *s, int64_t anchor_ms, int64_t after_ms);

#endif
