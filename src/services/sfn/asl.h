/*
 * asl.h — the Amazon States Language, as pure functions over json-c trees:
 * JSONPath (reference paths and the subset AWS accepts in InputPath,
 * OutputPath, ItemsPath and `.$` fields), payload templates (Parameters,
 * ResultSelector, ItemSelector), intrinsic functions (States.*), the
 * definition validator (InvalidDefinition diagnostics), Choice rules, and
 * the interpreter step: given a state and its input, what comes next.
 *
 * Nothing here touches the store, the event loop or the clock: the service
 * (sfn_exec.c) drives executions with these functions, and the unit tests
 * and fuzzers call them directly.
 *
 * Ownership: functions returning json_object * return a new reference the
 * caller must put; inputs are borrowed.  Runtime failures fill an asl_err
 * with the ASL error name (States.Runtime, States.IntrinsicFailure, ...)
 * and a cause in AWS's wording.
 */
#ifndef NB_ASL_H
#define NB_ASL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct asl_err {
    char error[128];
    char cause[1024];
} asl_err;

void asl_fail(asl_err *e, const char *error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- JSONPath ---------------------------------------------------------- */

/* Evaluate path against root.  0: *out is the result (a new reference; for
 * a path with wildcards an array of the matches); 1: no result; -1: the
 * path is not one nimbus understands.  "$$..." paths are the caller's
 * business (see asl_lookup). */
int asl_path_get(json_object *root, const char *path, json_object **out);
/* True when path is a valid reference path (no wildcards). */
bool asl_path_is_reference(const char *path);
bool asl_path_valid(const char *path);
/* Set path in *root to val (takes the reference): names and indices only;
 * missing objects are created.  "$" replaces *root.  0 or -1. */
int asl_path_set(json_object **root, const char *path, json_object *val);
/* "$..." against input or "$$..." against the context object; NULL and e
 * on failure (States.Runtime "Invalid path ..."). */
json_object *asl_lookup(const char *path, json_object *input, json_object *ctx, asl_err *e);

/* ---- payload templates and intrinsics ------------------------------------ */

/* Parameters / ResultSelector / ItemSelector: keys ending in ".$" take the
 * value of a path or intrinsic function. */
json_object *asl_template(json_object *tmpl, json_object *input, json_object *ctx, asl_err *e);
/* "States.Format('{}', $.a)" and friends. */
json_object *asl_intrinsic(const char *expr, json_object *input, json_object *ctx, asl_err *e);
/* Syntax check only, for the validator: NULL if fine, else a message. */
const char *asl_intrinsic_check(const char *expr, char *buf, size_t n);

/* ---- definitions --------------------------------------------------------- */

/* Each problem found: code (SCHEMA_VALIDATION_FAILED, ...), message and
 * location (/States/A/Next). */
typedef void (*asl_diag_fn)(void *arg, const char *code, const char *msg, const char *loc);
/* Validate a definition's text; returns the number of errors reported. */
int asl_validate(const char *text, asl_diag_fn fn, void *arg);
/* "Invalid State Machine Definition: '...'" for the first errors, or 0
 * when valid; the message goes to buf. */
int asl_validate_message(const char *text, char *buf, size_t n);

/* ---- the interpreter step ----------------------------------------------- */

typedef enum {
    ASL_NEXT,     /* go to next (output set) */
    ASL_END,      /* the branch ends with output */
    ASL_FAIL,     /* the state failed with err (Retry/Catch apply where allowed) */
    ASL_WAIT,     /* wait until until_ms, then go to next with output */
    ASL_TASK,     /* run a task: resource, effective input in output */
    ASL_PARALLEL, /* run branches with output as each branch's input */
    ASL_MAP,      /* run the iterator over items (output: array of inputs) */
} asl_kind;

typedef struct asl_step {
    asl_kind kind;
    json_object *output;   /* owned by the step; see kind */
    const char *next;      /* borrowed from the definition */
    int64_t until_ms;
    asl_err err;
} asl_step;

void asl_step_clear(asl_step *s);

/* Enter state with input (now_ms for Wait); ctx is the context object. */
void asl_enter(json_object *state, json_object *input, json_object *ctx, int64_t now_ms, asl_step *out);
/* A Task/Parallel/Map state finished with result: ResultSelector,
 * ResultPath over the state's raw input, OutputPath, Next/End. */
void asl_finish(json_object *state, json_object *raw_input, json_object *result, json_object *ctx,
                asl_step *out);

/* A state's error: retry after *delay_ms (returns 1; counts in attempts, a
 * json array the caller keeps per state entry), catch (returns 2, out gets
 * next and the output), or fail (returns 0). */
int asl_on_error(json_object *state, json_object *raw_input, const asl_err *err, json_object *attempts,
                 uint64_t rnd, int64_t *delay_ms, asl_step *out);
bool asl_error_matches(json_object *error_equals, const char *error);

/* Choice rule evaluation: 1 match, 0 no match, -1 error (e). */
int asl_choice_rule(json_object *rule, json_object *input, json_object *ctx, asl_err *e);
/* Parse an RFC 3339 timestamp to ms since epoch; false if not one. */
bool asl_timestamp(const char *s, int64_t *ms);

/* Branches of a Parallel (index i) or the iterator of a Map (i ignored). */
json_object *asl_branch(json_object *state, int i);

#endif
