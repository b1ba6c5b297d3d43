"""No secret is ever logged: a full run of all three families through the real handlers, with API-key
and bearer callers through the authorizer and a Salesforce integration, then its captured output
searched for each secret it carried.

Every line the handlers' Logger prints is captured, at DEBUG, through the formatter Lambda prints
with, with whatever else is printed and every other library's log records at INFO. The output must hold none of the
secrets, and not even the mask: a line that needed masking means some code logged a header, a body
or a credential, which is refused even though the mask kept the secret out.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tasklane import config
from tasklane.domain import auth
from tasklane.observability import MASK
from tasklane.storage import get_backends
from tests.fakes.salesforce import FakeSalesforce
from tests.integration.test_salesforce import DOCUMENT_ID, seed
from tests.support import (
    body_of,
    captured_logs,
    event,
    http_event,
    jwt_event,
    load_function,
    queue_url,
    simple_dap,
    sqs,
    sqs_records,
)

# Shaped like the real thing: an org id, "!", the session proper.
SESSION = "00D5g000004XkLmEAK!AQ0AQH9cTq3rWYvK2nB.u9sHd1JcLw7Fp0xMzR4e6TgNy8UaBiKoVsXjQdZl5"
REVOKED = "00D5g000004XkLmEAK!AQ0AQRevokedSessionR3vok3dS3ss10nAbCdEfGhIjKlMnOpQrStUvWxYz"
JWT_SECRET = "jwt-signing-secret-" + "x7Kq9" * 6
WEBHOOK_SECRET = "whsec_5f0c9e2b7a1d4c8e9f3a6b2d1c0e7f4a"
ACCOUNTS = [f"0015g00000{n:05d}AAA" for n in range(3)]
DOCUMENT_FUNCTIONS = (
    "authorizer", "post_template", "get_template", "post_task", "get_task", "post_batch", "get_batch",
    "get_batch_task", "get_license", "worker", "dead_letters",
)
GENERIC_TASK_FUNCTIONS = (
    "create_task_catalog", "create_generic_task", "get_generic_task", "list_generic_tasks", "assign_generic_tasks",
    "complete_generic_task", "create_folder", "list_folders", "list_task_catalogs",
)
JOB_FUNCTIONS = ("sync_job", "get_job", "update_job", "add_job_metadata", "list_jobs", "abort_job", "delete_job")


ISSUED: list[str] = []


def token(scopes: str, expires_in: float = 600, secret: str = JWT_SECRET) -> str:
    """A bearer token, remembered so the test can look for each one it sent."""
    claims = {"iss": "https://issuer.test", "aud": "tasklane", "tenant": "acme", "sub": "user-1", "scope": scopes,
              "exp": time.time() + expires_in}  # fmt: skip
    issued = jwt.encode(claims, secret, algorithm="HS256")
    ISSUED.append(issued)
    return issued


@pytest.fixture
def salesforce(aws, tmp_path, monkeypatch) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(tmp_path) as fake:
        fake.sessions.add(SESSION)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
        monkeypatch.setenv("SALESFORCE_HOSTS", "127.0.0.1")
        monkeypatch.setenv("JWT_ALGORITHM", "HS256")
        monkeypatch.setenv("JWT_SECRET", JWT_SECRET)
        config.clear()
        get_backends.cache_clear()
        seed(fake, ACCOUNTS)
        yield fake


class Run:
    """The handlers, called as API Gateway calls them: document routes after the Lambda authorizer
    (credentials in the headers both see), GenericTasks and jobs after its JWT authorizer."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        names = DOCUMENT_FUNCTIONS + GENERIC_TASK_FUNCTIONS + JOB_FUNCTIONS
        self.handlers = {name: load_function(name).lambda_handler for name in names}
        self.routes: set[str] = set()

    def authorize(self, ev: dict[str, Any]) -> dict[str, Any]:
        request = event("authorizer")
        request.update(headers=ev["headers"], routeKey=ev["routeKey"])
        request["requestContext"]["requestId"] = ev["requestContext"]["requestId"]
        return self.handlers["authorizer"](request, self.ctx)

    def documents(self, name: str, credentials: dict[str, str], status: int, **kwargs: Any) -> Any:
        ev = http_event(name, **kwargs)
        ev["requestContext"]["requestId"] = uuid.uuid4().hex
        ev["headers"].pop("authorization")
        ev["headers"].update(credentials)
        decision = self.authorize(ev)
        assert decision["isAuthorized"], decision
        ev["requestContext"]["authorizer"] = {"lambda": decision["context"]}
        return self._answer(name, ev, status)

    def bearer(self, name: str, scopes: str, status: int, path_params: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = {"authorization": f"Bearer {token(scopes)}", "x-webhook-secret": WEBHOOK_SECRET, **kwargs.pop("headers", {})}
        ev = jwt_event(name, scopes=tuple(scopes.split()), headers=headers, **kwargs)
        if path_params is not None:
            path = ev["routeKey"].split(" ", 1)[1]
            for key, value in path_params.items():
                path = path.replace("{" + key + "}", value)
            ev["pathParameters"] = path_params
            ev["rawPath"] = ev["requestContext"]["http"]["path"] = path
        return self._answer(name, ev, status)

    def _answer(self, name: str, ev: dict[str, Any], status: int) -> Any:
        answer = self.handlers[name](ev, self.ctx)
        assert answer["statusCode"] == status, answer
        self.routes.add(ev["routeKey"])
        return body_of(answer) if answer.get("body") else None

    def queue(self, name: str = "worker") -> None:
        while True:
            found = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])
            messages = found.get("Messages", [])
            if not messages:
                return
            assert self.handlers[name]({"Records": sqs_records(messages)}, self.ctx) == {"batchItemFailures": []}
            for message in messages:
                sqs().delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])


