"""The Lambda control API as boto3 drives it: functions, code, configuration,
versions, aliases, tags, account settings, and the Invoke options
(InvocationType, LogType, ClientContext, Qualifier, large payloads).

Wire shapes: botocore's `lambda/2015-03-31/service-2.json`; behaviour: the
AWS Lambda developer guide / API reference.
"""

import base64
import hashlib
import json
import re
import time
import urllib.request

import pytest

from conftest import create, invoke, log_tail, unique, zip_files

ROLE = "arn:aws:iam::000000000000:role/test"
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"

# A handler that reports what it sees; VERSION marks which code is running.
APP = """
import os
VERSION = "%s"
def handler(event, context):
    if isinstance(event, dict) and event.get("print"):
        print(event["print"], flush=True)
    cc = context.client_context
    return {
        "v": VERSION,
        "env": dict(os.environ),
        "mem": int(context.memory_limit_in_mb),
        "fver": context.function_version,
        "farn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "cc_custom": getattr(cc, "custom", None) if cc else None,
        "cc_env": getattr(cc, "env", None) if cc else None,
        "cc_installation_id": getattr(getattr(cc, "client", None), "installation_id", None) if cc else None,
    }
"""

ECHO = """
def handler(event, context):
    return event
"""


def app(version="v1"):
    return {"app.py": APP % version}


def status(resp):
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def wait_updated(lam, name, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}, **kw)


def wait_active(lam, name):
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})


# --- CreateFunction / GetFunction / GetFunctionConfiguration ---------------


def test_create_function_response_and_state(lam):
    name = unique("create")
    code = zip_files(app())
    resp = lam.create_function(
        FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": code}, MemorySize=256, Timeout=17, Description="a test function",
        Environment={"Variables": {"FOO": "bar", "EMPTY": ""}}, EphemeralStorage={"Size": 1024},
        Architectures=["x86_64"], Tags={"team": "core", "env": "test"},
    )
    assert status(resp) == 201
    assert resp["FunctionName"] == name
    assert resp["FunctionArn"] == ARN_PREFIX + name
    assert resp["Runtime"] == "python3.12"
    assert resp["Handler"] == "app.handler"
    assert resp["Role"] == ROLE
    assert resp["MemorySize"] == 256
    assert resp["Timeout"] == 17
    assert resp["Description"] == "a test function"
    assert resp["Environment"] == {"Variables": {"FOO": "bar", "EMPTY": ""}}
    assert resp["EphemeralStorage"] == {"Size": 1024}
    assert resp["Architectures"] == ["x86_64"]
    assert resp["PackageType"] == "Zip"
    assert resp["Version"] == "$LATEST"
    assert resp["CodeSize"] == len(code)
    assert resp["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", resp["RevisionId"])
    # e.g. 2018-11-27T15:10:45.123+0000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", resp["LastModified"]), resp["LastModified"]
    # A new function starts Pending (AWS: "The function is being created.").
    assert resp["State"] == "Pending"
    assert resp["StateReasonCode"] == "Creating"

    wait_active(lam, name)
    cfg = lam.get_function_configuration(FunctionName=name)
    assert status(cfg) == 200
    assert cfg["State"] == "Active"
    assert cfg["LastUpdateStatus"] == "Successful"
    for key in ("FunctionName", "FunctionArn", "Runtime", "Handler", "Role", "MemorySize", "Timeout",
                "Description", "Environment", "EphemeralStorage", "Architectures", "CodeSha256", "CodeSize",
                "Version", "PackageType"):
        assert cfg[key] == resp[key], key

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["FunctionArn"] == ARN_PREFIX + name
    assert got["Tags"] == {"team": "core", "env": "test"}


def test_create_function_defaults(lam):
    name = create(lam, app())
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["MemorySize"] == 128
    assert cfg["Timeout"] == 3
    assert cfg["EphemeralStorage"] == {"Size": 512}
    assert cfg["Architectures"] == ["x86_64"]
    assert cfg["PackageType"] == "Zip"
    assert cfg["TracingConfig"] == {"Mode": "PassThrough"}


