"""Domain rules that need no AWS: merging partParams with its size limits, bounding outcomes."""

from __future__ import annotations

import pytest

from tasklane.domain import batches, document_tasks
from tasklane.domain.errors import BadRequest, PayloadTooLarge
from tasklane.domain.execution import MAX_MESSAGE_CHARS, bounded
from tasklane.domain.records import LogLine, StoredResult, TaskOutcome
from tasklane.domain.submissions import BatchTask, PartLink


def test_links_replace_whole_values_in_order():
    tasks = [BatchTask({"a": 1, "b": {"keep": 1}}, [PartLink("x", "b"), PartLink("y", "b")])]
    assert batches.merge_part_params(tasks, {"x": 1, "y": [2]}) == [{"a": 1, "b": [2]}]


def test_a_link_to_a_missing_part_names_it():
    with pytest.raises(BadRequest) as refused:
        batches.merge_part_params([BatchTask({}, [PartLink("nope", "x")])], {})
    assert refused.value.problems[0].loc == "tasks[0].partParams[0].partName"


def test_merged_sizes_are_exact_at_the_limit():
    # {"p":"xxx..."}: 2 braces + "p" (3) + colon + the string's quotes.
    fits = document_tasks.MAX_PARAMS_BYTES - 8
    assert batches.merge_part_params([BatchTask({}, [PartLink("big", "p")])], {"big": "x" * fits})
    with pytest.raises(PayloadTooLarge):
        batches.merge_part_params([BatchTask({}, [PartLink("big", "p")])], {"big": "x" * (fits + 1)})


def test_outcomes_are_clipped_and_too_many_results_fail_clearly():
    outcome = bounded(TaskOutcome("t", False, "m" * 5000, [LogLine("SEVERE", "z" * 5000)], [], "s", "e"))
    assert len(outcome.status_message) < MAX_MESSAGE_CHARS + 60 and "truncated from 5000" in outcome.status_message
    results = [StoredResult(f"R{i}", "k" * 200, "f" * 100, "text/plain") for i in range(200)]
    failed = bounded(TaskOutcome("t", True, "Ready", [], results, "s", "e"))
    assert not failed.ok and failed.results == [] and "store fewer documents" in failed.status_message


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_unit_tests_cannot_open_a_socket():
    import socket

    from pytest_socket import SocketBlockedError

    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9))
