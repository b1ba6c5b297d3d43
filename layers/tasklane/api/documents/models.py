"""Request and response bodies of the document family, field names as Documill Dynamo spells them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_BATCH_TASKS = 1000
Params = dict[str, Any]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SalesforceIntegration(Strict):
    type: Literal["Salesforce"]
    sessionID: str = Field(min_length=1, repr=False)  # a credential: never in a log line
    serverURL: str = Field(min_length=1)


Integration = Annotated[SalesforceIntegration, Field(discriminator="type")]


class TaskData(Strict):
    """The multipart `data` part of POST /v1/task."""

    params: Params = {}
    integration: Integration | None = None


class PostTaskRequest(TaskData):
    template: str = Field(min_length=1, max_length=200)


class PartParam(Strict):
    partName: str = Field(min_length=1)
    paramName: str = Field(min_length=1)


class BatchTaskSpec(Strict):
    params: Params
    partParams: list[PartParam] = []


class BatchData(Strict):
    """The multipart `data` part of POST /v1/batch."""

    tasks: list[BatchTaskSpec] = Field(min_length=1, max_length=MAX_BATCH_TASKS)
    integration: Integration | None = None

    @field_validator("tasks", mode="before")
    @classmethod
    def _within_limit(cls, value: Any) -> Any:
        if isinstance(value, list) and not 1 <= len(value) <= MAX_BATCH_TASKS:
            raise PydanticCustomError(
                "batch_size", "a batch holds 1 to {limit} tasks; got {count}", {"limit": "1,000", "count": len(value)}
            )
        return value

    @model_validator(mode="after")
    def _salesforce_needs_record_ids(self) -> BatchData:
        if self.integration is not None and self.integration.type == "Salesforce":
            missing = [i for i, t in enumerate(self.tasks) if "id" not in t.params]
            if missing:
                raise ValueError(
                    f"tasks {missing[:10]} lack params.id, which the Salesforce integration requires"
                )
        return self


class PostBatchRequest(BatchData):
    template: str = Field(min_length=1, max_length=200)


class TemplateInfo(BaseModel):
    id: str
    name: str
    sha256: str
    size: int
    uploadedDateTime: str


class ApiUsage(BaseModel):
    term: int
    termMax: int


class Usage(BaseModel):
    api: ApiUsage


class TaskAccepted(BaseModel):
    taskID: str
    message: str = "Success"
    usage: Usage


class BatchAccepted(BaseModel):
    id: str
    tasks: list[str]
    message: str = "Success"
    licenseUsage: int


class ResultLink(BaseModel):
    id: str
    url: str


class LogEntryOut(BaseModel):
    level: str
    message: str


class TaskStatus(BaseModel):
    completed: bool
    errors: bool
    statusMessage: str
    statusDescription: str
    startDateTime: str | None
    endDateTime: str | None
    logs: list[LogEntryOut]
    log: list[LogEntryOut]
    results: list[str]
    resultList: list[ResultLink]


class BatchTaskSummary(BaseModel):
    id: str
    completed: bool
    errors: bool


class BatchTaskResults(BatchTaskSummary):
    """A batch's task with its results, as GET /v1/task names them (empty until it finished): what
    GET /v1/batch/{batchId}?results=true lists, so a batch's results need no GET per task."""

    results: list[str]
    resultList: list[ResultLink]


class BatchProgress(BaseModel):
    total: int
    queued: int
    running: int
    completed: int
    failed: int


class BatchStatus(BaseModel):
    postDateTime: str
    completed: bool
    completedDateTime: str | None
    errors: bool
    statusMessage: str
    # BatchTaskResults only when asked (?results=true): Dynamo's answer has the summary alone.
    tasks: list[BatchTaskResults | BatchTaskSummary]
    progress: BatchProgress


class LicenseStatus(BaseModel):
    term: str
    used: int
    quota: int
    remaining: int
