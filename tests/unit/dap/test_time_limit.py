"""The render time limit holds on every thread: Lambda's main one and the local worker's."""

from __future__ import annotations

import threading
import time

from tasklane.dap import Engine, RunContext, RunResult, load_dap
from tasklane.dap import engine as engine_module

from .conftest import build_zip

FOREVER = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
MANIFEST = "name: X\nsteps:\n  - compose: {template: x.txt, as: out}\n"


def run_forever(engine: Engine, time_left: float | None = None) -> tuple[RunResult, float]:
    dap = load_dap(build_zip({"dap.yaml": MANIFEST, "x.txt": FOREVER}))
    start = time.monotonic()
    result = engine.run(dap, {}, RunContext(task_id="t"), time_left)
    return result, time.monotonic() - start


def test_a_template_looping_forever_is_stopped_on_a_worker_thread():
    outcome: list[tuple[RunResult, float]] = []
    run = lambda: outcome.append(run_forever(Engine(time_limit_seconds=0.5)))  # noqa: E731
    worker = threading.Thread(target=run, daemon=True)  # a regression must not hang the test run
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    [(result, elapsed)] = outcome
    assert not result.ok
    assert result.status_message == "The template took longer than 0.5 s to run"
    assert result.logs[-1].level == "SEVERE"
    assert elapsed < 2


def test_a_template_looping_forever_is_stopped_on_the_main_thread():
    assert threading.current_thread() is threading.main_thread()
    result, elapsed = run_forever(Engine(time_limit_seconds=0.5))
    assert result.status_message == "The template took longer than 0.5 s to run"
    assert elapsed < 2


def test_time_left_lowers_the_limit():
    result, elapsed = run_forever(Engine(time_limit_seconds=60), time_left=0.3)
    assert result.status_message == "The template took longer than 0.3 s to run"
    assert elapsed < 2


def test_a_timer_firing_as_the_block_ends_is_cleared(monkeypatch):
    calls: list[object] = []
    monkeypatch.setattr(engine_module, "_set_async_exc", lambda thread_id, exc: calls.append(exc))
    limit = engine_module._time_limit(60)
    with limit:
        limit._expire(limit._generation)  # the timer fires, but its exception is not delivered before the block ends
    [raised, cleared] = calls
    assert raised.value is engine_module._TimeUp  # type: ignore[attr-defined]
    assert cleared is None  # on exit, the still pending exception is cleared
    calls.clear()
    limit._expire(limit._generation)  # a timer that still fires afterwards does nothing
    assert calls == []


def test_a_timer_from_before_a_suspension_does_nothing(monkeypatch):
    calls: list[object] = []
    monkeypatch.setattr(engine_module, "_set_async_exc", lambda thread_id, exc: calls.append(exc))
    limit = engine_module._time_limit(60)
    with limit:
        before = limit._generation
        with limit.suspended():
            limit._expire(before)  # the cancelled timer was already on its way
        limit._expire(before)
        assert calls == []
        limit._expire(limit._generation)  # the re-armed one counts
    assert len(calls) == 2 and calls[1] is None

