"""SQS messages on standard queues: send/receive/delete, MD5s, attributes,
visibility, delays, long polling, batches, bad input.  Both boto3
generations."""
import threading
import time

import pytest

from conftest import BOTO_GEN
from test_sqs_util import (attrs_of, bodies, create, drain, expect_error, md5, md5_of_attributes,
                           receive)

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_send_receive_delete_with_md5s(sqs):
    url = create(sqs, "basic")
    attrs = {
        "s": {"DataType": "String", "StringValue": "héllo wörld ✓"},
        "n": {"DataType": "Number", "StringValue": "-12.5e3"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
        "custom": {"DataType": "String.json", "StringValue": '{"a":1}'},
        "i": {"DataType": "Number.int", "StringValue": "42"},
        "g": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a"},
    }
    body = 'body with "quotes" & <xml> \r\n\t and ünïcödé 😀'
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == md5(body)
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    assert "MD5OfMessageSystemAttributes" not in sent and "SequenceNumber" not in sent
    msgs = receive(sqs, url, MessageAttributeNames=["All"])
    assert len(msgs) == 1
    m = msgs[0]
    assert (m["MessageId"], m["Body"], m["MD5OfBody"]) == (sent["MessageId"], body, md5(body))
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert "Attributes" not in m
    assert receive(sqs, url) == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert attrs_of(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == \
        {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_trace_header_system_attribute(sqs):
    url = create(sqs, "traced")
    attrs = {"timestamp": {"StringValue": "1493147359900", "DataType": "Number"}}
    plain = sqs.send_message(QueueUrl=url, MessageBody="test", MessageAttributes=attrs)
    traced = sqs.send_message(QueueUrl=url, MessageBody="test", MessageAttributes=attrs,
                              MessageSystemAttributes={"AWSTraceHeader": {
                                  "StringValue": TRACE, "DataType": "String"}})
    assert plain["MD5OfMessageAttributes"] == traced["MD5OfMessageAttributes"]
    assert "MD5OfMessageSystemAttributes" not in plain
    assert traced["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
    msgs = receive(sqs, url, MaxNumberOfMessages=10, AttributeNames=["All"])
    by_id = {m["MessageId"]: m for m in msgs}
    assert by_id[traced["MessageId"]]["Attributes"]["AWSTraceHeader"] == TRACE
    assert "AWSTraceHeader" not in by_id[plain["MessageId"]]["Attributes"]
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes={
        "AWSTraceHeader": {"DataType": "Binary", "BinaryValue": b"x"}}), "InvalidParameterValue")


def test_message_attribute_name_filters(sqs):
    url = create(sqs, "filters", VisibilityTimeout=0)
    attrs = {"Help.Me": {"DataType": "String", "StringValue": "Me"},
             "Hello": {"DataType": "String", "StringValue": "There"},
             "General": {"DataType": "String", "StringValue": "Kenobi"}}
    assert sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attrs)[
        "MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"

    def got(names):
        kw = {"MessageAttributeNames": names} if names is not None else {}
        m = receive(sqs, url, **kw)[0]
        return set(m.get("MessageAttributes", {})), m.get("MD5OfMessageAttributes")

    everything = ({"Help.Me", "Hello", "General"}, "4c360f3fdafd970e05fae2f149d997f5")
    assert got(None) == (set(), None)
    assert got(["All"]) == everything
    assert got([".*"]) == everything
    assert got(["*"]) == everything
    assert got(["Foo", "Help"]) == (set(), None)
    assert got(["Hello", "General"]) == ({"Hello", "General"}, "fca026605781cb4126a1e9044df24232")
    assert got(["Foo", "Hello"]) == ({"Hello"}, "a311262e065454b75da111d535b8dacd")
    assert got(["Hel.*"]) == ({"Hello", "Help.Me"}, "83fee93c1bcd8b9a5a923ffacdc636c7")
    assert got(["Help.*"]) == ({"Help.Me"}, md5_of_attributes({"Help.Me": attrs["Help.Me"]}))


def test_system_attributes_selection(sqs):
    url = create(sqs, "sysattrs", VisibilityTimeout=0)
    t0 = int(time.time() * 1000)
    sqs.send_message(QueueUrl=url, MessageBody="msg")
    m1 = receive(sqs, url, AttributeNames=["All"])[0]
    a = m1["Attributes"]
    assert set(a) == {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
                      "ApproximateFirstReceiveTimestamp"}
    assert a["SenderId"] == "000000000000" and a["ApproximateReceiveCount"] == "1"
    assert t0 - 1000 <= int(a["SentTimestamp"]) <= int(a["ApproximateFirstReceiveTimestamp"]) <= \
        time.time() * 1000 + 1000
    if BOTO_GEN == "old":  # no MessageSystemAttributeNames in botocore 1.29
        m2 = receive(sqs, url, AttributeNames=["All"])[0]
        assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
        assert m2["Attributes"]["ApproximateFirstReceiveTimestamp"] == a["ApproximateFirstReceiveTimestamp"]
        return
    m2 = receive(sqs, url, MessageSystemAttributeNames=["ApproximateReceiveCount", "SequenceNumber",
                                                       "ApproximateFirstReceiveTimestamp"])[0]
    assert m2["Attributes"] == {"ApproximateReceiveCount": "2",
                                "ApproximateFirstReceiveTimestamp": a["ApproximateFirstReceiveTimestamp"]}
    assert m2["ReceiptHandle"] != m1["ReceiptHandle"]
    m3 = receive(sqs, url, MessageSystemAttributeNames=["SenderId"])[0]
    assert m3["Attributes"] == {"SenderId": "000000000000"}
    # The older AttributeNames parameter selects the same way.
    m4 = receive(sqs, url, AttributeNames=["All"], MessageSystemAttributeNames=["SenderId"])[0]
    assert m4["Attributes"]["ApproximateReceiveCount"] == "4"


def test_legacy_attribute_names_select_system_attributes(sqs):
    # AttributeNames is typed QueueAttributeName in the model, yet AWS takes
    # message system attribute names there (and ignores unknown ones).
    url = create(sqs, "legacy", VisibilityTimeout=0)
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageSystemAttributes={
        "AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}})
    assert set(receive(sqs, url, AttributeNames=["SenderId", "SentTimestamp"])[0]["Attributes"]) == \
        {"SenderId", "SentTimestamp"}
    assert receive(sqs, url, AttributeNames=["AWSTraceHeader", "Policy"])[0]["Attributes"] == \
        {"AWSTraceHeader": TRACE}
    assert "Attributes" not in receive(sqs, url, AttributeNames=["SequenceNumber"])[0]


@pytest.mark.parametrize("bad", ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff",
                                 "ok\x01"])
def test_invalid_body_characters(sqs, bad):
    url = create(sqs, "chars")
    cp = ord(bad[-1])
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x" + bad),
                 "InvalidMessageContents",
                 f"Invalid binary character '#x{cp:X}' was found in the message body, the set of "
                 "allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | "
                 "[#x10000-#x10FFFF].", 400)


def test_valid_body_characters(sqs):
    url = create(sqs, "okchars")
    body = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff~"
    sqs.send_message(QueueUrl=url, MessageBody=body)
    assert receive(sqs, url)[0]["Body"] == body


def test_empty_body_is_missing_parameter(sqs):
    url = create(sqs, "empty")
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody=""), "MissingParameter",
                 "The request must contain the parameter MessageBody.")


