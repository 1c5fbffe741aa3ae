"""Traces: every invocation is an OpenTelemetry span tree exported over
OTLP/HTTP, continuing the caller's X-Ray or W3C trace, and the function
sees the trace the way Lambda hands it over (`_X_AMZN_TRACE_ID`).

The collector is an OTLP/HTTP receiver inside the test: a small
http.server decoding ExportTraceServiceRequest with `opentelemetry-proto`.
"""

import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import create, invoke

TRACE_FN = "import os\n\ndef handler(event, context):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"

W3C_TRACE = "5759e988bd862e3fe1be46a994272793"
W3C_PARENT = "53995c3f42cd8ad8"
XRAY_ROOT = "1-5759e988-bd862e3fe1be46a994272793"


class Collector:
    """An OTLP/HTTP traces receiver on a free loopback port."""

    def __init__(self):
        self.spans = []
        self.requests = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                with collector.lock:
                    collector.requests.append((self.path, self.headers.get("content-type")))
                    for resource_spans in request.resource_spans:
                        resource = attributes(resource_spans.resource.attributes)
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                collector.spans.append((resource, span))
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, predicate, timeout=15):
        """The spans (all of them) once one matches `predicate`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                spans = [s for _, s in self.spans]
            if any(predicate(s) for s in spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(f"no matching span arrived; got {[s.name for s in spans]}")

    def stop(self):
        self.httpd.shutdown()


def attributes(kvs):
    out = {}
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


def root_of(spans, request_id):
    roots = [s for s in spans if attributes(s.attributes).get("faas.invocation_id") == request_id]
    assert len(roots) == 1, [s.name for s in spans]
    return roots[0]


def children_of(spans, root):
    return {s.name: s for s in spans if s.parent_span_id == root.span_id and s.trace_id == root.trace_id}


def xray_fields(header):
    return dict(part.split("=", 1) for part in header.split(";"))


@pytest.fixture()
def collector():
    c = Collector()
    yield c
    c.stop()


@pytest.fixture()
def traced(start_server, collector, monkeypatch):
    # Export within 100 ms instead of the batch processor's default 5 s.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    # Record every trace (the default keeps one a second, then 5%).
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    return start_server(extra_args=["--otlp-endpoint", collector.url])


def raw_invoke(server, name, headers, payload=b"{}"):
    """Invoke over plain HTTP, so the trace headers are exactly ours."""
    req = urllib.request.Request(
        f"{server.endpoint}/2015-03-31/functions/{name}/invocations", data=payload, method="POST",
        headers={"content-type": "application/json", **headers},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, r.headers["x-amzn-requestid"], r.read()


def test_an_invocation_is_a_span_tree_and_the_function_sees_its_trace(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    resp, seen = invoke(lam, name, {})
    request_id = resp["ResponseMetadata"]["RequestId"]
    spans = collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == request_id)
    root = root_of(spans, request_id)

    assert root.name == f"Invoke {name}"
    assert root.kind == trace_pb2.Span.SPAN_KIND_SERVER
    attrs = attributes(root.attributes)
    assert attrs["faas.name"] == name
    assert attrs["faas.version"] == "$LATEST"
    assert attrs["faas.coldstart"] is True
    assert attrs["faas.trigger"] == "other"
    assert attrs["cloud.region"] == "us-east-1"
    assert attrs["http.response.status_code"] == 200
    assert root.parent_span_id == b"", "no caller trace: the invocation starts a new trace"

    children = children_of(spans, root)
    assert {"Cold start", "Init", "Invoke"} <= set(children), list(children)
    for child in children.values():
        assert root.start_time_unix_nano <= child.start_time_unix_nano <= child.end_time_unix_nano
        assert child.end_time_unix_nano <= root.end_time_unix_nano
    assert children["Cold start"].end_time_unix_nano <= children["Init"].start_time_unix_nano
    assert children["Init"].end_time_unix_nano <= children["Invoke"].start_time_unix_nano

    # The function got a trace id even though the caller sent none, with
    # the Invoke span as its parent, as Lambda's _X_AMZN_TRACE_ID reads.
    fields = xray_fields(seen)
    assert fields["Root"] == f"1-{root.trace_id.hex()[:8]}-{root.trace_id.hex()[8:]}"
    assert fields["Parent"] == children["Invoke"].span_id.hex()
    assert fields["Sampled"] == "1"

    resources = [r for r, s in collector.spans if s.span_id == root.span_id]
    assert resources[0]["service.name"] == "lamina"
    assert collector.requests[0] == ("/v1/traces", "application/x-protobuf")


def test_a_warm_invoke_has_no_cold_start_or_init_span(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    invoke(lam, name, {})
    resp, _ = invoke(lam, name, {})
    request_id = resp["ResponseMetadata"]["RequestId"]
    spans = collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == request_id)
    root = root_of(spans, request_id)
    assert attributes(root.attributes)["faas.coldstart"] is False
    assert set(children_of(spans, root)) == {"Invoke"}


def test_traceparent_continues_the_callers_trace(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    status, request_id, body = raw_invoke(traced, name, {"traceparent": f"00-{W3C_TRACE}-{W3C_PARENT}-01"})
    assert status == 200
    spans = collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == request_id)
    root = root_of(spans, request_id)
    assert root.trace_id.hex() == W3C_TRACE
    assert root.parent_span_id.hex() == W3C_PARENT
    fields = xray_fields(json.loads(body))
    assert fields["Root"] == XRAY_ROOT
    assert fields["Parent"] == children_of(spans, root)["Invoke"].span_id.hex()
    assert fields["Sampled"] == "1"


def test_x_amzn_trace_id_continues_the_callers_trace(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    header = f"Root={XRAY_ROOT};Parent={W3C_PARENT};Sampled=1"
    status, request_id, body = raw_invoke(traced, name, {"X-Amzn-Trace-Id": header})
    assert status == 200
    spans = collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == request_id)
    root = root_of(spans, request_id)
    assert root.trace_id.hex() == W3C_TRACE
    assert root.parent_span_id.hex() == W3C_PARENT
    assert xray_fields(json.loads(body))["Root"] == XRAY_ROOT


def test_an_unsampled_caller_trace_is_passed_on_but_not_exported(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    _, unsampled_id, body = raw_invoke(traced, name, {"traceparent": f"00-{W3C_TRACE}-{W3C_PARENT}-00"})
    fields = xray_fields(json.loads(body))
    assert fields["Root"] == XRAY_ROOT and fields["Sampled"] == "0"
    # A sampled invocation after it is exported; the unsampled one never is.
    resp, _ = invoke(lam, name, {})
    sampled_id = resp["ResponseMetadata"]["RequestId"]
    spans = collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == sampled_id)
    assert not [s for s in spans if attributes(s.attributes).get("faas.invocation_id") == unsampled_id]


def test_an_async_invoke_keeps_the_callers_trace_and_shows_its_queue_wait(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    status, request_id, _ = raw_invoke(
        traced, name, {"X-Amz-Invocation-Type": "Event", "traceparent": f"00-{W3C_TRACE}-{W3C_PARENT}-01"},
    )
    assert status == 202
    spans = collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == request_id)
    root = root_of(spans, request_id)
    assert root.kind == trace_pb2.Span.SPAN_KIND_CONSUMER
    assert root.trace_id.hex() == W3C_TRACE
    assert root.parent_span_id.hex() == W3C_PARENT
    children = children_of(spans, root)
    assert {"Queue", "Invoke"} <= set(children), list(children)
    assert children["Queue"].end_time_unix_nano <= children["Invoke"].start_time_unix_nano


def test_a_function_url_request_continues_its_trace(traced, collector):
    lam = traced.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    url_id = urllib.parse.urlsplit(url).hostname.split(".")[0]
    req = urllib.request.Request(
        f"{traced.endpoint}/_url/{url_id}/", headers={"traceparent": f"00-{W3C_TRACE}-{W3C_PARENT}-01"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read().decode()
    # A returned string is the response body (Lambda's function URL rules); print its repr on failure.
    seen = json.loads(body) if body.startswith('"') else body
    assert xray_fields(seen)["Root"] == XRAY_ROOT, body
    spans = collector.wait(
        lambda s: s.trace_id.hex() == W3C_TRACE and attributes(s.attributes).get("faas.name") == name
    )
    root = [s for s in spans if s.trace_id.hex() == W3C_TRACE and attributes(s.attributes).get("faas.name") == name][0]
    assert attributes(root.attributes)["faas.trigger"] == "http"
    assert root.parent_span_id.hex() == W3C_PARENT


def test_telemetry_off_exports_no_spans_and_counts_nothing(start_server, collector, monkeypatch):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    srv = start_server(extra_args=["--otlp-endpoint", collector.url, "--telemetry", "off"])
    lam = srv.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    resp, seen = invoke(lam, name, {})
    # The function still gets a trace id, unsampled, as Lambda does without tracing.
    fields = xray_fields(seen)
    assert fields["Root"].startswith("1-") and fields["Sampled"] == "0"
    with urllib.request.urlopen(srv.endpoint + "/metrics", timeout=10) as r:
        assert name not in r.read().decode()
    logs = srv.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        events = []
    assert events == [], "function log capture is off"
    time.sleep(0.5)
    assert collector.spans == []


def test_default_sampling_is_xrays_one_a_second_then_five_percent(start_server, collector, monkeypatch):
    """Without OTEL_TRACES_SAMPLER, traces that start at Lamina follow
    X-Ray's default rule; a caller's Sampled=1 is always recorded."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    srv = start_server(extra_args=["--otlp-endpoint", collector.url])
    lam = srv.client("lambda")
    name = create(lam, {"app.py": TRACE_FN})
    invoke(lam, name, {})  # warm up
    time.sleep(1.2)
    started = time.time()
    seen = [invoke(lam, name, {})[1] for _ in range(40)]
    took = time.time() - started
    sampled = [xray_fields(h)["Sampled"] for h in seen]
    # The first of each second is recorded, then about 1 in 20.
    assert sampled[0] == "1", sampled
    assert sampled.count("1") <= int(took) + 2 + 10, (sampled, took)
    assert sampled.count("0") >= 20, sampled
    # A caller that asks for the trace gets it recorded and exported.
    root = "1-5759e988-bd862e3fe1be46a994272794"
    status, request_id, _ = raw_invoke(srv, name, {"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert status == 200
    collector.wait(lambda s: attributes(s.attributes).get("faas.invocation_id") == request_id)
