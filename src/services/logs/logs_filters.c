/*
 * logs_filters.c — metric filters (Put/Describe/Delete, TestMetricFilter)
 * and subscription filters (Put/Describe/Delete; stored and described,
 * not yet delivered).  Both validate their pattern with the same engine
 * as FilterLogEvents (logs_pattern.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_internal.h"

static int count_rows(sqlite3_stmt **slot, const char *sql, int64_t gid)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, gid);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

static bool row_exists(sqlite3_stmt **slot, const char *sql, int64_t gid, const char *name)
{
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

static nb_status fail_limit(nb_call *call)
{
    return nb_fail(call, "LimitExceededException", "Resource limit exceeded.");
}

static bool check_pattern(nb_call *call, const char *text)
{
    logs_pattern *p = logs_compile_or_fail(call, text, false);
    logs_pattern_free(p);
    return p != NULL;
}

/* metricValue: a number, or a reference to a JSON selector or a named
 * space-delimited field. */
static bool check_transform(nb_call *call, json_object *t)
{
    const char *v = nb_str(t, "metricValue");
    json_object *dims = nb_get(t, "dimensions");
    if (dims && json_object_object_length(dims) > 3) {
        logs_fail_invalid(call, "A metric transformation can have at most 3 dimensions.");
        return false;
    }
    if (v && v[0] == '$' && v[1])
        return true;
    char *end = NULL;
    if (v && *v)
        strtod(v, &end);
    if (!v || !*v || end == v || *end) {
        logs_fail_invalid(call, "Invalid metric value: %s", v ? v : "");
        return false;
    }
    return true;
}

/* The group, a valid pattern, and room for filter NAME under MAX (an
 * existing filter of that name is replaced, so it always has room). */
static bool filter_preamble(nb_call *call, json_object *in, logs_group *g, sqlite3_stmt **s_ex, const char *ex_sql,
                            sqlite3_stmt **s_cnt, const char *cnt_sql, int max)
{
    if (!logs_group_from_input(call, in, true, g))
        return false;
    logs_group_clear(g);
    if (!check_pattern(call, nb_str(in, "filterPattern")))
        return false;
    if (!row_exists(s_ex, ex_sql, g->id, nb_str(in, "filterName")) && count_rows(s_cnt, cnt_sql, g->id) >= max) {
        fail_limit(call);
        return false;
    }
    return true;
}

/* ---- metric filters -------------------------------------------------------------- */

