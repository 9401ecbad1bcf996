"""Terraform with the AWS provider the machine mirrors locally, against the
real binary: apply, a plan that finds nothing to change (what nimbus reads
back matches what was written), and destroy.  Runs once per suite, with the
current boto3 generation; skipped where terraform or the provider is absent."""
import base64
import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile

import pytest

from conftest import BOTO_GEN

HERE = os.path.dirname(os.path.abspath(__file__))
MIRRORS = [d for d in glob.glob("/opt/tf-plugins") + glob.glob("/usr/share/terraform/plugins")
           if glob.glob(os.path.join(d, "registry.terraform.io/hashicorp/aws/*"))]

pytestmark = [
    pytest.mark.skipif(BOTO_GEN != "new", reason="run once, with the current boto3"),
    pytest.mark.skipif(not shutil.which("terraform") or not MIRRORS,
                       reason="terraform or its locally mirrored AWS provider is not installed"),
]


def tf(workdir, env, *args, timeout=300):
    out = subprocess.run(["terraform", *args], cwd=workdir, env=env, capture_output=True, text=True,
                         timeout=timeout)
    return out


def setup_workdir(nimbus, tmp_path, config, files=None):
    work = tmp_path / "tf"
    shutil.copytree(os.path.join(HERE, "terraform", config), work)
    for name, data in (files or {}).items():
        (work / name).write_bytes(data)
    rc = tmp_path / "terraformrc"
    rc.write_text('provider_installation {\n  filesystem_mirror {\n    path = "%s"\n'
                  '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
                  '  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }\n}\n' % MIRRORS[0])
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    var = ["-var", f"endpoint={nimbus.endpoint}"]
    r = tf(work, env, "init", "-input=false", "-no-color")
    assert r.returncode == 0, r.stdout + r.stderr
    r = tf(work, env, "apply", "-auto-approve", "-input=false", "-no-color", *var)
    assert r.returncode == 0, r.stdout + r.stderr
    return work, env, var


