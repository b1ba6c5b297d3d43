"""Loading and validating DAP zip packages (untrusted input)."""

from __future__ import annotations

import hashlib
import io
import re
import stat
import struct
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml  # type: ignore[import-untyped]
from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    nodes,
    select_autoescape,
)
from pydantic import ValidationError

from .budget import MiB
from .manifest import STEP_KINDS, Manifest
from .sandbox import DapEnvironment

MANIFEST_NAME = "dap.yaml"
# Deeper documents are refused while composing, before the composer's recursion could overflow.
MAX_MANIFEST_DEPTH = 64
MAX_PROBLEM_CHARS = 300
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xml", "xhtml")
# Only methods whose decompressor honours max_length: bzip2/lzma inflate a whole
# chunk at once, which would sidestep the per-entry read cap.
_ALLOWED_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# End of central directory, and the zip64 locator and record (APPNOTE.TXT 4.3.14-16).
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


@dataclass(frozen=True)
class DapLimits:
    max_zip_bytes: int = 5 * MiB
    max_entries: int = 200
    max_entry_bytes: int = 5 * MiB
    max_total_bytes: int = 20 * MiB
    max_ratio: float = 100
    # Tiny, repetitive text files legitimately compress beyond max_ratio, and can't be
    # a bomb anyway, so the ratio only applies above this uncompressed size.
    ratio_min_bytes: int = 64 * 1024


class DapError(Exception):
    def __init__(self, message: str, errors: list[str]) -> None:
        super().__init__(message, errors)
        self.message = message
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"- {e}" for e in self.errors)])


@dataclass(frozen=True)
class Dap:
    name: str
    sha256: str
    manifest: Manifest = field(compare=False)
    files: Mapping[str, bytes] = field(compare=False, repr=False)


