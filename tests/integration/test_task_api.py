"""POST /v1/task and GET /v1/task/{id}, and the worker running what they queue."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tasklane.domain import templates
from tasklane.domain.records import UnitMessage
from tests.support import (
    aws_error,
    aws_fault,
    bucket,
    dynamodb,
    queue_url,
    s3,
    sqs,
    table,
    FixedClock,
    body_of,
    dap_part,
    example_dap,
    http_event,
    json_part,
    load_function,
    multipart,
    simple_dap,
)


@pytest.fixture
def handlers(aws):
    return {name: load_function(name).lambda_handler for name in ("post_task", "get_task", "worker")}


def queued_messages(aws) -> list[dict[str, Any]]:
    client = sqs()
    answer = client.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, VisibilityTimeout=0)
    return answer.get("Messages", [])


def run_worker(aws, handlers, ctx) -> dict[str, Any]:
    """Deliver everything queued to the worker, as the SQS event source does."""
    client = sqs()
    messages = client.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10).get("Messages", [])
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }
    return handlers["worker"](event, ctx)


def post_json(handlers, ctx, body: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
    return handlers["post_task"](http_event("post_task", tenant=tenant, body=body), ctx)


def get_status(handlers, ctx, task_id: str, tenant: str = "acme") -> dict[str, Any]:
    return handlers["get_task"](http_event("get_task", tenant=tenant, path_params={"taskId": task_id}), ctx)


def test_post_json_answers_202_stores_queued_and_enqueues(aws, handlers, template_id, ctx):
    answer = post_json(handlers, ctx, {"template": template_id, "params": {"id": "001"}})
    assert answer["statusCode"] == 202
    body = body_of(answer)
    assert re.fullmatch(r"t-[0-9a-f]{32}", body["taskID"])
    assert body["message"] == "Success"
    assert body["usage"] == {"api": {"term": 1, "termMax": 10000}}
    status = body_of(get_status(handlers, ctx, body["taskID"]))
    assert status["statusMessage"] == "Queued" and status["completed"] is False
    [message] = queued_messages(aws)
    assert json.loads(message["Body"])["taskIds"] == [body["taskID"]]


def test_worker_completes_task_with_downloadable_result(aws, handlers, template_id, ctx):
    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "001"}}))["taskID"]
    assert run_worker(aws, handlers, ctx) == {"batchItemFailures": []}
    status = body_of(get_status(handlers, ctx, task_id))
    assert status["completed"] is True and status["errors"] is False
    assert status["statusMessage"] == "Ready"
    assert status["results"] == ["Hello"]
    assert status["resultList"][0]["id"] == "Hello"
    assert "hello-001.txt" in status["resultList"][0]["url"]
    assert status["startDateTime"].endswith("Z") and status["endDateTime"].endswith("Z")
    key = f"results/acme/{task_id}/Hello/hello-001.txt"
    content = s3().get_object(Bucket=bucket(), Key=key)["Body"].read().decode()
    assert content == f"Hello 001 from {task_id}"


def test_multipart_with_embedded_dap_and_param_part(aws, handlers, ctx):
    body, ctype = multipart(
        [dap_part(simple_dap()), json_part("data", {"params": {"id": "7"}}), json_part("param.extra", {"data1": "abc"})]
    )
    answer = handlers["post_task"](http_event("post_task", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 202, answer["body"]
    task_id = body_of(answer)["taskID"]
    run_worker(aws, handlers, ctx)
    status = body_of(get_status(handlers, ctx, task_id))
    assert status["statusMessage"] == "Ready"
    key = f"results/acme/{task_id}/Hello/hello-7.txt"
    content = s3().get_object(Bucket=bucket(), Key=key)["Body"].read().decode()
    assert '{"data1": "abc"}' in content


def test_example_dap_renders_params(aws, handlers, ctx):
    tid = templates.upload(aws, "acme", example_dap()).id
    params = {"id": "001", "name": "Acme", "amount": 12.5, "additionalData": {"data1": "abc"}}
    task_id = body_of(post_json(handlers, ctx, {"template": tid, "params": params}))["taskID"]
    run_worker(aws, handlers, ctx)
    status = body_of(get_status(handlers, ctx, task_id))
    assert status["statusMessage"] == "Ready", status
    key = f"results/acme/{task_id}/Profile/profile-001.html"
    html = s3().get_object(Bucket=bucket(), Key=key)["Body"].read().decode()
    assert "Acme" in html and "12.5" in html and "abc" in html


def test_declared_params_are_checked_before_anything_is_stored_or_charged(aws, handlers, template_id, ctx):
    items_before = dynamodb().scan(TableName=table())["Count"]

    missing = post_json(handlers, ctx, {"template": template_id, "params": {}})
    mistyped = post_json(handlers, ctx, {"template": template_id, "params": {"id": 7}})

    assert missing["statusCode"] == 400 and mistyped["statusCode"] == 400
    assert body_of(missing)["errors"] == [
        {"loc": "params.id", "message": "Missing required param 'id'", "type": "param"}
    ]
    assert body_of(mistyped)["errors"] == [
        {"loc": "params.id", "message": "Param 'id' must be a string, got integer", "type": "param"}
    ]
    assert queued_messages(aws) == []
    assert dynamodb().scan(TableName=table())["Count"] == items_before  # no task, no license unit


def test_a_declared_param_given_as_a_multipart_part_counts(aws, handlers, ctx):
    body, content_type = multipart([json_part("data", {"params": {}}), json_part("param.id", "7"), dap_part(simple_dap())])
    event = http_event("post_task", body=body, content_type=content_type)

    assert handlers["post_task"](event, ctx)["statusCode"] == 202


def test_render_error_fails_task(aws, handlers, ctx):
    tid = templates.upload(aws, "acme", simple_dap("{{ nothing.here }}")).id
    task_id = body_of(post_json(handlers, ctx, {"template": tid, "params": {"id": "1"}}))["taskID"]
    run_worker(aws, handlers, ctx)
    status = body_of(get_status(handlers, ctx, task_id))
    assert status["errors"] is True and "undefined" in status["statusMessage"]


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({"params": {}}, {"template"}),
        ({"template": "x", "params": []}, {"params"}),
        ({"template": "x", "params": {}, "surprise": 1}, {"surprise"}),
        ({"template": "x", "integration": {"type": "Salesforce"}}, {"integration.Salesforce.sessionID", "integration.Salesforce.serverURL"}),
    ],
)
def test_bad_json_is_400_naming_each_problem_and_nothing_stored(aws, handlers, ctx, body, locs):
    answer = post_json(handlers, ctx, body)
    assert answer["statusCode"] == 400
    problems = body_of(answer)
    assert problems["message"] and {e["loc"] for e in problems["errors"]} >= locs
    assert queued_messages(aws) == []
    assert aws.licenses.used("acme", __import__("tasklane.timeutil").timeutil.term(__import__("tasklane.timeutil").timeutil.now())) == 0


def test_unknown_template_is_400(aws, handlers, ctx):
    answer = post_json(handlers, ctx, {"template": "0" * 32, "params": {}})
    assert answer["statusCode"] == 400
    assert body_of(answer)["errors"][0]["loc"] == "template"
    assert queued_messages(aws) == []


def test_an_integration_with_a_stored_template_is_accepted_with_its_session_sealed(aws, handlers, template_id, ctx):
    # The template is stored already: accepting asks Salesforce nothing (the default allowlist holds the host).
    integration = {"type": "Salesforce", "sessionID": "00Dsecret!session", "serverURL": "https://x.my.salesforce.com"}
    answer = post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}, "integration": integration})
    assert answer["statusCode"] == 202, answer
    [message] = queued_messages(aws)
    sealed = json.loads(message["Body"])["integration"]
    assert sealed["serverURL"] == integration["serverURL"] and "00Dsecret" not in message["Body"]


def test_invalid_json_text_is_400(handlers, ctx):
    answer = handlers["post_task"](http_event("post_task", body="{nope", content_type="application/json"), ctx)
    assert answer["statusCode"] == 400


def test_wrong_content_type_is_415(handlers, ctx):
    answer = handlers["post_task"](http_event("post_task", body="a=b", content_type="application/x-www-form-urlencoded"), ctx)
    assert answer["statusCode"] == 415


def test_too_large_is_413(aws, handlers, template_id, ctx):
    big = {"template": template_id, "params": {"blob": "x" * (300 * 1024)}}
    answer = post_json(handlers, ctx, big)
    assert answer["statusCode"] == 413
    assert queued_messages(aws) == []


def test_multipart_without_template_part_is_400(handlers, ctx):
    body, ctype = multipart([json_part("data", {"params": {}})])
    answer = handlers["post_task"](http_event("post_task", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 400
    assert body_of(answer)["errors"][0]["loc"] == "template"


def test_multipart_with_bad_param_json_is_400(handlers, ctx):
    body, ctype = multipart([dap_part(simple_dap()), ("param.x", None, "application/json", b"{bad")])
    answer = handlers["post_task"](http_event("post_task", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 400
    assert body_of(answer)["errors"][0]["loc"] == "param.x"


def test_status_is_tenant_scoped_and_unknown_is_404(aws, handlers, template_id, ctx):
    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    assert get_status(handlers, ctx, task_id, tenant="globex")["statusCode"] == 404
    assert get_status(handlers, ctx, "t-" + "0" * 32)["statusCode"] == 404


def test_status_expires_after_24_hours(aws, handlers, template_id, ctx, monkeypatch):
    from datetime import timedelta

    from tasklane import timeutil

    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    later = timeutil.now() + timedelta(hours=24, seconds=1)
    aws.clock = FixedClock(later)
    assert get_status(handlers, ctx, task_id)["statusCode"] == 404


def test_redelivered_message_for_finished_task_does_nothing(aws, handlers, template_id, ctx):
    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = queued_messages(aws)
    run_worker(aws, handlers, ctx)
    first = body_of(get_status(handlers, ctx, task_id))
    from tasklane.domain.records import UnitMessage

    puts: list[str] = []
    s3().meta.events.register("before-call.s3.PutObject", lambda **kw: puts.append("put"))
    worker = load_function("worker")
    worker.worker().handle(UnitMessage.model_validate_json(message["Body"]), "rh", 60_000)
    assert puts == []
    assert unsigned(body_of(get_status(handlers, ctx, task_id))) == unsigned(first)


def unsigned(status: dict) -> dict:
    """The status with each result URL's presigned query cut off: a second later it is signed anew."""
    results = [{**result, "url": result["url"].split("?")[0]} for result in status["resultList"]]
    return {**status, "resultList": results}


