/*
 * init.h — initialization hooks (init.c): scripts that run once nimbus
 * accepts requests, before it prints "Ready.", as LocalStack's ready.d
 * hooks do, so a test container or a developer's compose file can seed
 * queues, tables and functions with the AWS CLI or an SDK.
 */
#ifndef NB_INIT_H
#define NB_INIT_H

#include <json-c/json.h>
#include <stdbool.h>

/* Runs the READY scripts of DIR (DIR/ready.d when it exists, else DIR
 * itself): .sh and .py files, in alphanumerical order, a directory's own
 * files before its subdirectories (depth first), one at a time, each with
 * AWS_ENDPOINT_URL pointing at nimbus.  A failing script is logged and
 * the next one runs.  Calls done once all have ended (at once when there
 * are none).  Returns 0, or -1 when DIR cannot be read. */
int nb_init_run(const char *dir, void (*done)(void));

/* The hooks' state for GET /_nimbus/init (and LocalStack's /_localstack/init):
 * {"completed": {"BOOT", "START", "READY", "SHUTDOWN"}, "scripts": [{"stage",
 * "name", "state"}]}; STAGE, when not NULL, limits it to one stage
 * ({"completed": bool, "scripts": [...]}), NULL for an unknown stage. */
json_object *nb_init_status(const char *stage);

/* Stops a running script (SIGTERM) and frees the hooks' state. */
void nb_init_shutdown(void);

#endif
