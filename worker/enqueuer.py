"""Sending ready work to the broker in batches: one message per row id, over one pooled connection.

The beat talks to the broker only through an :class:`Enqueuer`, so tests swap in a fake that records
what was sent (or fails on demand).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class EnqueueError(Exception):
    """Raised when the broker cannot take a message; ``sent`` messages of the batch went out before it.

    Retryable: the rows stay unsent in the database and the beat's sweep sends them on a later tick.
    """

    def __init__(self, message: str, *, sent: int) -> None:
        super().__init__(message)
        self.sent = sent


class Enqueuer(Protocol):
    """Sends ``task_name(id)`` on ``queue`` for each id, in order; raises EnqueueError on a broker error."""

    def send(self, task_name: str, queue: str, ids: Sequence[int]) -> None: ...


class CeleryEnqueuer:
    """Publishes with ``celery_app.send_task`` over one producer (and connection) per batch."""

    def __init__(self, app: Any, producer: Any | None = None) -> None:
        self.app = app
        self.producer = producer

    def send(self, task_name: str, queue: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        sent = 0
        try:
            with self.app.producer_or_acquire(self.producer) as producer:
                for row_id in ids:
                    self.app.send_task(task_name, args=[row_id], queue=queue, producer=producer)
                    sent += 1
        except Exception as exc:  # kombu/redis raise many kinds; all mean "not sent"
            logger.warning(
                "broker refused %s after %d of %d messages: %s", task_name, sent, len(ids), type(exc).__name__
            )
            raise EnqueueError(f"could not send {task_name}: {type(exc).__name__}", sent=sent) from exc
