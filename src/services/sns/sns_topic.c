/*
 * sns_topic.c — topics: CreateTopic (standard and FIFO, idempotent on the
 * same attributes and tags), Get/SetTopicAttributes, ListTopics, DeleteTopic,
 * AddPermission/RemovePermission (statements in the topic's Policy) and the
 * tag operations.
 *
 * A topic's attrs document holds the attributes set on it as the API shows
 * them (text), plus private counters starting with '_' that are never
 * rendered ("_deleted": subscriptions removed, for SubscriptionsDeleted).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sns_internal.h"

#define MAX_TAGS 50

static const char *const FEEDBACK[] = {"Application", "HTTP", "Lambda", "SQS", "Firehose", NULL};
static const char *const FEEDBACK_KINDS[] = {"SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate",
                                             "FailureFeedbackRoleArn", NULL};

static bool is_feedback_attr(const char *name)
{
    for (int i = 0; FEEDBACK[i]; i++) {
        size_t n = strlen(FEEDBACK[i]);
        if (strncmp(name, FEEDBACK[i], n) != 0)
            continue;
        for (int k = 0; FEEDBACK_KINDS[k]; k++)
            if (!strcmp(name + n, FEEDBACK_KINDS[k]))
                return true;
    }
    return false;
}

static bool is_json_object(const char *v)
{
    json_object *o = json_tokener_parse(v);
    bool ok = o && json_object_is_type(o, json_type_object);
    if (o)
        json_object_put(o);
    return ok;
}

/* NB_OK when `name` may be set to `value` on a topic (creating: FifoTopic
 * is allowed too). */
static nb_status check_attr(nb_call *call, const char *name, const char *value, bool fifo,
                            bool creating)
{
    if (!strcmp(name, "DisplayName") || !strcmp(name, "KmsMasterKeyId"))
        return NB_OK;
    if (!strcmp(name, "Policy")) {
        if (!is_json_object(value))
            return sns_invalid(call, "Policy Error: null");
        return NB_OK;
    }
    if (!strcmp(name, "DeliveryPolicy")) {
        if (!is_json_object(value))
            return sns_invalid(call, "DeliveryPolicy: failed to parse JSON.");
        return NB_OK;
    }
    if (!strcmp(name, "SignatureVersion")) {
        if (strcmp(value, "1") && strcmp(value, "2"))
            return sns_invalid(call, "SignatureVersion");
        return NB_OK;
    }
    if (!strcmp(name, "TracingConfig")) {
        if (strcmp(value, "PassThrough") && strcmp(value, "Active"))
            return sns_invalid(call, "TracingConfig");
        return NB_OK;
    }
    if (!strcmp(name, "FifoTopic")) {
        if (!creating)
            return sns_invalid(call, "AttributeName");
        if (strcmp(value, "true") && strcmp(value, "false"))
            return sns_invalid(call, "FifoTopic");
        return NB_OK;
    }
    if (!strcmp(name, "ContentBasedDeduplication") || !strcmp(name, "ArchivePolicy") ||
        !strcmp(name, "FifoThroughputScope")) {
        if (!fifo)
            return sns_invalid(call, "Attributes Reason: %s can only be set for FIFO topics", name);
        if (name[0] == 'C' && strcmp(value, "true") && strcmp(value, "false"))
            return sns_invalid(call, "ContentBasedDeduplication");
        if (name[0] == 'F' && strcmp(value, "Topic") && strcmp(value, "MessageGroup"))
            return sns_invalid(call, "FifoThroughputScope");
        if (name[0] == 'A' && *value) {
            json_object *o = json_tokener_parse(value);
            json_object *p = o ? nb_get(o, "MessageRetentionPeriod") : NULL;
            int64_t days = p ? json_object_get_int64(p) : 0;
            bool ok = o && json_object_is_type(o, json_type_object) && p && days >= 1 && days <= 365;
            if (o)
                json_object_put(o);
            if (!ok)
                return sns_invalid(call, "ArchivePolicy");
        }
        return NB_OK;
    }
    if (is_feedback_attr(name))
        return NB_OK;
    return sns_invalid(call, "AttributeName");
}

