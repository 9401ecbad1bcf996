"""SQS FIFO queues: send rules, per-group order, group locking, dedup,
sequence numbers, receive attempts, expired handles.  Both boto3
generations."""
import threading
import time

from test_sqs_util import bodies, create, create_fifo, expect_error, receive


def send(sqs, url, body, group="g", dedup=None, **kw):
    kw.update(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    if dedup is not None:
        kw["MessageDeduplicationId"] = dedup
    return sqs.send_message(**kw)


def test_fifo_send_requirements(sqs):
    url = create_fifo(sqs, "rules")
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d"),
                 "MissingParameter", "The request must contain the parameter MessageGroupId.", 400)
    expect_error(lambda: send(sqs, url, "x"), "InvalidParameterValue",
                 "The queue should either have ContentBasedDeduplication enabled or "
                 "MessageDeduplicationId provided explicitly")
    expect_error(lambda: send(sqs, url, "x", dedup="d", DelaySeconds=2), "InvalidParameterValue",
                 "Value 2 for parameter DelaySeconds is invalid. Reason: The request include "
                 "parameter that is not valid for this queue type.")
    r = send(sqs, url, "Hello World!", dedup="42", DelaySeconds=0)
    assert receive(sqs, url, VisibilityTimeout=0)[0]["MD5OfBody"] == r["MD5OfMessageBody"]
    expect_error(lambda: send(sqs, url, "x", group="bad group", dedup="d"), "InvalidParameterValue")
    expect_error(lambda: send(sqs, url, "x", dedup="d" * 129), "InvalidParameterValue")
    std = create(sqs, "std")
    expect_error(lambda: sqs.send_message(QueueUrl=std, MessageBody="x", MessageDeduplicationId="d"),
                 "InvalidParameterValue")
    # Standard queues accept a MessageGroupId (fair queues).
    sqs.send_message(QueueUrl=std, MessageBody="x", MessageGroupId="tenant-1")


