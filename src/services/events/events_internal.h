/*
 * events_internal.h — shared types and functions of the EventBridge
 * service module.
 *
 * Files:
 *   events.c        descriptor, lifecycle, schema, names and ARNs, event
 *                   buses, permissions (bus policies), tags
 *   events_rules.c  rules, targets (validation, Input*), TestEventPattern
 *   events_put.c    PutEvents, rule matching, the delivery queue (retries,
 *                   dead-letter queues) and schedules
 *   events_archive.c archives (capture at PutEvents) and replays
 *   events_api.c    connections, API destinations, HTTP(S) delivery to them
 *   events_input.c  InputPath / InputTransformer (pure; unit-tested, fuzzed)
 *   events_sched.c  rate / cron expressions (pure; unit-tested, fuzzed)
 *
 * Storage (SQLite, all tables registered for /_nimbus/reset):
 *   events_buses(id, account, region, name, created_ms, modified_ms,
 *                description, policy)        UNIQUE(account, region, name)
 *                The default bus is a row created on first reference.
 *   events_rules(id, bus_id, name, pattern, schedule, state, description,
 *                role, created_ms, next_ms)  UNIQUE(bus_id, name)
 *                next_ms: the next firing of a scheduled, enabled rule.
 *   events_targets(rule_id, tid, arn, doc, seq)  doc: the Target as given
 *   events_tags(arn, k, v)
 *   events_pending(id, account, region, host, rule_arn, target, payload,
 *                  event_id, attempts, due_ms, first_ms)  deliveries not
 *                  yet done; survive a restart with --data-dir.
 *   events_archives(id, account, region, name, source_arn, description,
 *                   pattern, state, retention, size_bytes, event_count,
 *                   created_ms)               UNIQUE(account, region, name)
 *   events_archived(seq, archive_id, time_ms, event)  (archive_id, time_ms)
 *   events_replays(id, account, region, name, description, source_arn,
 *                  destination, start_ms, end_ms, state, last_ms,
 *                  replay_start_ms, replay_end_ms)
 *
 *   events_conns(id, account, region, kind, name, arn, doc, created_ms,
 *                modified_ms, authorized_ms)  connections and API
 *                destinations (kind); see events_api.c
 *
 * Invariants: a rule's pattern text is valid (compiled at PutRule); the
 * compiled patterns live in a cache keyed by the pattern text, so the
 * cache never needs to follow savepoints or deletions.
 */
#ifndef NB_EVENTS_INTERNAL_H
#define NB_EVENTS_INTERNAL_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/nimbus.h"
#include "core/pattern.h"
#include "core/service.h"
#include "core/store.h"

/* Limits (AWS quotas and documented constraints). */
#define EV_MAX_TARGETS_PER_RULE 5
#define EV_MAX_ENTRIES 10
#define EV_MAX_PUT_BYTES (256 * 1024)
#define EV_DEFAULT_RETRIES 185
#define EV_DEFAULT_MAX_AGE_S 86400
#define EV_MAX_TAGS 50
#define EV_PAGE_DEFAULT 100

/* A bus row. */
typedef struct ev_bus {
    int64_t id;
    char account[16], region[32];
    char name[260];
} ev_bus;

/* ---- events.c ----------------------------------------------------------------- */
extern const nb_service nb_service_events;

const char *ev_col(sqlite3_stmt *st, int i); /* column text or "" */

/* "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE" split (resource points
 * into the ARN); false when it is not one. */
typedef struct ev_arn {
    char service[32], region[32], account[16];
    const char *resource;
} ev_arn;
bool ev_arn_split(const char *arn, ev_arn *a);

/* Names ([.-_A-Za-z0-9]+, and '/' when slash). */
bool ev_name_ok(const char *v, bool slash);
/* The same, failing the call with ValidationException when bad. */
bool ev_check_name(nb_call *call, const char *v, const char *member, bool slash);

/* The bus a name or ARN (NULL = default) names, in the call's account and
 * region (an ARN's own).  create_default: make the default bus's row.
 * Fails the call with ResourceNotFoundException when missing. */
bool ev_bus_resolve(nb_call *call, const char *name_or_arn, ev_bus *b);
/* The same without failing a call (PutEvents entries). */
bool ev_bus_lookup(const char *account, const char *region, const char *name_or_arn, ev_bus *b);

void ev_bus_arn(const ev_bus *b, char *out, size_t n);
void ev_rule_arn(const ev_bus *b, const char *rule, char *out, size_t n);

/* Compiled pattern for text (cached by text); NULL with err when invalid. */
const nb_pattern *ev_pattern(const char *text, char *err, size_t errlen);

/* Tags given at creation (TagList), into events_tags for arn. */
void ev_tags_put(const char *arn, json_object *tags);
void ev_tags_drop(const char *arn);

