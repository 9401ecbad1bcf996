"""Step Functions: state machines, executions, the States Language (every
state type, paths, intrinsics, Choice, Retry/Catch), Lambda tasks (a saga
with compensations), history events, EXPRESS sync runs, and durability
across a restart with --data-dir."""
import json
import time

import botocore
import pytest

from conftest import Config
from test_lambda_invoke import make_fn

ROLE = "arn:aws:iam::000000000000:role/sfn-role"


def machine(sfn, name, definition, type_="STANDARD"):
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                    type=type_)["stateMachineArn"]


def run(sfn, arn, inp=None, name=None, timeout=30):
    kw = {"stateMachineArn": arn, "input": json.dumps(inp if inp is not None else {})}
    if name:
        kw["name"] = name
    return wait_done(sfn, sfn.start_execution(**kw)["executionArn"], timeout)


def wait_done(sfn, ex, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.05)
    raise AssertionError("execution still running")


def sync(sfn, arn, inp=None):
    return sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(inp if inp is not None else {}))


def out(d):
    return json.loads(d["output"])


def events(sfn, ex):
    return sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]


PASS2 = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.a", "Next": "B"},
    "B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a.x, $.n)", "n.$": "$.n"}, "End": True}}}


def test_state_machine_crud_and_tags(sfn):
    arn = machine(sfn, "crud", PASS2)
    assert arn == "arn:aws:states:us-east-1:000000000000:stateMachine:crud"
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["name"] == "crud" and d["type"] == "STANDARD" and d["status"] == "ACTIVE"
    assert json.loads(d["definition"]) == PASS2 and d["roleArn"] == ROLE
    # Same request again: the same machine; a different one: already exists.
    assert machine(sfn, "crud", PASS2) == arn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        machine(sfn, "crud", {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}})
    assert e.value.response["Error"]["Code"] == "StateMachineAlreadyExists"
    new_def = {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(new_def))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == new_def
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "a"}, {"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    for i in range(3):
        machine(sfn, "m%d" % i, PASS2, "EXPRESS")
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert names == ["crud", "m0", "m1", "m2"]
    p = sfn.list_state_machines(maxResults=2)
    assert len(p["stateMachines"]) == 2 and p["nextToken"]
    p2 = sfn.list_state_machines(maxResults=2, nextToken=p["nextToken"])
    assert [m["name"] for m in p2["stateMachines"]] == ["m1", "m2"] and "nextToken" not in p2
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:000000000000:execution:x:y")
    with pytest.raises(sfn.exceptions.InvalidName):
        machine(sfn, "bad name", PASS2)


@pytest.mark.parametrize("definition,code", [
    ("{not json", "INVALID_JSON_DESCRIPTION"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope"}}}, "MISSING_TRANSITION_TARGET"),
    ({"StartAt": "Z", "States": {"A": {"Type": "Succeed"}}}, "MISSING_TRANSITION_TARGET"),
    ({"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": True}}}, "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}}, "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": True}}}, "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Foo": 1}}}, "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Parameters": {"x.$": "nope"}}}},
     "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "InputPath": "$..x"}}},
     "SCHEMA_VALIDATION_FAILED"),
    ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, "SCHEMA_VALIDATION_FAILED"),
    ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1,
                                                                       "Next": "Gone"}]}}},
     "MISSING_TRANSITION_TARGET"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
                                       "End": True, "Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}}},
     "SCHEMA_VALIDATION_FAILED"),
])
def test_invalid_definitions(sfn, definition, code):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        sfn.create_state_machine(name="bad", definition=text, roleArn=ROLE)
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("Invalid State Machine Definition: '") and code in msg
    if hasattr(sfn, "validate_state_machine_definition"):  # boto3 >= 1.34
        v = sfn.validate_state_machine_definition(definition=text)
        assert v["result"] == "FAIL" and v["diagnostics"][0]["code"] == code


def test_validate_ok(sfn):
    if not hasattr(sfn, "validate_state_machine_definition"):
        pytest.skip("boto3 too old for ValidateStateMachineDefinition")
    v = sfn.validate_state_machine_definition(definition=json.dumps(PASS2))
    assert v["result"] == "OK" and v["diagnostics"] == []


