/*
 * sfn_exec.c — the execution engine.  An execution is a set of frames: the
 * root frame runs the top-level machine; Parallel and Map states spawn one
 * child frame per branch or item and wait for them (phase CHILDREN).  A
 * frame is READY (enter its state), TASK (an internal call is out), WAIT
 * (a Wait state or a Retry back-off, until due_ms) or CHILDREN.
 *
 * Driving: everything runs on the event loop.  run() advances READY frames
 * until none is left; task completions (nb_invoke callbacks), the one
 * timer (the earliest due_ms over all executions) and StartExecution's
 * kick all end in run().  No thread per execution, no blocking.
 *
 * Durability (STANDARD): at the end of each run() the frames are written
 * as a JSON snapshot into the execution's row, in the same transaction as
 * the history rows that run produced; at start-up every RUNNING row is
 * loaded and resumed (a TASK frame re-runs its task: at-least-once, as
 * AWS documents for retries after infrastructure failures).
 *
 * Lifetime: an in-flight task holds a reference (pending); a stopped or
 * finished execution with tasks out is marked dead and freed when the last
 * callback returns.  At shutdown sfn runs before Lambda's hook (services.c
 * order) so the failures Lambda reports for killed invocations are
 * ignored, leaving the stored TASK frames to resume.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfn_internal.h"

typedef enum { PH_READY, PH_TASK, PH_WAIT, PH_CHILDREN } phase;

typedef struct frame {
    int id, parent, index;
    json_object *scope;     /* [[state, branch index], ...] from the root machine */
    json_object *machine;   /* borrowed from the definition */
    char *state;
    json_object *input;     /* the state's raw input */
    phase ph;
    int64_t due_ms;         /* WAIT: wake time; TASK: timeout (0 = none) */
    bool entered;           /* StateEntered written (a retry does not repeat it) */
    bool waiting_state;     /* WAIT for a Wait state (not a retry back-off) */
    json_object *attempts;  /* Retry counts per retrier */
    json_object *results;   /* CHILDREN: outputs by index */
    json_object *aux;       /* WAIT: the Wait state's output; TASK: effective input */
    json_object *item;      /* Map iteration: {"Index":..,"Value":..} */
    int pending;            /* CHILDREN left */
    int spawned;            /* CHILDREN of a Map with MaxConcurrency: items started (aux: the items) */
    int64_t last_event;
    char *token;            /* .waitForTaskToken or activity: this entry's task token */
    bool token_wait;        /* the call was made (activity: a worker has it); waiting for SendTask* */
    int64_t hb_ms;          /* TASK: heartbeat deadline (0 = none) */
    int64_t hb_secs;        /* TASK: HeartbeatSeconds in effect */
    int64_t sched_ms;       /* activity TASK: when scheduled (workers get the oldest first) */
    char *child;            /* startExecution.sync: the child execution's ARN once started */
    unsigned gen;           /* bumped when a task result would be stale */
    bool gone;
} frame;

typedef struct sx_exec {
    struct sx_exec *next;
    int64_t row;
    char *arn, *sm_arn, *sm_name, *name, *role;
    json_object *def, *input;
    int64_t start_ms;
    int64_t deadline_ms;    /* the definition's TimeoutSeconds, or 0 */
    int64_t redrives, redrive_ms; /* $$.Execution.RedriveCount / RedriveTime */
    json_object *redrive_hint; /* the frames when a branch's failure began to propagate (see frame_error) */
    bool express, running, finished, dead;
    nb_call ctx;            /* account, region, host for internal calls */
    nb_call *sync;          /* StartSyncExecution waiting */
    frame **frames;
    int nframes, cap, next_fid;
    int64_t next_event;
    int invokes;            /* internal calls out */
    void (*done)(void *, const char *, json_object *, const char *, const char *); /* sfn_start.done */
    void *done_arg;
} sx_exec;

static sx_exec *g_execs;
static nb_call *g_inline;      /* the StartSyncExecution call being run inline */
static bool g_inline_done;
static uv_timer_t g_timer;
static bool g_timer_on, g_stopping;

static void run(sx_exec *x);
static void arm_timer(void);
static void kick_cb(uv_timer_t *t);
static uv_timer_t g_kick;

/* .sync children to stop because their parent task ended (stopped from
 * the kick with StopExecution, never while executions are being walked). */
typedef struct child_stop {
    struct child_stop *next;
    nb_call ctx;
    char *arn;
} child_stop;
static child_stop *g_stops;

static void stop_child_later(sx_exec *x, frame *f)
{
    if (f->gone || f->ph != PH_TASK || !f->child)
        return;
    child_stop *c = nb_calloc(1, sizeof *c);
    snprintf(c->ctx.account, sizeof c->ctx.account, "%s", x->ctx.account);
    snprintf(c->ctx.region, sizeof c->ctx.region, "%s", x->ctx.region);
    snprintf(c->ctx.host, sizeof c->ctx.host, "%s", x->ctx.host);
    snprintf(c->ctx.access_key, sizeof c->ctx.access_key, "%s", x->ctx.access_key);
    c->arn = nb_strdup(f->child);
    c->next = g_stops;
    g_stops = c;
    uv_timer_start(&g_kick, kick_cb, 0, 0);
}

static void stop_done(nb_call *call, nb_status st, void *arg)
{
    (void)call, (void)st, (void)arg;
}

static void stops_run(bool invoke)
{
    while (g_stops) {
        child_stop *c = g_stops;
        g_stops = c->next;
        if (invoke) {
            json_object *in = json_object_new_object();
            json_object_object_add(in, "executionArn", json_object_new_string(c->arn));
            nb_invoke(&c->ctx, "states", "StopExecution", in, stop_done, NULL);
            json_object_put(in);
        }
        free(c->arn);
        free(c);
    }
}

/* ---- helpers ----------------------------------------------------------------------- */

const char *sfn_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

void sfn_iso(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(ms % 1000));
}

static const char *jtext(json_object *v)
{
    return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static frame *frame_by_id(sx_exec *x, int id)
{
    for (int i = 0; i < x->nframes; i++)
        if (x->frames[i]->id == id && !x->frames[i]->gone)
            return x->frames[i];
    return NULL;
}

static json_object *state_of(frame *f)
{
    json_object *states, *st;
    if (!json_object_object_get_ex(f->machine, "States", &states) || !json_object_object_get_ex(states, f->state, &st))
        return NULL;
    return st;
}

static const char *type_of(json_object *st)
{
    json_object *t;
    return json_object_object_get_ex(st, "Type", &t) ? json_object_get_string(t) : "";
}

static const char *task_resource(frame *f)
{
    json_object *st = state_of(f), *r;
    return st && json_object_object_get_ex(st, "Resource", &r) ? json_object_get_string(r) : NULL;
}

/* arn:aws:states:REGION:ACCOUNT:activity:NAME */
static bool is_activity(const char *res)
{
    return res && !strncmp(res, "arn:aws:states:", 15) && strstr(res, ":activity:");
}

/* "arn:aws:states:::states:startExecution.sync:2" → 2, ".sync" → 1, else 0. */
static int sync_mode(const char *res)
{
    size_t l = res ? strlen(res) : 0;
    if (l > 7 && !strcmp(res + l - 7, ".sync:2"))
        return 2;
    return l > 5 && !strcmp(res + l - 5, ".sync") ? 1 : 0;
}

/* The resource's name in Task* events: "invoke", "startExecution.sync:2". */
static const char *res_name(const char *res)
{
    const char *p = strrchr(res, ':');
    if (p && sync_mode(res) == 2)
        while (p > res && p[-1] != ':')
            p--;
    return p && *p == ':' ? p + 1 : p ? p : res;
}

/* The machine a scope names, walking from the root definition. */
static json_object *resolve(json_object *def, json_object *scope)
{
    json_object *m = def;
    for (size_t i = 0; m && i < json_object_array_length(scope); i++) {
        json_object *p = json_object_array_get_idx(scope, i), *states, *st;
        if (!json_object_object_get_ex(m, "States", &states) ||
            !json_object_object_get_ex(states, json_object_get_string(json_object_array_get_idx(p, 0)), &st))
            return NULL;
        m = asl_branch(st, json_object_get_int(json_object_array_get_idx(p, 1)));
    }
    return m;
}

static frame *frame_new(sx_exec *x, int parent, int index, json_object *scope, const char *state, json_object *input)
{
    frame *f = nb_calloc(1, sizeof *f);
    f->id = x->next_fid++;
    f->parent = parent;
    f->index = index;
    f->scope = scope;
    f->machine = resolve(x->def, scope);
    f->state = nb_strdup(state);
    f->input = input;
    f->attempts = json_object_new_array();
    if (x->nframes == x->cap)
        x->frames = nb_realloc(x->frames, (size_t)(x->cap = x->cap ? x->cap * 2 : 4) * sizeof *x->frames);
    x->frames[x->nframes++] = f;
    return f;
}

static void frame_free(frame *f)
{
    json_object_put(f->scope);
    free(f->state);
    json_object_put(f->input);
    json_object_put(f->attempts);
    json_object_put(f->results);
    json_object_put(f->aux);
    json_object_put(f->item);
    free(f->token);
    free(f->child);
    free(f);
}

/* Drop gone frames from the array. */
static void compact(sx_exec *x)
{
    int o = 0;
    for (int i = 0; i < x->nframes; i++) {
        if (x->frames[i]->gone)
            frame_free(x->frames[i]);
        else
            x->frames[o++] = x->frames[i];
    }
    x->nframes = o;
}

static void exec_free(sx_exec *x)
{
    json_object_put(x->redrive_hint);
    if (x->done)
        x->done(x->done_arg, NULL, NULL, NULL, NULL);
    for (int i = 0; i < x->nframes; i++)
        frame_free(x->frames[i]);
    free(x->frames);
    free(x->arn);
    free(x->sm_arn);
    free(x->sm_name);
    free(x->name);
    free(x->role);
    json_object_put(x->def);
    json_object_put(x->input);
    free(x);
}

static void unlink_exec(sx_exec *x)
{
    for (sx_exec **p = &g_execs; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            return;
        }
}

/* ---- history ---------------------------------------------------------------------------- */

/* Append an event (detail: the member name and its value, taken). */
static void event(sx_exec *x, frame *f, const char *type, const char *dname, json_object *detail)
{
    int64_t id = ++x->next_event, prev = f ? f->last_event : id - 1;
    if (f)
        f->last_event = id;
    if (x->express) {
        json_object_put(detail);
        return;
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO sfn_history(exec_id, id, prev, type, ts_ms, detail) VALUES(?,?,?,?,?,?)");
    sqlite3_bind_int64(st, 1, x->row);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, prev);
    sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, nb_now_ms());
    json_object *d = NULL;
    if (dname) {
        d = json_object_new_object();
        json_object_object_add(d, dname, detail ? detail : json_object_new_object());
        sqlite3_bind_text(st, 6, jtext(d), -1, SQLITE_TRANSIENT);
    }
    sqlite3_step(st);
    sqlite3_reset(st);
    json_object_put(d);
}

