/*
 * ddb_misc.c — the rest of the DynamoDB control plane: resource policies,
 * Kinesis streaming destinations, contributor insights, global tables
 * (version 2017.11.29), exports and imports, replica auto scaling.
 *
 * Each keeps AWS's validation, states and errors; what stands behind them
 * on AWS but not (yet) in nimbus is said plainly:
 *   - exports and imports need S3, which nimbus does not have yet: a job is
 *     accepted (IN_PROGRESS) and then FAILED with S3NoSuchBucket, exactly
 *     what AWS reports for a bucket that does not exist;
 *   - global tables and Kinesis destinations are recorded and described,
 *     but items are not replicated between regions or sent to Kinesis.
 *
 * Records live in ddb_misc(kind, account, region, name, doc): one JSON
 * document per policy, destination list, insights setting, global table,
 * export or import.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS ddb_misc("
    " kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " doc TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(kind, account, region, name)) WITHOUT ROWID;";

int ddb_misc_init(void)
{
    if (nb_exec(SCHEMA) != 0)
        return -1;
    nb_store_register_table("ddb_misc");
    return 0;
}

static void add(json_object *o, const char *k, json_object *v)
{
    if (v)
        json_object_object_add(o, k, v);
}

static json_object *str(const char *s)
{
    return json_object_new_string(s);
}

static json_object *copy(json_object *v)
{
    json_object *out = NULL;
    if (v)
        json_object_deep_copy(v, &out, NULL);
    return out;
}

/* ---- records ------------------------------------------------------------------------ */

static json_object *rec_get(const char *kind, const char *account, const char *region, const char *name)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT doc FROM ddb_misc WHERE kind = ?1 AND account = ?2 AND region = ?3 AND name = ?4");
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    json_object *doc = NULL;
    if (sqlite3_step(s) == SQLITE_ROW)
        doc = json_tokener_parse((const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return doc;
}

static void rec_put(const nb_call *call, const char *kind, const char *region, const char *name,
                    json_object *doc)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "INSERT OR REPLACE INTO ddb_misc(kind, account, region, name, doc, at_ms)"
                                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, call->now_ms);
    sqlite3_step(s);
}

static void rec_del(const nb_call *call, const char *kind, const char *region, const char *name)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "DELETE FROM ddb_misc WHERE kind = ?1 AND account = ?2 AND region = ?3 AND name = ?4");
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    sqlite3_step(s);
}

/* All records of a kind in the caller's account and region, by name. */
static json_object *rec_list(const nb_call *call, const char *kind)
{
    static sqlite3_stmt *q;
    sqlite3_stmt *s = nb_stmt(&q, "SELECT doc FROM ddb_misc WHERE kind = ?1 AND account = ?2 AND region = ?3 ORDER BY name");
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, call->region, -1, SQLITE_STATIC);
    json_object *list = json_object_new_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_object *d = json_tokener_parse((const char *)sqlite3_column_text(s, 0));
        if (d)
            json_object_array_add(list, d);
    }
    sqlite3_reset(s);
    return list;
}

/* ---- resource policies ------------------------------------------------------------------ */

/* A policy's resource: a table, an index or a stream of an existing table. */
static ddb_table *policy_table(nb_call *call, const char *arn)
{
    char base[512];
    snprintf(base, sizeof base, "%s", arn);
    char *cut = strstr(base, "/stream/");
    if (!cut)
        cut = strstr(base, "/index/");
    if (cut)
        *cut = 0;
    ddb_table *t = strncmp(base, "arn:", 4) == 0 ? ddb_table_find(call, base) : NULL;
    if (!t)
        nb_fail(call, "ResourceNotFoundException", "Requested resource not found: ResourceArn: %s not found", arn);
    return t;
}

