"""GenericTasks through each function's handler on moto: Orchestrator's shapes, codes and rules."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import pytest

from tests.support import aws_error, aws_fault, body_of, dynamodb, jwt_event, load_function

JIRA = {
    "type": "ExternalTask",
    "externalTag": "JIRA",
    "title": "Close Ticket",
    "priority": "High",
    "data": {},
    "taskCatalogName": "Tickets",
}
DV_DATA = {
    "BucketId": 25,
    "DocumentId": "Construction Tender Document",
    "DocumentPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\Construction Tender Document.zip",
    "EncodedDocumentPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\encoded.zip",
    "TextPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\text.zip",
    "DocumentObjectModelPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\dom.zip",
    "TaxonomyPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\taxonomy.zip",
    "AutomaticExtractionResultsPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\input_results.zip",
    "ValidatedExtractionResultsPath": "default\\bc40e5c8-3e5d-4a4e-8beb-8ed4595c265d\\output_results.zip",
    "Version": "1.0",
}
DOCUMENT_VALIDATION = {
    "type": "DocumentValidationTask",
    "externalTag": "DV",
    "title": "Build Certificate",
    "priority": "Low",
    "data": DV_DATA,
    "taskCatalogName": "MinodoraCertificates",
}
FUNCTIONS = (
    "create_generic_task",
    "complete_generic_task",
    "get_generic_task",
    "list_generic_tasks",
    "assign_generic_tasks",
    "create_task_catalog",
    "list_task_catalogs",
    "create_folder",
    "list_folders",
)


class Api:
    """Each GenericTasks function, called as API Gateway calls it after its JWT authorizer."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self._handlers = {name: load_function(name).lambda_handler for name in FUNCTIONS}

    def call(self, name: str, route: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        ev = jwt_event(name, **kwargs)
        if route is not None:
            ev["routeKey"] = f"GET {route}"
            ev["rawPath"] = ev["requestContext"]["http"]["path"] = route
        answer = self.last = self._handlers[name](ev, self._ctx)
        body = answer.get("body")
        return answer["statusCode"], (json.loads(body) if body else None)

    def create(self, task: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        status, body = self.call("create_generic_task", body=task, **kwargs)
        assert status == 201, body
        return body

    def catalog(self, name: str, **kwargs: Any) -> dict[str, Any]:
        status, body = self.call("create_task_catalog", body={"Name": name, "Description": f"{name} tasks"}, **kwargs)
        assert status == 201, body
        return body

    def folder(self, name: str, parent: int | None = None, **kwargs: Any) -> dict[str, Any]:
        status, body = self.call("create_folder", body={"DisplayName": name, "ParentId": parent}, **kwargs)
        assert status == 201, body
        return body

    def get(self, task_id: int, **kwargs: Any) -> tuple[int, Any]:
        return self.call("get_generic_task", query={"taskId": str(task_id)}, **kwargs)

    def list(self, query: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, Any]:
        return self.call("list_generic_tasks", query=query or {}, **kwargs)


@pytest.fixture
def api(aws, ctx) -> Api:
    return Api(ctx)


def assert_error(answer: tuple[int, Any], status: int, code: int) -> dict[str, Any]:
    got_status, body = answer
    assert (got_status, body["errorCode"]) == (status, code), body
    assert set(body) == {"message", "errorCode", "traceId"} and body["traceId"]
    return body


# --- the seed's calls


def test_the_seed_examples_answer_201_in_the_seed_shape(api):
    api.catalog("Tickets")
    api.catalog("MinodoraCertificates")
    jira = api.create(copy.deepcopy(JIRA))
    dv = api.create(copy.deepcopy(DOCUMENT_VALIDATION))
    for sent, answer in ((JIRA, jira), (DOCUMENT_VALIDATION, dv)):
        assert {k: answer[k] for k in ("status", "data", "action", "externalTag")} == {
            "status": 0,
            "data": sent["data"],
            "action": None,
            "externalTag": sent["externalTag"],
        }
        assert answer["organizationUnitId"] == 1 and isinstance(answer["id"], int)
        assert str(uuid.UUID(answer["key"])) == answer["key"]
        assert (answer["title"], answer["type"], answer["priority"]) == (sent["title"], sent["type"], sent["priority"])
        assert answer["creationTime"].endswith("Z")
    assert dv["id"] > jira["id"]


def test_a_type_is_accepted_by_name_or_by_orchestrators_number(api):
    assert api.create({"type": 1, "title": "t"})["type"] == "ExternalTask"
    form = api.create(
        {"type": 6, "title": "Approve", "taskSchemaKey": str(uuid.uuid4()), "schema": {"fields": []}, "data": {"a": 1}}
    )
    assert form["type"] == "QuickFormTask"
    status, fetched = api.get(form["id"])
    assert status == 200 and fetched["schema"] == {"fields": []} and fetched["taskSchemaKey"]


@pytest.mark.parametrize("kind", ["FormTask", "AppTask", 0, 99, True, None])
def test_any_other_type_is_400_listing_the_accepted_ones(api, kind):
    body = assert_error(api.call("create_generic_task", body={"type": kind, "title": "t"}), 400, 1000)
    assert "ExternalTask (1)" in body["message"] and "QuickFormTask (6)" in body["message"]


def test_a_quick_form_task_needs_its_schema(api):
    body = assert_error(api.call("create_generic_task", body={"type": "QuickFormTask", "title": "t"}), 400, 1000)
    assert "taskSchemaKey" in body["message"]


def test_a_document_validation_task_names_each_missing_or_wrong_field(api):
    data = {k: v for k, v in DV_DATA.items() if k not in ("TextPath", "Version")}
    data["BucketId"] = "25"
    body = assert_error(
        api.call("create_generic_task", body={**DOCUMENT_VALIDATION, "data": data, "taskCatalogName": None}), 400, 1000
    )
    for field in ("data.TextPath", "data.Version", "data.BucketId"):
        assert field in body["message"]


def test_priority_defaults_to_medium_and_title_is_required_and_bounded(api):
    assert api.create({"type": "ExternalTask", "title": "x"})["priority"] == "Medium"
    for bad in ({"type": "ExternalTask"}, {"type": "ExternalTask", "title": "  "}, {"type": "ExternalTask", "title": "x" * 513}):
        assert_error(api.call("create_generic_task", body=bad), 400, 1000)
    assert_error(api.call("create_generic_task", body={"type": "ExternalTask", "title": "x", "priority": "Urgent"}), 400, 1000)


def test_a_catalog_the_folder_does_not_have_is_refused_and_nothing_is_stored(api):
    body = assert_error(api.call("create_generic_task", body=JIRA), 400, 1002)
    assert "Tickets" in body["message"]
    assert api.list()[1]["value"] == []


def test_bodies_that_are_not_json_objects_are_refused(api):
    assert_error(api.call("create_generic_task", body="[1]"), 400, 1000)
    assert_error(api.call("create_generic_task", body="{"), 400, 1000)
    ev_status, body = api.call("create_generic_task", body={"type": "ExternalTask", "title": "x", "data": {"a": "x" * 300_000}})
    assert (ev_status, body["errorCode"]) == (413, 1000)


def test_completing_stores_data_and_action_and_answers_204(api):
    task = api.create({"type": "ExternalTask", "title": "Close"})
    status, body = api.call("complete_generic_task", body={"taskId": task["id"], "data": {"done": True}, "action": "close"})
    assert (status, body) == (204, None)
    status, fetched = api.get(task["id"])
    assert fetched["status"] == 2 and fetched["data"] == {"done": True} and fetched["action"] == "close"
    assert fetched["completionTime"] and fetched["lastModificationTime"] == fetched["completionTime"]


def test_completing_a_completed_task_is_409_and_changes_nothing(api):
    task = api.create({"type": "ExternalTask", "title": "Close"})
    api.call("complete_generic_task", body={"taskId": task["id"], "data": {"first": 1}, "action": "close"})
    before = api.get(task["id"])[1]
    body = assert_error(
        api.call("complete_generic_task", body={"taskId": task["id"], "data": {"second": 2}, "action": "reopen"}), 409, 1000
    )
    assert "already completed" in body["message"]
    assert api.get(task["id"])[1] == before


def test_completing_an_unknown_task_is_404(api):
    assert_error(api.call("complete_generic_task", body={"taskId": 4242, "data": {}, "action": "x"}), 404, 1002)
    assert_error(api.call("complete_generic_task", body={"taskId": "1", "data": {}}), 400, 1000)


def test_get_task_data_by_id_answers_the_fuller_shape(api):
    api.catalog("Tickets")
    task = api.create(copy.deepcopy(JIRA))
    status, fetched = api.get(task["id"])
    assert status == 200
    assert set(fetched) >= {
        "status", "data", "action", "externalTag", "organizationUnitId", "id", "title", "type", "priority",
        "taskCatalogName", "assignedToUser", "creationTime", "lastModificationTime", "completionTime", "key",
    }
    assert fetched["taskCatalogName"] == "Tickets" and fetched["assignedToUser"] is None
    assert "schema" not in fetched


@pytest.mark.parametrize("query", [{}, {"taskId": "abc"}, {"taskId": "-1"}, {"taskId": "1.5"}, {"taskId": "0"}])
def test_get_task_data_by_id_needs_an_integer_task_id(api, query):
    assert_error(api.call("get_generic_task", query=query), 400, 1000)


def test_get_task_data_by_key_answers_the_same(api):
    task = api.create({"type": "ExternalTask", "title": "by key"})
    route = "/tasks/GenericTasks/GetTaskDataByKey"
    status, fetched = api.call("get_generic_task", route=route, query={"taskKey": task["key"].upper()})
    assert status == 200 and fetched == api.get(task["id"])[1]
    assert_error(api.call("get_generic_task", route=route, query={"taskKey": "nope"}), 400, 1000)
    assert_error(api.call("get_generic_task", route=route, query={"taskKey": str(uuid.uuid4())}), 404, 1002)


def test_ids_are_per_tenant_and_increasing(api):
    first = [api.create({"type": 1, "title": "a"})["id"] for _ in range(3)]
    other = [api.create({"type": 1, "title": "b"}, tenant="globex")["id"] for _ in range(2)]
    assert first == sorted(first) and len(set(first)) == 3
    assert other == [1, 2] and first == [1, 2, 3]


def test_an_idempotency_key_never_answers_another_folder_or_caller(api):
    other = api.folder("Other")
    headers = {"Idempotency-Key": "k1"}
    api.create({"type": 1, "title": "once"}, headers=headers)
    moved = {**headers, "X-UIPATH-OrganizationUnitId": str(other["Id"])}
    assert_error(api.call("create_generic_task", body={"type": 1, "title": "once"}, headers=moved), 422, 1000)
    limited = api.call("create_generic_task", body={"type": 1, "title": "once"}, headers=moved, folders=[other["Id"]])
    assert limited[0] == 422


def test_sizes_are_counted_as_stored_utf8_and_a_form_schema_is_bounded(api):
    assert api.create({"type": 1, "title": "t", "data": {"text": "€" * 60_000}})["data"]["text"] == "€" * 60_000
    form = {"type": 6, "title": "f", "taskSchemaKey": str(uuid.uuid4()), "data": {}, "schema": {"s": "x" * 70_000}}
    assert_error(api.call("create_generic_task", body=form), 413, 1000)


def test_folder_names_too_long_for_a_key_are_refused_not_failed(api):
    parent = None
    for _ in range(4):
        body = {"DisplayName": "€" * 99, "ParentId": parent}
        status, answer = api.call("create_folder", body=body)
        if status != 201:
            break
        parent = answer["Id"]
    assert (status, answer["errorCode"]) == (400, 1000) and "bytes" in answer["message"]
    assert_error(api.list(headers={"X-UIPATH-FolderPath": "€" * 1000}), 404, 1100)


def test_a_folder_header_restricts_calls_that_find_a_task_by_id(api):
    other = api.folder("Other")
    task = api.create({"type": 1, "title": "in shared"})
    elsewhere = {"X-UIPATH-OrganizationUnitId": str(other["Id"])}
    assert_error(api.get(task["id"], headers=elsewhere), 404, 1002)
    assert_error(api.call("complete_generic_task", body={"taskId": task["id"]}, headers=elsewhere), 404, 1002)
    failures = api.call(
        "assign_generic_tasks",
        body={"taskAssignments": [{"TaskId": task["id"], "UserNameOrEmail": "x"}]},
        headers=elsewhere,
    )[1]["value"]
    assert [f["ErrorCode"] for f in failures] == [1002]
    assert_error(api.get(task["id"], headers={"X-UIPATH-OrganizationUnitId": "x"}), 400, 1000)
    assert_error(api.get(task["id"], headers={"X-UIPATH-OrganizationUnitId": "99"}), 404, 1100)
    assert_error(api.get(task["id"], headers={"X-UIPATH-OrganizationUnitId": "1"}, folders=[other["Id"]]), 403, 1100)
    assert api.get(task["id"], headers={"X-UIPATH-FolderPath": "Shared"})[0] == 200
    assert api.call("complete_generic_task", body={"taskId": task["id"]}, headers={"X-UIPATH-OrganizationUnitId": "1"})[0] == 204


def test_a_limited_token_cannot_tell_a_missing_folder_from_a_forbidden_one(api):
    mine = api.folder("Mine")
    api.folder("Hidden")
    limited = {"folders": [mine["Id"]]}
    assert_error(api.list(headers={"X-UIPATH-FolderPath": "Hidden"}, **limited), 403, 1100)
    assert_error(api.list(headers={"X-UIPATH-FolderPath": "Nowhere"}, **limited), 403, 1100)
    assert_error(api.call("list_task_catalogs", headers={"X-UIPATH-FolderPath": "Hidden"}, **limited), 403, 1100)
    assert_error(api.call("create_folder", body={"DisplayName": "Top"}, **limited), 403, 1100)
    assert api.folder("Sub", parent=mine["Id"], **limited)["FullyQualifiedName"] == "Mine/Sub"


def test_an_id_beyond_the_index_keys_is_refused(api):
    for expression in ("Id eq 1000000000000", "Id ge 999999999999999", "Id lt -1"):
        assert_error(api.list({"$filter": expression}), 400, 1000)
    assert _ids(api.list({"$filter": "Id le 999999999999 and Id ge 5 and Id lt 3"})) == []


def test_an_idempotency_key_returns_the_first_task(api):
    headers = {"Idempotency-Key": "create-once"}
    one = api.create({"type": 1, "title": "once"}, headers=headers)
    two = api.create({"type": 1, "title": "once"}, headers=headers)
    assert one == two
    assert api.list({"$count": "true"})[1]["@odata.count"] == 1


# --- catalogs


def test_catalogs_are_unique_per_folder_and_listed_in_the_odata_envelope(api):
    created = api.catalog("Tickets")
    assert set(created) == {"Name", "Description", "LastModificationTime", "Id"}
    assert_error(api.call("create_task_catalog", body={"Name": "tickets"}), 409, 1001)
    finance = api.folder("Finance")
    api.catalog("Tickets", headers={"X-UIPATH-OrganizationUnitId": str(finance["Id"])})
    api.catalog("Approvals")
    status, listed = api.call("list_task_catalogs", query={"$count": "true"})
    assert status == 200 and listed["@odata.context"].endswith("/odata/$metadata#TaskCatalogs")
    assert [c["Name"] for c in listed["value"]] == ["Approvals", "Tickets"] and listed["@odata.count"] == 2
    assert listed["value"][1] == created
    status, page = api.call("list_task_catalogs", query={"$top": "1", "$skip": "1"})
    assert [c["Name"] for c in page["value"]] == ["Tickets"] and "@odata.count" not in page
    assert_error(api.call("list_task_catalogs", query={"$filter": "Name eq 'x'"}), 400, 1000)


def test_a_catalog_needs_a_name(api):
    assert_error(api.call("create_task_catalog", body={"Description": "x"}), 400, 1000)
    assert_error(api.call("create_task_catalog", body={"Name": ""}), 400, 1000)


# --- folders


def test_folders_nest_under_shared_and_are_listed_with_it(api):
    finance = api.folder("Finance")
    assert set(finance) == {"Id", "Key", "DisplayName", "FullyQualifiedName", "ParentId"}
    assert finance["FullyQualifiedName"] == "Finance" and finance["Id"] > 1 and finance["ParentId"] is None
    invoices = api.folder("Invoices", parent=finance["Id"])
    assert invoices["FullyQualifiedName"] == "Finance/Invoices" and invoices["ParentId"] == finance["Id"]
    assert api.folder("Inbox", parent=1)["FullyQualifiedName"] == "Shared/Inbox"
    assert_error(api.call("create_folder", body={"DisplayName": "shared"}), 409, 1001)
    assert_error(api.call("create_folder", body={"DisplayName": "finance"}), 409, 1001)
    assert_error(api.call("create_folder", body={"DisplayName": "a/b"}), 400, 1000)
    assert_error(api.call("create_folder", body={"DisplayName": "x", "ParentId": 999}), 404, 1100)
    status, listed = api.call("list_folders", query={"$count": "true"})
    assert status == 200 and listed["@odata.count"] == 4
    assert [f["FullyQualifiedName"] for f in listed["value"]] == ["Shared", "Finance", "Finance/Invoices", "Shared/Inbox"]
    assert_error(api.call("list_folders", query={"$top": "1001"}), 400, 1000)
    assert_error(api.call("list_task_catalogs", query={"$skip": "10001"}), 400, 1000)


def test_a_folder_is_named_by_id_path_encoded_path_or_key(api):
    folder = api.folder("Finanças", parent=1)
    encoded = base64.b64encode("Shared/Finanças".encode("utf-16-le")).decode()
    ways = [
        {"X-UIPATH-OrganizationUnitId": str(folder["Id"])},
        {"X-UIPATH-FolderPath-Encoded": encoded},
        {"X-UIPATH-FolderKey": folder["Key"]},
        {"X-UIPATH-FolderKey": folder["Key"].upper()},
    ]
    for headers in ways:
        assert api.create({"type": 1, "title": "t"}, headers=headers)["organizationUnitId"] == folder["Id"]
    finance = api.folder("Finance")
    invoices = api.folder("Invoices", parent=finance["Id"])
    named = api.create({"type": 1, "title": "t"}, headers={"X-UIPATH-FolderPath": "finance/INVOICES"})
    assert named["organizationUnitId"] == invoices["Id"]
    assert api.create({"type": 1, "title": "t"}, headers={"X-UIPATH-FolderPath": "Shared"})["organizationUnitId"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-UIPATH-OrganizationUnitId": "77"},
        {"X-UIPATH-FolderPath": "Shared/Nowhere"},
        {"X-UIPATH-FolderKey": str(uuid.uuid4())},
    ],
)
def test_a_folder_that_does_not_exist_is_error_1100(api, headers):
    assert_error(api.call("create_generic_task", body={"type": 1, "title": "t"}, headers=headers), 404, 1100)
    assert_error(api.list(headers=headers), 404, 1100)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-UIPATH-OrganizationUnitId": "one"},
        {"X-UIPATH-FolderKey": "not-a-guid"},
        {"X-UIPATH-FolderPath-Encoded": "***"},
        {"X-UIPATH-OrganizationUnitId": "1", "X-UIPATH-FolderPath": "Shared"},
    ],
)
def test_a_malformed_folder_header_is_400(api, headers):
    assert_error(api.call("create_generic_task", body={"type": 1, "title": "t"}, headers=headers), 400, 1000)


