"""The SQS worker: each message names up to ten tasks; only failed messages are reported back.

The one function with Powertools' Tracer: a task's time goes to S3, DynamoDB, KMS, the converter
function and Salesforce, and its boto3 and requests subsegments show which (the converter's trace
joins it). It adds about 60 ms to the worker's cold start and 0.4 ms to a boto3 call
(benchmarks/cold_imports.py); the routes, each a few DynamoDB calls, keep Lambda's own segment only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from tasklane import observability
from tasklane.config import (
    BucketSettings,
    ConverterSettings,
    QueueSettings,
    SalesforceSettings,
    SessionKeySettings,
    TableSettings,
    load,
)
from tasklane.domain.execution import UNREADABLE, BatchNotYetAccepted, OutOfTime, Worker
from tasklane.domain.records import UnitMessage, RunUnit
from tasklane.storage import get_backends



class Config(
    TableSettings,
    BucketSettings,
    QueueSettings,
    ConverterSettings,
    SalesforceSettings,
    SessionKeySettings,
):
    """What this function reads; template.yaml gives it exactly these variables."""


# boto3 (S3, DynamoDB, SQS, KMS, the converter's Invoke) and requests (Salesforce, via simple-salesforce).
TRACED = ("botocore", "requests")

config = load(Config)
logger = observability.logger()
metrics = observability.FamilyMetrics(observability.DOCUMENTS)
tracer = Tracer(patch_modules=TRACED)
# Every record reported as failed, rather than a raised error: the local event source and AWS agree.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_worker: Worker | None = None


def worker() -> Worker:
    global _worker
    if _worker is None:
        _worker = Worker(get_backends())
    return _worker


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    # The attribute names the unit whatever the body holds: its keys are on every line about it.
    unit = RunUnit.from_attributes(record.raw_event.get("messageAttributes") or {})
    if unit is not None:
        tracer.put_annotation("tenant", unit.tenant)
        if unit.batchId is not None:
            tracer.put_annotation("batch_id", unit.batchId)
    with observability.keys(message_id=record.message_id, **(observability.unit_keys(unit) if unit else {})):
        run_record(record, unit, lambda_context)


def run_record(record: SQSRecord, unit: RunUnit | None, lambda_context: LambdaContext) -> None:
    try:
        message = UnitMessage.model_validate_json(record.body)
    except ValidationError as error:
        # Retrying cannot make it readable: end its unit now, found by the attribute beside the body.
        logger.error("unreadable task message", extra={"unit": unit and unit.model_dump(), "error": str(error)[:500]})
        if unit is not None:
            metrics.failed(len(worker().give_up(unit, UNREADABLE)))
        return
    try:
        outcomes = worker().handle(
            message,
            record.receipt_handle,
            lambda_context.get_remaining_time_in_millis(),
            int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount", 1)),
        )
    except (BatchNotYetAccepted, OutOfTime) as pending:
        logger.info("message returns to the queue", extra={"unit": message.ref().model_dump(), "reason": repr(pending)})
        raise
    except Exception:
        logger.exception("unit failed; its message returns to the queue", extra={"unit": message.ref().model_dump()})
        raise
    for outcome in outcomes:
        metrics.ran(outcome)
    logger.info("unit ran", extra={"tasks": len(outcomes), "failed": sum(1 for outcome in outcomes if not outcome.ok)})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
