from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import wait_for as support_wait_for

Poll = Callable[..., Any]


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the defaults the local stack sets, whatever the developer's shell holds."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


_wait_for = support_wait_for


@pytest.fixture
def wait_for() -> Poll:
    return _wait_for
