"""The Salesforce integration, end to end through the handlers, against a fake Salesforce on loopback
(https, a test certificate trusted through REQUESTS_CA_BUNDLE) driven by simple-salesforce itself."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader
from tasklane import config
from tasklane.dap import DataSourceError
from tasklane.dap.pack import pack_directory
from tasklane.integrations.salesforce import SalesforceSession
from tasklane.storage import get_backends
from tasklane.storage.clients import aws_client

from tests.fakes.salesforce import FakeSalesforce
from tasklane.domain import templates

from tests.support import ROOT, zip_files, body_of, bucket, http_event, load_function, queue_url, s3, sqs, sqs_records, table

SESSION = "00Dtest!session"
ACCOUNTS = [f"0015g00000{n:05d}AAA" for n in range(10)]
DOCUMENT_ID = "0695g000001AbCdAAA"
VERSION_ID = "0685g000001XyZwAAA"


@pytest.fixture
def salesforce(aws, tmp_path, monkeypatch) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(tmp_path) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
        monkeypatch.setenv("SALESFORCE_HOSTS", "127.0.0.1")
        config.clear()
        get_backends.cache_clear()
        seed(fake, ACCOUNTS)
        yield fake


def seed(fake: FakeSalesforce, accounts: list[str]) -> None:
    """The accounts, a contact each, and examples/account-summary as ContentDocument DOCUMENT_ID."""
    for index, account in enumerate(accounts):
        fake.add("Account", Id=account, Name=f"Account {index}", Industry="Retail")
        fake.add("Contact", Id=f"0035g00000{index:05d}AAA", Name=f"Contact {index}", AccountId=account)
    fake.add_template(DOCUMENT_ID, VERSION_ID, pack_directory(ROOT / "examples" / "account-summary"))


@pytest.fixture
def handlers(aws, salesforce):
    return {name: load_function(name).lambda_handler for name in ("post_task", "post_batch", "get_batch_task", "worker")}


def integration(fake: FakeSalesforce, **changes: str) -> dict[str, str]:
    return {"type": "Salesforce", "sessionID": SESSION, "serverURL": fake.url, **changes}


def post(handlers, ctx, route: str, body: dict[str, Any]) -> dict[str, Any]:
    name = "post_task" if route == "/v1/task" else "post_batch"
    return handlers[name](http_event(name, body=body), ctx)


def run_worker(handlers, ctx, receive_count: int = 1) -> None:
    while True:
        messages = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        found = messages.get("Messages", [])
        if not found:
            return
        answer = handlers["worker"]({"Records": sqs_records(found, receive_count)}, ctx)
        assert answer == {"batchItemFailures": []}
        for m in found:
            sqs().delete_message(QueueUrl=queue_url(), ReceiptHandle=m["ReceiptHandle"])


def task_status(handlers, ctx, batch_id: str, task_id: str) -> dict[str, Any]:
    answer = handlers["get_batch_task"](http_event("get_batch_task", path_params={"batchId": batch_id, "taskId": task_id}), ctx)
    assert answer["statusCode"] == 200, answer
    return body_of(answer)


def test_a_batch_fetches_the_template_once_reads_each_record_and_attaches_each_result(handlers, ctx, salesforce):
    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": a}} for a in ACCOUNTS], "integration": integration(salesforce)}
    answer = post(handlers, ctx, "/v1/batch", body)
    assert answer["statusCode"] == 202, answer
    # Accepting: the ContentDocument's latest version, then its bytes; nothing else.
    assert len(salesforce.calls()) == 2 and len(salesforce.calls("GET", "/VersionData")) == 1
    before = len(salesforce.calls())
    run_worker(handlers, ctx)
    worker_calls = salesforce.calls()[before:]
    # One query reads the ten accounts; each task queries its contacts and attaches its summary.
    reads = [c for c in worker_calls if "FROM+Account+WHERE+Id+IN" in c]
    assert len(reads) == 1 and len([c for c in worker_calls if "FROM+Contact" in c]) == 10
    assert len(salesforce.calls("POST")) == 10 and len(worker_calls) == 21
    batch = body_of(answer)
    status = task_status(handlers, ctx, batch["id"], batch["tasks"][3])
    assert status["statusMessage"] == "Ready" and status["errors"] is False, status
    created = {c["FirstPublishLocationId"]: c for c in salesforce.created}
    assert set(created) == set(ACCOUNTS)
    pdf = salesforce.version_data[created[ACCOUNTS[3]]["Id"]]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Account 3" in text and "Contact 3" in text
    assert created[ACCOUNTS[3]]["Title"] == f"summary-{ACCOUNTS[3]}.pdf"


def test_a_second_batch_of_the_same_version_downloads_nothing(handlers, ctx, salesforce):
    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": ACCOUNTS[0]}}], "integration": integration(salesforce)}
    assert post(handlers, ctx, "/v1/batch", body)["statusCode"] == 202
    assert post(handlers, ctx, "/v1/batch", body)["statusCode"] == 202
    assert len(salesforce.calls("GET", "/VersionData")) == 1
    assert len(salesforce.calls("GET", "FROM+ContentDocument")) == 2  # which version is latest: asked each time


def test_the_session_id_is_never_stored_in_the_clear(handlers, ctx, salesforce):
    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": ACCOUNTS[0]}}], "integration": integration(salesforce)}
    answer = post(handlers, ctx, "/v1/batch", body)
    assert answer["statusCode"] == 202 and SESSION not in answer["body"]
    queued = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert queued and all(SESSION not in m["Body"] for m in queued)
    assert "sealedSession" in queued[0]["Body"]
    run_worker(handlers, ctx)
    items = aws_client("dynamodb").scan(TableName=table())["Items"]
    assert items and SESSION not in json.dumps(items)
    for listed in s3().list_objects_v2(Bucket=bucket()).get("Contents", []):
        assert SESSION.encode() not in s3().get_object(Bucket=bucket(), Key=listed["Key"])["Body"].read()
    batch = body_of(answer)
    assert SESSION not in json.dumps(task_status(handlers, ctx, batch["id"], batch["tasks"][0]))


@pytest.mark.parametrize(
    "server_url",
    [
        "http://127.0.0.1:1",  # plain http, even on an allowed host
        "https://evil.example.com",
        "https://user:pw@127.0.0.1",
        "https://127.0.0.1.evil.example.com",
        "not a url",
    ],
)
def test_a_bad_server_url_is_a_400_before_anything_is_stored_or_sent(handlers, ctx, salesforce, server_url):
    body = {"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[0]}, "integration": integration(salesforce, serverURL=server_url)}
    answer = post(handlers, ctx, "/v1/task", body)
    assert answer["statusCode"] == 400, answer
    assert body_of(answer)["errors"][0]["loc"] == "integration.serverURL"
    assert salesforce.calls() == []
    assert not sqs().receive_message(QueueUrl=queue_url(), VisibilityTimeout=0).get("Messages")


def test_the_default_allowlist_holds_salesforce_domains_only(monkeypatch, aws):
    from tasklane.integrations.salesforce import DEFAULT_HOSTS, HostNotAllowed, instance_url

    for good in ("https://acme.my.salesforce.com/services/Soap/u/50.0/00D", "https://acme--uat.sandbox.my.salesforce.com",
                 "https://acme.lightning.force.com", "https://na1.salesforce.com:443"):
        assert instance_url(good, DEFAULT_HOSTS).startswith("https://")
    for bad in ("https://salesforce.com.evil.io", "https://127.0.0.1", "https://evilsalesforce.com"):
        with pytest.raises(HostNotAllowed):
            instance_url(bad, DEFAULT_HOSTS)


def test_an_expired_session_at_accept_is_a_400_naming_it(handlers, ctx, salesforce):
    body = {"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[0]}, "integration": integration(salesforce, sessionID="expired")}
    answer = post(handlers, ctx, "/v1/task", body)
    assert answer["statusCode"] == 400 and "INVALID_SESSION_ID" in body_of(answer)["message"], answer
    assert body_of(answer)["errors"][0]["loc"] == "integration.sessionID"


def test_a_session_revoked_after_accept_fails_the_tasks_without_retrying(handlers, ctx, salesforce):
    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": a}} for a in ACCOUNTS[:3]], "integration": integration(salesforce)}
    batch = body_of(post(handlers, ctx, "/v1/batch", body))
    salesforce.sessions.clear()
    before = len(salesforce.calls())
    run_worker(handlers, ctx)
    assert len(salesforce.calls()) - before == 1  # the combined read was refused; nothing was asked again
    status = task_status(handlers, ctx, batch["id"], batch["tasks"][1])
    assert status["errors"] is True and "INVALID_SESSION_ID" in status["statusMessage"], status


def test_a_throttled_kms_redelivers_the_unit_rather_than_fail_its_tasks(handlers, ctx, salesforce):
    from tasklane.storage.clients import aws_client
    from tests.support import aws_error, aws_fault

    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": a}} for a in ACCOUNTS[:2]], "integration": integration(salesforce)}
    batch = body_of(post(handlers, ctx, "/v1/batch", body))
    found = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    with aws_fault(aws_client("kms"), "before-call.kms.Decrypt", aws_error("ThrottlingException")) as failed:
        answer = handlers["worker"]({"Records": sqs_records(found)}, ctx)

    assert failed and answer["batchItemFailures"], answer
    assert task_status(handlers, ctx, batch["id"], batch["tasks"][0])["completed"] is False


QUERY_DAP = {
    "dap.yaml": """name: Contacts
