"""What one run may build: the sizes the sandbox checks before a template allocates.

Templates are untrusted code. The sandbox (sandbox.py) estimates, before each operation that can
create a big value, an upper bound of what it will build and asks the run's Budget; the Budget
refuses a single value over the per-value caps, and a run whose values add up to more than
MAX_RUN_BYTES. The budget is held in a ContextVar because one environment serves every thread.
"""

from __future__ import annotations

import math
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from types import MethodType
from typing import Any, NamedTuple, NoReturn

from jinja2.environment import TemplateModule
from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined
from jinja2.utils import Namespace

MiB = 1024 * 1024
# Documents total at most 10 MiB (bytes >= characters), so no longer string could ever be stored.
MAX_STRING_CHARS = 10 * MiB
MAX_LIST_ITEMS = 1024 * 1024
MAX_RUN_BYTES = 64 * MiB
# ~30,000 decimal digits: past this, int arithmetic and conversions take seconds in C code that
# no time limit can interrupt (int(Decimal('1e999999')) takes 40 s).
MAX_INTEGER_BITS = 100_000

SLOT_BYTES = 8
# A new small object per item (a split piece, a tuple): CPython's object header plus its slot.
OBJECT_BYTES = 64
# Non-ASCII text is counted as UCS-4: finding the real width would mean reading the string.
_WIDE_CHAR_BYTES = 4
# str() of an object the walk does not know, e.g. '<jinja2.utils.Cycler object at 0x7f...>'.
_OTHER_CHARS = 200
BITS_PER_DIGIT = math.log2(10)


class BudgetExceeded(SecurityError):
    """A template tried to build more than its run may."""


class Budget:
    """One run's allowance. Not thread-safe: a run renders on one thread."""

    def __init__(self) -> None:
        self.used = 0
        # Sticky, so library code that swallows the exception cannot hide it from the engine.
        self.exceeded: str | None = None

    def check_string(self, chars: int) -> None:
        if chars > MAX_STRING_CHARS:
            self._fail(f"the template tried to build a string of more than {MAX_STRING_CHARS} characters")

    def string(self, chars: int, wide: bool = False) -> None:
        """A new string of `chars` characters (`wide`: it may hold non-ASCII characters)."""
        self.check_string(chars)
        self.used += chars * _WIDE_CHAR_BYTES if wide else chars
        if self.used > MAX_RUN_BYTES:
            self._charge(0)

    def chunk(self, buffered: int, chars: int, wide: bool) -> None:
        """A piece of output held in a buffer (now `buffered` characters) until it is joined: its
        text and its slot. Runs for every output of a macro or loop body, hence the single test."""
        self.used += (chars * _WIDE_CHAR_BYTES if wide else chars) + SLOT_BYTES
        if buffered > MAX_STRING_CHARS or self.used > MAX_RUN_BYTES:
            self.check_string(buffered)
            self._charge(0)

    def check_items(self, count: int) -> None:
        """Working lists an operation builds and drops (split pieces, word lists) are capped, not charged."""
        if count > MAX_LIST_ITEMS:
            self._fail(f"the template tried to build a list of more than {MAX_LIST_ITEMS} items")

    def items(self, count: int, each: int = SLOT_BYTES) -> None:
        self.check_items(count)
        self._charge(count * each)

    def integer_bits(self, bits: int) -> None:
        if bits > MAX_INTEGER_BITS:
            self._fail(f"the template tried to build an integer of more than {MAX_INTEGER_BITS} bits")

    def value(self, value: Any) -> None:
        """Charge a value some builtin just built (shallow: its items were charged when they were built)."""
        if isinstance(value, str):
            self.string(len(value), not value.isascii())
        elif isinstance(value, (bytes, bytearray)):
            self.string(len(value))
        elif isinstance(value, (list, tuple, dict, set, frozenset)):
            self.items(len(value))

    def fail(self, message: str) -> NoReturn:
        self._fail(message)

    def _charge(self, nbytes: int) -> None:
        self.used += nbytes
        if self.used > MAX_RUN_BYTES:
            self._fail(f"the template built more than {MAX_RUN_BYTES} bytes of strings and lists in all")

    def _fail(self, message: str) -> NoReturn:
        if self.exceeded is None:
            self.exceeded = message
        raise BudgetExceeded(message)


_current: ContextVar[Budget | None] = ContextVar("tasklane_dap_budget", default=None)


def current() -> Budget:
    """The running task's budget; outside Engine.run a fresh one, so the per-value caps still hold."""
    return _current.get() or Budget()


@contextmanager
def budget_scope(budget: Budget) -> Iterator[Budget]:
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


class Text(NamedTuple):
    """An upper bound of some text's length, and whether it may hold non-ASCII characters."""

    chars: int
    wide: bool = False
    depth: int = 0


def decimal_bits(value: Decimal) -> int:
    """Bits of the integers int(value) or value.as_integer_ratio() would build."""
    if not value.is_finite():
        return 0
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return int((len(digits) + abs(exponent)) * BITS_PER_DIGIT) + 1