nb_status ddb_put_policy(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceArn");
    ddb_table *t = policy_table(call, arn);
    if (!t)
        return NB_ERROR;
    json_object *pol = json_tokener_parse(nb_str(in, "Policy"));
    bool ok = pol && json_object_is_type(pol, json_type_object);
    json_object_put(pol);
    if (!ok)
        return ddb_fail_validation(call, "Invalid policy document: the policy must be a JSON object");
    json_object *cur = rec_get("policy", call->account, t->region, arn);
    const char *expected = nb_str(in, "ExpectedRevisionId");
    nb_status st = NB_OK;
    if (expected && (!cur || strcmp(nb_str(cur, "RevisionId"), expected) != 0))
        st = cur ? nb_fail(call, "PolicyNotFoundException",
                           "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id %s, but the policy associated to target table %s has revision id %s.",
                           expected, t->name, nb_str(cur, "RevisionId"))
                 : nb_fail(call, "PolicyNotFoundException",
                           "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id %s, but the policy associated to target table %s is not found.",
                           expected, t->name);
    json_object_put(cur);
    if (st != NB_OK)
        return st;
    char rev[32];
    snprintf(rev, sizeof rev, "%" PRId64, call->now_ms * 1000 + (int64_t)(nb_rand64() % 1000));
    json_object *doc = json_object_new_object();
    add(doc, "Policy", str(nb_str(in, "Policy")));
    add(doc, "RevisionId", str(rev));
    rec_put(call, "policy", t->region, arn, doc);
    json_object_put(doc);
    call->out = json_object_new_object();
    add(call->out, "RevisionId", str(rev));
    return NB_OK;
}

static nb_status policy_missing(nb_call *call, const char *arn)
{
    return nb_fail(call, "PolicyNotFoundException",
                   "Resource-based policy not found for the provided ResourceArn: %s", arn);
}

nb_status ddb_get_policy(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceArn");
    ddb_table *t = policy_table(call, arn);
    if (!t)
        return NB_ERROR;
    json_object *cur = rec_get("policy", call->account, t->region, arn);
    if (!cur)
        return policy_missing(call, arn);
    call->out = cur;
    return NB_OK;
}

nb_status ddb_delete_policy(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceArn");
    ddb_table *t = policy_table(call, arn);
    if (!t)
        return NB_ERROR;
    json_object *cur = rec_get("policy", call->account, t->region, arn);
    if (!cur)
        return policy_missing(call, arn);
    const char *expected = nb_str(in, "ExpectedRevisionId");
    if (expected && strcmp(expected, nb_str(cur, "RevisionId")) != 0) {
        json_object_put(cur);
        return policy_missing(call, arn);
    }
    rec_del(call, "policy", t->region, arn);
    call->out = json_object_new_object();
    add(call->out, "RevisionId", copy(nb_get(cur, "RevisionId")));
    json_object_put(cur);
    return NB_OK;
}

/* ---- Kinesis streaming destinations ----------------------------------------------------- */

static json_object *destinations(const nb_call *call, const ddb_table *t)
{
    json_object *d = rec_get("kinesis", call->account, t->region, t->arn);
    return d ? d : json_object_new_array();
}

static json_object *find_dest(json_object *list, const char *stream)
{
    for (size_t i = 0, n = json_object_array_length(list); i < n; i++) {
        json_object *d = json_object_array_get_idx(list, i);
        if (strcmp(nb_str(d, "StreamArn"), stream) == 0)
            return d;
    }
    return NULL;
}

static bool kinesis_arn(const char *arn)
{
    return arn && strncmp(arn, "arn:", 4) == 0 && strstr(arn, ":kinesis:") && strstr(arn, ":stream/");
}

