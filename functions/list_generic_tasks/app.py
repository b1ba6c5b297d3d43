"""GET /odata/Tasks: a folder's tasks, filtered, ordered and paged with OData options; one Query a page."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.generic_tasks import errors, odata, presenters, requests
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import generic_tasks
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.get("/odata/Tasks")
def list_tasks() -> Response[str]:
    access = requests.folder_access(app.caller())
    headers = app.current_event.headers
    query = odata.list_query(app.current_event.query_string_parameters or {})
    page = generic_tasks.page(get_backends(), access, requests.folder_ref(headers), query)
    return json_response(200, presenters.tasks(page, headers))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
