"""Real beat processes (``scriptcron beat``) against a real PostgreSQL and a real Redis broker."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from app import constants
from app.db import utcnow
from app.settings import override_settings
from tests.support.services import scriptcron_cmd
from tests.worker.beat_support import add_schedule, runs, truncate

pytestmark = pytest.mark.integration
WAIT_S = 60.0
KEY = Fernet.generate_key().decode()


@pytest.fixture
def engine(pg_engine: Engine) -> Engine:
    truncate(pg_engine)
    return pg_engine


@contextmanager
def beats(
    engine: Engine, redis_url: str, logs: Path, count: int = 1
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` beat processes on this database and broker, stopped (SIGTERM) on exit."""
    env = {
        **os.environ,
        "SCRIPTCRON_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SCRIPTCRON_BROKER_URL": redis_url,
        "SCRIPTCRON_METRICS_PORT": "0",
        "SCRIPTCRON_LOG_LEVEL": "INFO",
    }
    procs = []
    try:
        for n in range(count):
            log = open(logs / f"beat-{n}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(scriptcron_cmd("beat"), env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(condition: Callable[[], bool], procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        dead = [p.returncode for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            text = "\n".join(p.read_text()[-2000:] for p in sorted(logs.glob("beat-*.log")))
            pytest.fail(f"condition not met (exited: {dead}); logs:\n{text}")
        time.sleep(0.2)


def queued_run_ids(redis_url: str) -> list[int]:
    """The run ids of the fire_run messages waiting on the broker's default queue."""
    client = redis.Redis.from_url(redis_url)
    try:
        ids = []
        for raw in client.lrange(constants.QUEUE_DEFAULT, 0, -1):
            message = json.loads(raw)
            assert message["headers"]["task"] == constants.TASK_FIRE_RUN
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.append(int(args[0]))
        return ids
    finally:
        client.close()


def assert_each_second_once(times: list, label: object = "") -> None:
    assert len(times) == len(set(times)), label
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times)), (label, times)


def test_a_schedule_every_second_fires_each_second_once_and_sends_each_run_once(
    engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    s = add_schedule(engine, now=utcnow(), interval_s=1)
    with beats(engine, redis_url, tmp_path) as procs:
        wait_until(lambda: len(runs(engine)) >= 6, procs, tmp_path)
    times = [r.scheduled_for for r in runs(engine, s.id)]
    assert_each_second_once(times)
    assert sorted(queued_run_ids(redis_url)) == sorted(r.id for r in runs(engine))


def test_api_changes_take_effect_without_a_restart(engine: Engine, redis_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    url = engine.url.render_as_string(hide_password=False)
    with (
        override_settings(database_url=url, broker_url=redis_url, api_tokens=["t"], encryption_key=KEY),
        TestClient(create_app(), headers={"Authorization": "Bearer t"}) as api,
        beats(engine, redis_url, tmp_path) as procs,
    ):
        connection = api.post(
            "/api/v1/connections", json={"name": "c", "url": "http://127.0.0.1:9", "token": "tok"}
        )
        assert connection.status_code == 201, connection.text
        body = {"connection_id": connection.json()["id"], "script_id": "abc", "interval_s": 1}
        first = api.post("/api/v1/schedules", json={**body, "name": "first"}).json()["id"]
        wait_until(lambda: len(runs(engine, first)) >= 2, procs, tmp_path)  # created: fires at once

        assert api.post(f"/api/v1/schedules/{first}/pause").status_code == 200
        fired_before_pause = len(runs(engine, first))
        second = api.post("/api/v1/schedules", json={**body, "name": "second"}).json()["id"]
        wait_until(lambda: len(runs(engine, second)) >= 2, procs, tmp_path)

        assert api.patch(f"/api/v1/schedules/{second}", json={"interval_s": 2}).status_code == 200
        edited_at = len(runs(engine, second))
        wait_until(lambda: len(runs(engine, second)) >= edited_at + 3, procs, tmp_path)
    assert len(runs(engine, first)) <= fired_before_pause + 1  # at most a tick already in flight
    times = [r.scheduled_for for r in runs(engine, second)]
    assert [b - a for a, b in zip(times[-3:], times[-2:], strict=False)] == [timedelta(seconds=2)] * 2


def test_two_beats_at_once_never_duplicate_a_fire(engine: Engine, redis_url: str, tmp_path: Path) -> None:
    start = utcnow()
    schedules = [add_schedule(engine, name=f"s{n}", now=start, interval_s=1) for n in range(20)]
    with beats(engine, redis_url, tmp_path, count=2) as procs:
        wait_until(lambda: len(runs(engine)) >= 220, procs, tmp_path)
    all_runs = runs(engine)
    for schedule in schedules:
        assert_each_second_once(
            [r.scheduled_for for r in all_runs if r.schedule_id == schedule.id], schedule.id
        )
    sent = queued_run_ids(redis_url)
    duplicates = [run_id for run_id, n in Counter(sent).items() if n > 1]
    assert duplicates == []
    assert sorted(sent) == sorted(r.id for r in all_runs)
