"""The local stack, started once for these tests on free ports, driven over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasklane_local.devkeys import issue_token
from tasklane_local.stack import LocalStack
from tests.fakes.salesforce import FakeSalesforce
from tests.support import ROOT


@pytest.fixture(scope="session")
def salesforce(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSalesforce]:
    """A fake Salesforce on loopback (https); the stack trusts its certificate through REQUESTS_CA_BUNDLE."""
    with FakeSalesforce(tmp_path_factory.mktemp("salesforce")) as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, salesforce: FakeSalesforce) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("tasklane-state")
    # As `make run PARAMS="SalesforceHosts=127.0.0.1"` with REQUESTS_CA_BUNDLE set would start it.
    saved = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(salesforce.ca_bundle)
    try:
        overrides = {"SalesforceHosts": "127.0.0.1"}
        with LocalStack(ROOT / "template.yaml", port=0, state_dir=state, parameter_overrides=overrides) as running:
            yield running
    finally:
        if saved is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = saved


@pytest.fixture(scope="session")
def state_dir(stack: LocalStack) -> Path:
    return stack.state_dir


@pytest.fixture(scope="session")
def token(state_dir: Path):
    def make(tenant: str = "acme", scopes: tuple[str, ...] = ("tasks:read", "tasks:write")) -> str:
        return issue_token(tenant, scopes, state_dir)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.e2e import test_contract_fuzz, test_fuzz

    if test_fuzz.TALLY.sent:
        terminalreporter.write_line(f"fuzz: {test_fuzz.TALLY.summary()}")
    if test_contract_fuzz.TALLY.sent:
        terminalreporter.write_line(f"contract fuzz (schemathesis): {test_contract_fuzz.TALLY.summary()}")