static nb_status kinesis_change(nb_call *call, json_object *in, int action)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    const char *stream = nb_str(in, "StreamArn");
    if (!kinesis_arn(stream))
        return ddb_fail_validation(call, "Invalid StreamArn: %s", stream);
    json_object *list = destinations(call, t);
    json_object *d = find_dest(list, stream);
    const char *cfg_name = action == 2 ? "UpdateKinesisStreamingConfiguration" : "EnableKinesisStreamingConfiguration";
    json_object *cfg = nb_get(in, cfg_name);
    const char *status = NULL;
    nb_status st = NB_OK;
    if (action == 0) { /* enable */
        if (d && strcmp(nb_str(d, "DestinationStatus"), "ACTIVE") == 0)
            st = nb_fail(call, "ResourceInUseException",
                         "Table is not in a valid state to enable Kinesis Streaming Destination: EnableKinesisStreamingDestination must be DISABLED or ENABLE_FAILED to perform ENABLE operation.");
        else {
            if (!d) {
                d = json_object_new_object();
                add(d, "StreamArn", str(stream));
                json_object_array_add(list, d);
            }
            add(d, "DestinationStatus", str("ACTIVE"));
            const char *prec = cfg ? nb_str(cfg, "ApproximateCreationDateTimePrecision") : NULL;
            add(d, "ApproximateCreationDateTimePrecision", str(prec ? prec : "MILLISECOND"));
            status = "ENABLING";
        }
    } else if (!d || strcmp(nb_str(d, "DestinationStatus"), "ACTIVE") != 0) {
        st = nb_fail(call, "ResourceNotFoundException", "Requested resource not found: Kinesis streaming destination %s not found",
                     stream);
    } else if (action == 1) { /* disable */
        add(d, "DestinationStatus", str("DISABLED"));
        status = "DISABLING";
    } else { /* update */
        const char *prec = cfg ? nb_str(cfg, "ApproximateCreationDateTimePrecision") : NULL;
        if (prec)
            add(d, "ApproximateCreationDateTimePrecision", str(prec));
        status = "UPDATING";
    }
    if (st == NB_OK) {
        rec_put(call, "kinesis", t->region, t->arn, list);
        call->out = json_object_new_object();
        add(call->out, "TableName", str(t->name));
        add(call->out, "StreamArn", str(stream));
        add(call->out, "DestinationStatus", str(status));
        add(call->out, cfg_name, copy(cfg));
    }
    json_object_put(list);
    return st;
}

nb_status ddb_enable_kinesis(nb_call *call, json_object *in) { return kinesis_change(call, in, 0); }
nb_status ddb_disable_kinesis(nb_call *call, json_object *in) { return kinesis_change(call, in, 1); }
nb_status ddb_update_kinesis(nb_call *call, json_object *in) { return kinesis_change(call, in, 2); }

nb_status ddb_describe_kinesis(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    call->out = json_object_new_object();
    add(call->out, "TableName", str(t->name));
    add(call->out, "KinesisDataStreamDestinations", destinations(call, t));
    return NB_OK;
}

/* ---- contributor insights ----------------------------------------------------------------- */

static void insights_key(const ddb_table *t, const char *index, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", t->arn, index ? "/index/" : "", index ? index : "");
}

nb_status ddb_describe_insights(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    const char *index = nb_str(in, "IndexName");
    if (index && !ddb_index_find(t, index))
        return nb_fail(call, "ResourceNotFoundException", "Requested resource not found: Index: %s not found", index);
    char key[768];
    insights_key(t, index, key, sizeof key);
    json_object *d = rec_get("insights", call->account, t->region, key);
    call->out = json_object_new_object();
    add(call->out, "TableName", str(t->name));
    if (index)
        add(call->out, "IndexName", str(index));
    add(call->out, "ContributorInsightsStatus", str(d ? nb_str(d, "Status") : "DISABLED"));
    if (d) {
        add(call->out, "ContributorInsightsMode", copy(nb_get(d, "Mode")));
        add(call->out, "LastUpdateDateTime", copy(nb_get(d, "At")));
        json_object *rules = json_object_new_array();
        char rule[512];
        snprintf(rule, sizeof rule, "DynamoDBContributorInsights-PKC-%s-%" PRId64, t->name, (int64_t)json_object_get_double(nb_get(d, "At")));
        json_object_array_add(rules, str(rule));
        add(call->out, "ContributorInsightsRuleList", rules);
    }
    json_object_put(d);
    return NB_OK;
}

