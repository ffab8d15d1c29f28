"""The demo of ``scriptcron up``: a getLastPoint-style script in the emulator, a connection to it and a
schedule fanned out over the sample sensors, created through the public interfaces (the InfluxDB
scripts client, the API over HTTP). Idempotent: a second ``up`` on the same data directory reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from app.cli.up import Plan

API_PREFIX = "/api/v1"
DEMO_SCRIPT_NAME = "getLastPoint"
DEMO_CONNECTION_NAME = "demo-emulator"
DEMO_SCHEDULE_NAME = "demo-last-point"
DEMO_BUCKET = "air_sensor"
DEMO_SENSORS = ("TLM0100", "TLM0101", "TLM0102", "TLM0103", "TLM0200", "TLM0201", "TLM0202", "TLM0203")
DEMO_SCRIPT = """from(bucket: params.mybucket)
  |> range(start: -7d)
  |> filter(fn: (r) => r._measurement == "airSensors" and r.sensor_id == params.sensor)
  |> last()
"""
DEMO_DESCRIPTION = "getLastPoint finds the last point of one sensor in a bucket"


class DemoError(Exception):
    """Raised when the demo script, connection or schedule cannot be created."""


@dataclass
class Demo:
    script_id: str
    connection_id: int
    schedule_id: int
    cadence: str


def ensure_script(base_url: str, token: str) -> str:
    """The demo script's id in the emulator, creating the script if needed."""
    from app.influx import ScriptCreate, ScriptLanguage, ScriptsClient
    from app.influx.errors import InfluxError

    try:
        with ScriptsClient(base_url, token) as client:
            for script in client.iter_all(name=DEMO_SCRIPT_NAME):
                return str(script.id)
            created = client.create(
                ScriptCreate(
                    name=DEMO_SCRIPT_NAME,
                    description=DEMO_DESCRIPTION,
                    script=DEMO_SCRIPT,
                    language=ScriptLanguage.FLUX,
                )
            )
            return str(created.id)
    except InfluxError as exc:
        raise DemoError(f"cannot create the demo script in the emulator: {exc.message}") from None


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        return list(body.get("items") or body.get("data") or [])
    return list(body or [])


def _find(api: httpx.Client, collection: str, name: str) -> dict[str, Any] | None:
    response = api.get(f"{API_PREFIX}/{collection}", params={"name": name, "limit": 500})
    _check(response, f"list {collection}")
    for item in _items(response.json()):
        if item.get("name") == name:
            return item
    return None


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise DemoError(f"{what}: HTTP {response.status_code}: {message}")


def schedule_body(connection_id: int, script_id: str, interval_s: int | None) -> dict[str, Any]:
    trigger: dict[str, Any] = {"interval_s": interval_s} if interval_s else {"cron": "* * * * *"}
    return {
        "name": DEMO_SCHEDULE_NAME,
        "description": "The demo: the last point of each sample sensor, into the results folder.",
        "connection_id": connection_id,
        "script_id": script_id,
        **trigger,
        "timezone": "UTC",
        "params": [{"mybucket": DEMO_BUCKET}],
        "param_matrix": {"sensor": list(DEMO_SENSORS)},
        "misfire": "latest",
        "overlap": "skip",
        "timeout_s": 30,
        "max_attempts": 3,
        "destinations": [],
    }


def create_demo(plan: Plan, *, interval_s: int | None = None, client: httpx.Client | None = None) -> Demo:
    """Create (or reuse) the demo script, connection and schedule; return their ids."""
    script_id = ensure_script(plan.emulator_url, plan.emulator_token)
    api = client or httpx.Client(
        base_url=plan.api_url, headers={"Authorization": f"Bearer {plan.api_token}"}, timeout=30
    )
    try:
        connection = _find(api, "connections", DEMO_CONNECTION_NAME)
        if connection is None:
            response = api.post(
                f"{API_PREFIX}/connections",
                json={
                    "name": DEMO_CONNECTION_NAME,
                    "url": plan.emulator_url,
                    "org": "demo",
                    "token": plan.emulator_token,
                    "rate_per_s": 20,
                    "burst": 5,
                    "max_concurrency": 4,
                    "timeout_s": 30,
                },
            )
            _check(response, "create the demo connection")
            connection = response.json()
        else:
            # The emulator's port may differ from the last `up`; keep the connection pointing at it.
            response = api.patch(
                f"{API_PREFIX}/connections/{connection['id']}",
                json={"url": plan.emulator_url, "token": plan.emulator_token},
            )
            _check(response, "update the demo connection")
        body = schedule_body(int(connection["id"]), script_id, interval_s)
        schedule = _find(api, "schedules", DEMO_SCHEDULE_NAME)
        if schedule is None:
            response = api.post(f"{API_PREFIX}/schedules", json=body)
            _check(response, "create the demo schedule")
        else:
            trigger = (
                {"interval_s": interval_s, "cron": None}
                if interval_s
                else {"cron": "* * * * *", "interval_s": None}
            )
            response = api.patch(
                f"{API_PREFIX}/schedules/{schedule['id']}",
                json={**trigger, "script_id": script_id, "enabled": True},
            )
            _check(response, "update the demo schedule")
        schedule = response.json()
    except httpx.HTTPError as exc:
        raise DemoError(f"cannot reach the API: {exc.__class__.__name__}") from None
    finally:
        if client is None:
            api.close()
    cadence = f"every {interval_s} s" if interval_s else "every minute"
    return Demo(script_id, int(connection["id"]), int(schedule["id"]), cadence)
