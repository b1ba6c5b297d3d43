"""What the functions log and measure (issue 18): each line's keys, and each family's EMF metrics."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tasklane.domain import templates
from tests.support import (
    FixedClock,
    body_of,
    captured_logs,
    emf_blobs,
    event,
    http_event,
    jwt_event,
    load_function,
    queue_url,
    sqs,
    sqs_records,
    zip_files,
)

# The sandbox refuses this template and the worker logs so from inside the task's run.
ESCAPE = zip_files({
    "dap.yaml": "name: E\nsteps:\n  - compose: {template: t.txt, as: t}\n  - store: {from: t, id: T}\n",
    "t.txt": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
})
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JOB_SCOPES = ("workflow.execute", "job.admin")


def queued() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        if not answer.get("Messages"):
            return found
        found.extend(answer["Messages"])


def with_request_id(ev: dict[str, Any], request_id: str) -> dict[str, Any]:
    ev["requestContext"]["requestId"] = request_id
    return ev


def with_path(ev: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The route's path with these parameters, as API Gateway passes both."""
    path = ev["routeKey"].split(" ", 1)[1]
    for key, value in params.items():
        path = path.replace("{" + key + "}", value)
    ev["pathParameters"] = params
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = path
    return ev


def values(blob: dict[str, Any], name: str) -> list[float]:
    value = blob[name]
    return value if isinstance(value, list) else [value]


def only_blob(printed: str, family: str) -> dict[str, Any]:
    [blob] = emf_blobs(printed)
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Tasklane"
    assert directive["Dimensions"] == [["family", "service"]] and blob["family"] == family
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert all(units[name] == ("Milliseconds" if name == "Duration" else "Count") for name in units), units
    return blob


