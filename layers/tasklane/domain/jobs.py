"""Field-work jobs, synced from offline devices out of order and sometimes twice at once.

basicSync creates a job the tenant does not have, or merges into the one it has:
- steps merge by uniqueStepId: a stored step is replaced only by a copy with a newer `updated`;
  new steps are added; a job reads back ordered by stepNumber, then `completed`;
- the job's document (metadata and the fields beside it) is replaced only when the sync's
  `metadata.updated` is not older than the stored one: a stale sync changes no metadata, but its
  new steps still land;
- Completed and Aborted are final: a sync that would change a final job's status is refused (409)
  whole, steps included.
A sync writes the steps it changes (one conditional write each) and then the header, conditional on
the version it read; a sync that loses that race reads again and merges again. Its step writes were
conditional on `updated`, so they hold whatever order the writers land in: nothing is lost.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from tasklane.domain.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, problem
from tasklane.domain.job_records import (
    MAX_WORKFLOW_ID_CHARS,
    Ending,
    Job,
    JobAccess,
    JobDoc,
    JobStatus,
    JobSummary,
    StepDoc,
    StepKind,
    StoredJob,
    Sync,
    valid_client_job_id,
)
from tasklane.storage import Backends
from tasklane.jsontext import stored_size
from tasklane.timeutil import iso

# One step is one item (400 KB at most); a job is answered whole in one Lambda response (6 MB).
MAX_STEP_BYTES = 256 * 1024
MAX_JOB_STEP_BYTES = 4 * 1024 * 1024
# The header item (400 KB at most) holds the job's document and each step's newest `updated`.
MAX_DOCUMENT_BYTES = 128 * 1024
MAX_STEPS = 3000
MAX_HEADER_BYTES = 350 * 1024
MAX_ATTEMPTS = 16
# A writer that lost the header race waits a little, at random, before it reads again, so a burst
# of syncs of one job spreads out instead of colliding again (AWS's "full jitter" backoff).
BACKOFF_SECONDS = 0.01
MAX_SKIP = 10_000
PARALLEL_WRITES = 8


def _visible(access: JobAccess, stored: StoredJob | None, client_job_id: str) -> StoredJob:
    if stored is None or not access.allows(stored.doc) or not valid_client_job_id(client_job_id):
        raise NotFound(f"Job {client_job_id} does not exist")
    return stored


def _check_steps(steps: list[StepDoc]) -> dict[str, int]:
    sizes = {}
    for step in steps:
        size = stored_size(step.document)
        if size > MAX_STEP_BYTES:
            raise PayloadTooLarge(
                f"Step {step.unique_id} is {size} bytes as JSON; a step may be at most {MAX_STEP_BYTES}",
                [problem(f"steps.{step.unique_id}", "too large", "too_large")],
            )
        sizes[step.ref] = size
    return sizes


def _write_steps(backends: Backends, tenant: str, client_job_id: str, steps: list[StepDoc]) -> None:
    if not steps:
        return
    store = backends.jobs
    if len(steps) == 1:
        store.put_step(tenant, client_job_id, steps[0])
        return
    with ThreadPoolExecutor(max_workers=PARALLEL_WRITES) as pool:
        list(pool.map(lambda step: store.put_step(tenant, client_job_id, step), steps))


def _changed(index: Mapping[str, list[int]], steps: list[StepDoc]) -> list[StepDoc]:
    """The steps the stored job lacks or holds an older copy of (the newest copy when a sync repeats one)."""
    newest: dict[str, StepDoc] = {}
    for step in steps:
        if step.ref not in newest or step.updated > newest[step.ref].updated:
            newest[step.ref] = step
    return [step for ref, step in newest.items() if ref not in index or step.updated > index[ref][0]]


def _merged_doc(stored: JobDoc, incoming: JobDoc) -> JobDoc:
    """The incoming document if it is not older; else the stored one, except that an Aborted sync
    still aborts (with its abandonReason): a device may abort a job it last synced long ago."""
    if incoming.updated >= stored.updated:
        return incoming
    if incoming.status is JobStatus.ABORTED and not stored.status.terminal:
        document = json.loads(json.dumps(stored.document))
        meta = document.setdefault("metadata", {})
        meta["status"] = JobStatus.ABORTED.value
        meta["abandonReason"] = incoming.metadata.get("abandonReason")
        return JobDoc(stored.client_job_id, document)
    return stored


def _refuse_final_change(stored: StoredJob, incoming: JobDoc) -> None:
    if stored.doc.status.terminal and incoming.status is not stored.doc.status:
        raise Conflict(
            f"Job {stored.doc.client_job_id} is {stored.doc.status.value}, which is final: a sync with status "
            f"{incoming.status.value} was refused whole and none of its steps were merged"
        )


def _check_header(doc: JobDoc, index: Mapping[str, list[int]]) -> None:
    """The header (the job's document and its step index) must stay one DynamoDB item."""
    document = stored_size(doc.document)
    if document > MAX_DOCUMENT_BYTES or document + stored_size(index) > MAX_HEADER_BYTES:
        raise PayloadTooLarge(
            f"The job's own fields may be at most {MAX_DOCUMENT_BYTES} bytes of JSON, and with its steps' ids "
            f"at most {MAX_HEADER_BYTES}",
            [problem("metadata", "the job's own fields or its step ids are too large", "too_large")],
        )


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, BACKOFF_SECONDS * min(2**attempt, 32)))


