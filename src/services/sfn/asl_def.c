/*
 * asl_def.c — the definition validator.  Reports each problem as AWS's
 * ValidateStateMachineDefinition does (a code, a message, a location such
 * as /States/A/Next); CreateStateMachine joins them into InvalidDefinition's
 * "Invalid State Machine Definition: '...'" message.  Checks: JSON, the
 * top-level fields, every state's type and fields, transitions (Next,
 * Default, Catch targets, StartAt) within their own scope, terminal states,
 * Wait's single duration, Retry/Catch rules, paths and `.$` values, and
 * Parallel branches and Map iterators recursively.  JSONata is rejected.
 */
#include <stdio.h>
#include <string.h>

#include "asl.h"

/* Locations are cut at their buffer on purpose (deeply nested names). */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

typedef struct vctx {
    asl_diag_fn fn;
    void *arg;
    int errors;
} vctx;

static void diag(vctx *v, const char *code, const char *loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static void diag(vctx *v, const char *code, const char *loc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->errors++;
    if (v->fn)
        v->fn(v->arg, code, msg, loc);
}

static const char *const COMMON[] = {"Type", "Comment", "InputPath", "OutputPath", NULL};

static const struct {
    const char *type;
    const char *fields[16];
    bool transitions; /* Next/End */
} TYPES[] = {
    {"Pass", {"Result", "ResultPath", "Parameters", NULL}, true},
    {"Task",
     {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "TimeoutSeconds",
      "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials", NULL},
     true},
    {"Choice", {"Choices", "Default", NULL}, false},
    {"Wait", {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", NULL}, true},
    {"Succeed", {NULL}, false},
    {"Fail", {"Error", "Cause", "ErrorPath", "CausePath", NULL}, false},
    {"Parallel", {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", NULL}, true},
    {"Map",
     {"Iterator", "ItemProcessor", "ItemsPath", "ItemSelector", "Parameters", "MaxConcurrency",
      "MaxConcurrencyPath", "ResultSelector", "ResultPath", "Retry", "Catch", "Label", "ToleratedFailureCount",
      "ToleratedFailurePercentage", NULL},
     true},
};

static bool in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (!strcmp(*l, k))
            return true;
    return false;
}

static void check_path(vctx *v, json_object *st, const char *field, const char *loc, bool reference)
{
    json_object *p;
    if (!json_object_object_get_ex(st, field, &p) || !p)
        return;
    char l[512];
    snprintf(l, sizeof l, "%s/%s", loc, field);
    const char *s = json_object_is_type(p, json_type_string) ? json_object_get_string(p) : NULL;
    if (!s)
        diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field '%s' must be a STRING", field);
    else if (reference ? !asl_path_is_reference(s) : !asl_path_valid(s))
        diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field '%s' must be a valid %s: %s", field,
             reference ? "Reference Path" : "JSONPath", s);
}

/* `.$` fields in a payload template. */
static void check_template(vctx *v, json_object *t, const char *loc)
{
    if (json_object_is_type(t, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(t); i++)
            check_template(v, json_object_array_get_idx(t, i), loc);
        return;
    }
    if (!json_object_is_type(t, json_type_object))
        return;
    json_object_object_foreach(t, k, val) {
        size_t kl = strlen(k);
        char l[512];
        snprintf(l, sizeof l, "%s/%s", loc, k);
        if (kl > 2 && !strcmp(k + kl - 2, ".$")) {
            const char *s = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
            char buf[300];
            const char *why;
            if (!s)
                diag(v, "SCHEMA_VALIDATION_FAILED", l,
                     "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", k);
            else if (s[0] == '$') {
                if (!asl_path_valid(strncmp(s, "$$", 2) ? s : s + 1))
                    diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field '%s' must be a valid JSONPath",
                         k);
            } else if (!strncmp(s, "States.", 7)) {
                if ((why = asl_intrinsic_check(s, buf, sizeof buf)))
                    diag(v, "SCHEMA_VALIDATION_FAILED", l,
                         "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function "
                         "call (%s)",
                         k, why);
            } else
                diag(v, "SCHEMA_VALIDATION_FAILED", l,
                     "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", k);
        } else {
            check_template(v, val, l);
        }
    }
}

static void check_target(vctx *v, json_object *states, json_object *next, const char *loc)
{
    if (!json_object_is_type(next, json_type_string)) {
        diag(v, "SCHEMA_VALIDATION_FAILED", loc, "The value for the field 'Next' must be a STRING");
        return;
    }
    if (!json_object_object_get_ex(states, json_object_get_string(next), NULL))
        diag(v, "MISSING_TRANSITION_TARGET", loc, "Missing 'Next' target: %s", json_object_get_string(next));
}

static void check_rules(vctx *v, json_object *st, json_object *states, const char *field, const char *loc)
{
    json_object *rules;
    if (!json_object_object_get_ex(st, field, &rules))
        return;
    char l[512];
    if (!json_object_is_type(rules, json_type_array)) {
        snprintf(l, sizeof l, "%s/%s", loc, field);
        diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field '%s' must be an ARRAY", field);
        return;
    }
    size_t n = json_object_array_length(rules);
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(rules, i), *ee, *x;
        snprintf(l, sizeof l, "%s/%s[%zu]", loc, field, i);
        if (!json_object_is_type(r, json_type_object)) {
            diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value must be an OBJECT");
            continue;
        }
        if (!json_object_object_get_ex(r, "ErrorEquals", &ee) || !json_object_is_type(ee, json_type_array) ||
            json_object_array_length(ee) == 0) {
            diag(v, "SCHEMA_VALIDATION_FAILED", l, "These fields are required: [ErrorEquals]");
            continue;
        }
        for (size_t j = 0; j < json_object_array_length(ee); j++) {
            json_object *e = json_object_array_get_idx(ee, j);
            if (!json_object_is_type(e, json_type_string))
                diag(v, "SCHEMA_VALIDATION_FAILED", l, "ErrorEquals entries must be STRINGs");
            else if (!strcmp(json_object_get_string(e), "States.ALL") &&
                     (json_object_array_length(ee) != 1 || i != n - 1))
                diag(v, "SCHEMA_VALIDATION_FAILED", l,
                     "States.ALL must appear alone in ErrorEquals and in the last %s", field);
        }
        if (!strcmp(field, "Catch")) {
            char ln[560];
            snprintf(ln, sizeof ln, "%s/Next", l);
            if (!json_object_object_get_ex(r, "Next", &x))
                diag(v, "SCHEMA_VALIDATION_FAILED", l, "These fields are required: [Next]");
            else
                check_target(v, states, x, ln);
        } else {
            static const char *const nums[] = {"IntervalSeconds", "MaxAttempts", "MaxDelaySeconds", NULL};
            for (int k = 0; nums[k]; k++)
                if (json_object_object_get_ex(r, nums[k], &x) &&
                    (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0))
                    diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field '%s' must be a non-negative INTEGER",
                         nums[k]);
            if (json_object_object_get_ex(r, "BackoffRate", &x) &&
                ((!json_object_is_type(x, json_type_int) && !json_object_is_type(x, json_type_double)) ||
                 json_object_get_double(x) < 1.0))
                diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field 'BackoffRate' must be at least 1.0");
            if (json_object_object_get_ex(r, "JitterStrategy", &x) &&
                (!json_object_is_type(x, json_type_string) ||
                 (strcmp(json_object_get_string(x), "FULL") && strcmp(json_object_get_string(x), "NONE"))))
                diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field 'JitterStrategy' must be FULL or NONE");
        }
    }
}

