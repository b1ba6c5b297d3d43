"""Every function logs through the one redacting Logger, starts each invocation with no keys left
from the last, names API Gateway's request id, and only the worker pays for a Tracer.

Read from the source, like the layering guards: a function added without these fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

APPS = sorted((ROOT / "functions").glob("*/app.py"))
# Invoked by an event source or another function, not through API Gateway: no request id to follow.
NOT_HTTP = {"worker", "dead_letters", "convert_document"}


def _handler_decorators(path: Path) -> list[ast.expr]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    [handler] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"]
    return handler.decorator_list


def _inject(path: Path) -> ast.Call:
    calls = [
        d for d in _handler_decorators(path)
        if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "inject_lambda_context"
    ]  # fmt: skip
    assert len(calls) == 1, f"{path.parent.name}: lambda_handler needs @logger.inject_lambda_context(...)"
    return calls[0]


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name)
def test_each_function_logs_through_the_redacting_logger_and_clears_its_keys(app):
    source = app.read_text(encoding="utf-8")
    assert "logger = observability.logger()" in source and "Logger()" not in source
    keywords = {k.arg: k.value for k in _inject(app).keywords}
    assert isinstance(keywords.get("clear_state"), ast.Constant) and keywords["clear_state"].value is True
    path = keywords.get("correlation_id_path")
    if app.parent.name in NOT_HTTP:
        assert path is None
    else:
        assert isinstance(path, ast.Attribute) and path.attr == "API_GATEWAY_HTTP", app.parent.name


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name)
def test_only_the_worker_has_a_tracer(app):
    traced = "Tracer(" in app.read_text(encoding="utf-8")
    assert traced == (app.parent.name == "worker")


def test_metrics_come_from_the_one_helper():
    for app in APPS:
        source = app.read_text(encoding="utf-8")
        assert "Metrics(" not in source.replace("FamilyMetrics(", ""), app.parent.name
        assert "add_metric" not in source, app.parent.name
