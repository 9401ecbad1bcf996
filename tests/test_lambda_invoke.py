"""Lambda execution: functions run as local processes on the Runtime API.

Python and Node functions run on nimbus's shims; a C `provided.al2023`
bootstrap is compiled here.  Covers results and errors in AWS's shapes,
logs (Tail and CloudWatch Logs), the environment, warm reuse, timeouts,
crashes, throttling, the SDK inside a function calling nimbus, and
asynchronous invocation with retries and destinations.
"""
import base64
import concurrent.futures
import io
import json
import os
import pathlib
import shutil
import subprocess
import time
import zipfile

import botocore
import pytest

from conftest import BOTO_GEN

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            mode = 0o755 if name == "bootstrap" else 0o644
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, body)
    return buf.getvalue()


PY_ECHO = '''
import json, os
count = 0
def handler(event, context):
    global count
    count += 1
    print("got", json.dumps(event))
    return {"event": event, "count": count, "pid": os.getpid(),
            "request_id": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
            "name": context.function_name, "version": context.function_version,
            "group": context.log_group_name, "stream": context.log_stream_name,
            "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_ENDPOINT_URL", "_HANDLER",
                    "LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID",
                    "GREETING", "AWS_EXECUTION_ENV")}}
'''


@pytest.fixture
def lmb(client):
    return client("lambda")


def make_fn(lmb, name, files, runtime="python3.12", handler="app.handler", **kw):
    lmb.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": zip_of(files)}, **kw)
    lmb.get_waiter("function_active_v2").wait(FunctionName=name)


def invoke(lmb, name, payload=None, **kw):
    args = {"FunctionName": name}
    if payload is not None:
        args["Payload"] = json.dumps(payload).encode()
    args.update(kw)
    r = lmb.invoke(**args)
    body = r["Payload"].read()
    return r, json.loads(body) if body else None


