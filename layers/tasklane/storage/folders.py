"""Folders of the GenericTasks family: one item per folder, and two alias items (its fully qualified
name, its key) written with it in one transaction, so every way a client names a folder is one
consistent GetItem, and two folders can never share a name under one parent.

Keys:
  folder            pk TENANT#<t>#FOLDERS               sk FOLDER#<id, 10 digits>
  by name           pk TENANT#<t>#FOLDERPATH#<name>     sk FOLDER   (name case-folded)
  by key            pk TENANT#<t>#FOLDERKEY#<guid>      sk FOLDER

Folders are never renamed or deleted, so a folder once found is kept in this process's memory:
after the first request, naming a folder costs no DynamoDB call.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from botocore.exceptions import ClientError

from tasklane.domain.generic_task_records import Folder
from tasklane.storage.units import key, n, read, s

CACHE_ENTRIES = 4096


class FolderNameTaken(Exception):
    pass


def folder_key(tenant: str, folder_id: int) -> dict[str, Any]:
    return key(f"TENANT#{tenant}#FOLDERS", f"FOLDER#{folder_id:010d}")


def _path_key(tenant: str, fully_qualified_name: str) -> dict[str, Any]:
    return key(f"TENANT#{tenant}#FOLDERPATH#{fully_qualified_name.casefold()}", "FOLDER")


def _guid_key(tenant: str, folder_key_guid: str) -> dict[str, Any]:
    return key(f"TENANT#{tenant}#FOLDERKEY#{folder_key_guid.lower()}", "FOLDER")


def _attributes(folder: Folder) -> dict[str, Any]:
    item = {
        "folderId": n(folder.id),
        "folderKey": s(folder.key),
        "displayName": s(folder.display_name),
        "fullyQualifiedName": s(folder.fully_qualified_name),
    }
    if folder.parent_id is not None:
        item["parentId"] = n(folder.parent_id)
    return item


def _folder(item: dict[str, Any]) -> Folder:
    return Folder(
        id=int(item["folderId"]["N"]),
        key=item["folderKey"]["S"],
        display_name=item["displayName"]["S"],
        fully_qualified_name=item["fullyQualifiedName"]["S"],
        parent_id=int(item["parentId"]["N"]) if "parentId" in item else None,
    )


class FolderStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table
        self._found: OrderedDict[tuple[str, ...], Folder] = OrderedDict()

    def _lookup(self, cache_key: tuple[str, ...], item_key: dict[str, Any]) -> Folder | None:
        found = self._found.get(cache_key)
        if found is not None:
            self._found.move_to_end(cache_key)
            return found
        item = read(self._ddb, self._table, item_key)
        if item is None:
            return None
        folder = self._found[cache_key] = _folder(item)
        while len(self._found) > CACHE_ENTRIES:
            self._found.popitem(last=False)
        return folder

    def by_id(self, tenant: str, folder_id: int) -> Folder | None:
        return self._lookup((tenant, "id", str(folder_id)), folder_key(tenant, folder_id))

    def by_path(self, tenant: str, fully_qualified_name: str) -> Folder | None:
        return self._lookup((tenant, "path", fully_qualified_name.casefold()), _path_key(tenant, fully_qualified_name))

    def by_key(self, tenant: str, folder_key_guid: str) -> Folder | None:
        return self._lookup((tenant, "key", folder_key_guid.lower()), _guid_key(tenant, folder_key_guid))

    def create(self, tenant: str, folder: Folder) -> None:
        """Store `folder` and its aliases at once; FolderNameTaken if its name is in use."""
        attributes = _attributes(folder)
        puts = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**item_key, **attributes},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for item_key in (
                folder_key(tenant, folder.id),
                _path_key(tenant, folder.fully_qualified_name),
                _guid_key(tenant, folder.key),
            )
        ]
        try:
            self._ddb.transact_write_items(TransactItems=puts)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                raise FolderNameTaken from error
            raise

    def all(self, tenant: str) -> list[Folder]:
        """Every stored folder of the tenant, by id (read a page at a time)."""
        folders: list[Folder] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": s(f"TENANT#{tenant}#FOLDERS")},
        }
        while True:
            answer = self._ddb.query(**request)
            folders.extend(_folder(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return folders
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
