"""GET /v1/templates/{templateId}: a cached DAP's metadata."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.documents import errors, presenters
from tasklane.api.http import Resolver, json_response
from tasklane.config import BucketSettings, RouteSettings, load
from tasklane.domain import templates
from tasklane.storage import get_backends


class Config(RouteSettings, BucketSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, config.required_scope)


@app.get("/v1/templates/<templateId>")
def get_template(templateId: str) -> Response[str]:
    view = templates.describe(get_backends(), app.caller().tenant, templateId)
    return json_response(200, presenters.template_info(view))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
