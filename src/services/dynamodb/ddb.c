/*
 * ddb.c — the DynamoDB service descriptor, lifecycle, schema and table
 * cache.  See ddb_internal.h for the storage layout.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"
#include "gen/models.h"

#define NBUCKETS 256

static ddb_table *g_buckets[NBUCKETS];
static int64_t g_id;

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS ddb_tables("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,"
    " name TEXT NOT NULL, spec TEXT NOT NULL, UNIQUE(account, region, name));"
    "CREATE TABLE IF NOT EXISTS ddb_items("
    " tid INTEGER NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL, item BLOB NOT NULL,"
    " size INTEGER NOT NULL, expires INTEGER);"
    "CREATE UNIQUE INDEX IF NOT EXISTS ddb_items_key ON ddb_items(tid, pk, sk);"
    "CREATE INDEX IF NOT EXISTS ddb_items_exp ON ddb_items(expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS ddb_index_items("
    " iid INTEGER NOT NULL, ipk BLOB NOT NULL, isk BLOB NOT NULL, pk BLOB NOT NULL,"
    " sk BLOB NOT NULL, PRIMARY KEY(iid, ipk, isk, pk, sk)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ddb_tags("
    " arn TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY(arn, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ddb_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ddb_tokens(account TEXT NOT NULL, token TEXT NOT NULL,"
    " request TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(account, token)) WITHOUT ROWID;";

static const char *const TABLES[] = {"ddb_tables", "ddb_items", "ddb_index_items", "ddb_tags",
                                     "ddb_meta", "ddb_tokens", NULL};

/* ---- errors ---------------------------------------------------------------- */

nb_status ddb_fail_validation(nb_call *call, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return nb_fail(call, "ValidationException", "%s", buf);
}

nb_status ddb_fail_not_found(nb_call *call)
{
    return nb_fail(call, "ResourceNotFoundException", "Requested resource not found");
}

/* Ids for tables and indexes: unique across the database's life, so rows of
 * a deleted table never alias a new one. */
int64_t ddb_next_id(void)
{
    static sqlite3_stmt *up;
    sqlite3_stmt *s = nb_stmt(&up, "INSERT INTO ddb_meta(k, v) VALUES('next_id', ?1)"
                                   " ON CONFLICT(k) DO UPDATE SET v = excluded.v");
    ++g_id;
    sqlite3_bind_int64(s, 1, g_id);
    sqlite3_step(s);
    return g_id;
}

/* ---- the cache --------------------------------------------------------------- */

