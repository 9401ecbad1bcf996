/*
 * launch.c — the launcher half of nimbus's child processes (see launch.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "launch.h"

static void limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    struct rlimit cur;
    if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
        rl.rlim_cur = rl.rlim_max = cur.rlim_max;
    (void)setrlimit(res, &rl);
}

int nb_launch_main(int argc, char **argv)
{
    if (argc < 7 || strcmp(argv[5], "--") != 0) {
        fprintf(stderr, "nimbus: bad launcher arguments\n");
        return 127;
    }
    long parent = strtol(argv[2], NULL, 10);
    long nofile = strtol(argv[3], NULL, 10);
    long fsize_mb = strtol(argv[4], NULL, 10);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)parent)
        return 127; /* the parent is already gone */
    if (nofile > 0)
        limit(RLIMIT_NOFILE, (rlim_t)nofile);
    if (fsize_mb > 0)
        limit(RLIMIT_FSIZE, (rlim_t)fsize_mb << 20);
    limit(RLIMIT_CORE, 0);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[6], argv + 6);
    fprintf(stderr, "nimbus: cannot run %s: %m\n", argv[6]);
    return 127;
}
