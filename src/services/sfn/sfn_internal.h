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
 * SendTaskHeartbeat for a waiting .waitForTaskToken task; -1 when no task
 * waits with that token. */
int sfn_task_token(const char *token, json_object *output, const char *error, const char *cause, bool heartbeat);

int sfn_exec_init(void);     /* resume stored executions */
void sfn_exec_reset(void);
void sfn_exec_shutdown(void);

const char *sfn_col(sqlite3_stmt *st, int i);
void sfn_iso(int64_t ms, char *out, size_t n);

#endif
