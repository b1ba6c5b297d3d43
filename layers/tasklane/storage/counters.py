"""Integer ids, unique per tenant and increasing: one atomic counter item per tenant and kind.

An id is taken with one UpdateItem (`SET last = if_not_exists(last, start) + 1`), never by reading
the table, so concurrent creators never share one. An id whose item is then not written (a refused
create, a crash) stays unused: ids have gaps, never repeats. Key: pk TENANT#<t>#COUNTER sk <kind>.
One counter item is one DynamoDB partition (1,000 writes/s): a tenant creating faster than that
would need ids striped over several counters.
"""

from __future__ import annotations

from typing import Any

from tasklane.storage.units import key, n


class IdCounter:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def next(self, tenant: str, kind: str, start: int = 0) -> int:
        """The next id of `kind` for `tenant`; the first one handed out is `start + 1`."""
        answer = self._ddb.update_item(
            TableName=self._table,
            Key=key(f"TENANT#{tenant}#COUNTER", kind),
            UpdateExpression="SET #last = if_not_exists(#last, :start) + :one",
            ExpressionAttributeNames={"#last": "last"},
            ExpressionAttributeValues={":start": n(start), ":one": n(1)},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["last"]["N"])
