"""`- store: {from: offer, id: Offer, filename: "offer-{{ param.id }}.pdf", attachTo: record}`: a result.

Each store adds one result (`results`/`resultList`) with its id; a list output (foreach) stores
one result per item, with ids `<id>-1`, `<id>-2`, ... and a filename template that sees the item.
`attachTo: record` marks the result to be attached to the task's record (its `id` param) through
the integration once it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from ..files import guess_content_type, safe_filename
from ..run import ForeachOutput, Output, RunFailure, RunState, StoredDocument
from .base import Conditional, StepModel

_RESULT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *;[\x20-\x7e]*)?")


class StoreSpec(Conditional):
    from_: str = Field(alias="from")
    id: str
    filename: str | None = Field(default=None, min_length=1, max_length=1000)
    content_type: str | None = Field(default=None, max_length=200)
    attach_to: Literal["record"] | None = Field(default=None, alias="attachTo")

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _RESULT_ID.fullmatch(value):
            raise ValueError(f"{value!r} must be 1-64 characters from A-Z a-z 0-9 _ . -")
        return value


    @field_validator("content_type")
    @classmethod
    def _check_content_type(cls, value: str | None) -> str | None:
        # Ends up in an HTTP/S3 header: refuse anything that could smuggle another header.
        if value is not None and not _CONTENT_TYPE.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid content type")
        return value


class StoreStep(StepModel):
    kind: ClassVar[str] = "store"
    store: StoreSpec

    def needs(self) -> str:
        return self.store.from_

    def template_strings(self) -> dict[str, str]:
        return {} if self.store.filename is None else {"filename": self.store.filename}

    def run(self, state: RunState, index: int) -> None:
        spec = self.store
        attach_to = None
        if spec.attach_to == "record":
            from .record import record_id

            raw = state.variables["param"].get("id")
            attach_to = record_id(raw) if isinstance(raw, str) else None
            if attach_to is None:
                raise RunFailure(f"Store '{spec.id}': 'attachTo: record' needs the task's 'id' param to be a record id")
        source = state.output(spec.from_, f"Store '{spec.id}'")
        if not isinstance(source, ForeachOutput):
            _store_one(state, spec, spec.id, source, state.variables, attach_to)
            return
        for number, (output, item) in enumerate(zip(source.outputs, source.items, strict=True), start=1):
            variables = {**state.variables, source.item_name: item}
            _store_one(state, spec, f"{spec.id}-{number}", output, variables, attach_to)


def _store_one(
    state: RunState,
    spec: StoreSpec,
    result_id: str,
    output: Output,
    variables: Mapping[str, Any],
    attach_to: str | None,
) -> None:
    default = result_id + output.suffix
    filename = default
    if spec.filename is not None:
        raw = state.render_string(spec.filename, variables, f"Filename template of store '{spec.id}'")
        filename = safe_filename(raw, default)
    state.charge_output(len(output.content))
    # A text output's type follows the file it is stored as (a .txt template stored as .csv).
    content_type = spec.content_type or (guess_content_type(filename) if output.text is not None else output.content_type)
    state.documents.append(
        StoredDocument(
            id=result_id, filename=filename, content=output.content, content_type=content_type, attach_to=attach_to
        )
    )
    state.info(f"Stored '{result_id}' as '{filename}' ({len(output.content)} bytes, {content_type})")
