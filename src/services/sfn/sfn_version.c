/*
 * sfn_version.c — state machine versions and aliases.
 *
 * A version is an immutable copy of a state machine's definition and role
 * at one revision, numbered from 1 per state machine (numbers are never
 * reused, even after DeleteStateMachineVersion); its ARN is the state
 * machine's ARN plus ":N".  An alias (ARN: the state machine's plus
 * ":NAME") routes executions to one or two versions by weight.  Executions
 * started from a version or alias run that version's definition; the link
 * is kept in sfn_exec_links for DescribeExecution.  Schema: see
 * sfn_internal.h.
 *
 * Invariants: a version referenced by an alias cannot be deleted; deleting
 * the state machine deletes its versions and aliases.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_internal.h"

#define MAX_VERSIONS 1000
#define MAX_ALIASES 100

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS sfn_versions(sm_arn TEXT NOT NULL, version INTEGER NOT NULL,"
    " definition TEXT NOT NULL, role TEXT NOT NULL, revision TEXT NOT NULL, description TEXT,"
    " created_ms INTEGER NOT NULL, PRIMARY KEY(sm_arn, version)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sfn_version_seq(sm_arn TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sfn_aliases(arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, name TEXT NOT NULL,"
    " description TEXT, routing TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sfn_aliases_sm ON sfn_aliases(sm_arn, name);"
    "CREATE TABLE IF NOT EXISTS sfn_exec_links(exec_arn TEXT PRIMARY KEY, version_arn TEXT NOT NULL,"
    " alias_arn TEXT, revision TEXT NOT NULL) WITHOUT ROWID;";

static const char *const TABLES[] = {"sfn_versions", "sfn_version_seq", "sfn_aliases", "sfn_exec_links", NULL};

int sfn_version_init(void)
{
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    return 0;
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *jtime(int64_t ms)
{
    return json_object_new_double((double)ms / 1000.0);
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* ---- ARNs ------------------------------------------------------------------------------------ */

/* arn:aws:states:R:A:stateMachine:NAME[:QUALIFIER]: the qualifier, or NULL
 * when there is none (or arn is not a state machine ARN); base gets the
 * unqualified ARN. */
static const char *qualifier(const char *arn, char *base, size_t n)
{
    if (!arn || strncmp(arn, "arn:", 4))
        return NULL;
    const char *p = arn;
    for (int i = 0; i < 5; i++) {
        p = strchr(p, ':');
        if (!p)
            return NULL;
        p++;
    }
    if (strncmp(p, "stateMachine:", 13))
        return NULL;
    const char *q = strchr(p + 13, ':');
    if (!q || q == p + 13 || !q[1])
        return NULL;
    nb_copy(base, n, arn, (size_t)(q - arn));
    return q + 1;
}

/* A state machine ARN without a qualifier. */
static bool unqualified(const char *arn)
{
    char base[400];
    return arn && !strncmp(arn, "arn:", 4) && strstr(arn, ":stateMachine:") && !qualifier(arn, base, sizeof base);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* A version ARN: its state machine and number. */
static bool version_arn(const char *arn, char *base, size_t n, int64_t *num)
{
    const char *q = qualifier(arn, base, n);
    if (!q || !all_digits(q) || strlen(q) > 9)
        return false;
    *num = strtoll(q, NULL, 10);
    return *num > 0;
}

static bool alias_arn(const char *arn, char *base, size_t n)
{
    const char *q = qualifier(arn, base, n);
    return q && !all_digits(q);
}

static nb_status invalid_arn(nb_call *call, const char *arn)
{
    return nb_fail(call, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn ? arn : "");
}

static nb_status no_machine(nb_call *call, const char *arn)
{
    return nb_fail(call, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn);
}

static nb_status not_found(nb_call *call, const char *arn)
{
    return nb_fail(call, "ResourceNotFound", "Resource not found: '%s'", arn);
}

static bool machine_exists(const char *arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT 1 FROM sfn_machines WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

/* ---- versions ---------------------------------------------------------------------------------- */

static bool version_get(const char *base, int64_t num, sfn_target *t)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT definition, role, revision, description, created_ms FROM sfn_versions"
                                   " WHERE sm_arn = ? AND version = ?");
    sqlite3_bind_text(st, 1, base, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, num);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(t->base, sizeof t->base, "%s", base);
        snprintf(t->version, sizeof t->version, "%s:%" PRId64, base, num);
        t->definition = nb_strdup(sfn_col(st, 0));
        t->role = nb_strdup(sfn_col(st, 1));
        snprintf(t->revision, sizeof t->revision, "%s", sfn_col(st, 2));
        t->description = sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL : nb_strdup(sfn_col(st, 3));
        t->created_ms = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return found;
}

