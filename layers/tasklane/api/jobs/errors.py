"""The jobs family's error body: `{"statusCode", "message", "errors": [{"field", "message"}]}`; the
message names the first problem (with its line and column when the JSON does not parse)."""

from __future__ import annotations

from pydantic import BaseModel

from tasklane.domain.errors import TasklaneError


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    statusCode: int
    message: str
    errors: list[FieldError] = []


def render(error: TasklaneError) -> tuple[int, ErrorBody]:
    message = error.message
    if len(error.problems) == 1 and error.problems[0].message not in message:
        message = f"{message}: {error.problems[0].message}"
    problems = [FieldError(field=p.loc, message=p.message) for p in error.problems]
    return error.status, ErrorBody(statusCode=error.status, message=message, errors=problems)


def internal(request_id: str) -> ErrorBody:
    return ErrorBody(statusCode=500, message=f"Internal error (request {request_id})")


def not_found() -> ErrorBody:
    return ErrorBody(statusCode=404, message="Not Found")
