/*
 * test_sigv4.c — unit test of src/core/sigv4.c: AWS's documented SigV4
 * example, vectors signed by botocore, and the failure cases (tampering,
 * wrong secret, clock skew, expiry, malformed and overlong credentials).
 *
 * Standalone: builds with sigv4.c and libcrypto alone, exits non-zero on a
 * failure, and prints "N passed, N failed" last.
 *
 * The botocore vectors were made once with botocore 1.43 (not at test time):
 *
 *   FIXED = datetime.datetime(2024, 1, 15, 12, 0, 0)   # 1705320000
 *   creds = Credentials('test', 'test')
 *   with mock.patch('botocore.auth.get_current_datetime', return_value=FIXED):
 *       r = AWSRequest(method='POST', url='http://127.0.0.1:4566/',
 *                      data=b'Action=ListQueues&Version=2012-11-05',
 *                      headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'})
 *       SigV4Auth(creds, 'sqs', 'us-east-1').add_auth(r)
 *       # likewise: a GET with an odd path/query/header (SigV4Auth), a POST
 *       # with a Date header instead of X-Amz-Date, a PUT with
 *       # X-Amz-Content-SHA256: UNSIGNED-PAYLOAD, and presigned URLs from
 *       # SigV4QueryAuth(creds, 'sqs', 'us-east-1', expires=300) and
 *       # S3SigV4QueryAuth(creds, 's3', 'us-east-1', expires=3600)
 *   # then r.headers / urlsplit(r.url) give the constants below.
 */
#include <stdio.h>
#include <string.h>

#include "core/sigv4.h"

static int passed, failed;

static void check(bool ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL: %s\n", what);
    }
}

