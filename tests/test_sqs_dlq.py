"""SQS dead-letter queues: redrive on receive, and message move tasks
(StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask).  The
move-task operations do not exist in botocore 1.29, so those tests run on
the current generation only."""
import base64
import json
import time
import uuid

import pytest

from test_sqs_util import (arn_of, attrs_of, bodies, create, create_fifo, drain, expect_error,
                           receive)


def dlq_pipe(sqs, name, max_receive=1, **src_attrs):
    dlq = create(sqs, name + "-dlq")
    src = create(sqs, name, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": max_receive}), **src_attrs)
    return src, dlq


def test_redrive_after_max_receive_count(sqs):
    src, dlq = dlq_pipe(sqs, "work", max_receive=2, VisibilityTimeout=0)
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes=attrs)
    first = receive(sqs, src, AttributeNames=["All"])
    second = receive(sqs, src, AttributeNames=["All"])
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in first + second] == ["1", "2"]
    assert receive(sqs, src) == []   # third attempt moves it
    assert attrs_of(sqs, src, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"
    m = receive(sqs, dlq, AttributeNames=["All"], MessageAttributeNames=["All"])[0]
    assert (m["MessageId"], m["Body"], m["MessageAttributes"]) == (sent["MessageId"], "poison", attrs)
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert m["Attributes"]["SentTimestamp"] == first[0]["Attributes"]["SentTimestamp"]
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, src)


def test_redrive_with_visibility_timeout_expiry(sqs):
    src, dlq = dlq_pipe(sqs, "slow", max_receive=1, VisibilityTimeout=1)
    sqs.send_message(QueueUrl=src, MessageBody="m")
    assert bodies(receive(sqs, src)) == ["m"]
    time.sleep(1.1)
    assert receive(sqs, src) == []
    assert bodies(receive(sqs, dlq)) == ["m"]


def test_fifo_redrive_keeps_group_and_dedup(sqs):
    dlq = create_fifo(sqs, "fdlq", ContentBasedDeduplication="true")
    src = create_fifo(sqs, "fsrc", ContentBasedDeduplication="true", VisibilityTimeout=0,
                      RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq),
                                                "maxReceiveCount": 1}))
    mid = sqs.send_message(QueueUrl=src, MessageBody="foobar", MessageGroupId="1")["MessageId"]
    sqs.send_message(QueueUrl=src, MessageBody="next", MessageGroupId="1")
    assert bodies(receive(sqs, src)) == ["foobar"]
    assert bodies(receive(sqs, src)) == ["next"]   # foobar redriven, group moves on
    m = receive(sqs, dlq, AttributeNames=["All"])[0]
    assert (m["MessageId"], m["Body"], m["Attributes"]["MessageGroupId"]) == (mid, "foobar", "1")


def test_redrive_long_poll_on_dlq_woken(sqs, nimbus):
    src, dlq = dlq_pipe(sqs, "wake", max_receive=1, VisibilityTimeout=0)
    sqs.send_message(QueueUrl=src, MessageBody="m")
    receive(sqs, src)
    import threading
    other = nimbus.client("sqs")
    t = threading.Timer(0.3, lambda: receive(other, src))
    t.start()
    start = time.time()
    assert bodies(receive(sqs, dlq, WaitTimeSeconds=5)) == ["m"]
    t.join()
    assert time.time() - start < 1.0


def _needs_move_tasks(sqs):
    if not hasattr(sqs, "start_message_move_task"):
        pytest.skip("botocore of this generation has no message move task operations")


def _fill_dlq(sqs, src, dlq, n):
    for i in range(n):
        sqs.send_message(QueueUrl=src, MessageBody=f"message-{i}")
    for _ in range(2 * n):
        receive(sqs, src, VisibilityTimeout=0, MaxNumberOfMessages=10)
    assert attrs_of(sqs, dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == str(n)


def _wait_task(sqs, source_arn, status, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"]
        if r and r[0]["Status"] == status:
            return r[0]
        time.sleep(0.1)
    raise AssertionError(f"task not {status}: {r}")


def test_move_task_to_destination(sqs):
    _needs_move_tasks(sqs)
    src, dlq = dlq_pipe(sqs, "mv", max_receive=1)
    dest = create(sqs, "mv-dest")
    _fill_dlq(sqs, src, dlq, 2)
    source_arn, dest_arn = arn_of(sqs, dlq), arn_of(sqs, dest)
    handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=dest_arn)["TaskHandle"]
    decoded = json.loads(base64.b64decode(handle))
    assert decoded["sourceArn"] == source_arn and uuid.UUID(decoded["taskId"])
    task = _wait_task(sqs, source_arn, "COMPLETED")
    assert task["ApproximateNumberOfMessagesMoved"] == 2
    assert task["ApproximateNumberOfMessagesToMove"] == 2
    assert (task["SourceArn"], task["DestinationArn"]) == (source_arn, dest_arn)
    assert "TaskHandle" not in task and "MaxNumberOfMessagesPerSecond" not in task
    assert abs(task["StartedTimestamp"] - time.time() * 1000) < 10000
    assert sorted(bodies(drain(sqs, dest, 2))) == ["message-0", "message-1"]
    assert receive(sqs, dlq) == []


def test_move_task_back_to_original_sources(sqs):
    _needs_move_tasks(sqs)
    dlq = create(sqs, "shared-dlq")
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})
    a, b = create(sqs, "orig-a", RedrivePolicy=policy), create(sqs, "orig-b", RedrivePolicy=policy)
    for url, body in ((a, "from-a"), (b, "from-b")):
        sqs.send_message(QueueUrl=url, MessageBody=body)
        receive(sqs, url, VisibilityTimeout=0)
        receive(sqs, url, VisibilityTimeout=0)
    sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))
    task = _wait_task(sqs, arn_of(sqs, dlq), "COMPLETED")
    assert task["ApproximateNumberOfMessagesMoved"] == 2 and "DestinationArn" not in task
    assert bodies(drain(sqs, a, 1)) == ["from-a"]
    assert bodies(drain(sqs, b, 1)) == ["from-b"]


