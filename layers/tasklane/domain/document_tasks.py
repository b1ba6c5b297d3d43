"""Single document tasks: submit one DAP run with its params, report its status."""

from __future__ import annotations

import json
import uuid

from aws_lambda_powertools import Logger

from tasklane.domain import licensing, templates
from tasklane.domain.errors import NotFound, PayloadTooLarge, ServiceUnavailable, problem
from tasklane.domain import integrations
from tasklane.domain.records import STATUS_TTL_SECONDS, DocumentTaskRecord, UnitMessage
from tasklane.domain.submissions import TaskSubmission
from tasklane.domain.views import AcceptedTask, DocumentTaskView, ResultLink
from tasklane.storage import Backends
from tasklane.timeutil import epoch, iso

logger = Logger(child=True)

# The params travel inside the SQS message (256 KiB at most, envelope included).
MAX_PARAMS_BYTES = 200 * 1024


def encoded_size(value: object) -> int:
    """Bytes of `value` as it is stored and queued: compact JSON, non-ASCII escaped."""
    return len(json.dumps(value, separators=(",", ":")))


def new_task_id() -> str:
    return f"t-{uuid.uuid4().hex}"


def submit(backends: Backends, tenant: str, submission: TaskSubmission) -> AcceptedTask:
    """Validate everything, then store the task as Queued and enqueue it, or leave nothing behind
    (ServiceUnavailable when a retry can succeed; anything else as it was raised)."""
    params = submission.params
    salesforce = integrations.connect(backends, submission.integration) if submission.integration else None
    size = encoded_size(params)
    if size > MAX_PARAMS_BYTES:
        raise PayloadTooLarge(
            f"params take {size} bytes; a task takes at most {MAX_PARAMS_BYTES}",
            [problem("params", f"{size} bytes with the param.<name> parts merged, more than {MAX_PARAMS_BYTES}", "too_large")],
        )
    template = templates.choose(backends, tenant, submission.template, salesforce)
    templates.check_params(template, [params])

    moment = backends.clock.now()
    reservation = licensing.reserve(backends, tenant, 1, moment)
    task_id = new_task_id()
    stored = False
    try:
        sealed = integrations.seal(backends, tenant, task_id, submission.integration)
        template.commit(backends, tenant)
        backends.tasks.put_queued_task(tenant, task_id, iso(moment), epoch(moment) + STATUS_TTL_SECONDS)
        stored = True
        backends.queue.send(
            [UnitMessage(tenant=tenant, taskIds=[task_id], templateId=template.id, params=params, integration=sealed)]
        )
    except Exception as error:
        logger.exception("task not accepted, rolling back", extra={"task_id": task_id})
        _roll_back(backends, tenant, task_id if stored else None, reservation)
        if not isinstance(error, ServiceUnavailable):
            raise  # rolled back too, but a retry cannot cure it: a 500
        raise ServiceUnavailable(
            "The task was not accepted and will not run; retry the request", retry_after=error.retry_after
        ) from error
    return AcceptedTask(task_id=task_id, units_used=reservation.used, quota=reservation.quota)


def _roll_back(backends: Backends, tenant: str, task_id: str | None, reservation: licensing.Reservation) -> None:
    """Delete the task, then refund its unit; a task that could not be deleted may still run, so keeps it."""
    # A message that did reach the queue finds no Queued task and does nothing.
    try:
        if task_id is not None:
            backends.tasks.delete_task(tenant, task_id)
        licensing.release(backends, reservation)
    except Exception:
        logger.exception("rollback incomplete", extra={"task_id": task_id})


def get(backends: Backends, tenant: str, task_id: str) -> DocumentTaskView:
    record = backends.tasks.get_task(tenant, task_id, epoch(backends.clock.now()))
    if record is None:
        raise NotFound(f"Task {task_id} not found")
    return view(backends, record)


def view(backends: Backends, record: DocumentTaskRecord) -> DocumentTaskView:
    """The record with a presigned URL per result (signing is local: no AWS call)."""
    return DocumentTaskView(
        record=record, results=[ResultLink(id=r.id, url=backends.documents.result_url(r)) for r in record.results]
    )
