"""moto in-process, with the tables, bucket and queues that template.yaml declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tasklane.api import idempotency
from tasklane.domain import templates
from tasklane import config
from tasklane_local.aws import Provisioner
from tasklane_local.references import ReferenceResolver
from tasklane_local.template import load_template
from tasklane.storage import Backends, get_backends
from tasklane.storage.clients import aws_client
from tests.support import ROOT, FakeContext, simple_dap

TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS = {
    "JwtIssuer": "https://issuer.test",
    "JwtAudience": "tasklane",
    "JwksUrl": "https://issuer.test/.well-known/jwks.json",
}


def _clear_caches() -> None:
    templates.ACCEPTING.clear()
    idempotency._once.cache_clear()
    config.clear()
    get_backends.cache_clear()
    aws_client.cache_clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Backends]:
    with mock_aws():
        resources = Provisioner(TEMPLATE, None, "us-east-1").create_all()  # type: ignore[arg-type]
        resolver = ReferenceResolver(TEMPLATE, resources, PARAMETERS, "us-east-1", "123456789012")
        for function in TEMPLATE.functions.values():
            for name, value in resolver.resolve_environment(function.environment).items():
                monkeypatch.setenv(name, value)
        _clear_caches()
        yield get_backends()
        _clear_caches()


@pytest.fixture
def template_id(aws: Backends) -> str:
    """The simple text DAP, stored for tenant acme."""
    return templates.upload(aws, "acme", simple_dap()).id


@pytest.fixture
def tmp_state(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()
