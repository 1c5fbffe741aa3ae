"""CloudWatch metrics and alarms: AWS/Lambda metrics from real invocations,
custom metrics, alarms with Lambda actions, in all three of CloudWatch's
wire protocols (json — what boto3 and the AWS CLI send —, rpc-v2-cbor and
query, the last two through botocore's own serializers with the model's
protocol list narrowed), plus raw requests.
"""

import datetime
import gzip
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore
import botocore.exceptions
import botocore.session
import pytest
from botocore.config import Config

import conftest
from conftest import ROOT, create, invoke, unique

TARGET = "GraniteServiceVersion20100801"
FLAKY = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": True}
"""
PRINTER = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def protocol_client(server, protocol, tmp_dir):
    """A boto3 CloudWatch client that speaks `protocol`: botocore's model
    with its protocols narrowed to that one, loaded from `tmp_dir`."""
    models = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch", "2010-08-01")
    with gzip.open(os.path.join(models, "service-2.json.gz")) as f:
        model = json.load(f)
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    target = os.path.join(tmp_dir, protocol, "cloudwatch", "2010-08-01")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "service-2.json"), "w") as f:
        json.dump(model, f)
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, os.path.join(tmp_dir, protocol))
    return boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def clients(server, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("cw-models"))
    return {
        "json": server.client("cloudwatch"),
        "cbor": protocol_client(server, "smithy-rpc-v2-cbor", tmp),
        "query": protocol_client(server, "query", tmp),
    }


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda")


@pytest.fixture(scope="module")
def flaky(lam):
    """A function invoked 7 times, 2 of them failing."""
    name = create(lam, {"app.py": FLAKY})
    for i in range(7):
        resp, _ = invoke(lam, name, {"fail": i in (2, 5)})
        assert ("FunctionError" in resp) == (i in (2, 5))
    return name


def stats(cw, name, metric, **kw):
    return cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now() - datetime.timedelta(hours=1), EndTime=now() + datetime.timedelta(minutes=2),
        Period=60, **kw,
    )


def total(resp, stat="Sum"):
    return sum(p[stat] for p in resp["Datapoints"])


def test_botocore_speaks_json_to_cloudwatch_by_default(clients):
    assert clients["json"].meta.service_model.resolved_protocol == "json"
    assert clients["cbor"].meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    assert clients["query"].meta.service_model.resolved_protocol == "query"


@pytest.mark.parametrize("protocol", ["json", "cbor", "query"])
def test_get_metric_statistics_counts_invocations_and_errors(clients, flaky, protocol):
    cw = clients[protocol]
    inv = stats(cw, flaky, "Invocations", Statistics=["Sum", "SampleCount"])
    assert total(inv) == 7 and total(inv, "SampleCount") == 7
    assert all(p["Unit"] == "Count" and isinstance(p["Timestamp"], datetime.datetime) for p in inv["Datapoints"])
    assert inv["Label"] == "Invocations"
    errors = stats(cw, flaky, "Errors", Statistics=["Sum", "Maximum"])
    assert total(errors) == 2 and max(p["Maximum"] for p in errors["Datapoints"]) == 1
    duration = stats(cw, flaky, "Duration", Statistics=["SampleCount", "Minimum", "Maximum", "Average"],
                     ExtendedStatistics=["p50", "p99"])
    assert total(duration, "SampleCount") == 7
    for p in duration["Datapoints"]:
        assert p["Unit"] == "Milliseconds"
        assert 0 < p["Minimum"] <= p["Average"] <= p["Maximum"]
        assert p["Minimum"] <= p["ExtendedStatistics"]["p50"] <= p["ExtendedStatistics"]["p99"] <= p["Maximum"]
    assert stats(cw, flaky, "Throttles", Statistics=["Sum"])["Datapoints"] == []
    # One hour-long period, counted from the start time, holds everything.
    hourly = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": flaky}],
        StartTime=now() - datetime.timedelta(minutes=30), EndTime=now() + datetime.timedelta(minutes=30),
        Period=3600, Statistics=["Sum"])
    assert total(hourly) == 7 and len(hourly["Datapoints"]) == 1
    # Account-wide (no dimensions) includes this function's invocations.
    everything = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", StartTime=now() - datetime.timedelta(hours=1),
        EndTime=now() + datetime.timedelta(minutes=1), Period=60, Statistics=["Sum"])
    assert total(everything) >= 7
    # FunctionName + Resource (the unqualified function) is the same series.
    resource = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", StartTime=now() - datetime.timedelta(hours=1),
        EndTime=now() + datetime.timedelta(minutes=1), Period=60, Statistics=["Sum"],
        Dimensions=[{"Name": "FunctionName", "Value": flaky}, {"Name": "Resource", "Value": flaky}])
    assert total(resource) == 7


@pytest.mark.parametrize("protocol", ["json", "cbor", "query"])
def test_get_metric_data_returns_complete_series(clients, flaky, protocol):
    cw = clients[protocol]
    metric = lambda name: {"Namespace": "AWS/Lambda", "MetricName": name,  # noqa: E731
                           "Dimensions": [{"Name": "FunctionName", "Value": flaky}]}
    out = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "inv", "MetricStat": {"Metric": metric("Invocations"), "Period": 60, "Stat": "Sum"}},
            {"Id": "err", "MetricStat": {"Metric": metric("Errors"), "Period": 60, "Stat": "Sum"}, "Label": "errs"},
            {"Id": "p99", "MetricStat": {"Metric": metric("Duration"), "Period": 300, "Stat": "p99"}},
            {"Id": "hidden", "MetricStat": {"Metric": metric("Errors"), "Period": 60, "Stat": "Sum"},
             "ReturnData": False},
        ],
        StartTime=now() - datetime.timedelta(hours=1), EndTime=now() + datetime.timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"inv", "err", "p99"}
    assert sum(results["inv"]["Values"]) == 7 and results["inv"]["StatusCode"] == "Complete"
    assert results["inv"]["Label"] == "Invocations" and results["err"]["Label"] == "errs"
    assert sum(results["err"]["Values"]) == 2
    assert results["inv"]["Timestamps"] == sorted(results["inv"]["Timestamps"])
    assert len(results["p99"]["Values"]) >= 1 and all(v > 0 for v in results["p99"]["Values"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data(MetricDataQueries=[{"Id": "m", "Expression": "SUM(METRICS())"}],
                           StartTime=now() - datetime.timedelta(hours=1), EndTime=now())
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "metric math" in e.value.response["Error"]["Message"]


@pytest.mark.parametrize("protocol", ["json", "cbor", "query"])
def test_list_metrics_lists_the_function_metrics(clients, flaky, protocol):
    cw = clients[protocol]
    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": flaky}])["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"Invocations", "Errors", "Duration", "ConcurrentExecutions"} <= names
    assert "Throttles" not in names
    assert all({"Name": "FunctionName", "Value": flaky} in m["Dimensions"] for m in listed)
    recent = cw.list_metrics(Namespace="AWS/Lambda", RecentlyActive="PT3H",
                             Dimensions=[{"Name": "FunctionName", "Value": flaky}])["Metrics"]
    assert {m["MetricName"] for m in recent} == names
    only = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Errors",
                           Dimensions=[{"Name": "FunctionName", "Value": flaky}])["Metrics"]
    assert {tuple(sorted(d["Name"] for d in m["Dimensions"])) for m in only} == {
        ("FunctionName",), ("FunctionName", "Resource")}


def test_put_metric_data_statistics_and_validation(clients):
    cw = clients["json"]
    ns = unique("App")
    dims = [{"Name": "Service", "Value": "api"}]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Value": 10, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Values": [20, 40], "Counts": [2, 1], "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Unit": "Milliseconds",
         "StatisticValues": {"SampleCount": 2, "Sum": 7, "Minimum": 3, "Maximum": 4}},
    ])
    for protocol in ("json", "cbor", "query"):
        got = clients[protocol].get_metric_statistics(
            Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=now() - datetime.timedelta(minutes=5),
            EndTime=now() + datetime.timedelta(minutes=5), Period=600,
            Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"])
        [p] = got["Datapoints"]
        assert (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) == (6, 97, 3, 40), protocol
        assert abs(p["Average"] - 97 / 6) < 1e-9 and p["Unit"] == "Milliseconds"
    # A different unit asked for finds nothing; different dimensions neither.
    base = dict(Namespace=ns, MetricName="Latency", StartTime=now() - datetime.timedelta(minutes=5),
                EndTime=now() + datetime.timedelta(minutes=5), Period=600, Statistics=["Sum"])
    assert cw.get_metric_statistics(Dimensions=dims, Unit="Seconds", **base)["Datapoints"] == []
    assert cw.get_metric_statistics(**base)["Datapoints"] == []
    for protocol in ("json", "cbor", "query"):
        listed = clients[protocol].list_metrics(Namespace=ns, Dimensions=[])["Metrics"]
        assert listed == [{"Namespace": ns, "MetricName": "Latency", "Dimensions": dims}], protocol

    def code(call, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kw)
        return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]

    for protocol in ("json", "cbor", "query"):
        c = clients[protocol]
        assert code(c.put_metric_data, Namespace="AWS/Lambda", MetricData=[{"MetricName": "X", "Value": 1}]) == (
            "InvalidParameterValue", 400), protocol
        assert code(c.get_metric_statistics, **{**base, "Period": 30})[0] == "InvalidParameterValue"
        assert code(c.get_metric_statistics, **{**base, "StartTime": now(), "EndTime": now() - datetime.timedelta(
            minutes=1)})[0] == "InvalidParameterValue"
        assert code(c.get_metric_statistics, **{**base, "Statistics": ["Sum"], "Period": 60,
                                                "StartTime": now() - datetime.timedelta(days=2)}) == (
            "InvalidParameterCombination", 400)
        assert code(c.put_metric_data, Namespace=ns, MetricData=[{"MetricName": "X"}])[0] == (
            "InvalidParameterCombination")


def test_aws_cli_and_raw_requests(server, flaky):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    aws = os.path.join(ROOT, ".venv", "bin", "aws")
    out = subprocess.run(
        [aws, "--endpoint-url", server.endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
         "--metric-name", "Invocations", "--dimensions", f"Name=FunctionName,Value={flaky}", "--statistics", "Sum",
         "--period", "60", "--start-time", (now() - datetime.timedelta(hours=1)).isoformat(),
         "--end-time", (now() + datetime.timedelta(minutes=1)).isoformat()],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert sum(p["Sum"] for p in json.loads(out.stdout)["Datapoints"]) == 7

    # json with X-Amz-Target, unsigned.
    body = json.dumps({"Namespace": "AWS/Lambda", "MetricName": "Errors",
                       "Dimensions": [{"Name": "FunctionName", "Value": flaky}],
                       "StartTime": time.time() - 3600, "EndTime": time.time() + 60, "Period": 3600,
                       "Statistics": ["Sum"]}).encode()
    req = urllib.request.Request(server.endpoint + "/", data=body, method="POST", headers={
        "X-Amz-Target": f"{TARGET}.GetMetricStatistics", "Content-Type": "application/x-amz-json-1.0"})
    with urllib.request.urlopen(req, timeout=10) as r:
        points = json.loads(r.read())["Datapoints"]
    assert sum(p["Sum"] for p in points) == 2 and isinstance(points[0]["Timestamp"], (int, float))
    bad = urllib.request.Request(server.endpoint + "/", data=b"{not json", method="POST", headers={
        "X-Amz-Target": f"{TARGET}.ListMetrics", "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=10)
    assert e.value.code == 400
    assert e.value.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert json.loads(e.value.read())["__type"] == "InvalidParameterValueException"

    # query form, routed by its SigV4 credential scope.
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=x"
    form = urllib.parse.urlencode({"Action": "ListMetrics", "Version": "2010-08-01", "Namespace": "AWS/Lambda",
                                   "MetricName": "Invocations", "Dimensions.member.1.Name": "FunctionName",
                                   "Dimensions.member.1.Value": flaky}).encode()
    req = urllib.request.Request(server.endpoint + "/", data=form, method="POST", headers={
        "Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as r:
        root = ET.fromstring(r.read())
    ns = {"cw": "http://monitoring.amazonaws.com/doc/2010-08-01/"}
    assert root.tag == "{%s}ListMetricsResponse" % ns["cw"]
    assert root.findall("cw:ListMetricsResult/cw:Metrics/cw:member/cw:MetricName", ns)[0].text == "Invocations"
    form = urllib.parse.urlencode({"Action": "DeleteAlarms", "Version": "2010-08-01",
                                   "AlarmNames.member.1": "no-such-alarm"}).encode()
    req = urllib.request.Request(server.endpoint + "/", data=form, method="POST", headers={"Authorization": auth})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 404
    assert ET.fromstring(e.value.read()).find("cw:Error/cw:Code", ns).text == "ResourceNotFound"

    # rpc-v2-cbor by path: an unknown operation gets a CBOR error.
    req = urllib.request.Request(server.endpoint + f"/service/{TARGET}/operation/NoSuchThing", data=b"\xa0",
                                 method="POST", headers={"smithy-protocol": "rpc-v2-cbor",
                                                         "Content-Type": "application/cbor"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400 and e.value.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert e.value.headers["Content-Type"] == "application/cbor"


def wait_for(predicate, timeout=30, interval=0.2):
    """conftest's wait_for with this file's slower cadence: metrics land in batches."""
    return conftest.wait_for(predicate, timeout=timeout, interval=interval)


def printed_events(server, name):
    url = f"{server.endpoint}/_lamina/logs/{urllib.parse.quote(name)}"
    with urllib.request.urlopen(url, timeout=5) as r:
        messages = [e["message"] for e in json.loads(r.read())["events"]]
    return [json.loads(p[6:]) for m in messages for p in m.splitlines() if p.startswith("EVENT ")]


@pytest.fixture()
def fast_alarms(monkeypatch, start_server, tmp_path):
    monkeypatch.setenv("LAMINA_ALARM_EVAL_SECS", "1")
    return start_server(str(tmp_path / "alarms"))


def test_alarm_on_errors_goes_to_alarm_and_invokes_its_lambda_action(fast_alarms):
    srv = fast_alarms
    lam, cw = srv.client("lambda"), srv.client("cloudwatch")
    target = create(lam, {"app.py": FLAKY})
    action = create(lam, {"app.py": PRINTER})
    action_arn = lam.get_function(FunctionName=action)["Configuration"]["FunctionArn"]
    alarm = unique("errors")
    cw.put_metric_alarm(
        AlarmName=alarm, AlarmDescription="any error", Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": target}], Statistic="Sum", Period=60,
        EvaluationPeriods=2, DatapointsToAlarm=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[action_arn], OKActions=[action_arn],
    )
    [a] = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert a["StateValue"] == "INSUFFICIENT_DATA" and a["ActionsEnabled"] is True
    assert a["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{alarm}"
    assert a["Dimensions"] == [{"Name": "FunctionName", "Value": target}] and a["Threshold"] == 1.0
    invoke(lam, target, {"fail": False})
    assert wait_for(lambda: cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == "OK")
    started = time.time()
    invoke(lam, target, {"fail": True})
    alarmed = wait_for(lambda: cw.describe_alarms(AlarmNames=[alarm], StateValue="ALARM")["MetricAlarms"])
    print(f"\nerror → ALARM in {time.time() - started:.2f}s with a 1 s evaluation interval")
    assert alarmed, cw.describe_alarms(AlarmNames=[alarm])
    assert alarmed[0]["StateReason"].startswith("Threshold Crossed: 1 out of the last 2 datapoints")
    assert json.loads(alarmed[0]["StateReasonData"])["statistic"] == "Sum"
    events = wait_for(lambda: [e for e in printed_events(srv, action) if e["alarmData"]["state"]["value"] == "ALARM"])
    assert events, printed_events(srv, action)
    e = events[0]
    assert e["source"] == "aws.cloudwatch" and e["alarmArn"] == a["AlarmArn"]
    assert e["accountId"] == "000000000000" and e["region"] == "us-east-1"
    assert e["alarmData"]["alarmName"] == alarm
    assert e["alarmData"]["previousState"]["value"] == "OK"
    assert e["alarmData"]["configuration"]["description"] == "any error"
    stat = e["alarmData"]["configuration"]["metrics"][0]["metricStat"]
    assert stat["metric"] == {"namespace": "AWS/Lambda", "name": "Errors", "dimensions": {"FunctionName": target}}
    assert stat["period"] == 60 and stat["stat"] == "Sum"

    # The other alarm operations.
    for_metric = cw.describe_alarms_for_metric(Namespace="AWS/Lambda", MetricName="Errors",
                                               Dimensions=[{"Name": "FunctionName", "Value": target}])
    assert [m["AlarmName"] for m in for_metric["MetricAlarms"]] == [alarm]
    assert cw.describe_alarms(AlarmNamePrefix=alarm[:8])["MetricAlarms"][0]["AlarmName"] == alarm
    assert cw.describe_alarms(AlarmNames=[alarm], StateValue="OK")["MetricAlarms"] == []
    cw.disable_alarm_actions(AlarmNames=[alarm])
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="by hand")
    before = len(printed_events(srv, action))
    time.sleep(1.5)
    assert len(printed_events(srv, action)) == before, "disabled actions do not run"
    cw.enable_alarm_actions(AlarmNames=[alarm])
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="OK", StateReason="x")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="x", StateReasonData="not json")
    assert err.value.response["Error"]["Code"] == "InvalidFormat"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cw.put_metric_alarm(AlarmName="bad", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                            AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"])
    assert err.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cw.delete_alarms(AlarmNames=[alarm, "no-such-alarm"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.delete_alarms(AlarmNames=[alarm])
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []


def test_restart_keeps_datapoints_and_alarms(start_server, tmp_path):
    data = str(tmp_path / "restart")
    srv = start_server(data)
    lam, cw = srv.client("lambda"), srv.client("cloudwatch")
    fn = create(lam, {"app.py": FLAKY})
    for i in range(3):
        invoke(lam, fn, {"fail": i == 0})
    cw.put_metric_alarm(AlarmName="kept", Namespace="AWS/Lambda", MetricName="Invocations", Statistic="Sum",
                        Dimensions=[{"Name": "FunctionName", "Value": fn}], Period=300, EvaluationPeriods=1,
                        Threshold=100, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    srv.stop()  # SIGTERM: the open minute is stored on the way out

    srv = start_server(data, port=srv.port)
    cw = srv.client("cloudwatch")
    assert total(stats(cw, fn, "Invocations", Statistics=["Sum"])) == 3
    assert total(stats(cw, fn, "Errors", Statistics=["Sum"])) == 1
    assert fn in {d["Value"] for m in cw.list_metrics(Namespace="AWS/Lambda")["Metrics"] for d in m["Dimensions"]}
    [alarm] = cw.describe_alarms(AlarmNames=["kept"])["MetricAlarms"]
    assert (alarm["Period"], alarm["TreatMissingData"]) == (300, "notBreaching")
    # Invocations after the restart add to the same minutes.
    invoke(srv.client("lambda"), fn, {})
    assert total(stats(cw, fn, "Invocations", Statistics=["Sum"])) == 4

    # PutMetricData and alarm changes are on disk before their 200: kill -9 keeps them.
    cw.put_metric_data(Namespace="Durable", MetricData=[{"MetricName": "Jobs", "Value": 5}])
    cw.set_alarm_state(AlarmName="kept", StateValue="ALARM", StateReason="by hand")
    srv.stop(signal.SIGKILL)
    srv = start_server(data, port=srv.port)
    cw = srv.client("cloudwatch")
    got = cw.get_metric_statistics(Namespace="Durable", MetricName="Jobs", StartTime=now() - datetime.timedelta(
        minutes=5), EndTime=now() + datetime.timedelta(minutes=1), Period=360, Statistics=["Sum"])
    assert total(got) == 5
    assert cw.describe_alarms(AlarmNames=["kept"])["MetricAlarms"][0]["StateReason"] == "by hand"


def test_alarm_state_change_publishes_to_an_sns_topic(server):
    cw, sns, sqs = server.client("cloudwatch"), server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("alarm-inbox"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    alarm = unique("to-sns")
    cw.put_metric_alarm(AlarmName=alarm, Namespace="App", MetricName="Backlog", Statistic="Maximum",
                        Dimensions=[{"Name": "Queue", "Value": "jobs"}], Period=60, EvaluationPeriods=1,
                        Threshold=10, ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing the topic action")
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), timeout=15)
    assert msgs, "the topic delivered nothing"
    envelope = json.loads(msgs[0]["Body"])
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    assert envelope["Subject"] == f'ALARM: "{alarm}" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["NewStateValue"], message["OldStateValue"]) == (
        alarm, "ALARM", "INSUFFICIENT_DATA")
    assert message["NewStateReason"] == "testing the topic action"
    assert message["Trigger"]["MetricName"] == "Backlog" and message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["Trigger"]["Dimensions"] == [{"value": "jobs", "name": "Queue"}]
    assert message["AlarmArn"].endswith(f":alarm:{alarm}")


def test_latency_of_reads_and_writes(server, flaky):
    """Prints (does not assert) per-call latency; run with -s to see it."""
    body = json.dumps({"Namespace": "AWS/Lambda", "MetricName": "Duration",
                       "Dimensions": [{"Name": "FunctionName", "Value": flaky}],
                       "StartTime": time.time() - 3 * 3600, "EndTime": time.time() + 60, "Period": 60,
                       "Statistics": ["Average", "Maximum"], "ExtendedStatistics": ["p99"]}).encode()
    headers = {"X-Amz-Target": f"{TARGET}.GetMetricStatistics", "Content-Type": "application/x-amz-json-1.0"}

    def timed(call, n):
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1e6)
        samples.sort()
        return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]

    def get():
        with urllib.request.urlopen(urllib.request.Request(server.endpoint + "/", data=body, headers=headers),
                                    timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["Datapoints"]

    cw = server.client("cloudwatch")
    put = lambda: cw.put_metric_data(Namespace="Bench", MetricData=[{"MetricName": "M", "Value": 1}])  # noqa: E731
    for label, call in (("GetMetricStatistics, 3 h at 60 s, raw HTTP", get), ("PutMetricData, boto3", put)):
        p50, p99 = timed(call, 300)
        print(f"\n{label}: p50 {p50:.0f} µs, p99 {p99:.0f} µs")


def test_closed_minutes_survive_kill_9(start_server, tmp_path):
    """The flusher stores each minute once it closes: a crash loses at most
    the minute in progress. Waits for a minute to close (up to ~66 s)."""
    data = str(tmp_path / "crash")
    srv = start_server(data)
    lam = srv.client("lambda")
    fn = create(lam, {"app.py": FLAKY})
    for i in range(4):
        invoke(lam, fn, {"fail": i == 3})
    invoked_minute = int(time.time() // 60)
    # The flusher looks every 5 s for a closed minute.
    time.sleep((invoked_minute + 1) * 60 - time.time() + 6)
    srv.stop(signal.SIGKILL)
    srv = start_server(data, port=srv.port)
    cw = srv.client("cloudwatch")
    assert total(stats(cw, fn, "Invocations", Statistics=["Sum"])) == 4
    assert total(stats(cw, fn, "Errors", Statistics=["Sum"])) == 1
