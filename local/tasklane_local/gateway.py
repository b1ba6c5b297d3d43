"""API Gateway HTTP API, payload format 2.0, for the routes in template.yaml.

`Gateway.handle` works in-process (tests call it directly, no socket); `GatewayServer`
puts the same gateway behind a stdlib threaded HTTP server.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from tasklane_local import log_format
from tasklane_local.jwt_authorizer import JwtAuthorizer
from tasklane_local.serving import ServingThread
from tasklane_local.identity import ACCOUNT_ID, API_ID, DEFAULT_REGION
from tasklane_local.lambda_runtime import LAMBDA_LOG_KEYS, Invocable, log_tags
from tasklane_local.template import Authorizer, HttpRoute

# Named under the service logger (tasklane), so these lines take the functions' log format.
logger = logging.getLogger("tasklane.local.gateway")

# AWS: API Gateway's payload limit is 10 MB.
MAX_BODY_BYTES = 10 * 1024 * 1024
# AWS: API Gateway gives up on a request after 30 s (its integration limit); a client that stalls
# while sending one gets no longer here, so it cannot hold a server thread forever.
READ_TIMEOUT_SECONDS = 30.0
# A chunk-size line (size and extensions) and a trailer line; http.client allows 64 KiB lines.
MAX_CHUNK_LINE_BYTES = 4096
MAX_TRAILER_LINE_BYTES = 65536
MAX_TRAILERS = 100
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_METHOD_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
# AWS: HTTP APIs pass these request bodies as text and base64-encode everything else.
TEXT_CONTENT_TYPES = frozenset({"application/json", "application/xml", "application/x-www-form-urlencoded"})

Headers = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class LocalResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    cookies: tuple[str, ...] = ()  # one Set-Cookie header each
    function: str | None = None  # the function whose invocation made this answer; None: the gateway's own
    tenant: str | None = None  # the tenant the authorizer admitted, for the access line

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(status: int, payload: Any) -> LocalResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return LocalResponse(status, {"content-type": "application/json"}, body)


# The README's error codes for the answers the gateway makes itself.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    505: "http_version_not_supported",
}


def error_response(status: int, message: str | None = None) -> LocalResponse:
    """The one error shape, {"message", "code", "errors"}, for an answer the gateway makes itself."""
    # AWS: API Gateway's own answers are {"message": "<reason phrase>"} alone, and a few (a
    # malformed request, one too large to parse) come from its front end as HTML. Locally every
    # error carries the README's code and errors too, so clients handle one shape.
    phrase = HTTPStatus(status).phrase
    code = ERROR_CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
    return json_response(status, {"message": message or phrase, "code": code, "errors": []})


def _not_found() -> LocalResponse:
    # AWS: an HTTP API answers an unknown route, or a known path with another method, with
    # 404 {"message":"Not Found"}.
    return error_response(404, "Not Found")


def _internal_error() -> LocalResponse:
    # AWS: 500 {"message":"Internal Server Error"} is what API Gateway answers when the
    # integration or the authorizer fails.
    return error_response(500, "Internal Server Error")


def gateway_log_tags(function: str | None, request_id: str, tenant: str | None = None) -> dict[str, Any]:
    """Tags for a line the gateway logs about a request: no invocation's keys, the request's id."""
    # The handlers use the API request id as their correlation id; the other Lambda keys, and the
    # tenant a function appended on this thread, are blanked so no line borrows those of whichever
    # function ran last (see log_tags).
    return {**dict.fromkeys(LAMBDA_LOG_KEYS), "function_name": function, "correlation_id": request_id, "tenant": tenant}


def _tenant(authorizer_context: Mapping[str, Any]) -> str | None:
    """The tenant an authorizer's context names (a JWT's claim, or the Lambda authorizer's key)."""
    found = (authorizer_context.get("jwt") or {}).get("claims", {}).get("tenant") or (
        authorizer_context.get("lambda") or {}
    ).get("tenant")
    return str(found) if found else None


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


def _segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    if segment.startswith("{") and segment.endswith("}"):
        return 1
    return 0


