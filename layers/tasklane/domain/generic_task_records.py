"""The GenericTasks family's records: tasks, the folders that hold them, their catalogs, and a listing
query, in no wire format (the Orchestrator-compatible shapes live in `tasklane.api.generic_tasks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from tasklane.domain.errors import TasklaneError


class TaskType(str, Enum):
    """The kinds of task tasklane keeps; the value is Orchestrator's name, `number` its enum number."""

    EXTERNAL = "ExternalTask"
    DOCUMENT_VALIDATION = "DocumentValidationTask"
    QUICK_FORM = "QuickFormTask"

    @property
    def number(self) -> int:
        return _TYPE_NUMBERS[self]


_TYPE_NUMBERS = {TaskType.EXTERNAL: 1, TaskType.DOCUMENT_VALIDATION: 2, TaskType.QUICK_FORM: 6}
TYPE_BY_NUMBER = {number: kind for kind, number in _TYPE_NUMBERS.items()}


class Priority(str, Enum):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"


class TaskStatus(IntEnum):
    UNASSIGNED = 0
    PENDING = 1
    COMPLETED = 2

    @property
    def label(self) -> str:
        return self.name.capitalize()


# Every tenant has this folder without creating it; it is never stored.
SHARED_FOLDER_ID = 1
SHARED_FOLDER_NAME = "Shared"


@dataclass(frozen=True)
class Folder:
    id: int
    key: str
    display_name: str
    fully_qualified_name: str
    parent_id: int | None = None


@dataclass(frozen=True)
class FolderRef:
    """How a request names a folder (at most one way); all None means the tenant's default folder."""

    id: int | None = None
    path: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class FolderAccess:
    """Who asks, and which folders they may see: `folders` None means every folder of the tenant."""

    tenant: str
    principal: str = ""
    folders: frozenset[int] | None = None

    def allows(self, folder_id: int) -> bool:
        return self.folders is None or folder_id in self.folders


@dataclass(frozen=True)
class TaskCatalog:
    id: int
    folder_id: int
    name: str
    description: str
    last_modification_time: str


@dataclass(frozen=True)
class NewGenericTask:
    """What CreateTask asks for, validated by the family's wire layer."""

    type: TaskType
    title: str
    priority: Priority
    data: dict[str, Any]
    catalog: str | None = None
    external_tag: str | None = None
    schema_key: str | None = None
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class TaskSummary:
    """A task as a listing shows it: everything but its data and schema (the list index holds no more)."""

    id: int
    key: str
    folder_id: int
    type: TaskType
    title: str
    priority: Priority
    status: TaskStatus
    creation_time: str
    last_modification_time: str
    catalog: str | None = None
    external_tag: str | None = None
    assigned_to: str | None = None
    last_assigned_time: str | None = None
    completion_time: str | None = None


@dataclass(frozen=True)
class GenericTask(TaskSummary):
    """A task whole: its summary, and its data, action, form schema and creator."""

    data: dict[str, Any] = field(default_factory=dict)
    action: str | None = None
    schema_key: str | None = None
    schema: dict[str, Any] | None = None
    creator: str = ""


class Field(str, Enum):
    """What a listing can filter on with `eq` (ID also with ranges, which the index answers by key)."""

    STATUS = "status"
    TYPE = "type"
    PRIORITY = "priority"
    CATALOG = "catalog"
    EXTERNAL_TAG = "externalTag"
    IS_COMPLETED = "isCompleted"


@dataclass(frozen=True)
class Equals:
    field: Field
    value: str | int | bool | None


@dataclass(frozen=True)
class ListQuery:
    """A page of one folder's tasks: equalities joined by `and`, an id range, order, paging, count."""

    conditions: tuple[Equals, ...] = ()
    min_id: int | None = None
    max_id: int | None = None
    descending: bool = False
    top: int = 1000
    skip: int = 0
    count: bool = False


@dataclass(frozen=True)
class Page:
    items: list[Any]
    count: int | None = None


@dataclass(frozen=True)
class Assignment:
    task_id: int
    user: str


@dataclass(frozen=True)
class AssignmentFailure:
    task_id: int
    error: TasklaneError
