"""Runs a loaded DAP for one task: checks params, then executes the steps in order.

Each step kind lives in `dap.steps` with its model and handler; the engine owns what spans
steps: params, the time limit, the compiled-package cache, and the run's outputs and logs.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from .budget import Budget, budget_scope
from .files import guess_content_type, safe_filename
from .manifest import ParamSpec, param_type_matches
from .package import Dap, MiB, create_environment
from .ports import Converter, DataSource
from .run import (
    MAX_LOG_ENTRIES,
    MAX_MESSAGE_CHARS,
    Compiled,
    LogBook,
    LogEntry,
    RunContext,
    RunFailure,
    RunResult,
    RunState,
    StoredDocument,
)
from .steps import RecordStep

__all__ = [
    "MAX_LOG_ENTRIES",
    "MAX_MESSAGE_CHARS",
    "Engine",
    "LogEntry",
    "RunContext",
    "RunResult",
    "StoredDocument",
    "guess_content_type",
    "safe_filename",
]

# Compiled packages the engine keeps between runs (template files plus compiled code).
MAX_CACHED_BYTES = 64 * MiB
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


class _TimeUp(BaseException):
    """A BaseException, so that no `except Exception` inside a render swallows it."""


# Looked up at each call, so tests can watch it.
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class _time_limit:
    """Raises _TimeUp in the entering thread once `seconds` pass inside the block; None: no limit.

    One mechanism for every thread (SIGALRM only reaches the main one, and the local worker renders
    on others): a timer thread injects the exception with PyThreadState_SetAsyncExc. Python delivers
    it between bytecodes, so a C call finishes first; the sandbox's size caps keep those short.
    `suspended()` stops the clock while a step waits on another process with a deadline of its own.
    """

    def __init__(self, seconds: float | None, hard_deadline: float | None = None) -> None:
        self._seconds = seconds
        # time.monotonic() past which nothing may run, suspended or not (the invocation's end).
        self._hard_deadline = hard_deadline
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._armed = True
        self._fired = False
        self._generation = 0
        self._left = 0.0

    def __enter__(self) -> _time_limit:
        if self._seconds is not None:
            self._thread_id = threading.get_ident()
            self._arm(max(self._seconds, 0.0))
        return self

    def _arm(self, seconds: float) -> None:
        self._generation += 1
        self._ends = time.monotonic() + seconds
        self._timer = threading.Timer(seconds, self._expire, args=(self._generation,))
        self._timer.daemon = True
        self._timer.start()

    def _expire(self, generation: int) -> None:
        with self._lock:
            # A timer from before a suspension may still get here: only the current one counts.
            if self._armed and generation == self._generation:
                self._fired = True
                _set_async_exc(ctypes.c_ulong(self._thread_id), ctypes.py_object(_TimeUp))

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        if self._timer is None:
            yield
            return
        with self._lock:
            self._generation += 1
            self._timer.cancel()
            left = max(self._ends - time.monotonic(), 0.0)
        try:
            yield
        finally:
            with self._lock:
                if self._armed and not self._fired:
                    if self._hard_deadline is not None:
                        left = min(left, max(self._hard_deadline - time.monotonic(), 0.0))
                    self._arm(left)

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
        converter: Converter | None = None,
        conversion_seconds: float = 30.0,
    ) -> None:
        self.time_limit_seconds = time_limit_seconds
        # A conversion waits on LibreOffice, not on the template: it has a deadline of its own, and
        # the template's clock stops meanwhile. Both stay within the run's `time_left`.
        self.conversion_seconds = conversion_seconds
        self.max_output_bytes = max_output_bytes
        self.cache_size = cache_size
        self.cache_bytes = cache_bytes
        self.converter = converter
        self._cache: OrderedDict[str, Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def run(
        self,
        dap: Dap,
        params: Mapping[str, Any],
        context: RunContext,
        time_left: float | None = None,
        data: DataSource | None = None,
    ) -> RunResult:
        """Run the steps; `time_left` (seconds) lowers the time limit for this run only; `data` is the
        task's integration, which `record`, `query` and `attachTo` go through."""
        logs = LogBook()
        limit = self.time_limit_seconds
        if time_left is not None:
            limit = time_left if limit is None else min(limit, time_left)
        try:
            with budget_scope(Budget()):
                state = self._start(dap, params, context, logs, data)
                if time_left is not None:
                    state.deadline = time.monotonic() + time_left
                try:
                    with _time_limit(limit, state.deadline) as clock:
                        state.waiting = clock.suspended
                        for index, step in enumerate(dap.manifest.steps):
                            condition = step.spec.if_
                            if condition is not None and not state.evaluate(condition, f"'if' of step {index + 1}"):
                                state.info(f"Skipped step {index + 1} ({step.kind}): its 'if' is false")
                                continue
                            step.run(state, index)
                finally:
                    self._settle()
        except _TimeUp:
            assert limit is not None
            message = f"The template took longer than {max(limit, 0):g} s to run"
            logs.add("SEVERE", message)
            return RunResult(ok=False, status_message=message, logs=logs.entries(), documents=[])
        except RunFailure as failure:
            for message in failure.messages:
                logs.add("SEVERE", message)
            return RunResult(
                ok=False, status_message=failure.status, logs=logs.entries(), documents=[], refused=failure.refused
            )
        return RunResult(ok=True, status_message="Ready", logs=logs.entries(), documents=state.documents)

    def planned_reads(
        self, dap: Dap, params: Mapping[str, Any], context: RunContext
    ) -> list[tuple[str, tuple[str, ...], str]]:
        """The records a run of these params reads whatever the data says: (type, fields, id) of each
        `record` step before the first step that reads data, so that a unit's reads can be combined."""
        reads: list[tuple[str, tuple[str, ...], str]] = []
        try:
            with budget_scope(Budget()), _time_limit(self.time_limit_seconds):
                state = self._start(dap, params, context, LogBook(), None)
                for step in dap.manifest.steps:
                    if not isinstance(step, RecordStep):
                        break
                    read = step.planned_read(state)
                    if read is not None:
                        reads.append(read)
        except (RunFailure, _TimeUp):
            pass
        return reads

    def _start(
        self, dap: Dap, params: Mapping[str, Any], context: RunContext, logs: LogBook, data: DataSource | None
    ) -> RunState:
        resolved = _resolve_params(dap.manifest.params, params)
        return RunState(
            compiled=self._compiled(dap),
            variables={
                "param": resolved,
                "task": {"id": context.task_id, "batchId": context.batch_id},
                "dynamoAPI": {"taskID": context.task_id, "batchID": context.batch_id},
            },
            max_output_bytes=self.max_output_bytes,
            context=context,
            converter=self.converter,
            conversion_seconds=self.conversion_seconds,
            data=data,
            logs=logs,
        )

    @property
    def cached_bytes(self) -> int:
        return sum(compiled.size for compiled in self._cache.values())

    def _compiled(self, dap: Dap) -> Compiled:
        with self._lock:
            compiled = self._cache.get(dap.sha256)
            if compiled is None:
                compiled = self._cache[dap.sha256] = Compiled(create_environment(dap.files), dap.files)
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


