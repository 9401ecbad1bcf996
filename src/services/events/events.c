/*
 * events.c — the EventBridge service: descriptor, lifecycle, schema, names
 * and ARNs, the compiled-pattern cache, event buses, bus permissions and
 * tags.  See events_internal.h for the storage layout and invariants.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "events_internal.h"
#include "gen/models.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS events_buses("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL, description TEXT, policy TEXT,"
    " UNIQUE(account, region, name));"
    "CREATE TABLE IF NOT EXISTS events_rules("
    " id INTEGER PRIMARY KEY, bus_id INTEGER NOT NULL, name TEXT NOT NULL, pattern TEXT,"
    " schedule TEXT, state TEXT NOT NULL, description TEXT, role TEXT,"
    " created_ms INTEGER NOT NULL, next_ms INTEGER, UNIQUE(bus_id, name));"
    "CREATE INDEX IF NOT EXISTS events_rules_next ON events_rules(next_ms) WHERE next_ms IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS events_targets("
    " rule_id INTEGER NOT NULL, tid TEXT NOT NULL, arn TEXT NOT NULL, doc TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY(rule_id, tid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS events_targets_arn ON events_targets(arn);"
    "CREATE TABLE IF NOT EXISTS events_tags("
    " arn TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY(arn, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS events_pending("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, host TEXT NOT NULL,"
    " rule_arn TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL, event_id TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, due_ms INTEGER NOT NULL, first_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_pending_due ON events_pending(due_ms);"
    "CREATE TABLE IF NOT EXISTS events_archives("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " source_arn TEXT NOT NULL, description TEXT, pattern TEXT, state TEXT NOT NULL,"
    " retention INTEGER NOT NULL, size_bytes INTEGER NOT NULL, event_count INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, UNIQUE(account, region, name));"
    "CREATE TABLE IF NOT EXISTS events_archived("
    " seq INTEGER PRIMARY KEY, archive_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, event TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_archived_time ON events_archived(archive_id, time_ms);"
    "CREATE TABLE IF NOT EXISTS events_replays("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " description TEXT, source_arn TEXT NOT NULL, destination TEXT NOT NULL, start_ms INTEGER NOT NULL,"
    " end_ms INTEGER NOT NULL, state TEXT NOT NULL, last_ms INTEGER, replay_start_ms INTEGER NOT NULL,"
    " replay_end_ms INTEGER, UNIQUE(account, region, name));"
    "CREATE TABLE IF NOT EXISTS events_conns("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, arn TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " modified_ms INTEGER NOT NULL, authorized_ms INTEGER NOT NULL,"
    " UNIQUE(account, region, kind, name));";

static const char *const TABLES[] = {"events_buses", "events_rules", "events_targets",
                                     "events_tags", "events_pending", "events_archives",
                                     "events_archived", "events_replays", "events_conns", NULL};

/* ---- small helpers --------------------------------------------------------------- */

const char *ev_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

bool ev_name_ok(const char *v, bool slash)
{
    if (!*v)
        return false;
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_' || (slash && c == '/')))
            return false;
    }
    return true;
}

bool ev_check_name(nb_call *call, const char *v, const char *member, bool slash)
{
    if (ev_name_ok(v, slash))
        return true;
    nb_fail(call, "ValidationException",
            "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: %s",
            v, member, slash ? "[/\\.\\-_A-Za-z0-9]+" : "[\\.\\-_A-Za-z0-9]+");
    return false;
}

void ev_bus_arn(const ev_bus *b, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:events:%s:%s:event-bus/%s", b->region, b->account, b->name);
}

void ev_rule_arn(const ev_bus *b, const char *rule, char *out, size_t n)
{
    if (!strcmp(b->name, "default"))
        snprintf(out, n, "arn:aws:events:%s:%s:rule/%s", b->region, b->account, rule);
    else
        snprintf(out, n, "arn:aws:events:%s:%s:rule/%s/%s", b->region, b->account, b->name, rule);
}

