/*
 * sfn_test_state.c — TestState: run one state once and report what it did.
 *
 * The state comes alone (`definition` is a state) or, with `stateName`,
 * from a whole state machine definition.  Its data flow is the
 * interpreter's own (asl_enter / asl_finish / asl_on_error); the
 * intermediate values that DEBUG and TRACE report (afterInputPath,
 * afterParameters, result, afterResultSelector, afterResultPath) come from
 * running the same functions on copies of the state cut after that field,
 * so they can never disagree with the final output.  A Task's work runs for
 * real: the engine (sfn_exec.c) runs an EXPRESS machine of one Task state
 * with the effective input, and its end (sfn_start.done) resumes the
 * parked call.  `mock` replaces the work with a result or an error; Map,
 * Parallel, activities, `.sync` and `.waitForTaskToken` need one, as AWS
 * documents.  Retry and Catch are not run: a matching retrier gives
 * RETRIABLE, a matching catcher CAUGHT_ERROR with the catcher's Next.
 *
 * Lifetime: the ts_run belongs to the execution once it started (done is
 * called exactly once, also when the execution is dropped); a cancelled
 * call only clears ts_run.call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_internal.h"

#define TEST_TIMEOUT_S 300 /* TestState runs for up to five minutes */

typedef struct ts_run {
    nb_call *call;          /* NULL once the client is gone */
    bool in_handler, ended;
    bool debug;             /* DEBUG or TRACE: inspectionData */
    json_object *state, *input, *ctx, *insp; /* owned */
    json_object *retry_counts;               /* per retrier, from stateConfiguration */
} ts_run;

