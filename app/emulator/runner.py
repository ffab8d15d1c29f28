"""Build and serve an emulator: tokens -> orgs, the script store, sample data, start-up faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from app.emulator.faults import Faults, FaultState
from app.emulator.sample import load_sample_data
from app.emulator.server import EmulatorState, create_app
from app.emulator.storage import DataStore, Org
from app.emulator.store import ScriptStore

DEFAULT_TOKEN = "emulator-token"
DEFAULT_ORG = "emulator"


def parse_tokens(specs: list[str]) -> dict[str, Org]:
    """``TOKEN[:ORG]`` entries -> token -> Org (the default org when none is named)."""
    tokens: dict[str, Org] = {}
    for spec in specs or [DEFAULT_TOKEN]:
        token, _, org = spec.partition(":")
        if not token:
            raise ValueError(f"invalid --token {spec!r}: expected TOKEN[:ORG]")
        tokens[token] = Org(org or DEFAULT_ORG)
    return tokens


def build_state(
    tokens: Mapping[str, Org],
    *,
    db: str = ":memory:",
    sample_data: bool = False,
    faults: Faults | None = None,
) -> EmulatorState:
    state = EmulatorState(
        tokens=dict(tokens), scripts=ScriptStore(db), data=DataStore(), faults=FaultState(faults)
    )
    for org in state.tokens.values():
        state.data.ensure_bucket(org.id, "default")
    if sample_data:
        now_ns = time.time_ns()
        for org_id in {org.id for org in state.tokens.values()}:
            load_sample_data(state.data, org_id, now_ns)
    return state


def serve(state: EmulatorState, host: str, port: int, log_level: str = "warning") -> None:
    import uvicorn

    logging.getLogger("uvicorn.error").setLevel(log_level.upper())
    uvicorn.run(
        create_app(state),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
    )
