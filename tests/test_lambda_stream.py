"""Lambda response streaming: InvokeWithResponseStream and RESPONSE_STREAM URLs.

boto3 decodes the event stream itself (PayloadChunk bytes, then one
InvokeComplete), so these tests read it exactly as an application would.
Streaming handlers are Node functions wrapped in awslambda.streamifyResponse
(the global AWS's Node.js runtime provides) and a provided.al2023 bootstrap
that speaks the Runtime API's streaming response mode itself: a chunked POST
with trailers carrying a mid-stream error.
"""
import base64
import http.client
import json
import socket
import time
import urllib.parse

import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.eventstream import EventStreamBuffer

from test_lambda_invoke import make_fn

# Writes three chunks 400 ms apart; the time each is written travels with it.
NODE_SLOW = '''
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  for (let i = 0; i < 3; i++) {
    responseStream.write(`chunk${i}@${Date.now()};`);
    await new Promise((r) => setTimeout(r, 400));
  }
  console.log("streamed for", context.awsRequestId);
  responseStream.end();
});
'''

NODE_FAIL = '''
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("partial;");
  await new Promise((r) => setTimeout(r, 50));
  const e = new Error("it broke mid-stream");
  e.name = "MidStreamError";
  throw e;
});
'''

NODE_EVENT = '''
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.write(JSON.stringify({event, cc: context.clientContext || null,
                                       arn: context.invokedFunctionArn}));
  responseStream.end();
});
'''

NODE_BUFFERED = '''
exports.handler = async (event) => ({ buffered: true, got: event });
'''

NODE_BUFFERED_FAIL = '''
exports.handler = async () => { throw new TypeError("plain failure"); };
'''

NODE_URL = '''
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const kind = (event.queryStringParameters || {}).kind;
  if (kind === "raw") {
    responseStream.setContentType("text/csv");
    responseStream.write("a,b\\n");
    responseStream.end("1,2\\n");
    return;
  }
  const s = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "Content-Type": "text/html", "X-Custom": "yes", "Content-Length": "1" },
    cookies: ["a=1; Path=/", "b=2"],
  });
  s.write("<p>first</p>");
  await new Promise((r) => setTimeout(r, 400));
  s.write(`<p>${Date.now()}</p>`);
  s.end();
});
'''

# A custom runtime streaming through the Runtime API by hand: chunked POST
# in streaming response mode; event {"fail": true} ends with error trailers.
PROVIDED = r'''#!/usr/bin/env python3
import base64, http.client, json, os, socket, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
base = "/2018-06-01/runtime"
while True:
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", base + "/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read() or b"{}")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.close()
    s = socket.create_connection((host, int(port)))
    s.sendall(("POST %s/invocation/%s/response HTTP/1.1\r\nHost: x\r\n"
               "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
               "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
               "\r\n" % (base, rid)).encode())
    for i in range(3):
        data = ("part%d;" % i).encode()
        s.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        time.sleep(0.2)
    if event.get("fail"):
        body = base64.b64encode(json.dumps({"errorType": "Custom.Failure",
                                            "errorMessage": "gave up"}).encode())
        s.sendall(b"0\r\nLambda-Runtime-Function-Error-Type: Custom.Failure\r\n"
                  b"Lambda-Runtime-Function-Error-Body: " + body + b"\r\n\r\n")
    else:
        s.sendall(b"0\r\n\r\n")
    resp = s.recv(4096)
    assert resp.startswith(b"HTTP/1.1 202"), resp
    s.close()
'''


@pytest.fixture
def lmb(client):
    return client("lambda")


def node_fn(lmb, name, code, **kw):
    make_fn(lmb, name, {"index.js": code}, runtime="nodejs20.x", handler="index.handler", **kw)


