"""Which fire times a due schedule gets runs for now: misfire policy, jitter, catch-up. Pure functions.

Vocabulary:

* a **nominal** fire time is one the trigger produces (``app.triggers.next_fire_after``); it is the
  run's ``scheduled_for`` and part of its unique key, and it bounds the run's window;
* the **due** time of a fire is its nominal time plus its jitter (a deterministic delay in
  ``[0, jitter_s)`` drawn from the schedule id and the nominal time). ``Schedule.next_fire_at`` holds
  the due time of the next fire, so the beat's indexed ``next_fire_at <= now`` query already waits
  out the jitter. The nominal time is recovered from it by :func:`nominal_fire_time`.

Misfire (a fire is *missed* when it is due more than ``MISFIRE_GRACE_S`` ago, e.g. after downtime):

* every on-time fire (due within the grace) fires, whatever the policy, in order;
* ``none``: missed fires are dropped;
* ``latest``: when no fire is on time, the latest missed fire within ``misfire_window_s`` fires once;
* ``all``: every missed fire within ``misfire_window_s`` fires (at most ``BEAT_CATCHUP_MAX_FIRES``
  per tick; the next tick goes on where this one stopped).

``last_fire_at`` only moves on a fire that gets a run, so a run's window (``last_fire_at`` ->
``scheduled_for``) after dropped fires covers the whole gap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app import constants
from app.models import MisfirePolicy
from app.triggers import TriggerSpec, fire_times_between, next_fire_after

_ONE_US = timedelta(microseconds=1)
_JITTER_SCAN_LIMIT = 10_000


class FireSpec(TriggerSpec, Protocol):
    """What planning a fire reads from a schedule (:class:`app.models.Schedule` has it all)."""

    @property
    def id(self) -> int | None: ...
    @property
    def jitter_s(self) -> float: ...
    @property
    def misfire(self) -> MisfirePolicy: ...
    @property
    def misfire_window_s(self) -> int: ...
    @property
    def next_fire_at(self) -> datetime | None: ...
    @property
    def last_fire_at(self) -> datetime | None: ...


def jitter_offset(schedule_id: int | None, nominal: datetime, jitter_s: float) -> timedelta:
    """The deterministic delay of one fire: uniform in ``[0, jitter_s)``, whole microseconds."""
    if jitter_s <= 0:
        return timedelta(0)
    stamp = round(nominal.timestamp() * 1_000_000)
    digest = hashlib.sha256(f"{schedule_id}:{stamp}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(microseconds=int(fraction * jitter_s * 1_000_000))


def due_time(schedule: FireSpec, nominal: datetime) -> datetime:
    """When the beat acts on the nominal fire ``nominal``: the nominal time plus its jitter."""
    return nominal + jitter_offset(schedule.id, nominal, schedule.jitter_s)


def nominal_fire_time(schedule: FireSpec) -> datetime | None:
    """The nominal fire time behind ``schedule.next_fire_at``.

    With jitter, ``next_fire_at`` is a due time written by the beat; the nominal time is the fire time
    within ``jitter_s`` before it whose due time matches exactly. When none matches, ``next_fire_at``
    was written by the API (a new or edited schedule) and is itself nominal.
    """
    due = schedule.next_fire_at
    if due is None or schedule.jitter_s <= 0:
        return due
    candidates = fire_times_between(
        schedule, due - timedelta(seconds=schedule.jitter_s), due, limit=_JITTER_SCAN_LIMIT
    )
    for nominal in candidates:
        if due_time(schedule, nominal) == due:
            return nominal
    return due


@dataclass(frozen=True)
class Fire:
    """One run to create: its nominal time, window, and due time (for the lag)."""

    scheduled_for: datetime
    window_start: datetime | None
    due_at: datetime


@dataclass(frozen=True)
class FirePlan:
    """What one tick does with one due schedule."""

    fires: list[Fire]
    next_fire_at: datetime | None  # the due time of the next fire (None: no more fires)
    last_fire_at: datetime | None
    dropped: int  # missed fires not run (misfire policy)


def _horizon_s(schedule: FireSpec, grace_s: float) -> float:
    if schedule.misfire is MisfirePolicy.NONE:
        return grace_s
    return max(float(schedule.misfire_window_s), grace_s)


def plan_fires(
    schedule: FireSpec,
    now: datetime,
    *,
    grace_s: float = constants.MISFIRE_GRACE_S,
    max_fires: int = constants.BEAT_CATCHUP_MAX_FIRES,
    max_scan: int = constants.BEAT_SCAN_MAX_FIRES,
) -> FirePlan:
    """The fires of ``schedule`` due at ``now`` under its misfire policy, and its next due time."""
    nominal = nominal_fire_time(schedule)
    if nominal is None:
        return FirePlan([], None, schedule.last_fire_at, 0)
    horizon = now - timedelta(seconds=_horizon_s(schedule, grace_s))
    on_time_from = now - timedelta(seconds=grace_s)

    dropped = 0
    current: datetime | None = nominal
    if due_time(schedule, nominal) < horizon:
        # Long downtime: jump over everything due before the horizon without visiting it.
        dropped = 1
        current = next_fire_after(schedule, horizon - timedelta(seconds=schedule.jitter_s) - _ONE_US)
        while current is not None and due_time(schedule, current) < horizon:
            current = next_fire_after(schedule, current)

    due: list[datetime] = []
    scanned = 0
    while current is not None and due_time(schedule, current) <= now and scanned < max_scan:
        if schedule.misfire is MisfirePolicy.ALL and len(due) >= max_fires:
            break
        due.append(current)
        scanned += 1
        current = next_fire_after(schedule, current)

    on_time = [t for t in due if due_time(schedule, t) >= on_time_from]
    missed = [t for t in due if due_time(schedule, t) < on_time_from]
    if schedule.misfire is MisfirePolicy.ALL:
        chosen = due
    elif schedule.misfire is MisfirePolicy.LATEST and not on_time and missed:
        chosen = missed[-1:]
    else:
        chosen = on_time
    dropped += len(due) - len(chosen)

    fires: list[Fire] = []
    previous = schedule.last_fire_at
    for scheduled_for in chosen:
        fires.append(Fire(scheduled_for, previous, due_time(schedule, scheduled_for)))
        previous = scheduled_for
    next_fire_at = due_time(schedule, current) if current is not None else None
    return FirePlan(fires, next_fire_at, previous, dropped)
