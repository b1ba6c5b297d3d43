"""The converter function: DOCX -> PDF through one warm LibreOffice, restarted after a deadline passes."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from pypdf import PdfReader
from tasklane.conversion.libreoffice import LibreOffice
from tasklane.dap import Engine, RunContext, load_dap
from tasklane.dap.pack import pack_directory

from tests.support import ROOT, FakeContext, event, load_function, wait_for
from tests.unit.dap.test_documents import docx_text


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture(scope="module")
def converter() -> Iterator[ModuleType]:
    app = load_function("convert_document")
    yield app
    app.libreoffice.close()


def test_the_sample_event_converts_to_a_pdf(converter):
    answer = converter.lambda_handler(event("convert_document"), FakeContext())
    assert set(answer) == {"pdf"}, answer
    text = pdf_text(base64.b64decode(answer["pdf"]))
    assert "Offer for {{ param.name }}" in text  # the raw template, converted as it is


def test_documents_go_through_one_warm_libreoffice(converter):
    converter.lambda_handler(event("convert_document"), FakeContext())
    starts = converter.libreoffice.starts
    for _ in range(3):
        assert "pdf" in converter.lambda_handler(event("convert_document"), FakeContext())
    assert converter.libreoffice.starts == starts and converter.libreoffice.running


def test_a_conversion_past_its_deadline_restarts_libreoffice_and_the_next_one_works(converter):
    converter.lambda_handler(event("convert_document"), FakeContext())
    starts = converter.libreoffice.starts
    late = converter.lambda_handler({**event("convert_document"), "deadlineSeconds": 0.001}, FakeContext())
    assert late["error"] == "timeout" and not converter.libreoffice.running
    assert "pdf" in converter.lambda_handler(event("convert_document"), FakeContext())
    assert converter.libreoffice.starts == starts + 1


@pytest.mark.parametrize(
    "request_",
    [{}, {"document": "not base64!", "deadlineSeconds": 5}, {"document": "QUJD", "deadlineSeconds": -1}],
    ids=["empty", "not-base64", "bad-deadline"],
)
def test_a_bad_request_is_answered_not_raised(converter, request_):
    answer = converter.lambda_handler(request_, FakeContext())
    assert answer["error"] == "failed" and answer["message"].startswith("bad conversion request")


def test_a_document_libreoffice_cannot_read_fails_with_its_reason(converter):
    answer = converter.lambda_handler(
        {"document": base64.b64encode(b"PK\x03\x04 not really").decode(), "deadlineSeconds": 30}, FakeContext()
    )
    assert answer["error"] == "failed", answer
    assert "pdf" in converter.lambda_handler(event("convert_document"), FakeContext())


def test_the_offer_docx_example_renders_word_and_both_pdfs():
    libreoffice = LibreOffice()
    try:
        dap = load_dap(pack_directory(ROOT / "examples" / "offer-docx"))
        engine = Engine(converter=libreoffice, time_limit_seconds=60)
        result = engine.run(dap, {"name": "Globex", "amount": 2000}, RunContext(task_id="t-9"))
        assert result.ok, result.status_message
        by_id = {d.id: d for d in result.documents}
        assert [d.filename for d in result.documents] == ["offer-Globex.docx", "offer-Globex.pdf", "summary-Globex.pdf"]
        assert "Offer for Globex" in docx_text(by_id["Offer"].content)
        offer = pdf_text(by_id["OfferPdf"].content)
        assert "Offer for Globex" in offer and "2480.00 EUR" in offer and "discount of 5 %" in offer
        assert "Summary for Globex" in pdf_text(by_id["Summary"].content)
        assert any(e.level == "WARNING" and "Large offer 2480" in e.message for e in result.logs)
    finally:
        libreoffice.close()


def test_a_libreoffice_this_process_started_ends_when_it_exits(tmp_path):
    # Started in a session of its own, it would outlive `tasklane invoke`, a local stack or a test run.
    script = """
import base64, json, sys
from tasklane.conversion.libreoffice import LibreOffice
event = json.load(open(sys.argv[1]))
office = LibreOffice()
office.docx_to_pdf(base64.b64decode(event["document"]), 60)
print(office._process.pid, flush=True)
"""
    ran = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "events" / "convert_document.json")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "layers")},
    )
    assert ran.returncode == 0, ran.stderr
    pid = int(ran.stdout)
    wait_for(lambda: not _alive(pid), timeout=15, what="LibreOffice's server to end with its process")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone but for its exit status (its parent, reparented, reaps it later).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"
