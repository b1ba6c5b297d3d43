"""The document family's error body: every problem listed with its location, the request id on a 500."""

from __future__ import annotations

from pydantic import BaseModel

from tasklane.domain.errors import TasklaneError


class ErrorDetail(BaseModel):
    loc: str
    message: str
    type: str = "invalid"


class ErrorBody(BaseModel):
    """`{"message", "code", "errors": [{"loc", "message", "type"}]}` on every 4xx and 5xx."""

    message: str
    code: str
    errors: list[ErrorDetail] = []


def render(error: TasklaneError) -> tuple[int, ErrorBody]:
    errors = [ErrorDetail(loc=p.loc, message=p.message, type=p.type) for p in error.problems]
    return error.status, ErrorBody(message=error.message, code=error.code, errors=errors)


def internal(request_id: str) -> ErrorBody:
    return ErrorBody(message=f"Internal error (request {request_id})", code="internal_error")


def not_found() -> ErrorBody:
    return ErrorBody(message="Not Found", code="not_found")