def test_failed_result_write_reports_the_message_and_the_retry_finishes_it(aws, handlers, template_id, ctx, monkeypatch):
    from datetime import timedelta

    from tasklane import timeutil

    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = queued_messages(aws)

    def refuse(**_: Any) -> None:
        raise RuntimeError("S3 is down")

    s3().meta.events.register("before-call.s3.PutObject", refuse, unique_id="refuse")
    answer = run_worker(aws, handlers, ctx)
    assert answer == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert body_of(get_status(handlers, ctx, task_id))["statusMessage"] == "Running"
    s3().meta.events.unregister("before-call.s3.PutObject", unique_id="refuse")

    # The redelivery comes after the visibility timeout, by when the dead run's lease has run out.
    later = timeutil.now() + timedelta(minutes=13)
    aws.clock = FixedClock(later)
    client = sqs()
    client.change_message_visibility(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    assert run_worker(aws, handlers, ctx) == {"batchItemFailures": []}
    status = body_of(get_status(handlers, ctx, task_id))
    assert status["statusMessage"] == "Ready" and status["completed"] is True


def test_license_refusal_stores_and_queues_nothing(aws, handlers, template_id, ctx):
    aws.licenses.set_quota("acme", 1)
    assert post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}})["statusCode"] == 202
    for m in queued_messages(aws):
        sqs().delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])
    items_before = dynamodb().scan(TableName=table())["Count"]
    refused = post_json(handlers, ctx, {"template": template_id, "params": {"id": "2"}})
    assert refused["statusCode"] == 402 and body_of(refused)["code"] == "license_exceeded"
    assert queued_messages(aws) == []
    assert dynamodb().scan(TableName=table())["Count"] == items_before