static json_object *det(const char *k1, json_object *v1, const char *k2, json_object *v2)
{
    json_object *o = json_object_new_object();
    if (k1)
        json_object_object_add(o, k1, v1);
    if (k2)
        json_object_object_add(o, k2, v2);
    return o;
}

static void state_event(sx_exec *x, frame *f, const char *type, bool entered, json_object *data)
{
    if (x->express)
        return;
    char t[64];
    snprintf(t, sizeof t, "%sState%s", type, entered ? "Entered" : "Exited");
    json_object *d = det("name", jstr(f->state), entered ? "input" : "output", jstr(jtext(data)));
    json_object_object_add(d, entered ? "inputDetails" : "outputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL));
    event(x, f, t, entered ? "stateEnteredEventDetails" : "stateExitedEventDetails", d);
}

/* ---- persistence ---------------------------------------------------------------------- */

static json_object *snapshot(sx_exec *x)
{
    json_object *fs = json_object_new_array();
    for (int i = 0; i < x->nframes; i++) {
        frame *f = x->frames[i];
        if (f->gone)
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int(f->id));
        json_object_object_add(o, "parent", json_object_new_int(f->parent));
        json_object_object_add(o, "index", json_object_new_int(f->index));
        json_object_object_add(o, "scope", json_object_get(f->scope));
        json_object_object_add(o, "state", jstr(f->state));
        json_object_object_add(o, "input", json_object_get(f->input));
        json_object_object_add(o, "phase", json_object_new_int((int)f->ph));
        json_object_object_add(o, "due", json_object_new_int64(f->due_ms));
        json_object_object_add(o, "entered", json_object_new_boolean(f->entered));
        json_object_object_add(o, "wstate", json_object_new_boolean(f->waiting_state));
        json_object_object_add(o, "attempts", json_object_get(f->attempts));
        json_object_object_add(o, "results", json_object_get(f->results));
        json_object_object_add(o, "aux", json_object_get(f->aux));
        json_object_object_add(o, "item", json_object_get(f->item));
        json_object_object_add(o, "pending", json_object_new_int(f->pending));
        json_object_object_add(o, "spawned", json_object_new_int(f->spawned));
        json_object_object_add(o, "last", json_object_new_int64(f->last_event));
        if (f->token)
            json_object_object_add(o, "token", jstr(f->token));
        json_object_object_add(o, "tokwait", json_object_new_boolean(f->token_wait));
        json_object_object_add(o, "hb", json_object_new_int64(f->hb_ms));
        json_object_object_add(o, "hbs", json_object_new_int64(f->hb_secs));
        json_object_object_add(o, "sched", json_object_new_int64(f->sched_ms));
        if (f->child)
            json_object_object_add(o, "child", jstr(f->child));
        json_object_array_add(fs, o);
    }
    json_object *snap = json_object_new_object();
    json_object_object_add(snap, "frames", fs);
    json_object_object_add(snap, "next_fid", json_object_new_int(x->next_fid));
    json_object_object_add(snap, "next_event", json_object_new_int64(x->next_event));
    return snap;
}

static void persist(sx_exec *x)
{
    if (x->express || x->finished)
        return;
    json_object *snap = snapshot(x);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sfn_execs SET snapshot = ? WHERE id = ?");
    sqlite3_bind_text(st, 1, jtext(snap), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, x->row);
    sqlite3_step(st);
    sqlite3_reset(st);
    json_object_put(snap);
}

static json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

static void restore(sx_exec *x, json_object *snap)
{
    json_object *fs = jget(snap, "frames");
    for (size_t i = 0; i < json_object_array_length(fs); i++) {
        json_object *o = json_object_array_get_idx(fs, i);
        frame *f = frame_new(x, json_object_get_int(jget(o, "parent")), json_object_get_int(jget(o, "index")),
                             json_object_get(jget(o, "scope")), json_object_get_string(jget(o, "state")),
                             json_object_get(jget(o, "input")));
        f->id = json_object_get_int(jget(o, "id"));
        f->ph = (phase)json_object_get_int(jget(o, "phase"));
        f->due_ms = json_object_get_int64(jget(o, "due"));
        f->entered = json_object_get_boolean(jget(o, "entered"));
        f->waiting_state = json_object_get_boolean(jget(o, "wstate"));
        json_object_put(f->attempts);
        f->attempts = json_object_get(jget(o, "attempts"));
        if (!f->attempts)
            f->attempts = json_object_new_array();
        f->results = json_object_get(jget(o, "results"));
        f->aux = json_object_get(jget(o, "aux"));
        f->item = json_object_get(jget(o, "item"));
        f->pending = json_object_get_int(jget(o, "pending"));
        f->spawned = json_object_get_int(jget(o, "spawned"));
        f->last_event = json_object_get_int64(jget(o, "last"));
        const char *tok = json_object_get_string(jget(o, "token"));
        f->token = tok ? nb_strdup(tok) : NULL;
        f->token_wait = json_object_get_boolean(jget(o, "tokwait"));
        f->hb_ms = json_object_get_int64(jget(o, "hb"));
        f->hb_secs = json_object_get_int64(jget(o, "hbs"));
        f->sched_ms = json_object_get_int64(jget(o, "sched"));
        const char *child = json_object_get_string(jget(o, "child"));
        f->child = child ? nb_strdup(child) : NULL;
        if (!f->machine) {
            f->gone = true;
            continue;
        }
        /* The call died with the process: run it again (a queued activity
         * task stays queued; deadlines are absolute and resume as they were). */
        if (f->ph == PH_TASK && !f->token_wait && !is_activity(task_resource(f)))
            f->ph = PH_READY, f->due_ms = 0, f->hb_ms = 0;
    }
    x->next_fid = json_object_get_int(jget(snap, "next_fid"));
    x->next_event = json_object_get_int64(jget(snap, "next_event"));
}

/* ---- the end of an execution -------------------------------------------------------------- */

static void redrive_save(sx_exec *x, bool redrivable);
static void child_done(sx_exec *c, const char *status, json_object *output, const char *error, const char *cause);

