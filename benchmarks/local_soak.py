"""A long `make run` session in one go: N successive 1,000-task batches on the local stack.

Each batch is posted (POST /v1/batch, 1,000 tasks of a small text DAP) and polled until
GET /v1/batch/{id} says completed, before the next one is posted. Prints each batch's seconds and
the process's resident memory after it, then the ratio last/first: a stack that stays flat keeps the
ratio near 1 and the memory bounded, however much data the earlier batches left behind.

    .venv/bin/python benchmarks/local_soak.py [batches]   # default 12
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers"), str(ROOT / "local")]

from tasklane_local.devkeys import issue_token  # noqa: E402
from tasklane_local.stack import LocalStack  # noqa: E402
from tests.support import simple_dap  # noqa: E402

TASKS = 1000
DEFAULT_BATCHES = 12
BATCH_TIMEOUT_SECONDS = 600
# A GET /v1/batch reads the batch's 100 chunks: polling faster would measure the poller.
POLL_SECONDS = 0.5


def rss_mb() -> float:
    """Resident memory now (Linux /proc), else the peak getrusage reports."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_batch(url: str, headers: dict[str, str], template_id: str, number: int) -> float:
    tasks = [{"params": {"id": f"{number:02d}-{i:04d}"}} for i in range(TASKS)]
    start = time.perf_counter()
    answer = requests.post(f"{url}/v1/batch", json={"template": template_id, "tasks": tasks}, headers=headers)
    if answer.status_code != 202:
        raise SystemExit(f"batch {number}: POST answered {answer.status_code} {answer.text}")
    batch_id = answer.json()["id"]
    deadline = start + BATCH_TIMEOUT_SECONDS
    pause = threading.Event()
    while True:
        status = requests.get(f"{url}/v1/batch/{batch_id}", headers=headers).json()
        if status.get("completed"):
            if status.get("errors"):
                raise SystemExit(f"batch {number}: completed with errors: {status.get('progress')}")
            return time.perf_counter() - start
        if time.perf_counter() > deadline:
            raise SystemExit(f"batch {number}: not completed after {BATCH_TIMEOUT_SECONDS} s: {status.get('progress')}")
        pause.wait(POLL_SECONDS)


def main(argv: list[str]) -> int:
    batches = int(argv[1]) if len(argv) > 1 else DEFAULT_BATCHES
    state = Path(tempfile.mkdtemp(prefix="tasklane-soak-"))
    out = sys.stdout
    # The handlers' JSON logs and metrics go to stdout, 3,000 lines a batch: only the figures are shown.
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), LocalStack(
        ROOT / "template.yaml", port=0, state_dir=state
    ) as stack:
        token = issue_token("acme", ("tasks:read", "tasks:write"), state)
        headers = {"Authorization": f"Bearer {token}"}
        # The default monthly quota would refuse a long session; a developer raises it the same way.
        from tasklane.domain import licensing
        from tasklane.storage import get_backends

        licensing.set_quota(get_backends(), "acme", TASKS * (batches + 1))
        upload = requests.post(
            f"{stack.url}/v1/templates", data=simple_dap(), headers={**headers, "Content-Type": "application/zip"}
        )
        if upload.status_code != 201:
            raise SystemExit(f"template upload answered {upload.status_code} {upload.text}")
        template_id = upload.json()["id"]
        print(f"{batches} batches of {TASKS} tasks; RSS at start {rss_mb():.0f} MB", file=out, flush=True)
        seconds: list[float] = []
        memory: list[float] = []
        for number in range(1, batches + 1):
            seconds.append(run_batch(stack.url, headers, template_id, number))
            memory.append(rss_mb())
            print(f"batch {number:3d}: {seconds[-1]:7.2f} s   RSS {memory[-1]:7.0f} MB", file=out, flush=True)
    print(f"last/first: {seconds[-1] / seconds[0]:.2f}x time, {memory[-1] / memory[0]:.2f}x RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
