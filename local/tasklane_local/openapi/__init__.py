"""tasklane's OpenAPI 3.1 contract, built from template.yaml's routes and each family's pydantic models.

template.yaml says which routes exist and the scopes each takes; `documents`, `generic_tasks` and
`jobs` say what each route takes and answers, in the models its handler validates with. A route in
one and not the other is an error, so the contract cannot drift from what is deployed.
`make openapi` writes docs/openapi.json; tests/unit/test_openapi.py fails when it is stale.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

from tasklane_local.openapi import documents, generic_tasks, jobs
from tasklane_local.openapi.spec import Family, Operation, Reply, Schema, Schemas
from tasklane_local.template import HttpRoute, Template, load_template

VERSION = "0.1.0"
# Every route may answer these: the credentials (401, 403), what it names (404), the gateway's
# throttle (429), a bug (500), a backend that failed but may be retried (503).
COMMON_ERRORS = (400, 401, 403, 404, 429, 500, 503)
# Statuses API Gateway (or its authorizer) may answer itself, with its own small body.
GATEWAY_STATUSES = frozenset({401, 403, 413, 429, 500, 503})
RETRY_AFTER: Schema = {
    "description": "Seconds to wait before retrying (on AWS, API Gateway's own 503 has none)",
    "schema": {"type": "integer", "minimum": 1},
}
GATEWAY_ERROR: Schema = {
    "type": "object",
    "description": "An answer of API Gateway itself (on AWS: `message` only; locally with `code` and `errors`)",
    "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "errors": {"type": "array"}},
    "required": ["message"],
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT with a `tenant` claim and the route's scope in `scope` (`tasklane token` locally)",
    },
    **documents.SECURITY_SCHEMES,
}


def families(schemas: Schemas) -> tuple[Family, ...]:
    return (documents.family(schemas), generic_tasks.family(schemas), jobs.family(schemas))


def _scopes(template: Template, route: HttpRoute) -> tuple[str, ...]:
    """The scopes of which a caller needs one: the JWT authorizer's, or the function's REQUIRED_SCOPE."""
    if route.authorizer is not None and route.authorizer.is_jwt:
        return route.scopes
    required = template.functions[route.function_id].environment.get("REQUIRED_SCOPE")
    if not isinstance(required, str):
        raise ValueError(f"{route.route_key}: no REQUIRED_SCOPE beside a route behind the Lambda authorizer")
    return (required,)


def _security(family: Family, scopes: tuple[str, ...]) -> list[dict[str, list[str]]]:
    # OpenAPI 3.1: the scopes of one requirement are all needed; one requirement per scope means any one.
    return [{scheme: [scope] for scheme in schemes} for scope in scopes for schemes in family.schemes]


def _reply(reply: Reply) -> dict[str, Any]:
    rendered: dict[str, Any] = {"description": reply.description}
    if reply.schema is not None:
        rendered["content"] = {"application/json": {"schema": reply.schema}}
    if reply.headers:
        rendered["headers"] = {name: {"schema": schema} for name, schema in reply.headers.items()}
    if reply.links:
        rendered["links"] = {name: link.render() for name, link in reply.links.items()}
    return rendered


def _error(family: Family, status: int) -> dict[str, Any]:
    schema = {"anyOf": [family.error, {"$ref": "#/components/schemas/GatewayError"}]}
    rendered: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": schema if status in GATEWAY_STATUSES else family.error}},
    }
    if status == 429:
        rendered["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayError"}}}
    if status == 503:
        rendered["headers"] = {"Retry-After": RETRY_AFTER}
    return rendered


def _operation(family: Family, operation: Operation, route: HttpRoute, template: Template) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "operationId": operation.operation_id or route.function_id.removesuffix("Function"),
        "tags": [family.tag],
        "summary": operation.summary,
    }
    if operation.description:
        rendered["description"] = operation.description
    if operation.params:
        rendered["parameters"] = [param.render() for param in operation.params]
    if operation.body is not None:
        rendered["requestBody"] = operation.body.render()
    responses = {str(status): _reply(reply) for status, reply in sorted(operation.replies.items())}
    for status in sorted({*COMMON_ERRORS, *operation.errors}):
        responses[str(status)] = _error(family, status)
    rendered["responses"] = responses
    rendered["security"] = _security(family, _scopes(template, route))
    return rendered


def build(template: Template) -> dict[str, Any]:
    """The OpenAPI document of every route in `template`; ValueError if a route and its description disagree."""
    schemas = Schemas()
    schemas.add("GatewayError", GATEWAY_ERROR)
    routes = {route.route_key: route for route in template.routes if route.path != "$default"}
    described: dict[str, tuple[Family, Operation]] = {}
    for family in families(schemas):
        for operation in family.operations:
            if operation.route in described:
                raise ValueError(f"{operation.route} is described twice")
            described[operation.route] = (family, operation)
    undescribed = sorted(set(routes) - set(described))
    unrouted = sorted(set(described) - set(routes))
    if undescribed or unrouted:
        raise ValueError(f"routes without a description: {undescribed}; descriptions without a route: {unrouted}")
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: dict[str, str] = {}
    for key in sorted(routes, key=lambda k: (k.split(" ", 1)[1], k)):
        family, operation = described[key]
        rendered = _operation(family, operation, routes[key], template)
        if operation_ids.setdefault(rendered["operationId"], key) != key:
            raise ValueError(f"{key} and {operation_ids[rendered['operationId']]} share {rendered['operationId']}")
        paths.setdefault(operation.path, {})[operation.method.lower()] = rendered
    for operations in paths.values():
        for rendered in operations.values():
            for reply in rendered["responses"].values():
                for link in reply.get("links", {}).values():
                    if link["operationId"] not in operation_ids:
                        raise ValueError(f"{rendered['operationId']} links to unknown {link['operationId']}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tasklane",
            "version": VERSION,
            "description": "One HTTP API in three families, each compatible with the vendor API its clients "
            "speak. Every route requires credentials; a tenant sees only its own data.",
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "The local stack (make run)"}],
        "tags": [{"name": f.tag, "description": f.description} for f in families(Schemas())],
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.components.items())), "securitySchemes": SECURITY_SCHEMES},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def from_template(path: str | Path) -> dict[str, Any]:
    return build(load_template(path))