def test_pass_paths_and_history(sfn):
    arn = machine(sfn, "pass", PASS2)
    d = run(sfn, arn, {"n": 41}, name="first")
    assert d["status"] == "SUCCEEDED" and out(d) == {"sum": 42, "n": 41}
    assert d["executionArn"] == "arn:aws:states:us-east-1:000000000000:execution:pass:first"
    ev = events(sfn, d["executionArn"])
    assert [e["type"] for e in ev] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                       "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in ev] == [1, 2, 3, 4, 5, 6]
    assert [e["previousEventId"] for e in ev] == [0, 1, 2, 3, 4, 5]
    assert json.loads(ev[0]["executionStartedEventDetails"]["input"]) == {"n": 41}
    assert ev[1]["stateEnteredEventDetails"]["name"] == "A"
    assert json.loads(ev[2]["stateExitedEventDetails"]["output"]) == {"n": 41, "a": {"x": 1}}
    rev = sfn.get_execution_history(executionArn=d["executionArn"], reverseOrder=True, maxResults=2)
    assert [e["id"] for e in rev["events"]] == [6, 5] and rev["nextToken"]
    # DescribeStateMachineForExecution keeps the definition the execution ran.
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}))
    f = sfn.describe_state_machine_for_execution(executionArn=d["executionArn"])
    assert json.loads(f["definition"]) == PASS2


def test_start_execution_idempotency_and_list(sfn):
    arn = machine(sfn, "wait", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    a = sfn.start_execution(stateMachineArn=arn, name="one", input="{}")
    b = sfn.start_execution(stateMachineArn=arn, name="one", input="{}")
    assert a["executionArn"] == b["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="one", input='{"other": 1}')
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{bad")
    sfn.start_execution(stateMachineArn=arn, name="two")
    sfn.stop_execution(executionArn=a["executionArn"], error="Stopped", cause="by test")
    d = sfn.describe_execution(executionArn=a["executionArn"])
    assert d["status"] == "ABORTED" and "stopDate" in d
    assert events(sfn, a["executionArn"])[-1]["type"] == "ExecutionAborted"
    ls = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert sorted(e["name"] for e in ls) == ["one", "two"]
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]] == ["two"]
    p = sfn.list_executions(stateMachineArn=arn, maxResults=1)
    assert len(p["executions"]) == 1 and p["nextToken"]
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=arn.replace("stateMachine", "execution") + ":nope")


def test_choice_every_comparator(sfn):
    rules = [
        {"Variable": "$.s", "StringEquals": "b", "Next": "Hit"},
        {"Variable": "$.s", "StringLessThan": "a", "Next": "Hit"},
        {"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 10}, {"Variable": "$.n", "NumericLessThan": 20}],
         "Next": "Hit"},
        {"Not": {"Variable": "$.flag", "BooleanEquals": True}, "Next": "Hit"},
        {"Variable": "$.t", "TimestampGreaterThan": "2030-01-01T00:00:00Z", "Next": "Hit"},
        {"Variable": "$.s", "StringMatches": "log-*.txt", "Next": "Hit"},
        {"Variable": "$.n", "NumericEqualsPath": "$.m", "Next": "Hit"},
        {"Variable": "$.missing", "IsPresent": True, "Next": "Hit"},
        {"Or": [{"Variable": "$.nul", "IsNull": True}, {"Variable": "$.s", "IsNumeric": True}], "Next": "Hit"},
    ]
    arn = machine(sfn, "choice", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": rules, "Default": "Miss"},
        "Hit": {"Type": "Pass", "Result": "hit", "End": True},
        "Miss": {"Type": "Pass", "Result": "miss", "End": True}}}, "EXPRESS")
    base = {"s": "c", "n": 5, "flag": True, "t": "2020-01-01T00:00:00Z", "m": 6, "nul": 1}
    cases = [({}, "miss"), ({"s": "b"}, "hit"), ({"s": "A"}, "hit"), ({"n": 15}, "hit"), ({"flag": False}, "hit"),
             ({"t": "2031-05-01T10:00:00.5+02:00"}, "hit"), ({"s": "log-1.txt"}, "hit"), ({"m": 5}, "hit"),
             ({"missing": 0}, "hit"), ({"nul": None}, "hit"), ({"flag": "yes"}, "hit")]
    for delta, want in cases:
        r = sync(sfn, arn, dict(base, **delta))
        assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == want, (delta, r)