static void check_machine(vctx *v, json_object *m, const char *loc, int depth);

static void check_choice_rule(vctx *v, json_object *r, const char *loc, bool top)
{
    if (!json_object_is_type(r, json_type_object)) {
        diag(v, "SCHEMA_VALIDATION_FAILED", loc, "The value must be an OBJECT");
        return;
    }
    json_object *x;
    char l[560];
    static const char *const combos[] = {"And", "Or", NULL};
    for (int i = 0; combos[i]; i++)
        if (json_object_object_get_ex(r, combos[i], &x)) {
            if (!json_object_is_type(x, json_type_array) || json_object_array_length(x) == 0) {
                diag(v, "SCHEMA_VALIDATION_FAILED", loc, "The value for the field '%s' must be a non-empty ARRAY",
                     combos[i]);
                return;
            }
            for (size_t j = 0; j < json_object_array_length(x); j++) {
                snprintf(l, sizeof l, "%s/%s[%zu]", loc, combos[i], j);
                check_choice_rule(v, json_object_array_get_idx(x, j), l, false);
            }
            return;
        }
    if (json_object_object_get_ex(r, "Not", &x)) {
        snprintf(l, sizeof l, "%s/Not", loc);
        check_choice_rule(v, x, l, false);
        return;
    }
    if (!json_object_object_get_ex(r, "Variable", &x) || !json_object_is_type(x, json_type_string)) {
        diag(v, "SCHEMA_VALIDATION_FAILED", loc, "These fields are required: [Variable]");
        return;
    }
    const char *var = json_object_get_string(x);
    if (!asl_path_valid(strncmp(var, "$$", 2) ? var : var + 1))
        diag(v, "SCHEMA_VALIDATION_FAILED", loc, "The value for the field 'Variable' must be a valid JSONPath");
    int ops = 0;
    json_object_object_foreach(r, k, val) {
        (void)val;
        if (!strcmp(k, "Variable") || !strcmp(k, "Next") || !strcmp(k, "Comment"))
            continue;
        static const char *const pre[] = {"String", "Numeric", "Boolean", "Timestamp", NULL};
        bool known = !strcmp(k, "IsNull") || !strcmp(k, "IsPresent") || !strcmp(k, "IsNumeric") ||
                     !strcmp(k, "IsString") || !strcmp(k, "IsBoolean") || !strcmp(k, "IsTimestamp") ||
                     !strcmp(k, "StringMatches");
        for (int i = 0; pre[i] && !known; i++) {
            size_t pl = strlen(pre[i]);
            if (strncmp(k, pre[i], pl))
                continue;
            const char *op = k + pl;
            static const char *const cmp[] = {"Equals", "LessThan", "GreaterThan", "LessThanEquals",
                                              "GreaterThanEquals", NULL};
            for (int j = 0; cmp[j] && !known; j++) {
                size_t cl = strlen(cmp[j]);
                if (!strncmp(op, cmp[j], cl) && (!op[cl] || !strcmp(op + cl, "Path")) &&
                    (strcmp(pre[i], "Boolean") || !strcmp(cmp[j], "Equals")))
                    known = true;
            }
        }
        if (!known)
            diag(v, "SCHEMA_VALIDATION_FAILED", loc, "Field '%s' is not supported", k);
        ops++;
    }
    if (ops != 1 && v->errors == 0)
        diag(v, "SCHEMA_VALIDATION_FAILED", loc, "A choice rule must have exactly one comparison operator");
    (void)top;
}

