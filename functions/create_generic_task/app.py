"""POST /tasks/GenericTasks/CreateTask: park an external, document validation or form task in a folder."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api import idempotency
from tasklane.api.generic_tasks import errors, presenters, requests
from tasklane.api.generic_tasks.models import GenericTaskBody
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import generic_tasks
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
metrics = observability.FamilyMetrics(observability.GENERIC_TASKS)
app = Resolver(errors, required_scope=None)


@app.post("/tasks/GenericTasks/CreateTask")
def create_task() -> Response[str]:
    access = requests.folder_access(app.caller())
    ref = requests.folder_ref(app.current_event.headers)
    new, fingerprint = requests.new_task(app.raw_body(), app.content_type())
    created = idempotency.once(
        app,
        "create_generic_task",
        access.tenant,
        requests.creation_fingerprint(fingerprint, ref, access),
        metrics.accepting(lambda: presenters.created(generic_tasks.create(get_backends(), access, ref, new))),
        GenericTaskBody,
    )
    observability.append_keys(generic_task_id=created.id, folder_id=created.organizationUnitId)
    return json_response(201, created)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
