/*
 * sqs_recv.c — ReceiveMessage, DeleteMessage(Batch),
 * ChangeMessageVisibility(Batch), receipt handles and the dead-letter
 * redrive that happens on receive.
 *
 * Receipt handles are base64 of 27 bytes: "SQ1", queue id, message seq and
 * a random 64-bit nonce (all big-endian).  Every receive stores a fresh
 * nonce in the row, so a handle is current iff its nonce equals the row's.
 * Choices (AWS behaviour): a handle that does not decode, or names another
 * queue, is ReceiptHandleIsInvalid.  On standard queues DeleteMessage with
 * any handle of the message (current or stale) deletes it, and deleting a
 * message that is already gone succeeds.  On FIFO queues a handle whose
 * nonce is stale or whose visibility timeout has expired cannot delete
 * ("The receipt handle has expired.").  ChangeMessageVisibility needs the
 * current handle (else InvalidParameterValue "Message does not exist or is
 * not available for visibility timeout change."); on standard queues it
 * still works after the timeout expired (AWS does so), on FIFO queues an
 * expired handle gives MessageNotInflight; the total visibility may not
 * exceed 12 hours from the receive.
 *
 * Receive order: standard queues take visible messages by (visible_at,
 * seq) through the (queue_id, visible_at, seq) index.  FIFO queues walk
 * the partial (queue_id, seq) index in send order; a group whose earliest
 * remaining message is not visible (in flight, or delayed) is locked and
 * yields nothing, other groups give their visible prefix; the answer lists
 * messages group by group.  A candidate whose receive count has reached
 * the source's maxReceiveCount is moved to the dead-letter queue (keeping
 * id, body, attributes and SentTimestamp, with DeadLetterQueueSourceArn)
 * instead of being returned; expired candidates are deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_internal.h"

#define RH_RAW 27

enum {
    SA_SENDER = 1u << 0,
    SA_SENT = 1u << 1,
    SA_RCOUNT = 1u << 2,
    SA_FIRST = 1u << 3,
    SA_SEQ = 1u << 4,
    SA_DEDUP = 1u << 5,
    SA_GROUP = 1u << 6,
    SA_TRACE = 1u << 7,
    SA_DLQ = 1u << 8,
    SA_ALL = 0x1FFu,
};

static const struct {
    const char *name;
    unsigned bit;
} SYS_ATTRS[] = {
    {"SenderId", SA_SENDER},
    {"SentTimestamp", SA_SENT},
    {"ApproximateReceiveCount", SA_RCOUNT},
    {"ApproximateFirstReceiveTimestamp", SA_FIRST},
    {"SequenceNumber", SA_SEQ},
    {"MessageDeduplicationId", SA_DEDUP},
    {"MessageGroupId", SA_GROUP},
    {"AWSTraceHeader", SA_TRACE},
    {"DeadLetterQueueSourceArn", SA_DLQ},
};

/* ---- receipt handles --------------------------------------------------- */

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void rh_encode(int64_t qid, int64_t seq, uint64_t nonce, char out[48])
{
    unsigned char raw[RH_RAW] = {'S', 'Q', '1'};
    put64(raw + 3, (uint64_t)qid);
    put64(raw + 11, (uint64_t)seq);
    put64(raw + 19, nonce);
    size_t n = 0;
    char *b = nb_base64_encode(raw, sizeof raw, &n);
    snprintf(out, 48, "%.*s", (int)n, b);
    free(b);
}

typedef struct handle {
    int64_t qid, seq;
    uint64_t nonce;
} handle;

static bool rh_decode(const char *s, handle *h)
{
    size_t n = 0, len = strlen(s);
    if (len != 36)
        return false;
    unsigned char *raw = nb_base64_decode(s, len, &n);
    bool ok = raw && n == RH_RAW && !memcmp(raw, "SQ1", 3);
    if (ok) {
        h->qid = (int64_t)get64(raw + 3);
        h->seq = (int64_t)get64(raw + 11);
        h->nonce = get64(raw + 19);
    }
    free(raw);
    return ok;
}

