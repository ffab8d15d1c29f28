"""The worker's and the beat's Prometheus endpoint, started from Celery signals.

Imported for its side effect by worker/celery_app.py. When the worker's main process is ready (or
the beat starts), an HTTP server on ``settings.metrics_port`` (0 turns it off) serves the metrics of
:mod:`app.metrics`. Prefork pool children each have their own memory, so their samples reach that
endpoint only in prometheus_client's multi-process mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty,
writable directory in the environment *before* the worker starts (the Docker image does, ``scriptcron
up`` does). Without it the worker warns once and the endpoint shows only the main process.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import beat_init, worker_process_shutdown, worker_ready
from prometheus_client import start_http_server

from app import metrics
from app.settings import get_settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_server: Any = None


def start_metrics_server(
    port: int | None = None, *, addr: str = "0.0.0.0", prefork: bool = False
) -> int | None:
    """Serve /metrics on ``port`` (settings.metrics_port by default) once per process; return the port."""
    global _server
    port = get_settings().metrics_port if port is None else port
    with _lock:
        if port == 0 or _server is not None:
            return None
        if prefork and metrics.multiprocess_dir() is None:
            log.warning(
                "PROMETHEUS_MULTIPROC_DIR is not set: the metrics endpoint shows only the worker's main "
                "process, not its pool children"
            )
        try:
            _server, _ = start_http_server(port, addr=addr, registry=metrics.collecting_registry())
        except OSError as exc:
            log.error("metrics endpoint not started: port %d: %s", port, exc)
            return None
    log.info("metrics on http://%s:%d/metrics", addr, port)
    return port


def stop_metrics_server() -> None:
    """Stop the endpoint (tests; a process's endpoint otherwise lives as long as the process)."""
    global _server
    with _lock:
        if _server is not None:
            _server.shutdown()
            _server.server_close()
            _server = None


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    pool = getattr(sender, "pool", None)
    start_metrics_server(prefork=type(pool).__module__.endswith(".prefork"))


@beat_init.connect
def _on_beat_init(**_: Any) -> None:
    start_metrics_server()


@worker_process_shutdown.connect
def _on_child_exit(pid: int | None = None, **_: Any) -> None:
    if pid is not None:
        metrics.mark_process_dead(pid)
