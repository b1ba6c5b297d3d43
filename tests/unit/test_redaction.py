"""No secret reaches a log line: the functions' formatter masks them wherever a line holds one."""

from __future__ import annotations

import json

import pytest

from tasklane import observability
from tasklane.observability import MASK, redact
from tests.support import captured_logs, event

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJhY21lIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
SESSION = "00D5g000004XkLm!AQ0AQFl8t7Zq3rW.YvK2nB_u9sHd1Jc"
API_KEY = "0123456789ab." + "K" * 43
WEBHOOK_SECRET = "whsec_9f8e7d6c5b4a39281706"


@pytest.mark.parametrize(
    "name",
    ["authorization", "Authorization", "x-dynamo-api-key", "sessionID", "sealedSession", "webhookSecret",
     "webhook_secret", "JWT_SECRET", "access_token", "password", "Cookie", "client_credentials"],
)
def test_a_value_under_a_secrets_name_is_masked_at_any_depth(name):
    assert redact({"outer": [{name: "hunter2", "tenant": "acme"}]}) == {"outer": [{name: MASK, "tenant": "acme"}]}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token {JWT} was refused", JWT),
        (f"the session {SESSION} expired", SESSION),
        (f"x-dynamo-api-key={API_KEY}", API_KEY),
        ("Bearer abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789"),
    ],
)
def test_secret_shaped_text_is_masked_wherever_it_sits(text, secret):
    masked = redact({"message": text, "exception": f"ValueError: {text}"})
    assert secret not in json.dumps(masked) and MASK in masked["message"]


def test_a_body_logged_as_json_text_is_masked_by_key():
    body = json.dumps({"integration": {"type": "Salesforce", "sessionID": "opaque"}, "data": {"webhookSecret": WEBHOOK_SECRET}})
    masked = json.loads(redact(body))
    assert masked == {"integration": {"type": "Salesforce", "sessionID": MASK}, "data": {"webhookSecret": MASK}}


@pytest.mark.parametrize(
    "text",
    [
        "Missing credentials: send 'Authorization: Bearer <token>'",
        "Task t-223e5458ec7f9a57802e3e31deba48cb of batch b-0aa1",
        "Folder Shared/Finance has no task catalog named 'Tickets'",
        "{not json}",
    ],
)
def test_ordinary_text_and_ids_are_left_alone(text):
    assert redact({"message": text, "task_id": "t-1", "tenant": "acme", "folder_key": "k"}) == {
        "message": text, "task_id": "t-1", "tenant": "acme", "folder_key": "k"
    }


def test_a_logged_event_prints_no_credential_and_no_body_secret():
    """What a careless `logger.info(event)` would print, through the formatter every function uses."""
    ev = event("post_task")
    ev["headers"].update({"authorization": f"Bearer {JWT}", "x-dynamo-api-key": API_KEY, "cookie": "sid=abc"})
    ev["body"] = json.dumps({"template": "t", "integration": {"type": "Salesforce", "sessionID": SESSION}})
    log = observability.logger()
    with captured_logs() as logs:
        log.info(ev)
        log.info("headers", extra={"headers": ev["headers"]})
        log.info("as text: %s", ev)
        try:
            raise ValueError(f"refused {ev['headers']['authorization']} for {SESSION}")
        except ValueError:
            log.exception("failed")
    printed = logs.text
    assert len(logs.lines()) == 4
    for secret in (JWT, API_KEY, SESSION, "sid=abc"):
        assert secret not in printed
    assert printed.count(MASK) >= 8


def test_the_formatter_redacts_even_when_another_logger_configured_the_service_first(capsys):
    from aws_lambda_powertools import Logger

    first = Logger(service="redaction-probe")  # a plain Powertools formatter on the service's handler
    ours = observability.redacting(Logger(service="redaction-probe", logger_formatter=observability.RedactingFormatter()))
    assert isinstance(first.registered_formatter, observability.RedactingFormatter)
    ours.warning("probe", extra={"authorization": f"Bearer {JWT}"})
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines() if "probe" in text]
    assert line["authorization"] == MASK and line["service"] == "redaction-probe"
