/*
 * ddb_stream.c — DynamoDB Streams (the dynamodbstreams service), the
 * change records the write path emits, and the background sweep that
 * deletes items whose TTL passed and trims records older than 24 hours.
 *
 * Storage:
 *   ddb_streams      one row per stream ever enabled: identity, view type,
 *                    key schema, creation time, disabled time (NULL while
 *                    enabled).  A stream outlives its table by 24 hours.
 *   ddb_stream_recs  one row per change: a global sequence (the row id, so
 *                    commit order is record order), the stream id, the
 *                    creation time and the record's parts in the item
 *                    encoding.
 * Each stream has one shard (nimbus is one partition); its id encodes the
 * stream's creation time.  Sequence numbers are "1" followed by the row id
 * zero-padded to 20 digits: numeric and lexical order agree.
 *
 * Shard iterators are "<stream arn>|1|<base64 of sid:next-seq:issued-ms>"
 * and expire after 15 minutes, as on AWS.
 *
 * Consumers inside nimbus (Lambda event source mappings) read through
 * ddb_stream_read() with a stream id and position, the same path as
 * GetRecords, so they see exactly what SDK clients see.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddb_internal.h"
#include "ddb_expr.h"
#include "ddb_item.h"
#include "gen/models.h"

#define RETENTION_MS (24LL * 3600 * 1000)
#define ITERATOR_TTL_MS (15LL * 60 * 1000)
#define SWEEP_MS 1000
#define TTL_BATCH 200

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS ddb_streams("
    " sid INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,"
    " table_name TEXT NOT NULL, arn TEXT NOT NULL, label TEXT NOT NULL, view TEXT NOT NULL,"
    " key_schema TEXT NOT NULL, created_ms INTEGER NOT NULL, disabled_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS ddb_streams_arn ON ddb_streams(arn);"
    "CREATE TABLE IF NOT EXISTS ddb_stream_recs("
    " seq INTEGER PRIMARY KEY, sid INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " event INTEGER NOT NULL, keys BLOB NOT NULL, new BLOB, old BLOB, size INTEGER NOT NULL,"
    " by_ttl INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ddb_stream_recs_sid ON ddb_stream_recs(sid, seq);";

static uv_timer_t g_sweep;
static bool g_sweep_on;

enum { EV_INSERT, EV_MODIFY, EV_REMOVE };
static const char *const EVENT_NAMES[] = {"INSERT", "MODIFY", "REMOVE"};

/* ---- helpers --------------------------------------------------------------------- */

static void seqnum(int64_t seq, char out[24])
{
    snprintf(out, 24, "1%020" PRId64, seq);
}

