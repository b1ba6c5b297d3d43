"""Lambda's Invoke API for the local stack's functions, as `sam local start-lambda` serves it.

A function that invokes another (the worker invoking the converter) does so with boto3's real
Lambda client; `AWS_ENDPOINT_URL_LAMBDA` points that client here, and this server runs the
handler in-process. RequestResponse invocations only, which is all tasklane uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tasklane_local.lambda_runtime import Invocable
from tasklane_local.serving import ServingThread

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # AWS: a synchronous invocation's request and response limit


class _Handler(BaseHTTPRequestHandler):
    server: _InvokeServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        match = _INVOKE_PATH.match(self.path.split("?", 1)[0])
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if match is None:
            self._error(HTTPStatus.NOT_FOUND, "UnknownOperationException", "only Invoke is served here")
            return
        if length > MAX_PAYLOAD_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", "request payload too large")
            return
        function = self.server.lookup(match.group(1))
        if function is None:
            self._error(HTTPStatus.NOT_FOUND, "ResourceNotFoundException", f"Function not found: {match.group(1)}")
            return
        try:
            result = function.invoke(json.loads(body or b"null"))
            payload, error = json.dumps(result).encode(), None
        except Exception as exc:  # AWS: an unhandled error is a 200 with X-Amz-Function-Error
            payload = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}).encode()
            error = "Unhandled"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Amz-Executed-Version", "$LATEST")
        if error is not None:
            self.send_header("X-Amz-Function-Error", error)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: HTTPStatus, error_type: str, message: str) -> None:
        payload = json.dumps({"Type": "User", "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _InvokeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], lookup: Callable[[str], Invocable | None]) -> None:
        super().__init__(address, _Handler)
        self.lookup = lookup


class LambdaApiServer:
    """Port 0 picks a free one; `lookup` maps a function name (or logical id) to a loaded function."""

    def __init__(self, lookup: Callable[[str], Invocable | None], host: str = "127.0.0.1", port: int = 0) -> None:
        self._serving = ServingThread(_InvokeServer((host, port), lookup), "tasklane-lambda-api")
        bound_host, bound_port = self._serving.host_and_port
        self.url = f"http://{bound_host}:{bound_port}"

    def start(self) -> str:
        self._serving.start()
        return self.url

    def stop(self) -> None:
        self._serving.stop()
