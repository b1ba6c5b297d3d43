"""Memory and outcome of hostile DAP templates: `python benchmarks/template_attacks.py`.

Each case runs the Engine in a fresh subprocess, on a worker thread as the local stack does, and
reports the peak RSS above the process's idle level (ru_maxrss before and after the run), the
time taken and how the task ended. The target: every attack under 256 MB above idle and failed
(or Ready with bounded memory). Two baselines come first: the idle process, and a legit template.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers"), str(ROOT / "local")]

from tasklane.dap import Engine, RunContext, load_dap  # noqa: E402
from tasklane.dap.pack import pack_directory  # noqa: E402
from tests.support import zip_files  # noqa: E402

MANIFEST = "name: Attack\nsteps:\n  - compose: {template: x.txt, as: out}\n  - store: {from: out, id: Out}\n"
EXAMPLE_PARAMS = {"id": "001", "name": "Acme", "amount": 12.5, "additionalData": {"data1": "abc"}}
BASELINE = "legit: examples/account-profile"

# (label, template, params, extra files)
CASES: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("probe: ns.s ~ ns.s doubled 30 times",
     "{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
     "{{ ns.s|length }}", {}, {}),
    ("probe: '%1000000000s' % 'a'", "{{ ('%1000000000s' % 'a')|length }}", {}, {}),
    ("probe: '{:>100000000}'.format('a')", "{{ '{:>100000000}'.format('a')|length }}", {}, {}),
    ("probe: 'a'.center(100000000)", "{{ 'a'.center(100000000)|length }}", {}, {}),
    ("probe: (['x'*10000]*10000)|join", "{{ (['x'*10000]*10000)|join|length }}", {}, {}),
    ("output of ['x'*1000000]*1000", "{{ ['x' * 1000000] * 1000 }}", {}, {}),
    ("lists nested by reference",
     "{% set a = ['x' * 1000] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}"
     "{% set d = [c,c,c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d,d,d] %}{{ e|string|length }}", {}, {}),
    ("slices kept in a list",
     "{% set big = 'x' * 5000000 %}{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
     "{% set ns.l = ns.l + [big[i:]] %}{% endfor %}{{ ns.l|length }}", {}, {}),
    ("{% set %} block filled by a loop",
     "{% set x %}{% for i in range(100000) %}{% for j in range(100000) %}a{% endfor %}{% endfor %}{% endset %}"
     "{{ x|length }}", {}, {}),
    ("import of a template that loops", "{% import 'lib.txt' as lib %}ok", {},
     {"lib.txt": "{% for i in range(100000) %}{% for j in range(100000) %}ab{% endfor %}{% endfor %}"}),
    ("integer squared 40 times",
     "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}", {}, {}),
    ("(1).to_bytes(10**9)", "{{ (1).to_bytes(1000000000, 'big')|length }}", {}, {}),
    ("([[1]]*1000000)|sum(start=[])", "{{ ([[1]] * 1000000)|sum(start=[])|length }}", {}, {}),
    ("pprint indented by a long key", "{{ {'k' * 100000: range(100000)|list}|pprint|length }}", {}, {}),
    ("lipsum(10**6)", "{{ lipsum(1000000)|length }}", {}, {}),
    ("int() of a Decimal param 1e999999", "{{ param.d|int }}", {"d": Decimal("1e999999")}, {}),
    ("5|round(-10**9)", "{{ 5|round(-1000000000) }}", {}, {}),
    ("loop forever (time limit)",
     "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", {}, {}),
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(index: int) -> None:
    engine = Engine()
    warmup = load_dap(zip_files({"dap.yaml": MANIFEST, "x.txt": "{{ 1 }}"}))
    engine.run(warmup, {}, RunContext(task_id="warmup"))
    if index < 0:
        dap, params = load_dap(pack_directory(ROOT / "examples" / "account-profile")), EXAMPLE_PARAMS
    else:
        _, template, params, extra = CASES[index]
        dap = load_dap(zip_files({"dap.yaml": MANIFEST, "x.txt": template, **extra}))
    idle = rss_mb()
    outcome: dict[str, Any] = {}

    def render() -> None:
        start = time.monotonic()
        result = engine.run(dap, params, RunContext(task_id="t"))
        outcome.update(ok=result.ok, status=result.status_message, seconds=time.monotonic() - start)

    worker = threading.Thread(target=render)  # the local stack's worker renders off the main thread
    worker.start()
    worker.join()
    print(json.dumps({**outcome, "idle_mb": idle, "peak_above_idle_mb": rss_mb() - idle}))


def main() -> int:
    print(f"{'case':<40}{'above idle':>11}{'time':>8}  outcome")
    worst = 0.0
    for index, label in [(-1, BASELINE), *((i, c[0]) for i, c in enumerate(CASES))]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(index)], capture_output=True, text=True, timeout=120
        )
        if out.returncode != 0:
            print(f"{label:<40}{'':>11}{'':>8}  CRASHED: {out.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(out.stdout)
        if index < 0:
            print(f"{'idle engine (absolute RSS)':<40}{row['idle_mb']:>8.0f} MB{'':>8}  -")
        else:
            worst = max(worst, row["peak_above_idle_mb"])
        status = "Ready" if row["ok"] else f"failed: {row['status'][:90]}"
        print(f"{label:<40}{row['peak_above_idle_mb']:>8.0f} MB{row['seconds']:>7.2f}s  {status}")
    print(f"worst attack: {worst:.0f} MB above idle")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        raise SystemExit(main())
