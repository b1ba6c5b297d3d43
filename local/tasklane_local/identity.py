"""The account and region every local ARN, URL and event carries."""

from __future__ import annotations

import os

# AWS: moto's default account; moto builds its own ARNs and queue URLs from it.
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# AWS: HTTP API ids are 10 characters; "local" makes local ARNs and events easy to spot.
API_ID = "local"


def current_region() -> str:
    """The region boto3 in this process uses (AWS_DEFAULT_REGION, as botocore reads it)."""
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
