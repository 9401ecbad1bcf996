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
    /* Optional: called exactly once, when the execution ends (status set)
     * or is dropped unfinished (status NULL, at reset or shutdown).  Used
     * by TestState (sfn_test_state.c), which runs a one-state EXPRESS
     * machine. */
    void (*done)(void *arg, const char *status, json_object *output, const char *error, const char *cause);
    void *done_arg;
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

/* Pagination shared by the List* operations (sfn.c): nextToken is the
 * offset; sfn_page_out emits up to lim rows of st under key. */
bool sfn_page(nb_call *call, json_object *in, int64_t *off, int64_t *lim);
nb_status sfn_page_out(nb_call *call, sqlite3_stmt *st, const char *key, int64_t off, int64_t lim,
                       json_object *(*row)(sqlite3_stmt *));

/* ---- versions and aliases (sfn_version.c) ----------------------------------
 *   sfn_versions(sm_arn, version, definition, role, revision, description,
 *                created_ms)          PK(sm_arn, version)
 *   sfn_version_seq(sm_arn PK, last)  version numbers are never reused
 *   sfn_aliases(arn PK, sm_arn, name, description, routing (JSON text of
 *               routingConfiguration), created_ms, updated_ms)
 *   sfn_exec_links(exec_arn PK, version_arn, alias_arn, revision): what a
 *               STANDARD execution started from a version or alias ran. */
typedef struct sfn_target {
    char base[400];         /* the unqualified state machine ARN */
    char version[420];      /* the version that runs */
    char alias[420];        /* the alias it was picked by, or "" */
    char revision[40];
    char *definition, *role, *description; /* the version's (owned) */
    int64_t created_ms;
} sfn_target;

int sfn_version_init(void);
/* arn qualified by a version number (NAME:3) or, when alias_ok, an alias
 * (NAME:prod, a version picked by the routing weights): 1 with t filled,
 * 0 when arn is not qualified, -1 after nb_fail. */
int sfn_qualified(nb_call *call, const char *arn, bool alias_ok, sfn_target *t);
void sfn_target_free(sfn_target *t);
/* CreateStateMachine/UpdateStateMachine: versionDescription needs
 * publish (false after nb_fail); after the change, publish when asked
 * (adds stateMachineVersionArn to call->out). */
bool sfn_publish_check(nb_call *call, json_object *in);
bool sfn_publish_after(nb_call *call, json_object *in, const char *arn);
/* An execution started from t; DescribeExecution's version/alias ARNs;
 * DeleteStateMachine drops versions and aliases. */
void sfn_exec_link(const char *exec_arn, const sfn_target *t);
void sfn_exec_link_describe(json_object *out, const char *exec_arn);
/* DescribeStateMachineForExecution: the revisionId of the version that ran. */
void sfn_exec_link_describe_sm(json_object *out, const char *exec_arn);
void sfn_versions_drop(const char *sm_arn);
/* ListExecutions given a version or alias ARN: true with *st set (the
 * executions started from it, or an error). */
bool sfn_list_execs_qualified(nb_call *call, json_object *in, nb_status *st);

nb_status sfn_publish_version(nb_call *call, json_object *in);
nb_status sfn_list_versions(nb_call *call, json_object *in);
nb_status sfn_delete_version(nb_call *call, json_object *in);
nb_status sfn_create_alias(nb_call *call, json_object *in);
nb_status sfn_describe_alias(nb_call *call, json_object *in);
nb_status sfn_update_alias(nb_call *call, json_object *in);
nb_status sfn_delete_alias(nb_call *call, json_object *in);
nb_status sfn_list_aliases(nb_call *call, json_object *in);

/* TestState (sfn_test_state.c). */
nb_status sfn_test_state(nb_call *call, json_object *in);

#endif
