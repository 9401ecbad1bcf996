/*
 * test_asl.c — unit test of the States Language core (src/services/sfn/asl_*.c):
 *
 *   paths        reference paths, wildcards, bracket names, invalid paths,
 *                ResultPath assignment (creating objects, "$", scalars)
 *   templates    Parameters with ".$" keys, the context object, nesting
 *   intrinsics   each States.* function, nesting, escapes, bad arguments
 *   definitions  the validator's codes and locations
 *   step         Pass/Choice/Wait/Fail/Succeed/Task through asl_enter and
 *                asl_finish; Retry back-off and Catch selection
 *   choice       every comparator family, And/Or/Not, type tests
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/sfn/asl.h"

static int passed, failed;

#include "check.h"

static json_object *J(const char *s)
{
    return json_tokener_parse(s);
}

static bool same(json_object *v, const char *want)
{
    json_object *w = J(want);
    bool ok = json_object_equal(v, w);
    if (!ok)
        printf("  got %s want %s\n", v ? json_object_to_json_string(v) : "null", want);
    json_object_put(w);
    return ok;
}

static void t_paths(void)
{
    json_object *doc = J("{\"a\":{\"b\":[10,{\"c\":\"x\"}]},\"k y\":1,\"l\":[{\"n\":1},{\"n\":2}]}"), *o;
    check(asl_path_get(doc, "$.a.b[0]", &o) == 0 && same(o, "10"), "index");
    json_object_put(o);
    check(asl_path_get(doc, "$.a.b[1].c", &o) == 0 && same(o, "\"x\""), "nested");
    json_object_put(o);
    check(asl_path_get(doc, "$['k y']", &o) == 0 && same(o, "1"), "bracket name");
    json_object_put(o);
    check(asl_path_get(doc, "$.l[*].n", &o) == 0 && same(o, "[1,2]"), "wildcard");
    json_object_put(o);
    check(asl_path_get(doc, "$.nope", &o) == 1, "missing");
    check(asl_path_get(doc, "$..a", &o) == -1 && !asl_path_valid("a.b") && !asl_path_valid("$.a["), "invalid");
    check(asl_path_is_reference("$.a[0].b") && !asl_path_is_reference("$.a[*]"), "reference");
    json_object *r = J("{\"x\":1}");
    check(asl_path_set(&r, "$.y.z", J("2")) == 0 && same(r, "{\"x\":1,\"y\":{\"z\":2}}"), "set creates");
    check(asl_path_set(&r, "$", J("[1]")) == 0 && same(r, "[1]"), "set root");
    check(asl_path_set(&r, "$.a[*]", J("1")) == -1, "set wildcard refused");
    json_object_put(r);
    asl_err e = {{0}, {0}};
    check(!asl_lookup("$.a.q", doc, NULL, &e) && !strcmp(e.error, "States.Runtime") &&
              strstr(e.cause, "$['a']['q']"),
          "lookup message: %s", e.cause);
    json_object_put(doc);
}

static void t_templates(void)
{
    json_object *in = J("{\"name\":\"n\",\"v\":[1,2]}"), *ctx = J("{\"Execution\":{\"Id\":\"arn:x\"}}");
    json_object *t = J("{\"a.$\":\"$.name\",\"c.$\":\"$$.Execution.Id\",\"lit\":{\"d.$\":\"$.v[1]\"},"
                       "\"arr\":[{\"e.$\":\"$.name\"}],\"f.$\":\"States.ArrayLength($.v)\"}");
    asl_err e = {{0}, {0}};
    json_object *o = asl_template(t, in, ctx, &e);
    check(!e.error[0] && same(o, "{\"a\":\"n\",\"c\":\"arn:x\",\"lit\":{\"d\":2},\"arr\":[{\"e\":\"n\"}],\"f\":2}"),
          "template");
    json_object_put(o);
    json_object_put(t);
    t = J("{\"a.$\":\"$.missing\"}");
    o = asl_template(t, in, ctx, &e);
    check(!o && !strcmp(e.error, "States.Runtime"), "template missing path");
    json_object_put(t);
    json_object_put(in);
    json_object_put(ctx);
}

static void intr(const char *expr, const char *in, const char *want)
{
    json_object *i = J(in);
    asl_err e = {{0}, {0}};
    json_object *o = asl_intrinsic(expr, i, NULL, &e);
    if (want)
        check(!e.error[0] && same(o, want), "%s (%s)", expr, e.cause);
    else
        check(e.error[0] != 0, "%s must fail", expr);
    json_object_put(o);
    json_object_put(i);
}

static void t_intrinsics(void)
{
    intr("States.Format('a{}b{}', $.x, 'q')", "{\"x\":[1]}", "\"a[1]bq\"");
    intr("States.Format('it\\'s {}', 1)", "{}", "\"it's 1\"");
    intr("States.StringToJson('{\"a\":1}')", "{}", "{\"a\":1}");
    intr("States.JsonToString($)", "{\"a\":1}", "\"{\\\"a\\\":1}\"");
    intr("States.Array(1, true, null, 'x')", "{}", "[1,true,null,\"x\"]");
    intr("States.ArrayPartition(States.ArrayRange(1, 5, 1), 2)", "{}", "[[1,2],[3,4],[5]]");
    intr("States.ArrayContains($.a, 'b')", "{\"a\":[\"a\",\"b\"]}", "true");
    intr("States.ArrayRange(5, 1, -2)", "{}", "[5,3,1]");
    intr("States.ArrayGetItem($.a, 0)", "{\"a\":[7]}", "7");
    intr("States.ArrayLength($.a)", "{\"a\":[]}", "0");
    intr("States.ArrayUnique($.a)", "{\"a\":[1,1,{\"x\":1},{\"x\":1}]}", "[1,{\"x\":1}]");
    intr("States.Base64Encode('hi')", "{}", "\"aGk=\"");
    intr("States.Base64Decode('aGk=')", "{}", "\"hi\"");
    intr("States.Hash('hi', 'MD5')", "{}", "\"49f68a5c8493ec2c0bf489821c21fc3b\"");
    intr("States.JsonMerge($.a, $.b, false)", "{\"a\":{\"x\":1,\"y\":1},\"b\":{\"y\":2}}", "{\"x\":1,\"y\":2}");
    intr("States.MathAdd(1.5, 2)", "{}", "3.5");
    intr("States.MathRandom(4, 4)", "{}", "4");
    intr("States.StringSplit('a b  c', ' ')", "{}", "[\"a\",\"b\",\"c\"]");
    intr("States.ArrayGetItem($.a, 3)", "{\"a\":[1]}", NULL);
    intr("States.Nope(1)", "{}", NULL);
    intr("States.Format('{}')", "{}", NULL);
    intr("States.MathAdd(1", "{}", NULL);
    intr("States.ArrayLength($.a) x", "{\"a\":[]}", NULL);
    intr("States.Hash('x', 'CRC')", "{}", NULL);
    char buf[200];
    check(asl_intrinsic_check("States.Array(1, $.a)", buf, sizeof buf) == NULL, "check ok");
    check(asl_intrinsic_check("States.Array(1,", buf, sizeof buf) != NULL, "check bad");
}

typedef struct diags {
    char codes[512];
    char locs[1024];
} diags;

static void on_diag(void *arg, const char *code, const char *msg, const char *loc)
{
    diags *d = arg;
    (void)msg;
    strncat(d->codes, code, sizeof d->codes - strlen(d->codes) - 2);
    strncat(d->codes, " ", sizeof d->codes - strlen(d->codes) - 1);
    strncat(d->locs, loc, sizeof d->locs - strlen(d->locs) - 2);
    strncat(d->locs, " ", sizeof d->locs - strlen(d->locs) - 1);
}

static void def(const char *text, const char *code, const char *loc)
{
    diags d = {"", ""};
    int n = asl_validate(text, on_diag, &d);
    if (!code)
        check(n == 0, "valid: %s (%s at %s)", text, d.codes, d.locs);
    else
        check(n > 0 && strstr(d.codes, code) && (!loc || strstr(d.locs, loc)), "%s: got %s at %s", text, d.codes,
              d.locs);
}

static void t_definitions(void)
{
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}", NULL, NULL);
    def("", "MISSING_DESCRIPTION", NULL);
    def("[1", "INVALID_JSON_DESCRIPTION", NULL);
    def("{\"States\":{}}", "SCHEMA_VALIDATION_FAILED", NULL);
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"}}}", "MISSING_TRANSITION_TARGET",
        "/States/A/Next");
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Parallel\",\"End\":true,\"Branches\":[{\"StartAt\":\"X\","
        "\"States\":{\"X\":{\"Type\":\"Pass\",\"Next\":\"A\"}}}]}}}",
        "MISSING_TRANSITION_TARGET", "/States/A/Branches[0]/States/X/Next");
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Map\",\"End\":true,\"ItemProcessor\":{\"StartAt\":\"X\","
        "\"States\":{\"X\":{\"Type\":\"Succeed\"}}}}}}",
        NULL, NULL);
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
        "\"NumericFoo\":1,\"Next\":\"A\"}]}}}",
        "SCHEMA_VALIDATION_FAILED", "/States/A/Choices[0]");
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Wait\",\"Seconds\":1,\"Timestamp\":\"x\",\"End\":true}}}",
        "SCHEMA_VALIDATION_FAILED", NULL);
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"lambda\",\"End\":true}}}",
        "INVALID_RESOURCE", "/States/A/Resource");
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
        "\"IsPresent\":true,\"Next\":\"A\"}]}}}",
        "MISSING_END_STATE", NULL);
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:x\",\"End\":true,"
        "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Z\"}]}}}",
        "MISSING_TRANSITION_TARGET", "/States/A/Catch[0]/Next");
    /* HeartbeatSeconds below TimeoutSeconds (or its default); a field and its Path exclusive. */
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:x\",\"End\":true,"
        "\"TimeoutSeconds\":10,\"HeartbeatSeconds\":5}}}",
        NULL, NULL);
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:x\",\"End\":true,"
        "\"TimeoutSeconds\":5,\"HeartbeatSeconds\":5}}}",
        "SCHEMA_VALIDATION_FAILED", "/States/A");
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:x\",\"End\":true,"
        "\"HeartbeatSeconds\":0}}}",
        "SCHEMA_VALIDATION_FAILED", "/States/A");
    def("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:lambda:x\",\"End\":true,"
        "\"TimeoutSeconds\":5,\"TimeoutSecondsPath\":\"$.t\"}}}",
        "SCHEMA_VALIDATION_FAILED", "/States/A");
    char msg[600];
    check(asl_validate_message("{\"StartAt\":\"A\",\"States\":{}}", msg, sizeof msg) > 0 &&
              !strncmp(msg, "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: ", 62),
          "message: %s", msg);
}

