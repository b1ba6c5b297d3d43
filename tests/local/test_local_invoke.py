"""`tasklane events` makes events/ real against a running stack, and `tasklane invoke` runs every function on its event."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasklane_local.events import BATCH_ID, BATCH_TASK_ID, GENERIC_TASK_ID, TASK_ID, TEMPLATE_ID
from tests.support import local_stack_process, shell_environment

ROOT = Path(__file__).parents[2]
# Destructive calls last: the job is assigned, then aborted, then deleted.
LAST = ["assign_job", "abort_job", "delete_job"]
ORDER = sorted({p.stem for p in (ROOT / "events").glob("*.json")} - set(LAST)) + LAST
# Runs every event's invoke in one process (a fresh import of each handler, as the CLI does),
# printing {name: [exit code, response]}.
LOOP = """
import contextlib, io, json, sys
from tasklane_local import cli
answers = {}
for name in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["invoke", name, "-e", f".tasklane/events/{name}.json"])
    answers[name] = [code, json.loads(out.getvalue())]
print(json.dumps(answers))
"""


def _tasklane(checkout: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tasklane_local.cli", *args],
        cwd=checkout, env=shell_environment(), input=stdin, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A checkout (links to this one's files, a .tasklane of its own) with `tasklane local` running in it."""
    folder = tmp_path_factory.mktemp("checkout")
    for name in ("template.yaml", "functions", "layers", "events", "examples"):
        (folder / name).symlink_to(ROOT / name)
    with local_stack_process(folder):
        yield folder


@pytest.fixture(scope="module")
def answers(checkout: Path) -> dict[str, list]:
    made = _tasklane(checkout, "events")
    assert made.returncode == 0, made.stderr
    assert "wrote 34 events" in made.stdout
    loop = subprocess.run(
        [sys.executable, "-c", LOOP, *ORDER], cwd=checkout, env=shell_environment(), capture_output=True, text=True, timeout=300
    )
    assert loop.returncode == 0, loop.stderr[-3000:]
    found: dict[str, list] = json.loads(loop.stdout)
    return found


def test_made_real_events_name_what_the_stack_has_and_carry_a_real_token(checkout, answers):
    written = {p.stem: p.read_text() for p in (checkout / ".tasklane" / "events").glob("*.json")}
    assert set(written) == set(ORDER)
    for name, text in written.items():
        for committed in (TEMPLATE_ID, TASK_ID, BATCH_ID, BATCH_TASK_ID, "<token from"):
            assert committed not in text, name
        assert not re.search(rf"\b{GENERIC_TASK_ID}\b", text), name


@pytest.mark.parametrize("name", [n for n in ORDER if n not in ("authorizer", "worker", "dead_letters", "convert_document")])
def test_every_api_function_answers_its_event_with_success(answers, name):
    code, response = answers[name]
    assert code == 0 and 200 <= response["statusCode"] < 300, response


def test_the_authorizer_admits_the_events_token(answers):
    code, response = answers["authorizer"]
    assert code == 0 and response["isAuthorized"] is True and response["context"]["tenant"] == "acme"


@pytest.mark.parametrize("name", ["worker", "dead_letters"])
def test_the_queue_functions_take_their_records(answers, name):
    assert answers[name] == [0, {"batchItemFailures": []}]


def test_the_converter_turns_the_events_docx_into_a_pdf(answers):
    code, response = answers["convert_document"]
    assert code == 0 and base64.b64decode(response["pdf"]).startswith(b"%PDF")


def test_invoke_reads_stdin_prints_only_the_response_on_stdout_and_logs_on_stderr(checkout, answers):
    event = (checkout / ".tasklane" / "events" / "get_license.json").read_text()
    ran = _tasklane(checkout, "invoke", "GetLicenseFunction", "-e", "-", stdin=event)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["statusCode"] == 200  # stdout is the response alone
    assert '"message":"answered"' in ran.stderr and '"function_name":"tasklane-GetLicenseFunction"' in ran.stderr


def test_an_unhandled_error_is_answered_as_lambda_does(checkout, answers):
    ran = _tasklane(checkout, "invoke", "worker", "-e", "-", stdin='{"Records": "not a list"}')
    assert ran.returncode == 1 and "Traceback" in ran.stderr
    assert set(json.loads(ran.stdout)) == {"errorMessage", "errorType"}


def test_invoke_names_what_is_wrong_before_running_anything(checkout, tmp_path):
    unknown = _tasklane(checkout, "invoke", "NoSuchFunction", "-e", "-", stdin="{}")
    assert unknown.returncode == 2 and "PostTaskFunction" in unknown.stderr  # lists the functions there are
    unreadable = _tasklane(checkout, "invoke", "post_task", "-e", str(tmp_path / "missing.json"))
    assert unreadable.returncode == 2 and "cannot read the event" in unreadable.stderr


def test_invoke_and_events_say_when_no_stack_runs(tmp_path):
    (tmp_path / "template.yaml").symlink_to(ROOT / "template.yaml")
    (tmp_path / "functions").symlink_to(ROOT / "functions")
    for command in (["invoke", "post_task", "-e", "-"], ["events"]):
        ran = _tasklane(tmp_path, *command, stdin="{}")
        assert ran.returncode == 1 and "not running" in ran.stderr, ran.stderr
