"""SQS queues and Lambda event source mappings, driven by boto3, the AWS CLI
and raw query-protocol requests.

Timing numbers (throughput, delivery latency) are printed, not asserted:
run with `-s` to see them.
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import signal
import statistics
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest

from conftest import ROOT, create, unique, wait_for

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def new_queue(sqs, name=None, **attrs):
    name = name or unique("q")
    return sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def error_of(exc_info):
    return exc_info.value.response["Error"]


def md5_of_attributes(attrs):
    """SQS's MD5OfMessageAttributes algorithm, written from its spec."""
    buf = b""
    for name in sorted(attrs):
        v = attrs[name]
        for part in (name.encode(), v["DataType"].encode()):
            buf += struct.pack(">I", len(part)) + part
        if "BinaryValue" in v:
            value = v["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(value)) + value
        else:
            value = v["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(value)) + value
    return hashlib.md5(buf).hexdigest()


def drain(sqs, url, **kw):
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kw).get("Messages", [])
        if not msgs:
            return out
        out.extend(msgs)


# --- queues -----------------------------------------------------------------


def test_queue_lifecycle(sqs):
    name = unique("life")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"}, tags={"team": "a"})["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    # Idempotent with the same attributes; a conflict with different ones.
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as e:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert error_of(e)["Code"] == "QueueAlreadyExists"

    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    other = new_queue(sqs, name + "-other")
    listed = sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    assert sorted(listed) == sorted([url, other])
    page = sqs.list_queues(QueueNamePrefix=name, MaxResults=1)
    assert len(page["QueueUrls"]) == 1 and "NextToken" in page
    rest = sqs.list_queues(QueueNamePrefix=name, MaxResults=1, NextToken=page["NextToken"])
    assert rest["QueueUrls"] != page["QueueUrls"]

    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["MessageRetentionPeriod"] == "345600"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2", "ReceiveMessageWaitTimeSeconds": "1"})
    some = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "ReceiveMessageWaitTimeSeconds"])
    assert some["Attributes"] == {"DelaySeconds": "2", "ReceiveMessageWaitTimeSeconds": "1"}

    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}

    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=other)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName=name)
    assert error_of(e)["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_send_receive_delete_with_attributes(sqs):
    url = new_queue(sqs)
    attrs = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "size": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01binary"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello world", MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello world").hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)

    got = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], VisibilityTimeout=30
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == "hello world"
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01binary"
    assert m["MessageAttributes"]["size"] == {"StringValue": "42", "DataType": "Number"}
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    a = m["Attributes"]
    assert a["ApproximateReceiveCount"] == "1"
    assert int(a["SentTimestamp"]) <= int(a["ApproximateFirstReceiveTimestamp"])
    # In flight: invisible to others.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    # Only the names asked for come back.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["color"], AttributeNames=["ApproximateReceiveCount"])
    m2 = again["Messages"][0]
    assert list(m2["MessageAttributes"]) == ["color"]
    assert m2["Attributes"] == {"ApproximateReceiveCount": "2"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])
    # Deleting twice is fine, as in SQS.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])
    assert drain(sqs, url) == []