/* HeartbeatSeconds: a positive integer below TimeoutSeconds (default
 * 99999999); a field and its ...Path are exclusive. */
static void check_task_timeouts(vctx *v, json_object *st, const char *sloc)
{
    json_object *t = NULL, *h = NULL, *x;
    json_object_object_get_ex(st, "TimeoutSeconds", &t);
    json_object_object_get_ex(st, "HeartbeatSeconds", &h);
    if (h && (!json_object_is_type(h, json_type_int) || json_object_get_int64(h) <= 0))
        diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The value for the field 'HeartbeatSeconds' must be a positive INTEGER");
    else if (h && json_object_get_int64(h) >= (json_object_is_type(t, json_type_int) ? json_object_get_int64(t) : 99999999))
        diag(v, "SCHEMA_VALIDATION_FAILED", sloc,
             "The value for the field 'HeartbeatSeconds' must be smaller than the value for the field 'TimeoutSeconds'");
    if (t && json_object_object_get_ex(st, "TimeoutSecondsPath", &x))
        diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "These fields cannot be specified together: [TimeoutSeconds, TimeoutSecondsPath]");
    if (h && json_object_object_get_ex(st, "HeartbeatSecondsPath", &x))
        diag(v, "SCHEMA_VALIDATION_FAILED", sloc,
             "These fields cannot be specified together: [HeartbeatSeconds, HeartbeatSecondsPath]");
}

