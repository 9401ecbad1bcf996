/*
 * events_api.c — connections and API destinations, and delivering an event
 * to an API destination over the outbound HTTP client.
 *
 * Storage: events_conns(id, account, region, kind, name, arn, doc,
 * created_ms, modified_ms, authorized_ms) UNIQUE(account, region, kind,
 * name); kind is "connection" or "api-destination", doc the resource's
 * settable fields as given (a connection's AuthParameters with their
 * secrets, which are never returned: AWS keeps them in Secrets Manager and
 * shows only the non-secret parts), plus State.
 *
 * A delivery (ev_api_invoke) looks the destination and its connection up,
 * builds the URL (each '*' of InvocationEndpoint replaced by the target's
 * PathParameterValues in order; the connection's and then the target's
 * QueryStringParameters appended), the headers (the connection's
 * authorization: API_KEY's header, BASIC's Authorization, OAuth's client
 * credentials as Basic; then the connection's and the target's
 * HeaderParameters) and POSTs (the destination's HttpMethod) the event.
 * InvocationRateLimitPerSecond is kept per destination in memory: a
 * delivery over the rate is postponed to the next second.  The result is
 * reported through the callback exactly once (from the loop), unless
 * ev_api_shutdown cancels it first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/http_client.h"
#include "events_internal.h"

#define API_TIMEOUT_MS 5000 /* AWS: 5 s per invocation */
#define OAUTH_TOKEN_MAX 8192 /* longest access token kept */
#define OAUTH_WAIT_MS 100    /* a delivery waiting for a token looks again after */

/* ---- rows -------------------------------------------------------------------------------- */

typedef struct res_row {
    int64_t id;
    char name[80], arn[400];
    json_object *doc;
    int64_t created_ms, modified_ms, authorized_ms;
} res_row;

static bool res_load(const char *account, const char *region, const char *kind, const char *name,
                     const char *arn, res_row *r)
{
    static sqlite3_stmt *s_name, *s_arn;
    sqlite3_stmt *st;
    if (arn) {
        st = nb_stmt(&s_arn, "SELECT id, name, arn, doc, created_ms, modified_ms, authorized_ms"
                             " FROM events_conns WHERE kind = ? AND arn = ?");
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, arn, -1, SQLITE_STATIC);
    } else {
        st = nb_stmt(&s_name, "SELECT id, name, arn, doc, created_ms, modified_ms, authorized_ms"
                              " FROM events_conns WHERE account = ? AND region = ? AND kind = ?"
                              " AND name = ?");
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, region, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, name ? name : "", -1, SQLITE_STATIC);
    }
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        r->id = sqlite3_column_int64(st, 0);
        snprintf(r->name, sizeof r->name, "%s", ev_col(st, 1));
        snprintf(r->arn, sizeof r->arn, "%s", ev_col(st, 2));
        r->doc = json_tokener_parse(ev_col(st, 3));
        if (!r->doc)
            r->doc = json_object_new_object();
        r->created_ms = sqlite3_column_int64(st, 4);
        r->modified_ms = sqlite3_column_int64(st, 5);
        r->authorized_ms = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return found;
}

static void res_save(const res_row *r, int64_t now)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "UPDATE events_conns SET doc = ?, modified_ms = ?,"
                                   " authorized_ms = ? WHERE id = ?");
    sqlite3_bind_text(st, 1, json_object_to_json_string_ext(r->doc, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, r->authorized_ms);
    sqlite3_bind_int64(st, 4, r->id);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static nb_status res_insert(nb_call *call, const char *kind, const char *name, const char *arn,
                            json_object *doc)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "INSERT OR IGNORE INTO events_conns(account, region, kind, name,"
                                   " arn, doc, created_ms, modified_ms, authorized_ms)"
                                   " VALUES(?,?,?,?,?,?,?,?,?)");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, call->now_ms);
    sqlite3_bind_int64(st, 8, call->now_ms);
    sqlite3_bind_int64(st, 9, call->now_ms);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (sqlite3_changes(nb_db()) == 0)
        return nb_fail(call, "ResourceAlreadyExistsException", "%s %s already exists.",
                       !strcmp(kind, "connection") ? "Connection" : "An api-destination", name);
    return NB_OK;
}

