/*
 * sfn.c — the Step Functions service (awsJson 1.0, AWSStepFunctions.*):
 * descriptor, schema, state machines (create, describe, update, delete,
 * list, tags, ValidateStateMachineDefinition) and the execution control
 * plane (start, sync start, describe, stop, list, history).  The engine is
 * sfn_exec.c; the language asl_*.c.  Storage: see sfn_internal.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/models.h"
#include "sfn_internal.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS sfn_machines("
    " arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " type TEXT NOT NULL, definition TEXT NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, revision TEXT NOT NULL, description TEXT);"
    "CREATE TABLE IF NOT EXISTS sfn_tags(arn TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL,"
    " PRIMARY KEY(arn, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sfn_execs("
    " id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, sm_arn TEXT NOT NULL, name TEXT NOT NULL,"
    " status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT,"
    " start_ms INTEGER NOT NULL, stop_ms INTEGER, definition TEXT NOT NULL, role TEXT NOT NULL,"
    " snapshot TEXT, account TEXT NOT NULL, region TEXT NOT NULL, host TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sfn_execs_sm ON sfn_execs(sm_arn, start_ms);"
    "CREATE TABLE IF NOT EXISTS sfn_history(exec_id INTEGER NOT NULL, id INTEGER NOT NULL,"
    " prev INTEGER NOT NULL, type TEXT NOT NULL, ts_ms INTEGER NOT NULL, detail TEXT,"
    " PRIMARY KEY(exec_id, id)) WITHOUT ROWID;";

static const char *const TABLES[] = {"sfn_machines", "sfn_tags", "sfn_execs", "sfn_history", NULL};

/* ---- names and ARNs ----------------------------------------------------------------- */

static bool name_ok(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 80)
        return false;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", *p))
            return false;
    return true;
}

static nb_status invalid_arn(nb_call *call, const char *arn)
{
    return nb_fail(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn);
}

/* arn:aws:states:REGION:ACCOUNT:KIND:NAME[:...] */
static bool arn_kind(const char *arn, const char *kind)
{
    const char *p = arn;
    if (strncmp(p, "arn:", 4))
        return false;
    for (int i = 0; i < 5; i++) {
        p = strchr(p, ':');
        if (!p)
            return false;
        p++;
    }
    size_t kl = strlen(kind);
    return !strncmp(p, kind, kl) && p[kl] == ':' && p[kl + 1];
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *jtime(int64_t ms)
{
    return json_object_new_double((double)ms / 1000.0);
}

/* ---- state machines --------------------------------------------------------------------- */

typedef struct machine {
    char arn[400], name[96], type[16], role[400], revision[40];
    char *definition, *description;
    int64_t created_ms, updated_ms;
} machine;

static void machine_free(machine *m)
{
    free(m->definition);
    free(m->description);
}

static bool machine_get(const char *arn, machine *m)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT arn, name, type, role, revision, definition, description, created_ms,"
                                   " updated_ms FROM sfn_machines WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        memset(m, 0, sizeof *m);
        snprintf(m->arn, sizeof m->arn, "%s", sfn_col(st, 0));
        snprintf(m->name, sizeof m->name, "%s", sfn_col(st, 1));
        snprintf(m->type, sizeof m->type, "%s", sfn_col(st, 2));
        snprintf(m->role, sizeof m->role, "%s", sfn_col(st, 3));
        snprintf(m->revision, sizeof m->revision, "%s", sfn_col(st, 4));
        m->definition = nb_strdup(sfn_col(st, 5));
        m->description = sqlite3_column_type(st, 6) == SQLITE_NULL ? NULL : nb_strdup(sfn_col(st, 6));
        m->created_ms = sqlite3_column_int64(st, 7);
        m->updated_ms = sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    return found;
}

