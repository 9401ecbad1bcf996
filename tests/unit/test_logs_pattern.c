/*
 * test_logs_pattern.c — unit test of CloudWatch Logs filter patterns
 * (src/services/logs/logs_pattern.c):
 *
 *   terms        substrings, quoted phrases, -exclusion, ?alternatives,
 *                %regex% (translation of \d \w \s \xHH, AWS's characters)
 *   JSON         selectors (members, array indexes), = != < <= > >=,
 *                wildcards, IS TRUE/FALSE/NULL, NOT EXISTS, && || ( ),
 *                non-JSON messages
 *   delimited    field splitting ("quoted", [bracketed]), ellipses,
 *                conditions with && ||, extracted values
 *   errors       the texts of bad patterns
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/logs/logs_pattern.h"

static int passed, failed;
#include "check.h"

static void match(const char *pat, const char *msg, bool want)
{
    char err[LOGS_PAT_ERRMAX];
    logs_pattern *p = logs_pattern_compile(pat, strlen(pat), err, sizeof err);
    if (!check(p != NULL, "compile %s: %s", pat, p ? "" : err))
        return;
    bool got = logs_pattern_match(p, msg, strlen(msg));
    check(got == want, "%s on %s: got %d", pat, msg, got);
    logs_pattern_free(p);
}

static void bad(const char *pat, const char *want)
{
    char err[LOGS_PAT_ERRMAX];
    logs_pattern *p = logs_pattern_compile(pat, strlen(pat), err, sizeof err);
    if (!check(p == NULL, "should not compile: %s", pat)) {
        logs_pattern_free(p);
        return;
    }
    if (want)
        check(strstr(err, want) != NULL, "error for %s: got '%s', want '%s'", pat, err, want);
}

static void extract(const char *pat, const char *msg, const char *want)
{
    char err[LOGS_PAT_ERRMAX];
    logs_pattern *p = logs_pattern_compile(pat, strlen(pat), err, sizeof err);
    if (!check(p != NULL, "compile %s: %s", pat, err))
        return;
    json_object *ex = NULL;
    bool ok = logs_pattern_extract(p, msg, strlen(msg), &ex);
    if (want) {
        json_object *w = json_tokener_parse(want);
        check(ok && ex && json_object_equal(ex, w), "extract %s: got %s", pat,
              ex ? json_object_to_json_string(ex) : "(none)");
        json_object_put(w);
    } else {
        check(!ok && !ex, "extract %s should not match", pat);
    }
    json_object_put(ex);
    logs_pattern_free(p);
}

static void test_terms(void)
{
    match("", "anything", true);
    match("   ", "anything", true);
    match("ERROR", "[ERROR 400] BAD REQUEST", true);
    match("ERROR", "[error 400]", false);              /* case-sensitive */
    match("ERR", "ERROR", true);                       /* substring */
    match("ERROR 400", "[ERROR 400] BAD", true);
    match("ERROR 401", "[ERROR 400] BAD", false);
    match("\"BAD REQUEST\"", "[ERROR 400] BAD REQUEST", true);
    match("\"BAD  REQUEST\"", "[ERROR 400] BAD REQUEST", false);
    match("\"say \\\"hi\\\"\"", "they say \"hi\" loudly", true);
    match("ERROR -400", "[ERROR 400]", false);
    match("ERROR -400", "[ERROR 500]", true);
    match("?ERROR ?WARN", "WARN low disk", true);
    match("?ERROR ?WARN", "INFO fine", false);
    match("disk ?ERROR ?WARN", "WARN low disk", true);
    match("disk ?ERROR ?WARN", "WARN low memory", false);
    match("%ERR[O]R%", "an ERROR here", true);
    match("%^ERROR%", "an ERROR here", false);
    match("%^an%", "an ERROR here", true);
    match("%\\d{3}%", "code 404", true);
    match("%\\d{3}%", "code 44", false);
    match("%a\\x28b%", "xa(by", true);
    match("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", true);
    match("-%^DEBUG%", "DEBUG x", false);
    match("-%^DEBUG%", "INFO x", true);
    match("ERROR", "", false);
}

