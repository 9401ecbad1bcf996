/*
 * events_archive.c — archives (CreateArchive and friends) and replays
 * (StartReplay and friends).
 *
 * An archive belongs to a bus (EventSourceArn) and has an optional
 * pattern; PutEvents stores every event it accepts on that bus which the
 * pattern matches (replayed events are not archived again) in
 * events_archived with the event's time.  A replay runs inside
 * StartReplay: the archived events whose time lies in [EventStartTime,
 * EventEndTime) go, in time order and with "replay-name" added to the
 * envelope, through the destination bus's rules (only the FilterArns
 * rules when given), so their deliveries are queued like any others.  The
 * response says STARTING, as AWS's does; the next read shows COMPLETED.
 * RetentionDays is kept: archived events older than it are deleted when
 * the archive is read or replayed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "events_internal.h"

#define DAY_MS (24LL * 3600 * 1000)

static void archive_arn(const nb_call *call, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:events:%s:%s:archive/%s", call->region, call->account, name);
}

static void replay_arn(const nb_call *call, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:events:%s:%s:replay/%s", call->region, call->account, name);
}

/* ---- capture ------------------------------------------------------------------ */

void ev_archive_capture(const ev_bus *b, json_object *event, int64_t time_ms)
{
    if (nb_get(event, "replay-name"))
        return;
    char arn[400];
    ev_bus_arn(b, arn, sizeof arn);
    static sqlite3_stmt *s, *si, *su;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id, pattern FROM events_archives WHERE account = ? AND region = ?"
                                   " AND source_arn = ? AND state = 'ENABLED'");
    sqlite3_bind_text(st, 1, b->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, arn, -1, SQLITE_STATIC);
    int64_t ids[64];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            char err[64];
            const nb_pattern *p = ev_pattern(ev_col(st, 1), err, sizeof err);
            if (!p || !nb_pattern_match(p, event))
                continue;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (!n)
        return;
    nb_buf text = {0};
    nb_json_write(&text, event);
    for (size_t i = 0; i < n; i++) {
        st = nb_stmt(&si, "INSERT INTO events_archived(archive_id, time_ms, event) VALUES (?, ?, ?)");
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_int64(st, 2, time_ms);
        sqlite3_bind_text(st, 3, text.data, (int)text.len, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        st = nb_stmt(&su, "UPDATE events_archives SET event_count = event_count + 1,"
                          " size_bytes = size_bytes + ? WHERE id = ?");
        sqlite3_bind_int64(st, 1, (int64_t)text.len);
        sqlite3_bind_int64(st, 2, ids[i]);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    nb_buf_free(&text);
}

/* Deletes an archive's events older than its retention. */
static void expire(int64_t id, int retention_days, int64_t now_ms)
{
    if (retention_days <= 0)
        return;
    static sqlite3_stmt *sd, *su;
    sqlite3_stmt *st = nb_stmt(&sd, "DELETE FROM events_archived WHERE archive_id = ? AND time_ms < ?");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms - retention_days * DAY_MS);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (sqlite3_changes(nb_db()) == 0)
        return;
    st = nb_stmt(&su, "UPDATE events_archives SET (event_count, size_bytes) = (SELECT COUNT(*),"
                      " COALESCE(SUM(length(event)), 0) FROM events_archived WHERE archive_id = ?1) WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    sqlite3_reset(st);
}

void ev_archives_drop_bus(const ev_bus *b)
{
    char arn[400];
    ev_bus_arn(b, arn, sizeof arn);
    static sqlite3_stmt *s1, *s2;
    sqlite3_stmt **slots[] = {&s1, &s2};
    static const char *const SQL[] = {
        "DELETE FROM events_archived WHERE archive_id IN (SELECT id FROM events_archives"
        " WHERE account = ? AND region = ? AND source_arn = ?)",
        "DELETE FROM events_archives WHERE account = ? AND region = ? AND source_arn = ?",
    };
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st = nb_stmt(slots[k], SQL[k]);
        sqlite3_bind_text(st, 1, b->account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, b->region, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, arn, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

/* ---- archives ------------------------------------------------------------------ */

#define ARCHIVE_COLS "id, name, source_arn, description, pattern, state, retention, size_bytes, event_count, created_ms"

static json_object *archive_json(const nb_call *call, sqlite3_stmt *st, bool describe)
{
    json_object *o = json_object_new_object();
    const char *name = ev_col(st, 1);
    if (describe) {
        char arn[300];
        archive_arn(call, name, arn, sizeof arn);
        json_object_object_add(o, "ArchiveArn", json_object_new_string(arn));
    }
    json_object_object_add(o, "ArchiveName", json_object_new_string(name));
    json_object_object_add(o, "EventSourceArn", json_object_new_string(ev_col(st, 2)));
    if (describe && sqlite3_column_type(st, 3) != SQLITE_NULL)
        json_object_object_add(o, "Description", json_object_new_string(ev_col(st, 3)));
    if (describe && sqlite3_column_type(st, 4) != SQLITE_NULL)
        json_object_object_add(o, "EventPattern", json_object_new_string(ev_col(st, 4)));
    json_object_object_add(o, "State", json_object_new_string(ev_col(st, 5)));
    json_object_object_add(o, "RetentionDays", json_object_new_int(sqlite3_column_int(st, 6)));
    json_object_object_add(o, "SizeBytes", json_object_new_int64(sqlite3_column_int64(st, 7)));
    json_object_object_add(o, "EventCount", json_object_new_int64(sqlite3_column_int64(st, 8)));
    json_object_object_add(o, "CreationTime", json_object_new_double(sqlite3_column_int64(st, 9) / 1000.0));
    return o;
}

/* The archive row named name (stepped to it) or NULL after failing the call. */
/* The row of the archive or replay named name (stepped to it: the caller
 * resets it), or NULL after failing the call. */
static sqlite3_stmt *named_row(nb_call *call, sqlite3_stmt **slot, const char *sql, const char *name,
                               const char *member, const char *what)
{
    if (!ev_check_name(call, name, member, false))
        return NULL;
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        return st;
    sqlite3_reset(st);
    nb_fail(call, "ResourceNotFoundException", "%s %s does not exist.", what, name);
    return NULL;
}

static sqlite3_stmt *archive_row(nb_call *call, const char *name)
{
    static sqlite3_stmt *s;
    return named_row(call, &s, "SELECT " ARCHIVE_COLS " FROM events_archives WHERE account = ? AND region = ?"
                     " AND name = ?", name, "archiveName", "Archive");
}

static bool check_pattern(nb_call *call, const char *pattern)
{
    char err[512];
    if (!pattern || ev_pattern(pattern, err, sizeof err))
        return true;
    nb_fail(call, "InvalidEventPatternException", "%s", err);
    return false;
}

static void state_out(nb_call *call, const char *name, const char *state, int64_t created_ms)
{
    char arn[300];
    archive_arn(call, name, arn, sizeof arn);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "ArchiveArn", json_object_new_string(arn));
    json_object_object_add(call->out, "State", json_object_new_string(state));
    json_object_object_add(call->out, "CreationTime", json_object_new_double(created_ms / 1000.0));
}

nb_status ev_create_archive(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "ArchiveName"), *src = nb_str(in, "EventSourceArn"),
               *pattern = nb_str(in, "EventPattern");
    if (!ev_check_name(call, name, "archiveName", false))
        return NB_ERROR;
    ev_bus b;
    if (strncmp(src, "arn:", 4)) {
        return nb_fail(call, "ValidationException",
                       "Parameter EventSourceArn is not valid. Reason: Provided Arn is not in correct format.");
    }
    if (!ev_bus_resolve(call, src, &b) || !check_pattern(call, pattern))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO events_archives(account, region, name, source_arn, description,"
                                   " pattern, state, retention, size_bytes, event_count, created_ms)"
                                   " VALUES (?, ?, ?, ?, ?, ?, 'ENABLED', ?, 0, 0, ?)");
    char arn[400];
    ev_bus_arn(&b, arn, sizeof arn);
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, arn, -1, SQLITE_STATIC);
    const char *desc = nb_str(in, "Description");
    if (desc)
        sqlite3_bind_text(st, 5, desc, -1, SQLITE_STATIC);
    if (pattern)
        sqlite3_bind_text(st, 6, pattern, -1, SQLITE_STATIC);
    int64_t days = 0;
    nb_int(in, "RetentionDays", &days);
    sqlite3_bind_int64(st, 7, days);
    sqlite3_bind_int64(st, 8, call->now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return nb_fail(call, "ResourceAlreadyExistsException", "Archive %s already exists.", name);
    if (rc != SQLITE_DONE)
        return nb_fail_status(call, 500, false, "InternalException", "%s", sqlite3_errmsg(nb_db()));
    state_out(call, name, "ENABLED", call->now_ms);
    return NB_OK;
}

nb_status ev_describe_archive(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "ArchiveName");
    sqlite3_stmt *st = archive_row(call, name);
    if (!st)
        return NB_ERROR;
    int64_t id = sqlite3_column_int64(st, 0);
    int days = sqlite3_column_int(st, 6);
    sqlite3_reset(st);
    expire(id, days, call->now_ms);
    st = archive_row(call, name);
    if (!st)
        return NB_ERROR;
    call->out = archive_json(call, st, true);
    sqlite3_reset(st);
    return NB_OK;
}

