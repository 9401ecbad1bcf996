/*
 * logs_events.c — log streams and log events: Create/Delete/Describe-
 * LogStreams, PutLogEvents (AWS's batch rules and per-event rejections),
 * GetLogEvents (f/ and b/ tokens over the (sid, ts, seq) index) and
 * FilterLogEvents (a scan of the group's (gid, ts, seq) index through a
 * compiled filter pattern).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_internal.h"

#define FILTER_MAX_SCAN 200000 /* events examined per FilterLogEvents call */

static void stream_arn(const nb_call *call, const char *group, const char *stream, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", call->region, call->account, group, stream);
}

/* The stream named by logStreamName in the input's group; 0 after
 * failing the call. */
static int64_t stream_from_input(nb_call *call, json_object *in, logs_group *g)
{
    if (!logs_group_from_input(call, in, true, g))
        return 0;
    logs_group_clear(g);
    int64_t sid = logs_stream_id(g->id, nb_str(in, "logStreamName"));
    if (!sid)
        logs_fail_no_stream(call);
    return sid;
}

/* ---- streams ------------------------------------------------------------------- */

nb_status logs_create_log_stream(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    logs_group g;
    if (!logs_group_from_input(call, in, true, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    const char *name = nb_str(in, "logStreamName");
    if (logs_stream_id(g.id, name))
        return nb_fail(call, "ResourceAlreadyExistsException", "The specified log stream already exists");
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO logs_streams(gid, name, created_ms) VALUES(?, ?, ?)");
    sqlite3_bind_int64(st, 1, g.id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, call->now_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        return nb_fail_status(call, 500, false, "ServiceUnavailableException", "%s", sqlite3_errmsg(nb_db()));
    return NB_OK;
}

nb_status logs_delete_log_stream(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s1, *s2;
    logs_group g;
    int64_t sid = stream_from_input(call, in, &g);
    if (!sid)
        return NB_ERROR;
    if (g.protect)
        return nb_fail(call, "ValidationException",
                       "Log group %s has deletion protection enabled and cannot be deleted.", g.name);
    sqlite3_stmt *st = nb_stmt(&s1, "DELETE FROM logs_events WHERE sid = ?");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_step(st);
    st = nb_stmt(&s2, "DELETE FROM logs_streams WHERE id = ?");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_step(st);
    logs_cache_drop_stream(sid);
    return NB_OK;
}

static json_object *render_stream(const nb_call *call, const char *group, sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    const char *name = logs_col_text(st, 0);
    char arn[1200];
    stream_arn(call, group, name, arn, sizeof arn);
    json_object_object_add(o, "logStreamName", json_object_new_string(name));
    json_object_object_add(o, "creationTime", json_object_new_int64(sqlite3_column_int64(st, 1)));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
        json_object_object_add(o, "firstEventTimestamp", json_object_new_int64(sqlite3_column_int64(st, 2)));
        json_object_object_add(o, "lastEventTimestamp", json_object_new_int64(sqlite3_column_int64(st, 3)));
        json_object_object_add(o, "lastIngestionTime", json_object_new_int64(sqlite3_column_int64(st, 4)));
        char tok[64];
        logs_seq_token(sqlite3_column_int64(st, 5), tok);
        json_object_object_add(o, "uploadSequenceToken", json_object_new_string(tok));
    }
    json_object_object_add(o, "arn", json_object_new_string(arn));
    json_object_object_add(o, "storedBytes", json_object_new_int64(0));
    return o;
}

nb_status logs_describe_log_streams(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s_name, *s_name_d, *s_time, *s_time_d;
    const char *prefix = nb_str(in, "logStreamNamePrefix"), *order = nb_str(in, "orderBy");
    const char *token = nb_str(in, "nextToken");
    bool by_time = order && !strcmp(order, "LastEventTime"), desc = false;
    nb_bool(in, "descending", &desc);
    if (by_time && prefix)
        return logs_fail_invalid(call, "Cannot order by LastEventTime with a logStreamNamePrefix.");
    int64_t limit = 50, off = 0;
    nb_int(in, "limit", &limit);
    if (token && !logs_parse_offset_token(token, &off))
        return logs_fail_bad_token(call);
    logs_group g;
    if (!logs_group_from_input(call, in, true, &g))
        return NB_ERROR;
    logs_group_clear(&g);
#define COLS "SELECT name, created_ms, first_ts, last_ts, last_ingest, last_seq FROM logs_streams WHERE gid = ?1"
#define PFX " AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)"
    sqlite3_stmt *st;
    if (by_time)
        st = desc ? nb_stmt(&s_time_d, COLS " ORDER BY COALESCE(last_ts, 0) DESC, name DESC LIMIT ?3 OFFSET ?4")
                  : nb_stmt(&s_time, COLS " ORDER BY COALESCE(last_ts, 0), name LIMIT ?3 OFFSET ?4");
    else
        st = desc ? nb_stmt(&s_name_d, COLS PFX " ORDER BY name DESC LIMIT ?3 OFFSET ?4")
                  : nb_stmt(&s_name, COLS PFX " ORDER BY name LIMIT ?3 OFFSET ?4");
#undef COLS
#undef PFX
    sqlite3_bind_int64(st, 1, g.id);
    if (prefix && !by_time)
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit + 1);
    sqlite3_bind_int64(st, 4, off);
    json_object *list = json_object_new_array();
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int64_t)json_object_array_length(list) >= limit) {
            more = true;
            break;
        }
        json_object_array_add(list, render_stream(call, g.name, st));
    }
    sqlite3_reset(st);
    return logs_page_out(call, "logStreams", list, more, off + limit);
}

