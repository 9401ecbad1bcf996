/*
 * test_restjson.c — unit test of the rest-json protocol (codec_restjson.c):
 *
 *   nb_rest_match           literal segments, {Label}, greedy {Label+} (with a
 *                           literal tail), query literals ("?versions",
 *                           "?List=ALL"), trailing '/', empty labels
 *   nb_rest_route           Lambda's table: method + most specific template;
 *                           a small model for literal-beats-label and
 *                           greedy-loses-ties
 *   decode                  Lambda Invoke (blob payload, X-Amz-* headers,
 *                           Qualifier), CreateFunction (JSON body, nested
 *                           Code.ZipFile base64), ListFunctions (query
 *                           Marker/MaxItems), GetFunction (percent-decoded
 *                           label); a synthetic model for int/bool/timestamp/
 *                           list/jsonvalue headers, prefixed header maps,
 *                           query lists, timestamps and maps, structure
 *                           payloads; type errors (SerializationException)
 *   encode                  Invoke (StatusCode member -> HTTP status,
 *                           X-Amz-Function-Error, X-Amz-Executed-Version, raw
 *                           payload), CreateFunction 201 JSON, 204 no body,
 *                           header members kept out of the body
 *   error                   Lambda's error bodies ("Type" + "Message" or
 *                           "message"), X-Amzn-ErrorType, modelled status,
 *                           header members of the error (Retry-After)
 *   fixtures                tests/unit/fixtures/restjson/\*.req: requests
 *                           serialized by botocore (tools/gen_restjson_fixtures.py);
 *                           each must route to its operation and decode to
 *                           the tree the awsJson codec gives for the same
 *                           parameters, and pass validation.
 *
 * Each group runs in a forked child (a crash or leak fails the group only).
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/http.h"
#include "core/nimbus.h"
#include "gen/models.h"

static int *counters;
#define passed (counters[0])
#define failed (counters[1])

#include "check.h"

static const nb_model *L = &nb_model_lambda;

/* ---- helpers --------------------------------------------------------------- */

static void check_str(const char *got, const char *want, const char *what)
{
    if (!check(got && strcmp(got, want) == 0, "%s", what))
        printf("  got:  %s\n  want: %s\n", got ? got : "(null)", want);
}

static const char *plain(json_object *o)
{
    return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "(null)";
}

/* A request: "METHOD /path?query", headers "Name: value" (NULL-ended), body. */
static void req_make(nb_req *r, const char *line, const char *const *hdrs, const char *body,
                     size_t blen)
{
    memset(r, 0, sizeof *r);
    const char *sp = strchr(line, ' ');
    snprintf(r->method, sizeof r->method, "%.*s", (int)(sp - line), line);
    nb_buf_adds(&r->url, sp + 1);
    r->path = r->url.data;
    const char *q = memchr(r->url.data, '?', r->url.len);
    r->path_len = q ? (size_t)(q - r->url.data) : r->url.len;
    r->query = q ? q + 1 : "";
    r->query_len = q ? r->url.len - r->path_len - 1 : 0;
    int n = 0;
    while (hdrs && hdrs[n])
        n++;
    r->headers = nb_calloc((size_t)(n ? n : 1), sizeof *r->headers);
    for (int i = 0; i < n; i++) {
        const char *colon = strchr(hdrs[i], ':');
        char *name = nb_strndup(hdrs[i], (size_t)(colon - hdrs[i]));
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        r->headers[i].name = name;
        r->headers[i].value = nb_strdup(v);
        r->headers[i].vlen = strlen(v);
    }
    r->nheaders = n;
    if (body)
        nb_buf_add(&r->body, body, blen);
}

static void req_free(nb_req *r)
{
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    nb_buf_free(&r->url);
    nb_buf_free(&r->body);
    nb_buf_free(&r->rbody);
    nb_buf_free(&r->rhead);
}

static const nb_operation *op_of(const nb_model *m, const char *name)
{
    const nb_operation *op = nb_model_op(m, name, strlen(name));
    if (!op) {
        printf("FATAL: no operation %s\n", name);
        exit(2);
    }
    return op;
}

/* Decode a request for op; the tree, or NULL with err filled. */
static json_object *decode(const nb_model *m, const char *opname, const char *line,
                           const char *const *hdrs, const char *body, size_t blen, nb_error *err)
{
    nb_req r;
    req_make(&r, line, hdrs, body, blen);
    json_object *in = NULL;
    memset(err, 0, sizeof *err);
    int rc = nb_codec_restjson.decode(m, op_of(m, opname), &r, &in, err);
    req_free(&r);
    if (rc != 0) {
        check(in == NULL, "%s: a failed decode returns no tree", opname);
        json_object_put(in);
        return NULL;
    }
    return in;
}

/* Order-independent comparison with an expected tree in JSON text
 * (blobs as raw text, timestamps as numbers). */
static void check_tree(json_object *got, const char *want_json, const char *what)
{
    json_object *want = json_tokener_parse(want_json);
    if (!want) {
        printf("FATAL: bad expected JSON in %s\n", what);
        exit(2);
    }
    if (!check(got && json_object_equal(got, want), "%s", what))
        printf("  got:  %s\n  want: %s\n", plain(got), plain(want));
    json_object_put(want);
}

static bool has_line(const nb_buf *b, const char *line)
{
    if (!b->data)
        return false;
    char *text = nb_strndup(b->data, b->len);
    bool ok = strstr(text, line) != NULL;
    free(text);
    return ok;
}

static void check_body(const nb_req *r, const char *want, const char *what)
{
    char *text = nb_strndup(r->rbody.data ? r->rbody.data : "", r->rbody.len);
    check_str(text, want, what);
    free(text);
}

