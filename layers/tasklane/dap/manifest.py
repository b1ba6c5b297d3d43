"""Pydantic models for ``dap.yaml`` (format version 1).

Steps are single-key mappings (``- compose: {...}``). Each step kind is a module
of ``dap.steps`` holding its model (whose only field is named after the kind),
its checks and its handler; ``Step`` is the tagged union over them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .steps import STEP_KINDS, ComposeStep, Step, StoreStep
from .steps.base import Model as _Model

__all__ = ["STEP_KINDS", "ComposeStep", "Manifest", "ParamSpec", "ParamType", "Step", "StoreStep"]

ParamType = Literal["string", "number", "integer", "boolean", "object", "array"]


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
        return [(i, path) for i, step in enumerate(self.steps) for path in step.templates()]


def reference_problems(manifest: Manifest) -> list[str]:
    """Cross-step checks that a single field cannot express."""
    problems: list[str] = []
    names: set[str] = set()
    outputs: set[str] = set()
    store_ids: set[str] = set()
    for index, step in enumerate(manifest.steps):
        needed = step.needs()
        if needed is not None and needed not in outputs:
            problems.append(f"steps.{index}.{step.kind}.from: {needed!r} is not an earlier compose or convert output")
        name = step.defines()
        if name is not None:
            if name in names:
                problems.append(f"steps.{index}.{step.kind}.as: {name!r} is already used by an earlier step")
            names.add(name)
            if step.makes_output:
                outputs.add(name)
        if isinstance(step, StoreStep):
            if step.store.id in store_ids:
                problems.append(f"steps.{index}.store.id: {step.store.id!r} is already used by an earlier store")
            store_ids.add(step.store.id)
    return problems
