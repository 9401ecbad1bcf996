/*
 * events_input.h — what an EventBridge target receives: InputPath (the
 * JSONPath subset AWS evaluates) and InputTransformer (InputPathsMap +
 * InputTemplate).  Pure: json-c only, no service, no I/O.
 *
 * Paths: "$", then any number of ".name" (letters, digits, '-', '_', '/',
 * '@', ':'), "[N]" (array index) or ".*" / "[*]" (every element or member;
 * the result is then the array of what the rest of the path reaches).
 *
 * Templates.  A template whose first non-blank character is '{', '[' or
 * '"' is JSON-aware: a placeholder inside a JSON string is replaced by a
 * string value's raw text (AWS does not escape extracted values) or any
 * other value's JSON text; outside strings by the value's JSON text.  Any
 * other template is plain text: strings go in raw, other values as JSON.
 * A variable whose path reaches nothing is empty inside a string or plain
 * text and null elsewhere.  Predefined variables: aws.events.rule-arn,
 * aws.events.rule-name, aws.events.event.ingestion-time (strings),
 * aws.events.event (the event without "detail") and aws.events.event.json
 * (the whole event).
 */
#ifndef NB_EVENTS_INPUT_H
#define NB_EVENTS_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#define EV_MAX_PATHS 100      /* InputPathsMap entries */
#define EV_MAX_PATH_LEN 256

/* True when s[0..n) is one strict JSON text (Input, templates). */
bool ev_json_valid(const char *s, size_t n);

/* True when path is in the subset above. */
bool ev_path_valid(const char *path);

/* The value path reaches in root (a new reference), or NULL. */
json_object *ev_path_eval(json_object *root, const char *path);

typedef struct ev_transformer ev_transformer;

/* Compiles InputPathsMap (an object name -> path, may be NULL) and the
 * template.  On error returns NULL with AWS's message for target id, e.g.
 * "InputTemplate for target t contains invalid placeholder x.".  The
 * template must be valid JSON when JSON-aware (checked with placeholders
 * replaced by null / empty text). */
ev_transformer *ev_transformer_compile(json_object *paths, const char *tmpl, const char *id,
                                       char *err, size_t errlen);
void ev_transformer_free(ev_transformer *t);

/* Context of one delivery for the predefined variables. */
typedef struct ev_context {
    const char *rule_arn;
    const char *rule_name;
    const char *ingestion_time; /* ISO 8601 */
} ev_context;

/* The transformed input for event (malloc'd, NUL-terminated, *len). */
char *ev_transformer_apply(const ev_transformer *t, json_object *event, const ev_context *ctx,
                           size_t *len);

#endif
