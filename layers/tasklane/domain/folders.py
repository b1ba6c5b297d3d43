"""Folders: where GenericTasks and their catalogs live, and who may reach them.

Every tenant has the top-level folder `Shared` (id 1) without creating it; others are created at
the top level or under another folder, and named by id, by fully qualified name (`Finance/Invoices`)
or by key. A token with a `folders` claim reaches only those folders: naming another is refused
(403, whether or not it exists, when it is named by path or key), and a task or catalog in another
reads as absent (404), so a caller cannot learn what it may not see.
"""

from __future__ import annotations

import uuid

from tasklane.domain.errors import BadRequest, FolderForbidden, FolderNotFound, NameTaken, problem
from tasklane.domain.generic_task_records import (
    SHARED_FOLDER_ID,
    SHARED_FOLDER_NAME,
    Folder,
    FolderAccess,
    FolderRef,
    Page,
)
from tasklane.storage import Backends
from tasklane.storage.folders import FolderNameTaken

# Folder keys are GUIDs; the default folder's is derived from the tenant, so it never needs storing.
_SHARED_KEYS = uuid.UUID("6f1e3c52-6c3e-4b0e-9d2a-5a7c1f0e8b11")
MAX_NAME_CHARS = 100
MAX_DEPTH = 10
# A folder's case-folded fully qualified name is part of a DynamoDB key (2,048 bytes at most).
MAX_PATH_BYTES = 1000
# Folders are listed whole (they are few and made by people); this keeps that bounded.
MAX_FOLDERS = 10_000


def shared(tenant: str) -> Folder:
    return Folder(
        id=SHARED_FOLDER_ID,
        key=str(uuid.uuid5(_SHARED_KEYS, tenant)),
        display_name=SHARED_FOLDER_NAME,
        fully_qualified_name=SHARED_FOLDER_NAME,
    )


def _find(backends: Backends, tenant: str, ref: FolderRef) -> Folder | None:
    default = shared(tenant)
    if ref.id is not None:
        return default if ref.id == default.id else backends.folders.by_id(tenant, ref.id)
    if ref.path is not None:
        path = ref.path.strip("/")
        if path.casefold() == default.fully_qualified_name.casefold():
            return default
        if len(path.casefold().encode()) > MAX_PATH_BYTES:
            return None
        return backends.folders.by_path(tenant, path)
    if ref.key is not None:
        return default if ref.key.lower() == default.key else backends.folders.by_key(tenant, ref.key)
    return default


def resolve(backends: Backends, access: FolderAccess, ref: FolderRef) -> Folder:
    """The folder a request names (its default when it names none), if the caller may reach it."""
    if ref.id is not None and not access.allows(ref.id):
        raise FolderForbidden(f"You do not have access to folder {ref.id}")
    folder = _find(backends, access.tenant, ref)
    if folder is None and access.folders is not None and ref.id is None:
        raise FolderForbidden("You do not have access to this folder")
    if folder is None:
        raise FolderNotFound("The folder does not exist or you do not have access to it")
    if not access.allows(folder.id):
        raise FolderForbidden(f"You do not have access to folder {folder.fully_qualified_name}")
    return folder


def named(backends: Backends, access: FolderAccess, ref: FolderRef) -> int | None:
    """The id of the folder a request names, if it names one (checked as `resolve` does); None if not.
    Calls that find a task by id take a folder header as a restriction, not as a requirement."""
    if ref == FolderRef():
        return None
    return resolve(backends, access, ref).id


def create(backends: Backends, access: FolderAccess, display_name: str, parent_id: int | None) -> Folder:
    name = display_name.strip()
    if not name or "/" in name or "\\" in name or any(ord(c) < 32 for c in name):
        raise BadRequest(
            "DisplayName must be a non-empty name without '/', '\\' or control characters",
            [problem("DisplayName", "not a valid folder name")],
        )
    if len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"DisplayName may be at most {MAX_NAME_CHARS} characters", [problem("DisplayName", "too long")])
    parent = resolve(backends, access, FolderRef(id=parent_id)) if parent_id is not None else None
    if access.folders is not None and parent is None:
        raise FolderForbidden("A token limited to folders cannot create top-level folders")
    if parent is not None and parent.fully_qualified_name.count("/") + 1 >= MAX_DEPTH:
        raise BadRequest(f"Folders nest at most {MAX_DEPTH} levels", [problem("ParentId", "too deep")])
    path = f"{parent.fully_qualified_name}/{name}" if parent is not None else name
    if len(path.casefold().encode()) > MAX_PATH_BYTES:
        raise BadRequest(
            f"A folder's fully qualified name may be at most {MAX_PATH_BYTES} bytes (UTF-8)",
            [problem("DisplayName", "the fully qualified name is too long")],
        )
    if path.casefold() == SHARED_FOLDER_NAME.casefold():
        raise NameTaken(f"A folder named '{SHARED_FOLDER_NAME}' already exists")
    folder_id = backends.counters.next(access.tenant, "folder", start=SHARED_FOLDER_ID)
    if folder_id > SHARED_FOLDER_ID + MAX_FOLDERS:
        raise BadRequest(f"A tenant may create at most {MAX_FOLDERS} folders", [problem("DisplayName", "too many folders")])
    folder = Folder(
        id=folder_id,
        key=str(uuid.uuid4()),
        display_name=name,
        fully_qualified_name=path,
        parent_id=parent.id if parent is not None else None,
    )
    try:
        backends.folders.create(access.tenant, folder)
    except FolderNameTaken as error:
        raise NameTaken(f"A folder named '{folder.fully_qualified_name}' already exists") from error
    return folder


def visible(backends: Backends, access: FolderAccess) -> list[Folder]:
    """The tenant's folders the caller may reach, the default folder first."""
    folders = [shared(access.tenant), *backends.folders.all(access.tenant)]
    return [folder for folder in folders if access.allows(folder.id)]


def page(backends: Backends, access: FolderAccess, skip: int, top: int, count: bool) -> Page:
    found = visible(backends, access)
    return Page(items=found[skip : skip + top], count=len(found) if count else None)
