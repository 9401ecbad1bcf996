"""API Gateway v2 data plane: HTTP_PROXY integrations (to a threaded
http.server started by the test, which records exactly what it received),
parameter mapping, CORS, throttling, the $default-versus-named-stage path
rule and the snapshot cache's invalidation."""
import http.server
import json
import socket
import threading
import time

import pytest
from botocore.exceptions import ClientError

from test_apigwv2_data import req
from test_lambda_invoke import make_fn


class Backend:
    """A small HTTP server: each request is recorded; the answer is 201
    with X-Backend and a stray CORS header, or after a pause for /slow."""

    def __init__(self):
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append({"method": self.command, "path": self.path,
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "body": body})
                if self.path.startswith("/slow"):
                    time.sleep(1.0)
                out = json.dumps({"got": self.path}).encode()
                try:
                    self.send_response(201)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("X-Backend", "b1")
                    self.send_header("Access-Control-Allow-Origin", "https://evil.example")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(out)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _any

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def last(self):
        assert self.seen, "the backend received nothing"
        return self.seen[-1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def backend():
    b = Backend()
    yield b
    b.close()


def http_api(apigwv2, uri, route_keys, method="ANY", stage="$default", **integ):
    api = apigwv2.create_api(Name="p", ProtocolType="HTTP")["ApiId"]
    ig = apigwv2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationUri=uri,
                                    IntegrationMethod=method, **integ)
    for k in route_keys:
        apigwv2.create_route(ApiId=api, RouteKey=k, Target="integrations/" + ig["IntegrationId"])
    if stage:
        apigwv2.create_stage(ApiId=api, StageName=stage, AutoDeploy=True)
    return api, ig


def host_of(nimbus, api):
    return f"{api}.execute-api.localhost:{nimbus.port}"


def test_http_proxy_forwards_request_and_response(nimbus, apigwv2, backend):
    uri = f"http://127.0.0.1:{backend.port}/base/{{proxy}}"
    api, ig = http_api(apigwv2, uri, ["ANY /svc/{proxy+}"])
    assert ig["IntegrationMethod"] == "ANY" and ig["PayloadFormatVersion"] == "1.0"
    host = host_of(nimbus, api)
    st, h, b = req(nimbus, "POST", "/svc/a/b%20c?x=1&x=2&y=z", host, body=b"hello",
                   headers={"X-Custom": "v1", "Content-Type": "text/plain"})
    assert st == 201, b
    got = backend.last()
    assert got["method"] == "POST" and got["path"] == "/base/a/b%20c?x=1&x=2&y=z"
    assert got["body"] == b"hello"
    hd = got["headers"]
    assert hd["x-custom"] == "v1" and hd["content-type"] == "text/plain"
    assert hd["host"] == f"127.0.0.1:{backend.port}"
    assert "for=127.0.0.1" in hd["forwarded"] and f"host={host}" in hd["forwarded"]
    assert hd["x-amzn-trace-id"].startswith("Root=1-")
    # the backend's answer comes back as it is
    assert h["x-backend"] == "b1" and h["content-type"] == "application/json"
    assert json.loads(b) == {"got": "/base/a/b%20c?x=1&x=2&y=z"}
    assert h["apigw-requestid"]


