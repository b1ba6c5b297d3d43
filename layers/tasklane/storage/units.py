"""Run units in DynamoDB: what the two unit stores share, and the one place that picks a unit's store.

A run unit (a single document task, or a chunk of up to ten tasks of a batch) moves Queued ->
Running -> Completed with one conditional write each way: claimed for a run with a lease, finished
only while that run still owns it, so a redelivered message for a finished unit does nothing and a
unit whose run died is claimed again once its lease has run out. Per-task writes would triple the
calls for a batch; per-chunk ones keep the worker near one AWS call per task (the result's S3 put).

Keys (one table, every key scoped by tenant):
  single task     pk TENANT#<t>#TASK#<id>     sk TASK
  batch           pk TENANT#<t>#BATCH#<id>    sk BATCH
  batch chunk     pk TENANT#<t>#BATCH#<id>    sk CHUNK#<nnnn>   (one per message; written by the worker)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Protocol

from botocore.exceptions import ClientError

from tasklane.domain.records import Claim, LogLine, RunUnit, StoredResult, TaskOutcome, UnitState


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": s(pk), "sk": s(sk)}


def updated(update: Callable[..., Any], **request: Any) -> bool:
    """Run a conditional write: True if it landed, False if its condition did not hold."""
    try:
        update(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def claimed(client: Any, request: dict[str, Any]) -> Claim | None:
    """Run a claim (`claim_request`): None if its condition did not hold (the unit is finished, or a
    live run holds it); else the claim, which knows from the state it replaced whether it took over."""
    try:
        answer = client.update_item(**request, ReturnValues="ALL_OLD")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    replaced = answer.get("Attributes", {}).get("state", {}).get("S")
    return Claim(taken_over=replaced == UnitState.RUNNING)


def expired(item: dict[str, Any], now_epoch: int) -> bool:
    # AWS: TTL deletion lags by up to days (and moto never deletes), so reads enforce expiry.
    return "expiresAt" in item and int(item["expiresAt"]["N"]) <= now_epoch


def read(client: Any, table: str, item_key: dict[str, Any], now_epoch: int | None = None) -> dict[str, Any] | None:
    """One item, read consistently (a GET right after a write must see it); with `now_epoch`,
    an expired item reads as absent."""
    item: dict[str, Any] | None = client.get_item(TableName=table, Key=item_key, ConsistentRead=True).get("Item")
    if item is None or (now_epoch is not None and expired(item, now_epoch)):
        return None
    return item


def outcome_to_json(outcome: TaskOutcome) -> dict[str, Any]:
    return asdict(outcome)


def outcome_from_json(data: dict[str, Any]) -> TaskOutcome:
    return TaskOutcome(
        task_id=data["task_id"],
        ok=data["ok"],
        status_message=data["status_message"],
        logs=[LogLine(**line) for line in data["logs"]],
        results=[StoredResult(**r) for r in data["results"]],
        start=data["start"],
        end=data["end"],
    )


def claim_request(
    table: str,
    item_key: dict[str, Any],
    fresh: str,
    task_ids: Sequence[str],
    run_id: str,
    started: str,
    now_epoch: int,
    lease_until: int,
    expires_at: int,
    extra_values: dict[str, Any],
) -> dict[str, Any]:
    """The claim of either kind of unit: `fresh` says what a never-started unit looks like."""
    return {
        "TableName": table,
        "Key": item_key,
        "UpdateExpression": (
            "SET #state = :running, statusMessage = :running, startDateTime = :started, runId = :run,"
            " leaseUntil = :lease, taskIds = :tasks, expiresAt = if_not_exists(expiresAt, :expires)"
        ),
        "ConditionExpression": f"{fresh} OR (#state = :running AND leaseUntil < :now)",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": {
            **extra_values,
            ":running": s(UnitState.RUNNING),
            ":started": s(started),
            ":run": s(run_id),
            ":lease": n(lease_until),
            ":tasks": s(json.dumps(list(task_ids))),
            ":expires": n(expires_at),
            ":now": n(now_epoch),
        },
    }


OWNED_BY_RUN = "runId = :run AND #state = :running"


class UnitStore(Protocol):
    """The unit transitions the worker relies on, for one kind of unit."""

    def claim(
        self, unit: RunUnit, run_id: str, started: str, now_epoch: int, lease_until: int, expires_at: int
    ) -> Claim | None: ...

    def finish(self, unit: RunUnit, outcomes: Sequence[TaskOutcome], run_id: str, finished: str) -> bool: ...

    def give_up(self, unit: RunUnit, outcomes: Sequence[TaskOutcome], finished: str) -> bool: ...
