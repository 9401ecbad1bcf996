/*
 * ddb_table.c — the DynamoDB control plane: tables, indexes, streams
 * settings, TTL settings, tags, limits, endpoints, continuous backups.
 *
 * A table's state is its "spec": the normalised CreateTable input plus
 * what changes later (index status, stream label, TTL, billing changes),
 * stored as JSON in ddb_tables.spec and mirrored by the cache (ddb.c).
 *
 * Status transitions.  CreateTable answers CREATING, UpdateTable UPDATING
 * (and a new index CREATING), DeleteTable DELETING, as AWS does; the work
 * itself is immediate here, so the next DescribeTable already shows ACTIVE
 * (and a deleted table is gone).  SDK waiters (table_exists,
 * table_not_exists) therefore finish on their first poll.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"

/* ---- small helpers ------------------------------------------------------- */

static json_object *jstr(const char *s)
{
    return json_object_new_string(s);
}

static void set(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static json_object *copy(json_object *v)
{
    json_object *out = NULL;
    if (v)
        json_object_deep_copy(v, &out, NULL);
    return out;
}

static void label_now(const nb_call *call, char out[32])
{
    char iso[32];
    nb_iso8601((double)call->now_ms / 1000.0, iso);
    snprintf(out, 32, "%.23s", iso); /* "2026-12-01T23:59:59.123" */
}

static bool defined(json_object *defs, const char *name)
{
    for (size_t i = 0, n = json_object_array_length(defs); i < n; i++) {
        const char *an = nb_str(json_object_array_get_idx(defs, i), "AttributeName");
        if (an && strcmp(an, name) == 0)
            return true;
    }
    return false;
}

static void name_list(nb_buf *b, json_object *arr, const char *member)
{
    for (size_t i = 0, n = json_object_array_length(arr); i < n; i++) {
        const char *an = nb_str(json_object_array_get_idx(arr, i), member);
        if (i)
            nb_buf_adds(b, ", ");
        nb_buf_adds(b, an ? an : "");
    }
}

/* ---- key schema checks (table and indexes) ---------------------------------- */

/* The checks AWS applies to one KeySchema, in AWS's order. */
static nb_status check_key_schema(nb_call *call, json_object *ks, json_object *defs)
{
    size_t n = json_object_array_length(ks);
    if (n > json_object_array_length(defs))
        return ddb_fail_validation(call, "Invalid KeySchema: Some index key attribute have no definition");
    for (size_t i = 0; i < n; i++) {
        const char *an = nb_str(json_object_array_get_idx(ks, i), "AttributeName");
        if (!an || !defined(defs, an)) {
            nb_buf k = {0}, d = {0};
            name_list(&k, ks, "AttributeName");
            name_list(&d, defs, "AttributeName");
            ddb_fail_validation(call,
                                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
                                k.data ? k.data : "", d.data ? d.data : "");
            nb_buf_free(&k);
            nb_buf_free(&d);
            return NB_ERROR;
        }
    }
    json_object *e0 = json_object_array_get_idx(ks, 0);
    json_object *e1 = n > 1 ? json_object_array_get_idx(ks, 1) : NULL;
    if (e1 && strcmp(nb_str(e0, "AttributeName"), nb_str(e1, "AttributeName")) == 0)
        return ddb_fail_validation(call, "Both the Hash Key and the Range Key element in the KeySchema have the same name");
    if (strcmp(nb_str(e0, "KeyType"), "HASH") != 0)
        return ddb_fail_validation(call, "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    if (e1 && strcmp(nb_str(e1, "KeyType"), "RANGE") != 0)
        return ddb_fail_validation(call, "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
    return NB_OK;
}

static nb_status check_projection(nb_call *call, json_object *proj, int *nprojected)
{
    const char *pt = nb_str(proj, "ProjectionType");
    json_object *nka = nb_get(proj, "NonKeyAttributes");
    if (!pt)
        return ddb_fail_validation(call, "One or more parameter values were invalid: Unknown ProjectionType: null");
    if (nka && strcmp(pt, "INCLUDE") != 0)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: ProjectionType is %s, but NonKeyAttributes is specified",
                                   pt);
    if (strcmp(pt, "INCLUDE") == 0 && (!nka || json_object_array_length(nka) == 0))
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified");
    if (nka)
        *nprojected += (int)json_object_array_length(nka);
    return NB_OK;
}

static bool valid_throughput(nb_call *call, json_object *pt)
{
    int64_t r = 0, w = 0;
    nb_int(pt, "ReadCapacityUnits", &r);
    nb_int(pt, "WriteCapacityUnits", &w);
    if (r > 1000000000000LL) {
        ddb_fail_validation(call, "Given value %" PRId64 " for ReadCapacityUnits is out of bounds", r);
        return false;
    }
    if (w > 1000000000000LL) {
        ddb_fail_validation(call, "Given value %" PRId64 " for WriteCapacityUnits is out of bounds", w);
        return false;
    }
    return true;
}

/* Required-but-optional-in-the-model members, reported as AWS's validator
 * does for a null member. */
static nb_status require(nb_call *call, json_object *in, const char *member, const char *path)
{
    if (nb_get(in, member))
        return NB_OK;
    return ddb_fail_validation(call,
                               "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null",
                               path);
}

static nb_status check_lsis(nb_call *call, json_object *in, json_object *defs, json_object *ks,
                            json_object *names, int *nprojected)
{
    json_object *lsis = nb_get(in, "LocalSecondaryIndexes");
    if (!lsis)
        return NB_OK;
    size_t n = json_object_array_length(lsis);
    if (n == 0)
        return ddb_fail_validation(call, "One or more parameter values were invalid: List of LocalSecondaryIndexes is empty");
    if (json_object_array_length(ks) != 2)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex");
    const char *thash = nb_str(json_object_array_get_idx(ks, 0), "AttributeName");
    for (size_t i = 0; i < n; i++) {
        json_object *ix = json_object_array_get_idx(lsis, i);
        const char *name = nb_str(ix, "IndexName");
        json_object *iks = nb_get(ix, "KeySchema");
        if (check_key_schema(call, iks, defs) != NB_OK)
            return NB_ERROR;
        if (json_object_array_length(iks) != 2)
            return ddb_fail_validation(call,
                                       "One or more parameter values were invalid: Index KeySchema does not have a range key for index: %s",
                                       name);
        const char *ihash = nb_str(json_object_array_get_idx(iks, 0), "AttributeName");
        if (strcmp(ihash, thash) != 0)
            return ddb_fail_validation(call,
                                       "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: %s. index hash key: %s, table hash key: %s",
                                       name, ihash, thash);
        if (check_projection(call, nb_get(ix, "Projection"), nprojected) != NB_OK)
            return NB_ERROR;
        if (nb_get(names, name))
            return ddb_fail_validation(call, "One or more parameter values were invalid: Duplicate index name: %s", name);
        set(names, name, json_object_new_boolean(1));
    }
    if (n > DDB_MAX_LSI)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of %d",
                                   DDB_MAX_LSI);
    return NB_OK;
}

static nb_status check_gsi(nb_call *call, json_object *ix, json_object *defs, bool pay_per_request,
                           int *nprojected)
{
    const char *name = nb_str(ix, "IndexName");
    if (check_key_schema(call, nb_get(ix, "KeySchema"), defs) != NB_OK)
        return NB_ERROR;
    if (check_projection(call, nb_get(ix, "Projection"), nprojected) != NB_OK)
        return NB_ERROR;
    json_object *pt = nb_get(ix, "ProvisionedThroughput");
    if (pay_per_request && pt)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: %s when BillingMode is PAY_PER_REQUEST",
                                   name);
    if (!pay_per_request && !pt)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: %s",
                                   name);
    if (pt && !valid_throughput(call, pt))
        return NB_ERROR;
    return NB_OK;
}

