"""SQS durability: with --data-dir, acknowledged sends survive kill -9 and
every stored deadline (delay, visibility, dedup window) resumes from stored
time after a restart.  Both boto3 generations."""
import json
import time

from test_sqs_util import arn_of, attrs_of, bodies, drain, receive


def test_messages_survive_kill9(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    sqs = n.client("sqs")
    url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "7"},
                           tags={"keep": "me"})["QueueUrl"]
    sent = {}
    for b in range(30):
        r = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m-{b}-{i}",
             "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(b * 10 + i)}}}
            for i in range(10)])
        assert not r.get("Failed")
        for e in r["Successful"]:
            sent[e["MessageId"]] = e["MD5OfMessageBody"]
    delayed = sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)["MessageId"]
    t_sent = time.time()
    assert n.kill9() == -9
    n.start(n.port)
    sqs = n.client("sqs")
    assert sqs.get_queue_url(QueueName="durable")["QueueUrl"] == url
    assert attrs_of(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "7"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"keep": "me"}
    got = drain(sqs, url, len(sent), timeout=20, MessageAttributeNames=["All"],
                WaitTimeSeconds=0)
    assert {m["MessageId"]: m["MD5OfBody"] for m in got} == sent
    # The delayed message becomes visible at its stored deadline, not later.
    remaining = 2 - (time.time() - t_sent)
    if remaining > 0.3:
        assert receive(sqs, url) == []
    m = receive(sqs, url, WaitTimeSeconds=5)
    assert [x["MessageId"] for x in m] == [delayed]
    assert time.time() - t_sent < 4


def test_inflight_and_fifo_state_survive_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    sqs = n.client("sqs")
    fifo = sqs.create_queue(QueueName="state.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g",
                             MessageDeduplicationId="d1")
    std = sqs.create_queue(QueueName="std")["QueueUrl"]
    sqs.send_message(QueueUrl=std, MessageBody="inflight")
    h = receive(sqs, std, VisibilityTimeout=2)[0]["ReceiptHandle"]
    n.kill9()
    n.start(n.port)
    sqs = n.client("sqs")
    # Dedup window and sequence numbers carry over.
    again = sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g",
                             MessageDeduplicationId="d1")
    assert again["MessageId"] == first["MessageId"]
    second = sqs.send_message(QueueUrl=fifo, MessageBody="b", MessageGroupId="g",
                              MessageDeduplicationId="d2")
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    assert bodies(receive(sqs, fifo, MaxNumberOfMessages=10)) == ["a", "b"]
    # The in-flight message stays invisible until its stored deadline; its
    # receipt handle still works after the restart.
    assert receive(sqs, std) == []
    sqs.change_message_visibility(QueueUrl=std, ReceiptHandle=h, VisibilityTimeout=0)
    assert bodies(receive(sqs, std)) == ["inflight"]
    # A clean restart (SIGTERM) keeps everything as well.
    n.restart()
    sqs = n.client("sqs")
    assert arn_of(sqs, fifo).endswith(":state.fifo")
    assert json.loads(json.dumps(attrs_of(sqs, fifo, "FifoQueue"))) == {"FifoQueue": "true"}


def test_retention_expiry_uses_stored_times(nimbus_fresh, tmp_path):
    """Messages past MessageRetentionPeriod are never delivered.  The period
    is at least 60 s, so the test ages messages by editing the stored send
    times of a stopped durable server."""
    import sqlite3
    n = nimbus_fresh(durable=True)
    sqs = n.client("sqs")
    url = sqs.create_queue(QueueName="aging", Attributes={"MessageRetentionPeriod": "120"})["QueueUrl"]
    for body in ("old", "young", "middle"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    n.stop()
    db = sqlite3.connect(str(tmp_path / "data" / "nimbus.db"))
    now = int(time.time() * 1000)
    for body, age in (("old", 130), ("middle", 90)):
        db.execute("UPDATE sqs_messages SET sent_ms=?, expires_at=? WHERE body=?",
                   (now - age * 1000, now - age * 1000 + 120000, body.encode()))
    db.commit()
    db.close()
    n.start(n.port)
    sqs = n.client("sqs")
    assert attrs_of(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "2"
    # Shortening the period applies to stored messages too (AWS documents this).
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == ["young"]
