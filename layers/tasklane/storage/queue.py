"""SQS: task messages go out ten to a SendMessageBatch call; failed entries are retried, and entries
SQS still failed on its side after that are a ServiceUnavailable (a later retry may succeed)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from tasklane.domain.records import UNIT_ATTRIBUTE, UnitMessage
from tasklane.storage.clients import FAILED_RETRY_SECONDS, unavailable

_SEND_ATTEMPTS = 4


class QueueSendError(RuntimeError):
    pass


def _entry(message: UnitMessage) -> dict[str, Any]:
    unit = message.ref().model_dump_json(exclude_none=True)
    return {
        "MessageBody": message.model_dump_json(),
        "MessageAttributes": {UNIT_ATTRIBUTE: {"DataType": "String", "StringValue": unit}},
    }


class TaskQueue:
    def __init__(self, client: Any, url: str) -> None:
        self._sqs = client
        self._url = url

    def send(self, messages: Sequence[UnitMessage]) -> None:
        """Send every message or raise: a partial send is reported, never silent."""
        for start in range(0, len(messages), 10):
            pending = {str(i): _entry(m) for i, m in enumerate(messages[start : start + 10])}
            for attempt in range(_SEND_ATTEMPTS):
                answer = self._sqs.send_message_batch(
                    QueueUrl=self._url,
                    Entries=[{"Id": k, **entry} for k, entry in pending.items()],
                )
                failed = answer.get("Failed", [])
                if any(f.get("SenderFault") for f in failed):
                    raise QueueSendError(f"SQS refused messages: {failed}")
                pending = {f["Id"]: pending[f["Id"]] for f in failed}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                not_sent = QueueSendError(f"{len(pending)} message(s) not sent after {_SEND_ATTEMPTS} attempts")
                raise unavailable(FAILED_RETRY_SECONDS) from not_sent

    def retry_soon(self, receipt_handle: str, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
