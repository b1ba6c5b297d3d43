"""Word and PDF outputs: compose of a .docx with docxtpl, convert to PDF, and the checks on both."""

from __future__ import annotations

import io
import random
import threading
import time
import zipfile

import docx
import pytest
from pypdf import PdfReader
from tasklane.dap import ConversionTimeout, DapError, DapLimits, Engine, RunContext, load_dap
from tasklane.dap.files import DOCX_TYPE, PDF_TYPE
from tasklane.dap.pack import pack_directory

from tests.support import ROOT
from tests.unit.dap.conftest import build_zip

CTX = RunContext(task_id="t-1")
HTML_PDF = bytes(__import__("tasklane.dap.pdf", fromlist=["html_to_pdf"]).html_to_pdf("<p>x</p>"))
OFFER_DOCX = (ROOT / "examples" / "offer-docx" / "templates" / "offer.docx").read_bytes()


def docx_text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def word_dap(steps: str, template: bytes = OFFER_DOCX, params: str = "{name: {required: true}, amount: {type: number}}"):
    manifest = f"name: W\nparams: {params}\nsteps:\n{steps}"
    return load_dap(build_zip({"dap.yaml": manifest, "templates/offer.docx": template}))


OFFER_STEPS = """  - set: {as: total, value: "param.amount * 1.24"}
  - compose: {template: templates/offer.docx, as: offer}
  - store: {from: offer, id: Offer, filename: "offer-{{ param.name }}.docx"}
"""


def test_a_docx_template_renders_into_a_word_document_with_the_values():
    result = Engine().run(word_dap(OFFER_STEPS), {"name": "Ann & <Bob>", "amount": 1000}, CTX)
    assert result.ok, result.status_message
    [stored] = result.documents
    assert stored.filename == "offer-Ann & _Bob_.docx" and stored.content_type == DOCX_TYPE
    text = docx_text(stored.content)
    # Values are XML-escaped as they go in, so markup characters come out as text.
    assert "Offer for Ann & <Bob>" in text and "1240.00 EUR" in text and "discount of 5 %" in text


def test_characters_xml_cannot_hold_are_removed_with_a_warning():
    result = Engine().run(word_dap(OFFER_STEPS), {"name": "Ann\ufffe\x01\x1f Lee", "amount": 1}, CTX)
    assert result.ok, result.status_message
    assert "Offer for Ann Lee" in docx_text(result.documents[0].content)
    assert any(e.level == "WARNING" and "param.name" in e.message for e in result.logs)


def test_an_html_output_converts_to_a_pdf_inside_the_engine():
    manifest = """name: H
steps:
  - compose: {template: t.html, as: page}
  - convert: {from: page, to: pdf, as: pagePdf}
  - store: {from: pagePdf, id: Page}
"""
    html = "<h1>Hello {{ param.who }}</h1><p>– “quoted” € {{ param.extra }}</p><ul><li>one</li></ul>"
    dap = load_dap(build_zip({"dap.yaml": manifest, "t.html": html}))
    result = Engine().run(dap, {"who": "Müller", "extra": "日本"}, CTX)
    assert result.ok, result.status_message
    [stored] = result.documents
    assert stored.filename == "Page.pdf" and stored.content_type == PDF_TYPE
    text = pdf_text(stored.content)
    assert "Hello Müller" in text and '- "quoted" EUR ??' in text
    assert any(e.level == "WARNING" and "2 characters outside Latin-1" in e.message for e in result.logs)


def test_images_in_html_to_pdf_are_refused_so_no_file_or_url_is_read():
    manifest = "name: H\nsteps:\n  - compose: {template: t.html, as: p}\n  - convert: {from: p, to: pdf, as: q}\n"
    dap = load_dap(build_zip({"dap.yaml": manifest, "t.html": '<p>x</p><img src="/etc/hostname">'}))
    result = Engine().run(dap, {}, CTX)
    assert not result.ok and "images are not supported" in result.status_message


def test_a_docx_to_pdf_step_without_a_converter_fails_clearly():
    steps = OFFER_STEPS + "  - convert: {from: offer, to: pdf, as: offerPdf}\n"
    result = Engine().run(word_dap(steps), {"name": "A", "amount": 1}, CTX)
    assert not result.ok and "DOCX to PDF conversion is not available" in result.status_message


class SlowConverter:
    """A converter that passes every deadline, as a hung LibreOffice would."""

    def __init__(self) -> None:
        self.deadlines: list[float] = []

    def docx_to_pdf(self, content: bytes, deadline_seconds: float) -> bytes:
        self.deadlines.append(deadline_seconds)
        raise ConversionTimeout("passed")


def test_a_conversion_past_its_deadline_fails_that_task_with_a_clear_message():
    converter = SlowConverter()
    steps = OFFER_STEPS + "  - convert: {from: offer, to: pdf, as: offerPdf}\n"
    engine = Engine(converter=converter, time_limit_seconds=5, conversion_seconds=7)
    result = engine.run(word_dap(steps), {"name": "A", "amount": 1}, CTX)
    assert not result.ok and "took longer than 7 s; the converter was stopped" in result.status_message
    assert converter.deadlines == [7]
    # Never more than the invocation has left.
    engine.run(word_dap(steps), {"name": "A", "amount": 1}, CTX, time_left=3)
    assert 0 < converter.deadlines[1] <= 3