static const char *result_name(nb_sigv4_result r)
{
    static const char *const names[] = { "OK",      "MISMATCH", "UNKNOWN_KEY", "SKEWED",
                                         "EXPIRED", "MISSING",  "MALFORMED" };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

static void check_result(nb_sigv4_result got, nb_sigv4_result want, const char *what)
{
    if (got != want)
        printf("  %s: got %s, want %s\n", what, result_name(got), result_name(want));
    check(got == want, what);
}

static nb_sigv4_header hdr(const char *name, const char *value)
{
    nb_sigv4_header h = { name, value, strlen(value) };
    return h;
}

static nb_sigv4_request mkreq(const char *method, const char *path, const char *query,
                              const nb_sigv4_header *h, int nh, const char *body)
{
    nb_sigv4_request r = {
        .method = method,
        .path = path,
        .path_len = strlen(path),
        .query = query,
        .query_len = strlen(query),
        .headers = h,
        .nheaders = nh,
        .body = (const unsigned char *)body,
        .body_len = body ? strlen(body) : 0,
    };
    return r;
}

/* Parse then verify; *parse_rc gets nb_sigv4_parse's answer. */
static nb_sigv4_result parse_verify(const nb_sigv4_request *r, const char *secret, int64_t now,
                                    int *parse_rc)
{
    nb_sigv4_cred c;
    const char *why = NULL;
    *parse_rc = nb_sigv4_parse(r, &c, &why);
    if (*parse_rc != 0)
        printf("  parse failed: %s\n", why ? why : "(no reason)");
    return nb_sigv4_verify(r, &c, secret, now);
}

static void expect_verify(const nb_sigv4_request *r, const char *secret, int64_t now,
                          nb_sigv4_result want, const char *what)
{
    int rc;
    nb_sigv4_result got = parse_verify(r, secret, now, &rc);
    check(rc == 0, what);
    check_result(got, want, what);
}

static void expect_parse_fail(const nb_sigv4_request *r, const char *what)
{
    nb_sigv4_cred c;
    const char *why = NULL;
    int rc = nb_sigv4_parse(r, &c, &why);
    check(rc == -1 && why != NULL, what);
    if (rc == -1 && why == NULL)
        printf("  %s: no reason given\n", what);
}

static void expect_absent(const nb_sigv4_request *r, const char *what)
{
    nb_sigv4_cred c;
    const char *why = NULL;
    int rc = nb_sigv4_parse(r, &c, &why);
    check(rc == 0 && !c.present, what);
    check_result(nb_sigv4_verify(r, &c, "test", 0), NB_SIGV4_MISSING, what);
}

/* ---------- (1) AWS's documented GET IAM ListUsers example ---------- */

#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DOC_NOW 1440938160 /* 2015-08-30T12:36:00Z */
#define DOC_AUTH                                                                 \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, " \
    "SignedHeaders=content-type;host;x-amz-date, "                               \
    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

static void test_aws_doc_example(void)
{
    nb_sigv4_header h[] = {
        hdr("host", "iam.amazonaws.com"),
        hdr("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        hdr("x-amz-date", "20150830T123600Z"),
        hdr("authorization", DOC_AUTH),
    };
    nb_sigv4_request r = mkreq("GET", "/", "Action=ListUsers&Version=2010-05-08", h, 4, NULL);
    nb_sigv4_cred c;
    const char *why = NULL;
    check(nb_sigv4_parse(&r, &c, &why) == 0 && c.present && !c.presigned, "doc: parse");
    check(strcmp(c.access_key, "AKIDEXAMPLE") == 0 && strcmp(c.date, "20150830") == 0 &&
              strcmp(c.region, "us-east-1") == 0 && strcmp(c.service, "iam") == 0 &&
              strcmp(c.amz_date, "20150830T123600Z") == 0 &&
              strcmp(c.signed_headers, "content-type;host;x-amz-date") == 0 &&
              strcmp(c.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7") == 0 &&
              c.expires == -1,
          "doc: fields");
    check_result(nb_sigv4_verify(&r, &c, DOC_SECRET, DOC_NOW), NB_SIGV4_OK,
                 "doc: documented signature reproduced");
    check_result(nb_sigv4_verify(&r, &c, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", DOC_NOW),
                 NB_SIGV4_MISMATCH, "doc: wrong secret");
    /* The path "/" written as "" and as "//./" canonicalizes to "/". */
    r.path = "";
    r.path_len = 0;
    check_result(nb_sigv4_verify(&r, &c, DOC_SECRET, DOC_NOW), NB_SIGV4_OK, "doc: empty path");
    r.path = "//./";
    r.path_len = 4;
    check_result(nb_sigv4_verify(&r, &c, DOC_SECRET, DOC_NOW), NB_SIGV4_OK, "doc: //./ path");
    /* Query order and redundant encoding do not matter. */
    r = mkreq("GET", "/", "Version=2010-05-08&Act%69on=ListUsers", h, 4, NULL);
    check_result(nb_sigv4_verify(&r, &c, DOC_SECRET, DOC_NOW), NB_SIGV4_OK,
                 "doc: query re-sorted and re-encoded");
    r = mkreq("GET", "/", "Action=ListUsers&Version=2010-05-09", h, 4, NULL);
    check_result(nb_sigv4_verify(&r, &c, DOC_SECRET, DOC_NOW), NB_SIGV4_MISMATCH,
                 "doc: tampered query");
}

/* ---------- (2) botocore-signed requests ---------- */

#define NOW 1705320000 /* 2024-01-15T12:00:00Z, the vectors' signing time */
#define SQS_BODY "Action=ListQueues&Version=2012-11-05"
#define SQS_AUTH                                                                       \
    "AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs/aws4_request, "          \
    "SignedHeaders=content-type;host;x-amz-date, "                                    \
    "Signature=320899c0f5d50a34ec7e5ddeb079f6cb0db7d3d26aa498263fa907f23e249140"

static nb_sigv4_request sqs_post(nb_sigv4_header h[4], const char *auth, const char *body)
{
    h[0] = hdr("host", "127.0.0.1:4566");
    h[1] = hdr("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    h[2] = hdr("x-amz-date", "20240115T120000Z");
    h[3] = hdr("authorization", auth);
    return mkreq("POST", "/", "", h, 4, body);
}

static void test_botocore_post(void)
{
    nb_sigv4_header h[4];
    nb_sigv4_request r = sqs_post(h, SQS_AUTH, SQS_BODY);
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "botocore POST: verifies");
    expect_verify(&r, "test", NOW + 899, NB_SIGV4_OK, "botocore POST: 14m59s late is fine");
    expect_verify(&r, "test", NOW - 899, NB_SIGV4_OK, "botocore POST: 14m59s early is fine");
    expect_verify(&r, "test", NOW + 901, NB_SIGV4_SKEWED, "botocore POST: 15m01s late skewed");
    expect_verify(&r, "test", NOW - 901, NB_SIGV4_SKEWED, "botocore POST: 15m01s early skewed");
    expect_verify(&r, "wrong", NOW, NB_SIGV4_MISMATCH, "botocore POST: wrong secret");
    r = sqs_post(h, SQS_AUTH, "Action=ListQueues&Version=2012-11-06");
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "botocore POST: tampered body");
    r = sqs_post(h, SQS_AUTH, SQS_BODY);
    h[1] = hdr("content-type", "application/json");
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "botocore POST: tampered header");
    r = sqs_post(h, SQS_AUTH, SQS_BODY);
    r.method = "PUT";
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "botocore POST: other method");
    r = sqs_post(h, SQS_AUTH, SQS_BODY);
    r.path = "/x";
    r.path_len = 2;
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "botocore POST: other path");
}