void sfn_target_free(sfn_target *t)
{
    free(t->definition);
    free(t->role);
    free(t->description);
    t->definition = t->role = t->description = NULL;
}

/* Publish the current revision of arn (unless revision_want differs):
 * true with the version's ARN and creation time; false after nb_fail. */
static bool publish(nb_call *call, const char *arn, const char *revision_want, const char *desc, char *varn, size_t n,
                    int64_t *created)
{
    static sqlite3_stmt *sm, *sx, *sc, *sq, *si;
    sqlite3_stmt *st = nb_stmt(&sm, "SELECT definition, role, revision, created_ms = updated_ms FROM sfn_machines"
                                    " WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        no_machine(call, arn);
        return false;
    }
    char *def = nb_strdup(sfn_col(st, 0)), *role = nb_strdup(sfn_col(st, 1)), rev[40];
    snprintf(rev, sizeof rev, "%s", sfn_col(st, 2));
    bool initial = sqlite3_column_int(st, 3) != 0;
    sqlite3_reset(st);
    bool ok = false;
    if (revision_want && strcmp(revision_want, rev) && !(initial && !strcmp(revision_want, "INITIAL"))) {
        nb_fail(call, "ConflictException",
                "Failed to publish the State Machine version for revision %s. The current State Machine revision is %s.",
                revision_want, rev);
        goto out;
    }
    /* Idempotent: the current revision already has a version. */
    st = nb_stmt(&sx, "SELECT version, created_ms FROM sfn_versions WHERE sm_arn = ? AND revision = ?"
                      " ORDER BY version DESC LIMIT 1");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, rev, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(varn, n, "%s:%" PRId64, arn, (int64_t)sqlite3_column_int64(st, 0));
        *created = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        ok = true;
        goto out;
    }
    sqlite3_reset(st);
    st = nb_stmt(&sc, "SELECT COUNT(*), (SELECT last FROM sfn_version_seq WHERE sm_arn = ?1) FROM sfn_versions"
                      " WHERE sm_arn = ?1");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    int64_t count = sqlite3_column_int64(st, 0), num = sqlite3_column_int64(st, 1) + 1;
    sqlite3_reset(st);
    if (count >= MAX_VERSIONS) {
        nb_fail(call, "ServiceQuotaExceededException",
                "Maximum number of versions (%d) reached for the state machine: '%s'. Delete unused versions with"
                " DeleteStateMachineVersion.",
                MAX_VERSIONS, arn);
        goto out;
    }
    st = nb_stmt(&sq, "INSERT OR REPLACE INTO sfn_version_seq(sm_arn, last) VALUES(?, ?)");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, num);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = nb_stmt(&si, "INSERT INTO sfn_versions(sm_arn, version, definition, role, revision, description, created_ms)"
                      " VALUES(?,?,?,?,?,?,?)");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, num);
    sqlite3_bind_text(st, 3, def, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, rev, -1, SQLITE_TRANSIENT);
    bind_opt(st, 6, desc);
    sqlite3_bind_int64(st, 7, call->now_ms);
    sqlite3_step(st);
    sqlite3_reset(st);
    snprintf(varn, n, "%s:%" PRId64, arn, num);
    *created = call->now_ms;
    ok = true;
