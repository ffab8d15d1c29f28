"""``scriptcron worker``: a Celery worker for fire_run, invoke and deliver tasks."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from app import constants

ALL_QUEUES = (constants.QUEUE_DEFAULT, constants.QUEUE_INVOKE, constants.QUEUE_DELIVER)


class Pool(StrEnum):
    PREFORK = "prefork"
    THREADS = "threads"
    SOLO = "solo"


def worker_argv(
    *, concurrency: int | None, queues: list[str], pool: Pool, loglevel: str, hostname: str | None
) -> list[str]:
    """The ``celery worker`` arguments for these options."""
    argv = ["worker", "--pool", pool.value, "--loglevel", loglevel, "-Q", ",".join(queues)]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    if hostname:
        argv += ["--hostname", hostname]
    return argv


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        concurrency: Annotated[
            int | None,
            typer.Option("--concurrency", "-c", min=1, help="Processes (or threads); default: CPUs."),
        ] = None,
        queues: Annotated[
            list[str] | None,
            typer.Option(
                "--queues",
                "-Q",
                help=f"Queues to consume (repeat or comma-separate); default: {', '.join(ALL_QUEUES)}.",
            ),
        ] = None,
        pool: Annotated[
            Pool, typer.Option("--pool", help="prefork (default), threads, or solo.")
        ] = Pool.PREFORK,
        hostname: Annotated[str | None, typer.Option("--hostname", "-n", help="Worker node name.")] = None,
    ) -> None:
        """Run a worker: fan-out, invokes with fleet-wide rate limits, deliveries."""
        from app.settings import get_settings

        settings = get_settings()
        chosen = [q.strip() for item in (queues or list(ALL_QUEUES)) for q in item.split(",") if q.strip()]
        unknown = sorted(set(chosen) - set(ALL_QUEUES))
        if unknown:
            raise typer.BadParameter(
                f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(ALL_QUEUES)}",
                param_hint="--queues",
            )
        from worker.celery_app import celery_app

        celery_app.worker_main(
            worker_argv(
                concurrency=concurrency,
                queues=chosen,
                pool=pool,
                loglevel=settings.log_level,
                hostname=hostname,
            )
        )
