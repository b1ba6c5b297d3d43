"""The GenericTasks family's error body, Orchestrator's: `{"message", "errorCode", "traceId"}`.

errorCode: 1000 invalid request (bad body, OData option, or a state that refuses the call),
1001 name already used, 1002 not found, 1100 folder missing or not accessible. The trace id is
API Gateway's request id, which every log line of the request carries as its correlation id.
"""

from __future__ import annotations

from pydantic import BaseModel

from tasklane.api.http import request_id
from tasklane.domain.errors import TasklaneError

INVALID_REQUEST = 1000
NAME_TAKEN = 1001
NOT_FOUND = 1002
FOLDER_UNAVAILABLE = 1100
_CODES = {
    "name_taken": NAME_TAKEN,
    "not_found": NOT_FOUND,
    "missing_reference": NOT_FOUND,
    "folder_not_found": FOLDER_UNAVAILABLE,
    "folder_forbidden": FOLDER_UNAVAILABLE,
}
MAX_LISTED_PROBLEMS = 20


class ErrorBody(BaseModel):
    message: str
    errorCode: int
    traceId: str


def error_code(error: TasklaneError) -> int:
    return _CODES.get(error.code, INVALID_REQUEST)


def message_of(error: TasklaneError) -> str:
    """The message, naming every located problem (Orchestrator's body has no list of its own)."""
    if len(error.problems) <= 1:
        return error.message
    listed = "; ".join(f"{p.loc}: {p.message}" for p in error.problems[:MAX_LISTED_PROBLEMS])
    more = len(error.problems) - MAX_LISTED_PROBLEMS
    return f"Invalid request: {listed}" + (f" (and {more} more)" if more > 0 else "")


def render(error: TasklaneError) -> tuple[int, ErrorBody]:
    return error.status, ErrorBody(message=message_of(error), errorCode=error_code(error), traceId=request_id())


def internal(request_id_: str) -> ErrorBody:
    return ErrorBody(message=f"Internal error (request {request_id_})", errorCode=INVALID_REQUEST, traceId=request_id_)


def not_found() -> ErrorBody:
    return ErrorBody(message="Not Found", errorCode=NOT_FOUND, traceId=request_id())
