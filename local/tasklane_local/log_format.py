"""What `tasklane local` prints: one short line per request and per worker run, or Lambda's JSON as is.

AWS: each function prints Powertools' JSON log lines and EMF metric blobs to stdout, which
CloudWatch stores. Here every function prints to one terminal, where a 500-character line per
request is hard to read. `compact` rewrites each JSON line as it is written: the gateway's access
line as `time METHOD path status function duration tenant`, other lines as `time [LEVEL] function
message key=value...`, the INFO lines of API functions left out (the access line says it), EMF
blobs dropped. The JSON goes through Powertools' redacting formatter first, so what compact
prints is masked as the JSON was. `json` prints the lines as Lambda would.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
import warnings
from collections.abc import Collection, Iterable, Iterator
from typing import Any, Literal, TextIO

from tasklane_local.lambda_runtime import LAMBDA_LOG_KEYS, physical_function_name

LogFormat = Literal["compact", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("compact", "json")

# What every line carries, or what only a machine reads: left out of compact lines.
_UNSHOWN = {*LAMBDA_LOG_KEYS, "level", "location", "message", "timestamp", "service", "xray_trace_id"}
_UNSHOWN |= {"sampling_rate", "correlation_id", "message_id", "exception", "exception_name", "stack_trace", "tenant"}
_ACCESS_KEYS = ("method", "path", "status", "duration_ms")
MAX_LISTED = 3


def access_line(method: str, path: str, status: int, duration_ms: int | None) -> dict[str, Any]:
    """The extra keys of the gateway's line about one request (what compact prints it from; the
    function and tenant are the line's tags)."""
    return {"method": method, "path": path, "status": status, "duration_ms": duration_ms}


def compact(line: dict[str, Any], api_functions: Collection[str] = ()) -> str | None:
    """One Powertools JSON line as a short one; None for a line compact leaves out."""
    if "_aws" in line:
        return None  # an EMF metric blob
    clock = str(line.get("timestamp", ""))[11:19]
    function = _short_name(line.get("function_name"))
    if all(key in line for key in _ACCESS_KEYS):
        tenant = f" tenant={line['tenant']}" if line.get("tenant") else ""
        duration = f"{line['duration_ms']} ms" if line["duration_ms"] is not None else "-"
        return f"{clock} {line['method']} {line['path']} {line['status']} {function or '-'} {duration}{tenant}"
    level = str(line.get("level", "INFO"))
    if level == "INFO" and line.get("function_name") in api_functions:
        return None
    words = [clock] + ([level] if level != "INFO" else []) + ([function] if function else []) + [str(line.get("message", ""))]
    words += [f"{key}={_value(value)}" for key, value in line.items() if key not in _UNSHOWN]
    if line.get("tenant"):
        words.append(f"tenant={line['tenant']}")
    text = " ".join(words)
    if line.get("exception"):
        text += "\n  " + str(line["exception"]).replace("\n", "\n  ")
    return text


def _short_name(function: object) -> str | None:
    prefix = physical_function_name("")
    return str(function).removeprefix(prefix) if function else None


def _value(value: object) -> str:
    if isinstance(value, list) and len(value) > MAX_LISTED:
        return f"[{len(value)} items]"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class CompactStream(io.TextIOBase):
    """A text stream that writes each log line or EMF blob it is given as `compact` makes it; other text as is.

    Threads write at once (the gateway's, the workers'), and print() writes a line's text and its
    newline apart: each thread's unfinished line is its own, and whole lines go out under a lock."""

    def __init__(self, target: TextIO, api_functions: Iterable[str] = ()) -> None:
        super().__init__()
        self._target = target
        self._api_functions = frozenset(api_functions)
        self._pending = threading.local()
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, rest = (getattr(self._pending, "text", "") + text).split("\n")
        self._pending.text = rest
        shown = [line for line in map(self._compact, lines) if line is not None]
        if shown:
            with self._lock:
                self._target.write("".join(line + "\n" for line in shown))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._target.flush()

    def _compact(self, line: str) -> str | None:
        if not line.startswith("{"):
            return line
        try:
            parsed = json.loads(line)
        except ValueError:
            return line
        # Powertools' lines and EMF blobs only: a function's own print() of a JSON object stays as printed.
        if isinstance(parsed, dict) and ("_aws" in parsed or {"level", "timestamp", "message"} <= parsed.keys()):
            return compact(parsed, self._api_functions)
        return line


def quiet_local_noise() -> None:
    """What no one running the stack needs to read, in either format."""
    # "Found credentials in environment variables", "Found endpoint for s3 via: environment_global",
    # once per client: the stack's own fake credentials and moto's address.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # Powertools warns on every invocation that records no metric (a 400, say).
    warnings.filterwarnings("ignore", message="No application metrics to publish")


@contextlib.contextmanager
def printing(log_format: LogFormat, service: str, api_functions: Iterable[str]) -> Iterator[None]:
    """Inside, the functions' lines (the `service` logger's Powertools handler) and stdout print as asked.

    Enter after the functions are loaded: their first Logger adds the handler."""
    quiet_local_noise()
    if log_format == "json":
        yield
        return
    real = sys.stdout
    stream = CompactStream(real, api_functions)
    handlers = [h for h in logging.getLogger(service).handlers if isinstance(h, logging.StreamHandler)]
    previous = [handler.setStream(stream) for handler in handlers]
    # EMF blobs are print()ed to stdout, not logged.
    sys.stdout = stream  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = real
        for handler, earlier in zip(handlers, previous, strict=True):
            if earlier is not None:
                handler.setStream(earlier)
