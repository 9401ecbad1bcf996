#!/usr/bin/env python3
"""API Gateway REST API (v1) benchmark: GETs through a deployed REST API's
MOCK integration (request template -> statusCode -> integration response
with a response template and a static header) with wrk, 8 connections and
1 connection, both URL forms (Host "{id}.execute-api.localhost" and
"/_aws/execute-api/{id}/{stage}/").  Target: >= 25k requests/s at 8
connections.

Usage: python3 bench/apigw_rest.py [--seconds N] [--out bench/apigw_rest-results.md]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import NIMBUS, cpu_seconds, free_port, read_cpu, start  # noqa: E402


def setup(port):
    gw = boto3.client("apigateway", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(retries={"max_attempts": 1}))
    api = gw.create_rest_api(name="bench")["id"]
    root = [r["id"] for r in gw.get_resources(restApiId=api)["items"] if r["path"] == "/"][0]
    res = gw.create_resource(restApiId=api, parentId=root, pathPart="{item}")["id"]
    gw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    gw.put_method_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200",
                           responseParameters={"method.response.header.X-Bench": False})
    gw.put_integration_response(restApiId=api, resourceId=res, httpMethod="GET", statusCode="200",
                                selectionPattern="2\\d\\d",
                                responseParameters={"method.response.header.X-Bench": "'1'"},
                                responseTemplates={"application/json": '{"ok": true}'})
    # the same through Velocity: a reference in each template
    vtl = gw.create_resource(restApiId=api, parentId=root, pathPart="vtl")["id"]
    vres = gw.create_resource(restApiId=api, parentId=vtl, pathPart="{item}")["id"]
    gw.put_method(restApiId=api, resourceId=vres, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=vres, httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": '
                                         '#if($context.stage == "prod")200#else 500#end}'})
    gw.put_integration_response(restApiId=api, resourceId=vres, httpMethod="GET", statusCode="200",
                                selectionPattern="2\\d\\d",
                                responseTemplates={"application/json":
                                                   '{"item": "$input.params(\'item\')"}'})
    gw.create_deployment(restApiId=api, stageName="prod")
    return api


def wrk(url, conns, seconds, pid, host=None):
    cmd = ["wrk", "-t", "2" if conns > 1 else "1", "-c", str(conns), "-d", f"{seconds}s", "--latency"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99),
            "cpu_us": cpu * 1e6 / max(total, 1), "non2xx": int(non2xx.group(1)) if non2xx else 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "apigw_rest-results.md"))
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk: apt-get install wrk")
    s0, t0 = read_cpu()
    port = free_port()
    proc, _ = start([NIMBUS, "--port", str(port), "--log-level", "error"], port, "/_nimbus/health")
    try:
        api = setup(port)
        path_url = f"http://127.0.0.1:{port}/_aws/execute-api/{api}/prod/x"
        host = f"{api}.execute-api.localhost:{port}"
        res = {"host_8": wrk(f"http://127.0.0.1:{port}/prod/x", 8, a.seconds, proc.pid, host),
               "path_8": wrk(path_url, 8, a.seconds, proc.pid),
               "path_1": wrk(path_url, 1, a.seconds, proc.pid),
               "vtl_8": wrk(f"http://127.0.0.1:{port}/_aws/execute-api/{api}/prod/vtl/x", 8,
                            a.seconds, proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    s1, t1 = read_cpu()
    st = 100.0 * (s1 - s0) / max(t1 - t0, 1)
    h8, p8, p1, v8 = res["host_8"], res["path_8"], res["path_1"], res["vtl_8"]
    lines = ["# API Gateway REST API (v1) benchmark: MOCK integration", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
             f"hypervisor steal during the run {st:.0f}%, {a.seconds} s per wrk run; wrk and "
             "nimbus share the cores.", "",
             "| | requests/s | p50 | p99 | nimbus CPU per request |", "|---|---|---|---|---|",
             f"| Host form, 8 connections | {h8['rps']:.0f} | {h8['p50_ms']:.3f} ms | "
             f"{h8['p99_ms']:.2f} ms | {h8['cpu_us']:.0f} µs |",
             f"| path form, 8 connections | {p8['rps']:.0f} | {p8['p50_ms']:.3f} ms | "
             f"{p8['p99_ms']:.2f} ms | {p8['cpu_us']:.0f} µs |",
             f"| path form, 1 connection | {p1['rps']:.0f} | {p1['p50_ms']:.3f} ms | "
             f"{p1['p99_ms']:.2f} ms | {p1['cpu_us']:.0f} µs |",
             f"| Velocity templates, path form, 8 connections | {v8['rps']:.0f} | "
             f"{v8['p50_ms']:.3f} ms | {v8['p99_ms']:.2f} ms | {v8['cpu_us']:.0f} µs |", "",
             "The first three rows use static templates (no `$` or `#`: sent as they are); "
             "the last renders a reference in both the request and the response template.",
             f"Non-2xx answers: {h8['non2xx'] + p8['non2xx'] + p1['non2xx'] + v8['non2xx']}.", ""]
    text = "\n".join(lines)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump({"steal_pct": st, **res}, f, indent=2)


if __name__ == "__main__":
    main()
