"""PUT /jobs/v1/{clientJobId}/resources/{name}: store a file taken in the field (at most 4 MiB; larger ones take an upload URL)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.jobs import errors, requests
from tasklane.api.http import Resolver
from tasklane.config import TableSettings, BucketSettings, load
from tasklane.domain import job_resources
from tasklane.storage import get_backends


class Config(TableSettings, BucketSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.put("/jobs/v1/<clientJobId>/resources/<name>")
def put_job_resource(clientJobId: str, name: str) -> Response[str]:
    access = requests.job_access(app.caller())
    content_type = app.content_type() or "application/octet-stream"
    job_resources.put(get_backends(), access, clientJobId, name, app.raw_body(), content_type)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
