"""Shared test helpers: sample DAPs, events from events/, handlers loaded the way Lambda loads them."""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import importlib.util
import io
import json
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DAP_DIR = ROOT / "examples" / "account-profile"


def zip_files(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def example_dap() -> bytes:
    from tasklane.dap.pack import pack_directory

    return pack_directory(EXAMPLE_DAP_DIR)


SIMPLE_MANIFEST = """
name: Greeting
params:
  id: {type: string, required: true}
steps:
  - compose: {template: hello.txt, as: hello}
  - store: {from: hello, id: Hello, filename: "hello-{{ param.id }}.txt"}
"""


def simple_dap(template: str = "Hello {{ param.id }} from {{ task.id }}{% if param.extra is defined %} {{ param.extra | tojson }}{% endif %}") -> bytes:
    return zip_files({"dap.yaml": SIMPLE_MANIFEST, "hello.txt": template})


class FakeContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/test"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@functools.lru_cache(maxsize=1)
def _own_variables() -> dict[Path, dict[str, str]]:
    """Per function directory, what template.yaml gives that function alone (its REQUIRED_SCOPE); read once."""
    from tasklane_local.template import load_template

    return {
        function.code_uri: {k: v for k, v in function.environment.items() if isinstance(v, str) and k == "REQUIRED_SCOPE"}
        for function in load_template(ROOT / "template.yaml").functions.values()
    }


def function_literals(name: str) -> dict[str, str]:
    """The plain-string variables template.yaml gives functions/<name>/ alone (its REQUIRED_SCOPE)."""
    return dict(_own_variables().get((ROOT / "functions" / name).resolve(), {}))


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py fresh, as a Lambda cold start does, with its own variables set:
    a function's Config is read at import, and functions differ in REQUIRED_SCOPE."""
    import os

    module_name = f"tasklane_test_fn_{name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    own = function_literals(name)
    saved = {k: os.environ.get(k) for k in own}
    os.environ.update(own)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return module


def event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


def http_event(
    name: str,
    *,
    tenant: str = "acme",
    body: bytes | str | dict[str, Any] | None = None,
    content_type: str | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    ev = event(name)
    ev["requestContext"]["authorizer"]["lambda"]["tenant"] = tenant
    if path_params is not None:
        ev["pathParameters"] = path_params
        path = ev["rawPath"]
        template = ev["routeKey"].split(" ", 1)[1]
        path = template
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", value)
        ev["rawPath"] = ev["requestContext"]["http"]["path"] = path
    if body is not None:
        if isinstance(body, dict):
            body = json.dumps(body)
            content_type = content_type or "application/json"
        if isinstance(body, bytes):
            ev["body"] = base64.b64encode(body).decode()
            ev["isBase64Encoded"] = True
        else:
            ev["body"] = body
            ev["isBase64Encoded"] = False
    if content_type is not None:
        ev["headers"]["content-type"] = content_type
    return ev


def jwt_event(
    name: str,
    *,
    tenant: str = "acme",
    scopes: tuple[str, ...] = ("OR.Tasks",),
    folders: list[int] | None = None,
    body: dict[str, Any] | str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """events/<name>.json as API Gateway's JWT authorizer passes it on: claims as strings, a list
    claim as "[a b]", the granted scopes as a list."""
    ev = event(name)
    token_claims = ev["requestContext"]["authorizer"]["jwt"]["claims"]
    token_claims.update({"tenant": tenant, "sub": f"{tenant}-user", "scope": " ".join(scopes)})
    if folders is not None:
        token_claims["folders"] = "[" + " ".join(str(f) for f in folders) + "]"
    token_claims.update(claims or {})
    ev["requestContext"]["authorizer"]["jwt"]["scopes"] = list(scopes)
    ev["requestContext"]["requestId"] = request_id or uuid.uuid4().hex
    ev["queryStringParameters"] = query
    ev["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    if body is not None:
        ev["body"] = body if isinstance(body, str) else json.dumps(body)
        ev["headers"]["content-type"] = "application/json"
    else:
        ev.pop("body", None)
    ev["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
    return ev


def multipart(parts: list[tuple[str, str | None, str, bytes]], boundary: str = "boundary42") -> tuple[bytes, str]:
    """parts: (name, filename or None, content type, data)."""
    out = io.BytesIO()
    for name, filename, ctype, data in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.write(f"Content-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f'multipart/form-data; boundary="{boundary}"'


def json_part(name: str, value: Any) -> tuple[str, None, str, bytes]:
    return (name, None, "application/json", json.dumps(value).encode())


def dap_part(data: bytes) -> tuple[str, str, str, bytes]:
    return ("template", "example.dap", "application/octet-stream", data)


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def wait_for(probe: Any, timeout: float = 30.0, what: str = "condition", interval: float = 0.05) -> Any:
    """Poll until `probe()` returns something truthy; fail at the deadline. The pause is the poll interval."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        pause.wait(interval)


def serve_file(path: Path):
    """Serve one file over HTTP on a free loopback port (an identity provider's JWKS, say)."""
    import contextlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    @contextlib.contextmanager
    def running():
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        finally:
            server.shutdown()
            server.server_close()

    return running()


def sqs_records(messages: list[dict[str, Any]], receive_count: int = 1) -> list[dict[str, Any]]:
    """SQS ReceiveMessage answers (asked with MessageAttributeNames=["All"]) as the Lambda event's records."""
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
            "messageAttributes": {
                name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                for name, value in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        }
        for m in messages
    ]


class FixedClock:
    """A clock a test sets: `backends.clock = FixedClock(moment)`, then `.moment = later`."""

    def __init__(self, moment: Any) -> None:
        self.moment = moment

    def now(self) -> Any:
        return self.moment


# The AWS the adapters use, through the same public seams they are built from: the process's cached
# clients and the function settings. Tests read and fault-inject AWS through these, never through an
# adapter's private attributes.
class CapturedLogs:
    """What the functions' Logger printed, one JSON object a line, as Lambda hands stdout to CloudWatch."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def text(self) -> str:
        return self._buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def named(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("message") == message]

    def clear(self) -> None:
        self._buffer.seek(0)
        self._buffer.truncate()


@contextlib.contextmanager
def _locked(handler: Any) -> Iterator[None]:
    handler.acquire()
    try:
        yield
    finally:
        handler.release()


@contextlib.contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[CapturedLogs]:
    """Every line the functions' Logger prints inside the block, at `level` and below.

    The one Powertools handler writes to another stream for the block (public logging API), through
    the formatter Lambda uses; every tasklane logger (the layer's child loggers too) logs at `level`."""
    import logging

    from tasklane import observability

    log = observability.logger()
    handler = log.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    # Not setStream: it flushes the stream it replaces, which may be closed, as the captured stdout of
    # the test that first made the Logger is once that test has ended.
    with _locked(handler):
        previous_stream, handler.stream = handler.stream, buffer
    known = {**logging.root.manager.loggerDict, "tasklane": logging.getLogger("tasklane")}
    loggers = [each for name, each in known.items() if name.split(".")[0] == "tasklane" and isinstance(each, logging.Logger)]
    levels = [(each, each.level) for each in loggers]
    for each in loggers:
        each.setLevel(level)
    try:
        yield CapturedLogs(buffer)
    finally:
        with _locked(handler):
            handler.stream = previous_stream
        for each, previous in levels:
            each.setLevel(previous)


def emf_blobs(printed: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF objects among printed lines (Powertools' metrics print one a flush)."""
    found = []
    for line in printed.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


def sqs() -> Any:
    from tasklane.storage.clients import aws_client

    return aws_client("sqs")


def s3() -> Any:
    from tasklane.storage.clients import aws_client

    return aws_client("s3")


def dynamodb() -> Any:
    from tasklane.storage.clients import aws_client

    return aws_client("dynamodb")


def queue_url() -> str:
    from tasklane.config import QueueSettings, load

    return load(QueueSettings).task_queue_url


def bucket() -> str:
    from tasklane.config import BucketSettings, load

    return load(BucketSettings).bucket_name


def table() -> str:
    from tasklane.config import TableSettings, load

    return load(TableSettings).table_name


def aws_error(code: str, status: int = 400, **extra: Any) -> tuple[Any, dict[str, Any]]:
    """What a botocore `before-call` handler returns to answer a call with the AWS error `code`, as the
    service would once botocore's own retries were spent; botocore raises it as the modeled exception."""
    from types import SimpleNamespace

    parsed = {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return SimpleNamespace(status_code=status, headers={}), {**parsed, **extra}


def aws_fault(client: Any, event: str, fault: Any, when: Any = None, times: int | None = None) -> Any:
    """Inject `fault` into `client`'s calls named by `event` (`before-call.dynamodb.PutItem`): an
    `aws_error(...)` answer, or an exception to raise (a connection error). `when(params)` picks the
    calls (the request's body, as botocore serialized it); `times` bounds how many fail. Yields the
    list of calls it failed; the hook is gone after the block."""
    import contextlib

    @contextlib.contextmanager
    def injected() -> Any:
        failed: list[Any] = []

        def hook(params: dict[str, Any], **_: Any) -> Any:
            if (times is not None and len(failed) >= times) or (when is not None and not when(params)):
                return None
            failed.append(params)
            if isinstance(fault, BaseException):
                raise fault
            return fault

        unique = f"fault-{uuid.uuid4().hex}"
        client.meta.events.register(event, hook, unique_id=unique)
        try:
            yield failed
        finally:
            client.meta.events.unregister(event, unique_id=unique)

    return injected()


def shell_environment() -> dict[str, str]:
    """os.environ as a developer's shell has it, not the tests' (their POWERTOOLS_LOG_LEVEL=WARNING,
    fake credentials, region), with the layer and the local package importable."""
    import os

    keep = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    return {**keep, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("layers", "local"))}


class LocalStackProcess:
    """A `tasklane local` process and what it printed, in files (a pipe nobody reads would fill and stall it)."""

    def __init__(self, cwd: Path, args: tuple[str, ...], logs: Path) -> None:
        import subprocess

        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = logs / "stdout", logs / "stderr"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tasklane_local.cli", "local", "--port", "0", *args],
                cwd=cwd, env=shell_environment(), stdout=out, stderr=err, text=True,
            )

    def output(self) -> tuple[str, str]:
        return self.stdout_path.read_text(), self.stderr_path.read_text()

    def stop(self) -> int:
        """Ctrl-C, as a developer stops it; its exit status."""
        import signal
        import subprocess

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def local_stack_process(cwd: Path, *args: str) -> Iterator[LocalStackProcess]:
    """`tasklane local --port 0 ARGS` run from `cwd` with a shell's environment, as `make run` runs it;
    yielded once its .tasklane/local.json is written, stopped after (if the test did not)."""
    stack = LocalStackProcess(cwd, args, cwd.parent / f"{cwd.name}-logs")
    try:
        wait_for(lambda: (cwd / ".tasklane" / "local.json").exists() or stack.process.poll() is not None, timeout=60, what="local.json")
        assert stack.process.poll() is None, stack.output()
        yield stack
    finally:
        stack.stop()
