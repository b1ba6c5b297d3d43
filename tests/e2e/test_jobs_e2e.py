"""The jobs family over HTTP on the local stack: basicSync's rules with the seed's body, WorkfloPlus's
policies as scopes on API Gateway's JWT authorizer, and a file taken in the field round-tripped."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests

from tasklane_local.devkeys import issue_token
from tests.integration.test_jobs_api import SEED, SEED_TEXT, step

pytestmark = pytest.mark.e2e
TENANT = "fieldwork"
EVERYTHING = ("workflow.execute", "job.admin")


def bearer(state_dir: Any, scopes: tuple[str, ...], team: str | None = None, tenant: str = TENANT) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(tenant, scopes, state_dir, team=team)}"}


def sync(stack: Any, body: Any, headers: dict[str, str]) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(
        f"{stack.url}/jobs/v1/basicSync", data=data, headers={**headers, "Content-Type": "application/json"}, timeout=60
    )


def test_the_seed_creates_merges_and_keeps_every_step(stack, state_dir):
    auth = bearer(state_dir, EVERYTHING)
    assert sync(stack, SEED_TEXT, auth).status_code == 400
    created = sync(stack, SEED, auth)
    assert created.status_code == 201, created.text
    more = copy.deepcopy(SEED)
    more["metadata"]["updated"] = "2021-10-01T13:00:00Z"
    more["metadata"]["jobTitle"] = "Newer"
    more["completedSteps"].append(step("second", 2, "2021-10-01T13:00:00Z"))
    merged = sync(stack, more, auth)
    assert merged.status_code == 200 and len(merged.json()["completedSteps"]) == 2
    older = copy.deepcopy(SEED)
    older["metadata"]["jobTitle"] = "Stale"
    older["completedSteps"].append(step("offline", 3, "2021-10-01T12:50:00Z"))
    stale = sync(stack, older, auth).json()
    assert stale["metadata"]["jobTitle"] == "Newer" and len(stale["completedSteps"]) == 3
    aborted = copy.deepcopy(SEED)
    aborted["metadata"]["status"] = "Aborted"
    refused = sync(stack, aborted, auth)
    assert refused.status_code == 409, refused.text  # the seed's job is Completed, which is final
    fetched = requests.get(f"{stack.url}/jobs/v1/{SEED['metadata']['clientJobId']}", headers=auth, timeout=30).json()
    assert isinstance(fetched, list) and fetched[0]["metadata"]["status"] == "Completed"


def test_aborted_aborts_an_open_job_and_it_stays_aborted(stack, state_dir):
    auth = bearer(state_dir, EVERYTHING)
    job = copy.deepcopy(SEED)
    job["metadata"].update(clientJobId="open-1", status="InProgress")
    assert sync(stack, job, auth).status_code == 201
    job["metadata"].update(status="Aborted", abandonReason="Gate locked", updated="2021-10-02T00:00:00Z")
    answer = sync(stack, job, auth).json()
    assert answer["metadata"]["status"] == "Aborted" and answer["metadata"]["abandonReason"] == "Gate locked"
    job["metadata"].update(status="InProgress", updated="2021-10-03T00:00:00Z")
    assert sync(stack, job, auth).status_code == 409


def test_a_photo_is_stored_and_downloaded_through_its_presigned_url(stack, state_dir):
    auth = bearer(state_dir, EVERYTHING)
    job = copy.deepcopy(SEED)
    job["metadata"]["clientJobId"] = "with-photo"
    sync(stack, job, auth)
    photo = bytes(range(256)) * 40
    url = f"{stack.url}/jobs/v1/with-photo/resources/photo-1.jpg"
    put = requests.put(url, data=photo, headers={**auth, "Content-Type": "image/jpeg"}, timeout=30)
    assert put.status_code == 204, put.text
    link = requests.get(url, headers=auth, timeout=30).json()["url"]
    assert requests.get(link, timeout=30).content == photo
    form = requests.post(f"{url}/upload", headers=auth, timeout=30).json()
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("photo-1.jpg", b"big file")}, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text
    assert requests.get(requests.get(url, headers=auth, timeout=30).json()["url"], timeout=30).content == b"big file"


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (("job.read",), "POST", "/jobs/v1/basicSync", 403),
        (("workflow.execute",), "GET", "/jobs/v1", 403),
        (("job.read",), "GET", "/jobs/v1", 403),
        (("job.read_all",), "GET", "/jobs/v1", 200),
        (("job.modify",), "GET", "/jobs/v1", 200),
        (("job.read",), "GET", "/jobs/v1/nope", 404),
        (("job.modify",), "GET", "/jobs/v1/nope", 403),
        (("job.read",), "DELETE", "/jobs/v1/nope", 403),
        (("job.admin",), "DELETE", "/jobs/v1/nope", 404),
        (("OR.Tasks",), "GET", "/jobs/v1", 403),
    ],
)
def test_each_route_takes_the_policy_scopes_workfloplus_names(stack, state_dir, scopes, method, path, status):
    answer = requests.request(method, f"{stack.url}{path}", headers=bearer(state_dir, scopes), timeout=30)
    assert answer.status_code == status, answer.text


def test_no_credentials_is_401(stack):
    assert requests.get(f"{stack.url}/jobs/v1", timeout=30).status_code == 401


def test_a_team_token_sees_its_team_only(stack, state_dir):
    admin = bearer(state_dir, EVERYTHING, tenant="teams")
    for cid, team in (("t-north", "north"), ("t-south", "south")):
        job = copy.deepcopy(SEED)
        job["metadata"]["clientJobId"] = cid
        job["team"] = team
        assert sync(stack, job, admin).status_code == 201
    north = bearer(state_dir, EVERYTHING, team="north", tenant="teams")
    listed = requests.get(f"{stack.url}/jobs/v1", headers=north, timeout=30).json()
    assert [j["metadata"]["clientJobId"] for j in listed] == ["t-north"]
    assert requests.get(f"{stack.url}/jobs/v1/t-south", headers=north, timeout=30).status_code == 404
    assert requests.get(f"{stack.url}/jobs/v1/t-south", headers=bearer(state_dir, EVERYTHING), timeout=30).status_code == 404
