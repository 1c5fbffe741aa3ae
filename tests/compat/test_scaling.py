"""Scaling and asynchronous behaviour, driven with boto3: scale-out to one
sandbox per concurrent request and back to zero, throttling by reserved and
account concurrency, provisioned concurrency, async retries, destinations,
weighted aliases, code updates under load and the memory capacity.

Sources: botocore's lambda service-2.json (shapes, limits, error statuses,
ThrottleReason enum); the Lambda developer guide ("Lambda function scaling",
"Configuring reserved concurrency" - the unreserved pool never drops below
min(100, limit/10) here, "Configuring provisioned concurrency", "How Lambda
handles errors and retries with asynchronous invocation", "Capturing records
of Lambda asynchronous invocations", "Implement Lambda canary deployments
using a weighted alias"); the Lambda API reference for each operation.

Event age is tested with Lambda's minimum MaximumEventAgeInSeconds, 60 s:
that test takes a little over a minute.
"""

import json
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import create, invoke, log_tail, unique, wait_for, zip_files

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"

SLEEPER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0.5))
    return {"ok": True}
"""

FAILING = """
def handler(event, context):
    print("MARKER-FAIL", context.aws_request_id)
    raise RuntimeError("always fails")
"""

PRINTER = """
import json
def handler(event, context):
    print("RECORD " + json.dumps(event))
    return {"printed": True}
"""

SUCCEEDING = """
def handler(event, context):
    return {"ok": True, "got": event}
"""


def returning(value):
    return f"""
def handler(event, context):
    return {value!r}
"""


# --------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def raw_lam(server):
    return server.client(parameter_validation=False)


def get_json(srv, path):
    with urllib.request.urlopen(srv.endpoint + path, timeout=10) as r:
        return json.loads(r.read())


def status(srv):
    return get_json(srv, "/_lamina/status")


def logs(srv, name):
    return get_json(srv, "/_lamina/logs/" + name)["events"]


def starts(srv, name):
    """Request ids of the START lines in the function's log, in order."""
    out = []
    for e in logs(srv, name):
        m = e["message"]
        if m.startswith("START RequestId: "):
            out.append(m[len("START RequestId: "):].split()[0])
    return out


def records(srv, name):
    """The events a PRINTER function has printed, in order."""
    out = []
    for e in logs(srv, name):
        if e["message"].startswith("RECORD "):
            out.append(json.loads(e["message"][len("RECORD "):]))
    return out


