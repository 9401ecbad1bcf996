/*
 * lambda_java.c — building nimbus's Java runtime on the machine it runs on.
 *
 * nimbus's own build needs no JDK: the shim's .java sources
 * (runtimes/java/, embedded like the Python and Node shims) are compiled
 * with the machine's javac the first time a java* function starts, into
 * LM_ROOT/runtime/java/build/<hash>/, where <hash> is the SHA-256 of the
 * sources, the java binary's real path, size and time, and the Jackson
 * jars'.  A later start (of this process or another sharing the data
 * directory) finds that directory and skips the build.  The build runs in
 * a directory of its own and is renamed into place whole; when two
 * processes race, the loser removes its copy and uses the winner's.
 *
 * Layout of a build: classes/ (javac's output), shim.jar (the same, for
 * class data sharing, which archives only jars), shim.jsa (the archive,
 * made after the rename because it records the jar's final path),
 * javac.log and cds.log.
 *
 * The build (once, typically 1-4 s) runs on the libuv threadpool when a
 * java* function is created or changed (lm_java_prebuild); java*
 * functions read Pending meanwhile and invokes get AWS's Pending error.
 * When there was no such build (the build failed, or the data directory
 * was emptied) the first start builds synchronously in the event loop,
 * before the instance is spawned, so it does not count against the
 * function's init time.  A tool's output goes to its log beside the
 * build; a failed compile is reported with its first line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "lambda_internal.h"
#include "lambda_java.h"

#define JAVAC_LIMIT_MS (180 * 1000)

extern char **environ;

static const char *const JARS[] = {"jackson-databind.jar", "jackson-core.jar",
                                   "jackson-annotations.jar", NULL};

/* snprintf that says whether all of it fit. */
static bool fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static bool fmt(char *out, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(out, n, f, ap);
    va_end(ap);
    return r >= 0 && (size_t)r < n;
}

static bool is_java_source(const lm_embedded *e)
{
    size_t n = strlen(e->path);
    return !strncmp(e->path, "runtimes/java/", 14) && n > 5 && !strcmp(e->path + n - 5, ".java");
}

/* javac for JAVA: beside its real path (*SAME_JDK), in $JAVA_HOME/bin,
 * else FALLBACK. */
static bool find_javac(const char *java, const char *fallback, char *out, size_t n,
                       bool *same_jdk)
{
    char real[PATH_MAX];
    *same_jdk = true;
    if (realpath(java, real)) {
        char *slash = strrchr(real, '/');
        if (slash && (size_t)snprintf(out, n, "%.*s/javac", (int)(slash - real), real) < n &&
            access(out, X_OK) == 0)
            return true;
    }
    *same_jdk = false;
    const char *home = getenv("JAVA_HOME");
    if (home && *home && (size_t)snprintf(out, n, "%s/bin/javac", home) < n &&
        access(out, X_OK) == 0)
        return true;
    if (fallback && *fallback && access(fallback, X_OK) == 0) {
        snprintf(out, n, "%s", fallback);
        return true;
    }
    return false;
}

/* The build's name: SHA-256 (first 16 hex digits) of what it depends on. */
static void build_key(const char *java, const char *jars, char key[17])
{
    nb_buf b = {0};
    for (const lm_embedded *e = lm_runtime_files; e->path; e++) {
        if (!is_java_source(e))
            continue;
        nb_buf_printf(&b, "%s\n%zu\n", e->path, e->len);
        nb_buf_add(&b, e->data, e->len);
    }
    char real[PATH_MAX];
    const char *jreal = realpath(java, real) ? real : java;
    struct stat js;
    if (stat(jreal, &js) != 0)
        memset(&js, 0, sizeof js);
    /* The java binary's identity: an upgraded JDK gets a fresh build (and
     * archive, which is tied to the JVM that made it). */
    nb_buf_printf(&b, "\n%s %lld %lld\n%s\n", jreal, (long long)js.st_size,
                  (long long)js.st_mtime, jars);
    for (int i = 0; JARS[i]; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", LM_JACKSON_DIR, JARS[i]);
        struct stat st;
        if (realpath(p, real) && stat(real, &st) == 0)
            nb_buf_printf(&b, "%s %lld %lld\n", real, (long long)st.st_size,
                          (long long)st.st_mtime);
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)b.data, b.len, md);
    nb_buf_free(&b);
    char hex[65];
    nb_hex(md, sizeof md, hex);
    (void)fmt(key, 17, "%s", hex);
}

