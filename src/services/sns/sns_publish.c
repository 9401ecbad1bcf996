/*
 * sns_publish.c — Publish and PublishBatch.
 *
 * A publish is checked whole before anything is stored: target (TopicArn,
 * TargetArn or PhoneNumber, exactly one), Message (non-empty; with
 * MessageStructure=json an object of strings with a "default"), Subject,
 * message attributes (names, data types, values), the 256 KiB limit over
 * the message and every attribute's name, type and value, and for FIFO
 * topics MessageGroupId and the deduplication id.  The accepted message
 * becomes a record (sns_internal.h) that sns_fanout hands to every
 * subscription whose filter policy matches; a FIFO duplicate within five
 * minutes answers the first message's MessageId and SequenceNumber and is
 * not delivered again.
 */
#include <ctype.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sns_internal.h"

#define BATCH_MAX 10

static int64_t g_seq;

static void next_seq(int64_t now_ms, char out[24])
{
    int64_t t = now_ms * 1024;
    g_seq = g_seq + 1 > t ? g_seq + 1 : t;
    snprintf(out, 24, "%" PRIu64, (uint64_t)10000000000000000000ULL + (uint64_t)g_seq);
}

static bool valid_token(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

/* FIFO members.  *dup is set when the deduplication id was seen within five
 * minutes: the record then carries the first message's id and sequence. */
static nb_status check_fifo(nb_call *call, const sns_topic *t, json_object *in, json_object *rec,
                            bool *dup)
{
    const char *g = nb_str(in, "MessageGroupId"), *d = nb_str(in, "MessageDeduplicationId");
    *dup = false;
    if (g && !valid_token(g))
        return sns_invalid(call, "MessageGroupId");
    if (d && !valid_token(d))
        return sns_invalid(call, "MessageDeduplicationId");
    if (!t || !t->fifo) {
        if (d)
            return sns_invalid(call, "MessageDeduplicationId Reason: The request includes "
                                     "MessageDeduplicationId parameter that is not valid for this "
                                     "topic type");
        if (g && t)
            json_object_object_add(rec, "MessageGroupId", json_object_new_string(g));
        return NB_OK;
    }
    if (!g)
        return sns_invalid(call, "The MessageGroupId parameter is required for FIFO topics");
    char hash[65];
    if (!d) {
        if (!sns_topic_content_dedup(t))
            return sns_invalid(call, "The topic should either have ContentBasedDeduplication "
                                     "enabled or MessageDeduplicationId provided explicitly");
        json_object *m = nb_get(in, "Message");
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)json_object_get_string(m),
               (size_t)json_object_get_string_len(m), md);
        nb_hex(md, sizeof md, hash);
        d = hash;
    }
    json_object_object_add(rec, "MessageGroupId", json_object_new_string(g));
    json_object_object_add(rec, "MessageDeduplicationId", json_object_new_string(d));
    const char *scope = sns_topic_attr(t, "FifoThroughputScope");
    char key[300];
    snprintf(key, sizeof key, "%s%s%s", scope && !strcmp(scope, "MessageGroup") ? g : "",
             scope && !strcmp(scope, "MessageGroup") ? "\x1f" : "", d);
    static sqlite3_stmt *sel, *ins, *purge;
    static int64_t last_purge;
    if (call->now_ms - last_purge >= 1000) { /* expired records, at most once a second */
        last_purge = call->now_ms;
        sqlite3_stmt *p = nb_stmt(&purge, "DELETE FROM sns_dedup WHERE expires_at <= ?");
        sqlite3_bind_int64(p, 1, call->now_ms);
        sqlite3_step(p);
        sqlite3_reset(p);
    }
    sqlite3_stmt *s = nb_stmt(&sel, "SELECT msg_id, seq FROM sns_dedup WHERE topic_arn = ? AND"
                                    " dedup_id = ? AND expires_at > ?");
    sqlite3_bind_text(s, 1, t->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, call->now_ms);
    if (sqlite3_step(s) == SQLITE_ROW) {
        json_object_object_add(rec, "MessageId",
                               json_object_new_string((const char *)sqlite3_column_text(s, 0)));
        json_object_object_add(rec, "SequenceNumber",
                               json_object_new_string((const char *)sqlite3_column_text(s, 1)));
        sqlite3_reset(s);
        *dup = true;
        return NB_OK;
    }
    sqlite3_reset(s);
    char seq[24];
    next_seq(call->now_ms, seq);
    json_object_object_add(rec, "SequenceNumber", json_object_new_string(seq));
    s = nb_stmt(&ins, "INSERT OR REPLACE INTO sns_dedup(topic_arn, dedup_id, msg_id, seq,"
                      " expires_at) VALUES(?,?,?,?,?)");
    sqlite3_bind_text(s, 1, t->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, nb_str(rec, "MessageId"), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, seq, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, call->now_ms + SNS_DEDUP_MS);
    sqlite3_step(s);
    sqlite3_reset(s);
    return NB_OK;
}

