"""The Lambda authorizer: bearer JWTs (RS256 via JWKS, HS256), Dynamo API keys, scopes per route."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tasklane.domain import auth
from tasklane_local.devkeys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, issue_token
from tests.support import ROOT, event, load_function, serve_file
from tests.integration.conftest import _clear_caches

HS_SECRET = "s" * 40
JOB_SCOPES = {"workflow.execute", "job.read", "job.read_all", "job.modify", "job.admin"}


@pytest.fixture
def rs256(aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    keys = ensure_dev_keys(tmp_path)
    monkeypatch.setenv("JWT_ISSUER", DEV_ISSUER)
    monkeypatch.setenv("JWT_AUDIENCE", DEV_AUDIENCE)
    with serve_file(keys.jwks_path) as url:
        monkeypatch.setenv("JWT_JWKS_URL", url)
        _clear_caches()
        yield load_function("authorizer").lambda_handler, tmp_path


def request(headers: dict[str, str], route_key: str = "POST /v1/task") -> dict[str, Any]:
    ev = event("authorizer")
    ev["headers"] = headers
    ev["routeKey"] = route_key
    return ev


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_valid_token_allows_with_tenant_context(rs256, ctx):
    handler, state = rs256
    answer = handler(request(bearer(issue_token("acme", ["tasks:write"], state))), ctx)
    assert answer["isAuthorized"] is True
    assert answer["context"]["tenant"] == "acme"
    assert "tasks:write" in answer["context"]["scopes"]


def test_the_authorizer_passes_the_scopes_on(rs256, ctx):
    handler, state = rs256
    answer = handler(request(bearer(issue_token("acme", ["tasks:read"], state))), ctx)
    assert answer["isAuthorized"] is True and answer["context"]["scopes"] == "tasks:read"


@pytest.mark.parametrize(("function", "needed"), [("post_task", "tasks:write"), ("get_task", "tasks:read")])
def test_a_route_refuses_a_caller_without_its_declared_scope(aws, ctx, function, needed):
    from tests.support import body_of, http_event

    ev = http_event(function, body={"template": "x"} if function.startswith("post") else None)
    ev["requestContext"]["authorizer"]["lambda"]["scopes"] = "other:scope"
    answer = load_function(function).lambda_handler(ev, ctx)
    assert answer["statusCode"] == 403
    assert body_of(answer) == {"message": f"This call needs the scope {needed}", "code": "forbidden", "errors": []}


@pytest.mark.parametrize("headers", [{}, {"authorization": "Basic abc"}, {"authorization": "Bearer not.a.jwt"}])
def test_missing_or_malformed_credentials_are_401(rs256, ctx, headers):
    handler, _ = rs256
    answer = handler(request(headers), ctx)
    assert answer["isAuthorized"] is False and answer["context"]["status"] == 401


def test_expired_token_is_401(rs256, ctx):
    handler, state = rs256
    token = issue_token("acme", ["tasks:write"], state, now=time.time() - 7200)
    answer = handler(request(bearer(token)), ctx)
    assert answer["context"] == {"status": 401, "message": "The token has expired"}


def test_a_token_signed_by_a_key_the_issuer_does_not_publish_is_401_saying_so(rs256, ctx, tmp_path):
    handler, _ = rs256
    # Another checkout's dev keys, say: another key, so another kid.
    other = issue_token("acme", ["tasks:write"], tmp_path / "other")
    kid = jwt.get_unverified_header(other)["kid"]
    answer = handler(request(bearer(other)), ctx)
    assert answer["isAuthorized"] is False
    assert answer["context"] == {"status": 401, "message": f"The token is signed with a key its issuer does not publish (kid {kid!r})"}


def test_wrong_audience_is_401(rs256, ctx):
    handler, state = rs256
    token = issue_token("acme", ["tasks:write"], state, audience="someone-else")
    assert handler(request(bearer(token)), ctx)["context"]["status"] == 401


def test_hs256_by_configuration(aws, monkeypatch, ctx):
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")
    monkeypatch.setenv("JWT_SECRET", HS_SECRET)
    _clear_caches()
    handler = load_function("authorizer").lambda_handler
    claims = {"iss": "https://issuer.test", "aud": "tasklane", "tenant": "acme", "scope": "tasks:write", "exp": time.time() + 60}
    good = jwt.encode(claims, HS_SECRET, algorithm="HS256")
    assert handler(request(bearer(good)), ctx)["isAuthorized"] is True
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    assert handler(request(bearer(forged)), ctx)["context"]["status"] == 401


def test_api_key_pair_allows_and_wrong_key_is_401(rs256, aws, ctx):
    handler, _ = rs256
    key = auth.create_api_key("acme", aws.apikeys)
    ok = handler(request({"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": key}), ctx)
    assert ok["isAuthorized"] is True and ok["context"]["tenant"] == "acme"
    assert aws.apikeys.secret_hash("acme", key.split(".")[0]) not in key  # only a hash is stored
    wrong = handler(request({"x-dynamo-tenant-id": "acme", "x-dynamo-api-key": key + "x"}), ctx)
    assert wrong["context"]["status"] == 401
    other_tenant = handler(request({"x-dynamo-tenant-id": "globex", "x-dynamo-api-key": key}), ctx)
    assert other_tenant["context"]["status"] == 401


def test_every_route_declares_its_scope_beside_it():
    from tasklane_local.template import load_template

    template = load_template(ROOT / "template.yaml")
    for route in template.routes:
        scope = template.functions[route.function_id].environment.get("REQUIRED_SCOPE")
        if route.authorizer is not None and route.authorizer.is_jwt:
            # API Gateway's JWT authorizer enforces the route's AuthorizationScopes (any one suffices).
            assert scope is None, route.route_key
            if route.path.startswith("/jobs/"):
                # WorkfloPlus policies as scopes (docs/jobs.md).
                assert route.scopes and set(route.scopes) <= JOB_SCOPES, route.route_key
                continue
            expected = {"OR.Tasks.Write", "OR.Tasks"} | (set() if route.method == "POST" else {"OR.Tasks.Read"})
            assert set(route.scopes) == expected, route.route_key
            continue
        assert scope in (auth.READ, auth.WRITE), route.route_key
        assert (scope == auth.WRITE) == (route.method == "POST"), route.route_key