out:
    free(def);
    free(role);
    return ok;
}

nb_status sfn_publish_version(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineArn");
    if (!unqualified(arn))
        return invalid_arn(call, arn);
    char varn[440];
    int64_t created;
    if (!publish(call, arn, nb_str(in, "revisionId"), nb_str(in, "description"), varn, sizeof varn, &created))
        return NB_ERROR;
    call->out = json_object_new_object();
    json_object_object_add(call->out, "creationDate", jtime(created));
    json_object_object_add(call->out, "stateMachineVersionArn", jstr(varn));
    return NB_OK;
}

bool sfn_publish_check(nb_call *call, json_object *in)
{
    bool pub = false;
    nb_bool(in, "publish", &pub);
    if (nb_str(in, "versionDescription") && !pub) {
        nb_fail(call, "ValidationException", "Version description can only be set when publish is true");
        return false;
    }
    return true;
}

bool sfn_publish_after(nb_call *call, json_object *in, const char *arn)
{
    bool pub = false;
    nb_bool(in, "publish", &pub);
    if (!pub)
        return true;
    char varn[440];
    int64_t created;
    if (!publish(call, arn, NULL, nb_str(in, "versionDescription"), varn, sizeof varn, &created))
        return false;
    json_object_object_add(call->out, "stateMachineVersionArn", jstr(varn));
    return true;
}

static json_object *version_row(sqlite3_stmt *st)
{
    char arn[440];
    snprintf(arn, sizeof arn, "%s:%" PRId64, sfn_col(st, 0), (int64_t)sqlite3_column_int64(st, 1));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "stateMachineVersionArn", jstr(arn));
    json_object_object_add(o, "creationDate", jtime(sqlite3_column_int64(st, 2)));
    return o;
}

nb_status sfn_list_versions(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineArn");
    if (!unqualified(arn))
        return invalid_arn(call, arn);
    int64_t off, lim;
    if (!sfn_page(call, in, &off, &lim))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT sm_arn, version, created_ms FROM sfn_versions WHERE sm_arn = ?"
                                   " ORDER BY version DESC LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, lim + 1);
    sqlite3_bind_int64(st, 3, off);
    return sfn_page_out(call, st, "stateMachineVersions", off, lim, version_row);
}

nb_status sfn_delete_version(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineVersionArn");
    char base[400];
    int64_t num;
    if (!version_arn(arn, base, sizeof base, &num))
        return invalid_arn(call, arn);
    /* Refused while an alias routes to it. */
    static sqlite3_stmt *sa, *sd;
    sqlite3_stmt *st = nb_stmt(&sa, "SELECT arn, routing FROM sfn_aliases WHERE sm_arn = ? ORDER BY name");
    sqlite3_bind_text(st, 1, base, -1, SQLITE_TRANSIENT);
    char list[4096] = "";
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *r = json_tokener_parse(sfn_col(st, 1));
        for (size_t i = 0; i < json_object_array_length(r); i++)
            if (!strcmp(nb_str(json_object_array_get_idx(r, i), "stateMachineVersionArn"), arn) && used < sizeof list) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", sfn_col(st, 0));
                used += w > 0 ? (size_t)w : 0;
            }
        json_object_put(r);
    }
    sqlite3_reset(st);
    if (used)
        return nb_fail(call, "ConflictException",
                       "Version to be deleted must not be referenced by an alias. Current list of aliases referencing"
                       " this version: [%s]",
                       list);
    st = nb_stmt(&sd, "DELETE FROM sfn_versions WHERE sm_arn = ? AND version = ?");
    sqlite3_bind_text(st, 1, base, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, num);
    sqlite3_step(st);
    sqlite3_reset(st);
    return NB_OK;
}

/* ---- aliases -------------------------------------------------------------------------------- */

typedef struct alias {
    char arn[480], sm_arn[400], name[96];
    char *description;
    json_object *routing;
    int64_t created_ms, updated_ms;
} alias;

static void alias_free(alias *a)
{
    free(a->description);
    json_object_put(a->routing);
}

