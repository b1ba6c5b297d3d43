"""A task record as GET /v1/task and GET /v1/batch/{b}/{t} show it."""

from __future__ import annotations

from tasklane.models.api import LogEntryOut, ResultLink, TaskStatus
from tasklane.models.records import TaskRecord, TaskState
from tasklane.storage.documents import DocumentBucket

READY = "Ready"


def describe(record: TaskRecord) -> str:
    if record.state is TaskState.QUEUED:
        return "The task is waiting in the queue."
    if record.state is TaskState.RUNNING:
        return "The task is running."
    if not record.errors:
        return "The task finished and its results are ready."
    return f"The task failed: {record.status_message}"


def task_status(record: TaskRecord, documents: DocumentBucket) -> TaskStatus:
    severe = [LogEntryOut(level=line.level, message=line.message) for line in record.logs if line.level == "SEVERE"]
    return TaskStatus(
        completed=record.completed,
        errors=record.errors,
        statusMessage=record.status_message,
        statusDescription=describe(record),
        startDateTime=record.start,
        endDateTime=record.end,
        logs=severe,
        log=severe,
        results=[r.id for r in record.results],
        resultList=[ResultLink(id=r.id, url=documents.result_url(r)) for r in record.results],
    )


def queued(tenant: str, task_id: str, batch_id: str | None) -> TaskRecord:
    return TaskRecord(tenant=tenant, task_id=task_id, batch_id=batch_id, state=TaskState.QUEUED, status_message="Queued")


def running(tenant: str, task_id: str, batch_id: str | None, start: str | None) -> TaskRecord:
    return TaskRecord(
        tenant=tenant, task_id=task_id, batch_id=batch_id, state=TaskState.RUNNING, status_message="Running", start=start
    )
