/*
 * sfn_activity.c — activities: CreateActivity, DescribeActivity,
 * DeleteActivity, ListActivities and the worker side, GetActivityTask.
 *
 * Storage: sfn_activities(arn PK, account, region, name, created_ms); tags
 * share sfn_tags with state machines.
 *
 * The tasks themselves live in the engine (sfn_exec.c): a Task state whose
 * Resource is an activity ARN leaves its frame TASK with a token and no
 * worker (queued, persisted with the execution).  GetActivityTask takes the
 * oldest queued task of its activity; when there is none the call is parked
 * here as a poller with its own uv_timer (60 s, AWS's long poll;
 * NIMBUS_SFN_ACTIVITY_POLL_S shortens it for tests) and answered by
 * sfn_activity_wake() when the engine schedules a task, or with an empty
 * taskToken when the timer fires.  Nothing blocks.
 *
 * Ownership: a poller is unlinked before its call is answered; its memory
 * is freed in its timer's close callback.  on_cancel (client gone, server
 * stopping) unlinks and closes without answering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_internal.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS sfn_activities(arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,"
    " name TEXT NOT NULL, created_ms INTEGER NOT NULL);";

typedef struct poller {
    struct poller *next;
    nb_call *call;
    char *arn, *worker;
    uv_timer_t timer;
} poller;

static poller *g_pollers;

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *jtime(int64_t ms)
{
    return json_object_new_double((double)ms / 1000.0);
}

/* arn:aws:states:REGION:ACCOUNT:activity:NAME */
static bool activity_arn(const char *arn)
{
    if (!arn || strncmp(arn, "arn:", 4))
        return false;
    const char *p = arn;
    for (int i = 0; i < 5; i++) {
        p = strchr(p, ':');
        if (!p)
            return false;
        p++;
    }
    return !strncmp(p, "activity:", 9) && p[9] && !strchr(p + 9, ':');
}

static nb_status bad_arn(nb_call *call, const char *arn)
{
    return nb_fail(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn ? arn : "");
}

static nb_status no_activity(nb_call *call, const char *arn)
{
    return nb_fail(call, "ActivityDoesNotExist", "Activity Does Not Exist: '%s'", arn);
}

/* The activity's creation time, or -1. */
static int64_t activity_created(const char *arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT created_ms FROM sfn_activities WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    int64_t created = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return created;
}

bool sfn_activity_exists(const char *arn)
{
    return activity_arn(arn) && activity_created(arn) >= 0;
}

int sfn_activity_tag_target(nb_call *call, const char *arn)
{
    if (!activity_arn(arn))
        return 0;
    if (activity_created(arn) < 0) {
        nb_fail(call, "ResourceNotFound", "Resource not found: '%s'", arn);
        return -1;
    }
    return 1;
}

/* ---- control plane ------------------------------------------------------------------- */

static void created_out(nb_call *call, const char *arn, int64_t created)
{
    call->out = json_object_new_object();
    json_object_object_add(call->out, "activityArn", jstr(arn));
    json_object_object_add(call->out, "creationDate", jtime(created));
}

/* Idempotent by name: an existing activity is returned as it is (AWS
 * ignores differing tags). */
nb_status sfn_create_activity(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "name");
    if (!name || !sfn_name_ok(name))
        return nb_fail(call, "InvalidName", "Invalid Name: '%s'", name ? name : "");
    char arn[400];
    snprintf(arn, sizeof arn, "arn:aws:states:%s:%s:activity:%s", call->region, call->account, name);
    int64_t created = activity_created(arn);
    if (created >= 0) {
        created_out(call, arn, created);
        return NB_OK;
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO sfn_activities(arn, account, region, name, created_ms) VALUES(?,?,?,?,?)");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, call->account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, call->region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, call->now_ms);
    sqlite3_step(st);
    sqlite3_reset(st);
    sfn_put_tags(arn, nb_get(in, "tags"));
    created_out(call, arn, call->now_ms);
    return NB_OK;
}

nb_status sfn_describe_activity(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "activityArn");
    if (!activity_arn(arn))
        return bad_arn(call, arn);
    int64_t created = activity_created(arn);
    if (created < 0)
        return no_activity(call, arn);
    created_out(call, arn, created);
    json_object_object_add(call->out, "name", jstr(strrchr(arn, ':') + 1));
    return NB_OK;
}

/* Deleting an activity that does not exist succeeds (AWS lists no
 * ActivityDoesNotExist for DeleteActivity). */
