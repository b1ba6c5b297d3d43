"""Each function receives exactly the variables its Config reads, and secrets only where needed."""

from __future__ import annotations

import ast

import pytest

from tasklane import config
from tasklane_local.template import load_template
from tests.support import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
SETTINGS = {name: getattr(config, name) for name in dir(config) if name.endswith("Settings")}


def config_variables(app: str) -> set[str]:
    """The variables of the `Config` class functions/<app>/app.py declares, read from its bases."""
    tree = ast.parse((ROOT / "functions" / app / "app.py").read_text())
    [found] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Config"]
    names: set[str] = set()
    for base in found.bases:
        assert isinstance(base, ast.Name) and base.id in SETTINGS, ast.dump(base)
        names |= config.variables(SETTINGS[base.id])
    return names


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions))
def test_the_template_gives_each_function_what_its_config_reads(logical_id):
    function = TEMPLATE.functions[logical_id]
    # Powertools' and the SDK's endpoint variables are read by those libraries, not by Config.
    declared = {name for name in function.environment if not name.startswith(("POWERTOOLS_", "AWS_ENDPOINT_URL"))}
    assert declared == config_variables(function.code_uri.name)


def test_the_jwt_secret_reaches_the_authorizer_only():
    holders = {lid for lid, f in TEMPLATE.functions.items() if "JWT_SECRET" in f.environment}
    assert holders == {"AuthorizerFunction"}


def test_a_missing_setting_fails_when_loaded(monkeypatch):
    monkeypatch.delenv("TABLE_NAME", raising=False)
    config.clear()
    with pytest.raises(ValueError, match="TABLE_NAME"):
        config.load(config.TableSettings)
    config.clear()
