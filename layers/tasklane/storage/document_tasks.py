"""Single document tasks in DynamoDB: one item per task, which is also its run unit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from tasklane.domain.records import Claim, DocumentTaskRecord, LogLine, RunUnit, StoredResult, TaskOutcome, UnitState
from tasklane.storage.units import OWNED_BY_RUN, claim_request, claimed, key, n, read, s, updated


def task_key(tenant: str, task_id: str) -> dict[str, Any]:
    return key(f"TENANT#{tenant}#TASK#{task_id}", "TASK")


class DocumentTaskStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def put_queued_task(self, tenant: str, task_id: str, created: str, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **task_key(tenant, task_id),
                "taskId": s(task_id),
                "state": s(UnitState.QUEUED),
                "statusMessage": s("Queued"),
                "createdDateTime": s(created),
                "expiresAt": n(expires_at),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def delete_task(self, tenant: str, task_id: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key=task_key(tenant, task_id))

    def get_task(self, tenant: str, task_id: str, now_epoch: int) -> DocumentTaskRecord | None:
        item = read(self._ddb, self._table, task_key(tenant, task_id), now_epoch)
        if item is None:
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

    def claim(
        self, unit: RunUnit, run_id: str, started: str, now_epoch: int, lease_until: int, expires_at: int
    ) -> Claim | None:
        """Queued -> Running for this run; also takes over a run whose lease ran out."""
        return claimed(
            self._ddb,
            claim_request(
                self._table,
                task_key(unit.tenant, unit.taskIds[0]),
                "#state = :queued",
                unit.taskIds,
                run_id,
                started,
                now_epoch,
                lease_until,
                expires_at,
                {":queued": s(UnitState.QUEUED)},
            ),
        )

    def finish(self, unit: RunUnit, outcomes: Sequence[TaskOutcome], run_id: str, finished: str) -> bool:
        """Write the outcome if this run still owns the task."""
        return self._complete(unit, outcomes, OWNED_BY_RUN, {":run": s(run_id), ":running": s(UnitState.RUNNING)})

    def give_up(self, unit: RunUnit, outcomes: Sequence[TaskOutcome], finished: str) -> bool:
        """Record a failed outcome for a task no run could finish, unless one did after all."""
        # A task that does not exist was rolled back: nothing to record.
        return self._complete(unit, outcomes, "attribute_exists(#state) AND #state <> :completed", {})

    def _complete(
        self, unit: RunUnit, outcomes: Sequence[TaskOutcome], condition: str, condition_values: dict[str, Any]
    ) -> bool:
        [outcome] = outcomes
        return updated(
            self._ddb.update_item,
            TableName=self._table,
            Key=task_key(unit.tenant, unit.taskIds[0]),
            UpdateExpression=(
                "SET #state = :completed, statusMessage = :message, errors = :errors, startDateTime = :start,"
                " endDateTime = :end, logs = :logs, results = :results REMOVE leaseUntil"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":completed": s(UnitState.COMPLETED),
                ":message": s(outcome.status_message),
                ":errors": {"BOOL": not outcome.ok},
                ":start": s(outcome.start),
                ":end": s(outcome.end),
                ":logs": s(json.dumps([asdict(line) for line in outcome.logs])),
                ":results": s(json.dumps([asdict(r) for r in outcome.results])),
                **condition_values,
            },
        )
