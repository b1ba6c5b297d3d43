"""Input that an outside probe found to lose tasks or answer 5xx: each case here failed before its fix."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from tasklane import timeutil
from tasklane.domain import templates
from tasklane.domain.execution import MAX_OUTCOME_BYTES, UNREADABLE
from tasklane.storage.documents import content_disposition
from tests.integration.test_authorizer import bearer, request, rs256  # noqa: F401  (fixture)
from tests.support import (
    body_of,
    bucket,
    dap_part,
    http_event,
    json_part,
    load_function,
    multipart,
    queue_url,
    s3,
    simple_dap,
    sqs,
    sqs_records,
    zip_files,
)

NAMES = ("post_task", "get_task", "post_batch", "get_batch", "get_batch_task", "worker", "dead_letters")


@pytest.fixture
def handlers(aws):
    return {name: load_function(name).lambda_handler for name in NAMES}


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def receive(aws) -> list[dict[str, Any]]:
    client, url = sqs(), queue_url()
    return client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


def deliver(handlers, ctx, messages: list[dict[str, Any]], function: str = "worker") -> dict[str, Any]:
    return handlers[function]({"Records": sqs_records(messages)}, ctx)


def post_task(handlers, ctx, body: Any, content_type: str | None = None) -> dict[str, Any]:
    return handlers["post_task"](http_event("post_task", body=body, content_type=content_type), ctx)


def task_status(handlers, ctx, task_id: str) -> dict[str, Any]:
    return body_of(handlers["get_task"](http_event("get_task", path_params={"taskId": task_id}), ctx))


def license_used(aws) -> int:
    return aws.licenses.used("acme", timeutil.term(timeutil.now()))


def stored_inputs(aws) -> list[str]:
    listing = s3().list_objects_v2(Bucket=bucket(), Prefix="inputs/")
    return [o["Key"] for o in listing.get("Contents", [])]


# Defect 1: a 202 task whose message the worker could not parse stayed Queued until it expired.


def test_params_nested_past_the_limit_are_400_and_nothing_is_charged(aws, handlers, template_id, ctx):
    answer = post_task(handlers, ctx, {"template": template_id, "params": {"id": "1", "x": nested(200)}})
    assert answer["statusCode"] == 400, answer["body"]
    assert body_of(answer)["errors"][0]["type"] == "json_too_deep"
    assert license_used(aws) == 0 and receive(aws) == []


def test_params_nested_just_inside_the_limit_run_to_completion(aws, handlers, template_id, ctx):
    answer = post_task(handlers, ctx, {"template": template_id, "params": {"id": "1", "x": nested(60)}})
    assert answer["statusCode"] == 202, answer["body"]
    assert deliver(handlers, ctx, receive(aws)) == {"batchItemFailures": []}
    status = task_status(handlers, ctx, body_of(answer)["taskID"])
    assert status["completed"] is True and status["statusMessage"] == "Ready"


def test_every_message_names_its_unit_in_an_attribute(aws, handlers, template_id, ctx):
    task_id = body_of(post_task(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = receive(aws)
    unit = json.loads(message["MessageAttributes"]["unit"]["StringValue"])
    assert unit == {"tenant": "acme", "taskIds": [task_id]}


def test_an_unreadable_message_ends_its_task_failed_at_once(aws, handlers, template_id, ctx):
    task_id = body_of(post_task(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = receive(aws)
    message["Body"] = message["Body"][:-1]  # truncated: no longer JSON
    assert deliver(handlers, ctx, [message]) == {"batchItemFailures": []}
    status = task_status(handlers, ctx, task_id)
    assert status["completed"] is True and status["errors"] is True
    assert status["statusMessage"] == UNREADABLE


def test_an_unreadable_batch_message_ends_its_chunk_failed(aws, handlers, template_id, ctx):
    body = {"template": template_id, "tasks": [{"params": {"id": str(i)}} for i in range(3)]}
    batch_id = body_of(handlers["post_batch"](http_event("post_batch", body=body), ctx))["id"]
    [message] = receive(aws)
    message["Body"] = "{}"
    deliver(handlers, ctx, [message])
    status = body_of(handlers["get_batch"](http_event("get_batch", path_params={"batchId": batch_id}), ctx))
    assert status["completed"] is True and status["errors"] is True
    assert status["progress"]["failed"] == 3


def test_a_dead_letter_with_an_unreadable_body_is_found_by_its_attribute(aws, handlers, template_id, ctx):
    task_id = body_of(post_task(handlers, ctx, {"template": template_id, "params": {"id": "1"}}))["taskID"]
    [message] = receive(aws)
    message["Body"] = "not json"
    assert deliver(handlers, ctx, [message], "dead_letters") == {"batchItemFailures": []}
    status = task_status(handlers, ctx, task_id)
    assert status["completed"] is True and status["errors"] is True


# Defect 3: partParams amplified a small request into a huge stored input.


def test_a_part_named_by_every_task_is_measured_after_merging(aws, handlers, template_id, ctx):
    big = "x" * (300 * 1024)
    tasks = [{"params": {"id": str(i)}, "partParams": [{"partName": "big", "paramName": "extra"}]} for i in range(1000)]
    body, ctype = multipart([dap_part(simple_dap()), json_part("data", {"tasks": tasks}), json_part("param.big", big)])
    started = time.perf_counter()
    answer = handlers["post_batch"](http_event("post_batch", body=body, content_type=ctype), ctx)
    assert time.perf_counter() - started < 10
    assert answer["statusCode"] == 413, answer["body"]
    errors = body_of(answer)["errors"]
    assert len(errors) == 1000 and errors[0]["loc"] == "tasks[0].params"
    assert license_used(aws) == 0 and stored_inputs(aws) == [] and receive(aws) == []


def test_a_json_batch_task_over_the_task_limit_is_413_naming_it(aws, handlers, template_id, ctx):
    tasks = [{"params": {"id": "0"}}, {"params": {"id": "1", "extra": "x" * (3 * 1024 * 1024)}}]
    answer = handlers["post_batch"](http_event("post_batch", body={"template": template_id, "tasks": tasks}), ctx)
    assert answer["statusCode"] == 413, answer["body"]
    assert [e["loc"] for e in body_of(answer)["errors"]] == ["tasks[1].params"]
    assert license_used(aws) == 0


def test_the_whole_batch_input_is_bounded_too(aws, handlers, template_id, ctx):
    part = "x" * (150 * 1024)
    tasks = [{"params": {"id": str(i)}, "partParams": [{"partName": "p", "paramName": "extra"}]} for i in range(100)]
    body, ctype = multipart([dap_part(simple_dap()), json_part("data", {"tasks": tasks}), json_part("param.p", part)])
    answer = handlers["post_batch"](http_event("post_batch", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 413, answer["body"]
    assert body_of(answer)["errors"][0]["loc"] == "tasks"
    assert license_used(aws) == 0 and stored_inputs(aws) == []


def test_merged_task_params_over_the_limit_are_413(aws, handlers, ctx):
    part = "x" * (150 * 1024)
    body, ctype = multipart(
        [dap_part(simple_dap()), json_part("data", {"params": {"id": "1", "a": part}}), json_part("param.b", part)]
    )
    answer = post_task(handlers, ctx, body, ctype)
    assert answer["statusCode"] == 413 and body_of(answer)["errors"][0]["loc"] == "params"


# Defect 5: a failure outcome larger than a DynamoDB item was retried silently for an hour.


def test_huge_failure_messages_are_bounded_so_the_chunk_can_be_written(aws, handlers, ctx):
    manifest = "name: Big\nsteps:\n  - compose: {template: t.txt, as: t}\n  - store: {from: t, id: T}\n"
    tid = templates.upload(aws, "acme", zip_files({"dap.yaml": manifest, "t.txt": "{{ param[param.k ~ param.k] }}"})).id
    tasks = [{"params": {"k": "k" * 30_000 + str(i)}} for i in range(10)]
    batch_id = body_of(handlers["post_batch"](http_event("post_batch", body={"template": tid, "tasks": tasks}), ctx))["id"]
    assert deliver(handlers, ctx, receive(aws)) == {"batchItemFailures": []}
    status = body_of(handlers["get_batch"](http_event("get_batch", path_params={"batchId": batch_id}), ctx))
    assert status["completed"] is True and status["progress"]["failed"] == 10
    first = status["tasks"][0]["id"]
    task = body_of(
        handlers["get_batch_task"](http_event("get_batch_task", path_params={"batchId": batch_id, "taskId": first}), ctx)
    )
    assert task["errors"] is True and "truncated" in task["statusMessage"]
    assert len(json.dumps(task["logs"])) < MAX_OUTCOME_BYTES


def test_many_log_lines_are_cut_with_a_note(aws):
    from tasklane.domain.execution import bounded
    from tasklane.domain.records import LogLine, TaskOutcome

    logs = [LogLine("INFO", "y" * 5000) for _ in range(200)]
    outcome = bounded(TaskOutcome("t", True, "Ready", logs, [], "s", "e"))
    assert len(json.dumps([line.__dict__ for line in outcome.logs])) < MAX_OUTCOME_BYTES
    assert outcome.logs[-1].message.endswith("more log entries were not kept (status size limit)")
    assert outcome.ok and outcome.status_message == "Ready"


# Defect 6: client mistakes answered 5xx.


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 1000 + "]" * 1000,
        '{"template": "TEMPLATE", "params": ' + "[" * 1000 + "]" * 1000 + "}",
        '{"template": "TEMPLATE", "params": {"id": "\\ud800"}}',
        '{"template": "TEMPLATE", "params": {"id": "1", "x": NaN}}',
        '{"template": "TEMPLATE", "params": {"id": "1", "x": 1e999}}',
    ],
    ids=["deep-body", "deep-params", "lone-surrogate", "nan", "overflow"],
)
def test_json_that_cannot_be_stored_is_400(aws, handlers, template_id, ctx, raw):
    answer = post_task(handlers, ctx, raw.replace("TEMPLATE", template_id), "application/json")
    assert answer["statusCode"] == 400, answer["body"]
    assert body_of(answer)["code"] == "bad_request"


def test_params_nested_256_deep_or_with_a_surrogate_are_400_not_503(aws, handlers, template_id, ctx):
    for params in ({"id": "1", "x": nested(300)}, {"id": "\ud800"}):
        raw = json.dumps({"template": template_id, "params": params})
        answer = post_task(handlers, ctx, raw, "application/json")
        assert answer["statusCode"] == 400, answer["body"]


def test_a_deep_multipart_param_part_is_400(aws, handlers, ctx):
    body, ctype = multipart(
        [
            dap_part(simple_dap()),
            json_part("data", {"params": {"id": "1"}}),
            ("param.deep", None, "application/json", b"[" * 1000 + b"]" * 1000),
        ]
    )
    answer = post_task(handlers, ctx, body, ctype)
    assert answer["statusCode"] == 400 and body_of(answer)["errors"][0]["loc"] == "param.deep"


@pytest.mark.parametrize("scope", [5, {"tasks:write": True}, ["tasks:write", 7], None])
def test_a_signed_token_with_a_malformed_scope_is_401(rs256, ctx, scope):  # noqa: F811
    from tasklane_local.devkeys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys

    handler, state = rs256
    keys = ensure_dev_keys(state)
    claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "tenant": "acme", "scope": scope, "exp": time.time() + 60}
    token = jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})
    answer = handler(request(bearer(token)), ctx)
    assert answer["isAuthorized"] is False and answer["context"]["status"] == 401


# Defect 9 (results): non-ASCII filenames.


def test_non_ascii_filenames_use_rfc_5987():
    assert content_disposition("offer.pdf") == 'attachment; filename="offer.pdf"'
    assert content_disposition("Räksmörgås.pdf") == (
        "attachment; filename=\"R_ksm_rg_s.pdf\"; filename*=UTF-8''R%C3%A4ksm%C3%B6rg%C3%A5s.pdf"
    )
