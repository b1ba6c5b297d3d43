"""The whole local stack behind a real socket on a free port."""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from tasklane_local.aws import ResourcesInUse
from tasklane_local.gateway import MAX_BODY_BYTES
from tasklane_local.references import UnresolvableReference
from tasklane_local.stack import LocalStack, read_state

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
REAL_TEMPLATE = HERE.parents[1] / "template.yaml"
ALLOW = {"x-allow": "yes"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(
        FIXTURES / "stack.yaml",
        port=0,
        parameter_overrides={"Secret": "s3cret"},
        state_dir=tmp_path,
    ) as stack:
        yield stack


def test_serves_the_template_over_http(stack):
    response = requests.get(f"{stack.url}/config", headers=ALLOW, timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # the handler read its configuration at import, and its boto3 client reached moto
    assert response.json() == {
        "config": {
            "TABLE_NAME": "tasklane-itemstable",
            "BUCKET_NAME": "tasklane-filesbucket",
            "QUEUE_URL": stack.resources["JobsQueue"],
            "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:tasklane-jobsqueue",
            "GREETING": "hello from us-east-1, queue tasklane-jobsqueue",
            "SECRET": "s3cret",
        },
        "tableStatus": "ACTIVE",
    }


def test_denials_and_unknown_routes_over_http(stack):
    denied = requests.get(f"{stack.url}/config", timeout=10)
    missing = requests.get(f"{stack.url}/nope", headers=ALLOW, timeout=10)

    assert (denied.status_code, denied.json()) == (
        401,
        {"message": "missing credentials", "code": "unauthorized", "errors": []},
    )
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found", "code": "not_found", "errors": []})


def test_oversized_body_is_413(stack):
    url = urlsplit(stack.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.putrequest("POST", "/config")
    connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    connection.endheaders()  # the body never follows: the gateway answers from the header

    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read()) == {
        "message": "Request Entity Too Large",
        "code": "payload_too_large",
        "errors": [],
    }
    connection.close()


def test_attributes_and_state_file(stack, tmp_path):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", stack.url)
    assert stack.resources == {
        "ItemsTable": "tasklane-itemstable",
        "FilesBucket": "tasklane-filesbucket",
        "JobsQueue": f"{stack.aws_endpoint}/123456789012/tasklane-jobsqueue",
        "JobsDlq": f"{stack.aws_endpoint}/123456789012/tasklane-jobsdlq",
    }
    state = read_state(tmp_path)
    assert state == {
        "aws_endpoint": stack.aws_endpoint,
        "url": stack.url,
        "region": "us-east-1",
        "pid": os.getpid(),
        "environment": stack.environment,
        "functions": stack.function_environments,  # what tasklane invoke adds for one function
    }
    assert os.environ["TABLE_NAME"] == "tasklane-itemstable"
    assert os.environ["AWS_ENDPOINT_URL"] == stack.aws_endpoint


def test_worker_thread_consumes_the_queue(stack, wait_for):
    boto3.client("sqs").send_message(QueueUrl=stack.resources["JobsQueue"], MessageBody="via stack")

    wait_for(lambda: sys.modules["tasklane_fn_WorkerFunction"].SEEN, what="the worker")
    assert sys.modules["tasklane_fn_WorkerFunction"].SEEN[0]["body"] == "via stack"


def test_close_puts_everything_back(tmp_path):
    before = dict(os.environ)
    stack = LocalStack(FIXTURES / "stack.yaml", port=0, parameter_overrides={"Secret": "x"}, state_dir=tmp_path)
    stack.start()
    url = stack.url
    assert os.environ["SECRET"] == "x"

    stack.close()

    assert read_state(tmp_path) is None
    assert dict(os.environ) == before
    assert "tasklane_fn_ConfigFunction" not in sys.modules
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_a_second_stack_in_the_same_process_is_refused(stack, tmp_path):
    second = LocalStack(
        FIXTURES / "stack.yaml",
        port=0,
        parameter_overrides={"Secret": "x"},
        state_dir=tmp_path / "second",
    )

    with pytest.raises(ResourcesInUse, match="tasklane-itemstable"):
        second.start()

    # the first stack is untouched
    assert requests.get(f"{stack.url}/config", headers=ALLOW, timeout=10).status_code == 200


def test_unresolvable_parameter_fails_the_start_cleanly(tmp_path):
    before = dict(os.environ)

    with pytest.raises(UnresolvableReference, match="Secret"):
        LocalStack(FIXTURES / "stack.yaml", port=0, state_dir=tmp_path).start()

    assert dict(os.environ) == before
    assert read_state(tmp_path) is None


def test_functions_that_disagree_on_a_variable_each_read_their_own_at_cold_start(tmp_path):
    before = dict(os.environ)

    with LocalStack(FIXTURES / "conflict.yaml", port=0, start_worker=False, state_dir=tmp_path) as stack:
        assert stack.runtime is not None
        one = stack.runtime["OneFunction"].invoke({})
        two = stack.runtime["TwoFunction"].invoke({})
        assert (one["mode"], two["mode"]) == ("one", "two")
        assert one["now"] is None and one["shared"] == "same"  # only the agreed variables stay set
        endpoints = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_ENDPOINT_URL_LAMBDA": stack.lambda_url}
        assert stack.environment == {"SHARED": "same", **endpoints}

    assert dict(os.environ) == before


def test_functions_invoke_each_other_through_lambdas_api(tmp_path):
    import boto3
    from botocore.exceptions import ClientError

    with LocalStack(REAL_TEMPLATE, port=0, start_worker=False, state_dir=tmp_path) as stack:
        client = boto3.client("lambda", endpoint_url=stack.lambda_url, region_name="us-east-1")
        # The worker's converter, by the name `!Ref ConverterFunction` gives it; a bad request is answered.
        assert os.environ["CONVERTER_FUNCTION"] == "tasklane-ConverterFunction"
        answer = client.invoke(FunctionName="tasklane-ConverterFunction", Payload=b"{}")
        assert "FunctionError" not in answer and json.loads(answer["Payload"].read())["error"] == "failed"
        with pytest.raises(ClientError) as missing:
            client.invoke(FunctionName="tasklane-NoSuchFunction", Payload=b"{}")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        # A handler that raises is an Unhandled function error, as on AWS.
        crashed = client.invoke(FunctionName="tasklane-WorkerFunction", Payload=b'"not an event"')
        assert crashed["FunctionError"] == "Unhandled"


def test_the_real_template_runs_locally(tmp_path):
    """Guards template/stack drift: every route of template.yaml is served."""
    with LocalStack(REAL_TEMPLATE, port=0, start_worker=False, state_dir=tmp_path) as stack:
        assert set(stack.resources) == {
            "StateTable",
            "DocumentBucket",
            "TaskQueue",
            "TaskDeadLetterQueue",
            "SessionKey",
        }
        assert stack.environment["JWT_ISSUER"] == "tasklane-local"
        assert stack.environment["JWT_AUDIENCE"] == "tasklane"
        jwks_url = stack.environment["JWT_JWKS_URL"]
        assert jwks_url.startswith("http://127.0.0.1:")
        assert requests.get(jwks_url, timeout=5).json() == json.loads((tmp_path / "jwks.json").read_text())
        assert stack.environment["DEFAULT_MONTHLY_QUOTA"] == "10000"
        assert stack.environment["TASK_QUEUE_URL"] == stack.resources["TaskQueue"]
        assert stack.gateway is not None
        for route in stack.template.routes:
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            assert stack.gateway.handle(route.method, path).status != 404, route.route_key
