"""The database-backed Celery beat scheduler: ``celery beat -S worker.beat:DatabaseScheduler``.

Celery's own schedulers keep their entries in memory (or a shelve file) and fire them from a heap.
This one keeps no entries: every tick reads the database, so a schedule created, edited, paused or
deleted through the API takes effect on the next tick (``settings.beat_tick_s``, 1 s by default)
without a restart, and any number of beats can run at once (see :mod:`worker.dispatch`).

One tick (:func:`beat_tick`): fire due schedules (:func:`worker.dispatch.fire_due_schedules`), then
send delayed work come due and sweep work never picked up (:func:`worker.sweep.sweep`). It returns
how long to sleep: ``beat_tick_s``, or less when something is due sooner, or 0 when a batch was full.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.beat import Scheduler
from sqlalchemy.engine import Engine

from app import constants, metrics
from app.db import get_engine, utcnow
from app.settings import Settings, get_settings
from worker.dispatch import FireResult, fire_due_schedules, next_due
from worker.enqueuer import CeleryEnqueuer, Enqueuer
from worker.sweep import SweepResult, sweep

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class TickResult:
    """What one tick did, and how long the beat may sleep before the next."""

    fired: FireResult
    swept: SweepResult
    sleep_s: float


@dataclass
class BeatState:
    """What a beat remembers between ticks, to keep an idle tick to two short queries."""

    work_due_at: datetime | None = None  # the earliest waiting invocation/delivery, at the last tick
    swept_at: datetime | None = None  # the last sweep


def _sweep_now(state: BeatState, now: datetime) -> bool:
    if state.swept_at is None or now - state.swept_at >= timedelta(seconds=constants.BEAT_SWEEP_EVERY_S):
        return True
    return state.work_due_at is not None and state.work_due_at <= now


def beat_tick(
    engine: Engine,
    enqueuer: Enqueuer,
    now: datetime,
    settings: Settings,
    *,
    state: BeatState | None = None,
    clock: Clock = utcnow,
) -> TickResult:
    """One beat tick at ``now`` on one database connection.

    Fires due schedules; sweeps (sends waiting work come due, re-sends lost work) when waiting work is
    due or every ``BEAT_SWEEP_EVERY_S``; then reads when the next thing is due to size the sleep
    (measured against ``clock()`` after the work). A fresh ``state`` sweeps every tick.
    """
    state = state if state is not None else BeatState()
    with engine.connect() as conn:
        fired = fire_due_schedules(conn, enqueuer, now)
        swept = SweepResult()
        if _sweep_now(state, now):
            swept = sweep(conn, enqueuer, now, requeue_after_s=settings.sweep_requeue_after_s)
            state.swept_at = now
        if fired.full:
            return TickResult(fired, swept, 0.0)
        due = next_due(conn)
    state.work_due_at = due.work
    earliest = due.earliest
    if earliest is None:
        return TickResult(fired, swept, settings.beat_tick_s)
    sleep_s = min(settings.beat_tick_s, max(0.0, (earliest - clock()).total_seconds()))
    return TickResult(fired, swept, sleep_s)


class DatabaseScheduler(Scheduler):
    """A Celery beat scheduler whose schedules are rows in the scriptcron database."""

    def __init__(self, app: Any, *args: Any, clock: Clock = utcnow, **kwargs: Any) -> None:
        self._clock = clock
        self._enqueuer: Enqueuer | None = None
        self._in_tick = False
        self._stop_requested = False
        self._state = BeatState()
        super().__init__(app, *args, **kwargs)
        self.max_interval = get_settings().beat_tick_s
        if not kwargs.get("lazy"):
            self._finish_tick_on_stop()

    def _finish_tick_on_stop(self) -> None:
        """On SIGTERM/SIGINT mid-tick, finish the tick (its runs are committed: send them) then stop."""
        if threading.current_thread() is not threading.main_thread():
            return

        def _stop(signum: int, frame: Any) -> None:
            if self._in_tick:
                self._stop_requested = True
            else:
                raise SystemExit(0)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def setup_schedule(self) -> None:
        """No static entries: the schedules live in the database."""

    @property
    def enqueuer(self) -> Enqueuer:
        if self._enqueuer is None:
            self._enqueuer = CeleryEnqueuer(self.app)
        return self._enqueuer

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Run one tick; never raise (a database or broker outage is logged and retried next tick)."""
        settings = get_settings()
        started = time.perf_counter()
        self._in_tick = True
        try:
            result = beat_tick(
                get_engine(), self.enqueuer, self._clock(), settings, state=self._state, clock=self._clock
            )
        except Exception:
            logger.exception("beat: tick failed; retrying in %.1f s", settings.beat_tick_s)
            return settings.beat_tick_s
        finally:
            self._in_tick = False
            metrics.BEAT_TICK_SECONDS.observe(time.perf_counter() - started)
            if self._stop_requested:
                raise SystemExit(0)
        return result.sleep_s

    def sync(self) -> None:
        """Nothing to save: every change is committed as it happens."""

    @property
    def info(self) -> str:
        url = get_engine().url.render_as_string(hide_password=True)
        return f"    . database -> {url}\n    . tick -> {get_settings().beat_tick_s} s"