static nb_status no_machine(nb_call *call, const char *arn)
{
    return nb_fail(call, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
}

static bool check_definition(nb_call *call, const char *def)
{
    char msg[2400];
    if (asl_validate_message(def, msg, sizeof msg) == 0)
        return true;
    nb_fail(call, "InvalidDefinition", "%s", msg);
    return false;
}

static void put_tags(const char *arn, json_object *tags)
{
    static sqlite3_stmt *s;
    if (!json_object_is_type(tags, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(tags); i++) {
        json_object *t = json_object_array_get_idx(tags, i);
        sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO sfn_tags(arn, k, v) VALUES(?,?,?)");
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, nb_str(t, "key") ? nb_str(t, "key") : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, nb_str(t, "value") ? nb_str(t, "value") : "", -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

static nb_status create_sm(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "name"), *def = nb_str(in, "definition"), *role = nb_str(in, "roleArn");
    const char *type = nb_str(in, "type") ? nb_str(in, "type") : "STANDARD";
    if (!name_ok(name))
        return nb_fail(call, "InvalidName", "Invalid Name: '%s'", name);
    if (!check_definition(call, def) || !sfn_publish_check(call, in))
        return NB_ERROR;
    char arn[400];
    snprintf(arn, sizeof arn, "arn:aws:states:%s:%s:stateMachine:%s", call->region, call->account, name);
    machine m;
    if (machine_get(arn, &m)) {
        bool same = !strcmp(m.definition, def) && !strcmp(m.role, role) && !strcmp(m.type, type);
        int64_t created = m.created_ms;
        machine_free(&m);
        if (!same)
            return nb_fail(call, "StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn);
        call->out = json_object_new_object();
        json_object_object_add(call->out, "stateMachineArn", jstr(arn));
        json_object_object_add(call->out, "creationDate", jtime(created));
        return sfn_publish_after(call, in, arn) ? NB_OK : NB_ERROR;
    }
    char rev[37];
    nb_uuid(rev);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT INTO sfn_machines(arn, account, region, name, type, definition, role,"
                                   " created_ms, updated_ms, revision, description) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, call->account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, call->region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, def, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, call->now_ms);
    sqlite3_bind_int64(st, 9, call->now_ms);
    sqlite3_bind_text(st, 10, rev, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    put_tags(arn, nb_get(in, "tags"));
    call->out = json_object_new_object();
    json_object_object_add(call->out, "stateMachineArn", jstr(arn));
    json_object_object_add(call->out, "creationDate", jtime(call->now_ms));
    return sfn_publish_after(call, in, arn) ? NB_OK : NB_ERROR;
}

static void describe_into(json_object *o, const machine *m, bool for_exec)
{
    json_object_object_add(o, "stateMachineArn", jstr(m->arn));
    json_object_object_add(o, "name", jstr(m->name));
    json_object_object_add(o, "definition", jstr(m->definition));
    json_object_object_add(o, "roleArn", jstr(m->role));
    json_object_object_add(o, "revisionId", jstr(m->revision));
    json_object *lc = json_object_new_object();
    json_object_object_add(lc, "level", jstr("OFF"));
    json_object_object_add(lc, "includeExecutionData", json_object_new_boolean(0));
    json_object_object_add(o, "loggingConfiguration", lc);
    json_object *tc = json_object_new_object();
    json_object_object_add(tc, "enabled", json_object_new_boolean(0));
    json_object_object_add(o, "tracingConfiguration", tc);
    if (for_exec) {
        json_object_object_add(o, "updateDate", jtime(m->updated_ms));
        return;
    }
    json_object_object_add(o, "status", jstr("ACTIVE"));
    json_object_object_add(o, "type", jstr(m->type));
    json_object_object_add(o, "creationDate", jtime(m->created_ms));
    if (m->description)
        json_object_object_add(o, "description", jstr(m->description));
}

static nb_status describe_sm(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineArn");
    if (!arn_kind(arn, "stateMachine"))
        return invalid_arn(call, arn);
    sfn_target t;
    int q = sfn_qualified(call, arn, false, &t);
    if (q < 0)
        return NB_ERROR;
    machine m;
    if (!machine_get(q ? t.base : arn, &m)) {
        sfn_target_free(&t);
        return no_machine(call, arn);
    }
    if (q) { /* a version: its own definition, role, revision and description */
        nb_copy(m.arn, sizeof m.arn, t.version, strlen(t.version));
        snprintf(m.role, sizeof m.role, "%s", t.role);
        snprintf(m.revision, sizeof m.revision, "%s", t.revision);
        free(m.definition);
        free(m.description);
        m.definition = t.definition;
        m.description = t.description;
        m.created_ms = t.created_ms;
        t.definition = t.description = NULL;
        sfn_target_free(&t);
    }
    call->out = json_object_new_object();
    describe_into(call->out, &m, false);
    machine_free(&m);
    return NB_OK;
}

static nb_status update_sm(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineArn"), *def = nb_str(in, "definition"), *role = nb_str(in, "roleArn");
    if (!arn_kind(arn, "stateMachine"))
        return invalid_arn(call, arn);
    machine m;
    if (!machine_get(arn, &m))
        return no_machine(call, arn);
    machine_free(&m);
    if (!def && !role && !nb_get(in, "loggingConfiguration") && !nb_get(in, "tracingConfiguration"))
        return nb_fail(call, "MissingRequiredParameter",
                       "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified");
    if ((def && !check_definition(call, def)) || !sfn_publish_check(call, in))
        return NB_ERROR;
    char rev[37];
    nb_uuid(rev);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sfn_machines SET definition = COALESCE(?, definition),"
                                   " role = COALESCE(?, role), updated_ms = ?, revision = ? WHERE arn = ?");
    if (def)
        sqlite3_bind_text(st, 1, def, -1, SQLITE_TRANSIENT);
    if (role)
        sqlite3_bind_text(st, 2, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, call->now_ms);
    sqlite3_bind_text(st, 4, rev, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "updateDate", jtime(call->now_ms));
    json_object_object_add(call->out, "revisionId", jstr(rev));
    return sfn_publish_after(call, in, arn) ? NB_OK : NB_ERROR;
}

static nb_status delete_sm(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineArn");
    if (!arn_kind(arn, "stateMachine"))
        return invalid_arn(call, arn);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sfn_machines WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    sfn_drop_tags(arn);
    sfn_versions_drop(arn);
    return NB_OK;
}

/* nextToken: the offset, as text. */
static bool page(nb_call *call, json_object *in, int64_t *off, int64_t *lim)
{
    *off = 0;
    *lim = 100;
    int64_t m;
    if (nb_int(in, "maxResults", &m) && m > 0)
        *lim = m > 1000 ? 1000 : m;
    const char *tok = nb_str(in, "nextToken");
    if (tok) {
        char *end;
        *off = strtoll(tok, &end, 10);
        if (*end || *off < 0) {
            nb_fail(call, "InvalidToken", "Invalid Token: '%s'", tok);
            return false;
        }
    }
    return true;
}

static void next_token(json_object *out, int64_t off, int64_t lim, size_t got)
{
    if ((int64_t)got > lim) {
        char t[32];
        snprintf(t, sizeof t, "%" PRId64, off + lim);
        json_object_object_add(out, "nextToken", jstr(t));
    }
}

/* Up to lim rows of st as a list (row builds each), then the output with
 * key and, when a further row exists, nextToken. */
static nb_status page_out(nb_call *call, sqlite3_stmt *st, const char *key, int64_t off, int64_t lim,
                          json_object *(*row)(sqlite3_stmt *))
{
    json_object *list = json_object_new_array();
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && (int64_t)n++ < lim)
        json_object_array_add(list, row(st));
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, key, list);
    next_token(call->out, off, lim, n);
    return NB_OK;
}

/* For the other control-plane files (sfn_version.c, sfn_activity.c). */
bool sfn_page(nb_call *call, json_object *in, int64_t *off, int64_t *lim)
{
    return page(call, in, off, lim);
}

nb_status sfn_page_out(nb_call *call, sqlite3_stmt *st, const char *key, int64_t off, int64_t lim,
                       json_object *(*row)(sqlite3_stmt *))
{
    return page_out(call, st, key, off, lim, row);
}

bool sfn_name_ok(const char *name)
{
    return name_ok(name);
}

void sfn_put_tags(const char *arn, json_object *tags)
{
    put_tags(arn, tags);
}

void sfn_drop_tags(const char *arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sfn_tags WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static json_object *sm_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "stateMachineArn", jstr(sfn_col(st, 0)));
    json_object_object_add(o, "name", jstr(sfn_col(st, 1)));
    json_object_object_add(o, "type", jstr(sfn_col(st, 2)));
    json_object_object_add(o, "creationDate", jtime(sqlite3_column_int64(st, 3)));
    return o;
}

static nb_status list_sms(nb_call *call, json_object *in)
{
    int64_t off, lim;
    if (!page(call, in, &off, &lim))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT arn, name, type, created_ms FROM sfn_machines WHERE account = ? AND region = ?"
                                   " ORDER BY name LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, lim + 1);
    sqlite3_bind_int64(st, 4, off);
    return page_out(call, st, "stateMachines", off, lim, sm_row);
}

static bool tag_target(nb_call *call, const char *arn)
{
    machine m;
    int act = sfn_activity_tag_target(call, arn);
    if (act)
        return act > 0;
    if (!arn_kind(arn, "stateMachine")) {
        nb_fail(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn);
        return false;
    }
    if (!machine_get(arn, &m)) {
        nb_fail(call, "ResourceNotFound", "Resource not found: '%s'", arn);
        return false;
    }
    machine_free(&m);
    return true;
}

static nb_status tag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "resourceArn");
    if (!tag_target(call, arn))
        return NB_ERROR;
    put_tags(arn, nb_get(in, "tags"));
    return NB_OK;
}