static bool alias_get(const char *arn, alias *a)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT sm_arn, name, description, routing, created_ms, updated_ms FROM sfn_aliases"
                                   " WHERE arn = ?");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        memset(a, 0, sizeof *a);
        snprintf(a->arn, sizeof a->arn, "%s", arn);
        snprintf(a->sm_arn, sizeof a->sm_arn, "%s", sfn_col(st, 0));
        snprintf(a->name, sizeof a->name, "%s", sfn_col(st, 1));
        a->description = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : nb_strdup(sfn_col(st, 2));
        a->routing = json_tokener_parse(sfn_col(st, 3));
        a->created_ms = sqlite3_column_int64(st, 4);
        a->updated_ms = sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    return found;
}

/* routingConfiguration: 1-2 distinct existing versions of one state
 * machine, weights summing to 100.  base gets that state machine. */
static bool check_routing(nb_call *call, json_object *routing, char *base, size_t n)
{
    size_t count = json_object_array_length(routing);
    int64_t sum = 0;
    base[0] = 0;
    for (size_t i = 0; i < count; i++) {
        json_object *r = json_object_array_get_idx(routing, i);
        const char *v = nb_str(r, "stateMachineVersionArn");
        char b[400];
        int64_t num, w = 0;
        nb_int(r, "weight", &w);
        if (!version_arn(v, b, sizeof b, &num)) {
            invalid_arn(call, v);
            return false;
        }
        if (base[0] && strcmp(base, b)) {
            nb_fail(call, "ValidationException",
                    "Routing configuration can only contain versions of the same state machine");
            return false;
        }
        snprintf(base, n, "%s", b);
        if (i == 1 && !strcmp(v, nb_str(json_object_array_get_idx(routing, 0), "stateMachineVersionArn"))) {
            nb_fail(call, "ValidationException", "Routing configuration must contain distinct state machine versions");
            return false;
        }
        sfn_target t;
        memset(&t, 0, sizeof t);
        if (!version_get(b, num, &t)) {
            not_found(call, v);
            return false;
        }
        sfn_target_free(&t);
        sum += w;
    }
    if (sum != 100) {
        nb_fail(call, "ValidationException", "Sum of routing configuration weights must be equal to 100");
        return false;
    }
    return true;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool routing_equal(json_object *a, json_object *b)
{
    size_t n = json_object_array_length(a);
    if (n != json_object_array_length(b))
        return false;
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(a, i), *y = json_object_array_get_idx(b, i);
        int64_t wx = -1, wy = -1;
        nb_int(x, "weight", &wx);
        nb_int(y, "weight", &wy);
        if (wx != wy || !same_text(nb_str(x, "stateMachineVersionArn"), nb_str(y, "stateMachineVersionArn")))
            return false;
    }
    return true;
}

/* The routing list as stored: only the two members, in order. */
static char *routing_text(json_object *routing)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(routing); i++) {
        json_object *r = json_object_array_get_idx(routing, i), *o = json_object_new_object();
        int64_t w = 0;
        nb_int(r, "weight", &w);
        json_object_object_add(o, "stateMachineVersionArn", jstr(nb_str(r, "stateMachineVersionArn")));
        json_object_object_add(o, "weight", json_object_new_int64(w));
        json_object_array_add(list, o);
    }
    char *s = nb_strdup(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN));
    json_object_put(list);
    return s;
}

static bool alias_name_ok(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 80 || all_digits(n))
        return false;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (!isalnum(*p) && !strchr("_-.", *p))
            return false;
    return true;
}

