"""Step Functions versions, aliases and TestState: publishing (revision
checks, idempotency, the 1000-version quota), versions pinned to their
definition, aliases with weighted routing, deletes refused while
referenced, and TestState over Pass, Task (a real Lambda function),
Choice, Fail, Retry/Catch and mocks, with inspection data."""
import collections
import contextlib
import json

import botocore
import botocore.auth
import botocore.config
import botocore.awsrequest
import botocore.httpsession
import pytest

from test_lambda_invoke import make_fn
from test_sfn import run

ROLE = "arn:aws:iam::000000000000:role/sfn-role"


class Raw:
    """For a botocore whose model predates versions, aliases and TestState
    (boto3 1.26): the same calls as signed awsJson 1.0 requests."""

    def __init__(self, client):
        self.client = client
        self.http = botocore.httpsession.URLLib3Session()

    def __getattr__(self, name):
        op = "".join(w.capitalize() for w in name.split("_"))

        def call(**params):
            c = self.client
            req = botocore.awsrequest.AWSRequest(
                method="POST", url=c.meta.endpoint_url + "/", data=json.dumps(params).encode(),
                headers={"Content-Type": "application/x-amz-json-1.0",
                         "X-Amz-Target": "AWSStepFunctions." + op})
            botocore.auth.SigV4Auth(c._request_signer._credentials, "states", c.meta.region_name).add_auth(req)
            r = self.http.send(req.prepare())
            body = json.loads(r.content or b"{}")
            if r.status_code != 200:
                code = body.get("__type", "").split("#")[-1]
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": code, "Message": body.get("message") or body.get("Message", "")}}, op)
            return body
        return call


@pytest.fixture
def sfn(sfn):
    if "PublishStateMachineVersion" in sfn.meta.service_model.operation_names:
        return sfn
    return Raw(sfn)


@contextlib.contextmanager
def err(code_):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        yield e
    assert e.value.response["Error"]["Code"] == code_, e.value.response


def definition(value):
    return json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": value, "End": True}}})


def code(e):
    return e.value.response["Error"]["Code"]


def message(e):
    return e.value.response["Error"]["Message"]


# ---- versions ---------------------------------------------------------------------------------------