def test_http_proxy_fixed_method_and_default_route(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/root", ["$default"], method="GET")
    host = host_of(nimbus, api)
    st, _, b = req(nimbus, "DELETE", "/x/y?q=1", host)
    assert st == 201, b
    got = backend.last()
    # the integration's method; a $default route appends the request path
    assert got["method"] == "GET" and got["path"] == "/root/x/y?q=1"
    req(nimbus, "GET", "/", host)
    assert backend.last()["path"] == "/root"
    st, h, b = req(nimbus, "HEAD", "/h", host)
    assert st == 201 and b == b"" and h["x-backend"] == "b1"


def test_http_proxy_path_variables(nimbus, apigwv2, backend):
    uri = f"http://127.0.0.1:{backend.port}/pets/extended/{{petId}}"
    api, _ = http_api(apigwv2, uri, ["GET /pets/{petId}"])
    st, _, _ = req(nimbus, "GET", "/pets/6", host_of(nimbus, api))
    assert st == 201 and backend.last()["path"] == "/pets/extended/6"


def test_http_proxy_timeout_and_unreachable(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/slow", ["GET /s"],
                      TimeoutInMillis=200)
    t0 = time.time()
    st, _, b = req(nimbus, "GET", "/s", host_of(nimbus, api))
    assert st == 504 and json.loads(b) == {"message": "Service Unavailable"}
    assert time.time() - t0 < 0.9
    # a client that hangs up while the backend thinks: the request is dropped
    c = socket.create_connection(("127.0.0.1", nimbus.port))
    c.sendall(f"GET /s HTTP/1.1\r\nHost: {host_of(nimbus, api)}\r\n\r\n".encode())
    time.sleep(0.05)
    c.close()
    time.sleep(0.3)
    assert req(nimbus, "GET", "/s", host_of(nimbus, api))[0] == 504
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{dead}/", ["GET /d"])
    st, _, b = req(nimbus, "GET", "/d", host_of(nimbus, api))
    assert st == 500 and json.loads(b) == {"message": "Internal Server Error"}


def test_request_and_response_parameter_mapping(nimbus, apigwv2, backend):
    api, ig = http_api(
        apigwv2, f"http://127.0.0.1:{backend.port}/orig", ["GET /m/{id}"], stage=None,
        RequestParameters={
            "append:header.x-added": "$request.header.x-in",
            "overwrite:header.x-stage": "sv=${stageVariables.sv};stage=${context.stage}",
            "remove:header.x-drop": "''",
            "overwrite:querystring.q": "$request.path.id",
            "append:querystring.route": "$context.routeKey",
            "remove:querystring.gone": "''",
            "overwrite:path": "/mapped/${request.path.id}",
        },
        ResponseParameters={"201": {"overwrite:statuscode": "202",
                                    "append:header.x-resp": "$response.header.x-backend",
                                    "overwrite:header.x-body": "$response.body.got",
                                    "remove:header.x-backend": "''"}})
    assert ig["RequestParameters"]["overwrite:path"] == "/mapped/${request.path.id}"
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True,
                         StageVariables={"sv": "one"})
    st, h, b = req(nimbus, "GET", "/m/7?q=old&gone=1&keep=2", host_of(nimbus, api),
                   headers={"X-In": "in1", "X-Drop": "d"})
    assert st == 202, b
    got = backend.last()
    path, _, query = got["path"].partition("?")
    assert path == "/mapped/7"
    assert sorted(query.split("&")) == ["keep=2", "q=7", "route=GET%20%2Fm%2F%7Bid%7D"]
    hd = got["headers"]
    assert hd["x-added"] == "in1" and "x-drop" not in hd
    assert hd["x-stage"] == "sv=one;stage=$default"
    assert h["x-resp"] == "b1" and "x-backend" not in h and h["x-body"] == "/mapped/7?" + query
    # other status codes are not mapped
    apigwv2.update_integration(ApiId=api, IntegrationId=ig["IntegrationId"],
                               ResponseParameters={"500": {"overwrite:statuscode": "200"}})
    st, h, _ = req(nimbus, "GET", "/m/8", host_of(nimbus, api))
    assert st == 201 and h["x-backend"] == "b1"


@pytest.mark.parametrize("kw", [
    dict(RequestParameters={"bogus:header.x": "v"}),
    dict(RequestParameters={"overwrite:body": "v"}),
    dict(RequestParameters={"append:path": "/x"}),
    dict(RequestParameters={"overwrite:header.x-amz-date": "v"}),
    dict(RequestParameters={"overwrite:header.Connection": "v"}),
    dict(RequestParameters={"overwrite:header.x": ""}),
    dict(ResponseParameters={"200": {"overwrite:querystring.a": "v"}}),
    dict(ResponseParameters={"99": {"overwrite:statuscode": "200"}}),
    dict(ResponseParameters={"ok": {"overwrite:statuscode": "200"}}),
])
def test_bad_parameter_mappings(apigwv2, kw):
    api = apigwv2.create_api(Name="b", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as e:
        apigwv2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY",
                                   IntegrationUri="http://127.0.0.1:1/", IntegrationMethod="GET",
                                   **kw)
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert apigwv2.get_integrations(ApiId=api)["Items"] == []


LAMBDA = '''
def handler(event, context):
    return {"statusCode": 201, "headers": {"x-fn": "f", "Access-Control-Allow-Methods": "BOGUS"},
            "body": '{"k": "v"}'}
'''


