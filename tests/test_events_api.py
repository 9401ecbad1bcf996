"""EventBridge connections and API destinations: the control plane, and rule
targets delivering events over HTTPS with the connection's authorization
and the target's HttpParameters, retries and the dead-letter queue."""
import base64
import json
import time
import urllib.parse

import botocore
import pytest

from test_sns import Endpoint
from test_sns_delivery import cert  # noqa: F401 (a fixture)


def err(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def api_key_conn(events, name="c1"):
    return events.create_connection(Name=name, AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
        "InvocationHttpParameters": {
            "HeaderParameters": [{"Key": "x-conn", "Value": "cv", "IsValueSecret": False}],
            "QueryStringParameters": [{"Key": "cq", "Value": "1 2", "IsValueSecret": True}]}})


def test_connection_lifecycle_hides_secrets(events):
    r = api_key_conn(events)
    arn = r["ConnectionArn"]
    assert arn.startswith("arn:aws:events:us-east-1:000000000000:connection/c1/")
    assert r["ConnectionState"] == "AUTHORIZED"
    d = events.describe_connection(Name="c1")
    assert d["Name"] == "c1" and d["AuthorizationType"] == "API_KEY"
    assert d["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key"}
    assert "SecretArn" in d
    with pytest.raises(botocore.exceptions.ClientError) as e:
        api_key_conn(events)
    assert err(e)[0] == "ResourceAlreadyExistsException"
    events.create_connection(Name="c2", AuthorizationType="BASIC", AuthParameters={
        "BasicAuthParameters": {"Username": "u", "Password": "p"}})
    names = [c["Name"] for c in events.list_connections()["Connections"]]
    assert names == ["c1", "c2"]
    assert [c["Name"] for c in events.list_connections(NamePrefix="c2")["Connections"]] == ["c2"]
    u = events.update_connection(Name="c2", Description="d", AuthParameters={
        "BasicAuthParameters": {"Username": "u2"}})
    assert u["ConnectionState"] == "AUTHORIZED"
    d2 = events.describe_connection(Name="c2")
    assert d2["Description"] == "d"
    assert d2["AuthParameters"]["BasicAuthParameters"] == {"Username": "u2"}
    assert events.deauthorize_connection(Name="c2")["ConnectionState"] == "DEAUTHORIZED"
    assert [c["Name"] for c in events.list_connections(
        ConnectionState="DEAUTHORIZED")["Connections"]] == ["c2"]
    assert events.delete_connection(Name="c2")["ConnectionState"] == "DELETING"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.describe_connection(Name="c2")
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.create_connection(Name="c3", AuthorizationType="BASIC", AuthParameters={})
    assert err(e)[0] == "ValidationException"


