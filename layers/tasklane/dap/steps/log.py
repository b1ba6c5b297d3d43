"""`- log: {level: WARNING, message: "Large offer {{ total }}"}`: an entry in the task's `logs`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..run import RunState
from .base import MAX_EXPRESSION_CHARS, Conditional, StepModel


class LogSpec(Conditional):
    level: Literal["INFO", "WARNING", "SEVERE"] = "INFO"
    message: str = Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)



class LogStep(StepModel):
    kind: ClassVar[str] = "log"
    log: LogSpec

    def template_strings(self) -> dict[str, str]:
        return {"message": self.log.message}

    def run(self, state: RunState, index: int) -> None:
        label = f"Message of log step {index + 1}"
        state.logs.add(self.log.level, state.render_string(self.log.message, state.variables, label))
