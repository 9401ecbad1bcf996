/*
 * logs_groups.c — log groups: Create/Delete/DescribeLogGroups, retention
 * policies, deletion protection, and tags through both APIs (the
 * log-group-name one and the ARN one).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logs_internal.h"

static const int RETENTION_DAYS[] = {1,   3,   5,   7,    14,   30,   60,   90,   120,  150,  180,
                                     365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

#define RETENTION_LIST "[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"

static bool exec_gid(sqlite3_stmt **slot, const char *sql, int64_t gid)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, gid);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        NB_ERR("logs: %s: %s", sql, sqlite3_errmsg(nb_db()));
    return ok;
}

static int tag_count(int64_t gid)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT COUNT(*) FROM logs_tags WHERE gid = ?");
    sqlite3_bind_int64(st, 1, gid);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

/* Would adding TAGS to gid exceed the limit?  Counts only new keys. */
static int tags_after(int64_t gid, json_object *tags)
{
    static sqlite3_stmt *s;
    int n = tag_count(gid);
    json_object_object_foreach(tags, k, v)
    {
        (void)v;
        sqlite3_stmt *st = nb_stmt(&s, "SELECT 1 FROM logs_tags WHERE gid = ? AND k = ?");
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW)
            n++;
        sqlite3_reset(st);
    }
    return n;
}

static void tags_put(int64_t gid, json_object *tags)
{
    static sqlite3_stmt *s;
    json_object_object_foreach(tags, k, v)
    {
        sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO logs_tags(gid, k, v) VALUES(?, ?, ?)"
                                       " ON CONFLICT(gid, k) DO UPDATE SET v = excluded.v");
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json_object_get_string(v), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

static void tags_remove(int64_t gid, json_object *keys)
{
    static sqlite3_stmt *s;
    size_t n = keys ? json_object_array_length(keys) : 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM logs_tags WHERE gid = ? AND k = ?");
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, json_object_get_string(json_object_array_get_idx(keys, i)), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

static json_object *tags_map(int64_t gid)
{
    static sqlite3_stmt *s;
    json_object *m = json_object_new_object();
    sqlite3_stmt *st = nb_stmt(&s, "SELECT k, v FROM logs_tags WHERE gid = ? ORDER BY k");
    sqlite3_bind_int64(st, 1, gid);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_object_add(m, logs_col_text(st, 0), json_object_new_string(logs_col_text(st, 1)));
    sqlite3_reset(st);
    return m;
}

/* ---- groups ------------------------------------------------------------------- */

nb_status logs_create_log_group(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s_ins;
    const char *name = nb_str(in, "logGroupName");
    if (!logs_check_group_name(call, name, "logGroupName"))
        return NB_ERROR;
    if (!strncasecmp(name, "aws/", 4))
        return logs_fail_invalid(call, "Log groups starting with AWS/ are reserved for AWS.");
    logs_group g;
    if (logs_group_load(call, name, &g)) {
        logs_group_clear(&g);
        return nb_fail(call, "ResourceAlreadyExistsException", "The specified log group already exists");
    }
    const char *cls = nb_str(in, "logGroupClass");
    bool protect = false;
    nb_bool(in, "deletionProtectionEnabled", &protect);
    const char *kms = nb_str(in, "kmsKeyId");
    sqlite3_stmt *st = nb_stmt(&s_ins, "INSERT INTO logs_groups(account, region, name, created_ms, kms, class, protect)"
                                       " VALUES(?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, call->now_ms);
    if (kms)
        sqlite3_bind_text(st, 5, kms, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, cls ? cls : "STANDARD", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, protect);
    if (sqlite3_step(st) != SQLITE_DONE)
        return nb_fail_status(call, 500, false, "ServiceUnavailableException", "%s", sqlite3_errmsg(nb_db()));
    int64_t gid = sqlite3_last_insert_rowid(nb_db());
    json_object *tags = nb_get(in, "tags");
    if (tags)
        tags_put(gid, tags);
    return NB_OK;
}

/* A log group's name from logGroupName, or logGroupIdentifier for the
 * newer operations; loads it or fails the call. */
static bool group_by_name(nb_call *call, json_object *in, logs_group *g)
{
    return logs_group_from_input(call, in, true, g);
}

nb_status logs_delete_log_group(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s1, *s2, *s3, *s4, *s5, *s6;
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    if (g.protect)
        return nb_fail(call, "ValidationException",
                       "Log group %s has deletion protection enabled and cannot be deleted.", g.name);
    exec_gid(&s1, "DELETE FROM logs_events WHERE gid = ?", g.id);
    exec_gid(&s2, "DELETE FROM logs_streams WHERE gid = ?", g.id);
    exec_gid(&s3, "DELETE FROM logs_tags WHERE gid = ?", g.id);
    exec_gid(&s4, "DELETE FROM logs_metric_filters WHERE gid = ?", g.id);
    exec_gid(&s5, "DELETE FROM logs_sub_filters WHERE gid = ?", g.id);
    exec_gid(&s6, "DELETE FROM logs_groups WHERE id = ?", g.id);
    logs_cache_drop_group(g.id);
    return NB_OK;
}

static bool in_list(json_object *list, const char *name)
{
    size_t n = list ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), name))
            return true;
    return false;
}