static nb_status check_gsis(nb_call *call, json_object *in, json_object *defs, bool ppr,
                            json_object *names, int *nprojected)
{
    json_object *gsis = nb_get(in, "GlobalSecondaryIndexes");
    if (!gsis)
        return NB_OK;
    size_t n = json_object_array_length(gsis);
    if (n == 0)
        return ddb_fail_validation(call, "One or more parameter values were invalid: List of GlobalSecondaryIndexes is empty");
    for (size_t i = 0; i < n; i++) {
        json_object *ix = json_object_array_get_idx(gsis, i);
        const char *name = nb_str(ix, "IndexName");
        if (check_gsi(call, ix, defs, ppr, nprojected) != NB_OK)
            return NB_ERROR;
        if (nb_get(names, name))
            return ddb_fail_validation(call, "One or more parameter values were invalid: Duplicate index name: %s", name);
        set(names, name, json_object_new_boolean(1));
    }
    if (n > DDB_MAX_GSI)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of %d",
                                   DDB_MAX_GSI);
    return NB_OK;
}

/* Every attribute definition must be used by some key (table or index). */
static nb_status check_defs_used(nb_call *call, json_object *in, json_object *defs)
{
    size_t n = json_object_array_length(defs);
    json_object *used = json_object_new_object();
    json_object *lists[3] = {nb_get(in, "KeySchema"), NULL, NULL};
    json_object *ix[2] = {nb_get(in, "LocalSecondaryIndexes"), nb_get(in, "GlobalSecondaryIndexes")};
    nb_buf keys = {0};
    for (int l = -1; l < 2; l++) {
        size_t m = l < 0 ? 1 : (ix[l] ? json_object_array_length(ix[l]) : 0);
        for (size_t j = 0; j < m; j++) {
            json_object *ks = l < 0 ? lists[0] : nb_get(json_object_array_get_idx(ix[l], j), "KeySchema");
            for (size_t k = 0, kn = json_object_array_length(ks); k < kn; k++) {
                const char *an = nb_str(json_object_array_get_idx(ks, k), "AttributeName");
                if (!nb_get(used, an)) {
                    set(used, an, json_object_new_boolean(1));
                    if (keys.len)
                        nb_buf_adds(&keys, ", ");
                    nb_buf_adds(&keys, an);
                }
            }
        }
    }
    nb_status st = NB_OK;
    bool dup = false;
    json_object *seen = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        const char *an = nb_str(json_object_array_get_idx(defs, i), "AttributeName");
        if (nb_get(seen, an))
            dup = true;
        set(seen, an, json_object_new_boolean(1));
    }
    if (dup) {
        st = ddb_fail_validation(call, "Cannot have two attributes with the same name");
    } else if ((size_t)json_object_object_length(used) != n) {
        if (!ix[0] && !ix[1]) {
            st = ddb_fail_validation(call,
                                     "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions");
        } else {
            nb_buf d = {0};
            name_list(&d, defs, "AttributeName");
            st = ddb_fail_validation(call,
                                     "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [%s], keys used: [%s]",
                                     d.data ? d.data : "", keys.data ? keys.data : "");
            nb_buf_free(&d);
        }
    }
    json_object_put(seen);
    json_object_put(used);
    nb_buf_free(&keys);
    return st;
}

static nb_status check_stream_spec(nb_call *call, json_object *ss)
{
    bool on = false;
    nb_bool(ss, "StreamEnabled", &on);
    const char *view = nb_str(ss, "StreamViewType");
    if (on && !view)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: StreamViewType is required when StreamEnabled is true");
    if (!on && view)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: StreamViewType cannot be specified when StreamEnabled is false");
    return NB_OK;
}

/* ---- tags ------------------------------------------------------------------- */

static nb_status check_tags(nb_call *call, json_object *tags)
{
    size_t n = json_object_array_length(tags);
    for (size_t i = 0; i < n; i++) {
        const char *k = nb_str(json_object_array_get_idx(tags, i), "Key");
        if (k && strncmp(k, "aws:", 4) == 0)
            return ddb_fail_validation(call, "One or more parameter values were invalid: Tag key cannot start with 'aws:'");
    }
    return NB_OK;
}

static int count_tags(const char *arn)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT count(*) FROM ddb_tags WHERE arn = ?1");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
}

static void put_tags(const char *arn, json_object *tags)
{
    static sqlite3_stmt *ins;
    for (size_t i = 0, n = json_object_array_length(tags); i < n; i++) {
        json_object *t = json_object_array_get_idx(tags, i);
        sqlite3_stmt *s = nb_stmt(&ins, "INSERT OR REPLACE INTO ddb_tags(arn, k, v) VALUES(?1, ?2, ?3)");
        sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, nb_str(t, "Key"), -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, nb_str(t, "Value") ? nb_str(t, "Value") : "", -1, SQLITE_STATIC);
        sqlite3_step(s);
    }
}

/* ---- CreateTable --------------------------------------------------------------- */

static void add_index_ids(json_object *list, const char *status)
{
    for (size_t i = 0, n = list ? json_object_array_length(list) : 0; i < n; i++) {
        json_object *ix = json_object_array_get_idx(list, i);
        set(ix, "Id", json_object_new_int64(ddb_next_id()));
        if (status)
            set(ix, "IndexStatus", jstr(status));
    }
}

