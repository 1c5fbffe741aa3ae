"""The first thing a user does: create a Python function and invoke it."""

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
