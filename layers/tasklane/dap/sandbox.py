"""The Jinja sandbox DAP templates run in: the stock one, plus bounds on what a template may build.

Jinja's sandbox keeps templates away from Python internals but lets them allocate at will:
`'a'.center(10**9)`, `'%1000000000s' % x` or a string doubled thirty times each take gigabytes.
Every way a template can build a big value goes through a check here that bounds the result's size
*before* it is built and asks the run's Budget (budget.py): operators (`~ + * ** %`), str/bytes/int
methods, str.format, slicing, the filters that amplify, output buffers, and converting values to
text for output. The estimates are upper bounds, so a refused operation never allocated.

Each guarded filter is a `pass_context` function, which also keeps Jinja from constant-folding it
at compile time, outside any budget.
"""

from __future__ import annotations

import codecs
import itertools
import operator
import pprint
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import update_wrapper
from io import StringIO
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.environment import Template, TemplateModule
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import _PassArg, generate_lorem_ipsum, pass_context, pass_eval_context
from markupsafe import EscapeFormatter, Markup

from . import soql
from .budget import (
    BITS_PER_DIGIT,
    MAX_INTEGER_BITS,
    OBJECT_BYTES,
    Budget,
    Text,
    current,
    decimal_bits,
    escaped_size,
    json_size,
    number_chars,
    text_size,
)

# Measured with tracemalloc: a compiled template holds ~1.5 bytes per character of the Python
# Jinja generates for it, plus ~70 KB whatever its size.
_COMPILED_BYTES_PER_CHAR = 2
_COMPILED_TEMPLATE_BYTES = 64 * 1024
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_INT_CONVERSIONS = frozenset("diouxXc")
_FLOAT_CONVERSIONS = frozenset("eEfFgG")
_DIGITS = re.compile(r"\d+")
# A width or precision written with more digits is beyond every cap.
_MAX_NUMBER_DIGITS = 9


# --- % formatting and str.format ---------------------------------------------------------------


def percent_size(budget: Budget, fmt: str | bytes | bytearray, args: Any) -> Text:
    """Upper bound of len(fmt % args), reading fmt the way CPython's parser does
    (unicode_format_arg_parse) so that every width, precision and `*` is seen."""
    binary = isinstance(fmt, (bytes, bytearray))
    text = fmt.decode("latin-1") if isinstance(fmt, (bytes, bytearray)) else fmt
    escapes = isinstance(fmt, Markup)  # Markup % escapes every argument
    positional = args if isinstance(args, tuple) else (args,)
    mapping = args if hasattr(type(args), "__getitem__") and not isinstance(args, (tuple, str, bytes)) else None
    chars, wide, next_arg = len(text), not text.isascii(), 0
    at = text.find("%")
    while at != -1:
        at += 1
        arg: Any = _MISSING
        if text.startswith("(", at):  # a key, which may itself hold balanced parentheses
            depth, key_end = 1, at + 1
            while key_end < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[key_end], 0)
                key_end += 1
            if depth or mapping is None:
                break  # Python raises: incomplete key, or no mapping to look it up in
            try:
                arg = mapping[text[at + 1 : key_end - 1].encode("latin-1") if binary else text[at + 1 : key_end - 1]]
            except Exception:
                break
            at = key_end
        spec = _PERCENT_SPEC.match(text, at)
        assert spec is not None  # every part of the pattern is optional
        width, precision, conversion = spec.groups()
        at = spec.end()
        for number in (width, precision):
            if number == "*":
                if next_arg >= len(positional) or not isinstance(positional[next_arg], int):
                    return Text(chars, wide)  # Python raises
                chars, next_arg = chars + abs(positional[next_arg]), next_arg + 1
            elif number:
                if len(number) > _MAX_NUMBER_DIGITS:
                    budget.string(10**_MAX_NUMBER_DIGITS)  # beyond every cap
                chars += int(number)
        if not conversion:
            break  # Python raises: incomplete format
        if conversion != "%":
            if arg is _MISSING:
                if next_arg >= len(positional):
                    break
                arg, next_arg = positional[next_arg], next_arg + 1
            if conversion in _INT_CONVERSIONS and isinstance(arg, Decimal):
                budget.integer_bits(decimal_bits(arg))
            if conversion in _INT_CONVERSIONS or conversion in _FLOAT_CONVERSIONS:
                part = Text(number_chars(arg))
            elif conversion in "sra":
                part = escaped_size(arg) if escapes and conversion == "s" else text_size(arg, quoted=conversion != "s")
                part = Text(part.chars * (10 if conversion == "a" and part.wide else 1), part.wide)
            else:
                break  # Python raises: unsupported format character
            wide = wide or part.wide
            chars += part.chars * (5 if escapes and conversion != "s" else 1)
        chars += 8
        at = text.find("%", at)
    return Text(chars, wide)


