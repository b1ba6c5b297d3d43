"""Read a SAM template into the typed model the local stack runs from.

template.yaml stays the single source of truth: routes, handlers, environment, tables,
buckets and queues all come from here, so the local stack cannot drift from a deploy.
Values that CloudFormation resolves at deploy time (Ref, GetAtt, Sub...) stay as their
long-form dicts; `references.ReferenceResolver` turns them into strings later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Short tags whose long form is not "Fn::<Tag>".
_PLAIN_TAGS = {"Ref": "Ref", "Condition": "Condition"}
_FN_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "ToJsonString",
    "Length",
)


class TemplateError(ValueError):
    """The template asks for something the local stack cannot read."""


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags as their long-form dicts."""


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


def _tag_constructor(long_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {long_name: _construct(loader, node)}

    return construct


def _construct_getatt(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct(loader, node)
    if isinstance(value, str):
        # "A.B.C" means resource A, attribute "B.C" (attributes may hold dots).
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


for _tag, _long in _PLAIN_TAGS.items():
    CloudFormationLoader.add_constructor(f"!{_tag}", _tag_constructor(_long))
for _tag in _FN_TAGS:
    CloudFormationLoader.add_constructor(f"!{_tag}", _tag_constructor(f"Fn::{_tag}"))
CloudFormationLoader.add_constructor("!GetAtt", _construct_getatt)


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        # A SafeLoader subclass: safe despite the bare yaml.load.
        document = yaml.load(stream, Loader=CloudFormationLoader)
    if not isinstance(document, dict):
        raise TemplateError(f"{path} is not a template")
    return document


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer (function_id set) or API Gateway's own JWT authorizer (issuer set)."""

    name: str
    function_id: str | None
    payload_version: str
    simple_responses: bool
    # JWT authorizers: unresolved values (they may be Ref/Sub), as JwtConfiguration spells them.
    issuer: Any = None
    audience: tuple[Any, ...] = ()
    identity_source: str = "$request.header.Authorization"

    @property
    def is_jwt(self) -> bool:
        return self.function_id is None


@dataclass(frozen=True)
class HttpApi:
    logical_id: str
    default_authorizer: Authorizer | None
    authorizers: dict[str, Authorizer]


@dataclass(frozen=True)
class HttpRoute:
    method: str  # upper case, or "ANY"
    path: str  # "/v1/task/{taskId}", or "$default"
    function_id: str
    authorizer: Authorizer | None
    # AWS: the scopes a JWT authorizer requires on this route (any one of them suffices).
    scopes: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsEvent:
    queue_id: str
    batch_size: int
    function_response_types: tuple[str, ...]

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]  # unresolved: values may be Ref/GetAtt/Sub dicts
    routes: tuple[HttpRoute, ...] = ()
    sqs_events: tuple[SqsEvent, ...] = ()


@dataclass(frozen=True)
class TimeToLive:
    attribute_name: str
    enabled: bool


@dataclass(frozen=True)
class Table:
    logical_id: str
    attribute_definitions: list[dict[str, str]]
    key_schema: list[dict[str, str]]
    billing_mode: str
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    provisioned_throughput: dict[str, int] | None = None
    time_to_live: TimeToLive | None = None


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    lifecycle_rules: list[dict[str, Any]]  # CloudFormation's shape, not the S3 API's
    encryption_rules: list[dict[str, Any]]
    public_access_block: dict[str, bool] | None


@dataclass(frozen=True)
class Redrive:
    dead_letter_queue_id: str
    max_receive_count: int


@dataclass(frozen=True)
class Queue:
    logical_id: str
    visibility_timeout: int | None
    message_retention_period: int | None
    delay_seconds: int | None
    fifo: bool
    redrive: Redrive | None


@dataclass(frozen=True)
class Template:
    path: Path
    parameters: dict[str, Parameter]
    functions: dict[str, Function]
    http_apis: dict[str, HttpApi]
    tables: dict[str, Table]
    buckets: dict[str, Bucket]
    queues: dict[str, Queue]
    # AWS::KMS::Key: the local stack only needs them to exist (key policies are IAM's business).
    keys: dict[str, str] = field(default_factory=dict)  # logical id -> description

    @property
    def routes(self) -> list[HttpRoute]:
        return [route for function in self.functions.values() for route in function.routes]


def _logical_id_of_arn(value: Any, where: str) -> str:
    """The X in `!GetAtt X.Arn`: the only way our template points at a resource's ARN."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        if attribute == "Arn":
            return str(resource)
    raise TemplateError(f"{where}: expected !GetAtt <LogicalId>.Arn, got {value!r}")


def _logical_id_of_ref(value: Any, where: str) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    raise TemplateError(f"{where}: expected !Ref <LogicalId>, got {value!r}")


def _read_parameters(document: dict[str, Any]) -> dict[str, Parameter]:
    parameters = {}
    for name, spec in (document.get("Parameters") or {}).items():
        default = spec.get("Default")
        parameters[name] = Parameter(
            name=name,
            type=str(spec.get("Type", "String")),
            default=None if default is None else _scalar_text(default),
        )
    return parameters


def _scalar_text(value: Any) -> str:
    # AWS: CloudFormation hands every parameter to resources as a string; booleans lower case.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_authorizers(logical_id: str, properties: dict[str, Any]) -> HttpApi:
    auth = properties.get("Auth") or {}
    authorizers = {}
    for name, spec in (auth.get("Authorizers") or {}).items():
        if "JwtConfiguration" in spec:
            jwt_config = spec["JwtConfiguration"] or {}
            if "issuer" not in jwt_config or not jwt_config.get("audience"):
                raise TemplateError(f"{logical_id}.{name}: JwtConfiguration needs an issuer and an audience")
            authorizers[name] = Authorizer(
                name=name,
                function_id=None,
                payload_version="2.0",
                simple_responses=False,
                issuer=jwt_config["issuer"],
                audience=tuple(jwt_config["audience"]),
                identity_source=str(spec.get("IdentitySource", "$request.header.Authorization")),
            )
            continue
        if "FunctionArn" not in spec:
            raise TemplateError(f"{logical_id}.{name}: only Lambda and JWT authorizers run locally")
        authorizers[name] = Authorizer(
            name=name,
            function_id=_logical_id_of_arn(spec["FunctionArn"], f"{logical_id}.{name}"),
            payload_version=str(spec.get("AuthorizerPayloadFormatVersion", "1.0")),
            simple_responses=bool(spec.get("EnableSimpleResponses", False)),
        )
    default_name = auth.get("DefaultAuthorizer")
    if default_name is not None and default_name not in authorizers:
        raise TemplateError(f"{logical_id}: DefaultAuthorizer {default_name} is not declared")
    default = authorizers[default_name] if default_name is not None else None
    return HttpApi(logical_id=logical_id, default_authorizer=default, authorizers=authorizers)


def _read_route(function_id: str, event_name: str, properties: dict[str, Any], apis: dict[str, HttpApi]) -> HttpRoute:
    where = f"{function_id}.Events.{event_name}"
    api_ref = properties.get("ApiId")
    # AWS: an HttpApi event without ApiId joins SAM's implicit API, which has no authorizer.
    api = None
    if api_ref is not None:
        api_id = _logical_id_of_ref(api_ref, where)
        if api_id not in apis:
            raise TemplateError(f"{where}: ApiId {api_id} is not an AWS::Serverless::HttpApi")
        api = apis[api_id]
    authorizer = api.default_authorizer if api is not None else None
    chosen = (properties.get("Auth") or {}).get("Authorizer")
    if chosen == "NONE":
        authorizer = None
    elif chosen is not None:
        if api is None or chosen not in api.authorizers:
            raise TemplateError(f"{where}: unknown authorizer {chosen}")
        authorizer = api.authorizers[chosen]
    scopes = tuple(str(scope) for scope in (properties.get("Auth") or {}).get("AuthorizationScopes") or ())
    if scopes and (authorizer is None or not authorizer.is_jwt):
        raise TemplateError(f"{where}: AuthorizationScopes apply to JWT authorizers only")
    method, path = properties.get("Method"), properties.get("Path")
    if method is None and path is None:
        # AWS: SAM's HttpApi event with neither Method nor Path is the API's $default route.
        return HttpRoute("ANY", "$default", function_id, authorizer, scopes)
    if method is None or path is None:
        raise TemplateError(f"{where}: give both Method and Path")
    return HttpRoute(str(method).upper(), str(path), function_id, authorizer, scopes)


def _read_sqs_event(function_id: str, event_name: str, properties: dict[str, Any]) -> SqsEvent:
    where = f"{function_id}.Events.{event_name}"
    # AWS: Lambda's SQS event source mapping defaults to batches of 10.
    batch_size = int(properties.get("BatchSize", 10))
    if not 1 <= batch_size <= 10:
        # ReceiveMessage returns at most 10; larger batches need a batching window we don't copy.
        raise TemplateError(f"{where}: the local worker supports BatchSize 1..10, got {batch_size}")
    return SqsEvent(
        queue_id=_logical_id_of_arn(properties.get("Queue"), where),
        batch_size=batch_size,
        function_response_types=tuple(properties.get("FunctionResponseTypes") or ()),
    )


def _image_code(logical_id: str, properties: dict[str, Any], metadata: dict[str, Any]) -> tuple[str, Any]:
    """An image function runs here from the folder of its Dockerfile, with the image's command as handler
    (on AWS the Dockerfile copies that folder's app.py into the image), with this machine's packages."""
    dockerfile, command = metadata.get("Dockerfile"), (properties.get("ImageConfig") or {}).get("Command")
    if not isinstance(dockerfile, str) or not isinstance(command, list) or len(command) != 1:
        raise TemplateError(f"{logical_id}: an image function needs Metadata.Dockerfile and a one-item ImageConfig.Command")
    context = metadata.get("DockerContext", ".")
    return str(Path(context) / Path(dockerfile).parent), command[0]


def _read_function(
    logical_id: str,
    properties: dict[str, Any],
    globals_: dict[str, Any],
    base_dir: Path,
    apis: dict[str, HttpApi],
    metadata: dict[str, Any] | None = None,
) -> Function:
    # AWS: SAM Globals apply unless the function sets its own; environment maps merge.
    def setting(name: str, default: Any = None) -> Any:
        return properties.get(name, globals_.get(name, default))

    if properties.get("PackageType") == "Image":
        code_uri, handler = _image_code(logical_id, properties, metadata or {})
    else:
        code_uri, handler = setting("CodeUri"), setting("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str):
        raise TemplateError(f"{logical_id}: CodeUri and Handler must be plain strings")
    environment = {
        **((globals_.get("Environment") or {}).get("Variables") or {}),
        **((properties.get("Environment") or {}).get("Variables") or {}),
    }
    routes, sqs_events = [], []
    for event_name, event in (properties.get("Events") or {}).items():
        event_properties = event.get("Properties") or {}
        if event["Type"] == "HttpApi":
            routes.append(_read_route(logical_id, event_name, event_properties, apis))
        elif event["Type"] == "SQS":
            sqs_events.append(_read_sqs_event(logical_id, event_name, event_properties))
        else:
            raise TemplateError(f"{logical_id}.Events.{event_name}: {event['Type']} events do not run locally")
    return Function(
        logical_id=logical_id,
        code_uri=(base_dir / code_uri).resolve(),
        handler=handler,
        # AWS: Lambda's defaults when neither the function nor Globals set them.
        timeout=int(setting("Timeout", 3)),
        memory_size=int(setting("MemorySize", 128)),
        environment=environment,
        routes=tuple(routes),
        sqs_events=tuple(sqs_events),
    )


def _read_table(logical_id: str, properties: dict[str, Any]) -> Table:
    ttl = properties.get("TimeToLiveSpecification")
    return Table(
        logical_id=logical_id,
        attribute_definitions=list(properties["AttributeDefinitions"]),
        key_schema=list(properties["KeySchema"]),
        # AWS: CloudFormation's default billing mode is PROVISIONED.
        billing_mode=str(properties.get("BillingMode", "PROVISIONED")),
        global_secondary_indexes=list(properties.get("GlobalSecondaryIndexes") or []),
        local_secondary_indexes=list(properties.get("LocalSecondaryIndexes") or []),
        provisioned_throughput=properties.get("ProvisionedThroughput"),
        time_to_live=(TimeToLive(str(ttl["AttributeName"]), enabled=bool(ttl.get("Enabled", False))) if ttl else None),
    )


def _read_bucket(logical_id: str, properties: dict[str, Any]) -> Bucket:
    encryption = properties.get("BucketEncryption") or {}
    return Bucket(
        logical_id=logical_id,
        lifecycle_rules=list((properties.get("LifecycleConfiguration") or {}).get("Rules") or []),
        encryption_rules=list(encryption.get("ServerSideEncryptionConfiguration") or []),
        public_access_block=properties.get("PublicAccessBlockConfiguration"),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _read_queue(logical_id: str, properties: dict[str, Any]) -> Queue:
    policy = properties.get("RedrivePolicy")
    redrive = None
    if policy is not None:
        where = f"{logical_id}.RedrivePolicy"
        redrive = Redrive(
            dead_letter_queue_id=_logical_id_of_arn(policy.get("deadLetterTargetArn"), where),
            max_receive_count=int(policy["maxReceiveCount"]),
        )
    return Queue(
        logical_id=logical_id,
        visibility_timeout=_optional_int(properties.get("VisibilityTimeout")),
        message_retention_period=_optional_int(properties.get("MessageRetentionPeriod")),
        delay_seconds=_optional_int(properties.get("DelaySeconds")),
        fifo=bool(properties.get("FifoQueue", False)),
        redrive=redrive,
    )


def load_template(path: str | Path) -> Template:
    path = Path(path).resolve()
    document = load_yaml(path)
    resources: dict[str, Any] = document.get("Resources") or {}
    globals_ = (document.get("Globals") or {}).get("Function") or {}

    def of_type(type_name: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource.get("Properties") or {}
            for logical_id, resource in resources.items()
            if resource.get("Type") == type_name
        }

    apis = {lid: _read_authorizers(lid, props) for lid, props in of_type("AWS::Serverless::HttpApi").items()}
    template = Template(
        path=path,
        parameters=_read_parameters(document),
        functions={
            lid: _read_function(lid, props, globals_, path.parent, apis, resources[lid].get("Metadata"))
            for lid, props in of_type("AWS::Serverless::Function").items()
        },
        http_apis=apis,
        tables={lid: _read_table(lid, p) for lid, p in of_type("AWS::DynamoDB::Table").items()},
        buckets={lid: _read_bucket(lid, p) for lid, p in of_type("AWS::S3::Bucket").items()},
        queues={lid: _read_queue(lid, p) for lid, p in of_type("AWS::SQS::Queue").items()},
        keys={lid: str(p.get("Description", "")) for lid, p in of_type("AWS::KMS::Key").items()},
    )
    _check_references(template)
    return template


def _check_references(template: Template) -> None:
    """Fail at load, not at the first request, when the template points at nothing."""
    for function in template.functions.values():
        for route in function.routes:
            authorizer = route.authorizer
            if authorizer is not None and not authorizer.is_jwt and authorizer.function_id not in template.functions:
                raise TemplateError(f"{route.route_key}: authorizer function {authorizer.function_id} not found")
        for event in function.sqs_events:
            if event.queue_id not in template.queues:
                raise TemplateError(f"{function.logical_id}: queue {event.queue_id} not found")
    for queue in template.queues.values():
        dlq_id = queue.redrive.dead_letter_queue_id if queue.redrive is not None else None
        if dlq_id is not None and dlq_id not in template.queues:
            raise TemplateError(f"{queue.logical_id}: dead-letter queue {dlq_id} not found")
    seen: dict[str, str] = {}
    for route in template.routes:
        other = seen.get(route.route_key)
        if other is not None:
            raise TemplateError(f"{route.route_key} is served by {other} and {route.function_id}")
        seen[route.route_key] = route.function_id