static nb_status untag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "resourceArn");
    if (!tag_target(call, arn))
        return NB_ERROR;
    json_object *keys = nb_get(in, "tagKeys");
    static sqlite3_stmt *s;
    for (size_t i = 0; i < json_object_array_length(keys); i++) {
        sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sfn_tags WHERE arn = ? AND k = ?");
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, json_object_get_string(json_object_array_get_idx(keys, i)), -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    return NB_OK;
}

static nb_status list_tags(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "resourceArn");
    if (!tag_target(call, arn))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT k, v FROM sfn_tags WHERE arn = ? ORDER BY k");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    json_object *list = json_object_new_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "key", jstr(sfn_col(st, 0)));
        json_object_object_add(t, "value", jstr(sfn_col(st, 1)));
        json_object_array_add(list, t);
    }
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "tags", list);
    return NB_OK;
}

static void add_diag(void *arg, const char *code, const char *msg, const char *loc)
{
    json_object *list = arg;
    if (json_object_array_length(list) >= 100)
        return;
    json_object *d = json_object_new_object();
    json_object_object_add(d, "severity", jstr("ERROR"));
    json_object_object_add(d, "code", jstr(code));
    json_object_object_add(d, "message", jstr(msg));
    json_object_object_add(d, "location", jstr(loc));
    json_object_array_add(list, d);
}

