from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import textwrap
import warnings
import zipfile

import pytest
from tasklane.dap import ComposeStep, Dap, DapError, DapLimits, StoreStep, load_dap

MANIFEST = """
name: Simple
params:
  id: {type: string, required: true}
  amount: {type: number}
steps:
  - compose: {template: templates/page.html, as: page}
  - store: {from: page, id: Page, filename: "page-{{ param.id }}.html"}
"""
PAGE = "<p>{{ param.id }}</p>"


def entries(manifest: str = MANIFEST, **files: str | bytes) -> dict[str, str | bytes]:
    return {"dap.yaml": textwrap.dedent(manifest), "templates/page.html": PAGE, **files}


def errors_of(data: bytes, limits: DapLimits | None = None) -> list[str]:
    with pytest.raises(DapError) as info:
        load_dap(data, limits or DapLimits())
    assert info.value.errors, "DapError must list its problems"
    return info.value.errors


def assert_error(errors: list[str], *fragments: str) -> None:
    assert any(all(f in e for f in fragments) for e in errors), errors


def patch_sizes(data: bytes, name: str, *, file_size: int | None = None, flags: int | None = None) -> bytes:
    """Rewrites a member's local and central headers (what an attacker controls)."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, flags_at, usize_at, name_at in ((b"PK\x03\x04", 6, 22, 30), (b"PK\x01\x02", 8, 24, 46)):
        start = 0
        while (pos := out.find(signature, start)) != -1:
            start = pos + 4
            if out[pos + name_at : pos + name_at + len(encoded)] != encoded:
                continue
            if file_size is not None:
                struct.pack_into("<I", out, pos + usize_at, file_size)
            if flags is not None:
                struct.pack_into("<H", out, pos + flags_at, flags)
    return bytes(out)


def test_valid_package_loads(zip_of):
    data = zip_of(entries(**{"templates/": b"", "README.txt": "hello"}))
    dap = load_dap(data)
    assert isinstance(dap, Dap)
    assert dap.name == "Simple"
    assert dap.sha256 == hashlib.sha256(data).hexdigest()
    assert dap.files["templates/page.html"] == PAGE.encode()
    assert "templates/" not in dap.files
    assert [type(s) for s in dap.manifest.steps] == [ComposeStep, StoreStep]
    assert dap.manifest.params["id"].required and dap.manifest.params["amount"].type == "number"
    with pytest.raises(TypeError):
        dap.files["x"] = b""  # type: ignore[index]


def test_stored_and_bare_params_are_accepted(zip_of):
    manifest = """
    name: Bare
    version: 1
    description: params with no spec default to optional strings
    params:
      id:
    steps:
      - compose: {template: templates/page.html, as: page}
    """
    dap = load_dap(zip_of(entries(manifest), compression=zipfile.ZIP_STORED))
    assert dap.manifest.params["id"].type == "string" and not dap.manifest.params["id"].required


def test_not_a_zip():
    assert_error(errors_of(b"definitely not a zip"), "not a valid zip")


def test_zip_larger_than_limit(zip_of):
    data = zip_of(entries())
    assert_error(errors_of(data, DapLimits(max_zip_bytes=len(data) - 1)), "larger than the limit")


def test_missing_manifest(zip_of):
    assert_error(errors_of(zip_of({"templates/page.html": PAGE})), "dap.yaml", "missing")


def test_manifest_must_be_at_root(zip_of):
    assert_error(errors_of(zip_of({"sub/dap.yaml": MANIFEST, "templates/page.html": PAGE})), "dap.yaml", "missing")


@pytest.mark.parametrize(
    "name",
    [
        "../evil.html",
        "templates/../../evil.html",
        "/etc/passwd",
        "templates\\page.html",
        "C:/evil.html",
        "c:evil.html",
        "a//b.html",
        "./a.html",
    ],
)
def test_unsafe_entry_names_are_rejected(zip_of, name):
    assert_error(errors_of(zip_of(entries(**{name: "x"}))), repr(name))


def test_symlink_entry_is_rejected():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries().items():
            archive.writestr(name, content)
        link = zipfile.ZipInfo("templates/link.html")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert_error(errors_of(buffer.getvalue()), "templates/link.html", "symbolic link")


def test_encrypted_entry_is_rejected(zip_of):
    data = patch_sizes(zip_of(entries(**{"secret.txt": "x"})), "secret.txt", flags=0x1)
    assert_error(errors_of(data), "secret.txt", "encrypted")


def test_duplicate_entries_are_rejected():
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")
        for name, content in entries().items():
            archive.writestr(name, content)
        archive.writestr("templates/page.html", "again")
    assert_error(errors_of(buffer.getvalue()), "templates/page.html", "duplicate")


def test_too_many_entries(zip_of):
    data = zip_of(entries(**{f"extra{i}.txt": "x" for i in range(3)}))
    assert_error(errors_of(data, DapLimits(max_entries=4)), "5 entries", "limit of 4")


def test_oversize_entry(zip_of):
    data = zip_of(entries(**{"big.txt": os.urandom(2000)}))
    assert_error(errors_of(data, DapLimits(max_entry_bytes=1000)), "big.txt", "entry limit")


def test_total_size_limit(zip_of):
    data = zip_of(entries(**{f"part{i}.bin": os.urandom(400) for i in range(3)}))
    assert_error(errors_of(data, DapLimits(max_total_bytes=1000)), "total uncompressed size")


def test_zip_bomb_ratio(zip_of):
    data = zip_of(entries(**{"bomb.txt": b"\0" * (1024 * 1024)}))
    assert len(data) < 10_000
    assert_error(errors_of(data), "bomb.txt", "compression ratio")


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_lying_header_sizes_are_not_trusted(zip_of, compression):
    data = zip_of(entries(**{"big.bin": os.urandom(50_000)}), compression=compression)
    lying = patch_sizes(data, "big.bin", file_size=10)
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("big.bin").file_size == 10
    assert_error(errors_of(lying), "big.bin")


def test_entries_are_read_with_a_cap(zip_of, monkeypatch):
    requested: list[int] = []
    original = zipfile.ZipExtFile.read

    def spy(self, n=-1):
        requested.append(n)
        return original(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", spy)
    limits = DapLimits(max_entry_bytes=4096)
    load_dap(zip_of(entries(**{"small.txt": "x" * 100})), limits)
    assert requested and all(0 <= n <= limits.max_entry_bytes + 1 for n in requested)


def test_unsupported_compression_is_rejected(zip_of):
    data = zip_of(entries(**{"x.txt": "hello"}), compression=zipfile.ZIP_BZIP2)
    assert_error(errors_of(data), "compression method")


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        ("name: [unclosed", "invalid YAML"),
        ("- just\n- a list", "must be a mapping"),
        ("name: &a x\ndescription: *a\nsteps: []", "aliases"),
    ],
)
def test_bad_yaml(zip_of, manifest, fragment):
    assert_error(errors_of(zip_of(entries(manifest))), "dap.yaml", fragment)


@pytest.mark.parametrize(
    ("manifest", "fragments"),
    [
        (
            "name: X\nsteps:\n  - render: {template: templates/page.html, as: page}",
            ("dap.yaml: steps.0:", "unknown step kind 'render'"),
        ),
        (
            "name: X\nsteps:\n  - compose: {template: templates/page.html, as: page}\n    store: {from: page, id: A}",
            ("steps.0:", "exactly one key"),
        ),
        (
            "name: X\nsteps:\n  - compose: {tempalte: templates/page.html, as: page}",
            ("steps.0.compose.tempalte: unknown key",),
        ),
        ("name: X\nsteps:\n  - compose: {template: templates/page.html, as: page}\nextra: 1", ("extra: unknown key",)),
        ("name: X\nsteps: []", ("steps:",)),
        ("steps:\n  - compose: {template: templates/page.html, as: page}", ("name: required key is missing",)),
        ("name: X\nversion: 2\nsteps:\n  - compose: {template: templates/page.html, as: page}", ("version:",)),
        (
            "name: X\nparams: {n: {type: float}}\nsteps:\n  - compose: {template: templates/page.html, as: page}",
            ("params.n.type:",),
        ),
        (
            "name: X\nparams: {n: {type: number, default: abc}}\nsteps:\n  - compose: {template: templates/page.html, as: page}",
            ("params.n:", "default 'abc' is not of type 'number'"),
        ),
        (
            "name: X\nsteps:\n  - compose: {template: templates/page.html, as: param}",
            ("steps.0.compose.as:", "reserved"),
        ),
        (
            "name: X\nsteps:\n  - compose: {template: templates/page.html, as: 1bad}",
            ("steps.0.compose.as:", "not a valid name"),
        ),
        ("name: X\nsteps:\n  - compose: {template: ../page.html, as: page}", ("steps.0.compose.template:",)),
    ],
)
def test_invalid_manifest(zip_of, manifest, fragments):
    assert_error(errors_of(zip_of(entries(manifest))), *fragments)


@pytest.mark.parametrize(
    ("store", "fragment"),
    [
        ("id: 'bad/id'", "steps.1.store.id:"),
        ('id: "Page\\n"', "steps.1.store.id:"),
        ('id: A, content_type: "text/html\\r\\nX-Evil: 1"', "steps.1.store.content_type:"),
        ('id: A, content_type: "text/html;\\r\\nX-Evil: 1"', "steps.1.store.content_type:"),
        ("id: A, filename: ''", "steps.1.store.filename:"),
        ("id: A, form: page", "steps.1.store.form: unknown key"),
    ],
)
def test_invalid_store_step(zip_of, store, fragment):
    manifest = (
        f"name: X\nsteps:\n  - compose: {{template: templates/page.html, as: page}}\n  - store: {{from: page, {store}}}"
    )
    assert_error(errors_of(zip_of(entries(manifest))), fragment)


def test_store_from_unknown_output(zip_of):
    manifest = "name: X\nsteps:\n  - compose: {template: templates/page.html, as: page}\n  - store: {from: x, id: A}"
    assert "dap.yaml: steps.1.store.from: 'x' is not an earlier compose or convert output" in errors_of(zip_of(entries(manifest)))


def test_store_from_later_compose(zip_of):
    manifest = "name: X\nsteps:\n  - store: {from: page, id: A}\n  - compose: {template: templates/page.html, as: page}"
    assert_error(errors_of(zip_of(entries(manifest))), "steps.0.store.from: 'page' is not an earlier compose or convert output")


def test_duplicate_names_and_ids(zip_of):
    manifest = """
    name: X
    steps:
      - compose: {template: templates/page.html, as: page}
      - compose: {template: templates/page.html, as: page}
      - store: {from: page, id: A}
      - store: {from: page, id: A}
    """
    errors = errors_of(zip_of(entries(manifest)))
    assert_error(errors, "steps.1.compose.as", "already used")
    assert_error(errors, "steps.3.store.id", "already used")


def test_missing_template_file(zip_of):
    manifest = "name: X\nsteps:\n  - compose: {template: templates/nope.html, as: page}"
    assert_error(
        errors_of(zip_of(entries(manifest))), "steps.0.compose.template", "'templates/nope.html' is not in the package"
    )


def test_template_syntax_error_reports_file_and_line(zip_of):
    errors = errors_of(zip_of(entries(**{"templates/page.html": "ok\n{% if x %}\n{{ }}\n"})))
    assert_error(errors, "templates/page.html line 3")


def test_unknown_filter_is_a_load_error(zip_of):
    assert_error(
        errors_of(zip_of(entries(**{"templates/page.html": "{{ x | nosuchfilter }}"}))),
        "templates/page.html line 1",
        "nosuchfilter",
    )


def test_included_templates_are_checked(zip_of):
    files = {
        "templates/page.html": "{% include 'templates/part.html' %}{% include 'templates/gone.html' %}",
        "templates/part.html": "{% for %}",
    }
    errors = errors_of(zip_of(entries(**files)))
    assert_error(errors, "templates/part.html line 1")
    assert_error(errors, "templates/page.html", "'templates/gone.html'", "not in the package")


def test_include_ignore_missing_is_allowed(zip_of):
    load_dap(zip_of(entries(**{"templates/page.html": "{% include 'templates/opt.html' ignore missing %}"})))


def test_filename_template_syntax_error(zip_of):
    manifest = "name: X\nsteps:\n  - compose: {template: templates/page.html, as: page}\n  - store: {from: page, id: A, filename: '{{ oops'}"
    assert_error(errors_of(zip_of(entries(manifest))), "dap.yaml: steps.1.store.filename line 1")


def test_every_problem_is_listed(zip_of):
    manifest = "name: X\nsteps:\n  - compose: {template: templates/nope.html, as: page}"
    errors = errors_of(zip_of(entries(manifest, **{"../evil": "x", "templates/bad.html": b"\xff\xfe{{"})))
    assert_error(errors, "'../evil'")
    assert_error(errors, "templates/nope.html", "not in the package")
    assert len(errors) >= 2


def test_dap_error_str_lists_errors():
    error = DapError("Invalid DAP package", ["a: one", "b: two"])
    assert error.errors == ["a: one", "b: two"]
    assert "a: one" in str(error) and "b: two" in str(error)