def expect_error(code, status_code, call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status_code, err
    return err


def concurrently(n, fn):
    """Runs fn(i) in n threads started together; returns results (or exceptions)."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - collected for assertions
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def wait_updated(lam, name):
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})


def publish(lam, name, code):
    lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": code}))
    wait_updated(lam, name)
    return lam.publish_version(FunctionName=name)["Version"]


# --------------------------------------------------------------- 1. scale out, scale to zero


def test_scale_out_and_back_to_zero(start_server):
    srv = start_server(extra_args=["--keep-alive-secs", "1"])
    lam = srv.client()
    name = create(lam, {"app.py": SLEEPER})
    results = concurrently(6, lambda i: invoke(lam, name, {"sleep": 0.5}))
    after = status(srv)
    for r in results:
        assert not isinstance(r, Exception), (r, srv.log())
        resp, body = r
        assert "FunctionError" not in resp and body == {"ok": True}
    # One sandbox per concurrent request: six idle sandboxes, six log streams
    # (log lines arrive shortly after the response, like CloudWatch's).
    assert after["idle_by_function"].get(name) == 6, after
    streams = wait_for(lambda: len({e["stream"] for e in logs(srv, name)}) >= 6, 3)
    assert streams, logs(srv, name)
    assert len({e["stream"] for e in logs(srv, name)}) == 6
    # --keep-alive-secs 1: the idle sandboxes are stopped soon after.
    final = wait_for(lambda: status(srv)["idle_by_function"].get(name, 0) == 0 and status(srv), 5)
    assert final, (status(srv), srv.log())
    assert final["idle_sandboxes"] == 0 and final["concurrent_executions"] == 0, final
    # The status names the server process (`lamina bench` reads its CPU time).
    assert final["pid"] == srv.proc.pid, final
    # ... and a new request starts a new sandbox (cold start again).
    resp, body = invoke(lam, name, {"sleep": 0}, LogType="Tail")
    assert body == {"ok": True}
    assert "Init Duration" in log_tail(resp)


# --------------------------------------------------------------- 2. throttles


def test_reserved_concurrency_throttles(server, lam):
    before = lam.get_account_settings()["AccountLimit"]
    name = create(lam, {"app.py": SLEEPER})
    resp = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert resp["ReservedConcurrentExecutions"] == 1
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 1
    during = lam.get_account_settings()["AccountLimit"]
    assert during["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 1
    assert during["ConcurrentExecutions"] == before["ConcurrentExecutions"]

    results = concurrently(2, lambda i: invoke(lam, name, {"sleep": 1.0}))
    ok = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 1 and len(errors) == 1, results
    assert ok[0][1] == {"ok": True}
    err = errors[0]
    assert isinstance(err, lam.exceptions.TooManyRequestsException), err
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", err.response

    # Reserved concurrency 0 stops the function altogether.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    err = expect_error("TooManyRequestsException", 429, lam.invoke, FunctionName=name, Payload=b"{}")
    assert err.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", err
    assert status(server)["unreserved_concurrency"] == before["UnreservedConcurrentExecutions"]

    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    after = lam.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"]
    # Without the reservation both run.
    results = concurrently(2, lambda i: invoke(lam, name, {"sleep": 0.3}))
    assert all(not isinstance(r, Exception) for r in results), results


def test_get_function_shows_reserved_concurrency(lam):
    """GetFunctionResponse.Concurrency: "The function's reserved concurrency"
    (botocore service-2.json); absent when there is no reservation."""
    name = create(lam, {"app.py": SLEEPER})
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    try:
        assert lam.get_function(FunctionName=name).get("Concurrency") == {"ReservedConcurrentExecutions": 3}
    finally:
        lam.delete_function_concurrency(FunctionName=name)


def test_reserved_concurrency_validation(lam, raw_lam):
    name = create(lam, {"app.py": SLEEPER})
    expect_error("InvalidParameterValueException", 400, raw_lam.put_function_concurrency,
                 FunctionName=name, ReservedConcurrentExecutions=-1)
    limit = lam.get_account_settings()["AccountLimit"]
    minimum = min(100, limit["ConcurrentExecutions"] // 10)
    too_much = limit["UnreservedConcurrentExecutions"] - minimum + 1
    expect_error("InvalidParameterValueException", 400, lam.put_function_concurrency,
                 FunctionName=name, ReservedConcurrentExecutions=too_much)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    # Exactly down to the minimum is allowed.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=too_much - 1)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == minimum
    lam.delete_function_concurrency(FunctionName=name)
    expect_error("ResourceNotFoundException", 404, lam.put_function_concurrency,
                 FunctionName=unique("missing"), ReservedConcurrentExecutions=1)


def test_account_concurrency_limit(start_server):
    srv = start_server(extra_args=["--concurrency", "2"])
    lam = srv.client()
    limit = lam.get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 2
    assert limit["UnreservedConcurrentExecutions"] == 2
    name = create(lam, {"app.py": SLEEPER})
    results = concurrently(3, lambda i: invoke(lam, name, {"sleep": 1.0}))
    ok = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 2 and len(errors) == 1, (results, srv.log())
    err = errors[0]
    assert isinstance(err, lam.exceptions.TooManyRequestsException), err
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.response.get("Reason") == "ConcurrentInvocationLimitExceeded", err.response
    # An async event that meets a full account is throttled and kept in the
    # queue ("For throttling errors (429) ... Lambda returns the event to the
    # queue and attempts to run the function again"), not dropped.
    printer = create(lam, {"app.py": PRINTER})
    holders = []
    for _ in range(2):
        t = threading.Thread(target=invoke, args=(lam, name, {"sleep": 1.5}))
        t.start()
        holders.append(t)
    time.sleep(0.5)
    assert status(srv)["concurrent_executions"] == 2, status(srv)
    resp = lam.invoke(FunctionName=printer, InvocationType="Event", Payload=b'{"queued": true}')
    assert resp["StatusCode"] == 202
    for t in holders:
        t.join(30)
    recs = wait_for(lambda: records(srv, printer), 8)
    assert recs == [{"queued": True}], (logs(srv, printer), srv.log())

    # Limit 2: the minimum unreserved is min(100, 2 // 10) = 0; more than 2 is refused.
    expect_error("InvalidParameterValueException", 400, lam.put_function_concurrency,
                 FunctionName=name, ReservedConcurrentExecutions=3)


# --------------------------------------------------------------- 3. provisioned concurrency

PROVISIONED = """
import os
def handler(event, context):
    import time
    time.sleep(event.get("sleep", 0))
    return {"init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"), "version": context.function_version}