def test_move_task_rate_limit_and_cancel(sqs):
    _needs_move_tasks(sqs)
    src, dlq = dlq_pipe(sqs, "rate", max_receive=1)
    dest = create(sqs, "rate-dest")
    _fill_dlq(sqs, src, dlq, 6)
    source_arn = arn_of(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=arn_of(sqs, dest),
                                         MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    expect_error(lambda: sqs.start_message_move_task(SourceArn=source_arn), "InvalidParameterValue",
                 "There is already a task running. Only one active task is allowed for a source "
                 "queue arn at a given time.")
    time.sleep(1.2)
    running = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 2
    assert 2 <= running["ApproximateNumberOfMessagesMoved"] <= 4
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 2 <= moved < 6
    task = _wait_task(sqs, source_arn, "CANCELLED")
    assert task["ApproximateNumberOfMessagesMoved"] == moved and task["ApproximateNumberOfMessagesToMove"] == 6
    time.sleep(0.6)
    left = int(attrs_of(sqs, dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])
    assert left == 6 - moved
    expect_error(lambda: sqs.cancel_message_move_task(TaskHandle=handle), "InvalidParameterValue")
    # History: most recent first, MaxResults up to 10.
    sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=arn_of(sqs, dest))
    _wait_task(sqs, source_arn, "COMPLETED")
    hist = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in hist] == ["COMPLETED", "CANCELLED"]


def test_move_task_fails_when_destination_deleted(sqs):
    _needs_move_tasks(sqs)
    src, dlq = dlq_pipe(sqs, "gone", max_receive=1)
    dest = create(sqs, "gone-dest")
    _fill_dlq(sqs, src, dlq, 4)
    sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, dest),
                                MaxNumberOfMessagesPerSecond=1)
    sqs.delete_queue(QueueUrl=dest)
    task = _wait_task(sqs, arn_of(sqs, dlq), "FAILED")
    assert task["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert receive(sqs, dlq)


def test_move_task_errors(sqs):
    _needs_move_tasks(sqs)
    plain = create(sqs, "not-a-dlq")
    expect_error(lambda: sqs.start_message_move_task(SourceArn=arn_of(sqs, plain)),
                 "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    missing = "arn:aws:sqs:us-east-1:000000000000:missing"
    expect_error(lambda: sqs.start_message_move_task(SourceArn=missing), "ResourceNotFoundException",
                 "The resource that you specified for the SourceArn parameter doesn't exist.", 404)
    src, dlq = dlq_pipe(sqs, "errs")
    expect_error(lambda: sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq),
                                                     DestinationArn=missing),
                 "ResourceNotFoundException",
                 "The resource that you specified for the DestinationArn parameter doesn't exist.", 404)
    expect_error(lambda: sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq),
                                                     MaxNumberOfMessagesPerSecond=501),
                 "InvalidParameterValue")
    expect_error(lambda: sqs.cancel_message_move_task(TaskHandle="foobared"), "InvalidParameterValue",
                 "Value for parameter TaskHandle is invalid.")

    def handle(task_id, arn):
        return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": arn}).encode()).decode()

    expect_error(lambda: sqs.cancel_message_move_task(TaskHandle=handle(str(uuid.uuid4()), missing)),
                 "ResourceNotFoundException",
                 "The resource that you specified for the SourceArn parameter doesn't exist.", 404)
    expect_error(lambda: sqs.cancel_message_move_task(
        TaskHandle=handle(str(uuid.uuid4()), arn_of(sqs, dlq))), "ResourceNotFoundException",
        "Task does not exist.", 404)
    expect_error(lambda: sqs.list_message_move_tasks(SourceArn=missing), "ResourceNotFoundException")
    expect_error(lambda: sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq), MaxResults=11),
                 "InvalidParameterValue")
    assert sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"] == []
