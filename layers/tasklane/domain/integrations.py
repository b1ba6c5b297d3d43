"""Outside systems a task may name. Salesforce arrives in a later release."""

from __future__ import annotations

from tasklane.models.api import SalesforceIntegration
from tasklane.models.errors import BadRequest, detail


def require_supported(integration: SalesforceIntegration | None) -> None:
    if integration is not None:
        raise BadRequest(
            f"The {integration.type} integration is not yet supported: post the template by id without an integration",
            [detail("integration.type", f"{integration.type} is not yet supported", "not_supported")],
        )
