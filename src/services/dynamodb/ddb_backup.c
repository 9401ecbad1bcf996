/*
 * ddb_backup.c — on-demand backups (CreateBackup, DescribeBackup,
 * ListBackups, DeleteBackup, RestoreTableFromBackup) and point-in-time
 * restore (RestoreTableToPointInTime).
 *
 * A backup is a snapshot: the table's spec at that moment and a copy of
 * its item rows, taken in the call's transaction (ddb_backups,
 * ddb_backup_items).  A restore creates the target table from the spec —
 * without stream, TTL, tags and PITR settings, as AWS documents ("you must
 * manually set up ... on the restored table") — copies the rows and builds
 * every index from them.
 *
 * Point-in-time restore needs PITR enabled on the source.  nimbus keeps no
 * history of item versions, so it restores the table as it is now: the
 * latest restorable time.  An explicit RestoreDateTime must lie in the
 * restorable window [EarliestRestorableDateTime, now].
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS ddb_backups("
    " id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, account TEXT NOT NULL, region TEXT NOT NULL,"
    " name TEXT NOT NULL, table_name TEXT NOT NULL, table_arn TEXT NOT NULL, spec TEXT NOT NULL,"
    " created REAL NOT NULL, size INTEGER NOT NULL, items INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ddb_backup_items("
    " bid INTEGER NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL, item BLOB NOT NULL,"
    " size INTEGER NOT NULL, expires INTEGER, PRIMARY KEY(bid, pk, sk)) WITHOUT ROWID;";

int ddb_backup_init(void)
{
    if (nb_exec(SCHEMA) != 0)
        return -1;
    nb_store_register_table("ddb_backups");
    nb_store_register_table("ddb_backup_items");
    return 0;
}

static void add(json_object *o, const char *k, json_object *v)
{
    if (v)
        json_object_object_add(o, k, v);
}

static json_object *copy(json_object *v)
{
    json_object *out = NULL;
    if (v)
        json_object_deep_copy(v, &out, NULL);
    return out;
}

static nb_status internal(nb_call *call)
{
    return nb_fail_status(call, 500, false, "InternalServerError", "Internal server error");
}

/* ---- rows ---------------------------------------------------------------------- */

typedef struct {
    int64_t id;
    char arn[512];
    char name[256];
    char table_name[256];
    char table_arn[384];
    json_object *spec;
    double created;
    int64_t size, items;
} backup;

static void backup_free(backup *b)
{
    json_object_put(b->spec);
    b->spec = NULL;
}