/* Limit and NextToken of a listing (an offset); false after failing the call. */
bool ev_page_args(nb_call *call, json_object *in, int64_t *limit, int64_t *off);
/* Steps st (bound with LIMIT limit + 1 OFFSET off) and sets call->out to
 * {key: [row(st, arg) for up to limit rows], NextToken when more}. */
typedef json_object *(*ev_row_fn)(sqlite3_stmt *st, void *arg);
nb_status ev_page_out(nb_call *call, sqlite3_stmt *st, int64_t limit, int64_t off, const char *key,
                      ev_row_fn row, void *arg);

/* ---- events_rules.c ----------------------------------------------------------- */
nb_status ev_put_rule(nb_call *call, json_object *in);
nb_status ev_describe_rule(nb_call *call, json_object *in);
nb_status ev_delete_rule(nb_call *call, json_object *in);
nb_status ev_enable_rule(nb_call *call, json_object *in);
nb_status ev_disable_rule(nb_call *call, json_object *in);
nb_status ev_list_rules(nb_call *call, json_object *in);
nb_status ev_list_rule_names_by_target(nb_call *call, json_object *in);
nb_status ev_put_targets(nb_call *call, json_object *in);
nb_status ev_remove_targets(nb_call *call, json_object *in);
nb_status ev_list_targets_by_rule(nb_call *call, json_object *in);
nb_status ev_test_event_pattern(nb_call *call, json_object *in);
/* Rule id by bus and name, or 0. */
int64_t ev_rule_id(int64_t bus_id, const char *name);
/* Delete every rule (and its targets) of a bus. */
void ev_rules_drop_bus(int64_t bus_id);

/* ---- events_put.c ------------------------------------------------------------- */
nb_status ev_put_events(nb_call *call, json_object *in);
/* Match event against the enabled rules of bus b (only those whose ARN
 * is in filter, an array, when given) and queue their targets. */
void ev_route(const nb_call *ctx, const ev_bus *b, json_object *event, int64_t ingest_ms,
              json_object *filter);
/* Queue one delivery of event to target (a Target object) for a rule. */
void ev_enqueue(const nb_call *ctx, const char *rule_arn, const char *rule_name,
                json_object *target, json_object *event, int64_t ingest_ms);
/* The next firing of a schedule rule after now (0 when none). */
int64_t ev_schedule_next(const char *expr, int64_t created_ms, int64_t now_ms);
void ev_sched_kick(void);  /* re-arm the schedule timer */
int ev_put_init(void);
void ev_put_shutdown(void);
void ev_put_reset(void);

/* ---- events_api.c ------------------------------------------------------------- */
nb_status ev_create_connection(nb_call *call, json_object *in);
nb_status ev_describe_connection(nb_call *call, json_object *in);
nb_status ev_update_connection(nb_call *call, json_object *in);
nb_status ev_delete_connection(nb_call *call, json_object *in);
nb_status ev_list_connections(nb_call *call, json_object *in);
nb_status ev_deauthorize_connection(nb_call *call, json_object *in);
nb_status ev_create_api_destination(nb_call *call, json_object *in);
nb_status ev_describe_api_destination(nb_call *call, json_object *in);
nb_status ev_update_api_destination(nb_call *call, json_object *in);
nb_status ev_delete_api_destination(nb_call *call, json_object *in);
nb_status ev_list_api_destinations(nb_call *call, json_object *in);
/* The outcome of an API destination call: ok (2xx), else whether AWS
 * would retry it, an error code and message. */
typedef void (*ev_api_cb)(void *arg, bool ok, bool retry, const char *code, const char *msg);
/* Sends payload to an API destination for target (its HttpParameters).
 * 0: started, cb runs later (drop(arg) instead if shut down first); 1: over
 * the destination's rate, try again at *retry_at; -1: cannot be sent
 * (err says why; not retried). */
int ev_api_invoke(const char *dest_arn, json_object *target, const char *payload, ev_api_cb cb,
                  void (*drop)(void *arg), void *arg, int64_t *retry_at, char *err, size_t errlen);
void ev_api_reset(void);    /* drops the OAuth tokens (the connections were cleared) */
void ev_api_shutdown(void);

/* ---- events_archive.c ----------------------------------------------------------- */
nb_status ev_create_archive(nb_call *call, json_object *in);
nb_status ev_describe_archive(nb_call *call, json_object *in);
nb_status ev_list_archives(nb_call *call, json_object *in);
nb_status ev_update_archive(nb_call *call, json_object *in);
nb_status ev_delete_archive(nb_call *call, json_object *in);
nb_status ev_start_replay(nb_call *call, json_object *in);
nb_status ev_describe_replay(nb_call *call, json_object *in);
nb_status ev_list_replays(nb_call *call, json_object *in);
nb_status ev_cancel_replay(nb_call *call, json_object *in);
/* Store event (its time time_ms) in every enabled archive of bus b whose
 * pattern it matches. */
void ev_archive_capture(const ev_bus *b, json_object *event, int64_t time_ms);
void ev_archives_drop_bus(const ev_bus *b);

#endif
