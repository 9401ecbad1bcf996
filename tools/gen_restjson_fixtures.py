#!/usr/bin/env python3
"""Write rest-json request fixtures for tests/unit/test_restjson.c.

    python3 tools/gen_restjson_fixtures.py [--out tests/unit/fixtures/restjson]

Each case is a Lambda operation and its parameters, serialized by botocore's
own rest-json serializer (botocore.serialize) and prepared as the SDK sends
it (botocore.awsrequest.prepare_request_dict: the final URL with the
requestUri's query literals and the query members).  One file per case:

    op NAME
    method METHOD
    target /path?query          (raw, as on the request line)
    header Name: value          (any number)
    body BASE64                 (may be empty)
    expect JSON                 (the parameters in awsJson wire form:
                                 blobs base64, timestamps epoch seconds)

The C test routes the request (nb_rest_route), decodes it with the
rest-json codec and compares the tree with `expect` decoded by the awsJson
codec: the two protocols must give handlers the same value tree.
"""
import argparse
import base64
import datetime
import json
import os
import sys

import botocore.awsrequest
import botocore.serialize
import botocore.session

ZIP = b"PK\x03\x04fake zip \x00\xff bytes"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:my-fn"
TS = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)

CASES = [
    ("Invoke", {"FunctionName": "my-fn", "Payload": b'{"key": "value"}'}),
    ("Invoke", {"FunctionName": ARN, "InvocationType": "Event", "LogType": "Tail",
                "ClientContext": base64.b64encode(b'{"custom":{"a":"b"}}').decode(),
                "Qualifier": "$LATEST", "Payload": b"\x00\x01 binary \xff"}),
    ("Invoke", {"FunctionName": "my-fn:prod", "InvocationType": "DryRun"}),
    ("CreateFunction", {"FunctionName": "my-fn", "Runtime": "python3.12", "Role":
                        "arn:aws:iam::000000000000:role/r", "Handler": "app.handler",
                        "Code": {"ZipFile": ZIP}, "Timeout": 30, "MemorySize": 256,
                        "Publish": True, "Environment": {"Variables": {"AB": "1", "B_2": "two"}},
                        "Tags": {"team": "x"}, "Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:l:1"],
                        "Architectures": ["arm64"]}),
    ("ListFunctions", {}),
    ("ListFunctions", {"Marker": "abc/def=", "MaxItems": 10, "FunctionVersion": "ALL"}),
    ("GetFunction", {"FunctionName": "my-fn"}),
    ("GetFunction", {"FunctionName": ARN, "Qualifier": "7"}),
    ("GetFunctionConfiguration", {"FunctionName": "my-fn"}),
    ("DeleteFunction", {"FunctionName": "my-fn", "Qualifier": "3"}),
    ("ListVersionsByFunction", {"FunctionName": "my-fn", "MaxItems": 2}),
    ("PublishVersion", {"FunctionName": "my-fn", "Description": "v"}),
    ("CreateAlias", {"FunctionName": "my-fn", "Name": "prod", "FunctionVersion": "1"}),
    ("GetAlias", {"FunctionName": "my-fn", "Name": "prod"}),
    ("DeleteAlias", {"FunctionName": "my-fn", "Name": "prod"}),
    ("UpdateFunctionCode", {"FunctionName": "my-fn", "ZipFile": ZIP, "Publish": False}),
    ("UpdateFunctionConfiguration", {"FunctionName": "my-fn", "Timeout": 5,
                                     "Environment": {"Variables": {}}}),
    ("ListProvisionedConcurrencyConfigs", {"FunctionName": "my-fn", "MaxItems": 5}),
    ("GetLayerVersionByArn", {"Arn": "arn:aws:lambda:us-east-1:000000000000:layer:l:3"}),
    ("ListLayerVersions", {"LayerName": "l", "CompatibleRuntime": "python3.12"}),
    ("PublishLayerVersion", {"LayerName": "l", "Content": {"ZipFile": ZIP}}),
    ("GetLayerVersion", {"LayerName": "l", "VersionNumber": 12}),
    ("RemoveLayerVersionPermission", {"LayerName": "l", "VersionNumber": 2,
                                      "StatementId": "s 1", "RevisionId": "r"}),
    ("AddPermission", {"FunctionName": "my-fn", "StatementId": "s1", "Action": "lambda:InvokeFunction",
                       "Principal": "s3.amazonaws.com"}),
    ("RemovePermission", {"FunctionName": "my-fn", "StatementId": "s1", "Qualifier": "1"}),
    ("GetPolicy", {"FunctionName": "my-fn"}),
    ("TagResource", {"Resource": ARN, "Tags": {"k": "v"}}),
    ("UntagResource", {"Resource": ARN, "TagKeys": ["a", "b c", "d&e"]}),
    ("ListTags", {"Resource": ARN}),
    ("PutFunctionConcurrency", {"FunctionName": "my-fn", "ReservedConcurrentExecutions": 0}),
    ("CreateEventSourceMapping", {"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q",
                                  "FunctionName": "my-fn", "BatchSize": 10,
                                  "StartingPosition": "AT_TIMESTAMP",
                                  "StartingPositionTimestamp": TS}),
    ("ListEventSourceMappings", {"FunctionName": "my-fn", "EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q"}),
    ("DeleteEventSourceMapping", {"UUID": "14e0db71-5d35-4eb5-b481-8945cf9d10c2"}),
    ("GetAccountSettings", {}),
    ("CreateFunctionUrlConfig", {"FunctionName": "my-fn", "AuthType": "NONE",
                                 "Cors": {"AllowOrigins": ["*"], "MaxAge": 60}}),
    ("ListFunctionEventInvokeConfigs", {"FunctionName": "my-fn"}),
]


def wire(v):
    """Parameters in awsJson wire form."""
    if isinstance(v, dict):
        return {k: wire(x) for k, x in v.items()}
    if isinstance(v, list):
        return [wire(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, datetime.datetime):
        return int(v.timestamp())
    return v


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "tests", "unit",
                                                  "fixtures", "restjson"))
    a = ap.parse_args(argv)
    model = botocore.session.get_session().get_service_model("lambda")
    ser = botocore.serialize.create_serializer("rest-json", include_validation=True)
    os.makedirs(a.out, exist_ok=True)
    for fn in os.listdir(a.out):
        if fn.endswith(".req"):
            os.remove(os.path.join(a.out, fn))
    for i, (opname, params) in enumerate(CASES):
        op = model.operation_model(opname)
        req = ser.serialize_to_request(params, op)
        botocore.awsrequest.prepare_request_dict(req, "http://localhost:4566")
        url = req["url"][len("http://localhost:4566"):]
        body = req["body"]
        if isinstance(body, str):
            body = body.encode()
        lines = ["op " + opname, "method " + req["method"], "target " + url]
        for k, v in req["headers"].items():
            lines.append("header %s: %s" % (k, v))
        lines.append("body " + base64.b64encode(body or b"").decode())
        lines.append("expect " + json.dumps(wire(params), sort_keys=True))
        with open(os.path.join(a.out, "%02d_%s.req" % (i, opname)), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    print("wrote %d fixtures to %s (botocore %s)" % (len(CASES), a.out, botocore.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