static uint64_t new_nonce(void)
{
    uint64_t n = 0;
    while (n == 0)
        nb_random(&n, sizeof n);
    return n >> 1; /* fits SQLite's signed integer */
}

/* ---- receive options --------------------------------------------------- */

typedef struct recv_opts {
    int max, vis;
    unsigned sys;
    json_object *filter;
    const char *attempt;
} recv_opts;

static unsigned sys_mask(json_object *names)
{
    unsigned m = 0;
    for (size_t i = 0; names && i < json_object_array_length(names); i++) {
        const char *n = json_object_get_string(json_object_array_get_idx(names, i));
        if (!n)
            continue;
        if (!strcmp(n, "All"))
            m |= SA_ALL;
        for (size_t k = 0; k < sizeof SYS_ATTRS / sizeof SYS_ATTRS[0]; k++)
            if (!strcmp(n, SYS_ATTRS[k].name))
                m |= SYS_ATTRS[k].bit;
    }
    return m;
}

static nb_status parse_opts(nb_call *call, const sqs_queue *q, json_object *in, recv_opts *o)
{
    int64_t v;
    o->max = 1, o->vis = q->visibility;
    if (sqs_get_int(in, "MaxNumberOfMessages", &v)) {
        if (v < 1 || v > SQS_MAX_BATCH)
            return sqs_fail_invalid(call, "Value %lld for parameter MaxNumberOfMessages is "
                                    "invalid. Reason: Must be between 1 and 10, if provided.",
                                    (long long)v);
        o->max = (int)v;
    }
    if (sqs_get_int(in, "VisibilityTimeout", &v)) {
        if (v < 0 || v > SQS_MAX_VISIBILITY)
            return sqs_fail_invalid(call, "Value %lld for parameter VisibilityTimeout is "
                                    "invalid. Reason: Must be >= 0 and <= 43200, if provided.",
                                    (long long)v);
        o->vis = (int)v;
    }
    o->sys = sys_mask(nb_get(in, "AttributeNames")) | sys_mask(nb_get(in, "MessageSystemAttributeNames"));
    o->filter = nb_get(in, "MessageAttributeNames");
    o->attempt = q->fifo ? nb_str(in, "ReceiveRequestAttemptId") : NULL;
    if (o->attempt && !sqs_valid_token(o->attempt))
        return sqs_fail_invalid(call, "Value %s for parameter ReceiveRequestAttemptId is invalid. "
                                "Reason: ReceiveRequestAttemptId can only include alphanumeric "
                                "and punctuation characters. 1 to 128 in length.", o->attempt);
    return NB_OK;
}

/* ---- building messages ---------------------------------------------------- */

#define MSG_COLS                                                                          \
    "seq, msg_id, body, md5_body, attrs, md5_attrs, trace, sender, sent_ms,"              \
    " receive_count, first_recv_ms, group_id, dedup_id, dlq_source, nonce"

static void add_attr(json_object *a, const char *k, const char *v)
{
    if (v)
        json_object_object_add(a, k, json_object_new_string(v));
}

static void add_int_attr(json_object *a, const char *k, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    json_object_object_add(a, k, json_object_new_string(b));
}

/* Column positions of MSG_COLS. */
enum { C_SEQ, C_ID, C_BODY, C_MD5, C_ATTRS, C_MD5A, C_TRACE, C_SENDER, C_SENT, C_RCOUNT,
       C_FIRST, C_GROUP, C_DEDUP, C_DLQ, C_NONCE };

static const char *col_str(sqlite3_stmt *st, int c)
{
    return (const char *)sqlite3_column_text(st, c);
}

