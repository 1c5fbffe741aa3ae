"""SNS topics with boto3 and the AWS CLI: topic and subscription CRUD with
SNS's error codes, fan-out to a Python function (Lambda's SNS event, field by
field), to SQS queues (JSON envelope and raw delivery, FIFO), to an HTTP
endpoint run by the test (confirmation flow, notifications, retries of a
failing endpoint as its DeliveryPolicy says, throttling, redrive of given-up
deliveries to a RedrivePolicy's dead-letter queue), https endpoints
with a CA made by the test (and one it does not trust), filter policies in
both scopes, and durability across a kill -9."""

import base64
import json
import os
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import ROOT, create, free_port, unique


@pytest.fixture(scope="module")
def sns(server):
    return server.client("sns")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def error_of(exc_info):
    err = exc_info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_for(predicate, **kw):
    """conftest's wait_for that fails the test when the condition never holds."""
    value = conftest.wait_for(predicate, **kw)
    if not value:
        raise AssertionError("condition not met in time")
    return value


def new_queue(sqs, name=None, **attrs):
    url = sqs.create_queue(QueueName=name or unique("q"), Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(sqs, url, expect, timeout=10):
    """Receives until `expect` messages arrived (and deletes them); then checks nothing more comes."""
    got = []
    deadline = time.time() + timeout
    while len(got) < expect and time.time() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in resp.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def attr(value, data_type="String"):
    return {"DataType": data_type, "StringValue": value}


# --- topics and subscriptions --------------------------------------------------


def test_topic_lifecycle(sns):
    name = unique("topic")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "orders"}, Tags=[{"Key": "team", "Value": "core"}])["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    # Idempotent by name with the same attributes.
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "orders"})["TopicArn"] == arn
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["DisplayName"] == "orders" and attrs["Owner"] == "000000000000"
    assert attrs["SubscriptionsConfirmed"] == "0" and attrs["SubscriptionsPending"] == "0"
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="renamed")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "renamed"

    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "core"}]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]

    fifo = sns.create_topic(Name=name + ".fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    fattrs = sns.get_topic_attributes(TopicArn=fifo)["Attributes"]
    assert fattrs["FifoTopic"] == "true" and fattrs["ContentBasedDeduplication"] == "true"

    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=fifo)
    listed = [t["TopicArn"] for t in sns.get_paginator("list_topics").paginate().build_full_result()["Topics"]]
    assert arn not in listed and fifo not in listed
    with pytest.raises(ClientError) as e:
        sns.get_topic_attributes(TopicArn=arn)
    assert error_of(e) == ("NotFound", 404)


