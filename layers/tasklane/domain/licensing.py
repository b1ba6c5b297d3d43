"""License units: one per task, counted per calendar month against the tenant's quota."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tasklane.domain.errors import LicenseExceeded
from tasklane.domain.views import LicenseView
from tasklane.storage import Backends
from tasklane.storage.licenses import USAGE_TTL_SECONDS, QuotaWouldBeExceeded
from tasklane.timeutil import epoch, term


@dataclass(frozen=True)
class Reservation:
    tenant: str
    term: str
    units: int
    used: int
    quota: int


def reserve(backends: Backends, tenant: str, units: int, moment: datetime) -> Reservation:
    month = term(moment)
    quota = backends.licenses.quota(tenant)
    try:
        used = backends.licenses.reserve(tenant, month, units, quota, epoch(moment) + USAGE_TTL_SECONDS)
    except QuotaWouldBeExceeded as error:
        left = max(quota - backends.licenses.used(tenant, month), 0)
        raise LicenseExceeded(
            f"License quota exceeded: this needs {units} unit(s), {left} of {quota} remain for {month}"
        ) from error
    return Reservation(tenant, month, units, used, quota)


def release(backends: Backends, reservation: Reservation) -> None:
    backends.licenses.release(reservation.tenant, reservation.term, reservation.units)


def set_quota(backends: Backends, tenant: str, monthly: int) -> None:
    if monthly < 0:
        raise ValueError("a quota is a number of units, 0 or more")
    backends.licenses.set_quota(tenant, monthly)


def status(backends: Backends, tenant: str) -> LicenseView:
    month = term(backends.clock.now())
    quota = backends.licenses.quota(tenant)
    used = backends.licenses.used(tenant, month)
    return LicenseView(term=month, used=used, quota=quota, remaining=max(quota - used, 0))
