"""The first minutes of a burst of tasks, simulated: queue depth, concurrency, the hot batch item.

A discrete-time model (steps of `--step` seconds, plain Python, no service) of what template.yaml
deploys, with durations measured by benchmarks/cost_per_task.py:
- arrivals: batches of `--batch-size` tasks (POST /v1/batch: all its messages at once, ten tasks a
  message) and single tasks (`--single-share` of the rate, one message each), evenly spread;
- Lambda's SQS event source (standard queue): 5 concurrent batches when messages appear, up to
  `--scale-per-minute` (300) more a minute while messages wait, at most `--max-concurrency` (1,000 per
  mapping, or ScalingConfig.MaximumConcurrency) and what the account's concurrency (`--account-concurrency`,
  shared with the converter on PDF tasks) leaves; each invocation takes up to `--messages-per-invoke`
  (BatchSize 10) messages and runs them one after the other;
- per message: its tasks at `--task-ms` each (`--pdf-share` of them at `--pdf-task-ms`, which holds a
  converter environment for `--convert-ms`), then its finish. A batch chunk finishes in a transaction
  that includes the batch's counter item: `--counter-wru` write units on one item, which takes at most
  `--partition-wcu` (1,000) a second; two transactions on it within `--txn-ms` of each other conflict.
  A throttled or conflicting finish backs off as the worker does (6 attempts, 0.05 x 2^n s); after the
  last the message returns to the queue after its visibility timeout (720 s) and the chunk runs again.

Prints a minute-by-minute table and a verdict: when the backlog drains, and which limit breaks first.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import deque
from dataclasses import dataclass, field

ATTEMPTS = 6
# A message waiting longer than this is a backlog.
WAIT_BINDS_S = 10.0
VISIBILITY_S = 720
BATCH_ITEM_BYTES_PER_TASK = 39  # a task id in the batch item's taskIds: 36 characters, quotes, comma
BATCH_ITEM_FIXED_BYTES = 300


def counter_wru(batch_size: int) -> int:
    """Write units one chunk's transaction takes on its batch item: 2 per KB of the item (it holds the
    batch's task ids), as measured by cost_per_task.py (78 for a 1,000-task batch)."""
    return 2 * math.ceil((BATCH_ITEM_BYTES_PER_TASK * batch_size + BATCH_ITEM_FIXED_BYTES) / 1024)


@dataclass
class Message:
    batch: int | None  # None: a single task
    tasks: int
    pdf: bool
    enqueued: float
    visible_at: float


@dataclass
class Invocation:
    messages: list[Message]
    busy_until: float = 0.0
    attempts: int = 0


@dataclass
class Minute:
    arrivals: int = 0
    completions: int = 0
    peak_depth: int = 0
    peak_concurrency: int = 0
    peak_converters: float = 0.0
    oldest_age: float = 0.0
    throttled: int = 0
    conflicts: int = 0
    redelivered: int = 0
    peak_item_wru: float = 0.0


@dataclass
class Result:
    minutes: list[Minute]
    batches_posted: int
    batches_done: list[float] = field(default_factory=list)  # seconds from post to last chunk
    backlogged: bool = False
    drained_at: float | None = None
    first_limit: dict[str, float] = field(default_factory=dict)  # limit -> first second it bound
    steady_concurrency: float = 0.0
    tasks_in: int = 0
    tasks_done: int = 0


