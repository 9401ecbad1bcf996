"""Lambda function URLs: real HTTP requests on nimbus's port invoke the function.

Both ways of naming a URL are exercised: the Host header
"<url-id>.lambda-url.<region>.localhost:<port>" and the path form
"/_aws/lambda-url/<url-id>/...".  The handlers echo the payload format 2.0
event so every documented field is checked; responses cover the structured
and the inferred forms, function errors, CORS and AWS_IAM auth.
"""
import base64
import http.client
import json
import re
import time
import urllib.parse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from test_lambda_invoke import make_fn

ECHO = '''
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "request_id": context.aws_request_id,
                                "version": context.function_version,
                                "arn": context.invoked_function_arn})}
'''

# What the function returns is chosen by the query string (?kind=...).
SHAPES = '''
import base64, json
def handler(event, context):
    kind = (event.get("queryStringParameters") or {}).get("kind")
    if kind == "str":
        return "hello"
    if kind == "num":
        return 42
    if kind == "obj":
        return {"a": [1, 2], "b": "x"}
    if kind == "bodyonly":
        return {"body": "not a structured response", "headers": {"x-ignored": "1"}}
    if kind == "binary":
        return {"statusCode": 201, "isBase64Encoded": True,
                "headers": {"Content-Type": "image/png", "X-Custom": "custom value",
                            "X-Num": 7, "X-Amzn-RequestId": "fake"},
                "cookies": ["c1=v1; Max-Age=60", "c2=v2; Path=/"],
                "body": base64.b64encode(bytes(range(256))).decode()}
    if kind == "plain":
        return {"statusCode": 404, "body": "nope"}
    if kind == "nobody":
        return {"statusCode": 204}
    if kind == "badstatus":
        return {"statusCode": "teapot", "body": "x"}
    if kind == "badb64":
        return {"statusCode": 200, "isBase64Encoded": True, "body": "@@@"}
    if kind == "multi":
        return {"statusCode": 200, "body": "m",
                "multiValueHeaders": {"X-Multi": ["one", "two"]}}
    if kind == "inject":
        return {"statusCode": 200, "body": "i",
                "headers": {"X-Bad": "a\\r\\nX-Injected: yes", "Content-Length": "999"}}
    if kind == "raise":
        raise ValueError("broken")
    return {"statusCode": 200, "body": "default"}
'''


@pytest.fixture
def lmb(client):
    return client("lambda")


def url_fn(lmb, name, code, auth="NONE", **kw):
    make_fn(lmb, name, {"app.py": code})
    u = lmb.create_function_url_config(FunctionName=name, AuthType=auth, **kw)
    return urllib.parse.urlsplit(u["FunctionUrl"]).netloc  # "<id>.lambda-url.us-east-1.localhost:PORT"


def send(nimbus, netloc, method="GET", path="/", body=None, headers=(), form="host"):
    """One request; headers is a list of (name, value) so names can repeat."""
    conn = http.client.HTTPConnection("127.0.0.1", nimbus.port, timeout=30)
    url_id = netloc.split(".", 1)[0]
    target = path if form == "host" else "/_aws/lambda-url/" + url_id + path
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    if form == "host":
        conn.putheader("Host", netloc)
    else:
        conn.putheader("Host", "127.0.0.1:%d" % nimbus.port)
    for k, v in headers:
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.headers, data


def echo(nimbus, netloc, **kw):
    status, headers, data = send(nimbus, netloc, **kw)
    assert status == 200, data
    return headers, json.loads(data)