def test_list_topics_pages_with_next_token(sns):
    prefix = unique("page")
    arns = {sns.create_topic(Name=f"{prefix}-{i:03}")["TopicArn"] for i in range(120)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    listed = [t["TopicArn"] for t in sns.get_paginator("list_topics").paginate().build_full_result()["Topics"]]
    assert arns <= set(listed) and len(listed) == len(set(listed))
    for a in arns:
        sns.delete_topic(TopicArn=a)


def test_bad_input_gets_sns_error_codes(sns, sqs):
    def code(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return error_of(e)

    assert code(sns.create_topic, Name="bad name") == ("InvalidParameter", 400)
    assert code(sns.create_topic, Name="plain", Attributes={"FifoTopic": "true"}) == ("InvalidParameter", 400)
    assert code(sns.create_topic, Name="x.fifo") == ("InvalidParameter", 400)
    assert code(sns.create_topic, Name=unique("t"), Attributes={"Bogus": "1"}) == ("InvalidParameter", 400)
    name = unique("t")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "a"})["TopicArn"]
    assert code(sns.create_topic, Name=name, Attributes={"DisplayName": "b"}) == ("InvalidParameter", 400)
    missing = arn + "-missing"
    assert code(sns.publish, TopicArn=missing, Message="m") == ("NotFound", 404)
    assert code(sns.subscribe, TopicArn=missing, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:q") == ("NotFound", 404)
    assert code(sns.set_topic_attributes, TopicArn=arn, AttributeName="Nope", AttributeValue="x") == ("InvalidParameter", 400)
    assert code(sns.get_topic_attributes, TopicArn="not-an-arn") == ("InvalidParameter", 400)
    assert code(sns.publish, TopicArn=arn, Message="") == ("InvalidParameter", 400)
    assert code(sns.publish, TopicArn=arn, Message="x" * (256 * 1024 + 1)) == ("InvalidParameter", 400)
    assert code(sns.publish, TopicArn=arn, Message="m", MessageAttributes={"n": attr("abc", "Number")}) == ("ParameterValueInvalid", 400)
    assert code(sns.publish, TopicArn=arn, Message="m", MessageAttributes={"n": attr("v", "Weird")}) == ("ParameterValueInvalid", 400)
    assert code(sns.publish, TopicArn=arn, Message="{}", MessageStructure="json") == ("InvalidParameter", 400)
    assert code(sns.subscribe, TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x") == ("InvalidParameter", 400)
    assert code(sns.subscribe, TopicArn=arn, Protocol="lambda", Endpoint="not-an-arn") == ("InvalidParameter", 400)
    assert code(sns.subscribe, TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:q",
                Attributes={"FilterPolicy": '{"k": [{"prefixx": "a"}]}'}) == ("InvalidParameter", 400)
    assert code(sns.subscribe, TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:q",
                Attributes={"FilterPolicy": '{"a": {"b": ["c"]}}'}) == ("InvalidParameter", 400)
    assert code(sns.unsubscribe, SubscriptionArn=arn + ":0000") == ("NotFound", 404)
    assert code(sns.get_subscription_attributes, SubscriptionArn=arn + ":0000") == ("NotFound", 404)
    assert code(sns.confirm_subscription, TopicArn=arn, Token="nope") == ("InvalidParameter", 400)
    assert code(sns.list_tags_for_resource, ResourceArn=missing) == ("ResourceNotFound", 404)
    assert code(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[]) == ("EmptyBatchRequest", 400)
    assert code(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "1"}, {"Id": "a", "Message": "2"}]) == ("BatchEntryIdsNotDistinct", 400)
    assert code(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": str(i), "Message": "m"} for i in range(11)]) == ("TooManyEntriesInBatchRequest", 400)
    fifo = sns.create_topic(Name=unique("f") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    assert code(sns.publish, TopicArn=fifo, Message="m") == ("InvalidParameter", 400)  # no group id
    assert code(sns.publish, TopicArn=fifo, Message="m", MessageGroupId="g") == ("InvalidParameter", 400)  # no dedup
    assert code(sns.subscribe, TopicArn=fifo, Protocol="http", Endpoint="http://127.0.0.1:1/") == ("InvalidParameter", 400)


def test_subscription_lifecycle(sns, sqs):
    arn = sns.create_topic(Name=unique("subs"))["TopicArn"]
    _, qarn = new_queue(sqs)
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    # Subscribing again with the same attributes returns the same subscription.
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Endpoint"] == qarn and attrs["Protocol"] == "sqs"
    assert attrs["RawMessageDelivery"] == "true" and attrs["PendingConfirmation"] == "false"
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"k": ["v"]}')
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"k": ["v"]} and attrs["FilterPolicyScope"] == "MessageAttributes"
    by_topic = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert by_topic == [{"SubscriptionArn": sub, "Owner": "000000000000", "Protocol": "sqs", "Endpoint": qarn, "TopicArn": arn}]
    assert sub in [s["SubscriptionArn"] for s in sns.get_paginator("list_subscriptions").paginate().build_full_result()["Subscriptions"]]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    # Deleting a topic deletes its subscriptions.
    sub2 = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as e:
        sns.get_subscription_attributes(SubscriptionArn=sub2)
    assert error_of(e) == ("NotFound", 404)


