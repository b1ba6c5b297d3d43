"""The SQS event source against moto: deletes, redelivery, dead-letter queue."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tasklane_local.aws import LocalAws
from tasklane_local.lambda_runtime import LocalFunction, load_handler, unload_handler
from tasklane_local.template import load_template
from tasklane_local.worker import SqsEventSource

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws(load_template(FIXTURES / "stack.yaml"), {"Secret": "s"}) as aws:
        yield aws


@pytest.fixture
def source(aws: LocalAws) -> Iterator[SqsEventSource]:
    function = aws.template.functions["WorkerFunction"]
    local = LocalFunction(function, load_handler(function))
    source = SqsEventSource(local, function.sqs_events[0], aws.resources.queues["JobsQueue"], aws.region, aws.endpoint)
    yield source
    source.stop()
    unload_handler(function)


def seen() -> list[dict]:
    return sys.modules["tasklane_fn_WorkerFunction"].SEEN


def send(aws: LocalAws, *bodies: str, queue: str = "JobsQueue") -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(
            QueueUrl=aws.resources.queues[queue].url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )


def bodies(queue_url: str) -> list[str]:
    messages = (
        boto3.client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        .get("Messages", [])
    )
    return [m["Body"] for m in messages]


def test_records_have_the_sqs_event_shape(aws, source):
    send(aws, "hello")

    assert source.run_once() == 1

    (record,) = seen()
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == aws.resources.queues["JobsQueue"].arn
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"] and record["receiptHandle"] and len(record["md5OfBody"]) == 32
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    for name in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
        assert name in record["attributes"]
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_only_failed_records_return_then_go_to_the_dead_letter_queue(aws, source, wait_for):
    send(aws, "ok-1", "fail", "ok-2")

    # One batch of at most BatchSize (5): all three arrive together
    assert source.run_once() == 3

    # The failed record comes back once its 1 s visibility timeout ends; the others do not
    wait_for(
        lambda: source.run_once() and [r for r in seen() if r["body"] == "fail"][1:],
        what="redelivery",
    )
    redelivered = [r for r in seen() if r["body"] == "fail"]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in redelivered] == ["1", "2"]
    assert sorted(r["body"] for r in seen()) == ["fail", "fail", "ok-1", "ok-2"]

    # After maxReceiveCount (2) receives, the next receive moves it to the dead-letter queue
    dlq = aws.resources.queues["JobsDlq"].url

    def dead_letters() -> list[str]:
        source.run_once()
        return bodies(dlq)

    assert wait_for(dead_letters, what="the dead-letter queue") == ["fail"]
    assert len(seen()) == 4


def test_a_raising_handler_deletes_nothing(aws, source, wait_for):
    send(aws, "ok", "raise")

    assert source.run_once() == 2

    wait_for(lambda: source.run_once() and len(seen()) >= 4, what="the whole batch again")
    assert sorted(r["body"] for r in seen()) == ["ok", "ok", "raise", "raise"]


def test_thread_drains_the_queue_and_stops_promptly(aws, source, wait_for):
    url = aws.resources.queues["JobsQueue"].url
    source.start()
    send(aws, "a", "b")

    wait_for(lambda: len(seen()) == 2, what="the worker thread")
    attributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    wait_for(
        lambda: all(
            v == "0"
            for v in boto3.client("sqs")
            .get_queue_attributes(QueueUrl=url, AttributeNames=attributes)["Attributes"]
            .values()
        ),
        what="deletes",
    )

    started = time.monotonic()
    source.stop()
    assert time.monotonic() - started < 3