def test_message_size_limits(sqs):
    url = create(sqs, "sizes", MaximumMessageSize=1024)
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1024)
    attrs = {"k": {"DataType": "String", "StringValue": "x"}}  # 1 + 6 + 1 bytes
    sqs.send_message(QueueUrl=url, MessageBody="a" * (1024 - 8), MessageAttributes=attrs)
    msg = "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="a" * 1025),
                 "InvalidParameterValue", msg)
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="a" * (1024 - 7),
                                          MessageAttributes=attrs), "InvalidParameterValue", msg)
    big = create(sqs, "big")
    sqs.send_message(QueueUrl=big, MessageBody="b" * 1048576)
    expect_error(lambda: sqs.send_message(QueueUrl=big, MessageBody="b" * 1048577),
                 "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must "
                 "be shorter than 1048576 bytes.")
    m = receive(sqs, big)[0]
    assert len(m["Body"]) == 1048576 and m["MD5OfBody"] == md5("b" * 1048576)


def test_message_attribute_validation(sqs):
    url = create(sqs, "attrcheck")

    def send(attrs):
        return sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)

    def s(v="v", t="String"):
        return {"DataType": t, "StringValue": v}

    send({"attr.1øßä": s(), "a-b_c": s()})
    expect_error(lambda: send({f"a{i}": s() for i in range(11)}), "InvalidParameterValue",
                 "Number of message attributes [11] exceeds the allowed maximum [10].")
    expect_error(lambda: send({"e": s("")}), "InvalidParameterValue",
                 "Message (user) attribute 'e' must contain a non-empty value of type 'String'.")
    expect_error(lambda: send({"n": s("abc", "Number")}), "InvalidParameterValue",
                 "Can't cast the value of message (user) attribute 'n' to a number.")
    expect_error(lambda: send({"t": s("v", "Invalid")}), "InvalidParameterValue",
                 "The type of message (user) attribute 't' is invalid. You must use only the "
                 "following supported type prefixes: Binary, Number, String.")
    for name in ("AWS.x", "amazon.y", ".lead", "trail.", "dou..ble", "sp ace", "ex!", "L" * 257):
        expect_error(lambda: send({name: s()}), "InvalidParameterValue")
    expect_error(lambda: send({"c": s("bad\x08char")}), "InvalidParameterValue")
    expect_error(lambda: send({"t": s("v", "Number." + "L" * 256)}), "InvalidParameterValue")
    expect_error(lambda: send({"b": {"DataType": "Binary", "StringValue": "x"}}),
                 "InvalidParameterValue")


