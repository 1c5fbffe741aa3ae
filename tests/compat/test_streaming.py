"""Response streaming: InvokeWithResponseStream through boto3's event-stream
parser, function URLs in RESPONSE_STREAM mode read at the socket level, and
the Runtime API's streamed /response from Node's awslambda.streamifyResponse
and from a provided.al2023 bootstrap that speaks the Runtime API itself."""

import base64
import http.client
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from conftest import FUNCTIONS, ROOT, create, invoke

NODE = "nodejs20.x"

# Writes, sleeps, writes: the caller must see the first chunk well before the second.
SLOW = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('first;');
  await new Promise((r) => setTimeout(r, event.sleepMs || 500));
  responseStream.write('second;');
  console.log('streamed for ' + context.awsRequestId);
  responseStream.end();
});
"""

# Fails after the first chunk.
MID_STREAM_ERROR = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial;');
  await new Promise((r) => setTimeout(r, 50));
  throw new TypeError('broke mid-stream');
});
"""

# Writes `mb` MiB in 1 MiB chunks (respecting backpressure).
BIG = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  for (let i = 0; i < event.mb; i++) {
    if (!responseStream.write(chunk)) await new Promise((r) => responseStream.once('drain', r));
  }
  responseStream.end();
});
"""

# An HTTP response for a function URL: prelude, then a body in two parts.
HTTP_STREAM = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'Content-Type': 'text/plain', 'X-Streamed': 'yes' },
    cookies: ['a=1', 'b=2'],
  });
  out.write('hello ');
  await new Promise((r) => setTimeout(r, 500));
  out.write('world');
  out.end();
});
"""

# A provided.al2023 runtime in Python that streams with the Runtime API
# directly: chunked POST, and trailers for an error when asked.
PY_BOOTSTRAP = """#!/usr/bin/env python3
import base64, http.client, json, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
while True:
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.putrequest("POST", f"/2018-06-01/runtime/invocation/{rid}/response")
    c.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    c.putheader("Transfer-Encoding", "chunked")
    c.putheader("Content-Type", "text/plain")
    c.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    c.endheaders()
    for i, part in enumerate(event.get("parts", [])):
        data = part.encode()
        c.send(b"%x\\r\\n%s\\r\\n" % (len(data), data))
        time.sleep(event.get("gap", 0))
    if event.get("fail"):
        body = base64.b64encode(json.dumps({"errorMessage": "shell says no", "errorType": "CustomError"}).encode())
        c.send(b"0\\r\\nLambda-Runtime-Function-Error-Type: CustomError\\r\\nLambda-Runtime-Function-Error-Body: " + body + b"\\r\\n\\r\\n")
    else:
        c.send(b"0\\r\\n\\r\\n")
    c.getresponse().read()
    c.close()
"""


def stream_events(lam, name, event, **kw):
    """Invokes with InvokeWithResponseStream; returns (response, [(arrival s, event)])."""
    started = time.monotonic()
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event), **kw)
    events = [(time.monotonic() - started, e) for e in resp["EventStream"]]
    return resp, events


def chunks_of(events):
    return [e["PayloadChunk"]["Payload"] for _, e in events if "PayloadChunk" in e]


def complete_of(events):
    done = [e["InvokeComplete"] for _, e in events if "InvokeComplete" in e]
    assert len(done) == 1, events
    assert "InvokeComplete" in events[-1][1], "InvokeComplete must be the last event"
    return done[0]


@pytest.fixture(scope="module")
def slow_fn(lam):
    return create(lam, {"index.js": SLOW}, runtime=NODE, handler="index.handler")


