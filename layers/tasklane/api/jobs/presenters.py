"""Jobs as WorkfloPlus answers them: the stored document, its steps in order, and `jobId`."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from tasklane.domain.job_records import Job, JobSummary


class JobBody(RootModel[dict[str, Any]]):
    """A job document as sent, with the server's fields: open-ended by design."""


class JobList(RootModel[list[dict[str, Any]]]):
    pass


def _job(job: Job) -> dict[str, Any]:
    return {
        **job.stored.doc.document,
        "completedSteps": [step.document for step in job.completed_steps],
        "cancelledSteps": [step.document for step in job.cancelled_steps],
        "jobId": job.stored.job_id,
        "createdOnServer": job.stored.created,
    }


def job(found: Job) -> JobBody:
    return JobBody(_job(found))


def job_in_array(found: Job) -> JobList:
    """GET /jobs/v1/{clientJobId}: WorkfloPlus answers an array holding the job."""
    return JobList([_job(found)])


def jobs(summaries: list[JobSummary]) -> JobList:
    return JobList([{**s.doc.document, "jobId": s.job_id, "createdOnServer": s.created} for s in summaries])
