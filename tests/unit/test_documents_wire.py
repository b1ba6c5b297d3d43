"""The document family's wire format: bodies into submissions, views into answers, errors into its body."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tasklane.api.documents import errors, presenters, requests
from tasklane.domain.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType, problem
from tasklane.domain.records import DocumentTaskRecord, LogLine, UnitState
from tasklane.domain.submissions import PartLink
from tasklane.domain.views import BatchPhase, BatchTaskState, BatchView, DocumentTaskView, ResultLink
from tests.support import dap_part, json_part, multipart, simple_dap


def test_a_json_body_names_a_stored_template():
    body = requests.read_body(json.dumps({"template": "abc", "params": {"id": "1"}}).encode(), "application/json")
    submission = requests.task_submission(body)
    assert submission.template.reference == "abc" and submission.template.embedded is None
    assert submission.params == {"id": "1"} and submission.integration is None


def test_multipart_parts_become_params_and_links():
    dap = simple_dap()
    raw, ctype = multipart(
        [
            dap_part(dap),
            json_part("data", {"tasks": [{"params": {"id": "1"}, "partParams": [{"partName": "x", "paramName": "y"}]}]}),
            json_part("param.x", {"deep": True}),
        ]
    )
    submission = requests.batch_submission(requests.read_body(raw, ctype))
    assert submission.template.embedded == dap
    assert submission.tasks[0].links == [PartLink("x", "y")] and submission.parts == {"x": {"deep": True}}


def test_the_integration_reaches_the_domain_under_its_own_names():
    data = {"template": "abc", "integration": {"type": "Salesforce", "sessionID": "00D!x", "serverURL": "https://a.my.salesforce.com"}}
    submission = requests.task_submission(requests.read_body(json.dumps(data).encode(), "application/json"))
    assert submission.integration is not None and submission.integration.session_id == "00D!x"
    assert "00D!x" not in repr(submission.integration)


@pytest.mark.parametrize(
    ("raw", "ctype", "error"),
    [
        (b"[]", "application/json", BadRequest),
        (b"{", "application/json", BadRequest),
        (b"{}", "text/plain", UnsupportedMediaType),
        (b"x" * (requests.MAX_BODY_BYTES + 1), "application/json", PayloadTooLarge),
    ],
)
def test_bodies_that_are_refused(raw, ctype, error):
    with pytest.raises(error):
        requests.read_body(raw, ctype)


def test_fingerprints_ignore_the_multipart_boundary():
    parts = [dap_part(simple_dap()), json_part("data", {"params": {"id": "1"}})]
    one, two = multipart(parts, boundary="aaa"), multipart(parts, boundary="bbb")
    assert requests.read_body(*one).fingerprint() == requests.read_body(*two).fingerprint()


def test_errors_render_in_the_document_body_with_every_problem():
    status, body = errors.render(BadRequest("Invalid", [problem("tasks[3].params", "bad", "type")]))
    assert status == 400
    assert body.model_dump() == {
        "message": "Invalid",
        "code": "bad_request",
        "errors": [{"loc": "tasks[3].params", "message": "bad", "type": "type"}],
    }
    assert errors.render(NotFound("gone"))[0] == 404
    assert errors.internal("r-1").model_dump() == {"message": "Internal error (request r-1)", "code": "internal_error", "errors": []}


def test_a_task_view_shows_logs_twice_and_its_result_urls():
    record = DocumentTaskRecord(
        tenant="acme", task_id="t-1", batch_id=None, state=UnitState.COMPLETED, status_message="boom", errors=True,
        logs=[LogLine("INFO", "fine"), LogLine("SEVERE", "boom")],
    )
    status = presenters.task_status(DocumentTaskView(record=record, results=[ResultLink("R", "https://u")]))
    assert status.logs == status.log and [e.message for e in status.logs] == ["boom"]
    assert status.statusDescription == "The task failed: boom"
    assert status.resultList[0].url == "https://u"


def test_a_batch_view_is_spelled_as_dynamo_spells_it():
    view = BatchView(
        posted="2026-12-01T00:00:00.000Z", phase=BatchPhase.STARTED, completed_at=None,
        tasks=[BatchTaskState("a", True, False), BatchTaskState("b", False, False)], queued=1, running=0, succeeded=1, failed=0,
    )
    status = presenters.batch_status(view)
    assert status.statusMessage == "Started" and status.completed is False
    assert status.progress.model_dump() == {"total": 2, "queued": 1, "running": 0, "completed": 1, "failed": 0}
    assert presenters.template_info(
        __import__("tasklane.domain.views", fromlist=["TemplateView"]).TemplateView(
            "i", "n", "s", 1, datetime(2026, 12, 1, tzinfo=UTC)
        )
    ).uploadedDateTime == "2026-12-01T00:00:00.000Z"
