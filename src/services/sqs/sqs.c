/*
 * sqs.c — the SQS service descriptor, lifecycle, schema and queue cache.
 *
 * Schema (all tables registered for /_nimbus/reset):
 *   sqs_queues      one row per queue; UNIQUE(account, region, name)
 *   sqs_messages    one row per stored message; seq is the primary key and a
 *                   time-based monotonic id (now_ms << 10, bumped), which
 *                   also orders FIFO queues and yields SequenceNumber.
 *                   Indexes: (queue_id, visible_at, seq) for receive and
 *                   counts, and a partial (queue_id, seq) WHERE fifo = 1
 *                   for FIFO order.  There is no index on expires_at: every
 *                   read filters on it, and the retention sweep walks the
 *                   table in seq order a slice per tick (an index would be
 *                   one more b-tree insert and journalled page per send).
 *   sqs_dedup       FIFO deduplication records (5-minute window)
 *   sqs_attempts    FIFO ReceiveRequestAttemptId records (5 minutes)
 *   sqs_tags        queue tags
 *   sqs_deleted     tombstones of deleted queues (QueueDeletedRecently)
 *   sqs_move_tasks  message move tasks (see sqs_move.c)
 *
 * Invariants: the cache holds exactly the rows of sqs_queues (loaded at
 * init, emptied at reset); a cache entry removed by DeleteQueue is marked
 * dead and freed by the housekeeping timer, never while a wake-up loop may
 * still hold it.  The housekeeping timer also deletes expired messages,
 * dedup records, receive attempts and tombstones.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_internal.h"

#if __has_include("gen/models.h")
#include "gen/models.h"
#else
extern const nb_model nb_model_sqs;
#endif

#define SWEEP_INTERVAL_MS 1000
#define SWEEP_SLICE 20000 /* messages looked at per tick */

