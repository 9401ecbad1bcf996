/*
 * init.c — initialization hooks: the READY scripts of --init-dir, run one
 * at a time as child processes on the event loop (see init.h).
 */
#include "core/init.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/nimbus.h"

extern char **environ;

typedef enum { S_UNKNOWN, S_RUNNING, S_SUCCESSFUL, S_ERROR } script_state;
static const char *const STATE_NAMES[] = {"UNKNOWN", "RUNNING", "SUCCESSFUL", "ERROR"};

typedef struct {
    char *path;
    script_state state;
} script;

static struct {
    script *v;
    int n, cap;
    int next;               /* the next to start */
    bool ran;               /* nb_init_run was called */
    bool completed;         /* every script has ended */
    bool stopping;
    bool child_open;
    uv_process_t child;
    char **env;
    void (*done)(void);
} g;

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* DIR's .sh and .py files in order, then its subdirectories, depth first. */
static int collect(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = nb_realloc(names, (size_t)cap * sizeof *names);
        }
        names[n++] = nb_strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, (size_t)n, sizeof *names, by_name);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            size_t len = strlen(dir) + strlen(names[i]) + 2;
            char *path = nb_malloc(len);
            snprintf(path, len, "%s/%s", dir, names[i]);
            struct stat st;
            bool ok = stat(path, &st) == 0;
            if (pass == 0 && ok && S_ISREG(st.st_mode) &&
                (has_suffix(names[i], ".sh") || has_suffix(names[i], ".py"))) {
                if (g.n == g.cap) {
                    g.cap = g.cap ? g.cap * 2 : 8;
                    g.v = nb_realloc(g.v, (size_t)g.cap * sizeof *g.v);
                }
                g.v[g.n++] = (script){.path = path, .state = S_UNKNOWN};
                continue;
            }
            if (pass == 1 && ok && S_ISDIR(st.st_mode) && depth < 16)
                collect(path, depth + 1);
            free(path);
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return 0;
}

/* The environment of every script: nimbus's own, with AWS_ENDPOINT_URL
 * at nimbus and a region and credentials unless already set. */
static char **script_env(void)
{
    int n = 0;
    while (environ[n])
        n++;
    char **env = nb_calloc((size_t)n + 6, sizeof *env);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "AWS_ENDPOINT_URL=", 17) != 0)
            env[k++] = nb_strdup(environ[i]);
    const char *host = nb_cfg.host;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !*host)
        host = "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    char buf[512];
    snprintf(buf, sizeof buf, "AWS_ENDPOINT_URL=http://%s%s%s:%d", v6 ? "[" : "", host,
             v6 ? "]" : "", nb_cfg.port);
    env[k++] = nb_strdup(buf);
    static const char *const defaults[][2] = {
        {"AWS_DEFAULT_REGION", NULL}, {"AWS_ACCESS_KEY_ID", "test"},
        {"AWS_SECRET_ACCESS_KEY", "test"}, {"AWS_PAGER", ""},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (getenv(defaults[i][0]))
            continue;
        snprintf(buf, sizeof buf, "%s=%s", defaults[i][0],
                 defaults[i][1] ? defaults[i][1] : nb_cfg.region);
        env[k++] = nb_strdup(buf);
    }
    return env;
}

static void start_next(void);

static void on_closed(uv_handle_t *h)
{
    (void)h;
    g.child_open = false;
    if (!g.stopping)
        start_next();
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    script *s = &g.v[g.next - 1];
    s->state = status == 0 && sig == 0 ? S_SUCCESSFUL : S_ERROR;
    if (s->state == S_ERROR) {
        if (sig)
            NB_ERR("init: %s ended by signal %d", s->path, sig);
        else
            NB_ERR("init: %s exited with status %d", s->path, (int)status);
    } else {
        NB_INFO("init: %s done", s->path);
    }
    uv_close((uv_handle_t *)p, on_closed);
}

static void finish(void)
{
    g.completed = true;
    if (g.done) {
        void (*done)(void) = g.done;
        g.done = NULL;
        done();
    }
}

