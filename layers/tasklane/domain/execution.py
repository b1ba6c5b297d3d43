"""The worker: runs the tasks of one queue message, idempotently per task.

A message names up to ten tasks. Each task is claimed with a conditional write (Queued -> Running),
so a redelivered message re-runs only the tasks that have not finished; a task whose run died is
claimed again once its lease has run out. Counters of the batch move in the same transactions.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from tasklane.dap import Dap, Engine, RunContext
from tasklane.domain.templates import DapCache
from tasklane.models.records import STATUS_TTL_SECONDS, BatchState, LogLine, TaskMessage, TaskOutcome
from tasklane.storage import Backends
from tasklane.timeutil import epoch, iso, now

logger = Logger(child=True)

# POST /v1/batch finishes within API Gateway's 29 s; an Accepting batch older than this was abandoned.
ACCEPT_HORIZON = timedelta(seconds=60)
NOT_YET_ACCEPTED_RETRY_SECONDS = 2


class BatchNotYetAccepted(Exception):
    """The message outran the commit of its batch: try again in a moment."""


@dataclass(frozen=True)
class BatchInput:
    params: dict[str, dict[str, Any]]


class Worker:
    def __init__(self, backends: Backends, engine: Engine | None = None) -> None:
        self._backends = backends
        self._engine = engine or Engine()
        self._daps = DapCache()
        self._inputs: OrderedDict[str, BatchInput] = OrderedDict()

    def handle(self, message: TaskMessage, receipt_handle: str, remaining_ms: int) -> list[TaskOutcome]:
        """Run what this message names and has not finished; returns the outcomes written."""
        moment = now()
        tasks = self._backends.tasks
        if message.batchId is None:
            params_of = {message.taskIds[0]: message.params or {}}
            expires_at = epoch(moment) + STATUS_TTL_SECONDS
        else:
            batch = tasks.get_batch(message.tenant, message.batchId, epoch(moment), consistent=True)
            if batch is None or batch.state is BatchState.REJECTED:
                logger.info("batch not accepted: message dropped", extra={"batch_id": message.batchId})
                return []
            if batch.state is BatchState.ACCEPTING:
                if moment - datetime.fromisoformat(batch.posted) > ACCEPT_HORIZON:
                    logger.warning("batch abandoned while accepting: message dropped", extra={"batch_id": batch.batch_id})
                    return []
                self._backends.queue.retry_soon(receipt_handle, NOT_YET_ACCEPTED_RETRY_SECONDS)
                raise BatchNotYetAccepted(batch.batch_id)
            params_of = self._batch_input(batch.input_key).params
            expires_at = epoch(datetime.fromisoformat(batch.posted)) + STATUS_TTL_SECONDS

        run_id = uuid.uuid4().hex
        claim = tasks.claim(
            message.tenant,
            message.batchId,
            message.taskIds,
            run_id,
            iso(moment),
            epoch(moment),
            lease_until=epoch(moment) + remaining_ms // 1000 + 1,
            expires_at=expires_at,
        )
        if not claim.task_ids:
            return []
        dap = self._daps.load(self._backends, message.tenant, message.templateId)
        outcomes = [self._run(message, dap, task_id, params_of.get(task_id, {})) for task_id in claim.task_ids]
        written = set(tasks.finish(message.tenant, message.batchId, outcomes, run_id))
        return [o for o in outcomes if o.task_id in written]

    def _run(self, message: TaskMessage, dap: Dap | None, task_id: str, params: dict[str, Any]) -> TaskOutcome:
        if dap is None:
            return _failed(task_id, f"Template {message.templateId} no longer exists")
        try:
            result = self._engine.run(dap, params, RunContext(task_id=task_id, batch_id=message.batchId))
        except Exception:
            logger.exception("engine error", extra={"task_id": task_id})
            return _failed(task_id, "Internal error while running the template")
        logs = [LogLine(level=e.level, message=e.message) for e in result.logs]
        if not result.ok:
            return TaskOutcome(task_id, False, result.status_message, logs, [], iso(now()))
        # An S3 failure raises: the message is retried and the task re-run once its lease runs out.
        stored = [
            self._backends.documents.put_result(
                message.tenant, task_id, doc.id, doc.filename, doc.content, doc.content_type
            )
            for doc in result.documents
        ]
        return TaskOutcome(task_id, True, result.status_message, logs, stored, iso(now()))

    def _batch_input(self, key: str) -> BatchInput:
        if key in self._inputs:
            self._inputs.move_to_end(key)
            return self._inputs[key]
        raw = self._backends.documents.get_input(key)
        if raw is None:
            raise RuntimeError(f"batch input {key} is missing")
        found = BatchInput(params=json.loads(raw)["tasks"])
        self._inputs[key] = found
        while len(self._inputs) > 8:
            self._inputs.popitem(last=False)
        return found


def _failed(task_id: str, message: str) -> TaskOutcome:
    return TaskOutcome(task_id, False, message, [LogLine("SEVERE", message)], [], iso(now()))
