"""Runs: manual trigger, backfill, listing, details, retry of failed invocations, stored results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.db import get_engine
from app.models import Invocation, InvocationStatus, Run, RunKind, RunStatus
from app.settings import Settings, override_settings
from tests.api.conftest import fire_runs_sent, invokes_sent, make_connection, make_schedule
from tests.support.services import free_port


@pytest.fixture
def schedule(client: TestClient) -> dict[str, Any]:
    return make_schedule(client, make_connection(client)["id"], cron="0 * * * *")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def add_run(schedule_id: int, statuses: list[InvocationStatus], status: RunStatus, **extra: Any) -> int:
    """A run with one invocation per status, counters consistent with them."""
    succeeded = statuses.count(InvocationStatus.SUCCEEDED)
    failed = statuses.count(InvocationStatus.FAILED)
    with Session(get_engine()) as session:
        run = Run(
            schedule_id=schedule_id,
            kind=RunKind.SCHEDULED,
            status=status,
            scheduled_for=extra.pop("scheduled_for", datetime(2026, 1, 1, tzinfo=UTC)),
            total=len(statuses),
            succeeded=succeeded,
            failed=failed,
            **extra,
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        for i, inv_status in enumerate(statuses):
            failed_one = inv_status is InvocationStatus.FAILED
            session.add(
                Invocation(
                    run_id=run.id,
                    index=i,
                    params={"i": i},
                    params_hash=f"h{i}",
                    status=inv_status,
                    attempts=5 if failed_one else 1,
                    last_http_status=500 if failed_one else 200,
                    error="server error" if failed_one else None,
                )
            )
        session.commit()
        return run.id


# --- trigger -----------------------------------------------------------------------------------


def test_trigger_creates_a_pending_manual_run_and_sends_fire_run(
    client: TestClient, schedule: dict[str, Any], redis_url: str
) -> None:
    before = datetime.now(UTC)
    response = client.post(f"/api/v1/schedules/{schedule['id']}/trigger")
    assert response.status_code == 201
    body = response.json()
    assert body["enqueued"] is True
    run = body["run"]
    assert (run["kind"], run["status"]) == ("manual", "pending")
    assert before <= parse(run["scheduled_for"]) <= datetime.now(UTC)
    assert run["enqueued_at"] is not None
    assert fire_runs_sent(redis_url) == [run["id"]]


def test_trigger_works_for_a_paused_schedule(client: TestClient, schedule: dict[str, Any]) -> None:
    client.post(f"/api/v1/schedules/{schedule['id']}/pause")
    assert client.post(f"/api/v1/schedules/{schedule['id']}/trigger").status_code == 201


def test_trigger_with_the_broker_down_keeps_the_run_for_the_sweep(
    client: TestClient, schedule: dict[str, Any], api_settings: Settings
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(**{**api_settings.model_dump(), "broker_url": dead}):
        response = client.post(f"/api/v1/schedules/{schedule['id']}/trigger")
    assert response.status_code == 201
    assert response.json()["enqueued"] is False
    run = client.get(f"/api/v1/runs/{response.json()['run']['id']}").json()
    assert (run["status"], run["enqueued_at"]) == ("pending", None)


def test_trigger_of_an_unknown_schedule_is_a_404(client: TestClient) -> None:
    assert client.post("/api/v1/schedules/77/trigger").status_code == 404
    assert client.get("/api/v1/runs").json()["total"] == 0


# --- backfill ----------------------------------------------------------------------------------


def test_backfill_creates_one_run_per_fire_time_with_chained_windows(
    client: TestClient, schedule: dict[str, Any], redis_url: str
) -> None:
    body = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T03:00:00Z"}
    response = client.post(f"/api/v1/schedules/{schedule['id']}/backfill", json=body)
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["created"], result["existing"], result["capped"], result["enqueued"]) == (3, 0, False, 3)
    runs = client.get("/api/v1/runs", params={"kind": "backfill"}).json()["items"]
    windows = sorted((r["window_start"], r["window_end"], r["scheduled_for"]) for r in runs)
    assert windows == [
        ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:00:00Z"),
        ("2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T02:00:00Z"),
        ("2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z", "2026-01-01T03:00:00Z"),
    ]
    assert sorted(fire_runs_sent(redis_url)) == sorted(result["run_ids"])


def test_backfill_is_capped_and_says_so(client: TestClient, schedule: dict[str, Any]) -> None:
    body = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
    result = client.post(f"/api/v1/schedules/{schedule['id']}/backfill", json=body).json()
    assert (result["created"], result["capped"], result["limit"]) == (20, True, 20)
    assert client.get("/api/v1/runs").json()["total"] == 20


def test_backfill_twice_creates_no_duplicates(client: TestClient, schedule: dict[str, Any]) -> None:
    body = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z"}
    client.post(f"/api/v1/schedules/{schedule['id']}/backfill", json=body)
    again = client.post(f"/api/v1/schedules/{schedule['id']}/backfill", json=body).json()
    assert (again["created"], again["existing"]) == (0, 2)
    assert client.get("/api/v1/runs").json()["total"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}, "end"),
        ({"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00Z"}, "start"),
        ({"end": "2026-01-02T00:00:00Z"}, "start"),
    ],
)
def test_invalid_backfill_is_refused_and_creates_nothing(
    client: TestClient, schedule: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = client.post(f"/api/v1/schedules/{schedule['id']}/backfill", json=body)
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}:")
    assert client.get("/api/v1/runs").json()["total"] == 0


# --- list and detail ---------------------------------------------------------------------------


def test_runs_list_newest_first_with_filters_and_total(client: TestClient, schedule: dict[str, Any]) -> None:
    sid = schedule["id"]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [add_run(sid, [], RunStatus.SUCCEEDED, scheduled_for=t0 + timedelta(hours=h)) for h in range(4)]
    failed = add_run(sid, [InvocationStatus.FAILED], RunStatus.FAILED, scheduled_for=t0 + timedelta(hours=9))
    page = client.get("/api/v1/runs", params={"limit": 2}).json()
    assert page["total"] == 5
    assert [r["id"] for r in page["items"]] == [failed, ids[3]]
    assert [r["id"] for r in client.get("/api/v1/runs", params={"status": "failed"}).json()["items"]] == [
        failed
    ]
    window = {"since": "2026-01-01T01:00:00Z", "until": "2026-01-01T03:00:00Z", "schedule_id": sid}
    assert [r["id"] for r in client.get("/api/v1/runs", params=window).json()["items"]] == [ids[2], ids[1]]
    assert client.get("/api/v1/runs", params={"schedule_id": sid + 1}).json()["total"] == 0


def test_runs_list_refuses_an_unknown_status(client: TestClient) -> None:
    response = client.get("/api/v1/runs", params={"status": "exploded"})
    assert response.status_code == 422
    assert response.json()["message"].startswith("status:")


def test_run_detail_counts_invocations_by_status(client: TestClient, schedule: dict[str, Any]) -> None:
    statuses = [InvocationStatus.SUCCEEDED] * 2 + [InvocationStatus.FAILED, InvocationStatus.RUNNING]
    run_id = add_run(schedule["id"], statuses, RunStatus.RUNNING)
    detail = client.get(f"/api/v1/runs/{run_id}").json()
    assert detail["counts"] == {
        "pending": 0, "queued": 0, "running": 1, "waiting": 0, "succeeded": 2, "failed": 1,
    }  # fmt: skip
    assert (detail["total"], detail["succeeded"], detail["failed"]) == (4, 2, 1)


def test_invocations_list_by_index_with_params_status_and_error(
    client: TestClient, schedule: dict[str, Any]
) -> None:
    run_id = add_run(
        schedule["id"], [InvocationStatus.SUCCEEDED, InvocationStatus.FAILED], RunStatus.PARTIALLY_FAILED
    )
    page = client.get(f"/api/v1/runs/{run_id}/invocations").json()
    assert page["total"] == 2
    first, second = page["items"]
    assert (first["index"], first["params"], first["status"]) == (0, {"i": 0}, "succeeded")
    assert (second["status"], second["attempts"], second["last_http_status"], second["error"]) == (
        "failed", 5, 500, "server error",
    )  # fmt: skip
    failed_only = client.get(f"/api/v1/runs/{run_id}/invocations", params={"status": "failed"}).json()
    assert [i["index"] for i in failed_only["items"]] == [1]
    assert client.get("/api/v1/runs/999/invocations").status_code == 404


# --- retry-failed ------------------------------------------------------------------------------


def test_retry_failed_resets_only_failed_invocations_and_reopens_the_run(
    client: TestClient, schedule: dict[str, Any], redis_url: str
) -> None:
    statuses = [InvocationStatus.SUCCEEDED, InvocationStatus.FAILED, InvocationStatus.FAILED]
    run_id = add_run(schedule["id"], statuses, RunStatus.PARTIALLY_FAILED, finished_at=datetime.now(UTC))
    response = client.post(f"/api/v1/runs/{run_id}/retry-failed")
    assert response.status_code == 200
    body = response.json()
    assert (body["retried"], body["enqueued"]) == (2, 2)
    run = body["run"]
    assert (run["status"], run["succeeded"], run["failed"], run["finished_at"]) == ("running", 1, 0, None)
    items = client.get(f"/api/v1/runs/{run_id}/invocations").json()["items"]
    assert [(i["status"], i["attempts"], i["error"]) for i in items] == [
        ("succeeded", 1, None), ("queued", 0, None), ("queued", 0, None),
    ]  # fmt: skip
    assert sorted(invokes_sent(redis_url)) == [items[1]["id"], items[2]["id"]]


def test_retry_failed_with_nothing_failed_changes_nothing(
    client: TestClient, schedule: dict[str, Any]
) -> None:
    run_id = add_run(schedule["id"], [InvocationStatus.SUCCEEDED], RunStatus.SUCCEEDED)
    before = client.get(f"/api/v1/runs/{run_id}").json()
    body = client.post(f"/api/v1/runs/{run_id}/retry-failed").json()
    assert body["retried"] == 0
    assert client.get(f"/api/v1/runs/{run_id}").json() == before


def test_retry_failed_of_a_pending_run_is_a_409(client: TestClient, schedule: dict[str, Any]) -> None:
    run_id = add_run(schedule["id"], [], RunStatus.PENDING)
    response = client.post(f"/api/v1/runs/{run_id}/retry-failed")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


# --- results -----------------------------------------------------------------------------------


def set_result(invocation_id: int, location: str) -> None:
    with Session(get_engine()) as session:
        row = session.get(Invocation, invocation_id)
        assert row is not None
        row.result_location = location
        session.add(row)
        session.commit()


def test_result_streams_the_stored_csv(client: TestClient, schedule: dict[str, Any], tmp_path: Path) -> None:
    from worker.results import get_result_store

    run_id = add_run(schedule["id"], [InvocationStatus.SUCCEEDED], RunStatus.SUCCEEDED)
    inv = client.get(f"/api/v1/runs/{run_id}/invocations").json()["items"][0]
    assert inv["result_url"] is None
    spool = tmp_path / "spool.csv"
    csv = b"#datatype,string\n,result,table,_value\n,_result,0,1\n" * 2000
    spool.write_bytes(csv)
    set_result(inv["id"], get_result_store().put("s/r/0.csv", spool))
    inv = client.get(f"/api/v1/invocations/{inv['id']}").json()
    assert inv["result_url"] == f"/api/v1/invocations/{inv['id']}/result"
    response = client.get(inv["result_url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content == csv


def test_result_of_an_invocation_without_one_is_a_404(client: TestClient, schedule: dict[str, Any]) -> None:
    run_id = add_run(schedule["id"], [InvocationStatus.FAILED], RunStatus.FAILED)
    inv = client.get(f"/api/v1/runs/{run_id}/invocations").json()["items"][0]
    response = client.get(f"/api/v1/invocations/{inv['id']}/result")
    assert response.status_code == 404
    assert response.json()["code"] == "not found"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "file://../../etc/passwd", "s3://other/key.csv"])
def test_result_outside_the_result_store_is_never_served(
    client: TestClient, schedule: dict[str, Any], location: str
) -> None:
    run_id = add_run(schedule["id"], [InvocationStatus.SUCCEEDED], RunStatus.SUCCEEDED)
    inv = client.get(f"/api/v1/runs/{run_id}/invocations").json()["items"][0]
    set_result(inv["id"], location)
    response = client.get(f"/api/v1/invocations/{inv['id']}/result")
    assert response.status_code == 404
    assert "root:" not in response.text
