"""Schedules: a script, a trigger, parameter sets, policies and destinations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from app import constants
from app.api.schemas.common import InputModel, check_name
from app.api.schemas.destinations import MAX_DESTINATIONS, DestinationIn, DestinationPublic
from app.models import MisfirePolicy, OverlapPolicy
from app.params import ParamError, validate_param_sets
from app.triggers import TriggerError, get_zone, parse_cron

MAX_WINDOW_S = 366 * 24 * 3600
MAX_JITTER_S = 3600.0
MAX_TIMEOUT_S = 3600.0
SCRIPT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _cron(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_cron(value).text
    except TriggerError as exc:
        raise ValueError(exc.message) from None


def _zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        get_zone(value)
    except TriggerError as exc:
        raise ValueError(exc.message) from None
    return value


def _params(value: Any, matrix: Any) -> None:
    try:
        validate_param_sets(value, matrix, max_sets=1_000_000_000)
    except ParamError as exc:
        raise ValueError(f"{exc.field}: {exc.message}") from None


class _ScheduleChecks(InputModel):
    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("cron", check_fields=False)
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return _cron(value)

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return _zone(value)

    @field_validator("params", check_fields=False)
    @classmethod
    def _params(cls, value: Any) -> Any:
        if value is not None:
            _params(value, {})
        return value

    @field_validator("param_matrix", check_fields=False)
    @classmethod
    def _matrix(cls, value: Any) -> Any:
        if value is not None:
            _params([], value)
        return value


class ScheduleCreate(_ScheduleChecks):
    """A new schedule. Exactly one of ``cron``, ``interval_s``, ``at``."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    connection_id: int = Field(ge=1)
    script_id: str = Field(pattern=SCRIPT_ID_PATTERN)
    cron: str | None = Field(
        default=None, max_length=200, description="5 fields, or 6 with seconds first", examples=["0 * * * *"]
    )
    interval_s: int | None = Field(default=None, ge=constants.MIN_INTERVAL_S, le=constants.MAX_INTERVAL_S)
    at: AwareDatetime | None = None
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone the cron is read in")
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    enabled: bool = True
    params: list[dict[str, Any]] = Field(default_factory=list)
    param_matrix: dict[str, list[Any]] = Field(default_factory=dict)
    misfire: MisfirePolicy = MisfirePolicy.LATEST
    misfire_window_s: int = Field(default=constants.DEFAULT_MISFIRE_WINDOW_S, ge=0, le=MAX_WINDOW_S)
    overlap: OverlapPolicy = OverlapPolicy.ALLOW
    jitter_s: float = Field(default=0.0, ge=0, le=MAX_JITTER_S)
    max_attempts: int = Field(default=constants.DEFAULT_MAX_ATTEMPTS, ge=1, le=100)
    backoff_base_s: float = Field(default=constants.DEFAULT_BACKOFF_BASE_S, ge=0, le=3600)
    backoff_cap_s: float = Field(default=constants.DEFAULT_BACKOFF_CAP_S, ge=0, le=86400)
    timeout_s: float = Field(default=constants.DEFAULT_INVOKE_TIMEOUT_S, gt=0, le=MAX_TIMEOUT_S)
    destinations: list[DestinationIn] = Field(default_factory=list, max_length=MAX_DESTINATIONS)


class ScheduleUpdate(_ScheduleChecks):
    """A partial update: only the fields given change. ``null`` clears the nullable ones."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    connection_id: int | None = Field(default=None, ge=1)
    script_id: str | None = Field(default=None, pattern=SCRIPT_ID_PATTERN)
    cron: str | None = Field(default=None, max_length=200)
    interval_s: int | None = Field(default=None, ge=constants.MIN_INTERVAL_S, le=constants.MAX_INTERVAL_S)
    at: AwareDatetime | None = None
    timezone: str | None = Field(default=None, max_length=64)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    enabled: bool | None = None
    params: list[dict[str, Any]] | None = None
    param_matrix: dict[str, list[Any]] | None = None
    misfire: MisfirePolicy | None = None
    misfire_window_s: int | None = Field(default=None, ge=0, le=MAX_WINDOW_S)
    overlap: OverlapPolicy | None = None
    jitter_s: float | None = Field(default=None, ge=0, le=MAX_JITTER_S)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    backoff_base_s: float | None = Field(default=None, ge=0, le=3600)
    backoff_cap_s: float | None = Field(default=None, ge=0, le=86400)
    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)
    destinations: list[DestinationIn] | None = Field(default=None, max_length=MAX_DESTINATIONS)


NULLABLE_FIELDS = frozenset({"cron", "interval_s", "at", "start_at", "end_at"})


class SchedulePublic(BaseModel):
    id: int
    name: str
    description: str
    connection_id: int
    script_id: str
    cron: str | None
    interval_s: int | None
    at: datetime | None
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    enabled: bool
    params: list[dict[str, Any]]
    param_matrix: dict[str, list[Any]]
    misfire: MisfirePolicy
    misfire_window_s: int
    overlap: OverlapPolicy
    jitter_s: float
    max_attempts: int
    backoff_base_s: float
    backoff_cap_s: float
    timeout_s: float
    destinations: list[DestinationPublic]
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    created_at: datetime
    updated_at: datetime


class FireTime(BaseModel):
    utc: datetime
    local: datetime = Field(description="The same instant in the schedule's time zone")


class NextFiresOut(BaseModel):
    timezone: str
    fires: list[FireTime]


class BackfillIn(InputModel):
    start: AwareDatetime = Field(description="Exclusive start of the range")
    end: AwareDatetime = Field(description="Inclusive end of the range (not in the future)")


class BackfillOut(BaseModel):
    created: int
    existing: int = Field(description="Fire times that already had a backfill run")
    capped: bool = Field(description="The range held more fire times than the limit")
    limit: int
    run_ids: list[int]
    enqueued: int
