"""SNS: topics, subscriptions, Publish/PublishBatch and delivery.

Both boto3 generations speak query/XML to SNS.  Deliveries go through
nimbus's internal calls to SQS and Lambda; envelopes are checked field by
field and their signatures verified against the certificate nimbus serves
at SigningCertURL.
"""
import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import botocore
import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

ACCOUNT = "000000000000"
REGION = "us-east-1"


def topic_arn(name):
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


@pytest.fixture
def sqs(client):
    return client("sqs")


def make_queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n=1, wait=2, **kw):
    got = []
    deadline = time.time() + wait + 3
    while len(got) < n and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kw)
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def verify_signature(env):
    pem = urllib.request.urlopen(env["SigningCertURL"], timeout=5).read()
    cert = x509.load_pem_x509_certificate(pem)
    if env["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{k}\n{env[k]}\n" for k in names if env.get(k) is not None).encode()
    algo = hashes.SHA1() if env["SignatureVersion"] == "1" else hashes.SHA256()
    cert.public_key().verify(base64.b64decode(env["Signature"]), text, padding.PKCS1v15(), algo)


# ---- topics -------------------------------------------------------------------------


def test_create_topic_idempotent_and_attribute_conflicts(sns):
    arn = sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"},
                           Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == topic_arn("orders")
    assert sns.create_topic(Name="orders")["TopicArn"] == arn
    assert sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"})["TopicArn"] == arn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="orders", Attributes={"DisplayName": "Other"})
    assert err(e) == ("InvalidParameter", "Invalid parameter: Attributes Reason: Topic already "
                      "exists with different attributes")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="orders", Tags=[{"Key": "team", "Value": "b"}])
    assert err(e) == ("InvalidParameter", "Invalid parameter: Tags Reason: Topic already exists "
                      "with different tags")
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]


@pytest.mark.parametrize("name", ["", "bad name", "x" * 257, "a.b", "ends.fifo"])
def test_create_topic_invalid_names(sns, name):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name=name)
    assert err(e) == ("InvalidParameter", "Invalid parameter: Topic Name")


def test_fifo_topic_rules(sns):
    arn = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["FifoTopic"] == "true" and a["ContentBasedDeduplication"] == "false"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="nofifo", Attributes={"FifoTopic": "true"})
    assert err(e)[0] == "InvalidParameter"
    assert "Fifo Topic names must end with .fifo" in err(e)[1]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="std", Attributes={"ContentBasedDeduplication": "true"})
    assert err(e)[0] == "InvalidParameter"
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication",
                             AttributeValue="true")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["ContentBasedDeduplication"] == "true"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="FifoTopic", AttributeValue="false")
    assert err(e) == ("InvalidParameter", "Invalid parameter: AttributeName")


def test_topic_attributes(sns, sqs):
    arn = sns.create_topic(Name="attrs")["TopicArn"]
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["Owner"] == ACCOUNT and a["TopicArn"] == arn and a["DisplayName"] == ""
    assert a["SubscriptionsConfirmed"] == a["SubscriptionsPending"] == a["SubscriptionsDeleted"] == "0"
    policy = json.loads(a["Policy"])
    assert policy["Id"] == "__default_policy_ID"
    assert policy["Statement"][0]["Resource"] == arn
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    edp = json.loads(a["EffectiveDeliveryPolicy"])
    assert edp["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    for name, value in [("DisplayName", "Shown"), ("SignatureVersion", "2"),
                        ("TracingConfig", "Active"), ("KmsMasterKeyId", "alias/aws/sns"),
                        ("DeliveryPolicy", '{"http":{"defaultHealthyRetryPolicy":{"numRetries":5}}}'),
                        ("SQSSuccessFeedbackRoleArn", "arn:aws:iam::000000000000:role/x")]:
        sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"][name] == value
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["EffectiveDeliveryPolicy"] == a["DeliveryPolicy"]
    for name, value in [("SignatureVersion", "3"), ("TracingConfig", "On"), ("Policy", "{"),
                        ("Nope", "x"), ("ArchivePolicy", '{"MessageRetentionPeriod":"3"}')]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        assert err(e)[0] == "InvalidParameter", name
    _, qarn = make_queue(sqs, "countq")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (a["SubscriptionsConfirmed"], a["SubscriptionsPending"]) == ("1", "1")
    sns.unsubscribe(SubscriptionArn=sub)
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (a["SubscriptionsConfirmed"], a["SubscriptionsDeleted"]) == ("0", "1")


