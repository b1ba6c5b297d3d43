from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from tasklane.dap import STEP_KINDS, Engine, LogEntry, RunContext, RunResult, load_dap
from tasklane.dap.package import DapEnvironment

EXAMPLE_DIR = Path(__file__).resolve().parents[3] / "examples" / "account-profile"
CTX = RunContext(task_id="task-1", batch_id="batch-9")

ONE_PAGE = """
name: One page
params:
  id: {type: string, required: true}
  amount: {type: number}
steps:
  - compose: {template: templates/page.html, as: page}
  - store: {from: page, id: Page, filename: "page-{{ param.id }}.html"}
"""


def single(template: str, name: str = "templates/page.html", filename: str | None = None, params: str = "") -> str:
    store = f", filename: {filename!r}" if filename is not None else ""
    return f"""
name: Single
{params}
steps:
  - compose: {{template: {name}, as: out}}
  - store: {{from: out, id: Out{store}}}
"""


def failed(result: RunResult) -> str:
    assert not result.ok
    assert result.documents == []
    assert any(log.level == "SEVERE" for log in result.logs)
    assert "\n" not in result.status_message
    return result.status_message


def test_run_renders_params_and_task(make_dap):
    template = "{{ param.id }}|{{ param.amount }}|{{ param.extra }}|{{ task.id }}|{{ task.batchId }}|{{ dynamoAPI.taskID }}|{{ dynamoAPI.batchID }}"
    dap = make_dap(ONE_PAGE, {"templates/page.html": template})
    result = Engine().run(dap, {"id": "A7", "amount": 3, "extra": "pass-through"}, CTX)
    assert result.ok and result.status_message == "Ready"
    [doc] = result.documents
    assert doc.id == "Page"
    assert doc.filename == "page-A7.html"
    assert doc.content == b"A7|3|pass-through|task-1|batch-9|task-1|batch-9"
    assert doc.content_type == "text/html; charset=utf-8"
    assert all(log.level == "INFO" for log in result.logs)
    assert result.logs[0].to_dict() == {"level": "INFO", "message": result.logs[0].message}


def test_batch_id_defaults_to_none(make_dap):
    dap = make_dap(single("x"), {"templates/page.html": "{{ task.batchId is none }}"})
    assert Engine().run(dap, {}, RunContext(task_id="t")).documents[0].content == b"True"


def test_default_filename_uses_id_and_template_extension(make_dap):
    dap = make_dap(single("x", name="templates/note.txt"), {"templates/note.txt": "x"})
    [doc] = Engine().run(dap, {}, CTX).documents
    assert (doc.filename, doc.content_type) == ("Out.txt", "text/plain; charset=utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("a\x00b\nc\u202e.html", "abc.html"),
        ('x:"y"<z>|?*.html', "x__y__z____.html"),
        ("  ...  ", "Out.html"),
        ("", "Out.html"),
        ("n" * 300 + ".html", "n" * 195 + ".html"),
    ],
)
def test_filename_is_sanitized(make_dap, value, expected):
    dap = make_dap(single("x", filename="{{ param.name }}"), {"templates/page.html": "x"})
    [doc] = Engine().run(dap, {"name": value}, CTX).documents
    assert doc.filename == expected
    assert len(doc.filename) <= 200


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("a.json", None, "application/json; charset=utf-8"),
        ("a.csv", None, "text/csv; charset=utf-8"),
        ("a.unknownext", None, "application/octet-stream"),
        ("a.html", "application/vnd.custom+xml", "application/vnd.custom+xml"),
    ],
)
def test_content_type(make_dap, filename, content_type, expected):
    manifest = single("x", filename=filename)
    if content_type:
        manifest = manifest.replace("id: Out,", f"id: Out, content_type: '{content_type}',")
    dap = make_dap(manifest, {"templates/page.html": "x"})
    assert Engine().run(dap, {}, CTX).documents[0].content_type == expected


def test_missing_required_param(make_dap):
    dap = make_dap(ONE_PAGE, {"templates/page.html": "{{ param.id }}"})
    result = Engine().run(dap, {"amount": 1}, CTX)
    assert failed(result) == "Missing required param 'id'"
    assert LogEntry("SEVERE", "Missing required param 'id'") in result.logs
    assert failed(Engine().run(dap, {"id": None}, CTX)) == "Missing required param 'id'"