static json_object *sys_attrs(sqlite3_stmt *st, const sqs_queue *q, unsigned m)
{
    json_object *a = json_object_new_object();
    char sn[24];
    if (m & SA_SENDER)
        add_attr(a, "SenderId", col_str(st, C_SENDER));
    if (m & SA_SENT)
        add_int_attr(a, "SentTimestamp", sqlite3_column_int64(st, C_SENT));
    if (m & SA_RCOUNT)
        add_int_attr(a, "ApproximateReceiveCount", sqlite3_column_int64(st, C_RCOUNT));
    if (m & SA_FIRST)
        add_int_attr(a, "ApproximateFirstReceiveTimestamp", sqlite3_column_int64(st, C_FIRST));
    if ((m & SA_SEQ) && q->fifo) {
        sqs_seqnum(sqlite3_column_int64(st, C_SEQ), sn);
        add_attr(a, "SequenceNumber", sn);
    }
    if ((m & SA_DEDUP) && q->fifo)
        add_attr(a, "MessageDeduplicationId", col_str(st, C_DEDUP));
    if (m & SA_GROUP)
        add_attr(a, "MessageGroupId", col_str(st, C_GROUP));
    if (m & SA_TRACE)
        add_attr(a, "AWSTraceHeader", col_str(st, C_TRACE));
    if (m & SA_DLQ)
        add_attr(a, "DeadLetterQueueSourceArn", col_str(st, C_DLQ));
    if (json_object_object_length(a) == 0) {
        json_object_put(a);
        return NULL;
    }
    return a;
}

/* A Message output object from a row of MSG_COLS. */
static json_object *message_json(sqlite3_stmt *st, const sqs_queue *q, const recv_opts *o)
{
    json_object *m = json_object_new_object();
    char rh[48], md5[33];
    rh_encode(q->id, sqlite3_column_int64(st, C_SEQ), (uint64_t)sqlite3_column_int64(st, C_NONCE),
              rh);
    json_object_object_add(m, "MessageId", json_object_new_string(col_str(st, C_ID)));
    json_object_object_add(m, "ReceiptHandle", json_object_new_string(rh));
    json_object_object_add(m, "MD5OfBody", json_object_new_string(col_str(st, C_MD5)));
    json_object_object_add(m, "Body",
                           json_object_new_string_len((const char *)sqlite3_column_blob(st, C_BODY),
                                                      sqlite3_column_bytes(st, C_BODY)));
    json_object *sa = sys_attrs(st, q, o->sys);
    if (sa)
        json_object_object_add(m, "Attributes", sa);
    const unsigned char *ab = sqlite3_column_blob(st, C_ATTRS);
    size_t al = (size_t)sqlite3_column_bytes(st, C_ATTRS);
    json_object *ma = ab ? sqs_msg_attrs_decode(ab, al, o->filter, md5) : NULL;
    if (ma) {
        json_object_object_add(m, "MD5OfMessageAttributes", json_object_new_string(md5));
        json_object_object_add(m, "MessageAttributes", ma);
    }
    return m;
}

/* Mark seq received (new nonce, visibility) and append it to out. */
static bool take(const sqs_queue *q, int64_t seq, const recv_opts *o, int64_t now,
                 json_object *msgs)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sqs_messages SET visible_at=?1,"
                                   " receive_count=receive_count+1, first_recv_ms=CASE WHEN"
                                   " first_recv_ms=0 THEN ?2 ELSE first_recv_ms END, recv_ms=?2,"
                                   " nonce=?3 WHERE seq=?4 RETURNING " MSG_COLS);
    sqlite3_bind_int64(st, 1, now + (int64_t)o->vis * 1000);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, (int64_t)new_nonce());
    sqlite3_bind_int64(st, 4, seq);
    if (sqlite3_step(st) != SQLITE_ROW)
        return false;
    json_object_array_add(msgs, message_json(st, q, o));
    while (sqlite3_step(st) == SQLITE_ROW)
        ;
    return true;
}

static void delete_seq(int64_t seq)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sqs_messages WHERE seq=?");
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_step(st);
}

/* What receive does with one scanned row. */
enum disp { D_TAKE, D_EXPIRED, D_REDRIVE };

