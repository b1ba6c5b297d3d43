"""API Gateway's JWT authorizer on the local stack: issuer, audience, expiry, signature, scopes."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import jwt
import pytest

from tasklane_local.devkeys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, issue_token
from tasklane_local.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("jwt-state")
    with LocalStack(FIXTURES / "jwt.yaml", port=0, start_worker=False, state_dir=state) as running:
        yield running


def get(stack, headers: dict[str, str]):
    assert stack.gateway is not None
    return stack.gateway.handle("GET", "/things", headers)


def test_a_token_with_one_of_the_route_scopes_reaches_the_function_with_its_claims(stack):
    answer = get(stack, {"Authorization": f"Bearer {issue_token('acme', ['OR.Tasks.Read'], stack.state_dir)}"})
    assert answer.status == 200
    jwt_context = answer.json()["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["claims"]["tenant"] == "acme" and jwt_context["scopes"] == ["OR.Tasks.Read"]


def test_the_bearer_prefix_is_optional(stack):
    assert get(stack, {"Authorization": issue_token("acme", ["OR.Tasks"], stack.state_dir)}).status == 200


def test_missing_scopes_are_403_forbidden(stack):
    answer = get(stack, {"Authorization": f"Bearer {issue_token('acme', ['OR.Tasks.Write'], stack.state_dir)}"})
    assert answer.status == 403 and answer.json()["message"] == "Forbidden"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": -60},
        {"iss": "https://someone-else"},
        {"aud": "another-api"},
    ],
)
def test_bad_tokens_are_401_unauthorized(stack, claims):
    keys = ensure_dev_keys(stack.state_dir)
    base = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "tenant": "acme", "scope": "OR.Tasks", "exp": 60}
    merged = {**base, **claims}
    merged["exp"] = time.time() + merged["exp"]
    token = jwt.encode(merged, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})
    answer = get(stack, {"Authorization": f"Bearer {token}"})
    assert answer.status == 401 and answer.json()["message"] == "Unauthorized"


def test_a_token_from_another_checkouts_keys_is_401_and_the_log_says_where_tokens_come_from(stack, tmp_path, caplog):
    elsewhere = issue_token("acme", ["OR.Tasks"], tmp_path / "other-checkout" / ".tasklane")
    with caplog.at_level(logging.WARNING, logger="tasklane.local.jwt_authorizer"):
        answer = get(stack, {"Authorization": f"Bearer {elsewhere}"})
    assert answer.status == 401 and answer.json()["message"] == "Unauthorized"  # API Gateway's answer, as on AWS
    [line] = [r.getMessage() for r in caplog.records if r.name == "tasklane.local.jwt_authorizer"]
    assert "a key the issuer does not publish" in line and f"inside {stack.state_dir.parent}" in line


def test_no_token_or_a_forged_one_is_401(stack):
    assert get(stack, {}).status == 401
    forged = jwt.encode({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "exp": time.time() + 60}, "x" * 32, algorithm="HS256")
    answer = get(stack, {"Authorization": f"Bearer {forged}"})
    assert answer.status == 401 and json.loads(answer.body)["code"] == "unauthorized"


def test_authorization_scopes_need_a_jwt_authorizer(tmp_path):
    from tasklane_local.template import TemplateError, load_template

    broken = tmp_path / "t.yaml"
    template = (FIXTURES / "jwt.yaml").read_text().replace(
        """            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: [!Ref JwtAudience]""",
        """            FunctionArn: !GetAtt EchoFunction.Arn""",
    )
    broken.write_text(template)
    with pytest.raises(TemplateError, match="AuthorizationScopes apply to JWT authorizers only"):
        load_template(broken)
