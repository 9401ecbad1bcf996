#!/usr/bin/env python3
"""Step Functions benchmark: EXPRESS StartSyncExecution of a 10-state
machine (Pass states with Parameters and ResultPath, Choice states with
numeric and string rules) through wrk, 8 connections.  Reports executions/s,
p99 latency and nimbus's CPU per execution.  Target: >= 5,000/s.

Then the STANDARD transition overhead: one STANDARD execution of a loop
(a Pass adding 1 with States.MathAdd, a Choice comparing) run LOOPS times,
in memory and with --data-dir (each transition's history stored and
group-committed), timed by the execution's own startDate/stopDate and
divided by the states it entered.  Target: <= 0.2 ms per transition.

Usage: python3 bench/sfn.py [--seconds N] [--out bench/sfn-results.md]
Needs wrk (Debian package).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import cpu_seconds, free_port, start, wrk_json  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NIMBUS = os.path.join(ROOT, "build", "nimbus")
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/states/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)

DEFINITION = {"StartAt": "P1", "States": {
    "P1": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": "a"}, "Next": "C1"},
    "C1": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5, "Next": "P2"}],
           "Default": "P3"},
    "P2": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "P4"},
    "P3": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "P4"},
    "P4": {"Type": "Pass", "Parameters": {"n.$": "$.n", "size.$": "$.size", "sum.$": "States.MathAdd($.n, 1)"},
           "Next": "C2"},
    "C2": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.size", "StringEquals": "big"},
                                                  {"Variable": "$.sum", "NumericLessThan": 100}], "Next": "P5"}],
           "Default": "P6"},
    "P5": {"Type": "Pass", "ResultPath": "$.p5", "Result": {"ok": True}, "Next": "P7"},
    "P6": {"Type": "Pass", "ResultPath": "$.p6", "Result": {"ok": False}, "Next": "P7"},
    "P7": {"Type": "Pass", "OutputPath": "$", "Next": "Done"},
    "Done": {"Type": "Succeed"}}}


def call(port, op, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/x-amz-json-1.0",
                                          "X-Amz-Target": f"AWSStepFunctions.{op}", "Authorization": AUTH,
                                          "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


LOOPS = 1000
LOOP = {"StartAt": "Init", "States": {
    "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Inc"},
    "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": LOOPS, "Next": "Inc"}],
              "Default": "Done"},
    "Done": {"Type": "Succeed"}}}


def standard_transitions(durable):
    """ms per state transition of one long STANDARD execution, and nimbus's
    CPU µs per transition."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="nimbus-sfn-bench-") if durable else None
    cmd = [NIMBUS, "--port", str(port), "--log-level", "warn"] + (["--data-dir", data] if data else [])
    proc, _ = start(cmd, port, "/_nimbus/health")
    try:
        arn = call(port, "CreateStateMachine", {"name": "loop", "definition": json.dumps(LOOP),
                                                "roleArn": "arn:aws:iam::000000000000:role/r"})["stateMachineArn"]
        cpu0 = cpu_seconds(proc.pid)
        ex = call(port, "StartExecution", {"stateMachineArn": arn})["executionArn"]
        while True:
            d = call(port, "DescribeExecution", {"executionArn": ex})
            if d["status"] != "RUNNING":
                break
            time.sleep(0.01)
        cpu = cpu_seconds(proc.pid) - cpu0
        if d["status"] != "SUCCEEDED" or json.loads(d["output"]) != {"i": LOOPS}:
            raise RuntimeError(f"loop failed: {d}")
        states = 2 + 2 * LOOPS  # Init, LOOPS x (Inc, Check), Done
        ms = (d["stopDate"] - d["startDate"]) * 1000
        return ms / states, cpu * 1e6 / states
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if data:
            shutil.rmtree(data, ignore_errors=True)


def wrk(port, body, seconds, pid):
    return wrk_json(port, "AWSStepFunctions.StartSyncExecution", "application/x-amz-json-1.0", AUTH,
                    body, seconds, pid=pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "sfn-results.md"))
    a = ap.parse_args()
    port = free_port()
    proc, _ = start([NIMBUS, "--port", str(port), "--log-level", "warn"], port, "/_nimbus/health")
    try:
        arn = call(port, "CreateStateMachine", {"name": "bench", "definition": json.dumps(DEFINITION),
                                                "roleArn": "arn:aws:iam::000000000000:role/r",
                                                "type": "EXPRESS"})["stateMachineArn"]
        body = {"stateMachineArn": arn, "input": json.dumps({"n": 7})}
        r = call(port, "StartSyncExecution", body)
        if r["status"] != "SUCCEEDED":
            raise RuntimeError(f"execution failed: {r}")
        eps, errs, p99, cpu = wrk(port, body, a.seconds, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    mem_ms, mem_cpu = standard_transitions(False)
    dur_ms, dur_cpu = standard_transitions(True)
    res = {"executions_per_s": round(eps), "p99_ms": p99, "cpu_us_per_execution": round(cpu, 1), "errors": errs,
           "standard_ms_per_transition": round(mem_ms, 4), "standard_cpu_us_per_transition": round(mem_cpu, 1),
           "durable_ms_per_transition": round(dur_ms, 4), "durable_cpu_us_per_transition": round(dur_cpu, 1),
           "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
           "seconds": a.seconds}
    with open(os.path.join(ROOT, "bench", "sfn-results.json"), "w") as f:
        json.dump(res, f, indent=2)
    with open(a.out, "w") as f:
        f.write("# Step Functions benchmark results\n\nProduced by `python3 bench/sfn.py` (see its header).\n\n"
                f"Measured {res['measured']} on {res['cores']} cores, wrk -t2 -c8 -d{a.seconds}s, EXPRESS "
                "StartSyncExecution of a 10-state Pass/Choice machine (8 states run per execution).\n\n"
                "| metric | nimbus |\n|---|---|\n"
                f"| executions/s | {res['executions_per_s']:,} |\n"
                f"| StartSyncExecution p99 | {p99:.1f} ms |\n"
                f"| server CPU per execution | {res['cpu_us_per_execution']} µs |\n"
                f"| wrk errors | {errs} |\n"
                f"\nSTANDARD transition overhead: one execution of {2 + 2 * LOOPS} states (a Pass/Choice loop), "
                "timed by its startDate/stopDate (target <= 0.2 ms per transition):\n\n"
                "| mode | ms per transition | server CPU per transition |\n|---|---|---|\n"
                f"| in memory | {mem_ms:.3f} | {mem_cpu:.1f} µs |\n"
                f"| --data-dir (stored, group-committed) | {dur_ms:.3f} | {dur_cpu:.1f} µs |\n")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
