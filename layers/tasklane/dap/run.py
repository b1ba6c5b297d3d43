"""What one run of a DAP holds while its steps execute, and the helpers every step kind uses.

A step handler gets the `RunState` and its own spec. It reads `state.variables` (what templates
and expressions see), writes a named `Output` (bytes with a content type) or a value, and raises
`RunFailure` to end the task with a message. Rendering and expressions go through `render` and
`evaluate`, which apply the output limit and turn any error into a located one-line message.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Container, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.exceptions import SecurityError

from .budget import BudgetExceeded, current
from .ports import Converter, DataSource
from .sandbox import DapEnvironment

# Status messages and log entries end up in API responses and DynamoDB items.
MAX_MESSAGE_CHARS = 1000
MAX_LOG_ENTRIES = 100


@dataclass(frozen=True)
class RunContext:
    task_id: str
    batch_id: str | None = None


@dataclass(frozen=True)
class LogEntry:
    level: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "message": self.message}


@dataclass(frozen=True)
class StoredDocument:
    id: str
    filename: str
    content: bytes = field(repr=False)
    content_type: str
    # `attachTo: record`: the record the integration attaches this result to, once it is stored.
    attach_to: str | None = None


@dataclass(frozen=True)
class RunResult:
    ok: bool
    status_message: str
    logs: list[LogEntry]
    documents: list[StoredDocument]
    # The sandbox refused something the template tried (an unsafe attribute or call): worth a log line.
    refused: bool = False


@dataclass(frozen=True)
class Output:
    """A composed or converted document: bytes with a content type; `suffix` names its default file type."""

    content: bytes = field(repr=False)
    content_type: str
    suffix: str
    # Text outputs keep their text, so that a later template can include it.
    text: str | None = field(default=None, repr=False)

    @property
    def is_html(self) -> bool:
        return self.content_type.startswith("text/html")


@dataclass(frozen=True)
class Binary:
    """What a template sees of a binary output: its name, type and size, never the bytes."""

    name: str
    content_type: str
    size: int

    def __str__(self) -> str:
        return f"[{self.content_type} '{self.name}', {self.size} bytes]"


@dataclass(frozen=True)
class ForeachOutput:
    """A step run once per item: the item's name, the items, and one output each."""

    item_name: str
    items: list[Any]
    outputs: list[Output]


def one_line(message: str) -> str:
    """The message on one line, cut to MAX_MESSAGE_CHARS with a note saying how long it was."""
    # Only a prefix is normalised: the message may hold a 10 MiB template value.
    text = " ".join(message[: 4 * MAX_MESSAGE_CHARS].split())
    if len(message) <= 4 * MAX_MESSAGE_CHARS and len(text) <= MAX_MESSAGE_CHARS:
        return text
    note = f"… (truncated, {len(message)} characters)"
    return text[: MAX_MESSAGE_CHARS - len(note)] + note


class RunFailure(Exception):
    """Ends the task: its messages become SEVERE log entries and the status message."""

    def __init__(self, *messages: str, refused: bool = False) -> None:
        super().__init__(*messages)
        self.messages = [one_line(m) for m in messages]
        self.refused = refused

    @property
    def status(self) -> str:
        shown = []
        for message in self.messages:
            shown.append(message)
            if sum(map(len, shown)) > MAX_MESSAGE_CHARS:
                break
        return one_line("; ".join(shown))


