"""When a schedule fires: cron (5 fields, or 6 with seconds first) in an IANA zone, a fixed interval, or
one instant, bounded by ``start_at`` / ``end_at``.

Cron expressions are parsed and matched by ``croniter`` (maintained, the de-facto Python cron library:
ranges, steps, lists, names, ``L`` and ``#``), but always on *naive local wall-clock* times, never on
aware datetimes, because croniter's own daylight-saving handling has known bugs. Mapping wall-clock
times to instants is done here with :mod:`zoneinfo` (IANA data from the system or the ``tzdata``
package), with these daylight-saving rules (the same as Vixie cron / cronie):

* Expressions whose hour field is ``*`` follow real time: a wall-clock time that does not exist (the
  spring change) is skipped, and a wall-clock time that occurs twice (the autumn change) fires at both
  occurrences. ``0 * * * *`` therefore fires once in every real hour, 23 times on the spring-change day
  and 25 times on the autumn-change day.
* Every other expression fires once per matching wall-clock time: a time inside the spring gap fires
  at the first valid instant after the gap (``30 2 * * *`` in Europe/Berlin fires at 03:00 CEST on the
  spring-change day, once, even when several skipped times collapse onto it), and a repeated time fires
  at its first occurrence only (``30 2 * * *`` fires at 02:30 CEST on the autumn-change day, never at
  02:30 CET too).

Intervals count real seconds from ``start_at`` (or the Unix epoch when there is none), so daylight
saving does not affect them. Every instant returned is an aware UTC ``datetime``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from app import constants

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# How far ahead an offset drop (the autumn change) can pull a wall-clock time back before ``after``.
_OFFSET_LOOKAHEAD = timedelta(hours=4)
_MAX_CANDIDATES = 200_000


class TriggerError(ValueError):
    """Raised when a trigger (cron expression, time zone, interval, instant or bounds) is invalid.

    ``field`` names the schedule field at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TriggerSpec(Protocol):
    """What a trigger is made of; :class:`app.models.Schedule` and the API payloads have these."""

    @property
    def cron(self) -> str | None: ...
    @property
    def interval_s(self) -> int | None: ...
    @property
    def at(self) -> datetime | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def start_at(self) -> datetime | None: ...
    @property
    def end_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class CronExpr:
    """A parsed cron expression: the 5- or 6-field text croniter reads, and how it treats DST."""

    text: str
    has_seconds: bool
    follows_real_time: bool  # hour field is "*": skip gaps, fire both occurrences of repeated times


@lru_cache(maxsize=1024)
def parse_cron(expression: str) -> CronExpr:
    """Validate a cron expression (5 fields, or 6 with seconds first, or an @alias)."""
    text = " ".join(expression.split())
    text = _ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) not in (5, 6):
        raise TriggerError(
            "cron", f"expected 5 fields (or 6 with seconds first), got {len(fields)}: {expression!r}"
        )
    has_seconds = len(fields) == 6
    if not croniter.is_valid(text, second_at_beginning=has_seconds):
        raise TriggerError("cron", f"not a valid cron expression: {expression!r}")
    hour = fields[2 if has_seconds else 1]
    return CronExpr(text=text, has_seconds=has_seconds, follows_real_time=hour in {"*", "*/1"})


@lru_cache(maxsize=512)
def get_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (e.g. ``Europe/Berlin``); TriggerError when unknown."""
    if not name or name != name.strip() or ".." in name or name.startswith("/"):
        raise TriggerError("timezone", f"unknown IANA time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TriggerError("timezone", f"unknown IANA time zone {name!r}") from None


def validate_trigger(spec: TriggerSpec) -> None:
    """Check a trigger's consistency; raise TriggerError naming the field at fault."""
    given = [name for name in ("cron", "interval_s", "at") if getattr(spec, name) is not None]
    if len(given) != 1:
        raise TriggerError(
            "trigger",
            "exactly one of cron, interval_s, at is required" + (f" (got {given})" if given else ""),
        )
    get_zone(spec.timezone)
    if spec.cron is not None:
        parse_cron(spec.cron)
    if spec.interval_s is not None and not (
        constants.MIN_INTERVAL_S <= spec.interval_s <= constants.MAX_INTERVAL_S
    ):
        raise TriggerError(
            "interval_s",
            f"must be between {constants.MIN_INTERVAL_S} and {constants.MAX_INTERVAL_S} seconds",
        )
    for name in ("at", "start_at", "end_at"):
        value = getattr(spec, name)
        if value is not None and value.tzinfo is None:
            raise TriggerError(name, "must carry a UTC offset (RFC 3339)")
    if spec.start_at is not None and spec.end_at is not None and spec.end_at <= spec.start_at:
        raise TriggerError("end_at", "must be after start_at")


