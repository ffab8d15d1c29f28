"""One settings class for the API, the worker, the beat and the CLI.

Read it through :func:`get_settings`; tests change it with :func:`override_settings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import constants


class SettingsError(Exception):
    """Raised when a setting from the environment is missing or malformed."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of scriptcron. Environment variables carry the ``SCRIPTCRON_`` prefix."""

    model_config = SettingsConfigDict(
        env_prefix=constants.ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.DEVELOPMENT
    data_dir: str = "./data"
    database_url: str = "sqlite:///./data/scriptcron.db"
    broker_url: str = "redis://127.0.0.1:6379/0"
    redis_url: str = Field(default="", description="Redis for rate limits; defaults to broker_url")

    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    api_public_url: str = "http://127.0.0.1:8000"
    encryption_key: SecretStr | None = None

    result_store_url: str = "file://./data/results"
    max_param_sets: int = Field(default=constants.DEFAULT_MAX_PARAM_SETS, ge=1, le=1_000_000)
    max_backfill_runs: int = Field(default=constants.DEFAULT_MAX_BACKFILL_RUNS, ge=1, le=100_000)
    webhook_allow_loopback: bool = False
    webhook_allow_private: bool = False
    webhook_csv_max_bytes: int = Field(default=constants.DEFAULT_WEBHOOK_CSV_MAX_BYTES, ge=0)
    delivery_retry_period_s: int = Field(default=constants.DEFAULT_DELIVERY_RETRY_PERIOD_S, ge=0)
    result_key_template: str = constants.DEFAULT_RESULT_KEY_TEMPLATE

    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    sweep_requeue_after_s: float = Field(default=constants.DEFAULT_SWEEP_REQUEUE_AFTER_S, gt=0)
    beat_tick_s: float = Field(default=constants.BEAT_TICK_S, gt=0, le=60)
    invoke_lease_margin_s: float = Field(default=constants.INVOKE_LEASE_MARGIN_S, gt=0)
    invoke_batch_size: int = Field(default=constants.DEFAULT_INVOKE_BATCH_SIZE, ge=1, le=500)
    log_level: str = "INFO"
    log_json: bool = False
    metrics_port: int = Field(default=constants.DEFAULT_METRICS_PORT, ge=0, le=65535)

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if self.encryption_key is None:
                raise ValueError(
                    f"{constants.ENV_PREFIX}ENCRYPTION_KEY is required when "
                    f"{constants.ENV_PREFIX}ENVIRONMENT=production"
                )
            if not self.api_tokens:
                raise ValueError(
                    f"{constants.ENV_PREFIX}API_TOKENS is required when "
                    f"{constants.ENV_PREFIX}ENVIRONMENT=production"
                )
        return self

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or self.broker_url


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if not isinstance(p, int)]
        name = f"{constants.ENV_PREFIX}{loc[0].upper()}" if loc else "settings"
        parts.append(f"{name}: {item['msg']}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and ``overrides``); raise SettingsError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


_overrides: list[Settings] = []


@lru_cache(maxsize=1)
def _cached_settings() -> Settings:
    return load_settings()


def get_settings() -> Settings:
    """The process-wide settings, read once from the environment (or the innermost override)."""
    if _overrides:
        return _overrides[-1]
    return _cached_settings()


def reset_settings_cache() -> None:
    """Forget the cached settings so the next :func:`get_settings` reads the environment again."""
    _cached_settings.cache_clear()


@contextmanager
def override_settings(**values: Any) -> Iterator[Settings]:
    """Use settings built from the environment plus ``values`` for the duration of a block (tests)."""
    settings = load_settings(**values)
    _overrides.append(settings)
    try:
        yield settings
    finally:
        _overrides.remove(settings)
