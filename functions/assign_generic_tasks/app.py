"""POST /odata/Tasks/UiPath.Server.Configuration.OData.AssignTasks: assign tasks; 200 lists the failures."""

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


@app.post("/odata/Tasks/UiPath.Server.Configuration.OData.AssignTasks")
def assign_tasks() -> Response[str]:
    access = requests.folder_access(app.caller())
    ref = requests.folder_ref(app.current_event.headers)
    assignments = requests.assignments(app.raw_body(), app.content_type())
    failures = generic_tasks.assign(get_backends(), access, assignments, ref)
    return json_response(200, presenters.assignment_failures(failures))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