# --- listing


@pytest.fixture
def listed_tasks(api) -> list[dict[str, Any]]:
    api.catalog("Tickets")
    tasks = []
    for index in range(7):
        task = {
            "type": "ExternalTask" if index % 2 == 0 else "DocumentValidationTask",
            "title": f"task {index}",
            "priority": ["Low", "High", "Critical"][index % 3],
            "data": DV_DATA,
            "externalTag": "JIRA" if index < 4 else None,
            "taskCatalogName": "Tickets" if index % 3 == 0 else None,
        }
        tasks.append(api.create(task))
    api.call("assign_generic_tasks", body={"taskAssignments": [{"TaskId": tasks[1]["id"], "UserNameOrEmail": "ana@example.com"}]})
    api.call("complete_generic_task", body={"taskId": tasks[2]["id"], "action": "done"})
    return tasks


def _ids(answer: tuple[int, Any]) -> list[int]:
    status, body = answer
    assert status == 200, body
    return [item["Id"] for item in body["value"]]


def test_listing_pages_with_top_and_skip_and_counts(api, listed_tasks):
    ids = [t["id"] for t in listed_tasks]
    pages = [_ids(api.list({"$top": "3", "$skip": str(skip)})) for skip in (0, 3, 6)]
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    status, body = api.list({"$top": "2", "$count": "true"})
    assert body["@odata.count"] == 7 and body["@odata.context"].endswith("/odata/$metadata#Tasks")
    assert _ids(api.list({"$orderby": "CreationTime desc", "$top": "2"})) == [ids[6], ids[5]]
    assert _ids(api.list({"$filter": f"Id gt {ids[4]}"})) == ids[5:]
    assert _ids(api.list({"$filter": f"Id ge {ids[1]} and Id lt {ids[3]}"})) == ids[1:3]
    assert _ids(api.list({"$top": "0"})) == []


