"""The document family's Lambda REQUEST authorizer (payload 2.0, simple responses) in front of its routes.

It says who calls (a bearer JWT or Dynamo's header pair) and with which scopes; each route's
function then checks the scope template.yaml declares beside it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.documents import credentials
from tasklane.config import TableSettings, TokenSettings, load
from tasklane.domain import auth
from tasklane.storage import get_backends


class Config(TableSettings, TokenSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
verifier = auth.TokenVerifier(config)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    decision = auth.authorize(credentials.from_headers(headers), verifier, get_backends().apikeys)
    if not decision.allowed:
        logger.info("denied", extra={"route": event.get("routeKey"), "status": decision.status, "reason": decision.message})
    return decision.response()
