"""TransactWriteItems on the local stack's moto: single-item writes when they land, moto's own answer when not."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from tasklane_local.aws import SerializedDynamoDB


class Recorder:
    """The moto app, noting each DynamoDB operation it is asked to run."""

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self.operations: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):
            self.operations.append(target.rpartition(".")[2])
        return self._app(environ, start_response)


@dataclass
class Moto:
    client: Any
    table: str
    recorder: Recorder

    def put(self, pk: str, **attributes: Any) -> None:
        self.client.put_item(
            TableName=self.table, Item={"pk": {"S": pk}, **{k: {"N": str(v)} for k, v in attributes.items()}}
        )

    def item(self, pk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True
        ).get("Item")
        return item

    def transact(self, *entries: dict[str, Any]) -> list[str]:
        """Run a transaction; the operations moto ran for it."""
        self.recorder.operations.clear()
        self.client.transact_write_items(TransactItems=list(entries))
        return list(self.recorder.operations)


@pytest.fixture
def moto() -> Iterator[Moto]:
    recorder = Recorder()
    server = make_server("127.0.0.1", 0, SerializedDynamoDB(recorder), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # moto's state is process-wide: a table of this test's own, dropped after.
    table = f"txn-{uuid.uuid4().hex}"
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        yield Moto(client, table, recorder)
    finally:
        client.delete_table(TableName=table)
        server.shutdown()
        server.server_close()
        thread.join(10)


def update(table: str, pk: str, expression: str, condition: str | None = None, **values: int) -> dict[str, Any]:
    action: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": pk}},
        "UpdateExpression": expression,
        "ExpressionAttributeValues": {f":{k}": {"N": str(v)} for k, v in values.items()},
    }
    if condition:
        action["ConditionExpression"] = condition
    return {"Update": action}


def cancellation(error: pytest.ExceptionInfo[ClientError]) -> list[str]:
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"
    return [reason["Code"] for reason in error.value.response["CancellationReasons"]]


def test_a_transaction_that_lands_is_single_item_writes_not_a_table_copy(moto):
    # The worker's shape: the chunk's state under its condition, then the batch's counters.
    moto.put("chunk", state=1)
    moto.put("batch", succeeded=5)

    chunk = update(moto.table, "chunk", "SET #s = :done", "#s = :running", done=2, running=1)
    chunk["Update"]["ExpressionAttributeNames"] = {"#s": "state"}

    operations = moto.transact(chunk, update(moto.table, "batch", "ADD succeeded :n", n=10))

    assert moto.item("chunk") == {"pk": {"S": "chunk"}, "state": {"N": "2"}}
    assert moto.item("batch") == {"pk": {"S": "batch"}, "succeeded": {"N": "15"}}
    # moto's TransactWriteItems deep-copies the whole table per item: it never ran.
    assert operations == ["GetItem", "UpdateItem", "GetItem", "UpdateItem"]


def test_a_refused_condition_undoes_the_writes_made_and_moto_gives_the_reasons(moto):
    moto.put("a", n=1)
    moto.put("b", n=1)

    with pytest.raises(ClientError) as error:
        moto.transact(
            update(moto.table, "a", "SET n = :two", two=2),
            update(moto.table, "b", "SET n = :two", "n = :zero", two=2, zero=0),
        )

    # AWS: all or nothing, with one reason per action.
    assert cancellation(error) == ["None", "ConditionalCheckFailed"]
    assert moto.item("a") == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert moto.item("b") == {"pk": {"S": "b"}, "n": {"N": "1"}}


def test_a_refused_transaction_removes_items_it_created(moto):
    with pytest.raises(ClientError) as error:
        moto.transact(
            update(moto.table, "new", "SET n = :one", one=1),
            {"ConditionCheck": {"TableName": moto.table, "Key": {"pk": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        )

    assert cancellation(error) == ["None", "ConditionalCheckFailed"]
    assert moto.item("new") is None


def test_condition_checks_leave_their_items_alone(moto):
    moto.put("guard", n=7)

    moto.transact(
        {"ConditionCheck": {"TableName": moto.table, "Key": {"pk": {"S": "guard"}},
                            "ConditionExpression": "n = :seven", "ExpressionAttributeValues": {":seven": {"N": "7"}}}},
        {"ConditionCheck": {"TableName": moto.table, "Key": {"pk": {"S": "absent"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": moto.table, "Item": {"pk": {"S": "put"}, "n": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": moto.table, "Key": {"pk": {"S": "put-me-not"}}}},
    )

    assert moto.item("guard") == {"pk": {"S": "guard"}, "n": {"N": "7"}}
    assert moto.item("absent") is None
    assert moto.item("put") == {"pk": {"S": "put"}, "n": {"N": "1"}}


def test_reasons_carry_the_old_item_when_asked(moto):
    moto.put("a", n=1)
    action = update(moto.table, "a", "SET n = :two", "n = :zero", two=2, zero=0)
    action["Update"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"

    with pytest.raises(ClientError) as error:
        moto.transact(action)

    [reason] = error.value.response["CancellationReasons"]
    assert reason["Code"] == "ConditionalCheckFailed"
    assert reason["Item"] == {"pk": {"S": "a"}, "n": {"N": "1"}}


@pytest.mark.parametrize(
    "entries",
    [
        # AWS: one transaction may not name an item twice...
        lambda t: [update(t, "a", "SET n = :one", one=1), update(t, "a", "SET m = :one", one=1)],
        # ...nor an empty key (moto's UpdateItem alone would take it).
        lambda t: [update(t, "", "SET n = :one", one=1)],
    ],
    ids=["same item twice", "empty key"],
)
def test_invalid_transactions_get_moto_s_validation_error_and_write_nothing(moto, entries):
    with pytest.raises(ClientError) as error:
        moto.transact(*entries(moto.table))

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert moto.item("a") is None
