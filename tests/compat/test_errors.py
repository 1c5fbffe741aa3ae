"""Errors as boto3 sees them: each AWS error type arrives as its modeled
exception class with the right HTTP status and an x-amzn-ErrorType header;
malformed raw requests get a 4xx and leave the server healthy; function
failures come back as FunctionError "Unhandled" with AWS's error payload.

Sources: botocore's lambda service-2.json (error shapes and statuses) and
the Lambda API reference (Invoke, CreateFunction, ...).
"""

import http.client
import json
import socket
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import create, invoke, unique, zip_files

ROLE = "arn:aws:iam::000000000000:role/test"
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"

APP = """
def handler(event, context):
    return {"ok": True}
"""

FAILING = """
def handler(event, context):
    raise ValueError("bad value: " + str(event.get("x")))
"""

# botocore rejects some of these values itself (e.g. MemorySize < 128) before
# sending; to test the server we switch client-side validation off.


@pytest.fixture(scope="module")
def raw_lam(server):
    return server.client(parameter_validation=False)


@pytest.fixture(scope="module")
def fn(lam):
    """One function with versions 1 and 2 and alias "live" -> 1."""
    name = create(lam, {"app.py": APP})
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": APP + "\n# v2\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


def expect(exc_class, status, call, *args, **kwargs):
    """Runs call, asserts it raised exc_class with HTTP status, returns the error."""
    with pytest.raises(exc_class) as info:
        call(*args, **kwargs)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    headers = err["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amzn-errortype", "").split(":")[0] == err["Error"]["Code"], headers
    assert err["Error"].get("Message"), err
    return err


