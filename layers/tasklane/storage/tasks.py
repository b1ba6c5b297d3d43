"""DynamoDB items of tasks and batches, and the conditional state transitions the worker relies on.

Keys (one table, every key scoped by tenant):
  single task     pk TENANT#<t>#TASK#<id>     sk TASK
  batch           pk TENANT#<t>#BATCH#<id>    sk BATCH
  batch chunk     pk TENANT#<t>#BATCH#<id>    sk CHUNK#<nnnn>   (one per message; written by the worker)

A run unit (a single task, or a chunk of up to ten batch tasks) moves Queued -> Running -> Completed
with one conditional write each way. Per-task writes would triple the calls for a batch; per-chunk
ones keep the worker near one AWS call per task (the result's S3 put).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from tasklane.domain.records import (
    STATUS_TTL_SECONDS,
    BatchRecord,
    BatchState,
    ChunkRow,
    LogLine,
    StoredResult,
    TaskOutcome,
    DocumentTaskRecord,
    UnitState,
)

_TXN_ATTEMPTS = 5


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


def batch_pk(tenant: str, batch_id: str) -> str:
    return f"TENANT#{tenant}#BATCH#{batch_id}"


def unit_key(tenant: str, batch_id: str | None, task_or_chunk: str | int) -> dict[str, Any]:
    """A single task's item, or a batch chunk's."""
    if batch_id is None:
        return _key(f"TENANT#{tenant}#TASK#{task_or_chunk}", "TASK")
    return _key(batch_pk(tenant, batch_id), f"CHUNK#{int(task_or_chunk):04d}")


def _updated(update: Callable[..., Any], **request: Any) -> bool:
    """Run a conditional write: True if it landed, False if its condition did not hold."""
    try:
        update(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _expired(item: dict[str, Any], now_epoch: int) -> bool:
    # AWS: TTL deletion lags by up to days (and moto never deletes), so reads enforce expiry.
    return "expiresAt" in item and int(item["expiresAt"]["N"]) <= now_epoch


def _outcome_to_json(outcome: TaskOutcome) -> dict[str, Any]:
    return asdict(outcome)


def _outcome_from_json(data: dict[str, Any]) -> TaskOutcome:
    return TaskOutcome(
        task_id=data["task_id"],
        ok=data["ok"],
        status_message=data["status_message"],
        logs=[LogLine(**line) for line in data["logs"]],
        results=[StoredResult(**r) for r in data["results"]],
        start=data["start"],
        end=data["end"],
    )


def _chunk_from_item(item: dict[str, Any]) -> ChunkRow:
    outcomes = {k: _outcome_from_json(v) for k, v in json.loads(item.get("outcomes", {}).get("S", "{}")).items()}
    return ChunkRow(
        index=int(item["sk"]["S"].split("#", 1)[1]),
        state=UnitState(item["state"]["S"]),
        task_ids=json.loads(item["taskIds"]["S"]),
        outcomes=outcomes,
        start=item.get("startDateTime", {}).get("S"),
    )


class TaskStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def put_queued_task(self, tenant: str, task_id: str, created: str, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **unit_key(tenant, None, task_id),
                "taskId": _s(task_id),
                "state": _s(UnitState.QUEUED),
                "statusMessage": _s("Queued"),
                "createdDateTime": _s(created),
                "expiresAt": _n(expires_at),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def delete_task(self, tenant: str, task_id: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key=unit_key(tenant, None, task_id))

    def get_task(self, tenant: str, task_id: str, now_epoch: int) -> DocumentTaskRecord | None:
        # Consistent: a GET right after the 202 must see the task.
        item = self._ddb.get_item(
            TableName=self._table, Key=unit_key(tenant, None, task_id), ConsistentRead=True
        ).get("Item")
        if item is None or _expired(item, now_epoch):
            return None
        return DocumentTaskRecord(
            tenant=tenant,
            task_id=task_id,
            batch_id=None,
            state=UnitState(item["state"]["S"]),
            status_message=item["statusMessage"]["S"],
            errors=item.get("errors", {}).get("BOOL", False),
            start=item.get("startDateTime", {}).get("S"),
            end=item.get("endDateTime", {}).get("S"),
            logs=[LogLine(**e) for e in json.loads(item.get("logs", {}).get("S", "[]"))],
            results=[StoredResult(**r) for r in json.loads(item.get("results", {}).get("S", "[]"))],
        )

    def put_batch(self, batch: BatchRecord, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **_key(batch_pk(batch.tenant, batch.batch_id), "BATCH"),
                "state": _s(batch.state),
                "templateId": _s(batch.template_id),
                "inputKey": _s(batch.input_key),
                "taskIds": _s(json.dumps(batch.task_ids, separators=(",", ":"))),
                "postDateTime": _s(batch.posted),
                "succeeded": _n(0),
                "failed": _n(0),
                "expiresAt": _n(expires_at),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def set_batch_state(self, tenant: str, batch_id: str, expected: BatchState, new: BatchState) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(batch_pk(tenant, batch_id), "BATCH"),
            UpdateExpression="SET #state = :new",
            ConditionExpression="#state = :expected",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":new": _s(new), ":expected": _s(expected)},
        )

    def try_set_batch_state(self, tenant: str, batch_id: str, expected: BatchState, new: BatchState) -> bool:
        """Like set_batch_state, but False when the batch is not in the expected state."""
        return _updated(self.set_batch_state, tenant=tenant, batch_id=batch_id, expected=expected, new=new)

    def get_batch(self, tenant: str, batch_id: str, now_epoch: int) -> BatchRecord | None:
        # Consistent: a GET right after the 202, or a worker right after the commit, must see Accepted.
        item = self._ddb.get_item(
            TableName=self._table, Key=_key(batch_pk(tenant, batch_id), "BATCH"), ConsistentRead=True
        ).get("Item")
        if item is None or _expired(item, now_epoch):
            return None
        return BatchRecord(
            tenant=tenant,
            batch_id=batch_id,
            state=BatchState(item["state"]["S"]),
            template_id=item["templateId"]["S"],
            input_key=item["inputKey"]["S"],
            task_ids=json.loads(item["taskIds"]["S"]),
            posted=item["postDateTime"]["S"],
            succeeded=int(item["succeeded"]["N"]),
            failed=int(item["failed"]["N"]),
        )

    def get_chunk(self, tenant: str, batch_id: str, index: int) -> ChunkRow | None:
        item = self._ddb.get_item(
            TableName=self._table, Key=unit_key(tenant, batch_id, index), ConsistentRead=True
        ).get("Item")
        return _chunk_from_item(item) if item else None

    def chunks(self, tenant: str, batch_id: str) -> list[ChunkRow]:
        """The chunks a worker has claimed so far: at most 100 items for 1,000 tasks."""
        rows: list[ChunkRow] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": _s(batch_pk(tenant, batch_id)), ":chunk": _s("CHUNK#")},
        }
        while True:
            page = self._ddb.query(**kwargs)
            rows.extend(_chunk_from_item(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(
        self,
        tenant: str,
        batch_id: str | None,
        unit: str | int,
        task_ids: Sequence[str],
        run_id: str,
        started: str,
        now_epoch: int,
        lease_until: int,
        expires_at: int,
    ) -> bool:
        """Queued (or never started) -> Running for this run; also takes over a run whose lease ran out."""
        # A single task exists from POST on; a batch chunk's item is created by its first claim.
        fresh = "#state = :queued" if batch_id is None else "attribute_not_exists(#state)"
        return _updated(
            self._ddb.update_item,
            TableName=self._table,
            Key=unit_key(tenant, batch_id, unit),
            UpdateExpression=(
                "SET #state = :running, statusMessage = :running, startDateTime = :started, runId = :run,"
                " leaseUntil = :lease, taskIds = :tasks, expiresAt = if_not_exists(expiresAt, :expires)"
            ),
            ConditionExpression=f"{fresh} OR (#state = :running AND leaseUntil < :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                **({":queued": _s(UnitState.QUEUED)} if batch_id is None else {}),
                ":running": _s(UnitState.RUNNING),
                ":started": _s(started),
                ":run": _s(run_id),
                ":lease": _n(lease_until),
                ":tasks": _s(json.dumps(list(task_ids))),
                ":expires": _n(expires_at),
                ":now": _n(now_epoch),
            },
        )

    def finish(
        self, tenant: str, batch_id: str | None, unit: str | int, outcomes: Sequence[TaskOutcome], run_id: str
    ) -> bool:
        """Write the outcomes if this run still owns the unit; a batch's counters move in the same write."""
        return self._complete(
            tenant, batch_id, unit, outcomes, "runId = :run AND #state = :running",
            {":run": _s(run_id), ":running": _s(UnitState.RUNNING)},
        )

    def give_up(self, tenant: str, batch_id: str | None, unit: str | int, outcomes: Sequence[TaskOutcome]) -> bool:
        """Record failed outcomes for a unit no run could finish, unless one did after all."""
        # A single task that does not exist was rolled back: nothing to record. A chunk may never have started.
        exists = "attribute_exists(#state) AND" if batch_id is None else "attribute_not_exists(#state) OR"
        return self._complete(tenant, batch_id, unit, outcomes, f"{exists} #state <> :completed", {})

    def _complete(
        self,
        tenant: str,
        batch_id: str | None,
        unit: str | int,
        outcomes: Sequence[TaskOutcome],
        condition: str,
        condition_values: dict[str, Any],
    ) -> bool:
        names = {"#state": "state"}
        if batch_id is None:
            [outcome] = outcomes
            return _updated(
                self._ddb.update_item,
                TableName=self._table,
                Key=unit_key(tenant, None, unit),
                UpdateExpression=(
                    "SET #state = :completed, statusMessage = :message, errors = :errors, startDateTime = :start,"
                    " endDateTime = :end, logs = :logs, results = :results REMOVE leaseUntil"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":completed": _s(UnitState.COMPLETED),
                    ":message": _s(outcome.status_message),
                    ":errors": {"BOOL": not outcome.ok},
                    ":start": _s(outcome.start),
                    ":end": _s(outcome.end),
                    ":logs": _s(json.dumps([asdict(line) for line in outcome.logs])),
                    ":results": _s(json.dumps([asdict(r) for r in outcome.results])),
                    **condition_values,
                },
            )

        ok = sum(1 for o in outcomes if o.ok)
        entries = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": unit_key(tenant, batch_id, unit),
                    "UpdateExpression": (
                        "SET #state = :completed, outcomes = :outcomes, taskIds = if_not_exists(taskIds, :tasks),"
                        " expiresAt = if_not_exists(expiresAt, :expires) REMOVE leaseUntil"
                    ),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        ":completed": _s(UnitState.COMPLETED),
                        ":outcomes": _s(json.dumps({o.task_id: _outcome_to_json(o) for o in outcomes})),
                        ":tasks": _s(json.dumps([o.task_id for o in outcomes])),
                        # Only a chunk no run ever claimed lacks it; it outlives its batch by a day at most.
                        ":expires": _n(int(time.time()) + STATUS_TTL_SECONDS),
                        **condition_values,
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(batch_pk(tenant, batch_id), "BATCH"),
                    "UpdateExpression": "ADD succeeded :ok, failed :failed",
                    "ExpressionAttributeValues": {":ok": _n(ok), ":failed": _n(len(outcomes) - ok)},
                }
            },
        ]
        for attempt in range(_TXN_ATTEMPTS):
            try:
                self._ddb.transact_write_items(TransactItems=entries)
                return True
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    return False
                # AWS: concurrent transactions on one batch item cancel with TransactionConflict; back off.
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise RuntimeError(f"could not complete chunk {unit} of batch {batch_id} after {_TXN_ATTEMPTS} attempts")
