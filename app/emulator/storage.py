"""In-memory time-series storage: organizations, buckets and per-series sorted numpy arrays.

A series is (measurement, sorted tag set, field). Its points live in two numpy arrays (int64 ns times,
values) kept sorted by time with one value per timestamp (a later write wins); writes are buffered and
merged on the next read, so reads of a time range are two binary searches.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from app.emulator.errors import ConflictError, InvalidError, NotFoundError
from app.emulator.lineprotocol import Point
from app.emulator.store import new_id

SeriesKey = tuple[str, tuple[tuple[str, str], ...], str]  # measurement, tags, field

NUMPY_DTYPES: dict[str, type | str] = {
    "float": np.float64,
    "int": np.int64,
    "uint": np.uint64,
    "bool": np.bool_,
    "string": object,
}


def org_id_for(name: str) -> str:
    """A stable 16-hex-character ID for an organization name."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Org:
    name: str

    @property
    def id(self) -> str:
        return org_id_for(self.name)


class Series:
    """One series' points, sorted by time, deduplicated (the last write of a timestamp wins)."""

    def __init__(self, ftype: str) -> None:
        self.ftype = ftype
        self._times = np.empty(0, dtype=np.int64)
        self._values = np.empty(0, dtype=NUMPY_DTYPES[ftype])
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._lock = threading.Lock()

    def append(self, times: np.ndarray, values: np.ndarray) -> None:
        with self._lock:
            self._pending.append((np.asarray(times, dtype=np.int64), values))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._pending:
                self._merge()
            return self._times, self._values

    def _merge(self) -> None:
        times = np.concatenate([self._times, *(t for t, _ in self._pending)])
        values = np.concatenate([self._values, *(v for _, v in self._pending)])
        self._pending = []
        if len(times) > 1 and not bool(np.all(times[1:] > times[:-1])):
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
            # keep the last of equal timestamps (stable sort keeps write order)
            keep = np.ones(len(times), dtype=bool)
            keep[:-1] = times[1:] != times[:-1]
            times, values = times[keep], values[keep]
        self._times, self._values = times, values

    def window(self, start_ns: int, stop_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Points with start <= time < stop."""
        times, values = self.arrays()
        lo = int(np.searchsorted(times, start_ns, side="left"))
        hi = int(np.searchsorted(times, stop_ns, side="left"))
        return times[lo:hi], values[lo:hi]


@dataclass
class Bucket:
    name: str
    org_id: str
    id: str = field(default_factory=new_id)
    series: dict[SeriesKey, Series] = field(default_factory=dict)
    field_types: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def series_for(self, key: SeriesKey, ftype: str) -> Series:
        measurement, _, fname = key
        with self.lock:
            known = self.field_types.get((measurement, fname))
            if known is not None and known != ftype:
                raise InvalidError(
                    f'field type conflict: input field "{fname}" on measurement "{measurement}" '
                    f"is type {ftype}, already exists as type {known}"
                )
            self.field_types[(measurement, fname)] = ftype
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series(ftype)
            return series

    def write_points(self, points: Iterable[Point], now_ns: int) -> int:
        """Store points (a missing timestamp means now). Checks every type first: all or nothing."""
        grouped: dict[SeriesKey, tuple[str, list[int], list[object]]] = {}
        count = 0
        for point in points:
            time_ns = now_ns if point.time_ns is None else point.time_ns
            for fname, ftype, value in point.fields:
                key = (point.measurement, point.tags, fname)
                entry = grouped.get(key)
                if entry is None:
                    entry = grouped[key] = (ftype, [], [])
                elif entry[0] != ftype:
                    raise InvalidError(
                        f'field type conflict: input field "{fname}" on measurement "{point.measurement}" '
                        f"is type {ftype}, already exists as type {entry[0]}"
                    )
                entry[1].append(time_ns)
                entry[2].append(value)
                count += 1
        with self.lock:
            for (measurement, _, fname), (ftype, _, _) in grouped.items():
                known = self.field_types.get((measurement, fname))
                if known is not None and known != ftype:
                    raise InvalidError(
                        f'field type conflict: input field "{fname}" on measurement "{measurement}" '
                        f"is type {ftype}, already exists as type {known}"
                    )
        for key, (ftype, times, values) in grouped.items():
            array = np.array(values, dtype=NUMPY_DTYPES[ftype])
            self.series_for(key, ftype).append(np.array(times, dtype=np.int64), array)
        return count


class DataStore:
    """Every bucket of every organization, in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def create_bucket(self, org_id: str, name: str) -> Bucket:
        with self._lock:
            if (org_id, name) in self._buckets:
                raise ConflictError(f"bucket with name {name} already exists")
            bucket = self._buckets[(org_id, name)] = Bucket(name, org_id)
            return bucket

    def ensure_bucket(self, org_id: str, name: str) -> Bucket:
        with self._lock:
            bucket = self._buckets.get((org_id, name))
            if bucket is None:
                bucket = self._buckets[(org_id, name)] = Bucket(name, org_id)
            return bucket

    def get_bucket(self, org_id: str, name: str) -> Bucket:
        with self._lock:
            bucket = self._buckets.get((org_id, name))
        if bucket is None:
            raise NotFoundError(f'failed to initialize execute state: could not find bucket "{name}"')
        return bucket

    def get_bucket_by_id(self, org_id: str, bucket_id: str) -> Bucket:
        with self._lock:
            for bucket in self._buckets.values():
                if bucket.org_id == org_id and bucket.id == bucket_id:
                    return bucket
        raise NotFoundError(f'failed to initialize execute state: could not find bucket "{bucket_id}"')

    def list_buckets(self, org_id: str) -> list[Bucket]:
        with self._lock:
            return sorted((b for b in self._buckets.values() if b.org_id == org_id), key=lambda b: b.name)
