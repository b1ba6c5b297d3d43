"""What the document family keeps: document task and batch records, run units and their queue messages.

Storage turns records into items; no wire format appears here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

STATUS_TTL_SECONDS = 24 * 3600
TASKS_PER_MESSAGE = 10


class UnitState(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"


@dataclass(frozen=True)
class Claim:
    """A run's hold on a unit. `taken_over`: an earlier run claimed it and died (its lease ran out),
    so some of that run's side effects (stored results, attachments) may exist already."""

    taken_over: bool


class BatchState(StrEnum):
    """A batch is runnable only once ACCEPTED: the commit point of POST /v1/batch."""

    ACCEPTING = "Accepting"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class StoredResult:
    id: str
    key: str
    filename: str
    content_type: str


@dataclass(frozen=True)
class LogLine:
    level: str
    message: str


@dataclass
class DocumentTaskRecord:
    tenant: str
    task_id: str
    batch_id: str | None
    state: UnitState
    status_message: str
    errors: bool = False
    start: str | None = None
    end: str | None = None
    logs: list[LogLine] = field(default_factory=list)
    results: list[StoredResult] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.state is UnitState.COMPLETED

    @classmethod
    def queued(cls, tenant: str, task_id: str, batch_id: str | None) -> DocumentTaskRecord:
        return cls(tenant=tenant, task_id=task_id, batch_id=batch_id, state=UnitState.QUEUED, status_message="Queued")

    @classmethod
    def running(cls, tenant: str, task_id: str, batch_id: str | None, start: str | None) -> DocumentTaskRecord:
        return cls(
            tenant=tenant, task_id=task_id, batch_id=batch_id, state=UnitState.RUNNING, status_message="Running", start=start
        )


@dataclass
class ChunkRow:
    """One message's share of a batch as the worker recorded it: up to ten tasks run together."""

    index: int
    state: UnitState
    task_ids: list[str]
    outcomes: dict[str, TaskOutcome]
    start: str | None


@dataclass
class BatchRecord:
    tenant: str
    batch_id: str
    state: BatchState
    template_id: str
    input_key: str
    task_ids: list[str]
    posted: str
    succeeded: int = 0
    failed: int = 0
    # Written once, by the worker that finishes the batch's last task.
    completed_at: str | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """A finished run of one task, ready to be written."""

    task_id: str
    ok: bool
    status_message: str
    logs: list[LogLine]
    results: list[StoredResult]
    start: str
    end: str

    def record(self, tenant: str, batch_id: str | None) -> DocumentTaskRecord:
        return DocumentTaskRecord(
            tenant=tenant,
            task_id=self.task_id,
            batch_id=batch_id,
            state=UnitState.COMPLETED,
            status_message=self.status_message,
            errors=not self.ok,
            start=self.start,
            end=self.end,
            logs=list(self.logs),
            results=list(self.results),
        )


UNIT_ATTRIBUTE = "unit"


class RunUnit(BaseModel):
    """Which run unit a message names: one single task, or one chunk (up to ten task ids) of a batch.

    It travels twice: inside the body, and as the SQS message attribute `unit`, flat and small, so
    that it parses whatever the body holds; a message the worker cannot read still ends its tasks failed.
    """

    model_config = ConfigDict(extra="forbid")

    tenant: str
    batchId: str | None = None
    chunk: int | None = None
    taskIds: list[str] = Field(min_length=1, max_length=TASKS_PER_MESSAGE)

    @model_validator(mode="after")
    def _chunk_goes_with_batch(self) -> Self:
        if (self.batchId is None) != (self.chunk is None):
            raise ValueError("a batch message names its chunk; a single task's message has neither")
        if self.batchId is None and len(self.taskIds) != 1:
            raise ValueError("a single task's message names exactly one task")
        return self

    @property
    def key(self) -> str | int:
        """The unit within its tenant: the single task's id, or the chunk's index within its batch."""
        return self.taskIds[0] if self.chunk is None else self.chunk

    def ref(self) -> RunUnit:
        return RunUnit(tenant=self.tenant, batchId=self.batchId, chunk=self.chunk, taskIds=list(self.taskIds))

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, Any]) -> RunUnit | None:
        """The unit named by a message's attributes, in the Lambda event's casing or the SQS API's."""
        value = attributes.get(UNIT_ATTRIBUTE)
        if not isinstance(value, Mapping):
            return None
        text = value.get("stringValue", value.get("StringValue"))
        if not isinstance(text, str):
            return None
        try:
            return RunUnit.model_validate_json(text)
        except ValidationError:
            return None


class UnitMessage(RunUnit):
    """One SQS message: the unit it names, with what running it needs (a single task carries its params)."""

    v: int = 1
    templateId: str
    params: dict[str, Any] | None = None
    integration: dict[str, Any] | None = None
