"""The guarded sandbox renders ordinary templates exactly as Jinja's own sandbox does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from jinja2 import DictLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tasklane.dap.budget import Budget, budget_scope
from tasklane.dap.package import AUTOESCAPE_EXTENSIONS, create_environment

LIBRARY = {
    "lib.txt": "{% macro greet(name) %}Hello {{ name }}!{% endmacro %}top-level text\n",
    "base.txt": "[{% block body %}base {{ 1 + 1 }}{% endblock %}]",
    "child.txt": "{% extends 'base.txt' %}{% block body %}child, {{ super() }}{% endblock %}",
}
PARAMS = {
    "name": "Ada <Lovelace> & \"Babbage\"",
    "rows": [{"a": 1, "b": "x"}, {"a": 3, "b": "y"}, {"a": 2, "b": "x"}],
    "text": "The quick brown fox jumps over the lazy dog. " * 5,
    "money": Decimal("1234.5"),
    "mapping": {"k": "v", "n": 2},
}
TEMPLATES = [
    "{{ param.name }}|{{ param.name ~ '!' ~ 3 }}|{{ param.name + '?' }}|{{ 'ab' * 3 }}|{{ [1, 2] * 2 }}",
    "{{ '%05d|%-6s|%.2f|%(k)s' % (3, 'ab', 1.5, 1) if false else '%05d|%-6s|%.2f' % (3, 'ab', 1.5) }}",
    "{{ '%(k)s=%(n)03d' % param.mapping }}|{{ '%*d' % (5, 42) }}|{{ '%%' % () }}|{{ '%r' % (param.name,) }}",
    "{{ '{:>8}|{:^7}|{:,}|{:08.3f}|{!r}'.format('ab', 'c', 1234567, 3.14159, 'q') }}|{{ '{0}{1}{0}'.format('a', 'b') }}",
    "{{ '{name}-{n:{w}}'.format(name='x', n=7, w=4) }}|{{ '{k}'.format_map(param.mapping) }}",
    "{{ 'ab'.center(6, '*') }}|{{ 'ab'.ljust(4) }}|{{ '7'.zfill(3) }}|{{ 'a\tb'.expandtabs(4) }}",
    "{{ 'a-b-c'.replace('-', '+') }}|{{ ','.join(['x', 'y']) }}|{{ 'a b  c'.split() }}|{{ 'x\ny'.splitlines() }}",
    "{{ 'Straße'.upper() }}|{{ 'abc'.translate({97: 'AA'}) }}|{{ 'é'.encode('utf-8') }}|{{ (65).to_bytes(2, 'big') }}",
    "{{ param.text[4:9] }}|{{ param.rows[1:][0].a }}|{{ 'abcdef'[::-2] }}|{{ param.name[:3] }}",
    "{{ param.rows | map(attribute='a') | join(', ') }}|{{ param.rows | join('/', attribute='b') }}",
    "{{ param.name | center(30) }}|{{ param.text | wordwrap(20) }}|{{ param.text | indent(2, first=True) }}",
    "{{ param.name | replace('a', 'A', 1) }}|{{ 'x' | replace('', '-') }}|{{ '%s-%s' | format(1, 2) }}",
    "{{ param.rows | batch(2, '-') | list }}|{{ param.rows | slice(2) | list }}|{{ [[1], [2, 3]] | sum(start=[]) }}",
    "{{ [(1,), (2,)] | sum(start=(0,)) }}|{{ [1, 2, 3] | sum }}|{{ param.rows | sum(attribute='a') }}",
    "{{ param.mapping | tojson }}|{{ param.rows | tojson(indent=2) }}|{{ param | pprint }}",
    "{{ param.mapping | urlencode }}|{{ 'a b&c' | urlencode }}|{{ [('a', 1)] | urlencode }}",
    "{{ param.mapping | xmlattr }}|{{ param.name | e }}|{{ param.name | forceescape }}|{{ param.name | safe }}",
    "{{ param.text | title }}|{{ param.name | upper }}|{{ param.name | lower | capitalize }}|{{ ' x ' | trim }}",
    "{{ param.text | truncate(20) }}|{{ param.text | wordcount }}|{{ 'www.example.com x' | urlize }}",
    "{{ 'abc' | list }}|{{ range(3) | list }}|{{ param.rows | sort(attribute='a') | map(attribute='a') | list }}",
    "{{ param.mapping | dictsort }}|{{ param.rows | groupby('b') | map('first') | list }}|{{ 'abc' | reverse }}",
    "{{ param.money | int }}|{{ param.money | round(1, 'floor') }}|{{ 2.5 | round }}|{{ 10 ** 3 }}|{{ 7 * 6 }}",
    "{{ param.rows | string }}|{{ param.rows }}|{{ param.mapping.items() | list }}|{{ dict(a=1) }}",
    "{% set x %}{% for i in range(3) %}<{{ i }}>{% endfor %}{% endset %}{{ x }}|{% filter upper %}up{% endfilter %}",
    "{% import 'lib.txt' as lib %}{{ lib.greet(param.name) }}|{% from 'lib.txt' import greet %}{{ greet('B') }}",
    "{% include 'child.txt' %}|{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}inner{% endcall %}",
    "{{ ['a', 'b'] | map('upper') | list }}|{{ ['ab'] | map('center', 6) | join }}|{{ [[1, 2]] | map('join', '-') | list }}",
    "{{ param.rows | selectattr('b', 'equalto', 'x') | map(attribute='a') | sum }}|{{ ['', 'a'] | select | list }}",
    "{% for i in range(3) recursive %}{{ loop.index }}{% endfor %}|{{ lipsum(2, html=False, min=3, max=5) | length > 0 }}",
]


def render_both(name: str, source: str) -> tuple[str, str]:
    """(ours, stock): the same files and settings; .html names autoescape."""
    files = {**LIBRARY, name: source}
    ours = create_environment({k: v.encode() for k, v in files.items()})
    stock = ImmutableSandboxedEnvironment(
        loader=DictLoader(files),
        undefined=StrictUndefined,
        autoescape=select_autoescape(AUTOESCAPE_EXTENSIONS, default_for_string=False, default=False),
        keep_trailing_newline=True,
    )
    with budget_scope(Budget()):
        mine = ours.get_template(name).render(param=PARAMS)
    return mine, stock.get_template(name).render(param=PARAMS)


@pytest.mark.parametrize("name", ["page.txt", "page.html"])
@pytest.mark.parametrize("source", TEMPLATES)
def test_renders_like_jinjas_sandbox(name, source):
    mine, stock = render_both(name, source)
    assert mine == stock