class DapLoader(BaseLoader):
    """Serves templates from the package only; nothing from disk."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._files = files

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        data = self._files.get(template)
        if data is None:
            raise TemplateNotFound(template)
        try:
            source = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TemplateNotFound(template, f"{template!r} is not valid UTF-8") from exc
        # The filename doubles as the marker that lets the engine find template frames in tracebacks.
        return source, template, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self._files)


def create_environment(files: Mapping[str, bytes]) -> DapEnvironment:
    """The one Jinja configuration used both to check a package and to run it."""
    return DapEnvironment(
        loader=DapLoader(files),
        undefined=StrictUndefined,
        autoescape=select_autoescape(AUTOESCAPE_EXTENSIONS, default_for_string=False, default=False),
        auto_reload=False,
        keep_trailing_newline=True,
    )


def load_dap(data: bytes, limits: DapLimits = DapLimits()) -> Dap:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("load_dap expects bytes")
    data = bytes(data)
    if len(data) > limits.max_zip_bytes:
        raise DapError(
            "Invalid DAP package", [f"package is {len(data)} bytes, larger than the limit of {limits.max_zip_bytes}"]
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError):
        raise DapError("Invalid DAP package", ["package is not a valid zip archive"]) from None
    with archive:
        layout = _layout_problem(data, archive)
        if layout is not None:
            raise DapError("Invalid DAP package", [layout])
        errors, files, rejected = _read_entries(archive, limits)

    manifest = _parse_manifest(files, rejected, errors)
    if manifest is not None:
        errors.extend(_template_problems(manifest, files, rejected, limits))
    if errors or manifest is None:
        raise DapError("Invalid DAP package", errors)
    return Dap(
        name=manifest.name,
        sha256=hashlib.sha256(data).hexdigest(),
        manifest=manifest,
        files=MappingProxyType(files),
    )


def zip_problems(data: bytes, limits: DapLimits) -> list[str]:
    """The same checks as a package's, for a zip inside it (a DOCX): sizes, entry count, ratio, names.

    Returns what is wrong; nothing when another reader can open it within the limits."""
    if len(data) > limits.max_zip_bytes:
        return [f"it is {len(data)} bytes, larger than the limit of {limits.max_zip_bytes}"]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError):
        return ["it is not a valid zip archive"]
    with archive:
        layout = _layout_problem(data, archive)
        if layout is not None:
            return [layout]
        try:
            errors, _, _ = _read_entries(archive, limits)
        except DapError as error:
            return error.errors
    return errors


def docx_template_problems(data: bytes, limits: DapLimits, env: Environment) -> list[str]:
    """A Word template, hostile like the package: the zip checks before docxtpl opens it, then its tags."""
    from . import docx  # docxtpl and lxml load only for packages that have a Word template

    problems = zip_problems(data, limits) or docx.docx_problems(data)
    if problems:
        return problems
    try:
        sources = docx.template_sources(data)
    except Exception as exc:
        return [f"it cannot be read as a Word document ({_clip(f'{type(exc).__name__}: {exc}')})"]
    for part, source in sources:
        try:
            env.compile(env.parse(source))
        except Exception as exc:
            problems.append(_compile_problem(exc, part))
    return problems


def _layout_problem(data: bytes, archive: zipfile.ZipFile) -> str | None:
    """Refuse bytes around the archive: zipfile reads past them (as CPython's _RealGetContents
    does, shifting every offset by the `concat` it finds), but other readers may not, or may see
    a different archive, e.g. one hidden in a polyglot file."""
    eocd_at = len(data) - _EOCD.size - len(archive.comment)
    if eocd_at < 0 or data[eocd_at : eocd_at + 4] != b"PK\x05\x06":
        return "package has data after the end of the zip archive"
    cd_size, cd_offset = _EOCD.unpack_from(data, eocd_at)[5:7]
    cd_end = eocd_at
    locator_at = eocd_at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and data[locator_at : locator_at + 4] == b"PK\x06\x07":
        cd_end = locator_at - _ZIP64_EOCD.size
        if cd_end < 0 or data[cd_end : cd_end + 4] != b"PK\x06\x06":
            return "package has a corrupt zip64 end of central directory"
        cd_size, cd_offset = _ZIP64_EOCD.unpack_from(data, cd_end)[8:10]
    # The central directory must sit where the end record says, and the first entry at offset 0.
    first_entry = min((info.header_offset for info in archive.infolist()), default=0)
    if cd_offset + cd_size != cd_end or first_entry != 0:
        return "package has data before the zip archive or between its entries and its directory"
    return None


def _entry_name_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.orig_filename
    if not name or _CONTROL.search(name):
        return "name is empty or contains control characters"
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute path"
    if "\\" in name:
        return "backslash in path"
    segments = (name.removesuffix("/")).split("/")
    if ".." in segments:
        return "'..' in path"
    if any(s in ("", ".") for s in segments):
        return "empty or '.' path segment"
    return None


def _read_entries(archive: zipfile.ZipFile, limits: DapLimits) -> tuple[list[str], dict[str, bytes], set[str]]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise DapError(
            "Invalid DAP package", [f"package has {len(infos)} entries, more than the limit of {limits.max_entries}"]
        )
    errors: list[str] = []
    files: dict[str, bytes] = {}
    rejected: set[str] = set()
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        problem = _entry_name_problem(info)
        if problem is None and name in seen:
            problem = "duplicate entry"
        seen.add(name)
        if problem is None and stat.S_ISLNK(info.external_attr >> 16):
            problem = "symbolic links are not allowed"
        if problem is None and info.flag_bits & 0x1:
            problem = "encrypted entries are not allowed"
        if problem is None and info.is_dir():
            continue
        if problem is None and info.compress_type not in _ALLOWED_COMPRESSION:
            problem = "unsupported compression method (use stored or deflate)"
        if problem is None:
            problem, content = _read_entry(archive, info, limits, limits.max_total_bytes - total)
            if content is not None:
                files[name] = content
                total += len(content)
        if problem is not None:
            errors.append(f"entry {name!r}: {problem}")
            rejected.add(name)
            if problem == _total_problem(limits):
                break
    return errors, files, rejected


def _total_problem(limits: DapLimits) -> str:
    return f"total uncompressed size exceeds the limit of {limits.max_total_bytes} bytes"


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: DapLimits, budget: int
) -> tuple[str | None, bytes | None]:
    ratio_cap = max(limits.ratio_min_bytes, int(limits.max_ratio * max(info.compress_size, 1)))
    caps = [
        (limits.max_entry_bytes, f"larger than the entry limit of {limits.max_entry_bytes} bytes"),
        (budget, _total_problem(limits)),
        (ratio_cap, f"compression ratio exceeds {limits.max_ratio:g} (possible zip bomb)"),
    ]
    cap, reason = min(caps, key=lambda c: c[0])
    if info.file_size > cap:
        return reason, None
    # Header sizes are attacker-controlled: read at most cap+1 bytes whatever they claim.
    try:
        with archive.open(info) as stream:
            content = stream.read(cap + 1)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        return f"corrupt entry ({exc})", None
    if len(content) > cap:
        return reason, None
    if len(content) != info.file_size:
        return "corrupt entry (size does not match its header)", None
    return None, content


class _ManifestLoader(yaml.SafeLoader):  # type: ignore[misc]
    """yaml.safe_load semantics, minus aliases (they allow exponential 'billion laughs' documents),
    nesting deeper than MAX_MANIFEST_DEPTH (the composer recurses) and duplicate keys (YAML says
    keys are unique; PyYAML silently keeps the last)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        if self._depth >= MAX_MANIFEST_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_MANIFEST_DEPTH} levels deep", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # A value PyYAML cannot build (an int of 5,000 digits, a date like 2024-13-45) raises
        # ValueError and friends, not YAMLError: report it as a YAML problem at its line.
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {_clip(str(exc))}", node.start_mark
            ) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {_clip(repr(key))}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_PROBLEM_CHARS else text[:MAX_PROBLEM_CHARS] + "…"


