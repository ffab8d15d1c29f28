"""Line protocol parsing: the full syntax, and errors that name the line."""

from __future__ import annotations

import pytest

from app.emulator.lineprotocol import LineProtocolError, parse_line, parse_lines


def test_parses_measurement_tags_fields_and_timestamp() -> None:
    point = parse_line("cpu,host=a,region=eu usage=0.5,count=3i 1700000000000000000")
    assert point.measurement == "cpu"
    assert point.tags == (("host", "a"), ("region", "eu"))
    assert point.fields == (("usage", "float", 0.5), ("count", "int", 3))
    assert point.time_ns == 1700000000000000000


def test_tags_are_sorted_by_key() -> None:
    assert parse_line("m,z=1,a=2 v=1").tags == (("a", "2"), ("z", "1"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=1", ("float", 1.0)),
        ("v=-1.5e3", ("float", -1500.0)),
        ("v=42i", ("int", 42)),
        ("v=-42i", ("int", -42)),
        ("v=42u", ("uint", 42)),
        ("v=t", ("bool", True)),
        ("v=TRUE", ("bool", True)),
        ("v=false", ("bool", False)),
        ("v=F", ("bool", False)),
        ('v="hello"', ("string", "hello")),
    ],
)
def test_field_types(text: str, expected: tuple[str, object]) -> None:
    ((_, ftype, value),) = parse_line(f"m {text}").fields
    assert (ftype, value) == expected


def test_escapes_in_measurement_tags_and_field_keys() -> None:
    point = parse_line(r"my\ meas\,x,tag\ key=va\,l\=ue fi\=eld=1i")
    assert point.measurement == "my meas,x"
    assert point.tags == (("tag key", "va,l=ue"),)
    assert point.fields[0][0] == "fi=eld"


def test_string_field_with_escaped_quote_comma_space_and_backslash() -> None:
    point = parse_line(r'm s="a \"b\", c\\d",n=1i')
    assert point.fields == (("s", "string", 'a "b", c\\d'), ("n", "int", 1))


def test_quotes_inside_tag_values_are_literal() -> None:
    assert parse_line('m,t=a"b v=1').tags == (("t", 'a"b'),)


@pytest.mark.parametrize(("precision", "factor"), [("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 10**9)])
def test_precision_scales_timestamps(precision: str, factor: int) -> None:
    (point,) = parse_lines("m v=1 1700000000", precision)
    assert point.time_ns == 1700000000 * factor


def test_missing_timestamp_is_none_and_comments_and_blank_lines_are_skipped() -> None:
    points = parse_lines("# comment\n\nm v=1\r\nm v=2 5\n")
    assert [p.time_ns for p in points] == [None, 5]


@pytest.mark.parametrize(
    "line",
    ["m", "m v=", "m v=abc", "m,t v=1", "m v=1 notatime", 'm s="open', "m v=1i2", "m v=1 2 3", ",t=a v=1"],
)
def test_bad_lines_raise_with_the_line_number(line: str) -> None:
    with pytest.raises(LineProtocolError, match="line 2"):
        parse_lines(f"ok v=1\n{line}")


def test_unknown_precision_is_invalid() -> None:
    with pytest.raises(Exception, match="precision"):
        parse_lines("m v=1", "h")
