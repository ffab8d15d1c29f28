"""Run completion on real PostgreSQL under concurrency: the counts are exact and exactly one of the
concurrent last outcomes ends the run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, SQLModel, select

from app.db import make_engine, session_scope
from app.models import Connection, Invocation, InvocationStatus, Run, RunStatus, Schedule
from app.params import params_hash
from tests.support.services import postgres_database
from worker.pipeline import runs
from worker.pipeline.fanout import insert_invocations

pytestmark = pytest.mark.integration

N = 40


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    with postgres_database() as url:
        engine = make_engine(url, pool_size=N, max_overflow=0)
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()


def running_run(engine: object, n: int) -> tuple[int, list[int]]:
    now = datetime.now(UTC)
    with Session(engine) as session:  # type: ignore[arg-type]
        conn = Connection(name=f"c{now.timestamp()}", url="http://x", token_encrypted="x")
        session.add(conn)
        session.flush()
        schedule = Schedule(name=f"s{now.timestamp()}", connection_id=conn.id, script_id="x", interval_s=60)  # type: ignore[arg-type]
        session.add(schedule)
        session.flush()
        run = Run(schedule_id=schedule.id, scheduled_for=now, status=RunStatus.RUNNING, total=n)  # type: ignore[arg-type]
        session.add(run)
        session.flush()
        invs = [
            Invocation(run_id=run.id, index=i, params={}, params_hash="h", status=InvocationStatus.QUEUED)
            for i in range(n)
        ]  # type: ignore[arg-type]
        session.add_all(invs)
        session.commit()
        return run.id, [i.id for i in invs]  # type: ignore[misc]


def concurrently(engine: object, ids: list[int], outcome: object) -> list[RunStatus | None]:
    results: list[RunStatus | None] = []
    barrier = threading.Barrier(len(ids))
    lock = threading.Lock()

    def one(inv_id: int, index: int) -> None:
        now = datetime.now(UTC)
        with session_scope(engine) as session:  # type: ignore[arg-type]
            claim = runs.claim_invocations(session, [inv_id], now=now, lease_s=60).get(inv_id)
        assert claim is not None
        barrier.wait()
        with session_scope(engine) as session:  # type: ignore[arg-type]
            final = outcome(session, claim, now, index)  # type: ignore[operator]
        with lock:
            results.append(final)

    threads = [threading.Thread(target=one, args=(inv_id, i)) for i, inv_id in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def record(session: Session, claim: runs.Claim, now: datetime, index: int) -> RunStatus | None:
    if index % 4 == 0:
        ending = runs.Ending(claim, False, now, http_status=404, error="not found")
    else:
        ending = runs.Ending(claim, True, now, location="file:///x", size_bytes=1, rows=1, sha256="0")
    return runs.record_endings(session, [ending]).get(claim.run_id)


def test_concurrent_last_outcomes_end_the_run_exactly_once_with_exact_counts(engine: object) -> None:
    run_id, ids = running_run(engine, N)
    results = concurrently(engine, ids, record)
    ended = [r for r in results if r is not None]
    with Session(engine) as session:  # type: ignore[arg-type]
        run = session.get(Run, run_id)
    assert run is not None
    assert ended == [RunStatus.PARTIALLY_FAILED]
    assert (run.status, run.succeeded, run.failed, run.total) == (RunStatus.PARTIALLY_FAILED, 30, 10, N)
    assert run.finished_at is not None


def test_a_concurrent_claim_is_won_by_one_worker_only(engine: object) -> None:
    _run_id, (inv_id,) = running_run(engine, 1)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        with session_scope(engine) as session:  # type: ignore[arg-type]
            wins.append(bool(runs.claim_invocations(session, [inv_id], now=datetime.now(UTC), lease_s=60)))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(wins) == [False] * 7 + [True]


def test_inserting_invocations_on_postgresql_keeps_params_and_is_idempotent(engine: object) -> None:
    run_id, _ids = running_run(engine, 0)
    sets = [{"host": f"h{i}", "n": i, "ratio": i / 4, "on": i % 2 == 0, "none": None} for i in range(25)]
    sets.append({"nested": {"a": [1, "x"]}, "text": "quote ' and \" and , too"})
    with session_scope(engine) as session:  # type: ignore[arg-type]
        assert insert_invocations(session, run_id, sets) == len(sets)
    with session_scope(engine) as session:  # type: ignore[arg-type]
        assert insert_invocations(session, run_id, [*sets, {"late": 1}]) == 1  # only the new one
    with Session(engine) as session:  # type: ignore[arg-type]
        rows = session.exec(
            select(Invocation).where(Invocation.run_id == run_id).order_by(Invocation.index)  # type: ignore[arg-type]
        ).all()
    assert [row.params for row in rows] == [*sets, {"late": 1}]
    assert [row.index for row in rows] == list(range(len(sets) + 1))
    assert {row.status for row in rows} == {InvocationStatus.PENDING}
    assert [row.params_hash for row in rows] == [params_hash(p) for p in [*sets, {"late": 1}]]
