"""The Alembic migrations build exactly the schema the models describe, and revert cleanly."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.db import make_engine
from app.migrations import current_revision, downgrade, upgrade


def schema_drift(url: str) -> list[object]:
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    engine.dispose()
    return list(diff)


def test_upgrade_builds_the_models_schema_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url=url)
    assert current_revision(url=url) == "0001"
    assert schema_drift(url) == []


def test_upgrade_builds_the_models_schema_on_postgresql(pg_migrated: str) -> None:
    assert current_revision(url=pg_migrated) == "0001"
    assert schema_drift(pg_migrated) == []


def test_downgrade_to_base_removes_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url=url)
    downgrade("base", url=url)
    engine = make_engine(url)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url=url)  # and back up again
    assert current_revision(url=url) == "0001"
