"""Cold import time of each handler module, next to `import boto3` alone, measured in the same run;
then what Powertools' Tracer adds to a cold start (the X-Ray SDK's import and its patching) and to
each boto3 call once warm.

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
    "SALESFORCE_HOSTS": "*.my.salesforce.com",
    "SESSION_KEY_ID": "alias/tasklane-sessions",
    "POWERTOOLS_SERVICE_NAME": "tasklane",
    "POWERTOOLS_METRICS_NAMESPACE": "Tasklane",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# AWS: Powertools turns its Tracer off outside Lambda, which it recognizes by LAMBDA_TASK_ROOT.
TRACING = {"LAMBDA_TASK_ROOT": str(ROOT), "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
TRACER_CASES = {
    "Tracer(disabled=True): the SDK's import": "Tracer(disabled=True)",
    "Tracer(patch_modules=[botocore])": "Tracer(patch_modules=['botocore'])",
    "Tracer(patch_modules=[botocore, requests])": "Tracer(patch_modules=['botocore', 'requests'])",
    "Tracer(): patch_all": "Tracer()",
}

PROBE = """
import importlib.util, sys, time
{before}
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""

# A warm boto3 call, untraced and then traced, against moto in-process (what the Tracer adds per call).
PER_CALL = """
import os, socket, time
daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
daemon.bind(("127.0.0.1", 0))
os.environ.update(AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:%d" % daemon.getsockname()[1],
                  _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                  AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
import boto3
from moto import mock_aws
with mock_aws():
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    def per_call(n=300):
        start = time.perf_counter()
        for _ in range(n):
            sqs.get_queue_attributes(QueueUrl=url)
        return (time.perf_counter() - start) / n * 1000
    per_call()
    plain = min(per_call() for _ in range(5))
    from aws_lambda_powertools import Tracer
    Tracer(patch_modules=["botocore"])
    traced = min(per_call() for _ in range(5))
print(plain, traced)
"""


def run(code: str, env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def measure(body: str, before: str = "", env: dict[str, str] | None = None) -> float:
    """The best of RUNS fresh interpreters at running `body` (after `before`, which is not timed), in ms."""
    samples = []
    for _ in range(RUNS):
        out = run(PROBE.format(before=before, body=body), env or ENV)
        samples.append(float(out.strip().splitlines()[-1]) * 1000)
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
    tracer()


def tracer() -> None:
    try:
        import aws_xray_sdk  # noqa: F401
    except ImportError:
        print("\nPowertools Tracer: aws-xray-sdk is not installed (layers/requirements.txt pins it)")
        return
    traced = {**ENV, **TRACING}
    # What each already imports; only the Tracer's own cost is timed, so the figure stays out of the noise.
    bases = {
        "a route (get_task)": handler_body(ROOT / "functions" / "get_task" / "app.py"),
        "the worker's imports": "import tasklane.domain.execution, tasklane.storage, aws_lambda_powertools.utilities.batch",
    }
    print("\nPowertools Tracer, added on top of what a function imports, tracing on as on Lambda (ms)")
    print(f"{'':<46}" + "".join(f"{name:>24}" for name in bases))
    for label, construct in TRACER_CASES.items():
        added = [measure(f"from aws_lambda_powertools import Tracer\n{construct}", before, traced) for before in bases.values()]
        print(f"  + {label:<44}" + "".join(f"{figure:24.0f}" for figure in added))
    plain, with_tracer = (float(x) for x in run(PER_CALL, traced).split())
    print(f"a warm boto3 call (moto in-process): {plain:.2f} ms, traced {with_tracer:.2f} ms"
          f" ({with_tracer - plain:+.2f} ms a call)")  # fmt: skip


if __name__ == "__main__":
    main()
