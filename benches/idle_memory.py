#!/usr/bin/env python3
"""Platform memory per idle warm sandbox, beyond the function's own.

Starts N concurrent invocations of a sleeping Python function against a
*local* running server (so N sandboxes exist), then measures what the
platform pays for each idle one: the server's RSS growth per sandbox plus
the proportional set size of each sandbox's guard and init processes (the
function's own runtime process is not counted).

Usage: benches/idle_memory.py [--endpoint http://127.0.0.1:9000] [--sandboxes 40]
Needs boto3 (the repo's .venv has it) and the server's pid visible in /proc.
"""

import argparse
import io
import json
import subprocess
import threading
import time
import urllib.request
import zipfile

import boto3
from botocore.config import Config

APP = "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n    return 1\n"


def kib(pid, field, path="status"):
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default="http://127.0.0.1:9000")
    ap.add_argument("--sandboxes", type=int, default=40)
    a = ap.parse_args()
    port = a.endpoint.rsplit(":", 1)[1].strip("/")
    server = int(subprocess.check_output(["pgrep", "-o", "-f", f"lamina server.*{port}"]).split()[0])
    lam = boto3.client("lambda", endpoint_url=a.endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x",
                       config=Config(read_timeout=60, retries={"max_attempts": 1}, max_pool_connections=a.sandboxes + 5))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", APP)
    name = "bench-idle-memory"
    try:
        lam.delete_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        pass
    lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                        Role="arn:aws:iam::000000000000:role/bench", Code={"ZipFile": buf.getvalue()})
    time.sleep(0.3)
    lam.invoke(FunctionName=name, Payload=b"{}")
    base = kib(server, "VmRSS")
    threads = [threading.Thread(target=lam.invoke, kwargs={"FunctionName": name, "Payload": b'{"s": 1.5}'})
               for _ in range(a.sandboxes)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    time.sleep(0.5)
    with urllib.request.urlopen(a.endpoint + "/_lamina/status") as r:
        idle = json.load(r)["idle_sandboxes"]
    grown = kib(server, "VmRSS") - base
    guards = children(server)
    inits = [p for g in guards for p in children(g)]
    guard_pss = sum(kib(p, "Pss:", "smaps_rollup") for p in guards)
    init_pss = sum(kib(p, "Pss:", "smaps_rollup") for p in inits)
    per = grown / max(idle - 1, 1) + guard_pss / max(len(guards), 1) + init_pss / max(len(inits), 1)
    print(f"idle sandboxes: {idle}")
    print(f"server RSS growth per sandbox: {grown / max(idle - 1, 1):.0f} KiB")
    print(f"guard PSS: {guard_pss / max(len(guards), 1):.0f} KiB each; init PSS: {init_pss / max(len(inits), 1):.0f} KiB each")
    print(f"platform memory per idle warm sandbox: {per / 1024:.2f} MiB (budget 2 MiB)")
    lam.delete_function(FunctionName=name)


if __name__ == "__main__":
    main()
