"""JSON as tasklane stores it in DynamoDB: compact, UTF-8. The domain measures a value's size with
`stored_size`, the stores write it with `dumps`, so a limit checked is the size written."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> str:
    # Not ASCII-escaped: DynamoDB counts an item in UTF-8 bytes, and escaping would triple them.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stored_size(value: Any) -> int:
    """Bytes of `value` as stored."""
    return len(dumps(value).encode())
