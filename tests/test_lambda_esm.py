"""Event source mappings: SQS queues and DynamoDB streams invoking functions.

The functions print what they receive; the tests read it back from the
function's CloudWatch Logs group, and check what the pollers did to the
sources (messages deleted or left, checkpoints, failure destinations).
"""
import json
import time

import pytest

from test_lambda_invoke import make_fn

PRINTER = '''
import json
def handler(event, context):
    out = []
    for r in event["Records"]:
        if r["eventSource"] == "aws:sqs":
            body = r["body"]
            print("GOT " + json.dumps({"body": body, "src": r["eventSourceARN"],
                  "attrs": sorted(r["attributes"]), "mattrs": r["messageAttributes"],
                  "md5": r["md5OfBody"], "region": r["awsRegion"]}))
            if body.startswith("fail"):
                out.append({"itemIdentifier": r["messageId"]})
            if body == "crash":
                raise RuntimeError("crash")
        else:
            d = r["dynamodb"]
            print("GOT " + json.dumps({"name": r["eventName"], "keys": d["Keys"],
                  "new": d.get("NewImage"), "src": r["eventSourceARN"],
                  "seq": d["SequenceNumber"], "source": r["eventSource"]}))
            if (d.get("NewImage") or {}).get("fail"):
                raise RuntimeError("bad record")
    return {"batchItemFailures": out}
'''


@pytest.fixture
def lmb(client):
    return client("lambda")


def got(logs, fn, n, timeout=15):
    """The GOT lines the function printed, once there are at least n."""
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        try:
            ev = logs.filter_log_events(logGroupName="/aws/lambda/" + fn,
                                        filterPattern='"GOT "')["events"]
        except logs.exceptions.ResourceNotFoundException:
            ev = []
        lines = [json.loads(e["message"][4:]) for e in ev]
        if len(lines) >= n:
            return lines
        time.sleep(0.2)
    raise AssertionError("expected %d records, got %d: %s" % (n, len(lines), lines))


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def wait_counts(sqs, url, want, timeout=10):
    deadline = time.time() + timeout
    c = None
    while time.time() < deadline:
        c = counts(sqs, url)
        if c == want:
            return
        time.sleep(0.2)
    raise AssertionError("queue counts %s, wanted %s" % (c, want))


def test_sqs_messages_reach_the_function_and_are_deleted(lmb, client):
    sqs, logs = client("sqs"), client("logs")
    url, arn = queue(sqs, "work")
    make_fn(lmb, "worker", {"app.py": PRINTER})
    m = lmb.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=5)
    assert m["State"] == "Creating"
    sqs.send_message(QueueUrl=url, MessageBody="hello",
                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody="m%d" % i)
    lines = got(logs, "worker", 5)
    first = [x for x in lines if x["body"] == "hello"][0]
    assert first["src"] == arn and first["region"] == "us-east-1"
    assert "ApproximateReceiveCount" in first["attrs"] and "SentTimestamp" in first["attrs"]
    assert first["mattrs"]["k"]["stringValue"] == "v" and first["mattrs"]["k"]["dataType"] == "String"
    assert first["md5"] == "5d41402abc4b2a76b9719d911017c592"
    wait_counts(sqs, url, (0, 0))
    assert lmb.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled"