static void res_delete(int64_t id)
{
    static sqlite3_stmt *s;
    sqlite3_stmt *st = nb_stmt(&s, "DELETE FROM events_conns WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static void make_arn(const nb_call *call, const char *kind, const char *name, char *out, size_t n)
{
    char uuid[37];
    nb_uuid(uuid);
    snprintf(out, n, "arn:aws:events:%s:%s:%s/%s/%s", call->region, call->account, kind, name, uuid);
}

/* What differs between the two kinds of row in the handlers. */
typedef struct res_kind {
    const char *kind;
    nb_status (*missing)(nb_call *call, const char *name);
    json_object *(*state_out)(const res_row *r);
} res_kind;
static nb_status conn_missing(nb_call *call, const char *name);
static nb_status dest_missing(nb_call *call, const char *name);
static json_object *conn_state_out(const res_row *r);
static json_object *dest_state_out(const res_row *r);
static const res_kind CONN = {"connection", conn_missing, conn_state_out};
static void oauth_authorize(const char *arn, json_object *doc);
static void oauth_drop(const char *arn);
static void oauth_forget(const char *arn);
static const res_kind DEST = {"api-destination", dest_missing, dest_state_out};

/* The row of the call's account and region named `name`; false after
 * failing the call with the kind's ResourceNotFoundException. */
static bool res_get(nb_call *call, const res_kind *k, const char *name, res_row *r)
{
    if (res_load(call->account, call->region, k->kind, name, NULL, r))
        return true;
    k->missing(call, name);
    return false;
}

/* Answers the row's state (ARN, state, times) and releases it. */
static nb_status res_answer(nb_call *call, const res_kind *k, res_row *r)
{
    call->out = k->state_out(r);
    json_object_put(r->doc);
    return NB_OK;
}

/* Inserts a new row (doc is consumed) and answers its state. */
static nb_status res_create(nb_call *call, const res_kind *k, const char *name, const char *arn,
                            json_object *doc)
{
    nb_status st = res_insert(call, k->kind, name, arn, doc);
    json_object_put(doc);
    res_row r;
    if (st != NB_OK || !res_get(call, k, name, &r))
        return NB_ERROR;
    return res_answer(call, k, &r);
}

static void put_time(json_object *o, const char *k, int64_t ms)
{
    json_object_object_add(o, k, json_object_new_double((double)ms / 1000.0));
}

static void copy_field(json_object *out, json_object *doc, const char *k)
{
    json_object *v = nb_get(doc, k);
    if (v)
        json_object_object_add(out, k, json_object_get(v));
}

/* ---- connections -------------------------------------------------------------------------- */

static nb_status conn_missing(nb_call *call, const char *name)
{
    return nb_fail(call, "ResourceNotFoundException", "Failed to describe the connection(s). "
                   "Connection '%s' does not exist.", name ? name : "");
}

/* The AuthParameters member for an AuthorizationType. */
static const char *auth_member(const char *type)
{
    if (!type)
        return NULL;
    if (!strcmp(type, "API_KEY"))
        return "ApiKeyAuthParameters";
    if (!strcmp(type, "BASIC"))
        return "BasicAuthParameters";
    if (!strcmp(type, "OAUTH_CLIENT_CREDENTIALS"))
        return "OAuthParameters";
    return NULL;
}

static nb_status check_auth(nb_call *call, const char *type, json_object *auth)
{
    const char *m = auth_member(type);
    if (!m)
        return nb_fail(call, "ValidationException", "AuthorizationType is not valid.");
    json_object *p = nb_get(auth, m);
    static const char *const need[][3] = {{"ApiKeyAuthParameters", "ApiKeyName", "ApiKeyValue"},
                                          {"BasicAuthParameters", "Username", "Password"},
                                          {"OAuthParameters", "AuthorizationEndpoint", "HttpMethod"}};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(need[i][0], m))
            continue;
        if (!p || !nb_str(p, need[i][1]) || !nb_str(p, need[i][2]))
            return nb_fail(call, "ValidationException", "%s is required for AuthorizationType %s.",
                           m, type);
    }
    if (!strcmp(m, "OAuthParameters")) {
        json_object *cp = nb_get(p, "ClientParameters");
        if (!cp || !nb_str(cp, "ClientID") || !nb_str(cp, "ClientSecret"))
            return nb_fail(call, "ValidationException",
                           "ClientParameters is required for AuthorizationType %s.", type);
    }
    return NB_OK;
}

/* AuthParameters without the secrets (ApiKeyValue, Password, ClientSecret,
 * and the values of the secret-marked HTTP parameters). */
static json_object *public_auth(json_object *auth)
{
    json_object *out = json_object_new_object();
    json_object_object_foreach(auth, k, v)
    {
        json_object *c = NULL;
        json_object_deep_copy(v, &c, NULL);
        if (!c)
            continue;
        if (json_object_is_type(c, json_type_object)) {
            json_object_object_del(c, "ApiKeyValue");
            json_object_object_del(c, "Password");
            json_object *cp = nb_get(c, "ClientParameters");
            if (cp)
                json_object_object_del(cp, "ClientSecret");
        }
        json_object_object_add(out, k, c);
    }
    return out;
}

static json_object *conn_state_out(const res_row *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ConnectionArn", json_object_new_string(r->arn));
    copy_field(o, r->doc, "ConnectionState");
    put_time(o, "CreationTime", r->created_ms);
    put_time(o, "LastModifiedTime", r->modified_ms);
    put_time(o, "LastAuthorizedTime", r->authorized_ms);
    return o;
}