nb_status ddb_update_insights(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    const char *index = nb_str(in, "IndexName");
    if (index && !ddb_index_find(t, index))
        return nb_fail(call, "ResourceNotFoundException", "Requested resource not found: Index: %s not found", index);
    bool on = strcmp(nb_str(in, "ContributorInsightsAction"), "ENABLE") == 0;
    const char *mode = nb_str(in, "ContributorInsightsMode");
    char key[768];
    insights_key(t, index, key, sizeof key);
    json_object *d = json_object_new_object();
    add(d, "TableName", str(t->name));
    if (index)
        add(d, "IndexName", str(index));
    add(d, "Status", str(on ? "ENABLED" : "DISABLED"));
    add(d, "Mode", str(mode ? mode : "ACCESSED_AND_THROTTLED_KEYS"));
    add(d, "At", json_object_new_double((double)call->now_ms / 1000.0));
    rec_put(call, "insights", t->region, key, d);
    json_object_put(d);
    call->out = json_object_new_object();
    add(call->out, "TableName", str(t->name));
    if (index)
        add(call->out, "IndexName", str(index));
    add(call->out, "ContributorInsightsStatus", str(on ? "ENABLING" : "DISABLING"));
    add(call->out, "ContributorInsightsMode", str(mode ? mode : "ACCESSED_AND_THROTTLED_KEYS"));
    return NB_OK;
}

nb_status ddb_list_insights(nb_call *call, json_object *in)
{
    const char *tname = nb_str(in, "TableName");
    ddb_table *t = NULL;
    if (tname && !(t = ddb_table_get(call, tname)))
        return NB_ERROR;
    json_object *all = rec_list(call, "insights"), *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
        json_object *d = json_object_array_get_idx(all, i);
        if (t && strcmp(nb_str(d, "TableName"), t->name) != 0)
            continue;
        json_object *e = json_object_new_object();
        add(e, "TableName", copy(nb_get(d, "TableName")));
        add(e, "IndexName", copy(nb_get(d, "IndexName")));
        add(e, "ContributorInsightsStatus", copy(nb_get(d, "Status")));
        add(e, "ContributorInsightsMode", copy(nb_get(d, "Mode")));
        json_object_array_add(out, e);
    }
    json_object_put(all);
    call->out = json_object_new_object();
    add(call->out, "ContributorInsightsSummaries", out);
    return NB_OK;
}

/* ---- global tables (2017.11.29) -------------------------------------------------------------- */

static nb_status check_replica_table(nb_call *call, const char *name, const char *region)
{
    nb_call probe = *call;
    snprintf(probe.region, sizeof probe.region, "%s", region);
    ddb_table *t = ddb_table_find(&probe, name);
    if (!t)
        return nb_fail(call, "TableNotFoundException", "Table: %s not found in region %s", name, region);
    if (!t->stream_on || strcmp(t->stream_view, "NEW_AND_OLD_IMAGES") != 0)
        return ddb_fail_validation(call,
                                   "One or more parameter values were invalid: Table %s in region %s must have DynamoDB Streams enabled with StreamViewType NEW_AND_OLD_IMAGES",
                                   name, region);
    return NB_OK;
}

static json_object *gt_description(json_object *doc, const char *status)
{
    json_object *d = copy(doc);
    if (status)
        add(d, "GlobalTableStatus", str(status));
    return d;
}

