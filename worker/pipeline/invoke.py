"""``run_invocation``: claim an invocation, respect the connection's limits, invoke, store, record.

1. Claim (conditional UPDATE; not claimable -> do nothing). The attempt number fences this holder.
2. Limits (Redis, fleet-wide): a shared 429 pause, a concurrency slot with a lease, a GCRA rate token.
   A wait of up to ``RATELIMIT_SLEEP_MAX_S`` is slept here; a longer one puts the invocation back to
   WAITING (attempt refunded) for the beat to send when due: never a broker countdown.
3. Invoke with the pooled ``httpx.Client``; stream the CSV to a spool file (bytes, data rows, SHA-256).
   The client raises on an error-table tail or a cut-off body.
4. Store the spool in the result store, record SUCCEEDED and count it on the run (ending the run if it
   was the last), then plan and send deliveries.
   Retryable errors -> WAITING with capped, jittered backoff (``Retry-After`` honoured, and shared as a
   pause with every worker on a 429) until ``max_attempts``; permanent errors -> FAILED at once, with the
   server's message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import httpx
import redis
from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer
from sqlmodel import Session

from app import constants, metrics
from app.crypto import CryptoError, decrypt_secret
from app.db import get_engine, utcnow
from app.influx import ScriptsClient
from app.influx.errors import (
    InfluxError,
    InvokeTimeoutError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    ServerError,
    TransportError,
    TruncatedBodyError,
)
from app.logging import log_context
from app.models import Connection, Invocation, Run, RunStatus, Schedule
from app.settings import get_settings
from worker.pipeline import clients, events, runs
from worker.pipeline.dbconn import HeldConnection
from worker.pipeline.retry import backoff_s
from worker.pipeline.spool import Spooled, spool_chunks, spool_dir
from worker.ratelimit import Decision, Limits, RateLimiter
from worker.results import ResultStore, get_result_store, result_key
from worker.results.errors import PermanentStoreError

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What one ``run_invocation`` call did."""

    SKIPPED = "skipped"  # not claimable: finished, held by a live lease, or not yet due
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY = "retry"  # failed an attempt; WAITING until the backoff has passed
    RATE_LIMITED = "rate_limited"  # did not call the script; WAITING for the limiter
    LOST = "lost"  # this worker's lease passed and another worker took the invocation


@dataclass
class InvokeDeps:
    """Everything ``run_invocation`` talks to, injectable for tests."""

    http: httpx.Client
    limiter: RateLimiter | None
    store: ResultStore
    send: events.Sender
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = field(default=random.random)


def default_deps() -> InvokeDeps:
    """The process's pooled HTTP client, the Redis limiter, the configured result store, Celery."""
    return InvokeDeps(
        http=clients.http_client(),
        limiter=RateLimiter(clients.redis_client()),
        store=get_result_store(get_settings().result_store_url),
        send=events.default_sender(),
    )


@dataclass(frozen=True)
class _Context:
    invocation: Invocation
    run: Run
    schedule: Schedule
    connection: Connection


# The schedule's parameter lists are the run's business (fire_run), not an invoke's: a matrix of
# 10,000 values would otherwise be fetched and JSON-decoded by every one of its 10,000 invokes.
# ``raiseload``: reading them here is a bug that fails loudly instead of a hidden extra query.
_LOAD = (
    select(Invocation, Run, Schedule, Connection)
    .join(Run, Run.id == Invocation.run_id)  # type: ignore[arg-type]
    .join(Schedule, Schedule.id == Run.schedule_id)  # type: ignore[arg-type]
    .join(Connection, Connection.id == Schedule.connection_id)  # type: ignore[arg-type]
    .where(Invocation.id == bindparam("p_id"))  # type: ignore[arg-type]
    .options(
        defer(Schedule.params, raiseload=True),  # type: ignore[arg-type]
        defer(Schedule.param_matrix, raiseload=True),  # type: ignore[arg-type]
    )
)


def _load(session: Session, invocation_id: int) -> _Context | None:
    row = session.execute(_LOAD, {"p_id": invocation_id}).first()
    return None if row is None else _Context(*row)