def test_publish_list_describe_versions(sfn):
    r = sfn.create_state_machine(name="v", definition=definition("one"), roleArn=ROLE, publish=True,
                                 versionDescription="first")
    arn = r["stateMachineArn"]
    assert r["stateMachineVersionArn"] == arn + ":1"
    # Publishing the unchanged revision returns the existing version.
    p = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert p["stateMachineVersionArn"] == arn + ":1"
    u = sfn.update_state_machine(stateMachineArn=arn, definition=definition("two"))
    rev2 = u["revisionId"]
    assert "stateMachineVersionArn" not in u
    p = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=rev2, description="second")
    assert p["stateMachineVersionArn"] == arn + ":2"
    u = sfn.update_state_machine(stateMachineArn=arn, definition=definition("three"), publish=True,
                                 versionDescription="third")
    assert u["stateMachineVersionArn"] == arn + ":3"

    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [arn + ":3", arn + ":2", arn + ":1"]
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=2)
    assert len(page["stateMachineVersions"]) == 2 and page["nextToken"]
    rest = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=2, nextToken=page["nextToken"])
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [arn + ":1"]
    assert "nextToken" not in rest

    d1 = sfn.describe_state_machine(stateMachineArn=arn + ":1")
    assert d1["stateMachineArn"] == arn + ":1"
    assert json.loads(d1["definition"])["States"]["A"]["Result"] == "one"
    assert d1["description"] == "first"
    d2 = sfn.describe_state_machine(stateMachineArn=arn + ":2")
    assert d2["revisionId"] == rev2 and d2["description"] == "second"
    cur = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(cur["definition"])["States"]["A"]["Result"] == "three"
    assert "description" not in cur
    with err("StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=arn + ":9")


def test_publish_errors(sfn):
    arn = sfn.create_state_machine(name="pe", definition=definition(1), roleArn=ROLE)["stateMachineArn"]
    # INITIAL names the revision of a machine never updated.
    assert sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="INITIAL")[
        "stateMachineVersionArn"] == arn + ":1"
    old = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    sfn.update_state_machine(stateMachineArn=arn, definition=definition(2))
    with err("ConflictException") as e:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=old)
    assert old in message(e)
    with err("ConflictException"):
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="INITIAL")
    with err("StateMachineDoesNotExist"):
        sfn.publish_state_machine_version(stateMachineArn=arn.replace(":pe", ":nope"))
    with err("InvalidArn"):
        sfn.publish_state_machine_version(stateMachineArn="arn:aws:states:us-east-1:000000000000:activity:x")
    # versionDescription needs publish.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition(3), versionDescription="d")
    assert code(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.create_state_machine(name="pe2", definition=definition(1), roleArn=ROLE, versionDescription="d")
    assert code(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.list_state_machine_versions(stateMachineArn=arn, nextToken="bogus")
    assert code(e) == "InvalidToken"


def test_version_quota(sfn):
    arn = sfn.create_state_machine(name="q", definition=definition(0), roleArn=ROLE,
                                   publish=True)["stateMachineArn"]
    for i in range(1, 1000):
        sfn.update_state_machine(stateMachineArn=arn, definition=definition(i), publish=True)
    with err("ServiceQuotaExceededException"):
        sfn.update_state_machine(stateMachineArn=arn, definition=definition(1000), publish=True)
    # Deleting one frees a place; numbers are not reused.
    sfn.delete_state_machine_version(stateMachineVersionArn=arn + ":1")
    # The current revision is version 1000 already.
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == arn + ":1000"
    sfn.update_state_machine(stateMachineArn=arn, definition=definition(1000))
    r = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert r["stateMachineVersionArn"] == arn + ":1001"


def test_execution_on_version_runs_its_definition(sfn):
    arn = sfn.create_state_machine(name="ex", definition=definition("old"), roleArn=ROLE,
                                   publish=True)["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=definition("new"))
    d = run(sfn, arn + ":1", name="on-v1")
    assert d["executionArn"] == arn.replace(":stateMachine:", ":execution:") + ":on-v1"
    assert json.loads(d["output"]) == "old"
    assert d["stateMachineArn"] == arn and d["stateMachineVersionArn"] == arn + ":1"
    assert "stateMachineAliasArn" not in d
    forx = sfn.describe_state_machine_for_execution(executionArn=d["executionArn"])
    assert json.loads(forx["definition"])["States"]["A"]["Result"] == "old"
    assert forx["revisionId"] == sfn.describe_state_machine(stateMachineArn=arn + ":1")["revisionId"]
    latest = run(sfn, arn)
    assert json.loads(latest["output"]) == "new" and "stateMachineVersionArn" not in latest
    with err("StateMachineDoesNotExist"):
        sfn.start_execution(stateMachineArn=arn + ":7")


def test_express_sync_on_version(sfn):
    arn = sfn.create_state_machine(name="exs", definition=definition("v1"), roleArn=ROLE, type="EXPRESS",
                                   publish=True)["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=definition("v2"))
    assert json.loads(sfn.start_sync_execution(stateMachineArn=arn + ":1")["output"]) == "v1"
    assert json.loads(sfn.start_sync_execution(stateMachineArn=arn)["output"]) == "v2"


# ---- aliases ----------------------------------------------------------------------------------------


def two_versions(sfn, name):
    arn = sfn.create_state_machine(name=name, definition=definition("v1"), roleArn=ROLE,
                                   publish=True)["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=definition("v2"), publish=True)
    return arn, arn + ":1", arn + ":2"


def test_alias_crud(sfn):
    arn, v1, v2 = two_versions(sfn, "al")
    routing = [{"stateMachineVersionArn": v1, "weight": 100}]
    r = sfn.create_state_machine_alias(name="prod", routingConfiguration=routing, description="p")
    alias = r["stateMachineAliasArn"]
    assert alias == arn + ":prod"
    # Same request: idempotent; a different routing under the same name: conflict.
    assert sfn.create_state_machine_alias(name="prod", routingConfiguration=routing,
                                          description="p")["stateMachineAliasArn"] == alias
    with err("ConflictException"):
        sfn.create_state_machine_alias(name="prod", routingConfiguration=[{"stateMachineVersionArn": v2,
                                                                          "weight": 100}])
    d = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert d["name"] == "prod" and d["description"] == "p" and d["routingConfiguration"] == routing
    sfn.create_state_machine_alias(name="beta", routingConfiguration=[{"stateMachineVersionArn": v2,
                                                                      "weight": 100}])
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [arn + ":beta", alias]
    by_v1 = sfn.list_state_machine_aliases(stateMachineArn=v1)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in by_v1] == [alias]
    new = [{"stateMachineVersionArn": v1, "weight": 30}, {"stateMachineVersionArn": v2, "weight": 70}]
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=new)
    d = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert d["routingConfiguration"] == new and d["description"] == "p"
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="q")
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["description"] == "q"
    sfn.delete_state_machine_alias(stateMachineAliasArn=arn + ":beta")
    with err("ResourceNotFound"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=arn + ":beta")
    assert len(sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]) == 1


def test_alias_validation(sfn):
    arn, v1, v2 = two_versions(sfn, "av")
    other, o1, _ = two_versions(sfn, "other")
    cases = [
        [{"stateMachineVersionArn": v1, "weight": 50}],
        [{"stateMachineVersionArn": v1, "weight": 60}, {"stateMachineVersionArn": v2, "weight": 60}],
        [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v1, "weight": 50}],
        [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": o1, "weight": 50}],
    ]
    for routing in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sfn.create_state_machine_alias(name="bad", routingConfiguration=routing)
        assert code(e) == "ValidationException", routing
    with err("ResourceNotFound"):
        sfn.create_state_machine_alias(name="bad", routingConfiguration=[{"stateMachineVersionArn": arn + ":9",
                                                                          "weight": 100}])
    with err("InvalidArn"):
        sfn.create_state_machine_alias(name="bad", routingConfiguration=[{"stateMachineVersionArn": arn,
                                                                          "weight": 100}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.create_state_machine_alias(name="123", routingConfiguration=[{"stateMachineVersionArn": v1,
                                                                          "weight": 100}])
    assert code(e) in ("InvalidName", "ValidationException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.create_state_machine_alias(name="x", routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 40}, {"stateMachineVersionArn": v2, "weight": 30},
            {"stateMachineVersionArn": arn + ":3", "weight": 30}])
    assert code(e) == "ValidationException"
    alias = sfn.create_state_machine_alias(name="ok", routingConfiguration=[{"stateMachineVersionArn": v1,
                                                                              "weight": 100}])[
        "stateMachineAliasArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.update_state_machine_alias(stateMachineAliasArn=alias)
    assert code(e) == "ValidationException"
    with err("ResourceNotFound"):
        sfn.update_state_machine_alias(stateMachineAliasArn=arn + ":nope", description="x")
    with err("InvalidArn"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=v1)
    with err("StateMachineDoesNotExist"):
        sfn.list_state_machine_aliases(stateMachineArn=arn.replace(":av", ":gone"))


def test_alias_weighted_routing(sfn):
    arn, v1, v2 = two_versions(sfn, "wr")
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100},
                                           {"stateMachineVersionArn": v2, "weight": 0}])["stateMachineAliasArn"]

    def runs(n):
        seen = collections.Counter()
        for _ in range(n):
            d = run(sfn, alias)
            assert d["stateMachineAliasArn"] == alias
            seen[(json.loads(d["output"]), d["stateMachineVersionArn"])] += 1
        return seen

    assert runs(20) == {("v1", v1): 20}
    sfn.update_state_machine_alias(stateMachineAliasArn=alias,
                                   routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50},
                                                         {"stateMachineVersionArn": v2, "weight": 50}])
    seen = runs(60)
    # 60 fair draws all landing on one side: probability 2^-59.
    assert seen[("v1", v1)] > 0 and seen[("v2", v2)] > 0
    assert seen[("v1", v1)] + seen[("v2", v2)] == 60
    # ListExecutions by alias or version ARN: the executions started from it.
    by_alias = sfn.list_executions(stateMachineArn=alias, maxResults=1000)["executions"]
    assert len(by_alias) == 80 and all(e["stateMachineAliasArn"] == alias for e in by_alias)
    by_v2 = sfn.list_executions(stateMachineArn=v2, maxResults=1000)["executions"]
    assert len(by_v2) == seen[("v2", v2)] and all(e["stateMachineVersionArn"] == v2 for e in by_v2)
    page = sfn.list_executions(stateMachineArn=alias, maxResults=50, statusFilter="SUCCEEDED")
    assert len(page["executions"]) == 50 and page["nextToken"]
    assert len(sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]) == 80
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.list_executions(stateMachineArn=arn + ":missing")
    assert code(e) == "StateMachineDoesNotExist"


