"""Test harness: starts the real nimbus binary on a free loopback port.

The same suite runs twice (see tests/run.sh): under the machine's pyenv
python3 with boto3 1.43 (current protocols, e.g. SQS over JSON) and under
Debian's /usr/bin/python3 with boto3 1.26 (older protocols, e.g. SQS over
query/XML).  Fixtures:

  nimbus       a running server (module scope); .endpoint, .port, .reset()
  nimbus_fresh a server of its own for the test (function scope), with
               .restart(), .kill9() and a data dir when asked
  client(name) a boto3 client pointed at the module server
  sqs, sts     shortcuts
  ddb, ddb_streams, ddb_resource   DynamoDB client, Streams client, resource
  logs         CloudWatch Logs client
  lam          Lambda client
  aws_cli      runs the generation's AWS CLI against the module server:
               aws_cli(service, *args, ok=True) -> parsed JSON (or the
               CompletedProcess with ok=False)
  apigwv2      API Gateway v2 (HTTP APIs) client
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("NIMBUS_BIN", os.path.join(ROOT, "build", "nimbus"))
BOTO_GEN = "new" if tuple(int(x) for x in botocore.__version__.split(".")[:2]) >= (1, 31) else "old"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nimbus:
    def __init__(self, data_dir=None, extra=()):
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.log_path = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, port=None):
        self.port = port or free_port()
        args = [BINARY, "--port", str(self.port), "--log-level", "warn"] + self.extra
        if self.data_dir:
            args += ["--data-dir", self.data_dir]
        fd, self.log_path = tempfile.mkstemp(prefix="nimbus-log-")
        self.log = os.fdopen(fd, "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nimbus exited: " + self.output())
            try:
                with urllib.request.urlopen(self.endpoint + "/_nimbus/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("nimbus did not become healthy: " + self.output())

    def output(self):
        if not self.log_path:
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def reset(self):
        req = urllib.request.Request(self.endpoint + "/_nimbus/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start(self.port)

    def client(self, name, **kw):
        kw.setdefault("region_name", "us-east-1")
        kw.setdefault("aws_access_key_id", "test")
        kw.setdefault("aws_secret_access_key", "test")
        cfg = kw.pop("config", None) or Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
        return boto3.client(name, endpoint_url=self.endpoint, config=cfg, **kw)


def _check_exit(n):
    rc = n.stop()
    # A clean shutdown exits 0; under ASan a leak makes it non-zero.
    assert rc == 0, "nimbus exited %s:\n%s" % (rc, n.output()[-4000:])


@pytest.fixture(scope="module")
def nimbus():
    n = Nimbus().start()
    yield n
    _check_exit(n)


@pytest.fixture
def nimbus_fresh(tmp_path):
    made = []

    def make(durable=False, extra=()):
        n = Nimbus(data_dir=str(tmp_path / "data") if durable else None, extra=extra).start()
        made.append(n)
        return n

    yield make
    for n in made:
        if n.proc and n.proc.poll() is None:
            _check_exit(n)


@pytest.fixture
def client(nimbus):
    nimbus.reset()
    return nimbus.client


@pytest.fixture
def sqs(client):
    return client("sqs")


@pytest.fixture
def sts(client):
    return client("sts")


@pytest.fixture
def ddb(client):
    return client("dynamodb")


@pytest.fixture
def ddb_streams(client):
    return client("dynamodbstreams")


@pytest.fixture
def ddb_resource(nimbus):
    nimbus.reset()
    return boto3.resource("dynamodb", endpoint_url=nimbus.endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def logs(client):
    return client("logs")


@pytest.fixture
def lam(client):
    return client("lambda")


@pytest.fixture
def sns(client):
    return client("sns")


@pytest.fixture
def events(client):
    return client("events")


def aws_binary():
    """The AWS CLI of this run's boto generation: pyenv's aws (awscli 1.45)
    next to the interpreter, or Debian's /usr/bin/aws (awscli 2.9)."""
    if BOTO_GEN == "old":
        return "/usr/bin/aws"
    here = os.path.join(os.path.dirname(sys.executable), "aws")
    return here if os.path.exists(here) else shutil.which("aws")


@pytest.fixture
def aws_cli(nimbus, tmp_path):
    nimbus.reset()
    binary = aws_binary()
    if not binary or not os.path.exists(binary):
        pytest.fail(f"aws CLI for the {BOTO_GEN} generation is missing")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", HOME=str(tmp_path),
               AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))

    def run(service, *args, ok=True):
        p = subprocess.run([binary, "--endpoint-url", nimbus.endpoint, "--output", "json", service,
                            *args], env=env, capture_output=True, text=True, timeout=60)
        if ok:
            assert p.returncode == 0, p.stderr
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p
    return run


@pytest.fixture
def sfn(nimbus):
    """Step Functions client; no "sync-" host prefix (StartSyncExecution)."""
    nimbus.reset()
    return nimbus.client("stepfunctions", config=Config(retries={"max_attempts": 1}, connect_timeout=5,
                                                        read_timeout=60, inject_host_prefix=False))


@pytest.fixture
def apigwv2(client):
    return client("apigatewayv2")
