"""Salesforce through simple-salesforce with the caller's session id and instance URL.

One `SalesforceSession` serves one run unit (or one accepted request). It implements the engine's
`DataSource`: `prefetch` reads the records a unit's tasks will ask for in one `WHERE Id IN (...)`
query per object and field list, and `record` answers from those before it calls Salesforce.

Every request goes through an adapter that refuses hosts outside the allowlist (redirects
included) and sets timeouts. Errors end the task with a clear message and no retry loop:
INVALID_SESSION_ID fails at once (and every later call of the session, without asking again);
REQUEST_LIMIT_EXCEEDED is retried with backoff while the task has time, then fails saying so.
The session id is never logged: it travels only in the Authorization header.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tasklane.dap.ports import DataSourceError, RecordNotFound
from tasklane.dap.soql import quote

API_VERSION = "59.0"
DEFAULT_HOSTS = ("*.my.salesforce.com", "*.salesforce.com", "*.force.com")
CONNECT_SECONDS = 5.0
READ_SECONDS = 30.0
IN_CHUNK = 200  # ids per `WHERE Id IN (...)`: keeps the query far below SOQL's 100,000 characters
MAX_VERSION_BYTES = 4 * 1024 * 1024
# REQUEST_LIMIT_EXCEEDED: back off and retry for at most this long (and never past the deadline).
RETRY_SECONDS = 10.0
T = TypeVar("T")


class HostNotAllowed(ValueError):
    pass


def allowed_hosts(setting: str | None) -> tuple[str, ...]:
    """The SalesforceHosts setting: comma-separated host patterns (`*.force.com`, `127.0.0.1`)."""
    if not setting:
        return DEFAULT_HOSTS
    return tuple(p.strip().lower() for p in setting.split(",") if p.strip())


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(host.lower(), pattern) for pattern in patterns)


def instance_url(server_url: str, patterns: Iterable[str]) -> str:
    """`https://host[:port]` of a serverURL, or HostNotAllowed saying why not. Never plain http."""
    try:
        parts = urlsplit(server_url.strip())
        port = parts.port
    except ValueError:
        raise HostNotAllowed("serverURL is not a URL") from None
    if parts.scheme != "https":
        raise HostNotAllowed("serverURL must be an https URL")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise HostNotAllowed("serverURL must name a host, without user or password")
    if not host_allowed(parts.hostname, patterns):
        raise HostNotAllowed(f"{parts.hostname} is not a Salesforce host this service may reach")
    return f"https://{parts.hostname}" + (f":{port}" if port not in (None, 443) else "")


class _GuardedAdapter(HTTPAdapter):
    """Only allowlisted https hosts, with timeouts; each redirect hop passes here too."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__(max_retries=0)
        self._patterns = patterns

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        if parts.scheme != "https" or not host_allowed(parts.hostname or "", self._patterns):
            raise HostNotAllowed(f"refused a request to {parts.hostname!r}: not an allowed Salesforce host")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (CONNECT_SECONDS, READ_SECONDS)
        return super().send(request, **kwargs)


def _first_error(error: SalesforceError) -> dict[str, Any]:
    """The first entry of Salesforce's error body (`[{"message", "errorCode", "fields"}]`), or {}."""
    content: Any = error.content
    if isinstance(content, bytes | str):
        try:
            content = json.loads(content)
        except ValueError:
            return {}
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0]
    return {}


def error_code(error: SalesforceError) -> str:
    return str(_first_error(error).get("errorCode", ""))


def _message(error: SalesforceError) -> str:
    return str(_first_error(error).get("message", ""))[:300]


