"""The whole API over HTTP on the local stack: upload, post, poll to completion, download."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support import example_dap, wait_for

pytestmark = pytest.mark.e2e


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def template_id(stack, token) -> str:
    answer = requests.post(
        f"{stack.url}/v1/templates", data=example_dap(), headers={**auth(token()), "Content-Type": "application/zip"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def finished_task(stack, token, path: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = requests.get(f"{stack.url}{path}", headers=auth(token())).json()
        return status if status["completed"] else None

    return wait_for(check)


def test_json_task_runs_to_a_downloadable_result(stack, token, template_id):
    params = {"id": "001", "name": "Acme", "amount": 12.5}
    answer = requests.post(f"{stack.url}/v1/task", json={"template": template_id, "params": params}, headers=auth(token()))
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["taskID"]
    status = finished_task(stack, token, f"/v1/task/{task_id}")
    assert status["errors"] is False and status["statusMessage"] == "Ready"
    download = requests.get(status["resultList"][0]["url"])
    assert download.status_code == 200
    assert "Acme" in download.text and "12.5" in download.text


def test_multipart_task_with_param_part(stack, token):
    files = [
        ("template", ("example.dap", example_dap(), "application/octet-stream")),
        ("data", (None, json.dumps({"params": {"id": "002", "name": "Globex"}}), "application/json")),
        ("param.additionalData", (None, json.dumps({"data1": "abc", "data2": {"data3": "xyz"}}), "application/json")),
    ]
    answer = requests.post(f"{stack.url}/v1/task", files=files, headers=auth(token()))
    assert answer.status_code == 202, answer.text
    status = finished_task(stack, token, f"/v1/task/{answer.json()['taskID']}")
    text = requests.get(status["resultList"][0]["url"]).text
    assert "Globex" in text and "abc" in text and "xyz" in text


def test_batch_runs_every_task(stack, token, template_id):
    tasks = [{"params": {"id": str(i), "name": f"N{i}"}} for i in range(25)]
    answer = requests.post(f"{stack.url}/v1/batch", json={"template": template_id, "tasks": tasks}, headers=auth(token()))
    assert answer.status_code == 202, answer.text
    batch = answer.json()
    status = finished_task(stack, token, f"/v1/batch/{batch['id']}")
    assert status["statusMessage"] == "Completed" and status["errors"] is False
    assert status["progress"]["completed"] == 25
    one = requests.get(f"{stack.url}/v1/batch/{batch['id']}/{batch['tasks'][3]}", headers=auth(token())).json()
    assert "N3" in requests.get(one["resultList"][0]["url"]).text


def test_no_credentials_is_401_json(stack):
    answer = requests.post(f"{stack.url}/v1/task", json={"template": "x"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    assert "credentials" in answer.json()["message"]


def test_missing_scope_is_403(stack, token, template_id):
    answer = requests.post(
        f"{stack.url}/v1/task", json={"template": template_id, "params": {"id": "1"}}, headers=auth(token(scopes=("tasks:read",)))
    )
    assert answer.status_code == 403


def test_tenants_do_not_see_each_other(stack, token, template_id):
    task_id = requests.post(
        f"{stack.url}/v1/task", json={"template": template_id, "params": {"id": "1", "name": "Acme"}}, headers=auth(token())
    ).json()["taskID"]
    assert requests.get(f"{stack.url}/v1/task/{task_id}", headers=auth(token("globex"))).status_code == 404
    assert requests.get(f"{stack.url}/v1/templates/{template_id}", headers=auth(token("globex"))).status_code == 404


def test_dynamo_api_key_pair(stack, template_id):
    from tasklane.domain.auth import create_api_key

    key = create_api_key("acme")
    headers = {"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": key}
    assert requests.get(f"{stack.url}/v1/templates/{template_id}", headers=headers).status_code == 200
    bad = {"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": key[:-1]}
    assert requests.get(f"{stack.url}/v1/templates/{template_id}", headers=bad).status_code == 401


def test_unknown_route_is_404(stack, token):
    assert requests.get(f"{stack.url}/v2/nothing", headers=auth(token())).status_code == 404


def test_license_quota_refuses_over_http(stack, token, template_id):
    from tasklane.domain import licensing
    from tasklane.storage import get_backends

    licensing.set_quota(get_backends(), "small", 2)
    headers = auth(token("small"))
    tasks = {"template": template_id, "tasks": [{"params": {"id": "1", "name": "Acme"}}] * 3}
    # The template belongs to acme: small uploads its own first.
    upload = requests.post(f"{stack.url}/v1/templates", data=example_dap(), headers={**headers, "Content-Type": "application/zip"})
    tasks["template"] = upload.json()["id"]
    refused = requests.post(f"{stack.url}/v1/batch", json=tasks, headers=headers)
    assert refused.status_code == 402 and refused.json()["code"] == "license_exceeded"
    license = requests.get(f"{stack.url}/v1/license", headers=headers).json()
    assert license == {"term": license["term"], "used": 0, "quota": 2, "remaining": 2}
