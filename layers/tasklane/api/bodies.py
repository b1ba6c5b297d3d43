"""The two body shapes of POST /v1/task and /v1/batch: JSON, or multipart with an embedded DAP.

Multipart: a `template` file part (the DAP), a `data` JSON part, and `param.<name>` JSON parts.
"""

from __future__ import annotations

import json
from typing import Any

from tasklane.api.multipart import Part, parse_multipart
from tasklane.models.api import TaskBody
from tasklane.models.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, detail

# A Lambda invocation carries at most 6 MB, and API Gateway base64-encodes binary bodies (4/3 larger),
# so about 4.4 MB is the most that can reach a handler; refuse above 4 MiB with our own 413.
MAX_BODY_BYTES = 4 * 1024 * 1024
PARAM_PREFIX = "param."


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _json(raw: bytes | bytearray, where: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"{where} is not valid JSON", [detail(where, str(error), "json_invalid")]) from error


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
