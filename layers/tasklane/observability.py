"""What tasklane's logs and metrics say, defined once.

Logs: every function logs JSON through one Powertools Logger per process (`logger()`), whose
formatter masks secrets (`redact`) in whatever a line holds: its message, extras, appended keys and
exception text. A request's lines carry `tenant` (the Resolver appends it once the caller is known),
the family's ids its path, query and folder headers name (`request_keys`), the ids a handler learns
later (`append_keys`), and API Gateway's request id as `correlation_id`. The worker's lines carry the
run unit's `tenant`, `batch_id`, `chunk` and `task_ids`, and `task_id` while a task runs (`keys`).
Keys are Powertools' thread-safe keys, cleared when an invocation begins (each function's
`inject_lambda_context(clear_state=True)`), so none outlives its invocation in a warm environment.

Metrics: one EMF namespace (POWERTOOLS_METRICS_NAMESPACE), the dimension `family`, and the names
Accepted, Completed, Failed (counts) and Duration (milliseconds) for every family (`FamilyMetrics`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

Family = Literal["documents", "generic_tasks", "jobs"]
DOCUMENTS: Family = "documents"
GENERIC_TASKS: Family = "generic_tasks"
JOBS: Family = "jobs"

ACCEPTED = "Accepted"
COMPLETED = "Completed"
FAILED = "Failed"
DURATION = "Duration"

# --- secrets

MASK = "[REDACTED]"
# A key whose name (lower case, letters and digits only) holds one of these: its value is masked.
# Dynamo's x-dynamo-api-key, Authorization, an integration's sessionID, tokens, webhook and other secrets.
SECRET_NAME_PARTS = ("authorization", "apikey", "session", "token", "secret", "password", "cookie", "credential")
# Secrets recognizable by their shape, wherever they sit in a text (an exception message, a header dump).
_SECRET_TEXT = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*"), f"Bearer {MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),  # a JWT
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+"), MASK),  # a Salesforce session id
    # A tasklane API key (auth.create_api_key: 12 hex digits, a dot, 43 URL-safe characters).
    (re.compile(r"\b[0-9a-f]{12}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"), MASK),
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
MAX_DEPTH = 32


def secret_name(name: object) -> bool:
    normalized = _NOT_ALNUM.sub("", str(name).lower())
    return any(part in normalized for part in SECRET_NAME_PARTS)


def _scrub(text: str, depth: int) -> str:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        # A body or header map logged as JSON text: masked by key as if it were logged as an object.
        try:
            parsed = json.loads(stripped)
        except ValueError:
            pass
        else:
            return json.dumps(redact(parsed, depth + 1), ensure_ascii=False)
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, depth: int = 0) -> Any:
    """`value` with every secret masked: values under a secret's name, and secret-shaped text."""
    if depth > MAX_DEPTH:
        return MASK
    if isinstance(value, Mapping):
        return {k: MASK if secret_name(k) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(item, depth + 1) for item in value]
    if isinstance(value, str):
        return _scrub(value, depth)
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log line, secrets masked last, after every key, extra and exception is in it."""

    def __init__(self, **options: Any) -> None:
        # What json.dumps cannot serialize is logged as its str(), masked like any text.
        options.setdefault("json_default", lambda value: redact(str(value)))
        super().__init__(**options)

    def format(self, record: logging.LogRecord) -> str:
        if record.args:
            # `%s` of a mapping prints its repr, which no key can be found in afterwards: mask first,
            # on a copy, as other handlers may format the same record.
            record = logging.makeLogRecord(record.__dict__)
            args = record.args
            record.args = redact(args) if isinstance(args, Mapping) else tuple(redact(list(args or ())))
        return super().format(record)

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(redact(log))


# --- logs


@functools.cache
def logger() -> Logger:
    """The process's Logger for the service: every function's, with the redacting formatter."""
    return redacting(Logger(logger_formatter=RedactingFormatter()))


def redacting(log: Logger) -> Logger:
    """`log`, its service's one handler formatting with RedactingFormatter even if another Logger
    of the service configured it first (as the local stack's test fixtures do)."""
    if not isinstance(log.registered_formatter, RedactingFormatter):
        log.registered_handler.setFormatter(RedactingFormatter())
        log.clear_state()
    return log


def append_keys(**keys: object) -> None:
    """Keys every later line of this invocation carries; None values are left out."""
    logger().thread_safe_append_keys(**{name: value for name, value in keys.items() if value is not None})


@contextmanager
def keys(**added: object) -> Iterator[None]:
    """Keys the lines logged inside this block carry (one queue record, one task); the keys they
    replaced come back after."""
    log = logger()
    before = dict(log.thread_safe_get_current_keys())
    append_keys(**added)
    try:
        yield
    finally:
        log.thread_safe_remove_keys(list(added))
        append_keys(**{name: before[name] for name in added if name in before})


# The ids a request names, by where it names them, as the log keys they become.
PATH_KEYS = {
    "taskId": "task_id",
    "batchId": "batch_id",
    "templateId": "template_id",
    "clientJobId": "client_job_id",
    "workflowId": "workflow_id",
    "name": "resource_name",
}
QUERY_KEYS = {"taskId": "generic_task_id", "taskKey": "generic_task_key"}
HEADER_KEYS = {
    "x-uipath-organizationunitid": "folder_id",
    "x-uipath-folderkey": "folder_key",
    "x-uipath-folderpath": "folder_path",
}
MAX_KEY_CHARS = 200


def request_keys(event: Mapping[str, Any]) -> dict[str, str]:
    """The log keys of the ids an API Gateway (payload 2.0) event names, as sent (clipped)."""
    found: dict[str, str] = {}
    for part, names in (("pathParameters", PATH_KEYS), ("queryStringParameters", QUERY_KEYS), ("headers", HEADER_KEYS)):
        values = event.get(part) or {}
        if not isinstance(values, Mapping):
            continue
        for wire, key in names.items():
            value = values.get(wire)
            if isinstance(value, str):
                found[key] = value[:MAX_KEY_CHARS]
    return found


class Unit(Protocol):
    """A run unit as the worker reads it (domain.records.RunUnit)."""

    @property
    def tenant(self) -> str: ...

    @property
    def batchId(self) -> str | None: ...  # noqa: N802

    @property
    def chunk(self) -> int | None: ...

    @property
    def taskIds(self) -> Sequence[str]: ...  # noqa: N802


def unit_keys(unit: Unit) -> dict[str, object]:
    return {"tenant": unit.tenant, "batch_id": unit.batchId, "chunk": unit.chunk, "task_ids": list(unit.taskIds)}


# --- metrics

Handler = TypeVar("Handler", bound=Callable[..., Any])
Answer = TypeVar("Answer")


class Run(Protocol):
    """Something that ended (a document task's outcome, a job's ending): how, and when it started and ended."""

    @property
    def ok(self) -> bool: ...

    @property
    def start(self) -> str: ...

    @property
    def end(self) -> str: ...


def _milliseconds(start: str, end: str) -> float:
    """From one ISO timestamp (timeutil.iso) to another, never negative."""
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return max(0.0, delta.total_seconds() * 1000)


class FamilyMetrics:
    """A function's metrics, published as one EMF line when its handler returns (`log_metrics`).

    Each instance keeps its own set (Powertools' `Metrics` share one per process), so the local
    stack, which runs every function in one process, labels each line with its own family."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self._emf = AmazonCloudWatchEMFProvider(default_dimensions={"family": family})

    def log_metrics(self, handler: Handler) -> Handler:
        return self._emf.log_metrics(handler)

    def accepted(self, count: int = 1) -> None:
        self._emf.add_metric(name=ACCEPTED, unit=MetricUnit.Count, value=count)

    def accepting(self, action: Callable[[], Answer], count: Callable[[Answer], int] = lambda _: 1) -> Callable[[], Answer]:
        """`action`, counting what it accepts when it runs: an Idempotency-Key replay runs nothing
        and counts nothing."""

        def run() -> Answer:
            answer = action()
            self.accepted(count(answer))
            return answer

        return run

    def completed(self, count: int = 1) -> None:
        self._emf.add_metric(name=COMPLETED, unit=MetricUnit.Count, value=count)

    def failed(self, count: int = 1) -> None:
        if count:
            self._emf.add_metric(name=FAILED, unit=MetricUnit.Count, value=count)

    def finished(self, ok: bool, start: str, end: str) -> None:
        """One task or job ended, completed or failed, having taken from `start` to `end`."""
        if ok:
            self.completed()
        else:
            self.failed()
        self._emf.add_metric(name=DURATION, unit=MetricUnit.Milliseconds, value=_milliseconds(start, end))

    def ran(self, run: Run | None) -> None:
        """`finished` for what a call ended, if it ended anything."""
        if run is not None:
            self.finished(run.ok, run.start, run.end)