def test_get_function_code_location_downloads_zip(lam):
    code = zip_files(app("download"))
    name = create(lam, code)
    got = lam.get_function(FunctionName=name)
    assert status(got) == 200
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as r:
        assert r.status == 200
        assert r.read() == code
    assert got["Configuration"]["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()


def test_get_function_by_full_and_partial_arn(lam):
    name = create(lam, app())
    assert lam.get_function_configuration(FunctionName=ARN_PREFIX + name)["FunctionName"] == name
    assert lam.get_function_configuration(FunctionName="000000000000:function:" + name)["FunctionName"] == name
    assert lam.get_function(FunctionName=ARN_PREFIX + name + ":$LATEST")["Configuration"]["Version"] == "$LATEST"


def test_responses_carry_request_id(lam):
    """Every AWS response carries x-amzn-RequestId (boto3's ResponseMetadata.RequestId)."""
    name = create(lam, app())
    uuid_re = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    calls = {
        "Invoke": lambda: lam.invoke(FunctionName=name, Payload=b"{}"),
        "ListFunctions": lambda: lam.list_functions(MaxItems=1),
        "GetFunction": lambda: lam.get_function(FunctionName=name),
        "GetFunctionConfiguration": lambda: lam.get_function_configuration(FunctionName=name),
        "GetAccountSettings": lambda: lam.get_account_settings(),
        "ListVersionsByFunction": lambda: lam.list_versions_by_function(FunctionName=name),
        "ListAliases": lambda: lam.list_aliases(FunctionName=name),
    }
    missing = [op for op, call in calls.items()
               if not re.fullmatch(uuid_re, call()["ResponseMetadata"].get("RequestId") or "")]
    assert not missing, f"no x-amzn-RequestId on: {missing}"


# --- ListFunctions -------------------------------------------------------


def test_list_functions_pagination(lam):
    prefix = unique("page")
    names = {create(lam, app(), name=f"{prefix}-{i}", wait=False) for i in range(5)}

    seen, marker, pages = [], None, 0
    while True:
        kw = {"Marker": marker} if marker else {}
        page = lam.list_functions(MaxItems=2, **kw)
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            break
        assert pages < 1000
    mine = [n for n in seen if n.startswith(prefix)]
    assert sorted(mine) == sorted(names)
    assert len(seen) == len(set(seen)), "a function appeared on two pages"
    assert pages >= 3

    # boto3's own paginator follows NextMarker the same way.
    found = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        found += [f["FunctionName"] for f in page["Functions"] if f["FunctionName"].startswith(prefix)]
    assert sorted(found) == sorted(names)

    f = next(f for f in lam.list_functions()["Functions"] if f["FunctionName"] == f"{prefix}-0")
    assert f["FunctionArn"] == ARN_PREFIX + f"{prefix}-0"
    assert f["Runtime"] == "python3.12"


# --- UpdateFunctionCode / UpdateFunctionConfiguration --------------------


def test_update_function_code(lam):
    name = create(lam, app("v1"))
    _, body = invoke(lam, name)
    assert body["v"] == "v1"
    old = lam.get_function_configuration(FunctionName=name)

    code = zip_files(app("v2"))
    resp = lam.update_function_code(FunctionName=name, ZipFile=code)
    assert status(resp) == 200
    assert resp["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert resp["CodeSha256"] != old["CodeSha256"]
    assert resp["CodeSize"] == len(code)
    assert resp["RevisionId"] != old["RevisionId"]
    wait_updated(lam, name)
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["LastUpdateStatus"] == "Successful"
    assert cfg["CodeSha256"] == resp["CodeSha256"]

    _, body = invoke(lam, name)
    assert body["v"] == "v2"
    with urllib.request.urlopen(lam.get_function(FunctionName=name)["Code"]["Location"], timeout=10) as r:
        assert r.read() == code


def test_update_function_configuration_visible_in_invoke(lam):
    name = create(lam, app(), Environment={"Variables": {"AA": "1"}})
    _, body = invoke(lam, name)
    assert body["env"]["AA"] == "1"
    assert body["mem"] == 128
    assert body["remaining"] <= 3000

    resp = lam.update_function_configuration(
        FunctionName=name, MemorySize=256, Timeout=10, Description="changed",
        Environment={"Variables": {"BB": "two", "CC": "3"}},
    )
    assert status(resp) == 200
    assert resp["MemorySize"] == 256 and resp["Timeout"] == 10 and resp["Description"] == "changed"
    assert resp["Environment"] == {"Variables": {"BB": "two", "CC": "3"}}
    wait_updated(lam, name)

    _, body = invoke(lam, name)
    assert body["mem"] == 256
    assert body["env"]["BB"] == "two" and body["env"]["CC"] == "3"
    assert "AA" not in body["env"]
    assert body["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert body["env"]["AWS_REGION"] == "us-east-1"
    assert 3000 < body["remaining"] <= 10000

    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["MemorySize"] == 256 and cfg["Timeout"] == 10 and cfg["Description"] == "changed"


# --- DeleteFunction ------------------------------------------------------


def test_delete_function(lam):
    name = create(lam, app())
    resp = lam.delete_function(FunctionName=name)
    assert status(resp) == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert name not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    # The name is free again.
    create(lam, app("again"), name=name)
    _, body = invoke(lam, name)
    assert body["v"] == "again"


# --- Versions ------------------------------------------------------------


def test_publish_versions(lam):
    name = create(lam, app("v1"))
    p1 = lam.publish_version(FunctionName=name, Description="first")
    assert status(p1) == 201
    assert p1["Version"] == "1"
    assert p1["FunctionArn"] == ARN_PREFIX + name + ":1"
    assert p1["Description"] == "first"
    # Publishing an unchanged $LATEST returns the existing version.
    again = lam.publish_version(FunctionName=name)
    assert again["Version"] == "1"

    lam.update_function_code(FunctionName=name, ZipFile=zip_files(app("v2")))
    wait_updated(lam, name)
    p2 = lam.publish_version(FunctionName=name)
    assert p2["Version"] == "2"
    assert p2["CodeSha256"] != p1["CodeSha256"]

    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    cfg = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert cfg["Version"] == "1" and cfg["CodeSha256"] == p1["CodeSha256"]

    resp, body = invoke(lam, name, Qualifier="1")
    assert resp["ExecutedVersion"] == "1"
    assert body["v"] == "v1" and body["fver"] == "1"
    assert body["farn"] == ARN_PREFIX + name + ":1"
    resp, body = invoke(lam, name, Qualifier="2")
    assert resp["ExecutedVersion"] == "2" and body["v"] == "v2"
    resp, body = invoke(lam, name)
    assert resp["ExecutedVersion"] == "$LATEST" and body["fver"] == "$LATEST"

    # ListVersionsByFunction gives each entry its qualified ARN, $LATEST included
    # (AWS CLI docs example: "...:function:my-function:$LATEST").
    assert versions[1]["FunctionArn"] == ARN_PREFIX + name + ":1"
    assert versions[0]["FunctionArn"] == ARN_PREFIX + name + ":$LATEST"


def test_create_with_publish_makes_version_1(lam):
    name = unique("pub")
    resp = lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                               Code={"ZipFile": zip_files(app("p1"))}, Publish=True)
    wait_active(lam, name)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1"]
    assert invoke(lam, name, Qualifier="1")[1]["v"] == "p1"
    # UpdateFunctionCode with Publish=True publishes the new code as the next version.
    up = lam.update_function_code(FunctionName=name, ZipFile=zip_files(app("p2")), Publish=True)
    wait_updated(lam, name)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1", "2"]
    assert invoke(lam, name, Qualifier="2")[1]["v"] == "p2"
    # With Publish, the response describes the version just published.
    assert resp["Version"] == "1"
    assert up["Version"] == "2"


def test_delete_function_removes_versions_and_aliases(lam):
    name = create(lam, app())
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert status(lam.delete_function(FunctionName=name)) == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    create(lam, app(), name=name)
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]


def test_delete_function_version_with_qualifier(lam):
    name = create(lam, app("v1"))
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_files(app("v2")))
    wait_updated(lam, name)
    lam.publish_version(FunctionName=name)

    resp = lam.delete_function(FunctionName=name, Qualifier="1")
    assert status(resp) == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]
    # The function and its other versions are untouched.
    assert invoke(lam, name)[1]["v"] == "v2"
    assert invoke(lam, name, Qualifier="2")[0]["ExecutedVersion"] == "2"
    # Version numbers are never reused.
    lam.update_function_code(FunctionName=name, ZipFile=zip_files(app("v3")))
    wait_updated(lam, name)
    assert lam.publish_version(FunctionName=name)["Version"] == "3"


