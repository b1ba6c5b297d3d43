"""Session ids sealed with KMS between the request that brings one and the worker that uses it.

A Salesforce session id is a credential. The accepting function encrypts it with the SessionKey
(encryption context: tenant and unit), and only the ciphertext travels, inside the unit's queue
message; DynamoDB and S3 never hold it. The worker decrypts it once per unit (kms:Decrypt is
granted to the worker alone) and keeps it in memory while the unit runs.
"""

from __future__ import annotations

import base64
from typing import Any


class SessionSealer:
    def __init__(self, client: Any, key_id: str) -> None:
        self._kms = client
        self._key_id = key_id

    def seal(self, secret: str, context: dict[str, str]) -> str:
        answer = self._kms.encrypt(KeyId=self._key_id, Plaintext=secret.encode("utf-8"), EncryptionContext=context)
        return base64.b64encode(answer["CiphertextBlob"]).decode("ascii")

    def unseal(self, sealed: str, context: dict[str, str]) -> str:
        answer = self._kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext=context)
        return bytes(answer["Plaintext"]).decode("utf-8")
