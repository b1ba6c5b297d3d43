"""Records to Orchestrator's shapes: camelCase for the GenericTasks routes, PascalCase for OData."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tasklane.api.generic_tasks.errors import error_code, message_of
from tasklane.api.generic_tasks.models import (
    AssignedUser,
    AssignmentFailureBody,
    AssignTasksResponse,
    GenericTaskBody,
    GenericTaskDataBody,
    ODataEnvelope,
    ODataFolder,
    ODataTask,
    ODataTaskCatalog,
    ODataUser,
    QuickFormTaskDataBody,
)
from tasklane.domain.generic_task_records import (
    AssignmentFailure,
    Folder,
    GenericTask,
    Page,
    TaskCatalog,
    TaskStatus,
    TaskSummary,
    TaskType,
)


def _seed_fields(task: GenericTask) -> dict[str, object]:
    return {
        "status": int(task.status),
        "data": task.data,
        "action": task.action,
        "externalTag": task.external_tag,
        "organizationUnitId": task.folder_id,
        "id": task.id,
        "key": task.key,
        "title": task.title,
        "type": task.type.value,
        "priority": task.priority.value,
        "creationTime": task.creation_time,
    }


def created(task: GenericTask) -> GenericTaskBody:
    return GenericTaskBody.model_validate(_seed_fields(task))


def _user(name: str | None) -> AssignedUser | None:
    if name is None:
        return None
    return AssignedUser(userName=name, emailAddress=name if "@" in name else None, displayName=name)


def task_data(task: GenericTask) -> GenericTaskDataBody:
    fields = {
        **_seed_fields(task),
        "taskCatalogName": task.catalog,
        "assignedToUserId": None,
        "assignedToUser": _user(task.assigned_to),
        "lastAssignedTime": task.last_assigned_time,
        "completionTime": task.completion_time,
        "lastModificationTime": task.last_modification_time,
        "creatorUserId": None,
        "tags": [],
    }
    if task.type is TaskType.QUICK_FORM:
        return QuickFormTaskDataBody.model_validate({**fields, "taskSchemaKey": task.schema_key, "schema_": task.schema})
    return GenericTaskDataBody.model_validate(fields)


def _odata_task(task: TaskSummary) -> ODataTask:
    user = _user(task.assigned_to)
    return ODataTask(
        Title=task.title,
        Type=task.type.value,
        Priority=task.priority.value,
        Status=task.status.label,
        CreationTime=task.creation_time,
        TaskCatalogName=task.catalog,
        OrganizationUnitId=task.folder_id,
        IsCompleted=task.status is TaskStatus.COMPLETED,
        Id=task.id,
        Key=task.key,
        ExternalTag=task.external_tag,
        AssignedToUser=ODataUser(UserName=user.userName, EmailAddress=user.emailAddress, DisplayName=user.displayName)
        if user
        else None,
        LastAssignedTime=task.last_assigned_time,
        CompletionTime=task.completion_time,
        LastModificationTime=task.last_modification_time,
    )


def context(headers: Mapping[str, str], entity_set: str) -> str:
    """`@odata.context`: the service's $metadata URL, as the caller reached the service."""
    host = headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto", "https")
    return f"{scheme}://{host}/odata/$metadata#{entity_set}"


def tasks(page: Page, headers: Mapping[str, str]) -> ODataEnvelope:
    return ODataEnvelope(context=context(headers, "Tasks"), count=page.count, value=[_odata_task(t) for t in page.items])


def catalog(found: TaskCatalog) -> ODataTaskCatalog:
    return ODataTaskCatalog(
        Name=found.name, Description=found.description, LastModificationTime=found.last_modification_time, Id=found.id
    )


def catalogs(page: Page, headers: Mapping[str, str]) -> ODataEnvelope:
    return ODataEnvelope(context=context(headers, "TaskCatalogs"), count=page.count, value=[catalog(c) for c in page.items])


def folder(created_folder: Folder) -> ODataFolder:
    return ODataFolder(
        Id=created_folder.id,
        Key=created_folder.key,
        DisplayName=created_folder.display_name,
        FullyQualifiedName=created_folder.fully_qualified_name,
        ParentId=created_folder.parent_id,
    )


def folders(page: Page, headers: Mapping[str, str]) -> ODataEnvelope:
    return ODataEnvelope(context=context(headers, "Folders"), count=page.count, value=[folder(f) for f in page.items])


def assignment_failures(failures: Sequence[AssignmentFailure]) -> AssignTasksResponse:
    return AssignTasksResponse(
        value=[
            AssignmentFailureBody(TaskId=f.task_id, ErrorCode=error_code(f.error), ErrorMessage=message_of(f.error))
            for f in failures
        ]
    )