def test_batches(sqs):
    url = new_queue(sqs)
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(10)]
    entries[3]["DelaySeconds"] = 1000  # invalid: reported per entry
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(r["Successful"]) == 9
    assert [f["Id"] for f in r["Failed"]] == ["m3"]
    assert r["Failed"][0]["Code"] == "InvalidParameterValue" and r["Failed"][0]["SenderFault"] is True
    for s in r["Successful"]:
        i = int(s["Id"][1:])
        assert s["MD5OfMessageBody"] == hashlib.md5(f"body {i}".encode()).hexdigest()

    msgs = drain(sqs, url, VisibilityTimeout=30)
    assert sorted(m["Body"] for m in msgs) == sorted(f"body {i}" for i in range(10) if i != 3)
    vis = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
                 {"Id": "b", "ReceiptHandle": "garbage", "VisibilityTimeout": 0}],
    )
    assert [s["Id"] for s in vis["Successful"]] == ["a"]
    assert vis["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    back = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert back[0]["MessageId"] == msgs[0]["MessageId"]
    handles = [m["ReceiptHandle"] for m in msgs[1:]] + [back[0]["ReceiptHandle"]]
    d = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": h} for i, h in enumerate(handles)])
    assert len(d["Successful"]) == 9 and d.get("Failed", []) == []
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_delay_and_purge(sqs):
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    started = time.time()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "later"
    assert time.time() - started < 2.5, "a long poll wakes when a delayed message becomes visible"

    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.purge_queue(QueueUrl=url)
    assert drain(sqs, url) == []
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress):
        sqs.purge_queue(QueueUrl=url)