@pytest.mark.parametrize("form", ["host", "path"])
def test_get_event_has_every_documented_field(lmb, nimbus, form):
    netloc = url_fn(lmb, "echo", ECHO)
    url_id = netloc.split(".", 1)[0]
    before = int(time.time() * 1000)
    headers, out = echo(nimbus, netloc, form=form, path="/some/path%20x?a=1&a=2&b=hello%20world&flag",
                        headers=[("Cookie", "c1=v1; c2=v2"), ("User-Agent", "url-test/1.0"),
                                 ("X-Multi", "x"), ("X-Multi", "y"), ("X-Amzn-Trace-Id", "Root=1-abc-def")])
    ev = out["event"]
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/some/path%20x"
    assert ev["rawQueryString"] == "a=1&a=2&b=hello%20world&flag"
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    assert ev["queryStringParameters"] == {"a": "1,2", "b": "hello world", "flag": ""}
    h = ev["headers"]
    assert all(k == k.lower() for k in h)
    assert "cookie" not in h
    assert h["x-multi"] == "x,y"
    assert h["user-agent"] == "url-test/1.0"
    assert h["x-amzn-trace-id"] == "Root=1-abc-def"
    assert h["x-forwarded-proto"] == "http" and h["x-forwarded-port"] == str(nimbus.port)
    assert ev["isBase64Encoded"] is False and "body" not in ev
    rc = ev["requestContext"]
    assert rc["accountId"] == "anonymous"
    assert rc["apiId"] == url_id and rc["domainPrefix"] == url_id
    assert rc["domainName"] == url_id + ".lambda-url.us-east-1.localhost"
    assert rc["http"] == {"method": "GET", "path": "/some/path%20x", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "url-test/1.0"}
    assert rc["routeKey"] == "$default" and rc["stage"] == "$default"
    assert "authorizer" not in rc
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rc["time"])
    assert isinstance(rc["timeEpoch"], int) and before - 1000 <= rc["timeEpoch"] <= time.time() * 1000 + 1000
    assert re.fullmatch(r"[0-9a-f-]{36}", rc["requestId"])
    assert headers["x-amzn-RequestId"] == rc["requestId"] == out["request_id"]
    assert headers["x-amzn-Trace-Id"] == "Root=1-abc-def"
    assert headers["Date"] and headers["Content-Type"] == "application/json"
    assert out["version"] == "$LATEST"


def test_bare_path_forms(lmb, nimbus):
    netloc = url_fn(lmb, "bare", ECHO)
    _, out = echo(nimbus, netloc, form="path", path="")
    assert out["event"]["rawPath"] == "/" and out["event"]["rawQueryString"] == ""
    assert "queryStringParameters" not in out["event"] and "cookies" not in out["event"]
    # The localstack.cloud host form and upper case ids route too.
    url_id, rest = netloc.split(".", 1)
    alt = url_id.upper() + "." + rest.replace(".localhost:", ".localhost.localstack.cloud:")
    _, out = echo(nimbus, alt, path="/x")
    assert out["event"]["requestContext"]["apiId"] == url_id


def test_post_json_text_and_binary_bodies(lmb, nimbus):
    netloc = url_fn(lmb, "bodies", ECHO)
    doc = json.dumps({"k": "vé", "n": [1, 2]}).encode()
    _, out = echo(nimbus, netloc, method="POST", path="/p", body=doc,
                  headers=[("Content-Type", "application/json")])
    ev = out["event"]
    assert ev["isBase64Encoded"] is False and ev["body"] == doc.decode()
    assert ev["requestContext"]["http"]["method"] == "POST"
    assert ev["headers"]["content-type"] == "application/json"
    _, out = echo(nimbus, netloc, method="PUT", body="plain text".encode(),
                  headers=[("Content-Type", "text/plain; charset=utf-8")])
    assert out["event"]["isBase64Encoded"] is False and out["event"]["body"] == "plain text"
    blob = bytes(range(256)) * 4
    for ctype in ("application/octet-stream", "text/plain"):
        _, out = echo(nimbus, netloc, method="POST", body=blob, headers=[("Content-Type", ctype)])
        assert out["event"]["isBase64Encoded"] is True
        assert base64.b64decode(out["event"]["body"]) == blob
    # Forms and bodies without a content type are base64-encoded too.
    for hs in ([("Content-Type", "application/x-www-form-urlencoded")], []):
        _, out = echo(nimbus, netloc, method="POST", body=b"a=1&b=2", headers=hs)
        assert out["event"]["isBase64Encoded"] is True
        assert base64.b64decode(out["event"]["body"]) == b"a=1&b=2"