static const char *jtext(json_object *v)
{
    return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static bool has(json_object *o, const char *k)
{
    return json_object_object_get_ex(o, k, NULL);
}

static void ts_free(ts_run *r)
{
    json_object_put(r->state);
    json_object_put(r->input);
    json_object_put(r->ctx);
    json_object_put(r->insp);
    json_object_put(r->retry_counts);
    free(r);
}

static void insp_set(ts_run *r, const char *k, json_object *v)
{
    if (r->debug && v)
        json_object_object_add(r->insp, k, jstr(jtext(v)));
}

/* A copy of the state with only the fields in keep (NULL-terminated). */
static json_object *cut(json_object *st, const char *type, const char *const *keep)
{
    json_object *c = json_object_new_object();
    json_object_object_add(c, "Type", jstr(type));
    if (!strcmp(type, "Task"))
        json_object_object_add(c, "Resource", jstr("arn:aws:states:::nimbus:test"));
    for (int i = 0; keep[i]; i++)
        if (has(st, keep[i]))
            json_object_object_add(c, keep[i], json_object_get(jget(st, keep[i])));
    json_object_object_add(c, "End", json_object_new_boolean(1));
    return c;
}

/* The output of a Pass cut of the state (NULL on a runtime error). */
static json_object *pass_stage(ts_run *r, const char *const *keep)
{
    json_object *c = cut(r->state, "Pass", keep);
    asl_step s;
    memset(&s, 0, sizeof s);
    asl_enter(c, r->input, r->ctx, nb_now_ms(), &s);
    json_object *out = s.kind == ASL_FAIL ? NULL : json_object_get(s.output);
    asl_step_clear(&s);
    json_object_put(c);
    return out;
}

/* What the result would be after a Task cut that keeps only keep. */
static json_object *finish_stage(ts_run *r, json_object *result, const char *const *keep)
{
    json_object *c = cut(r->state, "Task", keep);
    asl_step s;
    memset(&s, 0, sizeof s);
    asl_finish(c, r->input, result, r->ctx, &s);
    json_object *out = s.kind == ASL_FAIL ? NULL : json_object_get(s.output);
    asl_step_clear(&s);
    json_object_put(c);
    return out;
}

static void stage(ts_run *r, const char *name, json_object *v)
{
    insp_set(r, name, v);
    json_object_put(v);
}

static void input_stages(ts_run *r, bool params)
{
    static const char *const ip[] = {"InputPath", NULL}, *const pp[] = {"InputPath", "Parameters", NULL};
    stage(r, "afterInputPath", pass_stage(r, ip));
    if (params)
        stage(r, "afterParameters", pass_stage(r, pp));
}

static void result_stages(ts_run *r, json_object *result)
{
    static const char *const rs[] = {"ResultSelector", NULL}, *const rp[] = {"ResultSelector", "ResultPath", NULL};
    insp_set(r, "result", result);
    if (has(r->state, "ResultSelector"))
        stage(r, "afterResultSelector", finish_stage(r, result, rs));
    stage(r, "afterResultPath", finish_stage(r, result, rp));
}

/* A Map's ItemSelector over each item (with $$.Map.Item), and its
 * MaxConcurrency. */
static void map_stages(ts_run *r, json_object *items)
{
    static const char *const ip[] = {"InputPath", NULL};
    json_object *sel = jget(r->state, "ItemSelector"), *mc = jget(r->state, "MaxConcurrency");
    if (!sel)
        sel = jget(r->state, "Parameters");
    if (r->debug && json_object_is_type(mc, json_type_int))
        json_object_object_add(r->insp, "maxConcurrency", json_object_new_int(json_object_get_int(mc)));
    if (!sel || !r->debug)
        return;
    json_object *eff = pass_stage(r, ip), *list = json_object_new_array();
    for (size_t i = 0; eff && i < json_object_array_length(items); i++) {
        json_object *ctx = NULL, *item = json_object_new_object(), *map = json_object_new_object();
        json_object_deep_copy(r->ctx, &ctx, NULL);
        json_object_object_add(item, "Index", json_object_new_int64((int64_t)i));
        json_object_object_add(item, "Value", json_object_get(json_object_array_get_idx(items, i)));
        json_object_object_add(map, "Item", item);
        json_object_object_add(ctx, "Map", map);
        asl_err e = {{0}, {0}};
        json_object *v = asl_template(sel, eff, ctx, &e);
        json_object_put(ctx);
        if (e.error[0]) {
            json_object_put(v);
            break;
        }
        json_object_array_add(list, v);
    }
    insp_set(r, "afterItemSelector", list);
    json_object_put(list);
    json_object_put(eff);
}

/* ---- the answer ------------------------------------------------------------------------------- */

static json_object *answer(ts_run *r, const char *status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", jstr(status));
    if (r->debug)
        json_object_object_add(o, "inspectionData", json_object_get(r->insp));
    return o;
}

static void put_error(json_object *o, const asl_err *e)
{
    json_object_object_add(o, "error", jstr(e->error));
    json_object_object_add(o, "cause", jstr(e->cause));
}

static json_object *details(ts_run *r)
{
    json_object *d = jget(r->insp, "errorDetails");
    if (!d) {
        d = json_object_new_object();
        json_object_object_add(r->insp, "errorDetails", d);
    }
    return d;
}

static int first_match(json_object *rules, const char *error)
{
    for (size_t i = 0; i < json_object_array_length(rules); i++)
        if (asl_error_matches(jget(json_object_array_get_idx(rules, i), "ErrorEquals"), error))
            return (int)i;
    return -1;
}

/* The state failed with e: RETRIABLE, CAUGHT_ERROR or FAILED. */
static json_object *on_error(ts_run *r, const asl_err *e)
{
    int64_t delay = 0;
    asl_step s;
    int rc = asl_on_error(r->state, r->input, e, r->retry_counts, nb_rand64(), &delay, &s);
    json_object *o;
    if (rc == 1) {
        json_object *d = details(r);
        json_object_object_add(d, "retryIndex", json_object_new_int(first_match(jget(r->state, "Retry"), e->error)));
        json_object_object_add(d, "retryBackoffIntervalSeconds", json_object_new_int64((delay + 999) / 1000));
        o = answer(r, "RETRIABLE");
        put_error(o, e);
    } else if (rc == 2) {
        json_object_object_add(details(r), "catchIndex",
                               json_object_new_int(first_match(jget(r->state, "Catch"), e->error)));
        o = answer(r, "CAUGHT_ERROR");
        put_error(o, e);
        json_object_object_add(o, "output", jstr(jtext(s.output)));
        if (s.next)
            json_object_object_add(o, "nextState", jstr(s.next));
    } else {
        o = answer(r, "FAILED");
        put_error(o, rc == 0 && s.kind == ASL_FAIL ? &s.err : e);
    }
    asl_step_clear(&s);
    return o;
}

/* A step's outcome: the next state, the end, or an error. */
static json_object *outcome(ts_run *r, asl_step *s)
{
    if (s->kind == ASL_FAIL)
        return on_error(r, &s->err);
    json_object *o = answer(r, "SUCCEEDED");
    json_object_object_add(o, "output", jstr(jtext(s->output)));
    if (s->next)
        json_object_object_add(o, "nextState", jstr(s->next));
    return o;
}

/* The work's result (or error) is in: the rest of the state. */
static json_object *after_work(ts_run *r, json_object *result, const asl_err *err)
{
    if (err)
        return on_error(r, err);
    result_stages(r, result);
    asl_step s;
    memset(&s, 0, sizeof s);
    asl_finish(r->state, r->input, result, r->ctx, &s);
    json_object *o = outcome(r, &s);
    asl_step_clear(&s);
    return o;
}

static void work_done(void *arg, const char *status, json_object *output, const char *error, const char *cause)
{
    ts_run *r = arg;
    r->ended = true;
    nb_call *call = r->call;
    if (call && !status)
        nb_fail(call, "ServiceUnavailable", "The server is shutting down");
    else if (call) {
        asl_err e = {{0}, {0}};
        bool failed = strcmp(status, "SUCCEEDED") != 0;
        if (failed)
            asl_fail(&e, !strcmp(status, "TIMED_OUT") ? "States.Timeout" : (error ? error : "States.TaskFailed"), "%s",
                     cause ? cause : "");
        call->out = after_work(r, output, failed ? &e : NULL);
    }
    if (r->in_handler)
        return; /* sfn_test_state answers and frees */
    if (call) {
        call->park = NULL;
        nb_call_done(call, status ? NB_OK : NB_ERROR);
    }
    ts_free(r);
}

static void ts_cancel(nb_call *call)
{
    ts_run *r = call->park;
    r->call = NULL; /* freed when the execution ends or is dropped */
}

/* Run a Task's resource with the effective input through the engine. */
static nb_status run_task(nb_call *call, ts_run *r, json_object *eff)
{
    json_object *t = json_object_new_object(), *def = json_object_new_object(), *states = json_object_new_object();
    json_object_object_add(t, "Type", jstr("Task"));
    static const char *const keep[] = {"Resource", "TimeoutSeconds", "HeartbeatSeconds", NULL};
    for (int i = 0; keep[i]; i++)
        if (has(r->state, keep[i]))
            json_object_object_add(t, keep[i], json_object_get(jget(r->state, keep[i])));
    json_object_object_add(t, "End", json_object_new_boolean(1));
    json_object_object_add(states, "TestState", t);
    json_object_object_add(def, "StartAt", jstr("TestState"));
    json_object_object_add(def, "States", states);
    json_object_object_add(def, "TimeoutSeconds", json_object_new_int(TEST_TIMEOUT_S));
    char id[37], arn[256], sm[200];
    nb_uuid(id);
    snprintf(sm, sizeof sm, "arn:aws:states:%s:%s:stateMachine:TestState", call->region, call->account);
    snprintf(arn, sizeof arn, "arn:aws:states:%s:%s:express:TestState:%s:%s", call->region, call->account, id, id);
    const char *role = nb_str(jget(r->ctx, "Execution"), "RoleArn");
    sfn_start s = {.arn = arn, .sm_arn = sm, .sm_name = "TestState", .name = id, .role = role,
                   .definition = jtext(def), .input = eff, .start_ms = call->now_ms, .express = true,
                   .done = work_done, .done_arg = r};
    r->call = call;
    r->in_handler = true;
    sfn_exec_start(call, &s, NULL);
    json_object_put(def);
    r->in_handler = false;
    if (r->ended)
        return call->out ? NB_OK : NB_ERROR;
    call->park = r;
    call->on_cancel = ts_cancel;
    return NB_PENDING;
}

/* ---- the request ------------------------------------------------------------------------------ */

static bool parse_json(nb_call *call, const char *text, const char *what, json_object **out)
{
    enum json_tokener_error je;
    *out = json_tokener_parse_verbose(text, &je);
    if (je == json_tokener_success)
        return true;
    nb_fail(call, "InvalidExecutionInput", "Invalid %s: '%s'", what, json_tokener_error_desc(je));
    return false;
}

static void add_target(json_object *states, json_object *from, const char *key)
{
    const char *n = json_object_get_string(jget(from, key));
    if (n && json_object_is_type(jget(from, key), json_type_string) && !has(states, n)) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "Type", jstr("Succeed"));
        json_object_object_add(states, n, s);
    }
}

