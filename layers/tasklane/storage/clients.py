"""boto3 clients, one per service per process. AWS_ENDPOINT_URL points them at moto locally."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=32,
)


@lru_cache(maxsize=None)
def aws_client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)


# A conversion may take the task's whole time: wait that long, and never send it twice.
_CONVERTER_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=3, read_timeout=75)


@lru_cache(maxsize=1)
def converter_client() -> Any:
    return boto3.session.Session().client("lambda", config=_CONVERTER_CONFIG)