static void start_next(void)
{
    while (g.next < g.n) {
        script *s = &g.v[g.next++];
        /* An executable runs as itself (its shebang); otherwise a .sh is
         * given to sh and a .py to python3. */
        const char *args[3];
        if (access(s->path, X_OK) == 0) {
            args[0] = s->path;
            args[1] = NULL;
        } else {
            args[0] = has_suffix(s->path, ".py") ? "python3" : "/bin/sh";
            args[1] = s->path;
            args[2] = NULL;
        }
        uv_stdio_container_t stdio[3] = {
            {.flags = UV_IGNORE},
            {.flags = UV_INHERIT_FD, .data.fd = 1},
            {.flags = UV_INHERIT_FD, .data.fd = 2},
        };
        uv_process_options_t o = {
            .exit_cb = on_exit_cb,
            .file = args[0],
            .args = (char **)args,
            .env = g.env,
            .stdio_count = 3,
            .stdio = stdio,
            .flags = UV_PROCESS_DETACHED, /* its own group: stopped whole */
        };
        fflush(stdout);
        fflush(stderr);
        NB_INFO("init: running %s", s->path);
        int rc = uv_spawn(nb_loop(), &g.child, &o);
        g.child_open = true;
        if (rc == 0) {
            s->state = S_RUNNING;
            return;
        }
        NB_ERR("init: cannot run %s: %s", s->path, uv_strerror(rc));
        s->state = S_ERROR;
        /* A failed spawn still initialized the handle: close it, then go on
         * from its close callback. */
        uv_close((uv_handle_t *)&g.child, on_closed);
        return;
    }
    finish();
}

int nb_init_run(const char *dir, void (*done)(void))
{
    g.ran = true;
    g.done = done;
    char stage[4200];
    snprintf(stage, sizeof stage, "%s/ready.d", dir);
    struct stat st;
    const char *root = stat(stage, &st) == 0 && S_ISDIR(st.st_mode) ? stage : dir;
    if (collect(root, 0) != 0) {
        NB_ERR("init: cannot read %s", root);
        return -1;
    }
    g.env = script_env();
    start_next();
    return 0;
}

json_object *nb_init_status(const char *stage)
{
    static const char *const STAGES[] = {"BOOT", "START", "READY", "SHUTDOWN"};
    bool done[] = {true, true, !g.ran || g.completed, false};
    int only = -1;
    if (stage) {
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(stage, STAGES[i]))
                only = i;
        if (only < 0)
            return NULL;
    }
    json_object *o = json_object_new_object(), *scripts = json_object_new_array();
    if (only < 0) {
        json_object *c = json_object_new_object();
        for (int i = 0; i < 4; i++)
            json_object_object_add(c, STAGES[i], json_object_new_boolean(done[i]));
        json_object_object_add(o, "completed", c);
    } else {
        json_object_object_add(o, "completed", json_object_new_boolean(done[only]));
    }
    for (int i = 0; i < g.n && (only < 0 || only == 2); i++) {
        json_object *s = json_object_new_object();
        const char *slash = strrchr(g.v[i].path, '/');
        json_object_object_add(s, "stage", json_object_new_string("READY"));
        json_object_object_add(s, "name", json_object_new_string(slash ? slash + 1 : g.v[i].path));
        json_object_object_add(s, "state", json_object_new_string(STATE_NAMES[g.v[i].state]));
        json_object_array_add(scripts, s);
    }
    json_object_object_add(o, "scripts", scripts);
    return o;
}

static void free_state(void)
{
    for (int i = 0; i < g.n; i++)
        free(g.v[i].path);
    free(g.v);
    g.v = NULL;
    g.n = g.cap = g.next = 0;
    if (g.env) {
        for (int i = 0; g.env[i]; i++)
            free(g.env[i]);
        free(g.env);
        g.env = NULL;
    }
}

void nb_init_shutdown(void)
{
    g.stopping = true;
    g.done = NULL;
    if (g.child_open && !uv_is_closing((uv_handle_t *)&g.child)) {
        kill(-g.child.pid, SIGTERM); /* the script and what it started */
        uv_close((uv_handle_t *)&g.child, on_closed);
    }
    free_state();
}
