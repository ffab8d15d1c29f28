"""``scriptcron beat``: the database-backed Celery beat (fires due schedules, sends due and lost work)."""

from __future__ import annotations

from typing import Annotated

import typer

SCHEDULER = "worker.beat:DatabaseScheduler"


def beat_argv(*, loglevel: str, max_interval_s: float | None = None) -> list[str]:
    """The ``celery beat`` arguments: the database scheduler and the log level."""
    argv = ["beat", "--scheduler", SCHEDULER, "--loglevel", loglevel]
    if max_interval_s is not None:
        argv += ["--max-interval", str(max_interval_s)]
    return argv


def register(app: typer.Typer) -> None:
    @app.command("beat")
    def beat(
        loglevel: Annotated[
            str | None, typer.Option("--loglevel", "-l", help="Log level; default: SCRIPTCRON_LOG_LEVEL.")
        ] = None,
    ) -> None:
        """Run the beat: every SCRIPTCRON_BEAT_TICK_S (1 s) fire due schedules, send due retries, sweep.

        Several beats may run at once (for availability): a fire is never duplicated.
        """
        from app.settings import get_settings

        settings = get_settings()
        from worker.celery_app import celery_app

        celery_app.start(beat_argv(loglevel=(loglevel or settings.log_level).upper()))
