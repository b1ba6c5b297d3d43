"""What a run would cost on AWS: counted calls and measured durations, priced from a dated table.

`Meter` watches boto3 clients (botocore events) and the local stack's functions while a run goes:
- every AWS call, by operation, as `CallCounter` counts them;
- DynamoDB in request units: a write is billed on the larger of the item's size before and after it
  (read back with a client of its own, outside the counted calls), twice for a transaction item; a
  read on the size it returned (4 KB units, halved when eventually consistent);
- SQS in 64 KB chunks of each call's payload; S3 PUT-class and GET-class requests and the bytes
  stored; KMS requests; Lambda invocations and GB-seconds per function (each invocation's wall
  time, without the meter's own reads, at the function's MemorySize from template.yaml);
- what the caller adds: API requests (in 512 KB units) and downloads of result URLs.

`costs` prices a `Usage` with a `PriceTable` (benchmarks/prices/*.toml), itemised by service.
Local durations are moto's on loopback, not AWS's: the GB-seconds are an estimate, the calls are not.
"""

from __future__ import annotations

import math
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "prices" / "aws-eu-west-1-2026-12.toml"

KB = 1024
# Lambda prints START, END and REPORT for every invocation: about this many bytes in all.
PLATFORM_LOG_BYTES = 260
# X-Ray's default sampling rule: the first request each second, then 5 % (we take the 5 %).
XRAY_SAMPLED = 0.05
# S3 lifecycle (template.yaml): results/ expire after 1 day, inputs/ after 2; S3 acts at the next
# midnight UTC, so an object lives up to a day longer: bill the longer life.
STORED_DAYS = {"results/": 2, "inputs/": 3}

S3_PUT_CLASS = {"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2", "CreateMultipartUpload",
                "UploadPart", "CompleteMultipartUpload"}  # fmt: skip
S3_FREE = {"DeleteObject", "DeleteObjects"}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass(frozen=True)
class PriceTable:
    path: Path
    region: str
    as_of: str
    status: str
    sources: dict[str, str]
    prices: dict[str, dict[str, float]]

    def __getitem__(self, service: str) -> dict[str, float]:
        return self.prices[service]

    def describe(self) -> str:
        return f"{self.path.name} ({self.region}, as of {self.as_of}; {self.status})"


def load_prices(path: Path = PRICES) -> PriceTable:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    services = {k: v for k, v in data.items() if isinstance(v, dict) and k != "sources"}
    for service, values in services.items():
        for name, value in values.items():
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{path.name}: [{service}] {name} must be a non-negative number, got {value!r}")
    return PriceTable(path, data["region"], str(data["as_of"]), data["status"], dict(data["sources"]), services)