/* ---- PutLogEvents ---------------------------------------------------------------- */

nb_status logs_put_log_events(nb_call *call, json_object *in)
{
    logs_group g;
    int64_t sid = stream_from_input(call, in, &g);
    if (!sid)
        return NB_ERROR;
    json_object *events = nb_get(in, "logEvents");
    size_t n = json_object_array_length(events);
    nb_log_event *ev = nb_malloc(sizeof *ev * (n ? n : 1));
    int64_t batch = 0, prev = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(events, i);
        json_object *m = nb_get(e, "message");
        int64_t ts = 0;
        nb_int(e, "timestamp", &ts);
        ev[i].ts_ms = ts;
        ev[i].msg = json_object_get_string(m);
        ev[i].len = (size_t)json_object_get_string_len(m);
        if (ts < prev) {
            free(ev);
            return logs_fail_invalid(call, "Log events in a single PutLogEvents request must be in chronological order.");
        }
        prev = ts;
        if ((int64_t)ev[i].len + LOGS_EVENT_OVERHEAD > LOGS_MAX_EVENT_BYTES) {
            size_t len = ev[i].len;
            free(ev);
            return logs_fail_invalid(call, "Log event too large: %zu bytes exceeds limit of %d", len + LOGS_EVENT_OVERHEAD,
                                     LOGS_MAX_EVENT_BYTES);
        }
        batch += (int64_t)ev[i].len + LOGS_EVENT_OVERHEAD;
    }
    if (batch > LOGS_MAX_BATCH_BYTES) {
        free(ev);
        return logs_fail_invalid(call, "Upload too large: %" PRId64 " bytes exceeds limit of %d", batch,
                                 LOGS_MAX_BATCH_BYTES);
    }
    /* Chronological order makes the rejected events a prefix (too old,
     * expired) and a suffix (too new). */
    int64_t now = call->now_ms;
    int64_t too_old = now - LOGS_MAX_AGE_MS, expired = g.retention ? now - g.retention * LOGS_DAY_MS : INT64_MIN;
    size_t old_end = 0, exp_end = 0, new_start = n;
    while (old_end < n && ev[old_end].ts_ms < too_old)
        old_end++;
    while (exp_end < n && ev[exp_end].ts_ms < expired)
        exp_end++;
    while (new_start > 0 && ev[new_start - 1].ts_ms > now + LOGS_MAX_FUTURE_MS)
        new_start--;
    size_t lo = old_end > exp_end ? old_end : exp_end, hi = new_start < lo ? lo : new_start;
    if (hi > lo && ev[hi - 1].ts_ms - ev[lo].ts_ms > LOGS_MAX_SPAN_MS) {
        free(ev);
        return logs_fail_invalid(call, "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
    }
    int64_t last_seq = 0;
    int rc = logs_append(g.id, sid, ev + lo, hi - lo, now, &last_seq);
    free(ev);
    if (rc != 0)
        return nb_fail_status(call, 500, false, "ServiceUnavailableException", "The service cannot complete the request.");
    call->out = json_object_new_object();
    char tok[64];
    if (!last_seq) {
        static sqlite3_stmt *s;
        sqlite3_stmt *st = nb_stmt(&s, "SELECT last_seq FROM logs_streams WHERE id = ?");
        sqlite3_bind_int64(st, 1, sid);
        if (sqlite3_step(st) == SQLITE_ROW)
            last_seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    logs_seq_token(last_seq, tok);
    json_object_object_add(call->out, "nextSequenceToken", json_object_new_string(tok));
    if (old_end || exp_end || new_start < n) {
        json_object *r = json_object_new_object();
        if (new_start < n)
            json_object_object_add(r, "tooNewLogEventStartIndex", json_object_new_int((int)new_start));
        if (old_end)
            json_object_object_add(r, "tooOldLogEventEndIndex", json_object_new_int((int)old_end));
        if (exp_end)
            json_object_object_add(r, "expiredLogEventEndIndex", json_object_new_int((int)exp_end));
        json_object_object_add(call->out, "rejectedLogEventsInfo", r);
    }
    return NB_OK;
}

/* ---- GetLogEvents ----------------------------------------------------------------- */

static json_object *out_event(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "timestamp", json_object_new_int64(sqlite3_column_int64(st, 1)));
    json_object_object_add(o, "message", json_object_new_string_len((const char *)sqlite3_column_blob(st, 3) ? (const char *)sqlite3_column_blob(st, 3) : "",
                                                                    sqlite3_column_bytes(st, 3)));
    json_object_object_add(o, "ingestionTime", json_object_new_int64(sqlite3_column_int64(st, 2)));
    return o;
}