/* A lone state is checked as the start of a machine whose transition
 * targets exist. */
static bool check_state(nb_call *call, json_object *st)
{
    json_object *def = json_object_new_object(), *states = json_object_new_object(), *copy = NULL;
    json_object_deep_copy(st, &copy, NULL);
    if (json_object_is_type(copy, json_type_object) && !has(copy, "Next") && !has(copy, "End")) {
        const char *type = json_object_get_string(jget(copy, "Type"));
        if (type && strcmp(type, "Choice") && strcmp(type, "Succeed") && strcmp(type, "Fail"))
            json_object_object_add(copy, "End", json_object_new_boolean(1));
    }
    json_object_object_add(states, "TestState", copy);
    add_target(states, copy, "Next");
    add_target(states, copy, "Default");
    static const char *const lists[] = {"Choices", "Catch", NULL};
    for (int i = 0; lists[i]; i++) {
        json_object *l = jget(copy, lists[i]);
        for (size_t j = 0; json_object_is_type(l, json_type_array) && j < json_object_array_length(l); j++)
            add_target(states, json_object_array_get_idx(l, j), "Next");
    }
    json_object_object_add(def, "StartAt", jstr("TestState"));
    json_object_object_add(def, "States", states);
    char msg[2400];
    bool ok = asl_validate_message(jtext(def), msg, sizeof msg) == 0;
    json_object_put(def);
    if (!ok)
        nb_fail(call, "InvalidDefinition", "%s", msg);
    return ok;
}

