"""Single tasks: POST /v1/task accepts one, GET /v1/task/{id} reports it."""

from __future__ import annotations

import json
import uuid

from aws_lambda_powertools import Logger

from tasklane.domain import licensing, status, templates
from tasklane.domain.integrations import require_supported
from tasklane.models.api import ApiUsage, PostTaskRequest, TaskAccepted, TaskBody, TaskData, TaskStatus, Usage
from tasklane.models.errors import NotFound, PayloadTooLarge, ServiceUnavailable, detail
from tasklane.models.records import STATUS_TTL_SECONDS, TaskMessage
from tasklane.storage import Backends
from tasklane.timeutil import epoch, iso, now

logger = Logger(child=True)

# The params travel inside the SQS message (256 KiB at most, envelope included).
MAX_PARAMS_BYTES = 200 * 1024


def new_task_id() -> str:
    return f"t-{uuid.uuid4().hex}"


def submit(backends: Backends, tenant: str, body: TaskBody) -> TaskAccepted:
    """Validate everything, then store the task as Queued and enqueue it, or leave nothing behind."""
    data, reference = templates.read_request(body, PostTaskRequest, TaskData)
    params = {**data.params, **body.parts}
    require_supported(data.integration)
    size = len(json.dumps(params, separators=(",", ":")).encode())
    if size > MAX_PARAMS_BYTES:
        raise PayloadTooLarge(
            f"params take {size} bytes; a task takes at most {MAX_PARAMS_BYTES}",
            [detail("params", f"{size} bytes with the param.<name> parts merged, more than {MAX_PARAMS_BYTES}", "too_large")],
        )
    template = templates.choose(backends, tenant, reference, body.dap)

    moment = now()
    reservation = licensing.reserve(backends, tenant, 1, moment)
    task_id = new_task_id()
    stored = False
    try:
        template.commit(backends, tenant)
        backends.tasks.put_queued_task(tenant, task_id, iso(moment), epoch(moment) + STATUS_TTL_SECONDS)
        stored = True
        backends.queue.send([TaskMessage(tenant=tenant, taskIds=[task_id], templateId=template.id, params=params)])
    except Exception as error:
        logger.exception("task not accepted, rolling back", extra={"task_id": task_id})
        _roll_back(backends, tenant, task_id if stored else None, reservation)
        raise ServiceUnavailable("The task was not accepted and will not run; retry the request") from error
    return TaskAccepted(taskID=task_id, usage=Usage(api=ApiUsage(term=reservation.used, termMax=reservation.quota)))


def _roll_back(backends: Backends, tenant: str, task_id: str | None, reservation: licensing.Reservation) -> None:
    """Delete the task, then refund its unit; a task that could not be deleted may still run, so keeps it."""
    # A message that did reach the queue finds no Queued task and does nothing.
    try:
        if task_id is not None:
            backends.tasks.delete_task(tenant, task_id)
        licensing.release(backends, reservation)
    except Exception:
        logger.exception("rollback incomplete", extra={"task_id": task_id})


def get(backends: Backends, tenant: str, task_id: str) -> TaskStatus:
    record = backends.tasks.get_task(tenant, task_id, epoch(now()))
    if record is None:
        raise NotFound(f"Task {task_id} not found")
    return status.task_status(record, backends.documents)
