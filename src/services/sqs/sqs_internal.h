/*
 * sqs_internal.h — shared types and functions of the SQS service module.
 *
 * Files:
 *   sqs.c        descriptor, lifecycle, schema, queue cache, URL/ARN parsing,
 *                the housekeeping (sweep) timer
 *   sqs_attrs.c  queue attributes: defaults, validation, rendering
 *   sqs_queue.c  queue operations (Create/Delete/Get/List/Set/Purge, tags,
 *                permissions, dead-letter source listing)
 *   sqs_msg.c    message validation, MD5s, attribute encoding, send (+batch)
 *   sqs_recv.c   receive, delete, change visibility (+batches), receipt
 *                handles, dead-letter redrive on receive
 *   sqs_wait.c   long polling: parked ReceiveMessage calls and wake-ups
 *   sqs_move.c   message move tasks (StartMessageMoveTask and friends)
 *
 * Model.  Queues live in sqs_queues and are mirrored in an in-memory cache
 * (hash by account/region/name) that is the runtime source of truth for
 * queue attributes; every change is written through to SQLite in the same
 * call (the dispatcher's savepoint).  Handlers change the cache only after
 * every check has passed, so a failing call never leaves the cache ahead
 * of the rolled-back database.  Messages, dedup records, receive attempts,
 * tags, tombstones of deleted queues and move tasks live only in SQLite.
 *
 * Time.  All deadlines are absolute wall-clock milliseconds stored in rows
 * (visible_at, expires_at, dedup expiry), so a restarted durable server
 * resumes them from stored time; timers only decide when to look again.
 */
#ifndef NB_SQS_INTERNAL_H
#define NB_SQS_INTERNAL_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/nimbus.h"
#include "core/service.h"
#include "core/store.h"

/* Limits (AWS quotas). */
#define SQS_MAX_NAME 80
#define SQS_MAX_MESSAGE_BYTES 1048576
#define SQS_MAX_BATCH_BYTES 1048576
#define SQS_MAX_BATCH 10
#define SQS_MAX_VISIBILITY 43200
#define SQS_MAX_DELAY 900
#define SQS_MAX_WAIT 20
#define SQS_MAX_MSG_ATTRS 10
#define SQS_DEDUP_WINDOW_MS (5 * 60 * 1000)
#define SQS_ATTEMPT_WINDOW_MS (5 * 60 * 1000)
#define SQS_PURGE_WINDOW_MS (60 * 1000)
#define SQS_MAX_INFLIGHT 120000

/* RedriveAllowPolicy modes. */
enum { SQS_ALLOW_ALL = 0, SQS_ALLOW_DENY = 1, SQS_ALLOW_BYQUEUE = 2 };

typedef struct sqs_waiter sqs_waiter;

/* Runtime-only part of a queue. */
typedef struct sqs_queue_rt {
    bool dead;             /* deleted; freed by the reaper */
    bool dirty;            /* messages changed since the waiters last looked */
    bool in_wq;            /* on the list of queues with waiters */
    int64_t next_visible;  /* earliest future visible_at (0 = none known) */
    sqs_waiter *wait_head, *wait_tail;
    struct sqs_queue *hnext;             /* hash chain */
    struct sqs_queue *wq_prev, *wq_next; /* list of queues with waiters */
    struct sqs_queue *dead_next;         /* reaper list */
} sqs_queue_rt;

/* A queue (cache entry).  Strings are owned (nb_malloc'd) or NULL. */
typedef struct sqs_queue {
    int64_t id;
    char account[16];
    char region[32];
    char name[SQS_MAX_NAME + 1];
    char arn[192];
    bool fifo;
    int64_t created_ms, modified_ms, purged_ms;
    /* Attributes. */
    int delay, max_size, retention, wait, visibility;
    char *policy;          /* Policy document, NULL if none */
    char *redrive;         /* normalized RedrivePolicy JSON, NULL if none */
    char *dlq_arn;         /* deadLetterTargetArn from redrive */
    int max_receive;       /* maxReceiveCount from redrive */
    char *redrive_allow;   /* normalized RedriveAllowPolicy JSON or NULL */
    bool cbd;              /* ContentBasedDeduplication */
    bool dedup_group;      /* DeduplicationScope == messageGroup */
    bool tput_group;       /* FifoThroughputLimit == perMessageGroupId */
    char *kms_key;         /* KmsMasterKeyId or NULL */
    int kms_reuse;         /* KmsDataKeyReusePeriodSeconds */
    bool sse;              /* SqsManagedSseEnabled */
    sqs_queue_rt rt;       /* runtime state, never copied or stored */
} sqs_queue;