def test_listing_items_have_orchestrators_casing(api, listed_tasks):
    item = api.list({"$filter": "Status eq 'Pending'"})[1]["value"][0]
    assert {"Title", "Type", "Priority", "Status", "CreationTime", "TaskCatalogName", "OrganizationUnitId", "IsCompleted", "Id"} <= set(item)
    assert item["Status"] == "Pending" and item["AssignedToUser"]["UserName"] == "ana@example.com"
    assert "Data" not in item and "data" not in item


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Status eq 0", [0, 3, 4, 5, 6]),
        ("Status eq 1", [1]),
        ("Status eq 'Completed'", [2]),
        ("IsCompleted eq true", [2]),
        ("IsCompleted eq false", [0, 1, 3, 4, 5, 6]),
        ("Type eq 'DocumentValidationTask'", [1, 3, 5]),
        ("Priority eq 'Critical'", [2, 5]),
        ("TaskCatalogName eq 'tickets'", [0, 3, 6]),
        ("ExternalTag eq 'JIRA' and Priority eq 'Low'", [0, 3]),
        ("ExternalTag eq null", [4, 5, 6]),
        ("Type eq 'ExternalTask' and Status eq 0 and Priority eq 'Low'", [0, 6]),
    ],
)
def test_listing_filters_each_field(api, listed_tasks, expression, expected):
    ids = [t["id"] for t in listed_tasks]
    assert _ids(api.list({"$filter": expression})) == [ids[i] for i in expected]
    paged = [_ids(api.list({"$filter": expression, "$top": "1", "$skip": str(i)})) for i in range(len(expected))]
    assert paged == [[ids[i]] for i in expected]
    assert api.list({"$filter": expression, "$count": "true"})[1]["@odata.count"] == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        {"$filter": "contains(Title,'x')"},
        {"$filter": "Title eq 'x'"},
        {"$filter": "Status eq 0 or Status eq 1"},
        {"$filter": "Status ne 0"},
        {"$filter": "Status eq 7"},
        {"$filter": "(Status eq 0)"},
        {"$filter": "Status eq 0 and"},
        {"$filter": "Id gt 'x'"},
        {"$orderby": "Title"},
        {"$expand": "Data"},
        {"$top": "1001"},
        {"$top": "-1"},
        {"$skip": "10001"},
        {"$count": "yes"},
    ],
)
def test_an_option_the_service_cannot_answer_is_400_with_error_1000(api, listed_tasks, query):
    assert_error(api.list(query), 400, 1000)


