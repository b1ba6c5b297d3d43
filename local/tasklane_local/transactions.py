"""DynamoDB TransactWriteItems that cost what the items cost, for moto behind one DynamoDB lock.

moto backs up every table a transaction names with a deep copy of the whole table, once per
item, before it writes anything: the worker's two-item transaction per chunk of ten tasks cost two
copies of the entire table, so each chunk got slower as the local stack's data grew, and moto keeps
every copied item alive in its instance tracker (see aws.BoundedInstanceTracking).

The caller holds the lock every DynamoDB request takes (aws.SerializedDynamoDB), so nothing can see
a transaction half done. Each write is then made as the single-item write it names (the same
conditions, evaluated by moto), after reading the item as it was. When every write lands, that is
the transaction's answer. When any write is refused, the writes already made are undone from those
reads and moto is handed the original transaction against the untouched table: its answer, with
its cancellation reasons or validation error, is the one the client gets, and only a cancelled
transaction pays for moto's table copy. Requests this module does not recognise go to moto as sent.
"""

from __future__ import annotations

import base64
import io
import json
import os
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

TRANSACT_WRITE_ITEMS = "TransactWriteItems"
# AWS: a transaction holds at most 100 actions, each exactly one of these.
MAX_TRANSACTION_ITEMS = 100
# The single-item write moto evaluates each action's condition with. A ConditionCheck becomes a
# conditional DeleteItem whose item is put straight back: moto has no condition-only call.
_SINGLE_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "DeleteItem"}

Item = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def send(self, start_response: StartResponse) -> list[bytes]:
        start_response(f"{self.status} {HTTPStatus(self.status).phrase}", self.headers)
        return [self.body]


@dataclass(frozen=True)
class _Write:
    action: str  # Put, Update, Delete or ConditionCheck
    table: str
    key: Item
    request: dict[str, Any]


def read_body(environ: WSGIEnvironment) -> bytes:
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 0:
        return bytes(stream.read(length))
    # A chunked request: werkzeug's server ends the stream at the body's end.
    return bytes(stream.read()) if environ.get("wsgi.input_terminated") else b""


def with_body(environ: WSGIEnvironment, body: bytes) -> dict[str, Any]:
    """A copy of `environ` carrying `body`, framed by its length."""
    copy = dict(environ)
    copy.pop("HTTP_TRANSFER_ENCODING", None)
    copy.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "wsgi.input_terminated": False})
    return copy


def _empty_key_value(value: Any) -> bool:
    # AWS: key attributes cannot be empty strings or binaries. moto's UpdateItem lets one through
    # where its transaction refuses it, so such a transaction goes to moto whole.
    return isinstance(value, dict) and any(value.get(kind) == "" for kind in ("S", "B"))


class _Moto:
    """The DynamoDB JSON API of the wrapped WSGI app, called in-process with the client's environ."""

    def __init__(self, app: WSGIApplication, environ: WSGIEnvironment) -> None:
        self._app = app
        self._environ = environ
        # The target's prefix carries the API version, e.g. DynamoDB_20120810.
        self._prefix = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[0]

    def call(self, operation: str, payload: Mapping[str, Any] | bytes) -> Answer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        environ = with_body(self._environ, body)
        environ["HTTP_X_AMZ_TARGET"] = f"{self._prefix}.{operation}"
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
            answer["status"] = int(status.split(" ", 1)[0])
            answer["headers"] = list(headers)
            return lambda data: None

        chunks = self._app(environ, start_response)  # type: ignore[arg-type]
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return Answer(answer["status"], answer["headers"], data)

    def key_attributes(self, table: str) -> list[str] | None:
        answer = self.call("DescribeTable", {"TableName": table})
        if answer.status != 200:
            return None
        return [part["AttributeName"] for part in json.loads(answer.body)["Table"]["KeySchema"]]

    def item(self, table: str, key: Item) -> tuple[bool, Item | None]:
        answer = self.call("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        if answer.status != 200:
            return False, None
        return True, json.loads(answer.body).get("Item")

    def put_back(self, write: _Write, before: Item | None) -> None:
        if before is None:
            answer = self.call("DeleteItem", {"TableName": write.table, "Key": write.key})
        else:
            answer = self.call("PutItem", {"TableName": write.table, "Item": before})
        if answer.status != 200:
            # The table now holds part of a transaction: say so loudly rather than serve it.
            raise RuntimeError(f"could not undo a transaction's write to {write.table}: {answer.body!r}")


def _plan(request: Any, moto: _Moto) -> list[_Write] | None:
    """The transaction's writes, or None when moto should judge the request itself."""
    if not isinstance(request, dict):
        return None
    entries = request.get("TransactItems")
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_TRANSACTION_ITEMS:
        return None
    writes: list[_Write] = []
    targets: set[tuple[str, str]] = set()
    key_attributes: dict[str, list[str] | None] = {}
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            return None
        [(action, op)] = entry.items()
        if action not in _SINGLE_WRITE or not isinstance(op, dict) or not isinstance(op.get("TableName"), str):
            return None
        table = op["TableName"]
        key: Item
        if action == "Put":
            item = op.get("Item")
            if table not in key_attributes:
                key_attributes[table] = moto.key_attributes(table)
            names = key_attributes[table]
            if not isinstance(item, dict) or names is None or any(name not in item for name in names):
                return None
            key = {name: item[name] for name in names}
        else:
            named = op.get("Key")
            if not isinstance(named, dict) or not named:
                return None
            key = named
        if any(_empty_key_value(value) for value in key.values()):
            return None
        # AWS: one transaction may not name an item twice; moto says so in its own words.
        target = (table, json.dumps(key, sort_keys=True))
        if target in targets:
            return None
        targets.add(target)
        writes.append(_Write(action, table, key, op))
    return writes


def _success() -> Answer:
    # AWS: what DynamoDB (and moto) answer a transaction that landed; botocore checks the CRC.
    body = json.dumps({"ConsumedCapacity": [], "ItemCollectionMetrics": {}}).encode()
    return Answer(
        200,
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-requestid", base64.b32encode(os.urandom(30)).decode("ascii").rstrip("=")),
            ("x-amz-crc32", str(zlib.crc32(body))),
            ("Content-Length", str(len(body))),
        ],
        body,
    )


def transact_write_items(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Answer a TransactWriteItems request; the caller must hold the lock all DynamoDB calls take."""
    body = read_body(environ)
    moto = _Moto(app, environ)
    try:
        request = json.loads(body)
    except ValueError:
        request = None
    writes = _plan(request, moto)
    if writes is not None and _apply(moto, writes):
        return _success().send(start_response)
    return list(app(with_body(environ, body), start_response))  # type: ignore[arg-type]


def _apply(moto: _Moto, writes: list[_Write]) -> bool:
    """Make every write, or none: True when all landed, False with the table as it was."""
    done: list[tuple[_Write, Item | None]] = []
    try:
        for write in writes:
            found, before = moto.item(write.table, write.key)
            landed = found and moto.call(_SINGLE_WRITE[write.action], write.request).status == 200
            if not landed:
                _undo(moto, done)
                return False
            if write.action == "ConditionCheck":
                # The check deleted the item it passed on (or nothing): it goes straight back.
                if before is not None:
                    moto.put_back(write, before)
                continue
            done.append((write, before))
    except BaseException:
        _undo(moto, done)
        raise
    return True


def _undo(moto: _Moto, done: list[tuple[_Write, Item | None]]) -> None:
    while done:
        write, before = done.pop()
        moto.put_back(write, before)
