"""The list of CLI areas. Each entry is a ``register(app: typer.Typer) -> None`` function."""

from __future__ import annotations

from collections.abc import Callable

import typer

REGISTRARS: list[Callable[[typer.Typer], None]] = []
