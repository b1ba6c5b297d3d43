"""What a client asks the document family to run, as plain data: each family's wire layer builds these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Integration:
    """An outside system a task reads from and writes to with the caller's session."""

    type: str
    session_id: str = field(repr=False)
    server_url: str


@dataclass(frozen=True)
class TemplateSource:
    """A stored template by id, or a DAP posted with the request (stored when the request commits)."""

    reference: str | None = None
    embedded: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PartLink:
    """Put the named part's value at params[param_name]."""

    part_name: str
    param_name: str


@dataclass(frozen=True)
class BatchTask:
    params: dict[str, Any]
    links: list[PartLink] = field(default_factory=list)


@dataclass(frozen=True)
class TaskSubmission:
    template: TemplateSource
    params: dict[str, Any]
    integration: Integration | None = None


@dataclass(frozen=True)
class BatchSubmission:
    """Up to 1,000 tasks of one template; `parts` are the named values their links refer to."""

    template: TemplateSource
    tasks: list[BatchTask]
    parts: dict[str, Any] = field(default_factory=dict)
    integration: Integration | None = None
