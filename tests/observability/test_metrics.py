"""Metrics: the names operators scrape, and aggregation across processes (prefork children)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app import metrics
from app.models import RunStatus


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_runs_counter_counts_by_status_and_accepts_enum_members() -> None:
    before = sample("scriptcron_runs_total", status="failed")
    metrics.RUNS_TOTAL.labels(status=metrics.label(RunStatus.FAILED)).inc()
    assert sample("scriptcron_runs_total", status="failed") == before + 1


def test_invoke_latency_lands_in_the_histogram_buckets() -> None:
    before = sample("scriptcron_invoke_seconds_count")
    below_one_s = sample("scriptcron_invoke_seconds_bucket", le="1.0")
    metrics.INVOKE_SECONDS.observe(0.3)
    assert sample("scriptcron_invoke_seconds_count") == before + 1
    assert sample("scriptcron_invoke_seconds_bucket", le="1.0") == below_one_s + 1


def test_every_agreed_metric_is_exposed_under_its_name() -> None:
    metrics.INVOCATIONS_TOTAL.labels(status="succeeded").inc()
    metrics.INVOKE_RETRIES_TOTAL.labels(reason="429").inc()
    metrics.RATELIMIT_WAITS_TOTAL.inc()
    metrics.RATELIMIT_WAIT_SECONDS.inc(2.5)
    metrics.DELIVERIES_TOTAL.labels(kind="s3", outcome="succeeded").inc()
    metrics.BEAT_LAG_SECONDS.observe(0.2)
    metrics.BEAT_TICK_SECONDS.observe(0.01)
    body, content_type = metrics.render_latest()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in (
        "scriptcron_runs_total",
        "scriptcron_invocations_total",
        "scriptcron_invoke_seconds_bucket",
        "scriptcron_invoke_retries_total",
        "scriptcron_ratelimit_waits_total",
        "scriptcron_ratelimit_wait_seconds_total",
        "scriptcron_deliveries_total",
        "scriptcron_beat_lag_seconds_bucket",
        "scriptcron_beat_tick_seconds_bucket",
    ):
        assert f"\n{name}" in text, name


CHILD = """
from app import metrics
metrics.INVOCATIONS_TOTAL.labels(status="succeeded").inc(3)
metrics.INVOKE_SECONDS.observe(0.5)
"""

PARENT = """
from app import metrics
body, _ = metrics.render_latest()
print(body.decode())
"""


def run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


@pytest.mark.integration
def test_samples_from_several_processes_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    run_python(CHILD, env)
    run_python(CHILD, env)
    text = run_python(PARENT, env)
    assert 'scriptcron_invocations_total{status="succeeded"} 6.0' in text
    assert "scriptcron_invoke_seconds_count 2.0" in text
