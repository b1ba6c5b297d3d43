"""POST /v1/batch: accept 1 to 1,000 tasks of one DAP (JSON, or multipart with partParams)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane.api import bodies, http, idempotency
from tasklane.config import get_settings
from tasklane.domain import batches
from tasklane.models.api import BatchAccepted
from tasklane.storage import get_backends

get_settings()
logger = Logger()
metrics = Metrics()
app = http.make_app()


@app.post("/v1/batch")
def post_batch() -> Response[str]:
    tenant = http.caller(app).tenant
    body = bodies.read_body(http.raw_body(app), http.content_type(app))
    accepted = idempotency.once(
        app, "post_batch", tenant, body, lambda: batches.submit(get_backends(), tenant, body), BatchAccepted
    )
    metrics.add_metric(name="TasksAccepted", unit=MetricUnit.Count, value=len(accepted.tasks))
    return http.json_response(202, accepted)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
