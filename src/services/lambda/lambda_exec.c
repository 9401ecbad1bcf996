/*
 * lambda_exec.c — execution: instances, the Runtime API, the warm pool,
 * timeouts, logs, and the Invoke operation.
 *
 * An instance is one child process running a function version's runtime
 * (the user's `bootstrap`, or the Python/Node/Java shim nimbus ships) with
 * AWS_LAMBDA_RUNTIME_API pointing at a loopback listener of its own.  The
 * runtime's GET /invocation/next is a parked request: the instance is idle
 * while it is parked, and an invocation is delivered by answering it.  The
 * runtime's POST /response or /error finishes the invocation.
 *
 *   spawn ─▶ INIT ──GET next──▶ IDLE ──deliver──▶ BUSY ──response/error──┐
 *                                 ▲                                       │
 *                                 └──────────────GET next─────────────────┘
 *   any state ──exit/kill──▶ DEAD (freed once its handles are closed)
 *
 * Concurrency: an invocation takes an idle instance of its version, else
 * starts one (the cold start is bound to that invocation), unless the
 * function's active instances (INIT or BUSY) reached its reserved
 * concurrency or the account's active instances reached the account
 * limit: then it is throttled (429 TooManyRequestsException).  Idle
 * instances are reaped after LM_IDLE_MS; instances of a retired function
 * (code or configuration changed, deleted) are stopped when idle.
 *
 * Timeout: a timer per delivered invocation; on expiry the instance's
 * process group is killed and the invocation fails with Sandbox.Timedout.
 * Memory: nimbus samples the process's resident set (VmRSS/VmHWM) while it
 * is busy and when it answers; over MemorySize the instance is killed
 * and its invocation fails (Runtime.OutOfMemory).  The high-water mark
 * catches a spike between samples, late (by the next sample or the
 * answer) but surely; what it misses is memory of the function's own
 * child processes.  This is the documented best effort.
 *
 * Logs: the process's stdout and stderr are read line by line into the
 * function's log group, one stream per instance, with the START, END and
 * REPORT lines Lambda writes; LogType=Tail returns the invocation's last
 * 4 KB.  Output written before the runtime posts its response is drained
 * from the pipes synchronously at that moment, so it is never attributed
 * to the next invocation.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/http.h"
#include "core/launch.h"
#include "core/store.h"
#include "lambda_internal.h"
#include "lambda_java.h"
#include "services/logs/logs.h"

#define LM_IDLE_MS (10 * 60 * 1000)     /* idle instances live this long */
#define LM_SWEEP_MS 200                 /* memory and idle checks */
#define LM_INIT_MS (10 * 1000)          /* Init phase limit */
#define LM_ACCOUNT_LIMIT 1000           /* concurrent executions per account */
#define LM_TAIL 4096
#define LM_LINE_MAX (256 * 1024)        /* a log event's longest message */

typedef enum { I_INIT, I_IDLE, I_BUSY, I_DEAD } inst_state;

typedef struct lm_inst lm_inst;
typedef struct lm_pool lm_pool;

struct lm_inv {
    char id[37];
    lm_version v;
    char invoked_arn[300];
    char trace[256];
    char client_ctx[4096];      /* decoded ClientContext JSON, or "" */
    nb_buf payload;
    bool tail;
    nb_buf log;                 /* this invocation's log text (Tail) */
    lm_inst *inst;
    uint64_t start_us;          /* delivered to the function */
    uint64_t assigned_us;       /* given to a starting instance */
    int64_t deadline_ms;
    /* Result. */
    lm_result res;
    lm_done_fn done;
    void *arg;
    lm_chunk_fn chunk;          /* streamed response pieces go here (lm_inv_stream) */
    size_t streamed;            /* bytes of a streamed response so far */
    bool too_large;             /* it passed the limit: the rest is dropped */
};

struct lm_inst {
    lm_pool *pool;
    lm_inst *next;
    lm_version v;
    char id[33];
    char stream[160];
    inst_state st;
    bool retired;
    nb_listener *rapi;
    nb_req *waiting;            /* parked GET /next */
    nb_req *stream_req;         /* the streamed POST .../response being read */
    lm_inv *assigned;           /* the invocation that started it */
    lm_inv *cur;                /* delivered, not answered */
    lm_inv *logto;              /* whose Tail the lines go to while reporting */
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    int open;                   /* uv handles not yet closed */
    bool proc_alive;
    nb_buf line[2];             /* partial stdout/stderr lines */
    uint64_t spawned_us;
    double init_ms;             /* Init Duration, reported once */
    bool init_reported;
    bool kill_oom;
    uint64_t idle_since_ms;
    uint64_t mem_checked_ms;
    long max_rss_kb;
    struct {
        int64_t ts;
        size_t off, len;
    } *pend;                    /* log lines not stored yet */
    int npend, cap_pend;
    nb_buf pend_text;
    bool log_dirty;
    lm_inst *next_dirty;
};

struct lm_pool {
    lm_pool *next;
    char account[16], region[32], name[65];
    lm_inst *insts;
    int active;                 /* INIT + BUSY */
};

static lm_pool *g_pools;
static uv_timer_t g_sweep;
static bool g_sweep_on;
static char g_self[4096];
static char g_rtdir[4096];
static bool g_rt_written;
static char g_python[4096], g_node[4096], g_java[4096], g_javac[4096];
static bool g_found_python, g_found_node, g_found_java;
static bool g_shutting;

/* ---- helpers ------------------------------------------------------------- */

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* Search PATH for an executable. */
static bool find_exe(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *c = strchr(path, ':');
        size_t len = c ? (size_t)(c - path) : strlen(path);
        if (len > 0 && (size_t)snprintf(out, n, "%.*s/%s", (int)len, path, name) < n &&
            access(out, X_OK) == 0)
            return true;
        path += len + (c ? 1 : 0);
    }
    out[0] = 0;
    return false;
}

/* The interpreter for a runtime family: $ENV when set, else NAME (or
 * ALT) on PATH.  A Python found on PATH is asked for its real executable
 * once, so that a version manager's shim script (pyenv) is not run on
 * every cold start. */
static bool find_interpreter(const char *env, const char *name, const char *alt, char *out,
                             size_t n)
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, n, "%s", e);
        return access(out, X_OK) == 0;
    }
    if (!find_exe(name, out, n) && !(alt && find_exe(alt, out, n)))
        return false;
    if (strcmp(name, "python3") != 0)
        return true;
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import sys; print(sys.executable)' 2>/dev/null", out);
    FILE *p = strchr(out, '\'') ? NULL : popen(cmd, "r");
    char real[4096];
    if (p) {
        if (fgets(real, sizeof real, p)) {
            real[strcspn(real, "\n")] = 0;
            if (real[0] == '/' && access(real, X_OK) == 0)
                snprintf(out, n, "%s", real);
        }
        pclose(p);
    }
    return true;
}

/* Write the embedded shims under lm_root()/runtime once. */
static bool write_runtimes(void)
{
    if (g_rt_written)
        return true;
    snprintf(g_rtdir, sizeof g_rtdir, "%s/runtime", lm_root());
    for (const lm_embedded *e = lm_runtime_files; e->path; e++) {
        const char *rel = strchr(e->path, '/'); /* drop "runtimes" */
        char path[4200], dir[4200];
        snprintf(path, sizeof path, "%s%s", g_rtdir, rel ? rel : "/");
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        if (lm_mkdirs(dir, 0755) != 0) {
            NB_ERR("lambda: cannot create %s: %s", dir, strerror(errno));
            return false;
        }
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "wb");
        if (!f || fwrite(e->data, 1, e->len, f) != e->len || fclose(f) != 0 ||
            rename(tmp, path) != 0) {
            NB_ERR("lambda: cannot write %s: %s", path, strerror(errno));
            return false;
        }
    }
    g_rt_written = true;
    return true;
}

