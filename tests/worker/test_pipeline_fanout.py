"""fire_run: expands a run's parameter sets into invocation rows, in bulk, and sends them in batches."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from app import constants
from app.db import get_engine
from app.models import InvocationStatus, Run, RunStatus
from app.settings import Settings
from tests.worker.pipeline_support import (
    RecordingSender,
    add_run,
    add_schedule,
    create_tables,
    get_run,
    invocations,
)
from worker.enqueuer import EnqueueError
from worker.pipeline.fanout import fire_run


@pytest.fixture(autouse=True)
def tables(settings: Settings) -> None:
    create_tables()


def test_one_invocation_per_param_set_with_placeholders_filled() -> None:
    schedule_id = add_schedule(
        params=[{"host": "a", "from": "{window_start}"}, {"host": "b", "from": "{window_start}"}],
        matrix={"field": ["cpu", "mem"]},
    )
    run_id = add_run(schedule_id)
    fire_run(run_id, send=RecordingSender())
    rows = invocations(run_id)
    assert [(r.index, r.params) for r in rows] == [
        (0, {"host": "a", "from": "2026-03-02T11:59:00Z", "field": "cpu"}),
        (1, {"host": "a", "from": "2026-03-02T11:59:00Z", "field": "mem"}),
        (2, {"host": "b", "from": "2026-03-02T11:59:00Z", "field": "cpu"}),
        (3, {"host": "b", "from": "2026-03-02T11:59:00Z", "field": "mem"}),
    ]
    assert len({r.params_hash for r in rows}) == 4


def test_the_run_is_running_with_its_total() -> None:
    run_id = add_run(add_schedule(matrix={"n": [1, 2, 3]}))
    result = fire_run(run_id, send=RecordingSender())
    run = get_run(run_id)
    assert (run.status, run.total, result.inserted) == (RunStatus.RUNNING, 3, 3)
    assert run.started_at is not None


def test_every_invocation_is_queued_and_sent_once_to_the_invoke_queue() -> None:
    run_id = add_run(add_schedule(matrix={"n": list(range(7))}))
    sender = RecordingSender()
    fire_run(run_id, send=sender)
    rows = invocations(run_id)
    assert all(r.status is InvocationStatus.QUEUED and r.enqueued_at is not None for r in rows)
    assert sorted(sender.ids(constants.TASK_INVOKE)) == sorted(r.id for r in rows)
    assert {q for _t, q, _i in sender.sent} == {constants.QUEUE_INVOKE}


def test_a_repeated_fire_run_inserts_and_sends_nothing_more() -> None:
    run_id = add_run(add_schedule(matrix={"n": [1, 2]}))
    sender = RecordingSender()
    fire_run(run_id, send=sender)
    again = fire_run(run_id, send=sender)
    assert (again.inserted, again.sent) == (0, 0)
    assert len(invocations(run_id)) == 2
    assert len(sender.sent) == 2


def test_a_repeat_on_a_running_run_sends_the_rows_still_pending() -> None:
    run_id = add_run(add_schedule(matrix={"n": [1, 2, 3]}))
    fire_run(run_id, send=RecordingSender())
    with Session(get_engine()) as session:  # as if the process died after the run's commit
        for inv in invocations(run_id):
            inv.status = InvocationStatus.PENDING
            inv.enqueued_at = None
            session.add(inv)
        session.commit()
    sender = RecordingSender()
    result = fire_run(run_id, send=sender)
    assert (result.inserted, result.sent) == (0, 3)
    assert sorted(sender.ids(constants.TASK_INVOKE)) == sorted(r.id for r in invocations(run_id))


def test_a_broker_error_leaves_the_rows_queued_for_the_sweep() -> None:
    run_id = add_run(add_schedule(matrix={"n": [1, 2]}))

    def broker_down(_task: str, _queue: str, _ids: Any) -> None:
        raise EnqueueError("broker down", sent=0)

    result = fire_run(run_id, send=broker_down)
    assert result.sent == 0
    assert get_run(run_id).status is RunStatus.RUNNING
    assert [r.status for r in invocations(run_id)] == [InvocationStatus.QUEUED] * 2


def test_zero_param_sets_end_the_run_succeeded_with_total_zero() -> None:
    run_id = add_run(add_schedule(matrix={"n": []}))
    sender = RecordingSender()
    result = fire_run(run_id, send=sender)
    run = get_run(run_id)
    assert (run.status, run.total, run.finished_at is not None) == (RunStatus.SUCCEEDED, 0, True)
    assert result.status is RunStatus.SUCCEEDED
    assert sender.ids(constants.TASK_INVOKE) == []


def test_a_run_that_is_not_pending_is_not_fanned_out_again() -> None:
    run_id = add_run(add_schedule(matrix={"n": [1]}))
    with Session(get_engine()) as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.status = RunStatus.SKIPPED
        session.add(run)
        session.commit()
    result = fire_run(run_id, send=RecordingSender())
    assert (result.inserted, result.status) == (0, RunStatus.SKIPPED)
    assert invocations(run_id) == []


def test_a_missing_run_does_nothing() -> None:
    assert fire_run(999, send=RecordingSender()).status is None


def test_rows_are_inserted_in_chunks_of_many_rows_per_statement() -> None:
    count = constants.INSERT_CHUNK_ROWS * 2 + 5
    run_id = add_run(add_schedule(matrix={"n": list(range(count))}))
    inserts: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INVOCATION"):
            inserts.append(statement)

    event.listen(get_engine(), "before_cursor_execute", record)
    try:
        fire_run(run_id, send=RecordingSender())
    finally:
        event.remove(get_engine(), "before_cursor_execute", record)
    assert len(inserts) == 3
    assert len(invocations(run_id)) == count


def test_invocations_are_sent_in_batches() -> None:
    count = constants.ENQUEUE_BATCH_SIZE + 3
    run_id = add_run(add_schedule(matrix={"n": list(range(count))}))
    batches: list[int] = []

    def send(_task: str, _queue: str, ids: Any) -> None:
        batches.append(len(ids))

    fire_run(run_id, send=send)
    assert batches == [constants.ENQUEUE_BATCH_SIZE, 3]
