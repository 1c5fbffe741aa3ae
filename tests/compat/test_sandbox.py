"""The sandbox as a function sees it (isolation) and as a user sees its
limits and failures (memory, timeout, crash, pids, concurrency).

Lambda semantics checked here: /var/task is read-only, /tmp is writable,
private to one execution environment and kept across warm invokes; the
function runs unprivileged; an OOM kill or runtime exit is reported as
FunctionError "Unhandled" with errorType "Runtime.ExitError" and
"Runtime exited with error: ..."; a timeout as "Task timed out after N.NN
seconds"; the next invoke after either gets a fresh, working environment.
"""

import concurrent.futures
import json
import re
import time
import urllib.request

from conftest import create, invoke, log_tail

PROBE = """
import errno, json, os
def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def handler(event, context):
    op = event["op"]
    if op == "paths":
        return {p: os.path.exists(p) for p in event["paths"]}
    if op == "write":
        return {p: try_write(p) for p in event["paths"]}
    if op == "ids":
        procs = [n for n in os.listdir("/proc") if n.isdigit()]
        return {"pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(),
                "euid": os.geteuid(), "procs": procs}
    if op == "tmp_put":
        with open("/tmp/" + event["file"], "w") as f:
            f.write(event["data"])
        return sorted(os.listdir("/tmp"))
    if op == "tmp_get":
        try:
            with open("/tmp/" + event["file"]) as f:
                return f.read()
        except FileNotFoundError:
            return None
    raise ValueError(op)
"""


def ok(resp):
    assert resp["StatusCode"] == 200, resp
    assert "FunctionError" not in resp, resp


def test_var_task_read_only_tmp_writable(lam):
    name = create(lam, {"app.py": PROBE})
    resp, body = invoke(lam, name, {"op": "write", "paths": ["/var/task/app.py", "/var/task/new.txt",
                                                             "/tmp/scratch.txt"]})
    ok(resp)
    assert body["/var/task/app.py"] in ("EROFS", "EACCES"), body
    assert body["/var/task/new.txt"] in ("EROFS", "EACCES"), body
    assert body["/tmp/scratch.txt"] == "ok"


def test_tmp_survives_warm_invokes(lam):
    name = create(lam, {"app.py": PROBE})
    resp, body = invoke(lam, name, {"op": "tmp_put", "file": "warm", "data": "kept"})
    ok(resp)
    assert "warm" in body
    resp, body = invoke(lam, name, {"op": "tmp_get", "file": "warm"})
    ok(resp)
    assert body == "kept"


TMP_PRIVATE = """
import os, time
def handler(event, context):
    with open("/tmp/tok-" + event["token"], "w") as f:
        f.write(event["token"])
    time.sleep(1.0)
    return sorted(n for n in os.listdir("/tmp") if n.startswith("tok-"))
"""


def test_tmp_not_shared_between_concurrent_sandboxes(lam):
    name = create(lam, {"app.py": TMP_PRIVATE})
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futs = {t: pool.submit(invoke, lam, name, {"token": t}) for t in ("a", "b")}
        results = {t: f.result() for t, f in futs.items()}
    for token, (resp, body) in results.items():
        ok(resp)
        assert body == ["tok-" + token], results


def test_host_paths_invisible(lam, server):
    name = create(lam, {"app.py": PROBE})
    paths = [server.data_dir, "/work", "/root", "/work/main", server.log_path]
    resp, body = invoke(lam, name, {"op": "paths", "paths": paths + ["/usr/bin", "/var/task/app.py", "/tmp"]})
    ok(resp)
    for p in paths:
        assert body[p] is False, (p, body)
    assert body["/usr/bin"] and body["/var/task/app.py"] and body["/tmp"], body


def test_own_pid_namespace(lam):
    name = create(lam, {"app.py": PROBE})
    resp, body = invoke(lam, name, {"op": "ids"})
    ok(resp)
    assert body["pid"] <= 10, body
    assert len(body["procs"]) <= 10, body


