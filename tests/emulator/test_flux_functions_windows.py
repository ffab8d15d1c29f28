"""aggregateWindow, window and the aggregates beyond the golden cases: the vectorised path agrees with
the generic one, sums add left to right like Flux, the t-digest median, calendar windows, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.stdlib.common import sequential_segment_sums
from app.emulator.flux.stdlib.tdigest import tdigest_quantile
from tests.emulator.flux_helpers import NOW_NS, invoke_csv, records, rows, store_with

MINUTE_NS = 60 * 10**9
BASE_NS = NOW_NS - 6 * 3600 * 10**9


def _irregular_lines() -> str:
    """Two sensors, an int and a float field, irregular times, a gap of two hours."""
    rng = np.random.default_rng(3)
    lines = []
    for sensor in ("a", "b"):
        minute = 0
        while minute < 6 * 60:
            minute += int(rng.integers(1, 9))
            if 120 <= minute < 240:
                continue
            t = BASE_NS + minute * MINUTE_NS
            lines.append(f"m,s={sensor} f={rng.normal() * 10:.4f},i={int(rng.integers(-50, 50))}i {t}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return store_with(_irregular_lines())


READ = 'from(bucket: "b") |> range(start: -6h) |> filter(fn: (r) => r._field == "{field}")'


@pytest.mark.parametrize("fn", ["mean", "sum", "count", "min", "max", "first", "last", "spread", "median"])
@pytest.mark.parametrize(
    ("field", "extra"), [("f", ""), ("i", ", createEmpty: false"), ("f", ", offset: 7m")]
)
def test_vectorised_aggregate_window_matches_real_windows(data, fn: str, field: str, extra: str) -> None:  # type: ignore[no-untyped-def]
    fast = invoke_csv(data, READ.format(field=field) + f" |> aggregateWindow(every: 20m, fn: {fn}{extra})")
    generic = invoke_csv(
        data,
        READ.format(field=field)
        + " |> aggregateWindow(every: 20m, "
        + f"fn: (column, tables=<-) => tables |> {fn}(column: column){extra})",
    )
    # same tables, rows and values; the column order may differ (storage's order for the fast path)
    assert records(fast) == records(generic)
    assert len(records(fast)) > 10


def test_aggregate_window_straight_from_storage_uses_storage_column_order(data) -> None:  # type: ignore[no-untyped-def]
    pushed = invoke_csv(data, READ.format(field="f") + " |> aggregateWindow(every: 1h, fn: mean)")
    assert rows(pushed)[0] == [
        "",
        "result",
        "table",
        "_start",
        "_stop",
        "_time",
        "_value",
        "_field",
        "_measurement",
        "s",
    ]
    # after map the table no longer has storage's layout: Flux's own order (key columns, value, _time)
    in_flux = invoke_csv(
        data,
        READ.format(field="f") + " |> map(fn: (r) => ({r with _value: r._value * 2.0}))"
        " |> aggregateWindow(every: 1h, fn: mean)",
    )
    assert rows(in_flux)[0] == [
        "",
        "result",
        "table",
        "_field",
        "_measurement",
        "_start",
        "_stop",
        "s",
        "_value",
        "_time",
    ]


def test_empty_windows_give_null_for_mean_and_zero_for_count(data) -> None:  # type: ignore[no-untyped-def]
    means = records(invoke_csv(data, READ.format(field="f") + " |> aggregateWindow(every: 20m, fn: mean)"))
    counts = records(invoke_csv(data, READ.format(field="f") + " |> aggregateWindow(every: 20m, fn: count)"))
    gap_means = [r["_value"] for r in means if r["_time"] == "2023-11-14T18:40:00Z"]
    gap_counts = [r["_value"] for r in counts if r["_time"] == "2023-11-14T18:40:00Z"]
    assert gap_means == ["", ""]
    assert gap_counts == ["0", "0"]


def test_aggregate_window_by_calendar_month() -> None:
    lines = "\n".join(
        f"m v={v}i {ns}"
        for v, ns in ((1, 1_610_000_000 * 10**9), (3, 1_611_000_000 * 10**9), (10, 1_614_000_000 * 10**9))
    )
    text = invoke_csv(
        store_with(lines),
        'from(bucket: "b") |> range(start: 2021-01-01T00:00:00Z, stop: 2021-03-15T00:00:00Z)'
        " |> aggregateWindow(every: 1mo, fn: sum)",
    )
    got = [(r["_time"], r["_value"]) for r in records(text)]
    assert got == [
        ("2021-02-01T00:00:00Z", "4"),
        ("2021-03-01T00:00:00Z", "10"),
        ("2021-03-15T00:00:00Z", ""),
    ]


def test_window_period_longer_than_every_puts_a_row_in_several_windows(data) -> None:  # type: ignore[no-untyped-def]
    one = records(invoke_csv(data, READ.format(field="i") + " |> window(every: 1h) |> count()"))
    two = records(invoke_csv(data, READ.format(field="i") + " |> window(every: 1h, period: 2h) |> count()"))
    assert sum(int(r["_value"]) for r in two) == 2 * sum(int(r["_value"]) for r in one)
    assert min(r["_start"] for r in two) == "2023-11-14T16:13:20Z"  # clipped to the range
    assert max(r["_stop"] for r in two) == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize(
    ("script", "error", "words"),
    [
        (
            '|> aggregateWindow(every: 1h, fn: mean, location: {zone: "UTC", offset: 0h})',
            UnsupportedError,
            "location",
        ),
        ("|> aggregateWindow(every: 0s, fn: mean)", FluxError, "every"),
        ("|> aggregateWindow(every: 1h, period: -1h, fn: mean)", UnsupportedError, "period"),
        ("|> aggregateWindow(every: 1mo1d, fn: mean)", UnsupportedError, "months"),
        ('|> aggregateWindow(every: 1h, fn: mean, column: "nosuch")', FluxError, "nosuch"),
        ('|> median(method: "magic")', UnsupportedError, "magic"),
        ("|> quantile(q: 1.5)", FluxError, "q must be"),
        ("|> window()", FluxError, "every"),
    ],
)
def test_bad_window_and_aggregate_arguments_are_400_naming_the_construct(  # type: ignore[no-untyped-def]
    data, script: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        invoke_csv(data, READ.format(field="f") + " " + script)
    assert words in str(caught.value)
    assert getattr(caught.value, "status", None) == 400


def test_segment_sums_add_left_to_right_like_a_loop() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=5000) * 10.0 ** rng.integers(-3, 6, size=5000)
    cuts = np.sort(rng.choice(np.arange(1, 5000), size=60, replace=False))
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [5000]])
    expected = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        total = 0.0
        for value in values[start:end].tolist():
            total += value
        expected.append(total)
    assert sequential_segment_sums(values, starts, ends).tolist() == expected
    skewed = sequential_segment_sums(values, np.array([0, 10]), np.array([4990, 11]))
    assert skewed.tolist()[1] == float(values[10])


def test_tdigest_median_of_a_small_input_interpolates_the_middle_values() -> None:
    rng = np.random.default_rng(9)
    for size in (1, 2, 5, 6, 99, 200):
        values = rng.normal(size=size)
        assert tdigest_quantile(values, 0.5) == pytest.approx(float(np.median(values)), rel=1e-12, abs=1e-12)
    assert tdigest_quantile(np.empty(0), 0.5) is None


def test_tdigest_median_of_a_large_input_is_close() -> None:
    values = np.random.default_rng(1).normal(size=50_000)
    assert tdigest_quantile(values, 0.5) == pytest.approx(float(np.median(values)), abs=0.01)


@pytest.mark.parametrize("fn", ["mean", "max"])
def test_aggregate_window_after_group_puts_the_range_back_in_the_key(data, fn: str) -> None:  # type: ignore[no-untyped-def]
    script = READ.format(field="f") + ' |> group(columns: ["s"]) |> aggregateWindow(every: 1h, fn: {fn})'
    fast = invoke_csv(data, script.format(fn=fn))
    generic = invoke_csv(data, script.format(fn=f"(column, tables=<-) => tables |> {fn}(column: column)"))
    assert fast == generic
    got = records(fast)
    assert {(r["_start"], r["_stop"]) for r in got} == {("2023-11-14T16:13:20Z", "2023-11-14T22:13:20Z")}
    assert {r["table"] for r in got} == {"0", "1"}


def test_aggregate_window_without_range_bounds_is_a_400(data) -> None:  # type: ignore[no-untyped-def]
    script = (
        READ.format(field="f")
        + ' |> drop(columns: ["_start", "_stop"]) |> aggregateWindow(every: 1h, fn: sum)'
    )
    with pytest.raises(FluxError, match="_start and _stop"):
        invoke_csv(data, script)