class RawEvents:
    """The event stream decoded by botocore's own EventStreamBuffer, for
    botocore generations that predate invoke_with_response_stream (1.29)."""

    def __init__(self, conn, resp):
        self._raw_stream = conn
        self.resp = resp

    def __iter__(self):
        buf = EventStreamBuffer()
        while True:
            data = self.resp.read1(65536)
            if not data:
                return
            buf.add_data(data)
            for msg in buf:
                kind = msg.headers[":event-type"]
                assert msg.headers[":message-type"] == "event"
                if kind == "PayloadChunk":
                    assert msg.headers[":content-type"] == "application/octet-stream"
                    yield {"PayloadChunk": {"Payload": msg.payload}}
                else:
                    assert msg.headers[":content-type"] == "application/json"
                    yield {kind: json.loads(msg.payload)}


def signed(lmb, method, path, body=b"", headers=None):
    """A request signed for lambda and sent by hand: (connection, response)."""
    url = lmb.meta.endpoint_url + path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(lmb._request_signer._credentials, "lambda", lmb.meta.region_name).add_auth(req)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body,
                 headers=dict(req.headers))
    return conn, conn.getresponse()


def raise_for(conn, resp, op):
    if resp.status < 300:
        return
    body = json.loads(resp.read() or b"{}")
    conn.close()
    code = (resp.getheader("x-amzn-ErrorType") or "").split(":")[0]
    raise botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": body.get("Message") or body.get("message")},
         "ResponseMetadata": {"HTTPStatusCode": resp.status}}, op)


def raw_invoke(lmb, FunctionName, Qualifier=None, Payload=b"", InvocationType=None,
               LogType=None, ClientContext=None):
    """InvokeWithResponseStream sent by hand in botocore's wire format (rest-json,
    POST .../response-streaming-invocations), for botocores that predate it."""
    path = "/2021-11-15/functions/%s/response-streaming-invocations" % (
        urllib.parse.quote(FunctionName, safe=""))
    if Qualifier:
        path += "?Qualifier=" + urllib.parse.quote(Qualifier, safe="")
    headers = {}
    for name, value in (("X-Amz-Invocation-Type", InvocationType),
                        ("X-Amz-Log-Type", LogType), ("X-Amz-Client-Context", ClientContext)):
        if value is not None:
            headers[name] = value
    conn, resp = signed(lmb, "POST", path, Payload, headers)
    raise_for(conn, resp, "InvokeWithResponseStream")
    out = {"StatusCode": resp.status, "ExecutedVersion": resp.getheader("X-Amz-Executed-Version"),
           "ResponseStreamContentType": resp.getheader("Content-Type"),
           "EventStream": RawEvents(conn, resp)}
    if resp.status == 204:
        resp.read()
        conn.close()
        del out["EventStream"]
    return out


def stream_invoke(lmb, **kw):
    if hasattr(lmb, "invoke_with_response_stream"):
        return lmb.invoke_with_response_stream(**kw)
    return raw_invoke(lmb, **kw)


def read_stream(resp):
    """(list of (arrival time, chunk bytes), InvokeComplete dict)."""
    chunks, complete = [], None
    for ev in resp["EventStream"]:
        if "PayloadChunk" in ev:
            chunks.append((time.time(), ev["PayloadChunk"]["Payload"]))
        elif "InvokeComplete" in ev:
            complete = ev["InvokeComplete"]
    return chunks, complete


