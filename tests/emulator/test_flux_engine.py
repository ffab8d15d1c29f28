"""The Flux engine end to end (parse, evaluate, CSV) for the core functions."""

from __future__ import annotations

import pytest

from app.emulator.errors import InvalidError, NotFoundError
from app.emulator.flux.errors import FluxError, MissingParamsError, UnsupportedError
from app.emulator.query import infer_params
from tests.emulator.flux_helpers import invoke_csv, records, rows, run_csv, store_with, ts

LINES = "\n".join(
    [
        f"air,sensor_id=S2 temp=20.5,hum=40i {ts(1)}",
        f"air,sensor_id=S2 temp=21.5,hum=41i {ts(2)}",
        f"air,sensor_id=S1 temp=10,hum=30i {ts(1)}",
        f"air,sensor_id=S1 temp=11.25,hum=31i {ts(3)}",
        f"other,host=h v=1.5 {ts(2)}",
    ]
)
START = "2023-11-14T21:13:20Z"
STOP = "2023-11-14T22:13:20Z"


@pytest.fixture
def data():  # type: ignore[no-untyped-def]
    return store_with(LINES)


def test_range_output_columns_group_key_order_and_table_numbering(data) -> None:  # type: ignore[no-untyped-def]
    text = run_csv(data, 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "temp")')
    lines = text.split("\r\n")
    assert lines[0] == ",result,table,_start,_stop,_time,_value,_field,_measurement,sensor_id"
    got = [(r["table"], r["sensor_id"], r["_field"], r["_time"], r["_value"]) for r in records(text)]
    # series order: measurement, then tags; one table per series; tables numbered from 0
    assert got == [
        ("0", "S1", "temp", "2023-11-14T21:14:20Z", "10"),
        ("0", "S1", "temp", "2023-11-14T21:16:20Z", "11.25"),
        ("1", "S2", "temp", "2023-11-14T21:14:20Z", "20.5"),
        ("1", "S2", "temp", "2023-11-14T21:15:20Z", "21.5"),
    ]


def test_tables_are_split_by_series_and_a_new_header_follows_a_type_change(data) -> None:  # type: ignore[no-untyped-def]
    text = run_csv(
        data, 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "air")'
    )
    table_fields = [(r["table"], r["_field"], r["sensor_id"]) for r in records(text)]
    assert sorted(set(table_fields)) == [
        ("0", "hum", "S1"),
        ("1", "temp", "S1"),
        ("2", "hum", "S2"),
        ("3", "temp", "S2"),
    ]
    # hum is an int, temp a float: each change of column types starts a new header block
    assert text.count(",result,table,") == 4
    assert text.endswith("\r\n\r\n")


def test_start_and_stop_columns_are_the_range_bounds(data) -> None:  # type: ignore[no-untyped-def]
    text = run_csv(data, f'from(bucket: "b") |> range(start: {START}, stop: {STOP}) |> last()')
    for record in records(text):
        assert (record["_start"], record["_stop"]) == (START, STOP)


def test_range_stop_is_exclusive_and_int_bounds_are_unix_seconds(data) -> None:  # type: ignore[no-untyped-def]
    start_s = ts(1) // 10**9
    text = run_csv(
        data,
        f'from(bucket: "b") |> range(start: {start_s}, stop: {start_s + 60})'
        ' |> filter(fn: (r) => r._field == "temp")',
    )
    assert sorted(r["_value"] for r in records(text)) == ["10", "20.5"]


def test_filter_with_regex_not_exists_and_or(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        'from(bucket: "b") |> range(start: -1h)'
        ' |> filter(fn: (r) => (r.sensor_id =~ /^S[1]$/ and r._field == "temp")'
        ' or (not exists r.sensor_id and r.host == "h"))'
    )
    got = sorted((r["_measurement"], r["_value"]) for r in records(run_csv(data, script)))
    assert got == [("air", "10"), ("air", "11.25"), ("other", "1.5")]


def test_filter_bracket_member_and_numeric_comparison(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r["_field"] == "hum" and r._value >= 40)'
    )
    assert sorted(r["_value"] for r in records(run_csv(data, script))) == ["40", "41"]


def test_vectorised_and_per_row_filters_agree(data) -> None:  # type: ignore[no-untyped-def]
    fast = 'filter(fn: (r) => r._field == "temp" and r._value > 10.5)'
    slow = 'filter(fn: (r) => { v = r._value\n return r._field == "temp" and v > 10.5 })'
    base = 'from(bucket: "b") |> range(start: -1h) |> '
    assert run_csv(data, base + fast) == run_csv(data, base + slow)
    assert len(records(run_csv(data, base + fast))) == 3


def test_limit_offset_first_last(data) -> None:  # type: ignore[no-untyped-def]
    base = (
        'from(bucket: "b") |> range(start: -1h)'
        ' |> filter(fn: (r) => r._field == "temp" and r.sensor_id == "S2")'
    )
    assert [r["_value"] for r in records(run_csv(data, base + " |> limit(n: 1)"))] == ["20.5"]
    assert [r["_value"] for r in records(run_csv(data, base + " |> limit(n: 1, offset: 1)"))] == ["21.5"]
    assert [r["_value"] for r in records(run_csv(data, base + " |> first()"))] == ["20.5"]
    assert [r["_value"] for r in records(run_csv(data, base + " |> last()"))] == ["21.5"]


