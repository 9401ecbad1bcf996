"""Lambda's control plane through boto3 (both generations) and the AWS CLI:
functions, code, versions, aliases, policies, concurrency, event invoke
configs, URLs, layers, event source mappings, tags; waiters, pagination and
AWS's errors (code, message, HTTP status).  Zips are built here with
zipfile."""
import base64
import hashlib
import io
import json
import os
import urllib.request
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BOTO_GEN

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def make_zip(files=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (files or {"index.py": "def handler(event, context):\n    return event\n"}).items():
            z.writestr(name, data)
    return buf.getvalue()


def sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def create(lam, name="fn", code=None, **kw):
    kw.setdefault("Runtime", "python3.12")
    kw.setdefault("Handler", "index.handler")
    kw.setdefault("Role", ROLE)
    return lam.create_function(FunctionName=name, Code={"ZipFile": code or make_zip()}, **kw)


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


# ---- functions -------------------------------------------------------------------

def test_create_get_and_download_code(lam):
    code = make_zip({"index.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n"})
    r = create(lam, "hello", code, MemorySize=256, Timeout=30, Description="greets",
               Environment={"Variables": {"STAGE": "dev"}}, Tags={"team": "core"},
               Architectures=["arm64"], TracingConfig={"Mode": "Active"})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["FunctionArn"] == ARN + "hello" and r["Version"] == "$LATEST"
    assert (r["State"], r["StateReasonCode"]) == ("Pending", "Creating")
    assert r["CodeSha256"] == sha(code) and r["CodeSize"] == len(code)
    assert (r["MemorySize"], r["Timeout"], r["Description"]) == (256, 30, "greets")
    assert r["Architectures"] == ["arm64"] and r["TracingConfig"] == {"Mode": "Active"}
    assert r["EphemeralStorage"] == {"Size": 512} and r["PackageType"] == "Zip"
    if BOTO_GEN == "new":  # LoggingConfig is newer than boto3 1.26
        assert r["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/hello"}
    lam.get_waiter("function_active_v2").wait(FunctionName="hello")
    g = lam.get_function(FunctionName="hello")
    assert g["Configuration"]["State"] == "Active" and g["Configuration"]["LastUpdateStatus"] == "Successful"
    assert g["Configuration"]["RevisionId"] == r["RevisionId"]
    assert g["Configuration"]["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert g["Tags"] == {"team": "core"} and "Concurrency" not in g
    assert g["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(g["Code"]["Location"]) as resp:
        assert resp.read() == code
    c = lam.get_function_configuration(FunctionName=ARN + "hello")
    assert c["FunctionName"] == "hello" and c["CodeSha256"] == sha(code)
    # A partial ARN names the same function.
    assert lam.get_function(FunctionName="000000000000:function:hello")["Configuration"]["FunctionName"] == "hello"
    lam.get_waiter("function_exists").wait(FunctionName="hello")


def test_create_errors_change_nothing(lam):
    create(lam, "taken")
    with pytest.raises(ClientError) as e:
        create(lam, "taken")
    assert error(e) == ("ResourceConflictException", "Function already exist: taken", 409)
    with pytest.raises(ClientError) as e:
        create(lam, "bad-zip", b"this is not a zip")
    assert error(e) == ("InvalidParameterValueException",
                        "Could not unzip uploaded file. Please check your file, then try to upload again.", 400)
    with pytest.raises(ClientError) as e:
        create(lam, "old", Runtime="python2.7")
    assert error(e) == ("InvalidParameterValueException",
                        "The runtime parameter of python2.7 is no longer supported for creating or updating AWS "
                        "Lambda functions. We recommend you use the new runtime (python3.14) while creating or "
                        "updating functions.", 400)
    with pytest.raises(ClientError) as e:
        create(lam, "mem", MemorySize=10241)
    assert error(e) == ("ValidationException",
                        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: "
                        "Member must have value less than or equal to 10240", 400)
    with pytest.raises(ClientError) as e:
        create(lam, "slow", Timeout=901)
    assert error(e)[0] == "ValidationException" and "'timeout'" in error(e)[1] and "900" in error(e)[1]
    with pytest.raises(ClientError) as e:
        create(lam, "role", Role="not-a-role")
    assert error(e)[0] == "ValidationException" and "at 'role' failed to satisfy constraint" in error(e)[1]
    with pytest.raises(ClientError) as e:
        create(lam, "env", Environment={"Variables": {"BIG": "x" * 4100}})
    code, msg, status = error(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg.startswith("Lambda was unable to configure your environment variables because the environment "
                          "variables you have provided exceeded the 4KB limit. String measured: ")
    with pytest.raises(ClientError) as e:
        create(lam, "reserved", Environment={"Variables": {"AWS_REGION": "x"}})
    assert error(e)[0] == "InvalidParameterValueException" and "Reserved keys used in this request: AWS_REGION" in error(e)[1]
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="s3", Runtime="python3.12", Handler="i.h", Role=ROLE,
                            Code={"S3Bucket": "missing", "S3Key": "k.zip"})
    assert error(e) == ("InvalidParameterValueException",
                        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
                        "The specified bucket does not exist", 400)
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="img", PackageType="Image", Role=ROLE,
                            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest"})
    assert error(e)[0] == "InvalidParameterValueException" and "Image" in error(e)[1]
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="nohandler", Runtime="python3.12", Role=ROLE, Code={"ZipFile": make_zip()})
    assert error(e) == ("InvalidParameterValueException",
                        "Runtime and Handler are mandatory parameters for functions created with deployment packages.", 400)
    with pytest.raises(ClientError) as e:
        create(lam, "bad name!")
    assert error(e)[0] == "ValidationException" and "at 'functionName'" in error(e)[1]
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["taken"]
    assert lam.get_account_settings()["AccountUsage"]["FunctionCount"] == 1


def test_not_found_and_qualifier_mismatch(lam):
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="ghost")
    assert error(e) == ("ResourceNotFoundException", "Function not found: " + ARN + "ghost", 404)
    create(lam, "q")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="q", Qualifier="7")
    assert error(e) == ("ResourceNotFoundException", "Function not found: " + ARN + "q:7", 404)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=ARN + "q:1", Qualifier="2")
    assert error(e) == ("InvalidParameterValueException",
                        "The derived qualifier from the function name does not match the specified qualifier.", 400)


