#!/usr/bin/env python3
"""SNS Publish cost and fan-out latency, end to end over HTTP.

Starts its own `lamina server` (fresh data directory), creates a topic with
one raw SQS subscriber, then measures:
- publish latency: sequential Publish calls over one keep-alive connection
  (query protocol, as boto3 sends it), p50 / p99;
- publish throughput: `--clients` threads publishing concurrently;
- fan-out latency: time from sending a Publish to the message being
  received from the subscribed queue (long poll already waiting), p50 / p99.

Usage: benches/sns_fanout.py [--bin target/release/lamina] [--count 500] [--clients 8]
"""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config

AUTH = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=x"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def start(binary, data_dir, port):
    proc = subprocess.Popen([binary, "server", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_lamina/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("lamina did not start")


def publisher(port, topic):
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def publish(message):
        body = urllib.parse.urlencode({"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic, "Message": message})
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": AUTH})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status

    return publish


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("LAMINA_BIN", "target/release/lamina"))
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="sns-bench-")
    proc = start(args.bin, data, port)
    try:
        kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="t",
                  aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
        sns, sqs = boto3.client("sns", **kw), boto3.client("sqs", **kw)
        topic = sns.create_topic(Name="bench")["TopicArn"]
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})

        publish = publisher(port, topic)
        for _ in range(20):
            publish("warm")
        lat = []
        for i in range(args.count):
            t = time.perf_counter()
            publish(f"seq{i}")
            lat.append(time.perf_counter() - t)
        print(f"publish latency (1 subscriber, {args.count} sequential): "
              f"p50 {statistics.median(lat) * 1e3:.2f} ms, p99 {pct(lat, 0.99) * 1e3:.2f} ms")

        per = args.count // args.clients
        def worker():
            p = publisher(port, topic)
            for i in range(per):
                p(f"par{i}")
        threads = [threading.Thread(target=worker) for _ in range(args.clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
        print(f"publish throughput ({args.clients} clients): {per * args.clients / elapsed:.0f} publishes/s")

        # Drain what the first phases queued, then measure publish-to-receive.
        expected = 20 + args.count + per * args.clients
        got = 0
        deadline = time.time() + 120
        while got < expected and time.time() < deadline:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            got += len(msgs)
            if msgs:
                sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        print(f"drained {got}/{expected} fan-out deliveries")

        fan = []
        rounds = min(args.count, 200)
        for i in range(rounds):
            result = {}
            def receive():
                m = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
                result["at"] = time.perf_counter()
                result["m"] = m
            th = threading.Thread(target=receive)
            th.start()
            time.sleep(0.005)
            t = time.perf_counter()
            publish(f"fan{i}")
            th.join()
            assert result["m"] and result["m"][0]["Body"] == f"fan{i}", result
            sqs.delete_message(QueueUrl=url, ReceiptHandle=result["m"][0]["ReceiptHandle"])
            fan.append(result["at"] - t)
        print(f"publish-to-receive through a queue subscriber ({rounds} rounds): "
              f"p50 {statistics.median(fan) * 1e3:.2f} ms, p99 {pct(fan, 0.99) * 1e3:.2f} ms")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