def expect_400(call, *args, codes=("InvalidParameterValueException",), **kwargs):
    """A 400 whose code is one of codes (AWS answers constraint violations of
    the service model with ValidationException, its own checks with
    InvalidParameterValueException)."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] in codes, err
    assert err["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype", "").split(":")[0] == err["Error"]["Code"]
    return err


def create_kwargs(name, **over):
    kw = dict(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"ZipFile": zip_files({"app.py": APP})})
    kw.update(over)
    return kw


# --- ResourceNotFoundException (404) ------------------------------------


def test_unknown_function_is_404(lam):
    name = unique("missing")
    NotFound = lam.exceptions.ResourceNotFoundException
    err = expect(NotFound, 404, lam.get_function, FunctionName=name)
    # AWS: "Function not found: arn:aws:lambda:us-east-1:000000000000:function:NAME"
    assert err["Error"]["Message"] == f"Function not found: {ARN_PREFIX}{name}"
    expect(NotFound, 404, lam.get_function_configuration, FunctionName=name)
    expect(NotFound, 404, lam.invoke, FunctionName=name, Payload=b"{}")
    expect(NotFound, 404, lam.invoke, FunctionName=name, InvocationType="Event", Payload=b"{}")
    expect(NotFound, 404, lam.invoke, FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    expect(NotFound, 404, lam.delete_function, FunctionName=name)
    expect(NotFound, 404, lam.update_function_code, FunctionName=name, ZipFile=zip_files({"app.py": APP}))
    expect(NotFound, 404, lam.update_function_configuration, FunctionName=name, Timeout=5)
    expect(NotFound, 404, lam.publish_version, FunctionName=name)
    expect(NotFound, 404, lam.list_versions_by_function, FunctionName=name)
    expect(NotFound, 404, lam.list_aliases, FunctionName=name)
    expect(NotFound, 404, lam.list_tags, Resource=ARN_PREFIX + name)


def test_unknown_alias_is_404(lam, fn):
    NotFound = lam.exceptions.ResourceNotFoundException
    err = expect(NotFound, 404, lam.get_alias, FunctionName=fn, Name="nope")
    assert "nope" in err["Error"]["Message"]
    expect(NotFound, 404, lam.invoke, FunctionName=fn, Qualifier="nope", Payload=b"{}")
    expect(NotFound, 404, lam.invoke, FunctionName=fn + ":nope", Payload=b"{}")
    expect(NotFound, 404, lam.get_function, FunctionName=fn, Qualifier="nope")
    expect(NotFound, 404, lam.update_alias, FunctionName=fn, Name="nope", FunctionVersion="1")


def test_unknown_version_is_404(lam, fn):
    NotFound = lam.exceptions.ResourceNotFoundException
    err = expect(NotFound, 404, lam.get_function, FunctionName=fn, Qualifier="42")
    assert err["Error"]["Message"] == f"Function not found: {ARN_PREFIX}{fn}:42"
    expect(NotFound, 404, lam.get_function_configuration, FunctionName=fn, Qualifier="42")
    expect(NotFound, 404, lam.invoke, FunctionName=fn, Qualifier="42", Payload=b"{}")
    expect(NotFound, 404, lam.invoke, FunctionName=f"{ARN_PREFIX}{fn}:42", Payload=b"{}")
    # An alias cannot point at a version that does not exist.
    expect(NotFound, 404, lam.create_alias, FunctionName=fn, Name="ghost", FunctionVersion="42")


# --- ResourceConflictException (409) ------------------------------------


def test_create_function_twice_is_409(lam):
    name = create(lam, {"app.py": APP}, wait=False)
    err = expect(lam.exceptions.ResourceConflictException, 409, lam.create_function, **create_kwargs(name))
    # AWS: "Function already exist: NAME"
    assert name in err["Error"]["Message"]


def test_create_alias_twice_is_409(lam, fn):
    err = expect(lam.exceptions.ResourceConflictException, 409,
                 lam.create_alias, FunctionName=fn, Name="live", FunctionVersion="2")
    # AWS: "Alias already exists: arn:...:function:NAME:live"
    assert err["Error"]["Message"] == f"Alias already exists: {ARN_PREFIX}{fn}:live"
    assert lam.get_alias(FunctionName=fn, Name="live")["FunctionVersion"] == "1"


def test_delete_version_used_by_alias_is_409(lam, fn):
    expect(lam.exceptions.ResourceConflictException, 409, lam.delete_function, FunctionName=fn, Qualifier="1")
    assert lam.get_function(FunctionName=fn, Qualifier="1")["Configuration"]["Version"] == "1"


# --- InvalidParameterValueException (400) -------------------------------


@pytest.mark.parametrize("over,codes", [
    ({"MemorySize": 64}, ("InvalidParameterValueException", "ValidationException")),
    ({"MemorySize": 20000}, ("InvalidParameterValueException", "ValidationException")),
    ({"Timeout": 0}, ("InvalidParameterValueException", "ValidationException")),
    ({"Timeout": 901}, ("InvalidParameterValueException", "ValidationException")),
    ({"Runtime": "java21"}, ("InvalidParameterValueException",)),
    ({"Runtime": "python2.7"}, ("InvalidParameterValueException",)),
    ({"Runtime": "cobol85"}, ("InvalidParameterValueException", "ValidationException")),
    ({"Code": {"ZipFile": b"this is not a zip file"}}, ("InvalidParameterValueException",)),
    ({"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}}, ("InvalidParameterValueException",)),
    ({"EphemeralStorage": {"Size": 100}}, ("InvalidParameterValueException", "ValidationException")),
], ids=["memory-64", "memory-20000", "timeout-0", "timeout-901", "java21", "python2.7", "cobol85",
        "bad-zip", "reserved-env", "ephemeral-100"])
def test_create_function_invalid_parameter(lam, raw_lam, over, codes):
    name = unique("invalid")
    err = expect_400(raw_lam.create_function, codes=codes, **create_kwargs(name, **over))
    if over.get("Code"):
        assert "Could not unzip uploaded file" in err["Error"]["Message"]
    if over.get("Environment"):
        assert "AWS_REGION" in err["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)


def test_create_function_bad_name(lam, raw_lam):
    expect_400(raw_lam.create_function, codes=("InvalidParameterValueException", "ValidationException"),
               **create_kwargs("bad name!"))
    expect_400(raw_lam.create_function, codes=("InvalidParameterValueException", "ValidationException"),
               **create_kwargs("x" * 65))
    assert "bad name!" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


def test_update_configuration_invalid_leaves_function_unchanged(lam, raw_lam):
    name = create(lam, {"app.py": APP}, MemorySize=256)
    expect_400(raw_lam.update_function_configuration, FunctionName=name, MemorySize=64,
               codes=("InvalidParameterValueException", "ValidationException"))
    expect_400(raw_lam.update_function_configuration, FunctionName=name,
               Environment={"Variables": {"AWS_LAMBDA_FUNCTION_NAME": "x"}})
    expect_400(raw_lam.update_function_code, FunctionName=name, ZipFile=b"PK\x03\x04garbage")
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["MemorySize"] == 256
    assert "AWS_LAMBDA_FUNCTION_NAME" not in cfg.get("Environment", {}).get("Variables", {})
    assert invoke(lam, name)[1] == {"ok": True}


def test_alias_weight_above_one_is_400(lam, raw_lam, fn):
    expect_400(raw_lam.create_alias, FunctionName=fn, Name="heavy", FunctionVersion="1",
               RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}},
               codes=("InvalidParameterValueException", "ValidationException"))
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=fn, Name="heavy")


def test_invalid_invocation_type_is_400(lam, raw_lam, fn):
    expect_400(raw_lam.invoke, FunctionName=fn, InvocationType="Bogus", Payload=b"{}",
               codes=("InvalidParameterValueException", "ValidationException"))


# --- Payload errors ------------------------------------------------------


def test_sync_payload_over_6mb_is_413(lam, fn):
    payload = json.dumps({"d": "x" * (6 * 1024 * 1024)}).encode()
    err = expect(lam.exceptions.RequestTooLargeException, 413, lam.invoke, FunctionName=fn, Payload=payload)
    assert "6291456" in err["Error"]["Message"]


def test_event_payload_over_1mb_is_413(lam, fn):
    payload = json.dumps({"d": "x" * (1024 * 1024 + 10)}).encode()
    expect(lam.exceptions.RequestTooLargeException, 413,
           lam.invoke, FunctionName=fn, InvocationType="Event", Payload=payload)
    # Under the async limit it is accepted.
    ok = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"d": "x" * 900_000}))
    assert ok["StatusCode"] == 202


def test_non_json_payload_is_invalid_request_content(lam, fn):
    err = expect(lam.exceptions.InvalidRequestContentException, 400,
                 lam.invoke, FunctionName=fn, Payload=b"this is {not json")
    assert "Could not parse request body into json" in err["Error"]["Message"]


def test_wrong_revision_id_is_precondition_failed(lam):
    name = create(lam, {"app.py": APP})
    rev = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    expect(lam.exceptions.PreconditionFailedException, 412, lam.update_function_configuration,
           FunctionName=name, Timeout=9, RevisionId="00000000-0000-0000-0000-000000000000")
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 3
    # The right one works.
    assert lam.update_function_configuration(FunctionName=name, Timeout=9, RevisionId=rev)["Timeout"] == 9


# --- Raw malformed requests ---------------------------------------------


def raw(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def assert_healthy(server):
    with urllib.request.urlopen(server.endpoint + "/_lamina/health", timeout=5) as r:
        assert r.status == 200


@pytest.mark.parametrize("method,path,body,expected_type", [
    ("POST", "/2015-03-31/functions", b"{not json", "InvalidRequestContentException"),
    ("POST", "/2015-03-31/functions", b"[1, 2, 3]", None),
    ("POST", "/2015-03-31/functions", b"", None),
    ("PUT", "/2015-03-31/functions/whatever/configuration", b"\xff\xfe\x00garbage", None),
    ("GET", "/no/such/path/../at%00all", None, None),
    ("PATCH", "/2015-03-31/functions", b"{}", None),
], ids=["invalid-json", "json-array", "empty-body", "binary-body", "garbage-path", "wrong-method"])
def test_raw_malformed_request_is_4xx(server, method, path, body, expected_type):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    code, headers, payload = raw(server, method, path, body, headers)
    assert 400 <= code < 500, (code, payload)
    assert headers.get("x-amzn-errortype"), (code, headers, payload)
    if expected_type:
        assert headers["x-amzn-errortype"].split(":")[0] == expected_type
    json.loads(payload)  # the error body is JSON
    assert_healthy(server)


def test_raw_huge_header_is_rejected(server):
    # Far beyond any AWS front end's header limit; a protocol-level 431 (or
    # closing the connection) is the expected refusal.
    for headers in ({"X-Huge": "a" * 2_000_000}, {f"X-H{i}": "b" for i in range(2000)}):
        try:
            code, _, _ = raw(server, "GET", "/2015-03-31/functions/", headers=headers)
            assert 400 <= code < 500, code
        except (ConnectionError, http.client.HTTPException, socket.error):
            pass
        assert_healthy(server)


def test_raw_create_missing_required_fields(server):
    code, headers, payload = raw(server, "POST", "/2015-03-31/functions",
                                 json.dumps({"FunctionName": unique("raw")}).encode(),
                                 {"Content-Type": "application/json"})
    assert code == 400, payload
    assert headers.get("x-amzn-errortype", "").split(":")[0] in (
        "InvalidParameterValueException", "ValidationException")
    assert_healthy(server)


# --- Function errors -----------------------------------------------------


def test_handler_exception_is_unhandled_function_error(lam):
    name = create(lam, {"app.py": FAILING})
    resp, body = invoke(lam, name, {"x": 42})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad value: 42"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert any("raise ValueError" in line for line in body["stackTrace"]), body["stackTrace"]
    # The environment survives a handled exception and keeps serving.
    resp, body = invoke(lam, name, {"x": 1})
    assert body["errorMessage"] == "bad value: 1"


def test_missing_module_is_import_module_error(lam):
    name = create(lam, {"app.py": APP}, handler="nomod.handler")
    resp, body = invoke(lam, name)
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'nomod'"), body


def test_missing_handler_is_handler_not_found(lam):
    name = create(lam, {"app.py": APP}, handler="app.nope")
    resp, body = invoke(lam, name)
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'nope' missing on module 'app'", body


def test_syntax_error_is_user_code_syntax_error(lam):
    name = create(lam, {"app.py": "def handler(event, context)\n    return 1\n"})
    resp, body = invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.UserCodeSyntaxError", body
    assert body["errorMessage"].startswith("Syntax error in module 'app'"), body


def test_exception_during_init_reports_its_type(lam):
    name = create(lam, {"app.py": "raise RuntimeError('init exploded')\ndef handler(e, c):\n    return 1\n"})
    resp, body = invoke(lam, name)
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "RuntimeError", body
    assert body["errorMessage"] == "init exploded"


def test_unserializable_result_is_marshal_error(lam):
    name = create(lam, {"app.py": "def handler(e, c):\n    return {1, 2}\n"})
    resp, body = invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError", body
    assert body["errorMessage"].startswith("Unable to marshal response:"), body


def test_timeout_is_sandbox_timedout(lam):
    name = create(lam, {"app.py": "import time\ndef handler(e, c):\n    time.sleep(30)\n"}, Timeout=1)
    resp, body = invoke(lam, name, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout", body
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body
    # The next invoke gets a fresh environment and works within its timeout.
    lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": APP}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    assert invoke(lam, name)[1] == {"ok": True}
