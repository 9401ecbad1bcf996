"""Step Functions activities (CreateActivity ... GetActivityTask, workers
answering with SendTask*), task TimeoutSeconds/HeartbeatSeconds for activity
and .waitForTaskToken tasks (States.Timeout / States.HeartbeatTimeout through
Retry and Catch, durable across a restart), RedriveExecution, and
states:startExecution.sync / .sync:2 child executions."""
import json
import threading
import time

import botocore
import pytest

from conftest import Config
from test_lambda_invoke import make_fn, zip_of
from test_sfn import events, machine, out, run, wait_done

ACCT = "arn:aws:states:us-east-1:000000000000"


def long_client(n):
    # Workers set their socket timeout above the 60 s long poll (AWS's advice).
    return n.client("stepfunctions", config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=65,
                                                   inject_host_prefix=False))


@pytest.fixture
def sfn(nimbus):
    nimbus.reset()
    return long_client(nimbus)


def code(e):
    return e.value.response["Error"]["Code"]


def task_of(arn, **kw):
    st = {"Type": "Task", "Resource": arn, "End": True}
    st.update(kw)
    return {"StartAt": "Work", "States": {"Work": st}}


def test_activity_crud_tags_and_pagination(sfn):
    a = sfn.create_activity(name="resize", tags=[{"key": "team", "value": "img"}])
    assert a["activityArn"] == ACCT + ":activity:resize"
    # Idempotent by name (AWS ignores different tags on the repeat).
    again = sfn.create_activity(name="resize", tags=[{"key": "other", "value": "x"}])
    assert again["activityArn"] == a["activityArn"] and again["creationDate"] == a["creationDate"]
    d = sfn.describe_activity(activityArn=a["activityArn"])
    assert d["name"] == "resize" and d["activityArn"] == a["activityArn"]
    assert sfn.list_tags_for_resource(resourceArn=a["activityArn"])["tags"] == [{"key": "team", "value": "img"}]
    sfn.tag_resource(resourceArn=a["activityArn"], tags=[{"key": "env", "value": "dev"}])
    assert len(sfn.list_tags_for_resource(resourceArn=a["activityArn"])["tags"]) == 2
    for n in ("b1", "b2", "b3"):
        sfn.create_activity(name=n)
    p = sfn.list_activities(maxResults=2)
    assert [x["name"] for x in p["activities"]] == ["b1", "b2"] and p["nextToken"]
    p2 = sfn.list_activities(maxResults=2, nextToken=p["nextToken"])
    assert [x["name"] for x in p2["activities"]] == ["b3", "resize"] and "nextToken" not in p2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.create_activity(name="bad name")
    assert code(e) == "InvalidName"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.describe_activity(activityArn=ACCT + ":stateMachine:resize")
    assert code(e) == "InvalidArn"
    sfn.delete_activity(activityArn=a["activityArn"])
    sfn.delete_activity(activityArn=a["activityArn"])  # deleting again is fine, as on AWS
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=a["activityArn"])
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.get_activity_task(activityArn=a["activityArn"])
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=a["activityArn"])


def test_activity_worker_loop(sfn):
    act = sfn.create_activity(name="double")["activityArn"]
    arn = machine(sfn, "worker", {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": act, "Parameters": {"n.$": "$.n"}, "ResultPath": "$.r",
                 "TimeoutSeconds": 30, "HeartbeatSeconds": 10, "Next": "Fail?"},
        "Fail?": {"Type": "Task", "Resource": act, "Parameters": {"n.$": "$.r.n"},
                  "Catch": [{"ErrorEquals": ["TooBig"], "ResultPath": "$.err", "Next": "Done"}], "End": True},
        "Done": {"Type": "Pass", "End": True}}})
    seen = []
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            t = sfn.get_activity_task(activityArn=act, workerName="w-1")
            if not t.get("taskToken"):
                continue
            inp = json.loads(t["input"])
            seen.append(inp)
            sfn.send_task_heartbeat(taskToken=t["taskToken"])
            if inp["n"] > 10:
                sfn.send_task_failure(taskToken=t["taskToken"], error="TooBig", cause="n=%d" % inp["n"])
            else:
                sfn.send_task_success(taskToken=t["taskToken"], output=json.dumps({"n": inp["n"] * 2}))
            # A closed task's token: TaskTimedOut, as on AWS.
            with pytest.raises(sfn.exceptions.TaskTimedOut):
                sfn.send_task_success(taskToken=t["taskToken"], output="{}")
            if len(seen) == 2:
                return

    th = threading.Thread(target=worker)
    th.start()
    try:
        d = run(sfn, arn, {"n": 6}, timeout=30)
    finally:
        stop.set()
        th.join(70)
    assert d["status"] == "SUCCEEDED", d
    assert seen == [{"n": 6}, {"n": 12}]
    assert out(d) == {"n": 6, "r": {"n": 12}, "err": {"Error": "TooBig", "Cause": "n=12"}}
    ev = events(sfn, d["executionArn"])
    types = [e["type"] for e in ev]
    assert types[:6] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                         "ActivitySucceeded", "TaskStateExited"]
    assert "ActivityFailed" in types
    sched = ev[2]["activityScheduledEventDetails"]
    assert sched["resource"] == act and json.loads(sched["input"]) == {"n": 6}
    assert sched["timeoutInSeconds"] == 30 and sched["heartbeatInSeconds"] == 10
    assert ev[3]["activityStartedEventDetails"]["workerName"] == "w-1"
    failed = [e for e in ev if e["type"] == "ActivityFailed"][0]["activityFailedEventDetails"]
    assert failed == {"error": "TooBig", "cause": "n=12"}


