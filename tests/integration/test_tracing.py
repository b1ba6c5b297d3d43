"""The worker's traces: a subsegment per queue record, annotated with its tenant, and one per AWS call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from tests.support import ROOT


def walk(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for document in documents:
        yield document
        yield from walk(document.get("subsegments", []))


def test_the_worker_traces_each_record_and_its_aws_calls():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("layers", "local", "."))}
    child = subprocess.run(
        [sys.executable, "-m", "tests.integration.traced_worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr[-3000:]
    run = json.loads(child.stdout.strip().splitlines()[-1])
    assert run["answer"] == {"batchItemFailures": []}
    segments = list(walk(run["documents"]))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for segment in segments:
        by_name.setdefault(segment["name"], []).append(segment)
    [handler] = by_name["## lambda_handler"]
    assert handler["annotations"]["ColdStart"] is True and handler["annotations"]["Service"] == "tasklane"
    # On Lambda, "## app.record_handler": the function's module is app.
    [record] = [s for s in segments if s["name"].startswith("## ") and s["name"].endswith(".record_handler")]
    assert record["annotations"] == {"tenant": "acme"}
    assert {segment["trace_id"] for segment in segments} == {"1-66a0f1c2-5f2b9d3e8c7a6b5d4e3f2a1b"}
    calls = {(s["name"], s["aws"]["operation"]) for s in segments if s.get("namespace") == "aws"}
    # The claim and the outcomes (DynamoDB), the template and the result (S3).
    assert {("dynamodb", "UpdateItem"), ("s3", "GetObject"), ("s3", "PutObject")} <= calls, calls
    # Only the worker is traced: post_task's calls, made before it, sent nothing.
    assert not {call for call in calls if call[0] == "sqs"}