def test_bad_topic_arns(sns):
    for call in (lambda a: sns.get_topic_attributes(TopicArn=a),
                 lambda a: sns.publish(TopicArn=a, Message="m"),
                 lambda a: sns.subscribe(TopicArn=a, Protocol="email", Endpoint="a@b.c")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call("not-an-arn")
        assert err(e) == ("InvalidParameter", "Invalid parameter: TopicArn")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(topic_arn("missing"))
        assert err(e) == ("NotFound", "Topic does not exist")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_delete_topic_deletes_subscriptions(sns, sqs):
    arn = sns.create_topic(Name="gone")["TopicArn"]
    _, qarn = make_queue(sqs, "goneq")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # idempotent
    assert sns.list_topics()["Topics"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert err(e) == ("NotFound", "Subscription does not exist")


def test_list_topics_pages_of_100(sns):
    arns = [sns.create_topic(Name=f"p{i:03d}")["TopicArn"] for i in range(205)]
    seen, token, pages = [], None, 0
    while True:
        r = sns.list_topics(**({"NextToken": token} if token else {}))
        pages += 1
        assert len(r["Topics"]) <= 100
        seen += [t["TopicArn"] for t in r["Topics"]]
        token = r.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == arns
    assert [t["TopicArn"] for t in sns.get_paginator("list_topics").paginate()
            .build_full_result()["Topics"]] == arns
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.list_topics(NextToken="garbage")
    assert err(e) == ("InvalidParameter", "Invalid parameter: NextToken")


def test_permissions(sns):
    arn = sns.create_topic(Name="perm")["TopicArn"]
    sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["111111111111"],
                       ActionName=["Publish"])
    sns.add_permission(TopicArn=arn, Label="two", AWSAccountId=["111111111111", "222222222222"],
                       ActionName=["Publish", "Subscribe"])
    st = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in st] == ["__default_statement_ID", "pub", "two"]
    assert st[1]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert st[1]["Action"] == "SNS:Publish"
    assert st[2]["Action"] == ["SNS:Publish", "SNS:Subscribe"]
    assert st[2]["Resource"] == arn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["1"], ActionName=["Publish"])
    assert err(e) == ("InvalidParameter", "Invalid parameter: Statement already exists")
    sns.remove_permission(TopicArn=arn, Label="pub")
    st = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in st] == ["__default_statement_ID", "two"]


def test_tags(sns):
    arn = sns.create_topic(Name="tagged")["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "one"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "a", "Value": "one"}, {"Key": "b", "Value": "2"}]
    sns.untag_resource(ResourceArn=arn, TagKeys=["a", "zzz"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.tag_resource(ResourceArn=topic_arn("nope"), Tags=[{"Key": "a", "Value": "1"}])
    assert err(e) == ("ResourceNotFound", "Resource does not exist")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert err(e)[0] == "TagLimitExceeded"
    assert len(sns.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 1


# ---- subscriptions ------------------------------------------------------------------


@pytest.mark.parametrize("proto,endpoint,message", [
    ("sqs", "https://queue", "Invalid parameter: SQS endpoint ARN"),
    ("lambda", "arn:aws:sqs:us-east-1:000000000000:q", "Invalid parameter: Lambda endpoint ARN"),
    ("http", "https://x.example", "Invalid parameter: Endpoint must match the specified protocol"),
    ("https", "ftp://x", "Invalid parameter: Endpoint must match the specified protocol"),
    ("email", "not-an-address", "Invalid parameter: Email address"),
    ("carrier-pigeon", "x", "Invalid parameter: Amazon SNS does not support this protocol string: "
     "carrier-pigeon"),
])
def test_subscribe_endpoint_validation(sns, proto, endpoint, message):
    arn = sns.create_topic(Name="val")["TopicArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol=proto, Endpoint=endpoint)
    assert err(e) == ("InvalidParameter", message)


def test_subscribe_attributes_and_idempotency(sns, sqs):
    arn = sns.create_topic(Name="subs")["TopicArn"]
    _, qarn = make_queue(sqs, "subq")
    policy = '{"color":["red"]}'
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                        Attributes={"RawMessageDelivery": "true", "FilterPolicy": policy},
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert a["RawMessageDelivery"] == "true" and a["FilterPolicy"] == policy
    assert a["FilterPolicyScope"] == "MessageAttributes"
    assert a["Protocol"] == "sqs" and a["Endpoint"] == qarn and a["TopicArn"] == arn
    assert a["PendingConfirmation"] == "false" and a["ConfirmationWasAuthenticated"] == "true"
    assert a["Owner"] == ACCOUNT and a["SubscriptionArn"] == sub
    # The same subscription again is the same ARN; different attributes are refused.
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"] == sub
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                      Attributes={"RawMessageDelivery": "false"})
    assert err(e) == ("InvalidParameter", "Invalid parameter: Attributes Reason: Subscription "
                      "already exists with different attributes")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy",
                                    AttributeValue=json.dumps({"deadLetterTargetArn": qarn}))
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert a["FilterPolicyScope"] == "MessageBody"
    assert json.loads(a["RedrivePolicy"]) == {"deadLetterTargetArn": qarn}
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue="")
    assert "FilterPolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]


def test_subscription_attribute_errors(sns, sqs, client):
    arn = sns.create_topic(Name="suberr")["TopicArn"]
    _, qarn = make_queue(sqs, "suberrq")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    cases = [("FilterPolicy", '{"a": "notalist"}'), ("FilterPolicy", "{"),
             ("FilterPolicy", '{"a": [{"bogus": 1}]}'), ("FilterPolicyScope", "Everything"),
             ("RawMessageDelivery", "yes"), ("RedrivePolicy", '{"deadLetterTargetArn":"x"}'),
             ("Nope", "x")]
    for name, value in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName=name,
                                            AttributeValue=value)
        assert err(e)[0] == "InvalidParameter", (name, value)
        if name == "FilterPolicy":
            assert err(e)[1].startswith("Invalid parameter: FilterPolicy: "), err(e)
    lam_sub = sns.subscribe(TopicArn=arn, Protocol="lambda",
                            Endpoint="arn:aws:lambda:us-east-1:000000000000:function:f")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=lam_sub["SubscriptionArn"],
                                        AttributeName="RawMessageDelivery", AttributeValue="true")
    assert err(e)[0] == "InvalidParameter"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                      Attributes={"FilterPolicy": '{"n":[{"numeric":[">",1,"<"]}]}'})
    assert err(e)[0] == "InvalidParameter"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.get_subscription_attributes(SubscriptionArn="garbage")
    assert err(e) == ("InvalidParameter", "Invalid parameter: SubscriptionArn")
    # Nothing was changed by the failures.
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert "FilterPolicy" not in a and a["RawMessageDelivery"] == "false"