nb_status ddb_create_global(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "GlobalTableName");
    json_object *group = nb_get(in, "ReplicationGroup");
    json_object *cur = rec_get("global", call->account, "-", name);
    if (cur) {
        json_object_put(cur);
        return nb_fail(call, "GlobalTableAlreadyExistsException", "Global table with this name already exists");
    }
    json_object *reps = json_object_new_array();
    nb_status st = NB_OK;
    for (size_t i = 0, n = json_object_array_length(group); i < n && st == NB_OK; i++) {
        const char *region = nb_str(json_object_array_get_idx(group, i), "RegionName");
        st = check_replica_table(call, name, region ? region : "");
        json_object *r = json_object_new_object();
        add(r, "RegionName", str(region ? region : ""));
        add(r, "ReplicaStatus", str("ACTIVE"));
        json_object_array_add(reps, r);
    }
    if (st != NB_OK) {
        json_object_put(reps);
        return st;
    }
    json_object *doc = json_object_new_object();
    add(doc, "ReplicationGroup", reps);
    char arn[384];
    snprintf(arn, sizeof arn, "arn:aws:dynamodb::%s:global-table/%s", call->account, name);
    add(doc, "GlobalTableArn", str(arn));
    add(doc, "CreationDateTime", json_object_new_double((double)call->now_ms / 1000.0));
    add(doc, "GlobalTableStatus", str("ACTIVE"));
    add(doc, "GlobalTableName", str(name));
    rec_put(call, "global", "-", name, doc);
    call->out = json_object_new_object();
    add(call->out, "GlobalTableDescription", gt_description(doc, "CREATING"));
    json_object_put(doc);
    return NB_OK;
}

static json_object *global_doc(nb_call *call, const char *name)
{
    json_object *d = rec_get("global", call->account, "-", name);
    if (!d)
        nb_fail(call, "GlobalTableNotFoundException", "Global table not found: Global table with name: '%s' does not exist.", name);
    return d;
}

nb_status ddb_describe_global(nb_call *call, json_object *in)
{
    json_object *d = global_doc(call, nb_str(in, "GlobalTableName"));
    if (!d)
        return NB_ERROR;
    call->out = json_object_new_object();
    add(call->out, "GlobalTableDescription", d);
    return NB_OK;
}

nb_status ddb_list_globals(nb_call *call, json_object *in)
{
    const char *region = nb_str(in, "RegionName");
    const char *start = nb_str(in, "ExclusiveStartGlobalTableName");
    int64_t limit = 100;
    nb_int(in, "Limit", &limit);
    nb_call all = *call;
    snprintf(all.region, sizeof all.region, "-");
    json_object *docs = rec_list(&all, "global"), *out = json_object_new_array();
    const char *last = NULL;
    bool more = false;
    for (size_t i = 0, n = json_object_array_length(docs); i < n; i++) {
        json_object *d = json_object_array_get_idx(docs, i);
        const char *name = nb_str(d, "GlobalTableName");
        if (start && strcmp(name, start) <= 0)
            continue;
        json_object *reps = nb_get(d, "ReplicationGroup");
        bool in_region = !region;
        for (size_t k = 0, m = json_object_array_length(reps); k < m && !in_region; k++)
            in_region = strcmp(nb_str(json_object_array_get_idx(reps, k), "RegionName"), region) == 0;
        if (!in_region)
            continue;
        if ((int64_t)json_object_array_length(out) == limit) {
            more = true;
            break;
        }
        json_object *e = json_object_new_object();
        add(e, "GlobalTableName", str(name));
        json_object *rg = json_object_new_array();
        for (size_t k = 0, m = json_object_array_length(reps); k < m; k++) {
            json_object *r = json_object_new_object();
            add(r, "RegionName", copy(nb_get(json_object_array_get_idx(reps, k), "RegionName")));
            json_object_array_add(rg, r);
        }
        add(e, "ReplicationGroup", rg);
        json_object_array_add(out, e);
        last = name;
    }
    call->out = json_object_new_object();
    add(call->out, "GlobalTables", out);
    if (more && last)
        add(call->out, "LastEvaluatedGlobalTableName", str(last));
    json_object_put(docs);
    return NB_OK;
}

