"""Entry point of the ``scriptcron`` command: one Typer app, one sub-app or command per area."""

from __future__ import annotations

import sys

import typer

from app import __version__
from app.settings import SettingsError

app = typer.Typer(
    name="scriptcron",
    help="Run InfluxDB invocable scripts on schedules, fan them out, deliver the CSV to S3 or webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """scriptcron: scheduled, fanned-out InfluxDB script invocations with delivery to S3 and webhooks."""


@app.command()
def version() -> None:
    """Print the scriptcron version."""
    typer.echo(__version__)


def _register() -> None:
    """Attach every area's commands. Each module exposes ``register(app)``."""
    from app.cli import areas

    for register in areas.REGISTRARS:
        register(app)


def main() -> None:
    _register()
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
