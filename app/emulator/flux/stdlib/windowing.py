"""Window arithmetic: which windows exist for a table and which rows each one holds.

Windows are ``[k*every + offset, k*every + offset + period)`` for every integer ``k`` (Flux aligns them
to the Unix epoch; calendar ``mo``/``y`` durations align to month boundaries). Their bounds are clipped
to the table's ``_start``/``_stop`` (the range) when it has them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.values import Duration

MAX_WINDOWS = 5_000_000


@dataclass(frozen=True)
class WindowSpec:
    every: Duration
    period: Duration
    offset: Duration
    fn: str

    @classmethod
    def build(cls, every: object, period: object, offset: object, fn: str) -> WindowSpec:
        for name, value in (("every", every), ("period", period), ("offset", offset)):
            if value is not None and not isinstance(value, Duration):
                raise FluxError(f"{fn}(): argument {name!r} must be a duration")
        if not isinstance(every, Duration):
            raise FluxError(f"{fn}(): missing required argument 'every'")
        shift = offset if isinstance(offset, Duration) else Duration()
        spec = cls(every, period if isinstance(period, Duration) else every, shift, fn)
        spec.validate()
        return spec

    @property
    def calendar(self) -> bool:
        return bool(self.every.months)

    def validate(self) -> None:
        every, period, offset = self.every, self.period, self.offset
        if every.is_negative or (every.months == 0 and every.ns == 0):
            raise FluxError(f"{self.fn}(): every must be a positive duration, got {every}")
        if period.is_negative or (period.months == 0 and period.ns == 0):
            raise UnsupportedError(f"{self.fn}(): a negative or zero period ({period}) is not supported")
        if every.months and every.ns:
            raise UnsupportedError(f"{self.fn}(): a duration mixing months and smaller units ({every})")
        if bool(every.months) != bool(period.months) or (period.ns and period.months):
            raise UnsupportedError(f"{self.fn}(): every ({every}) and period ({period}) of different kinds")
        if every.months and offset.months and offset.ns:
            raise UnsupportedError(f"{self.fn}(): an offset mixing months and smaller units ({offset})")
        if not every.months and offset.months:
            raise UnsupportedError(f"{self.fn}(): a calendar offset ({offset}) with a fixed every")


def _floor_div(a: np.ndarray, b: int) -> np.ndarray:
    return np.floor_divide(a, b)


def _month_index(times: np.ndarray) -> np.ndarray:
    return times.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)


def _month_start_ns(months: np.ndarray) -> np.ndarray:
    return months.astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """Window bounds (clipped) and, for each, the rows ``lo:hi`` of the time-sorted table."""

    starts: np.ndarray
    stops: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


def _k_range(spec: WindowSpec, first_ns: int, last_ns: int) -> tuple[int, int]:
    """Window numbers of every window that overlaps [first_ns, last_ns]."""
    if spec.calendar:
        every, period, off = spec.every.months, spec.period.months, spec.offset.months
        shift = spec.offset.ns
        m_first = int(_month_index(np.array([first_ns - shift]))[0])
        m_last = int(_month_index(np.array([last_ns - shift]))[0])
        return (m_first - off - period) // every + 1, (m_last - off) // every
    every_ns, period_ns, off_ns = spec.every.ns, spec.period.ns, spec.offset.ns
    return (first_ns - off_ns - period_ns) // every_ns + 1, (last_ns - off_ns) // every_ns


def _bounds(spec: WindowSpec, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if spec.calendar:
        base = ks * spec.every.months + spec.offset.months
        return (
            _month_start_ns(base) + spec.offset.ns,
            _month_start_ns(base + spec.period.months) + spec.offset.ns,
        )
    starts = ks * spec.every.ns + spec.offset.ns
    return starts, starts + spec.period.ns


def compute_windows(
    spec: WindowSpec,
    times: np.ndarray,
    bounds: tuple[int, int] | None,
    create_empty: bool,
) -> Windows:
    """The windows of one table whose ``times`` (int64 ns) are sorted ascending.

    With ``create_empty`` every window overlapping ``bounds`` is listed, else only those holding rows.
    """
    if len(times) == 0 and not (create_empty and bounds is not None):
        empty = np.empty(0, dtype=np.int64)
        return Windows(empty, empty, empty, empty)
    if create_empty and bounds is not None:
        first, last = bounds[0], bounds[1] - 1
    else:
        first, last = int(times[0]), int(times[-1])
    if last < first:
        empty = np.empty(0, dtype=np.int64)
        return Windows(empty, empty, empty, empty)
    k_lo, k_hi = _k_range(spec, first, last)
    count = k_hi - k_lo + 1
    if count > MAX_WINDOWS:
        raise FluxError(f"{spec.fn}(): {count} windows of {spec.every} is too many; use a larger every")
    ks = np.arange(k_lo, k_hi + 1, dtype=np.int64)
    starts, stops = _bounds(spec, ks)
    lo = np.searchsorted(times, starts, side="left")
    hi = np.searchsorted(times, stops, side="left")
    if bounds is not None:
        keep = (stops > bounds[0]) & (starts < bounds[1])
        starts = np.maximum(starts, bounds[0])
        stops = np.minimum(stops, bounds[1])
    else:
        keep = np.ones(len(ks), dtype=bool)
    if not create_empty:
        keep &= hi > lo
    return Windows(starts[keep], stops[keep], lo[keep], hi[keep])


def truncate_ns(times: np.ndarray, unit: Duration) -> np.ndarray:
    """Times truncated to a multiple of ``unit`` since the epoch (calendar units by month)."""
    if unit.months and unit.ns:
        raise UnsupportedError(f"truncate: unit mixing months and smaller units ({unit})")
    if unit.months:
        months = _month_index(times)
        return _month_start_ns(_floor_div(months, unit.months) * unit.months)
    if unit.ns <= 0:
        raise FluxError(f"truncate: unit must be a positive duration, got {unit}")
    return _floor_div(times, unit.ns) * unit.ns