static json_object *archive_list_row(sqlite3_stmt *st, void *arg)
{
    return archive_json(arg, st, false);
}

/* ListArchives and ListReplays: NamePrefix, EventSourceArn, State. */
static nb_status list_named(nb_call *call, json_object *in, sqlite3_stmt **slot, const char *sql,
                            const char *key, ev_row_fn row)
{
    const char *prefix = nb_str(in, "NamePrefix"), *src = nb_str(in, "EventSourceArn"),
               *state = nb_str(in, "State");
    int64_t limit, off;
    if (!ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, prefix ? prefix : "", -1, SQLITE_STATIC);
    if (src)
        sqlite3_bind_text(st, 4, src, -1, SQLITE_STATIC);
    if (state)
        sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, limit + 1);
    sqlite3_bind_int64(st, 7, off);
    return ev_page_out(call, st, limit, off, key, row, call);
}

#define LIST_WHERE " WHERE account = ? AND region = ? AND substr(name, 1, length(?3)) = ?3" \
                   " AND (?4 IS NULL OR source_arn = ?4) AND (?5 IS NULL OR state = ?5)" \
                   " ORDER BY name LIMIT ? OFFSET ?"

nb_status ev_list_archives(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    return list_named(call, in, &s, "SELECT " ARCHIVE_COLS " FROM events_archives" LIST_WHERE, "Archives",
                      archive_list_row);
}

