"""Task catalogs: one item per catalog in its folder's partition, keyed by its case-folded name, so
a name is unique per folder by a conditional put and a folder's catalogs are one Query, by name.

Key: pk TENANT#<t>#FOLDER#<id>#CATALOGS   sk CATALOG#<name, case-folded>
"""

from __future__ import annotations

from typing import Any

from tasklane.domain.generic_task_records import TaskCatalog
from tasklane.storage.units import key, n, s, updated


class CatalogNameTaken(Exception):
    pass


def catalog_key(tenant: str, folder_id: int, name: str) -> dict[str, Any]:
    return key(f"TENANT#{tenant}#FOLDER#{folder_id}#CATALOGS", f"CATALOG#{name.casefold()}")


def _catalog(item: dict[str, Any]) -> TaskCatalog:
    return TaskCatalog(
        id=int(item["catalogId"]["N"]),
        folder_id=int(item["folderId"]["N"]),
        name=item["name"]["S"],
        description=item["description"]["S"],
        last_modification_time=item["lastModificationTime"]["S"],
    )


class TaskCatalogStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def create(self, tenant: str, catalog: TaskCatalog) -> None:
        stored = updated(
            self._ddb.put_item,
            TableName=self._table,
            Item={
                **catalog_key(tenant, catalog.folder_id, catalog.name),
                "catalogId": n(catalog.id),
                "folderId": n(catalog.folder_id),
                "name": s(catalog.name),
                "description": s(catalog.description),
                "lastModificationTime": s(catalog.last_modification_time),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        if not stored:
            raise CatalogNameTaken

    def page(self, tenant: str, folder_id: int, skip: int, top: int) -> list[TaskCatalog]:
        """`top` catalogs of the folder after the first `skip`, by name."""
        found: list[TaskCatalog] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": s(f"TENANT#{tenant}#FOLDER#{folder_id}#CATALOGS")},
            "Limit": skip + top,
        }
        while len(found) < skip + top:
            answer = self._ddb.query(**request)
            found.extend(_catalog(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
            request["Limit"] = skip + top - len(found)
        return found[skip : skip + top]

    def count(self, tenant: str, folder_id: int) -> int:
        total = 0
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": s(f"TENANT#{tenant}#FOLDER#{folder_id}#CATALOGS")},
            "Select": "COUNT",
        }
        while True:
            answer = self._ddb.query(**request)
            total += int(answer["Count"])
            if "LastEvaluatedKey" not in answer:
                return total
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