/* ---- pools --------------------------------------------------------------- */

static lm_pool *pool_get(const lm_version *v, bool create)
{
    for (lm_pool *p = g_pools; p; p = p->next)
        if (!strcmp(p->name, v->name) && !strcmp(p->account, v->account) &&
            !strcmp(p->region, v->region))
            return p;
    if (!create)
        return NULL;
    lm_pool *p = nb_calloc(1, sizeof *p);
    snprintf(p->account, sizeof p->account, "%s", v->account);
    snprintf(p->region, sizeof p->region, "%s", v->region);
    snprintf(p->name, sizeof p->name, "%s", v->name);
    p->next = g_pools;
    g_pools = p;
    return p;
}

static int account_active(const char *account)
{
    int n = 0;
    for (lm_pool *p = g_pools; p; p = p->next)
        if (!strcmp(p->account, account))
            n += p->active;
    return n;
}

static void set_state(lm_inst *in, inst_state st)
{
    bool was = in->st == I_INIT || in->st == I_BUSY;
    bool is = st == I_INIT || st == I_BUSY;
    if (was != is) {
        in->pool->active += is ? 1 : -1;
    }
    if (st == I_IDLE)
        in->idle_since_ms = nb_mono_ms();
    in->st = st;
}

/* ---- logs ---------------------------------------------------------------- */

static void inv_log(lm_inv *inv, const char *s, size_t n)
{
    if (!inv || !inv->tail)
        return;
    nb_buf_add(&inv->log, s, n);
    nb_buf_addc(&inv->log, '\n');
    if (inv->log.len > 4 * LM_TAIL) { /* keep the end only */
        size_t drop = inv->log.len - LM_TAIL;
        memmove(inv->log.data, inv->log.data + drop, inv->log.len - drop);
        inv->log.len -= drop;
    }
}

/* Log lines are batched per instance and stored with one nb_logs_put at
 * the end of each invocation, when the instance closes, and on the sweep
 * tick (so a long invocation's output shows up within LM_SWEEP_MS). */
static void flush_logs(lm_inst *in)
{
    if (in->npend == 0)
        return;
    nb_log_event *ev = nb_malloc((size_t)in->npend * sizeof *ev);
    for (int i = 0; i < in->npend; i++) {
        ev[i].ts_ms = in->pend[i].ts;
        ev[i].msg = in->pend_text.data + in->pend[i].off;
        ev[i].len = in->pend[i].len;
    }
    nb_store_call_begin();
    nb_logs_put(in->v.account, in->v.region, in->v.log_group, in->stream, ev, (size_t)in->npend);
    nb_store_call_end(true);
    free(ev);
    in->npend = 0;
    in->pend_text.len = 0;
}

/* Instances with lines to store: flushed every LM_LOG_FLUSH_MS (many
 * invocations share one nb_logs_put per instance), and at once whenever a
 * CloudWatch Logs call is about to run (nb_logs_set_flusher), so readers
 * never miss a line; an instance that closes stores its lines first. */
#define LM_LOG_FLUSH_MS 100
static uv_timer_t g_flush;
static bool g_flush_on;
static lm_inst *g_dirty_logs;

static void flush_all_logs(void)
{
    while (g_dirty_logs) {
        lm_inst *in = g_dirty_logs;
        g_dirty_logs = in->next_dirty;
        in->log_dirty = false;
        flush_logs(in);
    }
}

static void on_flush(uv_timer_t *h)
{
    (void)h;
    flush_all_logs();
}

static void mark_logs(lm_inst *in)
{
    if (in->log_dirty)
        return;
    in->log_dirty = true;
    in->next_dirty = g_dirty_logs;
    g_dirty_logs = in;
    if (!g_flush_on) {
        uv_timer_init(nb_loop(), &g_flush);
        uv_unref((uv_handle_t *)&g_flush);
        g_flush_on = true;
        nb_logs_set_flusher(flush_all_logs);
    }
    if (!uv_is_active((uv_handle_t *)&g_flush))
        uv_timer_start(&g_flush, on_flush, LM_LOG_FLUSH_MS, 0);
}

static void unmark_logs(lm_inst *in)
{
    if (!in->log_dirty)
        return;
    for (lm_inst **pp = &g_dirty_logs; *pp; pp = &(*pp)->next_dirty)
        if (*pp == in) {
            *pp = in->next_dirty;
            break;
        }
    in->log_dirty = false;
}

static void put_line(lm_inst *in, const char *s, size_t n)
{
    if (in->npend == in->cap_pend) {
        in->cap_pend = in->cap_pend ? in->cap_pend * 2 : 16;
        in->pend = nb_realloc(in->pend, (size_t)in->cap_pend * sizeof *in->pend);
    }
    in->pend[in->npend].ts = nb_now_ms();
    in->pend[in->npend].off = in->pend_text.len;
    in->pend[in->npend].len = n;
    in->npend++;
    nb_buf_add(&in->pend_text, s, n);
    if (in->npend >= 1000 || in->pend_text.len >= 512 * 1024)
        flush_logs(in);
    else
        mark_logs(in);
    inv_log(in->logto ? in->logto : in->cur ? in->cur : in->assigned, s, n);
}