def test_long_polling_returns_early_on_send(sqs):
    url = new_queue(sqs)
    started = time.time()
    empty = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert "Messages" not in empty
    assert 0.9 <= time.time() - started < 2.5

    result = {}

    def waiter():
        t = time.time()
        result["resp"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
        result["elapsed"] = time.time() - t

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(20)
    assert result["resp"]["Messages"][0]["Body"] == "wake up"
    assert result["elapsed"] < 3, result


def test_visibility_timeout_races_with_concurrent_receivers(server):
    """8 receivers hammer one queue; no message is handed out twice inside its
    visibility timeout, and every message is handed out."""
    sqs = server.client("sqs", max_pool_connections=16)
    url = new_queue(sqs, VisibilityTimeout=60)
    total = 300
    for start in range(0, total, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)])
    seen = []
    lock = threading.Lock()

    def receiver():
        client = server.client("sqs")
        misses = 0
        while misses < 3:
            msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                misses += 1
                continue
            with lock:
                seen.extend(m["Body"] for m in msgs)

    threads = [threading.Thread(target=receiver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(seen) == total, f"{len(seen)} deliveries for {total} messages"
    assert len(set(seen)) == total, "a message was delivered twice inside its visibility timeout"


def test_visibility_expiry_redelivers(sqs):
    url = new_queue(sqs, VisibilityTimeout=1)
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    second = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # The old receipt handle no longer changes visibility.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=5)
    assert error_of(e)["Code"] == "InvalidParameterValue"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=5)


# --- FIFO -------------------------------------------------------------------


def test_fifo_ordering_and_group_locking(sqs):
    url = sqs.create_queue(QueueName=unique("order") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(10):
        for g in ("a", "b", "c"):
            r = sqs.send_message(QueueUrl=url, MessageBody=f"{g}{i}", MessageGroupId=g, MessageDeduplicationId=f"{g}-{i}")
            assert r["SequenceNumber"]
    # One message of group a in flight locks the rest of group a.
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["MessageGroupId", "SequenceNumber"])["Messages"][0]
    assert first["Body"] == "a0" and first["Attributes"]["MessageGroupId"] == "a"
    others = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert all(not m["Body"].startswith("a") for m in others)
    # Hand them back; then consume everything and check per-group order.
    for m in others:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    order = {"a": ["a0"], "b": [], "c": []}
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            order[m["Body"][0]].append(m["Body"])
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    for g in "abc":
        assert order[g] == [f"{g}{i}" for i in range(10)]


def test_fifo_deduplication(sqs):
    url = sqs.create_queue(QueueName=unique("dedup") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    r1 = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="same")
    r2 = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="same")
    assert r1["MessageId"] == r2["MessageId"] and r1["SequenceNumber"] == r2["SequenceNumber"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="z", MessageGroupId="g")
    assert error_of(e)["Code"] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="z", MessageDeduplicationId="d")
    assert error_of(e)["Code"] == "MissingParameter"
    msgs = drain(sqs, url)
    assert [m["Body"] for m in msgs] == ["x"]

    cbd = sqs.create_queue(
        QueueName=unique("cbd") + ".fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    a = sqs.send_message(QueueUrl=cbd, MessageBody="same body", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=cbd, MessageBody="same body", MessageGroupId="g")
    c = sqs.send_message(QueueUrl=cbd, MessageBody="other body", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]
    got = drain(sqs, cbd, AttributeNames=["All"])
    assert [m["Body"] for m in got] == ["same body", "other body"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same body").hexdigest()


# --- dead-letter queues -----------------------------------------------------


def test_dlq_redrive_after_max_receive_count(sqs):
    dlq = new_queue(sqs)
    dlq_arn = arn_of(sqs, dlq)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    src = new_queue(sqs, RedrivePolicy=policy)
    assert json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        m = sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"][0]
        assert m["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert moved["Body"] == "poison" and moved["MessageId"] == m["MessageId"]
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, src)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]


# --- errors -----------------------------------------------------------------


def test_bad_input_gets_sqs_error_codes(sqs):
    url = new_queue(sqs, MaximumMessageSize=1024)
    big = new_queue(sqs)

    def code(fn, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            fn(**kw)
        return error_of(e)["Code"]

    assert code(sqs.send_message, QueueUrl=big, MessageBody="x" * (256 * 1024 + 1)) == "InvalidParameterValue"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x" * 1025) == "InvalidParameterValue"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="bad \x01 char") == "InvalidMessageContents"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901) == "InvalidParameterValue"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x",
                MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}) == "InvalidParameterValue"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x",
                MessageAttributes={"n": {"DataType": "Weird", "StringValue": "abc"}}) == "InvalidParameterValue"
    assert code(sqs.send_message_batch, QueueUrl=url, Entries=[]) == "AWS.SimpleQueueService.EmptyBatchRequest"
    assert code(sqs.send_message_batch, QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)]) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert code(sqs.send_message_batch, QueueUrl=url,
                Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert code(sqs.send_message_batch, QueueUrl=url,
                Entries=[{"Id": "no spaces", "MessageBody": "x"}]) == "AWS.SimpleQueueService.InvalidBatchEntryId"
    assert code(sqs.send_message_batch, QueueUrl=big,
                Entries=[{"Id": str(i), "MessageBody": "x" * 100_000} for i in range(3)]) == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert code(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11) == "InvalidParameterValue"
    assert code(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21) == "InvalidParameterValue"
    assert code(sqs.delete_message, QueueUrl=url, ReceiptHandle="not-a-handle") == "ReceiptHandleIsInvalid"
    assert code(sqs.create_queue, QueueName="bad name!") == "InvalidParameterValue"
    assert code(sqs.create_queue, QueueName=unique("x"), Attributes={"VisibilityTimeout": "99999"}) == "InvalidAttributeValue"
    assert code(sqs.create_queue, QueueName=unique("x"), Attributes={"FifoQueue": "true"}) == "InvalidParameterValue"
    assert code(sqs.set_queue_attributes, QueueUrl=url, Attributes={"NoSuchThing": "1"}) == "InvalidAttributeName"
    assert code(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["NoSuchThing"]) == "InvalidAttributeName"
    assert code(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": "{not json"}) == "InvalidAttributeValue"
    assert code(sqs.get_queue_url, QueueName=unique("missing")) == "AWS.SimpleQueueService.NonExistentQueue"
    # Malformed JSON body: an SQS error, not a crash.
    req = urllib.request.Request(
        sqs.meta.endpoint_url + "/", data=b"{nope", method="POST",
        headers={"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400
    assert "__type" in json.loads(e.value.read())


# --- other clients -----------------------------------------------------------


def aws_cli(server, *args):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "aws"), "--endpoint-url", server.endpoint, "--output", "json", *args],
        capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_aws_cli_sqs(server):
    name = unique("cli")
    url = aws_cli(server, "sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    assert url in aws_cli(server, "sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    sent = aws_cli(server, "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
                   "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = aws_cli(server, "sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
                  "--wait-time-seconds", "1")["Messages"][0]
    assert got["Body"] == "from the cli" and got["MessageAttributes"]["k"]["StringValue"] == "v"
    aws_cli(server, "sqs", "delete-message", "--queue-url", url, "--receipt-handle", got["ReceiptHandle"])
    attrs = aws_cli(server, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    aws_cli(server, "sqs", "delete-queue", "--queue-url", url)


def query(server, path="/", **params):
    """A query-protocol request as older SDKs send it (form body, SigV4 scope sqs)."""
    body = urllib.parse.urlencode({"Version": "2012-11-05", **params}).encode()
    req = urllib.request.Request(server.endpoint + path, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x",
    })
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


def text(root, tag):
    ns = "{http://queue.amazonaws.com/doc/2012-11-05/}"
    return [el.text for el in root.iter() if el.tag in (ns + tag, tag)]


def test_query_protocol(server):
    name = unique("query")
    status, doc = query(server, Action="CreateQueue", QueueName=name, **{"Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40"})
    assert status == 200
    url = text(doc, "QueueUrl")[0]
    status, doc = query(server, Action="SendMessage", QueueUrl=url, MessageBody="via <query> & xml", **{
        "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String", "MessageAttribute.1.Value.StringValue": "v"})
    assert status == 200 and text(doc, "MD5OfMessageBody") == [hashlib.md5(b"via <query> & xml").hexdigest()]
    # Queue named by path, as the query protocol allows.
    status, doc = query(server, f"/{ACCOUNT}/{name}", Action="ReceiveMessage", **{
        "AttributeName.1": "All", "MessageAttributeName.1": "All"})
    assert status == 200
    assert text(doc, "Body") == ["via <query> & xml"]
    assert "ApproximateReceiveCount" in text(doc, "Name")
    handle = text(doc, "ReceiptHandle")[0]
    status, doc = query(server, Action="GetQueueAttributes", QueueUrl=url, **{"AttributeName.1": "VisibilityTimeout"})
    assert text(doc, "Value") == ["40"]
    status, doc = query(server, Action="DeleteMessageBatch", QueueUrl=url, **{
        "DeleteMessageBatchRequestEntry.1.Id": "one", "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle})
    assert status == 200 and text(doc, "Id") == ["one"]
    status, doc = query(server, Action="GetQueueUrl", QueueName=unique("nope"))
    assert status == 400 and text(doc, "Code") == ["AWS.SimpleQueueService.NonExistentQueue"]
    status, doc = query(server, Action="NoSuchAction")
    assert status == 400 and text(doc, "Code") == ["InvalidAction"]


# --- durability --------------------------------------------------------------


def test_crash_and_restart_keeps_sent_and_in_flight_messages(start_server, tmp_path):
    data = str(tmp_path / "crash")
    srv = start_server(data)
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    fifo = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for start in range(0, 50, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])
    sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g", MessageDeduplicationId="once")
    in_flight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(in_flight) == 10
    done = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
    srv.stop(signal.SIGKILL)

    srv2 = start_server(data, port=srv.port)
    sqs = srv2.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "2"
    visible = int(attrs["ApproximateNumberOfMessages"])
    inflight = int(attrs["ApproximateNumberOfMessagesNotVisible"])
    assert visible + inflight == 45, attrs
    # The dedup window survives too.
    again = sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g", MessageDeduplicationId="once")
    bodies = set()
    deadline = time.time() + 10
    while len(bodies) < 45 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.add(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    expected = {f"m{i}" for i in range(50)} - {m["Body"] for m in done}
    assert bodies == expected
    assert [m["MessageId"] for m in drain(sqs, fifo)] == [again["MessageId"]]


# --- event source mappings -----------------------------------------------------

PRINTER = """
import json, time

def handler(event, context):
    now = time.time()
    print("EVENT " + json.dumps(event))
    failures = []
    for r in event["Records"]:
        body = r["body"]
        if body.startswith("ts:"):
            print("LATENCY %.6f" % (now - float(body[3:])))
        if "fail" in body:
            failures.append({"itemIdentifier": r["messageId"]})
        if "crash" in body:
            raise Exception("boom")
    return {"batchItemFailures": failures}
"""


def logs(server, name):
    with urllib.request.urlopen(f"{server.endpoint}/_lamina/logs/{urllib.parse.quote(name)}", timeout=5) as r:
        return [e["message"] for e in json.loads(r.read())["events"]]


def events(server, name):
    out = []
    for line in logs(server, name):
        for part in line.splitlines():
            if part.startswith("EVENT "):
                out.append(json.loads(part[6:]))
    return out


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda")


def test_mapping_delivers_lambda_sqs_event(server, sqs, lam):
    fn = create(lam, {"app.py": PRINTER})
    url = new_queue(sqs)
    arn = arn_of(sqs, url)
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=5)
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert m["State"] == "Creating" and m["BatchSize"] == 5 and m["EventSourceArn"] == arn
    assert m["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}"
    uuid = m["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert [x["UUID"] for x in lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]] == [uuid]
    assert [x["UUID"] for x in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]

    sent = sqs.send_message(QueueUrl=url, MessageBody="hello lambda",
                            MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})
    evs = wait_for(lambda: events(server, fn))
    assert evs, logs(server, fn)
    rec = evs[0]["Records"][0]
    assert set(rec) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"}
    assert rec["messageId"] == sent["MessageId"]
    assert rec["body"] == "hello lambda"
    assert rec["eventSource"] == "aws:sqs" and rec["eventSourceARN"] == arn and rec["awsRegion"] == "us-east-1"
    assert rec["md5OfBody"] == hashlib.md5(b"hello lambda").hexdigest()
    assert rec["messageAttributes"] == {"kind": {"stringValue": "greeting", "stringListValues": [],
                                                 "binaryListValues": [], "dataType": "String"}}
    assert set(rec["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert rec["attributes"]["ApproximateReceiveCount"] == "1"
    # Success deletes the message.
    assert wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0")
    assert drain(sqs, url) == []

    # Batching: 20 messages with a window arrive in batches of up to 5.
    lam.update_event_source_mapping(UUID=uuid, BatchSize=5, MaximumBatchingWindowInSeconds=1)
    for start in range(0, 20, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{start + i}"} for i in range(10)])
    wait_for(lambda: sum(len(e["Records"]) for e in events(server, fn)) >= 21, timeout=20)
    batches = events(server, fn)[1:]
    assert sorted(r["body"] for e in batches for r in e["Records"]) == sorted(f"b{i}" for i in range(20))
    assert max(len(e["Records"]) for e in batches) <= 5

    # Disable: messages stay on the queue.
    d = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert d["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    sqs.send_message(QueueUrl=url, MessageBody="while disabled")
    time.sleep(1)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "1"
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert wait_for(lambda: any(r["body"] == "while disabled" for e in events(server, fn) for r in e["Records"]))

    gone = lam.delete_event_source_mapping(UUID=uuid)
    assert gone["State"] == "Deleting"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=uuid)


def test_mapping_errors(server, sqs, lam):
    fn = create(lam, {"app.py": PRINTER})
    url = new_queue(sqs)
    arn = arn_of(sqs, url)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=unique("missing"))
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:{unique('none')}", FunctionName=fn)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=100)
    short = new_queue(sqs, VisibilityTimeout=1)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, short), FunctionName=fn)
    assert "visibility timeout" in str(e.value)
    with pytest.raises(botocore.exceptions.ParamValidationError):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, ScalingConfig={"MaximumConcurrency": 1})
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=100, MaximumBatchingWindowInSeconds=1,
                                        ScalingConfig={"MaximumConcurrency": 3}, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert m["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.update_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000", BatchSize=1)
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_partial_batch_failure(server, sqs, lam):
    fn = create(lam, {"app.py": PRINTER}, Timeout=1)
    dlq = new_queue(sqs)
    url = new_queue(sqs, VisibilityTimeout=2,
                    RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 2}))
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "ok-1"}, {"Id": "2", "MessageBody": "fail-2"}, {"Id": "3", "MessageBody": "ok-3"}])
    uuid = lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, url), FunctionName=fn, BatchSize=10,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    try:
        moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), timeout=20)
        assert [m["Body"] for m in moved] == ["fail-2"]
        wait_for(lambda: [r["body"] for e in events(server, fn) for r in e["Records"]].count("fail-2") == 2, timeout=5)
        bodies = [r["body"] for e in events(server, fn) for r in e["Records"]]
        assert bodies.count("ok-1") == 1 and bodies.count("ok-3") == 1, bodies
        assert bodies.count("fail-2") == 2, bodies
        assert drain(sqs, url) == []
    finally:
        lam.delete_event_source_mapping(UUID=uuid)