def sync(backends: Backends, access: JobAccess, request: Sync, create_only: bool = False) -> tuple[Job, bool]:
    """Create or merge the job; the job as stored after, and whether this sync created it.
    `create_only`: a job that exists is a conflict, before anything is written."""
    client_job_id = request.doc.client_job_id
    if not access.allows(request.doc):
        raise Forbidden(f"This token syncs jobs of team {access.team} only")
    sizes = _check_steps(request.steps)
    _check_header(request.doc, {})
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            _back_off(attempt)
        stored = backends.jobs.header(access.tenant, client_job_id)
        if stored is not None and not access.allows(stored.doc):
            raise NotFound(f"Job {client_job_id} does not exist")
        if stored is not None and create_only:
            raise Conflict(f"Job {client_job_id} already exists")
        if stored is not None:
            _refuse_final_change(stored, request.doc)
        stored_index = stored.step_index if stored is not None else {}
        changed = _changed(stored_index, request.steps)
        # `changed` holds only steps the index lacks or holds older: each replaces its entry.
        index = {**stored_index, **{s.ref: [s.updated, sizes[s.ref]] for s in changed}}
        step_bytes = sum(size for _, size in index.values())
        if step_bytes > MAX_JOB_STEP_BYTES:
            raise PayloadTooLarge(f"A job's steps may hold at most {MAX_JOB_STEP_BYTES} bytes of JSON in all")
        if len(index) > MAX_STEPS:
            raise PayloadTooLarge(f"A job may hold at most {MAX_STEPS} steps, completed and cancelled together")
        doc = _merged_doc(stored.doc, request.doc) if stored is not None else request.doc
        _check_header(doc, index)
        _write_steps(backends, access.tenant, client_job_id, changed)
        if stored is None:
            created = StoredJob(
                job_id=secrets.token_hex(12),
                created=iso(backends.clock.now()),
                doc=doc,
                step_index=index,
                step_bytes=step_bytes,
                version=1,
            )
            if backends.jobs.create_header(access.tenant, created):
                return _read(backends, access.tenant, created, _ending(None, created, created.created)), True
            continue
        merged = replace(stored, doc=doc, step_index=index, step_bytes=step_bytes, version=stored.version + 1)
        if not changed and merged.doc is stored.doc:
            return _read(backends, access.tenant, stored), False
        if backends.jobs.replace_header(access.tenant, merged, stored.version):
            return _read(backends, access.tenant, merged, _ending(stored, merged, iso(backends.clock.now()))), False
    raise ServiceUnavailable(f"Job {client_job_id} is being synced by others; retry")


def _ending(before: StoredJob | None, after: StoredJob, moment: str) -> Ending | None:
    """How the job ended, if the write from `before` (None: none stored) to `after` made it final."""
    if not after.doc.status.terminal or (before is not None and before.doc.status.terminal):
        return None
    return Ending(ok=after.doc.status is JobStatus.COMPLETED, start=after.created, end=moment)


def _read(backends: Backends, tenant: str, stored: StoredJob, ending: Ending | None = None) -> Job:
    # Only the steps the header lists: a sync refused or cut short after writing its steps (and
    # before its header write) leaves them unlisted, so they are not part of the job.
    index = stored.step_index
    found = backends.jobs.steps(tenant, stored.doc.client_job_id) if index else []
    steps = [step for step in found if step.ref in index]
    completed = sorted((s for s in steps if s.kind is StepKind.COMPLETED), key=StepDoc.order)
    cancelled = sorted((s for s in steps if s.kind is StepKind.CANCELLED), key=StepDoc.order)
    return Job(stored=stored, completed_steps=completed, cancelled_steps=cancelled, ending=ending)


def create(backends: Backends, access: JobAccess, request: Sync) -> Job:
    """POST /jobs/v1: a new job only (409 when the clientJobId exists; nothing is merged then)."""
    return sync(backends, access, request, create_only=True)[0]


