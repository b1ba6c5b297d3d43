"""docs/openapi.json: committed, current, and in step with template.yaml's routes and the families' models."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tasklane.api.documents.models import PostTaskRequest
from tasklane.api.generic_tasks.models import CreateTaskRequest
from tasklane.api.jobs.models import BasicSyncRequest
from tasklane_local import openapi
from tasklane_local.openapi.spec import REF
from tasklane_local.template import HttpRoute, load_template
from tests.support import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
COMMITTED = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi.build(TEMPLATE)


def test_the_committed_contract_is_current(document):
    assert COMMITTED.read_text(encoding="utf-8") == openapi.render(document), (
        "docs/openapi.json is stale: run `make openapi` and commit it"
    )


def test_every_route_of_the_template_is_in_the_contract_with_its_scopes(document):
    routes = [r for r in TEMPLATE.routes if r.path != "$default"]
    described = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}

    assert described == {(r.method, r.path) for r in routes}
    for route in routes:
        security = document["paths"][route.path][route.method.lower()]["security"]
        granted = {scope for requirement in security for scopes in requirement.values() for scope in scopes}
        if route.authorizer is not None and route.authorizer.is_jwt:
            assert granted == set(route.scopes), route.route_key
        else:
            assert granted == {TEMPLATE.functions[route.function_id].environment["REQUIRED_SCOPE"]}
            # Documill's credentials: a bearer token, or the tenant and API-key header pair together.
            assert {"bearerAuth"} in [set(r) for r in security]
            assert {"dynamoTenantId", "dynamoApiKey"} in [set(r) for r in security]


def test_a_route_the_contract_does_not_describe_fails_the_build():
    extra = HttpRoute(method="GET", path="/v1/secret", function_id="GetTaskFunction", authorizer=None)
    function = TEMPLATE.functions["GetTaskFunction"]
    changed = dataclasses.replace(function, routes=(*function.routes, extra))
    template = dataclasses.replace(TEMPLATE, functions={**TEMPLATE.functions, "GetTaskFunction": changed})

    with pytest.raises(ValueError, match=r"routes without a description: \['GET /v1/secret'\]"):
        openapi.build(template)


@pytest.mark.parametrize(
    "path, method, media_type, model",
    [
        ("/v1/task", "post", "application/json", PostTaskRequest),
        ("/tasks/GenericTasks/CreateTask", "post", "application/json", CreateTaskRequest),
        ("/jobs/v1/basicSync", "post", "application/json", BasicSyncRequest),
    ],
)
def test_request_bodies_are_the_models_the_handlers_validate_with(document, path, method, media_type, model):
    body = document["paths"][path][method]["requestBody"]["content"][media_type]["schema"]
    name = body["$ref"].rsplit("/", 1)[1]
    expected = model.model_json_schema(mode="validation", ref_template=REF)
    expected.pop("$defs", None)

    assert document["components"]["schemas"][name] == expected


def test_each_family_answers_errors_in_its_own_body_and_503_says_when_to_retry(document):
    def error_schema(path: str, method: str, status: str) -> dict:
        return document["paths"][path][method]["responses"][status]

    assert error_schema("/v1/task", "post", "400")["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DocumentsError"
    )
    assert error_schema("/odata/Tasks", "get", "400")["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GenericTasksError"
    )
    assert error_schema("/jobs/v1", "get", "400")["content"]["application/json"]["schema"]["$ref"].endswith(
        "/JobsError"
    )
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "Retry-After" in operation["responses"]["503"]["headers"], (method, path)


def test_multipart_bodies_name_their_parts(document):
    multipart = document["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["multipart/form-data"]

    assert set(multipart["schema"]["properties"]) == {"template", "data"}
    assert list(multipart["schema"]["patternProperties"]) == [r"^param\..+$"]
    assert multipart["encoding"]["data"] == {"contentType": "application/json"}


def test_idempotent_posts_declare_the_header(document):
    for path in ("/v1/task", "/v1/batch", "/tasks/GenericTasks/CreateTask"):
        names = [p["name"] for p in document["paths"][path]["post"]["parameters"]]
        assert "Idempotency-Key" in names, path


def test_the_contract_is_plain_json():
    assert json.loads(COMMITTED.read_text(encoding="utf-8"))["openapi"] == "3.1.0"


def test_the_examples_name_the_sample_dap_by_its_template_id():
    from tasklane.domain.templates import check, template_id
    from tasklane_local.openapi.documents import EXAMPLE_TEMPLATE_ID

    dap = check((ROOT / "examples" / "account-profile.dap").read_bytes())
    assert template_id(dap) == EXAMPLE_TEMPLATE_ID


def test_links_name_operations_that_exist(document):
    operation_ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    links = [
        link["operationId"]
        for ops in document["paths"].values()
        for op in ops.values()
        for reply in op["responses"].values()
        for link in reply.get("links", {}).values()
    ]
    assert links and set(links) <= operation_ids
    assert len(operation_ids) == sum(len(ops) for ops in document["paths"].values())