@pytest.mark.parametrize(
    ("type_", "value", "ok"),
    [
        ("string", "x", True),
        ("string", 1, False),
        ("number", 1, True),
        ("number", 1.5, True),
        ("number", Decimal("1.5"), True),
        ("number", True, False),
        ("number", "1", False),
        ("integer", 2, True),
        ("integer", Decimal(2), True),
        ("integer", 2.5, False),
        ("integer", False, False),
        ("boolean", True, True),
        ("boolean", 0, False),
        ("object", {"a": 1}, True),
        ("object", [1], False),
        ("array", [1], True),
        ("array", {"a": 1}, False),
    ],
)
def test_param_types(make_dap, type_, value, ok):
    dap = make_dap(single("ok", params=f"params: {{v: {{type: {type_}}}}}"), {"templates/page.html": "ok"})
    result = Engine().run(dap, {"v": value}, CTX)
    assert result.ok is ok
    if not ok:
        assert failed(result).startswith("Param 'v' must be a")


def test_defaults_are_applied(make_dap):
    params = "params: {n: {type: integer, default: 5}, tags: {type: array, default: [a]}, opt: {type: string}}"
    template = "{{ param.n }}-{{ param.tags | join(',') }}-{{ param.opt is defined }}"
    dap = make_dap(single(template, params=params), {"templates/page.html": template})
    engine = Engine()
    assert engine.run(dap, {}, CTX).documents[0].content == b"5-a-False"
    assert engine.run(dap, {"n": None, "tags": ["x", "y"]}, CTX).documents[0].content == b"5-x,y-False"


def test_params_must_be_a_mapping(make_dap):
    dap = make_dap(single("x"), {"templates/page.html": "x"})
    assert "Params must be an object" in failed(Engine().run(dap, ["nope"], CTX))  # type: ignore[arg-type]


def test_undefined_variable_fails_with_location(make_dap):
    dap = make_dap(ONE_PAGE, {"templates/page.html": "line 1\nline 2\n{{ foo }}\n"})
    result = Engine().run(dap, {"id": "1"}, CTX)
    assert failed(result) == "Template 'templates/page.html' line 3: 'foo' is undefined"
    assert LogEntry("SEVERE", result.status_message) in result.logs


def test_undefined_in_filename_template_fails(make_dap):
    dap = make_dap(single("x", filename="{{ param.nope }}.html"), {"templates/page.html": "x"})
    assert "Filename template of store 'Out'" in failed(Engine().run(dap, {}, CTX))


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ param.__class__ }}",
        "{{ param.update({'id': 'hacked'}) }}",
        "{{ 'x' * 100000000 }}",
        "{{ 10 ** 100000000 }}",
        "{{ range(1000000000) | list }}",
    ],
)
def test_sandbox_blocks_escapes_and_abuse(make_dap, template):
    dap = make_dap(ONE_PAGE, {"templates/page.html": template})
    assert failed(Engine().run(dap, {"id": "1"}, CTX)).startswith("Template 'templates/page.html' line 1:")


def test_template_runtime_errors_become_failures(make_dap):
    dap = make_dap(ONE_PAGE, {"templates/page.html": "{{ 1 / 0 }}"})
    assert "ZeroDivisionError" in failed(Engine().run(dap, {"id": "1"}, CTX))
    dap = make_dap(ONE_PAGE, {"templates/page.html": "{% include param.id %}"})
    assert "'nope.html' is not in the package" in failed(Engine().run(dap, {"id": "nope.html"}, CTX))


def test_include_and_extends_within_package(make_dap):
    files = {
        "templates/page.html": "{% extends 'templates/base.html' %}{% block body %}[{% include 'templates/part.html' %}]{% endblock %}",
        "templates/base.html": "<main>{% block body %}{% endblock %}</main>",
        "templates/part.html": "{{ param.id }}",
    }
    dap = make_dap(ONE_PAGE, files)
    assert Engine().run(dap, {"id": "42"}, CTX).documents[0].content == b"<main>[42]</main>"


def test_error_in_included_template_is_located(make_dap):
    files = {
        "templates/page.html": "{% include 'templates/part.html' %}",
        "templates/part.html": "\n\n{{ param.nope }}",
    }
    message = failed(Engine().run(make_dap(ONE_PAGE, files), {"id": "1"}, CTX))
    assert message.startswith("Template 'templates/part.html' line 3:")


def test_autoescape_html_only(make_dap):
    manifest = """
    name: Escape
    steps:
      - compose: {template: templates/page.html, as: html}
      - compose: {template: templates/page.txt, as: text}
      - store: {from: html, id: Html}
      - store: {from: text, id: Text}
    """
    template = "{{ param.v }}"
    dap = make_dap(manifest, {"templates/page.html": template, "templates/page.txt": template})
    html, text = Engine().run(dap, {"v": "<b>&"}, CTX).documents
    assert html.content == b"&lt;b&gt;&amp;"
    assert text.content == b"<b>&"


