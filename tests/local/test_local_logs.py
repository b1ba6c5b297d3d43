"""Log lines name the function they belong to, though every function shares one process and logger."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tasklane_local.gateway import Gateway, GatewayServer
from tasklane_local.lambda_runtime import LambdaRuntime
from tasklane_local.template import load_template

FIXTURES = Path(__file__).parent / "fixtures"


class Capture(logging.Handler):
    """Formats records as the handlers' Powertools logger would print them."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def line(self, text: str) -> dict[str, Any]:
        [line] = [line for line in self.lines if text in line["message"]]
        return line


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(load_template(FIXTURES / "logs.yaml").functions).load()
    yield runtime
    runtime.unload()


def test_lines_name_their_own_function_while_another_runs(runtime, caplog):
    slow, hello = sys.modules["tasklane_fn_SlowFunction"], sys.modules["tasklane_fn_HelloFunction"]
    # Powertools keeps one set of Lambda keys per logger, appended by inject_lambda_context.
    capture = Capture(slow.logger.registered_formatter)
    loggers = [logging.getLogger(slow.SERVICE), logging.getLogger("tasklane.local.gateway")]
    caplog.set_level(logging.INFO, logger="tasklane.local.gateway")
    for logger in loggers:
        logger.addHandler(capture)
    template = load_template(FIXTURES / "logs.yaml")
    server = GatewayServer(Gateway(template.routes, runtime.functions), port=0)
    url = server.start()
    answers: list[requests.Response] = []
    asking = threading.Thread(target=lambda: answers.append(requests.get(f"{url}/hello", timeout=10)))
    # The worker, say: it starts while the route's function is mid-invocation, and outlasts it.
    working = threading.Thread(target=runtime["SlowFunction"].invoke, args=({},))
    try:
        asking.start()
        assert hello.ENTERED.wait(10)
        working.start()
        assert slow.STARTED.wait(10)
        hello.PROCEED.set()
        asking.join(10)
        slow.RELEASE.set()
        working.join(10)
    finally:
        hello.PROCEED.set()
        slow.RELEASE.set()
        server.stop()
        for logger in loggers:
            logger.removeHandler(capture)

    [answer] = answers
    assert answer.json() == {"hello": "world"}
    assert capture.line("hello finished")["function_name"] == "tasklane-HelloFunction"
    assert capture.line("slow finished")["function_name"] == "tasklane-SlowFunction"
    assert capture.line("slow finished")["function_memory_size"] == 1024
    # AWS: each function's first invocation is its own cold start (Powertools counts one per process).
    assert capture.line("slow started")["cold_start"] is True
    access = capture.line("GET /hello 200")
    assert access["function_name"] == "tasklane-HelloFunction" and access["status"] == 200 and access["method"] == "GET"
    assert access["correlation_id"] == answer.headers["apigw-requestid"]
    # No other function's invocation keys on the gateway's own line.
    assert "function_request_id" not in access and "function_arn" not in access
