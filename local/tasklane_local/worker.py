"""Lambda's SQS event source mapping: poll a queue, invoke the function, delete what worked."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Mapping
from typing import Any

import boto3

from tasklane_local.lambda_runtime import Invocable
from tasklane_local.references import QueueResource
from tasklane_local.template import SqsEvent

# Named under the service logger (tasklane), so these lines take the functions' log format.
logger = logging.getLogger("tasklane.local.worker")


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # AWS: the SQS event spells message attributes in camelCase, binary as base64 text.
    binary = value.get("BinaryValue")
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(b).decode("ascii") for b in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if binary is not None:
        attribute["binaryValue"] = base64.b64encode(binary).decode("ascii")
    return attribute


class SqsEventSource:
    """One function fed by one queue, the way Lambda's event source mapping feeds it."""

    def __init__(
        self,
        function: Invocable,
        event: SqsEvent,
        queue: QueueResource,
        region: str,
        endpoint: str | None = None,
        wait_seconds: int = 1,
    ) -> None:
        self._function = function
        self._event = event
        self._queue = queue
        self._region = region
        self._wait_seconds = wait_seconds
        self._sqs = boto3.session.Session().client("sqs", endpoint_url=endpoint, region_name=region)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Receive one batch, invoke the function, delete what succeeded; return the batch size."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue.url,
            MaxNumberOfMessages=self._event.batch_size,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [self._record(message) for message in messages]
        try:
            result = self._function.invoke({"Records": records})
        except Exception:
            # AWS: a failed invocation deletes nothing; the batch comes back after the
            # visibility timeout, and SQS redrives to the DLQ after maxReceiveCount.
            logger.exception("worker failed on %d message(s); they return to the queue", len(records))
            return len(records)
        succeeded = self._succeeded(records, result)
        if succeeded:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue.url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(succeeded)
                ],
            )
        return len(records)

    def _succeeded(self, records: list[dict[str, Any]], result: Any) -> list[dict[str, Any]]:
        # AWS: with ReportBatchItemFailures, no response, an empty one or an empty list
        # means the whole batch succeeded; anything malformed means it all failed.
        if not self._event.reports_batch_item_failures or result is None:
            return records
        failures = result.get("batchItemFailures") if isinstance(result, dict) else ()
        if not failures:
            if isinstance(result, dict):
                return records
            logger.error("worker returned %r: the whole batch returns to the queue", result)
            return []
        ids = {record["messageId"] for record in records}
        try:
            failed = {failure["itemIdentifier"] for failure in failures}
        except (TypeError, KeyError):
            failed = set()
        if not failed or not failed <= ids:
            logger.error("invalid batchItemFailures %r: the whole batch returns to the queue", failures)
            return []
        return [record for record in records if record["messageId"] not in failed]

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue.arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"tasklane-worker-{self._queue.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                # One traceback per outage, not one a second.
                if not failing:
                    logger.exception("polling %s failed; retrying every second", self._queue.name)
                failing = True
                self._stopping.wait(1)
            else:
                if failing:
                    logger.info("polling %s works again", self._queue.name)
                failing = False

    def stop(self) -> None:
        """Stop within one long poll (WaitTimeSeconds) plus the batch in flight."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