def test_chunks_arrive_while_the_function_runs(lmb):
    node_fn(lmb, "slow", NODE_SLOW)
    r = stream_invoke(lmb, FunctionName="slow", Payload=b"{}")
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert r["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    chunks, complete = read_stream(r)
    body = b"".join(c for _, c in chunks).decode()
    parts = [p for p in body.split(";") if p]
    assert [p.split("@")[0] for p in parts] == ["chunk0", "chunk1", "chunk2"]
    assert complete is not None and "ErrorCode" not in complete
    # The first chunk reached us well before the last one was written.
    first_arrival = chunks[0][0]
    last_written = int(parts[2].split("@")[1]) / 1000.0
    assert first_arrival < last_written - 0.3
    assert len(chunks) >= 2


def test_mid_stream_error_in_invoke_complete(lmb):
    node_fn(lmb, "midfail", NODE_FAIL)
    r = stream_invoke(lmb, FunctionName="midfail")
    chunks, complete = read_stream(r)
    assert b"".join(c for _, c in chunks) == b"partial;"
    assert complete["ErrorCode"] == "MidStreamError"
    assert "it broke mid-stream" in complete["ErrorDetails"]


def test_event_client_context_and_qualifier(lmb):
    node_fn(lmb, "evt", NODE_EVENT)
    v = lmb.publish_version(FunctionName="evt")["Version"]
    lmb.create_alias(FunctionName="evt", Name="live", FunctionVersion=v)
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    r = stream_invoke(lmb, FunctionName="evt", Qualifier="live",
                                        Payload=json.dumps({"x": [1, 2]}).encode(),
                                        ClientContext=cc)
    assert r["ExecutedVersion"] == v
    chunks, complete = read_stream(r)
    out = json.loads(b"".join(c for _, c in chunks))
    assert out["event"] == {"x": [1, 2]}
    assert out["cc"]["custom"] == {"k": "v"}
    assert out["arn"].endswith(":function:evt:live")
    assert "ErrorCode" not in complete


def test_log_tail(lmb):
    node_fn(lmb, "tail", NODE_SLOW)
    r = stream_invoke(lmb, FunctionName="tail", LogType="Tail")
    _, complete = read_stream(r)
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "streamed for" in log
    assert "REPORT RequestId:" in log
    r = stream_invoke(lmb, FunctionName="tail")
    _, complete = read_stream(r)
    assert "LogResult" not in complete


def test_non_streaming_function_is_delivered_as_a_stream(lmb):
    node_fn(lmb, "buffered", NODE_BUFFERED)
    r = stream_invoke(lmb, FunctionName="buffered", Payload=b'{"a": 1}')
    chunks, complete = read_stream(r)
    assert json.loads(b"".join(c for _, c in chunks)) == {"buffered": True, "got": {"a": 1}}
    assert "ErrorCode" not in complete
    node_fn(lmb, "buffail", NODE_BUFFERED_FAIL)
    r = stream_invoke(lmb, FunctionName="buffail")
    chunks, complete = read_stream(r)
    assert chunks == []
    assert complete["ErrorCode"] == "TypeError"
    assert complete["ErrorDetails"] == "plain failure"


def test_plain_invoke_of_a_streaming_function_is_buffered(lmb):
    node_fn(lmb, "slowbuf", NODE_SLOW)
    r = lmb.invoke(FunctionName="slowbuf")
    body = r["Payload"].read().decode()
    assert [p.split("@")[0] for p in body.split(";") if p] == ["chunk0", "chunk1", "chunk2"]
    assert "FunctionError" not in r
    node_fn(lmb, "midbuf", NODE_FAIL)
    r = lmb.invoke(FunctionName="midbuf")
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(r["Payload"].read())
    assert err["errorType"] == "MidStreamError"


def test_provided_runtime_streams_through_the_runtime_api(lmb):
    make_fn(lmb, "custom", {"bootstrap": PROVIDED}, runtime="provided.al2023", handler="x")
    r = stream_invoke(lmb, FunctionName="custom", Payload=b"{}")
    chunks, complete = read_stream(r)
    assert b"".join(c for _, c in chunks) == b"part0;part1;part2;"
    assert len(chunks) >= 2  # not collected into one piece
    assert "ErrorCode" not in complete
    r = stream_invoke(lmb, FunctionName="custom", Payload=b'{"fail": true}')
    chunks, complete = read_stream(r)
    assert b"".join(c for _, c in chunks) == b"part0;part1;part2;"
    assert complete["ErrorCode"] == "Custom.Failure"
    assert complete["ErrorDetails"] == "gave up"


def test_errors_before_the_stream_are_api_errors(lmb):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stream_invoke(lmb, FunctionName="no-such-fn")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    node_fn(lmb, "checks", NODE_EVENT)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stream_invoke(lmb, FunctionName="checks", Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stream_invoke(lmb, FunctionName="checks", ClientContext="%%%")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stream_invoke(lmb, FunctionName="checks", Qualifier="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lmb.put_function_concurrency(FunctionName="checks", ReservedConcurrentExecutions=0)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stream_invoke(lmb, FunctionName="checks")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    lmb.delete_function_concurrency(FunctionName="checks")
    # Still works after the failures.
    _, complete = read_stream(stream_invoke(lmb, FunctionName="checks"))
    assert "ErrorCode" not in complete


def test_dry_run(lmb):
    node_fn(lmb, "dry", NODE_EVENT)
    r = stream_invoke(lmb, FunctionName="dry", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    assert r["ExecutedVersion"] == "$LATEST"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        stream_invoke(lmb, FunctionName="dry", InvocationType="Event")
    assert e.value.response["Error"]["Code"] in ("ValidationException",
                                                 "InvalidParameterValueException")


def test_client_hanging_up_mid_stream(lmb, nimbus):
    node_fn(lmb, "hangup", NODE_SLOW)
    r = stream_invoke(lmb, FunctionName="hangup")
    it = iter(r["EventStream"])
    first = next(it)
    assert "PayloadChunk" in first
    r["EventStream"]._raw_stream.close()
    time.sleep(1.5)
    # The function finished on its own; the next call is served normally.
    chunks, complete = read_stream(stream_invoke(lmb, FunctionName="hangup"))
    assert len(b"".join(c for _, c in chunks).split(b";")) == 4
    assert "ErrorCode" not in complete


def url_of(lmb, name, code, mode="RESPONSE_STREAM"):
    node_fn(lmb, name, code)
    shape = lmb.meta.service_model.operation_model("CreateFunctionUrlConfig").input_shape
    if "InvokeMode" in shape.members:
        u = lmb.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode=mode)
    else:  # botocore 1.29 predates InvokeMode
        body = json.dumps({"AuthType": "NONE", "InvokeMode": mode}).encode()
        conn, resp = signed(lmb, "POST", "/2021-10-31/functions/%s/url" % name, body,
                            {"Content-Type": "application/json"})
        raise_for(conn, resp, "CreateFunctionUrlConfig")
        u = json.loads(resp.read())
        conn.close()
        assert u["InvokeMode"] == mode
    return urllib.parse.urlsplit(u["FunctionUrl"]).netloc


def url_get(nimbus, netloc, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", nimbus.port, timeout=30)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", netloc)
    conn.endheaders()
    return conn, conn.getresponse()


def test_url_stream_with_prelude(lmb, nimbus):
    netloc = url_of(lmb, "urlstream", NODE_URL)
    conn, resp = url_get(nimbus, netloc)
    assert resp.status == 201
    assert resp.getheader("Content-Type") == "text/html"
    assert resp.getheader("X-Custom") == "yes"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None
    assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert resp.getheader("x-amzn-RequestId")
    first = resp.read1(4096)
    got_first = time.time()
    assert first.startswith(b"<p>first</p>")
    rest = resp.read()
    conn.close()
    body = first + rest
    assert body.startswith(b"<p>first</p><p>")
    written = int(body[len(b"<p>first</p><p>"):-len(b"</p>")]) / 1000.0
    assert got_first < written - 0.2  # streamed, not buffered


def test_url_stream_without_prelude(lmb, nimbus):
    netloc = url_of(lmb, "urlraw", NODE_URL)
    conn, resp = url_get(nimbus, netloc, "/?kind=raw")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/csv"
    assert resp.read() == b"a,b\n1,2\n"
    conn.close()


def test_url_stream_buffered_handler_and_errors(lmb, nimbus):
    netloc = url_of(lmb, "urlbuf", NODE_BUFFERED)
    conn, resp = url_get(nimbus, netloc)
    assert resp.status == 200
    out = json.loads(resp.read())
    assert out["buffered"] is True
    conn.close()
    netloc = url_of(lmb, "urlfail", NODE_BUFFERED_FAIL)
    conn, resp = url_get(nimbus, netloc)
    assert resp.status == 502
    resp.read()
    conn.close()
    # A streaming handler that fails after writing: the body ends where it was.
    netloc = url_of(lmb, "urlmid", NODE_FAIL)
    conn, resp = url_get(nimbus, netloc)
    assert resp.status == 200
    assert resp.read() == b"partial;"
    conn.close()


def test_url_buffered_mode_still_buffers_streaming_function(lmb, nimbus):
    netloc = url_of(lmb, "urlbufmode", NODE_EVENT, mode="BUFFERED")
    conn, resp = url_get(nimbus, netloc, "/path?q=1")
    assert resp.status == 200
    assert resp.getheader("Content-Length") is not None
    assert resp.getheader("Content-Type") == "application/json"
    out = json.loads(resp.read())
    assert out["event"]["rawPath"] == "/path"
    conn.close()


def test_bad_runtime_stream_does_not_hurt_nimbus(lmb, nimbus):
    """A runtime sending garbage chunk framing or oversized trailers gets an
    error; nimbus keeps serving."""
    bad = r'''#!/usr/bin/env python3
import http.client, os, socket
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
base = "/2018-06-01/runtime"
c = http.client.HTTPConnection(host, int(port))
c.request("GET", base + "/invocation/next")
r = c.getresponse(); r.read()
rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
s = socket.create_connection((host, int(port)))
s.sendall(("POST %s/invocation/%s/response HTTP/1.1\r\nHost: x\r\n"
           "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" % (base, rid)).encode())
s.sendall(b"5\r\nhello\r\nzz\r\nnot hex\r\n")
print("reply", s.recv(4096)[:12])
s.close()
c = http.client.HTTPConnection(host, int(port))
c.request("POST", base + "/invocation/%s/response" % rid, body=b"recovered")
print("second", c.getresponse().status)
'''
    make_fn(lmb, "badstream", {"bootstrap": bad}, runtime="provided.al2023", handler="x",
            Timeout=5)
    r = stream_invoke(lmb, FunctionName="badstream")
    chunks, complete = read_stream(r)
    # The streamed bytes before the garbage went out; then the buffered answer.
    assert b"".join(c for _, c in chunks) == b"hellorecovered"
    assert "ErrorCode" not in complete
    assert lmb.get_function(FunctionName="badstream")["Configuration"]["FunctionName"]


NODE_BIG = '''
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const piece = Buffer.alloc(64 * 1024, 120);
  for (let i = 0; i < 112; i++) responseStream.write(piece);  // 7 MiB
  responseStream.end();
});
'''

NODE_HANG = '''
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("before the timeout;");
  await new Promise((r) => setTimeout(r, 5000));
  responseStream.end();
});
'''


def test_streams_past_the_buffered_limit(lmb):
    """7 MiB streams through InvokeWithResponseStream (the limit is 200 MB);
    plain Invoke collects at most 6 MB and fails as AWS does."""
    node_fn(lmb, "big", NODE_BIG, MemorySize=512)
    chunks, complete = read_stream(stream_invoke(lmb, FunctionName="big"))
    body = b"".join(c for _, c in chunks)
    assert len(body) == 7 * 1024 * 1024 and set(body) == {120}
    assert "ErrorCode" not in complete
    r = lmb.invoke(FunctionName="big")
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_timeout_mid_stream(lmb):
    node_fn(lmb, "hang", NODE_HANG, Timeout=1)
    chunks, complete = read_stream(stream_invoke(lmb, FunctionName="hang"))
    assert b"".join(c for _, c in chunks) == b"before the timeout;"
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]
