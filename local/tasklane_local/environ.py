"""Set variables in os.environ and put back exactly what was there before.

The local stack shares one process with the developer's shell or the test run, so it
changes only the keys it needs and restores them; it never replaces os.environ wholesale.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

_MISSING = object()


class EnvironmentPatch:
    def __init__(self) -> None:
        self._saved: dict[str, object] = {}

    def set(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            self._saved.setdefault(key, os.environ.get(key, _MISSING))
            os.environ[key] = value

    def unset(self, names: Iterable[str]) -> None:
        for key in list(names):
            self._saved.setdefault(key, os.environ.get(key, _MISSING))
            os.environ.pop(key, None)

    def set_default(self, values: Mapping[str, str]) -> None:
        self.set({key: value for key, value in values.items() if not os.environ.get(key)})

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is _MISSING:
                os.environ.pop(key, None)
            else:
                assert isinstance(value, str)
                os.environ[key] = value
        self._saved.clear()