nb_status logs_put_metric_filter(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s_cnt, *s_ex, *s_put;
    const char *name = nb_str(in, "filterName"), *pattern = nb_str(in, "filterPattern");
    json_object *tr = nb_get(in, "metricTransformations");
    for (size_t i = 0; i < json_object_array_length(tr); i++)
        if (!check_transform(call, json_object_array_get_idx(tr, i)))
            return NB_ERROR;
    logs_group g;
    if (!filter_preamble(call, in, &g, &s_ex, "SELECT 1 FROM logs_metric_filters WHERE gid = ? AND name = ?", &s_cnt,
                         "SELECT COUNT(*) FROM logs_metric_filters WHERE gid = ?", LOGS_MAX_METRIC_FILTERS))
        return NB_ERROR;
    sqlite3_stmt *st = nb_stmt(&s_put, "INSERT INTO logs_metric_filters(gid, name, pattern, transforms, created_ms)"
                                       " VALUES(?, ?, ?, ?, ?) ON CONFLICT(gid, name) DO UPDATE SET"
                                       " pattern = excluded.pattern, transforms = excluded.transforms");
    sqlite3_bind_int64(st, 1, g.id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pattern, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, json_object_to_json_string_ext(tr, JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, call->now_ms);
    sqlite3_step(st);
    return NB_OK;
}

nb_status logs_describe_metric_filters(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    const char *prefix = nb_str(in, "filterNamePrefix"), *mname = nb_str(in, "metricName");
    const char *mns = nb_str(in, "metricNamespace"), *token = nb_str(in, "nextToken");
    if (prefix && !nb_str(in, "logGroupName"))
        return logs_fail_invalid(call, "If you specify filterNamePrefix, you must also specify logGroupName.");
    if ((mname != NULL) != (mns != NULL))
        return logs_fail_invalid(call, "metricName and metricNamespace must be specified together.");
    int64_t limit = 50, off = 0;
    nb_int(in, "limit", &limit);
    if (token && !logs_parse_offset_token(token, &off))
        return logs_fail_bad_token(call);
    logs_group g = {0};
    if (nb_str(in, "logGroupName") && !logs_group_from_input(call, in, true, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    sqlite3_stmt *st = nb_stmt(&s, "SELECT f.name, f.pattern, f.transforms, f.created_ms, g.name"
                                   " FROM logs_metric_filters f JOIN logs_groups g ON g.id = f.gid"
                                   " WHERE g.account = ?1 AND g.region = ?2 AND (?3 = 0 OR f.gid = ?3)"
                                   " AND (?4 IS NULL OR substr(f.name, 1, length(?4)) = ?4)"
                                   " ORDER BY f.name, g.name");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, g.id);
    if (prefix)
        sqlite3_bind_text(st, 4, prefix, -1, SQLITE_STATIC);
    json_object *list = json_object_new_array();
    int64_t idx = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *tr = json_tokener_parse(logs_col_text(st, 2));
        if (!tr)
            tr = json_object_new_array();
        if (mname) {
            bool hit = false;
            for (size_t i = 0; i < json_object_array_length(tr) && !hit; i++) {
                json_object *t = json_object_array_get_idx(tr, i);
                const char *a = nb_str(t, "metricName"), *b = nb_str(t, "metricNamespace");
                hit = a && b && !strcmp(a, mname) && !strcmp(b, mns);
            }
            if (!hit) {
                json_object_put(tr);
                continue;
            }
        }
        if (idx++ < off) {
            json_object_put(tr);
            continue;
        }
        if ((int64_t)json_object_array_length(list) >= limit) {
            json_object_put(tr);
            more = true;
            break;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "filterName", json_object_new_string(logs_col_text(st, 0)));
        json_object_object_add(o, "filterPattern", json_object_new_string(logs_col_text(st, 1)));
        json_object_object_add(o, "metricTransformations", tr);
        json_object_object_add(o, "creationTime", json_object_new_int64(sqlite3_column_int64(st, 3)));
        json_object_object_add(o, "logGroupName", json_object_new_string(logs_col_text(st, 4)));
        json_object_object_add(o, "applyOnTransformedLogs", json_object_new_boolean(0));
        json_object_array_add(list, o);
    }
    sqlite3_reset(st);
    return logs_page_out(call, "metricFilters", list, more, off + (int64_t)json_object_array_length(list));
}

static nb_status delete_filter(nb_call *call, json_object *in, sqlite3_stmt **slot, const char *sql)
{
    logs_group g;
    if (!logs_group_from_input(call, in, true, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    sqlite3_stmt *st = nb_stmt(slot, sql);
    sqlite3_bind_int64(st, 1, g.id);
    sqlite3_bind_text(st, 2, nb_str(in, "filterName"), -1, SQLITE_STATIC);
    sqlite3_step(st);
    if (sqlite3_changes(nb_db()) == 0)
        return nb_fail(call, "ResourceNotFoundException", "The specified resource does not exist.");
    return NB_OK;
}

nb_status logs_delete_metric_filter(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    return delete_filter(call, in, &s, "DELETE FROM logs_metric_filters WHERE gid = ? AND name = ?");
}

nb_status logs_test_metric_filter(nb_call *call, json_object *in)
{
    logs_pattern *p = logs_compile_or_fail(call, nb_str(in, "filterPattern"), true);
    if (!p)
        return NB_ERROR;
    json_object *msgs = nb_get(in, "logEventMessages");
    json_object *matches = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        json_object *ex;
        if (!logs_pattern_extract(p, json_object_get_string(m), (size_t)json_object_get_string_len(m), &ex))
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "eventNumber", json_object_new_int64((int64_t)i + 1));
        json_object_object_add(o, "eventMessage", json_object_get(m));
        json_object_object_add(o, "extractedValues", ex);
        json_object_array_add(matches, o);
    }
    logs_pattern_free(p);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "matches", matches);
    return NB_OK;
}