nb_status ev_create_connection(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name"), *type = nb_str(in, "AuthorizationType");
    json_object *auth = nb_get(in, "AuthParameters");
    if (!ev_check_name(call, name, "name", false) || check_auth(call, type, auth) != NB_OK)
        return NB_ERROR;
    char arn[400];
    make_arn(call, "connection", name, arn, sizeof arn);
    json_object *doc = json_object_new_object();
    copy_field(doc, in, "Description");
    copy_field(doc, in, "AuthorizationType");
    copy_field(doc, in, "AuthParameters");
    bool oauth = !strcmp(type, "OAUTH_CLIENT_CREDENTIALS");
    json_object_object_add(doc, "ConnectionState",
                           json_object_new_string(oauth ? "AUTHORIZING" : "AUTHORIZED"));
    json_object *keep = oauth ? json_object_get(doc) : NULL;
    nb_status st = res_create(call, &CONN, name, arn, doc);
    if (st == NB_OK && oauth)
        oauth_authorize(arn, keep);
    json_object_put(keep);
    return st;
}

nb_status ev_describe_connection(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &CONN, name, &r))
        return NB_ERROR;
    json_object *o = conn_state_out(&r);
    json_object_object_add(o, "Name", json_object_new_string(r.name));
    copy_field(o, r.doc, "Description");
    copy_field(o, r.doc, "AuthorizationType");
    copy_field(o, r.doc, "StateReason");
    char secret[600];
    snprintf(secret, sizeof secret, "arn:aws:secretsmanager:%s:%s:secret:events!connection/%s",
             call->region, call->account, r.name);
    json_object_object_add(o, "SecretArn", json_object_new_string(secret));
    json_object *auth = nb_get(r.doc, "AuthParameters");
    if (auth)
        json_object_object_add(o, "AuthParameters", public_auth(auth));
    call->out = o;
    json_object_put(r.doc);
    return NB_OK;
}

nb_status ev_update_connection(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &CONN, name, &r))
        return NB_ERROR;
    const char *type = nb_str(in, "AuthorizationType");
    if (!type)
        type = nb_str(r.doc, "AuthorizationType");
    json_object *auth = nb_get(in, "AuthParameters");
    json_object *merged = NULL;
    json_object_deep_copy(nb_get(r.doc, "AuthParameters"), &merged, NULL);
    if (!merged || !json_object_is_type(merged, json_type_object)) {
        json_object_put(merged);
        merged = json_object_new_object();
    }
    if (auth) {
        /* Members given replace the stored ones field by field. */
        json_object_object_foreach(auth, k, v)
        {
            json_object *cur = nb_get(merged, k);
            if (cur && json_object_is_type(cur, json_type_object) &&
                json_object_is_type(v, json_type_object)) {
                json_object_object_foreach(v, k2, v2)
                    json_object_object_add(cur, k2, json_object_get(v2));
            } else {
                json_object_object_add(merged, k, json_object_get(v));
            }
        }
    }
    if (check_auth(call, type, merged) != NB_OK) {
        json_object_put(merged);
        json_object_put(r.doc);
        return NB_ERROR;
    }
    bool oauth = !strcmp(type, "OAUTH_CLIENT_CREDENTIALS");
    json_object_object_add(r.doc, "AuthParameters", merged);
    json_object_object_add(r.doc, "AuthorizationType", json_object_new_string(type));
    copy_field(r.doc, in, "Description");
    json_object_object_add(r.doc, "ConnectionState",
                           json_object_new_string(oauth ? "AUTHORIZING" : "AUTHORIZED"));
    json_object_object_del(r.doc, "StateReason");
    if (!oauth)
        r.authorized_ms = call->now_ms;
    r.modified_ms = call->now_ms;
    res_save(&r, call->now_ms);
    if (oauth)
        oauth_authorize(r.arn, r.doc);
    else
        oauth_drop(r.arn);
    return res_answer(call, &CONN, &r);
}

nb_status ev_deauthorize_connection(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &CONN, name, &r))
        return NB_ERROR;
    /* The secrets are dropped; the connection stays, unusable until
     * UpdateConnection gives new ones. */
    json_object *pub = nb_get(r.doc, "AuthParameters") ? public_auth(nb_get(r.doc, "AuthParameters"))
                                                       : json_object_new_object();
    json_object_object_add(r.doc, "AuthParameters", pub);
    json_object_object_add(r.doc, "ConnectionState", json_object_new_string("DEAUTHORIZED"));
    oauth_drop(r.arn);
    r.modified_ms = call->now_ms;
    res_save(&r, call->now_ms);
    return res_answer(call, &CONN, &r);
}

nb_status ev_delete_connection(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &CONN, name, &r))
        return NB_ERROR;
    res_delete(r.id);
    oauth_drop(r.arn);
    json_object_object_add(r.doc, "ConnectionState", json_object_new_string("DELETING"));
    return res_answer(call, &CONN, &r);
}

/* A listing row (list_stmt's columns: name, arn, doc, created, modified,
 * authorized). */
static void list_row(sqlite3_stmt *st, res_row *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", ev_col(st, 0));
    snprintf(r->arn, sizeof r->arn, "%s", ev_col(st, 1));
    r->doc = json_tokener_parse(ev_col(st, 2));
    r->created_ms = sqlite3_column_int64(st, 3);
    r->modified_ms = sqlite3_column_int64(st, 4);
    r->authorized_ms = sqlite3_column_int64(st, 5);
}