class PatientConverter:
    """A converter that takes longer than the template's time limit, as a first LibreOffice start does."""

    def __init__(self, seconds: float = 0.6) -> None:
        self.seconds = seconds

    def docx_to_pdf(self, content: bytes, deadline_seconds: float) -> bytes:
        threading.Event().wait(self.seconds)
        return HTML_PDF


def test_a_conversion_does_not_count_against_the_templates_time_limit():
    steps = OFFER_STEPS + "  - convert: {from: offer, to: pdf, as: offerPdf}\n  - store: {from: offerPdf, id: P}\n"
    engine = Engine(converter=PatientConverter(), time_limit_seconds=0.4)
    result = engine.run(word_dap(steps), {"name": "A", "amount": 1}, CTX)
    assert result.ok, result.status_message
    assert result.documents[-1].content == HTML_PDF


def test_converting_a_text_output_is_refused():
    manifest = "name: T\nsteps:\n  - compose: {template: t.txt, as: p}\n  - convert: {from: p, to: pdf, as: q}\n"
    result = Engine().run(load_dap(build_zip({"dap.yaml": manifest, "t.txt": "x"})), {}, CTX)
    assert not result.ok and "only HTML and DOCX outputs convert to PDF" in result.status_message


def test_a_sandbox_escape_in_a_docx_template_fails_the_task():
    template = word_template("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    result = Engine().run(word_dap(OFFER_STEPS, template), {"name": "A", "amount": 1}, CTX)
    assert not result.ok and "unsafe" in result.status_message.lower() and result.refused


def test_a_runaway_loop_in_a_docx_template_is_stopped_by_the_time_limit():
    template = word_template("{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}")
    result = Engine(time_limit_seconds=0.5).run(word_dap(OFFER_STEPS, template), {"name": "A", "amount": 1}, CTX)
    assert not result.ok and "took longer than 0.5 s" in result.status_message


def word_template(body: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(body)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_docx_template_syntax_error_is_refused_at_upload():
    with pytest.raises(DapError) as refused:
        word_dap(OFFER_STEPS, word_template("{{ param.name | }}"))
    assert any(e.startswith("templates/offer.docx: word/document.xml line 1") for e in refused.value.errors), (
        refused.value.errors
    )


def rezip(source: bytes, extra: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w", compression) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
        for name, content in (extra or {}).items():
            new.writestr(name, content)
    return out.getvalue()


def with_symlink(source: bytes) -> bytes:
    out = io.BytesIO(rezip(source))
    with zipfile.ZipFile(out, "a") as archive:
        link = zipfile.ZipInfo("word/media/link")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    return out.getvalue()


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (rezip(OFFER_DOCX, {f"x/{i}": b"" for i in range(200)}), "entries, more than the limit of 200"),
        (rezip(OFFER_DOCX, {"word/ratio.xml": b"a" * (3 * 1024 * 1024)}), "possible zip bomb"),
        (rezip(OFFER_DOCX, {"../evil.xml": b"x"}), "'..' in path"),
        (rezip(OFFER_DOCX, {"/abs.xml": b"x"}), "absolute path"),
        (with_symlink(OFFER_DOCX), "symbolic links are not allowed"),
        (OFFER_DOCX + b"trailing", "data after the end of the zip archive"),
        (b"not a zip at all", "not a valid zip archive"),
        (build_zip({"a.txt": "x"}), "not a Word document"),
    ],
    ids=["entries", "ratio", "dotdot", "absolute", "symlink", "trailing", "not-zip", "not-word"],
)
def test_a_hostile_docx_is_refused_at_upload_before_it_is_expanded(template, problem):
    with pytest.raises(DapError) as refused:
        word_dap(OFFER_STEPS, template)
    assert any(e.startswith("templates/offer.docx: ") and problem in e for e in refused.value.errors), refused.value.errors


def test_a_docx_entry_over_the_entry_limit_is_refused_unread():
    # Hex text deflates to about half: the DOCX stays under the limit, its entry does not.
    template = rezip(OFFER_DOCX, {"word/big.bin": random.Random(0).randbytes(120_000).hex().encode()})
    manifest = f"name: W\nsteps:\n{OFFER_STEPS}"
    with pytest.raises(DapError) as refused:
        load_dap(build_zip({"dap.yaml": manifest, "templates/offer.docx": template}), DapLimits(max_entry_bytes=200_000))
    assert any("templates/offer.docx: entry 'word/big.bin': larger than the entry limit" in e for e in refused.value.errors)


def test_the_offer_docx_example_loads_and_renders_its_word_and_html_parts():
    dap = load_dap(pack_directory(ROOT / "examples" / "offer-docx"))
    # Without a converter the DOCX -> PDF step fails; with one, see tests/integration/test_converter.py.
    result = Engine().run(dap, {"name": "Globex", "amount": 2000}, CTX)
    assert not result.ok and "DOCX to PDF conversion is not available" in result.status_message
    assert any("Composed 'templates/offer.docx' as 'offer'" in e.message for e in result.logs)


def test_a_rendered_part_python_docx_cannot_parse_is_caught():
    from tasklane.dap.docx import docx_problem

    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(OFFER_DOCX)) as source, zipfile.ZipFile(broken, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(info.filename, b"<w:document><w:body>" if info.filename == "word/document.xml" else data)
    assert docx_problem(OFFER_DOCX, OFFER_DOCX) is None
    problem = docx_problem(broken.getvalue(), OFFER_DOCX)
    assert problem is not None and "does not open as a Word document" in problem
    assert docx_problem(b"PK\x05\x06" + b"\0" * 18, OFFER_DOCX) is not None


def test_renders_of_one_template_do_not_leak_into_each_other():
    engine, dap = Engine(), word_dap(OFFER_STEPS)
    first = engine.run(dap, {"name": "First", "amount": 1}, CTX)
    second = engine.run(dap, {"name": "Second", "amount": 2}, CTX)
    assert "Offer for First" in docx_text(first.documents[0].content)
    text = docx_text(second.documents[0].content)
    assert "Offer for Second" in text and "First" not in text


def replace_part(source: bytes, name: str, transform) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info.filename, transform(data) if info.filename == name else data)
    return out.getvalue()