def simulate(
    rate_per_hour: float = 1_000_000,
    minutes: int = 10,
    batch_size: int = 1000,
    single_share: float = 0.0,
    tasks_per_message: int = 10,
    messages_per_invoke: int = 10,
    task_ms: float = 24.0,
    pdf_share: float = 0.0,
    pdf_task_ms: float = 294.0,
    convert_ms: float = 210.0,
    account_concurrency: int = 1000,
    max_concurrency: int = 1000,
    initial_concurrency: int = 5,
    scale_per_minute: int = 300,
    partition_wcu: float = 1000.0,
    wru_per_chunk: int | None = None,
    txn_ms: float = 15.0,
    step: float = 0.1,
    seed: int = 1,
) -> Result:
    rng = random.Random(seed)
    wru = counter_wru(batch_size) if wru_per_chunk is None else wru_per_chunk
    per_second = rate_per_hour / 3600
    batch_every = batch_size / (per_second * (1 - single_share)) if single_share < 1 else math.inf
    single_every = 1 / (per_second * single_share) if single_share > 0 else math.inf
    mean_ms = (1 - pdf_share) * task_ms + pdf_share * pdf_task_ms
    result = Result(minutes=[Minute() for _ in range(minutes)], batches_posted=0)
    result.steady_concurrency = per_second * mean_ms / 1000
    queue: deque[Message] = deque()
    delayed: list[Message] = []
    running: list[Invocation] = []
    chunks_left: dict[int, int] = {}
    posted_at: dict[int, float] = {}
    item_budget: dict[int, float] = {}
    attempts_last_step: dict[int, int] = {}
    limit = 0.0
    next_batch = 0.0 if math.isfinite(batch_every) else math.inf
    next_single = 0.0 if math.isfinite(single_every) else math.inf
    steps = round(minutes * 60 / step)

    def first(name: str, now: float) -> None:
        result.first_limit.setdefault(name, now)

    for n in range(steps):
        now = n * step
        m = result.minutes[int(now // 60)]
        # Arrivals.
        while next_batch <= now:
            batch = result.batches_posted
            result.batches_posted += 1
            posted_at[batch] = now
            chunks = math.ceil(batch_size / tasks_per_message)
            chunks_left[batch] = chunks
            for c in range(chunks):
                size = min(tasks_per_message, batch_size - c * tasks_per_message)
                queue.append(Message(batch, size, rng.random() < pdf_share, now, now))
            m.arrivals += batch_size
            result.tasks_in += batch_size
            next_batch += batch_every
        while next_single <= now:
            queue.append(Message(None, 1, rng.random() < pdf_share, now, now))
            m.arrivals += 1
            result.tasks_in += 1
            next_single += single_every
        for message in [d for d in delayed if d.visible_at <= now]:
            delayed.remove(message)
            queue.append(message)

        # The event source: scale while messages wait, within the caps.
        converters = sum(convert_ms / pdf_task_ms for inv in running if inv.messages and inv.messages[0].pdf)
        cap = min(max_concurrency, account_concurrency - converters)
        if queue and limit == 0:
            limit = initial_concurrency
        while queue and len(running) < min(limit, cap):
            taken = [queue.popleft() for _ in range(min(messages_per_invoke, len(queue)))]
            running.append(Invocation(taken, busy_until=now + _render_s(taken[0], task_ms, pdf_task_ms)))
        if queue:
            # A limit binds when messages wait for it, not when a batch's messages arrive at once.
            if now - queue[0].enqueued > WAIT_BINDS_S:
                if len(running) >= cap:
                    first("concurrency cap (account or MaximumConcurrency)", now)
                else:
                    first("event source ramp (+%d a minute)" % scale_per_minute, now)
            limit = min(cap, limit + scale_per_minute / 60 * step)

        # Finishes, at their own moments within the step: a batch item takes partition_wcu a second,
        # and a transaction conflicts with another on the same item within txn_ms of it.
        for batch in item_budget:
            item_budget[batch] = min(partition_wcu, item_budget[batch] + partition_wcu * step)
        attempts_now: dict[int, int] = {}
        for inv in running:
            while inv.messages and inv.busy_until < now + step:
                at = max(inv.busy_until, now)
                message = inv.messages[0]
                if message.batch is None:
                    _done(inv, message, at, task_ms, pdf_task_ms, m, result, chunks_left)
                    continue
                batch = message.batch
                item_budget.setdefault(batch, partition_wcu)
                attempts_now[batch] = attempts_now.get(batch, 0) + 1
                # Attempts a second on this item (this step's so far, or the last step's), and the
                # chance that another lands within txn_ms of this one.
                rate = max(attempts_last_step.get(batch, 0), attempts_now[batch]) / step
                p_conflict = 1 - math.exp(-rate * 2 * txn_ms / 1000)
                if rng.random() < p_conflict:
                    m.conflicts += 1
                    first("transaction conflicts on a batch item", at)
                elif item_budget[batch] >= wru:
                    item_budget[batch] -= wru
                    _done(inv, message, at, task_ms, pdf_task_ms, m, result, chunks_left)
                    continue
                else:
                    m.throttled += 1
                    first("DynamoDB batch item (%d WRU a chunk, %d a second)" % (wru, partition_wcu), at)
                inv.attempts += 1
                if inv.attempts >= ATTEMPTS:
                    inv.messages.pop(0)
                    message.visible_at = at + VISIBILITY_S
                    delayed.append(message)
                    m.redelivered += 1
                    first("chunks back in the queue for the 720 s visibility timeout", at)
                    _next(inv, at, task_ms, pdf_task_ms)
                else:
                    inv.busy_until = at + txn_ms / 1000 + rng.uniform(0, 0.05 * 2**inv.attempts)
        m.peak_item_wru = max([m.peak_item_wru] + [a * wru / step for a in attempts_now.values()])
        attempts_last_step = attempts_now
        for batch in [b for b, left in chunks_left.items() if left == 0]:
            del chunks_left[batch]
            item_budget.pop(batch, None)
            result.batches_done.append(now - posted_at.pop(batch))
        running = [inv for inv in running if inv.messages]

        depth = len(queue) + len(delayed)
        m.peak_depth = max(m.peak_depth, depth + sum(len(inv.messages) for inv in running))
        m.peak_concurrency = max(m.peak_concurrency, len(running))
        m.peak_converters = max(m.peak_converters, converters)
        waiting = [msg.enqueued for msg in queue] + [msg.enqueued for msg in delayed]
        m.oldest_age = max(m.oldest_age, now - min(waiting) if waiting else 0.0)
        if waiting and now - min(waiting) > WAIT_BINDS_S:
            result.backlogged, result.drained_at = True, None
        elif result.backlogged and result.drained_at is None:
            result.drained_at = now
    return result


def _render_s(message: Message, task_ms: float, pdf_task_ms: float) -> float:
    return message.tasks * (pdf_task_ms if message.pdf else task_ms) / 1000


def _next(inv: Invocation, now: float, task_ms: float, pdf_task_ms: float) -> None:
    inv.attempts = 0
    if inv.messages:
        inv.busy_until = now + _render_s(inv.messages[0], task_ms, pdf_task_ms)


def _done(
    inv: Invocation, message: Message, now: float, task_ms: float, pdf_task_ms: float, m: Minute, result: Result,
    chunks_left: dict[int, int],
) -> None:  # fmt: skip
    inv.messages.pop(0)
    m.completions += message.tasks
    result.tasks_done += message.tasks
    if message.batch is not None and message.batch in chunks_left:
        chunks_left[message.batch] -= 1
    _next(inv, now, task_ms, pdf_task_ms)


def verdict(result: Result, minutes: int) -> list[str]:
    lines = [f"steady state by Little's law: {result.steady_concurrency:.1f} concurrent worker invocations"]
    done = sorted(result.batches_done)
    if done:
        lines.append(
            f"batches: {result.batches_posted} posted, {len(done)} completed; post to last chunk: median"
            f" {done[len(done) // 2]:.1f} s, max {done[-1]:.1f} s"
        )
    lines.append(f"tasks: {result.tasks_in:,} in, {result.tasks_done:,} completed within {minutes} min")
    if not result.backlogged:
        lines.append(f"backlog: none (no message waited over {WAIT_BINDS_S:.0f} s)")
    elif result.drained_at is not None:
        lines.append(f"backlog: drained at {result.drained_at:.0f} s (no message waiting over {WAIT_BINDS_S:.0f} s since)")
    else:
        lines.append(f"backlog: NOT drained within {minutes} min (messages waiting over {WAIT_BINDS_S:.0f} s at the end)")
    if result.first_limit:
        ranked = sorted(result.first_limit.items(), key=lambda kv: kv[1])
        lines.append("breaks first: " + "; then ".join(f"{name} at {at:.0f} s" for name, at in ranked))
    else:
        lines.append("breaks first: nothing within the simulated minutes")
    return lines


def main(argv: list[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--rate", type=float, default=1_000_000, help="tasks per hour (default 1,000,000)")
    add("--minutes", type=int, default=10)
    add("--batch-size", type=int, default=1000, help="tasks per POST /v1/batch")
    add("--single-share", type=float, default=0.0, help="share of the tasks posted one by one")
    add("--pdf-share", type=float, default=0.0, help="share of the tasks that are DOCX -> PDF")
    add("--task-ms", type=float, default=24.0, help="worker time per text task (cost_per_task.py: 24 ms)")
    add("--pdf-task-ms", type=float, default=294.0, help="worker time per PDF task, conversion included (294 ms)")
    add("--convert-ms", type=float, default=210.0, help="converter time per PDF task (210 ms)")
    add("--messages-per-invoke", type=int, default=10, help="the event source's BatchSize (template.yaml: 10)")
    add("--account-concurrency", type=int, default=1000)
    add("--max-concurrency", type=int, default=1000, help="ScalingConfig.MaximumConcurrency (unset: 1,000)")
    add("--scale-per-minute", type=int, default=300)
    add("--partition-wcu", type=float, default=1000.0)
    add("--counter-wru", type=int, default=None, help="WRU per chunk on the batch item (default: from --batch-size)")
    add("--txn-ms", type=float, default=15.0, help="how long a transaction holds the batch item")
    add("--step", type=float, default=0.1)
    add("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = simulate(
        args.rate, args.minutes, args.batch_size, args.single_share, 10, args.messages_per_invoke, args.task_ms,
        args.pdf_share, args.pdf_task_ms, args.convert_ms, args.account_concurrency, args.max_concurrency, 5,
        args.scale_per_minute, args.partition_wcu, args.counter_wru, args.txn_ms, args.step, args.seed,
    )  # fmt: skip
    wru = counter_wru(args.batch_size) if args.counter_wru is None else args.counter_wru
    print(f"Burst of {args.rate:,.0f} tasks/hour ({args.rate / 3600:.0f}/s) for {args.minutes} min: batches of"
          f" {args.batch_size}, {args.single_share:.0%} single tasks, {args.pdf_share:.0%} PDF; {args.task_ms:.0f} ms"
          f" a text task, {args.pdf_task_ms:.0f} ms a PDF task; {wru} WRU a chunk on the batch item")
    print(f"{'min':>3} {'arrivals':>9} {'completed':>9} {'depth':>7} {'conc':>5} {'conv':>5} {'oldest s':>8}"
          f" {'item WRU/s':>10} {'throttled':>9} {'conflicts':>9} {'redeliv':>7}")
    for i, m in enumerate(result.minutes):
        print(f"{i + 1:>3} {m.arrivals:>9,} {m.completions:>9,} {m.peak_depth:>7,} {m.peak_concurrency:>5}"
              f" {m.peak_converters:>5.0f} {m.oldest_age:>8.1f} {m.peak_item_wru:>10,.0f} {m.throttled:>9,}"
              f" {m.conflicts:>9,} {m.redelivered:>7,}")
    for line in verdict(result, args.minutes):
        print(f"  {line}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