static bool valid_topic_name(const char *name, bool fifo)
{
    size_t n = strlen(name), base = n;
    if (n == 0 || n > 256)
        return false;
    if (fifo) {
        if (n < 6 || strcmp(name + n - 5, ".fifo"))
            return false;
        base = n - 5;
    }
    for (size_t i = 0; i < base; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

static void topic_save(const char *arn, json_object *attrs)
{
    static sqlite3_stmt *st;
    sns_attrs_save(&st, "UPDATE sns_topics SET attrs = ? WHERE arn = ?", arn, attrs);
}

/* Tags of a resource as an object k -> v. */
static json_object *tags_load(const char *arn)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT k, v FROM sns_tags WHERE arn = ? ORDER BY k");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    json_object *o = json_object_new_object();
    while (sqlite3_step(s) == SQLITE_ROW)
        json_object_object_add(o, (const char *)sqlite3_column_text(s, 0),
                               json_object_new_string((const char *)sqlite3_column_text(s, 1)));
    sqlite3_reset(s);
    return o;
}

/* Tags given as a list of {Key, Value}: checked, merged into `into`. */
static nb_status tags_merge(nb_call *call, json_object *list, json_object *into)
{
    size_t n = list ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(list, i);
        const char *k = nb_str(t, "Key"), *v = nb_str(t, "Value");
        if (!k || !v)
            return sns_invalid(call, "Tags");
        json_object_object_add(into, k, json_object_new_string(v));
    }
    if (json_object_object_length(into) > MAX_TAGS)
        return nb_fail(call, "TagLimitExceededException",
                       "Could not complete request: tag quota of per resource exceeded");
    return NB_OK;
}

static void tags_store(const char *arn, json_object *tags)
{
    static sqlite3_stmt *del, *ins;
    sqlite3_stmt *s = nb_stmt(&del, "DELETE FROM sns_tags WHERE arn = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
    json_object_object_foreach(tags, k, v)
    {
        s = nb_stmt(&ins, "INSERT INTO sns_tags(arn, k, v) VALUES(?, ?, ?)");
        sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, json_object_get_string(v), -1, SQLITE_STATIC);
        sqlite3_step(s);
        sqlite3_reset(s);
    }
}

static bool same_strings(json_object *a, json_object *b)
{
    if (json_object_object_length(a) != json_object_object_length(b))
        return false;
    json_object_object_foreach(a, k, v)
    {
        const char *o = nb_str(b, k);
        if (!o || strcmp(o, json_object_get_string(v)))
            return false;
    }
    return true;
}

nb_status sns_create_topic(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "Name");
    json_object *given = nb_get(in, "Attributes");
    const char *fifo_s = given ? nb_str(given, "FifoTopic") : NULL;
    bool fifo = fifo_s && !strcmp(fifo_s, "true");
    if (!name || !valid_topic_name(name, fifo)) {
        if (fifo)
            return sns_invalid(call, "Fifo Topic names must end with .fifo and must be made up of "
                                     "only uppercase and lowercase ASCII letters, numbers, "
                                     "underscores, and hyphens, and must be between 1 and 256 "
                                     "characters long.");
        return sns_invalid(call, "Topic Name");
    }
    json_object *attrs = json_object_new_object();
    nb_status st = NB_OK;
    if (given) {
        json_object_object_foreach(given, k, v)
        {
            const char *val = json_object_get_string(v);
            if ((st = check_attr(call, k, val, fifo, true)) != NB_OK)
                break;
            if (!strcmp(k, "FifoTopic") && !fifo)
                continue; /* "false" is the default, not stored */
            json_object_object_add(attrs, k, json_object_new_string(val));
        }
    }
    if (st == NB_OK && fifo && !nb_get(attrs, "ContentBasedDeduplication"))
        json_object_object_add(attrs, "ContentBasedDeduplication", json_object_new_string("false"));
    json_object *tags = json_object_new_object();
    if (st == NB_OK)
        st = tags_merge(call, nb_get(in, "Tags"), tags);
    const char *dpp = nb_str(in, "DataProtectionPolicy");
    if (st == NB_OK && dpp) {
        if (!is_json_object(dpp))
            st = sns_invalid(call, "DataProtectionPolicy");
        else
            json_object_object_add(attrs, "_DataProtectionPolicy", json_object_new_string(dpp));
    }
    char arn[SNS_ARN_MAX];
    snprintf(arn, sizeof arn, "arn:aws:sns:%s:%s:%s", call->region, call->account, name);
    if (st == NB_OK) {
        sns_topic t;
        nb_call probe = {0};
        if (sns_topic_get(&probe, arn, "TopicArn", &t)) {
            /* Exists: the same request again answers the same ARN. */
            json_object_object_foreach(attrs, k, v)
            {
                const char *cur = sns_topic_attr(&t, k);
                if (k[0] != '_' && (!cur || strcmp(cur, json_object_get_string(v)))) {
                    st = sns_invalid(call, "Attributes Reason: Topic already exists with "
                                           "different attributes");
                    break;
                }
            }
            json_object *cur_tags = tags_load(arn);
            if (st == NB_OK && nb_get(in, "Tags") && !same_strings(tags, cur_tags))
                st = sns_invalid(call, "Tags Reason: Topic already exists with different tags");
            json_object_put(cur_tags);
            sns_topic_free(&t);
        } else {
            static sqlite3_stmt *ins;
            sqlite3_stmt *s = nb_stmt(&ins, "INSERT INTO sns_topics(arn, account, region, name,"
                                            " fifo, attrs, created_ms) VALUES(?,?,?,?,?,?,?)");
            sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, call->account, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, call->region, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
            sqlite3_bind_int(s, 5, fifo);
            sqlite3_bind_text(s, 6, json_object_to_json_string_ext(attrs, JSON_C_TO_STRING_PLAIN),
                              -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 7, call->now_ms);
            sqlite3_step(s);
            sqlite3_reset(s);
            tags_store(arn, tags);
        }
    }
    json_object_put(attrs);
    json_object_put(tags);
    if (st != NB_OK)
        return st;
    sns_sign_prepare(); /* the signing key, ahead of the first Publish */
    call->out = json_object_new_object();
    json_object_object_add(call->out, "TopicArn", json_object_new_string(arn));
    return NB_OK;
}

