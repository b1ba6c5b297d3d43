"""The gateway in-process: no socket, fixture handlers from fixtures/gateway.yaml."""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasklane_local.gateway import (
    EventBuilder,
    Gateway,
    HttpRequest,
    RouteMatcher,
    to_local_response,
)
from tasklane_local.lambda_runtime import LambdaRuntime
from tasklane_local.template import HttpRoute, load_template

FIXTURES = Path(__file__).parent / "fixtures"
ALLOW = {"x-allow": "yes"}


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(load_template(FIXTURES / "gateway.yaml").functions).load()
    yield runtime
    runtime.unload()


@pytest.fixture
def gateway(runtime: LambdaRuntime) -> Gateway:
    template = load_template(FIXTURES / "gateway.yaml")
    return Gateway(template.routes, runtime.functions, EventBuilder(clock=lambda: 1_700_000_000.5))


def echo_calls() -> list[dict]:
    return sys.modules["tasklane_fn_EchoFunction"].CALLS


def route(method: str, path: str) -> HttpRoute:
    return HttpRoute(method, path, f"{method} {path}", None)


@pytest.mark.parametrize("order", [1, -1])
def test_literal_segments_beat_parameters(order):
    routes = [
        route("GET", "/items/{itemId}"),
        route("GET", "/items/special"),
        route("GET", "/{any+}"),
        route("ANY", "/items/{itemId}/parts"),
        route("GET", "/items/{itemId}/parts"),
    ][::order]
    matcher = RouteMatcher(routes)

    def matched(method, path):
        match = matcher.match(method, path)
        return None if match is None else (match.route.path, match.route.method, match.path_parameters)

    assert matched("GET", "/items/special") == ("/items/special", "GET", {})
    assert matched("GET", "/items/42") == ("/items/{itemId}", "GET", {"itemId": "42"})
    assert matched("GET", "/items/a%20b") == ("/items/{itemId}", "GET", {"itemId": "a b"})
    assert matched("GET", "/items/7/parts") == ("/items/{itemId}/parts", "GET", {"itemId": "7"})
    assert matched("PUT", "/items/7/parts") == ("/items/{itemId}/parts", "ANY", {"itemId": "7"})
    assert matched("GET", "/x/y/z") == ("/{any+}", "GET", {"any": "x/y/z"})


def test_trailing_slash_is_dropped_and_method_must_match():
    matcher = RouteMatcher([route("GET", "/items/{itemId}"), route("POST", "/items")])

    assert matcher.match("POST", "/items/").route.path == "/items"
    assert matcher.match("GET", "/items/9/").path_parameters == {"itemId": "9"}
    assert matcher.match("GET", "/items") is None
    assert matcher.match("DELETE", "/items/9") is None
    assert matcher.match("GET", "/items//") is None


@pytest.mark.parametrize("method, path", [("GET", "/nowhere"), ("DELETE", "/items"), ("GET", "/items/1/2")])
def test_unknown_route_is_404_not_found(gateway, method, path):
    response = gateway.handle(method, path, ALLOW)

    assert response.status == 404
    # AWS: {"message":"Not Found"}; locally the README's code and errors too
    assert response.json() == {"message": "Not Found", "code": "not_found", "errors": []}
    assert response.headers["content-type"] == "application/json"
    assert echo_calls() == []


def test_json_request_becomes_a_payload_2_event(gateway):
    response = gateway.handle(
        "POST",
        "/items/?tag=a&tag=b&empty=&q=x%20y",
        [
            ("X-Allow", "yes"),
            ("Content-Type", "application/json"),
            ("X-Dup", "1"),
            ("x-dup", "2"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "pytest"),
            ("Host", "127.0.0.1:3000"),
        ],
        b'{"name": "caf\xc3\xa9"}',
        source_ip="10.0.0.7",
    )

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    event = response.json()
    assert event == echo_calls()[0]
    context = event.pop("requestContext")
    assert event == {
        "version": "2.0",
        "routeKey": "POST /items",
        "rawPath": "/items/",
        "rawQueryString": "tag=a&tag=b&empty=&q=x%20y",
        "cookies": ["a=1", "b=2"],
        "headers": {
            "x-allow": "yes",
            "content-type": "application/json",
            "x-dup": "1,2",
            "user-agent": "pytest",
            "host": "127.0.0.1:3000",
            "x-forwarded-for": "10.0.0.7",
            "x-forwarded-port": "3000",
            "x-forwarded-proto": "http",
        },
        "queryStringParameters": {"tag": "a,b", "empty": "", "q": "x y"},
        "body": '{"name": "café"}',
        "isBase64Encoded": False,
    }
    request_id = context.pop("requestId")
    assert request_id and response.headers["apigw-requestid"] == request_id
    assert context == {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "127",
        "http": {
            "method": "POST",
            "path": "/items/",
            "protocol": "HTTP/1.1",
            "sourceIp": "10.0.0.7",
            "userAgent": "pytest",
        },
        "routeKey": "POST /items",
        "stage": "$default",
        "time": "14/Nov/2023:22:13:20 +0000",
        "timeEpoch": 1_700_000_000_500,
        "authorizer": {"lambda": {"tenant": "acme", "scopes": "tasks:write"}},
    }


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=xyz", "application/zip", ""])
def test_binary_bodies_arrive_base64_encoded(gateway, content_type):
    # valid UTF-8 on purpose: the content type alone decides, as in API Gateway
    body = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n--xyz--'
    headers = {**ALLOW, "Content-Type": content_type} if content_type else ALLOW

    event = gateway.handle("POST", "/items", headers, body).json()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