static nb_status validate_def(nb_call *call, json_object *in)
{
    json_object *list = json_object_new_array();
    int n = asl_validate(nb_str(in, "definition"), add_diag, list);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "result", jstr(n ? "FAIL" : "OK"));
    json_object_object_add(call->out, "diagnostics", list);
    json_object_object_add(call->out, "truncated", json_object_new_boolean(0));
    return NB_OK;
}

/* ---- executions ------------------------------------------------------------------------------ */

static bool parse_input(nb_call *call, const char *text, json_object **out)
{
    enum json_tokener_error je;
    *out = json_tokener_parse_verbose(text ? text : "{}", &je);
    if (je != json_tokener_success) {
        nb_fail(call, "InvalidExecutionInput", "Invalid State Machine Execution Input: '%s'", json_tokener_error_desc(je));
        return false;
    }
    return true;
}

static nb_status start_common(nb_call *call, json_object *in, bool sync)
{
    const char *sm_arn = nb_str(in, "stateMachineArn"), *name = nb_str(in, "name"), *text = nb_str(in, "input");
    if (!arn_kind(sm_arn, "stateMachine"))
        return invalid_arn(call, sm_arn);
    char gen[37];
    if (!name) {
        nb_uuid(gen);
        name = gen;
    } else if (!name_ok(name))
        return nb_fail(call, "InvalidName", "Invalid Name: '%s'", name);
    if (text && strlen(text) > SFN_MAX_PAYLOAD)
        return nb_fail(call, "InvalidExecutionInput",
                       "Invalid State Machine Execution Input: 'The input exceeds the maximum size of 262144 bytes'");
    sfn_target ver; /* a version or alias ARN: that version runs */
    int q = sfn_qualified(call, sm_arn, true, &ver);
    if (q < 0)
        return NB_ERROR;
    machine m;
    if (!machine_get(q ? ver.base : sm_arn, &m)) {
        sfn_target_free(&ver);
        return no_machine(call, sm_arn);
    }
    if (q) {
        sm_arn = ver.base;
        free(m.definition);
        m.definition = ver.definition;
        ver.definition = NULL;
        snprintf(m.role, sizeof m.role, "%s", ver.role);
        sfn_target_free(&ver);
    }
    bool express = !strcmp(m.type, "EXPRESS");
    if (sync && !express) {
        machine_free(&m);
        return nb_fail(call, "StateMachineTypeNotSupported",
                       "This operation is not supported by this type of state machine");
    }
    json_object *input;
    if (!parse_input(call, text, &input)) {
        machine_free(&m);
        return NB_ERROR;
    }
    char arn[600];
    if (express) {
        char id[37];
        nb_uuid(id);
        snprintf(arn, sizeof arn, "arn:aws:states:%s:%s:express:%s:%s:%s", call->region, call->account, m.name, name, id);
    } else
        snprintf(arn, sizeof arn, "arn:aws:states:%s:%s:execution:%s:%s", call->region, call->account, m.name, name);
    int64_t row = 0;
    if (!express) {
        static sqlite3_stmt *sq, *si;
        sqlite3_stmt *st = nb_stmt(&sq, "SELECT status, input, start_ms FROM sfn_execs WHERE arn = ?");
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            /* Idempotent for the same input while running (AWS). */
            bool same = !strcmp(sfn_col(st, 0), "RUNNING") && !strcmp(sfn_col(st, 1), text ? text : "{}");
            int64_t started = sqlite3_column_int64(st, 2);
            sqlite3_reset(st);
            machine_free(&m);
            json_object_put(input);
            if (!same)
                return nb_fail(call, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn);
            call->out = json_object_new_object();
            json_object_object_add(call->out, "executionArn", jstr(arn));
            json_object_object_add(call->out, "startDate", jtime(started));
            return NB_OK;
        }
        sqlite3_reset(st);
        st = nb_stmt(&si, "INSERT INTO sfn_execs(arn, sm_arn, name, status, input, start_ms, definition, role,"
                          " account, region, host) VALUES(?,?,?,'RUNNING',?,?,?,?,?,?,?)");
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, sm_arn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, text ? text : "{}", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, call->now_ms);
        sqlite3_bind_text(st, 6, m.definition, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 7, m.role, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 8, call->account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 9, call->region, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 10, call->host, -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
        row = sqlite3_last_insert_rowid(nb_db());
        if (q)
            sfn_exec_link(arn, &ver);
    }
    sfn_start s = {.row = row, .arn = arn, .sm_arn = sm_arn, .sm_name = m.name, .name = name, .role = m.role,
                   .definition = m.definition, .input = input, .start_ms = call->now_ms, .express = express};
    int rc = sfn_exec_start(call, &s, sync ? call : NULL);
    machine_free(&m);
    json_object_put(input);
    if (rc < 0)
        return nb_fail(call, "InvalidDefinition", "Invalid State Machine Definition");
    if (sync)
        return rc == 1 ? NB_OK : NB_PENDING;
    call->out = json_object_new_object();
    json_object_object_add(call->out, "executionArn", jstr(arn));
    json_object_object_add(call->out, "startDate", jtime(call->now_ms));
    return NB_OK;
}

