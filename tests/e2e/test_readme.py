"""The README's walk-through, run as written against the local stack, printing what the README shows.

Every ```sh block from "A walk through with curl" up to "## Auth" runs, in order, in one bash with
`set -euo pipefail` (a command that fails fails the test), from a folder that looks like the
checkout: `.venv`, `examples` and `.tasklane` (the stack's keys) are links. Two things are changed
from the text: the stack's address (a free port, not 3000) and the tenant (a fresh one, so what
other tests stored there cannot change a count). A ```text block after a sh block is what that
block prints: line for line, `...` matching anything.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

from tests.support import ROOT

README = ROOT / "README.md"
FIRST, LAST = "### A walk through with curl", "## Auth"
FENCE = re.compile(r"^```(sh|text)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
MARK = "@@readme-block@@"


def walkthrough_blocks(text: str) -> list[tuple[str, str | None]]:
    """(sh code, the text block right after it or None), in order."""
    section = text[text.index(FIRST) : text.index(LAST)]
    fences = list(FENCE.finditer(section))
    blocks: list[tuple[str, str | None]] = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "sh":
            continue
        after = fences[index + 1] if index + 1 < len(fences) else None
        shown = None
        if after is not None and after.group(1) == "text" and not section[fence.end() : after.start()].strip():
            shown = after.group(2)
        blocks.append((fence.group(2), shown))
    return blocks


def shown_matches(shown: str, printed: str) -> bool:
    wanted = shown.rstrip("\n").split("\n")
    got = printed.rstrip("\n").split("\n")
    return len(wanted) == len(got) and all(
        re.fullmatch(".*?".join(re.escape(part) for part in line.split("...")), actual) is not None
        for line, actual in zip(wanted, got, strict=True)
    )


def test_the_walkthrough_blocks_are_found():
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    assert all(shown is not None for _, shown in blocks), "every block shows what it prints"


def test_the_readme_walkthrough_runs_as_written(stack, tmp_path):
    assert shutil.which("jq"), "jq is missing: make test installs it (apt-get install jq)"
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in (".venv", "examples"):
        (checkout / name).symlink_to(ROOT / name)
    (checkout / ".tasklane").symlink_to(stack.state_dir)
    (checkout / "template.yaml").symlink_to(ROOT / "template.yaml")
    tenant = "readme" + uuid.uuid4().hex[:8]
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    script = ["set -euo pipefail"]
    for code, _ in blocks:
        for address in ("http://127.0.0.1:3000", "localhost:3000"):
            code = code.replace(address, stack.url)
        script += [f"echo {MARK}", code.replace("acme", tenant)]
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=checkout, capture_output=True, text=True, timeout=180, check=False
    )
    assert run.returncode == 0, f"a README command failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    printed = run.stdout.split(MARK + "\n")[1:]
    assert len(printed) == len(blocks)
    for (code, shown), output in zip(blocks, printed, strict=True):
        expected = (shown or "").replace("acme", tenant)
        assert shown_matches(expected, output), f"this block:\n{code}\nprinted:\n{output}\nthe README shows:\n{expected}"


def test_the_matcher_can_fail():
    assert shown_matches('{"id":"..."}\n', '{"id":"abc"}\n')
    assert not shown_matches('{"id":"..."}\n', '{"id":"abc"}\nmore\n')
    assert not shown_matches('{"used":5}\n', '{"used":6}\n')
    assert shown_matches("... x\n", "a b x\n") and not shown_matches("... x\n", "a b y\n")


def test_the_block_finder_pairs_each_command_with_what_it_prints():
    text = f"{FIRST}\n```sh\necho a\n```\n```text\na\n```\nprose\n```sh\necho b\n```\nprose\n```text\nb\n```\n{LAST}\n"
    assert walkthrough_blocks(text) == [("echo a\n", "a\n"), ("echo b\n", None)]

