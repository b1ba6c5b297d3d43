"""The burst simulation runs and reaches the steady state Little's law predicts for small inputs."""

from __future__ import annotations

import pytest

from benchmarks.simulate_burst import counter_wru, simulate, verdict


def test_single_tasks_settle_at_littles_law() -> None:
    # 36,000 tasks an hour = 10 a second, 100 ms each: one invocation busy on average, no backlog.
    result = simulate(rate_per_hour=36_000, minutes=3, batch_size=1000, single_share=1.0, task_ms=100, step=0.05)
    assert result.steady_concurrency == pytest.approx(1.0)
    last = result.minutes[-1]
    assert last.completions == pytest.approx(600, abs=2)
    assert last.peak_concurrency <= 3
    assert last.oldest_age < 1 and last.throttled == last.conflicts == last.redelivered == 0
    assert not result.backlogged and result.batches_posted == 0
    assert "breaks first: nothing" in verdict(result, 3)[-1]


def test_batches_with_a_light_counter_complete() -> None:
    # 100 tasks a second in batches of 100: a batch a second, its 10 chunks of 100 ms each.
    result = simulate(rate_per_hour=360_000, minutes=2, batch_size=100, task_ms=10, wru_per_chunk=2, txn_ms=0)
    assert result.batches_posted == 120 and len(result.batches_done) >= 119
    assert max(result.batches_done) < 5
    assert sum(m.throttled + m.redelivered for m in result.minutes) == 0


def test_the_batch_item_throttles_when_its_chunks_finish_faster_than_it_takes_writes() -> None:
    # 100 chunks a batch, each 78 WRU on one item that takes 1,000 a second: at most ~13 chunks a second.
    assert counter_wru(1000) == 78
    result = simulate(rate_per_hour=1_000_000, minutes=1, batch_size=1000, task_ms=24, txn_ms=0)
    minute = result.minutes[0]
    assert minute.throttled > 0 and minute.redelivered > 0
    assert minute.completions < minute.arrivals
    assert "DynamoDB batch item" in verdict(result, 1)[-1]