static void backup_row(sqlite3_stmt *s, backup *b)
{
    b->id = sqlite3_column_int64(s, 0);
    snprintf(b->arn, sizeof b->arn, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(b->name, sizeof b->name, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(b->table_name, sizeof b->table_name, "%s", (const char *)sqlite3_column_text(s, 3));
    snprintf(b->table_arn, sizeof b->table_arn, "%s", (const char *)sqlite3_column_text(s, 4));
    b->spec = json_tokener_parse((const char *)sqlite3_column_text(s, 5));
    b->created = sqlite3_column_double(s, 6);
    b->size = sqlite3_column_int64(s, 7);
    b->items = sqlite3_column_int64(s, 8);
}

#define BACKUP_COLS "id, arn, name, table_name, table_arn, spec, created, size, items"

static bool find_backup(const nb_call *call, const char *arn, backup *b)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT " BACKUP_COLS " FROM ddb_backups WHERE arn = ?1 AND account = ?2");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    if (found)
        backup_row(s, b);
    sqlite3_reset(s);
    return found && b->spec;
}

static nb_status not_found(nb_call *call, const char *arn)
{
    return nb_fail(call, "BackupNotFoundException", "Backup not found: %s", arn);
}

/* ---- descriptions --------------------------------------------------------------------- */

static json_object *details(const backup *b, const char *status)
{
    json_object *d = json_object_new_object();
    add(d, "BackupArn", json_object_new_string(b->arn));
    add(d, "BackupName", json_object_new_string(b->name));
    add(d, "BackupSizeBytes", json_object_new_int64(b->size));
    add(d, "BackupStatus", json_object_new_string(status));
    add(d, "BackupType", json_object_new_string("USER"));
    add(d, "BackupCreationDateTime", json_object_new_double(b->created));
    return d;
}

static json_object *strip_ids(json_object *list)
{
    json_object *out = copy(list);
    for (size_t i = 0, n = out ? json_object_array_length(out) : 0; i < n; i++) {
        json_object *ix = json_object_array_get_idx(out, i);
        json_object_object_del(ix, "Id");
        json_object_object_del(ix, "IndexStatus");
    }
    return out;
}

static json_object *description(const backup *b, const char *status)
{
    json_object *spec = b->spec;
    json_object *d = json_object_new_object();
    add(d, "BackupDetails", details(b, status));
    json_object *src = json_object_new_object();
    add(src, "TableName", json_object_new_string(b->table_name));
    add(src, "TableId", copy(nb_get(spec, "TableId")));
    add(src, "TableArn", json_object_new_string(b->table_arn));
    add(src, "TableSizeBytes", json_object_new_int64(b->size));
    add(src, "KeySchema", copy(nb_get(spec, "KeySchema")));
    add(src, "TableCreationDateTime", copy(nb_get(spec, "CreationDateTime")));
    json_object *pt = json_object_new_object();
    json_object *spt = nb_get(spec, "ProvisionedThroughput");
    int64_t r = 0, w = 0;
    if (spt) {
        nb_int(spt, "ReadCapacityUnits", &r);
        nb_int(spt, "WriteCapacityUnits", &w);
    }
    add(pt, "ReadCapacityUnits", json_object_new_int64(r));
    add(pt, "WriteCapacityUnits", json_object_new_int64(w));
    add(src, "ProvisionedThroughput", pt);
    add(src, "ItemCount", json_object_new_int64(b->items));
    add(src, "BillingMode", copy(nb_get(spec, "BillingMode")));
    add(d, "SourceTableDetails", src);
    json_object *feat = json_object_new_object();
    add(feat, "LocalSecondaryIndexes", strip_ids(nb_get(spec, "LocalSecondaryIndexes")));
    add(feat, "GlobalSecondaryIndexes", strip_ids(nb_get(spec, "GlobalSecondaryIndexes")));
    add(feat, "StreamDescription", copy(nb_get(spec, "StreamSpecification")));
    json_object *ttl = nb_get(spec, "TimeToLive");
    if (ttl) {
        json_object *td = json_object_new_object();
        add(td, "TimeToLiveStatus", json_object_new_string("ENABLED"));
        add(td, "AttributeName", copy(nb_get(ttl, "AttributeName")));
        add(feat, "TimeToLiveDescription", td);
    }
    add(d, "SourceTableFeatureDetails", feat);
    return d;
}

/* ---- CreateBackup ------------------------------------------------------------------------ */

nb_status ddb_create_backup(nb_call *call, json_object *in)
{
    const char *tname = nb_str(in, "TableName");
    if (!ddb_valid_table_name(call, tname, "tableName"))
        return NB_ERROR;
    ddb_table *t = ddb_table_find(call, tname);
    if (!t)
        return nb_fail(call, "TableNotFoundException", "Table not found: %s", tname);
    backup b = {0};
    b.id = ddb_next_id();
    snprintf(b.arn, sizeof b.arn, "%s/backup/%017" PRId64 "-%08" PRIx64, t->arn, call->now_ms,
             nb_rand64() & 0xffffffffu);
    snprintf(b.name, sizeof b.name, "%s", nb_str(in, "BackupName"));
    snprintf(b.table_name, sizeof b.table_name, "%s", t->name);
    snprintf(b.table_arn, sizeof b.table_arn, "%s", t->arn);
    b.spec = copy(t->spec);
    b.created = (double)call->now_ms / 1000.0;
    ddb_table_totals(t->id, &b.items, &b.size);
    static sqlite3_stmt *ins, *rows;
    sqlite3_stmt *s = nb_stmt(&ins, "INSERT INTO ddb_backups(id, arn, account, region, name, table_name,"
                                    " table_arn, spec, created, size, items) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
    sqlite3_bind_int64(s, 1, b.id);
    sqlite3_bind_text(s, 2, b.arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, b.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, b.table_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, b.table_arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, json_object_to_json_string_ext(b.spec, JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 9, b.created);
    sqlite3_bind_int64(s, 10, b.size);
    sqlite3_bind_int64(s, 11, b.items);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        s = nb_stmt(&rows, "INSERT INTO ddb_backup_items(bid, pk, sk, item, size, expires)"
                           " SELECT ?1, pk, sk, item, size, expires FROM ddb_items WHERE tid = ?2");
        sqlite3_bind_int64(s, 1, b.id);
        sqlite3_bind_int64(s, 2, t->id);
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) {
        backup_free(&b);
        return internal(call);
    }
    call->out = json_object_new_object();
    add(call->out, "BackupDetails", details(&b, "AVAILABLE"));
    backup_free(&b);
    return NB_OK;
}

nb_status ddb_describe_backup(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "BackupArn");
    backup b = {0};
    if (!find_backup(call, arn, &b)) {
        backup_free(&b);
        return not_found(call, arn);
    }
    call->out = json_object_new_object();
    add(call->out, "BackupDescription", description(&b, "AVAILABLE"));
    backup_free(&b);
    return NB_OK;
}

nb_status ddb_delete_backup(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "BackupArn");
    backup b = {0};
    if (!find_backup(call, arn, &b)) {
        backup_free(&b);
        return not_found(call, arn);
    }
    static sqlite3_stmt *d1, *d2;
    sqlite3_stmt *s = nb_stmt(&d1, "DELETE FROM ddb_backup_items WHERE bid = ?1");
    sqlite3_bind_int64(s, 1, b.id);
    sqlite3_step(s);
    s = nb_stmt(&d2, "DELETE FROM ddb_backups WHERE id = ?1");
    sqlite3_bind_int64(s, 1, b.id);
    sqlite3_step(s);
    call->out = json_object_new_object();
    add(call->out, "BackupDescription", description(&b, "DELETED"));
    backup_free(&b);
    return NB_OK;
}

