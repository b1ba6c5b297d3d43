"""DOCX output: docxtpl renders a Word template (Jinja2 tags inside Word) through the DAP's sandbox.

A DOCX is a zip too: it passes the package's zip checks before anything opens it. Text put into
the document must be text XML can hold: control characters, lone surrogates, U+FFFE and U+FFFF
are removed from the values a template sees (with a WARNING naming where), since Word refuses a
file that holds them. The rendered file must open with python-docx before it counts as output.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from docx import Document
from docx.oxml.parser import parse_xml
from docxtpl import DocxTemplate
from jinja2 import Environment, Template
from markupsafe import Markup

from .files import DOCX_TYPE

__all__ = [
    "DOCX_TYPE",
    "caching_environment",
    "clean_for_xml",
    "docx_problem",
    "docx_problems",
    "parsed",
    "parsed_size",
    "render_docx",
    "template_sources",
]

# XML 1.0's Char production, inverted: what no XML document may hold.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_CLEAN_DEPTH = 32
# Parts of one template (body, headers, footers, footnotes, properties) whose compiled form is kept.
MAX_CACHED_PARTS = 32
MAX_PART_BYTES = 2 * 1024 * 1024
MAX_TAGS = 5000
_TAG_MARK = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")
_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
# Field instructions: <w:instrText>…</w:instrText> runs, and w:fldSimple's w:instr attribute.
_INSTRUCTION = re.compile(r'<w:instrText\b[^>]*>([^<]*)<|\bw:instr="([^"]*)"')
_EXTERNAL_FIELD = re.compile(r"\b(INCLUDEPICTURE|INCLUDETEXT|INCLUDE|LINK|DDEAUTO|DDE|IMPORT)\b", re.I)
_RELATIONSHIP = re.compile(r"<Relationship\b[^>]*>")
_ATTRIBUTE_TYPE = re.compile(r'\bType="([^"]*)"')
_EXTERNAL = re.compile(r'\bTargetMode="External"')


def docx_problems(data: bytes) -> list[str]:
    """After the zip checks: what keeps this from being a Word template docxtpl can safely render.

    Every part is scanned once, in linear time, before docxtpl's own regexes ever see it: those
    take quadratic time on tags that never close (`{{p {{p {{p ...`), inside C code the time limit
    cannot interrupt. So each XML part is bounded in size and in tags, and its tags must close in
    order. Links out of the document are refused too, since LibreOffice would fetch them when it
    converts: external relationships other than hyperlinks, embedded documents (altChunk,
    subDocument) and INCLUDEPICTURE / INCLUDETEXT / LINK / DDE fields."""
    problems: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                return ["it is not a Word document (no word/document.xml)"]
            for info in archive.infolist():
                if info.is_dir() or not info.filename.endswith((".xml", ".rels")):
                    continue
                if info.file_size > MAX_PART_BYTES:
                    problems.append(f"{info.filename}: {info.file_size} bytes; an XML part holds at most {MAX_PART_BYTES}")
                    continue
                text = archive.read(info).decode("utf-8", "replace")
                problem = _links_problem(text) if info.filename.endswith(".rels") else _part_problem(text)
                if problem is not None:
                    problems.append(f"{info.filename}: {problem}")
    except (zipfile.BadZipFile, OSError, ValueError):
        return ["it is not a valid zip archive"]
    return problems


def _part_problem(text: str) -> str | None:
    opened: str | None = None
    count = 0
    for mark in _TAG_MARK.finditer(text):
        token = mark.group(0)
        if token in ("{{", "{%", "{#"):
            if opened is not None:
                return f"a '{opened}' tag is not closed before the next '{token}'"
            opened = token
            count += 1
            if count > MAX_TAGS:
                return f"more than {MAX_TAGS} template tags"
        elif opened is not None and token == _CLOSERS[opened]:
            opened = None
    if opened is not None:
        return f"a '{opened}' tag is never closed"
    instructions = " ".join(a or b for a, b in _INSTRUCTION.findall(text))
    if _EXTERNAL_FIELD.search(instructions):
        return "a field that reads another file or URL (INCLUDEPICTURE, INCLUDETEXT, LINK, DDE)"
    return None


def _links_problem(text: str) -> str | None:
    for relationship in _RELATIONSHIP.finditer(text):
        attributes = relationship.group(0)
        kind = _ATTRIBUTE_TYPE.search(attributes)
        kind_name = kind.group(1).rsplit("/", 1)[-1] if kind else ""
        if kind_name in ("aFChunk", "subDocument"):
            return f"an embedded document ({kind_name}) is not allowed"
        if _EXTERNAL.search(attributes) and kind_name != "hyperlink":
            return f"a link to an outside file ({kind_name or 'relationship'}) is not allowed"
    return None


def template_sources(data: bytes) -> list[tuple[str, str]]:
    """(part, Jinja source) for the document body as docxtpl prepares it, to check its syntax."""
    template = DocxTemplate(io.BytesIO(data))
    template.init_docx()
    return [("word/document.xml", template.patch_xml(template.get_xml()))]


def clean_for_xml(value: Any, path: str, found: list[str], depth: int = 0) -> Any:
    """The value with characters XML cannot hold removed from every string in it; paths in `found`."""
    if isinstance(value, str):
        if _NOT_XML.search(value) is None:
            return value
        found.append(path)
        cleaned = _NOT_XML.sub("", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    if depth >= MAX_CLEAN_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {k: clean_for_xml(v, f"{path}.{k}", found, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_for_xml(v, f"{path}[{i}]", found, depth + 1) for i, v in enumerate(value)]
    return value


class _CompiledParts:
    """`from_string` that keeps what it compiled: docxtpl compiles each part's XML on every render,
    and the XML of a part is the same for every task of a template."""

    def __init__(self, env: Environment, limit: int = MAX_CACHED_PARTS) -> None:
        self._env = env
        self._compile = env.from_string
        self._cache: OrderedDict[str, Template] = OrderedDict()
        self._limit = limit

    def __call__(self, source: str, globals: Any = None, template_class: Any = None) -> Template:  # noqa: A002
        found = self._cache.get(source)
        if found is None:
            found = self._cache[source] = self._compile(source, globals, template_class)
            while len(self._cache) > self._limit:
                self._cache.popitem(last=False)
        return found


def caching_environment(env: Environment) -> Environment:
    """The DAP's sandboxed environment, autoescaping (values go into XML), compiling each part once."""
    overlay = env.overlay(autoescape=True)
    overlay.from_string = _CompiledParts(overlay)  # type: ignore[method-assign,assignment]
    return overlay