def test_delete_version_and_machine(sfn):
    arn, v1, v2 = two_versions(sfn, "del")
    alias = sfn.create_state_machine_alias(name="a", routingConfiguration=[{"stateMachineVersionArn": v1,
                                                                             "weight": 100}])[
        "stateMachineAliasArn"]
    with err("ConflictException") as e:
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    assert alias in message(e)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    assert [v["stateMachineVersionArn"] for v in
            sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]] == [v1]
    with err("StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=v2)
    with err("InvalidArn"):
        sfn.delete_state_machine_version(stateMachineVersionArn=arn)
    # Unreferenced once the alias is gone.
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    # DeleteStateMachine takes its versions and aliases with it.
    arn, v1, _ = two_versions(sfn, "del2")
    alias = sfn.create_state_machine_alias(name="a", routingConfiguration=[{"stateMachineVersionArn": v1,
                                                                             "weight": 100}])[
        "stateMachineAliasArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    with err("ResourceNotFound"):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
    with err("StateMachineDoesNotExist"):
        sfn.start_execution(stateMachineArn=alias)
    # A new machine of the same name starts again at version 1.
    assert sfn.create_state_machine(name="del2", definition=definition(1), roleArn=ROLE, publish=True)[
        "stateMachineVersionArn"] == arn + ":1"


def test_versions_survive_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    sfn = n.client("stepfunctions")
    if "PublishStateMachineVersion" not in sfn.meta.service_model.operation_names:
        sfn = Raw(sfn)
    arn = sfn.create_state_machine(name="dur", definition=definition("kept"), roleArn=ROLE,
                                   publish=True)["stateMachineArn"]
    sfn.create_state_machine_alias(name="a", routingConfiguration=[{"stateMachineVersionArn": arn + ":1",
                                                                     "weight": 100}])
    n.stop()
    n2 = nimbus_fresh(durable=True)
    sfn = Raw(n2.client("stepfunctions")) if isinstance(sfn, Raw) else n2.client("stepfunctions")
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn + ":1")["definition"])["States"]["A"][
        "Result"] == "kept"
    d = run(sfn, arn + ":a")
    assert json.loads(d["output"]) == "kept" and d["stateMachineAliasArn"] == arn + ":a"


