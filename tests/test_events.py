"""EventBridge: buses, permissions, rules, targets, tags, TestEventPattern,
PutEvents and delivery to SQS, Lambda, another bus and CloudWatch Logs,
Input/InputPath/InputTransformer, dead-letter queues and durability."""
import json
import os
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import BOTO_GEN
from test_lambda_invoke import make_fn

ACCOUNT = "000000000000"
REGION = "us-east-1"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def err(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n=1, wait=5, attrs=False):
    got = []
    deadline = time.time() + wait
    while len(got) < n and time.time() < deadline:
        kw = {"MessageAttributeNames": ["All"]} if attrs else {}
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kw)
        got += r.get("Messages", [])
    return got


def rule_to_queue(events, sqs, rule="r1", pattern=None, bus=None, qname="q1", **target):
    url, arn = queue(sqs, qname)
    kw = {"EventBusName": bus} if bus else {}
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern or {"source": ["my.app"]}), **kw)
    t = {"Id": "t1", "Arn": arn}
    t.update(target)
    r = events.put_targets(Rule=rule, Targets=[t], **kw)
    assert r["FailedEntryCount"] == 0
    return url, arn


# ---- buses ------------------------------------------------------------------

def test_buses_create_describe_list_delete(events):
    d = events.describe_event_bus()
    assert d["Name"] == "default"
    assert d["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    kw = {"Description": "o"} if BOTO_GEN == "new" else {}
    r = events.create_event_bus(Name="orders", **kw)
    assert r["EventBusArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders"
    with pytest.raises(ClientError) as e:
        events.create_event_bus(Name="orders")
    assert err(e) == ("ResourceAlreadyExistsException", "Event bus orders already exists.")
    for n in ("b1", "b2", "b3"):
        events.create_event_bus(Name=n)
    d = events.describe_event_bus(Name=r["EventBusArn"])
    assert d["Name"] == "orders" and d.get("Description") == kw.get("Description")
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert names == ["b1", "b2", "b3", "default", "orders"]
    page = events.list_event_buses(NamePrefix="b", Limit=2)
    assert [b["Name"] for b in page["EventBuses"]] == ["b1", "b2"]
    page2 = events.list_event_buses(NamePrefix="b", Limit=2, NextToken=page["NextToken"])
    assert [b["Name"] for b in page2["EventBuses"]] == ["b3"] and "NextToken" not in page2
    events.delete_event_bus(Name="orders")
    events.delete_event_bus(Name="orders")  # idempotent
    with pytest.raises(ClientError) as e:
        events.describe_event_bus(Name="orders")
    assert err(e) == ("ResourceNotFoundException", "Event bus orders does not exist.")
    with pytest.raises(ClientError) as e:
        events.delete_event_bus(Name="default")
    assert err(e) == ("ValidationException", "Cannot delete event bus default.")
    with pytest.raises(ClientError) as e:
        events.create_event_bus(Name="bad name")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        events.list_event_buses(NextToken="garbage")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_permissions(events):
    events.put_permission(Action="events:PutEvents", Principal="111122223333", StatementId="s1")
    events.put_permission(Action="events:PutEvents", Principal="*", StatementId="s2",
                          Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-1"})
    pol = json.loads(events.describe_event_bus()["Policy"])
    assert pol["Version"] == "2012-10-17"
    s1, s2 = pol["Statement"]
    assert s1 == {"Sid": "s1", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                  "Action": "events:PutEvents",
                  "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"}
    assert s2["Principal"] == "*" and s2["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}
    events.remove_permission(StatementId="s1")
    assert [s["Sid"] for s in json.loads(events.describe_event_bus()["Policy"])["Statement"]] == ["s2"]
    with pytest.raises(ClientError) as e:
        events.remove_permission(StatementId="nope")
    assert err(e) == ("ResourceNotFoundException", "Statement with the provided id does not exist.")
    events.remove_permission(RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus()
    with pytest.raises(ClientError) as e:
        events.remove_permission(StatementId="s2")
    assert err(e) == ("ResourceNotFoundException", "EventBus does not have a policy.")
    with pytest.raises(ClientError) as e:
        events.put_permission(Action="events:DeleteRule", Principal="111122223333", StatementId="x")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        events.put_permission(Policy="{not json")
    assert err(e) == ("ValidationException", "This policy contains invalid Json")
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "p", "Effect": "Allow", "Principal": "*",
                                                       "Action": "events:PutEvents", "Resource": "*"}]}
    events.put_permission(Policy=json.dumps(policy))
    assert json.loads(events.describe_event_bus()["Policy"]) == policy
    with pytest.raises(ClientError) as e:
        events.put_permission(EventBusName="missing", Action="events:PutEvents", Principal="*",
                              StatementId="x")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


# ---- rules ------------------------------------------------------------------

def test_rules_crud_and_errors(events):
    arn = events.put_rule(Name="r1", EventPattern='{"source": ["a"]}', Description="d",
                          RoleArn="arn:aws:iam::000000000000:role/x")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r1"
    d = events.describe_rule(Name="r1")
    assert d["Name"] == "r1" and d["Arn"] == arn and d["State"] == "ENABLED"
    assert d["EventPattern"] == '{"source": ["a"]}' and d["Description"] == "d"
    assert d["EventBusName"] == "default" and d["RoleArn"].endswith("role/x")
    events.disable_rule(Name="r1")
    assert events.describe_rule(Name="r1")["State"] == "DISABLED"
    events.enable_rule(Name="r1")
    assert events.describe_rule(Name="r1")["State"] == "ENABLED"
    # PutRule replaces the rule
    events.put_rule(Name="r1", EventPattern='{"source": ["b"]}', State="DISABLED")
    d = events.describe_rule(Name="r1")
    assert d["EventPattern"] == '{"source": ["b"]}' and d["State"] == "DISABLED" and "Description" not in d
    events.create_event_bus(Name="custom")
    carn = events.put_rule(Name="r1", EventPattern='{"source": ["c"]}', EventBusName="custom")["RuleArn"]
    assert carn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/custom/r1"
    for n in ("ra", "rb", "rc"):
        events.put_rule(Name=n, ScheduleExpression="rate(5 minutes)")
    names = [r["Name"] for r in events.list_rules()["Rules"]]
    assert names == ["r1", "ra", "rb", "rc"]
    page = events.list_rules(NamePrefix="r", Limit=3)
    assert len(page["Rules"]) == 3 and page["NextToken"]
    assert [r["Name"] for r in events.list_rules(NamePrefix="r", Limit=3,
                                                 NextToken=page["NextToken"])["Rules"]] == ["rc"]
    assert [r["Name"] for r in events.list_rules(EventBusName="custom")["Rules"]] == ["r1"]
    assert events.list_rules(NamePrefix="ra")["Rules"][0]["ScheduleExpression"] == "rate(5 minutes)"

    def fails(code, msg=None, **kw):
        with pytest.raises(ClientError) as e:
            events.put_rule(**kw)
        assert e.value.response["Error"]["Code"] == code
        if msg:
            assert e.value.response["Error"]["Message"] == msg
        return e.value.response["Error"]["Message"]

    fails("ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.", Name="x")
    m = fails("InvalidEventPatternException", Name="x", EventPattern='{"source": "notalist"}')
    assert m.startswith("Event pattern is not valid. Reason: ")
    fails("InvalidEventPatternException", Name="x", EventPattern='{bad json')
    fails("InvalidEventPatternException", Name="x", EventPattern='{"a": [{"unknown-op": 1}]}')
    for bad in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(* * * * * *)",
                "cron(0 12 * * ? )", "every day", "cron(0 25 * * ? *)", "cron(0 12 ? * ? *)"):
        fails("ValidationException", "Parameter ScheduleExpression is not valid.", Name="x",
              ScheduleExpression=bad)
    fails("ValidationException", "ScheduleExpression is supported only on the default event bus.",
          Name="x", ScheduleExpression="rate(1 hour)", EventBusName="custom")
    fails("ResourceNotFoundException", "Event bus nope does not exist.", Name="x",
          EventPattern='{"source": ["a"]}', EventBusName="nope")
    fails("ValidationException", Name="bad name", EventPattern='{"source": ["a"]}')
    with pytest.raises(ClientError) as e:
        events.describe_rule(Name="missing")
    assert err(e) == ("ResourceNotFoundException", "Rule missing does not exist on EventBus default.")
    with pytest.raises(ClientError) as e:
        events.enable_rule(Name="missing", EventBusName="custom")
    assert err(e) == ("ResourceNotFoundException", "Rule missing does not exist on EventBus custom.")
    events.delete_rule(Name="missing")  # idempotent
    events.delete_rule(Name="ra")
    assert "ra" not in [r["Name"] for r in events.list_rules()["Rules"]]


def test_valid_schedules_accepted(events):
    for expr in ("rate(1 minute)", "rate(2 hours)", "rate(1 day)", "cron(0 12 * * ? *)",
                 "cron(15 10 ? * 6L 2030-2040)", "cron(0/15 * * * ? *)", "cron(0 8 1W * ? *)",
                 "cron(0 9 ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(0 10 ? * 2#3 *)",
                 "cron(0,30 1-5 ? JAN,JUL SUN *)"):
        events.put_rule(Name="s", ScheduleExpression=expr)
        assert events.describe_rule(Name="s")["ScheduleExpression"] == expr


def test_targets_crud_limits_and_validation(events, sqs):
    _, qarn = queue(sqs, "tq")
    events.put_rule(Name="r", EventPattern='{"source": ["a"]}')
    ts = [{"Id": f"t{i}", "Arn": qarn} for i in range(5)]
    assert events.put_targets(Rule="r", Targets=ts)["FailedEntryCount"] == 0
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="r")["Targets"]] == [f"t{i}" for i in range(5)]
    page = events.list_targets_by_rule(Rule="r", Limit=2)
    assert len(page["Targets"]) == 2 and page["NextToken"]
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="r", Targets=[{"Id": "t5", "Arn": qarn}])
    assert err(e) == ("LimitExceededException", "The requested resource exceeds the maximum number allowed.")
    assert len(events.list_targets_by_rule(Rule="r")["Targets"]) == 5  # unchanged
    events.put_targets(Rule="r", Targets=[{"Id": "t0", "Arn": qarn, "Input": '{"x": 1}'}])  # update
    assert events.list_targets_by_rule(Rule="r")["Targets"][0]["Input"] == '{"x": 1}'
    assert events.list_rule_names_by_target(TargetArn=qarn)["RuleNames"] == ["r"]
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name="r")
    assert err(e) == ("ValidationException", "Rule can't be deleted since it has targets.")
    r = events.remove_targets(Rule="r", Ids=[f"t{i}" for i in range(5)] + ["nope"])
    assert r["FailedEntryCount"] == 1
    assert r["FailedEntries"] == [{"TargetId": "nope", "ErrorCode": "ResourceNotFoundException",
                                   "ErrorMessage": "Rule 'r' does not have a target with the Id 'nope'."}]
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []
    assert events.list_rule_names_by_target(TargetArn=qarn)["RuleNames"] == []
    events.delete_rule(Name="r")
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="r", Targets=[{"Id": "a", "Arn": qarn}])
    assert err(e) == ("ResourceNotFoundException", "Rule r does not exist on EventBus default.")

    events.put_rule(Name="v", EventPattern='{"source": ["a"]}')

    def bad(target, code="ValidationException"):
        with pytest.raises(ClientError) as e:
            events.put_targets(Rule="v", Targets=[target])
        assert e.value.response["Error"]["Code"] == code
        return e.value.response["Error"]["Message"]

    # per-entry failures: the other targets of the call are stored
    r = events.put_targets(Rule="v", Targets=[{"Id": "a", "Arn": "not-an-arn"}, {"Id": "bad id", "Arn": qarn},
                                              {"Id": "ok", "Arn": qarn}])
    assert r["FailedEntryCount"] == 2
    assert r["FailedEntries"][0] == {
        "TargetId": "a", "ErrorCode": "ValidationException",
        "ErrorMessage": "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format."}
    assert r["FailedEntries"][1] == {
        "TargetId": "bad id", "ErrorCode": "ValidationException",
        "ErrorMessage": "Value 'bad id' at 'targets.2.member.id' failed to satisfy constraint: "
                        "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"}
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="v")["Targets"]] == ["ok"]
    events.remove_targets(Rule="v", Ids=["ok"])
    bad({"Id": "a", "Arn": qarn, "Input": "{not json"})
    bad({"Id": "a", "Arn": qarn, "Input": "{}", "InputPath": "$.detail"})
    bad({"Id": "a", "Arn": qarn, "InputPath": "detail"})
    m = bad({"Id": "a", "Arn": qarn, "InputTransformer": {"InputPathsMap": {"x": "$.detail"},
                                                          "InputTemplate": '{"a": <y>}'}})
    assert m == "InputTemplate for target a contains invalid placeholder y."
    bad({"Id": "a", "Arn": qarn, "InputTransformer": {"InputPathsMap": {"x": "bad"},
                                                      "InputTemplate": '"<x>"'}})
    bad({"Id": "a", "Arn": qarn, "InputTransformer": {"InputTemplate": '{"a": <aws.events.rule-name>'}})
    bad({"Id": "a", "Arn": qarn, "InputTransformer": {"InputPathsMap": {"x": "$.a"},
                                                      "InputTemplate": '{<x>: 1}'}})
    _, farn = queue(sqs, "f.fifo", FifoQueue="true")
    r = events.put_targets(Rule="v", Targets=[{"Id": "a", "Arn": farn}])
    assert r["FailedEntryCount"] == 1 and r["FailedEntries"][0]["ErrorMessage"] == \
        "Parameter(s) SqsParameters must be specified for target: a."
    bad({"Id": "a", "Arn": qarn, "DeadLetterConfig": {"Arn": "arn:aws:lambda:us-east-1:000000000000:function:f"}})
    bad({"Id": "a", "Arn": qarn, "RetryPolicy": {"MaximumRetryAttempts": 186}})
    assert events.list_targets_by_rule(Rule="v")["Targets"] == []