nb_status ddb_list_backups(nb_call *call, json_object *in)
{
    const char *tname = nb_str(in, "TableName");
    const char *start = nb_str(in, "ExclusiveStartBackupArn");
    const char *type = nb_str(in, "BackupType");
    int64_t limit = 100;
    nb_int(in, "Limit", &limit);
    json_object *lo = nb_get(in, "TimeRangeLowerBound"), *hi = nb_get(in, "TimeRangeUpperBound");
    if (tname && strncmp(tname, "arn:", 4) == 0) {
        const char *slash = strrchr(tname, '/');
        tname = slash ? slash + 1 : tname;
    }
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT " BACKUP_COLS " FROM ddb_backups WHERE account = ?1 AND region = ?2"
                                  " AND (?3 IS NULL OR table_name = ?3) AND (?4 IS NULL OR created >= ?4)"
                                  " AND (?5 IS NULL OR created <= ?5) ORDER BY created, id");
    sqlite3_bind_text(s, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->region, -1, SQLITE_STATIC);
    if (tname)
        sqlite3_bind_text(s, 3, tname, -1, SQLITE_STATIC);
    if (lo)
        sqlite3_bind_double(s, 4, json_object_get_double(lo));
    if (hi)
        sqlite3_bind_double(s, 5, json_object_get_double(hi));
    json_object *list = json_object_new_array();
    bool skipping = start != NULL, more = false;
    char last[512] = "";
    /* Only USER backups exist here; SYSTEM / AWS_BACKUP filters match none. */
    bool want = !type || strcmp(type, "USER") == 0 || strcmp(type, "ALL") == 0;
    while (want && sqlite3_step(s) == SQLITE_ROW) {
        backup b = {0};
        backup_row(s, &b);
        if (skipping) {
            skipping = strcmp(b.arn, start) != 0;
            backup_free(&b);
            continue;
        }
        if ((int64_t)json_object_array_length(list) == limit) {
            more = true;
            backup_free(&b);
            break;
        }
        json_object *e = json_object_new_object();
        add(e, "TableName", json_object_new_string(b.table_name));
        add(e, "TableId", copy(nb_get(b.spec, "TableId")));
        add(e, "TableArn", json_object_new_string(b.table_arn));
        add(e, "BackupArn", json_object_new_string(b.arn));
        add(e, "BackupName", json_object_new_string(b.name));
        add(e, "BackupCreationDateTime", json_object_new_double(b.created));
        add(e, "BackupStatus", json_object_new_string("AVAILABLE"));
        add(e, "BackupType", json_object_new_string("USER"));
        add(e, "BackupSizeBytes", json_object_new_int64(b.size));
        json_object_array_add(list, e);
        snprintf(last, sizeof last, "%s", b.arn);
        backup_free(&b);
    }
    sqlite3_reset(s);
    call->out = json_object_new_object();
    add(call->out, "BackupSummaries", list);
    if (more)
        add(call->out, "LastEvaluatedBackupArn", json_object_new_string(last));
    return NB_OK;
}