def _resolve_params(declared: Mapping[str, ParamSpec], params: Mapping[str, Any]) -> dict[str, Any]:
    """Applies defaults and checks declared params; undeclared ones pass through untouched.

    A null value counts as absent for `default` and `required`.
    """
    if not isinstance(params, Mapping):
        raise RunFailure(f"Params must be an object, got {_json_name(params)}")
    problems = param_problems(declared, params)
    if problems:
        raise RunFailure(*(message for _, message in problems))
    resolved = dict(params)
    for name, spec in declared.items():
        if resolved.get(name) is None and spec.has_default:
            resolved[name] = copy.deepcopy(spec.default)
    return resolved


def param_problems(declared: Mapping[str, ParamSpec], params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, what is wrong) for each declared param `params` misses or gives the wrong type; the
    accepting functions ask this before anything is stored, the engine again when the task runs."""
    problems: list[tuple[str, str]] = []
    for name, spec in declared.items():
        value = params.get(name)
        if value is None and spec.has_default:
            continue
        if value is None:
            if spec.required:
                problems.append((name, f"Missing required param '{name}'"))
        elif not param_type_matches(spec.type, value):
            problems.append((name, f"Param '{name}' must be {_TYPE_NAMES[spec.type]}, got {_json_name(value)}"))
    return problems


def _json_name(value: Any) -> str:
    return next((n for t, n in _JSON_NAMES.items() if type(value) is t), type(value).__name__)
