"""DELETE /jobs/v1/{clientJobId}: the job, its steps and its files; 204."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.jobs import errors, requests
from tasklane.api.http import Resolver
from tasklane.config import TableSettings, BucketSettings, load
from tasklane.domain import jobs
from tasklane.storage import get_backends


class Config(TableSettings, BucketSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.delete("/jobs/v1/<clientJobId>")
def delete_job(clientJobId: str) -> Response[str]:
    jobs.delete(get_backends(), requests.job_access(app.caller()), clientJobId)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
