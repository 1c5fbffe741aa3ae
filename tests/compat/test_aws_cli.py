"""The AWS CLI (v1, from the venv) against Lamina: the commands a user types."""

import base64
import json
import os
import subprocess
import sys

import pytest

from conftest import create, unique, zip_files

AWS = os.path.join(os.path.dirname(sys.executable), "aws")

APP = """
def handler(event, context):
    return {"got": event, "fn": context.function_name}
"""


def aws(server, *args, check=True, cwd=None):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "1"}
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run([AWS, "--endpoint-url", server.endpoint, "--region", "us-east-1",
                           "--output", "json", "lambda", *args],
                          env=env, capture_output=True, text=True, timeout=60, cwd=cwd)
    if check:
        assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_cli_create_wait_list_get(server, tmp_path):
    name = unique("cli")
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(zip_files({"app.py": APP}))
    out = aws(server, "create-function", "--function-name", name, "--runtime", "python3.12",
              "--handler", "app.handler", "--role", "arn:aws:iam::000000000000:role/test",
              "--zip-file", f"fileb://{zip_path}", "--memory-size", "256")
    created = json.loads(out.stdout)
    assert created["FunctionName"] == name
    assert created["MemorySize"] == 256

    aws(server, "wait", "function-active-v2", "--function-name", name)

    listed = json.loads(aws(server, "list-functions").stdout)
    assert name in [f["FunctionName"] for f in listed["Functions"]]

    got = json.loads(aws(server, "get-function", "--function-name", name).stdout)
    assert got["Configuration"]["FunctionName"] == name
    assert got["Configuration"]["State"] == "Active"
    assert got["Code"]["Location"].startswith("http")


def test_cli_list_functions_paginates(server, lam):
    prefix = unique("clipage")
    names = {create(lam, {"app.py": APP}, name=f"{prefix}-{i}", wait=False) for i in range(3)}
    # --page-size makes the CLI follow NextMarker across several requests.
    listed = json.loads(aws(server, "list-functions", "--page-size", "1").stdout)
    got = [f["FunctionName"] for f in listed["Functions"]]
    assert names <= set(got)
    assert len(got) == len(set(got))


def cli_v2():
    out = subprocess.run([AWS, "--version"], capture_output=True, text=True, timeout=30)
    return (out.stdout + out.stderr).startswith("aws-cli/2")


def test_cli_invoke_payload(server, lam, tmp_path):
    name = create(lam, {"app.py": APP})
    # CLI v2 reads blobs as base64 unless told otherwise; v1 sends the text
    # as is and has no --cli-binary-format.
    fmt = ["--cli-binary-format", "raw-in-base64-out"] if cli_v2() else []
    out = aws(server, "invoke", "--function-name", name, *fmt,
              "--payload", '{"a":1}', "out.json", cwd=tmp_path)
    meta = json.loads(out.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    assert json.loads((tmp_path / "out.json").read_text()) == {"got": {"a": 1}, "fn": name}


def test_cli_invoke_log_tail_and_error(server, lam, tmp_path):
    name = create(lam, {"app.py": "def handler(e, c):\n    print('cli-tail-marker')\n    raise KeyError('k')\n"})
    out = aws(server, "invoke", "--function-name", name, "--log-type", "Tail", "out.json", cwd=tmp_path)
    meta = json.loads(out.stdout)
    assert meta["StatusCode"] == 200
    assert meta["FunctionError"] == "Unhandled"
    assert "cli-tail-marker" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads((tmp_path / "out.json").read_text())["errorType"] == "KeyError"


def test_cli_error_exit_code(server):
    proc = aws(server, "get-function", "--function-name", unique("nope"), check=False)
    assert proc.returncode == (254 if cli_v2() else 255)  # "service error" exit code
    assert "ResourceNotFoundException" in proc.stderr