def test_email_confirmation_flow(sns, nimbus):
    arn = sns.create_topic(Name="mail")["TopicArn"]
    r = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="me@example.com")
    assert r["SubscriptionArn"] == "pending confirmation"
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert subs == [{"SubscriptionArn": "PendingConfirmation", "Owner": ACCOUNT, "Protocol": "email",
                     "Endpoint": "me@example.com", "TopicArn": arn}]
    box = json.load(urllib.request.urlopen(nimbus.endpoint + "/_aws/sns/outbox?kind=email"))
    conf = [m for m in box["messages"] if m["Type"] == "SubscriptionConfirmation"]
    assert conf and conf[0]["Target"] == "me@example.com" and conf[0]["TopicArn"] == arn
    # LocalStack-style token lookup by subscription ARN.
    pending = sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="j@example.com",
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
    tok = json.load(urllib.request.urlopen(nimbus.endpoint + "/_aws/sns/subscription-tokens/" +
                                           urllib.parse.quote(pending, safe="")))
    assert tok["subscription_arn"] == pending and len(tok["subscription_token"]) == 64
    assert sns.confirm_subscription(TopicArn=arn, Token=tok["subscription_token"])[
        "SubscriptionArn"] == pending
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(nimbus.endpoint + "/_aws/sns/subscription-tokens/nope")
    assert he.value.code == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.confirm_subscription(TopicArn=arn, Token="wrong")
    assert err(e) == ("InvalidParameter", "Invalid parameter: Token")
    sub = sns.confirm_subscription(TopicArn=arn, Token=conf[0]["Token"],
                                   AuthenticateOnUnsubscribe="true")["SubscriptionArn"]
    a = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert a["PendingConfirmation"] == "false" and a["ConfirmationWasAuthenticated"] == "true"
    sns.publish(TopicArn=arn, Message="to mail", Subject="Hi")
    deadline = time.time() + 3
    while time.time() < deadline:
        box = json.load(urllib.request.urlopen(nimbus.endpoint + "/_aws/sns/outbox?kind=email"))
        got = [m for m in box["messages"] if m.get("Type") != "SubscriptionConfirmation"]
        if got:
            break
        time.sleep(0.05)
    assert got[0]["Message"] == "to mail" and got[0]["Subject"] == "Hi"