def _parse_manifest(files: Mapping[str, bytes], rejected: set[str], errors: list[str]) -> Manifest | None:
    raw_bytes = files.get(MANIFEST_NAME)
    if raw_bytes is None:
        if MANIFEST_NAME not in rejected:
            errors.append(f"{MANIFEST_NAME}: missing at the root of the package")
        return None
    try:
        raw = yaml.load(raw_bytes, Loader=_ManifestLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(f"{MANIFEST_NAME}{where}: invalid YAML: {' '.join(_clip(problem).split())}")
        return None
    except Exception as exc:  # untrusted input: whatever else PyYAML raises is the document's fault
        errors.append(f"{MANIFEST_NAME}: invalid YAML: {_clip(f'{type(exc).__name__}: {exc}')}")
        return None
    if not isinstance(raw, dict):
        errors.append(f"{MANIFEST_NAME}: must be a mapping at the top level")
        return None
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        errors.extend(f"{MANIFEST_NAME}: {_clip(e)}" for e in _format_validation_errors(exc))
        return None
    except Exception as exc:
        errors.append(f"{MANIFEST_NAME}: invalid manifest: {_clip(f'{type(exc).__name__}: {exc}')}")
        return None


def _format_validation_errors(exc: ValidationError) -> list[str]:
    out: list[str] = []
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        if err["type"] == "manifest_references":
            out.extend(ctx["problems"])
            continue
        loc: list[str] = []
        for part in err["loc"]:
            # Tagged unions repeat the tag in the location (steps.1.store.store.from); drop the echo.
            if not (loc and part == loc[-1] and part in STEP_KINDS):
                loc.append(str(part))
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "union_tag_invalid":
            message = f"unknown step kind {ctx['tag']!r}; expected one of: {', '.join(STEP_KINDS)}"
        elif err["type"] == "union_tag_not_found":
            message = f"a step must be a mapping with exactly one key, one of: {', '.join(STEP_KINDS)}"
        else:
            message = err["msg"].removeprefix("Value error, ")
        out.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return out


def _syntax_error(exc: TemplateSyntaxError, label: str) -> str:
    return f"{label} line {exc.lineno}: {_clip(exc.message or 'syntax error')}"


def _compile_problem(exc: Exception, label: str) -> str:
    """Jinja's parser and code generator recurse, and Python refuses deeply nested generated code
    (SyntaxError: too many statically nested blocks): for untrusted source, that is its problem."""
    if isinstance(exc, TemplateSyntaxError):
        return _syntax_error(exc, label)
    if isinstance(exc, (RecursionError, SyntaxError)):
        return f"{label}: the template is nested too deeply"
    return f"{label}: the template cannot be compiled ({_clip(f'{type(exc).__name__}: {exc}')})"


def _referenced_names(ast: nodes.Template) -> Iterable[str]:
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        if isinstance(node, nodes.Include) and node.ignore_missing:
            continue
        target = getattr(node, "template", None)
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            yield target.value


def _template_problems(
    manifest: Manifest, files: Mapping[str, bytes], rejected: set[str], limits: DapLimits
) -> list[str]:
    problems: list[str] = []
    env = create_environment(files)
    pending = []
    for index, path in manifest.templates():
        if path not in files:
            if path not in rejected:
                problems.append(f"{MANIFEST_NAME}: steps.{index}.compose.template: {path!r} is not in the package")
        elif path.lower().endswith(".docx"):
            problems.extend(f"{path}: {problem}" for problem in docx_template_problems(files[path], limits, env))
        else:
            pending.append(path)
    checked: set[str] = set()
    while pending:
        path = pending.pop()
        if path in checked:
            continue
        checked.add(path)
        try:
            source = files[path].decode("utf-8-sig")
        except UnicodeDecodeError:
            problems.append(f"{path}: not valid UTF-8")
            continue
        try:
            ast = env.parse(source, path, path)
            env.compile(ast, path, path)
        except Exception as exc:
            problems.append(_compile_problem(exc, path))
            continue
        for ref in _referenced_names(ast):
            if ref in files:
                pending.append(ref)
            elif ref not in rejected:
                problems.append(f"{path}: references {ref!r}, which is not in the package")
    for index, step in enumerate(manifest.steps):
        for name, source in step.template_strings().items():
            try:
                env.compile(source)
            except Exception as exc:
                problems.append(_compile_problem(exc, f"{MANIFEST_NAME}: steps.{index}.{step.kind}.{name}"))
    return problems
