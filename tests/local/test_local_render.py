"""`tasklane render`: a DAP run on params in this process, its results written to a folder."""

from __future__ import annotations

import json

from tasklane_local import cli
from tasklane_local.render import parse_params
from tests.support import EXAMPLE_DAP_DIR, ROOT

import pytest


def test_render_writes_the_sample_dap_s_result_and_shows_nested_params_as_json(tmp_path, capsys):
    params = json.dumps({"additionalData": {"data1": "abc", "data2": {"data3": "xyz"}}})
    out = tmp_path / "out"
    code = cli.main(["render", str(ROOT / "examples" / "account-profile.dap"), "--param", "id=001",
                     "--param", "name=Acme", "--param", "amount:=12.5", "--params", params, "--out", str(out)])
    assert code == 0
    html = (out / "profile-001.html").read_text(encoding="utf-8")
    assert "<h1>Acme</h1>" in html and "12.50" in html
    # A nested value is printed as JSON (tojson: HTML-safe), not as a Python repr.
    assert '<code>{"data3": "xyz"}</code>' in html
    assert "{'data3'" not in html and "&#39;data3&#39;" not in html
    printed = capsys.readouterr().out
    assert f"wrote {out / 'profile-001.html'}" in printed
    assert "Stored 'Profile'" in printed


def test_render_takes_the_dap_folder_as_well_as_the_zip(tmp_path):
    assert cli.main(["render", str(EXAMPLE_DAP_DIR), "--param", "id=7", "--param", "name=G", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "profile-7.html").is_file()


def test_render_checks_params_as_the_api_does_and_writes_nothing(tmp_path, capsys):
    code = cli.main(["render", str(EXAMPLE_DAP_DIR), "--param", "id:=1", "--out", str(tmp_path / "out")])
    assert code == 2
    error = capsys.readouterr().err
    assert "params.id: Param 'id' must be a string, got integer" in error
    assert "params.name: Missing required param 'name'" in error
    assert not (tmp_path / "out").exists()


def test_a_step_that_needs_salesforce_fails_the_render_saying_why(tmp_path, capsys):
    code = cli.main(["render", str(ROOT / "examples" / "account-summary"), "--param", "id=001", "--out", str(tmp_path)])
    assert code == 1
    assert "the task has no integration to read records through" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_dap_is_refused_with_the_reason(tmp_path, capsys):
    (tmp_path / "bad.dap").write_bytes(b"not a zip")
    assert cli.main(["render", str(tmp_path / "bad.dap")]) == 2
    assert "Invalid DAP" in capsys.readouterr().err
    assert cli.main(["render", str(tmp_path / "missing.dap")]) == 2
    assert "no such DAP file or folder" in capsys.readouterr().err


def test_param_spelling_text_json_and_files(tmp_path):
    (tmp_path / "p.json").write_text('{"a": 1, "b": "x"}', encoding="utf-8")
    assert parse_params(f"@{tmp_path / 'p.json'}", ["b=2", "c:=[1, 2]", "d=a=b"]) == {"a": 1, "b": "2", "c": [1, 2], "d": "a=b"}
    for bad in (["nope"], ["=x"], ["x:=nope"], [":=1"]):
        with pytest.raises(Exception, match="--param"):
            parse_params(None, bad)
    with pytest.raises(Exception, match="JSON object"):
        parse_params("[1]", [])