def test_python_result_context_and_environment(lmb):
    make_fn(lmb, "echo", {"app.py": PY_ECHO}, Environment={"Variables": {"GREETING": "hi"}},
            MemorySize=256, Timeout=7)
    r, out = invoke(lmb, "echo", {"a": 1})
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert out["event"] == {"a": 1}
    assert out["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:echo"
    assert out["memory"] == "256"
    assert 0 < out["remaining"] <= 7000
    assert out["name"] == "echo" and out["version"] == "$LATEST"
    assert out["group"] == "/aws/lambda/echo"
    assert "[$LATEST]" in out["stream"]
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["_HANDLER"] == "app.handler"
    assert env["GREETING"] == "hi"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert len(out["request_id"]) == 36


def test_warm_instance_is_reused_and_update_starts_fresh(lmb):
    make_fn(lmb, "warm", {"app.py": PY_ECHO})
    _, a = invoke(lmb, "warm", {})
    _, b = invoke(lmb, "warm", {})
    assert b["pid"] == a["pid"] and b["count"] == a["count"] + 1
    lmb.update_function_configuration(FunctionName="warm", Environment={"Variables": {"GREETING": "new"}})
    lmb.get_waiter("function_updated_v2").wait(FunctionName="warm")
    _, c = invoke(lmb, "warm", {})
    assert c["pid"] != a["pid"] and c["count"] == 1 and c["env"]["GREETING"] == "new"
    lmb.update_function_code(FunctionName="warm", ZipFile=zip_of(
        {"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    lmb.get_waiter("function_updated_v2").wait(FunctionName="warm")
    _, d = invoke(lmb, "warm", {})
    assert d == "v2"


def test_qualifier_and_published_versions(lmb):
    make_fn(lmb, "ver", {"app.py": "def handler(e, c):\n    return c.function_version\n"})
    v1 = lmb.publish_version(FunctionName="ver")["Version"]
    lmb.update_function_code(FunctionName="ver", ZipFile=zip_of(
        {"app.py": "def handler(e, c):\n    return 'latest:' + c.function_version\n"}))
    lmb.get_waiter("function_updated_v2").wait(FunctionName="ver")
    r, out = invoke(lmb, "ver", Qualifier=v1)
    assert out == v1 and r["ExecutedVersion"] == v1
    r, out = invoke(lmb, "ver")
    assert out == "latest:$LATEST"
    lmb.create_alias(FunctionName="ver", Name="live", FunctionVersion=v1)
    r, out = invoke(lmb, "ver:live")
    assert out == v1 and r["ExecutedVersion"] == v1


def test_handler_exception_shape_and_tail_log(lmb):
    make_fn(lmb, "boom", {"app.py": "def handler(e, c):\n    print('about to fail')\n"
                                    "    raise ValueError('bad input')\n"})
    r, out = invoke(lmb, "boom", {}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "bad input"
    assert any("raise ValueError" in line for line in out["stackTrace"])
    log = base64.b64decode(r["LogResult"]).decode()
    assert "START RequestId:" in log and "END RequestId:" in log and "REPORT RequestId:" in log
    assert "about to fail" in log
    assert "[ERROR] ValueError: bad input" in log
    assert "Duration:" in log and "Memory Size: 128 MB" in log and "Init Duration:" in log


@pytest.mark.parametrize("files,handler,etype,msg", [
    ({"app.py": "x = 1\n"}, "missing.handler", "Runtime.ImportModuleError",
     "Unable to import module 'missing': No module named 'missing'"),
    ({"app.py": "x = 1\n"}, "app.handler", "Runtime.HandlerNotFound",
     "Handler 'handler' missing on module 'app'"),
    ({"app.py": "def handler(e, c:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", None),
    ({"app.py": "x = 1\n"}, "nodot", "Runtime.MalformedHandlerName", None),
])
def test_python_init_errors(lmb, files, handler, etype, msg):
    make_fn(lmb, "initerr", files, handler=handler)
    r, out = invoke(lmb, "initerr", {}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    # The REPORT of an invocation that never reached the handler still
    # gives a real duration.
    report = [ln for ln in base64.b64decode(r["LogResult"]).decode().splitlines()
              if ln.startswith("REPORT")]
    assert report
    ms = float(report[-1].split("Duration: ")[1].split(" ms")[0])
    assert 0 <= ms < 30000, report
    assert out["errorType"] == etype
    if msg:
        assert out["errorMessage"] == msg


def test_marshal_error(lmb):
    make_fn(lmb, "marshal", {"app.py": "def handler(e, c):\n    return {1, 2}\n"})
    r, out = invoke(lmb, "marshal", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.MarshalError"
    assert out["errorMessage"].startswith("Unable to marshal response:")


def test_timeout_kills_and_next_invoke_starts_fresh(lmb):
    make_fn(lmb, "slow", {"app.py": "import time, os\n"
                                    "def handler(e, c):\n"
                                    "    if e.get('sleep'): time.sleep(e['sleep'])\n"
                                    "    return os.getpid()\n"}, Timeout=1)
    _, pid1 = invoke(lmb, "slow", {})
    t0 = time.time()
    r, out = invoke(lmb, "slow", {"sleep": 5}, LogType="Tail")
    assert time.time() - t0 < 4
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Sandbox.Timedout"
    assert out["errorMessage"].endswith("Task timed out after 1.00 seconds")
    log = base64.b64decode(r["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in log and "Status: timeout" in log
    _, pid2 = invoke(lmb, "slow", {})
    assert pid2 != pid1
    with pytest.raises(ProcessLookupError):
        os.kill(pid1, 0)


def test_crash_is_runtime_exit_error(lmb):
    make_fn(lmb, "crash", {"app.py": "import os\ndef handler(e, c):\n    os._exit(3)\n"})
    r, out = invoke(lmb, "crash", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError"
    assert out["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    r, out = invoke(lmb, "crash", {})   # a new instance each time
    assert out["errorType"] == "Runtime.ExitError"


def test_node_async_callback_and_errors(lmb):
    src = """
exports.handler = async (event, context) => {
  if (event.fail) throw new TypeError("node says no");
  console.log("hello from node");
  return { got: event, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0 };
};
exports.cb = (event, context, callback) => { callback(null, { cb: event.x }); };
"""
    make_fn(lmb, "node", {"index.js": src}, runtime="nodejs20.x", handler="index.handler")
    r, out = invoke(lmb, "node", {"x": 1}, LogType="Tail")
    assert out == {"got": {"x": 1}, "fn": "node", "left": True}
    log = base64.b64decode(r["LogResult"]).decode()
    assert "\tINFO\thello from node" in log
    r, out = invoke(lmb, "node", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError" and out["errorMessage"] == "node says no"
    assert isinstance(out["trace"], list)
    make_fn(lmb, "nodecb", {"index.js": src}, runtime="nodejs20.x", handler="index.cb")
    _, out = invoke(lmb, "nodecb", {"x": 5})
    assert out == {"cb": 5}
    make_fn(lmb, "nodemissing", {"index.js": src}, runtime="nodejs20.x", handler="index.nope")
    r, out = invoke(lmb, "nodemissing", {})
    assert out["errorType"] == "Runtime.HandlerNotFound"


def test_node_es_module(lmb):
    make_fn(lmb, "esm", {"index.mjs": "export const handler = async (e) => ({ esm: e.v });\n"},
            runtime="nodejs20.x", handler="index.handler")
    _, out = invoke(lmb, "esm", {"v": 2})
    assert out == {"esm": 2}


C_BOOTSTRAP = r'''
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int conn(void) {
    char *api = getenv("AWS_LAMBDA_RUNTIME_API"), host[64];
    char *colon = strchr(api, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - api), api);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
    inet_pton(AF_INET, host, &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) exit(1);
    return s;
}
/* One request; returns the body; the request id goes to rid. */
static char *rt(const char *method, const char *path, const char *body, char *rid) {
    int s = conn();
    char req[8192];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s", method, path, strlen(body), body);
    write(s, req, n);
    static char resp[65536];
    size_t got = 0; ssize_t r;
    while ((r = read(s, resp + got, sizeof resp - 1 - got)) > 0) got += r;
    resp[got] = 0;
    close(s);
    if (rid) {
        char *h = strcasestr(resp, "Lambda-Runtime-Aws-Request-Id: ");
        if (!h) exit(2);
        sscanf(h + 31, "%63s", rid);
    }
    char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : resp;
}
int main(void) {
    for (;;) {
        char rid[64], path[256], out[8192];
        char *event = rt("GET", "/2018-06-01/runtime/invocation/next", "", rid);
        snprintf(out, sizeof out, "{\"from\":\"c\",\"handler\":\"%s\",\"event\":%s}",
                 getenv("_HANDLER"), event);
        printf("c bootstrap handled %s\n", rid);
        fflush(stdout);
        snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", rid);
        rt("POST", path, out, NULL);
    }
}
'''


@pytest.mark.skipif(not shutil.which("cc"), reason="needs a C compiler")
def test_provided_runtime_with_c_bootstrap(lmb, tmp_path):
    src = tmp_path / "bootstrap.c"
    src.write_text(C_BOOTSTRAP)
    exe = tmp_path / "bootstrap"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(src)], check=True)
    make_fn(lmb, "cfn", {"bootstrap": exe.read_bytes()}, runtime="provided.al2023",
            handler="my.handler")
    r, out = invoke(lmb, "cfn", {"n": 42}, LogType="Tail")
    assert out == {"from": "c", "handler": "my.handler", "event": {"n": 42}}
    assert "c bootstrap handled" in base64.b64decode(r["LogResult"]).decode()
    # No bootstrap in the zip: AWS's InvalidEntrypoint.
    make_fn(lmb, "nobootstrap", {"README": "x"}, runtime="provided.al2023", handler="x")
    r, out = invoke(lmb, "nobootstrap", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"


def test_reserved_concurrency_throttles(lmb, tmp_path):
    make_fn(lmb, "one", {"app.py": "import time\ndef handler(e, c):\n"
                                   "    if e.get('marker'): open(e['marker'], 'w').close()\n"
                                   "    time.sleep(e.get('s', 0))\n    return 1\n"})
    lmb.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=1)
    # A path both see: the function's /tmp is its own (test_lambda_sandbox).
    shared = "/dev/shm" if os.path.isdir("/dev/shm") else str(tmp_path)
    marker = pathlib.Path(shared) / ("nimbus-running-%d" % os.getpid())
    marker.unlink(missing_ok=True)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        slow = ex.submit(invoke, lmb, "one", {"s": 2, "marker": str(marker)})
        deadline = time.time() + 20
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.02)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            invoke(lmb, "one", {})
        assert slow.result()[1] == 1
    marker.unlink(missing_ok=True)
    err = e.value.response
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    if BOTO_GEN == "new":
        assert err.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lmb.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=0)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        invoke(lmb, "one", {})
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_concurrent_invocations_start_instances(lmb):
    make_fn(lmb, "par", {"app.py": "import time, os\ndef handler(e, c):\n"
                                   "    time.sleep(0.5)\n    return os.getpid()\n"})
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        pids = list(ex.map(lambda _: invoke(lmb, "par", {})[1], range(3)))
    assert len(set(pids)) == 3


def test_sdk_inside_function_calls_nimbus(lmb, client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="from-lambda")["QueueUrl"]
    make_fn(lmb, "sdk", {"app.py": "import boto3\ndef handler(e, c):\n"
                                   "    q = boto3.client('sqs')\n"
                                   "    q.send_message(QueueUrl=e['url'], MessageBody='hi')\n"
                                   "    return boto3.client('sts').get_caller_identity()['Account']\n"})
    r, out = invoke(lmb, "sdk", {"url": url})
    if r.get("FunctionError"):
        pytest.skip("the function's python has no boto3 that honours AWS_ENDPOINT_URL: %s" % out)
    assert out == "000000000000"
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert msgs[0]["Body"] == "hi"


def test_bad_requests(lmb):
    make_fn(lmb, "bad", {"app.py": PY_ECHO})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lmb.invoke(FunctionName="bad", Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lmb.invoke(FunctionName="bad", Payload=b"[" + b"1," * (3 * 1024 * 1024) + b"1]")
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lmb.invoke(FunctionName="nope", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # Any JSON value is a payload, bare numbers and literals included.
    for raw, want in ((b"5", 5), (b" 2.5 ", 2.5), (b"true", True), (b"null", None),
                      (b'"s"', "s")):
        assert json.loads(lmb.invoke(FunctionName="bad", Payload=raw)["Payload"].read())[
            "event"] == want
    for raw in (b"5 6", b"tru", b"-"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lmb.invoke(FunctionName="bad", Payload=raw)
        assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    r = lmb.invoke(FunctionName="bad", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    # Still serving after all that.
    assert invoke(lmb, "bad", {"ok": 1})[1]["event"] == {"ok": 1}


def test_function_logs_in_cloudwatch(lmb, client):
    make_fn(lmb, "logged", {"app.py": "def handler(e, c):\n    print('line one')\n"
                                      "    print('line two')\n    return 0\n"})
    rid = invoke(lmb, "logged", {})[0]["ResponseMetadata"]["RequestId"]
    logs = client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/lambda/logged",
                                 logStreamName=streams[0]["logStreamName"],
                                 startFromHead=True)["events"]
    text = [e["message"] for e in events]
    assert any(t.startswith("START RequestId:") for t in text)
    assert "line one" in text and "line two" in text
    assert any(t.startswith("REPORT RequestId:") for t in text)
    assert rid


def test_event_invocation_runs_and_reaches_destinations(lmb, client):
    sqs = client("sqs")
    ok_url = sqs.create_queue(QueueName="on-success")["QueueUrl"]
    bad_url = sqs.create_queue(QueueName="on-failure")["QueueUrl"]
    arn = lambda u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_fn(lmb, "async", {"app.py": "def handler(e, c):\n"
                                     "    if e.get('fail'): raise RuntimeError('nope')\n"
                                     "    return {'done': e['n']}\n"})
    lmb.put_function_event_invoke_config(
        FunctionName="async", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": arn(ok_url)},
                           "OnFailure": {"Destination": arn(bad_url)}})
    r = lmb.invoke(FunctionName="async", InvocationType="Event", Payload=b'{"n": 7}')
    assert r["StatusCode"] == 202
    r = lmb.invoke(FunctionName="async", InvocationType="Event", Payload=b'{"fail": true}')
    assert r["StatusCode"] == 202

    def one(url):
        deadline = time.time() + 10
        while time.time() < deadline:
            m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
            if m:
                return json.loads(m[0]["Body"])
        raise AssertionError("no destination record in %s" % url)

    ok = one(ok_url)
    assert ok["requestContext"]["condition"] == "Success"
    assert ok["requestContext"]["functionArn"].endswith(":function:async:$LATEST")
    assert ok["requestPayload"] == {"n": 7}
    assert ok["responsePayload"] == {"done": 7}
    assert ok["responseContext"]["statusCode"] == 200
    bad = one(bad_url)
    assert bad["requestContext"]["condition"] == "RetriesExhausted"
    assert bad["requestContext"]["approximateInvokeCount"] == 1
    assert bad["responseContext"]["functionError"] == "Unhandled"
    assert bad["responsePayload"]["errorMessage"] == "nope"


def test_event_destinations_sns_and_eventbridge(lmb, client):
    sqs, sns, events = client("sqs"), client("sns"), client("events")
    qarn = lambda u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    via_sns = sqs.create_queue(QueueName="dest-via-sns")["QueueUrl"]
    via_bus = sqs.create_queue(QueueName="dest-via-bus")["QueueUrl"]
    topic = sns.create_topic(Name="fn-results")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn(via_sns),
                  Attributes={"RawMessageDelivery": "true"})
    bus = events.create_event_bus(Name="fn-failures")["EventBusArn"]
    events.put_rule(Name="lambda-failures", EventBusName="fn-failures",
                    EventPattern=json.dumps({"source": ["lambda"], "detail-type": [
                        "Lambda Function Invocation Result - Failure"]}))
    events.put_targets(Rule="lambda-failures", EventBusName="fn-failures",
                       Targets=[{"Id": "q", "Arn": qarn(via_bus)}])
    make_fn(lmb, "async-dest", {"app.py": "def handler(e, c):\n"
                                          "    if e.get('fail'): raise ValueError('bad order')\n"
                                          "    return {'done': e['n']}\n"})
    lmb.put_function_event_invoke_config(
        FunctionName="async-dest", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": topic},
                           "OnFailure": {"Destination": bus}})
    lmb.invoke(FunctionName="async-dest", InvocationType="Event", Payload=b'{"n": 3}')
    lmb.invoke(FunctionName="async-dest", InvocationType="Event", Payload=b'{"fail": true}')

    def one(url):
        deadline = time.time() + 10
        while time.time() < deadline:
            m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
            if m:
                return json.loads(m[0]["Body"])
        raise AssertionError("nothing arrived in %s" % url)

    ok = one(via_sns)
    assert ok["requestContext"]["condition"] == "Success"
    assert ok["requestPayload"] == {"n": 3} and ok["responsePayload"] == {"done": 3}
    ev = one(via_bus)
    assert (ev["source"], ev["detail-type"]) == ("lambda",
                                                 "Lambda Function Invocation Result - Failure")
    assert ev["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert ev["detail"]["requestPayload"] == {"fail": True}
    assert ev["detail"]["responsePayload"]["errorType"] == "ValueError"


def test_event_invocation_survives_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    lmb, sqs = n.client("lambda"), n.client("sqs")
    url = sqs.create_queue(QueueName="done")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_fn(lmb, "later", {"app.py": "def handler(e, c):\n    return e\n"})
    lmb.put_function_event_invoke_config(FunctionName="later",
                                         DestinationConfig={"OnSuccess": {"Destination": qarn}})
    lmb.invoke(FunctionName="later", InvocationType="Event", Payload=b'{"k": 1}')
    n.kill9()
    n.start()  # a new port: the old one may be taken as an ephemeral port meanwhile
    lmb, sqs = n.client("lambda"), n.client("sqs")
    deadline = time.time() + 10
    bodies = []
    while time.time() < deadline and not bodies:
        bodies = [json.loads(m["Body"]) for m in
                  sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])]
    assert bodies and bodies[0]["responsePayload"] == {"k": 1}


def test_invoke_async_deprecated_api(lmb, client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="async-old")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_fn(lmb, "oldasync", {"app.py": "def handler(e, c):\n    return e\n"})
    lmb.put_function_event_invoke_config(FunctionName="oldasync",
                                         DestinationConfig={"OnSuccess": {"Destination": qarn}})
    r = lmb.invoke_async(FunctionName="oldasync", InvokeArgs=b'{"old": true}')
    assert r["Status"] == 202
    deadline = time.time() + 10
    msgs = []
    while time.time() < deadline and not msgs:
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert json.loads(msgs[0]["Body"])["responsePayload"] == {"old": True}


def test_cli_invoke(lmb, nimbus, tmp_path):
    """`aws lambda invoke`: awscli 1.x beside the current python, Debian's
    awscli 2.9 under /usr/bin/python3 (raw payloads need a flag there)."""
    from conftest import aws_binary
    binary = aws_binary()
    if not binary or not os.path.exists(binary):
        pytest.fail("aws CLI for the %s generation is missing" % BOTO_GEN)
    make_fn(lmb, "clifn", {"app.py": "def handler(e, c):\n    return {'got': e}\n"})
    out = tmp_path / "out.json"
    cmd = [binary, "--endpoint-url", nimbus.endpoint, "--output", "json", "lambda", "invoke",
           "--function-name", "clifn", "--payload", '{"x": 1}', str(out)]
    if BOTO_GEN == "old":
        cmd[-2:-2] = ["--cli-binary-format", "raw-in-base64-out"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", HOME=str(tmp_path),
               AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text()) == {"got": {"x": 1}}


def test_memory_limit_kills_the_instance(lmb):
    make_fn(lmb, "hog", {"app.py": "import time\ndef handler(e, c):\n"
                                   "    if e.get('mb'):\n"
                                   "        x = b'x' * (e['mb'] << 20)\n"
                                   "        time.sleep(2)\n"
                                   "    return 'ok'\n"}, MemorySize=128, Timeout=10)
    r, out = invoke(lmb, "hog", {"mb": 300}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.OutOfMemory"
    assert "signal: killed" in out["errorMessage"]
    assert "Error Type: Runtime.OutOfMemory" in base64.b64decode(r["LogResult"]).decode()
    assert invoke(lmb, "hog", {})[1] == "ok"   # a fresh instance
    # A spike that is over before the next sample still fails its own
    # invocation: the high-water mark is read when the function answers.
    make_fn(lmb, "spike", {"app.py": "def handler(e, c):\n"
                                     "    x = b'x' * (300 << 20)\n"
                                     "    del x\n"
                                     "    return 'ok'\n"}, MemorySize=128, Timeout=10)
    r, out = invoke(lmb, "spike", {})
    assert r.get("FunctionError") == "Unhandled" and out["errorType"] == "Runtime.OutOfMemory"


@pytest.mark.skipif(BOTO_GEN == "old", reason="server-side timing: one client generation is enough")
def test_event_invocation_retries_after_one_then_two_minutes(lmb, client):
    """AWS retries a failed asynchronous invocation twice, one minute and
    then two minutes after the failure (about 3 minutes of wall time)."""
    sqs, logs = client("sqs"), client("logs")
    url = sqs.create_queue(QueueName="retries-failed")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_fn(lmb, "retrying", {"app.py": "import time\ndef handler(e, c):\n"
                                        "    print('attempt at', time.time())\n"
                                        "    raise RuntimeError('still failing')\n"})
    lmb.put_function_event_invoke_config(FunctionName="retrying",
                                         DestinationConfig={"OnFailure": {"Destination": qarn}})
    lmb.invoke(FunctionName="retrying", InvocationType="Event", Payload=b'{"k": 1}')
    deadline = time.time() + 200
    record = None
    while time.time() < deadline and record is None:
        m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages")
        if m:
            record = json.loads(m[0]["Body"])
    assert record, "no OnFailure record within 200 s"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    events = logs.filter_log_events(logGroupName="/aws/lambda/retrying",
                                    filterPattern='"attempt at"')["events"]
    times = sorted(float(e["message"].split()[-1]) for e in events)
    assert len(times) == 3
    first, second = times[1] - times[0], times[2] - times[1]
    assert 59 <= first <= 66, first
    assert 119 <= second <= 126, second
