"""GET /v1/license: this month's license quota and usage."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.documents import errors, presenters
from tasklane.api.http import Resolver, json_response
from tasklane.config import QuotaSettings, RouteSettings, TableSettings, load
from tasklane.domain import licensing
from tasklane.storage import get_backends


class Config(RouteSettings, TableSettings, QuotaSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, config.required_scope)


@app.get("/v1/license")
def get_license() -> Response[str]:
    view = licensing.status(get_backends(), app.caller().tenant)
    return json_response(200, presenters.license_status(view))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
