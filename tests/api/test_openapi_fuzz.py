"""A bounded schemathesis run against /openapi.json: no 5xx, and every response matches its schema."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from app.db import dispose_engines
from app.settings import override_settings
from tests.api.conftest import AUTH, TOKEN

pytestmark = pytest.mark.integration
MAX_EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def api_schema(tmp_path: Path, sqlite_template: Path, redis_url: str) -> Iterator[Any]:
    shutil.copyfile(sqlite_template, tmp_path / "fuzz.db")
    with override_settings(
        database_url=f"sqlite:///{tmp_path / 'fuzz.db'}",
        data_dir=str(tmp_path),
        broker_url=redis_url,
        result_store_url=f"file://{tmp_path / 'results'}",
        api_tokens=[TOKEN],
        webhook_allow_loopback=True,
    ):
        from fastapi.testclient import TestClient

        from app.api.main import create_app

        app = create_app()
        with TestClient(app, headers=AUTH) as client:  # a connection, a schedule, runs: ids 1.. exist
            conn = client.post(
                "/api/v1/connections", json={"name": "c", "url": "http://127.0.0.1:9", "token": "t"}
            )
            body = {"name": "s", "connection_id": conn.json()["id"], "script_id": "abc", "cron": "0 * * * *"}
            client.post("/api/v1/schedules", json=body)
            client.post("/api/v1/schedules/1/trigger")
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    dispose_engines()


def test_api_never_fails_with_5xx_and_matches_its_own_schema(api_schema: Any) -> None:
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=AUTH, checks=checks)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
