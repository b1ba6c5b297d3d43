"""The document family's credentials: a bearer token, or Documill Dynamo's tenant and API-key headers."""

from __future__ import annotations

from collections.abc import Mapping

from tasklane.domain.auth import Credentials

TENANT_HEADER = "x-dynamo-tenant-id"
API_KEY_HEADER = "x-dynamo-api-key"
MISSING = f"Missing credentials: send 'Authorization: Bearer <token>' or the {TENANT_HEADER} and {API_KEY_HEADER} headers"


def from_headers(headers: Mapping[str, str]) -> Credentials:
    """`headers` with lower-case names, as API Gateway's payload 2.0 gives them."""
    pair = None
    if TENANT_HEADER in headers or API_KEY_HEADER in headers:
        pair = (headers.get(TENANT_HEADER, ""), headers.get(API_KEY_HEADER, ""))
    return Credentials(authorization=headers.get("authorization"), api_key=pair, missing=MISSING)
