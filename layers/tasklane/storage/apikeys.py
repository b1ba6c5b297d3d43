"""Dynamo-style API keys: only a SHA-256 of the secret part is stored."""

from __future__ import annotations

from typing import Any


def _key(tenant: str, key_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": f"APIKEY#{key_id}"}}


class ApiKeyStore:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def put(self, tenant: str, key_id: str, secret_hash: str, created: str) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={**_key(tenant, key_id), "secretHash": {"S": secret_hash}, "createdDateTime": {"S": created}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def secret_hash(self, tenant: str, key_id: str) -> str | None:
        item = self._ddb.get_item(TableName=self._table, Key=_key(tenant, key_id)).get("Item")
        return item["secretHash"]["S"] if item else None
