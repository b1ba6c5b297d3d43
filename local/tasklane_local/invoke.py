"""`tasklane invoke FUNCTION -e EVENT`: one function's handler on one event, as Lambda runs it, no Docker.

Like `sam local invoke`: the handler is imported fresh from its CodeUri (a cold start) with the
function's own environment as template.yaml declares it, resolved against the running local
stack, so what it reads and writes is that stack's AWS (moto). The function's log lines go to
stderr; its response, as JSON, to stdout. An exception is answered as Lambda does
({"errorMessage", "errorType"}, exit 1), its traceback on stderr.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from tasklane_local.environ import EnvironmentPatch
from tasklane_local.lambda_runtime import LocalFunction, load_handler, unload_handler
from tasklane_local.stack import checkout_root, point_at_running_stack, read_state
from tasklane_local.template import Function, TemplateError, load_template


def find_function(functions: dict[str, Function], name: str) -> Function | None:
    """By logical id (PostTaskFunction, as sam local names it) or by its folder (post_task, as events/ does)."""
    if name in functions:
        return functions[name]
    by_folder = {function.code_uri.name: function for function in functions.values()}
    return by_folder.get(name)


def read_event(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def main(name: str, event_source: str, template_path: Path | None) -> int:
    # From anywhere inside the checkout, as `tasklane token` and `tasklane events` work.
    template_path = template_path or (checkout_root() or Path.cwd()) / "template.yaml"
    try:
        functions = load_template(template_path).functions
    except (OSError, TemplateError) as error:
        print(f"tasklane invoke: cannot read {template_path}: {error}", file=sys.stderr)
        return 2
    function = find_function(functions, name)
    if function is None:
        print(f"tasklane invoke: no function {name!r} in {template_path}; one of: {', '.join(sorted(functions))}", file=sys.stderr)
        return 2
    try:
        event = read_event(event_source)
    except (OSError, ValueError) as error:
        print(f"tasklane invoke: cannot read the event {event_source}: {error}", file=sys.stderr)
        return 2
    state = read_state()
    if state is None:
        print("tasklane invoke: the local stack is not running: start it with `make run` (its AWS is what the function uses)", file=sys.stderr)
        return 1
    environ = EnvironmentPatch()
    point_at_running_stack(environ, state, state.get("functions", {}).get(function.logical_id))
    try:
        # Lambda sends a function's output to its logs: here stderr, so stdout is the response alone.
        with contextlib.redirect_stdout(sys.stderr):
            response, ok = _invoke(function, event, state["region"])
    finally:
        unload_handler(function)
        environ.restore()
    print(json.dumps(response, indent=2))
    return 0 if ok else 1


def _invoke(function: Function, event: Any, region: str) -> tuple[Any, bool]:
    try:
        return LocalFunction(function, load_handler(function), region).invoke(event), True
    except Exception as error:
        traceback.print_exc()
        # AWS: what Invoke answers for an unhandled error (FunctionError: Unhandled).
        return {"errorMessage": str(error), "errorType": type(error).__name__}, False
