"""A fake Salesforce REST API on loopback, over https with a test certificate, for the real client.

It answers what tasklane asks of Salesforce: SOQL queries (`SELECT ... FROM ... WHERE a = 'x' AND
b IN ('y', 'z')`, literals with SOQL's escapes), sObject reads with `fields`, ContentVersion
VersionData and ContentVersion inserts. It checks the session (Authorization: Bearer), counts and
records every request, and can be told to refuse the next N calls with REQUEST_LIMIT_EXCEEDED.
Anything else is a 400 MALFORMED_QUERY, as Salesforce answers a query it cannot parse, so an
injected `OR` shows up as a failure rather than as a wider result.

Start with `with FakeSalesforce(tmp_path) as sf:`; `sf.url` is the instance URL and `sf.ca_bundle`
the certificate to trust (REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tasklane.integrations.salesforce import canonical_id

API = "/services/data/v59.0"
_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tasklane test Salesforce")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "salesforce-test.pem", directory / "salesforce-test.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Malformed(ValueError):
    pass


def _literal(text: str, at: int) -> tuple[Any, int]:
    if text.startswith("'", at):
        out, i = [], at + 1
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                nxt = text[i + 1 : i + 2]
                if nxt not in _ESCAPES:
                    raise Malformed(f"invalid escape \\{nxt}")
                out.append(_ESCAPES[nxt])
                i += 2
            elif ch == "'":
                return "".join(out), i + 1
            else:
                out.append(ch)
                i += 1
        raise Malformed("unterminated string")
    match = re.compile(r"-?\d+(\.\d+)?|true|false|null").match(text, at)
    if not match:
        raise Malformed(f"expected a literal at {text[at:at + 20]!r}")
    raw = match.group(0)
    value = {"true": True, "false": False, "null": None}.get(raw, raw)
    return value, match.end()


def parse_soql(soql: str) -> tuple[list[str], str, list[tuple[str, str, Any]]]:
    """(fields, object, [(field, '=' | 'IN', value)]) of the SELECTs tasklane makes."""
    head = re.match(r"\s*SELECT\s+(.+?)\s+FROM\s+(\w+)\s*", soql, re.S | re.I)
    if not head:
        raise Malformed("expected SELECT ... FROM ...")
    fields = [f.strip() for f in head.group(1).split(",")]
    rest, at, conditions = soql, head.end(), []
    if at < len(rest):
        if not re.compile(r"WHERE\s+", re.I).match(rest, at):
            raise Malformed(f"unexpected {rest[at:at + 20]!r}")
        at = re.compile(r"WHERE\s+", re.I).match(rest, at).end()  # type: ignore[union-attr]
        while True:
            cond = re.compile(r"([\w.]+)\s*(=|IN)\s*", re.I).match(rest, at)
            if not cond:
                raise Malformed(f"expected a condition at {rest[at:at + 20]!r}")
            at = cond.end()
            if cond.group(2).upper() == "IN":
                if not rest.startswith("(", at):
                    raise Malformed("IN needs a list")
                values, at = [], at + 1
                while True:
                    value, at = _literal(rest, at)
                    values.append(value)
                    at += len(rest[at:]) - len(rest[at:].lstrip())
                    if rest.startswith(",", at):
                        at += 1
                        at += len(rest[at:]) - len(rest[at:].lstrip())
                        continue
                    if rest.startswith(")", at):
                        at += 1
                        break
                    raise Malformed("bad IN list")
                conditions.append((cond.group(1), "IN", values))
            else:
                value, at = _literal(rest, at)
                conditions.append((cond.group(1), "=", value))
            at += len(rest[at:]) - len(rest[at:].lstrip())
            if at >= len(rest):
                break
            conjunction = re.compile(r"AND\s+", re.I).match(rest, at)
            if not conjunction:
                raise Malformed(f"unexpected {rest[at:at + 20]!r}")
            at = conjunction.end()
    return fields, head.group(2), conditions


@dataclass
class FakeSalesforce:
    directory: Path
    sessions: set[str] = field(default_factory=lambda: {"00Dtest!session"})
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # type -> id -> fields
    version_data: dict[str, bytes] = field(default_factory=dict)  # ContentVersion id -> bytes
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path + query)
    created: list[dict[str, Any]] = field(default_factory=list)
    rate_limited: int = 0  # refuse this many next calls with REQUEST_LIMIT_EXCEEDED

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.ca_bundle, key = write_certificate(self.directory)
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> FakeSalesforce:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.records.setdefault(type_, {})[fields["Id"]] = fields
        return fields

    def add_template(self, document_id: str, version_id: str, data: bytes) -> None:
        self.version_data[version_id] = data
        self.add(
            "ContentDocument",
            Id=document_id,
            LatestPublishedVersionId=version_id,
            LatestPublishedVersion={"attributes": {"type": "ContentVersion"}, "ContentSize": len(data)},
        )

    def calls(self, method: str | None = None, contains: str = "") -> list[str]:
        with self._lock:
            return [p for m, p in self.requests if (method is None or m == method) and contains in p]

    # -- what the handler calls --------------------------------------------------------------------

    def select(self, soql: str) -> list[dict[str, Any]]:
        fields, type_, conditions = parse_soql(soql)
        found = []
        for record in self.records.get(type_, {}).values():
            if all(_matches(record.get(name), op, value, name) for name, op, value in conditions):
                found.append(_project(type_, record, fields))
        return found


def _matches(actual: Any, op: str, wanted: Any, name: str) -> bool:
    # Salesforce takes a 15-character id wherever an 18-character one fits, and an 18-character one in any case.
    def same(a: Any, b: Any) -> bool:
        if name.endswith("Id") and isinstance(a, str) and isinstance(b, str) and _ID.fullmatch(a) and _ID.fullmatch(b):
            return canonical_id(a) == canonical_id(b)
        return bool(a == b)

    return any(same(actual, w) for w in wanted) if op == "IN" else same(actual, wanted)


def _project(type_: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": {"type": type_, "url": f"{API}/sobjects/{type_}/{record.get('Id')}"}}
    for name in fields:
        head, _, tail = name.partition(".")
        if tail:
            out[head] = record.get(head)
        else:
            out[name] = record.get(name)
    return out


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSalesforce
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: Any, raw: bytes | None = None) -> None:
        payload = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, [{"message": message, "errorCode": code, "fields": []}])

    def _admit(self, method: str) -> bool:
        fake = self.fake
        with fake._lock:
            fake.requests.append((method, self.path))
            limited = fake.rate_limited > 0
            if limited:
                fake.rate_limited -= 1
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if token not in fake.sessions:
            self._error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            return False
        if limited:
            self._error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802
        if not self._admit("GET"):
            return
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        if path == f"{API}/query/" or path == f"{API}/query":
            try:
                records = self.fake.select(query.get("q", [""])[0])
            except Malformed as error:
                self._error(400, "MALFORMED_QUERY", str(error))
                return
            self._send(200, {"totalSize": len(records), "done": True, "records": records})
            return
        match = re.fullmatch(rf"{API}/sobjects/ContentVersion/(\w+)/VersionData", path)
        if match:
            data = self.fake.version_data.get(match.group(1))
            if data is None:
                self._error(404, "NOT_FOUND", "The requested resource does not exist")
            else:
                self._send(200, None, raw=data)
            return
        match = re.fullmatch(rf"{API}/sobjects/(\w+)/(\w+)", path)
        if match:
            type_, id_ = match.groups()
            record = next(
                (r for rid, r in self.fake.records.get(type_, {}).items() if canonical_id(rid) == canonical_id(id_)), None
            )
            if record is None:
                self._error(404, "NOT_FOUND", "The requested resource does not exist")
                return
            fields = query.get("fields", [",".join(record)])[0].split(",")
            self._send(200, _project(type_, record, ["Id", *fields]))
            return
        self._error(404, "NOT_FOUND", "The requested resource does not exist")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._admit("POST"):
            return
        if urlsplit(self.path).path.rstrip("/") != f"{API}/sobjects/ContentVersion":
            self._error(404, "NOT_FOUND", "The requested resource does not exist")
            return
        fields = json.loads(body)
        with self.fake._lock:
            new_id = f"068{len(self.fake.created) + 1:015d}"
            self.fake.created.append({**fields, "Id": new_id})
            self.fake.version_data[new_id] = base64.b64decode(fields["VersionData"])
            self.fake.records.setdefault("ContentVersion", {})[new_id] = {
                "Id": new_id,
                "Title": fields.get("Title"),
                "Description": fields.get("Description"),
                "FirstPublishLocationId": fields.get("FirstPublishLocationId"),
            }
        self._send(201, {"id": new_id, "success": True, "errors": []})