bool ev_arn_split(const char *arn, ev_arn *a)
{
    const char *f[6];
    const char *p = arn;
    for (int i = 0; i < 5; i++) {
        const char *c = strchr(p, ':');
        if (!c)
            return false;
        f[i] = p;
        p = c + 1;
    }
    f[5] = p;
    size_t sl = (size_t)(f[3] - f[2] - 1), rl = (size_t)(f[4] - f[3] - 1), al = (size_t)(f[5] - f[4] - 1);
    if (strncmp(arn, "arn:", 4) || sl >= sizeof a->service || rl >= sizeof a->region ||
        al >= sizeof a->account)
        return false;
    memcpy(a->service, f[2], sl);
    a->service[sl] = 0;
    memcpy(a->region, f[3], rl);
    a->region[rl] = 0;
    memcpy(a->account, f[4], al);
    a->account[al] = 0;
    a->resource = f[5];
    return true;
}

/* An EventBridge ARN with a region and a 12-digit account. */
static bool parse_arn(const char *arn, char *region, char *account, const char **res)
{
    ev_arn a;
    if (!ev_arn_split(arn, &a) || strcmp(a.service, "events") || !a.region[0] || strlen(a.account) != 12)
        return false;
    memcpy(region, a.region, sizeof a.region);
    memcpy(account, a.account, sizeof a.account);
    *res = a.resource;
    return true;
}

bool ev_bus_lookup(const char *account, const char *region, const char *name_or_arn, ev_bus *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->account, sizeof b->account, "%s", account);
    snprintf(b->region, sizeof b->region, "%s", region);
    const char *name = name_or_arn ? name_or_arn : "default";
    if (!strncmp(name, "arn:", 4)) {
        const char *res;
        if (!parse_arn(name, b->region, b->account, &res) || strncmp(res, "event-bus/", 10))
            return false;
        name = res + 10;
    }
    if (!*name || strlen(name) >= sizeof b->name)
        return false;
    snprintf(b->name, sizeof b->name, "%s", name);
    static sqlite3_stmt *s_get, *s_ins;
    sqlite3_stmt *st = nb_stmt(&s_get, "SELECT id FROM events_buses WHERE account = ? AND region = ? AND name = ?");
    sqlite3_bind_text(st, 1, b->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        b->id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (b->id || strcmp(b->name, "default"))
        return b->id != 0;
    int64_t now = nb_now_ms();
    st = nb_stmt(&s_ins, "INSERT INTO events_buses(account, region, name, created_ms, modified_ms)"
                         " VALUES (?, ?, 'default', ?, ?)");
    sqlite3_bind_text(st, 1, b->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        return false;
    }
    sqlite3_reset(st);
    b->id = sqlite3_last_insert_rowid(nb_db());
    return true;
}

bool ev_bus_resolve(nb_call *call, const char *name_or_arn, ev_bus *b)
{
    if (ev_bus_lookup(call->account, call->region, name_or_arn, b))
        return true;
    nb_fail(call, "ResourceNotFoundException", "Event bus %s does not exist.",
            b->name[0] ? b->name : (name_or_arn ? name_or_arn : "default"));
    return false;
}

/* ---- compiled patterns, cached by text -------------------------------------------- */

#define PAT_BUCKETS 1024
#define PAT_MAX 8192

typedef struct pat_entry {
    struct pat_entry *next;
    uint64_t hash;
    nb_pattern *p;
    char text[];
} pat_entry;

static pat_entry *g_pats[PAT_BUCKETS];
static size_t g_npats;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void pats_clear(void)
{
    for (size_t i = 0; i < PAT_BUCKETS; i++) {
        for (pat_entry *e = g_pats[i], *n; e; e = n) {
            n = e->next;
            nb_pattern_free(e->p);
            free(e);
        }
        g_pats[i] = NULL;
    }
    g_npats = 0;
}

