"""`- convert: {from: offer, to: pdf, as: offerPdf}`: an HTML or DOCX output as a PDF.

HTML converts inside the engine (fpdf2, see `dap.pdf`); DOCX through the run's `Converter`
(LibreOffice), given what is left of the task's time. Either way the PDF must parse before it
counts as output. A list output (foreach) converts item by item.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from ..files import DOCX_TYPE, PDF_TYPE
from ..ports import ConversionFailed, ConversionTimeout
from ..run import ForeachOutput, Output, RunFailure, RunState
from .base import Named, StepModel, check_output_name


class ConvertSpec(Named):
    from_: str = Field(alias="from")
    to: Literal["pdf"]

    @field_validator("from_")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return check_output_name(value)


class ConvertStep(StepModel):
    kind: ClassVar[str] = "convert"
    makes_output: ClassVar[bool] = True
    convert: ConvertSpec

    def defines(self) -> str:
        return self.convert.as_

    def needs(self) -> str:
        return self.convert.from_

    def run(self, state: RunState, index: int) -> None:
        spec = self.convert
        source = state.output(spec.from_, f"Convert '{spec.as_}'")
        if isinstance(source, ForeachOutput):
            outputs = [_to_pdf(state, spec, one) for one in source.outputs]
            state.set_output(spec.as_, ForeachOutput(source.item_name, source.items, outputs))
            state.info(f"Converted '{spec.from_}' to PDF as '{spec.as_}' for {len(outputs)} items")
            return
        output = _to_pdf(state, spec, source)
        state.set_output(spec.as_, output)
        state.info(f"Converted '{spec.from_}' to PDF as '{spec.as_}' ({len(output.content)} bytes)")


def _to_pdf(state: RunState, spec: ConvertSpec, source: Output) -> Output:
    from ..pdf import html_to_pdf, latin1_text, pdf_problem  # fpdf2 and pypdf load only when converting

    label = f"Converting '{spec.from_}' to PDF"
    if source.is_html and source.text is not None:
        html, missing = latin1_text(str(source.text))
        if missing:
            state.logs.add("WARNING", f"{label}: {missing} characters outside Latin-1 were written as '?'")
        try:
            content = html_to_pdf(html)
        except Exception as exc:
            raise RunFailure(f"{label}: {type(exc).__name__}: {exc}") from exc
        state.check_budget(label)
    elif source.content_type == DOCX_TYPE:
        if state.converter is None:
            raise RunFailure(f"{label}: DOCX to PDF conversion is not available here")
        deadline = state.seconds_left(state.conversion_seconds)
        try:
            with state.waiting():
                content = state.converter.docx_to_pdf(source.content, deadline)
        except ConversionTimeout:
            raise RunFailure(f"{label} took longer than {deadline:.0f} s; the converter was stopped") from None
        except ConversionFailed as exc:
            raise RunFailure(f"{label} failed: {exc}") from None
    else:
        raise RunFailure(f"{label}: only HTML and DOCX outputs convert to PDF, not {source.content_type}")
    if len(content) > state.max_output_bytes:
        raise RunFailure(f"{label}: the PDF exceeds the limit of {state.max_output_bytes} bytes")
    problem = pdf_problem(content)
    if problem is not None:
        raise RunFailure(f"{label}: the PDF is broken: {problem}")
    return Output(content=content, content_type=PDF_TYPE, suffix=".pdf")
