/*
 * sns_sub.c — subscriptions: Subscribe (protocol and endpoint rules,
 * attributes at subscribe time, idempotency), Unsubscribe,
 * ConfirmSubscription, Get/SetSubscriptionAttributes and the two listings.
 *
 * sqs, lambda, firehose, sms and application subscriptions are confirmed at
 * once; http, https, email and email-json ones wait for ConfirmSubscription
 * with the token their SubscriptionConfirmation carried (stored in the
 * outbox, see sns_deliver.c).  Filter policies are compiled here only to
 * check them; the deliverer compiles them again (sns_filter).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../core/pattern.h"
#include "sns_internal.h"

static const char *const PROTOCOLS[] = {"sqs", "lambda", "http", "https", "email", "email-json",
                                        "sms", "application", "firehose", NULL};

static bool needs_confirmation(const char *proto)
{
    return !strcmp(proto, "http") || !strcmp(proto, "https") || !strcmp(proto, "email") ||
           !strcmp(proto, "email-json");
}

static bool arn_of(const char *endpoint, const char *service)
{
    sns_arn a;
    return sns_arn_parse(endpoint, &a) && !strcmp(a.service, service) && a.region[0] &&
           a.account[0];
}

static bool valid_phone(const char *p)
{
    size_t n = 0;
    if (*p == '+')
        p++;
    for (; *p; p++, n++)
        if (!isdigit((unsigned char)*p))
            return false;
    return n >= 1 && n <= 15;
}

static nb_status check_endpoint(nb_call *call, const char *proto, const char *ep)
{
    if (!ep || !*ep)
        return sns_invalid(call, "Endpoint");
    if (!strcmp(proto, "sqs"))
        return arn_of(ep, "sqs") ? NB_OK : sns_invalid(call, "SQS endpoint ARN");
    if (!strcmp(proto, "lambda"))
        return arn_of(ep, "lambda") ? NB_OK : sns_invalid(call, "Lambda endpoint ARN");
    if (!strcmp(proto, "firehose"))
        return arn_of(ep, "firehose") ? NB_OK : sns_invalid(call, "Firehose endpoint ARN");
    if (!strcmp(proto, "application"))
        return arn_of(ep, "sns") && strstr(ep, ":endpoint/") ? NB_OK
                                                            : sns_invalid(call, "Endpoint ARN");
    if (!strcmp(proto, "http") || !strcmp(proto, "https")) {
        size_t n = strlen(proto);
        if (strncasecmp(ep, proto, n) || strncmp(ep + n, "://", 3) || !ep[n + 3])
            return sns_invalid(call, "Endpoint must match the specified protocol");
        return NB_OK;
    }
    if (!strcmp(proto, "email") || !strcmp(proto, "email-json")) {
        const char *at = strchr(ep, '@');
        if (!at || at == ep || !at[1] || strchr(at + 1, '@') || strpbrk(ep, " \t\r\n"))
            return sns_invalid(call, "Email address");
        return NB_OK;
    }
    /* sms */
    return valid_phone(ep) ? NB_OK : sns_invalid(call, "Invalid SMS endpoint: %s", ep);
}

static bool is_bool_text(const char *v)
{
    return !strcmp(v, "true") || !strcmp(v, "false");
}

/* The filter policy's dialect for a FilterPolicyScope value. */
static nb_pattern_dialect scope_dialect(const char *scope)
{
    return scope && !strcmp(scope, "MessageBody") ? NB_PAT_SNS_BODY : NB_PAT_SNS_ATTRIBUTES;
}

static nb_status check_policy(nb_call *call, const char *policy, const char *scope)
{
    char err[400];
    nb_pattern *p = nb_pattern_compile(policy, strlen(policy), scope_dialect(scope), err, sizeof err);
    if (!p)
        return nb_fail(call, "InvalidParameterException", "%s", err);
    nb_pattern_free(p);
    return NB_OK;
}

/* Checks one attribute against the protocol and `attrs` (the subscription's
 * attributes so far), then stores it there ("" removes the optional ones). */
