"""GET /v1/license: this month's license quota and usage."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane.api import http
from tasklane.config import get_settings
from tasklane.domain import licensing
from tasklane.storage import get_backends

get_settings()
logger = Logger()
app = http.make_app()


@app.get("/v1/license")
def get_license() -> Response[str]:
    return http.json_response(200, licensing.status(get_backends(), http.caller(app).tenant))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