def test_choice_no_match_and_bad_path(sfn):
    arn = machine(sfn, "nomatch", {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "E"}]},
        "E": {"Type": "Succeed"}}}, "EXPRESS")
    r = sync(sfn, arn, {"x": 2})
    assert r["status"] == "FAILED" and r["error"] == "States.NoChoiceMatched"
    r = sync(sfn, arn, {})
    assert r["status"] == "FAILED" and r["error"] == "States.Runtime" and "$.x" in r["cause"]


def test_intrinsics(sfn):
    params = {
        "fmt.$": "States.Format('Hello, {}! You are {}.', $.name, $.age)",
        "json.$": "States.StringToJson($.text)",
        "str.$": "States.JsonToString($.obj)",
        "arr.$": "States.Array(1, 'two', $.age)",
        "parts.$": "States.ArrayPartition($.nums, 2)",
        "has.$": "States.ArrayContains($.nums, 3)",
        "range.$": "States.ArrayRange(1, 9, 2)",
        "item.$": "States.ArrayGetItem($.nums, 1)",
        "len.$": "States.ArrayLength($.nums)",
        "uniq.$": "States.ArrayUnique($.dups)",
        "b64.$": "States.Base64Encode('nimbus')",
        "unb64.$": "States.Base64Decode('bmltYnVz')",
        "hash.$": "States.Hash('abc', 'SHA-256')",
        "merged.$": "States.JsonMerge($.obj, $.obj2, false)",
        "rnd.$": "States.MathRandom(1, 3)",
        "add.$": "States.MathAdd($.age, -2)",
        "split.$": "States.StringSplit('a,b,,c', ',')",
        "uuid.$": "States.UUID()",
        "nested.$": "States.ArrayLength(States.Array(1, 2, 3))",
        "ctx.$": "$$.Execution.Name",
        "static": {"keep": "as is", "inner.$": "$.name"},
    }
    arn = machine(sfn, "intr", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": params, "End": True}}},
                  "EXPRESS")
    r = sync(sfn, arn, {"name": "Ada", "age": 36, "text": '{"k": [1]}', "obj": {"a": 1}, "obj2": {"b": 2},
                        "nums": [1, 2, 3, 4, 5], "dups": [1, 1, "x", "x", 2]})
    assert r["status"] == "SUCCEEDED", r
    o = json.loads(r["output"])
    assert o["fmt"] == "Hello, Ada! You are 36."
    assert o["json"] == {"k": [1]} and json.loads(o["str"]) == {"a": 1}
    assert o["arr"] == [1, "two", 36] and o["parts"] == [[1, 2], [3, 4], [5]] and o["has"] is True
    assert o["range"] == [1, 3, 5, 7, 9] and o["item"] == 2 and o["len"] == 5 and o["uniq"] == [1, "x", 2]
    assert o["b64"] == "bmltYnVz" and o["unb64"] == "nimbus"
    assert o["hash"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert o["merged"] == {"a": 1, "b": 2} and 1 <= o["rnd"] <= 3 and o["add"] == 34
    assert o["split"] == ["a", "b", "c"] and len(o["uuid"]) == 36 and o["nested"] == 3
    assert o["ctx"] == r["name"] and o["static"] == {"keep": "as is", "inner": "Ada"}


def test_intrinsic_failure(sfn):
    arn = machine(sfn, "intrfail", {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"}, "End": True}}}, "EXPRESS")
    r = sync(sfn, arn, {"a": [1]})
    assert r["status"] == "FAILED" and r["error"] == "States.IntrinsicFailure"


def test_input_output_result_paths(sfn):
    arn = machine(sfn, "paths", {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "InputPath": "$.inner", "Result": {"r": 1}, "ResultPath": "$.res",
              "OutputPath": "$.res", "Next": "Q"},
        "Q": {"Type": "Pass", "ResultPath": None, "Next": "S"},
        "S": {"Type": "Succeed", "OutputPath": "$.r"}}}, "EXPRESS")
    r = sync(sfn, arn, {"inner": {"v": 1}})
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == 1
    r = sync(sfn, arn, {"other": 1})
    assert r["status"] == "FAILED" and r["error"] == "States.Runtime"
    assert "Invalid path '$.inner'" in r["cause"]


def test_fail_state(sfn):
    arn = machine(sfn, "fail", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Custom.Err",
                                                                  "Cause": "because"}}})
    d = run(sfn, arn)
    assert d["status"] == "FAILED" and d["error"] == "Custom.Err" and d["cause"] == "because"
    assert [e["type"] for e in events(sfn, d["executionArn"])] == ["ExecutionStarted", "FailStateEntered",
                                                                   "ExecutionFailed"]


