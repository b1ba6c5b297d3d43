"""GenericTasks over HTTP on the local stack: API Gateway's JWT authorizer with each route's scopes,
the seed's requests posted verbatim, and the whole life of a task."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tasklane_local.devkeys import issue_token
from tests.integration.test_generic_tasks_api import DOCUMENT_VALIDATION, JIRA

pytestmark = pytest.mark.e2e
TENANT = "orchestra"


def bearer(state_dir: Any, scopes: tuple[str, ...], folders: list[int] | None = None, tenant: str = TENANT) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(tenant, scopes, state_dir, folders=folders)}"}


@pytest.fixture(scope="module")
def writer(state_dir) -> dict[str, str]:
    return bearer(state_dir, ("OR.Tasks",))


def post(stack, path: str, body: Any, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{stack.url}{path}", data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}, timeout=30)


def test_the_seed_requests_answer_201_in_the_seed_shape(stack, writer):
    for name in ("Tickets", "MinodoraCertificates"):
        answer = post(stack, "/odata/TaskCatalogs/UiPath.Server.Configuration.OData.CreateTaskCatalog", {"Name": name}, writer)
        assert answer.status_code == 201, answer.text
    for seed in (JIRA, DOCUMENT_VALIDATION):
        answer = post(stack, "/tasks/GenericTasks/CreateTask", seed, writer)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert {k: body[k] for k in ("status", "data", "action", "externalTag")} == {
            "status": 0, "data": seed["data"], "action": None, "externalTag": seed["externalTag"],
        }
        assert isinstance(body["organizationUnitId"], int) and isinstance(body["id"], int)


def test_a_task_is_created_assigned_listed_and_completed(stack, writer):
    folder = post(stack, "/odata/Folders", {"DisplayName": "Field"}, writer).json()
    in_folder = {**writer, "X-UIPATH-OrganizationUnitId": str(folder["Id"])}
    task = post(stack, "/tasks/GenericTasks/CreateTask", {"type": "ExternalTask", "title": "Fix"}, in_folder).json()
    assigned = post(
        stack,
        "/odata/Tasks/UiPath.Server.Configuration.OData.AssignTasks",
        {"taskAssignments": [{"TaskId": task["id"], "UserNameOrEmail": "ana@example.com"}]},
        writer,
    )
    assert assigned.status_code == 200 and assigned.json() == {"value": []}
    listed = requests.get(
        f"{stack.url}/odata/Tasks", params={"$filter": "Status eq 1", "$count": "true"}, headers=in_folder, timeout=30
    ).json()
    assert listed["@odata.count"] == 1 and listed["value"][0]["Id"] == task["id"]
    assert listed["@odata.context"] == f"{stack.url}/odata/$metadata#Tasks"
    done = post(stack, "/tasks/GenericTasks/CompleteTask", {"taskId": task["id"], "data": {"ok": 1}, "action": "close"}, writer)
    assert done.status_code == 204 and done.content == b""
    fetched = requests.get(f"{stack.url}/tasks/GenericTasks/GetTaskDataById", params={"taskId": task["id"]}, headers=writer, timeout=30)
    assert fetched.json()["status"] == 2 and fetched.json()["action"] == "close"
    again = post(stack, "/tasks/GenericTasks/CompleteTask", {"taskId": task["id"]}, writer)
    assert again.status_code == 409 and again.json()["errorCode"] == 1000


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (("OR.Tasks.Read",), "GET", "/odata/Folders", 200),
        (("OR.Tasks.Write",), "GET", "/odata/Folders", 200),
        (("OR.Tasks",), "GET", "/odata/TaskCatalogs", 200),
        (("OR.Tasks.Read",), "POST", "/odata/Folders", 403),
        (("tasks:read", "tasks:write"), "GET", "/odata/Tasks", 403),
        (("OR.Tasks.Write",), "POST", "/tasks/GenericTasks/CreateTask", 201),
        (("OR.Tasks.Read",), "POST", "/tasks/GenericTasks/CreateTask", 403),
        (("OR.Tasks",), "GET", "/v1/license", 403),
    ],
)
def test_each_route_takes_the_scopes_template_yaml_gives_it(stack, state_dir, scopes, method, path, status):
    body = {"type": "ExternalTask", "title": "scoped"} if path.endswith("CreateTask") else {"DisplayName": "Scoped"}
    answer = requests.request(
        method,
        f"{stack.url}{path}",
        data=json.dumps(body) if method == "POST" else None,
        headers={**bearer(state_dir, scopes), "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == status, answer.text


def test_without_a_valid_token_api_gateway_answers_401(stack):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"x-dynamo-tenant-id": TENANT, "x-dynamo-api-key": "a.b"}):
        answer = requests.get(f"{stack.url}/odata/Tasks", headers=headers, timeout=30)
        assert answer.status_code == 401 and answer.json()["message"] == "Unauthorized"


def test_a_token_limited_to_folders_sees_only_those(stack, state_dir, writer):
    mine = post(stack, "/odata/Folders", {"DisplayName": "Mine"}, writer).json()
    hidden = post(
        stack, "/tasks/GenericTasks/CreateTask", {"type": 1, "title": "hidden"}, {**writer, "X-UIPATH-FolderPath": "Shared"}
    ).json()
    limited = bearer(state_dir, ("OR.Tasks",), folders=[mine["Id"]])
    answer = requests.get(f"{stack.url}/tasks/GenericTasks/GetTaskDataById", params={"taskId": hidden["id"]}, headers=limited, timeout=30)
    assert answer.status_code == 404 and answer.json()["errorCode"] == 1002
    answer = requests.get(f"{stack.url}/odata/Tasks", headers={**limited, "X-UIPATH-OrganizationUnitId": "1"}, timeout=30)
    assert answer.status_code == 403 and answer.json()["errorCode"] == 1100
    other = bearer(state_dir, ("OR.Tasks",), tenant="someone-else")
    answer = requests.get(f"{stack.url}/tasks/GenericTasks/GetTaskDataById", params={"taskId": hidden["id"]}, headers=other, timeout=30)
    assert answer.status_code == 404
