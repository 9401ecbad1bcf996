/*
 * store.h — the embedded SQLite store shared by all service modules.
 *
 * One database: ":memory:" by default, DIR/nimbus.db (WAL) with --data-dir.
 * Each service owns its own tables (prefixed with its name) and creates them
 * in its init hook.  Every API call runs inside a SAVEPOINT that the
 * dispatcher releases on success and rolls back on error, so one call is
 * one atomic unit.  Calls are group-committed: the outer transaction is
 * committed once per event-loop iteration, and responses are written only
 * after that commit, so an acknowledged write is durable (kill -9 safe in
 * --data-dir mode) at a fraction of the fsync cost.
 *
 * Prepared statements: handlers keep a static sqlite3_stmt* slot and call
 * nb_stmt(&slot, sql); the store prepares it once, resets it on each use and
 * finalizes every slot at shutdown.
 */
#ifndef NB_STORE_H
#define NB_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct nb_store nb_store;

int nb_store_open(const char *data_dir);   /* 0 on success */
void nb_store_close(void);
sqlite3 *nb_db(void);
bool nb_store_durable(void);

/* Run SQL with no result rows; logs and returns non-zero on error. */
int nb_exec(const char *sql);
/* Prepared statement from a static slot, reset and with bindings cleared. */
sqlite3_stmt *nb_stmt(sqlite3_stmt **slot, const char *sql);

/* Dispatcher hooks. */
void nb_store_call_begin(void);          /* SAVEPOINT (opens txn if needed) */
void nb_store_call_end(bool commit);     /* RELEASE or ROLLBACK TO */
bool nb_store_txn_open(void);
int nb_store_commit(void);               /* COMMIT the group, if open */

/* Register a table to be cleared by POST /_nimbus/reset. */
void nb_store_register_table(const char *table);
int nb_store_reset(void);

#endif
