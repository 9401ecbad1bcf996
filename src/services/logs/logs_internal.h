/*
 * logs_internal.h — shared types and functions of the CloudWatch Logs
 * service module.
 *
 * Files:
 *   logs.c          descriptor, lifecycle, schema, the (group, stream) id
 *                   cache, the append path (nb_logs_put, PutLogEvents),
 *                   the retention sweep, shared helpers
 *   logs_groups.c   log groups, retention policies, tags (both APIs)
 *   logs_events.c   log streams, PutLogEvents, GetLogEvents, FilterLogEvents
 *   logs_filters.c  metric filters, subscription filters, TestMetricFilter
 *   logs_pattern.c  the filter pattern language (pure; unit-tested, fuzzed)
 *
 * Storage (SQLite, all tables registered for /_nimbus/reset):
 *   logs_groups(id, account, region, name, created_ms, retention, kms,
 *               class, protect)                     UNIQUE(account,region,name)
 *   logs_streams(id, gid, name, created_ms, first_ts, last_ts, last_ingest,
 *                stored, last_seq)                  UNIQUE(gid, name)
 *   logs_events(seq PK, sid, gid, ts, ingest, msg)  seq: global ingestion
 *                order; indexes (sid, ts, seq) for GetLogEvents and
 *                (gid, ts, seq) for FilterLogEvents and retention
 *   logs_tags(gid, k, v), logs_metric_filters(gid, name, ...),
 *   logs_sub_filters(gid, name, ...)
 *
 * Invariants: a stream row's stored/first_ts/last_ts/last_seq summarise
 * its events (kept in the same statement group as every insert; the
 * retention sweep recomputes stored).  The id cache maps
 * (account, region, group, stream) to (gid, sid); an entry may outlive a
 * rolled-back creation, so the append path verifies the stream row with
 * its UPDATE and re-resolves when it is gone.  Entries are dropped when a
 * stream or group is deleted or its retention changes, and at reset.
 */
#ifndef NB_LOGS_INTERNAL_H
#define NB_LOGS_INTERNAL_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/nimbus.h"
#include "core/service.h"
#include "core/store.h"
#include "logs.h"
#include "logs_pattern.h"

/* Limits (AWS quotas and documented constraints). */
#define LOGS_MAX_BATCH_BYTES 1048576     /* sum of messages + 26 per event */
#define LOGS_EVENT_OVERHEAD 26
#define LOGS_MAX_EVENT_BYTES 1048576     /* one event incl. overhead (1 MB) */
#define LOGS_MAX_SPAN_MS (24LL * 3600 * 1000)
#define LOGS_MAX_FUTURE_MS (2LL * 3600 * 1000)
#define LOGS_MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define LOGS_MAX_RESPONSE_BYTES 1048576
#define LOGS_DEFAULT_EVENTS 10000
#define LOGS_MAX_TAGS 50
#define LOGS_MAX_METRIC_FILTERS 100
#define LOGS_MAX_SUB_FILTERS 2
#define LOGS_DAY_MS (24LL * 3600 * 1000)

/* A log group row. */
typedef struct logs_group {
    int64_t id;
    int64_t created_ms;
    int retention;          /* days, 0 = never expire */
    bool protect;           /* deletionProtectionEnabled */
    char cls[24];           /* logGroupClass */
    char *kms;              /* owned, or NULL */
    char name[520];
} logs_group;

/* ---- logs.c ------------------------------------------------------------- */
extern const nb_service nb_service_logs;