# --- Aliases -------------------------------------------------------------


def test_alias_lifecycle_and_invoke(lam):
    name = create(lam, app("v1"))
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_files(app("v2")))
    wait_updated(lam, name)
    lam.publish_version(FunctionName=name)

    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert status(created) == 201
    assert created["AliasArn"] == ARN_PREFIX + name + ":live"
    assert created["Name"] == "live"
    assert created["FunctionVersion"] == "1"
    assert created["Description"] == "prod"
    assert created["RevisionId"]

    got = lam.get_alias(FunctionName=name, Name="live")
    assert status(got) == 200
    assert got["AliasArn"] == created["AliasArn"] and got["FunctionVersion"] == "1"

    cfg = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    assert cfg["Version"] == "1"
    got = lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert got["Version"] == "1"

    resp, body = invoke(lam, name, Qualifier="live")
    assert resp["ExecutedVersion"] == "1" and body["v"] == "v1"
    assert body["farn"] == ARN_PREFIX + name + ":live"
    resp, body = invoke(lam, name + ":live")
    assert resp["ExecutedVersion"] == "1" and body["v"] == "v1"
    resp, body = invoke(lam, ARN_PREFIX + name + ":live")
    assert resp["ExecutedVersion"] == "1" and body["v"] == "v1"

    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", Description="next")
    assert status(updated) == 200
    assert updated["FunctionVersion"] == "2" and updated["Description"] == "next"
    assert updated["RevisionId"] != created["RevisionId"]
    resp, body = invoke(lam, name, Qualifier="live")
    assert resp["ExecutedVersion"] == "2" and body["v"] == "v2"

    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    canary = lam.get_alias(FunctionName=name, Name="canary")
    assert canary["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    executed = {invoke(lam, name, Qualifier="canary")[0]["ExecutedVersion"] for _ in range(6)}
    assert executed <= {"1", "2"}

    aliases = lam.list_aliases(FunctionName=name)["Aliases"]
    assert sorted(a["Name"] for a in aliases) == ["canary", "live"]
    assert {a["Name"]: a["FunctionVersion"] for a in aliases} == {"canary": "1", "live": "2"}

    deleted = lam.delete_alias(FunctionName=name, Name="live")
    assert status(deleted) == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="live")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["canary"]

    # ListAliases' FunctionVersion filter: "only list aliases that invoke that version".
    lam.create_alias(FunctionName=name, Name="latest", FunctionVersion="$LATEST")
    only_v1 = lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only_v1] == ["canary"]


