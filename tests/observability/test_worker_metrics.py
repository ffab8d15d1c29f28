"""The worker's and the beat's own /metrics endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import metrics
from tests.support.services import ServerProcess, free_port, scriptcron_cmd
from worker.metrics import start_metrics_server, stop_metrics_server


@pytest.fixture
def stopped() -> Iterator[None]:
    yield
    stop_metrics_server()


@pytest.mark.integration
@pytest.mark.usefixtures("stopped")
def test_the_endpoint_serves_the_scriptcron_metrics_on_the_configured_port() -> None:
    port = free_port()
    metrics.DELIVERIES_TOTAL.labels(kind="webhook", outcome="retry").inc()
    assert start_metrics_server(port, addr="127.0.0.1") == port
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert 'scriptcron_deliveries_total{kind="webhook",outcome="retry"}' in response.text


@pytest.mark.usefixtures("stopped")
def test_port_zero_turns_the_endpoint_off() -> None:
    assert start_metrics_server(0) is None


@pytest.mark.integration
@pytest.mark.usefixtures("stopped")
def test_a_second_start_in_the_same_process_is_a_no_op() -> None:
    port = free_port()
    assert start_metrics_server(port, addr="127.0.0.1") == port
    assert start_metrics_server(free_port(), addr="127.0.0.1") is None


@pytest.mark.usefixtures("stopped")
def test_a_taken_port_is_logged_and_does_not_stop_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert start_metrics_server(port, addr="127.0.0.1") is None
    assert "metrics endpoint not started" in caplog.text


@pytest.mark.integration
def test_a_real_prefork_worker_serves_metrics_from_the_shared_directory(
    redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    prom = tmp_path / "prom"
    env = {
        "SCRIPTCRON_BROKER_URL": redis_url,
        "SCRIPTCRON_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SCRIPTCRON_METRICS_PORT": str(port),
        metrics.MULTIPROC_ENV: str(prom),
    }
    worker = ServerProcess(scriptcron_cmd("worker", "--concurrency", "2"), port, env=env)
    try:
        worker.start(timeout_s=120)
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        worker.stop()
    assert response.status_code == 200
    assert "scriptcron_invoke_seconds_count" in response.text
    assert any(prom.iterdir())  # the processes write their samples there