def run_invocation(invocation_id: int, deps: InvokeDeps | None = None) -> Outcome:
    """Claim and run one invocation (see the module docstring)."""
    deps = deps or default_deps()
    with HeldConnection(get_engine()) as db:
        with db.claim() as session:
            ctx = _load(session, invocation_id)
            if ctx is None:
                logger.warning("invoke: invocation %s does not exist", invocation_id)
                return Outcome.SKIPPED
            lease_s = ctx.schedule.timeout_s + get_settings().invoke_lease_margin_s
            claim = runs.claim_invocation(session, invocation_id, now=deps.now(), lease_s=lease_s)
        if claim is None:
            return Outcome.SKIPPED
        with log_context(run_id=claim.run_id, invocation_id=invocation_id):
            try:
                return _run_claimed(db, ctx, claim, deps, lease_s)
            except runs.LostClaimError:
                logger.warning(
                    "invocation %s: lease lost to another worker; its outcome stands", invocation_id
                )
                return Outcome.LOST


def _run_claimed(
    db: HeldConnection, ctx: _Context, claim: runs.Claim, deps: InvokeDeps, lease_s: float
) -> Outcome:
    conn = ctx.connection
    limits = Limits(
        connection_id=int(conn.id or 0),
        rate_per_s=conn.rate_per_s,
        burst=conn.burst,
        max_concurrency=conn.max_concurrency,
    )
    holder = f"{claim.invocation_id}:{claim.attempt}"
    decision = _acquire(deps, limits, holder, lease_s)
    if not decision.allowed:
        due = deps.now() + timedelta(seconds=decision.wait_s)
        with db.single() as session:
            runs.defer(session, claim, due=due, refund_attempt=True)
        metrics.RATELIMIT_WAITS_TOTAL.inc()
        metrics.RATELIMIT_WAIT_SECONDS.inc(decision.wait_s)
        metrics.INVOCATIONS_TOTAL.labels(status="waiting").inc()
        logger.info("waiting %.2f s for the rate limiter (%s)", decision.wait_s, decision.reason)
        return Outcome.RATE_LIMITED
    # the request goes out now: the invocation's started_at (the limiter's clock when it decided)
    started = datetime.fromtimestamp(decision.at, UTC) if decision.at is not None else deps.now()
    try:
        spooled, error = _invoke(ctx, deps)
    finally:
        _release(deps, limits, holder)
    if error is None and spooled is not None:
        try:
            return _store_and_succeed(db, ctx, claim, deps, spooled, started)
        except PermanentStoreError as exc:
            error = PermanentError(f"result store: {exc}")
        except Exception as exc:  # a store that may work next time (S3 down, disk full ...)
            error = RetryableError(f"result store: {type(exc).__name__}: {exc}")
        finally:
            spooled.path.unlink(missing_ok=True)
    assert error is not None
    return _record_error(db, ctx, claim, deps, limits, error, started)


def _acquire(deps: InvokeDeps, limits: Limits, holder: str, lease_s: float) -> Decision:
    """The limiter's decision (after sleeping through a short wait in this task)."""
    if deps.limiter is None:
        return Decision(True, 0.0, "ok")
    slept = 0.0

    def sleep(seconds: float) -> None:
        nonlocal slept
        deps.sleep(seconds)
        slept += seconds

    try:
        decision = deps.limiter.acquire(
            limits, holder, lease_s=lease_s, max_sleep_s=constants.RATELIMIT_SLEEP_MAX_S, sleep=sleep
        )
    except redis.RedisError as exc:
        logger.warning("rate limiter unavailable (%s); trying again shortly", type(exc).__name__)
        decision = Decision(False, constants.RATELIMIT_SHORT_DELAY_S, "limiter-unavailable")
    if slept:
        metrics.RATELIMIT_WAITS_TOTAL.inc()
        metrics.RATELIMIT_WAIT_SECONDS.inc(slept)
    return decision


def _release(deps: InvokeDeps, limits: Limits, holder: str) -> None:
    if deps.limiter is None or limits.max_concurrency <= 0:
        return
    try:
        deps.limiter.release(limits.connection_id, holder)
    except redis.RedisError:  # the slot's lease frees it anyway
        logger.warning("could not release a concurrency slot; its lease will")


def _scripts_client(ctx: _Context, deps: InvokeDeps, timeout_s: float) -> ScriptsClient:
    """The scripts client for the invocation's connection.

    Raises PermanentError when the stored connection cannot work whatever the retries: a token that
    does not decrypt with the configured key, or one the client refuses (empty), a base URL that is
    not http(s) with a host, or a schedule without a script id. The message names the field; it
    never holds the token.
    """
    try:
        token = decrypt_secret(ctx.connection.token_encrypted)
    except CryptoError:  # the same key will fail the same way: say so once, do not retry
        raise PermanentError("the connection's token does not decrypt with the configured key") from None
    if not ctx.schedule.script_id:
        raise PermanentError("schedule: script_id must not be empty")
    try:
        return ScriptsClient(ctx.connection.url, token, timeout=timeout_s, client=deps.http)
    except ValueError as exc:  # the client's argument checks: "base_url: ...", "token: ..."
        raise PermanentError(f"connection {ctx.connection.name!r} is not usable: {exc}") from None


