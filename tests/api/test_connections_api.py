"""``/api/v1/connections``: token write-only and encrypted, validation, paging, conflicts."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.crypto import decrypt_secret
from app.db import get_engine
from tests.api.conftest import make_connection, make_schedule


def stored_token(connection_id: int) -> str:
    with get_engine().connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT token_encrypted FROM connection WHERE id = :id"), {"id": connection_id}
            ).scalar_one()
        )


def test_create_returns_the_connection_with_the_token_masked(client: TestClient) -> None:
    body = make_connection(client, token="my-very-secret-token-wxyz")
    assert body["token_masked"] == "****wxyz"
    assert "token" not in body
    assert "my-very-secret" not in str(body)


def test_token_is_encrypted_at_rest(client: TestClient) -> None:
    body = make_connection(client, token="my-very-secret-token-wxyz")
    encrypted = stored_token(body["id"])
    assert "my-very-secret" not in encrypted
    assert decrypt_secret(encrypted) == "my-very-secret-token-wxyz"


def test_token_never_appears_in_get_or_list(client: TestClient) -> None:
    body = make_connection(client, token="my-very-secret-token-wxyz")
    assert "my-very-secret" not in client.get(f"/api/v1/connections/{body['id']}").text
    assert "my-very-secret" not in client.get("/api/v1/connections").text


def test_list_pages_in_id_order_with_a_total(client: TestClient) -> None:
    ids = [make_connection(client, name=f"c{i}")["id"] for i in range(5)]
    page = client.get("/api/v1/connections", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5
    assert [c["id"] for c in page["items"]] == ids[1:3]
    assert (page["limit"], page["offset"]) == (2, 1)


def test_patch_changes_only_the_given_fields(client: TestClient) -> None:
    body = make_connection(client, rate_per_s=5, burst=3)
    response = client.patch(f"/api/v1/connections/{body['id']}", json={"burst": 7})
    assert response.status_code == 200
    assert response.json()["burst"] == 7
    assert response.json()["rate_per_s"] == 5
    assert response.json()["name"] == body["name"]


def test_patch_replaces_the_token(client: TestClient) -> None:
    body = make_connection(client)
    response = client.patch(f"/api/v1/connections/{body['id']}", json={"token": "another-token-1234"})
    assert response.json()["token_masked"] == "****1234"
    assert decrypt_secret(stored_token(body["id"])) == "another-token-1234"


def test_a_taken_name_is_a_409_and_nothing_changes(client: TestClient) -> None:
    make_connection(client, name="a")
    second = make_connection(client, name="b")
    response = client.post("/api/v1/connections", json={"name": "a", "url": "http://x", "token": "t"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["message"].startswith("name:")
    response = client.patch(f"/api/v1/connections/{second['id']}", json={"name": "a"})
    assert response.status_code == 409
    assert client.get(f"/api/v1/connections/{second['id']}").json()["name"] == "b"
    assert client.get("/api/v1/connections").json()["total"] == 2


def test_delete_removes_the_connection(client: TestClient) -> None:
    body = make_connection(client)
    assert client.delete(f"/api/v1/connections/{body['id']}").status_code == 204
    assert client.get(f"/api/v1/connections/{body['id']}").status_code == 404


def test_a_connection_in_use_cannot_be_deleted(client: TestClient) -> None:
    body = make_connection(client)
    make_schedule(client, body["id"], name="uses-it")
    response = client.delete(f"/api/v1/connections/{body['id']}")
    assert response.status_code == 409
    assert "uses-it" in response.json()["message"]
    assert client.get(f"/api/v1/connections/{body['id']}").status_code == 200


VALID = {"name": "c", "url": "https://influx.example.com", "token": "tok"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"url": "ftp://influx"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://user:pw@influx"}, "url"),
        ({"url": "http://"}, "url"),
        ({"token": ""}, "token"),
        ({"rate_per_s": 0}, "rate_per_s"),
        ({"burst": 0}, "burst"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"timeout_s": "soon"}, "timeout_s"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_invalid_connection_is_refused_naming_the_field_and_nothing_is_created(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/connections", json={**VALID, **change})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["message"].startswith(f"{field}:")
    assert client.get("/api/v1/connections").json()["total"] == 0


def test_missing_required_fields_are_named(client: TestClient) -> None:
    response = client.post("/api/v1/connections", json={"name": "c", "url": "http://x"})
    assert response.status_code == 422
    assert response.json()["message"] == "token: Field required"


@pytest.mark.parametrize(
    "change", [{"url": "gopher://x"}, {"name": None}, {"burst": 0}, {"token": ""}, {"extra": True}]
)
def test_invalid_patch_changes_nothing(client: TestClient, change: dict[str, Any]) -> None:
    body = make_connection(client)
    response = client.patch(f"/api/v1/connections/{body['id']}", json=change)
    assert response.status_code == 422
    after = client.get(f"/api/v1/connections/{body['id']}").json()
    assert after == body


def test_a_name_race_lost_to_a_concurrent_request_is_a_409(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_connection(client, name="raced")
    # The other request committed between our uniqueness check and our insert.
    monkeypatch.setattr("app.services.connections.ensure_unique_name", lambda *args: None)
    response = client.post("/api/v1/connections", json={"name": "raced", "url": "http://x", "token": "t"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert client.get("/api/v1/connections").json()["total"] == 1
