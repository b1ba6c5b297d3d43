"""Outside systems a document task reads from and writes to with the caller's session (Salesforce).

A request's integration is checked before anything is stored or queued: its serverURL must be
https on an allowlisted host (the template's SalesforceHosts), so no request goes anywhere else.
The session id is sealed (storage.secrets) into the unit's queue message and unsealed by the
worker for the time the unit runs; no GET returns it and nothing logs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasklane.dap.ports import DataSourceError, RecordNotFound
from tasklane.domain.errors import BadRequest, ServiceUnavailable, problem
from tasklane.domain.submissions import Integration
from tasklane.storage import Backends

# A ContentDocument id: key prefix 069, 15 or 18 characters.
_CONTENT_DOCUMENT_ID = re.compile(r"069[A-Za-z0-9]{12}([A-Za-z0-9]{3})?")


def is_content_document_id(reference: str | None) -> bool:
    return bool(reference) and _CONTENT_DOCUMENT_ID.fullmatch(reference or "") is not None


def connect(backends: Backends, integration: Integration, deadline: float | None = None) -> Any:
    """A SalesforceSession for the request, or a 400 naming serverURL when its host is not allowed."""
    from tasklane.integrations.salesforce import HostNotAllowed

    if integration.type != "Salesforce":
        raise BadRequest(
            f"Unknown integration {integration.type!r}",
            [problem("integration.type", "only Salesforce is supported", "not_supported")],
        )
    try:
        return backends.salesforce(integration.server_url, integration.session_id, deadline)
    except HostNotAllowed as refused:
        raise BadRequest(
            f"integration.serverURL: {refused}", [problem("integration.serverURL", str(refused), "host_not_allowed")]
        ) from None


def refused(error: DataSourceError, what: str) -> Exception:
    """A Salesforce failure while accepting a request, as the error its caller gets."""
    if isinstance(error, RecordNotFound):
        return BadRequest(f"{what}: {error}", [problem("template", str(error), "not_found")])
    message = str(error)
    if "REQUEST_LIMIT_EXCEEDED" in message:  # retried with backoff already: a minute, not a second
        return ServiceUnavailable(f"{what}: {message}", retry_after=60)
    field = "integration.sessionID" if "INVALID_SESSION_ID" in message else "integration"
    return BadRequest(f"{what}: {message}", [problem(field, message, "integration_refused")])


@dataclass(frozen=True)
class SealedIntegration:
    """What a unit's queue message carries: the session id only as KMS ciphertext."""

    type: str
    server_url: str
    sealed_session: str

    def to_message(self) -> dict[str, str]:
        return {"type": self.type, "serverURL": self.server_url, "sealedSession": self.sealed_session}

    @classmethod
    def from_message(cls, value: dict[str, Any]) -> SealedIntegration:
        return cls(str(value["type"]), str(value["serverURL"]), str(value["sealedSession"]))


def seal_context(tenant: str, unit: str) -> dict[str, str]:
    return {"tenant": tenant, "unit": unit}


def seal(backends: Backends, tenant: str, unit: str, integration: Integration | None) -> dict[str, str] | None:
    if integration is None:
        return None
    sealed = backends.sealer.seal(integration.session_id, seal_context(tenant, unit))
    return SealedIntegration(integration.type, integration.server_url, sealed).to_message()