def test_lambda_response_parameters(nimbus, client, apigwv2):
    lmb = client("lambda")
    make_fn(lmb, "gwmap", {"app.py": LAMBDA})
    arn = lmb.get_function(FunctionName="gwmap")["Configuration"]["FunctionArn"]
    api = apigwv2.create_api(Name="l", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as e:  # request mapping is for HTTP integrations
        apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                   PayloadFormatVersion="2.0",
                                   RequestParameters={"overwrite:header.x": "v"})
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    ig = apigwv2.create_integration(
        ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0",
        ResponseParameters={"201": {"overwrite:statuscode": "203",
                                    "append:header.x-fn": "g",
                                    "overwrite:header.x-k": "$response.body.k"}})
    apigwv2.create_route(ApiId=api, RouteKey="GET /l", Target="integrations/" + ig["IntegrationId"])
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    st, h, b = req(nimbus, "GET", "/l", host_of(nimbus, api))
    assert st == 203, b
    assert h["x-fn"] == "f,g" and h["x-k"] == "v" and json.loads(b) == {"k": "v"}
    assert h["access-control-allow-methods"] == "BOGUS"
    # with CORS configured, the function's own CORS headers are ignored
    apigwv2.update_api(ApiId=api, CorsConfiguration={"AllowOrigins": ["*"]})
    st, h, b = req(nimbus, "GET", "/l", host_of(nimbus, api), headers={"Origin": "https://o.example"})
    assert st == 203 and h["access-control-allow-origin"] == "*"
    assert "access-control-allow-methods" not in h and h["x-fn"] == "f,g"


CORS = {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-h"], "ExposeHeaders": ["x-backend"], "MaxAge": 300,
        "AllowCredentials": True}


