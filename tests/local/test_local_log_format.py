"""What `tasklane local` prints: a compact line per request and worker run, or the functions' JSON."""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from pathlib import Path

import requests

import tasklane_local
from tasklane_local import devkeys
from tasklane_local.log_format import CompactStream, compact
from tasklane_local.template import load_template
from tests.support import local_stack_process, wait_for

ROOT = Path(__file__).parents[2]
SAMPLE_DAP = ROOT / "examples" / "account-profile.dap"
ACCESS_LINE = {
    "level": "INFO",
    "location": "log_request:657",
    "message": "POST /v1/task 202",
    "timestamp": "2026-12-02 13:08:29,483+0000",
    "service": "tasklane",
    "function_name": "tasklane-PostTaskFunction",
    "correlation_id": "iRn+0eqXmZb8yw==",
    "tenant": "acme",
    "method": "POST",
    "path": "/v1/task",
    "status": 202,
    "duration_ms": 31,
}


def test_an_access_line_is_method_path_status_function_duration_tenant():
    assert compact(ACCESS_LINE) == "13:08:29 POST /v1/task 202 PostTaskFunction 31 ms tenant=acme"
    gateway_own = {**ACCESS_LINE, "function_name": None, "tenant": None, "status": 404}
    assert compact(gateway_own) == "13:08:29 POST /v1/task 404 - 31 ms"


def test_other_lines_keep_their_level_function_message_and_own_keys_only():
    line = {
        **{key: ACCESS_LINE[key] for key in ("timestamp", "service", "correlation_id", "tenant")},
        "level": "WARNING",
        "location": "handle:125",
        "message": "lease lost: another run finishes this unit",
        "cold_start": False,
        "function_name": "tasklane-WorkerFunction",
        "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:tasklane-WorkerFunction",
        "message_id": "040c0a68",
        "batch_id": "b1",
        "task_ids": ["a", "b", "c", "d"],
        "exception": "Traceback (most recent call last):\nValueError: x",
    }
    assert compact(line) == (
        "13:08:29 WARNING WorkerFunction lease lost: another run finishes this unit batch_id=b1 task_ids=[4 items]"
        " tenant=acme\n  Traceback (most recent call last):\n  ValueError: x"
    )


def test_compact_leaves_out_metric_blobs_and_the_info_lines_of_api_functions():
    emf = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "Accepted": [1.0]}
    answered = {"level": "INFO", "message": "answered", "function_name": "tasklane-PostTaskFunction", "status": 202}
    api = {"tasklane-PostTaskFunction"}
    assert compact(emf, api) is None and compact(answered, api) is None
    assert compact({**answered, "level": "ERROR", "message": "unhandled error"}, api) is not None
    assert compact(answered, ()) is not None  # a function behind no route: a worker's line


def test_the_stream_rewrites_whole_json_lines_and_passes_other_text():
    target = io.StringIO()
    stream = CompactStream(target)
    text = json.dumps(ACCESS_LINE)
    stream.write("tasklane API: http://127.0.0.1:3000\n" + text[:20])
    assert target.getvalue() == "tasklane API: http://127.0.0.1:3000\n"  # half a line waits for the rest
    stream.write(text[20:] + '\n{"_aws": {}}\n{not json\n{"a": 1}\n')
    shown = target.getvalue().splitlines()[1:]
    assert shown == ["13:08:29 POST /v1/task 202 PostTaskFunction 31 ms tenant=acme", "{not json", '{"a": 1}']


def test_lines_printed_by_threads_at_once_are_each_rewritten_whole():
    target = io.StringIO()
    stream = CompactStream(target)
    text = json.dumps(ACCESS_LINE)

    def emit() -> None:
        for _ in range(500):
            print(text, file=stream)  # the text, then the newline: two writes
            print('{"_aws": {"Timestamp": 1}}', file=stream)

    threads = [threading.Thread(target=emit) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between the two writes of a print(), as under load
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert target.getvalue().splitlines() == ["13:08:29 POST /v1/task 202 PostTaskFunction 31 ms tenant=acme"] * 2000


def test_the_service_name_set_before_the_layer_loads_is_the_templates():
    functions = load_template(ROOT / "template.yaml").functions.values()
    assert {function.environment.get("POWERTOOLS_SERVICE_NAME") for function in functions} == {tasklane_local.SERVICE}


def run_stack(tmp_path: Path, log_format: str) -> tuple[list[str], str]:
    """`tasklane local --log-format FORMAT` on template.yaml; one task run; what it printed after its banner."""
    with local_stack_process(tmp_path, "--log-format", log_format, "--template", str(ROOT / "template.yaml")) as stack:
        url = json.loads((tmp_path / ".tasklane" / "local.json").read_text())["url"]
        token = devkeys.issue_token("acme", ["tasks:read", "tasks:write"], tmp_path / ".tasklane")
        headers = {"authorization": f"Bearer {token}"}
        template = requests.post(f"{url}/v1/templates", data=SAMPLE_DAP.read_bytes(), timeout=30,
                                 headers={**headers, "content-type": "application/zip"}).json()["id"]
        task = requests.post(f"{url}/v1/task", json={"template": template, "params": {"id": "1", "name": "Acme"}},
                             headers=headers, timeout=30).json()["taskID"]
        wait_for(lambda: requests.get(f"{url}/v1/task/{task}", headers=headers, timeout=30).json().get("completed"),
                 timeout=60, what="the task to finish")
        assert stack.stop() == 0, stack.output()[1]
    out, err = stack.output()
    return out[out.index("Ctrl-C to stop.") :].splitlines()[1:], err


def test_make_run_prints_a_short_line_per_request_and_worker_run(tmp_path):
    lines, err = run_stack(tmp_path, "compact")
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d POST /v1/task 202 PostTaskFunction \d+ ms tenant=acme", line) for line in lines), lines
    # Each line names the function that ran, though the worker ran in between.
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d GET /v1/task/t-\w+ 200 GetTaskFunction \d+ ms tenant=acme", line) for line in lines)
    assert any(re.match(r"\d\d:\d\d:\d\d WorkerFunction unit ran .*tasks=1 failed=0 tenant=acme$", line) for line in lines)
    assert not [line for line in lines if line.startswith("{") or len(line) > 200], "no JSON, no EMF"
    for noise in ("Found credentials", "Found endpoint", "No application metrics"):
        assert noise not in err and noise not in "\n".join(lines)


def test_log_format_json_prints_the_functions_lines_as_lambda_would(tmp_path):
    lines, err = run_stack(tmp_path, "json")
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r.get("method") == "POST" and r.get("path") == "/v1/task"]
    assert [r["function_name"] for r in access] == ["tasklane-PostTaskFunction"] and access[0]["status"] == 202
    # The layer's own lines (its child loggers) are there, under the function that logged them.
    assert any(r.get("message") == "answered" and r["function_name"] == "tasklane-PostTaskFunction" for r in records)
    assert any(r.get("message") == "unit ran" and r["function_name"] == "tasklane-WorkerFunction" for r in records)
    assert any("_aws" in r for r in records)  # EMF metrics, as CloudWatch would read them
    assert "Found credentials" not in err and "Found endpoint" not in err