static enum disp disposition(const sqs_queue *q, int64_t expires_at, int64_t rcount, int64_t now)
{
    if (expires_at <= now)
        return D_EXPIRED;
    if (q->dlq_arn && q->max_receive > 0 && rcount >= q->max_receive) {
        const sqs_queue *dlq = sqs_queue_by_arn(q->dlq_arn);
        if (dlq && !dlq->rt.dead)
            return D_REDRIVE;
    }
    return D_TAKE;
}

/* Move seq to q's dead-letter queue; false when that failed (deliver). */
static bool redrive(const sqs_queue *q, int64_t seq, int64_t now)
{
    sqs_queue *dlq = sqs_queue_by_arn(q->dlq_arn);
    if (!dlq)
        return false;
    if (sqs_msg_copy(seq, dlq, now, q->arn) != 0)
        return false;
    sqs_wait_touch(dlq);
    return true;
}

/* Apply a disposition; true when the row was consumed without a take. */
static bool dispose(const sqs_queue *q, int64_t seq, enum disp d, int64_t now)
{
    if (d == D_EXPIRED) {
        delete_seq(seq);
        return true;
    }
    return d == D_REDRIVE && redrive(q, seq, now);
}

/* ---- standard queues ------------------------------------------------------ */

typedef struct scan_row {
    int64_t seq, expires_at, rcount;
    char *group;
} scan_row;

static int scan_standard(const sqs_queue *q, int64_t now, int limit, scan_row *rows)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT seq, expires_at, receive_count FROM sqs_messages"
                                   " WHERE queue_id=? AND visible_at<=? ORDER BY visible_at, seq"
                                   " LIMIT ?");
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, limit);
    int n = 0;
    while (n < limit && sqlite3_step(st) == SQLITE_ROW) {
        rows[n].seq = sqlite3_column_int64(st, 0);
        rows[n].expires_at = sqlite3_column_int64(st, 1);
        rows[n].rcount = sqlite3_column_int64(st, 2);
        rows[n].group = NULL;
        n++;
    }
    sqlite3_reset(st);
    return n;
}

static bool seen(const int64_t *seqs, int n, int64_t seq)
{
    for (int i = 0; i < n; i++)
        if (seqs[i] == seq)
            return true;
    return false;
}

/* Rounds repeat only when rows were expired or redriven; rows taken in an
 * earlier round (visible again at once with VisibilityTimeout=0) are
 * skipped so one answer never holds a message twice. */
static int receive_standard(const sqs_queue *q, const recv_opts *o, int64_t now, json_object *msgs)
{
    scan_row rows[2 * SQS_MAX_BATCH];
    int64_t taken[SQS_MAX_BATCH];
    int got = 0;
    for (int round = 0; round < 1000 && got < o->max; round++) {
        int n = scan_standard(q, now, o->max + got, rows);
        bool disposed = false;
        for (int i = 0; i < n && got < o->max; i++) {
            if (seen(taken, got, rows[i].seq))
                continue;
            enum disp d = disposition(q, rows[i].expires_at, rows[i].rcount, now);
            if (dispose(q, rows[i].seq, d, now))
                disposed = true;
            else if (take(q, rows[i].seq, o, now, msgs))
                taken[got++] = rows[i].seq;
        }
        if (!disposed)
            break;
    }
    return got;
}

/* ---- FIFO queues ------------------------------------------------------------ */

typedef struct fifo_group {
    char *id;
    bool locked;
    int64_t seqs[SQS_MAX_BATCH];
    int n;
} fifo_group;

/* Groups met during one scan, in order of first appearance, with an
 * open-addressing index on the group id. */
typedef struct fifo_scan {
    fifo_group *groups;
    int ngroups, cap;
    int *index;          /* slots of group numbers + 1, 0 = empty */
    size_t nindex;
    int total, scanned;
    scan_row drop[SQS_MAX_BATCH];   /* expired or redrive rows before the stop */
    int ndrop;
} fifo_scan;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void index_rebuild(fifo_scan *fs)
{
    free(fs->index);
    fs->nindex = fs->nindex ? fs->nindex * 2 : 64;
    fs->index = nb_calloc(fs->nindex, sizeof *fs->index);
    for (int i = 0; i < fs->ngroups; i++) {
        size_t b = str_hash(fs->groups[i].id) & (fs->nindex - 1);
        while (fs->index[b])
            b = (b + 1) & (fs->nindex - 1);
        fs->index[b] = i + 1;
    }
}