/* ---- a small model exercising every location and type ------------------------ */

enum { S_BLOB, S_BOOL, S_DOC, S_INT, S_INTLIST, S_MAP, S_STRING, S_STRLIST, S_TIME, S_IN, S_OUT,
       S_PIN, S_INNER, S_NAMED, S_NAMEDITEM, S_NAMEDLIST, S_NSHAPES };

static const nb_member t_members[] = {
    {.name = "member", .shape = S_INT},
    {.name = "key", .shape = S_STRING},
    {.name = "value", .shape = S_STRING},
    {.name = "member", .shape = S_STRING},
    /* In: 4..17 */
    {.name = "Bucket", .wire = "Bucket", .shape = S_STRING, .location = NB_LOC_URI, .flags = NB_M_REQUIRED},
    {.name = "Key", .wire = "Key", .shape = S_STRING, .location = NB_LOC_URI},
    {.name = "Count", .wire = "X-Count", .shape = S_INT, .location = NB_LOC_HEADER},
    {.name = "Flag", .wire = "X-Flag", .shape = S_BOOL, .location = NB_LOC_HEADER},
    {.name = "When", .wire = "X-When", .shape = S_TIME, .location = NB_LOC_HEADER},
    {.name = "Tags", .wire = "X-Tags", .shape = S_STRLIST, .location = NB_LOC_HEADER},
    {.name = "Meta", .wire = "x-meta-", .shape = S_MAP, .location = NB_LOC_HEADERS},
    {.name = "Doc", .wire = "X-Doc", .shape = S_DOC, .location = NB_LOC_HEADER, .flags = NB_M_JSONVALUE},
    {.name = "Since", .wire = "since", .shape = S_TIME, .location = NB_LOC_QUERY},
    {.name = "Ids", .wire = "id", .shape = S_INTLIST, .location = NB_LOC_QUERY},
    {.name = "Rest", .shape = S_MAP, .location = NB_LOC_QUERY},
    {.name = "Name", .shape = S_STRING},
    {.name = "Data", .shape = S_BLOB},
    {.name = "At", .shape = S_TIME},
    /* Out: 18..26 */
    {.name = "Status", .shape = S_INT, .location = NB_LOC_STATUS},
    {.name = "Count", .wire = "X-Count", .shape = S_INT, .location = NB_LOC_HEADER},
    {.name = "When", .wire = "X-When", .shape = S_TIME, .location = NB_LOC_HEADER},
    {.name = "Tags", .wire = "X-Tags", .shape = S_STRLIST, .location = NB_LOC_HEADER},
    {.name = "Meta", .wire = "x-meta-", .shape = S_MAP, .location = NB_LOC_HEADERS},
    {.name = "Doc", .wire = "X-Doc", .shape = S_DOC, .location = NB_LOC_HEADER, .flags = NB_M_JSONVALUE},
    {.name = "Name", .shape = S_STRING},
    {.name = "At", .shape = S_TIME},
    {.name = "Data", .shape = S_BLOB},
    /* PIn: 27..28, Inner: 29..30 */
    {.name = "Id", .wire = "Id", .shape = S_STRING, .location = NB_LOC_URI, .flags = NB_M_REQUIRED},
    {.name = "Body", .shape = S_INNER, .flags = NB_M_PAYLOAD},
    {.name = "A", .shape = S_STRING},
    {.name = "T", .shape = S_TIME},
    /* Named: 31..34, NamedItem: 35..36, NamedList: 37 (API Gateway's
     * lowerCamel JSON body names) */
    {.name = "ApiId", .wire = "apiId", .shape = S_STRING, .location = NB_LOC_URI},
    {.name = "Name", .json = "name", .shape = S_STRING},
    {.name = "At", .json = "createdDate", .shape = S_TIME},
    {.name = "Items", .json = "items", .shape = S_NAMEDLIST},
    {.name = "Key", .json = "key", .shape = S_STRING},
    {.name = "Data", .shape = S_BLOB},
    {.name = "member", .shape = S_NAMEDITEM},
};

static const nb_shape t_shapes[] = {
    [S_BLOB] = {.name = "Blob", .type = NB_T_BLOB},
    [S_BOOL] = {.name = "Bool", .type = NB_T_BOOLEAN},
    [S_DOC] = {.name = "Doc", .type = NB_T_STRING},
    [S_INT] = {.name = "Int", .type = NB_T_INTEGER},
    [S_INTLIST] = {.name = "IntList", .type = NB_T_LIST, .count = 1, .first = 0},
    [S_MAP] = {.name = "Map", .type = NB_T_MAP, .count = 2, .first = 1},
    [S_STRING] = {.name = "String", .type = NB_T_STRING},
    [S_STRLIST] = {.name = "StringList", .type = NB_T_LIST, .count = 1, .first = 3},
    [S_TIME] = {.name = "Time", .type = NB_T_TIMESTAMP},
    [S_IN] = {.name = "In", .type = NB_T_STRUCTURE, .count = 14, .first = 4},
    [S_OUT] = {.name = "Out", .type = NB_T_STRUCTURE, .count = 9, .first = 18},
    [S_PIN] = {.name = "PIn", .type = NB_T_STRUCTURE, .count = 2, .first = 27},
    [S_INNER] = {.name = "Inner", .type = NB_T_STRUCTURE, .count = 2, .first = 29},
    [S_NAMED] = {.name = "Named", .type = NB_T_STRUCTURE, .flags = NB_S_JSON_NAMES, .count = 4,
                 .first = 31},
    [S_NAMEDITEM] = {.name = "NamedItem", .type = NB_T_STRUCTURE, .flags = NB_S_JSON_NAMES,
                     .count = 2, .first = 35},
    [S_NAMEDLIST] = {.name = "NamedList", .type = NB_T_LIST, .count = 1, .first = 37},
};