def test_tags(events):
    arn = events.put_rule(Name="r", EventPattern='{"source": ["a"]}', Tags=[{"Key": "k", "Value": "v"}])["RuleArn"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "k", "Value": "w"}])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "a", "Value": "1"},
                                                                      {"Key": "k", "Value": "w"}]
    with pytest.raises(ClientError) as e:
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}])
    assert err(e) == ("ValidationException", "Invalid parameter: Duplicated keys are not allowed.")
    events.untag_resource(ResourceARN=arn, TagKeys=["k"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    barn = events.create_event_bus(Name="tb", Tags=[{"Key": "x", "Value": "y"}])["EventBusArn"]
    assert events.list_tags_for_resource(ResourceARN=barn)["Tags"] == [{"Key": "x", "Value": "y"}]
    with pytest.raises(ClientError) as e:
        events.list_tags_for_resource(ResourceARN=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nope")
    assert err(e) == ("ResourceNotFoundException", "Rule nope does not exist on EventBus default.")
    with pytest.raises(ClientError) as e:
        events.tag_resource(ResourceARN=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/nope",
                            Tags=[{"Key": "a", "Value": "b"}])
    assert err(e) == ("ResourceNotFoundException", "Event bus nope does not exist.")


def test_test_event_pattern(events):
    ev = {"id": "1", "account": ACCOUNT, "source": "my.app", "time": "2024-01-01T00:00:00Z",
          "region": REGION, "resources": [], "detail-type": "t", "detail": {"n": 5, "s": "abc"}}
    tp = lambda p: events.test_event_pattern(EventPattern=json.dumps(p), Event=json.dumps(ev))["Result"]
    assert tp({"source": ["my.app"]}) is True
    assert tp({"source": ["other"]}) is False
    assert tp({"detail": {"n": [{"numeric": [">", 3]}]}}) is True
    assert tp({"detail": {"s": [{"prefix": "ab"}]}, "source": [{"wildcard": "my.*"}]}) is True
    assert tp({"detail": {"s": [{"anything-but": ["abc"]}]}}) is False
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": 1}', Event=json.dumps(ev))
    assert e.value.response["Error"]["Code"] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": ["a"]}', Event='{"source": "a"}')
    assert err(e) == ("ValidationException", "Parameter Event is not valid.")
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": ["a"]}', Event='not json')
    assert e.value.response["Error"]["Code"] == "ValidationException"


# ---- PutEvents ----------------------------------------------------------------

def test_put_events_entry_errors_and_limits(events):
    r = events.put_events(Entries=[
        {"Source": "a", "DetailType": "t", "Detail": "{}"},
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "a", "Detail": "{}"},
        {"Source": "a", "DetailType": "t"},
        {"Source": "a", "DetailType": "t", "Detail": "[1, 2]"},
        {"Source": "a", "DetailType": "t", "Detail": "{bad"},
        {"Source": "a", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
    ])
    assert r["FailedEntryCount"] == 5
    e = r["Entries"]
    assert UUID.match(e[0]["EventId"])
    assert e[1] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert e[2]["ErrorCode"] == "InvalidArgument" and "DetailType" in e[2]["ErrorMessage"]
    assert e[3]["ErrorCode"] == "InvalidArgument" and "Detail is a required" in e[3]["ErrorMessage"]
    assert e[4] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert e[5] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    # AWS accepts (and drops) an event for a bus that does not exist
    assert UUID.match(e[6]["EventId"]) and "ErrorCode" not in e[6]
    with pytest.raises(ClientError) as x:
        events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": "{}"}] * 11)
    assert x.value.response["Error"]["Code"] == "ValidationException"
    big = json.dumps({"x": "y" * (128 * 1024)})
    with pytest.raises(ClientError) as x:
        events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": big}] * 2)
    assert err(x) == ("ValidationException", "Total size of the entries in the request is over the limit.")
    # exactly at the limit is accepted: 262144 bytes as AWS counts them
    detail = json.dumps({"x": ""})
    pad = 256 * 1024 - len("a") - len("t") - 14 - len(detail)
    detail = json.dumps({"x": "y" * pad})
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": detail, "Time": 1700000000}])
    assert r["FailedEntryCount"] == 0


def test_delivery_to_sqs_envelope_exact(events, sqs):
    url, qarn = rule_to_queue(events, sqs, pattern={"source": ["my.app"], "detail": {"n": [{"numeric": [">", 1]}]}})
    r = events.put_events(Entries=[
        {"Source": "my.app", "DetailType": "Order Placed", "Detail": json.dumps({"n": 2, "s": "x"}),
         "Resources": ["arn:aws:s3:::b"], "Time": 1700000000},
        {"Source": "my.app", "DetailType": "Order Placed", "Detail": json.dumps({"n": 0})},
        {"Source": "other", "DetailType": "Order Placed", "Detail": json.dumps({"n": 5})},
    ])
    assert r["FailedEntryCount"] == 0
    msgs = receive(sqs, url)
    assert len(msgs) == 1
    body = json.loads(msgs[0]["Body"])
    assert list(body) == ["version", "id", "detail-type", "source", "account", "time", "region",
                          "resources", "detail"]
    assert body == {"version": "0", "id": r["Entries"][0]["EventId"], "detail-type": "Order Placed",
                    "source": "my.app", "account": ACCOUNT, "time": "2023-11-14T22:13:20Z",
                    "region": REGION, "resources": ["arn:aws:s3:::b"], "detail": {"n": 2, "s": "x"}}
    assert receive(sqs, url, wait=1.5) == []
    # disabled rules do not match
    events.disable_rule(Name="r1")
    events.put_events(Entries=[{"Source": "my.app", "DetailType": "t", "Detail": '{"n": 9}'}])
    assert receive(sqs, url, wait=1.5) == []


def test_delivery_to_fifo_queue(events, sqs):
    url, arn = queue(sqs, "ev.fifo", FifoQueue="true")
    events.put_rule(Name="f", EventPattern='{"source": ["a"]}')
    events.put_targets(Rule="f", Targets=[{"Id": "t", "Arn": arn, "SqsParameters": {"MessageGroupId": "g1"}}])
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": "{}"}])
    m = receive(sqs, url)
    assert len(m) == 1
    assert json.loads(m[0]["Body"])["id"] == r["Entries"][0]["EventId"]


def test_input_inputpath_and_transformer(events, sqs):
    url, arn = queue(sqs, "tx")
    rarn = events.put_rule(Name="tx", EventPattern='{"source": ["a"]}')["RuleArn"]
    events.put_targets(Rule="tx", Targets=[
        {"Id": "const", "Arn": arn, "Input": '{"constant": true}'},
        {"Id": "path", "Arn": arn, "InputPath": "$.detail.inner"},
        {"Id": "json", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"inst": "$.detail.instance", "st": "$.detail.state", "n": "$.detail.n",
                              "first": "$.resources[0]", "missing": "$.detail.nope"},
            "InputTemplate": '{"i": <inst>, "msg": "<inst> is <st>", "n": <n>, "r": <first>, '
                             '"m": <missing>, "rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>"}'}},
        {"Id": "str", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"inst": "$.detail.instance"},
            "InputTemplate": '"instance <inst> fired <aws.events.rule-name>"'}},
        {"Id": "whole", "Arn": arn, "InputTransformer": {
            "InputTemplate": '{"e": <aws.events.event.json>, "noDetail": <aws.events.event>}'}},
    ])
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Resources": ["res-1"], "Detail": json.dumps(
        {"instance": "i-1", "state": "RUNNING", "n": 3, "inner": {"k": [1, 2]}})}])
    bodies = [m["Body"] for m in receive(sqs, url, n=5)]
    assert len(bodies) == 5
    assert '{"constant": true}' in bodies
    assert '{"k":[1,2]}' in bodies
    assert '"instance i-1 fired tx"' in bodies
    parsed = [json.loads(b) for b in bodies]
    tj = next(p for p in parsed if isinstance(p, dict) and "msg" in p)
    assert tj == {"i": "i-1", "msg": "i-1 is RUNNING", "n": 3, "r": "res-1", "m": None, "rule": "tx", "arn": rarn}
    whole = next(p for p in parsed if isinstance(p, dict) and "e" in p)
    assert whole["e"]["id"] == r["Entries"][0]["EventId"] and whole["e"]["detail"]["n"] == 3
    assert "detail" not in whole["noDetail"] and whole["noDetail"]["source"] == "a"
    assert whole["noDetail"]["detailType"] == "t" and "detail-type" not in whole["noDetail"]