/* The same signature, the header written the ways AWS tolerates. */
static void test_header_tolerance(void)
{
    static const char *const forms[] = {
        "AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs/aws4_request,"
        "SignedHeaders=content-type;host;x-amz-date,"
        "Signature=320899c0f5d50a34ec7e5ddeb079f6cb0db7d3d26aa498263fa907f23e249140",
        "  AWS4-HMAC-SHA256   Signature=320899c0f5d50a34ec7e5ddeb079f6cb0db7d3d26aa498263fa907f23e249140 ,"
        " ,Credential=test/20240115/us-east-1/sqs/aws4_request\t SignedHeaders=content-type;host;x-amz-date  ",
        "AWS4-HMAC-SHA256 SignedHeaders=content-type;host;x-amz-date, "
        "Signature=320899C0F5D50A34EC7E5DDEB079F6CB0DB7D3D26AA498263FA907F23E249140, "
        "Credential=test/20240115/us-east-1/sqs/aws4_request",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        nb_sigv4_header h[4];
        nb_sigv4_request r = sqs_post(h, forms[i], SQS_BODY);
        char what[64];
        snprintf(what, sizeof what, "header form %zu verifies", i);
        expect_verify(&r, "test", NOW, NB_SIGV4_OK, what);
    }
}

/* Double-encoded path with dot segments, unsorted query with repeats and
 * empty values, a header value with runs of spaces. */
static void test_botocore_quirky_get(void)
{
    nb_sigv4_header h[] = {
        hdr("host", "127.0.0.1:4566"),
        hdr("x-amz-meta", "  a   b  c "),
        hdr("x-amz-date", "20240115T120000Z"),
        hdr("authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-meta, "
            "Signature=05113e37562ab9675be0e01f059d6946b471fea20c459b4a7152867f1d460fc5"),
    };
    const char *path = "/000000000000/my%20queue/./x/../caf%C3%A9~%2A";
    nb_sigv4_request r = mkreq("GET", path, "b=2&a=1&a=0&c=x%20y&d=%2B&e=&f=%21%2A&g", h, 4, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "botocore quirky GET: verifies");
    h[1] = hdr("x-amz-meta", "a b c");
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "quirky GET: header spaces collapse");
    h[1] = hdr("x-amz-meta", "a bc");
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "quirky GET: header changed");
    h[1] = hdr("x-amz-meta", "  a   b  c ");
    r = mkreq("GET", path, "b=2&a=1&a=0&c=x%20y&d=+&e=&f=%21%2A&g", h, 4, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "quirky GET: literal '+' is %2B");
    r = mkreq("GET", path, "b=2&a=1&a=0&c=x+y&d=%2B&e=&f=%21%2A&g", h, 4, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "quirky GET: '+' is not a space");
    r = mkreq("GET", path, "g&f=%21*&e=&d=%2b&c=x%20y&b=2&a=0&a=1", h, 4, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "quirky GET: query order/encoding free");
    r = mkreq("GET", "/000000000000/my%20queue/caf%C3%A9~%2A", "b=2&a=1&a=0&c=x%20y&d=%2B&e=&f=%21%2A&g",
              h, 4, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "quirky GET: normalized path same");
    r = mkreq("GET", "/000000000000/my queue/caf%C3%A9~%2A", "b=2&a=1&a=0&c=x%20y&d=%2B&e=&f=%21%2A&g",
              h, 4, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "quirky GET: path is double-encoded");
}

