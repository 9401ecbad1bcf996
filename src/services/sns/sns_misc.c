/*
 * sns_misc.c — what SNS only stores: platform applications and endpoints
 * (sns_platform documents {"Attributes": {...}}; publishing to an endpoint
 * goes to the outbox), SMS attributes (sns_kv, per account and region) and
 * the opt-out check; and nimbus' own endpoints under /_aws/sns/:
 *
 *   GET /_aws/sns/SimpleNotificationService-nimbus.pem  the signing cert
 *   GET /_aws/sns/outbox[?kind=K]    everything sent to email, email-json,
 *                                    sms, application, http(s), firehose
 *                                    endpoints (and confirmations)
 *   GET /_aws/sns/sms-messages       the same, kind sms
 *   GET /_aws/sns/subscription-tokens/<subscription ARN>   its confirmation
 *                                    token (the ARN ConfirmSubscription
 *                                    returns, or ReturnSubscriptionArn's)
 *   GET /_aws/sns/platform-endpoint-messages   kind application
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/http.h"
#include "sns_internal.h"

static const char *const PLATFORMS[] = {"ADM",  "APNS", "APNS_SANDBOX", "GCM", "BAIDU", "MPNS",
                                        "WNS",  "APNS_VOIP", "APNS_VOIP_SANDBOX", NULL};
/* Credentials are write-only: never shown by Get...Attributes. */
static bool secret_attr(const char *k)
{
    return !strcmp(k, "PlatformCredential") || !strcmp(k, "PlatformPrincipal");
}

static json_object *doc_get(const char *arn, const char *kind)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT doc FROM sns_platform WHERE arn = ? AND kind = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
    json_object *o = NULL;
    if (sqlite3_step(s) == SQLITE_ROW)
        o = json_tokener_parse((const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

static void doc_put(const nb_call *call, const char *arn, const char *kind, const char *parent,
                    json_object *doc)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "INSERT INTO sns_platform(arn, kind, parent, account, region,"
                                   " doc) VALUES(?,?,?,?,?,?) ON CONFLICT(arn) DO UPDATE SET"
                                   " doc = excluded.doc");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, parent, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_reset(s);
}

static void doc_delete(const char *arn)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "DELETE FROM sns_platform WHERE arn = ? OR parent = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, arn, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}

static json_object *public_attrs(json_object *doc)
{
    json_object *a = json_object_new_object(), *attrs = nb_get(doc, "Attributes");
    if (attrs) {
        json_object_object_foreach(attrs, k, v)
        {
            if (!secret_attr(k))
                json_object_object_add(a, k, json_object_get(v));
        }
    }
    return a;
}

static void merge_attrs(json_object *doc, json_object *given)
{
    json_object *attrs = nb_get(doc, "Attributes");
    if (!attrs) {
        attrs = json_object_new_object();
        json_object_object_add(doc, "Attributes", attrs);
    }
    if (given) {
        json_object_object_foreach(given, k, v)
            json_object_object_add(attrs, k, json_object_get(v));
    }
}

static bool platform_arn(const char *arn, const char *prefix)
{
    sns_arn a;
    return sns_arn_parse(arn, &a) && !strcmp(a.service, "sns") &&
           !strncmp(a.resource, prefix, strlen(prefix));
}

nb_status sns_create_platform_application(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name"), *platform = nb_str(in, "Platform");
    bool known = false;
    for (int i = 0; platform && PLATFORMS[i]; i++)
        known |= !strcmp(platform, PLATFORMS[i]);
    if (!known)
        return sns_invalid(call, "Platform");
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n <= 256;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-' ||
             name[i] == '.';
    if (!ok)
        return sns_invalid(call, "Application Name");
    char arn[SNS_ARN_MAX];
    snprintf(arn, sizeof arn, "arn:aws:sns:%s:%s:app/%s/%s", call->region, call->account, platform,
             name);
    json_object *doc = doc_get(arn, "app");
    if (!doc)
        doc = json_object_new_object();
    merge_attrs(doc, nb_get(in, "Attributes"));
    json_object *attrs = nb_get(doc, "Attributes");
    if (!nb_get(attrs, "Enabled"))
        json_object_object_add(attrs, "Enabled", json_object_new_string("true"));
    doc_put(call, arn, "app", NULL, doc);
    json_object_put(doc);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "PlatformApplicationArn", json_object_new_string(arn));
    return NB_OK;
}

/* Applications and endpoints are handled alike. */
typedef struct plat_kind {
    const char *kind, *prefix, *param, *missing;
} plat_kind;

static const plat_kind APP = {"app", "app/", "PlatformApplicationArn",
                              "PlatformApplication does not exist"};