def test_filter_criteria(server, sqs, lam):
    fn = create(lam, {"app.py": PRINTER})
    url = new_queue(sqs)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, url), FunctionName=fn,
                                        FilterCriteria={"Filters": [{"Pattern": '{"body": "not a list"}'}]})
    assert "Invalid filter pattern definition" in str(e.value)
    filters = {"Filters": [
        {"Pattern": json.dumps({"body": {"kind": ["order"], "qty": [{"numeric": [">", 10]}]}})},
        {"Pattern": json.dumps({"body": [{"prefix": "urgent:"}]})},
        {"Pattern": json.dumps({"messageAttributes": {"team": {"stringValue": ["ops"]}}})},
    ]}
    uuid = lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, url), FunctionName=fn, BatchSize=10,
                                           FilterCriteria=filters)["UUID"]
    try:
        assert lam.get_event_source_mapping(UUID=uuid)["FilterCriteria"] == filters
        bodies = {
            json.dumps({"kind": "order", "qty": 12}): True,
            json.dumps({"kind": "order", "qty": 3}): False,
            json.dumps({"kind": "refund", "qty": 50}): False,
            "urgent: call back": True,
            "routine: file it": False,
        }
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        sqs.send_message(QueueUrl=url, MessageBody="plain",
                         MessageAttributes={"team": {"DataType": "String", "StringValue": "ops"}})
        want = sorted([b for b, ok in bodies.items() if ok] + ["plain"])
        wait_for(lambda: len([r for e in events(server, fn) for r in e["Records"]]) >= len(want), timeout=10)
        # Non-matching messages are deleted, not delivered and not left on the queue.
        assert wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                        ["ApproximateNumberOfMessagesNotVisible"] == "0")
        assert drain(sqs, url) == []
        assert sorted(r["body"] for e in events(server, fn) for r in e["Records"]) == want
    finally:
        lam.delete_event_source_mapping(UUID=uuid)