static json_object *render_group(const nb_call *call, sqlite3_stmt *st, bool brief)
{
    json_object *o = json_object_new_object();
    const char *name = logs_col_text(st, 0);
    char arn[700];
    logs_group_arn(call, name, arn, sizeof arn);
    json_object_object_add(o, "logGroupName", json_object_new_string(name));
    json_object_object_add(o, "creationTime", json_object_new_int64(sqlite3_column_int64(st, 1)));
    if (!brief && sqlite3_column_type(st, 2) != SQLITE_NULL)
        json_object_object_add(o, "retentionInDays", json_object_new_int(sqlite3_column_int(st, 2)));
    if (!brief)
        json_object_object_add(o, "metricFilterCount", json_object_new_int(sqlite3_column_int(st, 6)));
    char star[704];
    snprintf(star, sizeof star, "%s:*", arn);
    json_object_object_add(o, "arn", json_object_new_string(star));
    if (brief)
        return o;
    json_object_object_add(o, "storedBytes", json_object_new_int64(sqlite3_column_int64(st, 7)));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL)
        json_object_object_add(o, "kmsKeyId", json_object_new_string(logs_col_text(st, 3)));
    json_object_object_add(o, "logGroupClass", json_object_new_string(logs_col_text(st, 4)));
    json_object_object_add(o, "logGroupArn", json_object_new_string(arn));
    json_object_object_add(o, "deletionProtectionEnabled", json_object_new_boolean(sqlite3_column_int(st, 5)));
    return o;
}

nb_status logs_describe_log_groups(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    const char *prefix = nb_str(in, "logGroupNamePrefix"), *pattern = nb_str(in, "logGroupNamePattern");
    const char *cls = nb_str(in, "logGroupClass"), *token = nb_str(in, "nextToken");
    json_object *idents = nb_get(in, "logGroupIdentifiers");
    if (prefix && pattern)
        return logs_fail_invalid(call, "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
    if (idents && (prefix || pattern || cls))
        return logs_fail_invalid(call, "logGroupIdentifiers can only be combined with includeLinkedAccounts.");
    if (prefix && !logs_check_group_name(call, prefix, "logGroupNamePrefix"))
        return NB_ERROR;
    int64_t limit = 50, off = 0;
    nb_int(in, "limit", &limit);
    if (token && !logs_parse_offset_token(token, &off))
        return logs_fail_bad_token(call);
    /* Names of identifiers given as ARNs. */
    json_object *names = NULL;
    if (idents) {
        names = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(idents); i++) {
            const char *id = json_object_get_string(json_object_array_get_idx(idents, i));
            char buf[520];
            if (!strncmp(id, "arn:", 4)) {
                if (!logs_parse_group_arn(call, id, buf, sizeof buf, true))
                    continue;
                id = buf;
            }
            json_object_array_add(names, json_object_new_string(id));
        }
    }
    sqlite3_stmt *st = nb_stmt(&s, "SELECT name, created_ms, retention, kms, class, protect,"
                                   " (SELECT COUNT(*) FROM logs_metric_filters f WHERE f.gid = g.id),"
                                   " (SELECT COALESCE(SUM(stored), 0) FROM logs_streams t WHERE t.gid = g.id)"
                                   " FROM logs_groups g WHERE account = ?1 AND region = ?2"
                                   " AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)"
                                   " AND (?4 IS NULL OR instr(name, ?4) > 0)"
                                   " AND (?5 IS NULL OR class = ?5) ORDER BY name");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    if (prefix)
        sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
    if (pattern && *pattern)
        sqlite3_bind_text(st, 4, pattern, -1, SQLITE_STATIC);
    if (cls)
        sqlite3_bind_text(st, 5, cls, -1, SQLITE_STATIC);
    json_object *list = json_object_new_array();
    int64_t idx = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (names && !in_list(names, logs_col_text(st, 0)))
            continue;
        if (idx++ < off)
            continue;
        if ((int64_t)json_object_array_length(list) >= limit) {
            more = true;
            break;
        }
        json_object_array_add(list, render_group(call, st, pattern != NULL));
    }
    sqlite3_reset(st);
    json_object_put(names);
    return logs_page_out(call, "logGroups", list, more, off + (int64_t)json_object_array_length(list));
}