static json_object *conn_list_row(sqlite3_stmt *st, void *arg)
{
    (void)arg;
    res_row r;
    list_row(st, &r);
    json_object *o = conn_state_out(&r);
    json_object_object_add(o, "Name", json_object_new_string(r.name));
    copy_field(o, r.doc, "AuthorizationType");
    json_object_put(r.doc);
    return o;
}

static sqlite3_stmt *list_stmt(sqlite3_stmt **slot, nb_call *call, const char *kind,
                               const char *prefix, int64_t limit, int64_t off)
{
    sqlite3_stmt *st = nb_stmt(slot, "SELECT name, arn, doc, created_ms, modified_ms, authorized_ms"
                                     " FROM events_conns WHERE account = ? AND region = ? AND kind = ?"
                                     " AND substr(name, 1, length(?)) = ? ORDER BY name"
                                     " LIMIT ? OFFSET ?");
    sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, limit + 1);
    sqlite3_bind_int64(st, 7, off);
    return st;
}

typedef struct list_filter {
    const char *key, *value; /* a doc member the rows must have, or NULL */
    ev_row_fn row;
} list_filter;

static json_object *filtered_row(sqlite3_stmt *st, void *arg)
{
    list_filter *f = arg;
    if (f->key) {
        json_object *doc = json_tokener_parse(ev_col(st, 2));
        const char *v = doc ? nb_str(doc, f->key) : NULL;
        bool keep = v && !strcmp(v, f->value);
        json_object_put(doc);
        if (!keep)
            return NULL;
    }
    return f->row(st, NULL);
}

nb_status ev_list_connections(nb_call *call, json_object *in)
{
    int64_t limit, off;
    if (!ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    static sqlite3_stmt *s;
    list_filter f = {nb_get(in, "ConnectionState") ? "ConnectionState" : NULL,
                     nb_str(in, "ConnectionState"), conn_list_row};
    sqlite3_stmt *st = list_stmt(&s, call, "connection", nb_str(in, "NamePrefix"), limit, off);
    return ev_page_out(call, st, limit, off, "Connections", filtered_row, &f);
}

/* ---- API destinations ----------------------------------------------------------------------- */

static nb_status dest_missing(nb_call *call, const char *name)
{
    return nb_fail(call, "ResourceNotFoundException", "Failed to describe the api-destination(s). "
                   "An api-destination '%s' does not exist.", name ? name : "");
}

/* An API destination's settable fields, as stored and shown. */
static const char *const DEST_KEYS[] = {"Description", "ConnectionArn", "InvocationEndpoint",
                                        "HttpMethod", "InvocationRateLimitPerSecond", NULL};

static json_object *dest_state_out(const res_row *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ApiDestinationArn", json_object_new_string(r->arn));
    copy_field(o, r->doc, "ApiDestinationState");
    put_time(o, "CreationTime", r->created_ms);
    put_time(o, "LastModifiedTime", r->modified_ms);
    return o;
}

static json_object *dest_full_out(const res_row *r)
{
    json_object *o = dest_state_out(r);
    json_object_object_add(o, "Name", json_object_new_string(r->name));
    for (int i = 0; DEST_KEYS[i]; i++)
        copy_field(o, r->doc, DEST_KEYS[i]);
    return o;
}

static nb_status check_connection_arn(nb_call *call, const char *arn)
{
    res_row c;
    if (!arn || !res_load(NULL, NULL, "connection", NULL, arn, &c))
        return nb_fail(call, "ResourceNotFoundException", "Connection '%s' does not exist.",
                       arn ? arn : "");
    json_object_put(c.doc);
    return NB_OK;
}

static nb_status check_endpoint(nb_call *call, const char *url)
{
    nb_http_url u;
    if (!url || nb_http_url_parse(url, &u) != 0 || !u.https)
        return nb_fail(call, "ValidationException", "InvocationEndpoint must be a valid HTTPS URL.");
    return NB_OK;
}

nb_status ev_create_api_destination(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    if (!ev_check_name(call, name, "name", false) ||
        check_connection_arn(call, nb_str(in, "ConnectionArn")) != NB_OK ||
        check_endpoint(call, nb_str(in, "InvocationEndpoint")) != NB_OK)
        return NB_ERROR;
    char arn[400];
    make_arn(call, "api-destination", name, arn, sizeof arn);
    json_object *doc = json_object_new_object();
    for (int i = 0; DEST_KEYS[i]; i++)
        copy_field(doc, in, DEST_KEYS[i]);
    if (!nb_get(doc, "InvocationRateLimitPerSecond"))
        json_object_object_add(doc, "InvocationRateLimitPerSecond", json_object_new_int(300));
    json_object_object_add(doc, "ApiDestinationState", json_object_new_string("ACTIVE"));
    return res_create(call, &DEST, name, arn, doc);
}

nb_status ev_describe_api_destination(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &DEST, name, &r))
        return NB_ERROR;
    call->out = dest_full_out(&r);
    json_object_put(r.doc);
    return NB_OK;
}

