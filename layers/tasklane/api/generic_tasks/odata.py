"""OData query options of the listing routes, read into the domain's ListQuery.

`$filter`: comparisons joined by `and`: `eq` on Status (a number or Unassigned/Pending/Completed),
Type, Priority, TaskCatalogName, ExternalTag (a quoted string, or null) and IsCompleted (true/false);
`eq`, `gt`, `ge`, `lt`, `le` on Id (the index's key: the cheap way to page deep). `$orderby`:
CreationTime or Id, asc or desc (the same order: ids increase with creation). `$top` (default and
maximum 1000), `$skip` (at most 10,000), `$count=true`. Anything else is refused, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tasklane.domain.errors import BadRequest, problem
from tasklane.domain.generic_task_records import (
    TYPE_BY_NUMBER,
    Equals,
    Field,
    ListQuery,
    Priority,
    TaskStatus,
    TaskType,
)
from tasklane.domain.generic_tasks import MAX_SKIP, MAX_TOP

MAX_ID = 10**12 - 1

MAX_FILTER_CHARS = 2000
MAX_CONDITIONS = 20
_FIELDS = {
    "Status": Field.STATUS,
    "Type": Field.TYPE,
    "Priority": Field.PRIORITY,
    "TaskCatalogName": Field.CATALOG,
    "ExternalTag": Field.EXTERNAL_TAG,
    "IsCompleted": Field.IS_COMPLETED,
}
_COMPARISON = re.compile(
    r"\s*(?P<field>[A-Za-z]+)\s+(?P<op>eq|ne|gt|ge|lt|le)\s+"
    r"(?P<value>'(?:[^']|'')*'|-?[0-9]{1,15}|true|false|null)(?![A-Za-z0-9_])"
)
_AND = re.compile(r"\s+and\s+")
_ORDER = re.compile(r"\s*(?P<field>CreationTime|Id)(?:\s+(?P<dir>asc|desc))?\s*")
_INTEGER = re.compile(r"[0-9]{1,7}")
SUPPORTED = "eq on Status, Type, Priority, TaskCatalogName, ExternalTag, IsCompleted; eq/gt/ge/lt/le on Id; joined by and"


def _refuse(option: str, message: str) -> BadRequest:
    return BadRequest(f"{option}: {message}", [problem(option, message, "odata_unsupported")])


def _literal(text: str) -> str | int | bool | None:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return int(text)


def _split_conditions(text: str) -> list[re.Match[str]]:
    """The comparisons of `text`, in order; anything that is not `<field> <op> <literal> and ...` refuses."""
    matches = []
    position = 0
    while True:
        found = _COMPARISON.match(text, position)
        if found is None:
            raise _refuse("$filter", f"cannot read the filter at {text[position:position + 40]!r}; supported: {SUPPORTED}")
        matches.append(found)
        position = found.end()
        if not text[position:].strip():
            return matches
        joined = _AND.match(text, position)
        if joined is None:
            raise _refuse("$filter", f"conditions must be joined by 'and'; supported: {SUPPORTED}")
        position = joined.end()


def _equality(name: str, value: str | int | bool | None) -> Equals:
    field = _FIELDS[name]
    if field is Field.STATUS:
        if isinstance(value, str):
            labels = {status.label: status for status in TaskStatus}
            if value not in labels:
                raise _refuse("$filter", f"Status is one of {', '.join(labels)} (or 0, 1, 2)")
            value = int(labels[value])
        elif isinstance(value, bool) or not isinstance(value, int) or value not in {int(s) for s in TaskStatus}:
            raise _refuse("$filter", "Status is 0, 1 or 2 (or Unassigned, Pending, Completed)")
    elif field is Field.TYPE:
        if isinstance(value, int) and not isinstance(value, bool) and value in TYPE_BY_NUMBER:
            value = TYPE_BY_NUMBER[value].value
        if not isinstance(value, str) or value not in {kind.value for kind in TaskType}:
            raise _refuse("$filter", f"Type is one of {', '.join(kind.value for kind in TaskType)}")
    elif field is Field.PRIORITY:
        if not isinstance(value, str) or value not in {p.value for p in Priority}:
            raise _refuse("$filter", f"Priority is one of {', '.join(p.value for p in Priority)}")
    elif field is Field.IS_COMPLETED:
        if not isinstance(value, bool):
            raise _refuse("$filter", "IsCompleted is true or false")
    elif value is not None and not isinstance(value, str):
        raise _refuse("$filter", f"{name} is compared with a quoted string or null")
    return Equals(field=field, value=value)


def _filter(text: str) -> tuple[tuple[Equals, ...], int | None, int | None]:
    if len(text) > MAX_FILTER_CHARS:
        raise _refuse("$filter", f"at most {MAX_FILTER_CHARS} characters")
    conditions: list[Equals] = []
    low: int | None = None
    high: int | None = None
    matches = _split_conditions(text)
    if len(matches) > MAX_CONDITIONS:
        raise _refuse("$filter", f"at most {MAX_CONDITIONS} conditions")
    for match in matches:
        name, op, value = match["field"], match["op"], _literal(match["value"])
        if name == "Id":
            if isinstance(value, bool) or not isinstance(value, int) or op == "ne" or not 0 <= value <= MAX_ID:
                raise _refuse("$filter", f"Id takes eq, gt, ge, lt or le and a number from 0 to {MAX_ID}")
            bounds = {"eq": (value, value), "gt": (value + 1, None), "ge": (value, None),
                      "lt": (None, value - 1), "le": (None, value)}[op]
            if bounds[0] is not None:
                low = bounds[0] if low is None else max(low, bounds[0])
            if bounds[1] is not None:
                high = bounds[1] if high is None else min(high, bounds[1])
            continue
        if name not in _FIELDS:
            raise _refuse("$filter", f"cannot filter on {name}; supported: {SUPPORTED}")
        if op != "eq":
            raise _refuse("$filter", f"{name} takes eq only; supported: {SUPPORTED}")
        conditions.append(_equality(name, value))
    return tuple(conditions), low, high


def _integer(parameters: Mapping[str, str], option: str, default: int) -> int:
    text = parameters.get(option)
    if text is None:
        return default
    if not _INTEGER.fullmatch(text.strip()):
        raise _refuse(option, "must be a non-negative integer")
    return int(text)


def _count(parameters: Mapping[str, str]) -> bool:
    text = parameters.get("$count", "false")
    if text not in ("true", "false"):
        raise _refuse("$count", "must be true or false")
    return text == "true"


KNOWN_OPTIONS = {"$filter", "$orderby", "$top", "$skip", "$count"}


def paging(parameters: Mapping[str, str], allowed: set[str]) -> None:
    """Refuse any $-option the route does not answer (a silently ignored $expand would mislead)."""
    for name in parameters:
        if name.startswith("$") and name not in allowed:
            raise _refuse(name, f"not supported here; supported: {', '.join(sorted(allowed))}")


def top_skip_count(parameters: Mapping[str, str]) -> tuple[int, int, bool]:
    """$top (default and maximum 1000), $skip (at most 10,000) and $count of the other listings."""
    paging(parameters, {"$top", "$skip", "$count"})
    top, skip = _integer(parameters, "$top", MAX_TOP), _integer(parameters, "$skip", 0)
    if top > MAX_TOP:
        raise _refuse("$top", f"at most {MAX_TOP}")
    if skip > MAX_SKIP:
        raise _refuse("$skip", f"at most {MAX_SKIP}")
    return top, skip, _count(parameters)


def list_query(parameters: Mapping[str, str]) -> ListQuery:
    paging(parameters, KNOWN_OPTIONS)
    conditions, low, high = _filter(parameters["$filter"]) if "$filter" in parameters else ((), None, None)
    descending = False
    if "$orderby" in parameters:
        order = _ORDER.fullmatch(parameters["$orderby"])
        if order is None:
            raise _refuse("$orderby", "supported: CreationTime asc|desc, Id asc|desc")
        descending = order["dir"] == "desc"
    return ListQuery(
        conditions=conditions,
        min_id=low,
        max_id=high,
        descending=descending,
        top=_integer(parameters, "$top", MAX_TOP),
        skip=_integer(parameters, "$skip", 0),
        count=_count(parameters),
    )
