"""Dead-lettered task messages: their tasks end failed, so no task or batch waits forever."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from tasklane import observability
from tasklane.config import TableSettings, load
from tasklane.domain.execution import Worker
from tasklane.domain.records import UnitMessage, RunUnit
from tasklane.storage import get_backends



class Config(TableSettings):
    """What this function reads; template.yaml gives it exactly these variables."""


config = load(Config)
logger = observability.logger()
metrics = observability.FamilyMetrics(observability.DOCUMENTS)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    # The attribute parses whatever the body holds; the body is the fallback for older messages.
    unit = RunUnit.from_attributes(record.raw_event.get("messageAttributes") or {})
    if unit is None:
        try:
            unit = UnitMessage.model_validate_json(record.body).ref()
        except ValidationError:
            # Names no unit: nothing to record, and retrying cannot help.
            logger.error("dropping a dead letter that names no task", extra={"message_id": record.message_id})
            return
    with observability.keys(message_id=record.message_id, **observability.unit_keys(unit)):
        given_up = Worker(get_backends()).give_up(unit)
        logger.warning("tasks failed after every attempt", extra={"tasks": len(given_up)})
    metrics.failed(len(given_up))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
