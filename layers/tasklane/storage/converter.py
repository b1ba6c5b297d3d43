"""DOCX -> PDF through the converter function (LibreOffice in a container image), by Lambda Invoke.

The document travels in the request and the PDF in the response, base64-encoded, so a conversion
is one AWS call and nothing is written to S3. Lambda's synchronous payload limit (6 MB each way)
bounds it: larger documents fail with a message saying so.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from tasklane.dap.ports import ConversionFailed, ConversionTimeout

# Base64 grows 4/3, and the JSON around it needs a little: 6,291,456 bytes of payload in all.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


class LambdaConverter:
    """Implements `tasklane.dap.ports.Converter`."""

    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function_name = function_name

    def docx_to_pdf(self, content: bytes, deadline_seconds: float) -> bytes:
        if len(content) > MAX_DOCUMENT_BYTES:
            raise ConversionFailed(f"the DOCX is {len(content)} bytes; at most {MAX_DOCUMENT_BYTES} convert")
        event = {"document": base64.b64encode(content).decode("ascii"), "deadlineSeconds": deadline_seconds}
        try:
            response = self._client.invoke(FunctionName=self._function_name, Payload=json.dumps(event).encode())
        except ReadTimeoutError:
            raise ConversionTimeout("the converter did not answer in time") from None
        except (ClientError, BotoCoreError) as error:
            raise ConversionFailed(f"the converter could not be reached ({type(error).__name__})") from None
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError") or not isinstance(payload, dict):
            raise ConversionFailed("the converter failed")
        if payload.get("error") == "timeout":
            raise ConversionTimeout(str(payload.get("message", "")))
        if "pdf" not in payload:
            raise ConversionFailed(str(payload.get("message", "the converter returned no PDF"))[:300])
        return base64.b64decode(payload["pdf"])