static sqs_queue **g_buckets;
static size_t g_nbuckets, g_count;
static sqs_queue *g_dead;
static int64_t g_seq;
static uv_timer_t g_sweep;
static bool g_sweep_on;

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS sqs_queues("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, region TEXT NOT NULL,"
    " name TEXT NOT NULL, fifo INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " modified_ms INTEGER NOT NULL, purged_ms INTEGER NOT NULL DEFAULT 0,"
    " delay INTEGER, max_size INTEGER, retention INTEGER, wait INTEGER, visibility INTEGER,"
    " policy TEXT, redrive TEXT, dlq_arn TEXT, max_receive INTEGER, redrive_allow TEXT,"
    " cbd INTEGER, dedup_group INTEGER, tput_group INTEGER, kms_key TEXT, kms_reuse INTEGER,"
    " sse INTEGER, UNIQUE(account, region, name));"
    "CREATE TABLE IF NOT EXISTS sqs_messages("
    " seq INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL, fifo INTEGER NOT NULL,"
    " msg_id TEXT NOT NULL, body BLOB NOT NULL, md5_body TEXT NOT NULL, attrs BLOB,"
    " md5_attrs TEXT, trace TEXT, sender TEXT NOT NULL, sent_ms INTEGER NOT NULL,"
    " visible_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " receive_count INTEGER NOT NULL DEFAULT 0, first_recv_ms INTEGER NOT NULL DEFAULT 0,"
    " recv_ms INTEGER NOT NULL DEFAULT 0, nonce INTEGER NOT NULL DEFAULT 0,"
    " group_id TEXT, dedup_id TEXT, dlq_source TEXT);"
    "CREATE INDEX IF NOT EXISTS sqs_messages_vis ON sqs_messages(queue_id, visible_at, seq);"
    "DROP INDEX IF EXISTS sqs_messages_exp;" /* databases written before the sweep slices */
    "CREATE INDEX IF NOT EXISTS sqs_messages_fifo ON sqs_messages(queue_id, seq) WHERE fifo = 1;"
    "CREATE TABLE IF NOT EXISTS sqs_dedup("
    " queue_id INTEGER NOT NULL, scope TEXT NOT NULL, dedup_id TEXT NOT NULL,"
    " msg_id TEXT NOT NULL, seq INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " PRIMARY KEY(queue_id, scope, dedup_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sqs_dedup_exp ON sqs_dedup(expires_at);"
    "CREATE TABLE IF NOT EXISTS sqs_attempts("
    " queue_id INTEGER NOT NULL, attempt_id TEXT NOT NULL, expires_at INTEGER NOT NULL,"
    " handles TEXT NOT NULL, PRIMARY KEY(queue_id, attempt_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sqs_tags("
    " queue_id INTEGER NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL,"
    " PRIMARY KEY(queue_id, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sqs_deleted("
    " account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " deleted_ms INTEGER NOT NULL, PRIMARY KEY(account, region, name)) WITHOUT ROWID;";

static const char *const TABLES[] = {"sqs_queues", "sqs_messages", "sqs_dedup", "sqs_attempts",
                                     "sqs_tags",   "sqs_deleted",  "sqs_move_tasks", NULL};

/* ---- small helpers ---------------------------------------------------- */

void sqs_str_set(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? nb_strdup(v) : NULL;
}

nb_status sqs_fail_no_queue(nb_call *call)
{
    return nb_fail(call, "QueueDoesNotExist", "The specified queue does not exist.");
}

nb_status sqs_fail_invalid(nb_call *call, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return nb_fail(call, "InvalidParameterValue", "%s", buf);
}

nb_status sqs_fail_missing(nb_call *call, const char *param)
{
    return nb_fail(call, "MissingParameter", "The request must contain the parameter %s.", param);
}

bool sqs_get_int(json_object *in, const char *key, int64_t *out)
{
    json_object *v = nb_get(in, key);
    if (!v || json_object_is_type(v, json_type_null))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

int64_t sqs_next_seq(int64_t now_ms)
{
    int64_t t = now_ms * 1024;
    g_seq = g_seq + 1 > t ? g_seq + 1 : t;
    return g_seq;
}

void sqs_seqnum(int64_t seq, char out[24])
{
    /* 10^19 + seq: a 20-digit, strictly increasing decimal string. */
    snprintf(out, 24, "%" PRIu64, (uint64_t)10000000000000000000ULL + (uint64_t)seq);
}

bool sqs_valid_queue_name(const char *name, bool fifo)
{
    size_t n = strlen(name), base = n;
    if (n == 0 || n > SQS_MAX_NAME)
        return false;
    if (fifo) {
        if (n < 6 || strcmp(name + n - 5, ".fifo") != 0)
            return false;
        base = n - 5;
    }
    for (size_t i = 0; i < base; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

/* ---- cache ------------------------------------------------------------ */

static uint64_t key_hash(const char *account, const char *region, const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[3] = {account, region, name};
    for (int p = 0; p < 3; p++) {
        for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++)
            h = (h ^ *s) * 1099511628211ULL;
        h = (h ^ 0x1f) * 1099511628211ULL;
    }
    return h;
}

static void cache_grow(void)
{
    size_t nb = g_nbuckets ? g_nbuckets * 2 : 256;
    sqs_queue **nbk = nb_calloc(nb, sizeof *nbk);
    for (size_t i = 0; i < g_nbuckets; i++) {
        sqs_queue *q = g_buckets[i];
        while (q) {
            sqs_queue *next = q->rt.hnext;
            size_t b = key_hash(q->account, q->region, q->name) & (nb - 1);
            q->rt.hnext = nbk[b];
            nbk[b] = q;
            q = next;
        }
    }
    free(g_buckets);
    g_buckets = nbk;
    g_nbuckets = nb;
}

sqs_queue *sqs_queue_find(const char *account, const char *region, const char *name)
{
    if (!g_nbuckets)
        return NULL;
    size_t b = key_hash(account, region, name) & (g_nbuckets - 1);
    for (sqs_queue *q = g_buckets[b]; q; q = q->rt.hnext)
        if (!strcmp(q->name, name) && !strcmp(q->account, account) && !strcmp(q->region, region))
            return q;
    return NULL;
}

sqs_queue *sqs_queue_new(const char *account, const char *region, const char *name)
{
    sqs_queue *q = nb_calloc(1, sizeof *q);
    snprintf(q->account, sizeof q->account, "%s", account);
    snprintf(q->region, sizeof q->region, "%s", region);
    snprintf(q->name, sizeof q->name, "%s", name);
    snprintf(q->arn, sizeof q->arn, "arn:aws:sqs:%s:%s:%s", region, account, name);
    sqs_attrs_defaults(q);
    return q;
}

void sqs_queue_insert_cache(sqs_queue *q)
{
    if (g_count + 1 > g_nbuckets * 2)
        cache_grow();
    size_t b = key_hash(q->account, q->region, q->name) & (g_nbuckets - 1);
    q->rt.hnext = g_buckets[b];
    g_buckets[b] = q;
    g_count++;
}

void sqs_queue_remove_cache(sqs_queue *q)
{
    size_t b = key_hash(q->account, q->region, q->name) & (g_nbuckets - 1);
    for (sqs_queue **pp = &g_buckets[b]; *pp; pp = &(*pp)->rt.hnext) {
        if (*pp == q) {
            *pp = q->rt.hnext;
            g_count--;
            break;
        }
    }
    q->rt.dead = true;
    sqs_wait_finish_queue(q);
    q->rt.dead_next = g_dead;
    g_dead = q;
}

void sqs_queue_foreach(void (*fn)(sqs_queue *q, void *arg), void *arg)
{
    for (size_t i = 0; i < g_nbuckets; i++)
        for (sqs_queue *q = g_buckets[i]; q; q = q->rt.hnext)
            fn(q, arg);
}

static void queue_free(sqs_queue *q)
{
    sqs_queue_free_attrs(q);
    free(q);
}

static void reap_dead(void)
{
    while (g_dead) {
        sqs_queue *q = g_dead;
        g_dead = q->rt.dead_next;
        queue_free(q);
    }
}

/* Drop every cache entry (reset and shutdown): waiters are answered. */
static void cache_clear(void)
{
    for (size_t i = 0; i < g_nbuckets; i++) {
        while (g_buckets[i]) {
            sqs_queue *q = g_buckets[i];
            g_buckets[i] = q->rt.hnext;
            q->rt.dead = true;
            sqs_wait_finish_queue(q);
            q->rt.dead_next = g_dead;
            g_dead = q;
        }
    }
    g_count = 0;
}

/* ---- persistence of queues ------------------------------------------- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_queue_attrs(sqlite3_stmt *st, const sqs_queue *q)
{
    sqlite3_bind_int64(st, 1, q->modified_ms);
    sqlite3_bind_int64(st, 2, q->purged_ms);
    sqlite3_bind_int(st, 3, q->delay);
    sqlite3_bind_int(st, 4, q->max_size);
    sqlite3_bind_int(st, 5, q->retention);
    sqlite3_bind_int(st, 6, q->wait);
    sqlite3_bind_int(st, 7, q->visibility);
    bind_text_or_null(st, 8, q->policy);
    bind_text_or_null(st, 9, q->redrive);
    bind_text_or_null(st, 10, q->dlq_arn);
    sqlite3_bind_int(st, 11, q->max_receive);
    bind_text_or_null(st, 12, q->redrive_allow);
    sqlite3_bind_int(st, 13, q->cbd);
    sqlite3_bind_int(st, 14, q->dedup_group);
    sqlite3_bind_int(st, 15, q->tput_group);
    bind_text_or_null(st, 16, q->kms_key);
    sqlite3_bind_int(st, 17, q->kms_reuse);
    sqlite3_bind_int(st, 18, q->sse);
}

int sqs_queue_store(sqs_queue *q)
{
    static sqlite3_stmt *ins, *upd;
    sqlite3_stmt *st;
    if (q->id == 0) {
        st = nb_stmt(&ins, "INSERT INTO sqs_queues(modified_ms, purged_ms, delay, max_size,"
                           " retention, wait, visibility, policy, redrive, dlq_arn, max_receive,"
                           " redrive_allow, cbd, dedup_group, tput_group, kms_key, kms_reuse, sse,"
                           " account, region, name, fifo, created_ms)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        bind_queue_attrs(st, q);
        sqlite3_bind_text(st, 19, q->account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 20, q->region, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 21, q->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 22, q->fifo);
        sqlite3_bind_int64(st, 23, q->created_ms);
    } else {
        st = nb_stmt(&upd, "UPDATE sqs_queues SET modified_ms=?, purged_ms=?, delay=?,"
                           " max_size=?, retention=?, wait=?, visibility=?, policy=?, redrive=?,"
                           " dlq_arn=?, max_receive=?, redrive_allow=?, cbd=?, dedup_group=?,"
                           " tput_group=?, kms_key=?, kms_reuse=?, sse=? WHERE id=?");
        bind_queue_attrs(st, q);
        sqlite3_bind_int64(st, 19, q->id);
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        NB_ERR("sqs: storing queue %s: %s", q->name, sqlite3_errmsg(nb_db()));
        return -1;
    }
    if (q->id == 0)
        q->id = sqlite3_last_insert_rowid(nb_db());
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static sqs_queue *queue_from_row(sqlite3_stmt *st)
{
    sqs_queue *q = sqs_queue_new(col_text(st, 1), col_text(st, 2), col_text(st, 3));
    q->id = sqlite3_column_int64(st, 0);
    q->fifo = sqlite3_column_int(st, 4);
    q->created_ms = sqlite3_column_int64(st, 5);
    q->modified_ms = sqlite3_column_int64(st, 6);
    q->purged_ms = sqlite3_column_int64(st, 7);
    q->delay = sqlite3_column_int(st, 8);
    q->max_size = sqlite3_column_int(st, 9);
    q->retention = sqlite3_column_int(st, 10);
    q->wait = sqlite3_column_int(st, 11);
    q->visibility = sqlite3_column_int(st, 12);
    sqs_str_set(&q->policy, col_text(st, 13));
    sqs_str_set(&q->redrive, col_text(st, 14));
    sqs_str_set(&q->dlq_arn, col_text(st, 15));
    q->max_receive = sqlite3_column_int(st, 16);
    sqs_str_set(&q->redrive_allow, col_text(st, 17));
    q->cbd = sqlite3_column_int(st, 18);
    q->dedup_group = sqlite3_column_int(st, 19);
    q->tput_group = sqlite3_column_int(st, 20);
    sqs_str_set(&q->kms_key, col_text(st, 21));
    q->kms_reuse = sqlite3_column_int(st, 22);
    q->sse = sqlite3_column_int(st, 23);
    return q;
}

static int load_queues(void)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT id, account, region, name, fifo, created_ms, modified_ms, purged_ms,"
                      " delay, max_size, retention, wait, visibility, policy, redrive, dlq_arn,"
                      " max_receive, redrive_allow, cbd, dedup_group, tput_group, kms_key,"
                      " kms_reuse, sse FROM sqs_queues";
    if (sqlite3_prepare_v2(nb_db(), sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW)
        sqs_queue_insert_cache(queue_from_row(st));
    sqlite3_finalize(st);
    return 0;
}

static void load_seq(void)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(nb_db(), "SELECT MAX(seq) FROM sqs_messages", -1, &st, NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW)
        g_seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
}

/* ---- URLs and ARNs ---------------------------------------------------- */

void sqs_queue_url(const nb_call *call, const sqs_queue *q, char *out, size_t n)
{
    const char *host = call->host[0] ? call->host : "localhost:4566";
    snprintf(out, n, "http://%s/%s/%s", host, q->account, q->name);
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Split "…/{account}/{name}" (path part of a URL) into its last two
 * segments.  Returns false when the path does not have that shape. */
static bool split_queue_path(const char *path, char *account, size_t an, char *name, size_t nn)
{
    size_t len = strcspn(path, "?#");
    while (len > 0 && path[len - 1] == '/')
        len--;
    size_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    size_t name_len = len - i;
    if (name_len == 0 || i == 0 || name_len >= nn)
        return false;
    size_t j = i - 1;
    while (j > 0 && path[j - 1] != '/')
        j--;
    size_t acc_len = i - 1 - j;
    if (!all_digits(path + j, acc_len) || acc_len >= an)
        return false;
    memcpy(account, path + j, acc_len);
    account[acc_len] = '\0';
    memcpy(name, path + i, name_len);
    name[name_len] = '\0';
    return true;
}

sqs_queue *sqs_queue_from_url(nb_call *call, json_object *in)
{
    const char *url = nb_str(in, "QueueUrl");
    char account[16], name[SQS_MAX_NAME + 2];
    sqs_queue *q = NULL;
    if (!url || !*url) {
        sqs_fail_missing(call, "QueueUrl");
        return NULL;
    }
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *path = strchr(scheme + 3, '/');
        if (path && split_queue_path(path, account, sizeof account, name, sizeof name))
            q = sqs_queue_find(account, call->region, name);
    } else if (!strchr(url, '/')) {
        /* A bare queue name: AWS resolves it in the caller's account. */
        q = sqs_queue_find(call->account, call->region, url);
    } else if (split_queue_path(url, account, sizeof account, name, sizeof name)) {
        q = sqs_queue_find(account, call->region, name);
    }
    if (!q)
        sqs_fail_no_queue(call);
    return q;
}

bool sqs_parse_arn(const char *arn, char *region, size_t rn, char *account, size_t an,
                   char *name, size_t nn)
{
    static const char prefix[] = "arn:aws:sqs:";
    if (!arn || strncmp(arn, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *r = arn + sizeof prefix - 1;
    const char *c1 = strchr(r, ':');
    if (!c1)
        return false;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || strchr(c2 + 1, ':'))
        return false;
    size_t rl = (size_t)(c1 - r), al = (size_t)(c2 - c1 - 1), nl = strlen(c2 + 1);
    if (rl == 0 || rl >= rn || !all_digits(c1 + 1, al) || al >= an || nl == 0 || nl >= nn)
        return false;
    memcpy(region, r, rl);
    region[rl] = '\0';
    memcpy(account, c1 + 1, al);
    account[al] = '\0';
    memcpy(name, c2 + 1, nl + 1);
    return true;
}

sqs_queue *sqs_queue_by_arn(const char *arn)
{
    char region[32], account[16], name[SQS_MAX_NAME + 2];
    if (!sqs_parse_arn(arn, region, sizeof region, account, sizeof account, name, sizeof name))
        return NULL;
    return sqs_queue_find(account, region, name);
}

/* ---- batch helpers ----------------------------------------------------- */

static bool valid_batch_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 80)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

nb_status sqs_batch_check(nb_call *call, json_object *entries, const char *entry_shape)
{
    size_t n = entries ? json_object_array_length(entries) : 0;
    if (n == 0)
        return nb_fail(call, "EmptyBatchRequest",
                       "There should be at least one %s in the request.", entry_shape);
    if (n > SQS_MAX_BATCH)
        return nb_fail(call, "TooManyEntriesInBatchRequest",
                       "Maximum number of entries per request are %d. You have sent %zu.",
                       SQS_MAX_BATCH, n);
    const char *ids[SQS_MAX_BATCH];
    for (size_t i = 0; i < n; i++) {
        const char *id = nb_str(json_object_array_get_idx(entries, i), "Id");
        if (!id || !valid_batch_id(id))
            return nb_fail(call, "InvalidBatchEntryId",
                           "A batch entry id can only contain alphanumeric characters, hyphens "
                           "and underscores. It can be at most 80 letters long.");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ids[j], id))
                return nb_fail(call, "BatchEntryIdsNotDistinct", "Id %s repeated.", id);
        ids[i] = id;
    }
    return NB_OK;
}

json_object *sqs_batch_failure(const char *id, const char *code, const char *msg, bool sender)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "Id", json_object_new_string(id));
    json_object_object_add(e, "SenderFault", json_object_new_boolean(sender));
    json_object_object_add(e, "Code", json_object_new_string(code));
    json_object_object_add(e, "Message", json_object_new_string(msg));
    return e;
}

