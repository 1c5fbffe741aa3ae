"""EventBridge Scheduler compatibility: the real boto3 `scheduler` client
against Lamina's schedules, and delivery to real functions.

AWS's shortest rate is one minute, too slow to wait for here, so delivery
is timed with `at(...)` schedules a few seconds ahead (and a rate, which
fires at creation). The target function prints `time.time()` and its event;
the server's log endpoint shows when it ran.
"""

import datetime
import json
import math
import time
import urllib.request
import zoneinfo

import pytest
from botocore.exceptions import ClientError

from conftest import create, unique

ROLE = "arn:aws:iam::000000000000:role/scheduler"
FIRED = "FIRED "
HANDLER = """
import json, time
def handler(event, context):
    print("FIRED " + json.dumps({"t": time.time(), "event": event}))
    return {}
"""


@pytest.fixture(scope="module")
def sched(server):
    return server.client("scheduler")


@pytest.fixture(scope="module")
def target(lam):
    """A function that prints when it ran and what it got."""
    return create(lam, {"app.py": HANDLER})


def fn_arn(name, qualifier=None):
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def fired(server, fn):
    """The FIRED records the function has printed so far."""
    with urllib.request.urlopen(f"{server.endpoint}/_lamina/logs/{fn}", timeout=5) as r:
        events = json.loads(r.read())["events"]
    out = []
    for e in events:
        msg = e["message"]
        if FIRED in msg:
            out.append(json.loads(msg[msg.index(FIRED) + len(FIRED):].strip()))
    return out


def wait_fired(server, fn, count=1, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fired(server, fn)
        if len(got) >= count:
            return got
        time.sleep(0.1)
    return fired(server, fn)


def at_in(seconds, tz=datetime.timezone.utc):
    """An at() expression `seconds` ahead (rounded up to a whole second) and its epoch time."""
    due = math.ceil(time.time()) + seconds
    local = datetime.datetime.fromtimestamp(due, tz=tz)
    return f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})", due


def make(sched, name, expr, arn, **kw):
    return sched.create_schedule(
        Name=name,
        ScheduleExpression=expr,
        Target={"Arn": arn, "RoleArn": ROLE, **kw.pop("target", {})},
        FlexibleTimeWindow={"Mode": "OFF"},
        **kw,
    )


def error_code(exc):
    return exc.value.response["Error"]["Code"]


def test_create_get_update_list_delete(sched):
    name = unique("sch")
    arn = fn_arn("some-function-that-need-not-exist-yet")
    resp = make(sched, name, "cron(0 12 ? * MON-FRI *)", arn, Description="weekdays at noon",
                ScheduleExpressionTimezone="Europe/Berlin", target={"Input": '{"a": 1}'})
    assert resp["ScheduleArn"] == f"arn:aws:scheduler:us-east-1:000000000000:schedule/default/{name}"

    got = sched.get_schedule(Name=name)
    assert got["Name"] == name and got["GroupName"] == "default"
    assert got["Arn"] == resp["ScheduleArn"]
    assert got["ScheduleExpression"] == "cron(0 12 ? * MON-FRI *)"
    assert got["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert got["State"] == "ENABLED"
    assert got["Description"] == "weekdays at noon"
    assert got["Target"]["Arn"] == arn and got["Target"]["RoleArn"] == ROLE
    assert got["Target"]["Input"] == '{"a": 1}'
    assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert got["ActionAfterCompletion"] == "NONE"
    assert isinstance(got["CreationDate"], datetime.datetime)
    assert abs(got["CreationDate"].timestamp() - time.time()) < 60

    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)
    sched.update_schedule(
        Name=name, ScheduleExpression="rate(2 hours)", State="DISABLED", StartDate=start, EndDate=end,
        Target={"Arn": arn, "RoleArn": ROLE, "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}},
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
    )
    got = sched.get_schedule(Name=name)
    assert got["ScheduleExpression"] == "rate(2 hours)" and got["State"] == "DISABLED"
    assert got["StartDate"] == start and got["EndDate"] == end
    assert "Description" not in got and "ScheduleExpressionTimezone" not in got
    assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 600, "MaximumRetryAttempts": 3}
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}

    with pytest.raises(ClientError) as e:
        make(sched, name, "rate(1 hour)", arn)
    assert error_code(e) == "ConflictException"

    listed = sched.list_schedules(NamePrefix=name)["Schedules"]
    assert [s["Name"] for s in listed] == [name]
    assert listed[0]["Target"] == {"Arn": arn} and listed[0]["State"] == "DISABLED"
    assert name in [s["Name"] for s in sched.list_schedules(State="DISABLED")["Schedules"]]
    assert name not in [s["Name"] for s in sched.list_schedules(State="ENABLED")["Schedules"]]

    sched.delete_schedule(Name=name)
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.get_schedule(Name=name)
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.delete_schedule(Name=name)
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.update_schedule(Name=name, ScheduleExpression="rate(1 hour)", Target={"Arn": arn, "RoleArn": ROLE},
                              FlexibleTimeWindow={"Mode": "OFF"})