def test_unknown_activity_and_bad_tokens(sfn):
    missing = ACCT + ":activity:nobody"
    arn = machine(sfn, "noact", task_of(missing))
    d = run(sfn, arn)
    assert d["status"] == "FAILED" and d["error"] == "ActivityDoesNotExist" and missing in d["cause"]
    types = [e["type"] for e in events(sfn, d["executionArn"])]
    assert "ActivityScheduleFailed" in types
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken="not-a-token", output="{}")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_heartbeat(taskToken="short")
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken="A" * 64, error="E")
    act = sfn.create_activity(name="o")["activityArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        machine(sfn, "hb", task_of(act, TimeoutSeconds=5, HeartbeatSeconds=5))
    assert code(e) == "InvalidDefinition" and "HeartbeatSeconds" in e.value.response["Error"]["Message"]


def test_heartbeat_timeout_caught_and_timeout_retried(sfn):
    act = sfn.create_activity(name="slowpoke")["activityArn"]
    arn = machine(sfn, "hbt", {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": act, "HeartbeatSecondsPath": "$.hb", "TimeoutSeconds": 20,
                 "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.err", "Next": "Late"}],
                 "End": True},
        "Late": {"Type": "Pass", "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"hb": 1}))["executionArn"]
    t = sfn.get_activity_task(activityArn=act, workerName="lazy")
    assert t["taskToken"] and json.loads(t["input"]) == {"hb": 1}
    time.sleep(0.6)
    sfn.send_task_heartbeat(taskToken=t["taskToken"])  # pushes the deadline back
    time.sleep(0.6)
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED" and out(d)["err"]["Error"] == "States.HeartbeatTimeout"
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=t["taskToken"], output="{}")
    types = [e["type"] for e in events(sfn, ex)]
    assert "ActivityTimedOut" in types

    # Nobody picks it up: TimeoutSeconds counts from ActivityScheduled; Retry sees States.Timeout.
    arn2 = machine(sfn, "tot", task_of(act, TimeoutSeconds=1, Retry=[
        {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}]))
    d = run(sfn, arn2)
    assert d["status"] == "FAILED" and d["error"] == "States.Timeout"
    assert [e["type"] for e in events(sfn, d["executionArn"])].count("ActivityTimedOut") == 2


def test_wait_for_task_token_heartbeat_timeout(sfn, client):
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="hb-tokens")["QueueUrl"]
    arn = machine(sfn, "cbhb", task_of("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                       Parameters={"QueueUrl": url, "MessageBody.$": "$$.Task.Token"},
                                       HeartbeatSeconds=1, TimeoutSeconds=60))
    d = run(sfn, arn)
    assert d["status"] == "FAILED" and d["error"] == "States.HeartbeatTimeout"
    token = sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")
    to = [e for e in events(sfn, d["executionArn"]) if e["type"] == "TaskTimedOut"][0]["taskTimedOutEventDetails"]
    assert to["error"] == "States.HeartbeatTimeout" and to["resourceType"] == "sqs"


def test_long_poll_empty_and_woken(nimbus_fresh, monkeypatch):
    monkeypatch.setenv("NIMBUS_SFN_ACTIVITY_POLL_S", "1.5")
    n = nimbus_fresh()
    c = long_client(n)
    act = c.create_activity(name="idle")["activityArn"]
    t0 = time.time()
    r = c.get_activity_task(activityArn=act)
    assert not r.get("taskToken") and 1.3 < time.time() - t0 < 5
    # A poll parked before the task exists is answered as soon as it is scheduled.
    arn = machine(c, "wake", task_of(act))
    got = {}

    def poll():
        got.update(long_client(n).get_activity_task(activityArn=act, workerName="early"))

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    ex = c.start_execution(stateMachineArn=arn, input='{"k": 1}')["executionArn"]
    th.join(10)
    assert got.get("taskToken") and json.loads(got["input"]) == {"k": 1}
    c.send_task_success(taskToken=got["taskToken"], output='{"ok": true}')
    assert out(wait_done(c, ex)) == {"ok": True}