static bool parse_seqnum(const char *s, int64_t *out)
{
    if (!s || strlen(s) != 21 || s[0] != '1')
        return false;
    int64_t v = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

static void shard_id(int64_t created_ms, int64_t sid, char out[64])
{
    snprintf(out, 64, "shardId-%020" PRId64 "-%08" PRIx64, created_ms, (uint64_t)sid * 2654435761u & 0xffffffffu);
}

static void add(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static json_object *decode(sqlite3_stmt *s, int col)
{
    json_object *v = NULL;
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return NULL;
    if (ddb_item_decode(sqlite3_column_blob(s, col), (size_t)sqlite3_column_bytes(s, col), &v) != 0)
        return NULL;
    return v;
}

static void bind_item(sqlite3_stmt *s, int col, json_object *item, nb_buf *b)
{
    if (!item || ddb_item_encode(item, b) != 0) {
        sqlite3_bind_null(s, col);
        return;
    }
    sqlite3_bind_blob(s, col, b->data ? b->data : "", (int)b->len, SQLITE_STATIC);
}

/* ---- the stream of a table ---------------------------------------------------------- */

void ddb_stream_sync(const nb_call *call, const ddb_table *t)
{
    static sqlite3_stmt *ins, *off;
    int64_t now = call ? call->now_ms : nb_now_ms();
    /* Every other stream of this table is disabled. */
    sqlite3_stmt *s = nb_stmt(&off, "UPDATE ddb_streams SET disabled_ms = ?3 WHERE account = ?1"
                                    " AND region = ?4 AND table_name = ?2 AND disabled_ms IS NULL AND sid <> ?5");
    sqlite3_bind_text(s, 1, t->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_text(s, 4, t->region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, t->stream_on ? t->stream_id : -1);
    sqlite3_step(s);
    if (!t->stream_on)
        return;
    s = nb_stmt(&ins, "INSERT OR IGNORE INTO ddb_streams(sid, account, region, table_name, arn, label,"
                      " view, key_schema, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    sqlite3_bind_int64(s, 1, t->stream_id);
    sqlite3_bind_text(s, 2, t->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, t->stream_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, t->stream_label, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, t->stream_view, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, json_object_to_json_string_ext(nb_get(t->spec, "KeySchema"), JSON_C_TO_STRING_PLAIN),
                      -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 9, now);
    sqlite3_step(s);
}

/* Whether two items hold the same data (numbers numerically, sets in any
 * order), compared as M values. */
static bool same_item(json_object *a, json_object *b)
{
    json_object *ma = json_object_new_object(), *mb = json_object_new_object();
    json_object_object_add(ma, "M", json_object_get(a));
    json_object_object_add(mb, "M", json_object_get(b));
    bool eq = ddb_xav_equal(ma, mb);
    json_object_put(ma);
    json_object_put(mb);
    return eq;
}

void ddb_stream_emit(nb_call *call, const ddb_table *t, json_object *old, json_object *nw, bool by_ttl)
{
    static sqlite3_stmt *ins;
    /* "If you perform a PutItem or UpdateItem operation that does not change
     * any data in an item, DynamoDB Streams does not write a stream record
     * for that operation" (Developer Guide, change data capture). */
    if (old && nw && same_item(old, nw))
        return;
    int ev = !old ? EV_INSERT : nw ? EV_MODIFY : EV_REMOVE;
    bool want_new = strcmp(t->stream_view, "NEW_IMAGE") == 0 || strcmp(t->stream_view, "NEW_AND_OLD_IMAGES") == 0;
    bool want_old = strcmp(t->stream_view, "OLD_IMAGE") == 0 || strcmp(t->stream_view, "NEW_AND_OLD_IMAGES") == 0;
    json_object *keys = ddb_key_attrs(t, nw ? nw : old);
    nb_buf kb = {0}, nbuf = {0}, ob = {0};
    sqlite3_stmt *s = nb_stmt(&ins, "INSERT INTO ddb_stream_recs(sid, created_ms, event, keys, new, old, size, by_ttl)"
                                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    sqlite3_bind_int64(s, 1, t->stream_id);
    sqlite3_bind_int64(s, 2, call ? call->now_ms : nb_now_ms());
    sqlite3_bind_int(s, 3, ev);
    bind_item(s, 4, keys, &kb);
    bind_item(s, 5, want_new ? nw : NULL, &nbuf);
    bind_item(s, 6, want_old ? old : NULL, &ob);
    size_t size = ddb_item_size(keys) + (want_new && nw ? ddb_item_size(nw) : 0) +
                  (want_old && old ? ddb_item_size(old) : 0);
    sqlite3_bind_int64(s, 7, (int64_t)size);
    sqlite3_bind_int(s, 8, by_ttl);
    if (sqlite3_step(s) != SQLITE_DONE)
        NB_WARN("dynamodb: stream record: %s", sqlite3_errmsg(nb_db()));
    sqlite3_reset(s);
    nb_buf_free(&kb);
    nb_buf_free(&nbuf);
    nb_buf_free(&ob);
    json_object_put(keys);
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct {
    int64_t sid;
    char arn[448];
    char region[32];
    char view[24];
    int64_t created_ms, disabled_ms; /* disabled_ms 0 = enabled */
} stream_row;

static bool find_stream(const nb_call *call, const char *arn, stream_row *out)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT sid, arn, region, view, created_ms, coalesce(disabled_ms, 0)"
                                  " FROM ddb_streams WHERE arn = ?1 AND account = ?2");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        out->sid = sqlite3_column_int64(s, 0);
        snprintf(out->arn, sizeof out->arn, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(out->region, sizeof out->region, "%s", (const char *)sqlite3_column_text(s, 2));
        snprintf(out->view, sizeof out->view, "%s", (const char *)sqlite3_column_text(s, 3));
        out->created_ms = sqlite3_column_int64(s, 4);
        out->disabled_ms = sqlite3_column_int64(s, 5);
    }
    sqlite3_reset(s);
    return found;
}

static json_object *record_json(sqlite3_stmt *s, const stream_row *st)
{
    json_object *r = json_object_new_object();
    int64_t seq = sqlite3_column_int64(s, 0);
    int ev = sqlite3_column_int(s, 2);
    char id[40], sq[24];
    snprintf(id, sizeof id, "%016" PRIx64 "%016" PRIx64, (uint64_t)seq * (uint64_t)0x9E3779B97F4A7C15ULL,
             (uint64_t)st->sid);
    seqnum(seq, sq);
    add(r, "eventID", json_object_new_string(id));
    add(r, "eventName", json_object_new_string(EVENT_NAMES[ev < 0 || ev > 2 ? 0 : ev]));
    add(r, "eventVersion", json_object_new_string("1.1"));
    add(r, "eventSource", json_object_new_string("aws:dynamodb"));
    add(r, "awsRegion", json_object_new_string(st->region));
    json_object *d = json_object_new_object();
    add(d, "ApproximateCreationDateTime",
        json_object_new_double((double)(sqlite3_column_int64(s, 1) / 1000)));
    json_object *v;
    if ((v = decode(s, 3)))
        add(d, "Keys", v);
    if ((v = decode(s, 4)))
        add(d, "NewImage", v);
    if ((v = decode(s, 5)))
        add(d, "OldImage", v);
    add(d, "SequenceNumber", json_object_new_string(sq));
    add(d, "SizeBytes", json_object_new_int64(sqlite3_column_int64(s, 6)));
    add(d, "StreamViewType", json_object_new_string(st->view));
    add(r, "dynamodb", d);
    if (sqlite3_column_int(s, 7)) {
        json_object *u = json_object_new_object();
        add(u, "PrincipalId", json_object_new_string("dynamodb.amazonaws.com"));
        add(u, "Type", json_object_new_string("Service"));
        add(r, "userIdentity", u);
    }
    return r;
}

int64_t ddb_stream_read(int64_t sid, int64_t from_seq, int limit, int64_t now_ms,
                        const void *stream, json_object *records)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT seq, created_ms, event, keys, new, old, size, by_ttl"
                                  " FROM ddb_stream_recs WHERE sid = ?1 AND seq >= ?2 AND created_ms > ?3"
                                  " ORDER BY seq LIMIT ?4");
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int64(s, 2, from_seq);
    sqlite3_bind_int64(s, 3, now_ms - RETENTION_MS);
    sqlite3_bind_int(s, 4, limit);
    int64_t next = from_seq;
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_object_array_add(records, record_json(s, stream));
        next = sqlite3_column_int64(s, 0) + 1;
    }
    sqlite3_reset(s);
    return next;
}

static int64_t last_seq(int64_t sid)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT coalesce(max(seq), 0) FROM ddb_stream_recs WHERE sid = ?1");
    sqlite3_bind_int64(s, 1, sid);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return v;
}

