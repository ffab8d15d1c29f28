"""Benchmark (issue 8): the emulator's Flux engine over 1,000,000 points.

A bucket holds 8 sensors x 3 fields (temperature, humidity, co), one point a minute: 41,667 points per
series, 1,000,008 points in all. Both scripts run through the engine to the full CSV (every byte pulled):

* baseline: ``range |> filter(one field)`` (merely reading the field's points back, ~333k rows);
* measured: the same ``|> aggregateWindow(every: 1h, fn: mean)`` over all sensors. Target: < 2 s.

Run: ``.venv/bin/python -m benchmarks flux`` (``BENCH_FLUX_REPEATS=3`` by default; the best run counts).
"""

from __future__ import annotations

import os
import time

import numpy as np

from app.emulator.flux.values import format_time
from app.emulator.query import run_script
from app.emulator.storage import DataStore

ORG = "0123456789abcdef"
SENSORS = 8
FIELDS = ("temperature", "humidity", "co")
POINTS_PER_SERIES = 41_667
STEP_NS = 60 * 10**9
START_NS = 1_700_000_000 * 10**9
TARGET_S = 2.0
REPEATS = int(os.environ.get("BENCH_FLUX_REPEATS", "3"))


def build_store() -> DataStore:
    data = DataStore()
    bucket = data.ensure_bucket(ORG, "air")
    rng = np.random.default_rng(8)
    times = START_NS + np.arange(POINTS_PER_SERIES, dtype=np.int64) * STEP_NS
    for sensor in range(SENSORS):
        tags = (("sensor_id", f"TLM{sensor:04d}"),)
        for field in FIELDS:
            values = np.round(rng.normal(50.0, 10.0, POINTS_PER_SERIES), 2)
            bucket.series_for(("airSensors", tags, field), "float").append(times, values)
    return data


def run(data: DataStore, script: str) -> tuple[float, int]:
    """Best wall time of REPEATS full runs, and the CSV size in bytes."""
    best, size = float("inf"), 0
    now_ns = START_NS + POINTS_PER_SERIES * STEP_NS
    for _ in range(REPEATS):
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in run_script(script, {}, data=data, org_id=ORG, now_ns=now_ns))
        best = min(best, time.perf_counter() - started)
    return best, size


def main() -> None:
    started = time.perf_counter()
    data = build_store()
    total = SENSORS * len(FIELDS) * POINTS_PER_SERIES
    print(
        f"bucket: {total:,} points ({SENSORS} sensors x {len(FIELDS)} fields), built in "
        f"{time.perf_counter() - started:.2f} s"
    )
    start = format_time(START_NS)
    stop = format_time(START_NS + POINTS_PER_SERIES * STEP_NS)
    read = (
        f'from(bucket: "air")\n  |> range(start: {start}, stop: {stop})\n'
        '  |> filter(fn: (r) => r._measurement == "airSensors" and r._field == "temperature")\n'
    )
    aggregate = read + "  |> aggregateWindow(every: 1h, fn: mean)\n"
    read_s, read_bytes = run(data, read)
    agg_s, agg_bytes = run(data, aggregate)
    rows = SENSORS * POINTS_PER_SERIES
    print(
        f"baseline  range |> filter (read {rows:,} points back): {read_s:.3f} s, "
        f"{read_bytes / 1e6:.1f} MB CSV"
    )
    print(
        f"measured  ... |> aggregateWindow(every: 1h, fn: mean):  {agg_s:.3f} s, {agg_bytes / 1e3:.1f} kB CSV"
    )
    print(f"ratio     aggregateWindow / read-back: {agg_s / read_s:.2f}x")
    verdict = "MET" if agg_s < TARGET_S else "MISSED"
    print(f"target    aggregateWindow < {TARGET_S:.1f} s: {verdict} ({agg_s:.3f} s)")


if __name__ == "__main__":
    main()
