/*
 * sns_internal.h — the seams between the SNS service's files.
 *
 *   sns.c          descriptor, schema, lifecycle, ARNs and shared helpers
 *   sns_topic.c    topics: CreateTopic, attributes, listing, deletion,
 *                  permissions and tags
 *   sns_sub.c      subscriptions: Subscribe, attributes (filter policies,
 *                  redrive), confirmation, listings
 *   sns_publish.c  Publish and PublishBatch: validation, FIFO
 *                  deduplication, fan-out into the delivery table
 *   sns_deliver.c  the delivery queue (a table) and the deliverers: SQS
 *                  (envelope or raw), Lambda (the SNS event), the outbox
 *                  (email, sms, application), dead-letter queues
 *   sns_sign.c     the signing key and certificate, message signatures
 *   sns_misc.c     SMS and platform-application operations (stored only),
 *                  nimbus' /_aws/sns/ endpoints
 *
 * Schema (every table registered for /_nimbus/reset):
 *   sns_topics      arn PRIMARY KEY, account, region, name, fifo, attrs
 *                   (JSON object of the attributes set on the topic, text
 *                   values as the API shows them), created_ms
 *   sns_subs        arn PRIMARY KEY, topic_arn (index), owner, protocol,
 *                   endpoint, attrs (JSON object of set attributes),
 *                   pending, token; rowid orders the listings
 *   sns_tags        (arn, k) -> v
 *   sns_dedup       FIFO deduplication: (topic_arn, dedup_id) -> msg_id,
 *                   seq, expires_at (5 minutes)
 *   sns_deliveries  one row per (message, subscription) still to deliver:
 *                   due_ms, attempts, the caller's account/region/host, and
 *                   the message record (JSON, see sns_msg_record)
 *   sns_outbox      what was "sent" to email, sms and application
 *                   endpoints, for inspection through /_aws/sns/...
 *   sns_platform    platform applications and endpoints (documents)
 *   sns_kv          small singletons: the signing key and certificate (kept
 *                   by a reset), SMS attributes per account/region (sms/...)
 */
#ifndef NB_SNS_INTERNAL_H
#define NB_SNS_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../core/codec.h"
#include "../../core/nimbus.h"
#include "../../core/service.h"
#include "../../core/store.h"

#define SNS_PAGE 100                   /* ListTopics / ListSubscriptions* page */
#define SNS_MAX_MESSAGE 262144         /* message + attributes, bytes */
#define SNS_DEDUP_MS (5 * 60 * 1000)   /* FIFO deduplication window */
#define SNS_ARN_MAX 1100

/* ARN fields: arn:aws:sns:REGION:ACCOUNT:RESOURCE (RESOURCE may hold ':'). */
typedef struct sns_arn {
    char service[32], region[32], account[16], resource[1024];
} sns_arn;
bool sns_arn_parse(const char *arn, sns_arn *out);

