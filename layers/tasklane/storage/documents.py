"""S3: DAP templates (content-addressed, kept), batch inputs and results (expire by lifecycle rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from tasklane.domain.records import StoredResult

RESULT_URL_SECONDS = 3600


@dataclass(frozen=True)
class TemplateObject:
    template_id: str
    name: str
    sha256: str
    size: int
    uploaded: datetime


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def content_disposition(filename: str) -> str:
    """`attachment` with the name as RFC 6266 wants it: a plain ASCII `filename` for old clients, and
    `filename*=UTF-8''...` (RFC 5987) when the name is not plain ASCII, which every browser prefers."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class DocumentBucket:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    @staticmethod
    def template_key(tenant: str, template_id: str) -> str:
        return f"templates/{tenant}/{template_id}.dap"

    def put_template(self, tenant: str, template_id: str, data: bytes, name: str, sha256: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.template_key(tenant, template_id),
            Body=data,
            ContentType="application/zip",
            # S3 metadata is ASCII-only: the DAP's name may not be.
            Metadata={"name": quote(name), "sha256": sha256},
        )

    def head_template(self, tenant: str, template_id: str) -> TemplateObject | None:
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=self.template_key(tenant, template_id))
        except ClientError as error:
            if _missing(error):
                return None
            raise
        meta = head.get("Metadata", {})
        return TemplateObject(
            template_id=template_id,
            name=unquote(meta.get("name", "")),
            sha256=meta.get("sha256", ""),
            size=int(head["ContentLength"]),
            uploaded=head["LastModified"],
        )

    def get_template(self, tenant: str, template_id: str) -> bytes | None:
        return self._get(self.template_key(tenant, template_id))

    @staticmethod
    def alias_key(tenant: str, alias: str) -> str:
        return f"templates/{tenant}/aliases/{alias}"

    def put_template_alias(self, tenant: str, alias: str, template_id: str) -> None:
        """Another name for a stored template (a Salesforce ContentVersion id), so it is fetched once."""
        self._s3.put_object(Bucket=self._bucket, Key=self.alias_key(tenant, alias), Body=template_id.encode("ascii"))

    def template_of_alias(self, tenant: str, alias: str) -> str | None:
        found = self._get(self.alias_key(tenant, alias))
        return None if found is None else found.decode("ascii")

    @staticmethod
    def input_key(tenant: str, batch_id: str) -> str:
        return f"inputs/{tenant}/{batch_id}.json"

    def put_input(self, key: str, body: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")

    def get_input(self, key: str) -> bytes | None:
        return self._get(key)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def put_result(
        self, tenant: str, task_id: str, result_id: str, filename: str, content: bytes, content_type: str
    ) -> StoredResult:
        key = f"results/{tenant}/{task_id}/{result_id}/{filename}"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=content, ContentType=content_type)
        return StoredResult(id=result_id, key=key, filename=filename, content_type=content_type)

    def result_url(self, result: StoredResult) -> str:
        """A presigned GET; signing is local, no AWS call."""
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": result.key,
                    "ResponseContentType": result.content_type,
                    "ResponseContentDisposition": content_disposition(result.filename),
                },
                ExpiresIn=RESULT_URL_SECONDS,
            )
        )

    def _get(self, key: str) -> bytes | None:
        try:
            return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
        except ClientError as error:
            if _missing(error):
                return None
            raise
