"""Helpers shared by the SQS tests (imported as `test_sqs_util`), plus checks
of the MD5 helpers against digests AWS itself returned.

Error codes: under both boto3 generations e.response['Error']['Code'] is the
query-style code (AWS.SimpleQueueService.NonExistentQueue, ...): the query
protocol carries it in <Code>, and the JSON protocol in x-amzn-query-error,
which new botocore maps onto Error.Code.
"""
import hashlib
import struct
import time

import pytest
from botocore.exceptions import ClientError

NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"


def error_of(excinfo):
    """(code, message, http status) of a ClientError raised by boto3."""
    e = excinfo.value if hasattr(excinfo, "value") else excinfo
    return (e.response["Error"]["Code"], e.response["Error"].get("Message", ""),
            e.response["ResponseMetadata"]["HTTPStatusCode"])


def expect_error(fn, code, message=None, status=None, **kw):
    with pytest.raises(ClientError) as ei:
        fn(**kw)
    c, m, s = error_of(ei)
    assert c == code, (c, m)
    if message is not None:
        assert m == message, m
    if status is not None:
        assert s == status
    return m


def _lv(b):
    return struct.pack(">I", len(b)) + b


def md5_of_attributes(attrs):
    """AWS's documented MD5OfMessageAttributes algorithm."""
    buf = b""
    for name in sorted(attrs):
        a = attrs[name]
        buf += _lv(name.encode()) + _lv(a["DataType"].encode())
        if "BinaryValue" in a:
            buf += b"\x02" + _lv(bytes(a["BinaryValue"]))
        else:
            buf += b"\x01" + _lv(a["StringValue"].encode())
    return hashlib.md5(buf).hexdigest()


def md5(s):
    return hashlib.md5(s.encode() if isinstance(s, str) else s).hexdigest()


def create(sqs, name, **attrs):
    kw = {"QueueName": name}
    if attrs:
        kw["Attributes"] = {k: str(v) for k, v in attrs.items()}
    return sqs.create_queue(**kw)["QueueUrl"]


def create_fifo(sqs, name, **attrs):
    attrs.setdefault("FifoQueue", "true")
    return create(sqs, name if name.endswith(".fifo") else name + ".fifo", **attrs)


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def attrs_of(sqs, url, *names):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"]).get(
        "Attributes", {})


def receive(sqs, url, **kw):
    return sqs.receive_message(QueueUrl=url, **kw).get("Messages", [])


def bodies(msgs):
    return [m["Body"] for m in msgs]


def drain(sqs, url, expected, timeout=10, **kw):
    got = []
    deadline = time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        kw.setdefault("MaxNumberOfMessages", 10)
        kw.setdefault("WaitTimeSeconds", 1)
        for m in receive(sqs, url, **kw):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_md5_of_attributes_matches_aws_digests():
    # Digests recorded from AWS for these attributes (receive-side subsets).
    hm = {"DataType": "String", "StringValue": "Me"}
    he = {"DataType": "String", "StringValue": "There"}
    ge = {"DataType": "String", "StringValue": "Kenobi"}
    assert md5_of_attributes({"Help.Me": hm, "Hello": he, "General": ge}) == \
        "4c360f3fdafd970e05fae2f149d997f5"
    assert md5_of_attributes({"Hello": he, "General": ge}) == "fca026605781cb4126a1e9044df24232"
    assert md5_of_attributes({"Hello": he}) == "a311262e065454b75da111d535b8dacd"
    assert md5_of_attributes({"Hello": he, "Help.Me": hm}) == "83fee93c1bcd8b9a5a923ffacdc636c7"
    assert md5_of_attributes({"Foo": {"DataType": "String", "StringValue": "Bar"}}) == \
        "ae7155c6026991b6d54b11589678bf9c"
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert md5_of_attributes({"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}) == \
        "5ae4d5d7636402d80f4eb6d213245a88"
