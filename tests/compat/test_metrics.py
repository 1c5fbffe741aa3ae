"""The Prometheus endpoint, read with the reference text-format parser."""

import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import create, invoke

OK = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('boom')\n    return 'ok'\n"


def scrape(server):
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/plain")
        text = r.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_invocations_errors_durations_and_cold_starts_are_counted(server, lam):
    name = create(lam, {"app.py": OK})
    before = scrape(server)
    for _ in range(3):
        invoke(lam, name, {})
    resp, _ = invoke(lam, name, {"fail": True})
    assert resp.get("FunctionError") == "Unhandled"
    after = scrape(server)
    labels = {"function": name, "version": "$LATEST"}
    assert value(after, "lamina_invocations_total", **labels) - value(before, "lamina_invocations_total", **labels) == 4
    assert value(after, "lamina_errors_total", **labels) == 1
    assert value(after, "lamina_cold_starts_total", **labels) == 1
    assert value(after, "lamina_invocation_duration_seconds_count", **labels) == 4
    assert value(after, "lamina_init_duration_seconds_count", **labels) == 1
    assert value(after, "lamina_idle_sandboxes") >= 1
    assert value(after, "lamina_sandbox_memory_mib") >= 128
    assert ("lamina_async_queue_depth", ()) in after


def test_throttles_are_counted_by_reason(server, lam):
    name = create(lam, {"app.py": OK})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        invoke(lam, name, {})
    samples = scrape(server)
    # boto3 may retry a throttle once on its own: each attempt is counted.
    assert value(samples, "lamina_throttles_total", function=name,
                 reason="ReservedFunctionConcurrentInvocationLimitExceeded") >= 1
    assert value(samples, "lamina_invocations_total", function=name, version="$LATEST") == 0
