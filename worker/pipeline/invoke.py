"""``run_invocations``: claim a batch of invocations, respect the connection's limits, invoke, store, record.

An invoke message carries a batch of invocation ids (``app.enqueue.invoke_batches``): the batch is
claimed in one statement and its ended invocations are recorded together (one transaction), so the
per-message costs (broker, claim, durable commit) are paid once per batch, not once per invocation.
The invocations themselves run one after another, each through the steps below.

1. Claim (conditional UPDATE; not claimable -> do nothing). The attempt number fences this holder.
2. Limits (Redis, fleet-wide): a shared 429 pause, a concurrency slot with a lease, a GCRA rate token.
   A wait of up to ``RATELIMIT_SLEEP_MAX_S`` is slept here; a longer one puts the invocation back to
   WAITING (attempt refunded) for the beat to send when due: never a broker countdown.
3. Invoke with the pooled ``httpx.Client``; stream the CSV to a spool file (bytes, data rows, SHA-256).
   The client raises on an error-table tail or a cut-off body.
4. Store the spool in the result store (durable before anything is recorded), record SUCCEEDED and
   count it on the run (ending the run if it was the last), then plan and send deliveries.
   Retryable errors -> WAITING with capped, jittered backoff (``Retry-After`` honoured, and shared as a
   pause with every worker on a 429) until ``max_attempts``; permanent errors -> FAILED at once, with the
   server's message.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
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
from worker.enqueuer import EnqueueError
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
    .where(Invocation.id.in_(bindparam("p_ids", expanding=True)))  # type: ignore[union-attr]
    .options(
        defer(Schedule.params, raiseload=True),  # type: ignore[arg-type]
        defer(Schedule.param_matrix, raiseload=True),  # type: ignore[arg-type]
    )
)


def _load(session: Session, invocation_ids: Sequence[int]) -> dict[int, _Context]:
    rows = session.execute(_LOAD, {"p_ids": list(invocation_ids)}).all()
    return {int(row[0].id): _Context(*row) for row in rows}


def run_invocation(invocation_id: int, deps: InvokeDeps | None = None) -> Outcome:
    """Claim and run one invocation (see the module docstring)."""
    return run_invocations([invocation_id], deps)[invocation_id]


def run_invocations(invocation_ids: Sequence[int], deps: InvokeDeps | None = None) -> dict[int, Outcome]:
    """Claim a batch of invocations in one statement, run them one after another, record their ends
    together; returns each id's outcome (see the module docstring)."""
    deps = deps or default_deps()
    ids = list(dict.fromkeys(invocation_ids))
    outcomes = dict.fromkeys(ids, Outcome.SKIPPED)
    with HeldConnection(get_engine()) as db:
        batch = _Batch(db, deps, outcomes)
        claimed = batch.claim(ids)
        try:
            batch.run(claimed)
        finally:
            batch.finish()
    return outcomes


@dataclass(frozen=True)
class _Ended:
    ctx: _Context
    ending: runs.Ending