def test_failing_function_sends_messages_to_the_dlq(server, sqs, lam):
    fn = create(lam, {"app.py": PRINTER}, Timeout=1)
    dlq = new_queue(sqs)
    url = new_queue(sqs, VisibilityTimeout=1,
                    RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 2}))
    uuid = lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, url), FunctionName=fn, BatchSize=10)["UUID"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="crash please")
        sqs.send_message(QueueUrl=url, MessageBody="crash again")
        got = []
        deadline = time.time() + 20
        while len(got) < 2 and time.time() < deadline:
            got += sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
        assert sorted(m["Body"] for m in got) == ["crash again", "crash please"]
    finally:
        lam.delete_event_source_mapping(UUID=uuid)


def test_mapping_survives_restart(start_server, tmp_path):
    data = str(tmp_path / "esm")
    srv = start_server(data)
    sqs, lam = srv.client("sqs"), srv.client("lambda")
    fn = create(lam, {"app.py": PRINTER})
    url = sqs.create_queue(QueueName="esm-restart")["QueueUrl"]
    uuid = lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, url), FunctionName=fn)["UUID"]
    srv.stop()
    started = time.time()
    srv2 = start_server(data, port=srv.port)
    sqs, lam = srv2.client("sqs"), srv2.client("lambda")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    sqs.send_message(QueueUrl=url, MessageBody="after restart")
    assert wait_for(lambda: any(r["body"] == "after restart" for e in events(srv2, fn) for r in e["Records"]))
    # Neither pollers nor a client's long poll hold up a graceful stop.
    poll = threading.Thread(target=lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20), daemon=True)
    poll.start()
    time.sleep(0.3)
    t = time.time()
    srv2.stop()
    assert time.time() - t < 5
    assert time.time() - started < 15


