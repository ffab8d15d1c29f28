"""run_invocation(s) against SQLite and a scripted InfluxDB (httpx.MockTransport): claim, limits,
outcomes; and batches: invocations claimed together, run in order, recorded together."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session

from app import constants
from app.db import get_engine
from app.models import Connection, Invocation, InvocationStatus, RunStatus
from app.settings import Settings, override_settings
from tests.worker.pipeline_support import (
    CSV_OK,
    T0,
    TOKEN,
    Clock,
    RecordingSender,
    ScriptedInflux,
    add_run,
    add_schedule,
    create_tables,
    error,
    error_tail,
    fake_limiter,
    get_invocation,
    get_run,
    invocations,
    make_deps,
    ok,
)
from worker.pipeline import runs
from worker.pipeline.fanout import fire_run
from worker.pipeline.invoke import Outcome, run_invocation, run_invocations
from worker.results import get_result_store


@pytest.fixture(autouse=True)
def tables(settings: Settings) -> None:
    create_tables()


@pytest.fixture
def influx() -> ScriptedInflux:
    return ScriptedInflux()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fanned_out(n: int = 1, **schedule: object) -> list[int]:
    run_id = add_run(add_schedule(matrix={"n": list(range(n))}, **schedule))  # type: ignore[arg-type]
    fire_run(run_id, send=RecordingSender())
    return [inv.id for inv in invocations(run_id) if inv.id is not None]


def test_a_success_records_the_result_and_its_size_rows_and_hash(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out()
    outcome = run_invocation(inv_id, make_deps(influx, tmp_path / "results", clock=clock))
    inv = get_invocation(inv_id)
    assert outcome is Outcome.SUCCEEDED
    assert (inv.status, inv.attempts, inv.last_http_status) == (InvocationStatus.SUCCEEDED, 1, 200)
    assert (inv.result_bytes, inv.result_rows) == (len(CSV_OK), 2)
    assert inv.result_sha256 == hashlib.sha256(CSV_OK).hexdigest()
    assert inv.result_location is not None
    with get_result_store(f"file://{tmp_path / 'results'}").open(inv.result_location) as f:
        assert f.read() == CSV_OK


def test_the_params_and_the_decrypted_token_are_sent(influx: ScriptedInflux, tmp_path: Path) -> None:
    (inv_id,) = fanned_out()
    run_invocation(inv_id, make_deps(influx, tmp_path))
    (request,) = influx.requests
    assert request.url.path == "/api/v2/scripts/0123456789abcdef/invoke"
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert influx.params_sent() == [{"n": 0}]


def test_the_last_success_ends_the_run_succeeded_and_plans_its_deliveries(
    influx: ScriptedInflux, tmp_path: Path
) -> None:
    ids = fanned_out(3)
    sender = RecordingSender()
    for inv_id in ids:
        run_invocation(inv_id, make_deps(influx, tmp_path, sender=sender))
    run = get_run(get_invocation(ids[0]).run_id)
    assert (run.status, run.succeeded, run.failed, run.total) == (RunStatus.SUCCEEDED, 3, 0, 3)
    assert run.finished_at is not None
    assert sender.ids(constants.TASK_DELIVER)  # the run's manifest at least


def test_a_run_with_some_failures_ends_partially_failed(influx: ScriptedInflux, tmp_path: Path) -> None:
    ids = fanned_out(3)
    influx.responses = [ok(), error(404, "script not found"), ok()]
    for inv_id in ids:
        run_invocation(inv_id, make_deps(influx, tmp_path))
    run = get_run(get_invocation(ids[0]).run_id)
    assert (run.status, run.succeeded, run.failed) == (RunStatus.PARTIALLY_FAILED, 2, 1)


def test_a_run_whose_invocations_all_fail_ends_failed(influx: ScriptedInflux, tmp_path: Path) -> None:
    ids = fanned_out(2)
    influx.responses = [error(400, "invalid parameters provided")] * 2
    for inv_id in ids:
        run_invocation(inv_id, make_deps(influx, tmp_path))
    run = get_run(get_invocation(ids[0]).run_id)
    assert (run.status, run.succeeded, run.failed) == (RunStatus.FAILED, 0, 2)


def test_a_finished_invocation_delivered_again_does_nothing(influx: ScriptedInflux, tmp_path: Path) -> None:
    (inv_id,) = fanned_out()
    deps = make_deps(influx, tmp_path)
    run_invocation(inv_id, deps)
    assert run_invocation(inv_id, deps) is Outcome.SKIPPED
    assert len(influx.requests) == 1
    assert get_run(get_invocation(inv_id).run_id).succeeded == 1


def set_invocation(inv_id: int, **values: object) -> None:
    with Session(get_engine()) as session:
        inv = session.get(Invocation, inv_id)
        assert inv is not None
        for key, value in values.items():
            setattr(inv, key, value)
        session.add(inv)
        session.commit()


def test_an_invocation_running_under_a_live_lease_is_left_alone(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out()
    set_invocation(inv_id, status=InvocationStatus.RUNNING, lease_expires_at=T0 + timedelta(seconds=5))
    assert run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock)) is Outcome.SKIPPED
    assert influx.requests == []


def test_an_invocation_whose_lease_passed_is_taken_over(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out()
    set_invocation(
        inv_id, status=InvocationStatus.RUNNING, attempts=1, lease_expires_at=T0 - timedelta(seconds=1)
    )
    assert run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock)) is Outcome.SUCCEEDED
    assert get_invocation(inv_id).attempts == 2


def test_a_waiting_invocation_is_not_run_before_it_is_due(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out()
    set_invocation(inv_id, status=InvocationStatus.WAITING, next_attempt_at=T0 + timedelta(seconds=30))
    assert run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock)) is Outcome.SKIPPED
    clock.advance(30)
    assert run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock)) is Outcome.SUCCEEDED


def test_a_failed_invocation_requeued_by_retry_failed_runs_again(
    influx: ScriptedInflux, tmp_path: Path
) -> None:
    (inv_id,) = fanned_out()
    influx.responses = [error(500, "boom")]
    run_invocation(inv_id, make_deps(influx, tmp_path))
    set_invocation(inv_id, status=InvocationStatus.QUEUED, next_attempt_at=None)
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.SUCCEEDED


def test_a_server_error_is_retried_later_with_backoff(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out(backoff_base_s=4.0, backoff_cap_s=60.0)
    influx.responses = [error(500, "internal failure")]
    assert run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock)) is Outcome.RETRY
    inv = get_invocation(inv_id)
    assert (inv.status, inv.attempts, inv.last_http_status) == (InvocationStatus.WAITING, 1, 500)
    assert inv.next_attempt_at == T0 + timedelta(seconds=3.0)  # half to all of 4 s; the fake draw is 0.5
    assert "internal failure" in (inv.error or "")


def test_a_retry_after_is_honoured_and_pauses_every_worker(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out()
    influx.responses = [error(429, "org over limit", retry_after=7)]
    limiter = fake_limiter(clock)
    run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock, limiter=limiter))
    inv = get_invocation(inv_id)
    assert inv.next_attempt_at == T0 + timedelta(seconds=7)
    assert inv.last_http_status == 429
    assert limiter.paused_for(1) == pytest.approx(7)  # the first connection in this database


def test_retries_stop_at_max_attempts_and_the_invocation_fails(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (inv_id,) = fanned_out(max_attempts=3)
    influx.responses = [error(503, "unavailable")] * 3
    outcomes = []
    for _ in range(3):
        outcomes.append(run_invocation(inv_id, make_deps(influx, tmp_path, clock=clock)))
        clock.advance(120)
    inv = get_invocation(inv_id)
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
    assert (inv.status, inv.attempts, inv.last_http_status) == (InvocationStatus.FAILED, 3, 503)


def test_a_permanent_error_fails_at_once_with_the_servers_message(
    influx: ScriptedInflux, tmp_path: Path
) -> None:
    (inv_id,) = fanned_out(max_attempts=5)
    influx.responses = [error(404, "script 0123456789abcdef not found")]
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.FAILED
    inv = get_invocation(inv_id)
    assert (inv.status, inv.attempts, inv.last_http_status) == (InvocationStatus.FAILED, 1, 404)
    assert "script 0123456789abcdef not found" in (inv.error or "")


def test_an_error_table_after_rows_fails_the_invocation(influx: ScriptedInflux, tmp_path: Path) -> None:
    (inv_id,) = fanned_out()
    influx.responses = [error_tail()]
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.FAILED
    inv = get_invocation(inv_id)
    assert "division by zero" in (inv.error or "")
    assert inv.result_location is None
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_dropped_connection_is_retried(influx: ScriptedInflux, tmp_path: Path) -> None:
    (inv_id,) = fanned_out()

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    influx.responses = [drop]
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.RETRY
    assert get_invocation(inv_id).last_http_status is None


def test_a_long_rate_limit_wait_defers_without_calling_or_counting_an_attempt(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (first, second) = fanned_out(2, rate_per_s=0.2, burst=1)
    limiter = fake_limiter(clock)
    deps = make_deps(influx, tmp_path, clock=clock, limiter=limiter)
    assert run_invocation(first, deps) is Outcome.SUCCEEDED
    assert run_invocation(second, deps) is Outcome.RATE_LIMITED
    inv = get_invocation(second)
    assert (inv.status, inv.attempts) == (InvocationStatus.WAITING, 0)
    assert inv.next_attempt_at is not None
    assert inv.next_attempt_at > clock.now
    assert len(influx.requests) == 1


def test_a_short_rate_limit_wait_is_slept_in_the_task(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (first, second) = fanned_out(2, rate_per_s=4, burst=1)
    deps = make_deps(influx, tmp_path, clock=clock, limiter=fake_limiter(clock))
    run_invocation(first, deps)
    assert run_invocation(second, deps) is Outcome.SUCCEEDED
    assert sum(clock.slept) == pytest.approx(0.25)


def test_started_at_is_when_the_request_went_out_after_the_limiter(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    (first, second) = fanned_out(2, rate_per_s=4, burst=1)
    deps = make_deps(influx, tmp_path, clock=clock, limiter=fake_limiter(clock))
    run_invocation(first, deps)
    run_invocation(second, deps)
    assert get_invocation(second).started_at == T0 + timedelta(seconds=0.25)


def test_the_concurrency_slot_is_given_back_after_the_invoke(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    ids = fanned_out(3, max_concurrency=1)
    limiter = fake_limiter(clock)
    deps = make_deps(influx, tmp_path, clock=clock, limiter=limiter)
    assert [run_invocation(i, deps) for i in ids] == [Outcome.SUCCEEDED] * 3
    assert limiter.holders(1) == []


def test_the_token_never_appears_in_the_recorded_error_or_the_logs(
    influx: ScriptedInflux, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (inv_id,) = fanned_out()
    influx.responses = [error(401, "unauthorized access")]
    with caplog.at_level(logging.DEBUG):
        run_invocation(inv_id, make_deps(influx, tmp_path))
    assert TOKEN not in (get_invocation(inv_id).error or "")
    assert TOKEN not in caplog.text


def test_a_token_that_does_not_decrypt_fails_at_once_without_calling(
    influx: ScriptedInflux, tmp_path: Path
) -> None:
    (inv_id,) = fanned_out(max_attempts=5)
    with Session(get_engine()) as session:
        conn = session.get(Connection, 1)
        assert conn is not None
        conn.token_encrypted = "not-a-fernet-token"
        session.add(conn)
        session.commit()
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.FAILED
    inv = get_invocation(inv_id)
    assert (inv.attempts, influx.requests) == (1, [])
    assert "does not decrypt" in (inv.error or "")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("url", "ftp://influx.test", "base_url"), ("url", "not a url", "base_url"), ("token", "", "token")],
)
def test_a_connection_the_client_refuses_fails_at_once_naming_the_field(
    influx: ScriptedInflux, tmp_path: Path, field: str, value: str, named: str
) -> None:
    (inv_id,) = fanned_out(1, max_attempts=5, **{field: value})
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.FAILED
    inv = get_invocation(inv_id)
    assert (inv.status, inv.attempts, inv.next_attempt_at, influx.requests) == (
        InvocationStatus.FAILED,
        1,
        None,
        [],
    )
    assert "connection 'conn-sched' is not usable" in (inv.error or "")
    assert f"{named}:" in (inv.error or "")
    assert "internal error" not in (inv.error or "")
    assert get_run(inv.run_id).status is RunStatus.FAILED


def test_a_fault_while_planning_deliveries_does_not_undo_the_outcome(
    influx: ScriptedInflux, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (inv_id,) = fanned_out()

    def broken(_run_id: int) -> list[int]:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("worker.delivery.hooks.plan_run_deliveries", broken)
    assert run_invocation(inv_id, make_deps(influx, tmp_path)) is Outcome.SUCCEEDED
    assert get_run(get_invocation(inv_id).run_id).status is RunStatus.SUCCEEDED


# --- batches ----------------------------------------------------------------------------------------


def fanned_out_run(n: int, **schedule: object) -> tuple[int, list[int]]:
    run_id = add_run(add_schedule(matrix={"n": list(range(n))}, **schedule))  # type: ignore[arg-type]
    fire_run(run_id, send=RecordingSender())
    return run_id, [inv.id for inv in invocations(run_id) if inv.id is not None]


def test_a_batch_runs_every_invocation_and_ends_the_run_once(influx: ScriptedInflux, tmp_path: Path) -> None:
    run_id, ids = fanned_out_run(5)
    sender = RecordingSender()
    outcomes = run_invocations(ids, make_deps(influx, tmp_path, sender=sender))
    assert outcomes == dict.fromkeys(ids, Outcome.SUCCEEDED)
    assert [p["n"] for p in influx.params_sent()] == [0, 1, 2, 3, 4]  # in the message's order
    run = get_run(run_id)
    assert (run.status, run.succeeded, run.failed, run.total) == (RunStatus.SUCCEEDED, 5, 0, 5)
    assert all(inv.attempts == 1 and inv.result_location for inv in invocations(run_id))


def test_ids_not_claimable_or_unknown_are_skipped_and_the_rest_run(
    influx: ScriptedInflux, tmp_path: Path
) -> None:
    _run_id, ids = fanned_out_run(3)
    deps = make_deps(influx, tmp_path)
    assert run_invocations([ids[0]], deps) == {ids[0]: Outcome.SUCCEEDED}
    outcomes = run_invocations([ids[0], 999_999, ids[1], ids[1], ids[2]], deps)
    assert outcomes == {
        ids[0]: Outcome.SKIPPED,  # finished already: a message delivered again does nothing
        999_999: Outcome.SKIPPED,
        ids[1]: Outcome.SUCCEEDED,
        ids[2]: Outcome.SUCCEEDED,
    }
    assert len(influx.requests) == 3


def test_mixed_outcomes_in_one_batch_are_each_recorded(influx: ScriptedInflux, tmp_path: Path) -> None:
    run_id, ids = fanned_out_run(3, max_attempts=3)
    influx.responses = [ok(), error(404, "script not found"), error(500, "try later")]
    outcomes = run_invocations(ids, make_deps(influx, tmp_path))
    assert outcomes == {ids[0]: Outcome.SUCCEEDED, ids[1]: Outcome.FAILED, ids[2]: Outcome.RETRY}
    states = [(inv.status, inv.attempts, inv.last_http_status) for inv in invocations(run_id)]
    assert states == [
        (InvocationStatus.SUCCEEDED, 1, 200),
        (InvocationStatus.FAILED, 1, 404),
        (InvocationStatus.WAITING, 1, 500),
    ]
    run = get_run(run_id)
    assert (run.status, run.succeeded, run.failed) == (RunStatus.RUNNING, 1, 1)


def test_an_invocation_taken_by_another_worker_mid_batch_keeps_that_workers_outcome(
    influx: ScriptedInflux, tmp_path: Path
) -> None:
    run_id, ids = fanned_out_run(2)

    def steal_the_first_then_answer(request: httpx.Request) -> httpx.Response:
        # the first invocation ended but is not recorded yet: its lease passes and another worker takes it
        with Session(get_engine()) as session:
            session.execute(update(Invocation).where(Invocation.id == ids[0]).values(attempts=2))  # type: ignore[arg-type]
            session.commit()
        return ok()(request)

    influx.responses = [ok(), steal_the_first_then_answer]
    outcomes = run_invocations(ids, make_deps(influx, tmp_path))
    assert outcomes == {ids[0]: Outcome.LOST, ids[1]: Outcome.SUCCEEDED}
    first, second = get_invocation(ids[0]), get_invocation(ids[1])
    assert (first.status, first.attempts, first.result_location) == (InvocationStatus.RUNNING, 2, None)
    assert second.status is InvocationStatus.SUCCEEDED
    assert get_run(run_id).succeeded == 1  # the lost one is counted by the worker that holds it


def test_a_batch_past_its_budget_gives_the_rest_back_once_each(
    influx: ScriptedInflux, tmp_path: Path, settings: Settings
) -> None:
    run_id, ids = fanned_out_run(4)
    sender = RecordingSender()
    # a lease margin of 2 ms: the batch's budget (half of it) is over after its first invocation
    with override_settings(**{**settings.model_dump(), "invoke_lease_margin_s": 0.002}):
        outcomes = run_invocations(ids, make_deps(influx, tmp_path, sender=sender))
    assert outcomes == {ids[0]: Outcome.SUCCEEDED, **dict.fromkeys(ids[1:], Outcome.SKIPPED)}
    assert sender.ids(constants.TASK_INVOKE) == ids[1:]
    rest = [get_invocation(ident) for ident in ids[1:]]
    assert {(inv.status, inv.attempts, inv.lease_expires_at) for inv in rest} == {
        (InvocationStatus.QUEUED, 0, None)
    }
    assert all(inv.enqueued_at is not None for inv in rest)
    assert run_invocations(ids[1:], make_deps(influx, tmp_path)) == dict.fromkeys(ids[1:], Outcome.SUCCEEDED)
    assert get_run(run_id).status is RunStatus.SUCCEEDED


def test_a_batch_keeps_one_slot_for_its_requests_and_gives_it_back_at_the_end(
    influx: ScriptedInflux, tmp_path: Path, clock: Clock
) -> None:
    limiter = fake_limiter(clock)
    _run_id, ids = fanned_out_run(3, max_concurrency=1)
    seen: list[list[str]] = []

    def answer_while_holding(request: httpx.Request) -> httpx.Response:
        seen.append(limiter.holders(1))
        return ok()(request)

    influx.responses = [answer_while_holding] * 3
    outcomes = run_invocations(ids, make_deps(influx, tmp_path, clock=clock, limiter=limiter))
    assert outcomes == dict.fromkeys(ids, Outcome.SUCCEEDED)
    assert len(seen[0]) == 1  # one slot ...
    assert len({tuple(holders) for holders in seen}) == 1  # ... the same one for the whole batch
    assert limiter.holders(1) == []


def test_a_batch_told_to_wait_holds_no_slot(influx: ScriptedInflux, tmp_path: Path, clock: Clock) -> None:
    limiter = fake_limiter(clock)
    _run_id, ids = fanned_out_run(2, rate_per_s=0.1, burst=1, max_concurrency=1)
    outcomes = run_invocations(ids, make_deps(influx, tmp_path, clock=clock, limiter=limiter))
    assert outcomes == {ids[0]: Outcome.SUCCEEDED, ids[1]: Outcome.RATE_LIMITED}
    assert limiter.holders(1) == []
    assert get_invocation(ids[1]).status is InvocationStatus.WAITING


@pytest.fixture
def two_runs(settings: Settings) -> tuple[int, int, list[int]]:
    first, first_ids = fanned_out_run(2)
    second = add_run(add_schedule(matrix={"n": [0]}, name="other"))
    fire_run(second, send=RecordingSender())
    return first, second, first_ids + [inv.id for inv in invocations(second) if inv.id is not None]


def test_recording_endings_of_two_runs_counts_each_run_in_one_transaction(
    two_runs: tuple[int, int, list[int]], clock: Clock
) -> None:
    first, second, ids = two_runs
    with Session(get_engine()) as session:
        claims = runs.claim_invocations(session, ids, now=clock.now, lease_s=60)
        endings = [
            runs.Ending(
                claims[ids[0]], True, clock.now, location="file:///a", size_bytes=1, rows=1, sha256="a"
            ),
            runs.Ending(claims[ids[1]], False, clock.now, http_status=400, error="bad"),
            runs.Ending(
                claims[ids[2]], True, clock.now, location="file:///b", size_bytes=1, rows=1, sha256="b"
            ),
        ]
        finished = runs.record_endings(session, endings)
        session.commit()
    assert finished == {first: RunStatus.PARTIALLY_FAILED, second: RunStatus.SUCCEEDED}
    assert (get_run(first).succeeded, get_run(first).failed) == (1, 1)


def test_recording_a_batch_with_one_lost_claim_records_none_of_it(
    two_runs: tuple[int, int, list[int]], clock: Clock
) -> None:
    first, _second, ids = two_runs
    with Session(get_engine()) as session:
        claims = runs.claim_invocations(session, ids[:2], now=clock.now, lease_s=60)
        session.commit()
        stale = runs.Claim(ids[1], first, claims[ids[1]].attempt + 1)
        endings = [
            runs.Ending(
                claims[ids[0]], True, clock.now, location="file:///a", size_bytes=1, rows=1, sha256="a"
            ),
            runs.Ending(stale, True, clock.now, location="file:///b", size_bytes=1, rows=1, sha256="b"),
        ]
        with pytest.raises(runs.LostClaimError):
            runs.record_endings(session, endings)
        session.rollback()
    assert {inv.status for inv in invocations(first)} == {InvocationStatus.RUNNING}
    assert get_run(first).succeeded == 0


def test_a_long_batch_records_what_ended_before_starting_the_next(
    influx: ScriptedInflux, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "INVOKE_BATCH_FLUSH_S", 0.0)  # every invocation counts as long
    run_id, ids = fanned_out_run(3)
    seen: list[int] = []

    def answer_and_look(request: httpx.Request) -> httpx.Response:
        seen.append(get_run(run_id).succeeded)
        return ok()(request)

    influx.responses = [answer_and_look] * 3
    assert run_invocations(ids, make_deps(influx, tmp_path)) == dict.fromkeys(ids, Outcome.SUCCEEDED)
    assert seen == [0, 1, 2]  # each one recorded before the next began
    assert get_run(run_id).status is RunStatus.SUCCEEDED