def test_wait_states(sfn):
    arn = machine(sfn, "waits", {"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 1, "Next": "W2"},
        "W2": {"Type": "Wait", "SecondsPath": "$.secs", "Next": "W3"},
        "W3": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "Next": "W4"},
        "W4": {"Type": "Wait", "TimestampPath": "$.ts", "End": True}}})
    t0 = time.time()
    d = run(sfn, arn, {"secs": 1, "ts": "2001-01-01T00:00:00Z"})
    assert d["status"] == "SUCCEEDED" and time.time() - t0 >= 1.9
    types = [e["type"] for e in events(sfn, d["executionArn"])]
    assert types.count("WaitStateEntered") == 4 and types.count("WaitStateExited") == 4


def test_parallel_and_map(sfn):
    arn = machine(sfn, "parmap", {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "Next": "B2"},
                                        "B2": {"Type": "Pass", "InputPath": "$.items", "End": True}}}],
                "ResultPath": "$.par", "Next": "Map"},
        "Map": {"Type": "Map", "ItemsPath": "$.items",
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"StartAt": "Double", "States": {
                    "Double": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.v, $.v)", "i.$": "$.i"},
                               "End": True}}},
                "ResultPath": "$.mapped", "End": True}}})
    d = run(sfn, arn, {"items": [1, 2, 3]})
    assert d["status"] == "SUCCEEDED", d
    o = out(d)
    assert o["par"] == ["a", [1, 2, 3]]
    assert o["mapped"] == [{"d": 2, "i": 0}, {"d": 4, "i": 1}, {"d": 6, "i": 2}]
    types = [e["type"] for e in events(sfn, d["executionArn"])]
    for t in ["ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateExited",
              "MapStateEntered", "MapStateStarted", "MapIterationStarted", "MapIterationSucceeded",
              "MapStateSucceeded", "MapStateExited"]:
        assert t in types, t
    assert types.count("MapIterationSucceeded") == 3


def test_parallel_branch_failure_caught(sfn):
    arn = machine(sfn, "parfail", {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}},
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Boom", "Cause": "x"}}}],
                "Catch": [{"ErrorEquals": ["Branch.Boom"], "ResultPath": "$.err", "Next": "Handled"}], "End": True},
        "Handled": {"Type": "Pass", "End": True}}})
    t0 = time.time()
    d = run(sfn, arn, {"k": 1})
    assert d["status"] == "SUCCEEDED" and time.time() - t0 < 4
    assert out(d) == {"k": 1, "err": {"Error": "Branch.Boom", "Cause": "x"}}


LAMBDA_CODE = '''
import json
def handler(event, context):
    op = event.get("op")
    if op == "reserve":
        return {"reservation": "r-" + event["order"]}
    if op == "charge":
        if event.get("amount", 0) > 100:
            raise ValueError("card declined")
        return {"charge": "c-1"}
    if op == "release":
        return {"released": event["reservation"]}
    if op == "flaky":
        import os
        path = "/tmp/flaky-" + event["key"]
        n = int(open(path).read()) if os.path.exists(path) else 0
        open(path, "w").write(str(n + 1))
        if n < 2:
            raise RuntimeError("try again")
        return {"attempts": n + 1}
    return event
'''