static fifo_group *group_get(fifo_scan *fs, const char *id)
{
    if ((size_t)fs->ngroups * 2 >= fs->nindex)
        index_rebuild(fs);
    size_t b = str_hash(id) & (fs->nindex - 1);
    for (; fs->index[b]; b = (b + 1) & (fs->nindex - 1))
        if (!strcmp(fs->groups[fs->index[b] - 1].id, id))
            return &fs->groups[fs->index[b] - 1];
    if (fs->ngroups == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 16;
        fs->groups = nb_realloc(fs->groups, (size_t)fs->cap * sizeof *fs->groups);
    }
    fifo_group *g = &fs->groups[fs->ngroups++];
    g->id = nb_strdup(id);
    g->locked = false;
    g->n = 0;
    fs->index[b] = fs->ngroups;
    return g;
}

static void scan_free(fifo_scan *fs)
{
    for (int i = 0; i < fs->ngroups; i++)
        free(fs->groups[i].id);
    free(fs->groups);
    free(fs->index);
}

/* Classify one FIFO row; false when the scan should stop.  Answers list
 * messages group by group (as AWS does), so the scan goes on past `max`
 * candidates, for at most FIFO_SCAN_MIN rows, unless the first group alone
 * fills the answer. */
#define FIFO_SCAN_MIN 1000

static bool fifo_row(fifo_scan *fs, const sqs_queue *q, sqlite3_stmt *st, int64_t now, int max)
{
    const char *gid = (const char *)sqlite3_column_text(st, 1);
    fifo_group *g = group_get(fs, gid ? gid : "");
    fs->scanned++;
    bool more = fs->total < max || (fs->scanned < FIFO_SCAN_MIN && fs->groups[0].n < max);
    if (g->locked || g->n == max)
        return more;
    int64_t seq = sqlite3_column_int64(st, 0), vis = sqlite3_column_int64(st, 2);
    int64_t exp = sqlite3_column_int64(st, 3), rc = sqlite3_column_int64(st, 4);
    if (vis > now) {
        g->locked = true;
        return more;
    }
    enum disp d = disposition(q, exp, rc, now);
    if (d != D_TAKE) {
        fs->drop[fs->ndrop++] = (scan_row){seq, exp, rc, NULL};
        return fs->ndrop < SQS_MAX_BATCH;
    }
    g->seqs[g->n++] = seq;
    fs->total++;
    return fs->total < max || (fs->scanned < FIFO_SCAN_MIN && fs->groups[0].n < max);
}

static void scan_fifo(fifo_scan *fs, const sqs_queue *q, int64_t now, int max)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT seq, group_id, visible_at, expires_at, receive_count"
                                   " FROM sqs_messages WHERE queue_id=? AND fifo=1 ORDER BY seq");
    sqlite3_bind_int64(st, 1, q->id);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (!fifo_row(fs, q, st, now, max))
            break;
    sqlite3_reset(st);
}

static int receive_fifo(const sqs_queue *q, const recv_opts *o, int64_t now, json_object *msgs)
{
    int got = 0;
    for (int round = 0; round < 1000 && got < o->max; round++) {
        fifo_scan fs = {0};
        scan_fifo(&fs, q, now, o->max - got);
        /* Expired or redriven rows change group heads: dispose, rescan. */
        for (int i = 0; i < fs.ndrop; i++)
            dispose(q, fs.drop[i].seq, disposition(q, fs.drop[i].expires_at, fs.drop[i].rcount,
                                                   now), now);
        for (int g = 0; g < fs.ngroups && fs.ndrop == 0; g++)
            for (int k = 0; k < fs.groups[g].n && got < o->max; k++)
                got += take(q, fs.groups[g].seqs[k], o, now, msgs);
        bool again = fs.ndrop > 0;
        scan_free(&fs);
        if (!again)
            break;
    }
    return got;
}

