/*
 * events_rules.c — rules (PutRule and friends), targets (PutTargets,
 * RemoveTargets, listings) and TestEventPattern.
 *
 * A rule's pattern is compiled when it is put (InvalidEventPatternException
 * carries the engine's message) and again only when the cache lost it.  A
 * target is stored as the Target object the caller gave, after checking
 * what delivery needs: the ARN, Input (JSON), InputPath, InputTransformer
 * (compiled once here to validate), SqsParameters for FIFO queues and the
 * dead-letter queue.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "events_input.h"
#include "events_internal.h"
#include "events_sched.h"

/* ---- rule rows ------------------------------------------------------------------ */

int64_t ev_rule_id(int64_t bus_id, const char *name)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id FROM events_rules WHERE bus_id = ? AND name = ?");
    sqlite3_bind_int64(st, 1, bus_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

static void exec_id(sqlite3_stmt **slot, const char *sql, int64_t id)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    sqlite3_reset(st);
}

void ev_rules_drop_bus(int64_t bus_id)
{
    static sqlite3_stmt *s2, *s3;
    exec_id(&s2, "DELETE FROM events_targets WHERE rule_id IN (SELECT id FROM events_rules WHERE bus_id = ?)",
            bus_id);
    exec_id(&s3, "DELETE FROM events_rules WHERE bus_id = ?", bus_id);
}

/* The bus and rule named by the input's EventBusName and name member;
 * fails the call when either is missing. */
