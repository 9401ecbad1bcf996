/*
 * test_pattern.c — unit test of the event-pattern engine (src/core/pattern.c):
 *
 *   EventBridge   the user guide's examples (event patterns, null and empty
 *                 values, arrays, content filtering: prefix, suffix,
 *                 equals-ignore-case, anything-but of every kind, numeric,
 *                 cidr, exists, wildcard, $or) with matching and
 *                 non-matching events
 *   SNS           the developer guide's attribute and body examples
 *                 (String, String.Array, Number, Binary ignored, exists,
 *                 the Publish input form), limits (5 keys, 150
 *                 combinations, numeric range) and nesting rules
 *   Lambda        the developer guide's Kinesis, SQS and DynamoDB examples,
 *                 the operators pipes do not support, the body check
 *   errors        invalid patterns rejected with AWS's messages
 *   cost          compile and match times for a typical rule (printed, not
 *                 asserted)
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pattern.h"

static int passed, failed;

#include "check.h"

static const char *dname(nb_pattern_dialect d)
{
    switch (d) {
    case NB_PAT_EVENTBRIDGE: return "eventbridge";
    case NB_PAT_SNS_ATTRIBUTES: return "sns-attributes";
    case NB_PAT_SNS_BODY: return "sns-body";
    default: return "lambda";
    }
}

/* One (pattern, event, expected) row; event NULL means "no event" (an empty
 * object). */
static void row(nb_pattern_dialect d, const char *pattern, const char *event, bool want)
{
    char err[512];
    nb_pattern *p = nb_pattern_compile(pattern, strlen(pattern), d, err, sizeof err);
    if (!check(p != NULL, "%s compile %s: %s", dname(d), pattern, err))
        return;
    json_object *ev = event ? json_tokener_parse(event) : NULL;
    if (event && !ev) {
        check(false, "bad test event %s", event);
        nb_pattern_free(p);
        return;
    }
    bool got = nb_pattern_match(p, ev);
    check(got == want, "%s %s on %s: want %s", dname(d), pattern, event ? event : "(none)",
          want ? "match" : "no match");
    json_object_put(ev);
    nb_pattern_free(p);
}

#define EB(p, e, w) row(NB_PAT_EVENTBRIDGE, p, e, w)
#define SNSA(p, e, w) row(NB_PAT_SNS_ATTRIBUTES, p, e, w)
#define SNSB(p, e, w) row(NB_PAT_SNS_BODY, p, e, w)
#define LAM(p, e, w) row(NB_PAT_LAMBDA, p, e, w)

/* A pattern that must not compile, with the exact message. */
static void bad(nb_pattern_dialect d, const char *pattern, const char *want)
{
    char err[512] = "unset";
    nb_pattern *p = nb_pattern_compile(pattern, strlen(pattern), d, err, sizeof err);
    if (!check(p == NULL, "%s %s rejected", dname(d), pattern)) {
        nb_pattern_free(p);
        return;
    }
    if (!check(strcmp(err, want) == 0, "%s %s message", dname(d), pattern))
        printf("  got:  %s\n  want: %s\n", err, want);
}

#define EBR "Event pattern is not valid. Reason: "
#define SNSR "Invalid parameter: FilterPolicy: "
#define LAMR "Invalid filter pattern definition. Reason: "

/* ---- EventBridge ---------------------------------------------------------- */

static const char *EC2 =
    "{\"version\":\"0\",\"id\":\"6a7e8feb-b491-4cf7-a9f1-bf3703467718\","
    "\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
    "\"account\":\"111122223333\",\"time\":\"2017-12-22T18:43:48Z\",\"region\":\"us-west-1\","
    "\"resources\":[\"arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0\"],"
    "\"detail\":{\"instance-id\":\"i-1234567890abcdef0\",\"state\":\"terminated\"}}";

static const char *ASG =
    "{\"version\":\"0\",\"id\":\"3e3c153a-8339-4e30-8c35-687ebef853fe\","
    "\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\","
    "\"account\":\"123456789012\",\"time\":\"2015-11-11T21:31:47Z\",\"region\":\"us-east-1\","
    "\"resources\":[],\"detail\":{\"eventVersion\":\"\",\"responseElements\":null}}";

