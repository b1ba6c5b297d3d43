"""The parts an OpenAPI operation is made of, and the registry that turns pydantic models into
`components/schemas`.

Every schema of a request or response body comes from the pydantic model the handler validates
with or answers through (`Schemas.model`): requests in pydantic's validation mode, answers in its
serialization mode. Only the shapes pydantic cannot state are written here: multipart bodies,
the OData envelope (a model serializer renames its fields), a job (stored as sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

REF = "#/components/schemas/{model}"
Schema = dict[str, Any]
Mode = Literal["validation", "serialization"]


class Schemas:
    """`components/schemas`, filled as operations name models; a name given twice must mean one schema."""

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {}

    def add(self, name: str, schema: Schema) -> Schema:
        known = self.components.setdefault(name, schema)
        if known != schema:
            raise ValueError(f"two different schemas are both named {name}: name one of the models apart")
        return {"$ref": REF.format(model=name)}

    def model(self, model: type[BaseModel], mode: Mode, name: str | None = None) -> Schema:
        schema = model.model_json_schema(mode=mode, ref_template=REF)
        for nested, definition in schema.pop("$defs", {}).items():
            self.add(nested, definition)
        return self.add(name or model.__name__, schema)

    def answer(self, model: type[BaseModel]) -> Schema:
        """An answer's schema: the model as it serializes."""
        return self.model(model, "serialization")

    def asked(self, model: type[BaseModel]) -> Schema:
        """A request's schema: the model as it validates."""
        return self.model(model, "validation")

    def json_body(self, model: type[BaseModel], example: Any = None, required: bool = True) -> Body:
        """A JSON request body of `model`, with an example if given."""
        examples = {"application/json": example} if example is not None else {}
        return Body({"application/json": self.asked(model)}, required=required, examples=examples)


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter."""

    name: str
    where: Literal["query", "header", "path"]
    schema: Schema
    description: str = ""
    required: bool = False
    example: Any = None

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"name": self.name, "in": self.where, "schema": self.schema}
        if self.description:
            rendered["description"] = self.description
        if self.example is not None:
            rendered["example"] = self.example
        if self.required or self.where == "path":
            rendered["required"] = True
        return rendered


@dataclass(frozen=True)
class Body:
    """A request body: its schema per media type, and each multipart part's encoding."""

    content: Mapping[str, Schema]
    required: bool = True
    encoding: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    description: str = ""
    examples: Mapping[str, Any] = field(default_factory=dict)  # by media type

    def render(self) -> dict[str, Any]:
        content: dict[str, Any] = {}
        for media_type, schema in self.content.items():
            entry: dict[str, Any] = {"schema": schema}
            if media_type in self.examples:
                entry["example"] = self.examples[media_type]
            if media_type == "multipart/form-data" and self.encoding:
                entry["encoding"] = {part: dict(value) for part, value in self.encoding.items()}
            content[media_type] = entry
        rendered: dict[str, Any] = {"required": self.required, "content": content}
        if self.description:
            rendered["description"] = self.description
        return rendered


@dataclass(frozen=True)
class Reply:
    """One status's answer: a JSON body (or none, for 204), and the operations its values lead to."""

    description: str
    schema: Schema | None = None
    headers: Mapping[str, Schema] = field(default_factory=dict)
    links: Mapping[str, Link] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: `operation_id` called with values of this answer (`$response.body#/id`)."""

    operation_id: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"operationId": self.operation_id}
        if self.parameters:
            rendered["parameters"] = dict(self.parameters)
        if self.request_body is not None:
            rendered["requestBody"] = self.request_body
        return rendered


@dataclass(frozen=True)
class Operation:
    """One route: `route` as template.yaml spells it ("POST /v1/task"), what it takes and answers.

    `errors` are the statuses the family's handler may answer besides the ones every route has."""

    route: str
    summary: str
    replies: Mapping[int, Reply]
    body: Body | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    description: str = ""
    # Without it, the function's logical id less "Function"; a function serving two routes names each.
    operation_id: str | None = None

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.route.split(" ", 1)[1]


@dataclass(frozen=True)
class Family:
    """An API family: its operations, its error body, the credentials its routes take."""

    name: str
    tag: str
    description: str
    operations: tuple[Operation, ...]
    error: Schema
    # The security schemes a route of this family accepts, each with the route's scopes.
    schemes: tuple[tuple[str, ...], ...]


def string(**constraints: Any) -> Schema:
    return {"type": "string", **constraints}


def path_param(name: str, description: str, example: Any = None, **constraints: Any) -> Param:
    return Param(name, "path", string(minLength=1, **constraints), description, required=True, example=example)
