"""Load handlers from their CodeUri and call them with a Lambda-like context."""

from __future__ import annotations

from dataclasses import dataclass

import contextlib
import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol, Self

from tasklane_local.environ import EnvironmentPatch
from tasklane_local.identity import ACCOUNT_ID, DEFAULT_REGION
from tasklane_local.template import Function

Clock = Callable[[], float]
Handler = Callable[[dict[str, Any], "LambdaContext"], Any]


class Invocable(Protocol):
    """What the gateway and the worker need from a function."""

    name: str

    def invoke(self, event: Mapping[str, Any]) -> Any: ...


# The keys Powertools' inject_lambda_context appends to every later log line.
LAMBDA_LOG_KEYS = ("cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id")

_log_tags: ContextVar[Mapping[str, Any] | None] = ContextVar("tasklane_local_log_tags", default=None)
_factory_lock = threading.Lock()


class _TaggingRecordFactory:
    """Stamps each log record with the tags of the code that made it (see log_tags)."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self._previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        tags = _log_tags.get()
        if tags:
            record.__dict__.update(tags)
        return record


@contextlib.contextmanager
def log_tags(tags: Mapping[str, Any]) -> Iterator[None]:
    """Log records made in this block (this thread or task) carry `tags` as attributes.

    AWS: in Lambda every function has a process of its own, so Powertools keeps the invocation's
    keys (function name, ARN, request id) once per process and stamps them on every line. Here
    every function shares one process and one Powertools logger per service, so those keys would
    name whichever function was invoked last, on any thread. Record attributes win over the keys
    Powertools keeps, so each record carries its own invocation's. A record made with
    extra={"function_name": ...} inside such a block is refused by logging (the key is taken).
    """
    with _factory_lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _TaggingRecordFactory):
            # Chained, so a factory installed before keeps working; inert outside these blocks.
            logging.setLogRecordFactory(_TaggingRecordFactory(current))
    token = _log_tags.set(dict(tags))
    try:
        yield
    finally:
        _log_tags.reset(token)


class HandlerNotFound(ImportError):
    pass


def physical_function_name(logical_id: str, prefix: str = "tasklane") -> str:
    return f"{prefix}-{logical_id}"


class LambdaContext:
    """The attributes handlers and Powertools read from Lambda's context object."""

    def __init__(
        self,
        function_name: str,
        memory_limit_in_mb: int,
        timeout_seconds: int,
        region: str = DEFAULT_REGION,
        clock: Clock = time.time,
    ) -> None:
        self._clock = clock
        self._deadline_ms = clock() * 1000 + timeout_seconds * 1000
        self.function_name = function_name
        # AWS: without versions or aliases, Lambda runs $LATEST.
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        # AWS: streams are named <date>/[<version>]<instance id>.
        day = datetime.fromtimestamp(clock(), tz=UTC).strftime("%Y/%m/%d")
        self.log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        # Only set for the mobile SDK.
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        # AWS: Lambda counts down from the function's Timeout; it never goes below zero.
        return max(0, int(self._deadline_ms - self._clock() * 1000))


def load_handler(function: Function) -> Handler:
    """Import the handler's file as a fresh module, as Lambda's cold start does."""
    module_path, _, attribute = function.handler.rpartition(".")
    if not module_path or not attribute:
        raise HandlerNotFound(f"{function.logical_id}: Handler must look like module.function")
    source = function.code_uri.joinpath(*module_path.split(".")).with_suffix(".py")
    if not source.is_file():
        raise HandlerNotFound(f"{function.logical_id}: {source} does not exist")
    # Lambda puts CodeUri on sys.path and imports `app`; ten functions share this process,
    # so each gets its own module name and nothing is added to sys.path.
    module_name = f"tasklane_fn_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerNotFound(f"{function.logical_id}: {source} has no callable {attribute}")
    return handler  # type: ignore[no-any-return]


def unload_handler(function: Function) -> None:
    sys.modules.pop(f"tasklane_fn_{function.logical_id}", None)