def test_invoke_by_full_arn(lam):
    name = create(lam, app("arn"))
    lam.publish_version(FunctionName=name)
    resp, body = invoke(lam, ARN_PREFIX + name)
    assert resp["StatusCode"] == 200 and body["v"] == "arn"
    assert resp["ExecutedVersion"] == "$LATEST"
    resp, body = invoke(lam, ARN_PREFIX + name + ":1")
    assert resp["ExecutedVersion"] == "1"
    resp, body = invoke(lam, "000000000000:function:" + name)
    assert resp["StatusCode"] == 200 and body["v"] == "arn"


# --- Account settings, tags ---------------------------------------------


def test_get_account_settings(lam):
    before = lam.get_account_settings()
    assert status(before) == 200
    limit = before["AccountLimit"]
    assert isinstance(limit["ConcurrentExecutions"], int) and limit["ConcurrentExecutions"] > 0
    assert 0 < limit["UnreservedConcurrentExecutions"] <= limit["ConcurrentExecutions"]
    assert limit["CodeSizeZipped"] == 52428800 and limit["CodeSizeUnzipped"] == 262144000
    count = before["AccountUsage"]["FunctionCount"]
    assert count >= 0
    create(lam, app(), wait=False)
    after = lam.get_account_settings()["AccountUsage"]
    assert after["FunctionCount"] == count + 1
    assert after["TotalCodeSize"] > before["AccountUsage"]["TotalCodeSize"]