static void test_botocore_date_header(void)
{
    nb_sigv4_header h[] = {
        hdr("host", "127.0.0.1:4566"),
        hdr("content-type", "application/x-amz-json-1.0"),
        hdr("x-amz-target", "AmazonSQS.CreateQueue"),
        hdr("date", "Mon, 15 Jan 2024 12:00:00 -0000"),
        hdr("authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs/aws4_request, "
            "SignedHeaders=content-type;date;host;x-amz-target, "
            "Signature=03cdd0ebb864de76676f689be0daeef6fc745a7c6eea687e0a981234abe0472b"),
    };
    nb_sigv4_request r = mkreq("POST", "/", "", h, 5, "{\"QueueName\":\"q1\"}");
    nb_sigv4_cred c;
    const char *why;
    check(nb_sigv4_parse(&r, &c, &why) == 0 && strcmp(c.amz_date, "20240115T120000Z") == 0,
          "Date header: converted to amz_date");
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "botocore Date header: verifies");
    h[3] = hdr("date", "15 Jan 2024 12:00:00 GMT");
    check(nb_sigv4_parse(&r, &c, &why) == 0 && strcmp(c.amz_date, "20240115T120000Z") == 0,
          "Date header without weekday");
    h[3] = hdr("date", "Mon, 15 Jan 2024 12:00:00 PST");
    expect_parse_fail(&r, "Date header in another zone");
    h[3] = hdr("date", "Mon, 31 Feb 2024 12:00:00 GMT");
    expect_parse_fail(&r, "Date header with 31 February");
    h[3] = hdr("date", "yesterday");
    expect_parse_fail(&r, "Date header garbage");
}

static void test_botocore_unsigned_payload(void)
{
    nb_sigv4_header h[] = {
        hdr("host", "127.0.0.1:4566"),
        hdr("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        hdr("x-amz-date", "20240115T120000Z"),
        hdr("authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=57415d1bf12347c780fc79f6e95eb7cc768483e98e2bc48dd4e41a2316d00ade"),
    };
    nb_sigv4_request r = mkreq("PUT", "/bucket/key", "", h, 4, "hello world");
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "UNSIGNED-PAYLOAD: verifies");
    r = mkreq("PUT", "/bucket/key", "", h, 4, "another body");
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "UNSIGNED-PAYLOAD: body not signed");
}

/* botocore S3SigV4Auth: the body's hash travels in x-amz-content-sha256. */
static void test_botocore_content_sha256(void)
{
    nb_sigv4_header h[] = {
        hdr("host", "127.0.0.1:4566"),
        hdr("x-amz-date", "20240115T120000Z"),
        hdr("x-amz-content-sha256", "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"),
        hdr("authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=5d782bf6562daa819d2c5baeeabb3c44bfa78872371c4e1931d1a27a0ae77ae5"),
    };
    nb_sigv4_request r = mkreq("PUT", "/bucket/key", "", h, 4, "hello world");
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "x-amz-content-sha256: verifies");
    r = mkreq("PUT", "/bucket/key", "", h, 4, "hello worle");
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "x-amz-content-sha256: body swapped");
}