static const char *J = "{\"eventType\": \"UpdateTrail\", \"user\": {\"id\": 2, \"name\": \"ann\", \"tags\": [\"x\", 5]},"
                       " \"latency\": 150.5, \"ok\": true, \"no\": false, \"gone\": null, \"ip\": \"123.123.1.7\","
                       " \"big\": 1e3, \"neg\": -4}";

static void test_json(void)
{
    match("{ $.eventType = \"UpdateTrail\" }", J, true);
    match("{$.eventType=\"UpdateTrail\"}", J, true);
    match("{ $.eventType = UpdateTrail }", J, true);
    match("{ $.eventType = \"Update*\" }", J, true);
    match("{ $.eventType = \"*Trail\" }", J, true);
    match("{ $.eventType = \"Create*\" }", J, false);
    match("{ $.eventType != \"CreateTrail\" }", J, true);
    match("{ $.eventType != \"UpdateTrail\" }", J, false);
    match("{ $.missing != \"x\" }", J, false);
    match("{ $.ip = 123.123.* }", J, true);
    match("{ $.ip != 123.123.* }", J, false);
    match("{ $.user.id = 2 }", J, true);
    match("{ $.user.id = 2.0 }", J, true);
    match("{ $.user.id != 2 }", J, false);
    match("{ $.user.id > 1 }", J, true);
    match("{ $.user.id >= 2 }", J, true);
    match("{ $.user.id < 2 }", J, false);
    match("{ $.user.id <= 2 }", J, true);
    match("{ $.latency > 150 }", J, true);
    match("{ $.big = 1000 }", J, true);
    match("{ $.neg < -3 }", J, true);
    match("{ $.user.name = ann }", J, true);
    match("{ $.user.tags[0] = x }", J, true);
    match("{ $.user.tags[1] = 5 }", J, true);
    match("{ $.user.tags[2] = 5 }", J, false);
    match("{ $.user.tags[2] NOT EXISTS }", J, true);
    match("{ $.ok IS TRUE }", J, true);
    match("{ $.ok IS FALSE }", J, false);
    match("{ $.no IS FALSE }", J, true);
    match("{ $.gone IS NULL }", J, true);
    match("{ $.ok IS NULL }", J, false);
    match("{ $.nothere NOT EXISTS }", J, true);
    match("{ $.gone NOT EXISTS }", J, false);
    match("{ $.nothere IS NULL }", J, false);
    match("{ $.user.id = 2 && $.ok IS TRUE }", J, true);
    match("{ $.user.id = 3 && $.ok IS TRUE }", J, false);
    match("{ $.user.id = 3 || $.ok IS TRUE }", J, true);
    match("{ ($.user.id = 3 || $.user.id = 2) && $.latency > 100 }", J, true);
    match("{ $.user.id = 3 || $.user.id = 2 && $.latency > 1000 }", J, false);   /* && binds tighter */
    match("{ (($.user.id = 2)) }", J, true);
    match("{ $.eventType = %Up.*Trail% }", J, true);
    match("{ $.eventType = %^Trail% }", J, false);
    match("{ $.user = \"x\" }", J, false);            /* an object is not a string */
    match("{ $.eventType = \"UpdateTrail\" }", "not json", false);
    match("{ $.eventType = \"UpdateTrail\" }", "{\"eventType\": \"UpdateTrail\"", false);
    match("{ $.eventType = \"UpdateTrail\" }", "{\"eventType\": \"UpdateTrail\"} trailing", false);
    match("{ $[0].a = 1 }", "[{\"a\": 1}]", true);
}

static const char *A = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";

