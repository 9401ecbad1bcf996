/*
 * sns.c — the SNS service descriptor, schema, lifecycle and the helpers the
 * other files share (ARNs, errors, topic and subscription rows, tokens).
 * The layout of the service and its tables is described in sns_internal.h.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sns_internal.h"

#include "../../gen/models.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS sns_topics("
    " arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
    " fifo INTEGER NOT NULL, attrs TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sns_subs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, arn TEXT NOT NULL UNIQUE, topic_arn TEXT NOT NULL,"
    " account TEXT NOT NULL, region TEXT NOT NULL, owner TEXT NOT NULL,"
    " protocol TEXT NOT NULL, endpoint TEXT NOT NULL, attrs TEXT NOT NULL,"
    " pending INTEGER NOT NULL, token TEXT);"
    "CREATE INDEX IF NOT EXISTS sns_subs_topic ON sns_subs(topic_arn, id);"
    "CREATE TABLE IF NOT EXISTS sns_tags("
    " arn TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY(arn, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sns_dedup("
    " topic_arn TEXT NOT NULL, dedup_id TEXT NOT NULL, msg_id TEXT NOT NULL,"
    " seq TEXT NOT NULL, expires_at INTEGER NOT NULL,"
    " PRIMARY KEY(topic_arn, dedup_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sns_dedup_exp ON sns_dedup(expires_at);"
    "CREATE TABLE IF NOT EXISTS sns_deliveries("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, sub_arn TEXT NOT NULL, due_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, account TEXT NOT NULL, region TEXT NOT NULL,"
    " host TEXT NOT NULL, rec TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sns_deliveries_due ON sns_deliveries(due_ms, id);"
    "CREATE TABLE IF NOT EXISTS sns_outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, region TEXT NOT NULL,"
    " kind TEXT NOT NULL, target TEXT NOT NULL, rec TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sns_platform("
    " arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT, account TEXT NOT NULL,"
    " region TEXT NOT NULL, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sns_kv(k TEXT PRIMARY KEY, v TEXT NOT NULL);";

static const char *const TABLES[] = {"sns_topics", "sns_subs",   "sns_tags",     "sns_dedup",
                                     "sns_deliveries", "sns_outbox", "sns_platform", NULL};

/* ---- helpers ------------------------------------------------------------ */

nb_status sns_invalid(nb_call *call, const char *fmt, ...)
{
    char buf[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return nb_fail(call, "InvalidParameterException", "Invalid parameter: %s", buf);
}

nb_status sns_topic_missing(nb_call *call)
{
    return nb_fail(call, "NotFoundException", "Topic does not exist");
}

static json_object *parse_obj(const char *text)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o ? o : json_object_new_object();
}

bool sns_topic_get(nb_call *call, const char *arn, const char *param, sns_topic *t)
{
    memset(t, 0, sizeof *t);
    sns_arn a;
    if (!sns_arn_parse(arn, &a) || strcmp(a.service, "sns") || strchr(a.resource, ':')) {
        sns_invalid(call, "%s", param);
        return false;
    }
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT account, region, name, fifo, attrs FROM sns_topics"
                                   " WHERE arn = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sns_topic_missing(call);
        return false;
    }
    snprintf(t->arn, sizeof t->arn, "%s", arn);
    snprintf(t->account, sizeof t->account, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(t->region, sizeof t->region, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(s, 2));
    t->fifo = sqlite3_column_int(s, 3) != 0;
    t->attrs = parse_obj((const char *)sqlite3_column_text(s, 4));
    sqlite3_reset(s);
    return true;
}

void sns_topic_free(sns_topic *t)
{
    if (t->attrs)
        json_object_put(t->attrs);
    t->attrs = NULL;
}

const char *sns_topic_attr(const sns_topic *t, const char *name)
{
    return nb_str(t->attrs, name);
}

bool sns_topic_content_dedup(const sns_topic *t)
{
    const char *v = sns_topic_attr(t, "ContentBasedDeduplication");
    return v && !strcmp(v, "true");
}