#define SQS_PRESIGN                                                                   \
    "Action=ListQueues&Version=2012-11-05&X-Amz-Algorithm=AWS4-HMAC-SHA256&"          \
    "X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&"              \
    "X-Amz-Date=20240115T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&"         \
    "X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be"

static void test_botocore_presign(void)
{
    nb_sigv4_header h[] = { hdr("host", "127.0.0.1:4566") };
    nb_sigv4_request r = mkreq("GET", "/", SQS_PRESIGN, h, 1, NULL);
    nb_sigv4_cred c;
    const char *why;
    check(nb_sigv4_parse(&r, &c, &why) == 0 && c.present && c.presigned && c.expires == 300 &&
              strcmp(c.access_key, "test") == 0 && strcmp(c.service, "sqs") == 0 &&
              strcmp(c.signed_headers, "host") == 0,
          "presign: parse");
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "botocore presign: verifies");
    expect_verify(&r, "test", NOW + 300, NB_SIGV4_OK, "presign: valid at the last second");
    expect_verify(&r, "test", NOW + 301, NB_SIGV4_EXPIRED, "presign: expired");
    expect_verify(&r, "test", NOW - 901, NB_SIGV4_SKEWED, "presign: not yet valid");
    expect_verify(&r, "nope", NOW, NB_SIGV4_MISMATCH, "presign: wrong secret");
    r = mkreq("GET", "/", "Action=DeleteQueue&Version=2012-11-05&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
              "X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&"
              "X-Amz-Date=20240115T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&"
              "X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be",
              h, 1, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "presign: tampered query");
    r = mkreq("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&"
              "X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&"
              "X-Amz-Date=20240115T120000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&"
              "X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be",
              h, 1, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_MALFORMED, "presign: expires over 7 days");
}

static void test_botocore_s3_presign(void)
{
    nb_sigv4_header h[] = { hdr("host", "127.0.0.1:4566") };
    const char *q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                    "X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fs3%2Faws4_request&"
                    "X-Amz-Date=20240115T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&"
                    "X-Amz-Signature=8adf0171016a85417241c209252f99ab0c8b89e49f054825a2ae0dc98c597936";
    nb_sigv4_request r = mkreq("GET", "/mybucket/my-key.txt", q, h, 1, NULL);
    expect_verify(&r, "test", NOW + 3600, NB_SIGV4_OK, "botocore S3 presign (UNSIGNED-PAYLOAD)");
    expect_verify(&r, "test", NOW + 3601, NB_SIGV4_EXPIRED, "S3 presign: expired");
    r = mkreq("GET", "/mybucket/other-key.txt", q, h, 1, NULL);
    expect_verify(&r, "test", NOW, NB_SIGV4_MISMATCH, "S3 presign: other key");
}

/* ---------- (3) malformed, overlong, absent ---------- */

static void expect_auth_fail(const char *auth, const char *what)
{
    nb_sigv4_header h[4];
    nb_sigv4_request r = sqs_post(h, auth, SQS_BODY);
    expect_parse_fail(&r, what);
}

#define CRED "Credential=test/20240115/us-east-1/sqs/aws4_request"
#define SH "SignedHeaders=content-type;host;x-amz-date"
#define SIG "Signature=320899c0f5d50a34ec7e5ddeb079f6cb0db7d3d26aa498263fa907f23e249140"

