"""examples/account-profile.dap, which the README's curl walk-through uploads, is the zip of its folder."""

from __future__ import annotations

import io
import zipfile

from tasklane.dap import load_dap
from tasklane.dap.pack import pack_directory
from tests.support import EXAMPLE_DAP_DIR, ROOT


def test_example_dap_zip_matches_its_folder():
    committed = (ROOT / "examples" / "account-profile.dap").read_bytes()
    assert committed == pack_directory(EXAMPLE_DAP_DIR), (
        "rebuild it: .venv/bin/python -m tasklane.dap.pack examples/account-profile examples/account-profile.dap"
    )


def test_packing_is_deterministic_and_loads():
    assert pack_directory(EXAMPLE_DAP_DIR) == pack_directory(EXAMPLE_DAP_DIR)
    with zipfile.ZipFile(io.BytesIO(pack_directory(EXAMPLE_DAP_DIR))) as archive:
        assert "dap.yaml" in archive.namelist()
    assert load_dap(pack_directory(EXAMPLE_DAP_DIR)).name == "Account profile"
