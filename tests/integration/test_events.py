"""Every event in events/ is one its function accepts (they are what `sam local invoke -e` gets)."""

from __future__ import annotations

import json

import pytest

from tests.support import ROOT, event, load_function

EXPECTED = {
    "post_task": {400},  # refers to a template this fresh account does not have
    "get_task": {404},
    "post_batch": {400},
    "get_batch": {404},
    "get_batch_task": {404},
    "get_template": {404},
    "post_template": {201},  # the sample DAP, examples/account-profile.dap
    "get_license": {200},
    "create_generic_task": {201},
    "complete_generic_task": {404},  # task 1378 was never created here
    "get_generic_task": {404},
    "list_generic_tasks": {200},
    "assign_generic_tasks": {200},  # answers the failure (no task 1378) in its body
    "create_task_catalog": {201},
    "list_task_catalogs": {200},
    "create_folder": {201},
    "list_folders": {200},
    "sync_job": {201},
    "create_job": {201},
    "get_job": {404},  # the sample job was never synced here
    "update_job": {404},
    "list_jobs": {200},
    "list_workflow_jobs": {200},
    "abort_job": {404},
    "assign_job": {404},
    "add_job_metadata": {404},
    "delete_job": {404},
    "put_job_resource": {404},
    "get_job_resource": {404},
    "upload_job_resource": {404},
}


def test_there_is_an_event_for_every_function():
    functions = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    events = {p.stem for p in (ROOT / "events").glob("*.json")}
    assert functions == events


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_http_events_reach_their_handler(aws, ctx, name):
    answer = load_function(name).lambda_handler(event(name), ctx)
    assert answer["statusCode"] in EXPECTED[name], answer
    assert answer["statusCode"] in (200, 201) or "message" in json.loads(answer["body"])


def test_worker_event_is_processed(aws, ctx):
    # The task in the sample event was never posted here: the worker finds nothing to claim.
    assert load_function("worker").lambda_handler(event("worker"), ctx) == {"batchItemFailures": []}


def test_dead_letters_event_is_processed(aws, ctx):
    assert load_function("dead_letters").lambda_handler(event("dead_letters"), ctx) == {"batchItemFailures": []}


def test_authorizer_event_denies_its_placeholder_token(aws, ctx, monkeypatch):
    answer = load_function("authorizer").lambda_handler(event("authorizer"), ctx)
    assert answer["isAuthorized"] is False and answer["context"]["status"] == 401
