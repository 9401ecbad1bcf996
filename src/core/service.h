/*
 * service.h — the one interface between the front door and service modules.
 *
 * A service is a module with a fixed descriptor (nb_service): its model, its
 * operation table (handler per operation name), and lifecycle hooks.  All
 * services are listed once, in src/core/services.c.
 *
 * Value trees.  Handlers receive their input and produce their output as
 * json-c object trees shaped like the operation's input/output shapes in the
 * model: structures and maps are objects, lists are arrays, strings are
 * strings, integers/longs are int64, booleans are booleans, floats/doubles
 * are doubles, blobs are strings holding the raw (decoded) bytes, and
 * timestamps are doubles of epoch seconds.  The codecs (JSON, query/XML, ...)
 * convert between these trees and the wire; handlers never see HTTP, JSON or
 * XML text.  Input trees are validated against the model before the handler
 * runs (required members, types, enums, lengths, ranges).
 *
 * Calls.  A handler returns NB_OK after storing its output in call->out (may
 * stay NULL for an empty output), NB_ERROR after nb_fail(), or NB_PENDING
 * when it parks the call (long polls): it then finishes later with
 * nb_call_done(), and must release what it holds when call->on_cancel runs
 * (client hung up or server shut down).  Exactly one of nb_call_done and
 * on_cancel ends a parked call.  After nb_call_done the call (and call->out)
 * belong to the dispatcher and may already be freed: do not touch them.  The
 * input tree is released when the handler returns; a parked handler that
 * needs it later takes a reference (json_object_get).
 *
 * Cross-service calls use nb_invoke(): the same handler, the same tree.
 */
#ifndef NB_SERVICE_H
#define NB_SERVICE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"

typedef struct nb_call nb_call;
typedef struct nb_service nb_service;

typedef enum { NB_OK = 0, NB_ERROR = 1, NB_PENDING = 2 } nb_status;

typedef nb_status (*nb_handler)(nb_call *call, json_object *in);

typedef struct nb_op_entry {
    const char *name;   /* operation name in the model */
    nb_handler fn;
} nb_op_entry;

/* An error a handler reports: AWS error code, message, HTTP status. */
typedef struct nb_error {
    char code[96];      /* e.g. "QueueDoesNotExist" (model shape name) */
    char message[512];
    int status;         /* HTTP status, e.g. 400 */
    bool sender;        /* Sender vs Receiver fault */
    json_object *detail; /* further members of the error's structure (e.g.
                          * DynamoDB's CancellationReasons), owned; or NULL */
} nb_error;

struct nb_call {
    /* Who and where. */
    char account[16];       /* 12 digits */
    char region[32];        /* from the credential scope, default us-east-1 */
    char access_key[128];
    char request_id[40];    /* UUID */
    char host[256];         /* Host header the client used ("localhost:4566") */
    char trace_id[128];     /* X-Amzn-Trace-Id, created when missing */
    const nb_service *svc;
    const nb_operation *op;
    int64_t now_ms;         /* wall clock at dispatch, ms since epoch */

    /* Result. */
    json_object *out;       /* output tree (owned by the call) */
    nb_error err;

    /* Parked calls. */
    void (*on_cancel)(nb_call *call);  /* set by a handler returning NB_PENDING */
    void *park;                        /* handler's state for a parked call */

    /* Completion (set by whoever dispatched the call). */
    void (*on_done)(nb_call *call, nb_status st);
    void *owner;

    /* Set by the dispatcher when the JSON codec (awsJson) encodes the
     * output: a handler may then put nb_json_raw() text (codec.h) in its
     * output tree instead of building subtrees.  False for nb_invoke and
     * every other protocol, which need the tree. */
    bool json_out;
};

/* Lifecycle hooks receive the global store (see store.h). */
struct nb_store;

struct nb_service {
    const char *name;          /* "sqs": endpoint prefix and health name */
    const nb_model *model;
    const nb_op_entry *ops;    /* handlers, any order; NULL-terminated */
    int (*init)(struct nb_store *st);      /* create schema, resume timers */
    void (*reset)(void);       /* drop in-memory state after a store reset */
    void (*shutdown)(void);    /* cancel timers, free memory */
    /* The code model constraint violations answer when the service's
     * wording is not ValidationException (CloudWatch Logs:
     * InvalidParameterException), or NULL. */
    const char *validation_code;
    /* Runs before each call's savepoint, or NULL (CloudWatch Logs: store
     * the lines producers such as Lambda buffer, so reads see them). */
    void (*before_call)(void);
};

/* Fail the call with code/message; status 400 and sender fault unless given. */
nb_status nb_fail(nb_call *call, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
nb_status nb_fail_status(nb_call *call, int status, bool sender, const char *code,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Attach members of the error structure beyond code and message (takes
 * the reference); the codec renders them through the error's shape. */
void nb_fail_detail(nb_call *call, json_object *detail);

/* Finish a parked call (output already in call->out, or error via nb_fail). */
void nb_call_done(nb_call *call, nb_status st);

/* Services registry (services.c). */
extern const nb_service *const nb_services[];
const nb_service *nb_service_by_name(const char *name, size_t len);
const nb_service *nb_service_by_target(const char *target, size_t len, const char **opname);
const nb_service *nb_service_by_signing_name(const char *name, size_t len);
nb_handler nb_service_handler(const nb_service *svc, const char *op);
void nb_services_free(void);  /* at exit */

/* Service start-up (dispatch.c).  nb_services_start opens the store and
 * runs every service's init hook, once; 0 on success.  With --data-dir
 * main() calls it before listening, so stored state resumes at once.  In
 * memory main() calls nb_services_defer() instead: nothing exists yet, and
 * the services start on the first call that needs them, so an idle server
 * never touches SQLite.  A process that runs the init hooks itself (tests,
 * fuzzers) calls neither, and the dispatcher leaves start-up alone.
 * nb_services_started is false only while a deferred start is pending. */
int nb_services_start(void);
void nb_services_defer(void);
bool nb_services_started(void);

/* Cross-service: run svc's op with an input tree already in the model's
 * shape (validated here).  The callback receives the finished call; the
 * call and its output are freed after the callback returns. */
typedef void (*nb_invoke_cb)(nb_call *call, nb_status st, void *arg);
void nb_invoke(const nb_call *parent, const char *service, const char *op,
               json_object *in, nb_invoke_cb cb, void *arg);

/* "arn:aws:sqs:REGION:ACCOUNT:NAME" -> a queue URL nimbus accepts, on the
 * host the caller used (anything else is copied as given). */
void nb_sqs_queue_url(const nb_call *ctx, const char *arn, char *out, size_t n);

/* Small helpers for handlers reading value trees. */
const char *nb_str(json_object *obj, const char *key);  /* NULL if absent */
bool nb_int(json_object *obj, const char *key, int64_t *out);
bool nb_bool(json_object *obj, const char *key, bool *out);
json_object *nb_get(json_object *obj, const char *key);

#endif
