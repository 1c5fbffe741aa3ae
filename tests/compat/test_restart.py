"""Durability across server restarts: functions, versions, aliases, tags and
code survive a clean stop; queued asynchronous (Event) invocations survive
a crash (SIGKILL) once the 202 was returned, and run after the restart.
"""

import json
import os
import signal
import time
import urllib.parse
import urllib.request
import uuid

from conftest import create, invoke, zip_files

APP = """
VERSION = "v1"
def handler(event, context):
    return {"version": VERSION, "echo": event, "fv": context.function_version}
"""

MARKER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("MARKER", event["marker"])
    return event["marker"]
"""


def log_messages(srv, name):
    url = srv.endpoint + "/_lamina/logs/" + urllib.parse.quote(name)
    with urllib.request.urlopen(url, timeout=5) as r:
        return [e["message"] for e in json.loads(r.read())["events"]]


def test_state_survives_clean_restart(start_server):
    srv = start_server()
    lam = srv.client()
    name = create(lam, {"app.py": APP}, Timeout=7, MemorySize=256,
                  Environment={"Variables": {"KEY": "v"}}, Tags={"team": "compat"})
    v1 = lam.publish_version(FunctionName=name, Description="first")["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=zip_files(
        {"app.py": APP.replace('"v1"', '"v2"')}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v1)
    other = create(lam, {"index.js": "exports.handler = async (e) => ({node: e});"},
                   runtime="nodejs20.x", handler="index.handler")
    before = lam.get_function_configuration(FunctionName=name)
    before_v1 = lam.get_function_configuration(FunctionName=name, Qualifier=v1)
    assert invoke(lam, name, {"a": 1})[1]["version"] == "v2"

    srv.stop(signal.SIGTERM)
    assert srv.proc.returncode is not None
    srv2 = start_server(data_dir=srv.data_dir)
    lam = srv2.client()

    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert {name, other} <= names
    after = lam.get_function_configuration(FunctionName=name)
    for key in ("FunctionArn", "Runtime", "Handler", "Timeout", "MemorySize", "CodeSha256", "CodeSize",
                "Environment", "Version", "RevisionId", "LastModified"):
        assert after.get(key) == before.get(key), (key, before.get(key), after.get(key))
    after_v1 = lam.get_function_configuration(FunctionName=name, Qualifier=v1)
    assert after_v1["CodeSha256"] == before_v1["CodeSha256"]
    assert after_v1["Description"] == "first"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", v1]
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == v1
    assert lam.list_tags(Resource=after["FunctionArn"])["Tags"] == {"team": "compat"}

    resp, body = invoke(lam, name, {"b": 2})
    assert body == {"version": "v2", "echo": {"b": 2}, "fv": "$LATEST"}
    resp, body = invoke(lam, name, {"c": 3}, Qualifier="live")
    assert body == {"version": "v1", "echo": {"c": 3}, "fv": v1}
    assert resp["ExecutedVersion"] == v1
    resp, body = invoke(lam, name, {}, Qualifier=v1)
    assert body["version"] == "v1"
    resp, body = invoke(lam, other, {"n": 1})
    assert body == {"node": {"n": 1}}
    # The restarted server can still create and change things.
    lam.publish_version(FunctionName=name)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]][-1] == str(int(v1) + 1)


def test_queued_events_survive_sigkill(start_server):
    srv = start_server()
    lam = srv.client()
    name = create(lam, {"app.py": MARKER}, Timeout=3)
    markers = [f"m{i}-{uuid.uuid4().hex[:8]}" for i in range(5)]
    for m in markers:
        resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"marker": m, "sleep": 2}))
        assert resp["StatusCode"] == 202
    srv.stop(signal.SIGKILL)
    assert srv.proc.returncode == -signal.SIGKILL

    srv2 = start_server(data_dir=srv.data_dir)
    deadline = time.time() + 30
    missing = set(markers)
    while time.time() < deadline and missing:
        text = "\n".join(log_messages(srv2, name))
        missing = {m for m in markers if "MARKER " + m not in text}
        if missing:
            time.sleep(0.5)
    assert not missing, (missing, srv2.log())
    # And the restarted server invokes synchronously as usual.
    resp, body = invoke(srv2.client(), name, {"marker": "sync"})
    assert body == "sync"


def sandbox_pids(data_dir, name, runtimes_only=False):
    """Host pids of a server's leftover helpers and sandboxes: processes whose
    command line names the data dir or whose environment names the function."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        runtime = f"AWS_LAMBDA_FUNCTION_NAME={name}".encode() in env
        if runtime or (not runtimes_only and data_dir.encode() in cmd):
            found.append(int(pid))
    return found


