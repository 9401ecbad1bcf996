"""The AWS CLI against nimbus: `aws sqs ...` with --endpoint-url, through
subprocess.  Under pyenv's python this is pyenv's aws (botocore 1.43, SQS
over JSON); under Debian's python it is /usr/bin/aws (awscli 2.9, SQS over
query)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import BOTO_GEN


def aws_binary():
    if BOTO_GEN == "old":
        return "/usr/bin/aws"
    here = os.path.join(os.path.dirname(sys.executable), "aws")
    return here if os.path.exists(here) else shutil.which("aws")


@pytest.fixture
def aws(nimbus, tmp_path):
    nimbus.reset()
    binary = aws_binary()
    if not binary or not os.path.exists(binary):
        pytest.fail(f"aws CLI for the {BOTO_GEN} generation is missing")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", HOME=str(tmp_path),
               AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))

    def run(*args, ok=True):
        p = subprocess.run([binary, "--endpoint-url", nimbus.endpoint, "--output", "json", "sqs",
                            *args], env=env, capture_output=True, text=True, timeout=60)
        if ok:
            assert p.returncode == 0, p.stderr
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p
    return run


def test_cli_queue_and_message_roundtrip(aws, nimbus):
    url = aws("create-queue", "--queue-name", "cli-q", "--attributes", "VisibilityTimeout=5")["QueueUrl"]
    assert url == f"{nimbus.endpoint}/000000000000/cli-q"
    sent = aws("send-message", "--queue-url", url, "--message-body", "hello from the cli",
               "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}')
    got = aws("receive-message", "--queue-url", url, "--attribute-names", "All",
              "--message-attribute-names", "All")["Messages"]
    assert got[0]["MessageId"] == sent["MessageId"] and got[0]["Body"] == "hello from the cli"
    assert got[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert got[0]["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    aws("delete-message", "--queue-url", url, "--receipt-handle", got[0]["ReceiptHandle"])
    attrs = aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "5" and attrs["ApproximateNumberOfMessages"] == "0"


def test_cli_batch_list_and_errors(aws):
    url = aws("create-queue", "--queue-name", "cli-b")["QueueUrl"]
    entries = json.dumps([{"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"}])
    r = aws("send-message-batch", "--queue-url", url, "--entries", entries)
    assert sorted(e["Id"] for e in r["Successful"]) == ["a", "b"]
    assert aws("list-queues", "--queue-name-prefix", "cli-")["QueueUrls"] == [url]
    p = aws("get-queue-url", "--queue-name", "missing", ok=False)
    assert p.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in p.stderr
    assert "The specified queue does not exist." in p.stderr