static int64_t first_seq(int64_t sid, int64_t now_ms)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT min(seq) FROM ddb_stream_recs WHERE sid = ?1 AND created_ms > ?2");
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int64(s, 2, now_ms - RETENTION_MS);
    int64_t v = 0;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
}

/* ---- the operations --------------------------------------------------------------------- */

static nb_status not_found_stream(nb_call *call, const char *arn)
{
    return nb_fail(call, "ResourceNotFoundException", "Requested resource not found: Stream: %s not found", arn);
}

static nb_status list_streams(nb_call *call, json_object *in)
{
    const char *table = nb_str(in, "TableName");
    const char *start = nb_str(in, "ExclusiveStartStreamArn");
    int64_t limit = 100;
    nb_int(in, "Limit", &limit);
    if (limit > 100)
        limit = 100;
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT arn, table_name, label FROM ddb_streams WHERE account = ?1 AND region = ?2"
                                  " AND (?3 IS NULL OR table_name = ?3)"
                                  " AND (disabled_ms IS NULL OR disabled_ms > ?4) ORDER BY sid");
    sqlite3_bind_text(s, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->region, -1, SQLITE_STATIC);
    if (table && strncmp(table, "arn:", 4) != 0)
        sqlite3_bind_text(s, 3, table, -1, SQLITE_STATIC);
    else if (table) {
        const char *slash = strrchr(table, '/');
        sqlite3_bind_text(s, 3, slash ? slash + 1 : table, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 4, call->now_ms - RETENTION_MS);
    json_object *list = json_object_new_array();
    bool skipping = start != NULL, more = false;
    char last[448] = "";
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *arn = (const char *)sqlite3_column_text(s, 0);
        if (skipping) {
            if (strcmp(arn, start) == 0)
                skipping = false;
            continue;
        }
        if ((int64_t)json_object_array_length(list) == limit) {
            more = true;
            break;
        }
        json_object *e = json_object_new_object();
        add(e, "StreamArn", json_object_new_string(arn));
        add(e, "TableName", json_object_new_string((const char *)sqlite3_column_text(s, 1)));
        add(e, "StreamLabel", json_object_new_string((const char *)sqlite3_column_text(s, 2)));
        json_object_array_add(list, e);
        snprintf(last, sizeof last, "%s", arn);
    }
    sqlite3_reset(s);
    call->out = json_object_new_object();
    add(call->out, "Streams", list);
    if (more)
        add(call->out, "LastEvaluatedStreamArn", json_object_new_string(last));
    return NB_OK;
}

