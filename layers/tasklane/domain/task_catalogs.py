"""Task catalogs: named groups of tasks within a folder; a name is unique per folder, ignoring case."""

from __future__ import annotations

from tasklane.domain import folders
from tasklane.domain.errors import NameTaken
from tasklane.domain.generic_task_records import FolderAccess, FolderRef, Page, TaskCatalog
from tasklane.storage import Backends
from tasklane.storage.task_catalogs import CatalogNameTaken
from tasklane.timeutil import iso


def create(backends: Backends, access: FolderAccess, ref: FolderRef, name: str, description: str) -> TaskCatalog:
    folder = folders.resolve(backends, access, ref)
    catalog = TaskCatalog(
        id=backends.counters.next(access.tenant, "catalog"),
        folder_id=folder.id,
        name=name,
        description=description,
        last_modification_time=iso(backends.clock.now()),
    )
    try:
        backends.task_catalogs.create(access.tenant, catalog)
    except CatalogNameTaken as error:
        raise NameTaken(f"A task catalog named '{name}' already exists in folder {folder.fully_qualified_name}") from error
    return catalog


def page(backends: Backends, access: FolderAccess, ref: FolderRef, skip: int, top: int, count: bool) -> Page:
    folder = folders.resolve(backends, access, ref)
    items = backends.task_catalogs.page(access.tenant, folder.id, skip, top)
    return Page(items=items, count=backends.task_catalogs.count(access.tenant, folder.id) if count else None)
