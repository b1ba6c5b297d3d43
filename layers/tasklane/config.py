"""Settings read once per cold start from the environment that template.yaml declares."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Settings(BaseModel):
    """Every setting a function needs; a missing one fails the cold start, not a request."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    bucket_name: str = Field(alias="BUCKET_NAME", min_length=1)
    task_queue_url: str = Field(alias="TASK_QUEUE_URL", min_length=1)
    jwt_issuer: str = Field(alias="JWT_ISSUER", min_length=1)
    jwt_audience: str = Field(alias="JWT_AUDIENCE", min_length=1)
    jwt_algorithm: Literal["RS256", "HS256"] = Field(alias="JWT_ALGORITHM", default="RS256")
    jwt_jwks_url: str | None = Field(alias="JWT_JWKS_URL", default=None)
    jwt_secret: SecretStr | None = Field(alias="JWT_SECRET", default=None)
    default_monthly_quota: int = Field(alias="DEFAULT_MONTHLY_QUOTA", ge=0)

    @model_validator(mode="after")
    def _key_source_matches_algorithm(self) -> Settings:
        if self.jwt_algorithm == "RS256" and not self.jwt_jwks_url:
            raise ValueError("JWT_JWKS_URL is required for RS256 tokens")
        if self.jwt_algorithm == "HS256" and (
            self.jwt_secret is None or len(self.jwt_secret.get_secret_value()) < 32
        ):
            raise ValueError("JWT_SECRET of at least 32 characters is required for HS256 tokens")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
