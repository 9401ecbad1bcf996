/*
 * lambda_internal.h — what the Lambda service's parts share.
 *
 * The service has two halves with one seam between them:
 *
 *   control plane  lambda.c (descriptor, schema, op table), lambda_fn.c
 *                  (functions, code, versions, aliases), lambda_*.c for the
 *                  rest of the model (policies, concurrency, event invoke
 *                  configs, URL configs, layers, event source mappings,
 *                  tags, account settings).  It owns every table and the
 *                  stored code (zips in SQLite, unpacked on demand).
 *   execution      lambda_exec.c (instances: child processes, the Runtime
 *                  API each one talks to, the warm pool, timeouts, Invoke),
 *                  lambda_rt_*.c (the runtime shims nimbus ships).
 *
 * Execution never reads the tables: it asks the control plane to resolve a
 * function (lm_resolve) and for a version's unpacked code (lm_code_dir).
 * The control plane tells execution when a function's code or
 * configuration changed or it was deleted (lm_exec_retire), so warm
 * instances of the old version are not reused.
 */
#ifndef NB_LAMBDA_INTERNAL_H
#define NB_LAMBDA_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/nimbus.h"
#include "core/service.h"

#define LM_MAX_LAYERS 5
#define LM_SYNC_PAYLOAD (6 * 1024 * 1024) /* synchronous request and response */
#define LM_TAIL_B64 5500  /* base64 of 4 KB, terminated */
#define LM_STREAM_MAX (200 * 1024 * 1024) /* a streamed response (InvokeWithResponseStream, URLs) */

/* One function version, as execution needs it. */
typedef struct lm_version {
    char account[16];
    char region[32];
    char name[65];          /* FunctionName */
    char version[16];       /* the version that runs: "$LATEST", "1", ... */
    char arn[256];          /* unqualified function ARN */
    char runtime[32];       /* "python3.12", "nodejs20.x", "provided.al2023" */
    char handler[129];      /* Handler ("" for provided runtimes is allowed) */
    char role[256];
    int memory_mb;          /* MemorySize */
    int timeout_s;          /* Timeout */
    int ephemeral_mb;       /* EphemeralStorage.Size */
    int reserved;           /* reserved concurrency, -1 when none */
    char code_sha[48];      /* CodeSha256, base64 as AWS shows it */
    char revision[40];      /* RevisionId */
    char log_group[513];    /* LoggingConfig.LogGroup (default /aws/lambda/NAME) */
    char log_format[8];     /* "Text" or "JSON" */
    char tracing[16];       /* TracingConfig.Mode: "PassThrough" or "Active" */
    int nlayers;
    char layer_sha[LM_MAX_LAYERS][48];  /* CodeSha256 of each layer, in order */
    json_object *env;       /* Environment.Variables (a reference) or NULL */
} lm_version;

/*
 * Resolve FunctionName (a name, a partial ARN "ACCOUNT:function:NAME" or a
 * full ARN, each possibly ending in ":QUALIFIER") plus an optional
 * Qualifier (a version number, "$LATEST" or an alias; an alias with
 * routing picks a version by its weights) in the call's account and
 * region.  On success fills *out (release with lm_version_clear) and
 * returns NB_OK; otherwise fails the call with AWS's error
 * (ResourceNotFoundException "Function not found: ARN", the
 * InvalidParameterValueException for a qualifier in both places that
 * differ, ...) and returns NB_ERROR.
 */
nb_status lm_resolve(nb_call *call, const char *function_name, const char *qualifier,
                     lm_version *out);
void lm_version_clear(lm_version *v);

/* The directory holding the unpacked zip whose CodeSha256 is sha (a
 * function's code or a layer's content), extracted on first use under
 * lm_root(); returns a path valid until shutdown, or NULL after logging
 * why. */
const char *lm_code_dir(const char *sha);

/* What asynchronous invocation of a function (or a version/alias:
 * qualifier, "" for unqualified) does after the attempts: from its
 * function event invoke config (MaximumRetryAttempts default 2,
 * MaximumEventAgeInSeconds default 21600, DestinationConfig) and the
 * function's DeadLetterConfig.  Fills defaults when nothing is set. */
typedef struct lm_event_config {
    int max_retries;
    int max_age_s;
    char on_success[256];   /* destination ARN or "" */
    char on_failure[256];
    char dlq[256];          /* DeadLetterConfig.TargetArn or "" */
} lm_event_config;
void lm_event_config_get(const char *account, const char *region, const char *name,
                         const char *qualifier, lm_event_config *out);

/* nimbus's working directory for Lambda: DATA_DIR/lambda with --data-dir,
 * else a private directory under $TMPDIR removed at shutdown.  Created by
 * the control plane's init. */
const char *lm_root(void);

/* Directory helpers (lambda.c): mkdir -p (0 on success), rm -rf. */
int lm_mkdirs(const char *path, mode_t mode);
void lm_remove_tree(const char *path);