# After '%' and its optional key: flags, width, precision, length modifier, conversion.
_PERCENT_SPEC = re.compile(r"[-+ #0]*(\*|[0-9]*)(?:\.(\*|[0-9]*))?[hlL]?(.?)", re.DOTALL)
_MISSING = object()


def format_spec_size(budget: Budget, value: Any, spec: str) -> Text:
    """Upper bound of len(format(value, spec)): the value's text plus every number in the spec
    (widths, precisions; a digit fill character only makes the bound looser)."""
    numeric = isinstance(value, (int, float, Decimal))
    base = Text(number_chars(value)) if numeric else text_size(value)
    if not spec:
        return base
    extra = 0
    for run in _DIGITS.findall(spec):  # format() reads any Unicode decimal digit
        if len(run) > _MAX_NUMBER_DIGITS:
            budget.string(10**_MAX_NUMBER_DIGITS)  # beyond every cap
        extra += int(run)
    chars = base.chars + extra + 16
    if "," in spec or "_" in spec:
        chars *= 2  # digit grouping
    return Text(chars, base.wide or not spec.isascii())


class _GuardedFormatter(SandboxedFormatter):
    """str.format for templates: every field is bounded before it is converted or padded."""

    escapes = False

    def vformat(self, format_string: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        self._budget = current()
        self._built = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        # Checked only: format_field charges the converted text (format() of a str returns it).
        if conversion in ("r", "a"):
            size = text_size(value, quoted=True)
            self._budget.check_string(size.chars * (10 if conversion == "a" and size.wide else 1))
        elif conversion == "s":
            self._budget.check_string(text_size(value).chars)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        size = format_spec_size(self._budget, value, format_spec)
        self._charge(Text(size.chars * 5, size.wide) if self.escapes else size)
        return super().format_field(value, format_spec)

    def _charge(self, size: Text) -> None:
        self._built += size.chars
        self._budget.check_string(self._built)
        self._budget.string(size.chars, size.wide)


class _GuardedEscapeFormatter(_GuardedFormatter, EscapeFormatter):
    escapes = True


# --- output buffers, `~`, compiled code ----------------------------------------------------------


class _Buffer(list[str]):
    """The output of a macro, a {% set %} block or an import, joined later: charged as it grows,
    so a loop writing into one cannot fill memory with references before anything is joined."""

    __slots__ = ("_budget", "_chars")

    def __init__(self) -> None:
        super().__init__()
        self._budget = current()
        self._chars = 0

    def append(self, chunk: str) -> None:
        size = len(chunk)
        self._chars += size
        self._budget.chunk(self._chars, size, not chunk.isascii())
        list.append(self, chunk)

    def extend(self, chunks: Iterable[str]) -> None:
        for chunk in chunks:
            self.append(chunk)


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles `~` and slicing to guarded environment methods and makes every output buffer a _Buffer."""

    @optimizeconst
    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        # Jinja writes slices as plain Python, bypassing environment.getitem; a slice is a copy.
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getslice(")
        self.visit(node.node, frame)
        for part in (node.arg.start, node.arg.stop, node.arg.step):
            self.write(", ")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write(")")

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.new_buffer()")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Mirrors CodeGenerator.visit_Concat's choice between markup_join and str_join.
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.volatile"
        else:
            markup = repr(bool(frame.eval_ctx.autoescape))
        self.write(f"environment.join_text({markup}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _DapTemplate(Template):
    """Imported templates render into a _Buffer, and the module Jinja keeps is counted as retained."""

    def make_module(
        self, vars: dict[str, Any] | None = None, shared: bool = False, locals: Mapping[str, Any] | None = None
    ) -> TemplateModule:
        context = self.new_context(vars, shared, locals)
        body = _Buffer()
        body.extend(self.root_render_func(context))
        return TemplateModule(self, context, body)

    def _get_default_module(self, ctx: Context | None = None) -> TemplateModule:
        cached = self._module
        module = super()._get_default_module(ctx)
        if self._module is not cached and isinstance(self.environment, DapEnvironment):
            self.environment.retained_bytes += sum(map(len, module._body_stream))
        return module


# --- methods of builtin values -------------------------------------------------------------------

_MethodCheck = Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], "tuple[Any, ...] | None"]
_METHOD_CHECKS: dict[str, _MethodCheck] = {}


def _method_check(*names: str) -> Callable[[_MethodCheck], _MethodCheck]:
    def register(check: _MethodCheck) -> _MethodCheck:
        for name in names:
            _METHOD_CHECKS[name] = check
        return check

    return register


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = _MISSING) -> Any:
    """A method argument by position or name; _MISSING (then Python raises its own error) if absent."""
    if index < len(args):
        return args[index]
    return kwargs.get(name, default)


def _index(value: Any) -> int | None:
    try:
        return operator.index(value)
    except TypeError:
        return None


def _wide(value: Any) -> bool:
    return isinstance(value, str) and not value.isascii()


@_method_check("center", "ljust", "rjust", "zfill")
def _check_pad(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = _index(_arg(args, kwargs, 0, "width"))
    if width is not None:
        budget.string(max(width, len(owner)), _wide(owner) or _wide(_arg(args, kwargs, 1, "fillchar")))


@_method_check("expandtabs")
def _check_expandtabs(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    tabsize = _index(_arg(args, kwargs, 0, "tabsize", 8))
    if tabsize is not None:
        tab = "\t" if isinstance(owner, str) else b"\t"
        budget.string(len(owner) + owner.count(tab) * max(tabsize, 0), _wide(owner))


@_method_check("replace")
def _check_replace(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    old, new = _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new")
    count = _index(_arg(args, kwargs, 2, "count", -1))
    if not isinstance(old, (str, bytes)) or count is None:
        return
    if isinstance(owner, Markup):  # Markup.replace escapes its arguments
        found = len(owner) // max(len(old), 1) + 1
        grow = escaped_size(new).chars
    elif isinstance(new, (str, bytes)) and type(old) is type(new):
        found = owner.count(old) if old else len(owner) + 1
        grow = len(new) - len(old)
    else:
        return
    if count >= 0:
        found = min(found, count)
    budget.string(len(owner) + found * max(grow, 0), _wide(owner) or _wide(new))


@_method_check("join")
def _check_join(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    iterable = _arg(args, kwargs, 0, "iterable")
    if iterable is _MISSING:
        return None
    items = list(iterable)
    budget.check_items(len(items))
    chars, wide = len(owner) * max(len(items) - 1, 0), _wide(owner)
    for item in items:
        if isinstance(owner, Markup):
            size = escaped_size(item)
        elif isinstance(item, _TEXT_OWNERS):
            size = Text(len(item), _wide(item))
        else:
            return (items,)  # Python raises: join takes text only
        chars, wide = chars + size.chars, wide or size.wide
        budget.check_string(chars)
    budget.string(chars, wide)
    return (items,)


@_method_check("translate")
def _check_translate(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    table = _arg(args, kwargs, 0, "table")
    if isinstance(owner, (bytes, bytearray)) or table is _MISSING:
        return  # a bytes table maps each byte to one byte
    if isinstance(table, Mapping):
        entries: Iterable[Any] = table.values()
    elif isinstance(table, (list, tuple)):
        entries = table
    elif isinstance(table, str):
        entries = ()
    else:
        budget.fail("translate() tables must be a dict, a list or a string")
    longest = max((len(e) for e in entries if isinstance(e, str)), default=1)
    budget.string(len(owner) * max(longest, 1), True)


@_method_check("split", "rsplit")
def _check_split(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    sep = _arg(args, kwargs, 0, "sep", None)
    maxsplit = _index(_arg(args, kwargs, 1, "maxsplit", -1))
    if maxsplit is None or (sep is not None and (not isinstance(sep, (str, bytes)) or not sep)):
        return
    pieces = len(owner) // 2 + 1 if sep is None else owner.count(sep) + 1
    if maxsplit >= 0:
        pieces = min(pieces, maxsplit + 1)
    budget.items(pieces, OBJECT_BYTES)


@_method_check("splitlines")
def _check_splitlines(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget.items(_line_count(owner), OBJECT_BYTES)


@_method_check("upper", "lower", "title", "capitalize", "swapcase", "casefold")
def _check_case(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # Unicode case mappings grow a character into at most three ('ﬃ'.upper() == 'FFI').
    wide = _wide(owner)
    budget.string(len(owner) * (3 if wide else 1), wide)


@_method_check("encode")
def _check_encode(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    encoding = _arg(args, kwargs, 0, "encoding", "utf-8")
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        return  # Python raises the same
    if owner.isascii() and name in ("utf-8", "ascii", "latin-1", "iso8859-1", "cp1252"):
        factor = 1
    elif name.startswith(("utf-16", "utf-32")):
        factor = 4
    else:
        factor = 12  # unicode_escape's '\U0001f600', punycode, idna...
    budget.string(len(owner) * factor + 16)


@_method_check("hex")
def _check_hex(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget.string(3 * len(owner))


@_method_check("to_bytes")
def _check_to_bytes(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    length = _index(_arg(args, kwargs, 0, "length", 1))
    if length is not None:
        budget.string(length)


@_method_check("as_integer_ratio")
def _check_ratio(budget: Budget, owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if isinstance(owner, Decimal):
        budget.integer_bits(decimal_bits(owner))


_TEXT_OWNERS = (str, bytes, bytearray)
# Values whose methods may build something big.
_VALUE_OWNERS = (str, bytes, bytearray, int, float, Decimal, list, tuple, dict)
_METHOD_CHECK_OWNERS: dict[str, tuple[type, ...]] = {"to_bytes": (int,), "as_integer_ratio": (Decimal,)}


def _line_count(text: str | bytes) -> int:
    if isinstance(text, str):
        return sum(map(text.count, _LINE_BREAKS)) + 1
    return text.count(b"\n") + text.count(b"\r") + 1


# --- filters -------------------------------------------------------------------------------------

# (budget, eval_ctx, call the original filter, value, *args, **kwargs) -> the filter's result
_FilterGuard = Callable[..., Any]
_FILTER_GUARDS: dict[str, _FilterGuard] = {}


def _guards(*names: str) -> Callable[[_FilterGuard], _FilterGuard]:
    def register(guard: _FilterGuard) -> _FilterGuard:
        for name in names:
            _FILTER_GUARDS[name] = guard
        return guard

    return register


def guarded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    guarded = dict(filters)
    for name, guard in _FILTER_GUARDS.items():
        if name in filters:
            guarded[name] = _bind_guard(filters[name], guard)
    return guarded


def _bind_guard(original: Callable[..., Any], guard: _FilterGuard) -> Callable[..., Any]:
    pass_arg = _PassArg.from_obj(original)

    def filter_(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        def call(*call_args: Any, **call_kwargs: Any) -> Any:
            if pass_arg is _PassArg.context:
                return original(context, *call_args, **call_kwargs)
            if pass_arg is _PassArg.eval_context:
                return original(context.eval_ctx, *call_args, **call_kwargs)
            if pass_arg is _PassArg.environment:
                return original(context.environment, *call_args, **call_kwargs)
            return original(*call_args, **call_kwargs)

        return guard(current(), context, call, value, *args, **kwargs)

    update_wrapper(filter_, original)
    return pass_context(filter_)  # after update_wrapper, which copies the original's pass marker


def _text_of(budget: Budget, value: Any) -> Text:
    """Charge converting `value` to text (free for a string: str() returns it)."""
    size = text_size(value)
    if not isinstance(value, str):
        budget.string(size.chars, size.wide)
    return size


@_guards("string")
def _string(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    _text_of(budget, value)
    return call(value)


@_guards("trim", "striptags", "safe")
def _copy_text(budget: Budget, context: Context, call: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
    size = text_size(value)
    budget.string(size.chars, size.wide)
    return call(value, *args, **kwargs)


@_guards("capitalize", "lower", "upper")
def _case(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    size = _text_of(budget, value)
    budget.string(size.chars * (3 if size.wide else 1), size.wide)
    return call(value)


@_guards("title")
def _title(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    size = _text_of(budget, value)
    budget.check_items(size.chars + 1)  # do_title splits the text into words first
    budget.string(size.chars * (3 if size.wide else 1), size.wide)
    return call(value)


@_guards("center")
def _center(budget: Budget, context: Context, call: Any, value: Any, width: int = 80) -> Any:
    size = _text_of(budget, value)
    budget.string(max(operator.index(width), size.chars), size.wide)
    return call(value, width)


@_guards("escape", "e")
def _escape(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    size = escaped_size(value)
    budget.string(size.chars, size.wide)
    return call(value)


@_guards("forceescape")
def _forceescape(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    size = escaped_size(value, force=True)
    budget.string(size.chars, size.wide)
    return call(value)


@_guards("format")
def _format(budget: Budget, context: Context, call: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
    _text_of(budget, value)
    size = percent_size(budget, str(value), kwargs or args)
    budget.string(size.chars, size.wide)
    return call(value, *args, **kwargs)


@_guards("indent")
def _indent(
    budget: Budget, context: Context, call: Any, s: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> Any:
    if isinstance(s, str):
        indention = len(width) if isinstance(width, str) else max(operator.index(width), 0)
        budget.string(indention, _wide(width))
        lines = _line_count(s) + 1
        budget.check_items(lines)
        budget.string(len(s) + lines * indention, _wide(s) or _wide(width))
    return call(s, width, first, blank)


@_guards("join")
def _join(budget: Budget, context: Context, call: Any, value: Any, d: Any = "", attribute: Any = None) -> Any:
    items = list(value)
    if attribute is not None:
        getter = make_attrgetter(context.environment, attribute)
        items = [getter(item) for item in items]
    budget.check_items(len(items))
    escaping = context.eval_ctx.autoescape and (
        hasattr(d, "__html__") or any(hasattr(item, "__html__") for item in items)
    )
    separator = escaped_size(d) if escaping else _text_of(budget, d)
    chars, wide = separator.chars * max(len(items) - 1, 0), separator.wide
    for item in items:
        size = escaped_size(item) if escaping else text_size(item)
        chars, wide = chars + size.chars, wide or size.wide
        budget.check_string(chars)
    budget.string(chars, wide)
    return call(items, d)


@_guards("replace")
def _replace(budget: Budget, context: Context, call: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
    # Mirrors do_replace: under autoescape, s is escaped only when old or new is markup, and a
    # markup s escapes what it inserts.
    markup = hasattr(s, "__html__")
    escaping = context.eval_ctx.autoescape and (
        hasattr(old, "__html__") or (hasattr(new, "__html__") and not markup)
    )
    subject = escaped_size(s) if escaping else _text_of(budget, s)
    removed, _ = _text_of(budget, old), _text_of(budget, new)
    added = escaped_size(new) if escaping or markup else text_size(new)
    if isinstance(s, str) and isinstance(old, str) and not escaping:
        found = s.count(old) if old else len(s) + 1
    else:
        found = subject.chars // max(removed.chars, 1) + 1
    if count is not None and operator.index(count) >= 0:
        found = min(found, operator.index(count))
    budget.string(subject.chars + found * max(added.chars - removed.chars, 0), subject.wide or added.wide)
    return call(s, old, new, count)


@_guards("wordwrap")
def _wordwrap(
    budget: Budget,
    context: Context,
    call: Any,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> Any:
    if isinstance(s, str):
        wrap = context.environment.newline_sequence if wrapstring is None else wrapstring
        budget.check_items(len(s) + 1)  # textwrap splits the text into words and spaces
        budget.string(len(s) + (len(s) + 1) * len(wrap), _wide(s) or _wide(wrap))
    return call(s, width, break_long_words, wrapstring, break_on_hyphens)


@_guards("wordcount")
def _wordcount(budget: Budget, context: Context, call: Any, s: Any) -> Any:
    size = _text_of(budget, s)
    budget.check_items(size.chars // 2 + 1)
    return call(s)


@_guards("urlize")
def _urlize(
    budget: Budget,
    context: Context,
    call: Any,
    value: Any,
    trim_url_limit: int | None = None,
    nofollow: bool = False,
    target: str | None = None,
    rel: str | None = None,
    extra_schemes: Iterable[str] | None = None,
) -> Any:
    text = _text_of(budget, value)
    budget.check_items(text.chars + 1)  # urlize splits the text into words
    # A link is a word holding '.', '@' or ':'; its URL is written twice, with the attributes.
    links = sum(map(value.count, ".@:")) if isinstance(value, str) else text.chars // 2 + 1
    policies = context.environment.policies
    attributes = sum(len(str(a or "")) for a in (rel, target, policies["urlize.rel"], policies["urlize.target"]))
    escaped = escaped_size(value)
    budget.string(2 * escaped.chars + links * (64 + 5 * attributes), escaped.wide)
    return call(value, trim_url_limit, nofollow, target, rel, extra_schemes)


@_guards("urlencode")
def _urlencode(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    def quoted(item: Any) -> int:
        size = text_size(item)
        return size.chars * (12 if size.wide else 3)

    if isinstance(value, str) or not isinstance(value, Iterable):
        budget.string(quoted(value))
        return call(value)
    pairs = list(value.items() if isinstance(value, dict) else value)
    budget.check_items(len(pairs))
    chars = 0
    for pair in pairs:
        if isinstance(pair, (tuple, list)) and len(pair) == 2:
            chars += quoted(pair[0]) + quoted(pair[1]) + 2
            budget.check_string(chars)
    budget.string(chars)
    return call(pairs)


@_guards("xmlattr")
def _xmlattr(budget: Budget, context: Context, call: Any, d: Any, autospace: bool = True) -> Any:
    if isinstance(d, Mapping):
        chars, wide = 1, False
        for key, value in d.items():
            key_size, value_size = escaped_size(key), escaped_size(value)
            chars, wide = chars + key_size.chars + value_size.chars + 4, wide or key_size.wide or value_size.wide
            budget.check_string(chars)
        budget.string(chars, wide)
    return call(d, autospace)


@_guards("tojson")
def _tojson(budget: Budget, context: Context, call: Any, value: Any, indent: int | str | None = None) -> Any:
    if indent is not None and not isinstance(indent, str):
        budget.string(max(operator.index(indent), 0))  # json builds ' ' * indent up front
    budget.string(json_size(value, indent).chars)
    return call(value, indent)


class _BoundedStream(StringIO):
    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self._budget = budget
        self._chars = 0

    def write(self, text: str) -> int:
        self._chars += len(text)
        self._budget.check_string(self._chars)
        return super().write(text)


@_guards("pprint")
def _pprint(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    # pprint indents nested values by the width of their dict key, so its output has no simple
    # bound: it writes to a stream that stops at the cap. It also builds the repr of every subtree
    # and splits long strings into words, hence the caps on the repr's size.
    size = text_size(value, quoted=True)
    budget.check_string(size.chars)
    budget.check_items(size.chars)
    stream = _BoundedStream(budget)
    pprint.PrettyPrinter(stream=stream).pprint(value)
    text = stream.getvalue()[:-1]
    budget.string(len(text), size.wide)
    return text


@_guards("batch")
def _batch(budget: Budget, context: Context, call: Any, value: Any, linecount: int, fill_with: Any = None) -> Any:
    items = list(value)
    per_batch = _index(linecount) or 0  # a float count works, but cannot pad
    fill = 0
    if fill_with is not None and per_batch > 0 and len(items) % per_batch:
        fill = per_batch - len(items) % per_batch
    budget.items(len(items) + fill)
    budget.items(len(items) // max(per_batch, 1) + 1, OBJECT_BYTES)
    return call(items, linecount, fill_with)


@_guards("slice")
def _slice(budget: Budget, context: Context, call: Any, value: Any, slices: int, fill_with: Any = None) -> Any:
    items = list(value)
    count = max(operator.index(slices), 0)
    budget.items(len(items) + (count if fill_with is not None else 0))
    budget.items(count, OBJECT_BYTES)
    return call(items, slices, fill_with)


@_guards("sum")
def _sum(budget: Budget, context: Context, call: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if type(start) not in (list, tuple):
        return call(iterable, attribute, start)
    items = list(iterable)
    if attribute is not None:
        getter = make_attrgetter(context.environment, attribute)
        items = [getter(item) for item in items]
    if not all(type(item) is type(start) for item in items):
        return call(items, None, start)  # Python raises the TypeError
    budget.items(len(start) + sum(map(len, items)))
    # sum() copies the growing list at every step: quadratic, in C that nothing can interrupt.
    return type(start)(itertools.chain(start, *items))


@_guards("list")
def _list(budget: Budget, context: Context, call: Any, value: Any) -> Any:
    if isinstance(value, (str, bytes, range)):
        budget.items(len(value), OBJECT_BYTES)  # one new object per character or number
        return call(value)
    result = call(value)
    budget.value(result)
    return result


@_guards("reverse", "sort", "truncate", "dictsort", "groupby")
def _charge_result(budget: Budget, context: Context, call: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
    # These copy what they are given (no bigger than it): the copy is charged once it is built.
    result = call(value, *args, **kwargs)
    budget.value(result)
    return result


@_guards("int")
def _int(budget: Budget, context: Context, call: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(value, Decimal):
        budget.integer_bits(decimal_bits(value))
    return call(value, *args, **kwargs)


@_guards("round")
def _round(budget: Budget, context: Context, call: Any, value: Any, precision: int = 0, method: str = "common") -> Any:
    if isinstance(precision, int):
        # round(5, -10**9) and the ceil/floor methods compute 10**precision.
        budget.integer_bits(int(abs(precision) * BITS_PER_DIGIT))
    if isinstance(value, Decimal) and method != "common":
        budget.integer_bits(decimal_bits(value) + int(abs(precision) * BITS_PER_DIGIT))
    return call(value, precision, method)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    # Same parameters as Jinja's lipsum. Words are at most 13 characters; paragraphs add markup.
    paragraphs, words = operator.index(n), max if max > min else min
    current().string((paragraphs if paragraphs > 0 else 0) * (words * 16 + 32))
    return generate_lorem_ipsum(n, html, min, max)


# --- the environment ------------------------------------------------------------------------------


def _charge_slice(obj: Any, index: slice) -> None:
    if not isinstance(obj, (str, bytes, bytearray, list, tuple)):
        return
    try:
        count = len(range(*index.indices(len(obj))))
    except (TypeError, ValueError):
        return  # the real lookup raises the same
    if isinstance(obj, (list, tuple)):
        current().items(count)
    else:
        current().string(count, _wide(obj))


_NUMBERS = frozenset({int, float, bool})
# Output as they are, or as text short enough not to count: the common case, kept fast.
_SHORT_TEXT = frozenset({int, float, bool, type(None), Decimal})


@pass_eval_context
def _finalize(eval_ctx: Any, value: Any) -> Any:
    """Bounds the text every `{{ value }}` turns into (str() of a list of references can be huge)."""
    if type(value) in _SHORT_TEXT:
        return value
    escaping = eval_ctx.autoescape and not hasattr(value, "__html__")
    if isinstance(value, str) and not escaping:
        return value
    size = escaped_size(value) if escaping else text_size(value)
    current().string(size.chars, size.wide)
    return value


class DapEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _GuardedCodeGenerator
    template_class = _DapTemplate

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, finalize=_finalize, **kwargs)
        self.filters = guarded_filters(self.filters)
        self.filters["soql"] = soql.quote
        self.globals["lipsum"] = _lipsum
        # What compiled templates and cached imports hold, for the engine's cache accounting.
        self.retained_bytes = 0

    def _compile(self, source: str, filename: str) -> types.CodeType:
        self.retained_bytes += _COMPILED_BYTES_PER_CHAR * len(source) + _COMPILED_TEMPLATE_BYTES
        return super()._compile(source, filename)

    def new_buffer(self) -> list[str]:
        return _Buffer()

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        if not isinstance(parts, _Buffer):
            buffer = _Buffer()
            buffer.extend(parts)
            parts = buffer
        return "".join(parts)

    def join_text(self, markup: bool, parts: tuple[Any, ...]) -> str:
        budget = current()
        escaping = markup and any(hasattr(p, "__html__") for p in parts)
        chars, wide = 0, False
        for part in parts:
            if type(part) is str and not escaping:  # the common case, kept off the walk
                chars, wide = chars + len(part), wide or not part.isascii()
                continue
            size = escaped_size(part) if escaping else text_size(part)
            chars, wide = chars + size.chars, wide or size.wide
            budget.check_string(chars)
        budget.string(chars, wide)
        return markup_join(parts) if markup else str_join(parts)

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if type(left) in _NUMBERS and type(right) in _NUMBERS:  # the common case, kept fast
            if type(left) is int and type(right) is int:
                if operator_ == "*" and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
                    current().integer_bits(left.bit_length() + right.bit_length())
                elif operator_ == "**" and right > 0 and left.bit_length() * right > MAX_INTEGER_BITS:
                    current().integer_bits(left.bit_length() * right)
            return self.binop_table[operator_](left, right)
        budget = current()
        if operator_ == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                budget.integer_bits(left.bit_length() * right)
        elif operator_ == "*":
            if isinstance(left, int) and isinstance(right, int):
                budget.integer_bits(left.bit_length() + right.bit_length())
            for seq, count in ((left, right), (right, left)):
                if isinstance(count, int) and isinstance(seq, (list, tuple)):
                    budget.items(len(seq) * max(count, 0))
                elif isinstance(count, int) and isinstance(seq, _TEXT_OWNERS):
                    budget.string(len(seq) * max(count, 0), _wide(seq))
        elif operator_ == "+":
            if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
                budget.items(len(left) + len(right))
            elif isinstance(left, _TEXT_OWNERS) and isinstance(right, _TEXT_OWNERS):
                markup = isinstance(left, Markup) or isinstance(right, Markup)
                sizes = [escaped_size(s) if markup else Text(len(s), _wide(s)) for s in (left, right)]
                budget.string(sizes[0].chars + sizes[1].chars, sizes[0].wide or sizes[1].wide)
        elif operator_ == "%" and isinstance(left, _TEXT_OWNERS):
            size = percent_size(budget, left, right)
            budget.string(size.chars, size.wide)
        return self.binop_table[operator_](left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        owner = getattr(obj, "__self__", None)
        if not isinstance(owner, _VALUE_OWNERS):
            result = super().call(context, obj, *args, **kwargs)
            if obj is dict:
                current().value(result)
            return result
        budget = current()
        name = getattr(obj, "__name__", "")
        check = _METHOD_CHECKS.get(name)
        if check is not None and isinstance(owner, _METHOD_CHECK_OWNERS.get(name, _TEXT_OWNERS)):
            args = check(budget, owner, args, kwargs) or args
            return super().call(context, obj, *args, **kwargs)
        result = super().call(context, obj, *args, **kwargs)
        # Text methods build new text; of the others only copy() builds (get() returns what exists).
        if result is not owner and (isinstance(owner, _TEXT_OWNERS) or name == "copy"):
            budget.value(result)
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, slice):
            _charge_slice(obj, argument)
        return super().getitem(obj, argument)

    def getslice(self, obj: Any, start: Any, stop: Any, step: Any) -> Any:
        index = slice(start, stop, step)
        _charge_slice(obj, index)
        return obj[index]

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # SandboxedEnvironment.wrap_str_format with the guarded formatters.
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        f_self = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter: Formatter
        if isinstance(f_self, Markup):
            formatter = _GuardedEscapeFormatter(self, escape=f_self.escape)
        else:
            formatter = _GuardedFormatter(self)
        vformat = formatter.vformat

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return str_type(vformat(f_self, args, kwargs))

        return update_wrapper(wrapper, value)


