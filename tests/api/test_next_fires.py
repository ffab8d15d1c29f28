"""The next-fire preview (``GET /schedules/{id}/next``) across Europe/Berlin's changes, in both zones."""

from __future__ import annotations

from datetime import UTC, datetime

from app.models import Schedule
from app.services.schedules import next_fires


def preview(cron: str, now: datetime, count: int) -> list[tuple[str, str]]:
    schedule = Schedule(name="s", connection_id=1, script_id="x", cron=cron, timezone="Europe/Berlin")
    out = next_fires(schedule, count, now=now)
    return [(f.utc.isoformat(), f.local.isoformat()) for f in out.fires]


def test_preview_of_0230_across_the_spring_change() -> None:
    assert preview("30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=UTC), 2) == [
        ("2026-03-29T01:00:00+00:00", "2026-03-29T03:00:00+02:00"),  # skipped time: once, at 03:00 CEST
        ("2026-03-30T00:30:00+00:00", "2026-03-30T02:30:00+02:00"),
    ]


def test_preview_of_0230_across_the_autumn_change() -> None:
    assert preview("30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=UTC), 2) == [
        ("2026-10-25T00:30:00+00:00", "2026-10-25T02:30:00+02:00"),  # repeated time: first occurrence only
        ("2026-10-26T01:30:00+00:00", "2026-10-26T02:30:00+01:00"),
    ]


def test_preview_of_hourly_across_the_spring_change() -> None:
    assert preview("0 * * * *", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), 3) == [
        ("2026-03-29T00:00:00+00:00", "2026-03-29T01:00:00+01:00"),
        ("2026-03-29T01:00:00+00:00", "2026-03-29T03:00:00+02:00"),
        ("2026-03-29T02:00:00+00:00", "2026-03-29T04:00:00+02:00"),
    ]


def test_preview_of_hourly_across_the_autumn_change() -> None:
    assert preview("0 * * * *", datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 3) == [
        ("2026-10-25T00:00:00+00:00", "2026-10-25T02:00:00+02:00"),
        ("2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+01:00"),
        ("2026-10-25T02:00:00+00:00", "2026-10-25T03:00:00+01:00"),
    ]