/* ---- housekeeping ----------------------------------------------------- */

static void sweep_exec(sqlite3_stmt **slot, const char *sql, int64_t t)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, t);
    if (sqlite3_step(st) != SQLITE_DONE)
        NB_WARN("sqs: sweep: %s", sqlite3_errmsg(nb_db()));
}

/* Expired messages: deleted a slice of SWEEP_SLICE rows (in seq order) per
 * tick, resuming after the last slice and wrapping at the end, so a tick
 * costs at most a slice scan however large the queues are.  Expired rows
 * are invisible before they are swept: every read filters on expires_at.
 *
 * g_exp_min is a lower bound on the expires_at of every stored message;
 * while now is below it no slice runs.  A pass (first slice to wrap)
 * collects the minimum of what survives into g_pass_min; inserts lower
 * both.  Writes whose expiry SQLite computes (retention changes, copies),
 * a restart and a reset make the bound unknown (INT64_MIN), which also
 * spoils a pass in progress, so the next complete pass recomputes it.
 * A rolled-back call can only have lowered the bound: one extra pass. */
static int64_t g_sweep_after;          /* seq the next slice starts after */
static bool g_sweep_passing;           /* a pass is in progress */
static int64_t g_exp_min = INT64_MIN;  /* lower bound, INT64_MAX = no rows */
static int64_t g_pass_min = INT64_MAX; /* minimum seen by this pass */

