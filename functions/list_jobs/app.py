"""GET /jobs/v1?skip=&limit=: the tenant's jobs, newest first (limit 20 by default, at most 100)."""

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


@app.get("/jobs/v1")
def list_jobs() -> Response[str]:
    access = requests.job_access(app.caller())
    skip, limit = requests.skip_limit(app.current_event.query_string_parameters or {})
    return json_response(200, presenters.jobs(jobs.page(get_backends(), access, skip, limit)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