def _utc(value: datetime, name: str = "after") -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _transition_in(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant in (low, high] whose offset equals ``high``'s (a gap's end), to the second."""
    target = high.astimezone(zone).utcoffset()
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def wall_to_instants(wall: datetime, zone: ZoneInfo, *, follows_real_time: bool) -> list[datetime]:
    """The UTC instants a naive wall-clock time fires at, under the DST rules of this module."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    exists = first.astimezone(zone).replace(tzinfo=None) == wall
    if exists:  # a repeated time: ``first`` is the earlier occurrence
        return [first, second] if follows_real_time else [first]
    if follows_real_time:  # inside the spring gap
        return []
    # Inside the gap: fold=1 reads it with the later offset (before the gap), fold=0 after it.
    low, high = min(first, second), max(first, second)
    return [_transition_in(zone, low, high)]


def _min_offset_ahead(zone: ZoneInfo, after: datetime) -> timedelta:
    now, later = after.astimezone(zone).utcoffset(), (after + _OFFSET_LOOKAHEAD).astimezone(zone).utcoffset()
    assert now is not None
    assert later is not None
    return min(now, later)


@lru_cache(maxsize=1024)
def _cron_template(expr: CronExpr) -> croniter:
    """A parsed croniter to copy (parsing dominates the cost of a lookup)."""
    return croniter(expr.text, _EPOCH.replace(tzinfo=None), second_at_beginning=expr.has_seconds)


def _cron_next(expr: CronExpr, zone: ZoneInfo, after: datetime) -> datetime | None:
    start = (after + _min_offset_ahead(zone, after)).replace(tzinfo=None, microsecond=0)
    walls = copy.copy(_cron_template(expr))
    walls.set_current(start, force=True)
    best: datetime | None = None
    for _ in range(_MAX_CANDIDATES):
        try:
            wall = walls.get_next(datetime)
        except (CroniterBadDateError, CroniterError):
            return best
        instants = wall_to_instants(wall, zone, follows_real_time=expr.follows_real_time)
        if best is not None and instants and min(instants) > best:
            return best
        for instant in instants:
            if instant > after and (best is None or instant < best):
                best = instant
    return best


def _interval_next(interval_s: int, anchor: datetime, after: datetime) -> datetime:
    if after < anchor:
        return anchor
    steps = int((after - anchor).total_seconds() // interval_s) + 1
    candidate = anchor + timedelta(seconds=steps * interval_s)
    while candidate <= after:  # float rounding on very large spans
        candidate += timedelta(seconds=interval_s)
    return candidate


def next_fire_after(schedule: TriggerSpec, after: datetime) -> datetime | None:
    """The first fire strictly after ``after``, in UTC, within start_at/end_at; None if there is none."""
    after = _utc(after)
    start_at = _utc(schedule.start_at, "start_at") if schedule.start_at else None
    end_at = _utc(schedule.end_at, "end_at") if schedule.end_at else None
    if start_at is not None and after < start_at:
        after = start_at - timedelta(microseconds=1)
    result: datetime | None
    if schedule.at is not None:
        at = _utc(schedule.at, "at")
        result = at if at > after and (start_at is None or at >= start_at) else None
    elif schedule.interval_s is not None:
        result = _interval_next(schedule.interval_s, start_at or _EPOCH, after)
    elif schedule.cron is not None:
        result = _cron_next(parse_cron(schedule.cron), get_zone(schedule.timezone), after)
    else:
        raise TriggerError("trigger", "exactly one of cron, interval_s, at is required")
    if result is None or (end_at is not None and result > end_at):
        return None
    return result


def iter_fire_times(schedule: TriggerSpec, after: datetime) -> Iterator[datetime]:
    """Every fire strictly after ``after``, in order (endless for cron and interval triggers)."""
    current: datetime | None = after
    while current is not None:
        current = next_fire_after(schedule, current)
        if current is not None:
            yield current


def fire_times_between(
    schedule: TriggerSpec, start: datetime, end: datetime, *, limit: int
) -> list[datetime]:
    """The fire times in (start, end], in order, at most ``limit`` of them."""
    end = _utc(end, "end")
    times: list[datetime] = []
    if limit <= 0:
        return times
    for fire in iter_fire_times(schedule, _utc(start, "start")):
        if fire > end:
            break
        times.append(fire)
        if len(times) >= limit:
            break
    return times
