"""moto's server in a thread, holding the template's tables, buckets and queues.

One server plays every service (moto server mode). The process's boto3 clients reach it
through AWS_ENDPOINT_URL, so handlers build their clients exactly as they do in Lambda.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import boto3
from moto.core.model_instances import reset_model_data
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from tasklane_local.environ import EnvironmentPatch
from tasklane_local.identity import ACCOUNT_ID, current_region
from tasklane_local.serving import ServingThread
from tasklane_local.references import QueueResource, ReferenceResolver, Resources
from tasklane_local.template import Bucket, Queue, Table, Template, TemplateError
from tasklane_local.transactions import TRANSACT_WRITE_ITEMS, transact_write_items

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# boto3 in this process needs some credentials to sign with; moto accepts any.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class ResourcesInUse(RuntimeError):
    """The names the template needs are taken in moto's (process-wide) state."""


def physical_name(prefix: str, logical_id: str) -> str:
    """Deterministic, so a restarted stack and its tests see the same names."""
    # AWS: S3 bucket names must be lower case; CloudFormation would add a random suffix.
    return f"{prefix}-{logical_id.lower()}"


class SerializedDynamoDB:
    """WSGI middleware: moto answers one DynamoDB request at a time."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # AWS: DynamoDB writes and transactions are atomic and isolated. moto applies them
        # step by step (an upsert writes the key first) and cancels a transaction by putting
        # back a copy of the whole table, so on a threaded server a concurrent Query sees
        # half-written items and a concurrent write can vanish. The local stack's gateway and
        # worker do run concurrently, so DynamoDB calls take turns; S3 and SQS (long polls
        # included) stay concurrent.
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB"):
            return self._app(environ, start_response)
        with self._lock:
            if target.rpartition(".")[2] == TRANSACT_WRITE_ITEMS:
                # Taking turns is what lets a transaction be made of single-item writes.
                return transact_write_items(self._app, environ, start_response)
            return list(self._app(environ, start_response))


class BoundedInstanceTracking:
    """WSGI middleware: moto forgets the model objects it tracks once each request is answered."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # moto appends every model object it ever creates (each item a Query copies out, each
        # SQS message a receive copies, each S3 key and ACL) to a per-class list that
        # only its /moto-api/data.json dashboard reads, and empties the lists only on reset: a
        # long session grows without bound. The tables, buckets and queues keep what they hold;
        # only the dashboard's view shrinks to the objects of requests in flight.
        try:
            return self._app(environ, start_response)
        finally:
            try:
                reset_model_data()
            except RuntimeError:
                # A moto service imported on another thread grew the registry mid-walk: next time.
                pass


class MotoServer:
    """moto's server app, as ThreadedMotoServer serves it, on loopback in a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # werkzeug logs every request moto serves; the gateway's own access log is enough.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = BoundedInstanceTracking(SerializedDynamoDB(DomainDispatcherApplication(create_backend_app)))
        # Loopback unless told otherwise (moto's own server binds 0.0.0.0:5000).
        self._serving = ServingThread(make_server(host, port, app, threaded=True), "tasklane-moto")
        self.endpoint = "http://{}:{}".format(*self._serving.host_and_port)

    def start(self) -> str:
        self._serving.start()
        return self.endpoint

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        self._serving.stop()


def _s3_lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's LifecycleConfiguration rule in the S3 API's shape."""
    converted: dict[str, Any] = {"Status": rule["Status"]}
    for key, value in rule.items():
        if key == "Status":
            continue
        if key == "Id":
            converted["ID"] = value
        elif key == "Prefix":
            converted["Filter"] = {"Prefix": value}
        elif key == "ExpirationInDays":
            converted.setdefault("Expiration", {})["Days"] = int(value)
        elif key == "ExpirationDate":
            converted.setdefault("Expiration", {})["Date"] = value
        elif key == "NoncurrentVersionExpirationInDays":
            converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(value)}
        elif key == "AbortIncompleteMultipartUpload":
            converted[key] = {"DaysAfterInitiation": int(value["DaysAfterInitiation"])}
        elif key == "Transitions":
            converted[key] = [{"StorageClass": t["StorageClass"], "Days": int(t["TransitionInDays"])} for t in value]
        else:
            raise TemplateError(f"lifecycle rule property {key} is not supported locally")
    converted.setdefault("Filter", {"Prefix": ""})
    return converted