static void test_delimited(void)
{
    match("[ip, user, username, timestamp, request, status_code, bytes]", A, true);
    match("[ip, user, username, timestamp, request, status_code]", A, false);      /* field count */
    match("[ip, user, username, timestamp, request, status_code, bytes, more]", A, false);
    match("[ip, user, username, timestamp, request, status_code = 200, bytes]", A, true);
    match("[ip, user, username, timestamp, request, status_code = 2*, bytes]", A, true);
    match("[ip, user, username, timestamp, request, status_code = 4*, bytes]", A, false);
    match("[ip, user, username, timestamp, request, status_code != 404, bytes > 1000]", A, true);
    match("[ip, user, username, timestamp, request, status_code, bytes < 1000]", A, false);
    match("[..., status_code = 200, bytes]", A, true);
    match("[ip = 127.0.0.1, ...]", A, true);
    match("[ip = 10.*, ...]", A, false);
    match("[ip, ..., bytes = 2326]", A, true);
    match("[..., request = \"GET /apache_pb.gif HTTP/1.0\", ...]", A, true);
    match("[..., request = *gif*, ...]", A, true);
    match("[..., timestamp = 10/Oct/2000*, ...]", A, true);
    match("[ip, ..., status_code = 404 || status_code = 200, bytes]", A, true);
    match("[ip, ..., status_code = 404 || status_code = 500, bytes]", A, false);
    match("[ip, ..., status_code = 200 && bytes > 2000, bytes]", A, true);
    match("[ip, ..., status_code = 200 && bytes > 3000, bytes]", A, false);
    match("[ip, ..., status_code = %^2\\d\\d$%, bytes]", A, true);
    match("[a]", "one", true);
    match("[a]", "", false);
    match("[...]", "", true);
    match("[a, b]", "one   two", true);                 /* runs of spaces are one separator */
    match("[a > 5]", "abc", false);                      /* non-numeric field */
    extract("[ip, user, username, timestamp, request, status_code, bytes]", A,
            "{\"$ip\": \"127.0.0.1\", \"$user\": \"-\", \"$username\": \"frank\","
            " \"$timestamp\": \"10/Oct/2000:13:55:36 -0700\", \"$request\": \"GET /apache_pb.gif HTTP/1.0\","
            " \"$status_code\": \"200\", \"$bytes\": \"2326\"}");
    extract("[..., code, n]", A, "{\"$code\": \"200\", \"$n\": \"2326\"}");
    extract("ERROR", "an ERROR", "{}");
    extract("ERROR", "fine", NULL);
    extract("{ $.a = 1 }", "{\"a\": 1}", "{}");
}

static void test_errors(void)
{
    bad("\"\"", "Invalid character(s) in term '\"\"'");
    bad("{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'");
    bad("[a, b", "If a filter pattern starts with '[' it must end with ']'");
    bad("{ }", NULL);
    bad("{ a = 1 }", "Invalid selector");
    bad("{ $. = 1 }", "Invalid selector");
    bad("{ $.a[x] = 1 }", "Invalid selector");
    bad("{ $.a > abc }", "numeric");
    bad("{ $.a = }", NULL);
    bad("{ $.a = 1 && }", NULL);
    bad("{ $.a = 1 $.b = 2 }", NULL);
    bad("{ ($.a = 1 }", NULL);
    bad("{ $.a IS MAYBE }", NULL);
    bad("{ $.a NOT THERE }", NULL);
    bad("[a, b = ]", NULL);
    bad("[a, c = 1 && zz = 2]", "Unknown field 'zz'");
    bad("[]", NULL);
    bad("[a,,b]", NULL);
    bad("%a(b)%", "Invalid character(s) in term");
    bad("%a!%", "Invalid character(s) in term");
    bad("%%", NULL);
    bad("%abc", NULL);
    bad("%a% %b% %c%", "at most 2 regular expressions");
    bad("\"open", "Unterminated");
    bad("foo(bar)", "Invalid character(s) in term 'foo(bar)'");
    bad("\"a\"b", NULL);
    bad("caf\xc3\xa9", "Invalid character(s)");
    /* Deep nesting is refused, not recursed into without bound. */
    char deep[400];
    size_t o = 0;
    deep[o++] = '{';
    for (int i = 0; i < 100; i++)
        deep[o++] = '(';
    memcpy(deep + o, "$.a = 1", 7);
    o += 7;
    for (int i = 0; i < 100; i++)
        deep[o++] = ')';
    deep[o++] = '}';
    deep[o] = 0;
    bad(deep, "nested");
}

int main(void)
{
    test_terms();
    test_json();
    test_delimited();
    test_errors();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
