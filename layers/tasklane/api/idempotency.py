"""`Idempotency-Key` on POSTs: a retried request gets the first answer instead of a second task.

Powertools idempotency keeps one record per tenant and key for an hour in the state table; the same
key with a different body is refused, and a retry while the first is still running gets 409.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from pydantic import BaseModel

from tasklane.config import TableSettings, load
from tasklane.domain.errors import BadRequest, IdempotencyInProgress, IdempotencyKeyReused, ServiceUnavailable
from tasklane.storage.clients import aws_client

logger = Logger(child=True)
HEADER = "idempotency-key"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
RECORD_SECONDS = 3600

Answer = TypeVar("Answer", bound=BaseModel)


@lru_cache(maxsize=256)
def _once(operation: str, tenant: str) -> tuple[Callable[..., dict[str, Any]], IdempotencyConfig]:
    # One partition per tenant and operation: keys scoped like every other item, load spread by tenant.
    store = DynamoDBPersistenceLayer(
        table_name=load(TableSettings).table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"TENANT#{tenant}#IDEMPOTENCY#{operation}",
        expiry_attr="expiresAt",
        boto3_client=aws_client("dynamodb"),
    )
    config = IdempotencyConfig(
        event_key_jmespath="[tenant, key]",
        payload_validation_jmespath="fingerprint",
        expires_after_seconds=RECORD_SECONDS,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)
    def run(request: dict[str, str], action: Callable[[], BaseModel]) -> dict[str, Any]:
        return action().model_dump(mode="json")

    return run, config


def once(
    app: APIGatewayHttpResolver,
    operation: str,
    tenant: str,
    fingerprint: str,
    action: Callable[[], Answer],
    model: type[Answer],
) -> Answer:
    """Run `action` once per tenant and Idempotency-Key; without the header, every call runs it.

    `fingerprint` says what makes two requests the same (the family computes it from the parsed body)."""
    key = app.current_event.headers.get(HEADER)
    if key is None:
        return action()
    if not KEY_PATTERN.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 128 visible ASCII characters")
    request = {"tenant": tenant, "key": key, "fingerprint": fingerprint}
    run, config = _once(operation, tenant)
    # In-progress records expire with the invocation, so a retry after a crash is not refused for long.
    config.register_lambda_context(app.lambda_context)
    # What the action did, for when the record's store fails after it (saving the answer, or deleting
    # the record of a refused request): then the action's own outcome is the answer, never a 503.
    outcome: list[Answer | BaseException] = []

    def recorded() -> Answer:
        try:
            answer = action()
        except BaseException as error:
            outcome.append(error)
            raise
        outcome.append(answer)
        return answer

    try:
        return model.model_validate(run(request=request, action=recorded))
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body") from error
    except IdempotencyAlreadyInProgressError as error:
        raise IdempotencyInProgress("A request with this Idempotency-Key is still being processed; retry shortly") from error
    except IdempotencyPersistenceLayerError as error:
        done = outcome[0] if outcome else None
        if isinstance(done, BaseException):
            # The request was refused (or failed) and its in-progress record could not be deleted:
            # answer the refusal; the record expires with this invocation.
            raise done from None
        if done is not None:
            # Accepted, stored and queued: only the answer could not be kept. Answer it; a retry with
            # this key within the hour is refused as in progress until the record expires.
            logger.warning("idempotency record not saved; the request was served", extra={"operation": operation})
            return model.model_validate(done.model_dump(mode="json"))
        cause = error.__cause__
        if isinstance(cause, ServiceUnavailable):  # the state table was busy: as retryable as any backend
            raise cause from cause.__cause__  # the AWS error that made it
        raise