/* ---- sqs.c ------------------------------------------------------------ */
extern const nb_service nb_service_sqs;

sqs_queue *sqs_queue_find(const char *account, const char *region, const char *name);
sqs_queue *sqs_queue_by_arn(const char *arn);
/* Resolve a QueueUrl (any URL whose path is /{account}/{name}, or a bare
 * queue name in the caller's account).  Fails the call when missing. */
sqs_queue *sqs_queue_from_url(nb_call *call, json_object *in);
sqs_queue *sqs_queue_new(const char *account, const char *region, const char *name);
void sqs_queue_insert_cache(sqs_queue *q);
void sqs_queue_remove_cache(sqs_queue *q);   /* marks dead, frees later */
int sqs_queue_store(sqs_queue *q);           /* INSERT (id 0) or UPDATE */
void sqs_queue_url(const nb_call *call, const sqs_queue *q, char *out, size_t n);
void sqs_queue_foreach(void (*fn)(sqs_queue *q, void *arg), void *arg);
bool sqs_parse_arn(const char *arn, char *region, size_t rn, char *account,
                   size_t an, char *name, size_t nn);
bool sqs_valid_queue_name(const char *name, bool fifo);
int64_t sqs_next_seq(int64_t now_ms);
void sqs_seqnum(int64_t seq, char out[24]);
void sqs_str_set(char **slot, const char *v);
/* Retention sweep bookkeeping: a message with this expiry was stored; or
 * stored expiries changed in a way only SQLite knows (see sqs.c). */
void sqs_expiry_note(int64_t expires_at);
void sqs_expiry_unknown(void);

/* Fail helpers with AWS's texts. */
nb_status sqs_fail_no_queue(nb_call *call);
nb_status sqs_fail_invalid(nb_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));   /* InvalidParameterValue */
nb_status sqs_fail_missing(nb_call *call, const char *param);

/* Integers from json trees (NullableInteger). */
bool sqs_get_int(json_object *in, const char *key, int64_t *out);

/* ---- sqs_attrs.c ------------------------------------------------------- */
void sqs_attrs_defaults(sqs_queue *q);
/* Validate the Attributes map of CreateQueue (creating = true) or
 * SetQueueAttributes and apply it to q (a scratch copy).  Returns NB_OK or
 * NB_ERROR after nb_fail. */
nb_status sqs_attrs_apply(nb_call *call, sqs_queue *q, json_object *attrs, bool creating);
/* CreateQueue on an existing queue: NB_OK when every given attribute
 * matches, else QueueNameExists. */
nb_status sqs_attrs_match(nb_call *call, const sqs_queue *q, json_object *attrs);
/* GetQueueAttributes output map for the requested names. */
nb_status sqs_attrs_render(nb_call *call, sqs_queue *q, json_object *names, json_object **out);
void sqs_queue_copy(sqs_queue *dst, const sqs_queue *src);  /* deep copy, runtime zeroed */
/* Move the attributes of scratch (a sqs_queue_copy of q) into q. */
void sqs_queue_commit(sqs_queue *q, sqs_queue *scratch);
void sqs_queue_free_attrs(sqs_queue *q);
bool sqs_redrive_allows(const sqs_queue *dlq, const sqs_queue *src);

/* ---- sqs_msg.c --------------------------------------------------------- */
/* A validated outgoing message (one SendMessage or one batch entry). */
typedef struct sqs_out_msg {
    const char *body;
    size_t body_len;
    unsigned char *attrs;  /* MD5-input encoding of attributes, or NULL */
    size_t attrs_len;
    char md5_body[33], md5_attrs[33], md5_sys[33];
    const char *trace;     /* AWSTraceHeader or NULL */
    const char *group;     /* MessageGroupId or NULL */
    char dedup[129];       /* MessageDeduplicationId (FIFO), "" if none */
    int delay;             /* effective delay seconds */
    size_t size;           /* body + attribute bytes, for the size limits */
} sqs_out_msg;

/* Error out of message validation: code + message, for batch entries. */
typedef struct sqs_err {
    char code[64];
    char msg[512];
    bool whole;            /* a batch reports it for the whole request */
} sqs_err;

bool sqs_valid_body(const char *s, size_t n, sqs_err *err);
bool sqs_msg_attrs_encode(json_object *attrs, unsigned char **buf, size_t *len,
                          size_t *size, sqs_err *err);
