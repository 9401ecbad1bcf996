/*
 * fuzz_pattern.c — libFuzzer target for the event-pattern engine
 * (src/core/pattern.c).
 *
 * Input: pattern text.  Each run compiles it in every dialect (EventBridge,
 * SNS attributes, SNS body, Lambda) from an exact-size copy, so ASan sees
 * over-reads.  A rejected pattern must come with a message in the dialect's
 * wording; an accepted one is matched against a fixed set of events (an
 * EC2 event, null and empty values, arrays of objects, numbers, addresses,
 * SNS attributes of every type, a Lambda record), twice, with the same
 * answer.  An SNS attribute policy is also a valid SNS body policy.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_pattern)   Seeds: fuzz/corpus/pattern/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pattern.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static const char *const EVENTS[] = {
    "{\"version\":\"0\",\"id\":\"6a7e8feb\",\"detail-type\":\"EC2 Instance State-change Notification\","
    "\"source\":\"aws.ec2\",\"account\":\"111122223333\",\"time\":\"2017-12-22T18:43:48Z\","
    "\"region\":\"us-west-1\",\"resources\":[\"arn:aws:ec2:us-west-1:123456789012:instance/i-1\"],"
    "\"detail\":{\"instance-id\":\"i-1234567890abcdef0\",\"state\":\"terminated\"}}",
    "{\"source\":\"aws.autoscaling\",\"resources\":[],\"detail\":{\"eventVersion\":\"\","
    "\"responseElements\":null,\"c-count\":{\"c1\":100},\"flag\":true,\"off\":false}}",
    "{\"detail\":{\"items\":[{\"name\":\"x\",\"n\":1},{\"name\":\"y\",\"n\":[2,[3.5,-4e8]]}],"
    "\"c-count\":5,\"d-count\":9,\"x-limit\":301.8,\"sourceIPAddress\":\"10.0.0.255\","
    "\"ip6\":\"2001:db8::1\",\"FilePath\":\"/usr/lib/a*b\\\\c.png\",\"Name\":\"ALICE\","
    "\"big\":1e300,\"neg\":-0.0,\"s\":\"\\u00e9t\\u00e9\"}}",
    "{\"customer_interests\":{\"Type\":\"String.Array\",\"Value\":\"[\\\"rugby\\\",1,true,null,{}]\"},"
    "\"store\":{\"Type\":\"String\",\"Value\":\"fans\"},"
    "\"price_usd\":{\"Type\":\"Number\",\"Value\":\"150.5\"},"
    "\"blob\":{\"Type\":\"Binary\",\"Value\":\"AAEC\"},"
    "\"bad\":{\"Type\":\"String.Array\",\"Value\":\"[\"},"
    "\"odd\":{\"DataType\":\"Number\",\"StringValue\":\"0x10\"},\"junk\":5}",
    "{\"eventSource\":\"aws:sqs\",\"body\":{\"Weather\":\"Sunny\",\"Temperature\":46},"
    "\"dynamodb\":{\"Keys\":{\"Id\":{\"N\":\"101\"}}},\"partitionKey\":\"1\",\"data\":[\"a\",\"b\"]}",
};

#define NEVENTS (sizeof EVENTS / sizeof EVENTS[0])

static json_object *events[NEVENTS];

static void init_events(void)
{
    if (events[0])
        return;
    for (size_t i = 0; i < NEVENTS; i++) {
        events[i] = json_tokener_parse(EVENTS[i]);
        if (!events[i])
            abort();
    }
}

static const char *const PREFIX[] = {
    "Event pattern is not valid. Reason: ",
    "Invalid parameter: ",
    "Invalid parameter: ",
    "Invalid filter pattern definition. Reason: ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_events();
    char *text = malloc(size ? size : 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    bool sns_attr_ok = false;
    for (int d = NB_PAT_EVENTBRIDGE; d <= NB_PAT_LAMBDA; d++) {
        char err[256];
        nb_pattern *p = nb_pattern_compile(text, size, (nb_pattern_dialect)d, err, sizeof err);
        if (!p) {
            if (strncmp(err, PREFIX[d], strlen(PREFIX[d])) != 0)
                abort();
            if (d == NB_PAT_SNS_BODY && sns_attr_ok)
                abort(); /* what attributes accept, the body scope accepts */
            continue;
        }
        if (d == NB_PAT_SNS_ATTRIBUTES)
            sns_attr_ok = true;
        for (size_t i = 0; i < NEVENTS; i++)
            if (nb_pattern_match(p, events[i]) != nb_pattern_match(p, events[i]))
                abort();
        (void)nb_pattern_match(p, NULL);
        (void)nb_pattern_lambda_body(p);
        nb_pattern_free(p);
    }
    free(text);
    return 0;
}