nb_status ev_update_api_destination(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &DEST, name, &r))
        return NB_ERROR;
    if ((nb_get(in, "ConnectionArn") &&
         check_connection_arn(call, nb_str(in, "ConnectionArn")) != NB_OK) ||
        (nb_get(in, "InvocationEndpoint") &&
         check_endpoint(call, nb_str(in, "InvocationEndpoint")) != NB_OK)) {
        json_object_put(r.doc);
        return NB_ERROR;
    }
    for (int i = 0; DEST_KEYS[i]; i++)
        copy_field(r.doc, in, DEST_KEYS[i]);
    r.modified_ms = call->now_ms;
    res_save(&r, call->now_ms);
    return res_answer(call, &DEST, &r);
}

nb_status ev_delete_api_destination(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    res_row r;
    if (!res_get(call, &DEST, name, &r))
        return NB_ERROR;
    res_delete(r.id);
    json_object_put(r.doc);
    call->out = json_object_new_object();
    return NB_OK;
}

static json_object *dest_list_row(sqlite3_stmt *st, void *arg)
{
    (void)arg;
    res_row r;
    list_row(st, &r);
    json_object *o = dest_full_out(&r);
    json_object_object_del(o, "Description");
    json_object_put(r.doc);
    return o;
}

nb_status ev_list_api_destinations(nb_call *call, json_object *in)
{
    int64_t limit, off;
    if (!ev_page_args(call, in, &limit, &off))
        return NB_ERROR;
    static sqlite3_stmt *s;
    list_filter f = {nb_get(in, "ConnectionArn") ? "ConnectionArn" : NULL,
                     nb_str(in, "ConnectionArn"), dest_list_row};
    sqlite3_stmt *st = list_stmt(&s, call, "api-destination", nb_str(in, "NamePrefix"), limit, off);
    return ev_page_out(call, st, limit, off, "ApiDestinations", filtered_row, &f);
}

/* ---- delivery ---------------------------------------------------------------------------------- */

typedef struct api_job {
    struct api_job *prev, *next;
    nb_http_fetch *fetch;
    ev_api_cb cb;
    void (*drop)(void *arg);
    void *arg;
    char conn_arn[400]; /* an OAuth connection's, for a 401/407 */
} api_job;

static api_job *g_jobs;

/* Per-destination rate: the current second and how many started in it. */
typedef struct rate_slot {
    struct rate_slot *next;
    char *arn;
    int64_t second, count;
} rate_slot;

static rate_slot *g_rates;