class RouteMatcher:
    """Pick the route API Gateway would: the most specific path, then the exact method."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        routes = list(routes)
        self._routes = [r for r in routes if r.path != "$default"]
        self._default = next((r for r in routes if r.path == "$default"), None)

    def match(self, method: str, path: str) -> RouteMatch | None:
        # AWS: API Gateway drops a trailing slash before matching.
        if path != "/" and path.endswith("/"):
            path = path.rstrip("/") or "/"
        segments = path.split("/")[1:]
        candidates = []
        for route in self._routes:
            if route.method not in (method, "ANY"):
                continue
            captured = self._capture(route.path.split("/")[1:], segments)
            if captured is not None:
                # AWS: literal segments beat {param}, which beats {proxy+}, left to right;
                # on a tie an exact method beats ANY.
                rank = [_segment_rank(s) for s in route.path.split("/")[1:]]
                candidates.append((rank, route.method == "ANY", route, captured))
        if candidates:
            _, _, route, captured = min(candidates, key=lambda c: (c[0], c[1]))
            return RouteMatch(route, captured)
        if self._default is not None:
            return RouteMatch(self._default, {})
        return None

    @staticmethod
    def _capture(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
        captured: dict[str, str] = {}
        for index, part in enumerate(pattern):
            if _segment_rank(part) == 2:
                rest = segments[index:]
                if not rest or rest == [""]:
                    return None
                captured[part[1:-2]] = unquote("/".join(rest))
                return captured
            if index >= len(segments):
                return None
            if _segment_rank(part) == 1:
                if not segments[index]:
                    return None
                captured[part[1:-1]] = unquote(segments[index])
            elif part != unquote(segments[index]):
                return None
        return captured if len(pattern) == len(segments) else None


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_CONTENT_TYPES or media_type.endswith("+json")


@dataclass(frozen=True)
class HttpRequest:
    """A request as API Gateway sees it, before it becomes an event."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]  # lower-case names, duplicates joined with ","
    cookies: list[str]
    body: bytes
    source_ip: str
    request_id: str = field(default_factory=lambda: base64.b64encode(os.urandom(10)).decode())

    @classmethod
    def parse(cls, method: str, path_with_query: str, headers: Headers, body: bytes, source_ip: str) -> HttpRequest:
        if path_with_query.startswith(("http://", "https://")):
            # An absolute-form request target, as proxies send.
            path_with_query = urlsplit(path_with_query)._replace(scheme="", netloc="").geturl()
        raw_path, _, raw_query = path_with_query.split("#", 1)[0].partition("?")
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        joined: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in pairs:
            name = name.lower()
            if name == "cookie":
                # AWS: payload 2.0 moves cookies out of the headers into `cookies`.
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            # AWS: payload 2.0 joins duplicate headers with commas.
            joined[name] = f"{joined[name]},{value}" if name in joined else value
        return cls(method.upper(), raw_path or "/", raw_query, joined, cookies, body, source_ip)


class EventBuilder:
    """Build the payload 2.0 events API Gateway sends to handlers and authorizers."""

    def __init__(self, region: str = DEFAULT_REGION, clock: Any = time.time) -> None:
        self._region = region
        self._clock = clock

    def _query_parameters(self, raw_query: str) -> dict[str, str]:
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            # AWS: payload 2.0 joins duplicate query parameters with commas.
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
        return parameters

    def _request_context(self, request: HttpRequest, route: HttpRoute) -> dict[str, Any]:
        now = self._clock()
        domain_name = request.headers.get("host", "localhost").split(":")[0]
        return {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        }

    def _common(self, request: HttpRequest, match: RouteMatch) -> dict[str, Any]:
        # AWS: fields with nothing to carry (cookies, query, path parameters) are left out.
        event: dict[str, Any] = {
            "routeKey": match.route.route_key,
            "rawPath": request.raw_path,
            "rawQueryString": request.raw_query,
            # AWS: API Gateway adds the X-Forwarded-* headers; locally the scheme is plain http.
            "headers": {
                **dict(request.headers),
                "x-forwarded-for": request.source_ip,
                "x-forwarded-port": request.headers.get("host", "").rpartition(":")[2] or "80",
                "x-forwarded-proto": "http",
            },
        }
        if request.cookies:
            event["cookies"] = list(request.cookies)
        query = self._query_parameters(request.raw_query)
        if query:
            event["queryStringParameters"] = query
        if match.path_parameters:
            event["pathParameters"] = dict(match.path_parameters)
        return event

    def handler_event(
        self, request: HttpRequest, match: RouteMatch, authorizer: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """`authorizer`: requestContext.authorizer as the route's authorizer fills it ({"lambda": ...} or {"jwt": ...})."""
        event = {"version": "2.0", **self._common(request, match)}
        context = self._request_context(request, match.route)
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        event["requestContext"] = context
        event["isBase64Encoded"] = False
        if request.body:
            text = None
            if _is_text(request.headers.get("content-type", "")):
                try:
                    text = request.body.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            if text is not None:
                event["body"] = text
            else:
                # AWS: binary bodies reach the handler base64-encoded. A body with no
                # content type is treated as binary too: handlers decode, never guess.
                event["body"] = base64.b64encode(request.body).decode("ascii")
                event["isBase64Encoded"] = True
        return event

    def authorizer_event(self, request: HttpRequest, match: RouteMatch) -> dict[str, Any]:
        # AWS: a 2.0 REQUEST authorizer gets the request without its body, plus the
        # route's ARN; the template sets no identity source, so identitySource is empty.
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": (
                f"arn:aws:execute-api:{self._region}:{ACCOUNT_ID}:{API_ID}/$default/{request.method}{request.raw_path}"
            ),
            "identitySource": [],
            **self._common(request, match),
            "requestContext": self._request_context(request, match.route),
        }


