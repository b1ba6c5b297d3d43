"""`tasklane render`: run a DAP on params in this process, as the worker would, and write its results.

No stack, no AWS, no queue: the DAP engine alone (tasklane.dap), with the same limits and the same
param check `POST /v1/task` makes before accepting. A DOCX -> PDF step uses LibreOffice on this
machine (the converter function's code). `record` and `query` steps need a Salesforce integration,
which only a task posted to the API has; here they fail the run, saying so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasklane.dap import DapError, Engine, RunContext, RunResult, load_dap, param_problems
from tasklane.dap.pack import pack_directory

RENDER_TASK_ID = "local-render"


class RenderRefused(Exception):
    """The DAP or the params were refused before anything ran; the message says why."""


@dataclass(frozen=True)
class Rendered:
    result: RunResult
    written: list[Path]


def read_package(path: Path) -> bytes:
    """A .dap zip, or a DAP folder (dap.yaml at its root) packed as `python -m tasklane.dap.pack` would."""
    if path.is_dir():
        return pack_directory(path)
    if not path.is_file():
        raise RenderRefused(f"{path}: no such DAP file or folder")
    return path.read_bytes()


def parse_params(text: str | None, pairs: list[str]) -> dict[str, Any]:
    """`--params` (a JSON object, or @FILE holding one), then each `--param`, as HTTPie spells them:
    `name=Acme` is text, `amount:=12.5` (or `tags:='["a"]'`) is JSON."""
    params: dict[str, Any] = {}
    if text:
        source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        try:
            loaded = json.loads(source)
        except json.JSONDecodeError as error:
            raise RenderRefused(f"--params is not JSON: {error}") from error
        if not isinstance(loaded, dict):
            raise RenderRefused("--params must be a JSON object, e.g. '{\"id\": \"001\"}'")
        params.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or name == ":":
            raise RenderRefused(f"--param {pair!r} is neither NAME=TEXT nor NAME:=JSON")
        if name.endswith(":"):
            try:
                params[name[:-1]] = json.loads(value)
            except json.JSONDecodeError as error:
                raise RenderRefused(f"--param {pair!r}: the value after := is not JSON ({error})") from error
        else:
            params[name] = value
    return params


def render(package: bytes, params: Mapping[str, Any], out_dir: Path) -> Rendered:
    """Check the params as the API does, run the DAP, write each stored result into `out_dir`."""
    try:
        dap = load_dap(package)
    except DapError as error:
        raise RenderRefused(f"Invalid DAP: {error}") from error
    problems = param_problems(dap.manifest.params, params)
    if problems:
        raise RenderRefused("; ".join(f"params.{name}: {message}" for name, message in problems))
    from tasklane.conversion.libreoffice import LibreOffice

    converter = LibreOffice()
    try:
        result = Engine(converter=converter).run(dap, params, RunContext(task_id=RENDER_TASK_ID))
    finally:
        converter.close()
    written: list[Path] = []
    if result.ok:
        out_dir.mkdir(parents=True, exist_ok=True)
        for document in result.documents:
            # safe_filename made it a bare name: it cannot leave out_dir.
            target = out_dir / document.filename
            target.write_bytes(document.content)
            written.append(target)
    return Rendered(result, written)


def main(dap_path: Path, params_text: str | None, pairs: list[str], out_dir: Path) -> int:
    try:
        rendered = render(read_package(dap_path), parse_params(params_text, pairs), out_dir)
    except (RenderRefused, OSError) as error:
        print(f"tasklane render: {error}", file=sys.stderr)
        return 2
    for entry in rendered.result.logs:
        print(f"{entry.level:<5} {entry.message}")
    if not rendered.result.ok:
        print(f"tasklane render: failed: {rendered.result.status_message}", file=sys.stderr)
        return 1
    for path, document in zip(rendered.written, rendered.result.documents, strict=True):
        print(f"wrote {path} ({document.content_type}, {path.stat().st_size} bytes)")
    return 0