nb_status sfn_create_alias(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "name"), *desc = nb_str(in, "description");
    json_object *routing = nb_get(in, "routingConfiguration");
    if (!alias_name_ok(name))
        return nb_fail(call, "InvalidName", "Invalid Name: '%s'", name);
    char base[400];
    if (!check_routing(call, routing, base, sizeof base))
        return NB_ERROR;
    char arn[480];
    snprintf(arn, sizeof arn, "%s:%s", base, name);
    alias a;
    if (alias_get(arn, &a)) {
        bool same = same_text(a.description, desc) && routing_equal(a.routing, routing);
        int64_t created = a.created_ms;
        alias_free(&a);
        if (!same)
            return nb_fail(call, "ConflictException",
                           "Failed to create alias because an alias with the same name and a different routing"
                           " configuration already exists: '%s'",
                           arn);
        call->out = json_object_new_object();
        json_object_object_add(call->out, "stateMachineAliasArn", jstr(arn));
        json_object_object_add(call->out, "creationDate", jtime(created));
        return NB_OK;
    }
    static sqlite3_stmt *sc, *si;
    sqlite3_stmt *st = nb_stmt(&sc, "SELECT COUNT(*) FROM sfn_aliases WHERE sm_arn = ?");
    sqlite3_bind_text(st, 1, base, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    int64_t count = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (count >= MAX_ALIASES)
        return nb_fail(call, "ServiceQuotaExceededException",
                       "Maximum number of aliases (%d) reached for the state machine: '%s'", MAX_ALIASES, base);
    char *text = routing_text(routing);
    st = nb_stmt(&si, "INSERT INTO sfn_aliases(arn, sm_arn, name, description, routing, created_ms, updated_ms)"
                      " VALUES(?,?,?,?,?,?,?)");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, base, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    bind_opt(st, 4, desc);
    sqlite3_bind_text(st, 5, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, call->now_ms);
    sqlite3_bind_int64(st, 7, call->now_ms);
    sqlite3_step(st);
    sqlite3_reset(st);
    free(text);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "stateMachineAliasArn", jstr(arn));
    json_object_object_add(call->out, "creationDate", jtime(call->now_ms));
    return NB_OK;
}

/* The alias named by in's stateMachineAliasArn, or false after nb_fail. */
static bool alias_of(nb_call *call, json_object *in, alias *a)
{
    const char *arn = nb_str(in, "stateMachineAliasArn");
    char base[400];
    if (!alias_arn(arn, base, sizeof base)) {
        invalid_arn(call, arn);
        return false;
    }
    if (!alias_get(arn, a)) {
        not_found(call, arn);
        return false;
    }
    return true;
}

nb_status sfn_describe_alias(nb_call *call, json_object *in)
{
    alias a;
    if (!alias_of(call, in, &a))
        return NB_ERROR;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "stateMachineAliasArn", jstr(a.arn));
    json_object_object_add(o, "name", jstr(a.name));
    if (a.description)
        json_object_object_add(o, "description", jstr(a.description));
    json_object_object_add(o, "routingConfiguration", json_object_get(a.routing));
    json_object_object_add(o, "creationDate", jtime(a.created_ms));
    json_object_object_add(o, "updateDate", jtime(a.updated_ms));
    alias_free(&a);
    call->out = o;
    return NB_OK;
}

nb_status sfn_update_alias(nb_call *call, json_object *in)
{
    const char *desc = nb_str(in, "description");
    json_object *routing = nb_get(in, "routingConfiguration");
    alias a;
    if (!alias_of(call, in, &a))
        return NB_ERROR;
    char *text = NULL;
    nb_status rc = NB_OK;
    if (!desc && !routing) {
        rc = nb_fail(call, "ValidationException",
                     "Either the description or the RoutingConfiguration must be specified");
        goto out;
    }
    char base[400];
    if (routing) {
        if (!check_routing(call, routing, base, sizeof base)) {
            rc = NB_ERROR;
            goto out;
        }
        if (strcmp(base, a.sm_arn)) {
            rc = nb_fail(call, "ValidationException",
                         "Routing configuration can only contain versions of the alias's state machine");
            goto out;
        }
        text = routing_text(routing);
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE sfn_aliases SET description = COALESCE(?, description),"
                                   " routing = COALESCE(?, routing), updated_ms = ? WHERE arn = ?");
    bind_opt(st, 1, desc);
    bind_opt(st, 2, text);
    sqlite3_bind_int64(st, 3, call->now_ms);
    sqlite3_bind_text(st, 4, a.arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "updateDate", jtime(call->now_ms));
out:
    free(text);
    alias_free(&a);
    return rc;
}