static const plat_kind ENDPOINT = {"endpoint", "endpoint/", "EndpointArn",
                                   "Endpoint does not exist"};

static json_object *plat_get(nb_call *call, const char *arn, const plat_kind *k)
{
    bool ok = platform_arn(arn, k->prefix);
    json_object *d = ok ? doc_get(arn, k->kind) : NULL;
    if (!d) {
        if (ok)
            nb_fail(call, "NotFoundException", "%s", k->missing);
        else
            sns_invalid(call, "%s", k->param);
    }
    return d;
}

static nb_status plat_delete(nb_call *call, json_object *in, const plat_kind *k)
{
    const char *arn = nb_str(in, k->param);
    if (!platform_arn(arn, k->prefix))
        return sns_invalid(call, "%s", k->param);
    doc_delete(arn); /* deleting what does not exist is not an error */
    return NB_OK;
}

static nb_status plat_get_attrs(nb_call *call, json_object *in, const plat_kind *k)
{
    json_object *d = plat_get(call, nb_str(in, k->param), k);
    if (!d)
        return NB_ERROR;
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Attributes", public_attrs(d));
    json_object_put(d);
    return NB_OK;
}

static nb_status plat_set_attrs(nb_call *call, json_object *in, const plat_kind *k)
{
    const char *arn = nb_str(in, k->param);
    json_object *d = plat_get(call, arn, k);
    if (!d)
        return NB_ERROR;
    merge_attrs(d, nb_get(in, "Attributes"));
    doc_put(call, arn, k->kind, NULL, d); /* an update keeps the parent */
    json_object_put(d);
    return NB_OK;
}

nb_status sns_delete_platform_application(nb_call *call, json_object *in)
{
    return plat_delete(call, in, &APP);
}

nb_status sns_get_platform_application_attributes(nb_call *call, json_object *in)
{
    return plat_get_attrs(call, in, &APP);
}

nb_status sns_set_platform_application_attributes(nb_call *call, json_object *in)
{
    return plat_set_attrs(call, in, &APP);
}

nb_status sns_create_platform_endpoint(nb_call *call, json_object *in)
{
    const char *app = nb_str(in, "PlatformApplicationArn"), *token = nb_str(in, "Token");
    json_object *d = plat_get(call, app, &APP);
    if (!d)
        return NB_ERROR;
    json_object_put(d);
    if (!token || !*token)
        return sns_invalid(call, "Token");
    /* The same token on the same application answers the same endpoint. */
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT arn FROM sns_platform WHERE parent = ? AND"
                                   " json_extract(doc, '$.Attributes.Token') = ?");
    sqlite3_bind_text(s, 1, app, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, token, -1, SQLITE_STATIC);
    char arn[SNS_ARN_MAX] = "";
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(arn, sizeof arn, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (!arn[0]) {
        sns_arn a;
        sns_arn_parse(app, &a);
        char id[37];
        nb_uuid(id);
        snprintf(arn, sizeof arn, "arn:aws:sns:%s:%s:endpoint/%.900s/%s", a.region, a.account,
                 a.resource + 4, id);
        json_object *doc = json_object_new_object();
        merge_attrs(doc, nb_get(in, "Attributes"));
        json_object *attrs = nb_get(doc, "Attributes");
        json_object_object_add(attrs, "Token", json_object_new_string(token));
        if (!nb_get(attrs, "Enabled"))
            json_object_object_add(attrs, "Enabled", json_object_new_string("true"));
        const char *cud = nb_str(in, "CustomUserData");
        if (cud)
            json_object_object_add(attrs, "CustomUserData", json_object_new_string(cud));
        doc_put(call, arn, "endpoint", app, doc);
        json_object_put(doc);
    }
    call->out = json_object_new_object();
    json_object_object_add(call->out, "EndpointArn", json_object_new_string(arn));
    return NB_OK;
}

nb_status sns_delete_endpoint(nb_call *call, json_object *in)
{
    return plat_delete(call, in, &ENDPOINT);
}

nb_status sns_get_endpoint_attributes(nb_call *call, json_object *in)
{
    return plat_get_attrs(call, in, &ENDPOINT);
}

nb_status sns_set_endpoint_attributes(nb_call *call, json_object *in)
{
    return plat_set_attrs(call, in, &ENDPOINT);
}

static json_object *doc_row(sqlite3_stmt *s, const char *arn_key)
{
    json_object *doc = json_tokener_parse((const char *)sqlite3_column_text(s, 2));
    json_object *e = json_object_new_object();
    json_object_object_add(e, arn_key, json_object_new_string((const char *)sqlite3_column_text(s, 1)));
    json_object_object_add(e, "Attributes", public_attrs(doc));
    if (doc)
        json_object_put(doc);
    return e;
}

