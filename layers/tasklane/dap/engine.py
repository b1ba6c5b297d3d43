"""Runs a loaded DAP for one task: checks params, then executes the steps in order."""

from __future__ import annotations

import copy
import ctypes
import mimetypes
import re
import threading
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateError, TemplateNotFound, TemplateSyntaxError
from markupsafe import Markup

from .budget import Budget, budget_scope, current
from .manifest import (
    ComposeSpec,
    ComposeStep,
    LogSpec,
    LogStep,
    ParamSpec,
    SetSpec,
    SetStep,
    StoreSpec,
    StoreStep,
    param_type_matches,
)
from .package import Dap, DapEnvironment, MiB, create_environment

MAX_FILENAME_CHARS = 200
# Status messages and log entries end up in API responses and DynamoDB items.
MAX_MESSAGE_CHARS = 1000
MAX_LOG_ENTRIES = 100
# Compiled packages the engine keeps between runs (template files plus compiled code).
MAX_CACHED_BYTES = 64 * MiB
# Portable basename: path separators plus characters Windows and Content-Disposition choke on.
_UNSAFE_FILENAME_CHARS = re.compile(r'[/\\<>:"|?*]')
_TEXT_LIKE_TYPES = frozenset(
    {"application/json", "application/xml", "application/xhtml+xml", "application/javascript", "image/svg+xml"}
)
# A private instance uses Python's built-in table only, so results don't depend on the host's /etc/mime.types.
_MIME = mimetypes.MimeTypes()
_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}
_JSON_NAMES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


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


@dataclass(frozen=True)
class RunResult:
    ok: bool
    status_message: str
    logs: list[LogEntry]
    documents: list[StoredDocument]


def one_line(message: str) -> str:
    """The message on one line, cut to MAX_MESSAGE_CHARS with a note saying how long it was."""
    # Only a prefix is normalised: the message may hold a 10 MiB template value.
    text = " ".join(message[: 4 * MAX_MESSAGE_CHARS].split())
    if len(message) <= 4 * MAX_MESSAGE_CHARS and len(text) <= MAX_MESSAGE_CHARS:
        return text
    note = f"… (truncated, {len(message)} characters)"
    return text[: MAX_MESSAGE_CHARS - len(note)] + note


