"""Server settings, each overridable by an environment variable (JBQA_<NAME>)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JBQA_", populate_by_name=True)

    max_body_bytes: int = Field(default=16 * 1024, ge=1, description="Larger request bodies get 413.")
    ask_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="JBQA_ASK_TIMEOUT",
        description="A question not answered within this many seconds gets 503 (env JBQA_ASK_TIMEOUT).",
    )
