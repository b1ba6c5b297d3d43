"""PDF output: HTML -> PDF inside the engine (fpdf2), and the check that any PDF parses (pypdf).

fpdf2 is pure Python and needs no system packages, so it runs in the worker's Lambda as it is.
It lays out simple HTML (headings, paragraphs, b/i/u, lists, tables, links, <br>, <hr>, <pre>);
CSS and scripts are ignored, and images are refused (a file path or URL in `src` would reach the
disk or the network). Its built-in fonts hold Latin-1: common typographic characters are written
as their plain equivalents and any other character as `?`, with a WARNING. For anything richer,
compose a DOCX and convert it with LibreOffice.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

from fpdf import FPDF
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .files import PDF_TYPE

__all__ = ["PDF_TYPE", "html_to_pdf", "latin1_text", "pdf_problem"]

# Characters outside Latin-1 that have a plain equivalent.
_PLAIN = str.maketrans(
    {
        "\u2013": "-", "\u2014": "--", "\u2018": "'", "\u2019": "'", "\u201a": ",", "\u201c": '"',
        "\u201d": '"', "\u201e": '"', "\u2026": "...", "\u2022": "\u00b7", "\u20ac": "EUR", "\u2122": "(TM)",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2212": "-",
    }
)
# fpdf2 reports unknown tags on its logger; they are not the caller's concern here.
logging.getLogger("fpdf").setLevel(logging.ERROR)


class _NoImages(FPDF):
    def image(self, name: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("images are not supported in HTML -> PDF (use a DOCX template)")


def latin1_text(html: str) -> tuple[str, int]:
    """The HTML with every character the built-in fonts lack replaced; and how many had no equivalent."""
    plain = html.translate(_PLAIN)
    if plain.isascii() or max(map(ord, plain)) < 256:
        return plain, 0
    missing = sum(1 for ch in plain if ord(ch) > 255)
    return "".join(ch if ord(ch) < 256 else "?" for ch in plain), missing


def html_to_pdf(html: str) -> bytes:
    pdf = _NoImages()
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pdf.write_html(html)
        return bytes(pdf.output())


def pdf_problem(content: bytes) -> str | None:
    """None when the bytes are a PDF whose pages parse; else what is wrong."""
    if not content.startswith(b"%PDF-"):
        return "it does not start with a PDF header"
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if len(reader.pages) == 0:
            return "it has no pages"
        reader.pages[0].mediabox  # noqa: B018 - reading it parses the first page
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return f"it does not parse ({type(exc).__name__}: {exc})"
    return None
