"""Every golden case end to end: a real emulator process on a free port, the inputs written over
``/api/v2/write``, each script created with ``POST /api/v2/scripts`` and invoked over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.test_flux_functions_golden import CASES, GOLDEN, as_wire
from tests.support.emulator import EmulatorServer
from tests.support.services import unavailable

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    try:
        emu = EmulatorServer(log_path=log).start()
    except (RuntimeError, TimeoutError, OSError) as exc:
        unavailable(f"cannot start the emulator: {exc}")
    try:
        for path in sorted((GOLDEN / "inputs").glob("*.lp")):
            emu.write("test", _without_comments(path))
        yield emu
    finally:
        emu.stop()


def _without_comments(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}:{c['name']}" for c in CASES])
def test_golden_case_over_http(server: EmulatorServer, case: dict[str, Any]) -> None:
    script_id = server.create_script(f"{case['file']}-{case['name']}", case["script"])
    response = server.invoke(script_id)
    if "error" in case:
        assert response.status_code == case["error"]["status"]
        assert response.headers["X-Platform-Error-Code"] == "invalid"
        assert response.json()["code"] == "invalid"
        assert case["error"]["contains"] in response.json()["message"]
        return
    assert response.status_code == 200
    assert response.text == as_wire(case["expected"])