/* Errors in SNS's wording: "Invalid parameter: <what>" (InvalidParameter). */
nb_status sns_invalid(nb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nb_status sns_topic_missing(nb_call *call);  /* NotFound "Topic does not exist" */

/* A topic row: NULL attrs when the ARN names no topic.  attrs is owned. */
typedef struct sns_topic {
    char arn[SNS_ARN_MAX];
    char account[16], region[32], name[260];
    bool fifo;
    json_object *attrs;
} sns_topic;
/* Looks the topic up; fails the call (InvalidParameter for a malformed ARN
 * naming `param`, NotFound when absent) and returns false. */
bool sns_topic_get(nb_call *call, const char *arn, const char *param, sns_topic *t);
void sns_topic_free(sns_topic *t);
bool sns_topic_content_dedup(const sns_topic *t);
const char *sns_topic_attr(const sns_topic *t, const char *name);  /* NULL if unset */

/* Pure message checks (sns_message.c).  On error they fill err (code is
 * the model's shape name) and return NB_ERROR.  sns_msg_attributes checks
 * Publish-form attributes {name: {DataType, StringValue | BinaryValue}},
 * adds their notification form {Type, Value} (Binary as base64) to out and
 * their bytes (name + type + value) to *size.  sns_msg_body checks Message,
 * MessageStructure and Subject of a Publish input and sets the record's
 * Message, Messages (per protocol) and Subject, adding to *size. */
nb_status sns_msg_attributes(json_object *attrs, json_object *out, size_t *size, nb_error *err);
nb_status sns_msg_body(json_object *in, json_object *rec, size_t *size, nb_error *err);

/* Subscriptions. */
typedef struct sns_sub {
    char arn[SNS_ARN_MAX], topic_arn[SNS_ARN_MAX];
    char protocol[16], owner[16];
    char *endpoint;          /* owned */
    json_object *attrs;      /* owned */
    bool pending;
} sns_sub;
bool sns_sub_load(const char *arn, sns_sub *s);
void sns_sub_free(sns_sub *s);
const char *sns_default_delivery_policy(void);
void sns_topic_count_deleted(const char *topic_arn);
void sns_subs_delete_topic(const char *topic_arn);
const char *sns_sub_attr(const sns_sub *s, const char *name);

/* sns_kv singletons (malloc'd value or NULL), and saving an attrs document
 * with `sql` = "UPDATE <table> SET attrs = ? WHERE arn = ?". */
char *sns_kv_get(const char *k);
void sns_kv_put(const char *k, const char *v);
void sns_attrs_save(sqlite3_stmt **slot, const char *sql, const char *arn, json_object *attrs);

/* Pagination tokens: the rowid to continue after. */
bool sns_token_parse(const char *tok, int64_t *after);
void sns_token_make(int64_t rowid, char out[32]);
/* One page: steps s (bound with LIMIT SNS_PAGE + 1; column 0 the rowid),
 * each row an element made by row(); call->out = {list_key: [...],
 * NextToken when more follow}. */
nb_status sns_page(nb_call *call, sqlite3_stmt *s, const char *list_key,
                   json_object *(*row)(sqlite3_stmt *s));

/* Publishing.  A message record (a JSON object) carries: MessageId, TopicArn,
 * Subject (optional), Message (the default text), Messages (per protocol,
 * MessageStructure=json), Timestamp, MessageAttributes (notification form
 * {Type, Value}), MessageGroupId, MessageDeduplicationId, SequenceNumber. */
void sns_fanout(const nb_call *call, const sns_topic *t, json_object *rec);
void sns_outbox_add(const char *account, const char *region, const char *kind,
                    const char *target, json_object *rec);

/* Delivery queue (sns_deliver.c). */
int sns_deliver_init(void);
void sns_deliver_kick(void);             /* run due rows on the next tick */
void sns_deliver_at(int64_t due_ms);     /* ... or at due_ms, if earlier */
void sns_delivery_done(int64_t id);      /* the row is finished: deleted */
void sns_delivery_later(int64_t id, int64_t due_ms, int attempts);
/* Insert one delivery row for a subscription (confirmations). */
void sns_enqueue(const nb_call *call, const char *sub_arn, json_object *rec);
const char *sns_message_for(json_object *rec, const char *proto);
char *sns_envelope(const nb_call *ctx, json_object *rec, const sns_sub *sub);
/* The SubscriptionConfirmation document of a confirmation record. */
char *sns_confirmation_envelope(const nb_call *ctx, json_object *rec);
void sns_dead_letter(const nb_call *ctx, const sns_sub *sub, json_object *rec, const char *code,
                     const char *message);

/* HTTP deliveries (sns_http.c): starts the POST of a row's message and
 * returns true (the row is finished or rescheduled when it completes). */
bool sns_http_deliver(const nb_call *ctx, int64_t id, const sns_sub *sub, json_object *rec,
                      int attempts);
void sns_http_shutdown(void);
void sns_deliver_shutdown(void);
void sns_deliver_reset(void);

/* Signatures (sns_sign.c). */
int sns_sign_init(void);
/* Starts making the signing key on the threadpool if there is none. */
void sns_sign_prepare(void);
void sns_sign_free(void);
/* Base64 signature over the canonical string of a notification or
 * subscription confirmation (version "1": SHA1withRSA, "2": SHA256). */
char *sns_sign(json_object *fields, const char *type, const char *version);
/* Starts signing fields on the libuv threadpool (once per text); while it
 * runs sns_sign_waiting is true, and its completion kicks the delivery
 * queue. */
void sns_sign_ahead(json_object *fields, const char *type, const char *version);
bool sns_sign_waiting(json_object *fields, const char *type, const char *version);
const char *sns_cert_pem(void);
void sns_cert_url(const char *host, const char *region, char *out, size_t n);
void sns_subscribe_url(const char *host, const char *topic_arn, const char *token, char *out,
                       size_t n);
void sns_unsubscribe_url(const char *host, const char *region, const char *sub_arn, char *out,
                         size_t n);

/* Handlers by file. */
nb_status sns_create_topic(nb_call *call, json_object *in);
nb_status sns_delete_topic(nb_call *call, json_object *in);
nb_status sns_get_topic_attributes(nb_call *call, json_object *in);
nb_status sns_set_topic_attributes(nb_call *call, json_object *in);
nb_status sns_list_topics(nb_call *call, json_object *in);
nb_status sns_add_permission(nb_call *call, json_object *in);
nb_status sns_remove_permission(nb_call *call, json_object *in);
nb_status sns_tag_resource(nb_call *call, json_object *in);
nb_status sns_untag_resource(nb_call *call, json_object *in);
nb_status sns_list_tags(nb_call *call, json_object *in);
nb_status sns_subscribe(nb_call *call, json_object *in);
nb_status sns_unsubscribe(nb_call *call, json_object *in);
nb_status sns_confirm_subscription(nb_call *call, json_object *in);
nb_status sns_get_subscription_attributes(nb_call *call, json_object *in);
nb_status sns_set_subscription_attributes(nb_call *call, json_object *in);
nb_status sns_list_subscriptions(nb_call *call, json_object *in);
nb_status sns_list_subscriptions_by_topic(nb_call *call, json_object *in);
nb_status sns_publish(nb_call *call, json_object *in);
nb_status sns_publish_batch(nb_call *call, json_object *in);
nb_status sns_create_platform_application(nb_call *call, json_object *in);
nb_status sns_delete_platform_application(nb_call *call, json_object *in);
nb_status sns_list_platform_applications(nb_call *call, json_object *in);
nb_status sns_get_platform_application_attributes(nb_call *call, json_object *in);
nb_status sns_set_platform_application_attributes(nb_call *call, json_object *in);
nb_status sns_create_platform_endpoint(nb_call *call, json_object *in);
nb_status sns_delete_endpoint(nb_call *call, json_object *in);
nb_status sns_get_endpoint_attributes(nb_call *call, json_object *in);
nb_status sns_set_endpoint_attributes(nb_call *call, json_object *in);
nb_status sns_list_endpoints(nb_call *call, json_object *in);
nb_status sns_get_sms_attributes(nb_call *call, json_object *in);
nb_status sns_set_sms_attributes(nb_call *call, json_object *in);
nb_status sns_check_opted_out(nb_call *call, json_object *in);

#define SNS_MISC_OPS \
    {"CreatePlatformApplication", sns_create_platform_application}, \
    {"DeletePlatformApplication", sns_delete_platform_application}, \
    {"ListPlatformApplications", sns_list_platform_applications}, \
    {"GetPlatformApplicationAttributes", sns_get_platform_application_attributes}, \
    {"SetPlatformApplicationAttributes", sns_set_platform_application_attributes}, \
    {"CreatePlatformEndpoint", sns_create_platform_endpoint}, \
    {"DeleteEndpoint", sns_delete_endpoint}, \
    {"GetEndpointAttributes", sns_get_endpoint_attributes}, \
    {"SetEndpointAttributes", sns_set_endpoint_attributes}, \
    {"ListEndpointsByPlatformApplication", sns_list_endpoints}, \
    {"GetSMSAttributes", sns_get_sms_attributes}, \
    {"SetSMSAttributes", sns_set_sms_attributes}, \
    {"CheckIfPhoneNumberIsOptedOut", sns_check_opted_out},

#endif
