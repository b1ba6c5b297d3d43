"""GET /tasks/GenericTasks/GetTaskDataById?taskId=N and GetTaskDataByKey?taskKey=<GUID>: one task, whole."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.generic_tasks import errors, presenters, requests
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import generic_tasks
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.get("/tasks/GenericTasks/GetTaskDataById")
def get_task_by_id() -> Response[str]:
    access = requests.folder_access(app.caller())
    task_id = requests.task_id(app.current_event.query_string_parameters or {})
    return json_response(200, presenters.task_data(generic_tasks.get(get_backends(), access, task_id, requests.folder_ref(app.current_event.headers))))


@app.get("/tasks/GenericTasks/GetTaskDataByKey")
def get_task_by_key() -> Response[str]:
    access = requests.folder_access(app.caller())
    task_key = requests.task_key(app.current_event.query_string_parameters or {})
    return json_response(200, presenters.task_data(generic_tasks.get_by_key(get_backends(), access, task_key, requests.folder_ref(app.current_event.headers))))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