def test_filtered_listings_and_counts_read_on_across_query_pages_within_a_budget(api, listed_tasks, monkeypatch):
    from tasklane.storage import generic_tasks as store

    ids = [t["id"] for t in listed_tasks]
    monkeypatch.setattr(store, "PAGE_ENTRIES", 2)
    assert _ids(api.list({"$filter": "Status eq 0"})) == [ids[i] for i in (0, 3, 4, 5, 6)]
    assert api.list({"$filter": "Priority eq 'Low'", "$count": "true"})[1]["@odata.count"] == 3
    monkeypatch.setattr(store, "MAX_EVALUATED", 4)
    body = assert_error(api.list({"$filter": "Status eq 1", "$top": "5"}), 400, 1000)
    assert "Id range" in body["message"]
    assert "$count" in assert_error(api.list({"$count": "true"}), 400, 1000)["message"]
    assert _ids(api.list({"$top": "3"})) == ids[:3]


def test_every_listing_is_a_query_on_an_index_never_a_scan(api, listed_tasks, aws):
    from tasklane.storage.clients import aws_client

    operations: list[tuple[str, str | None]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        operations.append((model.name, params.get("IndexName")))

    events = aws_client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", record)
    try:
        for query in ({"$top": "3"}, {"$filter": "Status eq 0", "$count": "true"}, {"$filter": "Id gt 2"}):
            operations.clear()
            api.list(query)
            assert {name for name, _ in operations} == {"Query"}, operations
            assert all(index == "ListIndex" for _, index in operations), operations
        operations.clear()
        api.list({"$top": "3", "$skip": "3"})
        assert operations == [("Query", "ListIndex")]
        operations.clear()
        api.call("list_task_catalogs")
        api.call("list_folders")
        assert {name for name, _ in operations} == {"Query"}
    finally:
        events.unregister("before-parameter-build.dynamodb", record)


def test_create_task_costs_two_dynamodb_calls_once_the_folder_is_known(api, aws):
    from tasklane.storage.clients import aws_client

    folder = api.folder("Ops")
    api.catalog("Tickets", headers={"X-UIPATH-OrganizationUnitId": str(folder["Id"])})
    headers = {"X-UIPATH-OrganizationUnitId": str(folder["Id"])}
    api.create({"type": 1, "title": "warm"}, headers=headers)
    operations: list[str] = []
    events = aws_client("dynamodb").meta.events

    def record(model: Any, **_: Any) -> None:
        operations.append(model.name)

    events.register("before-call.dynamodb", record)
    try:
        api.create({"type": 1, "title": "plain"}, headers=headers)
        assert operations == ["UpdateItem", "PutItem"]
        operations.clear()
        api.create({"type": 1, "title": "in a catalog", "taskCatalogName": "Tickets"}, headers=headers)
        assert operations == ["UpdateItem", "TransactWriteItems"]
    finally:
        events.unregister("before-call.dynamodb", record)


# --- assignment


def test_assignment_moves_tasks_to_pending_and_lists_only_failures(api):
    a, b, done = (api.create({"type": 1, "title": t}) for t in ("a", "b", "done"))
    api.call("complete_generic_task", body={"taskId": done["id"]})
    status, body = api.call(
        "assign_generic_tasks",
        body={
            "taskAssignments": [
                {"TaskId": a["id"], "UserNameOrEmail": "ana@example.com"},
                {"taskId": b["id"], "userNameOrEmail": "bob"},
                {"TaskId": done["id"], "UserNameOrEmail": "ana@example.com"},
                {"TaskId": 9999, "UserNameOrEmail": "ana@example.com"},
                {"TaskId": a["id"], "UserNameOrEmail": "carl"},
            ],
            "assignmentCriteria": "SingleUser",
        },
    )
    assert status == 200
    failures = {(f["TaskId"], f["ErrorCode"]) for f in body["value"]}
    assert failures == {(done["id"], 1000), (9999, 1002), (a["id"], 1000)}
    assert all(set(f) == {"TaskId", "ErrorCode", "ErrorMessage"} and f["ErrorMessage"] for f in body["value"])
    fetched = api.get(a["id"])[1]
    assert fetched["status"] == 1 and fetched["assignedToUser"]["emailAddress"] == "ana@example.com"
    assert fetched["lastAssignedTime"]
    assert api.get(b["id"])[1]["assignedToUser"]["userName"] == "bob"
    assert api.call("complete_generic_task", body={"taskId": a["id"], "action": "ok"})[0] == 204


def test_all_assignments_succeeding_answer_an_empty_list(api):
    task = api.create({"type": 1, "title": "a"})
    answer = api.call("assign_generic_tasks", body={"taskAssignments": [{"TaskId": task["id"], "UserNameOrEmail": "x"}]})
    assert answer == (200, {"value": []})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"taskAssignments": []},
        {"taskAssignments": [{"TaskId": 1}]},
        {"taskAssignments": [{"UserNameOrEmail": "x"}]},
        {"taskAssignments": [{"TaskId": 1, "UserNameOrEmail": "x"}], "assignmentCriteria": "AllUsers"},
        {"taskAssignments": [{"TaskId": 1, "UserNameOrEmail": "x"}] * 501},
    ],
)
def test_a_malformed_assignment_request_is_400(api, body):
    assert_error(api.call("assign_generic_tasks", body=body), 400, 1000)


