"""Both caches of parsed and compiled DAPs are bounded by bytes, not only by entries."""

from __future__ import annotations

import os
from types import SimpleNamespace

from tasklane.dap import Engine, RunContext, load_dap
from tasklane.domain.templates import DapCache

from .conftest import build_zip

MiB = 1024 * 1024
MANIFEST = "name: D{n}\nsteps:\n  - compose: {{template: x.txt, as: out}}\n"


def dap_zip(n: int, extra_bytes: int) -> bytes:
    # Random bytes do not compress, so they pass the zip-bomb check at any size.
    return build_zip({"dap.yaml": MANIFEST.format(n=n), "x.txt": "{{ 1 }}", "blob.bin": os.urandom(extra_bytes)})


class FakeBackends:
    def __init__(self, packages: dict[str, bytes]) -> None:
        self.fetched: list[str] = []

        def get_template(tenant: str, template_id: str) -> bytes | None:
            self.fetched.append(template_id)
            return packages.get(template_id)

        self.documents = SimpleNamespace(get_template=get_template)


def test_dap_cache_is_bounded_by_bytes_least_recently_used_first():
    packages = {f"t{n}": dap_zip(n, 3 * MiB) for n in range(5)}
    backends = FakeBackends(packages)
    cache = DapCache(max_bytes=10 * MiB)
    for n in range(3):
        cache.load(backends, "acme", f"t{n}")  # type: ignore[arg-type]
    assert cache.cached_keys() == [("acme", "t0"), ("acme", "t1"), ("acme", "t2")]
    cache.load(backends, "acme", "t0")  # t0 becomes the most recently used
    cache.load(backends, "acme", "t3")  # 12 MiB > 10 MiB: t1 goes
    assert cache.cached_keys() == [("acme", "t2"), ("acme", "t0"), ("acme", "t3")]
    assert cache.cached_bytes <= 10 * MiB
    assert backends.fetched == ["t0", "t1", "t2", "t3"]  # the second t0 came from the cache


def test_a_dap_bigger_than_the_budget_is_not_cached():
    backends = FakeBackends({"small": dap_zip(0, 1000), "big": dap_zip(1, 3 * MiB)})
    cache = DapCache(max_bytes=2 * MiB)
    cache.load(backends, "acme", "small")  # type: ignore[arg-type]
    big = cache.load(backends, "acme", "big")  # type: ignore[arg-type]
    assert big is not None and big.name == "D1"
    assert cache.cached_keys() == [("acme", "small")]


def test_engine_cache_is_bounded_by_bytes():
    daps = [load_dap(dap_zip(n, 3 * MiB)) for n in range(5)]
    engine = Engine(cache_bytes=10 * MiB)
    for dap in daps:
        assert engine.run(dap, {}, RunContext(task_id="t")).ok
        assert engine.cached_bytes <= 10 * MiB
    assert list(engine._cache) == [d.sha256 for d in daps[-3:]]


def test_engine_cache_counts_compiled_templates():
    dap = load_dap(build_zip({"dap.yaml": MANIFEST.format(n=0), "x.txt": "{{ 1 }}"}))
    engine = Engine()
    engine.run(dap, {}, RunContext(task_id="t"))
    assert engine.cached_bytes > len(b"{{ 1 }}") + len(MANIFEST)  # the compiled code is counted too
