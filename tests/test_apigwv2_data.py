"""API Gateway v2 data plane: real HTTP requests through deployed HTTP APIs
to Python Lambda functions (AWS_PROXY, payload formats 2.0 and 1.0), by the
Host form "{apiId}.execute-api.localhost" and the path form
"/_aws/execute-api/{apiId}/..."."""
import http.client
import json

import pytest

from test_lambda_invoke import make_fn

ECHO = '''
import json
def handler(event, context):
    q = (event.get("queryStringParameters") or {}).get("kind")
    if q == "raw":
        return {"raw": True}
    if q == "raise":
        raise ValueError("x")
    return {"statusCode": 201, "headers": {"content-type": "application/json", "x-fn": "1"},
            "cookies": ["a=1"], "body": json.dumps(event)}
'''


@pytest.fixture
def lmb(client):
    return client("lambda")


def req(nimbus, method, path, host=None, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", nimbus.port, timeout=30)
    h = dict(headers or {})
    if host:
        h["Host"] = host
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def fn_arn(lmb, name):
    make_fn(lmb, name, {"app.py": ECHO})
    return lmb.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def test_quick_create_v2_event(nimbus, lmb, apigwv2):
    arn = fn_arn(lmb, "gw1")
    api = apigwv2.create_api(Name="q", ProtocolType="HTTP", Target=arn)["ApiId"]
    host = f"{api}.execute-api.localhost:{nimbus.port}"
    st, h, b = req(nimbus, "POST", "/pets/7?x=1&x=2&y=z", host=host, body=b"hello",
                   headers={"Cookie": "c1=v1; c2=v2", "User-Agent": "ua/1",
                            "Content-Type": "text/plain"})
    assert st == 201, b
    assert h["x-fn"] == "1" and h["set-cookie"] == "a=1" and h["apigw-requestid"]
    ev = json.loads(b)
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/pets/7" and ev["rawQueryString"] == "x=1&x=2&y=z"
    assert ev["queryStringParameters"] == {"x": "1,2", "y": "z"}
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    assert ev["body"] == "hello" and ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["apiId"] == api and rc["stage"] == "$default" and rc["accountId"] == "000000000000"
    assert rc["domainName"] == f"{api}.execute-api.localhost" and rc["domainPrefix"] == api
    assert rc["http"]["method"] == "POST" and rc["http"]["path"] == "/pets/7"
    assert rc["http"]["userAgent"] == "ua/1" and rc["http"]["sourceIp"] == "127.0.0.1"
    assert rc["requestId"] == h["apigw-requestid"] and isinstance(rc["timeEpoch"], int)
    # inferred response: a JSON result without statusCode is a 200 JSON body
    st, h, b = req(nimbus, "GET", "/?kind=raw", host=host)
    assert st == 200 and json.loads(b) == {"raw": True} and h["content-type"] == "application/json"
    st, h, b = req(nimbus, "GET", "/?kind=raise", host=host)
    assert st == 500 and json.loads(b) == {"message": "Internal Server Error"}
    # the path form
    st, h, b = req(nimbus, "GET", f"/_aws/execute-api/{api}/a/b")
    assert st == 201 and json.loads(b)["rawPath"] == "/a/b"


def test_routes_stage_and_v1(nimbus, lmb, apigwv2):
    arn = fn_arn(lmb, "gw2")
    api = apigwv2.create_api(Name="r", ProtocolType="HTTP")["ApiId"]
    i2 = apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                    PayloadFormatVersion="2.0")["IntegrationId"]
    i1 = apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                    PayloadFormatVersion="1.0")["IntegrationId"]
    apigwv2.create_route(ApiId=api, RouteKey="GET /pets/{id}", Target="integrations/" + i2)
    apigwv2.create_route(ApiId=api, RouteKey="GET /pets/dog", Target="integrations/" + i2)
    apigwv2.create_route(ApiId=api, RouteKey="ANY /files/{proxy+}", Target="integrations/" + i1)
    apigwv2.create_stage(ApiId=api, StageName="prod", AutoDeploy=True, StageVariables={"v": "1"})
    host = f"{api}.execute-api.localhost:{nimbus.port}"
    st, h, b = req(nimbus, "GET", "/prod/pets/42", host=host)
    assert st == 201, b
    ev = json.loads(b)
    assert ev["routeKey"] == "GET /pets/{id}" and ev["pathParameters"] == {"id": "42"}
    assert ev["rawPath"] == "/pets/42" and ev["stageVariables"] == {"v": "1"}
    assert ev["requestContext"]["stage"] == "prod"
    assert json.loads(req(nimbus, "GET", "/prod/pets/dog", host=host)[2])["routeKey"] == "GET /pets/dog"
    st, h, b = req(nimbus, "DELETE", "/prod/files/a/b.txt?k=v&k=w", host=host,
                   headers={"X-A": "1"})
    assert st == 201, b
    ev = json.loads(b)
    assert ev["version"] == "1.0" and ev["resource"] == "/files/{proxy+}"
    assert ev["path"] == "/files/a/b.txt" and ev["httpMethod"] == "DELETE"
    assert ev["pathParameters"] == {"proxy": "a/b.txt"}
    assert ev["multiValueQueryStringParameters"]["k"] == ["v", "w"]
    assert ev["headers"]["x-a"] == "1" and ev["multiValueHeaders"]["x-a"] == ["1"]
    assert ev["requestContext"]["httpMethod"] == "DELETE" and ev["stageVariables"] == {"v": "1"}
    # no route, no stage, no api
    for path, hst in [("/prod/cats", host), ("/nope/pets/1", host),
                      ("/prod/pets/1", f"zzzzzzzzzz.execute-api.localhost:{nimbus.port}")]:
        st, h, b = req(nimbus, "GET", path, host=hst)
        assert st == 404 and json.loads(b) == {"message": "Not Found"}, path
    # a 1.0 integration needs a statusCode
    st, h, b = req(nimbus, "GET", "/prod/files/x?kind=raw", host=host)
    assert st == 500 and json.loads(b) == {"message": "Internal Server Error"}


def test_missing_function(nimbus, apigwv2):
    api = apigwv2.create_api(Name="m", ProtocolType="HTTP",
                             Target="arn:aws:lambda:us-east-1:000000000000:function:absent")["ApiId"]
    st, h, b = req(nimbus, "GET", "/", host=f"{api}.execute-api.localhost:{nimbus.port}")
    assert st == 500 and json.loads(b) == {"message": "Internal Server Error"}
