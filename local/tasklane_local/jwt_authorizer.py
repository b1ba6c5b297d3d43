"""API Gateway's own JWT authorizer, as an HTTP API runs it for routes with AuthorizationScopes.

AWS: the token comes from the identity source (the Authorization header, with or without
"Bearer "); API Gateway checks its signature against the issuer's JWKS, `exp`/`nbf`, `iss`, and
that `aud` (or `client_id`) is one of the configured audiences, then that the token's `scope` (or
`scp`) holds at least one of the route's AuthorizationScopes. A missing or invalid token is 401
{"message":"Unauthorized"}, missing scopes 403 {"message":"Forbidden"}; no function is invoked
either way. The handler then finds the claims under requestContext.authorizer.jwt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

logger = logging.getLogger("tasklane.local.jwt_authorizer")

# AWS: JWT authorizers accept RSA-signed tokens.
ALGORITHMS = ["RS256", "RS384", "RS512"]


def _claim_text(value: Any) -> str:
    # AWS: claims reach the handler as strings; a list shows as "[a b]".
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class JwtAuthorizer:
    # No function runs: a denial is API Gateway's own answer.
    function_name: str | None = None

    def __init__(
        self, issuer: str, audience: Sequence[str], jwks_url: str, identity_header: str, unknown_key_hint: str = ""
    ) -> None:
        # Said in the stack's log (the answer stays API Gateway's bare 401) when a token's key is not the issuer's.
        self._unknown_key_hint = unknown_key_hint
        self._issuer = issuer
        self._audience = list(audience)
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=600)
        self._header = identity_header.lower()

    def authorize(self, headers: Mapping[str, str], route_scopes: Sequence[str]) -> dict[str, Any] | int:
        """The request context's `authorizer` entry, or the status (401, 403) that ends the request."""
        raw = headers.get(self._header, "").strip()
        token = raw[len("bearer ") :].strip() if raw.lower().startswith("bearer ") else raw
        if not token:
            return 401
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, issuer=self._issuer, options={"verify_aud": False, "require": ["exp"]}
            )
        except jwt.PyJWKClientConnectionError as error:
            logger.warning("401: the issuer's keys could not be fetched: %s", error)
            return 401
        except jwt.PyJWKClientError:
            logger.warning("401: the token is signed with a key the issuer does not publish. %s", self._unknown_key_hint)
            return 401
        except jwt.PyJWTError:
            return 401
        audiences = claims.get("aud", claims.get("client_id"))
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not any(a in self._audience for a in audiences):
            return 401
        granted = claims.get("scope", claims.get("scp", ""))
        scopes = granted.split() if isinstance(granted, str) else [str(s) for s in granted or []]
        if route_scopes and not set(route_scopes) & set(scopes):
            return 403
        return {"jwt": {"claims": {k: _claim_text(v) for k, v in claims.items()}, "scopes": scopes or None}}