static int64_t rule_from_input(nb_call *call, json_object *in, const char *member, ev_bus *b)
{
    const char *name = nb_str(in, member);
    if (!ev_check_name(call, name, member[0] == 'N' ? "name" : "rule", false) ||
        !ev_bus_resolve(call, nb_str(in, "EventBusName"), b))
        return 0;
    int64_t id = ev_rule_id(b->id, name);
    if (!id)
        nb_fail(call, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", name, b->name);
    return id;
}

static bool enabled_state(const char *s)
{
    return !strncmp(s, "ENABLED", 7);
}

/* ---- PutRule ---------------------------------------------------------------------- */

nb_status ev_put_rule(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name"), *pattern = nb_str(in, "EventPattern"),
               *sched = nb_str(in, "ScheduleExpression"), *state = nb_str(in, "State");
    if (!ev_check_name(call, name, "name", false))
        return NB_ERROR;
    ev_bus b;
    if (!ev_bus_resolve(call, nb_str(in, "EventBusName"), &b))
        return NB_ERROR;
    if (pattern && !*pattern)
        pattern = NULL;
    if (sched && !*sched)
        sched = NULL;
    if (!pattern && !sched)
        return nb_fail(call, "ValidationException",
                       "Parameter(s) EventPattern or ScheduleExpression must be specified.");
    if (pattern) {
        char err[512];
        if (!ev_pattern(pattern, err, sizeof err))
            return nb_fail(call, "InvalidEventPatternException", "%s", err);
    }
    if (sched) {
        if (strcmp(b.name, "default"))
            return nb_fail(call, "ValidationException",
                           "ScheduleExpression is supported only on the default event bus.");
        ev_sched *s = ev_sched_parse(sched);
        if (!s)
            return nb_fail(call, "ValidationException", "Parameter ScheduleExpression is not valid.");
        ev_sched_free(s);
    }
    if (!state)
        state = "ENABLED";
    int64_t id = ev_rule_id(b.id, name), created = call->now_ms;
    if (id) {
        static sqlite3_stmt *sc;
        sqlite3_stmt *st = nb_stmt(&sc, "SELECT created_ms FROM events_rules WHERE id = ?");
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            created = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s,
        "INSERT INTO events_rules(bus_id, name, pattern, schedule, state, description, role,"
        " created_ms, next_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT(bus_id, name) DO UPDATE SET pattern = ?3, schedule = ?4, state = ?5,"
        " description = ?6, role = ?7, next_ms = ?9");
    sqlite3_bind_int64(st, 1, b.id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (pattern)
        sqlite3_bind_text(st, 3, pattern, -1, SQLITE_STATIC);
    if (sched)
        sqlite3_bind_text(st, 4, sched, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
    const char *desc = nb_str(in, "Description"), *role = nb_str(in, "RoleArn");
    if (desc)
        sqlite3_bind_text(st, 6, desc, -1, SQLITE_STATIC);
    if (role)
        sqlite3_bind_text(st, 7, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, created);
    if (sched && enabled_state(state))
        sqlite3_bind_int64(st, 9, ev_schedule_next(sched, created, call->now_ms));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return nb_fail_status(call, 500, false, "InternalException", "%s", sqlite3_errmsg(nb_db()));
    char arn[600];
    ev_rule_arn(&b, name, arn, sizeof arn);
    ev_tags_put(arn, nb_get(in, "Tags"));
    if (sched)
        ev_sched_kick();
    call->out = json_object_new_object();
    json_object_object_add(call->out, "RuleArn", json_object_new_string(arn));
    return NB_OK;
}

/* ---- reading rules ----------------------------------------------------------------- */

#define RULE_COLS "name, pattern, schedule, state, description, role"

static json_object *rule_json(sqlite3_stmt *st, const ev_bus *b, bool describe)
{
    json_object *o = json_object_new_object();
    const char *name = ev_col(st, 0);
    char arn[600];
    ev_rule_arn(b, name, arn, sizeof arn);
    json_object_object_add(o, "Name", json_object_new_string(name));
    json_object_object_add(o, "Arn", json_object_new_string(arn));
    if (sqlite3_column_type(st, 1) != SQLITE_NULL)
        json_object_object_add(o, "EventPattern", json_object_new_string(ev_col(st, 1)));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        json_object_object_add(o, "ScheduleExpression", json_object_new_string(ev_col(st, 2)));
    json_object_object_add(o, "State", json_object_new_string(ev_col(st, 3)));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        json_object_object_add(o, "Description", json_object_new_string(ev_col(st, 4)));
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        json_object_object_add(o, "RoleArn", json_object_new_string(ev_col(st, 5)));
    json_object_object_add(o, "EventBusName", json_object_new_string(b->name));
    if (describe)
        json_object_object_add(o, "CreatedBy", json_object_new_string(b->account));
    return o;
}

nb_status ev_describe_rule(nb_call *call, json_object *in)
{
    ev_bus b;
    int64_t id = rule_from_input(call, in, "Name", &b);
    if (!id)
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT " RULE_COLS " FROM events_rules WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        call->out = rule_json(st, &b, true);
    sqlite3_reset(st);
    return NB_OK;
}

nb_status ev_delete_rule(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    if (!ev_check_name(call, name, "name", false))
        return NB_ERROR;
    ev_bus b;
    if (!ev_bus_resolve(call, nb_str(in, "EventBusName"), &b))
        return NB_ERROR;
    int64_t id = ev_rule_id(b.id, name);
    if (!id)
        return NB_OK; /* deleting a missing rule succeeds */
    static sqlite3_stmt *sc, *sd;
    sqlite3_stmt *st = nb_stmt(&sc, "SELECT COUNT(*) FROM events_targets WHERE rule_id = ?");
    sqlite3_bind_int64(st, 1, id);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (n > 0)
        return nb_fail(call, "ValidationException", "Rule can't be deleted since it has targets.");
    exec_id(&sd, "DELETE FROM events_rules WHERE id = ?", id);
    char arn[600];
    ev_rule_arn(&b, name, arn, sizeof arn);
    ev_tags_drop(arn);
    return NB_OK;
}

static nb_status set_state(nb_call *call, json_object *in, const char *state)
{
    ev_bus b;
    int64_t id = rule_from_input(call, in, "Name", &b);
    if (!id)
        return NB_ERROR;
    static sqlite3_stmt *sg, *su;
    sqlite3_stmt *st = nb_stmt(&sg, "SELECT schedule, created_ms FROM events_rules WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    char *sched = NULL;
    int64_t created = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        sched = nb_strdup(ev_col(st, 0));
        created = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    st = nb_stmt(&su, "UPDATE events_rules SET state = ?, next_ms = ? WHERE id = ?");
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    if (sched && enabled_state(state))
        sqlite3_bind_int64(st, 2, ev_schedule_next(sched, created, call->now_ms));
    sqlite3_bind_int64(st, 3, id);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (sched)
        ev_sched_kick();
    free(sched);
    return NB_OK;
}

nb_status ev_enable_rule(nb_call *call, json_object *in)
{
    return set_state(call, in, "ENABLED");
}

nb_status ev_disable_rule(nb_call *call, json_object *in)
{
    return set_state(call, in, "DISABLED");
}

static json_object *rule_row_json(sqlite3_stmt *st, void *arg)
{
    return rule_json(st, arg, false);
}

static json_object *name_row_json(sqlite3_stmt *st, void *arg)
{
    (void)arg;
    return json_object_new_string(ev_col(st, 0));
}

static json_object *doc_row_json(sqlite3_stmt *st, void *arg)
{
    (void)arg;
    return json_tokener_parse(ev_col(st, 0));
}

nb_status ev_list_rules(nb_call *call, json_object *in)
{
    const char *prefix = nb_str(in, "NamePrefix");
    if (prefix && !ev_check_name(call, prefix, "namePrefix", false))
        return NB_ERROR;
    ev_bus b;
    int64_t limit, off;
    if (!ev_bus_resolve(call, nb_str(in, "EventBusName"), &b) || !ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT " RULE_COLS " FROM events_rules WHERE bus_id = ?"
                                   " AND substr(name, 1, length(?2)) = ?2 ORDER BY name LIMIT ? OFFSET ?");
    sqlite3_bind_int64(st, 1, b.id);
    sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit + 1);
    sqlite3_bind_int64(st, 4, off);
    return ev_page_out(call, st, limit, off, "Rules", rule_row_json, &b);
}

nb_status ev_list_rule_names_by_target(nb_call *call, json_object *in)
{
    ev_bus b;
    int64_t limit, off;
    if (!ev_bus_resolve(call, nb_str(in, "EventBusName"), &b) || !ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT DISTINCT r.name FROM events_rules r JOIN events_targets t"
                                   " ON t.rule_id = r.id WHERE r.bus_id = ? AND t.arn = ?"
                                   " ORDER BY r.name LIMIT ? OFFSET ?");
    sqlite3_bind_int64(st, 1, b.id);
    sqlite3_bind_text(st, 2, nb_str(in, "TargetArn"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit + 1);
    sqlite3_bind_int64(st, 4, off);
    return ev_page_out(call, st, limit, off, "RuleNames", name_row_json, NULL);
}

/* ---- targets ------------------------------------------------------------------------ */

/* An ARN, of service when given. */
static bool arn_ok(const char *arn, const char *service)
{
    ev_arn a;
    return ev_arn_split(arn, &a) && (!service || !strcmp(a.service, service));
}

/* Failures AWS reports per entry (the target is skipped): a bad Id or
 * ARN, a FIFO queue without a message group.  Writes the message and
 * returns true when the entry fails. */
static bool entry_fails(json_object *t, size_t index, char *msg, size_t n)
{
    const char *id = nb_str(t, "Id"), *arn = nb_str(t, "Arn");
    if (!ev_name_ok(id, false)) {
        snprintf(msg, n, "Value '%s' at 'targets.%zu.member.id' failed to satisfy constraint: Member must "
                         "satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", id, index + 1);
        return true;
    }
    if (!arn_ok(arn, NULL)) {
        snprintf(msg, n, "Parameter %s is not valid. Reason: Provided Arn is not in correct format.", arn);
        return true;
    }
    size_t al = strlen(arn);
    if (arn_ok(arn, "sqs") && al > 5 && !strcmp(arn + al - 5, ".fifo") &&
        !nb_str(nb_get(t, "SqsParameters"), "MessageGroupId")) {
        snprintf(msg, n, "Parameter(s) SqsParameters must be specified for target: %s.", id);
        return true;
    }
    return false;
}

/* Failures of the whole call: the target's input and dead-letter queue. */
static bool check_target(nb_call *call, json_object *t)
{
    const char *id = nb_str(t, "Id");
    const char *input = nb_str(t, "Input"), *path = nb_str(t, "InputPath");
    json_object *tr = nb_get(t, "InputTransformer");
    if ((input != NULL) + (path != NULL) + (tr != NULL) > 1) {
        nb_fail(call, "ValidationException",
                "Only one of Input, InputPath, or InputTransformer must be provided for target %s.", id);
        return false;
    }
    if (input && !ev_json_valid(input, strlen(input))) {
        nb_fail(call, "ValidationException", "Input for target %s is not a valid JSON text.", id);
        return false;
    }
    if (path && !ev_path_valid(path)) {
        nb_fail(call, "ValidationException", "InputPath for target %s is invalid.", id);
        return false;
    }
    if (tr) {
        char err[400];
        ev_transformer *x = ev_transformer_compile(nb_get(tr, "InputPathsMap"),
                                                   nb_str(tr, "InputTemplate"), id, err, sizeof err);
        if (!x) {
            nb_fail(call, "ValidationException", "%s", err);
            return false;
        }
        ev_transformer_free(x);
    }
    const char *dlq = nb_str(nb_get(t, "DeadLetterConfig"), "Arn");
    if (dlq && !arn_ok(dlq, "sqs")) {
        nb_fail(call, "ValidationException",
                "Parameter DeadLetterConfig.Arn is not valid. Reason: Provided Arn is not an SQS queue arn.");
        return false;
    }
    return true;
}

static void add_failed(json_object *list, const char *id, const char *code, const char *msg)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "TargetId", json_object_new_string(id));
    json_object_object_add(e, "ErrorCode", json_object_new_string(code));
    json_object_object_add(e, "ErrorMessage", json_object_new_string(msg));
    json_object_array_add(list, e);
}

static nb_status failed_out(nb_call *call, json_object *failed)
{
    call->out = json_object_new_object();
    json_object_object_add(call->out, "FailedEntryCount",
                           json_object_new_int((int)json_object_array_length(failed)));
    json_object_object_add(call->out, "FailedEntries", failed);
    return NB_OK;
}

nb_status ev_put_targets(nb_call *call, json_object *in)
{
    ev_bus b;
    int64_t rid = rule_from_input(call, in, "Rule", &b);
    if (!rid)
        return NB_ERROR;
    json_object *targets = nb_get(in, "Targets");
    size_t n = json_object_array_length(targets);
    for (size_t i = 0; i < n; i++)
        if (!check_target(call, json_object_array_get_idx(targets, i)))
            return NB_ERROR;
    json_object *failed = json_object_new_array();
    static sqlite3_stmt *s, *sc;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(targets, i);
        char msg[600];
        if (entry_fails(t, i, msg, sizeof msg)) {
            add_failed(failed, nb_str(t, "Id"), "ValidationException", msg);
            continue;
        }
        nb_buf doc = {0};
        nb_json_write(&doc, t);
        sqlite3_stmt *st = nb_stmt(&s,
            "INSERT INTO events_targets(rule_id, tid, arn, doc, seq) VALUES (?1, ?2, ?3, ?4,"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM events_targets WHERE rule_id = ?1))"
            " ON CONFLICT(rule_id, tid) DO UPDATE SET arn = ?3, doc = ?4");
        sqlite3_bind_int64(st, 1, rid);
        sqlite3_bind_text(st, 2, nb_str(t, "Id"), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, nb_str(t, "Arn"), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, doc.data, (int)doc.len, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        nb_buf_free(&doc);
    }
    sqlite3_stmt *st = nb_stmt(&sc, "SELECT COUNT(*) FROM events_targets WHERE rule_id = ?");
    sqlite3_bind_int64(st, 1, rid);
    int count = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (count > EV_MAX_TARGETS_PER_RULE) {
        json_object_put(failed);
        return nb_fail(call, "LimitExceededException",
                       "The requested resource exceeds the maximum number allowed.");
    }
    return failed_out(call, failed);
}