const nb_pattern *ev_pattern(const char *text, char *err, size_t errlen)
{
    uint64_t h = fnv(text);
    for (pat_entry *e = g_pats[h % PAT_BUCKETS]; e; e = e->next)
        if (e->hash == h && !strcmp(e->text, text))
            return e->p;
    nb_pattern *p = nb_pattern_compile(text, strlen(text), NB_PAT_EVENTBRIDGE, err, errlen);
    if (!p)
        return NULL;
    if (g_npats >= PAT_MAX)
        pats_clear(); /* bounded: every entry can be compiled again */
    size_t n = strlen(text);
    pat_entry *e = nb_malloc(sizeof *e + n + 1);
    memcpy(e->text, text, n + 1);
    e->hash = h;
    e->p = p;
    e->next = g_pats[h % PAT_BUCKETS];
    g_pats[h % PAT_BUCKETS] = e;
    g_npats++;
    return p;
}

/* ---- pagination --------------------------------------------------------------------- */

static nb_status page_token(nb_call *call, const char *tok, int64_t *off)
{
    *off = 0;
    if (!tok)
        return NB_OK;
    char *end;
    long long v = strtoll(tok, &end, 10);
    if (*tok < '0' || *tok > '9' || *end || v < 0)
        return nb_fail(call, "ValidationException", "The nextToken provided is invalid.");
    *off = v;
    return NB_OK;
}

bool ev_page_args(nb_call *call, json_object *in, int64_t *limit, int64_t *off)
{
    *limit = EV_PAGE_DEFAULT;
    nb_int(in, "Limit", limit);
    return page_token(call, nb_str(in, "NextToken"), off) == NB_OK;
}

nb_status ev_page_out(nb_call *call, sqlite3_stmt *st, int64_t limit, int64_t off, const char *key,
                      ev_row_fn row, void *arg)
{
    json_object *list = json_object_new_array();
    int64_t n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        json_object *o = row(st, arg);
        if (o)
            json_object_array_add(list, o);
        n++;
    }
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, key, list);
    if (more) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRId64, off + n);
        json_object_object_add(call->out, "NextToken", json_object_new_string(buf));
    }
    return NB_OK;
}

/* ---- buses ---------------------------------------------------------------------------- */

static json_object *bus_json(sqlite3_stmt *st, const ev_bus *b)
{
    /* columns: name, created_ms, modified_ms, description, policy */
    json_object *o = json_object_new_object();
    char arn[400];
    ev_bus_arn(b, arn, sizeof arn);
    json_object_object_add(o, "Name", json_object_new_string(b->name));
    json_object_object_add(o, "Arn", json_object_new_string(arn));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL)
        json_object_object_add(o, "Description", json_object_new_string(ev_col(st, 3)));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        json_object_object_add(o, "Policy", json_object_new_string(ev_col(st, 4)));
    json_object_object_add(o, "CreationTime", json_object_new_double(sqlite3_column_int64(st, 1) / 1000.0));
    json_object_object_add(o, "LastModifiedTime",
                           json_object_new_double(sqlite3_column_int64(st, 2) / 1000.0));
    return o;
}

static nb_status create_event_bus(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name"), *src = nb_str(in, "EventSourceName");
    if (!ev_check_name(call, name, "name", true))
        return NB_ERROR;
    if (src)
        return nb_fail(call, "ResourceNotFoundException", "Event source %s does not exist.", src);
    if (strchr(name, '/'))
        return nb_fail(call, "ValidationException", "Event bus name must not contain '/'.");
    ev_bus b;
    if (ev_bus_lookup(call->account, call->region, name, &b))
        return nb_fail(call, "ResourceAlreadyExistsException", "Event bus %s already exists.", name);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO events_buses(account, region, name, created_ms, modified_ms,"
                                   " description) VALUES (?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, call->now_ms);
    sqlite3_bind_int64(st, 5, call->now_ms);
    const char *desc = nb_str(in, "Description");
    if (desc)
        sqlite3_bind_text(st, 6, desc, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return nb_fail_status(call, 500, false, "InternalException", "%s", sqlite3_errmsg(nb_db()));
    snprintf(b.name, sizeof b.name, "%s", name);
    char arn[400];
    ev_bus_arn(&b, arn, sizeof arn);
    ev_tags_put(arn, nb_get(in, "Tags"));
    call->out = json_object_new_object();
    json_object_object_add(call->out, "EventBusArn", json_object_new_string(arn));
    if (desc)
        json_object_object_add(call->out, "Description", json_object_new_string(desc));
    return NB_OK;
}

static sqlite3_stmt *bus_row(const ev_bus *b)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT name, created_ms, modified_ms, description, policy"
                                   " FROM events_buses WHERE id = ?");
    sqlite3_bind_int64(st, 1, b->id);
    return st;
}

