"""Word and PDF on the local stack: the worker composes the DOCX, the converter function (LibreOffice,
invoked through Lambda's API) makes its PDF, and both download as real documents."""

from __future__ import annotations

import io
from typing import Any

import docx
import pytest
import requests
from pypdf import PdfReader
from tasklane.dap.pack import pack_directory

from tests.support import ROOT, wait_for

pytestmark = pytest.mark.e2e


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def offer_template(stack, token) -> str:
    dap = pack_directory(ROOT / "examples" / "offer-docx")
    answer = requests.post(
        f"{stack.url}/v1/templates", data=dap, headers={**auth(token()), "Content-Type": "application/zip"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def finished(stack, token, path: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = requests.get(f"{stack.url}{path}", headers=auth(token())).json()
        return status if status["completed"] else None

    # The first conversion starts LibreOffice.
    return wait_for(check, timeout=90, what=path)


def downloads(status: dict[str, Any]) -> dict[str, bytes]:
    found = {}
    for result in status["resultList"]:
        answer = requests.get(result["url"])
        assert answer.status_code == 200
        found[result["id"]] = answer.content
    return found


def docx_text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_task_makes_a_word_document_and_its_pdf(stack, token, offer_template):
    answer = requests.post(
        f"{stack.url}/v1/task",
        json={"template": offer_template, "params": {"name": "Globex", "amount": 100}},
        headers=auth(token()),
    )
    assert answer.status_code == 202, answer.text
    status = finished(stack, token, f"/v1/task/{answer.json()['taskID']}")
    assert status["statusMessage"] == "Ready" and status["errors"] is False, status
    files = downloads(status)
    assert "Offer for Globex" in docx_text(files["Offer"]) and "124.00 EUR" in docx_text(files["Offer"])
    assert "Offer for Globex" in pdf_text(files["OfferPdf"]) and "124.00 EUR" in pdf_text(files["OfferPdf"])
    assert "Summary for Globex" in pdf_text(files["Summary"])


def test_a_batch_converts_every_task(stack, token, offer_template):
    tasks = [{"params": {"name": f"N{i}", "amount": 1000 + i}} for i in range(4)]
    answer = requests.post(
        f"{stack.url}/v1/batch", json={"template": offer_template, "tasks": tasks}, headers=auth(token())
    )
    assert answer.status_code == 202, answer.text
    batch = answer.json()
    status = finished(stack, token, f"/v1/batch/{batch['id']}")
    assert status["statusMessage"] == "Completed" and status["errors"] is False, status
    one = requests.get(f"{stack.url}/v1/batch/{batch['id']}/{batch['tasks'][2]}", headers=auth(token())).json()
    files = downloads(one)
    assert "Offer for N2" in pdf_text(files["OfferPdf"]) and "1242.48 EUR" in pdf_text(files["OfferPdf"])
    assert "discount of 5 %" in docx_text(files["Offer"])
