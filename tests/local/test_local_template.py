from __future__ import annotations

from pathlib import Path

import pytest

from tasklane_local.template import TemplateError, load_template, load_yaml

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
REAL_TEMPLATE = HERE.parents[1] / "template.yaml"


def _raw_functions(document: dict) -> dict[str, dict]:
    return {
        lid: resource["Properties"]
        for lid, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_every_http_api_event_in_the_real_template_is_a_route():
    # Given the real template, read both raw and through the model
    document = load_yaml(REAL_TEMPLATE)
    template = load_template(REAL_TEMPLATE)

    # When we list the HttpApi events the raw YAML declares
    declared = {
        (lid, event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for lid, props in _raw_functions(document).items()
        for event in (props.get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    }

    # Then the model serves exactly those: GenericTasks routes behind API Gateway's JWT authorizer,
    # every other behind the Lambda authorizer
    routes = {(r.function_id, r.method, r.path) for r in template.routes}
    assert declared and routes == declared
    for route in template.routes:
        assert route.authorizer is not None
        if route.path.startswith(("/tasks/", "/odata/", "/jobs/")):
            assert route.authorizer.is_jwt and route.scopes, route.route_key
            continue
        assert route.authorizer.function_id == "AuthorizerFunction"
        assert route.authorizer.payload_version == "2.0"
        assert route.authorizer.simple_responses


def test_real_template_default_authorizer_and_handlers_exist():
    template = load_template(REAL_TEMPLATE)

    api = template.http_apis["Api"]
    assert api.default_authorizer is not None
    assert api.default_authorizer.function_id == "AuthorizerFunction"
    for function in template.functions.values():
        module, _, _ = function.handler.rpartition(".")
        assert function.code_uri.is_absolute()
        assert (function.code_uri / f"{module}.py").is_file(), function.logical_id


def test_real_template_table_bucket_and_queues_match_the_yaml():
    document = load_yaml(REAL_TEMPLATE)
    template = load_template(REAL_TEMPLATE)
    raw = document["Resources"]

    table = template.tables["StateTable"]
    raw_table = raw["StateTable"]["Properties"]
    assert table.key_schema == raw_table["KeySchema"]
    assert table.attribute_definitions == raw_table["AttributeDefinitions"]
    assert table.billing_mode == raw_table["BillingMode"]
    assert table.time_to_live is not None
    assert table.time_to_live.attribute_name == raw_table["TimeToLiveSpecification"]["AttributeName"]
    assert table.time_to_live.enabled

    queue = template.queues["TaskQueue"]
    raw_queue = raw["TaskQueue"]["Properties"]
    assert queue.visibility_timeout == raw_queue["VisibilityTimeout"]
    assert queue.redrive is not None
    assert queue.redrive.dead_letter_queue_id == "TaskDeadLetterQueue"
    assert queue.redrive.max_receive_count == raw_queue["RedrivePolicy"]["maxReceiveCount"]

    bucket = template.buckets["DocumentBucket"]
    assert bucket.lifecycle_rules == raw["DocumentBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]


def test_real_template_worker_and_environment():
    document = load_yaml(REAL_TEMPLATE)
    template = load_template(REAL_TEMPLATE)
    global_variables = document["Globals"]["Function"]["Environment"]["Variables"]

    worker = template.functions["WorkerFunction"]
    assert [e.queue_id for e in worker.sqs_events] == ["TaskQueue"]
    assert worker.sqs_events[0].batch_size == 10
    assert worker.sqs_events[0].reports_batch_item_failures
    assert worker.timeout == 120 and worker.memory_size == 1024
    for function in template.functions.values():
        # AWS: Globals merge into each function's own variables.
        assert global_variables.items() <= function.environment.items()
        assert function.handler == "app.lambda_handler"
    assert template.parameters["DefaultMonthlyQuota"].default == "10000"
    assert template.parameters["JwtIssuer"].default is None


def test_short_tags_become_long_form(tmp_path: Path):
    source = tmp_path / "tags.yaml"
    source.write_text(
        """
a: !Ref Thing
b: !GetAtt Queue.Arn
c: !GetAtt [Queue, QueueName]
d: !GetAtt Db.Endpoint.Address
e: !Sub "${Api}.example.com"
f: !Sub ["${X}-y", {X: !Ref Thing}]
g: !Join [",", [a, !Ref Thing]]
h: !If [IsProd, !Ref Thing, !Ref "AWS::NoValue"]
i: !Equals [a, b]
j: !Select [0, !Split [",", "a,b"]]
k: !Condition IsProd
""",
        encoding="utf-8",
    )

    document = load_yaml(source)

    assert document == {
        "a": {"Ref": "Thing"},
        "b": {"Fn::GetAtt": ["Queue", "Arn"]},
        "c": {"Fn::GetAtt": ["Queue", "QueueName"]},
        "d": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "e": {"Fn::Sub": "${Api}.example.com"},
        "f": {"Fn::Sub": ["${X}-y", {"X": {"Ref": "Thing"}}]},
        "g": {"Fn::Join": [",", ["a", {"Ref": "Thing"}]]},
        "h": {"Fn::If": ["IsProd", {"Ref": "Thing"}, {"Ref": "AWS::NoValue"}]},
        "i": {"Fn::Equals": ["a", "b"]},
        "j": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "k": {"Condition": "IsProd"},
    }


def test_fixture_template_route_without_authorizer_and_function_overrides():
    template = load_template(FIXTURES / "gateway.yaml")

    routes = {r.route_key: r for r in template.routes}
    assert routes["GET /public"].authorizer is None
    assert routes["ANY /files/{proxy+}"].authorizer is not None
    assert template.functions["BinaryFunction"].timeout == 7
    # AWS: Lambda's defaults when neither Globals nor the function set them
    assert template.functions["EchoFunction"].timeout == 3
    assert template.functions["EchoFunction"].memory_size == 128


def test_function_environment_overrides_globals(tmp_path: Path):
    source = tmp_path / "t.yaml"
    source.write_text(
        """
Globals:
  Function:
    Timeout: 9
    Environment: {Variables: {A: global, B: global}}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: f/
      Handler: app.handler
      Environment: {Variables: {B: own, C: own}}
""",
        encoding="utf-8",
    )

    function = load_template(source).functions["F"]

    assert function.environment == {"A": "global", "B": "own", "C": "own"}
    assert function.timeout == 9
    assert function.code_uri == (tmp_path / "f").resolve()


@pytest.mark.parametrize(
    "resources, message",
    [
        (
            """
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: f/
      Handler: app.handler
      Events:
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Missing.Arn}}
""",
            "queue Missing not found",
        ),
        (
            """
  Q:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Gone.Arn, maxReceiveCount: 3}
""",
            "dead-letter queue Gone not found",
        ),
        (
            """
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {DefaultAuthorizer: Nope, Authorizers: {}}
""",
            "DefaultAuthorizer Nope is not declared",
        ),
    ],
)
def test_template_pointing_at_nothing_fails_at_load(tmp_path: Path, resources: str, message: str):
    source = tmp_path / "t.yaml"
    source.write_text("Resources:" + resources, encoding="utf-8")

    with pytest.raises(TemplateError, match=message):
        load_template(source)