static void finish(sx_exec *x, const char *status, json_object *output, const char *error, const char *cause)
{
    if (x->finished)
        return;
    int64_t now = nb_now_ms();
    if (!strcmp(status, "SUCCEEDED"))
        event(x, NULL, "ExecutionSucceeded", "executionSucceededEventDetails",
              det("output", jstr(jtext(output)), "outputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL)));
    else if (!strcmp(status, "FAILED"))
        event(x, NULL, "ExecutionFailed", "executionFailedEventDetails", det("error", jstr(error), "cause", jstr(cause)));
    else if (!strcmp(status, "TIMED_OUT"))
        event(x, NULL, "ExecutionTimedOut", "executionTimedOutEventDetails", det("error", jstr(error), "cause", jstr(cause)));
    if (!x->express && strcmp(status, "SUCCEEDED"))
        redrive_save(x, x->next_event < 25000); /* past the history limit it cannot continue */
    x->finished = true;
    if (!x->express) {
        static sqlite3_stmt *s;
        sqlite3_stmt *st = nb_stmt(&s, "UPDATE sfn_execs SET status = ?, output = ?, error = ?, cause = ?, stop_ms = ?,"
                                       " snapshot = NULL WHERE id = ?");
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        if (!strcmp(status, "SUCCEEDED"))
            sqlite3_bind_text(st, 2, jtext(output), -1, SQLITE_TRANSIENT);
        if (error)
            sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
        if (cause)
            sqlite3_bind_text(st, 4, cause, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, x->row);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (x->sync) {
        nb_call *c = x->sync;
        x->sync = NULL;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "executionArn", jstr(x->arn));
        json_object_object_add(o, "stateMachineArn", jstr(x->sm_arn));
        json_object_object_add(o, "name", jstr(x->name));
        json_object_object_add(o, "startDate", json_object_new_double((double)x->start_ms / 1000.0));
        json_object_object_add(o, "stopDate", json_object_new_double((double)now / 1000.0));
        json_object_object_add(o, "status", jstr(status));
        json_object_object_add(o, "input", jstr(jtext(x->input)));
        json_object_object_add(o, "inputDetails", det("included", json_object_new_boolean(1), NULL, NULL));
        if (!strcmp(status, "SUCCEEDED")) {
            json_object_object_add(o, "output", jstr(jtext(output)));
            json_object_object_add(o, "outputDetails", det("included", json_object_new_boolean(1), NULL, NULL));
        } else {
            json_object_object_add(o, "error", jstr(error));
            json_object_object_add(o, "cause", jstr(cause));
        }
        int64_t dur = now - x->start_ms;
        json_object_object_add(o, "billingDetails",
                               det("billedMemoryUsedInMB", json_object_new_int64(64), "billedDurationInMilliseconds",
                                   json_object_new_int64(dur < 100 ? 100 : dur)));
        c->out = o;
        if (c == g_inline)
            g_inline_done = true;
        else
            nb_call_done(c, NB_OK);
    }
    if (x->done) {
        x->done(x->done_arg, status, output, error, cause);
        x->done = NULL;
    }
    for (int i = 0; i < x->nframes; i++) {
        stop_child_later(x, x->frames[i]);
        x->frames[i]->gone = true;
    }
    if (!x->express)
        child_done(x, status, output, error, cause);
}

/* ---- frames end ----------------------------------------------------------------------------- */

static void frame_error(sx_exec *x, frame *f, const asl_err *err);
static bool spawn_child(sx_exec *x, frame *f, json_object *st, size_t i, json_object *src);
static void advance_done(sx_exec *x, frame *f, json_object *state, asl_step *s);

static void drop_children(sx_exec *x, int parent)
{
    for (int i = 0; i < x->nframes; i++) {
        frame *c = x->frames[i];
        if (!c->gone && c->parent == parent) {
            drop_children(x, c->id);
            stop_child_later(x, c);
            c->gone = true;
        }
    }
}

static bool too_big(json_object *v)
{
    return strlen(jtext(v)) > SFN_MAX_PAYLOAD;
}

static void frame_end(sx_exec *x, frame *f, json_object *output)
{
    if (too_big(output)) {
        asl_err e;
        asl_fail(&e, "States.DataLimitExceeded",
                 "The state/task returned a result with a size exceeding the maximum number of bytes service limit.");
        frame_error(x, f, &e);
        return;
    }
    if (f->parent < 0) {
        finish(x, "SUCCEEDED", output, NULL, NULL);
        return;
    }
    frame *p = frame_by_id(x, f->parent);
    f->gone = true;
    if (!p)
        return;
    json_object *pst = state_of(p);
    if (!strcmp(type_of(pst), "Map"))
        event(x, p, "MapIterationSucceeded", "mapIterationSucceededEventDetails",
              det("name", jstr(p->state), "index", json_object_new_int(f->index)));
    json_object_array_put_idx(p->results, (size_t)f->index, json_object_get(output));
    if (--p->pending > 0) {
        if (p->aux && p->spawned < (int)json_object_array_length(p->aux))
            spawn_child(x, p, pst, (size_t)p->spawned++, p->aux);
        return;
    }
    json_object_put(p->aux);
    p->aux = NULL;
    event(x, p, !strcmp(type_of(pst), "Map") ? "MapStateSucceeded" : "ParallelStateSucceeded", NULL, NULL);
    asl_step s;
    json_object *res = p->results;
    p->results = NULL;
    p->ph = PH_READY;
    asl_finish(pst, p->input, res, NULL, &s);
    json_object_put(res);
    advance_done(x, p, pst, &s);
}

/* A frame's state failed: Retry, Catch, or fail the frame (the execution
 * or the enclosing Parallel/Map). */
static void frame_error(sx_exec *x, frame *f, const asl_err *err)
{
    json_object *st = state_of(f);
    const char *type = type_of(st);
    int64_t delay = 0;
    asl_step s;
    memset(&s, 0, sizeof s);
    int r = st && strcmp(type, "Fail") ? asl_on_error(st, f->input, err, f->attempts, nb_rand64(), &delay, &s) : 0;
    if (r == 0)
        asl_step_clear(&s);
    if (r) { /* handled: no failure is propagating */
        json_object_put(x->redrive_hint);
        x->redrive_hint = NULL;
    }
    if (r == 1) {
        f->ph = PH_WAIT;
        f->waiting_state = false;
        f->due_ms = nb_now_ms() + delay;
        return;
    }
    if (r == 2) {
        state_event(x, f, type, false, s.output);
        json_object_put(f->input);
        f->input = s.output;
        free(f->state);
        f->state = nb_strdup(s.next);
        f->entered = false;
        f->ph = PH_READY;
        json_object_put(f->attempts);
        f->attempts = json_object_new_array();
        return;
    }
    if (f->parent < 0) {
        finish(x, "FAILED", NULL, err->error, err->cause);
        return;
    }
    /* A branch fails its Parallel/Map: should that fail the execution,
     * redrive continues from here (the failed branch and the unfinished
     * ones run again, the finished ones keep their results), as on AWS. */
    if (!x->redrive_hint && !x->express)
        x->redrive_hint = snapshot(x);
    f->gone = true;
    frame *p = frame_by_id(x, f->parent);
    if (!p)
        return;
    json_object *pst = state_of(p);
    bool map = !strcmp(type_of(pst), "Map");
    if (map)
        event(x, p, "MapIterationFailed", "mapIterationFailedEventDetails",
              det("name", jstr(p->state), "index", json_object_new_int(f->index)));
    event(x, p, map ? "MapStateFailed" : "ParallelStateFailed", NULL, NULL);
    drop_children(x, p->id);
    json_object_put(p->results);
    p->results = NULL;
    json_object_put(p->aux);
    p->aux = NULL;
    p->pending = 0;
    p->ph = PH_READY;
    frame_error(x, p, err);
}

/* ---- tasks ------------------------------------------------------------------------------------ */

typedef struct task_ref {
    sx_exec *x;
    int fid;
    unsigned gen;
    bool sdk;         /* aws-sdk / optimized integration (output is the call's output) */
    bool lambda_arn;  /* a function ARN as Resource (output is the payload) */
    bool activity;    /* an activity ARN as Resource */
    int sync;         /* states:startExecution.sync (1) or .sync:2 (2) */
    char service[32];
} task_ref;

/* The task is over (answered, failed, timed out): forget its token, its
 * deadlines and its child. */
static void task_clear(frame *f)
{
    f->ph = PH_READY;
    json_object_put(f->aux);
    f->aux = NULL;
    f->due_ms = f->hb_ms = 0;
    f->hb_secs = 0;
    f->token_wait = false;
    free(f->token);
    f->token = NULL;
    free(f->child);
    f->child = NULL;
}

static void task_result(sx_exec *x, frame *f, json_object *result, const asl_err *err, const task_ref *t)
{
    json_object *st = state_of(f);
    task_clear(f);
    const char *res = json_object_get_string(jget(st, "Resource"));
    if (err) {
        if (t->activity)
            event(x, f, "ActivityFailed", "activityFailedEventDetails",
                  det("error", jstr(err->error), "cause", jstr(err->cause)));
        else if (t->lambda_arn)
            event(x, f, "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails",
                  det("error", jstr(err->error), "cause", jstr(err->cause)));
        else {
            json_object *d = det("resourceType", jstr(t->service), "resource", jstr(res_name(res)));
            json_object_object_add(d, "error", jstr(err->error));
            json_object_object_add(d, "cause", jstr(err->cause));
            event(x, f, "TaskFailed", "taskFailedEventDetails", d);
        }
        frame_error(x, f, err);
        return;
    }
    if (too_big(result)) {
        asl_err e;
        asl_fail(&e, "States.DataLimitExceeded",
                 "The state/task returned a result with a size exceeding the maximum number of bytes service limit.");
        frame_error(x, f, &e);
        return;
    }
    if (t->activity)
        event(x, f, "ActivitySucceeded", "activitySucceededEventDetails",
              det("output", jstr(jtext(result)), "outputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL)));
    else if (t->lambda_arn)
        event(x, f, "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails",
              det("output", jstr(jtext(result)), "outputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL)));
    else {
        json_object *d = det("resourceType", jstr(t->service), "resource", jstr(res_name(res)));
        json_object_object_add(d, "output", jstr(jtext(result)));
        json_object_object_add(d, "outputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL));
        event(x, f, "TaskSucceeded", "taskSucceededEventDetails", d);
    }
    asl_step s;
    asl_finish(st, f->input, result, NULL, &s);
    advance_done(x, f, st, &s);
}

/* Lambda's answer: the payload, or the function's error. */
static json_object *lambda_output(nb_call *call, bool whole, asl_err *e)
{
    const char *payload = nb_str(call->out, "Payload");
    json_object *pl = payload && *payload ? json_tokener_parse(payload) : NULL;
    const char *ferr = nb_str(call->out, "FunctionError");
    if (ferr) {
        const char *et = nb_str(pl, "errorType");
        asl_fail(e, et ? et : ferr, "%s", payload ? payload : "");
        json_object_put(pl);
        return NULL;
    }
    if (!whole)
        return pl;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ExecutedVersion", jstr(nb_str(call->out, "ExecutedVersion") ? nb_str(call->out, "ExecutedVersion") : "$LATEST"));
    json_object_object_add(o, "Payload", pl);
    json_object_object_add(o, "SdkHttpMetadata", det("httpStatusCode", json_object_new_int(200), NULL, NULL));
    json_object_object_add(o, "SdkResponseMetadata", det("requestId", jstr(call->request_id), NULL, NULL));
    json_object_object_add(o, "StatusCode", json_object_new_int(200));
    return o;
}

/* Step Functions' own integration speaks PascalCase ("ExecutionArn",
 * "StartDate" in epoch ms) over the camelCase API: convert the answer. */
static json_object *states_output(json_object *out)
{
    json_object *o = json_object_new_object();
    if (json_object_is_type(out, json_type_object)) {
        json_object_object_foreach(out, k, v) {
            char key[96];
            snprintf(key, sizeof key, "%s", k);
            if (key[0] >= 'a' && key[0] <= 'z')
                key[0] = (char)(key[0] - 'a' + 'A');
            if (json_object_is_type(v, json_type_double))
                json_object_object_add(o, key, json_object_new_int64((int64_t)llround(json_object_get_double(v) * 1000)));
            else
                json_object_object_add(o, key, json_object_get(v));
        }
    }
    json_object_put(out);
    return o;
}

/* startExecution.sync: the child runs; the task waits for its end
 * (child_done). */
static void sync_submitted(sx_exec *x, frame *f, json_object *result)
{
    const char *res = task_resource(f), *child = nb_str(result, "ExecutionArn");
    json_object *d = det("resourceType", jstr("states"), "resource", jstr(res_name(res)));
    json_object_object_add(d, "output", jstr(jtext(result)));
    json_object_object_add(d, "outputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL));
    event(x, f, "TaskSubmitted", "taskSubmittedEventDetails", d);
    if (!child || strstr(child, ":express:")) {
        task_clear(f);
        asl_err e;
        asl_fail(&e, "States.Runtime", "nimbus runs '%s' only with a STANDARD child state machine", res);
        frame_error(x, f, &e);
        return;
    }
    free(f->child);
    f->child = nb_strdup(child);
    f->token_wait = true;
}

static void task_done(nb_call *call, nb_status st, void *arg)
{
    task_ref *t = arg;
    sx_exec *x = t->x;
    x->invokes--;
    if (g_stopping || x->dead) {
        if (x->dead && x->invokes == 0)
            exec_free(x);
        free(t);
        return;
    }
    frame *f = frame_by_id(x, t->fid);
    if (!f || f->gen != t->gen || f->ph != PH_TASK) {
        free(t);
        return;
    }
    bool outer = !x->running;
    if (outer)
        nb_store_call_begin();
    asl_err e = {{0}, {0}};
    json_object *result = NULL;
    char svc[40];
    snprintf(svc, sizeof svc, "%s", t->service);
    if (svc[0] >= 'a' && svc[0] <= 'z')
        svc[0] = (char)(svc[0] - 'a' + 'A');
    if (st != NB_OK)
        asl_fail(&e, "", "%s", call->err.message);
    if (st != NB_OK && !strcmp(t->service, "lambda"))
        snprintf(e.error, sizeof e.error, "Lambda.%.96s", call->err.code);
    else if (st != NB_OK)
        snprintf(e.error, sizeof e.error, "%.31s.%.90s", svc, call->err.code);
    else if (!strcmp(t->service, "lambda") && !t->sdk)
        result = lambda_output(call, !t->lambda_arn, &e);
    else
        result = call->out ? json_object_get(call->out) : json_object_new_object();
    if (result && !strcmp(t->service, "states") && !t->sdk)
        result = states_output(result);
    if (t->sync && !e.error[0])
        sync_submitted(x, f, result);
    else if (f->token && !e.error[0])
        f->token_wait = true; /* the answer comes with SendTaskSuccess/Failure */
    else
        task_result(x, f, result, e.error[0] ? &e : NULL, t);
    json_object_put(result);
    free(t);
    if (outer) {
        run(x);
        nb_store_call_end(true);
    }
}

/* "arn:aws:states:::sqs:sendMessage" → sqs SendMessage; aws-sdk:svc:action too. */
static bool integration(const char *res, char *svc, size_t sn, char *op, size_t on)
{
    const char *p = res + strlen("arn:aws:states:::");
    if (strncmp(res, "arn:aws:states:::", strlen("arn:aws:states:::")))
        return false;
    if (!strncmp(p, "aws-sdk:", 8))
        p += 8;
    const char *c = strchr(p, ':');
    if (!c || (size_t)(c - p) >= sn)
        return false;
    nb_copy(svc, sn, p, (size_t)(c - p));
    snprintf(op, on, "%s", c + 1);
    char *dot = strchr(op, '.');
    if (dot && strcmp(dot, ".waitForTaskToken") && !(sync_mode(res) && !strcmp(svc, "states")))
        return false; /* .sync of other services */
    if (dot)
        *dot = 0;
    if (op[0] >= 'a' && op[0] <= 'z')
        op[0] = (char)(op[0] - 'a' + 'A');
    return true;
}

static json_object *context(sx_exec *x, frame *f);
static char *token_new(void);

/* TimeoutSeconds / HeartbeatSeconds or their ...Path over the state's
 * input: 0 when absent; false (e set) for a path without a positive
 * integer. */
static bool task_secs(sx_exec *x, frame *f, json_object *st, const char *field, int64_t *out, asl_err *e)
{
    char pf[40];
    snprintf(pf, sizeof pf, "%sPath", field);
    json_object *v = jget(st, field), *path = jget(st, pf), *got = NULL;
    *out = 0;
    if (path) {
        json_object *c = context(x, f);
        got = asl_lookup(json_object_get_string(path), f->input, c, e);
        json_object_put(c);
        if (!got)
            return false;
        v = got;
    }
    bool ok = !v || (json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0);
    if (ok && v)
        *out = json_object_get_int64(v) > 99999999 ? 99999999 : json_object_get_int64(v);
    else if (!ok)
        asl_fail(e, "States.Runtime", "The value for the field '%s' must be a positive integer, but was: %s", pf,
                 jtext(v));
    json_object_put(got);
    return ok;
}

/* A Task whose Resource is an activity ARN: queue it for GetActivityTask. */
static void start_activity(sx_exec *x, frame *f, const char *res, json_object *eff, int64_t tsecs, int64_t hsecs)
{
    if (!sfn_activity_exists(res)) {
        asl_err e;
        asl_fail(&e, "ActivityDoesNotExist", "Activity Does Not Exist: '%s'", res);
        event(x, f, "ActivityScheduleFailed", "activityScheduleFailedEventDetails",
              det("error", jstr(e.error), "cause", jstr(e.cause)));
        frame_error(x, f, &e);
        return;
    }
    int64_t now = nb_now_ms();
    free(f->token);
    f->token = token_new();
    f->token_wait = false;
    f->ph = PH_TASK;
    f->gen++;
    json_object_put(f->aux);
    f->aux = json_object_get(eff);
    f->due_ms = tsecs ? now + tsecs * 1000 : 0;
    f->hb_secs = hsecs;
    f->hb_ms = 0; /* runs from ActivityStarted */
    f->sched_ms = now;
    json_object *d = det("resource", jstr(res), "input", jstr(jtext(eff)));
    json_object_object_add(d, "inputDetails", det("truncated", json_object_new_boolean(0), NULL, NULL));
    if (tsecs)
        json_object_object_add(d, "timeoutInSeconds", json_object_new_int64(tsecs));
    if (hsecs)
        json_object_object_add(d, "heartbeatInSeconds", json_object_new_int64(hsecs));
    event(x, f, "ActivityScheduled", "activityScheduledEventDetails", d);
    sfn_activity_wake(res);
}

static void start_task(sx_exec *x, frame *f, json_object *st, json_object *eff)
{
    const char *res = json_object_get_string(jget(st, "Resource"));
    int64_t tsecs, hsecs;
    asl_err le;
    if (!task_secs(x, f, st, "TimeoutSeconds", &tsecs, &le) || !task_secs(x, f, st, "HeartbeatSeconds", &hsecs, &le)) {
        frame_error(x, f, &le);
        return;
    }
    if (is_activity(res)) {
        start_activity(x, f, res, eff, tsecs, hsecs);
        return;
    }
    task_ref *t = nb_calloc(1, sizeof *t);
    t->x = x;
    t->fid = f->id;
    t->gen = ++f->gen;
    json_object *in = NULL;
    char svc[32] = "", op[96] = "";
    const char *service = NULL;
    if (!strncmp(res, "arn:aws:lambda:", 15)) {
        t->lambda_arn = true;
        snprintf(t->service, sizeof t->service, "lambda");
        in = json_object_new_object();
        json_object_object_add(in, "FunctionName", jstr(res));
        json_object_object_add(in, "Payload", jstr(jtext(eff)));
        service = "lambda";
        snprintf(op, sizeof op, "Invoke");
        event(x, f, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails",
              det("resource", jstr(res), "input", jstr(jtext(eff))));
        event(x, f, "LambdaFunctionStarted", NULL, NULL);
    } else if (integration(res, svc, sizeof svc, op, sizeof op)) {
        snprintf(t->service, sizeof t->service, "%s", svc);
        service = svc;
        t->sdk = strstr(res, ":aws-sdk:") != NULL;
        if (!strcmp(svc, "lambda") && !strcmp(op, "Invoke") && !t->sdk) {
            in = json_object_new_object();
            json_object_object_add(in, "FunctionName", json_object_get(jget(eff, "FunctionName")));
            json_object *pl = jget(eff, "Payload");
            json_object_object_add(in, "Payload", jstr(pl ? jtext(pl) : "{}"));
            if (jget(eff, "Qualifier"))
                json_object_object_add(in, "Qualifier", json_object_get(jget(eff, "Qualifier")));
            if (jget(eff, "InvocationType"))
                json_object_object_add(in, "InvocationType", json_object_get(jget(eff, "InvocationType")));
        } else {
            in = json_object_new_object();
            if (json_object_is_type(eff, json_type_object)) {
                json_object_object_foreach(eff, k, v) json_object_object_add(in, k, json_object_get(v));
            }
            /* Like AWS, a JSON MessageBody/Message is sent as its text. */
            static const char *const body[] = {"MessageBody", "Message", "Input", NULL};
            for (int i = 0; !t->sdk && body[i]; i++) {
                json_object *b = jget(in, body[i]);
                if (b && !json_object_is_type(b, json_type_string))
                    json_object_object_add(in, body[i], jstr(jtext(b)));
            }
            if (!strcmp(svc, "states") && !t->sdk) {
                /* StateMachineArn, Input, Name → the API's camelCase */
                json_object *lc = json_object_new_object();
                json_object_object_foreach(in, k, v) {
                    char key[96];
                    snprintf(key, sizeof key, "%s", k);
                    if (key[0] >= 'A' && key[0] <= 'Z')
                        key[0] = (char)(key[0] - 'A' + 'a');
                    json_object_object_add(lc, key, json_object_get(v));
                }
                json_object_put(in);
                in = lc;
                t->sync = sync_mode(res);
            }
        }
        json_object *d = det("resourceType", jstr(svc), "resource", jstr(res_name(res)));
        json_object_object_add(d, "region", jstr(x->ctx.region));
        json_object_object_add(d, "parameters", jstr(jtext(eff)));
        event(x, f, "TaskScheduled", "taskScheduledEventDetails", d);
        event(x, f, "TaskStarted", "taskStartedEventDetails",
              det("resourceType", jstr(svc), "resource", jstr(res_name(res))));
    }
    if (!service || !nb_service_by_name(service, strlen(service))) {
        json_object_put(in);
        free(t);
        asl_err e;
        asl_fail(&e, "States.Runtime", "The resource '%s' is not supported by nimbus", res);
        frame_error(x, f, &e);
        return;
    }
    f->ph = PH_TASK;
    int64_t now = nb_now_ms();
    f->due_ms = tsecs ? now + tsecs * 1000 : 0;
    f->hb_secs = f->token ? hsecs : 0; /* heartbeats come with the task token */
    f->hb_ms = f->hb_secs ? now + hsecs * 1000 : 0;
    x->invokes++;
    nb_invoke(&x->ctx, service, op, in, task_done, t);
    json_object_put(in);
}

/* ---- advancing a frame ------------------------------------------------------------------------ */

static json_object *context(sx_exec *x, frame *f)
{
    char iso[40];
    json_object *c = json_object_new_object(), *e = json_object_new_object(), *s = json_object_new_object(),
                *m = json_object_new_object();
    json_object_object_add(e, "Id", jstr(x->arn));
    json_object_object_add(e, "Input", json_object_get(x->input));
    json_object_object_add(e, "Name", jstr(x->name));
    json_object_object_add(e, "RoleArn", jstr(x->role));
    sfn_iso(x->start_ms, iso, sizeof iso);
    json_object_object_add(e, "StartTime", jstr(iso));
    json_object_object_add(e, "RedriveCount", json_object_new_int64(x->redrives));
    if (x->redrives) {
        sfn_iso(x->redrive_ms, iso, sizeof iso);
        json_object_object_add(e, "RedriveTime", jstr(iso));
    }
    json_object_object_add(c, "Execution", e);
    sfn_iso(nb_now_ms(), iso, sizeof iso);
    json_object_object_add(s, "EnteredTime", jstr(iso));
    json_object_object_add(s, "Name", jstr(f->state));
    int retries = 0;
    for (size_t i = 0; i < json_object_array_length(f->attempts); i++)
        retries += json_object_get_int(json_object_array_get_idx(f->attempts, i));
    json_object_object_add(s, "RetryCount", json_object_new_int(retries));
    json_object_object_add(c, "State", s);
    json_object_object_add(m, "Id", jstr(x->sm_arn));
    json_object_object_add(m, "Name", jstr(x->sm_name));
    json_object_object_add(c, "StateMachine", m);
    if (f->token)
        json_object_object_add(c, "Task", det("Token", jstr(f->token), NULL, NULL));
    for (frame *p = f; p; p = p->parent >= 0 ? frame_by_id(x, p->parent) : NULL)
        if (p->item) {
            json_object_object_add(c, "Map", det("Item", json_object_get(p->item), NULL, NULL));
            break;
        }
    return c;
}

/* Start child i of f: branch i of a Parallel (src: the branches' input) or
 * item i of a Map (src: the items).  False when the Map's ItemSelector
 * failed (f has then taken the error). */
static bool spawn_child(sx_exec *x, frame *f, json_object *st, size_t i, json_object *src)
{
    bool map = !strcmp(type_of(st), "Map");
    json_object *branch = asl_branch(st, (int)i), *scope = NULL;
    json_object_deep_copy(f->scope, &scope, NULL);
    json_object *pair = json_object_new_array();
    json_object_array_add(pair, jstr(f->state));
    json_object_array_add(pair, json_object_new_int(map ? 0 : (int)i));
    json_object_array_add(scope, pair);
    json_object *input, *item = NULL, *sel = jget(st, "ItemSelector");
    if (!sel)
        sel = jget(st, "Parameters");
    if (!map) {
        input = json_object_get(src);
    } else if (!sel) {
        input = json_object_get(json_object_array_get_idx(src, i));
        item = det("Index", json_object_new_int((int)i), "Value", json_object_get(input));
    } else {
        item = det("Index", json_object_new_int((int)i), "Value", json_object_get(json_object_array_get_idx(src, i)));
        frame tmp = {.state = f->state, .attempts = f->attempts, .item = item, .parent = -1};
        json_object *c = context(x, &tmp);
        asl_err e = {{0}, {0}};
        /* "$" in ItemSelector is the Map state's effective input. */
        json_object *ip = jget(st, "InputPath");
        json_object *eff = ip ? asl_lookup(json_object_get_string(ip), f->input, c, &e) : json_object_get(f->input);
        input = e.error[0] ? NULL : asl_template(sel, eff, c, &e);
        json_object_put(eff);
        json_object_put(c);
        if (e.error[0]) {
            json_object_put(item);
            json_object_put(scope);
            drop_children(x, f->id);
            json_object_put(f->results);
            f->results = NULL;
            json_object_put(f->aux);
            f->aux = NULL;
            f->ph = PH_READY;
            frame_error(x, f, &e);
            return false;
        }
    }
    frame *c = frame_new(x, f->id, (int)i, scope, json_object_get_string(jget(branch, "StartAt")), input);
    c->item = item;
    c->last_event = f->last_event;
    if (map)
        event(x, c, "MapIterationStarted", "mapIterationStartedEventDetails",
              det("name", jstr(f->state), "index", json_object_new_int((int)i)));
    return true;
}

static void spawn(sx_exec *x, frame *f, json_object *st, asl_step *s)
{
    bool map = s->kind == ASL_MAP;
    size_t n = map ? json_object_array_length(s->output) : json_object_array_length(jget(st, "Branches"));
    f->ph = PH_CHILDREN;
    f->results = json_object_new_array();
    f->pending = (int)n;
    if (map)
        event(x, f, "MapStateStarted", "mapStateStartedEventDetails", det("length", json_object_new_int((int)n), NULL, NULL));
    else
        event(x, f, "ParallelStateStarted", NULL, NULL);
    if (n == 0) {
        event(x, f, map ? "MapStateSucceeded" : "ParallelStateSucceeded", NULL, NULL);
        asl_step d;
        f->ph = PH_READY;
        json_object *empty = json_object_new_array();
        asl_finish(st, f->input, empty, NULL, &d);
        json_object_put(empty);
        advance_done(x, f, st, &d);
        return;
    }
    for (size_t i = 0; i < n; i++)
        json_object_array_add(f->results, NULL);
    /* MaxConcurrency: start that many items; each finished one starts the next. */
    json_object *mc = jget(st, "MaxConcurrency");
    size_t first = n;
    if (map && json_object_is_type(mc, json_type_int) && json_object_get_int64(mc) > 0 &&
        (size_t)json_object_get_int64(mc) < n) {
        first = (size_t)json_object_get_int64(mc);
        json_object_put(f->aux);
        f->aux = json_object_get(s->output);
        f->spawned = (int)first;
    }
    for (size_t i = 0; i < first; i++)
        if (!spawn_child(x, f, st, i, s->output))
            return;
}

/* After asl_enter/asl_finish/asl_on_error decided: move the frame on. */
static void advance_done(sx_exec *x, frame *f, json_object *st, asl_step *s)
{
    const char *type = type_of(st);
    switch (s->kind) {
    case ASL_NEXT:
        state_event(x, f, type, false, s->output);
        json_object_put(f->input);
        f->input = s->output;
        s->output = NULL;
        free(f->state);
        f->state = nb_strdup(s->next);
        f->entered = false;
        json_object_put(f->attempts);
        f->attempts = json_object_new_array();
        f->ph = PH_READY;
        break;
    case ASL_END:
        state_event(x, f, type, false, s->output);
        frame_end(x, f, s->output);
        break;
    case ASL_WAIT:
        f->ph = PH_WAIT;
        f->waiting_state = true;
        f->due_ms = s->until_ms;
        json_object_put(f->aux);
        f->aux = s->output;
        s->output = NULL;
        break;
    case ASL_FAIL:
        frame_error(x, f, &s->err);
        break;
    default:
        break;
    }
    asl_step_clear(s);
}

/* A task token: random, unguessable, printable. */
static char *token_new(void)
{
    unsigned char r[48];
    nb_random(r, sizeof r);
    size_t n;
    return nb_base64_encode(r, sizeof r, &n);
}

static void advance(sx_exec *x, frame *f)
{
    json_object *st = state_of(f);
    if (!st) {
        asl_err e;
        asl_fail(&e, "States.Runtime", "The state '%s' does not exist", f->state);
        frame_error(x, f, &e);
        return;
    }
    const char *type = type_of(st);
    if (!f->entered) {
        state_event(x, f, type, true, f->input);
        f->entered = true;
    }
    json_object *res = jget(st, "Resource");
    const char *rs = json_object_get_string(res);
    size_t rl = rs ? strlen(rs) : 0;
    if (!strcmp(type, "Task") && rl > 17 && !strcmp(rs + rl - 17, ".waitForTaskToken")) {
        free(f->token);
        f->token = token_new();
    }
    json_object *c = context(x, f);
    asl_step s;
    asl_enter(st, f->input, c, nb_now_ms(), &s);
    json_object_put(c);
    if (s.kind == ASL_TASK)
        start_task(x, f, st, s.output);
    else if (s.kind == ASL_PARALLEL || s.kind == ASL_MAP)
        spawn(x, f, st, &s);
    else {
        advance_done(x, f, st, &s);
        return;
    }
    asl_step_clear(&s);
}

static void run(sx_exec *x)
{
    if (x->running || x->dead)
        return;
    x->running = true;
    bool progress = true;
    int guard = 0;
    while (progress && !x->finished) {
        progress = false;
        for (int i = 0; i < x->nframes && !x->finished; i++) {
            frame *f = x->frames[i];
            if (!f->gone && f->ph == PH_READY) {
                advance(x, f);
                progress = true;
                /* AWS caps a STANDARD history at 25,000 events; an EXPRESS
                 * loop of Pass states stops after 100,000 transitions. */
                if ((!x->express && x->next_event >= 25000) || ++guard > 100000) {
                    finish(x, "FAILED", NULL, "States.Runtime",
                           "The execution reached the maximum number of history events (25000).");
                    break;
                }
            }
        }
        compact(x);
    }
    x->running = false;
    json_object_put(x->redrive_hint); /* a propagation has ended by now */
    x->redrive_hint = NULL;
    if (x->finished) {
        unlink_exec(x);
        if (x->invokes > 0)
            x->dead = true;
        else
            exec_free(x);
    } else {
        persist(x);
    }
    arm_timer();
}

/* ---- the timer ---------------------------------------------------------------------------------- */

/* A task's TimeoutSeconds (States.Timeout) or HeartbeatSeconds
 * (States.HeartbeatTimeout) ran out: its token is dead from now on
 * (SendTask* answers TaskTimedOut) and Retry/Catch see the error. */
static void task_expired(sx_exec *x, frame *f, bool heartbeat)
{
    const char *res = task_resource(f);
    const char *error = heartbeat ? "States.HeartbeatTimeout" : "States.Timeout";
    f->gen++; /* a late answer of the call is stale */
    stop_child_later(x, f);
    task_clear(f);
    if (res && !strncmp(res, "arn:aws:lambda:", 15))
        event(x, f, "LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails", det("error", jstr(error), NULL, NULL));
    else if (is_activity(res))
        event(x, f, "ActivityTimedOut", "activityTimedOutEventDetails", det("error", jstr(error), NULL, NULL));
    else {
        char svc[32] = "", op[96];
        if (res)
            integration(res, svc, sizeof svc, op, sizeof op);
        json_object *d = det("resourceType", jstr(svc), "resource", jstr(res ? res_name(res) : ""));
        json_object_object_add(d, "error", jstr(error));
        event(x, f, "TaskTimedOut", "taskTimedOutEventDetails", d);
    }
    asl_err e;
    asl_fail(&e, error, heartbeat ? "Task heartbeat timed out" : "Task timed out");
    frame_error(x, f, &e);
}

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nb_now_ms();
    nb_store_call_begin();
    for (sx_exec *x = g_execs, *n; x; x = n) {
        n = x->next;
        bool woke = false;
        if (x->deadline_ms && x->deadline_ms <= now) {
            finish(x, "TIMED_OUT", NULL, "States.Timeout", "The execution timed out");
            run(x); /* frees x */
            continue;
        }
        for (int i = 0; i < x->nframes; i++) {
            frame *f = x->frames[i];
            if (!f->gone && f->ph == PH_TASK && f->hb_ms && f->hb_ms <= now && (!f->due_ms || f->hb_ms < f->due_ms)) {
                task_expired(x, f, true);
                woke = true;
                continue;
            }
            if (f->gone || !f->due_ms || f->due_ms > now)
                continue;
            if (f->ph == PH_WAIT) {
                f->due_ms = 0;
                f->ph = PH_READY;
                if (f->waiting_state) {
                    json_object *st = state_of(f);
                    asl_step s = {.output = f->aux};
                    f->aux = NULL;
                    const char *next = json_object_get_string(jget(st, "Next"));
                    s.kind = next ? ASL_NEXT : ASL_END;
                    s.next = next;
                    advance_done(x, f, st, &s);
                }
                woke = true;
            } else if (f->ph == PH_TASK) {
                task_expired(x, f, false);
                woke = true;
            }
        }
        if (woke)
            run(x); /* may free x */
    }
    nb_store_call_end(true);
    arm_timer();
}

static void arm_timer(void)
{
    if (!g_timer_on)
        return;
    int64_t due = 0;
    for (sx_exec *x = g_execs; x; x = x->next) {
        if (x->deadline_ms && (!due || x->deadline_ms < due))
            due = x->deadline_ms;
        for (int i = 0; i < x->nframes; i++) {
            frame *f = x->frames[i];
            if (!f->gone && f->due_ms && (f->ph == PH_WAIT || f->ph == PH_TASK) && (!due || f->due_ms < due))
                due = f->due_ms;
            if (!f->gone && f->hb_ms && f->ph == PH_TASK && (!due || f->hb_ms < due))
                due = f->hb_ms;
        }
    }
    if (!due) {
        uv_timer_stop(&g_timer);
        return;
    }
    int64_t d = due - nb_now_ms();
    uv_timer_start(&g_timer, timer_cb, d > 0 ? (uint64_t)d : 0, 0);
}

/* ---- start, stop, resume ------------------------------------------------------------------------- */

static void sync_cancel(nb_call *call)
{
    sx_exec *x = call->park;
    x->sync = NULL;
    finish(x, "ABORTED", NULL, NULL, NULL);
    unlink_exec(x);
    if (x->invokes > 0)
        x->dead = true;
    else if (!x->running)
        exec_free(x);
}

/* The definition's TimeoutSeconds counts from base: the start, or the
 * last redrive. */
static void set_deadline(sx_exec *x, int64_t base)
{
    json_object *to = jget(x->def, "TimeoutSeconds");
    int64_t secs = json_object_is_type(to, json_type_int) ? json_object_get_int64(to) : 0;
    x->deadline_ms = secs > 0 ? base + (secs > 31622400 ? 31622400 : secs) * 1000 : 0;
}

static sx_exec *exec_new(const nb_call *ctx, const sfn_start *s, json_object *def)
{
    sx_exec *x = nb_calloc(1, sizeof *x);
    x->row = s->row;
    x->arn = nb_strdup(s->arn);
    x->sm_arn = nb_strdup(s->sm_arn);
    x->sm_name = nb_strdup(s->sm_name);
    x->name = nb_strdup(s->name);
    x->role = nb_strdup(s->role ? s->role : "");
    x->def = def;
    x->input = json_object_get(s->input);
    x->start_ms = s->start_ms;
    set_deadline(x, s->start_ms);
    x->express = s->express;
    x->done = s->done;
    x->done_arg = s->done_arg;
    snprintf(x->ctx.account, sizeof x->ctx.account, "%s", ctx->account);
    snprintf(x->ctx.region, sizeof x->ctx.region, "%s", ctx->region);
    snprintf(x->ctx.host, sizeof x->ctx.host, "%s", ctx->host);
    snprintf(x->ctx.access_key, sizeof x->ctx.access_key, "states");
    x->next = g_execs;
    g_execs = x;
    return x;
}

int sfn_exec_start(const nb_call *ctx, const sfn_start *s, nb_call *sync)
{
    json_object *def = json_tokener_parse(s->definition);
    json_object *start = jget(def, "StartAt");
    if (!start) {
        json_object_put(def);
        return -1;
    }
    sx_exec *x = exec_new(ctx, s, def);
    event(x, NULL, "ExecutionStarted", "executionStartedEventDetails",
          det("input", jstr(jtext(s->input)), "roleArn", jstr(x->role)));
    frame *f = frame_new(x, -1, 0, json_object_new_array(), json_object_get_string(start), json_object_get(s->input));
    f->last_event = x->next_event;
    if (sync) {
        x->sync = sync;
        sync->park = x;
        sync->on_cancel = sync_cancel;
    }
    if (!s->express) {
        /* STANDARD runs from the loop: StartExecution answers at once. */
        persist(x);
        uv_timer_start(&g_kick, kick_cb, 0, 0);
        return 0;
    }
    g_inline = sync;
    g_inline_done = false;
    run(x);
    g_inline = NULL;
    return g_inline_done ? 1 : 0;
}

void sfn_exec_stop(int64_t row, const char *error, const char *cause, int64_t now_ms)
{
    (void)now_ms;
    for (sx_exec *x = g_execs; x; x = x->next)
        if (x->row == row && !x->express) {
            event(x, NULL, "ExecutionAborted", "executionAbortedEventDetails",
                  det("error", jstr(error), "cause", jstr(cause)));
            redrive_save(x, true);
            for (int i = 0; i < x->nframes; i++)
                stop_child_later(x, x->frames[i]);
            x->finished = true;
            child_done(x, "ABORTED", NULL, error, cause);
            unlink_exec(x);
            if (x->invokes > 0 || x->running)
                x->dead = true;
            else
                exec_free(x);
            arm_timer();
            return;
        }
}

static void resume_all(void)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT e.id, e.arn, e.sm_arn, e.name, e.role, e.definition, e.input, e.start_ms,"
                                   " e.snapshot, e.account, e.region, e.host, r.date_ms, r.count FROM sfn_execs e"
                                   " LEFT JOIN sfn_redrive r ON r.exec_id = e.id AND r.count > 0"
                                   " WHERE e.status = 'RUNNING' AND e.snapshot IS NOT NULL");
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *def = json_tokener_parse(sfn_col(st, 5)), *snap = json_tokener_parse(sfn_col(st, 8));
        if (!def || !snap) {
            json_object_put(def);
            json_object_put(snap);
            continue;
        }
        nb_call ctx;
        memset(&ctx, 0, sizeof ctx);
        snprintf(ctx.account, sizeof ctx.account, "%s", sfn_col(st, 9));
        snprintf(ctx.region, sizeof ctx.region, "%s", sfn_col(st, 10));
        snprintf(ctx.host, sizeof ctx.host, "%s", sfn_col(st, 11));
        const char *sm = sfn_col(st, 2), *colon = strrchr(sm, ':');
        json_object *input = json_tokener_parse(sfn_col(st, 6));
        sfn_start ss = {.row = sqlite3_column_int64(st, 0), .arn = sfn_col(st, 1), .sm_arn = sm,
                        .sm_name = colon ? colon + 1 : sm, .name = sfn_col(st, 3), .role = sfn_col(st, 4),
                        .input = input, .start_ms = sqlite3_column_int64(st, 7)};
        sx_exec *x = exec_new(&ctx, &ss, def);
        if (sqlite3_column_type(st, 12) != SQLITE_NULL) {
            x->redrive_ms = sqlite3_column_int64(st, 12);
            x->redrives = sqlite3_column_int64(st, 13);
            set_deadline(x, x->redrive_ms);
        }
        json_object_put(input);
        restore(x, snap);
        json_object_put(snap);
    }
    sqlite3_reset(st);
}


static void kick_cb(uv_timer_t *t)
{
    (void)t;
    stops_run(true);
    nb_store_call_begin();
    for (sx_exec *x = g_execs, *n; x; x = n) {
        n = x->next;
        run(x);
    }
    nb_store_call_end(true);
}

int sfn_exec_init(void)
{
    if (nb_exec("CREATE TABLE IF NOT EXISTS sfn_redrive(exec_id INTEGER PRIMARY KEY, count INTEGER NOT NULL DEFAULT 0,"
                " date_ms INTEGER, snapshot TEXT);") != 0 ||
        sfn_activity_init() != 0)
        return -1;
    nb_store_register_table("sfn_redrive");
    uv_timer_init(nb_loop(), &g_timer);
    uv_timer_init(nb_loop(), &g_kick);
    uv_unref((uv_handle_t *)&g_timer);
    uv_unref((uv_handle_t *)&g_kick);
    g_timer_on = true;
    g_stopping = false;
    resume_all();
    if (g_execs)
        uv_timer_start(&g_kick, kick_cb, 0, 0);
    return 0;
}

static void drop_all(void)
{
    stops_run(false);
    for (sx_exec *x = g_execs, *n; x; x = n) {
        n = x->next;
        if (x->sync) {
            nb_call *c = x->sync;
            x->sync = NULL;
            nb_fail(c, "ServiceUnavailable", "The server is shutting down");
            nb_call_done(c, NB_ERROR);
        }
        if (x->invokes > 0)
            x->dead = true;
        else
            exec_free(x);
    }
    g_execs = NULL;
}

void sfn_exec_reset(void)
{
    drop_all();
    if (g_timer_on)
        uv_timer_stop(&g_timer);
}

void sfn_exec_shutdown(void)
{
    if (!g_timer_on)
        return;
    g_stopping = true;
    g_timer_on = false;
    sfn_activity_shutdown();
    drop_all();
    uv_timer_stop(&g_timer);
    uv_timer_stop(&g_kick);
    uv_close((uv_handle_t *)&g_timer, NULL);
    uv_close((uv_handle_t *)&g_kick, NULL);
}

/* ---- task tokens ------------------------------------------------------------------------------- */

static bool token_find(const char *token, sx_exec **xo, frame **fo)
{
    for (sx_exec *x = g_execs; x; x = x->next)
        for (int i = 0; i < x->nframes; i++) {
            frame *f = x->frames[i];
            /* a queued activity task's token is no one's yet */
            if (!f->gone && f->token && f->ph == PH_TASK && !strcmp(f->token, token) &&
                (f->token_wait || !is_activity(task_resource(f)))) {
                *xo = x;
                *fo = f;
                return true;
            }
        }
    return false;
}

int sfn_task_token(const char *token, json_object *output, const char *error, const char *cause, bool heartbeat)
{
    sx_exec *x;
    frame *f;
    if (!token || !token_find(token, &x, &f))
        return -1;
    if (heartbeat) {
        if (f->hb_secs) {
            f->hb_ms = nb_now_ms() + f->hb_secs * 1000;
            persist(x); /* the new deadline survives a restart */
            arm_timer();
        }
        return 0;
    }
    json_object *st = state_of(f);
    const char *res = json_object_get_string(jget(st, "Resource"));
    task_ref t = {.x = x, .fid = f->id, .activity = is_activity(res)};
    char svc[32] = "", op[96];
    if (res && integration(res, svc, sizeof svc, op, sizeof op))
        snprintf(t.service, sizeof t.service, "%s", svc);
    f->gen++; /* a late answer of the call itself is stale now */
    if (error || cause) {
        asl_err e;
        asl_fail(&e, error ? error : "", "%s", cause ? cause : "");
        task_result(x, f, NULL, &e, &t);
    } else
        task_result(x, f, output, NULL, &t);
    run(x);
    return 0;
}

/* Tokens are token_new()'s: 64 characters of base64. */
bool sfn_token_well_formed(const char *token)
{
    if (!token || strlen(token) != 64)
        return false;
    for (const char *p = token; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' ||
              *p == '/'))
            return false;
    return true;
}

/* ---- activity tasks ---------------------------------------------------------------------------- */

bool sfn_exec_take_activity(const char *arn, const char *worker, char **token, char **input)
{
    sx_exec *bx = NULL;
    frame *best = NULL;
    for (sx_exec *x = g_execs; x; x = x->next) {
        if (x->finished || x->dead)
            continue;
        for (int i = 0; i < x->nframes; i++) {
            frame *f = x->frames[i];
            if (f->gone || f->ph != PH_TASK || f->token_wait || !f->token)
                continue;
            const char *res = task_resource(f);
            if (res && is_activity(res) && !strcmp(res, arn) && (!best || f->sched_ms < best->sched_ms))
                bx = x, best = f;
        }
    }
    if (!best)
        return false;
    best->token_wait = true;
    if (best->hb_secs)
        best->hb_ms = nb_now_ms() + best->hb_secs * 1000;
    event(bx, best, "ActivityStarted", "activityStartedEventDetails", det("workerName", jstr(worker), NULL, NULL));
    *token = nb_strdup(best->token);
    *input = nb_strdup(jtext(best->aux));
    if (!bx->running) {
        persist(bx);
        arm_timer();
    }
    return true;
}

/* ---- startExecution.sync ------------------------------------------------------------------------ */

/* The child as DescribeExecution shows it, in the integration's PascalCase;
 * .sync:2 has Input and Output as JSON, .sync as text. */
static json_object *child_out(sx_exec *c, int mode, const char *status, json_object *output, const char *error,
                              const char *cause)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ExecutionArn", jstr(c->arn));
    json_object_object_add(o, "Input", mode == 2 ? json_object_get(c->input) : jstr(jtext(c->input)));
    json_object_object_add(o, "InputDetails", det("Included", json_object_new_boolean(1), NULL, NULL));
    json_object_object_add(o, "Name", jstr(c->name));
    if (!strcmp(status, "SUCCEEDED")) {
        json_object_object_add(o, "Output", mode == 2 ? json_object_get(output) : jstr(jtext(output)));
        json_object_object_add(o, "OutputDetails", det("Included", json_object_new_boolean(1), NULL, NULL));
    } else {
        if (error)
            json_object_object_add(o, "Error", jstr(error));
        if (cause)
            json_object_object_add(o, "Cause", jstr(cause));
    }
    json_object_object_add(o, "RedriveCount", json_object_new_int(0));
    json_object_object_add(o, "StartDate", json_object_new_int64(c->start_ms));
    json_object_object_add(o, "StateMachineArn", jstr(c->sm_arn));
    json_object_object_add(o, "Status", jstr(status));
    json_object_object_add(o, "StopDate", json_object_new_int64(nb_now_ms()));
    return o;
}

/* Execution c ended: finish the .sync tasks waiting for it.  Their
 * executions are persisted here, in the same transaction as c's end, and
 * run from the kick (not now: the caller may be walking g_execs). */
static void child_done(sx_exec *c, const char *status, json_object *output, const char *error, const char *cause)
{
    for (sx_exec *p = g_execs; p; p = p->next) {
        if (p == c || p->finished || p->dead)
            continue;
        bool hit = false;
        for (int i = 0; i < p->nframes && !p->finished; i++) {
            frame *f = p->frames[i];
            if (f->gone || f->ph != PH_TASK || !f->child || strcmp(f->child, c->arn))
                continue;
            task_ref t = {.x = p, .fid = f->id, .sync = sync_mode(task_resource(f))};
            snprintf(t.service, sizeof t.service, "states");
            json_object *o = child_out(c, t.sync, status, output, error, cause);
            f->gen++;
            if (!strcmp(status, "SUCCEEDED"))
                task_result(p, f, o, NULL, &t);
            else {
                asl_err e;
                asl_fail(&e, "States.TaskFailed", "%s", jtext(o));
                task_result(p, f, NULL, &e, &t);
            }
            json_object_put(o);
            hit = true;
        }
        if (hit && !p->running)
            persist(p);
        if (hit)
            uv_timer_start(&g_kick, kick_cb, 0, 0);
    }
}

/* ---- redrive ------------------------------------------------------------------------------------ */

#define REDRIVE_PERIOD_MS (14LL * 24 * 3600 * 1000)

/* Keep where a FAILED/TIMED_OUT/ABORTED execution stopped: every unfinished
 * frame becomes READY to enter its state again (fresh retry counts); Wait
 * states keep their deadline and Parallel/Map frames their finished
 * branches, so only what did not succeed runs again. */
static void redrive_save(sx_exec *x, bool redrivable)
{
    json_object *snap = !redrivable ? NULL : x->redrive_hint ? json_object_get(x->redrive_hint) : snapshot(x);
    json_object *fs = snap ? jget(snap, "frames") : NULL;
    if (snap) { /* a hint was taken before the last events and frames */
        json_object_object_add(snap, "next_event", json_object_new_int64(x->next_event));
        json_object_object_add(snap, "next_fid", json_object_new_int(x->next_fid));
    }
    for (size_t i = 0; fs && i < json_object_array_length(fs); i++) {
        json_object *o = json_object_array_get_idx(fs, i);
        phase ph = (phase)json_object_get_int(jget(o, "phase"));
        bool wait_state = ph == PH_WAIT && json_object_get_boolean(jget(o, "wstate"));
        if (ph == PH_CHILDREN || wait_state)
            continue;
        json_object_object_add(o, "phase", json_object_new_int(PH_READY));
        json_object_object_add(o, "due", json_object_new_int64(0));
        json_object_object_add(o, "hb", json_object_new_int64(0));
        json_object_object_add(o, "hbs", json_object_new_int64(0));
        json_object_object_add(o, "entered", json_object_new_boolean(0));
        json_object_object_add(o, "tokwait", json_object_new_boolean(0));
        json_object_object_add(o, "attempts", json_object_new_array());
        json_object_object_add(o, "aux", NULL);
        json_object_object_del(o, "token");
        json_object_object_del(o, "child");
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO sfn_redrive(exec_id, count, snapshot) VALUES(?, 0, ?)"
                                   " ON CONFLICT(exec_id) DO UPDATE SET snapshot = excluded.snapshot");
    sqlite3_bind_int64(st, 1, x->row);
    if (snap)
        sqlite3_bind_text(st, 2, jtext(snap), -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    json_object_put(snap);
}

/* Why an execution cannot be redriven (AWS's redriveStatusReason), or NULL. */
static const char *redrive_reason(const char *status, int64_t stop_ms, bool stored, bool has_snap, int64_t now)
{
    if (!strcmp(status, "RUNNING"))
        return "Execution is RUNNING and cannot be redriven.";
    if (!strcmp(status, "SUCCEEDED"))
        return "Execution is SUCCEEDED and cannot be redriven.";
    if (!stored)
        return "Execution was started before the launch of RedriveExecution.";
    if (!has_snap)
        return "Execution history event limit exceeded.";
    if (stop_ms + REDRIVE_PERIOD_MS < now)
        return "Execution redrivable period exceeded.";
    return NULL;
}

void sfn_redrive_fields(json_object *o, int64_t row, const char *status, int64_t stop_ms, bool describe)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT count, date_ms, snapshot IS NOT NULL FROM sfn_redrive WHERE exec_id = ?");
    sqlite3_bind_int64(st, 1, row);
    bool stored = sqlite3_step(st) == SQLITE_ROW;
    int64_t count = stored ? sqlite3_column_int64(st, 0) : 0;
    int64_t date = stored ? sqlite3_column_int64(st, 1) : 0;
    bool has_snap = stored && sqlite3_column_int(st, 2);
    sqlite3_reset(st);
    json_object_object_add(o, "redriveCount", json_object_new_int64(count));
    if (count > 0)
        json_object_object_add(o, "redriveDate", json_object_new_double((double)date / 1000.0));
    if (!describe)
        return;
    const char *why = redrive_reason(status, stop_ms, stored, has_snap, nb_now_ms());
    json_object_object_add(o, "redriveStatus", jstr(why ? "NOT_REDRIVABLE" : "REDRIVABLE"));
    if (why)
        json_object_object_add(o, "redriveStatusReason", jstr(why));
}

nb_status sfn_redrive_execution(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "executionArn");
    if (!arn || strncmp(arn, "arn:aws:states:", 15) || !strstr(arn, ":execution:"))
        return nb_fail(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn ? arn : "");
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT e.id, e.status, e.stop_ms, e.sm_arn, e.name, e.role, e.definition, e.input,"
                                   " e.start_ms, r.snapshot, r.count, r.exec_id IS NOT NULL FROM sfn_execs e"
                                   " LEFT JOIN sfn_redrive r ON r.exec_id = e.id WHERE e.arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return nb_fail(call, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
    }
    int64_t row = sqlite3_column_int64(st, 0);
    const char *why = redrive_reason(sfn_col(st, 1), sqlite3_column_int64(st, 2), sqlite3_column_int(st, 11),
                                     sqlite3_column_type(st, 9) != SQLITE_NULL, call->now_ms);
    json_object *def = why ? NULL : json_tokener_parse(sfn_col(st, 6)), *snap = why ? NULL : json_tokener_parse(sfn_col(st, 9));
    if (!why && (!def || !snap))
        why = "Execution history event limit exceeded.";
    if (why) {
        sqlite3_reset(st);
        json_object_put(def);
        json_object_put(snap);
        return nb_fail(call, "ExecutionNotRedrivable", "%s", why);
    }
    int64_t count = sqlite3_column_int64(st, 10) + 1;
    const char *sm = sfn_col(st, 3), *colon = strrchr(sm, ':');
    json_object *input = json_tokener_parse(sfn_col(st, 7));
    sfn_start ss = {.row = row, .arn = arn, .sm_arn = sm, .sm_name = colon ? colon + 1 : sm, .name = sfn_col(st, 4),
                    .role = sfn_col(st, 5), .input = input, .start_ms = sqlite3_column_int64(st, 8)};
    sx_exec *x = exec_new(call, &ss, def);
    sqlite3_reset(st);
    json_object_put(input);
    set_deadline(x, call->now_ms);
    x->redrives = count;
    x->redrive_ms = call->now_ms;
    restore(x, snap);
    json_object_put(snap);
    static sqlite3_stmt *u1, *u2;
    st = nb_stmt(&u1, "UPDATE sfn_execs SET status = 'RUNNING', stop_ms = NULL, output = NULL, error = NULL,"
                      " cause = NULL WHERE id = ?");
    sqlite3_bind_int64(st, 1, row);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = nb_stmt(&u2, "UPDATE sfn_redrive SET count = ?, date_ms = ?, snapshot = NULL WHERE exec_id = ?");
    sqlite3_bind_int64(st, 1, count);
    sqlite3_bind_int64(st, 2, call->now_ms);
    sqlite3_bind_int64(st, 3, row);
    sqlite3_step(st);
    sqlite3_reset(st);
    event(x, NULL, "ExecutionRedriven", "executionRedrivenEventDetails",
          det("redriveCount", json_object_new_int64(count), NULL, NULL));
    persist(x);
    uv_timer_start(&g_kick, kick_cb, 0, 0);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "redriveDate", json_object_new_double((double)call->now_ms / 1000.0));
    return NB_OK;
}
