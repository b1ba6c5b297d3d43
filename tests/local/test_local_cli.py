from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import jwt
import pytest
import requests

from tasklane_local import cli, devkeys

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
FIXTURES = HERE / "fixtures"
PYTHONPATH = os.pathsep.join(str(HERE.parents[1] / d) for d in ("layers", "local"))


def test_token_prints_a_dev_jwt(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "template.yaml").write_text("{}")
    monkeypatch.chdir(tmp_path)

    assert cli.main(["token", "--tenant", "acme", "--scope", "a", "--scope", "b", "--ttl", "60"]) == 0

    token = capsys.readouterr().out.strip()
    server = devkeys.JwksServer(tmp_path / ".tasklane")
    try:
        key = jwt.PyJWKClient(server.start()).get_signing_key_from_jwt(token).key
    finally:
        server.stop()
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="tasklane", issuer="tasklane-local")
    assert (claims["tenant"], claims["scope"], claims["exp"] - claims["iat"]) == ("acme", "a b", 60)


def test_token_in_a_subfolder_signs_with_the_checkouts_keys(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "template.yaml").write_text("{}")
    keys = devkeys.ensure_dev_keys(tmp_path / ".tasklane")
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path / "docs")

    assert cli.main(["token", "--tenant", "acme", "--scope", "a"]) == 0

    assert jwt.get_unverified_header(capsys.readouterr().out.strip())["kid"] == keys.kid
    assert not (tmp_path / "docs" / ".tasklane").exists()


def test_token_outside_a_checkout_refuses_rather_than_make_keys_the_stack_does_not_know(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)

    assert cli.main(["token", "--tenant", "acme", "--scope", "a"]) == 2

    assert "not inside a tasklane checkout" in capsys.readouterr().err
    assert not (tmp_path / ".tasklane").exists()


def test_apikey_needs_a_running_stack(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    assert cli.main(["apikey", "create", "--tenant", "acme"]) == 1

    assert "not running" in capsys.readouterr().err


def test_a_state_file_left_by_a_stack_that_died_is_not_a_running_stack(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tasklane").mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = {"aws_endpoint": "http://127.0.0.1:9", "url": "http://127.0.0.1:3000", "region": "us-east-1",
             "pid": int(gone.stdout), "environment": {}}
    (tmp_path / ".tasklane" / "local.json").write_text(json.dumps(state))

    assert cli.main(["apikey", "create", "--tenant", "acme"]) == 1
    assert cli.main(["invoke", "GetLicenseFunction", "-e", str(ROOT / "events" / "get_license.json"),
                     "--template", str(ROOT / "template.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.count("not running") == 2


def test_apikey_runs_the_domain_call_against_the_stack(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    state = tmp_path / ".tasklane"
    state.mkdir()
    (state / "local.json").write_text(
        json.dumps(
            {
                "aws_endpoint": "http://127.0.0.1:9",
                "url": "http://127.0.0.1:3000",
                "region": "eu-west-1",
                "environment": {"TABLE_NAME": "tasklane-statetable"},
            }
        )
    )
    seen = {}

    def create_api_key(tenant: str) -> str:
        seen.update(
            tenant=tenant,
            **{k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "TABLE_NAME", "AWS_DEFAULT_REGION")},
        )
        return "tlk_secret"

    auth = types.ModuleType("tasklane.domain.auth")
    auth.create_api_key = create_api_key  # the lead's domain function, stood in for here
    monkeypatch.setitem(sys.modules, "tasklane.domain.auth", auth)
    before = dict(os.environ)

    assert cli.main(["apikey", "create", "--tenant", "acme"]) == 0

    assert capsys.readouterr().out.strip() == "tlk_secret"
    assert seen == {
        "tenant": "acme",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "TABLE_NAME": "tasklane-statetable",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    assert dict(os.environ) == before


def _start_local(cwd: Path, *extra: str) -> subprocess.Popen[str]:
    """`tasklane local` on a free port, serving the gateway fixture template from `cwd`."""
    return subprocess.Popen(
        [sys.executable, "-m", "tasklane_local.cli", "local", "--port", "0", *extra,
         "--template", str(FIXTURES / "gateway.yaml")],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_local_serves_until_sigint_then_exits_cleanly(tmp_path: Path, wait_for):
    process = _start_local(tmp_path)
    state_file = tmp_path / ".tasklane" / "local.json"
    try:
        wait_for(lambda: state_file.exists() or process.poll() is not None, timeout=30, what="local.json")
        assert process.poll() is None, process.communicate()
        url = json.loads(state_file.read_text())["url"]

        assert requests.get(f"{url}/public", timeout=10).status_code == 200

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, err
    assert f"tasklane API:       {url}" in out
    assert "tasklane token --tenant" in out and "tasklane apikey create --tenant" in out
    assert "AWS (moto) at:      http://127.0.0.1:" in out
    assert "in memory" in out and "gone when this stops" in out  # the banner says what a restart loses
    assert "GET /public" in err  # the access log line
    assert "Found credentials" not in err  # botocore's notice about the stack's own fake credentials
    assert not state_file.exists()


def test_local_stops_on_sigterm(tmp_path: Path, wait_for):
    process = _start_local(tmp_path, "--no-worker")
    state_file = tmp_path / ".tasklane" / "local.json"
    try:
        wait_for(lambda: state_file.exists() or process.poll() is not None, timeout=30, what="local.json")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0
    assert not state_file.exists()


@pytest.mark.parametrize("argv", [[], ["apikey"], ["token", "--tenant", "a"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2


def test_local_reports_a_template_it_cannot_run(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    assert cli.main(["local", "--port", "0", "--template", "missing.yaml"]) == 1

    assert "missing.yaml" in capsys.readouterr().err
    assert not (tmp_path / ".tasklane" / "local.json").exists()


def test_local_names_a_busy_port_and_how_to_take_another(tmp_path: Path, monkeypatch, capsys):
    import socket

    monkeypatch.chdir(tmp_path)
    template = HERE.parents[1] / "template.yaml"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        assert cli.main(["local", "--port", str(port), "--no-worker", "--template", str(template)]) == 1

    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err and f"make run PORT={port + 1}" in err
    assert "Errno" not in err


@pytest.mark.parametrize("argv", [["--tenant", "bad tenant", "--monthly", "5"], ["--tenant", "acme", "--monthly", "-1"]])
def test_quota_set_refuses_bad_input(argv, capsys):
    assert cli.main(["quota", "set", *argv]) == 2
    assert "valid tenant" in capsys.readouterr().err


def test_openapi_writes_the_committed_contract(tmp_path):
    root = HERE.parents[1]
    written = tmp_path / "openapi.json"

    assert cli.main(["openapi", "--template", str(root / "template.yaml"), "--output", str(written)]) == 0
    assert written.read_text(encoding="utf-8") == (root / "docs" / "openapi.json").read_text(encoding="utf-8")


def test_local_says_when_an_aws_host_is_not_this_machines(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # 192.0.2.7 (TEST-NET-1) is no machine's: as Docker's bridge is not, where Docker is missing.
    argv = ["local", "--port", "0", "--no-worker", "--aws-host", "192.0.2.7", "--template", str(ROOT / "template.yaml")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "192.0.2.7 is not an address of this machine" in err and "docker0" in err and "Errno" not in err