static const nb_operation t_ops[] = {
    {.name = "GetGreedy", .method = "GET", .uri = "/{Bucket}/{Key+}", .input = S_IN, .output = S_OUT},
    {.name = "GetLiteral", .method = "GET", .uri = "/special/{Key+}", .input = S_IN, .output = S_OUT},
    {.name = "GetSuffix", .method = "GET", .uri = "/{Bucket}/{Key+}/tags", .input = S_IN, .output = S_OUT},
    {.name = "ListBucket", .method = "GET", .uri = "/{Bucket}", .input = S_IN, .output = S_OUT},
    {.name = "ListVersions", .method = "GET", .uri = "/{Bucket}?versions", .input = S_IN, .output = S_OUT},
    {.name = "PutDoc", .method = "PUT", .uri = "/docs/{Id}", .input = S_PIN, .output = S_PIN, .http_status = 201},
    {.name = "PutNamed", .method = "PUT", .uri = "/named/{apiId}", .input = S_NAMED, .output = S_NAMED},
};

static const nb_model T = {
    .service_id = "Test", .endpoint_prefix = "test", .signing_name = "test",
    .protocols = NB_P_REST_JSON,
    .shapes = t_shapes, .nshapes = S_NSHAPES,
    .members = t_members, .nmembers = sizeof t_members / sizeof t_members[0],
    .ops = t_ops, .nops = sizeof t_ops / sizeof t_ops[0],
};

/* ---- templates and routing ---------------------------------------------------- */

static int match(const char *tmpl, const char *target, nb_rest_label *lab)
{
    const char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    return nb_rest_match(tmpl, target, pl, q ? q + 1 : "", q ? strlen(q + 1) : 0, lab,
                         lab ? NB_REST_MAX_LABELS : 0);
}

static bool label_is(const nb_rest_label *l, const char *name, const char *val)
{
    return l->nlen == strlen(name) && memcmp(l->name, name, l->nlen) == 0 &&
           l->vlen == strlen(val) && memcmp(l->val, val, l->vlen) == 0;
}

static void test_match(void)
{
    nb_rest_label lab[NB_REST_MAX_LABELS];
    check(match("/2015-03-31/functions", "/2015-03-31/functions", lab) == 0, "literal");
    check(match("/2015-03-31/functions", "/2015-03-31/functions/", lab) == 0, "extra trailing /");
    check(match("/2015-03-31/functions/", "/2015-03-31/functions", lab) == 0, "missing trailing /");
    check(match("/2015-03-31/functions", "/2015-03-31/function", lab) < 0, "shorter path");
    check(match("/2015-03-31/functions", "/2015-03-31/functionsX", lab) < 0, "longer path");
    check(match("/2015-03-31/functions/{FunctionName}/invocations",
                "/2015-03-31/functions/my-fn/invocations", lab) == 1 &&
              label_is(&lab[0], "FunctionName", "my-fn"),
          "one label");
    check(match("/2015-03-31/functions/{FunctionName}", "/2015-03-31/functions/a%3Ab", lab) == 1 &&
              label_is(&lab[0], "FunctionName", "a%3Ab"),
          "labels captured raw");
    check(match("/2015-03-31/functions/{FunctionName}", "/2015-03-31/functions/", lab) < 0,
          "empty label");
    check(match("/2015-03-31/functions/{FunctionName}", "/2015-03-31/functions/a/b", lab) < 0,
          "a label is one segment");
    check(match("/2015-03-31/functions/{FunctionName}/aliases/{Name}",
                "/2015-03-31/functions/f/aliases/prod", lab) == 2 &&
              label_is(&lab[0], "FunctionName", "f") && label_is(&lab[1], "Name", "prod"),
          "two labels");
    check(match("/{Bucket}/{Key+}", "/b/a/b/c.txt", lab) == 2 && label_is(&lab[0], "Bucket", "b") &&
              label_is(&lab[1], "Key", "a/b/c.txt"),
          "greedy label");
    check(match("/{Bucket}/{Key+}", "/b/", lab) < 0, "empty greedy label");
    check(match("/{Bucket}/{Key+}/tags", "/b/x/y/tags", lab) == 2 && label_is(&lab[1], "Key", "x/y"),
          "greedy label with a literal tail");
    check(match("/{Bucket}/{Key+}/tags", "/b/tags", lab) < 0, "greedy tail needs a label");
    check(match("/{Name}.json", "/abc.json", lab) == 1 && label_is(&lab[0], "Name", "abc"),
          "label followed by a literal in its segment");
    check(match("/{Bucket}?versions", "/b?versions", lab) == 1, "query literal");
    check(match("/{Bucket}?versions", "/b?max=1&versions=", lab) == 1, "query literal with =");
    check(match("/{Bucket}?versions", "/b?version", lab) < 0, "query literal missing");
    check(match("/{Bucket}?versions", "/b", lab) < 0, "no query");
    check(match("/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL",
                "/2019-09-30/functions/f/provisioned-concurrency?MaxItems=5&List=ALL", lab) == 1,
          "query literal value");
    check(match("/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL",
                "/2019-09-30/functions/f/provisioned-concurrency?List=SOME", lab) < 0,
          "query literal value differs");
    check(match("/2018-10-31/layers?find=LayerVersion", "/2018-10-31/layers?find=LayerVersion&Arn=x",
                NULL) == 0,
          "no label buffer");
}

