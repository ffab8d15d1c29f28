"""Schedules: create, change (partially), delete, pause, resume, and when they fire next.

``next_fire_at`` is recomputed from *now* whenever the trigger, zone, bounds or enabled state change
(the first fire strictly after now; None when paused or when the trigger has no more fires).
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session, delete, select

from app.api.schemas.schedules import (
    NULLABLE_FIELDS,
    FireTime,
    NextFiresOut,
    ScheduleCreate,
    SchedulePublic,
    ScheduleUpdate,
)
from app.db import utcnow
from app.models import Connection, Delivery, Invocation, Run, Schedule
from app.params import ParamError, validate_param_sets
from app.services import destinations
from app.services.common import ensure_unique_name, get_or_404
from app.services.errors import InvalidInput
from app.settings import get_settings
from app.triggers import TriggerError, get_zone, iter_fire_times, next_fire_after, validate_trigger

RESOURCE = "schedule"
TRIGGER_FIELDS = frozenset({"cron", "interval_s", "at", "timezone", "start_at", "end_at", "enabled"})


def to_public(row: Schedule) -> SchedulePublic:
    data = row.model_dump(exclude={"destinations"})
    return SchedulePublic(**data, destinations=destinations.to_public(row.destinations))


def _check(values: dict[str, Any], session: Session) -> None:
    """The checks that involve several fields, settings or other rows."""
    try:
        validate_trigger(SimpleNamespace(**{k: values.get(k) for k in TRIGGER_FIELDS}))
    except TriggerError as exc:
        raise InvalidInput(exc.field, exc.message) from None
    try:
        validate_param_sets(values["params"], values["param_matrix"], max_sets=get_settings().max_param_sets)
    except ParamError as exc:
        raise InvalidInput(exc.field, exc.message) from None
    if values["backoff_cap_s"] < values["backoff_base_s"]:
        raise InvalidInput("backoff_cap_s", "must not be less than backoff_base_s")
    if session.get(Connection, values["connection_id"]) is None:
        raise InvalidInput("connection_id", f"connection {values['connection_id']} does not exist")


def compute_next_fire(row: Schedule, now: datetime | None = None) -> datetime | None:
    if not row.enabled:
        return None
    return next_fire_after(row, now or utcnow())


def create(session: Session, body: ScheduleCreate) -> Schedule:
    values = body.model_dump(exclude={"destinations"})
    _check(values, session)
    ensure_unique_name(session, Schedule, body.name, None, RESOURCE)
    stored = destinations.to_stored(body.destinations, [])
    row = Schedule(**values, destinations=stored)
    row.next_fire_at = compute_next_fire(row)
    session.add(row)
    session.flush()
    return row


def update(session: Session, ident: int, body: ScheduleUpdate) -> Schedule:
    row = get_or_404(session, Schedule, ident, RESOURCE)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"destinations"})
    for key, value in changes.items():
        if value is None and key not in NULLABLE_FIELDS:
            raise InvalidInput(key, "must not be null")
    # Giving one trigger kind replaces the others (a patch to ``interval_s`` drops the cron).
    trigger_given = [k for k in ("cron", "interval_s", "at") if changes.get(k) is not None]
    if trigger_given:
        for other in {"cron", "interval_s", "at"} - set(trigger_given):
            changes.setdefault(other, None)
    merged = {**row.model_dump(exclude={"destinations"}), **changes}
    _check(merged, session)
    if "name" in changes:
        ensure_unique_name(session, Schedule, changes["name"], row.id, RESOURCE)
    stored = None
    if "destinations" in body.model_fields_set:
        if body.destinations is None:
            raise InvalidInput("destinations", "must not be null (use [] for none)")
        stored = destinations.to_stored(body.destinations, row.destinations)
    for key, value in changes.items():
        setattr(row, key, value)
    if stored is not None:
        row.destinations = stored
    if TRIGGER_FIELDS & changes.keys():
        row.next_fire_at = compute_next_fire(row)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def set_enabled(session: Session, ident: int, enabled: bool) -> Schedule:
    """Pause (no next fire) or resume (next fire recomputed from now)."""
    row = get_or_404(session, Schedule, ident, RESOURCE)
    row.enabled = enabled
    row.next_fire_at = compute_next_fire(row)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete_schedule(session: Session, ident: int) -> None:
    """Delete a schedule with its runs, invocations and deliveries."""
    row = get_or_404(session, Schedule, ident, RESOURCE)
    run_ids = select(Run.id).where(Run.schedule_id == ident)
    session.exec(delete(Delivery).where(Delivery.run_id.in_(run_ids)))  # type: ignore[attr-defined]
    session.exec(delete(Invocation).where(Invocation.run_id.in_(run_ids)))  # type: ignore[attr-defined]
    session.exec(delete(Run).where(Run.schedule_id == ident))  # type: ignore[arg-type]
    session.delete(row)
    session.flush()


def next_fires(row: Schedule, count: int, now: datetime | None = None) -> NextFiresOut:
    zone = get_zone(row.timezone)
    fires = []
    for fire in iter_fire_times(row, now or utcnow()):
        fires.append(FireTime(utc=fire, local=fire.astimezone(zone)))
        if len(fires) >= count:
            break
    return NextFiresOut(timezone=row.timezone, fires=fires)