static nb_status start_exec(nb_call *call, json_object *in)
{
    return start_common(call, in, false);
}

static nb_status start_sync(nb_call *call, json_object *in)
{
    return start_common(call, in, true);
}

static const char EXEC_COLS[] = "id, arn, sm_arn, name, status, input, output, error, cause, start_ms, stop_ms,"
                                " definition, role";

static bool exec_get(nb_call *call, const char *arn, sqlite3_stmt **out)
{
    if (!arn_kind(arn, "execution")) {
        invalid_arn(call, arn);
        return false;
    }
    static sqlite3_stmt *s;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM sfn_execs WHERE arn = ?", EXEC_COLS);
    sqlite3_stmt *st = nb_stmt(&s, sql);
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        nb_fail(call, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
        return false;
    }
    *out = st;
    return true;
}

static nb_status describe_exec(nb_call *call, json_object *in)
{
    sqlite3_stmt *st;
    if (!exec_get(call, nb_str(in, "executionArn"), &st))
        return NB_ERROR;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "executionArn", jstr(sfn_col(st, 1)));
    json_object_object_add(o, "stateMachineArn", jstr(sfn_col(st, 2)));
    json_object_object_add(o, "name", jstr(sfn_col(st, 3)));
    json_object_object_add(o, "status", jstr(sfn_col(st, 4)));
    json_object_object_add(o, "input", jstr(sfn_col(st, 5)));
    json_object *inc = json_object_new_object();
    json_object_object_add(inc, "included", json_object_new_boolean(1));
    json_object_object_add(o, "inputDetails", inc);
    if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
        json_object_object_add(o, "output", jstr(sfn_col(st, 6)));
        json_object *oc = json_object_new_object();
        json_object_object_add(oc, "included", json_object_new_boolean(1));
        json_object_object_add(o, "outputDetails", oc);
    }
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        json_object_object_add(o, "error", jstr(sfn_col(st, 7)));
    if (sqlite3_column_type(st, 8) != SQLITE_NULL)
        json_object_object_add(o, "cause", jstr(sfn_col(st, 8)));
    json_object_object_add(o, "startDate", jtime(sqlite3_column_int64(st, 9)));
    if (sqlite3_column_type(st, 10) != SQLITE_NULL)
        json_object_object_add(o, "stopDate", jtime(sqlite3_column_int64(st, 10)));
    sfn_exec_link_describe(o, sfn_col(st, 1));
    sfn_redrive_fields(o, sqlite3_column_int64(st, 0), sfn_col(st, 4), sqlite3_column_int64(st, 10), true);
    sqlite3_reset(st);
    call->out = o;
    return NB_OK;
}

