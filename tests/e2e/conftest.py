"""The local stack, started once for these tests on free ports, driven over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tasklane_local.devkeys import issue_token
from tasklane_local.stack import LocalStack
from tests.support import ROOT


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("tasklane-state")
    with LocalStack(ROOT / "template.yaml", port=0, state_dir=state) as running:
        yield running


@pytest.fixture(scope="session")
def state_dir(stack: LocalStack) -> Path:
    return stack.state_dir


@pytest.fixture(scope="session")
def token(state_dir: Path):
    def make(tenant: str = "acme", scopes: tuple[str, ...] = ("tasks:read", "tasks:write")) -> str:
        return issue_token(tenant, scopes, state_dir)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.e2e.test_fuzz import TALLY

    if TALLY.sent:
        terminalreporter.write_line(f"fuzz: {TALLY.summary()}")