def test_api_destination_lifecycle(events):
    conn = api_key_conn(events)["ConnectionArn"]
    r = events.create_api_destination(Name="d1", ConnectionArn=conn,
                                      InvocationEndpoint="https://example.com/*/x",
                                      HttpMethod="POST", InvocationRateLimitPerSecond=10)
    assert r["ApiDestinationState"] == "ACTIVE"
    assert r["ApiDestinationArn"].startswith(
        "arn:aws:events:us-east-1:000000000000:api-destination/d1/")
    d = events.describe_api_destination(Name="d1")
    assert d["InvocationEndpoint"] == "https://example.com/*/x" and d["HttpMethod"] == "POST"
    assert d["InvocationRateLimitPerSecond"] == 10 and d["ConnectionArn"] == conn
    events.update_api_destination(Name="d1", HttpMethod="PUT")
    assert events.describe_api_destination(Name="d1")["HttpMethod"] == "PUT"
    assert [a["Name"] for a in events.list_api_destinations(
        ConnectionArn=conn)["ApiDestinations"]] == ["d1"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.create_api_destination(Name="d2", ConnectionArn=conn + "x",
                                      InvocationEndpoint="https://example.com", HttpMethod="POST")
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.create_api_destination(Name="d2", ConnectionArn=conn,
                                      InvocationEndpoint="http://example.com", HttpMethod="POST")
    assert err(e)[0] == "ValidationException"
    events.delete_api_destination(Name="d1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.describe_api_destination(Name="d1")
    assert err(e)[0] == "ResourceNotFoundException"


def test_rule_delivers_to_api_destination_over_https(nimbus_fresh, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    ep = Endpoint(tls=cert)
    try:
        n = nimbus_fresh()
        events, sqs = n.client("events"), n.client("sqs")
        conn = api_key_conn(events)["ConnectionArn"]
        base = ep.url.split("/hook")[0]
        dest = events.create_api_destination(
            Name="d", ConnectionArn=conn, InvocationEndpoint=base + "/orders/*/items",
            HttpMethod="POST")["ApiDestinationArn"]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest, "HttpParameters": {
            "PathParameterValues": ["42"], "HeaderParameters": {"x-target": "tv"},
            "QueryStringParameters": {"tq": "v"}}}])
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": '{"a":1}'}])
        path, headers, body = ep.wait(1)[0]
        p = urllib.parse.urlsplit(path)
        assert p.path == "/orders/42/items"
        assert urllib.parse.parse_qs(p.query) == {"cq": ["1 2"], "tq": ["v"]}
        assert headers["x-api-key"] == "s3cret"
        assert headers["x-conn"] == "cv" and headers["x-target"] == "tv"
        assert headers["content-type"].startswith("application/json")
        ev = json.loads(body)
        assert ev["source"] == "app" and ev["detail"] == {"a": 1}

        # A 4xx is not retried: the event goes to the dead-letter queue.
        q = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest,
                                               "DeadLetterConfig": {"Arn": qarn},
                                               "HttpParameters": {"PathParameterValues": ["1"]}}])
        ep.statuses[:] = [400]
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
        m = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=5,
                                MessageAttributeNames=["All"]).get("Messages", [])
        assert m and json.loads(m[0]["Body"])["source"] == "app"
        assert len(ep.wait(2)) == 2
    finally:
        ep.close()


def test_api_destination_retries_5xx_and_basic_auth(nimbus_fresh, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    ep = Endpoint(statuses=[503], tls=cert)
    try:
        events = nimbus_fresh().client("events")
        conn = events.create_connection(Name="b", AuthorizationType="BASIC", AuthParameters={
            "BasicAuthParameters": {"Username": "u", "Password": "p"}})["ConnectionArn"]
        dest = events.create_api_destination(
            Name="d", ConnectionArn=conn, InvocationEndpoint=ep.url.split("?")[0],
            HttpMethod="PUT")["ApiDestinationArn"]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest}])
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
        posts = ep.wait(2, timeout=15)
        assert len(posts) == 2, "a 503 is retried"
        assert posts[1][1]["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    finally:
        ep.close()


def test_rate_limit_spreads_deliveries(nimbus_fresh, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    ep = Endpoint(tls=cert)
    try:
        events = nimbus_fresh().client("events")
        conn = api_key_conn(events)["ConnectionArn"]
        dest = events.create_api_destination(
            Name="d", ConnectionArn=conn, InvocationEndpoint=ep.url.split("?")[0],
            HttpMethod="POST", InvocationRateLimitPerSecond=2)["ApiDestinationArn"]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest}])
        t0 = time.time()
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}] * 6)
        assert len(ep.wait(6, timeout=10)) == 6
        # Three distinct seconds: the last two start at least a second after the first.
        assert time.time() - t0 >= 1.0, "6 events at 2/s span three seconds"
    finally:
        ep.close()