def number_chars(value: Any) -> int:
    """Longest text a numeric conversion ('%d', '{:b}', '{:.2f}' before padding) can make of `value`."""
    if isinstance(value, int):
        return value.bit_length() + 2  # binary is the longest base
    if isinstance(value, float):
        return 330  # '%f' % 1e308: 309 digits, point, six decimals, sign
    if isinstance(value, Decimal):
        digits, exponent = value.as_tuple()[1:]
        return len(digits) + (abs(exponent) if isinstance(exponent, int) else 0) + 8
    return text_size(value).chars


def quoted_size(value: str) -> int:
    """Upper bound of len(repr(value))."""
    if value.isprintable():
        return len(value) + 2 + value.count("\\") + value.count("'") + (0 if type(value) is str else 10)
    return len(value) * (4 if value.isascii() else 10) + 2 + (0 if type(value) is str else 10)


def escaped_size(value: Any, force: bool = False) -> Text:
    """Upper bound of len(escape(value)); markup (unless `force`) is not escaped again."""
    if not force and hasattr(value, "__html__"):
        return text_size(value)
    if isinstance(value, str):
        specials = sum(map(value.count, "&<>\"'"))
        return Text(len(value) + 4 * specials, not value.isascii())
    text = text_size(value)
    return Text(text.chars * 5, text.wide)


def text_size(value: Any, *, quoted: bool = False, limit: int = MAX_STRING_CHARS) -> Text:
    """Upper bound of len(str(value)) (of repr when `quoted`), found without building the text.

    A list holding one big string a million times, or lists nested by reference, are small objects
    whose text is huge: the walk counts what str() would write and stops once past `limit`.
    """
    if type(value) is str and not quoted:
        return Text(len(value), not value.isascii())
    if type(value) is int:  # the next most common case, kept off the walk
        return Text(value.bit_length() // 3 + 2)
    chars, wide, deepest = 0, False, 0
    stack: list[tuple[Any, bool, int]] = [(value, quoted, 0)]
    while stack and chars <= limit:
        item, in_repr, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, str):
            wide = wide or not item.isascii()
            chars += quoted_size(item) if in_repr else len(item)
        elif isinstance(item, (bytes, bytearray)):
            chars += 4 * len(item) + 14
        elif isinstance(item, (bool, type(None))):
            chars += 5
        elif isinstance(item, int):
            chars += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            chars += 24
        elif isinstance(item, Decimal):
            chars += len(str(item)) + 11
        elif isinstance(item, (Mapping, ItemsView)):
            pairs = item.items() if isinstance(item, Mapping) else item
            chars += 2 + 4 * len(pairs) + (0 if type(item) is dict else _OTHER_CHARS)
            for key, entry in pairs:
                stack.append((key, True, depth + 1))
                stack.append((entry, True, depth + 1))
        elif isinstance(item, (list, tuple, set, frozenset, KeysView, ValuesView)):
            chars += 3 + 2 * len(item) + (0 if type(item) in (list, tuple) else _OTHER_CHARS)
            stack.extend((entry, True, depth + 1) for entry in item)
        elif isinstance(item, Namespace):
            chars += 13
            stack.append((object.__getattribute__(item, "_Namespace__attrs"), True, depth + 1))
        elif isinstance(item, TemplateModule):
            chars += sum(map(len, item._body_stream))
        elif isinstance(item, MethodType):
            # '<bound method Markup.join of Markup(...)>' holds the repr of its object.
            chars += _OTHER_CHARS
            stack.append((item.__self__, True, depth + 1))
        elif not isinstance(item, Undefined):
            chars += _OTHER_CHARS
    return Text(chars, wide, deepest)


def json_size(value: Any, indent: int | str | None, *, limit: int = MAX_STRING_CHARS) -> Text:
    """Upper bound of the length of Jinja's tojson output (ensure_ascii, '<>&\\'' escaped)."""
    step = len(indent) if isinstance(indent, str) else max(indent or 0, 0)
    chars = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and chars <= limit:
        item, depth = stack.pop()
        if isinstance(item, str):
            if item.isascii() and item.isprintable():
                risky = sum(map(item.count, "<>&'"))
                chars += len(item) + 2 + item.count('"') + item.count("\\") + 5 * risky
            else:
                chars += 12 * len(item) + 2
        elif isinstance(item, (Mapping, list, tuple)):
            newline = 0 if indent is None else 1 + (depth + 1) * step
            entries = list(item.items()) if isinstance(item, Mapping) else item
            chars += 2 + len(entries) * (2 + newline) + (0 if indent is None else 1 + depth * step)
            for entry in entries:
                if isinstance(item, Mapping):
                    key, entry = entry
                    stack.append((key if isinstance(key, str) else 0.0, depth + 1))
                stack.append((entry, depth + 1))
        elif isinstance(item, int) and not isinstance(item, bool):
            chars += item.bit_length() // 3 + 2
        else:
            chars += 24  # floats, true/false/null; anything else is refused by json
    return Text(chars)
