/*
 * launch.h — nimbus as the launcher of its child processes.
 *
 * libuv's uv_spawn cannot run code between fork and exec, so children that
 * need limits (Lambda instances) are spawned as nimbus itself:
 *
 *   nimbus __nimbus_exec PARENT_PID NOFILE FSIZE_MB [OPTION VALUE]... -- PROGRAM ARGS...
 *
 * Options build the sandbox (a mount namespace of the child's own, best
 * effort): `--sandbox 1` turns it on; `--tmp MB` a private tmpfs at /tmp;
 * `--opt DIR` (repeated, in order) the layers merged read-only at /opt;
 * `--keep PATH` (repeated) a path under /tmp that must stay visible.
 *
 * The launcher asks the kernel to kill it when its parent dies
 * (PR_SET_PDEATHSIG), so no child outlives a nimbus that was killed even
 * by SIGKILL; applies the resource limits (open files, file size, no core
 * dumps); then execs PROGRAM with the environment it was given.
 */
#ifndef NB_LAUNCH_H
#define NB_LAUNCH_H

#define NB_LAUNCH_ARG "__nimbus_exec"

/* main() calls this first when argv[1] is NB_LAUNCH_ARG; never returns
 * on success (exec), returns an exit status on failure. */
int nb_launch_main(int argc, char **argv);

#endif
