"""Imports point one way: functions -> a family's wire format -> domain -> storage.

Read from the source (no import runs), so a test fails the moment a module reaches what it must not:
the domain a wire model, or anything a function reaches moto or the local stack.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

LAYER = ROOT / "layers"
FORBIDDEN_IN_LAMBDA = ("moto", "tasklane.local", "tasklane_local", "pytest")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, lazily inside functions included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _source(module: str) -> Path | None:
    base = LAYER.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def reachable(start: Path) -> set[str]:
    """The modules reachable from `start`, following tasklane's own modules through the layer."""
    seen: set[str] = set()
    pending = list(_imports(start))
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        if module.split(".")[0] == "tasklane":
            source = _source(module)
            if source is not None:
                pending.extend(_imports(source))
    return seen


@pytest.mark.parametrize("app", sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py")))
def test_nothing_a_function_reaches_imports_moto_or_the_local_stack(app):
    bad = {m for m in reachable(ROOT / "functions" / app / "app.py") if m.startswith(FORBIDDEN_IN_LAMBDA)}
    assert not bad, f"functions/{app} reaches {sorted(bad)}"


@pytest.mark.parametrize("module", sorted(p.stem for p in (LAYER / "tasklane" / "domain").glob("*.py")))
def test_the_domain_never_imports_a_wire_format(module):
    imported = _imports(LAYER / "tasklane" / "domain" / f"{module}.py")
    wire = {m for m in imported if m.startswith("tasklane.api")}
    assert not wire, f"tasklane.domain.{module} imports {sorted(wire)}"


def test_only_storage_imports_boto3_or_botocore():
    """AWS failures are translated in one place (tasklane.storage.clients), so nothing else may call AWS."""
    sources = [*(LAYER / "tasklane").rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    storage = LAYER / "tasklane" / "storage"
    bad = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m.split(".")[0] in ("boto3", "botocore"))
        for path in sources
        if storage not in path.parents
    }
    assert not {path: found for path, found in bad.items() if found}


def test_the_guards_can_fail(tmp_path):
    probe = tmp_path / "app.py"
    probe.write_text("from tasklane.api.documents import models\nimport moto\n")
    assert "moto" in reachable(probe)
    assert "tasklane.api.documents.models" in _imports(probe)