def parsed(data: bytes) -> Any:
    """The template as python-docx reads it, kept per package: each render works on a copy."""
    return Document(io.BytesIO(data))


def parsed_size(data: bytes) -> int:
    """About what `parsed(data)` holds in memory: lxml trees take a few times their XML's size."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return 4 * sum(info.file_size for info in archive.infolist())


def render_docx(data: bytes, variables: Mapping[str, Any], env: Environment, pristine: Any = None) -> bytes:
    """The rendered document. `env` must autoescape: values are XML-escaped as they are inserted.
    `pristine` (from `parsed`) saves parsing the template again: docxtpl renders a deep copy of it."""
    template = DocxTemplate(io.BytesIO(data))
    if pristine is not None:
        template.docx = copy.deepcopy(pristine)
    template.render(dict(variables), jinja_env=env, autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()


def docx_problem(content: bytes, template: bytes) -> str | None:
    """None when python-docx can read the rendered document; else why not.

    The package must open as a zip, and every part the render changed must parse with python-docx's
    XML parser. A part whose bytes are the template's (same CRC and size) is not parsed again:
    python-docx opened the whole template when the DAP was uploaded."""
    try:
        with zipfile.ZipFile(io.BytesIO(template)) as source:
            unchanged = {(i.filename, i.CRC, i.file_size) for i in source.infolist()}
        with zipfile.ZipFile(io.BytesIO(content)) as rendered:
            names = set(rendered.namelist())
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                return "it has no word/document.xml"
            for info in rendered.infolist():
                if (info.filename, info.CRC, info.file_size) in unchanged:
                    continue
                if info.filename.endswith((".xml", ".rels")):
                    parse_xml(rendered.read(info))
    except Exception as exc:  # zipfile and lxml raise many kinds
        return f"it does not open as a Word document ({type(exc).__name__}: {exc})"
    return None