# --- isolation


def test_a_task_of_another_tenant_does_not_exist(api):
    task = api.create({"type": 1, "title": "mine"})
    assert_error(api.get(task["id"], tenant="globex"), 404, 1002)
    assert_error(api.call("complete_generic_task", tenant="globex", body={"taskId": task["id"]}), 404, 1002)
    route = "/tasks/GenericTasks/GetTaskDataByKey"
    assert_error(api.call("get_generic_task", route=route, tenant="globex", query={"taskKey": task["key"]}), 404, 1002)
    failures = api.call(
        "assign_generic_tasks", tenant="globex", body={"taskAssignments": [{"TaskId": task["id"], "UserNameOrEmail": "x"}]}
    )[1]["value"]
    assert [f["ErrorCode"] for f in failures] == [1002]
    assert api.list(tenant="globex")[1]["value"] == []
    assert api.get(task["id"])[1]["status"] == 0


def test_a_folders_claim_limits_the_caller_to_those_folders(api):
    mine, theirs = api.folder("Mine"), api.folder("Theirs")
    in_theirs = api.create({"type": 1, "title": "t"}, headers={"X-UIPATH-OrganizationUnitId": str(theirs["Id"])})
    in_mine = api.create({"type": 1, "title": "m"}, headers={"X-UIPATH-OrganizationUnitId": str(mine["Id"])})
    limited = {"folders": [mine["Id"]]}
    assert api.get(in_mine["id"], **limited)[0] == 200
    assert_error(api.get(in_theirs["id"], **limited), 404, 1002)
    assert_error(api.call("complete_generic_task", body={"taskId": in_theirs["id"]}, **limited), 404, 1002)
    failures = api.call(
        "assign_generic_tasks", body={"taskAssignments": [{"TaskId": in_theirs["id"], "UserNameOrEmail": "x"}]}, **limited
    )[1]["value"]
    assert [f["ErrorCode"] for f in failures] == [1002]
    assert_error(api.list(headers={"X-UIPATH-OrganizationUnitId": str(theirs["Id"])}, **limited), 403, 1100)
    assert_error(api.call("create_generic_task", body={"type": 1, "title": "x"}, **limited), 403, 1100)
    assert _ids(api.list(headers={"X-UIPATH-OrganizationUnitId": str(mine["Id"])}, **limited)) == [in_mine["id"]]
    listed = api.call("list_folders", **limited)[1]["value"]
    assert [f["Id"] for f in listed] == [mine["Id"]]
    assert api.get(in_theirs["id"])[1]["status"] == 0