nb_status logs_fail_invalid(nb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nb_status logs_fail_no_group(nb_call *call);
nb_status logs_fail_no_stream(nb_call *call);
nb_status logs_fail_bad_token(nb_call *call);

/* Validate a log group name against AWS's pattern (the model's pattern has
 * escapes, so the central validator leaves it to us). */
bool logs_check_group_name(nb_call *call, const char *name, const char *member);

/* Load a group by name in the call's account/region; false if missing. */
bool logs_group_load(const nb_call *call, const char *name, logs_group *g);
void logs_group_clear(logs_group *g);
/* The group named by logGroupName or logGroupIdentifier (name or ARN,
 * exactly one of them); fails the call (returns false) otherwise. */
bool logs_group_from_input(nb_call *call, json_object *in, bool required, logs_group *g);
/* arn:aws:logs:R:A:log-group:NAME (no ":*"). */
void logs_group_arn(const nb_call *call, const char *name, char *out, size_t n);
/* Parse a log-group ARN (optionally with ":*"): name into out. */
bool logs_parse_group_arn(const nb_call *call, const char *arn, char *name, size_t n, bool allow_star);

/* Stream id by name in group gid, or 0. */
int64_t logs_stream_id(int64_t gid, const char *name);

/* Append events (already validated) to stream sid of group gid.  Returns
 * 0, 1 when the stream row is gone, -1 on a storage error. */
int logs_append(int64_t gid, int64_t sid, const nb_log_event *ev, size_t n, int64_t now, int64_t *last_seq);

/* Cache maintenance after deletes and retention changes. */
void logs_cache_drop_group(int64_t gid);
void logs_cache_drop_stream(int64_t sid);

/* "%056" style tokens. */
void logs_seq_token(int64_t seq, char out[64]);
void logs_key_token(char prefix, int64_t ts, int64_t seq, char out[72]);
bool logs_parse_key_token(const char *tok, char *prefix, int64_t *ts, int64_t *seq);
/* Offset pagination tokens for the Describe operations. */
void logs_offset_token(int64_t off, char out[32]);
bool logs_parse_offset_token(const char *tok, int64_t *off);
/* call->out = {KEY: list} plus a nextToken for next_off when more. */
nb_status logs_page_out(nb_call *call, const char *key, json_object *list, bool more, int64_t next_off);

/* Compile a filter pattern; fails the call with InvalidParameterException
 * (message prefixed by "Invalid filter pattern: " when prefixed). */
logs_pattern *logs_compile_or_fail(nb_call *call, const char *pattern, bool prefixed);

const char *logs_col_text(sqlite3_stmt *st, int i);

/* ---- handlers ------------------------------------------------------------- */
nb_status logs_create_log_group(nb_call *call, json_object *in);
nb_status logs_delete_log_group(nb_call *call, json_object *in);
nb_status logs_describe_log_groups(nb_call *call, json_object *in);
nb_status logs_put_retention_policy(nb_call *call, json_object *in);
nb_status logs_delete_retention_policy(nb_call *call, json_object *in);
nb_status logs_tag_log_group(nb_call *call, json_object *in);
nb_status logs_untag_log_group(nb_call *call, json_object *in);
nb_status logs_list_tags_log_group(nb_call *call, json_object *in);
nb_status logs_tag_resource(nb_call *call, json_object *in);
nb_status logs_untag_resource(nb_call *call, json_object *in);
nb_status logs_list_tags_for_resource(nb_call *call, json_object *in);
nb_status logs_put_log_group_deletion_protection(nb_call *call, json_object *in);

nb_status logs_create_log_stream(nb_call *call, json_object *in);
nb_status logs_delete_log_stream(nb_call *call, json_object *in);
nb_status logs_describe_log_streams(nb_call *call, json_object *in);
nb_status logs_put_log_events(nb_call *call, json_object *in);
nb_status logs_get_log_events(nb_call *call, json_object *in);
nb_status logs_filter_log_events(nb_call *call, json_object *in);

nb_status logs_put_metric_filter(nb_call *call, json_object *in);
nb_status logs_describe_metric_filters(nb_call *call, json_object *in);
nb_status logs_delete_metric_filter(nb_call *call, json_object *in);
nb_status logs_test_metric_filter(nb_call *call, json_object *in);
nb_status logs_put_subscription_filter(nb_call *call, json_object *in);
nb_status logs_describe_subscription_filters(nb_call *call, json_object *in);
nb_status logs_delete_subscription_filter(nb_call *call, json_object *in);

#endif
