"""The `soql` filter: a param interpolated into SOQL stays a literal, whatever it holds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tasklane.dap import Engine, RunContext, load_dap
from tasklane.dap.soql import quote
from tests.unit.dap.conftest import build_zip


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("001xx000003DGb2", "'001xx000003DGb2'"),
        ("x' OR Name != '", "'x\\' OR Name != \\''"),
        ("back\\slash", "'back\\\\slash'"),
        ('say "hi"\n\ttab', "'say \\\"hi\\\"\\n\\ttab'"),
        ("émoji 🙂", "'émoji 🙂'"),
        (42, "42"),
        (Decimal("1.50"), "1.50"),
        (2.5, "2.5"),
        (True, "true"),
        (None, "null"),
        (["a", "b'c"], "('a', 'b\\'c')"),
    ],
)
def test_values_become_soql_literals(value, literal):
    assert quote(value) == literal


@pytest.mark.parametrize("value", ["\x00", "a\x07b", float("nan"), float("inf"), [], {"a": 1}, [["nested", "ok"], object()]])
def test_values_soql_cannot_hold_are_refused(value):
    with pytest.raises(ValueError):
        quote(value)


def test_an_injection_attempt_in_a_param_stays_inside_its_quotes():
    manifest = """
name: Query text
params:
  id: {type: string, required: true}
steps:
  - compose: {template: templates/q.txt, as: q}
  - store: {from: q, id: Q}
"""
    template = "SELECT Id FROM Contact WHERE AccountId = {{ param.id | soql }}"
    dap = load_dap(build_zip({"dap.yaml": manifest, "templates/q.txt": template}))
    result = Engine().run(dap, {"id": "x' OR Id != '"}, RunContext(task_id="t"))
    assert result.ok
    assert result.documents[0].content == b"SELECT Id FROM Contact WHERE AccountId = 'x\\' OR Id != \\''"
    failed = Engine().run(dap, {"id": "bad\x01"}, RunContext(task_id="t"))
    assert not failed.ok and "control character" in failed.status_message


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact WHERE AccountId = '{{ param.id }}'",
        "SELECT Id FROM Contact WHERE Name = {{ param.name | upper }}",
        "SELECT Id FROM Contact{% if param.x %} WHERE Id = {{ param.x }}{% endif %}",
    ],
)
def test_a_value_in_a_query_without_the_soql_filter_is_refused_at_upload(soql):
    from tasklane.dap import DapError

    from tests.unit.dap.conftest import build_zip

    manifest = f'name: Q\nsteps:\n  - query: {{as: q, soql: "{soql}"}}\n'
    with pytest.raises(DapError) as refused:
        load_dap(build_zip({"dap.yaml": manifest}))
    assert any("must end with '| soql'" in e for e in refused.value.errors), refused.value.errors