static void put_linef(lm_inst *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_linef(lm_inst *in, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        put_line(in, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Split output into lines; a line longer than LM_LINE_MAX is cut. */
static void take_output(lm_inst *in, int which, const char *data, size_t n)
{
    nb_buf *b = &in->line[which];
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (b->len + take > LM_LINE_MAX)
            take = LM_LINE_MAX - b->len;
        nb_buf_add(b, data, take);
        data += take;
        n -= take;
        if (nl && n > 0 && *data == '\n') {
            data++;
            n--;
        } else if (b->len < LM_LINE_MAX) {
            break;
        }
        size_t len = b->len;
        if (len > 0 && b->data[len - 1] == '\r')
            len--;
        put_line(in, b->data, len);
        b->len = 0;
    }
}

static void flush_partial(lm_inst *in)
{
    for (int i = 0; i < 2; i++)
        if (in->line[i].len) {
            put_line(in, in->line[i].data, in->line[i].len);
            in->line[i].len = 0;
        }
}

/* Read what the child already wrote (it wrote before talking to us). */
static void drain(lm_inst *in)
{
    uv_pipe_t *pipes[2] = {&in->out, &in->err};
    char buf[16384];
    for (int i = 0; i < 2; i++) {
        uv_os_fd_t fd;
        if (uv_is_closing((uv_handle_t *)pipes[i]) || uv_fileno((uv_handle_t *)pipes[i], &fd) != 0)
            continue;
        for (;;) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0)
                break;
            take_output(in, i, buf, (size_t)r);
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    size_t n = hint < 65536 ? 65536 : hint;
    b->base = nb_malloc(n);
    b->len = n;
}

static void on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    lm_inst *in = s->data;
    if (n > 0)
        take_output(in, s == (uv_stream_t *)&in->err, b->base, (size_t)n);
    else if (n < 0)
        uv_read_stop(s);
    free(b->base);
}

/* ---- instance memory ----------------------------------------------------- */

static long proc_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void sample_memory(lm_inst *in)
{
    if (!in->proc_alive)
        return;
    long hwm = proc_kb(in->proc.pid, "VmHWM");
    if (hwm > in->max_rss_kb)
        in->max_rss_kb = hwm;
    in->mem_checked_ms = nb_mono_ms();
}

/* ---- results ------------------------------------------------------------- */

static void result_error(lm_result *res, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void result_error(lm_result *res, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    res->kind = LM_FUNCTION_ERROR;
    snprintf(res->error_type, sizeof res->error_type, "%s", type);
    res->payload.len = 0;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "errorType", json_object_new_string(type));
    json_object_object_add(o, "errorMessage", json_object_new_string(msg));
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    nb_buf_adds(&res->payload, s);
    json_object_put(o);
}

static void inv_free(lm_inv *inv)
{
    lm_version_clear(&inv->v);
    nb_buf_free(&inv->payload);
    nb_buf_free(&inv->log);
    nb_buf_free(&inv->res.payload);
    free(inv);
}

/* Deliver the result to whoever invoked; frees the invocation. */
static void inv_finish(lm_inv *inv)
{
    if (inv->tail && inv->log.len) {
        size_t off = inv->log.len > LM_TAIL ? inv->log.len - LM_TAIL : 0;
        size_t n;
        char *b64 = nb_base64_encode(inv->log.data + off, inv->log.len - off, &n);
        snprintf(inv->res.log_tail, sizeof inv->res.log_tail, "%s", b64);
        free(b64);
    }
    snprintf(inv->res.executed_version, sizeof inv->res.executed_version, "%s", inv->v.version);
    inv->done(&inv->res, inv->arg);
    inv_free(inv);
}

/* END and REPORT for the invocation an instance ran; status "" when it
 * succeeded or failed inside the function. */
static void report(lm_inst *in, lm_inv *inv, const char *status, const char *etype)
{
    in->logto = inv;
    /* An invocation that never reached the function (init failed or timed
     * out first) lasted from its assignment to this instance. */
    uint64_t t0 = inv->start_us ? inv->start_us : inv->assigned_us;
    double ms = t0 ? (double)(now_us() - t0) / 1000.0 : 0.0;
    long billed = (long)ms + 1;
    if (in->proc_alive && nb_mono_ms() - in->mem_checked_ms > 100)
        sample_memory(in);
    long mem_mb = (in->max_rss_kb + 1023) / 1024;
    char init[64] = "";
    if (!in->init_reported) {
        snprintf(init, sizeof init, "\tInit Duration: %.2f ms", in->init_ms);
        in->init_reported = true;
    }
    char extra[160] = "";
    if (status && *status)
        snprintf(extra, sizeof extra, "\tStatus: %s%s%s", status, etype ? "\tError Type: " : "",
                 etype ? etype : "");
    put_linef(in, "END RequestId: %s", inv->id);
    put_linef(in, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %ld ms\t"
                  "Memory Size: %d MB\tMax Memory Used: %ld MB%s%s",
              inv->id, ms, billed, in->v.memory_mb, mem_mb, init, extra);
    in->logto = NULL;
}

/* ---- instance teardown --------------------------------------------------- */

static void pool_free_if_done(lm_pool *p)
{
    if (!g_shutting || p->insts)
        return;
    for (lm_pool **pp = &g_pools; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

static void inst_free(lm_inst *in)
{
    lm_pool *p = in->pool;
    for (lm_inst **pp = &p->insts; *pp; pp = &(*pp)->next)
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", lm_root(), in->id);
    lm_remove_tree(tmp);
    lm_version_clear(&in->v);
    free(in->pend);
    nb_buf_free(&in->pend_text);
    nb_buf_free(&in->line[0]);
    nb_buf_free(&in->line[1]);
    free(in);
    pool_free_if_done(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    lm_inst *in = h->data;
    if (--in->open == 0)
        inst_free(in);
}

static void inst_kill(lm_inst *in)
{
    if (in->proc_alive)
        kill(-in->proc.pid, SIGKILL); /* its process group (setsid) */
}

/* The instance is gone or going: close everything; the invocation it held
 * (if any) was already finished by the caller. */
static void inst_close(lm_inst *in)
{
    if (in->st == I_DEAD)
        return;
    flush_partial(in);
    flush_logs(in);
    unmark_logs(in);
    set_state(in, I_DEAD);
    if (in->waiting) {
        nb_req *r = in->waiting;
        in->waiting = NULL;
        r->call.on_cancel = NULL;
    }
    if (in->rapi) {
        nb_http_close(in->rapi);
        in->rapi = NULL;
    }
    inst_kill(in);
    uv_timer_stop(&in->timer);
    uv_handle_t *hs[] = {(uv_handle_t *)&in->timer, (uv_handle_t *)&in->out,
                         (uv_handle_t *)&in->err};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_handle_closed);
    if (!in->proc_alive && !uv_is_closing((uv_handle_t *)&in->proc))
        uv_close((uv_handle_t *)&in->proc, on_handle_closed);
    /* else the exit callback closes the process handle */
}

/* Fail whatever the instance holds with an error result, then close it. */
static void inst_fail(lm_inst *in, const char *status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void inst_fail(lm_inst *in, const char *status, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lm_inv *inv = in->cur ? in->cur : in->assigned;
    if (inv) {
        in->logto = inv;
        drain(in);
        flush_partial(in);
        if (!strcmp(status, "timeout")) {
            char ts[32];
            nb_iso8601((double)nb_now_ms() / 1000.0, ts);
            put_linef(in, "%s %s Task timed out after %d.00 seconds", ts, inv->id,
                      in->v.timeout_s);
        }
        in->cur = in->assigned = NULL;
        inv->inst = NULL;
        result_error(&inv->res, type, "RequestId: %s Error: %s", inv->id, msg);
        report(in, inv, status, type);
        inv_finish(inv);
    }
    in->cur = in->assigned = NULL;
    in->stream_req = NULL;
    inst_close(in);
}

/* ---- the Runtime API ----------------------------------------------------- */

static void rapi_reply(nb_req *r, int status, const char *type, const char *msg)
{
    r->status = status;
    r->content_type = "application/json";
    if (type) {
        nb_buf_adds(&r->rbody, "{\"errorMessage\":\"");
        nb_buf_adds(&r->rbody, msg);
        nb_buf_adds(&r->rbody, "\",\"errorType\":\"");
        nb_buf_adds(&r->rbody, type);
        nb_buf_adds(&r->rbody, "\"}");
    } else {
        nb_buf_adds(&r->rbody, "{\"status\":\"OK\"}");
    }
    nb_req_finish(r);
}

static void deliver(lm_inst *in, lm_inv *inv);

static void on_timeout(uv_timer_t *t)
{
    lm_inst *in = t->data;
    inst_fail(in, "timeout", "Sandbox.Timedout", "Task timed out after %d.00 seconds",
              in->v.timeout_s);
}

static void next_cancelled(nb_call *call)
{
    lm_inst *in = call->park;
    if (in && in->waiting && &in->waiting->call == call)
        in->waiting = NULL;
}

/* The instance asked for work: hand it its first invocation, or leave it
 * idle with the request parked. */
static void rapi_next(lm_inst *in, nb_req *r)
{
    if (in->waiting) {
        rapi_reply(r, 400, "InvalidStateTransition", "a next request is already waiting");
        return;
    }
    if (in->st == I_INIT) {
        in->init_ms = (double)(now_us() - in->spawned_us) / 1000.0;
        uv_timer_stop(&in->timer);
    }
    in->waiting = r;
    r->call.park = in;
    r->call.on_cancel = next_cancelled;
    if (in->cur)
        return; /* answered nothing for the previous one: its timeout decides */
    lm_inv *inv = in->assigned;
    in->assigned = NULL;
    if (inv) {
        deliver(in, inv);
        return;
    }
    set_state(in, I_IDLE);
    if (in->retired)
        inst_close(in);
}

static void finish_cur(lm_inst *in, lm_result_kind kind, const char *etype, const char *body,
                       size_t len)
{
    /* Over MemorySize by the end: on AWS the kernel would have killed it
     * before it answered, so this invocation fails too. */
    sample_memory(in);
    if (in->proc_alive && in->max_rss_kb > (long)in->v.memory_mb * 1024) {
        in->kill_oom = true;
        inst_fail(in, "error", "Runtime.OutOfMemory", "Runtime exited with error: signal: killed");
        return;
    }
    lm_inv *inv = in->cur;
    uv_timer_stop(&in->timer);
    drain(in);
    in->cur = NULL;
    in->stream_req = NULL;
    inv->inst = NULL;
    inv->res.kind = kind;
    nb_buf_add(&inv->res.payload, body, len);
    if (etype)
        snprintf(inv->res.error_type, sizeof inv->res.error_type, "%s", etype);
    report(in, inv, NULL, NULL);
    inv_finish(inv); /* the instance stays BUSY until its next request */
}

/* The runtime's Content-Type for its response, kept in the result. */
static void keep_content_type(lm_inv *inv, const nb_req *r)
{
    size_t n = 0;
    const char *ct = nb_req_header(r, "content-type", &n);
    if (ct && n < sizeof inv->res.content_type)
        nb_copy(inv->res.content_type, sizeof inv->res.content_type, ct, n);
}

/* True when r is a POST of the current invocation's response in streaming
 * mode (Lambda-Runtime-Function-Response-Mode: streaming). */
static bool is_stream_post(const lm_inst *in, const nb_req *r)
{
    static const char pre[] = "/2018-06-01/runtime/invocation/";
    size_t pl = sizeof pre - 1;
    const char *mode = nb_req_header(r, "lambda-runtime-function-response-mode", NULL);
    if (!in->cur || !mode || strcasecmp(mode, "streaming") != 0 || strcmp(r->method, "POST") ||
        r->path_len <= pl || memcmp(r->path, pre, pl) != 0)
        return false;
    size_t idl = strlen(in->cur->id);
    return r->path_len == pl + idl + 9 && !memcmp(r->path + pl, in->cur->id, idl) &&
           !memcmp(r->path + pl + idl, "/response", 9);
}

/* The listener's body callback: a streamed response's pieces go to the
 * invocation's consumer as they arrive (or are collected up to 6 MB when
 * it has none); everything else is buffered as usual. */
static void rapi_body(nb_req *r, nb_body_event ev, const char *data, size_t len, void *ctx)
{
    lm_inst *in = ctx;
    lm_inv *inv = in->cur;
    if (ev == NB_BODY_BEGIN) {
        if (in->st == I_BUSY && !in->stream_req && is_stream_post(in, r)) {
            r->body_stream = true;
            in->stream_req = r;
            inv->res.streamed = true;
            keep_content_type(inv, r);
        }
        return;
    }
    if (in->stream_req != r || !inv)
        return; /* the invocation ended (timeout, kill) while the body was coming */
    if (ev == NB_BODY_ABORT) {
        /* The runtime may answer again; what it streamed so far is gone
         * to the client already, or dropped when it was being collected. */
        in->stream_req = NULL;
        inv->res.streamed = false;
        inv->streamed = 0;
        if (!inv->chunk)
            inv->res.payload.len = 0;
        return;
    }
    if (inv->too_large)
        return;
    size_t limit = inv->chunk ? LM_STREAM_MAX : LM_SYNC_PAYLOAD;
    if (inv->streamed + len > limit) {
        inv->too_large = true;
        return;
    }
    inv->streamed += len;
    if (inv->chunk)
        inv->chunk(inv->res.content_type, data, len, inv->arg);
    else
        nb_buf_add(&inv->res.payload, data, len);
}

/* The end of a streamed response: its trailers say whether the function
 * failed mid-stream (Lambda-Runtime-Function-Error-Type and -Body, base64). */
static void stream_done(lm_inst *in, nb_req *r)
{
    lm_inv *inv = in->cur;
    in->stream_req = NULL;
    rapi_reply(r, 202, NULL, NULL);
    const char *type = nb_req_trailer(r, "lambda-runtime-function-error-type", NULL);
    size_t bl = 0;
    const char *b64 = nb_req_trailer(r, "lambda-runtime-function-error-body", &bl);
    if (type && *type) {
        size_t n = 0;
        unsigned char *body = b64 ? nb_base64_decode(b64, bl, &n) : NULL;
        inv->res.payload.len = 0;
        finish_cur(in, LM_FUNCTION_ERROR, type, body ? (const char *)body : "", body ? n : 0);
        free(body);
    } else if (inv->too_large) {
        inv->res.payload.len = 0;
        char m[200];
        int k = snprintf(m, sizeof m,
                         "{\"errorMessage\":\"Response payload size exceeded maximum allowed "
                         "payload size (%d bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}",
                         inv->chunk ? LM_STREAM_MAX : LM_SYNC_PAYLOAD);
        finish_cur(in, LM_FUNCTION_ERROR, "Function.ResponseSizeTooLarge", m, (size_t)k);
    } else {
        finish_cur(in, LM_OK, NULL, "", 0);
    }
}

static void rapi_handle(nb_req *r, void *ctx)
{
    lm_inst *in = ctx;
    if (r->early_status) {
        rapi_reply(r, r->early_status == 413 ? 413 : 400,
                   r->early_status == 413 ? "RequestEntityTooLarge" : "InvalidRequest",
                   "the request could not be read");
        return;
    }
    static const char base[] = "/2018-06-01/runtime/";
    size_t bl = sizeof base - 1;
    if (r->path_len < bl || memcmp(r->path, base, bl) != 0) {
        rapi_reply(r, 404, "NotFound", "unknown path");
        return;
    }
    const char *p = r->path + bl;
    size_t n = r->path_len - bl;
    bool get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (n == 15 && !memcmp(p, "invocation/next", 15) && get) {
        rapi_next(in, r);
        return;
    }
    if (n == 10 && !memcmp(p, "init/error", 10) && post) {
        rapi_reply(r, 202, NULL, NULL);
        lm_inv *inv = in->assigned;
        in->assigned = NULL;
        if (inv && in->st == I_INIT) {
            in->logto = inv;
            drain(in);
            flush_partial(in);
            const char *t = nb_req_header(r, "lambda-runtime-function-error-type", NULL);
            inv->res.kind = LM_FUNCTION_ERROR;
            snprintf(inv->res.error_type, sizeof inv->res.error_type, "%s",
                     t ? t : "Runtime.Unknown");
            nb_buf_add(&inv->res.payload, r->body.data, r->body.len);
            inv->inst = NULL;
            in->init_ms = (double)(now_us() - in->spawned_us) / 1000.0;
            report(in, inv, "error", inv->res.error_type);
            inv_finish(inv);
        }
        inst_close(in);
        return;
    }
    if (n > 11 && !memcmp(p, "invocation/", 11) && post) {
        const char *id = p + 11;
        const char *slash = memchr(id, '/', n - 11);
        size_t idl = slash ? (size_t)(slash - id) : 0;
        const char *what = slash ? slash + 1 : "";
        size_t wl = slash ? n - 11 - idl - 1 : 0;
        if (!in->cur || idl != strlen(in->cur->id) || memcmp(id, in->cur->id, idl) != 0) {
            rapi_reply(r, 400, "InvalidRequestID", "Invalid request ID");
            return;
        }
        if (wl == 8 && !memcmp(what, "response", 8)) {
            if (r->body_stream && in->stream_req == r) {
                stream_done(in, r);
                return;
            }
            keep_content_type(in->cur, r);
            if (r->body.len > LM_SYNC_PAYLOAD) {
                rapi_reply(r, 413, "RequestEntityTooLarge",
                           "Exceeded maximum allowed payload size (6291556 bytes).");
                lm_inv *inv = in->cur;
                char m[160];
                snprintf(m, sizeof m,
                         "Response payload size (%zu bytes) exceeded maximum allowed payload "
                         "size (6291556 bytes).", r->body.len);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "errorMessage", json_object_new_string(m));
                json_object_object_add(o, "errorType",
                                       json_object_new_string("Function.ResponseSizeTooLarge"));
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                (void)inv;
                finish_cur(in, LM_FUNCTION_ERROR, "Function.ResponseSizeTooLarge", s, strlen(s));
                json_object_put(o);
                return;
            }
            rapi_reply(r, 202, NULL, NULL);
            finish_cur(in, LM_OK, NULL, r->body.data, r->body.len);
            return;
        }
        if (wl == 5 && !memcmp(what, "error", 5)) {
            rapi_reply(r, 202, NULL, NULL);
            const char *t = nb_req_header(r, "lambda-runtime-function-error-type", NULL);
            finish_cur(in, LM_FUNCTION_ERROR, t ? t : "Unhandled", r->body.data, r->body.len);
            return;
        }
    }
    rapi_reply(r, 404, "NotFound", "unknown path");
}

/* ---- spawning ------------------------------------------------------------ */

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    lm_inst *in = p->data;
    in->proc_alive = false;
    char why[64];
    if (sig) { /* as Lambda words it: "signal: killed", "signal: segmentation fault" */
        snprintf(why, sizeof why, "signal: %s", strsignal(sig));
        for (char *c = why; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    } else
        snprintf(why, sizeof why, "exit status %d", (int)status);
    if (in->st != I_DEAD) {
        if (in->kill_oom)
            inst_fail(in, "error", "Runtime.OutOfMemory", "Runtime exited with error: %s", why);
        else
            inst_fail(in, "error", "Runtime.ExitError", "Runtime exited with error: %s", why);
    }
    if (!uv_is_closing((uv_handle_t *)p))
        uv_close((uv_handle_t *)p, on_handle_closed);
}

typedef struct {
    char **v;
    int n, cap;
} strv;

static void strv_add(strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strv_add(strv *s, const char *fmt, ...)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->v = nb_realloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s->v[s->n], fmt, ap) < 0)
        abort();
    va_end(ap);
    s->v[++s->n] = NULL;
}

static void strv_free(strv *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static bool env_has(const strv *e, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < e->n; i++)
        if (!strncmp(e->v[i], key, kl) && e->v[i][kl] == '=')
            return true;
    return false;
}

static const char *runtime_family(const char *rt)
{
    if (!strncmp(rt, "python", 6))
        return "python";
    if (!strncmp(rt, "nodejs", 6))
        return "node";
    if (!strncmp(rt, "provided", 8))
        return "provided";
    if (!strncmp(rt, "java", 4))
        return "java";
    return NULL;
}

/* The JVM for java* runtimes: $NIMBUS_LAMBDA_JAVA, else $JAVA_HOME/bin/java,
 * else java on PATH; with it the shim compiled at first use (lambda_java.c).
 * The flags are lm_java_flags, the shim's class data sharing archive when
 * there is one, and a heap of 85% of the function's memory, as AWS sizes
 * it. */
static void find_java(void)
{
    if (!g_found_java) {
        const char *home = getenv("JAVA_HOME");
        const char *own = getenv("NIMBUS_LAMBDA_JAVA");
        if (!(own && *own) && home && *home) {
            snprintf(g_java, sizeof g_java, "%s/bin/java", home);
            g_found_java = access(g_java, X_OK) == 0;
        }
        if (!g_found_java)
            g_found_java = find_interpreter("NIMBUS_LAMBDA_JAVA", "java", NULL, g_java,
                                            sizeof g_java);
        if (g_found_java && !find_exe("javac", g_javac, sizeof g_javac))
            g_javac[0] = 0;
    }
}

void lm_exec_prepare(const char *runtime)
{
    if (!runtime || strncmp(runtime, "java", 4) != 0)
        return;
    find_java();
    if (g_found_java && write_runtimes())
        lm_java_prebuild(g_rtdir, g_java, g_javac);
}

bool lm_exec_pending(const char *runtime)
{
    return runtime && strncmp(runtime, "java", 4) == 0 && lm_java_building();
}

static bool java_argv(const lm_version *v, const char *const *layers, int nl, strv *argv,
                      nb_call *call, bool *api_error)
{
    find_java();
    *api_error = true;
    if (lm_java_building()) {
        nb_fail(call, "ResourceConflictException",
                "The operation cannot be performed at this time. The function is currently in "
                "the following state: Pending");
        return false;
    }
    if (!g_found_java) {
        const char *own = getenv("NIMBUS_LAMBDA_JAVA");
        if (own && *own)
            nb_fail(call, "InvalidRuntimeException",
                    "nimbus cannot run the %s runtime: NIMBUS_LAMBDA_JAVA (%s) is not an "
                    "executable java.", v->runtime, own);
        else
            nb_fail(call, "InvalidRuntimeException",
                    "nimbus cannot run the %s runtime: no java was found on PATH "
                    "(set NIMBUS_LAMBDA_JAVA or JAVA_HOME).", v->runtime);
        return false;
    }
    if (!write_runtimes()) {
        nb_fail(call, "ServiceException", "nimbus could not install its java runtime.");
        return false;
    }
    const char *code = NULL;
    char msg[1024];
    const char *jsa;
    const char *cp = lm_java_classpath(g_rtdir, g_java, g_javac, &jsa, &code, msg, sizeof msg);
    uv_update_time(nb_loop()); /* a first build blocked the loop: timers start from now */
    if (!cp) {
        nb_fail(call, code, "%s", msg);
        return false;
    }
    *api_error = false;
    strv_add(argv, "%s", g_java);
    for (int i = 0; lm_java_flags[i]; i++)
        strv_add(argv, "%s", lm_java_flags[i]);
    if (jsa)
        strv_add(argv, "-XX:SharedArchiveFile=%s", jsa);
    strv_add(argv, "-XX:MaxHeapSize=%dk", v->memory_mb * 1024 / 100 * 85);
    char lp[LM_MAX_LAYERS * 4300] = "";
    size_t n = 0;
    for (int i = 0; i < nl; i++)
        n += (size_t)snprintf(lp + n, sizeof lp - n, "%s%s", i ? ":" : "", layers[i]);
    strv_add(argv, "-Dnimbus.layers=%s", lp);
    strv_add(argv, "-cp");
    strv_add(argv, "%s", cp);
    strv_add(argv, "nimbus.lambda.Bootstrap");
    return true;
}

/* Build argv for the runtime; on failure fill *res and return false. */
static bool runtime_argv(const lm_version *v, const char *code, const char *const *layers,
                         int nl, strv *argv, const char *inv_id, lm_result *res, nb_call *call,
                         bool *api_error)
{
    const char *fam = runtime_family(v->runtime);
    *api_error = false;
    if (!fam) {
        *api_error = true;
        nb_fail(call, "InvalidRuntimeException",
                "nimbus cannot run the %s runtime: it runs provided.*, python3.*, nodejs* and "
                "java*.",
                v->runtime[0] ? v->runtime : "(none)");
        return false;
    }
    if (!strcmp(fam, "provided")) {
        char path[4200];
        snprintf(path, sizeof path, "%s/bootstrap", code);
        if (access(path, X_OK) != 0) {
            bool found = false;
            for (int i = 0; i < nl && !found; i++) {
                snprintf(path, sizeof path, "%s/bootstrap", layers[i]);
                found = access(path, X_OK) == 0;
            }
            if (!found) {
                result_error(res, "Runtime.InvalidEntrypoint",
                             "RequestId: %s Error: Couldn't find valid bootstrap(s): "
                             "[/var/task/bootstrap /opt/bootstrap]", inv_id);
                return false;
            }
        }
        strv_add(argv, "%s", path);
        return true;
    }
    if (!strcmp(fam, "java"))
        return java_argv(v, layers, nl, argv, call, api_error);
    bool py = !strcmp(fam, "python");
    if (py && !g_found_python)
        g_found_python = find_interpreter("NIMBUS_LAMBDA_PYTHON", "python3", NULL, g_python,
                                          sizeof g_python);
    if (!py && !g_found_node)
        g_found_node = find_interpreter("NIMBUS_LAMBDA_NODE", "node", "nodejs", g_node,
                                        sizeof g_node);
    if ((py && !g_found_python) || (!py && !g_found_node)) {
        *api_error = true;
        nb_fail(call, "InvalidRuntimeException",
                "nimbus cannot run the %s runtime: no %s interpreter was found on PATH.",
                v->runtime, py ? "python3" : "node");
        return false;
    }
    if (!write_runtimes()) {
        *api_error = true;
        nb_fail(call, "ServiceException", "nimbus could not install its %s runtime.", fam);
        return false;
    }
    strv_add(argv, "%s", py ? g_python : g_node);
    if (!py)
        strv_add(argv, "--enable-source-maps");
    strv_add(argv, "%s/%s/bootstrap.%s", g_rtdir, py ? "python" : "node", py ? "py" : "js");
    return true;
}

static void add_env(strv *env, const lm_version *v, const char *code, const char *const *layers,
                    int nl, const char *stream, int port, const char *tmp)
{
    const char *fam = runtime_family(v->runtime);
    char layer_paths[LM_MAX_LAYERS * 4300] = "";
    size_t lp = 0;
    strv_add(env, "AWS_LAMBDA_FUNCTION_NAME=%s", v->name);
    strv_add(env, "AWS_LAMBDA_FUNCTION_VERSION=%s", v->version);
    strv_add(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", v->memory_mb);
    strv_add(env, "AWS_LAMBDA_LOG_GROUP_NAME=%s", v->log_group);
    strv_add(env, "AWS_LAMBDA_LOG_STREAM_NAME=%s", stream);
    strv_add(env, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", port);
    strv_add(env, "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand");
    strv_add(env, "AWS_REGION=%s", v->region);
    strv_add(env, "AWS_DEFAULT_REGION=%s", v->region);
    strv_add(env, "AWS_EXECUTION_ENV=AWS_Lambda_%s", v->runtime);
    const char *key = strcmp(v->account, "000000000000") ? v->account : nb_cfg.access_key;
    strv_add(env, "AWS_ACCESS_KEY_ID=%s", key);
    strv_add(env, "AWS_SECRET_ACCESS_KEY=%s", nb_cfg.secret_key);
    strv_add(env, "AWS_SESSION_TOKEN=nimbus");
    const char *host = nb_cfg.host;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        host = "127.0.0.1";
    strv_add(env, strchr(host, ':') ? "AWS_ENDPOINT_URL=http://[%s]:%d" : "AWS_ENDPOINT_URL=http://%s:%d",
             host, nb_cfg.port);
    strv_add(env, "_HANDLER=%s", v->handler);
    strv_add(env, "LAMBDA_TASK_ROOT=%s", code);
    strv_add(env, "LAMBDA_RUNTIME_DIR=%s", g_rtdir[0] ? g_rtdir : code);
    strv_add(env, "TZ=:UTC");
    strv_add(env, "LANG=en_US.UTF-8");
    strv_add(env, "TMPDIR=%s", tmp);
    strv_add(env, "HOME=%s", tmp);
    for (int i = 0; i < nl; i++)
        lp += (size_t)snprintf(layer_paths + lp, sizeof layer_paths - lp, "%s/bin:", layers[i]);
    strv_add(env, "PATH=%s/bin:%s/usr/local/bin:/usr/bin:/bin", code, layer_paths);
    lp = 0;
    layer_paths[0] = 0;
    for (int i = 0; i < nl; i++)
        lp += (size_t)snprintf(layer_paths + lp, sizeof layer_paths - lp, ":%s/lib", layers[i]);
    strv_add(env, "LD_LIBRARY_PATH=%s:%s/lib%s", code, code, layer_paths);
    if (fam && !strcmp(fam, "python")) {
        lp = 0;
        layer_paths[0] = 0;
        for (int i = 0; i < nl; i++)
            lp += (size_t)snprintf(layer_paths + lp, sizeof layer_paths - lp, ":%s/python",
                                   layers[i]);
        strv_add(env, "PYTHONPATH=%s%s", code, layer_paths);
        strv_add(env, "PYTHONDONTWRITEBYTECODE=1");
    } else if (fam && !strcmp(fam, "node")) {
        lp = 0;
        layer_paths[0] = 0;
        for (int i = 0; i < nl; i++)
            lp += (size_t)snprintf(layer_paths + lp, sizeof layer_paths - lp,
                                   "%s/nodejs/node_modules:", layers[i]);
        strv_add(env, "NODE_PATH=%s%s/node_modules", layer_paths, code);
    }
    if (v->env) {
        json_object_object_foreach(v->env, k, val)
        {
            if (!env_has(env, k))
                strv_add(env, "%s=%s", k, json_object_get_string(val));
        }
    }
}

static void stream_name(lm_inst *in)
{
    char day[16];
    time_t t = (time_t)(nb_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y/%m/%d", &tm);
    snprintf(in->stream, sizeof in->stream, "%s/[%s]%s", day, in->v.version, in->id);
}

/* The launcher's sandbox (see launch.h): a private /tmp of the ephemeral
 * storage size and the layers at /opt, unless NIMBUS_LAMBDA_SANDBOX=0. */
static void sandbox_args(strv *argv, const char *code, const char *const *layers, int nl,
                         int eph_mb, const char *prog)
{
    const char *off = getenv("NIMBUS_LAMBDA_SANDBOX");
    strv_add(argv, "--sandbox");
    strv_add(argv, "%s", off && !strcmp(off, "0") ? "0" : "1");
    strv_add(argv, "--tmp");
    strv_add(argv, "%d", eph_mb);
    strv_add(argv, "--keep");
    strv_add(argv, "%s", code);
    strv_add(argv, "--keep");
    strv_add(argv, "%s/runtime", lm_root()); /* the shims (write_runtimes) */
    for (int i = 0; i < nl; i++) {
        strv_add(argv, "--opt");
        strv_add(argv, "%s", layers[i]);
        strv_add(argv, "--keep");
        strv_add(argv, "%s", layers[i]);
    }
    /* An interpreter installed under /tmp (NIMBUS_LAMBDA_PYTHON, JAVA_HOME,
     * ...) stays visible: its installation, the parent of its bin/. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", prog);
    char *slash = strrchr(dir, '/');
    if (!slash || strncmp(dir, "/tmp/", 5) != 0)
        return;
    *slash = 0;
    slash = strrchr(dir, '/');
    if (slash && !strcmp(slash, "/bin") && slash - dir > 4)
        *slash = 0;
    size_t rl = strlen(lm_root());
    bool ours = !strncmp(dir, lm_root(), rl) && (dir[rl] == '/' || !dir[rl]);
    if (strcmp(dir, "/tmp") != 0 && !ours) {
        strv_add(argv, "--keep");
        strv_add(argv, "%s", dir);
    }
}

/* Start an instance for inv (which it will run first).  On failure either
 * the call failed (returns -1: an API error) or inv->res holds a function
 * error (returns 1). */
static int inst_spawn(lm_pool *p, lm_inv *inv, nb_call *call)
{
    const char *code = lm_code_dir(inv->v.code_sha);
    if (!code) {
        nb_fail(call, "ServiceException", "nimbus could not unpack the function's code.");
        return -1;
    }
    const char *layers[LM_MAX_LAYERS];
    int nl = 0;
    for (int i = 0; i < inv->v.nlayers && i < LM_MAX_LAYERS; i++) {
        layers[nl] = lm_code_dir(inv->v.layer_sha[i]);
        if (!layers[nl]) {
            nb_fail(call, "ServiceException", "nimbus could not unpack a layer's content.");
            return -1;
        }
        nl++;
    }
    strv argv = {0}, env = {0};
    if (!g_self[0]) {
        ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
        if (n <= 0) {
            nb_fail(call, "ServiceException", "nimbus cannot find its own executable.");
            return -1;
        }
        g_self[n] = 0;
    }
    strv_add(&argv, "nimbus-lambda");
    strv_add(&argv, NB_LAUNCH_ARG);
    strv_add(&argv, "%d", (int)getpid());
    strv_add(&argv, "1024");
    int eph = inv->v.ephemeral_mb > 0 ? inv->v.ephemeral_mb : 512;
    strv_add(&argv, "%d", eph);
    bool api_error;
    strv rt = {0};
    if (!runtime_argv(&inv->v, code, layers, nl, &rt, inv->id, &inv->res, call, &api_error)) {
        strv_free(&rt);
        strv_free(&argv);
        return api_error ? -1 : 1;
    }
    sandbox_args(&argv, code, layers, nl, eph, rt.v[0]);
    strv_add(&argv, "--");
    for (int i = 0; i < rt.n; i++)
        strv_add(&argv, "%s", rt.v[i]);
    strv_free(&rt);

    lm_inst *in = nb_calloc(1, sizeof *in);
    in->pool = p;
    in->v = inv->v;
    if (in->v.env)
        json_object_get(in->v.env);
    unsigned char rnd[16];
    nb_random(rnd, sizeof rnd);
    nb_hex(rnd, sizeof rnd, in->id);
    stream_name(in);
    in->rapi = nb_http_listen_with("127.0.0.1", 0, rapi_handle, in);
    if (in->rapi)
        nb_http_on_body(in->rapi, rapi_body);
    if (!in->rapi) {
        strv_free(&argv);
        lm_version_clear(&in->v);
        free(in);
        nb_fail(call, "ServiceException", "nimbus could not open a Runtime API port.");
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", lm_root(), in->id);
    lm_mkdirs(tmp, 0700);
    add_env(&env, &in->v, code, layers, nl, in->stream, nb_listener_port(in->rapi), tmp);

    uv_pipe_init(nb_loop(), &in->out, 0);
    uv_pipe_init(nb_loop(), &in->err, 0);
    uv_timer_init(nb_loop(), &in->timer);
    in->out.data = in->err.data = in->timer.data = in->proc.data = in;
    in->open = 4;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&in->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&in->err},
    };
    uv_process_options_t o = {
        .exit_cb = on_exit_cb,
        .file = g_self,
        .args = argv.v,
        .env = env.v,
        .cwd = code,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    in->next = p->insts;
    p->insts = in;
    in->st = I_DEAD; /* set_state below counts it */
    set_state(in, I_INIT);
    in->spawned_us = now_us();
    in->assigned = inv;
    inv->assigned_us = now_us();
    inv->inst = in;
    int rc = uv_spawn(nb_loop(), &in->proc, &o);
    strv_free(&argv);
    strv_free(&env);
    if (rc != 0) {
        in->assigned = NULL;
        inv->inst = NULL;
        inst_close(in);
        nb_fail(call, "ServiceException", "nimbus could not start the function: %s",
                uv_strerror(rc));
        return -1;
    }
    in->proc_alive = true;
    uv_read_start((uv_stream_t *)&in->out, on_alloc, on_output);
    uv_read_start((uv_stream_t *)&in->err, on_alloc, on_output);
    /* Init is limited to 10 s; a function whose timeout is shorter gets its
     * timeout for init and invocation together, as a re-run init does. */
    int init_ms = inv->v.timeout_s * 1000 < LM_INIT_MS ? inv->v.timeout_s * 1000 : LM_INIT_MS;
    uv_timer_start(&in->timer, on_timeout, (uint64_t)init_ms, 0);
    NB_DEBUG("lambda: started %s:%s instance %s (pid %d)", in->v.name, in->v.version, in->id,
             in->proc.pid);
    return 0;
}

/* ---- delivering ---------------------------------------------------------- */

static void deliver(lm_inst *in, lm_inv *inv)
{
    nb_req *r = in->waiting;
    in->waiting = NULL;
    r->call.on_cancel = NULL;
    r->call.park = NULL;
    set_state(in, I_BUSY);
    in->cur = inv;
    inv->inst = in;
    inv->start_us = now_us();
    inv->deadline_ms = nb_now_ms() + (int64_t)in->v.timeout_s * 1000;
    put_linef(in, "START RequestId: %s Version: %s", inv->id, in->v.version);
    char num[32];
    nb_resp_header(r, "Lambda-Runtime-Aws-Request-Id", inv->id);
    snprintf(num, sizeof num, "%" PRId64, inv->deadline_ms);
    nb_resp_header(r, "Lambda-Runtime-Deadline-Ms", num);
    nb_resp_header(r, "Lambda-Runtime-Invoked-Function-Arn", inv->invoked_arn);
    nb_resp_header(r, "Lambda-Runtime-Trace-Id", inv->trace);
    if (inv->client_ctx[0])
        nb_resp_header(r, "Lambda-Runtime-Client-Context", inv->client_ctx);
    r->status = 200;
    r->content_type = "application/json";
    nb_buf_add(&r->rbody, inv->payload.data, inv->payload.len);
    nb_req_finish(r);
    uv_timer_start(&in->timer, on_timeout, (uint64_t)in->v.timeout_s * 1000, 0);
}

static bool same_version(const lm_inst *in, const lm_version *v)
{
    return !in->retired && !strcmp(in->v.version, v->version) &&
           !strcmp(in->v.revision, v->revision) && !strcmp(in->v.code_sha, v->code_sha);
}

/* ---- sweep --------------------------------------------------------------- */

static void on_sweep(uv_timer_t *t)
{
    (void)t;
    uint64_t now = nb_mono_ms();
    bool any = false;
    for (lm_pool *p = g_pools; p; p = p->next) {
        for (lm_inst *in = p->insts, *n; in; in = n) {
            n = in->next;
            if (in->st == I_DEAD)
                continue;
            any = true;
            flush_logs(in);
            if (in->st == I_IDLE && (in->retired || now - in->idle_since_ms > LM_IDLE_MS)) {
                inst_close(in);
            } else if (in->st == I_BUSY && in->cur) {
                sample_memory(in);
                if (in->max_rss_kb > (long)in->v.memory_mb * 1024 && !in->kill_oom) {
                    in->kill_oom = true;
                    inst_kill(in);
                }
            }
        }
    }
    if (!any) {
        uv_timer_stop(&g_sweep);
    }
}

static void sweep_on(void)
{
    if (!g_sweep_on) {
        uv_timer_init(nb_loop(), &g_sweep);
        uv_unref((uv_handle_t *)&g_sweep);
        g_sweep_on = true;
    }
    if (!uv_is_active((uv_handle_t *)&g_sweep))
        uv_timer_start(&g_sweep, on_sweep, LM_SWEEP_MS, LM_SWEEP_MS);
}

/* ---- running ------------------------------------------------------------- */

lm_inv *lm_inv_new(const nb_call *call, lm_version *v, const char *qualifier, const void *payload,
                   size_t len, lm_done_fn done, void *arg)
{
    lm_inv *inv = nb_calloc(1, sizeof *inv);
    nb_uuid(inv->id);
    inv->v = *v;
    memset(v, 0, sizeof *v); /* taken */
    if (qualifier && *qualifier)
        snprintf(inv->invoked_arn, sizeof inv->invoked_arn, "%s:%s", inv->v.arn, qualifier);
    else
        snprintf(inv->invoked_arn, sizeof inv->invoked_arn, "%s", inv->v.arn);
    /* The trace header the function sees: the caller's Root, a Parent, and
     * the sampling decision (not sampled unless the caller said so). */
    const char *t = call->trace_id;
    char root[128] = "";
    const char *r = strstr(t, "Root=");
    if (r) {
        size_t k = strcspn(r + 5, ";");
        snprintf(root, sizeof root, "%.*s", (int)(k < 100 ? k : 100), r + 5);
    }
    unsigned char rnd[8];
    char parent[17];
    nb_random(rnd, sizeof rnd);
    nb_hex(rnd, sizeof rnd, parent);
    snprintf(inv->trace, sizeof inv->trace, "Root=%s;Parent=%s;Sampled=%d", root, parent,
             strstr(t, "Sampled=1") ? 1 : 0);
    nb_buf_add(&inv->payload, payload, len);
    if (inv->payload.len == 0)
        nb_buf_adds(&inv->payload, "{}");
    inv->done = done;
    inv->arg = arg;
    return inv;
}

void lm_inv_stream(lm_inv *inv, lm_chunk_fn chunk)
{
    inv->chunk = chunk;
}

void lm_inv_tail(lm_inv *inv, bool tail)
{
    inv->tail = tail;
}

bool lm_inv_client_context(lm_inv *inv, const char *b64)
{
    size_t n;
    unsigned char *d = nb_base64_decode(b64, strlen(b64), &n);
    if (!d)
        return false;
    bool ok = n < sizeof inv->client_ctx;
    if (ok) {
        memcpy(inv->client_ctx, d, n);
        inv->client_ctx[n] = 0;
        for (size_t i = 0; i < n; i++)
            if (inv->client_ctx[i] == '\r' || inv->client_ctx[i] == '\n')
                ok = false;
    }
    free(d);
    if (!ok)
        inv->client_ctx[0] = 0;
    return ok;
}

const char *lm_inv_id(const lm_inv *inv)
{
    return inv->id;
}

void lm_inv_set_id(lm_inv *inv, const char *id)
{
    snprintf(inv->id, sizeof inv->id, "%s", id);
}

static nb_status throttle(nb_call *call, lm_inv *inv, const char *reason)
{
    nb_fail(call, "TooManyRequestsException", "Rate Exceeded.");
    json_object *d = json_object_new_object();
    json_object_object_add(d, "Reason", json_object_new_string(reason));
    nb_fail_detail(call, d);
    inv_free(inv);
    return NB_ERROR;
}

nb_status lm_run(nb_call *call, lm_inv *inv)
{
    lm_pool *p = pool_get(&inv->v, true);
    int reserved = inv->v.reserved;
    bool fn_full = reserved >= 0 && p->active >= reserved;
    bool acct_full = account_active(inv->v.account) >= LM_ACCOUNT_LIMIT;
    lm_inst *idle = NULL, *finishing = NULL;
    for (lm_inst *in = p->insts; in; in = in->next) {
        if (!same_version(in, &inv->v) || in->cur || in->assigned)
            continue;
        if (in->st == I_IDLE && in->waiting && !idle)
            idle = in;
        else if (in->st == I_BUSY && !finishing)
            finishing = in;
    }
    /* An idle instance becomes active; one that answered its invocation and
     * is about to ask for the next already is, so a sequential caller stays
     * on one warm instance and is never throttled by its own last call. */
    if (idle && !fn_full && !acct_full) {
        deliver(idle, inv);
        return NB_OK;
    }
    if (finishing && reserved != 0) {
        finishing->assigned = inv;
        inv->assigned_us = now_us();
        inv->inst = finishing;
        uv_timer_start(&finishing->timer, on_timeout, (uint64_t)finishing->v.timeout_s * 1000, 0);
        return NB_OK;
    }
    if (fn_full)
        return throttle(call, inv, "ReservedFunctionConcurrentInvocationLimitExceeded");
    if (acct_full)
        return throttle(call, inv, "ConcurrentInvocationLimitExceeded");
    int rc = inst_spawn(p, inv, call);
    if (rc < 0) {
        inv_free(inv);
        return NB_ERROR;
    }
    if (rc > 0) {           /* a function error before any process ran */
        inv_finish(inv);
        return NB_OK;
    }
    sweep_on();
    return NB_OK;
}

/* ---- retire, reset, shutdown --------------------------------------------- */

void lm_exec_retire(const char *account, const char *region, const char *name)
{
    lm_version key = {0};
    snprintf(key.account, sizeof key.account, "%s", account);
    snprintf(key.region, sizeof key.region, "%s", region);
    snprintf(key.name, sizeof key.name, "%s", name);
    lm_pool *p = pool_get(&key, false);
    if (!p)
        return;
    for (lm_inst *in = p->insts, *n; in; in = n) {
        n = in->next;
        in->retired = true;
        if (in->st == I_IDLE)
            inst_close(in);
    }
}

static void stop_all(void)
{
    for (lm_pool *p = g_pools; p; p = p->next)
        for (lm_inst *in = p->insts, *n; in; in = n) {
            n = in->next;
            if (in->st != I_DEAD)
                inst_fail(in, "error", "Runtime.ExitError", "Runtime exited with error: %s",
                          "signal: killed");
        }
}

void lm_exec_init(void)
{
    lm_async_init();
    lm_poll_init();
}

void lm_exec_reset(void)
{
    lm_poll_reset();
    stop_all();
}

static void on_sweep_closed(uv_handle_t *h)
{
    (void)h;
}

void lm_exec_shutdown(void)
{
    g_shutting = true;
    lm_poll_shutdown();
    lm_async_shutdown();
    stop_all();
    if (g_sweep_on) {
        g_sweep_on = false;
        uv_close((uv_handle_t *)&g_sweep, on_sweep_closed);
    }
    if (g_flush_on) {
        g_flush_on = false;
        nb_logs_set_flusher(NULL);
        uv_close((uv_handle_t *)&g_flush, on_sweep_closed);
    }
    /* A pool goes with its last instance (closed as the loop drains). */
    for (lm_pool *p = g_pools, *n; p; p = n) {
        n = p->next;
        pool_free_if_done(p);
    }
}
