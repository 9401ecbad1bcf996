"""SQS queue-level operations: create/url/list/attributes/delete/purge,
tags, permissions, redrive policies.  Runs under both boto3 generations."""
import json
import time

import pytest

from conftest import BOTO_GEN
from test_sqs_util import (NON_EXISTENT, arn_of, attrs_of, create, create_fifo, expect_error,
                           receive)


def test_create_queue_url_and_default_attributes(sqs, nimbus):
    before = int(time.time())
    url = create(sqs, "orders")
    assert url == f"http://127.0.0.1:{nimbus.port}/000000000000/orders"
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
    a = attrs_of(sqs, url)
    assert a["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:orders"
    assert a["VisibilityTimeout"] == "30"
    assert a["MaximumMessageSize"] == "1048576"
    assert a["MessageRetentionPeriod"] == "345600"
    assert a["DelaySeconds"] == "0"
    assert a["ReceiveMessageWaitTimeSeconds"] == "0"
    assert a["SqsManagedSseEnabled"] == "true"
    for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed"):
        assert a[k] == "0"
    assert before - 1 <= int(a["CreatedTimestamp"]) <= time.time() + 1
    assert a["LastModifiedTimestamp"] == a["CreatedTimestamp"]
    for k in ("FifoQueue", "ContentBasedDeduplication", "Policy", "RedrivePolicy", "KmsMasterKeyId"):
        assert k not in a
    # Only the names asked for; no names asked: no attributes.
    assert set(attrs_of(sqs, url, "QueueArn", "VisibilityTimeout")) == {"QueueArn", "VisibilityTimeout"}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)


def test_create_queue_idempotency(sqs):
    url = create(sqs, "idem", ReceiveMessageWaitTimeSeconds=1, DelaySeconds=1)
    assert create(sqs, "idem") == url
    assert create(sqs, "idem", DelaySeconds=1) == url
    expect_error(lambda: create(sqs, "idem", ReceiveMessageWaitTimeSeconds=1, DelaySeconds=2),
                 "QueueAlreadyExists", "A queue already exists with the same name and a different "
                 "value for attribute DelaySeconds", 400)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2"})
    assert create(sqs, "idem", ReceiveMessageWaitTimeSeconds=1, DelaySeconds=2) == url
    expect_error(lambda: create(sqs, "idem", DelaySeconds=1), "QueueAlreadyExists")
    f = create_fifo(sqs, "idem", ContentBasedDeduplication="true")
    assert create_fifo(sqs, "idem", ContentBasedDeduplication="true") == f
    expect_error(lambda: create_fifo(sqs, "idem", ContentBasedDeduplication="false"),
                 "QueueAlreadyExists", "A queue already exists with the same name and a different "
                 "value for attribute ContentBasedDeduplication")


@pytest.mark.parametrize("name,fifo", [
    ("bad name", False), ("bad/name", False), ("a" * 81, False), ("", False),
    ("dotted.name", False), ("standard.fifo", False), ("nofifosuffix", True),
    ("a" * 76 + ".fifo", True), (".fifo", True)])
def test_invalid_queue_names(sqs, name, fifo):
    attrs = {"FifoQueue": "true"} if fifo else {}
    msg = ("The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
           "underscores, must end with .fifo suffix and be 1 to 80 in length." if fifo else
           "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    if name == "":
        # botocore itself may refuse an empty required string; the server must too.
        try:
            expect_error(lambda: sqs.create_queue(QueueName=name, Attributes=attrs),
                         "InvalidParameterValue", msg)
        except Exception as e:  # ParamValidationError from the client side
            assert "QueueName" in str(e)
        return
    expect_error(lambda: sqs.create_queue(QueueName=name, Attributes=attrs),
                 "InvalidParameterValue", msg, 400)


def test_valid_queue_name_limits(sqs):
    assert create(sqs, "a" * 80).endswith("/" + "a" * 80)
    assert create_fifo(sqs, "b" * 75 + ".fifo").endswith("b" * 75 + ".fifo")
    assert create(sqs, "Mixed_Case-09")


@pytest.mark.parametrize("name,bad,good", [
    ("DelaySeconds", ["-1", "901", "abc", "1.5"], ["0", "900"]),
    ("MaximumMessageSize", ["1023", "1048577"], ["1024", "1048576"]),
    ("MessageRetentionPeriod", ["59", "1209601"], ["60", "1209600"]),
    ("ReceiveMessageWaitTimeSeconds", ["-1", "21"], ["0", "20"]),
    ("VisibilityTimeout", ["-1", "43201"], ["0", "43200"]),
    ("KmsDataKeyReusePeriodSeconds", ["59", "86401"], ["60", "86400"]),
    ("SqsManagedSseEnabled", ["yes"], ["false", "true"]),
])
def test_attribute_ranges(sqs, name, bad, good):
    url = create(sqs, "ranges")
    for v in bad:
        expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={name: v}),
                     "InvalidAttributeValue", f"Invalid value for the parameter {name}.", 400)
        expect_error(lambda: sqs.create_queue(QueueName="other", Attributes={name: v}),
                     "InvalidAttributeValue")
    for v in good:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: v})
        if name != "KmsDataKeyReusePeriodSeconds":
            assert attrs_of(sqs, url, name)[name] == v