def test_chunks_arrive_as_written(lam, slow_fn):
    resp, events = stream_events(lam, slow_fn, {"sleepMs": 600}, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    assert b"".join(chunks_of(events)) == b"first;second;"
    first = next(t for t, e in events if "PayloadChunk" in e and e["PayloadChunk"]["Payload"].startswith(b"first"))
    second = next(t for t, e in events if "PayloadChunk" in e and b"second" in e["PayloadChunk"]["Payload"])
    print(f"first chunk at {first * 1000:.0f} ms, second at {second * 1000:.0f} ms")
    # The function slept 600 ms between its writes: the first chunk came
    # before the sleep ended, not with the second.
    assert second - first > 0.3, (first, second)
    done = complete_of(events)
    assert "ErrorCode" not in done
    log = base64.b64decode(done["LogResult"]).decode()
    assert "streamed for " + resp["ResponseMetadata"]["RequestId"] in log
    assert "REPORT RequestId: " + resp["ResponseMetadata"]["RequestId"] in log


def test_warm_sandbox_serves_the_next_stream(lam, slow_fn):
    # The sandbox goes back to the pool only after the stream ended; a
    # second call must reuse it and stream again.
    for _ in range(3):
        _, events = stream_events(lam, slow_fn, {"sleepMs": 10})
        assert b"".join(chunks_of(events)) == b"first;second;"
        assert "ErrorCode" not in complete_of(events)


def test_mid_stream_error_ends_with_error_code(lam):
    name = create(lam, {"index.js": MID_STREAM_ERROR}, runtime=NODE, handler="index.handler")
    _, events = stream_events(lam, name, {})
    assert b"".join(chunks_of(events)) == b"partial;"
    done = complete_of(events)
    assert done["ErrorCode"] == "TypeError"
    assert "broke mid-stream" in done["ErrorDetails"]
    # The runtime recovered: the next invocation streams normally.
    _, events = stream_events(lam, name, {})
    assert b"".join(chunks_of(events)) == b"partial;"


def test_timeout_and_exit_mid_stream(lam):
    app = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before;');
  await new Promise((r) => setTimeout(r, 100));
  if (event.exit) process.exit(3);
  await new Promise((r) => setTimeout(r, 5000));
  responseStream.end('never');
});
"""
    name = create(lam, {"index.js": app}, runtime=NODE, handler="index.handler", Timeout=1)
    _, events = stream_events(lam, name, {})
    assert b"".join(chunks_of(events)) == b"before;"
    done = complete_of(events)
    assert done["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in done["ErrorDetails"]

    _, events = stream_events(lam, name, {"exit": True})
    assert b"".join(chunks_of(events)) == b"before;"
    done = complete_of(events)
    assert done["ErrorCode"] == "Runtime.ExitError"
    assert "exit status 3" in done["ErrorDetails"]


def test_caller_going_away_does_not_break_the_function(lam, slow_fn):
    resp = lam.invoke_with_response_stream(FunctionName=slow_fn, Payload=json.dumps({"sleepMs": 300}))
    stream = resp["EventStream"]
    first = next(iter(stream))
    assert first["PayloadChunk"]["Payload"] == b"first;"
    stream.close()
    # The function ran to its end; its sandbox serves the next call.
    _, events = stream_events(lam, slow_fn, {"sleepMs": 10})
    assert b"".join(chunks_of(events)) == b"first;second;"
    assert "ErrorCode" not in complete_of(events)


def test_non_streaming_function_through_the_streaming_api(lam):
    app = "def handler(event, context):\n    return {'echo': event}\n"
    name = create(lam, {"app.py": app})
    resp, events = stream_events(lam, name, {"k": "v"})
    assert resp["StatusCode"] == 200
    assert json.loads(b"".join(chunks_of(events))) == {"echo": {"k": "v"}}
    assert "ErrorCode" not in complete_of(events)

    failing = create(lam, {"app.py": "def handler(event, context):\n    raise ValueError('nope')\n"})
    _, events = stream_events(lam, failing, {})
    assert chunks_of(events) == []
    done = complete_of(events)
    assert done["ErrorCode"] == "ValueError"
    assert done["ErrorDetails"] == "nope"


def test_buffered_invoke_of_a_streaming_function_gets_the_whole_body(lam, slow_fn):
    resp, body = invoke(lam, slow_fn, {"sleepMs": 10})
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert body == b"first;second;"


def test_dry_run_and_bad_input(lam, slow_fn):
    resp = lam.invoke_with_response_stream(FunctionName=slow_fn, InvocationType="DryRun")
    assert resp["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="no-such-function-xyz", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke_with_response_stream(FunctionName=slow_fn, Payload=b"{not json")
    # Event is not a streaming invocation type.
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.invoke_with_response_stream(FunctionName=slow_fn, InvocationType="Event", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_qualifier_and_client_context(lam):
    app = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.end(JSON.stringify({ version: context.functionVersion, custom: context.clientContext.custom }));
});
"""
    name = create(lam, {"index.js": app}, runtime=NODE, handler="index.handler")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    cc = base64.b64encode(json.dumps({"custom": {"who": "test"}}).encode()).decode()
    resp, events = stream_events(lam, name, {}, Qualifier="live", ClientContext=cc)
    assert resp["ExecutedVersion"] == version
    assert json.loads(b"".join(chunks_of(events))) == {"version": version, "custom": {"who": "test"}}


