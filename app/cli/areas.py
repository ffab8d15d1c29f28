"""The list of CLI areas. Each entry is a ``register(app: typer.Typer) -> None`` function."""

from __future__ import annotations

from collections.abc import Callable

import typer

from app.cli import beat as beat_cli
from app.cli import emulator, scripts
from app.cli import up as up_cli
from app.cli import worker as worker_cli

REGISTRARS: list[Callable[[typer.Typer], None]] = [
    scripts.register,
    emulator.register,
    worker_cli.register,
    beat_cli.register,
    up_cli.register,
]
