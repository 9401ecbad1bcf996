#!/usr/bin/env python3
"""nimbus benchmarks, with moto_server measured in the same run.

Measures, for each server:
  start      time from exec to the first answered health request (median of 5)
  idle_rss   resident memory after start and 1 s idle
  send       SendMessage/s over HTTP keep-alive, 8 connections (wrk, 2 threads)
  batch      messages/s with SendMessageBatch of 10, 8 connections
  longpoll   wake-up latency: a parked ReceiveMessage(WaitTimeSeconds=20)
             answered after a SendMessage from another connection (median, p99)
  durable    SendMessage/s with --data-dir (acknowledged = committed)

Usage: python3 bench/run.py [--seconds N] [--skip-moto] [--out bench/results.md]
Needs wrk (Debian package) and the pyenv python's boto3; moto_server if present.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NIMBUS = os.path.join(ROOT, "build", "nimbus")
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(cmd, port, health):
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(f"GET {health} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            data = s.recv(100)
            s.close()
            if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"):
                return proc, (time.perf_counter() - t0) * 1000
        except OSError:
            pass
        if proc.poll() is not None or time.perf_counter() - t0 > 60:
            raise RuntimeError(f"{cmd[0]} did not start")
        time.sleep(0.0005)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sqs_call(port, op, body):
    data = json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=data, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}",
        "Authorization": AUTH, "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_json(port, target, ctype, auth, body, seconds, conns=8, pid=None):
    """wrk POSTing one JSON body with X-Amz-Target for SECONDS: (requests/s,
    errors, p99 ms, server CPU µs per request or None without pid)."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\n'
                 f'wrk.headers["Content-Type"] = "{ctype}"\n'
                 f'wrk.headers["X-Amz-Target"] = "{target}"\n'
                 f'wrk.headers["Authorization"] = "{auth}"\n'
                 'wrk.headers["X-Amz-Date"] = "20260101T000000Z"\n'
                 f"wrk.body = {json.dumps(json.dumps(body))}\n"
                 "done = function(summary, latency, requests)\n"
                 '  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,'
                 ' summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write'
                 ' + summary.errors.timeout, latency:percentile(99)))\nend\n')
    script.close()
    cpu0 = cpu_seconds(pid) if pid else 0
    out = subprocess.run(["wrk", "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "-s", script.name,
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    os.unlink(script.name)
    for line in out.splitlines():
        if line.startswith("RESULT"):
            _, reqs, dur_us, errs, p99 = line.split()
            cpu_us = (cpu_seconds(pid) - cpu0) * 1e6 / max(int(reqs), 1) if pid else None
            return int(reqs) / (int(dur_us) / 1e6), int(errs), int(p99) / 1000.0, cpu_us
    raise RuntimeError("wrk failed: " + out)


def wrk(port, op, body, seconds, conns=8, pid=None):
    rps, errs, p99, wrk.cpu_us = wrk_json(port, f"AmazonSQS.{op}", "application/x-amz-json-1.0", AUTH,
                                          body, seconds, conns, pid)
    return rps, errs, p99


def longpoll(port, url, rounds=50):
    def conn():
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def request(op, body):
        data = json.dumps(body).encode()
        return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-amz-json-1.0\r\n"
                f"X-Amz-Target: AmazonSQS.{op}\r\nAuthorization: {AUTH}\r\nX-Amz-Date: 20260101T000000Z\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode() + data

    def read_response(s):
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        while len(rest) < n:
            rest += s.recv(65536)
        return rest

    # Fresh connections each round: moto's server closes after each response.
    lat = []
    for i in range(rounds):
        r, w = conn(), conn()
        r.sendall(request("ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 20}))
        time.sleep(0.05)  # let it park
        t0 = time.perf_counter()
        w.sendall(request("SendMessage", {"QueueUrl": url, "MessageBody": f"m{i}"}))
        body = read_response(r)
        lat.append((time.perf_counter() - t0) * 1000)
        read_response(w)
        r.close()
        w.close()
        msg = json.loads(body)["Messages"][0]
        sqs_call(port, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": msg["ReceiptHandle"]})
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


def bench_server(name, cmd, port, health, seconds, durable_cmd=None):
    res = {"name": name}
    starts = []
    for _ in range(4):  # start time: median of 5 starts
        proc, ms = start(cmd, port, health)
        starts.append(ms)
        proc.terminate()
        proc.wait(timeout=20)
    proc, ms = start(cmd, port, health)
    starts.append(ms)
    res["start_ms"] = statistics.median(starts)
    time.sleep(1)
    res["idle_rss_mib"] = rss_kib(proc.pid) / 1024
    try:
        url = sqs_call(port, "CreateQueue", {"QueueName": "bench"})["QueueUrl"]
        lp = sqs_call(port, "CreateQueue", {"QueueName": "bench-lp"})["QueueUrl"]
        res["send"], res["send_errors"], res["send_p99_ms"] = wrk(
            port, "SendMessage", {"QueueUrl": url, "MessageBody": "x" * 100}, seconds, pid=proc.pid)
        res["send_cpu_us"] = wrk.cpu_us
        entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
        rps, res["batch_errors"], _ = wrk(port, "SendMessageBatch", {"QueueUrl": url, "Entries": entries},
                                          seconds, pid=proc.pid)
        res["batch_msgs"] = rps * 10
        res["batch_cpu_us_per_msg"] = wrk.cpu_us / 10
        res["longpoll_med_ms"], res["longpoll_p99_ms"] = longpoll(port, lp, 30 if name == "moto_server" else 100)
        res["load_rss_mib"] = rss_kib(proc.pid) / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    if durable_cmd:
        d = tempfile.mkdtemp(prefix="nimbus-bench-")
        try:
            proc, _ = start(durable_cmd + ["--data-dir", d], port, health)
            url = sqs_call(port, "CreateQueue", {"QueueName": "bench"})["QueueUrl"]
            res["durable_send"], res["durable_errors"], _ = wrk(
                port, "SendMessage", {"QueueUrl": url, "MessageBody": "x" * 100}, seconds, pid=proc.pid)
            res["durable_cpu_us"] = wrk.cpu_us
            proc.terminate()
            proc.wait(timeout=20)
        finally:
            shutil.rmtree(d)
    return res


STEAL0 = None


def read_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[7], sum(v)


def steal_fraction():
    s1, t1 = read_cpu()
    return (s1 - STEAL0[0]) / max(t1 - STEAL0[1], 1)


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.1f}{unit}" if v < 100 else f"{v:,.0f}{unit}"
    return f"{v}{unit}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.md"))
    a = ap.parse_args()
    global STEAL0
    STEAL0 = read_cpu()
    results = []
    port = free_port()
    results.append(bench_server("nimbus", [NIMBUS, "--port", str(port), "--log-level", "warn"], port,
                                "/_nimbus/health", a.seconds,
                                durable_cmd=[NIMBUS, "--port", str(port), "--log-level", "warn"]))
    moto = shutil.which("moto_server")
    if moto and not a.skip_moto:
        port = free_port()
        results.append(bench_server("moto_server", [moto, "-p", str(port)], port, "/moto-api/", a.seconds))
    rows = [("start to first answer", "start_ms", " ms"), ("idle RSS", "idle_rss_mib", " MiB"),
            ("RSS after load", "load_rss_mib", " MiB"),
            ("SendMessage/s, 8 connections", "send", ""), ("SendMessage p99", "send_p99_ms", " ms"),
            ("server CPU per SendMessage", "send_cpu_us", " µs"),
            ("SendMessageBatch msgs/s (10 per call)", "batch_msgs", ""),
            ("server CPU per batched message", "batch_cpu_us_per_msg", " µs"),
            ("long-poll wake-up, median", "longpoll_med_ms", " ms"),
            ("long-poll wake-up, p99", "longpoll_p99_ms", " ms"),
            ("durable SendMessage/s (--data-dir)", "durable_send", ""),
            ("server CPU per durable SendMessage", "durable_cpu_us", " µs"),
            ("errors (send/batch)", None, "")]
    steal = steal_fraction()
    lines = [f"Hypervisor steal during the run: {steal:.0%} of CPU time (throughput numbers shrink with it; "
             "CPU µs per operation is the steadier comparison).\n",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, "
             f"wrk -t2 -c8 -d{a.seconds}s, 100-byte bodies; both servers measured in this run.\n",
             "| metric | " + " | ".join(r["name"] for r in results) + " |",
             "|---|" + "---|" * len(results)]
    for label, key, unit in rows:
        if key is None:
            vals = [f"{r.get('send_errors', 0)}/{r.get('batch_errors', 0)}" for r in results]
        else:
            vals = [fmt(r.get(key), unit) for r in results]
        lines.append(f"| {label} | " + " | ".join(vals) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(a.out, "w") as f:
        f.write("# Benchmark results\n\nProduced by `python3 bench/run.py` (see its header).\n\n" + text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
