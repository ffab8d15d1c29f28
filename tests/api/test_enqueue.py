"""Sending tasks by name to the broker of the current settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import constants
from app.enqueue import enqueue, enqueue_many
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