def test_update_code_and_configuration(lam):
    first = create(lam, "upd")
    new_code = make_zip({"index.py": "def handler(e, c):\n    return 2\n"})
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="upd", ZipFile=new_code, RevisionId="wrong")
    assert error(e)[0] == "PreconditionFailedException" and error(e)[2] == 412
    dry = lam.update_function_code(FunctionName="upd", ZipFile=new_code, DryRun=True)
    assert dry["CodeSha256"] == sha(new_code)
    assert lam.get_function_configuration(FunctionName="upd")["CodeSha256"] == first["CodeSha256"]
    u = lam.update_function_code(FunctionName="upd", ZipFile=new_code, RevisionId=first["RevisionId"])
    assert u["LastUpdateStatus"] == "InProgress" and u["CodeSha256"] == sha(new_code)
    assert u["RevisionId"] != first["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="upd")
    extra = {"LoggingConfig": {"LogFormat": "JSON"}} if BOTO_GEN == "new" else {}
    c = lam.update_function_configuration(FunctionName="upd", MemorySize=512, Handler="index.other",
                                          Environment={"Variables": {"AB": "1"}}, Description="d", **extra)
    assert c["LastUpdateStatus"] == "InProgress" and c["MemorySize"] == 512
    lam.get_waiter("function_updated_v2").wait(FunctionName="upd")
    g = lam.get_function_configuration(FunctionName="upd")
    assert (g["LastUpdateStatus"], g["Handler"], g["Description"]) == ("Successful", "index.other", "d")
    if BOTO_GEN == "new":
        assert g["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                      "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/upd"}
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="upd", Environment={"Variables": {"A": "1"}})
    assert error(e)[0] == "ValidationException" and "at 'environment.variables'" in error(e)[1]
    assert g["Environment"] == {"Variables": {"AB": "1"}} and g["CodeSha256"] == sha(new_code)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="upd", Runtime="nodejs12.x")
    assert error(e)[0] == "InvalidParameterValueException" and "nodejs12.x is no longer supported" in error(e)[1]
    assert lam.get_function_configuration(FunctionName="upd")["Runtime"] == "python3.12"


