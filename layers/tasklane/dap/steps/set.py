"""`- set: {as: total, value: "param.amount * 1.24"}`: a named value from a sandboxed expression."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from ..run import RunState
from .base import MAX_EXPRESSION_CHARS, Named, StepModel, check_expression


class SetSpec(Named):
    value: str = Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str) -> str:
        return check_expression(value)


class SetStep(StepModel):
    kind: ClassVar[str] = "set"
    set: SetSpec

    def defines(self) -> str:
        return self.set.as_

    def run(self, state: RunState, index: int) -> None:
        spec = self.set
        state.variables[spec.as_] = state.evaluate(spec.value, f"'set' of '{spec.as_}'")
        state.info(f"Set '{spec.as_}'")