static void t_step(void)
{
    json_object *st = J("{\"Type\":\"Pass\",\"InputPath\":\"$.a\",\"Parameters\":{\"v.$\":\"$.b\"},"
                        "\"ResultPath\":\"$.r\",\"OutputPath\":\"$.r\",\"Next\":\"N\"}");
    json_object *in = J("{\"a\":{\"b\":5}}");
    asl_step s;
    asl_enter(st, in, NULL, 0, &s);
    check(s.kind == ASL_NEXT && !strcmp(s.next, "N") && same(s.output, "{\"v\":5}"), "pass");
    asl_step_clear(&s);
    json_object_put(st);
    st = J("{\"Type\":\"Wait\",\"Seconds\":3,\"End\":true}");
    asl_enter(st, in, NULL, 1000, &s);
    check(s.kind == ASL_WAIT && s.until_ms == 4000 && !s.next, "wait");
    asl_step_clear(&s);
    json_object_put(st);
    st = J("{\"Type\":\"Task\",\"Resource\":\"arn:x\",\"Parameters\":{\"p.$\":\"$.a.b\"},"
           "\"ResultSelector\":{\"r.$\":\"$.x\"},\"ResultPath\":\"$.out\",\"End\":true,"
           "\"Retry\":[{\"ErrorEquals\":[\"E1\"],\"IntervalSeconds\":2,\"MaxAttempts\":2,\"BackoffRate\":3}],"
           "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.err\",\"Next\":\"C\"}]}");
    asl_enter(st, in, NULL, 0, &s);
    check(s.kind == ASL_TASK && same(s.output, "{\"p\":5}"), "task input");
    asl_step_clear(&s);
    json_object *res = J("{\"x\":9,\"y\":0}");
    asl_finish(st, in, res, NULL, &s);
    check(s.kind == ASL_END && same(s.output, "{\"a\":{\"b\":5},\"out\":{\"r\":9}}"), "task finish");
    asl_step_clear(&s);
    json_object_put(res);
    json_object *att = json_object_new_array();
    asl_err e;
    asl_fail(&e, "E1", "c");
    int64_t d = 0;
    check(asl_on_error(st, in, &e, att, 0, &d, &s) == 1 && d == 2000, "retry 1 (%lld)", (long long)d);
    check(asl_on_error(st, in, &e, att, 0, &d, &s) == 1 && d == 6000, "retry 2 backoff (%lld)", (long long)d);
    check(asl_on_error(st, in, &e, att, 0, &d, &s) == 2 && !strcmp(s.next, "C") &&
              same(s.output, "{\"a\":{\"b\":5},\"err\":{\"Error\":\"E1\",\"Cause\":\"c\"}}"),
          "exhausted → catch");
    asl_step_clear(&s);
    asl_fail(&e, "States.Runtime", "x");
    check(asl_on_error(st, in, &e, att, 0, &d, &s) == 0 && s.kind == ASL_FAIL, "runtime not caught");
    json_object_put(att);
    json_object_put(st);
    st = J("{\"Type\":\"Fail\",\"Error\":\"E\",\"Cause\":\"C\"}");
    asl_enter(st, in, NULL, 0, &s);
    check(s.kind == ASL_FAIL && !strcmp(s.err.error, "E") && !strcmp(s.err.cause, "C"), "fail");
    json_object_put(st);
    json_object *ee = J("[\"States.TaskFailed\"]");
    check(asl_error_matches(ee, "Lambda.Unknown") && !asl_error_matches(ee, "States.Timeout"), "TaskFailed");
    json_object_put(ee);
    json_object_put(in);
}