def test_list_subscriptions_pagination_and_unsubscribe(sns, sqs):
    arn = sns.create_topic(Name="many")["TopicArn"]
    other = sns.create_topic(Name="other")["TopicArn"]
    subs = [sns.subscribe(TopicArn=arn, Protocol="sqs",
                          Endpoint=f"arn:aws:sqs:us-east-1:000000000000:q{i}")["SubscriptionArn"]
            for i in range(150)]
    sns.subscribe(TopicArn=other, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:z")
    r = sns.list_subscriptions_by_topic(TopicArn=arn)
    assert len(r["Subscriptions"]) == 100 and r["NextToken"]
    r2 = sns.list_subscriptions_by_topic(TopicArn=arn, NextToken=r["NextToken"])
    assert "NextToken" not in r2
    assert [s["SubscriptionArn"] for s in r["Subscriptions"] + r2["Subscriptions"]] == subs
    allsubs = sns.get_paginator("list_subscriptions").paginate().build_full_result()["Subscriptions"]
    assert len(allsubs) == 151
    for s in subs[:51]:
        sns.unsubscribe(SubscriptionArn=s)
    sns.unsubscribe(SubscriptionArn=subs[0])  # twice is fine
    assert len(sns.list_subscriptions()["Subscriptions"]) == 100
    assert "NextToken" not in sns.list_subscriptions()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.list_subscriptions_by_topic(TopicArn=topic_arn("none"))
    assert err(e)[0] == "NotFound"


# ---- publish ---------------------------------------------------------------------------


def test_publish_validation(sns):
    arn = sns.create_topic(Name="pubval")["TopicArn"]
    cases = [
        (dict(Message="m"), "InvalidParameter",
         "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"),
        (dict(TopicArn=arn, Message=""), "InvalidParameter", "Invalid parameter: Empty message"),
        (dict(TopicArn=arn, Message="x" * (256 * 1024 + 1)), "InvalidParameter",
         "Invalid parameter: Message too long"),
        (dict(TopicArn=arn, Message="x" * (256 * 1024 - 4),
              MessageAttributes={"abc": {"DataType": "String", "StringValue": "v"}}),
         "InvalidParameter", "Invalid parameter: Message too long"),
        (dict(TopicArn=arn, Message="m", Subject="line\nbreak"), "InvalidParameter",
         "Invalid parameter: Subject"),
        (dict(TopicArn=arn, Message="m", Subject="s" * 100), "InvalidParameter",
         "Invalid parameter: Subject"),
        (dict(TopicArn=arn, Message="m", MessageStructure="json"), "InvalidParameter",
         "Invalid parameter: Message Structure - JSON message body failed to parse"),
        (dict(TopicArn=arn, Message='{"sqs":"x"}', MessageStructure="json"), "InvalidParameter",
         "Invalid parameter: Message Structure - No default entry in JSON message body"),
        (dict(TopicArn=arn, Message="m", MessageDeduplicationId="d"), "InvalidParameter",
         "Invalid parameter: MessageDeduplicationId Reason: The request includes "
         "MessageDeduplicationId parameter that is not valid for this topic type"),
        (dict(TopicArn=arn, Message="m",
              MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}),
         "ParameterValueInvalid", "Could not cast message attribute 'n' value to number."),
        (dict(TopicArn=arn, Message="m",
              MessageAttributes={"n": {"DataType": "Strin", "StringValue": "abc"}}),
         "ParameterValueInvalid", "The message attribute 'n' has an invalid message attribute "
         "type, the set of supported type prefixes is Binary, Number, and String."),
        (dict(TopicArn=arn, Message="m",
              MessageAttributes={"s": {"DataType": "String", "StringValue": ""}}),
         "ParameterValueInvalid", "The message attribute 's' must contain non-empty message "
         "attribute value for message attribute type 'String'."),
        (dict(TopicArn=arn, Message="m",
              MessageAttributes={"b": {"DataType": "Binary", "StringValue": "x"}}),
         "ParameterValueInvalid", "The message attribute 'b' must contain non-empty message "
         "attribute value for message attribute type 'Binary'."),
    ]
    for kw, code, message in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.publish(**kw)
        assert err(e) == (code, message), kw.get("MessageAttributes") or kw.get("Subject")
    for attrs in ({"AWS.x": {"DataType": "String", "StringValue": "v"}},
                  {".x": {"DataType": "String", "StringValue": "v"}},
                  {"a": {"DataType": "String.Array", "StringValue": "[1,"}}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.publish(TopicArn=arn, Message="m", MessageAttributes=attrs)
        assert err(e)[0] == "ParameterValueInvalid"
    # Exactly at the limit is accepted; every data type is.
    sns.publish(TopicArn=arn, Message="x" * (256 * 1024))
    r = sns.publish(TopicArn=arn, Message="m", Subject="ok", MessageAttributes={
        "s": {"DataType": "String", "StringValue": "v"},
        "n": {"DataType": "Number", "StringValue": "-1.5e3"},
        "a": {"DataType": "String.Array", "StringValue": '["x", 1, true, null]'},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        "c": {"DataType": "String.custom", "StringValue": "v"}})
    assert len(r["MessageId"]) == 36 and "SequenceNumber" not in r


def test_fanout_envelope_and_signature(sns, sqs):
    arn = sns.create_topic(Name="fan")["TopicArn"]
    queues = [make_queue(sqs, f"fan{i}") for i in range(3)]
    subs = [sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q[1])["SubscriptionArn"]
            for q in queues]
    r = sns.publish(TopicArn=arn, Message='hello "world"\n', Subject="Greeting",
                    MessageAttributes={"kind": {"DataType": "String", "StringValue": "greet"},
                                       "bin": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}})
    for (url, _), sub in zip(queues, subs):
        msgs = receive(sqs, url)
        assert len(msgs) == 1
        body = msgs[0]["Body"]
        assert body.startswith('{\n  "Type" : "Notification",\n  "MessageId" : ')
        env = json.loads(body)
        assert list(env) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                             "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
                             "MessageAttributes"]
        assert env["MessageId"] == r["MessageId"] and env["TopicArn"] == arn
        assert env["Message"] == 'hello "world"\n' and env["Subject"] == "Greeting"
        assert len(env["Timestamp"]) == 24 and env["Timestamp"].endswith("Z")
        assert env["Timestamp"][10] == "T" and env["Timestamp"][19] == "."
        assert env["SignatureVersion"] == "1"
        assert env["SigningCertURL"].endswith(".pem")
        assert env["UnsubscribeURL"].endswith("?Action=Unsubscribe&SubscriptionArn=" +
                                              urllib.parse.quote(sub, safe=""))
        assert env["MessageAttributes"] == {"kind": {"Type": "String", "Value": "greet"},
                                            "bin": {"Type": "Binary", "Value": "AQI="}}
        verify_signature(env)
        tampered = dict(env, Message="other")
        with pytest.raises(Exception):
            verify_signature(tampered)
    # No Subject: the field is absent; SignatureVersion 2 signs with SHA-256.
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=arn, Message="plain")
    env = json.loads(receive(sqs, queues[0][0])[0]["Body"])
    assert "Subject" not in env and "MessageAttributes" not in env
    assert env["SignatureVersion"] == "2"
    verify_signature(env)


def test_unsubscribe_url_works(sns, sqs):
    arn = sns.create_topic(Name="unsub")["TopicArn"]
    url, qarn = make_queue(sqs, "unsubq")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.publish(TopicArn=arn, Message="m")
    env = json.loads(receive(sqs, url)[0]["Body"])
    urllib.request.urlopen(env["UnsubscribeURL"], timeout=5).read()
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    assert sub


