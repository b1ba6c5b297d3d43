"""GenericTasks: work parked for a person or another system, created, assigned, completed, listed.

A task is Unassigned (0) when created, Pending (1) once assigned, Completed (2) once completed from
either; a completed task is final. Ids come from a per-tenant atomic counter, so they are unique and
increase with creation; each task also has a GUID key. Creating costs two DynamoDB calls (the id,
then one conditional put, or a transaction that also checks the catalog), once the folder is known
to this process. A caller whose token names folders reaches only tasks in those folders; others,
like other tenants' tasks, do not exist for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from tasklane.domain import folders
from tasklane.domain.errors import (
    BadRequest,
    Conflict,
    MissingReference,
    NotFound,
    PayloadTooLarge,
    TasklaneError,
    problem,
)
from tasklane.domain.generic_task_records import (
    Assignment,
    AssignmentFailure,
    FolderAccess,
    FolderRef,
    GenericTask,
    ListQuery,
    NewGenericTask,
    Page,
    TaskStatus,
)
from tasklane.storage import Backends
from tasklane.storage.generic_tasks import MAX_EVALUATED, CatalogMissing, Refused, TooBroad
from tasklane.jsontext import stored_size
from tasklane.timeutil import iso

# A task is one DynamoDB item (400 KB at most) holding its data and, for form tasks, its schema.
MAX_DATA_BYTES = 256 * 1024
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SKIP = 10_000
# No folder named: calls that find a task by id then look in every folder the caller reaches.
ANY_FOLDER = FolderRef()
MAX_TOP = 1000


def _check_size(loc: str, value: Any, limit: int = MAX_DATA_BYTES) -> None:
    if stored_size(value) > limit:
        raise PayloadTooLarge(
            f"{loc} may be at most {limit} bytes as JSON (UTF-8)",
            [problem(loc, f"more than {limit} bytes", "too_large")],
        )


def create(backends: Backends, access: FolderAccess, ref: FolderRef, new: NewGenericTask) -> GenericTask:
    _check_size("data", new.data)
    if new.schema is not None:
        _check_size("schema", new.schema, MAX_SCHEMA_BYTES)
    folder = folders.resolve(backends, access, ref)
    moment = iso(backends.clock.now())
    task = GenericTask(
        id=backends.counters.next(access.tenant, "task"),
        key=str(uuid.uuid4()),
        folder_id=folder.id,
        type=new.type,
        title=new.title,
        priority=new.priority,
        status=TaskStatus.UNASSIGNED,
        creation_time=moment,
        last_modification_time=moment,
        data=new.data,
        catalog=new.catalog,
        external_tag=new.external_tag,
        schema_key=new.schema_key,
        schema=new.schema,
        creator=access.principal,
    )
    try:
        backends.generic_tasks.put_new(access.tenant, task)
    except CatalogMissing as error:
        raise MissingReference(
            f"Folder {folder.fully_qualified_name} has no task catalog named '{new.catalog}'",
            [problem("taskCatalogName", "no such catalog in the folder", "not_found")],
        ) from error
    return task


def _not_found(task_id: int | str) -> NotFound:
    return NotFound(f"Task {task_id} does not exist")


def _visible(access: FolderAccess, task: GenericTask | None, named: int | str, folder_id: int | None) -> GenericTask:
    if task is None or not access.allows(task.folder_id) or (folder_id is not None and task.folder_id != folder_id):
        raise _not_found(named)
    return task


def get(backends: Backends, access: FolderAccess, task_id: int, ref: FolderRef = ANY_FOLDER) -> GenericTask:
    """The task, if the caller reaches its folder (and it is in the folder the request names, if any)."""
    folder_id = folders.named(backends, access, ref)
    return _visible(access, backends.generic_tasks.get(access.tenant, task_id), task_id, folder_id)


def get_by_key(backends: Backends, access: FolderAccess, key: str, ref: FolderRef = ANY_FOLDER) -> GenericTask:
    folder_id = folders.named(backends, access, ref)
    return _visible(access, backends.generic_tasks.by_key(access.tenant, key.lower()), key, folder_id)


def _folder_guard(backends: Backends, access: FolderAccess, task_id: int, named: int | None) -> int | None:
    """The folder the task must still be in for the write: the one the request names, or with a
    folders claim the task's own (read once); None when any folder will do."""
    if named is not None:
        return named
    if access.folders is None:
        return None
    return get(backends, access, task_id).folder_id


