"""Batches: one DAP for up to 1,000 param sets.

Accepting is two-phase so that a client gets either 202 and every task runs, or an error and none does:
the batch is written as Accepting, its messages are sent, then it flips to Accepted. Workers run tasks
of Accepted batches only; a failure part-way flips it to Rejected and refunds the license units,
then answers 503 if a retry can succeed (a backend was busy) and 500 if not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from tasklane.domain import document_tasks, licensing, templates
from tasklane.domain.errors import BadRequest, NotFound, PayloadTooLarge, ServiceUnavailable, problem
from tasklane.domain import integrations
from tasklane.domain.records import (
    STATUS_TTL_SECONDS,
    TASKS_PER_MESSAGE,
    BatchRecord,
    BatchState,
    DocumentTaskRecord,
    TaskOutcome,
    UnitMessage,
    UnitState,
)
from tasklane.domain.submissions import BatchSubmission, BatchTask
from tasklane.domain.views import AcceptedBatch, BatchPhase, BatchTaskState, BatchView, DocumentTaskView
from tasklane.storage import Backends
from tasklane.timeutil import epoch, iso

logger = Logger(child=True)


# The batch input is one S3 object the worker reads whole (and keeps a few of): bound it, not only each task.
MAX_BATCH_INPUT_BYTES = 8 * 1024 * 1024


def _entry_size(key: str, value_size: int) -> int:
    """`"key":value` inside the params object."""
    return document_tasks.encoded_size(key) + 1 + value_size


def merge_part_params(tasks: list[BatchTask], parts: dict[str, Any]) -> list[dict[str, Any]]:
    """Each task's params with its partParams applied in order; a later part replaces the whole value.

    Sizes are checked on the merged params, before anything is stored or charged: a small request
    naming one large part from every task must not turn into a huge stored input. Each part is
    measured once and each task's size is summed from its entries, so the check itself stays cheap.
    """
    problems = []
    merged = []
    part_sizes: dict[str, int] = {}
    total = 0
    for i, task in enumerate(tasks):
        params = dict(task.params)
        entry_sizes = {key: _entry_size(key, document_tasks.encoded_size(value)) for key, value in params.items()}
        for j, link in enumerate(task.links):
            if link.part_name not in parts:
                problems.append(
                    problem(
                        f"tasks[{i}].partParams[{j}].partName",
                        f"no JSON part named 'param.{link.part_name}' was posted",
                        "unknown_part",
                    )
                )
                continue
            if link.part_name not in part_sizes:
                part_sizes[link.part_name] = document_tasks.encoded_size(parts[link.part_name])
            params[link.param_name] = parts[link.part_name]
            entry_sizes[link.param_name] = _entry_size(link.param_name, part_sizes[link.part_name])
        size = 2 + sum(entry_sizes.values()) + max(len(entry_sizes) - 1, 0)
        if size > document_tasks.MAX_PARAMS_BYTES:
            problems.append(
                problem(
                    f"tasks[{i}].params",
                    f"the params, partParams merged, take {size} bytes; a task takes at most "
                    f"{document_tasks.MAX_PARAMS_BYTES}",
                    "too_large",
                )
            )
        total += size
        merged.append(params)
    if problems:
        if all(p.type == "too_large" for p in problems):
            raise PayloadTooLarge(f"{len(problems)} task(s) have params over the limit", problems)
        unknown_only = all(p.type == "unknown_part" for p in problems)
        raise BadRequest("partParams name parts that were not posted" if unknown_only else "Invalid batch tasks", problems)
    if total > MAX_BATCH_INPUT_BYTES:
        raise PayloadTooLarge(
            f"The batch's params, partParams merged, take {total} bytes; a batch takes at most {MAX_BATCH_INPUT_BYTES}",
            [problem("tasks", f"merged params total {total} bytes, more than {MAX_BATCH_INPUT_BYTES}", "too_large")],
        )
    return merged


def submit(backends: Backends, tenant: str, submission: BatchSubmission) -> AcceptedBatch:
    salesforce = integrations.connect(backends, submission.integration) if submission.integration else None
    params = merge_part_params(submission.tasks, submission.parts)
    template = templates.choose(backends, tenant, submission.template, salesforce)
    templates.check_params(template, params, "tasks[{}]")

    moment = backends.clock.now()
    reservation = licensing.reserve(backends, tenant, len(params), moment)
    batch = BatchRecord(
        tenant=tenant,
        batch_id=uuid.uuid4().hex,
        state=BatchState.ACCEPTING,
        template_id=template.id,
        input_key="",
        task_ids=[str(uuid.uuid4()) for _ in params],
        posted=iso(moment),
    )
    batch.input_key = backends.documents.input_key(tenant, batch.batch_id)
    written = False
    try:
        sealed = integrations.seal(backends, tenant, batch.batch_id, submission.integration)
        template.commit(backends, tenant)
        backends.documents.put_input(batch.input_key, _input_document(batch, params))
        backends.batches.put_batch(batch, epoch(moment) + STATUS_TTL_SECONDS)
        written = True
        backends.queue.send(_messages(batch, sealed))
        backends.batches.set_batch_state(tenant, batch.batch_id, BatchState.ACCEPTING, BatchState.ACCEPTED)
    except Exception as error:
        if written and not _reject(backends, batch):
            # Rejecting found the batch Accepted: the commit landed, only its answer was lost.
            logger.warning("commit answer lost; the batch is accepted", extra={"batch_id": batch.batch_id})
        else:
            logger.exception("batch not accepted, rolling back", extra={"batch_id": batch.batch_id})
            _release(backends, batch, reservation)
            if not isinstance(error, ServiceUnavailable):
                raise  # rolled back too, but a retry cannot cure it: a 500
            raise ServiceUnavailable(
                "The batch was not accepted and none of its tasks will run; retry the request",
                retry_after=error.retry_after,
            ) from error
    return AcceptedBatch(batch_id=batch.batch_id, task_ids=batch.task_ids, units=reservation.units)


def _input_document(batch: BatchRecord, params: list[dict[str, Any]]) -> bytes:
    doc = {"templateId": batch.template_id, "tasks": dict(zip(batch.task_ids, params, strict=True))}
    return json.dumps(doc, separators=(",", ":")).encode()


def _messages(batch: BatchRecord, integration: dict[str, str] | None = None) -> list[UnitMessage]:
    ids = batch.task_ids
    return [
        UnitMessage(
            tenant=batch.tenant,
            batchId=batch.batch_id,
            chunk=index,
            taskIds=ids[start : start + TASKS_PER_MESSAGE],
            templateId=batch.template_id,
            integration=integration,
        )
        for index, start in enumerate(range(0, len(ids), TASKS_PER_MESSAGE))
    ]


def _reject(backends: Backends, batch: BatchRecord) -> bool:
    """Accepting -> Rejected; False only when the batch turns out to be Accepted after all."""
    try:
        return backends.batches.try_set_batch_state(
            batch.tenant, batch.batch_id, BatchState.ACCEPTING, BatchState.REJECTED
        )
    except Exception:
        # Left Accepting, the batch is abandoned at the horizon: its messages run nothing.
        logger.exception("could not mark the batch rejected", extra={"batch_id": batch.batch_id})
        return True


def _release(backends: Backends, batch: BatchRecord, reservation: licensing.Reservation) -> None:
    """Refund the units and drop the input, each on its own: one failing must not skip the other."""
    for step in (lambda: licensing.release(backends, reservation), lambda: backends.documents.delete(batch.input_key)):
        try:
            step()
        except Exception:
            logger.exception("rollback step failed", extra={"batch_id": batch.batch_id})


def _accepted(backends: Backends, tenant: str, batch_id: str) -> BatchRecord:
    batch = backends.batches.get_batch(tenant, batch_id, epoch(backends.clock.now()))
    if batch is None or batch.state is not BatchState.ACCEPTED:
        raise NotFound(f"Batch {batch_id} not found")
    return batch


def get(backends: Backends, tenant: str, batch_id: str, with_results: bool = False) -> BatchView:
    """The batch's status; `with_results` adds each finished task's results, presigned, from the
    chunks this reads anyway (signing is local: no AWS call more than without)."""
    batch = _accepted(backends, tenant, batch_id)
    chunks = backends.batches.chunks(tenant, batch_id)
    outcomes = {task_id: o for chunk in chunks for task_id, o in chunk.outcomes.items()}
    running = sum(len(c.task_ids) for c in chunks if c.state is UnitState.RUNNING)
    total = len(batch.task_ids)
    finished = batch.succeeded + batch.failed
    if batch.completed_at is not None:
        phase = BatchPhase.COMPLETED
    elif chunks:
        phase = BatchPhase.STARTED
    else:
        phase = BatchPhase.WAITING
    return BatchView(
        posted=batch.posted,
        phase=phase,
        completed_at=batch.completed_at,
        tasks=[_task_state(backends, tenant, batch_id, task_id, outcomes, with_results) for task_id in batch.task_ids],
        queued=max(total - running - finished, 0),
        running=running,
        succeeded=batch.succeeded,
        failed=batch.failed,
    )


def _task_state(
    backends: Backends, tenant: str, batch_id: str, task_id: str, outcomes: Mapping[str, TaskOutcome], with_results: bool
) -> BatchTaskState:
    outcome = outcomes.get(task_id)
    if outcome is None:
        return BatchTaskState(id=task_id, completed=False, errors=False, results=[] if with_results else None)
    results = document_tasks.view(backends, outcome.record(tenant, batch_id)).results if with_results else None
    return BatchTaskState(id=task_id, completed=True, errors=not outcome.ok, results=results)


def get_task(backends: Backends, tenant: str, batch_id: str, task_id: str) -> DocumentTaskView:
    batch = _accepted(backends, tenant, batch_id)
    if task_id not in batch.task_ids:
        raise NotFound(f"Task {task_id} not found in batch {batch_id}")
    chunk = backends.batches.get_chunk(tenant, batch_id, batch.task_ids.index(task_id) // TASKS_PER_MESSAGE)
    if chunk is None:
        record = DocumentTaskRecord.queued(tenant, task_id, batch_id)
    elif task_id in chunk.outcomes:
        record = chunk.outcomes[task_id].record(tenant, batch_id)
    else:
        record = DocumentTaskRecord.running(tenant, task_id, batch_id, chunk.start)
    return document_tasks.view(backends, record)