nb_status sns_delete_topic(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "TopicArn");
    sns_topic t;
    if (!sns_topic_get(call, arn, "TopicArn", &t)) {
        /* Deleting a topic that does not exist is not an error. */
        if (!strcmp(call->err.code, "NotFoundException"))
            return NB_OK;
        return NB_ERROR;
    }
    sns_topic_free(&t);
    sns_subs_delete_topic(arn);
    static sqlite3_stmt *d1, *d2, *d3;
    const char *sql[3] = {"DELETE FROM sns_topics WHERE arn = ?", "DELETE FROM sns_tags WHERE arn = ?",
                          "DELETE FROM sns_dedup WHERE topic_arn = ?"};
    sqlite3_stmt **slots[3] = {&d1, &d2, &d3};
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *s = nb_stmt(slots[i], sql[i]);
        sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    return NB_OK;
}

static char *default_policy(const sns_topic *t)
{
    char *out = NULL;
    nb_buf b = {0};
    nb_buf_printf(&b,
                  "{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[{"
                  "\"Sid\":\"__default_statement_ID\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
                  "\"*\"},\"Action\":[\"SNS:GetTopicAttributes\",\"SNS:SetTopicAttributes\","
                  "\"SNS:AddPermission\",\"SNS:RemovePermission\",\"SNS:DeleteTopic\","
                  "\"SNS:Subscribe\",\"SNS:ListSubscriptionsByTopic\",\"SNS:Publish\"],"
                  "\"Resource\":\"%s\",\"Condition\":{\"StringEquals\":{\"AWS:SourceOwner\":\"%s\"}}"
                  "}]}",
                  t->arn, t->account);
    out = nb_strndup(b.data, b.len);
    nb_buf_free(&b);
    return out;
}

#define DEFAULT_DELIVERY_POLICY                                                                    \
    "{\"http\":{\"defaultHealthyRetryPolicy\":{\"minDelayTarget\":20,\"maxDelayTarget\":20,"       \
    "\"numRetries\":3,\"numMaxDelayRetries\":0,\"numNoDelayRetries\":0,\"numMinDelayRetries\":0,"  \
    "\"backoffFunction\":\"linear\"},\"disableSubscriptionOverrides\":false,"                      \
    "\"defaultRequestPolicy\":{\"headerContentType\":\"text/plain; charset=UTF-8\"}}}"

const char *sns_default_delivery_policy(void)
{
    return DEFAULT_DELIVERY_POLICY;
}

static void count_subs(const char *arn, int64_t *confirmed, int64_t *pending)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT coalesce(sum(pending = 0), 0), coalesce(sum(pending), 0)"
                                   " FROM sns_subs WHERE topic_arn = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    *confirmed = *pending = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *confirmed = sqlite3_column_int64(s, 0);
        *pending = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
}

static void add_count(json_object *o, const char *k, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    json_object_object_add(o, k, json_object_new_string(buf));
}