static void job_unlink(api_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        g_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void fetched(const nb_http_result *res, void *arg)
{
    api_job *j = arg;
    job_unlink(j);
    char code[64] = "", msg[160] = "";
    bool ok = res->error == NB_HTTP_OK && res->status >= 200 && res->status < 300;
    bool retry = false;
    if (!ok) {
        if (res->error != NB_HTTP_OK) {
            snprintf(code, sizeof code, "SDK_CLIENT_ERROR");
            snprintf(msg, sizeof msg, "Unable to invoke ApiDestination endpoint: %s.",
                     nb_http_error_name(res->error));
            retry = true;
        } else {
            int s = res->status;
            snprintf(code, sizeof code, "%d", s);
            snprintf(msg, sizeof msg, "ApiDestination returned HTTP status %d.", s);
            /* AWS retries 401, 407, 409, 429 and 5xx; an OAuth token
             * refused with 401 or 407 is refreshed for the retry. */
            retry = s >= 500 || s == 401 || s == 407 || s == 409 || s == 429;
            if (j->conn_arn[0] && (s == 401 || s == 407))
                oauth_forget(j->conn_arn);
        }
    }
    j->cb(j->arg, ok, retry, code, msg);
    free(j);
}

/* Appends k=v (both percent-encoded) to b with the right separator. */
static void add_query(nb_buf *b, const char *k, const char *v, bool *has_query)
{
    nb_buf_addc(b, *has_query ? '&' : '?');
    *has_query = true;
    nb_url_encode(b, k);
    nb_buf_addc(b, '=');
    nb_url_encode(b, v);
}

/* The KeyValues list `key` of an HttpParameters object (a connection's
 * InvocationHttpParameters, or its OAuthHttpParameters): to the query
 * (q) or the headers (h). */
static void add_conn_params(json_object *params, const char *key, nb_buf *q, bool *hq,
                            nb_http_header *h, size_t *nh, size_t cap)
{
    json_object *l = nb_get(params, key);
    for (size_t i = 0; l && i < json_object_array_length(l); i++) {
        json_object *kv = json_object_array_get_idx(l, i);
        const char *k = nb_str(kv, "Key"), *v = nb_str(kv, "Value");
        if (!k || !v)
            continue;
        if (q)
            add_query(q, k, v, hq);
        else if (*nh < cap)
            h[(*nh)++] = (nb_http_header){k, v};
    }
}

/* ---- OAuth client credentials ------------------------------------------------------- */

/* "Basic base64(user:password)" into out; false when absent or too long. */
static bool basic_auth(const char *user, const char *pw, char *out, size_t n)
{
    if (!user || !pw)
        return false;
    char pair[1200];
    int len = snprintf(pair, sizeof pair, "%s:%s", user, pw);
    if (len <= 0 || (size_t)len >= sizeof pair)
        return false;
    char *b64 = nb_base64_encode(pair, (size_t)len, NULL);
    int w = snprintf(out, n, "Basic %s", b64);
    free(b64);
    return w > 0 && (size_t)w < n;
}

/* Access tokens by connection ARN, in memory only (as AWS keeps them out
 * of the connection's description): a restart fetches anew. */
typedef struct oauth_tok {
    struct oauth_tok *next;
    char *conn_arn;
    char *token;          /* NULL until fetched */
    int64_t expires_ms;   /* 0: the endpoint gave no expires_in */
    int64_t fetched_ms;
    nb_http_fetch *fetch; /* the token request in flight */
} oauth_tok;

static oauth_tok *g_toks;

static oauth_tok **tok_slot(const char *arn)
{
    oauth_tok **p = &g_toks;
    while (*p && strcmp((*p)->conn_arn, arn))
        p = &(*p)->next;
    return p;
}

static void tok_free(oauth_tok *t)
{
    if (t->fetch)
        nb_http_cancel(t->fetch);
    free(t->conn_arn);
    free(t->token);
    free(t);
}

static void oauth_forget(const char *arn)
{
    oauth_tok **p = tok_slot(arn);
    if (*p && !(*p)->fetch) {
        free((*p)->token);
        (*p)->token = NULL;
    }
}

/* The connection (by ARN) after its token request: AUTHORIZED, or
 * DEAUTHORIZED with the reason. */
static void conn_authorized(const char *arn, bool ok, const char *reason)
{
    nb_store_call_begin();
    res_row r;
    if (res_load(NULL, NULL, "connection", NULL, arn, &r)) {
        const char *st = nb_str(r.doc, "ConnectionState");
        if (st && (!strcmp(st, "AUTHORIZING") || !strcmp(st, "AUTHORIZED"))) {
            json_object_object_add(r.doc, "ConnectionState",
                                   json_object_new_string(ok ? "AUTHORIZED" : "DEAUTHORIZED"));
            if (ok) {
                json_object_object_del(r.doc, "StateReason");
                r.authorized_ms = nb_now_ms();
            } else {
                json_object_object_add(r.doc, "StateReason", json_object_new_string(reason));
            }
            res_save(&r, nb_now_ms());
        }
        json_object_put(r.doc);
    }
    nb_store_call_end(true);
}

static void oauth_fetched(const nb_http_result *res, void *arg)
{
    oauth_tok *t = arg;
    t->fetch = NULL;
    char reason[300] = "";
    json_object *body = NULL;
    if (res->error != NB_HTTP_OK) {
        snprintf(reason, sizeof reason, "Failed to connect to the authorization endpoint: %s.",
                 nb_http_error_name(res->error));
    } else if (res->status < 200 || res->status > 299) {
        snprintf(reason, sizeof reason, "The authorization endpoint returned HTTP status %d.",
                 res->status);
    } else {
        body = json_tokener_parse(res->body);
        const char *tok = nb_str(body, "access_token");
        if (!tok || !*tok || strlen(tok) > OAUTH_TOKEN_MAX) {
            snprintf(reason, sizeof reason,
                     "The authorization endpoint's response has no access_token.");
        } else {
            free(t->token);
            t->token = nb_strdup(tok);
            t->fetched_ms = nb_now_ms();
            int64_t in = 0;
            t->expires_ms = nb_int(body, "expires_in", &in) && in > 0 ? nb_now_ms() + in * 1000 : 0;
        }
    }
    json_object_put(body);
    conn_authorized(t->conn_arn, !reason[0], reason);
    nb_store_commit();
}

/* Starts the token request of connection doc: its AuthorizationEndpoint
 * with HttpMethod, the client credentials as Basic authorization, and
 * OAuthHttpParameters' headers, query string and body parameters (the
 * body form-encoded, as a token endpoint takes them). */
static void oauth_fetch(oauth_tok *t, json_object *doc)
{
    json_object *op = nb_get(nb_get(doc, "AuthParameters"), "OAuthParameters");
    json_object *cp = nb_get(op, "ClientParameters"), *hp = nb_get(op, "OAuthHttpParameters");
    nb_buf url = {0}, form = {0};
    nb_buf_adds(&url, nb_str(op, "AuthorizationEndpoint") ? nb_str(op, "AuthorizationEndpoint") : "");
    bool hq = strchr(url.data ? url.data : "", '?') != NULL;
    add_conn_params(hp, "QueryStringParameters", &url, &hq, NULL, NULL, 0);
    nb_buf_addc(&url, '\0');
    nb_http_header h[44];
    size_t nh = 0;
    char basic[OAUTH_TOKEN_MAX];
    if (basic_auth(nb_str(cp, "ClientID"), nb_str(cp, "ClientSecret"), basic, sizeof basic))
        h[nh++] = (nb_http_header){"Authorization", basic};
    h[nh++] = (nb_http_header){"Accept", "application/json"};
    h[nh++] = (nb_http_header){"User-Agent", "Amazon/EventBridge/ApiDestinations"};
    json_object *bl = nb_get(hp, "BodyParameters");
    for (size_t i = 0; bl && i < json_object_array_length(bl); i++) {
        json_object *kv = json_object_array_get_idx(bl, i);
        if (!nb_str(kv, "Key") || !nb_str(kv, "Value"))
            continue;
        if (form.len)
            nb_buf_addc(&form, '&');
        nb_url_encode(&form, nb_str(kv, "Key"));
        nb_buf_addc(&form, '=');
        nb_url_encode(&form, nb_str(kv, "Value"));
    }
    if (form.len)
        h[nh++] = (nb_http_header){"Content-Type", "application/x-www-form-urlencoded"};
    add_conn_params(hp, "HeaderParameters", NULL, NULL, h, &nh, 44);
    const char *method = nb_str(op, "HttpMethod");
    nb_http_request req = {.method = method ? method : "POST", .url = url.data, .headers = h,
                           .n_headers = nh, .body = form.len ? form.data : NULL,
                           .body_len = form.len, .timeout_ms = API_TIMEOUT_MS};
    t->fetch = nb_http_fetch_start(&req, oauth_fetched, t);
    nb_buf_free(&url);
    nb_buf_free(&form);
}

/* The connection's access token if it lasts another minute (AWS
 * refreshes a token about to expire when it is used) or was fetched for
 * this use (an endpoint issuing shorter-lived tokens); otherwise NULL,
 * with a token request started unless one is in flight. */
static const char *oauth_token(const char *arn, json_object *doc)
{
    oauth_tok **p = tok_slot(arn);
    if (!*p) {
        *p = nb_calloc(1, sizeof **p);
        (*p)->conn_arn = nb_strdup(arn);
    }
    oauth_tok *t = *p;
    int64_t now = nb_now_ms(), left = t->expires_ms - now;
    if (t->token && (!t->expires_ms || left > 60 * 1000 ||
                     (left > 0 && now - t->fetched_ms < 2 * OAUTH_WAIT_MS + 1000)))
        return t->token;
    if (!t->fetch)
        oauth_fetch(t, doc);
    return NULL;
}

/* A connection's authorization changed or it is gone: its token too. */
static void oauth_drop(const char *arn)
{
    oauth_tok **p = tok_slot(arn);
    if (*p) {
        oauth_tok *t = *p;
        *p = t->next;
        tok_free(t);
    }
}

/* A new or updated OAuth connection is AUTHORIZING until its first token
 * arrives. */
static void oauth_authorize(const char *arn, json_object *doc)
{
    oauth_drop(arn);
    oauth_token(arn, doc);
}

static bool rate_ok(const char *arn, int64_t limit, int64_t now_ms, int64_t *retry_at)
{
    if (limit <= 0)
        return true;
    rate_slot *r = g_rates;
    while (r && strcmp(r->arn, arn))
        r = r->next;
    if (!r) {
        r = nb_calloc(1, sizeof *r);
        r->arn = nb_strdup(arn);
        r->next = g_rates;
        g_rates = r;
    }
    int64_t sec = now_ms / 1000;
    if (r->second != sec) {
        r->second = sec;
        r->count = 0;
    }
    if (r->count >= limit) {
        *retry_at = (sec + 1) * 1000;
        return false;
    }
    r->count++;
    return true;
}

int ev_api_invoke(const char *dest_arn, json_object *target, const char *payload, ev_api_cb cb,
                  void (*drop)(void *arg), void *arg, int64_t *retry_at, char *err, size_t errlen)
{
    res_row d, c;
    if (!res_load(NULL, NULL, "api-destination", NULL, dest_arn, &d)) {
        snprintf(err, errlen, "ApiDestination %s does not exist.", dest_arn);
        return -1;
    }
    if (!res_load(NULL, NULL, "connection", NULL, nb_str(d.doc, "ConnectionArn"), &c)) {
        snprintf(err, errlen, "The connection of ApiDestination %s does not exist.", dest_arn);
        json_object_put(d.doc);
        return -1;
    }
    int rc = -1;
    const char *state = nb_str(c.doc, "ConnectionState");
    const char *type = nb_str(c.doc, "AuthorizationType");
    bool oauth = type && !strcmp(type, "OAUTH_CLIENT_CREDENTIALS");
    int64_t limit = 0;
    nb_int(d.doc, "InvocationRateLimitPerSecond", &limit);
    const char *bearer = NULL;
    if (oauth && state && (!strcmp(state, "AUTHORIZING") || !strcmp(state, "AUTHORIZED"))) {
        /* Without a token that lasts another minute, one is fetched and
         * the delivery waits for it (not an attempt). */
        bearer = oauth_token(c.arn, c.doc);
        if (!bearer) {
            *retry_at = nb_now_ms() + OAUTH_WAIT_MS;
            rc = 1;
            goto out;
        }
    }
    if (!state || strcmp(state, "AUTHORIZED")) {
        snprintf(err, errlen, "The connection %s is not authorized.", c.name);
        goto out;
    }
    if (!rate_ok(d.arn, limit, nb_now_ms(), retry_at)) {
        rc = 1;
        goto out;
    }
    json_object *hp = nb_get(target, "HttpParameters");
    json_object *auth = nb_get(c.doc, "AuthParameters");
    /* URL: each '*' takes the next PathParameterValues entry. */
    nb_buf url = {0};
    const char *ep = nb_str(d.doc, "InvocationEndpoint");
    json_object *pv = nb_get(hp, "PathParameterValues");
    size_t pi = 0;
    for (const char *p = ep ? ep : ""; *p; p++) {
        if (*p == '*' && pv && pi < json_object_array_length(pv)) {
            const char *v = json_object_get_string(json_object_array_get_idx(pv, pi++));
            nb_buf_adds(&url, v ? v : "");
        } else {
            nb_buf_addc(&url, *p);
        }
    }
    nb_buf_addc(&url, '\0');
    url.len--;
    bool hq = strchr(url.data, '?') != NULL;
    nb_http_header h[48];
    size_t nh = 0;
    h[nh++] = (nb_http_header){"Content-Type", "application/json; charset=utf-8"};
    h[nh++] = (nb_http_header){"User-Agent", "Amazon/EventBridge/ApiDestinations"};
    char authz[OAUTH_TOKEN_MAX + 16] = "";
    if (type && !strcmp(type, "API_KEY")) {
        json_object *a = nb_get(auth, "ApiKeyAuthParameters");
        if (nb_str(a, "ApiKeyName") && nb_str(a, "ApiKeyValue"))
            h[nh++] = (nb_http_header){nb_str(a, "ApiKeyName"), nb_str(a, "ApiKeyValue")};
    } else if (type && !strcmp(type, "BASIC")) {
        json_object *a = nb_get(auth, "BasicAuthParameters");
        if (basic_auth(nb_str(a, "Username"), nb_str(a, "Password"), authz, sizeof authz))
            h[nh++] = (nb_http_header){"Authorization", authz};
    } else if (bearer) {
        snprintf(authz, sizeof authz, "Bearer %s", bearer);
        h[nh++] = (nb_http_header){"Authorization", authz};
    }
    json_object *inv = nb_get(auth, "InvocationHttpParameters");
    add_conn_params(inv, "HeaderParameters", NULL, NULL, h, &nh, 40);
    add_conn_params(inv, "QueryStringParameters", &url, &hq, NULL, NULL, 0);
    json_object *th = nb_get(hp, "HeaderParameters"), *tq = nb_get(hp, "QueryStringParameters");
    if (th && json_object_is_type(th, json_type_object)) {
        json_object_object_foreach(th, k, v)
        {
            if (nh < 47 && json_object_get_string(v))
                h[nh++] = (nb_http_header){k, json_object_get_string(v)};
        }
    }
    if (tq && json_object_is_type(tq, json_type_object)) {
        json_object_object_foreach(tq, k, v)
            add_query(&url, k, json_object_get_string(v) ? json_object_get_string(v) : "", &hq);
    }
    nb_buf_addc(&url, '\0');
    const char *method = nb_str(d.doc, "HttpMethod");
    bool body = method && strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "DELETE");
    nb_http_request req = {.method = method ? method : "POST", .url = url.data, .headers = h,
                           .n_headers = nh, .body = body ? payload : NULL,
                           .body_len = body ? strlen(payload) : 0, .timeout_ms = API_TIMEOUT_MS};
    api_job *j = nb_calloc(1, sizeof *j);
    if (bearer)
        snprintf(j->conn_arn, sizeof j->conn_arn, "%s", c.arn);
    j->cb = cb;
    j->drop = drop;
    j->arg = arg;
    j->next = g_jobs;
    if (g_jobs)
        g_jobs->prev = j;
    g_jobs = j;
    j->fetch = nb_http_fetch_start(&req, fetched, j);
    nb_buf_free(&url);
    rc = 0;
out:
    json_object_put(d.doc);
    json_object_put(c.doc);
    return rc;
}

void ev_api_reset(void)
{
    while (g_toks) {
        oauth_tok *t = g_toks;
        g_toks = t->next;
        tok_free(t);
    }
}

void ev_api_shutdown(void)
{
    while (g_jobs) {
        api_job *j = g_jobs;
        job_unlink(j);
        nb_http_cancel(j->fetch);
        if (j->drop)
            j->drop(j->arg);
        free(j);
    }
    ev_api_reset();
    while (g_rates) {
        rate_slot *r = g_rates->next;
        free(g_rates->arn);
        free(g_rates);
        g_rates = r;
    }
}