def test_sqs_apply_plan_destroy(nimbus, tmp_path):
    nimbus.reset()
    work, env, var = setup_workdir(nimbus, tmp_path, "sqs")
    outputs = json.loads(tf(work, env, "output", "-json").stdout)
    assert outputs["arn"]["value"] == "arn:aws:sqs:us-east-1:000000000000:orders"

    sqs = nimbus.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45" and attrs["DelaySeconds"] == "2"
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:orders-dlq", "maxReceiveCount": 3}
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core"}
    fifo = sqs.get_queue_url(QueueName="events.fifo")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ContentBasedDeduplication"])[
        "Attributes"]["ContentBasedDeduplication"] == "true"

    r = tf(work, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", *var)
    assert r.returncode == 0, "plan after apply wants changes:\n" + r.stdout + r.stderr

    r = tf(work, env, "destroy", "-auto-approve", "-input=false", "-no-color", *var)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_dynamodb_apply_plan_destroy(nimbus, tmp_path):
    nimbus.reset()
    work, env, var = setup_workdir(nimbus, tmp_path, "dynamodb")
    outputs = json.loads(tf(work, env, "output", "-json").stdout)
    assert outputs["arn"]["value"] == "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
    assert outputs["stream_arn"]["value"].startswith(outputs["arn"]["value"] + "/stream/")

    ddb = nimbus.client("dynamodb")
    t = ddb.describe_table(TableName="orders")["Table"]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["GlobalSecondaryIndexes"][0]["IndexName"] == "by-status"
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    pitr = ddb.describe_continuous_backups(TableName="orders")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"] == [{"Key": "team", "Value": "core"}]
    c = ddb.describe_table(TableName="counters")["Table"]["ProvisionedThroughput"]
    assert (c["ReadCapacityUnits"], c["WriteCapacityUnits"]) == (5, 3)
    assert ddb.get_item(TableName="counters", Key={"id": {"S": "visits"}})["Item"]["n"] == {"N": "0"}

    r = tf(work, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", *var)
    assert r.returncode == 0, "plan after apply wants changes:\n" + r.stdout + r.stderr

    r = tf(work, env, "destroy", "-auto-approve", "-input=false", "-no-color", *var)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ddb.list_tables()["TableNames"] == []


def test_lambda_function_alias_permission_mapping(nimbus, tmp_path):
    nimbus.reset()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "import os\ndef handler(event, context):\n"
                   "    return {'ok': True, 'input': event, 'stage': os.environ['STAGE'],\n"
                   "            'version': context.function_version}\n")
    code = buf.getvalue()
    work, env, var = setup_workdir(nimbus, tmp_path, "lambda", {"fn.zip": code})
    outputs = json.loads(tf(work, env, "output", "-json").stdout)
    assert outputs["arn"]["value"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert outputs["version"]["value"] == "1"
    assert outputs["alias_arn"]["value"] == outputs["arn"]["value"] + ":live"
    # aws_lambda_invocation (resource and data source) runs the function.
    assert outputs["seed_result"]["value"] == {"ok": True, "input": {"action": "seed", "n": 3},
                                               "stage": "test", "version": "1"}
    assert outputs["probe_result"]["value"] == {"ok": True, "input": {"action": "probe"},
                                                "stage": "test", "version": "$LATEST"}

    lam = nimbus.client("lambda")
    fn = lam.get_function(FunctionName="hello")
    conf = fn["Configuration"]
    assert (conf["Runtime"], conf["MemorySize"], conf["Timeout"]) == ("python3.12", 256, 10)
    assert conf["Environment"]["Variables"] == {"STAGE": "test"}
    assert conf["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert fn["Tags"] == {"team": "core"}
    assert lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "1"
    policy = json.loads(lam.get_policy(FunctionName="hello", Qualifier="live")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["AllowS3"]
    assert policy["Statement"][0]["Condition"] == {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}
    m = lam.get_event_source_mapping(UUID=outputs["mapping_uuid"]["value"])
    assert (m["State"], m["BatchSize"], m["FunctionArn"]) == ("Enabled", 5, outputs["alias_arn"]["value"])
    assert m["EventSourceArn"] == "arn:aws:sqs:us-east-1:000000000000:jobs"

    r = tf(work, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", *var)
    assert r.returncode == 0, "plan after apply wants changes:\n" + r.stdout + r.stderr

    r = tf(work, env, "destroy", "-auto-approve", "-input=false", "-no-color", *var)
    assert r.returncode == 0, r.stdout + r.stderr
    assert lam.list_functions()["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_sns_and_eventbridge_fan_out(nimbus, tmp_path):
    nimbus.reset()
    work, env, var = setup_workdir(nimbus, tmp_path, "fanout")
    out = {k: v["value"] for k, v in json.loads(tf(work, env, "output", "-json").stdout).items()}
    assert out["topic_arn"] == "arn:aws:sns:us-east-1:000000000000:tf-orders"
    assert out["subscription_arn"].startswith(out["topic_arn"] + ":")
    assert out["bus_arn"] == "arn:aws:events:us-east-1:000000000000:event-bus/tf-shop"
    assert out["rule_arn"] == "arn:aws:events:us-east-1:000000000000:rule/tf-shop/tf-order-placed"

    sns, sqs, events = nimbus.client("sns"), nimbus.client("sqs"), nimbus.client("events")
    attrs = sns.get_topic_attributes(TopicArn=out["topic_arn"])["Attributes"]
    assert attrs["DisplayName"] == "Orders"
    assert sns.list_tags_for_resource(ResourceArn=out["topic_arn"])["Tags"] == [
        {"Key": "team", "Value": "core"}]
    sub = sns.get_subscription_attributes(SubscriptionArn=out["subscription_arn"])["Attributes"]
    assert sub["RawMessageDelivery"] == "true"
    assert json.loads(sub["FilterPolicy"]) == {"amount": [{"numeric": [">=", 100]}]}
    # What Terraform built delivers: the filter lets the big order through.
    for amount in (5, 250):
        sns.publish(TopicArn=out["topic_arn"], Message=f"order of {amount}",
                    MessageAttributes={"amount": {"DataType": "Number",
                                                  "StringValue": str(amount)}})
    got = sqs.receive_message(QueueUrl=out["orders_url"], WaitTimeSeconds=2,
                              MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in got] == ["order of 250"]

    assert events.describe_rule(Name="tf-tick")["State"] == "DISABLED"
    r = events.put_events(Entries=[{"EventBusName": "tf-shop", "Source": "shop",
                                    "DetailType": "OrderPlaced", "Detail": '{"id": 7}'}])
    assert r["FailedEntryCount"] == 0
    got = sqs.receive_message(QueueUrl=out["events_url"], WaitTimeSeconds=2).get("Messages", [])
    assert [json.loads(m["Body"]) for m in got] == [{"id": 7}]

    r = tf(work, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", *var)
    assert r.returncode == 0, "plan after apply wants changes:\n" + r.stdout + r.stderr

    r = tf(work, env, "destroy", "-auto-approve", "-input=false", "-no-color", *var)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sns.list_topics()["Topics"] == []
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]
    assert events.list_rules()["Rules"] == []


def test_http_apis_from_resources_and_from_openapi(nimbus, tmp_path):
    import http.client
    nimbus.reset()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "import json\ndef handler(event, context):\n"
                   "    return {'statusCode': 200, 'body': json.dumps({'route': event['routeKey'],"
                   " 'params': event.get('pathParameters')})}\n")
    work, env, var = setup_workdir(nimbus, tmp_path, "apigw", {"fn.zip": buf.getvalue()})
    out = {k: v["value"] for k, v in json.loads(tf(work, env, "output", "-json").stdout).items()}
    gw = nimbus.client("apigatewayv2")
    assert gw.get_api(ApiId=out["built_id"])["Tags"] == {"team": "core"}
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=out["imported_id"])["Items"]] == ["GET /hello"]

    def get(api, path):
        c = http.client.HTTPConnection("127.0.0.1", nimbus.port, timeout=30)
        c.request("GET", path, headers={"Host": f"{api}.execute-api.localhost:{nimbus.port}"})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, json.loads(body)

    assert get(out["built_id"], "/items/9") == (200, {"route": "GET /items/{id}",
                                                      "params": {"id": "9"}})
    assert get(out["imported_id"], "/hello") == (200, {"route": "GET /hello", "params": None})

    r = tf(work, env, "plan", "-detailed-exitcode", "-input=false", "-no-color", *var)
    assert r.returncode == 0, "plan after apply wants changes:\n" + r.stdout + r.stderr

    r = tf(work, env, "destroy", "-auto-approve", "-input=false", "-no-color", *var)
    assert r.returncode == 0, r.stdout + r.stderr
    assert gw.get_apis()["Items"] == []