def test_compose_outputs_are_available_to_later_steps(make_dap):
    manifest = """
    name: Chain
    steps:
      - compose: {template: templates/body.html, as: body}
      - compose: {template: templates/page.html, as: page}
      - store: {from: page, id: Page}
    """
    files = {"templates/body.html": "<p>{{ param.v }}</p>", "templates/page.html": "<main>{{ body }}</main>"}
    dap = make_dap(manifest, files)
    [doc] = Engine().run(dap, {"v": "a<b"}, CTX).documents
    assert doc.content == b"<main><p>a&lt;b</p></main>"


def test_environment_and_templates_are_cached(make_dap, monkeypatch):
    compiled: list[str | None] = []
    original = DapEnvironment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return original(self, source, name, filename, raw, defer_init)

    dap = make_dap(ONE_PAGE, {"templates/page.html": "{{ param.id }}"})
    other = make_dap(ONE_PAGE.replace("One page", "Other"), {"templates/page.html": "{{ param.id }}"})
    monkeypatch.setattr(DapEnvironment, "compile", counting)
    engine = Engine()
    for i in range(3):
        assert engine.run(dap, {"id": str(i)}, RunContext(task_id=str(i))).documents[0].filename == f"page-{i}.html"
    assert compiled == ["templates/page.html", None]  # the page and the filename template, once each

    small = Engine(cache_size=1)
    for dap_ in (dap, other, dap):
        small.run(dap_, {"id": "x"}, CTX)
    assert len(compiled) == 2 + 3 * 2  # the LRU of one evicted each package in turn


def test_output_limit(make_dap):
    manifest = """
    name: Twice
    steps:
      - compose: {template: templates/page.html, as: page}
      - store: {from: page, id: A}
      - store: {from: page, id: B}
    """
    dap = make_dap(manifest, {"templates/page.html": "{{ param.v }}"})
    engine = Engine(max_output_bytes=10)
    assert engine.run(dap, {"v": "x" * 5}, CTX).ok
    assert failed(engine.run(dap, {"v": "x" * 6}, CTX)) == "Output exceeds the limit of 10 bytes"
    assert (
        failed(engine.run(dap, {"v": "é" * 3}, CTX)) == "Output exceeds the limit of 10 bytes"
    )  # bytes, not characters


def test_runaway_compose_is_stopped(make_dap):
    dap = make_dap(ONE_PAGE, {"templates/page.html": "{% for i in range(100000) %}xxxxxxxxxx{% endfor %}"})
    assert "exceeds the limit" in failed(Engine(max_output_bytes=1000).run(dap, {"id": "1"}, CTX))


def test_nothing_is_half_produced(make_dap):
    manifest = """
    name: Two
    steps:
      - compose: {template: templates/a.html, as: a}
      - store: {from: a, id: A}
      - compose: {template: templates/b.html, as: b}
      - store: {from: b, id: B}
    """
    dap = make_dap(manifest, {"templates/a.html": "fine", "templates/b.html": "{{ broken }}"})
    result = Engine().run(dap, {}, CTX)
    failed(result)
    assert [log.level for log in result.logs][-1] == "SEVERE"


def test_every_step_kind_has_its_own_handler():
    from tasklane.dap.steps import STEP_MODELS, StepModel

    assert [model.kind for model in STEP_MODELS] == list(STEP_KINDS)
    assert all(model.run is not StepModel.run for model in STEP_MODELS)


def test_example_account_profile():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(EXAMPLE_DIR.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(EXAMPLE_DIR).as_posix())
    dap = load_dap(buffer.getvalue())
    assert dap.name == "Account profile"
    params = {"id": "001", "name": "Acme", "amount": 12.5, "additionalData": {"data1": "abc"}}
    result = Engine().run(dap, params, RunContext(task_id="task-42"))
    assert result.ok, result.status_message
    [doc] = result.documents
    assert doc.filename == "profile-001.html"
    assert doc.content_type == "text/html; charset=utf-8"
    html = doc.content.decode()
    for expected in ("001", "Acme", "12.5", "data1", "abc", "task-42"):
        assert expected in html
    without_extra = Engine().run(dap, {"id": "002", "name": "Beta"}, RunContext(task_id="t"))
    assert without_extra.ok, without_extra.status_message
    assert "Additional data" not in without_extra.documents[0].content.decode()


def test_a_template_that_runs_too_long_fails_the_task(make_dap):
    from tasklane.dap import Engine, RunContext

    slow = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    manifest = """
        name: Slow
        steps:
          - compose: {template: slow.txt, as: out}
    """
    dap = make_dap(manifest, {"slow.txt": slow})
    result = Engine(time_limit_seconds=0.2).run(dap, {"id": "1"}, RunContext(task_id="t"))
    assert not result.ok
    assert "longer than 0.2 s" in result.status_message
    assert result.logs[-1].level == "SEVERE"
