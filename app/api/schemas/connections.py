"""Connections: an InfluxDB endpoint. The token is write-only; responses show it masked."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, SecretStr, field_validator

from app import constants
from app.api.schemas.common import InputModel, check_http_url, check_name

MAX_RATE_PER_S = 100_000.0
MAX_CONCURRENCY = 10_000
MAX_TIMEOUT_S = 3600.0


class ConnectionFields(InputModel):
    """Everything about a connection but its token."""

    name: str = Field(min_length=1, max_length=200, description="Unique name")
    url: str = Field(min_length=1, max_length=2000, description="Base URL of the InfluxDB server")
    org: str = Field(default="", max_length=200)
    rate_per_s: float | None = Field(
        default=None, gt=0, le=MAX_RATE_PER_S, description="Invokes per second (none: no limit)"
    )
    burst: int = Field(default=1, ge=1, le=100_000)
    max_concurrency: int = Field(default=8, ge=1, le=MAX_CONCURRENCY)
    timeout_s: float = Field(default=constants.DEFAULT_INVOKE_TIMEOUT_S, gt=0, le=MAX_TIMEOUT_S)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)


class ConnectionCreate(ConnectionFields):
    token: SecretStr = Field(min_length=1, max_length=2000, description="InfluxDB API token (write-only)")


class ConnectionUpdate(InputModel):
    """A partial update: only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    org: str | None = Field(default=None, max_length=200)
    token: SecretStr | None = Field(default=None, min_length=1, max_length=2000)
    rate_per_s: float | None = Field(default=None, gt=0, le=MAX_RATE_PER_S)
    burst: int | None = Field(default=None, ge=1, le=100_000)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)


class ConnectionPublic(BaseModel):
    id: int
    name: str
    url: str
    org: str
    token_masked: str = Field(description="The token's last characters, e.g. ****abcd")
    rate_per_s: float | None
    burst: int
    max_concurrency: int
    timeout_s: float
    created_at: datetime
    updated_at: datetime


class CheckOut(BaseModel):
    ok: bool
    error: str | None = None
    status: int | None = None


class ConnectionTestOut(BaseModel):
    """``ping`` then ``list_scripts``; ``ok`` only when both passed."""

    ok: bool
    ping: CheckOut
    list_scripts: CheckOut
    scripts_seen: int | None = None
