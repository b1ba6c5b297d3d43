"""The cost of 1,000 tasks on AWS, from the calls and durations of runs on the local stack.

Prints, with the price table it used (file and date), per 1,000 tasks and itemised by service:
- text tasks: a 1,000-task batch (the example text template) posted, run, and read back (the batch's
  status once, each task's status with its result URL, each result downloaded);
- PDF tasks: a 100-task batch of a Word template converted to PDF by the converter function
  (its Invoke calls, duration and 2 GB memory included), the same three phases;
- the plain baseline, measured in the same run: the same text tasks posted one by one (POST /v1/task,
  50 of them, scaled), and the bare floor of a Lambda-per-task design priced with the same table.

What is counted, not modelled: every AWS call of the handlers and of the local SQS event source
(ReceiveMessage and DeleteMessageBatch, which Lambda's pollers make and bill to the account on AWS),
with DynamoDB and SQS in billed units (see benchmarks/cost.py). Modelled: Lambda duration is the local
wall time of each invocation (moto on loopback stands in for AWS), X-Ray at 5 % sampling, Lambda's
START/END/REPORT log lines, and the pollers' empty receives of an idle queue (not per task; below).
Set BENCH_LOGS=1 to see the functions' own log lines, which are otherwise counted and not shown.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers"), str(ROOT / "local")]

# First, before any function's logger exists: they write to sys.stdout as it is when they are made.
from benchmarks.cost import LogTap  # noqa: E402

TAP = LogTap(sys.stdout, echo=os.environ.get("BENCH_LOGS") == "1")
sys.stdout = TAP

import boto3  # noqa: E402
import requests  # noqa: E402

from tasklane.storage.clients import aws_client  # noqa: E402
from tasklane_local.devkeys import issue_token  # noqa: E402
from tasklane_local.stack import LocalStack  # noqa: E402
from tasklane_local.worker import SqsEventSource  # noqa: E402

from benchmarks.cost import (  # noqa: E402
    FunctionUse,
    Meter,
    Usage,
    costs,
    load_prices,
    money,
    show_cost,
    show_units,
    sqs_requests,
    write_units,
)
from tests.support import example_dap, zip_files  # noqa: E402

TEXT_TASKS = 1000
PDF_TASKS = 100
SINGLE_TASKS = 50
READ_BACK_SAMPLE = 10
SERVICES = ("s3", "dynamodb", "sqs", "lambda", "kms")
OFFER_DOCX = (ROOT / "examples" / "offer-docx" / "templates" / "offer.docx").read_bytes()
PDF_DAP = zip_files(
    {
        "dap.yaml": """name: Word offer as PDF
params: {name: {required: true}, amount: {type: number, required: true}}
steps:
  - set: {as: total, value: "param.amount * 1.24"}
  - compose: {template: templates/offer.docx, as: offer}
  - convert: {from: offer, to: pdf, as: offerPdf}
  - store: {from: offerPdf, id: OfferPdf, filename: "offer-{{ param.name }}.pdf"}