def test_delivery_to_another_bus(events, sqs):
    events.create_event_bus(Name="second")
    url, _ = rule_to_queue(events, sqs, rule="onsecond", bus="second", qname="q2")
    barn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/second"
    events.put_rule(Name="fwd", EventPattern='{"source": ["my.app"]}')
    events.put_targets(Rule="fwd", Targets=[{"Id": "bus", "Arn": barn}])
    events.put_events(Entries=[{"Source": "my.app", "DetailType": "dt", "Detail": '{"hop": 1}'}])
    m = receive(sqs, url)
    assert len(m) == 1
    b = json.loads(m[0]["Body"])
    assert b["source"] == "my.app" and b["detail-type"] == "dt" and b["detail"] == {"hop": 1}
    # PutEvents straight to the bus by ARN
    events.put_events(Entries=[{"Source": "my.app", "DetailType": "dt", "Detail": '{"hop": 0}',
                                "EventBusName": barn}])
    m = receive(sqs, url)
    assert len(m) == 1 and json.loads(m[0]["Body"])["detail"] == {"hop": 0}


def test_delivery_to_log_group(events, logs):
    logs.create_log_group(logGroupName="/aws/events/app")
    garn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/app"
    events.put_rule(Name="lg", EventPattern='{"source": ["a"]}')
    events.put_targets(Rule="lg", Targets=[{"Id": "l", "Arn": garn}])
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": '{"z": 1}'}])
    eid = r["Entries"][0]["EventId"]
    deadline = time.time() + 5
    got = []
    while not got and time.time() < deadline:
        got = logs.filter_log_events(logGroupName="/aws/events/app")["events"]
        time.sleep(0.1)
    assert len(got) == 1 and got[0]["logStreamName"] == eid
    assert json.loads(got[0]["message"])["detail"] == {"z": 1}