static nb_status describe_stream(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "StreamArn");
    stream_row st;
    if (!find_stream(call, arn, &st))
        return not_found_stream(call, arn);
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT table_name, label, key_schema FROM ddb_streams WHERE sid = ?1");
    sqlite3_bind_int64(s, 1, st.sid);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return not_found_stream(call, arn);
    }
    json_object *d = json_object_new_object();
    add(d, "StreamArn", json_object_new_string(st.arn));
    add(d, "StreamLabel", json_object_new_string((const char *)sqlite3_column_text(s, 1)));
    add(d, "StreamStatus", json_object_new_string(st.disabled_ms ? "DISABLED" : "ENABLED"));
    add(d, "StreamViewType", json_object_new_string(st.view));
    add(d, "CreationRequestDateTime", json_object_new_double((double)st.created_ms / 1000.0));
    add(d, "TableName", json_object_new_string((const char *)sqlite3_column_text(s, 0)));
    json_object *ks = json_tokener_parse((const char *)sqlite3_column_text(s, 2));
    sqlite3_reset(s);
    add(d, "KeySchema", ks ? ks : json_object_new_array());
    json_object *shard = json_object_new_object();
    char sid[64], first[24], end[24];
    shard_id(st.created_ms, st.sid, sid);
    add(shard, "ShardId", json_object_new_string(sid));
    json_object *range = json_object_new_object();
    int64_t f = first_seq(st.sid, call->now_ms);
    seqnum(f ? f : last_seq(st.sid) + 1, first);
    add(range, "StartingSequenceNumber", json_object_new_string(first));
    if (st.disabled_ms) {
        seqnum(last_seq(st.sid), end);
        add(range, "EndingSequenceNumber", json_object_new_string(end));
    }
    add(shard, "SequenceNumberRange", range);
    json_object *shards = json_object_new_array();
    const char *excl = nb_str(in, "ExclusiveStartShardId");
    if (!excl || strcmp(excl, sid) != 0)
        json_object_array_add(shards, shard);
    else
        json_object_put(shard);
    add(d, "Shards", shards);
    call->out = json_object_new_object();
    add(call->out, "StreamDescription", d);
    return NB_OK;
}

