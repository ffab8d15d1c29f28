"""Sending tasks by name to the broker of the current settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import constants
from app.enqueue import enqueue, enqueue_invocations, enqueue_many, invoke_batches
from app.settings import override_settings
from tests.api.conftest import sent_tasks
from tests.support.services import free_port


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    with override_settings(broker_url=redis_url):
        yield redis_url


@pytest.mark.integration
def test_enqueue_sends_each_task_to_its_queue(broker: str) -> None:
    assert enqueue(constants.TASK_FIRE_RUN, [1])
    assert enqueue(constants.TASK_INVOKE, [2])
    assert enqueue(constants.TASK_DELIVER, [3])
    assert sent_tasks(broker, constants.QUEUE_DEFAULT) == [(constants.TASK_FIRE_RUN, [1])]
    assert sent_tasks(broker, constants.QUEUE_INVOKE) == [(constants.TASK_INVOKE, [2])]
    assert sent_tasks(broker, constants.QUEUE_DELIVER) == [(constants.TASK_DELIVER, [3])]


@pytest.mark.integration
def test_enqueue_many_sends_them_all_in_order(broker: str) -> None:
    assert enqueue_many(constants.TASK_INVOKE, [[i] for i in range(5)]) == 5
    assert [args for _, args in sent_tasks(broker, constants.QUEUE_INVOKE)] == [[i] for i in range(5)]


def test_enqueue_reports_false_when_the_broker_is_down() -> None:
    with override_settings(broker_url=f"redis://127.0.0.1:{free_port()}/0"):
        assert enqueue(constants.TASK_FIRE_RUN, [1]) is False
        assert enqueue_many(constants.TASK_FIRE_RUN, []) == 0


def test_invoke_batches_fill_messages_up_to_the_size_in_order() -> None:
    assert invoke_batches(list(range(1000)), 64) == [
        list(range(i, min(i + 64, 1000))) for i in range(0, 1000, 64)
    ]


def test_a_small_send_spreads_over_several_messages() -> None:
    assert invoke_batches([1, 2, 3], 64, spread=8) == [[1], [2], [3]]
    assert invoke_batches(list(range(20)), 64, spread=8) == [
        list(range(i, min(i + 3, 20))) for i in range(0, 20, 3)
    ]
    assert invoke_batches([], 64) == []


def test_a_batch_size_of_one_sends_one_id_per_message() -> None:
    assert invoke_batches(list(range(5000)), 1) == [[i] for i in range(5000)]


@pytest.mark.integration
def test_enqueue_invocations_sends_batches_and_counts_ids(broker: str) -> None:
    with override_settings(broker_url=broker, invoke_batch_size=4):
        assert enqueue_invocations(list(range(100))) == 100
    sent = [args[0] for _, args in sent_tasks(broker, constants.QUEUE_INVOKE)]
    assert sent == [list(range(i, i + 4)) for i in range(0, 100, 4)]