static void check_state(vctx *v, const char *name, json_object *st, json_object *states, const char *sloc,
                        int depth, bool *terminal)
{
    if (!json_object_is_type(st, json_type_object)) {
        diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The value for a state must be an OBJECT");
        return;
    }
    if (strlen(name) > 80)
        diag(v, "INVALID_STATE_NAME", sloc, "State name '%.80s...' exceeds 80 characters", name);
    json_object *t, *x;
    if (!json_object_object_get_ex(st, "Type", &t) || !json_object_is_type(t, json_type_string)) {
        diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The field \"Type\" should be non-null");
        return;
    }
    const char *type = json_object_get_string(t);
    int ti = -1;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (!strcmp(TYPES[i].type, type))
            ti = (int)i;
    char l[512];
    if (ti < 0) {
        snprintf(l, sizeof l, "%s/Type", sloc);
        diag(v, "SCHEMA_VALIDATION_FAILED", l, "\"%s\" is not a valid state type", type);
        return;
    }
    bool trans = TYPES[ti].transitions;
    json_object_object_foreach(st, k, val) {
        (void)val;
        if (in_list(COMMON, k) || in_list(TYPES[ti].fields, k) || (trans && (!strcmp(k, "Next") || !strcmp(k, "End"))))
            continue;
        if ((!strcmp(type, "Succeed") || !strcmp(type, "Fail")) && (!strcmp(k, "InputPath") || !strcmp(k, "OutputPath")))
            continue;
        snprintf(l, sizeof l, "%s/%s", sloc, k);
        diag(v, "SCHEMA_VALIDATION_FAILED", l, "Field \"%s\" is not supported", k);
    }
    if (trans) {
        bool has_next = json_object_object_get_ex(st, "Next", &x);
        json_object *end;
        bool has_end = json_object_object_get_ex(st, "End", &end);
        if (has_end && (!json_object_is_type(end, json_type_boolean) || !json_object_get_boolean(end))) {
            snprintf(l, sizeof l, "%s/End", sloc);
            diag(v, "SCHEMA_VALIDATION_FAILED", l, "The value for the field 'End' must be true");
        }
        if (has_next && has_end)
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "Only one of 'Next' or 'End' is allowed");
        else if (!has_next && !has_end)
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "These fields are required: [Next, End]");
        else if (has_next) {
            snprintf(l, sizeof l, "%s/Next", sloc);
            check_target(v, states, x, l);
        } else
            *terminal = true;
    } else if (strcmp(type, "Choice"))
        *terminal = true;
    check_path(v, st, "InputPath", sloc, false);
    check_path(v, st, "OutputPath", sloc, false);
    check_path(v, st, "ResultPath", sloc, true);
    check_path(v, st, "ItemsPath", sloc, false);
    check_path(v, st, "SecondsPath", sloc, true);
    check_path(v, st, "TimestampPath", sloc, true);
    static const char *const tmpls[] = {"Parameters", "ResultSelector", "ItemSelector", NULL};
    for (int i = 0; tmpls[i]; i++)
        if (json_object_object_get_ex(st, tmpls[i], &x)) {
            snprintf(l, sizeof l, "%s/%s", sloc, tmpls[i]);
            check_template(v, x, l);
        }
    check_rules(v, st, states, "Retry", sloc);
    check_rules(v, st, states, "Catch", sloc);
    if (!strcmp(type, "Task")) {
        if (!json_object_object_get_ex(st, "Resource", &x) || !json_object_is_type(x, json_type_string))
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "These fields are required: [Resource]");
        else if (strncmp(json_object_get_string(x), "arn:", 4)) {
            snprintf(l, sizeof l, "%s/Resource", sloc);
            diag(v, "INVALID_RESOURCE", l, "Resource is not a valid ARN: %s", json_object_get_string(x));
        }
        if (json_object_object_get_ex(st, "TimeoutSeconds", &x) &&
            (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) <= 0))
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The value for the field 'TimeoutSeconds' must be a positive INTEGER");
        check_task_timeouts(v, st, sloc);
    } else if (!strcmp(type, "Choice")) {
        json_object *choices;
        if (!json_object_object_get_ex(st, "Choices", &choices) || !json_object_is_type(choices, json_type_array) ||
            json_object_array_length(choices) == 0) {
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "These fields are required: [Choices]");
        } else {
            for (size_t i = 0; i < json_object_array_length(choices); i++) {
                json_object *r = json_object_array_get_idx(choices, i);
                snprintf(l, sizeof l, "%s/Choices[%zu]", sloc, i);
                check_choice_rule(v, r, l, true);
                char ln[560];
                snprintf(ln, sizeof ln, "%s/Next", l);
                if (json_object_is_type(r, json_type_object) && !json_object_object_get_ex(r, "Next", &x))
                    diag(v, "SCHEMA_VALIDATION_FAILED", l, "These fields are required: [Next]");
                else if (json_object_is_type(r, json_type_object))
                    check_target(v, states, x, ln);
            }
        }
        if (json_object_object_get_ex(st, "Default", &x)) {
            snprintf(l, sizeof l, "%s/Default", sloc);
            check_target(v, states, x, l);
        }
    } else if (!strcmp(type, "Wait")) {
        static const char *const w[] = {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", NULL};
        int n = 0;
        for (int i = 0; w[i]; i++)
            n += json_object_object_get_ex(st, w[i], NULL);
        if (n != 1)
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc,
                 "A Wait state must have exactly one of: Seconds, Timestamp, SecondsPath, TimestampPath");
        if (json_object_object_get_ex(st, "Seconds", &x) &&
            (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0))
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The value for the field 'Seconds' must be a non-negative INTEGER");
        int64_t ms;
        if (json_object_object_get_ex(st, "Timestamp", &x) &&
            (!json_object_is_type(x, json_type_string) || !asl_timestamp(json_object_get_string(x), &ms)))
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The value for the field 'Timestamp' must be a valid timestamp");
    } else if (!strcmp(type, "Fail")) {
        static const char *const f[] = {"Error", "Cause", NULL};
        for (int i = 0; f[i]; i++)
            if (json_object_object_get_ex(st, f[i], &x) && !json_object_is_type(x, json_type_string))
                diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "The value for the field '%s' must be a STRING", f[i]);
    } else if (!strcmp(type, "Parallel")) {
        json_object *br;
        if (!json_object_object_get_ex(st, "Branches", &br) || !json_object_is_type(br, json_type_array) ||
            json_object_array_length(br) == 0)
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "These fields are required: [Branches]");
        else
            for (size_t i = 0; i < json_object_array_length(br); i++) {
                snprintf(l, sizeof l, "%s/Branches[%zu]", sloc, i);
                check_machine(v, json_object_array_get_idx(br, i), l, depth + 1);
            }
    } else if (!strcmp(type, "Map")) {
        json_object *it = asl_branch(st, 0);
        if (!it)
            diag(v, "SCHEMA_VALIDATION_FAILED", sloc, "These fields are required: [ItemProcessor]");
        else {
            snprintf(l, sizeof l, "%s/%s", sloc, json_object_object_get_ex(st, "ItemProcessor", NULL) ? "ItemProcessor" : "Iterator");
            check_machine(v, it, l, depth + 1);
        }
    }
}