static nb_status describe_sm_for_exec(nb_call *call, json_object *in)
{
    sqlite3_stmt *st;
    if (!exec_get(call, nb_str(in, "executionArn"), &st))
        return NB_ERROR;
    machine m;
    memset(&m, 0, sizeof m);
    const char *sm = sfn_col(st, 2), *colon = strrchr(sm, ':');
    snprintf(m.arn, sizeof m.arn, "%s", sm);
    snprintf(m.name, sizeof m.name, "%s", colon ? colon + 1 : sm);
    snprintf(m.role, sizeof m.role, "%s", sfn_col(st, 12));
    m.definition = nb_strdup(sfn_col(st, 11));
    m.updated_ms = sqlite3_column_int64(st, 9);
    sqlite3_reset(st);
    call->out = json_object_new_object();
    describe_into(call->out, &m, true);
    sfn_exec_link_describe_sm(call->out, nb_str(in, "executionArn"));
    machine_free(&m);
    return NB_OK;
}

static nb_status stop_exec(nb_call *call, json_object *in)
{
    sqlite3_stmt *st;
    if (!exec_get(call, nb_str(in, "executionArn"), &st))
        return NB_ERROR;
    int64_t row = sqlite3_column_int64(st, 0);
    bool running = !strcmp(sfn_col(st, 4), "RUNNING");
    int64_t stopped = sqlite3_column_int64(st, 10);
    sqlite3_reset(st);
    if (running) {
        const char *error = nb_str(in, "error"), *cause = nb_str(in, "cause");
        sfn_exec_stop(row, error, cause, call->now_ms);
        static sqlite3_stmt *s;
        st = nb_stmt(&s, "UPDATE sfn_execs SET status = 'ABORTED', stop_ms = ?, error = ?, cause = ?, snapshot = NULL"
                         " WHERE id = ?");
        sqlite3_bind_int64(st, 1, call->now_ms);
        if (error)
            sqlite3_bind_text(st, 2, error, -1, SQLITE_TRANSIENT);
        if (cause)
            sqlite3_bind_text(st, 3, cause, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, row);
        sqlite3_step(st);
        sqlite3_reset(st);
        stopped = call->now_ms;
    }
    call->out = json_object_new_object();
    json_object_object_add(call->out, "stopDate", jtime(stopped));
    return NB_OK;
}