def test_visibility_timeout_and_change(sqs):
    url = create(sqs, "vis", VisibilityTimeout=1)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    m1 = receive(sqs, url)[0]
    assert receive(sqs, url) == []
    assert attrs_of(sqs, url, "ApproximateNumberOfMessagesNotVisible")[
        "ApproximateNumberOfMessagesNotVisible"] == "1"
    time.sleep(1.1)
    m2 = receive(sqs, url, VisibilityTimeout=30)[0]
    assert m2["MessageId"] == m1["MessageId"] and m2["ReceiptHandle"] != m1["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=0)
    m3 = receive(sqs, url, VisibilityTimeout=30)[0]
    assert m3["MessageId"] == m1["MessageId"]
    expect_error(lambda: sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=43201),
        "InvalidParameterValue")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=43199)
    expect_error(lambda: sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=43200),
        "InvalidParameterValue", "Value 43200 for parameter VisibilityTimeout is invalid. Reason: "
        "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]")
    # A stale handle (the message was received again since) cannot change visibility.
    expect_error(lambda: sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m1["ReceiptHandle"], VisibilityTimeout=5),
        "InvalidParameterValue", f"Value {m1['ReceiptHandle']} for parameter ReceiptHandle is invalid. "
        "Reason: Message does not exist or is not available for visibility timeout change.")


def test_change_visibility_after_expiry_and_extend(sqs):
    url = create(sqs, "extend", VisibilityTimeout=1)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    h = receive(sqs, url)[0]["ReceiptHandle"]
    time.sleep(1.1)
    # AWS accepts the latest handle even after the timeout ran out.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=h, VisibilityTimeout=2)
    assert receive(sqs, url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=h, VisibilityTimeout=0)
    assert bodies(receive(sqs, url)) == ["m"]


def test_receipt_handles(sqs):
    url = create(sqs, "handles", VisibilityTimeout=1)
    other = create(sqs, "other")
    expect_error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"),
                 "ReceiptHandleIsInvalid", 'The input receipt handle "garbage" is not a valid '
                 'receipt handle.', 400)
    expect_error(lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="INVALID",
                                                       VisibilityTimeout=60), "ReceiptHandleIsInvalid")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    old = receive(sqs, url)[0]["ReceiptHandle"]
    expect_error(lambda: sqs.delete_message(QueueUrl=other, ReceiptHandle=old), "ReceiptHandleIsInvalid")
    time.sleep(1.1)
    new = receive(sqs, url, VisibilityTimeout=30)[0]["ReceiptHandle"]
    assert new != old
    # Standard queues: an old handle still deletes; deleting again succeeds.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=old)
    assert attrs_of(sqs, url, "ApproximateNumberOfMessagesNotVisible")[
        "ApproximateNumberOfMessagesNotVisible"] == "0"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new)
    expect_error(lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=new,
                                                       VisibilityTimeout=5), "InvalidParameterValue")


