"""Package-scoped emulator processes for the emulator's own integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.emulator import EmulatorServer
from tests.support.services import unavailable

TOKENS = {"tok-a": "org-a", "tok-b": "org-b"}


def start_emulator(tmp_path_factory: pytest.TempPathFactory, **kwargs: object) -> EmulatorServer:
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    try:
        return EmulatorServer(log_path=log, **kwargs).start()  # type: ignore[arg-type]
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"cannot start the emulator: {exc}")
        raise


@pytest.fixture(scope="package")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """Two orgs (tok-a -> org-a, tok-b -> org-b), no sample data, scripts in memory."""
    server = start_emulator(tmp_path_factory, tokens=TOKENS)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def sample_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """An emulator started with --sample-data."""
    server = start_emulator(tmp_path_factory, tokens={"tok": "org"}, sample_data=True)
    yield server
    server.stop()
