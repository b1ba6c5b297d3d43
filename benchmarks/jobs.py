"""basicSync of a big job on the local stack: 10 new steps into a job that already holds 1,000.

Prints the AWS calls of that sync, by operation (a botocore hook on the handlers' own clients), and
its wall time over HTTP next to a plain boto3 script making the same calls against the same moto
server. The device sends the whole job each time, as offline apps do; the calls follow what changed.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "layers"), str(ROOT / "local")]

from batch import CallCounter, show_calls  # noqa: E402
from tasklane.storage.clients import aws_client  # noqa: E402
from tasklane_local.devkeys import issue_token  # noqa: E402
from tasklane_local.stack import LocalStack  # noqa: E402
from tests.integration.test_jobs_api import SEED, step  # noqa: E402

STEPS = 1000
NEW = 10
ROUNDS = 3


def floor(table: str, pk: str, steps: list[dict[str, object]]) -> float:
    """The same calls as the sync: read the header, put the new steps, write the header, read the job."""
    ddb = aws_client("dynamodb")
    start = time.perf_counter()
    header = ddb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "JOB"}}, ConsistentRead=True)["Item"]
    for index, new in enumerate(steps):
        ddb.put_item(
            TableName=table,
            Item={"pk": {"S": pk}, "sk": {"S": f"FLOOR#{index}"}, "updated": {"N": "1"}, "step": {"S": json.dumps(new)}},
        )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**header, "sk": {"S": "FLOOR"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, "sk": {"S": "FLOOR2"}}}},
        ]
    )
    request = {"TableName": table, "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
               "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": "STEP#"}}, "ConsistentRead": True}
    while True:
        answer = ddb.query(**request)
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return time.perf_counter() - start


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="tasklane-bench-"))
    with LocalStack(ROOT / "template.yaml", port=0, state_dir=state, start_worker=False) as stack:
        table = stack.environment["TABLE_NAME"]
        session = requests.Session()
        session.headers.update(
            {"Authorization": f"Bearer {issue_token('bench', ['workflow.execute'], state)}", "Content-Type": "application/json"}
        )
        job = copy.deepcopy(SEED)
        job["metadata"]["status"] = "InProgress"
        job["completedSteps"] = [
            step(f"s{i:04d}", i, "2021-10-01T12:00:00Z", note="n" * 500, values=[{"value": i}]) for i in range(STEPS)
        ]
        start = time.perf_counter()
        assert session.post(f"{stack.url}/jobs/v1/basicSync", data=json.dumps(job)).status_code == 201
        created = time.perf_counter() - start
        counter = CallCounter()
        timings, floors = [], []
        for round_ in range(ROUNDS):
            new = [step(f"r{round_}-{i}", STEPS + i, f"2021-10-01T13:0{round_}:00Z") for i in range(NEW)]
            job["completedSteps"] = job["completedSteps"] + new
            job["metadata"]["updated"] = f"2021-10-01T13:0{round_}:00Z"
            counter.take()
            start = time.perf_counter()
            answer = session.post(f"{stack.url}/jobs/v1/basicSync", data=json.dumps(job))
            timings.append(time.perf_counter() - start)
            assert answer.status_code == 200 and len(answer.json()["completedSteps"]) == len(job["completedSteps"])
            calls = counter.take()
            floors.append(floor(table, f"TENANT#bench#JOB#{job['metadata']['clientJobId']}", new))
        body_kb = len(json.dumps(job)) / 1024
    show_calls(f"syncing {NEW} new steps into a {STEPS}-step job (the device sends all {len(job['completedSteps'])})", calls)
    best, best_floor = min(timings), min(floors)
    print(f"creating the {STEPS}-step job ({body_kb:.0f} KB): {created:.2f} s")
    print(f"the sync over HTTP: {best:.2f} s (best of {ROUNDS}); plain boto3, same calls: {best_floor:.2f} s; "
          f"ratio {best / best_floor:.2f}x")


if __name__ == "__main__":
    main()
