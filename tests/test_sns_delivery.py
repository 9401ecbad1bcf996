"""SNS delivery: signatures made on the threadpool keep order and verify,
https subscriptions over TLS (verified, a custom CA, insecure mode)."""
import json
import subprocess
import time

import pytest

from test_sns import Endpoint, verify_signature


# ---- signed fan-out, in order ------------------------------------------------------


def test_signed_fifo_fanout_keeps_order_and_verifies(sns, sqs):
    arn = sns.create_topic(Name="ordered.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    urls = []
    for i in range(3):
        url = sqs.create_queue(QueueName=f"ordered{i}.fifo", Attributes={
            "FifoQueue": "true"})["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        urls.append(url)
    sent = [f"m{i}" for i in range(40)]
    for m in sent:
        sns.publish(TopicArn=arn, Message=m, MessageGroupId="g")
    for url in urls:
        got = []
        deadline = time.time() + 10
        while len(got) < len(sent) and time.time() < deadline:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for msg in r.get("Messages", []):
                env = json.loads(msg["Body"])
                verify_signature(env)
                got.append(env["Message"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        assert got == sent


def test_signed_standard_fanout_every_envelope_verifies(sns, sqs):
    arn = sns.create_topic(Name="many")["TopicArn"]
    url = sqs.create_queue(QueueName="many-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": str(i), "Message": f"b{i}", "Subject": "s"} for i in range(10)])
    seen = set()
    deadline = time.time() + 10
    while len(seen) < 10 and time.time() < deadline:
        for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", []):
            env = json.loads(msg["Body"])
            assert env["SignatureVersion"] == "2"
            verify_signature(env)
            seen.add(env["Message"])
    assert seen == {f"b{i}" for i in range(10)}


# ---- https -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return str(crt), str(key)


def TlsEndpoint(cert, bind="127.0.0.1"):
    """A local HTTPS server with a self-signed certificate, recording POSTs."""
    return Endpoint(tls=cert, bind=bind)


@pytest.fixture
def tls_endpoint(cert):
    e = TlsEndpoint(cert)
    yield e
    e.close()


def test_https_subscription_with_trusted_ca(nimbus_fresh, tls_endpoint, cert, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    sns = nimbus_fresh().client("sns")
    arn = sns.create_topic(Name="secure")["TopicArn"]
    assert sns.subscribe(TopicArn=arn, Protocol="https",
                         Endpoint=tls_endpoint.url)["SubscriptionArn"] == "pending confirmation"
    path, headers, body = tls_endpoint.wait(1)[0]
    assert path == "/hook?x=1"
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    conf = json.loads(body)
    verify_signature(conf)
    sub = sns.confirm_subscription(TopicArn=arn, Token=conf["Token"])["SubscriptionArn"]
    r = sns.publish(TopicArn=arn, Message=json.dumps({"default": "d", "https": "over tls"}),
                    MessageStructure="json")
    path, headers, body = tls_endpoint.wait(2)[1]
    assert headers["x-amz-sns-subscription-arn"] == sub
    env = json.loads(body)
    assert env["MessageId"] == r["MessageId"] and env["Message"] == "over tls"
    verify_signature(env)
    # A large body goes through TLS records in pieces.
    big = "x" * 200000
    sns.publish(TopicArn=arn, Message=big)
    assert json.loads(tls_endpoint.wait(3)[2][2])["Message"] == big


def test_https_self_signed_is_refused_by_default(nimbus_fresh, tls_endpoint, monkeypatch):
    monkeypatch.delenv("NIMBUS_HTTP_CA_FILE", raising=False)
    monkeypatch.delenv("NIMBUS_HTTP_INSECURE_TLS", raising=False)
    n = nimbus_fresh()
    sns = n.client("sns")
    arn = sns.create_topic(Name="untrusted")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="https", Endpoint=tls_endpoint.url)
    time.sleep(1.0)
    assert tls_endpoint.posts == []
    deadline = time.time() + 5
    while "failed: self-signed certificate" not in n.output() and time.time() < deadline:
        time.sleep(0.05)
    assert "failed: self-signed certificate" in n.output()
    # The server still works for others.
    assert sns.list_topics()["Topics"]


def test_https_insecure_mode_accepts_self_signed(nimbus_fresh, tls_endpoint, monkeypatch):
    monkeypatch.setenv("NIMBUS_HTTP_INSECURE_TLS", "1")
    sns = nimbus_fresh().client("sns")
    arn = sns.create_topic(Name="insecure")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="https", Endpoint=tls_endpoint.url)
    conf = json.loads(tls_endpoint.wait(1)[0][2])
    assert conf["Type"] == "SubscriptionConfirmation"


def test_https_name_mismatch_is_refused(nimbus_fresh, cert, monkeypatch, tmp_path):
    # The certificate names 127.0.0.1 and localhost; an endpoint reached as
    # another address (127.0.0.2 is not in it) fails verification even with the CA.
    monkeypatch.setenv("NIMBUS_HTTP_CA_FILE", cert[0])
    e = TlsEndpoint(cert, bind="0.0.0.0")
    try:
        n = nimbus_fresh()
        sns = n.client("sns")
        arn = sns.create_topic(Name="mismatch")["TopicArn"]
        url = e.url.replace("127.0.0.1", "127.0.0.2")
        sns.subscribe(TopicArn=arn, Protocol="https", Endpoint=url)
        deadline = time.time() + 5
        while "TLS with 127.0.0.2" not in n.output() and time.time() < deadline:
            time.sleep(0.05)
        assert "TLS with 127.0.0.2" in n.output()
        assert e.posts == []
    finally:
        e.close()
