"""POST /jobs/v1/{clientJobId}: replace metadata fields only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.jobs import errors, presenters, requests
from tasklane.api.jobs.models import UpdateJobRequest
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import jobs
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.post("/jobs/v1/<clientJobId>")
def update_job(clientJobId: str) -> Response[str]:
    access = requests.job_access(app.caller())
    request = requests.body(UpdateJobRequest, app.raw_body(), app.content_type())
    return json_response(200, presenters.job(jobs.update_metadata(get_backends(), access, clientJobId, request.metadata.model_dump(exclude_unset=True))))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
