"""Files taken in the field (photos, signatures) for a job's steps, in S3 under the job:
`jobs/<tenant>/<clientJobId>/<name>`. They do not expire: a job's files live as long as the job."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tasklane.storage.documents import content_disposition

URL_SECONDS = 3600


def _key(tenant: str, client_job_id: str, name: str) -> str:
    return f"jobs/{tenant}/{client_job_id}/{name}"


class JobResourceBucket:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put(self, tenant: str, client_job_id: str, name: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=_key(tenant, client_job_id, name), Body=data, ContentType=content_type
        )

    def exists(self, tenant: str, client_job_id: str, name: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=_key(tenant, client_job_id, name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def download_url(self, tenant: str, client_job_id: str, name: str) -> str:
        """A presigned GET, valid an hour; signing is local, no AWS call."""
        params = {
            "Bucket": self._bucket,
            "Key": _key(tenant, client_job_id, name),
            "ResponseContentDisposition": content_disposition(name),
        }
        return str(self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=URL_SECONDS))

    def upload_form(self, tenant: str, client_job_id: str, name: str, max_bytes: int) -> tuple[str, dict[str, str]]:
        """A presigned POST (URL and form fields) for a file too large to pass through API Gateway;
        its policy makes S3 refuse a file over `max_bytes`, which a presigned PUT could not."""
        form = self._s3.generate_presigned_post(
            self._bucket,
            _key(tenant, client_job_id, name),
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=URL_SECONDS,
        )
        return str(form["url"]), {str(k): str(v) for k, v in form["fields"].items()}

    def delete_all(self, tenant: str, client_job_id: str) -> None:
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": f"jobs/{tenant}/{client_job_id}/"}
        while True:
            page = self._s3.list_objects_v2(**request)
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True})
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]
