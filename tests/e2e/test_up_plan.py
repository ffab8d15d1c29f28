"""What ``scriptcron up`` decides before it starts anything: ports, secrets, the children's settings."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.up import UpError, choose_port, make_plan
from app.settings import override_settings
from tests.support.services import free_port, scriptcron_cmd


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_given_by_flag_is_an_error_naming_the_flag(listening: int) -> None:
    with pytest.raises(UpError, match=f"port {listening} \\(--api-port\\) is already in use"):
        choose_port(listening, "--api-port", set())


def test_the_same_port_for_two_flags_is_an_error() -> None:
    port = free_port()
    taken: set[int] = set()
    choose_port(port, "--api-port", taken)
    with pytest.raises(UpError, match="--redis-port"):
        choose_port(port, "--redis-port", taken)


def test_ports_not_given_are_free_and_distinct(tmp_path: Path) -> None:
    with override_settings():
        plan = make_plan(tmp_path, None, None, None)
    ports = {plan.ports.api, plan.ports.emulator, plan.ports.redis}
    assert len(ports) == 3


def test_the_api_token_is_generated_once_per_data_dir_and_kept(tmp_path: Path) -> None:
    with override_settings(api_tokens=[]):
        first = make_plan(tmp_path, None, None, None)
        second = make_plan(tmp_path, None, None, None)
    assert first.api_token == second.api_token
    assert len(first.api_token) >= 32
    assert (tmp_path / "api-token").stat().st_mode & 0o777 == 0o600
    assert first.env["SCRIPTCRON_ENCRYPTION_KEY"] == second.env["SCRIPTCRON_ENCRYPTION_KEY"]


def test_api_tokens_from_settings_are_used_as_they_are(tmp_path: Path) -> None:
    with override_settings(api_tokens="from-env,second"):
        plan = make_plan(tmp_path, None, None, None)
    assert plan.api_token == "from-env"
    assert plan.env["SCRIPTCRON_API_TOKENS"] == "from-env,second"
    assert not (tmp_path / "api-token").exists()


def test_by_default_everything_lives_in_the_data_dir(tmp_path: Path) -> None:
    with override_settings():
        plan = make_plan(tmp_path, None, None, None)
    assert plan.start_redis
    assert plan.env["SCRIPTCRON_DATABASE_URL"] == f"sqlite:///{tmp_path / 'scriptcron.db'}"
    assert plan.env["SCRIPTCRON_BROKER_URL"] == f"redis://127.0.0.1:{plan.ports.redis}/0"
    assert plan.env["SCRIPTCRON_RESULT_STORE_URL"] == f"file://{tmp_path / 'results'}"


def test_real_services_given_in_settings_are_kept_and_redis_is_not_started(tmp_path: Path) -> None:
    with override_settings(
        broker_url="redis://redis.internal:6379/0",
        database_url="postgresql+psycopg://u@db/scriptcron",
        result_store_url="s3://bucket/prefix",
    ):
        plan = make_plan(tmp_path, None, None, None)
    assert not plan.start_redis
    for name in ("SCRIPTCRON_BROKER_URL", "SCRIPTCRON_DATABASE_URL", "SCRIPTCRON_RESULT_STORE_URL"):
        assert name not in plan.env


@pytest.mark.integration
def test_up_with_a_taken_port_exits_with_a_clear_error_and_leaves_no_lock(
    listening: int, tmp_path: Path
) -> None:
    done = subprocess.run(
        scriptcron_cmd("up", "--data-dir", str(tmp_path), "--api-port", str(listening)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert f"port {listening} (--api-port) is already in use" in done.stderr
    assert not (tmp_path / "up.lock").exists()
