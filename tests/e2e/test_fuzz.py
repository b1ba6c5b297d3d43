"""Property-based fuzzing of every route on the local stack: no input brings a 5xx, every 4xx has the
standard error body, and every task the API accepted ends (Completed or Failed), never stuck.

`make test` runs a bounded, derandomized run (FUZZ_EXAMPLES per route, default 150); `make fuzz` runs
with random seeds and more examples and prints the counts.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e import fuzzing
from tests.e2e.fuzzing import Request, Tally
from tests.support import simple_dap, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
TALLY = Tally()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
TENANT = "fuzz"


@pytest.fixture(scope="module")
def fuzz_env(stack, token) -> dict[str, Any]:
    from tasklane.domain import licensing
    from tasklane.storage import get_backends

    licensing.set_quota(get_backends(), TENANT, 10**9)
    bearer = {"Authorization": f"Bearer {token(TENANT)}"}
    upload = requests.post(
        f"{stack.url}/v1/templates", data=simple_dap(), headers={**bearer, "Content-Type": "application/zip"}
    )
    assert upload.status_code == 201, upload.text
    return {"url": stack.url, "auth": bearer, "template": upload.json()["id"]}


def send(env: dict[str, Any], request: Request) -> None:
    headers = {**env["auth"], **request.headers}
    headers = {k: v for k, v in headers.items() if v is not None}
    answer = requests.request(
        request.method, env["url"] + request.path, headers=headers, data=request.body, timeout=60
    )
    problems = TALLY.check(request, answer.status_code, answer.content)
    assert not problems, problems


_bad_auth = st.sampled_from(
    [
        {"Authorization": None},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic eA=="},
        {"Authorization": None, "x-dynamo-tenant-id": "fuzz", "x-dynamo-api-key": "k.s"},
    ]
)
# One request in ten with bad credentials: the rest reach the handlers.
auth_variants = st.integers(0, 9).flatmap(lambda i: _bad_auth if i == 0 else st.just({}))
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "multipart/form-data", "", "application/zip"]
)
ids = st.one_of(st.text(min_size=1, max_size=40), st.just("0" * 32), st.just("t-" + "0" * 32)).map(
    lambda s: quote(s, safe="")
)
# Header values travel as latin-1 and cannot hold line breaks: anything else never leaves the client.
_header_text = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n\x00"), max_size=140)
idempotency = st.integers(0, 9).flatmap(
    lambda i: _header_text.map(lambda k: {"Idempotency-Key": k.strip() or "k"})
    if i == 0
    else st.builds(lambda: {"Idempotency-Key": uuid.uuid4().hex})
    if i == 1
    else st.just({})
)


def _json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def task_requests(draw: st.DrawFn, template: str) -> Request:
    kind = draw(st.sampled_from(["json", "json", "json", "json", "raw", "multipart", "multipart", "bytes"]))
    headers: dict[str, str] = {**draw(auth_variants), **draw(idempotency)}
    if kind == "json":
        body: dict[str, Any] = {"template": draw(st.sampled_from([template, template, template, "x"])), "params": draw(fuzzing.params)}
        if draw(st.integers(0, 4)) == 0:
            body.update(draw(st.dictionaries(st.sampled_from(["integration", "extra", "tasks"]), fuzzing.json_values, max_size=1)))
        return Request("POST", "/v1/task", {**headers, "Content-Type": "application/json"}, _json_body(body))
    if kind == "raw":
        return Request("POST", "/v1/task", {**headers, "Content-Type": draw(content_types)}, _json_body(draw(fuzzing.json_values)))
    if kind == "bytes":
        return Request("POST", "/v1/task", {**headers, "Content-Type": draw(content_types)}, draw(st.binary(max_size=300)))
    parts = [("template", draw(fuzzing.daps), "application/octet-stream")] if draw(st.booleans()) else []
    parts.append(("data", _json_body({"params": draw(fuzzing.params)}), "application/json"))
    parts += [(draw(fuzzing.part_names), draw(fuzzing.part_data), "application/json") for _ in range(draw(st.integers(0, 3)))]
    body_bytes, content_type = fuzzing.multipart(parts)
    return Request("POST", "/v1/task", {**headers, "Content-Type": content_type}, body_bytes)


@st.composite
def batch_requests(draw: st.DrawFn, template: str) -> Request:
    headers: dict[str, str] = {**draw(auth_variants), **draw(idempotency)}
    part_params = st.lists(
        st.fixed_dictionaries({"partName": st.sampled_from(["extra", "name", "extra", "missing"]), "paramName": st.sampled_from(["extra", "id", ""])}),
        max_size=1,
    )
    tasks = st.lists(
        st.fixed_dictionaries({"params": fuzzing.params}, optional={"partParams": part_params}), min_size=1, max_size=12
    )
    if draw(st.booleans()):
        body = {"template": draw(st.sampled_from([template, template, template, "nope"])), "tasks": draw(tasks)}
        return Request("POST", "/v1/batch", {**headers, "Content-Type": "application/json"}, _json_body(body))
    parts = [("template", draw(fuzzing.daps), "application/octet-stream"), ("data", _json_body({"tasks": draw(tasks)}), "application/json")]
    parts += [(draw(fuzzing.part_names), draw(fuzzing.part_data), "application/json") for _ in range(draw(st.integers(0, 3)))]
    body_bytes, content_type = fuzzing.multipart(parts)
    return Request("POST", "/v1/batch", {**headers, "Content-Type": content_type}, body_bytes)


@st.composite
def template_uploads(draw: st.DrawFn) -> Request:
    headers = draw(auth_variants)
    dap = draw(fuzzing.daps)
    if draw(st.booleans()):
        return Request("POST", "/v1/templates", {**headers, "Content-Type": draw(st.sampled_from(["application/zip", "application/octet-stream", "text/plain"]))}, dap)
    body, content_type = fuzzing.multipart([("template", dap, "application/zip")])
    return Request("POST", "/v1/templates", {**headers, "Content-Type": content_type}, body)


@st.composite
def reads(draw: st.DrawFn, template: str) -> Request:
    known_tasks = TALLY.accepted_tasks[-20:] or ["t-" + "0" * 32]
    known_batches = TALLY.accepted_batches[-20:] or ["0" * 32]
    task = draw(st.sampled_from(known_tasks) | ids)
    batch = draw(st.sampled_from(known_batches) | ids)
    path = draw(
        st.sampled_from(
            [f"/v1/templates/{template}", f"/v1/templates/{draw(ids)}", f"/v1/task/{task}", f"/v1/batch/{batch}",
             f"/v1/batch/{batch}/{task}", "/v1/license", f"/v1/{draw(ids)}", "/v1/task/", "/"]
        )
    )
    return Request(draw(st.sampled_from(["GET", "GET", "GET", "POST", "DELETE", "PUT"])), path, draw(auth_variants))


@FUZZ
@given(data=st.data())
def test_fuzz_post_task(fuzz_env, data):
    send(fuzz_env, data.draw(task_requests(fuzz_env["template"])))


@FUZZ
@given(data=st.data())
def test_fuzz_post_batch(fuzz_env, data):
    send(fuzz_env, data.draw(batch_requests(fuzz_env["template"])))


@FUZZ
@given(request=template_uploads())
def test_fuzz_post_templates(fuzz_env, request):
    send(fuzz_env, request)


@settings(FUZZ, max_examples=EXAMPLES * 3)
@given(data=st.data())
def test_fuzz_reads(fuzz_env, data):
    send(fuzz_env, data.draw(reads(fuzz_env["template"])))


HOSTILE_BUT_VALID: list[Any] = [
    fuzzing.nested(60),
    "x" * 190_000,
    "\x00\x01\x7f\ufffe\uffff",
    "\u202e\u200b\ufeff emoji \U0001f600",
    int("9" * 4000),
    1.7976931348623157e308,
    -0.0,
    {"__class__": 1, "items": 2, "keys": 3, "__init__": {"__globals__": 4}},
    {"a.b": {"[0]": "{{ 7*7 }}"}, "": ""},
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    [[]] * 1000,
    {str(i): i for i in range(2000)},
]


def test_every_kind_of_hostile_but_valid_params_ends(stack, token, fuzz_env):
    """Accepted means it ends: each task of these params reaches Completed (Ready or failed)."""
    url, headers, template = fuzz_env["url"], fuzz_env["auth"], fuzz_env["template"]
    task_ids = []
    for value in HOSTILE_BUT_VALID:
        for params in ({"id": value}, {"id": "1", "extra": value}, {"id": "1", "name": value}):
            answer = requests.post(f"{url}/v1/task", json={"template": template, "params": params}, headers=headers)
            assert answer.status_code in (202, 400, 413), answer.text
            if answer.status_code == 202:
                task_ids.append(answer.json()["taskID"])
    tasks = [{"params": {"id": "1", "extra": value}} for value in HOSTILE_BUT_VALID]
    batch = requests.post(f"{url}/v1/batch", json={"template": template, "tasks": tasks}, headers=headers)
    assert batch.status_code == 202, batch.text
    assert len(task_ids) >= len(HOSTILE_BUT_VALID)

    def ended(path: str) -> bool:
        return bool(requests.get(f"{url}{path}", headers=headers).json()["completed"])

    for task_id in task_ids:
        wait_for(lambda path=f"/v1/task/{task_id}": ended(path), timeout=120, what=f"task {task_id}")
    wait_for(lambda: ended(f"/v1/batch/{batch.json()['id']}"), timeout=120, what="the hostile batch")


def test_every_accepted_task_ends(fuzz_env):
    """Runs after the fuzz tests above: nothing they got accepted may stay Queued or Running."""
    url, headers = fuzz_env["url"], fuzz_env["auth"]
    stuck = []
    for kind, accepted in (("task", TALLY.accepted_tasks), ("batch", TALLY.accepted_batches)):
        for unit_id in accepted:
            try:
                wait_for(
                    lambda path=f"{url}/v1/{kind}/{unit_id}": requests.get(path, headers=headers).json().get("completed"),
                    timeout=180,
                    what=f"{kind} {unit_id}",
                )
            except AssertionError:
                stuck.append(f"{kind} {unit_id}")
    TALLY.stuck = stuck
    assert not stuck, stuck
