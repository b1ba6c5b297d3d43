"""The template cache: DAPs stored under a content hash, so the same bytes always get the same id."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any

from tasklane.dap import Dap, DapError, DataSourceError, load_dap
from tasklane.dap import param_problems as dap_param_problems
from tasklane.domain.errors import BadRequest, NotFound, PayloadTooLarge, Problem, problem
from tasklane.domain.submissions import TemplateSource
from tasklane.domain.views import TemplateView
from tasklane.storage import Backends

MAX_DAP_BYTES = 4 * 1024 * 1024  # what fits a Lambda invocation once base64-encoded
_TEMPLATE_ID = re.compile(r"[0-9a-f]{32}")


def check(data: bytes) -> Dap:
    """Validate an uploaded DAP (untrusted bytes) without storing anything."""
    if len(data) > MAX_DAP_BYTES:
        raise PayloadTooLarge(f"The DAP is larger than {MAX_DAP_BYTES} bytes")
    try:
        return load_dap(data)
    except DapError as error:
        raise BadRequest(_invalid(error), [problem("template", e) for e in error.errors]) from error


def _invalid(error: DapError) -> str:
    """"Invalid DAP: <the first problem>", and how many more the list holds."""
    if not error.errors:
        return f"Invalid DAP: {error.message}"
    more = len(error.errors) - 1
    return f"Invalid DAP: {error.errors[0]}" + (f" (and {more} more)" if more else "")


def template_id(dap: Dap) -> str:
    return dap.sha256[:32]


def store(backends: Backends, tenant: str, dap: Dap, data: bytes) -> TemplateView:
    backends.documents.put_template(tenant, template_id(dap), data, dap.name, dap.sha256)
    return TemplateView(id=template_id(dap), name=dap.name, sha256=dap.sha256, size=len(data), uploaded=backends.clock.now())


def upload(backends: Backends, tenant: str, data: bytes) -> TemplateView:
    return store(backends, tenant, check(data), data)


def describe(backends: Backends, tenant: str, template_id: str) -> TemplateView:
    found = backends.documents.head_template(tenant, template_id) if _TEMPLATE_ID.fullmatch(template_id) else None
    if found is None:
        raise NotFound(f"Template {template_id} not found")
    return TemplateView(
        id=found.template_id, name=found.name, sha256=found.sha256, size=found.size, uploaded=found.uploaded
    )


@dataclass(frozen=True)
class TemplateChoice:
    """The template a task runs: one already cached, or one embedded in the request, stored on commit.
    `dap` is the package read, so that its declared params are checked before anything is accepted."""

    id: str
    dap: Dap
    embedded: tuple[Dap, bytes] | None = None
    # Another name to store it under, once stored (a Salesforce ContentVersion id).
    alias: str | None = None

    def commit(self, backends: Backends, tenant: str) -> None:
        if self.embedded is not None:
            store(backends, tenant, *self.embedded)
        if self.alias is not None:
            backends.documents.put_template_alias(tenant, self.alias, self.id)


def choose(backends: Backends, tenant: str, source: TemplateSource, salesforce: Any = None) -> TemplateChoice:
    """The template of a request: embedded, stored by id, or (with a Salesforce session) a ContentDocument id."""
    from tasklane.domain.integrations import is_content_document_id

    if salesforce is not None and source.embedded is None and is_content_document_id(source.reference):
        return from_salesforce(backends, tenant, salesforce, source.reference or "")
    if source.embedded is not None:
        dap = check(source.embedded)
        return TemplateChoice(id=template_id(dap), dap=dap, embedded=(dap, source.embedded))
    reference = source.reference or ""
    stored = _stored(backends, tenant, reference) if _TEMPLATE_ID.fullmatch(reference) else None
    if stored is None:
        raise BadRequest(
            f"Unknown template {reference!r}",
            [problem("template", "no template with this id: upload it with POST /v1/templates", "not_found")],
        )
    return TemplateChoice(id=reference, dap=stored)


def param_problems(template: TemplateChoice, params: Sequence[Mapping[str, Any]], where: str) -> list[Problem]:
    """Each task's params against the params its DAP declares, located `<where>.params.<name>`
    (`where` formats the task's index: "tasks[{}]", or "" for a single task)."""
    found = []
    declared = template.dap.manifest.params
    for index, task_params in enumerate(params):
        prefix = f"{where.format(index)}." if where else ""
        for name, message in dap_param_problems(declared, task_params):
            found.append(problem(f"{prefix}params.{name}", message, "param"))
    return found


def check_params(template: TemplateChoice, params: Sequence[Mapping[str, Any]], where: str = "") -> None:
    """BadRequest listing every param problem, before anything is stored or charged."""
    found = param_problems(template, params, where)
    if found:
        raise BadRequest(f"The params do not match what template {template.id} declares", found)


def _stored(backends: Backends, tenant: str, template_id_: str) -> Dap | None:
    return ACCEPTING.load(backends, tenant, template_id_)


def from_salesforce(backends: Backends, tenant: str, salesforce: Any, document_id: str) -> TemplateChoice:
    """The latest version of a ContentDocument, fetched with the caller's session once: it is cached
    under its ContentVersion id, so a later request for the same version downloads nothing."""
    from tasklane.domain.integrations import refused

    what = f"Template {document_id}"
    try:
        version_id, size = salesforce.latest_version(document_id)
        alias = f"salesforce-{version_id}"
        cached = backends.documents.template_of_alias(tenant, alias)
        stored = _stored(backends, tenant, cached) if cached is not None else None
        if cached is not None and stored is not None:
            return TemplateChoice(id=cached, dap=stored)
        if size > MAX_DAP_BYTES:
            raise PayloadTooLarge(f"{what}: ContentVersion {version_id} is {size} bytes; a DAP is at most {MAX_DAP_BYTES}")
        data = salesforce.version_data(version_id)
    except DataSourceError as error:
        raise refused(error, what) from None
    dap = check(data)
    return TemplateChoice(id=template_id(dap), dap=dap, embedded=(dap, data), alias=alias)


class DapCache:
    """Parsed DAPs per worker container. Ids are content hashes, so an entry never goes stale.

    Bounded by entries and by bytes: a 330 KB upload can expand to 20 MiB of files. Least recently
    used go first; a DAP bigger than the whole budget is simply not kept.
    """

    MAX_BYTES = 64 * 1024 * 1024

    def __init__(self, size: int = 32, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[Dap, int]] = OrderedDict()
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = Lock()

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        """Forget every entry (the local stack's reset, which empties the buckets they came from)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def cached_keys(self) -> list[tuple[str, str]]:
        """(tenant, template id) of every entry, least recently used first."""
        with self._lock:
            return list(self._entries)

    def load(self, backends: Backends, tenant: str, template_id: str) -> Dap | None:
        key = (tenant, template_id)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        data = backends.documents.get_template(tenant, template_id)
        if data is None:
            return None
        dap = load_dap(data)
        cost = sum(map(len, dap.files.values()))
        with self._lock:
            if cost <= self._max_bytes and key not in self._entries:
                self._entries[key] = (dap, cost)
                self._bytes += cost
                while len(self._entries) > self._size or self._bytes > self._max_bytes:
                    _, (_, evicted) = self._entries.popitem(last=False)
                    self._bytes -= evicted
        return dap


# The accepting functions' parsed DAPs: one GetObject per template per container, then none (an id
# is a content hash, so an entry never goes stale), where a HeadObject per request used to be.
ACCEPTING = DapCache(size=16, max_bytes=16 * 1024 * 1024)