/* ---- restores ------------------------------------------------------------------------------ */

/* The restored table's spec: the source's keys and indexes (or the
 * overrides), new identity, none of the settings AWS does not restore. */
static json_object *restored_spec(const nb_call *call, json_object *src, json_object *in)
{
    json_object *spec = json_object_new_object();
    add(spec, "AttributeDefinitions", copy(nb_get(src, "AttributeDefinitions")));
    add(spec, "KeySchema", copy(nb_get(src, "KeySchema")));
    const char *bm = nb_str(in, "BillingModeOverride");
    add(spec, "BillingMode", json_object_new_string(bm ? bm : nb_str(src, "BillingMode")));
    if (nb_get(src, "BillingModeGiven") || bm)
        add(spec, "BillingModeGiven", json_object_new_boolean(1));
    bool ppr = strcmp(nb_str(spec, "BillingMode"), "PAY_PER_REQUEST") == 0;
    json_object *pt = nb_get(in, "ProvisionedThroughputOverride");
    if (!ppr)
        add(spec, "ProvisionedThroughput", copy(pt ? pt : nb_get(src, "ProvisionedThroughput")));
    json_object *lsi = nb_get(in, "LocalSecondaryIndexOverride");
    json_object *gsi = nb_get(in, "GlobalSecondaryIndexOverride");
    add(spec, "LocalSecondaryIndexes", copy(lsi ? lsi : nb_get(src, "LocalSecondaryIndexes")));
    add(spec, "GlobalSecondaryIndexes", copy(gsi ? gsi : nb_get(src, "GlobalSecondaryIndexes")));
    const char *lists[2] = {"LocalSecondaryIndexes", "GlobalSecondaryIndexes"};
    for (int l = 0; l < 2; l++) {
        json_object *list = nb_get(spec, lists[l]);
        for (size_t i = 0, n = list ? json_object_array_length(list) : 0; i < n; i++) {
            json_object *ix = json_object_array_get_idx(list, i);
            add(ix, "Id", json_object_new_int64(ddb_next_id()));
            if (l == 1)
                add(ix, "IndexStatus", json_object_new_string("ACTIVE"));
            if (ppr)
                json_object_object_del(ix, "ProvisionedThroughput");
        }
        if (list && json_object_array_length(list) == 0)
            json_object_object_del(spec, lists[l]);
    }
    json_object *sse = nb_get(in, "SSESpecificationOverride");
    add(spec, "SSESpecification", copy(sse ? sse : nb_get(src, "SSESpecification")));
    add(spec, "TableClass", copy(nb_get(src, "TableClass")));
    char uuid[37];
    nb_uuid(uuid);
    add(spec, "TableId", json_object_new_string(uuid));
    add(spec, "CreationDateTime", json_object_new_double((double)call->now_ms / 1000.0));
    return spec;
}

static nb_status fill(nb_call *call, ddb_table *t, const char *sql, int64_t source)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(nb_db(), sql, -1, &s, NULL) != SQLITE_OK)
        return internal(call);
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_bind_int64(s, 2, source);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return internal(call);
    for (int i = 0; i < t->nidx; i++)
        if (ddb_index_backfill(t, &t->idx[i]) != 0)
            return internal(call);
    return NB_OK;
}

static void restore_summary(json_object *desc, const char *backup_arn, const char *table_arn, double when)
{
    json_object *r = json_object_new_object();
    if (backup_arn)
        add(r, "SourceBackupArn", json_object_new_string(backup_arn));
    add(r, "SourceTableArn", json_object_new_string(table_arn));
    add(r, "RestoreDateTime", json_object_new_double(when));
    add(r, "RestoreInProgress", json_object_new_boolean(0));
    add(desc, "RestoreSummary", r);
}

