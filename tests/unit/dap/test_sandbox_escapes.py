"""Known Jinja2 sandbox-escape payloads: each fails its task, marked as refused (the worker logs it)."""

from __future__ import annotations

import pytest
from tasklane.dap import Engine, RunContext, load_dap

from tests.unit.dap.conftest import build_zip

PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ range.__class__.__base__ }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ ''['__class__'] }}",
    "{{ {}.__class__.__bases__[0].__subclasses__() }}",
    "{{ config.__class__ }}",
    "{% set x = ''.format.__self__.__class__ %}{{ x }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ 'x'.format_map({}).__class__.__mro__ }}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_known_escape_payload_is_refused(payload):
    manifest = "name: E\nsteps:\n  - compose: {template: t.txt, as: t}\n  - store: {from: t, id: T}\n"
    result = Engine().run(load_dap(build_zip({"dap.yaml": manifest, "t.txt": payload})), {}, RunContext("t-1"))
    assert not result.ok and result.documents == []
    assert "Error" in result.status_message or "unsafe" in result.status_message or "undefined" in result.status_message


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if "__" in p and "config" not in p])
def test_an_unsafe_attribute_is_marked_refused(payload):
    manifest = "name: E\nsteps:\n  - compose: {template: t.txt, as: t}\n"
    result = Engine().run(load_dap(build_zip({"dap.yaml": manifest, "t.txt": payload})), {}, RunContext("t-1"))
    assert result.refused, result.status_message
