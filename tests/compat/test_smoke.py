"""The first thing a user does: create a Python function and invoke it."""

import concurrent.futures
import json
import os

import pytest

from conftest import create, invoke, log_tail

APP = """
import os
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print("hello from", context.function_name)
    return {"echo": event, "count": COUNT, "region": os.environ["AWS_REGION"]}
"""


def test_create_invoke_python(lam):
    name = create(lam, {"app.py": APP})
    resp, body = invoke(lam, name, {"a": 1}, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert body["echo"] == {"a": 1}
    assert body["region"] == "us-east-1"
    assert resp["ExecutedVersion"] == "$LATEST"
    tail = log_tail(resp)
    assert "START RequestId:" in tail and "REPORT RequestId:" in tail
    assert "hello from " + name in tail
    assert "Init Duration" in tail
    # Warm: module state survives, no init duration.
    resp, body = invoke(lam, name, {"a": 2}, LogType="Tail")
    assert body["count"] == 2
    assert "Init Duration" not in log_tail(resp)


@pytest.mark.parametrize("args", [["--shards", "2", "--pin-shards", "false"], ["--shards", "0"]])
def test_sharded_data_path_serves_and_stops(start_server, args):
    """`--shards 2 --pin-shards false`: two single-threaded runtimes share
    the port (SO_REUSEPORT), placed by the kernel; `--shards 0`: one shared
    multi-threaded runtime serves everything. Either way invocations from
    many connections all succeed, warm sandboxes are reused, and SIGTERM
    stops the server cleanly."""
    srv = start_server(extra_args=args)
    lam = srv.client("lambda")
    name = create(lam, {"app.py": "def handler(event, context):\n    return {'n': event['n']}\n"})

    def call(n):
        # A fresh client per call: a new connection, spread over the shards.
        resp = srv.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"n": n}))
        return json.loads(resp["Payload"].read())["n"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(call, range(40))) == list(range(40))
    srv.stop()
    assert srv.proc.returncode == 0, srv.log()
    assert "lamina stopped" in srv.log()


def test_pinned_shards_serve_a_client_on_its_own_cpu(start_server):
    """By default the server runs one pinned shard per CPU: a new connection
    goes to the shard on the CPU the client connected from, and a
    function's first sandbox (up to 1,769 MB) is served by that shard and
    runs on that CPU too, so client, server and runtime can take turns on
    one core instead of waking another. A bigger function (more than one vCPU in Lambda) may use
    every CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    srv = start_server()
    app = "import os\ndef handler(event, context):\n    return sorted(os.sched_getaffinity(0))\n"
    names = {cpu: create(srv.client("lambda"), {"app.py": app}) for cpu in cpus}
    big = create(srv.client("lambda"), {"app.py": app}, MemorySize=2048)
    mask = os.sched_getaffinity(0)
    try:
        for cpu, name in names.items():
            os.sched_setaffinity(0, {cpu})
            # A new client: its connection is made from this CPU.
            resp = srv.client("lambda").invoke(FunctionName=name, Payload=b"{}")
            assert json.loads(resp["Payload"].read()) == [cpu], f"function invoked from CPU {cpu}"
        os.sched_setaffinity(0, {cpus[0]})
        resp = srv.client("lambda").invoke(FunctionName=big, Payload=b"{}")
        assert json.loads(resp["Payload"].read()) == cpus
    finally:
        os.sched_setaffinity(0, mask)


def test_a_burst_from_one_cpu_is_spread_over_every_cpu(start_server):
    """A client on one CPU connects to that CPU's shard only, but the
    sandboxes it needs at once are spread over the shards, and so over the
    CPUs: a burst from one client uses the whole machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    srv = start_server()
    app = "import os, time\ndef handler(event, context):\n    time.sleep(1)\n    return sorted(os.sched_getaffinity(0))\n"
    name = create(srv.client("lambda"), {"app.py": app})

    def call(_):
        resp = srv.client("lambda").invoke(FunctionName=name, Payload=b"{}")
        return json.loads(resp["Payload"].read())

    mask = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[0]})
    try:
        # The pool's threads start on this thread's CPU, and so connect from it.
        with concurrent.futures.ThreadPoolExecutor(2 * len(cpus)) as pool:
            ran_on = list(pool.map(call, range(2 * len(cpus))))
    finally:
        os.sched_setaffinity(0, mask)
    assert sorted(ran_on) == sorted([[cpu] for cpu in cpus] * 2)
