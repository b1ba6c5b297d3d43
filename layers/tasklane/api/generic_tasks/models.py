"""Request and response bodies of the GenericTasks family, as Orchestrator spells them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tasklane.domain.generic_task_records import TYPE_BY_NUMBER, Priority, TaskType

MAX_TITLE_CHARS = 512
MAX_TAG_CHARS = 128
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 500
MAX_ACTION_CHARS = 128
MAX_USER_CHARS = 256
MAX_ASSIGNMENTS = 500



class Request(BaseModel):
    # Orchestrator clients send fields tasklane does not use (tags, Encrypted, ...): ignored.
    model_config = ConfigDict(extra="ignore")


def _accepted_types() -> str:
    return ", ".join(f"{kind.value} ({kind.number})" for kind in TaskType)


class DocumentValidationData(BaseModel):
    """The document fields a DocumentValidationTask's data must hold; other fields are kept."""

    model_config = ConfigDict(extra="allow")

    BucketId: StrictInt
    DocumentId: StrictStr
    DocumentPath: StrictStr
    EncodedDocumentPath: StrictStr
    TextPath: StrictStr
    DocumentObjectModelPath: StrictStr
    TaxonomyPath: StrictStr
    AutomaticExtractionResultsPath: StrictStr
    ValidatedExtractionResultsPath: StrictStr
    Version: StrictStr


class CreateTaskRequest(Request):
    type: TaskType
    title: StrictStr = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    priority: Priority = Priority.MEDIUM
    data: dict[str, Any] = {}
    taskCatalogName: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    externalTag: StrictStr | None = Field(default=None, max_length=MAX_TAG_CHARS)
    taskSchemaKey: UUID | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @field_validator("type", mode="before")
    @classmethod
    def _type_by_name_or_number(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value in TYPE_BY_NUMBER:
            return TYPE_BY_NUMBER[value]
        if isinstance(value, str) and value in {kind.value for kind in TaskType}:
            return value
        raise PydanticCustomError(
            "task_type", "type must be one of {accepted}", {"accepted": _accepted_types()}
        )

    @field_validator("title")
    @classmethod
    def _title_has_text(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank", "title must not be blank")
        return value

    @model_validator(mode="after")
    def _form_tasks_carry_their_schema(self) -> CreateTaskRequest:
        # A DocumentValidationTask's data is checked by the caller (DocumentValidationData), so that
        # its problems are located under `data`.
        if self.type is TaskType.QUICK_FORM and (self.taskSchemaKey is None or self.schema_ is None):
            raise PydanticCustomError("quick_form", "a QuickFormTask needs taskSchemaKey (a GUID) and schema (an object)")
        return self


class CompleteTaskRequest(Request):
    taskId: StrictInt = Field(ge=1)
    data: dict[str, Any] | None = None
    action: StrictStr | None = Field(default=None, max_length=MAX_ACTION_CHARS)


class TaskAssignment(Request):
    TaskId: StrictInt = Field(ge=1, validation_alias=AliasChoices("TaskId", "taskId"))
    UserNameOrEmail: StrictStr = Field(
        min_length=1, max_length=MAX_USER_CHARS, validation_alias=AliasChoices("UserNameOrEmail", "userNameOrEmail")
    )


class AssignTasksRequest(Request):
    taskAssignments: list[TaskAssignment] = Field(
        min_length=1, max_length=MAX_ASSIGNMENTS, validation_alias=AliasChoices("taskAssignments", "TaskAssignments")
    )
    assignmentCriteria: StrictStr | None = None

    @field_validator("assignmentCriteria")
    @classmethod
    def _single_user_only(cls, value: str | None) -> str | None:
        if value not in (None, "SingleUser"):
            raise PydanticCustomError("assignment_criteria", "assignmentCriteria must be SingleUser")
        return value


class CreateTaskCatalogRequest(Request):
    Name: StrictStr = Field(min_length=1, max_length=MAX_NAME_CHARS)
    Description: StrictStr = Field(default="", max_length=MAX_DESCRIPTION_CHARS)


class CreateFolderRequest(Request):
    DisplayName: StrictStr = Field(min_length=1, max_length=MAX_NAME_CHARS)
    ParentId: StrictInt | None = Field(default=None, ge=1)


class AssignedUser(BaseModel):
    userName: str
    emailAddress: str | None
    displayName: str


class GenericTaskBody(BaseModel):
    """CreateTask's 201: the seed's fields first, then what Orchestrator's fuller shape adds."""

    status: int
    data: dict[str, Any]
    action: str | None
    externalTag: str | None
    organizationUnitId: int
    id: int
    key: str
    title: str
    type: str
    priority: str
    creationTime: str


class GenericTaskDataBody(GenericTaskBody):
    """GetTaskDataById / GetTaskDataByKey: Orchestrator's fuller task shape."""

    taskCatalogName: str | None
    assignedToUserId: int | None
    assignedToUser: AssignedUser | None
    lastAssignedTime: str | None
    completionTime: str | None
    lastModificationTime: str
    creatorUserId: int | None
    tags: list[str]


class QuickFormTaskDataBody(GenericTaskDataBody):
    """A QuickFormTask answers its schema beside its data."""

    model_config = ConfigDict(serialize_by_alias=True)

    taskSchemaKey: str | None
    schema_: dict[str, Any] | None = Field(serialization_alias="schema")


class ODataUser(BaseModel):
    UserName: str
    EmailAddress: str | None
    DisplayName: str


class ODataTask(BaseModel):
    Title: str
    Type: str
    Priority: str
    Status: str
    CreationTime: str
    TaskCatalogName: str | None
    OrganizationUnitId: int
    IsCompleted: bool
    Id: int
    Key: str
    ExternalTag: str | None
    AssignedToUser: ODataUser | None
    LastAssignedTime: str | None
    CompletionTime: str | None
    LastModificationTime: str


class ODataTaskCatalog(BaseModel):
    Name: str
    Description: str
    LastModificationTime: str
    Id: int


class ODataFolder(BaseModel):
    Id: int
    Key: str
    DisplayName: str
    FullyQualifiedName: str
    ParentId: int | None


class AssignmentFailureBody(BaseModel):
    TaskId: int
    ErrorCode: int
    ErrorMessage: str


class ODataEnvelope(BaseModel):
    """`{"@odata.context", "@odata.count", "value"}`; the count only when $count=true asked for it."""

    context: str
    count: int | None = None
    value: list[Any]

    @model_serializer(mode="wrap")
    def _odata_names(self, handler: Any) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        envelope: dict[str, Any] = {"@odata.context": dumped["context"]}
        if self.count is not None:
            envelope["@odata.count"] = self.count
        envelope["value"] = dumped["value"]
        return envelope


class AssignTasksResponse(BaseModel):
    value: list[AssignmentFailureBody]