# DynamoDB item sizes: attribute names and values, as DynamoDB counts them for capacity.
def value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in inner)
    if kind == "NS":
        return sum(value_size({"N": v}) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def item_kind(item_key: Mapping[str, Any]) -> str:
    """BATCH, CHUNK, TASK, USAGE...: the sort key up to its first '#'."""
    sk = item_key.get("sk", {}).get("S", "?")
    return str(sk).split("#", 1)[0]


def write_units(size_bytes: int, transactional: bool = False) -> int:
    return max(1, math.ceil(size_bytes / KB)) * (2 if transactional else 1)


def read_units(size_bytes: int, consistent: bool = True, transactional: bool = False) -> float:
    units = max(1, math.ceil(size_bytes / (4 * KB)))
    return units * 2.0 if transactional else units * (1.0 if consistent else 0.5)


def sqs_requests(payload_bytes: int, chunk: int = 64 * KB) -> int:
    return max(1, math.ceil(payload_bytes / chunk))


@dataclass
class FunctionUse:
    memory_mb: int
    invocations: int = 0
    billed_ms: int = 0

    @property
    def gb_seconds(self) -> float:
        return self.billed_ms / 1000 * self.memory_mb / 1024


@dataclass
class Usage:
    """What a run used, in the units AWS bills."""

    calls: Counter[str] = field(default_factory=Counter)
    # Write units by the kind of item written (its sort key up to the first '#': BATCH, CHUNK, USAGE...).
    wru_by_item: Counter[str] = field(default_factory=Counter)
    dynamodb_wru: float = 0.0
    dynamodb_rru: float = 0.0
    sqs_requests: int = 0
    s3_put: int = 0
    s3_get: int = 0
    s3_gb_month: float = 0.0
    kms_requests: int = 0
    functions: dict[str, FunctionUse] = field(default_factory=dict)
    api_requests: int = 0
    api_calls: int = 0
    log_bytes: int = 0
    download_bytes: int = 0

    def function(self, name: str, memory_mb: int) -> FunctionUse:
        return self.functions.setdefault(name, FunctionUse(memory_mb))

    def __add__(self, other: Usage) -> Usage:
        total = Usage(calls=self.calls + other.calls, wru_by_item=self.wru_by_item + other.wru_by_item)
        for name in ("dynamodb_wru", "dynamodb_rru", "sqs_requests", "s3_put", "s3_get", "s3_gb_month", "kms_requests",
                     "api_requests", "api_calls", "log_bytes", "download_bytes"):  # fmt: skip
            setattr(total, name, getattr(self, name) + getattr(other, name))
        for use in (self, other):
            for name, f in use.functions.items():
                mine = total.function(name, f.memory_mb)
                mine.invocations += f.invocations
                mine.billed_ms += f.billed_ms
        return total

    def scaled(self, factor: float) -> Usage:
        """This usage `factor` times over (a measured sample scaled to a whole run)."""
        out = Usage(
            calls=Counter({k: round(v * factor) for k, v in self.calls.items()}),
            wru_by_item=Counter({k: round(v * factor) for k, v in self.wru_by_item.items()}),
        )
        for name in ("dynamodb_wru", "dynamodb_rru", "s3_gb_month"):
            setattr(out, name, getattr(self, name) * factor)
        for name in ("sqs_requests", "s3_put", "s3_get", "kms_requests", "api_requests", "api_calls", "log_bytes",
                     "download_bytes"):  # fmt: skip
            setattr(out, name, round(getattr(self, name) * factor))
        for name, f in self.functions.items():
            out.functions[name] = FunctionUse(f.memory_mb, round(f.invocations * factor), round(f.billed_ms * factor))
        return out

    @property
    def invocations(self) -> int:
        return sum(f.invocations for f in self.functions.values())


def costs(usage: Usage, prices: PriceTable) -> dict[str, float]:
    """Dollars by line item."""
    lam, api, sqs, ddb, s3 = prices["lambda"], prices["api_gateway"], prices["sqs"], prices["dynamodb"], prices["s3"]
    traced = (usage.api_calls + usage.functions.get("WorkerFunction", FunctionUse(0)).invocations) * XRAY_SAMPLED
    log_bytes = usage.log_bytes + PLATFORM_LOG_BYTES * usage.invocations
    return {
        "Lambda requests": usage.invocations * lam["request_per_million"] / 1e6,
        "Lambda duration": sum(f.gb_seconds for f in usage.functions.values()) * lam["gb_second_x86"],
        "API Gateway (HTTP API)": usage.api_requests * api["http_request_per_million"] / 1e6,
        "SQS": usage.sqs_requests * sqs["request_per_million"] / 1e6,
        "DynamoDB writes": usage.dynamodb_wru * ddb["write_request_unit_per_million"] / 1e6,
        "DynamoDB reads": usage.dynamodb_rru * ddb["read_request_unit_per_million"] / 1e6,
        "S3 requests": usage.s3_put * s3["put_copy_post_list_per_thousand"] / 1e3
        + usage.s3_get * s3["get_select_per_thousand"] / 1e3,
        "S3 storage": usage.s3_gb_month * s3["storage_gb_month"],
        "S3 data transfer out": usage.download_bytes / 2**30 * s3["data_transfer_out_gb"],
        "KMS": usage.kms_requests * prices["kms"]["request_per_ten_thousand"] / 1e4,
        "CloudWatch Logs": log_bytes / 2**30 * prices["cloudwatch"]["logs_ingestion_gb"],
        "X-Ray": traced * prices["xray"]["traces_recorded_per_million"] / 1e6,
    }


def money(value: float) -> str:
    return f"${Decimal(value).quantize(Decimal('0.000001'))}"


def show_cost(title: str, usage: Usage, tasks: int, prices: PriceTable, say: Callable[[str], None] = print) -> float:
    """Print the cost per 1,000 tasks of `usage` (which ran `tasks` tasks), itemised; returns the total."""
    per = 1000 / tasks
    items = costs(usage.scaled(per), prices)
    total = sum(items.values())
    say(f"{title}: {money(total)} per 1,000 tasks")
    for name, dollars in items.items():
        if dollars > 0:
            say(f"    {name:<26}{money(dollars):>12}   {dollars / total:6.1%}")
    return total


def show_units(usage: Usage, tasks: int, say: Callable[[str], None] = print) -> None:
    per = 1000 / tasks
    lambdas = ", ".join(
        f"{name} {f.invocations * per:.0f} x {f.billed_ms / max(f.invocations, 1):.0f} ms at {f.memory_mb} MB"
        for name, f in sorted(usage.functions.items())
    )
    say(f"    per 1,000 tasks: {usage.api_requests * per:.0f} API requests; Lambda {lambdas or 'none'}")
    by_item = ", ".join(f"{kind} {n * per:.0f}" for kind, n in usage.wru_by_item.most_common())
    say(f"    {usage.dynamodb_wru * per:.0f} DynamoDB WRU ({by_item or 'none'}), {usage.dynamodb_rru * per:.0f} RRU; {usage.sqs_requests * per:.0f} SQS"
        f" requests; S3 {usage.s3_put * per:.0f} PUT, {usage.s3_get * per:.0f} GET; {usage.kms_requests * per:.0f} KMS")


class _Local(threading.local):
    meter_seconds: float = 0.0


class Meter:
    """Counts what the watched clients and functions use while it is on (`take` ends a window)."""

    def __init__(self, reader: Any, key_names: Iterable[str] = ("pk", "sk")) -> None:
        # `reader`: a DynamoDB client of the meter's own (not watched) for before/after item sizes.
        self._reader = reader
        self._key_names = tuple(key_names)
        self._lock = threading.Lock()
        self._local = _Local()
        self.usage = Usage()

    # -- clients --
    def watch(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._before)
        client.meta.events.register("after-call", self._after)

    def _timed(self, work: Callable[[], None]) -> None:
        start = time.perf_counter()
        try:
            work()
        finally:
            self._local.meter_seconds += time.perf_counter() - start

    def _before(self, event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service, operation = event_name.split(".")[1:]
        call: dict[str, Any] = {"service": service, "operation": operation, "params": dict(params)}
        context["tasklane_meter"] = call
        if service == "dynamodb" and operation in DYNAMODB_WRITES:
            self._timed(lambda: call.update(before=self._sizes(operation, params)))

    def _after(self, event_name: str, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("tasklane_meter")
        if call is None:
            return
        self._timed(lambda: self._account(call, parsed or {}))

    def _targets(self, operation: str, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
        """(table, key, transactional) of each item a write touches."""
        def key_of(request: Mapping[str, Any]) -> dict[str, Any]:
            if "Key" in request:
                return dict(request["Key"])
            return {k: v for k, v in request["Item"].items() if k in self._key_names}

        if operation == "TransactWriteItems":
            return [(r["TableName"], key_of(r), True) for entry in params["TransactItems"] for r in entry.values()]
        if operation == "BatchWriteItem":
            return [
                (table, key_of(next(iter(request.values()))), False)
                for table, requests in params["RequestItems"].items()
                for request in requests
            ]
        return [(params["TableName"], key_of(params), False)]

    def _sizes(self, operation: str, params: Mapping[str, Any]) -> list[int]:
        return [
            item_size(self._reader.get_item(TableName=table, Key=item_key, ConsistentRead=True).get("Item"))
            for table, item_key, _ in self._targets(operation, params)
        ]

    def _account(self, call: dict[str, Any], parsed: dict[str, Any]) -> None:
        service, operation, params = call["service"], call["operation"], call["params"]
        with self._lock:
            u = self.usage
            u.calls[f"{service}.{operation}"] += 1
        if service == "dynamodb":
            self._dynamodb(operation, params, parsed, call.get("before"))
        elif service == "sqs":
            with self._lock:
                u.sqs_requests += sqs_requests(_sqs_payload(operation, params, parsed))
        elif service == "s3":
            with self._lock:
                if operation in S3_PUT_CLASS:
                    u.s3_put += 1
                    body = params.get("Body", b"")
                    size = len(body) if isinstance(body, (bytes, bytearray, str)) else 0
                    days = next((d for prefix, d in STORED_DAYS.items() if str(params.get("Key", "")).startswith(prefix)), 0)
                    u.s3_gb_month += size / 2**30 * days / 30
                elif operation not in S3_FREE:
                    u.s3_get += 1
        elif service == "kms":
            with self._lock:
                u.kms_requests += 1

    def _dynamodb(self, operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any], before: list[int] | None) -> None:
        wru, rru = 0.0, 0.0
        kinds: Counter[str] = Counter()
        if operation in DYNAMODB_WRITES:
            targets = self._targets(operation, params)
            after = self._sizes(operation, params)
            for (_, item_key, transactional), old, new in zip(targets, before or [0] * len(targets), after, strict=True):
                units = write_units(max(old, new), transactional)
                wru += units
                kinds[item_kind(item_key)] += units
        elif operation == "GetItem":
            rru = read_units(item_size(parsed.get("Item")), bool(params.get("ConsistentRead")))
        elif operation in {"Query", "Scan"}:
            rru = read_units(sum(item_size(i) for i in parsed.get("Items", [])), bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            consistent = {t: bool(r.get("ConsistentRead")) for t, r in params.get("RequestItems", {}).items()}
            rru = sum(read_units(item_size(i), consistent.get(t, False))
                      for t, items in parsed.get("Responses", {}).items() for i in items)  # fmt: skip
        elif operation == "TransactGetItems":
            rru = sum(read_units(item_size(r.get("Item")), transactional=True) for r in parsed.get("Responses", []))
        with self._lock:
            self.usage.dynamodb_wru += wru
            self.usage.dynamodb_rru += rru
            self.usage.wru_by_item.update(kinds)

    # -- functions --
    def watch_functions(self, functions: Mapping[str, Any]) -> None:
        """Time every invocation of the local stack's functions (`LambdaRuntime.functions`)."""
        for logical_id, function in functions.items():
            function._invoke = self._timed_invoke(logical_id, function.function.memory_size, function._invoke)

    def _timed_invoke(self, name: str, memory_mb: int, invoke: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def timed(event: Any) -> Any:
            metered, start = self._local.meter_seconds, time.perf_counter()
            try:
                return invoke(event)
            finally:
                seconds = time.perf_counter() - start - (self._local.meter_seconds - metered)
                with self._lock:
                    use = self.usage.function(name, memory_mb)
                    use.invocations += 1
                    use.billed_ms += max(1, math.ceil(seconds * 1000))

        return timed

    # -- the caller's side --
    def api_request(self, request_bytes: int, response_bytes: int, units: int = 512 * KB) -> None:
        with self._lock:
            self.usage.api_calls += 1
            self.usage.api_requests += max(1, math.ceil(max(request_bytes, response_bytes) / units))

    def download(self, size: int) -> None:
        """A result fetched from its presigned URL: an S3 GET and bytes out of AWS."""
        with self._lock:
            self.usage.s3_get += 1
            self.usage.download_bytes += size

    def logs(self, size: int) -> None:
        with self._lock:
            self.usage.log_bytes += size

    def take(self) -> Usage:
        with self._lock:
            taken, self.usage = self.usage, Usage()
        return taken


def _sqs_payload(operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> int:
    def message_size(body: str, attributes: Mapping[str, Any]) -> int:
        size = len(body.encode("utf-8"))
        for name, value in attributes.items():
            size += len(name) + len(value.get("DataType", "")) + len(str(value.get("StringValue", value.get("BinaryValue", ""))))
        return size

    if operation == "SendMessageBatch":
        return sum(message_size(e["MessageBody"], e.get("MessageAttributes", {})) for e in params["Entries"])
    if operation == "SendMessage":
        return message_size(params["MessageBody"], params.get("MessageAttributes", {}))
    if operation == "ReceiveMessage":
        return sum(message_size(m["Body"], m.get("MessageAttributes", {})) for m in parsed.get("Messages", []))
    return 0


class LogTap:
    """Stands in for sys.stdout: counts what the functions log (Lambda ships it to CloudWatch Logs)
    and passes it on only when `echo` is set; the benchmark prints its own lines to `real`."""

    def __init__(self, real: Any, echo: bool = False) -> None:
        self.real = real
        self.echo = echo
        self.bytes = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.bytes += len(text.encode("utf-8", "replace"))
        if self.echo:
            self.real.write(text)
        return len(text)

    def flush(self) -> None:
        if self.echo:
            self.real.flush()

    def isatty(self) -> bool:
        return False

    def take(self) -> int:
        with self._lock:
            taken, self.bytes = self.bytes, 0
        return taken