static void test_malformed(void)
{
    expect_auth_fail("AWS4-HMAC-SHA256", "no components");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", " SH, "no Signature");
    expect_auth_fail("AWS4-HMAC-SHA256 " SH ", " SIG, "no Credential");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", " SIG, "no SignedHeaders");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", " CRED ", " SH ", " SIG, "Credential twice");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential " SH ", " SIG, "component without '='");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs, " SH ", " SIG,
                     "credential with 4 parts");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs/aws4_request/x, " SH
                     ", " SIG,
                     "credential with 6 parts");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential=/20240115/us-east-1/sqs/aws4_request, " SH
                     ", " SIG,
                     "empty access key");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential=test/2024011x/us-east-1/sqs/aws4_request, " SH
                     ", " SIG,
                     "credential date not digits");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sqs/aws5_request, " SH
                     ", " SIG,
                     "scope terminator");
    expect_auth_fail("AWS4-HMAC-SHA256 Credential=test/20240115//sqs/aws4_request, " SH ", " SIG,
                     "empty region");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, " SIG, "empty SignedHeaders");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x-amz-date, " SIG,
                     "empty signed header name");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, " SIG,
                     "upper-case signed header");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", " SH
                     ", Signature=320899c0f5d50a34ec7e5ddeb079f6cb0db7d3d26aa498263fa907f23e24914",
                     "63-digit signature");
    expect_auth_fail("AWS4-HMAC-SHA256 " CRED ", " SH
                     ", Signature=320899c0f5d50a34ec7e5ddeb079f6cb0db7d3d26aa498263fa907f23e24914g",
                     "non-hex signature");
    nb_sigv4_header h[4];
    nb_sigv4_request r = sqs_post(h, SQS_AUTH, SQS_BODY);
    h[2] = hdr("x-amz-date", "20240115T120000");
    expect_parse_fail(&r, "short x-amz-date");
    h[2] = hdr("x-amz-date", "20241315T120000Z");
    expect_parse_fail(&r, "x-amz-date month 13");
    h[2] = hdr("x-amz-foo", "x");
    expect_parse_fail(&r, "no date header at all");
    r = sqs_post(h, SQS_AUTH, SQS_BODY);
    h[2] = hdr("x-amz-date", "20240116T120000Z");
    expect_verify(&r, "test", NOW + 86400, NB_SIGV4_MALFORMED, "scope date != x-amz-date");
}

static void test_presign_malformed(void)
{
    nb_sigv4_header h[] = { hdr("host", "127.0.0.1:4566") };
    static const char *const bad[] = {
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&"
        "X-Amz-Date=20240115T120000Z&X-Amz-SignedHeaders=host",
        "X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&X-Amz-Date=20240115T120000Z&"
        "X-Amz-SignedHeaders=host&X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be",
        SQS_PRESIGN "&X-Amz-Date=20240115T120000Z",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test/20240115/us-east-1/sqs&"
        "X-Amz-Date=20240115T120000Z&X-Amz-SignedHeaders=host&"
        "X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&"
        "X-Amz-Date=20240115T120000Z&X-Amz-Expires=-5&X-Amz-SignedHeaders=host&"
        "X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240115%2Fus-east-1%2Fsqs%2Faws4_request&"
        "X-Amz-Date=20240115T120000Z&X-Amz-Expires=1000000000000000000000&X-Amz-SignedHeaders=host&"
        "X-Amz-Signature=f451899a424ebb3d63e0b2e17cf7c361b13dcfd7316e7b6dda434a4caa2f59be",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nb_sigv4_request r = mkreq("GET", "/", bad[i], h, 1, NULL);
        char what[64];
        snprintf(what, sizeof what, "malformed presign %zu", i);
        expect_parse_fail(&r, what);
    }
    nb_sigv4_header both[] = { hdr("host", "127.0.0.1:4566"), hdr("authorization", SQS_AUTH),
                               hdr("x-amz-date", "20240115T120000Z") };
    nb_sigv4_request r = mkreq("GET", "/", SQS_PRESIGN, both, 3, NULL);
    expect_parse_fail(&r, "header and presign together");
}

/* A field of n copies of 'a' (n < cap) with prefix/suffix around it. */
static const char *longfield(char *buf, size_t cap, const char *pre, size_t n, const char *post)
{
    size_t lp = strlen(pre), ls = strlen(post);
    if (lp + n + ls + 1 > cap)
        return "";
    memcpy(buf, pre, lp);
    memset(buf + lp, 'a', n);
    memcpy(buf + lp + n, post, ls + 1);
    return buf;
}

