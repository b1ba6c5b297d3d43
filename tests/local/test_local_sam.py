"""What `sam local invoke` and `sam local start-api` need from this repository, checked without Docker.

Docker is not on these machines, so the pieces are checked one by one: samconfig.toml's local sections
(options the SAM CLI has, values the local stack uses), the env.json the stack writes (every variable of
every function, endpoints a container reaches), the template declaring the endpoint variables, and
moto reachable on a non-loopback interface when asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from tasklane_local import devkeys
from tasklane_local.identity import DEFAULT_REGION
from tasklane_local.stack import CONTAINER_HOST, ENDPOINT_VARIABLES, SAM_ENV_FILE
from tasklane_local.template import load_template
from tests.support import local_stack_process, wait_for

ROOT = Path(__file__).parents[2]
SAM = ROOT / ".venv-tools" / "bin" / "sam"
TEMPLATE = load_template(ROOT / "template.yaml")
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
SECTIONS = {"local_invoke": ["local", "invoke"], "local_start_api": ["local", "start-api"]}


def non_loopback_address() -> str:
    """One of this machine's IPv4 addresses beyond loopback: the one on its default route (no packet is
    sent: a UDP connect only picks it), else one its host name resolves to."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        found += [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    beyond = [address for address in found if not address.startswith("127.")]
    assert beyond, f"this machine has no IPv4 address beyond loopback (found {found})"
    return beyond[0]


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_samconfig_local_options_are_ones_the_sam_cli_has(section):
    assert SAM.exists(), "make tools installs the SAM CLI into .venv-tools"
    shown = subprocess.run([str(SAM), *SECTIONS[section], "--help"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, check=True).stdout
    options = set(re.findall(r"--([a-z][a-z-]+)", shown))
    keys = SAMCONFIG["default"][section]["parameters"]
    assert {key.replace("_", "-") for key in keys} <= options


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_samconfig_local_values_are_the_local_stacks(section):
    given = SAMCONFIG["default"][section]["parameters"]
    assert given["env_vars"] == f".tasklane/{SAM_ENV_FILE}"
    assert given["region"] == DEFAULT_REGION
    assert f"{CONTAINER_HOST}:host-gateway" in given["add_host"]
    overrides = dict(pair.split("=", 1) for pair in shlex.split(given["parameter_overrides"]))
    # Every parameter without a Default needs a value, or sam local refuses to start.
    required = {name for name, parameter in TEMPLATE.parameters.items() if parameter.default is None}
    assert required <= set(overrides)
    assert overrides["JwtIssuer"] == devkeys.DEV_ISSUER and overrides["JwtAudience"] == devkeys.DEV_AUDIENCE


def test_every_function_declares_the_sdk_endpoint_variables_empty():
    # SAM's --env-vars sets only declared variables; on AWS they stay empty.
    for function in TEMPLATE.functions.values():
        assert {name: function.environment.get(name) for name in ENDPOINT_VARIABLES} == dict.fromkeys(ENDPOINT_VARIABLES, "")


def test_an_empty_endpoint_variable_is_aws_own_endpoint(monkeypatch):
    for name in ENDPOINT_VARIABLES:
        monkeypatch.setenv(name, "")
    assert boto3.client("s3", region_name="eu-west-1").meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
    assert boto3.client("lambda", region_name="eu-west-1").meta.endpoint_url == "https://lambda.eu-west-1.amazonaws.com"


@contextlib.contextmanager
def _local(cwd: Path, *args: str) -> Iterator[Path]:
    """The running stack's state folder; its banner is in banner.txt there once it has printed it."""
    with local_stack_process(cwd, "--no-worker", *args, "--template", str(ROOT / "template.yaml")) as stack:
        wait_for(lambda: "Ctrl-C to stop." in stack.output()[0], what="the banner")
        (cwd / ".tasklane" / "banner.txt").write_text(stack.output()[0])
        yield cwd / ".tasklane"


@pytest.fixture(scope="module")
def reachable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with _local(tmp_path_factory.mktemp("reachable"), "--aws-host", "0.0.0.0") as state_dir:
        yield state_dir


def test_env_json_gives_every_function_each_variable_it_declares(reachable):
    written = json.loads((reachable / SAM_ENV_FILE).read_text())
    assert set(written) == set(TEMPLATE.functions)
    for logical_id, function in TEMPLATE.functions.items():
        assert set(written[logical_id]) == set(function.environment), logical_id
        assert all(isinstance(value, str) for value in written[logical_id].values())


def test_env_json_points_containers_at_the_host_and_the_host_answers_beyond_loopback(reachable):
    state = json.loads((reachable / "local.json").read_text())
    written = json.loads((reachable / SAM_ENV_FILE).read_text())
    moto_port = state["aws_endpoint"].rsplit(":", 1)[1]
    assert written["PostTaskFunction"]["AWS_ENDPOINT_URL"] == f"http://{CONTAINER_HOST}:{moto_port}"
    jwks_url = written["AuthorizerFunction"]["JWT_JWKS_URL"]
    lambda_url = written["WorkerFunction"]["AWS_ENDPOINT_URL_LAMBDA"]
    assert jwks_url.startswith(f"http://{CONTAINER_HOST}:") and lambda_url.startswith(f"http://{CONTAINER_HOST}:")
    assert "127.0.0.1" not in json.dumps(written)
    # What host.docker.internal (the host-gateway address) reaches: this machine beyond loopback.
    address = non_loopback_address()
    sqs = boto3.client("sqs", endpoint_url=f"http://{address}:{moto_port}", region_name=state["region"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    assert any(url.lower().endswith("/tasklane-taskqueue") for url in sqs.list_queues()["QueueUrls"])
    keys = requests.get(jwks_url.replace(CONTAINER_HOST, address), timeout=10)
    assert keys.status_code == 200 and keys.json()["keys"]


def test_listening_on_every_interface_is_said_in_the_banner(reachable):
    banner = (reachable / "banner.txt").read_text()
    assert "Warning:" in banner and "anyone who reaches this machine can read the stack's data" in banner


def test_without_aws_host_moto_stays_on_loopback(tmp_path):
    with _local(tmp_path) as state_dir:
        port = json.loads((state_dir / "local.json").read_text())["aws_endpoint"].rsplit(":", 1)[1]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{non_loopback_address()}:{port}/", timeout=5)
        assert (state_dir / SAM_ENV_FILE).exists()  # written anyway; the banner says how to make it reachable
        banner = (state_dir / "banner.txt").read_text()
        assert "--aws-host 172.17.0.1" in banner and "Warning:" not in banner
        assert (state_dir / SAM_ENV_FILE).stat().st_mode & 0o077 == 0  # it holds the JwtSecret: owner only
