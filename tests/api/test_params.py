"""Parameter sets: counting, expansion, placeholders, validation, hashing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.params import (
    ParamError,
    count_param_sets,
    expand_param_sets,
    params_hash,
    rfc3339,
    validate_param_sets,
)

T0 = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def expand(params: list[dict[str, Any]], matrix: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return expand_param_sets(params, matrix, window_start=T0, window_end=T1, scheduled_for=T1)


def test_neither_params_nor_matrix_is_one_empty_set() -> None:
    assert count_param_sets([], {}) == 1
    assert expand([], {}) == [{}]


def test_params_alone_give_one_set_per_object() -> None:
    assert expand([{"a": 1}, {"a": 2}], {}) == [{"a": 1}, {"a": 2}]


def test_matrix_is_a_cartesian_product_in_sorted_name_order() -> None:
    sets = expand([], {"z": [1, 2], "a": ["x", "y"]})
    assert sets == [{"a": "x", "z": 1}, {"a": "x", "z": 2}, {"a": "y", "z": 1}, {"a": "y", "z": 2}]
    assert count_param_sets([], {"z": [1, 2], "a": ["x", "y"]}) == 4


def test_params_times_matrix_is_object_major() -> None:
    sets = expand([{"host": "a"}, {"host": "b"}], {"n": [1, 2]})
    assert sets == [
        {"host": "a", "n": 1},
        {"host": "a", "n": 2},
        {"host": "b", "n": 1},
        {"host": "b", "n": 2},
    ]
    assert count_param_sets([{"host": "a"}, {"host": "b"}], {"n": [1, 2]}) == 4


def test_placeholders_are_filled_with_rfc3339_utc_strings() -> None:
    sets = expand([{"q": "from {window_start} to {window_end} at {scheduled_for}", "n": 3}], {})
    assert sets == [
        {"q": "from 2026-03-29T00:00:00Z to 2026-03-29T01:00:00Z at 2026-03-29T01:00:00Z", "n": 3}
    ]


def test_double_braces_are_literal_braces() -> None:
    assert expand([{"j": '{{"k": 1}}'}], {}) == [{"j": '{"k": 1}'}]


def test_a_missing_window_start_renders_as_an_empty_window() -> None:
    sets = expand_param_sets(
        [{"s": "{window_start}"}], {}, window_start=None, window_end=T1, scheduled_for=T1
    )
    assert sets == [{"s": "2026-03-29T01:00:00Z"}]


def test_rfc3339_keeps_microseconds_only_when_present() -> None:
    assert rfc3339(T0) == "2026-03-29T00:00:00Z"
    assert rfc3339(T0.replace(microsecond=1500)) == "2026-03-29T00:00:00.001500Z"


def test_params_hash_is_canonical_and_sixteen_hex_chars() -> None:
    assert params_hash({"a": 1, "b": "x"}) == params_hash({"b": "x", "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
    assert len(params_hash({})) == 16
    int(params_hash({}), 16)


def test_valid_values_pass_validation() -> None:
    validate_param_sets(
        [{"s": "x {scheduled_for}", "i": 1, "f": 1.5, "b": True}], {"m": [1, "a"]}, max_sets=10
    )


@pytest.mark.parametrize(
    ("params", "matrix", "field"),
    [
        ("nope", {}, "params"),
        ([1], {}, "params[0]"),
        ([{"a": None}], {}, "params[0].a"),
        ([{"a": [1]}], {}, "params[0].a"),
        ([{"a": {"b": 1}}], {}, "params[0].a"),
        ([{"a": float("nan")}], {}, "params[0].a"),
        ([{"a": "{nope}"}], {}, "params[0].a"),
        ([{"a": "{window_start.__class__}"}], {}, None),
        ([{"bad name": 1}], {}, "params[0]"),
        ([], [], "param_matrix"),
        ([], {"m": []}, "param_matrix.m"),
        ([], {"m": 3}, "param_matrix.m"),
        ([], {"m": [1, None]}, "param_matrix.m[1]"),
        ([], {"m": ["{oops}"]}, "param_matrix.m[0]"),
        ([{"m": 1}], {"m": [1]}, "params[0].m"),
    ],
)
def test_invalid_params_are_refused_naming_the_field(params: Any, matrix: Any, field: str | None) -> None:
    if field is None:  # not a placeholder at all: kept literally, never evaluated
        validate_param_sets(params, matrix, max_sets=10)
        assert expand(params, matrix) == params
        return
    with pytest.raises(ParamError) as info:
        validate_param_sets(params, matrix, max_sets=10)
    assert info.value.field == field


def test_too_many_param_sets_are_refused_with_the_count_and_the_limit() -> None:
    with pytest.raises(ParamError) as info:
        validate_param_sets([{"a": 1}, {"a": 2}], {"m": list(range(6))}, max_sets=10)
    assert info.value.field == "param_matrix"
    assert "12" in info.value.message
    assert "10" in info.value.message
