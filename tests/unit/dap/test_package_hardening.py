"""Untrusted packages that used to crash the upload check (HTTP 500) or slip through it."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from tasklane.dap import DapError, load_dap
from tasklane.dap.package import MAX_MANIFEST_DEPTH

from .conftest import build_zip

STEPS = "steps:\n  - compose: {template: page.txt, as: page}\n"
MANIFEST = "name: X\n" + STEPS


def errors_of(data: bytes) -> list[str]:
    with pytest.raises(DapError) as info:
        load_dap(data)
    return info.value.errors


def package(manifest: str = MANIFEST, page: str = "x") -> bytes:
    return build_zip({"dap.yaml": manifest, "page.txt": page})


@pytest.mark.parametrize(
    "manifest",
    [
        "name: X\ndescription: " + "[" * 5000 + "]" * 5000 + "\n" + STEPS,
        "name: X\ndescription: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n" + STEPS,
        "name: X\ndescription:\n" + "".join(" " * i + "- \n" for i in range(0, 400, 2)) + STEPS,
    ],
)
def test_deeply_nested_yaml_is_refused(manifest):
    [error] = errors_of(package(manifest))
    assert error.startswith("dap.yaml line ")
    assert error.endswith(f": invalid YAML: nested more than {MAX_MANIFEST_DEPTH} levels deep")


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_MANIFEST_DEPTH - 3  # the top-level mapping, `params` and `p` count too
    default = "[" * depth + "]" * depth
    load_dap(package(f"name: X\nparams: {{p: {{type: array, default: {default}}}}}\n" + STEPS))


def test_an_integer_too_long_to_parse_is_refused():
    [error] = errors_of(package(f"name: X\nversion: {'1' * 5000}\n" + STEPS))
    assert error.startswith("dap.yaml line 2: invalid YAML: cannot read this value")


def test_a_value_yaml_cannot_build_is_refused():
    [error] = errors_of(package("name: X\ndescription: 2024-13-45\n" + STEPS))
    assert error.startswith("dap.yaml line 2: invalid YAML: cannot read this value")


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("name: X\nname: Y\n" + STEPS, "dap.yaml line 2: invalid YAML: duplicate key 'name'"),
        ("name: X\nsteps:\n  - compose: {template: page.txt, as: a, as: b}\n",
         "dap.yaml line 3: invalid YAML: duplicate key 'as'"),
        ("name: X\nparams:\n  n: {type: string}\n  n: {type: number}\n" + STEPS,
         "dap.yaml line 4: invalid YAML: duplicate key 'n'"),
    ],
)
def test_duplicate_keys_are_refused(manifest, expected):
    assert errors_of(package(manifest)) == [expected]


@pytest.mark.parametrize(
    "page",
    [
        # small enough not to look like a zip bomb, deep enough to exhaust Python's recursion limit
        "{% if x %}" * 1000 + "{% endif %}" * 1000,
        "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}",
        "{{ " + "not " * 1000 + "x }}",
        "{% for x in y %}" * 25 + "{% endfor %}" * 25,  # Python: too many statically nested blocks
        "{% if x %}" * 120 + "{% endif %}" * 120,  # Python: too many levels of indentation
    ],
)
def test_deeply_nested_templates_are_refused(page):
    assert errors_of(package(page=page)) == ["page.txt: the template is nested too deeply"]


def test_a_template_that_cannot_be_compiled_is_refused():
    [error] = errors_of(package(page="{{ " + "1" * 5000 + " }}"))
    assert error.startswith("page.txt: the template cannot be compiled (ValueError: Exceeds the limit")


def test_a_filename_template_nested_too_deeply_is_refused():
    manifest = MANIFEST + "  - store: {from: page, id: A, filename: '" + "{{ " + "(" * 300 + "1" + ")" * 300 + " }}'}\n"
    assert errors_of(package(manifest)) == ["dap.yaml: steps.1.store.filename: the template is nested too deeply"]


LAYOUT = "package has data before the zip archive or between its entries and its directory"


def test_junk_before_the_archive_is_refused():
    assert errors_of(b"#!/bin/sh\nexit 0\n" + package()) == [LAYOUT]


def test_junk_before_the_archive_with_adjusted_offsets_is_refused():
    # `zip -A` style: the offsets count the prefix, so zipfile sees no concatenation at all.
    prefix = b"MZ" + b"\0" * 62
    buffer = io.BytesIO()
    buffer.write(prefix)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("dap.yaml", MANIFEST)
        archive.writestr("page.txt", "x")
    assert errors_of(buffer.getvalue()) == [LAYOUT]


def test_a_directory_offset_that_does_not_match_is_refused():
    data = bytearray(package())
    eocd = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<LL", data, eocd + 12)
    struct.pack_into("<L", data, eocd + 16, offset - 1)  # zipfile compensates; other readers would not
    assert errors_of(bytes(data)) == [LAYOUT]


def test_junk_after_the_archive_is_refused():
    assert errors_of(package() + b"trailing") == ["package has data after the end of the zip archive"]


def test_a_zip64_package_loads(monkeypatch):
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)  # makes zipfile write the zip64 end records
    data = package()
    assert b"PK\x06\x06" in data
    assert load_dap(data).name == "X"


def test_a_comment_is_fine():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dap.yaml", MANIFEST)
        archive.writestr("page.txt", "x")
        archive.comment = b"built by hand"
    assert load_dap(buffer.getvalue()).name == "X"
