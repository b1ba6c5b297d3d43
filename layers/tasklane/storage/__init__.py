"""The only package that imports boto3: one adapter per resource, built once per cold start."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tasklane.config import Settings, get_settings
from tasklane.storage.apikeys import ApiKeyStore
from tasklane.storage.clients import aws_client
from tasklane.storage.documents import DocumentBucket
from tasklane.storage.licenses import LicenseStore
from tasklane.storage.queue import TaskQueue
from tasklane.storage.tasks import TaskStore


@dataclass(frozen=True)
class Backends:
    documents: DocumentBucket
    tasks: TaskStore
    licenses: LicenseStore
    apikeys: ApiKeyStore
    queue: TaskQueue


def build_backends(settings: Settings) -> Backends:
    dynamodb = aws_client("dynamodb")
    return Backends(
        documents=DocumentBucket(aws_client("s3"), settings.bucket_name),
        tasks=TaskStore(dynamodb, settings.table_name),
        licenses=LicenseStore(dynamodb, settings.table_name, settings.default_monthly_quota),
        apikeys=ApiKeyStore(dynamodb, settings.table_name),
        queue=TaskQueue(aws_client("sqs"), settings.task_queue_url),
    )


@lru_cache(maxsize=1)
def get_backends() -> Backends:
    return build_backends(get_settings())