def test_tags(lam):
    name = create(lam, app(), Tags={"a": "1"})
    arn = ARN_PREFIX + name
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1"}
    resp = lam.tag_resource(Resource=arn, Tags={"b": "2", "a": "one"})
    assert status(resp) == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "one", "b": "2"}
    resp = lam.untag_resource(Resource=arn, TagKeys=["a", "missing"])
    assert status(resp) == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"b": "2"}


# --- Invoke options ------------------------------------------------------


def fetch_logs(server, name):
    with urllib.request.urlopen(f"{server.endpoint}/_lamina/logs/{name}", timeout=5) as r:
        return json.loads(r.read())["events"]


def test_invoke_event_is_delivered(lam, server):
    name = create(lam, app())
    marker = "async-marker-" + unique("m")
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"print": marker}))
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    deadline = time.time() + 10
    while time.time() < deadline:
        events = fetch_logs(server, name)
        if any(marker in e["message"] for e in events):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the async invocation never ran: {fetch_logs(server, name)}")
    e = next(e for e in events if marker in e["message"])
    assert set(e) >= {"id", "timestamp", "stream", "message"}


def test_invoke_dry_run(lam, server):
    name = create(lam, app())
    resp = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=json.dumps({"print": "dry-run-marker"}))
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    time.sleep(0.3)
    assert not any("dry-run-marker" in e["message"] for e in fetch_logs(server, name))


def test_invoke_log_tail(lam):
    name = create(lam, app(), MemorySize=192)
    resp, body = invoke(lam, name, {"print": "tail-marker"}, LogType="Tail")
    rid = resp["ResponseMetadata"]["RequestId"]
    tail = log_tail(resp)
    assert "tail-marker" in tail
    assert re.search(rf"START RequestId: {rid} Version: \$LATEST", tail), tail
    assert re.search(rf"END RequestId: {rid}", tail), tail
    report = re.search(rf"REPORT RequestId: {rid}\t(.*)", tail)
    assert report, tail
    assert re.search(
        r"Duration: \d+(\.\d+)? ms\tBilled Duration: \d+ ms\tMemory Size: 192 MB\t"
        r"Max Memory Used: \d+ MB\tInit Duration: \d+(\.\d+)? ms", report.group(1)), report.group(1)

    resp, _ = invoke(lam, name, LogType="Tail")
    tail = log_tail(resp)
    assert "REPORT RequestId: " + resp["ResponseMetadata"]["RequestId"] in tail
    assert "Billed Duration:" in tail and "Max Memory Used:" in tail
    assert "Init Duration" not in tail
    # Without LogType=Tail there is no log result.
    resp, _ = invoke(lam, name)
    assert "LogResult" not in resp


def test_invoke_client_context(lam):
    name = create(lam, app())
    ctx = {"custom": {"k": "v", "n": 1}, "env": {"platform": "test"},
           "client": {"installation_id": "inst-1", "app_title": "t", "app_version_name": "1",
                      "app_version_code": "1", "app_package_name": "p"}}
    resp, body = invoke(lam, name, ClientContext=base64.b64encode(json.dumps(ctx).encode()).decode())
    assert resp["StatusCode"] == 200
    assert body["cc_custom"] == {"k": "v", "n": 1}
    assert body["cc_env"] == {"platform": "test"}
    assert body["cc_installation_id"] == "inst-1"
    # And without one, context.client_context is None.
    _, body = invoke(lam, name)
    assert body["cc_custom"] is None


def test_invoke_5mb_payload_roundtrip(lam):
    name = create(lam, {"app.py": ECHO})
    event = {"data": "x" * (5 * 1024 * 1024), "n": 7}
    resp, body = invoke(lam, name, event)
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert body == event