def test_structured_response(lmb, nimbus):
    netloc = url_fn(lmb, "shapes", SHAPES)
    status, h, data = send(nimbus, netloc, path="/?kind=binary")
    assert status == 201
    assert data == bytes(range(256))
    assert h["Content-Type"] == "image/png"
    assert h["X-Custom"] == "custom value" and h["X-Num"] == "7"
    assert h.get_all("Set-Cookie") == ["c1=v1; Max-Age=60", "c2=v2; Path=/"]
    assert h.get_all("x-amzn-RequestId") != ["fake"] and len(h.get_all("x-amzn-RequestId")) == 1
    assert h["x-amzn-Trace-Id"].startswith("Root=1-")
    status, h, data = send(nimbus, netloc, path="/?kind=plain")
    assert (status, data, h["Content-Type"]) == (404, b"nope", "application/json")
    status, h, data = send(nimbus, netloc, path="/?kind=nobody")
    assert (status, data) == (204, b"")
    status, h, data = send(nimbus, netloc, path="/?kind=multi")
    assert status == 200 and h.get_all("X-Multi") == ["one", "two"]
    status, h, data = send(nimbus, netloc, path="/?kind=inject")
    assert status == 200 and data == b"i"
    assert "X-Injected" not in h and "X-Bad" not in h and h["Content-Length"] == "1"
    status, h, data = send(nimbus, netloc, method="HEAD", path="/?kind=plain")
    assert (status, data) == (404, b"")


def test_inferred_responses(lmb, nimbus):
    netloc = url_fn(lmb, "infer", SHAPES)
    for kind, text in (("str", b'"hello"'), ("num", b"42")):
        status, h, data = send(nimbus, netloc, path="/?kind=" + kind)
        assert (status, data, h["Content-Type"]) == (200, text, "application/json")
    status, h, data = send(nimbus, netloc, path="/?kind=obj")
    assert status == 200 and json.loads(data) == {"a": [1, 2], "b": "x"}
    status, h, data = send(nimbus, netloc, path="/?kind=bodyonly")
    assert status == 200 and h["Content-Type"] == "application/json"
    assert json.loads(data) == {"body": "not a structured response", "headers": {"x-ignored": "1"}}
    assert "x-ignored" not in h


def test_function_errors_are_502(lmb, nimbus):
    netloc = url_fn(lmb, "errs", SHAPES)
    for kind in ("raise", "badstatus", "badb64"):
        status, h, data = send(nimbus, netloc, path="/?kind=" + kind)
        assert (status, data) == (502, b"Internal Server Error"), kind
        assert h["x-amzn-RequestId"]
    # The instance survives a handler exception: the next call works.
    status, _, data = send(nimbus, netloc, path="/?kind=plain")
    assert (status, data) == (404, b"nope")


def test_timeout_is_502(lmb, nimbus):
    make_fn(lmb, "slow", {"app.py": "import time\ndef handler(e, c):\n    time.sleep(5)\n"}, Timeout=1)
    u = lmb.create_function_url_config(FunctionName="slow", AuthType="NONE")
    status, _, data = send(nimbus, urllib.parse.urlsplit(u["FunctionUrl"]).netloc)
    assert (status, data) == (502, b"Internal Server Error")


def test_unknown_and_deleted_url_ids(lmb, nimbus):
    netloc = url_fn(lmb, "gone", ECHO)
    url_id, rest = netloc.split(".", 1)
    for form in ("host", "path"):
        status, h, data = send(nimbus, "0" * 32 + "." + rest, form=form)
        assert (status, json.loads(data)) == (403, {"Message": None})
        assert h["x-amzn-ErrorType"] == "AccessDeniedException"
    # The right id in another region's host is not this URL.
    status, _, _ = send(nimbus, netloc.replace("us-east-1", "eu-west-1"))
    assert status == 403
    lmb.delete_function_url_config(FunctionName="gone")
    status, _, data = send(nimbus, netloc)
    assert (status, json.loads(data)) == (403, {"Message": None})
    # Ordinary API calls are untouched by the hook.
    assert lmb.get_function(FunctionName="gone")["Configuration"]["FunctionName"] == "gone"