static void test_eb_basics(void)
{
    /* Event patterns: exact values, AND of fields, nesting. */
    const char *term = "{\"source\":[\"aws.ec2\"],\"detail-type\":[\"EC2 Instance State-change "
                       "Notification\"],\"detail\":{\"state\":[\"terminated\"]}}";
    EB(term, EC2, true);
    EB(term, "{\"source\":\"aws.ec2\",\"detail-type\":\"EC2 Instance State-change Notification\","
             "\"detail\":{\"state\":\"running\"}}", false);
    EB(term, "{\"source\":\"aws.ec2\",\"detail\":{\"state\":\"terminated\"}}", false);
    EB("{\"source\":[\"aws.ec2\",\"aws.fargate\"]}", "{\"source\":\"aws.fargate\"}", true);
    EB("{\"source\":[\"aws.ec2\",\"aws.fargate\"]}", "{\"source\":\"aws.s3\"}", false);
    /* Field matching on null and empty strings: not interchangeable. */
    EB("{\"source\":[\"aws.autoscaling\"],\"detail-type\":[\"EC2 Instance Launch Successful\"],"
       "\"detail\":{\"responseElements\":[null]}}", ASG, true);
    EB("{\"detail\":{\"eventVersion\":[\"\"]}}", ASG, true);
    EB("{\"detail\":{\"eventVersion\":[null]}}", ASG, false);
    EB("{\"detail\":{\"responseElements\":[\"\"]}}", ASG, false);
    /* Value matching (Macie): numbers at two levels. */
    const char *macie = "{\"source\":\"aws.macie\",\"detail-type\":\"Macie Alert\",\"detail\":"
                        "{\"risk-score\":80,\"tags\":[\"Custom_Alert\",\"Insider\"],"
                        "\"trigger\":{\"alert-type\":\"basic\",\"risk\":8}}}";
    const char *mp = "{\"source\":[\"aws.macie\"],\"detail-type\":[\"Macie Alert\"],"
                     "\"detail\":{\"risk-score\":[80],\"trigger\":{\"risk\":[8]}}}";
    EB(mp, macie, true);
    EB("{\"detail\":{\"risk-score\":[81]}}", macie, false);
    EB("{\"detail\":{\"tags\":[\"Insider\"]}}", macie, true);
    /* Arrays: the intersection of the pattern and event arrays. */
    const char *res = "{\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f\","
                      "\"arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f\","
                      "\"arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f\"]}";
    EB(res, "{\"resources\":[\"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b"
            "-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate\","
            "\"arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f\"]}", true);
    EB(res, "{\"resources\":[\"arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f\"]}", false);
    EB(res, "{\"resources\":[]}", false);
    /* Arrays of objects on the path. */
    EB("{\"detail\":{\"items\":{\"name\":[\"x\"]}}}",
       "{\"detail\":{\"items\":[{\"name\":\"y\"},{\"name\":\"x\"}]}}", true);
    EB("{\"detail\":{\"items\":{\"name\":[\"z\"]}}}",
       "{\"detail\":{\"items\":[{\"name\":\"y\"},{\"name\":\"x\"}]}}", false);
    /* Types: "1" and 1 differ; numbers compare numerically. */
    EB("{\"a\":[1]}", "{\"a\":\"1\"}", false);
    EB("{\"a\":[\"1\"]}", "{\"a\":1}", false);
    EB("{\"a\":[300]}", "{\"a\":300.0}", true);
    EB("{\"a\":[3.0e2]}", "{\"a\":300}", true);
    EB("{\"a\":[true]}", "{\"a\":true}", true);
    EB("{\"a\":[true]}", "{\"a\":\"true\"}", false);
    EB("{\"a\":[false]}", "{\"a\":true}", false);
    EB("{\"a\":[null]}", "{}", false);
    /* A pattern field on an object value: objects are not leaves. */
    EB("{\"detail\":[\"x\"]}", "{\"detail\":{\"x\":1}}", false);
    /* Duplicate keys: the last one is used. */
    EB("{\"detail\":{\"location\":[{\"prefix\":\"us-\"}],\"location\":[{\"anything-but\":"
       "\"us-east\"}]}}", "{\"detail\":{\"location\":\"eu-west\"}}", true);
    /* The empty pattern matches everything. */
    EB("{}", EC2, true);
    EB("{}", NULL, true);
}

static void test_eb_strings(void)
{
    EB("{\"time\":[{\"prefix\":\"2017-10-02\"}]}", "{\"time\":\"2017-10-02T18:43:48Z\"}", true);
    EB("{\"time\":[{\"prefix\":\"2017-10-02\"}]}", "{\"time\":\"2017-10-03T18:43:48Z\"}", false);
    EB("{\"a\":[{\"prefix\":\"1\"}]}", "{\"a\":123}", false);
    EB("{\"source\":[\"aws.autoscaling\"],\"region\":[{\"prefix\":\"eu-\"}]}",
       "{\"source\":\"aws.autoscaling\",\"region\":\"eu-west-1\"}", true);
    const char *pci = "{\"detail\":{\"service\":[{\"prefix\":{\"equals-ignore-case\":\"EventB\"}}]}}";
    EB(pci, "{\"detail\":{\"service\":\"eventbridge\"}}", true);
    EB(pci, "{\"detail\":{\"service\":\"EVENTBUS\"}}", true);
    EB(pci, "{\"detail\":{\"service\":\"sns\"}}", false);
    EB("{\"FileName\":[{\"suffix\":\".png\"}]}", "{\"FileName\":\"image.png\"}", true);
    EB("{\"FileName\":[{\"suffix\":\".png\"}]}", "{\"FileName\":\"image.PNG\"}", false);
    const char *sci = "{\"detail\":{\"FileName\":[{\"suffix\":{\"equals-ignore-case\":\".png\"}}]}}";
    EB(sci, "{\"detail\":{\"FileName\":\"A.PNG\"}}", true);
    EB(sci, "{\"detail\":{\"FileName\":\"a.jpg\"}}", false);
    EB("{\"Name\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"Name\":\"ALICE\"}", true);
    EB("{\"Name\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"Name\":\"Alicia\"}", false);
    EB("{\"LastName\":[\"\"]}", "{\"LastName\":\"\"}", true);
    /* Wildcards. */
    const char *w = "{\"EventBusArn\":[{\"wildcard\":\"arn:aws:events:us-east-1:*:event-bus/*\"}]}";
    EB(w, "{\"EventBusArn\":\"arn:aws:events:us-east-1:123456789012:event-bus/default\"}", true);
    EB(w, "{\"EventBusArn\":\"arn:aws:events:us-west-2:123456789012:event-bus/default\"}", false);
    EB("{\"f\":[{\"wildcard\":\"dir/*.png\"}]}", "{\"f\":\"dir/a.png\"}", true);
    EB("{\"f\":[{\"wildcard\":\"dir/*.png\"}]}", "{\"f\":\"dir/.png\"}", true);
    EB("{\"f\":[{\"wildcard\":\"dir/*.png\"}]}", "{\"f\":\"dir/a.jpg\"}", false);
    EB("{\"f\":[{\"wildcard\":\"*\"}]}", "{\"f\":\"\"}", true);
    EB("{\"f\":[{\"wildcard\":\"*\"}]}", "{\"f\":5}", false);
    EB("{\"f\":[{\"wildcard\":\"a*b*a\"}]}", "{\"f\":\"aba\"}", true);
    EB("{\"f\":[{\"wildcard\":\"a*b*a\"}]}", "{\"f\":\"ab\"}", false);
    EB("{\"f\":[{\"wildcard\":\"*ab*ab*\"}]}", "{\"f\":\"xabyab\"}", true);
    EB("{\"f\":[{\"wildcard\":\"*ab*ab*\"}]}", "{\"f\":\"xaby\"}", false);
    EB("{\"f\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"f\":\"a*b\"}", true);
    EB("{\"f\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"f\":\"axb\"}", false);
    EB("{\"f\":[{\"wildcard\":\"a\\\\\\\\*\"}]}", "{\"f\":\"a\\\\bc\"}", true);
    EB("{\"f\":[{\"wildcard\":\"exact\"}]}", "{\"f\":\"exact\"}", true);
    EB("{\"f\":[{\"wildcard\":\"exact\"}]}", "{\"f\":\"exactly\"}", false);
}