static nb_status describe_event_bus(nb_call *call, json_object *in)
{
    ev_bus b;
    if (!ev_bus_resolve(call, nb_str(in, "Name"), &b))
        return NB_ERROR;
    sqlite3_stmt *st = bus_row(&b);
    if (sqlite3_step(st) == SQLITE_ROW)
        call->out = bus_json(st, &b);
    sqlite3_reset(st);
    return NB_OK;
}

static nb_status delete_event_bus(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    if (!ev_check_name(call, name, "name", true))
        return NB_ERROR;
    if (!strcmp(name, "default"))
        return nb_fail(call, "ValidationException", "Cannot delete event bus default.");
    ev_bus b;
    if (!ev_bus_lookup(call->account, call->region, name, &b))
        return NB_OK; /* AWS: deleting a missing bus succeeds */
    ev_rules_drop_bus(b.id);
    ev_archives_drop_bus(&b);
    char arn[400];
    ev_bus_arn(&b, arn, sizeof arn);
    ev_tags_drop(arn);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM events_buses WHERE id = ?");
    sqlite3_bind_int64(st, 1, b.id);
    sqlite3_step(st);
    sqlite3_reset(st);
    return NB_OK;
}

static json_object *bus_row_json(sqlite3_stmt *st, void *arg)
{
    const nb_call *call = arg;
    ev_bus b = {.id = sqlite3_column_int64(st, 5)};
    snprintf(b.account, sizeof b.account, "%s", call->account);
    snprintf(b.region, sizeof b.region, "%s", call->region);
    snprintf(b.name, sizeof b.name, "%s", ev_col(st, 0));
    return bus_json(st, &b);
}

static nb_status list_event_buses(nb_call *call, json_object *in)
{
    const char *prefix = nb_str(in, "NamePrefix");
    int64_t limit, off;
    if (!ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    ev_bus dflt;
    ev_bus_lookup(call->account, call->region, NULL, &dflt);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT name, created_ms, modified_ms, description, policy, id"
                                   " FROM events_buses WHERE account = ? AND region = ?"
                                   " AND substr(name, 1, length(?3)) = ?3 ORDER BY name LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, limit + 1);
    sqlite3_bind_int64(st, 5, off);
    return ev_page_out(call, st, limit, off, "EventBuses", bus_row_json, call);
}

static nb_status update_event_bus(nb_call *call, json_object *in)
{
    ev_bus b;
    if (!ev_bus_resolve(call, nb_str(in, "Name"), &b))
        return NB_ERROR;
    const char *desc = nb_str(in, "Description");
    if (desc) {
        static sqlite3_stmt *s;
        sqlite3_stmt *st = nb_stmt(&s, "UPDATE events_buses SET description = ?, modified_ms = ? WHERE id = ?");
        sqlite3_bind_text(st, 1, desc, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, call->now_ms);
        sqlite3_bind_int64(st, 3, b.id);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    char arn[400];
    ev_bus_arn(&b, arn, sizeof arn);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Arn", json_object_new_string(arn));
    json_object_object_add(call->out, "Name", json_object_new_string(b.name));
    if (desc)
        json_object_object_add(call->out, "Description", json_object_new_string(desc));
    return NB_OK;
}

/* ---- permissions ------------------------------------------------------------------------ */

static json_object *load_policy(const ev_bus *b)
{
    sqlite3_stmt *st = bus_row(b);
    json_object *p = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 4) != SQLITE_NULL)
        p = json_tokener_parse(ev_col(st, 4));
    sqlite3_reset(st);
    return p;
}

