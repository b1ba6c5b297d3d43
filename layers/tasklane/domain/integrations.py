"""Outside systems a task may name. Salesforce arrives in a later release."""

from __future__ import annotations

from tasklane.domain.errors import BadRequest, problem
from tasklane.domain.submissions import Integration


def require_supported(integration: Integration | None) -> None:
    if integration is not None:
        raise BadRequest(
            f"The {integration.type} integration is not yet supported: post the template by id without an integration",
            [problem("integration.type", f"{integration.type} is not yet supported", "not_supported")],
        )
