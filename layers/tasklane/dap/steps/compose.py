"""`- compose: {template: templates/offer.docx, as: offer}`: render a package template into an output.

`.docx` templates render with docxtpl into a DOCX; every other template renders as text (HTML
autoescaped). `foreach: contacts` with `item: contact` renders once per item of a list (at most
MAX_FOREACH_ITEMS) and makes a list output, which `store` stores one result per item.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, ClassVar

from markupsafe import Markup
from pydantic import Field, field_validator

from ..files import DOCX_TYPE, guess_content_type
from ..run import ForeachOutput, Output, RunFailure, RunState, failure
from .base import MAX_EXPRESSION_CHARS, Named, StepModel, check_expression, check_output_name, check_package_path

# A foreach makes one output, and later one result, per item.
MAX_FOREACH_ITEMS = 100


class ComposeSpec(Named):
    template: str
    # `foreach`: an expression giving a list; the template renders once per item, bound to `item`.
    foreach: str | None = Field(default=None, min_length=1, max_length=MAX_EXPRESSION_CHARS)
    item: str = "item"

    @field_validator("foreach")
    @classmethod
    def _check_foreach(cls, value: str | None) -> str | None:
        return check_expression(value) if value is not None else None

    @field_validator("item")
    @classmethod
    def _check_item(cls, value: str) -> str:
        return check_output_name(value)

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        return check_package_path(value)

    @property
    def is_docx(self) -> bool:
        return self.template.lower().endswith(".docx")


class ComposeStep(StepModel):
    kind: ClassVar[str] = "compose"
    makes_output: ClassVar[bool] = True
    compose: ComposeSpec

    def defines(self) -> str:
        return self.compose.as_

    def templates(self) -> list[str]:
        return [self.compose.template]

    def run(self, state: RunState, index: int) -> None:
        spec = self.compose
        render = _render_docx if spec.is_docx else _render_text
        if spec.foreach is None:
            output = render(state, spec, state.variables)
            state.set_output(spec.as_, output)
            state.info(f"Composed '{spec.template}' as '{spec.as_}' ({_size(output)})")
            return
        items = state.evaluate(spec.foreach, f"'foreach' of '{spec.as_}'")
        if not isinstance(items, list | tuple):
            raise RunFailure(f"'foreach' of '{spec.as_}' must give a list, not {type(items).__name__}")
        if len(items) > MAX_FOREACH_ITEMS:
            raise RunFailure(f"'foreach' of '{spec.as_}' gives {len(items)} items; at most {MAX_FOREACH_ITEMS}")
        outputs = [render(state, spec, {**state.variables, spec.item: item}) for item in items]
        state.set_output(spec.as_, ForeachOutput(spec.item, list(items), outputs))
        state.info(f"Composed '{spec.template}' as '{spec.as_}' for {len(outputs)} items")


def _size(output: Output) -> str:
    return f"{len(output.text)} characters" if output.text is not None else f"{len(output.content)} bytes"


def _render_text(state: RunState, spec: ComposeSpec, variables: Mapping[str, Any]) -> Output:
    env = state.compiled.env
    autoescape = env.autoescape(spec.template) if callable(env.autoescape) else env.autoescape
    label = f"Template '{spec.template}'"
    text = state.render(lambda: env.get_template(spec.template), variables, label)
    suffix = PurePosixPath(spec.template).suffix
    # Escaped HTML is safe markup: inserting it into another HTML template must not escape it twice.
    return Output(
        content=text.encode("utf-8", "replace"),
        content_type=guess_content_type("x" + suffix),
        suffix=suffix,
        text=Markup(text) if autoescape else text,
    )


def _render_docx(state: RunState, spec: ComposeSpec, variables: Mapping[str, Any]) -> Output:
    from .. import docx  # docxtpl and lxml load only when a Word template runs

    label = f"Template '{spec.template}'"
    found: list[str] = []
    cleaned = {name: docx.clean_for_xml(value, name, found) for name, value in variables.items()}
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        state.logs.add("WARNING", f"{label}: removed characters XML cannot hold from {shown}")
    key = ("docx-env", "")
    env = state.compiled.derived.get(key)
    if env is None:
        env = state.compiled.derived[key] = docx.caching_environment(state.compiled.env)
    data = state.compiled.files[spec.template]
    pristine = state.compiled.derived.get(("docx", spec.template))
    try:
        if pristine is None:
            pristine = state.compiled.derived[("docx", spec.template)] = docx.parsed(data)
            state.compiled.derived_bytes += docx.parsed_size(data)
        content = docx.render_docx(data, cleaned, env, pristine)
    except RunFailure:
        raise
    except Exception as exc:
        raise failure(exc, label, state.compiled.files) from exc
    state.check_budget(label)
    if len(content) > state.max_output_bytes:
        raise RunFailure(f"{label} output exceeds the limit of {state.max_output_bytes} bytes")
    problem = docx.docx_problem(content, data)
    if problem is not None:
        raise RunFailure(f"{label}: the rendered DOCX is broken: {problem}")
    return Output(content=content, content_type=DOCX_TYPE, suffix=".docx")