static void check_route(const nb_model *m, const char *line, const char *want)
{
    nb_req r;
    req_make(&r, line, NULL, NULL, 0);
    const nb_operation *op = nb_rest_route(m, r.method, r.path, r.path_len, r.query, r.query_len);
    if (!want)
        check(op == NULL, "%s: no route (got %s)", line, op ? op->name : "-");
    else if (!check(op && strcmp(op->name, want) == 0, "%s -> %s", line, want))
        printf("  got: %s\n", op ? op->name : "(none)");
    req_free(&r);
}

static void test_route(void)
{
    check_route(L, "POST /2015-03-31/functions/my-fn/invocations", "Invoke");
    check_route(L, "POST /2015-03-31/functions", "CreateFunction");
    check_route(L, "GET /2015-03-31/functions", "ListFunctions");
    check_route(L, "GET /2015-03-31/functions/?MaxItems=1", "ListFunctions");
    check_route(L, "GET /2015-03-31/functions/f", "GetFunction");
    check_route(L, "DELETE /2015-03-31/functions/f", "DeleteFunction");
    check_route(L, "PUT /2015-03-31/functions/f", NULL);
    check_route(L, "GET /2015-03-31/functions/f/versions", "ListVersionsByFunction");
    check_route(L, "GET /2015-03-31/functions/f/configuration", "GetFunctionConfiguration");
    check_route(L, "GET /2015-03-31/functions/f/aliases/a", "GetAlias");
    check_route(L, "GET /2019-09-30/functions/f/provisioned-concurrency?List=ALL",
                "ListProvisionedConcurrencyConfigs");
    check_route(L, "GET /2019-09-30/functions/f/provisioned-concurrency?Qualifier=1",
                "GetProvisionedConcurrencyConfig");
    check_route(L, "GET /2018-10-31/layers?find=LayerVersion&Arn=x", "GetLayerVersionByArn");
    check_route(L, "GET /2018-10-31/layers", "ListLayers");
    check_route(L, "GET /2018-10-31/layers/l/versions/3", "GetLayerVersion");
    check_route(L, "GET /2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af", "ListTags");
    check_route(L, "GET /nope", NULL);
    check_route(L, "GET /", NULL);
    check_route(L, "GET /2015-03-31/functions/f/nope", NULL);
    /* Specificity on the small model. */
    check_route(&T, "GET /b/k", "GetGreedy");
    check_route(&T, "GET /special/k/x", "GetLiteral");
    check_route(&T, "GET /b/k/x/tags", "GetSuffix");
    check_route(&T, "GET /b", "ListBucket");
    check_route(&T, "GET /b?versions", "ListVersions");
    check_route(&T, "PUT /docs/1", "PutDoc");
    check_route(&T, "POST /docs/1", NULL);
}

/* ---- decoding ------------------------------------------------------------------ */