static void make_iterator(const stream_row *st, int64_t next, int64_t now_ms, char *out, size_t n)
{
    char raw[96];
    int len = snprintf(raw, sizeof raw, "%" PRId64 ":%" PRId64 ":%" PRId64, st->sid, next, now_ms);
    char *b64 = nb_base64_encode(raw, (size_t)len, NULL);
    snprintf(out, n, "%s|1|%s", st->arn, b64);
    free(b64);
}

static nb_status get_shard_iterator(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "StreamArn");
    const char *shard = nb_str(in, "ShardId");
    const char *type = nb_str(in, "ShardIteratorType");
    const char *seqs = nb_str(in, "SequenceNumber");
    stream_row st;
    if (!find_stream(call, arn, &st))
        return not_found_stream(call, arn);
    char sid[64];
    shard_id(st.created_ms, st.sid, sid);
    if (strcmp(shard, sid) != 0)
        return nb_fail(call, "ResourceNotFoundException",
                       "Requested resource not found: Shard does not exist");
    int64_t next;
    bool at = strcmp(type, "AT_SEQUENCE_NUMBER") == 0, after = strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0;
    if (at || after) {
        int64_t seq;
        if (!seqs)
            return nb_fail(call, "ValidationException",
                           "Must specify SequenceNumber when ShardIteratorType is %s", type);
        if (!parse_seqnum(seqs, &seq))
            return nb_fail(call, "ValidationException", "Invalid SequenceNumber: %s", seqs);
        int64_t first = first_seq(st.sid, call->now_ms);
        if (first && seq < first)
            return nb_fail(call, "TrimmedDataAccessException",
                           "The requested sequence number is beyond the trim horizon: %s", seqs);
        next = after ? seq + 1 : seq;
    } else if (strcmp(type, "LATEST") == 0) {
        next = last_seq(st.sid) + 1;
    } else {
        next = 0; /* TRIM_HORIZON */
    }
    char it[1024];
    make_iterator(&st, next, call->now_ms, it, sizeof it);
    call->out = json_object_new_object();
    add(call->out, "ShardIterator", json_object_new_string(it));
    return NB_OK;
}

static bool parse_iterator(const char *it, int64_t *sid, int64_t *next, int64_t *issued, char *arn, size_t n)
{
    const char *bar = it ? strstr(it, "|1|") : NULL;
    if (!bar || (size_t)(bar - it) >= n)
        return false;
    memcpy(arn, it, (size_t)(bar - it));
    arn[bar - it] = 0;
    size_t len = 0;
    unsigned char *raw = nb_base64_decode(bar + 3, strlen(bar + 3), &len);
    if (!raw)
        return false;
    char txt[96];
    bool ok = len < sizeof txt;
    if (ok) {
        memcpy(txt, raw, len);
        txt[len] = 0;
        ok = sscanf(txt, "%" SCNd64 ":%" SCNd64 ":%" SCNd64, sid, next, issued) == 3;
    }
    free(raw);
    return ok;
}

static void fmt_time(int64_t ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 64, "%a %b %d %H:%M:%S UTC %Y", &tm);
}