def test_raw_delivery_and_message_structure(sns, sqs):
    arn = sns.create_topic(Name="raw")["TopicArn"]
    url, qarn = make_queue(sqs, "rawq")
    url2, qarn2 = make_queue(sqs, "structq")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn2)
    sns.publish(TopicArn=arn, Message="raw body", MessageAttributes={
        "s": {"DataType": "String", "StringValue": "v"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    m = receive(sqs, url, MessageAttributeNames=["All"])[0]
    assert m["Body"] == "raw body"
    assert m["MessageAttributes"] == {
        "s": {"StringValue": "v", "DataType": "String"},
        "n": {"StringValue": "42", "DataType": "Number"},
        "b": {"BinaryValue": b"\x00\x01", "DataType": "Binary"}}
    receive(sqs, url2)
    sns.publish(TopicArn=arn, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "sqs": "for sqs"}))
    assert receive(sqs, url)[0]["Body"] == "for sqs"
    assert json.loads(receive(sqs, url2)[0]["Body"])["Message"] == "for sqs"


def test_filter_policies_on_attributes_and_body(sns, sqs):
    arn = sns.create_topic(Name="filter")["TopicArn"]
    url_a, qa = make_queue(sqs, "fa")
    url_b, qb = make_queue(sqs, "fb")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qa, Attributes={
        "RawMessageDelivery": "true",
        "FilterPolicy": json.dumps({"color": ["red", {"prefix": "bl"}],
                                    "size": [{"numeric": [">=", 10, "<", 20]}]})})
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qb, Attributes={
        "RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"status": [{"anything-but": "cancelled"}]}})})

    def pub(body, **attrs):
        ma = {k: {"DataType": "Number" if isinstance(v, int) else "String", "StringValue": str(v)}
              for k, v in attrs.items()}
        sns.publish(TopicArn=arn, Message=body, MessageAttributes=ma)

    pub("1", color="red", size=10)
    pub("2", color="blue", size=19)
    pub("3", color="green", size=15)
    pub("4", color="red", size=20)
    pub("5", color="red")
    pub(json.dumps({"order": {"status": "shipped"}}))
    pub(json.dumps({"order": {"status": "cancelled"}}))
    pub("not json")
    got_a = sorted(m["Body"] for m in receive(sqs, url_a, n=2))
    assert got_a == ["1", "2"]
    got_b = [json.loads(m["Body"]) for m in receive(sqs, url_b, n=1)]
    assert got_b == [{"order": {"status": "shipped"}}]
    time.sleep(0.2)
    assert receive(sqs, url_a, n=1, wait=0) == [] and receive(sqs, url_b, n=1, wait=0) == []


def test_fifo_topic_to_fifo_queue(sns, sqs):
    arn = sns.create_topic(Name="f.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, qarn = make_queue(sqs, "f.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RawMessageDelivery": "true"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(TopicArn=arn, Message="m")
    assert err(e) == ("InvalidParameter", "Invalid parameter: The MessageGroupId parameter is "
                      "required for FIFO topics")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(TopicArn=arn, Message="m", MessageGroupId="g")
    assert err(e) == ("InvalidParameter", "Invalid parameter: The topic should either have "
                      "ContentBasedDeduplication enabled or MessageDeduplicationId provided "
                      "explicitly")
    seqs = []
    for i in range(5):
        r = sns.publish(TopicArn=arn, Message=f"m{i}", MessageGroupId="g",
                        MessageDeduplicationId=f"d{i}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    dup = sns.publish(TopicArn=arn, Message="again", MessageGroupId="g", MessageDeduplicationId="d0")
    assert int(dup["SequenceNumber"]) == seqs[0]
    msgs = receive(sqs, url, n=5, AttributeNames=["All"])
    assert [m["Body"] for m in msgs] == [f"m{i}" for i in range(5)]
    assert all(m["Attributes"]["MessageGroupId"] == "g" for m in msgs)
    assert [m["Attributes"]["MessageDeduplicationId"] for m in msgs] == [f"d{i}" for i in range(5)]
    assert receive(sqs, url, n=1, wait=0) == []
    # Content-based deduplication.
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication",
                             AttributeValue="true")
    a = sns.publish(TopicArn=arn, Message="same", MessageGroupId="g")
    b = sns.publish(TopicArn=arn, Message="same", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]
    assert [m["Body"] for m in receive(sqs, url, n=2, wait=1)] == ["same"]
    # A FIFO queue cannot subscribe to a standard topic; a FIFO topic takes SQS, Lambda and
    # Firehose only.
    std = sns.create_topic(Name="std")["TopicArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=std, Protocol="sqs", Endpoint=qarn)
    assert err(e) == ("InvalidParameter", "Invalid parameter: Invalid parameter: Endpoint Reason: "
                      "FIFO SQS Queues can not be subscribed to standard SNS topics")
    for proto, ep in [("email", "a@b.c"), ("lambda", "arn:aws:lambda:us-east-1:000000000000:function:f")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.subscribe(TopicArn=arn, Protocol=proto, Endpoint=ep)
        assert err(e) == ("InvalidParameter", f"Invalid parameter: Invalid protocol type: {proto}")
    # A standard queue may subscribe to a FIFO topic.
    std_url, std_arn = make_queue(sqs, "plainq")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=std_arn)
    sns.publish(TopicArn=arn, Message="to both", MessageGroupId="g")
    assert json.loads(receive(sqs, std_url)[0]["Body"])["Message"] == "to both"
    assert [m["Body"] for m in receive(sqs, url)] == ["to both"]


def test_publish_batch(sns, sqs):
    arn = sns.create_topic(Name="batch")["TopicArn"]
    url, qarn = make_queue(sqs, "batchq")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RawMessageDelivery": "true"})
    r = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"},
        {"Id": "b", "Message": ""},
        {"Id": "c", "Message": "three", "MessageAttributes": {
            "n": {"DataType": "Number", "StringValue": "x"}}},
        {"Id": "d", "Message": "four", "Subject": "s"}])
    assert [s["Id"] for s in r["Successful"]] == ["a", "d"]
    assert all(len(s["MessageId"]) == 36 for s in r["Successful"])
    failed = {f["Id"]: f for f in r["Failed"]}
    assert failed["b"]["Code"] == "InvalidParameter" and failed["b"]["SenderFault"] is True
    assert failed["b"]["Message"] == "Invalid parameter: Empty message"
    assert failed["c"]["Code"] == "ParameterValueInvalid"
    assert sorted(m["Body"] for m in receive(sqs, url, n=2)) == ["four", "one"]

    def batch_err(entries):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
        return err(e)

    assert batch_err([{"Id": str(i), "Message": "m"} for i in range(11)]) == (
        "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")
    assert batch_err([{"Id": "x", "Message": "m"}, {"Id": "x", "Message": "n"}]) == (
        "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
    assert batch_err([{"Id": "bad id!", "Message": "m"}])[0] == "InvalidBatchEntryId"
    assert batch_err([{"Id": str(i), "Message": "x" * 30000} for i in range(10)]) == (
        "BatchRequestTooLong", "The length of all the messages put together is more than the limit.")
    assert batch_err([])[0] in ("EmptyBatchRequest", "ValidationError")
    # FIFO batch: sequence numbers per entry.
    farn = sns.create_topic(Name="b.fifo", Attributes={"FifoTopic": "true",
                                                       "ContentBasedDeduplication": "true"})["TopicArn"]
    r = sns.publish_batch(TopicArn=farn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "a", "MessageGroupId": "g"},
        {"Id": "2", "Message": "b", "MessageGroupId": "g"},
        {"Id": "3", "Message": "c"}])
    assert [s["Id"] for s in r["Successful"]] == ["1", "2"]
    assert int(r["Successful"][0]["SequenceNumber"]) < int(r["Successful"][1]["SequenceNumber"])
    assert r["Failed"][0]["Id"] == "3"