nb_status sfn_delete_alias(nb_call *call, json_object *in)
{
    alias a;
    if (!alias_of(call, in, &a))
        return NB_ERROR;
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM sfn_aliases WHERE arn = ?");
    sqlite3_bind_text(st, 1, a.arn, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
    alias_free(&a);
    return NB_OK;
}

static json_object *alias_row(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "stateMachineAliasArn", jstr(sfn_col(st, 0)));
    json_object_object_add(o, "creationDate", jtime(sqlite3_column_int64(st, 1)));
    return o;
}

/* The aliases of a state machine or, for a version ARN, those routing to
 * that version. */
nb_status sfn_list_aliases(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "stateMachineArn");
    char base[400];
    int64_t num;
    bool version = version_arn(arn, base, sizeof base, &num);
    if (!version && !unqualified(arn))
        return invalid_arn(call, arn);
    if (!version)
        snprintf(base, sizeof base, "%s", arn);
    if (!machine_exists(base))
        return no_machine(call, arn);
    if (version) {
        sfn_target t;
        memset(&t, 0, sizeof t);
        if (!version_get(base, num, &t))
            return not_found(call, arn);
        sfn_target_free(&t);
    }
    int64_t off, lim;
    if (!sfn_page(call, in, &off, &lim))
        return NB_ERROR;
    char needle[480];
    snprintf(needle, sizeof needle, "\"%s\"", arn);
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT arn, created_ms FROM sfn_aliases WHERE sm_arn = ?"
                                   " AND (?2 IS NULL OR instr(routing, ?2) > 0) ORDER BY name LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, base, -1, SQLITE_TRANSIENT);
    if (version)
        sqlite3_bind_text(st, 2, needle, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, lim + 1);
    sqlite3_bind_int64(st, 4, off);
    return sfn_page_out(call, st, "stateMachineAliases", off, lim, alias_row);
}

/* ---- executions of versions and aliases -------------------------------------------------------- */

int sfn_qualified(nb_call *call, const char *arn, bool alias_ok, sfn_target *t)
{
    memset(t, 0, sizeof t[0]);
    char base[400];
    const char *q = qualifier(arn, base, sizeof base);
    if (!q)
        return 0;
    int64_t num;
    if (version_arn(arn, base, sizeof base, &num)) {
        if (!version_get(base, num, t)) {
            no_machine(call, arn);
            return -1;
        }
        return 1;
    }
    if (!alias_ok || !alias_name_ok(q)) {
        invalid_arn(call, arn);
        return -1;
    }
    alias a;
    if (!alias_get(arn, &a)) {
        no_machine(call, arn);
        return -1;
    }
    /* Weighted routing: a uniform draw over the 100 weight points. */
    int64_t draw = (int64_t)(nb_rand64() % 100), acc = 0;
    const char *pick = NULL;
    for (size_t i = 0; i < json_object_array_length(a.routing) && !pick; i++) {
        json_object *r = json_object_array_get_idx(a.routing, i);
        int64_t w = 0;
        nb_int(r, "weight", &w);
        acc += w;
        if (draw < acc)
            pick = nb_str(r, "stateMachineVersionArn");
    }
    bool ok = pick && version_arn(pick, base, sizeof base, &num) && version_get(base, num, t);
    if (ok)
        snprintf(t->alias, sizeof t->alias, "%s", arn);
    else
        no_machine(call, arn);
    alias_free(&a);
    return ok ? 1 : -1;
}

void sfn_exec_link(const char *exec_arn, const sfn_target *t)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT OR REPLACE INTO sfn_exec_links(exec_arn, version_arn, alias_arn, revision)"
                                   " VALUES(?,?,?,?)");
    sqlite3_bind_text(st, 1, exec_arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, t->version, -1, SQLITE_TRANSIENT);
    bind_opt(st, 3, t->alias[0] ? t->alias : NULL);
    sqlite3_bind_text(st, 4, t->revision, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
}