static json_object *build_spec(nb_call *call, json_object *in, bool ppr)
{
    json_object *spec = json_object_new_object();
    set(spec, "AttributeDefinitions", copy(nb_get(in, "AttributeDefinitions")));
    set(spec, "KeySchema", copy(nb_get(in, "KeySchema")));
    set(spec, "BillingMode", jstr(ppr ? "PAY_PER_REQUEST" : "PROVISIONED"));
    if (nb_get(in, "BillingMode"))
        set(spec, "BillingModeGiven", json_object_new_boolean(1));
    if (!ppr)
        set(spec, "ProvisionedThroughput", copy(nb_get(in, "ProvisionedThroughput")));
    if (nb_get(in, "LocalSecondaryIndexes")) {
        set(spec, "LocalSecondaryIndexes", copy(nb_get(in, "LocalSecondaryIndexes")));
        add_index_ids(nb_get(spec, "LocalSecondaryIndexes"), NULL);
    }
    if (nb_get(in, "GlobalSecondaryIndexes")) {
        set(spec, "GlobalSecondaryIndexes", copy(nb_get(in, "GlobalSecondaryIndexes")));
        add_index_ids(nb_get(spec, "GlobalSecondaryIndexes"), "ACTIVE");
    }
    json_object *ss = nb_get(in, "StreamSpecification");
    bool on = false;
    if (ss && nb_bool(ss, "StreamEnabled", &on) && on) {
        set(spec, "StreamSpecification", copy(ss));
        char label[32];
        label_now(call, label);
        set(spec, "LatestStreamLabel", jstr(label));
        set(spec, "StreamId", json_object_new_int64(ddb_next_id()));
    }
    char uuid[37];
    nb_uuid(uuid);
    set(spec, "TableId", jstr(uuid));
    set(spec, "CreationDateTime", json_object_new_double((double)call->now_ms / 1000.0));
    bool dp = false;
    if (nb_bool(in, "DeletionProtectionEnabled", &dp))
        set(spec, "DeletionProtectionEnabled", json_object_new_boolean(dp));
    if (nb_str(in, "TableClass"))
        set(spec, "TableClass", jstr(nb_str(in, "TableClass")));
    if (nb_get(in, "SSESpecification"))
        set(spec, "SSESpecification", copy(nb_get(in, "SSESpecification")));
    if (nb_get(in, "OnDemandThroughput"))
        set(spec, "OnDemandThroughput", copy(nb_get(in, "OnDemandThroughput")));
    if (nb_get(in, "WarmThroughput"))
        set(spec, "WarmThroughput", copy(nb_get(in, "WarmThroughput")));
    return spec;
}

static nb_status check_create(nb_call *call, json_object *in, bool ppr)
{
    if (require(call, in, "AttributeDefinitions", "attributeDefinitions") != NB_OK ||
        require(call, in, "KeySchema", "keySchema") != NB_OK)
        return NB_ERROR;
    json_object *pt = nb_get(in, "ProvisionedThroughput");
    if (ppr && pt)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
    /* Without BillingMode (PROVISIONED by default) AWS names the missing
     * throughput; with an explicit PROVISIONED it names both units. */
    if (!ppr && !pt && !nb_get(in, "BillingMode"))
        return ddb_fail_validation(call, "No provisioned throughput specified for the table");
    if (!ppr && !pt)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
    if (pt && !valid_throughput(call, pt))
        return NB_ERROR;
    json_object *defs = nb_get(in, "AttributeDefinitions");
    json_object *ks = nb_get(in, "KeySchema");
    if (check_key_schema(call, ks, defs) != NB_OK)
        return NB_ERROR;
    if (!nb_get(in, "LocalSecondaryIndexes") && !nb_get(in, "GlobalSecondaryIndexes") &&
        json_object_array_length(ks) != json_object_array_length(defs))
        return check_defs_used(call, in, defs);
    json_object *names = json_object_new_object();
    int nprojected = 0;
    nb_status st = check_lsis(call, in, defs, ks, names, &nprojected);
    if (st == NB_OK)
        st = check_gsis(call, in, defs, ppr, names, &nprojected);
    json_object_put(names);
    if (st != NB_OK)
        return st;
    if (nprojected > DDB_MAX_PROJECTED)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Number of projected attributes in all indexes exceeds limit of %d, number of projected attributes:%d",
                                   DDB_MAX_PROJECTED, nprojected);
    if (check_defs_used(call, in, defs) != NB_OK)
        return NB_ERROR;
    json_object *ss = nb_get(in, "StreamSpecification");
    if (ss && check_stream_spec(call, ss) != NB_OK)
        return NB_ERROR;
    json_object *tags = nb_get(in, "Tags");
    if (tags && check_tags(call, tags) != NB_OK)
        return NB_ERROR;
    return NB_OK;
}

static size_t table_count(const char *account, const char *region)
{
    ddb_table **v;
    size_t n = ddb_table_list(account, region, &v);
    free(v);
    return n;
}

nb_status ddb_table_can_create(nb_call *call, const char *name)
{
    if (ddb_table_find(call, name))
        return nb_fail(call, "ResourceInUseException", "Table already exists: %s", name);
    if (table_count(call->account, call->region) >= DDB_MAX_TABLES)
        return nb_fail(call, "LimitExceededException",
                       "Subscriber limit exceeded: Number of tables exceeds the limit of %d", DDB_MAX_TABLES);
    return NB_OK;
}

nb_status ddb_create_table(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "TableName");
    const char *bm = nb_str(in, "BillingMode");
    bool ppr = bm && strcmp(bm, "PAY_PER_REQUEST") == 0;
    if (!ddb_valid_table_name(call, name, "tableName"))
        return NB_ERROR;
    if (check_create(call, in, ppr) != NB_OK)
        return NB_ERROR;
    if (strncmp(name, "arn:", 4) == 0)
        return ddb_fail_validation(call, "Table name must not be an ARN when creating a table");
    if (ddb_table_can_create(call, name) != NB_OK)
        return NB_ERROR;
    ddb_table *t = ddb_table_create(call, name, build_spec(call, in, ppr));
    if (!t)
        return NB_ERROR;
    json_object *tags = nb_get(in, "Tags");
    if (tags)
        put_tags(t->arn, tags);
    call->out = json_object_new_object();
    set(call->out, "TableDescription", ddb_table_creating(call, t));
    return NB_OK;
}

ddb_table *ddb_table_create(nb_call *call, const char *name, json_object *spec)
{
    int64_t id = ddb_next_id();
    static sqlite3_stmt *ins;
    sqlite3_stmt *s = nb_stmt(&ins, "INSERT INTO ddb_tables(id, account, region, name, spec) VALUES(?1, ?2, ?3, ?4, ?5)");
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) {
        json_object_put(spec);
        nb_fail_status(call, 500, false, "InternalServerError", "Internal server error");
        return NULL;
    }
    ddb_table *t = ddb_table_load_spec(id, call->account, call->region, name, spec);
    ddb_stream_sync(call, t);
    ddb_table_add(t);
    return t;
}

json_object *ddb_table_creating(const nb_call *call, ddb_table *t)
{
    json_object *desc = ddb_table_description(call, t);
    set(desc, "TableStatus", jstr("CREATING"));
    json_object *gsis = nb_get(desc, "GlobalSecondaryIndexes");
    for (size_t i = 0, n = gsis ? json_object_array_length(gsis) : 0; i < n; i++)
        set(json_object_array_get_idx(gsis, i), "IndexStatus", jstr("CREATING"));
    return desc;
}

