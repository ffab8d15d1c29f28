"""State transitions of invocations and runs, each one conditional SQL UPDATE (the database is the record).

- A claim is a conditional UPDATE: only one worker wins an invocation; the number of attempts after the
  claim is the holder's fencing token, so a worker whose lease passed (and whose invocation was claimed
  again) can never record an outcome over the new holder's.
- Run counters are incremented in SQL (``succeeded = succeeded + 1``), never read-modify-write.
- A run finishes exactly once: the counter increment itself ends the run when it is the last one
  (``status = CASE WHEN status = 'running' AND succeeded + failed + n >= total THEN ... END``).
- A batch claims its invocations in one statement and records the ones that ended in one transaction:
  one executemany of the fenced outcome UPDATE and one counter UPDATE per run. If any of them is no
  longer held, nothing of that transaction stays, and the caller records them one by one.
- The hot statements (claim, outcome, count) are built once at import, with bind parameters, and run
  on the session's Core connection: no statement building, cache-key hashing or ORM bulk-update
  machinery per invoke (that was most of an invoke's CPU time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, literal, or_, tuple_, update
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
        _inv.id.in_(bindparam("p_ids", expanding=True)),
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
    .returning(_inv.id, _inv.run_id, _inv.attempts)
)


def claim_invocations(
    session: Session, invocation_ids: Sequence[int], *, now: datetime, lease_s: float
) -> dict[int, Claim]:
    """Take invocations for this worker, in one statement: PENDING/QUEUED, WAITING and due, or RUNNING
    with a passed lease. The ones not claimable (terminal, running under a live lease, waiting and not
    yet due) are left unchanged and absent from the answer."""
    if not invocation_ids:
        return {}
    rows = session.connection().execute(
        _CLAIM,
        {"p_ids": list(invocation_ids), "p_now": now, "p_lease_until": now + timedelta(seconds=lease_s)},
    )
    return {int(row[0]): Claim(int(row[0]), int(row[1]), int(row[2])) for row in rows}


_RELEASE = (
    update(_INV_TABLE)
    .where(
        tuple_(_inv.id, _inv.attempts).in_(bindparam("p_held", expanding=True)),
        _inv.status == InvocationStatus.RUNNING,
    )
    .values(
        status=InvocationStatus.QUEUED,
        attempts=_inv.attempts - 1,
        started_at=None,
        lease_expires_at=None,
        enqueued_at=_time_param("p_now"),
    )
    .returning(_inv.id)
)


def release_claims(session: Session, claims: Sequence[Claim], *, now: datetime) -> list[int]:
    """Give back held invocations that were never started (attempt refunded), QUEUED as sent ``now``.

    Returns the ids given back (the caller sends them again); one no longer held is left alone.
    """
    if not claims:
        return []
    held = [(claim.invocation_id, claim.attempt) for claim in claims]
    rows = session.connection().execute(_RELEASE, {"p_held": held, "p_now": now})
    return sorted(int(row[0]) for row in rows)


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


@dataclass(frozen=True)
class Ending:
    """How a held invocation ended: succeeded with its stored result, or failed with the server's word."""

    claim: Claim
    succeeded: bool
    now: datetime
    started_at: datetime | None = None
    http_status: int | None = None
    location: str | None = None
    size_bytes: int | None = None
    rows: int | None = None
    sha256: str | None = None
    error: str | None = None

    def parameters(self) -> dict[str, Any]:
        common = {
            "p_id": self.claim.invocation_id,
            "p_attempt": self.claim.attempt,
            "p_now": self.now,
            "p_http_status": self.http_status,
            "p_started": self.started_at,
        }
        if not self.succeeded:
            return {**common, "p_error": _clip(self.error)}
        return {
            **common,
            "p_location": self.location,
            "p_bytes": self.size_bytes,
            "p_rows": self.rows,
            "p_sha256": self.sha256,
        }


def record_endings(session: Session, endings: Sequence[Ending]) -> dict[int, RunStatus]:
    """Record ended invocations and count them on their runs; returns the runs this ended (final status).

    Each outcome UPDATE is fenced by its claim. Raises LostClaimError when any of them is no longer
    held: the caller's transaction then rolls back whole, and the caller records them one at a time.
    """
    if not endings:
        return {}
    conn = session.connection()
    ordered = sorted(endings, key=lambda ending: ending.claim.invocation_id)
    for ok, statement in ((True, _SUCCEED), (False, _FAIL)):
        batch = [ending.parameters() for ending in ordered if ending.succeeded is ok]
        if batch and conn.execute(statement, batch).rowcount != len(batch):
            lost = next(ending for ending in ordered if ending.succeeded is ok)
            raise LostClaimError(lost.claim.invocation_id)
    succeeded = Counter(ending.claim.run_id for ending in ordered if ending.succeeded)
    failed = Counter(ending.claim.run_id for ending in ordered if not ending.succeeded)
    now = max(ending.now for ending in ordered)
    finished: dict[int, RunStatus] = {}
    for run_id in sorted(succeeded.keys() | failed.keys()):  # one lock order for every worker
        final = count_outcomes(session, run_id, succeeded=succeeded[run_id], failed=failed[run_id], now=now)
        if final is not None:
            finished[run_id] = final
    return finished


_P_SUCCEEDED = bindparam("p_succeeded", type_=_run.succeeded.type)
_P_FAILED = bindparam("p_failed", type_=_run.failed.type)
_ENDS = and_(
    _run.status == RunStatus.RUNNING, _run.succeeded + _run.failed + _P_SUCCEEDED + _P_FAILED >= _run.total
)
_FINAL = case(
    (_run.failed + _P_FAILED == 0, literal(RunStatus.SUCCEEDED.value)),
    (_run.succeeded + _P_SUCCEEDED == 0, literal(RunStatus.FAILED.value)),
    else_=_PARTIAL,
)
# ``UPDATE run``: n more succeeded and m more failed and, when they are the last, the run's end.
_COUNT = (
    update(_RUN_TABLE)
    .where(_run.id == bindparam("p_run_id"))
    .values(
        succeeded=_run.succeeded + _P_SUCCEEDED,
        failed=_run.failed + _P_FAILED,
        status=case((_ENDS, _FINAL), else_=_run.status),
        finished_at=case((_ENDS, bindparam("ended_at", type_=_run.finished_at.type)), else_=_run.finished_at),
    )
    .returning(_run.status, _run.succeeded, _run.failed, _run.total)
)


def count_outcomes(
    session: Session, run_id: int, *, succeeded: int, failed: int, now: datetime
) -> RunStatus | None:
    """Count ended invocations on their run and, if they were the last, end the run: one UPDATE.

    ``SET`` expressions read the row as it was before this statement, under the row lock, so of all
    the concurrent increments exactly one sees ``succeeded + failed + n >= total`` on a RUNNING run.
    Returns the run's final status when this call ended it, else None.
    """
    row = (
        session.connection()
        .execute(_COUNT, {"p_run_id": run_id, "p_succeeded": succeeded, "p_failed": failed, "ended_at": now})
        .first()
    )
    if row is None:
        return None
    status = RunStatus(row[0])
    if status in RunStatus.TERMINAL and status is not RunStatus.SKIPPED and row[1] + row[2] == row[3]:
        return status
    return None


class LostClaimError(Exception):
    """Raised when a worker records an outcome for an invocation it no longer holds (its lease passed)."""

    def __init__(self, invocation_id: int) -> None:
        super().__init__(f"invocation {invocation_id} is no longer held by this worker")
        self.invocation_id = invocation_id


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "…"
