"""Domain errors. Each carries its HTTP status; `tasklane.api.http` is the one place that maps them."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError


class ErrorDetail(BaseModel):
    loc: str
    message: str
    type: str = "invalid"


class ErrorBody(BaseModel):
    """The one error shape every endpoint answers with."""

    message: str
    code: str
    errors: list[ErrorDetail] = []


class TasklaneError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, errors: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []

    def body(self) -> ErrorBody:
        return ErrorBody(message=self.message, code=self.code, errors=self.errors)


class BadRequest(TasklaneError):
    status = 400
    code = "bad_request"


class Unauthorized(TasklaneError):
    status = 401
    code = "unauthorized"


class NotFound(TasklaneError):
    status = 404
    code = "not_found"


class LicenseExceeded(TasklaneError):
    """402: the tenant's monthly license units would be exceeded; retrying will not help this month."""

    status = 402
    code = "license_exceeded"


class IdempotencyInProgress(TasklaneError):
    status = 409
    code = "idempotency_in_progress"


class PayloadTooLarge(TasklaneError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(TasklaneError):
    status = 415
    code = "unsupported_media_type"


class IdempotencyKeyReused(TasklaneError):
    status = 422
    code = "idempotency_key_reused"


class ServiceUnavailable(TasklaneError):
    """A backend failed part-way; the request was rolled back and may be retried."""

    status = 503
    code = "service_unavailable"


def _loc(parts: tuple[int | str, ...], prefix: str) -> str:
    text = prefix
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def validation_details(error: ValidationError, prefix: str = "") -> list[ErrorDetail]:
    """pydantic's errors as readable locations: `tasks[3].params`."""
    return [
        ErrorDetail(loc=_loc(tuple(e["loc"]), prefix), message=e["msg"], type=e["type"])
        for e in error.errors(include_url=False)
    ]


def bad_request_from(error: ValidationError, prefix: str = "", what: str = "request") -> BadRequest:
    details = validation_details(error, prefix)
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return BadRequest(f"Invalid {what}: {details[0].loc}: {details[0].message}{more}", details)


def detail(loc: str, message: str, type_: str = "invalid") -> ErrorDetail:
    return ErrorDetail(loc=loc, message=message, type=type_)




Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], data: Any, prefix: str = "") -> Model:
    """Validate with pydantic; failures become one 400 naming every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise bad_request_from(error, prefix) from error
