"""The worker: runs the tasks of one queue message, idempotently.

A message is a run unit: one single task, or one chunk of up to ten tasks of a batch. The unit is
claimed with a conditional write (never started -> Running, with a lease) and finished with another
that only lands while this run still owns it, so a redelivered message for a finished unit does
nothing, and a unit whose run died is claimed again once its lease has run out.

So each task is rendered to completion once and counted once, however often its message arrives:
the counters move only with the finishing write. A run that takes over from one that died may find
that run's side effects: its results are stored again under the same keys, and each Salesforce
attachment is looked up by the marker naming its task and result before one is added, so a record
gets one ContentVersion per result. Only a takeover looks (a Salesforce query per attachment),
whatever the message's receive count says: no other run can have attached anything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from tasklane import observability
from tasklane.dap import Dap, DataSource, DataSourceError, Engine, RunContext
from tasklane.domain.errors import ServiceUnavailable
from tasklane.domain.integrations import SealedIntegration, seal_context
from tasklane.domain.templates import DapCache
from tasklane.domain.records import STATUS_TTL_SECONDS, BatchState, LogLine, UnitMessage, TaskOutcome, RunUnit
from tasklane.storage import Backends
from tasklane.timeutil import epoch, iso

logger = Logger(child=True)

# POST /v1/batch runs at most 29 s (its Lambda timeout); an Accepting batch older than this was abandoned.
ACCEPT_HORIZON = timedelta(seconds=40)
NOT_YET_ACCEPTED_RETRY_SECONDS = 2


# Keep this much of the invocation for writing outcomes; below MIN_START, leave the message for later.
SAFETY_MS = 5_000
MIN_START_MS = 15_000


GAVE_UP = "The task could not be run: every attempt failed"
UNREADABLE = "The task could not be run: its queue message could not be read"

# A chunk's item holds the outcomes of up to ten tasks and must stay under DynamoDB's 400 KB item
# limit whatever a template logs or fails with: each outcome is bounded before it is written.
MAX_OUTCOME_BYTES = 32 * 1024
MAX_MESSAGE_CHARS = 1000
MAX_RESULTS_BYTES = 24 * 1024


class BatchNotYetAccepted(Exception):
    """The message outran the commit of its batch: try again in a moment."""


class OutOfTime(Exception):
    """Too little of the invocation is left to run this message: it comes back after its visibility timeout."""


@dataclass(frozen=True)
class RunnableBatch:
    """What the worker needs of an Accepted batch; Accepted is final, so it is cached."""

    params: dict[str, dict[str, Any]]
    expires_at: int


class Worker:
    def __init__(self, backends: Backends, engine: Engine | None = None) -> None:
        self._backends = backends
        self._engine = engine or Engine(converter=backends.converter)
        self._daps = DapCache()
        self._batches: OrderedDict[tuple[str, str], RunnableBatch] = OrderedDict()

    def handle(
        self, message: UnitMessage, receipt_handle: str, remaining_ms: int, receive_count: int = 1
    ) -> list[TaskOutcome]:
        """Run the unit this message names unless it is done or running elsewhere; returns the outcomes written."""
        moment = self._backends.clock.now()
        unit = message.key
        if message.batchId is None:
            params_of = {message.taskIds[0]: message.params or {}}
            expires_at = epoch(moment) + STATUS_TTL_SECONDS
        else:
            batch = self._accepted_batch(message, receipt_handle, moment, receive_count)
            if batch is None:
                return []
            params_of, expires_at = batch.params, batch.expires_at

        if remaining_ms < MIN_START_MS:
            raise OutOfTime(f"{remaining_ms} ms left")
        deadline = time.monotonic() + (remaining_ms - SAFETY_MS) / 1000
        run_id = uuid.uuid4().hex
        store = self._backends.units(message)
        claim = store.claim(
            message,
            run_id,
            iso(moment),
            epoch(moment),
            lease_until=epoch(moment) + remaining_ms // 1000 + 1,
            expires_at=expires_at,
        )
        if claim is None:
            return []
        dap = self._daps.load(self._backends, message.tenant, message.templateId)
        data = self._data_source(message, dap, params_of, deadline)
        outcomes = []
        for task_id in message.taskIds:
            left = deadline - time.monotonic()
            if left <= 0:
                # The unit stays Running under its lease, which outlasts this invocation: a later delivery reruns it.
                raise OutOfTime(f"unit {unit} not finished in this invocation")
            with observability.keys(task_id=task_id):
                outcomes.append(
                    self._run(message, dap, task_id, params_of.get(task_id, {}), left, data, claim.taken_over)
                )
        if not store.finish(message, outcomes, run_id, iso(self._backends.clock.now())):
            logger.warning("lease lost: another run finishes this unit", extra={"unit": unit})
            return []
        return outcomes

    def _accepted_batch(
        self, message: UnitMessage, receipt_handle: str, moment: datetime, receive_count: int
    ) -> RunnableBatch | None:
        assert message.batchId is not None
        key = (message.tenant, message.batchId)
        if key in self._batches:
            self._batches.move_to_end(key)
            return self._batches[key]
        batch = self._backends.batches.get_batch(message.tenant, message.batchId, epoch(moment))
        if batch is None or batch.state is BatchState.REJECTED:
            logger.info("batch not accepted: message dropped", extra={"batch_id": message.batchId})
            return None
        if batch.state is BatchState.ACCEPTING:
            decided_at = datetime.fromisoformat(batch.posted) + ACCEPT_HORIZON
            if moment > decided_at:
                logger.warning("batch abandoned while accepting: message dropped", extra={"batch_id": batch.batch_id})
                return None
            # First retry soon (the commit is usually a moment away), then once the outcome is certain,
            # so that a slow accept costs at most two extra receives.
            delay = NOT_YET_ACCEPTED_RETRY_SECONDS if receive_count <= 1 else int((decided_at - moment).total_seconds()) + 1
            self._backends.queue.retry_soon(receipt_handle, delay)
            raise BatchNotYetAccepted(batch.batch_id)
        raw = self._backends.documents.get_input(batch.input_key)
        if raw is None:
            raise RuntimeError(f"batch input {batch.input_key} is missing")
        found = RunnableBatch(
            params=json.loads(raw)["tasks"],
            expires_at=epoch(datetime.fromisoformat(batch.posted)) + STATUS_TTL_SECONDS,
        )
        self._batches[key] = found
        while len(self._batches) > 8:
            self._batches.popitem(last=False)
        return found

    def give_up(self, unit: RunUnit, reason: str = GAVE_UP) -> list[TaskOutcome]:
        """A unit no run can finish (dead-lettered, or its message unreadable): its tasks end failed
        with `reason` instead of waiting forever; a unit that did finish after all is left alone."""
        start = iso(self._backends.clock.now())
        outcomes = [_failed(task_id, reason, start) for task_id in unit.taskIds]
        if self._backends.units(unit).give_up(unit, outcomes, start):
            return outcomes
        return []

    def _data_source(
        self, message: UnitMessage, dap: Dap | None, params_of: dict[str, dict[str, Any]], deadline: float
    ) -> DataSource | None:
        """The unit's integration, session unsealed, with the records its tasks read fetched together."""
        if message.integration is None:
            return None
        from tasklane.integrations.salesforce import HostNotAllowed

        sealed = SealedIntegration.from_message(message.integration)
        unit_name = message.batchId or message.taskIds[0]
        try:
            session_id = self._backends.sealer.unseal(sealed.sealed_session, seal_context(message.tenant, unit_name))
        except ServiceUnavailable:
            raise  # KMS busy: the unit is redelivered, its tasks not failed
        except Exception:
            logger.exception("integration session could not be unsealed", extra={"unit": message.ref().model_dump()})
            return Unavailable("The Salesforce session could not be read; post the task again")
        try:
            source = self._backends.salesforce(sealed.server_url, session_id, deadline)
        except HostNotAllowed as refused:  # the allowlist changed since the task was accepted
            return Unavailable(f"integration.serverURL: {refused}")
        if dap is not None:
            reads = [
                read
                for task_id in message.taskIds
                for read in self._engine.planned_reads(
                    dap, params_of.get(task_id, {}), RunContext(task_id=task_id, batch_id=message.batchId)
                )
            ]
            source.prefetch(reads)
        return source

    def _run(
        self,
        message: UnitMessage,
        dap: Dap | None,
        task_id: str,
        params: dict[str, Any],
        time_left: float,
        data: DataSource | None = None,
        rerun: bool = False,
    ) -> TaskOutcome:
        start = iso(self._backends.clock.now())
        if dap is None:
            return _failed(task_id, f"Template {message.templateId} no longer exists", start)
        try:
            context = RunContext(task_id=task_id, batch_id=message.batchId)
            result = self._engine.run(dap, params, context, time_left, data=data)
        except Exception:
            logger.exception("engine error", extra={"task_id": task_id})
            return _failed(task_id, "Internal error while running the template", start)
        logs = [LogLine(level=e.level, message=e.message) for e in result.logs]
        if result.refused:
            # A template tried what the sandbox forbids (an escape attempt, or a careless template).
            logger.warning(
                "sandbox refused a template",
                extra={"tenant": message.tenant, "template_id": message.templateId, "task_id": task_id,
                       "reason": result.status_message[:300]},
            )  # fmt: skip
        if not result.ok:
            return bounded(TaskOutcome(task_id, False, result.status_message, logs, [], start, iso(self._backends.clock.now())))
        # An S3 failure raises: the message is retried and the unit re-run once its lease runs out.
        stored = [
            self._backends.documents.put_result(
                message.tenant, task_id, doc.id, doc.filename, doc.content, doc.content_type
            )
            for doc in result.documents
        ]
        for doc in result.documents:
            if doc.attach_to is None or data is None:
                continue
            try:
                # The marker names this result, so that a rerun finds the version it attached before.
                marker = f"tasklane:{task_id}:{doc.id}"
                data.attach(doc.attach_to, doc.filename, doc.content, marker, check_first=rerun)
            except DataSourceError as error:
                message_text = f"Result '{doc.id}' was stored but not attached to {doc.attach_to}: {error}"
                return bounded(_failed(task_id, message_text, start, iso(self._backends.clock.now())))
            logs.append(LogLine("INFO", f"Attached '{doc.filename}' to {doc.attach_to}"))
        return bounded(TaskOutcome(task_id, True, result.status_message, logs, stored, start, iso(self._backends.clock.now())))


