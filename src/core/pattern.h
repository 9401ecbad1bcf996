/*
 * pattern.h — one engine for the event-pattern language family: EventBridge
 * event patterns, SNS subscription filter policies (both scopes) and Lambda
 * event-source-mapping filter criteria.  Pure: no service, no I/O, no loop.
 *
 * Compile once (when a rule, subscription or mapping is created or
 * changed), match many times.  A compiled pattern is immutable and may be
 * shared; nb_pattern_match allocates nothing except for SNS String.Array
 * attributes, whose Value text it parses.
 *
 * What the caller passes to nb_pattern_match, per dialect:
 *
 *   NB_PAT_EVENTBRIDGE   the event as PutEvents delivers it to rules: the
 *                        envelope object (version, id, detail-type, source,
 *                        account, time, region, resources) with `detail` as
 *                        a parsed JSON tree, not as text.
 *   NB_PAT_SNS_ATTRIBUTES  the message attributes as a json-c object
 *                        { name: { "Type": "String", "Value": "..." }, ... }
 *                        (the notification form), or the Publish input form
 *                        { name: { "DataType": ..., "StringValue": ... } }.
 *                        Type String: the Value is a string; Number: the
 *                        Value text is a number; String.Array: the Value
 *                        text is a JSON array whose elements are values;
 *                        Binary (and any other type): ignored, as if absent.
 *   NB_PAT_SNS_BODY      the message body parsed as JSON.  A body that is
 *                        not a JSON object: pass NULL (matches only what an
 *                        empty object matches, e.g. {"k":[{"exists":false}]}).
 *   NB_PAT_LAMBDA        the record Lambda would send, with its data field
 *                        already parsed: SQS `body` (the parsed tree when the
 *                        body is JSON, else the string), Kinesis `data` (the
 *                        base64-decoded payload parsed as JSON; if it is not
 *                        JSON, leave `data` out), DynamoDB `dynamodb` (the
 *                        stream record's object).  SQS: AWS drops a message
 *                        whose body format (JSON or not) differs from what
 *                        the pattern's `body` expects; nb_pattern_lambda_body
 *                        tells the caller which the pattern expects.
 *
 * NULL as the event is an empty object.
 */
#ifndef NB_PATTERN_H
#define NB_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

typedef struct nb_pattern nb_pattern;

typedef enum {
    NB_PAT_EVENTBRIDGE,
    NB_PAT_SNS_ATTRIBUTES, /* FilterPolicyScope MessageAttributes (the default) */
    NB_PAT_SNS_BODY,       /* FilterPolicyScope MessageBody */
    NB_PAT_LAMBDA,
} nb_pattern_dialect;

/* Limits (see docs/architecture.md, "Event patterns"). */
#define NB_PAT_MAX_DEPTH 32                /* JSON nesting of a pattern text */
#define NB_PAT_MAX_TEXT (256 * 1024)       /* SNS's policy size; a cap for all */
#define NB_PAT_SNS_MAX_KEYS 5              /* keys in one SNS policy branch */
#define NB_PAT_SNS_MAX_COMBINATIONS 150    /* product of value-array sizes */
#define NB_PAT_SNS_NUM_LIMIT 1e9           /* SNS numeric values: -1e9 .. 1e9 */

/*
 * Compiles a pattern (JSON text of len bytes).  On error returns NULL and
 * writes AWS's message into err (always terminated when errlen > 0):
 *   EventBridge  "Event pattern is not valid. Reason: ..."
 *                (InvalidEventPatternException)
 *   SNS          "Invalid parameter: FilterPolicy: ..." (InvalidParameter)
 *   Lambda       "Invalid filter pattern definition. Reason: ..."
 *                (InvalidParameterValueException)
 * Enforces the dialect's operators and limits.  Never crashes on any input.
 */
nb_pattern *nb_pattern_compile(const char *json, size_t len, nb_pattern_dialect d, char *err,
                               size_t errlen);

/* True when the event (see above for what to pass) matches.  NULL p: false. */
bool nb_pattern_match(const nb_pattern *p, json_object *event);

void nb_pattern_free(nb_pattern *p);

/* Lambda SQS sources: what the pattern expects of `body`: 0 no condition on
 * body, 1 a JSON object (the pattern has fields below "body"), 2 a plain
 * string (the pattern has value matchers on "body" itself). */
int nb_pattern_lambda_body(const nb_pattern *p);

#endif