nb_status sns_get_topic_attributes(nb_call *call, json_object *in)
{
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    json_object *a = json_object_new_object();
    json_object_object_foreach(t.attrs, k, v)
    {
        if (k[0] != '_')
            json_object_object_add(a, k, json_object_get(v));
    }
    if (!nb_get(a, "Policy")) {
        char *p = default_policy(&t);
        json_object_object_add(a, "Policy", json_object_new_string(p));
        free(p);
    }
    json_object_object_add(a, "Owner", json_object_new_string(t.account));
    json_object_object_add(a, "TopicArn", json_object_new_string(t.arn));
    if (!nb_get(a, "DisplayName"))
        json_object_object_add(a, "DisplayName", json_object_new_string(""));
    const char *dp = sns_topic_attr(&t, "DeliveryPolicy");
    json_object_object_add(a, "EffectiveDeliveryPolicy",
                           json_object_new_string(dp ? dp : DEFAULT_DELIVERY_POLICY));
    int64_t confirmed, pending, deleted = 0;
    count_subs(t.arn, &confirmed, &pending);
    nb_int(t.attrs, "_deleted", &deleted);
    add_count(a, "SubscriptionsConfirmed", confirmed);
    add_count(a, "SubscriptionsPending", pending);
    add_count(a, "SubscriptionsDeleted", deleted);
    if (t.fifo)
        json_object_object_add(a, "FifoTopic", json_object_new_string("true"));
    sns_topic_free(&t);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Attributes", a);
    return NB_OK;
}

nb_status sns_set_topic_attributes(nb_call *call, json_object *in)
{
    const char *name = nb_str(in, "AttributeName"), *value = nb_str(in, "AttributeValue");
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    if (!value)
        value = "";
    nb_status st = check_attr(call, name ? name : "", value, t.fifo, false);
    if (st == NB_OK && !strcmp(name, "Policy") && !*value)
        st = sns_invalid(call, "Policy Error: null");
    if (st == NB_OK) {
        bool reset = !*value && (!strcmp(name, "DeliveryPolicy") || !strcmp(name, "ArchivePolicy") ||
                                 !strcmp(name, "KmsMasterKeyId"));
        if (reset)
            json_object_object_del(t.attrs, name);
        else
            json_object_object_add(t.attrs, name, json_object_new_string(value));
        topic_save(t.arn, t.attrs);
    }
    sns_topic_free(&t);
    return st;
}

static json_object *topic_row(sqlite3_stmt *s)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "TopicArn", json_object_new_string((const char *)sqlite3_column_text(s, 1)));
    return e;
}

nb_status sns_list_topics(nb_call *call, json_object *in)
{
    int64_t after;
    if (!sns_token_parse(nb_str(in, "NextToken"), &after))
        return sns_invalid(call, "NextToken");
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT rowid, arn FROM sns_topics WHERE account = ? AND"
                                   " region = ? AND rowid > ? ORDER BY rowid LIMIT ?");
    sqlite3_bind_text(s, 1, call->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, call->region, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, after);
    sqlite3_bind_int(s, 4, SNS_PAGE + 1);
    return sns_page(call, s, "Topics", topic_row);
}

/* ---- permissions ------------------------------------------------------------ */

static json_object *policy_doc(const sns_topic *t)
{
    const char *p = sns_topic_attr(t, "Policy");
    char *def = p ? NULL : default_policy(t);
    json_object *o = json_tokener_parse(p ? p : def);
    free(def);
    if (!o || !json_object_is_type(o, json_type_object)) {
        if (o)
            json_object_put(o);
        o = json_object_new_object();
    }
    json_object *stmts = nb_get(o, "Statement");
    if (!stmts || !json_object_is_type(stmts, json_type_array)) {
        json_object *arr = json_object_new_array();
        if (stmts)
            json_object_array_add(arr, json_object_get(stmts));
        json_object_object_add(o, "Statement", arr);
    }
    return o;
}

