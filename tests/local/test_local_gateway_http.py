"""The gateway's HTTP server, driven with raw bytes: framing, limits, timeouts, error bodies."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasklane_local.gateway import Gateway, GatewayServer
from tasklane_local.lambda_runtime import LambdaRuntime
from tasklane_local.template import load_template

FIXTURES = Path(__file__).parent / "fixtures"
READ_TIMEOUT = 0.5
# Far above READ_TIMEOUT: a gateway that never times out fails the test instead of hanging it.
CLIENT_TIMEOUT = 10


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    template = load_template(FIXTURES / "gateway.yaml")
    runtime = LambdaRuntime(template.functions).load()
    server = GatewayServer(Gateway(template.routes, runtime.functions), port=0, read_timeout=READ_TIMEOUT)
    server.start()
    host, port = server.url.removeprefix("http://").split(":")
    try:
        yield host, int(port)
    finally:
        server.stop()
        runtime.unload()


def exchange(address: tuple[str, int], data: bytes) -> tuple[http.client.HTTPResponse, Any, bool]:
    """Send raw bytes; the response, its JSON body, and whether the gateway then closed the connection."""
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
        closed = sock.recv(1) == b""
    return response, body, closed


def request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


POST = "POST /items HTTP/1.1\nHost: local\nX-Allow: yes\nContent-Type: text/plain\n"


def assert_error(response: http.client.HTTPResponse, body: Any, status: int, code: str) -> None:
    assert response.status == status
    assert response.getheader("content-type") == "application/json"
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["errors"] == []


@pytest.mark.parametrize(
    "sent",
    [
        POST + "Content-Length: 10\n\nabc",  # stops inside the body
        "POST /items HTTP/1.1\nHost: local\nTransfer-Encoding: chunked\n\n5\r\nab",  # inside a chunk
        "POST /items HTTP/1.1\nHost: local\nX-Allow: y",  # inside the headers
    ],
    ids=["body", "chunk", "headers"],
)
def test_a_stalled_request_is_answered_408_and_closed(address, sent):
    started = time.monotonic()

    response, body, closed = exchange(address, sent.replace("\n", "\r\n").encode())

    assert_error(response, body, 408, "request_timeout")
    assert closed
    assert time.monotonic() - started < CLIENT_TIMEOUT / 2


def test_chunked_bodies_still_arrive_whole(address):
    sent = request(
        POST + "Transfer-Encoding: chunked\nConnection: close\n",
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    )

    response, event, _ = exchange(address, sent)

    assert response.status == 200
    assert event["body"] == "hello world"


@pytest.mark.parametrize(
    "headers, body, message",
    [
        ("Content-Length: 3\nContent-Length: 3\n", b"abc", "more than one Content-Length"),
        ("Content-Length: 3\nContent-Length: 30\n", b"abc", "more than one Content-Length"),
        ("Content-Length: 3\nTransfer-Encoding: chunked\n", b"3\r\nabc\r\n0\r\n\r\n", "both Content-Length"),
        ("Content-Length: +3\n", b"abc", "decimal"),
        ("Content-Length: 0x3\n", b"abc", "decimal"),
        ("Transfer-Encoding: chunked\n", b"-3\r\nabc\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\n", b"0x3\r\nabc\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\n", b"+3\r\nabc\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\n", b"\r\nabc\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\n", b"zz\r\nabc\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\n", b"3\r\nabcdef\r\n0\r\n\r\n", "CRLF"),
        ("Transfer-Encoding: chunked, gzip\n", b"3\r\nabc\r\n0\r\n\r\n", "end with chunked"),
    ],
)
def test_ambiguous_or_malformed_framing_is_a_400(address, headers, body, message):
    response, answer, closed = exchange(address, request(POST + headers, body))

    assert_error(response, answer, 400, "bad_request")
    assert message in answer["message"]
    assert closed  # what follows on the connection cannot be trusted


def test_an_unsupported_transfer_coding_is_a_501(address):
    response, body, _ = exchange(address, request(POST + "Transfer-Encoding: gzip, chunked\n", b"0\r\n\r\n"))

    assert_error(response, body, 501, "not_implemented")


@pytest.mark.parametrize(
    "sent, status, code",
    [
        (request(f"GET /{'a' * 70_000} HTTP/1.1\nHost: local\n"), 414, "uri_too_long"),
        (request(f"GET /public HTTP/1.1\nHost: local\nX-Big: {'a' * 70_000}\n"), 431, "request_header_fields_too_large"),
        (request("GET /public HTTP/1.1\n" + "".join(f"X-{i}: {i}\n" for i in range(150))), 431,
         "request_header_fields_too_large"),
        (request("GET /public HTTP/1.1 extra\nHost: local\n"), 400, "bad_request"),
    ],
    ids=["uri", "header line", "header count", "request line"],
)
def test_http_server_refusals_are_json(address, sent, status, code):
    response, body, closed = exchange(address, sent)

    assert_error(response, body, status, code)
    assert closed


@pytest.mark.parametrize("method", ["BREW", "TRACE", "PROPFIND"])
def test_a_method_without_a_route_is_a_404_as_on_api_gateway(address, method):
    # schemathesis sends TRACE to every route; http.server alone answered 501.
    response, body, _ = exchange(address, request(f"{method} /public HTTP/1.1\nHost: local\nConnection: close\n"))

    assert_error(response, body, 404, "not_found")


def test_binary_body_with_content_length_still_works(address):
    data = bytes(range(256))
    sent = request(
        f"POST /items HTTP/1.1\nHost: local\nX-Allow: yes\nContent-Type: application/zip\nContent-Length: {len(data)}\n"
        "Connection: close\n",
        data,
    )

    response, event, _ = exchange(address, sent)

    assert response.status == 200
    assert base64.b64decode(event["body"]) == data


def test_keep_alive_responses_do_not_wait_for_delayed_acks(address):
    # With Nagle's algorithm on, each response's body waits ~40 ms for the client's delayed ACK
    # of its headers: 20 requests would take 0.8 s at least. Without it, a few ms each.
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        for _ in range(20):
            sock.sendall(request(POST + "Content-Length: 2\n", b"hi"))
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            assert response.status == 200
        elapsed = time.perf_counter() - started
    assert elapsed < 0.6, f"20 keep-alive requests took {elapsed:.2f} s"


def test_the_access_line_of_a_refused_request_line_names_nothing_of_the_previous_request(address, caplog):
    caplog.set_level(logging.INFO, logger="tasklane.local.gateway")
    first = request("GET /public?secret=1 HTTP/1.1\nHost: local\n")
    too_long = request(f"GET /{'a' * 70_000} HTTP/1.1\nHost: local\n")
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:  # one kept-alive connection
        sock.sendall(first)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        answer.read()
        sock.sendall(too_long)
        refused = http.client.HTTPResponse(sock)
        refused.begin()
        refused.read()
    lines = [r for r in caplog.records if getattr(r, "method", None) is not None or getattr(r, "status", None) == 414]
    assert [(r.getMessage(), r.path, r.duration_ms is None) for r in lines] == [("GET /public 200", "/public", False), ("- - 414", "-", True)]