static json_object *app_row(sqlite3_stmt *s)
{
    return doc_row(s, "PlatformApplicationArn");
}

static json_object *endpoint_row(sqlite3_stmt *s)
{
    return doc_row(s, "EndpointArn");
}

/* A page of platform documents (applications, or one application's
 * endpoints) as [{<Kind>Arn: ARN, Attributes: {...}}]. */
static nb_status list_docs(nb_call *call, json_object *in, const char *parent, const char *list_key)
{
    int64_t after;
    if (!sns_token_parse(nb_str(in, "NextToken"), &after))
        return sns_invalid(call, "NextToken");
    static sqlite3_stmt *apps, *eps;
    sqlite3_stmt *s;
    if (parent) {
        s = nb_stmt(&eps, "SELECT rowid, arn, doc FROM sns_platform WHERE parent = ? AND"
                          " rowid > ? ORDER BY rowid LIMIT ?");
        sqlite3_bind_text(s, 1, parent, -1, SQLITE_STATIC);
    } else {
        s = nb_stmt(&apps, "SELECT rowid, arn, doc FROM sns_platform WHERE kind = 'app' AND"
                           " account || '/' || region = ? AND rowid > ? ORDER BY rowid LIMIT ?");
        char scope[64];
        snprintf(scope, sizeof scope, "%s/%s", call->account, call->region);
        sqlite3_bind_text(s, 1, scope, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, SNS_PAGE + 1);
    return sns_page(call, s, list_key, parent ? endpoint_row : app_row);
}

nb_status sns_list_platform_applications(nb_call *call, json_object *in)
{
    return list_docs(call, in, NULL, "PlatformApplications");
}

nb_status sns_list_endpoints(nb_call *call, json_object *in)
{
    const char *app = nb_str(in, "PlatformApplicationArn");
    json_object *d = plat_get(call, app, &APP);
    if (!d)
        return NB_ERROR;
    json_object_put(d);
    return list_docs(call, in, app, "Endpoints");
}

/* ---- SMS ------------------------------------------------------------------ */

static void sms_key(const nb_call *call, char out[80])
{
    snprintf(out, 80, "sms/%s/%s", call->account, call->region);
}

static json_object *sms_load(const nb_call *call)
{
    char k[80];
    sms_key(call, k);
    char *text = sns_kv_get(k);
    json_object *o = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o ? o : json_object_new_object();
}

nb_status sns_set_sms_attributes(nb_call *call, json_object *in)
{
    static const char *const KNOWN[] = {"MonthlySpendLimit", "DeliveryStatusIAMRole",
                                        "DeliveryStatusSuccessSamplingRate", "DefaultSenderID",
                                        "DefaultSMSType", "UsageReportS3Bucket", NULL};
    json_object *given = nb_get(in, "attributes");
    json_object *cur = sms_load(call);
    nb_status st = NB_OK;
    if (given) {
        json_object_object_foreach(given, k, v)
        {
            bool known = false;
            for (int i = 0; KNOWN[i]; i++)
                known |= !strcmp(k, KNOWN[i]);
            if (!known) {
                st = sns_invalid(call, "%s", k);
                break;
            }
            const char *val = json_object_get_string(v);
            if (!strcmp(k, "DefaultSMSType") && strcmp(val, "Promotional") &&
                strcmp(val, "Transactional")) {
                st = sns_invalid(call, "DefaultSMSType");
                break;
            }
            json_object_object_add(cur, k, json_object_get(v));
        }
    }
    if (st == NB_OK) {
        char k[80];
        sms_key(call, k);
        sns_kv_put(k, json_object_to_json_string_ext(cur, JSON_C_TO_STRING_PLAIN));
        call->out = json_object_new_object();
    }
    json_object_put(cur);
    return st;
}

nb_status sns_get_sms_attributes(nb_call *call, json_object *in)
{
    json_object *cur = sms_load(call), *names = nb_get(in, "attributes");
    json_object *out = json_object_new_object();
    json_object_object_foreach(cur, k, v)
    {
        bool want = !names || !json_object_array_length(names);
        for (size_t i = 0; !want && i < json_object_array_length(names); i++)
            want = !strcmp(k, json_object_get_string(json_object_array_get_idx(names, i)));
        if (want)
            json_object_object_add(out, k, json_object_get(v));
    }
    json_object_put(cur);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "attributes", out);
    return NB_OK;
}