static void store_policy(const nb_call *call, const ev_bus *b, json_object *policy)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE events_buses SET policy = ?, modified_ms = ? WHERE id = ?");
    nb_buf buf = {0};
    if (policy) {
        nb_json_write(&buf, policy);
        sqlite3_bind_text(st, 1, buf.data, (int)buf.len, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 2, call->now_ms);
    sqlite3_bind_int64(st, 3, b->id);
    sqlite3_step(st);
    sqlite3_reset(st);
    nb_buf_free(&buf);
}

static json_object *statements(json_object *policy)
{
    json_object *s = nb_get(policy, "Statement");
    return s && json_object_is_type(s, json_type_array) ? s : NULL;
}

static nb_status put_permission(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "EventBusName");
    if (name && !ev_check_name(call, name, "eventBusName", false))
        return NB_ERROR;
    ev_bus b;
    if (!ev_bus_resolve(call, name, &b))
        return NB_ERROR;
    const char *text = nb_str(in, "Policy");
    if (text) {
        json_object *p = json_tokener_parse(text);
        if (!p || !json_object_is_type(p, json_type_object) || !statements(p)) {
            json_object_put(p);
            return nb_fail(call, "ValidationException", "This policy contains invalid Json");
        }
        store_policy(call, &b, p);
        json_object_put(p);
        return NB_OK;
    }
    const char *action = nb_str(in, "Action"), *principal = nb_str(in, "Principal"),
               *sid = nb_str(in, "StatementId");
    json_object *cond = nb_get(in, "Condition");
    if (!principal)
        return nb_fail(call, "ValidationException", "Parameter Principal must be specified.");
    if (!sid)
        return nb_fail(call, "ValidationException", "Parameter StatementId must be specified.");
    if (!action || strcmp(action, "events:PutEvents"))
        return nb_fail(call, "ValidationException", "Provided value in parameter 'action' is not supported.");
    if (cond && strcmp(principal, "*"))
        return nb_fail(call, "ValidationException",
                       "Value of the parameter 'principal' must be '*' when the parameter 'condition' is set.");
    if (strcmp(principal, "*") && (strlen(principal) != 12 || strspn(principal, "0123456789") != 12))
        return nb_fail(call, "ValidationException",
                       "1 validation error detected: Value '%s' at 'principal' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: (\\d{12}|\\*)", principal);
    json_object *stmt = json_object_new_object();
    json_object_object_add(stmt, "Sid", json_object_new_string(sid));
    json_object_object_add(stmt, "Effect", json_object_new_string("Allow"));
    if (!strcmp(principal, "*")) {
        json_object_object_add(stmt, "Principal", json_object_new_string("*"));
    } else {
        char p[64];
        snprintf(p, sizeof p, "arn:aws:iam::%s:root", principal);
        json_object *po = json_object_new_object();
        json_object_object_add(po, "AWS", json_object_new_string(p));
        json_object_object_add(stmt, "Principal", po);
    }
    json_object_object_add(stmt, "Action", json_object_new_string(action));
    char arn[400];
    ev_bus_arn(&b, arn, sizeof arn);
    json_object_object_add(stmt, "Resource", json_object_new_string(arn));
    if (cond) {
        json_object *kv = json_object_new_object();
        json_object_object_add(kv, nb_str(cond, "Key"), json_object_new_string(nb_str(cond, "Value")));
        json_object *c = json_object_new_object();
        json_object_object_add(c, nb_str(cond, "Type"), kv);
        json_object_object_add(stmt, "Condition", c);
    }
    json_object *policy = load_policy(&b);
    if (!policy || !statements(policy)) {
        json_object_put(policy);
        policy = json_object_new_object();
        json_object_object_add(policy, "Version", json_object_new_string("2012-10-17"));
        json_object_object_add(policy, "Statement", json_object_new_array());
    }
    json_object *list = statements(policy);
    size_t i = 0;
    for (; i < json_object_array_length(list); i++) {
        const char *s = nb_str(json_object_array_get_idx(list, i), "Sid");
        if (s && !strcmp(s, sid))
            break;
    }
    if (i < json_object_array_length(list))
        json_object_array_put_idx(list, i, stmt);
    else
        json_object_array_add(list, stmt);
    store_policy(call, &b, policy);
    json_object_put(policy);
    return NB_OK;
}