# ---- TestState --------------------------------------------------------------------------------------


def test_state(sfn, state, inp=None, **kw):
    args = {"definition": json.dumps(state), "roleArn": ROLE}
    if inp is not None:
        args["input"] = json.dumps(inp)
    args.update(kw)
    return sfn.test_state(**args)


test_state.__test__ = False


def test_pass_with_inspection(sfn):
    state = {"Type": "Pass", "InputPath": "$.data", "Parameters": {"v.$": "$.x", "k": "lit"},
             "ResultPath": "$.res", "OutputPath": "$.res", "Next": "After"}
    r = test_state(sfn, state, {"data": {"x": 5}}, inspectionLevel="DEBUG")
    assert r["status"] == "SUCCEEDED" and r["nextState"] == "After"
    assert json.loads(r["output"]) == {"v": 5, "k": "lit"}
    i = r["inspectionData"]
    assert json.loads(i["input"]) == {"data": {"x": 5}}
    assert json.loads(i["afterInputPath"]) == {"x": 5}
    assert json.loads(i["afterParameters"]) == {"v": 5, "k": "lit"}
    assert json.loads(i["afterResultPath"]) == {"data": {"x": 5}, "res": {"v": 5, "k": "lit"}}
    # INFO (the default) has no inspection data; an End state has no nextState.
    r = test_state(sfn, {"Type": "Pass", "Result": 1, "End": True})
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == 1
    assert "inspectionData" not in r and "nextState" not in r


