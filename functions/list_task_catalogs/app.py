"""GET /odata/TaskCatalogs: a folder's task catalogs, by name, in the OData envelope."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.generic_tasks import errors, odata, presenters, requests
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import task_catalogs
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.get("/odata/TaskCatalogs")
def list_task_catalogs() -> Response[str]:
    access = requests.folder_access(app.caller())
    headers = app.current_event.headers
    top, skip, count = odata.top_skip_count(app.current_event.query_string_parameters or {})
    page = task_catalogs.page(get_backends(), access, requests.folder_ref(headers), skip, top, count)
    return json_response(200, presenters.catalogs(page, headers))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