nb_status ev_update_archive(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "ArchiveName"), *pattern = nb_str(in, "EventPattern"),
               *desc = nb_str(in, "Description");
    sqlite3_stmt *st = archive_row(call, name);
    if (!st) {
        /* What AWS answers for an archive that does not exist. */
        if (strcmp(call->err.code, "ResourceNotFoundException"))
            return NB_ERROR;
        return nb_fail_status(call, 500, false, "InternalException",
                              "Service encountered unexpected problem. Please try again.");
    }
    int64_t id = sqlite3_column_int64(st, 0), created = sqlite3_column_int64(st, 9);
    sqlite3_reset(st);
    if (!check_pattern(call, pattern))
        return NB_ERROR;
    int64_t days = -1;
    nb_int(in, "RetentionDays", &days);
    static sqlite3_stmt *s;
    st = nb_stmt(&s, "UPDATE events_archives SET description = COALESCE(?, description),"
                     " pattern = COALESCE(?, pattern), retention = CASE WHEN ? < 0 THEN retention ELSE ?3 END"
                     " WHERE id = ?");
    if (desc)
        sqlite3_bind_text(st, 1, desc, -1, SQLITE_STATIC);
    if (pattern)
        sqlite3_bind_text(st, 2, pattern, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, days);
    sqlite3_bind_int64(st, 4, id);
    sqlite3_step(st);
    sqlite3_reset(st);
    state_out(call, name, "ENABLED", created);
    return NB_OK;
}