@pytest.fixture
def fn_arn(client):
    lam = client("lambda")
    make_fn(lam, "saga", {"app.py": LAMBDA_CODE})
    return "arn:aws:lambda:us-east-1:000000000000:function:saga"


SAGA = lambda fn: {"StartAt": "Reserve", "States": {  # noqa: E731
    "Reserve": {"Type": "Task", "Resource": fn,
                "Parameters": {"op": "reserve", "order.$": "$.order"}, "ResultPath": "$.reserve", "Next": "Charge"},
    "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": fn, "Payload": {"op": "charge", "amount.$": "$.amount"}},
               "ResultSelector": {"charge.$": "$.Payload.charge"}, "ResultPath": "$.charge",
               "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Release"}],
               "Next": "Done"},
    "Release": {"Type": "Task", "Resource": fn,
                "Parameters": {"op": "release", "reservation.$": "$.reserve.reservation"},
                "ResultPath": "$.release", "Next": "Failed"},
    "Failed": {"Type": "Fail", "Error": "OrderFailed", "Cause": "payment declined"},
    "Done": {"Type": "Succeed"}}}


def test_saga_with_lambda_tasks(sfn, fn_arn):
    arn = machine(sfn, "saga", SAGA(fn_arn))
    ok = run(sfn, arn, {"order": "o1", "amount": 10})
    assert ok["status"] == "SUCCEEDED", ok
    assert out(ok) == {"order": "o1", "amount": 10, "reserve": {"reservation": "r-o1"}, "charge": {"charge": "c-1"}}
    types = [e["type"] for e in events(sfn, ok["executionArn"])]
    assert types[:6] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                         "LambdaFunctionSucceeded", "TaskStateExited"]
    assert "TaskScheduled" in types and "TaskStarted" in types and "TaskSucceeded" in types
    ev = events(sfn, ok["executionArn"])
    ts = [e for e in ev if e["type"] == "TaskScheduled"][0]["taskScheduledEventDetails"]
    assert ts["resourceType"] == "lambda" and ts["resource"] == "invoke"

    bad = run(sfn, arn, {"order": "o2", "amount": 500})
    assert bad["status"] == "FAILED" and bad["error"] == "OrderFailed"
    ev = events(sfn, bad["executionArn"])
    failed = [e for e in ev if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert failed["error"] == "ValueError" and "card declined" in failed["cause"]
    rel = [e for e in ev if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Release"][0]
    o = json.loads(rel["stateExitedEventDetails"]["output"])
    assert o["release"] == {"released": "r-o2"} and o["error"]["Error"] == "ValueError"


def test_retry_then_success_and_exhaustion(sfn, fn_arn):
    retry = [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 0, "MaxAttempts": 3, "BackoffRate": 1.5}]
    arn = machine(sfn, "retry", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": fn_arn, "Retry": retry, "End": True}}})
    d = run(sfn, arn, {"op": "flaky", "key": str(time.time())})
    assert d["status"] == "SUCCEEDED" and out(d) == {"attempts": 3}
    assert [e["type"] for e in events(sfn, d["executionArn"])].count("LambdaFunctionScheduled") == 3
    arn2 = machine(sfn, "retry2", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": fn_arn, "End": True,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 0, "MaxAttempts": 1}]}}})
    d = run(sfn, arn2, {"op": "flaky", "key": str(time.time())})
    assert d["status"] == "FAILED" and d["error"] == "RuntimeError"


def test_missing_function_and_task_timeout(sfn, fn_arn):
    arn = machine(sfn, "nofn", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:absent", "End": True}}})
    d = run(sfn, arn)
    assert d["status"] == "FAILED" and d["error"] == "Lambda.ResourceNotFoundException"


def test_express_sync_and_type_errors(sfn):
    arn = machine(sfn, "exp", PASS2, "EXPRESS")
    r = sync(sfn, arn, {"n": 1})
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == {"sum": 2, "n": 1}
    assert r["executionArn"].startswith("arn:aws:states:us-east-1:000000000000:express:exp:")
    assert "billingDetails" in r
    std = machine(sfn, "std", PASS2)
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sync(sfn, std, {"n": 1})
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.list_executions(stateMachineArn=arn)


def test_payload_limit(sfn):
    arn = machine(sfn, "big", {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s", "c.$": "$.s"}, "End": True}}}, "EXPRESS")
    r = sync(sfn, arn, {"s": "x" * 100000})
    assert r["status"] == "FAILED" and r["error"] == "States.DataLimitExceeded"
    with pytest.raises(botocore.exceptions.ClientError):
        sync(sfn, arn, {"s": "x" * 300000})


def test_restart_resumes_execution(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    c = n.client("stepfunctions", config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))
    arn = machine(c, "durable", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 2, "Next": "B"},
        "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "End": True}}})
    ex = c.start_execution(stateMachineArn=arn, name="survivor", input='{"x": 0}')["executionArn"]
    time.sleep(0.5)
    n.kill9()
    n.start(n.port)
    c = n.client("stepfunctions", config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))
    assert c.describe_execution(executionArn=ex)["status"] == "RUNNING"
    deadline = time.time() + 10
    while c.describe_execution(executionArn=ex)["status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.1)
    d = c.describe_execution(executionArn=ex)
    assert d["status"] == "SUCCEEDED" and out(d) == {"x": 0, "a": 1, "b": 2}
    ev = events(c, ex)
    assert [e["id"] for e in ev] == list(range(1, len(ev) + 1))
    assert [e["type"] for e in ev].count("WaitStateEntered") == 1


def test_sqs_and_sdk_integrations(sfn, client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="sfn-out")["QueueUrl"]
    arn = machine(sfn, "tosqs", {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody.$": "$.msg"}, "ResultPath": "$.sent", "Next": "Sdk"},
        "Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueAttributes",
                "Parameters": {"QueueUrl": url, "AttributeNames": ["All"]},
                "ResultSelector": {"n.$": "$.Attributes.ApproximateNumberOfMessages"}, "End": True}}})
    d = run(sfn, arn, {"msg": "hello"})
    assert d["status"] == "SUCCEEDED", d
    assert out(d) == {"n": "1"}
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"
    bad = machine(sfn, "badsqs", {"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": url + "-missing", "MessageBody": "x"}, "End": True}}})
    d = run(sfn, bad)
    assert d["status"] == "FAILED" and d["error"].startswith("Sqs.")


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_restart_reruns_task_in_flight(nimbus_fresh, how):
    n = nimbus_fresh(durable=True)
    c = n.client("stepfunctions", config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))
    make_fn(n.client("lambda"), "slow", {"app.py": "import time\ndef handler(e, c):\n    time.sleep(e['sleep'])\n"
                                                  "    return {'done': e['sleep']}\n"})
    fn = "arn:aws:lambda:us-east-1:000000000000:function:slow"
    arn = machine(c, "inflight", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": fn, "End": True}}})
    ex = c.start_execution(stateMachineArn=arn, input='{"sleep": 2}')["executionArn"]
    deadline = time.time() + 10  # until the task is in flight, however loaded the machine
    while "LambdaFunctionStarted" not in [e["type"] for e in events(c, ex)] and time.time() < deadline:
        time.sleep(0.05)
    if how == "kill9":
        n.kill9()
    else:
        assert n.stop() == 0, n.output()[-3000:]
    n.start(n.port)
    c = n.client("stepfunctions", config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))
    deadline = time.time() + 30
    while c.describe_execution(executionArn=ex)["status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.2)
    d = c.describe_execution(executionArn=ex)
    assert d["status"] == "SUCCEEDED" and out(d) == {"done": 2}
    types = [e["type"] for e in events(c, ex)]
    assert types.count("LambdaFunctionScheduled") == 2 and types[-1] == "ExecutionSucceeded"


def test_map_item_selector_sees_effective_input(sfn):
    arn = machine(sfn, "mapsel", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "InputPath": "$.in", "ItemsPath": "$.xs",
        "ItemSelector": {"x.$": "$$.Map.Item.Value", "k.$": "$.k"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}},
        "EXPRESS")
    r = sync(sfn, arn, {"in": {"xs": [1, 2], "k": "v"}})
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == [{"x": 1, "k": "v"}, {"x": 2, "k": "v"}]
    r = sync(sfn, arn, {"in": {"xs": 5}})
    assert r["status"] == "FAILED" and r["error"] == "States.Runtime"


