"""One resolver shape for every route of every family: the caller and its scope check, JSON out,
domain errors rendered by the family's error format, in this one place. A 503 (ServiceUnavailable:
a failure a retry can cure, nothing half-written) also says when to retry, as Retry-After in seconds.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel

from tasklane import observability
from tasklane.domain.errors import Forbidden, ServiceUnavailable, TasklaneError, Unauthorized
from tasklane.domain.tenants import TENANT_PATTERN

logger = Logger(child=True)
_request_id: ContextVar[str] = ContextVar("request_id", default="")


def request_id() -> str:
    """API Gateway's id of the request being answered (error bodies that carry a trace id use it)."""
    return _request_id.get()


class ErrorFormat(Protocol):
    """How a family spells its errors."""

    def render(self, error: TasklaneError) -> tuple[int, BaseModel]: ...

    def internal(self, request_id: str) -> BaseModel: ...

    def not_found(self) -> BaseModel: ...


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the authorizer established it."""

    tenant: str
    principal: str
    scopes: frozenset[str]
    # A JWT authorizer's claims, as strings (the families that read more than tenant and scopes).
    claims: Mapping[str, str] = field(default_factory=dict)


def json_response(status: int, body: BaseModel) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump_json())


class Resolver(APIGatewayHttpResolver):
    """A function's resolver: `required_scope` is the scope template.yaml declares beside its route
    (REQUIRED_SCOPE, for routes behind the Lambda authorizer). None: the route is behind API Gateway's
    JWT authorizer, which enforced the route's AuthorizationScopes before the function ran."""

    def __init__(self, errors: ErrorFormat, required_scope: str | None) -> None:
        super().__init__()
        self.errors = errors
        self.required_scope = required_scope

        @self.exception_handler(TasklaneError)
        def _domain_error(error: TasklaneError) -> Response[str]:
            logger.info("request refused", extra={"status": error.status, "code": error.code, "reason": error.message})
            return json_response(*errors.render(error))

        @self.exception_handler(ServiceUnavailable)
        def _unavailable(error: ServiceUnavailable) -> Response[str]:
            cause = repr(error.__cause__) if error.__cause__ is not None else None
            logger.warning("request not served; retry", extra={"reason": error.message, "cause": cause})
            response = json_response(*errors.render(error))
            response.headers["Retry-After"] = str(error.retry_after)
            return response

        @self.exception_handler(Exception)
        def _unexpected(error: Exception) -> Response[str]:
            logger.exception("unhandled error")
            return json_response(500, errors.internal(self.current_event.request_context.request_id))

        @self.not_found
        def _not_found(_: Exception) -> Response[str]:
            return json_response(404, errors.not_found())

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        token = _request_id.set(str((event.get("requestContext") or {}).get("requestId", "")))
        observability.append_keys(**observability.request_keys(event))
        try:
            answer = super().resolve(event, context)
            logger.info("answered", extra={"route": event.get("routeKey"), "status": answer.get("statusCode")})
            return answer
        finally:
            _request_id.reset(token)

    def caller(self) -> Caller:
        """The authorized caller, refused unless its credentials carry this route's scope."""
        authorizer = self.current_event.raw_event.get("requestContext", {}).get("authorizer") or {}
        claims: dict[str, str] = {}
        if "jwt" in authorizer:
            # API Gateway's JWT authorizer: claims arrive as strings, scopes as a list.
            claims = {str(k): str(v) for k, v in (authorizer["jwt"].get("claims") or {}).items()}
            context: dict[str, Any] = {
                "tenant": claims.get("tenant"),
                "principal": claims.get("sub", ""),
                "scopes": " ".join(authorizer["jwt"].get("scopes") or str(claims.get("scope", "")).split()),
            }
        else:
            context = authorizer.get("lambda") or {}
        tenant = context.get("tenant")
        if not tenant or not TENANT_PATTERN.fullmatch(str(tenant)):
            # Only reachable if a route were deployed without an authorizer, or a token names no valid
            # tenant: refuse, never guess a tenant.
            raise Unauthorized("No authorized caller on this request")
        observability.append_keys(tenant=str(tenant))
        scopes = frozenset(str(context.get("scopes", "")).split())
        if self.required_scope is None:
            if "jwt" not in authorizer:
                raise Forbidden("This route answers callers its JWT authorizer admitted only")
        elif self.required_scope not in scopes:
            raise Forbidden(f"This call needs the scope {self.required_scope}")
        return Caller(tenant=str(tenant), principal=str(context.get("principal", "")), scopes=scopes, claims=claims)

    def raw_body(self) -> bytes:
        event = self.current_event
        body = event.body or ""
        return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")

    def content_type(self) -> str | None:
        return self.current_event.headers.get("content-type")