def test_a_malformed_folders_claim_is_refused(api, ctx):
    ev_status, body = api.call("list_generic_tasks", query={})
    assert ev_status == 200
    event = jwt_event("list_generic_tasks", query={})
    event["requestContext"]["authorizer"]["jwt"]["claims"]["folders"] = "[a b]"
    answer = load_function("list_generic_tasks").lambda_handler(event, ctx)
    assert answer["statusCode"] == 403 and body_of(answer)["errorCode"] == 1100


def test_a_route_behind_the_jwt_authorizer_refuses_a_lambda_authorizer_context(api, ctx):
    event = jwt_event("list_folders")
    event["requestContext"]["authorizer"] = {"lambda": {"tenant": "acme", "scopes": "OR.Tasks"}}
    answer = load_function("list_folders").lambda_handler(event, ctx)
    assert answer["statusCode"] == 403 and body_of(answer)["errorCode"] == 1000


def test_an_unknown_route_answers_orchestrators_error_body(api, ctx):
    event = jwt_event("list_folders")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/odata/Nothing"
    answer = load_function("list_folders").lambda_handler(event, ctx)
    assert answer["statusCode"] == 404 and body_of(answer)["errorCode"] == 1002


# --- faults: a failed write stores nothing; 503 with Retry-After when a retry can succeed, else 500


