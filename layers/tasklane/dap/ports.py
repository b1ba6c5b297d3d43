"""What the engine needs from outside, as small interfaces: the caller passes implementations in.

The engine itself reaches no network and no other process: a DOCX is converted to PDF by a
`Converter` (LibreOffice, in a function of its own on AWS), and `record`/`query`/`attachTo` go
through the task's `DataSource` (the Salesforce integration).
"""

from __future__ import annotations

from typing import Any, Protocol


class ConversionTimeout(Exception):
    """The conversion passed its deadline; the converter was stopped (the next conversion starts it)."""


class ConversionFailed(Exception):
    """The converter could not read the document or write a PDF."""


class Converter(Protocol):
    def docx_to_pdf(self, content: bytes, deadline_seconds: float) -> bytes: ...


class DataSourceError(Exception):
    """An integration call failed; the message says why and is safe to show to the caller."""


class RecordNotFound(DataSourceError):
    pass


class DataSource(Protocol):
    def record(self, type_: str, id_: str, fields: list[str]) -> dict[str, Any]: ...

    def query(self, soql: str) -> list[dict[str, Any]]: ...

    def attach(self, record_id: str, filename: str, content: bytes, marker: str, check_first: bool) -> str:
        """Attach a stored result to a record (the worker calls it, after storing); returns its id there."""
        ...