class Unavailable:
    """The integration of a unit that cannot reach it: every read says why."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def record(self, type_: str, id_: str, fields: list[str]) -> dict[str, Any]:
        raise DataSourceError(self._reason)

    def query(self, soql: str) -> list[dict[str, Any]]:
        raise DataSourceError(self._reason)

    def attach(self, record_id: str, filename: str, content: bytes, marker: str, check_first: bool) -> str:
        raise DataSourceError(self._reason)


def _failed(task_id: str, message: str, start: str, end: str | None = None) -> TaskOutcome:
    return TaskOutcome(task_id, False, message, [LogLine("SEVERE", message)], [], start, end or start)


def _clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[:MAX_MESSAGE_CHARS]}... (truncated from {len(text)} characters)"


def _size(value: object) -> int:
    return len(json.dumps(value))


def bounded(outcome: TaskOutcome) -> TaskOutcome:
    """The outcome as it can be stored: messages clipped, logs cut to what fits MAX_OUTCOME_BYTES
    (with a note saying how many were left out), and too many results turned into a clear failure."""
    results_size = _size([asdict(r) for r in outcome.results])
    if results_size > MAX_RESULTS_BYTES:
        message = (
            f"The task stored {len(outcome.results)} documents, whose status takes {results_size} bytes;"
            f" at most {MAX_RESULTS_BYTES} fit: store fewer documents or shorter filenames"
        )
        return _failed(outcome.task_id, message, outcome.start, outcome.end)
    status_message = _clip(outcome.status_message)
    budget = MAX_OUTCOME_BYTES - results_size - _size(status_message) - 512
    logs: list[LogLine] = []
    for index, line in enumerate(outcome.logs):
        kept = LogLine(line.level, _clip(line.message))
        budget -= _size(asdict(kept))
        if budget < 0:
            left_out = len(outcome.logs) - index
            logs.append(LogLine("WARNING", f"{left_out} more log entries were not kept (status size limit)"))
            break
        logs.append(kept)
    return TaskOutcome(
        outcome.task_id, outcome.ok, status_message, logs, list(outcome.results), outcome.start, outcome.end
    )