class _Batch:
    """One message's invocations: claimed together, run in order, their ends recorded together.

    Ended invocations are recorded before the next one starts once ``INVOKE_BATCH_FLUSH_S`` has passed
    since the last recording, and when the batch ends. After ``budget_s`` (at most half the lease
    margin, so no claim's lease can pass while it waits, nor an ending's before it is recorded) no new
    invocation starts: the rest are given back QUEUED and sent again, for idle workers to take in
    parallel.
    """

    def __init__(self, db: HeldConnection, deps: InvokeDeps, outcomes: dict[int, Outcome]) -> None:
        self.db = db
        self.deps = deps
        self.outcomes = outcomes
        self.ended: list[_Ended] = []
        self.started = self.flushed = time.monotonic()
        margin = get_settings().invoke_lease_margin_s
        self.margin_s = margin
        self.budget_s = min(constants.INVOKE_BATCH_BUDGET_S, margin / 2)
        self.clients: dict[int, ScriptsClient] = {}
        self.spool_dir = spool_dir(get_settings().data_dir)
        self.holder = f"batch:{uuid.uuid4().hex}"  # the batch's name as a concurrency slot holder
        self.slot: Limits | None = None  # the connection whose concurrency slot the batch holds
        self.lease_s = 0.0  # set by the claim

    def claim(self, ids: list[int]) -> list[tuple[_Context, runs.Claim]]:
        with self.db.claim() as session:
            contexts = _load(session, ids)
            for missing in (ident for ident in ids if ident not in contexts):
                logger.warning("invoke: invocation %s does not exist", missing)
            if not contexts:
                return []
            lease_s = max(ctx.schedule.timeout_s for ctx in contexts.values()) + self.margin_s
            claims = runs.claim_invocations(session, list(contexts), now=self.deps.now(), lease_s=lease_s)
        self.lease_s = lease_s
        return [(contexts[ident], claims[ident]) for ident in ids if ident in claims]

    def run(self, claimed: list[tuple[_Context, runs.Claim]]) -> None:
        for position, (ctx, claim) in enumerate(claimed):
            now = time.monotonic()
            if position and now - self.started >= self.budget_s:
                self._give_back([claim for _ctx, claim in claimed[position:]])
                return
            if self.ended and now - self.flushed >= constants.INVOKE_BATCH_FLUSH_S:
                self.flush()
            with log_context(run_id=claim.run_id, invocation_id=claim.invocation_id):
                self.outcomes[claim.invocation_id] = _run_claimed(self, ctx, claim)

    def finish(self) -> None:
        try:
            self.release_slot()
        finally:
            self.flush()

    def acquire(self, limits: Limits) -> Decision:
        """The limiter's decision for the next request. The batch holds one concurrency slot across its
        requests to one connection (one request in flight at a time): taking it again is the same
        Redis call as taking the rate token, and giving it back between requests is spared."""
        if self.slot is not None and self.slot.connection_id != limits.connection_id:
            self.release_slot()
        decision = _acquire(self.deps, limits, self.holder, self.lease_s)
        # told to wait, the limiter took the slot back itself; allowed, the batch holds it
        self.slot = limits if decision.allowed and limits.max_concurrency > 0 else None
        return decision

    def request_done(self) -> None:
        """The request has its answer: keep the slot for the next one only while storing is local
        (a remote store's upload must not hold the connection's slot)."""
        if not self.deps.store.local:
            self.release_slot()

    def release_slot(self) -> None:
        slot, self.slot = self.slot, None
        if slot is not None:
            _release(self.deps, slot, self.holder)

    def scripts_client(self, ctx: _Context) -> ScriptsClient:
        client = self.clients.get(int(ctx.connection.id or 0))
        if client is None:
            client = self.clients[int(ctx.connection.id or 0)] = _scripts_client(ctx, self.deps)
        return client

    def _give_back(self, claims: list[runs.Claim]) -> None:
        with self.db.single() as session:
            ids = runs.release_claims(session, claims, now=self.deps.now())
        logger.info(
            "batch over its %.1f s budget: %d invocation(s) back to the queue", self.budget_s, len(ids)
        )
        try:
            self.deps.send(constants.TASK_INVOKE, constants.QUEUE_INVOKE, ids)
        except EnqueueError as exc:  # they are QUEUED in the database: the beat's sweep sends them
            logger.warning("could not send %d given-back invocation(s) now: %s", len(ids), exc)

    def end(self, ctx: _Context, ending: runs.Ending) -> None:
        """Record ``ending`` with the next flush (its result, if any, is in the store already)."""
        self.ended.append(_Ended(ctx, ending))
        self.outcomes[ending.claim.invocation_id] = Outcome.SUCCEEDED if ending.succeeded else Outcome.FAILED

    def flush(self) -> None:
        """Record every ended invocation (one transaction), then log, count and plan what follows."""
        ended, self.ended = self.ended, []
        self.flushed = time.monotonic()
        if not ended:
            return
        finished: dict[int, RunStatus] = {}
        recorded = ended
        try:
            with self.db.transaction() as session:
                finished = runs.record_endings(session, [item.ending for item in ended])
        except runs.LostClaimError:  # one of them changed hands: record each on its own
            recorded = []
            for item in ended:
                try:
                    with self.db.transaction() as session:
                        finished.update(runs.record_endings(session, [item.ending]))
                    recorded.append(item)
                except runs.LostClaimError:
                    self.outcomes[item.ending.claim.invocation_id] = Outcome.LOST
                    logger.warning(
                        "invocation %s: lease lost to another worker; its outcome stands",
                        item.ending.claim.invocation_id,
                    )
        self._after_recorded(recorded)
        for run_id, status in finished.items():
            events.run_finished(run_id, status, self.deps.send)

    def _after_recorded(self, recorded: list[_Ended]) -> None:
        """Count and log what was recorded (a line per failure, one per run for the successes), and
        send the deliveries of the successes whose schedule has destinations."""
        by_run: dict[int, list[runs.Ending]] = {}
        for item in recorded:
            if item.ending.succeeded:
                by_run.setdefault(item.ending.claim.run_id, []).append(item.ending)
        for run_id, endings in by_run.items():
            metrics.INVOCATIONS_TOTAL.labels(status="succeeded").inc(len(endings))
            with log_context(run_id=run_id):
                logger.info(
                    "%d invocation(s) succeeded: %d bytes, %d rows",
                    len(endings),
                    sum(ending.size_bytes or 0 for ending in endings),
                    sum(ending.rows or 0 for ending in endings),
                )
        debug = logger.isEnabledFor(logging.DEBUG)
        for item in recorded:
            ending = item.ending
            # deliveries come from destinations: none, nothing to plan
            if ending.succeeded and not debug and not item.ctx.schedule.destinations:
                continue
            with log_context(run_id=ending.claim.run_id, invocation_id=ending.claim.invocation_id):
                if not ending.succeeded:
                    metrics.INVOCATIONS_TOTAL.labels(status="failed").inc()
                    logger.warning(
                        "invocation failed after %d attempt(s): %s", ending.claim.attempt, ending.error
                    )
                    continue
                logger.debug("invocation succeeded: %d bytes, %d rows", ending.size_bytes, ending.rows)
                if item.ctx.schedule.destinations:
                    events.invocation_succeeded(ending.claim.invocation_id, self.deps.send)


