/*
 * test_apigw_rest.c — unit test of the pure parts of API Gateway REST APIs
 * (src/services/apigateway/ar_map.c and ar.c's PatchOperation engine):
 * request template selection and passthrough behaviours, selection
 * patterns (Java class escapes, whole-subject matching, refused
 * patterns), MOCK status parsing, response parameter sources, and patch
 * operations on every value kind with AWS's error messages.
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/apigateway/ar_internal.h"

static int passed, failed;
#include "check.h"

static json_object *obj(const char *json) { return json_tokener_parse(json); }

static void pick(const char *tpls, const char *ct, const char *pb, ar_tpl_pick want,
                 const char *want_tpl)
{
    json_object *t = obj(tpls);
    const char *got = NULL;
    ar_tpl_pick p = ar_pick_request_template(t, ct, ct ? strlen(ct) : 0, pb, &got);
    check(p == want && (!want_tpl || (got && strcmp(got, want_tpl) == 0)),
          "template %s for %s under %s: got %d %s", tpls, ct ? ct : "(none)", pb ? pb : "(default)",
          (int)p, got ? got : "-");
    json_object_put(t);
}

static void select_ir(const char *responses, const char *subject, const char *want)
{
    json_object *rs = obj(responses);
    json_object *ir = ar_pick_integration_response(rs, subject);
    const char *got = ir ? nb_str(ir, "statusCode") : NULL;
    check(want ? got && strcmp(got, want) == 0 : got == NULL, "selection of '%s' in %s: got %s",
          subject, responses, got ? got : "none");
    json_object_put(rs);
}

static void patch(const char *doc, const char *ops, const char *want_doc, const char *want_err)
{
    static const ar_patch_path T[] = {
        {"/name", "name", AR_STR, AR_OP_REPLACE},
        {"/flag", "flag", AR_BOOL, AR_OP_REPLACE},
        {"/size", "size", AR_INT, AR_OP_REPLACE},
        {"/rate", "rate", AR_DOUBLE, AR_OP_REPLACE},
        {"/map/", "map", AR_MAP_STR, AR_OP_ADD | AR_OP_REMOVE | AR_OP_REPLACE},
        {"/bools/", "bools", AR_MAP_BOOL, AR_OP_ADD | AR_OP_REMOVE},
        {"/list/", "list", AR_LIST_STR, AR_OP_ADD | AR_OP_REMOVE},
        {NULL, NULL, AR_STR, 0},
    };
    nb_call call = {0};
    json_object *d = obj(doc), *o = obj(ops);
    bool ok = ar_patch(&call, d, o, T);
    if (want_err) {
        check(!ok && strstr(call.err.message, want_err) && !strcmp(call.err.code, "BadRequestException"),
              "patch %s: want error '%s', got %s '%s'", ops, want_err, ok ? "success" : call.err.code,
              call.err.message);
    } else {
        const char *got = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        check(ok && strcmp(got, want_doc) == 0, "patch %s: want %s, got %s (%s)", ops, want_doc, got,
              call.err.message);
    }
    json_object_put(d);
    json_object_put(o);
}

int main(void)
{
    /* request templates */
    const char *T = "{\"application/json\":\"J\",\"text/plain\":\"P\"}";
    pick(T, NULL, NULL, AR_TPL_OK, "J");
    pick(T, "text/plain; charset=utf-8", NULL, AR_TPL_OK, "P");
    pick(T, " Application/JSON ", "NEVER", AR_TPL_OK, "J");
    pick(T, "application/xml", NULL, AR_TPL_PASSTHROUGH, NULL);
    pick(T, "application/xml", "WHEN_NO_MATCH", AR_TPL_PASSTHROUGH, NULL);
    pick(T, "application/xml", "WHEN_NO_TEMPLATES", AR_TPL_UNSUPPORTED, NULL);
    pick(T, "application/xml", "NEVER", AR_TPL_UNSUPPORTED, NULL);
    pick("{}", "application/xml", "WHEN_NO_TEMPLATES", AR_TPL_PASSTHROUGH, NULL);
    pick("{}", "application/json", "NEVER", AR_TPL_UNSUPPORTED, NULL);

    /* selection patterns: whole subject, Java classes, the default */
    const char *R = "{\"200\":{\"statusCode\":\"200\"},\"400\":{\"statusCode\":\"400\","
                    "\"selectionPattern\":\"4\\\\d{2}\"},\"500\":{\"statusCode\":\"500\","
                    "\"selectionPattern\":\".*[Ee]rror.*\"}}";
    select_ir(R, "404", "400");
    select_ir(R, "4040", "200");
    select_ir(R, "200", "200");
    select_ir(R, "Internal Error: x", "500");
    select_ir("{\"400\":{\"statusCode\":\"400\",\"selectionPattern\":\"4..\"}}", "200", NULL);
    select_ir("{\"201\":{\"statusCode\":\"201\",\"selectionPattern\":\"\\\\w+\\\\s\\\\S+\"}}", "ab c", "201");
    select_ir("{\"201\":{\"statusCode\":\"201\",\"selectionPattern\":\"a+?b\"}}", "aab", "201");
    struct pcre2_real_code_8 *re;
    check(ar_regcomp("(", false) == NULL, "bad pattern refused");
    check(ar_regcomp("a{70000}", false) == NULL, "repetition beyond PCRE2's bound refused");
    if ((re = ar_regcomp("[\\d]x", false)) != NULL) {
        check(ar_regmatch(re, "7x"), "\\d inside brackets");
        ar_regfree(re);
    } else {
        check(false, "[\\d]x compiles");
    }
    /* catastrophic backtracking stops at the match limit: no match, no hang */
    if ((re = ar_regcomp("(a+)+$", true)) != NULL) {
        check(!ar_regmatch(re, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"), "backtracking bounded");
        ar_regfree(re);
    }
    select_ir("{\"500\":{\"statusCode\":\"500\",\"selectionPattern\":\"(?i)internal.*\"}}",
              "INTERNAL error", "500");
    ar_regex_cache_clear();

    /* MOCK status */
    check(ar_mock_status("{\"statusCode\": 404}", 19) == 404, "mock 404");
    check(ar_mock_status("{\"statusCode\": \"201\"}", 21) == 201, "mock string status");
    check(ar_mock_status("not json", 8) == 200, "mock default");
    check(ar_mock_status("{\"statusCode\": 99}", 18) == 200, "mock out of range");

    /* response parameter sources */
    json_object *ctx = obj("{\"request\":{\"path\":{\"id\":\"7\"},\"querystring\":{\"q\":\"v\"},"
                           "\"header\":{\"x-a\":\"h\"}},\"integration_headers\":{\"Etag\":\"e\"},"
                           "\"integration_body\":\"B\",\"stage\":{\"s\":\"sv\"},\"context\":{\"requestId\":\"r\"}}");
    char buf[64];
    static const char *const P[][2] = {
        {"'lit'", "lit"}, {"method.request.path.id", "7"}, {"method.request.querystring.q", "v"},
        {"method.request.header.X-A", "h"}, {"integration.response.header.etag", "e"},
        {"integration.response.body", "B"}, {"stageVariables.s", "sv"}, {"context.requestId", "r"},
    };
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        const char *v = ar_param_value(P[i][0], ctx, buf, sizeof buf);
        check(v && strcmp(v, P[i][1]) == 0, "param %s: got %s", P[i][0], v ? v : "null");
    }
    check(!ar_param_value("method.request.path.none", ctx, buf, sizeof buf), "unknown param");
    check(!ar_param_value("bogus", ctx, buf, sizeof buf), "unknown source");
    json_object_put(ctx);

    /* patch operations */
    patch("{\"name\":\"a\"}", "[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"b\"}]",
          "{\"name\":\"b\"}", NULL);
    patch("{}", "[{\"op\":\"replace\",\"path\":\"/flag\",\"value\":\"true\"},"
                "{\"op\":\"replace\",\"path\":\"/size\",\"value\":\"12\"}]",
          "{\"flag\":true,\"size\":12}", NULL);
    patch("{}", "[{\"op\":\"add\",\"path\":\"/map/a~1b\",\"value\":\"v\"},"
                "{\"op\":\"add\",\"path\":\"/map/c\",\"value\":\"w\"},"
                "{\"op\":\"remove\",\"path\":\"/map/c\"}]",
          "{\"map\":{\"a/b\":\"v\"}}", NULL);
    patch("{}", "[{\"op\":\"add\",\"path\":\"/bools/k\",\"value\":\"true\"},"
                "{\"op\":\"add\",\"path\":\"/list/x~0y\"},{\"op\":\"add\",\"path\":\"/list/z\"},"
                "{\"op\":\"remove\",\"path\":\"/list/z\"}]",
          "{\"bools\":{\"k\":true},\"list\":[\"x~y\"]}", NULL);
    patch("{}", "[{\"op\":\"replace\",\"path\":\"/nope\",\"value\":\"x\"}]", NULL,
          "Invalid patch path  '/nope' specified for op 'replace'. Must be one of: [/name, /flag, "
          "/size, /rate, /map/*, /bools/*, /list/*]");
    patch("{}", "[{\"op\":\"add\",\"path\":\"/name\",\"value\":\"x\"}]", NULL,
          "Invalid patch path  '/name' specified for op 'add'. Please choose supported operations");
    patch("{}", "[{\"op\":\"copy\",\"path\":\"/name\",\"from\":\"/x\"}]", NULL, "Please choose supported");
    patch("{}", "[{\"op\":\"replace\",\"path\":\"/flag\",\"value\":\"yes\"}]", NULL,
          "Invalid value for /flag: yes");
    patch("{}", "[{\"op\":\"replace\",\"path\":\"/size\",\"value\":\"12x\"}]", NULL,
          "Must be an integer");
    patch("{}", "[{\"op\":\"replace\",\"value\":\"x\"}]", NULL, "Invalid patch path");
    patch("{}", "[{\"op\":\"replace\",\"path\":\"/rate\",\"value\":\"2.5\"}]", "{\"rate\":2.5}", NULL);
    patch("{}", "[{\"op\":\"replace\",\"path\":\"/rate\",\"value\":\"fast\"}]", NULL,
          "Must be a number");

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
