"""A delivery's state transitions, each one conditional SQL UPDATE (the database is the record).

A claim takes a QUEUED/PENDING row, a WAITING row that is due, or a RUNNING row whose lease passed;
``attempts`` after the claim fences the holder, so a worker whose lease passed cannot overwrite the
outcome of the one that took over. The first claim of an attempt series fixes ``retry_until``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, func, literal, or_, update
from sqlmodel import Session

from app.db import UTCDateTime
from app.models import Delivery, DeliveryStatus

ERROR_MAX_CHARS = 4000
DELIVERY = cast(Table, Delivery.__table__)  # type: ignore[attr-defined]
_d = DELIVERY.c


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    attempt: int
    retry_until: datetime


def claim(
    session: Session, delivery_id: int, *, now: datetime, lease_s: float, retry_period_s: float
) -> Claim | None:
    """Take the delivery for this worker, or None (changing nothing) if it is not claimable now."""
    stmt = (
        update(Delivery)
        .where(
            _d.id == delivery_id,
            or_(
                _d.status.in_((DeliveryStatus.PENDING, DeliveryStatus.QUEUED)),
                and_(
                    _d.status == DeliveryStatus.WAITING,
                    or_(_d.next_attempt_at.is_(None), _d.next_attempt_at <= now),
                ),
                and_(_d.status == DeliveryStatus.RUNNING, _d.lease_expires_at < now),
            ),
        )
        .values(
            status=DeliveryStatus.RUNNING,
            attempts=_d.attempts + 1,
            last_attempt_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
            next_attempt_at=None,
            retry_until=func.coalesce(
                _d.retry_until, literal(now + timedelta(seconds=retry_period_s), type_=UTCDateTime())
            ),
        )
        .returning(_d.attempts, _d.retry_until)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    retry_until: datetime = row[1]
    return Claim(delivery_id=delivery_id, attempt=int(row[0]), retry_until=retry_until)


def _held(held: Claim) -> ColumnElement[bool]:
    return and_(_d.id == held.delivery_id, _d.status == DeliveryStatus.RUNNING, _d.attempts == held.attempt)


def succeed(
    session: Session, held: Claim, *, now: datetime, status_code: int | None, location: str | None
) -> bool:
    """Record success; False if this holder had lost the delivery."""
    stmt = (
        update(Delivery)
        .where(_held(held))
        .values(
            status=DeliveryStatus.SUCCEEDED,
            last_status_code=status_code,
            last_error=None,
            location=location,
            finished_at=now,
            lease_expires_at=None,
        )
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def wait(session: Session, held: Claim, *, due: datetime, status_code: int | None, error: str) -> bool:
    """Put the delivery back as WAITING until ``due`` (the beat sends it then)."""
    stmt = (
        update(Delivery)
        .where(_held(held))
        .values(
            status=DeliveryStatus.WAITING,
            next_attempt_at=due,
            last_status_code=status_code,
            last_error=error[:ERROR_MAX_CHARS],
            lease_expires_at=None,
            enqueued_at=None,
        )
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def fail(session: Session, held: Claim, *, now: datetime, status_code: int | None, error: str) -> bool:
    """Record a final failure."""
    stmt = (
        update(Delivery)
        .where(_held(held))
        .values(
            status=DeliveryStatus.FAILED,
            last_status_code=status_code,
            last_error=error[:ERROR_MAX_CHARS],
            finished_at=now,
            lease_expires_at=None,
        )
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