def test_dead_letter_queue_when_queue_is_deleted(sns, sqs):
    arn = sns.create_topic(Name="dlqt")["TopicArn"]
    url, qarn = make_queue(sqs, "target")
    dlq_url, dlq_arn = make_queue(sqs, "dlq")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    sqs.delete_queue(QueueUrl=url)
    r = sns.publish(TopicArn=arn, Message="lost")
    env = json.loads(receive(sqs, dlq_url)[0]["Body"])
    assert env["MessageId"] == r["MessageId"] and env["Message"] == "lost"


PY_EVENT = '''
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
    return "ok"
'''


def test_lambda_subscription_event_and_missing_function_dlq(sns, sqs, client):
    from test_lambda_invoke import make_fn
    lmb, logs = client("lambda"), client("logs")
    make_fn(lmb, "snsfn", {"app.py": PY_EVENT})
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:snsfn"
    arn = sns.create_topic(Name="lam")["TopicArn"]
    sub = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=fn_arn)["SubscriptionArn"]
    r = sns.publish(TopicArn=arn, Message="to lambda",
                    MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    event = None
    deadline = time.time() + 20
    while time.time() < deadline and event is None:
        try:
            evs = logs.filter_log_events(logGroupName="/aws/lambda/snsfn")["events"]
        except botocore.exceptions.ClientError:
            evs = []
        for e in evs:
            if e["message"].startswith("EVENT "):
                event = json.loads(e["message"][6:])
        time.sleep(0.2)
    assert event is not None
    rec = event["Records"][0]
    assert rec["EventSource"] == "aws:sns" and rec["EventVersion"] == "1.0"
    assert rec["EventSubscriptionArn"] == sub
    s = rec["Sns"]
    assert list(s) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                       "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl",
                       "MessageAttributes"]
    assert s["Type"] == "Notification" and s["MessageId"] == r["MessageId"]
    assert s["Subject"] is None and s["Message"] == "to lambda" and s["TopicArn"] == arn
    assert s["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    verify_signature(dict(s, SigningCertURL=s["SigningCertUrl"]))
    # A subscription to a function that does not exist: the message goes to the DLQ.
    dlq_url, dlq_arn = make_queue(sqs, "lamdlq")
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=fn_arn + "-missing",
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    r = sns.publish(TopicArn=arn, Message="nobody home")
    env = json.loads(receive(sqs, dlq_url)[0]["Body"])
    assert env["MessageId"] == r["MessageId"] and env["Message"] == "nobody home"


def test_sms_and_platform_endpoints(sns, nimbus):
    r = sns.publish(PhoneNumber="+15550100", Message="your code is 1234")
    msgs = json.load(urllib.request.urlopen(nimbus.endpoint + "/_aws/sns/sms-messages"))["messages"]
    assert [(m["Target"], m["Message"], m["MessageId"]) for m in msgs] == [
        ("+15550100", "your code is 1234", r["MessageId"])]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(PhoneNumber="12ab", Message="m")
    assert err(e)[0] == "InvalidParameter"
    app = sns.create_platform_application(Name="app", Platform="GCM",
                                          Attributes={"PlatformCredential": "secret"})
    app_arn = app["PlatformApplicationArn"]
    assert app_arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:app/GCM/app"
    assert "PlatformCredential" not in sns.get_platform_application_attributes(
        PlatformApplicationArn=app_arn)["Attributes"]
    ep = sns.create_platform_endpoint(PlatformApplicationArn=app_arn, Token="tok",
                                      CustomUserData="u")["EndpointArn"]
    assert sns.create_platform_endpoint(PlatformApplicationArn=app_arn,
                                        Token="tok")["EndpointArn"] == ep
    a = sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"]
    assert a == {"Token": "tok", "Enabled": "true", "CustomUserData": "u"}
    sns.set_endpoint_attributes(EndpointArn=ep, Attributes={"Enabled": "false"})
    assert sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"]["Enabled"] == "false"
    assert [e["EndpointArn"] for e in sns.list_endpoints_by_platform_application(
        PlatformApplicationArn=app_arn)["Endpoints"]] == [ep]
    assert [a["PlatformApplicationArn"] for a in
            sns.list_platform_applications()["PlatformApplications"]] == [app_arn]
    sns.publish(TargetArn=ep, Message="push")
    msgs = json.load(urllib.request.urlopen(
        nimbus.endpoint + "/_aws/sns/platform-endpoint-messages"))["messages"]
    assert [(m["Target"], m["Message"]) for m in msgs] == [(ep, "push")]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_platform_application(Name="x", Platform="NOPE",
                                        Attributes={"PlatformCredential": "c"})
    assert err(e)[0] == "InvalidParameter"
    sns.delete_platform_application(PlatformApplicationArn=app_arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.get_endpoint_attributes(EndpointArn=ep)
    assert err(e)[0] == "NotFound"
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional"})
    assert sns.get_sms_attributes()["attributes"] == {"DefaultSMSType": "Transactional"}
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15550100")["isOptedOut"] is False
    nimbus.reset()
    assert sns.get_sms_attributes()["attributes"] == {}
    assert json.load(urllib.request.urlopen(nimbus.endpoint + "/_aws/sns/outbox"))["messages"] == []


def test_state_survives_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    sns, sqs = n.client("sns"), n.client("sqs")
    arn = sns.create_topic(Name="durable", Attributes={"DisplayName": "D"})["TopicArn"]
    url, qarn = make_queue(sqs, "durableq")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.publish(TopicArn=arn, Message="before")
    cert1 = json.loads(receive(sqs, url)[0]["Body"])["SigningCertURL"]
    pem1 = urllib.request.urlopen(cert1).read()
    n.restart()
    sns, sqs = n.client("sns"), n.client("sqs")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "D"
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["Endpoint"] == qarn
    sns.publish(TopicArn=arn, Message="after")
    env = json.loads(receive(sqs, url)[0]["Body"])
    assert env["Message"] == "after"
    assert urllib.request.urlopen(env["SigningCertURL"]).read() == pem1
    verify_signature(env)


# ---- http subscriptions ----------------------------------------------------------------


class Endpoint:
    """A local HTTP server recording every POST; answers `statuses` in turn
    (then 200).  tls=(cert, key) serves HTTPS (test_sns_delivery.py)."""

    def __init__(self, statuses=(), tls=None, bind="127.0.0.1"):
        import http.server
        import ssl
        import threading
        self.posts, self.statuses = [], list(statuses)
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n).decode()
                outer.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                code = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

            def log_message(self, *a):
                pass

        class S(http.server.HTTPServer):
            def handle_error(self, request, client_address):
                if not tls:  # refused TLS handshakes are what some tests expect
                    super().handle_error(request, client_address)

        self.server = S((bind, 0), H)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}/hook?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=10):
        deadline = time.time() + timeout
        while len(self.posts) < n and time.time() < deadline:
            time.sleep(0.02)
        return self.posts

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    made = []

    def make(statuses=()):
        e = Endpoint(statuses)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


