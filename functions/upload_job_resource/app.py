"""POST /jobs/v1/{clientJobId}/resources/{name}/upload: a presigned S3 upload form for a file too large for the API."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.jobs import errors, requests
from tasklane.api.jobs.models import UploadForm
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, BucketSettings, load
from tasklane.domain import job_resources
from tasklane.domain.job_resources import MAX_UPLOAD_BYTES, URL_SECONDS
from tasklane.storage import get_backends



class Config(TableSettings, BucketSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.post("/jobs/v1/<clientJobId>/resources/<name>/upload")
def upload_job_resource(clientJobId: str, name: str) -> Response[str]:
    url, fields = job_resources.upload_form(get_backends(), requests.job_access(app.caller()), clientJobId, name)
    return json_response(200, UploadForm(url=url, fields=fields, maxBytes=MAX_UPLOAD_BYTES, expiresInSeconds=URL_SECONDS))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