def test_delays(sqs):
    url = create(sqs, "delays")
    sqs.send_message(QueueUrl=url, MessageBody="now")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    a = attrs_of(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")
    assert a == {"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesDelayed": "1"}
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == ["now"]
    time.sleep(1.1)
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == ["later"]
    q2 = create(sqs, "queue-delay", DelaySeconds=1)
    sqs.send_message(QueueUrl=q2, MessageBody="d")
    sqs.send_message(QueueUrl=q2, MessageBody="immediate", DelaySeconds=0)
    assert bodies(receive(sqs, q2, MaxNumberOfMessages=10)) == ["immediate"]
    time.sleep(1.1)
    assert bodies(receive(sqs, q2)) == ["d"]
    for bad in (-1, 901):
        expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=bad),
                     "InvalidParameterValue", f"Value {bad} for parameter DelaySeconds is invalid. "
                     "Reason: DelaySeconds must be >= 0 and <= 900.")


def test_receive_parameter_validation(sqs):
    url = create(sqs, "params")
    for n in (0, 11):
        expect_error(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n),
                     "InvalidParameterValue", f"Value {n} for parameter MaxNumberOfMessages is "
                     "invalid. Reason: Must be between 1 and 10, if provided.", 400)
    for w in (-1, 21):
        expect_error(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=w), "InvalidParameterValue")
    for v in (-1, 43201):
        expect_error(lambda: sqs.receive_message(QueueUrl=url, VisibilityTimeout=v),
                     "InvalidParameterValue")


def test_standard_queue_keeps_send_order(sqs):
    url = create(sqs, "ordered")
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    got = []
    for _ in range(3):
        got += bodies(receive(sqs, url, MaxNumberOfMessages=10))
    assert got == [str(i) for i in range(25)]


def _later(delay, fn):
    t = threading.Timer(delay, fn)
    t.start()
    return t


def test_long_poll_woken_by_send(sqs, nimbus):
    url = create(sqs, "longpoll")
    sender = nimbus.client("sqs")
    t = _later(0.3, lambda: sender.send_message(QueueUrl=url, MessageBody="wake"))
    start = time.time()
    msgs = receive(sqs, url, WaitTimeSeconds=10)
    took = time.time() - start
    t.join()
    assert bodies(msgs) == ["wake"]
    assert 0.25 <= took < 1.0, took


def test_long_poll_uses_queue_wait_time(sqs, nimbus):
    url = create(sqs, "qwait", ReceiveMessageWaitTimeSeconds=5)
    sender = nimbus.client("sqs")
    t = _later(0.3, lambda: sender.send_message(QueueUrl=url, MessageBody="q"))
    start = time.time()
    msgs = receive(sqs, url)
    t.join()
    assert bodies(msgs) == ["q"] and time.time() - start < 1.0
    start = time.time()
    assert receive(sqs, url, WaitTimeSeconds=0) == []
    assert time.time() - start < 0.5


def test_long_poll_times_out_empty(sqs):
    url = create(sqs, "timeout")
    start = time.time()
    assert receive(sqs, url, WaitTimeSeconds=1) == []
    assert 0.9 <= time.time() - start < 1.8


def test_long_poll_woken_by_visibility_expiry_and_delay(sqs):
    url = create(sqs, "expiry")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    receive(sqs, url, VisibilityTimeout=1)
    start = time.time()
    assert bodies(receive(sqs, url, WaitTimeSeconds=5)) == ["m"]
    assert 0.8 <= time.time() - start < 1.8
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=1)
    start = time.time()
    assert "delayed" in bodies(receive(sqs, url, WaitTimeSeconds=5, MaxNumberOfMessages=10))
    assert time.time() - start < 1.8


def test_concurrent_long_polls_each_get_one(sqs, nimbus):
    url = create(sqs, "many")
    results, threads = [], []

    def poll():
        c = nimbus.client("sqs")
        results.append(bodies(receive(c, url, WaitTimeSeconds=5)))

    for _ in range(3):
        threads.append(threading.Thread(target=poll))
        threads[-1].start()
    time.sleep(0.4)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    for t in threads:
        t.join()
    assert sorted(sum(results, [])) == ["m0", "m1", "m2"]
    assert all(len(r) == 1 for r in results)