void sqs_msg_attrs_md5(const unsigned char *buf, size_t len, char out[33]);
/* Decode the attribute encoding into a MessageAttributes map, keeping the
 * names selected by filter (NULL = none); also returns the MD5 of what was
 * kept.  Returns NULL when nothing was kept. */
json_object *sqs_msg_attrs_decode(const unsigned char *buf, size_t len, json_object *filter,
                                  char md5[33]);
/* Insert a message row; used by send, DLQ redrive and move tasks. */
typedef struct sqs_row {
    int64_t seq;
    const char *msg_id;
    const char *body;
    size_t body_len;
    const char *md5_body;
    const unsigned char *attrs;
    size_t attrs_len;
    const char *md5_attrs;
    const char *trace;
    const char *sender;
    int64_t sent_ms, visible_at, expires_at;
    const char *group, *dedup, *dlq_source;
} sqs_row;
int sqs_msg_insert(int64_t queue_id, bool fifo, const sqs_row *r);
/* Copy an existing message (by seq) into queue dst as a fresh message. */
int sqs_msg_copy(int64_t seq, const sqs_queue *dst, int64_t now, const char *dlq_source);

/* ---- sqs_recv.c -------------------------------------------------------- */
/* Run one receive attempt for the parsed input; returns the number of
 * messages put into *out (a new ReceiveMessageResult object, or NULL). */
int sqs_receive_once(nb_call *call, sqs_queue *q, json_object *in, int64_t now,
                     json_object **out);
int64_t sqs_queue_next_visible(const sqs_queue *q, int64_t now);
void sqs_queue_counts(const sqs_queue *q, int64_t now, int64_t c[3]);

/* ---- sqs_wait.c -------------------------------------------------------- */
nb_status sqs_wait_park(nb_call *call, sqs_queue *q, json_object *in, int wait_s);
void sqs_wait_touch(sqs_queue *q);          /* messages changed: wake soon */
void sqs_wait_finish_queue(sqs_queue *q);   /* queue gone: answer its waiters */
void sqs_wait_shutdown(void);

/* ---- sqs_move.c -------------------------------------------------------- */
int sqs_move_init(void);        /* schema */
void sqs_move_resume(void);     /* start the timer when tasks are RUNNING */
void sqs_move_stop(void);       /* stop the timer (reset) */
void sqs_move_shutdown(void);   /* close the timer */

/* Handlers. */
nb_status sqs_create_queue(nb_call *call, json_object *in);
nb_status sqs_delete_queue(nb_call *call, json_object *in);
nb_status sqs_get_queue_url(nb_call *call, json_object *in);
nb_status sqs_list_queues(nb_call *call, json_object *in);
nb_status sqs_get_queue_attributes(nb_call *call, json_object *in);
nb_status sqs_set_queue_attributes(nb_call *call, json_object *in);
nb_status sqs_purge_queue(nb_call *call, json_object *in);
nb_status sqs_tag_queue(nb_call *call, json_object *in);
nb_status sqs_untag_queue(nb_call *call, json_object *in);
nb_status sqs_list_queue_tags(nb_call *call, json_object *in);
nb_status sqs_add_permission(nb_call *call, json_object *in);
nb_status sqs_remove_permission(nb_call *call, json_object *in);
nb_status sqs_list_dead_letter_source_queues(nb_call *call, json_object *in);
nb_status sqs_send_message(nb_call *call, json_object *in);
nb_status sqs_send_message_batch(nb_call *call, json_object *in);
nb_status sqs_receive_message(nb_call *call, json_object *in);
nb_status sqs_delete_message(nb_call *call, json_object *in);
nb_status sqs_delete_message_batch(nb_call *call, json_object *in);
nb_status sqs_change_message_visibility(nb_call *call, json_object *in);
nb_status sqs_change_message_visibility_batch(nb_call *call, json_object *in);
nb_status sqs_start_message_move_task(nb_call *call, json_object *in);
nb_status sqs_cancel_message_move_task(nb_call *call, json_object *in);
nb_status sqs_list_message_move_tasks(nb_call *call, json_object *in);

/* Batch helpers shared by the three batch operations. */
nb_status sqs_batch_check(nb_call *call, json_object *entries, const char *entry_shape);
json_object *sqs_batch_failure(const char *id, const char *code, const char *msg, bool sender);

bool sqs_valid_token(const char *s);

#endif