static void check_machine(vctx *v, json_object *m, const char *loc, int depth)
{
    const char *root = loc[0] ? loc : "/";
    if (depth > 32) {
        diag(v, "SCHEMA_VALIDATION_FAILED", root, "The definition is nested too deeply");
        return;
    }
    if (!json_object_is_type(m, json_type_object)) {
        diag(v, "SCHEMA_VALIDATION_FAILED", root, "The definition must be a JSON OBJECT");
        return;
    }
    json_object *ql, *start, *states;
    if (json_object_object_get_ex(m, "QueryLanguage", &ql)) {
        if (json_object_is_type(ql, json_type_string) && !strcmp(json_object_get_string(ql), "JSONata")) {
            diag(v, "SCHEMA_VALIDATION_FAILED", root, "The JSONata query language is not supported by nimbus; use JSONPath");
            return;
        }
    }
    json_object_object_foreach(m, k, val) {
        (void)val;
        if (strcmp(k, "StartAt") && strcmp(k, "States") && strcmp(k, "Comment") && strcmp(k, "Version") &&
            strcmp(k, "TimeoutSeconds") && strcmp(k, "QueryLanguage") && strcmp(k, "ProcessorConfig")) {
            char l[512];
            snprintf(l, sizeof l, "%s/%s", loc, k);
            diag(v, "SCHEMA_VALIDATION_FAILED", l, "Field \"%s\" is not supported", k);
        }
    }
    bool has_start = json_object_object_get_ex(m, "StartAt", &start) && json_object_is_type(start, json_type_string);
    bool has_states = json_object_object_get_ex(m, "States", &states) && json_object_is_type(states, json_type_object);
    if (!has_start || !has_states) {
        diag(v, "SCHEMA_VALIDATION_FAILED", root, "These fields are required: [%s]",
             !has_start && !has_states ? "StartAt, States" : !has_start ? "StartAt" : "States");
        return;
    }
    char l[512];
    if (!json_object_object_get_ex(states, json_object_get_string(start), NULL)) {
        snprintf(l, sizeof l, "%s/StartAt", loc);
        diag(v, "MISSING_TRANSITION_TARGET", l, "Missing 'Next' target: %s", json_object_get_string(start));
    }
    bool terminal = false;
    json_object_object_foreach(states, name, st) {
        snprintf(l, sizeof l, "%s/States/%s", loc, name);
        check_state(v, name, st, states, l, depth, &terminal);
    }
    if (!terminal && v->errors == 0)
        diag(v, "MISSING_END_STATE", root, "Workflow has no terminal state");
}

