"""Batches in DynamoDB: the batch item with its counters, and one chunk item per run unit.

A chunk is finished in one transaction with its batch's counters. The batch item also counts the
tasks still to finish (`remaining`), and the chunk that brings it to zero records `completedDateTime`
in that same transaction, so the moment a batch finishes is written once, by whichever worker
finishes it: each finish first asserts it is not the last (`remaining > size`); the one refused for
that reason is the last, and finishes again recording the completion (`remaining = size`). Two
workers finishing the last two chunks at once serialize on the batch item: one is refused as
conflicting or as not last, and retries with what it then finds. That costs one extra call per batch.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from tasklane.domain.errors import ServiceUnavailable

from tasklane.domain.records import STATUS_TTL_SECONDS, BatchRecord, BatchState, ChunkRow, Claim, RunUnit, TaskOutcome, UnitState
from tasklane.storage.units import (
    OWNED_BY_RUN,
    claim_request,
    claimed,
    key,
    n,
    outcome_from_json,
    outcome_to_json,
    read,
    s,
    updated,
)

_TXN_ATTEMPTS = 6


def batch_pk(tenant: str, batch_id: str) -> str:
    return f"TENANT#{tenant}#BATCH#{batch_id}"


def batch_key(tenant: str, batch_id: str) -> dict[str, Any]:
    return key(batch_pk(tenant, batch_id), "BATCH")


def chunk_key(tenant: str, batch_id: str, index: int) -> dict[str, Any]:
    return key(batch_pk(tenant, batch_id), f"CHUNK#{index:04d}")


def _chunk_from_item(item: dict[str, Any]) -> ChunkRow:
    outcomes = {k: outcome_from_json(v) for k, v in json.loads(item.get("outcomes", {}).get("S", "{}")).items()}
    return ChunkRow(
        index=int(item["sk"]["S"].split("#", 1)[1]),
        state=UnitState(item["state"]["S"]),
        task_ids=json.loads(item["taskIds"]["S"]),
        outcomes=outcomes,
        start=item.get("startDateTime", {}).get("S"),
    )


class BatchStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def put_batch(self, batch: BatchRecord, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                **batch_key(batch.tenant, batch.batch_id),
                "state": s(batch.state),
                "templateId": s(batch.template_id),
                "inputKey": s(batch.input_key),
                "taskIds": s(json.dumps(batch.task_ids, separators=(",", ":"))),
                "postDateTime": s(batch.posted),
                "succeeded": n(0),
                "failed": n(0),
                "remaining": n(len(batch.task_ids)),
                "expiresAt": n(expires_at),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def set_batch_state(self, tenant: str, batch_id: str, expected: BatchState, new: BatchState) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=batch_key(tenant, batch_id),
            UpdateExpression="SET #state = :new",
            ConditionExpression="#state = :expected",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":new": s(new), ":expected": s(expected)},
        )

    def try_set_batch_state(self, tenant: str, batch_id: str, expected: BatchState, new: BatchState) -> bool:
        """Like set_batch_state, but False when the batch is not in the expected state."""
        return updated(self.set_batch_state, tenant=tenant, batch_id=batch_id, expected=expected, new=new)

    def get_batch(self, tenant: str, batch_id: str, now_epoch: int) -> BatchRecord | None:
        # A worker right after the commit must see Accepted too.
        item = read(self._ddb, self._table, batch_key(tenant, batch_id), now_epoch)
        if item is None:
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
            completed_at=item.get("completedDateTime", {}).get("S"),
        )

    def get_chunk(self, tenant: str, batch_id: str, index: int) -> ChunkRow | None:
        item = read(self._ddb, self._table, chunk_key(tenant, batch_id, index))
        return _chunk_from_item(item) if item else None

    def chunks(self, tenant: str, batch_id: str) -> list[ChunkRow]:
        """The chunks a worker has claimed so far: at most 100 items for 1,000 tasks."""
        rows: list[ChunkRow] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": s(batch_pk(tenant, batch_id)), ":chunk": s("CHUNK#")},
        }
        while True:
            page = self._ddb.query(**kwargs)
            rows.extend(_chunk_from_item(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(
        self, unit: RunUnit, run_id: str, started: str, now_epoch: int, lease_until: int, expires_at: int
    ) -> Claim | None:
        """Never started -> Running for this run (the chunk's item is created by its first claim);
        also takes over a run whose lease ran out."""
        assert unit.batchId is not None and unit.chunk is not None
        return claimed(
            self._ddb,
            claim_request(
                self._table,
                chunk_key(unit.tenant, unit.batchId, unit.chunk),
                "attribute_not_exists(#state)",
                unit.taskIds,
                run_id,
                started,
                now_epoch,
                lease_until,
                expires_at,
                {},
            ),
        )

    def finish(self, unit: RunUnit, outcomes: Sequence[TaskOutcome], run_id: str, finished: str) -> bool:
        """Write the outcomes if this run still owns the chunk; the batch's counters move in the same write."""
        return self._complete(
            unit, outcomes, finished, OWNED_BY_RUN, {":run": s(run_id), ":running": s(UnitState.RUNNING)}
        )

    def give_up(self, unit: RunUnit, outcomes: Sequence[TaskOutcome], finished: str) -> bool:
        """Record failed outcomes for a chunk no run could finish (it may never have started), unless one did."""
        return self._complete(unit, outcomes, finished, "attribute_not_exists(#state) OR #state <> :completed", {})

    def _complete(
        self,
        unit: RunUnit,
        outcomes: Sequence[TaskOutcome],
        finished: str,
        condition: str,
        condition_values: dict[str, Any],
    ) -> bool:
        assert unit.batchId is not None and unit.chunk is not None
        ok = sum(1 for o in outcomes if o.ok)
        chunk = {
            "Update": {
                "TableName": self._table,
                "Key": chunk_key(unit.tenant, unit.batchId, unit.chunk),
                "UpdateExpression": (
                    "SET #state = :completed, outcomes = :outcomes, taskIds = if_not_exists(taskIds, :tasks),"
                    " expiresAt = if_not_exists(expiresAt, :expires) REMOVE leaseUntil"
                ),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":completed": s(UnitState.COMPLETED),
                    ":outcomes": s(json.dumps({o.task_id: outcome_to_json(o) for o in outcomes})),
                    ":tasks": s(json.dumps([o.task_id for o in outcomes])),
                    # Only a chunk no run ever claimed lacks it; it outlives its batch by a day at most.
                    ":expires": n(int(time.time()) + STATUS_TTL_SECONDS),
                    **condition_values,
                },
            }
        }
        counters = {":ok": n(ok), ":failed": n(len(outcomes) - ok), ":minus": n(-len(outcomes)), ":size": n(len(outcomes))}
        not_last = {
            "Update": {
                "TableName": self._table,
                "Key": batch_key(unit.tenant, unit.batchId),
                "UpdateExpression": "ADD succeeded :ok, failed :failed, remaining :minus",
                "ConditionExpression": "remaining > :size",
                "ExpressionAttributeValues": counters,
            }
        }
        last = {
            "Update": {
                "TableName": self._table,
                "Key": batch_key(unit.tenant, unit.batchId),
                "UpdateExpression": "ADD succeeded :ok, failed :failed, remaining :minus SET completedDateTime = :at",
                "ConditionExpression": "remaining = :size AND attribute_not_exists(completedDateTime)",
                "ExpressionAttributeValues": {**counters, ":at": s(finished)},
            }
        }
        batch_update = not_last
        for attempt in range(_TXN_ATTEMPTS):
            try:
                self._ddb.transact_write_items(TransactItems=[chunk, batch_update])
                return True
            except ServiceUnavailable:
                # Cancelled because an item was throttled: back off here rather than rerun the chunk
                # after the queue's visibility timeout; past the attempts, the redelivery does it.
                if attempt == _TXN_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                codes = [r.get("Code") for r in reasons] + [None, None]
                if codes[0] == "ConditionalCheckFailed":
                    return False
                if codes[1] == "ConditionalCheckFailed":
                    # Refused as not last, it is the last (or, refused as last, no longer): switch.
                    batch_update = last if batch_update is not_last else not_last
                    continue
                # AWS: concurrent transactions on one batch item cancel with TransactionConflict; back off.
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise RuntimeError(f"could not complete chunk {unit.chunk} of batch {unit.batchId} after {_TXN_ATTEMPTS} attempts")