/* ---- ReceiveRequestAttemptId --------------------------------------------- */

static bool attempt_replay(const sqs_queue *q, const recv_opts *o, int64_t now, json_object *msgs)
{
    static sqlite3_stmt *s, *u;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT handles FROM sqs_attempts WHERE queue_id=? AND"
                                   " attempt_id=? AND expires_at > ?");
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_text(st, 2, o->attempt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite3_step(st) != SQLITE_ROW)
        return false;
    char *list = nb_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    bool ok = true;
    json_object *tmp = json_object_new_array();
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && ok;
         tok = strtok_r(NULL, ",", &save)) {
        long long seq = 0, nonce = 0;
        ok = sscanf(tok, "%lld:%lld", &seq, &nonce) == 2;
        st = nb_stmt(&u, "UPDATE sqs_messages SET visible_at=? WHERE seq=? AND queue_id=?"
                         " AND nonce=? AND visible_at > ? RETURNING " MSG_COLS);
        sqlite3_bind_int64(st, 1, now + (int64_t)o->vis * 1000);
        sqlite3_bind_int64(st, 2, seq);
        sqlite3_bind_int64(st, 3, q->id);
        sqlite3_bind_int64(st, 4, nonce);
        sqlite3_bind_int64(st, 5, now);
        ok = ok && sqlite3_step(st) == SQLITE_ROW;
        if (ok)
            json_object_array_add(tmp, message_json(st, q, o));
        sqlite3_reset(st);
    }
    free(list);
    for (size_t i = 0; ok && i < json_object_array_length(tmp); i++)
        json_object_array_add(msgs, json_object_get(json_object_array_get_idx(tmp, i)));
    json_object_put(tmp);
    return ok;
}

static void attempt_store(const sqs_queue *q, const recv_opts *o, int64_t now, json_object *msgs)
{
    static sqlite3_stmt *s;
    char list[SQS_MAX_BATCH * 48] = "";
    size_t off = 0;
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        handle h;
        const char *rh = nb_str(json_object_array_get_idx(msgs, i), "ReceiptHandle");
        if (rh && rh_decode(rh, &h))
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%lld:%lld", off ? "," : "",
                                    (long long)h.seq, (long long)h.nonce);
    }
    sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO sqs_attempts(queue_id, attempt_id,"
                                   " expires_at, handles) VALUES(?,?,?,?)");
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_text(st, 2, o->attempt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now + SQS_ATTEMPT_WINDOW_MS);
    sqlite3_bind_text(st, 4, list, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
}

/* ---- ReceiveMessage --------------------------------------------------------- */

int sqs_receive_once(nb_call *call, sqs_queue *q, json_object *in, int64_t now, json_object **out)
{
    recv_opts o;
    *out = NULL;
    if (parse_opts(call, q, in, &o) != NB_OK)
        return -1;
    json_object *msgs = json_object_new_array();
    int got = 0;
    if (o.attempt && attempt_replay(q, &o, now, msgs))
        got = (int)json_object_array_length(msgs);
    else if (q->fifo)
        got = receive_fifo(q, &o, now, msgs);
    else
        got = receive_standard(q, &o, now, msgs);
    if (o.attempt && got > 0)
        attempt_store(q, &o, now, msgs);
    if (got == 0) {
        json_object_put(msgs);
        return 0;
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "Messages", msgs);
    return got;
}

nb_status sqs_receive_message(nb_call *call, json_object *in)
{
    recv_opts o;
    int64_t wait;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q || parse_opts(call, q, in, &o) != NB_OK)
        return NB_ERROR;
    if (sqs_get_int(in, "WaitTimeSeconds", &wait)) {
        if (wait < 0 || wait > SQS_MAX_WAIT)
            return sqs_fail_invalid(call, "Value %lld for parameter WaitTimeSeconds is invalid. "
                                    "Reason: Must be >= 0 and <= 20, if provided.",
                                    (long long)wait);
    } else {
        wait = q->wait;
    }
    json_object *out;
    int got = sqs_receive_once(call, q, in, call->now_ms, &out);
    if (got < 0)
        return NB_ERROR;
    if (got > 0 || wait == 0) {
        call->out = out;
        return NB_OK;
    }
    return sqs_wait_park(call, q, in, (int)wait);
}