/* ---- retention and protection ---------------------------------------------------- */

nb_status logs_put_retention_policy(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    int64_t days = 0;
    nb_int(in, "retentionInDays", &days);
    bool ok = false;
    for (size_t i = 0; i < sizeof RETENTION_DAYS / sizeof RETENTION_DAYS[0]; i++)
        ok = ok || RETENTION_DAYS[i] == days;
    if (!ok)
        return logs_fail_invalid(call, "1 validation error detected: Value '%" PRId64 "' at 'retentionInDays' failed "
                                       "to satisfy constraint: Member must satisfy enum value set: " RETENTION_LIST,
                                 days);
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE logs_groups SET retention = ? WHERE id = ?");
    sqlite3_bind_int64(st, 1, days);
    sqlite3_bind_int64(st, 2, g.id);
    sqlite3_step(st);
    logs_cache_drop_group(g.id);
    return NB_OK;
}

nb_status logs_delete_retention_policy(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    exec_gid(&s, "UPDATE logs_groups SET retention = NULL WHERE id = ?", g.id);
    logs_cache_drop_group(g.id);
    return NB_OK;
}

nb_status logs_put_log_group_deletion_protection(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    bool on = false;
    nb_bool(in, "deletionProtectionEnabled", &on);
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE logs_groups SET protect = ? WHERE id = ?");
    sqlite3_bind_int(st, 1, on);
    sqlite3_bind_int64(st, 2, g.id);
    sqlite3_step(st);
    return NB_OK;
}

/* ---- tags ---------------------------------------------------------------------- */

nb_status logs_tag_log_group(nb_call *call, json_object *in)
{
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    json_object *tags = nb_get(in, "tags");
    if (tags_after(g.id, tags) > LOGS_MAX_TAGS)
        return logs_fail_invalid(call, "A resource can have no more than %d tags.", LOGS_MAX_TAGS);
    tags_put(g.id, tags);
    return NB_OK;
}

nb_status logs_untag_log_group(nb_call *call, json_object *in)
{
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    tags_remove(g.id, nb_get(in, "tags"));
    return NB_OK;
}

nb_status logs_list_tags_log_group(nb_call *call, json_object *in)
{
    logs_group g;
    if (!group_by_name(call, in, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "tags", tags_map(g.id));
    return NB_OK;
}

/* The log group an ARN names (destinations are not implemented). */
static bool group_by_arn(nb_call *call, const char *arn, logs_group *g)
{
    char name[520];
    memset(g, 0, sizeof *g);
    if (!logs_parse_group_arn(call, arn, name, sizeof name, false)) {
        if (!strncmp(arn, "arn:", 4) && strstr(arn, ":logs:"))
            nb_fail(call, "ResourceNotFoundException", "The specified resource does not exist.");
        else
            logs_fail_invalid(call, "Invalid ARN: %s", arn);
        return false;
    }
    if (!logs_group_load(call, name, g)) {
        logs_fail_no_group(call);
        return false;
    }
    logs_group_clear(g);
    return true;
}

nb_status logs_tag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "resourceArn");
    logs_group g;
    if (!group_by_arn(call, arn, &g))
        return NB_ERROR;
    json_object *tags = nb_get(in, "tags");
    if (tags_after(g.id, tags) > LOGS_MAX_TAGS) {
        nb_fail(call, "TooManyTagsException", "A resource can have no more than %d tags.", LOGS_MAX_TAGS);
        json_object *d = json_object_new_object();
        json_object_object_add(d, "resourceName", json_object_new_string(arn));
        nb_fail_detail(call, d);
        return NB_ERROR;
    }
    tags_put(g.id, tags);
    return NB_OK;
}

nb_status logs_untag_resource(nb_call *call, json_object *in)
{
    logs_group g;
    if (!group_by_arn(call, nb_str(in, "resourceArn"), &g))
        return NB_ERROR;
    tags_remove(g.id, nb_get(in, "tagKeys"));
    return NB_OK;
}

nb_status logs_list_tags_for_resource(nb_call *call, json_object *in)
{
    logs_group g;
    if (!group_by_arn(call, nb_str(in, "resourceArn"), &g))
        return NB_ERROR;
    call->out = json_object_new_object();
    json_object_object_add(call->out, "tags", tags_map(g.id));
    return NB_OK;
}
