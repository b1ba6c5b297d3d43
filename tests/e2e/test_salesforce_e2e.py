"""A Salesforce-integrated batch over HTTP on the local stack (SalesforceHosts=127.0.0.1), against the
fake Salesforce on loopback: template by ContentDocument id, one read per chunk, results attached."""

from __future__ import annotations

import io

import pytest
import requests
from pypdf import PdfReader
from tasklane.dap.pack import pack_directory

from tests.support import ROOT, wait_for

pytestmark = pytest.mark.e2e
SESSION = "00Dtest!session"
ACCOUNTS = [f"0015g00000{n:05d}EEE" for n in range(5)]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_salesforce_batch_reads_records_and_attaches_pdfs(stack, token, salesforce):
    for index, account in enumerate(ACCOUNTS):
        salesforce.add("Account", Id=account, Name=f"Org {index}", Industry="Energy")
    salesforce.add_template("0695g000009E2EXAAA", "0685g000009E2EXAAA", pack_directory(ROOT / "examples" / "account-summary"))
    integration = {"type": "Salesforce", "sessionID": SESSION, "serverURL": salesforce.url}
    body = {"template": "0695g000009E2EXAAA", "tasks": [{"params": {"id": a}} for a in ACCOUNTS], "integration": integration}
    answer = requests.post(f"{stack.url}/v1/batch", json=body, headers=auth(token()))
    assert answer.status_code == 202, answer.text
    assert SESSION not in answer.text
    batch = answer.json()

    def done():
        status = requests.get(f"{stack.url}/v1/batch/{batch['id']}", headers=auth(token())).json()
        return status if status["completed"] else None

    status = wait_for(done, timeout=60, what="the batch")
    assert status["errors"] is False, status
    attached = {c["FirstPublishLocationId"]: c["Id"] for c in salesforce.created}
    assert set(attached) >= set(ACCOUNTS)
    pdf = salesforce.version_data[attached[ACCOUNTS[2]]]
    assert "Org 2" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert len(salesforce.calls("GET", "FROM+Account+WHERE+Id+IN")) == 1


def test_a_server_url_outside_the_allowlist_is_refused_over_http(stack, token, salesforce):
    integration = {"type": "Salesforce", "sessionID": SESSION, "serverURL": "https://login.example.org"}
    answer = requests.post(
        f"{stack.url}/v1/task", json={"template": "0695g000009E2EXAAA", "params": {"id": ACCOUNTS[0]}, "integration": integration},
        headers=auth(token()),
    )
    assert answer.status_code == 400 and answer.json()["errors"][0]["loc"] == "integration.serverURL", answer.text
