"""GenericTasks on the local stack: 1,000 CreateTask calls, then listing them page by page.

Prints, in one run:
- the DynamoDB calls of one CreateTask and of one listing page, by operation (a botocore hook on the
  handlers' own clients);
- the wall time of 1,000 creates over HTTP, next to a plain boto3 script making the same two calls
  per task (the counter's UpdateItem, the conditional PutItem) against the same moto server;
- the wall time of listing the 1,000 page by page ($top=100), next to the same Queries in plain boto3.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "layers"), str(ROOT / "local")]

from batch import CallCounter, show_calls  # noqa: E402
from tasklane.storage.clients import aws_client  # noqa: E402
from tasklane_local.devkeys import issue_token  # noqa: E402
from tasklane_local.stack import LocalStack  # noqa: E402

TASKS = 1000
PAGE = 100
TASK = {"type": "ExternalTask", "externalTag": "JIRA", "title": "Close Ticket", "priority": "High", "data": {"ticket": 1}}


def floor_creates(table: str, sample: dict[str, Any]) -> float:
    """The same two calls per task, putting items shaped like `sample` (one the API stored)."""
    ddb = aws_client("dynamodb")
    start = time.perf_counter()
    for _ in range(TASKS):
        answer = ddb.update_item(
            TableName=table, Key={"pk": {"S": "TENANT#floor#COUNTER"}, "sk": {"S": "task"}},
            UpdateExpression="SET #l = if_not_exists(#l, :z) + :one", ExpressionAttributeNames={"#l": "last"},
            ExpressionAttributeValues={":z": {"N": "0"}, ":one": {"N": "1"}}, ReturnValues="UPDATED_NEW",
        )
        task_id = int(answer["Attributes"]["last"]["N"])
        item = {
            **sample,
            "pk": {"S": f"TENANT#floor#GTASK#{task_id}"},
            "listPk": {"S": "TENANT#floor#FOLDER#1#GTASKS"},
            "listSk": {"S": f"{task_id:012d}"},
            "lookupKey": {"S": f"TENANT#floor#GTASKKEY#{uuid.uuid4()}"},
            "taskId": {"N": str(task_id)},
        }
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    return time.perf_counter() - start


def floor_listing(table: str, list_pk: str) -> float:
    """The same Queries the listing made, on the same partition."""
    ddb = aws_client("dynamodb")
    start = time.perf_counter()
    for skip in range(0, TASKS, PAGE):
        ddb.query(
            TableName=table, IndexName="ListIndex", KeyConditionExpression="listPk = :pk",
            ExpressionAttributeValues={":pk": {"S": list_pk}}, Limit=skip + PAGE,
        )
    return time.perf_counter() - start


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="tasklane-bench-"))
    with LocalStack(ROOT / "template.yaml", port=0, state_dir=state, start_worker=False) as stack:
        table = stack.environment["TABLE_NAME"]
        session = requests.Session()
        session.headers.update(
            {"Authorization": f"Bearer {issue_token('bench', ['OR.Tasks'], state)}", "Content-Type": "application/json"}
        )
        counter = CallCounter()
        body = json.dumps(TASK)
        assert session.post(f"{stack.url}/tasks/GenericTasks/CreateTask", data=body).status_code == 201
        counter.take()
        session.post(f"{stack.url}/tasks/GenericTasks/CreateTask", data=body)
        show_calls("one CreateTask", counter.take())
        start = time.perf_counter()
        for _ in range(TASKS - 2):
            assert session.post(f"{stack.url}/tasks/GenericTasks/CreateTask", data=body).status_code == 201
        creates = time.perf_counter() - start
        counter.take()
        session.get(f"{stack.url}/odata/Tasks", params={"$top": PAGE, "$skip": 900})
        show_calls("one listing page ($top=100, $skip=900)", counter.take())
        start = time.perf_counter()
        seen = 0
        for skip in range(0, TASKS, PAGE):
            page = session.get(f"{stack.url}/odata/Tasks", params={"$top": PAGE, "$skip": skip}).json()
            seen += len(page["value"])
        listing = time.perf_counter() - start
        assert seen == TASKS, seen
        listing_calls = counter.take()
        sample = aws_client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "TENANT#bench#GTASK#1"}, "sk": {"S": "GTASK"}}
        )["Item"]
        floor_list = floor_listing(table, sample["listPk"]["S"])
        floor_create = floor_creates(table, sample) * (TASKS - 2) / TASKS
    print(f"{TASKS - 2} creates over HTTP: {creates:.2f} s ({(TASKS - 2) / creates:.0f}/s); "
          f"plain boto3, same 2 calls each: {floor_create:.2f} s; ratio {creates / floor_create:.2f}x")
    print(f"listing {TASKS} in pages of {PAGE}: {listing:.2f} s, {sum(listing_calls.values())} DynamoDB calls; "
          f"plain boto3 Queries: {floor_list:.2f} s; ratio {listing / floor_list:.2f}x")


if __name__ == "__main__":
    main()
