#!/usr/bin/env python3
"""SNS benchmarks, with moto_server measured in the same run when present.

  fanout     Publish/s to a topic with 10 SQS subscribers, 8 connections
             (wrk, 2 threads), 100-byte messages; the server's CPU per
             publish; and the deliveries: every queue must end up with every
             message (delivered/s counts from the first publish to the last
             message visible in all 10 queues)
  fanout with RawMessageDelivery: the same with raw delivery, where no
             envelope is built or signed
  latency    publish-to-visible: a ReceiveMessage(WaitTimeSeconds=20) is
             parked on one connection, a Publish goes out on another; the
             time from sending the Publish to the receive's answer (median,
             p99 of 200 rounds)

Usage: python3 bench/sns.py [--seconds N] [--skip-moto] [--out bench/sns-results.md]
Needs wrk (Debian package); moto_server if present.
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
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import NIMBUS, cpu_seconds, free_port, start  # noqa: E402

SQS_AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
SNS_AUTH = SQS_AUTH.replace("/sqs/", "/sns/")
SUBSCRIBERS = 10


def http(port, body, headers):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST",
                                 headers=dict(headers, **{"X-Amz-Date": "20260101T000000Z"}))
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def sns_call(port, params):
    body = urllib.parse.urlencode(dict(params, Version="2010-03-31")).encode()
    return http(port, body, {"Content-Type": "application/x-www-form-urlencoded",
                             "Authorization": SNS_AUTH}).decode()


def sqs_call(port, op, body):
    out = http(port, json.dumps(body).encode(), {"Content-Type": "application/x-amz-json-1.0",
                                                  "X-Amz-Target": f"AmazonSQS.{op}",
                                                  "Authorization": SQS_AUTH})
    return json.loads(out or b"{}")


def between(text, tag):
    return text.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]


def setup(port, name, subscribers, raw):
    topic = between(sns_call(port, {"Action": "CreateTopic", "Name": name}), "TopicArn")
    urls = []
    for i in range(subscribers):
        url = sqs_call(port, "CreateQueue", {"QueueName": f"{name}-q{i}"})["QueueUrl"]
        arn = sqs_call(port, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]})
        params = {"Action": "Subscribe", "TopicArn": topic, "Protocol": "sqs",
                  "Endpoint": arn["Attributes"]["QueueArn"]}
        if raw:
            params.update({"Attributes.entry.1.key": "RawMessageDelivery",
                           "Attributes.entry.1.value": "true"})
        sns_call(port, params)
        urls.append(url)
    return topic, urls


def visible(port, url):
    a = sqs_call(port, "GetQueueAttributes", {"QueueUrl": url,
                                              "AttributeNames": ["ApproximateNumberOfMessages"]})
    return int(a["Attributes"]["ApproximateNumberOfMessages"])


def fanout(port, pid, seconds, raw=False):
    topic, urls = setup(port, "fanraw" if raw else "fan", SUBSCRIBERS, raw=raw)
    body = urllib.parse.urlencode({"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic,
                                   "Message": "x" * 100})
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\n'
                 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                 f'wrk.headers["Authorization"] = "{SNS_AUTH}"\n'
                 'wrk.headers["X-Amz-Date"] = "20260101T000000Z"\n'
                 f"wrk.body = {json.dumps(body)}\n"
                 "done = function(summary, latency, requests)\n"
                 '  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,'
                 ' summary.errors.status + summary.errors.connect + summary.errors.read'
                 ' + summary.errors.write + summary.errors.timeout, latency:percentile(99)))\nend\n')
    script.close()
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    out = subprocess.run(["wrk", "-t", "2", "-c", "8", "-d", f"{seconds}s", "-s", script.name,
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    os.unlink(script.name)
    line = [x for x in out.splitlines() if x.startswith("RESULT")]
    if not line:
        raise RuntimeError("wrk failed: " + out)
    _, reqs, dur_us, errs, p99 = line[0].split()
    reqs, errs = int(reqs), int(errs)
    rate = reqs / (int(dur_us) / 1e6)
    ok = reqs - errs
    deadline = time.perf_counter() + 300
    while time.perf_counter() < deadline and any(visible(port, u) < ok for u in urls):
        time.sleep(0.05)
    done_s = time.perf_counter() - t0
    counts = [visible(port, u) for u in urls]
    cpu_us = (cpu_seconds(pid) - cpu0) * 1e6 / max(reqs, 1)
    return {"publish_per_s": rate, "publish_errors": errs, "publish_p99_ms": int(p99) / 1000.0,
            "cpu_us_per_publish": cpu_us, "delivered": sum(counts), "expected": ok * SUBSCRIBERS,
            "delivered_per_s": sum(counts) / done_s}


def latency(port, rounds):
    topic, urls = setup(port, "lat", 1, raw=True)
    url = urls[0]

    def conn():
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def request(headers, data):
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}X-Amz-Date: 20260101T000000Z\r\n"
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

    recv = request({"Content-Type": "application/x-amz-json-1.0",
                    "X-Amz-Target": "AmazonSQS.ReceiveMessage", "Authorization": SQS_AUTH},
                   json.dumps({"QueueUrl": url, "WaitTimeSeconds": 20}).encode())
    pub = request({"Content-Type": "application/x-www-form-urlencoded", "Authorization": SNS_AUTH},
                  urllib.parse.urlencode({"Action": "Publish", "Version": "2010-03-31",
                                          "TopicArn": topic, "Message": "ping"}).encode())
    lat = []
    for _ in range(rounds):
        r, w = conn(), conn()
        r.sendall(recv)
        time.sleep(0.02)  # let it park
        t0 = time.perf_counter()
        w.sendall(pub)
        body = read_response(r)
        lat.append((time.perf_counter() - t0) * 1000)
        read_response(w)
        assert b"ping" in body, body[:200]
        for m in json.loads(body).get("Messages", []):
            sqs_call(port, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]})
        r.close()
        w.close()
    lat.sort()
    return {"latency_p50_ms": statistics.median(lat), "latency_p99_ms": lat[int(len(lat) * 0.99) - 1]}


def bench_server(name, cmd, port, health, seconds, rounds, raw=False, env=None):
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        proc, _ = start(cmd, port, health)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        res = {"server": name + (" (RawMessageDelivery)" if raw else "")}
        res.update(fanout(port, proc.pid, seconds, raw))
        res.update(latency(port, rounds))
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "sns-results.md"))
    a = ap.parse_args()
    results = []
    port = free_port()
    results.append(bench_server("nimbus", [NIMBUS, "--port", str(port), "--log-level", "error"],
                                port, "/_nimbus/health", a.seconds, a.rounds))
    port = free_port()
    results.append(bench_server("nimbus", [NIMBUS, "--port", str(port), "--log-level", "error"],
                                port, "/_nimbus/health", a.seconds, a.rounds, raw=True))
    port = free_port()
    results.append(bench_server("nimbus (NIMBUS_SNS_KEY_BITS=1024)",
                                [NIMBUS, "--port", str(port), "--log-level", "error"],
                                port, "/_nimbus/health", a.seconds, a.rounds,
                                env={"NIMBUS_SNS_KEY_BITS": "1024"}))
    moto = shutil.which("moto_server")
    if moto and not a.skip_moto:
        port = free_port()
        results.append(bench_server("moto_server", [moto, "-p", str(port)], port, "/moto-api/",
                                    a.seconds, min(a.rounds, 50)))
    lines = ["# SNS benchmark results\n",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on this machine "
             f"(2 cores, shared); wrk -t2 -c8 -d{a.seconds}s, 100-byte messages, "
             f"{SUBSCRIBERS} SQS subscribers.\n",
             "| server | publish/s | p99 ms | CPU µs/publish | delivered | delivered/s "
             "| publish→visible p50 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['server']} | {r['publish_per_s']:.0f} | {r['publish_p99_ms']:.2f} | "
                     f"{r['cpu_us_per_publish']:.0f} | {r['delivered']}/{r['expected']} | "
                     f"{r['delivered_per_s']:.0f} | {r['latency_p50_ms']:.2f} | "
                     f"{r['latency_p99_ms']:.2f} |")
    n = results[0]
    lines += ["",
              f"Targets (nimbus): >= 10,000 publishes/s with 10 subscribers: "
              f"{'met' if n['publish_per_s'] >= 10000 else 'not met'} ({n['publish_per_s']:.0f}); "
              f"publish-to-visible p50 <= 1 ms: "
              f"{'met' if n['latency_p50_ms'] <= 1 else 'not met'} ({n['latency_p50_ms']:.2f} ms).",
              "",
              "Each publish is signed once (RSA-2048, SignatureVersion 1, as AWS signs every "
              "notification and as AWS's certificates are): `openssl speed rsa2048` gives "
              "~0.24 ms per signature here (~4.3k/s per core), so on these 2 shared cores a "
              "signed fan-out cannot reach 10k publishes/s with RSA-2048 whatever else is done. "
              "The signature is made on the libuv threadpool while the publish commits "
              "(the delivery waits for it, in order), so the signing and the loop use both "
              "cores. The rest is the ten deliveries (a row inserted, read and deleted in a batch, "
              "the envelope, an internal SQS SendMessage each, ~10 µs per delivery); the "
              "RawMessageDelivery row, where nothing is signed, is the cost of fan-out itself. "
              "The NIMBUS_SNS_KEY_BITS=1024 row signs with a 1024-bit key (~0.07 ms per "
              "signature; verification is unchanged for consumers, only the certificate's key "
              "is shorter than AWS's). 'delivered' can exceed 'expected' by the requests wrk "
              "had in flight when it stopped counting."]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    with open(a.out.replace(".md", ".json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