def _s3_encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's ServerSideEncryptionRule in the S3 API's shape."""
    converted = {
        ("ApplyServerSideEncryptionByDefault" if key == "ServerSideEncryptionByDefault" else key): value
        for key, value in rule.items()
    }
    return converted


class Provisioner:
    """Create the template's tables, buckets and queues with the template's settings."""

    def __init__(self, template: Template, endpoint: str | None, region: str, prefix: str = "tasklane") -> None:
        """endpoint None: boto3's own resolution, e.g. inside mock_aws."""
        self._template = template
        self._prefix = prefix
        self._region = region
        session = boto3.session.Session()
        self._dynamodb = session.client("dynamodb", endpoint_url=endpoint, region_name=region)
        self._s3 = session.client("s3", endpoint_url=endpoint, region_name=region)
        self._sqs = session.client("sqs", endpoint_url=endpoint, region_name=region)
        self._kms = session.client("kms", endpoint_url=endpoint, region_name=region)

    def create_all(self) -> Resources:
        self._refuse_taken_names()
        return Resources(
            tables={lid: self._create_table(table) for lid, table in self._template.tables.items()},
            buckets={lid: self._create_bucket(bucket) for lid, bucket in self._template.buckets.items()},
            queues=self._create_queues(),
            keys={lid: self._create_key(lid, text) for lid, text in self._template.keys.items()},
        )

    def _create_key(self, logical_id: str, description: str) -> str:
        created = self._kms.create_key(Description=description or logical_id)
        return str(created["KeyMetadata"]["KeyId"])

    def _refuse_taken_names(self) -> None:
        # moto keeps one state per process, shared by every server and mock_aws in it: a
        # second stack would silently share (and reset) the first one's tables and queues.
        names = {physical_name(self._prefix, lid) for lid in self._template.tables}
        names &= set(self._dynamodb.list_tables()["TableNames"])
        names |= {physical_name(self._prefix, lid) for lid in self._template.buckets} & {
            b["Name"] for b in self._s3.list_buckets()["Buckets"]
        }
        queue_names = {url.rsplit("/", 1)[-1] for url in self._sqs.list_queues().get("QueueUrls", [])}
        names |= {
            physical_name(self._prefix, lid) + (".fifo" if queue.fifo else "")
            for lid, queue in self._template.queues.items()
        } & queue_names
        if names:
            raise ResourcesInUse(
                f"moto in this process already holds {sorted(names)}: is another local stack running in this process?"
            )

    def _create_table(self, table: Table) -> str:
        name = physical_name(self._prefix, table.logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": table.attribute_definitions,
            "KeySchema": table.key_schema,
            "BillingMode": table.billing_mode,
        }
        if table.global_secondary_indexes:
            request["GlobalSecondaryIndexes"] = table.global_secondary_indexes
        if table.local_secondary_indexes:
            request["LocalSecondaryIndexes"] = table.local_secondary_indexes
        if table.provisioned_throughput:
            request["ProvisionedThroughput"] = table.provisioned_throughput
        self._dynamodb.create_table(**request)
        if table.time_to_live is not None:
            self._dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={
                    "AttributeName": table.time_to_live.attribute_name,
                    "Enabled": table.time_to_live.enabled,
                },
            )
        return name

    def _create_bucket(self, bucket: Bucket) -> str:
        name = physical_name(self._prefix, bucket.logical_id)
        if self._region == "us-east-1":
            # AWS: us-east-1 rejects a LocationConstraint naming itself.
            self._s3.create_bucket(Bucket=name)
        else:
            self._s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self._region})
        if bucket.lifecycle_rules:
            self._s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={"Rules": [_s3_lifecycle_rule(r) for r in bucket.lifecycle_rules]},
            )
        if bucket.encryption_rules:
            self._s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={"Rules": [_s3_encryption_rule(r) for r in bucket.encryption_rules]},
            )
        if bucket.public_access_block:
            self._s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=bucket.public_access_block)
        return name

    def _create_queues(self) -> dict[str, QueueResource]:
        created: dict[str, QueueResource] = {}
        pending = dict(self._template.queues)
        # A redrive policy names its dead-letter queue's ARN, so dead-letter queues go first.
        while pending:
            ready = [q for q in pending.values() if q.redrive is None or q.redrive.dead_letter_queue_id in created]
            if not ready:
                raise TemplateError(f"dead-letter queues form a cycle: {sorted(pending)}")
            for queue in ready:
                created[queue.logical_id] = self._create_queue(queue, created)
                del pending[queue.logical_id]
        return {lid: created[lid] for lid in self._template.queues}

    def _create_queue(self, queue: Queue, created: Mapping[str, QueueResource]) -> QueueResource:
        name = physical_name(self._prefix, queue.logical_id)
        attributes: dict[str, str] = {}
        if queue.fifo:
            # AWS: a FIFO queue's name must end in .fifo.
            name += ".fifo"
            attributes["FifoQueue"] = "true"
        if queue.visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(queue.visibility_timeout)
        if queue.message_retention_period is not None:
            attributes["MessageRetentionPeriod"] = str(queue.message_retention_period)
        if queue.delay_seconds is not None:
            attributes["DelaySeconds"] = str(queue.delay_seconds)
        if queue.redrive is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": created[queue.redrive.dead_letter_queue_id].arn,
                    "maxReceiveCount": queue.redrive.max_receive_count,
                }
            )
        url = self._sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return QueueResource(name=name, url=url, arn=arn)