/* ---- counts and wake-up times -------------------------------------------- */

void sqs_queue_counts(const sqs_queue *q, int64_t now, int64_t c[3])
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT TOTAL(visible_at <= ?1),"
                                   " TOTAL(visible_at > ?1 AND receive_count > 0),"
                                   " TOTAL(visible_at > ?1 AND receive_count = 0)"
                                   " FROM sqs_messages WHERE queue_id=?2 AND expires_at > ?1");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, q->id);
    c[0] = c[1] = c[2] = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < 3; i++)
            c[i] = (int64_t)sqlite3_column_double(st, i);
    sqlite3_reset(st);
}

int64_t sqs_queue_next_visible(const sqs_queue *q, int64_t now)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT MIN(visible_at) FROM sqs_messages"
                                   " WHERE queue_id=? AND visible_at > ?");
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_int64(st, 2, now);
    int64_t t = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        t = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return t;
}

/* ---- DeleteMessage / ChangeMessageVisibility ----------------------------- */

static void set_err(sqs_err *e, const char *code, const char *msg)
{
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
}

static bool handle_for(const sqs_queue *q, const char *rh, handle *h, sqs_err *e)
{
    if (rh && rh_decode(rh, h) && h->qid == q->id)
        return true;
    snprintf(e->code, sizeof e->code, "ReceiptHandleIsInvalid");
    snprintf(e->msg, sizeof e->msg, "The input receipt handle \"%s\" is not a valid receipt "
             "handle.", rh ? rh : "");
    return false;
}

typedef struct msg_state {
    bool found;
    uint64_t nonce;
    int64_t visible_at, recv_ms;
} msg_state;

static msg_state lookup(const sqs_queue *q, int64_t seq)
{
    static sqlite3_stmt *s;
    msg_state m = {0};
    sqlite3_stmt *st = nb_stmt(&s, "SELECT nonce, visible_at, recv_ms FROM sqs_messages"
                                   " WHERE seq=? AND queue_id=?");
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, q->id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        m.found = true;
        m.nonce = (uint64_t)sqlite3_column_int64(st, 0);
        m.visible_at = sqlite3_column_int64(st, 1);
        m.recv_ms = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return m;
}

static bool do_delete(sqs_queue *q, const char *rh, int64_t now, sqs_err *e)
{
    handle h;
    if (!handle_for(q, rh, &h, e))
        return false;
    msg_state m = lookup(q, h.seq);
    if (!m.found)
        return true;
    if (q->fifo && (m.nonce != h.nonce || m.visible_at <= now)) {
        snprintf(e->code, sizeof e->code, "InvalidParameterValue");
        snprintf(e->msg, sizeof e->msg, "Value %s for parameter ReceiptHandle is invalid. "
                 "Reason: The receipt handle has expired.", rh);
        return false;
    }
    delete_seq(h.seq);
    if (q->fifo)
        sqs_wait_touch(q);
    return true;
}

