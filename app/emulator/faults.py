"""Fault injection: latency, 429/500/503 fractions, dropped connections, error tables, generated bodies.

A :class:`Faults` value comes from the CLI (start), the admin endpoint ``POST /emulator/faults`` (JSON,
replaces the server-wide set) or a request header ``X-Emulator-Faults: key=value,key=value`` (merged over
the server-wide set for that one request). Keys:

``latency_ms``       fixed delay before answering (float, ms)
``latency_max_ms``   when above ``latency_ms``: a uniformly random delay in [latency_ms, latency_max_ms]
``rate429``          fraction of requests answered 429 with ``Retry-After: retry_after_s``
``retry_after_s``    the ``Retry-After`` value of injected 429s (int seconds, default 1)
``rate500``/``rate503`` fractions of requests answered 500/503
``drop_after_bytes`` invoke: the connection is dropped after this many body bytes
``error_after_rows`` invoke: an error table (``,error,reference``) follows this many data rows
``generate_bytes``   invoke: answer a generated CSV of exactly this many bytes (streamed, not held)
``fast``             invoke: answer a constant small CSV as quickly as possible
``scope``            ``invoke`` (default: status and latency faults only on invoke) or ``all`` (/api/v2/*)
``seed``             seed of the random draws, for reproducible runs
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from app.emulator.errors import InvalidError

FAULTS_HEADER = "X-Emulator-Faults"
SCOPES = ("invoke", "all")


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    latency_max_ms: float = 0.0
    rate429: float = 0.0
    retry_after_s: int = 1
    rate500: float = 0.0
    rate503: float = 0.0
    drop_after_bytes: int | None = None
    error_after_rows: int | None = None
    generate_bytes: int | None = None
    fast: bool = False
    scope: str = "invoke"
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def merged(self, overrides: dict[str, Any]) -> Faults:
        return replace(self, **overrides) if overrides else self


_FIELDS = {f.name: f for f in fields(Faults)}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, raw: Any) -> Any:
    if name not in _FIELDS:
        raise InvalidError(f"unknown fault {name!r}; known: {', '.join(sorted(_FIELDS))}")
    try:
        if name == "fast":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in _TRUE | _FALSE:
                raise ValueError(text)
            return text in _TRUE
        if name == "scope":
            if raw not in SCOPES:
                raise ValueError(raw)
            return raw
        if raw is None:
            if name in {"drop_after_bytes", "error_after_rows", "generate_bytes", "seed"}:
                return None
            raise ValueError("null")
        if name in {"retry_after_s", "drop_after_bytes", "error_after_rows", "generate_bytes", "seed"}:
            value: Any = int(raw)
            if name != "seed" and value < 0:
                raise ValueError(raw)
            return value
        value = float(raw)
        if value < 0 or (name.startswith("rate") and value > 1):
            raise ValueError(raw)
        return value
    except (TypeError, ValueError):
        raise InvalidError(f"invalid value {raw!r} for fault {name!r}") from None


def parse_overrides(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a mapping of fault names to values (JSON or header strings)."""
    return {name: _convert(name, value) for name, value in data.items()}


def parse_header(text: str) -> dict[str, Any]:
    """``latency_ms=50,rate429=0.3`` -> validated overrides."""
    pairs: dict[str, Any] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise InvalidError(f"invalid {FAULTS_HEADER} entry {part!r}: expected name=value")
        pairs[name.strip()] = value.strip()
    return parse_overrides(pairs)


class FaultState:
    """The server-wide faults and the (seedable) random source their fractions draw from."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def latency_s(self, faults: Faults) -> float:
        low = faults.latency_ms
        if faults.latency_max_ms > low:
            return (low + self.draw() * (faults.latency_max_ms - low)) / 1000.0
        return low / 1000.0

    def status_fault(self, faults: Faults) -> int | None:
        """429, 500, 503 or None, drawn once per request from the fractions."""
        if not (faults.rate429 or faults.rate500 or faults.rate503):
            return None
        value = self.draw()
        for status, rate in ((429, faults.rate429), (500, faults.rate500), (503, faults.rate503)):
            if value < rate:
                return status
            value -= rate
        return None
