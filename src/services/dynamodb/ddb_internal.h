/*
 * ddb_internal.h — shared types and functions of the DynamoDB service.
 *
 * Files:
 *   ddb.c         descriptor, lifecycle, schema, the table cache, ARNs
 *   ddb_table.c   control plane: Create/Describe/Update/Delete/List tables,
 *                 TTL settings, tags, limits, endpoints, backups settings
 *   ddb_write.c   PutItem, UpdateItem, DeleteItem, GetItem and the write
 *                 path shared with batches and transactions (index upkeep,
 *                 stream records)
 *   ddb_query.c   Query and Scan
 *   ddb_batch.c   BatchGetItem, BatchWriteItem, TransactGetItems,
 *                 TransactWriteItems
 *   ddb_stream.c  DynamoDB Streams (the dynamodbstreams service) and TTL
 *   ddb_backup.c  on-demand backups, restores, point-in-time restore
 *   ddb_misc.c    resource policies, Kinesis destinations, contributor
 *                 insights, global tables (2017), exports/imports
 *   ddb_partiql*.c  PartiQL: ExecuteStatement, BatchExecuteStatement,
 *                 ExecuteTransaction (parser, evaluator, handlers)
 *   ddb_exprs.c   a request's expressions and AWS's rules on combining them
 *   ddb_num.c     exact decimal numbers          (pure)
 *   ddb_item.c    attribute values: validation, size, storage encoding,
 *                 key bytes                      (pure)
 *   ddb_expr*.c   the expression language        (pure)
 *
 * Storage (SQLite; every call is one savepoint inside the group commit):
 *   ddb_tables      one row per table: identity and a JSON "spec" (the
 *                   normalised CreateTable input plus evolving state)
 *   ddb_items       one row per item: (tid, pk, sk) unique, the item in the
 *                   binary encoding of ddb_item.c; pk/sk are key bytes whose
 *                   memcmp order is DynamoDB's order (sk is X'' when the
 *                   table has no sort key)
 *   ddb_index_items one row per item that an index holds:
 *                   (iid, ipk, isk, pk, sk), WITHOUT ROWID; the item itself
 *                   is read from ddb_items and projected on the way out
 *   ddb_stream_recs stream records (see ddb_stream.c)
 *   ddb_tags        tags per table ARN
 *
 * The cache mirrors ddb_tables (loaded at init, cleared at reset): handlers
 * find tables there.  Control-plane handlers change the cache only after
 * their SQL succeeded, so a failed call never leaves it ahead of the
 * rolled-back database.
 */
#ifndef NB_DDB_INTERNAL_H
#define NB_DDB_INTERNAL_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/nimbus.h"
#include "core/service.h"
#include "core/store.h"

#define DDB_MAX_NAME 255
#define DDB_MAX_GSI 20
#define DDB_MAX_LSI 5
#define DDB_MAX_INDEXES (DDB_MAX_GSI + DDB_MAX_LSI)
#define DDB_MAX_ITEM_BYTES (400 * 1024)
#define DDB_MAX_TABLES 2500       /* default per-region quota */
#define DDB_MAX_PROJECTED 100     /* NonKeyAttributes across a table's indexes */

enum { DDB_PROJ_ALL, DDB_PROJ_KEYS_ONLY, DDB_PROJ_INCLUDE };

typedef struct ddb_keydef {
    char name[DDB_MAX_NAME + 1];  /* "" when absent (no sort key) */
    char type;                    /* 'S', 'N', 'B' */
} ddb_keydef;

typedef struct ddb_index {
    char name[DDB_MAX_NAME + 1];
    int64_t id;                   /* iid in ddb_index_items */
    bool global;
    ddb_keydef hash, range;
    int proj;                     /* DDB_PROJ_* */
    char **include;               /* INCLUDE's NonKeyAttributes */
    int ninclude;
    char status[16];              /* ACTIVE, CREATING, UPDATING, DELETING */
    int64_t rcu, wcu;
    char arn[672];
} ddb_index;

