"""Which AWS failures a retry can cure (tasklane.storage.clients): the one place that decides it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from tasklane.domain.errors import ServiceUnavailable
from tasklane.storage.clients import FAILED_RETRY_SECONDS, THROTTLED_RETRY_SECONDS, _Client, retry_after


def client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, "Op")  # type: ignore[arg-type]


def cancelled(*reasons: str) -> ClientError:
    return client_error("TransactionCanceledException", CancellationReasons=[{"Code": r} for r in reasons])


@pytest.mark.parametrize(
    "error, seconds",
    [
        (client_error("ProvisionedThroughputExceededException"), THROTTLED_RETRY_SECONDS),
        (client_error("ThrottlingException"), THROTTLED_RETRY_SECONDS),
        (client_error("RequestLimitExceeded"), THROTTLED_RETRY_SECONDS),
        (client_error("SlowDown", 503), THROTTLED_RETRY_SECONDS),
        (client_error("InternalServerError", 500), FAILED_RETRY_SECONDS),
        (client_error("ServiceUnavailable", 503), FAILED_RETRY_SECONDS),
        (client_error("SomethingNew", 502), FAILED_RETRY_SECONDS),
        (cancelled("None", "ThrottlingError"), THROTTLED_RETRY_SECONDS),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), FAILED_RETRY_SECONDS),
        (ConnectTimeoutError(endpoint_url="https://dynamodb"), FAILED_RETRY_SECONDS),
        (ReadTimeoutError(endpoint_url="https://dynamodb"), FAILED_RETRY_SECONDS),
        # A retry cannot cure these; conditions and conflicts are the adapter's to decide.
        (client_error("AccessDeniedException"), None),
        (client_error("AccessDenied", 403), None),
        (client_error("ValidationException"), None),
        (client_error("ResourceNotFoundException"), None),
        (client_error("ConditionalCheckFailedException"), None),
        (cancelled("ConditionalCheckFailed", "ThrottlingError"), None),
        (cancelled("TransactionConflict", "None"), None),
        (cancelled("None", "ValidationError"), None),
        (NoCredentialsError(), None),
        (ParamValidationError(report="bad"), None),
        (RuntimeError("a bug"), None),
    ],
)
def test_only_failures_a_retry_can_cure_are_retryable(error, seconds):
    assert retry_after(error) == seconds


class _Fake:
    """What _Client needs of a boto3 client: its operations' names, and the operations."""

    class meta:  # noqa: N801
        method_to_api_mapping = {"put_item": "PutItem"}

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def put_item(self, **_: Any) -> None:
        raise self.error

    def generate_presigned_url(self) -> str:
        return "signed"


def test_an_operation_raises_service_unavailable_chained_to_the_aws_error():
    throttle = client_error("ThrottlingException")
    with pytest.raises(ServiceUnavailable) as raised:
        _Client(_Fake(throttle)).put_item(TableName="t")
    assert raised.value.retry_after == THROTTLED_RETRY_SECONDS and raised.value.__cause__ is throttle


def test_other_failures_and_other_attributes_pass_through_and_paginators_are_refused():
    denied = client_error("AccessDeniedException")
    client = _Client(_Fake(denied))
    with pytest.raises(ClientError) as raised:
        client.put_item(TableName="t")
    assert raised.value is denied
    assert client.generate_presigned_url() == "signed" and client.meta.method_to_api_mapping
    with pytest.raises(AttributeError, match="page by hand"):
        client.get_paginator("list_objects_v2")
