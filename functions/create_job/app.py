"""POST /jobs/v1: create a job; 409 when its clientJobId exists."""

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
metrics = observability.FamilyMetrics(observability.JOBS)
app = Resolver(errors, required_scope=None)


@app.post("/jobs/v1")
def create_job() -> Response[str]:
    access = requests.job_access(app.caller())
    sync = requests.sync(app.raw_body(), app.content_type())
    observability.append_keys(client_job_id=sync.doc.client_job_id)
    job = jobs.create(get_backends(), access, sync)
    metrics.accepted()
    metrics.ran(job.ending)
    return json_response(201, presenters.job(job))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
