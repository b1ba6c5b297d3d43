"""The jobs family's routes (WorkfloPlus-compatible), from `tasklane.api.jobs`' models."""

from __future__ import annotations


from tasklane.api.jobs import errors, models
from tasklane.api.jobs import requests as wire
from tasklane.domain.job_resources import MAX_RESOURCE_BYTES
from tasklane_local.openapi.spec import Body, Family, Link, Operation, Param, Reply, Schemas, path_param, string

_JOB_ID = path_param("clientJobId", "The job's id, as the client chose it", pattern=models.CLIENT_JOB_ID)
_NAME = path_param("name", "The resource's file name", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_PAGING = (
    Param("skip", "query", string(pattern=r"^[0-9]{1,7}$"), "Jobs to skip (default 0)"),
    Param("limit", "query", string(pattern=r"^[0-9]{1,7}$"), f"1 to {wire.MAX_LIMIT} (default {wire.DEFAULT_LIMIT})"),
)


def family(schemas: Schemas) -> Family:
    answer, asked = schemas.answer, schemas.json_body

    # A job is answered as it was sent (unknown fields kept), with the server's fields added: the
    # basicSync model states the sent part.
    job = schemas.add(
        "Job",
        {
            "allOf": [schemas.asked(models.BasicSyncRequest)],
            "properties": {
                "jobId": {"type": "string", "description": "The server's id of the job"},
                "createdOnServer": {"type": "string", "description": "When the server first stored it"},
            },
            "required": ["jobId", "createdOnServer"],
        },
    )
    jobs = {"type": "array", "items": job}
    the_job = {"clientJobId": "$response.body#/metadata/clientJobId"}
    job_links = {
        "GetJob": Link("GetJob", the_job),
        "UpdateJob": Link("UpdateJob", the_job),
        "AbortJob": Link("AbortJob", the_job),
        "AssignJob": Link("AssignJob", the_job),
        "AddJobMetadata": Link("AddJobMetadata", the_job),
        "PutJobResource": Link("PutJobResource", the_job),
        "DeleteJob": Link("DeleteJob", the_job),
    }
    sync_example = {
        "metadata": {"clientJobId": "job-0001", "workflowId": "wf-1", "jobTitle": "Inspect pump 7"},
        "completedSteps": [
            {"singleStep": {"uniqueStepId": "step-1", "stepTitle": "Arrive", "updated": "2026-01-05T09:00:00.000Z"}}
        ],
    }
    operations = (
        Operation(
            "POST /jobs/v1/basicSync",
            "Create the job, or merge this sync into it (steps by uniqueStepId, the newer wins)",
            {201: Reply("Created", job, links=job_links), 200: Reply("Merged", job, links=job_links)},
            body=asked(models.BasicSyncRequest, sync_example),
            errors=(409, 413, 415),
        ),
        Operation(
            "POST /jobs/v1",
            "Create a job; 409 when its clientJobId exists",
            {201: Reply("Created", job, links=job_links)},
            body=asked(models.BasicSyncRequest, {**sync_example, "metadata": {"clientJobId": "job-0002"}}),
            errors=(409, 413, 415),
        ),
        Operation(
            "GET /jobs/v1/{clientJobId}",
            "A job, in an array (as WorkfloPlus answers it)",
            {200: Reply("The job", jobs)},
            params=(_JOB_ID,),
        ),
        Operation(
            "POST /jobs/v1/{clientJobId}",
            "Replace metadata fields of a job",
            {200: Reply("The job", job)},
            body=asked(models.UpdateJobRequest),
            params=(_JOB_ID,),
            errors=(409, 413, 415),
        ),
        Operation(
            "GET /jobs/v1",
            "The tenant's jobs, newest first, without their steps",
            {200: Reply("A page of jobs", jobs)},
            params=_PAGING,
        ),
        Operation(
            "GET /jobs/v1/workflow/{workflowId}",
            "The jobs of one workflow, without their steps",
            {200: Reply("A page of jobs", jobs)},
            params=(path_param("workflowId", "The workflow's id"), *_PAGING),
        ),
        Operation(
            "POST /jobs/v1/{clientJobId}/abort",
            "Abort an incomplete job (409 for Completed or Aborted ones)",
            {200: Reply("The job", job)},
            body=asked(models.AbortJobRequest, required=False),
            params=(_JOB_ID,),
            errors=(409, 413, 415),
        ),
        Operation(
            "POST /jobs/v1/{clientJobId}/assign/{userId}",
            "Assign a job to a user",
            {200: Reply("The job", job)},
            params=(_JOB_ID, path_param("userId", "The user's id")),
            errors=(409,),
        ),
        Operation(
            "POST /jobs/v1/{clientJobId}/metadata",
            "Add string metadata to a job",
            {200: Reply("The job", job)},
            body=asked(models.StringMap),
            params=(_JOB_ID,),
            errors=(409, 413, 415),
        ),
        Operation(
            "DELETE /jobs/v1/{clientJobId}",
            "Delete a job, its steps and its resources",
            {204: Reply("Deleted")},
            params=(_JOB_ID,),
        ),
        Operation(
            "PUT /jobs/v1/{clientJobId}/resources/{name}",
            f"Store a file taken in the field (at most {MAX_RESOURCE_BYTES} bytes; larger ones take an upload URL)",
            {204: Reply("Stored")},
            body=Body(
                {"application/octet-stream": string(format="binary"), "*/*": string(format="binary")},
                description="The file's bytes; its Content-Type is kept",
            ),
            params=(_JOB_ID, _NAME),
            errors=(409, 413),
        ),
        Operation(
            "GET /jobs/v1/{clientJobId}/resources/{name}",
            "A short-lived URL to download a resource",
            {200: Reply("The URL", answer(models.ResourceUrl))},
            params=(_JOB_ID, _NAME),
        ),
        Operation(
            "POST /jobs/v1/{clientJobId}/resources/{name}/upload",
            "A presigned form to upload a large resource straight to storage",
            {200: Reply("The form", answer(models.UploadForm))},
            params=(_JOB_ID, _NAME),
            errors=(409,),
        ),
    )
    return Family(
        name="jobs",
        tag="Jobs",
        description="WorkfloPlus-compatible: field-work jobs synced from offline devices.",
        operations=operations,
        error=schemas.model(errors.ErrorBody, "serialization", "JobsError"),
        schemes=(("bearerAuth",),),
    )
