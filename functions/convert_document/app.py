"""DOCX -> PDF with one warm LibreOffice per execution environment (see tasklane.conversion).

Invoked by the worker, never by a route: `{"document": <base64 DOCX>, "deadlineSeconds": n}` ->
`{"pdf": <base64>}`, or `{"error": "timeout" | "failed", "message": ...}` for the task to report.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, ValidationError

from tasklane import observability
from tasklane.config import BaseSettings, load
from tasklane.conversion.libreoffice import LibreOffice
from tasklane.dap.ports import ConversionFailed, ConversionTimeout

class Config(BaseSettings):
    """Nothing to read: the image sets UNO_PYTHON and HOME itself."""


config = load(Config)
logger = observability.logger()
# Started on the first conversion, then kept for the life of the execution environment.
libreoffice = LibreOffice()
SAFETY_SECONDS = 2.0


class Conversion(BaseModel):
    document: str = Field(min_length=1)
    deadline_seconds: float = Field(alias="deadlineSeconds", gt=0, le=900)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    try:
        request = Conversion.model_validate(event)
        document = base64.b64decode(request.document, validate=True)
    except (ValidationError, binascii.Error) as error:
        return {"error": "failed", "message": f"bad conversion request: {str(error)[:200]}"}
    # Never past this invocation's own end: the restart after a timeout must fit too.
    deadline = min(request.deadline_seconds, context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS)
    try:
        pdf = libreoffice.docx_to_pdf(document, deadline)
    except ConversionTimeout as timeout:
        logger.warning("conversion passed its deadline; LibreOffice stopped, the next one starts it", extra={"deadline": deadline})
        return {"error": "timeout", "message": str(timeout)}
    except ConversionFailed as failure:
        logger.warning("conversion failed", extra={"reason": str(failure)})
        return {"error": "failed", "message": str(failure)}
    logger.info("converted", extra={"docx_bytes": len(document), "pdf_bytes": len(pdf), "starts": libreoffice.starts})
    return {"pdf": base64.b64encode(pdf).decode("ascii")}