static nb_status remove_permission(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "EventBusName"), *sid = nb_str(in, "StatementId");
    bool all = false;
    nb_bool(in, "RemoveAllPermissions", &all);
    if (name && !ev_check_name(call, name, "eventBusName", false))
        return NB_ERROR;
    ev_bus b;
    if (!ev_bus_resolve(call, name, &b))
        return NB_ERROR;
    json_object *policy = load_policy(&b);
    if (all) {
        json_object_put(policy);
        store_policy(call, &b, NULL);
        return NB_OK;
    }
    if (!sid) {
        json_object_put(policy);
        return nb_fail(call, "ValidationException", "Parameter StatementId is required.");
    }
    json_object *list = statements(policy);
    if (!list || json_object_array_length(list) == 0) {
        json_object_put(policy);
        return nb_fail(call, "ResourceNotFoundException", "EventBus does not have a policy.");
    }
    size_t n = json_object_array_length(list), i = 0;
    for (; i < n; i++) {
        const char *s = nb_str(json_object_array_get_idx(list, i), "Sid");
        if (s && !strcmp(s, sid))
            break;
    }
    if (i == n) {
        json_object_put(policy);
        return nb_fail(call, "ResourceNotFoundException", "Statement with the provided id does not exist.");
    }
    json_object_array_del_idx(list, i, 1);
    store_policy(call, &b, json_object_array_length(list) ? policy : NULL);
    json_object_put(policy);
    return NB_OK;
}

/* ---- tags ---------------------------------------------------------------------------------- */

