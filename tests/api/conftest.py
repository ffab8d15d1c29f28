"""The API under test, over HTTP (Starlette's TestClient), on SQLite and on PostgreSQL.

Schemas are created by the Alembic migrations (never ``create_all``), so every test exercises them.
Tasks go to a private Redis server (the broker), where tests can read what was sent.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app import constants
from app.db import dispose_engines, make_engine
from app.migrations import upgrade
from app.settings import Settings, override_settings

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TABLES = ["delivery", "invocation", "run", "schedule", "connection"]


@pytest.fixture(scope="session")
def pg_migrated(pg_url: str) -> str:
    engine = make_engine(pg_url)
    upgrade(engine=engine, url=pg_url)
    engine.dispose()
    return pg_url


def migrated_sqlite(path: Path) -> Path:
    """A SQLite file at ``path`` with every migration applied (WAL checkpointed, so it can be copied)."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine=engine, url=url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    return migrated_sqlite(tmp_path_factory.mktemp("sqlite-template") / "template.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database truncated."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "api.db")
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    url = request.getfixturevalue("pg_migrated")
    yield url
    engine = make_engine(url)
    with engine.begin() as conn:  # DELETE is much cheaper than TRUNCATE on tables this small
        for table in TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture
def api_settings(tmp_path: Path, db_url: str, redis_url: str) -> Iterator[Settings]:
    with override_settings(
        database_url=db_url,
        data_dir=str(tmp_path),
        broker_url=redis_url,
        result_store_url=f"file://{tmp_path / 'results'}",
        api_tokens=[TOKEN, "second-token"],
        webhook_allow_loopback=True,
        max_param_sets=100,
        max_backfill_runs=20,
    ) as value:
        yield value
    dispose_engines()


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    from app.api.main import create_app

    with TestClient(create_app(), headers=AUTH, raise_server_exceptions=False) as test_client:
        yield test_client


def sent_tasks(redis_url: str, queue: str) -> list[tuple[str, list[Any]]]:
    """(task name, args) of every message waiting in a broker queue (kombu's Redis list)."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    try:
        raw = conn.lrange(queue, 0, -1)
    finally:
        conn.close()
    tasks = []
    for item in reversed(raw):
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], body[0]))
    return tasks


def fire_runs_sent(redis_url: str) -> list[int]:
    return [
        args[0]
        for name, args in sent_tasks(redis_url, constants.QUEUE_DEFAULT)
        if name == constants.TASK_FIRE_RUN
    ]


def invokes_sent(redis_url: str) -> list[int]:
    """The invocation ids of every invoke message (one message may carry a list of them)."""
    ids: list[int] = []
    for name, args in sent_tasks(redis_url, constants.QUEUE_INVOKE):
        if name == constants.TASK_INVOKE:
            ids.extend(args[0] if isinstance(args[0], list) else [args[0]])
    return ids


def make_connection(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": "influx", "url": "http://127.0.0.1:9", "org": "org1", "token": "secret-token-abcd"}
    response = client.post("/api/v1/connections", json={**body, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_schedule(client: TestClient, connection_id: int, **overrides: Any) -> dict[str, Any]:
    body = {"name": "hourly", "connection_id": connection_id, "script_id": "abc123", "cron": "0 * * * *"}
    response = client.post("/api/v1/schedules", json={**body, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())
