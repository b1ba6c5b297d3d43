"""Domain errors: what went wrong, with every problem located, in no family's wire format.

Each error carries the HTTP status its kind means and a stable snake_case code; each API family
renders them in its own body, in one place (the document family: `tasklane.api.documents.errors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Problem:
    """One located problem of a request: `tasks[3].params`, what is wrong, and a machine-readable type."""

    loc: str
    message: str
    type: str = "invalid"


def problem(loc: str, message: str, type_: str = "invalid") -> Problem:
    return Problem(loc=loc, message=message, type=type_)


class TasklaneError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])


class BadRequest(TasklaneError):
    status = 400
    code = "bad_request"


class MissingReference(BadRequest):
    """400: the body names something (a catalog) that does not exist where it must."""

    code = "missing_reference"


class Unauthorized(TasklaneError):
    status = 401
    code = "unauthorized"


class LicenseExceeded(TasklaneError):
    """402: the tenant's monthly license units would be exceeded; retrying will not help this month."""

    status = 402
    code = "license_exceeded"


class Forbidden(TasklaneError):
    """403: the credentials are good but lack the scope the route declares."""

    status = 403
    code = "forbidden"


class NotFound(TasklaneError):
    status = 404
    code = "not_found"


class FolderForbidden(Forbidden):
    """403: the caller's token does not reach the folder the request names."""

    code = "folder_forbidden"


class FolderNotFound(NotFound):
    code = "folder_not_found"


class Conflict(TasklaneError):
    """409: the request is well formed but the resource's current state refuses it."""

    status = 409
    code = "conflict"


class NameTaken(Conflict):
    code = "name_taken"


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
    """503: a backend is busy or failed in a way a retry can cure, and nothing was half-written, so
    the same request may succeed after `retry_after` seconds (answered as Retry-After). A failure a
    retry cannot cure (refused access, a malformed call, a bug) is never this error: it is a 500."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, problems: list[Problem] | None = None, retry_after: int = 1) -> None:
        super().__init__(message, problems)
        self.retry_after = retry_after
