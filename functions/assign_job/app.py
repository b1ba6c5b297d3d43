"""POST /jobs/v1/{clientJobId}/assign/{userId}: give the job to a user (not for Aborted or Completed jobs)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tasklane import observability
from tasklane.api.jobs import errors, presenters, requests
from tasklane.api.http import Resolver, json_response
from tasklane.config import TableSettings, load
from tasklane.domain import jobs
from tasklane.storage import get_backends


class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
app = Resolver(errors, required_scope=None)


@app.post("/jobs/v1/<clientJobId>/assign/<userId>")
def assign_job(clientJobId: str, userId: str) -> Response[str]:
    access = requests.job_access(app.caller())
    return json_response(200, presenters.job(jobs.assign(get_backends(), access, clientJobId, userId)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