class LocalFunction:
    """One function: its handler, and an invoke that behaves like Lambda's."""

    def __init__(
        self,
        function: Function,
        handler: Handler,
        region: str = DEFAULT_REGION,
        clock: Clock = time.time,
    ) -> None:
        self.function = function
        self.name = physical_function_name(function.logical_id)
        self._handler = handler
        self._region = region
        self._clock = clock
        # AWS: an execution environment handles one event at a time; here each function is
        # one environment, so the gateway's threads and the worker take turns per function.
        self._busy = threading.Lock()
        # AWS: the first invocation of a function's environment is its cold start.
        self._cold = True

    def invoke(self, event: Mapping[str, Any]) -> Any:
        """Call the handler; its exceptions propagate, as an Unhandled error would."""
        with self._busy:
            return self._invoke(event)

    def _invoke(self, event: Mapping[str, Any]) -> Any:
        context = LambdaContext(
            self.name,
            self.function.memory_size,
            self.function.timeout,
            region=self._region,
            clock=self._clock,
        )
        tags = {
            "cold_start": self._cold,
            "function_name": self.name,
            "function_memory_size": context.memory_limit_in_mb,
            "function_arn": context.invoked_function_arn,
            "function_request_id": context.aws_request_id,
        }
        self._cold = False
        with log_tags(tags):
            # AWS: Lambda hands the handler a freshly parsed JSON event and serializes what it
            # returns; round-tripping keeps handlers from sharing objects with the caller and
            # turns a non-JSON result into an error here, as in Lambda.
            result = self._handler(json.loads(json.dumps(event)), context)
        return json.loads(json.dumps(result))


@dataclass(frozen=True)
class Environments:
    """The process's os.environ (what every function agrees on) and what each function alone holds.

    AWS: each function has its own environment. Locally all run in one process, so a variable whose
    value differs between functions (a route's REQUIRED_SCOPE) is set only while its function is
    imported: functions read their Config at cold start, so that is when each sees its own value.
    """

    shared: dict[str, str]
    own: dict[str, dict[str, str]]


def split_environments(environments: Mapping[str, Mapping[str, str]]) -> Environments:
    values: dict[str, set[str]] = {}
    for variables in environments.values():
        for name, value in variables.items():
            values.setdefault(name, set()).add(value)
    differing = {name for name, found in values.items() if len(found) > 1}
    shared = {
        name: value
        for variables in environments.values()
        for name, value in variables.items()
        if name not in differing
    }
    own = {
        function_id: {name: value for name, value in variables.items() if name in differing}
        for function_id, variables in environments.items()
    }
    return Environments(shared=shared, own=own)


class LambdaRuntime:
    """Every function of the template, loaded once the environment is in place."""

    def __init__(
        self,
        functions: Mapping[str, Function],
        region: str = DEFAULT_REGION,
        clock: Clock = time.time,
        own_environments: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._own = {k: dict(v) for k, v in (own_environments or {}).items()}
        self._functions = dict(functions)
        self._region = region
        self._clock = clock
        self._loaded: dict[str, LocalFunction] = {}

    def load(self) -> Self:
        # Handlers read their configuration at import (cold start): os.environ must already
        # hold the resolved environment.
        try:
            for logical_id, function in self._functions.items():
                patch = EnvironmentPatch()
                patch.set(self._own.get(logical_id, {}))
                try:
                    handler = load_handler(function)
                finally:
                    patch.restore()
                self._loaded[logical_id] = LocalFunction(function, handler, self._region, self._clock)
        except BaseException:
            self.unload()
            raise
        return self

    def __getitem__(self, logical_id: str) -> LocalFunction:
        return self._loaded[logical_id]

    @property
    def functions(self) -> dict[str, LocalFunction]:
        return dict(self._loaded)

    def unload(self) -> None:
        for function in self._functions.values():
            unload_handler(function)
        self._loaded.clear()