static nb_status apply_attr(nb_call *call, const char *proto, json_object *attrs, const char *name,
                            const char *v)
{
    if (!strcmp(name, "RawMessageDelivery")) {
        if (!is_bool_text(v))
            return sns_invalid(call, "Attributes Reason: RawMessageDelivery: Invalid value [%s]. "
                                     "Must be true or false.", v);
        if (strcmp(proto, "sqs") && strcmp(proto, "http") && strcmp(proto, "https") &&
            strcmp(proto, "firehose"))
            return sns_invalid(call, "Attributes Reason: Delivery protocol [%s] does not support "
                                     "raw message delivery.", proto);
    } else if (!strcmp(name, "FilterPolicy")) {
        if (*v && check_policy(call, v, nb_str(attrs, "FilterPolicyScope")) != NB_OK)
            return NB_ERROR;
    } else if (!strcmp(name, "FilterPolicyScope")) {
        if (strcmp(v, "MessageAttributes") && strcmp(v, "MessageBody"))
            return sns_invalid(call, "Attributes Reason: FilterPolicyScope: Invalid value [%s]. "
                                     "Please use either MessageBody or MessageAttributes", v);
        const char *fp = nb_str(attrs, "FilterPolicy");
        if (fp && check_policy(call, fp, v) != NB_OK)
            return NB_ERROR;
    } else if (!strcmp(name, "RedrivePolicy")) {
        if (*v) {
            json_object *o = json_tokener_parse(v);
            const char *dl = o && json_object_is_type(o, json_type_object)
                                 ? nb_str(o, "deadLetterTargetArn") : NULL;
            bool ok = dl && arn_of(dl, "sqs");
            bool parsed = o && json_object_is_type(o, json_type_object);
            if (o)
                json_object_put(o);
            if (!parsed)
                return sns_invalid(call, "RedrivePolicy: failed to parse JSON.");
            if (!ok)
                return sns_invalid(call, "RedrivePolicy: deadLetterTargetArn is an invalid arn");
        }
    } else if (!strcmp(name, "DeliveryPolicy") || !strcmp(name, "ReplayPolicy")) {
        if (*v) {
            json_object *o = json_tokener_parse(v);
            bool ok = o && json_object_is_type(o, json_type_object);
            if (o)
                json_object_put(o);
            if (!ok)
                return sns_invalid(call, "%s: failed to parse JSON.", name);
        }
    } else if (!strcmp(name, "SubscriptionRoleArn")) {
        if (*v && !arn_of(v, "iam"))
            return sns_invalid(call, "SubscriptionRoleArn");
    } else {
        return sns_invalid(call, "AttributeName");
    }
    if (!*v && strcmp(name, "RawMessageDelivery"))
        json_object_object_del(attrs, name);
    else
        json_object_object_add(attrs, name, json_object_new_string(v));
    return NB_OK;
}

static void sub_save_attrs(const char *arn, json_object *attrs)
{
    static sqlite3_stmt *st;
    sns_attrs_save(&st, "UPDATE sns_subs SET attrs = ? WHERE arn = ?", arn, attrs);
}

/* The existing subscription of (topic, protocol, endpoint), if any. */
static bool find_existing(const char *topic, const char *proto, const char *ep, sns_sub *out)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT arn FROM sns_subs WHERE topic_arn = ? AND protocol = ?"
                                   " AND endpoint = ?");
    sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, proto, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, ep, -1, SQLITE_STATIC);
    char arn[SNS_ARN_MAX] = "";
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(arn, sizeof arn, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return arn[0] && sns_sub_load(arn, out);
}

static void confirmation_out(const nb_call *call, const sns_topic *t, const char *sub_arn,
                             const char *proto, const char *ep, const char *token)
{
    json_object *rec = json_object_new_object();
    char id[37];
    nb_uuid(id);
    char ts[32];
    nb_iso8601((double)call->now_ms / 1000.0, ts);
    char msg[1400];
    snprintf(msg, sizeof msg,
             "You have chosen to subscribe to the topic %s.\nTo confirm the subscription, visit "
             "the SubscribeURL included in this message.", t->arn);
    json_object_object_add(rec, "Type", json_object_new_string("SubscriptionConfirmation"));
    json_object_object_add(rec, "MessageId", json_object_new_string(id));
    json_object_object_add(rec, "Token", json_object_new_string(token));
    json_object_object_add(rec, "TopicArn", json_object_new_string(t->arn));
    json_object_object_add(rec, "Message", json_object_new_string(msg));
    json_object_object_add(rec, "SubscriptionArn", json_object_new_string(sub_arn));
    json_object_object_add(rec, "Timestamp", json_object_new_string(ts));
    const char *sv = sns_topic_attr(t, "SignatureVersion");
    json_object_object_add(rec, "SignatureVersion", json_object_new_string(sv ? sv : "1"));
    /* Kept for inspection; an http(s) endpoint also gets it POSTed. */
    sns_outbox_add(t->account, t->region, proto, ep, rec);
    if (!strcmp(proto, "http") || !strcmp(proto, "https"))
        sns_enqueue(call, sub_arn, rec);
    json_object_put(rec);
}