/* A function URL (CreateFunctionUrlConfig), found by its url id: the first
 * label of "<url-id>.lambda-url.<region>.localhost".  Release cors with
 * json_object_put. */
typedef struct lm_url {
    char account[16];
    char region[32];
    char name[65];
    char qualifier[129];    /* "" for the unqualified function, else an alias */
    char auth_type[16];     /* "NONE" or "AWS_IAM" */
    char invoke_mode[24];   /* "BUFFERED" or "RESPONSE_STREAM" */
    json_object *cors;      /* Cors as configured (owned) or NULL */
} lm_url;
bool lm_url_find(const char *url_id, lm_url *out);

/* Function URLs (lambda_url.c): serve r when its Host is
 * "<url-id>.lambda-url.<region>.<domain>[:port]" or its path starts
 * "/_aws/lambda-url/<url-id>"; false (r untouched) for any other request.
 * Called by nb_dispatch before the AWS routing. */
struct nb_req;
bool nb_lambda_url(struct nb_req *r);

/* HTTP requests as Lambda events, and answers as HTTP responses
 * (lambda_url.c): what function URLs and API Gateway's Lambda proxy
 * integrations share.
 *   lm_http_trace_id   the call's trace id from X-Amzn-Trace-Id, or a new one
 *   lm_http_headers    the request headers as an object (lower-case names,
 *                      repeated ones comma-joined) plus x-forwarded-* and
 *                      x-amzn-trace-id; Cookie headers go to the cookies
 *                      array when it is given, else stay headers
 *   lm_http_query      a query string as an object (decoded, repeated keys
 *                      comma-joined)
 *   lm_http_body       body and isBase64Encoded (text content types as
 *                      they are, the rest base64)
 *   lm_http_parse_json the function's answer as JSON, NULL when it is not
 *   lm_http_structured answer r from {"statusCode", "headers",
 *                      "multiValueHeaders", "cookies", "body",
 *                      "isBase64Encoded"}; false (r untouched) when it is
 *                      malformed
 *   lm_http_cors       the CORS response headers of a Cors configuration
 *                      (AllowOrigins, ...) for r's Origin (pre: a preflight's
 *                      set); false when r has no allowed Origin */
void lm_http_trace_id(struct nb_req *r);
bool lm_http_cors(struct nb_req *r, json_object *cors, bool pre);
json_object *lm_http_headers(const struct nb_req *r, json_object *cookies, const char *source_ip);
json_object *lm_http_query(const char *q, size_t n);
void lm_http_body(json_object *ev, const struct nb_req *r);
json_object *lm_http_parse_json(const char *p, size_t n);
bool lm_http_structured(struct nb_req *r, json_object *o);

/* Every event source mapping, for the pollers: an array (owned) of
 * EventSourceMappingConfiguration trees with "Account" and "Region" added.
 * State is "Enabled" or "Disabled"; FilterCriteria, BatchSize, windows,
 * retries, destinations etc. are stored as given (defaults filled in). */
json_object *lm_esm_all(void);

/* ---- execution (lambda_exec.c) ------------------------------------------ */

/* The runtime shims (runtimes/), embedded at build time by tools/embed.sh;
 * written under lm_root()/runtime/ before the first instance starts. */
typedef struct lm_embedded {
    const char *path;              /* "runtimes/python/bootstrap.py" */
    const unsigned char *data;
    size_t len;
} lm_embedded;
extern const lm_embedded lm_runtime_files[];

/* An invocation's outcome. */
typedef enum {
    LM_OK,              /* the function returned: payload is its response */
    LM_FUNCTION_ERROR,  /* it failed (X-Amz-Function-Error: Unhandled):
                         * payload is the error document */
} lm_result_kind;

typedef struct lm_result {
    lm_result_kind kind;
    char error_type[64];        /* errorType, e.g. "Runtime.ExitError" */
    nb_buf payload;
    char executed_version[16];
    char log_tail[LM_TAIL_B64]; /* base64 of the last 4 KB of log, or "" */
    char content_type[128];     /* the runtime's Content-Type for its response, or "" */
    bool streamed;              /* the runtime streamed it (payload went to the chunk callback) */
} lm_result;

typedef struct lm_inv lm_inv;
typedef void (*lm_done_fn)(const lm_result *res, void *arg);

/* An invocation of the version v (taken: *v is cleared) with the payload
 * ("" becomes "{}"); the trace header comes from call.  done runs exactly
 * once, maybe before lm_run returns.  qualifier is what the caller named
 * (for the invoked ARN), or NULL. */
lm_inv *lm_inv_new(const nb_call *call, lm_version *v, const char *qualifier, const void *payload,
                   size_t len, lm_done_fn done, void *arg);