def test_http_subscription_confirmation_and_notifications(sns, endpoint):
    ep = endpoint()
    arn = sns.create_topic(Name="web")["TopicArn"]
    assert sns.subscribe(TopicArn=arn, Protocol="http",
                         Endpoint=ep.url)["SubscriptionArn"] == "pending confirmation"
    path, headers, body = ep.wait(1)[0]
    assert path == "/hook?x=1"
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == arn
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["user-agent"] == "Amazon Simple Notification Service Agent"
    conf = json.loads(body)
    assert list(conf) == ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL",
                          "Timestamp", "SignatureVersion", "Signature", "SigningCertURL"]
    assert headers["x-amz-sns-message-id"] == conf["MessageId"]
    assert conf["Message"].startswith(f"You have chosen to subscribe to the topic {arn}.")
    verify_signature(conf)
    # Visiting SubscribeURL confirms, as on AWS.
    urllib.request.urlopen(conf["SubscribeURL"], timeout=5).read()
    sub = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"][
        "PendingConfirmation"] == "false"
    r = sns.publish(TopicArn=arn, Message="over http", Subject="S")
    path, headers, body = ep.wait(2)[1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == r["MessageId"]
    assert headers["x-amz-sns-subscription-arn"] == sub
    env = json.loads(body)
    assert env["Message"] == "over http" and env["Subject"] == "S" and env["TopicArn"] == arn
    verify_signature(env)
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                    AttributeValue="true")
    sns.publish(TopicArn=arn, Message="raw over http")
    path, headers, body = ep.wait(3)[2]
    assert body == "raw over http" and headers["x-amz-sns-rawdelivery"] == "true"