nb_status sns_subscribe(nb_call *call, json_object *in)
{
    const char *proto = nb_str(in, "Protocol"), *ep = nb_str(in, "Endpoint");
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    nb_status st = NB_OK;
    bool known = false;
    for (int i = 0; proto && PROTOCOLS[i]; i++)
        known |= !strcmp(proto, PROTOCOLS[i]);
    if (!known)
        st = sns_invalid(call, "Amazon SNS does not support this protocol string: %s",
                         proto ? proto : "null");
    if (st == NB_OK)
        st = check_endpoint(call, proto, ep);
    /* FIFO topics deliver to SQS queues (FIFO or standard) only. */
    if (st == NB_OK && t.fifo && strcmp(proto, "sqs"))
        st = sns_invalid(call, "Invalid protocol type: %s", proto);
    size_t el = ep ? strlen(ep) : 0;
    if (st == NB_OK && !t.fifo && !strcmp(proto, "sqs") && el > 5 && !strcmp(ep + el - 5, ".fifo"))
        st = sns_invalid(call, "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
                               "subscribed to standard SNS topics");
    json_object *attrs = json_object_new_object();
    json_object *given = nb_get(in, "Attributes");
    /* FilterPolicyScope first: the policy is checked in its dialect. */
    const char *scope = given ? nb_str(given, "FilterPolicyScope") : NULL;
    if (st == NB_OK && scope)
        st = apply_attr(call, proto, attrs, "FilterPolicyScope", scope);
    if (st == NB_OK && given) {
        json_object_object_foreach(given, k, v)
        {
            if (!strcmp(k, "FilterPolicyScope"))
                continue;
            if ((st = apply_attr(call, proto, attrs, k, json_object_get_string(v))) != NB_OK)
                break;
        }
    }
    if (st == NB_OK && !strcmp(proto, "firehose") && !nb_get(attrs, "SubscriptionRoleArn"))
        st = sns_invalid(call, "Invalid parameter: SubscriptionRoleArn");
    if (st == NB_OK && nb_get(attrs, "FilterPolicy") && !nb_get(attrs, "FilterPolicyScope"))
        json_object_object_add(attrs, "FilterPolicyScope",
                               json_object_new_string("MessageAttributes"));
    bool ret_arn = false;
    nb_bool(in, "ReturnSubscriptionArn", &ret_arn);
    char arn[SNS_ARN_MAX] = "";
    bool pending = st == NB_OK && needs_confirmation(proto);
    sns_sub old;
    if (st == NB_OK && find_existing(t.arn, proto, ep, &old)) {
        json_object_object_foreach(attrs, k, v)
        {
            const char *cur = sns_sub_attr(&old, k);
            if (!cur || strcmp(cur, json_object_get_string(v))) {
                st = sns_invalid(call, "Attributes Reason: Subscription already exists with "
                                       "different attributes");
                break;
            }
        }
        snprintf(arn, sizeof arn, "%s", old.arn);
        pending = old.pending;
        sns_sub_free(&old);
    } else if (st == NB_OK) {
        char id[37], token[65];
        nb_uuid(id);
        unsigned char rnd[32];
        nb_random(rnd, sizeof rnd);
        nb_hex(rnd, sizeof rnd, token);
        snprintf(arn, sizeof arn, "%.1000s:%s", t.arn, id);
        static sqlite3_stmt *ins;
        sqlite3_stmt *s = nb_stmt(&ins, "INSERT INTO sns_subs(arn, topic_arn, account, region,"
                                        " owner, protocol, endpoint, attrs, pending, token)"
                                        " VALUES(?,?,?,?,?,?,?,?,?,?)");
        sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, t.arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, call->account, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, call->region, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, call->account, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, proto, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, ep, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 8, json_object_to_json_string_ext(attrs, JSON_C_TO_STRING_PLAIN), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 9, pending);
        sqlite3_bind_text(s, 10, token, -1, SQLITE_STATIC);
        sqlite3_step(s);
        sqlite3_reset(s);
        if (pending)
            confirmation_out(call, &t, arn, proto, ep, token);
    }
    json_object_put(attrs);
    sns_topic_free(&t);
    if (st != NB_OK)
        return st;
    call->out = json_object_new_object();
    json_object_object_add(call->out, "SubscriptionArn",
                           json_object_new_string(pending && !ret_arn ? "pending confirmation"
                                                                      : arn));
    return NB_OK;
}