def test_list_functions_pagination_and_versions(lam):
    for i in range(5):
        create(lam, "p%d" % i)
    lam.publish_version(FunctionName="p0")
    page = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in page["Functions"]] == ["p0", "p1"] and "NextMarker" in page
    names = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
             for f in p["Functions"]]
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    every = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert sorted((f["FunctionName"], f["Version"]) for f in every if f["FunctionName"] == "p0") == [
        ("p0", "$LATEST"), ("p0", "1")]


def test_publish_versions(lam):
    c = create(lam, "ver", Publish=True)
    assert c["Version"] == "1" and c["FunctionArn"] == ARN + "ver:1"
    again = lam.publish_version(FunctionName="ver")
    assert again["Version"] == "1"  # nothing changed: the latest version comes back
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName="ver", CodeSha256="nope")
    assert error(e)[0] == "InvalidParameterValueException"
    lam.update_function_configuration(FunctionName="ver", Timeout=3)  # the same value: still unchanged
    assert lam.publish_version(FunctionName="ver")["Version"] == "1"
    lam.update_function_configuration(FunctionName="ver", Timeout=9)
    v2 = lam.publish_version(FunctionName="ver", Description="second")
    assert (v2["Version"], v2["Timeout"], v2["Description"]) == ("2", 9, "second")
    lam.get_waiter("published_version_active").wait(FunctionName="ver", Qualifier="2")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="ver")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    page = lam.list_versions_by_function(FunctionName="ver", MaxItems=2)
    assert len(page["Versions"]) == 2 and page["NextMarker"]
    assert lam.get_function(FunctionName="ver", Qualifier="1")["Configuration"]["Timeout"] == 3


def test_aliases_and_routing(lam):
    create(lam, "al", Publish=True)
    lam.update_function_configuration(FunctionName="al", Timeout=5)
    lam.publish_version(FunctionName="al")
    a = lam.create_alias(FunctionName="al", Name="live", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert a["AliasArn"] == ARN + "al:live" and a["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="live", FunctionVersion="1")
    assert error(e) == ("ResourceConflictException", "Alias already exists: " + ARN + "al:live", 409)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="x", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="y", FunctionVersion="$LATEST",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert error(e)[1] == "$LATEST is not supported for an alias pointing to more than 1 version"
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="z", FunctionVersion="9")
    assert error(e) == ("ResourceNotFoundException", "Function not found: " + ARN + "al:9", 404)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName="al", Name="123", FunctionVersion="1")
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName="al", Name="live", FunctionVersion="2", RevisionId="stale")
    assert error(e)[0] == "PreconditionFailedException"
    u = lam.update_alias(FunctionName="al", Name="live", FunctionVersion="2", RoutingConfig={},
                         RevisionId=a["RevisionId"])
    assert u["FunctionVersion"] == "2" and "RoutingConfig" not in u and u["RevisionId"] != a["RevisionId"]
    # An alias resolves to its version's configuration.
    assert lam.get_function_configuration(FunctionName="al", Qualifier="live")["Timeout"] == 5
    lam.create_alias(FunctionName="al", Name="old", FunctionVersion="1")
    assert [x["Name"] for x in lam.list_aliases(FunctionName="al")["Aliases"]] == ["live", "old"]
    assert [x["Name"] for x in lam.list_aliases(FunctionName="al", FunctionVersion="1")["Aliases"]] == ["old"]
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="al", Qualifier="1")
    assert error(e) == ("ResourceConflictException",
                        "Unable to delete version because the following aliases reference it: [old]", 409)
    lam.delete_alias(FunctionName="al", Name="old")
    lam.delete_function(FunctionName="al", Qualifier="1")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName="al", Name="old")
    assert error(e) == ("ResourceNotFoundException", "Alias not found: " + ARN + "al:old", 404)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="al")["Versions"]] == ["$LATEST", "2"]


