"""DeadLetterConfig: a failed asynchronous event lands in an SQS queue."""

import datetime
import json
import time

from conftest import create, unique, wait_for

FAIL = "def handler(event, context):\n    raise ValueError('always')\n"


def test_failed_event_reaches_the_dead_letter_queue(server, lam):
    sqs = server.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create(lam, {"app.py": FAIL}, DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"]["TargetArn"] == arn
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    sent = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"order": 7}))
    request_id = sent["ResponseMetadata"]["RequestId"]
    deadline = time.time() + 15
    messages = []
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2,
                                       MessageAttributeNames=["All"]).get("Messages", [])
    assert messages, "no message in the dead-letter queue"
    m = messages[0]
    assert json.loads(m["Body"]) == {"order": 7}
    assert m["MessageAttributes"]["RequestID"]["StringValue"] == request_id
    assert m["MessageAttributes"]["ErrorCode"]["StringValue"] == "Unhandled"


def test_async_delivery_shows_in_cloudwatch(server, lam):
    """AWS/Lambda AsyncEventAge has a sample for each delivery attempt, and
    DeadLetterErrors counts a failed event its dead-letter queue could not
    take (the queue was deleted)."""
    sqs = server.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("gone"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create(lam, {"app.py": FAIL}, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    sqs.delete_queue(QueueUrl=queue_url)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    cw = server.client("cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc)

    def total(metric, statistic):
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=5),
            Period=60, Statistics=[statistic])["Datapoints"]
        return sum(p[statistic] for p in points)

    assert wait_for(lambda: total("DeadLetterErrors", "Sum") == 1), "no DeadLetterErrors datapoint"
    assert total("AsyncEventAge", "SampleCount") == 1
    assert 0 <= total("AsyncEventAge", "Maximum") < 15_000