nb_status logs_get_log_events(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s_fwd, *s_back;
    logs_group g;
    int64_t sid = stream_from_input(call, in, &g);
    if (!sid)
        return NB_ERROR;
    int64_t start = 0, end = INT64_MAX, limit = LOGS_DEFAULT_EVENTS;
    nb_int(in, "startTime", &start);
    nb_int(in, "endTime", &end);
    nb_int(in, "limit", &limit);
    bool head = false;
    nb_bool(in, "startFromHead", &head);
    const char *token = nb_str(in, "nextToken");
    char dir = head ? 'f' : 'b';
    int64_t kts = head ? start : INT64_MAX, kseq = head ? 0 : INT64_MAX;
    if (token && !logs_parse_key_token(token, &dir, &kts, &kseq))
        return logs_fail_bad_token(call);
    bool fwd = dir == 'f';
    sqlite3_stmt *st =
        fwd ? nb_stmt(&s_fwd, "SELECT seq, ts, ingest, msg FROM logs_events WHERE sid = ?1 AND ts >= ?2 AND ts < ?3"
                              " AND (ts, seq) > (?4, ?5) ORDER BY ts, seq LIMIT ?6")
            : nb_stmt(&s_back, "SELECT seq, ts, ingest, msg FROM logs_events WHERE sid = ?1 AND ts >= ?2 AND ts < ?3"
                               " AND (ts, seq) < (?4, ?5) ORDER BY ts DESC, seq DESC LIMIT ?6");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, end);
    sqlite3_bind_int64(st, 4, kts);
    sqlite3_bind_int64(st, 5, kseq);
    sqlite3_bind_int64(st, 6, limit);
    json_object *list = json_object_new_array();
    int64_t bytes = 0, fts = 0, fseq = 0, lts = 0, lseq = 0;
    size_t count = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t size = sqlite3_column_bytes(st, 3) + LOGS_EVENT_OVERHEAD;
        if (count > 0 && bytes + size > LOGS_MAX_RESPONSE_BYTES)
            break;
        bytes += size;
        int64_t ts = sqlite3_column_int64(st, 1), seq = sqlite3_column_int64(st, 0);
        if (count == 0)
            fts = lts = ts, fseq = lseq = seq;
        if (fwd)
            lts = ts, lseq = seq;
        else
            fts = ts, fseq = seq;
        json_object_array_add(list, out_event(st));
        count++;
    }
    sqlite3_reset(st);
    if (!fwd) { /* newest first from SQLite: put them back in order */
        for (size_t i = 0; i < count / 2; i++) {
            json_object *a = json_object_get(json_object_array_get_idx(list, i));
            json_object *b = json_object_get(json_object_array_get_idx(list, count - 1 - i));
            json_object_array_put_idx(list, i, b);
            json_object_array_put_idx(list, count - 1 - i, a);
        }
    }
    char ftok[72], btok[72];
    if (count) {
        logs_key_token('f', lts, lseq, ftok);
        logs_key_token('b', fts, fseq, btok);
    } else if (token) {
        /* The end of the stream in that direction: the same token. */
        snprintf(fwd ? ftok : btok, 72, "%s", token);
        logs_key_token(fwd ? 'b' : 'f', kts, kseq, fwd ? btok : ftok);
    } else {
        logs_key_token('f', start, 0, ftok);
        logs_key_token('b', start, 0, btok);
    }
    call->out = json_object_new_object();
    json_object_object_add(call->out, "events", list);
    json_object_object_add(call->out, "nextForwardToken", json_object_new_string(ftok));
    json_object_object_add(call->out, "nextBackwardToken", json_object_new_string(btok));
    return NB_OK;
}