def test_choice_and_fail(sfn):
    choice = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
              "Default": "Small"}
    assert test_state(sfn, choice, {"n": 11})["nextState"] == "Big"
    r = test_state(sfn, choice, {"n": 1}, inspectionLevel="TRACE")
    assert r["nextState"] == "Small" and r["status"] == "SUCCEEDED"
    assert json.loads(r["inspectionData"]["afterInputPath"]) == {"n": 1}
    nodefault = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}]}
    r = test_state(sfn, nodefault, {"n": 2})
    assert r["status"] == "FAILED" and r["error"] == "States.NoChoiceMatched"
    r = test_state(sfn, {"Type": "Fail", "Error": "Oops", "Cause": "because"})
    assert r["status"] == "FAILED" and r["error"] == "Oops" and r["cause"] == "because"
    assert "output" not in r
    r = test_state(sfn, {"Type": "Pass", "InputPath": "$.missing", "End": True}, {"a": 1})
    assert r["status"] == "FAILED" and r["error"] == "States.Runtime"


def test_task_lambda(sfn, client):
    lam = client("lambda")
    make_fn(lam, "double", {"app.py": "def handler(e, c):\n    return {'d': e['n'] * 2}\n"})
    make_fn(lam, "boom", {"app.py": "def handler(e, c):\n    raise ValueError('bad ' + str(e))\n"})
    fn = "arn:aws:lambda:us-east-1:000000000000:function:double"
    state = {"Type": "Task", "Resource": fn, "Parameters": {"n.$": "$.v"},
             "ResultSelector": {"doubled.$": "$.d"}, "ResultPath": "$.out", "Next": "N"}
    r = test_state(sfn, state, {"v": 21}, inspectionLevel="DEBUG")
    assert r["status"] == "SUCCEEDED", r
    assert r["nextState"] == "N"
    assert json.loads(r["output"]) == {"v": 21, "out": {"doubled": 42}}
    i = r["inspectionData"]
    assert json.loads(i["afterParameters"]) == {"n": 21}
    assert json.loads(i["result"]) == {"d": 42}
    assert json.loads(i["afterResultSelector"]) == {"doubled": 42}
    assert json.loads(i["afterResultPath"]) == {"v": 21, "out": {"doubled": 42}}
    # The optimized integration returns the whole Invoke answer.
    r = test_state(sfn, {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "double", "Payload": {"n": 2}}, "End": True})
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"])["Payload"] == {"d": 4}

    failing = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:boom", "End": True}
    r = test_state(sfn, failing, {"x": 1})
    assert r["status"] == "FAILED" and r["error"] == "ValueError" and "bad" in r["cause"]
    retried = dict(failing, Retry=[{"ErrorEquals": ["Nope"]}, {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3,
                                                              "MaxAttempts": 2}])
    r = test_state(sfn, retried, inspectionLevel="DEBUG")
    assert r["status"] == "RETRIABLE" and r["error"] == "ValueError"
    assert r["inspectionData"]["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 3}
    # Once the retrier is used up, the catcher takes it.
    caught = dict(retried, Catch=[{"ErrorEquals": ["ValueError"], "ResultPath": "$.err", "Next": "Handler"}])
    r = test_state(sfn, caught, {"x": 1}, inspectionLevel="DEBUG", stateConfiguration={"retrierRetryCount": 2})
    assert r["status"] == "CAUGHT_ERROR" and r["nextState"] == "Handler"
    assert json.loads(r["output"])["err"]["Error"] == "ValueError"
    assert r["inspectionData"]["errorDetails"] == {"catchIndex": 0}
    r = test_state(sfn, {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:none",
                         "End": True})
    assert r["status"] == "FAILED" and r["error"] == "Lambda.ResourceNotFoundException"


def test_client_gone_while_task_runs(nimbus, sfn, client):
    """A TestState whose caller hangs up mid-task ends cleanly when the
    function returns (the server's exit checks for leaks under ASan)."""
    import time
    make_fn(client("lambda"), "slow", {"app.py": "import time\ndef handler(e, c):\n    time.sleep(1.5)\n"
                                                "    return 1\n"})
    quick = nimbus.client("stepfunctions", config=botocore.config.Config(
        retries={"max_attempts": 1}, read_timeout=0.5, inject_host_prefix=False))
    if not isinstance(sfn, Raw):
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            quick.test_state(definition=json.dumps({"Type": "Task", "End": True, "Resource":
                                                    "arn:aws:lambda:us-east-1:000000000000:function:slow"}),
                             roleArn=ROLE)
    time.sleep(2)
    r = test_state(sfn, {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:slow",
                         "End": True})
    assert r["status"] == "SUCCEEDED" and r["output"] == "1"


def test_state_name_and_mocks(sfn):
    machine = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"a": 1}, "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "End": True}}}, "ResultPath": "$.mapped", "End": True}}}
    r = sfn.test_state(definition=json.dumps(machine), stateName="A", roleArn=ROLE)
    assert r["status"] == "SUCCEEDED" and r["nextState"] == "M" and json.loads(r["output"]) == {"a": 1}
    # Map needs a mock, as on AWS.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.test_state(definition=json.dumps(machine), stateName="M", input=json.dumps({"items": [1]}))
    assert code(e) == "ValidationException"
    r = sfn.test_state(definition=json.dumps(machine), stateName="M", input=json.dumps({"items": [1, 2]}),
                       mock={"result": "[10, 20]"})
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == {"items": [1, 2], "mapped": [10, 20]}
    sel = dict(machine["States"]["M"], ItemSelector={"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index",
                                                     "k.$": "$.k"}, MaxConcurrency=2)
    r = test_state(sfn, sel, {"items": ["a", "b"], "k": 7}, mock={"result": "[]"}, inspectionLevel="DEBUG")
    i = r["inspectionData"]
    assert json.loads(i["afterItemsPath"]) == ["a", "b"] and i["maxConcurrency"] == 2
    assert json.loads(i["afterItemSelector"]) == [{"v": "a", "i": 0, "k": 7}, {"v": "b", "i": 1, "k": 7}]
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f", "Payload": {"t.$": "$$.Task.Token"}}, "End": True,
            "Catch": [{"ErrorEquals": ["My.Error"], "Next": "H"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        test_state(sfn, task)
    assert code(e) == "ValidationException"
    r = test_state(sfn, task, mock={"errorOutput": {"error": "My.Error", "cause": "mocked"}})
    assert r["status"] == "CAUGHT_ERROR" and r["nextState"] == "H"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.test_state(definition=json.dumps(machine), stateName="Nope")
    assert code(e) == "ValidationException"


def test_test_state_bad_input(sfn):
    with err("InvalidDefinition"):
        sfn.test_state(definition="{not json", roleArn=ROLE)
    with err("InvalidDefinition"):
        test_state(sfn, {"Type": "Bogus", "End": True})
    with err("InvalidDefinition"):
        test_state(sfn, {"Type": "Pass", "Nope": 1, "End": True})
    with err("InvalidDefinition"):
        test_state(sfn, {"Type": "Task", "End": True})
    with err("InvalidDefinition"):
        test_state(sfn, {"Type": "Pass", "InputPath": "$..x", "End": True})
    with err("InvalidExecutionInput"):
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), roleArn=ROLE, input="{bad")
    with err("InvalidArn"):
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), roleArn="not-an-arn")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), inspectionLevel="LOUD")
    assert code(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.test_state(definition=json.dumps({"Type": "Parallel", "Branches": [], "End": True}), roleArn=ROLE)
    assert code(e) in ("ValidationException", "InvalidDefinition")
