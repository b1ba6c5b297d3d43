"""One resolver shape for every endpoint: the caller from the authorizer, JSON out, errors mapped here only."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel

from tasklane.models.errors import ErrorBody, TasklaneError, Unauthorized

logger = Logger(child=True)


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the authorizer established it."""

    tenant: str
    principal: str


def json_response(status: int, body: BaseModel) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
    )


def make_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.exception_handler(TasklaneError)
    def _domain_error(error: TasklaneError) -> Response[str]:
        logger.info("request refused", extra={"status": error.status, "code": error.code, "reason": error.message})
        return json_response(error.status, error.body())

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        request_id = app.current_event.request_context.request_id
        return json_response(
            500, ErrorBody(message=f"Internal error (request {request_id})", code="internal_error")
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return json_response(404, ErrorBody(message="Not Found", code="not_found"))

    return app


def caller(app: APIGatewayHttpResolver) -> Caller:
    context = (app.current_event.raw_event.get("requestContext", {}).get("authorizer") or {}).get("lambda") or {}
    tenant = context.get("tenant")
    if not tenant:
        # Only reachable if a route were deployed without the authorizer: refuse, never guess a tenant.
        raise Unauthorized("No authorized caller on this request")
    return Caller(tenant=str(tenant), principal=str(context.get("principal", "")))


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def content_type(app: APIGatewayHttpResolver) -> str | None:
    return app.current_event.headers.get("content-type")
