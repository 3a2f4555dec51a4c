"""Server settings, each overridable by an environment variable (JBQA_<NAME>)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JBQA_")

    max_body_bytes: int = Field(default=16 * 1024, ge=1, description="Larger request bodies get 413.")
