"""Settings, one mixin per concern; each function declares the ones it reads as its own model.

Each function's `Config` (in its app.py) is validated at cold start, so a missing setting fails
the deployment's first invocation, not a request. template.yaml gives each function exactly the
variables its Config reads (a test holds the two in step), so no secret reaches a function that
does not need it.
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class BaseSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class RouteSettings(BaseSettings):
    """The scope a route's caller must hold, declared beside the route in template.yaml."""

    required_scope: str = Field(alias="REQUIRED_SCOPE", min_length=1)


class TableSettings(BaseSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)


class BucketSettings(BaseSettings):
    bucket_name: str = Field(alias="BUCKET_NAME", min_length=1)


class QueueSettings(BaseSettings):
    task_queue_url: str = Field(alias="TASK_QUEUE_URL", min_length=1)


class ConverterSettings(BaseSettings):
    """The function that converts DOCX to PDF (LibreOffice); unset: DOCX -> PDF steps fail clearly."""

    converter_function: str | None = Field(alias="CONVERTER_FUNCTION", default=None)


class SalesforceSettings(BaseSettings):
    """Hosts a Salesforce serverURL may name (comma-separated patterns); the template's SalesforceHosts."""

    salesforce_hosts: str = Field(alias="SALESFORCE_HOSTS", min_length=1)


class SessionKeySettings(BaseSettings):
    """The KMS key that seals an integration's session id between accepting a task and running it."""

    session_key_id: str = Field(alias="SESSION_KEY_ID", min_length=1)


class QuotaSettings(BaseSettings):
    default_monthly_quota: int = Field(alias="DEFAULT_MONTHLY_QUOTA", ge=0)


class TokenSettings(BaseSettings):
    jwt_issuer: str = Field(alias="JWT_ISSUER", min_length=1)
    jwt_audience: str = Field(alias="JWT_AUDIENCE", min_length=1)
    jwt_algorithm: Literal["RS256", "HS256"] = Field(alias="JWT_ALGORITHM", default="RS256")
    jwt_jwks_url: str | None = Field(alias="JWT_JWKS_URL", default=None)
    jwt_secret: SecretStr | None = Field(alias="JWT_SECRET", default=None)

    @model_validator(mode="after")
    def _key_source_matches_algorithm(self) -> TokenSettings:
        if self.jwt_algorithm == "RS256" and not self.jwt_jwks_url:
            raise ValueError("JWT_JWKS_URL is required for RS256 tokens")
        if self.jwt_algorithm == "HS256" and (
            self.jwt_secret is None or len(self.jwt_secret.get_secret_value()) < 32
        ):
            raise ValueError("JWT_SECRET of at least 32 characters is required for HS256 tokens")
        return self


Settings = TypeVar("Settings", bound=BaseSettings)
_loaded: dict[type[BaseSettings], BaseSettings] = {}


def load(model: type[Settings]) -> Settings:
    """The settings `model` reads from the environment, parsed once per process."""
    found = _loaded.get(model)
    if found is None:
        found = _loaded[model] = model.model_validate(dict(os.environ))
    assert isinstance(found, model)
    return found


def clear() -> None:
    """Forget what was parsed (tests that change the environment)."""
    _loaded.clear()


def variables(model: type[BaseSettings]) -> set[str]:
    """The environment variables `model` reads."""
    return {field.alias for field in model.model_fields.values() if field.alias}
