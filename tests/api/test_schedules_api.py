"""``/api/v1/schedules``: validation of every field, next_fire_at, pause/resume, destinations."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.crypto import decrypt_secret
from app.db import get_engine
from tests.api.conftest import make_connection, make_schedule

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def conn_id(client: TestClient) -> int:
    return int(make_connection(client)["id"])


def stored(schedule_id: int, column: str) -> Any:
    with get_engine().connect() as conn:
        return conn.execute(
            sa.text(f"SELECT {column} FROM schedule WHERE id = :id"), {"id": schedule_id}
        ).scalar_one()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_create_computes_next_fire_at_strictly_after_now(client: TestClient, conn_id: int) -> None:
    before = datetime.now(UTC)
    body = make_schedule(client, conn_id, cron="*/5 * * * *")
    next_fire = parse(body["next_fire_at"])
    assert before < next_fire <= before + timedelta(minutes=5)
    assert next_fire.minute % 5 == 0
    assert next_fire.second == 0


def test_create_echoes_every_field_with_defaults(client: TestClient, conn_id: int) -> None:
    body = make_schedule(
        client, conn_id, timezone="Europe/Berlin", params=[{"a": 1}], param_matrix={"b": [1, 2]}
    )
    assert body["timezone"] == "Europe/Berlin"
    assert body["params"] == [{"a": 1}]
    assert body["param_matrix"] == {"b": [1, 2]}
    assert body["misfire"] == "latest"
    assert body["overlap"] == "allow"
    assert body["enabled"] is True


def test_disabled_schedule_has_no_next_fire(client: TestClient, conn_id: int) -> None:
    assert make_schedule(client, conn_id, enabled=False)["next_fire_at"] is None


def test_at_in_the_past_has_no_next_fire(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron=None, at="2020-01-01T00:00:00Z")
    assert body["next_fire_at"] is None


def test_six_field_cron_with_seconds_first_is_accepted(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron="*/10 * * * * *")
    assert parse(body["next_fire_at"]).second % 10 == 0


FUTURE = (datetime.now(UTC) + timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"script_id": "bad id!"}, "script_id"),
        ({"connection_id": 999}, "connection_id"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * *"}, "cron"),
        ({"cron": "0 0 1 1 * 2030 1"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Europe/../etc"}, "timezone"),
        ({"cron": None}, "trigger"),
        ({"interval_s": 60}, "trigger"),
        ({"cron": None, "interval_s": 0}, "interval_s"),
        ({"cron": None, "interval_s": 366 * 86400 + 1}, "interval_s"),
        ({"cron": None, "at": "2026-05-01T12:00:00"}, "at"),
        ({"start_at": FUTURE, "end_at": "2020-01-01T00:00:00Z"}, "end_at"),
        ({"params": {"a": 1}}, "params"),
        ({"params": [{"a": None}]}, "params[0].a"),
        ({"params": [{"a": [1, 2]}]}, "params[0].a"),
        ({"params": [{"a": "{secret_env}"}]}, "params[0].a"),
        ({"params": [{"a": 1}], "param_matrix": {"a": [2]}}, "params[0].a"),
        ({"param_matrix": {"m": []}}, "param_matrix.m"),
        ({"param_matrix": {"m": "abc"}}, "param_matrix.m"),
        ({"param_matrix": {"m": list(range(101))}}, "param_matrix"),
        ({"params": [{"a": i} for i in range(11)], "param_matrix": {"m": list(range(10))}}, "param_matrix"),
        ({"misfire": "sometimes"}, "misfire"),
        ({"overlap": "maybe"}, "overlap"),
        ({"jitter_s": -1}, "jitter_s"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff_base_s": 10, "backoff_cap_s": 5}, "backoff_cap_s"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"destinations": [{"type": "ftp"}]}, "destinations[0]"),
        ({"destinations": [{"type": "s3", "bucket": "Bad_Bucket"}]}, "destinations[0].bucket"),
        (
            {"destinations": [{"type": "s3", "bucket": "ok-bucket", "prefix": "../x"}]},
            "destinations[0].prefix",
        ),
        (
            {"destinations": [{"type": "s3", "bucket": "ok-bucket", "key_template": "{nope}.csv"}]},
            "destinations[0].key_template",
        ),
        (
            {"destinations": [{"type": "s3", "bucket": "ok-bucket", "endpoint_url": "localhost:9000"}]},
            "destinations[0].endpoint_url",
        ),
        (
            {"destinations": [{"type": "webhook", "url": "file:///etc/passwd", "secret": SECRET}]},
            "destinations[0].url",
        ),
        (
            {"destinations": [{"type": "webhook", "url": "http://10.1.2.3/h", "secret": SECRET}]},
            "destinations[0].url",
        ),
        (
            {"destinations": [{"type": "webhook", "url": "http://169.254.169.254/", "secret": SECRET}]},
            "destinations[0].url",
        ),
        ({"destinations": [{"type": "webhook", "url": "http://127.0.0.1:9/h"}]}, "destinations[0].secret"),
        (
            {"destinations": [{"type": "webhook", "url": "http://127.0.0.1:9/h", "secret": "plain"}]},
            "destinations[0].secret",
        ),
        (
            {
                "destinations": [
                    {"type": "webhook", "url": "http://127.0.0.1:9/h", "secret": SECRET, "mode": "x"}
                ]
            },
            "destinations[0].mode",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_schedule_is_refused_naming_the_field_and_nothing_is_created(
    client: TestClient, conn_id: int, change: dict[str, Any], field: str
) -> None:
    body = {"name": "s", "connection_id": conn_id, "script_id": "abc", "cron": "0 * * * *", **change}
    response = client.post("/api/v1/schedules", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid"
    assert response.json()["message"].startswith(f"{field}"), response.json()["message"]
    assert client.get("/api/v1/schedules").json()["total"] == 0


def test_too_many_param_sets_error_gives_the_count_and_the_limit(client: TestClient, conn_id: int) -> None:
    body = {"name": "s", "connection_id": conn_id, "script_id": "abc", "cron": "0 * * * *"}
    response = client.post(
        "/api/v1/schedules", json={**body, "param_matrix": {"a": list(range(11)), "b": list(range(10))}}
    )
    assert response.status_code == 422
    assert "110" in response.json()["message"]
    assert "100" in response.json()["message"]


def test_a_taken_name_is_a_409(client: TestClient, conn_id: int) -> None:
    make_schedule(client, conn_id, name="same")
    body = {"name": "same", "connection_id": conn_id, "script_id": "abc", "cron": "0 * * * *"}
    response = client.post("/api/v1/schedules", json=body)
    assert response.status_code == 409
    assert client.get("/api/v1/schedules").json()["total"] == 1


def test_webhook_secret_is_encrypted_and_never_returned(client: TestClient, conn_id: int) -> None:
    dest = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET}
    body = make_schedule(client, conn_id, destinations=[dest])
    assert body["destinations"] == [
        {"type": "webhook", "url": "http://127.0.0.1:9/hook", "mode": "event", "secret_set": True}
    ]
    assert SECRET not in client.get(f"/api/v1/schedules/{body['id']}").text
    raw = stored(body["id"], "destinations")
    assert SECRET not in str(raw)
    destinations = raw if isinstance(raw, list) else __import__("json").loads(raw)
    assert decrypt_secret(destinations[0]["secret_encrypted"]) == SECRET


def test_patch_keeps_a_webhook_secret_not_given_again(client: TestClient, conn_id: int) -> None:
    dest = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": SECRET}
    body = make_schedule(client, conn_id, destinations=[dest])
    patch = {"destinations": [{"type": "webhook", "url": "http://127.0.0.1:9/hook", "mode": "csv"}]}
    response = client.patch(f"/api/v1/schedules/{body['id']}", json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["destinations"][0] == {
        "type": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "mode": "csv",
        "secret_set": True,
    }


def test_s3_destination_is_stored_and_shown(client: TestClient, conn_id: int) -> None:
    dest = {
        "type": "s3",
        "bucket": "results",
        "prefix": "team/",
        "key_template": "{schedule}/{index}.csv",
        "gzip": True,
    }
    body = make_schedule(client, conn_id, destinations=[dest])
    assert body["destinations"] == [{**dest, "region": None, "endpoint_url": None}]


def test_patch_changes_only_the_given_fields(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, description="old", params=[{"a": 1}])
    response = client.patch(f"/api/v1/schedules/{body['id']}", json={"description": "new"})
    assert response.status_code == 200
    after = response.json()
    assert after["description"] == "new"
    assert {k: v for k, v in after.items() if k not in {"description", "updated_at"}} == {
        k: v for k, v in body.items() if k not in {"description", "updated_at"}
    }


def test_patch_of_the_trigger_recomputes_next_fire_at(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron="0 0 1 1 *")
    response = client.patch(f"/api/v1/schedules/{body['id']}", json={"cron": None, "interval_s": 60})
    assert response.status_code == 200, response.text
    next_fire = parse(response.json()["next_fire_at"])
    assert next_fire <= datetime.now(UTC) + timedelta(seconds=60)
    assert response.json()["cron"] is None


def test_patch_with_a_new_trigger_kind_replaces_the_old_one(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron="0 0 1 1 *")
    response = client.patch(f"/api/v1/schedules/{body['id']}", json={"interval_s": 120})
    assert response.status_code == 200
    assert (response.json()["cron"], response.json()["interval_s"]) == (None, 120)


def test_patch_of_the_time_zone_recomputes_next_fire_at(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron="0 12 * * *", timezone="UTC")
    after = client.patch(f"/api/v1/schedules/{body['id']}", json={"timezone": "Asia/Kolkata"}).json()
    assert parse(after["next_fire_at"]).minute == 30  # 12:00 IST is 06:30 UTC


@pytest.mark.parametrize(
    "change",
    [
        {"cron": "bogus"},
        {"timezone": "Nowhere/Land"},
        {"name": None},
        {"enabled": None},
        {"params": [{"a": {"x": 1}}]},
        {"backoff_cap_s": 0.5},
        {"connection_id": 999},
        {"destinations": [{"type": "webhook", "url": "http://127.0.0.1:9/h"}]},
        {"destinations": None},
        {"cron": None},
    ],
)
def test_invalid_patch_changes_nothing(client: TestClient, conn_id: int, change: dict[str, Any]) -> None:
    body = make_schedule(client, conn_id, backoff_base_s=1, backoff_cap_s=10)
    response = client.patch(f"/api/v1/schedules/{body['id']}", json=change)
    assert response.status_code == 422, response.text
    assert client.get(f"/api/v1/schedules/{body['id']}").json() == body


def test_pause_clears_next_fire_and_resume_recomputes_it_from_now(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron="* * * * *")
    paused = client.post(f"/api/v1/schedules/{body['id']}/pause").json()
    assert (paused["enabled"], paused["next_fire_at"]) == (False, None)
    before = datetime.now(UTC)
    resumed = client.post(f"/api/v1/schedules/{body['id']}/resume").json()
    assert resumed["enabled"] is True
    assert before < parse(resumed["next_fire_at"]) <= before + timedelta(minutes=1)


def test_next_lists_fire_times_in_utc_and_in_the_schedule_zone(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id, cron="30 2 * * *", timezone="Europe/Berlin")
    response = client.get(f"/api/v1/schedules/{body['id']}/next", params={"count": 3})
    assert response.status_code == 200
    data = response.json()
    assert data["timezone"] == "Europe/Berlin"
    assert len(data["fires"]) == 3
    for fire in data["fires"]:
        assert parse(fire["utc"]) == parse(fire["local"])
        assert parse(fire["local"]).utcoffset() in {timedelta(hours=1), timedelta(hours=2)}
    assert parse(data["fires"][0]["utc"]) == parse(body["next_fire_at"])


@pytest.mark.parametrize("count", [0, 101, "many"])
def test_next_count_is_bounded(client: TestClient, conn_id: int, count: Any) -> None:
    body = make_schedule(client, conn_id)
    response = client.get(f"/api/v1/schedules/{body['id']}/next", params={"count": count})
    assert response.status_code == 422
    assert response.json()["message"].startswith("count:")


def test_list_filters_by_connection_enabled_and_name(client: TestClient, conn_id: int) -> None:
    other = make_connection(client, name="other")["id"]
    make_schedule(client, conn_id, name="daily-report")
    make_schedule(client, conn_id, name="hourly-load", enabled=False)
    make_schedule(client, other, name="daily_100%")
    names = lambda **q: [s["name"] for s in client.get("/api/v1/schedules", params=q).json()["items"]]  # noqa: E731
    assert names(connection_id=conn_id) == ["daily-report", "hourly-load"]
    assert names(enabled="false") == ["hourly-load"]
    assert names(name="DAILY") == ["daily-report", "daily_100%"]
    assert names(name="_100%") == ["daily_100%"]
    assert client.get("/api/v1/schedules", params={"limit": 1}).json()["total"] == 3


def test_delete_removes_the_schedule_and_its_runs(client: TestClient, conn_id: int) -> None:
    body = make_schedule(client, conn_id)
    run = client.post(f"/api/v1/schedules/{body['id']}/trigger").json()["run"]
    assert client.delete(f"/api/v1/schedules/{body['id']}").status_code == 204
    assert client.get(f"/api/v1/schedules/{body['id']}").status_code == 404
    assert client.get(f"/api/v1/runs/{run['id']}").status_code == 404
