/*
 * launch.c — the launcher half of nimbus's child processes (see launch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"

#define MAX_PATHS 16

typedef struct {
    long tmp_mb;                 /* private /tmp of this size; 0: none */
    const char *opt[MAX_PATHS];  /* layers, in order, merged at /opt */
    int nopt;
    const char *keep[MAX_PATHS]; /* paths that must stay visible */
    int nkeep;
    bool sandbox;
} plan;

static void limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    struct rlimit cur;
    if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
        rl.rlim_cur = rl.rlim_max = cur.rlim_max;
    (void)setrlimit(res, &rl);
}

static bool write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    return close(fd) == 0 && ok;
}

/* A mount namespace of our own: as root directly, otherwise inside a user
 * namespace that maps our uid and gid onto themselves (so the function
 * sees the same ids).  Mounts made afterwards are invisible to the host. */
static bool own_namespace(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (errno != EPERM || unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return false;
        char map[64];
        snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
        if (!write_file("/proc/self/uid_map", map))
            return false;
        (void)write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
        if (!write_file("/proc/self/gid_map", map))
            return false;
    }
    /* Nothing we mount may propagate back to the host's tree. */
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

static void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        (void)mkdir(buf, 0755);
        *s = '/';
    }
    (void)mkdir(buf, 0755);
}

static bool bind_ro(const char *src, const char *dst)
{
    return mount(src, dst, NULL, MS_BIND | MS_REC, NULL) == 0 &&
           mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                 NULL) == 0;
}

/* /opt holds the layers merged in order (a later layer's files win), as
 * AWS extracts them; without layers it is empty, never the host's /opt. */
static void mount_opt(const plan *pl)
{
    struct stat st;
    if (stat("/opt", &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    if (pl->nopt == 1) {
        (void)bind_ro(pl->opt[0], "/opt");
        return;
    }
    if (pl->nopt > 1) {
        char opts[MAX_PATHS * 300] = "lowerdir=";
        size_t n = strlen(opts);
        for (int i = pl->nopt - 1; i >= 0 && n < sizeof opts; i--)
            n += (size_t)snprintf(opts + n, sizeof opts - n, "%s%s", pl->opt[i], i ? ":" : "");
        if (n < sizeof opts && mount("overlay", "/opt", "overlay", MS_RDONLY, opts) == 0)
            return;
    }
    (void)mount("tmpfs", "/opt", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=755");
}

/* A /tmp of the function's ephemeral storage size.  Paths the function
 * needs that lived under the host's /tmp (nimbus' own working directory
 * when it has no --data-dir) are bound back at the same place, read-only. */
static void mount_tmp(const plan *pl)
{
    int fds[MAX_PATHS];
    const char *paths[MAX_PATHS];
    int n = 0;
    for (int i = 0; i < pl->nkeep; i++) {
        if (!under(pl->keep[i], "/tmp"))
            continue;
        int fd = open(pl->keep[i], O_PATH | O_CLOEXEC);
        if (fd >= 0) {
            fds[n] = fd;
            paths[n++] = pl->keep[i];
        }
    }
    char cwd[4096];
    bool moved = getcwd(cwd, sizeof cwd) && under(cwd, "/tmp");
    char opts[64];
    snprintf(opts, sizeof opts, "size=%ldm,mode=1777", pl->tmp_mb);
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0) {
        for (int i = 0; i < n; i++) {
            char src[64];
            snprintf(src, sizeof src, "/proc/self/fd/%d", fds[i]);
            mkdirs(paths[i]);
            (void)bind_ro(src, paths[i]);
        }
        if (moved)
            (void)chdir(cwd);
        setenv("TMPDIR", "/tmp", 1);
        setenv("HOME", "/tmp", 1);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* Options between FSIZE_MB and "--"; returns the index of "--" or -1. */
static int parse(int argc, char **argv, plan *pl)
{
    int i = 5;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (!strcmp(argv[i], "--tmp"))
            pl->tmp_mb = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--opt") && pl->nopt < MAX_PATHS)
            pl->opt[pl->nopt++] = argv[i + 1];
        else if (!strcmp(argv[i], "--keep") && pl->nkeep < MAX_PATHS)
            pl->keep[pl->nkeep++] = argv[i + 1];
        else if (!strcmp(argv[i], "--sandbox"))
            pl->sandbox = !strcmp(argv[i + 1], "1");
        else
            return -1;
    }
    return i + 1 < argc && !strcmp(argv[i], "--") ? i : -1;
}

int nb_launch_main(int argc, char **argv)
{
    plan pl = {0};
    int dash = argc >= 7 ? parse(argc, argv, &pl) : -1;
    if (dash < 0) {
        fprintf(stderr, "nimbus: bad launcher arguments\n");
        return 127;
    }
    long parent = strtol(argv[2], NULL, 10);
    long nofile = strtol(argv[3], NULL, 10);
    long fsize_mb = strtol(argv[4], NULL, 10);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)parent)
        return 127; /* the parent is already gone */
    /* The sandbox is best effort: without the privilege for a mount
     * namespace the function runs with the host's view (TMPDIR still
     * points at its own directory). */
    if (pl.sandbox && own_namespace()) {
        mount_opt(&pl);
        if (pl.tmp_mb > 0)
            mount_tmp(&pl);
    }
    if (nofile > 0)
        limit(RLIMIT_NOFILE, (rlim_t)nofile);
    if (fsize_mb > 0)
        limit(RLIMIT_FSIZE, (rlim_t)fsize_mb << 20);
    limit(RLIMIT_CORE, 0);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[dash + 1], argv + dash + 1);
    fprintf(stderr, "nimbus: cannot run %s: %m\n", argv[dash + 1]);
    return 127;
}