nb_status ev_delete_archive(nb_call *call, json_object *in)
{
    sqlite3_stmt *st = archive_row(call, nb_str(in, "ArchiveName"));
    if (!st)
        return NB_ERROR;
    int64_t id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    static sqlite3_stmt *s1, *s2;
    st = nb_stmt(&s1, "DELETE FROM events_archived WHERE archive_id = ?");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = nb_stmt(&s2, "DELETE FROM events_archives WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    sqlite3_reset(st);
    call->out = json_object_new_object();
    return NB_OK;
}

/* ---- replays -------------------------------------------------------------------- */

/* Replays the archive's events in [from, to) onto bus b; returns the
 * time of the last event replayed (0 when none). */
static int64_t replay(nb_call *call, int64_t archive_id, const ev_bus *b, const char *name, int64_t from,
                      int64_t to, json_object *filter)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT time_ms, event FROM events_archived WHERE archive_id = ?"
                                   " AND time_ms >= ? AND time_ms < ? ORDER BY time_ms, seq");
    sqlite3_bind_int64(st, 1, archive_id);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    /* Collected first: routing writes to other tables while we read. */
    json_object *evs = json_object_new_array();
    int64_t last = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *e = json_tokener_parse(ev_col(st, 1));
        if (!e)
            continue;
        json_object_object_add(e, "replay-name", json_object_new_string(name));
        json_object_array_add(evs, e);
        last = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < json_object_array_length(evs); i++)
        ev_route(call, b, json_object_array_get_idx(evs, i), call->now_ms, filter);
    json_object_put(evs);
    return last;
}

nb_status ev_start_replay(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "ReplayName"), *src = nb_str(in, "EventSourceArn");
    json_object *dest = nb_get(in, "Destination");
    const char *dest_arn = nb_str(dest, "Arn");
    json_object *filter = nb_get(dest, "FilterArns");
    if (!ev_check_name(call, name, "replayName", false))
        return NB_ERROR;
    int64_t from = (int64_t)(json_object_get_double(nb_get(in, "EventStartTime")) * 1000);
    int64_t to = (int64_t)(json_object_get_double(nb_get(in, "EventEndTime")) * 1000);
    static sqlite3_stmt *sx;
    sqlite3_stmt *st = nb_stmt(&sx, "SELECT 1 FROM events_replays WHERE account = ? AND region = ? AND name = ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    bool exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (exists)
        return nb_fail(call, "ResourceAlreadyExistsException", "Replay %s already exists.", name);
    if (from >= to)
        return nb_fail(call, "ValidationException",
                       "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.");
    ev_arn a = {0};
    const char *archive = ev_arn_split(src, &a) && !strncmp(a.resource, "archive/", 8) ? a.resource + 8 : src;
    static sqlite3_stmt *sa;
    st = nb_stmt(&sa, "SELECT id, source_arn, retention FROM events_archives"
                      " WHERE account = ? AND region = ? AND name = ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, archive, -1, SQLITE_STATIC);
    int64_t aid = 0;
    int days = 0;
    char source[400] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        aid = sqlite3_column_int64(st, 0);
        snprintf(source, sizeof source, "%s", ev_col(st, 1));
        days = sqlite3_column_int(st, 2);
    }
    sqlite3_reset(st);
    if (!aid || strcmp(a.service, "events"))
        return nb_fail(call, "ValidationException",
                       "Parameter EventSourceArn is not valid. Reason: Archive %s does not exist.", archive);
    ev_bus b;
    if (!ev_bus_resolve(call, dest_arn, &b))
        return NB_ERROR;
    if (strcmp(dest_arn, source))
        return nb_fail(call, "ValidationException",
                       "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.");
    for (size_t i = 0; filter && i < json_object_array_length(filter); i++) {
        ev_arn r;
        const char *f = json_object_get_string(json_object_array_get_idx(filter, i));
        if (!ev_arn_split(f, &r) || strcmp(r.service, "events") || strncmp(r.resource, "rule/", 5))
            return nb_fail(call, "ValidationException",
                           "Parameter Destination.FilterArns is not valid. Reason: %s is not a rule ARN.", f);
    }
    char rarn[300];
    replay_arn(call, name, rarn, sizeof rarn);
    nb_buf dtext = {0};
    nb_json_write(&dtext, dest);
    static sqlite3_stmt *si;
    st = nb_stmt(&si, "INSERT INTO events_replays(account, region, name, description, source_arn, destination,"
                      " start_ms, end_ms, state, replay_start_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'STARTING', ?)");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    const char *desc = nb_str(in, "Description");
    if (desc)
        sqlite3_bind_text(st, 4, desc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, src, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, dtext.data, (int)dtext.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, from);
    sqlite3_bind_int64(st, 8, to);
    sqlite3_bind_int64(st, 9, call->now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    nb_buf_free(&dtext);
    if (rc == SQLITE_CONSTRAINT)
        return nb_fail(call, "ResourceAlreadyExistsException", "Replay %s already exists.", name);
    if (rc != SQLITE_DONE)
        return nb_fail_status(call, 500, false, "InternalException", "%s", sqlite3_errmsg(nb_db()));
    int64_t rid = sqlite3_last_insert_rowid(nb_db());
    expire(aid, days, call->now_ms);
    int64_t last = replay(call, aid, &b, name, from, to, filter);
    static sqlite3_stmt *su;
    st = nb_stmt(&su, "UPDATE events_replays SET state = 'COMPLETED', last_ms = ?, replay_end_ms = ? WHERE id = ?");
    if (last)
        sqlite3_bind_int64(st, 1, last);
    sqlite3_bind_int64(st, 2, nb_now_ms());
    sqlite3_bind_int64(st, 3, rid);
    sqlite3_step(st);
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "ReplayArn", json_object_new_string(rarn));
    json_object_object_add(call->out, "State", json_object_new_string("STARTING"));
    json_object_object_add(call->out, "ReplayStartTime", json_object_new_double(call->now_ms / 1000.0));
    return NB_OK;
}

