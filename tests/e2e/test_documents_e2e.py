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
from tests.unit.dap.test_documents import OFFER_DOCX as OFFER
from tests.unit.dap.test_documents import rezip, with_symlink, word_template

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


def word_dap(template: bytes) -> bytes:
    from tests.support import zip_files

    manifest = "name: W\nsteps:\n  - compose: {template: t.docx, as: w}\n  - store: {from: w, id: W}\n"
    return zip_files({"dap.yaml": manifest, "t.docx": template})


HOSTILE = {
    "ratio-bomb": lambda: rezip(OFFER, {"word/bomb.xml": b"a" * (3 * 1024 * 1024)}),
    "dotdot": lambda: rezip(OFFER, {"../evil.xml": b"x"}),
    "symlink": lambda: with_symlink(OFFER),
    "not-word": lambda: word_template_zip(),
}


def word_template_zip() -> bytes:
    from tests.support import zip_files

    return zip_files({"a.txt": "x"})


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_hostile_word_template_is_a_400_over_http(stack, token, attack):
    answer = requests.post(
        f"{stack.url}/v1/templates", data=word_dap(HOSTILE[attack]()),
        headers={**auth(token()), "Content-Type": "application/zip"},
    )
    assert answer.status_code == 400, answer.text
    assert any(e["message"].startswith("t.docx: ") for e in answer.json()["errors"]), answer.text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "unsafe"),
        ("{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}", "took longer than 10 s"),
    ],
    ids=["escape", "runaway"],
)
def test_a_hostile_word_template_fails_its_task_on_the_local_stack(stack, token, body, expected):
    upload = requests.post(
        f"{stack.url}/v1/templates", data=word_dap(word_template(body)),
        headers={**auth(token()), "Content-Type": "application/zip"},
    )
    assert upload.status_code == 201, upload.text
    answer = requests.post(f"{stack.url}/v1/task", json={"template": upload.json()["id"], "params": {}}, headers=auth(token()))
    status = finished(stack, token, f"/v1/task/{answer.json()['taskID']}")
    assert status["errors"] is True and expected in status["statusMessage"], status