/* ---- FilterLogEvents ---------------------------------------------------------------- */

typedef struct {
    int64_t sid;
    char *name;
    bool allowed;
} sname;

static int cmp_sid(const void *a, const void *b)
{
    int64_t x = ((const sname *)a)->sid, y = ((const sname *)b)->sid;
    return (x > y) - (x < y);
}

/* Streams of the group with their names, sorted by id; allowed marks the
 * ones the request selects. */
static sname *load_streams(int64_t gid, json_object *names, const char *prefix, size_t *n)
{
    static sqlite3_stmt *s;
    size_t cap = 16, k = 0;
    sname *v = nb_malloc(sizeof *v * cap);
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id, name FROM logs_streams WHERE gid = ? ORDER BY id");
    sqlite3_bind_int64(st, 1, gid);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (k == cap)
            v = nb_realloc(v, sizeof *v * (cap *= 2));
        const char *name = logs_col_text(st, 1);
        bool ok = true;
        if (names) {
            ok = false;
            for (size_t i = 0; i < json_object_array_length(names) && !ok; i++)
                ok = !strcmp(json_object_get_string(json_object_array_get_idx(names, i)), name);
        } else if (prefix) {
            ok = !strncmp(name, prefix, strlen(prefix));
        }
        v[k].sid = sqlite3_column_int64(st, 0);
        v[k].name = nb_strdup(name);
        v[k].allowed = ok;
        k++;
    }
    sqlite3_reset(st);
    qsort(v, k, sizeof *v, cmp_sid);
    *n = k;
    return v;
}