def test_delete_function(lam):
    create(lam, "gone", Publish=True)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="gone", Qualifier="$LATEST")
    assert error(e) == ("InvalidParameterValueException",
                        "$LATEST version cannot be deleted without deleting the function.", 400)
    loc = lam.get_function(FunctionName="gone")["Code"]["Location"]
    lam.delete_function(FunctionName="gone")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="gone")
    assert error(e)[0] == "ResourceNotFoundException"
    # The code is gone with its last user.
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(loc)
    assert he.value.code == 404
    assert lam.get_account_settings()["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}


# ---- policies, concurrency, settings -----------------------------------------------------

def test_permissions_and_policy(lam):
    create(lam, "pol")
    before = lam.get_function_configuration(FunctionName="pol")["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName="pol")
    assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    s = lam.add_permission(FunctionName="pol", StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                           SourceAccount="123456789012")
    assert json.loads(s["Statement"]) == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": ARN + "pol",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}
    lam.add_permission(FunctionName="pol", StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName="pol", StatementId="acct", Action="lambda:GetFunction",
                       Principal="111122223333")
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName="pol", StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="sns.amazonaws.com")
    assert error(e) == ("ResourceConflictException",
                        "The statement id (s3) provided already exists. Please provide a new statement id, or "
                        "remove the existing statement.", 409)
    p = lam.get_policy(FunctionName="pol")
    doc = json.loads(p["Policy"])
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert [x["Sid"] for x in doc["Statement"]] == ["s3", "url", "acct"]
    assert doc["Statement"][1]["Principal"] == "*"
    assert doc["Statement"][1]["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert doc["Statement"][2]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert p["RevisionId"] != before
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName="pol", StatementId="x", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", RevisionId=before)
    assert error(e)[0] == "PreconditionFailedException"
    lam.remove_permission(FunctionName="pol", StatementId="url")
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName="pol", StatementId="url")
    assert error(e) == ("ResourceNotFoundException", "Statement url is not found in resource policy.", 404)
    assert [x["Sid"] for x in json.loads(lam.get_policy(FunctionName="pol")["Policy"])["Statement"]] == ["s3", "acct"]


def test_concurrency_and_account_settings(lam):
    code = make_zip()
    create(lam, "c1", code)
    create(lam, "c2", code)
    assert lam.get_function_concurrency(FunctionName="c1").get("ReservedConcurrentExecutions") is None
    r = lam.put_function_concurrency(FunctionName="c1", ReservedConcurrentExecutions=800)
    assert r["ReservedConcurrentExecutions"] == 800
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="c2", ReservedConcurrentExecutions=101)
    assert error(e) == ("InvalidParameterValueException",
                        "Specified ReservedConcurrentExecutions for function decreases account's "
                        "UnreservedConcurrentExecution below its minimum value of [100].", 400)
    lam.put_function_concurrency(FunctionName="c2", ReservedConcurrentExecutions=100)
    assert lam.get_function(FunctionName="c1")["Concurrency"] == {"ReservedConcurrentExecutions": 800}
    s = lam.get_account_settings()
    assert s["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert s["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    assert s["AccountLimit"]["CodeSizeZipped"] == 52428800 and s["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    assert s["AccountUsage"] == {"TotalCodeSize": 2 * len(code), "FunctionCount": 2}
    lam.delete_function_concurrency(FunctionName="c1")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="c1")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 900


def test_tags(lam):
    create(lam, "tg", Tags={"a": "1"})
    lam.tag_resource(Resource=ARN + "tg", Tags={"b": "2", "a": "3"})
    assert lam.list_tags(Resource=ARN + "tg")["Tags"] == {"a": "3", "b": "2"}
    lam.untag_resource(Resource=ARN + "tg", TagKeys=["a"])
    assert lam.list_tags(Resource=ARN + "tg")["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        lam.list_tags(Resource=ARN + "nobody")
    assert error(e) == ("ResourceNotFoundException", "Function not found: " + ARN + "nobody", 404)


def test_event_invoke_config(lam, nimbus):
    raw = nimbus.client("lambda", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    create(lam, "ev")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="ev")
    assert error(e)[:1] == ("ResourceNotFoundException",) and error(e)[2] == 404
    r = lam.put_function_event_invoke_config(
        FunctionName="ev", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}})
    assert r["FunctionArn"] == ARN + "ev:$LATEST" and r["MaximumRetryAttempts"] == 1
    u = lam.update_function_event_invoke_config(FunctionName="ev", MaximumRetryAttempts=0)
    assert (u["MaximumRetryAttempts"], u["MaximumEventAgeInSeconds"]) == (0, 120)
    assert u["DestinationConfig"]["OnFailure"] == {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    with pytest.raises(ClientError) as e:
        raw.put_function_event_invoke_config(FunctionName="ev", MaximumRetryAttempts=3)
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        raw.put_function_event_invoke_config(FunctionName="ev", MaximumEventAgeInSeconds=59)
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="ev", DestinationConfig={"OnSuccess": {"Destination": "nope"}})
    assert error(e)[0] in ("InvalidParameterValueException", "ValidationException")
    assert len(lam.list_function_event_invoke_configs(FunctionName="ev")["FunctionEventInvokeConfigs"]) == 1
    lam.delete_function_event_invoke_config(FunctionName="ev")
    assert lam.list_function_event_invoke_configs(FunctionName="ev")["FunctionEventInvokeConfigs"] == []


