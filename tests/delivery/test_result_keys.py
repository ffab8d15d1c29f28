"""Deterministic, sanitised result keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.models import Invocation, Run, RunKind, Schedule
from worker.results import KeyTemplateError, manifest_key, result_key, validate_key_template
from worker.results.keys import join_key


def objects(name: str = "daily", params: dict | None = None) -> tuple[Schedule, Run, Invocation]:
    schedule = Schedule(id=7, name=name, connection_id=1, script_id="s1")
    run = Run(
        id=3, schedule_id=7, kind=RunKind.SCHEDULED, scheduled_for=datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    )
    invocation = Invocation(
        id=11, run_id=3, index=4, params=params or {"sensor": "t1"}, params_hash="abcd1234"
    )
    return schedule, run, invocation


def test_default_key_is_schedule_time_index_and_hash() -> None:
    assert result_key(*objects(), template="{schedule}/{scheduled_for}/{index}-{params_hash}.csv") == (
        "daily/20261126T100000Z/4-abcd1234.csv"
    )


def test_default_template_comes_from_settings() -> None:
    assert result_key(*objects()) == "daily/20261126T100000Z/4-abcd1234.csv"


def test_same_inputs_give_the_same_key() -> None:
    assert result_key(*objects()) == result_key(*objects())


def test_param_values_can_be_used() -> None:
    key = result_key(*objects(params={"sensor": "t1"}), template="{param.sensor}/{scheduled_for}.csv")
    assert key == "t1/20261126T100000Z.csv"


@pytest.mark.parametrize("value", ["../../etc/passwd", "/abs", "..", "a/b", "x y\n"])
def test_values_can_not_add_or_climb_folders(value: str) -> None:
    key = result_key(*objects(name=value, params={"p": value}), template="{schedule}/{param.p}/x.csv")
    parts = key.split("/")
    assert len(parts) == 3
    assert not key.startswith("/")
    assert ".." not in parts
    assert "." not in parts


@pytest.mark.parametrize(
    "template", ["{nope}/x.csv", "../{schedule}.csv", "{schedule}/./x", "{schedule", "", "{param.}"]
)
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(KeyTemplateError):
        validate_key_template(template)


def test_missing_param_is_a_clear_error() -> None:
    with pytest.raises(KeyTemplateError, match="no parameter 'station'"):
        result_key(*objects(), template="{param.station}.csv")


def test_leading_slashes_are_dropped() -> None:
    assert result_key(*objects(), template="/{schedule}//{index}.csv") == "daily/4.csv"


def test_manifest_sits_next_to_the_results() -> None:
    schedule, run, _ = objects()
    assert manifest_key(schedule, run) == "daily/20261126T100000Z/manifest.json"
    assert manifest_key(schedule, run, "{run_id}/{index}.csv") == "3/manifest.json"


def test_manifest_folder_falls_back_when_the_result_folder_depends_on_params() -> None:
    schedule, run, _ = objects()
    assert manifest_key(schedule, run, "{param.sensor}/{index}.csv") == "daily/20261126T100000Z/manifest.json"


def test_join_key_refuses_climbing_prefixes() -> None:
    assert join_key("/a//b/", "c/d") == "a/b/c/d"
    with pytest.raises(KeyTemplateError):
        join_key("a/..", "c")
