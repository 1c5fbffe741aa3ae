"""Billing: every invocation is billed at 1 ms granularity × memory."""

import json
import subprocess
import urllib.request

from conftest import BINARY, create, invoke

SLEEPY = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n    return 'ok'\n"


def usage(server, by="function"):
    with urllib.request.urlopen(f"{server.endpoint}/_lamina/usage?by={by}", timeout=10) as r:
        return json.load(r)


def item(report, key):
    return next((i for i in report["items"] if i["key"] == key), None)


def test_usage_counts_requests_and_gb_seconds(server, lam):
    name = create(lam, {"app.py": SLEEPY}, MemorySize=1024)
    for _ in range(3):
        invoke(lam, name, {"s": 0.1})
    deadline = __import__("time").time() + 5
    while True:
        row = item(usage(server), name)
        if (row and row["requests"] == 3) or __import__("time").time() > deadline:
            break
        __import__("time").sleep(0.1)
    assert row["requests"] == 3
    # Each call slept 100 ms: billed at least 300 ms in all, at 1 GB.
    assert row["billed_ms"] >= 300
    assert abs(row["gb_seconds"] - row["billed_ms"] / 1000.0) < 1e-6
    prices = usage(server)["prices"]
    expected = row["gb_seconds"] * prices["per_gb_second"] + 3 / 1e6 * prices["per_million_requests"]
    assert abs(row["cost_usd"] - expected) < 1e-12


def test_usage_cli_and_bad_input(server, lam):
    out = subprocess.run([BINARY, "usage", "--by", "day", "--endpoint", server.endpoint],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "TOTAL" in out.stdout and "GB-SECONDS" in out.stdout
    try:
        urllib.request.urlopen(f"{server.endpoint}/_lamina/usage?since=yesterday", timeout=10)
        raise AssertionError("expected a 400")
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert e.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