def test_unknown_and_read_only_attributes(sqs):
    url = create(sqs, "std")
    expect_error(lambda: create(sqs, "std2", ContentBasedDeduplication="true"),
                 "InvalidAttributeName", "Unknown Attribute ContentBasedDeduplication.")
    for name in ("QueueArn", "ApproximateNumberOfMessages", "CreatedTimestamp", "FifoQueue",
                 "DeduplicationScope"):
        expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={name: "1"}),
                     "InvalidAttributeName", f"Unknown Attribute {name}.", 400)
    fifo = create_fifo(sqs, "typed")
    sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "true"})
    expect_error(lambda: sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "false"}),
                 "InvalidAttributeValue", "Invalid value for the parameter FifoQueue. Reason: "
                 "Modifying queue type is not supported.")
    # A failed SetQueueAttributes changes nothing, even the valid attributes of the call.
    expect_error(lambda: sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"VisibilityTimeout": "5", "DelaySeconds": "1000"}),
        "InvalidAttributeValue")
    assert attrs_of(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "30"


def test_set_and_get_attributes(sqs):
    url = create(sqs, "settable", VisibilityTimeout=20, MessageRetentionPeriod=604800)
    created = attrs_of(sqs, url)["CreatedTimestamp"]
    time.sleep(1.05)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "MaximumMessageSize": "2048", "VisibilityTimeout": "69", "DelaySeconds": "420",
        "ReceiveMessageWaitTimeSeconds": "3"})
    a = attrs_of(sqs, url)
    assert (a["MaximumMessageSize"], a["VisibilityTimeout"], a["DelaySeconds"],
            a["ReceiveMessageWaitTimeSeconds"], a["MessageRetentionPeriod"]) == \
        ("2048", "69", "420", "3", "604800")
    assert int(a["LastModifiedTimestamp"]) > int(created)
    assert a["CreatedTimestamp"] == created
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                      "Action": "sqs:SendMessage",
                                                      "Resource": a["QueueArn"]}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    assert json.loads(attrs_of(sqs, url, "Policy")["Policy"]) == policy
    expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{nope"}),
                 "InvalidAttributeValue", "Invalid value for the parameter Policy.")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in attrs_of(sqs, url)


def test_server_side_encryption_attributes(sqs):
    url = create(sqs, "sse")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "KmsMasterKeyId": "testKeyId", "KmsDataKeyReusePeriodSeconds": "6000",
        "SqsManagedSseEnabled": "false"})
    assert attrs_of(sqs, url, "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
                    "SqsManagedSseEnabled") == {"KmsMasterKeyId": "testKeyId",
                                                "KmsDataKeyReusePeriodSeconds": "6000",
                                                "SqsManagedSseEnabled": "false"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "true"})
    assert attrs_of(sqs, url, "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
                    "SqsManagedSseEnabled") == {"SqsManagedSseEnabled": "true"}
    expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "KmsMasterKeyId": "k", "SqsManagedSseEnabled": "true"}), "InvalidAttributeName",
        "You can use one type of server-side encryption (SSE) at one time. You can either "
        "enable KMS SSE or SQS SSE.")