@pytest.mark.parametrize(
    "fault, status, retry_after",
    [
        (aws_error("ProvisionedThroughputExceededException"), 503, "2"),
        (aws_error("InternalServerError", 500), 503, "5"),
        (aws_error("ValidationException"), 500, None),
    ],
    ids=["throttled", "failed", "refused"],
)
def test_a_failed_write_stores_nothing_and_says_whether_to_retry(api, fault, status, retry_after):
    task = api.create({"type": "ExternalTask", "title": "Close", "data": {"v": 1}})
    before = api.get(task["id"])[1]
    with aws_fault(dynamodb(), "before-call.dynamodb.UpdateItem", fault, when=lambda params: "taskStatus" in str(params)):
        completed = api.call("complete_generic_task", body={"taskId": task["id"], "data": {"v": 2}, "action": "x"})
        completed_headers = api.last["headers"]
    with aws_fault(dynamodb(), "before-call.dynamodb.PutItem", fault):
        created = api.call("create_generic_task", body={"type": "ExternalTask", "title": "Another"})
        created_headers = api.last["headers"]
    for answer, headers in ((completed, completed_headers), (created, created_headers)):
        assert set(answer[1]) == {"message", "errorCode", "traceId"} and answer[0] == status, answer
        assert headers.get("Retry-After") == retry_after
    assert api.get(task["id"])[1] == before
    assert [t["Title"] for t in api.list()[1]["value"]] == ["Close"]
    assert api.call("complete_generic_task", body={"taskId": task["id"], "data": {"v": 2}})[0] == 204


