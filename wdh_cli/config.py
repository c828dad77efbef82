"""Settings from the environment and `.env` (prefix WDH_), via pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wdh_cli.errors import ConfigError
from wdh_cli.providers.names import ProviderSetting

POOL_MAX_CAP = 100
# Upper bounds of durations and counts: far above any sensible value, and far
# below what would overflow PostgreSQL's intervals and timestamps, so that a
# typo is a configuration error naming the setting, not a failure mid-run.
DAY = 86_400
YEAR = 365 * DAY


def default_home() -> Path:
    """The platform's user data directory for wdh (e.g. ~/.local/share/wdh)."""
    return Path(platformdirs.user_data_dir("wdh", appauthor=False))


class Settings(BaseSettings):
    """Every WDH_* setting; secrets are SecretStr so they never print by accident."""

    model_config = SettingsConfigDict(
        env_prefix="WDH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset means the embedded server."
    )
    home: Path = Field(
        default_factory=default_home, description="Data directory of the embedded server."
    )
    pool_max: int = Field(default=10, ge=1, description="Pool size, capped at 100.")
    connect_timeout: int = Field(
        default=10, ge=1, le=DAY, description="Seconds to wait for a connection."
    )
    alias_salt: SecretStr | None = Field(
        default=None, description="Secret salt of the HMAC temporary IDs."
    )
    temp_id_style: Literal["hmac", "sequence"] = Field(
        default="hmac", description="Temporary IDs: HMAC (IN...) or sequential (TEMP_000001)."
    )
    lock_timeout: int = Field(
        default=60,
        ge=1,
        le=DAY,
        description="Seconds resolve --table and rewrite wait for a lock another session holds.",
    )
    mappings_dir: Path = Field(
        default=Path("mappings"), description="Directory of the YAML override files."
    )

    # Providers (docs/eqc.md).
    provider: ProviderSetting = Field(
        default=ProviderSetting.auto,
        description="auto: eqc with a token, else directory with a path, else none.",
    )
    eqc_base_url: str = Field(default="https://eqc.pingan.com")
    eqc_token: SecretStr | None = Field(default=None, description="EQC session token (secret).")
    eqc_timeout: int = Field(default=5, ge=1, le=DAY, description="Seconds per EQC request.")
    eqc_rate_limit: int = Field(
        default=10, ge=1, le=1_000_000, description="EQC requests per minute."
    )
    eqc_retries: int = Field(
        default=2, ge=0, le=100, description="Retries on 429, 5xx and timeouts."
    )
    eqc_min_confidence: float = Field(default=0.80, ge=0, le=1)
    eqc_confidence: dict[str, float] | None = Field(
        default=None,
        description="Confidence per EQC match type (JSON); unset: the table in docs/eqc.md.",
    )
    directory_path: Path | None = Field(
        default=None, description="CSV of known companies for the offline provider."
    )

    lookup_ttl: int = Field(
        default=90 * DAY,
        ge=0,
        le=10 * YEAR,
        description="Seconds a provider's answer is reused instead of asking again (0: never).",
    )
    sync_lookup_budget: int = Field(
        default=0,
        ge=0,
        le=1_000_000_000,
        description="Provider lookups per resolve run (--budget overrides).",
    )

    # The enrichment queue.
    queue_backoff: str = Field(
        default="60,300,900", description="Seconds before retry 1, 2, 3, ... (comma-separated)."
    )
    queue_max_attempts: int = Field(default=3, ge=1, le=1000)
    queue_stale_after: int = Field(
        default=900, ge=1, le=YEAR, description="Seconds before reclaiming."
    )
    queue_poll_interval: int = Field(
        default=5, ge=1, le=DAY, description="Seconds between polls (--follow)."
    )

    @field_validator("queue_backoff")
    @classmethod
    def _backoff_is_a_list_of_seconds(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",")]
        if not parts or not all(part.isdigit() for part in parts):
            raise ValueError("expected whole seconds separated by commas, e.g. 60,300,900")
        if any(int(part) > YEAR for part in parts):
            raise ValueError(f"each delay must be at most {YEAR} seconds (a year)")
        return ",".join(parts)

    @property
    def backoff_seconds(self) -> list[int]:
        return [int(part) for part in self.queue_backoff.split(",")]

    @field_validator("eqc_confidence")
    @classmethod
    def _confidences_are_fractions(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and not all(0 <= c <= 1 for c in value.values()):
            raise ValueError("every confidence must be between 0 and 1")
        return value

    @field_validator("pool_max")
    @classmethod
    def _cap_pool_max(cls, value: int) -> int:
        # A bigger pool only queues work inside PostgreSQL; cap instead of failing.
        return min(value, POOL_MAX_CAP)

    @field_validator("database_url")
    @classmethod
    def _blank_url_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into a ConfigError naming the setting.

    The offending value is never echoed: it may be a secret.
    """
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"WDH_{field.upper()}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