def test_pending_api_delivery_survives_kill9(nimbus_fresh, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    ep = Endpoint(statuses=[503] * 1000, tls=cert)
    try:
        n = nimbus_fresh(durable=True)
        events = n.client("events")
        conn = api_key_conn(events)["ConnectionArn"]
        dest = events.create_api_destination(
            Name="d", ConnectionArn=conn, InvocationEndpoint=ep.url.split("?")[0],
            HttpMethod="POST")["ApiDestinationArn"]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest}])
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": '{"k":"v"}'}])
        ep.wait(1)
        n.kill9()
        ep.statuses[:] = []
        ep.posts.clear()
        n.start(n.port)
        posts = ep.wait(1, timeout=30)
        assert posts, "the delivery was not resumed"
        assert json.loads(posts[0][2])["detail"] == {"k": "v"}
    finally:
        ep.close()


def test_raw_bad_inputs_get_errors_not_crashes(nimbus):
    import urllib.error
    import urllib.request
    auth = ("AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/events/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)

    def call(op, body):
        req = urllib.request.Request(nimbus.endpoint + "/", data=body.encode(), headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents." + op,
            "X-Amz-Date": "20240115T120000Z", "Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    for op, body in [
            ("CreateConnection", '{"Name":"x","AuthorizationType":"API_KEY","AuthParameters":"s"}'),
            ("CreateConnection", '{"Name":"x","AuthorizationType":"NOPE","AuthParameters":{}}'),
            ("CreateConnection", '{"Name":"x","AuthorizationType":"OAUTH_CLIENT_CREDENTIALS",'
                                 '"AuthParameters":{"OAuthParameters":{"ClientParameters":1}}}'),
            ("UpdateConnection", '{"Name":"missing"}'),
            ("CreateApiDestination", '{"Name":"d","ConnectionArn":5,"InvocationEndpoint":"x",'
                                     '"HttpMethod":"POST"}'),
            ("ListConnections", '{"NextToken":"zz"}'),
            ("ListApiDestinations", '{"Limit":-1}'),
            ("DescribeConnection", '{}'),
            ("DeleteApiDestination", '[]')]:
        assert 400 <= call(op, body) < 500, (op, body)
    assert call("ListConnections", "{}") == 200


class TokenServer:
    """An OAuth token endpoint over HTTPS: records each request and answers
    `replies` in turn (status, JSON body), then tokens tok1, tok2, ..."""

    def __init__(self, tls, replies=(), expires_in=3600):
        import http.server
        import ssl
        import threading
        self.requests, self.replies, self.issued = [], list(replies), 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n).decode()
                outer.requests.append((self.command, self.path,
                                       {k.lower(): v for k, v in self.headers.items()}, body))
                if outer.replies:
                    code, doc = outer.replies.pop(0)
                else:
                    outer.issued += 1
                    code, doc = 200, {"access_token": "tok%d" % outer.issued,
                                      "token_type": "Bearer", "expires_in": expires_in}
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass

        self.server = S(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/oauth2/token" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def oauth_conn(events, token_url, name="o"):
    return events.create_connection(Name=name, AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
                                    AuthParameters={"OAuthParameters": {
        "AuthorizationEndpoint": token_url, "HttpMethod": "POST",
        "ClientParameters": {"ClientID": "app-id", "ClientSecret": "app-secret"},
        "OAuthHttpParameters": {
            "BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"},
                               {"Key": "scope", "Value": "orders/write"}],
            "HeaderParameters": [{"Key": "x-tenant", "Value": "t1"}],
            "QueryStringParameters": [{"Key": "audience", "Value": "api"}]}}})


def route_to(events, conn_arn, ep):
    """A rule sending source "app" events to an API destination at ep."""
    dest = events.create_api_destination(Name="d", ConnectionArn=conn_arn,
                                         InvocationEndpoint=ep.url.split("?")[0],
                                         HttpMethod="POST")["ApiDestinationArn"]
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest}])


