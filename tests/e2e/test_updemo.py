"""The demo `up` creates through the API: created once, reused (and re-pointed) afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import updemo
from app.cli.up import Plan, Ports
from app.cli.updemo import DEMO_CONNECTION_NAME, DEMO_SCHEDULE_NAME, DEMO_SENSORS, DemoError, create_demo


class FakeApi:
    """Just enough of the API: lists, create, patch; records every call."""

    def __init__(self, connections: list[dict[str, Any]], schedules: list[dict[str, Any]]) -> None:
        self.items = {"connections": connections, "schedules": schedules}
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        if self.fail:
            return httpx.Response(self.fail, json={"code": "invalid", "message": "script_id: bad"})
        collection = request.url.path.split("/")[3]
        if request.method == "GET":
            return httpx.Response(200, json={"items": self.items[collection], "total": 0})
        if request.method == "POST":
            return httpx.Response(201, json={"id": 7, **body})
        return httpx.Response(200, json={"id": int(request.url.path.rsplit("/", 1)[1]), **body})


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plan:
    monkeypatch.setattr(updemo, "ensure_script", lambda url, token: "0123456789abcdef")
    return Plan(tmp_path, Ports(api=1, emulator=2, redis=3), "api-tok", "emu-tok")


def client(api: FakeApi) -> httpx.Client:
    return httpx.Client(base_url="http://api", transport=httpx.MockTransport(api))


def test_the_demo_is_created_fanned_out_over_the_sample_sensors(plan: Plan) -> None:
    api = FakeApi([], [])
    demo = create_demo(plan, interval_s=3, client=client(api))
    posts = {path: body for method, path, body in api.calls if method == "POST"}
    connection = posts["/api/v1/connections"]
    schedule = posts["/api/v1/schedules"]
    assert connection["url"] == plan.emulator_url
    assert connection["token"] == "emu-tok"
    assert schedule["param_matrix"] == {"sensor": list(DEMO_SENSORS)}
    assert schedule["interval_s"] == 3
    assert schedule["script_id"] == "0123456789abcdef"
    assert demo.cadence == "every 3 s"


def test_the_default_cadence_is_every_minute(plan: Plan) -> None:
    api = FakeApi([], [])
    demo = create_demo(plan, client=client(api))
    (schedule,) = [body for method, path, body in api.calls if method == "POST" and "schedules" in path]
    assert schedule["cron"] == "* * * * *"
    assert "interval_s" not in schedule
    assert demo.cadence == "every minute"


def test_an_existing_demo_is_reused_and_pointed_at_this_emulator(plan: Plan) -> None:
    api = FakeApi([{"id": 4, "name": DEMO_CONNECTION_NAME}], [{"id": 9, "name": DEMO_SCHEDULE_NAME}])
    demo = create_demo(plan, client=client(api))
    methods = [(method, path) for method, path, _ in api.calls if method != "GET"]
    assert methods == [("PATCH", "/api/v1/connections/4"), ("PATCH", "/api/v1/schedules/9")]
    assert (demo.connection_id, demo.schedule_id) == (4, 9)
    assert api.calls[1][2] == {"url": plan.emulator_url, "token": "emu-tok"}


def test_an_api_error_is_a_demo_error_naming_the_step_and_the_message(plan: Plan) -> None:
    api = FakeApi([], [])
    api.fail = 422
    with pytest.raises(DemoError, match="list connections: HTTP 422: script_id: bad"):
        create_demo(plan, client=client(api))
