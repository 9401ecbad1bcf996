"""The foundation: server contract, HTTP/1.1 behaviour, routing, identity,
STS, bad input. Runs under both boto3 generations (see tests/run.sh)."""
import json
import os
import socket
import subprocess
import time
import urllib.request

import botocore
import pytest
from botocore.exceptions import ClientError

from conftest import BINARY, Nimbus, free_port


def raw(port, data, wait=0.2, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    time.sleep(wait)
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def test_health_both_paths(nimbus):
    for path in ("/_nimbus/health", "/_localstack/health"):
        with urllib.request.urlopen(nimbus.endpoint + path) as r:
            assert r.status == 200
            body = json.loads(r.read())
        assert body["version"]
        assert body["services"]["sqs"] == "running"
        assert body["services"]["sts"] == "running"


def test_ready_line_and_clean_exit():
    port = free_port()
    p = subprocess.Popen([BINARY, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    assert line == b"Ready.\n"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_nimbus/health") as r:
        assert r.status == 200
    p.terminate()
    assert p.wait(timeout=10) == 0
    p.stdout.close()


def test_help_lists_every_flag():
    out = subprocess.run([BINARY, "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--port", "--host", "--data-dir", "--log-level", "--verify-signatures", "--help"):
        assert flag in out
    bad = subprocess.run([BINARY, "--port", "notaport"], capture_output=True, text=True)
    assert bad.returncode != 0


def test_env_variables_configure(tmp_path):
    port = free_port()
    env = dict(os.environ, NIMBUS_PORT=str(port), NIMBUS_LOG_LEVEL="error")
    p = subprocess.Popen([BINARY], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout.readline() == b"Ready.\n"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localstack/health") as r:
        assert r.status == 200
    p.terminate()
    assert p.wait(timeout=10) == 0
    p.stdout.close()


def test_sts_caller_identity_default_account(sts):
    ident = sts.get_caller_identity()
    assert ident["Account"] == "000000000000"
    assert ident["Arn"] == "arn:aws:iam::000000000000:root"


def test_sts_account_from_12_digit_key(nimbus):
    sts = nimbus.client("sts", aws_access_key_id="123456789012")
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_aws_cli_sts(nimbus):
    import sys
    cli = ["aws"] if BOTO_NEW else ["/usr/bin/aws"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID="111122223333", AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="eu-west-1")
    out = subprocess.run(cli + ["--endpoint-url", nimbus.endpoint, "sts", "get-caller-identity",
                                "--output", "json"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Account"] == "111122223333"


BOTO_NEW = tuple(int(x) for x in botocore.__version__.split(".")[:2]) >= (1, 31)


def test_pipelined_requests_answered_in_order(nimbus):
    req = b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw(nimbus.port, req * 5 + b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 OK") == 6
    assert out.rstrip().endswith(b"}")


def test_keep_alive_many_requests_one_connection(nimbus):
    s = socket.create_connection(("127.0.0.1", nimbus.port))
    f = s.makefile("rb")
    for _ in range(20):
        s.sendall(b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\n\r\n")
        status = f.readline()
        assert status.startswith(b"HTTP/1.1 200")
        length = 0
        while True:
            line = f.readline()
            if line == b"\r\n":
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        assert json.loads(f.read(length))["services"]
    s.close()


def test_chunked_request_body(nimbus):
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    out = raw(nimbus.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
    assert b"HTTP/1.1 200" in out and b"<Account>000000000000</Account>" in out


def test_chunked_body_with_trailers(nimbus):
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    out = raw(nimbus.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Transfer-Encoding: chunked\r\nTrailer: X-Check\r\n\r\n" + b"%x\r\n%s\r\n0\r\n" % (len(body), body) +
              b"X-Check: " + b"t" * 3000 + b"\r\nX-More: 1\r\n\r\n" +
              b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200") == 2 and b"<Account>000000000000</Account>" in out


def test_expect_100_continue(nimbus):
    s = socket.create_connection(("127.0.0.1", nimbus.port))
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    s.settimeout(2)
    first = s.recv(100)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(body)
    out = first
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    assert b"HTTP/1.1 200" in out
    s.close()


def test_malformed_http_gets_400_and_server_survives(nimbus):
    out = raw(nimbus.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    out = raw(nimbus.port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    with urllib.request.urlopen(nimbus.endpoint + "/_nimbus/health") as r:
        assert r.status == 200


def test_truncated_request_then_hangup(nimbus):
    s = socket.create_connection(("127.0.0.1", nimbus.port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=")
    s.close()
    with urllib.request.urlopen(nimbus.endpoint + "/_nimbus/health") as r:
        assert r.status == 200


def test_body_over_limit_is_413(nimbus_fresh):
    n = nimbus_fresh(extra=["--max-body-size", "4096"])
    out = raw(n.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000)
    assert out.startswith(b"HTTP/1.1 413")
    assert b"RequestEntityTooLarge" in out
    chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
    out = raw(n.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413")


def test_oversized_headers_rejected(nimbus):
    out = raw(nimbus.port, b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    assert b"RequestHeaderSectionTooLarge" in out


def test_unknown_target_and_action(nimbus):
    out = raw(nimbus.port, b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Nope.Nothing\r\n"
              b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert out.startswith(b"HTTP/1.1 400") and b"UnknownOperationException" in out
    out = raw(nimbus.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 13\r\nConnection: close\r\n\r\nAction=Frobni")
    assert out.startswith(b"HTTP/1.1 400") and b"InvalidAction" in out


def test_invalid_json_and_utf8(nimbus):
    def post(body):
        return raw(nimbus.port, b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n"
                   b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                   % (len(body), body))
    for body in (b'{"a":', b"[1,2]", b'{"QueueNamePrefix": 5}', b'{"QueueNamePrefix": "\xff\xfe"}', b"{} x",
                 b'{"MaxResults": "ten"}'):
        out = post(body)
        assert out.startswith(b"HTTP/1.1 400"), (body, out)
        assert b"SerializationException" in out, (body, out)


def test_malformed_form_encoding(nimbus):
    body = b"Action=GetCallerIdentity&Version=2011-06-15&Bad=%zz"
    out = raw(nimbus.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    assert out.startswith(b"HTTP/1.1 400") and b"MalformedQueryString" in out


def test_reset_requires_post(nimbus):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(nimbus.endpoint + "/_nimbus/reset")
    assert e.value.code == 405
    nimbus.reset()


# ---- SigV4 verification ------------------------------------------------------

@pytest.fixture
def verifying(nimbus_fresh):
    return nimbus_fresh(extra=["--verify-signatures"])


def error_code(exc):
    return exc.value.response["Error"]["Code"]


def test_verify_accepts_correct_signature(verifying):
    assert verifying.client("sts").get_caller_identity()["Account"] == "000000000000"


def test_verify_rejects_wrong_secret(verifying):
    with pytest.raises(ClientError) as e:
        verifying.client("sts", aws_secret_access_key="wrong").get_caller_identity()
    assert error_code(e) == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_verify_rejects_unknown_key(verifying):
    with pytest.raises(ClientError) as e:
        verifying.client("sts", aws_access_key_id="AKIDUNKNOWN").get_caller_identity()
    assert error_code(e) == "InvalidClientTokenId"


def test_verify_rejects_missing_auth(verifying):
    out = raw(verifying.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 24\r\nConnection: close\r\n\r\nAction=GetCallerIdentity")
    assert out.startswith(b"HTTP/1.1 403") and b"MissingAuthenticationToken" in out


def _signed_at(when, body=b"Action=GetCallerIdentity&Version=2011-06-15", port=None):
    import datetime
    from unittest import mock
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    auth = SigV4Auth(Credentials("test", "test"), "sts", "us-east-1")
    import botocore.auth as ba
    patches = []
    if hasattr(ba, "get_current_datetime"):
        patches.append(mock.patch.object(ba, "get_current_datetime", return_value=when))
    fake = mock.MagicMock(wraps=datetime)
    fake.datetime.utcnow.return_value = when
    fake.datetime.now.return_value = when
    patches.append(mock.patch.object(ba, "datetime", fake))
    for p in patches:
        p.start()
    try:
        auth.add_auth(req)
    finally:
        for p in patches:
            p.stop()
    head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n{head}\r\n").encode() + body


def test_verify_rejects_skewed_clock(verifying):
    import datetime
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=30)
    out = raw(verifying.port, _signed_at(old, port=verifying.port))
    assert out.startswith(b"HTTP/1.1 403") and b"RequestTimeTooSkewed" in out, out
    now = datetime.datetime.utcnow()
    out = raw(verifying.port, _signed_at(now, port=verifying.port))
    assert out.startswith(b"HTTP/1.1 200"), out


def test_verify_presigned_url_and_expiry(verifying):
    sts = verifying.client("sts")
    # botocore signs a query-protocol presigned URL for the operation's
    # method (POST), with the empty body's hash.
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=2)
    with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST")) as r:
        assert r.status == 200 and b"<Account>000000000000</Account>" in r.read()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url)  # the same URL with another method
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    time.sleep(3.1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"))
    assert e.value.code == 403
    assert b"expired" in e.value.read()



# ---- parked requests ------------------------------------------------------------

def _json_request(port, target, body):
    data = json.dumps(body).encode()
    return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Amz-Target: AmazonSQS.{target}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


def test_hangup_cancels_parked_long_poll(nimbus, sqs):
    url = sqs.create_queue(QueueName="hangup")["QueueUrl"]
    s = socket.create_connection(("127.0.0.1", nimbus.port))
    s.sendall(_json_request(nimbus.port, "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 10}))
    time.sleep(0.3)
    s.close()  # the client goes away while its poll is parked
    time.sleep(0.2)
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    t0 = time.time()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["All"])["Messages"]
    assert time.time() - t0 < 1.0
    assert got[0]["Body"] == "kept"
    # Nobody received it before: the cancelled poll did not take it.
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"


def test_pipelined_request_behind_parked_poll_waits_its_turn(nimbus, sqs):
    url = sqs.create_queue(QueueName="pipeline")["QueueUrl"]
    s = socket.create_connection(("127.0.0.1", nimbus.port))
    s.sendall(_json_request(nimbus.port, "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 1}) +
              b"GET /_nimbus/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(5)
    out = b""
    t0 = time.time()
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    assert time.time() - t0 >= 0.9
    first = out.index(b"HTTP/1.1 200")
    second = out.index(b"HTTP/1.1 200", first + 1)
    assert b"services" not in out[first:second]  # the poll's (empty) answer came first
    assert b"services" in out[second:]


def test_shutdown_with_parked_poll_exits_cleanly(nimbus_fresh):
    n = nimbus_fresh()
    sqs = n.client("sqs")
    url = sqs.create_queue(QueueName="parked")["QueueUrl"]
    s = socket.create_connection(("127.0.0.1", n.port))
    s.sendall(_json_request(n.port, "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 20}))
    time.sleep(0.3)
    t0 = time.time()
    assert n.stop() == 0
    assert time.time() - t0 < 5
    s.close()