def wait_state(events, name, want, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = events.describe_connection(Name=name)
        if d["ConnectionState"] == want:
            return d
        time.sleep(0.05)
    raise AssertionError("connection %s stayed %s" % (name, d["ConnectionState"]))


def test_oauth_connection_fetches_refreshes_and_sends_bearer_tokens(nimbus_fresh, cert,
                                                                    monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    tokens, ep = TokenServer(cert), Endpoint(tls=cert)
    try:
        events = nimbus_fresh().client("events")
        c = oauth_conn(events, tokens.url)
        assert c["ConnectionState"] == "AUTHORIZING"
        d = wait_state(events, "o", "AUTHORIZED")
        assert "ClientSecret" not in d["AuthParameters"]["OAuthParameters"]["ClientParameters"]
        assert len(tokens.requests) == 1
        method, path, headers, body = tokens.requests[0]
        assert method == "POST" and path == "/oauth2/token?audience=api"
        assert headers["authorization"] == "Basic " + base64.b64encode(b"app-id:app-secret").decode()
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        assert headers["x-tenant"] == "t1"
        assert urllib.parse.parse_qs(body) == {"grant_type": ["client_credentials"],
                                               "scope": ["orders/write"]}

        route_to(events, c["ConnectionArn"], ep)
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
        posts = ep.wait(1)
        assert posts[0][1]["authorization"] == "Bearer tok1"
        assert len(tokens.requests) == 1, "the token is reused while it lasts"

        # A 401 drops the token: the retry fetches a new one and uses it.
        ep.statuses[:] = [401]
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
        posts = ep.wait(3, timeout=15)
        assert len(posts) == 3
        assert posts[1][1]["authorization"] == "Bearer tok1"
        assert posts[2][1]["authorization"] == "Bearer tok2"
        assert len(tokens.requests) == 2
    finally:
        ep.close()
        tokens.close()


def test_oauth_token_about_to_expire_is_refreshed_before_use(nimbus_fresh, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    tokens, ep = TokenServer(cert, expires_in=30), Endpoint(tls=cert)  # < AWS's 60 s margin
    try:
        events = nimbus_fresh().client("events")
        c = oauth_conn(events, tokens.url)
        wait_state(events, "o", "AUTHORIZED")
        route_to(events, c["ConnectionArn"], ep)
        time.sleep(1.5)  # tok1 is no longer fresh, and expires within the minute
        events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
        assert ep.wait(1)[0][1]["authorization"] == "Bearer tok2"
        assert len(tokens.requests) == 2
    finally:
        ep.close()
        tokens.close()


def test_oauth_refused_credentials_deauthorize_the_connection(nimbus_fresh, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    tokens = TokenServer(cert, replies=[(401, {"error": "invalid_client"}),
                                        (200, {"token_type": "Bearer"})])
    try:
        events = nimbus_fresh().client("events")
        oauth_conn(events, tokens.url)
        d = wait_state(events, "o", "DEAUTHORIZED")
        assert "401" in d["StateReason"]
        # UpdateConnection authorizes again; a reply without access_token fails too.
        u = events.update_connection(Name="o", AuthParameters={"OAuthParameters": {
            "ClientParameters": {"ClientID": "app-id", "ClientSecret": "new"}}})
        assert u["ConnectionState"] == "AUTHORIZING"
        d = wait_state(events, "o", "DEAUTHORIZED")
        assert "access_token" in d["StateReason"]
        events.update_connection(Name="o", AuthParameters={"OAuthParameters": {
            "ClientParameters": {"ClientID": "app-id", "ClientSecret": "newer"}}})
        d = wait_state(events, "o", "AUTHORIZED")
        assert "StateReason" not in d and "LastAuthorizedTime" in d
        assert tokens.requests[-1][2]["authorization"] == \
            "Basic " + base64.b64encode(b"app-id:newer").decode()
        # An unreachable endpoint deauthorizes too.
        tokens.close()
        events.update_connection(Name="o", AuthParameters={"OAuthParameters": {
            "AuthorizationEndpoint": "https://127.0.0.1:1/token"}})
        assert "connect" in wait_state(events, "o", "DEAUTHORIZED")["StateReason"].lower()
    finally:
        tokens.close()
