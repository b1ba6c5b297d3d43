"""The two body shapes of POST /v1/task and /v1/batch, read into the domain's submissions.

JSON names a stored template by id. Multipart embeds the DAP: a `template` file part, a `data`
JSON part (the same fields, minus `template`), and `param.<name>` JSON parts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from tasklane.api import strict_json
from tasklane.api.documents.models import (
    BatchData,
    PostBatchRequest,
    PostTaskRequest,
    SalesforceIntegration,
    TaskData,
)
from tasklane.api.multipart import Part, parse_multipart
from tasklane.api.validation import parse
from tasklane.domain.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, problem
from tasklane.domain.submissions import (
    BatchSubmission,
    BatchTask,
    Integration,
    PartLink,
    TaskSubmission,
    TemplateSource,
)

# A Lambda invocation carries at most 6 MB, and API Gateway base64-encodes binary bodies (4/3 larger),
# so about 4.4 MB is the most that can reach a handler; refuse above 4 MiB with our own 413.
MAX_BODY_BYTES = 4 * 1024 * 1024
PARAM_PREFIX = "param."


@dataclass
class RequestBody:
    """A parsed POST body: the JSON data, the embedded DAP if one was posted, the `param.<name>` parts."""

    data: dict[str, Any]
    dap: bytes | None = None
    parts: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What makes two requests the same: the parsed data, parts and DAP, not the multipart boundary."""
        canonical = json.dumps(
            {
                "data": self.data,
                "parts": self.parts,
                "dap": hashlib.sha256(self.dap).hexdigest() if self.dap is not None else None,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def read_body(body: bytes, content_type: str | None) -> RequestBody:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes")
    kind = media_type(content_type)
    if kind == "application/json" or kind.endswith("+json"):
        data = strict_json.loads(body, "body")
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object", [problem("body", "expected an object", "type")])
        return RequestBody(data=data)
    if kind == "multipart/form-data":
        return _from_parts(parse_multipart(body, content_type or ""))
    raise UnsupportedMediaType(
        f"Content-Type {kind or '(none)'} is not supported: send application/json or multipart/form-data"
    )


def _from_parts(parts: list[Part]) -> RequestBody:
    result = RequestBody(data={})
    seen: set[str] = set()
    problems = []
    for part in parts:
        if part.name in seen:
            problems.append(problem(part.name, "the part is posted more than once", "duplicate"))
            continue
        seen.add(part.name)
        if part.name == "template":
            result.dap = bytes(part.data)
        elif part.name == "data":
            value = strict_json.loads(part.data, "data")
            if not isinstance(value, dict):
                problems.append(problem("data", "the data part must be a JSON object", "type"))
            else:
                result.data = value
        elif part.name.startswith(PARAM_PREFIX) and len(part.name) > len(PARAM_PREFIX):
            result.parts[part.name[len(PARAM_PREFIX) :]] = strict_json.loads(part.data, part.name)
        else:
            problems.append(
                problem(part.name, "unknown part: expected template, data or param.<name>", "unknown_part")
            )
    if result.dap is None:
        problems.append(problem("template", "a multipart request must carry the DAP as a 'template' file part", "missing"))
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
        raise BadRequest("No 'template' part", [problem("template", "post the DAP as a 'template' file part", "missing")])
    raise UnsupportedMediaType(
        f"Content-Type {kind or '(none)'} is not supported: send application/zip or multipart/form-data"
    )


Data = TypeVar("Data", bound=BaseModel)


def _request_data(body: RequestBody, by_reference: type[Data], embedded: type[Data]) -> tuple[Data, TemplateSource]:
    """The request data and where its template comes from: the JSON body names a stored template; the
    multipart `data` part goes with the DAP posted beside it."""
    if body.dap is None:
        data = parse(by_reference, body.data)
        return data, TemplateSource(reference=str(body.data["template"]))
    return parse(embedded, body.data, "data"), TemplateSource(embedded=body.dap)


def _integration(wire: SalesforceIntegration | None) -> Integration | None:
    if wire is None:
        return None
    return Integration(type=wire.type, session_id=wire.sessionID, server_url=wire.serverURL)


def task_submission(body: RequestBody) -> TaskSubmission:
    """In POST /v1/task every `param.<name>` part becomes `params[name]`."""
    data, source = _request_data(body, PostTaskRequest, TaskData)
    return TaskSubmission(template=source, params={**data.params, **body.parts}, integration=_integration(data.integration))


def batch_submission(body: RequestBody) -> BatchSubmission:
    data, source = _request_data(body, PostBatchRequest, BatchData)
    tasks = [
        BatchTask(params=task.params, links=[PartLink(link.partName, link.paramName) for link in task.partParams])
        for task in data.tasks
    ]
    return BatchSubmission(template=source, tasks=tasks, parts=body.parts, integration=_integration(data.integration))


def with_results(value: str | None) -> bool:
    """GET /v1/batch/{batchId}'s `results` query option: `true` lists each task's results too."""
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequest("Invalid query option", [problem("query.results", "must be true or false")])