void sqs_expiry_note(int64_t expires_at)
{
    if (expires_at < g_exp_min)
        g_exp_min = expires_at;
    if (expires_at < g_pass_min)
        g_pass_min = expires_at;
}

void sqs_expiry_unknown(void)
{
    g_exp_min = g_pass_min = INT64_MIN;
}

static void sweep_messages(int64_t now)
{
    static sqlite3_stmt *s_end, *s_del, *s_min;
    if (!g_sweep_passing && now < g_exp_min)
        return;
    if (!g_sweep_passing) {
        g_sweep_passing = true;
        g_sweep_after = 0;
        g_pass_min = INT64_MAX;
    }
    sqlite3_stmt *st = nb_stmt(&s_end, "SELECT seq FROM sqs_messages WHERE seq > ?"
                                       " ORDER BY seq LIMIT 1 OFFSET ?");
    sqlite3_bind_int64(st, 1, g_sweep_after);
    sqlite3_bind_int64(st, 2, SWEEP_SLICE - 1);
    bool more = sqlite3_step(st) == SQLITE_ROW;
    int64_t end = more ? sqlite3_column_int64(st, 0) : INT64_MAX;
    sqlite3_reset(st);
    st = nb_stmt(&s_del, "DELETE FROM sqs_messages WHERE seq > ? AND seq <= ? AND expires_at <= ?");
    sqlite3_bind_int64(st, 1, g_sweep_after);
    sqlite3_bind_int64(st, 2, end);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite3_step(st) != SQLITE_DONE) {
        NB_WARN("sqs: sweep: %s", sqlite3_errmsg(nb_db()));
        sqs_expiry_unknown();
    }
    st = nb_stmt(&s_min, "SELECT MIN(expires_at) FROM sqs_messages WHERE seq > ? AND seq <= ?");
    sqlite3_bind_int64(st, 1, g_sweep_after);
    sqlite3_bind_int64(st, 2, end);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        sqs_expiry_note(sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    g_sweep_after = end;
    if (!more) {
        g_sweep_passing = false;
        g_exp_min = g_pass_min;
    }
}

