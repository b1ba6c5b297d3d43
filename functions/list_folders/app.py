"""GET /odata/Folders: the folders the caller reaches, Shared first, in the OData envelope."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.generic_tasks import errors, odata, presenters, requests
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import folders
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.get("/odata/Folders")
def list_folders() -> Response[str]:
    access = requests.folder_access(app.caller())
    top, skip, count = odata.top_skip_count(app.current_event.query_string_parameters or {})
    page = folders.page(get_backends(), access, skip, top, count)
    return json_response(200, presenters.folders(page, app.current_event.headers))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
