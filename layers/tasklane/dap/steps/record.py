"""`- record: {as: account, type: Account, id: "{{ param.id }}", fields: [Name, Industry]}`: one record.

Read through the task's integration (`DataSource`); a missing record fails the task naming it.
The worker may read the records of a whole run unit in one call beforehand (`planned_read`):
the step then finds its record among those.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from ..ports import DataSourceError, RecordNotFound
from ..run import RunFailure, RunState
from .base import Named, StepModel

# Salesforce API names: letters, digits, underscores (custom ones end in __c), relationship paths with dots.
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,4}")
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
MAX_FIELDS = 100


class RecordSpec(Named):
    type: str
    id: str = Field(min_length=1, max_length=1000)
    fields: list[str] = Field(min_length=1, max_length=MAX_FIELDS)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if not _API_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an object API name")
        return value

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _FIELD.fullmatch(name):
                raise ValueError(f"{name!r} is not a field API name")
        return value



def record_id(raw: str) -> str | None:
    """The id when it is a Salesforce record id (15 or 18 characters), else None."""
    value = raw.strip()
    return value if _RECORD_ID.fullmatch(value) else None


class RecordStep(StepModel):
    kind: ClassVar[str] = "record"
    record: RecordSpec

    def defines(self) -> str:
        return self.record.as_

    def planned_read(self, state: RunState) -> tuple[str, tuple[str, ...], str] | None:
        """(type, fields, id) when the id follows from the params alone; None otherwise."""
        spec = self.record
        if spec.if_ is not None:
            return None
        try:
            raw = state.render_string(spec.id, state.variables, "id")
        except RunFailure:
            return None
        found = record_id(raw)
        return None if found is None else (spec.type, tuple(spec.fields), found)

    def template_strings(self) -> dict[str, str]:
        return {"id": self.record.id}

    def run(self, state: RunState, index: int) -> None:
        spec = self.record
        label = f"Record '{spec.as_}'"
        if state.data is None:
            raise RunFailure(f"{label}: the task has no integration to read records through")
        found = record_id(state.render_string(spec.id, state.variables, f"{label} id"))
        if found is None:
            raise RunFailure(f"{label}: the id is not a {spec.type} record id (15 or 18 letters and digits)")
        try:
            with state.waiting():  # Salesforce's time is not the template's: the session has its own deadline
                record: Mapping[str, Any] = state.data.record(spec.type, found, list(spec.fields))
        except RecordNotFound:
            raise RunFailure(f"{label}: {spec.type} {found} was not found") from None
        except DataSourceError as exc:
            raise RunFailure(f"{label}: {exc}") from None
        state.variables[spec.as_] = dict(record)
        state.info(f"Read {spec.type} {found} as '{spec.as_}'")