def test_tags_that_never_close_are_refused_quickly_before_docxtpl_scans_them():
    # docxtpl's regexes take quadratic time on these, in C code no time limit can interrupt.
    started = time.monotonic()
    for template in (
        word_template("{{p " * 8000),
        # The same in a part that is not the body (a header), found by the scan of every part.
        rezip(OFFER_DOCX, {"word/header9.xml": b"<w:hdr>" + b"{{p " * 8000 + b"</w:hdr>"}),
    ):
        with pytest.raises(DapError) as refused:
            word_dap(OFFER_STEPS, template)
        assert any("is not closed before the next" in e for e in refused.value.errors), refused.value.errors
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("part", "transform", "problem"),
    [
        (
            "word/_rels/document.xml.rels",
            lambda data: data.replace(
                b"</Relationships>",
                b'<Relationship Id="rIdX" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"'
                b' Target="http://127.0.0.1:9001/secret" TargetMode="External"/></Relationships>',
            ),
            "a link to an outside file (image)",
        ),
        (
            "word/_rels/document.xml.rels",
            lambda data: data.replace(
                b"</Relationships>",
                b'<Relationship Id="rIdY" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk"'
                b' Target="other.docx"/></Relationships>',
            ),
            "an embedded document (aFChunk)",
        ),
        (
            "word/document.xml",
            lambda data: data.replace(
                b"</w:body>",
                b'<w:p><w:r><w:instrText xml:space="preserve"> INCLUDEPICTURE "http://127.0.0.1/x.png" </w:instrText></w:r></w:p></w:body>',
            ),
            "a field that reads another file or URL",
        ),
    ],
    ids=["external-image", "altchunk", "includepicture"],
)
def test_links_libreoffice_would_follow_are_refused_at_upload(part, transform, problem):
    with pytest.raises(DapError) as refused:
        word_dap(OFFER_STEPS, replace_part(OFFER_DOCX, part, transform))
    assert any(problem in e for e in refused.value.errors), refused.value.errors


def test_a_hyperlink_stays_allowed():
    template = replace_part(
        OFFER_DOCX,
        "word/_rels/document.xml.rels",
        lambda data: data.replace(
            b"</Relationships>",
            b'<Relationship Id="rIdZ" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"'
            b' Target="https://example.com/" TargetMode="External"/></Relationships>',
        ),
    )
    assert word_dap(OFFER_STEPS, template).name == "W"


def test_after_a_conversion_the_run_still_ends_within_the_invocations_time():
    steps = OFFER_STEPS + (
        "  - convert: {from: offer, to: pdf, as: offerPdf}\n"
        "  - set: {as: spin, value: \"range(10**5) | map('string') | map('length') | sum + range(10**5) | map('string') | map('length') | sum\"}\n"
        "  - compose: {template: templates/offer.docx, as: again, foreach: \"range(100) | list\"}\n"
    )
    engine = Engine(converter=PatientConverter(seconds=1.2), time_limit_seconds=10)
    started = time.monotonic()
    result = engine.run(word_dap(steps), {"name": "A", "amount": 1}, CTX, time_left=2.0)
    # The template's clock stopped for the 1.2 s conversion, but the invocation's 2 s still holds:
    # the run ends near 2 s, where a clock that forgot the invocation would end past 3.2 s (the
    # margin between is wide enough for a loaded machine; 0.4 s was not).
    assert not result.ok and "took longer than" in result.status_message
    assert time.monotonic() - started < 2.7
