"""``POST /connections/{id}/test`` against a real server (the emulator) and an unreachable one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import make_connection
from tests.support.emulator import EmulatorServer
from tests.support.services import free_port


@pytest.mark.integration
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_connection_test_passes_against_the_emulator(client: TestClient, emulator: EmulatorServer) -> None:
    conn = make_connection(client, url=emulator.url, token=emulator.token)
    response = client.post(f"/api/v1/connections/{conn['id']}/test")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["ping"]["ok"]
    assert body["list_scripts"]["ok"]
    assert isinstance(body["scripts_seen"], int)


@pytest.mark.integration
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_connection_test_reports_a_wrong_token(client: TestClient, emulator: EmulatorServer) -> None:
    conn = make_connection(client, url=emulator.url, token="not-the-token")
    body = client.post(f"/api/v1/connections/{conn['id']}/test").json()
    assert body["ok"] is False
    assert body["list_scripts"]["ok"] is False
    assert body["list_scripts"]["status"] == 401
    assert "not-the-token" not in str(body)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_connection_test_reports_an_unreachable_server(client: TestClient) -> None:
    conn = make_connection(client, url=f"http://127.0.0.1:{free_port()}")
    body = client.post(f"/api/v1/connections/{conn['id']}/test").json()
    assert body["ok"] is False
    assert body["ping"]["ok"] is False
    assert body["ping"]["error"]