def test_runs_unprivileged(lam):
    name = create(lam, {"app.py": PROBE})
    resp, body = invoke(lam, name, {"op": "ids"})
    ok(resp)
    assert body["uid"] != 0 and body["euid"] != 0, body
    resp, body = invoke(lam, name, {"op": "write", "paths": ["/etc/passwd", "/etc/lamina-probe", "/usr/bin/probe"]})
    ok(resp)
    for p, r in body.items():
        assert r in ("EROFS", "EACCES", "EPERM"), body


HOG = """
def handler(event, context):
    chunks = []
    for _ in range(event["mb"] // 10):
        chunks.append(bytearray(10 * 1024 * 1024))
    return {"allocated_mb": len(chunks) * 10}
"""

QUICK = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"quick": True}
"""


def test_memory_limit_kills_and_recovers(lam, server):
    hog = create(lam, {"app.py": HOG}, MemorySize=128)
    other = create(lam, {"app.py": QUICK})
    invoke(lam, other, {})  # warm the bystander
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        hog_f = pool.submit(invoke, lam, hog, {"mb": 400})
        other_f = pool.submit(invoke, lam, other, {"sleep": 0.2})
        resp, body = hog_f.result()
        oresp, obody = other_f.result()
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled", (resp, body, server.log())
    assert body["errorType"] == "Runtime.ExitError", body
    assert "Runtime exited with error: signal: killed" in body["errorMessage"], body
    ok(oresp)
    assert obody == {"quick": True}
    # Same function, small allocation: a fresh sandbox serves it.
    resp, body = invoke(lam, hog, {"mb": 20})
    ok(resp)
    assert body == {"allocated_mb": 20}
    with urllib.request.urlopen(server.endpoint + "/_lamina/health", timeout=5) as r:
        assert r.status == 200


SLEEPER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0)}
"""


def test_timeout(lam):
    name = create(lam, {"app.py": SLEEPER}, Timeout=1)
    t0 = time.monotonic()
    resp, body = invoke(lam, name, {"sleep": 5}, LogType="Tail")
    elapsed = time.monotonic() - t0
    assert resp.get("FunctionError") == "Unhandled", (resp, body)
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body
    assert elapsed < 3.5, elapsed
    assert "Task timed out after 1.00 seconds" in log_tail(resp)
    resp, body = invoke(lam, name, {"sleep": 0})
    ok(resp)
    assert body == {"slept": 0}


EXITER = """
import os
def handler(event, context):
    if event.get("exit") is not None:
        os._exit(event["exit"])
    return "alive"
"""


def test_runtime_exit_status(lam):
    name = create(lam, {"app.py": EXITER})
    resp, body = invoke(lam, name, {"exit": 3})
    assert resp.get("FunctionError") == "Unhandled", (resp, body)
    assert body["errorType"] == "Runtime.ExitError", body
    assert "Runtime exited with error: exit status 3" in body["errorMessage"], body
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert body == "alive"


def test_concurrent_invocations_use_several_sandboxes(lam):
    name = create(lam, {"app.py": SLEEPER})
    invoke(lam, name, {})  # the code is unpacked; one sandbox warm
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: invoke(lam, name, {"sleep": 0.5}), range(8)))
    elapsed = time.monotonic() - t0
    for resp, body in results:
        ok(resp)
        assert body == {"slept": 0.5}
    # Serially this takes >= 4 s; in parallel about one sleep plus cold starts.
    assert elapsed < 2.5, elapsed


FORKER = """
import os
def handler(event, context):
    r, w = os.pipe()
    children, error = [], None
    try:
        for _ in range(event["n"]):
            pid = os.fork()
            if pid == 0:
                os.close(w)
                os.read(r, 1)  # parked until the parent closes the pipe
                os._exit(0)
            children.append(pid)
    except OSError as e:
        error = type(e).__name__ + ": " + str(e)
    finally:
        os.close(w)
        os.close(r)
        for pid in children:
            os.waitpid(pid, 0)
    return {"forked": len(children), "error": error}
"""