def test_queue_failure_rolls_back_task_and_license_unit(aws, handlers, template_id, ctx):
    from tasklane import timeutil

    with aws_fault(sqs(), "before-call.sqs.SendMessageBatch", aws_error("InternalError", 500)):
        answer = post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}})
    assert answer["statusCode"] == 503 and body_of(answer)["code"] == "service_unavailable"
    assert answer["headers"]["Retry-After"] == "5"
    tasks = dynamodb().scan(TableName=table(), FilterExpression="begins_with(pk, :t)",
                                ExpressionAttributeValues={":t": {"S": "TENANT#acme#TASK#"}})["Items"]
    assert tasks == []
    assert aws.licenses.used("acme", timeutil.term(timeutil.now())) == 0


def test_another_tenants_template_is_400(aws, handlers, template_id, ctx):
    answer = post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}, tenant="globex")
    assert answer["statusCode"] == 400 and body_of(answer)["errors"][0]["loc"] == "template"


def test_dead_lettered_single_task_ends_failed(aws, handlers, template_id, ctx):
    from tasklane.domain.execution import Worker

    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = queued_messages(aws)
    assert len(Worker(aws).give_up(UnitMessage.model_validate_json(message["Body"]))) == 1
    status = body_of(get_status(handlers, ctx, task_id))
    assert status["completed"] is True and status["errors"] is True