def _deny_response(context: Mapping[str, Any]) -> LocalResponse:
    # AWS: API Gateway answers every simple-response denial with 403 {"message":"Forbidden"};
    # the local stack reports the authorizer's status and reason so developers see why.
    status = context.get("status")
    status = status if status in (401, 403) else 403
    message = context.get("message")
    return error_response(status, message if isinstance(message, str) and message else None)


class LambdaAuthorizer:
    """A Lambda authorizer with payload 2.0 and simple responses."""

    def __init__(self, authorizer: Authorizer, function: Invocable) -> None:
        if authorizer.payload_version != "2.0" or not authorizer.simple_responses:
            raise ValueError(
                f"{authorizer.name}: the local gateway runs payload 2.0 authorizers with simple responses only"
            )
        self._function = function
        self.function_name = function.name

    def authorize(self, event: Mapping[str, Any]) -> dict[str, Any] | LocalResponse:
        """The context to pass on, or the response that ends the request."""
        try:
            result = self._function.invoke(event)
        except Exception:
            logger.exception("authorizer failed")
            return _internal_error()
        if not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
            logger.error("authorizer returned %r, not {'isAuthorized': bool, ...}", result)
            return _internal_error()
        context = result.get("context") or {}
        if not isinstance(context, dict):
            logger.error("authorizer context must be an object, got %r", context)
            return _internal_error()
        return context if result["isAuthorized"] else _deny_response(context)