""",
        "templates/offer.docx": OFFER_DOCX,
    }
)


def say(text: str = "") -> None:
    TAP.real.write(text + "\n")
    TAP.real.flush()


class Bench:
    def __init__(self, stack: LocalStack, meter: Meter, state: Path) -> None:
        self.stack, self.meter = stack, meter
        token = issue_token("acme", ["tasks:read", "tasks:write"], state)
        self.headers = {"Authorization": f"Bearer {token}"}
        assert stack.runtime is not None and stack.aws is not None
        worker = next(f for f in stack.template.functions.values() if f.sqs_events)
        self.source = SqsEventSource(
            stack.runtime[worker.logical_id], worker.sqs_events[0],
            stack.aws.resources.queues[worker.sqs_events[0].queue_id], stack.aws.region, stack.aws.endpoint,
        )  # fmt: skip
        # The event source's own client: on AWS these are the pollers' calls, billed to the account.
        meter.watch(self.source._sqs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        answer = requests.request(method, f"{self.stack.url}{path}", headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)
        request = answer.request
        body = request.body or b""
        self.meter.api_request(len(body) if isinstance(body, bytes) else len(str(body).encode()), len(answer.content))
        return answer

    def upload(self, dap: bytes) -> str:
        answer = self.api("POST", "/v1/templates", data=dap, headers={"Content-Type": "application/zip"})
        return str(answer.json()["id"])

    def drain(self, messages: int) -> float:
        start, handled = time.perf_counter(), 0
        while handled < messages and time.perf_counter() < start + 600:
            handled += self.source.run_once()
        return time.perf_counter() - start

    def window(self) -> Usage:
        """What was used since the last window, the functions' log output included."""
        self.meter.logs(TAP.take())
        return self.meter.take()

    def batch(self, template_id: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        """Accept, run and read back one batch; the usage of each phase, and the run's seconds."""
        self.window()
        answer = self.api("POST", "/v1/batch", json={"template": template_id, "tasks": [{"params": p} for p in params]})
        assert answer.status_code == 202, answer.text
        batch_id = answer.json()["id"]
        accept = self.window()
        seconds = self.drain(len(params) // 10)
        run = self.window()
        status = self.api("GET", f"/v1/batch/{batch_id}").json()
        assert status["completed"] and not status["errors"], status
        per_batch = self.window()
        for task in status["tasks"][:READ_BACK_SAMPLE]:
            one = self.api("GET", f"/v1/batch/{batch_id}/{task['id']}").json()
            for result in one["resultList"]:
                self.meter.download(len(requests.get(result["url"]).content))
        sample = self.window()
        read_back = per_batch + sample.scaled(len(params) / READ_BACK_SAMPLE)
        return {"accept": accept, "run": run, "read_back": read_back, "seconds": seconds}

    def singles(self, template_id: str, params: list[dict[str, Any]]) -> Usage:
        self.window()
        for p in params:
            answer = self.api("POST", "/v1/task", json={"template": template_id, "params": p})
            assert answer.status_code in (200, 201, 202), answer.text
        self.drain(len(params))
        return self.window()


def floor(route_ms: float, worker_ms: float) -> Usage:
    """The bare minimum of a Lambda-per-task design, per task: one API request and one route
    invocation, one SQS message (send, receive, delete), one worker invocation, one S3 PUT of the
    result, one 1 KB DynamoDB write for its status; durations as measured in this run."""
    usage = Usage(api_requests=1, api_calls=1, sqs_requests=3 * sqs_requests(1), s3_put=1, dynamodb_wru=write_units(1))
    usage.functions["Route"] = FunctionUse(512, 1, max(1, round(route_ms)))
    usage.functions["WorkerFunction"] = FunctionUse(1024, 1, max(1, round(worker_ms)))
    return usage


def main() -> None:
    prices = load_prices()
    state = Path(tempfile.mkdtemp(prefix="tasklane-bench-"))
    with LocalStack(ROOT / "template.yaml", port=0, state_dir=state, start_worker=False) as stack:
        assert stack.aws is not None and stack.runtime is not None
        reader = boto3.session.Session().client("dynamodb", endpoint_url=stack.aws.endpoint, region_name=stack.aws.region)
        meter = Meter(reader)
        for service in SERVICES:
            meter.watch(aws_client(service))
        meter.watch_functions(stack.runtime.functions)
        bench = Bench(stack, meter, state)

        text_id, pdf_id = bench.upload(example_dap()), bench.upload(PDF_DAP)
        text_params = [{"id": f"{i:04d}", "name": f"Customer {i}", "amount": i * 1.5} for i in range(TEXT_TASKS)]
        pdf_params = [{"name": f"N{i}", "amount": i} for i in range(PDF_TASKS)]
        # Warm-ups: imports, caches and LibreOffice's first start, as in warm Lambda environments.
        bench.batch(text_id, text_params[:10])
        bench.batch(pdf_id, pdf_params[:10])
        bench.singles(text_id, text_params[:10])

        text = bench.batch(text_id, text_params)
        singles = bench.singles(text_id, text_params[:SINGLE_TASKS])
        pdf = bench.batch(pdf_id, pdf_params)

    say(f"Cost per 1,000 tasks on AWS, priced with benchmarks/prices/{prices.describe()}")
    say("  (AWS calls counted on the local stack; Lambda GB-s from local durations; free tiers not deducted)")
    totals: dict[str, float] = {}
    for name, run, tasks in (("text tasks", text, TEXT_TASKS), ("PDF tasks", pdf, PDF_TASKS)):
        work = run["accept"] + run["run"]
        say()
        say(f"{name[0].upper()}{name[1:]}: a batch of {tasks}, run in {run['seconds']:.2f} s on the local stack")
        show_units(work, tasks, say)
        calls = work.calls
        say("    calls: " + ", ".join(f"{op} {n * 1000 / tasks:.0f}" for op, n in sorted(calls.items())) + " (per 1,000)")
        totals[name] = show_cost(f"  {name}, accept + run", work, tasks, prices, say)
        totals[name + " read"] = show_cost(f"  {name}, reading back (status, result URLs, downloads)", run["read_back"], tasks, prices, say)
        say(f"  {name}, all three: {money(totals[name] + totals[name + ' read'])} per 1,000 tasks")

    say()
    say(f"Baseline, same run: the text tasks posted one by one (POST /v1/task, {SINGLE_TASKS} measured)")
    show_units(singles, SINGLE_TASKS, say)
    single_total = show_cost("  single tasks, accept + run", singles, SINGLE_TASKS, prices, say)
    route = singles.functions.get("PostTaskFunction")
    worker = text["run"].functions["WorkerFunction"]
    route_ms = route.billed_ms / route.invocations if route else 1.0
    worker_ms = worker.billed_ms / TEXT_TASKS
    bare = sum(costs(floor(route_ms, worker_ms), prices).values()) * 1000
    say(f"  bare Lambda-per-task floor (1 API request, 1 route invocation of {route_ms:.0f} ms, 3 SQS requests,"
        f" 1 worker invocation of {worker_ms:.0f} ms, 1 S3 PUT, 1 WRU): {money(bare)} per 1,000 tasks")
    say(f"  text batch at {totals['text tasks'] / single_total:.2f} of the single-task cost and"
        f" {totals['text tasks'] / bare:.2f} of the bare floor")
    idle = 2 * 5 * 3 * 60 * 24 * 30  # two queue mappings, five pollers, a 20 s long poll each
    say(f"  not per task: the pollers' empty receives of idle queues, about {idle:,} a month"
        f" ({money(idle * prices['sqs']['request_per_million'] / 1e6)}), and the KMS key ({money(prices['kms']['key_month'])} a month)")
    say(json.dumps({k: round(v, 6) for k, v in totals.items()}))


if __name__ == "__main__":
    main()