class _RunFailure(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = [one_line(m) for m in messages]

    @property
    def status(self) -> str:
        shown = []
        for message in self.messages:
            shown.append(message)
            if sum(map(len, shown)) > MAX_MESSAGE_CHARS:
                break
        return one_line("; ".join(shown))


class _LogBook:
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


# A foreach makes one output, and later one result, per item.
MAX_FOREACH_ITEMS = 100


@dataclass
class _Compiled:
    """Per-package Jinja state shared by all runs; Jinja caches file templates itself."""

    env: DapEnvironment
    files: Mapping[str, bytes]
    filename_templates: dict[str, Template] = field(default_factory=dict)
    expressions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.files_bytes = sum(map(len, self.files.values()))

    @property
    def size(self) -> int:
        """Bytes held: the package's files plus what compiling kept (code, imported modules)."""
        return self.files_bytes + self.env.retained_bytes

    def expression(self, source: str) -> Any:
        """A compiled `set`/`if` expression, sandboxed like the templates."""
        compiled = self.expressions.get(source)
        if compiled is None:
            compiled = self.expressions[source] = self.env.compile_expression(source)
        return compiled

    def filename_template(self, source: str) -> Template:
        template = self.filename_templates.get(source)
        if template is None:
            template = self.filename_templates[source] = self.env.from_string(source)
        return template


@dataclass
class _RunState:
    compiled: _Compiled
    variables: dict[str, Any]
    output_templates: dict[str, str] = field(default_factory=dict)
    # Outputs of a compose with foreach: the item's name and the items, one rendered text each.
    foreach_items: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    documents: list[StoredDocument] = field(default_factory=list)
    logs: _LogBook = field(default_factory=_LogBook)
    output_bytes: int = 0

    def info(self, message: str) -> None:
        self.logs.add("INFO", message)


StepHandler = Callable[["Engine", _RunState, int, Any], None]
_STEP_HANDLERS: dict[str, StepHandler] = {}


def _handles(kind: str) -> Callable[[StepHandler], StepHandler]:
    def register(handler: StepHandler) -> StepHandler:
        _STEP_HANDLERS[kind] = handler
        return handler

    return register


class _TimeUp(BaseException):
    """A BaseException, so that no `except Exception` inside a render swallows it."""


# Looked up at each call, so tests can watch it.
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class _time_limit:
    """Raises _TimeUp in the entering thread once `seconds` pass inside the block; None: no limit.

    One mechanism for every thread (SIGALRM only reaches the main one, and the local worker renders
    on others): a timer thread injects the exception with PyThreadState_SetAsyncExc. Python delivers
    it between bytecodes, so a C call finishes first; the sandbox's size caps keep those short.
    """

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._armed = True
        self._fired = False

    def __enter__(self) -> _time_limit:
        if self._seconds is not None:
            self._thread_id = threading.get_ident()
            self._timer = threading.Timer(max(self._seconds, 0.0), self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _expire(self) -> None:
        with self._lock:
            if self._armed:
                self._fired = True
                _set_async_exc(ctypes.c_ulong(self._thread_id), ctypes.py_object(_TimeUp))

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is None:
            return
        self._timer.cancel()
        with self._lock:
            self._armed = False
            if self._fired:
                # It fired as the block ended and may not be delivered yet: it must not go off
                # later, outside the block. (Clearing an exception already raised does nothing.)
                _set_async_exc(ctypes.c_ulong(self._thread_id), None)


class Engine:
    def __init__(
        self,
        max_output_bytes: int = 10 * MiB,
        cache_size: int = 32,
        time_limit_seconds: float | None = 10.0,
        cache_bytes: int = MAX_CACHED_BYTES,
    ) -> None:
        self.time_limit_seconds = time_limit_seconds
        self.max_output_bytes = max_output_bytes
        self.cache_size = cache_size
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def run(
        self, dap: Dap, params: Mapping[str, Any], context: RunContext, time_left: float | None = None
    ) -> RunResult:
        """Run the steps; `time_left` (seconds) lowers the time limit for this run only."""
        logs = _LogBook()
        limit = self.time_limit_seconds
        if time_left is not None:
            limit = time_left if limit is None else min(limit, time_left)
        try:
            with budget_scope(Budget()):
                resolved = _resolve_params(dap.manifest.params, params)
                state = _RunState(
                    compiled=self._compiled(dap),
                    variables={
                        "param": resolved,
                        "task": {"id": context.task_id, "batchId": context.batch_id},
                        "dynamoAPI": {"taskID": context.task_id, "batchID": context.batch_id},
                    },
                    logs=logs,
                )
                try:
                    with _time_limit(limit):
                        for index, step in enumerate(dap.manifest.steps):
                            condition = step.spec.if_
                            if condition is not None and not self._evaluate(state, condition, f"'if' of step {index + 1}"):
                                state.info(f"Skipped step {index + 1} ({step.kind}): its 'if' is false")
                                continue
                            _STEP_HANDLERS[step.kind](self, state, index, step.spec)
                finally:
                    self._settle()
        except _TimeUp:
            assert limit is not None
            message = f"The template took longer than {max(limit, 0):g} s to run"
            logs.add("SEVERE", message)
            return RunResult(ok=False, status_message=message, logs=logs.entries(), documents=[])
        except _RunFailure as failure:
            for message in failure.messages:
                logs.add("SEVERE", message)
            return RunResult(ok=False, status_message=failure.status, logs=logs.entries(), documents=[])
        return RunResult(ok=True, status_message="Ready", logs=logs.entries(), documents=state.documents)

    @property
    def cached_bytes(self) -> int:
        return sum(compiled.size for compiled in self._cache.values())

    def _compiled(self, dap: Dap) -> _Compiled:
        with self._lock:
            compiled = self._cache.get(dap.sha256)
            if compiled is None:
                compiled = self._cache[dap.sha256] = _Compiled(create_environment(dap.files), dap.files)
                self._evict()
            else:
                self._cache.move_to_end(dap.sha256)
            return compiled

    def _settle(self) -> None:
        """Runs compile templates, so cached entries grow after they were added: re-check the budget."""
        with self._lock:
            self._evict()

    def _evict(self) -> None:
        # Oldest first; an entry bigger than the whole budget ends up not cached at all.
        while self._cache and (len(self._cache) > self.cache_size or self.cached_bytes > self.cache_bytes):
            self._cache.popitem(last=False)

    def _render(
        self, compiled: _Compiled, load: Callable[[], Template], variables: Mapping[str, Any], label: str
    ) -> str:
        chunks: list[str] = []
        size = 0
        budget = current()
        try:
            # Streamed so a runaway loop is stopped at the limit instead of filling memory first.
            for chunk in load().generate(variables):
                size += len(chunk)
                if size > self.max_output_bytes:
                    raise _RunFailure(f"{label} output exceeds the limit of {self.max_output_bytes} bytes")
                chunks.append(chunk)
            text = "".join(chunks)
            budget.string(len(text), not text.isascii())  # the output stays in the run's variables
        except _RunFailure:
            raise
        except Exception as exc:
            raise _RunFailure(_describe(exc, label, compiled.files)) from exc
        if budget.exceeded is not None:  # raised, and swallowed by some library code
            raise _RunFailure(f"{label}: {budget.exceeded}")
        return text


    def _evaluate(self, state: _RunState, source: str, label: str) -> Any:
        budget = current()
        try:
            value = state.compiled.expression(source)(**state.variables)
        except _RunFailure:
            raise
        except Exception as exc:
            raise _RunFailure(_describe(exc, label, state.compiled.files)) from exc
        if budget.exceeded is not None:
            raise _RunFailure(f"{label}: {budget.exceeded}")
        return value


@_handles(SetStep.kind)
def _set(engine: Engine, state: _RunState, index: int, spec: SetSpec) -> None:
    state.variables[spec.as_] = engine._evaluate(state, spec.value, f"'set' of '{spec.as_}'")
    state.info(f"Set '{spec.as_}'")


@_handles(LogStep.kind)
def _log(engine: Engine, state: _RunState, index: int, spec: LogSpec) -> None:
    source = spec.message
    label = f"Message of log step {index + 1}"
    message = engine._render(state.compiled, lambda: state.compiled.filename_template(source), state.variables, label)
    state.logs.add(spec.level, message)


@_handles(ComposeStep.kind)
def _compose(engine: Engine, state: _RunState, index: int, spec: ComposeSpec) -> None:
    env = state.compiled.env
    autoescape = env.autoescape(spec.template) if callable(env.autoescape) else env.autoescape
    label = f"Template '{spec.template}'"

    def render(variables: Mapping[str, Any]) -> str:
        text = engine._render(state.compiled, lambda: env.get_template(spec.template), variables, label)
        # Escaped HTML is safe markup: inserting it into another HTML template must not escape it twice.
        return Markup(text) if autoescape else text

    if spec.foreach is None:
        text = render(state.variables)
        state.variables[spec.as_] = text
        state.info(f"Composed '{spec.template}' as '{spec.as_}' ({len(text)} characters)")
    else:
        items = engine._evaluate(state, spec.foreach, f"'foreach' of '{spec.as_}'")
        if not isinstance(items, (list, tuple)):
            raise _RunFailure(f"'foreach' of '{spec.as_}' must give a list, not {type(items).__name__}")
        if len(items) > MAX_FOREACH_ITEMS:
            raise _RunFailure(f"'foreach' of '{spec.as_}' gives {len(items)} items; at most {MAX_FOREACH_ITEMS}")
        texts = [render({**state.variables, spec.item: item}) for item in items]
        state.variables[spec.as_] = texts
        state.foreach_items[spec.as_] = (spec.item, list(items))
        state.info(f"Composed '{spec.template}' as '{spec.as_}' for {len(texts)} items")
    state.output_templates[spec.as_] = spec.template


@_handles(StoreStep.kind)
def _store(engine: Engine, state: _RunState, index: int, spec: StoreSpec) -> None:
    if spec.from_ not in state.output_templates:
        raise _RunFailure(f"Store '{spec.id}': '{spec.from_}' was not composed (its step was skipped)")
    default_suffix = PurePosixPath(state.output_templates[spec.from_]).suffix
    if spec.from_ not in state.foreach_items:
        _store_one(engine, state, spec, spec.id, state.variables[spec.from_], state.variables, default_suffix)
        return
    item_name, items = state.foreach_items[spec.from_]
    # One result per item: ids <id>-1, <id>-2, ...; the filename template sees the item.
    for number, (text, item) in enumerate(zip(state.variables[spec.from_], items, strict=True), start=1):
        variables = {**state.variables, item_name: item}
        _store_one(engine, state, spec, f"{spec.id}-{number}", text, variables, default_suffix)


def _store_one(
    engine: Engine,
    state: _RunState,
    spec: StoreSpec,
    result_id: str,
    text: Any,
    variables: Mapping[str, Any],
    default_suffix: str,
) -> None:
    default = result_id + default_suffix
    filename = default
    if spec.filename is not None:
        label = f"Filename template of store '{spec.id}'"
        source = spec.filename
        raw = engine._render(state.compiled, lambda: state.compiled.filename_template(source), variables, label)
        filename = safe_filename(raw, default)
    content = str(text).encode("utf-8", "replace")
    state.output_bytes += len(content)
    if state.output_bytes > engine.max_output_bytes:
        raise _RunFailure(f"Output exceeds the limit of {engine.max_output_bytes} bytes")
    content_type = spec.content_type or guess_content_type(filename)
    state.documents.append(StoredDocument(id=result_id, filename=filename, content=content, content_type=content_type))
    state.info(f"Stored '{result_id}' as '{filename}' ({len(content)} bytes, {content_type})")


def _resolve_params(declared: Mapping[str, ParamSpec], params: Mapping[str, Any]) -> dict[str, Any]:
    """Applies defaults and checks declared params; undeclared ones pass through untouched.

    A null value counts as absent for `default` and `required`.
    """
    if not isinstance(params, Mapping):
        raise _RunFailure(f"Params must be an object, got {_json_name(params)}")
    resolved = dict(params)
    problems: list[str] = []
    for name, spec in declared.items():
        value = resolved.get(name)
        if value is None and spec.has_default:
            resolved[name] = value = copy.deepcopy(spec.default)
        if value is None:
            if spec.required:
                problems.append(f"Missing required param '{name}'")
        elif not param_type_matches(spec.type, value):
            problems.append(f"Param '{name}' must be {_TYPE_NAMES[spec.type]}, got {_json_name(value)}")
    if problems:
        raise _RunFailure(*problems)
    return resolved


def safe_filename(raw: str, fallback: str) -> str:
    name = "".join(ch for ch in raw if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE_FILENAME_CHARS.sub("_", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    return name or fallback


def guess_content_type(filename: str) -> str:
    guessed, encoding = _MIME.guess_type(filename, strict=False)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_LIKE_TYPES:
        return f"{guessed}; charset=utf-8"
    return guessed


def _json_name(value: Any) -> str:
    return next((n for t, n in _JSON_NAMES.items() if type(value) is t), type(value).__name__)


def _describe(exc: BaseException, label: str, template_names: Container[str]) -> str:
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
