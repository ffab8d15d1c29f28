"""RFC 3339 time literals and strings (``2021-01-01``, ``2021-01-01T00:00:00Z``, offsets, nanoseconds)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.emulator.flux.values import NS_PER_S, Time


def parse_time_literal(text: str) -> Time:
    """Parse a date or RFC 3339 date-time with up to nanosecond precision; raises ValueError."""
    if "T" not in text:
        if len(text) != 10:
            raise ValueError("expected YYYY-MM-DD")
        moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        return Time(int(moment.timestamp()) * NS_PER_S)
    date_part, _, rest = text.partition("T")
    if rest.endswith("Z"):
        clock, offset = rest[:-1], "+00:00"
    elif len(rest) > 6 and rest[-6] in "+-" and rest[-3] == ":":
        clock, offset = rest[:-6], rest[-6:]
    else:
        raise ValueError("missing time zone (Z or +hh:mm)")
    fraction_ns = 0
    if "." in clock:
        clock, fraction = clock.split(".", 1)
        if not fraction.isdigit() or len(fraction) > 9:
            raise ValueError("invalid fractional seconds")
        fraction_ns = int(fraction.ljust(9, "0"))
    moment = datetime.strptime(f"{date_part}T{clock}{offset}", "%Y-%m-%dT%H:%M:%S%z")
    return Time(int(moment.timestamp()) * NS_PER_S + fraction_ns)
