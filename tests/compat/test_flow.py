"""The seeds' event-driven flow end to end, every hop a Lamina service:

an image lands in a bucket (boto3 PutObject) → the bucket's notification
invokes a function with S3's event → the function reads the object and
writes a result object (S3 over HTTP, as any SDK inside a function would,
through AWS_ENDPOINT_URL) → it publishes a message to a topic (SNS) → the
topic fans out to a queue (SQS) → the test receives it.

The function uses only the standard library: signed-looking requests
(SigV4 credential scope, which is how Lamina tells services apart; there is
no authentication yet) to the endpoint Lamina gives it.
"""

import hashlib
import json
import time
import uuid

from conftest import create

PROCESSOR = r'''
import hashlib, json, os, urllib.parse, urllib.request

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]

def auth(service):
    return ("AWS4-HMAC-SHA256 Credential=lamina/20260101/us-east-1/%s/aws4_request, "
            "SignedHeaders=host, Signature=%s" % (service, "0" * 64))

def s3(method, bucket, key, body=None, content_type=None):
    url = "%s/%s/%s" % (ENDPOINT, bucket, urllib.parse.quote(key))
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", auth("s3"))
    req.add_header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()

def publish(topic_arn, message, subject):
    form = urllib.parse.urlencode({"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic_arn,
                                   "Message": message, "Subject": subject}).encode()
    req = urllib.request.Request(ENDPOINT + "/", data=form, method="POST")
    req.add_header("Authorization", auth("sns"))
    req.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()

def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        data = s3("GET", bucket, key)
        result = {"source": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                  "event": record["eventName"], "requestId": context.aws_request_id}
        out_key = "out/" + key.split("/", 1)[1] + ".json"
        s3("PUT", bucket, out_key, json.dumps(result).encode(), "application/json")
        publish(os.environ["TOPIC_ARN"], json.dumps({"bucket": bucket, "result": out_key, **result}),
                "processed " + key)
    return {"processed": len(event["Records"])}
'''


def test_image_to_bucket_to_function_to_topic_to_queue(server):
    s3, sns, sqs, lam = (server.client(s) for s in ("s3", "sns", "sqs", "lambda"))
    suffix = uuid.uuid4().hex[:10]
    bucket = f"images-{suffix}"
    s3.create_bucket(Bucket=bucket)
    topic_arn = sns.create_topic(Name=f"processed-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"results-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    fn = create(lam, {"app.py": PROCESSOR}, Timeout=30, Environment={"Variables": {"TOPIC_ARN": topic_arn}})
    fn_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    # Only uploads under in/ trigger the function, so its own results do not.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "process-images", "LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
        }]})

    image = bytes(range(256)) * 400  # 100 KiB of "image"
    started = time.time()
    s3.put_object(Bucket=bucket, Key="in/cat.png", Body=image, ContentType="image/png")

    messages = []
    deadline = time.time() + 30
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])
    assert messages, server.log()
    elapsed = time.time() - started
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == "processed in/cat.png"
    note = json.loads(envelope["Message"])
    digest = hashlib.sha256(image).hexdigest()
    assert note["bucket"] == bucket and note["source"] == "in/cat.png" and note["result"] == "out/cat.png.json"
    assert note["size"] == len(image) and note["sha256"] == digest
    assert note["event"] == "ObjectCreated:Put"

    result = json.loads(s3.get_object(Bucket=bucket, Key="out/cat.png.json")["Body"].read())
    assert result == {k: note[k] for k in ("source", "size", "sha256", "event", "requestId")}
    # The result object did not trigger the function again (prefix filter):
    # exactly one message reached the queue.
    time.sleep(1)
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []) == []
    print(f"\nflow: image in bucket → function → result object + topic → queue in {elapsed * 1000:.0f} ms")