def test_fifo_queue_attributes(sqs):
    url = create_fifo(sqs, "attrs")
    a = attrs_of(sqs, url)
    assert (a["FifoQueue"], a["ContentBasedDeduplication"], a["DeduplicationScope"],
            a["FifoThroughputLimit"]) == ("true", "false", "queue", "perQueue")
    expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "FifoThroughputLimit": "perMessageGroupId"}), "InvalidAttributeValue")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "FifoThroughputLimit": "perMessageGroupId", "DeduplicationScope": "messageGroup",
        "ContentBasedDeduplication": "true"})
    a = attrs_of(sqs, url)
    assert (a["ContentBasedDeduplication"], a["DeduplicationScope"], a["FifoThroughputLimit"]) == \
        ("true", "messageGroup", "perMessageGroupId")
    expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "DeduplicationScope": "everything"}), "InvalidAttributeValue")


def test_queue_url_forms_and_accounts(sqs, client):
    url = create(sqs, "forms")
    sqs.send_message(QueueUrl=url, MessageBody="a")
    # Any host is accepted as long as the path is /{account}/{name}; so is a bare name.
    for alias in ("https://sqs.us-east-1.amazonaws.com/000000000000/forms",
                  "http://localhost:4566/000000000000/forms", "forms"):
        assert sqs.get_queue_attributes(QueueUrl=alias, AttributeNames=["QueueArn"])
    for bad in ("http://127.0.0.1/forms", "http://127.0.0.1/000000000000/nope",
                "http://127.0.0.1/999999999999/forms", "nope"):
        expect_error(lambda: sqs.send_message(QueueUrl=bad, MessageBody="x"), NON_EXISTENT,
                     "The specified queue does not exist.", 400)
    other = client("sqs", aws_access_key_id="111111111111")
    ourl = other.create_queue(QueueName="forms")["QueueUrl"]
    assert "/111111111111/forms" in ourl
    assert ourl != url
    # A URL naming another account's queue is resolved in that account.
    sqs.send_message(QueueUrl=ourl, MessageBody="cross")
    assert receive(other, ourl)[0]["Body"] == "cross"
    assert sqs.get_queue_url(QueueName="forms", QueueOwnerAWSAccountId="111111111111")["QueueUrl"] == ourl
    expect_error(lambda: sqs.get_queue_url(QueueName="missing"), NON_EXISTENT,
                 "The specified queue does not exist.")


def test_regions_are_separate(sqs, client):
    create(sqs, "regional")
    west = client("sqs", region_name="eu-west-1")
    assert "QueueUrls" not in west.list_queues()
    west.create_queue(QueueName="regional")
    assert len(west.list_queues()["QueueUrls"]) == 1
    assert attrs_of(west, west.get_queue_url(QueueName="regional")["QueueUrl"], "QueueArn")[
        "QueueArn"] == "arn:aws:sqs:eu-west-1:000000000000:regional"