static void test_eb_anything_but(void)
{
    const char *ab = "{\"detail\":{\"state\":[{\"anything-but\":\"initializing\"}]}}";
    EB(ab, "{\"detail\":{\"state\":\"running\"}}", true);
    EB(ab, "{\"detail\":{\"state\":\"initializing\"}}", false);
    EB(ab, "{\"detail\":{}}", false);
    EB(ab, "{\"detail\":{\"state\":[\"initializing\",\"running\"]}}", true);
    const char *n = "{\"detail\":{\"x-limit\":[{\"anything-but\":123}]}}";
    EB(n, "{\"detail\":{\"x-limit\":124}}", true);
    EB(n, "{\"detail\":{\"x-limit\":123}}", false);
    EB(n, "{\"detail\":{\"x-limit\":123.0}}", false);
    const char *ls = "{\"detail\":{\"state\":[{\"anything-but\":[\"stopped\",\"overloaded\"]}]}}";
    EB(ls, "{\"detail\":{\"state\":\"running\"}}", true);
    EB(ls, "{\"detail\":{\"state\":\"overloaded\"}}", false);
    const char *ln = "{\"detail\":{\"x-limit\":[{\"anything-but\":[100,200,300]}]}}";
    EB(ln, "{\"detail\":{\"x-limit\":150}}", true);
    EB(ln, "{\"detail\":{\"x-limit\":200}}", false);
    EB("{\"source\":[{\"anything-but\":[\"aws.ec2\",\"aws.s3\"]}]}", EC2, false);
    EB("{\"source\":[{\"anything-but\":[\"aws.ec2\",\"aws.s3\"]}]}", ASG, true);
    const char *pre = "{\"detail\":{\"state\":[{\"anything-but\":{\"prefix\":\"init\"}}]}}";
    EB(pre, "{\"detail\":{\"state\":\"running\"}}", true);
    EB(pre, "{\"detail\":{\"state\":\"initializing\"}}", false);
    EB("{\"source\":[{\"anything-but\":{\"prefix\":\"aws.\"}}]}", "{\"source\":\"my.app\"}", true);
    EB("{\"source\":[{\"anything-but\":{\"prefix\":\"aws.\"}}]}", EC2, false);
    const char *suf = "{\"FileName\":[{\"anything-but\":{\"suffix\":\".png\"}}]}";
    EB(suf, "{\"FileName\":\"a.jpg\"}", true);
    EB(suf, "{\"FileName\":\"a.png\"}", false);
    const char *ci = "{\"state\":[{\"anything-but\":{\"equals-ignore-case\":\"initializing\"}}]}";
    EB(ci, "{\"state\":\"INITIALIZING\"}", false);
    EB(ci, "{\"state\":\"running\"}", true);
    const char *cil = "{\"state\":[{\"anything-but\":{\"equals-ignore-case\":[\"a\",\"B\"]}}]}";
    EB(cil, "{\"state\":\"b\"}", false);
    EB(cil, "{\"state\":\"c\"}", true);
    const char *wc = "{\"FilePath\":[{\"anything-but\":{\"wildcard\":\"*/lib/*\"}}]}";
    EB(wc, "{\"FilePath\":\"/usr/lib/libc.so\"}", false);
    EB(wc, "{\"FilePath\":\"/usr/bin/ls\"}", true);
    const char *wcl = "{\"f\":[{\"anything-but\":{\"wildcard\":[\"*.png\",\"*.jpg\"]}}]}";
    EB(wcl, "{\"f\":\"a.jpg\"}", false);
    EB(wcl, "{\"f\":\"a.gif\"}", true);
}