def test_idempotency_key_replays_the_first_answer(aws, handlers, template_id, ctx):
    from tasklane import timeutil

    def post_with(key: str, params: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
        ev = http_event("post_task", tenant=tenant, body={"template": template_id, "params": params})
        ev["headers"]["idempotency-key"] = key
        return handlers["post_task"](ev, ctx)

    first = post_with("order-42", {"id": "1"})
    again = post_with("order-42", {"id": "1"})
    assert first["statusCode"] == again["statusCode"] == 202
    assert body_of(again)["taskID"] == body_of(first)["taskID"]
    assert len(queued_messages(aws)) == 1
    assert aws.licenses.used("acme", timeutil.term(timeutil.now())) == 1

    changed = post_with("order-42", {"id": "2"})
    assert changed["statusCode"] == 422 and body_of(changed)["code"] == "idempotency_key_reused"
    other_tenant = post_with("order-42", {"id": "1"}, tenant="globex")
    assert other_tenant["statusCode"] == 400  # its own key space: globex has no such template
    assert post_with("bad key with spaces", {"id": "1"})["statusCode"] == 400


def test_idempotency_ignores_the_multipart_boundary(aws, handlers, ctx):
    dap = simple_dap()  # once: a zip holds its entries' times, so a second one may differ

    def post_multipart(boundary: str) -> dict[str, Any]:
        body, ctype = multipart([dap_part(dap), json_part("data", {"params": {"id": "1"}})], boundary=boundary)
        ev = http_event("post_task", body=body, content_type=ctype)
        ev["headers"]["idempotency-key"] = "upload-1"
        return handlers["post_task"](ev, ctx)

    first, retry = post_multipart("aaaa1111"), post_multipart("bbbb2222")
    assert retry["statusCode"] == 202 and body_of(retry) == body_of(first)
    assert len(queued_messages(aws)) == 1


def test_worker_leaves_a_message_it_has_no_time_for(aws, handlers, template_id, ctx):
    from tasklane.domain.execution import MIN_START_MS, OutOfTime, Worker

    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = queued_messages(aws)
    with pytest.raises(OutOfTime):
        Worker(aws).handle(UnitMessage.model_validate_json(message["Body"]), "rh", MIN_START_MS - 1)
    assert body_of(get_status(handlers, ctx, task_id))["statusMessage"] == "Queued"


def test_dead_letter_that_is_not_a_task_message_is_dropped(aws, ctx):
    from tests.support import event

    ev = event("dead_letters")
    ev["Records"][0]["body"] = "not json"
    assert load_function("dead_letters").lambda_handler(ev, ctx) == {"batchItemFailures": []}


def test_a_sandbox_escape_attempt_fails_the_task_and_is_logged(aws, handlers, ctx, caplog):
    from tests.support import zip_files

    escape = zip_files({
        "dap.yaml": "name: E\nsteps:\n  - compose: {template: t.txt, as: t}\n  - store: {from: t, id: T}\n",
        "t.txt": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    })
    template_id = templates.upload(aws, "acme", escape).id
    answer = post_json(handlers, ctx, {"template": template_id, "params": {}})
    assert answer["statusCode"] == 202
    run_worker(aws, handlers, ctx)
    [refusal] = [r for r in caplog.records if r.getMessage() == "sandbox refused a template"]
    assert refusal.levelname == "WARNING"
    assert refusal.tenant == "acme" and refusal.template_id == template_id and "unsafe" in refusal.reason
    task_id = body_of(answer)["taskID"]
    status = body_of(handlers["get_task"](http_event("get_task", path_params={"taskId": task_id}), ctx))
    assert status["errors"] is True and "unsafe" in status["statusMessage"]


# --- faults: 503 with Retry-After when a retry can succeed, 500 when not; rolled back either way


def _nothing_accepted(aws) -> None:
    from tasklane import timeutil

    tasks = dynamodb().scan(TableName=table(), FilterExpression="begins_with(pk, :t)",
                            ExpressionAttributeValues={":t": {"S": "TENANT#acme#TASK#"}})["Items"]
    assert tasks == [] and queued_messages(aws) == []
    assert aws.licenses.used("acme", timeutil.term(timeutil.now())) == 0


SUBMIT_FAULTS = {
    "task write throttled": (dynamodb, "before-call.dynamodb.PutItem", aws_error("ProvisionedThroughputExceededException"), 503, "2"),
    "queue unreachable": (sqs, "before-call.sqs.SendMessageBatch", "unreachable", 503, "5"),
    "queue access denied": (sqs, "before-call.sqs.SendMessageBatch", aws_error("AccessDenied", 403), 500, None),
}


@pytest.mark.parametrize("client, event, fault, status, retry_after", SUBMIT_FAULTS.values(), ids=SUBMIT_FAULTS.keys())
def test_a_backend_failure_while_accepting_a_task_leaves_nothing_and_says_whether_to_retry(
    aws, handlers, template_id, ctx, client, event, fault, status, retry_after
):
    from botocore.exceptions import EndpointConnectionError

    if fault == "unreachable":
        fault = EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
    with aws_fault(client(), event, fault) as failed:
        answer = post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}})
    assert failed and answer["statusCode"] == status, answer
    assert answer["headers"].get("Retry-After") == retry_after
    assert body_of(answer)["code"] == ("service_unavailable" if status == 503 else "internal_error")
    _nothing_accepted(aws)


