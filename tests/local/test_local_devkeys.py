from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from tasklane_local import devkeys


@pytest.fixture
def jwks_url(tmp_path: Path) -> Iterator[str]:
    server = devkeys.JwksServer(tmp_path)
    yield server.start()
    server.stop()


def test_token_verifies_with_pyjwkclient_against_the_jwks_endpoint(tmp_path: Path, jwks_url: str):
    token = devkeys.issue_token("acme", ["tasks:write", "tasks:read"], tmp_path)

    signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="tasklane", issuer="tasklane-local")

    assert claims["tenant"] == "acme"
    assert claims["sub"] == "acme"
    assert claims["scope"] == "tasks:write tasks:read"
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["kid"] == signing_key.key_id


def test_key_is_created_once_and_kept_private(tmp_path: Path):
    first = devkeys.ensure_dev_keys(tmp_path)
    second = devkeys.ensure_dev_keys(tmp_path)

    assert first.kid == second.kid
    assert stat.S_IMODE((tmp_path / "dev-key.pem").stat().st_mode) == 0o600
    (key,) = json.loads((tmp_path / "jwks.json").read_text())["keys"]
    assert (key["kty"], key["alg"], key["use"], key["kid"]) == ("RSA", "RS256", "sig", first.kid)
    assert "d" not in key  # public half only


def test_expired_and_foreign_tokens_are_rejected(tmp_path: Path, jwks_url: str):
    old = devkeys.issue_token("acme", ["s"], tmp_path, ttl_seconds=60, now=1_000_000)
    other = devkeys.issue_token("acme", ["s"], tmp_path / "other")
    client = jwt.PyJWKClient(jwks_url)

    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(old, client.get_signing_key_from_jwt(old).key, algorithms=["RS256"], audience="tasklane")
    with pytest.raises(jwt.PyJWKClientError):
        client.get_signing_key_from_jwt(other)


def test_jwks_endpoint_serves_only_the_key_set(tmp_path: Path, jwks_url: str):
    assert jwks_url.startswith("http://127.0.0.1:") and jwks_url.endswith("/.well-known/jwks.json")
    assert requests.get(jwks_url, timeout=5).json() == json.loads((tmp_path / "jwks.json").read_text())
    assert requests.get(jwks_url.replace("jwks.json", "dev-key.pem"), timeout=5).status_code == 404


def test_dev_parameters_point_the_template_at_the_dev_issuer():
    assert devkeys.dev_parameters("http://127.0.0.1:1/.well-known/jwks.json") == {
        "JwtIssuer": "tasklane-local",
        "JwtAudience": "tasklane",
        "JwksUrl": "http://127.0.0.1:1/.well-known/jwks.json",
    }
