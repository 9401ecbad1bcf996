/*
 * store.c — the SQLite store: open (memory or WAL file), statement slots,
 * per-call savepoints inside a group transaction, and reset.
 *
 * Invariant: at most one outer transaction is open; it is opened by the first
 * call of a loop iteration and committed by nb_store_commit() (from the HTTP
 * layer's uv_check handle) before any response of that iteration is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nimbus.h"
#include "store.h"

static sqlite3 *db;
static bool durable;
static bool in_txn;
static int depth;

static sqlite3_stmt **slots[512];
static int nslots;
static char *tables[128];
static int ntables;

sqlite3 *nb_db(void) { return db; }
bool nb_store_durable(void) { return durable; }
bool nb_store_txn_open(void) { return in_txn; }

int nb_exec(const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        NB_ERR("sqlite: %s (in: %.200s)", err ? err : sqlite3_errstr(rc), sql);
        sqlite3_free(err);
    }
    return rc;
}

int nb_store_open(const char *data_dir)
{
    char path[4096];
    durable = data_dir != NULL;
    if (durable) {
        if (mkdir(data_dir, 0755) != 0) {
            struct stat st;
            if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                NB_ERR("cannot create data dir %s", data_dir);
                return -1;
            }
        }
        snprintf(path, sizeof path, "%s/nimbus.db", data_dir);
    } else {
        snprintf(path, sizeof path, ":memory:");
    }
    /* One thread: no SQLite mutexes, no memory statistics. */
    sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        NB_ERR("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        db = NULL;
        return -1;
    }
    if (durable) {
        /* WAL + NORMAL survives a process crash (kill -9): every committed
         * transaction is in the WAL file before the response is written. */
        if (nb_exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") != SQLITE_OK)
            return -1;
    }
    nb_exec("PRAGMA foreign_keys=OFF; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;");
    return 0;
}

void nb_store_close(void)
{
    if (!db)
        return;
    if (in_txn)
        nb_store_commit();
    for (int i = 0; i < nslots; i++) {
        sqlite3_finalize(*slots[i]);
        *slots[i] = NULL;
    }
    nslots = 0;
    for (int i = 0; i < ntables; i++)
        free(tables[i]);
    ntables = 0;
    sqlite3_close(db);
    db = NULL;
}

sqlite3_stmt *nb_stmt(sqlite3_stmt **slot, const char *sql)
{
    if (!*slot) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
            NB_ERR("sqlite prepare: %s (in: %.200s)", sqlite3_errmsg(db), sql);
            abort(); /* a bad statement is a programming error */
        }
        if (nslots == (int)(sizeof slots / sizeof slots[0]))
            abort();
        slots[nslots++] = slot;
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

/* Transaction control runs on every call: prepared once, not re-parsed. */
static int step_ctl(sqlite3_stmt **slot, const char *sql)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        NB_ERR("sqlite: %s (in: %s)", sqlite3_errmsg(db), sql);
        return rc;
    }
    return SQLITE_OK;
}

static sqlite3_stmt *st_begin, *st_savepoint, *st_rollback_to, *st_release, *st_commit,
    *st_rollback;

void nb_store_call_begin(void)
{
    if (!in_txn) {
        step_ctl(&st_begin, "BEGIN");
        in_txn = true;
    }
    if (depth++ == 0)
        step_ctl(&st_savepoint, "SAVEPOINT nb_call");
}

void nb_store_call_end(bool commit)
{
    if (depth == 0)
        return;
    if (--depth > 0)
        return;
    if (!commit)
        step_ctl(&st_rollback_to, "ROLLBACK TO nb_call");
    step_ctl(&st_release, "RELEASE nb_call");
}

int nb_store_commit(void)
{
    if (!in_txn || depth > 0)
        return 0;
    in_txn = false;
    int rc = step_ctl(&st_commit, "COMMIT");
    if (rc != SQLITE_OK && sqlite3_get_autocommit(db) == 0)
        step_ctl(&st_rollback, "ROLLBACK");
    return rc;
}

void nb_store_register_table(const char *table)
{
    for (int i = 0; i < ntables; i++)
        if (strcmp(tables[i], table) == 0)
            return;
    if (ntables == (int)(sizeof tables / sizeof tables[0]))
        abort();
    tables[ntables++] = nb_strdup(table);
}

int nb_store_reset(void)
{
    nb_store_call_begin();
    int rc = 0;
    for (int i = 0; i < ntables && rc == 0; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", tables[i]);
        rc = nb_exec(sql);
    }
    nb_store_call_end(rc == 0);
    return nb_store_commit() || rc;
}
