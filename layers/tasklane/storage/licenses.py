"""License units: a per-tenant monthly quota and an atomically counted usage per calendar month."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

USAGE_TTL_SECONDS = 400 * 24 * 3600


class QuotaWouldBeExceeded(Exception):
    pass


def _key(tenant: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": sk}}


class LicenseStore:
    def __init__(self, client: Any, table: str, default_quota: int) -> None:
        self._ddb = client
        self._table = table
        self._default_quota = default_quota

    def quota(self, tenant: str) -> int:
        item = self._ddb.get_item(TableName=self._table, Key=_key(tenant, "QUOTA")).get("Item")
        return int(item["monthlyQuota"]["N"]) if item else self._default_quota

    def set_quota(self, tenant: str, monthly_quota: int) -> None:
        self._ddb.put_item(
            TableName=self._table, Item={**_key(tenant, "QUOTA"), "monthlyQuota": {"N": str(monthly_quota)}}
        )

    def used(self, tenant: str, term: str) -> int:
        item = self._ddb.get_item(TableName=self._table, Key=_key(tenant, f"USAGE#{term}")).get("Item")
        return int(item["used"]["N"]) if item else 0

    def reserve(self, tenant: str, term: str, units: int, quota: int, expires_at: int) -> int:
        """Add `units` only if usage stays within `quota`, atomically; returns usage after."""
        if units > quota:
            raise QuotaWouldBeExceeded
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=_key(tenant, f"USAGE#{term}"),
                UpdateExpression="ADD used :units SET expiresAt = if_not_exists(expiresAt, :expires)",
                ConditionExpression="attribute_not_exists(used) OR used <= :limit",
                ExpressionAttributeValues={
                    ":units": {"N": str(units)},
                    ":limit": {"N": str(quota - units)},
                    ":expires": {"N": str(expires_at)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise QuotaWouldBeExceeded from error
            raise
        return int(answer["Attributes"]["used"]["N"])

    def release(self, tenant: str, term: str, units: int) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_key(tenant, f"USAGE#{term}"),
            UpdateExpression="ADD used :units",
            ExpressionAttributeValues={":units": {"N": str(-units)}},
        )
