"""Shared fixtures. Real components come from tests/support/services.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db import dispose_engines
from app.settings import Settings, override_settings
from tests.support.emulator import EmulatorServer
from tests.support.services import RedisServer, postgres_database, unavailable


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server of this test session's own, on a free port."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
        server.start()
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"cannot start redis-server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The private Redis server, flushed before each test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session (skips locally, fails in CI if absent)."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scriptcron.db'}"


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Iterator[Settings]:
    """Settings for one test: a private SQLite database and result folder, a known API token."""
    with override_settings(
        database_url=sqlite_url,
        data_dir=str(tmp_path),
        result_store_url=f"file://{tmp_path / 'results'}",
        api_tokens=["test-token"],
        webhook_allow_loopback=True,
    ) as value:
        yield value
    dispose_engines()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    """A real emulator process on a free port (token ``emulator-token``, org ``emulator``), no sample data."""
    try:
        server = EmulatorServer(log_path=tmp_path / "emulator.log").start()
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"cannot start the emulator: {exc}")
    yield server
    server.stop()
