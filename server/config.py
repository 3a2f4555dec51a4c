"""Server settings, each overridable by an environment variable (JBQA_<NAME>)."""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

_SHOWN_VALUE_CHARS = 40


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JBQA_", populate_by_name=True)

    max_body_bytes: int = Field(default=16 * 1024, ge=1, description="Larger request bodies get 413.")
    ask_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        validation_alias="JBQA_ASK_TIMEOUT",
        description="A question not answered within this many seconds gets 503 (env JBQA_ASK_TIMEOUT).",
    )
    allowed_hosts: str = Field(
        default="",
        pattern=r"^[\w.:\[\]*, -]*$",
        description="Host names answered besides the loopback ones, comma-separated; * answers any.",
    )

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.allowed_hosts.split(",") if h.strip())


# What each setting takes, for the one-line error about a bad value.
_TAKES = {
    "max_body_bytes": "a whole number of bytes, 1 or more",
    "ask_timeout_seconds": "a number of seconds above 0",
    "allowed_hosts": "host names separated by commas (letters, digits, . - : [ ]), or *",
}


class SettingsError(ValueError):
    """A setting's environment variable holds a value it cannot take; the message names both."""


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"JBQA_{field.upper()}"


def load_settings() -> Settings:
    """The settings from the environment, or SettingsError naming the first bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        given = str(error["loc"][0]) if error["loc"] else ""
        field = next((f for f in Settings.model_fields if given in (f, env_name(f))), given)
        name = env_name(field) if field in Settings.model_fields else given
        shown = repr(str(error.get("input", "")))
        if len(shown) > _SHOWN_VALUE_CHARS:
            shown = shown[: _SHOWN_VALUE_CHARS - 4] + "...'"
        raise SettingsError(f"{name}={shown} is not valid: it takes {_TAKES.get(field, error['msg'])}") from exc