def to_local_response(result: Any) -> LocalResponse:
    """A handler's payload 2.0 result as an HTTP response; ValueError when malformed."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # AWS: a 2.0 result without statusCode is the body of a 200 JSON response.
        body = result if isinstance(result, str) else json.dumps(result)
        return LocalResponse(200, {"content-type": "application/json"}, body.encode())
    try:
        status = int(result["statusCode"])
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            joined = ",".join(str(v) for v in values)
            name = str(name).lower()
            headers[name] = f"{headers[name]},{joined}" if name in headers else joined
        cookies = tuple(str(c) for c in result.get("cookies") or ())
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise TypeError(f"body must be a string, got {type(body).__name__}")
        raw = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
    except (TypeError, AttributeError, binascii.Error) as error:
        raise ValueError(f"malformed handler response: {error}") from error
    return LocalResponse(status, headers, raw, cookies)


class Pages(Protocol):
    """Answers the gateway makes itself for some paths (not routes of the template); None: route it."""

    def respond(self, method: str, path: str, query: str, headers: dict[str, str]) -> LocalResponse | None: ...


class Gateway:
    """Route, authorize, build the event, invoke, turn the result into a response."""

    def __init__(
        self,
        routes: Iterable[HttpRoute],
        functions: Mapping[str, Invocable],
        events: EventBuilder | None = None,
        jwt_authorizers: Mapping[str, JwtAuthorizer] | None = None,
        pages: Pages | None = None,
    ) -> None:
        """`jwt_authorizers`: the template's JWT authorizers by name, their issuer and JWKS resolved.
        `pages`: the gateway's own pages (the contract), asked before routing."""
        self._pages = pages
        routes = list(routes)
        self._matcher = RouteMatcher(routes)
        self._events = events or EventBuilder()
        self._functions = dict(functions)
        self._authorizers: dict[str, LambdaAuthorizer] = {}
        self._jwt = dict(jwt_authorizers or {})
        for route in routes:
            if route.function_id not in self._functions:
                raise ValueError(f"{route.route_key}: function {route.function_id} is not loaded")
            if route.authorizer is not None and route.authorizer.is_jwt:
                if route.authorizer.name not in self._jwt:
                    raise ValueError(f"{route.route_key}: JWT authorizer {route.authorizer.name} is not configured")
                continue
            if route.authorizer is not None and route.authorizer.name not in self._authorizers:
                assert route.authorizer.function_id is not None
                function = self._functions.get(route.authorizer.function_id)
                if function is None:
                    raise ValueError(f"authorizer function {route.authorizer.function_id} is not loaded")
                self._authorizers[route.authorizer.name] = LambdaAuthorizer(route.authorizer, function)

    def handle(
        self,
        method: str,
        path_with_query: str,
        headers: Headers | None = None,
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> LocalResponse:
        request = HttpRequest.parse(method, path_with_query, headers or {}, body, source_ip)
        with log_tags(gateway_log_tags(None, request.request_id)):
            response = self._respond(request)
        # AWS: HTTP APIs tag every response with the request id.
        response.headers.setdefault("apigw-requestid", request.request_id)
        return response

    def _respond(self, request: HttpRequest) -> LocalResponse:
        if self._pages is not None:
            page = self._pages.respond(request.method, request.raw_path, request.raw_query, request.headers)
            if page is not None:
                return page
        # AWS: routing comes first; an unknown route never reaches the authorizer.
        match = self._matcher.match(request.method, request.raw_path)
        if match is None:
            return _not_found()
        authorizer_context = None
        if match.route.authorizer is not None and match.route.authorizer.is_jwt:
            granted = self._jwt[match.route.authorizer.name].authorize(request.headers, match.route.scopes)
            if isinstance(granted, int):
                # AWS: {"message":"Unauthorized"} or {"message":"Forbidden"}; locally with the code too.
                return error_response(granted, "Unauthorized" if granted == 401 else "Forbidden")
            authorizer_context = granted
        elif match.route.authorizer is not None:
            authorizer = self._authorizers[match.route.authorizer.name]
            outcome = authorizer.authorize(self._events.authorizer_event(request, match))
            if isinstance(outcome, LocalResponse):
                return dataclasses.replace(outcome, function=authorizer.function_name)
            authorizer_context = {"lambda": outcome}
        event = self._events.handler_event(request, match, authorizer_context)
        function = self._functions[match.route.function_id]
        tenant = _tenant(authorizer_context or {})
        try:
            response = to_local_response(function.invoke(event))
        except Exception:
            with log_tags(gateway_log_tags(function.name, request.request_id, tenant)):
                logger.exception("%s failed (request %s)", match.route.function_id, request.request_id)
            response = _internal_error()
        return dataclasses.replace(response, function=function.name, tenant=tenant)


class _Refused(Exception):
    """The request cannot be read as sent: answer `status` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad_framing(message: str) -> _Refused:
    return _Refused(400, f"Bad Request: {message}")


def _too_large() -> _Refused:
    # AWS: API Gateway's answer to a body over its limit.
    return _Refused(413, "Request Entity Too Large")


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    """Bytes in, Gateway.handle, bytes out; nothing else happens here."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers (about 40 ms on Linux), on every response.
    disable_nagle_algorithm = True
    server: _GatewayHTTPServer
    # The answer being sent, for the access line's tags.
    _answer: LocalResponse | None = None

    def setup(self) -> None:
        super().setup()
        # On the socket, so every read (request line, headers, body) and write fails after it
        # rather than wait forever.
        self.connection.settimeout(self.server.read_timeout)

    def handle_one_request(self) -> None:
        # Nothing of the connection's previous request: a request line too long to read (414) sets no
        # method or path, and its time is unknown.
        self._answer = None
        self._started: float | None = None
        self.command, self.path = None, ""  # type: ignore[assignment]
        super().handle_one_request()

    def parse_request(self) -> bool:
        # The request line is read: the request's time starts (not while a kept-alive connection waits).
        self._started = time.monotonic()
        try:
            return super().parse_request()
        except TimeoutError:
            # The client stopped in the middle of its headers. (A keep-alive connection that
            # goes quiet between requests is closed by http.server without an answer.)
            self.close_connection = True
            self._send(error_response(408, "Request Timeout"))
            return False

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _Refused as refusal:
            # The rest of the body is unread or cannot be framed: answer, then drop the connection.
            self.close_connection = True
            self._send(error_response(refusal.status, refusal.message))
            return
        except TimeoutError:
            self.close_connection = True
            self._send(error_response(408, "Request Timeout"))
            return
        response = self.server.gateway.handle(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        self._send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # AWS: an HTTP API answers a method it has no route for (TRACE, PROPFIND...) as it does an
        # unknown route, 404, where http.server would answer 501.
        if name.startswith("do_") and _METHOD_TOKEN.fullmatch(name[3:]):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        lengths = self.headers.get_all("content-length") or []
        codings = [
            coding.strip().lower()
            for value in self.headers.get_all("transfer-encoding") or []
            for coding in value.split(",")
            if coding.strip()
        ]
        # Two ways to frame one body, or two lengths, is how requests get smuggled past a proxy
        # that reads them differently. AWS: API Gateway never hands such a request to a
        # function; here it is a 400, as RFC 9112 6.3 asks.
        if codings:
            if lengths:
                raise _bad_framing("both Content-Length and Transfer-Encoding")
            if codings[-1] != "chunked":
                raise _bad_framing("Transfer-Encoding must end with chunked")
            if codings != ["chunked"]:
                raise _Refused(501, f"Transfer-Encoding {', '.join(codings)} is not supported")
            return self._read_chunked()
        if len(lengths) > 1:
            raise _bad_framing("more than one Content-Length")
        if not lengths:
            return b""
        text = lengths[0].strip()
        if not (text.isascii() and text.isdigit()):
            raise _bad_framing("Content-Length must be a decimal number")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise _too_large()
        body = self.rfile.read(length)
        if len(body) < length:
            raise _bad_framing("the body ended before Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE_BYTES + 1)
            if len(line) > MAX_CHUNK_LINE_BYTES or not line.endswith(b"\n"):
                raise _bad_framing("malformed chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise _bad_framing(f"malformed chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                self._skip_trailers()
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _too_large()
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _bad_framing("the body ended inside a chunk")
            chunks.append(chunk)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _bad_framing("a chunk must end with CRLF")

    def _skip_trailers(self) -> None:
        for _ in range(MAX_TRAILERS + 1):
            line = self.rfile.readline(MAX_TRAILER_LINE_BYTES + 1)
            if line in (b"\r\n", b"\n"):
                return
            if len(line) > MAX_TRAILER_LINE_BYTES or not line.endswith(b"\n"):
                raise _bad_framing("malformed trailer")
        raise _bad_framing("too many trailers")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (414 request line too long, 431 headers too large, 400 a
        # malformed request line, 501 an unknown method) in the JSON every other answer has,
        # not its HTML page.
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            # AWS: API Gateway speaks HTTP/1.1 and 2 only. http.server would answer a request
            # line it could not read as HTTP/0.9, a bare body without status or headers.
            self.request_version = self.protocol_version
        self._send(error_response(code, message))

    def _send(self, response: LocalResponse) -> None:
        self._answer = response
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Logged after the function returned, on the gateway's thread: the line names the
        # function that answered, not the one the shared Powertools logger saw last.
        answer = self._answer
        function, tenant = (answer.function, answer.tenant) if answer is not None else (None, None)
        method = self.command or "-"
        path = urlsplit(self.path).path if self.path else "-"
        status = int(code) if str(code).isdigit() else 0
        started = getattr(self, "_started", None)
        elapsed = round((time.monotonic() - started) * 1000) if started is not None else None
        with log_tags(gateway_log_tags(function, self._request_id(), tenant)):
            logger.info("%s %s %s", method, path, code, extra=log_format.access_line(method, path, status, elapsed))

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own notes (log_error): the refusal the client is answered with.
        with log_tags(gateway_log_tags(None, self._request_id())):
            logger.info("%s %s", self.address_string(), format % args)

    def _request_id(self) -> str:
        """The id of the request being answered (none for a refusal before routing)."""
        return self._answer.headers.get("apigw-requestid", "") if self._answer is not None else ""


class _GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: Gateway, read_timeout: float) -> None:
        self.gateway = gateway
        self.read_timeout = read_timeout
        super().__init__(address, _GatewayRequestHandler)


class GatewayServer:
    """The gateway on a socket; port 0 picks a free one."""

    def __init__(
        self,
        gateway: Gateway,
        host: str = "127.0.0.1",
        port: int = 3000,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._serving = ServingThread(_GatewayHTTPServer((host, port), gateway, read_timeout), "tasklane-gateway")
        bound_host, bound_port = self._serving.host_and_port
        self.url = f"http://{bound_host}:{bound_port}"

    def start(self) -> str:
        self._serving.start()
        return self.url

    def stop(self) -> None:
        self._serving.stop()