/* ---- subscription filters ------------------------------------------------------------ */

nb_status logs_put_subscription_filter(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s_cnt, *s_ex, *s_put;
    const char *name = nb_str(in, "filterName"), *pattern = nb_str(in, "filterPattern");
    const char *dest = nb_str(in, "destinationArn"), *role = nb_str(in, "roleArn");
    const char *dist = nb_str(in, "distribution");
    logs_group g;
    if (!filter_preamble(call, in, &g, &s_ex, "SELECT 1 FROM logs_sub_filters WHERE gid = ? AND name = ?", &s_cnt,
                         "SELECT COUNT(*) FROM logs_sub_filters WHERE gid = ?", LOGS_MAX_SUB_FILTERS))
        return NB_ERROR;
    if (strncmp(dest, "arn:", 4) != 0)
        return logs_fail_invalid(call, "Invalid destinationArn: %s", dest);
    sqlite3_stmt *st = nb_stmt(&s_put, "INSERT INTO logs_sub_filters(gid, name, pattern, dest, role, distribution,"
                                       " created_ms) VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(gid, name) DO UPDATE SET"
                                       " pattern = excluded.pattern, dest = excluded.dest, role = excluded.role,"
                                       " distribution = excluded.distribution");
    sqlite3_bind_int64(st, 1, g.id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pattern, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, dest, -1, SQLITE_STATIC);
    if (role)
        sqlite3_bind_text(st, 5, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, dist ? dist : "ByLogStream", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, call->now_ms);
    sqlite3_step(st);
    return NB_OK;
}

nb_status logs_describe_subscription_filters(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    const char *prefix = nb_str(in, "filterNamePrefix"), *token = nb_str(in, "nextToken");
    int64_t limit = 50, off = 0;
    nb_int(in, "limit", &limit);
    if (token && !logs_parse_offset_token(token, &off))
        return logs_fail_bad_token(call);
    logs_group g;
    if (!logs_group_from_input(call, in, true, &g))
        return NB_ERROR;
    logs_group_clear(&g);
    sqlite3_stmt *st = nb_stmt(&s, "SELECT name, pattern, dest, role, distribution, created_ms FROM logs_sub_filters"
                                   " WHERE gid = ?1 AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2)"
                                   " ORDER BY name LIMIT ?3 OFFSET ?4");
    sqlite3_bind_int64(st, 1, g.id);
    if (prefix)
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit + 1);
    sqlite3_bind_int64(st, 4, off);
    json_object *list = json_object_new_array();
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int64_t)json_object_array_length(list) >= limit) {
            more = true;
            break;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "filterName", json_object_new_string(logs_col_text(st, 0)));
        json_object_object_add(o, "logGroupName", json_object_new_string(g.name));
        json_object_object_add(o, "filterPattern", json_object_new_string(logs_col_text(st, 1)));
        json_object_object_add(o, "destinationArn", json_object_new_string(logs_col_text(st, 2)));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            json_object_object_add(o, "roleArn", json_object_new_string(logs_col_text(st, 3)));
        json_object_object_add(o, "distribution", json_object_new_string(logs_col_text(st, 4)));
        json_object_object_add(o, "applyOnTransformedLogs", json_object_new_boolean(0));
        json_object_object_add(o, "creationTime", json_object_new_int64(sqlite3_column_int64(st, 5)));
        json_object_array_add(list, o);
    }
    sqlite3_reset(st);
    return logs_page_out(call, "subscriptionFilters", list, more, off + limit);
}

nb_status logs_delete_subscription_filter(nb_call *call, json_object *in)
{
    static sqlite3_stmt *s;
    return delete_filter(call, in, &s, "DELETE FROM logs_sub_filters WHERE gid = ? AND name = ?");
}