def test_alias_url_and_throttle(lmb, nimbus):
    make_fn(lmb, "aliased", {"app.py": ECHO})
    v1 = lmb.publish_version(FunctionName="aliased")["Version"]
    lmb.create_alias(FunctionName="aliased", Name="live", FunctionVersion=v1)
    u = lmb.create_function_url_config(FunctionName="aliased", Qualifier="live", AuthType="NONE")
    assert u["FunctionArn"].endswith(":aliased:live")
    netloc = urllib.parse.urlsplit(u["FunctionUrl"]).netloc
    _, out = echo(nimbus, netloc)
    assert out["version"] == v1 and out["arn"].endswith(":function:aliased:live")
    lmb.put_function_concurrency(FunctionName="aliased", ReservedConcurrentExecutions=0)
    status, h, data = send(nimbus, netloc)
    assert status == 429 and json.loads(data) == {"Message": "Rate Exceeded."}
    assert h["x-amzn-ErrorType"] == "TooManyRequestsException"


CORS = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom", "content-type"], "ExposeHeaders": ["x-exposed"],
        "MaxAge": 300, "AllowCredentials": True}

CORS_FN = '''
def handler(event, context):
    return {"statusCode": 418 if event["requestContext"]["http"]["method"] == "OPTIONS" else 200,
            "headers": {"Access-Control-Allow-Origin": "https://evil.example", "X-Exposed": "e"},
            "body": "cors"}
'''


