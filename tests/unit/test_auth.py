"""Who may call: bearer tokens and Dynamo's header pair, decided without AWS or sockets."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import pytest

from tasklane.api.documents import credentials
from tasklane.config import TokenSettings
from tasklane.domain import auth

SECRET = "s" * 40
SETTINGS = TokenSettings.model_validate(
    {"JWT_ISSUER": "https://issuer.test", "JWT_AUDIENCE": "tasklane", "JWT_ALGORITHM": "HS256", "JWT_SECRET": SECRET}
)


class Keys:
    """The one ApiKeyStore call the authorizer makes, over a dict."""

    def __init__(self, keys: dict[tuple[str, str], str]) -> None:
        self._keys = keys

    def secret_hash(self, tenant: str, key_id: str) -> str | None:
        return self._keys.get((tenant, key_id))


def token(**claims: Any) -> str:
    base = {"iss": "https://issuer.test", "aud": "tasklane", "tenant": "acme", "scope": "tasks:read", "exp": time.time() + 60}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


def decide(headers: dict[str, str], keys: Keys | None = None) -> auth.Decision:
    return auth.authorize(credentials.from_headers(headers), auth.TokenVerifier(SETTINGS), keys or Keys({}))  # type: ignore[arg-type]


def test_a_valid_token_names_tenant_and_scopes():
    decision = decide({"authorization": f"Bearer {token(scope='tasks:read tasks:write', sub='robot')}"})
    assert decision.allowed and decision.tenant == "acme" and decision.principal == "robot"
    assert decision.scopes == {"tasks:read", "tasks:write"}


def test_a_scp_list_is_read_too():
    assert decide({"authorization": f"Bearer {token(scope=None, scp=['tasks:write'])}"}).allowed is False
    claims = {"iss": "https://issuer.test", "aud": "tasklane", "tenant": "acme", "scp": ["tasks:write"], "exp": time.time() + 60}
    decision = decide({"authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"})
    assert decision.allowed and decision.scopes == {"tasks:write"}


@pytest.mark.parametrize(
    ("headers", "claims", "message"),
    [
        ({}, None, "Missing credentials"),
        ({"authorization": "Basic eA=="}, None, "must be 'Bearer <token>'"),
        ({"authorization": "Bearer x.y.z"}, None, "not valid"),
        ({}, {"exp": -10}, "expired"),
        ({}, {"tenant": "../etc"}, "no valid tenant"),
        ({}, {"tenant": 7}, "no valid tenant"),
        ({}, {"scope": {"a": 1}}, "scope claim"),
        ({"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": "nodot"}, None, "not valid"),
    ],
)
def test_bad_credentials_are_401_with_a_reason(headers, claims, message):
    if claims is not None:
        # Signed when the test runs (an exp of -10 means ten seconds ago), not when it is collected.
        claims = {k: (time.time() + v if k == "exp" else v) for k, v in claims.items()}
        headers = {"authorization": f"Bearer {token(**claims)}"}
    decision = decide(headers)
    assert not decision.allowed and decision.status == 401 and message in decision.message
    assert decision.response() == {"isAuthorized": False, "context": {"status": 401, "message": decision.message}}


def test_the_header_pair_checks_the_secret_hash():
    keys = Keys({("acme", "k1"): hashlib.sha256(b"secret").hexdigest()})
    ok = decide({"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": "k1.secret"}, keys)
    assert ok.allowed and ok.scopes == auth.API_KEY_SCOPES and ok.principal == "apikey:k1"
    assert not decide({"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": "k1.wrong"}, keys).allowed
    assert not decide({"x-dynamo-tenant-id": "globex", "x-dynamo-api-key": "k1.secret"}, keys).allowed


def test_the_allowed_response_carries_the_context():
    decision = decide({"authorization": f"Bearer {token()}"})
    assert decision.response() == {
        "isAuthorized": True,
        "context": {"tenant": "acme", "principal": "", "scopes": "tasks:read"},
    }
