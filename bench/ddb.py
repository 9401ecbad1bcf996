#!/usr/bin/env python3
"""DynamoDB benchmarks: nimbus beside moto_server, measured in the same run.

For each server, over HTTP keep-alive with 8 connections (wrk, 2 threads):
  put     PutItem/s, a new key per request (~200-byte items)
  get     GetItem/s of random keys among 10,000 stored items
  query   Query/s returning one partition of 100 items of 1 KB each
Server CPU per operation is reported too: this machine has heavy, variable
hypervisor steal, so CPU us/op is the steadier figure.

Usage: python3 bench/ddb.py [--seconds N] [--skip-moto] [--out bench/ddb-results.md]
Needs wrk (Debian package); moto_server if present.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import cpu_seconds, free_port, read_cpu as steal  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NIMBUS = os.path.join(ROOT, "build", "nimbus")
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
TABLE = "bench"
GET_KEYS = 10000


def wait_up(proc, port, path):
    t0 = time.time()
    while time.time() - t0 < 60:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server did not start")


def call(port, op, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/x-amz-json-1.0",
                                          "X-Amz-Target": f"DynamoDB_20120810.{op}",
                                          "Authorization": AUTH, "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"{}")


LUA_HEAD = '''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["Authorization"] = "%s"
wrk.headers["X-Amz-Date"] = "20260101T000000Z"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.%s"
n = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(99)))
end
'''

LUA_PUT = '''
request = function()
  n = n + 1
  local body = '{"TableName":"bench","Item":{"pk":{"S":"k' .. tid .. '-' .. n .. '"},"sk":{"N":"0"},' ..
    '"name":{"S":"a benchmark item with a short payload"},"count":{"N":"' .. n .. '"},' ..
    '"tags":{"SS":["a","b","c"]},"nested":{"M":{"x":{"N":"1.5"},"y":{"BOOL":true}}}}}'
  return wrk.format(nil, nil, nil, body)
end
'''

LUA_GET = '''
math.randomseed(os.time())
request = function()
  local k = math.random(0, %d - 1)
  return wrk.format(nil, nil, nil, '{"TableName":"bench","Key":{"pk":{"S":"g' .. k .. '"},"sk":{"N":"0"}}}')
end
'''

LUA_QUERY = '''
request = function()
  return wrk.format(nil, nil, nil, '{"TableName":"bench","KeyConditionExpression":"pk = :p",' ..
    '"ExpressionAttributeValues":{":p":{"S":"q"}}}')
end
'''


def wrk(port, op, lua, seconds, pid):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(LUA_HEAD % (AUTH, op) + lua)
    script.close()
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t", "2", "-c", "8", "-d", f"{seconds}s", "-s", script.name,
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    os.unlink(script.name)
    for line in out.splitlines():
        if line.startswith("RESULT"):
            _, reqs, dur_us, errs, p99 = line.split()
            reqs = int(reqs)
            return {"ops": reqs / (int(dur_us) / 1e6), "errors": int(errs), "p99_ms": int(p99) / 1000.0,
                    "cpu_us": (cpu_seconds(pid) - cpu0) * 1e6 / max(reqs, 1)}
    raise RuntimeError("wrk failed: " + out)


def load(port):
    call(port, "CreateTable", {"TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
                               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                        {"AttributeName": "sk", "AttributeType": "N"}],
                               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                             {"AttributeName": "sk", "KeyType": "RANGE"}]})
    time.sleep(0.2)
    for base in range(0, GET_KEYS, 25):
        reqs = [{"PutRequest": {"Item": {"pk": {"S": f"g{k}"}, "sk": {"N": "0"}, "v": {"S": "x" * 100}}}}
                for k in range(base, min(base + 25, GET_KEYS))]
        call(port, "BatchWriteItem", {"RequestItems": {TABLE: reqs}})
    kb = "y" * 1000
    for base in range(0, 100, 25):
        reqs = [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"N": str(k)}, "v": {"S": kb}}}}
                for k in range(base, base + 25)]
        call(port, "BatchWriteItem", {"RequestItems": {TABLE: reqs}})
    assert call(port, "Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p",
                                "ExpressionAttributeValues": {":p": {"S": "q"}}})["Count"] == 100


def bench(name, cmd, port, health, seconds):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(proc, port, health)
        load(port)
        res = {"server": name}
        res["put"] = wrk(port, "PutItem", LUA_PUT, seconds, proc.pid)
        res["get"] = wrk(port, "GetItem", LUA_GET % GET_KEYS, seconds, proc.pid)
        res["query"] = wrk(port, "Query", LUA_QUERY, seconds, proc.pid)
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "ddb-results.md"))
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk: apt-get install wrk")
    s0, t0 = steal()
    results = []
    port = free_port()
    results.append(bench("nimbus", [NIMBUS, "--port", str(port), "--log-level", "error"], port,
                         "/_nimbus/health", a.seconds))
    moto = shutil.which("moto_server")
    if moto and not a.skip_moto:
        port = free_port()
        results.append(bench("moto_server", [moto, "-p", str(port)], port, "/moto-api/", a.seconds))
    s1, t1 = steal()
    st = 100.0 * (s1 - s0) / max(t1 - t0, 1)
    lines = ["# DynamoDB benchmark", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
             f"hypervisor steal during the run {st:.0f}%, wrk 2 threads x 8 connections, {a.seconds} s each.", "",
             "| server | PutItem/s | CPU µs/op | GetItem/s | CPU µs/op | Query(100 x 1 KB)/s | CPU µs/op |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['server']} | {r['put']['ops']:.0f} | {r['put']['cpu_us']:.1f} | {r['get']['ops']:.0f} | "
                     f"{r['get']['cpu_us']:.1f} | {r['query']['ops']:.0f} | {r['query']['cpu_us']:.1f} |")
    errs = {r["server"]: {k: r[k]["errors"] for k in ("put", "get", "query")} for r in results}
    lines += ["", f"Errors (non-2xx or socket): {json.dumps(errs)}", ""]
    text = "\n".join(lines)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump({"steal_pct": st, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
