"""The two body shapes of POST /v1/task and /v1/batch: JSON, or multipart with an embedded DAP.

Multipart: a `template` file part (the DAP), a `data` JSON part, and `param.<name>` JSON parts.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tasklane.api.multipart import Part, parse_multipart
from tasklane.models.api import TaskBody
from tasklane.models.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, detail

# A Lambda invocation carries at most 6 MB, and API Gateway base64-encodes binary bodies (4/3 larger),
# so about 4.4 MB is the most that can reach a handler; refuse above 4 MiB with our own 413.
MAX_BODY_BYTES = 4 * 1024 * 1024
PARAM_PREFIX = "param."
# Every JSON document a client sends is read back later by other code: the worker's message parser
# (pydantic's, which stops at about 200 levels), json.dumps, DynamoDB. 64 levels leave ample room.
MAX_JSON_DEPTH = 64


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json(raw: bytes | bytearray, where: str) -> Any:
    """Parse a client's JSON; what passes can be stored, queued and parsed again anywhere."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError as error:
        raise BadRequest(
            f"{where} nests too deeply",
            [detail(where, f"JSON may nest at most {MAX_JSON_DEPTH} levels", "json_too_deep")],
        ) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"{where} is not valid JSON", [detail(where, str(error), "json_invalid")]) from error
    problem = json_problem(value)
    if problem is not None:
        loc, message, type_ = problem
        raise BadRequest(f"{where} is not acceptable JSON: {message}", [detail(where + loc, message, type_)])
    return value


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


def read_body(body: bytes, content_type: str | None) -> TaskBody:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes")
    kind = media_type(content_type)
    if kind == "application/json" or kind.endswith("+json"):
        data = _json(body, "body")
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object", [detail("body", "expected an object", "type")])
        return TaskBody(data=data)
    if kind == "multipart/form-data":
        return _from_parts(parse_multipart(body, content_type or ""))
    raise UnsupportedMediaType(
        f"Content-Type {kind or '(none)'} is not supported: send application/json or multipart/form-data"
    )


def _from_parts(parts: list[Part]) -> TaskBody:
    result = TaskBody(data={})
    seen: set[str] = set()
    problems = []
    for part in parts:
        if part.name in seen:
            problems.append(detail(part.name, "the part is posted more than once", "duplicate"))
            continue
        seen.add(part.name)
        if part.name == "template":
            result.dap = bytes(part.data)
        elif part.name == "data":
            value = _json(part.data, "data")
            if not isinstance(value, dict):
                problems.append(detail("data", "the data part must be a JSON object", "type"))
            else:
                result.data = value
        elif part.name.startswith(PARAM_PREFIX) and len(part.name) > len(PARAM_PREFIX):
            result.parts[part.name[len(PARAM_PREFIX) :]] = _json(part.data, part.name)
        else:
            problems.append(
                detail(part.name, "unknown part: expected template, data or param.<name>", "unknown_part")
            )
    if result.dap is None:
        problems.append(detail("template", "a multipart request must carry the DAP as a 'template' file part", "missing"))
    if problems:
        raise BadRequest("Invalid multipart request", problems)
    return result


def read_dap(body: bytes, content_type: str | None) -> bytes:
    """POST /v1/templates: a raw zip body, or a multipart `template` file part."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes")
    kind = media_type(content_type)
    if kind in {"application/zip", "application/octet-stream", "application/x-zip-compressed"}:
        return body
    if kind == "multipart/form-data":
        for part in parse_multipart(body, content_type or ""):
            if part.name == "template":
                return bytes(part.data)
        raise BadRequest("No 'template' part", [detail("template", "post the DAP as a 'template' file part", "missing")])
    raise UnsupportedMediaType(
        f"Content-Type {kind or '(none)'} is not supported: send application/zip or multipart/form-data"
    )
