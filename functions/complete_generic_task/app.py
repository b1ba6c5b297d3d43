"""POST /tasks/GenericTasks/CompleteTask: store a task's final data and action; 204."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.generic_tasks import errors, requests
from tasklane.api.http import Resolver
from tasklane.config import TableSettings, load
from tasklane.domain import generic_tasks
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
metrics = observability.FamilyMetrics(observability.GENERIC_TASKS)
app = Resolver(errors, required_scope=None)


@app.post("/tasks/GenericTasks/CompleteTask")
def complete_task() -> Response[str]:
    access = requests.folder_access(app.caller())
    ref = requests.folder_ref(app.current_event.headers)
    request = requests.completion(app.raw_body(), app.content_type())
    observability.append_keys(generic_task_id=request.taskId)
    task = generic_tasks.complete(get_backends(), access, request.taskId, request.data, request.action, ref)
    metrics.finished(True, task.creation_time, task.completion_time or task.last_modification_time)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