def test_dead_letter_queue_for_missing_target(events, sqs):
    dlq_url, dlq_arn = queue(sqs, "dlq")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:does-not-exist"
    rarn = events.put_rule(Name="d", EventPattern='{"source": ["a"]}')["RuleArn"]
    events.put_targets(Rule="d", Targets=[{"Id": "t", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn},
                                           "RetryPolicy": {"MaximumRetryAttempts": 2}}])
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": '{"k": 1}'}])
    m = receive(sqs, dlq_url, attrs=True)
    assert len(m) == 1
    assert json.loads(m[0]["Body"])["id"] == r["Entries"][0]["EventId"]
    a = {k: v["StringValue"] for k, v in m[0]["MessageAttributes"].items()}
    assert a["RULE_ARN"] == rarn and a["TARGET_ARN"] == missing
    assert a["RETRY_ATTEMPTS"] == "0" and a["ERROR_CODE"] and a["ERROR_MESSAGE"]


def test_delivery_to_lambda(events, lam, sqs):
    # The function returns the event; its OnSuccess destination (an SQS
    # queue) shows what it was invoked with (asynchronously, as AWS does).
    url, qarn = queue(sqs, "lambda-out")
    make_fn(lam, "evfn", {"app.py": "def handler(event, context):\n    return {'got': event}\n"})
    lam.put_function_event_invoke_config(FunctionName="evfn",
                                         DestinationConfig={"OnSuccess": {"Destination": qarn}})
    farn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:evfn"
    events.put_rule(Name="lr", EventPattern='{"source": ["a"]}')
    events.put_targets(Rule="lr", Targets=[{"Id": "f", "Arn": farn}])
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": '{"to": "lambda"}'}])
    m = receive(sqs, url, wait=20)
    assert len(m) == 1
    record = json.loads(m[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    got = record["responsePayload"]["got"]
    assert got == record["requestPayload"]
    assert got["id"] == r["Entries"][0]["EventId"] and got["detail"] == {"to": "lambda"}
    assert got["source"] == "a" and got["account"] == ACCOUNT and got["detail-type"] == "t"


def test_delivery_to_sns_when_available(events, sqs, nimbus):
    # SNS is built separately: skipped while the binary has no sns.
    sns = nimbus.client("sns")
    try:
        topic = sns.create_topic(Name="evt")["TopicArn"]
    except Exception:
        pytest.skip("sns is not in this binary")
    url, qarn = queue(sqs, "from-sns")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    events.put_rule(Name="sn", EventPattern='{"source": ["a"]}')
    events.put_targets(Rule="sn", Targets=[{"Id": "s", "Arn": topic}])
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": '{"via": "sns"}'}])
    m = receive(sqs, url, wait=10)
    assert len(m) == 1
    body = json.loads(m[0]["Body"])
    event = json.loads(body["Message"]) if "Message" in body else body
    assert event["id"] == r["Entries"][0]["EventId"] and event["detail"] == {"via": "sns"}


def test_durable_rules_and_pending_deliveries(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    ev, sqs = n.client("events"), n.client("sqs")
    url, arn = queue(sqs, "dq")
    ev.create_event_bus(Name="keep")
    ev.put_rule(Name="k", EventPattern='{"source": ["a"]}', EventBusName="keep")
    ev.put_targets(Rule="k", EventBusName="keep", Targets=[{"Id": "t", "Arn": arn}])
    n.restart()
    assert ev.describe_rule(Name="k", EventBusName="keep")["EventPattern"] == '{"source": ["a"]}'
    assert ev.list_targets_by_rule(Rule="k", EventBusName="keep")["Targets"][0]["Arn"] == arn
    ev.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": "{}", "EventBusName": "keep"}])
    assert len(receive(sqs, url)) == 1


def test_retries_then_dead_letter_with_exhausted_condition(events, sqs):
    # A queue that refuses the event (too large for its MaximumMessageSize)
    # fails every attempt: one retry after a backoff, then the DLQ.
    dlq_url, dlq_arn = queue(sqs, "dlq2")
    _, small_arn = queue(sqs, "small", MaximumMessageSize="1024")
    events.put_rule(Name="rt", EventPattern='{"source": ["a"]}')
    events.put_targets(Rule="rt", Targets=[{"Id": "t", "Arn": small_arn, "DeadLetterConfig": {"Arn": dlq_arn},
                                            "RetryPolicy": {"MaximumRetryAttempts": 1}}])
    start = time.time()
    events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": json.dumps({"p": "x" * 2000})}])
    m = receive(sqs, dlq_url, wait=8, attrs=True)
    assert len(m) == 1
    assert time.time() - start >= 0.9  # the retry waited for its backoff
    a = {k: v["StringValue"] for k, v in m[0]["MessageAttributes"].items()}
    assert a["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert a["RETRY_ATTEMPTS"] == "1" and a["TARGET_ARN"] == small_arn


def test_pending_delivery_survives_restart(nimbus_fresh):
    # A delivery waiting for its retry is a row: after a restart it is
    # retried and, when the target works again, delivered.
    n = nimbus_fresh(durable=True)
    ev, sqs = n.client("events"), n.client("sqs")
    url, arn = queue(sqs, "later", MaximumMessageSize="1024")
    ev.put_rule(Name="p", EventPattern='{"source": ["a"]}')
    ev.put_targets(Rule="p", Targets=[{"Id": "t", "Arn": arn}])
    ev.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": json.dumps({"p": "x" * 2000})}])
    time.sleep(0.3)  # the first attempt fails
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "262144"})
    n.restart()
    m = receive(sqs, url, wait=10)
    assert len(m) == 1 and json.loads(m[0]["Body"])["detail"]["p"] == "x" * 2000


def test_archives_and_replay(events, sqs):
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    a = events.create_archive(ArchiveName="arch", EventSourceArn=bus, EventPattern='{"source": ["a"]}',
                              Description="d", RetentionDays=7)
    assert a["ArchiveArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:archive/arch" and a["State"] == "ENABLED"
    events.create_archive(ArchiveName="all", EventSourceArn=bus)
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName="arch", EventSourceArn=bus)
    assert err(e) == ("ResourceAlreadyExistsException", "Archive arch already exists.")
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName="x", EventSourceArn=bus.replace("default", "nope"))
    assert err(e) == ("ResourceNotFoundException", "Event bus nope does not exist.")
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName="x", EventSourceArn=bus, EventPattern='{"a": 1}')
    assert e.value.response["Error"]["Code"] == "InvalidEventPatternException"
    t0 = time.time()
    r = events.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": json.dumps({"i": i})}
                                   for i in range(3)] + [{"Source": "b", "DetailType": "t", "Detail": "{}"}])
    d = events.describe_archive(ArchiveName="arch")
    assert d["EventCount"] == 3 and d["SizeBytes"] > 0 and d["EventPattern"] == '{"source": ["a"]}'
    assert d["RetentionDays"] == 7 and d["Description"] == "d" and d["EventSourceArn"] == bus
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 4
    assert [x["ArchiveName"] for x in events.list_archives()["Archives"]] == ["all", "arch"]
    assert [x["ArchiveName"] for x in events.list_archives(NamePrefix="ar")["Archives"]] == ["arch"]
    events.update_archive(ArchiveName="arch", Description="new", RetentionDays=1)
    with pytest.raises(ClientError) as e:  # what AWS answers for a missing archive
        events.update_archive(ArchiveName="missing", Description="x")
    assert err(e) == ("InternalException", "Service encountered unexpected problem. Please try again.")
    assert events.describe_archive(ArchiveName="arch")["Description"] == "new"
    # replay onto the bus: a rule created now sees the archived events again
    url, _ = rule_to_queue(events, sqs, rule="late", pattern={"source": ["a"]}, qname="replayed")
    time.sleep(1.1)
    rp = events.start_replay(ReplayName="rp", EventSourceArn=a["ArchiveArn"], EventStartTime=t0 - 60,
                             EventEndTime=time.time(), Destination={"Arn": bus})
    assert rp["State"] == "STARTING" and rp["ReplayArn"].endswith(":replay/rp")
    msgs = receive(sqs, url, n=3)
    bodies = sorted((json.loads(m["Body"]) for m in msgs), key=lambda b: b["detail"]["i"])
    assert [b["detail"]["i"] for b in bodies] == [0, 1, 2]
    assert all(b["replay-name"] == "rp" for b in bodies)
    assert {b["id"] for b in bodies} == {x["EventId"] for x in r["Entries"][:3]}
    dr = events.describe_replay(ReplayName="rp")
    assert dr["State"] == "COMPLETED" and dr["Destination"] == {"Arn": bus} and "ReplayEndTime" in dr
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 4  # replays are not archived
    assert [x["ReplayName"] for x in events.list_replays()["Replays"]] == ["rp"]
    with pytest.raises(ClientError) as e:
        events.cancel_replay(ReplayName="rp")
    assert e.value.response["Error"]["Code"] == "IllegalStatusException"
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="rp", EventSourceArn=a["ArchiveArn"], EventStartTime=t0 - 60,
                            EventEndTime=time.time(), Destination={"Arn": bus})
    assert err(e) == ("ResourceAlreadyExistsException", "Replay rp already exists.")
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="r2", EventSourceArn=a["ArchiveArn"], EventStartTime=time.time() - 10,
                            EventEndTime=time.time() - 20, Destination={"Arn": bus})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="r3", EventSourceArn=a["ArchiveArn"], EventStartTime=t0 - 60,
                            EventEndTime=time.time(), Destination={"Arn": bus.replace("default", "other")})
    assert err(e) == ("ResourceNotFoundException", "Event bus other does not exist.")
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="r3", EventSourceArn=a["ArchiveArn"].rsplit("/", 1)[0] + "/gone",
                            EventStartTime=t0 - 60, EventEndTime=time.time(), Destination={"Arn": bus})
    assert err(e) == ("ValidationException",
                      "Parameter EventSourceArn is not valid. Reason: Archive gone does not exist.")
    events.create_event_bus(Name="other")
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="r3", EventSourceArn=a["ArchiveArn"], EventStartTime=t0 - 60,
                            EventEndTime=time.time(), Destination={"Arn": bus.replace("default", "other")})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    # FilterArns restricts the replay to the listed rules
    url2, _ = rule_to_queue(events, sqs, rule="other-rule", pattern={"source": ["a"]}, qname="filtered")
    events.start_replay(ReplayName="r4", EventSourceArn=a["ArchiveArn"], EventStartTime=t0 - 60,
                        EventEndTime=time.time(),
                        Destination={"Arn": bus, "FilterArns": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/late"]})
    assert len(receive(sqs, url, n=3)) == 3
    assert receive(sqs, url2, wait=1.5) == []
    with pytest.raises(ClientError) as e:
        events.describe_replay(ReplayName="nope")
    assert err(e) == ("ResourceNotFoundException", "Replay nope does not exist.")
    events.delete_archive(ArchiveName="arch")
    with pytest.raises(ClientError) as e:
        events.describe_archive(ArchiveName="arch")
    assert err(e) == ("ResourceNotFoundException", "Archive arch does not exist.")


def test_malformed_requests_get_errors_and_leave_state(events, nimbus):
    import urllib.error
    import urllib.request
    events.put_rule(Name="keep", EventPattern='{"source": ["a"]}')
    auth = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)

    def raw(op, body):
        req = urllib.request.Request(nimbus.endpoint + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSEvents.{op}",
            "Authorization": auth, "X-Amz-Date": "20260101T000000Z"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    for op, body in [("PutEvents", b"{bad"), ("PutEvents", b'{"Entries": "x"}'), ("PutEvents", b'{"Entries": [1]}'),
                     ("PutRule", b'{"Name": 5}'), ("PutTargets", b'{"Rule": "keep", "Targets": [{"Id": "a"}]}'),
                     ("PutEvents", b'{"Entries": [{"Source": "a", "DetailType": "t", "Detail": "{\\"d\\":' +
                      b"[" * 2000 + b"]" * 2000 + b'}"}]}'),
                     ("TestEventPattern", b'{"EventPattern": "' + b"[" * 5000 + b'", "Event": "{}"}'),
                     ("ListRules", b'{"Limit": 0}'), ("ListRules", b'{"Limit": 101}'), ("Nope", b"{}")]:
        status, out = raw(op, body)
        if op == "PutEvents" and status == 200:  # the deeply nested Detail: a per-entry error
            assert out["FailedEntryCount"] == 1 and out["Entries"][0]["ErrorCode"] == "MalformedDetail"
            continue
        assert status == 400, (op, body[:40], status, out)
        assert out.get("__type"), out
    assert events.describe_rule(Name="keep")["State"] == "ENABLED"
    assert events.list_targets_by_rule(Rule="keep")["Targets"] == []