@pytest.mark.parametrize("sender_fault, status", [(False, 503), (True, 500)], ids=["sqs side", "sender side"])
def test_messages_sqs_will_not_take_roll_the_task_back(aws, handlers, template_id, ctx, sender_fault, status):
    from types import SimpleNamespace

    refused = {"Successful": [], "Failed": [{"Id": "0", "SenderFault": sender_fault, "Code": "InternalError"}]}
    with aws_fault(sqs(), "before-call.sqs.SendMessageBatch", (SimpleNamespace(status_code=200, headers={}), refused)):
        answer = post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}})
    assert answer["statusCode"] == status and ("Retry-After" in answer["headers"]) is (status == 503)
    _nothing_accepted(aws)


def test_a_busy_idempotency_store_is_a_503_and_nothing_is_accepted(aws, handlers, template_id, ctx):
    ev = http_event("post_task", body={"template": template_id, "params": {"id": "1"}})
    ev["headers"]["idempotency-key"] = "order-7"
    record = lambda params: "IDEMPOTENCY" in str(params)  # noqa: E731
    with aws_fault(dynamodb(), "before-call.dynamodb.PutItem", aws_error("ThrottlingException"), record) as failed:
        answer = handlers["post_task"](ev, ctx)
    assert failed and answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "2"
    _nothing_accepted(aws)
    assert handlers["post_task"](ev, ctx)["statusCode"] == 202


