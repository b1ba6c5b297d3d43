"""The document family's answers, built from the domain's views: Dynamo's field names and wording."""

from __future__ import annotations

from tasklane.api.documents.models import (
    ApiUsage,
    BatchAccepted,
    BatchProgress,
    BatchStatus,
    BatchTaskResults,
    BatchTaskSummary,
    LicenseStatus,
    LogEntryOut,
    ResultLink,
    TaskAccepted,
    TaskStatus,
    TemplateInfo,
    Usage,
)
from tasklane.domain.records import DocumentTaskRecord, UnitState
from tasklane.domain.views import (
    AcceptedBatch,
    AcceptedTask,
    BatchTaskState,
    BatchView,
    DocumentTaskView,
    LicenseView,
    TemplateView,
)
from tasklane.timeutil import iso


def template_info(view: TemplateView) -> TemplateInfo:
    return TemplateInfo(id=view.id, name=view.name, sha256=view.sha256, size=view.size, uploadedDateTime=iso(view.uploaded))


def task_accepted(accepted: AcceptedTask) -> TaskAccepted:
    return TaskAccepted(taskID=accepted.task_id, usage=Usage(api=ApiUsage(term=accepted.units_used, termMax=accepted.quota)))


def batch_accepted(accepted: AcceptedBatch) -> BatchAccepted:
    return BatchAccepted(id=accepted.batch_id, tasks=accepted.task_ids, licenseUsage=accepted.units)


def describe(record: DocumentTaskRecord) -> str:
    if record.state is UnitState.QUEUED:
        return "The task is waiting in the queue."
    if record.state is UnitState.RUNNING:
        return "The task is running."
    if not record.errors:
        return "The task finished and its results are ready."
    return f"The task failed: {record.status_message}"


def task_status(view: DocumentTaskView) -> TaskStatus:
    record = view.record
    severe = [LogEntryOut(level=line.level, message=line.message) for line in record.logs if line.level == "SEVERE"]
    return TaskStatus(
        completed=record.completed,
        errors=record.errors,
        statusMessage=record.status_message,
        statusDescription=describe(record),
        startDateTime=record.start,
        endDateTime=record.end,
        # Dynamo's clients read either name: both carry the same entries.
        logs=severe,
        log=severe,
        results=[r.id for r in record.results],
        resultList=[ResultLink(id=link.id, url=link.url) for link in view.results],
    )


def batch_status(view: BatchView) -> BatchStatus:
    return BatchStatus(
        postDateTime=view.posted,
        completed=view.completed,
        completedDateTime=view.completed_at,
        errors=view.failed > 0,
        statusMessage=view.phase.value,
        tasks=[_batch_task(t) for t in view.tasks],
        progress=BatchProgress(
            total=len(view.tasks), queued=view.queued, running=view.running, completed=view.succeeded, failed=view.failed
        ),
    )


def _batch_task(task: BatchTaskState) -> BatchTaskResults | BatchTaskSummary:
    if task.results is None:
        return BatchTaskSummary(id=task.id, completed=task.completed, errors=task.errors)
    return BatchTaskResults(
        id=task.id,
        completed=task.completed,
        errors=task.errors,
        results=[link.id for link in task.results],
        resultList=[ResultLink(id=link.id, url=link.url) for link in task.results],
    )


def license_status(view: LicenseView) -> LicenseStatus:
    return LicenseStatus(term=view.term, used=view.used, quota=view.quota, remaining=view.remaining)