def test_cors_preflight_and_response_headers(lmb, nimbus):
    netloc = url_fn(lmb, "cors", CORS_FN, Cors=CORS)
    pre = [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"),
           ("Access-Control-Request-Headers", "x-custom")]
    status, h, data = send(nimbus, netloc, method="OPTIONS", headers=pre)
    assert (status, data) == (200, b"")  # answered by Lambda, not the function (418)
    assert h["Access-Control-Allow-Origin"] == "https://app.example"
    assert h["Access-Control-Allow-Methods"] == "GET,POST"
    assert h["Access-Control-Allow-Headers"] == "x-custom,content-type"
    assert h["Access-Control-Max-Age"] == "300"
    assert h["Access-Control-Allow-Credentials"] == "true"
    # A disallowed origin or method gets no CORS headers.
    for bad in ([("Origin", "https://other.example"), ("Access-Control-Request-Method", "GET")],
                [("Origin", "https://app.example"), ("Access-Control-Request-Method", "DELETE")]):
        status, h, _ = send(nimbus, netloc, method="OPTIONS", headers=bad)
        assert status == 200 and "Access-Control-Allow-Origin" not in h
    # Actual requests: the configured headers win over the function's.
    status, h, data = send(nimbus, netloc, headers=[("Origin", "https://app.example")])
    assert (status, data) == (200, b"cors")
    assert h.get_all("Access-Control-Allow-Origin") == ["https://app.example"]
    assert h["Access-Control-Expose-Headers"] == "x-exposed"
    assert h["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Methods" not in h
    # No Origin: no CORS headers added, the function's own pass through.
    status, h, _ = send(nimbus, netloc)
    assert h.get_all("Access-Control-Allow-Origin") == ["https://evil.example"]
    assert "Access-Control-Expose-Headers" not in h
    # Without a Cors config OPTIONS goes to the function.
    lmb.update_function_url_config(FunctionName="cors", Cors={})
    status, _, _ = send(nimbus, netloc, method="OPTIONS", headers=pre)
    assert status == 418


def test_cors_wildcard_origin(lmb, nimbus):
    netloc = url_fn(lmb, "corsall", CORS_FN, Cors={"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    status, h, _ = send(nimbus, netloc, method="OPTIONS",
                        headers=[("Origin", "http://x.test"), ("Access-Control-Request-Method", "PATCH")])
    assert status == 200 and h["Access-Control-Allow-Origin"] == "*"
    assert h["Access-Control-Allow-Methods"] == "*" and "Access-Control-Max-Age" not in h


def signed(netloc, method="GET", path="/", body=b"", service="lambda", secret="test", key="test"):
    req = AWSRequest(method=method, url="http://" + netloc + path, data=body)
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(req)
    return list(req.headers.items())


def test_aws_iam_requires_a_lambda_signature(lmb, nimbus):
    netloc = url_fn(lmb, "iam", ECHO, auth="AWS_IAM")
    status, h, data = send(nimbus, netloc, path="/secret")
    assert (status, json.loads(data)) == (403, {"Message": "Forbidden"})
    status, _, data = send(nimbus, netloc, path="/secret", headers=signed(netloc, path="/secret", service="s3"))
    assert (status, json.loads(data)) == (403, {"Message": "Forbidden"})
    headers, out = echo(nimbus, netloc, path="/secret?x=1", method="POST", body=b"{}",
                        headers=signed(netloc, "POST", "/secret?x=1", b"{}") + [("Content-Type", "application/json")])
    rc = out["event"]["requestContext"]
    assert rc["accountId"] == "000000000000"
    iam = rc["authorizer"]["iam"]
    assert iam["accessKey"] == "test" and iam["accountId"] == "000000000000"
    assert iam["userArn"] == "arn:aws:iam::000000000000:root"
    assert out["event"]["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=test/")
    # The path form is signed over the path actually sent.
    path = "/_aws/lambda-url/" + netloc.split(".", 1)[0] + "/p"
    host = "127.0.0.1:%d" % nimbus.port
    status, _, data = send(nimbus, netloc, form="path", path="/p", headers=signed(host, path=path))
    assert status == 200, data
    # NONE URLs have no authorizer even for a signed request.
    none = url_fn(lmb, "open", ECHO)
    _, out = echo(nimbus, none, headers=signed(none))
    assert "authorizer" not in out["event"]["requestContext"]


def test_aws_iam_with_verify_signatures(nimbus_fresh):
    n = nimbus_fresh(extra=["--verify-signatures"])
    lam = n.client("lambda")
    netloc = url_fn(lam, "strict", ECHO, auth="AWS_IAM")
    status, _, data = send(n, netloc, headers=signed(netloc, secret="wrong"))
    assert status == 403 and json.loads(data)["Message"].startswith("The request signature we calculated")
    status, _, data = send(n, netloc, headers=signed(netloc, key="other"))
    assert (status, json.loads(data)) == (403, {"Message": "The security token included in the request is invalid."})
    # A signed request whose body was changed afterwards fails too.
    status, _, _ = send(n, netloc, method="POST", body=b"changed", headers=signed(netloc, "POST", body=b"orig"))
    assert status == 403
    status, _, data = send(n, netloc, headers=signed(netloc))
    assert status == 200, data


def test_bad_escapes_and_hangup(lmb, nimbus):
    netloc = url_fn(lmb, "odd", ECHO)
    _, out = echo(nimbus, netloc, path="/?q=%zz&%zz=1&&=e")
    assert out["event"]["queryStringParameters"] == {"q": "%zz", "%zz": "1"}
    # A client that hangs up while the function runs: the answer is dropped.
    make_fn(lmb, "nap", {"app.py": "import time\ndef handler(e, c):\n    time.sleep(1)\n    return 'late'\n"})
    u = lmb.create_function_url_config(FunctionName="nap", AuthType="NONE")
    nap = urllib.parse.urlsplit(u["FunctionUrl"]).netloc
    conn = http.client.HTTPConnection("127.0.0.1", nimbus.port, timeout=30)
    conn.putrequest("GET", "/", skip_host=True)
    conn.putheader("Host", nap)
    conn.endheaders()
    time.sleep(0.3)
    conn.close()
    time.sleep(1.2)
    status, _, data = send(nimbus, nap)
    assert (status, data) == (200, b'"late"')