def test_cors(nimbus, apigwv2, backend):
    api, ig = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/c", ["GET /c", "POST /c"])
    apigwv2.update_api(ApiId=api, CorsConfiguration=CORS)
    host = host_of(nimbus, api)
    n = len(backend.seen)
    pre = {"Origin": "https://a.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "x-h"}
    st, h, b = req(nimbus, "OPTIONS", "/c", host, headers=pre)
    assert st == 204 and b == b""
    assert h["access-control-allow-origin"] == "https://a.example"
    assert h["access-control-allow-methods"] == "GET,POST"
    assert h["access-control-allow-headers"] == "x-h"
    assert h["access-control-max-age"] == "300"
    assert h["access-control-allow-credentials"] == "true"
    # a preflight from another origin, or for a method not allowed: no CORS headers
    st, h, _ = req(nimbus, "OPTIONS", "/c", host, headers=dict(pre, Origin="https://b.example"))
    assert st == 204 and "access-control-allow-origin" not in h
    st, h, _ = req(nimbus, "OPTIONS", "/c", host, headers=dict(pre, **{
        "Access-Control-Request-Method": "DELETE"}))
    assert st == 204 and "access-control-allow-methods" not in h
    assert len(backend.seen) == n  # API Gateway answered every preflight itself
    # an actual request: the backend's CORS headers are replaced by the API's
    st, h, b = req(nimbus, "GET", "/c", host, headers={"Origin": "https://a.example"})
    assert st == 201 and h["access-control-allow-origin"] == "https://a.example"
    assert h["access-control-expose-headers"] == "x-backend" and h["vary"] == "Origin"
    st, h, b = req(nimbus, "GET", "/c", host, headers={"Origin": "https://b.example"})
    assert st == 201 and "access-control-allow-origin" not in h
    # any origin, no credentials
    apigwv2.update_api(ApiId=api, CorsConfiguration={"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    st, h, _ = req(nimbus, "OPTIONS", "/c", host, headers=dict(pre, Origin="https://z.example"))
    assert st == 204 and h["access-control-allow-origin"] == "*"
    assert h["access-control-allow-methods"] == "*"
    # "https://*": any https origin
    apigwv2.update_api(ApiId=api, CorsConfiguration=dict(CORS, AllowOrigins=["https://*"]))
    st, h, _ = req(nimbus, "GET", "/c", host, headers={"Origin": "https://q.example"})
    assert st == 201 and h["access-control-allow-origin"] == "https://q.example"
    st, h, _ = req(nimbus, "GET", "/c", host, headers={"Origin": "http://q.example"})
    assert st == 201 and "access-control-allow-origin" not in h
    st, h, _ = req(nimbus, "OPTIONS", "/c", host, headers=dict(pre, Origin="https://r.example"))
    assert st == 204 and h["access-control-allow-origin"] == "https://r.example"
    assert len(backend.seen) == n + 4
    # a route that takes OPTIONS (OPTIONS, ANY or $default) gets preflights itself
    apigwv2.update_api(ApiId=api, CorsConfiguration={"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    for key in ["OPTIONS /c", "ANY /{proxy+}", "$default"]:
        api2, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/c", ["GET /c", key])
        apigwv2.update_api(ApiId=api2, CorsConfiguration={"AllowOrigins": ["*"]})
        st, h, _ = req(nimbus, "OPTIONS", "/c" if key != "ANY /{proxy+}" else "/c/d",
                       host_of(nimbus, api2), headers=pre)
        assert st == 201 and backend.last()["method"] == "OPTIONS", key
        assert h["access-control-allow-origin"] == "*", key
    # DeleteCorsConfiguration: the backend's own CORS headers pass through again
    apigwv2.delete_cors_configuration(ApiId=api)
    assert "CorsConfiguration" not in apigwv2.get_api(ApiId=api)
    st, h, _ = req(nimbus, "GET", "/c", host, headers={"Origin": "https://a.example"})
    assert st == 201 and h["access-control-allow-origin"] == "https://evil.example"
    with pytest.raises(apigwv2.exceptions.NotFoundException):
        apigwv2.delete_cors_configuration(ApiId="nope123456")


def test_cors_not_configured_passes_preflight_through(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/c", ["ANY /c"])
    st, h, _ = req(nimbus, "OPTIONS", "/c", host_of(nimbus, api), headers={
        "Origin": "https://a.example", "Access-Control-Request-Method": "GET"})
    assert st == 201 and backend.last()["method"] == "OPTIONS"
    assert h["access-control-allow-origin"] == "https://evil.example"


def test_throttling(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/t", ["GET /t", "GET /free"],
                      stage=None)
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True,
                         DefaultRouteSettings={"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.5},
                         RouteSettings={"GET /free": {"ThrottlingBurstLimit": 50,
                                                      "ThrottlingRateLimit": 100.0}})
    host = host_of(nimbus, api)
    codes = [req(nimbus, "GET", "/t", host)[0] for _ in range(3)]
    assert codes == [201, 201, 429]
    st, h, b = req(nimbus, "GET", "/t", host)
    assert st == 429 and json.loads(b) == {"message": "Too Many Requests"}
    assert [req(nimbus, "GET", "/free", host)[0] for _ in range(5)] == [201] * 5
    time.sleep(2.1)  # 0.5 tokens a second: one more request
    assert req(nimbus, "GET", "/t", host)[0] == 201
    assert req(nimbus, "GET", "/t", host)[0] == 429
    # raising the limit applies at once
    apigwv2.update_stage(ApiId=api, StageName="$default",
                         DefaultRouteSettings={"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 100.0})
    time.sleep(0.05)
    assert req(nimbus, "GET", "/t", host)[0] == 201


def test_default_and_named_stage(nimbus, apigwv2, backend):
    api, ig = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/s", ["ANY /{proxy+}", "GET /"],
                       stage=None, RequestParameters={
                           "overwrite:header.x-stage": "$context.stage",
                           "overwrite:header.x-path": "$request.path"})
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    apigwv2.create_stage(ApiId=api, StageName="beta", AutoDeploy=True)
    host = host_of(nimbus, api)
    for path, stage, rest in [("/beta/x/y", "beta", "/x/y"), ("/x/y", "$default", "/x/y"),
                              ("/beta", "beta", "/"), ("/betax/y", "$default", "/betax/y"),
                              ("/", "$default", "/")]:
        st, _, b = req(nimbus, "GET", path, host)
        assert st == 201, (path, b)
        hd = backend.last()["headers"]
        assert (hd["x-stage"], hd["x-path"]) == (stage, rest), path
    # the path form too
    st, _, _ = req(nimbus, "GET", f"/_aws/execute-api/{api}/beta/q", "localhost")
    assert st == 201 and backend.last()["headers"]["x-stage"] == "beta"
    # LocalStack's /restapis/{apiId}/{stage}/_user_request_/{path} form names the stage
    for path, stage, rest in [(f"/restapis/{api}/beta/_user_request_/q/r", "beta", "/q/r"),
                              (f"/restapis/{api}/$default/_user_request_/beta/x", "$default", "/beta/x"),
                              (f"/restapis/{api}/%24default/_user_request_", "$default", "/")]:
        st, _, b = req(nimbus, "GET", path, "localhost")
        assert st == 201, (path, b)
        hd = backend.last()["headers"]
        assert (hd["x-stage"], hd["x-path"]) == (stage, rest), path
    st, _, b = req(nimbus, "GET", f"/restapis/{api}/gamma/_user_request_/x", "localhost")
    assert st == 404 and json.loads(b) == {"message": "Not Found"}
    # an id that is no HTTP API is not the HTTP API data plane's (REST APIs share the form)
    st, h, b = req(nimbus, "GET", "/restapis/zzzzzzzzzz/beta/_user_request_/x", "localhost")
    assert "apigw-requestid" not in h and b'{"message":"Not Found"}' != b
    # the cache follows the control plane: a deleted stage is gone at once
    apigwv2.delete_stage(ApiId=api, StageName="beta")
    req(nimbus, "GET", "/beta/x/y", host)
    assert backend.last()["headers"]["x-stage"] == "$default"
    apigwv2.delete_api(ApiId=api)
    st, _, b = req(nimbus, "GET", "/x", host)
    assert st == 404 and json.loads(b) == {"message": "Not Found"}


def test_snapshot_cache_follows_deployments(nimbus, apigwv2, backend):
    api = apigwv2.create_api(Name="d", ProtocolType="HTTP")["ApiId"]
    ig = apigwv2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY",
                                    IntegrationUri=f"http://127.0.0.1:{backend.port}/one",
                                    IntegrationMethod="GET")["IntegrationId"]
    apigwv2.create_route(ApiId=api, RouteKey="GET /r", Target="integrations/" + ig)
    d1 = apigwv2.create_deployment(ApiId=api)["DeploymentId"]
    apigwv2.create_stage(ApiId=api, StageName="prod", DeploymentId=d1)
    host = host_of(nimbus, api)
    assert req(nimbus, "GET", "/prod/r", host)[0] == 201 and backend.last()["path"] == "/one"
    # an undeployed change is not served; deploying it is
    apigwv2.update_integration(ApiId=api, IntegrationId=ig,
                               IntegrationUri=f"http://127.0.0.1:{backend.port}/two")
    req(nimbus, "GET", "/prod/r", host)
    assert backend.last()["path"] == "/one"
    d2 = apigwv2.create_deployment(ApiId=api, StageName="prod")["DeploymentId"]
    req(nimbus, "GET", "/prod/r", host)
    assert backend.last()["path"] == "/two"
    # and back to the first deployment
    apigwv2.update_stage(ApiId=api, StageName="prod", DeploymentId=d1)
    req(nimbus, "GET", "/prod/r", host)
    assert backend.last()["path"] == "/one"
    assert d1 != d2
    # many deployments served one after another (the cache keeps a few)
    for i in range(12):
        apigwv2.create_deployment(ApiId=api, StageName="prod")
        assert req(nimbus, "GET", "/prod/r", host)[0] == 201
    assert backend.last()["path"] == "/two"


def test_quick_create_http_target(nimbus, apigwv2, backend):
    api = apigwv2.create_api(Name="qc", ProtocolType="HTTP",
                             Target=f"http://127.0.0.1:{backend.port}/qc")["ApiId"]
    ig = apigwv2.get_integrations(ApiId=api)["Items"][0]
    assert ig["IntegrationType"] == "HTTP_PROXY" and ig["IntegrationMethod"] == "ANY"
    assert ig["PayloadFormatVersion"] == "1.0"
    st, _, _ = req(nimbus, "PUT", "/x/y", host_of(nimbus, api), body=b"{}")
    assert st == 201 and (backend.last()["method"], backend.last()["path"]) == ("PUT", "/qc/x/y")
    # a mapped path keeps the escapes it was given
    apigwv2.update_integration(ApiId=api, IntegrationId=ig["IntegrationId"],
                               RequestParameters={"overwrite:path": "/raw${request.path}"})
    req(nimbus, "GET", "/a%20b/c", host_of(nimbus, api))
    assert backend.last()["path"] == "/raw/a%20b/c"


def test_odd_requests_get_not_found(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/o", ["GET /o/{id}"],
                      stage="prod", RequestParameters={"overwrite:header.x-v": "${unclosed",
                                                       "append:header.x-w": "$",
                                                       "overwrite:querystring.e": "$request.body.a.b"})
    host = host_of(nimbus, api)
    for path in ["/prod/o", "/prod/o/1/2", "/prod//o/1", "/prod", "/", "/%24default/o/1",
                 "/prod/o/" + "x/" * 200]:
        st, _, b = req(nimbus, "GET", path, host)
        assert st == 404 and json.loads(b) == {"message": "Not Found"}, path
    for path in [f"/restapis/{api}/nostage/_user_request_/o/1", f"/_aws/execute-api/{api}"]:
        st, _, b = req(nimbus, "GET", path, "localhost")
        assert st == 404 and json.loads(b) == {"message": "Not Found"}, path
    # odd mapping values: text kept, a lone "$" or an absent body member maps nothing
    st, _, _ = req(nimbus, "GET", "/prod/o/%2F%00x", host, body=b"not json")
    assert st == 201
    got = backend.last()
    assert got["headers"]["x-v"] == "${unclosed" and "x-w" not in got["headers"]
    assert got["path"] == "/o"
    assert req(nimbus, "GET", "/prod/o/1", host)[0] == 201


def test_stage_variables_in_integration_uri(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, "http://127.0.0.1:${stageVariables.port}/${stageVariables.base}/{id}",
                      ["GET /v/{id}"], stage=None)
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True,
                         StageVariables={"port": str(backend.port), "base": "sv"})
    st, _, b = req(nimbus, "GET", "/v/9", host_of(nimbus, api))
    assert st == 201, b
    assert backend.last()["path"] == "/sv/9"


AUTHZ = '''
def handler(event, context):
    return {"isAuthorized": (event.get("headers") or {}).get("x-key") == "good"}
'''


def test_authorizer_then_http_proxy_and_throttling(nimbus, client, apigwv2, backend):
    # a Lambda authorizer parks the request; once allowed it is served again
    # from the start: it reaches the backend once and uses one throttling token
    lmb = client("lambda")
    make_fn(lmb, "gwauthz", {"app.py": AUTHZ})
    fa = lmb.get_function(FunctionName="gwauthz")["Configuration"]["FunctionArn"]
    api, ig = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/a", [], stage=None)
    aid = apigwv2.create_authorizer(
        ApiId=api, Name="l", AuthorizerType="REQUEST", AuthorizerPayloadFormatVersion="2.0",
        AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fa}/invocations",
        IdentitySource=["$request.header.x-key"], EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=0)["AuthorizerId"]
    apigwv2.create_route(ApiId=api, RouteKey="GET /a", Target="integrations/" + ig["IntegrationId"],
                         AuthorizationType="CUSTOM", AuthorizerId=aid)
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True,
                         DefaultRouteSettings={"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.01})
    apigwv2.update_api(ApiId=api, CorsConfiguration={"AllowOrigins": ["*"]})
    host = host_of(nimbus, api)
    n = len(backend.seen)
    st, h, _ = req(nimbus, "GET", "/a", host, headers={"x-key": "bad", "Origin": "https://o.example"})
    assert st == 403 and len(backend.seen) == n
    st, h, _ = req(nimbus, "GET", "/a", host, headers={"x-key": "good", "Origin": "https://o.example"})
    assert st == 201 and len(backend.seen) == n + 1
    assert h["access-control-allow-origin"] == "*" and h["apigw-requestid"]
    assert req(nimbus, "GET", "/a", host, headers={"x-key": "good"})[0] == 201
    assert req(nimbus, "GET", "/a", host, headers={"x-key": "good"})[0] == 429
    assert len(backend.seen) == n + 2


def test_reset_drops_the_cache(nimbus, apigwv2, backend):
    api, _ = http_api(apigwv2, f"http://127.0.0.1:{backend.port}/r", ["GET /r"])
    assert req(nimbus, "GET", "/r", host_of(nimbus, api))[0] == 201
    nimbus.reset()
    st, _, b = req(nimbus, "GET", "/r", host_of(nimbus, api))
    assert st == 404 and json.loads(b) == {"message": "Not Found"}


def test_imported_http_proxy_integration(nimbus, apigwv2, backend):
    oas = {"openapi": "3.0.1", "info": {"title": "imp", "version": "1"},
           "x-amazon-apigateway-cors": {"allowOrigins": ["https://a.example"]},
           "paths": {"/items/{id}": {"get": {"x-amazon-apigateway-integration": {
               "type": "http_proxy", "httpMethod": "GET", "payloadFormatVersion": "1.0",
               "uri": f"http://127.0.0.1:{backend.port}/backend/{{id}}",
               "requestParameters": {"append:header.x-imp": "$request.path.id"}}}}}}
    api = apigwv2.import_api(Body=json.dumps(oas))["ApiId"]
    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    st, h, b = req(nimbus, "GET", "/items/5", host_of(nimbus, api), headers={"Origin": "https://a.example"})
    assert st == 201, b
    assert backend.last()["path"] == "/backend/5" and backend.last()["headers"]["x-imp"] == "5"
    assert h["access-control-allow-origin"] == "https://a.example"
