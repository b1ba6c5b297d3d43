"""Cold import time of each handler module, next to `import boto3` alone, measured in the same run.

Each figure is the best of several fresh interpreters (a Lambda cold start imports once).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT / "layers"),
    "TABLE_NAME": "t",
    "BUCKET_NAME": "b",
    "TASK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    "JWT_ISSUER": "https://issuer",
    "JWT_AUDIENCE": "tasklane",
    "JWT_ALGORITHM": "RS256",
    "JWT_JWKS_URL": "https://issuer/.well-known/jwks.json",
    "DEFAULT_MONTHLY_QUOTA": "10000",
    "REQUIRED_SCOPE": "tasks:write",
    "POWERTOOLS_SERVICE_NAME": "tasklane",
    "POWERTOOLS_METRICS_NAMESPACE": "Tasklane",
    "AWS_DEFAULT_REGION": "us-east-1",
}

PROBE = """
import importlib.util, sys, time
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""


def measure(body: str) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(body=body)], env=ENV, capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
    return min(samples)


def handler_body(path: Path) -> str:
    return (
        f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)"
    )


def main() -> None:
    baseline = measure("import boto3")
    print(f"cold imports, best of {RUNS} fresh interpreters (ms)")
    print(f"{'import boto3 alone':<28}{baseline:8.0f}")
    figures = {}
    for app in sorted(ROOT.glob("functions/*/app.py")):
        figures[app.parent.name] = measure(handler_body(app))
        print(f"{app.parent.name:<28}{figures[app.parent.name]:8.0f}   ({figures[app.parent.name] / baseline:.1f}x boto3)")
    print(f"{'median handler':<28}{statistics.median(figures.values()):8.0f}")


if __name__ == "__main__":
    main()