void lm_inv_tail(lm_inv *inv, bool tail);                  /* collect LogType=Tail */
bool lm_inv_client_context(lm_inv *inv, const char *b64);  /* false: not base64 JSON */
const char *lm_inv_id(const lm_inv *inv);
/* Use this request id for the invocation (the function's aws_request_id)
 * instead of a new one: a caller whose event already names it. */
void lm_inv_set_id(lm_inv *inv, const char *id);
/* Receive the response as the runtime writes it.  When the runtime streams
 * (Lambda-Runtime-Function-Response-Mode: streaming), chunk runs for each
 * piece as it arrives, with the runtime's Content-Type (or "") and done's
 * arg; done then runs with res->streamed set and an empty payload, or a
 * function error (reported in the trailers, or Function.ResponseSizeTooLarge
 * past LM_STREAM_MAX bytes).  A buffered response arrives in done as usual.
 * Without a chunk callback a streamed response is collected (up to 6 MB), as
 * Invoke does for a streaming function. */
typedef void (*lm_chunk_fn)(const char *ctype, const void *data, size_t len, void *arg);
void lm_inv_stream(lm_inv *inv, lm_chunk_fn chunk);
/* Run it on an idle instance or a new one.  NB_OK: done will run (or ran);
 * NB_ERROR: the call failed (throttled, runtime unavailable) and inv was
 * freed without done running. */
nb_status lm_run(nb_call *call, lm_inv *inv);

/* The Invoke operation (lambda_invoke.c): its row in the op table. */
nb_status lm_op_invoke(nb_call *call, json_object *in);
nb_status lm_op_invoke_async(nb_call *call, json_object *in); /* deprecated API */
/* Invoke's input, shared with InvokeWithResponseStream: read and checked
 * (payload size and JSON, ClientContext) with AWS's errors. */
typedef struct lm_invoke_args {
    const char *fn, *qual, *logtype, *cc;   /* NULL when absent (but fn) */
    const char *payload;
    size_t plen;
    bool event, dry;                        /* InvocationType Event / DryRun */
} lm_invoke_args;
nb_status lm_invoke_args_read(nb_call *call, json_object *in, lm_invoke_args *a);
/* A synchronous invocation as Invoke makes it: lm_inv_new with the
 * qualifier the caller named (Qualifier, or the end of a qualified ARN),
 * LogType=Tail and ClientContext applied. */
lm_inv *lm_inv_sync(const nb_call *call, lm_version *v, const lm_invoke_args *a, lm_done_fn done,
                    void *arg);
/* Response streaming (lambda_stream.c): the InvokeWithResponseStream
 * operation, and a function URL in RESPONSE_STREAM mode (called by
 * lambda_url.c with the version resolved and the event built; r's own
 * headers and CORS headers already added; done like lm_run's status). */
nb_status lm_op_invoke_stream(nb_call *call, json_object *in);
nb_status lm_url_stream(struct nb_req *r, lm_version *v, const char *qualifier, const char *event,
                        size_t len);
/* A header the function set for a URL response, added to r unless it is
 * malformed, framing, or among r's first ours bytes of header lines
 * (lambda_url.c). */
void lm_url_fn_header(struct nb_req *r, const char *name, json_object *v, size_t ours);
void lm_url_bad_gateway(struct nb_req *r);  /* 502 "Internal Server Error" */
/* The URL prelude a streaming function writes first
 * (awslambda.HttpResponseStream.from): JSON, then 8 NUL bytes.  Returns the
 * bytes the prelude took (JSON and NULs) with *out its object (owned; NULL
 * when the JSON is not an object), 0 when more bytes are needed, -1 when
 * it is malformed or longer than LM_PRELUDE_MAX. */
#define LM_PRELUDE_MAX (64 * 1024)
long lm_prelude_parse(const char *p, size_t n, json_object **out);
void lm_async_init(void);       /* the event queue (called by lm_exec_init) */
void lm_async_shutdown(void);
/* Send text to an SQS queue, SNS topic, function or event bus ARN (a
 * destination) through nimbus; failures are logged. */
void lm_send_to(const nb_call *ctx, const char *arn, const char *text);

/* Event source mapping pollers (lambda_poll.c), run by lm_exec_*. */
void lm_poll_init(void);
void lm_poll_reset(void);
void lm_poll_shutdown(void);

void lm_exec_init(void);
/* A function of RUNTIME was created or changed: prepares what its first
 * start needs (the Java runtime's build, on the threadpool). */
void lm_exec_prepare(const char *runtime);
/* Whether functions of RUNTIME are Pending while that preparation runs. */
bool lm_exec_pending(const char *runtime);
void lm_exec_reset(void);     /* stop every instance (state was cleared) */
void lm_exec_shutdown(void);  /* stop every instance, free everything */

/* The function's code or configuration changed, or it was deleted: warm
 * instances of it (every version) are stopped when idle and never reused. */
void lm_exec_retire(const char *account, const char *region, const char *name);

#endif