/* Run argv with stdout and stderr to LOG; its exit status, or -1. */
static int run_logged(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    int st = 0;
    for (int waited = 0;; waited += 20) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (waited >= JAVAC_LIMIT_MS) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first line of javac's complaint, for the error message. */
static void first_line(const char *log, char *out, size_t n)
{
    out[0] = 0;
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && strncmp(line, "Picked up ", 10) != 0) {
            (void)fmt(out, n, "%s", line);
            break;
        }
    }
    fclose(f);
}

/* Compile into DIR, through a directory of its own renamed into place. */
static bool build(const char *rtdir, const char *java, const char *javac_path, const char *jars,
                  const char *dir, const char **code, char *msg, size_t msgn);

/* Run TOOL ARGS... (a NULL-terminated list after the fixed part) logged
 * to LOG; on failure describe it in MSG. */
static bool run_tool(char **argv, const char *log, char *msg, size_t msgn)
{
    int rc = run_logged(argv, log);
    if (rc == 0)
        return true;
    char line[400];
    first_line(log, line, sizeof line);
    (void)fmt(msg, msgn, "%s failed%s%s", argv[0], line[0] ? ": " : "", line);
    return false;
}

static void free_argv(char **argv)
{
    for (int i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* Compile the sources into DIR/classes (DIR a fresh directory) and, when
 * the JDK has its jar tool, pack them as DIR/shim.jar (class data sharing
 * archives only classes from jars). */
static bool compile(const char *rtdir, const char *javac, bool same_jdk, const char *jars,
                    const char *dir, char *msg, size_t msgn)
{
    char classes[PATH_MAX], log[PATH_MAX];
    (void)fmt(classes, sizeof classes, "%s/classes", dir);
    (void)fmt(log, sizeof log, "%s/javac.log", dir);
    if (lm_mkdirs(classes, 0755) != 0) {
        (void)fmt(msg, msgn, "cannot create %s: %s", classes, strerror(errno));
        return false;
    }
    int n = 0, cap = 18;
    for (const lm_embedded *e = lm_runtime_files; e->path; e++)
        cap += is_java_source(e);
    char **argv = nb_calloc((size_t)cap, sizeof *argv);
    const char *fixed[] = {javac, "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1",
                           "-J-Xshare:auto", "-nowarn", "-encoding", "UTF-8", "-g",
                           "-d", classes, "-cp", jars, NULL};
    for (int i = 0; fixed[i]; i++)
        argv[n++] = nb_strdup(fixed[i]);
    if (!same_jdk) { /* another JDK's javac: classes any JVM from 8 on runs */
        argv[n++] = nb_strdup("--release");
        argv[n++] = nb_strdup("8");
    }
    for (const lm_embedded *e = lm_runtime_files; e->path; e++) {
        if (!is_java_source(e))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s%s", rtdir, e->path + 8); /* drop "runtimes" */
        argv[n++] = nb_strdup(p);
    }
    bool ok = run_tool(argv, log, msg, msgn);
    free_argv(argv);
    if (!ok)
        return false;
    char jar[PATH_MAX], out[PATH_MAX];
    const char *slash = strrchr(javac, '/');
    if (!slash || !fmt(jar, sizeof jar, "%.*s/jar", (int)(slash - javac), javac) ||
        access(jar, X_OK) != 0 || !fmt(out, sizeof out, "%s/shim.jar", dir))
        return true; /* no jar tool: the classes directory, without sharing */
    char *jargv[] = {nb_strdup(jar), nb_strdup("cf"), nb_strdup(out), nb_strdup("-C"),
                     nb_strdup(classes), nb_strdup("."), NULL};
    char why[600];
    if (!run_tool(jargv, log, why, sizeof why)) {
        NB_DEBUG("lambda: %s", why);
        unlink(out);
    }
    for (int i = 0; jargv[i]; i++)
        free(jargv[i]);
    return true;
}

/* The shim's class path in the build directory DIR: its jar when there is
 * one, else its classes directory; then Jackson. */
static bool shim_classpath(const char *dir, const char *jars, char *cp, size_t n)
{
    char jar[PATH_MAX];
    if (fmt(jar, sizeof jar, "%s/shim.jar", dir) && access(jar, R_OK) == 0)
        return fmt(cp, n, "%s:%s", jar, jars);
    return fmt(cp, n, "%s/classes:%s", dir, jars);
}

/* A dynamic class data sharing archive of the classes a cold start loads
 * (the shim, Jackson, the JDK's HTTP client), made by running the shim
 * once in its warm-up mode with the instances' flags: it roughly halves
 * the JVM's start.  Best effort: without it instances start without. */
static void cds_dump(const char *java, const char *dir, const char *cp)
{
    char jsa[PATH_MAX], tmp[PATH_MAX], opt[PATH_MAX + 32], log[PATH_MAX];
    if (!fmt(jsa, sizeof jsa, "%s/shim.jsa", dir) || access(jsa, R_OK) == 0 ||
        !fmt(tmp, sizeof tmp, "%s/shim.jsa.%d.tmp", dir, (int)getpid()) ||
        !fmt(opt, sizeof opt, "-XX:ArchiveClassesAtExit=%s", tmp) ||
        !fmt(log, sizeof log, "%s/cds.log", dir) || !strstr(cp, "/shim.jar:"))
        return;
    int n = 0;
    char *argv[32];
    argv[n++] = nb_strdup(java);
    for (int i = 0; lm_java_flags[i]; i++)
        argv[n++] = nb_strdup(lm_java_flags[i]);
    argv[n++] = nb_strdup(opt);
    argv[n++] = nb_strdup("-cp");
    argv[n++] = nb_strdup(cp);
    argv[n++] = nb_strdup("nimbus.lambda.Bootstrap");
    argv[n++] = nb_strdup("--warm-up");
    argv[n] = NULL;
    char why[600];
    if (run_tool(argv, log, why, sizeof why) && rename(tmp, jsa) == 0)
        NB_DEBUG("lambda: Java class data sharing archive %s", jsa);
    else
        unlink(tmp);
    for (int i = 0; i < n; i++)
        free(argv[i]);
}

const char *const lm_java_flags[] = {
    "-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
    "-Djava.net.preferIPv4Stack=true", NULL,
};

/* Jackson's jars as a class path into JARS (n bytes); false with an AWS
 * error when one is missing. */
static bool jackson(char *jars, size_t n, const char **code, char *msg, size_t msgn)
{
    size_t jl = 0;
    jars[0] = 0;
    for (int i = 0; JARS[i]; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", LM_JACKSON_DIR, JARS[i]);
        if (access(p, R_OK) != 0) {
            *code = "InvalidRuntimeException";
            snprintf(msg, msgn,
                     "nimbus's Java runtime needs Jackson (Debian package "
                     "libjackson2-databind-java): %s was not found.", p);
            return false;
        }
        jl += (size_t)snprintf(jars + jl, n - jl, "%s%s", i ? ":" : "", p);
    }
    return true;
}

/* The build directory of KEY under RTDIR, and its archive's path. */
static bool build_paths(const char *rtdir, const char *key, char *dir, char *archive,
                        const char **code, char *msg, size_t msgn)
{
    if (fmt(dir, PATH_MAX, "%s/java/build/%s", rtdir, key) &&
        fmt(archive, PATH_MAX, "%s/shim.jsa", dir))
        return true;
    *code = "ServiceException";
    snprintf(msg, msgn, "nimbus's Lambda directory path is too long for its Java runtime.");
    return false;
}

static char g_built_key[17]; /* the build lm_java_classpath last answered */

/* ---- building ahead: the threadpool ------------------------------------------------------ */

typedef struct prebuild {
    uv_work_t w;
    char rtdir[PATH_MAX], java[PATH_MAX], javac[PATH_MAX], jars[PATH_MAX * 3], dir[PATH_MAX];
} prebuild;
static bool g_prebuilding;

static void prebuild_work(uv_work_t *w)
{
    prebuild *p = w->data;
    const char *code;
    char msg[1024], cp[PATH_MAX * 4];
    struct stat st;
    if (stat(p->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (!build(p->rtdir, p->java, p->javac, p->jars, p->dir, &code, msg, sizeof msg))
            return; /* the invoke builds again and reports the error */
    }
    if (shim_classpath(p->dir, p->jars, cp, sizeof cp))
        cds_dump(p->java, p->dir, cp);
}

static void prebuild_done(uv_work_t *w, int status)
{
    (void)status;
    g_prebuilding = false;
    free(w->data);
}

void lm_java_prebuild(const char *rtdir, const char *java, const char *javac_path)
{
    if (g_prebuilding)
        return;
    prebuild *p = nb_calloc(1, sizeof *p);
    const char *code;
    char msg[1024], key[17], archive[PATH_MAX];
    struct stat st;
    if (!jackson(p->jars, sizeof p->jars, &code, msg, sizeof msg))
        goto skip;
    build_key(java, p->jars, key);
    if (!strcmp(g_built_key, key) || !build_paths(rtdir, key, p->dir, archive, &code, msg, sizeof msg))
        goto skip;
    if (stat(p->dir, &st) == 0 && S_ISDIR(st.st_mode) && access(archive, R_OK) == 0)
        goto skip; /* built by an earlier run: the invoke only reads it */
    if (!fmt(p->rtdir, sizeof p->rtdir, "%s", rtdir) || !fmt(p->java, sizeof p->java, "%s", java) ||
        !fmt(p->javac, sizeof p->javac, "%s", javac_path))
        goto skip;
    p->w.data = p;
    if (uv_queue_work(nb_loop(), &p->w, prebuild_work, prebuild_done) == 0) {
        g_prebuilding = true;
        return;
    }
skip:
    free(p);
}

bool lm_java_building(void)
{
    return g_prebuilding;
}

const char *lm_java_classpath(const char *rtdir, const char *java, const char *javac_path,
                              const char **jsa, const char **code, char *msg, size_t msgn)
{
    static char cp[PATH_MAX * 4], archive[PATH_MAX];
    char jars[PATH_MAX * 3];
    if (!jackson(jars, sizeof jars, code, msg, msgn))
        return NULL;
    char key[17];
    build_key(java, jars, key);
    char dir[PATH_MAX];
    if (!build_paths(rtdir, key, dir, archive, code, msg, msgn))
        return NULL;
    if (strcmp(g_built_key, key) != 0) {
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (!build(rtdir, java, javac_path, jars, dir, code, msg, msgn))
                return NULL;
        }
        if (!shim_classpath(dir, jars, cp, sizeof cp)) {
            *code = "ServiceException";
            snprintf(msg, msgn, "nimbus's Lambda directory path is too long for its Java runtime.");
            return NULL;
        }
        cds_dump(java, dir, cp);
        snprintf(g_built_key, sizeof g_built_key, "%s", key);
    }
    *jsa = access(archive, R_OK) == 0 ? archive : NULL;
    return cp;
}

static bool build(const char *rtdir, const char *java, const char *javac_path, const char *jars,
                  const char *dir, const char **code, char *msg, size_t msgn)
{
    char javac[PATH_MAX];
    bool same_jdk;
    if (!find_javac(java, javac_path, javac, sizeof javac, &same_jdk)) {
        *code = "InvalidRuntimeException";
        snprintf(msg, msgn,
                 "nimbus compiles its Java runtime at first use, and no javac was found next to "
                 "%s, in JAVA_HOME or on PATH: install a JDK (e.g. openjdk-17-jdk-headless).",
                 java);
        return false;
    }
    unsigned char rnd[6];
    char rhex[13];
    nb_random(rnd, sizeof rnd);
    nb_hex(rnd, sizeof rnd, rhex);
    char tmp[PATH_MAX];
    if (!fmt(tmp, sizeof tmp, "%s.%d.%s.tmp", dir, (int)getpid(), rhex)) {
        *code = "ServiceException";
        snprintf(msg, msgn, "nimbus's Lambda directory path is too long for its Java runtime.");
        return false;
    }
    NB_INFO("lambda: compiling the Java runtime with %s", javac);
    char why[600];
    if (!compile(rtdir, javac, same_jdk, jars, tmp, why, sizeof why)) {
        NB_ERR("lambda: %s", why);
        lm_remove_tree(tmp);
        *code = "ServiceException";
        snprintf(msg, msgn, "nimbus could not compile its Java runtime: %s", why);
        return false;
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        lm_remove_tree(tmp);
        if (e != EEXIST && e != ENOTEMPTY) {
            *code = "ServiceException";
            snprintf(msg, msgn, "nimbus could not install its Java runtime: %s", strerror(e));
            return false;
        }
    }
    return true;
}
