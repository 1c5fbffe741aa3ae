"""The `lamina` client for the everyday loop: create, invoke, list, logs, delete."""

import json
import os
import subprocess
import time

from conftest import BINARY, unique


def lamina(server, *args, check=True):
    out = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "LAMINA_ENDPOINT": server.endpoint})
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_create_invoke_list_logs_delete(server, tmp_path):
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    print('cli says', event['x'])\n    return {'got': event['x']}\n")
    name = unique("cli")
    created = lamina(server, "create", name, "--runtime", "python3.12", "--handler", "app.handler",
                     "--code", str(code), "--memory", "256", "--env", "GREETING=hi")
    assert "created arn:aws:lambda:us-east-1:000000000000:function:" + name in created.stdout

    payload = tmp_path / "event.json"
    payload.write_text('{"x": 41}')
    out = lamina(server, "invoke", name, "--payload", "@" + str(payload), "--log")
    assert json.loads(out.stdout) == {"got": 41}
    assert "REPORT RequestId:" in out.stderr and "cli says 41" in out.stderr

    listing = lamina(server, "list").stdout
    line = next(l for l in listing.splitlines() if l.startswith(name))
    assert "python3.12" in line and "256" in line

    deadline = time.time() + 5
    while True:
        logs = lamina(server, "logs", name).stdout
        if "cli says 41" in logs or time.time() > deadline:
            break
        time.sleep(0.2)
    assert "START RequestId:" in logs and "cli says 41" in logs

    lamina(server, "delete", name)
    missing = lamina(server, "invoke", name, check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_errors_are_clear_and_exit_non_zero(server, tmp_path):
    bad = lamina(server, "create", unique(), "--runtime", "cobol", "--handler", "x", "--code", str(tmp_path), check=False)
    assert bad.returncode != 0 and "InvalidParameterValueException" in bad.stderr
    down = subprocess.run([BINARY, "list", "--endpoint", "http://127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert down.returncode != 0 and "cannot reach Lamina" in down.stderr
    failing = tmp_path / "f"
    failing.mkdir()
    (failing / "app.py").write_text("def handler(e, c):\n    raise RuntimeError('nope')\n")
    name = unique("cli")
    lamina(server, "create", name, "--runtime", "python3.12", "--handler", "app.handler", "--code", str(failing))
    out = lamina(server, "invoke", name, check=False)
    assert out.returncode != 0 and "RuntimeError" in out.stdout and "function failed" in out.stderr


def test_help_explains_every_command():
    top = subprocess.run([BINARY, "--help"], capture_output=True, text=True).stdout
    for cmd in ["server", "create", "invoke", "list", "logs", "bench", "usage", "delete"]:
        assert cmd in top
    server_help = subprocess.run([BINARY, "server", "--help"], capture_output=True, text=True).stdout
    for flag in ["--listen", "--data-dir", "--keep-alive-secs", "--concurrency", "--isolation"]:
        assert flag in server_help