/* ---- DescribeTable --------------------------------------------------------------- */

void ddb_table_totals(int64_t tid, int64_t *items, int64_t *bytes)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT count(*), coalesce(sum(size), 0) FROM ddb_items WHERE tid = ?1");
    sqlite3_bind_int64(s, 1, tid);
    *items = *bytes = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *items = sqlite3_column_int64(s, 0);
        *bytes = sqlite3_column_int64(s, 1);
    }
}

static void index_counts(const ddb_table *t, const ddb_index *x, int64_t *items, int64_t *bytes)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT count(*), coalesce(sum(i.size), 0) FROM ddb_index_items x"
                                  " JOIN ddb_items i ON i.tid = ?2 AND i.pk = x.pk AND i.sk = x.sk"
                                  " WHERE x.iid = ?1");
    sqlite3_bind_int64(s, 1, x->id);
    sqlite3_bind_int64(s, 2, t->id);
    *items = *bytes = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *items = sqlite3_column_int64(s, 0);
        *bytes = sqlite3_column_int64(s, 1);
    }
}

static json_object *throughput_desc(json_object *pt, json_object *spec_extra)
{
    json_object *o = json_object_new_object();
    int64_t r = 0, w = 0;
    if (pt) {
        nb_int(pt, "ReadCapacityUnits", &r);
        nb_int(pt, "WriteCapacityUnits", &w);
    }
    json_object *v;
    if (spec_extra && (v = nb_get(spec_extra, "LastIncreaseDateTime")))
        set(o, "LastIncreaseDateTime", copy(v));
    if (spec_extra && (v = nb_get(spec_extra, "LastDecreaseDateTime")))
        set(o, "LastDecreaseDateTime", copy(v));
    set(o, "NumberOfDecreasesToday", json_object_new_int64(0));
    set(o, "ReadCapacityUnits", json_object_new_int64(r));
    set(o, "WriteCapacityUnits", json_object_new_int64(w));
    return o;
}

static json_object *index_desc(const ddb_table *t, const ddb_index *x, json_object *ixspec)
{
    json_object *o = json_object_new_object();
    set(o, "IndexName", jstr(x->name));
    set(o, "KeySchema", copy(nb_get(ixspec, "KeySchema")));
    set(o, "Projection", copy(nb_get(ixspec, "Projection")));
    if (x->global) {
        set(o, "IndexStatus", jstr(x->status));
        bool ppr = strcmp(nb_str(t->spec, "BillingMode"), "PAY_PER_REQUEST") == 0;
        set(o, "ProvisionedThroughput",
            throughput_desc(ppr ? NULL : nb_get(ixspec, "ProvisionedThroughput"), ixspec));
        if (nb_get(ixspec, "OnDemandThroughput"))
            set(o, "OnDemandThroughput", copy(nb_get(ixspec, "OnDemandThroughput")));
    }
    int64_t items, bytes;
    index_counts(t, x, &items, &bytes);
    set(o, "IndexSizeBytes", json_object_new_int64(bytes));
    set(o, "ItemCount", json_object_new_int64(items));
    set(o, "IndexArn", jstr(x->arn));
    return o;
}

static json_object *indexes_desc(const ddb_table *t, const char *member, bool global)
{
    json_object *list = nb_get(t->spec, member);
    if (!list || json_object_array_length(list) == 0)
        return NULL;
    json_object *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(list); i < n; i++) {
        json_object *ixs = json_object_array_get_idx(list, i);
        for (int k = 0; k < t->nidx; k++)
            if (t->idx[k].global == global && strcmp(t->idx[k].name, nb_str(ixs, "IndexName")) == 0)
                json_object_array_add(out, index_desc(t, &t->idx[k], ixs));
    }
    return out;
}

json_object *ddb_table_description(const nb_call *call, ddb_table *t)
{
    (void)call;
    json_object *spec = t->spec, *d = json_object_new_object(), *v;
    set(d, "AttributeDefinitions", copy(nb_get(spec, "AttributeDefinitions")));
    set(d, "TableName", jstr(t->name));
    set(d, "KeySchema", copy(nb_get(spec, "KeySchema")));
    const char *status = nb_str(spec, "TableStatus");
    set(d, "TableStatus", jstr(status ? status : "ACTIVE"));
    set(d, "CreationDateTime", json_object_new_double(t->created));
    bool ppr = strcmp(nb_str(spec, "BillingMode"), "PAY_PER_REQUEST") == 0;
    set(d, "ProvisionedThroughput",
        throughput_desc(ppr ? NULL : nb_get(spec, "ProvisionedThroughput"), spec));
    int64_t items, bytes;
    ddb_table_totals(t->id, &items, &bytes);
    set(d, "TableSizeBytes", json_object_new_int64(bytes));
    set(d, "ItemCount", json_object_new_int64(items));
    set(d, "TableArn", jstr(t->arn));
    set(d, "TableId", jstr(t->table_id));
    if (ppr || nb_get(spec, "BillingModeGiven")) {
        json_object *bms = json_object_new_object();
        set(bms, "BillingMode", jstr(ppr ? "PAY_PER_REQUEST" : "PROVISIONED"));
        if ((v = nb_get(spec, "LastUpdateToPayPerRequestDateTime")))
            set(bms, "LastUpdateToPayPerRequestDateTime", copy(v));
        else if (ppr)
            set(bms, "LastUpdateToPayPerRequestDateTime", json_object_new_double(t->created));
        set(d, "BillingModeSummary", bms);
    }
    if ((v = indexes_desc(t, "LocalSecondaryIndexes", false)))
        set(d, "LocalSecondaryIndexes", v);
    if ((v = indexes_desc(t, "GlobalSecondaryIndexes", true)))
        set(d, "GlobalSecondaryIndexes", v);
    if (t->stream_on) {
        json_object *ss = json_object_new_object();
        set(ss, "StreamEnabled", json_object_new_boolean(1));
        set(ss, "StreamViewType", jstr(t->stream_view));
        set(d, "StreamSpecification", ss);
    }
    if (t->stream_label[0]) {
        set(d, "LatestStreamLabel", jstr(t->stream_label));
        set(d, "LatestStreamArn", jstr(t->stream_arn));
    }
    json_object *sse = nb_get(spec, "SSESpecification");
    bool sse_on = false;
    if (sse && nb_bool(sse, "Enabled", &sse_on) && sse_on) {
        json_object *sd = json_object_new_object();
        set(sd, "Status", jstr("ENABLED"));
        set(sd, "SSEType", jstr(nb_str(sse, "SSEType") ? nb_str(sse, "SSEType") : "KMS"));
        char key[256];
        snprintf(key, sizeof key, "arn:aws:kms:%s:%s:key/%s", t->region, t->account,
                 nb_str(sse, "KMSMasterKeyId") ? nb_str(sse, "KMSMasterKeyId") : "aws/dynamodb");
        set(sd, "KMSMasterKeyArn", jstr(key));
        set(d, "SSEDescription", sd);
    }
    if ((v = nb_get(spec, "TableClass"))) {
        json_object *tc = json_object_new_object();
        set(tc, "TableClass", copy(v));
        set(d, "TableClassSummary", tc);
    }
    set(d, "DeletionProtectionEnabled", json_object_new_boolean(t->deletion_protection));
    if ((v = nb_get(spec, "OnDemandThroughput")))
        set(d, "OnDemandThroughput", copy(v));
    json_object *wt = json_object_new_object();
    set(wt, "ReadUnitsPerSecond", json_object_new_int64(12000));
    set(wt, "WriteUnitsPerSecond", json_object_new_int64(4000));
    set(wt, "Status", jstr("ACTIVE"));
    set(d, "WarmThroughput", wt);
    return d;
}

