"""DynamoDB items of tasks and batches, and the conditional state transitions the worker relies on.

Keys (one table, every key scoped by tenant):
  single task     pk TENANT#<t>#TASK#<id>     sk TASK
  batch           pk TENANT#<t>#BATCH#<id>    sk BATCH
  batch task      pk TENANT#<t>#BATCH#<id>    sk TASK#<id>   (written by the worker when it claims it)
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tasklane.models.records import (
    BatchRecord,
    BatchState,
    BatchTaskRow,
    LogLine,
    StoredResult,
    TaskOutcome,
    TaskRecord,
    TaskState,
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


def task_key(tenant: str, batch_id: str | None, task_id: str) -> dict[str, Any]:
    if batch_id is None:
        return _key(f"TENANT#{tenant}#TASK#{task_id}", "TASK")
    return _key(batch_pk(tenant, batch_id), f"TASK#{task_id}")


def _expired(item: dict[str, Any], now_epoch: int) -> bool:
    # AWS: TTL deletion lags by up to days (and moto never deletes), so reads enforce expiry.
    return "expiresAt" in item and int(item["expiresAt"]["N"]) <= now_epoch


def _task_from_item(tenant: str, batch_id: str | None, item: dict[str, Any]) -> TaskRecord:
    return TaskRecord(
        tenant=tenant,
        task_id=item["taskId"]["S"],
        batch_id=batch_id,
        state=TaskState(item["state"]["S"]),
        status_message=item["statusMessage"]["S"],
        errors=item.get("errors", {}).get("BOOL", False),
        start=item.get("startDateTime", {}).get("S"),
        end=item.get("endDateTime", {}).get("S"),
        logs=[LogLine(**e) for e in json.loads(item.get("logs", {}).get("S", "[]"))],
        results=[StoredResult(**r) for r in json.loads(item.get("results", {}).get("S", "[]"))],
    )


@dataclass(frozen=True)
class Claim:
    """Tasks this run now owns: fresh ones, and ones whose earlier run died (lease expired)."""

    fresh: list[str]
    reclaimed: list[str]

    @property
    def task_ids(self) -> list[str]:
        return self.fresh + self.reclaimed


class TaskStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def put_queued_task(self, tenant: str, task_id: str, created: str, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **task_key(tenant, None, task_id),
                "taskId": _s(task_id),
                "state": _s(TaskState.QUEUED),
                "statusMessage": _s("Queued"),
                "createdDateTime": _s(created),
                "expiresAt": _n(expires_at),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def delete_task(self, tenant: str, task_id: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key=task_key(tenant, None, task_id))

    def get_task(self, tenant: str, batch_id: str | None, task_id: str, now_epoch: int) -> TaskRecord | None:
        item = self._ddb.get_item(TableName=self._table, Key=task_key(tenant, batch_id, task_id)).get("Item")
        if item is None or _expired(item, now_epoch):
            return None
        return _task_from_item(tenant, batch_id, item)

    def put_batch(self, batch: BatchRecord, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **_key(batch_pk(batch.tenant, batch.batch_id), "BATCH"),
                "state": _s(batch.state),
                "templateId": _s(batch.template_id),
                "inputKey": _s(batch.input_key),
                "taskIds": _s(json.dumps(batch.task_ids, separators=(",", ":"))),
                "total": _n(len(batch.task_ids)),
                "postDateTime": _s(batch.posted),
                "running": _n(0),
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

    def get_batch(self, tenant: str, batch_id: str, now_epoch: int, consistent: bool = False) -> BatchRecord | None:
        item = self._ddb.get_item(
            TableName=self._table, Key=_key(batch_pk(tenant, batch_id), "BATCH"), ConsistentRead=consistent
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
            running=int(item["running"]["N"]),
            succeeded=int(item["succeeded"]["N"]),
            failed=int(item["failed"]["N"]),
            started=item.get("startedDateTime", {}).get("S"),
        )

    def batch_task_rows(self, tenant: str, batch_id: str) -> list[BatchTaskRow]:
        """The tasks a worker has claimed so far; one Query page holds about 1,000 of these rows."""
        rows: list[BatchTaskRow] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :task)",
            "ProjectionExpression": "taskId, #state, errors, endDateTime",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":pk": _s(batch_pk(tenant, batch_id)), ":task": _s("TASK#")},
        }
        while True:
            page = self._ddb.query(**kwargs)
            rows.extend(
                BatchTaskRow(
                    task_id=i["taskId"]["S"],
                    state=TaskState(i["state"]["S"]),
                    errors=i.get("errors", {}).get("BOOL", False),
                    end=i.get("endDateTime", {}).get("S"),
                )
                for i in page["Items"]
            )
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(
        self,
        tenant: str,
        batch_id: str | None,
        task_ids: Sequence[str],
        run_id: str,
        started: str,
        now_epoch: int,
        lease_until: int,
        expires_at: int,
    ) -> Claim:
        """Move tasks to Running in one transaction; skip the ones finished or running elsewhere."""
        fresh, reclaimed = list(task_ids), []
        # A single task exists from POST on; a batch task's item is created by this claim.
        fresh_condition = "#state = :queued" if batch_id is None else "attribute_not_exists(#state) OR #state = :queued"
        for attempt in range(_TXN_ATTEMPTS):
            if not fresh and not reclaimed:
                return Claim([], [])
            entries = [
                self._claim_update(tenant, batch_id, t, fresh_condition, run_id, started, lease_until, expires_at)
                for t in fresh
            ] + [
                self._claim_update(
                    tenant, batch_id, t, "#state = :running AND leaseUntil < :now", run_id, started, lease_until,
                    expires_at, now_epoch,
                )
                for t in reclaimed
            ]
            if batch_id is not None and fresh:
                entries.append(self._batch_counter_update(tenant, batch_id, {"running": len(fresh)}, started))
            reasons = self._transact(entries)
            if reasons is None:
                return Claim(fresh, reclaimed)
            fresh, reclaimed = self._sort_after_cancel(fresh, reclaimed, reasons, now_epoch)
            self._pause(attempt, reasons)
        raise RuntimeError(f"could not claim tasks {list(task_ids)} after {_TXN_ATTEMPTS} attempts")

    def finish(
        self, tenant: str, batch_id: str | None, outcomes: Sequence[TaskOutcome], run_id: str
    ) -> list[str]:
        """Write outcomes and batch counters together; returns the task ids written."""
        pending = list(outcomes)
        for attempt in range(_TXN_ATTEMPTS):
            if not pending:
                return []
            entries = [self._finish_update(tenant, batch_id, o, run_id) for o in pending]
            if batch_id is not None:
                ok = sum(1 for o in pending if o.ok)
                entries.append(
                    self._batch_counter_update(
                        tenant, batch_id, {"running": -len(pending), "succeeded": ok, "failed": len(pending) - ok}
                    )
                )
            reasons = self._transact(entries)
            if reasons is None:
                return [o.task_id for o in pending]
            # A task whose runId changed was taken over after our lease ran out: its new run writes it.
            lost = {pending[i].task_id for i, r in enumerate(reasons[: len(pending)]) if r.get("Code") == "ConditionalCheckFailed"}
            pending = [o for o in pending if o.task_id not in lost]
            self._pause(attempt, reasons)
        raise RuntimeError(f"could not finish tasks after {_TXN_ATTEMPTS} attempts")

    def _claim_update(
        self,
        tenant: str,
        batch_id: str | None,
        task_id: str,
        condition: str,
        run_id: str,
        started: str,
        lease_until: int,
        expires_at: int,
        now_epoch: int | None = None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":running": _s(TaskState.RUNNING),
            ":run": _s(run_id),
            ":started": _s(started),
            ":lease": _n(lease_until),
            ":expires": _n(expires_at),
            ":task": _s(task_id),
        }
        if "queued" in condition:
            values[":queued"] = _s(TaskState.QUEUED)
        if now_epoch is not None:
            values[":now"] = _n(now_epoch)
        return {
            "Update": {
                "TableName": self._table,
                "Key": task_key(tenant, batch_id, task_id),
                "UpdateExpression": (
                    "SET #state = :running, statusMessage = :running, startDateTime = :started, runId = :run,"
                    " leaseUntil = :lease, taskId = :task, expiresAt = if_not_exists(expiresAt, :expires)"
                ),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _finish_update(self, tenant: str, batch_id: str | None, outcome: TaskOutcome, run_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": task_key(tenant, batch_id, outcome.task_id),
                "UpdateExpression": (
                    "SET #state = :completed, statusMessage = :message, errors = :errors, endDateTime = :end,"
                    " logs = :logs, results = :results REMOVE leaseUntil"
                ),
                "ConditionExpression": "runId = :run AND #state = :running",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":completed": _s(TaskState.COMPLETED),
                    ":running": _s(TaskState.RUNNING),
                    ":message": _s(outcome.status_message),
                    ":errors": {"BOOL": not outcome.ok},
                    ":end": _s(outcome.end),
                    ":logs": _s(json.dumps([vars(line) for line in outcome.logs])),
                    ":results": _s(json.dumps([vars(r) for r in outcome.results])),
                    ":run": _s(run_id),
                },
            }
        }

    def _batch_counter_update(
        self, tenant: str, batch_id: str, deltas: dict[str, int], started: str | None = None
    ) -> dict[str, Any]:
        values = {f":{name}": _n(delta) for name, delta in deltas.items()}
        expression = "ADD " + ", ".join(f"{name} :{name}" for name in deltas)
        if started is not None:
            expression += " SET startedDateTime = if_not_exists(startedDateTime, :started)"
            values[":started"] = _s(started)
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(batch_pk(tenant, batch_id), "BATCH"),
                "UpdateExpression": expression,
                "ExpressionAttributeValues": values,
            }
        }

    def _transact(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """None on success, else the cancellation reasons, one per entry."""
        try:
            self._ddb.transact_write_items(TransactItems=entries)
            return None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or [{}] * len(entries)
            return list(reasons)

    @staticmethod
    def _sort_after_cancel(
        fresh: list[str], reclaimed: list[str], reasons: list[dict[str, Any]], now_epoch: int
    ) -> tuple[list[str], list[str]]:
        next_fresh, next_reclaimed = [], []
        for task_id, reason in zip(fresh + reclaimed, reasons, strict=False):
            if reason.get("Code") != "ConditionalCheckFailed":
                (next_fresh if task_id in fresh else next_reclaimed).append(task_id)
                continue
            old = reason.get("Item", {})
            state = old.get("state", {}).get("S")
            lease = int(old.get("leaseUntil", {}).get("N", "0"))
            if state == TaskState.RUNNING and lease < now_epoch:
                next_reclaimed.append(task_id)
        return next_fresh, next_reclaimed

    @staticmethod
    def _pause(attempt: int, reasons: list[dict[str, Any]]) -> None:
        # AWS: concurrent transactions on one batch item cancel with TransactionConflict; back off.
        if any(r.get("Code") == "TransactionConflict" for r in reasons):
            time.sleep(random.uniform(0, 0.05 * 2**attempt))
