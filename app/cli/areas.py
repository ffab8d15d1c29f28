"""The list of CLI areas. Each entry is a ``register(app: typer.Typer) -> None`` function."""

from __future__ import annotations

from collections.abc import Callable

import typer

from app.cli import api as api_cli
from app.cli import beat as beat_cli
from app.cli import connections as connections_cli
from app.cli import db as db_cli
from app.cli import emulator, scripts
from app.cli import runs as runs_cli
from app.cli import schedules as schedules_cli
from app.cli import up as up_cli
from app.cli import worker as worker_cli

REGISTRARS: list[Callable[[typer.Typer], None]] = [
    scripts.register,
    emulator.register,
    worker_cli.register,
    beat_cli.register,
    up_cli.register,
    api_cli.register,
    db_cli.register,
    connections_cli.register,
    schedules_cli.register,
    runs_cli.register,
]