static bool do_change(sqs_queue *q, const char *rh, int64_t t, int64_t now, sqs_err *e)
{
    handle h;
    if (t < 0 || t > SQS_MAX_VISIBILITY) {
        set_err(e, "InvalidParameterValue", "");
        snprintf(e->msg, sizeof e->msg, "Value %lld for parameter VisibilityTimeout is invalid. "
                 "Reason: Must be between 0 and 43200, if provided.", (long long)t);
        return false;
    }
    if (!handle_for(q, rh, &h, e))
        return false;
    msg_state m = lookup(q, h.seq);
    if (!m.found || m.nonce != h.nonce) {
        set_err(e, "InvalidParameterValue", "");
        snprintf(e->msg, sizeof e->msg, "Value %s for parameter ReceiptHandle is invalid. Reason: "
                 "Message does not exist or is not available for visibility timeout change.", rh);
        return false;
    }
    if (q->fifo && m.visible_at <= now) {
        set_err(e, "MessageNotInflight", "The specified message isn't in flight.");
        return false;
    }
    if (now + t * 1000 - m.recv_ms > (int64_t)SQS_MAX_VISIBILITY * 1000) {
        set_err(e, "InvalidParameterValue", "");
        snprintf(e->msg, sizeof e->msg, "Value %lld for parameter VisibilityTimeout is invalid. "
                 "Reason: Total VisibilityTimeout for the message is beyond the limit [43200 "
                 "seconds]", (long long)t);
        return false;
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sqs_messages SET visible_at=? WHERE seq=?");
    sqlite3_bind_int64(st, 1, now + t * 1000);
    sqlite3_bind_int64(st, 2, h.seq);
    sqlite3_step(st);
    sqs_wait_touch(q);
    return true;
}

static nb_status fail_err(nb_call *call, const sqs_err *e)
{
    return nb_fail(call, e->code, "%s", e->msg);
}

nb_status sqs_delete_message(nb_call *call, json_object *in)
{
    sqs_err e;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    const char *rh = nb_str(in, "ReceiptHandle");
    if (!rh)
        return sqs_fail_missing(call, "ReceiptHandle");
    return do_delete(q, rh, call->now_ms, &e) ? NB_OK : fail_err(call, &e);
}

nb_status sqs_change_message_visibility(nb_call *call, json_object *in)
{
    sqs_err e;
    int64_t t;
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q)
        return NB_ERROR;
    const char *rh = nb_str(in, "ReceiptHandle");
    if (!rh)
        return sqs_fail_missing(call, "ReceiptHandle");
    if (!sqs_get_int(in, "VisibilityTimeout", &t))
        return sqs_fail_missing(call, "VisibilityTimeout");
    return do_change(q, rh, t, call->now_ms, &e) ? NB_OK : fail_err(call, &e);
}

typedef bool (*entry_fn)(sqs_queue *q, json_object *entry, int64_t now, sqs_err *e);

static bool delete_entry(sqs_queue *q, json_object *entry, int64_t now, sqs_err *e)
{
    return do_delete(q, nb_str(entry, "ReceiptHandle"), now, e);
}

static bool change_entry(sqs_queue *q, json_object *entry, int64_t now, sqs_err *e)
{
    int64_t t = 0;
    if (!sqs_get_int(entry, "VisibilityTimeout", &t))
        t = 0;
    return do_change(q, nb_str(entry, "ReceiptHandle"), t, now, e);
}

static nb_status run_batch(nb_call *call, json_object *in, const char *shape, entry_fn fn)
{
    json_object *entries = nb_get(in, "Entries");
    sqs_queue *q = sqs_queue_from_url(call, in);
    if (!q || sqs_batch_check(call, entries, shape) != NB_OK)
        return NB_ERROR;
    json_object *ok = json_object_new_array(), *failed = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        json_object *entry = json_object_array_get_idx(entries, i);
        const char *id = nb_str(entry, "Id");
        sqs_err e;
        if (fn(q, entry, call->now_ms, &e)) {
            json_object *r = json_object_new_object();
            json_object_object_add(r, "Id", json_object_new_string(id));
            json_object_array_add(ok, r);
        } else {
            json_object_array_add(failed, sqs_batch_failure(id, e.code, e.msg, true));
        }
    }
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Successful", ok);
    json_object_object_add(call->out, "Failed", failed);
    return NB_OK;
}

nb_status sqs_delete_message_batch(nb_call *call, json_object *in)
{
    return run_batch(call, in, "DeleteMessageBatchRequestEntry", delete_entry);
}

nb_status sqs_change_message_visibility_batch(nb_call *call, json_object *in)
{
    return run_batch(call, in, "ChangeMessageVisibilityBatchRequestEntry", change_entry);
}