nb_status ddb_describe_table(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "TableName");
    if (!ddb_valid_table_name(call, name, "tableName"))
        return NB_ERROR;
    ddb_table *t = ddb_table_find(call, name);
    if (!t)
        return nb_fail(call, "ResourceNotFoundException", "Requested resource not found: Table: %s not found", name);
    call->out = json_object_new_object();
    set(call->out, "Table", ddb_table_description(call, t));
    return NB_OK;
}

/* ---- DeleteTable ------------------------------------------------------------------ */

static void delete_table_rows(ddb_table *t)
{
    static sqlite3_stmt *di, *dx, *dt, *dg;
    sqlite3_stmt *s = nb_stmt(&di, "DELETE FROM ddb_items WHERE tid = ?1");
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_step(s);
    for (int i = 0; i < t->nidx; i++) {
        s = nb_stmt(&dx, "DELETE FROM ddb_index_items WHERE iid = ?1");
        sqlite3_bind_int64(s, 1, t->idx[i].id);
        sqlite3_step(s);
    }
    s = nb_stmt(&dg, "DELETE FROM ddb_tags WHERE arn = ?1");
    sqlite3_bind_text(s, 1, t->arn, -1, SQLITE_STATIC);
    sqlite3_step(s);
    s = nb_stmt(&dt, "DELETE FROM ddb_tables WHERE id = ?1");
    sqlite3_bind_int64(s, 1, t->id);
    sqlite3_step(s);
}

nb_status ddb_delete_table(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "TableName");
    if (!ddb_valid_table_name(call, name, "tableName"))
        return NB_ERROR;
    ddb_table *t = ddb_table_find(call, name);
    if (!t)
        return nb_fail(call, "ResourceNotFoundException", "Requested resource not found: Table: %s not found", name);
    if (t->deletion_protection)
        return ddb_fail_validation(call,
                                   "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.");
    json_object *desc = ddb_table_description(call, t);
    set(desc, "TableStatus", jstr("DELETING"));
    delete_table_rows(t);
    t->stream_on = false;
    ddb_stream_sync(call, t);
    ddb_table_remove(t);
    ddb_table_free(t);
    call->out = json_object_new_object();
    set(call->out, "TableDescription", desc);
    return NB_OK;
}

/* ---- ListTables ------------------------------------------------------------------- */

nb_status ddb_list_tables(nb_call *call, json_object *in)
{
    const char *start = nb_str(in, "ExclusiveStartTableName");
    int64_t limit = 100;
    nb_int(in, "Limit", &limit);
    ddb_table **v;
    size_t n = ddb_table_list(call->account, call->region, &v);
    json_object *names = json_object_new_array();
    size_t i = 0;
    if (start)
        while (i < n && strcmp(v[i]->name, start) <= 0)
            i++;
    const char *last = NULL;
    for (; i < n && (int64_t)json_object_array_length(names) < limit; i++) {
        json_object_array_add(names, jstr(v[i]->name));
        last = v[i]->name;
    }
    call->out = json_object_new_object();
    set(call->out, "TableNames", names);
    if (i < n && last)
        set(call->out, "LastEvaluatedTableName", jstr(last));
    free(v);
    return NB_OK;
}

/* ---- UpdateTable ------------------------------------------------------------------- */

static nb_status update_throughput(nb_call *call, ddb_table *t, json_object *pt, bool ppr_after)
{
    if (ppr_after)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
    if (!valid_throughput(call, pt))
        return NB_ERROR;
    json_object *cur = nb_get(t->spec, "ProvisionedThroughput");
    int64_t r0 = 0, w0 = 0, r = 0, w = 0;
    if (cur) {
        nb_int(cur, "ReadCapacityUnits", &r0);
        nb_int(cur, "WriteCapacityUnits", &w0);
    }
    nb_int(pt, "ReadCapacityUnits", &r);
    nb_int(pt, "WriteCapacityUnits", &w);
    if (cur && r == r0 && w == w0)
        return ddb_fail_validation(call,
                                   "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: %" PRId64 ". Requested ReadCapacityUnits: %" PRId64 ". Current WriteCapacityUnits provisioned for the table: %" PRId64 ". Requested WriteCapacityUnits: %" PRId64 ". Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                                   r0, r, w0, w);
    double now = (double)call->now_ms / 1000.0;
    if (cur && (r > r0 || w > w0))
        set(t->spec, "LastIncreaseDateTime", json_object_new_double(now));
    if (cur && (r < r0 || w < w0))
        set(t->spec, "LastDecreaseDateTime", json_object_new_double(now));
    set(t->spec, "ProvisionedThroughput", copy(pt));
    return NB_OK;
}

static json_object *find_gsi_spec(json_object *spec, const char *name, size_t *at)
{
    json_object *g = nb_get(spec, "GlobalSecondaryIndexes");
    for (size_t i = 0, n = g ? json_object_array_length(g) : 0; i < n; i++) {
        json_object *ix = json_object_array_get_idx(g, i);
        if (strcmp(nb_str(ix, "IndexName"), name) == 0) {
            if (at)
                *at = i;
            return ix;
        }
    }
    return NULL;
}

static bool has_lsi(json_object *spec, const char *name)
{
    json_object *l = nb_get(spec, "LocalSecondaryIndexes");
    for (size_t i = 0, n = l ? json_object_array_length(l) : 0; i < n; i++)
        if (strcmp(nb_str(json_object_array_get_idx(l, i), "IndexName"), name) == 0)
            return true;
    return false;
}


static nb_status gsi_create(nb_call *call, ddb_table *t, json_object *c, json_object *defs, bool ppr)
{
    const char *name = nb_str(c, "IndexName");
    if (find_gsi_spec(t->spec, name, NULL) || has_lsi(t->spec, name))
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Index %s already exists on table %s",
                                   name, t->name);
    int nproj = 0;
    if (check_gsi(call, c, defs, ppr, &nproj) != NB_OK)
        return NB_ERROR;
    json_object *g = nb_get(t->spec, "GlobalSecondaryIndexes");
    if (!g) {
        g = json_object_new_array();
        set(t->spec, "GlobalSecondaryIndexes", g);
    }
    if (json_object_array_length(g) >= DDB_MAX_GSI)
        return nb_fail(call, "LimitExceededException",
                       "Subscriber limit exceeded: The number of global secondary indexes exceeds the per-table limit of %d",
                       DDB_MAX_GSI);
    json_object *ix = copy(c);
    set(ix, "Id", json_object_new_int64(ddb_next_id()));
    set(ix, "IndexStatus", jstr("ACTIVE"));
    json_object_array_add(g, ix);
    return NB_OK;
}