def test_function_urls(lam, nimbus):
    create(lam, "web")
    lam.create_alias(FunctionName="web", Name="prod", FunctionVersion="$LATEST")
    u = lam.create_function_url_config(FunctionName="web", AuthType="NONE",
                                       Cors={"AllowOrigins": ["*"], "AllowMethods": ["GET"]})
    assert u["ResponseMetadata"]["HTTPStatusCode"] == 201
    prefix, rest = u["FunctionUrl"].split(".lambda-url.")
    assert prefix.startswith("http://") and len(prefix) == len("http://") + 32
    assert rest == "us-east-1.localhost:%d/" % nimbus.port
    assert u["FunctionArn"] == ARN + "web"
    modes = {"InvokeMode": "RESPONSE_STREAM"} if BOTO_GEN == "new" else {}
    if modes:
        assert u["InvokeMode"] == "BUFFERED"
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert error(e)[0] == "ResourceConflictException"
    lam.create_function_url_config(FunctionName="web", Qualifier="prod", AuthType="AWS_IAM")
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName="web", Qualifier="1", AuthType="NONE")
    assert error(e)[0] == "ValidationException"
    g = lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM", **modes)
    assert (g["AuthType"], g["FunctionUrl"]) == ("AWS_IAM", u["FunctionUrl"])
    assert g.get("InvokeMode") == modes.get("InvokeMode")
    assert g["Cors"]["AllowOrigins"] == ["*"]
    assert len(lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"]) == 2
    lam.delete_function_url_config(FunctionName="web")
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName="web")
    assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    assert lam.get_function_url_config(FunctionName="web", Qualifier="prod")["AuthType"] == "AWS_IAM"


# ---- layers ------------------------------------------------------------------------------

