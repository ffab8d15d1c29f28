"""Database fixtures shared by the beat's dispatch and sweep tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.worker.beat_support import postgres_engine, sqlite_engine, truncate


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    """A migrated throwaway PostgreSQL database, one per test module."""
    with postgres_engine() as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same test on a fresh SQLite file and on the (emptied) PostgreSQL database."""
    if request.param == "sqlite":
        value = sqlite_engine(str(tmp_path / "beat.db"))
        yield value
        value.dispose()
    else:
        value = request.getfixturevalue("pg_engine")
        truncate(value)
        yield value