static void policy_store(sns_topic *t, json_object *doc)
{
    json_object_object_add(t->attrs, "Policy",
                           json_object_new_string(json_object_to_json_string_ext(
                               doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
    topic_save(t->arn, t->attrs);
}

static json_object *one_or_list(json_object *arr)
{
    if (json_object_array_length(arr) == 1) {
        json_object *v = json_object_get(json_object_array_get_idx(arr, 0));
        json_object_put(arr);
        return v;
    }
    return arr;
}

nb_status sns_add_permission(nb_call *call, json_object *in)
{
    const char *label = nb_str(in, "Label");
    json_object *accounts = nb_get(in, "AWSAccountId"), *actions = nb_get(in, "ActionName");
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    nb_status st = NB_OK;
    if (!accounts || !json_object_array_length(accounts))
        st = sns_invalid(call, "AWSAccountId");
    else if (!actions || !json_object_array_length(actions))
        st = sns_invalid(call, "ActionName");
    json_object *doc = policy_doc(&t), *stmts = nb_get(doc, "Statement");
    for (size_t i = 0; st == NB_OK && i < json_object_array_length(stmts); i++) {
        const char *sid = nb_str(json_object_array_get_idx(stmts, i), "Sid");
        if (sid && !strcmp(sid, label))
            st = sns_invalid(call, "Statement already exists");
    }
    if (st == NB_OK) {
        json_object *s = json_object_new_object(), *pr = json_object_new_array();
        json_object *acts = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(accounts); i++) {
            char p[64];
            snprintf(p, sizeof p, "arn:aws:iam::%s:root",
                     json_object_get_string(json_object_array_get_idx(accounts, i)));
            json_object_array_add(pr, json_object_new_string(p));
        }
        for (size_t i = 0; i < json_object_array_length(actions); i++) {
            char a[128];
            snprintf(a, sizeof a, "SNS:%s",
                     json_object_get_string(json_object_array_get_idx(actions, i)));
            json_object_array_add(acts, json_object_new_string(a));
        }
        json_object *principal = json_object_new_object();
        json_object_object_add(principal, "AWS", one_or_list(pr));
        json_object_object_add(s, "Sid", json_object_new_string(label));
        json_object_object_add(s, "Effect", json_object_new_string("Allow"));
        json_object_object_add(s, "Principal", principal);
        json_object_object_add(s, "Action", one_or_list(acts));
        json_object_object_add(s, "Resource", json_object_new_string(t.arn));
        json_object_array_add(stmts, s);
        policy_store(&t, doc);
    }
    json_object_put(doc);
    sns_topic_free(&t);
    return st;
}

nb_status sns_remove_permission(nb_call *call, json_object *in)
{
    const char *label = nb_str(in, "Label");
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    json_object *doc = policy_doc(&t), *stmts = nb_get(doc, "Statement");
    json_object *keep = json_object_new_array();
    bool removed = false;
    for (size_t i = 0; i < json_object_array_length(stmts); i++) {
        json_object *s = json_object_array_get_idx(stmts, i);
        const char *sid = nb_str(s, "Sid");
        if (sid && label && !strcmp(sid, label))
            removed = true;
        else
            json_object_array_add(keep, json_object_get(s));
    }
    json_object_object_add(doc, "Statement", keep);
    if (removed)
        policy_store(&t, doc);
    json_object_put(doc);
    sns_topic_free(&t);
    return NB_OK;
}

/* ---- tags ----------------------------------------------------------------- */

static bool tag_target(nb_call *call, const char *arn)
{
    sns_topic t;
    if (sns_topic_get(call, arn, "ResourceArn", &t)) {
        sns_topic_free(&t);
        return true;
    }
    if (!strcmp(call->err.code, "NotFoundException"))
        nb_fail(call, "ResourceNotFoundException", "Resource does not exist");
    return false;
}

nb_status sns_tag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceArn");
    if (!tag_target(call, arn))
        return NB_ERROR;
    json_object *tags = tags_load(arn);
    nb_status st = tags_merge(call, nb_get(in, "Tags"), tags);
    if (st == NB_OK)
        tags_store(arn, tags);
    json_object_put(tags);
    if (st == NB_OK)
        call->out = json_object_new_object();
    return st;
}

nb_status sns_untag_resource(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceArn");
    if (!tag_target(call, arn))
        return NB_ERROR;
    json_object *keys = nb_get(in, "TagKeys");
    static sqlite3_stmt *st;
    for (size_t i = 0; keys && i < json_object_array_length(keys); i++) {
        sqlite3_stmt *s = nb_stmt(&st, "DELETE FROM sns_tags WHERE arn = ? AND k = ?");
        sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, json_object_get_string(json_object_array_get_idx(keys, i)), -1,
                          SQLITE_STATIC);
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    call->out = json_object_new_object();
    return NB_OK;
}

nb_status sns_list_tags(nb_call *call, json_object *in)
{
    const char *arn = nb_str(in, "ResourceArn");
    if (!tag_target(call, arn))
        return NB_ERROR;
    json_object *tags = tags_load(arn), *list = json_object_new_array();
    json_object_object_foreach(tags, k, v)
    {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "Key", json_object_new_string(k));
        json_object_object_add(e, "Value", json_object_get(v));
        json_object_array_add(list, e);
    }
    json_object_put(tags);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Tags", list);
    return NB_OK;
}

void sns_topic_count_deleted(const char *topic_arn)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "UPDATE sns_topics SET attrs = json_set(attrs, '$._deleted',"
                                   " coalesce(json_extract(attrs, '$._deleted'), 0) + 1)"
                                   " WHERE arn = ?");
    sqlite3_bind_text(s, 1, topic_arn, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}
