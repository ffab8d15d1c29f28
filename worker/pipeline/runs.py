"""State transitions of invocations and runs, each one conditional SQL UPDATE (the database is the record).

- A claim is a conditional UPDATE: only one worker wins an invocation; the number of attempts after the
  claim is the holder's fencing token, so a worker whose lease passed (and whose invocation was claimed
  again) can never record an outcome over the new holder's.
- Run counters are incremented in SQL (``succeeded = succeeded + 1``), never read-modify-write.
- A run finishes exactly once: the counter increment itself ends the run when it is the last one
  (``status = CASE WHEN status = 'running' AND succeeded + failed + 1 >= total THEN ... END``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, case, literal, or_, select, update
from sqlmodel import Session

from app.models import Invocation, InvocationStatus, Run, RunStatus

ERROR_MAX_CHARS = 4000
_PARTIAL = literal(RunStatus.PARTIALLY_FAILED.value)
CLAIMABLE = (InvocationStatus.PENDING, InvocationStatus.QUEUED)

_inv = Invocation.__table__.c  # type: ignore[attr-defined]
_run = Run.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claim:
    """A won claim: the invocation, its run, and the attempt number that fences this holder."""

    invocation_id: int
    run_id: int
    attempt: int


def claim_invocation(session: Session, invocation_id: int, *, now: datetime, lease_s: float) -> Claim | None:
    """Take an invocation for this worker: PENDING/QUEUED, WAITING and due, or RUNNING with a passed lease.

    Returns None (and changes nothing) when it is terminal, running under a live lease, or waiting and
    not yet due.
    """
    stmt = (
        update(Invocation)
        .where(
            _inv.id == invocation_id,
            or_(
                _inv.status.in_(CLAIMABLE),
                and_(
                    _inv.status == InvocationStatus.WAITING,
                    or_(_inv.next_attempt_at.is_(None), _inv.next_attempt_at <= now),
                ),
                and_(_inv.status == InvocationStatus.RUNNING, _inv.lease_expires_at < now),
            ),
        )
        .values(
            status=InvocationStatus.RUNNING,
            attempts=_inv.attempts + 1,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
            next_attempt_at=None,
        )
        .returning(_inv.run_id, _inv.attempts)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    return Claim(invocation_id=invocation_id, run_id=int(row[0]), attempt=int(row[1]))


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(
        _inv.id == claim.invocation_id,
        _inv.status == InvocationStatus.RUNNING,
        _inv.attempts == claim.attempt,
    )


def defer(
    session: Session,
    claim: Claim,
    *,
    due: datetime,
    refund_attempt: bool,
    status: int | None = None,
    error: str | None = None,
    started_at: datetime | None = None,
) -> bool:
    """Put a held invocation back as WAITING until ``due`` (a retry, or a rate-limit wait).

    ``refund_attempt``: the script was not called (a rate-limit wait), so the attempt does not count.
    """
    values: dict[str, object] = {
        "status": InvocationStatus.WAITING,
        "next_attempt_at": due,
        "lease_expires_at": None,
        "enqueued_at": None,
    }
    if refund_attempt:
        values["attempts"] = _inv.attempts - 1
    else:
        values["last_http_status"] = status
        values["error"] = _clip(error)
    if started_at is not None:
        values["started_at"] = started_at
    result = session.execute(update(Invocation).where(_held(claim)).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def succeed(
    session: Session,
    claim: Claim,
    *,
    now: datetime,
    location: str,
    size_bytes: int,
    rows: int,
    sha256: str,
    http_status: int = 200,
    started_at: datetime | None = None,
) -> RunStatus | None:
    """Record a success and count it on the run. Returns the run's final status if this ended the run.

    Returns None too when this holder lost the invocation (its lease passed and another worker took it).
    """
    result = session.execute(
        update(Invocation)
        .where(_held(claim))
        .values(
            status=InvocationStatus.SUCCEEDED,
            finished_at=now,
            lease_expires_at=None,
            next_attempt_at=None,
            last_http_status=http_status,
            error=None,
            result_location=location,
            result_bytes=size_bytes,
            result_rows=rows,
            result_sha256=sha256,
            **_started(started_at),
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LostClaimError(claim.invocation_id)
    return count_outcome(session, claim.run_id, succeeded=True, now=now)


def fail(
    session: Session,
    claim: Claim,
    *,
    now: datetime,
    status: int | None,
    error: str,
    started_at: datetime | None = None,
) -> RunStatus | None:
    """Record a final failure with the server's message; returns the run's end if this was it."""
    result = session.execute(
        update(Invocation)
        .where(_held(claim))
        .values(
            status=InvocationStatus.FAILED,
            finished_at=now,
            lease_expires_at=None,
            next_attempt_at=None,
            last_http_status=status,
            error=_clip(error),
            **_started(started_at),
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise LostClaimError(claim.invocation_id)
    return count_outcome(session, claim.run_id, succeeded=False, now=now)


def count_outcome(session: Session, run_id: int, *, succeeded: bool, now: datetime) -> RunStatus | None:
    """Count one ended invocation on its run and, if it was the last, end the run: one UPDATE.

    ``SET`` expressions read the row as it was before this statement, under the row lock, so of all
    the concurrent increments exactly one sees ``succeeded + failed + 1 >= total`` on a RUNNING run.
    Returns the run's final status when this call ended it, else None.
    """
    ends = and_(_run.status == RunStatus.RUNNING, _run.succeeded + _run.failed + 1 >= _run.total)
    if succeeded:
        counter = {"succeeded": _run.succeeded + 1}
        final = case((_run.failed == 0, literal(RunStatus.SUCCEEDED.value)), else_=_PARTIAL)
    else:
        counter = {"failed": _run.failed + 1}
        final = case((_run.succeeded == 0, literal(RunStatus.FAILED.value)), else_=_PARTIAL)
    row = session.execute(
        update(Run)
        .where(_run.id == run_id)
        .values(
            **counter,
            status=case((ends, final), else_=_run.status),
            finished_at=case(
                (ends, bindparam("ended_at", now, type_=_run.finished_at.type)), else_=_run.finished_at
            ),
        )
        .returning(_run.status, _run.succeeded, _run.failed, _run.total)
    ).first()
    if row is None:
        return None
    status = RunStatus(row[0])
    if status in RunStatus.TERMINAL and status is not RunStatus.SKIPPED and row[1] + row[2] == row[3]:
        return status
    return None


def run_status(session: Session, run_id: int) -> RunStatus | None:
    value = session.execute(select(_run.status).where(_run.id == run_id)).scalar()
    return None if value is None else RunStatus(value)


class LostClaimError(Exception):
    """Raised when a worker records an outcome for an invocation it no longer holds (its lease passed)."""

    def __init__(self, invocation_id: int) -> None:
        super().__init__(f"invocation {invocation_id} is no longer held by this worker")
        self.invocation_id = invocation_id


def _started(started_at: datetime | None) -> dict[str, datetime]:
    """``started_at`` moves from the claim to when the request went out (after the limiter let it)."""
    return {} if started_at is None else {"started_at": started_at}


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "…"