/* The state to test (a new reference), or NULL after nb_fail. */
static json_object *state_of(nb_call *call, json_object *in)
{
    const char *text = nb_str(in, "definition"), *name = nb_str(in, "stateName");
    char msg[2400] = "Invalid State Machine Definition";
    json_object *def = json_tokener_parse(text);
    if (!json_object_is_type(def, json_type_object)) {
        json_object_put(def);
        asl_validate_message(text, msg, sizeof msg);
        nb_fail(call, "InvalidDefinition", "%s", msg);
        return NULL;
    }
    if (!name) {
        if (!check_state(call, def)) {
            json_object_put(def);
            return NULL;
        }
        return def;
    }
    if (asl_validate_message(text, msg, sizeof msg) != 0) {
        json_object_put(def);
        nb_fail(call, "InvalidDefinition", "%s", msg);
        return NULL;
    }
    json_object *st = jget(jget(def, "States"), name);
    if (!st) {
        json_object_put(def);
        nb_fail(call, "ValidationException", "State '%s' does not exist in the state machine definition", name);
        return NULL;
    }
    json_object_get(st);
    json_object_put(def);
    return st;
}

/* Work AWS only tests with a mock. */
static const char *needs_mock(json_object *st)
{
    const char *type = json_object_get_string(jget(st, "Type"));
    if (!type)
        return NULL;
    if (!strcmp(type, "Map") || !strcmp(type, "Parallel"))
        return type;
    if (strcmp(type, "Task"))
        return NULL;
    const char *res = json_object_get_string(jget(st, "Resource"));
    if (res && strstr(res, ":activity:"))
        return "Activity tasks";
    if (res && strstr(res, ".waitForTaskToken"))
        return "the .waitForTaskToken service integration pattern";
    if (res && strstr(res, ".sync"))
        return "the .sync service integration pattern";
    return NULL;
}

