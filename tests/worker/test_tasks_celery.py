"""The Celery app and the thin tasks: settings for no lost work, names, queues, delegation."""

from __future__ import annotations

import pytest

from app import constants
from worker import tasks
from worker.celery_app import celery_app, celery_config


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies() -> None:
    conf = celery_app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)


def test_each_worker_process_reserves_one_message_at_a_time() -> None:
    assert celery_app.conf.worker_prefetch_multiplier == 1


def test_the_visibility_timeout_is_above_the_longest_invoke_and_its_lease() -> None:
    timeout = celery_app.conf.broker_transport_options["visibility_timeout"]
    assert timeout > constants.INFLUX_READ_TIMEOUT_S + constants.INVOKE_LEASE_MARGIN_S


def test_only_json_travels_and_no_result_is_stored() -> None:
    conf = celery_app.conf
    assert (conf.task_serializer, list(conf.accept_content)) == ("json", ["json"])
    assert conf.task_ignore_result is True
    assert not conf.result_backend


def test_a_shutdown_lets_tasks_finish_then_requeues_the_rest() -> None:
    assert celery_app.conf.worker_soft_shutdown_timeout > 0
    assert celery_app.conf.worker_enable_soft_shutdown_on_idle is True


def test_the_broker_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import override_settings

    with override_settings(broker_url="redis://127.0.0.1:1/5"):
        assert celery_config()["broker_url"] == "redis://127.0.0.1:1/5"


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        (constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT),
        (constants.TASK_INVOKE, constants.QUEUE_INVOKE),
        (constants.TASK_DELIVER, constants.QUEUE_DELIVER),
    ],
)
def test_each_task_is_registered_by_name_and_routed_to_its_queue(name: str, queue: str) -> None:
    assert name in celery_app.tasks
    assert celery_app.amqp.router.route({}, name)["queue"].name == queue


def test_the_invoke_task_calls_the_pipeline_with_its_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[int]] = []
    monkeypatch.setattr("worker.pipeline.invoke.run_invocations", calls.append)
    tasks.invoke.run([3, "4", 5])
    tasks.invoke.run("42")  # a message of an earlier version: one id
    assert calls == [[3, 4, 5], [42]]


def test_the_fire_run_task_calls_the_fan_out_with_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("worker.pipeline.fanout.fire_run", calls.append)
    tasks.fire_run.run(7)
    assert calls == [7]


def test_the_deliver_task_calls_the_delivery_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("worker.delivery.pipeline.deliver", calls.append)
    tasks.deliver.run(9)
    assert calls == [9]


def test_a_forked_worker_process_drops_inherited_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.signals import worker_process_init

    disposed: list[bool] = []
    monkeypatch.setattr("app.db.dispose_engines", lambda: disposed.append(True))
    worker_process_init.send(sender=None)
    assert disposed == [True]
