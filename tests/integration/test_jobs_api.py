"""The jobs family through each function's handler on moto: basicSync's merge rules and the jobs API."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import pytest

from tests.support import ROOT, aws_error, aws_fault, bucket, dynamodb, jwt_event, load_function, s3

SEED_TEXT = (ROOT / "tests" / "fixtures" / "basic_sync_seed.json").read_text()
# The vendor's example has a trailing comma; without it, it is the seed's body.
SEED = json.loads(SEED_TEXT.replace('"Key1":"V1",', '"Key1":"V1"'))
CID = SEED["metadata"]["clientJobId"]
FUNCTIONS = (
    "sync_job", "create_job", "get_job", "update_job", "list_jobs", "list_workflow_jobs", "abort_job",
    "assign_job", "add_job_metadata", "delete_job", "put_job_resource", "get_job_resource", "upload_job_resource",
)
ALL_SCOPES = ("workflow.execute", "job.admin")


def step(unique: str, number: int, updated: str, **fields: Any) -> dict[str, Any]:
    single = copy.deepcopy(SEED["completedSteps"][0]["singleStep"])
    single.update({"uniqueStepId": unique, "stepNumber": number, "updated": updated, "completed": updated, **fields})
    return {"singleStep": single, "reportStep": None}


def job(
    cid: str = CID, status: str = "InProgress", updated: str = "2021-10-01T12:48:13.824Z", steps=None, team=None, **metadata: Any
):
    body = copy.deepcopy(SEED)
    if team is not None:
        body["team"] = team
    body["metadata"].update({"clientJobId": cid, "status": status, "updated": updated, **metadata})
    if steps is not None:
        body["completedSteps"] = steps
    return body


class Api:
    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self._handlers = {name: load_function(name).lambda_handler for name in FUNCTIONS}

    def call(self, name: str, path_params: dict[str, str] | None = None, raw: bytes | None = None, **kwargs: Any):
        kwargs.setdefault("scopes", ALL_SCOPES)
        ev = jwt_event(name, **kwargs)
        if path_params is not None:
            ev["pathParameters"] = path_params
            path = ev["routeKey"].split(" ", 1)[1]
            for key, value in path_params.items():
                path = path.replace("{" + key + "}", value)
            ev["rawPath"] = ev["requestContext"]["http"]["path"] = path
        if raw is not None:
            ev["body"] = base64.b64encode(raw).decode()
            ev["isBase64Encoded"] = True
        answer = self.last = self._handlers[name](ev, self._ctx)
        body = answer.get("body")
        return answer["statusCode"], (json.loads(body) if body else None)

    def sync(self, body: dict[str, Any] | str, **kwargs: Any):
        return self.call("sync_job", body=body, **kwargs)

    def get(self, cid: str = CID, **kwargs: Any):
        return self.call("get_job", path_params={"clientJobId": cid}, **kwargs)


@pytest.fixture
def api(aws, ctx) -> Api:
    return Api(ctx)


def step_ids(body: dict[str, Any]) -> list[str]:
    return [s["singleStep"]["uniqueStepId"] for s in body["completedSteps"]]


def test_the_seed_creates_a_job_with_a_server_id(api):
    status, body = api.sync(SEED)
    assert status == 201, body
    assert re.fullmatch(r"[0-9a-f]{24}", body["jobId"])
    assert body["metadata"] == SEED["metadata"] and body["team"] == "apiteam"
    assert body["completedSteps"] == SEED["completedSteps"]
    status, again = api.sync(SEED)
    assert status == 200 and again["jobId"] == body["jobId"]


def test_the_seed_as_published_is_400_naming_line_and_column(api):
    status, body = api.sync(SEED_TEXT)
    assert status == 400 and "line 9 column 5" in body["message"]


def test_unknown_fields_are_kept(api):
    body = job()
    body["newTopLevel"] = {"a": 1}
    body["metadata"]["newMetadataField"] = "x"
    body["completedSteps"][0]["singleStep"]["newStepField"] = [1, 2]
    api.sync(body)
    stored = api.get()[1][0]
    assert stored["newTopLevel"] == {"a": 1} and stored["metadata"]["newMetadataField"] == "x"
    assert stored["completedSteps"][0]["singleStep"]["newStepField"] == [1, 2]


def test_a_newer_sync_merges_steps_and_replaces_metadata(api):
    first = step("s1", 1, "2021-10-01T12:00:00Z")
    api.sync(job(steps=[first], updated="2021-10-01T12:00:00Z"))
    newer = job(steps=[step("s1", 1, "2021-10-01T12:00:00Z"), step("s2", 2, "2021-10-01T12:05:00Z")],
                updated="2021-10-01T12:05:00Z", jobTitle="Renamed")
    status, body = api.sync(newer)
    assert status == 200 and step_ids(body) == ["s1", "s2"] and body["metadata"]["jobTitle"] == "Renamed"


def test_a_stale_sync_changes_no_metadata_but_loses_no_step(api):
    api.sync(job(steps=[step("s1", 1, "2021-10-01T12:10:00Z", note="newest")], updated="2021-10-01T12:10:00Z", jobTitle="New"))
    stale = job(
        steps=[step("s1", 1, "2021-10-01T12:00:00Z", note="older"), step("s0", 2, "2021-10-01T11:00:00Z")],
        updated="2021-10-01T11:00:00Z",
        jobTitle="Old",
    )
    status, body = api.sync(stale)
    assert status == 200 and body["metadata"]["jobTitle"] == "New"
    assert step_ids(body) == ["s1", "s0"]
    assert body["completedSteps"][0]["singleStep"]["note"] == "newest"


def test_a_newer_copy_of_a_step_replaces_it_and_steps_read_in_step_order(api):
    api.sync(job(steps=[step("b", 2, "2021-10-01T12:00:00Z"), step("a", 1, "2021-10-01T12:00:00Z", note="v1")]))
    api.sync(job(steps=[step("a", 1, "2021-10-01T13:00:00Z", note="v2"), step("c", 2, "2021-10-01T11:00:00Z")]))
    body = api.get()[1][0]
    assert step_ids(body) == ["a", "c", "b"]  # stepNumber, then completed
    assert body["completedSteps"][0]["singleStep"]["note"] == "v2"


def test_cancelled_steps_merge_the_same_way(api):
    body = job()
    body["cancelledSteps"] = [step("x1", 3, "2021-10-01T12:00:00Z", note="v1")]
    api.sync(body)
    body["cancelledSteps"] = [step("x1", 3, "2021-10-01T12:30:00Z", note="v2"), step("x2", 4, "2021-10-01T12:00:00Z")]
    status, answer = api.sync(body)
    assert [s["singleStep"]["note"] for s in answer["cancelledSteps"]][0] == "v2"
    assert len(answer["cancelledSteps"]) == 2 and len(answer["completedSteps"]) == 1


def test_aborted_aborts_and_final_jobs_refuse_a_status_change(api):
    api.sync(job())
    status, body = api.sync(job(status="Aborted", abandonReason="Site closed", updated="2021-10-02T00:00:00Z"))
    assert status == 200 and body["metadata"]["status"] == "Aborted" and body["metadata"]["abandonReason"] == "Site closed"
    late = job(status="InProgress", updated="2021-10-03T00:00:00Z", steps=[step("late", 9, "2021-10-03T00:00:00Z")])
    status, refused = api.sync(late)
    assert status == 409 and "none of its steps were merged" in refused["message"]
    assert "late" not in step_ids(api.get()[1][0])


def test_a_completed_job_takes_more_steps_with_the_same_status(api):
    api.sync(SEED)
    more = copy.deepcopy(SEED)
    more["metadata"]["updated"] = "2021-10-01T13:00:00Z"
    more["completedSteps"].append(step("extra", 2, "2021-10-01T13:00:00Z"))
    status, body = api.sync(more)
    assert status == 200 and len(body["completedSteps"]) == 2


@pytest.mark.parametrize("status_value", ["Done", "completed", ""])
def test_an_unknown_status_is_400_listing_the_accepted_ones(api, status_value):
    status, body = api.sync(job(status=status_value))
    assert status == 400 and "InProgress, Paused, Completed, Aborted" in body["message"]


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["metadata"].pop("clientJobId"),
        lambda b: b["metadata"].update(clientJobId="has/slash"),
        lambda b: b["completedSteps"][0]["singleStep"].pop("uniqueStepId"),
        lambda b: b["completedSteps"][0]["singleStep"].update(stepNumber="1"),
        lambda b: b.update(completedSteps={"not": "a list"}),
    ],
)
def test_a_malformed_sync_is_400(api, change):
    body = job()
    change(body)
    assert api.sync(body)[0] == 400


def test_a_thousand_step_job_past_the_item_limit_syncs_and_reads_back_whole(api, aws):
    from tasklane.storage.clients import aws_client

    note = "n" * 600
    steps = [step(f"s{i:04d}", i, "2021-10-01T12:00:00Z", note=note, values=[{"v": i}]) for i in range(1000)]
    body = job(steps=steps)
    assert len(json.dumps(body)) > 600_000
    assert api.sync(body)[0] == 201
    stored = api.get()[1][0]
    assert step_ids(stored) == [f"s{i:04d}" for i in range(1000)] and stored["completedSteps"][999]["singleStep"]["note"] == note
    writes: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if model.name not in ("GetItem", "Query"):
            writes.append(model.name)

    events = aws_client("dynamodb").meta.events
    events.register("before-call.dynamodb", record)
    try:
        body["completedSteps"] = steps + [step(f"t{i}", 1000 + i, "2021-10-01T13:00:00Z") for i in range(10)]
        assert api.sync(body)[0] == 200
    finally:
        events.unregister("before-call.dynamodb", record)
    assert sorted(writes) == ["PutItem"] * 10 + ["TransactWriteItems"]


def test_create_is_409_when_the_job_exists(api):
    assert api.call("create_job", body=job())[0] == 201
    assert api.call("create_job", body=job())[0] == 409


def test_get_answers_an_array_and_unknown_jobs_are_404(api):
    api.sync(job())
    status, body = api.get()
    assert status == 200 and isinstance(body, list) and body[0]["metadata"]["clientJobId"] == CID
    assert api.get("nope")[0] == 404


def test_update_replaces_metadata_only(api):
    api.sync(job(steps=[step("s1", 1, "2021-10-01T12:00:00Z")]))
    status, body = api.call("update_job", path_params={"clientJobId": CID}, body={"metadata": {"jobTitle": "New title"}})
    assert status == 200 and body["metadata"]["jobTitle"] == "New title" and step_ids(body) == ["s1"]
    status, _ = api.call("update_job", path_params={"clientJobId": CID}, body={"metadata": {"status": "Completed"}})
    assert status == 400


def test_add_metadata_merges_a_string_map(api):
    api.sync(job())
    status, body = api.call("add_job_metadata", path_params={"clientJobId": CID}, body={"Site": "North"})
    assert status == 200 and body["metadata"]["metadata"] == {"Key1": "V1", "Site": "North"}
    assert api.call("add_job_metadata", path_params={"clientJobId": CID}, body={"n": 1})[0] == 400


def test_abort_and_assign_refuse_final_jobs(api):
    api.sync(job())
    status, body = api.call("assign_job", path_params={"clientJobId": CID, "userId": "u2"})
    assert status == 200 and body["metadata"]["userId"] == "u2"
    status, body = api.call("abort_job", path_params={"clientJobId": CID}, body={"abandonReason": "Weather"})
    assert status == 200 and body["metadata"]["status"] == "Aborted" and body["metadata"]["abandonReason"] == "Weather"
    assert api.call("abort_job", path_params={"clientJobId": CID}, body={})[0] == 409
    assert api.call("assign_job", path_params={"clientJobId": CID, "userId": "u3"})[0] == 409
    api.sync(job(cid="done-1", status="Completed"))
    assert api.call("abort_job", path_params={"clientJobId": "done-1"}, body={})[0] == 409


def test_lists_are_newest_first_paged_and_by_workflow(api, aws):
    from tasklane.storage.clients import aws_client

    for index in range(5):
        api.sync(job(cid=f"job-{index}", workflowId="wf-a" if index % 2 == 0 else "wf-b"))
    operations: list[str] = []
    events = aws_client("dynamodb").meta.events

    def record(model: Any, **_: Any) -> None:
        operations.append(model.name)

    events.register("before-call.dynamodb", record)
    try:
        status, listed = api.call("list_jobs", query={"skip": "1", "limit": "2"})
        workflow = api.call("list_workflow_jobs", path_params={"workflowId": "wf-a"})[1]
    finally:
        events.unregister("before-call.dynamodb", record)
    assert [j["metadata"]["clientJobId"] for j in listed] == ["job-3", "job-2"]
    assert [j["metadata"]["clientJobId"] for j in workflow] == ["job-4", "job-2", "job-0"]
    assert operations == ["Query", "Query"]
    assert len(api.call("list_jobs")[1]) == 5
    assert api.call("list_jobs", query={"limit": "101"})[0] == 400
    assert api.call("list_jobs", query={"skip": "x"})[0] == 400


def test_a_changed_workflow_moves_the_job_between_workflow_lists(api):
    api.sync(job(workflowId="wf-a"))
    api.sync(job(workflowId="wf-b", updated="2021-10-02T00:00:00Z"))
    assert api.call("list_workflow_jobs", path_params={"workflowId": "wf-a"})[1] == []
    assert len(api.call("list_workflow_jobs", path_params={"workflowId": "wf-b"})[1]) == 1


def test_delete_removes_the_job_its_steps_and_files(api, aws):
    api.sync(job(steps=[step(f"s{i}", i, "2021-10-01T12:00:00Z") for i in range(30)]))
    api.call("put_job_resource", path_params={"clientJobId": CID, "name": "p.jpg"}, raw=b"jpeg", headers={"content-type": "image/jpeg"})
    assert api.call("delete_job", path_params={"clientJobId": CID}) == (204, None)
    assert api.get()[0] == 404
    assert api.call("list_jobs")[1] == []
    assert aws.jobs.steps("acme", CID) == []
    assert api.call("delete_job", path_params={"clientJobId": CID})[0] == 404
    assert api.sync(job())[0] == 201


def test_attachments_are_stored_and_read_back_through_a_presigned_url(api, aws):
    api.sync(job())
    params = {"clientJobId": CID, "name": "signature-1.png"}
    status, _ = api.call("put_job_resource", path_params=params, raw=b"\x89PNG...", headers={"content-type": "image/png"})
    assert status == 204
    status, body = api.call("get_job_resource", path_params=params)
    assert status == 200 and "signature-1.png" in body["url"] and body["expiresInSeconds"] == 3600
    stored = aws.job_resources._s3.get_object(Bucket=aws.job_resources._bucket, Key=f"jobs/acme/{CID}/signature-1.png")
    assert stored["Body"].read() == b"\x89PNG..." and stored["ContentType"] == "image/png"
    assert api.call("get_job_resource", path_params={**params, "name": "missing.png"})[0] == 404
    assert api.call("put_job_resource", path_params={**params, "name": "..%2Fx"}, raw=b"x")[0] == 400
    status, body = api.call("put_job_resource", path_params=params, raw=b"x" * (4 * 1024 * 1024 + 1))
    assert status == 413 and "4194304" in body["message"] and "/upload" in body["message"]
    status, body = api.call("upload_job_resource", path_params=params)
    assert status == 200 and body["fields"]["key"] == f"jobs/acme/{CID}/signature-1.png"
    policy = json.loads(base64.b64decode(body["fields"]["policy"]))
    assert ["content-length-range", 1, body["maxBytes"]] in policy["conditions"] and body["maxBytes"] == 1024**3
    assert api.call("put_job_resource", path_params={"clientJobId": "nope", "name": "a.png"}, raw=b"x")[0] == 404


def test_jobs_of_another_tenant_do_not_exist(api):
    api.sync(job())
    assert api.get(tenant="globex")[0] == 404
    assert api.call("list_jobs", tenant="globex")[1] == []
    assert api.call("delete_job", path_params={"clientJobId": CID}, tenant="globex")[0] == 404
    assert api.sync(job(), tenant="globex")[0] == 201
    assert api.get()[0] == 200


def test_a_team_claim_limits_the_caller_to_that_team(api):
    api.sync(job(cid="mine", team="field"))
    api.sync(job(cid="theirs", team="office"))
    field = {"claims": {"team": "field"}}
    assert api.get("mine", **field)[0] == 200
    assert api.get("theirs", **field)[0] == 404
    assert [j["metadata"]["clientJobId"] for j in api.call("list_jobs", **field)[1]] == ["mine"]
    assert api.call("abort_job", path_params={"clientJobId": "theirs"}, body={}, **field)[0] == 404
    assert api.call("get_job_resource", path_params={"clientJobId": "theirs", "name": "a.png"}, **field)[0] == 404
    assert api.sync(job(cid="theirs", team="office"), **field)[0] == 403
    assert api.sync(job(cid="new-one", team="field"), **field)[0] == 201
    assert api.get("theirs")[1][0]["metadata"]["status"] == "InProgress"


def test_limits_that_keep_a_job_storable_are_413_before_anything_is_written(api, aws):
    too_many = job(cid="many", steps=[step(f"s{i}", i, "2021-10-01T12:00:00Z") for i in range(3001)])
    status, body = api.sync(too_many)
    assert status == 413 and "3000 steps" in body["message"]
    big_doc = job(cid="big-doc")
    big_doc["hierarchyStack"] = ["x" * 1000] * 140
    assert api.sync(big_doc)[0] == 413
    assert aws.jobs.header("acme", "many") is None and aws.jobs.steps("acme", "many") == []


def test_a_step_updated_again_and_again_is_counted_once(api, aws):
    for minute in range(3):
        api.sync(job(steps=[step("only", 1, f"2021-10-01T12:0{minute}:00Z", note="x" * 1000)]))
    stored = aws.jobs.header("acme", CID)
    assert stored is not None and len(stored.step_index) == 1
    assert stored.step_bytes == stored.step_index["C:only"][1] < 2000


def test_steps_written_by_a_sync_that_did_not_land_are_not_part_of_the_job(api, aws):
    from tasklane.domain.job_records import StepDoc, StepKind, moment

    api.sync(job(steps=[step("listed", 1, "2021-10-01T12:00:00Z")]))
    orphan = step("orphan", 2, "2021-10-01T12:00:00Z")
    aws.jobs.put_step("acme", CID, StepDoc(StepKind.COMPLETED, "orphan", moment("2021-10-01T12:00:00Z"), orphan))
    assert step_ids(api.get()[1][0]) == ["listed"]


def test_a_transaction_conflict_is_retried_not_failed(api, aws):
    from types import SimpleNamespace

    from tasklane.storage.clients import aws_client

    api.sync(job())
    conflicts = []

    def conflict_once(**_: Any) -> Any:
        if conflicts:
            return None
        conflicts.append(1)
        reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        return SimpleNamespace(status_code=400), {"Error": error, "CancellationReasons": reasons}

    events = aws_client("dynamodb").meta.events
    events.register("before-call.dynamodb.TransactWriteItems", conflict_once, unique_id="conflict")
    try:
        status, body = api.sync(job(steps=[step("after-conflict", 2, "2021-10-02T00:00:00Z")], updated="2021-10-02T00:00:00Z"))
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="conflict")
    assert conflicts and status == 200 and "after-conflict" in step_ids(body)


def test_create_on_an_existing_job_changes_nothing(api):
    api.sync(job(jobTitle="first"))
    assert api.call("create_job", body=job(jobTitle="from-create", steps=[step("s-create", 5, "2021-10-05T00:00:00Z")]))[0] == 409
    stored = api.get()[1][0]
    assert stored["metadata"]["jobTitle"] == "first" and "s-create" not in step_ids(stored)


def test_a_stale_abort_still_aborts(api):
    api.sync(job(updated="2021-10-05T00:00:00Z"))
    status, body = api.sync(job(status="Aborted", abandonReason="Old abort", updated="2021-10-01T00:00:00Z"))
    assert status == 200 and body["metadata"]["status"] == "Aborted" and body["metadata"]["abandonReason"] == "Old abort"
    assert body["metadata"]["updated"] == "2021-10-05T00:00:00Z"


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["metadata"].update(status=[]),
        lambda b: b["metadata"].update(status={}),
        lambda b: b["metadata"].update(updated="yesterday"),
        lambda b: b["completedSteps"][0]["singleStep"].update(updated="13:00"),
        lambda b: b["metadata"].update(clientJobId="basicSync"),
    ],
)
def test_unreadable_statuses_timestamps_and_reserved_ids_are_400(api, change):
    body = job()
    change(body)
    assert api.sync(body)[0] == 400


def test_update_checks_fields_as_sync_does_and_the_header_stays_one_item(api):
    api.sync(job())
    path = {"clientJobId": CID}
    assert api.call("update_job", path_params=path, body={"metadata": {"metadata": 5}})[0] == 400
    assert api.call("update_job", path_params=path, body={"metadata": {"workflowId": "w" * 3000}})[0] == 400
    assert api.call("update_job", path_params=path, body={"metadata": {"jobTitle": "x" * 900, "big": "y" * 500_000}})[0] == 413
    assert api.call("add_job_metadata", path_params=path, body={"k": "v" * 400_000})[0] == 413
    assert api.get()[0] == 200


def test_ids_no_job_can_have_are_404_without_a_lookup(api):
    assert api.get("x" * 3000)[0] == 404
    assert api.call("list_workflow_jobs", path_params={"workflowId": "w" * 3000}) == (200, [])


def test_an_empty_team_claim_still_limits(api):
    api.sync(job(team="field"))
    assert api.get(claims={"team": ""})[0] == 404


# --- faults: a sync cut short loses no step, and a busy backend is a 503 that says when to retry


THROTTLES = {
    "step write throttled": ("before-call.dynamodb.PutItem", aws_error("ProvisionedThroughputExceededException")),
    "header write throttled": ("before-call.dynamodb.TransactWriteItems", aws_error("ThrottlingException")),
    "header transaction cancelled by a throttle": (
        "before-call.dynamodb.TransactWriteItems",
        aws_error("TransactionCanceledException", CancellationReasons=[{"Code": "ThrottlingError"}, {"Code": "None"}]),
    ),
}


@pytest.mark.parametrize("event, fault", THROTTLES.values(), ids=THROTTLES.keys())
def test_a_throttle_in_the_middle_of_a_sync_is_a_503_and_its_retry_loses_no_step(api, aws, event, fault):
    api.sync(job(steps=[step("s1", 1, "2021-10-01T12:00:00Z")]))
    before = api.get()[1]
    version = aws.jobs.header("acme", CID).version
    # New steps only: a newer copy of a listed step replaces its item in place, so it shows before the header lands.
    new_steps = [step(f"s{i}", i, "2021-10-01T13:00:00Z") for i in range(2, 5)]
    sync = job(steps=[step("s1", 1, "2021-10-01T12:00:00Z"), *new_steps], updated="2021-10-01T13:00:00Z", jobTitle="New")
    with aws_fault(dynamodb(), event, fault, when=lambda params: "s3" in str(params), times=1) as failed:
        status, body = api.sync(sync)
    assert failed and status == 503 and api.last["headers"]["Retry-After"] == "2"
    assert body == {"statusCode": 503, "message": body["message"], "errors": []} and "retry" in body["message"]
    assert api.get()[1] == before and aws.jobs.header("acme", CID).version == version  # steps unlisted, if written
    status, body = api.sync(sync)
    assert status == 200 and step_ids(body) == ["s1", "s2", "s3", "s4"] and body["metadata"]["jobTitle"] == "New"


def test_a_refused_write_in_the_middle_of_a_sync_is_a_500_without_retry_after(api, aws):
    api.sync(job())
    before = api.get()[1]
    with aws_fault(dynamodb(), "before-call.dynamodb.PutItem", aws_error("AccessDeniedException")):
        status, body = api.sync(job(steps=[step("new", 9, "2021-10-02T00:00:00Z")], updated="2021-10-02T00:00:00Z"))
    assert status == 500 and "Retry-After" not in api.last["headers"] and body["statusCode"] == 500
    assert api.get()[1] == before


def _resources() -> list[str]:
    return [o["Key"] for o in s3().list_objects_v2(Bucket=bucket(), Prefix=f"jobs/acme/{CID}/").get("Contents", [])]


@pytest.mark.parametrize(
    "fault, status, retry_after",
    [(aws_error("SlowDown", 503), 503, "2"), (aws_error("InternalError", 500), 503, "5"), (aws_error("AccessDenied", 403), 500, None)],
    ids=["throttled", "failed", "refused"],
)
def test_an_s3_failure_storing_an_attachment_writes_nothing_and_says_whether_to_retry(api, aws, fault, status, retry_after):
    api.sync(job())
    before = api.get()[1]
    params = {"clientJobId": CID, "name": "photo-1.jpg"}
    with aws_fault(s3(), "before-call.s3.PutObject", fault) as failed:
        got, body = api.call("put_job_resource", path_params=params, raw=b"jpeg", headers={"content-type": "image/jpeg"})
    assert failed and got == status and body["statusCode"] == status
    assert api.last["headers"].get("Retry-After") == retry_after
    assert api.get()[1] == before and _resources() == []
    assert api.call("get_job_resource", path_params=params)[0] == 404
    assert api.call("put_job_resource", path_params=params, raw=b"jpeg", headers={"content-type": "image/jpeg"})[0] == 204
    assert _resources() == [f"jobs/acme/{CID}/photo-1.jpg"]


def test_the_upload_form_and_reads_are_503_while_dynamodb_is_unreachable(api):
    from botocore.exceptions import EndpointConnectionError

    api.sync(job())
    unreachable = EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    with aws_fault(dynamodb(), "before-call.dynamodb.GetItem", unreachable):
        upload = api.call("upload_job_resource", path_params={"clientJobId": CID, "name": "video.mp4"})
        upload_headers = api.last["headers"]
        read = api.get()
    assert upload[0] == read[0] == 503 and upload_headers["Retry-After"] == api.last["headers"]["Retry-After"] == "5"
    assert api.get()[0] == 200


# --- races


def test_a_sync_landing_between_another_syncs_read_and_its_write_is_merged_not_lost(api, aws):
    """Deterministic race: just before this sync writes the header it read, a competing sync (another
    Lambda instance) lands. This sync's conditional header write then fails, and it reads and merges again."""
    api.sync(job(steps=[step("base", 1, "2021-10-01T12:00:00Z")]))
    competitor = load_function("sync_job").lambda_handler
    theirs = job(steps=[step("theirs", 3, "2021-10-01T14:00:00Z")], updated="2021-10-01T14:00:00Z", jobTitle="Theirs")
    landed: list[int] = []

    def competing_sync(**_: Any) -> None:
        if not landed:
            landed.append(0)
            landed[0] = competitor(jwt_event("sync_job", scopes=ALL_SCOPES, body=theirs), api._ctx)["statusCode"]

    events = dynamodb().meta.events
    events.register("before-call.dynamodb.TransactWriteItems", competing_sync, unique_id="race")
    try:
        status, body = api.sync(job(steps=[step("mine", 2, "2021-10-01T13:00:00Z")], updated="2021-10-01T13:00:00Z"))
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="race")
    assert landed == [200] and status == 200
    assert step_ids(body) == ["base", "mine", "theirs"] and body["metadata"]["jobTitle"] == "Theirs"
    stored = aws.jobs.header("acme", CID)
    assert stored is not None and stored.version == 3 and set(stored.step_index) == {"C:base", "C:mine", "C:theirs"}
