"""The database entities (design.md): Connection, Schedule, Run, Invocation, Delivery.

Status values are enums with named groups (``TERMINAL``, ``SUCCESSFUL``), never loose strings.
Every timestamp is UTC (:class:`app.db.UTCDateTime`). JSON columns hold params and destinations.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Enum, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app import constants
from app.db import UTCDateTime, utcnow


def _enum_column(enum: type[StrEnum], *, index: bool = False) -> Any:
    return Column(
        Enum(enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        index=index,
    )


def _time_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class MisfirePolicy(StrEnum):
    """What the beat does with fire times missed while it was down."""

    NONE = "none"  # skip them all; fire at the next regular time
    LATEST = "latest"  # fire once, for the latest missed time within the window
    ALL = "all"  # fire every missed time within the window


class OverlapPolicy(StrEnum):
    ALLOW = "allow"
    SKIP = "skip"  # a fire while the previous run is unfinished is recorded as a skipped run


class RunKind(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"
    RETRY = "retry"


class RunStatus(StrEnum):
    PENDING = "pending"  # created, fan-out not done yet
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"
    SKIPPED = "skipped"

    TERMINAL: ClassVar[frozenset[RunStatus]]
    SUCCESSFUL: ClassVar[frozenset[RunStatus]]


RunStatus.TERMINAL = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.PARTIALLY_FAILED, RunStatus.FAILED, RunStatus.SKIPPED}
)
RunStatus.SUCCESSFUL = frozenset({RunStatus.SUCCEEDED})


class InvocationStatus(StrEnum):
    PENDING = "pending"  # row exists, not yet sent to the broker
    QUEUED = "queued"  # sent to the broker
    RUNNING = "running"
    WAITING = "waiting"  # delayed work: a retry or a rate-limit wait, due at ``next_attempt_at``
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    TERMINAL: ClassVar[frozenset[InvocationStatus]]
    SUCCESSFUL: ClassVar[frozenset[InvocationStatus]]


InvocationStatus.TERMINAL = frozenset({InvocationStatus.SUCCEEDED, InvocationStatus.FAILED})
InvocationStatus.SUCCESSFUL = frozenset({InvocationStatus.SUCCEEDED})


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # retry due at ``next_attempt_at``
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    TERMINAL: ClassVar[frozenset[DeliveryStatus]]
    SUCCESSFUL: ClassVar[frozenset[DeliveryStatus]]


DeliveryStatus.TERMINAL = frozenset({DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED})
DeliveryStatus.SUCCESSFUL = frozenset({DeliveryStatus.SUCCEEDED})


class DestinationKind(StrEnum):
    S3 = "s3"
    WEBHOOK = "webhook"
    MANIFEST = "manifest"  # internal: a run's manifest into the result store (never a schedule destination)


class Connection(SQLModel, table=True):
    """An InfluxDB endpoint. The token is stored encrypted (``token_encrypted``), never returned."""

    __tablename__ = "connection"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    url: str = Field(max_length=2000)
    org: str = Field(default="", max_length=200)
    token_encrypted: str = Field(max_length=4000)
    rate_per_s: float | None = Field(default=None)  # None: no rate limit
    burst: int = Field(default=1)
    max_concurrency: int = Field(default=8)
    timeout_s: float = Field(default=constants.DEFAULT_INVOKE_TIMEOUT_S)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time_column(nullable=False))


class Schedule(SQLModel, table=True):
    """A script bound to a trigger, parameter sets, policies and destinations."""

    __tablename__ = "schedule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    description: str = Field(default="", max_length=2000)
    connection_id: int = Field(foreign_key="connection.id", index=True)
    script_id: str = Field(max_length=64)

    # Trigger: exactly one of cron / interval_s / at.
    cron: str | None = Field(default=None, max_length=200)
    interval_s: int | None = Field(default=None)
    at: datetime | None = Field(default=None, sa_column=_time_column())
    timezone: str = Field(default="UTC", max_length=64)
    start_at: datetime | None = Field(default=None, sa_column=_time_column())
    end_at: datetime | None = Field(default=None, sa_column=_time_column())
    enabled: bool = Field(default=True, index=True)

    params: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    param_matrix: dict[str, list[Any]] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    destinations: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))

    misfire: MisfirePolicy = Field(default=MisfirePolicy.LATEST, sa_column=_enum_column(MisfirePolicy))
    misfire_window_s: int = Field(default=constants.DEFAULT_MISFIRE_WINDOW_S)
    overlap: OverlapPolicy = Field(default=OverlapPolicy.ALLOW, sa_column=_enum_column(OverlapPolicy))
    jitter_s: float = Field(default=0.0)
    max_attempts: int = Field(default=constants.DEFAULT_MAX_ATTEMPTS)
    backoff_base_s: float = Field(default=constants.DEFAULT_BACKOFF_BASE_S)
    backoff_cap_s: float = Field(default=constants.DEFAULT_BACKOFF_CAP_S)
    timeout_s: float = Field(default=constants.DEFAULT_INVOKE_TIMEOUT_S)

    # What the beat reads (UTC, indexed); None when the schedule will not fire again or is paused.
    next_fire_at: datetime | None = Field(default=None, sa_column=_time_column(index=True))
    last_fire_at: datetime | None = Field(default=None, sa_column=_time_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time_column(nullable=False))


class Run(SQLModel, table=True):
    """One firing of a schedule for one scheduled time; unique on (schedule, scheduled_for, kind)."""

    __tablename__ = "run"
    __table_args__ = (
        UniqueConstraint("schedule_id", "scheduled_for", "kind", name="uq_run_schedule_time_kind"),
        Index("ix_run_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", index=True)
    kind: RunKind = Field(default=RunKind.SCHEDULED, sa_column=_enum_column(RunKind))
    status: RunStatus = Field(default=RunStatus.PENDING, sa_column=_enum_column(RunStatus, index=True))
    scheduled_for: datetime = Field(sa_column=_time_column(nullable=False))
    window_start: datetime | None = Field(default=None, sa_column=_time_column())
    window_end: datetime | None = Field(default=None, sa_column=_time_column())

    total: int = Field(default=0)
    succeeded: int = Field(default=0)
    failed: int = Field(default=0)
    message: str = Field(default="", max_length=4000)

    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column(nullable=False))
    enqueued_at: datetime | None = Field(default=None, sa_column=_time_column())
    started_at: datetime | None = Field(default=None, sa_column=_time_column())
    finished_at: datetime | None = Field(default=None, sa_column=_time_column())


class Invocation(SQLModel, table=True):
    """One parameter set of a run, and what came of it."""

    __tablename__ = "invocation"
    __table_args__ = (
        UniqueConstraint("run_id", "index", name="uq_invocation_run_index"),
        Index("ix_invocation_status_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    index: int
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    params_hash: str = Field(max_length=64)
    status: InvocationStatus = Field(
        default=InvocationStatus.PENDING, sa_column=_enum_column(InvocationStatus)
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_column=_time_column())
    last_http_status: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=4000)

    result_location: str | None = Field(default=None, max_length=2000)
    result_bytes: int | None = Field(default=None)
    result_rows: int | None = Field(default=None)
    result_sha256: str | None = Field(default=None, max_length=64)

    enqueued_at: datetime | None = Field(default=None, sa_column=_time_column())
    lease_expires_at: datetime | None = Field(default=None, sa_column=_time_column())
    started_at: datetime | None = Field(default=None, sa_column=_time_column())
    finished_at: datetime | None = Field(default=None, sa_column=_time_column())


class Delivery(SQLModel, table=True):
    """One result (or, with no invocation, a run's manifest / run.completed event) to one destination."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("run_id", "invocation_id", "destination_index", name="uq_delivery_target"),
        Index("ix_delivery_status_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    invocation_id: int | None = Field(default=None, foreign_key="invocation.id", index=True)
    destination_index: int
    kind: DestinationKind = Field(sa_column=_enum_column(DestinationKind))
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_column=_enum_column(DeliveryStatus))
    message_id: str = Field(max_length=64, unique=True)  # webhook-id: the same on every attempt; unique,
    # deterministic per (run, invocation, destination): makes planning idempotent (invocation_id may be NULL)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_column=_time_column())
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=4000)
    last_attempt_at: datetime | None = Field(default=None, sa_column=_time_column())
    retry_until: datetime | None = Field(default=None, sa_column=_time_column())  # end of this attempt series
    location: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column(nullable=False))
    enqueued_at: datetime | None = Field(default=None, sa_column=_time_column())
    lease_expires_at: datetime | None = Field(default=None, sa_column=_time_column())
    finished_at: datetime | None = Field(default=None, sa_column=_time_column())