def test_send_message_batch(sqs):
    url = create(sqs, "batch", MaximumMessageSize=1024)
    entries = [{"Id": f"m-{i}", "MessageBody": f"body-{i}"} for i in range(8)]
    entries.append({"Id": "bad_chars", "MessageBody": "\x01"})
    entries.append({"Id": "too_big", "MessageBody": "x" * 1025,
                    "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}})
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    ok = {e["Id"]: e for e in r["Successful"]}
    assert set(ok) == {f"m-{i}" for i in range(8)}
    assert all(ok[f"m-{i}"]["MD5OfMessageBody"] == md5(f"body-{i}") for i in range(8))
    failed = {f["Id"]: f for f in r["Failed"]}
    assert set(failed) == {"bad_chars", "too_big"}
    assert failed["bad_chars"]["Code"] == "InvalidMessageContents" and failed["bad_chars"]["SenderFault"]
    assert failed["too_big"]["Code"] == "InvalidParameterValue"
    got = drain(sqs, url, 8)
    assert sorted(bodies(got)) == sorted(f"body-{i}" for i in range(8))


def test_batch_request_errors(sqs):
    url = create(sqs, "batcherr")
    expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[]),
                 "AWS.SimpleQueueService.EmptyBatchRequest",
                 "There should be at least one SendMessageBatchRequestEntry in the request.")
    many = [{"Id": str(i), "MessageBody": "x"} for i in range(11)]
    expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=many),
                 "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                 "Maximum number of entries per request are 10. You have sent 11.")
    expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "same", "MessageBody": "a"}, {"Id": "same", "MessageBody": "b"}]),
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id same repeated.")
    for bad_id in ("invalid:id", "x" * 81, "sp ace"):
        expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": bad_id, "MessageBody": "a"}]), "AWS.SimpleQueueService.InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
            "It can be at most 80 letters long.")
    attrs = {"k": {"DataType": "String", "StringValue": "x"}}
    expect_error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "a" * (1048576 - 8), "MessageAttributes": attrs},
        {"Id": "2", "MessageBody": "a"}]), "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.")
    assert receive(sqs, url) == []
    for op in (sqs.delete_message_batch, sqs.change_message_visibility_batch):
        expect_error(lambda: op(QueueUrl=url, Entries=[]), "AWS.SimpleQueueService.EmptyBatchRequest")


def test_delete_and_change_visibility_batches(sqs):
    url = create(sqs, "batchops")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"}
                                                  for i in range(4)])
    msgs = receive(sqs, url, MaxNumberOfMessages=10, VisibilityTimeout=30)
    assert len(msgs) == 4
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        {"Id": "c", "ReceiptHandle": msgs[1]["ReceiptHandle"], "VisibilityTimeout": 43201}])
    assert [e["Id"] for e in r["Successful"]] == ["a"]
    failed = {f["Id"]: f["Code"] for f in r["Failed"]}
    assert failed == {"b": "ReceiptHandleIsInvalid", "c": "InvalidParameterValue"}
    assert bodies(receive(sqs, url, MaxNumberOfMessages=10)) == [msgs[0]["Body"]]
    r = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs[1:])] +
        [{"Id": "junk", "ReceiptHandle": "junk"}])
    assert sorted(e["Id"] for e in r["Successful"]) == ["d0", "d1", "d2"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]] == \
        [("junk", "ReceiptHandleIsInvalid", True)]
    a = attrs_of(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}


def test_zero_visibility_receive_returns_each_message_once(sqs):
    url = create(sqs, "zerovis", VisibilityTimeout=0)
    sqs.send_message(QueueUrl=url, MessageBody="only")
    sqs.send_message(QueueUrl=url, MessageBody="second")
    assert sorted(bodies(receive(sqs, url, MaxNumberOfMessages=10))) == ["only", "second"]
    again = receive(sqs, url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert sorted(m["Attributes"]["ApproximateReceiveCount"] for m in again) == ["2", "2"]


def test_approximate_counts(sqs):
    url = create(sqs, "counts")
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=60)
    receive(sqs, url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    assert attrs_of(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed") == {
        "ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "2",
        "ApproximateNumberOfMessagesDelayed": "1"}