# --- races. moto in-process does not interleave requests, so a race is played in order: the
# competing request runs through its own handler (another Lambda instance) just before the first
# request's conditional write, so both have read the same state.


def _race(api: Api, operation: str, competing: Any, first: Any) -> tuple[Any, Any]:
    """(what `competing()` answered, run before `first()`'s first DynamoDB <operation>; what `first()` answered)."""
    answers: list[Any] = []

    def hook(**_: Any) -> None:
        if not answers:
            answers.append(None)
            answers[0] = competing()

    events = dynamodb().meta.events
    events.register(f"before-call.dynamodb.{operation}", hook, unique_id="race")
    try:
        answer = first()
    finally:
        events.unregister(f"before-call.dynamodb.{operation}", unique_id="race")
    return answers[0], answer


def test_of_two_concurrent_completions_one_wins_and_the_other_is_refused(api, ctx):
    task = api.create({"type": "ExternalTask", "title": "Close"})
    other = load_function("complete_generic_task").lambda_handler

    def competing() -> tuple[int, Any]:
        answer = other(jwt_event("complete_generic_task", body={"taskId": task["id"], "data": {"by": "winner"}, "action": "approve"}), ctx)
        return answer["statusCode"], answer.get("body")

    winner, loser = _race(
        api, "UpdateItem", competing,
        lambda: api.call("complete_generic_task", body={"taskId": task["id"], "data": {"by": "loser"}, "action": "reject"}),
    )
    assert winner == (204, "")
    body = assert_error(loser, 409, 1000)
    assert "already completed" in body["message"]
    fetched = api.get(task["id"])[1]
    assert fetched["status"] == 2 and fetched["data"] == {"by": "winner"} and fetched["action"] == "approve"


def test_of_two_concurrent_assignments_of_one_task_one_wins_and_the_other_lists_it_failed(api, ctx):
    task = api.create({"type": 1, "title": "a"})
    other = load_function("assign_generic_tasks").lambda_handler

    def assign(user: str) -> dict[str, Any]:
        return {"taskAssignments": [{"TaskId": task["id"], "UserNameOrEmail": user}]}

    def competing() -> tuple[int, Any]:
        answer = other(jwt_event("assign_generic_tasks", body=assign("bob")), ctx)
        return answer["statusCode"], json.loads(answer["body"])

    winner, loser = _race(api, "UpdateItem", competing, lambda: api.call("assign_generic_tasks", body=assign("ana")))
    assert winner == (200, {"value": []})
    status, body = loser
    assert status == 200 and [(f["TaskId"], f["ErrorCode"]) for f in body["value"]] == [(task["id"], 1000)]
    assert "already assigned to bob" in body["value"][0]["ErrorMessage"]
    fetched = api.get(task["id"])[1]
    assert fetched["status"] == 1 and fetched["assignedToUser"]["userName"] == "bob"
