/*
 * test_events_input.c — unit test of EventBridge target input
 * (src/services/events/events_input.c):
 *
 *   paths        $, members, indexes, wildcards, missing members, bad syntax
 *   templates    JSON-aware placeholders inside and outside strings, plain
 *                text, predefined variables, missing values, validation
 *                errors (unknown placeholders, invalid JSON, bad paths)
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/events/events_input.h"

static int passed, failed;
#include "check.h"

static const char *EVENT =
    "{\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"T\",\"source\":\"s\",\"account\":\"1\","
    "\"time\":\"2024-01-01T00:00:00Z\",\"region\":\"r\",\"resources\":[\"a\",\"b\"],"
    "\"detail\":{\"instance-id\":\"i-1\",\"state\":\"RUNNING\",\"n\":3,\"q\":\"say \\\"hi\\\"\","
    "\"list\":[{\"k\":1},{\"k\":2}],\"obj\":{\"x\":true}}}";

static void path(const char *p, const char *want)
{
    json_object *ev = json_tokener_parse(EVENT);
    json_object *v = ev_path_eval(ev, p);
    const char *got = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : NULL;
    if (want)
        check(got && !strcmp(got, want), "path %s: got %s want %s", p, got ? got : "(none)", want);
    else
        check(!v, "path %s: got %s, want nothing", p, got);
    json_object_put(v);
    json_object_put(ev);
}

static void test_paths(void)
{
    path("$.detail.state", "\"RUNNING\"");
    path("$.detail.instance-id", "\"i-1\"");
    path("$.resources[1]", "\"b\"");
    path("$.detail.list[0].k", "1");
    path("$.detail.list[*].k", "[1,2]");
    path("$.detail.obj", "{\"x\":true}");
    path("$.detail.nope", NULL);
    path("$.resources[9]", NULL);
    path("$.detail.state.deeper", NULL);
    check(ev_path_valid("$"), "$ valid");
    check(!ev_path_valid("detail"), "no $");
    check(!ev_path_valid("$."), "empty member");
    check(!ev_path_valid("$[x]"), "bad index");
    check(!ev_path_valid("$.a b"), "space");
    check(!ev_path_valid(NULL), "NULL");
}

static void apply(const char *paths, const char *tmpl, const char *want)
{
    json_object *pm = paths ? json_tokener_parse(paths) : NULL;
    char err[256];
    ev_transformer *t = ev_transformer_compile(pm, tmpl, "t1", err, sizeof err);
    if (check(t != NULL, "compile %s: %s", tmpl, t ? "" : err)) {
        json_object *ev = json_tokener_parse(EVENT);
        ev_context ctx = {"arn:aws:events:r:1:rule/x", "x", "2024-01-01T00:00:01Z"};
        size_t n;
        char *out = ev_transformer_apply(t, ev, &ctx, &n);
        check(!strcmp(out, want) && n == strlen(want), "%s: got %s want %s", tmpl, out, want);
        free(out);
        json_object_put(ev);
        ev_transformer_free(t);
    }
    json_object_put(pm);
}

static void bad(const char *paths, const char *tmpl, const char *want)
{
    json_object *pm = paths ? json_tokener_parse(paths) : NULL;
    char err[256];
    ev_transformer *t = ev_transformer_compile(pm, tmpl, "t1", err, sizeof err);
    check(t == NULL && strstr(err, want), "%s should fail with %s, got %s", tmpl, want, t ? "ok" : err);
    ev_transformer_free(t);
    json_object_put(pm);
}

static void test_templates(void)
{
    const char *pm = "{\"inst\":\"$.detail.instance-id\",\"st\":\"$.detail.state\",\"n\":\"$.detail.n\","
                     "\"q\":\"$.detail.q\",\"miss\":\"$.detail.none\",\"obj\":\"$.detail.obj\"}";
    apply(pm, "{\"i\": <inst>, \"s\": \"<st>\"}", "{\"i\": \"i-1\", \"s\": \"RUNNING\"}");
    apply(pm, "\"instance <inst> is in <st>\"", "\"instance i-1 is in RUNNING\"");
    apply(pm, "{\"m\": \"instance \\\"<inst>\\\" is <st>\"}", "{\"m\": \"instance \\\"i-1\\\" is RUNNING\"}");
    apply(pm, "{\"n\": <n>, \"ns\": \"<n>\", \"o\": <obj>}", "{\"n\": 3, \"ns\": \"3\", \"o\": {\"x\":true}}");
    apply(pm, "[9, <st>, true]", "[9, \"RUNNING\", true]");
    apply(pm, "{\"m\": <miss>, \"ms\": \"<miss>\"}", "{\"m\": null, \"ms\": \"\"}");
    apply(pm, "<inst> is in state <st>", "i-1 is in state RUNNING");
    apply(pm, "a < b, <st> > c", "a < b, RUNNING > c"); /* a lone < is text */
    bad(pm, "a <b>c</b>", "invalid placeholder b");
    apply(NULL, "{\"r\": <aws.events.rule-name>, \"a\": \"<aws.events.rule-arn>\", "
                "\"t\": <aws.events.event.ingestion-time>}",
          "{\"r\": \"x\", \"a\": \"arn:aws:events:r:1:rule/x\", \"t\": \"2024-01-01T00:00:01Z\"}");
    apply(NULL, "\"<aws.events.rule-name> triggered\"", "\"x triggered\"");
    apply("{\"r\":\"$.resources\"}", "{\"r\": <r>}", "{\"r\": [\"a\",\"b\"]}");
    /* the whole event and the event without detail */
    json_object *ev = json_tokener_parse(EVENT);
    char err[256];
    ev_transformer *t = ev_transformer_compile(NULL, "{\"e\": <aws.events.event.json>, \"h\": <aws.events.event>}",
                                               "t1", err, sizeof err);
    if (check(t != NULL, "compile event vars: %s", err)) {
        size_t n;
        char *out = ev_transformer_apply(t, ev, NULL, &n);
        json_object *o = json_tokener_parse(out);
        json_object *e, *h, *d;
        check(o && json_object_object_get_ex(o, "e", &e) && json_object_object_get_ex(e, "detail", &d),
              "event.json has detail: %s", out);
        check(o && json_object_object_get_ex(o, "h", &h) && !json_object_object_get_ex(h, "detail", &d) &&
                  json_object_object_get_ex(h, "id", &d) && json_object_object_get_ex(h, "detailType", &d) &&
                  !json_object_object_get_ex(h, "detail-type", &d),
              "event has no detail and names detailType: %s", out);
        json_object_put(o);
        free(out);
        ev_transformer_free(t);
    }
    json_object_put(ev);
    /* errors */
    bad(pm, "{\"a\": <nope>}", "InputTemplate for target t1 contains invalid placeholder nope.");
    bad(pm, "{\"a\": <inst>", "not valid JSON");
    bad(pm, "{<inst>: 1}", "not valid JSON");
    bad("{\"x\":\"bad\"}", "<x>", "invalid JSON path for key x");
    bad("{\"a.b\":\"$.x\"}", "<a.b>", "invalid key");
    bad("{\"x\":5}", "<x>", "invalid JSON path");
    bad(NULL, NULL, "InputTemplate");
}

int main(void)
{
    test_paths();
    test_templates();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
