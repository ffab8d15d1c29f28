"""Sending to a real Redis broker in batches, and what a broker outage does."""

from __future__ import annotations

import pytest

from app import constants
from app.settings import override_settings
from tests.support.services import free_port
from tests.worker.test_beat_integration import queued_run_ids
from worker.celery_app import create_celery_app
from worker.enqueuer import CeleryEnqueuer, EnqueueError

pytestmark = pytest.mark.integration


def test_a_batch_arrives_on_the_broker_in_order(redis_url: str) -> None:
    with override_settings(broker_url=redis_url):
        app = create_celery_app()
    CeleryEnqueuer(app).send(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, list(range(1, 1001)))
    newest_first = queued_run_ids(redis_url)  # the Redis transport pushes left and pops right
    assert newest_first[::-1] == list(range(1, 1001))


def test_an_unreachable_broker_raises_enqueue_error_then_fails_fast_for_a_while() -> None:
    with override_settings(broker_url=f"redis://127.0.0.1:{free_port()}/0"):
        app = create_celery_app()
    app.conf.broker_connection_max_retries = 1
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
    enqueuer = CeleryEnqueuer(app, pause_after_failure_s=3600)
    with pytest.raises(EnqueueError) as caught:
        enqueuer.send(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, [1, 2, 3])
    assert caught.value.sent == 0
    with pytest.raises(EnqueueError, match="for now") as again:
        enqueuer.send(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, [4])
    assert again.value.sent == 0