class LocalAws:
    """The moto server, the template's resources in it, and this process pointed at it."""

    def __init__(
        self,
        template: Template,
        parameter_values: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "tasklane",
    ) -> None:
        self.template = template
        self._parameter_values = dict(parameter_values or {})
        self._server = MotoServer(host, port)
        self._prefix = prefix
        self._environ = EnvironmentPatch()
        self._started = False
        self._owns_state = False
        self.endpoint = ""
        self.region = ""
        self.resources = Resources()

    def start(self) -> Self:
        self.endpoint = self._server.start()
        self._started = True
        try:
            self._environ.set_default({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": current_region()})
            self.region = current_region()
            # Lambda sets both; botocore reads AWS_DEFAULT_REGION, other SDK code AWS_REGION.
            self._environ.set_default({"AWS_REGION": self.region})
            # Every boto3 client in this process, handlers' included, now talks to moto.
            self._environ.set({"AWS_ENDPOINT_URL": self.endpoint})
            self._owns_state = True
            self.resources = self._provision()
        except ResourcesInUse:
            # Someone else's resources: leave them, and moto's state, alone.
            self._owns_state = False
            self.close()
            raise
        except BaseException:
            self.close()
            raise
        return self

    def _provision(self) -> Resources:
        return Provisioner(self.template, self.endpoint, self.region, self._prefix).create_all()

    @property
    def resolver(self) -> ReferenceResolver:
        return ReferenceResolver(self.template, self.resources, self._parameter_values, self.region, ACCOUNT_ID)

    def reset(self) -> Resources:
        """Empty every table, bucket and queue: drop moto's state and create them again."""
        self._server.reset()
        self.resources = self._provision()
        return self.resources

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        self._environ.restore()
        try:
            if self._owns_state:
                # moto's backends are process globals shared by every server and mock_aws:
                # leave nothing behind for whatever runs next in this process.
                self._server.reset()
        finally:
            self._owns_state = False
            self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
