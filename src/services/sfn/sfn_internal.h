/*
 * sfn_internal.h — Step Functions internals shared by the control plane
 * (sfn.c) and the executor (sfn_exec.c).
 *
 * Storage:
 *   sfn_machines(arn PK, account, region, name, type, definition, role,
 *                created_ms, updated_ms, revision, description)
 *   sfn_tags(arn, k, v)
 *   sfn_execs(id PK, arn UNIQUE, sm_arn, name, status, input, output, error,
 *             cause, start_ms, stop_ms, definition, role, snapshot, account,
 *             region, host)
 *     snapshot: the running execution's frames (JSON, see sfn_exec.c),
 *     rewritten at the end of every run of the executor in the same
 *     transaction as the history rows it produced; NULL once finished.
 *   sfn_history(exec_id, id, prev, type, ts_ms, detail)
 *   sfn_activities(arn PK, account, region, name, created_ms)   (sfn_activity.c)
 *   sfn_redrive(exec_id PK, count, date_ms, snapshot)            (sfn_exec.c)
 *     snapshot: the frames of a FAILED/TIMED_OUT/ABORTED execution at its
 *     end, the point RedriveExecution continues from (NULL when the end is
 *     not redrivable, e.g. the history limit); count/date once redriven.
 *
 * Invariants: a STANDARD execution with status RUNNING has a snapshot and,
 * while the process runs, one in-memory sx_exec.  EXPRESS executions are
 * never stored (like AWS, they have no history).
 */
#ifndef NB_SFN_INTERNAL_H
#define NB_SFN_INTERNAL_H

#include <json-c/json.h>
#include <sqlite3.h>

#include "asl.h"
#include "core/nimbus.h"
#include "core/service.h"
#include "core/store.h"

#define SFN_MAX_PAYLOAD 262144

/* Start a STANDARD execution stored as row (its snapshot not yet written),
 * or an EXPRESS one in memory; sync != NULL parks that call until the end
 * (StartSyncExecution).  Returns 1 when sync finished at once (its out
 * is set), 0 when running, -1 for a definition without StartAt. */
typedef struct sfn_start {
    int64_t row;               /* 0 for EXPRESS */
    const char *arn, *sm_arn, *sm_name, *name, *role, *definition;
    json_object *input;        /* borrowed */
    int64_t start_ms;
    bool express;
} sfn_start;

int sfn_exec_start(const nb_call *ctx, const sfn_start *s, nb_call *sync);
/* StopExecution of a running STANDARD execution (row id). */
void sfn_exec_stop(int64_t row, const char *error, const char *cause, int64_t now_ms);

/* SendTaskSuccess (output), SendTaskFailure (error/cause) or
 * SendTaskHeartbeat for a waiting .waitForTaskToken or activity task;
 * -1 when no task waits with that token. */
int sfn_task_token(const char *token, json_object *output, const char *error, const char *cause, bool heartbeat);
/* A token nimbus could have issued (the check behind InvalidToken). */
bool sfn_token_well_formed(const char *token);

/* ---- activities (sfn_activity.c) ---- */
bool sfn_activity_exists(const char *arn);
/* The engine scheduled a task for activity arn: hand it to a waiting
 * GetActivityTask poller, if any. */
void sfn_activity_wake(const char *arn);
/* Hand the oldest task scheduled for activity arn to worker: its token and
 * input (new references / nb_strdup'ed); false when none is queued. */
bool sfn_exec_take_activity(const char *arn, const char *worker, char **token, char **input);
int sfn_activity_init(void);
void sfn_activity_shutdown(void);
nb_status sfn_create_activity(nb_call *call, json_object *in);
nb_status sfn_describe_activity(nb_call *call, json_object *in);
nb_status sfn_delete_activity(nb_call *call, json_object *in);
nb_status sfn_list_activities(nb_call *call, json_object *in);
nb_status sfn_get_activity_task(nb_call *call, json_object *in);
/* Tag operations on an activity ARN: 1 it exists, -1 failed (call has
 * the error), 0 not an activity ARN. */
int sfn_activity_tag_target(nb_call *call, const char *arn);

/* ---- redrive (sfn_exec.c) ---- */
nb_status sfn_redrive_execution(nb_call *call, json_object *in);
/* redriveCount, redriveDate, redriveStatus(+Reason) of execution row for
 * DescribeExecution / ListExecutions items. */
void sfn_redrive_fields(json_object *o, int64_t row, const char *status, int64_t stop_ms, bool describe);

int sfn_exec_init(void);     /* resume stored executions */
void sfn_exec_reset(void);
void sfn_exec_shutdown(void);

/* Pagination (nextToken is an offset) and tags, shared from sfn.c. */
bool sfn_page(nb_call *call, json_object *in, int64_t *off, int64_t *lim);
nb_status sfn_page_out(nb_call *call, sqlite3_stmt *st, const char *key, int64_t off, int64_t lim,
                       json_object *(*row)(sqlite3_stmt *));
void sfn_put_tags(const char *arn, json_object *tags);
void sfn_drop_tags(const char *arn);
bool sfn_name_ok(const char *name);

const char *sfn_col(sqlite3_stmt *st, int i);
void sfn_iso(int64_t ms, char *out, size_t n);

#endif
