"""Resources from the template in a real moto server on a free port."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from tasklane_local.aws import LocalAws, SerializedDynamoDB
from tasklane_local.template import load_template

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws(load_template(FIXTURES / "stack.yaml"), {"Secret": "s"}) as aws:
        yield aws


def test_server_listens_on_loopback_and_the_process_uses_it(aws):
    assert urlsplit(aws.endpoint).hostname == "127.0.0.1"
    assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    # a client built the plain way, as handlers build theirs, reaches moto
    assert "tasklane-itemstable" in boto3.client("dynamodb").list_tables()["TableNames"]


def test_table_has_the_template_keys_index_and_ttl(aws):
    dynamodb = boto3.client("dynamodb")
    template = aws.template.tables["ItemsTable"]

    table = dynamodb.describe_table(TableName=aws.resources.tables["ItemsTable"])["Table"]

    assert table["KeySchema"] == template.key_schema
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(template.attribute_definitions, key=str)
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["byStatus"]
    ttl = dynamodb.describe_time_to_live(TableName="tasklane-itemstable")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_queue_redrives_to_its_dead_letter_queue(aws):
    queues = aws.resources.queues
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queues["JobsQueue"].url, AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["VisibilityTimeout"] == "1"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": queues["JobsDlq"].arn,
        "maxReceiveCount": 2,
    }
    assert queues["JobsDlq"].name == "tasklane-jobsdlq"


def test_bucket_lifecycle_in_the_s3_api_shape(aws):
    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket="tasklane-filesbucket")["Rules"]

    assert rules == [
        {
            "ID": "ExpireTmp",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Days": 1},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
        }
    ]


def test_environment_resolves_against_the_created_resources(aws):
    environment = aws.resolver.resolve_environment(aws.template.functions["ConfigFunction"].environment)

    assert environment["TABLE_NAME"] == "tasklane-itemstable"
    assert environment["QUEUE_URL"] == aws.resources.queues["JobsQueue"].url
    assert environment["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:tasklane-jobsqueue"
    assert environment["GREETING"] == "hello from us-east-1, queue tasklane-jobsqueue"
    assert aws.resources.physical_ids()["FilesBucket"] == "tasklane-filesbucket"


def test_reset_empties_everything_and_keeps_names(aws):
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName="tasklane-itemstable", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    before = aws.resources

    after = aws.reset()

    assert after == before
    assert dynamodb.scan(TableName="tasklane-itemstable")["Count"] == 0
    assert (
        dynamodb.describe_time_to_live(TableName="tasklane-itemstable")["TimeToLiveDescription"]["TimeToLiveStatus"]
        == "ENABLED"
    )


def test_close_restores_the_process_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    before = dict(os.environ)
    aws = LocalAws(load_template(FIXTURES / "stack.yaml"), {"Secret": "s"}).start()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "mine"  # only set when unset
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"

    aws.close()

    assert dict(os.environ) == before


def test_dynamodb_requests_take_turns_while_other_services_do_not():
    entered = {name: threading.Event() for name in ("query", "update", "sqs")}
    release = threading.Event()

    def moto(environ, start_response):
        entered[environ["name"]].set()
        assert release.wait(10)
        start_response("200 OK", [])
        return [b"{}"]

    app = SerializedDynamoDB(moto)

    def call(name: str, target: str) -> None:
        assert list(app({"name": name, "HTTP_X_AMZ_TARGET": target}, lambda *_: None)) == [b"{}"]

    threads = [
        threading.Thread(target=call, args=("query", "DynamoDB_20120810.Query")),
        threading.Thread(target=call, args=("update", "DynamoDB_20120810.UpdateItem")),
        threading.Thread(target=call, args=("sqs", "AmazonSQS.ReceiveMessage")),
    ]
    threads[0].start()
    assert entered["query"].wait(10)
    threads[1].start()
    threads[2].start()

    assert entered["sqs"].wait(10)  # a long poll never waits for DynamoDB
    # AWS: DynamoDB operations are atomic: the update waits until the query is done
    assert not entered["update"].wait(0.3)
    release.set()
    assert entered["update"].wait(10)
    for thread in threads:
        thread.join(10)


def tracked_instances() -> int:
    from moto.core.model_instances import model_data

    return sum(len(model.instances_tracked) for models in model_data.values() for model in models.values())


def test_moto_keeps_no_copy_of_what_requests_read(aws):
    # moto tracks every model object it creates, copies included, until a reset: a Query's
    # copies of the items it read, a receive's copies of the messages, each S3 key.
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    table, queue = aws.resources.tables["ItemsTable"], aws.resources.queues["JobsQueue"].url
    for sk in range(20):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": f"{sk:02d}"}})

    for _ in range(30):
        assert dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
        )["Count"] == 20
        sqs.send_message(QueueUrl=queue, MessageBody="x")
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=0)

    # 600 item copies and 30 message copies without the bound; what the stack holds stays put.
    assert tracked_instances() < 50
    assert dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )["Count"] == 20