def test_list_paginates(sched):
    prefix = unique("page")
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    for n in names:
        make(sched, n, "rate(1 day)", fn_arn("f"), State="DISABLED")
    first = sched.list_schedules(NamePrefix=prefix, MaxResults=3)
    assert len(first["Schedules"]) == 3 and "NextToken" in first
    seen = []
    for page in sched.get_paginator("list_schedules").paginate(NamePrefix=prefix, PaginationConfig={"PageSize": 3}):
        seen += [s["Name"] for s in page["Schedules"]]
    assert seen == names
    for n in names:
        sched.delete_schedule(Name=n)


@pytest.mark.parametrize("expr,extra", [
    ("cron(0 12 * * * *)", {}),  # day-of-month and day-of-week both set
    ("cron(0 12 * *)", {}),
    ("cron(61 * * * ? *)", {}),
    ("rate(0 minutes)", {}),
    ("rate(5 fortnights)", {}),
    ("at(2030-02-30T10:00:00)", {}),
    ("every monday", {}),
    ("rate(1 hour)", {"ScheduleExpressionTimezone": "Mars/Olympus_Mons"}),
    ("rate(1 hour)", {"StartDate": datetime.datetime(2031, 1, 1), "EndDate": datetime.datetime(2030, 1, 1)}),
    ("rate(1 hour)", {"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}),
])
def test_bad_input_is_a_validation_error(sched, expr, extra):
    kw = {"FlexibleTimeWindow": {"Mode": "OFF"}, **extra}
    with pytest.raises(ClientError) as e:
        sched.create_schedule(Name=unique("bad"), ScheduleExpression=expr,
                              Target={"Arn": fn_arn("f"), "RoleArn": ROLE}, **kw)
    assert error_code(e) == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Message"]


def test_schedule_groups(sched):
    group = unique("grp")
    arn = sched.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:us-east-1:000000000000:schedule-group/{group}"
    with pytest.raises(sched.exceptions.ConflictException):
        sched.create_schedule_group(Name=group)
    got = sched.get_schedule_group(Name=group)
    assert got["Name"] == group and got["State"] == "ACTIVE"
    assert sched.get_schedule_group(Name="default")["Name"] == "default"
    assert group in [g["Name"] for g in sched.list_schedule_groups()["ScheduleGroups"]]
    assert sched.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]

    name = unique("sch")
    make(sched, name, "rate(1 day)", fn_arn("f"), GroupName=group, State="DISABLED")
    assert [s["Name"] for s in sched.list_schedules(GroupName=group)["Schedules"]] == [name]
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.get_schedule(Name=name)  # not in the default group
    assert sched.get_schedule(Name=name, GroupName=group)["GroupName"] == group
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        make(sched, unique("sch"), "rate(1 day)", fn_arn("f"), GroupName=unique("nogroup"))

    sched.delete_schedule_group(Name=group)
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.get_schedule_group(Name=group)
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.get_schedule(Name=name, GroupName=group)


def test_at_schedule_delivers_within_a_second(server, sched, lam):
    fn = create(lam, {"app.py": HANDLER})
    tz = zoneinfo.ZoneInfo("Asia/Tokyo")
    expr, due = at_in(3, tz)
    make(sched, unique("at"), expr, fn_arn(fn), ScheduleExpressionTimezone="Asia/Tokyo",
         target={"Input": json.dumps({"hello": "scheduler"})})
    got = wait_fired(server, fn)
    assert len(got) == 1, got
    lateness = got[0]["t"] - due
    assert -0.05 <= lateness < 1.0, f"ran {lateness:.3f}s from its due time"
    assert got[0]["event"] == {"hello": "scheduler"}
    time.sleep(1.5)
    assert len(fired(server, fn)) == 1  # one-time


def test_rate_fires_on_creation_with_default_input(server, sched, lam):
    fn = create(lam, {"app.py": HANDLER})
    created = time.time()
    make(sched, unique("rate"), "rate(1 minute)", fn_arn(fn, "$LATEST"))
    got = wait_fired(server, fn)
    assert len(got) == 1 and got[0]["t"] - created < 1.5
    assert got[0]["event"] == {}
    time.sleep(2)
    assert len(fired(server, fn)) == 1


def test_context_attributes_in_input(server, sched, lam):
    fn = create(lam, {"app.py": HANDLER})
    expr, due = at_in(2)
    name = unique("ctx")
    arn = make(sched, name, expr, fn_arn(fn), target={
        "Input": '{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>", "n": <aws.scheduler.attempt-number>}'
    })["ScheduleArn"]
    got = wait_fired(server, fn)
    when = datetime.datetime.fromtimestamp(due, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got[0]["event"] == {"arn": arn, "at": when, "n": 1}


def test_disabled_schedule_does_not_fire(server, sched, lam):
    fn = create(lam, {"app.py": HANDLER})
    expr, due = at_in(2)
    make(sched, unique("off"), expr, fn_arn(fn), State="DISABLED")
    time.sleep(max(0, due - time.time()) + 2)
    assert fired(server, fn) == []


def test_update_moves_the_next_fire(server, sched, lam):
    fn = create(lam, {"app.py": HANDLER})
    name = unique("upd")
    far, _ = at_in(600)
    make(sched, name, far, fn_arn(fn))
    expr, due = at_in(2)
    sched.update_schedule(Name=name, ScheduleExpression=expr, Target={"Arn": fn_arn(fn), "RoleArn": ROLE},
                          FlexibleTimeWindow={"Mode": "OFF"})
    got = wait_fired(server, fn)
    assert len(got) == 1 and -0.05 <= got[0]["t"] - due < 1.0
    # Disabling an enabled schedule stops it.
    expr, due = at_in(2)
    sched.update_schedule(Name=name, ScheduleExpression=expr, Target={"Arn": fn_arn(fn), "RoleArn": ROLE},
                          FlexibleTimeWindow={"Mode": "OFF"}, State="DISABLED")
    time.sleep(max(0, due - time.time()) + 2)
    assert len(fired(server, fn)) == 1


def test_action_after_completion_delete(server, sched, lam):
    fn = create(lam, {"app.py": HANDLER})
    expr, _ = at_in(2)
    name = unique("del")
    make(sched, name, expr, fn_arn(fn), ActionAfterCompletion="DELETE")
    assert len(wait_fired(server, fn)) == 1
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            sched.get_schedule(Name=name)
            time.sleep(0.1)
        except sched.exceptions.ResourceNotFoundException:
            break
    else:
        pytest.fail("the completed schedule was not deleted")


def test_restart_keeps_schedules(start_server, tmp_path):
    data = str(tmp_path / "data")
    srv = start_server(data_dir=data)
    sched = srv.client("scheduler")
    sched.create_schedule_group(Name="jobs")
    name = unique("keep")
    make(sched, name, "cron(30 2 * * ? *)", fn_arn("nightly"), GroupName="jobs",
         ScheduleExpressionTimezone="America/New_York", target={"Input": '{"k": "v"}'})
    before = sched.get_schedule(Name=name, GroupName="jobs")
    srv.stop()

    srv = start_server(data_dir=data)
    sched = srv.client("scheduler")
    after = sched.get_schedule(Name=name, GroupName="jobs")
    for k in ("Arn", "ScheduleExpression", "ScheduleExpressionTimezone", "Target", "State", "CreationDate",
              "FlexibleTimeWindow"):
        assert after[k] == before[k], k
    assert sched.get_schedule_group(Name="jobs")["Name"] == "jobs"


def test_missed_while_down_fires_once_on_start(start_server, tmp_path):
    data = str(tmp_path / "data")
    srv = start_server(data_dir=data)
    lam = srv.client("lambda")
    fn = create(lam, {"app.py": HANDLER})
    sched = srv.client("scheduler")
    expr, due = at_in(3)
    make(sched, unique("missed"), expr, fn_arn(fn))
    srv.stop()
    assert time.time() < due, "the server took too long to stop"
    time.sleep(max(0, due - time.time()) + 2)

    srv = start_server(data_dir=data)
    got = wait_fired(srv, fn)
    assert len(got) == 1, got
    assert got[0]["t"] > due
    time.sleep(2)
    assert len(fired(srv, fn)) == 1