static void test_decode_lambda(void)
{
    nb_error err;
    const char *inv_h[] = {"X-Amz-Invocation-Type: Event", "X-Amz-Log-Type: Tail",
                           "X-Amz-Client-Context: eyJhIjoxfQ==", "Content-Type: application/json",
                           NULL};
    json_object *in = decode(L, "Invoke", "POST /2015-03-31/functions/my-fn/invocations?Qualifier=%24LATEST",
                             inv_h, "{\"k\": 1}", 8, &err);
    check_tree(in,
               "{\"FunctionName\":\"my-fn\",\"InvocationType\":\"Event\",\"LogType\":\"Tail\","
               "\"ClientContext\":\"eyJhIjoxfQ==\",\"Qualifier\":\"$LATEST\",\"Payload\":\"{\\\"k\\\": 1}\"}",
               "Invoke: payload blob raw, headers, query");
    json_object_put(in);

    /* A binary payload keeps its bytes (NUL included); no payload, no member. */
    in = decode(L, "Invoke", "POST /2015-03-31/functions/f/invocations", NULL, "a\0b", 3, &err);
    json_object *p = json_object_object_get(in, "Payload");
    check(p && json_object_get_string_len(p) == 3 && memcmp(json_object_get_string(p), "a\0b", 3) == 0,
          "Invoke: binary payload");
    json_object_put(in);
    in = decode(L, "Invoke", "POST /2015-03-31/functions/f/invocations", NULL, NULL, 0, &err);
    check_tree(in, "{\"FunctionName\":\"f\"}", "Invoke: empty payload");
    json_object_put(in);

    const char *body = "{\"FunctionName\":\"f\",\"Runtime\":\"python3.12\",\"Role\":\"arn:aws:iam::1:role/r\","
                       "\"Handler\":\"h\",\"Code\":{\"ZipFile\":\"UEsDBA==\"},\"Timeout\":3}";
    in = decode(L, "CreateFunction", "POST /2015-03-31/functions", NULL, body, strlen(body), &err);
    json_object *zip = json_object_object_get(json_object_object_get(in, "Code"), "ZipFile");
    check(zip && json_object_get_string_len(zip) == 4 && memcmp(json_object_get_string(zip), "PK\3\4", 4) == 0,
          "CreateFunction: Code.ZipFile base64 -> raw bytes");
    check(nb_validate(L, op_of(L, "CreateFunction")->input, in, &err) == 0, "CreateFunction validates");
    json_object_put(in);

    body = "{\"FunctionName\":\"f\",\"Timeout\":\"3\"}";
    in = decode(L, "CreateFunction", "POST /2015-03-31/functions", NULL, body, strlen(body), &err);
    check(!in && strcmp(err.code, "SerializationException") == 0 && err.status == 400,
          "CreateFunction: string for an integer -> SerializationException");
    check_str(err.message, "Unexpected value type for Timeout: expected integer", "message of the type error");
    in = decode(L, "CreateFunction", "POST /2015-03-31/functions", NULL, "{", 1, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "CreateFunction: truncated JSON");
    in = decode(L, "CreateFunction", "POST /2015-03-31/functions", NULL, "[1]", 3, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "CreateFunction: array body");

    in = decode(L, "ListFunctions", "GET /2015-03-31/functions/?Marker=a%2Fb%3D&MaxItems=25", NULL,
                NULL, 0, &err);
    check_tree(in, "{\"Marker\":\"a/b=\",\"MaxItems\":25}", "ListFunctions: query Marker/MaxItems");
    json_object_put(in);
    in = decode(L, "ListFunctions", "GET /2015-03-31/functions/?MaxItems=ten", NULL, NULL, 0, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "ListFunctions: MaxItems=ten");
    in = decode(L, "ListFunctions", "GET /2015-03-31/functions/?MaxItems=99999999999", NULL, NULL, 0, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "ListFunctions: MaxItems beyond int32");
    in = decode(L, "ListFunctions", "GET /2015-03-31/functions/?Marker=%zz", NULL, NULL, 0, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "ListFunctions: bad escape");

    in = decode(L, "GetFunction",
                "GET /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af%2Bg?Qualifier=1",
                NULL, NULL, 0, &err);
    check_tree(in, "{\"FunctionName\":\"arn:aws:lambda:us-east-1:000000000000:function:f+g\",\"Qualifier\":\"1\"}",
               "GetFunction: label percent-decoded ('+' stays '+')");
    json_object_put(in);
    in = decode(L, "GetFunction", "GET /2015-03-31/functions/a%2", NULL, NULL, 0, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "GetFunction: bad escape in a label");

    in = decode(L, "GetLayerVersion", "GET /2018-10-31/layers/l/versions/12", NULL, NULL, 0, &err);
    check_tree(in, "{\"LayerName\":\"l\",\"VersionNumber\":12}", "GetLayerVersion: long label");
    json_object_put(in);
    in = decode(L, "GetLayerVersion", "GET /2018-10-31/layers/l/versions/x", NULL, NULL, 0, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "GetLayerVersion: non-numeric label");

    /* A label that does not match leaves the member out: validation names it. */
    in = decode(L, "GetFunction", "GET /elsewhere", NULL, NULL, 0, &err);
    check(in && nb_validate(L, op_of(L, "GetFunction")->input, in, &err) != 0 &&
              strcmp(err.code, "ValidationException") == 0,
          "GetFunction without its label fails validation");
    json_object_put(in);

    in = decode(L, "UntagResource", "DELETE /2017-03-31/tags/arn?tagKeys=a&tagKeys=b%20c&tagKeys=a", NULL,
                NULL, 0, &err);
    check_tree(in, "{\"Resource\":\"arn\",\"TagKeys\":[\"a\",\"b c\",\"a\"]}", "UntagResource: repeated query list in order");
    json_object_put(in);

    /* Body keys named like located members do not become those members. */
    body = "{\"Qualifier\":\"9\",\"FunctionName\":\"x\"}";
    in = decode(L, "DeleteFunction", "DELETE /2015-03-31/functions/f", NULL, body, strlen(body), &err);
    check_tree(in, "{\"FunctionName\":\"f\"}", "DeleteFunction: body ignored (no body members)");
    json_object_put(in);
    body = "{\"Description\":\"d\",\"FunctionName\":\"x\"}";
    in = decode(L, "PublishVersion", "POST /2015-03-31/functions/f/versions", NULL, body, strlen(body), &err);
    check_tree(in, "{\"FunctionName\":\"f\",\"Description\":\"d\"}", "PublishVersion: label wins over body key");
    json_object_put(in);
}

