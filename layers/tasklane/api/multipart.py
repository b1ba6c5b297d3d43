"""multipart/form-data bodies, parsed with python-multipart's streaming parser."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from tasklane.domain.errors import BadRequest

MAX_PARTS = 1100


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytearray = field(default_factory=bytearray)


def boundary_of(content_type: str) -> bytes:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data needs a boundary parameter in Content-Type")
    return boundary


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Every part with its headers; a part without a name, or a malformed body, is a 400."""
    parts: list[Part] = []
    headers: dict[bytes, bytes] = {}
    header_field = bytearray()
    header_value = bytearray()
    current: list[Part] = []

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).strip().lower()] = bytes(header_value).strip()
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name")
        if name is None:
            raise BadRequest("Every multipart part needs Content-Disposition: form-data; name=\"...\"")
        if len(parts) >= MAX_PARTS:
            raise BadRequest(f"Too many multipart parts: at most {MAX_PARTS}")
        filename = disposition.get(b"filename")
        content = parse_options_header(headers.get(b"content-type", b""))[0].decode("latin-1")
        current[:] = [
            Part(
                name=name.decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=content,
            )
        ]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current[0].data.extend(data[start:end])

    def on_part_end() -> None:
        parts.append(current.pop())

    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as error:
        raise BadRequest(f"Malformed multipart body: {error}") from error
    if not parts:
        raise BadRequest("The multipart body has no parts")
    return parts
