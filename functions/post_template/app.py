"""POST /v1/templates: upload a DAP (multipart `template` file part, or a raw application/zip body)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane.api import bodies, http
from tasklane.config import get_settings
from tasklane.domain import templates
from tasklane.storage import get_backends

get_settings()
logger = Logger()
app = http.make_app()


@app.post("/v1/templates")
def post_template() -> Response[str]:
    dap = bodies.read_dap(http.raw_body(app), http.content_type(app))
    return http.json_response(201, templates.upload(get_backends(), http.caller(app).tenant, dap))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
