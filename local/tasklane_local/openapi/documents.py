"""The document family's routes (Documill Dynamo-compatible), from `tasklane.api.documents`' models."""

from __future__ import annotations

from tasklane.api.documents import errors, models, requests
from tasklane.api.documents.credentials import API_KEY_HEADER, TENANT_HEADER
from tasklane.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from tasklane_local.openapi.spec import Body, Family, Link, Operation, Param, Reply, Schema, Schemas, path_param, string

# The id of examples/account-profile.dap (a template id is the start of its sha256): the examples
# name it, and the fuzz run uploads it first, so they reach the routes past a 404.
EXAMPLE_TEMPLATE_ID = "97f88b3d461873f1d6fba21990561f76"
EXAMPLE_PARAMS = {"id": "001", "name": "Acme", "amount": 1200}
DAP: Schema = string(format="binary", contentMediaType="application/zip", description="The DAP: a zip")
IDEMPOTENCY = Param(
    "Idempotency-Key",
    "header",
    string(pattern=r"^[\x21-\x7e]{1,128}$"),
    "A retry with the same key and body within an hour answers the first answer again; another body: 422.",
)
assert IDEMPOTENCY.name.lower() == IDEMPOTENCY_HEADER


def _multipart(data: Schema, what: str) -> Body:
    prefix = requests.PARAM_PREFIX.replace(".", r"\.")
    schema: Schema = {
        "type": "object",
        "properties": {"template": DAP, "data": data},
        "patternProperties": {f"^{prefix}.+$": {"description": "A JSON value: params[<name>]"}},
        "additionalProperties": False,
        "required": ["template"],
    }
    return Body(
        {"multipart/form-data": schema},
        encoding={"template": {"contentType": "application/zip"}, "data": {"contentType": "application/json"}},
        description=f"JSON naming a stored template, or multipart embedding the DAP: {what}",
    )


def family(schemas: Schemas) -> Family:
    answer, asked = schemas.answer, schemas.asked
    task_body = _multipart(asked(models.TaskData), "a `template` file part, a `data` JSON part, `param.<name>` JSON parts")
    batch_body = _multipart(asked(models.BatchData), "`template`, `data` (the tasks), and `param.<name>` parts the tasks link")
    limit = f"At most {requests.MAX_BODY_BYTES} bytes."
    operations = (
        Operation(
            "POST /v1/templates",
            "Store a DAP; its id is the sha256-derived template id",
            {
                201: Reply(
                    "Stored",
                    answer(models.TemplateInfo),
                    links={"GetTemplate": Link("GetTemplate", {"templateId": "$response.body#/id"})},
                )
            },
            body=Body(
                {
                    "application/zip": DAP,
                    "application/octet-stream": DAP,
                    "multipart/form-data": {
                        "type": "object",
                        "properties": {"template": DAP},
                        "required": ["template"],
                    },
                },
                encoding={"template": {"contentType": "application/zip"}},
                description=limit,
            ),
            errors=(413, 415),
        ),
        Operation(
            "GET /v1/templates/{templateId}",
            "A stored template's facts",
            {200: Reply("The template", answer(models.TemplateInfo))},
            params=(path_param("templateId", "The template id POST /v1/templates answered", EXAMPLE_TEMPLATE_ID),),
        ),
        Operation(
            "POST /v1/task",
            "Run one DAP with params; 202 at once, poll GET /v1/task/{taskId}",
            {
                202: Reply(
                    "Accepted",
                    answer(models.TaskAccepted),
                    links={"GetTask": Link("GetTask", {"taskId": "$response.body#/taskID"})},
                )
            },
            body=Body(
                {"application/json": asked(models.PostTaskRequest), **task_body.content},
                encoding=task_body.encoding,
                examples={"application/json": {"template": EXAMPLE_TEMPLATE_ID, "params": EXAMPLE_PARAMS}},
                description=f"{task_body.description}. {limit}",
            ),
            params=(IDEMPOTENCY,),
            errors=(402, 409, 413, 415, 422),
        ),
        Operation(
            "GET /v1/task/{taskId}",
            "A task's status, logs and result URLs",
            {200: Reply("The task", answer(models.TaskStatus))},
            params=(path_param("taskId", "The taskID POST /v1/task answered"),),
        ),
        Operation(
            "POST /v1/batch",
            f"Run one DAP for 1 to {models.MAX_BATCH_TASKS} param sets; 202 at once",
            {
                202: Reply(
                    "Accepted",
                    answer(models.BatchAccepted),
                    links={
                        "GetBatch": Link("GetBatch", {"batchId": "$response.body#/id"}),
                        "GetBatchTask": Link(
                            "GetBatchTask", {"batchId": "$response.body#/id", "taskId": "$response.body#/tasks/0"}
                        ),
                    },
                )
            },
            body=Body(
                {"application/json": asked(models.PostBatchRequest), **batch_body.content},
                encoding=batch_body.encoding,
                examples={
                    "application/json": {
                        "template": EXAMPLE_TEMPLATE_ID,
                        "tasks": [{"params": EXAMPLE_PARAMS}, {"params": {"id": "002", "name": "Globex"}}],
                    }
                },
                description=f"{batch_body.description}. {limit}",
            ),
            params=(IDEMPOTENCY,),
            errors=(402, 409, 413, 415, 422),
        ),
        Operation(
            "GET /v1/batch/{batchId}",
            "A batch's progress and its tasks",
            {200: Reply("The batch", answer(models.BatchStatus))},
            params=(
                path_param("batchId", "The id POST /v1/batch answered"),
                Param(
                    "results",
                    "query",
                    string(enum=["true", "false"]),
                    "true: each task also lists its results (`results`, `resultList`, as GET /v1/task), "
                    "so a batch's results need no GET per task",
                ),
            ),
        ),
        Operation(
            "GET /v1/batch/{batchId}/{taskId}",
            "One task of a batch",
            {200: Reply("The task", answer(models.TaskStatus))},
            params=(
                path_param("batchId", "The id POST /v1/batch answered"),
                path_param("taskId", "One of the batch's tasks"),
            ),
        ),
        Operation(
            "GET /v1/license",
            "This month's license units: used, quota, remaining",
            {200: Reply("The tenant's license", answer(models.LicenseStatus))},
        ),
    )
    return Family(
        name="documents",
        tag="Document tasks",
        description="Documill Dynamo-compatible: DAPs (templates), tasks and batches.",
        operations=operations,
        error=schemas.model(errors.ErrorBody, "serialization", "DocumentsError"),
        schemes=(("bearerAuth",), ("dynamoTenantId", "dynamoApiKey")),
    )


SECURITY_SCHEMES = {
    "dynamoTenantId": {"type": "apiKey", "in": "header", "name": TENANT_HEADER, "description": "Dynamo's tenant id"},
    "dynamoApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "An API key of the tenant (`tasklane apikey create` locally); sent with the tenant id",
    },
}