static json_object *exec_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "executionArn", jstr(sfn_col(st, 0)));
    json_object_object_add(o, "stateMachineArn", jstr(sfn_col(st, 1)));
    json_object_object_add(o, "name", jstr(sfn_col(st, 2)));
    json_object_object_add(o, "status", jstr(sfn_col(st, 3)));
    json_object_object_add(o, "startDate", jtime(sqlite3_column_int64(st, 4)));
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        json_object_object_add(o, "stopDate", jtime(sqlite3_column_int64(st, 5)));
    sfn_redrive_fields(o, sqlite3_column_int64(st, 6), sfn_col(st, 3), sqlite3_column_int64(st, 5), false);
    return o;
}

static json_object *event_row(sqlite3_stmt *st)
{
    json_object *e = sqlite3_column_type(st, 4) != SQLITE_NULL ? json_tokener_parse(sfn_col(st, 4)) : NULL;
    if (!e)
        e = json_object_new_object();
    json_object_object_add(e, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(e, "previousEventId", json_object_new_int64(sqlite3_column_int64(st, 1)));
    json_object_object_add(e, "type", jstr(sfn_col(st, 2)));
    json_object_object_add(e, "timestamp", jtime(sqlite3_column_int64(st, 3)));
    return e;
}

static nb_status list_execs(nb_call *call, json_object *in)
{
    const char *sm = nb_str(in, "stateMachineArn"), *status = nb_str(in, "statusFilter");
    const char *redrive = nb_str(in, "redriveFilter");
    if (!sm)
        return nb_fail(call, "ValidationException", "Must provide a StateMachine ARN or MapRun ARN");
    if (!arn_kind(sm, "stateMachine"))
        return invalid_arn(call, sm);
    nb_status qs;
    if (sfn_list_execs_qualified(call, in, &qs)) /* a version or alias ARN */
        return qs;
    machine m;
    if (!machine_get(sm, &m))
        return no_machine(call, sm);
    bool express = !strcmp(m.type, "EXPRESS");
    machine_free(&m);
    if (express)
        return nb_fail(call, "StateMachineTypeNotSupported", "This operation is not supported by this type of state machine");
    int64_t off, lim;
    if (!page(call, in, &off, &lim))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT arn, sm_arn, name, status, start_ms, stop_ms, id FROM sfn_execs"
                                   " WHERE sm_arn = ? AND (?2 IS NULL OR status = ?2)"
                                   " AND (?5 IS NULL OR (?5 = 'REDRIVEN') = EXISTS(SELECT 1 FROM sfn_redrive r"
                                   " WHERE r.exec_id = sfn_execs.id AND r.count > 0))"
                                   " ORDER BY start_ms DESC, id DESC LIMIT ?3 OFFSET ?4");
    sqlite3_bind_text(st, 1, sm, -1, SQLITE_TRANSIENT);
    if (status)
        sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, lim + 1);
    sqlite3_bind_int64(st, 4, off);
    if (redrive)
        sqlite3_bind_text(st, 5, redrive, -1, SQLITE_TRANSIENT);
    return page_out(call, st, "executions", off, lim, exec_row);
}

static nb_status history(nb_call *call, json_object *in)
{
    sqlite3_stmt *st;
    if (!exec_get(call, nb_str(in, "executionArn"), &st))
        return NB_ERROR;
    int64_t row = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    int64_t off, lim;
    if (!page(call, in, &off, &lim))
        return NB_ERROR;
    bool rev = false;
    nb_bool(in, "reverseOrder", &rev);
    static sqlite3_stmt *sa, *sd;
    st = rev ? nb_stmt(&sd, "SELECT id, prev, type, ts_ms, detail FROM sfn_history WHERE exec_id = ?"
                            " ORDER BY id DESC LIMIT ? OFFSET ?")
             : nb_stmt(&sa, "SELECT id, prev, type, ts_ms, detail FROM sfn_history WHERE exec_id = ?"
                            " ORDER BY id LIMIT ? OFFSET ?");
    sqlite3_bind_int64(st, 1, row);
    sqlite3_bind_int64(st, 2, lim + 1);
    sqlite3_bind_int64(st, 3, off);
    return page_out(call, st, "events", off, lim, event_row);
}

