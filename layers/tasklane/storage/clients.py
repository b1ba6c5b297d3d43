"""boto3 clients, one per service per process. AWS_ENDPOINT_URL points them at moto locally.

Every AWS failure the adapters see is decided here, once: a call that fails in a way a retry can
cure (throttled, a 5xx of the service, a connection or timeout error), once botocore's own retries
are spent, raises `ServiceUnavailable` with the seconds after which to retry; any other failure
(refused access, a malformed call, a condition that did not hold) reaches the adapter unchanged, to
handle or to let through as a 500. A transaction cancelled only because an item was throttled is
retryable too; one cancelled for a condition or a conflicting transaction is the adapter's to decide.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NoConnection

from tasklane.domain.errors import ServiceUnavailable

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=32,
)

# Throttled: the service answered, asking to slow down. Failed: it could not answer (5xx, no connection).
THROTTLED_RETRY_SECONDS = 2
FAILED_RETRY_SECONDS = 5
_THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "RequestThrottled",
    }
)
_FAILED_CODES = frozenset(
    {"InternalServerError", "InternalError", "InternalFailure", "ServiceUnavailable", "RequestTimeout", "KMSInternalException"}
)
# What a DynamoDB transaction gives as the reason it was cancelled when an item was throttled.
_THROTTLED_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


def retry_after(error: BaseException) -> int | None:
    """Seconds after which the call that failed with `error` may succeed; None: no retry will help."""
    if isinstance(error, (NoConnection, HTTPClientError)):
        return FAILED_RETRY_SECONDS
    if not isinstance(error, ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in _THROTTLING_CODES:
        return THROTTLED_RETRY_SECONDS
    if code == "TransactionCanceledException":
        reasons = {str(r.get("Code")) for r in error.response.get("CancellationReasons") or []} - {"None"}
        return THROTTLED_RETRY_SECONDS if reasons and reasons <= _THROTTLED_REASONS else None
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return FAILED_RETRY_SECONDS if code in _FAILED_CODES or status >= 500 else None


def unavailable(seconds: int) -> ServiceUnavailable:
    return ServiceUnavailable(f"A backend is busy or unavailable; retry in {seconds} s", retry_after=seconds)


def _translated(operation: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(operation)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            seconds = retry_after(error)
            if seconds is None:
                raise
            raise unavailable(seconds) from error

    return call


class _Client:
    """A boto3 client whose operations fail as the module docstring says; everything else (`meta`,
    `exceptions`, presigning) is the client's own. Paginators would call the client behind this one,
    so they are refused: adapters page by hand."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._operations = frozenset(client.meta.method_to_api_mapping)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_client", "_operations"):
            raise AttributeError(name)
        if name in ("get_paginator", "get_waiter"):
            raise AttributeError(f"{name} would bypass the failure translation: page by hand")
        found = getattr(self._client, name)
        return _translated(found) if name in self._operations else found


@lru_cache(maxsize=None)
def aws_client(service: str) -> Any:
    return _Client(boto3.session.Session().client(service, config=_CONFIG))


# A conversion may take the task's whole time: wait that long, and never send it twice. Its failures
# fail the task (tasklane.storage.converter), so this client is the plain one.
_CONVERTER_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=3, read_timeout=75)


@lru_cache(maxsize=1)
def converter_client() -> Any:
    return boto3.session.Session().client("lambda", config=_CONVERTER_CONFIG)