def test_several_yields_give_several_results(data) -> None:  # type: ignore[no-untyped-def]
    script = """
data = from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "temp")
data |> first() |> yield(name: "first")
data |> last() |> yield(name: "last")
"""
    text = run_csv(data, script)
    blocks = [b for b in text.split("\r\n\r\n") if b]
    assert len(blocks) == 2
    assert [r["result"] for r in records(text)] == ["first", "first", "last", "last"]
    assert [r["table"] for r in records(text)] == ["0", "1", "0", "1"]


def test_duplicate_unnamed_results_are_an_error(data) -> None:  # type: ignore[no-untyped-def]
    script = 'from(bucket: "b") |> range(start: -1h)\nfrom(bucket: "b") |> range(start: -2h)'
    with pytest.raises(FluxError, match="duplicate yield"):
        run_csv(data, script)


def test_params_strings_converted_with_duration_and_time(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        "from(bucket: params.bucket) |> range(start: duration(v: params.start), stop: time(v: params.stop))"
        " |> filter(fn: (r) => r._field == params.field)"
    )
    params = {"bucket": "b", "start": "-1h", "stop": "2023-11-14T21:15:00Z", "field": "temp"}
    assert sorted(r["_value"] for r in records(run_csv(data, script, params))) == ["10", "20.5"]


def test_missing_param_is_invalid_parameters_provided(data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MissingParamsError, match=r"^invalid parameters provided$") as info:
        run_csv(data, "from(bucket: params.bucket) |> range(start: -1h)")
    assert info.value.code == "invalid"
    assert info.value.status == 400


def test_unknown_bucket_is_not_found(data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError, match='could not find bucket "nope"'):
        invoke_csv(data, 'from(bucket: "nope") |> range(start: -1h)')


@pytest.mark.parametrize(
    ("script", "named"),
    [
        ('from(bucket: "b") |> range(start: -1h) |> holtWinters(n: 1)', "holtWinters"),
        ('import "sql"\nsql.from()', '"sql"'),
        ('from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._value == ["a": 1])', "dictionary"),
        ('option task = {name: "x"}\nfrom(bucket: "b") |> range(start: -1h)', "option task"),
        ('from(bucket: "b") |> filter(fn: (r) => true)', "unbounded"),
    ],
)
def test_unsupported_constructs_are_400_naming_them(data, script: str, named: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedError, match=named):
        invoke_csv(data, script)


@pytest.mark.parametrize(
    "script",
    ['from(bucket: "b" |> range(start: -1h)', 'from(bucket: "b") |> range(start: -1x)', "x = ", 'from("b")'],
)
def test_syntax_errors_are_invalid_with_a_position(data, script: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidError, match="line 1"):
        invoke_csv(data, script)


def test_type_errors_are_reported_not_answered_wrong(data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FluxError, match="type error"):
        invoke_csv(data, 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == 1)')


def test_error_after_rows_ends_with_the_error_table(data) -> None:  # type: ignore[no-untyped-def]
    text = run_csv(data, 'from(bucket: "b") |> range(start: -1h)', error_after_rows=2)
    assert text.endswith("\r\n,error,reference\r\n,injected error after 2 rows,\r\n")
    assert len([r for r in rows(text) if r and r[1] == "_result"]) == 2


def test_empty_result_is_an_empty_body(data) -> None:  # type: ignore[no-untyped-def]
    assert (
        invoke_csv(data, 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "x")') == ""
    )


def test_expressions_arithmetic_conditionals_and_interpolation(data) -> None:  # type: ignore[no-untyped-def]
    script = """
x = 7 / 2 + 10 % 4 * 2
label = if x > 5 then "big ${x}" else "small"
from(bucket: "b") |> range(start: -1h)
  |> filter(fn: (r) => r._field == "hum" and r._value == 30 + x - 7 and label == "big 7")
"""
    assert [r["_value"] for r in records(run_csv(data, script))] == ["30"]


def test_param_types_are_inferred_from_use() -> None:
    script = (
        "from(bucket: params.bucket) |> range(start: duration(v: params.start))"
        ' |> filter(fn: (r) => r.x == params.x and r._value > params.limit * 1.0 and r.s == "a" + params.s)'
        " |> limit(n: params.n)"
    )
    assert infer_params(script) == {
        "bucket": "string",
        "start": "any",
        "x": "any",
        "limit": "float",
        "s": "string",
        "n": "int",
    }


def test_option_now_sets_the_reference_time_of_relative_ranges(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        "option now = () => 2023-11-14T21:15:00Z\n"
        'from(bucket: "b") |> range(start: -10m) |> filter(fn: (r) => r._field == "temp")'
    )
    got = records(run_csv(data, script))
    assert sorted(r["_value"] for r in got) == ["10", "20.5"]
    assert {r["_stop"] for r in got} == {"2023-11-14T21:15:00Z"}


def test_a_stream_variable_can_be_read_twice(data) -> None:  # type: ignore[no-untyped-def]
    script = """
temps = from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r._field == "temp")
temps |> limit(n: 1) |> yield(name: "a")
temps |> yield(name: "b")
"""
    got = records(run_csv(data, script))
    assert len([r for r in got if r["result"] == "a"]) == 2
    assert len([r for r in got if r["result"] == "b"]) == 4