static void test_decode_generic(void)
{
    nb_error err;
    const char *h[] = {"X-Count: -7", "X-Flag: true", "X-When: Tue, 14 Nov 2023 22:13:20 GMT",
                       "X-Tags: a, \"b,c\", d", "x-meta-Color: red", "X-Meta-Size: 3",
                       "X-Doc: eyJhIjpbMSx0cnVlXX0=", "Content-Type: application/json", NULL};
    const char *body = "{\"Name\":\"n\",\"Data\":\"aGk=\",\"At\":1700000000.5}";
    json_object *in = decode(&T, "GetGreedy",
                             "GET /bk/dir/file%20name.txt?since=2023-11-14T22:13:20Z&id=1&id=2&x=y&x=z&w=1",
                             h, body, strlen(body), &err);
    check_tree(in,
               "{\"Bucket\":\"bk\",\"Key\":\"dir/file name.txt\",\"Count\":-7,\"Flag\":true,"
               "\"When\":1700000000.0,\"Tags\":[\"a\",\"b,c\",\"d\"],\"Meta\":{\"color\":\"red\",\"size\":\"3\"},"
               "\"Doc\":{\"a\":[1,true]},\"Since\":1700000000.0,\"Ids\":[1,2],\"Rest\":{\"x\":\"y\",\"w\":\"1\"},"
               "\"Name\":\"n\",\"Data\":\"hi\",\"At\":1700000000.5}",
               "every location and type");
    json_object_put(in);

    struct { const char *hdr, *what; } bad[] = {
        {"X-Count: 1.5", "int header 1.5"},     {"X-Count: ", "empty int header"},
        {"X-Flag: yes", "bool header yes"},     {"X-When: yesterday", "timestamp header"},
        {"X-Doc: !!!", "jsonvalue not base64"}, {"X-Doc: e30", "jsonvalue bad base64 padding"},
        {"X-Doc: eyJh", "jsonvalue truncated JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *hh[] = {bad[i].hdr, NULL};
        in = decode(&T, "ListBucket", "GET /b", hh, NULL, 0, &err);
        check(!in && strcmp(err.code, "SerializationException") == 0, "%s -> SerializationException", bad[i].what);
        json_object_put(in);
    }
    const char *ts[] = {"X-When: 1700000000", NULL};
    in = decode(&T, "ListBucket", "GET /b?since=1700000000", ts, NULL, 0, &err);
    check_tree(in, "{\"Bucket\":\"b\",\"When\":1700000000.0,\"Since\":1700000000.0}", "epoch timestamps accepted");
    json_object_put(in);
    in = decode(&T, "ListBucket", "GET /b?id=x", NULL, NULL, 0, &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "query list element type");
    in = decode(&T, "ListVersions", "GET /b?versions&p=1", NULL, NULL, 0, &err);
    check_tree(in, "{\"Bucket\":\"b\",\"Rest\":{\"p\":\"1\"}}", "query map leaves out template literals");
    json_object_put(in);
    body = "{\"Data\":5}";
    in = decode(&T, "ListBucket", "GET /b", NULL, body, strlen(body), &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "blob body member given a number");

    /* Structure payload: the whole body is the member. */
    body = "{\"A\":\"x\",\"T\":\"2023-11-14T22:13:20Z\"}";
    in = decode(&T, "PutDoc", "PUT /docs/7", NULL, body, strlen(body), &err);
    check_tree(in, "{\"Id\":\"7\",\"Body\":{\"A\":\"x\",\"T\":1700000000.0}}", "structure payload");
    json_object_put(in);
    body = "{\"A\":1}";
    in = decode(&T, "PutDoc", "PUT /docs/7", NULL, body, strlen(body), &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "structure payload type error");
    in = decode(&T, "PutDoc", "PUT /docs/7", NULL, NULL, 0, &err);
    check_tree(in, "{\"Id\":\"7\"}", "structure payload absent");
    json_object_put(in);
}

/* ---- encoding --------------------------------------------------------------------- */

static void encode(const nb_model *m, const char *opname, const char *out_json, nb_req *r)
{
    req_make(r, "GET /", NULL, NULL, 0);
    json_object *out = out_json ? json_tokener_parse(out_json) : NULL;
    nb_codec_restjson.encode(m, op_of(m, opname), r, out);
    json_object_put(out);
}

static void test_encode(void)
{
    nb_req r;
    json_object *out = json_object_new_object();
    json_object_object_add(out, "StatusCode", json_object_new_int(200));
    json_object_object_add(out, "FunctionError", json_object_new_string("Unhandled"));
    json_object_object_add(out, "ExecutedVersion", json_object_new_string("$LATEST"));
    json_object_object_add(out, "LogResult", json_object_new_string("bG9n\r\nX-Evil: 1"));
    json_object_object_add(out, "Payload", json_object_new_string_len("{\"e\":\0}", 7));
    req_make(&r, "POST /", NULL, NULL, 0);
    nb_codec_restjson.encode(L, op_of(L, "Invoke"), &r, out);
    json_object_put(out);
    check(r.status == 200, "Invoke: StatusCode 200");
    check(has_line(&r.rhead, "X-Amz-Function-Error: Unhandled\r\n"), "Invoke: X-Amz-Function-Error");
    check(has_line(&r.rhead, "X-Amz-Executed-Version: $LATEST\r\n"), "Invoke: X-Amz-Executed-Version");
    check(has_line(&r.rhead, "X-Amz-Log-Result: bG9nX-Evil: 1\r\n") && !has_line(&r.rhead, "\nX-Evil"),
          "Invoke: CR/LF dropped from header values");
    check(r.rbody.len == 7 && memcmp(r.rbody.data, "{\"e\":\0}", 7) == 0, "Invoke: raw payload body");
    check(!has_line(&r.rhead, "StatusCode"), "Invoke: StatusCode is not a header");
    req_free(&r);

    encode(L, "Invoke", "{\"StatusCode\":202}", &r);
    check(r.status == 202 && r.rbody.len == 0, "Invoke Event: 202, empty body");
    req_free(&r);
    encode(L, "Invoke", "{\"StatusCode\":99}", &r);
    check(r.status == 200, "StatusCode out of range ignored");
    req_free(&r);

    encode(L, "CreateFunction", "{\"FunctionName\":\"f\",\"MemorySize\":128,\"Layers\":[]}", &r);
    check(r.status == 201, "CreateFunction: 201");
    check_body(&r, "{\"FunctionName\":\"f\",\"MemorySize\":128,\"Layers\":[]}", "CreateFunction body");
    check_str(r.content_type, "application/json", "content type");
    req_free(&r);

    encode(L, "DeleteAlias", NULL, &r);
    check(r.status == 204 && r.rbody.len == 0, "DeleteAlias: 204, no body");
    req_free(&r);
    encode(L, "ListFunctions", NULL, &r);
    check(r.status == 200, "ListFunctions: 200");
    check_body(&r, "{}", "empty output with body members: {}");
    req_free(&r);
    encode(L, "DeleteFunction", "{\"StatusCode\":204}", &r);
    check(r.status == 204 && r.rbody.len == 0, "DeleteFunction: StatusCode member 204");
    req_free(&r);

    /* Every header type, a prefixed map, body timestamps and blobs. */
    out = json_object_new_object();
    json_object_object_add(out, "Status", json_object_new_int(206));
    json_object_object_add(out, "Count", json_object_new_int(3));
    json_object_object_add(out, "When", json_object_new_double(1700000000.0));
    json_object *tags = json_object_new_array();
    json_object_array_add(tags, json_object_new_string("a"));
    json_object_array_add(tags, json_object_new_string("b,c"));
    json_object_object_add(out, "Tags", tags);
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "color", json_object_new_string("red"));
    json_object_object_add(meta, "bad name", json_object_new_string("x"));
    json_object_object_add(out, "Meta", meta);
    json_object_object_add(out, "Doc", json_tokener_parse("{\"a\":1}"));
    json_object_object_add(out, "Name", json_object_new_string("n"));
    json_object_object_add(out, "At", json_object_new_double(1700000000.5));
    json_object_object_add(out, "Data", json_object_new_string("hi"));
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.encode(&T, op_of(&T, "GetGreedy"), &r, out);
    json_object_put(out);
    check(r.status == 206, "status member");
    check(has_line(&r.rhead, "X-Count: 3\r\n"), "int header");
    check(has_line(&r.rhead, "X-When: Tue, 14 Nov 2023 22:13:20 GMT\r\n"), "timestamp header (RFC 7231)");
    check(has_line(&r.rhead, "X-Tags: a, \"b,c\"\r\n"), "list header");
    check(has_line(&r.rhead, "x-meta-color: red\r\n") && !has_line(&r.rhead, "bad name"),
          "prefixed headers (bad names skipped)");
    check(has_line(&r.rhead, "X-Doc: eyJhIjoxfQ==\r\n"), "jsonvalue header");
    check_body(&r, "{\"Name\":\"n\",\"At\":1700000000.500,\"Data\":\"aGk=\"}", "body members only");
    req_free(&r);

    encode(&T, "PutDoc", "{\"Id\":\"7\",\"Body\":{\"A\":\"x\",\"T\":1700000000.0}}", &r);
    check(r.status == 201, "PutDoc 201");
    check_body(&r, "{\"A\":\"x\",\"T\":1700000000}", "structure payload output");
    req_free(&r);
}

