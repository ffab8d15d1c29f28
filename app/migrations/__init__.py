"""Alembic migrations of the scriptcron database (shipped inside the package).

``scriptcron db upgrade`` and the tests call :func:`upgrade`; nothing creates tables any other way.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from app.db import get_engine, make_engine
from app.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for ``url`` (default: the settings' database URL)."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return config


def _run(action: str, revision: str, url: str | None, engine: Engine | None) -> None:
    config = alembic_config(url)
    if engine is None:
        engine = make_engine(url) if url else get_engine()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def upgrade(revision: str = "head", *, url: str | None = None, engine: Engine | None = None) -> None:
    """Apply the migrations up to ``revision`` (default: all)."""
    _run("upgrade", revision, url, engine)


def downgrade(revision: str, *, url: str | None = None, engine: Engine | None = None) -> None:
    """Revert the migrations down to ``revision`` (``base``: an empty database)."""
    _run("downgrade", revision, url, engine)


def current_revision(*, url: str | None = None) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url) if url else get_engine()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