nb_status sns_check_opted_out(nb_call *call, json_object *in)
{
    const char *p = nb_str(in, "phoneNumber");
    size_t n = 0;
    for (const char *c = p && *p == '+' ? p + 1 : p; c && *c; c++, n++)
        if (*c < '0' || *c > '9')
            return sns_invalid(call, "PhoneNumber");
    if (n < 2 || n > 15)
        return sns_invalid(call, "PhoneNumber");
    call->out = json_object_new_object();
    json_object_object_add(call->out, "isOptedOut", json_object_new_boolean(false));
    return NB_OK;
}

/* ---- /_aws/sns/ ----------------------------------------------------------- */

static void reply(nb_req *r, int status, const char *type, const char *body, size_t n)
{
    r->status = status;
    r->content_type = type;
    nb_buf_add(&r->rbody, body, n);
    nb_req_finish(r);
}

static void outbox_list(nb_req *r, const char *kind)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT kind, target, account, region, rec FROM sns_outbox"
                                   " WHERE ?1 IS NULL OR kind = ?1 ORDER BY id");
    if (kind)
        sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
    json_object *list = json_object_new_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_object *rec = json_tokener_parse((const char *)sqlite3_column_text(s, 4));
        if (!rec || !json_object_is_type(rec, json_type_object)) {
            if (rec)
                json_object_put(rec);
            rec = json_object_new_object();
        }
        const char *cols[] = {"Kind", "Target", "Account", "Region"};
        for (int c = 0; c < 4; c++)
            json_object_object_add(rec, cols[c],
                                   json_object_new_string((const char *)sqlite3_column_text(s, c)));
        json_object_array_add(list, rec);
    }
    sqlite3_reset(s);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "messages", list);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    reply(r, 200, "application/json", text, strlen(text));
    json_object_put(o);
}

/* The confirmation token of a subscription (its ARN percent-encoded or not). */
static void token_lookup(nb_req *r, const char *arn_enc, size_t n)
{
    nb_buf arn = {0};
    if (nb_url_decode(&arn, arn_enc, n, 0) != 0) {
        nb_buf_free(&arn);
        reply(r, 400, "application/json", "{\"error\":\"bad encoding\"}", 24);
        return;
    }
    nb_buf_addc(&arn, '\0');
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT token FROM sns_subs WHERE arn = ?");
    sqlite3_bind_text(s, 1, arn.data, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "subscription_arn", json_object_new_string(arn.data));
        json_object_object_add(o, "subscription_token",
                               json_object_new_string((const char *)sqlite3_column_text(s, 0)));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
        reply(r, 200, "application/json", text, strlen(text));
        json_object_put(o);
    } else {
        reply(r, 404, "application/json", "{\"error\":\"subscription not found\"}", 34);
    }
    sqlite3_reset(s);
    nb_buf_free(&arn);
}

bool nb_sns_http(nb_req *r)
{
    static const char PREFIX[] = "/_aws/sns/";
    size_t pl = sizeof PREFIX - 1;
    if (r->path_len < pl || memcmp(r->path, PREFIX, pl) != 0)
        return false;
    const char *rest = r->path + pl;
    size_t rn = r->path_len - pl;
    if (strcmp(r->method, "GET")) {
        reply(r, 405, "application/json", "{\"error\":\"use GET\"}", 19);
        return true;
    }
    if (!nb_services_started() && nb_services_start() != 0) {
        reply(r, 503, "application/json", "{\"error\":\"not started\"}", 23);
        return true;
    }
    static const char CERT[] = "SimpleNotificationService-nimbus.pem";
    if (rn == sizeof CERT - 1 && !memcmp(rest, CERT, rn)) {
        const char *pem = sns_cert_pem();
        if (pem)
            reply(r, 200, "application/x-x509-ca-cert", pem, strlen(pem));
        else
            reply(r, 500, "application/json", "{\"error\":\"no key\"}", 18);
        return true;
    }
    if ((rn == 6 && !memcmp(rest, "outbox", 6))) {
        nb_form f = {0};
        const char *kind = NULL;
        if (nb_form_parse(&f, r->query, r->query_len) == 0)
            kind = nb_form_get(&f, "kind", NULL);
        outbox_list(r, kind);
        nb_form_free(&f);
        return true;
    }
    static const char TOKENS[] = "subscription-tokens/";
    if (rn > sizeof TOKENS - 1 && !memcmp(rest, TOKENS, sizeof TOKENS - 1)) {
        token_lookup(r, rest + sizeof TOKENS - 1, rn - (sizeof TOKENS - 1));
        return true;
    }
    if (rn == 12 && !memcmp(rest, "sms-messages", 12)) {
        outbox_list(r, "sms");
        return true;
    }
    if (rn == 26 && !memcmp(rest, "platform-endpoint-messages", 26)) {
        outbox_list(r, "application");
        return true;
    }
    reply(r, 404, "application/json", "{\"error\":\"not found\"}", 21);
    return true;
}