def test_pids_limit(lam):
    name = create(lam, {"app.py": FORKER}, MemorySize=1024, Timeout=30)
    resp, body = invoke(lam, name, {"n": 5000})
    ok(resp)
    assert body["error"] is not None and body["forked"] < 5000, body
    assert "BlockingIOError" in body["error"] or "Resource temporarily unavailable" in body["error"], body
    # The function (and its sandbox) are fine afterwards.
    resp, body = invoke(lam, name, {"n": 3})
    ok(resp)
    assert body == {"forked": 3, "error": None}


PRIVS = """
import os, socket
def handler(event, context):
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    return {
        "CapEff": status["CapEff"].strip(), "CapPrm": status["CapPrm"].strip(),
        "NoNewPrivs": status.get("NoNewPrivs", "").strip(),
        "hostname": socket.gethostname(),
        "env": dict(os.environ),
    }
"""


def test_no_capabilities_and_clean_environment(lam):
    name = create(lam, {"app.py": PRIVS}, Environment={"Variables": {"MY_SETTING": "yes"}})
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert int(body["CapEff"], 16) == 0 and int(body["CapPrm"], 16) == 0, body
    assert body["NoNewPrivs"] == "1", body
    import socket
    assert body["hostname"] != socket.gethostname()
    env = body["env"]
    assert env["MY_SETTING"] == "yes"
    # Nothing of the server's own environment leaks into the function's.
    for leaked in ("RUST_LOG", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST", "SSH_AUTH_SOCK"):
        assert leaked not in env, (leaked, env)
    assert env.get("HOME") != "/root", env


RUNTIME_API_THIEF = """
import os, urllib.request
def handler(event, context):
    if event.get("who"):
        return os.environ["AWS_LAMBDA_RUNTIME_API"]
    url = "http://" + event["target"] + "/2018-06-01/runtime/invocation/next"
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return {"status": r.status, "stole": r.read().decode()[:200]}
    except urllib.error.HTTPError as e:
        return {"status": e.code}
    except Exception as e:
        return {"error": type(e).__name__ + ": " + str(e)}
"""


def test_runtime_api_of_another_sandbox_is_refused(lam):
    victim = create(lam, {"app.py": RUNTIME_API_THIEF})
    thief = create(lam, {"app.py": RUNTIME_API_THIEF})
    resp, endpoint = invoke(lam, victim, {"who": True})
    ok(resp)
    resp, body = invoke(lam, thief, {"target": endpoint})
    ok(resp)
    assert body.get("status") != 200, body
    # The victim still gets its own events.
    resp, again = invoke(lam, victim, {"who": True})
    ok(resp)
    assert again == endpoint


def test_tmp_is_size_limited(lam):
    app = """
import errno
def handler(event, context):
    written = 0
    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(70):
                f.write(b"\\0" * (10 * 1024 * 1024))
                f.flush()
                written += 10
        return {"written_mb": written, "error": None}
    except OSError as e:
        return {"written_mb": written, "error": errno.errorcode.get(e.errno)}
"""
    # Default EphemeralStorage is 512 MB; the memory limit is higher so that
    # the /tmp limit, not the memory limit, is what stops the write.
    name = create(lam, {"app.py": app}, MemorySize=2048, Timeout=30)
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert body["error"] == "ENOSPC", body
    assert 400 <= body["written_mb"] <= 520, body


def _evil_zip(entries):
    """entries: list of (name, content, mode) -- mode 0o120777 makes a symlink."""
    import io, zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for entry, content, mode in entries:
            info = zipfile.ZipInfo(entry)
            info.external_attr = mode << 16
            z.writestr(info, content)
    return buf.getvalue()


def test_zip_slip_does_not_escape(lam, tmp_path):
    """Code packages are unpacked by the (privileged) server: entries with ../
    or absolute names, and symlinked directories, must not write on the host."""
    import uuid
    from botocore.exceptions import ClientError
    tag = uuid.uuid4().hex[:8]
    outside = tmp_path / "outside"
    outside.mkdir()
    traversal = "../" * 12 + str(tmp_path / f"slip-{tag}").lstrip("/")
    entries = [
        ("app.py", "def handler(e, c):\n    return 'ok'\n", 0o100644),
        (traversal, "pwned", 0o100644),
        ("/" + str(tmp_path / f"abs-{tag}").lstrip("/"), "pwned", 0o100644),
        ("link", str(outside), 0o120777),
        ("link/through-symlink", "pwned", 0o100644),
    ]
    try:
        name = create(lam, _evil_zip(entries))
        invoke(lam, name, {})
    except ClientError as e:  # refusing the package is fine too
        assert e.response["Error"]["Code"] in ("InvalidParameterValueException",), e.response
    assert not (tmp_path / f"slip-{tag}").exists()
    assert not (tmp_path / f"abs-{tag}").exists()
    assert not (outside / "through-symlink").exists()


STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
def handler(event, context):
    end = time.time() + event.get("spin", 0)
    while time.time() < end:
        pass
    return "done"
"""


def test_timeout_of_busy_loop_ignoring_signals(lam):
    name = create(lam, {"app.py": STUBBORN}, Timeout=1)
    t0 = time.monotonic()
    resp, body = invoke(lam, name, {"spin": 8})
    assert time.monotonic() - t0 < 4, time.monotonic() - t0
    assert resp.get("FunctionError") == "Unhandled", body
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert body == "done"


def test_init_has_its_own_budget(lam):
    """Lambda limits the Init phase to 10 s on its own (lambda-runtime-environment
    docs): a 2 s module import does not count against a 1 s function Timeout."""
    app = "import time\ntime.sleep(2)\ndef handler(e, c):\n    return 'late'\n"
    name = create(lam, {"app.py": app}, Timeout=1)
    resp, body = invoke(lam, name, {}, LogType="Tail")
    ok(resp)
    assert body == "late"
    init = re.search(r"Init Duration: ([0-9.]+) ms", log_tail(resp))
    assert init and float(init.group(1)) >= 1900, log_tail(resp)


def test_response_too_large(lam):
    app = "def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n"
    name = create(lam, {"app.py": app}, MemorySize=512)
    resp, body = invoke(lam, name, {})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled", (resp, str(body)[:200])
    assert body["errorType"] == "Function.ResponseSizeTooLarge", body
    assert "Response payload size exceeded maximum allowed payload size (6291556 bytes)" in body["errorMessage"], body


def test_heavy_logging_and_4kb_tail(lam):
    app = ("import sys\ndef handler(e, c):\n"
           "    for i in range(50000):\n        print('line %06d %s' % (i, 'y' * 80))\n"
           "    return 'ok'\n")
    name = create(lam, {"app.py": app}, Timeout=20)
    t0 = time.monotonic()
    resp, body = invoke(lam, name, {}, LogType="Tail")
    assert time.monotonic() - t0 < 10
    ok(resp)
    assert body == "ok"
    tail = log_tail(resp)
    assert len(tail.encode()) <= 4096, len(tail.encode())
    assert "REPORT RequestId:" in tail
    assert "line 049999" in tail


def test_memory_size_update_applies_to_new_sandboxes(lam):
    name = create(lam, {"app.py": HOG}, MemorySize=128)
    resp, body = invoke(lam, name, {"mb": 20})
    ok(resp)  # a warm 128 MB sandbox now exists
    lam.update_function_configuration(FunctionName=name, MemorySize=1024)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    resp, body = invoke(lam, name, {"mb": 400}, LogType="Tail")
    ok(resp)
    assert body == {"allocated_mb": 400}
    assert "Memory Size: 1024 MB" in log_tail(resp)