static void test_errors(void)
{
    nb_req r;
    nb_error e = {0};
    nb_err_set(&e, 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:1:function:f");
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.error(L, &r, &e);
    check(r.status == 404, "404");
    check(has_line(&r.rhead, "X-Amzn-ErrorType: ResourceNotFoundException\r\n"), "X-Amzn-ErrorType");
    check_body(&r, "{\"Type\":\"User\",\"Message\":\"Function not found: arn:aws:lambda:us-east-1:1:function:f\"}",
               "ResourceNotFoundException body (Message)");
    req_free(&r);

    nb_err_set(&e, 400, "InvalidParameterValueException", "bad");
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.error(L, &r, &e);
    check_body(&r, "{\"Type\":\"User\",\"message\":\"bad\"}", "InvalidParameterValueException body (message)");
    req_free(&r);

    nb_err_set(&e, 500, "ServiceException", "oops");
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.error(L, &r, &e);
    check(r.status == 500, "500");
    check_body(&r, "{\"Type\":\"Service\",\"Message\":\"oops\"}", "ServiceException: Type Service");
    req_free(&r);

    nb_err_set(&e, 429, "TooManyRequestsException", "Rate exceeded");
    e.detail = json_tokener_parse("{\"retryAfterSeconds\":\"3\",\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\"}");
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.error(L, &r, &e);
    check(r.status == 429, "429");
    check(has_line(&r.rhead, "Retry-After: 3\r\n"), "error header member");
    check_body(&r, "{\"Type\":\"User\",\"message\":\"Rate exceeded\",\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\"}",
               "error detail members in the body");
    json_object_put(e.detail);
    e.detail = NULL;
    req_free(&r);

    nb_err_set(&e, 404, "UnknownOperationException", "The requested resource does not exist");
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.error(NULL, &r, &e);
    check(r.status == 404 && has_line(&r.rhead, "X-Amzn-ErrorType: UnknownOperationException\r\n"),
          "no model: status and type");
    check_body(&r, "{\"message\":\"The requested resource does not exist\"}", "no model: message only");
    req_free(&r);

    nb_err_set(&e, 400, "ValidationException", "1 validation error detected");
    req_make(&r, "GET /", NULL, NULL, 0);
    nb_codec_restjson.error(L, &r, &e);
    check_body(&r, "{\"message\":\"1 validation error detected\"}", "unmodelled error");
    req_free(&r);
}

/* ---- botocore fixtures ------------------------------------------------------------ */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    nb_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        nb_buf_add(&b, chunk, n);
    fclose(f);
    nb_buf_addc(&b, 0);
    return b.data;
}

