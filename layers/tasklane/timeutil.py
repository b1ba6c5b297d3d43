"""Timestamps as the API shows them: ISO 8601, UTC, milliseconds, trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """The time as the domain reads it: injected (Backends.clock), so tests set it instead of patching."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK = Clock()


def now() -> datetime:
    """The system time, for code outside the domain (the local stack, scripts)."""
    return SYSTEM_CLOCK.now()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def term(moment: datetime) -> str:
    """The license term: the calendar month, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m")