def test_execution_timeout(sfn):
    arn = machine(sfn, "slowmachine", {"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    d = run(sfn, arn, timeout=10)
    assert d["status"] == "TIMED_OUT"
    assert events(sfn, d["executionArn"])[-1]["type"] == "ExecutionTimedOut"
    exp = machine(sfn, "slowexpress", {"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": True}}}, "EXPRESS")
    r = sync(sfn, exp)
    assert r["status"] == "TIMED_OUT" and r["error"] == "States.Timeout"


def test_map_max_concurrency(sfn):
    arn = machine(sfn, "mapmc", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}},
        "End": True}}})
    t0 = time.time()
    d = run(sfn, arn, [1, 2, 3, 4])
    took = time.time() - t0
    assert d["status"] == "SUCCEEDED" and out(d) == [1, 2, 3, 4]
    assert 1.9 <= took < 4, took
    ev = events(sfn, d["executionArn"])
    starts = [e for e in ev if e["type"] == "MapIterationStarted"]
    assert [e["mapIterationStartedEventDetails"]["index"] for e in starts] == [0, 1, 2, 3]


def test_history_limit_stops_endless_loop(sfn):
    arn = machine(sfn, "loop", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "End"}],
              "Default": "A"},
        "End": {"Type": "Succeed"}}})
    d = run(sfn, arn, timeout=60)
    assert d["status"] == "FAILED" and d["error"] == "States.Runtime" and "25000" in d["cause"]


