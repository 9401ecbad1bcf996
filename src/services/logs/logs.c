/*
 * logs.c — the CloudWatch Logs service: descriptor, lifecycle, schema, the
 * (group, stream) id cache, the append path shared by PutLogEvents and
 * nb_logs_put (Lambda), the retention sweep and small shared helpers.
 * See logs_internal.h for the storage layout and invariants.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/models.h"
#include "logs_internal.h"

#define SWEEP_INTERVAL_MS 1000

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS logs_groups("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, retention INTEGER, kms TEXT, class TEXT NOT NULL,"
    " protect INTEGER NOT NULL DEFAULT 0, UNIQUE(account, region, name));"
    "CREATE TABLE IF NOT EXISTS logs_streams("
    " id INTEGER PRIMARY KEY, gid INTEGER NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, stored INTEGER NOT NULL DEFAULT 0,"
    " last_seq INTEGER NOT NULL DEFAULT 0, UNIQUE(gid, name));"
    "CREATE TABLE IF NOT EXISTS logs_events("
    " seq INTEGER PRIMARY KEY, sid INTEGER NOT NULL, gid INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " ingest INTEGER NOT NULL, msg BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS logs_events_stream ON logs_events(sid, ts, seq);"
    "CREATE INDEX IF NOT EXISTS logs_events_group ON logs_events(gid, ts, seq);"
    "CREATE TABLE IF NOT EXISTS logs_tags("
    " gid INTEGER NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY(gid, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS logs_metric_filters("
    " gid INTEGER NOT NULL, name TEXT NOT NULL, pattern TEXT NOT NULL, transforms TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, PRIMARY KEY(gid, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS logs_sub_filters("
    " gid INTEGER NOT NULL, name TEXT NOT NULL, pattern TEXT NOT NULL, dest TEXT NOT NULL,"
    " role TEXT, distribution TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(gid, name)) WITHOUT ROWID;";

static const char *const TABLES[] = {"logs_groups", "logs_streams", "logs_events", "logs_tags",
                                     "logs_metric_filters", "logs_sub_filters", NULL};

static int64_t g_seq;
static uv_timer_t g_sweep;
static bool g_sweep_on;

/* ---- errors and small helpers ------------------------------------------------ */

nb_status logs_fail_invalid(nb_call *call, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return nb_fail(call, "InvalidParameterException", "%s", buf);
}

nb_status logs_fail_no_group(nb_call *call)
{
    return nb_fail(call, "ResourceNotFoundException", "The specified log group does not exist.");
}

nb_status logs_fail_no_stream(nb_call *call)
{
    return nb_fail(call, "ResourceNotFoundException", "The specified log stream does not exist.");
}

nb_status logs_fail_bad_token(nb_call *call)
{
    return logs_fail_invalid(call, "The specified nextToken is invalid.");
}

const char *logs_col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

bool logs_check_group_name(nb_call *call, const char *name, const char *member)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!isalnum(*p) || *p > 0x7f) {
            if (strchr("._-/#", *p) && *p)
                continue;
            logs_fail_invalid(call, "1 validation error detected: Value '%s' at '%s' failed to satisfy "
                                    "constraint: Member must satisfy regular expression pattern: "
                                    "[\\.\\-_/#A-Za-z0-9]+", name, member);
            return false;
        }
    return true;
}

void logs_group_arn(const nb_call *call, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:logs:%s:%s:log-group:%s", call->region, call->account, name);
}

bool logs_parse_group_arn(const nb_call *call, const char *arn, char *name, size_t n, bool allow_star)
{
    /* arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*] */
    const char *f[6];
    const char *p = arn;
    for (int i = 0; i < 6; i++) {
        const char *c = strchr(p, ':');
        if (!c)
            return false;
        f[i] = p;
        p = c + 1;
    }
    if (strncmp(f[0], "arn:", 4) != 0 || strncmp(f[2], "logs:", 5) != 0 || strncmp(f[5], "log-group:", 10) != 0)
        return false;
    size_t rl = (size_t)(f[4] - f[3] - 1), al = (size_t)(f[5] - f[4] - 1);
    if (rl != strlen(call->region) || memcmp(f[3], call->region, rl) != 0 || al != strlen(call->account) ||
        memcmp(f[4], call->account, al) != 0)
        return false;
    size_t nl = strlen(p);
    if (nl >= 2 && !strcmp(p + nl - 2, ":*")) {
        if (!allow_star)
            return false;
        nl -= 2;
    }
    if (nl == 0 || nl >= n || memchr(p, ':', nl))
        return false;
    memcpy(name, p, nl);
    name[nl] = 0;
    return true;
}

