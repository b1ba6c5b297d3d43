"""What a template may build: each attack is refused before it allocates, and the task fails."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import pytest
from jinja2 import defaults
from tasklane.dap import Engine, RunContext, load_dap
from tasklane.dap.budget import MAX_LIST_ITEMS, MAX_RUN_BYTES, MAX_STRING_CHARS, current

from .conftest import build_zip

STRING = f"Template 'x.txt' line 1: the template tried to build a string of more than {MAX_STRING_CHARS} characters"
LIST = f"Template 'x.txt' line 1: the template tried to build a list of more than {MAX_LIST_ITEMS} items"
INTEGER = "Template 'x.txt' line 1: the template tried to build an integer of more than 100000 bits"
IN_ALL = f"Template 'x.txt' line 1: the template built more than {MAX_RUN_BYTES} bytes of strings and lists in all"
MANIFEST = "name: X\nsteps:\n  - compose: {template: x.txt, as: out}\n  - store: {from: out, id: Out}\n"


def run(template: str, params: dict | None = None, **files: str):
    dap = load_dap(build_zip({"dap.yaml": MANIFEST, "x.txt": template, **files}))
    return Engine().run(dap, params or {}, RunContext(task_id="t"))


# Each just past a cap, so that the unguarded version finishes Ready in reasonable memory.
ATTACKS = [
    # the probe's five
    ("{% set ns = namespace(s='x') %}{% for i in range(25) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
     STRING),
    ("{{ ('%20000000s' % 'a')|length }}", STRING),
    ("{{ '{:>20000000}'.format('a')|length }}", STRING),
    ("{{ 'a'.center(20000000)|length }}", STRING),
    ("{{ (['x'*10000]*2000)|join|length }}", STRING),
    # operators
    ("{% set ns = namespace(s='x') %}{% for i in range(25) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", STRING),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(21) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", LIST),
    ("{{ ('x'.encode() * 20000000)|length }}", STRING),
    ("{% set ns = namespace(n=3) %}{% for i in range(17) %}{% set ns.n = ns.n * ns.n %}{% endfor %}", INTEGER),
    ("{{ '%*s' % (20000000, 'a') }}", STRING),
    ("{{ ('%.*f' % (20000000, 1.0))|length }}", STRING),
    ("{{ ('%(a)s%(a)s%(a)s' % {'a': 'x' * 4000000})|length }}", STRING),
    ("{{ ['x' * 1000000] * 20 }}", STRING),
    ("{{ (['x' * 1000000] * 20) ~ '' }}", STRING),
    ("{% set a = ['x' * 1100] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}"
     "{% set d = [c,c,c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d,d,d] %}{{ e }}", STRING),
    # str.format
    ("{{ '{:{}}'.format('a', 20000000)|length }}", STRING),
    ("{{ '{0}{0}{0}'.format('x' * 4000000)|length }}", STRING),
    ("{{ '{!r}'.format(['x' * 1000000] * 20)|length }}", STRING),
    # methods
    ("{{ 'a'.ljust(20000000)|length }}", STRING),
    ("{{ '7'.zfill(20000000)|length }}", STRING),
    ("{{ ('\t' * 1000).expandtabs(20000)|length }}", STRING),
    ("{{ ('x' * 5000).replace('', 'y' * 5000)|length }}", STRING),
    ("{{ ('x' * 5000).join(['y'] * 5000)|length }}", STRING),
    ("{{ 'aaaa'.translate({97: 'x' * 3000000})|length }}", STRING),
    ("{{ ('a,' * 1100000).split(',')|length }}", LIST),
    ("{{ (1).to_bytes(20000000, 'big')|length }}", STRING),
    # filters
    ("{{ 'x'|center(20000000)|length }}", STRING),
    ("{{ 'a\\nb'|indent(20000000)|length }}", STRING),
    ("{% set w = 'x' * 6000000 %}{{ 'a b c'|wordwrap(1, wrapstring=w)|length }}", STRING),
    ("{{ '%20000000s'|format('a')|length }}", STRING),
    ("{{ ('x' * 5000)|replace('', 'y' * 5000)|length }}", STRING),
    ("{{ [1]|batch(2000000, 0)|list|length }}", LIST),
    ("{{ [1]|slice(2000000, 0)|list|length }}", LIST),
    ("{{ ([[1] * 1000] * 2000)|sum(start=[])|length }}", LIST),
    ("{{ {'a': 1}|tojson(indent=20000000)|length }}", STRING),
    ("{{ (['x' * 1000000] * 20)|string|length }}", STRING),
    ("{{ (['x' * 1000000] * 20)|pprint|length }}", STRING),
    ("{{ {'k' * 1000: range(20000)|list}|pprint|length }}", STRING),
    ("{{ ('<' * 4000000)|urlencode|length }}", STRING),
    ("{{ {'a': '\"' * 3000000}|xmlattr|length }}", STRING),
    ("{{ ('\"' * 3000000)|e|length }}", STRING),
    ("{{ ('x' * 1100000)|list|length }}", LIST),
    ("{{ lipsum(200000)|length }}", STRING),
    ("{{ 5|round(-200000) }}", INTEGER),
    # buffers: a {% set %} block, a macro, an import
    ("{% set x %}{% for i in range(1000) %}{{ 'y' * 20000 }}{% endfor %}{% endset %}{{ x|length }}", STRING),
    ("{% macro m() %}{% for i in range(1000) %}{{ 'y' * 20000 }}{% endfor %}{% endmacro %}{{ m()|length }}", STRING),
    # the budget for the whole run: copies kept by reference are each charged
    ("{% set big = 'x' * 5000000 %}{% set ns = namespace(l=[]) %}{% for i in range(20) %}"
     "{% set ns.l = ns.l + [big[i:]] %}{% endfor %}{{ ns.l|length }}", IN_ALL),
    ("{% set big = 'x' * 5000000 %}{% set ns = namespace(l=[]) %}{% for i in range(20) %}"
     "{% set ns.l = ns.l + [(big ~ i)|trim] %}{% endfor %}{{ ns.l|length }}", IN_ALL),
]


@pytest.mark.parametrize(("template", "message"), ATTACKS)
def test_an_attack_fails_the_task_naming_the_limit(template, message):
    result = run(template)
    assert not result.ok
    assert result.status_message == message
    assert result.logs[-1].message == message and result.logs[-1].level == "SEVERE"


def test_the_limit_names_the_line():
    result = run("one\ntwo\n{{ 'a'.center(20000000) }}")
    assert result.status_message.startswith("Template 'x.txt' line 3: the template tried to build a string")


def test_an_import_is_charged_as_it_renders():
    # Jinja keeps an imported template's whole output: the import statement is where it fails.
    library = "{% for i in range(1000) %}{{ 'y' * 20000 }}{% endfor %}"
    result = run("{% import 'lib.txt' as lib %}ok", **{"lib.txt": library})
    assert result.status_message == STRING


@pytest.mark.parametrize(
    "template",
    [
        "{{ ('%100000000s' % 'a')|length }}",
        "{{ '{:>100000000}'.format('a')|length }}",
        "{{ 'a'.center(100000000)|length }}",
        "{{ (['x'*10000]*10000)|join|length }}",
        "{{ ['x' * 10000] * 10000 }}",
    ],
)
def test_refused_before_anything_is_allocated(template):
    tracemalloc.start()
    try:
        result = run(template)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.ok
    assert peak < 20 * 1024 * 1024


def test_upload_does_not_run_amplifying_filters():
    # Jinja folds constant filter calls while compiling, which the upload check does.
    tracemalloc.start()
    try:
        dap = load_dap(build_zip({"dap.yaml": MANIFEST, "x.txt": "{{ 'a'|center(100000000)|length }}"}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert not Engine().run(dap, {}, RunContext(task_id="t")).ok


def test_the_budget_covers_every_step_of_a_run():
    steps = "".join(f"  - compose: {{template: x.txt, as: out{i}}}\n" for i in range(5))
    dap = load_dap(build_zip({"dap.yaml": f"name: X\nsteps:\n{steps}", "x.txt": "{{ 'x' * 9000000 }}"}))
    result = Engine().run(dap, {}, RunContext(task_id="t"))
    assert result.status_message.endswith(f"the template built more than {MAX_RUN_BYTES} bytes of strings and lists in all")


def test_decimal_params_cannot_become_huge_integers():
    # DynamoDB gives every number as a Decimal; int(Decimal('1e999999')) takes 40 s in C.
    params = {"d": Decimal("1e40000")}
    assert run("{{ param.d|int }}", params).status_message == INTEGER
    assert run("{{ '%d' % param.d }}", params).status_message == INTEGER
    assert run("{{ param.d.as_integer_ratio() }}", params).status_message == INTEGER
    assert run("{{ param.d|round(0, 'ceil') }}", params).status_message == INTEGER


def test_a_limit_swallowed_by_library_code_still_fails_the_task(monkeypatch):
    def swallowing(value):
        try:
            current().string(MAX_STRING_CHARS + 1)
        except Exception:
            pass
        return value

    monkeypatch.setitem(defaults.DEFAULT_FILTERS, "swallow", swallowing)
    result = run("{{ 1|swallow }}")
    assert result.status_message == STRING.replace(" line 1", "")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ('x' * 9000000)|length }}", "9000000"),
        ("{{ 'a'.center(9000000)|length }}", "9000000"),
        ("{{ (['x' * 1000] * 9000)|join|length }}", "9000000"),
        ("{% set ns = namespace(s='x') %}{% for i in range(23) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
         "{{ ns.s|length }}", "8388608"),
        ("{{ ([[1]] * 1000000)|sum(start=[])|length }}", "1000000"),
        ("{{ range(100000)|list|length }}", "100000"),
    ],
)
def test_big_but_bounded_work_is_fine(template, expected):
    result = run(template)
    assert result.ok, result.status_message
    assert result.documents[0].content.decode() == expected
