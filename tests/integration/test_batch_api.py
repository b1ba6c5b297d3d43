"""POST /v1/batch, GET /v1/batch/{id}, GET /v1/batch/{id}/{taskId}, GET /v1/license."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tasklane.domain.records import UnitMessage
from tests.integration.test_task_api import queued_messages
from tests.support import aws_error, aws_fault, bucket, dynamodb, queue_url, s3, sqs, table, FixedClock, body_of, dap_part, http_event, json_part, load_function, multipart, simple_dap

NAMES = ("post_batch", "get_batch", "get_batch_task", "get_license", "post_task", "worker")


@pytest.fixture
def handlers(aws):
    return {name: load_function(name).lambda_handler for name in NAMES}


def post(handlers, ctx, body: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
    return handlers["post_batch"](http_event("post_batch", tenant=tenant, body=body), ctx)


def batch_status(handlers, ctx, batch_id: str, tenant: str = "acme") -> dict[str, Any]:
    return handlers["get_batch"](http_event("get_batch", tenant=tenant, path_params={"batchId": batch_id}), ctx)


def task_status(handlers, ctx, batch_id: str, task_id: str, tenant: str = "acme") -> dict[str, Any]:
    ev = http_event("get_batch_task", tenant=tenant, path_params={"batchId": batch_id, "taskId": task_id})
    return handlers["get_batch_task"](ev, ctx)


def drain(aws, handlers, ctx) -> None:
    """Run the worker until the queue is empty, as the event source would."""
    client = sqs()
    while True:
        messages = client.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {},
             "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}
            for m in messages
        ]
        answer = handlers["worker"]({"Records": records}, ctx)
        assert answer == {"batchItemFailures": []}
        client.delete_message_batch(
            QueueUrl=queue_url(),
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def test_post_answers_202_with_ids_in_order_and_license_usage(aws, handlers, template_id, ctx):
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(23)]})
    assert answer["statusCode"] == 202
    body = body_of(answer)
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert len(body["tasks"]) == 23 and len(set(body["tasks"])) == 23
    assert all(re.fullmatch(r"[0-9a-f-]{36}", t) for t in body["tasks"])
    assert body["message"] == "Success" and body["licenseUsage"] == 23
    messages = [UnitMessage.model_validate_json(m["Body"]) for m in queued_messages(aws)]
    assert sorted(len(m.taskIds) for m in messages) == [3, 10, 10]
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["statusMessage"] == "Waiting" and status["completed"] is False
    assert [t["id"] for t in status["tasks"]] == body["tasks"]
    assert status["progress"] == {"total": 23, "queued": 23, "running": 0, "completed": 0, "failed": 0}


def test_batch_runs_to_completed_with_some_failures(aws, handlers, ctx):
    from tasklane.domain import templates

    failing_b = templates.upload(aws, "acme", simple_dap("{% if param.id == 'b' %}{{ nothing.here }}{% endif %}Hello")).id
    tasks = [{"params": {"id": "a"}}, {"params": {"id": "b"}}, {"params": {"id": "c"}}]
    body = body_of(post(handlers, ctx, {"template": failing_b, "tasks": tasks}))
    drain(aws, handlers, ctx)
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["completed"] is True and status["errors"] is True
    assert status["statusMessage"] == "Completed"
    assert status["completedDateTime"].endswith("Z")
    assert [(t["completed"], t["errors"]) for t in status["tasks"]] == [(True, False), (True, True), (True, False)]
    assert status["progress"] == {"total": 3, "queued": 0, "running": 0, "completed": 2, "failed": 1}
    good = body_of(task_status(handlers, ctx, body["id"], body["tasks"][0]))
    assert good["statusMessage"] == "Ready" and good["resultList"][0]["id"] == "Hello"
    bad = body_of(task_status(handlers, ctx, body["id"], body["tasks"][1]))
    assert bad["errors"] is True and bad["logs"][0]["level"] == "SEVERE"


def _with_query(event: dict[str, Any], query: str) -> dict[str, Any]:
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    return event


def test_a_batch_s_results_are_listed_in_one_get_when_asked(aws, handlers, ctx):
    from tasklane.domain import templates

    failing_b = templates.upload(aws, "acme", simple_dap("{% if param.id == 'b' %}{{ nothing.here }}{% endif %}Hello")).id
    tasks = [{"params": {"id": i}} for i in ("a", "b", "c")]
    body = body_of(post(handlers, ctx, {"template": failing_b, "tasks": tasks}))

    def listed(query: str) -> dict[str, Any]:
        event = http_event("get_batch", path_params={"batchId": body["id"]})
        return handlers["get_batch"](_with_query(event, query), ctx)

    queued = body_of(listed("results=true"))
    assert [(t["results"], t["resultList"]) for t in queued["tasks"]] == [([], [])] * 3
    drain(aws, handlers, ctx)
    done = body_of(listed("results=true"))
    for task, expect_results in zip(done["tasks"], (True, False, True), strict=True):
        alone = body_of(task_status(handlers, ctx, body["id"], task["id"]))
        assert task["results"] == alone["results"] == (["Hello"] if expect_results else [])
        assert [r["id"] for r in task["resultList"]] == [r["id"] for r in alone["resultList"]]
        assert all("Signature=" in r["url"] or "X-Amz-Signature=" in r["url"] for r in task["resultList"])
    # Unasked (or false), the answer is Dynamo's: no results fields.
    for plain in (batch_status(handlers, ctx, body["id"]), listed("results=false")):
        assert all(set(t) == {"id", "completed", "errors"} for t in body_of(plain)["tasks"])
    refused = listed("results=yes")
    assert refused["statusCode"] == 400
    assert body_of(refused)["errors"] == [{"loc": "query.results", "message": "must be true or false", "type": "invalid"}]


def test_listing_a_batch_s_results_makes_no_aws_call_more(aws, handlers, ctx, template_id):
    from tasklane.storage.clients import aws_client

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i), "name": "n"}} for i in range(25)]}))
    drain(aws, handlers, ctx)
    calls: list[str] = []
    hook = lambda event_name, **_: calls.append(event_name)  # noqa: E731
    for service in ("s3", "dynamodb"):
        aws_client(service).meta.events.register("before-call", hook)
    try:
        batch_status(handlers, ctx, body["id"])
        plain, calls[:] = list(calls), []
        event = _with_query(http_event("get_batch", path_params={"batchId": body["id"]}), "results=true")
        answer = body_of(handlers["get_batch"](event, ctx))
    finally:
        for service in ("s3", "dynamodb"):
            aws_client(service).meta.events.unregister("before-call", hook)
    assert all(len(t["resultList"]) == 1 for t in answer["tasks"])
    assert calls == plain and plain


def test_every_tasks_declared_params_are_checked_before_anything_is_stored(aws, handlers, template_id, ctx):
    s3_before = s3().list_objects_v2(Bucket=bucket()).get("KeyCount", 0)
    tasks = [{"params": {"id": "a"}}, {"params": {}}, {"params": {"id": ["c"]}}, {"params": {"id": None}}]

    refused = post(handlers, ctx, {"template": template_id, "tasks": tasks})

    assert refused["statusCode"] == 400
    assert [(e["loc"], e["message"]) for e in body_of(refused)["errors"]] == [
        ("tasks[1].params.id", "Missing required param 'id'"),
        ("tasks[2].params.id", "Param 'id' must be a string, got array"),
        ("tasks[3].params.id", "Missing required param 'id'"),
    ]
    assert queued_messages(aws) == []
    assert s3().list_objects_v2(Bucket=bucket()).get("KeyCount", 0) == s3_before
    assert body_of(handlers["get_license"](http_event("get_license"), ctx))["used"] == 0


def test_a_param_a_task_takes_from_a_part_counts_as_given(aws, handlers, ctx):
    data = {"tasks": [{"params": {}, "partParams": [{"partName": "who", "paramName": "id"}]}]}
    body, content_type = multipart([json_part("data", data), json_part("param.who", "7"), dap_part(simple_dap())])

    answer = handlers["post_batch"](http_event("post_batch", body=body, content_type=content_type), ctx)

    assert answer["statusCode"] == 202, body_of(answer)


def test_queued_batch_task_has_task_status_shape(aws, handlers, template_id, ctx):
    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "a"}}]}))
    status = body_of(task_status(handlers, ctx, body["id"], body["tasks"][0]))
    assert status["statusMessage"] == "Queued" and status["completed"] is False
    assert set(status) == {"completed", "errors", "statusMessage", "statusDescription", "startDateTime",
                           "endDateTime", "logs", "log", "results", "resultList"}


def test_404_across_batches_and_tenants(aws, handlers, template_id, ctx):
    first = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "a"}}]}))
    second = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "b"}}]}))
    assert task_status(handlers, ctx, first["id"], second["tasks"][0])["statusCode"] == 404
    assert task_status(handlers, ctx, first["id"], first["tasks"][0], tenant="globex")["statusCode"] == 404
    assert batch_status(handlers, ctx, first["id"], tenant="globex")["statusCode"] == 404
    assert batch_status(handlers, ctx, "0" * 32)["statusCode"] == 404
    drain(aws, handlers, ctx)
    assert task_status(handlers, ctx, first["id"], second["tasks"][0])["statusCode"] == 404


@pytest.mark.parametrize("count", [0, 1001])
def test_task_count_limit(aws, handlers, template_id, ctx, count):
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "x"}}] * count})
    assert answer["statusCode"] == 400
    [problem] = body_of(answer)["errors"]
    assert problem["loc"] == "tasks"
    assert problem["message"] == f"a batch holds 1 to 1,000 tasks; got {count}"
    assert "1 to 1,000 tasks" in body_of(answer)["message"]
    assert queued_messages(aws) == []


def test_thousand_tasks_accepted(aws, handlers, template_id, ctx):
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(1000)]})
    assert answer["statusCode"] == 202
    assert body_of(answer)["licenseUsage"] == 1000


def test_multipart_part_params_merge_later_overwrites(aws, handlers, ctx):
    data = {
        "tasks": [
            {"params": {"id": "1"}, "partParams": [{"partName": "a", "paramName": "extra"}]},
            {"params": {"id": "2", "extra": "kept?"}, "partParams": [
                {"partName": "a", "paramName": "extra"}, {"partName": "b", "paramName": "extra"}]},
            {"params": {"id": "3"}},
        ]
    }
    body, ctype = multipart([dap_part(simple_dap()), json_part("data", data), json_part("param.a", {"v": "A"}),
                             json_part("param.b", {"v": "B"})])
    answer = handlers["post_batch"](http_event("post_batch", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 202, answer["body"]
    accepted = body_of(answer)
    drain(aws, handlers, ctx)
    outputs = []
    for task_id, record_id in zip(accepted["tasks"], ("1", "2", "3"), strict=True):
        key = f"results/acme/{task_id}/Hello/hello-{record_id}.txt"
        outputs.append(s3().get_object(Bucket=bucket(), Key=key)["Body"].read().decode())
    assert outputs[0].endswith('{"v": "A"}')
    assert outputs[1].endswith('{"v": "B"}')  # whole-value overwrite, in partParams order
    assert "extra" not in outputs[2] and not outputs[2].endswith("}")


def test_part_params_naming_a_missing_part_is_400(aws, handlers, ctx):
    data = {"tasks": [{"params": {"id": "1"}, "partParams": [{"partName": "nope", "paramName": "x"}]}]}
    body, ctype = multipart([dap_part(simple_dap()), json_part("data", data)])
    answer = handlers["post_batch"](http_event("post_batch", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 400
    [problem] = body_of(answer)["errors"]
    assert problem["loc"] == "tasks[0].partParams[0].partName" and "param.nope" in problem["message"]
    assert queued_messages(aws) == []


def test_salesforce_batch_requires_record_ids(aws, handlers, template_id, ctx):
    integration = {"type": "Salesforce", "sessionID": "s", "serverURL": "https://x.my.salesforce.com"}
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {}}], "integration": integration})
    assert answer["statusCode"] == 400
    assert "params.id" in json.dumps(body_of(answer))


def test_license_quota_refuses_whole_batch_and_stores_nothing(aws, handlers, template_id, ctx):
    aws.licenses.set_quota("acme", 5)
    assert post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "x"}}] * 3})["statusCode"] == 202
    for m in queued_messages(aws):
        sqs().delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
    s3_before = s3().list_objects_v2(Bucket=bucket()).get("KeyCount", 0)
    refused = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "x"}}] * 3})
    assert refused["statusCode"] == 402
    assert body_of(refused)["code"] == "license_exceeded"
    assert "2 of 5" in body_of(refused)["message"]
    assert queued_messages(aws) == []
    assert s3().list_objects_v2(Bucket=bucket()).get("KeyCount", 0) == s3_before
    license = body_of(handlers["get_license"](http_event("get_license"), ctx))
    assert license["used"] == 3 and license["quota"] == 5 and license["remaining"] == 2
    single = handlers["post_task"](http_event("post_task", body={"template": template_id, "params": {"id": "1"}}), ctx)
    assert body_of(single)["usage"] == {"api": {"term": 4, "termMax": 5}}


def test_failure_part_way_leaves_no_runnable_task(aws, handlers, template_id, ctx):
    client = sqs()
    calls = []

    def fail_third_send(**_: Any) -> Any:
        calls.append(1)
        return aws_error("ServiceUnavailable", 503) if len(calls) == 3 else None

    client.meta.events.register("before-call.sqs.SendMessageBatch", fail_third_send, unique_id="fail")
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(250)]})
    client.meta.events.unregister("before-call.sqs.SendMessageBatch", unique_id="fail")
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "5"
    assert len(calls) == 3
    assert len(queued_messages(aws)) == 10  # one receive's worth of the 20 messages that got through
    drain(aws, handlers, ctx)
    results = s3().list_objects_v2(Bucket=bucket(), Prefix="results/").get("KeyCount", 0)
    assert results == 0
    license = body_of(handlers["get_license"](http_event("get_license"), ctx))
    assert license["used"] == 0


def test_message_that_outruns_the_commit_is_retried_soon(aws, template_id, monkeypatch):
    from tasklane.domain import execution
    from tasklane.domain.batches import _messages
    from tasklane.domain.records import BatchRecord, BatchState

    batch = BatchRecord("acme", "b" * 32, BatchState.ACCEPTING, template_id, "inputs/acme/x.json", ["t1"], "2026-11-23T13:20:38.000Z")
    aws.clock = FixedClock(__import__("datetime").datetime(2026, 11, 23, 13, 20, 39, tzinfo=__import__("datetime").UTC))
    aws.batches.put_batch(batch, 2_000_000_000)
    retried = []
    monkeypatch.setattr(aws.queue, "retry_soon", lambda handle, seconds: retried.append((handle, seconds)))
    with pytest.raises(execution.BatchNotYetAccepted):
        execution.Worker(aws).handle(_messages(batch)[0], "rh", 60_000)
    assert retried == [("rh", execution.NOT_YET_ACCEPTED_RETRY_SECONDS)]


def test_redelivered_chunk_does_nothing_and_a_dead_run_is_taken_over(aws, handlers, template_id, ctx, monkeypatch):
    from datetime import timedelta

    from tasklane import timeutil
    from tasklane.domain import execution

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(12)]}))
    first, second = sorted((UnitMessage.model_validate_json(m["Body"]) for m in queued_messages(aws)), key=lambda m: m.chunk or 0)
    worker = execution.Worker(aws)

    assert len(worker.handle(first, "rh", 60_000)) == 10
    assert worker.handle(first, "rh", 60_000) == []  # redelivered: already finished
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["statusMessage"] == "Started"
    assert status["progress"] == {"total": 12, "queued": 2, "running": 0, "completed": 10, "failed": 0}

    # A run that dies after claiming leaves the chunk Running under a lease...
    def die(**_: Any) -> None:
        raise RuntimeError("worker died")

    s3().meta.events.register("before-call.s3.PutObject", die, unique_id="die")
    with pytest.raises(RuntimeError):
        worker.handle(second, "rh", 60_000)
    s3().meta.events.unregister("before-call.s3.PutObject", unique_id="die")
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["progress"]["running"] == 2
    assert body_of(task_status(handlers, ctx, body["id"], body["tasks"][10]))["statusMessage"] == "Running"
    assert worker.handle(second, "rh", 60_000) == []  # ...which another delivery respects while it lasts,

    later = timeutil.now() + timedelta(minutes=13)
    aws.clock = FixedClock(later)
    assert len(worker.handle(second, "rh", 60_000)) == 2  # ...and takes over once it has run out.
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["completed"] is True and status["progress"]["completed"] == 12


def test_rejected_batch_messages_run_nothing(aws, handlers, template_id, ctx):
    from tasklane.domain import execution
    from tasklane.domain.batches import _messages
    from tasklane.domain.records import BatchRecord, BatchState

    batch = BatchRecord("acme", "c" * 32, BatchState.ACCEPTING, template_id, "inputs/acme/c.json", ["t1"], "2026-11-23T13:20:38.000Z")
    aws.batches.put_batch(batch, 2_000_000_000)
    aws.batches.set_batch_state("acme", batch.batch_id, BatchState.ACCEPTING, BatchState.REJECTED)
    assert execution.Worker(aws).handle(_messages(batch)[0], "rh", 60_000) == []
    assert aws.batches.get_chunk("acme", batch.batch_id, 0) is None


def test_abandoned_accepting_batch_is_dropped_after_the_horizon(aws, template_id, monkeypatch):
    from datetime import UTC, datetime

    from tasklane.domain import execution
    from tasklane.domain.batches import _messages
    from tasklane.domain.records import BatchRecord, BatchState

    batch = BatchRecord("acme", "d" * 32, BatchState.ACCEPTING, template_id, "inputs/acme/d.json", ["t1"], "2026-11-23T13:20:38.000Z")
    aws.batches.put_batch(batch, 2_000_000_000)
    aws.clock = FixedClock(datetime(2026, 11, 23, 13, 22, 0, tzinfo=UTC))
    assert execution.Worker(aws).handle(_messages(batch)[0], "rh", 60_000) == []
    assert aws.batches.get_chunk("acme", batch.batch_id, 0) is None


def test_dead_lettered_chunk_ends_failed_and_completes_the_batch(aws, handlers, template_id, ctx):
    from tasklane.domain import execution

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(12)]}))
    first, second = sorted((UnitMessage.model_validate_json(m["Body"]) for m in queued_messages(aws)), key=lambda m: m.chunk or 0)
    worker = execution.Worker(aws)
    worker.handle(first, "rh", 60_000)
    assert worker.give_up(first) == []  # finished after all: left as it is
    assert len(worker.give_up(second)) == 2
    given_up = dynamodb().get_item(TableName=table(), Key={"pk": {"S": f"TENANT#acme#BATCH#{body['id']}"}, "sk": {"S": "CHUNK#0001"}})["Item"]
    assert "expiresAt" in given_up  # a chunk no run claimed still expires
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["completed"] is True and status["errors"] is True
    assert status["progress"] == {"total": 12, "queued": 0, "running": 0, "completed": 10, "failed": 2}
    failed = body_of(task_status(handlers, ctx, body["id"], body["tasks"][11]))
    assert failed["errors"] is True and "every attempt failed" in failed["statusMessage"]


def test_early_message_retries_soon_then_when_the_accept_is_decided(aws, template_id, monkeypatch):
    from datetime import UTC, datetime

    from tasklane.domain import execution
    from tasklane.domain.batches import _messages
    from tasklane.domain.records import BatchRecord, BatchState

    batch = BatchRecord("acme", "e" * 32, BatchState.ACCEPTING, template_id, "inputs/acme/e.json", ["t1"], "2026-11-23T13:20:38.000Z")
    aws.batches.put_batch(batch, 2_000_000_000)
    aws.clock = FixedClock(datetime(2026, 11, 23, 13, 20, 40, tzinfo=UTC))
    delays = []
    monkeypatch.setattr(aws.queue, "retry_soon", lambda handle, seconds: delays.append(seconds))
    for receive_count in (1, 2):
        with pytest.raises(execution.BatchNotYetAccepted):
            execution.Worker(aws).handle(_messages(batch)[0], "rh", 60_000, receive_count)
    assert delays == [2, 39]  # then posted + 40 s has passed: Accepted runs, Accepting is dropped


def test_lost_commit_answer_still_answers_202(aws, handlers, template_id, ctx):
    ddb = dynamodb()
    seen: list[str] = []

    def note(**kwargs: Any) -> None:
        seen.append("Accepted" if "Accepted" in str(kwargs.get("params")) else "other")

    def lose_answer(**_: Any) -> None:
        if seen and seen[-1] == "Accepted":
            seen.append("lost")
            raise RuntimeError("connection reset after the write")

    ddb.meta.events.register("before-call.dynamodb.UpdateItem", note, unique_id="note")
    ddb.meta.events.register("after-call.dynamodb.UpdateItem", lose_answer, unique_id="lose")
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "1"}}]})
    ddb.meta.events.unregister("before-call.dynamodb.UpdateItem", unique_id="note")
    ddb.meta.events.unregister("after-call.dynamodb.UpdateItem", unique_id="lose")
    assert "lost" in seen and answer["statusCode"] == 202
    drain(aws, handlers, ctx)
    assert body_of(batch_status(handlers, ctx, body_of(answer)["id"]))["completed"] is True


def test_failed_rollback_step_does_not_skip_the_refund(aws, handlers, template_id, ctx):
    client, ddb = sqs(), dynamodb()

    def fail(**_: Any) -> None:
        raise RuntimeError("down")

    client.meta.events.register("before-call.sqs.SendMessageBatch", lambda **_: aws_error("InternalError", 500), unique_id="f1")
    ddb.meta.events.register("before-call.dynamodb.UpdateItem", lambda **kw: fail() if "Rejected" in str(kw.get("params")) else None, unique_id="f2")
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "1"}}] * 4})
    client.meta.events.unregister("before-call.sqs.SendMessageBatch", unique_id="f1")
    ddb.meta.events.unregister("before-call.dynamodb.UpdateItem", unique_id="f2")
    assert answer["statusCode"] == 503
    assert body_of(handlers["get_license"](http_event("get_license"), ctx))["used"] == 0


def test_batch_status_expires_after_24_hours(aws, handlers, template_id, ctx, monkeypatch):
    from datetime import timedelta

    from tasklane import timeutil

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "1"}}]}))
    later = timeutil.now() + timedelta(hours=24, seconds=1)
    aws.clock = FixedClock(later)
    assert batch_status(handlers, ctx, body["id"])["statusCode"] == 404
    assert task_status(handlers, ctx, body["id"], body["tasks"][0])["statusCode"] == 404


def test_another_tenants_template_is_400(aws, handlers, template_id, ctx):
    answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": "1"}}]}, tenant="globex")
    assert answer["statusCode"] == 400 and body_of(answer)["errors"][0]["loc"] == "template"


def test_idempotency_key_makes_a_batch_retry_safe(aws, handlers, template_id, ctx):
    ev = http_event("post_batch", body={"template": template_id, "tasks": [{"params": {"id": "1"}}] * 3})
    ev["headers"]["idempotency-key"] = "batch-7"
    first, again = handlers["post_batch"](ev, ctx), handlers["post_batch"](ev, ctx)
    assert body_of(first) == body_of(again)
    assert len(queued_messages(aws)) == 1
    assert body_of(handlers["get_license"](http_event("get_license"), ctx))["used"] == 3


def test_the_batch_completion_is_recorded_once_by_the_last_chunk(aws, handlers, template_id, ctx):
    """Both chunks were claimed when 20 tasks remained; the second to finish is refused as 'not last'
    (10 remain by then), which is how it learns it is last. moto in-process is not isolated, so the
    interleaving is played in order here; DynamoDB serializes the two transactions the same way."""
    from tasklane.domain.records import RunUnit, TaskOutcome

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(20)]}))
    tasks = body["tasks"]
    units = [RunUnit(tenant="acme", batchId=body["id"], chunk=i, taskIds=tasks[i * 10 : i * 10 + 10]) for i in (0, 1)]
    for index, unit in enumerate(units):
        assert aws.batches.claim(unit, f"run{index}", "2026-12-01T00:00:00.000Z", 0, 2_000_000_000, 2_000_000_000)

    def finish(index: int) -> None:
        outcomes = [TaskOutcome(t, True, "Ready", [], [], "s", "e") for t in units[index].taskIds]
        assert aws.batches.finish(units[index], outcomes, f"run{index}", f"2026-12-01T00:00:0{index}.000Z")

    finish(0)
    assert aws.batches.get_batch("acme", body["id"], 0).completed_at is None
    finish(1)
    batch = aws.batches.get_batch("acme", body["id"], 0)
    assert batch.succeeded == 20 and batch.failed == 0
    assert batch.completed_at == "2026-12-01T00:00:01.000Z"
    status = body_of(batch_status(handlers, ctx, body["id"]))
    assert status["completed"] is True and status["completedDateTime"] == batch.completed_at

    # A redelivery of either chunk is refused by the chunk's own condition: nothing moves again.
    late = [TaskOutcome(t, False, "late", [], [], "s", "e") for t in units[1].taskIds]
    assert aws.batches.give_up(units[1], late, "2026-12-02T00:00:00.000Z") is False
    assert aws.batches.get_batch("acme", body["id"], 0).completed_at == batch.completed_at


def test_a_batch_not_yet_finished_records_no_completion(aws, handlers, template_id, ctx):
    from tasklane.domain.records import RunUnit, TaskOutcome

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(11)]}))
    unit = RunUnit(tenant="acme", batchId=body["id"], chunk=0, taskIds=body["tasks"][:10])
    assert aws.batches.claim(unit, "r", "s", 0, 2_000_000_000, 2_000_000_000)
    assert aws.batches.finish(unit, [TaskOutcome(t, True, "Ready", [], [], "s", "e") for t in unit.taskIds], "r", "x")
    batch = aws.batches.get_batch("acme", body["id"], 0)
    assert batch.completed_at is None and batch.succeeded == 10


@pytest.mark.parametrize(
    "fault, status, retry_after",
    [(aws_error("SlowDown", 503), 503, "2"), (aws_error("AccessDenied", 403), 500, None)],
    ids=["throttled", "refused"],
)
def test_an_s3_failure_storing_the_batch_input_accepts_nothing_and_says_whether_to_retry(
    aws, handlers, template_id, ctx, fault, status, retry_after
):
    inputs = lambda params: "inputs/" in str(params.get("url", ""))  # noqa: E731
    with aws_fault(s3(), "before-call.s3.PutObject", fault, when=inputs) as failed:
        answer = post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(12)]})
    assert failed and answer["statusCode"] == status and answer["headers"].get("Retry-After") == retry_after
    assert set(body_of(answer)) == {"message", "code", "errors"}
    assert queued_messages(aws) == [] and s3().list_objects_v2(Bucket=bucket(), Prefix="inputs/")["KeyCount"] == 0
    batches = dynamodb().scan(TableName=table(), FilterExpression="begins_with(pk, :b)",
                              ExpressionAttributeValues={":b": {"S": "TENANT#acme#BATCH#"}})["Items"]
    assert batches == [] and body_of(handlers["get_license"](http_event("get_license"), ctx))["used"] == 0


def test_a_chunk_finish_throttled_once_is_retried_in_place_not_after_the_visibility_timeout(
    aws, handlers, template_id, ctx
):
    from tests.support import sqs_records

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(3)]}))
    messages = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    throttled = aws_error("TransactionCanceledException", CancellationReasons=[{"Code": "None"}, {"Code": "ThrottlingError"}])
    with aws_fault(dynamodb(), "before-call.dynamodb.TransactWriteItems", throttled, times=1) as failed:
        assert handlers["worker"]({"Records": sqs_records(messages)}, ctx) == {"batchItemFailures": []}
    batch = aws.batches.get_batch("acme", body["id"], 0)
    assert failed and (batch.succeeded, batch.failed) == (3, 0) and batch.completed_at is not None


def test_a_throttled_chunk_finish_is_retried_by_redelivery_and_counted_once(aws, handlers, template_id, ctx):
    """The transaction that finishes a chunk and moves the batch's counters is cancelled by a throttle:
    the message goes back, and the rerun (after the dead run's lease) counts its tasks once."""
    from datetime import timedelta

    from tasklane import timeutil
    from tests.support import sqs_records

    body = body_of(post(handlers, ctx, {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(3)]}))
    messages = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    throttled = aws_error("TransactionCanceledException", CancellationReasons=[{"Code": "None"}, {"Code": "ThrottlingError"}])
    with aws_fault(dynamodb(), "before-call.dynamodb.TransactWriteItems", throttled) as failed:
        assert handlers["worker"]({"Records": sqs_records(messages)}, ctx)["batchItemFailures"]
    assert failed and aws.batches.get_batch("acme", body["id"], 0).succeeded == 0
    aws.clock = FixedClock(timeutil.now() + timedelta(minutes=13))
    assert handlers["worker"]({"Records": sqs_records(messages, 2)}, ctx) == {"batchItemFailures": []}
    assert handlers["worker"]({"Records": sqs_records(messages, 3)}, ctx) == {"batchItemFailures": []}
    batch = aws.batches.get_batch("acme", body["id"], 0)
    assert (batch.succeeded, batch.failed) == (3, 0) and batch.completed_at is not None