int asl_validate(const char *text, asl_diag_fn fn, void *arg)
{
    vctx v = {.fn = fn, .arg = arg};
    if (!text || !*text) {
        diag(&v, "MISSING_DESCRIPTION", "/", "The definition is empty");
        return v.errors;
    }
    enum json_tokener_error je;
    json_object *def = json_tokener_parse_verbose(text, &je);
    if (je != json_tokener_success) {
        diag(&v, "INVALID_JSON_DESCRIPTION", "/", "%s", json_tokener_error_desc(je));
        return v.errors;
    }
    check_machine(&v, def, "", 0);
    json_object_put(def);
    return v.errors;
}

typedef struct msgbuf {
    char *buf;
    size_t n, len;
    int count;
} msgbuf;

static void to_msg(void *arg, const char *code, const char *msg, const char *loc)
{
    msgbuf *m = arg;
    if (m->count++ >= 5 || m->len >= m->n)
        return;
    m->len += (size_t)snprintf(m->buf + m->len, m->n - m->len, "%s%s: %s at %s", m->count > 1 ? ", " : "", code,
                               msg, loc);
}

int asl_validate_message(const char *text, char *buf, size_t n)
{
    char inner[2048] = "";
    msgbuf m = {inner, sizeof inner, 0, 0};
    int errors = asl_validate(text, to_msg, &m);
    if (errors)
        snprintf(buf, n, "Invalid State Machine Definition: '%s'", inner);
    return errors;
}