/* Everything but the target: a record in *out, or the call failed. */
static nb_status prepare(nb_call *call, const sns_topic *t, json_object *in, json_object **out,
                         bool *dup)
{
    json_object *rec = json_object_new_object();
    char id[37], ts[32];
    nb_uuid(id);
    nb_iso8601((double)call->now_ms / 1000.0, ts);
    json_object_object_add(rec, "MessageId", json_object_new_string(id));
    if (t)
        json_object_object_add(rec, "TopicArn", json_object_new_string(t->arn));
    size_t size = 0;
    json_object *attrs = json_object_new_object();
    nb_status st = sns_msg_body(in, rec, &size, &call->err);
    if (st == NB_OK)
        st = sns_msg_attributes(nb_get(in, "MessageAttributes"), attrs, &size, &call->err);
    if (st == NB_OK && size > SNS_MAX_MESSAGE)
        st = sns_invalid(call, "Message too long");
    json_object_object_add(rec, "Timestamp", json_object_new_string(ts));
    json_object_object_add(rec, "MessageAttributes", attrs);
    const char *sv = t ? sns_topic_attr(t, "SignatureVersion") : NULL;
    json_object_object_add(rec, "SignatureVersion", json_object_new_string(sv ? sv : "1"));
    *dup = false;
    if (st == NB_OK)
        st = check_fifo(call, t, in, rec, dup);
    if (st != NB_OK) {
        json_object_put(rec);
        return st;
    }
    *out = rec;
    return NB_OK;
}

static json_object *result(json_object *rec, const char *entry_id)
{
    json_object *o = json_object_new_object();
    if (entry_id)
        json_object_object_add(o, "Id", json_object_new_string(entry_id));
    json_object_object_add(o, "MessageId", json_object_get(nb_get(rec, "MessageId")));
    json_object *seq = nb_get(rec, "SequenceNumber");
    if (seq)
        json_object_object_add(o, "SequenceNumber", json_object_get(seq));
    return o;
}

/* Publish to a platform endpoint (TargetArn) or a phone number: stored in
 * the outbox. */
static nb_status publish_direct(nb_call *call, json_object *in, const char *target, bool phone)
{
    if (phone) {
        const char *p = target + (target[0] == '+');
        size_t n = 0;
        for (; *p; p++, n++)
            if (!isdigit((unsigned char)*p))
                return sns_invalid(call, "PhoneNumber Reason: %s does not meet the E164 format",
                                   target);
        if (n < 2 || n > 15)
            return sns_invalid(call, "PhoneNumber Reason: %s does not meet the E164 format",
                               target);
    } else {
        static sqlite3_stmt *st;
        sqlite3_stmt *s = nb_stmt(&st, "SELECT 1 FROM sns_platform WHERE arn = ? AND"
                                       " kind = 'endpoint'");
        sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
        bool found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_reset(s);
        if (!found)
            return nb_fail(call, "NotFoundException", "Endpoint does not exist");
    }
    json_object *rec;
    bool dup;
    if (prepare(call, NULL, in, &rec, &dup) != NB_OK)
        return NB_ERROR;
    sns_outbox_add(call->account, call->region, phone ? "sms" : "application", target, rec);
    call->out = result(rec, NULL);
    json_object_put(rec);
    return NB_OK;
}

