"""The only package that imports boto3: one adapter per resource, each built on first use.

An adapter reads only the settings of its own resource, so a function that never touches the
queue needs no TASK_QUEUE_URL, and a missing setting names itself when the adapter is first built.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from tasklane.domain.records import RunUnit
from tasklane.config import (
    BucketSettings,
    ConverterSettings,
    QueueSettings,
    QuotaSettings,
    SalesforceSettings,
    SessionKeySettings,
    TableSettings,
    load,
)
from tasklane.storage.apikeys import ApiKeyStore
from tasklane.storage.clients import aws_client, converter_client
from tasklane.storage.converter import LambdaConverter
from tasklane.storage.secrets import SessionSealer
from tasklane.storage.counters import IdCounter
from tasklane.storage.folders import FolderStore
from tasklane.storage.generic_tasks import GenericTaskStore
from tasklane.storage.job_resources import JobResourceBucket
from tasklane.storage.jobs import JobStore
from tasklane.storage.task_catalogs import TaskCatalogStore
from tasklane.storage.documents import DocumentBucket
from tasklane.storage.licenses import LicenseStore
from tasklane.storage.queue import TaskQueue
from tasklane.storage.batches import BatchStore
from tasklane.storage.document_tasks import DocumentTaskStore
from tasklane.storage.units import UnitStore
from tasklane.timeutil import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:  # simple-salesforce loads only where an integration is used
    from tasklane.integrations.salesforce import SalesforceSession


class Backends:
    """Every adapter the domain uses, and the clock it reads time from."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
    @cached_property
    def documents(self) -> DocumentBucket:
        return DocumentBucket(aws_client("s3"), load(BucketSettings).bucket_name)

    @cached_property
    def tasks(self) -> DocumentTaskStore:
        return DocumentTaskStore(aws_client("dynamodb"), load(TableSettings).table_name)

    @cached_property
    def batches(self) -> BatchStore:
        return BatchStore(aws_client("dynamodb"), load(TableSettings).table_name)

    def units(self, unit: RunUnit) -> UnitStore:
        """The store that keeps this kind of run unit: the one place the two kinds part."""
        return self.tasks if unit.batchId is None else self.batches

    @cached_property
    def licenses(self) -> LicenseStore:
        return LicenseStore(
            aws_client("dynamodb"), load(TableSettings).table_name, load(QuotaSettings).default_monthly_quota
        )

    @cached_property
    def apikeys(self) -> ApiKeyStore:
        return ApiKeyStore(aws_client("dynamodb"), load(TableSettings).table_name)

    @cached_property
    def queue(self) -> TaskQueue:
        return TaskQueue(aws_client("sqs"), load(QueueSettings).task_queue_url)

    @cached_property
    def counters(self) -> IdCounter:
        return IdCounter(aws_client("dynamodb"), load(TableSettings).table_name)

    @cached_property
    def folders(self) -> FolderStore:
        return FolderStore(aws_client("dynamodb"), load(TableSettings).table_name)

    @cached_property
    def task_catalogs(self) -> TaskCatalogStore:
        return TaskCatalogStore(aws_client("dynamodb"), load(TableSettings).table_name)

    @cached_property
    def generic_tasks(self) -> GenericTaskStore:
        return GenericTaskStore(aws_client("dynamodb"), load(TableSettings).table_name)


    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(aws_client("dynamodb"), load(TableSettings).table_name)

    @cached_property
    def converter(self) -> LambdaConverter | None:
        name = load(ConverterSettings).converter_function
        return None if not name else LambdaConverter(converter_client(), name)

    @cached_property
    def sealer(self) -> SessionSealer:
        return SessionSealer(aws_client("kms"), load(SessionKeySettings).session_key_id)

    @cached_property
    def salesforce_hosts(self) -> tuple[str, ...]:
        from tasklane.integrations.salesforce import allowed_hosts

        return allowed_hosts(load(SalesforceSettings).salesforce_hosts)

    def salesforce(self, server_url: str, session_id: str, deadline: float | None = None) -> SalesforceSession:
        """A session with the caller's Salesforce org; server_url must be allowlisted (HostNotAllowed)."""
        from tasklane.integrations.salesforce import SalesforceSession

        return SalesforceSession(server_url, session_id, self.salesforce_hosts, deadline)

    @cached_property
    def job_resources(self) -> JobResourceBucket:
        return JobResourceBucket(aws_client("s3"), load(BucketSettings).bucket_name)


@lru_cache(maxsize=1)
def get_backends() -> Backends:
    return Backends()
