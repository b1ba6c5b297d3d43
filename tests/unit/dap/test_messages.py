"""Status messages and logs stay small whatever the template or its params hold."""

from __future__ import annotations

from tasklane.dap import Engine, RunContext, load_dap
from tasklane.dap.engine import MAX_LOG_ENTRIES, MAX_MESSAGE_CHARS

from .conftest import build_zip


def test_a_huge_error_message_is_truncated():
    dap = load_dap(build_zip({"dap.yaml": "name: X\nsteps:\n  - compose: {template: x.txt, as: out}\n",
                              "x.txt": "{{ param[param.k ~ param.k] }}"}))
    result = Engine().run(dap, {"k": "k" * 30_000}, RunContext(task_id="t"))
    assert not result.ok
    assert len(result.status_message) <= MAX_MESSAGE_CHARS
    assert result.status_message.startswith("Template 'x.txt' line 1: ")
    assert result.status_message.endswith(" characters)") and "… (truncated, 600" in result.status_message
    assert all(len(log.message) <= MAX_MESSAGE_CHARS for log in result.logs)


def test_many_problems_give_one_bounded_status():
    params = "".join(f"  p{i}: {{required: true}}\n" for i in range(500))
    dap = load_dap(build_zip({"dap.yaml": f"name: X\nparams:\n{params}steps:\n  - compose: {{template: x.txt, as: out}}\n",
                              "x.txt": "x"}))
    result = Engine().run(dap, {}, RunContext(task_id="t"))
    assert result.status_message.startswith("Missing required param 'p0'; Missing required param 'p1'")
    assert len(result.status_message) <= MAX_MESSAGE_CHARS
    assert len(result.logs) <= MAX_LOG_ENTRIES
    assert result.logs[-1].message == "Missing required param 'p499'"


def test_the_logs_of_a_long_run_keep_its_start_and_its_end():
    steps = "".join(f"  - compose: {{template: x.txt, as: out{i}}}\n" for i in range(300))
    files = {"dap.yaml": f"name: X\nsteps:\n{steps}  - compose: {{template: bad.txt, as: last}}\n",
             "x.txt": "x", "bad.txt": "{{ nope }}"}
    result = Engine().run(load_dap(build_zip(files)), {}, RunContext(task_id="t"))
    assert len(result.logs) == MAX_LOG_ENTRIES
    assert result.logs[0].message == "Composed 'x.txt' as 'out0' (1 characters)"
    assert any("log entries left out" in log.message for log in result.logs)
    assert result.logs[-1].level == "SEVERE" and "'nope' is undefined" in result.logs[-1].message