typedef struct ddb_table {
    int64_t id;
    char account[16];
    char region[32];
    char name[DDB_MAX_NAME + 1];
    char arn[384];
    char table_id[40];
    ddb_keydef hash, range;
    ddb_index idx[DDB_MAX_INDEXES];
    int nidx;
    bool stream_on;
    char stream_view[24];         /* KEYS_ONLY, NEW_IMAGE, ... */
    char stream_label[32];        /* of the latest stream ("" = never) */
    char stream_arn[448];
    int64_t stream_id;            /* current stream's id (0 = none) */
    char ttl_attr[DDB_MAX_NAME + 1]; /* "" = TTL disabled */
    double created;
    bool deletion_protection;
    json_object *spec;            /* owned: the stored description */
    struct ddb_table *next;       /* cache chain */
} ddb_table;

/* ---- ddb.c ---------------------------------------------------------------- */

/* The table named by a TableName member (a name or a table ARN) in the
 * caller's account and region, or NULL. */
ddb_table *ddb_table_find(const nb_call *call, const char *name_or_arn);
/* Checks a TableName member's syntax (names; ARNs pass), failing the call
 * with AWS's ValidationException. */
bool ddb_valid_table_name(nb_call *call, const char *name, const char *member);
/* Same, failing the call with ResourceNotFoundException when absent. */
ddb_table *ddb_table_get(nb_call *call, const char *name_or_arn);
/* Cache maintenance (ddb_table.c uses these after its SQL succeeded). */
ddb_table *ddb_table_load_spec(int64_t id, const char *account, const char *region,
                               const char *name, json_object *spec);
void ddb_table_add(ddb_table *t);
void ddb_table_remove(ddb_table *t);
void ddb_table_free(ddb_table *t);
/* Rebuild a cached table's C view from its (changed) spec. */
int ddb_table_refresh(ddb_table *t);
/* Write t->spec back to ddb_tables. */
int ddb_table_save(const ddb_table *t);
/* Iterate the tables of one account/region in name order (for ListTables). */
size_t ddb_table_list(const char *account, const char *region, ddb_table ***out);
/* Every cached table (for the sweep); free the array. */
size_t ddb_table_all(ddb_table ***out);
/* An index by name, or NULL. */
ddb_index *ddb_index_find(ddb_table *t, const char *name);