static nb_status target_ok(nb_call *call, const char *target)
{
    if (!ddb_valid_table_name(call, target, "targetTableName"))
        return NB_ERROR;
    if (ddb_table_find(call, target))
        return nb_fail(call, "TableAlreadyExistsException", "Table already exists: %s", target);
    return ddb_table_can_create(call, target);
}

nb_status ddb_restore_from_backup(nb_call *call, json_object *in)
{
    const char *target = nb_str(in, "TargetTableName");
    const char *arn = nb_str(in, "BackupArn");
    if (target_ok(call, target) != NB_OK)
        return NB_ERROR;
    backup b = {0};
    if (!find_backup(call, arn, &b)) {
        backup_free(&b);
        return not_found(call, arn);
    }
    ddb_table *t = ddb_table_create(call, target, restored_spec(call, b.spec, in));
    nb_status st = t ? fill(call, t, "INSERT INTO ddb_items(tid, pk, sk, item, size, expires)"
                                     " SELECT ?1, pk, sk, item, size, NULL FROM ddb_backup_items WHERE bid = ?2",
                            b.id)
                     : NB_ERROR;
    if (st == NB_OK) {
        json_object *desc = ddb_table_creating(call, t);
        restore_summary(desc, b.arn, b.table_arn, (double)call->now_ms / 1000.0);
        call->out = json_object_new_object();
        add(call->out, "TableDescription", desc);
    } else if (t) {
        ddb_table_remove(t);
        ddb_table_free(t);
    }
    backup_free(&b);
    return st;
}

nb_status ddb_restore_to_time(nb_call *call, json_object *in)
{
    const char *src_name = nb_str(in, "SourceTableArn");
    if (!src_name)
        src_name = nb_str(in, "SourceTableName");
    const char *target = nb_str(in, "TargetTableName");
    if (!src_name)
        return ddb_fail_validation(call, "Either SourceTableArn or SourceTableName must be specified");
    ddb_table *src = ddb_table_find(call, src_name);
    if (!src)
        return nb_fail(call, "TableNotFoundException", "Table not found: %s", src_name);
    bool pitr = false;
    nb_bool(src->spec, "PointInTimeRecovery", &pitr);
    if (!pitr)
        return nb_fail(call, "PointInTimeRecoveryUnavailableException",
                       "Point in time recovery is not enabled for table '%s'", src->name);
    bool latest = false;
    nb_bool(in, "UseLatestRestorableTime", &latest);
    json_object *when = nb_get(in, "RestoreDateTime");
    if (latest && when)
        return ddb_fail_validation(call, "Only one of UseLatestRestorableTime or RestoreDateTime can be specified");
    double now = (double)call->now_ms / 1000.0, at = now;
    if (when) {
        at = json_object_get_double(when);
        json_object *since = nb_get(src->spec, "PointInTimeRecoverySince");
        double earliest = since ? json_object_get_double(since) : now;
        if (at < earliest || at > now)
            return nb_fail(call, "InvalidRestoreTimeException",
                           "RestoreDateTime must be between EarliestRestorableDateTime and LatestRestorableDateTime");
    } else if (!latest) {
        return ddb_fail_validation(call, "Either UseLatestRestorableTime or RestoreDateTime must be specified");
    }
    if (target_ok(call, target) != NB_OK)
        return NB_ERROR;
    json_object *spec = restored_spec(call, src->spec, in);
    char src_arn[sizeof src->arn];
    memcpy(src_arn, src->arn, sizeof src_arn);
    int64_t src_id = src->id;
    ddb_table *t = ddb_table_create(call, target, spec);
    nb_status st = t ? fill(call, t, "INSERT INTO ddb_items(tid, pk, sk, item, size, expires)"
                                     " SELECT ?1, pk, sk, item, size, NULL FROM ddb_items WHERE tid = ?2",
                            src_id)
                     : NB_ERROR;
    if (st == NB_OK) {
        json_object *desc = ddb_table_creating(call, t);
        restore_summary(desc, NULL, src_arn, at);
        call->out = json_object_new_object();
        add(call->out, "TableDescription", desc);
    } else if (t) {
        ddb_table_remove(t);
        ddb_table_free(t);
    }
    return st;
}
