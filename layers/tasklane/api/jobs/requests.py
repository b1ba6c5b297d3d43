"""The jobs family's requests read into the domain's terms: bodies, query strings, the team claim."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from tasklane.api import strict_json
from tasklane.api.http import Caller
from tasklane.api.jobs.models import BasicSyncRequest
from tasklane.api.validation import parse
from tasklane.domain.errors import BadRequest, problem
from tasklane.domain.job_records import JobAccess, JobDoc, StepDoc, StepKind, Sync, moment

MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
TEAM_CLAIM = "team"
_INTEGER = re.compile(r"[0-9]{1,7}")
Model = TypeVar("Model", bound=BaseModel)


def json_object(raw: bytes, content_type: str | None) -> dict[str, Any]:
    return strict_json.object_body(raw, content_type, MAX_BODY_BYTES)


def body(model: type[Model], raw: bytes, content_type: str | None) -> Model:
    return parse(model, json_object(raw, content_type))


def sync(raw: bytes, content_type: str | None) -> Sync:
    """basicSync's body: validated whole, then kept as sent (unknown fields included)."""
    data = json_object(raw, content_type)
    request = parse(BasicSyncRequest, data)
    steps = []
    for kind, field in ((StepKind.COMPLETED, "completedSteps"), (StepKind.CANCELLED, "cancelledSteps")):
        for sent, parsed in zip(data.get(field) or [], getattr(request, field) or [], strict=True):
            steps.append(StepDoc(kind, parsed.singleStep.uniqueStepId, moment(parsed.singleStep.updated), sent))
    document = {k: v for k, v in data.items() if k not in ("completedSteps", "cancelledSteps")}
    return Sync(doc=JobDoc(client_job_id=request.metadata.clientJobId, document=document), steps=steps)


def job_access(caller: Caller) -> JobAccess:
    # A team claim limits the caller even when empty (then to jobs without a team... none match).
    return JobAccess(tenant=caller.tenant, team=caller.claims.get(TEAM_CLAIM))


def _integer(parameters: Mapping[str, str], name: str, default: int) -> int:
    text = parameters.get(name)
    if text is None:
        return default
    if not _INTEGER.fullmatch(text):
        raise BadRequest(f"{name} must be a non-negative integer", [problem(name, "expected a non-negative integer")])
    return int(text)


def skip_limit(parameters: Mapping[str, str]) -> tuple[int, int]:
    skip, limit = _integer(parameters, "skip", 0), _integer(parameters, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", [problem("limit", "out of range")])
    return skip, limit
