"""The `soql` filter: a value as a SOQL literal, so that a param interpolated into a query is data,
never query text (`WHERE AccountId = {{ param.id | soql }}`).

Strings are quoted with `'` and escaped as SOQL defines (`\\'`, `\\"`, `\\\\`, `\\n`, `\\r`, `\\t`,
`\\b`, `\\f`); other control characters are refused. Numbers are written as numbers, booleans as
`true`/`false`, None as `null`, and a list as `(a, b, ...)` for `IN`. Anything else is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
MAX_LIST_ITEMS = 1000


def _string(value: str) -> str:
    out = []
    for char in value:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 32 or ord(char) == 127:
            raise ValueError(f"soql: control character U+{ord(char):04X} cannot be quoted")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def quote(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
            raise ValueError("soql: a number must be finite")
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        if not value or len(value) > MAX_LIST_ITEMS:
            raise ValueError(f"soql: a list for IN must hold 1 to {MAX_LIST_ITEMS} values")
        return "(" + ", ".join(quote(item) for item in value) + ")"
    raise ValueError(f"soql: cannot quote a {type(value).__name__}")