void ev_tags_put(const char *arn, json_object *tags)
{
    static sqlite3_stmt *s;
    for (size_t i = 0; tags && i < json_object_array_length(tags); i++) {
        json_object *t = json_object_array_get_idx(tags, i);
        sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO events_tags(arn, k, v) VALUES (?, ?, ?)");
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, nb_str(t, "Key"), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, nb_str(t, "Value"), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

void ev_tags_drop(const char *arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM events_tags WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* The resource an ARN names must exist: a bus or a rule. */
static bool tag_target(nb_call *call, const char *arn)
{
    char region[32], account[16];
    const char *res;
    if (!parse_arn(arn, region, account, &res) || strcmp(account, call->account) ||
        strcmp(region, call->region)) {
        nb_fail(call, "ValidationException", "Parameter ResourceARN is not valid.");
        return false;
    }
    ev_bus b;
    if (!strncmp(res, "event-bus/", 10)) {
        if (ev_bus_lookup(account, region, res + 10, &b))
            return true;
        nb_fail(call, "ResourceNotFoundException", "Event bus %s does not exist.", res + 10);
        return false;
    }
    if (!strncmp(res, "rule/", 5)) {
        const char *r = res + 5, *slash = strrchr(r, '/');
        char bus[260] = "default";
        if (slash)
            snprintf(bus, sizeof bus, "%.*s", (int)(slash - r), r);
        const char *rule = slash ? slash + 1 : r;
        if (ev_bus_lookup(account, region, bus, &b) && ev_rule_id(b.id, rule))
            return true;
        nb_fail(call, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", rule, bus);
        return false;
    }
    nb_fail(call, "ValidationException", "Parameter ResourceARN is not valid.");
    return false;
}

static nb_status tag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceARN");
    if (!tag_target(call, arn))
        return NB_ERROR;
    json_object *tags = nb_get(in, "Tags");
    for (size_t i = 0; i < json_object_array_length(tags); i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(nb_str(json_object_array_get_idx(tags, i), "Key"),
                        nb_str(json_object_array_get_idx(tags, j), "Key")))
                return nb_fail(call, "ValidationException", "Invalid parameter: Duplicated keys are not allowed.");
    ev_tags_put(arn, tags);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT COUNT(*) FROM events_tags WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (n > EV_MAX_TAGS)
        return nb_fail(call, "LimitExceededException",
                       "The request exceeds the maximum number of tags (%d) for the resource.", EV_MAX_TAGS);
    call->out = json_object_new_object();
    return NB_OK;
}

static nb_status untag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceARN");
    if (!tag_target(call, arn))
        return NB_ERROR;
    json_object *keys = nb_get(in, "TagKeys");
    static sqlite3_stmt *s;
    for (size_t i = 0; keys && i < json_object_array_length(keys); i++) {
        sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM events_tags WHERE arn = ? AND k = ?");
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_object_get_string(json_object_array_get_idx(keys, i)), -1,
                          SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    call->out = json_object_new_object();
    return NB_OK;
}

static nb_status list_tags(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceARN");
    if (!tag_target(call, arn))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT k, v FROM events_tags WHERE arn = ? ORDER BY k");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    json_object *list = json_object_new_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "Key", json_object_new_string(ev_col(st, 0)));
        json_object_object_add(t, "Value", json_object_new_string(ev_col(st, 1)));
        json_object_array_add(list, t);
    }
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Tags", list);
    return NB_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int events_init(struct nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    return ev_put_init();
}

static void events_reset(void)
{
    ev_api_reset();
    ev_put_reset();
}

static void events_shutdown(void)
{
    ev_api_shutdown();
    ev_put_shutdown();
    pats_clear();
}

static const nb_op_entry events_ops[] = {
    {"CreateApiDestination", ev_create_api_destination},
    {"CreateConnection", ev_create_connection},
    {"DeauthorizeConnection", ev_deauthorize_connection},
    {"DeleteApiDestination", ev_delete_api_destination},
    {"DeleteConnection", ev_delete_connection},
    {"DescribeApiDestination", ev_describe_api_destination},
    {"DescribeConnection", ev_describe_connection},
    {"ListApiDestinations", ev_list_api_destinations},
    {"ListConnections", ev_list_connections},
    {"UpdateApiDestination", ev_update_api_destination},
    {"UpdateConnection", ev_update_connection},
    {"CancelReplay", ev_cancel_replay},
    {"CreateArchive", ev_create_archive},
    {"DeleteArchive", ev_delete_archive},
    {"DescribeArchive", ev_describe_archive},
    {"DescribeReplay", ev_describe_replay},
    {"ListArchives", ev_list_archives},
    {"ListReplays", ev_list_replays},
    {"StartReplay", ev_start_replay},
    {"UpdateArchive", ev_update_archive},
    {"CreateEventBus", create_event_bus},
    {"DeleteEventBus", delete_event_bus},
    {"DeleteRule", ev_delete_rule},
    {"DescribeEventBus", describe_event_bus},
    {"DescribeRule", ev_describe_rule},
    {"DisableRule", ev_disable_rule},
    {"EnableRule", ev_enable_rule},
    {"ListEventBuses", list_event_buses},
    {"ListRuleNamesByTarget", ev_list_rule_names_by_target},
    {"ListRules", ev_list_rules},
    {"ListTagsForResource", list_tags},
    {"ListTargetsByRule", ev_list_targets_by_rule},
    {"PutEvents", ev_put_events},
    {"PutPermission", put_permission},
    {"PutRule", ev_put_rule},
    {"PutTargets", ev_put_targets},
    {"RemovePermission", remove_permission},
    {"RemoveTargets", ev_remove_targets},
    {"TagResource", tag_resource},
    {"TestEventPattern", ev_test_event_pattern},
    {"UntagResource", untag_resource},
    {"UpdateEventBus", update_event_bus},
    {NULL, NULL},
};

const nb_service nb_service_events = {
    .name = "events",
    .model = &nb_model_events,
    .ops = events_ops,
    .init = events_init,
    .reset = events_reset,
    .shutdown = events_shutdown,
};
