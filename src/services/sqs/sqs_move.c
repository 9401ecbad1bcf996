/*
 * sqs_move.c — message move tasks: StartMessageMoveTask,
 * CancelMessageMoveTask, ListMessageMoveTasks.
 *
 * Schema: sqs_move_tasks(task_id PK, handle, source_arn, dest_arn (NULL =
 * back to each message's DeadLetterQueueSourceArn), rate (0 = unset),
 * status RUNNING|COMPLETED|CANCELLED|FAILED, moved, to_move, max_seq (only
 * messages stored before the start move), failure, started_ms).
 *
 * A repeating libuv timer (MOVE_TICK_MS) runs while some task is RUNNING;
 * each tick, inside its own savepoint, moves for every running task the
 * visible source messages it is allowed to move by now: with a rate R,
 * 1 + elapsed*R/1000 in total (the first one at once), else up to
 * MOVE_BURST per tick.  A task whose source or destination disappeared
 * FAILs with AWS.SimpleQueueService.NonExistentQueue; one with nothing left
 * is COMPLETED.  Task handles are base64 of {"taskId":..,"sourceArn":..}
 * as AWS's are.  Progress lives in SQLite, so tasks resume after restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs_internal.h"

#define MOVE_TICK_MS 100
#define MOVE_BURST 500
#define MAX_RATE 500

static uv_timer_t g_move;
static bool g_move_ready, g_move_on;

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS sqs_move_tasks("
    " task_id TEXT PRIMARY KEY, handle TEXT NOT NULL, source_arn TEXT NOT NULL, dest_arn TEXT,"
    " rate INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, moved INTEGER NOT NULL DEFAULT 0,"
    " to_move INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL, failure TEXT,"
    " started_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sqs_move_tasks_src ON sqs_move_tasks(source_arn, started_ms);";

int sqs_move_init(void)
{
    return nb_exec(SCHEMA);
}

/* ---- one task step ------------------------------------------------------- */

typedef struct task {
    char id[40];
    char source[192], dest[192];
    int64_t rate, moved, max_seq, started;
} task;

static void task_update(const task *t, const char *status, const char *failure)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sqs_move_tasks SET moved=?, status=?, failure=?"
                                   " WHERE task_id=?");
    sqlite3_bind_int64(st, 1, t->moved);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    if (failure)
        sqlite3_bind_text(st, 3, failure, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, t->id, -1, SQLITE_STATIC);
    sqlite3_step(st);
}

typedef struct pending {
    int64_t seq;
    char src[192];
} pending;

static int next_batch(const sqs_queue *src, const task *t, int64_t now, int limit, pending *out)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT seq, dlq_source FROM sqs_messages WHERE queue_id=?"
                                   " AND seq <= ? AND visible_at <= ? ORDER BY seq LIMIT ?");
    sqlite3_bind_int64(st, 1, src->id);
    sqlite3_bind_int64(st, 2, t->max_seq);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, limit);
    int n = 0;
    while (n < limit && sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 1);
        out[n].seq = sqlite3_column_int64(st, 0);
        snprintf(out[n].src, sizeof out[n].src, "%s", d ? d : "");
        n++;
    }
    sqlite3_reset(st);
    return n;
}

static const char *const GONE = "AWS.SimpleQueueService.NonExistentQueue";

/* Move up to `allowed` messages; returns the final status or NULL. */
static const char *task_move(task *t, const sqs_queue *src, int64_t now, int allowed)
{
    pending batch[64];
    while (allowed > 0) {
        int want = allowed < 64 ? allowed : 64;
        int n = next_batch(src, t, now, want, batch);
        for (int i = 0; i < n; i++) {
            sqs_queue *dst = sqs_queue_by_arn(t->dest[0] ? t->dest : batch[i].src);
            if (!dst || sqs_msg_copy(batch[i].seq, dst, now, NULL) != 0)
                return "FAILED";
            sqs_wait_touch(dst);
            t->moved++;
        }
        if (n < want)
            return "COMPLETED";
        allowed -= n;
    }
    return NULL;
}

static void task_step(task *t, int64_t now)
{
    sqs_queue *src = sqs_queue_by_arn(t->source);
    if (!src || (t->dest[0] && !sqs_queue_by_arn(t->dest))) {
        task_update(t, "FAILED", GONE);
        return;
    }
    int64_t allowed = MOVE_BURST;
    if (t->rate > 0)
        allowed = 1 + (now - t->started) * t->rate / 1000 - t->moved;
    if (allowed <= 0)
        return;
    int64_t before = t->moved;
    const char *status = task_move(t, src, now, (int)(allowed > MOVE_BURST ? MOVE_BURST : allowed));
    if (status)
        task_update(t, status, !strcmp(status, "FAILED") ? GONE : NULL);
    else if (t->moved != before)
        task_update(t, "RUNNING", NULL);
}

/* ---- timer --------------------------------------------------------------- */