def test_list_queues_prefix_and_pagination(sqs):
    names = [f"a-{i}" for i in range(7)] + ["b-1", "b-2"]
    urls = {n: create(sqs, n) for n in names}
    assert sorted(sqs.list_queues()["QueueUrls"]) == sorted(urls.values())
    assert sorted(sqs.list_queues(QueueNamePrefix="b-")["QueueUrls"]) == [urls["b-1"], urls["b-2"]]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")
    assert "NextToken" not in sqs.list_queues()
    seen, token, pages = [], None, 0
    while True:
        kw = {"QueueNamePrefix": "a-", "MaxResults": 3}
        if token:
            kw["NextToken"] = token
        r = sqs.list_queues(**kw)
        seen += r["QueueUrls"]
        pages += 1
        token = r.get("NextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(urls[f"a-{i}"] for i in range(7))
    assert len(set(seen)) == 7
    expect_error(lambda: sqs.list_queues(MaxResults=1001), "InvalidParameterValue")
    expect_error(lambda: sqs.list_queues(MaxResults=0), "InvalidParameterValue")


def test_delete_queue(sqs):
    url = create(sqs, "doomed")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.delete_queue(QueueUrl=url)
    expect_error(lambda: sqs.get_queue_url(QueueName="doomed"), NON_EXISTENT)
    expect_error(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"), NON_EXISTENT)
    expect_error(lambda: sqs.delete_queue(QueueUrl=url), NON_EXISTENT)
    assert "QueueUrls" not in sqs.list_queues()
    expect_error(lambda: create(sqs, "doomed"), "AWS.SimpleQueueService.QueueDeletedRecently",
                 "You must wait 60 seconds after deleting a queue before you can create another "
                 "with the same name.")


def test_purge_queue(sqs):
    url = create(sqs, "purge")
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    assert len(receive(sqs, url, MaxNumberOfMessages=2, VisibilityTimeout=1)) == 2
    sqs.purge_queue(QueueUrl=url)
    a = attrs_of(sqs, url)
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"],
            a["ApproximateNumberOfMessagesDelayed"]) == ("0", "0", "0")
    expect_error(lambda: sqs.purge_queue(QueueUrl=url), "AWS.SimpleQueueService.PurgeQueueInProgress",
                 "Only one PurgeQueue operation on purge is allowed every 60 seconds.", 403)
    sqs.send_message(QueueUrl=url, MessageBody="after")
    time.sleep(1.1)
    assert [m["Body"] for m in receive(sqs, url, MaxNumberOfMessages=10)] == ["after"]




def test_create_queue_with_tags(sqs):
    url = sqs.create_queue(QueueName="tagged", tags={"team": "core", "env": "dev"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "dev"}
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=create(sqs, "untagged"))


def test_tags(sqs):
    url = sqs.create_queue(QueueName="tagged", tags={"team": "core", "env": "dev"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "dev"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "Env": "x", "empty": ""})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "prod", "Env": "x",
                                                          "empty": ""}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "missing"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "Env": "x", "empty": ""}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "Env", "empty"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    expect_error(lambda: sqs.tag_queue(QueueUrl=url, Tags={"k" * 129: "v"}), "InvalidParameterValue")
    expect_error(lambda: sqs.tag_queue(QueueUrl=url, Tags={f"t{i}": "v" for i in range(51)}),
                 "InvalidParameterValue")
    expect_error(lambda: sqs.list_queue_tags(QueueUrl=url + "x"), NON_EXISTENT)


def test_permissions_edit_policy(sqs):
    url = create(sqs, "shared")
    arn = arn_of(sqs, url)
    sqs.add_permission(QueueUrl=url, Label="crossaccount", AWSAccountIds=["000000000000", "668614515564"],
                       Actions=["ReceiveMessage"])
    pol = json.loads(attrs_of(sqs, url, "Policy")["Policy"])
    assert pol["Version"] == "2008-10-17" and pol["Id"] == arn + "/SQSDefaultPolicy"
    assert pol["Statement"] == [{
        "Sid": "crossaccount", "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::000000000000:root", "arn:aws:iam::668614515564:root"]},
        "Action": "SQS:ReceiveMessage", "Resource": arn}]
    expect_error(lambda: sqs.add_permission(QueueUrl=url, Label="crossaccount",
                                            AWSAccountIds=["668614515564"], Actions=["SendMessage"]),
                 "InvalidParameterValue",
                 "Value crossaccount for parameter Label is invalid. Reason: Already exists.")
    sqs.add_permission(QueueUrl=url, Label="second", AWSAccountIds=["111111111111"],
                       Actions=["SendMessage", "DeleteMessage"])
    st = json.loads(attrs_of(sqs, url, "Policy")["Policy"])["Statement"]
    assert [s["Sid"] for s in st] == ["crossaccount", "second"]
    assert st[1]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert st[1]["Action"] == ["SQS:SendMessage", "SQS:DeleteMessage"]
    sqs.remove_permission(QueueUrl=url, Label="crossaccount")
    assert [s["Sid"] for s in json.loads(attrs_of(sqs, url, "Policy")["Policy"])["Statement"]] == ["second"]
    sqs.remove_permission(QueueUrl=url, Label="second")
    assert "Policy" not in attrs_of(sqs, url)
    expect_error(lambda: sqs.remove_permission(QueueUrl=url, Label="second"), "InvalidParameterValue",
                 "Value second for parameter Label is invalid. Reason: can't find label.")
    expect_error(lambda: sqs.add_permission(QueueUrl=url, Label="bad", AWSAccountIds=["000000000000"],
                                            Actions=["CreateQueue"]), "InvalidParameterValue")
    expect_error(lambda: sqs.add_permission(QueueUrl=url, Label="bad", AWSAccountIds=["000000000000"],
                                            Actions=["SendMessage"] * 8), "OverLimit", status=403)
    expect_error(lambda: sqs.add_permission(QueueUrl=url, Label="bad label", AWSAccountIds=["000000000000"],
                                            Actions=["SendMessage"]), "InvalidParameterValue")


