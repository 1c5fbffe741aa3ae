#!/usr/bin/env python3
"""How a CPU-bound function uses the machine when its client sits on one CPU.

A client pinned to one CPU connects to that CPU's shard only. This starts
as many concurrent invocations as asked of a Python function that burns
200 ms of CPU, in rounds, and prints each round's wall time and the CPUs
the function ran on. With the sandboxes spread over the shards, a round of
8 on 2 CPUs takes ~0.8 s; with all of them on the client's CPU it takes
~1.6 s.

Usage: benches/cpu_spread.py [--endpoint http://127.0.0.1:9000] [--concurrency 8] [--rounds 4] [--cpu 0]
Needs boto3 (the repo's .venv has it).
"""

import argparse
import concurrent.futures
import io
import json
import os
import time
import uuid
import zipfile

import boto3
from botocore.config import Config

APP = """import os, time
def handler(event, context):
    start = time.process_time()
    while time.process_time() - start < 0.2:
        pass
    return sorted(os.sched_getaffinity(0))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", default="http://127.0.0.1:9000")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--cpu", type=int, default=0, help="the CPU the client runs on")
    args = ap.parse_args()

    # Before any connection or thread exists: they all inherit this CPU.
    os.sched_setaffinity(0, {args.cpu})
    lam = boto3.client(
        "lambda",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(max_pool_connections=args.concurrency * 2, read_timeout=60, retries={"max_attempts": 0}),
    )
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("app.py", APP)
    name = f"bench-cpu-spread-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/bench",
        Handler="app.handler",
        Code={"ZipFile": zipped.getvalue()},
        MemorySize=1769,  # one full vCPU in Lambda
        Timeout=30,
    )

    def call(_):
        resp = lam.invoke(FunctionName=name, Payload=b"{}")
        body = json.loads(resp["Payload"].read())
        if "FunctionError" in resp:
            raise RuntimeError(f"invocation failed: {body}")
        return tuple(body)

    try:
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            for round_no in range(args.rounds):
                started = time.monotonic()
                ran_on = sorted(pool.map(call, range(args.concurrency)))
                took = time.monotonic() - started
                per_cpu = {cpus: ran_on.count(cpus) for cpus in sorted(set(ran_on))}
                label = "cold" if round_no == 0 else "warm"
                print(f"round {round_no} ({label}): {took:.2f} s; invocations per CPU set: {per_cpu}")
    finally:
        lam.delete_function(FunctionName=name)


if __name__ == "__main__":
    main()