nb_status ddb_update_global(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "GlobalTableName");
    json_object *d = global_doc(call, name);
    if (!d)
        return NB_ERROR;
    json_object *reps = nb_get(d, "ReplicationGroup");
    json_object *ups = nb_get(in, "ReplicaUpdates");
    nb_status st = NB_OK;
    for (size_t i = 0, n = json_object_array_length(ups); i < n && st == NB_OK; i++) {
        json_object *u = json_object_array_get_idx(ups, i), *c = nb_get(u, "Create"), *del = nb_get(u, "Delete");
        const char *region = nb_str(c ? c : del, "RegionName");
        size_t at = 0;
        bool found = false;
        for (size_t k = 0, m = json_object_array_length(reps); k < m && !found; k++)
            if (strcmp(nb_str(json_object_array_get_idx(reps, k), "RegionName"), region) == 0)
                found = true, at = k;
        if (c) {
            if (found)
                st = nb_fail(call, "ReplicaAlreadyExistsException", "Replica already exists in region %s", region);
            else if ((st = check_replica_table(call, name, region)) == NB_OK) {
                json_object *r = json_object_new_object();
                add(r, "RegionName", str(region));
                add(r, "ReplicaStatus", str("ACTIVE"));
                json_object_array_add(reps, r);
            }
        } else if (del) {
            if (!found)
                st = nb_fail(call, "ReplicaNotFoundException", "Replica not found in region %s", region);
            else
                json_object_array_del_idx(reps, at, 1);
        }
    }
    if (st == NB_OK) {
        rec_put(call, "global", "-", name, d);
        call->out = json_object_new_object();
        add(call->out, "GlobalTableDescription", gt_description(d, "UPDATING"));
    }
    json_object_put(d);
    return st;
}

static json_object *replica_settings(nb_call *call, json_object *doc)
{
    json_object *out = json_object_new_array();
    json_object *reps = nb_get(doc, "ReplicationGroup");
    const char *name = nb_str(doc, "GlobalTableName");
    for (size_t k = 0, m = json_object_array_length(reps); k < m; k++) {
        const char *region = nb_str(json_object_array_get_idx(reps, k), "RegionName");
        nb_call probe = *call;
        snprintf(probe.region, sizeof probe.region, "%s", region);
        ddb_table *t = ddb_table_find(&probe, name);
        json_object *r = json_object_new_object();
        add(r, "RegionName", str(region));
        add(r, "ReplicaStatus", str("ACTIVE"));
        const char *bm = t ? nb_str(t->spec, "BillingMode") : "PROVISIONED";
        json_object *bms = json_object_new_object();
        add(bms, "BillingMode", str(bm));
        add(r, "ReplicaBillingModeSummary", bms);
        json_object *pt = t ? nb_get(t->spec, "ProvisionedThroughput") : NULL;
        int64_t rc = 0, wc = 0;
        if (pt) {
            nb_int(pt, "ReadCapacityUnits", &rc);
            nb_int(pt, "WriteCapacityUnits", &wc);
        }
        add(r, "ReplicaProvisionedReadCapacityUnits", json_object_new_int64(rc));
        add(r, "ReplicaProvisionedWriteCapacityUnits", json_object_new_int64(wc));
        json_object_array_add(out, r);
    }
    return out;
}

nb_status ddb_describe_global_settings(nb_call *call, json_object *in)
{
    json_object *d = global_doc(call, nb_str(in, "GlobalTableName"));
    if (!d)
        return NB_ERROR;
    call->out = json_object_new_object();
    add(call->out, "GlobalTableName", copy(nb_get(d, "GlobalTableName")));
    add(call->out, "ReplicaSettings", replica_settings(call, d));
    json_object_put(d);
    return NB_OK;
}

nb_status ddb_update_global_settings(nb_call *call, json_object *in)
{
    json_object *d = global_doc(call, nb_str(in, "GlobalTableName"));
    if (!d)
        return NB_ERROR;
    json_object *reps = nb_get(d, "ReplicationGroup");
    json_object *ups = nb_get(in, "ReplicaSettingsUpdate");
    for (size_t i = 0, n = ups ? json_object_array_length(ups) : 0; i < n; i++) {
        const char *region = nb_str(json_object_array_get_idx(ups, i), "RegionName");
        bool found = false;
        for (size_t k = 0, m = json_object_array_length(reps); k < m && !found; k++)
            found = strcmp(nb_str(json_object_array_get_idx(reps, k), "RegionName"), region) == 0;
        if (!found) {
            json_object_put(d);
            return nb_fail(call, "ReplicaNotFoundException", "Replica not found in region %s", region);
        }
    }
    call->out = json_object_new_object();
    add(call->out, "GlobalTableName", copy(nb_get(d, "GlobalTableName")));
    add(call->out, "ReplicaSettings", replica_settings(call, d));
    json_object_put(d);
    return NB_OK;
}