/* ---- task tokens (.waitForTaskToken) ---------------------------------------------------------- */

/* A token nimbus never issued is InvalidToken; one whose task ended
 * (answered, timed out, execution stopped) is TaskTimedOut, as on AWS. */
static nb_status no_task(nb_call *call, const char *token)
{
    if (!sfn_token_well_formed(token))
        return nb_fail(call, "InvalidToken", "Invalid token");
    return nb_fail(call, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'");
}

static nb_status task_success(nb_call *call, json_object *in)
{
    json_object *output;
    enum json_tokener_error je;
    output = json_tokener_parse_verbose(nb_str(in, "output"), &je);
    if (je != json_tokener_success)
        return nb_fail(call, "InvalidOutput", "Invalid State Machine Execution Output: '%s'", json_tokener_error_desc(je));
    int rc = sfn_task_token(nb_str(in, "taskToken"), output, NULL, NULL, false);
    json_object_put(output);
    return rc < 0 ? no_task(call, nb_str(in, "taskToken")) : NB_OK;
}

static nb_status task_failure(nb_call *call, json_object *in)
{
    const char *error = nb_str(in, "error"), *cause = nb_str(in, "cause");
    return sfn_task_token(nb_str(in, "taskToken"), NULL, error ? error : "", cause ? cause : "", false) < 0
               ? no_task(call, nb_str(in, "taskToken"))
               : NB_OK;
}

static nb_status task_heartbeat(nb_call *call, json_object *in)
{
    return sfn_task_token(nb_str(in, "taskToken"), NULL, NULL, NULL, true) < 0 ? no_task(call, nb_str(in, "taskToken"))
                                                                                : NB_OK;
}

/* ---- the service ---------------------------------------------------------------------------- */

static int sfn_init(nb_store *store)
{
    (void)store;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    if (sfn_version_init() != 0)
        return -1;
    return sfn_exec_init();
}

static const nb_op_entry sfn_ops[] = {
    {"CreateStateMachine", create_sm},
    {"DescribeStateMachine", describe_sm},
    {"UpdateStateMachine", update_sm},
    {"DeleteStateMachine", delete_sm},
    {"ListStateMachines", list_sms},
    {"TagResource", tag_resource},
    {"UntagResource", untag_resource},
    {"ListTagsForResource", list_tags},
    {"ValidateStateMachineDefinition", validate_def},
    {"StartExecution", start_exec},
    {"StartSyncExecution", start_sync},
    {"DescribeExecution", describe_exec},
    {"DescribeStateMachineForExecution", describe_sm_for_exec},
    {"StopExecution", stop_exec},
    {"ListExecutions", list_execs},
    {"GetExecutionHistory", history},
    {"SendTaskSuccess", task_success},
    {"SendTaskFailure", task_failure},
    {"SendTaskHeartbeat", task_heartbeat},
    {"PublishStateMachineVersion", sfn_publish_version},
    {"ListStateMachineVersions", sfn_list_versions},
    {"DeleteStateMachineVersion", sfn_delete_version},
    {"CreateStateMachineAlias", sfn_create_alias},
    {"DescribeStateMachineAlias", sfn_describe_alias},
    {"UpdateStateMachineAlias", sfn_update_alias},
    {"DeleteStateMachineAlias", sfn_delete_alias},
    {"ListStateMachineAliases", sfn_list_aliases},
    {"TestState", sfn_test_state},
    {"CreateActivity", sfn_create_activity},
    {"DescribeActivity", sfn_describe_activity},
    {"DeleteActivity", sfn_delete_activity},
    {"ListActivities", sfn_list_activities},
    {"GetActivityTask", sfn_get_activity_task},
    {"RedriveExecution", sfn_redrive_execution},
    {NULL, NULL},
};

const nb_service nb_service_stepfunctions = {
    .name = "states",
    .model = &nb_model_stepfunctions,
    .ops = sfn_ops,
    .init = sfn_init,
    .reset = sfn_exec_reset,
    .shutdown = sfn_exec_shutdown,
};
