"""POST /v1/task: accept one task (JSON, or multipart with an embedded DAP and param.<name> parts)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api import idempotency
from tasklane.api.documents import errors, presenters, requests
from tasklane.api.documents.models import TaskAccepted
from tasklane.api.http import Resolver, json_response
from tasklane.config import (
    BucketSettings,
    QueueSettings,
    QuotaSettings,
    RouteSettings,
    SalesforceSettings,
    SessionKeySettings,
    TableSettings,
    load,
)
from tasklane.domain import document_tasks
from tasklane.storage import get_backends


class Config(
    RouteSettings,
    TableSettings,
    BucketSettings,
    QueueSettings,
    QuotaSettings,
    SalesforceSettings,
    SessionKeySettings,
):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
metrics = observability.FamilyMetrics(observability.DOCUMENTS)
app = Resolver(errors, config.required_scope)


@app.post("/v1/task")
def post_task() -> Response[str]:
    tenant = app.caller().tenant
    body = requests.read_body(app.raw_body(), app.content_type())
    submission = requests.task_submission(body)
    accepted = idempotency.once(
        app,
        "post_task",
        tenant,
        body.fingerprint(),
        metrics.accepting(lambda: presenters.task_accepted(document_tasks.submit(get_backends(), tenant, submission))),
        TaskAccepted,
    )
    observability.append_keys(task_id=accepted.taskID)
    return json_response(202, accepted)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