/* ---- exports and imports ----------------------------------------------------------------------- */

/* Without S3 in nimbus every bucket is missing: a job fails as AWS fails a
 * job whose bucket does not exist. */
static void fail_job(json_object *doc, const char *status_member, const char *bucket, int64_t now_ms)
{
    add(doc, status_member, str("FAILED"));
    add(doc, "FailureCode", str("S3NoSuchBucket"));
    char msg[400];
    snprintf(msg, sizeof msg, "The specified bucket does not exist: %s", bucket ? bucket : "");
    add(doc, "FailureMessage", str(msg));
    add(doc, "EndTime", json_object_new_double((double)now_ms / 1000.0));
}

nb_status ddb_export_table(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "TableArn");
    ddb_table *t = ddb_table_find(call, arn);
    if (!t)
        return nb_fail(call, "TableNotFoundException", "Table not found: %s", arn);
    bool pitr = false;
    nb_bool(t->spec, "PointInTimeRecovery", &pitr);
    if (!pitr)
        return nb_fail(call, "PointInTimeRecoveryUnavailableException",
                       "Point in time recovery is not enabled for table '%s'", t->name);
    char earn[640], id[40];
    snprintf(id, sizeof id, "%013" PRId64 "-%08" PRIx64, call->now_ms, nb_rand64() & 0xffffffffu);
    snprintf(earn, sizeof earn, "%s/export/%s", t->arn, id);
    json_object *doc = json_object_new_object();
    add(doc, "ExportArn", str(earn));
    add(doc, "ExportStatus", str("IN_PROGRESS"));
    add(doc, "StartTime", json_object_new_double((double)call->now_ms / 1000.0));
    add(doc, "TableArn", str(t->arn));
    add(doc, "TableId", str(t->table_id));
    json_object *et = nb_get(in, "ExportTime");
    add(doc, "ExportTime", et ? copy(et) : json_object_new_double((double)call->now_ms / 1000.0));
    static const char *const pass[] = {"ClientToken", "S3Bucket", "S3BucketOwner", "S3Prefix", "S3SseAlgorithm",
                                       "S3SseKmsKeyId", "IncrementalExportSpecification", NULL};
    for (int i = 0; pass[i]; i++)
        add(doc, pass[i], copy(nb_get(in, pass[i])));
    add(doc, "ExportFormat", str(nb_str(in, "ExportFormat") ? nb_str(in, "ExportFormat") : "DYNAMODB_JSON"));
    add(doc, "ExportType", str(nb_str(in, "ExportType") ? nb_str(in, "ExportType") : "FULL_EXPORT"));
    call->out = json_object_new_object();
    add(call->out, "ExportDescription", copy(doc));
    fail_job(doc, "ExportStatus", nb_str(in, "S3Bucket"), call->now_ms);
    rec_put(call, "export", call->region, earn, doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status ddb_describe_export(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ExportArn");
    json_object *d = rec_get("export", call->account, call->region, arn);
    if (!d)
        return nb_fail(call, "ExportNotFoundException", "Export not found: %s", arn);
    call->out = json_object_new_object();
    add(call->out, "ExportDescription", d);
    return NB_OK;
}

nb_status ddb_list_exports(nb_call *call, json_object *in)
{
    const char *tarn = nb_str(in, "TableArn");
    json_object *all = rec_list(call, "export"), *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
        json_object *d = json_object_array_get_idx(all, i);
        if (tarn && strcmp(nb_str(d, "TableArn"), tarn) != 0)
            continue;
        json_object *e = json_object_new_object();
        add(e, "ExportArn", copy(nb_get(d, "ExportArn")));
        add(e, "ExportStatus", copy(nb_get(d, "ExportStatus")));
        add(e, "ExportType", copy(nb_get(d, "ExportType")));
        json_object_array_add(out, e);
    }
    json_object_put(all);
    call->out = json_object_new_object();
    add(call->out, "ExportSummaries", out);
    return NB_OK;
}

