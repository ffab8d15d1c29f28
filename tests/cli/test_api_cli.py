"""``scriptcron connections|schedules|runs|db``: the CLI against a real API server (uvicorn, free port)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli.main import app as cli_app
from app.db import dispose_engines, get_engine
from app.models import Run, RunKind, RunStatus
from app.settings import override_settings
from tests.api.conftest import migrated_sqlite
from tests.support.services import free_port, wait_for_port

pytestmark = pytest.mark.integration
TOKEN = "cli-token"


@pytest.fixture(scope="module")
def cli() -> Any:
    from app.cli.main import _register

    if not any(group.name == "runs" for group in cli_app.registered_groups):
        _register()
    return cli_app


@pytest.fixture
def live_api(tmp_path: Path, sqlite_template: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """The API served by uvicorn on a free port in this process; env for the CLI to reach it."""
    shutil.copyfile(sqlite_template, tmp_path / "cli.db")
    with override_settings(
        database_url=f"sqlite:///{tmp_path / 'cli.db'}",
        data_dir=str(tmp_path),
        broker_url=redis_url,
        result_store_url=f"file://{tmp_path / 'results'}",
        api_tokens=[TOKEN],
    ):
        from app.api.main import create_app

        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(), host="127.0.0.1", port=port, log_config=None, log_level=None, access_log=False
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for_port(port)
        try:
            yield {"SCRIPTCRON_API_URL": f"http://127.0.0.1:{port}", "SCRIPTCRON_API_TOKEN": TOKEN}
        finally:
            server.should_exit = True
            thread.join(10)
    dispose_engines()


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite(tmp_path_factory.mktemp("cli-template") / "template.db")


def run(cli: Any, env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


def run_json(cli: Any, env: dict[str, str], *args: str) -> Any:
    result = run(cli, env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_connections_create_list_get_and_mask_the_token(cli: Any, live_api: dict[str, str]) -> None:
    created = run_json(cli, live_api, "connections", "create", "--name", "c1", "--url", "http://127.0.0.1:9",
                       "--token", "supersecret-9876")  # fmt: skip
    assert created["token_masked"] == "****9876"
    table = run(cli, live_api, "connections", "list")
    assert table.exit_code == 0
    assert "c1" in table.stdout
    assert "supersecret" not in table.stdout
    assert run_json(cli, live_api, "connections", "get", str(created["id"]))["name"] == "c1"


def test_an_api_error_prints_code_and_message_and_exits_1(cli: Any, live_api: dict[str, str]) -> None:
    result = run(cli, live_api, "connections", "get", "999")
    assert result.exit_code == 1
    assert "error: not found: connection 999 not found" in result.stderr


def test_a_wrong_token_exits_1_with_unauthorized(cli: Any, live_api: dict[str, str]) -> None:
    result = run(cli, {**live_api, "SCRIPTCRON_API_TOKEN": "nope"}, "connections", "list")
    assert result.exit_code == 1
    assert "unauthorized" in result.stderr


def test_schedules_create_from_flags_then_pause_resume_next(cli: Any, live_api: dict[str, str]) -> None:
    conn = run_json(
        cli, live_api, "connections", "create", "--name", "c", "--url", "http://h", "--token", "t"
    )
    sched = run_json(cli, live_api, "schedules", "create", "--name", "s", "--connection", str(conn["id"]),
                     "--script", "abc", "--cron", "30 2 * * *", "--timezone", "Europe/Berlin",
                     "--param", "host=a", "--param", "n=3", "--matrix", "region=eu,us")  # fmt: skip
    assert sched["params"] == [{"host": "a", "n": 3}]
    assert sched["param_matrix"] == {"region": ["eu", "us"]}
    assert run_json(cli, live_api, "schedules", "pause", str(sched["id"]))["next_fire_at"] is None
    assert run_json(cli, live_api, "schedules", "resume", str(sched["id"]))["next_fire_at"] is not None
    fires = run_json(cli, live_api, "schedules", "next", str(sched["id"]), "--count", "3")["fires"]
    assert len(fires) == 3
    listed = run(cli, live_api, "schedules", "list", "--name", "s")
    assert "Europe/Berlin" in listed.stdout


def test_schedules_create_from_a_yaml_file(cli: Any, live_api: dict[str, str], tmp_path: Path) -> None:
    conn = run_json(
        cli, live_api, "connections", "create", "--name", "c", "--url", "http://h", "--token", "t"
    )
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"name: from-file\nconnection_id: {conn['id']}\nscript_id: abc\ninterval_s: 300\n"
        "params:\n  - {start: '{window_start}', stop: '{window_end}'}\n"
    )
    sched = run_json(cli, live_api, "schedules", "create", "--file", str(spec))
    assert sched["interval_s"] == 300
    assert sched["params"] == [{"start": "{window_start}", "stop": "{window_end}"}]


def test_invalid_schedule_flags_report_the_field(cli: Any, live_api: dict[str, str]) -> None:
    conn = run_json(
        cli, live_api, "connections", "create", "--name", "c", "--url", "http://h", "--token", "t"
    )
    result = run(cli, live_api, "schedules", "create", "--name", "bad", "--connection", str(conn["id"]),
                 "--script", "abc", "--cron", "61 * * * *")  # fmt: skip
    assert result.exit_code == 1
    assert "error: invalid: cron:" in result.stderr


def test_trigger_backfill_and_runs_list(cli: Any, live_api: dict[str, str]) -> None:
    conn = run_json(
        cli, live_api, "connections", "create", "--name", "c", "--url", "http://h", "--token", "t"
    )
    sched = run_json(cli, live_api, "schedules", "create", "--name", "s", "--connection", str(conn["id"]),
                     "--script", "abc", "--cron", "0 * * * *")  # fmt: skip
    triggered = run_json(cli, live_api, "schedules", "trigger", str(sched["id"]))
    assert triggered["run"]["kind"] == "manual"
    backfill = run(cli, live_api, "schedules", "backfill", str(sched["id"]),
                   "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T05:00:00Z")  # fmt: skip
    assert backfill.exit_code == 0, backfill.output
    assert "created 5 runs" in backfill.stdout
    runs = run_json(cli, live_api, "runs", "list", "--schedule", str(sched["id"]))
    assert len(runs) == 6
    shown = run_json(cli, live_api, "runs", "show", str(triggered["run"]["id"]))
    assert shown["invocations"] == []


def test_runs_watch_shows_progress_until_the_run_ends(cli: Any, live_api: dict[str, str]) -> None:
    conn = run_json(
        cli, live_api, "connections", "create", "--name", "c", "--url", "http://h", "--token", "t"
    )
    sched = run_json(cli, live_api, "schedules", "create", "--name", "s", "--connection", str(conn["id"]),
                     "--script", "abc", "--cron", "0 * * * *")  # fmt: skip
    with Session(get_engine()) as session:
        row = Run(schedule_id=sched["id"], kind=RunKind.MANUAL, status=RunStatus.RUNNING,
                  scheduled_for=datetime.now(UTC), total=4)  # fmt: skip
        session.add(row)
        session.commit()
        run_id = row.id

    def progress() -> None:
        for step in range(1, 5):
            time.sleep(0.15)
            with Session(get_engine()) as session:
                current = session.get(Run, run_id)
                assert current is not None
                current.succeeded = step
                if step == 4:
                    current.status = RunStatus.SUCCEEDED
                session.add(current)
                session.commit()

    worker = threading.Thread(target=progress)
    worker.start()
    result = run(cli, live_api, "runs", "watch", str(run_id), "--interval", "0.05")
    worker.join()
    assert result.exit_code == 0, result.output
    assert "4/4" in result.stdout
    assert f"run {run_id} succeeded: 4 succeeded, 0 failed of 4" in result.stdout


def test_db_upgrade_and_current(cli: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"SCRIPTCRON_DATABASE_URL": url}
    with override_settings(database_url=url):
        assert run(cli, env, "db", "current").stdout.strip() == "none"
        result = run(cli, env, "db", "upgrade")
        assert result.exit_code == 0, result.output
        assert "revision 0001" in result.stdout
        assert run(cli, env, "db", "current").stdout.strip() == "0001"
    dispose_engines()