"""


def test_provisioned_concurrency(server, lam):
    name = create(lam, {"app.py": PROVISIONED})
    version = lam.publish_version(FunctionName=name)["Version"]
    assert version == "1"
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    resp = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["Status"] == "IN_PROGRESS"
    assert resp["RequestedProvisionedConcurrentExecutions"] == 2

    def ready():
        c = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        return c if c["Status"] == "READY" else None

    cfg = wait_for(ready, 10, 0.2)
    assert cfg, (lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live"), server.log())
    assert cfg["RequestedProvisionedConcurrentExecutions"] == 2
    assert cfg["AllocatedProvisionedConcurrentExecutions"] == 2
    assert cfg["AvailableProvisionedConcurrentExecutions"] == 2
    assert "LastModified" in cfg

    # The pre-initialized environment: no cold start on the first invoke.
    resp, body = invoke(lam, name, {}, Qualifier="live", LogType="Tail")
    tail = log_tail(resp)
    assert resp["ExecutedVersion"] == "1"
    assert "REPORT RequestId:" in tail, tail
    assert "Init Duration" not in tail, tail
    assert body == {"init": "provisioned-concurrency", "version": "1"}

    # Beyond the provisioned two, requests spill over to on-demand sandboxes.
    results = concurrently(3, lambda i: invoke(lam, name, {"sleep": 0.5}, Qualifier="live", LogType="Tail"))
    assert all(not isinstance(r, Exception) for r in results), results
    kinds = sorted(body["init"] for _, body in results)
    assert kinds == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"], kinds
    for resp, body in results:
        assert ("Init Duration" in log_tail(resp)) == (body["init"] == "on-demand"), log_tail(resp)

    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert len(listed) == 1, listed
    assert listed[0]["FunctionArn"] == ARN_PREFIX + name + ":live"
    assert listed[0]["RequestedProvisionedConcurrentExecutions"] == 2

    err = expect_error("InvalidParameterValueException", 400, lam.put_provisioned_concurrency_config,
                       FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert err["Error"]["Message"]

    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    expect_error("ProvisionedConcurrencyConfigNotFoundException", 404, lam.get_provisioned_concurrency_config,
                 FunctionName=name, Qualifier="live")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    # Invocations of the alias go on working with on-demand sandboxes.
    resp, body = invoke(lam, name, {}, Qualifier="live")
    assert "FunctionError" not in resp and body["version"] == "1"


# --------------------------------------------------------------- 4. async retries


def test_async_retries_default(server, lam):
    name = create(lam, {"app.py": FAILING})
    dest = create(lam, {"app.py": PRINTER})
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + dest}})
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    assert resp["StatusCode"] == 202
    t0 = time.time()
    ids = wait_for(lambda: len(starts(server, name)) >= 3 and starts(server, name), 10)
    assert ids, (starts(server, name), server.log())
    elapsed = time.time() - t0
    assert len(set(ids)) == 1, ids
    # The retries wait 1 s then 2 s (--async-retry-delay-secs 1).
    assert elapsed >= 2.5, elapsed
    # Attempt spacing from the START timestamps (ms): >= 1 s, then >= 2 s.
    stamps = [e["timestamp"] for e in logs(server, name) if e["message"].startswith("START ")]
    assert stamps[1] - stamps[0] >= 900 and stamps[2] - stamps[1] >= 1900, stamps
    # The request id of the attempts is the one returned by Invoke.
    assert ids[0] == resp["ResponseMetadata"]["RequestId"]
    # No fourth attempt.
    time.sleep(1.5)
    assert len(starts(server, name)) == 3
    markers = [e["message"] for e in logs(server, name) if e["message"].startswith("MARKER-FAIL")]
    assert markers == ["MARKER-FAIL " + ids[0]] * 3, markers
    # The on-failure record counts the three attempts.
    recs = wait_for(lambda: records(server, dest), 3)
    assert len(recs) == 1, recs
    assert recs[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert recs[0]["requestContext"]["approximateInvokeCount"] == 3
    assert recs[0]["requestContext"]["requestId"] == ids[0]
    assert recs[0]["requestPayload"] == {"n": 1}


def test_async_no_retries(server, lam):
    name = create(lam, {"app.py": FAILING})
    cfg = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert cfg["MaximumRetryAttempts"] == 0
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    assert resp["StatusCode"] == 202
    assert wait_for(lambda: starts(server, name), 5), server.log()
    time.sleep(2.0)  # a retry would come 1 s after the failure
    assert len(starts(server, name)) == 1, logs(server, name)


def test_async_event_expires_after_maximum_event_age(server, lam):
    """An event that cannot run (the function's one unit of reserved
    concurrency is busy) is retried until it is older than
    MaximumEventAgeInSeconds, then goes to OnFailure as EventAgeExceeded,
    without ever having run."""
    busy = create(lam, {"app.py": SLEEPER}, Timeout=120)
    dest = create(lam, {"app.py": PRINTER})
    lam.put_function_concurrency(FunctionName=busy, ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(
        FunctionName=busy, MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": ARN_PREFIX + dest}})
    holder = threading.Thread(target=lambda: invoke(lam, busy, {"sleep": 75}), daemon=True)
    holder.start()
    time.sleep(2)  # the holder now occupies the one unit of concurrency
    t0 = time.time()
    resp = lam.invoke(FunctionName=busy, InvocationType="Event", Payload=b'{"late": true}')
    assert resp["StatusCode"] == 202
    time.sleep(50)
    assert records(server, dest) == [], "expired too early"
    recs = wait_for(lambda: records(server, dest), 25)
    waited = time.time() - t0
    assert recs, server.log()
    assert 60 <= waited < 75, waited
    ctx = recs[0]["requestContext"]
    assert ctx["condition"] == "EventAgeExceeded", recs
    assert ctx["requestId"] == resp["ResponseMetadata"]["RequestId"]
    assert recs[0]["requestPayload"] == {"late": True}
    # The event never ran: once the holder is done, its START is the only one.
    holder.join(timeout=30)
    assert len(wait_for(lambda: starts(server, busy), 5)) == 1, starts(server, busy)


def test_event_invoke_config_round_trip(lam, raw_lam):
    name = create(lam, {"app.py": SUCCEEDING})
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                                MaximumEventAgeInSeconds=120)
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
    assert put["FunctionArn"] == ARN_PREFIX + name + ":$LATEST"
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 1 and got["MaximumEventAgeInSeconds"] == 120
    assert "LastModified" in got

    # Update changes only the members given.
    dest = ARN_PREFIX + unique("dest")
    upd = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                                   DestinationConfig={"OnFailure": {"Destination": dest}})
    assert upd["MaximumRetryAttempts"] == 0 and upd["MaximumEventAgeInSeconds"] == 120
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 0 and got["MaximumEventAgeInSeconds"] == 120
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == dest

    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert len(listed) == 1 and listed[0]["MaximumRetryAttempts"] == 0, listed
    # Out-of-range values are refused and leave the configuration alone.
    expect_error("InvalidParameterValueException", 400, raw_lam.update_function_event_invoke_config,
                 FunctionName=name, MaximumRetryAttempts=-1)
    expect_error("InvalidParameterValueException", 400, raw_lam.update_function_event_invoke_config,
                 FunctionName=name, MaximumEventAgeInSeconds=21601)
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumEventAgeInSeconds"] == 120

    # Put replaces the whole configuration: what it leaves out is removed.
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 2
    assert got.get("MaximumEventAgeInSeconds") in (None, 21600), got
    assert not got.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"), got

    lam.delete_function_event_invoke_config(FunctionName=name)
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)
    assert lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []

    expect_error("InvalidParameterValueException", 400, raw_lam.put_function_event_invoke_config,
                 FunctionName=name, MaximumRetryAttempts=3)
    expect_error("InvalidParameterValueException", 400, raw_lam.put_function_event_invoke_config,
                 FunctionName=name, MaximumEventAgeInSeconds=30)
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)


# --------------------------------------------------------------- 5. destinations


def test_destinations(server, lam):
    dest = create(lam, {"app.py": PRINTER})
    dest_arn = ARN_PREFIX + dest

    # On failure, after retries are exhausted (none here).
    failing = create(lam, {"app.py": FAILING})
    lam.put_function_event_invoke_config(
        FunctionName=failing, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    payload = {"order": 17, "items": ["a", "b"]}
    resp = lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps(payload))
    assert resp["StatusCode"] == 202

    # On success.
    ok = create(lam, {"app.py": SUCCEEDING})
    lam.put_function_event_invoke_config(
        FunctionName=ok, DestinationConfig={"OnSuccess": {"Destination": dest_arn}})
    resp_ok = lam.invoke(FunctionName=ok, InvocationType="Event", Payload=json.dumps({"hello": "world"}))
    assert resp_ok["StatusCode"] == 202

    recs = wait_for(lambda: len(records(server, dest)) >= 2 and records(server, dest), 8)
    assert recs, (records(server, dest), logs(server, failing), server.log())
    assert len(recs) == 2, recs

    fail_id = wait_for(lambda: starts(server, failing), 3)
    assert len(fail_id) == 1, fail_id
    failure = next(r for r in recs if r["requestContext"]["condition"] != "Success")
    assert failure["version"] == "1.0"
    assert "timestamp" in failure
    ctx = failure["requestContext"]
    assert ctx["condition"] == "RetriesExhausted", failure
    assert ctx["requestId"] == fail_id[0]
    assert ctx["functionArn"] == ARN_PREFIX + failing + ":$LATEST"
    assert ctx["approximateInvokeCount"] == 1
    assert failure["requestPayload"] == payload
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responseContext"]["statusCode"] == 200
    assert failure["responseContext"]["executedVersion"] == "$LATEST"
    assert failure["responsePayload"]["errorType"] == "RuntimeError"
    assert failure["responsePayload"]["errorMessage"] == "always fails"

    success = next(r for r in recs if r["requestContext"]["condition"] == "Success")
    assert success["version"] == "1.0"
    assert success["requestContext"]["requestId"] == wait_for(lambda: starts(server, ok), 3)[0]
    assert success["requestContext"]["functionArn"] == ARN_PREFIX + ok + ":$LATEST"
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["requestPayload"] == {"hello": "world"}
    assert success["responseContext"]["statusCode"] == 200
    assert "functionError" not in success["responseContext"]
    assert success["responsePayload"] == {"ok": True, "got": {"hello": "world"}}


# --------------------------------------------------------------- 7. weighted aliases


def test_weighted_alias(lam, raw_lam):
    name = create(lam, {"app.py": returning("one")})
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    assert publish(lam, name, returning("two")) == "2"
    assert publish(lam, name, returning("three")) == "3"
    alias = lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.3}

    counts = {"1": 0, "2": 0}
    lock = threading.Lock()

    def work(i):
        for _ in range(100):
            resp, body = invoke(lam, name, {}, Qualifier="canary")
            assert "FunctionError" not in resp
            v = resp["ExecutedVersion"]
            assert body == {"1": "one", "2": "two"}[v], (v, body)
            with lock:
                counts[v] += 1

    results = concurrently(4, work)
    assert all(not isinstance(r, Exception) for r in results), results
    assert counts["1"] + counts["2"] == 400
    share = counts["2"] / 400
    assert 0.22 <= share <= 0.38, counts

    expect_error("InvalidParameterValueException", 400, raw_lam.update_alias,
                 FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    expect_error("InvalidParameterValueException", 400, lam.update_alias,
                 FunctionName=name, Name="canary",
                 RoutingConfig={"AdditionalVersionWeights": {"2": 0.3, "3": 0.2}})
    expect_error("InvalidParameterValueException", 400, lam.create_alias,
                 FunctionName=name, Name="two-weights", FunctionVersion="1",
                 RoutingConfig={"AdditionalVersionWeights": {"2": 0.3, "3": 0.2}})
    # The failed updates left the alias alone.
    got = lam.get_alias(FunctionName=name, Name="canary")
    assert got["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.3}
    # Removing the routing sends everything to version 1.
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    for _ in range(10):
        resp, body = invoke(lam, name, {}, Qualifier="canary")
        assert resp["ExecutedVersion"] == "1" and body == "one"


# --------------------------------------------------------------- 8. code update under load


def test_update_code_under_load(server, lam):
    name = create(lam, {"app.py": returning("a")})
    order = {"a": 0, "b": 1, "c": 2}
    stop = threading.Event()
    # Per thread: (start time, end time, result) of each invocation.
    seen = [[] for _ in range(3)]
    failures = []

    def work(i):
        while not stop.is_set():
            t0 = time.time()
            try:
                resp, body = invoke(lam, name, {})
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))
                continue
            if "FunctionError" in resp:
                failures.append(body)
                continue
            seen[i].append((t0, time.time(), body))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.7)
        lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": returning("b")}))
        wait_updated(lam, name)
        b_done = time.time()
        time.sleep(0.8)
        lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": returning("c")}))
        wait_updated(lam, name)
        c_done = time.time()
        time.sleep(0.8)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert not failures, (failures[:5], server.log())
    for calls in seen:
        assert calls, seen
        values = [order.get(body, -1) for _, _, body in calls]
        assert -1 not in values, calls
        assert values == sorted(values), [body for _, _, body in calls]
        for t0, _, body in calls:
            if t0 > c_done:
                assert body == "c", (t0, c_done, body)
            elif t0 > b_done:
                assert body in ("b", "c"), (t0, b_done, body)
    everything = [body for calls in seen for _, _, body in calls]
    assert everything.count("a") and everything.count("b") and everything.count("c"), everything


# --------------------------------------------------------------- 9. memory capacity


def test_memory_capacity_evicts_idle(start_server):
    srv = start_server(extra_args=["--capacity-mib", "256"])
    lam = srv.client()
    assert status(srv)["memory_capacity_mib"] == 256
    names = [create(lam, {"app.py": SUCCEEDING}, MemorySize=128) for _ in range(3)]
    for n in names[:2]:
        resp, body = invoke(lam, n, {"x": 1})
        assert "FunctionError" not in resp
    st = status(srv)
    assert st["idle_sandboxes"] == 2 and st["memory_used_mib"] == 256, st

    resp, body = invoke(lam, names[2], {"x": 3})
    assert "FunctionError" not in resp, (body, srv.log())
    assert body == {"ok": True, "got": {"x": 3}}
    st = status(srv)
    assert st["idle_sandboxes"] <= 2 and st["memory_used_mib"] <= 256, st
    assert st["idle_by_function"].get(names[2]) == 1, st
    evicted = [n for n in names[:2] if st["idle_by_function"].get(n, 0) == 0]
    assert len(evicted) == 1, st
    # The evicted function still works (cold start, evicting another idle one).
    resp, body = invoke(lam, evicted[0], {"x": 4}, LogType="Tail")
    assert "FunctionError" not in resp and "Init Duration" in log_tail(resp)
    st = status(srv)
    assert st["memory_used_mib"] <= 256, st
