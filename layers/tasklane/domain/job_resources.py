"""Attachments of a job's steps (`valueResourceIds`, `noteResourceFilenames`): stored under the job,
read back through presigned URLs. A file too large to pass through API Gateway goes straight to S3
with a presigned upload URL instead."""

from __future__ import annotations

import re

from tasklane.domain import jobs
from tasklane.domain.errors import BadRequest, NotFound, PayloadTooLarge, problem
from tasklane.domain.job_records import JobAccess
from tasklane.storage import Backends
from tasklane.storage.job_resources import URL_SECONDS

# A Lambda event carries 6 MB and API Gateway base64-encodes binary bodies: 4 MiB passes through.
MAX_RESOURCE_BYTES = 4 * 1024 * 1024
# Through an upload form straight to S3: a photo series or a video, not an archive of the site.
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024
__all__ = ["MAX_UPLOAD_BYTES", "URL_SECONDS", "download_url", "put", "upload_form"]
UPLOAD_ROUTE = "POST /jobs/v1/{clientJobId}/resources/{name}/upload"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise BadRequest(
            "A resource name is 1 to 200 letters, digits, '.', '_' or '-', starting with a letter or digit",
            [problem("name", "not a valid resource name")],
        )
    return name


def put(backends: Backends, access: JobAccess, client_job_id: str, name: str, data: bytes, content_type: str) -> None:
    _checked(name)
    if len(data) > MAX_RESOURCE_BYTES:
        raise PayloadTooLarge(
            f"A resource sent through the API may be at most {MAX_RESOURCE_BYTES} bytes; "
            f"for larger files ask {UPLOAD_ROUTE} for an upload URL"
        )
    jobs.require(backends, access, client_job_id)
    backends.job_resources.put(access.tenant, client_job_id, name, data, content_type)


def download_url(backends: Backends, access: JobAccess, client_job_id: str, name: str) -> str:
    _checked(name)
    jobs.require(backends, access, client_job_id)
    if not backends.job_resources.exists(access.tenant, client_job_id, name):
        raise NotFound(f"Job {client_job_id} has no resource {name}")
    return backends.job_resources.download_url(access.tenant, client_job_id, name)


def upload_form(backends: Backends, access: JobAccess, client_job_id: str, name: str) -> tuple[str, dict[str, str]]:
    """Where and how to POST a file of up to MAX_UPLOAD_BYTES straight to S3 (multipart form, the
    file last, in a part named `file`)."""
    _checked(name)
    jobs.require(backends, access, client_job_id)
    return backends.job_resources.upload_form(access.tenant, client_job_id, name, MAX_UPLOAD_BYTES)
