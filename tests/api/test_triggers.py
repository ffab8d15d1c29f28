"""Fire times: cron in IANA zones across daylight-saving changes, intervals, one instant, bounds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.triggers import (
    TriggerError,
    fire_times_between,
    next_fire_after,
    parse_cron,
    validate_trigger,
    wall_to_instants,
)

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Spec:
    cron: str | None = None
    interval_s: int | None = None
    at: datetime | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold).astimezone(UTC)


def between(spec: Spec, start: datetime, end: datetime, limit: int = 10_000) -> list[datetime]:
    return fire_times_between(spec, start, end, limit=limit)


# --- cron basics -------------------------------------------------------------------------------


def test_cron_next_fire_is_strictly_after_the_given_instant() -> None:
    spec = Spec(cron="0 12 * * *")
    assert next_fire_after(spec, utc(2026, 1, 1, 12)) == utc(2026, 1, 2, 12)
    assert next_fire_after(spec, utc(2026, 1, 1, 11, 59, 59)) == utc(2026, 1, 1, 12)


def test_cron_is_read_in_the_schedule_time_zone() -> None:
    spec = Spec(cron="0 9 * * *", timezone="America/New_York")
    assert next_fire_after(spec, utc(2026, 1, 15)) == utc(2026, 1, 15, 14)
    assert next_fire_after(spec, utc(2026, 7, 15)) == utc(2026, 7, 15, 13)


def test_cron_six_fields_put_seconds_first() -> None:
    spec = Spec(cron="15 30 2 * * *")
    assert next_fire_after(spec, utc(2026, 1, 1)) == utc(2026, 1, 1, 2, 30, 15)


def test_cron_every_ten_seconds() -> None:
    spec = Spec(cron="*/10 * * * * *")
    assert between(spec, utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 30)) == [
        utc(2026, 1, 1, 0, 0, 10),
        utc(2026, 1, 1, 0, 0, 20),
        utc(2026, 1, 1, 0, 0, 30),
    ]


def test_cron_aliases_are_accepted() -> None:
    assert next_fire_after(Spec(cron="@daily"), utc(2026, 1, 1, 5)) == utc(2026, 1, 2)
    assert next_fire_after(Spec(cron="@hourly"), utc(2026, 1, 1, 5, 1)) == utc(2026, 1, 1, 6)


def test_cron_that_never_matches_has_no_next_fire() -> None:
    assert next_fire_after(Spec(cron="0 0 31 2 *"), utc(2026, 1, 1)) is None


@pytest.mark.parametrize(
    "expression",
    ["", "* * * *", "* * * * * * *", "61 * * * *", "* 24 * * *", "0 0 32 * *", "bogus", "H * * * *"],
)
def test_invalid_cron_expressions_are_refused_naming_the_field(expression: str) -> None:
    with pytest.raises(TriggerError) as info:
        parse_cron(expression)
    assert info.value.field == "cron"


def test_cron_parse_marks_only_a_star_hour_field_as_following_real_time() -> None:
    assert parse_cron("0 * * * *").follows_real_time
    assert parse_cron("0 0 * * * *").follows_real_time
    assert not parse_cron("30 2 * * *").follows_real_time
    assert not parse_cron("0 */2 * * *").follows_real_time


# --- daylight saving: Europe/Berlin, spring change 2026-03-29 02:00 CET -> 03:00 CEST ----------


def test_daily_cron_in_the_spring_gap_fires_once_at_the_first_valid_time() -> None:
    spec = Spec(cron="30 2 * * *", timezone="Europe/Berlin")
    fires = between(spec, utc(2026, 3, 27), utc(2026, 3, 31))
    assert fires == [
        berlin(2026, 3, 27, 2, 30),
        berlin(2026, 3, 28, 2, 30),
        berlin(2026, 3, 29, 3, 0),  # 02:30 does not exist: fires at 03:00 CEST (01:00 UTC)
        berlin(2026, 3, 30, 2, 30),
    ]
    assert fires[2] == utc(2026, 3, 29, 1)


def test_skipped_times_collapsing_onto_the_gap_end_fire_only_once() -> None:
    spec = Spec(cron="*/15 2 * * *", timezone="Europe/Berlin")
    fires = between(spec, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    assert fires == [utc(2026, 3, 29, 1)]


def test_hourly_cron_across_the_spring_change_fires_every_real_hour_once() -> None:
    spec = Spec(cron="0 * * * *", timezone="Europe/Berlin")
    day_start, day_end = berlin(2026, 3, 29), berlin(2026, 3, 30)
    fires = between(spec, day_start - timedelta(seconds=1), day_end - timedelta(seconds=1))
    assert len(fires) == 23
    assert fires == [day_start + timedelta(hours=h) for h in range(23)]


def test_next_fire_from_inside_the_spring_change_is_the_gap_end() -> None:
    spec = Spec(cron="30 2 * * *", timezone="Europe/Berlin")
    assert next_fire_after(spec, utc(2026, 3, 29, 0, 59)) == utc(2026, 3, 29, 1)
    assert next_fire_after(spec, utc(2026, 3, 29, 1)) == berlin(2026, 3, 30, 2, 30)


# --- daylight saving: Europe/Berlin, autumn change 2026-10-25 03:00 CEST -> 02:00 CET -----------


def test_daily_cron_at_a_repeated_time_fires_once_at_the_first_occurrence() -> None:
    spec = Spec(cron="30 2 * * *", timezone="Europe/Berlin")
    fires = between(spec, utc(2026, 10, 23), utc(2026, 10, 27))
    assert fires == [
        berlin(2026, 10, 23, 2, 30),
        berlin(2026, 10, 24, 2, 30),
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; never again at 02:30 CET (01:30 UTC)
        berlin(2026, 10, 26, 2, 30),
    ]


def test_no_second_fire_when_asked_from_between_the_two_occurrences() -> None:
    spec = Spec(cron="30 2 * * *", timezone="Europe/Berlin")
    assert next_fire_after(spec, utc(2026, 10, 25, 0, 30)) == berlin(2026, 10, 26, 2, 30)
    assert next_fire_after(spec, utc(2026, 10, 25, 1, 0)) == berlin(2026, 10, 26, 2, 30)


def test_hourly_cron_across_the_autumn_change_fires_every_real_hour_once() -> None:
    spec = Spec(cron="0 * * * *", timezone="Europe/Berlin")
    day_start, day_end = berlin(2026, 10, 25), berlin(2026, 10, 26)
    fires = between(spec, day_start - timedelta(seconds=1), day_end - timedelta(seconds=1))
    assert len(fires) == 25
    assert fires == [day_start + timedelta(hours=h) for h in range(25)]


def test_hourly_cron_asked_during_the_first_repeated_hour_gets_the_second_occurrence_next() -> None:
    spec = Spec(cron="0 * * * *", timezone="Europe/Berlin")
    assert next_fire_after(spec, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 1)  # 02:00 CET
    assert next_fire_after(spec, utc(2026, 10, 25, 1)) == utc(2026, 10, 25, 2)  # 03:00 CET


def test_every_fifteen_minutes_covers_both_repeated_hours() -> None:
    spec = Spec(cron="*/15 * * * *", timezone="Europe/Berlin")
    fires = between(spec, utc(2026, 10, 24, 23, 59), utc(2026, 10, 25, 2, 1))
    assert fires == [utc(2026, 10, 25, 0) + timedelta(minutes=15 * i) for i in range(9)]


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]
# Windows holding every 2026 change of these zones (Lord Howe shifts by 30 minutes).
DST_WINDOWS = [(utc(2026, 3, 1), utc(2026, 4, 10)), (utc(2026, 10, 1), utc(2026, 11, 5))]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("expression", ["*/20 * * * *", "30 2 * * *", "0 1-3 * * *", "0 0 * * * *"])
def test_fires_strictly_increase_and_never_repeat_across_changes(zone: str, expression: str) -> None:
    spec = Spec(cron=expression, timezone=zone)
    for start, end in DST_WINDOWS:
        fires = between(spec, start, end, limit=100_000)
        assert fires
        assert all(a < b for a, b in itertools.pairwise(fires))


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
def test_hourly_cron_fires_every_real_hour_exactly_once_over_a_year(zone: str) -> None:
    fires = between(Spec(cron="0 * * * *", timezone=zone), utc(2026, 1, 1), utc(2027, 1, 1), limit=100_000)
    hours = (utc(2027, 1, 1) - utc(2026, 1, 1)) // timedelta(hours=1)
    assert fires == [utc(2026, 1, 1, 1) + timedelta(hours=h) for h in range(hours)]


def test_fixed_time_cron_fires_exactly_once_every_local_day_of_a_year() -> None:
    spec = Spec(cron="30 2 * * *", timezone="Europe/Berlin")
    fires = between(spec, utc(2026, 1, 1), utc(2027, 1, 1))
    days = [f.astimezone(BERLIN).date() for f in fires]
    assert len(days) == len(set(days)) == 365


def test_wall_to_instants_maps_gap_and_fold_per_rule() -> None:
    gap, fold = datetime(2026, 3, 29, 2, 30), datetime(2026, 10, 25, 2, 30)
    assert wall_to_instants(gap, BERLIN, follows_real_time=False) == [utc(2026, 3, 29, 1)]
    assert wall_to_instants(gap, BERLIN, follows_real_time=True) == []
    assert wall_to_instants(fold, BERLIN, follows_real_time=False) == [utc(2026, 10, 25, 0, 30)]
    assert wall_to_instants(fold, BERLIN, follows_real_time=True) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 30),
    ]


# --- interval and one instant ------------------------------------------------------------------


def test_interval_counts_real_seconds_from_start_at() -> None:
    spec = Spec(interval_s=90, start_at=utc(2026, 1, 1, 0, 0, 5))
    assert next_fire_after(spec, utc(2025, 1, 1)) == utc(2026, 1, 1, 0, 0, 5)
    assert next_fire_after(spec, utc(2026, 1, 1, 0, 0, 5)) == utc(2026, 1, 1, 0, 1, 35)


def test_interval_without_start_is_aligned_to_the_epoch() -> None:
    assert next_fire_after(Spec(interval_s=3600), utc(2026, 1, 1, 10, 20)) == utc(2026, 1, 1, 11)


def test_interval_ignores_daylight_saving() -> None:
    spec = Spec(interval_s=3600, timezone="Europe/Berlin")
    fires = between(spec, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    assert fires == [utc(2026, 3, 29, h) for h in range(4)]


def test_at_fires_once_and_then_never() -> None:
    spec = Spec(at=utc(2026, 5, 1, 12))
    assert next_fire_after(spec, utc(2026, 1, 1)) == utc(2026, 5, 1, 12)
    assert next_fire_after(spec, utc(2026, 5, 1, 12)) is None


# --- bounds ------------------------------------------------------------------------------------


def test_no_fire_before_start_at_and_start_at_itself_fires() -> None:
    spec = Spec(cron="0 * * * *", start_at=utc(2026, 1, 1, 5))
    assert next_fire_after(spec, utc(2026, 1, 1)) == utc(2026, 1, 1, 5)


def test_no_fire_after_end_at() -> None:
    spec = Spec(cron="0 * * * *", end_at=utc(2026, 1, 1, 5))
    assert next_fire_after(spec, utc(2026, 1, 1, 4, 30)) == utc(2026, 1, 1, 5)
    assert next_fire_after(spec, utc(2026, 1, 1, 5)) is None


def test_fire_times_between_respects_the_limit_and_the_half_open_range() -> None:
    spec = Spec(cron="0 * * * *")
    assert between(spec, utc(2026, 1, 1), utc(2026, 1, 1, 3)) == [utc(2026, 1, 1, h) for h in (1, 2, 3)]
    assert between(spec, utc(2026, 1, 1), utc(2026, 1, 2), limit=2) == [
        utc(2026, 1, 1, 1),
        utc(2026, 1, 1, 2),
    ]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        next_fire_after(Spec(cron="0 * * * *"), datetime(2026, 1, 1))


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (Spec(), "trigger"),
        (Spec(cron="0 * * * *", interval_s=60), "trigger"),
        (Spec(cron="0 * * * *", timezone="Mars/Olympus"), "timezone"),
        (Spec(cron="0 * * * *", timezone="../etc/passwd"), "timezone"),
        (Spec(interval_s=0), "interval_s"),
        (Spec(interval_s=366 * 86400 + 1), "interval_s"),
        (Spec(at=datetime(2026, 1, 1)), "at"),
        (Spec(cron="0 * * * *", start_at=utc(2026, 2, 1), end_at=utc(2026, 1, 1)), "end_at"),
        (Spec(cron="0 * * *"), "cron"),
    ],
)
def test_validate_trigger_names_the_field_at_fault(spec: Spec, field: str) -> None:
    with pytest.raises(TriggerError) as info:
        validate_trigger(spec)
    assert info.value.field == field


def test_validate_trigger_accepts_interval_bounds() -> None:
    validate_trigger(Spec(interval_s=1))
    validate_trigger(Spec(interval_s=366 * 86400))