static void test_eb_numeric_ip_exists(void)
{
    const char *num = "{\"detail\":{\"c-count\":[{\"numeric\":[\">\",0,\"<=\",5]}],"
                      "\"d-count\":[{\"numeric\":[\"<\",10]}],"
                      "\"x-limit\":[{\"numeric\":[\"=\",3.018e2]}]}}";
    EB(num, "{\"detail\":{\"c-count\":5,\"d-count\":9,\"x-limit\":301.8}}", true);
    EB(num, "{\"detail\":{\"c-count\":0,\"d-count\":9,\"x-limit\":301.8}}", false);
    EB(num, "{\"detail\":{\"c-count\":5.5,\"d-count\":9,\"x-limit\":301.8}}", false);
    EB(num, "{\"detail\":{\"c-count\":1,\"d-count\":10,\"x-limit\":301.8}}", false);
    EB(num, "{\"detail\":{\"c-count\":1,\"d-count\":-3,\"x-limit\":301.9}}", false);
    EB(num, "{\"detail\":{\"c-count\":\"3\",\"d-count\":9,\"x-limit\":301.8}}", false);
    EB("{\"a\":[{\"numeric\":[\">=\",10,\"<\",20]}]}", "{\"a\":10}", true);
    EB("{\"a\":[{\"numeric\":[\"<\",20,\">=\",10]}]}", "{\"a\":20}", false);
    EB("{\"a\":[{\"numeric\":[\">\",-1e9]}]}", "{\"a\":-5}", true);
    /* IP addresses, IPv4 and IPv6. */
    const char *ip = "{\"detail\":{\"sourceIPAddress\":[{\"cidr\":\"10.0.0.0/24\"}]}}";
    EB(ip, "{\"detail\":{\"sourceIPAddress\":\"10.0.0.255\"}}", true);
    EB(ip, "{\"detail\":{\"sourceIPAddress\":\"10.0.0.0\"}}", true);
    EB(ip, "{\"detail\":{\"sourceIPAddress\":\"10.0.1.0\"}}", false);
    EB(ip, "{\"detail\":{\"sourceIPAddress\":\"not an ip\"}}", false);
    EB(ip, "{\"detail\":{\"sourceIPAddress\":\"::ffff:10.0.0.1\"}}", false);
    const char *ip6 = "{\"ip\":[{\"cidr\":\"2001:db8::/32\"}]}";
    EB(ip6, "{\"ip\":\"2001:db8::1\"}", true);
    EB(ip6, "{\"ip\":\"2001:0db8:ffff::1\"}", true);
    EB(ip6, "{\"ip\":\"2001:db9::1\"}", false);
    EB(ip6, "{\"ip\":\"10.0.0.1\"}", false);
    EB("{\"ip\":[{\"cidr\":\"10.1.2.3/20\"}]}", "{\"ip\":\"10.1.15.254\"}", true);
    EB("{\"ip\":[{\"cidr\":\"10.1.2.3/20\"}]}", "{\"ip\":\"10.1.16.0\"}", false);
    EB("{\"ip\":[{\"cidr\":\"0.0.0.0/0\"}]}", "{\"ip\":\"1.2.3.4\"}", true);
    EB("{\"ip\":[{\"cidr\":\"1.2.3.4/32\"}]}", "{\"ip\":\"1.2.3.4\"}", true);
    EB("{\"ip\":[{\"cidr\":\"1.2.3.4/32\"}]}", "{\"ip\":\"1.2.3.5\"}", false);
    /* Exists: leaves only; objects and empty arrays do not count. */
    const char *ex = "{\"detail\":{\"state\":[{\"exists\":true}]}}";
    EB(ex, "{\"detail\":{\"instance-id\":\"i-abcd1111\",\"state\":\"pending\"}}", true);
    EB(ex, "{\"detail\":{\"c-count\":{\"c1\":100}}}", false);
    EB(ex, "{\"detail\":{\"state\":null}}", true);
    EB(ex, "{\"detail\":{\"state\":{\"x\":1}}}", false);
    const char *nx = "{\"detail\":{\"c-count\":[{\"exists\":false}]}}";
    EB(nx, "{\"detail\":{\"state\":[\"initializing\",\"running\"]}}", true);
    EB(nx, "{\"detail\":{\"state\":\"x\",\"c-count\":{\"c1\":100}}}", true);
    EB(nx, "{\"detail\":{\"c-count\":3}}", false);
    EB(nx, "{\"detail\":{\"c-count\":[]}}", true);
    EB(nx, NULL, true);
    EB("{\"a\":[\"x\",{\"exists\":false}]}", "{\"a\":\"x\"}", true);
    EB("{\"a\":[\"x\",{\"exists\":false}]}", "{}", true);
    EB("{\"a\":[\"x\",{\"exists\":false}]}", "{\"a\":\"y\"}", false);
}

