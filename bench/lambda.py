#!/usr/bin/env python3
"""Lambda benchmarks: warm invokes and cold starts of local-process functions.

  warm      Invoke/s of a trivial Python handler (returns its event) at 8
            connections (wrk, 2 threads) on a warm pool of 8 instances, with
            nimbus's CPU per invoke and the latency percentiles
  overhead  p50/p99 latency of sequential invokes on one connection: the
            whole round trip client -> nimbus -> runtime -> handler -> back
  cold      time of the first invoke after the function changed (a new
            instance: process start, runtime init, handler import), median
            of 10, for Python, Node and Java (a RequestHandler<Map, Map>
            compiled here with javac; skipped without one), and Java's warm
            round trip on one connection

moto_server needs Docker to run Lambda functions, so it is not measured;
the issue's figures for serverless-offline (2.3k warm invokes/s at 8
clients, 103 ms cold start) and MiniStack (74/s, 394 ms) were measured on
this machine on 2026-11-23.

Usage: python3 bench/lambda.py [--seconds N] [--out bench/lambda-results.md]
"""
import argparse
import concurrent.futures
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import cpu_seconds, free_port, read_cpu as steal  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NIMBUS = os.path.join(ROOT, "build", "nimbus")
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
ROLE = "arn:aws:iam::000000000000:role/bench"


def req(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                               headers={"Content-Type": "application/json", "Authorization": AUTH,
                                        "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(r, timeout=60) as resp:
        return resp.read()


def zip_b64(files):
    import base64
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return base64.b64encode(buf.getvalue()).decode()


def create(port, name, runtime, handler, fname, src, memory=128):
    files = src if isinstance(src, dict) else {fname: src}
    req(port, "POST", "/2015-03-31/functions", {
        "FunctionName": name, "Runtime": runtime, "Role": ROLE, "Handler": handler,
        "Code": {"ZipFile": zip_b64(files)}, "Timeout": 30, "MemorySize": memory})


JAVA_ECHO = """package bench;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;
public class Echo implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        return event;
    }
}
"""


def java_echo_classes():
    """bench/Echo.class compiled against nimbus's aws-lambda-java-core API,
    or None without a javac."""
    if not shutil.which("javac"):
        return None
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "bench"))
        with open(os.path.join(d, "bench", "Echo.java"), "w") as f:
            f.write(JAVA_ECHO)
        subprocess.run(["javac", "-nowarn", "-implicit:none", "-sourcepath",
                        os.path.join(ROOT, "runtimes", "java"), "-d", os.path.join(d, "out"),
                        os.path.join(d, "bench", "Echo.java")], check=True)
        with open(os.path.join(d, "out", "bench", "Echo.class"), "rb") as f:
            return {"bench/Echo.class": f.read()}


def invoke(port, name, payload=b'{"a":1}'):
    r = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations",
                               data=payload, method="POST",
                               headers={"Authorization": AUTH, "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(r, timeout=60) as resp:
        return resp.read()


LUA = '''
wrk.method = "POST"
wrk.body = '{"a":1}'
wrk.headers["Authorization"] = "%s"
wrk.headers["X-Amz-Date"] = "20260101T000000Z"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
'''


def wrk(port, name, conns, threads, seconds, pid):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(LUA % AUTH)
    script.close()
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s", "-s",
                          script.name, f"http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations"],
                         capture_output=True, text=True).stdout
    os.unlink(script.name)
    for line in out.splitlines():
        if line.startswith("RESULT"):
            _, reqs, dur_us, errs, p50, p99 = line.split()
            reqs = int(reqs)
            return {"ops": reqs / (int(dur_us) / 1e6), "errors": int(errs),
                    "p50_ms": int(p50) / 1000.0, "p99_ms": int(p99) / 1000.0,
                    "cpu_us": (cpu_seconds(pid) - cpu0) * 1e6 / max(reqs, 1)}
    raise RuntimeError("wrk failed: " + out)