@pytest.mark.parametrize(
    "content_type",
    [
        "text/csv",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/problem+json; charset=utf-8",
    ],
)
def test_text_bodies_arrive_as_text(gateway, content_type):
    event = gateway.handle("POST", "/items", {**ALLOW, "content-type": content_type}, b"a=1").json()

    assert event["isBase64Encoded"] is False
    assert event["body"] == "a=1"


def test_path_parameters_and_absent_fields(gateway):
    event = gateway.handle("GET", "/items/id%2F1", ALLOW).json()

    assert event["routeKey"] == "GET /items/{itemId}"
    assert event["pathParameters"] == {"itemId": "id/1"}
    # AWS: empty fields are left out of the event
    for absent in ("body", "cookies", "queryStringParameters"):
        assert absent not in event

    assert gateway.handle("GET", "/items/special", ALLOW).json()["routeKey"] == "GET /items/special"
    assert gateway.handle("PATCH", "/files/a/b.txt", ALLOW).json()["pathParameters"] == {"proxy": "a/b.txt"}


def test_authorizer_event_is_a_payload_2_request_event():
    request = HttpRequest.parse(
        "POST", "/v1/task?x=1", {"Authorization": "Bearer t", "Cookie": "c=1"}, b"{}", "127.0.0.1"
    )
    match = RouteMatcher([HttpRoute("POST", "/v1/task", "F", None)]).match("POST", "/v1/task")

    event = EventBuilder(region="us-east-1").authorizer_event(request, match)

    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/$default/POST/v1/task"
    assert event["identitySource"] == []
    assert event["routeKey"] == "POST /v1/task"
    assert event["rawPath"] == "/v1/task"
    assert event["rawQueryString"] == "x=1"
    assert event["cookies"] == ["c=1"]
    assert event["headers"] == {
        "authorization": "Bearer t",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-port": "80",
        "x-forwarded-proto": "http",
    }
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert "body" not in event and "authorizer" not in event["requestContext"]


@pytest.mark.parametrize(
    "headers, status, message, code",
    [
        ({}, 401, "missing credentials", "unauthorized"),
        ({"x-allow": "no"}, 401, "missing credentials", "unauthorized"),
        ({"x-allow": "forbid"}, 403, "scope tasks:write required", "forbidden"),
    ],
)
def test_denied_requests_never_reach_the_handler(gateway, headers, status, message, code):
    response = gateway.handle("POST", "/items", headers, b"{}")

    assert response.status == status
    assert response.json() == {"message": message, "code": code, "errors": []}
    assert response.headers["content-type"] == "application/json"
    assert echo_calls() == []


@pytest.mark.parametrize("verdict", ["junk", "raise"])
def test_broken_authorizer_is_a_500(gateway, verdict):
    response = gateway.handle("GET", "/items/1", {"x-allow": verdict})

    assert response.status == 500
    assert response.json() == {"message": "Internal Server Error", "code": "internal_error", "errors": []}
    assert echo_calls() == []


def test_route_with_authorizer_none_skips_it(gateway):
    event = gateway.handle("GET", "/public").json()

    assert "authorizer" not in event["requestContext"]


def test_handler_exception_is_a_logged_500(gateway, caplog):
    with caplog.at_level(logging.ERROR, logger="tasklane.local.gateway"):
        response = gateway.handle("GET", "/boom", ALLOW)

    assert response.status == 500
    assert response.json() == {"message": "Internal Server Error", "code": "internal_error", "errors": []}
    assert "BoomFunction failed" in caplog.text
    assert "RuntimeError: handler broke" in caplog.text  # the traceback


def test_full_handler_response_is_decoded(gateway):
    response = gateway.handle("GET", "/binary", ALLOW)

    assert response.status == 201
    assert response.body == b"\x00\x01binary"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-multi"] == "a,b"
    assert response.cookies == ("session=abc; HttpOnly", "theme=dark")
    # the context counted down from the function's Timeout (7 s)
    assert 0 < int(response.headers["x-remaining"]) <= 7000


def test_results_without_status_code_are_inferred():
    assert to_local_response({"a": 1}).json() == {"a": 1}
    text = to_local_response("plain")
    assert (text.status, text.body, text.headers["content-type"]) == (
        200,
        b"plain",
        "application/json",
    )
    empty = to_local_response({"statusCode": 204})
    assert (empty.status, empty.body) == (204, b"")
    with pytest.raises(ValueError):
        to_local_response({"statusCode": 200, "body": {"not": "a string"}})


def test_gateway_refuses_routes_without_functions():
    template = load_template(FIXTURES / "gateway.yaml")

    with pytest.raises(ValueError, match="is not loaded"):
        Gateway(template.routes, {})
