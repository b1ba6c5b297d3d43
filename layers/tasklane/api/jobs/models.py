"""basicSync's body as WorkfloPlus spells it. Every model keeps fields it does not name: clients are
newer than servers, and what they send is stored and answered back as sent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictBool, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from tasklane.domain.job_records import RESERVED_IDS, JobStatus, readable_moment


def _timestamp(value: Any) -> Any:
    if isinstance(value, str) and not readable_moment(value):
        raise PydanticCustomError("timestamp", "must be an ISO 8601 timestamp, such as 2021-10-01T12:48:13.824Z")
    return value


def _not_reserved(value: Any) -> Any:
    if value in RESERVED_IDS:
        raise PydanticCustomError("reserved", "{value} names a route and cannot be a clientJobId", {"value": value})
    return value

CLIENT_JOB_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_TEXT = 1000
Text = StrictStr | None


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


def _status(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value in {status.value for status in JobStatus}):
        return value
    raise PydanticCustomError(
        "job_status", "status must be one of {accepted}", {"accepted": ", ".join(s.value for s in JobStatus)}
    )


class JobMetadata(Open):
    clientJobId: StrictStr = Field(pattern=CLIENT_JOB_ID)
    workflowId: Text = Field(default=None, max_length=200)
    workflowVersionId: Text = None
    jobTitle: Text = Field(default=None, max_length=MAX_TEXT)
    metadata: dict[str, StrictStr] | None = None
    created: Text = None
    updated: Text = None
    modified: Text = None
    status: Text = None
    userId: Text = None
    currentStep: Any = None
    abandonReason: Text = Field(default=None, max_length=MAX_TEXT)
    username: Text = None
    workflowName: Text = None

    _status_is_known = field_validator("status", mode="before")(_status)
    _updated_is_a_time = field_validator("updated")(_timestamp)
    _id_is_not_a_route = field_validator("clientJobId")(_not_reserved)


class SingleStep(Open):
    values: list[Any] | None = None
    valueResourceIds: list[StrictStr] | None = None
    uniqueStepId: StrictStr = Field(min_length=1, max_length=200)
    previousUniqueStepId: Text = None
    userId: Text = None
    userName: Text = None
    deviceId: Text = None
    stepId: Text = None
    stepNumber: StrictInt | None = None
    stepTitle: Text = None
    stepDescription: Text = None
    stepType: Text = None
    connectionType: Text = None
    started: Text = None
    completed: Text = None
    updated: Text = None
    cancelled: Text = None
    timeEvents: Any = None
    note: Text = None
    noteResourceFilenames: list[StrictStr] | None = None
    coordinates: Any = None
    parentStepId: Text = None
    parentUniqueStepId: Text = None
    parentStepTitle: Text = None
    parentStepDescription: Text = None
    metadata: dict[str, Any] | None = None

    _updated_is_a_time = field_validator("updated")(_timestamp)


class SyncedStep(Open):
    singleStep: SingleStep
    reportStep: Any = None


class BasicSyncRequest(Open):
    metadata: JobMetadata
    completedSteps: list[SyncedStep] | None = None
    cancelledSteps: list[SyncedStep] | None = None
    team: Text = Field(default=None, max_length=200)
    hierarchyStack: Any = None
    packetIds: Any = None
    jobExclusion: Any = None
    excluded: StrictBool | None = None


class MetadataPatch(JobMetadata):
    """Metadata fields to replace: those of basicSync's metadata, each checked alike, all optional."""

    clientJobId: StrictStr | None = None  # type: ignore[assignment]


class UpdateJobRequest(Open):
    """POST /jobs/v1/{clientJobId}: metadata fields to replace."""

    metadata: MetadataPatch


class AbortJobRequest(Open):
    abandonReason: Text = Field(default=None, max_length=MAX_TEXT)


class ResourceUrl(BaseModel):
    url: str
    expiresInSeconds: int


class UploadForm(BaseModel):
    """POST `fields` and then the file (a part named `file`) as multipart/form-data to `url`."""

    url: str
    fields: dict[str, str]
    maxBytes: int
    expiresInSeconds: int


class StringMap(RootModel[dict[str, StrictStr]]):
    """POST /jobs/v1/{clientJobId}/metadata: keys and values are strings."""