static void test_eb_or(void)
{
    const char *o = "{\"detail\":{\"$or\":[{\"c-count\":[{\"numeric\":[\">\",0,\"<=\",5]}]},"
                    "{\"d-count\":[{\"numeric\":[\"<\",10]}]},"
                    "{\"x-limit\":[{\"numeric\":[\"=\",3.018e2]}]}]}}";
    EB(o, "{\"detail\":{\"c-count\":3}}", true);
    EB(o, "{\"detail\":{\"d-count\":3}}", true);
    EB(o, "{\"detail\":{\"x-limit\":301.8}}", true);
    EB(o, "{\"detail\":{\"c-count\":30,\"d-count\":30,\"x-limit\":1}}", false);
    EB(o, "{\"c-count\":3}", false);
    const char *top = "{\"source\":[\"aws.ec2\"],\"$or\":[{\"detail\":{\"state\":[\"terminated\"]}},"
                      "{\"region\":[\"us-east-1\"]}]}";
    EB(top, EC2, true);
    EB(top, "{\"source\":\"aws.ec2\",\"region\":\"us-east-1\",\"detail\":{\"state\":\"x\"}}", true);
    EB(top, "{\"source\":\"aws.ec2\",\"region\":\"eu-west-1\",\"detail\":{\"state\":\"x\"}}", false);
    EB(top, "{\"source\":\"aws.s3\",\"region\":\"us-east-1\"}", false);
    /* Nested $or. */
    const char *nest = "{\"$or\":[{\"a\":[1]},{\"$or\":[{\"b\":[2]},{\"c\":[3]}]}]}";
    EB(nest, "{\"c\":3}", true);
    EB(nest, "{\"c\":4}", false);
}

static void test_eb_errors(void)
{
    bad(NB_PAT_EVENTBRIDGE, "[1]", EBR "Filter is not an object");
    bad(NB_PAT_EVENTBRIDGE, "\"x\"", EBR "Filter is not an object");
    bad(NB_PAT_EVENTBRIDGE, "", EBR "Filter is not valid JSON: unexpected end of input");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[1]", EBR "Filter is not valid JSON: unexpected end of input");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[1]} x",
        EBR "Filter is not valid JSON: unexpected character");
    bad(NB_PAT_EVENTBRIDGE, "{\"source\":\"aws.ec2\"}", EBR "\"source\" must be an object or an array");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":5}", EBR "\"a\" must be an object or an array");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[]}", EBR "Empty arrays are not allowed");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[[1]]}", EBR "Match value must be String, number, true, false, or null");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"foo\":1}]}", EBR "Unrecognized match type foo");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{}]}", EBR "Only one key allowed in match expression");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}",
        EBR "Only one key allowed in match expression");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"prefix\":1}]}", EBR "prefix match pattern must be a string");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"suffix\":[\"x\"]}]}", EBR "suffix match pattern must be a string");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"prefix\":{\"equals-ignore-case\":1}}]}",
        EBR "prefix match pattern must be a string");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"equals-ignore-case\":[\"x\"]}]}",
        EBR "equals-ignore-case match pattern must be a string");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"exists\":\"yes\"}]}",
        EBR "exists match pattern must be either true or false.");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"wildcard\":\"a**b\"}]}",
        EBR "Consecutive wildcard characters at pos 2");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"wildcard\":\"a\\\\b\"}]}",
        EBR "Invalid escape character at pos 1");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"wildcard\":\"a\\\\\"}]}",
        EBR "Invalid escape character at pos 1");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"wildcard\":5}]}", EBR "wildcard match pattern must be a string");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\">\",5,\"<\",1]}]}", EBR "Bottom must be less than top");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\">\",5,\"<\",5]}]}", EBR "Bottom must be less than top");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\">\",\"5\"]}]}", EBR "Value of > must be numeric");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\">\"]}]}", EBR "Value of > must be numeric");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\"!=\",1]}]}",
        EBR "Unrecognized numeric range operator: \"!=\"");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\">\",1,\">\",2]}]}", EBR "Bad numeric range operator: >");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\"=\",1,\"<\",2]}]}", EBR "Bad numeric range operator: <");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":[\">\",1,\"<\",2,\"=\"]}]}",
        EBR "Too many elements in numeric expression");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"numeric\":5}]}", EBR "Value of numeric must be an array.");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"cidr\":\"10.0.0.0\"}]}", EBR "Malformed CIDR, one '/' required");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"cidr\":\"10.0.0.0/33\"}]}",
        EBR "Malformed CIDR, mask bits must not exceed 32");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"cidr\":\"10.0.0/8\"}]}", EBR "Nonstandard IP address: 10.0.0");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"cidr\":\"10.0.0.0/x\"}]}",
        EBR "Malformed CIDR, mask bits must be an integer");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"anything-but\":[{\"prefix\":\"x\"}]}]}",
        EBR "Inside anything but list, start|null|boolean is not supported.");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"anything-but\":[\"x\",1]}]}",
        EBR "Inside anything but list, start|null|boolean is not supported.");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"anything-but\":null}]}",
        EBR "Value of anything-but must be an array or single string/number value.");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"anything-but\":{\"prefix\":[\"a\",\"b\"]}}]}",
        EBR "prefix match pattern must be a string");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[{\"anything-but\":{\"numeric\":[\">\",1]}}]}",
        EBR "Unsupported anything-but pattern: numeric");
    bad(NB_PAT_EVENTBRIDGE, "{\"$or\":{\"a\":[1]}}", EBR "Value of $or must be an array of objects");
    bad(NB_PAT_EVENTBRIDGE, "{\"$or\":[\"a\"]}", EBR "Value of $or must be an array of objects");
    bad(NB_PAT_EVENTBRIDGE, "{\"$or\":[{\"a\":[1]},{\"b\":{\"c\":7}}]}",
        EBR "\"c\" must be an object or an array");
    bad(NB_PAT_EVENTBRIDGE, "{\"a\":[1e999]}", EBR "Numeric value out of range");
    /* Nesting beyond the JSON depth limit. */
    char deep[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "[1]");
    for (int i = 0; i < 40; i++)
        strcat(deep, "}");
    bad(NB_PAT_EVENTBRIDGE, deep, EBR "Filter is not valid JSON: nesting too deep");
}

