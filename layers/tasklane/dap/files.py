"""File names and content types of stored results."""

from __future__ import annotations

import mimetypes
import re
import unicodedata

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"
MAX_FILENAME_CHARS = 200
# Portable basename: path separators plus characters Windows and Content-Disposition choke on.
_UNSAFE_FILENAME_CHARS = re.compile(r'[/\\<>:"|?*]')
_TEXT_LIKE_TYPES = frozenset(
    {"application/json", "application/xml", "application/xhtml+xml", "application/javascript", "image/svg+xml"}
)
# A private instance uses Python's built-in table only, so results don't depend on the host's /etc/mime.types.
_MIME = mimetypes.MimeTypes()


def safe_filename(raw: str, fallback: str) -> str:
    name = "".join(ch for ch in raw if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE_FILENAME_CHARS.sub("_", name).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    return name or fallback


def guess_content_type(filename: str) -> str:
    guessed, encoding = _MIME.guess_type(filename, strict=False)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in _TEXT_LIKE_TYPES:
        return f"{guessed}; charset=utf-8"
    return guessed
