"""Turn CloudFormation references into the strings a deployed function would see."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tasklane_local.lambda_runtime import physical_function_name
from tasklane_local.template import Template


class UnresolvableReference(ValueError):
    """A value points at something the local stack did not create or was not given."""


@dataclass(frozen=True)
class QueueResource:
    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class Resources:
    """Physical names of what the local stack created, by logical id."""

    tables: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    queues: dict[str, QueueResource] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # logical id -> KMS key id

    def physical_ids(self) -> dict[str, str]:
        """What `Ref` returns: table name, bucket name, queue URL, key id."""
        return {
            **self.tables,
            **self.buckets,
            **{logical_id: queue.url for logical_id, queue in self.queues.items()},
            **self.keys,
        }


# ${Name} or ${Name.Attribute}; ${!Literal} stays as "${Literal}".
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class ReferenceResolver:
    def __init__(
        self,
        template: Template,
        resources: Resources,
        parameter_values: Mapping[str, str],
        region: str,
        account_id: str,
    ) -> None:
        unknown = set(parameter_values) - set(template.parameters)
        if unknown:
            raise UnresolvableReference(f"overrides for undeclared parameters: {sorted(unknown)}")
        self._template = template
        self._resources = resources
        self._parameters = dict(parameter_values)
        # AWS: the pseudo parameters CloudFormation offers every template.
        self._pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "tasklane-local",
            "AWS::NoValue": "",
        }

    def resolve_environment(self, variables: Mapping[str, Any]) -> dict[str, str]:
        return {name: self.resolve(value, where=name) for name, value in variables.items()}

    def resolve(self, value: Any, where: str = "value") -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(str(argument), where)
            if function == "Fn::GetAtt":
                resource, attribute = argument
                return self._get_att(str(resource), str(attribute), where)
            if function == "Fn::Sub":
                return self._sub(argument, where)
            if function == "Fn::Join":
                delimiter, items = argument
                return str(delimiter).join(self.resolve(item, where) for item in items)
        raise UnresolvableReference(f"{where}: the local stack cannot resolve {value!r}")

    def _ref(self, name: str, where: str) -> str:
        if name in self._pseudo:
            return self._pseudo[name]
        parameter = self._template.parameters.get(name)
        if parameter is not None:
            value = self._parameters.get(name, parameter.default)
            if value is None:
                raise UnresolvableReference(
                    f"{where}: parameter {name} has no Default; pass it as a parameter override"
                )
            return value
        if name in self._template.functions:
            return physical_function_name(name)
        physical = self._resources.physical_ids().get(name)
        if physical is None:
            raise UnresolvableReference(f"{where}: !Ref {name}: no such parameter or local resource")
        return physical

    def _get_att(self, logical_id: str, attribute: str, where: str) -> str:
        region, account = self._pseudo["AWS::Region"], self._pseudo["AWS::AccountId"]
        queue = self._resources.queues.get(logical_id)
        table = self._resources.tables.get(logical_id)
        bucket = self._resources.buckets.get(logical_id)
        attributes: dict[str, str] = {}
        if queue is not None:
            attributes = {"Arn": queue.arn, "QueueName": queue.name, "QueueUrl": queue.url}
        elif table is not None:
            attributes = {"Arn": f"arn:aws:dynamodb:{region}:{account}:table/{table}"}
        elif bucket is not None:
            attributes = {
                "Arn": f"arn:aws:s3:::{bucket}",
                "DomainName": f"{bucket}.s3.amazonaws.com",
                "RegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
            }
        if attribute not in attributes:
            raise UnresolvableReference(f"{where}: !GetAtt {logical_id}.{attribute} is not available locally")
        return attributes[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = argument
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.resolve(variables[name], where)
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self._get_att(resource, attribute, where)
            return self._ref(name, where)

        return _SUB_VARIABLE.sub(replace, str(text))