bool sns_sub_load(const char *arn, sns_sub *sub)
{
    memset(sub, 0, sizeof *sub);
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT topic_arn, owner, protocol, endpoint, attrs, pending"
                                   " FROM sns_subs WHERE arn = ?");
    sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW)
        return false;
    snprintf(sub->arn, sizeof sub->arn, "%s", arn);
    snprintf(sub->topic_arn, sizeof sub->topic_arn, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(sub->owner, sizeof sub->owner, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(sub->protocol, sizeof sub->protocol, "%s", (const char *)sqlite3_column_text(s, 2));
    sub->endpoint = nb_strdup((const char *)sqlite3_column_text(s, 3));
    sub->attrs = parse_obj((const char *)sqlite3_column_text(s, 4));
    sub->pending = sqlite3_column_int(s, 5) != 0;
    sqlite3_reset(s);
    return true;
}

void sns_sub_free(sns_sub *sub)
{
    free(sub->endpoint);
    if (sub->attrs)
        json_object_put(sub->attrs);
    sub->endpoint = NULL;
    sub->attrs = NULL;
}

const char *sns_sub_attr(const sns_sub *s, const char *name)
{
    return nb_str(s->attrs, name);
}

nb_status sns_page(nb_call *call, sqlite3_stmt *s, const char *list_key,
                   json_object *(*row)(sqlite3_stmt *s))
{
    json_object *list = json_object_new_array();
    int64_t last = 0;
    int n = 0;
    bool more = false;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == SNS_PAGE) {
            more = true;
            break;
        }
        last = sqlite3_column_int64(s, 0);
        json_object_array_add(list, row(s));
        n++;
    }
    sqlite3_reset(s);
    call->out = json_object_new_object();
    json_object_object_add(call->out, list_key, list);
    if (more) {
        char tok[32];
        sns_token_make(last, tok);
        json_object_object_add(call->out, "NextToken", json_object_new_string(tok));
    }
    return NB_OK;
}

char *sns_kv_get(const char *k)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT v FROM sns_kv WHERE k = ?");
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    char *v = sqlite3_step(s) == SQLITE_ROW ? nb_strdup((const char *)sqlite3_column_text(s, 0))
                                            : NULL;
    sqlite3_reset(s);
    return v;
}

void sns_kv_put(const char *k, const char *v)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "INSERT OR REPLACE INTO sns_kv(k, v) VALUES(?, ?)");
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}

void sns_attrs_save(sqlite3_stmt **slot, const char *sql, const char *arn, json_object *attrs)
{
    sqlite3_stmt *s = nb_stmt(slot, sql);
    sqlite3_bind_text(s, 1, json_object_to_json_string_ext(attrs, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, arn, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}

/* ---- lifecycle ------------------------------------------------------------ */

static int sns_init(nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    return sns_deliver_init();
}

static void sns_reset(void)
{
    /* sns_kv keeps the signing key across resets; the SMS settings go. */
    nb_exec("DELETE FROM sns_kv WHERE k LIKE 'sms/%'");
    sns_deliver_reset();
}

static void sns_shutdown(void)
{
    sns_deliver_shutdown();
    sns_sign_free();
}

static const nb_op_entry sns_ops[] = {
    {"CreateTopic", sns_create_topic},
    {"DeleteTopic", sns_delete_topic},
    {"GetTopicAttributes", sns_get_topic_attributes},
    {"SetTopicAttributes", sns_set_topic_attributes},
    {"ListTopics", sns_list_topics},
    {"AddPermission", sns_add_permission},
    {"RemovePermission", sns_remove_permission},
    {"TagResource", sns_tag_resource},
    {"UntagResource", sns_untag_resource},
    {"ListTagsForResource", sns_list_tags},
    {"Subscribe", sns_subscribe},
    {"Unsubscribe", sns_unsubscribe},
    {"ConfirmSubscription", sns_confirm_subscription},
    {"GetSubscriptionAttributes", sns_get_subscription_attributes},
    {"SetSubscriptionAttributes", sns_set_subscription_attributes},
    {"ListSubscriptions", sns_list_subscriptions},
    {"ListSubscriptionsByTopic", sns_list_subscriptions_by_topic},
    {"Publish", sns_publish},
    {"PublishBatch", sns_publish_batch},
    SNS_MISC_OPS
    {NULL, NULL},
};

const nb_service nb_service_sns = {
    .name = "sns",
    .model = &nb_model_sns,
    .ops = sns_ops,
    .init = sns_init,
    .reset = sns_reset,
    .shutdown = sns_shutdown,
};
