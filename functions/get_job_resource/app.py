"""GET /jobs/v1/{clientJobId}/resources/{name}: a presigned URL of the stored file."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.jobs import errors, requests
from tasklane.api.jobs.models import ResourceUrl
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, BucketSettings, load
from tasklane.domain import job_resources
from tasklane.domain.job_resources import URL_SECONDS
from tasklane.storage import get_backends



class Config(TableSettings, BucketSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.get("/jobs/v1/<clientJobId>/resources/<name>")
def get_job_resource(clientJobId: str, name: str) -> Response[str]:
    url = job_resources.download_url(get_backends(), requests.job_access(app.caller()), clientJobId, name)
    return json_response(200, ResourceUrl(url=url, expiresInSeconds=URL_SECONDS))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