void logs_group_clear(logs_group *g)
{
    free(g->kms);
    g->kms = NULL;
}

bool logs_group_load(const nb_call *call, const char *name, logs_group *g)
{
    static sqlite3_stmt *s;
    memset(g, 0, sizeof *g);
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id, created_ms, retention, kms, class, protect FROM logs_groups"
                                   " WHERE account = ? AND region = ? AND name = ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        g->id = sqlite3_column_int64(st, 0);
        g->created_ms = sqlite3_column_int64(st, 1);
        g->retention = sqlite3_column_int(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            g->kms = nb_strdup(logs_col_text(st, 3));
        snprintf(g->cls, sizeof g->cls, "%s", logs_col_text(st, 4));
        g->protect = sqlite3_column_int(st, 5) != 0;
        snprintf(g->name, sizeof g->name, "%s", name);
    }
    sqlite3_reset(st);
    return found;
}

bool logs_group_from_input(nb_call *call, json_object *in, bool required, logs_group *g)
{
    const char *name = nb_str(in, "logGroupName"), *ident = nb_str(in, "logGroupIdentifier");
    memset(g, 0, sizeof *g);
    if (name && ident) {
        logs_fail_invalid(call, "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
        return false;
    }
    if (!name && !ident) {
        if (required)
            logs_fail_invalid(call, "Should provide either name or ARN of the log group.");
        return false;
    }
    char buf[520];
    if (ident) {
        if (!strncmp(ident, "arn:", 4)) {
            if (!logs_parse_group_arn(call, ident, buf, sizeof buf, true)) {
                logs_fail_no_group(call);
                return false;
            }
        } else {
            snprintf(buf, sizeof buf, "%s", ident);
        }
        name = buf;
    }
    if (!logs_check_group_name(call, name, ident ? "logGroupIdentifier" : "logGroupName"))
        return false;
    if (!logs_group_load(call, name, g)) {
        logs_fail_no_group(call);
        return false;
    }
    return true;
}

int64_t logs_stream_id(int64_t gid, const char *name)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT id FROM logs_streams WHERE gid = ? AND name = ?");
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

/* ---- tokens -------------------------------------------------------------------- */

void logs_seq_token(int64_t seq, char out[64])
{
    snprintf(out, 64, "49%054" PRId64, seq);
}

void logs_key_token(char prefix, int64_t ts, int64_t seq, char out[72])
{
    snprintf(out, 72, "%c/%026" PRId64 "%030" PRId64 "/s", prefix, ts, seq);
}

static bool parse_digits(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        if (v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = (int64_t)v;
    return true;
}

bool logs_parse_key_token(const char *tok, char *prefix, int64_t *ts, int64_t *seq)
{
    size_t n = strlen(tok);
    if (n != 60 || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' || strcmp(tok + 58, "/s") != 0)
        return false;
    *prefix = tok[0];
    return parse_digits(tok + 2, 26, ts) && parse_digits(tok + 28, 30, seq);
}

void logs_offset_token(int64_t off, char out[32])
{
    snprintf(out, 32, "nb1-%" PRId64, off);
}

bool logs_parse_offset_token(const char *tok, int64_t *off)
{
    if (strncmp(tok, "nb1-", 4) != 0 || !tok[4])
        return false;
    return parse_digits(tok + 4, strlen(tok + 4), off);
}

nb_status logs_page_out(nb_call *call, const char *key, json_object *list, bool more, int64_t next_off)
{
    call->out = json_object_new_object();
    json_object_object_add(call->out, key, list);
    if (more) {
        char tok[32];
        logs_offset_token(next_off, tok);
        json_object_object_add(call->out, "nextToken", json_object_new_string(tok));
    }
    return NB_OK;
}

logs_pattern *logs_compile_or_fail(nb_call *call, const char *pattern, bool prefixed)
{
    char err[LOGS_PAT_ERRMAX];
    logs_pattern *p = logs_pattern_compile(pattern ? pattern : "", pattern ? strlen(pattern) : 0, err, sizeof err);
    if (!p) {
        if (prefixed && strcmp(err, "Invalid filter pattern") != 0)
            logs_fail_invalid(call, "Invalid filter pattern: %s", err);
        else
            logs_fail_invalid(call, "%s", err);
    }
    return p;
}

/* ---- the id cache -------------------------------------------------------------- */

typedef struct centry {
    struct centry *next;
    uint64_t hash;
    int64_t gid, sid;
    size_t klen;
    char key[];             /* account \x1f region \x1f group \x1f stream */
} centry;

static centry **g_buckets;
static size_t g_nbuckets, g_count;

static size_t make_key(char *buf, size_t cap, const char *a, const char *r, const char *g, const char *s)
{
    int n = snprintf(buf, cap, "%s\x1f%s\x1f%s\x1f%s", a, r, g, s);
    return n < 0 ? 0 : (size_t)n;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static centry *cache_find(const char *key, size_t klen, uint64_t h)
{
    if (!g_nbuckets)
        return NULL;
    for (centry *e = g_buckets[h & (g_nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
            return e;
    return NULL;
}

static void cache_grow(void)
{
    size_t nb = g_nbuckets ? g_nbuckets * 2 : 256;
    centry **nbk = nb_calloc(nb, sizeof *nbk);
    for (size_t i = 0; i < g_nbuckets; i++)
        for (centry *e = g_buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = nbk[e->hash & (nb - 1)];
            nbk[e->hash & (nb - 1)] = e;
        }
    free(g_buckets);
    g_buckets = nbk;
    g_nbuckets = nb;
}

static void cache_put(const char *key, size_t klen, uint64_t h, int64_t gid, int64_t sid)
{
    if (g_count + 1 > g_nbuckets)
        cache_grow();
    centry *e = nb_malloc(sizeof *e + klen + 1);
    e->hash = h;
    e->gid = gid;
    e->sid = sid;
    e->klen = klen;
    memcpy(e->key, key, klen + 1);
    e->next = g_buckets[h & (g_nbuckets - 1)];
    g_buckets[h & (g_nbuckets - 1)] = e;
    g_count++;
}

static void cache_drop_if(bool (*pred)(const centry *e, int64_t id), int64_t id)
{
    for (size_t i = 0; i < g_nbuckets; i++)
        for (centry **pp = &g_buckets[i]; *pp;) {
            if (pred(*pp, id)) {
                centry *dead = *pp;
                *pp = dead->next;
                free(dead);
                g_count--;
            } else {
                pp = &(*pp)->next;
            }
        }
}

static bool is_group(const centry *e, int64_t id) { return e->gid == id; }
static bool is_stream(const centry *e, int64_t id) { return e->sid == id; }
static bool is_any(const centry *e, int64_t id) { return (void)e, (void)id, true; }

void logs_cache_drop_group(int64_t gid) { cache_drop_if(is_group, gid); }
void logs_cache_drop_stream(int64_t sid) { cache_drop_if(is_stream, sid); }

static void cache_clear(void)
{
    cache_drop_if(is_any, 0);
    free(g_buckets);
    g_buckets = NULL;
    g_nbuckets = g_count = 0;
}

/* ---- appending events ------------------------------------------------------------ */

int logs_append(int64_t gid, int64_t sid, const nb_log_event *ev, size_t n, int64_t now, int64_t *last_seq)
{
    static sqlite3_stmt *s_upd, *s_ins;
    if (n == 0) {
        if (last_seq)
            *last_seq = 0;
        return 0;
    }
    int64_t lo = ev[0].ts_ms, hi = ev[0].ts_ms, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].ts_ms < lo)
            lo = ev[i].ts_ms;
        if (ev[i].ts_ms > hi)
            hi = ev[i].ts_ms;
        bytes += (int64_t)ev[i].len;
    }
    int64_t first = g_seq + 1, last = g_seq + (int64_t)n;
    sqlite3_stmt *st = nb_stmt(&s_upd, "UPDATE logs_streams SET"
                                       " first_ts = CASE WHEN first_ts IS NULL OR first_ts > ?1 THEN ?1 ELSE first_ts END,"
                                       " last_ts = CASE WHEN last_ts IS NULL OR last_ts < ?2 THEN ?2 ELSE last_ts END,"
                                       " last_ingest = ?3, stored = stored + ?4, last_seq = ?5 WHERE id = ?6");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, bytes);
    sqlite3_bind_int64(st, 5, last);
    sqlite3_bind_int64(st, 6, sid);
    if (sqlite3_step(st) != SQLITE_DONE) {
        NB_ERR("logs: updating stream: %s", sqlite3_errmsg(nb_db()));
        return -1;
    }
    if (sqlite3_changes(nb_db()) != 1)
        return 1;
    st = nb_stmt(&s_ins, "INSERT INTO logs_events(seq, sid, gid, ts, ingest, msg) VALUES(?,?,?,?,?,?)");
    sqlite3_bind_int64(st, 2, sid);
    sqlite3_bind_int64(st, 3, gid);
    sqlite3_bind_int64(st, 5, now);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, first + (int64_t)i);
        sqlite3_bind_int64(st, 4, ev[i].ts_ms);
        sqlite3_bind_blob(st, 6, ev[i].len ? ev[i].msg : "", (int)ev[i].len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            NB_ERR("logs: inserting event: %s", sqlite3_errmsg(nb_db()));
            sqlite3_reset(st);
            return -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_clear_bindings(st);
    g_seq = last;
    if (last_seq)
        *last_seq = last;
    return 0;
}

/* Find or create the group and stream for nb_logs_put. */
static bool ensure_stream(const char *account, const char *region, const char *group, const char *stream,
                          int64_t now, int64_t *gid, int64_t *sid)
{
    static sqlite3_stmt *s_gsel, *s_gins, *s_sins;
    sqlite3_stmt *st = nb_stmt(&s_gsel, "SELECT id FROM logs_groups WHERE account = ? AND region = ? AND name = ?");
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, group, -1, SQLITE_STATIC);
    *gid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (!*gid) {
        st = nb_stmt(&s_gins, "INSERT INTO logs_groups(account, region, name, created_ms, class)"
                              " VALUES(?, ?, ?, ?, 'STANDARD')");
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, region, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        if (sqlite3_step(st) != SQLITE_DONE) {
            NB_ERR("logs: creating group %s: %s", group, sqlite3_errmsg(nb_db()));
            return false;
        }
        *gid = sqlite3_last_insert_rowid(nb_db());
    }
    *sid = logs_stream_id(*gid, stream);
    if (!*sid) {
        st = nb_stmt(&s_sins, "INSERT INTO logs_streams(gid, name, created_ms) VALUES(?, ?, ?)");
        sqlite3_bind_int64(st, 1, *gid);
        sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        if (sqlite3_step(st) != SQLITE_DONE) {
            NB_ERR("logs: creating stream %s: %s", stream, sqlite3_errmsg(nb_db()));
            return false;
        }
        *sid = sqlite3_last_insert_rowid(nb_db());
    }
    return true;
}

void nb_logs_put(const char *account, const char *region, const char *group, const char *stream,
                 const nb_log_event *ev, size_t n)
{
    char kbuf[1200];
    size_t klen = make_key(kbuf, sizeof kbuf, account, region, group, stream);
    if (klen == 0 || klen >= sizeof kbuf || n == 0)
        return;
    uint64_t h = hash_bytes(kbuf, klen);
    int64_t now = nb_now_ms();
    for (int attempt = 0; attempt < 2; attempt++) {
        centry *e = cache_find(kbuf, klen, h);
        int64_t gid, sid;
        if (e) {
            gid = e->gid;
            sid = e->sid;
        } else {
            if (!ensure_stream(account, region, group, stream, now, &gid, &sid))
                return;
            cache_put(kbuf, klen, h, gid, sid);
        }
        int rc = logs_append(gid, sid, ev, n, now, NULL);
        if (rc != 1)
            return;
        /* The cached stream is gone (a rolled-back creation): resolve again. */
        logs_cache_drop_stream(sid);
    }
}

/* ---- retention ------------------------------------------------------------------- */

static void sweep_cb(uv_timer_t *t)
{
    static sqlite3_stmt *s_groups, *s_del, *s_bytes;
    (void)t;
    int64_t now = nb_now_ms();
    nb_store_call_begin();
    sqlite3_stmt *gs = nb_stmt(&s_groups, "SELECT id, retention FROM logs_groups WHERE retention IS NOT NULL");
    while (sqlite3_step(gs) == SQLITE_ROW) {
        int64_t gid = sqlite3_column_int64(gs, 0);
        int64_t days = sqlite3_column_int64(gs, 1);
        sqlite3_stmt *st = nb_stmt(&s_del, "DELETE FROM logs_events WHERE gid = ? AND ts < ?");
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_int64(st, 2, now - days * LOGS_DAY_MS);
        if (sqlite3_step(st) != SQLITE_DONE) {
            NB_WARN("logs: retention sweep: %s", sqlite3_errmsg(nb_db()));
            continue;
        }
        if (sqlite3_changes(nb_db()) == 0)
            continue;
        st = nb_stmt(&s_bytes, "UPDATE logs_streams SET stored = (SELECT COALESCE(SUM(length(msg)), 0)"
                               " FROM logs_events WHERE sid = logs_streams.id) WHERE gid = ?");
        sqlite3_bind_int64(st, 1, gid);
        if (sqlite3_step(st) != SQLITE_DONE)
            NB_WARN("logs: retention sweep: %s", sqlite3_errmsg(nb_db()));
    }
    sqlite3_reset(gs);
    nb_store_call_end(true);
}

/* ---- lifecycle ----------------------------------------------------------------- */

static void load_seq(void)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(nb_db(), "SELECT MAX(seq) FROM logs_events", -1, &st, NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW)
        g_seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
}

static int logs_init(struct nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    load_seq();
    uv_timer_init(nb_loop(), &g_sweep);
    uv_unref((uv_handle_t *)&g_sweep);
    uv_timer_start(&g_sweep, sweep_cb, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    g_sweep_on = true;
    return 0;
}

static void logs_reset(void)
{
    cache_clear();
}

static void logs_shutdown(void)
{
    cache_clear();
    if (g_sweep_on) {
        uv_timer_stop(&g_sweep);
        uv_close((uv_handle_t *)&g_sweep, NULL);
        g_sweep_on = false;
    }
}

static const nb_op_entry logs_ops[] = {
    {"CreateLogGroup", logs_create_log_group},
    {"CreateLogStream", logs_create_log_stream},
    {"DeleteLogGroup", logs_delete_log_group},
    {"DeleteLogStream", logs_delete_log_stream},
    {"DeleteMetricFilter", logs_delete_metric_filter},
    {"DeleteRetentionPolicy", logs_delete_retention_policy},
    {"DeleteSubscriptionFilter", logs_delete_subscription_filter},
    {"DescribeLogGroups", logs_describe_log_groups},
    {"DescribeLogStreams", logs_describe_log_streams},
    {"DescribeMetricFilters", logs_describe_metric_filters},
    {"DescribeSubscriptionFilters", logs_describe_subscription_filters},
    {"FilterLogEvents", logs_filter_log_events},
    {"GetLogEvents", logs_get_log_events},
    {"ListTagsForResource", logs_list_tags_for_resource},
    {"ListTagsLogGroup", logs_list_tags_log_group},
    {"PutLogEvents", logs_put_log_events},
    {"PutLogGroupDeletionProtection", logs_put_log_group_deletion_protection},
    {"PutMetricFilter", logs_put_metric_filter},
    {"PutRetentionPolicy", logs_put_retention_policy},
    {"PutSubscriptionFilter", logs_put_subscription_filter},
    {"TagLogGroup", logs_tag_log_group},
    {"TagResource", logs_tag_resource},
    {"TestMetricFilter", logs_test_metric_filter},
    {"UntagLogGroup", logs_untag_log_group},
    {"UntagResource", logs_untag_resource},
    {NULL, NULL},
};

static void (*g_flusher)(void);

void nb_logs_set_flusher(void (*flush)(void))
{
    g_flusher = flush;
}

static void logs_before_call(void)
{
    if (g_flusher)
        g_flusher();
}

const nb_service nb_service_logs = {
    .name = "logs",
    .model = &nb_model_logs,
    .ops = logs_ops,
    .init = logs_init,
    .reset = logs_reset,
    .shutdown = logs_shutdown,
    .validation_code = "InvalidParameterException",
    .before_call = logs_before_call,
};