static nb_status gsi_delete(nb_call *call, ddb_table *t, const char *name)
{
    size_t at;
    json_object *ix = find_gsi_spec(t->spec, name, &at);
    if (!ix)
        return nb_fail(call, "ResourceNotFoundException", "Requested resource not found");
    int64_t iid = 0;
    nb_int(ix, "Id", &iid);
    static sqlite3_stmt *dx;
    sqlite3_stmt *s = nb_stmt(&dx, "DELETE FROM ddb_index_items WHERE iid = ?1");
    sqlite3_bind_int64(s, 1, iid);
    sqlite3_step(s);
    json_object_array_del_idx(nb_get(t->spec, "GlobalSecondaryIndexes"), at, 1);
    if (json_object_array_length(nb_get(t->spec, "GlobalSecondaryIndexes")) == 0)
        json_object_object_del(t->spec, "GlobalSecondaryIndexes");
    return NB_OK;
}

static nb_status gsi_update(nb_call *call, ddb_table *t, json_object *u, bool ppr)
{
    const char *name = nb_str(u, "IndexName");
    json_object *ix = find_gsi_spec(t->spec, name, NULL);
    if (!ix)
        return nb_fail(call, "ResourceNotFoundException", "Requested resource not found");
    json_object *pt = nb_get(u, "ProvisionedThroughput");
    if (pt) {
        if (ppr)
            return ddb_fail_validation(call,
                                       "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: %s when BillingMode is PAY_PER_REQUEST",
                                       name);
        set(ix, "ProvisionedThroughput", copy(pt));
    }
    if (nb_get(u, "OnDemandThroughput"))
        set(ix, "OnDemandThroughput", copy(nb_get(u, "OnDemandThroughput")));
    return NB_OK;
}

static nb_status check_gsi_updates(nb_call *call, json_object *ups)
{
    json_object *names = json_object_new_object();
    int online = 0;
    nb_status st = NB_OK;
    for (size_t i = 0, n = json_object_array_length(ups); i < n && st == NB_OK; i++) {
        json_object *u = json_object_array_get_idx(ups, i);
        json_object *a = nb_get(u, "Update"), *c = nb_get(u, "Create"), *d = nb_get(u, "Delete");
        if (!a && !c && !d) {
            st = ddb_fail_validation(call,
                                     "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null");
            break;
        }
        const char *name = nb_str(a ? a : c ? c : d, "IndexName");
        if (nb_get(names, name)) {
            st = ddb_fail_validation(call,
                                     "One or more parameter values were invalid: Only one global secondary index update per index is allowed simultaneously. Index: %s",
                                     name);
            break;
        }
        set(names, name, json_object_new_boolean(1));
        if (c || d)
            online++;
    }
    json_object_put(names);
    if (st == NB_OK && online > 1)
        st = nb_fail(call, "LimitExceededException",
                     "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table");
    return st;
}

/* Merge new attribute definitions (for new indexes) into the spec's. */
static void merge_defs(json_object *spec, json_object *defs)
{
    json_object *cur = nb_get(spec, "AttributeDefinitions");
    for (size_t i = 0, n = defs ? json_object_array_length(defs) : 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(defs, i);
        if (!defined(cur, nb_str(d, "AttributeName")))
            json_object_array_add(cur, copy(d));
    }
}

/* Definitions no key uses any more are dropped (AWS keeps exactly the
 * key attributes of the table and its indexes). */
static void prune_defs(json_object *spec)
{
    json_object *cur = nb_get(spec, "AttributeDefinitions");
    json_object *keep = json_object_new_array();
    json_object *lists[3] = {nb_get(spec, "KeySchema"), nb_get(spec, "LocalSecondaryIndexes"),
                             nb_get(spec, "GlobalSecondaryIndexes")};
    for (size_t i = 0, n = json_object_array_length(cur); i < n; i++) {
        json_object *d = json_object_array_get_idx(cur, i);
        const char *an = nb_str(d, "AttributeName");
        bool used = false;
        for (size_t k = 0, kn = json_object_array_length(lists[0]); k < kn && !used; k++)
            used = strcmp(nb_str(json_object_array_get_idx(lists[0], k), "AttributeName"), an) == 0;
        for (int l = 1; l < 3 && !used; l++)
            for (size_t j = 0, m = lists[l] ? json_object_array_length(lists[l]) : 0; j < m && !used; j++) {
                json_object *ks = nb_get(json_object_array_get_idx(lists[l], j), "KeySchema");
                for (size_t k = 0, kn = json_object_array_length(ks); k < kn && !used; k++)
                    used = strcmp(nb_str(json_object_array_get_idx(ks, k), "AttributeName"), an) == 0;
            }
        if (used)
            json_object_array_add(keep, copy(d));
    }
    set(spec, "AttributeDefinitions", keep);
}

static nb_status update_stream(nb_call *call, ddb_table *t, json_object *ss)
{
    if (check_stream_spec(call, ss) != NB_OK)
        return NB_ERROR;
    bool on = false;
    nb_bool(ss, "StreamEnabled", &on);
    if (on && t->stream_on)
        return ddb_fail_validation(call, "Table already has an enabled stream: TableName: %s", t->name);
    if (!on && !t->stream_on)
        return ddb_fail_validation(call, "Table does not have an enabled stream: TableName: %s", t->name);
    if (on) {
        set(t->spec, "StreamSpecification", copy(ss));
        char label[32];
        label_now(call, label);
        set(t->spec, "LatestStreamLabel", jstr(label));
        set(t->spec, "StreamId", json_object_new_int64(ddb_next_id()));
    } else {
        json_object_object_del(t->spec, "StreamSpecification");
    }
    return NB_OK;
}