nb_status sns_publish(nb_call *call, json_object *in)
{
    const char *topic = nb_str(in, "TopicArn"), *target = nb_str(in, "TargetArn");
    const char *phone = nb_str(in, "PhoneNumber");
    int given = (topic != NULL) + (target != NULL) + (phone != NULL);
    if (given == 0)
        return sns_invalid(call, "TopicArn or TargetArn Reason: no value for required parameter");
    if (given > 1)
        return sns_invalid(call, "TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn "
                                 "or PhoneNumber may be specified");
    if (phone)
        return publish_direct(call, in, phone, true);
    if (target) {
        sns_arn a;
        if (!sns_arn_parse(target, &a) || strcmp(a.service, "sns"))
            return sns_invalid(call, "TargetArn");
        if (strncmp(a.resource, "endpoint/", 9) == 0)
            return publish_direct(call, in, target, false);
        topic = target;
    }
    sns_topic t;
    if (!sns_topic_get(call, topic, target ? "TargetArn" : "TopicArn", &t))
        return NB_ERROR;
    json_object *rec;
    bool dup;
    nb_status st = prepare(call, &t, in, &rec, &dup);
    if (st == NB_OK) {
        if (!dup)
            sns_fanout(call, &t, rec);
        call->out = result(rec, NULL);
        json_object_put(rec);
    }
    sns_topic_free(&t);
    return st;
}

static bool valid_entry_id(const char *id)
{
    size_t n = strlen(id);
    if (n < 1 || n > 80)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

/* The query code of a failed call's error (InvalidParameter, ...). */
static const char *query_code(const nb_call *call)
{
    int si = call->svc ? nb_model_shape(call->svc->model, call->err.code) : -1;
    if (si >= 0 && call->svc->model->shapes[si].error_code)
        return call->svc->model->shapes[si].error_code;
    return call->err.code;
}

nb_status sns_publish_batch(nb_call *call, json_object *in)
{
    json_object *entries = nb_get(in, "PublishBatchRequestEntries");
    size_t n = entries ? json_object_array_length(entries) : 0;
    if (n == 0)
        return nb_fail(call, "EmptyBatchRequestException",
                       "The batch request doesn't contain any entries.");
    if (n > BATCH_MAX)
        return nb_fail(call, "TooManyEntriesInBatchRequestException",
                       "The batch request contains more entries than permissible.");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(entries, i);
        const char *id = nb_str(e, "Id");
        if (!id || !valid_entry_id(id))
            return nb_fail(call, "InvalidBatchEntryIdException",
                           "The Id of a batch entry in a batch request doesn't abide by the "
                           "specification.");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(id, nb_str(json_object_array_get_idx(entries, j), "Id")))
                return nb_fail(call, "BatchEntryIdsNotDistinctException",
                               "Two or more batch entries in the request have the same Id.");
        json_object *m = nb_get(e, "Message");
        total += m ? (size_t)json_object_get_string_len(m) : 0;
        json_object *attrs = nb_get(e, "MessageAttributes");
        if (attrs) {
            json_object_object_foreach(attrs, k, a)
            {
                const char *dt = nb_str(a, "DataType");
                json_object *v = nb_get(a, "StringValue");
                if (!v)
                    v = nb_get(a, "BinaryValue");
                total += strlen(k) + (dt ? strlen(dt) : 0) +
                         (v ? (size_t)json_object_get_string_len(v) : 0);
            }
        }
    }
    if (total > SNS_MAX_MESSAGE)
        return nb_fail(call, "BatchRequestTooLongException",
                       "The length of all the messages put together is more than the limit.");
    sns_topic t;
    if (!sns_topic_get(call, nb_str(in, "TopicArn"), "TopicArn", &t))
        return NB_ERROR;
    json_object *ok = json_object_new_array(), *failed = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(entries, i), *rec;
        bool dup;
        nb_call sub = *call;
        sub.out = NULL;
        memset(&sub.err, 0, sizeof sub.err);
        if (prepare(&sub, &t, e, &rec, &dup) == NB_OK) {
            if (!dup)
                sns_fanout(call, &t, rec);
            json_object_array_add(ok, result(rec, nb_str(e, "Id")));
            json_object_put(rec);
        } else {
            json_object *f = json_object_new_object();
            json_object_object_add(f, "Id", json_object_new_string(nb_str(e, "Id")));
            json_object_object_add(f, "Code", json_object_new_string(query_code(&sub)));
            json_object_object_add(f, "Message", json_object_new_string(sub.err.message));
            json_object_object_add(f, "SenderFault", json_object_new_boolean(sub.err.sender));
            json_object_array_add(failed, f);
            if (sub.err.detail)
                json_object_put(sub.err.detail);
        }
    }
    sns_topic_free(&t);
    call->out = json_object_new_object();
    json_object_object_add(call->out, "Successful", ok);
    json_object_object_add(call->out, "Failed", failed);
    return NB_OK;
}