def _invoke(ctx: _Context, deps: InvokeDeps) -> tuple[Spooled | None, Exception | None]:
    """Call the script and spool its CSV; returns (spooled, None) or (None, the error)."""
    timeout_s = ctx.schedule.timeout_s
    started = time.monotonic()
    try:
        client = _scripts_client(ctx, deps, timeout_s)
        with client.invoke(ctx.schedule.script_id, ctx.invocation.params, timeout=timeout_s) as result:
            spooled = spool_chunks(result.iter_bytes(), spool_dir(get_settings().data_dir))
    except InfluxError as exc:  # the client's errors, and the permanent ones of _scripts_client
        return None, exc
    except Exception as exc:  # a bug or a local fault: retried like a transient error, never silent
        logger.exception("invoke failed unexpectedly")
        return None, RetryableError(f"internal error: {type(exc).__name__}")
    finally:
        metrics.INVOKE_SECONDS.observe(time.monotonic() - started)
    return spooled, None


def _store_and_succeed(
    db: HeldConnection,
    ctx: _Context,
    claim: runs.Claim,
    deps: InvokeDeps,
    spooled: Spooled,
    started: datetime,
) -> Outcome:
    key = result_key(ctx.schedule, ctx.run, ctx.invocation)
    location = deps.store.put(key, spooled.path)
    with db.transaction() as session:
        final = runs.succeed(
            session,
            claim,
            now=deps.now(),
            location=location,
            size_bytes=spooled.size_bytes,
            rows=spooled.rows,
            sha256=spooled.sha256,
            started_at=started,
        )
    metrics.INVOCATIONS_TOTAL.labels(status="succeeded").inc()
    logger.info("invocation succeeded: %d bytes, %d rows", spooled.size_bytes, spooled.rows)
    if ctx.schedule.destinations:  # deliveries come from destinations: none, nothing to plan
        events.invocation_succeeded(claim.invocation_id, deps.send)
    _after_terminal(claim, final, deps)
    return Outcome.SUCCEEDED


def _after_terminal(claim: runs.Claim, final: RunStatus | None, deps: InvokeDeps) -> None:
    if final is not None:
        events.run_finished(claim.run_id, final, deps.send)


def retry_reason(error: Exception) -> str:
    """The metrics label of a retried error."""
    if isinstance(error, RateLimitedError):
        return "429"
    if isinstance(error, ServerError):
        return "5xx"
    if isinstance(error, InvokeTimeoutError):
        return "timeout"
    if isinstance(error, TruncatedBodyError):
        return "truncated"
    if isinstance(error, TransportError):
        return "transport"
    return "other"


def _record_error(
    db: HeldConnection,
    ctx: _Context,
    claim: runs.Claim,
    deps: InvokeDeps,
    limits: Limits,
    error: Exception,
    started: datetime,
) -> Outcome:
    status = error.status if isinstance(error, InfluxError) else None
    retry_after = error.retry_after if isinstance(error, InfluxError) else None
    message = str(error)
    if isinstance(error, RateLimitedError) and retry_after and deps.limiter is not None:
        try:
            deps.limiter.pause(limits.connection_id, retry_after)
        except redis.RedisError:
            logger.warning("could not share the 429 pause")
    schedule = ctx.schedule
    if isinstance(error, RetryableError) and claim.attempt < schedule.max_attempts:
        delay = backoff_s(
            claim.attempt,
            base_s=schedule.backoff_base_s,
            cap_s=schedule.backoff_cap_s,
            retry_after_s=retry_after,
            rand=deps.rand,
        )
        with db.single() as session:
            runs.defer(
                session,
                claim,
                due=deps.now() + timedelta(seconds=delay),
                refund_attempt=False,
                status=status,
                error=message,
                started_at=started,
            )
        metrics.INVOKE_RETRIES_TOTAL.labels(reason=retry_reason(error)).inc()
        metrics.INVOCATIONS_TOTAL.labels(status="waiting").inc()
        logger.info("attempt %d failed (%s); retrying in %.2f s", claim.attempt, message, delay)
        return Outcome.RETRY
    with db.transaction() as session:
        final = runs.fail(session, claim, now=deps.now(), status=status, error=message, started_at=started)
    metrics.INVOCATIONS_TOTAL.labels(status="failed").inc()
    logger.warning("invocation failed after %d attempt(s): %s", claim.attempt, message)
    _after_terminal(claim, final, deps)
    return Outcome.FAILED