nb_status sfn_delete_activity(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "activityArn");
    if (!activity_arn(arn))
        return bad_arn(call, arn);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sfn_activities WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    sfn_drop_tags(arn);
    return NB_OK;
}

static json_object *activity_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "activityArn", jstr(sfn_col(st, 0)));
    json_object_object_add(o, "name", jstr(sfn_col(st, 1)));
    json_object_object_add(o, "creationDate", jtime(sqlite3_column_int64(st, 2)));
    return o;
}

nb_status sfn_list_activities(nb_call *call, json_object *in)
{
    int64_t off, lim;
    if (!sfn_page(call, in, &off, &lim))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT arn, name, created_ms FROM sfn_activities WHERE account = ? AND region = ?"
                                   " ORDER BY name LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, lim + 1);
    sqlite3_bind_int64(st, 4, off);
    return sfn_page_out(call, st, "activities", off, lim, activity_row);
}

/* ---- GetActivityTask ------------------------------------------------------------------- */

static void poller_unlink(poller *p)
{
    for (poller **q = &g_pollers; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            return;
        }
}

static void poller_free_cb(uv_handle_t *h)
{
    poller *p = h->data;
    free(p->arn);
    free(p->worker);
    free(p);
}

static void poller_release(poller *p)
{
    poller_unlink(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, poller_free_cb);
}

/* The output: a task, or (token NULL) the empty answer of a poll that
 * found none. */
static json_object *task_out(char *token, char *input)
{
    json_object *o = json_object_new_object();
    if (token) {
        json_object_object_add(o, "taskToken", jstr(token));
        json_object_object_add(o, "input", jstr(input));
    }
    free(token);
    free(input);
    return o;
}

static void poller_answer(poller *p, char *token, char *input)
{
    nb_call *call = p->call;
    poller_release(p);
    call->on_cancel = NULL;
    call->park = NULL;
    call->out = task_out(token, input);
    nb_call_done(call, NB_OK);
}

static void poll_timeout_cb(uv_timer_t *t)
{
    poller_answer(t->data, NULL, NULL);
}

static void poll_cancel(nb_call *call)
{
    poller *p = call->park;
    if (!p)
        return;
    call->park = NULL;
    call->on_cancel = NULL;
    poller_release(p);
}

void sfn_activity_wake(const char *arn)
{
    for (poller *p = g_pollers; p; p = p->next) {
        if (strcmp(p->arn, arn))
            continue;
        char *token, *input;
        if (sfn_exec_take_activity(arn, p->worker, &token, &input))
            poller_answer(p, token, input);
        return;
    }
}

static uint64_t poll_ms(void)
{
    const char *e = getenv("NIMBUS_SFN_ACTIVITY_POLL_S");
    if (e && *e) {
        double s = strtod(e, NULL);
        if (s >= 0 && s <= 60)
            return (uint64_t)(s * 1000);
    }
    return 60000;
}

nb_status sfn_get_activity_task(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "activityArn"), *worker = nb_str(in, "workerName");
    if (!activity_arn(arn))
        return bad_arn(call, arn);
    if (activity_created(arn) < 0)
        return no_activity(call, arn);
    char *token, *input;
    if (sfn_exec_take_activity(arn, worker ? worker : "", &token, &input)) {
        call->out = task_out(token, input);
        return NB_OK;
    }
    int n = 0;
    for (poller *p = g_pollers; p; p = p->next)
        n += !strcmp(p->arn, arn);
    if (n >= 1000) /* AWS's limit of concurrent pollers per activity */
        return nb_fail(call, "ActivityWorkerLimitExceeded", "The maximum number of workers concurrently polling for"
                                                            " activity tasks has been reached.");
    poller *p = nb_calloc(1, sizeof *p);
    p->call = call;
    p->arn = nb_strdup(arn);
    p->worker = nb_strdup(worker ? worker : "");
    uv_timer_init(nb_loop(), &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, poll_timeout_cb, poll_ms(), 0);
    poller **tail = &g_pollers; /* FIFO: the longest-waiting worker gets the next task */
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    call->park = p;
    call->on_cancel = poll_cancel;
    return NB_PENDING;
}

int sfn_activity_init(void)
{
    if (nb_exec(SCHEMA) != 0)
        return -1;
    nb_store_register_table("sfn_activities");
    return 0;
}

/* Answer every poller empty (their timers are closed by then). */
void sfn_activity_shutdown(void)
{
    while (g_pollers)
        poller_answer(g_pollers, NULL, NULL);
}