def test_layers(lam):
    content = make_zip({"python/helper.py": "H = 1\n"})
    l1 = lam.publish_layer_version(LayerName="deps", Content={"ZipFile": content}, Description="one",
                                   CompatibleRuntimes=["python3.12"], LicenseInfo="MIT",
                                   CompatibleArchitectures=["x86_64"])
    assert l1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert l1["Version"] == 1 and l1["LayerVersionArn"] == "arn:aws:lambda:us-east-1:000000000000:layer:deps:1"
    assert l1["Content"]["CodeSha256"] == sha(content) and l1["Content"]["CodeSize"] == len(content)
    with urllib.request.urlopen(l1["Content"]["Location"]) as resp:
        assert resp.read() == content
    l2 = lam.publish_layer_version(LayerName="deps", Content={"ZipFile": make_zip({"python/b.py": ""})},
                                   CompatibleRuntimes=["nodejs20.x"])
    assert l2["Version"] == 2
    assert lam.get_layer_version(LayerName="deps", VersionNumber=1)["LicenseInfo"] == "MIT"
    assert lam.get_layer_version_by_arn(Arn=l2["LayerVersionArn"])["Version"] == 2
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="deps")["LayerVersions"]] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="deps", CompatibleRuntime="python3.12")[
        "LayerVersions"]] == [1]
    layers = lam.list_layers()["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == [("deps", 2)]
    f = create(lam, "with-layer", Layers=[l1["LayerVersionArn"]])
    assert f["Layers"] == [{"Arn": l1["LayerVersionArn"], "CodeSize": len(content)}]
    with pytest.raises(ClientError) as e:
        create(lam, "bad-layer", Layers=[l1["LayerArn"] + ":9"])
    assert error(e) == ("InvalidParameterValueException", "Layer version %s:9 does not exist." % l1["LayerArn"], 400)
    with pytest.raises(ClientError) as e:
        create(lam, "bad-layer", Layers=["deps:1"])
    assert error(e)[0] == "ValidationException" and "Value '[deps:1]' at 'layers'" in error(e)[1]
    p = lam.add_layer_version_permission(LayerName="deps", VersionNumber=1, StatementId="all",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert json.loads(p["Statement"])["Principal"] == "*"
    pol = lam.get_layer_version_policy(LayerName="deps", VersionNumber=1)
    assert json.loads(pol["Policy"])["Statement"][0]["Resource"] == l1["LayerVersionArn"]
    lam.remove_layer_version_permission(LayerName="deps", VersionNumber=1, StatementId="all")
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_policy(LayerName="deps", VersionNumber=1)
    assert error(e)[0] == "ResourceNotFoundException"
    lam.delete_layer_version(LayerName="deps", VersionNumber=1)
    lam.delete_layer_version(LayerName="deps", VersionNumber=1)  # idempotent
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="deps", VersionNumber=1)
    assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    # The function keeps the deleted version's content.
    assert lam.get_function_configuration(FunctionName="with-layer")["Layers"][0]["Arn"] == l1["LayerVersionArn"]
    assert lam.publish_layer_version(LayerName="deps", Content={"ZipFile": content})["Version"] == 3


# ---- event source mappings ------------------------------------------------------------------

def test_event_source_mappings(lam, client):
    sqs = client("sqs")
    q = sqs.create_queue(QueueName="work")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ddb = client("dynamodb")
    t = ddb.create_table(TableName="tbl", AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    stream = t["TableDescription"]["LatestStreamArn"]
    create(lam, "consumer")
    scaling = {"ScalingConfig": {"MaximumConcurrency": 5}} if BOTO_GEN == "new" else {}
    m = lam.create_event_source_mapping(EventSourceArn=qarn, FunctionName="consumer", BatchSize=5,
                                        FilterCriteria={"Filters": [{"Pattern": '{"body": {"x": [1]}}'}]},
                                        FunctionResponseTypes=["ReportBatchItemFailures"], **scaling)
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202 and m["State"] == "Creating"
    assert m["FunctionArn"] == ARN + "consumer" and m["BatchSize"] == 5
    got = lam.get_event_source_mapping(UUID=m["UUID"])
    assert got["State"] == "Enabled" and got["StateTransitionReason"] == "USER_INITIATED"
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"x": [1]}}'}]}
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got.get("ScalingConfig") == scaling.get("ScalingConfig")
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=qarn, FunctionName="consumer")
    assert error(e)[0] == "ResourceConflictException" and m["UUID"] in error(e)[1]
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=qarn.replace("work", "nope"), FunctionName="consumer")
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="consumer")
    assert error(e) == ("InvalidParameterValueException",
                        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                        "Member must not be null.", 400)
    with pytest.raises(ClientError) as e:
        lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=50)
    assert error(e) == ("InvalidParameterValueException",
                        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater "
                        "than 10", 400)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=qarn, FunctionName="consumer", StartingPosition="LATEST")
    assert error(e) == ("InvalidParameterValueException", "StartingPosition is not valid for SQS event sources.", 400)
    s = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="consumer", StartingPosition="LATEST",
                                        Enabled=False, MaximumRetryAttempts=2, BisectBatchOnFunctionError=True)
    assert (s["BatchSize"], s["MaximumRetryAttempts"], s["BisectBatchOnFunctionError"]) == (100, 2, True)
    got = lam.get_event_source_mapping(UUID=s["UUID"])
    assert (got["State"], got["StateTransitionReason"], got["StartingPosition"]) == ("Disabled", "User action", "LATEST")
    u = lam.update_event_source_mapping(UUID=s["UUID"], Enabled=True, BatchSize=200)
    assert u["State"] == "Updating"
    assert lam.get_event_source_mapping(UUID=s["UUID"])["State"] == "Enabled"
    assert len(lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]) == 2
    assert [x["UUID"] for x in lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]] == [s["UUID"]]
    if BOTO_GEN == "new":  # mapping ARNs and tags are newer than boto3 1.26
        lam.tag_resource(Resource=m["EventSourceMappingArn"], Tags={"team": "core"})
        assert lam.list_tags(Resource=m["EventSourceMappingArn"])["Tags"] == {"team": "core"}
        assert "Tags" not in lam.get_event_source_mapping(UUID=m["UUID"])
    d = lam.delete_event_source_mapping(UUID=m["UUID"])
    assert d["State"] == "Deleting"
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=m["UUID"])
    assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)