def test_redrive_policy_validation(sqs):
    dlq = create(sqs, "dlq")
    dlq_arn = arn_of(sqs, dlq)
    src = create(sqs, "src")

    def setp(value):
        return sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": value})

    bad = {
        json.dumps({"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}): "Invalid value for deadLetterTargetArn.",
        json.dumps({"deadLetterTargetArn": dlq_arn}): "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
        json.dumps({"maxReceiveCount": 3}): "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
        json.dumps({"deadLetterTargetArn": dlq_arn + "x", "maxReceiveCount": 3}): "Dead letter target does not exist.",
        json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 0}):
            "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.",
        "not json": "Redrive policy is not a valid JSON map.",
    }
    for value, reason in bad.items():
        expect_error(lambda: setp(value), "InvalidParameterValue",
                     f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")
    fifo_dlq = create_fifo(sqs, "fdlq")
    expect_error(lambda: setp(json.dumps({"deadLetterTargetArn": arn_of(sqs, fifo_dlq),
                                          "maxReceiveCount": 2})), "InvalidParameterValue")
    setp(json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}))
    assert json.loads(attrs_of(sqs, src, "RedrivePolicy")["RedrivePolicy"]) == \
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    setp("")
    assert "RedrivePolicy" not in attrs_of(sqs, src)


def test_redrive_allow_policy_enforced(sqs):
    dlq = create(sqs, "guarded")
    dlq_arn = arn_of(sqs, dlq)
    a, b = create(sqs, "src-a"), create(sqs, "src-b")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})

    def redrive(url):
        return sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})

    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(sqs, a)]})})
    assert json.loads(attrs_of(sqs, dlq, "RedriveAllowPolicy")["RedriveAllowPolicy"]) == \
        {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(sqs, a)]}
    redrive(a)
    expect_error(lambda: redrive(b), "InvalidParameterValue")
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "denyAll"})})
    expect_error(lambda: redrive(b), "InvalidParameterValue")
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "allowAll"})})
    redrive(b)
    for bad in ({"redrivePermission": "byQueue"}, {"redrivePermission": "sometimes"},
                {"redrivePermission": "allowAll", "sourceQueueArns": [arn_of(sqs, a)]},
                {"redrivePermission": "byQueue", "sourceQueueArns": ["x"] * 11}):
        expect_error(lambda: sqs.set_queue_attributes(QueueUrl=dlq, Attributes={
            "RedriveAllowPolicy": json.dumps(bad)}), "InvalidParameterValue")


def test_list_dead_letter_source_queues(sqs):
    dlq = create(sqs, "dead")
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 3})
    # JSON always carries the required queueUrls; XML has no element for an empty list.
    empty = sqs.list_dead_letter_source_queues(QueueUrl=dlq)
    assert empty.get("queueUrls", []) == [] and ("queueUrls" in empty) == (BOTO_GEN == "new")
    srcs = sorted(create(sqs, f"live-{i}", RedrivePolicy=policy) for i in range(3))
    create(sqs, "unrelated")
    assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == srcs
    r = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    assert len(r["queueUrls"]) == 2 and r["NextToken"]
    r2 = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2, NextToken=r["NextToken"])
    assert sorted(r["queueUrls"] + r2["queueUrls"]) == srcs and "NextToken" not in r2
    expect_error(lambda: sqs.list_dead_letter_source_queues(QueueUrl=dlq + "-gone"), NON_EXISTENT)


def test_get_attributes_unknown_name(sqs):
    url = create(sqs, "unknown")
    expect_error(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Foobar"]),
                 "InvalidAttributeName", "Unknown Attribute Foobar.", 400)
    expect_error(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Foobar": "1"}),
                 "InvalidAttributeName", "Unknown Attribute Foobar.")
    expect_error(lambda: sqs.create_queue(QueueName="other", Attributes={"Foobar": "1"}),
                 "InvalidAttributeName", "Unknown Attribute Foobar.")


def test_boto_generation_protocol(sqs):
    # Both generations are exercised: JSON for current botocore, query for 1.29.
    proto = sqs.meta.service_model.protocol
    assert proto == ("json" if BOTO_GEN == "new" else "query")
