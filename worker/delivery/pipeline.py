"""``deliver(delivery_id)``: claim a delivery, make one attempt, record the outcome.

1. Claim (conditional UPDATE; not claimable -> do nothing). The attempt number fences this holder.
2. One attempt, by kind: MANIFEST (the run's manifest into the result store), ``webhook`` (a signed
   event or CSV; ``run.completed`` for a run-level row), ``s3`` (the CSV, or the manifest, copied).
3. Success -> SUCCEEDED. A retryable failure -> WAITING until the backoff has passed (the beat sends it
   then), or FAILED once the retry period is over. A permanent failure -> FAILED at once.
A delivery never touches its invocation: a failed delivery never re-invokes the script.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from app import constants, metrics
from app.db import session_scope, utcnow
from app.logging import log_context
from app.models import Delivery, DeliveryStatus, DestinationKind, Invocation, InvocationStatus, Run, Schedule
from app.settings import Settings, get_settings
from worker.delivery import manifest, payloads, policy, state, webhook
from worker.delivery.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from worker.delivery.hooks import MANIFEST_DESTINATION_INDEX
from worker.delivery.s3 import check_endpoint, copy_to_s3, store_error
from worker.results import (
    ResultStore,
    ResultStoreError,
    get_result_store,
    is_gzip_location,
    manifest_key,
    result_key,
)
from worker.results.base import JSON_CONTENT_TYPE
from worker.results.s3client import make_s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

S3ClientFactory = Callable[[str | None, str | None], "S3Client"]


class DeliveryOutcome(StrEnum):
    """What one ``deliver`` call did."""

    SKIPPED = "skipped"  # not claimable: finished, held under a live lease, or not yet due
    SUCCEEDED = "succeeded"
    RETRY = "retry"  # WAITING for the next attempt
    FAILED = "failed"
    LOST = "lost"  # this worker's lease passed and another worker took the delivery


@dataclass
class DeliverDeps:
    """Everything ``deliver`` talks to, injectable for tests."""

    webhook: httpx.Client
    store: ResultStore
    s3_client: S3ClientFactory
    now: Callable[[], datetime] = utcnow
    rand: Callable[[], float] = field(default=random.random)


_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    key = (os.getpid(), *key)  # never share a client (socket) with a forked parent
    with _lock:
        if key not in _cache:
            _cache[key] = make()
        return _cache[key]


def default_deps(settings: Settings | None = None) -> DeliverDeps:
    """Per-process pooled clients for the current settings."""
    settings = settings or get_settings()
    flags = (settings.webhook_allow_loopback, settings.webhook_allow_private)
    return DeliverDeps(
        webhook=_cached(
            ("webhook", *flags),
            lambda: webhook.make_webhook_client(allow_loopback=flags[0], allow_private=flags[1]),
        ),
        store=_cached(
            ("store", settings.result_store_url), lambda: get_result_store(settings.result_store_url)
        ),
        s3_client=lambda endpoint, region: _cached(
            ("s3", endpoint or settings.s3_endpoint_url, region or settings.s3_region),
            lambda: make_s3_client(endpoint_url=endpoint, region=region, settings=settings),
        ),
    )


@dataclass(frozen=True)
class _Context:
    delivery: Delivery
    run: Run
    schedule: Schedule
    invocation: Invocation | None


def _load(delivery_id: int) -> _Context | None:
    with session_scope() as session:
        row = session.execute(
            select(Delivery, Run, Schedule)
            .join(Run, Run.id == Delivery.run_id)  # type: ignore[arg-type]
            .join(Schedule, Schedule.id == Run.schedule_id)  # type: ignore[arg-type]
            .where(Delivery.id == delivery_id)  # type: ignore[arg-type]
        ).first()
        if row is None:
            return None
        delivery, run, schedule = row
        invocation = session.get(Invocation, delivery.invocation_id) if delivery.invocation_id else None
        return _Context(delivery, run, schedule, invocation)


def deliver(delivery_id: int, deps: DeliverDeps | None = None) -> DeliveryOutcome:
    """Claim and attempt one delivery (see the module docstring)."""
    settings = get_settings()
    ctx = _load(delivery_id)
    if ctx is None:
        logger.warning("deliver: delivery %s does not exist", delivery_id)
        return DeliveryOutcome.SKIPPED
    deps = deps or default_deps(settings)
    with session_scope() as session:
        held = state.claim(
            session,
            delivery_id,
            now=deps.now(),
            lease_s=constants.DELIVERY_LEASE_S,
            retry_period_s=settings.delivery_retry_period_s,
        )
    if held is None:
        return DeliveryOutcome.SKIPPED
    kind = str(ctx.delivery.kind)
    with log_context(run_id=ctx.run.id, invocation_id=ctx.delivery.invocation_id, delivery_id=delivery_id):
        try:
            status_code, location = _attempt(ctx, deps, settings)
        except DeliveryError as exc:
            return _record_error(held, deps, kind, exc)
        except Exception as exc:  # a bug or a local fault: retried like a transient error, never silent
            logger.exception("delivery attempt failed unexpectedly")
            return _record_error(
                held, deps, kind, RetryableDeliveryError(f"internal error: {type(exc).__name__}")
            )
        with session_scope() as session:
            won = state.succeed(session, held, now=deps.now(), status_code=status_code, location=location)
        if not won:
            logger.warning("delivery %s: lease lost to another worker; its outcome stands", delivery_id)
            return DeliveryOutcome.LOST
        metrics.DELIVERIES_TOTAL.labels(kind=kind, outcome="succeeded").inc()
        logger.info("delivery %s succeeded (attempt %d)", kind, held.attempt)
        return DeliveryOutcome.SUCCEEDED


def _record_error(held: state.Claim, deps: DeliverDeps, kind: str, error: DeliveryError) -> DeliveryOutcome:
    now = deps.now()
    message = str(error)
    due = None
    if isinstance(error, RetryableDeliveryError):
        due = policy.next_attempt(
            held.attempt,
            now=now,
            retry_until=held.retry_until,
            retry_after_s=error.retry_after_s,
            rand=deps.rand,
        )
    with session_scope() as session:
        if due is not None:
            won = state.wait(session, held, due=due, status_code=error.status_code, error=message)
            outcome = DeliveryOutcome.RETRY
        else:
            if error.retryable:
                message = f"gave up after {held.attempt} attempt(s), retry period over: {message}"
            won = state.fail(session, held, now=now, status_code=error.status_code, error=message)
            outcome = DeliveryOutcome.FAILED
    if not won:
        return DeliveryOutcome.LOST
    metrics.DELIVERIES_TOTAL.labels(kind=kind, outcome=outcome.value).inc()
    logger.log(
        logging.INFO if outcome is DeliveryOutcome.RETRY else logging.WARNING,
        "delivery %s attempt %d: %s (%s)",
        kind,
        held.attempt,
        outcome.value,
        message,
    )
    return outcome


def _destination(ctx: _Context) -> dict[str, Any]:
    destinations = ctx.schedule.destinations or []
    index = ctx.delivery.destination_index
    if not 0 <= index < len(destinations) or destinations[index].get("type") != str(ctx.delivery.kind):
        raise PermanentDeliveryError(f"destination {index} of the schedule no longer exists or changed type")
    return dict(destinations[index])


def _attempt(ctx: _Context, deps: DeliverDeps, settings: Settings) -> tuple[int | None, str | None]:
    """One attempt: (HTTP status or None, location or None); raises DeliveryError."""
    kind = ctx.delivery.kind
    if kind == DestinationKind.MANIFEST:
        return None, _manifest_location(ctx, deps, write=True)
    destination = _destination(ctx)
    if kind == DestinationKind.WEBHOOK:
        return _webhook(ctx, deps, settings, destination), None
    if kind == DestinationKind.S3:
        return None, _s3(ctx, deps, settings, destination)
    raise PermanentDeliveryError(f"unknown delivery kind {kind!r}")


def _manifest_location(ctx: _Context, deps: DeliverDeps, *, write: bool = False) -> str:
    """The run's stored manifest: the manifest row's location when it succeeded, else written now."""
    if not write:
        with session_scope() as session:
            d = state.DELIVERY.c
            done = session.execute(
                select(d.location).where(
                    d.run_id == ctx.run.id,
                    d.destination_index == MANIFEST_DESTINATION_INDEX,
                    d.status == DeliveryStatus.SUCCEEDED,
                )
            ).scalar()
        if done:
            return str(done)
    try:
        return manifest.store_manifest(deps.store, ctx.schedule, ctx.run)
    except ResultStoreError as exc:
        raise store_error(exc) from None


def _result(ctx: _Context) -> tuple[Invocation, str]:
    invocation = ctx.invocation
    if (
        invocation is None
        or invocation.status != InvocationStatus.SUCCEEDED
        or not invocation.result_location
    ):
        raise PermanentDeliveryError("the invocation has no stored result to deliver")
    return invocation, invocation.result_location


def _link(deps: DeliverDeps, location: str) -> str | None:
    """A presigned URL of a stored object (S3 store), or None (file store: the API serves it)."""
    try:
        return deps.store.link(location, expires_s=constants.S3_PRESIGNED_URL_EXPIRES_S)
    except ResultStoreError as exc:
        raise store_error(exc) from None


def _secret(destination: dict[str, Any]) -> str:
    from app.crypto import CryptoError, decrypt_secret

    try:
        return decrypt_secret(str(destination.get("secret_encrypted") or ""))
    except CryptoError as exc:
        raise PermanentDeliveryError(f"webhook secret unusable: {exc}") from None


def _webhook(ctx: _Context, deps: DeliverDeps, settings: Settings, destination: dict[str, Any]) -> int:
    url = str(destination.get("url") or "")
    secret = _secret(destination)
    message_id = ctx.delivery.message_id
    api = settings.api_public_url.rstrip("/")
    if ctx.delivery.invocation_id is None:
        location = _manifest_location(ctx, deps)
        body = payloads.run_event(
            ctx.schedule,
            ctx.run,
            manifest_url=_link(deps, location) or f"{api}/api/v1/runs/{ctx.run.id}/manifest",
        )
        return webhook.send_event(
            deps.webhook, url, secret=secret, message_id=message_id, body=body, now=deps.now()
        )
    invocation, location = _result(ctx)
    if destination.get("mode", "event") == "csv":
        limit = settings.webhook_csv_max_bytes
        if invocation.result_bytes is not None and invocation.result_bytes > limit:
            raise PermanentDeliveryError(
                f"CSV is {invocation.result_bytes} bytes, above webhook_csv_max_bytes ({limit}); not sent"
            )
        try:
            return webhook.send_csv(
                deps.webhook,
                url,
                secret=secret,
                message_id=message_id,
                open_csv=lambda: deps.store.open(location, decompress=True),
                max_bytes=limit,
                now=deps.now(),
            )
        except ResultStoreError as exc:
            raise store_error(exc) from None
    link = _link(deps, location)
    body = payloads.invocation_event(
        ctx.schedule,
        ctx.run,
        invocation,
        result_url=link or f"{api}/api/v1/invocations/{invocation.id}/result",  # the API decompresses
        content_encoding="gzip" if link and is_gzip_location(location) else None,
    )
    return webhook.send_event(
        deps.webhook, url, secret=secret, message_id=message_id, body=body, now=deps.now()
    )


def _s3(ctx: _Context, deps: DeliverDeps, settings: Settings, destination: dict[str, Any]) -> str:
    check_endpoint(destination, settings)
    client = deps.s3_client(destination.get("endpoint_url"), destination.get("region"))
    template = destination.get("key_template") or None
    if ctx.delivery.invocation_id is None:
        location = _manifest_location(ctx, deps)
        return copy_to_s3(
            client,
            destination,
            store=deps.store,
            location=location,
            key=manifest_key(ctx.schedule, ctx.run, template),
            content_type=JSON_CONTENT_TYPE,
        )
    invocation, location = _result(ctx)
    return copy_to_s3(
        client,
        destination,
        store=deps.store,
        location=location,
        key=result_key(ctx.schedule, ctx.run, invocation, template),
        size_hint=invocation.result_bytes,
    )
