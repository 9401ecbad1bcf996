"""The AWS CLI against nimbus: `aws events ...` with --endpoint-url, through
subprocess (pyenv's aws under the new generation, /usr/bin/aws under the
old): a bus, a rule with a pattern, an SQS target, put-events, the event
arriving, and an error's exit status and message."""
import json
import time

import pytest


@pytest.fixture
def aws(aws_cli):
    return aws_cli


def test_cli_rule_target_and_put_events(aws):
    bus = aws("events", "create-event-bus", "--name", "cli-bus")["EventBusArn"]
    assert bus == "arn:aws:events:us-east-1:000000000000:event-bus/cli-bus"
    url = aws("sqs", "create-queue", "--queue-name", "cli-ev")["QueueUrl"]
    qarn = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names",
               "QueueArn")["Attributes"]["QueueArn"]
    rarn = aws("events", "put-rule", "--name", "cli-rule", "--event-bus-name", "cli-bus",
               "--event-pattern", '{"source": ["cli.test"]}')["RuleArn"]
    assert rarn == "arn:aws:events:us-east-1:000000000000:rule/cli-bus/cli-rule"
    r = aws("events", "put-targets", "--rule", "cli-rule", "--event-bus-name", "cli-bus",
            "--targets", json.dumps([{"Id": "q", "Arn": qarn}]))
    assert r["FailedEntryCount"] == 0
    rules = aws("events", "list-rules", "--event-bus-name", "cli-bus")["Rules"]
    assert [x["Name"] for x in rules] == ["cli-rule"]
    put = aws("events", "put-events", "--entries", json.dumps([
        {"Source": "cli.test", "DetailType": "t", "Detail": '{"from": "cli"}', "EventBusName": "cli-bus"}]))
    assert put["FailedEntryCount"] == 0
    deadline = time.time() + 5
    msgs = []
    while not msgs and time.time() < deadline:
        msgs = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1").get("Messages", [])
    body = json.loads(msgs[0]["Body"])
    assert body["id"] == put["Entries"][0]["EventId"] and body["detail"] == {"from": "cli"}


def test_cli_errors(aws):
    p = aws("events", "describe-rule", "--name", "nope", ok=False)
    assert p.returncode != 0
    assert "ResourceNotFoundException" in p.stderr and "Rule nope does not exist on EventBus default." in p.stderr
    p = aws("events", "put-rule", "--name", "x", "--event-pattern", '{"source": "x"}', ok=False)
    assert p.returncode != 0 and "InvalidEventPatternException" in p.stderr
    r = aws("events", "test-event-pattern", "--event-pattern", '{"source": ["a"]}', "--event", json.dumps(
        {"id": "1", "account": "000000000000", "source": "a", "time": "2024-01-01T00:00:00Z",
         "region": "us-east-1", "resources": [], "detail-type": "t", "detail": {}}))
    assert r["Result"] is True
