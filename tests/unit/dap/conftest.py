from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable, Mapping

import pytest
from tasklane.dap import Dap, DapLimits, load_dap

BuildZip = Callable[..., bytes]
MakeDap = Callable[..., Dap]


def build_zip(entries: Mapping[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture
def zip_of() -> BuildZip:
    return build_zip


@pytest.fixture
def make_dap() -> MakeDap:
    """make_dap(manifest_yaml, {path: template}, **DapLimits fields) -> loaded Dap."""

    def make(manifest: str, templates: Mapping[str, str | bytes], **limits: int) -> Dap:
        entries = {"dap.yaml": textwrap.dedent(manifest), **templates}
        return load_dap(build_zip(entries), DapLimits(**limits))

    return make
