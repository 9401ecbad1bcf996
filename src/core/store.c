/*
 * store.c — the SQLite store: open (memory or WAL file), statement slots,
 * per-call savepoints inside a group transaction, and reset.
 *
 * Invariant: at most one outer transaction is open; it is opened by the first
 * call of a loop iteration and committed by nb_store_commit() (from the HTTP
 * layer's uv_check handle) before any response of that iteration is written.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nimbus.h"
#include "store.h"

#if defined(__SANITIZE_ADDRESS__)
#define NB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_ASAN 1
#endif
#endif
#ifdef NB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ---- SQLite's allocator --------------------------------------------------
 * SQLite allocates and frees many same-sized blocks on every write: 1 KiB
 * chunks of the in-memory rollback and statement journals (one page = four
 * chunks, all freed together at RELEASE/COMMIT), page buffers, cursors.
 * glibc's tcache keeps only seven blocks per size, so those bursts went to
 * the small bins (unlink_chunk, consolidation: ~10% of a batched send).
 * This keeps freed blocks in per-size-class free lists, bounded to
 * MC_CAP_BYTES in total, and falls through to malloc beyond that.  Under
 * ASan nothing is cached (see mc_free). */
#define MC_SMALL 1024            /* 64-byte classes up to here */
#define MC_MAX 8192              /* 256-byte classes up to here */
#define MC_CLASSES (MC_SMALL / 64 + (MC_MAX - MC_SMALL) / 256 + 1)
#define MC_CAP_BYTES (512 * 1024)

typedef struct mc_hdr {
    size_t n;                    /* requested (rounded) size */
    size_t pad;                  /* keeps the payload 16-byte aligned */
} mc_hdr;

static void *mc_free_list[MC_CLASSES];
static size_t mc_cached;

static int mc_class(size_t n)
{
    if (n <= MC_SMALL)
        return (int)((n + 63) / 64);
    if (n <= MC_MAX)
        return (int)(MC_SMALL / 64 + (n - MC_SMALL + 255) / 256);
    return -1;
}

static size_t mc_class_size(int c)
{
    return c <= MC_SMALL / 64 ? (size_t)c * 64 : MC_SMALL + (size_t)(c - MC_SMALL / 64) * 256;
}

static int mc_roundup(int n)
{
    int c = mc_class((size_t)(n > 0 ? n : 1));
    return c >= 0 ? (int)mc_class_size(c) : (n + 7) & ~7;
}

static void *mc_malloc(int n)
{
    if (n <= 0)
        n = 1;
    int c = mc_class((size_t)n);
    mc_hdr *h;
    if (c >= 0 && mc_free_list[c]) {
        void *p = mc_free_list[c];
        UNPOISON(p, mc_class_size(c));
        mc_free_list[c] = *(void **)p;
        mc_cached -= mc_class_size(c);
        h = (mc_hdr *)p - 1;
    } else {
        h = malloc(sizeof *h + (c >= 0 ? mc_class_size(c) : (size_t)n));
        if (!h)
            return NULL;
    }
    h->n = (size_t)n;
    return h + 1;
}

static void mc_free(void *p)
{
    if (!p)
        return;
    mc_hdr *h = (mc_hdr *)p - 1;
    int c = mc_class(h->n);
#ifdef NB_ASAN
    /* Sanitizer builds free at once: ASan's own quarantine catches
     * use-after-free better than a poisoned cache, and LeakSanitizer does
     * not follow free-list links kept in poisoned memory (it reported
     * cached blocks as leaks in the fuzzers, which never close the store). */
    c = -1;
#endif
    if (c >= 0 && mc_cached + mc_class_size(c) <= MC_CAP_BYTES) {
        *(void **)p = mc_free_list[c];
        mc_free_list[c] = p;
        mc_cached += mc_class_size(c);
        POISON(p, mc_class_size(c));
        return;
    }
    free(h);
}

static int mc_size(void *p)
{
    return p ? (int)((mc_hdr *)p - 1)->n : 0;
}

static void *mc_realloc(void *p, int n)
{
    if (!p)
        return mc_malloc(n);
    if (n <= 0)
        n = 1;
    mc_hdr *h = (mc_hdr *)p - 1;
    int oc = mc_class(h->n), nc = mc_class((size_t)n);
    if (oc >= 0 && oc == nc) {
        h->n = (size_t)n;
        return p;
    }
    if (oc < 0 && nc < 0) {
        mc_hdr *r = realloc(h, sizeof *h + (size_t)n);
        if (!r)
            return NULL;
        r->n = (size_t)n;
        return r + 1;
    }
    void *q = mc_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, h->n < (size_t)n ? h->n : (size_t)n);
    mc_free(p);
    return q;
}

static int mc_init(void *arg) { (void)arg; return SQLITE_OK; }

static void mc_flush(void)
{
    for (int c = 0; c < MC_CLASSES; c++) {
        while (mc_free_list[c]) {
            void *p = mc_free_list[c];
            UNPOISON(p, mc_class_size(c));
            mc_free_list[c] = *(void **)p;
            free((mc_hdr *)p - 1);
        }
    }
    mc_cached = 0;
}

static void mc_shutdown(void *arg) { (void)arg; mc_flush(); }

static const sqlite3_mem_methods mc_methods = {mc_malloc, mc_free,     mc_realloc, mc_size,
                                               mc_roundup, mc_init, mc_shutdown, NULL};

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
    sqlite3_config(SQLITE_CONFIG_MALLOC, &mc_methods); /* ignored once initialised */
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
    mc_flush();
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
