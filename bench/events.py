#!/usr/bin/env python3
"""EventBridge benchmarks, with moto_server measured in the same run.

  match     events/s through PutEvents (10 entries per call) on a bus with
            10 rules, each entry matching one rule that has no target: the
            cost of checking, enveloping and matching (wrk, 8 connections)
  deliver   the same with one SQS target on every rule: each event also
            becomes a pending delivery and an SQS message
  cpu       nimbus's CPU per event in both

Usage: python3 bench/events.py [--seconds N] [--skip-moto] [--out bench/events-results.md]
Needs wrk (Debian package); moto_server if present.
"""
import argparse
import json
import os
import shutil
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import free_port, start, wrk_json  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NIMBUS = os.path.join(ROOT, "build", "nimbus")


def auth(service):
    return (f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


HEADERS = {
    "events": ("application/x-amz-json-1.1", "AWSEvents"),
    "sqs": ("application/x-amz-json-1.0", "AmazonSQS"),
}


def call(port, service, op, body):
    ctype, prefix = HEADERS[service]
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": ctype, "X-Amz-Target": f"{prefix}.{op}",
                                          "Authorization": auth(service), "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def wrk_put_events(port, body, seconds, pid):
    rps, errs, p99, cpu = wrk_json(port, "AWSEvents.PutEvents", "application/x-amz-json-1.1",
                                   auth("events"), body, seconds, pid=pid)
    n = len(body["Entries"])
    return rps * n, errs, p99, cpu / n if cpu is not None else None


def setup(port, with_targets):
    qarn = None
    if with_targets:
        url = call(port, "sqs", "CreateQueue", {"QueueName": "bench"})["QueueUrl"]
        qarn = call(port, "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]})[
            "Attributes"]["QueueArn"]
    for i in range(10):
        pattern = {"source": [f"bench.app{i}"], "detail-type": ["Order"],
                   "detail": {"state": ["open", "paid"], "amount": [{"numeric": [">", 0]}]}}
        call(port, "events", "PutRule", {"Name": f"r{i}", "EventPattern": json.dumps(pattern)})
        if qarn:
            call(port, "events", "PutTargets", {"Rule": f"r{i}", "Targets": [{"Id": "q", "Arn": qarn}]})
    entries = [{"Source": f"bench.app{i}", "DetailType": "Order",
                "Detail": json.dumps({"state": "open", "amount": 10 + i, "id": f"o-{i}"})} for i in range(10)]
    return {"Entries": entries}


def bench_server(name, cmd, port, health, seconds):
    res = {"server": name}
    for mode in ("match", "deliver"):
        proc, _ = start(cmd, port, health)
        try:
            body = setup(port, mode == "deliver")
            r = call(port, "events", "PutEvents", body)
            if r.get("FailedEntryCount"):
                raise RuntimeError(f"{name}: PutEvents failed: {r}")
            eps, errs, p99, cpu = wrk_put_events(port, body, seconds, proc.pid)
            res[mode] = eps
            res[mode + "_errors"] = errs
            res[mode + "_p99_ms"] = p99
            res[mode + "_cpu_us"] = cpu
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "events-results.md"))
    a = ap.parse_args()
    results = []
    port = free_port()
    results.append(bench_server("nimbus", [NIMBUS, "--port", str(port), "--log-level", "error"], port,
                                "/_nimbus/health", a.seconds))
    moto = shutil.which("moto_server")
    if moto and not a.skip_moto:
        port = free_port()
        results.append(bench_server("moto_server", [moto, "-p", str(port)], port, "/moto-api/", a.seconds))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cols = [r["server"] for r in results]
    lines = ["# EventBridge benchmark results", "",
             "Produced by `python3 bench/events.py` (see its header).", "",
             f"Measured {when} on {os.cpu_count()} cores, wrk -t2 -c8 -d{a.seconds}s, PutEvents of 10 entries,"
             " 10 rules on the default bus; all servers measured in this run.", "",
             "| metric | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]

    def row(label, key, fmt):
        lines.append(f"| {label} | " + " | ".join(fmt(r[key]) if r.get(key) is not None else "—"
                                                  for r in results) + " |")
    row("events/s, matching only", "match", lambda v: f"{v:,.0f}")
    row("PutEvents p99, matching only", "match_p99_ms", lambda v: f"{v:.1f} ms")
    row("server CPU per event, matching only", "match_cpu_us", lambda v: f"{v:.1f} µs")
    row("events/s, delivered to SQS", "deliver", lambda v: f"{v:,.0f}")
    row("PutEvents p99, delivered to SQS", "deliver_p99_ms", lambda v: f"{v:.1f} ms")
    row("server CPU per event, delivered to SQS", "deliver_cpu_us", lambda v: f"{v:.1f} µs")
    for r in results:
        r["errors"] = f"{r['match_errors']}/{r['deliver_errors']}"
    row("wrk errors (match/deliver)", "errors", str)
    text = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