static void rule(const char *r, const char *in, int want)
{
    json_object *jr = J(r), *ji = J(in);
    asl_err e = {{0}, {0}};
    int got = asl_choice_rule(jr, ji, NULL, &e);
    check(got == want, "%s on %s: %d want %d (%s)", r, in, got, want, e.cause);
    json_object_put(jr);
    json_object_put(ji);
}

static void t_choice(void)
{
    rule("{\"Variable\":\"$.s\",\"StringEquals\":\"a\"}", "{\"s\":\"a\"}", 1);
    rule("{\"Variable\":\"$.s\",\"StringGreaterThanEquals\":\"b\"}", "{\"s\":\"a\"}", 0);
    rule("{\"Variable\":\"$.s\",\"StringEqualsPath\":\"$.t\"}", "{\"s\":\"a\",\"t\":\"a\"}", 1);
    rule("{\"Variable\":\"$.n\",\"NumericLessThanEquals\":2.5}", "{\"n\":2}", 1);
    rule("{\"Variable\":\"$.n\",\"NumericEquals\":1}", "{\"n\":\"1\"}", 0);
    rule("{\"Variable\":\"$.b\",\"BooleanEqualsPath\":\"$.c\"}", "{\"b\":true,\"c\":true}", 1);
    rule("{\"Variable\":\"$.t\",\"TimestampLessThan\":\"2020-01-01T00:00:01Z\"}", "{\"t\":\"2020-01-01T00:00:00Z\"}", 1);
    rule("{\"Variable\":\"$.t\",\"TimestampEquals\":\"2020-01-01T01:00:00+01:00\"}", "{\"t\":\"2020-01-01T00:00:00Z\"}", 1);
    rule("{\"Variable\":\"$.s\",\"StringMatches\":\"a*c\\\\*\"}", "{\"s\":\"abbc*\"}", 1);
    rule("{\"Variable\":\"$.s\",\"StringMatches\":\"a*c\"}", "{\"s\":\"abd\"}", 0);
    rule("{\"Variable\":\"$.x\",\"IsPresent\":false}", "{}", 1);
    rule("{\"Variable\":\"$.x\",\"IsNull\":true}", "{\"x\":null}", 1);
    rule("{\"Variable\":\"$.x\",\"IsString\":true}", "{\"x\":1}", 0);
    rule("{\"Variable\":\"$.x\",\"IsTimestamp\":true}", "{\"x\":\"2020-01-01T00:00:00.123Z\"}", 1);
    rule("{\"Not\":{\"Variable\":\"$.x\",\"IsBoolean\":true}}", "{\"x\":1}", 1);
    rule("{\"Or\":[{\"Variable\":\"$.x\",\"NumericEquals\":1},{\"Variable\":\"$.x\",\"NumericEquals\":2}]}", "{\"x\":2}", 1);
    rule("{\"And\":[{\"Variable\":\"$.x\",\"NumericEquals\":1},{\"Variable\":\"$.x\",\"NumericEquals\":2}]}", "{\"x\":2}", 0);
    rule("{\"Variable\":\"$.x\",\"NumericEquals\":1}", "{}", -1);
    int64_t ms;
    check(asl_timestamp("1970-01-01T00:00:01.5Z", &ms) && ms == 1500, "timestamp");
    check(!asl_timestamp("2020-01-01", &ms) && !asl_timestamp("2020-01-01T00:00:00", &ms), "bad timestamps");
}

int main(void)
{
    t_paths();
    t_templates();
    t_intrinsics();
    t_definitions();
    t_step();
    t_choice();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