/* ---- SNS ------------------------------------------------------------------ */

#define ATTR(name, type, value) "\"" name "\":{\"Type\":\"" type "\",\"Value\":\"" value "\"}"

static void test_sns_attributes(void)
{
    const char *ex = "{\"customer_interests\":[\"rugby\",\"tennis\"]}";
    SNSA(ex, "{" ATTR("customer_interests", "String", "rugby") "}", true);
    SNSA(ex, "{" ATTR("customer_interests", "String", "tennis") "}", true);
    SNSA(ex, "{" ATTR("customer_interests", "String", "baseball") "}", false);
    SNSA(ex, "{" ATTR("customer_interests", "String.Array", "[\\\"baseball\\\",\\\"rugby\\\"]") "}", true);
    SNSA(ex, "{" ATTR("customer_interests", "Binary", "cnVnYnk=") "}", false);
    SNSA(ex, "{}", false);
    SNSA(ex, NULL, false);
    /* The Publish input form. */
    SNSA(ex, "{\"customer_interests\":{\"DataType\":\"String\",\"StringValue\":\"rugby\"}}", true);
    const char *pre = "{\"customer_interests\":[{\"prefix\":\"bas\"}]}";
    SNSA(pre, "{" ATTR("customer_interests", "String", "baseball") "}", true);
    SNSA(pre, "{" ATTR("customer_interests", "String", "basketball") "}", true);
    SNSA(pre, "{" ATTR("customer_interests", "String", "rugby") "}", false);
    const char *ab = "{\"customer_interests\":[{\"anything-but\":[\"rugby\",\"tennis\"]}]}";
    SNSA(ab, "{" ATTR("customer_interests", "String", "baseball") "}", true);
    SNSA(ab, "{" ATTR("customer_interests", "String", "football") "}", true);
    SNSA(ab, "{" ATTR("customer_interests", "String.Array", "[\\\"rugby\\\", \\\"baseball\\\"]") "}", true);
    SNSA(ab, "{" ATTR("customer_interests", "String.Array", "[\\\"rugby\\\", \\\"tennis\\\"]") "}", false);
    SNSA(ab, "{" ATTR("customer_interests", "String", "rugby") "}", false);
    const char *abp = "{\"event\":[{\"anything-but\":{\"prefix\":\"order-\"}}]}";
    SNSA(abp, "{" ATTR("event", "String", "data-entry") "}", true);
    SNSA(abp, "{" ATTR("event", "String", "order_number") "}", true);
    SNSA(abp, "{" ATTR("event", "String", "order-cancelled") "}", false);
    const char *ip = "{\"source_ip\":[{\"cidr\":\"10.0.0.0/24\"}]}";
    SNSA(ip, "{" ATTR("source_ip", "String", "10.0.0.0") "}", true);
    SNSA(ip, "{" ATTR("source_ip", "String", "10.0.0.255") "}", true);
    SNSA(ip, "{" ATTR("source_ip", "String", "10.1.1.0") "}", false);
    /* Key matching. */
    const char *two = "{" ATTR("store", "String", "fans") ","
                      ATTR("customer_interests", "String.Array", "[\\\"baseball\\\", \\\"basketball\\\"]") "}";
    const char *one = "{" ATTR("customer_interests", "String.Array", "[\\\"baseball\\\", \\\"basketball\\\"]") "}";
    SNSA("{\"store\":[{\"exists\":true}]}", two, true);
    SNSA("{\"store\":[{\"exists\":true}]}", one, false);
    SNSA("{\"store\":[{\"exists\":false}]}", two, false);
    SNSA("{\"store\":[{\"exists\":false}]}", one, true);
    /* Numbers: Type Number compares numerically; a String does not. */
    const char *price = "{\"customer_interests\":[\"rugby\"],\"price_usd\":[{\"numeric\":[\">\",100]}]}";
    SNSA(price, "{" ATTR("customer_interests", "String", "rugby") "," ATTR("price_usd", "Number", "150") "}", true);
    SNSA(price, "{" ATTR("customer_interests", "String", "rugby") "," ATTR("price_usd", "Number", "100") "}", false);
    SNSA(price, "{" ATTR("customer_interests", "String", "rugby") "," ATTR("price_usd", "String", "150") "}", false);
    SNSA(price, "{" ATTR("customer_interests", "String", "soccer") "," ATTR("price_usd", "Number", "150") "}", false);
    SNSA("{\"price_usd\":[100]}", "{" ATTR("price_usd", "Number", "100.0") "}", true);
    SNSA("{\"price_usd\":[100]}", "{" ATTR("price_usd", "Number", "1e2") "}", true);
    SNSA("{\"price_usd\":[100]}", "{" ATTR("price_usd", "String", "100") "}", false);
    SNSA("{\"price_usd\":[100]}", "{" ATTR("price_usd", "Number.float", "100") "}", true);
    SNSA("{\"price_usd\":[100]}", "{" ATTR("price_usd", "Number", "0x64") "}", false);
    SNSA("{\"n\":[{\"numeric\":[\"=\",5]}]}", "{" ATTR("n", "String.Array", "[1, 5, \\\"x\\\"]") "}", true);
    SNSA("{\"n\":[{\"anything-but\":[100,200]}]}", "{" ATTR("n", "Number", "300") "}", true);
    SNSA("{\"n\":[{\"anything-but\":[100,200]}]}", "{" ATTR("n", "Number", "200") "}", false);
    SNSA("{\"s\":[{\"suffix\":\"ball\"}]}", "{" ATTR("s", "String", "football") "}", true);
    SNSA("{\"s\":[{\"equals-ignore-case\":\"RUGBY\"}]}", "{" ATTR("s", "String", "Rugby") "}", true);
    SNSA("{\"s\":[{\"anything-but\":{\"suffix\":\"ball\"}}]}", "{" ATTR("s", "String", "rugby") "}", true);
    SNSA("{\"s\":[\"a\"]}", "{" ATTR("s", "String.Array", "not json") "}", false);
    /* $or across attributes. */
    const char *o = "{\"source\":[\"aws.cloudwatch\"],\"$or\":[{\"metricName\":[\"CPUUtilization\"]},"
                    "{\"namespace\":[\"AWS/EC2\"]}]}";
    SNSA(o, "{" ATTR("source", "String", "aws.cloudwatch") "," ATTR("namespace", "String", "AWS/EC2") "}", true);
    SNSA(o, "{" ATTR("source", "String", "aws.cloudwatch") "," ATTR("namespace", "String", "AWS/S3") "}", false);
}

