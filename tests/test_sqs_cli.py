"""The AWS CLI against nimbus: `aws sqs ...` with --endpoint-url, through
subprocess.  Under pyenv's python this is pyenv's aws (botocore 1.43, SQS
over JSON); under Debian's python it is /usr/bin/aws (awscli 2.9, SQS over
query)."""
import json

import pytest

from conftest import aws_binary  # noqa: F401 (other test files import it from here)


@pytest.fixture
def aws(aws_cli):
    return lambda *args, ok=True: aws_cli("sqs", *args, ok=ok)


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
