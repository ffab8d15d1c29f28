"""docker-compose.yml, validated offline by Debian's docker-compose (1.29): `docker-compose config`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "MINIO_ROOT_PASSWORD": "minio-secret",
    "SCRIPTCRON_API_TOKENS": "api-token",
    "SCRIPTCRON_ENCRYPTION_KEY": "fernet-key",
}

pytestmark = pytest.mark.integration


def compose_config(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        unavailable("docker-compose (Debian package docker-compose) is not installed")
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SCRIPTCRON_", "POSTGRES_", "MINIO_"))}
    return subprocess.run(
        [str(exe), "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), "config"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    done = compose_config(SECRETS, tmp_path_factory.mktemp("compose"))
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_compose_file_is_valid_with_the_secrets_set(config: dict[str, Any]) -> None:
    assert set(config["services"]) >= {
        "api", "worker", "beat", "redis", "postgres", "minio", "minio-bucket", "emulator", "migrate",
    }  # fmt: skip


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_missing_secret_fails_with_a_message_naming_it(missing: str, tmp_path: Path) -> None:
    done = compose_config({k: v for k, v in SECRETS.items() if k != missing}, tmp_path)
    assert done.returncode != 0
    assert f"set {missing}" in done.stderr


def test_the_worker_can_be_scaled(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


def test_every_long_running_service_has_a_health_check(config: dict[str, Any]) -> None:
    for name in ("api", "worker", "beat", "redis", "postgres", "minio", "emulator"):
        assert config["services"][name]["healthcheck"]["test"], name


def test_the_app_waits_for_migrations_and_healthy_dependencies(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("api", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["db", "upgrade"]


def test_the_app_uses_postgres_redis_and_the_s3_server(config: dict[str, Any]) -> None:
    env = config["services"]["worker"]["environment"]
    assert env["SCRIPTCRON_DATABASE_URL"].startswith("postgresql+psycopg://scriptcron:pg-secret@postgres:")
    assert env["SCRIPTCRON_BROKER_URL"] == "redis://redis:6379/0"
    assert env["SCRIPTCRON_RESULT_STORE_URL"].startswith("s3://")
    assert env["SCRIPTCRON_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_the_image_is_built_from_the_deploy_dockerfile(config: dict[str, Any]) -> None:
    build = config["services"]["api"]["build"]
    assert Path(build["context"]) == ROOT
    assert build["dockerfile"] == "deploy/Dockerfile"