def aws_cli(server, *args):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "aws"), "--endpoint-url", server.endpoint, "--output", "json", *args],
        capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_aws_cli_sns(server, sqs):
    name = unique("cli")
    arn = aws_cli(server, "sns", "create-topic", "--name", name, "--tags", "Key=k,Value=v")["TopicArn"]
    assert arn in [t["TopicArn"] for t in aws_cli(server, "sns", "list-topics")["Topics"]]
    url, qarn = new_queue(sqs)
    sub = aws_cli(server, "sns", "subscribe", "--topic-arn", arn, "--protocol", "sqs", "--notification-endpoint", qarn,
                  "--attributes", '{"RawMessageDelivery":"true"}')["SubscriptionArn"]
    listed = aws_cli(server, "sns", "list-subscriptions-by-topic", "--topic-arn", arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub]
    published = aws_cli(server, "sns", "publish", "--topic-arn", arn, "--message", "from the cli",
                        "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert published["MessageId"]
    [m] = receive_all(sqs, url, 1)
    assert m["Body"] == "from the cli" and m["MessageAttributes"]["k"]["StringValue"] == "v"
    attrs = aws_cli(server, "sns", "get-topic-attributes", "--topic-arn", arn)["Attributes"]
    assert attrs["SubscriptionsConfirmed"] == "1"
    assert aws_cli(server, "sns", "list-tags-for-resource", "--resource-arn", arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    aws_cli(server, "sns", "unsubscribe", "--subscription-arn", sub)
    aws_cli(server, "sns", "delete-topic", "--topic-arn", arn)


# --- fan-out ------------------------------------------------------------------

PRINTER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
"""


def function_events(server, name):
    with urllib.request.urlopen(f"{server.endpoint}/_lamina/logs/{urllib.parse.quote(name)}", timeout=5) as r:
        lines = [e["message"] for e in json.loads(r.read())["events"]]
    return [json.loads(p[6:]) for line in lines for p in line.splitlines() if p.startswith("EVENT ")]


def test_fanout_to_a_function_with_lambdas_sns_event(server, sns, sqs):
    lam = server.client("lambda")
    fn = create(lam, {"app.py": PRINTER})
    fn_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    topic = sns.create_topic(Name=unique("fan"))["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    url, qarn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    msg_id = sns.publish(TopicArn=topic, Message="hello function", Subject="greeting", MessageAttributes={
        "color": attr("red"), "count": attr("3", "Number"),
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})["MessageId"]
    [event] = wait_for(lambda: function_events(server, fn))
    assert set(event) == {"Records"} and len(event["Records"]) == 1
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    s = record["Sns"]
    assert s["Type"] == "Notification"
    assert s["MessageId"] == msg_id
    assert s["TopicArn"] == topic
    assert s["Subject"] == "greeting"
    assert s["Message"] == "hello function"
    assert time.strptime(s["Timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert s["SignatureVersion"] == "1" and base64.b64decode(s["Signature"])
    assert s["SigningCertUrl"].startswith(server.endpoint) and "SigningCertURL" not in s
    assert s["UnsubscribeUrl"] == f"{server.endpoint}/_sns/?Action=Unsubscribe&SubscriptionArn={urllib.parse.quote(sub, safe='')}"
    assert s["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "count": {"Type": "Number", "Value": "3"},
        "blob": {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01").decode()},
    }
    # The same message reached the queue subscriber too.
    [m] = receive_all(sqs, url, 1)
    assert json.loads(m["Body"])["MessageId"] == msg_id
    # Without a subject, Lambda's event carries Subject: null.
    sns.publish(TopicArn=topic, Message="no subject")
    events = wait_for(lambda: (lambda ev: ev if len(ev) == 2 else None)(function_events(server, fn)))
    second = [e for e in events if e["Records"][0]["Sns"]["Message"] == "no subject"][0]["Records"][0]["Sns"]
    assert second["Subject"] is None and second["MessageAttributes"] == {}
    # The UnsubscribeUrl works.
    with urllib.request.urlopen(s["UnsubscribeUrl"], timeout=5) as r:
        assert r.status == 200
    assert sub not in [x["SubscriptionArn"] for x in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]


def test_fanout_to_queues_as_envelope_and_raw(server, sns, sqs):
    topic = sns.create_topic(Name=unique("env"))["TopicArn"]
    env_url, env_arn = new_queue(sqs)
    raw_url, raw_arn = new_queue(sqs)
    env_sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    msg_id = sns.publish(TopicArn=topic, Message='{"order": 1} & <more>', Subject="s",
                         MessageAttributes={"k": attr("v"), "n": attr("7", "Number")})["MessageId"]
    [m] = receive_all(sqs, env_url, 1)
    body = json.loads(m["Body"])
    assert body["Type"] == "Notification"
    assert body["MessageId"] == msg_id
    assert body["TopicArn"] == topic
    assert body["Subject"] == "s"
    assert body["Message"] == '{"order": 1} & <more>'
    assert body["SignatureVersion"] == "1" and body["Signature"]
    assert body["SigningCertURL"].startswith(server.endpoint)
    assert body["UnsubscribeURL"].endswith(urllib.parse.quote(env_sub, safe=""))
    assert body["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}, "n": {"Type": "Number", "Value": "7"}}
    assert "MessageAttributes" not in m  # the envelope carries them, not SQS attributes
    [r] = receive_all(sqs, raw_url, 1)
    assert r["Body"] == '{"order": 1} & <more>'
    assert r["MessageAttributes"] == {"k": {"StringValue": "v", "DataType": "String"},
                                      "n": {"StringValue": "7", "DataType": "Number"}}
    # No Subject or attributes: the envelope leaves them out.
    sns.publish(TopicArn=topic, Message="bare")
    [m] = receive_all(sqs, env_url, 1)
    body = json.loads(m["Body"])
    assert "Subject" not in body and "MessageAttributes" not in body


def test_message_structure_json_and_publish_batch(sns, sqs):
    topic = sns.create_topic(Name=unique("struct"))["TopicArn"]
    url, arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "for all", "sqs": "for queues"}))
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "only default"}))
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2)) == ["for queues", "only default"]
    resp = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "one", "Message": "b1", "MessageAttributes": {"k": attr("v")}},
        {"Id": "two", "Message": "b2"},
        {"Id": "bad", "Message": "b3", "MessageAttributes": {"n": attr("x", "Number")}},
    ])
    assert sorted(s["Id"] for s in resp["Successful"]) == ["one", "two"]
    assert all(s["MessageId"] for s in resp["Successful"])
    assert resp["Failed"] == [{"Id": "bad", "Code": "ParameterValueInvalid", "Message": resp["Failed"][0]["Message"], "SenderFault": True}]
    got = receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in got) == ["b1", "b2"]
    assert [m["MessageAttributes"]["k"]["StringValue"] for m in got if m["Body"] == "b1"] == ["v"]


def test_fifo_topic_to_fifo_queue(sns, sqs):
    topic = sns.create_topic(Name=unique("ft") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = new_queue(sqs, unique("fq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    ids = []
    for i in range(5):
        r = sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
        assert r["SequenceNumber"]
        ids.append(r["MessageId"])
    again = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g", MessageDeduplicationId="d0")
    assert again["MessageId"] == ids[0]  # deduplicated within the window
    got = []
    deadline = time.time() + 10
    while len(got) < 5 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     AttributeNames=["All"]).get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(5)]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


# --- filter policies ------------------------------------------------------------


def test_filter_policies_on_attributes_and_body(sns, sqs):
    topic = sns.create_topic(Name=unique("filter"))["TopicArn"]
    queues = {}
    policies = {
        "red_or_blue": ('{"color": ["red", "blue"]}', "MessageAttributes"),
        "cheap": ('{"price": [{"numeric": [">", 0, "<=", 100]}], "color": [{"anything-but": "blue"}]}', "MessageAttributes"),
        "prefixed": ('{"$or": [{"sku": [{"prefix": "AB-"}]}, {"tag": [{"exists": true}]}]}', "MessageAttributes"),
        "body": ('{"order": {"status": ["paid"], "total": [{"numeric": [">=", 10]}]}}', "MessageBody"),
        "all": (None, None),
    }
    for key, (policy, scope) in policies.items():
        url, arn = new_queue(sqs)
        attrs = {"RawMessageDelivery": "true"}
        if policy:
            attrs.update({"FilterPolicy": policy, "FilterPolicyScope": scope})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attrs)
        queues[key] = url
    sent = [
        ("red50", {"color": attr("red"), "price": attr("50", "Number")}),
        ("blue50", {"color": attr("blue"), "price": attr("50", "Number")}),
        ("green500", {"color": attr("green"), "price": attr("500", "Number")}),
        ("sku", {"sku": attr("AB-123")}),
        ("tagged", {"tag": attr("x")}),
        (json.dumps({"order": {"status": "paid", "total": 12}}), {}),
        (json.dumps({"order": {"status": "paid", "total": 2}}), {}),
    ]
    for message, attributes in sent:
        sns.publish(TopicArn=topic, Message=message, MessageAttributes=attributes)
    expected = {
        "red_or_blue": {"red50", "blue50"},
        "cheap": {"red50"},
        "prefixed": {"sku", "tagged"},
        "body": {json.dumps({"order": {"status": "paid", "total": 12}})},
        "all": {m for m, _ in sent},
    }
    for key, want in expected.items():
        got = {m["Body"] for m in receive_all(sqs, queues[key], len(want), timeout=10)}
        assert got == want, key
        extra = sqs.receive_message(QueueUrl=queues[key], WaitTimeSeconds=1).get("Messages")
        assert extra is None, (key, extra)


# --- http endpoints --------------------------------------------------------------


class Endpoint:
    """An HTTP endpoint in a thread that records every POST; `fail_first` answers 500 that many times.
    With `tls` (an ssl.SSLContext) it serves https."""

    def __init__(self, fail_first=0, port=0, tls=None):
        self.requests = []
        self.fail_first = fail_first
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                endpoint.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body, "at": time.time()})
                failing = endpoint.fail_first > 0
                endpoint.fail_first -= 1
                self.send_response(500 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        scheme = "http"
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def of_type(self, t):
        return [r for r in self.requests if r["headers"].get("x-amz-sns-message-type") == t]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_http_confirmation_flow_then_notifications(sns):
    ep = Endpoint()
    try:
        topic = sns.create_topic(Name=unique("http"))["TopicArn"]
        resp = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url)
        assert resp["SubscriptionArn"] == "pending confirmation"
        [conf] = wait_for(lambda: ep.of_type("SubscriptionConfirmation"))
        assert conf["path"] == "/hook"
        assert conf["headers"]["x-amz-sns-topic-arn"] == topic
        assert conf["headers"]["content-type"] == "text/plain; charset=UTF-8"
        doc = json.loads(conf["body"])
        assert doc["Type"] == "SubscriptionConfirmation" and doc["TopicArn"] == topic and doc["Token"]
        assert conf["headers"]["x-amz-sns-message-id"] == doc["MessageId"]
        assert doc["SubscribeURL"].startswith(sns.meta.endpoint_url + "/_sns/?Action=ConfirmSubscription")
        listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
        # Nothing is delivered before confirmation.
        sns.publish(TopicArn=topic, Message="too early")
        # Visiting the SubscribeURL confirms.
        with urllib.request.urlopen(doc["SubscribeURL"], timeout=5) as r:
            assert r.status == 200
            sub = r.read().decode().split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]
        assert sub.startswith(topic + ":")
        assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "false"
        msg_id = sns.publish(TopicArn=topic, Message="hello http", Subject="s", MessageAttributes={"k": attr("v")})["MessageId"]
        [note] = wait_for(lambda: ep.of_type("Notification"))
        assert note["headers"]["x-amz-sns-message-id"] == msg_id
        assert note["headers"]["x-amz-sns-topic-arn"] == topic
        assert note["headers"]["x-amz-sns-subscription-arn"] == sub
        body = json.loads(note["body"])
        assert body["Message"] == "hello http" and body["Subject"] == "s" and body["MessageId"] == msg_id
        assert body["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
        assert body["UnsubscribeURL"].startswith(sns.meta.endpoint_url + "/_sns/?Action=Unsubscribe")

        # ConfirmSubscription through the API, with ReturnSubscriptionArn.
        ep2 = Endpoint()
        try:
            pending = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep2.url, ReturnSubscriptionArn=True)["SubscriptionArn"]
            assert pending.startswith(topic + ":")
            assert sns.get_subscription_attributes(SubscriptionArn=pending)["Attributes"]["PendingConfirmation"] == "true"
            [conf2] = wait_for(lambda: ep2.of_type("SubscriptionConfirmation"))
            token = json.loads(conf2["body"])["Token"]
            assert sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"] == pending
            sns.set_subscription_attributes(SubscriptionArn=pending, AttributeName="RawMessageDelivery", AttributeValue="true")
            sns.publish(TopicArn=topic, Message="raw body")
            [raw] = wait_for(lambda: ep2.of_type("Notification"))
            assert raw["body"] == "raw body" and raw["headers"]["x-amz-sns-rawdelivery"] == "true"
        finally:
            ep2.close()
    finally:
        ep.close()


def quick_retries(**fields):
    """A subscription DeliveryPolicy with second-scale delays."""
    return json.dumps({"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "backoffFunction": "linear", **fields}})


def attempts_until(ep, message_type, count, timeout=20):
    return wait_for(lambda: (lambda r: r if len(r) >= count else None)(ep.of_type(message_type)), timeout=timeout)


def test_failing_http_endpoint_is_retried_as_its_delivery_policy_says(sns):
    # Fails 3 times, then succeeds: one immediate retry, then a linear backoff of 1, 2, 3 s.
    policy = quick_retries(maxDelayTarget=3, numRetries=4, numNoDelayRetries=1)
    ep = Endpoint(fail_first=3)
    try:
        topic = sns.create_topic(Name=unique("retry"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url, Attributes={"DeliveryPolicy": policy})
        confs = attempts_until(ep, "SubscriptionConfirmation", 4)
        assert len({c["headers"]["x-amz-sns-message-id"] for c in confs}) == 1
        gaps = [b["at"] - a["at"] for a, b in zip(confs, confs[1:])]
        assert gaps[0] < 0.5 and 0.95 <= gaps[1] < 1.6 and 1.95 <= gaps[2] < 2.6, gaps
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(confs[0]["body"])["Token"])
        ep.fail_first = 1
        sns.publish(TopicArn=topic, Message="eventually")
        notes = attempts_until(ep, "Notification", 2)
        assert [json.loads(n["body"])["Message"] for n in notes] == ["eventually", "eventually"]
        time.sleep(1.5)
        assert len(ep.of_type("SubscriptionConfirmation")) == 4 and len(ep.of_type("Notification")) == 2
    finally:
        ep.close()


def test_no_retries_gives_up_after_one_attempt(sns):
    ep = Endpoint(fail_first=100)
    try:
        topic = sns.create_topic(Name=unique("noretry"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url,
                      Attributes={"DeliveryPolicy": quick_retries(numRetries=0)})
        attempts_until(ep, "SubscriptionConfirmation", 1)
        time.sleep(2.5)
        assert len(ep.of_type("SubscriptionConfirmation")) == 1
    finally:
        ep.close()


def test_given_up_http_delivery_goes_to_the_dead_letter_queue(sns, sqs):
    dlq_url, dlq_arn = new_queue(sqs, unique("dlq"))
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn})
    ep = Endpoint(fail_first=1000)
    try:
        topic = sns.create_topic(Name=unique("redrive"))["TopicArn"]
        sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url, ReturnSubscriptionArn=True,
                            Attributes={"DeliveryPolicy": quick_retries(numRetries=1), "RedrivePolicy": redrive})["SubscriptionArn"]
        [conf, _] = attempts_until(ep, "SubscriptionConfirmation", 2)
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(conf["body"])["Token"])
        assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"] == redrive
        msg_id = sns.publish(TopicArn=topic, Message="undeliverable", Subject="s")["MessageId"]
        [dead] = receive_all(sqs, dlq_url, expect=1)
        body = json.loads(dead["Body"])
        assert body["Type"] == "Notification" and body["MessageId"] == msg_id and body["TopicArn"] == topic
        assert body["Message"] == "undeliverable" and body["Subject"] == "s"
        assert body["UnsubscribeURL"].startswith(sns.meta.endpoint_url + "/_sns/?Action=Unsubscribe")
        # Given up after the policy's one retry; the failed confirmations were not redriven.
        assert [n["headers"]["x-amz-sns-message-id"] for n in ep.of_type("Notification")] == [msg_id, msg_id]
        assert receive_all(sqs, dlq_url, expect=1, timeout=2) == []
    finally:
        ep.close()


def test_given_up_raw_delivery_reaches_the_dead_letter_queue_raw(sns, sqs):
    dlq_url, dlq_arn = new_queue(sqs, unique("dlq"))
    ep = Endpoint(fail_first=1000)
    try:
        topic = sns.create_topic(Name=unique("redriveraw"))["TopicArn"]
        sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url, ReturnSubscriptionArn=True,
                            Attributes={"DeliveryPolicy": quick_retries(numRetries=0)})["SubscriptionArn"]
        [conf] = attempts_until(ep, "SubscriptionConfirmation", 1)
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(conf["body"])["Token"])
        for name, value in [("RawMessageDelivery", "true"), ("RedrivePolicy", json.dumps({"deadLetterTargetArn": dlq_arn}))]:
            sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName=name, AttributeValue=value)
        sns.publish(TopicArn=topic, Message="raw and dead", MessageAttributes={"k": attr("v")})
        [dead] = receive_all(sqs, dlq_url, expect=1)
        assert dead["Body"] == "raw and dead"
        assert dead["MessageAttributes"]["k"] == {"DataType": "String", "StringValue": "v"}
    finally:
        ep.close()


def test_bad_redrive_policies_get_invalid_parameter(sns, sqs):
    _, dlq_arn = new_queue(sqs, unique("dlq"))
    topic = sns.create_topic(Name=unique("badredrive"))["TopicArn"]
    _, q_arn = new_queue(sqs)
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q_arn)["SubscriptionArn"]
    cases = [
        ("{not json", "Invalid parameter: RedrivePolicy: failed to parse JSON."),
        (json.dumps({"deadLetterTargetArn": topic}), "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"),
        (json.dumps({"deadLetterTargetArn": "queue-name"}), "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"),
        (json.dumps({}), "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"),
    ]
    for value, message in cases:
        with pytest.raises(ClientError) as e:
            sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=value)
        assert error_of(e) == ("InvalidParameter", 400)
        assert e.value.response["Error"]["Message"] == message
        with pytest.raises(ClientError) as e:
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=new_queue(sqs)[1], Attributes={"RedrivePolicy": value})
        assert e.value.response["Error"]["Message"] == message
    assert "RedrivePolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    good = json.dumps({"deadLetterTargetArn": dlq_arn})
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=good)
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"] == good
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue="")
    assert "RedrivePolicy" not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]


def test_topic_delivery_policy_applies_and_subscriptions_override_it(sns):
    topic_policy = {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2},
                             "defaultRequestPolicy": {"headerContentType": "application/json"}}}
    topic = sns.create_topic(Name=unique("policy"), Attributes={"DeliveryPolicy": json.dumps(topic_policy)})["TopicArn"]
    effective = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"] == {
        "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2, "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"}
    assert effective["http"]["defaultRequestPolicy"] == {"headerContentType": "application/json"}
    ep, ep2 = Endpoint(fail_first=100), Endpoint(fail_first=100)
    try:
        # The topic's policy: 2 retries a second apart, JSON content type.
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url)
        # The subscription's own numRetries wins; the rest comes from the topic.
        sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep2.url, ReturnSubscriptionArn=True,
                            Attributes={"DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 1}})})["SubscriptionArn"]
        sattrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        sub_effective = json.loads(sattrs["EffectiveDeliveryPolicy"])
        assert sub_effective["healthyRetryPolicy"]["numRetries"] == 1
        assert sub_effective["healthyRetryPolicy"]["minDelayTarget"] == 1
        assert json.loads(sattrs["DeliveryPolicy"]) == {"healthyRetryPolicy": {"numRetries": 1}}
        confs = attempts_until(ep, "SubscriptionConfirmation", 3)
        assert confs[0]["headers"]["content-type"] == "application/json"
        attempts_until(ep2, "SubscriptionConfirmation", 2)
        time.sleep(2.5)
        assert len(ep.of_type("SubscriptionConfirmation")) == 3
        assert len(ep2.of_type("SubscriptionConfirmation")) == 2
    finally:
        ep.close()
        ep2.close()


def test_bad_delivery_policies_get_invalid_parameter(sns):
    topic = sns.create_topic(Name=unique("badpolicy"))["TopicArn"]
    default = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["EffectiveDeliveryPolicy"])
    assert default["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert default["http"]["defaultHealthyRetryPolicy"]["minDelayTarget"] == 20
    assert default["http"]["defaultRequestPolicy"] == {"headerContentType": "text/plain; charset=UTF-8"}
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:9/x",
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    sub_default = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["EffectiveDeliveryPolicy"])
    assert sub_default["healthyRetryPolicy"]["numRetries"] == 3 and sub_default["healthyRetryPolicy"]["maxDelayTarget"] == 20
    bad = [
        ({"healthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 2}},
         "DeliveryPolicy: healthyRetryPolicy.maxDelayTarget must be greater than or equal to minDelayTarget"),
        ({"healthyRetryPolicy": {"numRetries": 101}}, "DeliveryPolicy: healthyRetryPolicy.numRetries must be less than or equal to 100"),
        ({"healthyRetryPolicy": {"numRetries": 1, "numNoDelayRetries": 2}}, "numRetries must be greater than or equal to total of"),
        ({"healthyRetryPolicy": {"backoffFunction": "cubic"}}, "is not a valid backoff function"),
        ({"throttlePolicy": {"maxReceivesPerSecond": 0}}, "throttlePolicy.maxReceivesPerSecond must be >= 1"),
    ]
    for policy, message in bad:
        with pytest.raises(ClientError) as e:
            sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy))
        assert error_of(e) == ("InvalidParameter", 400)
        assert message in e.value.response["Error"]["Message"], e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy",
                                 AttributeValue=json.dumps({"http": {"defaultHealthyRetryPolicy": {"maxDelayTarget": 3601}}}))
    assert error_of(e) == ("InvalidParameter", 400)
    assert "http.defaultHealthyRetryPolicy.maxDelayTarget must be less than or equal to 3600" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=unique("badpolicy"), Attributes={"DeliveryPolicy": "{not json"})
    assert error_of(e) == ("InvalidParameter", 400)


def test_throttle_policy_spaces_deliveries(sns):
    ep = Endpoint()
    try:
        topic = sns.create_topic(Name=unique("throttle"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url,
                      Attributes={"RawMessageDelivery": "true",
                                  "DeliveryPolicy": json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 2}})})
        [conf] = attempts_until(ep, "SubscriptionConfirmation", 1)
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(conf["body"])["Token"])
        start = time.time()
        for i in range(5):
            sns.publish(TopicArn=topic, Message=f"t{i}")
        notes = attempts_until(ep, "Notification", 5)
        assert sorted(n["body"] for n in notes) == [f"t{i}" for i in range(5)]
        # 2 a second: the fifth goes out no sooner than 2 s after the first.
        assert notes[-1]["at"] - notes[0]["at"] >= 1.9, [n["at"] - start for n in notes]
    finally:
        ep.close()


# --- https endpoints -------------------------------------------------------------


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca_and_leaf(directory, name):
    """A CA and a leaf for 127.0.0.1 signed by it (openssl CLI); returns (ca.pem, leaf.pem, leaf.key)."""
    d = os.path.join(directory, name)
    os.makedirs(d, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", f"/CN=Lamina test CA {name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext", cwd=d)
    return tuple(os.path.join(d, f) for f in ("ca.pem", "leaf.pem", "leaf.key"))


def tls_context(leaf, key):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf, key)
    return ctx


def test_https_endpoints_confirm_and_receive_over_tls(start_server, tmp_path):
    ca, leaf, key = make_ca_and_leaf(str(tmp_path), "trusted")
    _, rogue_leaf, rogue_key = make_ca_and_leaf(str(tmp_path), "untrusted")
    srv = start_server(env={"SSL_CERT_FILE": ca})
    sns = srv.client("sns")
    ep = Endpoint(tls=tls_context(leaf, key))
    rogue = Endpoint(tls=tls_context(rogue_leaf, rogue_key))
    try:
        assert ep.url.startswith("https://")
        topic = sns.create_topic(Name="tls")["TopicArn"]
        # An endpoint whose certificate no trusted CA signed gets nothing; the log says why.
        rogue_sub = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=rogue.url, ReturnSubscriptionArn=True,
                                  Attributes={"DeliveryPolicy": quick_retries(numRetries=0)})["SubscriptionArn"]
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=ep.url)
        [conf] = wait_for(lambda: ep.of_type("SubscriptionConfirmation"))
        assert conf["headers"]["x-amz-sns-topic-arn"] == topic
        doc = json.loads(conf["body"])
        assert doc["Type"] == "SubscriptionConfirmation" and doc["Token"] and doc["SubscribeURL"]
        assert conf["headers"]["x-amz-sns-message-id"] == doc["MessageId"]
        sub = sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])["SubscriptionArn"]
        msg_id = sns.publish(TopicArn=topic, Message="over tls", Subject="s")["MessageId"]
        [note] = wait_for(lambda: ep.of_type("Notification"))
        assert note["headers"]["x-amz-sns-message-type"] == "Notification"
        assert note["headers"]["x-amz-sns-topic-arn"] == topic
        assert note["headers"]["x-amz-sns-subscription-arn"] == sub
        assert note["headers"]["x-amz-sns-message-id"] == msg_id
        assert json.loads(note["body"])["Message"] == "over tls"
        given_up = wait_for(lambda: [l for l in srv.log().splitlines() if "delivery given up" in l and rogue_sub in l])
        assert "UnknownIssuer" in given_up[0] or "certificate" in given_up[0], given_up
        assert rogue.requests == []
        assert sns.get_subscription_attributes(SubscriptionArn=rogue_sub)["Attributes"]["PendingConfirmation"] == "true"
    finally:
        ep.close()
        rogue.close()


# --- durability -----------------------------------------------------------------


def test_restart_keeps_topics_subscriptions_and_owed_deliveries(start_server, tmp_path):
    data = str(tmp_path / "sns")
    srv = start_server(data)
    sns, sqs = srv.client("sns"), srv.client("sqs")
    # Retries a second apart, for half a minute: the confirmation owed below is still owed after the restart.
    quick = json.dumps({"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 30}}})
    topic = sns.create_topic(Name="durable", Attributes={"DisplayName": "kept", "DeliveryPolicy": quick},
                             Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
    url, qarn = new_queue(sqs, "durable-q")
    qsub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                         Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"k": ["yes"]}'})["SubscriptionArn"]
    # An HTTP subscriber whose endpoint is down: the confirmation stays owed.
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook)
    for i in range(20):
        sns.publish(TopicArn=topic, Message=f"m{i}", MessageAttributes={"k": attr("yes")})
    fifo = sns.create_topic(Name="durable.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    first = sns.publish(TopicArn=fifo, Message="f", MessageGroupId="g", MessageDeduplicationId="once")
    srv.stop(signal.SIGKILL)

    ep = Endpoint(port=port)
    try:
        srv2 = start_server(data, port=srv.port)
        sns, sqs = srv2.client("sns"), srv2.client("sqs")
        attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        assert attrs["DisplayName"] == "kept" and attrs["SubscriptionsConfirmed"] == "1" and attrs["SubscriptionsPending"] == "1"
        assert json.loads(attrs["DeliveryPolicy"]) == json.loads(quick)
        assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "k", "Value": "v"}]
        sattrs = sns.get_subscription_attributes(SubscriptionArn=qsub)["Attributes"]
        assert sattrs["RawMessageDelivery"] == "true" and json.loads(sattrs["FilterPolicy"]) == {"k": ["yes"]}
        # The FIFO deduplication window survives too.
        again = sns.publish(TopicArn=fifo, Message="f", MessageGroupId="g", MessageDeduplicationId="once")
        assert (again["MessageId"], again["SequenceNumber"]) == (first["MessageId"], first["SequenceNumber"])
        sns.publish(TopicArn=topic, Message="after", MessageAttributes={"k": attr("yes")})
        sns.publish(TopicArn=topic, Message="filtered out", MessageAttributes={"k": attr("no")})
        # Every publish answered 200 before the kill reaches the queue (at least once).
        bodies = {m["Body"] for m in receive_all(sqs, url, 21, timeout=15)}
        assert bodies == {f"m{i}" for i in range(20)} | {"after"}
        # The owed confirmation reaches the endpoint once it is up.
        wait_for(lambda: ep.of_type("SubscriptionConfirmation"), timeout=20)
    finally:
        ep.close()
