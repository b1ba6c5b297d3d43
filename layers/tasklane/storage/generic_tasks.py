"""GenericTasks in DynamoDB: one item per task, listed through ListIndex, found by key through
LookupIndex (both declared in template.yaml).

Keys:
  task          pk TENANT#<t>#GTASK#<id>                sk GTASK
  ListIndex     listPk TENANT#<t>#FOLDER#<f>#GTASKS     listSk <id, 12 digits>   (a folder's tasks by id)
  LookupIndex   lookupKey TENANT#<t>#GTASKKEY#<guid>                             (keys only)

Ids increase with creation, so id order is creation order and an id range is a key condition.
ListIndex projects the listing's attributes and not the task's data, so a page of 1,000 summaries
is about 0.4 MB, one Query. A listing reads `$skip + $top` index entries: skipping costs what
reading does. Equality filters are a FilterExpression: entries that do not match are read (and
billed) too, so a listing stops after MAX_EVALUATED entries and says so instead of reading on.
Every write is conditional: a task is created once, and completed or assigned only from the
states that allow it, so concurrent callers cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from tasklane.domain.generic_task_records import (
    Equals,
    Field,
    GenericTask,
    ListQuery,
    Priority,
    TaskStatus,
    TaskSummary,
    TaskType,
)
from tasklane.storage.task_catalogs import catalog_key
from tasklane.jsontext import dumps
from tasklane.storage.units import key, n, read, s

LIST_INDEX = "ListIndex"
LOOKUP_INDEX = "LookupIndex"
# About 40 MB of index entries, 40 Queries, well inside a 29 s request.
MAX_EVALUATED = 100_000
# Index entries one filtered Query reads at most (DynamoDB stops at 1 MB anyway).
PAGE_ENTRIES = 1000
MAX_ID = 10**12 - 1

_COLUMNS = {
    Field.STATUS: "taskStatus",
    Field.TYPE: "taskType",
    Field.PRIORITY: "priority",
    Field.CATALOG: "catalogKey",
    Field.EXTERNAL_TAG: "externalTag",
}


class CatalogMissing(Exception):
    pass


class TooBroad(Exception):
    """The listing (or its count) would read more than MAX_EVALUATED index entries."""


class Refused(Exception):
    """A conditional update did not hold; `current` is the task as it stood (None: no such task)."""

    def __init__(self, current: GenericTask | None) -> None:
        super().__init__()
        self.current = current


def task_key(tenant: str, task_id: int) -> dict[str, Any]:
    return key(f"TENANT#{tenant}#GTASK#{task_id}", "GTASK")


def _list_pk(tenant: str, folder_id: int) -> str:
    return f"TENANT#{tenant}#FOLDER#{folder_id}#GTASKS"


def _list_sk(task_id: int) -> str:
    return f"{task_id:012d}"


def _optional(item: dict[str, Any], name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _summary_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(item["taskId"]["N"]),
        "key": item["taskKey"]["S"],
        "folder_id": int(item["folderId"]["N"]),
        "type": TaskType(item["taskType"]["S"]),
        "title": item["title"]["S"],
        "priority": Priority(item["priority"]["S"]),
        "status": TaskStatus(int(item["taskStatus"]["N"])),
        "creation_time": item["creationTime"]["S"],
        "last_modification_time": item["lastModificationTime"]["S"],
        "catalog": _optional(item, "catalog"),
        "external_tag": _optional(item, "externalTag"),
        "assigned_to": _optional(item, "assignedTo"),
        "last_assigned_time": _optional(item, "lastAssignedTime"),
        "completion_time": _optional(item, "completionTime"),
    }


def _task(item: dict[str, Any]) -> GenericTask:
    return GenericTask(
        **_summary_fields(item),
        data=json.loads(item["data"]["S"]),
        action=_optional(item, "action"),
        schema_key=_optional(item, "schemaKey"),
        schema=json.loads(item["schema"]["S"]) if "schema" in item else None,
        creator=item.get("creator", {}).get("S", ""),
    )


def _item(tenant: str, task: GenericTask) -> dict[str, Any]:
    item: dict[str, Any] = {
        **task_key(tenant, task.id),
        "listPk": s(_list_pk(tenant, task.folder_id)),
        "listSk": s(_list_sk(task.id)),
        "lookupKey": s(f"TENANT#{tenant}#GTASKKEY#{task.key}"),
        "taskId": n(task.id),
        "taskKey": s(task.key),
        "folderId": n(task.folder_id),
        "taskType": s(task.type.value),
        "title": s(task.title),
        "priority": s(task.priority.value),
        "taskStatus": n(task.status),
        "creationTime": s(task.creation_time),
        "lastModificationTime": s(task.last_modification_time),
        "data": s(dumps(task.data)),
        "creator": s(task.creator),
    }
    if task.catalog is not None:
        item["catalog"] = s(task.catalog)
        item["catalogKey"] = s(task.catalog.casefold())
    if task.external_tag is not None:
        item["externalTag"] = s(task.external_tag)
    if task.schema_key is not None:
        item["schemaKey"] = s(task.schema_key)
    if task.schema is not None:
        item["schema"] = s(dumps(task.schema))
    return item


def _value(condition: Equals) -> dict[str, Any]:
    value = condition.value
    if isinstance(value, bool):
        return n(TaskStatus.COMPLETED)
    if isinstance(value, int):
        return n(value)
    assert isinstance(value, str)
    return s(value.casefold() if condition.field is Field.CATALOG else value)


def _filter(conditions: tuple[Equals, ...]) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    """The FilterExpression of a listing's equalities, with its names and values."""
    clauses: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for index, condition in enumerate(conditions):
        field = Field.STATUS if condition.field is Field.IS_COMPLETED else condition.field
        name = f"#f{index}"
        names[name] = _COLUMNS[field]
        if condition.value is None:
            clauses.append(f"attribute_not_exists({name})")
            continue
        values[f":f{index}"] = _value(condition)
        operator = "<>" if condition.field is Field.IS_COMPLETED and condition.value is False else "="
        clauses.append(f"{name} {operator} :f{index}")
    return (" AND ".join(clauses) or None), names, values