static json_object *context_of(nb_call *call, json_object *in)
{
    const char *text = nb_str(in, "context"), *role = nb_str(in, "roleArn");
    json_object *c = NULL;
    if (text) {
        c = json_tokener_parse(text);
        if (json_object_is_type(c, json_type_object))
            return c;
        json_object_put(c);
    }
    char iso[40], id[37], arn[256];
    nb_uuid(id);
    snprintf(arn, sizeof arn, "arn:aws:states:%s:%s:execution:TestState:%s", call->region, call->account, id);
    sfn_iso(call->now_ms, iso, sizeof iso);
    c = json_object_new_object();
    json_object *e = json_object_new_object(), *s = json_object_new_object(), *m = json_object_new_object();
    json_object_object_add(e, "Id", jstr(arn));
    json_object_object_add(e, "Name", jstr(id));
    json_object_object_add(e, "RoleArn", jstr(role));
    json_object_object_add(e, "StartTime", jstr(iso));
    json_object_object_add(c, "Execution", e);
    json_object_object_add(s, "EnteredTime", jstr(iso));
    json_object_object_add(s, "Name", jstr(nb_str(in, "stateName") ? nb_str(in, "stateName") : "TestState"));
    json_object_object_add(s, "RetryCount", json_object_new_int(0));
    json_object_object_add(c, "State", s);
    json_object_object_add(m, "Id", jstr("arn:aws:states:::stateMachine:TestState"));
    json_object_object_add(m, "Name", jstr("TestState"));
    json_object_object_add(c, "StateMachine", m);
    return c;
}

/* mock: a result (JSON text) or an errorOutput; false after nb_fail. */
static bool mock_of(nb_call *call, json_object *mock, json_object **result, asl_err *err)
{
    const char *res = nb_str(mock, "result");
    json_object *eo = jget(mock, "errorOutput");
    if ((res != NULL) == (eo != NULL)) {
        nb_fail(call, "ValidationException", "A mock must specify exactly one of result or errorOutput");
        return false;
    }
    if (eo) {
        asl_fail(err, "", "%s", nb_str(eo, "cause") ? nb_str(eo, "cause") : "");
        snprintf(err->error, sizeof err->error, "%s", nb_str(eo, "error") ? nb_str(eo, "error") : "");
        return true;
    }
    enum json_tokener_error je;
    *result = json_tokener_parse_verbose(res, &je);
    if (je != json_tokener_success) {
        nb_fail(call, "ValidationException", "The mocked result is not valid JSON: '%s'", json_tokener_error_desc(je));
        return false;
    }
    return true;
}