#define REPLAY_COLS "name, description, state, source_arn, destination, start_ms, end_ms, last_ms," \
                    " replay_start_ms, replay_end_ms"

static void add_time(json_object *o, const char *key, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        json_object_object_add(o, key, json_object_new_double(sqlite3_column_int64(st, col) / 1000.0));
}

static json_object *replay_json(const nb_call *call, sqlite3_stmt *st, bool describe)
{
    json_object *o = json_object_new_object();
    const char *name = ev_col(st, 0);
    json_object_object_add(o, "ReplayName", json_object_new_string(name));
    if (describe) {
        char arn[300];
        replay_arn(call, name, arn, sizeof arn);
        json_object_object_add(o, "ReplayArn", json_object_new_string(arn));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            json_object_object_add(o, "Description", json_object_new_string(ev_col(st, 1)));
        json_object *d = json_tokener_parse(ev_col(st, 4));
        if (d)
            json_object_object_add(o, "Destination", d);
    }
    json_object_object_add(o, "State", json_object_new_string(ev_col(st, 2)));
    json_object_object_add(o, "EventSourceArn", json_object_new_string(ev_col(st, 3)));
    add_time(o, "EventStartTime", st, 5);
    add_time(o, "EventEndTime", st, 6);
    add_time(o, "EventLastReplayedTime", st, 7);
    add_time(o, "ReplayStartTime", st, 8);
    add_time(o, "ReplayEndTime", st, 9);
    return o;
}

static sqlite3_stmt *replay_row(nb_call *call, const char *name)
{
    static sqlite3_stmt *s;
    return named_row(call, &s, "SELECT " REPLAY_COLS " FROM events_replays WHERE account = ? AND region = ?"
                     " AND name = ?", name, "replayName", "Replay");
}

nb_status ev_describe_replay(nb_call *call, json_object *in)
{
    sqlite3_stmt *st = replay_row(call, nb_str(in, "ReplayName"));
    if (!st)
        return NB_ERROR;
    call->out = replay_json(call, st, true);
    sqlite3_reset(st);
    return NB_OK;
}

static json_object *replay_list_row(sqlite3_stmt *st, void *arg)
{
    return replay_json(arg, st, false);
}

nb_status ev_list_replays(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    return list_named(call, in, &s, "SELECT " REPLAY_COLS " FROM events_replays" LIST_WHERE, "Replays",
                      replay_list_row);
}

nb_status ev_cancel_replay(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "ReplayName");
    sqlite3_stmt *st = replay_row(call, name);
    if (!st)
        return NB_ERROR;
    sqlite3_reset(st);
    /* A replay runs within StartReplay: it has always finished by now. */
    return nb_fail(call, "IllegalStatusException", "Replay %s is not in a valid state for this operation.", name);
}
