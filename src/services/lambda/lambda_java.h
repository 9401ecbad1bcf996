/*
 * lambda_java.h — the Java runtime's build step (lambda_java.c), used by
 * lambda_exec.c's runtime_argv for java* runtimes.
 */
#ifndef NB_LAMBDA_JAVA_H
#define NB_LAMBDA_JAVA_H

#include <stdbool.h>
#include <stddef.h>

/* Jackson, as Debian's libjackson2-databind-java installs it. */
#define LM_JACKSON_DIR "/usr/share/java"

/* The compiled Java shim for JAVA (an absolute path to a java binary) and
 * the shim sources already written under RTDIR/java: compiles them with
 * javac (next to JAVA's real path, else $JAVA_HOME/bin/javac, else
 * JAVAC_PATH, which may be "") into RTDIR/java/build/<hash> unless that
 * directory exists, and returns the class path to run the shim with
 * (the shim's jar or classes and Jackson's jars, valid until the next
 * call), with *JSA the class data sharing archive to run it with (NULL
 * when there is none: a JDK without the jar tool or before 13).  The hash
 * covers the sources, JAVA and the jars, so a changed shim or JDK builds
 * anew; the directory is renamed into place complete, so concurrent
 * builders never see half a build.  On failure returns NULL with *CODE
 * set to an AWS error code and MSG to its message. */
const char *lm_java_classpath(const char *rtdir, const char *java, const char *javac_path,
                              const char **jsa, const char **code, char *msg, size_t msgn);

/* Builds ahead what lm_java_classpath would build, on the libuv
 * threadpool, unless it is built already: CreateFunction of a java*
 * function starts it so that the first invoke does not stall the event
 * loop for the build (1-4 s).  While it runs, lm_java_building() is true
 * and java* functions are Pending (invokes fail as AWS's do on a Pending
 * function); afterwards lm_java_classpath finds the build.  A failed
 * build leaves nothing, and the invoke builds again and reports why. */
void lm_java_prebuild(const char *rtdir, const char *java, const char *javac_path);
bool lm_java_building(void);

/* The JVM flags of every instance (and of the archive's warm-up run, whose
 * flags must match): AWS's Java runtimes' for a fast cold start, C1 only,
 * serial GC, class data sharing.  NULL-terminated. */
extern const char *const lm_java_flags[];

#endif