static nb_status apply_update(nb_call *call, ddb_table *t, json_object *in, bool *indexing)
{
    const char *bm = nb_str(in, "BillingMode");
    bool was_ppr = strcmp(nb_str(t->spec, "BillingMode"), "PAY_PER_REQUEST") == 0;
    bool ppr = bm ? strcmp(bm, "PAY_PER_REQUEST") == 0 : was_ppr;
    json_object *pt = nb_get(in, "ProvisionedThroughput");
    if (bm) {
        if (!ppr && was_ppr && !pt)
            return ddb_fail_validation(call,
                                       "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED");
        if (ppr && !was_ppr)
            set(t->spec, "LastUpdateToPayPerRequestDateTime", json_object_new_double((double)call->now_ms / 1000.0));
        set(t->spec, "BillingMode", jstr(ppr ? "PAY_PER_REQUEST" : "PROVISIONED"));
        set(t->spec, "BillingModeGiven", json_object_new_boolean(1));
        if (ppr)
            json_object_object_del(t->spec, "ProvisionedThroughput");
    }
    if (pt && update_throughput(call, t, pt, ppr) != NB_OK)
        return NB_ERROR;
    json_object *defs = nb_get(in, "AttributeDefinitions");
    if (defs)
        merge_defs(t->spec, defs);
    json_object *ups = nb_get(in, "GlobalSecondaryIndexUpdates");
    if (ups && check_gsi_updates(call, ups) != NB_OK)
        return NB_ERROR;
    for (size_t i = 0, n = ups ? json_object_array_length(ups) : 0; i < n; i++) {
        json_object *u = json_object_array_get_idx(ups, i), *a;
        nb_status st = NB_OK;
        if ((a = nb_get(u, "Create"))) {
            if (!defs)
                return ddb_fail_validation(call,
                                           "One or more parameter values were invalid: AttributeDefinitions must be provided when creating a global secondary index");
            st = gsi_create(call, t, a, nb_get(t->spec, "AttributeDefinitions"), ppr);
            *indexing = true;
        } else if ((a = nb_get(u, "Delete"))) {
            st = gsi_delete(call, t, nb_str(a, "IndexName"));
        } else if ((a = nb_get(u, "Update"))) {
            st = gsi_update(call, t, a, ppr);
        }
        if (st != NB_OK)
            return st;
    }
    json_object *ss = nb_get(in, "StreamSpecification");
    if (ss && update_stream(call, t, ss) != NB_OK)
        return NB_ERROR;
    bool dp;
    if (nb_bool(in, "DeletionProtectionEnabled", &dp))
        set(t->spec, "DeletionProtectionEnabled", json_object_new_boolean(dp));
    if (nb_str(in, "TableClass"))
        set(t->spec, "TableClass", jstr(nb_str(in, "TableClass")));
    if (nb_get(in, "SSESpecification"))
        set(t->spec, "SSESpecification", copy(nb_get(in, "SSESpecification")));
    if (nb_get(in, "OnDemandThroughput"))
        set(t->spec, "OnDemandThroughput", copy(nb_get(in, "OnDemandThroughput")));
    if (nb_get(in, "WarmThroughput"))
        set(t->spec, "WarmThroughput", copy(nb_get(in, "WarmThroughput")));
    prune_defs(t->spec);
    return NB_OK;
}

static bool has_update(json_object *in)
{
    static const char *const members[] = {
        "AttributeDefinitions", "BillingMode",  "ProvisionedThroughput", "GlobalSecondaryIndexUpdates",
        "StreamSpecification",  "SSESpecification", "ReplicaUpdates", "TableClass",
        "DeletionProtectionEnabled", "OnDemandThroughput", "WarmThroughput", "MultiRegionConsistency",
        "GlobalTableWitnessUpdates", NULL};
    for (int i = 0; members[i]; i++)
        if (nb_get(in, members[i]))
            return true;
    return false;
}

/* Puts back the spec a failed change replaced, and its C view.  With
 * `internal` the failure was storage's: the call fails with a 500. */
static nb_status restore_spec(nb_call *call, ddb_table *t, json_object *saved, bool internal)
{
    json_object_put(t->spec);
    t->spec = saved;
    ddb_table_refresh(t);
    return internal ? nb_fail_status(call, 500, false, "InternalServerError", "Internal server error")
                    : NB_ERROR;
}

nb_status ddb_update_table(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    if (!has_update(in))
        return ddb_fail_validation(call,
                                   "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required");
    /* Work on a copy: a failing update leaves the cached spec untouched. */
    json_object *saved = t->spec;
    t->spec = copy(saved);
    bool indexing = false;
    if (apply_update(call, t, in, &indexing) != NB_OK)
        return restore_spec(call, t, saved, false);
    ddb_table_refresh(t);
    if (indexing) {
        for (int i = 0; i < t->nidx; i++)
            if (ddb_index_backfill(t, &t->idx[i]) != 0)
                return restore_spec(call, t, saved, true);
    }
    if (ddb_table_save(t) != 0)
        return restore_spec(call, t, saved, true);
    json_object_put(saved);
    ddb_stream_sync(call, t);
    json_object *desc = ddb_table_description(call, t);
    set(desc, "TableStatus", jstr("UPDATING"));
    call->out = json_object_new_object();
    set(call->out, "TableDescription", desc);
    return NB_OK;
}

/* ---- TTL ------------------------------------------------------------------------------ */

nb_status ddb_update_ttl(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    json_object *spec = nb_get(in, "TimeToLiveSpecification");
    bool on = false;
    nb_bool(spec, "Enabled", &on);
    const char *attr = nb_str(spec, "AttributeName");
    if (on && t->ttl_attr[0])
        return ddb_fail_validation(call, "TimeToLive is active on a different AttributeName: current AttributeName is %s",
                                   t->ttl_attr);
    if (!on && !t->ttl_attr[0])
        return ddb_fail_validation(call, "TimeToLive is already disabled");
    if (!on && strcmp(attr, t->ttl_attr) != 0)
        return ddb_fail_validation(call, "TimeToLive is active on a different AttributeName: current AttributeName is %s",
                                   t->ttl_attr);
    json_object *ttl = json_object_new_object();
    set(ttl, "AttributeName", jstr(attr));
    set(ttl, "Enabled", json_object_new_boolean(on));
    json_object *saved = t->spec;
    t->spec = copy(saved);
    if (on)
        set(t->spec, "TimeToLive", ttl);
    else {
        json_object_put(ttl);
        json_object_object_del(t->spec, "TimeToLive");
    }
    if (ddb_table_save(t) != 0)
        return restore_spec(call, t, saved, true);
    json_object_put(saved);
    ddb_table_refresh(t);
    call->out = json_object_new_object();
    set(call->out, "TimeToLiveSpecification", copy(spec));
    return NB_OK;
}