_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def canonical_id(id_: str) -> str:
    """A record id in the case-sensitive 15-character form. An 18-character id may come in any case
    (that is what its last three characters are for): they say which of the first fifteen are upper."""
    if len(id_) != 18:
        return id_
    chars = list(id_[:15])
    for group, flag in enumerate(id_[15:].upper()):
        bits = _SUFFIX.find(flag)
        if bits < 0:
            return id_[:15]
        for position in range(5):
            index = group * 5 + position
            chars[index] = chars[index].upper() if bits & (1 << position) else chars[index].lower()
    return "".join(chars)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A record as templates see it: no `attributes`, nested relationship records plain too."""
    return {k: _plain(v) if isinstance(v, dict) else v for k, v in record.items() if k != "attributes"}


class SalesforceSession:
    """Implements `tasklane.dap.ports.DataSource`; `calls` counts API requests made."""

    def __init__(
        self,
        server_url: str,
        session_id: str,
        hosts: tuple[str, ...],
        deadline: float | None = None,
        wait: Callable[[float], object] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        http = requests.Session()  # honours REQUESTS_CA_BUNDLE, as requests does
        adapter = _GuardedAdapter(hosts)
        http.mount("https://", adapter)
        http.mount("http://", adapter)
        self._sf = Salesforce(
            instance_url=instance_url(server_url, hosts), session_id=session_id, version=API_VERSION, session=http
        )
        self._deadline = deadline
        self._retry_seconds = retry_seconds
        self._wait = wait or threading.Event().wait
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self._fetched: dict[tuple[str, str], frozenset[str]] = {}
        self._broken: DataSourceError | None = None
        self.calls = 0
        self.retries = 0

    def _sobject(self, name: str) -> Any:
        return getattr(self._sf, name)

    # -- reads ------------------------------------------------------------------------------------

    def prefetch(self, reads: Iterable[tuple[str, tuple[str, ...], str]]) -> None:
        """Read these (type, fields, id) with one query per type and field list; a failure here is
        left for the task that needs the record to report."""
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for type_, fields, id_ in reads:
            if (type_, canonical_id(id_)) not in self._fetched:
                groups.setdefault((type_, fields), [])
                if id_ not in groups[(type_, fields)]:
                    groups[(type_, fields)].append(id_)
        for (type_, fields), ids in groups.items():
            columns = ", ".join(dict.fromkeys(["Id", *fields]))
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                try:
                    found = self.query(f"SELECT {columns} FROM {type_} WHERE Id IN {quote(chunk)}")
                except DataSourceError:
                    return
                for record in found:
                    self._keep(type_, str(record.get("Id", "")), record, fields)
                for id_ in chunk:  # asked for and not returned: it does not exist (or is not visible)
                    self._fetched.setdefault((type_, canonical_id(id_)), frozenset(fields))

    def _keep(self, type_: str, id_: str, record: dict[str, Any], fields: Iterable[str]) -> None:
        self._records[(type_, canonical_id(id_))] = record
        self._fetched[(type_, canonical_id(id_))] = frozenset(fields)

    def record(self, type_: str, id_: str, fields: list[str]) -> dict[str, Any]:
        key = (type_, canonical_id(id_))
        if key in self._fetched and set(fields) <= self._fetched[key]:
            if key not in self._records:
                raise RecordNotFound(f"{type_} {id_} was not found")
            record = self._records[key]
            # A relationship field (Owner.Name) comes back nested, under its first name (Owner).
            wanted = dict.fromkeys(name.split(".", 1)[0] for name in ["Id", *fields])
            return {name: record[name] for name in wanted if name in record}
        found = self._call(lambda: self._sobject(type_).get(id_, params={"fields": ",".join(fields)}))
        record = _plain(found)
        self._keep(type_, id_, record, fields)
        return record

    def query(self, soql: str) -> list[dict[str, Any]]:
        answer = self._call(lambda: self._sf.query_all(soql))
        return [_plain(r) for r in answer.get("records", [])]

    # -- templates --------------------------------------------------------------------------------

    def latest_version(self, content_document_id: str) -> tuple[str, int]:
        """(ContentVersion id, size in bytes) of a ContentDocument's latest published version."""
        soql = (
            "SELECT LatestPublishedVersionId, LatestPublishedVersion.ContentSize FROM ContentDocument"
            f" WHERE Id = {quote(content_document_id)}"
        )
        found = self.query(soql)
        if not found or not found[0].get("LatestPublishedVersionId"):
            raise RecordNotFound(f"ContentDocument {content_document_id} was not found")
        version = found[0].get("LatestPublishedVersion") or {}
        return str(found[0]["LatestPublishedVersionId"]), int(version.get("ContentSize") or 0)

    def version_data(self, version_id: str) -> bytes:
        data: bytes = self._call(lambda: self._sobject("ContentVersion").get_base64(version_id, base64_field="VersionData"))
        if len(data) > MAX_VERSION_BYTES:
            raise DataSourceError(f"ContentVersion {version_id} is larger than {MAX_VERSION_BYTES} bytes")
        return data

    # -- writes -----------------------------------------------------------------------------------

    def attach(self, record_id: str, filename: str, content: bytes, marker: str, check_first: bool) -> str:
        """A ContentVersion of `content` published to the record; `marker` (in its Description) makes
        a rerun find the one an earlier run created instead of adding a second (`check_first`)."""
        if check_first:
            soql = (
                "SELECT Id, Description FROM ContentVersion"
                f" WHERE FirstPublishLocationId = {quote(record_id)} AND Title = {quote(filename)}"
            )
            for existing in self.query(soql):
                if existing.get("Description") == marker:
                    return str(existing["Id"])
        created = self._call(
            lambda: self._sobject("ContentVersion").create(
                {
                    "Title": filename,
                    "PathOnClient": filename,
                    "Description": marker,
                    "FirstPublishLocationId": record_id,
                    "VersionData": base64.b64encode(content).decode("ascii"),
                }
            )
        )
        return str(created.get("id", ""))

    # -- errors and retries -------------------------------------------------------------------------

    def _call(self, request: Callable[[], T]) -> T:
        if self._broken is not None:
            raise self._broken
        pause, started = 0.5, time.monotonic()
        while True:
            self.calls += 1
            try:
                return request()
            except SalesforceExpiredSession:
                self._broken = DataSourceError(
                    "Salesforce refused the session (INVALID_SESSION_ID): it expired or was revoked; not retried"
                )
                raise self._broken from None
            except SalesforceRefusedRequest as error:
                if error_code(error) != "REQUEST_LIMIT_EXCEEDED":
                    raise DataSourceError(f"Salesforce refused the request ({error_code(error) or 403})") from None
                give_up = started + self._retry_seconds
                if self._deadline is not None:
                    give_up = min(give_up, self._deadline)
                if time.monotonic() + pause > give_up:
                    raise DataSourceError(
                        "Salesforce's API request limit is exceeded (REQUEST_LIMIT_EXCEEDED): retried"
                        f" {self.retries} times over {time.monotonic() - started:.1f} s, then gave up"
                    ) from None
                self.retries += 1
                self._wait(pause)
                pause = min(pause * 2, 8.0)
            except SalesforceResourceNotFound as error:
                raise RecordNotFound(_message(error) or "not found") from None
            except SalesforceError as error:
                code = error_code(error) or str(error.status)
                detail = _message(error)
                raise DataSourceError(f"Salesforce answered {code}{': ' + detail if detail else ''}") from None
            except HostNotAllowed as error:
                raise DataSourceError(str(error)) from None
            except requests.RequestException as error:
                raise DataSourceError(f"Salesforce could not be reached ({type(error).__name__})") from None