def test_wait_for_task_token(sfn, client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    arn = machine(sfn, "callback", {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token", "q.$": "$.q"}},
        "ResultPath": "$.answer", "TimeoutSeconds": 30,
        "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.err", "Next": "No"}], "End": True},
        "No": {"Type": "Pass", "End": True}}})

    def answer(ok):
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"q": "ok?"}))["executionArn"]
        msgs = []
        for _ in range(50):
            msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
            if msgs:
                break
        body = json.loads(msgs[0]["Body"])
        assert body["q"] == "ok?" and len(body["token"]) > 20
        sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
        time.sleep(0.2)
        assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
        sfn.send_task_heartbeat(taskToken=body["token"])
        if ok:
            sfn.send_task_success(taskToken=body["token"], output='{"yes": true}')
        else:
            sfn.send_task_failure(taskToken=body["token"], error="Rejected", cause="no")
        with pytest.raises(sfn.exceptions.TaskTimedOut):  # the task is closed
            sfn.send_task_success(taskToken=body["token"], output="{}")
        for _ in range(100):
            d = sfn.describe_execution(executionArn=ex)
            if d["status"] != "RUNNING":
                return d
            time.sleep(0.05)
        raise AssertionError("still running")

    d = answer(True)
    assert d["status"] == "SUCCEEDED" and out(d) == {"q": "ok?", "answer": {"yes": True}}
    d = answer(False)
    assert d["status"] == "SUCCEEDED" and out(d)["err"] == {"Error": "Rejected", "Cause": "no"}
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken="nope", output="{}")


def test_eventbridge_rule_starts_executions(sfn, client):
    arn = machine(sfn, "on-order", {"StartAt": "Take", "States": {
        "Take": {"Type": "Pass", "Parameters": {"id.$": "$.detail.id", "src.$": "$.source"},
                 "End": True}}})
    events = client("events")
    events.put_rule(Name="orders-to-sfn", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders-to-sfn", Targets=[{"Id": "sm", "Arn": arn, "RoleArn": ROLE}])
    r = events.put_events(Entries=[{"Source": "shop", "DetailType": "OrderPlaced",
                                    "Detail": json.dumps({"id": 42})}])
    assert r["FailedEntryCount"] == 0
    deadline = time.time() + 10
    while time.time() < deadline:
        done = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
        if done:
            break
        time.sleep(0.05)
    assert len(done) == 1
    d = sfn.describe_execution(executionArn=done[0]["executionArn"])
    assert json.loads(d["input"])["id"] == r["Entries"][0]["EventId"]
    assert out(d) == {"id": 42, "src": "shop"}
