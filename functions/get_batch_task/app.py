"""GET /v1/batch/{batchId}/{taskId}: one task of a batch, shaped as GET /v1/task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.documents import errors, presenters
from tasklane.api.http import Resolver, json_response
from tasklane.config import BucketSettings, RouteSettings, TableSettings, load
from tasklane.domain import batches
from tasklane.storage import get_backends


class Config(RouteSettings, TableSettings, BucketSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, config.required_scope)


@app.get("/v1/batch/<batchId>/<taskId>")
def get_batch_task(batchId: str, taskId: str) -> Response[str]:
    view = batches.get_task(get_backends(), app.caller().tenant, batchId, taskId)
    return json_response(200, presenters.task_status(view))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