def _range(query: ListQuery) -> tuple[int, int]:
    """The id range as the index's 12-digit sort keys can hold it."""
    low = min(max(query.min_id or 0, 0), MAX_ID + 1)
    high = min(query.max_id if query.max_id is not None else MAX_ID, MAX_ID)
    return low, high


def _empty_range(query: ListQuery) -> bool:
    low, high = _range(query)
    return high < low


class GenericTaskStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def put_new(self, tenant: str, task: GenericTask) -> None:
        """Store a new task; with a catalog, in one transaction that checks the catalog exists."""
        put = {"TableName": self._table, "Item": _item(tenant, task), "ConditionExpression": "attribute_not_exists(pk)"}
        if task.catalog is None:
            self._ddb.put_item(**put)
            return
        check = {
            "TableName": self._table,
            "Key": catalog_key(tenant, task.folder_id, task.catalog),
            "ConditionExpression": "attribute_exists(pk)",
        }
        try:
            self._ddb.transact_write_items(TransactItems=[{"Put": put}, {"ConditionCheck": check}])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                raise CatalogMissing from error
            raise

    def get(self, tenant: str, task_id: int) -> GenericTask | None:
        item = read(self._ddb, self._table, task_key(tenant, task_id))
        return _task(item) if item is not None else None

    def by_key(self, tenant: str, task_key_guid: str) -> GenericTask | None:
        answer = self._ddb.query(
            TableName=self._table,
            IndexName=LOOKUP_INDEX,
            KeyConditionExpression="lookupKey = :k",
            ExpressionAttributeValues={":k": s(f"TENANT#{tenant}#GTASKKEY#{task_key_guid}")},
        )
        items = answer.get("Items") or []
        if not items:
            return None
        item = read(self._ddb, self._table, {"pk": items[0]["pk"], "sk": items[0]["sk"]})
        return _task(item) if item is not None else None

    def _update(
        self, tenant: str, task_id: int, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> GenericTask:
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=task_key(tenant, task_id),
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                item = error.response.get("Item")
                raise Refused(_task(item) if item else None) from error
            raise
        return _task(answer["Attributes"])

    def complete(
        self, tenant: str, task_id: int, folder_id: int | None, data: dict[str, Any] | None, action: str | None, at: str
    ) -> GenericTask:
        """Completed from Unassigned or Pending; `folder_id`, when given, must still be the task's."""
        names = {"#status": "taskStatus", "#action": "action"}
        values: dict[str, Any] = {":done": n(TaskStatus.COMPLETED), ":at": s(at)}
        sets = ["#status = :done", "completionTime = :at", "lastModificationTime = :at"]
        removes = []
        if action is None:
            removes.append("#action")
        else:
            sets.append("#action = :action")
            values[":action"] = s(action)
        if data is not None:
            names["#data"] = "data"
            sets.append("#data = :data")
            values[":data"] = s(dumps(data))
        condition = "#status <> :done"
        if folder_id is not None:
            condition += " AND folderId = :folder"
            values[":folder"] = n(folder_id)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return self._update(tenant, task_id, expression, condition, names, values)

    def assign(self, tenant: str, task_id: int, folder_id: int | None, user: str, at: str) -> GenericTask:
        """Unassigned to Pending with its assignee; `folder_id`, when given, must still be the task's."""
        values: dict[str, Any] = {
            ":unassigned": n(TaskStatus.UNASSIGNED),
            ":pending": n(TaskStatus.PENDING),
            ":user": s(user),
            ":at": s(at),
        }
        condition = "#status = :unassigned"
        if folder_id is not None:
            condition += " AND folderId = :folder"
            values[":folder"] = n(folder_id)
        return self._update(
            tenant,
            task_id,
            "SET #status = :pending, assignedTo = :user, lastAssignedTime = :at, lastModificationTime = :at",
            condition,
            {"#status": "taskStatus"},
            values,
        )

    def _query(self, tenant: str, folder_id: int, query: ListQuery, select_count: bool) -> Iterator[dict[str, Any]]:
        """Answers of the ListIndex Query for `query`, page by page, within MAX_EVALUATED entries."""
        key_condition = "listPk = :pk"
        values: dict[str, Any] = {":pk": s(_list_pk(tenant, folder_id))}
        if query.min_id is not None or query.max_id is not None:
            key_condition += " AND listSk BETWEEN :lo AND :hi"
            low, high = _range(query)
            values[":lo"] = s(_list_sk(low))
            values[":hi"] = s(_list_sk(high))
        filter_expression, names, filter_values = _filter(query.conditions)
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {**values, **filter_values},
            "ScanIndexForward": not query.descending,
        }
        if filter_expression is not None:
            request["FilterExpression"] = filter_expression
            request["ExpressionAttributeNames"] = names
            request["Limit"] = PAGE_ENTRIES
        if select_count:
            request["Select"] = "COUNT"
            request["Limit"] = PAGE_ENTRIES
        elif filter_expression is None:
            # Without a filter every entry read is one wanted: read exactly as many.
            request["Limit"] = query.skip + query.top
        evaluated = 0
        while True:
            answer = self._ddb.query(**request)
            evaluated += int(answer.get("ScannedCount", 0))
            yield answer
            if "LastEvaluatedKey" not in answer:
                return
            if evaluated >= MAX_EVALUATED:
                raise TooBroad
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def page(self, tenant: str, folder_id: int, query: ListQuery) -> list[TaskSummary]:
        if _empty_range(query):
            return []
        wanted = query.skip + query.top
        found: list[TaskSummary] = []
        for answer in self._query(tenant, folder_id, query, select_count=False):
            found.extend(TaskSummary(**_summary_fields(item)) for item in answer.get("Items", []))
            if len(found) >= wanted:
                break
        return found[query.skip : wanted]

    def count(self, tenant: str, folder_id: int, query: ListQuery) -> int:
        if _empty_range(query):
            return 0
        return sum(int(answer["Count"]) for answer in self._query(tenant, folder_id, query, select_count=True))
