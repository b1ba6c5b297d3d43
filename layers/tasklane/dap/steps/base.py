"""What every step kind shares: the model base, `if`, and the field checks.

A step kind is one module in this package: its spec (the mapping under the step's key), its step
model (whose only field is named after the kind), the cross-step facts the manifest checks
(`defines`, `needs`, `templates`) and its handler, `run`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..run import RunState

RESERVED_NAMES = frozenset({"param", "task", "batch", "dynamoAPI"})
# Jinja treats these as literals, so an output with such a name could never be read.
_JINJA_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
# Used with fullmatch: `$` alone would accept a trailing newline.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_EXPRESSION_CHARS = 2000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def check_package_path(path: str) -> str:
    segments = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(s in ("", ".", "..") for s in segments):
        raise ValueError(f"{path!r} is not a relative path inside the package")
    return path


def check_expression(value: str) -> str:
    """A Jinja2 expression (no braces): its syntax is checked here, it runs sandboxed in the engine."""
    from jinja2 import Environment, TemplateSyntaxError

    try:
        Environment().compile_expression(value)
    except TemplateSyntaxError as error:
        raise ValueError(f"{value!r} is not a valid expression: {error.message}") from error
    return value


def check_output_name(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value) or value in _JINJA_CONSTANTS:
        raise ValueError(f"{value!r} is not a valid name (letters, digits, _; not starting with a digit)")
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved")
    return value


class Conditional(Model):
    """Every spec may carry `if`: an expression; the step is skipped when it is false."""

    if_: str | None = Field(default=None, alias="if", min_length=1, max_length=MAX_EXPRESSION_CHARS)

    @field_validator("if_")
    @classmethod
    def _check_if(cls, value: str | None) -> str | None:
        return check_expression(value) if value is not None else None


class Named(Conditional):
    """A spec whose step binds a name (`as`) for later steps: an identifier, unique, not reserved."""

    as_: str = Field(alias="as")

    @field_validator("as_")
    @classmethod
    def _check_as(cls, value: str) -> str:
        return check_output_name(value)


class StepModel(Model):
    kind: ClassVar[str]
    # Whether the name it defines is an output that `store` and `convert` can take.
    makes_output: ClassVar[bool] = False

    @property
    def spec(self) -> Any:
        return getattr(self, self.kind)

    def defines(self) -> str | None:
        """The name this step binds for later steps, if any."""
        return None

    def needs(self) -> str | None:
        """The earlier output this step reads, if any."""
        return None

    def templates(self) -> list[str]:
        """Package files this step renders as templates."""
        return []

    def template_strings(self) -> dict[str, str]:
        """Fields of its spec that are template strings (`"{{ param.id }}"`): checked at upload."""
        return {}

    def run(self, state: RunState, index: int) -> None:
        raise NotImplementedError
