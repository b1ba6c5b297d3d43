"""Field-work jobs in DynamoDB: a header item per job and one item per step, in the job's partition,
so a job of any size fits (DynamoDB items stop at 400 KB) and a sync writes only what it changes.

Keys:
  header        pk TENANT#<t>#JOB#<clientJobId>   sk JOB
                ListIndex  listPk TENANT#<t>#JOBS                       listSk <created>#<clientJobId>
  by workflow   pk TENANT#<t>#JOB#<clientJobId>   sk WORKFLOW
                ListIndex  listPk TENANT#<t>#WORKFLOW#<workflowId>#JOBS listSk <created>#<clientJobId>
  step          pk TENANT#<t>#JOB#<clientJobId>   sk STEP#<C|X>#<uniqueStepId>

A step is written only if it is new or newer than the stored copy (a condition on its `updated`),
so of two syncs racing on one step the newer copy stays whichever lands last. The header holds the
job's document and the newest `updated` of each step; every header write is conditional on the
version it read, and a writer that loses re-reads and merges again, so no sync's steps or metadata
are lost. Listings project the header's document, not the steps.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from tasklane.domain.job_records import JobDoc, JobSummary, StepDoc, StepKind, StoredJob
from tasklane.jsontext import dumps
from tasklane.storage.units import key, n, read, s, updated

LIST_INDEX = "ListIndex"
_DELETE_BATCH = 25


def _pk(tenant: str, client_job_id: str) -> str:
    return f"TENANT#{tenant}#JOB#{client_job_id}"


def _list_sk(stored: StoredJob) -> str:
    return f"{stored.created}#{stored.doc.client_job_id}"


def _summary(item: dict[str, Any]) -> JobSummary:
    return JobSummary(
        job_id=item["jobId"]["S"],
        created=item["created"]["S"],
        doc=JobDoc(client_job_id=item["clientJobId"]["S"], document=json.loads(item["jobDoc"]["S"])),
    )


def _stored(item: dict[str, Any]) -> StoredJob:
    summary = _summary(item)
    return StoredJob(
        job_id=summary.job_id,
        created=summary.created,
        doc=summary.doc,
        step_index=json.loads(item["stepIndex"]["S"]),
        step_bytes=int(item["stepBytes"]["N"]),
        version=int(item["version"]["N"]),
    )


class JobStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def header(self, tenant: str, client_job_id: str) -> StoredJob | None:
        item = read(self._ddb, self._table, key(_pk(tenant, client_job_id), "JOB"))
        return _stored(item) if item is not None else None

    def put_step(self, tenant: str, client_job_id: str, step: StepDoc) -> bool:
        """Store `step` unless a copy as new or newer is there; False if one was."""
        return updated(
            self._ddb.put_item,
            TableName=self._table,
            Item={
                **key(_pk(tenant, client_job_id), f"STEP#{step.kind.value}#{step.unique_id}"),
                "updated": n(step.updated),
                "step": s(dumps(step.document)),
            },
            ConditionExpression="attribute_not_exists(pk) OR #updated < :updated",
            ExpressionAttributeNames={"#updated": "updated"},
            ExpressionAttributeValues={":updated": n(step.updated)},
        )

    def _header_writes(self, tenant: str, stored: StoredJob, condition: dict[str, Any]) -> list[dict[str, Any]]:
        pk = _pk(tenant, stored.doc.client_job_id)
        common = {
            "jobId": s(stored.job_id),
            "clientJobId": s(stored.doc.client_job_id),
            "created": s(stored.created),
            "jobDoc": s(dumps(stored.doc.document)),
            "listSk": s(_list_sk(stored)),
        }
        if stored.doc.team is not None:
            common["team"] = s(stored.doc.team)
        header = {
            **key(pk, "JOB"),
            **common,
            "listPk": s(f"TENANT#{tenant}#JOBS"),
            "stepIndex": s(dumps(stored.step_index)),
            "stepBytes": n(stored.step_bytes),
            "version": n(stored.version),
        }
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self._table, "Item": header, **condition}}]
        workflow = stored.doc.workflow_id
        if workflow is not None:
            member = {**key(pk, "WORKFLOW"), **common, "listPk": s(f"TENANT#{tenant}#WORKFLOW#{workflow}#JOBS")}
            writes.append({"Put": {"TableName": self._table, "Item": member}})
        else:
            writes.append({"Delete": {"TableName": self._table, "Key": key(pk, "WORKFLOW")}})
        return writes

    def _transact(self, writes: list[dict[str, Any]]) -> bool:
        """False when the header's condition failed or another transaction held one of the items
        (TransactionConflict): either way the caller reads again and retries."""
        try:
            self._ddb.transact_write_items(TransactItems=writes)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            codes = {reason.get("Code") for reason in reasons}
            if reasons and (reasons[0].get("Code") == "ConditionalCheckFailed" or "TransactionConflict" in codes):
                return False
            raise
        return True

    def create_header(self, tenant: str, stored: StoredJob) -> bool:
        """Store a new job's header; False if the job exists already."""
        return self._transact(self._header_writes(tenant, stored, {"ConditionExpression": "attribute_not_exists(pk)"}))

    def replace_header(self, tenant: str, stored: StoredJob, read_version: int) -> bool:
        """Replace the header if it is still at `read_version`; False if another writer got there first."""
        condition = {
            "ConditionExpression": "#version = :read",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":read": n(read_version)},
        }
        return self._transact(self._header_writes(tenant, stored, condition))

    def _partition(self, tenant: str, client_job_id: str, prefix: str | None, keys_only: bool) -> list[dict[str, Any]]:
        """The job partition's items (those whose sk starts with `prefix`, when given)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": s(_pk(tenant, client_job_id))},
            "ConsistentRead": True,
        }
        if prefix is not None:
            request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = s(prefix)
        if keys_only:
            request["ProjectionExpression"] = "pk, sk"
        items: list[dict[str, Any]] = []
        while True:
            answer = self._ddb.query(**request)
            items.extend(answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def steps(self, tenant: str, client_job_id: str) -> list[StepDoc]:
        found = []
        for item in self._partition(tenant, client_job_id, "STEP#", keys_only=False):
            _, kind, unique_id = item["sk"]["S"].split("#", 2)
            found.append(
                StepDoc(StepKind(kind), unique_id, int(item["updated"]["N"]), json.loads(item["step"]["S"]))
            )
        return found

    def delete(self, tenant: str, client_job_id: str) -> None:
        """Delete the steps and the workflow entry, then the header: a delete cut short leaves the job
        in place, to be deleted again, never steps without their job."""
        header = key(_pk(tenant, client_job_id), "JOB")
        keys = [
            {"pk": i["pk"], "sk": i["sk"]}
            for i in self._partition(tenant, client_job_id, None, keys_only=True)
            if i["sk"] != header["sk"]
        ]
        for start in range(0, len(keys), _DELETE_BATCH):
            pending = {self._table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + _DELETE_BATCH]]}
            while pending:
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        self._ddb.delete_item(TableName=self._table, Key=header)

    def page(self, tenant: str, workflow_id: str | None, team: str | None, skip: int, limit: int) -> list[JobSummary]:
        """Newest first; with `team`, that team's jobs only (a FilterExpression: other teams' entries
        are read too)."""
        list_pk = f"TENANT#{tenant}#JOBS" if workflow_id is None else f"TENANT#{tenant}#WORKFLOW#{workflow_id}#JOBS"
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": "listPk = :pk",
            "ExpressionAttributeValues": {":pk": s(list_pk)},
            "ScanIndexForward": False,
        }
        if team is None:
            request["Limit"] = skip + limit
        else:
            request["FilterExpression"] = "team = :team"
            request["ExpressionAttributeValues"][":team"] = s(team)
        found: list[JobSummary] = []
        while len(found) < skip + limit:
            answer = self._ddb.query(**request)
            found.extend(_summary(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found[skip : skip + limit]
