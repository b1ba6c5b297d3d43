"""GET /v1/batch/{batchId}: a batch's status, progress and tasks (`?results=true`: with their results)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.documents import errors, presenters, requests
from tasklane.api.http import Resolver, json_response
from tasklane.config import RouteSettings, TableSettings, load
from tasklane.domain import batches
from tasklane.storage import get_backends


class Config(RouteSettings, TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, config.required_scope)


@app.get("/v1/batch/<batchId>")
def get_batch(batchId: str) -> Response[str]:
    with_results = requests.with_results(app.current_event.get_query_string_value("results"))
    view = batches.get(get_backends(), app.caller().tenant, batchId, with_results=with_results)
    return json_response(200, presenters.batch_status(view))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