def test_fifo_batch_request_level_errors(sqs):
    url = create_fifo(sqs, "batchrules")
    expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
        {"Id": "2", "MessageBody": "b", "MessageDeduplicationId": "2"}]),
        "InvalidParameterValue", "The request must contain the parameter MessageGroupId.")
    expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "a", "MessageGroupId": "g"}]), "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
        "provided explicitly")
    assert receive(sqs, url) == []
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}", "MessageGroupId": "g", "MessageDeduplicationId": str(i)}
        for i in range(5)])
    seqs = [int(e["SequenceNumber"]) for e in r["Successful"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == [f"m{i}" for i in range(5)]


def test_fifo_order_is_per_group(sqs):
    url = create_fifo(sqs, "order", ContentBasedDeduplication="true")
    for body, g in (("g1-m1", "1"), ("g2-m1", "2"), ("g1-m2", "1"), ("g1-m3", "1")):
        send(sqs, url, body, group=g)
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == ["g1-m1", "g1-m2", "g1-m3", "g2-m1"]


def test_fifo_group_locking(sqs):
    url = create_fifo(sqs, "locking", ContentBasedDeduplication="true")
    for body, g in (("g1-m1", "1"), ("g2-m1", "2"), ("g1-m2", "1"), ("g2-m2", "2"),
                    ("g1-m3", "1"), ("g1-m4", "1"), ("g3-m1", "3")):
        send(sqs, url, body, group=g)
    first = receive(sqs, url, MaxNumberOfMessages=2)
    assert bodies(first) == ["g1-m1", "g1-m2"]
    # Group 1 has messages in flight: nothing more from it.
    rest = receive(sqs, url, MaxNumberOfMessages=10)
    assert bodies(rest) == ["g2-m1", "g2-m2", "g3-m1"]
    assert receive(sqs, url, MaxNumberOfMessages=10) == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert receive(sqs, url, MaxNumberOfMessages=10) == []   # g1-m2 still in flight
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == ["g1-m3", "g1-m4"]


def test_fifo_group_visible_again_in_order(sqs):
    url = create_fifo(sqs, "again", VisibilityTimeout=1)
    for i in range(3):
        send(sqs, url, f"message-{i}", group="1", dedup=str(i))
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == [f"message-{i}" for i in range(3)]
    time.sleep(1.1)
    again = receive(sqs, url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert bodies(again) == [f"message-{i}" for i in range(3)]
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in again] == ["2", "2", "2"]


def test_fifo_terminating_visibility_unlocks_head(sqs):
    url = create_fifo(sqs, "terminate", ContentBasedDeduplication="true")
    for body, g in (("g1-m1", "1"), ("g1-m2", "1"), ("g2-m1", "2")):
        send(sqs, url, body, group=g)
    got = receive(sqs, url, MaxNumberOfMessages=2)
    assert bodies(got) == ["g1-m1", "g1-m2"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"],
                                  VisibilityTimeout=0)
    assert sorted(bodies(receive(sqs, url, MaxNumberOfMessages=3))) == ["g1-m1", "g2-m1"]


def test_fifo_explicit_deduplication(sqs):
    url = create_fifo(sqs, "dedup")
    a = send(sqs, url, "first", dedup="same")
    b = send(sqs, url, "second", dedup="same")
    assert (b["MessageId"], b["SequenceNumber"]) == (a["MessageId"], a["SequenceNumber"])
    msgs = receive(sqs, url, MaxNumberOfMessages=10)
    assert bodies(msgs) == ["first"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    # Still deduplicated after deletion (within the 5-minute window).
    assert send(sqs, url, "third", dedup="same")["MessageId"] == a["MessageId"]
    assert receive(sqs, url, MaxNumberOfMessages=10, WaitTimeSeconds=1) == []


def test_fifo_content_based_deduplication(sqs):
    url = create_fifo(sqs, "cbd", ContentBasedDeduplication="true")
    a = send(sqs, url, '{"foo": "bar"}', group="g1")
    assert send(sqs, url, '{"foo": "bar"}', group="g2")["MessageId"] == a["MessageId"]
    send(sqs, url, '{"foo": "baz"}')
    # An explicit id overrides the content hash.
    send(sqs, url, '{"foo": "bar"}', dedup="explicit")
    got = receive(sqs, url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert sorted(bodies(got)) == ['{"foo": "bar"}', '{"foo": "bar"}', '{"foo": "baz"}']
    import hashlib
    ids = {m["Attributes"]["MessageDeduplicationId"] for m in got}
    assert hashlib.sha256(b'{"foo": "bar"}').hexdigest() in ids and "explicit" in ids


def test_fifo_deduplication_scope_message_group(sqs):
    url = create_fifo(sqs, "scoped", DeduplicationScope="messageGroup",
                      FifoThroughputLimit="perMessageGroupId")
    a = send(sqs, url, "a", group="g1", dedup="d")
    b = send(sqs, url, "b", group="g2", dedup="d")
    c = send(sqs, url, "c", group="g1", dedup="d")
    assert a["MessageId"] != b["MessageId"] and c["MessageId"] == a["MessageId"]
    assert sorted(bodies(receive(sqs, url, MaxNumberOfMessages=10))) == ["a", "b"]


def test_sequence_numbers_and_fifo_attributes(sqs):
    url = create_fifo(sqs, "seq")
    sent = [send(sqs, url, f"m{i}", group="grp", dedup=f"d{i}") for i in range(3)]
    nums = [s["SequenceNumber"] for s in sent]
    assert all(len(n) >= 20 and n.isdigit() for n in nums)
    assert int(nums[0]) < int(nums[1]) < int(nums[2])
    m = receive(sqs, url, AttributeNames=["All"])[0]
    a = m["Attributes"]
    assert (a["MessageGroupId"], a["MessageDeduplicationId"], a["SequenceNumber"]) == \
        ("grp", "d0", nums[0])
    assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
            "ApproximateFirstReceiveTimestamp"} <= set(a)
    assert "SequenceNumber" not in sqs.send_message(QueueUrl=create(sqs, "plain"), MessageBody="x")


def test_receive_request_attempt_id(sqs):
    url = create_fifo(sqs, "attempts", ContentBasedDeduplication="true")
    for i in range(3):
        send(sqs, url, f"m{i}")
    first = receive(sqs, url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1")
    assert bodies(first) == ["m0", "m1"]
    retry = receive(sqs, url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1")
    assert [m["ReceiptHandle"] for m in retry] == [m["ReceiptHandle"] for m in first]
    assert receive(sqs, url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-2") == []
    expect_error(lambda: receive(sqs, url, ReceiveRequestAttemptId="x" * 129), "InvalidParameterValue")


def test_fifo_expired_receipt_handle(sqs):
    url = create_fifo(sqs, "expired", VisibilityTimeout=1, ContentBasedDeduplication="true")
    send(sqs, url, "g1-m1", group="1")
    h = receive(sqs, url)[0]["ReceiptHandle"]
    time.sleep(1.1)
    expect_error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=h), "InvalidParameterValue",
                 f"Value {h} for parameter ReceiptHandle is invalid. Reason: The receipt handle "
                 "has expired.")
    expect_error(lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=h,
                                                       VisibilityTimeout=5),
                 "AWS.SimpleQueueService.MessageNotInflight")
    new = receive(sqs, url)[0]["ReceiptHandle"]
    expect_error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=h), "InvalidParameterValue")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new)
    assert receive(sqs, url) == []


def test_fifo_queue_delay(sqs):
    url = create_fifo(sqs, "delayed", DelaySeconds=1, ContentBasedDeduplication="true")
    for i in range(3):
        send(sqs, url, f"message-{i}", group="1")
    assert receive(sqs, url) == []
    time.sleep(1.1)
    assert bodies(receive(sqs, url, MaxNumberOfMessages=3)) == [f"message-{i}" for i in range(3)]


def test_fifo_long_poll_woken_when_group_unlocks(sqs, nimbus):
    url = create_fifo(sqs, "unlock", ContentBasedDeduplication="true")
    send(sqs, url, "first")
    send(sqs, url, "second")
    h = receive(sqs, url)[0]["ReceiptHandle"]
    other = nimbus.client("sqs")
    t = threading.Timer(0.3, lambda: other.delete_message(QueueUrl=url, ReceiptHandle=h))
    t.start()
    start = time.time()
    got = receive(sqs, url, WaitTimeSeconds=5)
    t.join()
    assert bodies(got) == ["second"] and time.time() - start < 1.0