def test_deadlines_and_queue_survive_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    c = long_client(n)
    act = c.create_activity(name="durable")["activityArn"]
    dur = task_of(act, HeartbeatSeconds=2, TimeoutSeconds=30,
                  Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.err", "Next": "Caught"}])
    dur["States"]["Caught"] = {"Type": "Pass", "End": True}
    arn = machine(c, "dur", dur)
    arn_q = machine(c, "durq", task_of(act))
    ex = c.start_execution(stateMachineArn=arn)["executionArn"]
    t = c.get_activity_task(activityArn=act, workerName="w")
    assert t["taskToken"]
    ex2 = c.start_execution(stateMachineArn=arn_q, input='{"q": 2}')["executionArn"]  # queued, nobody has it
    time.sleep(0.3)
    n.kill9()
    n.start(n.port)
    c = long_client(n)
    # The heartbeat deadline was stored: it fires after the restart.
    d = wait_done(c, ex, 15)
    assert d["status"] == "SUCCEEDED" and out(d)["err"]["Error"] == "States.HeartbeatTimeout"
    types = [e["type"] for e in events(c, ex)]
    assert "ActivityTimedOut" in types
    # The queued task is still queued, once.
    t2 = c.get_activity_task(activityArn=act, workerName="w2")
    assert json.loads(t2["input"]) == {"q": 2}
    c.send_task_success(taskToken=t2["taskToken"], output='{"r": 1}')
    d2 = wait_done(c, ex2)
    assert d2["status"] == "SUCCEEDED" and out(d2) == {"r": 1}
    assert [e["type"] for e in events(c, ex2)].count("ActivityScheduled") == 1


BROKEN = "def handler(event, context):\n    raise RuntimeError('broken')\n"
FIXED = "def handler(event, context):\n    return {'fixed': True}\n"

needs_redrive = pytest.mark.skipif(
    not hasattr(botocore.session.get_session().create_client("stepfunctions", region_name="us-east-1"),
                "redrive_execution"), reason="this botocore predates RedriveExecution")


@needs_redrive
def test_redrive_after_fixing_lambda(sfn, client):
    lam = client("lambda")
    make_fn(lam, "redrivefn", {"app.py": BROKEN})
    fn = "arn:aws:lambda:us-east-1:000000000000:function:redrivefn"
    key = str(time.time())
    arn = machine(sfn, "redrive", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": "a", "ResultPath": "$.a", "Next": "Call"},
        "Call": {"Type": "Task", "Resource": fn, "ResultPath": "$.call", "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.RedriveCount"}, "ResultPath": "$.redrives",
                  "End": True}}})
    d = run(sfn, arn, {"key": key})
    assert d["status"] == "FAILED" and d["error"] == "RuntimeError"
    assert d["redriveCount"] == 0 and d["redriveStatus"] == "REDRIVABLE"
    ok = run(sfn, machine(sfn, "fine", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    assert ok["redriveStatus"] == "NOT_REDRIVABLE" and "SUCCEEDED" in ok["redriveStatusReason"]
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=ok["executionArn"])
    lam.update_function_code(FunctionName="redrivefn", ZipFile=zip_of({"app.py": FIXED}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="redrivefn")
    r = sfn.redrive_execution(executionArn=d["executionArn"])
    assert r["redriveDate"]
    d2 = wait_done(sfn, d["executionArn"])
    assert d2["status"] == "SUCCEEDED", d2
    assert out(d2) == {"key": key, "a": "a", "call": {"fixed": True}, "redrives": {"n": 1}}
    assert d2["redriveCount"] == 1 and d2["redriveDate"] and d2["redriveStatus"] == "NOT_REDRIVABLE"
    ev = events(sfn, d["executionArn"])
    types = [e["type"] for e in ev]
    assert [e["id"] for e in ev] == list(range(1, len(ev) + 1))
    i = types.index("ExecutionRedriven")
    assert types[i - 1] == "ExecutionFailed" and ev[i]["executionRedrivenEventDetails"]["redriveCount"] == 1
    entered = [e["stateEnteredEventDetails"]["name"] for e in ev if e["type"].endswith("StateEntered")]
    assert entered == ["A", "Call", "Call", "Count"]  # the succeeded state did not run again
    assert types[i + 1] == "TaskStateEntered" and types[-1] == "ExecutionSucceeded"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=d["executionArn"])
    redriven = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in redriven] == [d["executionArn"]] and redriven[0]["redriveCount"] == 1
    assert sfn.list_executions(stateMachineArn=arn, redriveFilter="NOT_REDRIVEN")["executions"] == []
    # A Parallel: only the failed branch runs again.
    lam.update_function_code(FunctionName="redrivefn", ZipFile=zip_of({"app.py": BROKEN}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="redrivefn")
    par = machine(sfn, "redrive-par", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "Result": "ok", "End": True}}},
        {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": fn, "End": True}}}]}}})
    d = run(sfn, par)
    assert d["status"] == "FAILED" and d["redriveStatus"] == "REDRIVABLE"
    lam.update_function_code(FunctionName="redrivefn", ZipFile=zip_of({"app.py": FIXED}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="redrivefn")
    sfn.redrive_execution(executionArn=d["executionArn"])
    d = wait_done(sfn, d["executionArn"])
    assert d["status"] == "SUCCEEDED" and out(d) == ["ok", {"fixed": True}], d
    ev = events(sfn, d["executionArn"])
    assert [e["id"] for e in ev] == list(range(1, len(ev) + 1))
    entered = [e["stateEnteredEventDetails"]["name"] for e in ev if e["type"].endswith("StateEntered")]
    assert entered.count("Ok") == 1 and entered.count("Call") == 2 and entered.count("P") == 1

    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.redrive_execution(executionArn=ACCT + ":execution:redrive:nope")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.redrive_execution(executionArn=arn)
    assert code(e) == "InvalidArn"


@needs_redrive
def test_redrive_aborted_activity_and_parallel(sfn):
    act = sfn.create_activity(name="par")["activityArn"]
    arn = machine(sfn, "redpar", {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Fast", "States": {"Fast": {"Type": "Pass", "Result": "fast", "End": True}}},
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": act, "End": True}}}]}}})
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    t = sfn.get_activity_task(activityArn=act)
    assert t["taskToken"]
    sfn.stop_execution(executionArn=ex, error="Stopped", cause="by test")
    d = sfn.describe_execution(executionArn=ex)
    assert d["status"] == "ABORTED" and d["redriveStatus"] == "REDRIVABLE"
    with pytest.raises(sfn.exceptions.TaskTimedOut):  # the aborted task's token is dead
        sfn.send_task_success(taskToken=t["taskToken"], output="{}")
    sfn.redrive_execution(executionArn=ex)
    t2 = sfn.get_activity_task(activityArn=act)
    assert t2["taskToken"] and t2["taskToken"] != t["taskToken"]
    sfn.send_task_success(taskToken=t2["taskToken"], output='"slow"')
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED" and out(d) == ["fast", "slow"]
    types = [e["type"] for e in events(sfn, ex)]
    assert types.count("PassStateEntered") == 1 and types.count("ActivityScheduled") == 2


CHILD_OK = {"StartAt": "C", "States": {"C": {"Type": "Pass", "Parameters": {"got.$": "$.v"}, "End": True}}}
CHILD_FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ChildBroke", "Cause": "on purpose"}}}


def test_start_execution_sync_and_sync2(sfn):
    ok = machine(sfn, "child-ok", CHILD_OK)
    bad = machine(sfn, "child-bad", CHILD_FAIL)

    def parent(name, res, child):
        return machine(sfn, name, {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": res, "Parameters": {"StateMachineArn": child, "Input": {"v.$": "$.v"}},
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Caught"}], "End": True},
            "Caught": {"Type": "Pass", "End": True}}})

    d = run(sfn, parent("p1", "arn:aws:states:::states:startExecution.sync", ok), {"v": 7})
    assert d["status"] == "SUCCEEDED", d
    o = out(d)
    assert o["Status"] == "SUCCEEDED" and json.loads(o["Output"]) == {"got": 7} and json.loads(o["Input"]) == {"v": 7}
    assert o["StateMachineArn"] == ok and o["ExecutionArn"].startswith(ACCT + ":execution:child-ok:")
    child = sfn.describe_execution(executionArn=o["ExecutionArn"])
    assert child["status"] == "SUCCEEDED" and json.loads(child["output"]) == {"got": 7}
    types = [e["type"] for e in events(sfn, d["executionArn"])]
    assert types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]

    d = run(sfn, parent("p2", "arn:aws:states:::states:startExecution.sync:2", ok), {"v": 8})
    o = out(d)
    assert o["Output"] == {"got": 8} and o["Input"] == {"v": 8} and o["Status"] == "SUCCEEDED"
    ev = events(sfn, d["executionArn"])
    assert [e for e in ev if e["type"] == "TaskSucceeded"][0]["taskSucceededEventDetails"]["resource"] == \
        "startExecution.sync:2"

    d = run(sfn, parent("p3", "arn:aws:states:::states:startExecution.sync:2", bad), {"v": 9})
    assert d["status"] == "SUCCEEDED", d
    err = out(d)["err"]
    assert err["Error"] == "States.TaskFailed"
    cause = json.loads(err["Cause"])
    assert cause["Status"] == "FAILED" and cause["Error"] == "ChildBroke" and cause["Cause"] == "on purpose"

    # Without .sync the task ends when the child starts.
    d = run(sfn, parent("p4", "arn:aws:states:::states:startExecution", ok), {"v": 1})
    assert set(out(d)) == {"ExecutionArn", "StartDate"}

    # A missing child machine fails the task with the API's error.
    d = run(sfn, machine(sfn, "p5", task_of("arn:aws:states:::states:startExecution.sync",
                                            Parameters={"StateMachineArn": ACCT + ":stateMachine:absent"})))
    assert d["status"] == "FAILED" and "StateMachineDoesNotExist" in d["error"]


def test_sync_child_wait_survives_restart(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    c = long_client(n)
    child = machine(c, "slowchild", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "Result": {"late": 1}, "End": True}}})
    parent = machine(c, "waiter", task_of("arn:aws:states:::states:startExecution.sync:2",
                                          Parameters={"StateMachineArn": child}, OutputPath="$.Output"))
    ex = c.start_execution(stateMachineArn=parent)["executionArn"]
    time.sleep(0.5)
    n.kill9()
    n.start(n.port)
    c = long_client(n)
    d = wait_done(c, ex, 20)
    assert d["status"] == "SUCCEEDED" and out(d) == {"late": 1}
    assert [e["type"] for e in events(c, ex)].count("TaskSubmitted") == 1