def _header(backends: Backends, access: JobAccess, client_job_id: str) -> StoredJob | None:
    # An id no job can have (creation checks the pattern) is not looked up: it may not even fit a key.
    return backends.jobs.header(access.tenant, client_job_id) if valid_client_job_id(client_job_id) else None


def get(backends: Backends, access: JobAccess, client_job_id: str) -> Job:
    return _read(backends, access.tenant, _visible(access, _header(backends, access, client_job_id), client_job_id))


def _rewrite(
    backends: Backends, access: JobAccess, client_job_id: str, change: Any, allow_final: bool = False
) -> Job:
    """Apply `change(document) -> document` to the job's document under the header's version check."""
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            _back_off(attempt)
        stored = _visible(access, _header(backends, access, client_job_id), client_job_id)
        if stored.doc.status.terminal and not allow_final:
            raise Conflict(f"Job {client_job_id} is {stored.doc.status.value}, which is final")
        document = change(json.loads(json.dumps(stored.doc.document)))
        merged = replace(stored, doc=JobDoc(client_job_id, document), version=stored.version + 1)
        _check_header(merged.doc, stored.step_index)
        if backends.jobs.replace_header(access.tenant, merged, stored.version):
            return _read(backends, access.tenant, merged)
    raise ServiceUnavailable(f"Job {client_job_id} is being changed by others; retry")


def update_metadata(backends: Backends, access: JobAccess, client_job_id: str, metadata: dict[str, Any]) -> Job:
    """POST /jobs/v1/{clientJobId}: replace the metadata fields given (clientJobId and status stay)."""
    fixed = {"clientJobId", "status"}
    refused = sorted(fixed & set(metadata))
    if refused:
        raise BadRequest(
            f"{', '.join(refused)} cannot be changed here", [problem(f"metadata.{name}", "cannot be changed") for name in refused]
        )

    def change(document: dict[str, Any]) -> dict[str, Any]:
        document["metadata"] = {**(document.get("metadata") or {}), **metadata}
        return document

    return _rewrite(backends, access, client_job_id, change)


def add_metadata(backends: Backends, access: JobAccess, client_job_id: str, values: dict[str, str]) -> Job:
    """POST /jobs/v1/{clientJobId}/metadata: merge a string map into metadata.metadata."""

    def change(document: dict[str, Any]) -> dict[str, Any]:
        meta = document.setdefault("metadata", {})
        current = meta.get("metadata")
        meta["metadata"] = {**(current if isinstance(current, dict) else {}), **values}
        return document

    return _rewrite(backends, access, client_job_id, change, allow_final=True)


def abort(backends: Backends, access: JobAccess, client_job_id: str, reason: str | None) -> Job:
    """Only incomplete jobs can be aborted."""
    moment = iso(backends.clock.now())

    def change(document: dict[str, Any]) -> dict[str, Any]:
        meta = document.setdefault("metadata", {})
        meta["status"] = JobStatus.ABORTED.value
        meta["abandonReason"] = reason
        meta["updated"] = moment
        return document

    job = _rewrite(backends, access, client_job_id, change)
    return replace(job, ending=Ending(ok=False, start=job.stored.created, end=moment))


def assign(backends: Backends, access: JobAccess, client_job_id: str, user_id: str) -> Job:
    """Not for Aborted or Completed jobs."""

    def change(document: dict[str, Any]) -> dict[str, Any]:
        document.setdefault("metadata", {})["userId"] = user_id
        return document

    return _rewrite(backends, access, client_job_id, change)


def delete(backends: Backends, access: JobAccess, client_job_id: str) -> None:
    _visible(access, _header(backends, access, client_job_id), client_job_id)
    backends.jobs.delete(access.tenant, client_job_id)
    backends.job_resources.delete_all(access.tenant, client_job_id)


def page(
    backends: Backends, access: JobAccess, skip: int, limit: int, workflow_id: str | None = None
) -> list[JobSummary]:
    if skip > MAX_SKIP:
        raise BadRequest(f"skip may be at most {MAX_SKIP}", [problem("skip", f"more than {MAX_SKIP}")])
    if workflow_id is not None and len(workflow_id) > MAX_WORKFLOW_ID_CHARS:
        return []
    return backends.jobs.page(access.tenant, workflow_id, access.team, skip, limit)


def require(backends: Backends, access: JobAccess, client_job_id: str) -> StoredJob:
    """The job, if the caller may see it (attachments check this first)."""
    return _visible(access, _header(backends, access, client_job_id), client_job_id)
