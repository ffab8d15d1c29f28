"""Runs and their invocations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models import InvocationStatus, RunKind, RunStatus


class RunPublic(BaseModel):
    id: int
    schedule_id: int
    kind: RunKind
    status: RunStatus
    scheduled_for: datetime
    window_start: datetime | None
    window_end: datetime | None
    total: int
    succeeded: int
    failed: int
    message: str
    created_at: datetime
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = Field(description="finished_at - started_at, once finished")


class RunDetail(RunPublic):
    counts: dict[InvocationStatus, int] = Field(description="Invocations by status")


class InvocationPublic(BaseModel):
    id: int
    run_id: int
    index: int
    params: dict[str, Any]
    params_hash: str
    status: InvocationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_http_status: int | None
    error: str | None
    result_bytes: int | None
    result_rows: int | None
    result_sha256: str | None
    result_url: str | None = Field(description="API path of the stored CSV, once there is one")
    started_at: datetime | None
    finished_at: datetime | None


class TriggerOut(BaseModel):
    run: RunPublic
    enqueued: bool = Field(description="Sent to the broker now (else the beat's sweep sends it)")


class RetryOut(BaseModel):
    run: RunPublic
    retried: int = Field(description="Failed invocations reset to run again")
    enqueued: int