static unsigned bucket(const char *account, const char *region, const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *p = account; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (const char *p = region; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % NBUCKETS;
}

static ddb_table *lookup(const char *account, const char *region, const char *name)
{
    for (ddb_table *t = g_buckets[bucket(account, region, name)]; t; t = t->next)
        if (strcmp(t->name, name) == 0 && strcmp(t->account, account) == 0 &&
            strcmp(t->region, region) == 0)
            return t;
    return NULL;
}

void ddb_table_add(ddb_table *t)
{
    unsigned b = bucket(t->account, t->region, t->name);
    t->next = g_buckets[b];
    g_buckets[b] = t;
}

void ddb_table_remove(ddb_table *t)
{
    for (ddb_table **p = &g_buckets[bucket(t->account, t->region, t->name)]; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            return;
        }
}

static void free_indexes(ddb_table *t)
{
    for (int i = 0; i < t->nidx; i++) {
        for (int k = 0; k < t->idx[i].ninclude; k++)
            free(t->idx[i].include[k]);
        free(t->idx[i].include);
    }
    t->nidx = 0;
}

void ddb_table_free(ddb_table *t)
{
    if (!t)
        return;
    free_indexes(t);
    json_object_put(t->spec);
    free(t);
}

/* A table ARN names account, region and table: "arn:aws:dynamodb:R:A:table/N". */
static bool parse_table_arn(const char *arn, char *account, char *region, char *name)
{
    const char *p = arn;
    const char *f[6];
    for (int i = 0; i < 6; i++) {
        f[i] = p;
        const char *c = strchr(p, i < 5 ? ':' : '\0');
        if (!c)
            return false;
        p = c + 1;
    }
    if (strncmp(arn, "arn:", 4) != 0 || strncmp(f[2], "dynamodb:", 9) != 0)
        return false;
    size_t rl = (size_t)(f[4] - f[3] - 1), al = (size_t)(f[5] - f[4] - 1);
    if (rl == 0 || rl >= 32 || al != 12 || strncmp(f[5], "table/", 6) != 0)
        return false;
    const char *n = f[5] + 6;
    if (!*n || strchr(n, '/') || strlen(n) > DDB_MAX_NAME)
        return false;
    memcpy(region, f[3], rl);
    region[rl] = 0;
    memcpy(account, f[4], al);
    account[al] = 0;
    strcpy(name, n);
    return true;
}

ddb_table *ddb_table_find(const nb_call *call, const char *name_or_arn)
{
    if (!name_or_arn)
        return NULL;
    if (strncmp(name_or_arn, "arn:", 4) == 0) {
        char account[16], region[32], name[DDB_MAX_NAME + 1];
        if (!parse_table_arn(name_or_arn, account, region, name))
            return NULL;
        return lookup(account, region, name);
    }
    return lookup(call->account, call->region, name_or_arn);
}

/* Table names: 3-255 of [a-zA-Z0-9_.-].  The current model types every
 * TableName as "name or ARN" without a pattern, so the service checks it,
 * with the validator's wording. */
bool ddb_valid_table_name(nb_call *call, const char *name, const char *member)
{
    if (!name || strncmp(name, "arn:", 4) == 0)
        return true;
    size_t n = strlen(name);
    bool charset = true;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            charset = false;
    }
    const char *len_err = n < 3 ? "greater than or equal to 3" : n > DDB_MAX_NAME ? "less than or equal to 255" : NULL;
    if (charset && !len_err)
        return true;
    char pat[256] = "", len[256] = "";
    if (!charset)
        snprintf(pat, sizeof pat,
                 "Value '%.100s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                 name, member);
    if (len_err)
        snprintf(len, sizeof len, "Value '%.100s' at '%s' failed to satisfy constraint: Member must have length %s",
                 name, member, len_err);
    ddb_fail_validation(call, "%d validation error%s detected: %s%s%s", !charset + !!len_err,
                        !charset && len_err ? "s" : "", pat, !charset && len_err ? "; " : "", len);
    return false;
}

ddb_table *ddb_table_get(nb_call *call, const char *name_or_arn)
{
    if (!ddb_valid_table_name(call, name_or_arn, "tableName"))
        return NULL;
    ddb_table *t = ddb_table_find(call, name_or_arn);
    if (!t)
        ddb_fail_not_found(call);
    return t;
}

ddb_index *ddb_index_find(ddb_table *t, const char *name)
{
    for (int i = 0; i < t->nidx; i++)
        if (strcmp(t->idx[i].name, name) == 0)
            return &t->idx[i];
    return NULL;
}

size_t ddb_table_all(ddb_table ***out)
{
    size_t n = 0, cap = 16;
    ddb_table **v = nb_malloc(cap * sizeof *v);
    for (int b = 0; b < NBUCKETS; b++)
        for (ddb_table *t = g_buckets[b]; t; t = t->next) {
            if (n == cap)
                v = nb_realloc(v, (cap *= 2) * sizeof *v);
            v[n++] = t;
        }
    *out = v;
    return n;
}

static int cmp_table_name(const void *a, const void *b)
{
    return strcmp((*(ddb_table *const *)a)->name, (*(ddb_table *const *)b)->name);
}

size_t ddb_table_list(const char *account, const char *region, ddb_table ***out)
{
    size_t n = 0, cap = 16;
    ddb_table **v = nb_malloc(cap * sizeof *v);
    for (int b = 0; b < NBUCKETS; b++)
        for (ddb_table *t = g_buckets[b]; t; t = t->next)
            if (strcmp(t->account, account) == 0 && strcmp(t->region, region) == 0) {
                if (n == cap)
                    v = nb_realloc(v, (cap *= 2) * sizeof *v);
                v[n++] = t;
            }
    qsort(v, n, sizeof *v, cmp_table_name);
    *out = v;
    return n;
}

/* ---- the C view of a spec ------------------------------------------------------ */

static char attr_type(json_object *defs, const char *name)
{
    size_t n = json_object_array_length(defs);
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(defs, i);
        const char *an = nb_str(d, "AttributeName");
        const char *at = nb_str(d, "AttributeType");
        if (an && at && strcmp(an, name) == 0)
            return at[0];
    }
    return 'S';
}

static void key_schema(json_object *defs, json_object *ks, ddb_keydef *hash, ddb_keydef *range)
{
    hash->name[0] = range->name[0] = 0;
    size_t n = ks ? json_object_array_length(ks) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(ks, i);
        const char *an = nb_str(e, "AttributeName");
        const char *kt = nb_str(e, "KeyType");
        if (!an || !kt)
            continue;
        ddb_keydef *k = strcmp(kt, "HASH") == 0 ? hash : range;
        snprintf(k->name, sizeof k->name, "%s", an);
        k->type = attr_type(defs, an);
    }
}