def test_an_accepted_task_whose_idempotency_record_cannot_be_saved_is_answered_not_503(
    aws, handlers, template_id, ctx
):
    ev = http_event("post_task", body={"template": template_id, "params": {"id": "1"}})
    ev["headers"]["idempotency-key"] = "order-8"
    record = lambda params: "IDEMPOTENCY" in str(params)  # noqa: E731
    with aws_fault(dynamodb(), "before-call.dynamodb.UpdateItem", aws_error("ThrottlingException"), record) as failed:
        answer = handlers["post_task"](ev, ctx)

    assert failed and answer["statusCode"] == 202, answer  # a 503 would invite a second task
    assert len(queued_messages(aws)) == 1


def test_a_refused_request_whose_idempotency_record_cannot_be_deleted_is_still_refused(aws, handlers, ctx):
    ev = http_event("post_task", body={"template": "0" * 32, "params": {"id": "1"}})
    ev["headers"]["idempotency-key"] = "order-9"
    record = lambda params: "IDEMPOTENCY" in str(params)  # noqa: E731
    with aws_fault(dynamodb(), "before-call.dynamodb.DeleteItem", aws_error("ThrottlingException"), record) as failed:
        answer = handlers["post_task"](ev, ctx)

    assert failed and answer["statusCode"] == 400 and "Unknown template" in body_of(answer)["message"]


def test_a_status_read_while_dynamodb_is_throttled_is_a_503(aws, handlers, template_id, ctx):
    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    with aws_fault(dynamodb(), "before-call.dynamodb.GetItem", aws_error("ThrottlingException")):
        answer = get_status(handlers, ctx, task_id)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "2"
    assert set(body_of(answer)) == {"message", "code", "errors"}
    with aws_fault(dynamodb(), "before-call.dynamodb.GetItem", aws_error("AccessDeniedException")):
        answer = get_status(handlers, ctx, task_id)
    assert answer["statusCode"] == 500 and "Retry-After" not in answer["headers"]


def test_a_throttled_claim_leaves_the_task_queued_for_the_next_delivery(aws, handlers, template_id, ctx):
    """The worker's first write fails: nothing moved, so the next delivery runs the task at once (no lease to wait out)."""
    task_id = body_of(post_json(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = queued_messages(aws)
    with aws_fault(dynamodb(), "before-call.dynamodb.UpdateItem", aws_error("ProvisionedThroughputExceededException")):
        answer = run_worker(aws, handlers, ctx)
    assert answer == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert body_of(get_status(handlers, ctx, task_id))["statusMessage"] == "Queued"
    sqs().change_message_visibility(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    assert run_worker(aws, handlers, ctx) == {"batchItemFailures": []}
    assert body_of(get_status(handlers, ctx, task_id))["statusMessage"] == "Ready"
