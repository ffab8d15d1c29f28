"""The Celery application, configured for no lost work (design.md, "Guarantees").

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after its task
  returns; a worker process that dies mid-task has its message put back.
- ``worker_prefetch_multiplier = 1``: a worker reserves one message per process, so a slow invoke never
  holds a queue of others hostage and a dead worker strands at most one message per process.
- ``visibility_timeout`` above the longest task: Redis redelivers an unacknowledged message only after
  that long, so a task that is still running is never delivered twice.
- JSON only, and no result backend: the database is the record of every outcome.
- Soft shutdown (Celery >= 5.5): on SIGTERM a worker lets tasks finish for a while, then requeues the
  ones still in flight, so a deploy loses nothing. A requeued invoke whose lease is still live does
  nothing; the beat's sweep sends it again once the lease has passed.
- Delayed work is never a countdown/ETA message: it is a WAITING row that the beat sends when due.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_process_init
from kombu import Queue

from app import constants
from app.settings import get_settings

TASK_MODULES = ["worker.tasks"]


def celery_config() -> dict[str, Any]:
    """The Celery settings, from :func:`app.settings.get_settings`."""
    settings = get_settings()
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": constants.CELERY_VISIBILITY_TIMEOUT_S,
            "socket_timeout": constants.REDIS_SOCKET_TIMEOUT_S,
            "socket_connect_timeout": constants.REDIS_SOCKET_TIMEOUT_S,
            "retry_on_timeout": True,
        },
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_acks_on_failure_or_timeout": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_soft_shutdown_timeout": constants.WORKER_SOFT_SHUTDOWN_TIMEOUT_S,
        "worker_enable_soft_shutdown_on_idle": True,
        # A task running when the broker connection drops keeps going: its outcome goes to the
        # database, and a redelivered copy of its message finds it finished (or under a live lease).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
        "task_default_queue": constants.QUEUE_DEFAULT,
        "task_queues": [
            Queue(constants.QUEUE_DEFAULT),
            Queue(constants.QUEUE_INVOKE),
            Queue(constants.QUEUE_DELIVER),
        ],
        "task_routes": {
            constants.TASK_FIRE_RUN: {"queue": constants.QUEUE_DEFAULT},
            constants.TASK_INVOKE: {"queue": constants.QUEUE_INVOKE},
            constants.TASK_DELIVER: {"queue": constants.QUEUE_DELIVER},
        },
        "enable_utc": True,
        "timezone": "UTC",
    }


def create_celery_app() -> Celery:
    """A Celery app configured from the current settings, with the scriptcron tasks registered."""
    app = Celery("scriptcron", set_as_current=False)
    app.conf.update(celery_config())
    app.conf.include = TASK_MODULES
    return app


celery_app = create_celery_app()


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    """A forked worker process must not share the parent's database connections or HTTP pools."""
    from app.db import dispose_engines

    dispose_engines()
    from worker.pipeline import clients, events

    clients.reset()
    events.reset()


import worker.metrics  # noqa: E402, F401  (the /metrics endpoint of the worker and the beat)


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    """Our one-line (text or JSON) logging with run/invocation ids, instead of Celery's own."""
    import logging

    from app.logging import configure_logging

    configure_logging(get_settings())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise; outcomes are logged