def test_sqs_failures_return_to_the_queue_and_reach_its_dlq(lmb, client):
    sqs, logs = client("sqs"), client("logs")
    dlq_url, dlq_arn = queue(sqs, "work-dlq")
    url, arn = queue(sqs, "work2", VisibilityTimeout=1,
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    make_fn(lmb, "crasher", {"app.py": PRINTER})
    lmb.create_event_source_mapping(EventSourceArn=arn, FunctionName="crasher", BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="crash")
    got(logs, "crasher", 2)          # tried twice (maxReceiveCount)
    deadline = time.time() + 15
    while time.time() < deadline and counts(sqs, dlq_url)[0] == 0:
        time.sleep(0.3)
    msgs = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
    assert msgs and msgs[0]["Body"] == "crash"


def test_sqs_report_batch_item_failures(lmb, client):
    sqs, logs = client("sqs"), client("logs")
    url, arn = queue(sqs, "partial", VisibilityTimeout=30)
    make_fn(lmb, "partial", {"app.py": PRINTER})
    for body in ("ok1", "fail1", "ok2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    lmb.create_event_source_mapping(EventSourceArn=arn, FunctionName="partial", BatchSize=10,
                                    MaximumBatchingWindowInSeconds=1,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    got(logs, "partial", 3)
    wait_counts(sqs, url, (0, 1))    # only the failed one is left, in flight


def test_disabled_mapping_stops_polling(lmb, client):
    sqs, logs = client("sqs"), client("logs")
    url, arn = queue(sqs, "paused")
    make_fn(lmb, "paused", {"app.py": PRINTER})
    m = lmb.create_event_source_mapping(EventSourceArn=arn, FunctionName="paused", Enabled=False)
    sqs.send_message(QueueUrl=url, MessageBody="wait")
    time.sleep(2)
    assert counts(sqs, url) == (1, 0)
    lmb.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    got(logs, "paused", 1)
    wait_counts(sqs, url, (0, 0))


def stream_table(ddb, name):
    t = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         StreamSpecification={"StreamEnabled": True,
                                              "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return t["TableDescription"]["LatestStreamArn"]


def test_dynamodb_stream_records_reach_the_function(lmb, client):
    ddb, logs = client("dynamodb"), client("logs")
    stream = stream_table(ddb, "orders")
    ddb.put_item(TableName="orders", Item={"pk": {"S": "before"}})
    make_fn(lmb, "onorder", {"app.py": PRINTER})
    lmb.create_event_source_mapping(EventSourceArn=stream, FunctionName="onorder",
                                    StartingPosition="TRIM_HORIZON", BatchSize=10)
    ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    ddb.update_item(TableName="orders", Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.delete_item(TableName="orders", Key={"pk": {"S": "a"}})
    lines = got(logs, "onorder", 4)
    assert [x["name"] for x in lines] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]
    assert lines[0]["keys"] == {"pk": {"S": "before"}}
    assert lines[2]["new"] == {"pk": {"S": "a"}, "n": {"N": "2"}}
    assert all(x["src"] == stream and x["source"] == "aws:dynamodb" for x in lines)
    seqs = [x["seq"] for x in lines]
    assert seqs == sorted(seqs, key=int)


def test_dynamodb_stream_latest_and_failure_destination(lmb, client):
    ddb, logs, sqs = client("dynamodb"), client("logs"), client("sqs")
    stream = stream_table(ddb, "ledger")
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "old"}})
    dest_url, dest_arn = queue(sqs, "ledger-failures")
    make_fn(lmb, "onledger", {"app.py": PRINTER})
    lmb.create_event_source_mapping(EventSourceArn=stream, FunctionName="onledger",
                                    StartingPosition="LATEST", BatchSize=1,
                                    MaximumRetryAttempts=1,
                                    DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    time.sleep(2.5)  # the poller is running at LATEST
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "bad"}, "fail": {"BOOL": True}})
    ddb.put_item(TableName="ledger", Item={"pk": {"S": "good"}})
    lines = got(logs, "onledger", 3)  # bad twice (1 retry), then good
    assert [x["keys"]["pk"]["S"] for x in lines] == ["bad", "bad", "good"]
    deadline = time.time() + 10
    msgs = []
    while time.time() < deadline and not msgs:
        msgs = sqs.receive_message(QueueUrl=dest_url, WaitTimeSeconds=1).get("Messages", [])
    rec = json.loads(msgs[0]["Body"])
    assert rec["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["DDBStreamBatchInfo"]["batchSize"] == 1
    assert rec["DDBStreamBatchInfo"]["streamArn"] == stream
    assert rec["responseContext"]["functionError"] == "Unhandled"


def test_sqs_filter_criteria(lmb, client):
    sqs, logs = client("sqs"), client("logs")
    url, arn = queue(sqs, "filtered")
    make_fn(lmb, "filtered", {"app.py": PRINTER})
    lmb.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="filtered", BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]})
    for body in (json.dumps({"kind": "order", "n": 1}), json.dumps({"kind": "refund"}), "plain text"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    lines = got(logs, "filtered", 1)
    time.sleep(1.5)
    lines = got(logs, "filtered", 1)
    assert [json.loads(x["body"]) for x in lines] == [{"kind": "order", "n": 1}]
    wait_counts(sqs, url, (0, 0))   # filtered-out messages are deleted too
    with pytest.raises(lmb.exceptions.InvalidParameterValueException):
        lmb.create_event_source_mapping(EventSourceArn=arn, FunctionName="filtered",
                                        FilterCriteria={"Filters": [{"Pattern": "{\"body\": 5}"}]})
