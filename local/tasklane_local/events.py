"""`tasklane events`: the sample events of events/, made real against the running local stack.

The committed events name ids no stack has (a template, a task, a batch, a GenericTask) and a
placeholder token. This creates those things through the running stack's API, as tenant acme (the
tenant the events carry), and writes each event with the real ids and a real token into
.tasklane/events/, ready for `tasklane invoke` or `sam local invoke -e`:

    tasklane invoke post_task -e .tasklane/events/post_task.json

The job the events name (cb3dc8dc-...) is client-named: it is synced as sync_job.json has it, with
the resource get_job_resource.json reads. create_job.json creates another job, so it works too.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tasklane_local import devkeys
from tasklane_local.stack import checkout_root, default_state_dir, read_state

TENANT = "acme"
# Every scope of the three families: one token for every event.
SCOPES = ("tasks:read", "tasks:write", "OR.Tasks", "workflow.execute", "job.admin")
# The ids the committed events name, which the stack assigns itself: replaced by real ones.
TEMPLATE_ID = "0123456789abcdef0123456789abcdef"
TASK_ID = "t-223e5458ec7f9a57802e3e31deba48cb"
BATCH_ID = "074608c2393f272d31870bd0e01f9652"
BATCH_TASK_ID = "334b2fc3-49cf-4089-a09b-f638fb1f97dc"
GENERIC_TASK_ID = 1378
TOKEN_PLACEHOLDER = re.compile(r"<token from `tasklane token[^`>]*`>")
SAMPLE_DAP = Path("examples") / "account-profile.dap"
TIMEOUT_SECONDS = 30


class SeedFailed(Exception):
    pass


@dataclass(frozen=True)
class Api:
    url: str
    token: str

    def call(self, method: str, path: str, *, body: bytes | str | None = None, content_type: str = "application/json") -> Any:
        headers = {"authorization": f"Bearer {self.token}", "content-type": content_type}
        answer = requests.request(method, f"{self.url}{path}", data=body, headers=headers, timeout=TIMEOUT_SECONDS)
        if answer.status_code >= 300:
            raise SeedFailed(f"{method} {path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def seed(api: Api, events: Mapping[str, Mapping[str, Any]], dap: bytes) -> dict[str, str]:
    """Create what the events name; the replacements (committed id -> real id) for their text."""
    template = api.call("POST", "/v1/templates", body=dap, content_type="application/zip")["id"]
    post_task = json.loads(events["post_task"]["body"])
    task = api.call("POST", "/v1/task", body=json.dumps({**post_task, "template": template}))["taskID"]
    post_batch = json.loads(events["post_batch"]["body"])
    batch = api.call("POST", "/v1/batch", body=json.dumps({**post_batch, "template": template}))
    generic_task = api.call("POST", "/tasks/GenericTasks/CreateTask", body=_body(events["create_generic_task"]))["id"]
    api.call("POST", "/jobs/v1/basicSync", body=_body(events["sync_job"]))
    resource = events["get_job_resource"]["pathParameters"]
    api.call(
        "PUT",
        f"/jobs/v1/{resource['clientJobId']}/resources/{resource['name']}",
        body=_body(events["put_job_resource"]),
        content_type=events["put_job_resource"]["headers"]["content-type"],
    )
    return {
        TEMPLATE_ID: template,
        TASK_ID: task,
        BATCH_ID: batch["id"],
        BATCH_TASK_ID: batch["tasks"][0],
        str(GENERIC_TASK_ID): str(generic_task),
    }


def made_real(text: str, replacements: Mapping[str, str], token: str) -> str:
    """An event's text with the committed ids and the token placeholder replaced."""
    text = TOKEN_PLACEHOLDER.sub(token, text)
    for committed, real in replacements.items():
        # Whole ids only: 1378 is also a number inside a body's JSON text.
        text = re.sub(rf"(?<![\w-]){re.escape(committed)}(?![\w-])", real, text)
    return text


def main() -> int:
    root = checkout_root()
    state = read_state()
    if root is None or state is None:
        print("tasklane events: the local stack is not running here: start it with `make run`", file=sys.stderr)
        return 1
    texts = {path.name: path.read_text(encoding="utf-8") for path in sorted((root / "events").glob("*.json"))}
    events = {Path(name).stem: json.loads(text) for name, text in texts.items()}
    token = devkeys.issue_token(TENANT, SCOPES, default_state_dir())
    api = Api(state["url"], token)
    try:
        replacements = seed(api, events, (root / SAMPLE_DAP).read_bytes())
    except (SeedFailed, requests.RequestException) as failure:
        print(f"tasklane events: could not create what the events name: {failure}", file=sys.stderr)
        return 1
    target = default_state_dir() / "events"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (target / name).write_text(made_real(text, replacements, token), encoding="utf-8")
    print(f"wrote {len(texts)} events to {target} (tenant {TENANT}; the token lasts an hour). Run one:")
    print(f"  .venv/bin/tasklane invoke post_task -e {target / 'post_task.json'}")
    return 0