static void free_streams(sname *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

static void event_id(int64_t ts, int64_t seq, char out[64])
{
    snprintf(out, 64, "%026" PRId64 "%030" PRId64, ts, seq);
}

nb_status logs_filter_log_events(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    json_object *names = nb_get(in, "logStreamNames");
    const char *prefix = nb_str(in, "logStreamNamePrefix"), *token = nb_str(in, "nextToken");
    if (names && prefix)
        return logs_fail_invalid(call, "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
    int64_t start = 0, end = INT64_MAX, limit = LOGS_DEFAULT_EVENTS, kts = -1, kseq = 0;
    nb_int(in, "startTime", &start);
    nb_int(in, "endTime", &end);
    nb_int(in, "limit", &limit);
    if (token) {
        char dir;
        char buf[72];
        snprintf(buf, sizeof buf, "f/%s/s", token);
        if (strlen(token) != 56 || !logs_parse_key_token(buf, &dir, &kts, &kseq))
            return logs_fail_bad_token(call);
    }
    if (start > end)
        return logs_fail_invalid(call, "endTime must be greater than or equal to startTime.");
    logs_group g;
    if (!logs_group_from_input(call, in, true, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    logs_pattern *pat = logs_compile_or_fail(call, nb_str(in, "filterPattern"), true);
    if (!pat)
        return NB_ERROR;
    size_t ns;
    sname *streams = load_streams(g.id, names, prefix, &ns);
    sqlite3_stmt *st = nb_stmt(&s, "SELECT seq, ts, ingest, msg, sid FROM logs_events WHERE gid = ?1"
                                   " AND ts >= ?2 AND ts <= ?3 AND (ts, seq) > (?4, ?5) ORDER BY ts, seq");
    sqlite3_bind_int64(st, 1, g.id);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, end);
    sqlite3_bind_int64(st, 4, kts);
    sqlite3_bind_int64(st, 5, kseq);
    json_object *list = json_object_new_array();
    int64_t bytes = 0, scanned = 0, pts = 0, pseq = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 1);
        if ((int64_t)json_object_array_length(list) >= limit || scanned >= FILTER_MAX_SCAN) {
            more = true;
            break;
        }
        scanned++;
        sname key = {.sid = sqlite3_column_int64(st, 4)};
        sname *sn = bsearch(&key, streams, ns, sizeof *streams, cmp_sid);
        const char *msg = (const char *)sqlite3_column_blob(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (sn && sn->allowed && logs_pattern_match(pat, msg ? msg : "", len)) {
            int64_t size = (int64_t)len + LOGS_EVENT_OVERHEAD;
            if (json_object_array_length(list) > 0 && bytes + size > LOGS_MAX_RESPONSE_BYTES) {
                more = true;
                break;
            }
            bytes += size;
            json_object *o = json_object_new_object();
            char id[64];
            event_id(ts, seq, id);
            json_object_object_add(o, "logStreamName", json_object_new_string(sn->name));
            json_object_object_add(o, "timestamp", json_object_new_int64(ts));
            json_object_object_add(o, "message", json_object_new_string_len(msg ? msg : "", (int)len));
            json_object_object_add(o, "ingestionTime", json_object_new_int64(sqlite3_column_int64(st, 2)));
            json_object_object_add(o, "eventId", json_object_new_string(id));
            json_object_array_add(list, o);
        }
        pts = ts;
        pseq = seq;
    }
    sqlite3_reset(st);
    logs_pattern_free(pat);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "events", list);
    json_object *searched = json_object_new_array();
    for (size_t i = 0; i < ns; i++) {
        if (!streams[i].allowed)
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "logStreamName", json_object_new_string(streams[i].name));
        json_object_object_add(o, "searchedCompletely", json_object_new_boolean(!more));
        json_object_array_add(searched, o);
    }
    free_streams(streams, ns);
    json_object_object_add(call->out, "searchedLogStreams", searched);
    if (more) {
        char id[64];
        event_id(pts, pseq, id);
        json_object_object_add(call->out, "nextToken", json_object_new_string(id));
    }
    return NB_OK;
}