def complete(
    backends: Backends,
    access: FolderAccess,
    task_id: int,
    data: dict[str, Any] | None,
    action: str | None,
    ref: FolderRef = ANY_FOLDER,
) -> GenericTask:
    """Complete an Unassigned or Pending task; a completed one is a conflict (409) and stays as it was."""
    if data is not None:
        _check_size("data", data)
    folder_id = _folder_guard(backends, access, task_id, folders.named(backends, access, ref))
    try:
        return backends.generic_tasks.complete(
            access.tenant, task_id, folder_id, data, action, iso(backends.clock.now())
        )
    except Refused as refused:
        current = refused.current
        reached = current is not None and access.allows(current.folder_id)
        if reached and current is not None and folder_id in (None, current.folder_id):
            if current.status is TaskStatus.COMPLETED:
                raise Conflict(f"Task {task_id} is already completed") from refused
        raise _not_found(task_id) from refused


def _assign_one(
    backends: Backends, access: FolderAccess, assignment: Assignment, named: int | None
) -> TasklaneError | None:
    folder_id = named
    try:
        folder_id = _folder_guard(backends, access, assignment.task_id, named)
        backends.generic_tasks.assign(
            access.tenant, assignment.task_id, folder_id, assignment.user, iso(backends.clock.now())
        )
    except NotFound as error:
        return error
    except Refused as refused:
        current = refused.current
        if current is None or not access.allows(current.folder_id) or folder_id not in (None, current.folder_id):
            return _not_found(assignment.task_id)
        if current.status is TaskStatus.COMPLETED:
            return Conflict(f"Task {assignment.task_id} is completed")
        if current.status is TaskStatus.PENDING:
            return Conflict(f"Task {assignment.task_id} is already assigned to {current.assigned_to}")
        return _not_found(assignment.task_id)
    return None


def assign(
    backends: Backends, access: FolderAccess, assignments: Sequence[Assignment], ref: FolderRef = ANY_FOLDER
) -> list[AssignmentFailure]:
    """Assign each task that is Unassigned; the failures, one per task that was not."""
    named = folders.named(backends, access, ref)
    failures = []
    for assignment in assignments:
        error = _assign_one(backends, access, assignment, named)
        if error is not None:
            failures.append(AssignmentFailure(task_id=assignment.task_id, error=error))
    return failures


def page(backends: Backends, access: FolderAccess, ref: FolderRef, query: ListQuery) -> Page:
    if query.skip > MAX_SKIP:
        raise BadRequest(
            f"$skip may be at most {MAX_SKIP}; page deeper with $filter=Id gt <last id>",
            [problem("$skip", f"more than {MAX_SKIP}")],
        )
    if not 0 <= query.top <= MAX_TOP:
        raise BadRequest(f"$top must be between 0 and {MAX_TOP}", [problem("$top", "out of range")])
    folder = folders.resolve(backends, access, ref)
    try:
        items = backends.generic_tasks.page(access.tenant, folder.id, query) if query.top else []
        count = backends.generic_tasks.count(access.tenant, folder.id, query) if query.count else None
    except TooBroad as error:
        what = "$count=true" if query.count else "$filter"
        raise BadRequest(
            f"Answering {what} here would read more than {MAX_EVALUATED} of this folder's tasks; "
            "narrow it with an Id range ($filter=Id gt <id> and Id le <id>)" + (" or omit $count" if query.count else ""),
            [problem(what, "too broad", "too_broad")],
        ) from error
    return Page(items=items, count=count)
