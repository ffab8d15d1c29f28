"""Authentication and the error shape shared by every 4xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings, override_settings
from tests.support.services import free_port


def test_healthz_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer wrong-token", "Basic dGVzdC10b2tlbg==", "test-token", "Bearer  "],
)
def test_api_refuses_requests_without_a_valid_token(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    client.headers.pop("Authorization")
    response = client.get("/api/v1/connections", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert set(response.json()) == {"code", "message"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer test-token", "Token test-token", "bearer second-token"])
def test_api_accepts_bearer_or_token_scheme_with_any_configured_token(
    client: TestClient, header: str
) -> None:
    assert client.get("/api/v1/connections", headers={"Authorization": header}).status_code == 200


def test_readyz_needs_a_token(client: TestClient) -> None:
    assert client.get("/readyz", headers={"Authorization": ""}).status_code == 401


@pytest.mark.integration
def test_readyz_reports_database_and_broker_reachable(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_unknown_path_is_a_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"code": "not found", "message": "Not Found"}


def test_unknown_id_is_a_404_naming_the_resource(client: TestClient) -> None:
    response = client.get("/api/v1/schedules/4242")
    assert response.status_code == 404
    assert response.json() == {"code": "not found", "message": "schedule 4242 not found"}


def test_malformed_json_is_a_422_in_the_error_shape(client: TestClient) -> None:
    response = client.post(
        "/api/v1/connections", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "not valid JSON" in response.json()["message"]


def test_bad_query_parameter_names_the_parameter(client: TestClient) -> None:
    response = client.get("/api/v1/runs", params={"limit": 0})
    assert response.status_code == 422
    assert response.json()["message"].startswith("limit:")


def test_wrong_method_is_a_405_in_the_error_shape(client: TestClient) -> None:
    response = client.put("/api/v1/connections")
    assert response.status_code == 405
    assert response.json()["code"] == "method not allowed"


@pytest.mark.integration
def test_readyz_is_503_when_the_broker_is_unreachable(client: TestClient, api_settings: Settings) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(**{**api_settings.model_dump(), "broker_url": dead}):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["broker"].startswith("error")


@pytest.mark.parametrize(
    "path", ["/api/v1/schedules/0", "/api/v1/runs/99999999999999999999", "/api/v1/connections/x"]
)
def test_ids_out_of_range_are_refused_naming_the_parameter(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert response.json()["message"].split(":")[0].endswith("_id")