static int load_running(task *tasks, int max)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT task_id, source_arn, dest_arn, rate, moved, max_seq,"
                                   " started_ms FROM sqs_move_tasks WHERE status='RUNNING'"
                                   " ORDER BY started_ms LIMIT ?");
    sqlite3_bind_int(st, 1, max);
    int n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        task *t = &tasks[n++];
        const char *d = (const char *)sqlite3_column_text(st, 2);
        snprintf(t->id, sizeof t->id, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(t->source, sizeof t->source, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(t->dest, sizeof t->dest, "%s", d ? d : "");
        t->rate = sqlite3_column_int64(st, 3);
        t->moved = sqlite3_column_int64(st, 4);
        t->max_seq = sqlite3_column_int64(st, 5);
        t->started = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return n;
}

static void move_cb(uv_timer_t *h)
{
    task tasks[32];
    (void)h;
    int64_t now = nb_now_ms();
    nb_store_call_begin();
    int n = load_running(tasks, 32);
    for (int i = 0; i < n; i++)
        task_step(&tasks[i], now);
    nb_store_call_end(true);
    if (n == 0)
        sqs_move_stop();
}

static void move_start(void)
{
    if (!g_move_ready) {
        uv_timer_init(nb_loop(), &g_move);
        g_move_ready = true;
    }
    if (!g_move_on) {
        uv_timer_start(&g_move, move_cb, 0, MOVE_TICK_MS);
        g_move_on = true;
    }
}

void sqs_move_stop(void)
{
    if (g_move_on)
        uv_timer_stop(&g_move);
    g_move_on = false;
}

void sqs_move_shutdown(void)
{
    sqs_move_stop();
    if (g_move_ready)
        uv_close((uv_handle_t *)&g_move, NULL);
    g_move_ready = false;
}

void sqs_move_resume(void)
{
    task t;
    if (load_running(&t, 1) > 0)
        move_start();
}

/* ---- handlers ------------------------------------------------------------ */

static nb_status not_found(nb_call *call, const char *param)
{
    return nb_fail_status(call, 404, true, "ResourceNotFoundException",
                          "The resource that you specified for the %s parameter doesn't exist.",
                          param);
}

static bool is_dead_letter_queue(const sqs_queue *q)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT 1 FROM sqs_queues WHERE dlq_arn=? LIMIT 1");
    sqlite3_bind_text(st, 1, q->arn, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

static bool has_running(const char *arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT 1 FROM sqs_move_tasks WHERE source_arn=? AND"
                                   " status='RUNNING' LIMIT 1");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

static void source_span(const sqs_queue *q, int64_t *max_seq, int64_t *count)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT MAX(seq), COUNT(*) FROM sqs_messages WHERE queue_id=?");
    sqlite3_bind_int64(st, 1, q->id);
    *max_seq = *count = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *max_seq = sqlite3_column_int64(st, 0);
        *count = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
}

static char *handle_encode(const char *id, const char *arn)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "taskId", json_object_new_string(id));
    json_object_object_add(o, "sourceArn", json_object_new_string(arn));
    const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    size_t n = 0;
    char *b = nb_base64_encode(txt, strlen(txt), &n);
    json_object_put(o);
    return b;
}

static nb_status start_checks(nb_call *call, json_object *in, sqs_queue **src, int64_t *rate)
{
    const char *sarn = nb_str(in, "SourceArn"), *darn = nb_str(in, "DestinationArn");
    *src = sqs_queue_by_arn(sarn);
    if (!*src)
        return not_found(call, "SourceArn");
    if (!is_dead_letter_queue(*src))
        return sqs_fail_invalid(call, "Source queue must be configured as a Dead Letter Queue.");
    if (darn && *darn && !sqs_queue_by_arn(darn))
        return not_found(call, "DestinationArn");
    *rate = 0;
    if (sqs_get_int(in, "MaxNumberOfMessagesPerSecond", rate) && (*rate < 1 || *rate > MAX_RATE))
        return sqs_fail_invalid(call, "Value %lld for parameter MaxNumberOfMessagesPerSecond is "
                                "invalid. Reason: You must enter a number that's between 1 and "
                                "500.", (long long)*rate);
    if (has_running((*src)->arn))
        return sqs_fail_invalid(call, "There is already a task running. Only one active task is "
                                "allowed for a source queue arn at a given time.");
    return NB_OK;
}