# ---- newer APIs, unknown operations, the CLI, durability ------------------------------------------------

@pytest.mark.skipif(BOTO_GEN != "new", reason="recursion and runtime management APIs are newer than boto3 1.26")
def test_recursion_and_runtime_management(lam):
    create(lam, "rec")
    assert lam.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName="rec", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"] == "Allow"
    rm = lam.get_runtime_management_config(FunctionName="rec")
    assert rm["UpdateRuntimeOn"] == "Auto" and rm["FunctionArn"] == ARN + "rec:$LATEST"
    lam.put_runtime_management_config(FunctionName="rec", UpdateRuntimeOn="FunctionUpdate")
    assert lam.get_runtime_management_config(FunctionName="rec")["UpdateRuntimeOn"] == "FunctionUpdate"


def test_code_signing_configs(lam):
    c = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/v1"]})
    arn = c["CodeSigningConfig"]["CodeSigningConfigArn"]
    lam.tag_resource(Resource=arn, Tags={"k": "v"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"k": "v"}
    assert c["CodeSigningConfig"]["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    create(lam, "signed")
    assert lam.get_function_code_signing_config(FunctionName="signed")["CodeSigningConfigArn"] == ""
    lam.put_function_code_signing_config(FunctionName="signed", CodeSigningConfigArn=arn)
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [ARN + "signed"]
    with pytest.raises(ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert error(e)[0] == "ResourceConflictException"
    lam.delete_function_code_signing_config(FunctionName="signed")
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert lam.list_code_signing_configs()["CodeSigningConfigs"] == []


def test_out_of_scope_operations_are_unknown(lam):
    create(lam, "pc")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="pc", Qualifier="1")
    assert error(e)[0] == "UnknownOperationException"


def test_cli(aws_cli, tmp_path):
    zpath = tmp_path / "fn.zip"
    zpath.write_bytes(make_zip())

    def aws(*args, ok=True):
        return aws_cli("lambda", *args, ok=ok)

    c = aws("create-function", "--function-name", "cli-fn", "--runtime", "python3.12", "--handler", "index.handler",
            "--role", ROLE, "--zip-file", "fileb://" + str(zpath))
    assert c["FunctionName"] == "cli-fn" and c["CodeSha256"] == sha(zpath.read_bytes())
    aws("wait", "function-active-v2", "--function-name", "cli-fn")
    assert aws("get-function", "--function-name", "cli-fn")["Configuration"]["State"] == "Active"
    assert [f["FunctionName"] for f in aws("list-functions")["Functions"]] == ["cli-fn"]
    p = aws("get-function", "--function-name", "missing", ok=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr
    aws("delete-function", "--function-name", "cli-fn")
    assert aws("list-functions")["Functions"] == []


def test_functions_survive_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    lam = n.client("lambda")
    code = make_zip()
    create(lam, "durable", code, Publish=True)
    lam.create_alias(FunctionName="durable", Name="live", FunctionVersion="1")
    n.restart()
    lam = n.client("lambda")
    g = lam.get_function(FunctionName="durable", Qualifier="live")
    assert g["Configuration"]["Version"] == "1" and g["Configuration"]["CodeSha256"] == sha(code)
    with urllib.request.urlopen(g["Code"]["Location"]) as resp:
        assert resp.read() == code


def test_unzipped_size_limit(lam):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * (262144000 + 1))
    with pytest.raises(ClientError) as e:
        create(lam, "huge", buf.getvalue())
    assert error(e) == ("InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes", 400)
    assert lam.list_functions()["Functions"] == []


def test_zipped_size_limit(nimbus_fresh):
    # The default --max-body-size (64 MiB) refuses such a request before
    # Lambda sees it; with a larger one Lambda answers AWS's 50 MB limit.
    n = nimbus_fresh(extra=["--max-body-size", "100000000"])
    lam = n.client("lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("random.bin", os.urandom(50 * 1024 * 1024))
    with pytest.raises(ClientError) as e:
        create(lam, "big", buf.getvalue())
    assert error(e) == ("RequestEntityTooLargeException",
                        "Request must be smaller than 69905067 bytes for the CreateFunction operation", 413)
