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