nb_status sqs_start_message_move_task(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    sqs_queue *src;
    int64_t rate, max_seq, count;
    if (start_checks(call, in, &src, &rate) != NB_OK)
        return NB_ERROR;
    const char *darn = nb_str(in, "DestinationArn");
    char id[37];
    nb_uuid(id);
    char *handle = handle_encode(id, src->arn);
    source_span(src, &max_seq, &count);
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO sqs_move_tasks(task_id, handle, source_arn,"
                                   " dest_arn, rate, status, to_move, max_seq, started_ms)"
                                   " VALUES(?,?,?,?,?,'RUNNING',?,?,?)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, handle, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, src->arn, -1, SQLITE_STATIC);
    if (darn && *darn)
        sqlite3_bind_text(st, 4, darn, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, rate);
    sqlite3_bind_int64(st, 6, count);
    sqlite3_bind_int64(st, 7, max_seq);
    sqlite3_bind_int64(st, 8, call->now_ms);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    if (ok) {
        call->out = json_object_new_object();
        json_object_object_add(call->out, "TaskHandle", json_object_new_string(handle));
        move_start();
    }
    free(handle);
    return ok ? NB_OK : nb_fail_status(call, 500, false, "InternalFailure", "Internal error.");
}

/* Task id and source ARN from a handle; false when it is not one. */
static bool handle_decode(const char *h, char id[40], char arn[192])
{
    size_t n = 0;
    unsigned char *raw = h ? nb_base64_decode(h, strlen(h), &n) : NULL;
    char *txt = raw ? nb_strndup((const char *)raw, n) : NULL;
    json_object *o = txt ? json_tokener_parse(txt) : NULL;
    bool ok = false;
    if (o && json_object_is_type(o, json_type_object)) {
        const char *t = nb_str(o, "taskId"), *a = nb_str(o, "sourceArn");
        if (t && a) {
            snprintf(id, 40, "%s", t);
            snprintf(arn, 192, "%s", a);
            ok = true;
        }
    }
    json_object_put(o);
    free(txt);
    free(raw);
    return ok;
}

nb_status sqs_cancel_message_move_task(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s, *u;
    char id[40], arn[192];
    if (!handle_decode(nb_str(in, "TaskHandle"), id, arn))
        return sqs_fail_invalid(call, "Value for parameter TaskHandle is invalid.");
    if (!sqs_queue_by_arn(arn))
        return not_found(call, "SourceArn");
    sqlite3_stmt *st = nb_stmt(&s, "SELECT status, moved FROM sqs_move_tasks WHERE task_id=? AND"
                                   " source_arn=?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, arn, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        return nb_fail_status(call, 404, true, "ResourceNotFoundException", "Task does not exist.");
    bool running = !strcmp((const char *)sqlite3_column_text(st, 0), "RUNNING");
    int64_t moved = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (!running)
        return sqs_fail_invalid(call, "Only tasks with status RUNNING can be cancelled.");
    st = nb_stmt(&u, "UPDATE sqs_move_tasks SET status='CANCELLED' WHERE task_id=?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "ApproximateNumberOfMessagesMoved", json_object_new_int64(moved));
    return NB_OK;
}

static json_object *task_entry(sqlite3_stmt *st)
{
    json_object *e = json_object_new_object();
    const char *status = (const char *)sqlite3_column_text(st, 1);
    if (!strcmp(status, "RUNNING"))
        json_object_object_add(e, "TaskHandle",
                               json_object_new_string((const char *)sqlite3_column_text(st, 0)));
    json_object_object_add(e, "Status", json_object_new_string(status));
    json_object_object_add(e, "SourceArn",
                           json_object_new_string((const char *)sqlite3_column_text(st, 2)));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL)
        json_object_object_add(e, "DestinationArn",
                               json_object_new_string((const char *)sqlite3_column_text(st, 3)));
    if (sqlite3_column_int64(st, 4) > 0)
        json_object_object_add(e, "MaxNumberOfMessagesPerSecond",
                               json_object_new_int64(sqlite3_column_int64(st, 4)));
    json_object_object_add(e, "ApproximateNumberOfMessagesMoved",
                           json_object_new_int64(sqlite3_column_int64(st, 5)));
    json_object_object_add(e, "ApproximateNumberOfMessagesToMove",
                           json_object_new_int64(sqlite3_column_int64(st, 6)));
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        json_object_object_add(e, "FailureReason",
                               json_object_new_string((const char *)sqlite3_column_text(st, 7)));
    json_object_object_add(e, "StartedTimestamp", json_object_new_int64(sqlite3_column_int64(st, 8)));
    return e;
}

nb_status sqs_list_message_move_tasks(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    const char *arn = nb_str(in, "SourceArn");
    int64_t max = 1;
    if (!sqs_queue_by_arn(arn))
        return not_found(call, "SourceArn");
    if (sqs_get_int(in, "MaxResults", &max) && (max < 1 || max > 10))
        return sqs_fail_invalid(call, "Value %lld for parameter MaxResults is invalid. Reason: You "
                                "must enter a number that's between 1 and 10.", (long long)max);
    sqlite3_stmt *st = nb_stmt(&s, "SELECT handle, status, source_arn, dest_arn, rate, moved,"
                                   " to_move, failure, started_ms FROM sqs_move_tasks"
                                   " WHERE source_arn=? ORDER BY started_ms DESC, rowid DESC"
                                   " LIMIT ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max);
    json_object *results = json_object_new_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_array_add(results, task_entry(st));
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Results", results);
    return NB_OK;
}
