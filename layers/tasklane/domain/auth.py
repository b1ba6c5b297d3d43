"""Who may call what: bearer JWTs or Dynamo's tenant/API-key header pair, and the scope of each route."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from tasklane.config import TokenSettings
from tasklane.domain.tenants import TENANT_PATTERN
from tasklane.storage.apikeys import ApiKeyStore
from tasklane.timeutil import iso, now

# The document family's scopes. Each route's own scope is declared beside it in template.yaml
# (REQUIRED_SCOPE) and checked by the function's resolver: the authorizer only says who calls.
READ = "tasks:read"
WRITE = "tasks:write"
# Dynamo's header pair is the document family's credential: a key carries that family's scopes only.
API_KEY_SCOPES = frozenset({READ, WRITE})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200
    message: str = ""
    tenant: str = ""
    principal: str = ""
    scopes: frozenset[str] = field(default_factory=frozenset)

    def response(self) -> dict[str, Any]:
        """API Gateway's simple authorizer response; the context reaches the handler when allowed."""
        if self.allowed:
            return {
                "isAuthorized": True,
                "context": {"tenant": self.tenant, "principal": self.principal, "scopes": " ".join(sorted(self.scopes))},
            }
        return {"isAuthorized": False, "context": {"status": self.status, "message": self.message}}


def _deny(status: int, message: str) -> Decision:
    return Decision(allowed=False, status=status, message=message)


class TokenVerifier:
    """Checks signature, expiry, issuer and audience; RS256 keys come from the issuer's JWKS."""

    def __init__(self, settings: TokenSettings) -> None:
        self._settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=600)
            if settings.jwt_algorithm == "RS256" and settings.jwt_jwks_url
            else None
        )

    def claims(self, token: str) -> dict[str, Any]:
        if self._jwks is not None:
            key: Any = self._jwks.get_signing_key_from_jwt(token).key
        else:
            assert self._settings.jwt_secret is not None
            key = self._settings.jwt_secret.get_secret_value()
        return jwt.decode(
            token,
            key,
            algorithms=[self._settings.jwt_algorithm],
            audience=self._settings.jwt_audience,
            issuer=self._settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud"]},
        )


def _token_scopes(claims: Mapping[str, Any]) -> frozenset[str] | None:
    """The granted scopes: a space-separated string (RFC 8693 `scope`) or a list of strings (`scp`);
    None for any other shape, which a signed token may still carry."""
    scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list) and all(isinstance(s, str) for s in scope):
        return frozenset(scope)
    return None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """What a request presents, read by its family's wire layer: an Authorization header, or a
    tenant and API key (the document family reads these from Dynamo's header pair)."""

    authorization: str | None = None
    api_key: tuple[str, str] | None = field(default=None, repr=False)
    missing: str = "Missing credentials: send 'Authorization: Bearer <token>'"


def authorize(credentials: Credentials, verifier: TokenVerifier, apikeys: ApiKeyStore) -> Decision:
    """Who is calling and with which scopes; the route's own scope is checked by its function."""
    if credentials.authorization is not None:
        return _from_bearer(credentials.authorization, verifier)
    if credentials.api_key is not None:
        return _from_api_key(*credentials.api_key, apikeys)
    return _deny(401, credentials.missing)


def _from_bearer(authorization: str, verifier: TokenVerifier) -> Decision:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _deny(401, "The Authorization header must be 'Bearer <token>'")
    try:
        claims = verifier.claims(token.strip())
    except jwt.PyJWKClientConnectionError:
        raise
    except jwt.ExpiredSignatureError:
        return _deny(401, "The token has expired")
    except jwt.PyJWKClientError:
        # A token from another issuer, or (locally) another checkout's dev keys: say so, not PyJWT's words.
        kid = _unverified_kid(token.strip())
        return _deny(401, f"The token is signed with a key its issuer does not publish (kid {kid!r})")
    except jwt.PyJWTError as error:
        return _deny(401, f"The token is not valid: {error}")
    tenant = claims.get("tenant")
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        return _deny(401, "The token names no valid tenant")
    scopes = _token_scopes(claims)
    if scopes is None:
        return _deny(401, "The token's scope claim must be a space-separated string or a list of strings")
    return Decision(allowed=True, tenant=tenant, principal=str(claims.get("sub", "")), scopes=scopes)


MAX_KID_CHARS = 64


def _unverified_kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    # The caller's text, echoed back: a short stretch of it is enough to recognise a key.
    return str(kid)[:MAX_KID_CHARS] if kid is not None else None


def _from_api_key(tenant: str, api_key: str, apikeys: ApiKeyStore) -> Decision:
    key_id, _, secret = api_key.partition(".")
    if not TENANT_PATTERN.fullmatch(tenant) or not key_id or not secret:
        return _deny(401, "The tenant id or API key is not valid")
    stored = apikeys.secret_hash(tenant, key_id)
    # Compare even when the key is unknown, so timing does not tell which part was wrong.
    if not hmac.compare_digest(stored or "0" * 64, _hash(secret)) or stored is None:
        return _deny(401, "The tenant id or API key is not valid")
    return Decision(allowed=True, tenant=tenant, principal=f"apikey:{key_id}", scopes=API_KEY_SCOPES)


def create_api_key(tenant: str, apikeys: ApiKeyStore | None = None) -> str:
    """Issue a key for `tenant`: `<key id>.<secret>`, shown once; only the secret's hash is kept."""
    if not TENANT_PATTERN.fullmatch(tenant):
        raise ValueError(f"not a valid tenant id: {tenant!r}")
    if apikeys is None:
        from tasklane.storage import get_backends

        apikeys = get_backends().apikeys
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    apikeys.put(tenant, key_id, _hash(secret), iso(now()))
    return f"{key_id}.{secret}"