nb_status ddb_describe_ttl(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    json_object *d = json_object_new_object();
    if (t->ttl_attr[0]) {
        set(d, "TimeToLiveStatus", jstr("ENABLED"));
        set(d, "AttributeName", jstr(t->ttl_attr));
    } else {
        set(d, "TimeToLiveStatus", jstr("DISABLED"));
    }
    call->out = json_object_new_object();
    set(call->out, "TimeToLiveDescription", d);
    return NB_OK;
}

/* ---- tags ------------------------------------------------------------------------------ */

#define DDB_MAX_TAGS 50

/* The resource ARN must name an existing table (or one of its indexes' tables). */
static ddb_table *tag_target(nb_call *call, const char *arn)
{
    ddb_table *t = NULL;
    if (arn && strncmp(arn, "arn:", 4) == 0)
        t = ddb_table_find(call, arn);
    if (!t) {
        if (!arn || strncmp(arn, "arn:", 4) != 0)
            ddb_fail_validation(call, "Invalid TableArn: Invalid ResourceArn provided as input %s", arn ? arn : "");
        else
            nb_fail(call, "ResourceNotFoundException", "Requested resource not found: ResourcArn: %s not found", arn);
    }
    return t;
}

nb_status ddb_tag_resource(nb_call *call, json_object *in)
{
    ddb_table *t = tag_target(call, nb_str(in, "ResourceArn"));
    if (!t)
        return NB_ERROR;
    json_object *tags = nb_get(in, "Tags");
    if (check_tags(call, tags) != NB_OK)
        return NB_ERROR;
    put_tags(t->arn, tags);
    if (count_tags(t->arn) > DDB_MAX_TAGS)
        return nb_fail(call, "ValidationException",
                       "One or more parameter values were invalid: The number of tags exceeds the limit of %d", DDB_MAX_TAGS);
    return NB_OK;
}

nb_status ddb_untag_resource(nb_call *call, json_object *in)
{
    ddb_table *t = tag_target(call, nb_str(in, "ResourceArn"));
    if (!t)
        return NB_ERROR;
    json_object *keys = nb_get(in, "TagKeys");
    static sqlite3_stmt *del;
    for (size_t i = 0, n = json_object_array_length(keys); i < n; i++) {
        sqlite3_stmt *s = nb_stmt(&del, "DELETE FROM ddb_tags WHERE arn = ?1 AND k = ?2");
        sqlite3_bind_text(s, 1, t->arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, json_object_get_string(json_object_array_get_idx(keys, i)), -1, SQLITE_STATIC);
        sqlite3_step(s);
    }
    return NB_OK;
}

nb_status ddb_list_tags(nb_call *call, json_object *in)
{
    ddb_table *t = tag_target(call, nb_str(in, "ResourceArn"));
    if (!t)
        return NB_ERROR;
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT k, v FROM ddb_tags WHERE arn = ?1 ORDER BY k");
    sqlite3_bind_text(s, 1, t->arn, -1, SQLITE_STATIC);
    json_object *tags = json_object_new_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_object *tag = json_object_new_object();
        set(tag, "Key", jstr((const char *)sqlite3_column_text(s, 0)));
        set(tag, "Value", jstr((const char *)sqlite3_column_text(s, 1)));
        json_object_array_add(tags, tag);
    }
    call->out = json_object_new_object();
    set(call->out, "Tags", tags);
    return NB_OK;
}

/* ---- limits, endpoints, backups settings ----------------------------------------------- */

nb_status ddb_describe_limits(nb_call *call, json_object *in)
{
    (void)in;
    /* The default quotas AWS documents for an account per region. */
    call->out = json_object_new_object();
    set(call->out, "AccountMaxReadCapacityUnits", json_object_new_int64(80000));
    set(call->out, "AccountMaxWriteCapacityUnits", json_object_new_int64(80000));
    set(call->out, "TableMaxReadCapacityUnits", json_object_new_int64(40000));
    set(call->out, "TableMaxWriteCapacityUnits", json_object_new_int64(40000));
    return NB_OK;
}

nb_status ddb_describe_endpoints(nb_call *call, json_object *in)
{
    (void)in;
    json_object *e = json_object_new_object();
    set(e, "Address", jstr(call->host[0] ? call->host : "localhost:4566"));
    set(e, "CachePeriodInMinutes", json_object_new_int64(1440));
    json_object *list = json_object_new_array();
    json_object_array_add(list, e);
    call->out = json_object_new_object();
    set(call->out, "Endpoints", list);
    return NB_OK;
}

static json_object *backups_desc(ddb_table *t)
{
    json_object *d = json_object_new_object();
    set(d, "ContinuousBackupsStatus", jstr("ENABLED"));
    json_object *p = json_object_new_object();
    bool on = false;
    nb_bool(t->spec, "PointInTimeRecovery", &on);
    set(p, "PointInTimeRecoveryStatus", jstr(on ? "ENABLED" : "DISABLED"));
    if (on) {
        int64_t days = 35;
        nb_int(t->spec, "RecoveryPeriodInDays", &days);
        set(p, "RecoveryPeriodInDays", json_object_new_int64(days));
        json_object *since = nb_get(t->spec, "PointInTimeRecoverySince");
        set(p, "EarliestRestorableDateTime", copy(since));
        set(p, "LatestRestorableDateTime", json_object_new_double((double)nb_now_ms() / 1000.0));
    }
    set(d, "PointInTimeRecoveryDescription", p);
    return d;
}

nb_status ddb_describe_continuous_backups(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_find(call, nb_str(in, "TableName"));
    if (!t)
        return nb_fail(call, "TableNotFoundException", "Table not found: %s", nb_str(in, "TableName"));
    call->out = json_object_new_object();
    set(call->out, "ContinuousBackupsDescription", backups_desc(t));
    return NB_OK;
}

nb_status ddb_update_continuous_backups(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_find(call, nb_str(in, "TableName"));
    if (!t)
        return nb_fail(call, "TableNotFoundException", "Table not found: %s", nb_str(in, "TableName"));
    json_object *spec = nb_get(in, "PointInTimeRecoverySpecification");
    bool on = false;
    nb_bool(spec, "PointInTimeRecoveryEnabled", &on);
    int64_t days = 35;
    if (nb_int(spec, "RecoveryPeriodInDays", &days) && (days < 1 || days > 35))
        return ddb_fail_validation(call, "RecoveryPeriodInDays must be between 1 and 35");
    json_object *saved = t->spec;
    t->spec = copy(saved);
    set(t->spec, "PointInTimeRecovery", json_object_new_boolean(on));
    set(t->spec, "RecoveryPeriodInDays", json_object_new_int64(days));
    if (on)
        set(t->spec, "PointInTimeRecoverySince", json_object_new_double((double)call->now_ms / 1000.0));
    if (ddb_table_save(t) != 0)
        return restore_spec(call, t, saved, true);
    json_object_put(saved);
    call->out = json_object_new_object();
    set(call->out, "ContinuousBackupsDescription", backups_desc(t));
    return NB_OK;
}