static void run_fixture(const char *path)
{
    char *text = read_file(path);
    if (!check(text != NULL, "read %s", path))
        return;
    char op[128] = "", line[4096] = "", *expect = NULL;
    const char *hdrs[64];
    int nh = 0;
    nb_buf body = {0};
    char method[16] = "";
    for (char *s = text, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        if (strncmp(s, "op ", 3) == 0)
            snprintf(op, sizeof op, "%s", s + 3);
        else if (strncmp(s, "method ", 7) == 0)
            snprintf(method, sizeof method, "%s", s + 7);
        else if (strncmp(s, "target ", 7) == 0)
            snprintf(line, sizeof line, "%s %s", method, s + 7);
        else if (strncmp(s, "header ", 7) == 0 && nh < 63)
            hdrs[nh++] = s + 7;
        else if (strncmp(s, "body ", 5) == 0 && s[5]) {
            size_t n = 0;
            unsigned char *raw = nb_base64_decode(s + 5, strlen(s + 5), &n);
            if (raw)
                nb_buf_add(&body, raw, n);
            free(raw);
        } else if (strncmp(s, "expect ", 7) == 0)
            expect = s + 7;
    }
    hdrs[nh] = NULL;
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    nb_req r;
    req_make(&r, line, hdrs, body.data, body.len);
    const nb_operation *o = nb_rest_route(L, r.method, r.path, r.path_len, r.query, r.query_len);
    if (!check(o && strcmp(o->name, op) == 0, "%s: routes to %s", name, op))
        printf("  got: %s\n", o ? o->name : "(none)");
    nb_error err = {0};
    json_object *in = NULL, *want = NULL;
    if (o && nb_codec_restjson.decode(L, o, &r, &in, &err) != 0)
        check(false, "%s: decode: %s: %s", name, err.code, err.message);
    if (in && expect && nb_json_decode_text(L, o->input, expect, strlen(expect), &want, &err) == 0) {
        if (!check(json_object_equal(in, want), "%s: same tree as awsJson", name))
            printf("  got:  %s\n  want: %s\n", plain(in), plain(want));
        check(nb_validate(L, o->input, in, &err) == 0, "%s: validates (%s)", name, err.message);
    } else if (in) {
        check(false, "%s: expected tree: %s", name, err.message);
    }
    json_object_put(in);
    json_object_put(want);
    req_free(&r);
    nb_buf_free(&body);
    free(text);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_fixtures(void)
{
    const char *dir = getenv("RESTJSON_FIXTURES");
    if (!dir)
        dir = "tests/unit/fixtures/restjson";
    DIR *d = opendir(dir);
    if (!check(d != NULL, "fixture directory %s", dir))
        return;
    char *names[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 256;) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".req") == 0)
            names[n++] = nb_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], name_cmp);
    check(n >= 30, "at least 30 fixtures (%d)", n);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        run_fixture(path);
        free(names[i]);
    }
}

/* ---- driver ------------------------------------------------------------------------- */

static void run_group(const char *name, void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL: %s: fork\n", name);
        failed++;
        return;
    }
    if (pid == 0) {
        fn();
        nb_rest_free();
        nb_json_free();
        nb_validate_free();
        nb_crypto_free();
        fflush(stdout);
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("FAIL: %s: child %s %d (crash, sanitizer report or leak above)\n", name,
               WIFEXITED(st) ? "exited with" : "killed by signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        failed++;
    }
}

/* JSON body names (the model's locationName of body members): the wire
 * names in, the member names in the tree, the wire names out again. */
static void test_json_names(void)
{
    nb_error err;
    const char *bodies[] = {
        /* the fast decoder's subset */
        "{\"name\":\"n\",\"createdDate\":\"2023-11-14T22:13:20Z\","
        "\"items\":[{\"key\":\"k\",\"Data\":\"aGk=\"}],\"Name\":\"other\"}",
        /* a \u escape: the strict path */
        "{\"name\":\"\\u006e\",\"createdDate\":\"2023-11-14T22:13:20Z\","
        "\"items\":[{\"key\":\"k\",\"Data\":\"aGk=\"}],\"Name\":\"other\"}",
    };
    for (int i = 0; i < 2; i++) {
        json_object *in = decode(&T, "PutNamed", "PUT /named/a1", NULL, bodies[i],
                                 strlen(bodies[i]), &err);
        check_tree(in,
                   "{\"ApiId\":\"a1\",\"Name\":\"n\",\"At\":1700000000.0,"
                   "\"Items\":[{\"Key\":\"k\",\"Data\":\"hi\"}]}",
                   i ? "JSON names decoded (strict path)" : "JSON names decoded (fast path)");
        json_object_put(in);
    }
    /* A member name on the wire is not the member. */
    const char *body = "{\"Name\":\"n\"}";
    json_object *in = decode(&T, "PutNamed", "PUT /named/a1", NULL, body, strlen(body), &err);
    check(in && !json_object_object_get_ex(in, "Name", NULL) &&
              !json_object_object_get_ex(in, "name", NULL), "member name on the wire ignored");
    json_object_put(in);
    body = "{\"Name\":\"\\u006e\"}";
    in = decode(&T, "PutNamed", "PUT /named/a1", NULL, body, strlen(body), &err);
    check(in && !json_object_object_get_ex(in, "Name", NULL),
          "member name on the wire ignored (strict path)");
    json_object_put(in);
    body = "{\"items\":[{\"key\":5}]}";
    in = decode(&T, "PutNamed", "PUT /named/a1", NULL, body, strlen(body), &err);
    check(!in && strcmp(err.code, "SerializationException") == 0, "type error under a JSON name");

    nb_req r;
    encode(&T, "PutNamed",
           "{\"ApiId\":\"a1\",\"Name\":\"n\",\"At\":1700000000,"
           "\"Items\":[{\"Key\":\"k\",\"Data\":\"hi\"}]}", &r);
    char *text = nb_strndup(r.rbody.data ? r.rbody.data : "", r.rbody.len);
    json_object *o = json_tokener_parse(text);
    free(text);
    check_tree(o, "{\"name\":\"n\",\"createdDate\":1700000000,"
                  "\"items\":[{\"key\":\"k\",\"Data\":\"aGk=\"}]}",
               "JSON names encoded");
    json_object_put(o);
    req_free(&r);
}

int main(void)
{
    counters = mmap(NULL, 2 * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counters == MAP_FAILED)
        return 2;
    nb_cfg.log_level = NB_LOG_ERROR;
    run_group("templates", test_match);
    run_group("routing", test_route);
    run_group("decode lambda", test_decode_lambda);
    run_group("decode generic", test_decode_generic);
    run_group("encode", test_encode);
    run_group("errors", test_errors);
    run_group("JSON body names", test_json_names);
    run_group("botocore fixtures", test_fixtures);
    int p = passed, f = failed;
    munmap(counters, 2 * sizeof(int));
    printf("%d passed, %d failed\n", p, f);
    return f ? 1 : 0;
}
