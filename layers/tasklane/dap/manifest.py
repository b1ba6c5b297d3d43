"""Pydantic models for ``dap.yaml`` (format version 1).

Steps are single-key mappings (``- compose: {...}``). Each step kind is a model
whose only field is named after the kind; ``Step`` is a tagged union over them,
so a new kind is one model here, one entry in ``Step`` and one handler in the
engine.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

ParamType = Literal["string", "number", "integer", "boolean", "object", "array"]

RESERVED_NAMES = frozenset({"param", "task", "batch", "dynamoAPI"})
# Jinja treats these as literals, so an output with such a name could never be read.
_JINJA_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
# Used with fullmatch: `$` alone would accept a trailing newline.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_RESULT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *;[\x20-\x7e]*)?")


def param_type_matches(type_: ParamType, value: Any) -> bool:
    """Whether a (non-null) value has the declared param type.

    bool is an int subclass in Python, so it is excluded explicitly. Decimal is
    accepted because DynamoDB deserialises every number as Decimal.
    """
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "number":
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if type_ == "integer":
        if isinstance(value, Decimal):
            return value.is_finite() and value == value.to_integral_value()
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


def _check_package_path(path: str) -> str:
    segments = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(s in ("", ".", "..") for s in segments):
        raise ValueError(f"{path!r} is not a relative path inside the package")
    return path


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


MAX_EXPRESSION_CHARS = 2000


def _check_expression(value: str) -> str:
    """A Jinja2 expression (no braces): its syntax is checked here, it runs sandboxed in the engine."""
    from jinja2 import Environment, TemplateSyntaxError

    try:
        Environment().compile_expression(value)
    except TemplateSyntaxError as error:
        raise ValueError(f"{value!r} is not a valid expression: {error.message}") from error
    return value


def _check_output_name(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value) or value in _JINJA_CONSTANTS:
        raise ValueError(f"{value!r} is not a valid name (letters, digits, _; not starting with a digit)")
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved")
    return value


class _Conditional(_Model):
    """Every step may carry `if`: an expression; the step is skipped when it is false."""

    if_: str | None = Field(default=None, alias="if", min_length=1, max_length=MAX_EXPRESSION_CHARS)

    @field_validator("if_")
    @classmethod
    def _check_if(cls, value: str | None) -> str | None:
        return _check_expression(value) if value is not None else None


class ParamSpec(_Model):
    type: ParamType = "string"
    required: bool = False
    default: Any = None

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set and self.default is not None

    @model_validator(mode="after")
    def _default_matches_type(self) -> ParamSpec:
        if self.has_default and not param_type_matches(self.type, self.default):
            raise ValueError(f"default {self.default!r} is not of type {self.type!r}")
        return self


class ComposeSpec(_Conditional):
    template: str
    as_: str = Field(alias="as")
    # `foreach`: an expression giving a list; the template renders once per item, bound to `item`.
    foreach: str | None = Field(default=None, min_length=1, max_length=MAX_EXPRESSION_CHARS)
    item: str = "item"

    @field_validator("foreach")
    @classmethod
    def _check_foreach(cls, value: str | None) -> str | None:
        return _check_expression(value) if value is not None else None

    @field_validator("item")
    @classmethod
    def _check_item(cls, value: str) -> str:
        return _check_output_name(value)

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        return _check_package_path(value)

    @field_validator("as_")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_output_name(value)


class SetSpec(_Conditional):
    """`- set: {as: total, value: "param.amount * 1.24"}`: a named value from an expression."""

    as_: str = Field(alias="as")
    value: str = Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)

    @field_validator("as_")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_output_name(value)

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str) -> str:
        return _check_expression(value)


class LogSpec(_Conditional):
    """`- log: {level: WARNING, message: "Large offer {{ total }}"}`: an entry in the task's logs."""

    level: Literal["INFO", "WARNING", "SEVERE"] = "INFO"
    message: str = Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)


class StoreSpec(_Conditional):
    from_: str = Field(alias="from")
    id: str
    filename: str | None = Field(default=None, min_length=1, max_length=1000)
    content_type: str | None = Field(default=None, max_length=200)

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


class ComposeStep(_Model):
    kind: ClassVar[str] = "compose"
    compose: ComposeSpec

    @property
    def spec(self) -> ComposeSpec:
        return self.compose


class StoreStep(_Model):
    kind: ClassVar[str] = "store"
    store: StoreSpec

    @property
    def spec(self) -> StoreSpec:
        return self.store


class SetStep(_Model):
    kind: ClassVar[str] = "set"
    set: SetSpec

    @property
    def spec(self) -> SetSpec:
        return self.set


class LogStep(_Model):
    kind: ClassVar[str] = "log"
    log: LogSpec

    @property
    def spec(self) -> LogSpec:
        return self.log


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 else None
    return getattr(value, "kind", None)


Step = Annotated[
    Annotated[ComposeStep, Tag(ComposeStep.kind)]
    | Annotated[StoreStep, Tag(StoreStep.kind)]
    | Annotated[SetStep, Tag(SetStep.kind)]
    | Annotated[LogStep, Tag(LogStep.kind)],
    Discriminator(_step_kind),
]
STEP_KINDS: tuple[str, ...] = (ComposeStep.kind, StoreStep.kind, SetStep.kind, LogStep.kind)


class Manifest(_Model):
    version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _allow_bare_params(cls, value: Any) -> Any:
        # `params: {id: }` / an empty `params:` section declare plain optional strings.
        if value is None:
            return {}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("params")
    @classmethod
    def _check_param_names(cls, value: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        for key in value:
            if not key or len(key) > 200:
                raise ValueError(f"param name {key!r} must be 1..200 characters")
        return value

    @model_validator(mode="after")
    def _check_references(self) -> Manifest:
        problems = reference_problems(self)
        if problems:
            # One error per problem would be nicer, but pydantic allows a single error
            # per validator; load_dap expands ctx["problems"] back into a list.
            raise PydanticCustomError(
                "manifest_references", "{summary}", {"summary": "; ".join(problems), "problems": problems}
            )
        return self

    def templates(self) -> list[tuple[int, str]]:
        """(step index, template path) for every step that renders a package template."""
        return [(i, s.spec.template) for i, s in enumerate(self.steps) if isinstance(s, ComposeStep)]


def reference_problems(manifest: Manifest) -> list[str]:
    """Cross-step checks that a single field cannot express."""
    problems: list[str] = []
    names: set[str] = set()
    outputs: set[str] = set()
    store_ids: set[str] = set()
    for index, step in enumerate(manifest.steps):
        if isinstance(step, ComposeStep):
            if step.compose.as_ in names:
                problems.append(f"steps.{index}.compose.as: {step.compose.as_!r} is already used by an earlier step")
            names.add(step.compose.as_)
            outputs.add(step.compose.as_)
        elif isinstance(step, SetStep):
            if step.set.as_ in names:
                problems.append(f"steps.{index}.set.as: {step.set.as_!r} is already used by an earlier step")
            names.add(step.set.as_)
        elif isinstance(step, StoreStep):
            if step.store.from_ not in outputs:
                problems.append(f"steps.{index}.store.from: {step.store.from_!r} is not an earlier compose output")
            if step.store.id in store_ids:
                problems.append(f"steps.{index}.store.id: {step.store.id!r} is already used by an earlier store")
            store_ids.add(step.store.id)
    return problems
