"""The emulator: start-up with sample data, fast-mode throughput, generated bodies, engine speed.

Figures (each against a baseline measured in the same run):
- start-up with ``--sample-data`` (about 1M points) vs a bare start-up. Target: at most 3 s more.
- invoke in ``fast`` mode, requests/s vs ``GET /ping`` on the same connection. Target: ratio >= 0.5.
- a ``generate_bytes`` body of 256 MiB streamed over loopback, MiB/s (baseline: the CSV of a real
  ``range |> filter`` query over HTTP).
- the engine, in process: ``range |> filter`` over the 1M sample points (tables only) vs plain numpy
  slicing of the same arrays; and the CSV encoding of those rows, rows/s.
"""

from __future__ import annotations

import time

import numpy as np

from app.emulator.flux.interpreter import Interpreter
from app.emulator.flux.parser import parse
from app.emulator.flux.registry import Context
from app.emulator.flux.values import Time
from app.emulator.query import run_script
from app.emulator.sample import load_sample_data
from app.emulator.storage import DataStore
from tests.support.emulator import EmulatorServer

FILTER = (
    'from(bucket: "air_sensor") |> range(start: -30d)'
    ' |> filter(fn: (r) => r._measurement == "airSensors" and r._field == "temperature" and r._value > 0.0)'
)


def _timed_start(**kwargs: object) -> tuple[EmulatorServer, float]:
    started = time.perf_counter()
    server = EmulatorServer(**kwargs).start()  # type: ignore[arg-type]
    return server, time.perf_counter() - started


def _rate(call: object, seconds: float = 3.0) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()  # type: ignore[operator]
        count += 1
    return count / (time.perf_counter() - started)


def _stream(server: EmulatorServer, script_id: str, headers: dict[str, str]) -> tuple[int, float]:
    size, started = 0, time.perf_counter()
    with (
        server.http(timeout=300) as client,
        client.stream("POST", f"/api/v2/scripts/{script_id}/invoke", json={}, headers=headers) as response,
    ):
        for chunk in response.iter_raw():
            size += len(chunk)
    return size, time.perf_counter() - started


def main() -> None:
    bare, bare_s = _timed_start()
    bare.stop()
    server, sample_s = _timed_start(sample_data=True)
    try:
        print(
            f"start-up: bare {bare_s:.2f} s, --sample-data {sample_s:.2f} s "
            f"(+{sample_s - bare_s:.2f} s; target <= +3 s) {'OK' if sample_s - bare_s <= 3 else 'MISSED'}"
        )
        script_id = server.create_script("bench", FILTER)
        with server.http() as client:
            ping = _rate(lambda: client.get("/ping"))
            fast = _rate(
                lambda: client.post(
                    f"/api/v2/scripts/{script_id}/invoke", json={}, headers={"X-Emulator-Faults": "fast=1"}
                )
            )
        ratio = fast / ping
        print(
            f"fast invoke: {fast:.0f} req/s vs /ping {ping:.0f} req/s = {ratio:.2f} "
            f"(target >= 0.5) {'OK' if ratio >= 0.5 else 'MISSED'}"
        )
        real_bytes, real_s = _stream(server, script_id, {})
        gen_bytes, gen_s = _stream(
            server, script_id, {"X-Emulator-Faults": f"generate_bytes={256 * 1024 * 1024}"}
        )
        mib = 1024 * 1024
        print(
            f"generated body: {gen_bytes / mib / gen_s:.0f} MiB/s vs real query CSV "
            f"{real_bytes / mib / real_s:.0f} MiB/s ({real_bytes / mib:.0f} MiB in {real_s:.1f} s) = "
            f"{(gen_bytes / gen_s) / (real_bytes / real_s):.1f}x"
        )
    finally:
        server.stop()

    data = DataStore()
    now = time.time_ns()
    bucket = load_sample_data(data, "org", now)
    started = time.perf_counter()
    tables = (
        Interpreter(Context(now=Time(now), data=data, org_id="org")).run(parse(FILTER))[0].stream.tables()
    )
    rows = sum(len(table) for table in tables)
    engine_s = time.perf_counter() - started
    started = time.perf_counter()
    baseline = 0
    for (_, _, field), series in bucket.series.items():
        if field == "temperature":
            _times, values = series.window(now - 30 * 86400 * 10**9, now)
            baseline += int(np.count_nonzero(values[values > 0.0]))
    numpy_s = time.perf_counter() - started
    print(
        f"engine range|>filter over {sum(len(s.arrays()[0]) for s in bucket.series.values())} points: "
        f"{engine_s:.3f} s for {rows} rows vs plain numpy {numpy_s:.3f} s = {engine_s / numpy_s:.0f}x"
    )
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in run_script(FILTER, {}, data=data, org_id="org", now_ns=now))
    csv_s = time.perf_counter() - started
    print(f"engine + CSV: {rows / csv_s:.0f} rows/s ({size / 1024 / 1024:.0f} MiB in {csv_s:.2f} s)")