params: {accountId: {required: true}}
steps:
  - query: {as: contacts, soql: "SELECT Id, Name FROM Contact WHERE AccountId = {{ param.accountId | soql }}"}
  - compose: {template: list.txt, as: names}
  - store: {from: names, id: Names}
""",
    "list.txt": "{% for c in contacts %}{{ c.Name }};{% endfor %}",
}


def test_a_param_cannot_change_a_query(handlers, ctx, salesforce):
    template = templates.upload(get_backends(), "acme", zip_files(QUERY_DAP)).id
    hostile = ACCOUNTS[0] + "' OR Name != '"
    body = {"template": template, "params": {"accountId": hostile}, "integration": integration(salesforce)}
    answer = post(handlers, ctx, "/v1/task", body)
    assert answer["statusCode"] == 202, answer
    run_worker(handlers, ctx)
    [query] = salesforce.calls("GET", "FROM+Contact")
    # The whole param arrived as one quoted, escaped literal, so it matched no contact.
    assert "%27" + "0015g0000000000AAA%5C%27+OR+Name+%21%3D+%5C%27" + "%27" in query
    task_id = body_of(answer)["taskID"]
    status = body_of(load_function("get_task").lambda_handler(http_event("get_task", path_params={"taskId": task_id}), ctx))
    assert status["statusMessage"] == "Ready"
    assert s3().get_object(Bucket=bucket(), Key=_result_key(task_id))["Body"].read() == b""


def _result_key(task_id: str) -> str:
    [listed] = [o["Key"] for o in s3().list_objects_v2(Bucket=bucket())["Contents"] if task_id in o["Key"]]
    return listed


def test_the_rate_limit_is_retried_with_backoff_then_succeeds(handlers, ctx, salesforce):
    body = {"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[0]}, "integration": integration(salesforce)}
    answer = post(handlers, ctx, "/v1/task", body)
    salesforce.rate_limited = 2
    run_worker(handlers, ctx)
    assert len(salesforce.created) == 1 and salesforce.rate_limited == 0
    task_id = body_of(answer)["taskID"]
    status = body_of(load_function("get_task").lambda_handler(http_event("get_task", path_params={"taskId": task_id}), ctx))
    assert status["statusMessage"] == "Ready", status


def test_a_rate_limit_that_lasts_fails_saying_so(salesforce):
    session = SalesforceSession(salesforce.url, SESSION, ("127.0.0.1",), retry_seconds=1.0)
    salesforce.rate_limited = 100
    with pytest.raises(DataSourceError) as failed:
        session.query("SELECT Id FROM Account")
    assert "REQUEST_LIMIT_EXCEEDED" in str(failed.value) and "gave up" in str(failed.value)
    assert 2 <= session.calls <= 3


def test_a_missing_record_fails_the_task_naming_it(handlers, ctx, salesforce):
    missing = "0015g0000099999AAA"
    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": missing}}, {"params": {"id": ACCOUNTS[1]}}], "integration": integration(salesforce)}
    batch = body_of(post(handlers, ctx, "/v1/batch", body))
    run_worker(handlers, ctx)
    failed = task_status(handlers, ctx, batch["id"], batch["tasks"][0])
    assert failed["errors"] is True and f"Account {missing} was not found" in failed["statusMessage"], failed
    assert task_status(handlers, ctx, batch["id"], batch["tasks"][1])["statusMessage"] == "Ready"


def test_a_rerun_finds_the_attachment_it_made_instead_of_adding_another(salesforce):
    session = SalesforceSession(salesforce.url, SESSION, ("127.0.0.1",))
    first = session.attach(ACCOUNTS[0], "summary.pdf", b"%PDF-1.4", "tasklane:t-1:Summary", check_first=False)
    again = session.attach(ACCOUNTS[0], "summary.pdf", b"%PDF-1.4", "tasklane:t-1:Summary", check_first=True)
    other = session.attach(ACCOUNTS[0], "summary.pdf", b"%PDF-1.4", "tasklane:t-2:Summary", check_first=True)
    assert first == again != other and len(salesforce.created) == 2


def test_a_redirect_to_another_host_is_refused(salesforce):
    session = SalesforceSession(salesforce.url, SESSION, ("127.0.0.1",))
    with pytest.raises(DataSourceError) as refused:
        session._call(lambda: session._sf.session.get("https://localhost:1/elsewhere"))
    assert "not an allowed Salesforce host" in str(refused.value)


def test_an_18_character_id_in_any_case_finds_its_record_in_a_combined_read(salesforce):
    from tasklane.integrations.salesforce import canonical_id

    assert canonical_id("001a0000006vm9riac") == canonical_id("001A0000006VM9RIAC") == "001A0000006Vm9r"
    salesforce.add("Account", Id="001A0000006Vm9rIAC", Name="Mixed Case", Owner={"Name": "Ann"})
    session = SalesforceSession(salesforce.url, SESSION, ("127.0.0.1",))
    session.prefetch([("Account", ("Name", "Owner.Name"), "001a0000006vm9riac")])
    record = session.record("Account", "001a0000006vm9riac", ["Name", "Owner.Name"])
    # Found among the combined read, relationship field included, with no call of its own.
    assert record == {"Id": "001A0000006Vm9rIAC", "Name": "Mixed Case", "Owner": {"Name": "Ann"}}
    assert session.calls == 1


def test_attach_to_needs_a_record_id_param(handlers, ctx, salesforce):
    template = templates.upload(get_backends(), "acme", zip_files({
        "dap.yaml": "name: A\nsteps:\n  - compose: {template: t.txt, as: t}\n  - store: {from: t, id: T, attachTo: record}\n",
        "t.txt": "x",
    })).id
    answer = post(handlers, ctx, "/v1/task", {"template": template, "params": {"id": "not\nan id"}, "integration": integration(salesforce)})
    run_worker(handlers, ctx)
    task_id = body_of(answer)["taskID"]
    status = body_of(load_function("get_task").lambda_handler(http_event("get_task", path_params={"taskId": task_id}), ctx))
    assert status["errors"] is True and "to be a record id" in status["statusMessage"], status
    assert salesforce.created == []


def test_a_slow_salesforce_does_not_count_against_the_templates_time(salesforce):
    from tasklane.dap import Engine, RunContext, load_dap

    class Slow:
        def record(self, type_, id_, fields):
            threading.Event().wait(0.6)
            return {"Id": id_, "Name": "Slow"}

    dap = load_dap(zip_files({
        "dap.yaml": "name: S\nsteps:\n  - record: {as: a, type: Account, id: '{{ param.id }}', fields: [Name]}\n"
                    "  - compose: {template: t.txt, as: t}\n  - store: {from: t, id: T}\n",
        "t.txt": "{{ a.Name }}",
    }))
    result = Engine(time_limit_seconds=0.4).run(dap, {"id": ACCOUNTS[0]}, RunContext("t-1"), data=Slow())  # type: ignore[arg-type]
    assert result.ok, result.status_message


# --- each task attaches once and counts once, however often its unit arrives


def _deliver(handlers, ctx, messages, receive_count: int, worker: str = "worker") -> dict[str, Any]:
    return handlers[worker]({"Records": sqs_records(messages, receive_count)}, ctx)


def _received() -> list[dict[str, Any]]:
    return sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]


def _attached(fake: FakeSalesforce) -> list[str]:
    return sorted(c["FirstPublishLocationId"] for c in fake.created)


def _lease_run_out() -> None:
    """Move the clock past any lease a run took (a lease outlasts its invocation, 60 s here)."""
    from datetime import timedelta

    from tasklane import timeutil
    from tests.support import FixedClock

    get_backends().clock = FixedClock(timeutil.now() + timedelta(minutes=13))


def _post_batch(handlers, ctx, salesforce, accounts: list[str]) -> dict[str, Any]:
    body = {"template": DOCUMENT_ID, "tasks": [{"params": {"id": a}} for a in accounts], "integration": integration(salesforce)}
    answer = post(handlers, ctx, "/v1/batch", body)
    assert answer["statusCode"] == 202, answer
    return body_of(answer)


def _counters(batch_id: str) -> tuple[int, int]:
    from tasklane.timeutil import epoch, now

    stored = get_backends().batches.get_batch("acme", batch_id, epoch(now()))
    assert stored is not None
    return stored.succeeded, stored.failed


def test_a_chunk_delivered_to_a_second_worker_while_the_first_runs_it_attaches_and_counts_once(handlers, ctx, salesforce):
    """Two invocations on one unit: the copy reaches a second worker (another Lambda instance) just
    before the first records the chunk finished; the second finds it held and does nothing."""
    from tests.support import dynamodb

    accounts = ACCOUNTS[:3]
    batch = _post_batch(handlers, ctx, salesforce, accounts)
    messages = _received()
    second = load_function("worker").lambda_handler
    during: list[Any] = []

    def second_delivery(**_: Any) -> None:
        if not during:
            posts_before = len(salesforce.calls("POST"))
            during.append(second({"Records": sqs_records(messages, 2)}, ctx))
            during.append(len(salesforce.calls("POST")) - posts_before)

    events = dynamodb().meta.events
    events.register("before-call.dynamodb.TransactWriteItems", second_delivery, unique_id="second")
    try:
        assert _deliver(handlers, ctx, messages, 1) == {"batchItemFailures": []}
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="second")
    assert during == [{"batchItemFailures": []}, 0]
    assert _attached(salesforce) == sorted(accounts)
    assert _counters(batch["id"]) == (3, 0)
    assert task_status(handlers, ctx, batch["id"], batch["tasks"][0])["statusMessage"] == "Ready"


@pytest.mark.parametrize("receive_count", [2, 1], ids=["redelivered", "duplicate copy"])
def test_a_run_that_dies_after_attaching_is_taken_over_without_a_second_attachment(handlers, ctx, salesforce, receive_count):
    """The crash falls between the attachments and the write that finishes the chunk. Whoever takes
    the unit over (a redelivery, or a duplicate copy SQS delivers first time) finds each attachment
    by its marker instead of adding another, and the batch counts each task once."""
    from tests.support import aws_error, aws_fault, dynamodb

    accounts = ACCOUNTS[:3]
    batch = _post_batch(handlers, ctx, salesforce, accounts)
    messages = _received()
    with aws_fault(dynamodb(), "before-call.dynamodb.TransactWriteItems", aws_error("InternalServerError", 500)) as failed:
        answer = _deliver(handlers, ctx, messages, 1)
    assert failed and answer == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert _attached(salesforce) == sorted(accounts) and _counters(batch["id"]) == (0, 0)

    assert _deliver(handlers, ctx, messages, receive_count) == {"batchItemFailures": []}  # the lease still holds
    assert len(salesforce.created) == 3 and _counters(batch["id"]) == (0, 0)
    _lease_run_out()
    assert _deliver(handlers, ctx, messages, receive_count) == {"batchItemFailures": []}
    assert _attached(salesforce) == sorted(accounts)
    assert len(salesforce.calls("GET", "FROM+ContentVersion")) == 3  # the takeover looked for each
    assert _counters(batch["id"]) == (3, 0)
    status = task_status(handlers, ctx, batch["id"], batch["tasks"][1])
    assert status["statusMessage"] == "Ready" and status["errors"] is False, status

    assert _deliver(handlers, ctx, messages, receive_count + 1) == {"batchItemFailures": []}  # once finished: nothing
    assert len(salesforce.created) == 3 and _counters(batch["id"]) == (3, 0)


def test_a_single_pdf_task_whose_run_died_after_attaching_is_attached_once(handlers, ctx, salesforce):
    from tests.support import aws_error, aws_fault, dynamodb

    body = {"template": DOCUMENT_ID, "params": {"id": ACCOUNTS[4]}, "integration": integration(salesforce)}
    task_id = body_of(post(handlers, ctx, "/v1/task", body))["taskID"]
    messages = _received()
    finishing = lambda params: "Completed" in str(params)  # noqa: E731
    with aws_fault(dynamodb(), "before-call.dynamodb.UpdateItem", aws_error("ProvisionedThroughputExceededException"), finishing):
        assert _deliver(handlers, ctx, messages, 1)["batchItemFailures"]
    assert _attached(salesforce) == [ACCOUNTS[4]]
    _lease_run_out()
    assert _deliver(handlers, ctx, messages, 2) == {"batchItemFailures": []}
    assert _attached(salesforce) == [ACCOUNTS[4]]
    status = body_of(load_function("get_task").lambda_handler(http_event("get_task", path_params={"taskId": task_id}), ctx))
    assert status["statusMessage"] == "Ready" and "Summary" in [r["id"] for r in status["resultList"]], status
    # The rerun rendered the PDF again (its bytes carry the moment), so compare what they say.
    stored = s3().get_object(Bucket=bucket(), Key=_result_key_of(task_id, "Summary"))["Body"].read()
    attached = salesforce.version_data[salesforce.created[0]["Id"]]
    assert _pdf_text(stored) == _pdf_text(attached) and "Account 4" in _pdf_text(stored)


def _pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _result_key_of(task_id: str, result_id: str) -> str:
    [found] = [o["Key"] for o in s3().list_objects_v2(Bucket=bucket())["Contents"] if f"{task_id}/{result_id}/" in o["Key"]]
    return found


def test_a_unit_received_before_but_never_run_does_not_look_for_attachments(handlers, ctx, salesforce):
    """Receive count 2 after a delivery that claimed nothing (the worker had no time for it): no run can
    have attached anything, so none is looked for."""
    accounts = ACCOUNTS[:2]
    batch = _post_batch(handlers, ctx, salesforce, accounts)
    messages = _received()
    assert _deliver(handlers, ctx, messages, 2) == {"batchItemFailures": []}
    assert salesforce.calls("GET", "FROM+ContentVersion") == []
    assert _attached(salesforce) == sorted(accounts) and _counters(batch["id"]) == (2, 0)
