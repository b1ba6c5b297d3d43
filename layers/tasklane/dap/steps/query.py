"""`- query: {as: contacts, soql: "SELECT Id, Name FROM Contact WHERE AccountId = {{ param.id | soql }}"}`.

The SOQL is a template: values go in through the `soql` filter, which quotes and escapes them
(see `dap.soql`), so a param cannot change the query; an output without it is refused at upload.
The result is the list of records.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from ..ports import DataSourceError
from ..run import RunFailure, RunState
from .base import Named, StepModel

MAX_SOQL_CHARS = 20_000  # Salesforce's own limit is 100,000 characters


class QuerySpec(Named):
    soql: str = Field(min_length=1, max_length=MAX_SOQL_CHARS)

    @field_validator("soql")
    @classmethod
    def _every_value_is_quoted(cls, value: str) -> str:
        """`{{ ... }}` in a query must end in `| soql`: a value can then never become query text."""
        from jinja2 import Environment, TemplateSyntaxError, nodes

        try:
            ast = Environment().parse(value)
        except TemplateSyntaxError:
            return value  # reported, with its line, by the upload's template checks
        for output in ast.find_all(nodes.Output):
            for node in output.nodes:
                if isinstance(node, nodes.TemplateData):
                    continue
                if not (isinstance(node, nodes.Filter) and node.name == "soql"):
                    raise ValueError("every {{ ... }} in a query must end with '| soql', which quotes the value")
        return value



class QueryStep(StepModel):
    kind: ClassVar[str] = "query"
    query: QuerySpec

    def defines(self) -> str:
        return self.query.as_

    def template_strings(self) -> dict[str, str]:
        return {"soql": self.query.soql}

    def run(self, state: RunState, index: int) -> None:
        spec = self.query
        label = f"Query '{spec.as_}'"
        if state.data is None:
            raise RunFailure(f"{label}: the task has no integration to query through")
        soql = state.render_string(spec.soql, state.variables, f"{label} soql")
        if len(soql) > MAX_SOQL_CHARS:
            raise RunFailure(f"{label}: the query is longer than {MAX_SOQL_CHARS} characters")
        try:
            with state.waiting():  # Salesforce's time is not the template's: the session has its own deadline
                records = state.data.query(soql)
        except DataSourceError as exc:
            raise RunFailure(f"{label}: {exc}") from None
        state.variables[spec.as_] = records
        state.info(f"Queried '{spec.as_}' ({len(records)} records)")