nb_status ev_remove_targets(nb_call *call, json_object *in)
{
    ev_bus b;
    int64_t rid = rule_from_input(call, in, "Rule", &b);
    if (!rid)
        return NB_ERROR;
    const char *rule = nb_str(in, "Rule");
    json_object *ids = nb_get(in, "Ids"), *failed = json_object_new_array();
    static sqlite3_stmt *s;
    for (size_t i = 0; i < json_object_array_length(ids); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
        sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM events_targets WHERE rule_id = ? AND tid = ?");
        sqlite3_bind_int64(st, 1, rid);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        if (sqlite3_changes(nb_db()) == 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "Rule '%s' does not have a target with the Id '%s'.", rule, id);
            add_failed(failed, id, "ResourceNotFoundException", msg);
        }
    }
    return failed_out(call, failed);
}

nb_status ev_list_targets_by_rule(nb_call *call, json_object *in)
{
    ev_bus b;
    int64_t limit, off;
    int64_t rid = rule_from_input(call, in, "Rule", &b);
    if (!rid || !ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT doc FROM events_targets WHERE rule_id = ? ORDER BY seq"
                                   " LIMIT ? OFFSET ?");
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, limit + 1);
    sqlite3_bind_int64(st, 3, off);
    return ev_page_out(call, st, limit, off, "Targets", doc_row_json, NULL);
}

/* ---- TestEventPattern ----------------------------------------------------------------- */

nb_status ev_test_event_pattern(nb_call *call, json_object *in)
{
    const char *pattern = nb_str(in, "EventPattern"), *event = nb_str(in, "Event");
    char err[512];
    const nb_pattern *p = ev_pattern(pattern, err, sizeof err);
    if (!p)
        return nb_fail(call, "InvalidEventPatternException", "%s", err);
    json_object *ev = json_tokener_parse(event);
    static const char *const REQUIRED[] = {"id", "account", "source", "time", "region", "resources",
                                             "detail-type"};
    bool ok = ev && json_object_is_type(ev, json_type_object);
    for (size_t i = 0; ok && i < sizeof REQUIRED / sizeof REQUIRED[0]; i++)
        ok = nb_get(ev, REQUIRED[i]) != NULL;
    if (!ok) {
        json_object_put(ev);
        return nb_fail(call, "ValidationException", "Parameter Event is not valid.");
    }
    bool m = nb_pattern_match(p, ev);
    json_object_put(ev);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Result", json_object_new_boolean(m));
    return NB_OK;
}
