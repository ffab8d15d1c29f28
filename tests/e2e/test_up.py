"""``scriptcron up`` end to end: the demo schedule runs, CSVs land, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from app.cli.updemo import DEMO_SCHEDULE_NAME, DEMO_SENSORS
from app.models import RunStatus
from tests.support.services import free_port, scriptcron_cmd

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 180.0


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    api_url: str
    log: Path

    def token(self) -> str:
        return (self.data_dir / "api-token").read_text().strip()

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=10
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return psutil.Process(self.proc.pid).children(recursive=True)
        return []


def wait_until(what: str, up: Up, check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert up.proc.poll() is None, f"up exited ({up.proc.returncode}) waiting for {what}:\n{up.output()}"
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError, KeyError):
            value = check()
            if value:
                return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{up.output()}")


def start_up(data_dir: Path, log: Path, *extra: str) -> Up:
    api_port = free_port()
    args = scriptcron_cmd(
        "up", "--data-dir", str(data_dir), "--api-port", str(api_port), "--emulator-port", str(free_port()),
        "--redis-port", str(free_port()), "--concurrency", "1", "--grace", "5", *extra,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRIPTCRON_", "PROMETHEUS_"))}
    out = log.open("ab")
    proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    return Up(proc, data_dir, f"http://127.0.0.1:{api_port}", log)


def gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def interrupt(up: Up) -> list[psutil.Process]:
    """SIGINT (a Ctrl-C) to up alone; return the processes it had started."""
    children = up.descendants()
    up.proc.send_signal(signal.SIGINT)
    up.proc.wait(90)
    return children


@pytest.fixture
def cleanup() -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for up in started:  # only after a failure: leave nothing running
        leftovers = up.descendants()
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()


def finished_demo_run(up: Up) -> dict[str, Any] | None:
    with up.api() as api:
        schedules = api.get("/api/v1/schedules", params={"name": DEMO_SCHEDULE_NAME}).json()
        (schedule,) = [s for s in schedules["items"] if s["name"] == DEMO_SCHEDULE_NAME]
        runs = api.get("/api/v1/runs", params={"schedule_id": schedule["id"]}).json()["items"]
    # Fires while the first run is unfinished are recorded as skipped (the demo's overlap policy).
    finished = {s.value for s in RunStatus.TERMINAL} - {RunStatus.SKIPPED.value}
    done = [run for run in runs if run["status"] in finished]
    return done[0] if done else None


def test_up_runs_the_demo_and_stops_cleanly_on_ctrl_c(tmp_path: Path, cleanup: list[Up]) -> None:
    data_dir = tmp_path / "data"
    up = start_up(data_dir, tmp_path / "up.log", "--demo-interval", "3")
    cleanup.append(up)
    wait_until("the banner", up, lambda: "scriptcron is up." in up.output(), START_TIMEOUT_S)
    assert up.token() in up.output()

    run = wait_until("a finished demo run", up, lambda: finished_demo_run(up), RUN_TIMEOUT_S)
    assert run["status"] == RunStatus.SUCCEEDED.value, run
    assert run["total"] == len(DEMO_SENSORS)
    assert run["succeeded"] == len(DEMO_SENSORS)

    csvs = sorted((data_dir / "results").rglob("*.csv"))
    assert len(csvs) >= len(DEMO_SENSORS)
    sensors_seen = set()
    for path in csvs:
        text = path.read_text()
        assert ",result,table," in text.splitlines()[0]
        sensors_seen.update(s for s in DEMO_SENSORS if s in text)
    assert sensors_seen == set(DEMO_SENSORS)

    metrics = httpx.get(f"{up.api_url}/metrics", timeout=10).text
    assert 'scriptcron_runs_total{status="succeeded"}' in metrics
    assert "scriptcron_invoke_seconds_count" in metrics

    children = interrupt(up)
    assert up.proc.returncode == 0, up.output()
    assert {"redis", "api", "beat", "worker", "emulator"} <= {
        line.split("|")[0].strip() for line in up.output().splitlines() if "|" in line
    }
    assert len(children) >= 5
    leftovers = [p for p in children if not gone(p)]
    assert leftovers == []
    assert not (data_dir / "up.lock").exists()

    # The next `up` on the same data directory starts cleanly and keeps the token.
    again = start_up(data_dir, tmp_path / "up2.log", "--no-demo")
    cleanup.append(again)
    wait_until("the second banner", again, lambda: "scriptcron is up." in again.output(), START_TIMEOUT_S)
    assert again.token() == up.token()
    children = interrupt(again)
    assert again.proc.returncode == 0, again.output()
    assert [p for p in children if not gone(p)] == []