def test_sync_child_stopped_with_parent_and_on_timeout(sfn):
    child = machine(sfn, "longchild", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    parent = machine(sfn, "stopper", task_of("arn:aws:states:::states:startExecution.sync",
                                             Parameters={"StateMachineArn": child}))

    def child_of(ex):
        for _ in range(100):
            sub = [e for e in events(sfn, ex) if e["type"] == "TaskSubmitted"]
            if sub:
                return json.loads(sub[0]["taskSubmittedEventDetails"]["output"])["ExecutionArn"]
            time.sleep(0.05)
        raise AssertionError("child not started")

    ex = sfn.start_execution(stateMachineArn=parent)["executionArn"]
    kid = child_of(ex)
    assert sfn.describe_execution(executionArn=kid)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=ex)
    assert wait_done(sfn, kid, 5)["status"] == "ABORTED"

    timed = machine(sfn, "timed", task_of("arn:aws:states:::states:startExecution.sync",
                                          Parameters={"StateMachineArn": child}, TimeoutSeconds=1))
    d = run(sfn, timed)
    assert d["status"] == "FAILED" and d["error"] == "States.Timeout"
    assert wait_done(sfn, child_of(d["executionArn"]), 5)["status"] == "ABORTED"


def test_poller_hangs_up_and_shutdown_with_poller_parked(nimbus_fresh):
    n = nimbus_fresh()
    c = long_client(n)
    act = c.create_activity(name="hangup")["activityArn"]
    impatient = n.client("stepfunctions", config=Config(retries={"max_attempts": 1}, read_timeout=1,
                                                        inject_host_prefix=False))
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.get_activity_task(activityArn=act)
    # The hung-up poll got nothing: the next task goes to the next poller.
    arn = machine(c, "afterhangup", task_of(act))
    ex = c.start_execution(stateMachineArn=arn)["executionArn"]
    t = c.get_activity_task(activityArn=act)
    c.send_task_success(taskToken=t["taskToken"], output="1")
    assert out(wait_done(c, ex)) == 1
    # A poll still parked when the server stops: a clean exit (ASan: no leak).
    answer = {}

    def parked():
        try:
            answer["r"] = long_client(n).get_activity_task(activityArn=act)
        except Exception as e:  # noqa: BLE001 - reported below
            answer["e"] = e

    th = threading.Thread(target=parked)
    th.start()
    time.sleep(0.3)
    assert n.stop() == 0, n.output()[-3000:]
    th.join(10)
    # Stopping cancels the parked call (the connection closes) or answers it empty; it never hangs.
    assert not th.is_alive() and ("e" in answer or not answer["r"].get("taskToken")), answer
