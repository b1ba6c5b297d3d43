"""The local stack's token issuer: an RSA key on disk, its JWKS, and a JWKS endpoint.

The authorizer verifies RS256 tokens against a JWKS URL. Locally that URL points at a
loopback HTTP server that serves jwks.json, so the real verification code runs unchanged
against tokens `tasklane token` prints. (PyJWT >= 2.13's PyJWKClient refuses file:// URLs,
so the file cannot be handed over directly.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tasklane_local.serving import ServingThread

DEV_ISSUER = "tasklane-local"
DEV_AUDIENCE = "tasklane"
KEY_FILE = "dev-key.pem"
JWKS_FILE = "jwks.json"
JWKS_PATH = "/.well-known/jwks.json"

# Named under the service logger (tasklane), so these lines take the functions' log format.
logger = logging.getLogger("tasklane.local.devkeys")


@dataclass(frozen=True)
class DevKeys:
    private_key: rsa.RSAPrivateKey
    kid: str
    jwks_path: Path


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    # Two commands may create the key at once; readers must never see half a file.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 key id: stable for a key, different for the next one."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def ensure_dev_keys(state_dir: str | Path) -> DevKeys:
    """Load the dev key, creating it and jwks.json on first use."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    key_path = state / KEY_FILE
    if not key_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomically(key_path, pem, 0o600)
    private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError(f"{key_path} does not hold an RSA private key")
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    kid = _thumbprint(jwk)
    jwks = {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}
    jwks_path = state / JWKS_FILE
    text = json.dumps(jwks, indent=2).encode()
    # jwks.json follows the key: rewritten whenever it does not match.
    if not jwks_path.exists() or jwks_path.read_bytes() != text:
        write_atomically(jwks_path, text, 0o644)
    return DevKeys(private_key=private_key, kid=kid, jwks_path=jwks_path)


def issue_token(
    tenant: str,
    scopes: Iterable[str],
    state_dir: str | Path,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    ttl_seconds: int = 3600,
    now: float | None = None,
    folders: Iterable[int] | None = None,
    team: str | None = None,
) -> str:
    """A dev token for `tenant` with `scopes`; `folders` limits GenericTasks to those folders, `team` jobs to that team."""
    keys = ensure_dev_keys(state_dir)
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": tenant,
        "tenant": tenant,
        # OAuth 2.0 (RFC 8693 / 9068) carries scopes as one space-separated string.
        "scope": " ".join(scopes),
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
    }
    if folders is not None:
        claims["folders"] = list(folders)
    if team is not None:
        claims["team"] = team
    token: str = jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})
    return token


class _JwksHandler(BaseHTTPRequestHandler):
    server: _JwksHTTPServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != JWKS_PATH:
            self.send_error(404)
            return
        # Read on every request: a key made after the server started is served at once.
        body = self.server.jwks_path.read_bytes()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("jwks %s", format % args)


class _JwksHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], jwks_path: Path) -> None:
        self.jwks_path = jwks_path
        super().__init__(address, _JwksHandler)


class JwksServer:
    """The dev issuer's JWKS endpoint on loopback, as an identity provider publishes it."""

    def __init__(self, state_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        keys = ensure_dev_keys(state_dir)
        self._serving = ServingThread(_JwksHTTPServer((host, port), keys.jwks_path), "tasklane-jwks")
        bound_host, bound_port = self._serving.host_and_port
        self.url = f"http://{bound_host}:{bound_port}{JWKS_PATH}"

    def start(self) -> str:
        self._serving.start()
        return self.url

    def stop(self) -> None:
        self._serving.stop()


def dev_parameters(jwks_url: str) -> dict[str, str]:
    """Template parameter overrides that make the authorizer trust dev tokens."""
    return {"JwtIssuer": DEV_ISSUER, "JwtAudience": DEV_AUDIENCE, "JwksUrl": jwks_url}