def test_http_retries_on_the_delivery_policy_then_dead_letter(sns, sqs, endpoint):
    ep = endpoint()
    arn = sns.create_topic(Name="retry")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=ep.url)
    token = json.loads(ep.wait(1)[0][2])["Token"]
    ep.posts.clear()
    sub = sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy",
                                    AttributeValue=json.dumps({"healthyRetryPolicy": {
                                        "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2,
                                        "backoffFunction": "linear"}}))
    ep.statuses[:] = [500, 503]
    t0 = time.time()
    sns.publish(TopicArn=arn, Message="eventually")
    posts = ep.wait(3, timeout=15)
    assert [json.loads(p[2])["Message"] for p in posts] == ["eventually"] * 3
    assert time.time() - t0 >= 1.8  # two retries, 1 s apart
    # Exhausted retries (and a 4xx, not retried) go to the dead-letter queue.
    dlq_url, dlq_arn = make_queue(sqs, "webdlq")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy",
                                    AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}))
    ep.posts.clear()
    ep.statuses[:] = [404]
    r = sns.publish(TopicArn=arn, Message="refused")
    env = json.loads(receive(sqs, dlq_url)[0]["Body"])
    assert env["MessageId"] == r["MessageId"]
    assert len(ep.posts) == 1


def test_http_endpoint_down_does_not_block(sns, sqs, endpoint):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here
    arn = sns.create_topic(Name="down")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"http://127.0.0.1:{port}/")
    # The server keeps answering while the confirmation fails and is retried.
    url, qarn = make_queue(sqs, "alive")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    t0 = time.time()
    sns.publish(TopicArn=arn, Message="still here")
    assert receive(sqs, url)[0] and time.time() - t0 < 2


def test_cli_publish_and_list(aws_cli):
    def aws(*args):
        return aws_cli("sns", *args)

    arn = aws("create-topic", "--name", "cli")["TopicArn"]
    assert arn == topic_arn("cli")
    assert aws("list-topics")["Topics"] == [{"TopicArn": arn}]
    assert len(aws("publish", "--topic-arn", arn, "--message", "hi")["MessageId"]) == 36
    aws("set-topic-attributes", "--topic-arn", arn, "--attribute-name", "DisplayName",
        "--attribute-value", "CLI")
    assert aws("get-topic-attributes", "--topic-arn", arn)["Attributes"]["DisplayName"] == "CLI"
    aws("delete-topic", "--topic-arn", arn)
    assert aws("list-topics")["Topics"] == []


def test_pending_http_delivery_survives_kill9(nimbus_fresh, endpoint):
    ep = endpoint()
    n = nimbus_fresh(durable=True)
    sns = n.client("sns")
    arn = sns.create_topic(Name="durable-web")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=ep.url)
    token = json.loads(ep.wait(1)[0][2])["Token"]
    sub = sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy",
                                    AttributeValue=json.dumps({"healthyRetryPolicy": {
                                        "minDelayTarget": 1, "maxDelayTarget": 1,
                                        "numRetries": 50}}))
    ep.statuses[:] = [500] * 1000
    ep.posts.clear()
    r = sns.publish(TopicArn=arn, Message="keep me")
    ep.wait(1)
    n.kill9()
    ep.statuses[:] = []
    ep.posts.clear()
    n.start(n.port)
    posts = ep.wait(1, timeout=20)
    assert posts, "the delivery was not resumed"
    env = json.loads(posts[0][2])
    assert env["MessageId"] == r["MessageId"] and env["Message"] == "keep me"
    verify_signature(env)


def test_raw_bad_requests_get_errors_not_crashes(sns, nimbus):
    auth = ("AWS4-HMAC-SHA256 Credential=test/20240115/us-east-1/sns/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)

    def post(body):
        req = urllib.request.Request(nimbus.endpoint + "/", data=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Amz-Date": "20240115T120000Z",
            "Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    arn = sns.create_topic(Name="raw")["TopicArn"]
    status, body = post("Action=Publish&Version=2010-03-31&TopicArn=" + arn)
    assert status == 400 and "<Code>ValidationError</Code>" in body
    assert "Value null at &apos;message&apos;" in body or "Value null at 'message'" in body
    for junk in ["Action=Publish&Version=2010-03-31&TopicArn=%ZZ&Message=m",
                 "Action=Publish&Version=2010-03-31&TopicArn=" + arn + "&Message=m"
                 "&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=Number",
                 "Action=Subscribe&Version=2010-03-31&TopicArn=" + arn + "&Protocol=sqs",
                 "Action=CreateTopic&Version=2010-03-31&Name=" + "x" * 5000,
                 "Action=PublishBatch&Version=2010-03-31&TopicArn=" + arn +
                 "&PublishBatchRequestEntries.member.1.Message=m",
                 "Action=SetTopicAttributes&Version=2010-03-31&TopicArn=" + arn +
                 "&AttributeName=Policy"]:
        status, body = post(junk)
        assert 400 <= status < 500 and "<ErrorResponse" in body, (junk, status, body)
    # Still serving, state intact.
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn
