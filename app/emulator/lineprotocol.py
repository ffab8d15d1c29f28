"""InfluxDB line protocol parsing: ``measurement[,tag=v...] field=value[,field=value...] [timestamp]``.

Handles the full syntax: backslash escapes (commas and spaces in measurements; commas, equals signs and
spaces in tag keys, tag values and field keys; double quotes and backslashes in string field values),
comments and blank lines, field types (float, ``i`` integer, ``u`` unsigned, boolean, string) and
timestamps in ns/us/ms/s precision. Lines without escapes or quotes take a fast path.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.emulator.errors import InvalidError

PRECISION_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
_TRUE = {"t", "T", "true", "True", "TRUE"}
_FALSE = {"f", "F", "false", "False", "FALSE"}

FieldValue = float | int | bool | str


@dataclass(frozen=True)
class Point:
    measurement: str
    tags: tuple[tuple[str, str], ...]  # sorted by key
    fields: tuple[tuple[str, str, FieldValue], ...]  # (key, flux type, value)
    time_ns: int | None


class LineProtocolError(InvalidError):
    """Raised when a line cannot be parsed; the message names the line number and the problem."""


def parse_field_value(text: str) -> tuple[str, FieldValue]:
    """One unquoted field value -> (flux type, value). Strings are handled by the caller."""
    if not text:
        raise ValueError("missing field value")
    last = text[-1]
    if last == "i" and text[:-1].lstrip("-").isdigit():
        value = int(text[:-1])
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"integer value out of range: {text}")
        return "int", value
    if last == "u" and text[:-1].isdigit():
        uvalue = int(text[:-1])
        if uvalue > UINT64_MAX:
            raise ValueError(f"unsigned value out of range: {text}")
        return "uint", uvalue
    if text in _TRUE:
        return "bool", True
    if text in _FALSE:
        return "bool", False
    if text.lower() in {"nan", "inf", "+inf", "-inf", "infinity", "-infinity"} or "_" in text:
        raise ValueError(f"invalid number: {text}")
    try:
        return "float", float(text)
    except ValueError:
        raise ValueError(f"invalid field value: {text}") from None


def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` not preceded by a backslash (no quoting: measurement, tags, field keys)."""
    parts: list[str] = []
    begin, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == sep:
            parts.append(text[begin:i])
            begin = i + 1
        i += 1
    parts.append(text[begin:])
    return parts


def _skip_string(text: str, i: int) -> int:
    """``text[i]`` opens a string field value; return the index just past its closing quote."""
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    raise ValueError("unterminated string field value")


def _field_parts(text: str) -> list[str]:
    """Split a field section on unescaped commas; a quote right after ``=`` opens a string value."""
    parts: list[str] = []
    begin, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"' and i > 0 and text[i - 1] == "=":
            i = _skip_string(text, i)
            continue
        if ch == ",":
            parts.append(text[begin:i])
            begin = i + 1
        i += 1
    parts.append(text[begin:])
    return parts


def _sections(line: str) -> list[str]:
    """measurement+tags, fields, [timestamp]: split on unescaped spaces (quotes only in fields)."""
    sections: list[str] = []
    begin, i, n = 0, 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"' and len(sections) == 1 and i > 0 and line[i - 1] == "=":
            i = _skip_string(line, i)
            continue
        if ch == " ":
            if i > begin:
                sections.append(line[begin:i])
            begin = i + 1
        i += 1
    if n > begin:
        sections.append(line[begin:])
    return sections


def _unescape(text: str, chars: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in chars:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _split_key(head: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = _split_unescaped(head, ",")
    measurement = _unescape(parts[0], ", ")
    if not measurement:
        raise ValueError("missing measurement")
    tags: dict[str, str] = {}
    for part in parts[1:]:
        key, value = _split_pair(part, "tag")
        tags[_unescape(key, ",= ")] = _unescape(value, ",= ")
    return measurement, tuple(sorted(tags.items()))


def _split_pair(part: str, what: str) -> tuple[str, str]:
    pieces = _split_unescaped(part, "=")
    if len(pieces) < 2 or not pieces[0]:
        raise ValueError(f"invalid {what} {part!r}: expected key=value")
    key = pieces[0]
    value = part[len(key) + 1 :]
    if what == "tag" and not value:
        raise ValueError(f"missing tag value for {key!r}")
    return key, value


def _parse_fields(text: str) -> tuple[tuple[str, str, FieldValue], ...]:
    out: list[tuple[str, str, FieldValue]] = []
    for part in _field_parts(text):
        key, raw = _split_pair(part, "field")
        name = _unescape(key, ",= ")
        if raw.startswith('"'):
            if len(raw) < 2 or _skip_string(raw, 0) != len(raw):
                raise ValueError(f"invalid string field value for {name!r}")
            out.append((name, "string", _unescape(raw[1:-1], '"\\')))
        else:
            ftype, value = parse_field_value(raw)
            out.append((name, ftype, value))
    if not out:
        raise ValueError("missing fields")
    return tuple(out)


def parse_line(line: str, precision: str = "ns") -> Point:
    sections = line.split() if "\\" not in line and '"' not in line else _sections(line)
    if len(sections) < 2:
        raise ValueError("missing fields")
    if len(sections) > 3:
        raise ValueError("too many sections (unescaped spaces?)")
    measurement, tags = _split_key(sections[0])
    fields = _parse_fields(sections[1])
    time_ns: int | None = None
    if len(sections) == 3:
        raw = sections[2]
        if not raw.lstrip("-").isdigit():
            raise ValueError(f"invalid timestamp {raw!r}")
        time_ns = int(raw) * PRECISION_NS[precision]
        if not INT64_MIN <= time_ns <= INT64_MAX:
            raise ValueError(f"timestamp out of range: {raw}")
    return Point(measurement, tags, fields, time_ns)


def parse_lines(body: str, precision: str = "ns") -> list[Point]:
    """Every point of a write body; a bad line raises :class:`LineProtocolError` naming its number."""
    if precision not in PRECISION_NS:
        raise InvalidError(f"invalid precision {precision!r}: use one of ns, us, ms, s")
    points: list[Point] = []
    for number, raw in enumerate(body.split("\n"), start=1):
        line = raw.rstrip("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        try:
            points.append(parse_line(line, precision))
        except ValueError as exc:
            raise LineProtocolError(f"unable to parse line {number} {line[:100]!r}: {exc}") from None
    return points
