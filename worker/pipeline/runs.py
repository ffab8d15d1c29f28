"""State transitions of invocations and runs, each one conditional SQL UPDATE (the database is the record).

- A claim is a conditional UPDATE: only one worker wins an invocation; the number of attempts after the
  claim is the holder's fencing token, so a worker whose lease passed (and whose invocation was claimed
  again) can never record an outcome over the new holder's.
- Run counters are incremented in SQL (``succeeded = succeeded + 1``), never read-modify-write.
- A run finishes exactly once: the counter increment itself ends the run when it is the last one
  (``status = CASE WHEN status = 'running' AND succeeded + failed + 1 >= total THEN ... END``).
- The hot statements (claim, outcome, count) are built once at import, with bind parameters, and run
  on the session's Core connection: no statement building, cache-key hashing or ORM bulk-update
  machinery per invoke (that was most of an invoke's CPU time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, literal, or_, select, update
from sqlmodel import Session

from app.models import Invocation, InvocationStatus, Run, RunStatus

ERROR_MAX_CHARS = 4000
_PARTIAL = literal(RunStatus.PARTIALLY_FAILED.value)
CLAIMABLE = (InvocationStatus.PENDING, InvocationStatus.QUEUED)

_INV_TABLE = Invocation.__table__  # type: ignore[attr-defined]
_RUN_TABLE = Run.__table__  # type: ignore[attr-defined]
_inv = _INV_TABLE.c
_run = _RUN_TABLE.c


def _time_param(name: str) -> Any:
    return bindparam(name, type_=_inv.started_at.type)


@dataclass(frozen=True)
class Claim:
    """A won claim: the invocation, its run, and the attempt number that fences this holder."""

    invocation_id: int
    run_id: int
    attempt: int


_CLAIM = (
    update(_INV_TABLE)
    .where(
        _inv.id == bindparam("p_id"),
        or_(
            _inv.status.in_(CLAIMABLE),
            and_(
                _inv.status == InvocationStatus.WAITING,
                or_(_inv.next_attempt_at.is_(None), _inv.next_attempt_at <= _time_param("p_now")),
            ),
            and_(_inv.status == InvocationStatus.RUNNING, _inv.lease_expires_at < _time_param("p_now")),
        ),
    )
    .values(
        status=InvocationStatus.RUNNING,
        attempts=_inv.attempts + 1,
        started_at=_time_param("p_now"),
        lease_expires_at=_time_param("p_lease_until"),
        next_attempt_at=None,
    )
    .returning(_inv.run_id, _inv.attempts)
)


def claim_invocation(session: Session, invocation_id: int, *, now: datetime, lease_s: float) -> Claim | None:
    """Take an invocation for this worker: PENDING/QUEUED, WAITING and due, or RUNNING with a passed lease.

    Returns None (and changes nothing) when it is terminal, running under a live lease, or waiting and
    not yet due.
    """
    row = (
        session.connection()
        .execute(
            _CLAIM,
            {"p_id": invocation_id, "p_now": now, "p_lease_until": now + timedelta(seconds=lease_s)},
        )
        .first()
    )
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


def _held_params() -> ColumnElement[bool]:
    return and_(
        _inv.id == bindparam("p_id"),
        _inv.status == InvocationStatus.RUNNING,
        _inv.attempts == bindparam("p_attempt"),
    )


_ENDED_VALUES: dict[str, Any] = {
    "finished_at": _time_param("p_now"),
    "lease_expires_at": None,
    "next_attempt_at": None,
    "last_http_status": bindparam("p_http_status", type_=_inv.last_http_status.type),
    # ``started_at`` moves from the claim to when the request went out (after the limiter let it)
    "started_at": func.coalesce(_time_param("p_started"), _inv.started_at),
}
_SUCCEED = (
    update(_INV_TABLE)
    .where(_held_params())
    .values(
        status=InvocationStatus.SUCCEEDED,
        error=None,
        result_location=bindparam("p_location", type_=_inv.result_location.type),
        result_bytes=bindparam("p_bytes", type_=_inv.result_bytes.type),
        result_rows=bindparam("p_rows", type_=_inv.result_rows.type),
        result_sha256=bindparam("p_sha256", type_=_inv.result_sha256.type),
        **_ENDED_VALUES,
    )
)
_FAIL = (
    update(_INV_TABLE)
    .where(_held_params())
    .values(
        status=InvocationStatus.FAILED,
        error=bindparam("p_error", type_=_inv.error.type),
        **_ENDED_VALUES,
    )
)


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

    Raises LostClaimError (changing nothing) when this holder lost the invocation (its lease passed
    and another worker took it).
    """
    result = session.connection().execute(
        _SUCCEED,
        {
            "p_id": claim.invocation_id,
            "p_attempt": claim.attempt,
            "p_now": now,
            "p_http_status": http_status,
            "p_started": started_at,
            "p_location": location,
            "p_bytes": size_bytes,
            "p_rows": rows,
            "p_sha256": sha256,
        },
    )
    if not result.rowcount:
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
    result = session.connection().execute(
        _FAIL,
        {
            "p_id": claim.invocation_id,
            "p_attempt": claim.attempt,
            "p_now": now,
            "p_http_status": status,
            "p_started": started_at,
            "p_error": _clip(error),
        },
    )
    if not result.rowcount:
        raise LostClaimError(claim.invocation_id)
    return count_outcome(session, claim.run_id, succeeded=False, now=now)


def _count_statement(succeeded: bool) -> Any:
    """``UPDATE run``: one more succeeded (or failed) and, when it is the last, the run's end."""
    ends = and_(_run.status == RunStatus.RUNNING, _run.succeeded + _run.failed + 1 >= _run.total)
    if succeeded:
        counter = {"succeeded": _run.succeeded + 1}
        final = case((_run.failed == 0, literal(RunStatus.SUCCEEDED.value)), else_=_PARTIAL)
    else:
        counter = {"failed": _run.failed + 1}
        final = case((_run.succeeded == 0, literal(RunStatus.FAILED.value)), else_=_PARTIAL)
    return (
        update(_RUN_TABLE)
        .where(_run.id == bindparam("p_run_id"))
        .values(
            **counter,
            status=case((ends, final), else_=_run.status),
            finished_at=case(
                (ends, bindparam("ended_at", type_=_run.finished_at.type)), else_=_run.finished_at
            ),
        )
        .returning(_run.status, _run.succeeded, _run.failed, _run.total)
    )


_COUNT = {True: _count_statement(True), False: _count_statement(False)}


def count_outcome(session: Session, run_id: int, *, succeeded: bool, now: datetime) -> RunStatus | None:
    """Count one ended invocation on its run and, if it was the last, end the run: one UPDATE.

    ``SET`` expressions read the row as it was before this statement, under the row lock, so of all
    the concurrent increments exactly one sees ``succeeded + failed + 1 >= total`` on a RUNNING run.
    Returns the run's final status when this call ended it, else None.
    """
    row = session.connection().execute(_COUNT[succeeded], {"p_run_id": run_id, "ended_at": now}).first()
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
