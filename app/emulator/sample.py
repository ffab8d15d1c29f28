"""The ``--sample-data`` set: bucket ``air_sensor``, measurement ``airSensors``, eight sensors, fields
temperature/humidity/co, one point a minute over the last 30 days (about 1M values), made with numpy."""

from __future__ import annotations

import numpy as np

from app.emulator.storage import Bucket, DataStore

SAMPLE_BUCKET = "air_sensor"
SAMPLE_MEASUREMENT = "airSensors"
SAMPLE_SENSORS = tuple(f"TLM0{n}" for n in (100, 101, 102, 103, 200, 201, 202, 203))
SAMPLE_DAYS = 30
SAMPLE_STEP_S = 60
_NS_PER_S = 1_000_000_000
_DAY_S = 86_400


def sample_times(now_ns: int) -> np.ndarray:
    """One timestamp a minute, aligned to the minute, ending at the last whole minute before now."""
    step_ns = SAMPLE_STEP_S * _NS_PER_S
    last = (now_ns // step_ns) * step_ns
    count = SAMPLE_DAYS * _DAY_S // SAMPLE_STEP_S
    return last - np.arange(count - 1, -1, -1, dtype=np.int64) * step_ns


def _fields(times: np.ndarray, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    day_phase = (times // _NS_PER_S % _DAY_S) / _DAY_S * 2 * np.pi
    n = len(times)
    temperature = 71.0 + index * 0.4 + 2.5 * np.sin(day_phase) + rng.normal(0, 0.3, n)
    humidity = 35.0 + index * 0.2 - 1.5 * np.sin(day_phase) + rng.normal(0, 0.2, n)
    co = 0.48 + index * 0.01 + 0.02 * np.cos(day_phase) + rng.normal(0, 0.005, n)
    return {
        "co": np.round(co, 3),
        "humidity": np.round(humidity, 2),
        "temperature": np.round(temperature, 2),
    }


def load_sample_data(data: DataStore, org_id: str, now_ns: int) -> Bucket:
    """Create (or fill) the ``air_sensor`` bucket of one org."""
    bucket = data.ensure_bucket(org_id, SAMPLE_BUCKET)
    times = sample_times(now_ns)
    for index, sensor in enumerate(SAMPLE_SENSORS):
        rng = np.random.default_rng(1000 + index)
        for field, values in _fields(times, index, rng).items():
            key = (SAMPLE_MEASUREMENT, (("sensor_id", sensor),), field)
            bucket.series_for(key, "float").append(times, values)
    return bucket
