"""What the property-based fuzz run sends and what it holds every answer to.

Strategies build hostile requests per route (bodies, multipart parts, params, headers, DAP manifests
and templates); `Tally` checks each answer (no 5xx, the standard error body on every 4xx) and keeps
what was accepted, so the run can wait for every accepted task to end.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.support import zip_files

BOUNDARY = "fuzzboundary"


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# Surrogates included: a JSON text may spell "\ud800", and clients do send it.
_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _any_text
json_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4), max_leaves=12
)
deep_values = st.integers(min_value=1, max_value=1200).map(nested)
# Mostly ordinary values, so that most requests are accepted and run; a quarter hostile.
param_values = st.one_of(
    json_values, json_values, json_values, deep_values, st.text(max_size=3).map(lambda s: s * 1000)
)
params = st.one_of(
    st.fixed_dictionaries({"id": st.text(max_size=10)}, optional={"name": param_values, "extra": param_values}),
    st.fixed_dictionaries({"id": st.text(max_size=10)}, optional={"name": param_values, "extra": param_values}),
    st.fixed_dictionaries({}, optional={"id": param_values, "name": param_values}),
    st.dictionaries(_any_text, param_values, max_size=4),
)

# Template text: ordinary Jinja, broken Jinja and the probe's allocation and sandbox attacks.
_template_fragments = st.sampled_from(
    [
        "Hello {{ param.id }}",
        "{{ param.name | default('x') }}",
        "{% for k in param %}{{ k }}{% endfor %}",
        "{{ param.extra | tojson }}",
        "{{ param.items }}",
        "{{ task.id }} {{ dynamoAPI.taskID }}",
        "{% if param.id %}yes{% else %}no{% endif %}",
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 9 ** 9 }}",
        "{{ ('%1000000000s' % 'a')|length }}",
        "{{ '{:>100000000}'.format('a')|length }}",
        "{{ 'a'.center(100000000)|length }}",
        "{{ (['x'*10000]*10000)|join|length }}",
        "{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ self._TemplateReference__context }}",
        "{% include 'missing.txt' %}",
        "{{ param[param.id ~ param.id] }}",
        "{{",
        "{% for %}",
        "{{ undefined_name }}",
        "\x00\ufffe\ud7ff",
    ]
)
templates_text = st.lists(_template_fragments, min_size=1, max_size=3).map("".join)


def _yaml_of(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML


manifests = st.one_of(
    st.builds(
        lambda name, required, template_name: _yaml_of(
            {
                "name": name,
                "params": {"id": {"type": "string", "required": required}},
                "steps": [
                    {"compose": {"template": template_name, "as": "out"}},
                    {"store": {"from": "out", "id": "Out", "filename": "out-{{ param.id }}.txt"}},
                ],
            }
        ),
        st.text(min_size=1, max_size=20),
        st.booleans(),
        st.sampled_from(["t.txt", "t.html", "../t.txt", "/t.txt", "missing.txt"]),
    ),
    st.sampled_from(
        [
            "name: x\nname: y\nsteps: []\n",
            "version: " + "9" * 5000 + "\nname: x\nsteps: [{compose: {template: t.txt, as: out}}]\n",
            "[" * 5000 + "]" * 5000,
            "a: &a [1]\nb: *a\n",
            "name: x\nsteps: [{compose: {template: t.txt, as: param}}]\n",
            "name: x\nsteps: [{nope: {}}]\n",
            "- not a mapping\n",
            "\x00\x01",
        ]
    ),
    json_values.map(_yaml_of),
)


VALID_MANIFEST = _yaml_of(
    {
        "name": "Fuzz",
        "params": {"id": {"type": "string", "required": True}},
        "steps": [
            {"compose": {"template": "t.txt", "as": "out"}},
            {"store": {"from": "out", "id": "Out", "filename": "out-{{ param.id }}.txt"}},
        ],
    }
)
daps = st.one_of(
    templates_text.map(lambda text: zip_files({"dap.yaml": VALID_MANIFEST, "t.txt": text})),
    templates_text.map(lambda text: zip_files({"dap.yaml": VALID_MANIFEST, "t.txt": text})),
    st.builds(
        lambda manifest, text, junk: junk + zip_files({"dap.yaml": manifest, "t.txt": text, "t.html": text}),
        manifests,
        templates_text,
        st.sampled_from([b"", b"", b"", b"junk before the zip"]),
    ),
    st.binary(max_size=200),
)


def multipart(parts: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    out = io.BytesIO()
    for name, data, content_type in parts:
        out.write(f"--{BOUNDARY}\r\n".encode())
        filename = '; filename="x.dap"' if name == "template" else ""
        out.write(f'Content-Disposition: form-data; name="{name}"{filename}\r\nContent-Type: {content_type}\r\n\r\n'.encode())
        out.write(data + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={BOUNDARY}"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


part_names = st.sampled_from(["data", "param.extra", "param.name", "param.", "other", "template", "data"])
part_data = st.one_of(
    json_values.map(_json_bytes),
    deep_values.map(_json_bytes),
    st.binary(max_size=50),
)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Tally:
    """Every answer of the run, checked as it comes."""

    sent: int = 0
    server_errors: list[str] = field(default_factory=list)
    bad_error_bodies: list[str] = field(default_factory=list)
    accepted_tasks: list[str] = field(default_factory=list)
    accepted_batches: list[str] = field(default_factory=list)
    by_status: dict[int, int] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)

    def check(self, request: Request, status: int, body: bytes) -> list[str]:
        """Record the answer; returns what is wrong with it (empty when it holds)."""
        self.sent += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        where = f"{request.method} {request.path} -> {status}: {body[:300]!r}"
        problems = []
        if status >= 500:
            self.server_errors.append(where)
            problems.append(f"5xx: {where}")
        elif status >= 400 and not standard_error_body(body):
            self.bad_error_bodies.append(where)
            problems.append(f"not the standard error body: {where}")
        elif status == 202:
            answer = json.loads(body)
            if "taskID" in answer:
                self.accepted_tasks.append(answer["taskID"])
            else:
                self.accepted_batches.append(answer["id"])
        return problems

    def summary(self) -> str:
        return (
            f"requests sent: {self.sent}; 5xx: {len(self.server_errors)}; "
            f"undocumented error bodies: {len(self.bad_error_bodies)}; "
            f"accepted: {len(self.accepted_tasks)} tasks, {len(self.accepted_batches)} batches; "
            f"accepted not ending: {len(self.stuck)}; "
            f"by status: {dict(sorted(self.by_status.items()))}"
        )


def standard_error_body(body: bytes) -> bool:
    """`{"message": str, "code": str, "errors": [{"loc", "message", "type"}...]}`, errors optional."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), str):
        return False
    if not isinstance(answer.get("code"), str):
        return False
    errors = answer.get("errors", [])
    return isinstance(errors, list) and all(isinstance(e, dict) and "loc" in e and "message" in e for e in errors)