nb_status ddb_import_table(nb_call *call, json_object *in)
{
    json_object *tcp = nb_get(in, "TableCreationParameters");
    const char *name = nb_str(tcp, "TableName");
    if (!ddb_valid_table_name(call, name, "tableCreationParameters.tableName"))
        return NB_ERROR;
    if (ddb_table_find(call, name))
        return nb_fail(call, "ResourceInUseException", "Table already exists: %s", name);
    char tarn[384], iarn[512];
    snprintf(tarn, sizeof tarn, "arn:aws:dynamodb:%s:%s:table/%s", call->region, call->account, name);
    snprintf(iarn, sizeof iarn, "%s/import/%013" PRId64 "-%08" PRIx64, tarn, call->now_ms, nb_rand64() & 0xffffffffu);
    json_object *doc = json_object_new_object();
    add(doc, "ImportArn", str(iarn));
    add(doc, "ImportStatus", str("IN_PROGRESS"));
    add(doc, "TableArn", str(tarn));
    static const char *const pass[] = {"ClientToken", "S3BucketSource", "InputFormat", "InputFormatOptions",
                                       "InputCompressionType", "TableCreationParameters", NULL};
    for (int i = 0; pass[i]; i++)
        add(doc, pass[i], copy(nb_get(in, pass[i])));
    add(doc, "StartTime", json_object_new_double((double)call->now_ms / 1000.0));
    add(doc, "ErrorCount", json_object_new_int64(0));
    add(doc, "ProcessedSizeBytes", json_object_new_int64(0));
    add(doc, "ProcessedItemCount", json_object_new_int64(0));
    add(doc, "ImportedItemCount", json_object_new_int64(0));
    call->out = json_object_new_object();
    add(call->out, "ImportTableDescription", copy(doc));
    json_object *src = nb_get(in, "S3BucketSource");
    fail_job(doc, "ImportStatus", src ? nb_str(src, "S3Bucket") : NULL, call->now_ms);
    rec_put(call, "import", call->region, iarn, doc);
    json_object_put(doc);
    return NB_OK;
}

nb_status ddb_describe_import(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ImportArn");
    json_object *d = rec_get("import", call->account, call->region, arn);
    if (!d)
        return nb_fail(call, "ImportNotFoundException", "Import not found: %s", arn);
    call->out = json_object_new_object();
    add(call->out, "ImportTableDescription", d);
    return NB_OK;
}

nb_status ddb_list_imports(nb_call *call, json_object *in)
{
    const char *tarn = nb_str(in, "TableArn");
    json_object *all = rec_list(call, "import"), *out = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(all); i < n; i++) {
        json_object *d = json_object_array_get_idx(all, i);
        if (tarn && strcmp(nb_str(d, "TableArn"), tarn) != 0)
            continue;
        json_object *e = json_object_new_object();
        static const char *const keep[] = {"ImportArn", "ImportStatus", "TableArn", "S3BucketSource",
                                           "InputFormat", "StartTime", "EndTime", NULL};
        for (int k = 0; keep[k]; k++)
            add(e, keep[k], copy(nb_get(d, keep[k])));
        json_object_array_add(out, e);
    }
    json_object_put(all);
    call->out = json_object_new_object();
    add(call->out, "ImportSummaryList", out);
    return NB_OK;
}

/* ---- replica auto scaling --------------------------------------------------------------------- */

nb_status ddb_autoscaling_desc(nb_call *call, json_object *in)
{
    ddb_table *t = ddb_table_get(call, nb_str(in, "TableName"));
    if (!t)
        return NB_ERROR;
    json_object *d = json_object_new_object();
    add(d, "TableName", str(t->name));
    add(d, "TableStatus", str("ACTIVE"));
    add(d, "Replicas", json_object_new_array());
    call->out = json_object_new_object();
    add(call->out, "TableAutoScalingDescription", d);
    return NB_OK;
}
