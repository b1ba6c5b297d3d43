"""Wire models are validated with pydantic; its errors become one BadRequest naming every problem."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tasklane.domain.errors import BadRequest, Problem

Model = TypeVar("Model", bound=BaseModel)


def _loc(parts: tuple[int | str, ...], prefix: str) -> str:
    text = prefix
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def problems_of(error: ValidationError, prefix: str = "") -> list[Problem]:
    """pydantic's errors as readable locations: `tasks[3].params`."""
    return [
        Problem(loc=_loc(tuple(e["loc"]), prefix), message=e["msg"], type=e["type"])
        for e in error.errors(include_url=False)
    ]


def bad_request_from(error: ValidationError, prefix: str = "", what: str = "request") -> BadRequest:
    problems = problems_of(error, prefix)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return BadRequest(f"Invalid {what}: {problems[0].loc}: {problems[0].message}{more}", problems)


def parse(model: type[Model], data: Any, prefix: str = "") -> Model:
    """Validate with pydantic; failures become one 400 naming every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise bad_request_from(error, prefix) from error