/* Subscription ARN: the topic's ARN plus ":<id>". */
static bool sub_arn_ok(const char *arn)
{
    sns_arn a;
    return sns_arn_parse(arn, &a) && !strcmp(a.service, "sns") && strchr(a.resource, ':');
}

static bool sub_get(nb_call *call, const char *arn, sns_sub *s)
{
    if (!arn || !sub_arn_ok(arn)) {
        sns_invalid(call, "SubscriptionArn");
        return false;
    }
    if (!sns_sub_load(arn, s)) {
        nb_fail(call, "NotFoundException", "Subscription does not exist");
        return false;
    }
    return true;
}

static void sub_delete(const char *where, const char *key)
{
    char sql[160];
    /* Deliveries still queued for removed subscriptions are dropped. */
    snprintf(sql, sizeof sql, "DELETE FROM sns_deliveries WHERE sub_arn IN (SELECT arn FROM sns_subs"
                              " WHERE %s = ?)", where);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(nb_db(), sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
    snprintf(sql, sizeof sql, "DELETE FROM sns_subs WHERE %s = ?", where);
    if (sqlite3_prepare_v2(nb_db(), sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
}

void sns_subs_delete_topic(const char *topic_arn)
{
    sub_delete("topic_arn", topic_arn);
}

nb_status sns_unsubscribe(nb_call *call, json_object *in)
{
    sns_sub s;
    if (!sub_get(call, nb_str(in, "SubscriptionArn"), &s)) {
        /* Unsubscribing twice is not an error. */
        return !strcmp(call->err.code, "NotFoundException") ? NB_OK : NB_ERROR;
    }
    sub_delete("arn", s.arn);
    sns_topic_count_deleted(s.topic_arn);
    sns_sub_free(&s);
    return NB_OK;
}

nb_status sns_confirm_subscription(nb_call *call, json_object *in)
{
    const char *token = nb_str(in, "Token");
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    sns_topic_free(&t);
    static sqlite3_stmt *sel, *upd;
    sqlite3_stmt *s = nb_stmt(&sel, "SELECT arn FROM sns_subs WHERE topic_arn = ? AND token = ?");
    sqlite3_bind_text(s, 1, nb_str(in, "TopicArn"), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, token ? token : "", -1, SQLITE_STATIC);
    char arn[SNS_ARN_MAX] = "";
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(arn, sizeof arn, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (!arn[0])
        return sns_invalid(call, "Token");
    const char *auth = nb_str(in, "AuthenticateOnUnsubscribe");
    sns_sub sub;
    if (sns_sub_load(arn, &sub)) {
        if (sub.pending)
            json_object_object_add(sub.attrs, "_authenticated",
                                   json_object_new_boolean(auth && !strcmp(auth, "true")));
        sub_save_attrs(arn, sub.attrs);
        sns_sub_free(&sub);
    }
    s = nb_stmt(&upd, "UPDATE sns_subs SET pending = 0 WHERE arn = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "SubscriptionArn", json_object_new_string(arn));
    return NB_OK;
}

nb_status sns_get_subscription_attributes(nb_call *call, json_object *in)
{
    sns_sub s;
    if (!sub_get(call, nb_str(in, "SubscriptionArn"), &s))
        return NB_ERROR;
    json_object *a = json_object_new_object();
    json_object_object_foreach(s.attrs, k, v)
    {
        if (k[0] != '_')
            json_object_object_add(a, k, json_object_get(v));
    }
    bool authed = false;
    nb_bool(s.attrs, "_authenticated", &authed);
    json_object_object_add(a, "Owner", json_object_new_string(s.owner));
    if (!nb_get(a, "RawMessageDelivery"))
        json_object_object_add(a, "RawMessageDelivery", json_object_new_string("false"));
    json_object_object_add(a, "TopicArn", json_object_new_string(s.topic_arn));
    json_object_object_add(a, "Endpoint", json_object_new_string(s.endpoint));
    json_object_object_add(a, "Protocol", json_object_new_string(s.protocol));
    json_object_object_add(a, "PendingConfirmation",
                           json_object_new_string(s.pending ? "true" : "false"));
    json_object_object_add(a, "ConfirmationWasAuthenticated",
                           json_object_new_string(!s.pending && (authed ||
                                                  !needs_confirmation(s.protocol))
                                                      ? "true" : "false"));
    json_object_object_add(a, "SubscriptionArn", json_object_new_string(s.arn));
    char principal[64];
    snprintf(principal, sizeof principal, "arn:aws:iam::%s:root", s.owner);
    json_object_object_add(a, "SubscriptionPrincipal", json_object_new_string(principal));
    if (!strcmp(s.protocol, "http") || !strcmp(s.protocol, "https")) {
        const char *dp = sns_sub_attr(&s, "DeliveryPolicy");
        json_object_object_add(a, "EffectiveDeliveryPolicy",
                               json_object_new_string(dp ? dp : sns_default_delivery_policy()));
    }
    sns_sub_free(&s);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Attributes", a);
    return NB_OK;
}

nb_status sns_set_subscription_attributes(nb_call *call, json_object *in)
{
    sns_sub s;
    if (!sub_get(call, nb_str(in, "SubscriptionArn"), &s))
        return NB_ERROR;
    const char *name = nb_str(in, "AttributeName"), *v = nb_str(in, "AttributeValue");
    nb_status st = apply_attr(call, s.protocol, s.attrs, name ? name : "", v ? v : "");
    if (st == NB_OK && name && !strcmp(name, "FilterPolicy") && nb_get(s.attrs, "FilterPolicy") &&
        !nb_get(s.attrs, "FilterPolicyScope"))
        json_object_object_add(s.attrs, "FilterPolicyScope",
                               json_object_new_string("MessageAttributes"));
    if (st == NB_OK)
        sub_save_attrs(s.arn, s.attrs);
    sns_sub_free(&s);
    return st;
}

static json_object *sub_row(sqlite3_stmt *s)
{
    json_object *e = json_object_new_object();
    const char *cols[] = {"SubscriptionArn", "Owner", "Protocol", "Endpoint", "TopicArn"};
    for (int c = 0; c < 5; c++) {
        const char *v = (const char *)sqlite3_column_text(s, c + 1);
        if (c == 0 && sqlite3_column_int(s, 6))
            v = "PendingConfirmation";
        json_object_object_add(e, cols[c], json_object_new_string(v));
    }
    return e;
}

/* One page of subscriptions, of a topic or of the caller's account. */
static nb_status list_page(nb_call *call, json_object *in, const char *topic)
{
    int64_t after;
    if (!sns_token_parse(nb_str(in, "NextToken"), &after))
        return sns_invalid(call, "NextToken");
    static sqlite3_stmt *by_topic, *by_account;
    sqlite3_stmt *s;
    if (topic) {
        s = nb_stmt(&by_topic, "SELECT id, arn, owner, protocol, endpoint, topic_arn, pending"
                               " FROM sns_subs WHERE topic_arn = ? AND id > ? ORDER BY id LIMIT ?");
        sqlite3_bind_text(s, 1, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, after);
        sqlite3_bind_int(s, 3, SNS_PAGE + 1);
    } else {
        s = nb_stmt(&by_account, "SELECT id, arn, owner, protocol, endpoint, topic_arn, pending"
                                 " FROM sns_subs WHERE account = ? AND region = ? AND id > ?"
                                 " ORDER BY id LIMIT ?");
        sqlite3_bind_text(s, 1, call->account, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, call->region, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, after);
        sqlite3_bind_int(s, 4, SNS_PAGE + 1);
    }
    return sns_page(call, s, "Subscriptions", sub_row);
}

nb_status sns_list_subscriptions(nb_call *call, json_object *in)
{
    return list_page(call, in, NULL);
}

nb_status sns_list_subscriptions_by_topic(nb_call *call, json_object *in)
{
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    sns_topic_free(&t);
    return list_page(call, in, nb_str(in, "TopicArn"));
}