static nb_status get_records(nb_call *call, json_object *in)
{
    const char *it = nb_str(in, "ShardIterator");
    int64_t limit = 1000;
    if (nb_int(in, "Limit", &limit) && limit > 1000)
        return nb_fail(call, "ValidationException",
                       "1 validation error detected: Value '%" PRId64 "' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000",
                       limit);
    int64_t sid, next, issued;
    char arn[448];
    if (!parse_iterator(it, &sid, &next, &issued, arn, sizeof arn))
        return nb_fail(call, "ValidationException", "Invalid ShardIterator");
    stream_row st;
    if (!find_stream(call, arn, &st) || st.sid != sid)
        return nb_fail(call, "ValidationException", "Invalid ShardIterator");
    if (call->now_ms - issued > ITERATOR_TTL_MS) {
        char a[64], b[64];
        fmt_time(issued, a);
        fmt_time(call->now_ms, b);
        return nb_fail(call, "ExpiredIteratorException",
                       "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of 900000 milliseconds.",
                       a, b);
    }
    json_object *records = json_object_new_array();
    int64_t nx = ddb_stream_read(sid, next, (int)limit, call->now_ms, &st, records);
    call->out = json_object_new_object();
    add(call->out, "Records", records);
    /* A disabled stream's shard is closed: once read to its end, no next. */
    if (!(st.disabled_ms && nx > last_seq(sid))) {
        char nit[1024];
        make_iterator(&st, nx, call->now_ms, nit, sizeof nit);
        add(call->out, "NextShardIterator", json_object_new_string(nit));
    }
    return NB_OK;
}

/* ---- the sweep: TTL deletions and stream retention ---------------------------------------- */

static void ttl_sweep_table(ddb_table *t, int64_t now_s)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT pk, sk FROM ddb_items WHERE expires <= ?2 AND tid = ?1 LIMIT ?3");
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_bind_int64(s, 2, now_s);
    sqlite3_bind_int(s, 3, TTL_BATCH);
    ddb_key keys[TTL_BATCH];
    int n = 0;
    while (n < TTL_BATCH && sqlite3_step(s) == SQLITE_ROW) {
        memset(&keys[n], 0, sizeof keys[n]);
        nb_buf_add(&keys[n].pk, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        nb_buf_add(&keys[n].sk, sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1));
        n++;
    }
    sqlite3_reset(s);
    for (int i = 0; i < n; i++) {
        json_object *old = ddb_load(t, &keys[i], NULL);
        if (old)
            ddb_store(NULL, t, &keys[i], old, NULL, true);
        json_object_put(old);
        ddb_key_free(&keys[i]);
    }
}

static void sweep_cb(uv_timer_t *h)
{
    (void)h;
    int64_t now = nb_now_ms();
    nb_store_call_begin();
    ddb_table **v;
    size_t n = ddb_table_all(&v);
    for (size_t i = 0; i < n; i++)
        if (v[i]->ttl_attr[0])
            ttl_sweep_table(v[i], now / 1000);
    free(v);
    static sqlite3_stmt *trim, *gone;
    sqlite3_stmt *s = nb_stmt(&trim, "DELETE FROM ddb_stream_recs WHERE created_ms <= ?1");
    sqlite3_bind_int64(s, 1, now - RETENTION_MS);
    sqlite3_step(s);
    s = nb_stmt(&gone, "DELETE FROM ddb_streams WHERE disabled_ms IS NOT NULL AND disabled_ms <= ?1");
    sqlite3_bind_int64(s, 1, now - RETENTION_MS);
    sqlite3_step(s);
    nb_store_call_end(true);
}

int ddb_stream_init(void)
{
    if (nb_exec(SCHEMA) != 0)
        return -1;
    nb_store_register_table("ddb_streams");
    nb_store_register_table("ddb_stream_recs");
    uv_timer_init(nb_loop(), &g_sweep);
    uv_unref((uv_handle_t *)&g_sweep);
    uv_timer_start(&g_sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
    g_sweep_on = true;
    return 0;
}

void ddb_stream_shutdown(void)
{
    if (g_sweep_on) {
        uv_timer_stop(&g_sweep);
        uv_close((uv_handle_t *)&g_sweep, NULL);
        g_sweep_on = false;
    }
}

static const nb_op_entry OPS[] = {
    {"ListStreams", list_streams},
    {"DescribeStream", describe_stream},
    {"GetShardIterator", get_shard_iterator},
    {"GetRecords", get_records},
    {NULL, NULL},
};

const nb_service nb_service_dynamodbstreams = {
    .name = "dynamodbstreams",
    .model = &nb_model_dynamodbstreams,
    .ops = OPS,
};
