"""map, pivot, group, union, column functions, strings and math beyond the golden cases."""

from __future__ import annotations

import pytest

from app.emulator.flux.errors import FluxError
from tests.emulator.flux_helpers import NOW_NS, invoke_csv, records, rows, store_with

S = 10**9
LINES = "\n".join(
    [
        f"m,room=kitchen,floor=1 t=20.5,h=40i {NOW_NS - 300 * S}",
        f"m,room=kitchen,floor=1 t=21.5,h=41i {NOW_NS - 200 * S}",
        f"m,room=living,floor=1 t=19.25,h=50i {NOW_NS - 300 * S}",
        f"m,room=living,floor=1 t=18.75 {NOW_NS - 100 * S}",
        f"m,room=attic,floor=2 t=15.0,h=70i {NOW_NS - 200 * S}",
    ]
)
READ = 'from(bucket: "b") |> range(start: -10m) |> filter(fn: (r) => r._measurement == "m")'
TEMP = READ + ' |> filter(fn: (r) => r._field == "t")'


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return store_with(LINES)


def test_map_that_changes_a_key_column_regroups_the_rows(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(data, TEMP + ' |> map(fn: (r) => ({r with room: "all"})) |> count()')
    assert [(r["room"], r["floor"], r["_value"]) for r in records(text)] == [
        ("all", "1", "4"),
        ("all", "2", "1"),
    ]


def test_map_row_by_row_gives_the_same_answer_as_column_wise(data) -> None:  # type: ignore[no-untyped-def]
    vector = invoke_csv(data, TEMP + ' |> map(fn: (r) => ({r with x: r._value * 2.0, tag: "${r.room}!"}))')
    per_row = invoke_csv(
        data,
        TEMP + ' |> map(fn: (r) => {\n  y = r._value * 2.0\n  return {r with x: y, tag: r.room + "!"}\n})',
    )
    assert vector == per_row
    assert records(vector)[0]["x"] == "41"


def test_map_output_columns_are_in_label_order(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(data, TEMP + " |> map(fn: (r) => ({z: r._value, a: r.room, _time: r._time}))")
    assert rows(text)[0] == ["", "result", "table", "_time", "a", "z"]
    assert len({r["table"] for r in records(text)}) == 1


def test_pivot_joins_several_column_keys_with_underscores(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(
        data, READ + ' |> pivot(rowKey: ["_time"], columnKey: ["room", "_field"], valueColumn: "_value")'
    )
    first_floor = [r for r in records(text) if r["floor"] == "1"]
    assert {"kitchen_t", "kitchen_h", "living_t", "living_h"} <= set(first_floor[0])
    assert [r["_time"] for r in first_floor] == sorted(r["_time"] for r in first_floor)  # one row per _time
    assert [(r["kitchen_t"], r["living_t"], r["living_h"]) for r in first_floor] == [
        ("20.5", "19.25", "50"),
        ("21.5", "", ""),
        ("", "18.75", ""),
    ]


def test_group_by_a_tag_then_sort_then_top(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(data, TEMP + ' |> group(columns: ["floor"]) |> top(n: 2)')
    assert [(r["floor"], r["_value"]) for r in records(text)] == [("1", "21.5"), ("1", "20.5"), ("2", "15")]


def test_sort_descending_puts_nulls_first(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(
        data,
        READ + ' |> filter(fn: (r) => r.room == "living") |> pivot(rowKey: ["_time"], columnKey: ["_field"],'
        ' valueColumn: "_value") |> sort(columns: ["h"], desc: true)',
    )
    assert [r["h"] for r in records(text)] == ["", "50"]


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("|> union(tables: [])", "union"),
        ('|> rename(columns: {nosuch: "x"})', "nosuch"),
        ('|> difference(columns: ["room"])', "difference"),
        ('|> fill(column: "nosuch", value: 1.0)', "nosuch"),
        ("|> fill(value: 1.0, usePrevious: true)", "fill"),
        ('|> keep(columns: "_value")', "keep"),
        ("|> top(n: -1)", "top"),
        ('|> pivot(rowKey: ["_time"], columnKey: [], valueColumn: "_value")', "columnKey"),
        ("|> derivative(unit: 1mo)", "calendar"),
        ("|> map(fn: (r) => r._value)", "record"),
    ],
)
def test_bad_arguments_are_400_naming_the_function_or_column(data, script: str, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FluxError) as caught:
        invoke_csv(data, TEMP + " " + script)
    assert words in str(caught.value)
    assert caught.value.status == 400


def test_union_of_a_single_stream_is_refused(data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FluxError, match="union"):
        invoke_csv(data, f"a = {TEMP}\nunion(tables: [a])")


def test_keep_and_drop_take_a_predicate(data) -> None:  # type: ignore[no-untyped-def]
    kept = invoke_csv(data, TEMP + ' |> keep(fn: (column) => column == "_value" or column == "room")')
    dropped = invoke_csv(
        data, TEMP + " |> drop(fn: (column) => column =~ /^_(start|stop|measurement|field|time)$/)"
    )
    assert rows(kept)[0] == ["", "result", "table", "_value", "room"]
    assert rows(dropped)[0] == ["", "result", "table", "_value", "floor", "room"]


def test_strings_functions_in_filter_and_map(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        'import "strings"\n'
        + TEMP
        + ' |> filter(fn: (r) => strings.hasSuffix(v: r.room, suffix: "en")'
        + ' or strings.containsAny(v: r.room, chars: "xyz"))'
        + " |> map(fn: (r) => ({r with room: strings.toUpper(v: r.room)}))"
    )
    assert {r["room"] for r in records(invoke_csv(data, script))} == {"KITCHEN"}


def test_strings_in_a_row_by_row_filter_agree_with_the_column_wise_one(data) -> None:  # type: ignore[no-untyped-def]
    column_wise = invoke_csv(
        data,
        'import "strings"\n' + TEMP + ' |> filter(fn: (r) => strings.hasPrefix(v: r.room, prefix: "li"))',
    )
    row_wise = invoke_csv(
        data,
        'import "strings"\n'
        + TEMP
        + ' |> filter(fn: (r) => {\n  p = "li"\n  return strings.hasPrefix(v: r.room, prefix: p)\n})',
    )
    assert column_wise == row_wise
    assert {r["room"] for r in records(row_wise)} == {"living"}


def test_math_functions_and_constants_in_map(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        'import "math"\n'
        + TEMP
        + " |> map(fn: (r) => ({r with _value: math.floor(x: r._value) + math.e - math.e}))"
    )
    assert sorted(r["_value"] for r in records(invoke_csv(data, script))) == ["15", "18", "19", "20", "21"]


def test_cumulative_sum_keeps_null_rows_null(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(
        data,
        READ + ' |> filter(fn: (r) => r.room == "living") |> pivot(rowKey: ["_time"], columnKey: ["_field"],'
        ' valueColumn: "_value") |> cumulativeSum(columns: ["h", "t"])',
    )
    assert [(r["h"], r["t"]) for r in records(text)] == [("50", "19.25"), ("", "38")]


def test_elapsed_truncates_to_whole_units(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(data, TEMP + ' |> filter(fn: (r) => r.room == "living") |> elapsed(unit: 1m)')
    assert [r["elapsed"] for r in records(text)] == ["3"]


def test_distinct_of_strings_and_set_of_an_existing_column(data) -> None:  # type: ignore[no-untyped-def]
    text = invoke_csv(data, TEMP + ' |> group() |> distinct(column: "room")')
    assert [r["_value"] for r in records(text)] == ["kitchen", "living", "attic"]
    text = invoke_csv(data, TEMP + ' |> set(key: "_field", value: "temp") |> last()')
    assert {r["_field"] for r in records(text)} == {"temp"}


def test_pivot_not_straight_from_storage_keeps_first_seen_order(data) -> None:  # type: ignore[no-untyped-def]
    # map takes the table out of storage's layout: Flux's own pivot (new columns as first seen)
    text = invoke_csv(
        data,
        TEMP + ' |> filter(fn: (r) => r.room == "kitchen") |> map(fn: (r) => ({r with k: r._value < 21.0}))'
        ' |> pivot(rowKey: ["_time"], columnKey: ["k"], valueColumn: "_value")',
    )
    assert rows(text)[0][-2:] == ["true", "false"]
    assert [(r["true"], r["false"]) for r in records(text)] == [("20.5", ""), ("", "21.5")]


def test_window_every_inf_is_a_400_naming_it(data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FluxError, match="inf"):
        invoke_csv(data, TEMP + " |> window(every: inf)")