def cold(port, name, n):
    times = []
    for i in range(n):
        req(port, "PUT", f"/2015-03-31/functions/{name}/configuration",
            {"Environment": {"Variables": {"ROUND": str(i)}}})
        t0 = time.perf_counter()
        invoke(port, name)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "lambda-results.md"))
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk: apt-get install wrk")
    s0, t0 = steal()
    port = free_port()
    proc = subprocess.Popen([NIMBUS, "--port", str(port), "--log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_nimbus/health", timeout=1)
                break
            except OSError:
                time.sleep(0.01)
        create(port, "py", "python3.12", "app.handler", "app.py",
               "import time\ndef handler(event, context):\n"
               "    if event.get('warm'):\n        time.sleep(0.3)\n    return event\n")
        create(port, "node", "nodejs20.x", "index.handler", "index.js",
               "exports.handler = async (event) => event.warm ?"
               " new Promise((r) => setTimeout(() => r(event), 300)) : event;\n")
        java = java_echo_classes()
        if java:
            create(port, "java", "java21", "bench.Echo", None, java, memory=512)
            invoke(port, "java")  # compiles nimbus's Java shim once
        for name in ("py", "node"):  # a warm pool of 8 instances each
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                list(ex.map(lambda _: invoke(port, name, b'{"warm":1}'), range(8)))
        res = {}
        res["overhead"] = wrk(port, "py", 1, 1, a.seconds, proc.pid)
        res["warm"] = wrk(port, "py", 8, 2, a.seconds, proc.pid)
        res["warm_node"] = wrk(port, "node", 8, 2, a.seconds, proc.pid)
        res["cold_py_ms"] = cold(port, "py", 10)
        res["cold_node_ms"] = cold(port, "node", 10)
        if java:
            res["cold_java_ms"] = cold(port, "java", 10)
            res["overhead_java"] = wrk(port, "java", 1, 1, a.seconds, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    s1, t1 = steal()
    st = 100.0 * (s1 - s0) / max(t1 - t0, 1)
    w, o, wn = res["warm"], res["overhead"], res["warm_node"]
    lines = ["# Lambda benchmark", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
             f"hypervisor steal during the run {st:.0f}%, {a.seconds} s per wrk run; wrk, "
             "nimbus and the function processes share the cores.", "",
             "| | nimbus | serverless-offline | MiniStack |", "|---|---|---|---|",
             f"| warm Python invokes/s, 8 connections | {w['ops']:.0f} (p50 {w['p50_ms']:.2f} ms, "
             f"p99 {w['p99_ms']:.2f} ms; nimbus CPU {w['cpu_us']:.0f} µs/invoke) | 2,300 (Node) | 74 |",
             f"| warm Node invokes/s, 8 connections | {wn['ops']:.0f} (p50 {wn['p50_ms']:.2f} ms) | 2,300 | — |",
             f"| warm invoke round trip, 1 connection | p50 {o['p50_ms']:.2f} ms, p99 {o['p99_ms']:.2f} ms "
             f"({o['ops']:.0f}/s) | — | — |",
             f"| cold start, Python (median of 10) | {res['cold_py_ms']:.1f} ms | 103 ms | 394 ms |",
             f"| cold start, Node (median of 10) | {res['cold_node_ms']:.1f} ms | — | — |",
             *([f"| cold start, Java 21 handler, 512 MB (median of 10) | {res['cold_java_ms']:.1f} ms "
                "| — | — |",
                f"| warm Java invoke round trip, 1 connection | p50 "
                f"{res['overhead_java']['p50_ms']:.2f} ms, p99 {res['overhead_java']['p99_ms']:.2f} ms "
                f"({res['overhead_java']['ops']:.0f}/s) | — | — |"] if "cold_java_ms" in res else []),
             "", "moto_server runs Lambda functions only in Docker and is not measured here.",
             f"Errors (non-2xx or socket): warm {w['errors']}, node {wn['errors']}, "
             f"single {o['errors']}.", ""]
    text = "\n".join(lines)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump({"steal_pct": st, **res}, f, indent=2)


if __name__ == "__main__":
    main()
