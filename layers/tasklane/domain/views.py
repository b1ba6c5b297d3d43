"""What the document family's domain answers: plain views of its records, in no wire format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tasklane.domain.records import DocumentTaskRecord


@dataclass(frozen=True)
class TemplateView:
    id: str
    name: str
    sha256: str
    size: int
    uploaded: datetime


@dataclass(frozen=True)
class AcceptedTask:
    task_id: str
    units_used: int
    quota: int


@dataclass(frozen=True)
class AcceptedBatch:
    batch_id: str
    task_ids: list[str]
    units: int


@dataclass(frozen=True)
class ResultLink:
    id: str
    url: str


@dataclass(frozen=True)
class DocumentTaskView:
    record: DocumentTaskRecord
    results: list[ResultLink]


class BatchPhase(StrEnum):
    WAITING = "Waiting"
    STARTED = "Started"
    COMPLETED = "Completed"


@dataclass(frozen=True)
class BatchTaskState:
    id: str
    completed: bool
    errors: bool
    # Asked for (GET /v1/batch/{batchId}?results=true): a finished task's results, presigned.
    results: list[ResultLink] | None = None


@dataclass(frozen=True)
class BatchView:
    posted: str
    phase: BatchPhase
    completed_at: str | None
    tasks: list[BatchTaskState]
    queued: int
    running: int
    succeeded: int
    failed: int

    @property
    def completed(self) -> bool:
        return self.phase is BatchPhase.COMPLETED


@dataclass(frozen=True)
class LicenseView:
    term: str
    used: int
    quota: int
    remaining: int
