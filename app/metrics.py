"""Prometheus metrics shared by the API, the beat and the worker.

The metrics are plain ``prometheus_client`` objects; call them where the event happens::

    from app import metrics
    metrics.RUNS_TOTAL.labels(status=run.status).inc()
    with metrics.INVOKE_SECONDS.time(): ...

Multi-process safety: when the environment variable ``PROMETHEUS_MULTIPROC_DIR`` names a writable
directory *before the process starts* (prometheus_client reads it at import), every process
(prefork pool children, the beat, the API) writes its samples to files there and :func:`render_latest`
aggregates them. Without it, each process exposes its own in-memory registry.
Only counters and histograms are defined here: they aggregate across processes without a mode choice.
"""

from __future__ import annotations

import os
from enum import Enum

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "scriptcron"

if os.environ.get(MULTIPROC_ENV):  # an emptyDir mounted over the image's folder starts empty
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

# An invoke streams a CSV for up to ~90 s; a beat tick takes milliseconds; lag is seconds.
INVOKE_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 90.0, 120.0)
BEAT_LAG_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
BEAT_TICK_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

RUNS_TOTAL = Counter(
    "runs",
    "Runs that reached a final status (succeeded, partially_failed, failed, skipped).",
    ["status"],
    namespace=NAMESPACE,
)
INVOCATIONS_TOTAL = Counter(
    "invocations",
    "Invocation attempts by outcome (succeeded, failed, waiting).",
    ["status"],
    namespace=NAMESPACE,
)
INVOKE_SECONDS = Histogram(
    "invoke_seconds",
    "Time of one script invoke, request to last byte of the CSV.",
    namespace=NAMESPACE,
    buckets=INVOKE_BUCKETS_S,
)
INVOKE_RETRIES_TOTAL = Counter(
    "invoke_retries",
    "Invocation attempts scheduled again, by reason (timeout, transport, 429, 5xx, ...).",
    ["reason"],
    namespace=NAMESPACE,
)
RATELIMIT_WAITS_TOTAL = Counter(
    "ratelimit_waits",
    "Times an invoke waited for the fleet-wide rate limit or a shared 429 pause.",
    namespace=NAMESPACE,
)
RATELIMIT_WAIT_SECONDS = Counter(
    "ratelimit_wait_seconds",
    "Seconds of rate-limit waiting (slept in a task, or deferred as WAITING).",
    namespace=NAMESPACE,
)
DELIVERIES_TOTAL = Counter(
    "deliveries",
    "Delivery attempts by destination kind (s3, webhook) and outcome (succeeded, retry, failed).",
    ["kind", "outcome"],
    namespace=NAMESPACE,
)
BEAT_LAG_SECONDS = Histogram(
    "beat_lag_seconds",
    "Delay between a schedule's due time and the beat creating its run.",
    namespace=NAMESPACE,
    buckets=BEAT_LAG_BUCKETS_S,
)
BEAT_TICK_SECONDS = Histogram(
    "beat_tick_seconds",
    "Duration of one beat tick (claim, create runs, enqueue, sweep).",
    namespace=NAMESPACE,
    buckets=BEAT_TICK_BUCKETS_S,
)


def label(value: object) -> str:
    """A label value from an enum member or any object (``RunStatus.FAILED`` -> ``"failed"``)."""
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def multiprocess_dir() -> str | None:
    """The shared metrics directory of this process, when multi-process mode is on."""
    return os.environ.get(MULTIPROC_ENV) or None


def collecting_registry() -> CollectorRegistry:
    """The registry to expose: every process's samples in multi-process mode, else this process's."""
    if multiprocess_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def render_latest() -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type."""
    return generate_latest(collecting_registry()), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live-only files (call when a pool child exits)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)
