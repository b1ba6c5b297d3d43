"""Client JSON, parsed so that whatever passes can be stored, queued and parsed again anywhere."""

from __future__ import annotations

import json
import math
from typing import Any

from tasklane.domain.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, problem

# Every JSON document a client sends is read back later by other code: the worker's message parser
# (pydantic's, which stops at about 200 levels), json.dumps, DynamoDB. 64 levels leave ample room.
MAX_JSON_DEPTH = 64


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | bytearray, where: str) -> Any:
    """Parse a client's JSON; what passes can be stored, queued and parsed again anywhere."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError as error:
        raise BadRequest(
            f"{where} nests too deeply",
            [problem(where, f"JSON may nest at most {MAX_JSON_DEPTH} levels", "json_too_deep")],
        ) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"{where} is not valid JSON", [problem(where, str(error), "json_invalid")]) from error
    found = json_problem(value)
    if found is not None:
        loc, message, type_ = found
        raise BadRequest(f"{where} is not acceptable JSON: {message}", [problem(where + loc, message, type_)])
    return value


def object_body(raw: bytes, content_type: str | None, max_bytes: int) -> dict[str, Any]:
    """A JSON-only family's request body: at most `max_bytes`, sent as JSON, an object."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes")
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {kind or '(none)'} is not supported: send application/json")
    data = loads(raw, "body")
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object", [problem("body", "expected an object", "type")])
    return data


def json_problem(value: Any) -> tuple[str, str, str] | None:
    """(location, message, type) of the first value nesting past MAX_JSON_DEPTH or holding a string that
    is not valid Unicode (a lone surrogate such as "\\ud800", which no UTF-8 encoder can write)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, loc, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return loc, f"JSON may nest at most {MAX_JSON_DEPTH} levels", "json_too_deep"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not _encodable(key):
                        return loc, "a key is not valid Unicode (lone surrogate)", "json_invalid_unicode"
                    stack.append((child, f"{loc}.{key[:40]}", depth + 1))
            else:
                stack.extend((child, f"{loc}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str) and not _encodable(item):
            return loc, "a string is not valid Unicode (lone surrogate)", "json_invalid_unicode"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
