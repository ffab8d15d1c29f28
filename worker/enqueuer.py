"""Sending ready work to the broker in batches: one message per row id, over one pooled connection.

Each message is built by Celery's own protocol-2 builder (``app.amqp.as_task_v2``: the same headers,
body and properties ``send_task`` makes) and published with the long-lived kombu producer inside
``Producer.batch()``, which on the Redis transport buffers the final ``LPUSH`` commands in one pipeline
per chunk instead of one round trip per message (other transports publish immediately). The queue's
route, exchange and delivery mode are resolved once per batch, not once per message as ``send_task``
does: that per-message routing and configuration lookup was more than half of the enqueue cost.
Task-publish signals are not sent for these messages (nothing in the project listens to them).
Invoke messages carry a list of invocation ids (:func:`app.enqueue.invoke_batches`): one message,
claim and outcome commit per batch instead of per invocation; every other task carries one id.
The beat talks to the broker only through an :class:`Enqueuer`, so tests swap in a fake that records
what was sent (or fails on demand).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from celery.utils.nodenames import anon_nodename
from kombu.utils.uuid import uuid

from app import constants
from app.enqueue import invoke_batches
from app.settings import get_settings

logger = logging.getLogger(__name__)

PUBLISH_CHUNK = 500  # messages per pipeline flush
BATCH_SAFE_TRANSPORT_OPTIONS = {"retry_on_timeout": False}
BROKER_PAUSE_AFTER_FAILURE_S = 5.0  # after a failed send, fail fast this long (the sweep catches up)


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
    """Publishes Celery task messages over one long-lived producer and broker connection.

    The connection is opened with ``retry_on_timeout`` off: kombu batches Redis publishes in a
    pipeline only when a timed-out pipeline cannot be replayed twice. A message that is lost anyway
    is sent again by the sweep; one sent twice is harmless (a task for a row that is not claimable
    does nothing).
    """

    def __init__(
        self,
        app: Any,
        *,
        pause_after_failure_s: float = BROKER_PAUSE_AFTER_FAILURE_S,
        invoke_batch_size: int | None = None,
    ) -> None:
        self.app = app
        self.invoke_batch_size = invoke_batch_size
        self.pause_after_failure_s = pause_after_failure_s
        self._producer: Any | None = None
        self._paused_until = 0.0

    def _get_producer(self) -> Any:
        if self._producer is None:
            connection = self.app.connection_for_write(transport_options=BATCH_SAFE_TRANSPORT_OPTIONS)
            self._producer = self.app.amqp.Producer(connection)
        return self._producer

    def close(self) -> None:
        """Release the broker connection (a new one is opened on the next send)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.connection.release()
            except Exception:  # already broken: nothing to release
                logger.debug("broker connection release failed", exc_info=True)

    def send(self, task_name: str, queue: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        if time.monotonic() < self._paused_until:  # the broker just failed: do not wait on it again yet
            raise EnqueueError(f"broker unavailable; not sending {task_name} for now", sent=0)
        messages: Sequence[int | list[int]] = ids
        if task_name == constants.TASK_INVOKE:
            size = self.invoke_batch_size or get_settings().invoke_batch_size
            messages = invoke_batches(ids, size)
        sent = 0
        try:
            producer = self._get_producer()
            # Declare the queue once per connection, not once per message.
            producer.maybe_declare(
                self.app.amqp.queues[queue], retry=True, **self.app.conf.task_publish_retry_policy
            )
            publish = self._publisher(producer, task_name, queue)
            for start in range(0, len(messages), PUBLISH_CHUNK):
                chunk = messages[start : start + PUBLISH_CHUNK]
                with producer.batch(max_size=len(chunk) + 1):
                    for arg in chunk:
                        publish(arg)
                sent += sum(len(arg) if isinstance(arg, list) else 1 for arg in chunk)
        except Exception as exc:  # kombu/redis raise many kinds; all mean "not sent"
            logger.warning(
                "broker refused %s after %d of %d ids: %s", task_name, sent, len(ids), type(exc).__name__
            )
            self.close()
            self._paused_until = time.monotonic() + self.pause_after_failure_s
            raise EnqueueError(f"could not send {task_name}: {type(exc).__name__}", sent=sent) from exc

    def _publisher(self, producer: Any, task_name: str, queue: str) -> Any:
        """``publish(arg)``: one ``task_name(arg)`` message (an id, or a list of ids) to ``queue``, routed
        as ``send_task`` routes it (a direct exchange becomes the default exchange with the queue's name
        as key)."""
        amqp = self.app.amqp
        target = amqp.queues[queue]
        exchange = target.exchange
        if exchange.type == "direct" or not exchange.name:
            exchange_name, routing_key = "", target.name
        else:  # pragma: no cover - the project's queues are all direct
            exchange_name, routing_key = exchange.name, target.routing_key
        delivery_mode = exchange.delivery_mode or 2  # persistent, as send_task does
        origin = anon_nodename()  # what send_task puts in each message, computed once
        retry_policy = self.app.conf.task_publish_retry_policy

        def publish(arg: int | list[int]) -> None:
            task_id = uuid()
            headers, properties, body, _ = amqp.as_task_v2(
                task_id,
                task_name,
                args=[arg],
                kwargs={},
                argsrepr=f"[{arg}]",  # spares a saferepr per message
                kwargsrepr="{}",
                ignore_result=True,  # the database is the record
                origin=origin,
            )
            producer.publish(
                body,
                exchange=exchange_name,
                routing_key=routing_key,
                serializer="json",
                headers=headers,
                delivery_mode=delivery_mode,
                retry=True,
                retry_policy=retry_policy,
                **properties,
            )

        return publish