static void test_overlong(void)
{
    static char buf[8192];
    expect_auth_fail(longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 Credential=", 128,
                               "/20240115/us-east-1/sqs/aws4_request, " SH ", " SIG),
                     "access key of 128");
    expect_auth_fail(longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 Credential=test/20240115/", 32,
                               "/sqs/aws4_request, " SH ", " SIG),
                     "region of 32");
    expect_auth_fail(longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 Credential=test/20240115/r/", 64,
                               "/aws4_request, " SH ", " SIG),
                     "service of 64");
    expect_auth_fail(longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=", 1024,
                               ", " SIG),
                     "SignedHeaders of 1024");
    expect_auth_fail(longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 " CRED ", " SH ", Signature=", 4000,
                               ""),
                     "signature of 4000");
    /* Just under every limit parses. */
    nb_sigv4_header h[4];
    nb_sigv4_request r = sqs_post(h, longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 Credential=", 127,
                                               "/20240115/us-east-1/sqs/aws4_request, " SH ", " SIG),
                                  SQS_BODY);
    nb_sigv4_cred c;
    const char *why;
    check(nb_sigv4_parse(&r, &c, &why) == 0 && strlen(c.access_key) == 127, "access key of 127");
    r = sqs_post(h, longfield(buf, sizeof buf, "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=", 1023,
                              ", " SIG),
                 SQS_BODY);
    check(nb_sigv4_parse(&r, &c, &why) == 0 && strlen(c.signed_headers) == 1023,
          "SignedHeaders of 1023");
    nb_sigv4_header qh[] = { hdr("host", "h") };
    r = mkreq("GET", "/", longfield(buf, sizeof buf, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=", 5000,
                                    "&X-Amz-Date=20240115T120000Z&X-Amz-SignedHeaders=host&" SIG), qh, 1, NULL);
    expect_parse_fail(&r, "presigned credential of 5000");
    r = mkreq("GET", "/", longfield(buf, sizeof buf, SQS_PRESIGN "&X-Amz-Date=", 17, ""), qh, 1, NULL);
    expect_parse_fail(&r, "presigned date of 17");
    /* Values are bounded by vlen, not by a terminating NUL. */
    r = sqs_post(h, SQS_AUTH, SQS_BODY);
    h[2].value = "20240115T120000Zjunk";
    h[2].vlen = 16;
    expect_verify(&r, "test", NOW, NB_SIGV4_OK, "header value bounded by vlen");
}

static void test_absent(void)
{
    nb_sigv4_header h[4];
    nb_sigv4_request r = mkreq("GET", "/", "Action=ListQueues", NULL, 0, NULL);
    expect_absent(&r, "no credential");
    r = sqs_post(h, "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", SQS_BODY);
    expect_absent(&r, "SigV2 header");
    r = sqs_post(h, "Bearer abc", SQS_BODY);
    expect_absent(&r, "Bearer header");
    r = sqs_post(h, "AWS4-HMAC-SHA256X " CRED ", " SH ", " SIG, SQS_BODY);
    expect_absent(&r, "other algorithm prefix");
    nb_sigv4_header qh[] = { hdr("host", "h") };
    r = mkreq("GET", "/", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=a", qh, 1, NULL);
    expect_absent(&r, "SigV4a presign");
    nb_sigv4_cred c;
    const char *why;
    r = sqs_post(h, SQS_AUTH, SQS_BODY);
    check(nb_sigv4_parse(&r, &c, &why) == 0, "parse before NULL secret");
    check_result(nb_sigv4_verify(&r, &c, NULL, NOW), NB_SIGV4_UNKNOWN_KEY, "NULL secret");
}

int main(void)
{
    test_aws_doc_example();
    test_botocore_post();
    test_header_tolerance();
    test_botocore_quirky_get();
    test_botocore_date_header();
    test_botocore_unsigned_payload();
    test_botocore_content_sha256();
    test_botocore_presign();
    test_botocore_s3_presign();
    test_malformed();
    test_presign_malformed();
    test_overlong();
    test_absent();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