static void test_sns_body(void)
{
    SNSB("{\"store\":[{\"exists\":true}]}",
         "{\"store\":\"fans\",\"customer_interests\":[\"baseball\",\"basketball\"]}", true);
    SNSB("{\"store\":[{\"exists\":true}]}", "{\"customer_interests\":[\"baseball\",\"basketball\"]}", false);
    SNSB("{\"store\":[{\"exists\":false}]}", "{\"customer_interests\":[\"baseball\"]}", true);
    const char *nested = "{\"customer\":{\"interests\":[\"rugby\",\"tennis\"]},"
                         "\"price_usd\":[{\"numeric\":[\">=\",100]}]}";
    SNSB(nested, "{\"customer\":{\"interests\":[\"football\",\"rugby\"]},\"price_usd\":100}", true);
    SNSB(nested, "{\"customer\":{\"interests\":[\"football\"]},\"price_usd\":100}", false);
    SNSB(nested, "{\"customer\":{\"interests\":\"tennis\"},\"price_usd\":99.5}", false);
    SNSB("{\"a\":[{\"exists\":false}]}", NULL, true);
    SNSB("{\"a\":[1]}", NULL, false);
}

static void test_sns_errors(void)
{
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":{\"b\":[1]}}",
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[1],\"b\":[1],\"c\":[1],\"d\":[1],\"e\":[1],\"f\":[1]}",
        SNSR "Filter policy can not have more than 5 keys");
    bad(NB_PAT_SNS_BODY, "{\"a\":{\"b\":[1],\"c\":[1]},\"d\":[1],\"e\":[1],\"f\":[1],\"g\":[1]}",
        SNSR "Filter policy can not have more than 5 keys");
    /* Exactly 150 combinations is allowed, 151 is not. */
    SNSA("{\"a\":[1,2,3,4,5,6],\"b\":[1,2,3,4,5],\"c\":[1,2,3,4,5]}", "{" ATTR("a", "Number", "1") "}", false);
    bad(NB_PAT_SNS_ATTRIBUTES,
        "{\"a\":[1,2,3,4,5,6,7],\"b\":[1,2,3,4,5],\"c\":[1,2,3,4,5]}", SNSR "Filter policy is too complex");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"$or\":[{\"a\":[1,2,3,4,5,6,7,8,9,10]},{\"b\":[1,2,3,4,5,6,7,8,9,10]}],"
        "\"c\":[1,2,3,4,5,6,7,8]}", SNSR "Filter policy is too complex");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[{\"wildcard\":\"*\"}]}", SNSR "Unrecognized match type wildcard");
    bad(NB_PAT_SNS_BODY, "{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"x\"}}]}",
        SNSR "prefix match pattern must be a string");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[{\"anything-but\":{\"wildcard\":\"x*\"}}]}",
        SNSR "Unsupported anything-but pattern: wildcard");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[{\"numeric\":[\">\",2000000000]}]}",
        SNSR "Numeric value 2000000000 is not within the range [-1.0E9, 1.0E9]");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[\"x\"", SNSR "Filter is not valid JSON: unexpected end of input");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[\"\xff\"]}", SNSR "Filter is not valid JSON: invalid utf-8 string");
    bad(NB_PAT_SNS_ATTRIBUTES, "{\"a\":[{\"exists\":1}]}", SNSR "exists match pattern must be either true or false.");
}

/* ---- Lambda --------------------------------------------------------------- */

static void test_lambda(void)
{
    const char *kin = "{\"kinesis\":{\"partitionKey\":\"1\"},\"partitionKey\":\"1\","
                      "\"data\":{\"City\":\"Seattle\",\"State\":\"WA\",\"Temperature\":46,"
                      "\"Location\":\"Los Angeles\"}}";
    LAM("{\"partitionKey\":[\"1\"],\"data\":{\"Location\":[\"Los Angeles\"]}}", kin, true);
    LAM("{\"partitionKey\":[\"2\"],\"data\":{\"Location\":[\"Los Angeles\"]}}", kin, false);
    LAM("{\"data\":{\"Temperature\":[{\"numeric\":[\">\",50,\"<=\",60]}]}}", kin, false);
    LAM("{\"data\":{\"Temperature\":[{\"numeric\":[\">\",40,\"<=\",60]}]}}", kin, true);
    const char *ddb = "{\"eventName\":\"INSERT\",\"dynamodb\":{\"Keys\":{\"Id\":{\"N\":\"101\"}},"
                      "\"NewImage\":{\"Message\":{\"S\":\"New item!\"},\"Id\":{\"N\":\"101\"}},"
                      "\"SequenceNumber\":\"111\",\"SizeBytes\":26,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"}}";
    LAM("{\"dynamodb\":{\"Keys\":{\"Id\":{\"N\":[\"101\"]}}}}", ddb, true);
    LAM("{\"dynamodb\":{\"Keys\":{\"Id\":{\"N\":[101]}}}}", ddb, false);
    LAM("{\"eventName\":[\"INSERT\"],\"dynamodb\":{\"NewImage\":{\"Message\":{\"S\":[{\"prefix\":\"New\"}]}}}}",
        ddb, true);
    LAM("{\"a\":[1,2]}", "{\"a\":2}", true);
    LAM("{\"a\":[1,2]}", "{\"a\":3}", false);
    LAM("{\"body\":{\"Weather\":[{\"anything-but\":[\"Raining\"]}]}}", "{\"body\":{\"Weather\":\"Sunny\"}}", true);
    LAM("{\"UserID\":[null],\"LastName\":[\"\"]}", "{\"UserID\":null,\"LastName\":\"\"}", true);
    LAM("{\"ProductName\":[{\"exists\":false}]}", "{\"body\":{}}", true);
    LAM("{\"Name\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"Name\":\"Alice\"}", true);
    LAM("{\"FileName\":[{\"suffix\":\".png\"}]}", "{\"FileName\":\"x.png\"}", true);
    bad(NB_PAT_LAMBDA, "{\"a\":[{\"wildcard\":\"*\"}]}", LAMR "Unrecognized match type wildcard");
    bad(NB_PAT_LAMBDA, "{\"a\":[{\"anything-but\":{\"prefix\":\"x\"}}]}",
        LAMR "Unsupported anything-but pattern: prefix");
    bad(NB_PAT_LAMBDA, "{\"a\":\"x\"}", LAMR "\"a\" must be an object or an array");
    /* What the pattern expects of an SQS body. */
    char err[256];
    const char *cases[][2] = {{"{\"a\":[1]}", "0"},
                              {"{\"body\":{\"a\":[1]}}", "1"},
                              {"{\"body\":[\"plain\"]}", "2"},
                              {"{\"$or\":[{\"x\":[1]},{\"body\":[{\"prefix\":\"p\"}]}]}", "2"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nb_pattern *p = nb_pattern_compile(cases[i][0], strlen(cases[i][0]), NB_PAT_LAMBDA, err, sizeof err);
        check(p && nb_pattern_lambda_body(p) == cases[i][1][0] - '0', "lambda body of %s", cases[i][0]);
        nb_pattern_free(p);
    }
}

/* ---- API edges ------------------------------------------------------------ */

static void test_api(void)
{
    char err[8];
    check(!nb_pattern_match(NULL, NULL), "NULL pattern never matches");
    nb_pattern_free(NULL);
    nb_pattern *p = nb_pattern_compile("{\"a\":5}", 7, NB_PAT_EVENTBRIDGE, err, sizeof err);
    check(!p && strlen(err) == sizeof err - 1, "error message truncated to errlen");
    p = nb_pattern_compile("{\"a\":5}", 7, NB_PAT_EVENTBRIDGE, NULL, 0);
    check(!p, "errlen 0 accepted");
    p = nb_pattern_compile("{\"a\":[1]}garbage", 9, NB_PAT_EVENTBRIDGE, err, sizeof err);
    check(p != NULL, "length respected");
    json_object *arr = json_tokener_parse("[1,2]");
    check(p && !nb_pattern_match(p, arr), "a non-object event is an empty object");
    json_object_put(arr);
    nb_pattern_free(p);
}

/* ---- cost ----------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void bench(void)
{
    const char *pat = "{\"source\":[\"aws.ec2\",\"aws.autoscaling\"],\"detail-type\":[\"EC2 Instance "
                      "State-change Notification\"],\"detail\":{\"state\":[\"terminated\",\"stopped\"],"
                      "\"instance-id\":[{\"prefix\":\"i-\"}]}}";
    char err[256];
    int nc = 20000, nm = 500000;
    double t0 = now_ns();
    for (int i = 0; i < nc; i++)
        nb_pattern_free(nb_pattern_compile(pat, strlen(pat), NB_PAT_EVENTBRIDGE, err, sizeof err));
    double t1 = now_ns();
    nb_pattern *p = nb_pattern_compile(pat, strlen(pat), NB_PAT_EVENTBRIDGE, err, sizeof err);
    json_object *ev = json_tokener_parse(EC2);
    int hits = 0;
    double t2 = now_ns();
    for (int i = 0; i < nm; i++)
        hits += nb_pattern_match(p, ev);
    double t3 = now_ns();
    check(hits == nm, "bench pattern matches");
    printf("cost (this build): compile %.0f ns, match %.0f ns per event\n", (t1 - t0) / nc,
           (t3 - t2) / nm);
    json_object_put(ev);
    nb_pattern_free(p);
}

int main(void)
{
    test_eb_basics();
    test_eb_strings();
    test_eb_anything_but();
    test_eb_numeric_ip_exists();
    test_eb_or();
    test_eb_errors();
    test_sns_attributes();
    test_sns_body();
    test_sns_errors();
    test_lambda();
    test_api();
    bench();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