static nb_status test_run(nb_call *call, json_object *in, ts_run *r)
{
    const char *type = json_object_get_string(jget(r->state, "Type"));
    json_object *mock = nb_get(in, "mock");
    const char *why = needs_mock(r->state);
    if (why && !mock)
        return nb_fail(call, "ValidationException", "TestState supports %s only when a mock is specified", why);
    bool work = !strcmp(type, "Task") || !strcmp(type, "Map") || !strcmp(type, "Parallel");
    if (work && !mock && !nb_str(in, "roleArn"))
        return nb_fail(call, "ValidationException", "A roleArn is required to test a %s state without a mock", type);
    bool pass = !strcmp(type, "Pass"), choice_like = !strcmp(type, "Choice") || !strcmp(type, "Wait") ||
                                                      !strcmp(type, "Succeed");
    insp_set(r, "input", r->input);
    if (pass || choice_like)
        input_stages(r, pass);
    if (pass) {
        static const char *const res[] = {"InputPath", "Parameters", "Result", NULL},
                                 *const rp[] = {"InputPath", "Parameters", "Result", "ResultPath", NULL};
        stage(r, "result", pass_stage(r, res));
        stage(r, "afterResultPath", pass_stage(r, rp));
    }
    asl_step s;
    memset(&s, 0, sizeof s);
    asl_enter(r->state, r->input, r->ctx, call->now_ms, &s);
    if (s.kind == ASL_WAIT)
        s.kind = s.next ? ASL_NEXT : ASL_END; /* the wait itself is not run */
    if (s.kind != ASL_TASK && s.kind != ASL_PARALLEL && s.kind != ASL_MAP) {
        call->out = outcome(r, &s);
        asl_step_clear(&s);
        return NB_OK;
    }
    input_stages(r, false);
    insp_set(r, !strcmp(type, "Map") ? "afterItemsPath" : "afterParameters", s.output);
    if (!strcmp(type, "Map"))
        map_stages(r, s.output);
    if (mock) {
        json_object *result = NULL;
        asl_err err = {{0}, {0}};
        bool ok = mock_of(call, mock, &result, &err);
        if (ok)
            call->out = after_work(r, result, err.error[0] || err.cause[0] ? &err : NULL);
        json_object_put(result);
        asl_step_clear(&s);
        return ok ? NB_OK : NB_ERROR;
    }
    json_object *eff = json_object_get(s.output);
    asl_step_clear(&s);
    nb_status st = run_task(call, r, eff);
    json_object_put(eff);
    return st;
}

nb_status sfn_test_state(nb_call *call, json_object *in)
{
    const char *role = nb_str(in, "roleArn"), *level = nb_str(in, "inspectionLevel");
    if (role && strncmp(role, "arn:", 4))
        return nb_fail(call, "InvalidArn", "Invalid Arn: '%s'", role);
    const char *text = nb_str(in, "input");
    if (text && strlen(text) > SFN_MAX_PAYLOAD)
        return nb_fail(call, "InvalidExecutionInput",
                       "Invalid State Machine Execution Input: 'The input exceeds the maximum size of 262144 bytes'");
    json_object *input;
    if (!parse_json(call, text ? text : "{}", "State Machine Execution Input", &input))
        return NB_ERROR;
    json_object *st = state_of(call, in);
    if (!st) {
        json_object_put(input);
        return NB_ERROR;
    }
    ts_run *r = nb_calloc(1, sizeof *r);
    r->state = st;
    r->input = input;
    r->debug = level && strcmp(level, "INFO");
    r->insp = json_object_new_object();
    r->ctx = context_of(call, in);
    const char *res = json_object_get_string(jget(st, "Resource"));
    if (res && strstr(res, ".waitForTaskToken") && !jget(r->ctx, "Task")) {
        char token[37];
        nb_uuid(token);
        json_object *t = json_object_new_object();
        json_object_object_add(t, "Token", jstr(token));
        json_object_object_add(r->ctx, "Task", t);
    }
    r->retry_counts = json_object_new_array();
    int64_t count = 0;
    nb_int(nb_get(in, "stateConfiguration"), "retrierRetryCount", &count);
    json_object *retry = jget(st, "Retry");
    for (size_t i = 0; json_object_is_type(retry, json_type_array) && i < json_object_array_length(retry); i++)
        json_object_array_add(r->retry_counts, json_object_new_int64(count));
    nb_status rc = test_run(call, in, r);
    if (rc != NB_PENDING)
        ts_free(r);
    return rc;
}