# --- numbers (printed, not asserted) --------------------------------------------


def _churn(endpoint, url, seconds):
    """boto3: send a batch of 10, receive up to 10, delete them; repeat."""
    import boto3
    from botocore.config import Config
    c = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    done = 0
    entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
    started = time.time()
    while time.time() < started + seconds:
        c.send_message_batch(QueueUrl=url, Entries=entries)
        msgs = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if msgs:
            c.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        done += len(msgs)
    return done, time.time() - started


def _raw_churn(endpoint, url, seconds):
    """The same loop over plain keep-alive HTTP (json protocol), so the
    client's own CPU cost does not hide the server's."""
    import http.client
    host, port = endpoint.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def call(action, body):
        conn.request("POST", "/", json.dumps(body), {"X-Amz-Target": "AmazonSQS." + action,
                                                     "Content-Type": "application/x-amz-json-1.0"})
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data
        return json.loads(data)

    entries = [{"Id": str(i), "MessageBody": "x" * 100} for i in range(10)]
    done = 0
    started = time.time()
    while time.time() < started + seconds:
        call("SendMessageBatch", {"QueueUrl": url, "Entries": entries})
        msgs = call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10}).get("Messages", [])
        if msgs:
            call("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]})
        done += len(msgs)
    return done, time.time() - started


def test_report_throughput_and_delivery_latency(server, sqs, lam):
    procs, seconds = 4, 4
    for label, worker in (("plain HTTP", _raw_churn), ("boto3", _churn)):
        url = new_queue(sqs)
        with concurrent.futures.ProcessPoolExecutor(procs) as pool:
            results = list(pool.map(worker, [server.endpoint] * procs, [url] * procs, [seconds] * procs))
        total = sum(n for n, _ in results)
        elapsed = max(t for _, t in results)
        print(f"\nSQS send+receive+delete ({label}, {procs} client processes, batches of 10): "
              f"{total} messages in {elapsed:.1f}s = {total / elapsed:.0f} msg/s")

    fn = create(lam, {"app.py": PRINTER})
    lat_url = new_queue(sqs)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn_of(sqs, lat_url), FunctionName=fn, BatchSize=1)["UUID"]
    try:
        sqs.send_message(QueueUrl=lat_url, MessageBody="warm up")
        wait_for(lambda: events(server, fn))
        for _ in range(40):
            sqs.send_message(QueueUrl=lat_url, MessageBody=f"ts:{time.time():.6f}")
            time.sleep(0.05)

        def latencies():
            out = []
            for line in logs(server, fn):
                for part in line.splitlines():
                    if part.startswith("LATENCY "):
                        out.append(float(part.split()[1]) * 1000)
            return out if len(out) >= 40 else None

        lat = wait_for(latencies, timeout=20)
        assert lat
        lat.sort()
        print(f"queue -> function delivery latency: p50 {statistics.median(lat):.2f} ms, "
              f"p90 {lat[int(len(lat) * 0.9)]:.2f} ms, max {lat[-1]:.2f} ms ({len(lat)} messages, warm function)")
    finally:
        lam.delete_event_source_mapping(UUID=uuid)
