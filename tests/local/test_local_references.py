from __future__ import annotations

from pathlib import Path

import pytest

from tasklane_local.references import (
    QueueResource,
    ReferenceResolver,
    Resources,
    UnresolvableReference,
)
from tasklane_local.template import load_template

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = load_template(FIXTURES / "stack.yaml")
RESOURCES = Resources(
    tables={"ItemsTable": "t-items"},
    buckets={"FilesBucket": "t-files"},
    queues={
        "JobsQueue": QueueResource("t-jobs", "http://moto/123456789012/t-jobs", "arn:aws:sqs:eu-west-1:1:t-jobs"),
        "JobsDlq": QueueResource("t-dlq", "http://moto/123456789012/t-dlq", "arn:aws:sqs:eu-west-1:1:t-dlq"),
    },
)


def resolver(**parameters: str) -> ReferenceResolver:
    return ReferenceResolver(TEMPLATE, RESOURCES, parameters, "eu-west-1", "123456789012")


def test_environment_resolves_to_plain_strings():
    environment = resolver(Secret="s3cret").resolve_environment(TEMPLATE.functions["ConfigFunction"].environment)

    assert environment == {
        "TABLE_NAME": "t-items",
        "BUCKET_NAME": "t-files",
        "QUEUE_URL": "http://moto/123456789012/t-jobs",
        "QUEUE_ARN": "arn:aws:sqs:eu-west-1:1:t-jobs",
        "GREETING": "hello from eu-west-1, queue t-jobs",
        "SECRET": "s3cret",
    }


def test_override_beats_default():
    assert resolver(Secret="x", Greeting="hi").resolve({"Ref": "Greeting"}) == "hi"


def test_parameter_without_value_fails_loudly():
    with pytest.raises(UnresolvableReference, match="Secret has no Default"):
        resolver().resolve_environment(TEMPLATE.functions["ConfigFunction"].environment)


def test_override_of_undeclared_parameter_fails():
    with pytest.raises(UnresolvableReference, match="Typo"):
        resolver(Typo="x")


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Nothing"},
        {"Fn::GetAtt": ["JobsQueue", "Nope"]},
        {"Fn::GetAtt": ["Api", "Arn"]},
        {"Fn::If": []},
    ],
)
def test_unknown_references_fail_loudly(value):
    with pytest.raises(UnresolvableReference):
        resolver(Secret="x").resolve(value, where="X")


def test_sub_list_form_literals_join_and_scalars():
    r = resolver(Secret="x")

    assert r.resolve({"Fn::Sub": ["${T}/${!Keep}/${AWS::AccountId}", {"T": {"Ref": "ItemsTable"}}]}) == (
        "t-items/${Keep}/123456789012"
    )
    assert r.resolve({"Fn::Join": ["-", ["a", {"Ref": "FilesBucket"}]]}) == "a-t-files"
    assert r.resolve({"Fn::GetAtt": ["ItemsTable", "Arn"]}) == ("arn:aws:dynamodb:eu-west-1:123456789012:table/t-items")
    assert r.resolve(True) == "true"
    assert r.resolve(10) == "10"