def test_provided_runtime_streams_with_curl_like_chunks_and_trailers(lam):
    name = create(lam, {"bootstrap": PY_BOOTSTRAP}, runtime="provided.al2023", handler="bootstrap")
    _, events = stream_events(lam, name, {"parts": ["a", "b", "c"], "gap": 0.3})
    assert b"".join(chunks_of(events)) == b"abc"
    times = [t for t, e in events if "PayloadChunk" in e]
    assert times[-1] - times[0] > 0.3, times
    assert "ErrorCode" not in complete_of(events)

    _, events = stream_events(lam, name, {"parts": ["x"], "fail": True})
    assert b"".join(chunks_of(events)) == b"x"
    done = complete_of(events)
    assert done["ErrorCode"] == "CustomError"
    assert done["ErrorDetails"] == "shell says no"


def test_size_limits(lam):
    name = create(lam, {"index.js": BIG}, runtime=NODE, handler="index.handler", MemorySize=512, Timeout=60)
    # Buffered Invoke of a streaming function: Lambda's 6 MB limit.
    resp, body = invoke(lam, name, {"mb": 7})
    assert resp.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    # Streamed: 200 MB; beyond it the stream ends with the error.
    started = time.monotonic()
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"mb": 201}))
    received, done = 0, None
    for e in resp["EventStream"]:
        if "PayloadChunk" in e:
            received += len(e["PayloadChunk"]["Payload"])
        else:
            done = e["InvokeComplete"]
    print(f"streamed {received / 2**20:.0f} MiB in {time.monotonic() - started:.1f} s")
    assert received <= 200 * 1024 * 1024
    assert received > 190 * 1024 * 1024
    assert done["ErrorCode"] == "Function.ResponseSizeTooLarge"
    # Under the limit, everything arrives.
    _, events = stream_events(lam, name, {"mb": 8})
    assert sum(len(c) for c in chunks_of(events)) == 8 * 1024 * 1024
    assert "ErrorCode" not in complete_of(events)