class LogBook:
    """The first and last entries of a run, at most MAX_LOG_ENTRIES, so the failure stays last."""

    def __init__(self) -> None:
        self._head: list[LogEntry] = []
        self._tail: deque[LogEntry] = deque(maxlen=MAX_LOG_ENTRIES // 2 - 1)
        self._dropped = 0

    def add(self, level: str, message: str) -> None:
        entry = LogEntry(level, one_line(message))
        if len(self._head) < MAX_LOG_ENTRIES // 2:
            self._head.append(entry)
            return
        if len(self._tail) == self._tail.maxlen:
            self._dropped += 1
        self._tail.append(entry)

    def entries(self) -> list[LogEntry]:
        gap = [LogEntry("INFO", f"… {self._dropped} log entries left out")] if self._dropped else []
        return [*self._head, *gap, *self._tail]


@dataclass
class Compiled:
    """Per-package Jinja state shared by all runs; Jinja caches file templates itself."""

    env: DapEnvironment
    files: Mapping[str, bytes]
    filename_templates: dict[str, Template] = field(default_factory=dict)
    expressions: dict[str, Any] = field(default_factory=dict)
    # Step kinds keep what they derive from package files here (a DOCX template's parsed parts),
    # with an estimate of the memory it holds, which counts against the engine's cache budget.
    derived: dict[tuple[str, str], Any] = field(default_factory=dict)
    derived_bytes: int = 0

    def __post_init__(self) -> None:
        self.files_bytes = sum(map(len, self.files.values()))

    @property
    def size(self) -> int:
        """Bytes held: the package's files plus what compiling kept (code, imported modules)."""
        return self.files_bytes + self.env.retained_bytes + self.derived_bytes

    def expression(self, source: str) -> Any:
        """A compiled `set`/`if`/`foreach` expression, sandboxed like the templates."""
        compiled = self.expressions.get(source)
        if compiled is None:
            compiled = self.expressions[source] = self.env.compile_expression(source)
        return compiled

    def string_template(self, source: str) -> Template:
        template = self.filename_templates.get(source)
        if template is None:
            template = self.filename_templates[source] = self.env.from_string(source)
        return template


@dataclass
class RunState:
    compiled: Compiled
    variables: dict[str, Any]
    max_output_bytes: int
    context: RunContext
    converter: Converter | None = None
    conversion_seconds: float = 30.0
    data: DataSource | None = None
    # When the run must end whatever it does (time.monotonic()): the invocation's time, if given.
    deadline: float | None = None
    # Stops the template's clock while a step waits on another process that has its own deadline.
    waiting: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
    outputs: dict[str, Output | ForeachOutput] = field(default_factory=dict)
    documents: list[StoredDocument] = field(default_factory=list)
    logs: LogBook = field(default_factory=LogBook)
    output_bytes: int = 0

    def info(self, message: str) -> None:
        self.logs.add("INFO", message)

    def seconds_left(self, cap: float) -> float:
        """At most `cap` seconds, and no more than the run has left."""
        return cap if self.deadline is None else max(min(cap, self.deadline - time.monotonic()), 0.0)

    def output(self, name: str, step: str) -> Output | ForeachOutput:
        found = self.outputs.get(name)
        if found is None:
            raise RunFailure(f"{step}: '{name}' was not produced (its step was skipped)")
        return found

    def set_output(self, name: str, output: Output | ForeachOutput) -> None:
        self.outputs[name] = output
        if isinstance(output, ForeachOutput):
            self.variables[name] = [_visible(name, o) for o in output.outputs]
        else:
            self.variables[name] = _visible(name, output)

    def charge_output(self, size: int) -> None:
        """Every output held by the run counts against one limit."""
        self.output_bytes += size
        if self.output_bytes > self.max_output_bytes:
            raise RunFailure(f"Output exceeds the limit of {self.max_output_bytes} bytes")

    def render(self, load: Callable[[], Template], variables: Mapping[str, Any], label: str) -> str:
        chunks: list[str] = []
        size = 0
        budget = current()
        try:
            # Streamed so a runaway loop is stopped at the limit instead of filling memory first.
            for chunk in load().generate(variables):
                size += len(chunk)
                if size > self.max_output_bytes:
                    raise RunFailure(f"{label} output exceeds the limit of {self.max_output_bytes} bytes")
                chunks.append(chunk)
            text = "".join(chunks)
            budget.string(len(text), not text.isascii())  # the output stays in the run's variables
        except RunFailure:
            raise
        except Exception as exc:
            raise failure(exc, label, self.compiled.files) from exc
        self.check_budget(label)
        return text

    def render_string(self, source: str, variables: Mapping[str, Any], label: str) -> str:
        return self.render(lambda: self.compiled.string_template(source), variables, label)

    def evaluate(self, source: str, label: str, variables: Mapping[str, Any] | None = None) -> Any:
        try:
            value = self.compiled.expression(source)(**(self.variables if variables is None else variables))
        except RunFailure:
            raise
        except Exception as exc:
            raise failure(exc, label, self.compiled.files) from exc
        self.check_budget(label)
        return value

    def check_budget(self, label: str) -> None:
        budget = current()
        if budget.exceeded is not None:  # raised, and swallowed by some library code
            raise RunFailure(f"{label}: {budget.exceeded}")


def _visible(name: str, output: Output) -> Any:
    return output.text if output.text is not None else Binary(name, output.content_type, len(output.content))


def failure(exc: BaseException, label: str, template_names: Container[str]) -> RunFailure:
    """The task's failure for an error a template raised; a sandbox refusal (not a budget) is marked."""
    refused = isinstance(exc, SecurityError) and not isinstance(exc, BudgetExceeded)
    return RunFailure(describe(exc, label, template_names), refused=refused)


def describe(exc: BaseException, label: str, template_names: Container[str]) -> str:
    """One line saying where (innermost template frame) and what went wrong."""
    where, line = label, None
    if isinstance(exc, TemplateSyntaxError):
        where, line = (f"Template '{exc.name}'" if exc.name else label), exc.lineno
    else:
        # Jinja rewrites tracebacks so template frames carry the template's name and source line.
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename == "<template>":
                where, line = label, tb.tb_lineno
            elif filename in template_names:
                where, line = f"Template '{filename}'", tb.tb_lineno
            tb = tb.tb_next
    if isinstance(exc, TemplateNotFound) and exc.message == exc.name:
        message = f"template '{exc.name}' is not in the package"
    elif isinstance(exc, TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}"
    return f"{where}{f' line {line}' if line else ''}: {message}"
