"""The GenericTasks family's requests read into the domain's terms: bodies, query strings, the folder
the headers name and the folders the caller's token reaches.

A request names its folder at most one way: `X-UIPATH-OrganizationUnitId` (the folder id),
`X-UIPATH-FolderKey` (its GUID), `X-UIPATH-FolderPath` (its fully qualified name) or
`X-UIPATH-FolderPath-Encoded` (that name as base64 of UTF-16LE, for names HTTP headers cannot carry).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from tasklane.api import strict_json
from tasklane.api.generic_tasks.models import (
    AssignTasksRequest,
    CompleteTaskRequest,
    CreateTaskRequest,
    DocumentValidationData,
)
from tasklane.api.http import Caller
from tasklane.api.validation import parse
from tasklane.domain.errors import BadRequest, FolderForbidden, problem
from tasklane.domain.generic_task_records import Assignment, FolderAccess, FolderRef, NewGenericTask, TaskType

# A task's data is at most 256 KiB; the rest of a body is a few short fields.
MAX_BODY_BYTES = 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)
ORGANIZATION_UNIT_ID = "x-uipath-organizationunitid"
FOLDER_KEY = "x-uipath-folderkey"
FOLDER_PATH = "x-uipath-folderpath"
FOLDER_PATH_ENCODED = "x-uipath-folderpath-encoded"
FOLDERS_CLAIM = "folders"
MAX_PATH_CHARS = 1000
_ID = re.compile(r"[0-9]{1,12}")


def json_object(raw: bytes, content_type: str | None) -> dict[str, Any]:
    return strict_json.object_body(raw, content_type, MAX_BODY_BYTES)


def body(model: type[Model], raw: bytes, content_type: str | None) -> Model:
    return parse(model, json_object(raw, content_type))


def fingerprint(data: Mapping[str, Any]) -> str:
    """What makes two bodies the same request (for Idempotency-Key): the parsed JSON."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def creation_fingerprint(body_fingerprint: str, ref: FolderRef, access: FolderAccess) -> str:
    """What makes two CreateTask calls the same: the body, the folder named, and who asks (so a
    reused Idempotency-Key never answers one caller or folder with another's task)."""
    folders = sorted(access.folders) if access.folders is not None else None
    where = {"id": ref.id, "path": ref.path, "key": ref.key}
    return fingerprint({"body": body_fingerprint, "folder": where, "principal": access.principal, "folders": folders})


def new_task(raw: bytes, content_type: str | None) -> tuple[NewGenericTask, str]:
    """CreateTask's body as the domain's NewGenericTask, and the body's fingerprint."""
    data = json_object(raw, content_type)
    request = parse(CreateTaskRequest, data)
    if request.type is TaskType.DOCUMENT_VALIDATION:
        parse(DocumentValidationData, request.data, "data")
    new = NewGenericTask(
        type=request.type,
        title=request.title,
        priority=request.priority,
        data=request.data,
        catalog=request.taskCatalogName,
        external_tag=request.externalTag,
        schema_key=str(request.taskSchemaKey) if request.taskSchemaKey is not None else None,
        schema=request.schema_,
    )
    return new, fingerprint(data)


def completion(raw: bytes, content_type: str | None) -> CompleteTaskRequest:
    return body(CompleteTaskRequest, raw, content_type)


def assignments(raw: bytes, content_type: str | None) -> list[Assignment]:
    request = body(AssignTasksRequest, raw, content_type)
    return [Assignment(task_id=a.TaskId, user=a.UserNameOrEmail) for a in request.taskAssignments]


def task_id(parameters: Mapping[str, str]) -> int:
    """GetTaskDataById's `taskId`: a positive integer."""
    text = parameters.get("taskId")
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) < 1:
        raise BadRequest(
            "taskId must be given as a positive integer",
            [problem("taskId", "expected a positive integer", "int_parsing")],
        )
    return int(text)


def task_key(parameters: Mapping[str, str]) -> str:
    """GetTaskDataByKey's `taskKey`: a GUID."""
    text = parameters.get("taskKey")
    try:
        return str(uuid.UUID((text or "").strip()))
    except ValueError as error:
        raise BadRequest("taskKey must be given as a GUID", [problem("taskKey", "expected a GUID", "uuid_parsing")]) from error


def _bad(header: str, message: str) -> BadRequest:
    return BadRequest(f"{header}: {message}", [problem(header, message, "invalid_header")])


def _path(headers: Mapping[str, str]) -> str | None:
    if FOLDER_PATH_ENCODED in headers:
        try:
            decoded = base64.b64decode(headers[FOLDER_PATH_ENCODED], validate=True).decode("utf-16-le")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise _bad("X-UIPATH-FolderPath-Encoded", "must be base64 of a UTF-16LE folder path") from error
        return decoded
    return headers.get(FOLDER_PATH)


def folder_ref(headers: Mapping[str, str]) -> FolderRef:
    """The folder the headers name; none named means the tenant's default folder."""
    named = [h for h in (ORGANIZATION_UNIT_ID, FOLDER_KEY, FOLDER_PATH, FOLDER_PATH_ENCODED) if h in headers]
    if len(named) > 1:
        raise BadRequest(
            "Name the folder with one header only",
            [problem(h, "the folder is named more than once", "invalid_header") for h in named],
        )
    if ORGANIZATION_UNIT_ID in headers:
        value = headers[ORGANIZATION_UNIT_ID].strip()
        if not _ID.fullmatch(value) or int(value) < 1:
            raise _bad("X-UIPATH-OrganizationUnitId", "must be a folder id (a positive integer)")
        return FolderRef(id=int(value))
    if FOLDER_KEY in headers:
        try:
            return FolderRef(key=str(uuid.UUID(headers[FOLDER_KEY].strip())))
        except ValueError as error:
            raise _bad("X-UIPATH-FolderKey", "must be a folder key (a GUID)") from error
    path = _path(headers)
    if path is None:
        return FolderRef()
    path = path.strip()
    if not path or len(path) > MAX_PATH_CHARS or any(ord(c) < 32 for c in path):
        raise _bad("X-UIPATH-FolderPath", "must be a folder's fully qualified name, such as Shared/Finance")
    return FolderRef(path=path)


def _claimed_folders(text: str) -> frozenset[int]:
    # AWS: a JWT authorizer hands list claims over as one string, "[3 7]"; plain JSON "[3,7]" too.
    parts = [p for p in re.split(r"[\s,]+", text.strip().removeprefix("[").removesuffix("]")) if p]
    if not all(_ID.fullmatch(p) for p in parts):
        raise FolderForbidden("The token's folders claim must be a list of folder ids")
    return frozenset(int(p) for p in parts)


def folder_access(caller: Caller) -> FolderAccess:
    """Who calls, and the folders its token reaches (all of the tenant's without a `folders` claim)."""
    claim = caller.claims.get(FOLDERS_CLAIM)
    folders = _claimed_folders(claim) if claim is not None else None
    return FolderAccess(tenant=caller.tenant, principal=caller.principal, folders=folders)
