"""Helpers shared by the DynamoDB tests (tests/test_dynamodb_*.py).

Expected messages are AWS's (API reference, developer guide, and messages
AWS returned as quoted in public issue threads); nimbus's behaviour is never
the reference.
"""
import json
import time
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def error_of(excinfo):
    """(code, message, http status) of a ClientError raised by boto3."""
    e = excinfo.value if hasattr(excinfo, "value") else excinfo
    return (e.response["Error"]["Code"], e.response["Error"].get("Message", ""),
            e.response["ResponseMetadata"]["HTTPStatusCode"])


def expect_error(fn, code, message=None, status=400, prefix=None, **kw):
    """Calls fn(**kw), expecting a ClientError with that code (and exact
    message / message prefix when given).  Returns the ClientError."""
    with pytest.raises(ClientError) as ei:
        fn(**kw)
    c, m, s = error_of(ei)
    assert c == code, (c, m)
    if message is not None:
        assert m == message, m
    if prefix is not None:
        assert m.startswith(prefix), m
    if status is not None:
        assert s == status, s
    return ei.value


def validation(fn, message=None, prefix=None, **kw):
    return expect_error(fn, "ValidationException", message, prefix=prefix, **kw)


def raw_client(nimbus, name="dynamodb"):
    """A client that skips botocore's own parameter validation, so the
    server's checks (minimum lengths, wrong types) are exercised."""
    return nimbus.client(name, config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def raw_call(nimbus, target, body, service="DynamoDB_20120810"):
    """POSTs body (bytes or a JSON-able value) with X-Amz-Target; returns
    (status, parsed json or None, raw text)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(nimbus.endpoint + "/", data=data, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"{service}.{target}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20240101T000000Z"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        status = e.code
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return status, parsed, text


def error_type(parsed):
    """The bare error name of a JSON error body's __type."""
    return parsed["__type"].rsplit("#", 1)[-1]


def create_table(ddb, name, hash_key=("pk", "S"), range_key=None, gsis=(), lsis=(), stream=None,
                 **kw):
    """Creates an on-demand table; gsis/lsis are dicts
    {name, hash, range, projection, include} with ("attr", "T") keys."""
    defs = {hash_key[0]: hash_key[1]}
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        defs[range_key[0]] = range_key[1]
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})

    def index(ix):
        ks = [{"AttributeName": ix["hash"][0], "KeyType": "HASH"}]
        defs[ix["hash"][0]] = ix["hash"][1]
        if ix.get("range"):
            ks.append({"AttributeName": ix["range"][0], "KeyType": "RANGE"})
            defs[ix["range"][0]] = ix["range"][1]
        proj = {"ProjectionType": ix.get("projection", "ALL")}
        if ix.get("include"):
            proj["NonKeyAttributes"] = list(ix["include"])
        return {"IndexName": ix["name"], "KeySchema": ks, "Projection": proj}

    args = dict(TableName=name, KeySchema=schema, BillingMode="PAY_PER_REQUEST")
    if gsis:
        args["GlobalSecondaryIndexes"] = [index(g) for g in gsis]
    if lsis:
        args["LocalSecondaryIndexes"] = [index(dict(l, hash=hash_key)) for l in lsis]
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    args["AttributeDefinitions"] = [{"AttributeName": k, "AttributeType": t} for k, t in defs.items()]
    args.update(kw)
    return ddb.create_table(**args)["TableDescription"]


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def wait_for(fn, timeout=10.0, interval=0.05):
    """Polls fn() until it returns something truthy; returns that value."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("condition not met within %.1fs (last: %r)" % (timeout, v))
        time.sleep(interval)


def query_all(ddb, **kw):
    """Follows LastEvaluatedKey; returns (items, pages)."""
    items, pages = [], 0
    while True:
        r = ddb.query(**kw)
        pages += 1
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            return items, pages
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def scan_all(ddb, **kw):
    items, pages = [], 0
    while True:
        r = ddb.scan(**kw)
        pages += 1
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            return items, pages
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
