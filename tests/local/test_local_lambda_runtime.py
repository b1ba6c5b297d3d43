from __future__ import annotations

import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tasklane_local.lambda_runtime import (
    HandlerNotFound,
    LambdaContext,
    LambdaRuntime,
    LocalFunction,
    load_handler,
    split_environments,
)
from tasklane_local.template import load_template

FIXTURES = Path(__file__).parent / "fixtures"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_context_counts_down_from_the_timeout():
    clock = FakeClock(1_700_000_000.0)
    context = LambdaContext("tasklane-F", 512, timeout_seconds=10, region="us-east-1", clock=clock)

    clock.now += 2.5

    assert context.get_remaining_time_in_millis() == 7500
    clock.now += 60
    assert context.get_remaining_time_in_millis() == 0
    assert context.function_name == "tasklane-F"
    assert context.memory_limit_in_mb == 512
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:tasklane-F"
    assert context.log_group_name == "/aws/lambda/tasklane-F"
    assert context.log_stream_name.startswith("2023/11/14/[$LATEST]")
    assert len(context.aws_request_id) == 36
    assert LambdaContext("f", 1, 1).aws_request_id != context.aws_request_id


def test_functions_sharing_code_get_their_own_modules():
    template = load_template(FIXTURES / "gateway.yaml")
    runtime = LambdaRuntime(template.functions).load()
    try:
        runtime["EchoFunction"].invoke({"n": 1})

        echo = sys.modules["tasklane_fn_EchoFunction"]
        public = sys.modules["tasklane_fn_PublicFunction"]
        assert echo is not public
        assert echo.CALLS == [{"n": 1}] and public.CALLS == []
    finally:
        runtime.unload()
    assert "tasklane_fn_EchoFunction" not in sys.modules


def test_missing_handler_fails_at_load():
    function = load_template(FIXTURES / "gateway.yaml").functions["EchoFunction"]

    with pytest.raises(HandlerNotFound, match=r"nope\.py"):
        load_handler(replace(function, handler="nope.lambda_handler"))
    with pytest.raises(HandlerNotFound, match="no callable missing"):
        load_handler(replace(function, handler="app.missing"))


def test_invoke_round_trips_json_like_lambda():
    function = load_template(FIXTURES / "gateway.yaml").functions["EchoFunction"]
    received = []

    def handler(event, context):
        received.append(event)
        return {"when": object()}

    local = LocalFunction(function, handler)
    event = {"a": [1]}

    with pytest.raises(TypeError):
        local.invoke(event)
    assert received == [event] and received[0] is not event


def test_variables_functions_disagree_on_are_kept_per_function():
    split = split_environments({"One": {"MODE": "a", "X": "1"}, "Two": {"MODE": "b", "X": "1", "Y": "2"}})
    assert split.shared == {"X": "1", "Y": "2"}
    assert split.own == {"One": {"MODE": "a"}, "Two": {"MODE": "b"}}


def test_a_function_handles_one_event_at_a_time():
    function = load_template(FIXTURES / "gateway.yaml").functions["EchoFunction"]
    entered = {1: threading.Event(), 2: threading.Event()}
    release = threading.Event()

    def handler(event, context):
        entered[event["n"]].set()
        assert release.wait(10)
        return event["n"]

    local = LocalFunction(function, handler)
    first = threading.Thread(target=local.invoke, args=({"n": 1},))
    second = threading.Thread(target=local.invoke, args=({"n": 2},))
    first.start()
    assert entered[1].wait(10)
    second.start()

    # AWS: the second event waits for the environment to be free
    assert not entered[2].wait(0.3)
    release.set()
    assert entered[2].wait(10)
    first.join(10)
    second.join(10)
