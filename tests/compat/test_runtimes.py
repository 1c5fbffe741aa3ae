"""Runtimes as a Lambda user meets them: the Python and Node handler
contracts (context object, module init once per sandbox, logging, errors),
custom runtimes on provided.al2023 (Rust `lambda_runtime`, a shell+curl
bootstrap, the official `awslambdaric`), and the runtime id list.

Sources: the Lambda developer guide (Python/Node.js handler and context
pages, "Building a custom runtime", Runtime API reference) and the
behaviour of awslambdaric / aws-lambda-nodejs-runtime-interface-client.
"""

import os
import re
import shutil
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import FUNCTIONS, ROOT, create, invoke, log_tail, unique, zip_dir, zip_files

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"
ROLE = "arn:aws:iam::000000000000:role/test"


def request_id(resp):
    return resp["ResponseMetadata"]["RequestId"]


def ok(resp):
    assert resp["StatusCode"] == 200, resp
    assert "FunctionError" not in resp, resp


# --------------------------------------------------------------------------
# Python
# --------------------------------------------------------------------------

PY_CONTEXT = """
import os
def handler(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_EXECUTION_ENV", "_HANDLER",
            "LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API")},
    }
"""


def test_python_context_object(lam):
    name = create(lam, {"app.py": PY_CONTEXT}, runtime="python3.12", MemorySize=256, Timeout=7)
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert body["function_name"] == name
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == ARN_PREFIX + name
    # awslambdaric reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
    assert str(body["memory_limit_in_mb"]) == "256"
    assert body["aws_request_id"] == request_id(resp)
    assert body["log_group_name"] == "/aws/lambda/" + name
    # Lambda's stream names look like 2024/01/31/[$LATEST]0123abcd...
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]+", body["log_stream_name"]), body
    assert 0 < body["remaining"] <= 7000
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/" + name
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["log_stream_name"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["AWS_LAMBDA_RUNTIME_API"]

    # Through a published version and an alias the ARN carries the qualifier.
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    resp, body = invoke(lam, name, {}, Qualifier="live")
    ok(resp)
    assert body["invoked_function_arn"] == ARN_PREFIX + name + ":live"
    assert body["function_version"] == version
    assert body["aws_request_id"] == request_id(resp)


PY_INIT_ONCE = """
import os, uuid
SANDBOX = uuid.uuid4().hex
with open("/tmp/inits", "a") as f:
    f.write(SANDBOX + "\\n")
CALLS = 0
def handler(event, context):
    global CALLS
    CALLS += 1
    with open("/tmp/inits") as f:
        inits = f.read().split()
    return {"sandbox": SANDBOX, "calls": CALLS, "inits": inits}
"""


def test_python_module_code_runs_once_per_sandbox(lam):
    name = create(lam, {"app.py": PY_INIT_ONCE})
    bodies = []
    for _ in range(3):
        resp, body = invoke(lam, name, {})
        ok(resp)
        bodies.append(body)
    assert {b["sandbox"] for b in bodies} == {bodies[0]["sandbox"]}
    assert [b["calls"] for b in bodies] == [1, 2, 3]
    assert bodies[-1]["inits"] == [bodies[0]["sandbox"]]


def test_python_handler_in_subdirectory(lam):
    files = {
        "src/app.py": "from src import helper\ndef handler(event, context):\n    return helper.greet(event['who'])\n",
        "src/helper.py": "def greet(who):\n    return {'greeting': 'hi ' + who}\n",
        "src/__init__.py": "",
    }
    name = create(lam, files, handler="src/app.handler")
    resp, body = invoke(lam, name, {"who": "sub"})
    ok(resp)
    assert body == {"greeting": "hi sub"}
    # The dotted form of the same module path works as well.
    name = create(lam, files, handler="src.app.handler")
    resp, body = invoke(lam, name, {"who": "dotted"})
    ok(resp)
    assert body == {"greeting": "hi dotted"}


PY_LOGGING = """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
def handler(event, context):
    logger.info("info-marker %s", event["m"])
    logging.getLogger("child").warning("warn-marker %s", event["m"])
    print("print-marker", event["m"])
    return "logged"
"""


def test_python_logging_in_log(lam):
    name = create(lam, {"app.py": PY_LOGGING})
    resp, body = invoke(lam, name, {"m": "abc123"}, LogType="Tail")
    ok(resp)
    assert body == "logged"
    tail = log_tail(resp)
    rid = request_id(resp)
    lines = tail.splitlines()
    info = [l for l in lines if "info-marker abc123" in l]
    warn = [l for l in lines if "warn-marker abc123" in l]
    assert info and warn, tail
    # Lambda's text format: "[LEVEL]\t<time>Z\t<request id>\t<message>"
    assert info[0].startswith("[INFO]\t") and rid in info[0], info
    assert warn[0].startswith("[WARNING]\t") and rid in warn[0], warn
    assert any("print-marker abc123" in l for l in lines), tail


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"])
def test_python_runtime_ids(lam, runtime):
    app = "import os\ndef handler(e, c):\n    return {'env': os.environ.get('AWS_EXECUTION_ENV'), 'echo': e}\n"
    name = create(lam, {"app.py": app}, runtime=runtime)
    assert lam.get_function_configuration(FunctionName=name)["Runtime"] == runtime
    resp, body = invoke(lam, name, {"r": runtime})
    ok(resp)
    assert body == {"env": "AWS_Lambda_" + runtime, "echo": {"r": runtime}}


# --------------------------------------------------------------------------
# Node.js
# --------------------------------------------------------------------------

NODE_ASYNC = """
let calls = 0;
exports.handler = async (event, context) => {
  calls += 1;
  console.log("node-log-marker", JSON.stringify(event));
  return {
    echo: event, calls,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    remaining: context.getRemainingTimeInMillis(),
    env: process.env.AWS_EXECUTION_ENV,
  };
};
"""


def test_node_commonjs_async_handler(lam):
    name = create(lam, {"index.js": NODE_ASYNC}, runtime="nodejs20.x", handler="index.handler", Timeout=5)
    resp, body = invoke(lam, name, {"n": 1}, LogType="Tail")
    ok(resp)
    assert body["echo"] == {"n": 1}
    assert body["functionName"] == name
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == ARN_PREFIX + name
    assert str(body["memoryLimitInMB"]) == "128"
    assert body["awsRequestId"] == request_id(resp)
    assert body["logGroupName"] == "/aws/lambda/" + name
    assert 0 < body["remaining"] <= 5000
    assert body["env"] == "AWS_Lambda_nodejs20.x"
    tail = log_tail(resp)
    lines = [l for l in tail.splitlines() if 'node-log-marker {"n":1}' in l]
    assert lines, tail
    # Lambda's console.log format: "<time>Z\t<request id>\tINFO\t<message>"
    assert "\tINFO\t" in lines[0] and request_id(resp) in lines[0], lines
    resp, body = invoke(lam, name, {"n": 2})
    assert body["calls"] == 2


NODE_CALLBACK = """
exports.handler = (event, context, callback) => {
  setTimeout(() => callback(null, {cb: true, echo: event}), 10);
};
"""

NODE_CALLBACK_ERROR = """
exports.handler = (event, context, callback) => {
  callback(new TypeError("callback failed " + event.x));
};
"""


def test_node_callback_handler(lam):
    name = create(lam, {"index.js": NODE_CALLBACK}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {"k": "v"})
    ok(resp)
    assert body == {"cb": True, "echo": {"k": "v"}}

    name = create(lam, {"index.js": NODE_CALLBACK_ERROR}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {"x": 7})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "callback failed 7"


NODE_ESM = """
import { createHash } from "node:crypto";
const started = Date.now();
export const handler = async (event) => {
  return { esm: true, hash: createHash("sha256").update(event.s).digest("hex").slice(0, 8) };
};
"""


def test_node_esm_handler(lam):
    name = create(lam, {"index.mjs": NODE_ESM}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {"s": "abc"})
    ok(resp)
    assert body == {"esm": True, "hash": "ba7816bf"}


def test_node_esm_via_package_type_module(lam):
    files = {"package.json": '{"type": "module"}', "index.js": NODE_ESM}
    name = create(lam, files, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {"s": "abc"})
    ok(resp)
    assert body == {"esm": True, "hash": "ba7816bf"}


NODE_THROW = """
exports.handler = async (event) => {
  throw new Error("node boom " + event.x);
};
"""


def test_node_thrown_error(lam):
    name = create(lam, {"index.js": NODE_THROW}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {"x": 42}, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Error"
    assert body["errorMessage"] == "node boom 42"
    assert isinstance(body.get("trace"), list) and body["trace"], body
    assert "node boom 42" in log_tail(resp)


def test_node_handler_in_subdirectory(lam):
    files = {"lib/handlers/main.js": "exports.go = async (e) => ({sub: e.v});"}
    name = create(lam, files, runtime="nodejs20.x", handler="lib/handlers/main.go")
    resp, body = invoke(lam, name, {"v": 3})
    ok(resp)
    assert body == {"sub": 3}


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x"])
def test_node_runtime_ids(lam, runtime):
    app = "exports.handler = async (e) => ({env: process.env.AWS_EXECUTION_ENV, echo: e});"
    name = create(lam, {"index.js": app}, runtime=runtime, handler="index.handler")
    assert lam.get_function_configuration(FunctionName=name)["Runtime"] == runtime
    resp, body = invoke(lam, name, {"r": runtime})
    ok(resp)
    assert body == {"env": "AWS_Lambda_" + runtime, "echo": {"r": runtime}}


# --------------------------------------------------------------------------
# Custom runtimes (provided.al2023 / provided.al2)
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rust_echo_bootstrap():
    """Builds functions/rust-echo (lambda_runtime crate) and returns the binary."""
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.path.exists(cargo):
        pytest.skip("SKIPPED LOUDLY: cargo is not installed, cannot build the rust-echo fixture")
    manifest = os.path.join(FUNCTIONS, "rust-echo", "Cargo.toml")
    target = os.path.join(ROOT, "target", "fixtures")
    proc = subprocess.run(
        [cargo, "build", "--release", "--manifest-path", manifest],
        env={**os.environ, "CARGO_TARGET_DIR": target}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    binary = os.path.join(target, "release", "rust-echo")
    assert os.path.exists(binary)
    with open(binary, "rb") as f:
        return f.read()


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"])
def test_rust_lambda_runtime_crate(lam, rust_echo_bootstrap, runtime):
    name = create(lam, {"bootstrap": rust_echo_bootstrap}, runtime=runtime, handler="bootstrap")
    resp, body = invoke(lam, name, {"hello": "rust", "n": [1, 2]}, LogType="Tail")
    ok(resp)
    assert body["echo"] == {"hello": "rust", "n": [1, 2]}
    assert body["request_id"] == request_id(resp)
    assert "rust-echo request " + request_id(resp) in log_tail(resp)
    # Warm invocation on the same process.
    resp, body = invoke(lam, name, {"second": True})
    ok(resp)
    assert body["echo"] == {"second": True}

    resp, body = invoke(lam, name, {"fail": True})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    # lambda_runtime reports Box<dyn Error> from &str as errorType "&str".
    assert body["errorMessage"] == "rust-echo was asked to fail", body
    assert body["errorType"], body
    # The runtime survives a handler error.
    resp, body = invoke(lam, name, {"after": "fail"})
    ok(resp)
    assert body["echo"] == {"after": "fail"}


def test_shell_curl_bootstrap(lam):
    if not os.path.exists("/usr/bin/curl"):
        pytest.skip("SKIPPED LOUDLY: /usr/bin/curl is missing, the shell custom runtime needs it")
    name = create(lam, zip_dir(os.path.join(FUNCTIONS, "shell-curl")), runtime="provided.al2023",
                  handler="function.handler")
    resp, body = invoke(lam, name, {"x": [1, "two"]}, LogType="Tail")
    ok(resp)
    assert body == {"shell": True, "request_id": request_id(resp), "event": {"x": [1, "two"]}}
    tail = log_tail(resp)
    assert "shell got " + request_id(resp) in tail, tail
    resp, body = invoke(lam, name, {"fail": 1})
    assert resp["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Shell.Failure", "errorMessage": "asked to fail"}


@pytest.fixture(scope="session")
def ric_package(tmp_path_factory):
    """A zip with pip-installed awslambdaric + app.py + bootstrap."""
    pkg = tmp_path_factory.mktemp("ric-package")
    pip = os.path.join(ROOT, ".venv", "bin", "pip")
    if not os.path.exists(pip):
        pytest.skip("SKIPPED LOUDLY: .venv/bin/pip is missing, cannot install awslambdaric")
    proc = subprocess.run([pip, "install", "-q", "--target", str(pkg), "awslambdaric"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # The C extension must match the sandbox's /usr/bin/python3.
    sos = [n for n in os.listdir(pkg) if n.startswith("runtime_client.") and n.endswith(".so")]
    assert sos, os.listdir(pkg)
    host = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('cpython-%d%d' % sys.version_info[:2])"],
                          capture_output=True, text=True).stdout.strip()
    assert any(host in so for so in sos), (host, sos)
    for n in ("app.py", "bootstrap"):
        shutil.copy(os.path.join(FUNCTIONS, "ric-python", n), pkg / n)
    return zip_dir(str(pkg))


def test_awslambdaric_bootstrap(lam, ric_package):
    name = create(lam, ric_package, runtime="provided.al2023", handler="app.handler", Timeout=9)
    resp, body = invoke(lam, name, {"via": "ric"}, LogType="Tail")
    ok(resp)
    assert body["ric"] is True
    assert body["echo"] == {"via": "ric"}
    assert body["request_id"] == request_id(resp)
    assert body["function_name"] == name
    assert body["handler_env"] == "app.handler"
    assert 0 < body["remaining_ms"] <= 9000
    assert "ric handler " + request_id(resp) in log_tail(resp)

    resp, body = invoke(lam, name, {"fail": "yes"})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "ric asked to fail: yes"
    assert body["requestId"] == request_id(resp)
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    # Still serving after the error.
    resp, body = invoke(lam, name, {"again": 1})
    ok(resp)
    assert body["echo"] == {"again": 1}


# --------------------------------------------------------------------------
# Runtime ids refused
# --------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["python2.7", "cobol1.0", "java21", "nodejs"])
def test_unsupported_runtime_refused(lam, runtime):
    name = unique()
    with pytest.raises(ClientError) as info:
        lam.create_function(
            FunctionName=name, Runtime=runtime, Handler="app.handler", Role=ROLE,
            Code={"ZipFile": zip_files({"app.py": "def handler(e, c):\n    return 1\n"})},
        )
    err = info.value.response
    assert err["Error"]["Code"] == "InvalidParameterValueException", err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)


# --------------------------------------------------------------------------
# More Node.js behaviour
# --------------------------------------------------------------------------


def test_node_import_failures(lam):
    name = create(lam, {"index.js": "exports.other = async () => 1;"}, runtime="nodejs20.x",
                  handler="index.handler")
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound", body
    assert "index.handler is undefined or not exported" in body["errorMessage"], body

    name = create(lam, {"index.js": "exports.handler = async () => 1;"}, runtime="nodejs20.x",
                  handler="missing.handler")
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError", body
    assert "Cannot find module 'missing'" in body["errorMessage"], body

    name = create(lam, {"index.js": "exports.handler = async () => { return 1 +; };"}, runtime="nodejs20.x",
                  handler="index.handler")
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.UserCodeSyntaxError", body


NODE_MISC = """
exports.handler = async (event, context) => {
  if (event.op === "exit") process.exit(event.code);
  if (event.op === "throw_string") throw "plain string";
  if (event.op === "undefined") return undefined;
  if (event.op === "error_log") { console.error("err-marker"); console.warn("warn-marker"); return "logged"; }
  return { waits: context.callbackWaitsForEmptyEventLoop };
};
"""


def test_node_misc_behaviour(lam):
    name = create(lam, {"index.js": NODE_MISC}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert body == {"waits": True}

    resp, body = invoke(lam, name, {"op": "undefined"})
    ok(resp)
    assert body is None  # "null"

    resp, body = invoke(lam, name, {"op": "error_log"}, LogType="Tail")
    ok(resp)
    tail = log_tail(resp)
    err = [l for l in tail.splitlines() if "err-marker" in l]
    warn = [l for l in tail.splitlines() if "warn-marker" in l]
    assert err and "\tERROR\t" in err[0], tail
    assert warn and "\tWARN\t" in warn[0], tail

    resp, body = invoke(lam, name, {"op": "throw_string"})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "string" and body["errorMessage"] == "plain string", body

    resp, body = invoke(lam, name, {"op": "exit", "code": 2})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError", body
    assert "Runtime exited with error: exit status 2" in body["errorMessage"], body
    resp, body = invoke(lam, name, {})
    ok(resp)


def test_python_returns_none_and_context_extras(lam):
    app = ("def handler(e, c):\n"
           "    if e.get('none'):\n        return None\n"
           "    return {'identity': c.identity is None or c.identity.cognito_identity_id,"
           " 'client_context': c.client_context}\n")
    name = create(lam, {"app.py": app})
    resp, body = invoke(lam, name, {"none": True})
    ok(resp)
    assert body is None
    resp, body = invoke(lam, name, {})
    ok(resp)
    assert body == {"identity": True, "client_context": None} or body["client_context"] is None, body


# --------------------------------------------------------------------------
# Custom runtime: Runtime API headers, init errors, bad bootstraps
# --------------------------------------------------------------------------


def test_runtime_api_headers(lam):
    name = create(lam, zip_dir(os.path.join(FUNCTIONS, "raw-runtime")), runtime="provided.al2023",
                  handler="my.handler", Timeout=10)
    t0 = time.time()
    resp, body = invoke(lam, name, {"q": 1}, LogType="Tail")
    ok(resp)
    h = body["headers"]
    assert body["event"] == {"q": 1}
    assert body["env_handler"] == "my.handler"
    assert h["lambda-runtime-aws-request-id"] == request_id(resp)
    assert h["lambda-runtime-invoked-function-arn"] == ARN_PREFIX + name
    deadline_ms = int(h["lambda-runtime-deadline-ms"])
    assert t0 * 1000 + 8000 < deadline_ms < t0 * 1000 + 11000 + 1000, (t0, deadline_ms)
    assert h.get("lambda-runtime-trace-id", "").startswith("Root="), h
    assert "raw runtime up" in log_tail(resp)

    resp, body = invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Custom.Failed", "errorMessage": "failed"}


def test_runtime_init_error(lam):
    name = create(lam, zip_dir(os.path.join(FUNCTIONS, "raw-runtime")), runtime="provided.al2023",
                  handler="x", Environment={"Variables": {"FAIL_INIT": "1"}})
    resp, body = invoke(lam, name, {})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Custom.InitFailed", body
    assert body["errorMessage"] == "init said no", body


def test_missing_or_unexecutable_bootstrap(lam):
    name = create(lam, {"README": "no bootstrap here"}, runtime="provided.al2023", handler="x")
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint", body

    import io, zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100644 << 16  # not executable
        z.writestr(info, "#!/bin/sh\necho hi\n")
    name = create(lam, buf.getvalue(), runtime="provided.al2023", handler="x")
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint", body
