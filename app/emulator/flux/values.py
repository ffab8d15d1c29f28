"""Flux runtime values in Python.

string -> ``str``; int/uint -> ``int``; float -> ``float``; bool -> ``bool``; null -> ``None``;
time -> :class:`Time` (ns since the epoch, UTC); duration -> :class:`Duration`; regexp -> ``re.Pattern``;
record -> ``dict``; array -> ``list``; function -> :class:`Function`; stream of tables -> :class:`Stream`;
package -> :class:`Package`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from app.emulator.flux.table import Table

NS_PER_S = 1_000_000_000
NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
}
MONTHS_PER_UNIT = {"mo": 1, "y": 12}


@dataclass(frozen=True, order=True)
class Time:
    """A point in time: nanoseconds since the Unix epoch, UTC."""

    ns: int

    def __str__(self) -> str:
        return format_time(self.ns)

    def add(self, duration: Duration, sign: int = 1) -> Time:
        ns = self.ns
        if duration.months:
            ns = add_months(ns, sign * duration.months)
        return Time(ns + sign * duration.ns)


@dataclass(frozen=True)
class Duration:
    """A Flux duration: calendar months plus nanoseconds (both carry the sign)."""

    months: int = 0
    ns: int = 0

    def __neg__(self) -> Duration:
        return Duration(-self.months, -self.ns)

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.months + other.months, self.ns + other.ns)

    def __str__(self) -> str:
        return format_duration(self)

    @property
    def is_negative(self) -> bool:
        return self.months < 0 or (self.months == 0 and self.ns < 0)

    def fixed_ns(self) -> int:
        """The duration in ns; raises when it has a calendar (month/year) part."""
        if self.months:
            raise ValueError("duration has a calendar (month or year) part")
        return self.ns


def add_months(ns: int, months: int) -> int:
    seconds, rem = divmod(ns, NS_PER_S)
    moment = datetime.fromtimestamp(seconds, UTC)
    total = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    moved = moment.replace(year=year, month=month + 1, day=day)
    return int(calendar.timegm(moved.timetuple())) * NS_PER_S + rem


def format_time(ns: int) -> str:
    """RFC 3339 with up to nanoseconds, trailing zeros dropped (Go's RFC3339Nano)."""
    text = str(np.datetime64(int(ns), "ns"))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "Z"


def format_duration(value: Duration) -> str:
    if value.months == 0 and value.ns == 0:
        return "0ns"
    parts: list[str] = []
    sign = "-" if value.is_negative else ""
    months, ns = abs(value.months), abs(value.ns)
    if months:
        years, months = divmod(months, 12)
        parts += [f"{years}y"] if years else []
        parts += [f"{months}mo"] if months else []
    for unit in ("w", "d", "h", "m", "s", "ms", "us", "ns"):
        size = NS_PER_UNIT[unit]
        count, ns = divmod(ns, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


@dataclass(frozen=True)
class Package:
    """An imported package: its name and its members (builtins and constants)."""

    name: str
    members: dict[str, Any]


class Function:
    """A Flux function value. ``call(**named)`` evaluates it with Flux values as arguments.

    Closures (arrow functions) also expose ``params`` (their parameter names), ``body`` and ``scope``
    so the vectorised evaluator can run ``(r) => ...`` over whole columns.
    """

    name: str = "<function>"
    params: tuple[str, ...] = ()

    def call(self, **named: Any) -> Any:
        raise NotImplementedError


class Stream:
    """A stream of tables that can be read more than once (each read re-runs its producer).

    The producer runs once at creation so argument errors surface when the pipeline is built; the first
    :meth:`tables` call gets that run's iterator.
    """

    def __init__(self, producer: Callable[[], Iterator[Table]]) -> None:
        self._producer = producer
        self._first: Iterator[Table] | None = producer()

    @classmethod
    def started(cls, producer: Callable[[], Iterator[Table]], first: Iterator[Table]) -> Stream:
        """A stream whose producer already ran once, giving ``first``."""
        stream = cls.__new__(cls)
        stream._producer = producer
        stream._first = first
        return stream

    def tables(self) -> Iterator[Table]:
        first, self._first = self._first, None
        if first is not None:
            return first
        return self._producer()


def type_of(value: Any) -> str:
    """The Flux type name of a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Time):
        return "time"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Function):
        return "function"
    if isinstance(value, Stream):
        return "stream"
    if hasattr(value, "pattern"):
        return "regexp"
    return type(value).__name__