def documents_run(run: Run, salesforce: FakeSalesforce, api_key: str) -> None:
    key = {"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": api_key}
    writer = {"authorization": f"Bearer {token('tasks:write tasks:read')}", "x-webhook-secret": WEBHOOK_SECRET}
    integration = {"type": "Salesforce", "sessionID": SESSION, "serverURL": salesforce.url}
    template = run.documents("post_template", writer, 201, body=simple_dap(), content_type="application/zip")["id"]
    run.documents("get_template", key, 200, path_params={"templateId": template})
    task = run.documents(
        "post_task", {**key, "idempotency-key": "once-1"}, 202,
        body={"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[0], "webhookSecret": WEBHOOK_SECRET}, "integration": integration},
    )  # fmt: skip
    batch = run.documents(
        "post_batch", writer, 202,
        body={"template": DOCUMENT_ID, "tasks": [{"params": {"id": a}} for a in ACCOUNTS], "integration": integration},
    )  # fmt: skip
    plain = run.documents("post_task", key, 202, body={"template": template, "params": {"id": "p"}})
    # Refused at the door, each with the secrets in the request: a bad serverURL, a revoked session.
    run.documents("post_task", key, 400, body={"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[0]},
                                               "integration": {**integration, "serverURL": "https://evil.example.com"}})  # fmt: skip
    run.documents("post_task", writer, 400, body={"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[1]},
                                                  "integration": {**integration, "sessionID": REVOKED}})  # fmt: skip
    run.queue("worker")
    assert len(salesforce.created) == 4  # every Salesforce task attached its result
    run.documents("get_task", key, 200, path_params={"taskId": task["taskID"]})
    run.documents("get_task", writer, 200, path_params={"taskId": plain["taskID"]})
    run.documents("get_batch", key, 200, path_params={"batchId": batch["id"]})
    run.documents("get_batch_task", writer, 200, path_params={"batchId": batch["id"], "taskId": batch["tasks"][0]})
    run.documents("get_license", key, 200)
    # A message no attempt could finish: the dead-letter function ends its task.
    run.documents("post_task", key, 202, body={"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[2]}, "integration": integration})
    run.queue("dead_letters")
    # Denied by the authorizer: a wrong key, an expired token, a forged one.
    for credentials in (
        {"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": api_key[:-1] + "x"},
        {"authorization": f"Bearer {token('tasks:read', expires_in=-3600)}"},
        {"authorization": f"Bearer {token('tasks:read', secret='another-secret-of-32-characters!!')}"},
    ):
        ev = http_event("get_license")
        ev["headers"].update(credentials)
        assert run.authorize(ev)["isAuthorized"] is False


def generic_tasks_run(run: Run) -> None:
    scopes = "OR.Tasks"
    run.bearer("create_task_catalog", scopes, 201, body={"Name": "Hooks", "Description": "callbacks"})
    folder = run.bearer("create_folder", scopes, 201, body={"DisplayName": "Finance", "ParentId": None})
    task = run.bearer("create_generic_task", scopes, 201, body={
        "type": "ExternalTask", "title": "Call back", "taskCatalogName": "Hooks",
        "data": {"callback": "https://hooks.example.com/t", "webhookSecret": WEBHOOK_SECRET},
    }, headers={"idempotency-key": "gt-1"})  # fmt: skip
    run.bearer("get_generic_task", scopes, 200, query={"taskId": str(task["id"])})
    run.bearer("list_generic_tasks", scopes, 200, query={"$filter": "Status eq 0"})
    run.bearer("list_task_catalogs", scopes, 200, query={})
    run.bearer("list_folders", scopes, 200, query={}, headers={"x-uipath-organizationunitid": str(folder["Id"])})
    run.bearer("assign_generic_tasks", scopes, 200,
               body={"taskAssignments": [{"TaskId": task["id"], "UserNameOrEmail": "ann@example.com"}]})  # fmt: skip
    completion = {"taskId": task["id"], "data": {"webhookSecret": WEBHOOK_SECRET}, "action": "done"}
    run.bearer("complete_generic_task", scopes, 204, body=completion)
    run.bearer("complete_generic_task", scopes, 409, body=completion)


def jobs_run(run: Run) -> None:
    scopes = "workflow.execute job.admin"
    metadata = {"clientJobId": "job-1", "status": "InProgress", "updated": "2026-03-02T09:00:00Z",
                "metadata": {"webhookSecret": WEBHOOK_SECRET}}  # fmt: skip
    run.bearer("sync_job", scopes, 201, body={"metadata": metadata, "completedSteps": []})
    run.bearer("get_job", scopes, 200, path_params={"clientJobId": "job-1"})
    run.bearer("update_job", scopes, 200, path_params={"clientJobId": "job-1"}, body={"metadata": {"description": "x"}})
    run.bearer("add_job_metadata", scopes, 200, path_params={"clientJobId": "job-1"}, body={"webhookSecret": WEBHOOK_SECRET})
    run.bearer("list_jobs", scopes, 200, query={})
    run.bearer("abort_job", scopes, 200, path_params={"clientJobId": "job-1"}, body={"abandonReason": "weather"})
    run.bearer("sync_job", scopes, 409, body={"metadata": {**metadata, "updated": "2026-03-02T10:00:00Z"}, "completedSteps": []})
    run.bearer("delete_job", scopes, 204, path_params={"clientJobId": "job-1"})


def test_a_full_run_logs_no_session_id_api_key_token_or_webhook_secret(aws, salesforce, ctx, capsys, caplog):
    api_key = auth.create_api_key("acme", aws.apikeys)
    ISSUED.clear()
    run = Run(ctx)
    # Other libraries at INFO: at DEBUG botocore prints whole request and response bodies, the data
    # stored (a task's data, a job's metadata) included; Lambda runs them at WARNING.
    caplog.set_level(logging.INFO)
    with captured_logs("DEBUG") as logs:
        documents_run(run, salesforce, api_key)
        generic_tasks_run(run)
        jobs_run(run)
    printed = capsys.readouterr()
    others = "\n".join(
        f"{record.name} {record.getMessage()} {vars(record)}" for record in caplog.records if not record.name.startswith("tasklane")
    )
    output = "\n".join((logs.text, printed.out, printed.err, others))

    # The capture saw the run: every route answered on a line of its own, with its tenant.
    answered = {line["route"]: line for line in logs.named("answered")}
    assert set(answered) == run.routes and len(run.routes) == 24
    assert all(line["tenant"] == "acme" for line in answered.values())
    assert logs.named("denied") and logs.named("request refused") and logs.named("unit ran")

    secrets = {
        "the Salesforce session id": SESSION,
        "the revoked session id": REVOKED,
        "the API key": api_key,
        "the API key's secret part": api_key.split(".", 1)[1],
        "the HS256 signing secret": JWT_SECRET,
        "the webhook secret": WEBHOOK_SECRET,
        **{f"bearer token {n}": issued for n, issued in enumerate(ISSUED)},
        **{f"bearer token {n}'s signature": issued.rsplit(".", 1)[1] for n, issued in enumerate(ISSUED)},
    }
    assert len(ISSUED) > 20
    for what, secret in secrets.items():
        assert secret not in output, f"{what} was logged"
    assert MASK not in output, "some code logged a header, a body or a credential (masked, but it must not log it)"