nb_status ddb_fail_validation(nb_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
nb_status ddb_fail_not_found(nb_call *call);
int64_t ddb_next_id(void);

/* ---- handlers ------------------------------------------------------------- */

nb_status ddb_create_table(nb_call *call, json_object *in);
nb_status ddb_describe_table(nb_call *call, json_object *in);
nb_status ddb_update_table(nb_call *call, json_object *in);
nb_status ddb_delete_table(nb_call *call, json_object *in);
nb_status ddb_list_tables(nb_call *call, json_object *in);
nb_status ddb_update_ttl(nb_call *call, json_object *in);
nb_status ddb_describe_ttl(nb_call *call, json_object *in);
nb_status ddb_tag_resource(nb_call *call, json_object *in);
nb_status ddb_untag_resource(nb_call *call, json_object *in);
nb_status ddb_list_tags(nb_call *call, json_object *in);
nb_status ddb_describe_limits(nb_call *call, json_object *in);
nb_status ddb_describe_endpoints(nb_call *call, json_object *in);
nb_status ddb_describe_continuous_backups(nb_call *call, json_object *in);
nb_status ddb_update_continuous_backups(nb_call *call, json_object *in);

/* ---- ddb_exprs.c: a request's expressions ----------------------------------- */

struct ddb_ctx;
struct ddb_cond;
struct ddb_update;
struct ddb_proj;

#define DDB_X_COND 0x01u    /* ConditionExpression | Expected */
#define DDB_X_UPDATE 0x02u  /* UpdateExpression | AttributeUpdates */
#define DDB_X_PROJ 0x04u    /* ProjectionExpression | AttributesToGet */
#define DDB_X_FILTER 0x08u  /* FilterExpression | QueryFilter / ScanFilter */
#define DDB_X_KEY 0x10u     /* KeyConditionExpression | KeyConditions */
#define DDB_X_SCAN 0x20u    /* with DDB_X_FILTER: the legacy filter is ScanFilter */

typedef struct ddb_exprs {
    struct ddb_ctx *ctx;
    struct ddb_cond *cond, *filter, *key;
    struct ddb_update *upd;
    struct ddb_proj *proj;
    bool legacy_proj;       /* from AttributesToGet */
} ddb_exprs;

/* Parses the expressions (or legacy parameters) that `which` allows, with
 * AWS's checks: no mixing of the two styles, names/values only with
 * expressions, none unused.  On error the call has failed and x is empty. */
nb_status ddb_exprs_parse(nb_call *call, json_object *in, unsigned which, ddb_exprs *x);
void ddb_exprs_free(ddb_exprs *x);

/* ---- ddb_write.c: keys and the storage path ------------------------------------- */

typedef struct ddb_key {
    nb_buf pk, sk;          /* key bytes (sk empty without a sort key) */
} ddb_key;

nb_status ddb_key_from_key(nb_call *call, const ddb_table *t, json_object *key, ddb_key *out);
nb_status ddb_key_from_item(nb_call *call, const ddb_table *t, json_object *item, ddb_key *out);
void ddb_key_free(ddb_key *k);
/* {hash: v, range: v} of an item (new tree sharing the values). */
json_object *ddb_key_attrs(const ddb_table *t, json_object *item);
nb_status ddb_check_index_keys(nb_call *call, const ddb_table *t, json_object *item);
/* The stored item (new tree) or NULL; *size gets its stored size. */
json_object *ddb_load(const ddb_table *t, const ddb_key *k, size_t *size);
/* Writes nw (NULL deletes) with its index rows and stream record. */
/* The stored item as raw JSON text for the JSON codec (nb_json_raw), or
 * NULL: for reads that return it unchanged. */
json_object *ddb_load_raw(const ddb_table *t, const ddb_key *k, size_t *size);
/* The stored size of an item, 0 when there is none. */
size_t ddb_stored_size(const ddb_table *t, const ddb_key *k);
int ddb_store(nb_call *call, const ddb_table *t, const ddb_key *k, json_object *old,
              json_object *nw, bool by_ttl);
int ddb_index_backfill(ddb_table *t, ddb_index *x);
int64_t ddb_item_expiry(const ddb_table *t, json_object *item);
double ddb_write_units(size_t bytes);
double ddb_read_units(size_t bytes, bool consistent);
/* ConsumedCapacity for mode (TOTAL / INDEXES / NONE or NULL = no output).
 * index_units > 0 charges every index that much; `only` reports a read
 * of one index (Query/Scan on an index). */
json_object *ddb_capacity(const char *mode, const ddb_table *t, double table_units, bool write,
                          double index_units, const ddb_index *only);
json_object *ddb_collection_metrics(const nb_call *call, const char *mode, const ddb_table *t,
                                    json_object *item);

/* UpdateItem's new item: old (or just the key) with x's update applied;
 * NULL after failing the call. */
json_object *ddb_updated_item(nb_call *call, const ddb_table *t, json_object *key,
                              json_object *old, const ddb_exprs *x);
/* ConditionalCheckFailedException, with the item when the request asks. */
nb_status ddb_fail_condition(nb_call *call, json_object *in, json_object *old);

/* ClientRequestToken records (10 minutes): 1 = same request seen, -1 =
 * another request used the token, 0 = new (recorded now). */
int ddb_token_check(nb_call *call, const char *token, const char *text);
/* The item as index x holds it: keys plus projected attributes (x NULL or
 * ALL: the item itself).  New reference. */
json_object *ddb_index_view(const ddb_table *t, const ddb_index *x, json_object *item);

nb_status ddb_put_item(nb_call *call, json_object *in);
nb_status ddb_query(nb_call *call, json_object *in);
nb_status ddb_scan(nb_call *call, json_object *in);
nb_status ddb_batch_get(nb_call *call, json_object *in);
nb_status ddb_batch_write(nb_call *call, json_object *in);
nb_status ddb_transact_get(nb_call *call, json_object *in);
nb_status ddb_transact_write(nb_call *call, json_object *in);
nb_status ddb_get_item(nb_call *call, json_object *in);
nb_status ddb_update_item(nb_call *call, json_object *in);
nb_status ddb_delete_item(nb_call *call, json_object *in);
/* ddb_partiql.c */
nb_status ddb_execute_statement(nb_call *call, json_object *in);
nb_status ddb_batch_execute_statement(nb_call *call, json_object *in);
nb_status ddb_execute_transaction(nb_call *call, json_object *in);

/* ---- ddb_stream.c ------------------------------------------------------------------ */

/* Makes ddb_streams match t after a change of its stream settings (or its
 * deletion, with t->stream_on cleared): the current stream row exists,
 * every other stream of the table is disabled. */
void ddb_stream_sync(const nb_call *call, const ddb_table *t);
int ddb_stream_init(void);
void ddb_stream_shutdown(void);
/* Appends up to limit records of stream sid from sequence from_seq to
 * records; returns the position after the last one.  `stream` is the
 * stream's row (ddb_stream.c). */
int64_t ddb_stream_read(int64_t sid, int64_t from_seq, int limit, int64_t now_ms,
                        const void *stream, json_object *records);
/* Records a change of t's items on its stream (t->stream_on). */
void ddb_stream_emit(nb_call *call, const ddb_table *t, json_object *old, json_object *nw,
                     bool by_ttl);

/* Creates table `name` in the caller's account/region from a spec (taken),
 * adds it to the cache; NULL after failing the call. */
ddb_table *ddb_table_create(nb_call *call, const char *name, json_object *spec);
/* The description a create answers: TableStatus/IndexStatus CREATING. */
json_object *ddb_table_creating(const nb_call *call, ddb_table *t);
/* Checks a table limit/name clash before creating: fails the call. */
nb_status ddb_table_can_create(nb_call *call, const char *name);

/* ---- ddb_backup.c, ddb_misc.c -------------------------------------------------------- */

nb_status ddb_create_backup(nb_call *call, json_object *in);
nb_status ddb_describe_backup(nb_call *call, json_object *in);
nb_status ddb_list_backups(nb_call *call, json_object *in);
nb_status ddb_delete_backup(nb_call *call, json_object *in);
nb_status ddb_restore_from_backup(nb_call *call, json_object *in);
nb_status ddb_restore_to_time(nb_call *call, json_object *in);
int ddb_backup_init(void);
int ddb_misc_init(void);

/* ddb_misc.c's operations: (operation, handler ddb_<fn>). */
#define DDB_MISC_OPS(X) \
    X(PutResourcePolicy, put_policy) \
    X(GetResourcePolicy, get_policy) \
    X(DeleteResourcePolicy, delete_policy) \
    X(EnableKinesisStreamingDestination, enable_kinesis) \
    X(DisableKinesisStreamingDestination, disable_kinesis) \
    X(UpdateKinesisStreamingDestination, update_kinesis) \
    X(DescribeKinesisStreamingDestination, describe_kinesis) \
    X(DescribeContributorInsights, describe_insights) \
    X(UpdateContributorInsights, update_insights) \
    X(ListContributorInsights, list_insights) \
    X(CreateGlobalTable, create_global) \
    X(DescribeGlobalTable, describe_global) \
    X(ListGlobalTables, list_globals) \
    X(UpdateGlobalTable, update_global) \
    X(DescribeGlobalTableSettings, describe_global_settings) \
    X(UpdateGlobalTableSettings, update_global_settings) \
    X(ExportTableToPointInTime, export_table) \
    X(DescribeExport, describe_export) \
    X(ListExports, list_exports) \
    X(ImportTable, import_table) \
    X(DescribeImport, describe_import) \
    X(ListImports, list_imports) \
    X(DescribeTableReplicaAutoScaling, autoscaling_desc) \
    X(UpdateTableReplicaAutoScaling, autoscaling_desc)
#define DDB_DECLARE_OP(op, fn) nb_status ddb_##fn(nb_call *call, json_object *in);
DDB_MISC_OPS(DDB_DECLARE_OP)
#undef DDB_DECLARE_OP

/* Item count and stored bytes of table tid. */
void ddb_table_totals(int64_t tid, int64_t *items, int64_t *bytes);

/* The TableDescription of t (new tree). */
json_object *ddb_table_description(const nb_call *call, ddb_table *t);

#endif