static void sweep_cb(uv_timer_t *t)
{
    static sqlite3_stmt *s2, *s3, *s4;
    (void)t;
    int64_t now = nb_now_ms();
    nb_store_call_begin();
    sweep_messages(now);
    sweep_exec(&s2, "DELETE FROM sqs_dedup WHERE expires_at <= ?", now);
    sweep_exec(&s3, "DELETE FROM sqs_attempts WHERE expires_at <= ?", now);
    sweep_exec(&s4, "DELETE FROM sqs_deleted WHERE deleted_ms <= ?", now - 60000);
    nb_store_call_end(true);
    reap_dead();
}

/* ---- lifecycle -------------------------------------------------------- */

static int sqs_init(struct nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0 || sqs_move_init() != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    if (load_queues() != 0)
        return -1;
    load_seq();
    uv_timer_init(nb_loop(), &g_sweep);
    uv_unref((uv_handle_t *)&g_sweep);
    uv_timer_start(&g_sweep, sweep_cb, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    g_sweep_on = true;
    sqs_move_resume();
    return 0;
}

static void sqs_reset(void)
{
    cache_clear();
    sqs_expiry_unknown();
    sqs_move_stop();
}

static void sqs_shutdown(void)
{
    cache_clear();
    sqs_wait_shutdown();
    sqs_move_shutdown();
    if (g_sweep_on) {
        uv_timer_stop(&g_sweep);
        uv_close((uv_handle_t *)&g_sweep, NULL);
        g_sweep_on = false;
    }
    reap_dead();
    free(g_buckets);
    g_buckets = NULL;
    g_nbuckets = 0;
}

static const nb_op_entry sqs_ops[] = {
    {"AddPermission", sqs_add_permission},
    {"CancelMessageMoveTask", sqs_cancel_message_move_task},
    {"ChangeMessageVisibility", sqs_change_message_visibility},
    {"ChangeMessageVisibilityBatch", sqs_change_message_visibility_batch},
    {"CreateQueue", sqs_create_queue},
    {"DeleteMessage", sqs_delete_message},
    {"DeleteMessageBatch", sqs_delete_message_batch},
    {"DeleteQueue", sqs_delete_queue},
    {"GetQueueAttributes", sqs_get_queue_attributes},
    {"GetQueueUrl", sqs_get_queue_url},
    {"ListDeadLetterSourceQueues", sqs_list_dead_letter_source_queues},
    {"ListMessageMoveTasks", sqs_list_message_move_tasks},
    {"ListQueueTags", sqs_list_queue_tags},
    {"ListQueues", sqs_list_queues},
    {"PurgeQueue", sqs_purge_queue},
    {"ReceiveMessage", sqs_receive_message},
    {"RemovePermission", sqs_remove_permission},
    {"SendMessage", sqs_send_message},
    {"SendMessageBatch", sqs_send_message_batch},
    {"SetQueueAttributes", sqs_set_queue_attributes},
    {"StartMessageMoveTask", sqs_start_message_move_task},
    {"TagQueue", sqs_tag_queue},
    {"UntagQueue", sqs_untag_queue},
    {NULL, NULL},
};

const nb_service nb_service_sqs = {
    .name = "sqs",
    .model = &nb_model_sqs,
    .ops = sqs_ops,
    .init = sqs_init,
    .reset = sqs_reset,
    .shutdown = sqs_shutdown,
};
