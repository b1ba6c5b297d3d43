"""Concurrent basicSyncs of one job, on moto's server as the local stack runs it (moto's in-process
mock does not make conditional writes atomic across threads; the server, like DynamoDB, does)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tasklane import config
from tasklane.domain import jobs
from tasklane.domain.job_records import JobAccess, JobDoc, StepDoc, StepKind, Sync, moment
from tasklane.storage import Backends
from tasklane.storage.clients import aws_client
from tasklane_local.aws import LocalAws
from tasklane_local.template import load_template
from tests.support import ROOT

PARAMETERS = {"JwtIssuer": "https://issuer.test", "JwtAudience": "tasklane", "JwksUrl": "https://issuer.test/jwks"}
WRITERS = 6
ROUNDS = 4


def _sync(writer: int, round_: int) -> Sync:
    updated = f"2021-10-01T12:{round_:02d}:{writer:02d}Z"
    steps = [
        StepDoc(
            StepKind.COMPLETED,
            f"w{writer}-r{round_}-{i}",
            moment(updated),
            {"singleStep": {"uniqueStepId": f"w{writer}-r{round_}-{i}", "stepNumber": i, "updated": updated}},
        )
        for i in range(3)
    ]
    shared = StepDoc(
        StepKind.COMPLETED, "shared", moment(updated), {"singleStep": {"uniqueStepId": "shared", "updated": updated}}
    )
    doc = JobDoc("race", {"metadata": {"clientJobId": "race", "status": "InProgress", "updated": updated}})
    return Sync(doc=doc, steps=[*steps, shared])


def test_concurrent_syncs_of_one_job_lose_no_step(monkeypatch):
    with LocalAws(load_template(ROOT / "template.yaml"), PARAMETERS) as aws:
        monkeypatch.setenv("TABLE_NAME", aws.resources.physical_ids()["StateTable"])
        config.clear()
        aws_client.cache_clear()
        backends = Backends()
        access = JobAccess(tenant="acme")
        try:

            def writer(index: int) -> None:
                for round_ in range(ROUNDS):
                    jobs.sync(backends, access, _sync(index, round_))

            with ThreadPoolExecutor(max_workers=WRITERS) as pool:
                list(pool.map(writer, range(WRITERS)))
            found = jobs.get(backends, access, "race")
            stored = backends.jobs.header("acme", "race")
        finally:
            config.clear()
            aws_client.cache_clear()
    ids = {step.unique_id for step in found.completed_steps}
    expected = {f"w{w}-r{r}-{i}" for w in range(WRITERS) for r in range(ROUNDS) for i in range(3)} | {"shared"}
    assert ids == expected
    newest = max(moment(f"2021-10-01T12:{r:02d}:{w:02d}Z") for w in range(WRITERS) for r in range(ROUNDS))
    shared = next(step for step in found.completed_steps if step.unique_id == "shared")
    assert shared.updated == newest
    assert stored is not None and stored.doc.updated == newest and len(stored.step_index) == len(expected)
