"""Black-box compatibility suite: the real `lamina` binary driven by the
real AWS clients (boto3, the AWS CLI, awslambdaric).

The session starts one server on a free port with a fresh data directory;
tests that need a restart start their own (see `start_server`).
"""

import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("LAMINA_BIN", os.path.join(ROOT, "target", "release", "lamina"))
FUNCTIONS = os.path.join(os.path.dirname(__file__), "functions")


def wait_for(predicate, timeout=15, interval=0.05):
    """Polls predicate() until it returns something truthy or timeout seconds
    pass; returns the last value, so the caller's assertion shows it."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `lamina server` process."""

    def __init__(self, data_dir, port=None, extra_args=(), env=None):
        self.data_dir = data_dir
        self.env = dict(env or {})  # extra environment for the server process
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(data_dir, "server.log")
        self.proc = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BINARY, "server", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
             "--async-retry-delay-secs", "1", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info", **self.env},
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lamina exited early: {self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/_lamina/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"lamina did not become healthy: {self.log()}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode(errors="replace")
        except OSError:
            return ""

    def client(self, service="lambda", **kw):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=120, **kw),
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(str(tmp_path_factory.mktemp("lamina-data"))).start()
    yield srv
    srv.stop()


@pytest.fixture()
def start_server(tmp_path):
    """Starts extra servers (for restarts); stops them at the end."""
    started = []

    def start(data_dir=None, **kw):
        srv = Server(data_dir or str(tmp_path / f"data-{len(started)}"), **kw).start()
        started.append(srv)
        return srv

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def lam(server):
    return server.client("lambda")


def zip_files(files):
    """A zip (bytes) of {name: text-or-bytes}; names ending in 'bootstrap' are executable."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            mode = 0o755 if name.endswith("bootstrap") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()


def zip_dir(path):
    files = {}
    for root, _, names in os.walk(path):
        for n in names:
            full = os.path.join(root, n)
            rel = os.path.relpath(full, path)
            with open(full, "rb") as f:
                files[rel] = f.read()
    return zip_files(files)


def unique(prefix="fn"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(lam, files, runtime="python3.12", handler="app.handler", name=None, wait=True, **kw):
    name = name or unique()
    lam.create_function(
        FunctionName=name, Runtime=runtime, Handler=handler,
        Role="arn:aws:iam::000000000000:role/test",
        Code={"ZipFile": zip_files(files) if isinstance(files, dict) else files}, **kw,
    )
    if wait:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    return name


def invoke(lam, name, event=None, **kw):
    """Invokes and returns (response, decoded payload)."""
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kw)
    body = resp["Payload"].read()
    try:
        return resp, json.loads(body) if body else None
    except ValueError:
        return resp, body


def log_tail(resp):
    return base64.b64decode(resp.get("LogResult", "")).decode(errors="replace")
