#!/usr/bin/env python3
"""API Gateway v2 benchmark: HTTP API -> warm Python Lambda (AWS_PROXY,
payload format 2.0) requests/s at 8 connections (wrk, 2 threads), and the
latency the gateway adds: p50 of a GET through the API on one connection
minus p50 of a direct Invoke of the same function on one connection.

moto_server's apigatewayv2 has a control plane only (no data plane), so it
is not measured.

Usage: python3 bench/apigw.py [--seconds N] [--out bench/apigw-results.md] [--nimbus BIN]
(--nimbus: another binary, e.g. a build of an older commit, to compare)
"""
import argparse
import concurrent.futures
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import free_port, read_cpu as steal  # noqa: E402

_spec = importlib.util.spec_from_file_location("lambda_bench", os.path.join(HERE, "lambda.py"))
lb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lb)

# lambda.py's wrk runner with a GET script: its URL path is the function's
# invocations path, which the Host header sends to the API's $default route.
LUA_GET = '''
wrk.headers["Host"] = "%s"
wrk.headers["X-Unused"] = "%%s"
''' + lb.LUA.split("\n", 5)[5].replace("%", "%%")


def wrk_api(port, host, conns, threads, seconds, pid):
    saved = lb.LUA
    lb.LUA = LUA_GET % host
    try:
        return lb.wrk(port, "py", conns, threads, seconds, pid)
    finally:
        lb.LUA = saved


def big_api(port, fn):
    """An API of 50 routes ("GET /r{i}/{id}") and no $default route: the
    benchmark's path matches none of them, so each request is the gateway's
    own work (API, stage, deployment snapshot, route matching) and a 404."""
    api = json.loads(lb.req(port, "POST", "/v2/apis", {"name": "big", "protocolType": "HTTP"}))["apiId"]
    ig = json.loads(lb.req(port, "POST", f"/v2/apis/{api}/integrations",
                           {"integrationType": "AWS_PROXY", "integrationUri": fn,
                            "payloadFormatVersion": "2.0"}))["integrationId"]
    lb.req(port, "POST", f"/v2/apis/{api}/stages", {"stageName": "$default", "autoDeploy": True})
    for i in range(50):
        lb.req(port, "POST", f"/v2/apis/{api}/routes",
               {"routeKey": f"GET /r{i}/{{id}}", "target": f"integrations/{ig}"})
    return api


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "apigw-results.md"))
    ap.add_argument("--nimbus", default=lb.NIMBUS)
    a = ap.parse_args()
    lb.NIMBUS = a.nimbus
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk: apt-get install wrk")
    s0, t0 = steal()
    port = free_port()
    proc = subprocess.Popen([lb.NIMBUS, "--port", str(port), "--log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_nimbus/health", timeout=1)
                break
            except OSError:
                time.sleep(0.01)
        lb.create(port, "py", "python3.12", "app.handler", "app.py",
                  "import time\ndef handler(event, context):\n"
                  "    if event.get('warm'):\n        time.sleep(0.3)\n"
                  "    return {'statusCode': 200, 'body': 'ok'}\n")
        with concurrent.futures.ThreadPoolExecutor(8) as ex:  # a warm pool of 8 instances
            list(ex.map(lambda _: lb.invoke(port, "py", b'{"warm":1}'), range(8)))
        fn = "arn:aws:lambda:us-east-1:000000000000:function:py"
        lb.AUTH = lb.AUTH.replace("/lambda/", "/apigateway/")
        api = json.loads(lb.req(port, "POST", "/v2/apis",
                                {"name": "bench", "protocolType": "HTTP", "target": fn}))["apiId"]
        host = f"{api}.execute-api.localhost:{port}"
        big = big_api(port, fn)
        lb.AUTH = lb.AUTH.replace("/apigateway/", "/lambda/")
        res = {"direct_1": lb.wrk(port, "py", 1, 1, a.seconds, proc.pid),
               "api_1": wrk_api(port, host, 1, 1, a.seconds, proc.pid),
               "direct_8": lb.wrk(port, "py", 8, 2, a.seconds, proc.pid),
               "api_8": wrk_api(port, host, 8, 2, a.seconds, proc.pid),
               "unrouted_8": wrk_api(port, f"{big}.execute-api.localhost:{port}", 8, 2,
                                     a.seconds, proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    s1, t1 = steal()
    st = 100.0 * (s1 - s0) / max(t1 - t0, 1)
    d1, a1, d8, a8 = res["direct_1"], res["api_1"], res["direct_8"], res["api_8"]
    u8 = res["unrouted_8"]
    lines = ["# API Gateway v2 benchmark", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
             f"hypervisor steal during the run {st:.0f}%, {a.seconds} s per wrk run; wrk, "
             "nimbus and the function processes share the cores.", "",
             "| | HTTP API -> Lambda | direct Invoke |", "|---|---|---|",
             f"| requests/s, 8 connections | {a8['ops']:.0f} (p50 {a8['p50_ms']:.2f} ms, p99 "
             f"{a8['p99_ms']:.2f} ms; nimbus CPU {a8['cpu_us']:.0f} µs/req) | {d8['ops']:.0f} "
             f"(p50 {d8['p50_ms']:.2f} ms; {d8['cpu_us']:.0f} µs) |",
             f"| round trip, 1 connection | p50 {a1['p50_ms']:.3f} ms, p99 {a1['p99_ms']:.2f} ms | "
             f"p50 {d1['p50_ms']:.3f} ms, p99 {d1['p99_ms']:.2f} ms |",
             f"| gateway alone: unrouted request (404) to a 50-route API, 8 connections | "
             f"{u8['ops']:.0f}/s (p50 {u8['p50_ms']:.2f} ms; nimbus CPU {u8['cpu_us']:.1f} µs/req) | — |",
             "",
             f"Gateway latency added at p50 (1 connection): {a1['p50_ms'] - d1['p50_ms']:.3f} ms.",
             "moto_server serves no HTTP API data plane, so it is not compared.",
             f"Errors (non-2xx or socket): {a8['errors'] + a1['errors']} through the API "
             "(the unrouted run's 404s are its point), "
             f"{d8['errors'] + d1['errors']} direct.", ""]
    text = "\n".join(lines)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump({"steal_pct": st, **res}, f, indent=2)


if __name__ == "__main__":
    main()
