/*
 * logs.h — the internal API of the CloudWatch Logs service for other
 * services (Lambda writes its function output here).
 */
#ifndef NB_LOGS_H
#define NB_LOGS_H

#include <stddef.h>
#include <stdint.h>

typedef struct nb_log_event { int64_t ts_ms; const char *msg; size_t len; } nb_log_event;

/* Append events to GROUP/STREAM in the account and region, creating the
 * group and the stream when missing (as Lambda's service role does).
 * Runs inside the caller's store transaction; never fails on a missing
 * resource; events are stored in the order given. */
/* A producer that buffers events (Lambda) registers how to store them
 * now: every Logs call runs it first, so reads never miss buffered lines. */
void nb_logs_set_flusher(void (*flush)(void));

void nb_logs_put(const char *account, const char *region, const char *group,
                 const char *stream, const nb_log_event *ev, size_t n);

#endif
