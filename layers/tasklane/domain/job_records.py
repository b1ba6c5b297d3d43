"""The jobs family's records: a field-work job, its steps, and who may see it, in no wire format
(the WorkfloPlus-compatible shapes live in `tasklane.api.jobs`).

A job is kept as JSON documents, as the client sent them, so fields a newer client adds survive:
the job's own document (metadata and the top-level fields beside the steps) and one document per step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any


# A job's id is part of DynamoDB and S3 keys: short and plain. `basicSync` names a route.
CLIENT_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
RESERVED_IDS = frozenset({"basicSync", "workflow"})
MAX_WORKFLOW_ID_CHARS = 200


def valid_client_job_id(text: str) -> bool:
    return bool(CLIENT_JOB_ID.fullmatch(text)) and text not in RESERVED_IDS


def readable_moment(text: Any) -> bool:
    """Whether `text` is an ISO 8601 timestamp (None counts as absent, which is fine)."""
    return text is None or moment(text) >= 0


class JobStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    ABORTED = "Aborted"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.ABORTED)


class StepKind(str, Enum):
    COMPLETED = "C"
    CANCELLED = "X"


def moment(text: Any) -> int:
    """A client timestamp as microseconds since the epoch; missing or unreadable reads as the oldest."""
    if not isinstance(text, str) or not text:
        return -1
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return -1
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1_000_000)


@dataclass(frozen=True)
class StepDoc:
    """One step as the client sent it (`{singleStep, reportStep, ...}`), keyed by its uniqueStepId."""

    kind: StepKind
    unique_id: str
    updated: int
    document: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.kind.value}:{self.unique_id}"

    def order(self) -> tuple[int, int, str]:
        single = self.document.get("singleStep") or {}
        number = single.get("stepNumber")
        return (number if isinstance(number, int) else 0, moment(single.get("completed")), self.unique_id)


@dataclass(frozen=True)
class JobDoc:
    """A sync's or a stored job's document without its steps: `metadata` and the fields beside it."""

    client_job_id: str
    document: dict[str, Any]

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.document.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def status(self) -> JobStatus:
        return JobStatus(self.metadata.get("status") or JobStatus.IN_PROGRESS.value)

    @property
    def updated(self) -> int:
        return moment(self.metadata.get("updated"))

    @property
    def workflow_id(self) -> str | None:
        value = self.metadata.get("workflowId")
        return value if isinstance(value, str) and value else None

    @property
    def team(self) -> str | None:
        value = self.document.get("team")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class StoredJob:
    """A job's header as stored: its document, its server id, when it was created, each step's
    newest `updated` and its size (`step_index`: ref -> [updated, bytes], so a sync finds what
    changed without reading the steps), and the version every header write checks."""

    job_id: str
    created: str
    doc: JobDoc
    step_index: dict[str, list[int]]
    step_bytes: int
    version: int


@dataclass(frozen=True)
class Ending:
    """The call that made a job final: `ok` when it ended Completed (False: Aborted), `start` when
    the job was created and `end` when it ended (server time, ISO)."""

    ok: bool
    start: str
    end: str


@dataclass(frozen=True)
class Job:
    stored: StoredJob
    completed_steps: list[StepDoc] = field(default_factory=list)
    cancelled_steps: list[StepDoc] = field(default_factory=list)
    # Set on the answer of the one call that made the job final; None on every other.
    ending: Ending | None = None


@dataclass(frozen=True)
class Sync:
    """A basicSync request: the job's document and its steps."""

    doc: JobDoc
    steps: list[StepDoc]


@dataclass(frozen=True)
class JobAccess:
    """Who asks: the tenant, and the team the token limits them to (None: every team)."""

    tenant: str
    team: str | None = None

    def allows(self, doc: JobDoc) -> bool:
        return self.team is None or doc.team == self.team


@dataclass(frozen=True)
class JobSummary:
    """A job as a listing shows it: its document and ids, not its steps."""

    job_id: str
    created: str
    doc: JobDoc