void sfn_exec_link_describe(json_object *out, const char *exec_arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT version_arn, alias_arn FROM sfn_exec_links WHERE exec_arn = ?");
    sqlite3_bind_text(st, 1, exec_arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        json_object_object_add(out, "stateMachineVersionArn", jstr(sfn_col(st, 0)));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            json_object_object_add(out, "stateMachineAliasArn", jstr(sfn_col(st, 1)));
    }
    sqlite3_reset(st);
}

void sfn_exec_link_describe_sm(json_object *out, const char *exec_arn)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT revision FROM sfn_exec_links WHERE exec_arn = ?");
    sqlite3_bind_text(st, 1, exec_arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        json_object_object_add(out, "revisionId", jstr(sfn_col(st, 0)));
    sqlite3_reset(st);
}

void sfn_versions_drop(const char *sm_arn)
{
    static sqlite3_stmt *s[3];
    static const char *const sql[3] = {"DELETE FROM sfn_versions WHERE sm_arn = ?",
                                       "DELETE FROM sfn_version_seq WHERE sm_arn = ?",
                                       "DELETE FROM sfn_aliases WHERE sm_arn = ?"};
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st = nb_stmt(&s[i], sql[i]);
        sqlite3_bind_text(st, 1, sm_arn, -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

static json_object *linked_exec_row(sqlite3_stmt *st)
{
    static const char *const keys[] = {"executionArn", "stateMachineArn", "name", "status"};
    json_object *o = json_object_new_object();
    for (int i = 0; i < 4; i++)
        json_object_object_add(o, keys[i], jstr(sfn_col(st, i)));
    json_object_object_add(o, "startDate", jtime(sqlite3_column_int64(st, 4)));
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
        json_object_object_add(o, "stopDate", jtime(sqlite3_column_int64(st, 5)));
    json_object_object_add(o, "stateMachineVersionArn", jstr(sfn_col(st, 6)));
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        json_object_object_add(o, "stateMachineAliasArn", jstr(sfn_col(st, 7)));
    sfn_redrive_fields(o, sqlite3_column_int64(st, 8), sfn_col(st, 3), sqlite3_column_int64(st, 5), false);
    return o;
}

bool sfn_list_execs_qualified(nb_call *call, json_object *in, nb_status *rc)
{
    const char *arn = nb_str(in, "stateMachineArn"), *status = nb_str(in, "statusFilter");
    char base[400];
    const char *q = qualifier(arn, base, sizeof base);
    if (!q)
        return false;
    int64_t num;
    sfn_target t;
    memset(&t, 0, sizeof t);
    alias a;
    bool found = version_arn(arn, base, sizeof base, &num) ? version_get(base, num, &t) : alias_get(arn, &a);
    if (!found) {
        *rc = no_machine(call, arn);
        return true;
    }
    if (t.definition)
        sfn_target_free(&t);
    else
        alias_free(&a);
    int64_t off, lim;
    if (!sfn_page(call, in, &off, &lim)) {
        *rc = NB_ERROR;
        return true;
    }
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "SELECT e.arn, e.sm_arn, e.name, e.status, e.start_ms, e.stop_ms, l.version_arn,"
                                   " l.alias_arn, e.id FROM sfn_exec_links l JOIN sfn_execs e ON e.arn = l.exec_arn"
                                   " WHERE (l.version_arn = ?1 OR l.alias_arn = ?1) AND (?2 IS NULL OR e.status = ?2)"
                                   " ORDER BY e.start_ms DESC, e.id DESC LIMIT ?3 OFFSET ?4");
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    bind_opt(st, 2, status);
    sqlite3_bind_int64(st, 3, lim + 1);
    sqlite3_bind_int64(st, 4, off);
    *rc = sfn_page_out(call, st, "executions", off, lim, linked_exec_row);
    return true;
}
