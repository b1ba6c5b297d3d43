"""POST /odata/TaskCatalogs/UiPath.Server.Configuration.OData.CreateTaskCatalog: a catalog in a folder."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.generic_tasks import errors, presenters, requests
from tasklane.api.generic_tasks.models import CreateTaskCatalogRequest
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import task_catalogs
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.post("/odata/TaskCatalogs/UiPath.Server.Configuration.OData.CreateTaskCatalog")
def create_task_catalog() -> Response[str]:
    access = requests.folder_access(app.caller())
    ref = requests.folder_ref(app.current_event.headers)
    request = requests.body(CreateTaskCatalogRequest, app.raw_body(), app.content_type())
    catalog = task_catalogs.create(get_backends(), access, ref, request.Name, request.Description)
    return json_response(201, presenters.catalog(catalog))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
