"""The GenericTasks family's routes (UiPath Orchestrator-compatible), from `tasklane.api.generic_tasks`' models."""

from __future__ import annotations

from pydantic import BaseModel

from tasklane.api.generic_tasks import errors, models
from tasklane.api.generic_tasks import requests as wire
from tasklane.domain.generic_tasks import MAX_SKIP, MAX_TOP
from tasklane_local.openapi.documents import IDEMPOTENCY
from tasklane_local.openapi.spec import Family, Link, Operation, Param, Reply, Schema, Schemas, string

_FOLDER = (
    Param("X-UIPATH-OrganizationUnitId", "header", string(pattern=r"^[0-9]{1,12}$"), "The folder's id"),
    Param("X-UIPATH-FolderKey", "header", string(format="uuid"), "The folder's key (a GUID)"),
    Param("X-UIPATH-FolderPath", "header", string(maxLength=wire.MAX_PATH_CHARS), "The folder's fully qualified name"),
    Param("X-UIPATH-FolderPath-Encoded", "header", string(), "That name as base64 of UTF-16LE"),
)
assert {p.name.lower() for p in _FOLDER} == {
    wire.ORGANIZATION_UNIT_ID,
    wire.FOLDER_KEY,
    wire.FOLDER_PATH,
    wire.FOLDER_PATH_ENCODED,
}
_PAGING = (
    Param("$top", "query", string(pattern=r"^[0-9]{1,7}$"), f"At most {MAX_TOP} (the default)"),
    Param("$skip", "query", string(pattern=r"^[0-9]{1,7}$"), f"At most {MAX_SKIP}"),
    Param("$count", "query", string(enum=["true", "false"]), "Answer @odata.count too"),
)
_LISTING = (
    Param(
        "$filter",
        "query",
        string(maxLength=2000),
        "eq on Status, Type, Priority, TaskCatalogName, ExternalTag, IsCompleted; eq/gt/ge/lt/le on Id; joined by and",
    ),
    Param("$orderby", "query", string(pattern=r"^(CreationTime|Id)( (asc|desc))?$")),
)


def _envelope(schemas: Schemas, entity: type[BaseModel]) -> Schema:
    """ODataEnvelope of `entity`: its serializer renames the fields, so the shape is stated here."""
    item = schemas.answer(entity)
    return schemas.add(
        f"{entity.__name__}List",
        {
            "type": "object",
            "properties": {
                "@odata.context": {"type": "string"},
                "@odata.count": {"type": "integer", "description": "Only when $count=true"},
                "value": {"type": "array", "items": item},
            },
            "required": ["@odata.context", "value"],
        },
    )


def family(schemas: Schemas) -> Family:
    answer, asked = schemas.answer, schemas.json_body

    created_links = {
        "GetTaskDataById": Link("GetTaskDataById", {"taskId": "$response.body#/id"}),
        "GetTaskDataByKey": Link("GetTaskDataByKey", {"taskKey": "$response.body#/key"}),
        "CompleteTask": Link("CompleteGenericTask", request_body={"taskId": "$response.body#/id", "action": "approve"}),
        "AssignTasks": Link(
            "AssignGenericTasks",
            request_body={"taskAssignments": [{"TaskId": "$response.body#/id", "UserNameOrEmail": "robot@example.com"}]},
        ),
    }

    task_data = {"anyOf": [answer(models.GenericTaskDataBody), answer(models.QuickFormTaskDataBody)]}
    operations = (
        Operation(
            "POST /tasks/GenericTasks/CreateTask",
            "Create an external, document validation or form task in a folder",
            {201: Reply("Created", answer(models.GenericTaskBody), links=created_links)},
            body=asked(
                models.CreateTaskRequest,
                {"type": "ExternalTask", "title": "Check invoice 42", "priority": "Medium", "data": {"invoice": 42}},
            ),
            params=(*_FOLDER, IDEMPOTENCY),
            errors=(409, 413, 415, 422),
        ),
        Operation(
            "POST /tasks/GenericTasks/CompleteTask",
            "Complete a task with its data and action",
            {204: Reply("Completed")},
            body=asked(models.CompleteTaskRequest),
            params=_FOLDER,
            errors=(409, 413, 415),
        ),
        Operation(
            "GET /tasks/GenericTasks/GetTaskDataById",
            "A task by id, with its data",
            {200: Reply("The task", task_data)},
            params=(Param("taskId", "query", string(pattern=r"^[0-9]{1,12}$"), required=True), *_FOLDER),
            operation_id="GetTaskDataById",
        ),
        Operation(
            "GET /tasks/GenericTasks/GetTaskDataByKey",
            "A task by key, with its data",
            {200: Reply("The task", task_data)},
            params=(Param("taskKey", "query", string(format="uuid"), required=True), *_FOLDER),
            operation_id="GetTaskDataByKey",
        ),
        Operation(
            "GET /odata/Tasks",
            "Tasks of a folder, filtered and paged (OData)",
            {200: Reply("A page of tasks", _envelope(schemas, models.ODataTask))},
            params=(*_LISTING, *_PAGING, *_FOLDER),
        ),
        Operation(
            "POST /odata/Tasks/UiPath.Server.Configuration.OData.AssignTasks",
            "Assign tasks to users; the failures are listed",
            {200: Reply("The assignments that failed", answer(models.AssignTasksResponse))},
            body=asked(models.AssignTasksRequest),
            params=_FOLDER,
            errors=(413, 415),
        ),
        Operation(
            "POST /odata/TaskCatalogs/UiPath.Server.Configuration.OData.CreateTaskCatalog",
            "Create a task catalog in a folder",
            {201: Reply("Created", answer(models.ODataTaskCatalog))},
            body=asked(models.CreateTaskCatalogRequest),
            params=_FOLDER,
            errors=(409, 413, 415),
        ),
        Operation(
            "GET /odata/TaskCatalogs",
            "A folder's task catalogs",
            {200: Reply("A page of catalogs", _envelope(schemas, models.ODataTaskCatalog))},
            params=(*_PAGING, *_FOLDER),
        ),
        Operation(
            "POST /odata/Folders",
            "Create a folder",
            {201: Reply("Created", answer(models.ODataFolder))},
            body=asked(models.CreateFolderRequest),
            errors=(409, 413, 415),
        ),
        Operation(
            "GET /odata/Folders",
            "The folders the caller reaches",
            {200: Reply("A page of folders", _envelope(schemas, models.ODataFolder))},
            params=_PAGING,
        ),
    )
    return Family(
        name="generic_tasks",
        tag="GenericTasks",
        description="UiPath Orchestrator-compatible: external and human tasks, folders and catalogs. "
        "errorCode: 1000 invalid request, 1001 name taken, 1002 not found, 1100 folder missing or not reachable.",
        operations=operations,
        error=schemas.model(errors.ErrorBody, "serialization", "GenericTasksError"),
        schemes=(("bearerAuth",),),
    )