def _run_claimed(batch: _Batch, ctx: _Context, claim: runs.Claim) -> Outcome:
    deps, db = batch.deps, batch.db
    conn = ctx.connection
    limits = Limits(
        connection_id=int(conn.id or 0),
        rate_per_s=conn.rate_per_s,
        burst=conn.burst,
        max_concurrency=conn.max_concurrency,
    )
    decision = batch.acquire(limits)
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
        spooled, error = _invoke(batch, ctx)
    finally:
        batch.request_done()
    if error is None and spooled is not None:
        try:
            return _store_and_succeed(batch, ctx, claim, spooled, started)
        except PermanentStoreError as exc:
            error = PermanentError(f"result store: {exc}")
        except Exception as exc:  # a store that may work next time (S3 down, disk full ...)
            error = RetryableError(f"result store: {type(exc).__name__}: {exc}")
        finally:
            spooled.path.unlink(missing_ok=True)
    assert error is not None
    return _record_error(batch, ctx, claim, limits, error, started)


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


def _scripts_client(ctx: _Context, deps: InvokeDeps) -> ScriptsClient:
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
        return ScriptsClient(ctx.connection.url, token, timeout=ctx.schedule.timeout_s, client=deps.http)
    except ValueError as exc:  # the client's argument checks: "base_url: ...", "token: ..."
        raise PermanentError(f"connection {ctx.connection.name!r} is not usable: {exc}") from None


def _invoke(batch: _Batch, ctx: _Context) -> tuple[Spooled | None, Exception | None]:
    """Call the script and spool its CSV; returns (spooled, None) or (None, the error)."""
    timeout_s = ctx.schedule.timeout_s
    started = time.monotonic()
    try:
        client = batch.scripts_client(ctx)
        with client.invoke(ctx.schedule.script_id, ctx.invocation.params, timeout=timeout_s) as result:
            spooled = spool_chunks(result.iter_bytes(), batch.spool_dir)
    except InfluxError as exc:  # the client's errors, and the permanent ones of _scripts_client
        return None, exc
    except Exception as exc:  # a bug or a local fault: retried like a transient error, never silent
        logger.exception("invoke failed unexpectedly")
        return None, RetryableError(f"internal error: {type(exc).__name__}")
    finally:
        metrics.INVOKE_SECONDS.observe(time.monotonic() - started)
    return spooled, None


def _store_and_succeed(
    batch: _Batch, ctx: _Context, claim: runs.Claim, spooled: Spooled, started: datetime
) -> Outcome:
    key = result_key(ctx.schedule, ctx.run, ctx.invocation)
    location = batch.deps.store.put(key, spooled.path)
    batch.end(
        ctx,
        runs.Ending(
            claim,
            True,
            batch.deps.now(),
            started_at=started,
            http_status=200,
            location=location,
            size_bytes=spooled.size_bytes,
            rows=spooled.rows,
            sha256=spooled.sha256,
        ),
    )
    return Outcome.SUCCEEDED


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
    batch: _Batch,
    ctx: _Context,
    claim: runs.Claim,
    limits: Limits,
    error: Exception,
    started: datetime,
) -> Outcome:
    deps = batch.deps
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
        with batch.db.single() as session:
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
    batch.end(
        ctx, runs.Ending(claim, False, deps.now(), started_at=started, http_status=status, error=message)
    )
    return Outcome.FAILED