def metric_names(blob: dict[str, Any]) -> set[str]:
    return {metric["Name"] for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def milliseconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000


# --- log keys


def test_a_document_routes_lines_carry_the_tenant_the_ids_it_names_and_the_request_id(aws, template_id, ctx):
    handlers = {name: load_function(name).lambda_handler for name in ("post_task", "post_batch", "get_batch_task", "get_template")}
    with captured_logs() as logs:
        task = handlers["post_task"](
            with_request_id(http_event("post_task", body={"template": template_id, "params": {"id": "1"}}), "req-task"), ctx
        )
        batch = handlers["post_batch"](
            with_request_id(http_event("post_batch", body={"template": template_id, "tasks": [{"params": {"id": "2"}}]}), "req-batch"),
            ctx,
        )
        batch_id, [batch_task] = body_of(batch)["id"], body_of(batch)["tasks"]
        handlers["get_batch_task"](
            with_request_id(http_event("get_batch_task", path_params={"batchId": batch_id, "taskId": batch_task}), "req-get"), ctx
        )
        handlers["get_template"](
            with_request_id(http_event("get_template", tenant="globex", path_params={"templateId": template_id}), "req-tpl"), ctx
        )
    by_request = {line["correlation_id"]: line for line in logs.named("answered")}
    assert set(by_request) == {"req-task", "req-batch", "req-get", "req-tpl"}
    assert by_request["req-task"]["task_id"] == body_of(task)["taskID"] and by_request["req-task"]["status"] == 202
    assert by_request["req-batch"]["batch_id"] == batch_id and "task_id" not in by_request["req-batch"]
    assert (by_request["req-get"]["batch_id"], by_request["req-get"]["task_id"]) == (batch_id, batch_task)
    # Another tenant's template: refused as unknown, and the line says who asked for what.
    refused = [line for line in logs.named("request refused") if line["correlation_id"] == "req-tpl"]
    assert refused and refused[0]["tenant"] == "globex" and refused[0]["template_id"] == template_id
    assert by_request["req-tpl"]["status"] == 404
    assert {line["tenant"] for line in by_request.values()} == {"acme", "globex"}
    assert all(line["function_request_id"] == ctx.aws_request_id for line in by_request.values())


def test_the_authorizers_lines_carry_the_request_id(aws, ctx):
    ev = with_request_id(event("authorizer"), "req-auth")
    ev["headers"] = {"authorization": "Bearer not.a.jwt"}
    with captured_logs() as logs:
        assert load_function("authorizer").lambda_handler(ev, ctx)["isAuthorized"] is False
    [denied] = logs.named("denied")
    assert denied["correlation_id"] == "req-auth" and denied["status"] == 401


def test_generic_task_and_job_lines_carry_their_ids_and_folder(aws, ctx):
    create, complete = load_function("create_generic_task").lambda_handler, load_function("complete_generic_task").lambda_handler
    listing, sync = load_function("list_generic_tasks").lambda_handler, load_function("sync_job").lambda_handler
    get_job = load_function("get_job").lambda_handler
    job = {"metadata": {"clientJobId": "job-7", "status": "InProgress", "updated": "2026-03-02T09:00:00Z"}, "completedSteps": []}
    with captured_logs() as logs:
        created = body_of(create(jwt_event("create_generic_task", body={"type": "ExternalTask", "title": "t"}, request_id="r1"), ctx))
        complete(jwt_event("complete_generic_task", body={"taskId": created["id"], "data": {}}, request_id="r2"), ctx)
        listing(jwt_event("list_generic_tasks", query={}, headers={"X-UIPATH-OrganizationUnitId": "1"}, request_id="r3"), ctx)
        sync(jwt_event("sync_job", scopes=JOB_SCOPES, body=job, request_id="r4"), ctx)
        get_job(with_path(jwt_event("get_job", scopes=JOB_SCOPES, request_id="r5"), {"clientJobId": "job-7"}), ctx)
    lines = {line["correlation_id"]: line for line in logs.named("answered")}
    assert lines["r5"]["status"] == 200
    assert (lines["r1"]["generic_task_id"], lines["r1"]["folder_id"], lines["r1"]["status"]) == (created["id"], 1, 201)
    assert lines["r2"]["generic_task_id"] == created["id"] and lines["r2"]["status"] == 204
    assert lines["r3"]["folder_id"] == "1" and "generic_task_id" not in lines["r3"]
    assert lines["r4"]["client_job_id"] == "job-7" and lines["r5"]["client_job_id"] == "job-7"
    assert all(line["tenant"] == "acme" for line in lines.values())


def test_no_key_outlives_its_invocation(aws, ctx):
    """Powertools keeps appended keys for the process: a warm environment's next request must not
    inherit the last one's tenant or ids."""
    handler = load_function("get_generic_task").lambda_handler
    by_id = jwt_event("get_generic_task", query={"taskId": "7"}, headers={"X-UIPATH-OrganizationUnitId": "1"}, request_id="r1")
    by_key = jwt_event("get_generic_task", query={"taskKey": str(uuid.uuid4())}, request_id="r2")
    by_key["routeKey"] = "GET /tasks/GenericTasks/GetTaskDataByKey"
    by_key["rawPath"] = by_key["requestContext"]["http"]["path"] = "/tasks/GenericTasks/GetTaskDataByKey"
    del by_key["requestContext"]["authorizer"]  # no caller: refused before any tenant is known
    with captured_logs() as logs:
        assert handler(by_id, ctx)["statusCode"] == 404
        assert handler(by_key, ctx)["statusCode"] == 401
    first = [line for line in logs.lines() if line.get("correlation_id") == "r1"]
    second = [line for line in logs.lines() if line.get("correlation_id") == "r2"]
    assert first and all(line["tenant"] == "acme" and line["generic_task_id"] == "7" for line in first)
    assert second and all("generic_task_key" in line for line in second)
    assert not {"tenant", "generic_task_id", "folder_id"} & {key for line in second for key in line}


def test_worker_lines_carry_their_unit_and_the_task_that_runs(aws, ctx):
    escape = templates.upload(aws, "acme", ESCAPE).id
    batch = body_of(load_function("post_batch").lambda_handler(
        http_event("post_batch", body={"template": escape, "tasks": [{"params": {}}, {"params": {}}]}), ctx
    ))
    single = body_of(load_function("post_task").lambda_handler(http_event("post_task", body={"template": escape, "params": {}}), ctx))
    # The chunk first: the single task's record after it must not inherit the chunk's keys.
    messages = sorted(queued(), key=lambda m: "batchId" not in m["MessageAttributes"]["unit"]["StringValue"])
    with captured_logs() as logs:
        assert load_function("worker").lambda_handler({"Records": sqs_records(messages)}, ctx) == {"batchItemFailures": []}
    refusals = {line["task_id"]: line for line in logs.named("sandbox refused a template")}
    assert set(refusals) == {*batch["tasks"], single["taskID"]}
    for task_id in batch["tasks"]:
        line = refusals[task_id]
        assert (line["tenant"], line["batch_id"], line["chunk"], line["task_ids"]) == ("acme", batch["id"], 0, batch["tasks"])
    alone = refusals[single["taskID"]]
    assert alone["task_ids"] == [single["taskID"]] and "batch_id" not in alone and "chunk" not in alone
    ran = logs.named("unit ran")
    assert [line["message_id"] for line in ran] == [m["MessageId"] for m in messages]
    assert [(line["tasks"], line["failed"]) for line in ran] == [(2, 2), (1, 1)]
    assert all("task_id" not in line for line in ran)


# --- metrics


def test_document_tasks_count_what_is_accepted_completed_and_failed_and_how_long_each_ran(aws, template_id, ctx, capsys):
    post_task, post_batch = load_function("post_task").lambda_handler, load_function("post_batch").lambda_handler
    escape = templates.upload(aws, "acme", ESCAPE).id
    capsys.readouterr()
    replayed = http_event("post_task", body={"template": template_id, "params": {"id": "1"}})
    replayed["headers"]["idempotency-key"] = "k-1"
    first = post_task(copy.deepcopy(replayed), ctx)
    assert values(only_blob(capsys.readouterr().out, "documents"), "Accepted") == [1]
    assert post_task(copy.deepcopy(replayed), ctx)["body"] == first["body"]
    assert emf_blobs(capsys.readouterr().out) == []  # a replay accepts nothing
    batch = body_of(post_batch(http_event("post_batch", body={"template": escape, "tasks": [{"params": {}}] * 3}), ctx))
    assert values(only_blob(capsys.readouterr().out, "documents"), "Accepted") == [3]

    assert load_function("worker").lambda_handler({"Records": sqs_records(queued())}, ctx) == {"batchItemFailures": []}
    blob = only_blob(capsys.readouterr().out, "documents")
    assert metric_names(blob) == {"Completed", "Failed", "Duration"}
    assert (sum(values(blob, "Completed")), sum(values(blob, "Failed"))) == (1, 3)
    statuses = [body_of(load_function("get_task").lambda_handler(
        http_event("get_task", path_params={"taskId": body_of(first)["taskID"]}), ctx
    ))] + [
        body_of(load_function("get_batch_task").lambda_handler(
            http_event("get_batch_task", path_params={"batchId": batch["id"], "taskId": task_id}), ctx
        ))
        for task_id in batch["tasks"]
    ]
    ran = sorted(milliseconds(s["startDateTime"], s["endDateTime"]) for s in statuses)
    assert sorted(values(blob, "Duration")) == ran


def test_dead_lettered_tasks_count_as_failed(aws, template_id, ctx, capsys):
    load_function("post_task").lambda_handler(http_event("post_task", body={"template": template_id, "params": {"id": "1"}}), ctx)
    capsys.readouterr()
    assert load_function("dead_letters").lambda_handler({"Records": sqs_records(queued())}, ctx) == {"batchItemFailures": []}
    blob = only_blob(capsys.readouterr().out, "documents")
    assert metric_names(blob) == {"Failed"} and values(blob, "Failed") == [1]


def test_generic_tasks_count_creations_and_completions_with_the_time_between(aws, ctx, capsys):
    aws.clock = FixedClock(START)
    create, complete = load_function("create_generic_task").lambda_handler, load_function("complete_generic_task").lambda_handler
    capsys.readouterr()
    created = body_of(create(jwt_event("create_generic_task", body={"type": "ExternalTask", "title": "t"}), ctx))
    blob = only_blob(capsys.readouterr().out, "generic_tasks")
    assert metric_names(blob) == {"Accepted"} and values(blob, "Accepted") == [1]
    aws.clock.moment = START + timedelta(minutes=90)
    assert complete(jwt_event("complete_generic_task", body={"taskId": created["id"]}), ctx)["statusCode"] == 204
    blob = only_blob(capsys.readouterr().out, "generic_tasks")
    assert (values(blob, "Completed"), values(blob, "Duration")) == ([1], [90 * 60 * 1000])
    # Completing it again is refused (409): nothing completed, nothing counted.
    assert complete(jwt_event("complete_generic_task", body={"taskId": created["id"]}), ctx)["statusCode"] == 409
    assert emf_blobs(capsys.readouterr().out) == []


@pytest.mark.parametrize("final", ["Completed", "Aborted"])
def test_jobs_count_creation_once_and_the_ending_once_with_the_jobs_lifetime(aws, ctx, capsys, final):
    aws.clock = FixedClock(START)
    sync, abort = load_function("sync_job").lambda_handler, load_function("abort_job").lambda_handler

    def synced(status: str, updated: str) -> int:
        body = {"metadata": {"clientJobId": "job-1", "status": status, "updated": updated}, "completedSteps": []}
        return int(sync(jwt_event("sync_job", scopes=JOB_SCOPES, body=body), ctx)["statusCode"])

    capsys.readouterr()
    assert synced("InProgress", "2026-03-02T09:00:00Z") == 201
    blob = only_blob(capsys.readouterr().out, "jobs")
    assert metric_names(blob) == {"Accepted"} and values(blob, "Accepted") == [1]
    assert synced("InProgress", "2026-03-02T09:30:00Z") == 200
    assert emf_blobs(capsys.readouterr().out) == []  # a merge neither creates nor ends the job
    aws.clock.moment = START + timedelta(hours=2)
    if final == "Completed":
        assert synced("Completed", "2026-03-02T11:00:00Z") == 200
    else:
        ev = with_path(jwt_event("abort_job", scopes=JOB_SCOPES, body={"abandonReason": "weather"}), {"clientJobId": "job-1"})
        assert abort(ev, ctx)["statusCode"] == 200
    blob = only_blob(capsys.readouterr().out, "jobs")
    counted = "Completed" if final == "Completed" else "Failed"
    assert metric_names(blob) == {counted, "Duration"}
    assert (values(blob, counted), values(blob, "Duration")) == ([1], [2 * 3600 * 1000])
    # The same final status synced again ends nothing a second time.
    assert synced(final, "2026-03-02T12:00:00Z") == 200
    assert emf_blobs(capsys.readouterr().out) == []
