"""Golden cases (tests/emulator/golden/*.yaml): line-protocol input, a Flux script, the exact CSV InfluxDB
documents for it (or the 400 it must answer). Each case runs through the real engine, the way invoke does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.emulator.errors import EmulatorError
from app.emulator.lineprotocol import parse_lines
from app.emulator.storage import DataStore
from tests.emulator.flux_helpers import NOW_NS, ORG, invoke_csv

GOLDEN = Path(__file__).parent / "golden"


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(GOLDEN.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            cases.append({**case, "file": path.stem})
    return cases


CASES = load_cases()


def store_for(input_name: str) -> DataStore:
    lines = [
        line for line in (GOLDEN / "inputs" / input_name).read_text().splitlines() if not line.startswith("#")
    ]
    data = DataStore()
    data.ensure_bucket(ORG, "test").write_points(parse_lines("\n".join(lines)), NOW_NS)
    return data


def as_wire(expected: str) -> str:
    """The YAML keeps LF and one trailing blank line per result; the wire has CRLF."""
    return expected.rstrip("\n").replace("\n", "\r\n") + "\r\n\r\n"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['name']}" for c in CASES])
def test_golden_case(case: dict[str, Any]) -> None:
    data = store_for(case["input"])
    if "error" in case:
        with pytest.raises(EmulatorError) as caught:
            invoke_csv(data, case["script"])
        assert caught.value.status == case["error"]["status"]
        assert case["error"]["contains"] in caught.value.message
        return
    assert invoke_csv(data, case["script"]) == as_wire(case["expected"])


def test_every_function_of_the_issue_has_a_golden_case() -> None:
    scripts = "\n".join(case["script"] for case in CASES)
    functions = [
        *("aggregateWindow", "window", "mean", "sum", "count", "min", "max", "median", "spread", "group"),
        *("keep", "drop", "rename", "sort", "tail", "distinct", "unique", "map", "pivot", "duplicate", "set"),
        *("fill", "difference", "derivative", "elapsed", "cumulativeSum", "top", "bottom", "union"),
        *(
            "truncateTimeColumn",
            "date.truncate",
            "strings.hasPrefix",
            "strings.containsStr",
            "math.pi",
            "yield",
        ),
    ]
    missing = [name for name in functions if f"{name}(" not in scripts and name != "math.pi"]
    assert not missing
    assert "math.pi" in scripts


def test_every_case_names_its_documentation_source() -> None:
    assert all(case["source"].startswith("https://docs.influxdata.com/") for case in CASES)
