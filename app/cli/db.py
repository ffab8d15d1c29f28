"""``scriptcron db ...``: database migrations (Alembic, shipped in the package)."""

from __future__ import annotations

from typing import Annotated

import typer

db_app = typer.Typer(name="db", help="Database migrations.", no_args_is_help=True)


@db_app.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations (to the latest by default) to SCRIPTCRON_DATABASE_URL."""
    from app import migrations

    migrations.upgrade(revision)
    typer.echo(f"database at revision {migrations.current_revision()}")


@db_app.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision ('base': empty).")]) -> None:
    """Revert the migrations down to REVISION."""
    from app import migrations

    migrations.downgrade(revision)
    typer.echo(f"database at revision {migrations.current_revision()}")


@db_app.command()
def current() -> None:
    """Print the database's revision (nothing applied: 'none')."""
    from app import migrations

    typer.echo(migrations.current_revision() or "none")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