@pytest.fixture(scope="module")
def rust_stream_bootstrap():
    """Builds functions/rust-stream (lambda_runtime::streaming) and returns the binary."""
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.path.exists(cargo):
        pytest.skip("SKIPPED LOUDLY: cargo is not installed, cannot build the rust-stream fixture")
    manifest = os.path.join(FUNCTIONS, "rust-stream", "Cargo.toml")
    target = os.path.join(ROOT, "target", "fixtures")
    proc = subprocess.run(
        [cargo, "build", "--release", "--manifest-path", manifest],
        env={**os.environ, "CARGO_TARGET_DIR": target}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(os.path.join(target, "release", "rust-stream"), "rb") as f:
        return f.read()


def test_rust_lambda_runtime_streaming(lam, server, rust_stream_bootstrap):
    name = create(lam, {"bootstrap": rust_stream_bootstrap}, runtime="provided.al2023", handler="bootstrap")
    # lambda_runtime's streaming Response is an HTTP integration response:
    # through InvokeWithResponseStream the caller sees the prelude, 8 NUL
    # bytes, then the body.
    _, events = stream_events(lam, name, {"gap_ms": 500})
    prelude, body = b"".join(chunks_of(events)).split(b"\0" * 8, 1)
    assert json.loads(prelude)["statusCode"] == 200
    assert body == b"first\nsecond\n"
    first = next(t for t, e in events if "PayloadChunk" in e and b"first" in e["PayloadChunk"]["Payload"])
    second = next(t for t, e in events if "PayloadChunk" in e and b"second" in e["PayloadChunk"]["Payload"])
    assert second - first > 0.3, (first, second)
    assert "ErrorCode" not in complete_of(events)
    # Through a RESPONSE_STREAM function URL the prelude becomes the status
    # line and headers.
    cfg = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", url_path(cfg["FunctionUrl"]), body=json.dumps({"gap_ms": 0}))
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.read() == b"first\nsecond\n"


# --------------------------------------------------------------------------
# Function URLs with InvokeMode RESPONSE_STREAM
# --------------------------------------------------------------------------


def url_path(url):
    """/_url/{urlId}/ for a function URL (no Host tricks needed)."""
    host = urllib.parse.urlparse(url).hostname
    return "/_url/" + host.split(".")[0] + "/"


def test_function_url_streams_status_headers_and_body(lam, server):
    name = create(lam, {"index.js": HTTP_STREAM}, runtime=NODE, handler="index.handler")
    cfg = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    assert cfg["InvokeMode"] == "RESPONSE_STREAM"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    started = time.monotonic()
    conn.request("GET", url_path(cfg["FunctionUrl"]))
    resp = conn.getresponse()
    assert resp.status == 201
    assert resp.getheader("Content-Type") == "text/plain"
    assert resp.getheader("X-Streamed") == "yes"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert sorted(v for k, v in resp.getheaders() if k.lower() == "set-cookie") == ["a=1", "b=2"]
    first = resp.read1(64)
    first_at = time.monotonic() - started
    rest = resp.read()
    done_at = time.monotonic() - started
    print(f"url: first bytes at {first_at * 1000:.0f} ms, end at {done_at * 1000:.0f} ms")
    assert first + rest == b"hello world"
    assert first == b"hello "
    assert done_at - first_at > 0.3


def test_function_url_without_prelude_and_with_errors(lam, server):
    name = create(lam, {"index.js": SLOW}, runtime=NODE, handler="index.handler")
    cfg = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", url_path(cfg["FunctionUrl"]), body=json.dumps({"sleepMs": 10}))
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/plain"
    assert resp.read() == b"first;second;"

    # An error before the first byte is a 502, as for buffered URLs.
    failing = create(lam, {"index.js": "exports.handler = awslambda.streamifyResponse(async () => { throw new Error('x'); });"},
                     runtime=NODE, handler="index.handler")
    cfg = lam.create_function_url_config(FunctionName=failing, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", url_path(cfg["FunctionUrl"]))
    resp = conn.getresponse()
    assert resp.status == 502
    resp.read()

    # An error mid-stream cuts the chunked body short.
    broken = create(lam, {"index.js": MID_STREAM_ERROR}, runtime=NODE, handler="index.handler")
    cfg = lam.create_function_url_config(FunctionName=broken, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", url_path(cfg["FunctionUrl"]))
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as e:
        resp.read()
    assert e.value.partial == b"partial;"


def test_buffered_function_behind_a_streaming_url(lam, server):
    app = "def handler(event, context):\n    return {'statusCode': 202, 'body': 'buffered'}\n"
    name = create(lam, {"app.py": app})
    cfg = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", url_path(cfg["FunctionUrl"]))
    resp = conn.getresponse()
    assert resp.status == 202
    assert resp.read() == b"buffered"
