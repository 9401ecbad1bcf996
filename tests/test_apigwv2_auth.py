"""API Gateway v2 authorizers: the control plane (Create/Get/Update/Delete
Authorizer, routes' AuthorizationType / AuthorizerId / AuthorizationScopes)
and the data plane: JWT authorizers against a local OpenID issuer (a threaded
http.server serving openid-configuration and JWKS; tokens signed with
`cryptography`), and Lambda REQUEST authorizers (simple and IAM policy
answers, deny, identity sources, result caching)."""
import base64
import http.server
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from test_apigwv2_data import fn_arn, req
from test_lambda_invoke import make_fn


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class Issuer:
    """An OpenID issuer on a free port; counts requests by path."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.hits = {}
        self.delay = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                time.sleep(outer.delay)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": outer.url, "jwks_uri": outer.url + "/keys"}
                elif self.path == "/keys":
                    pub = outer.key.public_key().public_numbers()
                    body = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                                      "n": b64u(uint(pub.n)), "e": b64u(uint(pub.e))}]}
                else:
                    body = {}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def token(self, key=None, kid="k1", alg="RS256", **claims):
        now = int(time.time())
        body = {"iss": self.url, "aud": "app", "sub": "u1", "iat": now - 10, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = b64u(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
        signing = f"{head}.{b64u(json.dumps(body).encode())}".encode()
        sig = (key or self.key).sign(signing, padding.PKCS1v15(), hashes.SHA256())
        return signing.decode() + "." + b64u(sig)


@pytest.fixture(scope="module")
def issuer():
    i = Issuer()
    yield i
    i.srv.shutdown()


@pytest.fixture
def lmb(client):
    return client("lambda")


def api_with_fn(apigwv2, lmb, name, pfv="2.0"):
    arn = fn_arn(lmb, name)
    api = apigwv2.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
    ig = apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                    PayloadFormatVersion=pfv)["IntegrationId"]
    return api, "integrations/" + ig


def bad(fn, code="BadRequestException", **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response["Error"]["Message"]


def test_authorizer_control_plane(apigwv2, issuer):
    api = apigwv2.create_api(Name="cp", ProtocolType="HTTP")["ApiId"]
    a = apigwv2.create_authorizer(ApiId=api, Name="jwt", AuthorizerType="JWT",
                                  IdentitySource=["$request.header.Authorization"],
                                  JwtConfiguration={"Issuer": issuer.url, "Audience": ["app"]})
    assert a["AuthorizerType"] == "JWT" and a["JwtConfiguration"]["Audience"] == ["app"]
    aid = a["AuthorizerId"]
    assert apigwv2.get_authorizer(ApiId=api, AuthorizerId=aid)["Name"] == "jwt"
    assert [x["AuthorizerId"] for x in apigwv2.get_authorizers(ApiId=api)["Items"]] == [aid]
    u = apigwv2.update_authorizer(ApiId=api, AuthorizerId=aid, Name="jwt2",
                                  JwtConfiguration={"Issuer": issuer.url, "Audience": ["a", "b"]})
    assert u["Name"] == "jwt2" and u["JwtConfiguration"]["Audience"] == ["a", "b"]
    # validation
    bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"])
    bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="REQUEST",
        IdentitySource=["$request.header.Authorization"], AuthorizerPayloadFormatVersion="2.0")
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
           "arn:aws:lambda:us-east-1:000000000000:function:f/invocations")
    msg = bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="REQUEST",
              IdentitySource=[], AuthorizerUri=uri, AuthorizerPayloadFormatVersion="2.0",
              AuthorizerResultTtlInSeconds=60)
    assert msg == "Identity source must be set if authorizer caching is enabled (TTL is greater than 0)"
    bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="REQUEST",
        IdentitySource=["$request.header.a"], AuthorizerUri=uri, AuthorizerPayloadFormatVersion="1.0",
        EnableSimpleResponses=True)
    bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="REQUEST",
        IdentitySource=["$request.header.a"], AuthorizerUri=uri, AuthorizerPayloadFormatVersion="3.0")
    bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="REQUEST",
        IdentitySource=["bogus"], AuthorizerUri=uri, AuthorizerPayloadFormatVersion="2.0")
    bad(apigwv2.create_authorizer, ApiId=api, Name="x", AuthorizerType="TOKEN",
        IdentitySource=["$request.header.a"])
    bad(apigwv2.get_authorizer, "NotFoundException", ApiId=api, AuthorizerId="nope")
    lam = apigwv2.create_authorizer(ApiId=api, Name="lam", AuthorizerType="REQUEST",
                                    IdentitySource=["$request.header.x-key"], AuthorizerUri=uri,
                                    AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
                                    AuthorizerResultTtlInSeconds=30)
    assert lam["AuthorizerResultTtlInSeconds"] == 30 and lam["EnableSimpleResponses"] is True
    # routes
    r = apigwv2.create_route(ApiId=api, RouteKey="GET /a", AuthorizationType="JWT", AuthorizerId=aid,
                             AuthorizationScopes=["read"])
    got = apigwv2.get_route(ApiId=api, RouteId=r["RouteId"])
    assert got["AuthorizationType"] == "JWT" and got["AuthorizerId"] == aid
    assert got["AuthorizationScopes"] == ["read"]
    assert apigwv2.get_routes(ApiId=api)["Items"][0]["AuthorizationScopes"] == ["read"]
    bad(apigwv2.create_route, ApiId=api, RouteKey="GET /b", AuthorizationType="CUSTOM", AuthorizerId=aid)
    bad(apigwv2.create_route, ApiId=api, RouteKey="GET /b", AuthorizationType="JWT")
    bad(apigwv2.create_route, ApiId=api, RouteKey="GET /b", AuthorizationType="CUSTOM",
        AuthorizerId=lam["AuthorizerId"], AuthorizationScopes=["x"])
    bad(apigwv2.create_route, ApiId=api, RouteKey="GET /b", AuthorizationType="MAGIC")
    iam = apigwv2.create_route(ApiId=api, RouteKey="GET /iam", AuthorizationType="AWS_IAM")
    assert iam["AuthorizationType"] == "AWS_IAM" and "AuthorizerId" not in iam
    # in use: conflict; released: deleted
    bad(apigwv2.delete_authorizer, "ConflictException", ApiId=api, AuthorizerId=aid)
    u = apigwv2.update_route(ApiId=api, RouteId=r["RouteId"], AuthorizationType="NONE")
    assert u["AuthorizationType"] == "NONE" and "AuthorizerId" not in u and "AuthorizationScopes" not in u
    apigwv2.delete_authorizer(ApiId=api, AuthorizerId=aid)
    bad(apigwv2.get_authorizer, "NotFoundException", ApiId=api, AuthorizerId=aid)


ECHO_PATH = "/prod/pets/1"


def jwt_api(apigwv2, lmb, issuer, name, scopes=None, pfv="2.0"):
    api, target = api_with_fn(apigwv2, lmb, name, pfv)
    aid = apigwv2.create_authorizer(ApiId=api, Name="j", AuthorizerType="JWT",
                                    IdentitySource=["$request.header.Authorization"],
                                    JwtConfiguration={"Issuer": issuer.url, "Audience": ["app"]})["AuthorizerId"]
    kw = {"AuthorizationScopes": scopes} if scopes else {}
    apigwv2.create_route(ApiId=api, RouteKey="GET /pets/{id}", Target=target,
                         AuthorizationType="JWT", AuthorizerId=aid, **kw)
    apigwv2.create_route(ApiId=api, RouteKey="GET /open", Target=target)
    apigwv2.create_stage(ApiId=api, StageName="prod", AutoDeploy=True)
    return api, aid


def call(nimbus, api, path=ECHO_PATH, **headers):
    return req(nimbus, "GET", path, host=f"{api}.execute-api.localhost:{nimbus.port}", headers=headers)


def test_jwt_authorizer(nimbus, apigwv2, lmb, issuer):
    api, aid = jwt_api(apigwv2, lmb, issuer, "jw1", scopes=["pets.read", "pets.all"])
    before = issuer.hits.get("/keys", 0)
    tok = issuer.token(scope="openid pets.read", email="a@b.c", groups=["g1", "g2"])
    st, h, b = call(nimbus, api, Authorization="Bearer " + tok)
    assert st == 201, b
    rc = json.loads(b)["requestContext"]
    claims = rc["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "u1" and claims["email"] == "a@b.c" and claims["iss"] == issuer.url
    assert claims["groups"] == "[g1 g2]" and isinstance(claims["exp"], str)
    assert rc["authorizer"]["jwt"]["scopes"] == ["openid", "pets.read"]
    # without "Bearer ", the keys cached (one JWKS fetch for both requests)
    st, h, b = call(nimbus, api, Authorization=tok)
    assert st == 201, b
    assert issuer.hits.get("/keys", 0) == before + 1
    # a route without authorization
    assert call(nimbus, api, "/prod/open")[0] == 201
    unauth = json.dumps({"message": "Unauthorized"}).replace(" ", "").encode()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    cases = {
        "missing": None,
        "expired": issuer.token(scope="pets.read", exp=now - 5),
        "audience": issuer.token(scope="pets.read", aud="other"),
        "issuer": issuer.token(scope="pets.read", iss="https://evil.example"),
        "signature": issuer.token(key=other, scope="pets.read"),
        "kid": issuer.token(kid="k9", scope="pets.read"),
        "nbf": issuer.token(scope="pets.read", nbf=now + 600),
        "garbage": "abc.def",
    }
    for name, t in cases.items():
        hdr = {"Authorization": "Bearer " + t} if t else {}
        st, h, b = call(nimbus, api, **hdr)
        assert st == 401 and b == unauth, (name, st, b)
        assert h["www-authenticate"].startswith("Bearer"), name
    assert "expired" in call(nimbus, api, Authorization=cases["expired"])[1]["www-authenticate"]
    # the header AWS documents for a wrong audience
    assert call(nimbus, api, Authorization=cases["audience"])[1]["www-authenticate"] == (
        'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"')
    # client_id counts only without aud
    st, _, b = call(nimbus, api, Authorization=issuer.token(scope="pets.all", aud=None, client_id="app"))
    assert st == 201, b
    # a valid token without the route's scopes
    st, h, b = call(nimbus, api, Authorization=issuer.token(scope="other"))
    assert st == 403 and json.loads(b) == {"message": "Forbidden"}
    st, h, b = call(nimbus, api, Authorization=issuer.token(scp=["pets.all"]))
    assert st == 201, b


def test_jwt_v1_and_snapshot(nimbus, apigwv2, lmb, issuer):
    api, aid = jwt_api(apigwv2, lmb, issuer, "jw2", pfv="1.0")
    st, h, b = call(nimbus, api, Authorization=issuer.token())
    assert st == 201, b
    auth = json.loads(b)["requestContext"]["authorizer"]
    assert auth["claims"]["sub"] == "u1" and auth["scopes"] is None
    # a stage serves the authorizer it was deployed with
    apigwv2.update_stage(ApiId=api, StageName="prod", AutoDeploy=False)
    apigwv2.update_authorizer(ApiId=api, AuthorizerId=aid,
                              JwtConfiguration={"Issuer": issuer.url, "Audience": ["new"]})
    assert call(nimbus, api, Authorization=issuer.token())[0] == 201
    apigwv2.create_deployment(ApiId=api, StageName="prod")
    assert call(nimbus, api, Authorization=issuer.token())[0] == 401
    assert call(nimbus, api, Authorization=issuer.token(aud="new"))[0] == 201


AUTH_FN = '''
import json, os, urllib.request
def handler(event, context):
    urllib.request.urlopen(os.environ["HIT"] + "/hit").read()
    key = (event.get("headers") or {}).get("x-key", "")
    if key == "boom":
        raise ValueError("boom")
    if key == "junk":
        return "not an answer"
    if os.environ.get("MODE") == "simple":
        return {"isAuthorized": key == "good", "context": {"user": "alice", "n": 7,
                "type": event["type"], "version": event["version"],
                "idsrc": json.dumps(event["identitySource"]), "routeArn": event.get("routeArn", "")}}
    arn = event.get("routeArn") or event.get("methodArn")
    parts = arn.split("/")
    effect = "Allow" if key == "good" else "Deny"
    return {"principalId": "alice", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect,
         "Resource": parts[0] + "/*/GET/pets/*"}]},
        "context": {"user": "alice", "arn": arn, "version": event["version"],
                    "token": event.get("authorizationToken", "")}}
'''


def lambda_api(apigwv2, lmb, issuer, name, mode, pfv, ttl, ipfv="2.0"):
    make_fn(lmb, name + "-auth", {"app.py": AUTH_FN},
            Environment={"Variables": {"HIT": issuer.url, "MODE": mode}})
    fa = lmb.get_function(FunctionName=name + "-auth")["Configuration"]["FunctionArn"]
    api, target = api_with_fn(apigwv2, lmb, name, ipfv)
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fa}/invocations"
    kw = {"EnableSimpleResponses": True} if mode == "simple" else {}
    aid = apigwv2.create_authorizer(ApiId=api, Name="l", AuthorizerType="REQUEST", AuthorizerUri=uri,
                                    IdentitySource=["$request.header.x-key"],
                                    AuthorizerPayloadFormatVersion=pfv,
                                    AuthorizerResultTtlInSeconds=ttl, **kw)["AuthorizerId"]
    for key in ("GET /pets/{id}", "POST /pets/{id}"):
        apigwv2.create_route(ApiId=api, RouteKey=key, Target=target,
                             AuthorizationType="CUSTOM", AuthorizerId=aid)
    apigwv2.create_stage(ApiId=api, StageName="prod", AutoDeploy=True)
    return api


def test_lambda_authorizer_simple_and_cache(nimbus, apigwv2, lmb, issuer):
    api = lambda_api(apigwv2, lmb, issuer, "la1", "simple", "2.0", ttl=300)
    hits = issuer.hits.get("/hit", 0)
    st, h, b = call(nimbus, api, **{"x-key": "good"})
    assert st == 201, b
    rc = json.loads(b)["requestContext"]
    ctx = rc["authorizer"]["lambda"]
    assert ctx["user"] == "alice" and ctx["n"] == 7 and ctx["type"] == "REQUEST"
    assert ctx["version"] == "2.0" and json.loads(ctx["idsrc"]) == ["good"]
    assert ctx["routeArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api}/prod/GET/pets/1"
    assert issuer.hits["/hit"] == hits + 1
    # cached by identity source value: no second call
    assert call(nimbus, api, **{"x-key": "good"})[0] == 201
    assert issuer.hits["/hit"] == hits + 1
    # denied (and a different key calls the function again)
    st, h, b = call(nimbus, api, **{"x-key": "bad"})
    assert st == 403 and json.loads(b) == {"message": "Forbidden"}
    assert issuer.hits["/hit"] == hits + 2
    # no identity source: 401 without calling the function
    st, h, b = call(nimbus, api)
    assert st == 401 and json.loads(b) == {"message": "Unauthorized"}
    assert issuer.hits["/hit"] == hits + 2
    # function errors and malformed answers
    for key in ("boom", "junk"):
        st, h, b = call(nimbus, api, **{"x-key": key})
        assert st == 500 and json.loads(b) == {"message": "Internal Server Error"}, key


def test_lambda_authorizer_policy(nimbus, apigwv2, lmb, issuer):
    api = lambda_api(apigwv2, lmb, issuer, "la2", "policy", "2.0", ttl=0)
    hits = issuer.hits.get("/hit", 0)
    st, h, b = call(nimbus, api, **{"x-key": "good"})
    assert st == 201, b
    ctx = json.loads(b)["requestContext"]["authorizer"]["lambda"]
    assert ctx["user"] == "alice" and ctx["arn"].endswith(f"{api}/prod/GET/pets/1")
    # TTL 0: every request calls the function
    assert call(nimbus, api, **{"x-key": "good"})[0] == 201
    assert issuer.hits["/hit"] == hits + 2
    # the policy allows GET only
    st, h, b = req(nimbus, "POST", ECHO_PATH, host=f"{api}.execute-api.localhost:{nimbus.port}",
                   headers={"x-key": "good"})
    assert st == 403 and json.loads(b) == {"message": "Forbidden"}
    assert call(nimbus, api, **{"x-key": "bad"})[0] == 403


def test_lambda_authorizer_v1(nimbus, apigwv2, lmb, issuer):
    api = lambda_api(apigwv2, lmb, issuer, "la3", "policy", "1.0", ttl=60, ipfv="1.0")
    st, h, b = call(nimbus, api, **{"x-key": "good"})
    assert st == 201, b
    auth = json.loads(b)["requestContext"]["authorizer"]
    assert auth["user"] == "alice" and auth["principalId"] == "alice"
    assert auth["version"] == "1.0" and auth["token"] == "good"
    assert auth["arn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api}/prod/GET/pets/1"
    # the cached policy is evaluated against each request's route ARN
    st, h, b = req(nimbus, "POST", ECHO_PATH, host=f"{api}.execute-api.localhost:{nimbus.port}",
                   headers={"x-key": "good"})
    assert st == 403


def test_iam_route(nimbus, apigwv2, lmb):
    api, target = api_with_fn(apigwv2, lmb, "iam1")
    apigwv2.create_route(ApiId=api, RouteKey="GET /pets/{id}", Target=target, AuthorizationType="AWS_IAM")
    apigwv2.create_stage(ApiId=api, StageName="prod", AutoDeploy=True)
    st, h, b = call(nimbus, api)
    assert st == 403 and json.loads(b) == {"message": "Forbidden"}
    sig = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"
    assert call(nimbus, api, Authorization=sig)[0] == 201


def test_jwks_fetch_does_not_block(nimbus, apigwv2, lmb, issuer):
    """Requests wait for one JWKS fetch together; other requests go on."""
    api, _ = jwt_api(apigwv2, lmb, issuer, "jw3")
    before = issuer.hits.get("/.well-known/openid-configuration", 0)
    issuer.delay = 0.6
    out = []
    try:
        ths = [threading.Thread(target=lambda: out.append(call(nimbus, api, Authorization=issuer.token())[0]))
               for _ in range(3)]
        for t in ths:
            t.start()
        time.sleep(0.2)
        t0 = time.time()
        assert call(nimbus, api, "/prod/open")[0] == 201
        assert time.time() - t0 < 0.5
        for t in ths:
            t.join()
    finally:
        issuer.delay = 0
    assert out == [201, 201, 201]
    assert issuer.hits["/.well-known/openid-configuration"] == before + 1


def test_unreachable_issuer(nimbus, apigwv2, lmb):
    api, target = api_with_fn(apigwv2, lmb, "jw4")
    aid = apigwv2.create_authorizer(ApiId=api, Name="j", AuthorizerType="JWT",
                                    IdentitySource=["$request.querystring.tok"],
                                    JwtConfiguration={"Issuer": "http://127.0.0.1:1", "Audience": ["app"]})["AuthorizerId"]
    apigwv2.create_route(ApiId=api, RouteKey="GET /pets/{id}", Target=target,
                         AuthorizationType="JWT", AuthorizerId=aid)
    apigwv2.create_stage(ApiId=api, StageName="prod", AutoDeploy=True)
    st, h, b = call(nimbus, api, ECHO_PATH + "?tok=a.b.c")
    assert st == 401 and json.loads(b) == {"message": "Unauthorized"}
    assert call(nimbus, api)[0] == 401