def test_sandboxes_do_not_outlive_a_crashed_server(start_server):
    """A function never runs past its Timeout, not even when the server that
    started it is killed: its sandboxes go with it or are reaped on restart."""
    srv = start_server()
    lam = srv.client()
    name = create(lam, {"app.py": MARKER}, Timeout=2)
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"marker": "long", "sleep": 30}))
    assert resp["StatusCode"] == 202
    deadline = time.time() + 10
    while time.time() < deadline and not sandbox_pids(srv.data_dir, name, runtimes_only=True):
        time.sleep(0.1)
    assert sandbox_pids(srv.data_dir, name, runtimes_only=True), "the handler never started"
    time.sleep(0.3)
    srv.stop(signal.SIGKILL)
    killed_at = time.time()
    srv2 = start_server(data_dir=srv.data_dir)
    survivors = []
    try:
        # Timeout 2 s, plus slack: by then nothing of the old server may run.
        while time.time() < killed_at + 6:
            survivors = [p for p in sandbox_pids(srv.data_dir, name) if p != srv2.proc.pid
                         and not _is_child_of(p, srv2.proc.pid)]
            if not survivors:
                break
            time.sleep(0.25)
        details = {p: _describe(p) for p in survivors}
        assert not survivors, ("old sandboxes still running after SIGKILL + restart", details, srv2.log())
    finally:
        for p in sandbox_pids(srv.data_dir, name):
            if p != srv2.proc.pid and not _is_child_of(p, srv2.proc.pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass


def _is_child_of(pid, ancestor):
    """True when ancestor is pid's parent, grandparent, ..."""
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/status") as f:
                pid = int(f.read().split("PPid:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            return False
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def _describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/status") as f:
            ppid = f.read().split("PPid:")[1].split()[0]
        return f"ppid={ppid} {cmd}"
    except OSError:
        return "gone"


CGROUP_PARENTS = ["/sys/fs/cgroup/memory/lamina", "/sys/fs/cgroup/pids/lamina", "/sys/fs/cgroup/cpu/lamina",
                  "/sys/fs/cgroup/lamina"]


def sandbox_cgroups(server_pid):
    """The sandbox cgroups a server made (named `<server pid>-<n>`) that still exist."""
    found = []
    for parent in CGROUP_PARENTS:
        try:
            found += [os.path.join(parent, n) for n in os.listdir(parent) if n.startswith(f"{server_pid}-")]
        except OSError:
            pass
    return found


def test_clean_stop_leaves_no_sandboxes(start_server):
    """SIGTERM stops idle and busy sandboxes, and the server waits for their
    cgroups to be removed before it exits: none are left for the next start."""
    srv = start_server()
    lam = srv.client()
    name = create(lam, {"app.py": MARKER}, Timeout=20)
    invoke(lam, name, {"marker": "warm"})  # one idle warm sandbox
    for i in range(2):  # the warm sandbox and a second one, both busy
        resp = lam.invoke(FunctionName=name, InvocationType="Event",
                          Payload=json.dumps({"marker": f"busy{i}", "sleep": 15}))
        assert resp["StatusCode"] == 202
    deadline = time.time() + 10
    while time.time() < deadline and len(sandbox_pids(srv.data_dir, name, runtimes_only=True)) < 2:
        time.sleep(0.1)
    assert len(sandbox_pids(srv.data_dir, name, runtimes_only=True)) == 2
    time.sleep(0.3)
    pid = srv.proc.pid
    assert sandbox_cgroups(pid) or not any(os.path.isdir(p) for p in CGROUP_PARENTS), "sandboxes have cgroups"
    srv.stop(signal.SIGTERM)
    assert srv.proc.returncode == 0, srv.log()
    assert not sandbox_cgroups(pid), ("cgroups left after a clean stop", srv.log())
    leftovers = []
    try:
        deadline = time.time() + 3
        while time.time() < deadline:
            leftovers = sandbox_pids(srv.data_dir, name)
            if not leftovers:
                break
            time.sleep(0.2)
        assert not leftovers, {p: _describe(p) for p in leftovers}
    finally:
        for p in leftovers:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
