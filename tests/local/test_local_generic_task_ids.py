"""GenericTask ids under concurrent creates, on moto's server as the local stack runs it (moto's
in-process mock does not make an UpdateItem atomic across threads; the server, like DynamoDB, does)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tasklane import config
from tasklane.domain import generic_tasks
from tasklane.domain.generic_task_records import FolderAccess, FolderRef, NewGenericTask, Priority, TaskType
from tasklane.storage import Backends
from tasklane.storage.clients import aws_client
from tasklane_local.aws import LocalAws
from tasklane_local.template import load_template
from tests.support import ROOT

PARAMETERS = {"JwtIssuer": "https://issuer.test", "JwtAudience": "tasklane", "JwksUrl": "https://issuer.test/jwks"}
NEW = NewGenericTask(type=TaskType.EXTERNAL, title="race", priority=Priority.LOW, data={})


def test_concurrent_creates_get_distinct_increasing_ids_per_tenant(monkeypatch):
    with LocalAws(load_template(ROOT / "template.yaml"), PARAMETERS) as aws:
        monkeypatch.setenv("TABLE_NAME", aws.resources.physical_ids()["StateTable"])
        config.clear()
        aws_client.cache_clear()
        backends = Backends()
        try:

            def creator(tenant: str) -> list[int]:
                access = FolderAccess(tenant=tenant)
                return [generic_tasks.create(backends, access, FolderRef(), NEW).id for _ in range(15)]

            with ThreadPoolExecutor(max_workers=8) as pool:
                runs = list(pool.map(creator, ["acme", "globex"] * 4))
        finally:
            config.clear()
            aws_client.cache_clear()
    for tenant_runs in (runs[0::2], runs[1::2]):
        ids = [task_id for run in tenant_runs for task_id in run]
        assert sorted(ids) == list(range(1, 61))
        assert all(run == sorted(run) for run in tenant_runs)