static void load_index(ddb_table *t, json_object *defs, json_object *ix, bool global)
{
    if (t->nidx == DDB_MAX_INDEXES)
        return;
    ddb_index *x = &t->idx[t->nidx++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", nb_str(ix, "IndexName") ? nb_str(ix, "IndexName") : "");
    x->global = global;
    nb_int(ix, "Id", &x->id);
    key_schema(defs, nb_get(ix, "KeySchema"), &x->hash, &x->range);
    json_object *proj = nb_get(ix, "Projection");
    const char *pt = proj ? nb_str(proj, "ProjectionType") : NULL;
    x->proj = !pt || strcmp(pt, "ALL") == 0 ? DDB_PROJ_ALL
              : strcmp(pt, "KEYS_ONLY") == 0 ? DDB_PROJ_KEYS_ONLY
                                              : DDB_PROJ_INCLUDE;
    json_object *nka = proj ? nb_get(proj, "NonKeyAttributes") : NULL;
    if (nka && x->proj == DDB_PROJ_INCLUDE) {
        size_t n = json_object_array_length(nka);
        x->include = nb_malloc((n ? n : 1) * sizeof *x->include);
        for (size_t i = 0; i < n; i++)
            x->include[x->ninclude++] = nb_strdup(json_object_get_string(json_object_array_get_idx(nka, i)));
    }
    const char *st = nb_str(ix, "IndexStatus");
    snprintf(x->status, sizeof x->status, "%s", st ? st : "ACTIVE");
    json_object *pt2 = nb_get(ix, "ProvisionedThroughput");
    if (pt2) {
        nb_int(pt2, "ReadCapacityUnits", &x->rcu);
        nb_int(pt2, "WriteCapacityUnits", &x->wcu);
    }
    char arn[sizeof x->arn];
    snprintf(arn, sizeof arn, "%s/index/%s", t->arn, x->name);
    memcpy(x->arn, arn, sizeof arn);
}

int ddb_table_refresh(ddb_table *t)
{
    json_object *spec = t->spec;
    json_object *defs = nb_get(spec, "AttributeDefinitions");
    free_indexes(t);
    snprintf(t->arn, sizeof t->arn, "arn:aws:dynamodb:%s:%s:table/%s", t->region, t->account, t->name);
    key_schema(defs, nb_get(spec, "KeySchema"), &t->hash, &t->range);
    const char *tid = nb_str(spec, "TableId");
    snprintf(t->table_id, sizeof t->table_id, "%s", tid ? tid : "");
    json_object *l = nb_get(spec, "LocalSecondaryIndexes");
    for (size_t i = 0, n = l ? json_object_array_length(l) : 0; i < n; i++)
        load_index(t, defs, json_object_array_get_idx(l, i), false);
    json_object *g = nb_get(spec, "GlobalSecondaryIndexes");
    for (size_t i = 0, n = g ? json_object_array_length(g) : 0; i < n; i++)
        load_index(t, defs, json_object_array_get_idx(g, i), true);
    json_object *ss = nb_get(spec, "StreamSpecification");
    bool on = false;
    t->stream_on = ss && nb_bool(ss, "StreamEnabled", &on) && on;
    const char *view = ss ? nb_str(ss, "StreamViewType") : NULL;
    snprintf(t->stream_view, sizeof t->stream_view, "%s", t->stream_on && view ? view : "");
    const char *label = nb_str(spec, "LatestStreamLabel");
    snprintf(t->stream_label, sizeof t->stream_label, "%s", label ? label : "");
    if (label)
        snprintf(t->stream_arn, sizeof t->stream_arn, "%s/stream/%s", t->arn, label);
    else
        t->stream_arn[0] = 0;
    t->stream_id = 0;
    nb_int(spec, "StreamId", &t->stream_id);
    json_object *ttl = nb_get(spec, "TimeToLive");
    const char *ta = ttl ? nb_str(ttl, "AttributeName") : NULL;
    bool ten = false;
    snprintf(t->ttl_attr, sizeof t->ttl_attr, "%s",
             ta && nb_bool(ttl, "Enabled", &ten) && ten ? ta : "");
    json_object *cd = nb_get(spec, "CreationDateTime");
    t->created = cd ? json_object_get_double(cd) : 0;
    bool dp = false;
    t->deletion_protection = nb_bool(spec, "DeletionProtectionEnabled", &dp) && dp;
    return 0;
}

ddb_table *ddb_table_load_spec(int64_t id, const char *account, const char *region,
                               const char *name, json_object *spec)
{
    ddb_table *t = nb_calloc(1, sizeof *t);
    t->id = id;
    snprintf(t->account, sizeof t->account, "%s", account);
    snprintf(t->region, sizeof t->region, "%s", region);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->spec = spec;
    ddb_table_refresh(t);
    return t;
}

int ddb_table_save(const ddb_table *t)
{
    static sqlite3_stmt *up;
    sqlite3_stmt *s = nb_stmt(&up, "UPDATE ddb_tables SET spec = ?2 WHERE id = ?1");
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_bind_text(s, 2, json_object_to_json_string_ext(t->spec, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    return sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
}

/* ---- lifecycle ------------------------------------------------------------------- */

static void clear_cache(void)
{
    for (int b = 0; b < NBUCKETS; b++) {
        while (g_buckets[b]) {
            ddb_table *t = g_buckets[b];
            g_buckets[b] = t->next;
            ddb_table_free(t);
        }
    }
}

static int load_tables(void)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(nb_db(), "SELECT id, account, region, name, spec FROM ddb_tables", -1,
                           &s, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_object *spec = json_tokener_parse((const char *)sqlite3_column_text(s, 4));
        if (!spec)
            continue;
        ddb_table_add(ddb_table_load_spec(sqlite3_column_int64(s, 0),
                                          (const char *)sqlite3_column_text(s, 1),
                                          (const char *)sqlite3_column_text(s, 2),
                                          (const char *)sqlite3_column_text(s, 3), spec));
    }
    sqlite3_finalize(s);
    g_id = 0;
    if (sqlite3_prepare_v2(nb_db(), "SELECT v FROM ddb_meta WHERE k = 'next_id'", -1, &s, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            g_id = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return 0;
}

static int ddb_init(struct nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    if (ddb_stream_init() != 0 || ddb_backup_init() != 0 || ddb_misc_init() != 0)
        return -1;
    return load_tables();
}

static void ddb_reset(void)
{
    clear_cache();
    g_id = 0;
}

static void ddb_shutdown(void)
{
    ddb_stream_shutdown();
    clear_cache();
}

static const nb_op_entry OPS[] = {
    {"CreateTable", ddb_create_table},
    {"DescribeTable", ddb_describe_table},
    {"UpdateTable", ddb_update_table},
    {"DeleteTable", ddb_delete_table},
    {"ListTables", ddb_list_tables},
    {"UpdateTimeToLive", ddb_update_ttl},
    {"DescribeTimeToLive", ddb_describe_ttl},
    {"TagResource", ddb_tag_resource},
    {"UntagResource", ddb_untag_resource},
    {"ListTagsOfResource", ddb_list_tags},
    {"DescribeLimits", ddb_describe_limits},
    {"DescribeEndpoints", ddb_describe_endpoints},
    {"DescribeContinuousBackups", ddb_describe_continuous_backups},
    {"PutItem", ddb_put_item},
    {"GetItem", ddb_get_item},
    {"UpdateItem", ddb_update_item},
    {"DeleteItem", ddb_delete_item},
    {"Query", ddb_query},
    {"Scan", ddb_scan},
    {"BatchGetItem", ddb_batch_get},
    {"BatchWriteItem", ddb_batch_write},
    {"TransactGetItems", ddb_transact_get},
    {"TransactWriteItems", ddb_transact_write},
    {"CreateBackup", ddb_create_backup},
    {"DescribeBackup", ddb_describe_backup},
    {"ListBackups", ddb_list_backups},
    {"DeleteBackup", ddb_delete_backup},
    {"RestoreTableFromBackup", ddb_restore_from_backup},
    {"RestoreTableToPointInTime", ddb_restore_to_time},
#define DDB_OP_ENTRY(op, fn) {#op, ddb_##fn},
    DDB_MISC_OPS(DDB_OP_ENTRY)
#undef DDB_OP_ENTRY
    {"ExecuteStatement", ddb_execute_statement},
    {"BatchExecuteStatement", ddb_batch_execute_statement},
    {"ExecuteTransaction", ddb_execute_transaction},
    {"UpdateContinuousBackups", ddb_update_continuous_backups},
    {NULL, NULL},
};

const nb_service nb_service_dynamodb = {
    .name = "dynamodb",
    .model = &nb_model_dynamodb,
    .ops = OPS,
    .init = ddb_init,
    .reset = ddb_reset,
    .shutdown = ddb_shutdown,
};
